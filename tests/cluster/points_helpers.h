// Point-level helpers the cluster tests share (data plane, transfers, fault checker): points
// and batches with known payloads, collection creation, replica states, counts, and the byte
// comparison of every replica of a shard (through each peer's own P2P read).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/cluster/cluster_harness.h"

namespace qd::test {

// One point: id, a 2-d vector derived from the id, payload {"n": id, "tag": tag}.
std::string Point(uint64_t id, const std::string& tag = "a");
// {"points":[first..last]}.
std::string Batch(uint64_t first, uint64_t last, const std::string& tag = "a");
// PUT /collections/{name} (2-d, Dot) through `via`; true on 200.
bool CreateCollection(ClusterPeer& via, const std::string& name, int shards, int rf, int wcf = 1);
// Every running peer knows the collection and no replica of it is Dead, Partial or Initializing.
bool AllActive(const std::vector<ClusterPeer*>& peers, const std::string& name);
// An exact count through `p` (REQUIREs 200).
uint64_t Count(const ClusterPeer& p, const std::string& name,
               const std::string& body = "{\"exact\":true}");
// The result of a read with the volatile "time" field removed.
std::string Result(const HttpResponse& r);
// Every shard's replicas across `peers` hold the same bytes (CHECKed); returns how many
// replicas were compared (each shard must have at least `min_replicas`).
size_t CheckReplicasIdentical(const std::vector<ClusterPeer*>& peers, const std::string& name,
                              uint32_t shards, size_t min_replicas);
uint64_t PeerId(const ClusterPeer& p);
// Upserts points 1..points through `via` in batches of 1,000 (REQUIREs 200).
void Preload(const ClusterPeer& via, const std::string& name, uint64_t points);
// Ids a scroll through `via` returns (REQUIREs 200 and one page).
std::set<uint64_t> Ids(const ClusterPeer& via, const std::string& name);

// Writers through every peer of `peers`, each on ids of its own (1,000,000 x (writer + 1) on),
// recording which upserts (wait=true) were acknowledged; they run until Stop().
class Writers {
 public:
  Writers(const std::vector<ClusterPeer*>& peers, std::string name);
  ~Writers() { Stop(); }
  void Stop();
  std::set<uint64_t> acked();
  size_t unknown();

 private:
  std::string name_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::set<uint64_t> acked_, unknown_;
};

}  // namespace qd::test
