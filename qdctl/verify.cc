#include "qdctl/verify.h"

#include <algorithm>
#include <map>
#include <set>

namespace qd::qdctl {

std::vector<ShardVerdict> CompareReplicas(const std::vector<client::ReplicaDigest>& replicas) {
  std::map<uint32_t, std::vector<const client::ReplicaDigest*>> shards;
  for (const auto& r : replicas) shards[r.shard_id].push_back(&r);
  std::vector<ShardVerdict> out;
  for (const auto& [shard, rs] : shards) {
    ShardVerdict v;
    v.shard = shard;
    std::vector<const client::ReplicaDigest*> compared;
    for (const auto* r : rs) {
      if (r->state == "Active" && r->error.empty()) {
        compared.push_back(r);
      } else {
        v.not_compared.push_back(r->peer_id);
      }
    }
    if (compared.size() < 2) {
      v.kind = ShardVerdict::Kind::kUnchecked;
      out.push_back(std::move(v));
      continue;
    }
    std::set<uint64_t> ops;
    for (const auto* r : compared) ops.insert(r->last_op);
    if (ops.size() > 1) {
      v.kind = ShardVerdict::Kind::kBusy;
      out.push_back(std::move(v));
      continue;
    }
    // Digest -> the peers holding it; the good one: the most peers, then the highest peer.
    std::map<std::string, std::vector<uint64_t>> by_digest;
    for (const auto* r : compared) by_digest[r->digest].push_back(r->peer_id);
    if (by_digest.size() == 1) {
      out.push_back(std::move(v));
      continue;
    }
    const std::string* good = nullptr;
    auto better = [](const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
      if (a.size() != b.size()) return a.size() > b.size();
      return *std::max_element(a.begin(), a.end()) > *std::max_element(b.begin(), b.end());
    };
    for (const auto& [digest, peers] : by_digest) {
      if (!good || better(peers, by_digest[*good])) good = &digest;
    }
    v.kind = ShardVerdict::Kind::kDiffers;
    v.good_peer = *std::max_element(by_digest[*good].begin(), by_digest[*good].end());
    for (const auto& [digest, peers] : by_digest) {
      if (&digest == good) continue;
      v.divergent.insert(v.divergent.end(), peers.begin(), peers.end());
    }
    std::sort(v.divergent.begin(), v.divergent.end());
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace qd::qdctl
