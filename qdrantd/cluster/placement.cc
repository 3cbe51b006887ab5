#include "qdrantd/cluster/placement.h"

#include <algorithm>

namespace qd::cluster {

std::map<ShardId, std::vector<PeerId>> PlaceReplicas(std::vector<PeerId> peers, uint32_t shard_number,
                                                     uint32_t replication_factor) {
  std::map<ShardId, std::vector<PeerId>> placement;
  if (peers.empty()) return placement;
  std::sort(peers.begin(), peers.end());
  peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
  uint32_t n = static_cast<uint32_t>(peers.size());
  uint32_t rf = std::clamp<uint32_t>(replication_factor, 1, n);
  for (ShardId s = 0; s < shard_number; ++s) {
    auto& replicas = placement[s];
    for (uint32_t r = 0; r < rf; ++r) replicas.push_back(peers[(s + r) % n]);
  }
  return placement;
}

}  // namespace qd::cluster
