// The rebalance planner: the shard moves that drain peers, heal shards that lost a peer for
// good, and even out replicas across Normal peers (docs/cluster.md "Rebalancing, draining and
// self-healing"). Pure and deterministic: the leader's TransferManager runs it on every tick and
// proposes the moves it can start; every peer runs it to show the plan (GET /cluster/rebalance).
//
// What it plans, in this order, never lowering a shard below the replicas it has:
//  * drain and heal: a shard with replicas on `leaving` peers (draining, or unreachable longer
//    than cluster.rebalance.dead_peer_timeout_sec) gets new replicas on eligible peers until it
//    holds min(replication_factor, eligible peers) outside them: an Active replica on a
//    draining peer is moved (kMove), otherwise one is copied from an Active replica (kReplicate);
//    once replication_factor replicas outside are Active, the ones left on leaving peers are
//    dropped (kDrop); with too few peers for that they stay, and the plan says so (`stuck`);
//  * balance (only while a rebalance runs): moves from the Normal peer with the most replicas
//    to the one with the fewest until they differ by at most one.
// In-flight transfers count as done (a move's receiver holds the shard, its source does not), so
// planning again while they run gives the rest of the same plan. A shard in a transfer gets no
// other move until it ends. Eligible peers: Normal, not draining, not leaving, reachable.
// Thread: any.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/cluster/cluster_state.h"

namespace qd::cluster {

struct PlannedMove {
  enum class Kind { kMove, kReplicate, kDrop };
  Kind kind = Kind::kMove;
  std::string collection;
  ShardId shard = 0;
  PeerId from = 0;     // kDrop: the peer whose replica is dropped
  PeerId to = 0;       // 0 for kDrop
  std::string reason;  // "drain" | "heal" | "rebalance"
  friend bool operator==(const PlannedMove&, const PlannedMove&) = default;
};

std::string_view PlannedMoveKindName(PlannedMove::Kind kind);

struct RebalancePlan {
  std::vector<PlannedMove> moves;  // in the order they should start
  // Shards a drain or heal cannot finish, each with the reason (no Active replica outside, no
  // eligible peer left): what an operator must look at.
  std::vector<std::string> stuck;
  // Replicas per Normal peer now (in-flight transfers counted as done) and once the plan ran.
  std::map<PeerId, uint64_t> replicas_before;
  std::map<PeerId, uint64_t> replicas_after;
};

// `unreachable`: peers this node cannot reach now (they receive nothing and send nothing);
// `dead`: peers unreachable for longer than the dead-peer timeout (their replicas are replaced);
// `balance`: plan the balancing moves too (a rebalance runs).
RebalancePlan PlanRebalance(const ClusterState& state, const std::set<PeerId>& unreachable,
                            const std::set<PeerId>& dead, bool balance);

// What GET /cluster (`rebalance`), GET /cluster/rebalance and the admin GetRebalance show:
// the rebalance record, the plan this peer computes with balancing on (a dry run when no
// rebalance runs; no peer counts as dead: only the leader times that), and the figures derived
// from both (moves_planned counts balancing moves only while a rebalance runs).
struct RebalanceStatus {
  std::string state;  // idle | running | done
  std::string reason;
  uint64_t moves_done = 0;
  uint64_t moves_failed = 0;
  uint64_t moves_in_flight = 0;  // rebalance transfers running
  uint64_t moves_planned = 0;    // rebalance moves not started
  uint64_t moves_total = 0;
  uint64_t started_ms = 0;          // 0: never started
  std::optional<uint64_t> eta_sec;  // time per finished move so far x moves left
  std::vector<PeerId> draining;
  std::vector<Transfer> in_flight;  // automatic transfers (recovery, rebalance, drain, heal)
  RebalancePlan plan;
};
RebalanceStatus DescribeRebalance(const ClusterState& state, const std::set<PeerId>& unreachable,
                                  uint64_t now_ms);

// Why draining (not cancelling) `peer` is refused, if it is: kNotFound for an unknown peer,
// kInvalidArgument when it holds replicas and no other Normal peer that is not draining exists.
Status CheckDrain(const ClusterState& state, PeerId peer, bool cancel);

// The collection's params.replication_factor from its config JSON (1 when absent).
uint32_t ReplicationFactorOf(const Collection& c);

}  // namespace qd::cluster
