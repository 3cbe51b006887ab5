// Replica placement for a new collection: `replication_factor` distinct peers per shard, shards
// spread evenly (shard s goes to peers s, s+1, ... modulo the peer count, peers sorted by id).
// Pure and deterministic, so the FSM can call it while applying. Thread: any.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "qdrantd/cluster/cluster_state.h"

namespace qd::cluster {

// `peers` need not be sorted. replication_factor is capped at the number of peers.
// Empty result when there are no peers or no shards.
std::map<ShardId, std::vector<PeerId>> PlaceReplicas(std::vector<PeerId> peers, uint32_t shard_number,
                                                     uint32_t replication_factor);

}  // namespace qd::cluster
