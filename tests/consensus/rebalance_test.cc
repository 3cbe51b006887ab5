// The rebalance planner (cluster/rebalance.h) and the FSM's part in rebalancing and draining:
// plans are carried out step by step through the FSM as the leader would, checking at every
// step that no shard drops below its replicas' Active count.
#include "qdrantd/cluster/rebalance.h"

#include <algorithm>
#include <catch2/catch.hpp>

#include "qdrantd/cluster/meta_operation.h"
#include "qdrantd/cluster/state_machine.h"

using namespace qd::cluster;

namespace {

using K = MetaOperation::Kind;

// `peers` Normal peers (ids 1..peers), and `collections` collections named c0.. of `shards`
// shards with replication factor `rf`, every replica Active.
ClusterState Cluster(unsigned peers, unsigned collections, unsigned shards, unsigned rf) {
  ClusterState s;
  for (PeerId id = 1; id <= peers; ++id) {
    REQUIRE(
        ApplyOperation(s, MetaOperation::UpsertPeer(id, "http://h:" + std::to_string(id))).ok());
  }
  for (unsigned c = 0; c < collections; ++c) {
    const std::string name = "c" + std::to_string(c);
    REQUIRE(ApplyOperation(
                s, MetaOperation::CreateCollection(
                       name, R"({"params":{"replication_factor":)" + std::to_string(rf) + "}}",
                       shards, rf))
                .ok());
    for (const auto& [sid, shard] : s.collections.at(name).shards) {
      for (const auto& [peer, st] : std::map<PeerId, ReplicaState>(shard.replicas)) {
        REQUIRE(ApplyOperation(
                    s, MetaOperation::SetReplicaState(name, sid, peer, ReplicaState::kActive))
                    .ok());
      }
    }
  }
  s.rebalance.joined.clear();
  return s;
}

PeerId Join(ClusterState& s, PeerId id) {
  REQUIRE(ApplyOperation(s, MetaOperation::UpsertPeer(id, "http://h:" + std::to_string(id))).ok());
  return id;
}

size_t ActiveReplicas(const Shard& shard) {
  return static_cast<size_t>(
      std::count_if(shard.replicas.begin(), shard.replicas.end(),
                    [](const auto& r) { return r.second == ReplicaState::kActive; }));
}

std::map<PeerId, size_t> ReplicasPerPeer(const ClusterState& s) {
  std::map<PeerId, size_t> out;
  for (const auto& [id, peer] : s.peers) out[id] = 0;
  for (const auto& [name, c] : s.collections) {
    for (const auto& [sid, shard] : c.shards) {
      for (const auto& [peer, st] : shard.replicas) ++out[peer];
    }
  }
  return out;
}

// Runs the planner as the leader does until it plans nothing: each round starts the first
// planned move of every shard in no transfer (through the FSM, limits 1/1), then finishes every
// transfer. After every operation each shard keeps at least `min_active` Active replicas.
// Returns the number of rounds.
int RunToCompletion(ClusterState& s, const std::set<PeerId>& dead, size_t min_active) {
  auto check = [&] {
    for (const auto& [name, c] : s.collections) {
      for (const auto& [sid, shard] : c.shards) {
        INFO(name << " shard " << sid);
        REQUIRE(ActiveReplicas(shard) >= min_active);
      }
    }
  };
  for (int round = 1; round < 200; ++round) {
    RebalancePlan plan = PlanRebalance(s, dead, dead, s.rebalance.running);
    REQUIRE(plan.stuck.empty());
    if (plan.moves.empty()) return round;
    std::set<std::pair<std::string, ShardId>> started;
    for (const PlannedMove& m : plan.moves) {
      if (!started.insert({m.collection, m.shard}).second) continue;
      MetaOperation op;
      if (m.kind == PlannedMove::Kind::kDrop) {
        op.kind = K::kRemoveReplica;
        op.collection = m.collection;
        op.shard = m.shard;
        op.peer_id = m.from;
      } else {
        op.kind = K::kStartTransfer;
        op.transfer = Transfer{.collection = m.collection,
                               .shard = m.shard,
                               .from = m.from,
                               .to = m.to,
                               .sync = m.kind == PlannedMove::Kind::kReplicate,
                               .automatic = true,
                               .reason = m.reason};
        op.transfer_limits = {1, 1};
      }
      qd::Status st = ApplyOperation(s, op);
      // Past the limits the FSM refuses an automatic transfer; the next round starts it.
      if (!st.ok()) REQUIRE(st.code() == qd::StatusCode::kFailedPrecondition);
      check();
    }
    for (const Transfer& t : std::vector<Transfer>(s.transfers)) {
      MetaOperation finish;
      finish.kind = K::kFinishTransfer;
      finish.transfer = t;
      REQUIRE(ApplyOperation(s, finish).ok());
      check();
    }
  }
  FAIL("the plan never ran out");
  return 0;
}

}  // namespace

TEST_CASE(
    "a joined peer starts nothing by itself, and a rebalance evens replicas out, one move at a "
    "time",
    "[consensus]") {
  ClusterState s = Cluster(3, 3, 6, 2);  // 36 replicas, 12 per peer
  CHECK(PlanRebalance(s, {}, {}, true).moves.empty());
  Join(s, 4);
  CHECK(s.rebalance.joined == std::set<PeerId>{4});
  // Not running: nothing to balance, nothing to drain.
  CHECK(PlanRebalance(s, {}, {}, false).moves.empty());

  MetaOperation start;
  start.kind = K::kSetRebalance;
  start.rebalance_action = "start";
  start.reason = "peer 4 joined";
  start.started_ms = 1234;
  REQUIRE(ApplyOperation(s, start).ok());
  CHECK(s.rebalance.joined.empty());
  CHECK(s.rebalance.running);

  RebalancePlan plan = PlanRebalance(s, {}, {}, true);
  CHECK(plan.moves.size() == 9);
  CHECK(plan.replicas_before.at(4) == 0);
  CHECK(plan.replicas_after == std::map<PeerId, uint64_t>{{1, 9}, {2, 9}, {3, 9}, {4, 9}});
  for (const PlannedMove& m : plan.moves) {
    CHECK(m.kind == PlannedMove::Kind::kMove);
    CHECK(m.to == 4);
    CHECK(m.reason == "rebalance");
  }
  // An unreachable peer receives nothing.
  CHECK(PlanRebalance(s, {4}, {}, true).moves.empty());

  RunToCompletion(s, {}, 2);
  CHECK(ReplicasPerPeer(s) == std::map<PeerId, size_t>{{1, 9}, {2, 9}, {3, 9}, {4, 9}});
  CHECK(s.rebalance.moves_done == 9);
  // Each collection is spread too: peer 4 holds replicas of every collection.
  for (const auto& [name, c] : s.collections) {
    size_t on_4 = 0;
    for (const auto& [sid, shard] : c.shards) on_4 += shard.replicas.count(4);
    CHECK(on_4 >= 2);
  }
}

TEST_CASE(
    "a drain moves a peer's replicas away without lowering any shard, and then it can be removed",
    "[consensus]") {
  ClusterState s = Cluster(4, 2, 4, 2);
  MetaOperation drain;
  drain.kind = K::kDrainPeer;
  drain.peer_id = 2;
  REQUIRE(ApplyOperation(s, drain).ok());
  CHECK_FALSE(ApplyOperation(s, MetaOperation::RemovePeer(2, false)).ok());
  RebalancePlan plan = PlanRebalance(s, {}, {}, false);
  REQUIRE_FALSE(plan.moves.empty());
  for (const PlannedMove& m : plan.moves) {
    CHECK(m.from == 2);
    CHECK(m.reason == "drain");
  }
  CHECK(plan.replicas_after.at(2) == 0);
  RunToCompletion(s, {}, 2);
  CHECK(ReplicasPerPeer(s).at(2) == 0);
  for (const auto& [name, c] : s.collections) {
    for (const auto& [sid, shard] : c.shards) CHECK(ActiveReplicas(shard) == 2);
  }
  // A new collection is not placed on the draining peer.
  REQUIRE(ApplyOperation(s, MetaOperation::CreateCollection("new", "{}", 6, 2)).ok());
  CHECK(ReplicasPerPeer(s).at(2) == 0);
  REQUIRE(ApplyOperation(s, MetaOperation::RemovePeer(2, false)).ok());
  CHECK(s.draining.empty());
}

TEST_CASE("a drain with nowhere to go keeps the replicas and says so, and cancelling stops it",
          "[consensus]") {
  ClusterState s = Cluster(2, 1, 2, 2);  // every peer holds every shard
  MetaOperation drain;
  drain.kind = K::kDrainPeer;
  drain.peer_id = 1;
  REQUIRE(ApplyOperation(s, drain).ok());
  RebalancePlan plan = PlanRebalance(s, {}, {}, false);
  // Dropping peer 1's replicas would leave each shard below its replication factor of 2.
  CHECK(plan.moves.empty());
  REQUIRE(plan.stuck.size() == 2);
  CHECK(plan.stuck[0].find("replication_factor") != std::string::npos);
  drain.cancel = true;
  REQUIRE(ApplyOperation(s, drain).ok());
  CHECK(PlanRebalance(s, {}, {}, false).moves.empty());

  ClusterState one = Cluster(1, 1, 2, 1);
  drain.cancel = false;
  REQUIRE(ApplyOperation(one, drain).ok());
  plan = PlanRebalance(one, {}, {}, false);
  CHECK(plan.moves.empty());
  CHECK(plan.stuck.size() == 2);
}

TEST_CASE("a dead peer's replicas are re-created from the survivors, then dropped", "[consensus]") {
  ClusterState s = Cluster(4, 2, 4, 2);
  const std::map<PeerId, size_t> before = ReplicasPerPeer(s);
  RebalancePlan plan = PlanRebalance(s, {3}, {3}, false);
  REQUIRE_FALSE(plan.moves.empty());
  for (const PlannedMove& m : plan.moves) {
    CHECK(m.reason == "heal");
    if (m.kind == PlannedMove::Kind::kDrop) {
      CHECK(m.from == 3);
    } else {
      CHECK(m.kind == PlannedMove::Kind::kReplicate);
      CHECK(m.from != 3);
      CHECK(m.to != 3);
    }
  }
  // Merely unreachable (not dead yet): nothing.
  CHECK(PlanRebalance(s, {3}, {}, false).moves.empty());
  RunToCompletion(s, {3}, 2);
  CHECK(ReplicasPerPeer(s).at(3) == 0);
  size_t total = 0;
  for (const auto& [name, c] : s.collections) {
    for (const auto& [sid, shard] : c.shards) {
      CHECK(shard.replicas.size() == 2);
      CHECK(ActiveReplicas(shard) == 2);
      total += shard.replicas.size();
    }
  }
  CHECK(total == before.at(1) + before.at(2) + before.at(3) + before.at(4));
}

TEST_CASE("a shard whose only replica is on a dead peer is reported, not touched", "[consensus]") {
  ClusterState s = Cluster(3, 1, 3, 1);
  RebalancePlan plan = PlanRebalance(s, {2}, {2}, false);
  CHECK(plan.moves.empty());
  REQUIRE(plan.stuck.size() == 1);
  CHECK(plan.stuck[0].find("no Active replica to copy from") != std::string::npos);
}

TEST_CASE("rebalance and drain operations, their counters and their encodings", "[consensus]") {
  ClusterState s = Cluster(3, 1, 6, 1);
  Join(s, 9);
  MetaOperation start;
  start.kind = K::kSetRebalance;
  start.rebalance_action = "start";
  start.reason = "requested";
  start.started_ms = 42;
  REQUIRE(ApplyOperation(s, start).ok());
  PlannedMove m = PlanRebalance(s, {}, {}, true).moves.at(0);
  MetaOperation t;
  t.kind = K::kStartTransfer;
  t.transfer = Transfer{.collection = m.collection,
                        .shard = m.shard,
                        .from = m.from,
                        .to = m.to,
                        .automatic = true,
                        .reason = "rebalance"};
  t.transfer_limits = {1, 1};
  REQUIRE(ApplyOperation(s, t).ok());
  MetaOperation drain;
  drain.kind = K::kDrainPeer;
  drain.peer_id = 3;
  REQUIRE(ApplyOperation(s, drain).ok());
  drain.peer_id = 77;
  CHECK(ApplyOperation(s, drain).code() == qd::StatusCode::kNotFound);
  auto back = ClusterState::FromJson(s.ToJson());
  REQUIRE(back.ok());
  CHECK(*back == s);
  for (const MetaOperation& op : {start, t, drain}) {
    auto decoded = MetaOperation::Decode(op.Encode());
    REQUIRE(decoded.ok());
    CHECK(decoded->Encode() == op.Encode());
  }
  MetaOperation abort = t;
  abort.kind = K::kAbortTransfer;
  REQUIRE(ApplyOperation(s, abort).ok());
  CHECK(s.rebalance.moves_failed == 1);
  MetaOperation finish;
  finish.kind = K::kSetRebalance;
  finish.rebalance_action = "finish";
  REQUIRE(ApplyOperation(s, finish).ok());
  CHECK_FALSE(s.rebalance.running);
  CHECK(s.rebalance.started_ms == 42);
  finish.rebalance_action = "sideways";
  CHECK(ApplyOperation(s, finish).code() == qd::StatusCode::kInvalidArgument);
  // Removing a peer forgets that it drained or joined.
  Join(s, 10);
  REQUIRE(ApplyOperation(s, MetaOperation::RemovePeer(10, true)).ok());
  CHECK_FALSE(s.rebalance.joined.count(10));
}
