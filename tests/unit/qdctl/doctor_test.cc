// qdctl cluster doctor's rules (qdctl/doctor.h), each on a cluster built for it: the finding,
// its severity and the exact command it proposes. The gathering over gRPC and the exit code
// are tested against real peers in tests/cluster/doctor_test.cc.
#include "qdctl/doctor.h"

#include <algorithm>
#include <catch2/catch.hpp>

namespace qd::qdctl {
namespace {

using Severity = Finding::Severity;

client::PeerStatus Peer(uint64_t id, bool reachable = true, uint64_t lag = 0) {
  client::PeerStatus p;
  p.id = id;
  p.uri = "http://10.0.0." + std::to_string(id) + ":6335";
  p.role = id == 1 ? "Leader" : "Follower";
  p.is_voter = true;
  p.reachable = reachable;
  p.node_type = "Normal";
  if (reachable) p.lag = lag;
  return p;
}

// Three reachable peers, peer 1 leads; collection "c" with `shards` shards of RF 2, shard s on
// peers s%3+1 and (s+1)%3+1, all Active.
DoctorInput Healthy(uint32_t shards = 3) {
  DoctorInput in;
  in.cluster.enabled = true;
  in.cluster.peer_id = 1;
  in.cluster.leader = 1;
  for (uint64_t id : {1, 2, 3}) in.cluster.peers.push_back(Peer(id));
  DoctorInput::Collection c;
  c.name = "c";
  c.replication_factor = 2;
  c.layout.shard_count = shards;
  for (uint32_t s = 0; s < shards; ++s) {
    c.layout.replicas.push_back({s, uint64_t{s % 3 + 1}, "Active", std::nullopt});
    c.layout.replicas.push_back({s, uint64_t{(s + 1) % 3 + 1}, "Active", std::nullopt});
  }
  in.collections.push_back(c);
  in.rebalance = client::RebalanceInfo{};
  in.rebalance->state = "idle";
  in.now_ms = 1'000'000;
  return in;
}

client::CollectionCluster::Replica& ReplicaOf(DoctorInput& in, uint32_t shard, uint64_t peer) {
  for (auto& r : in.collections[0].layout.replicas) {
    if (r.shard_id == shard && r.peer_id == peer) return r;
  }
  FAIL("no such replica");
  return in.collections[0].layout.replicas.front();  // not reached: FAIL throws
}

TEST_CASE("cluster doctor: a healthy cluster has no findings", "[unit][qdctl]") {
  CHECK(Diagnose(Healthy()).empty());
}

TEST_CASE("cluster doctor: no leader is critical", "[unit][qdctl]") {
  DoctorInput in = Healthy();
  in.cluster.leader.reset();
  in.cluster.peers[1] = Peer(2, false);
  in.cluster.peers[2] = Peer(3, false);
  std::vector<Finding> f = Diagnose(in);
  REQUIRE(!f.empty());
  CHECK(f[0].severity == Severity::kCritical);
  CHECK(f[0].problem.find("no leader") != std::string::npos);
  CHECK(f[0].problem.find("1 of 3 peers answer") != std::string::npos);
}

TEST_CASE("cluster doctor: a Dead replica gets the replicate command from an Active one",
          "[unit][qdctl]") {
  DoctorInput in = Healthy();
  ReplicaOf(in, 0, 2).state = "Dead";  // shard 0 on peers 1 and 2
  std::vector<Finding> f = Diagnose(in);
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kWarning);
  CHECK(f[0].subject == "collection c, shard 0");
  CHECK(f[0].problem.find("peer 2 is Dead") != std::string::npos);
  CHECK(f[0].fix == "qdctl shard replicate c 0 --from 1 --to 2");

  SECTION("not while a transfer recovers it") {
    client::TransferStatus t;
    t.collection = "c";
    t.shard_id = 0;
    t.from_peer_id = 1;
    t.to_peer_id = 2;
    t.sync = true;
    t.updated_at_ms = in.now_ms - 1000;
    in.transfers.push_back(t);
    CHECK(Diagnose(in).empty());
  }
}

TEST_CASE(
    "cluster doctor: a peer that does not answer, and a shard whose Active replicas are all on it",
    "[unit][qdctl]") {
  DoctorInput in = Healthy();
  in.collections[0].replication_factor = 1;
  in.collections[0].layout.replicas = {{0, 3, "Active", std::nullopt},
                                       {1, 1, "Active", std::nullopt},
                                       {2, 2, "Active", std::nullopt}};
  in.cluster.peers[2] = Peer(3, false);
  std::vector<Finding> f = Diagnose(in);
  REQUIRE(f.size() == 2);
  CHECK(f[0].severity == Severity::kCritical);
  CHECK(f[0].subject == "collection c, shard 0");
  CHECK(f[0].problem.find("only Active replicas are on peers that do not answer (3)") !=
        std::string::npos);
  CHECK(f[0].fix == "start qdrantd on peer 3");
  CHECK(f[1].severity == Severity::kWarning);
  CHECK(f[1].subject == "peer 3");
  // It holds a replica: removing it for good needs --force.
  CHECK(f[1].fix.find("qdctl peer remove 3 --force") != std::string::npos);
}

TEST_CASE("cluster doctor: no Active replica at all is critical", "[unit][qdctl]") {
  DoctorInput in = Healthy();
  ReplicaOf(in, 1, 2).state = "Dead";
  ReplicaOf(in, 1, 3).state = "Partial";
  std::vector<Finding> f = Diagnose(in);
  REQUIRE(!f.empty());
  CHECK(f[0].severity == Severity::kCritical);
  CHECK(f[0].subject == "collection c, shard 1");
  CHECK(f[0].problem.find("no Active replica") != std::string::npos);
}

TEST_CASE("cluster doctor: a shard below its replication factor gets a target with room",
          "[unit][qdctl]") {
  DoctorInput in = Healthy();
  // Shard 2 lost its replica on peer 1 (dropped): one Active on peer 3.
  auto& rs = in.collections[0].layout.replicas;
  rs.erase(std::remove_if(rs.begin(), rs.end(),
                          [](const auto& r) { return r.shard_id == 2 && r.peer_id == 1; }),
           rs.end());
  std::vector<Finding> f = Diagnose(in);
  REQUIRE(f.size() == 1);
  CHECK(f[0].problem == "1 Active replica(s), replication_factor is 2");
  // Peers 1 and 2 do not hold shard 2; peer 1 holds one replica now, peer 2 two: the one with
  // the fewest takes it.
  CHECK(f[0].fix == "qdctl shard replicate c 2 --from 3 --to 1");
}

TEST_CASE("cluster doctor: a lagging peer, a stuck transfer, an uneven cluster", "[unit][qdctl]") {
  DoctorInput in = Healthy();
  in.cluster.peers[1] = Peer(2, true, 250);
  client::TransferStatus t;
  t.collection = "my coll";
  t.shard_id = 1;
  t.from_peer_id = 2;
  t.to_peer_id = 1;
  t.points_done = 10;
  t.points_total = 100;
  t.updated_at_ms = in.now_ms - 90'000;
  in.transfers.push_back(t);
  in.rebalance->plan.push_back({"move", "c", 0, 1, uint64_t{3}, "rebalance"});
  in.rebalance->replicas = {{1, 3, 2}, {2, 2, 2}, {3, 1, 2}};
  std::vector<Finding> f = Diagnose(in);
  REQUIRE(f.size() == 3);
  CHECK(f[0].subject == "peer 2");
  CHECK(f[0].problem == "250 consensus entries behind the leader");
  CHECK(f[1].subject == "transfer my coll/1 2->1");
  CHECK(f[1].problem.find("no progress reported for 90 s (10 of 100 points sent)") !=
        std::string::npos);
  CHECK(f[1].fix.find("qdctl shard restart 'my coll' 1 --from 2 --to 1 --method stream_records") ==
        0);
  CHECK(f[2].problem.find("uneven replica counts (peer 1: 3, peer 2: 2, peer 3: 1)") == 0);
  CHECK(f[2].fix == "qdctl rebalance plan; qdctl rebalance apply");

  SECTION("a running rebalance is not uneven, a fresh transfer is not stuck, a small lag is fine") {
    in.rebalance->state = "running";
    in.transfers[0].updated_at_ms = in.now_ms - 5'000;
    in.cluster.peers[1] = Peer(2, true, 3);
    CHECK(Diagnose(in).empty());
  }
}

}  // namespace
}  // namespace qd::qdctl
