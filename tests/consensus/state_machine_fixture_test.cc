// The cluster FSM under libraft's fixture: apply, snapshot + restore, leader loss, partitions.
#include <catch2/catch.hpp>

#include <cstring>

#include "tests/consensus/raft_cluster.h"

using namespace std::chrono_literals;
using qd::cluster::ClusterState;
using qd::cluster::MetaOperation;
using qd::cluster::ReplicaState;
using qd::test::RaftCluster;

namespace {

// Registers peers 1..n (the fixture's server ids) in the FSM, as join does in production.
void RegisterPeers(RaftCluster& c, unsigned leader) {
  for (unsigned i = 1; i <= c.n(); ++i) {
    REQUIRE(c.Propose(leader, MetaOperation::UpsertPeer(i, "http://127.0.0.1:" + std::to_string(6334 + i))) == 0);
  }
}

}  // namespace

TEST_CASE("a created collection is applied on every peer with an even placement", "[consensus]") {
  RaftCluster c(3);
  c.Elect(0);
  RegisterPeers(c, 0);
  REQUIRE(c.Propose(0, MetaOperation::CreateCollection("books", R"({"vectors":{"size":4}})", 3, 2)) == 0);
  REQUIRE(c.StepUntilAppliedEverywhere(c.LastIndex(0), 2s));
  for (unsigned i = 0; i < 3; ++i) {
    const ClusterState& s = c.State(i);
    REQUIRE(s.HasCollection("books"));
    CHECK(s.peers.size() == 3);
    const auto& shards = s.collections.at("books").shards;
    REQUIRE(shards.size() == 3);
    std::map<uint64_t, int> per_peer;
    for (const auto& [sid, shard] : shards) {
      CHECK(shard.replicas.size() == 2);
      for (const auto& [peer, state] : shard.replicas) {
        ++per_peer[peer];
        CHECK(state == ReplicaState::kInitializing);  // until its peer creates it
      }
    }
    for (const auto& [peer, count] : per_peer) CHECK(count == 2);
    CHECK(s.collections.at("books").config_json == R"({"vectors":{"size":4}})");
  }
  CHECK(c.State(0) == c.State(1));
  CHECK(c.State(1) == c.State(2));
}

TEST_CASE("a created collection survives the loss of the leader", "[consensus]") {
  RaftCluster c(3);
  c.Elect(0);
  RegisterPeers(c, 0);
  REQUIRE(c.Propose(0, MetaOperation::CreateCollection("books", "{}", 2, 1)) == 0);
  REQUIRE(c.StepUntilAppliedEverywhere(c.LastIndex(0), 2s));
  c.Kill(0);
  REQUIRE(c.StepUntilLeaderIsNot(0, 10s));
  unsigned leader = c.LeaderIndex();
  REQUIRE(c.Propose(leader, MetaOperation::SetMetadata("owner", R"("ops")")) == 0);
  REQUIRE(c.StepUntilApplied(leader, c.LastIndex(leader), 2s));
  for (unsigned i : {1u, 2u}) {
    REQUIRE(c.StepUntilApplied(i, c.LastIndex(leader), 2s));
    CHECK(c.State(i).HasCollection("books"));
    CHECK(c.State(i).metadata.at("owner") == R"("ops")");
  }
}

TEST_CASE("with compaction after every entry a lagging peer catches up from a snapshot",
          "[consensus]") {
  RaftCluster c(3, /*snapshot_threshold=*/1, /*trailing=*/1);
  c.Elect(0);
  RegisterPeers(c, 0);
  REQUIRE(c.StepUntilAppliedEverywhere(c.LastIndex(0), 2s));
  c.Kill(2);
  for (int i = 0; i < 6; ++i) {
    REQUIRE(c.Propose(0, MetaOperation::CreateCollection("c" + std::to_string(i), "{}", 1, 1)) == 0);
    REQUIRE(c.StepUntilApplied(0, c.LastIndex(0), 2s));
  }
  REQUIRE(c.Propose(0, MetaOperation::DropCollection("c0")) == 0);
  REQUIRE(c.Propose(0, MetaOperation::SetMetadata("k", "[1,2]")) == 0);
  REQUIRE(c.Propose(0, MetaOperation::CreateAlias("a", "c1")) == 0);
  REQUIRE(c.StepUntilApplied(0, c.LastIndex(0), 2s));
  // The leader's log no longer has what server 2 missed.
  REQUIRE(c.Raft(0)->log.offset > c.Raft(2)->last_applied);
  c.Revive(2);
  REQUIRE(c.StepUntilApplied(2, c.LastIndex(0), 5s));
  const ClusterState& s = c.State(2);
  CHECK_FALSE(s.HasCollection("c0"));
  CHECK(s.HasCollection("c5"));
  CHECK(s.metadata.at("k") == "[1,2]");
  CHECK(s.aliases.at("a") == "c1");
  CHECK(s.peers.size() == 3);
  ClusterState a = c.State(0), b = c.State(2);
  a.applied_index = b.applied_index = 0;
  CHECK(a == b);
}

TEST_CASE("a partitioned leader cannot commit while the majority elects a leader and goes on",
          "[consensus]") {
  RaftCluster c(3);
  c.Elect(0);
  RegisterPeers(c, 0);
  REQUIRE(c.StepUntilAppliedEverywhere(c.LastIndex(0), 2s));
  c.Disconnect(0, 1);
  c.Disconnect(0, 2);
  raft_index before = c.Raft(0)->commit_index;
  c.Propose(0, MetaOperation::SetMetadata("lost", "1"));  // may be refused once it steps down
  REQUIRE(c.StepUntilLeaderIsNot(0, 10s));
  c.StepFor(3s);
  CHECK(c.Raft(0)->commit_index == before);
  CHECK(c.State(0).metadata.count("lost") == 0);
  CHECK(raft_state(c.Raft(0)) != RAFT_LEADER);  // it stepped down without a majority
  unsigned leader = c.LeaderIndex();
  REQUIRE(c.Propose(leader, MetaOperation::SetMetadata("kept", "2")) == 0);
  REQUIRE(c.StepUntilApplied(leader, c.LastIndex(leader), 2s));
  c.Reconnect(0, 1);
  c.Reconnect(0, 2);
  REQUIRE(c.StepUntilApplied(0, c.LastIndex(leader), 5s));
  CHECK(c.State(0).metadata.count("kept") == 1);
  CHECK(c.State(0).metadata.count("lost") == 0);
}

TEST_CASE("an invalid operation is a committed no-op that reports its error", "[consensus]") {
  RaftCluster c(3);
  c.Elect(0);
  std::vector<std::pair<std::string, qd::Status>> results;
  c.Machine(0).OnResult([&](qd::server::OnLoop, const std::string& id, const qd::Status& s) {
    results.emplace_back(id, s);
  });
  MetaOperation create = MetaOperation::CreateCollection("books", "{}", 1, 1);
  create.request_id = "p-1";
  MetaOperation again = create;
  again.request_id = "p-2";
  REQUIRE(c.Propose(0, MetaOperation::UpsertPeer(1, "http://a:1")) == 0);
  REQUIRE(c.Propose(0, create) == 0);
  REQUIRE(c.Propose(0, again) == 0);
  REQUIRE(c.StepUntilApplied(0, c.LastIndex(0), 2s));
  REQUIRE(results.size() == 2);
  CHECK(results[0].first == "p-1");
  CHECK(results[0].second.ok());
  CHECK(results[1].first == "p-2");
  CHECK(results[1].second.code() == qd::StatusCode::kAlreadyExists);
}

// A proposer whose node was behind: the leader compacted its log past what the node has, so the
// node installs a snapshot instead of applying the entries, and never applies the proposer's
// entry itself. It must still hear the real verdict, not "outcome unknown" at its deadline.
TEST_CASE("a proposer whose entry arrives inside a snapshot hears its verdict", "[consensus]") {
  RaftCluster c(3, /*snapshot_threshold=*/1, /*trailing=*/1);
  c.Elect(0);
  RegisterPeers(c, 0);
  REQUIRE(c.StepUntilAppliedEverywhere(c.LastIndex(0), 2s));
  std::map<std::string, qd::Status> heard;
  c.Machine(2).OnResult(
      [&](qd::server::OnLoop, const std::string& id, const qd::Status& s) { heard[id] = s; });
  c.Kill(2);
  // Server 2's waiters: the ids its ClusterNode gave these operations before it fell behind.
  MetaOperation create = MetaOperation::CreateCollection("books", "{}", 1, 1);
  create.request_id = "3-9-1";
  MetaOperation again = create;
  again.request_id = "3-9-2";
  MetaOperation alias = MetaOperation::CreateAlias("novels", "missing");
  alias.request_id = "3-9-3";
  for (const MetaOperation& op : {create, again, alias}) {
    REQUIRE(c.Propose(0, op) == 0);
    REQUIRE(c.StepUntilApplied(0, c.LastIndex(0), 2s));
  }
  for (int i = 0; i < 3; ++i) {
    REQUIRE(c.Propose(0, MetaOperation::SetMetadata("k" + std::to_string(i), "1")) == 0);
    REQUIRE(c.StepUntilApplied(0, c.LastIndex(0), 2s));
  }
  REQUIRE(c.Raft(0)->log.offset > c.Raft(2)->last_applied);  // only a snapshot can catch it up
  c.Revive(2);
  REQUIRE(c.StepUntilApplied(2, c.LastIndex(0), 5s));
  REQUIRE(heard.count("3-9-1") == 1);
  CHECK(heard.at("3-9-1").ok());
  REQUIRE(heard.count("3-9-2") == 1);
  CHECK(heard.at("3-9-2").code() == qd::StatusCode::kAlreadyExists);
  REQUIRE(heard.count("3-9-3") == 1);
  CHECK(heard.at("3-9-3").code() == qd::StatusCode::kNotFound);
  CHECK(c.State(2).HasCollection("books"));
}
