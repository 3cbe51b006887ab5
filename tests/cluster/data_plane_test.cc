// The distributed data plane (issue #16, compat.md §5): any peer serves any point read or
// write, shards replicated with replication_factor, writes numbered by each shard's ordering
// replica so replicas converge, write_consistency_factor, ordering, Dead replicas. Three qdrantd
// processes on 127.0.0.1 with ephemeral ports; every wait polls with a deadline; the harness
// kills every process it started.
//
// Replicas are compared byte for byte through the P2P data service's own per-replica read
// (P2pData/Read on each peer's P2P port, for one shard): the read a coordinator sends to a
// replica it picked, here aimed at every replica in turn.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/points_helpers.h"
#include "tests/support/json.h"

using namespace qd::test;
using namespace std::chrono_literals;

TEST_CASE("any peer serves any point operation, with replication factors 1, 2 and 3", "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  for (int rf : {1, 2, 3}) {
    DYNAMIC_SECTION("replication_factor " << rf) {
      const std::string name = "rf" + std::to_string(rf);
      REQUIRE(CreateCollection(*peers[rf - 1], name, 4, rf));
      REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), name); }, 10s));
      // 20 points through each peer, whichever shard they land on.
      for (size_t i = 0; i < peers.size(); ++i) {
        HttpResponse w = peers[i]->Request("PUT", "/collections/" + name + "/points?wait=true",
                                           Batch(i * 20 + 1, i * 20 + 20));
        INFO(w.body);
        REQUIRE(w.status == 200);
      }
      // Each peer holds rf replicas' worth of the points, split over its local shards.
      uint64_t held = 0;
      for (const auto& p : peers) {
        rapidjson::Document d = Json(p->Request("GET", "/collections/" + name + "/cluster"));
        for (const auto& s : d["result"]["local_shards"].GetArray())
          held += s["points_count"].GetUint64();
      }
      CHECK(held == 60u * rf);
      // The same answers through every peer: counts, scroll pages, searches, retrieval.
      std::string scroll, page2, search, filtered, retrieved;
      for (const auto& p : peers) {
        CHECK(Count(*p, name) == 60);
        CHECK(Count(*p, name,
                    R"({"filter":{"must":[{"key":"n","range":{"lte":10}}]},"exact":true})") == 10);
        HttpResponse s1 = p->Request("POST", "/collections/" + name + "/points/scroll",
                                     R"({"limit":25,"with_payload":true,"with_vector":true})");
        REQUIRE(s1.status == 200);
        rapidjson::Document d1 = Json(s1);
        CHECK(d1["result"]["points"].Size() == 25);
        CHECK(d1["result"]["next_page_offset"].GetUint64() == 26);
        HttpResponse s2 = p->Request("POST", "/collections/" + name + "/points/scroll",
                                     R"({"limit":50,"offset":26,"with_payload":["n"]})");
        REQUIRE(s2.status == 200);
        CHECK(Json(s2)["result"]["points"].Size() == 35);
        CHECK(Json(s2)["result"]["next_page_offset"].IsNull());
        HttpResponse q =
            p->Request("POST", "/collections/" + name + "/points/search",
                       R"({"vector":[1,0.5],"limit":7,"offset":2,"with_payload":true})");
        REQUIRE(q.status == 200);
        CHECK(Json(q)["result"].Size() == 7);
        HttpResponse f = p->Request(
            "POST", "/collections/" + name + "/points/search",
            R"({"vector":[1,1],"limit":100,"filter":{"must":[{"key":"n","range":{"gt":50}}]}})");
        REQUIRE(f.status == 200);
        CHECK(Json(f)["result"].Size() == 10);
        HttpResponse g =
            p->Request("POST", "/collections/" + name + "/points",
                       R"({"ids":[3,59,17,1000],"with_payload":true,"with_vector":true})");
        REQUIRE(g.status == 200);
        CHECK(Json(g)["result"].Size() == 3);
        if (scroll.empty()) {
          scroll = Result(s1), page2 = Result(s2), search = Result(q), filtered = Result(f),
          retrieved = Result(g);
        } else {
          CHECK(Result(s1) == scroll);
          CHECK(Result(s2) == page2);
          CHECK(Result(q) == search);
          CHECK(Result(f) == filtered);
          CHECK(Result(g) == retrieved);
        }
        CHECK(p->Request("GET", "/collections/" + name + "/points/42").status == 200);
      }
      // Writes that select by filter, payload updates and index creation, through another peer.
      ClusterPeer& other = *peers[(rf) % 3];
      REQUIRE(other
                  .Request("PUT", "/collections/" + name + "/index?wait=true",
                           R"({"field_name":"n","field_schema":"integer"})")
                  .status == 200);
      HttpResponse del = other.Request("POST", "/collections/" + name + "/points/delete?wait=true",
                                       R"({"filter":{"must":[{"key":"n","range":{"gt":55}}]}})");
      INFO(del.body);
      REQUIRE(del.status == 200);
      REQUIRE(other
                  .Request("POST", "/collections/" + name + "/points/payload?wait=true",
                           R"({"payload":{"tag":"b"},"points":[1,2,3]})")
                  .status == 200);
      // Setting the payload of a point that does not exist is a 404, as on one node.
      CHECK(other
                .Request("POST", "/collections/" + name + "/points/payload?wait=true",
                         R"({"payload":{"tag":"b"},"points":[4000]})")
                .status == 404);
      for (const auto& p : peers) {
        CHECK(Count(*p, name) == 55);
        CHECK(Count(*p, name,
                    R"({"filter":{"must":[{"key":"tag","match":{"value":"b"}}]},"exact":true})") ==
              3);
        rapidjson::Document info = Json(p->Request("GET", "/collections/" + name));
        CHECK(info["result"]["payload_schema"].HasMember("n"));
      }
      CHECK(CheckReplicasIdentical(Ptrs(peers), name, 4, rf) == 4u * rf);
    }
  }
}

TEST_CASE(
    "strong ordering fails with 500 while its ordering replica is down, weak goes on and marks it "
    "Dead",
    "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "o", 1, 3));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "o"); }, 10s));
  REQUIRE(peers[0]
              ->Request("PUT", "/collections/o/points?wait=true&ordering=strong", Batch(1, 10))
              .status == 200);
  // The highest peer id orders strong writes.
  ClusterPeer* highest = peers[0].get();
  for (const auto& p : peers) {
    if (PeerId(*p) > PeerId(*highest)) highest = p.get();
  }
  const uint64_t highest_id = PeerId(*highest);
  std::vector<ClusterPeer*> rest;
  for (const auto& p : peers) {
    if (p.get() != highest) rest.push_back(p.get());
  }
  highest->Kill(SIGKILL);
  REQUIRE(highest->WaitExit(10s));
  HttpResponse strong =
      rest[0]->Request("PUT", "/collections/o/points?wait=true&ordering=strong", Batch(11, 11));
  INFO(strong.body);
  CHECK(strong.status == 500);
  CHECK(rest[0]->Request("PUT", "/collections/o/points?ordering=bogus", Batch(11, 11)).status ==
        400);
  // weak (and medium): the write succeeds on the others, the unreachable replica goes Dead.
  HttpResponse weak = rest[0]->Request("PUT", "/collections/o/points?wait=true", Batch(12, 20));
  INFO(weak.body);
  CHECK(weak.status == 200);
  HttpResponse medium =
      rest[1]->Request("PUT", "/collections/o/points?wait=true&ordering=medium", Batch(21, 30));
  INFO(medium.body);
  CHECK(medium.status == 200);
  for (ClusterPeer* p : rest) {
    CHECK(PollUntil(
        [&] {
          rapidjson::Document d = Json(p->Request("GET", "/collections/o/cluster"));
          for (const auto& s : d["result"]["remote_shards"].GetArray()) {
            if (s["peer_id"].GetUint64() == highest_id)
              return std::string(s["state"].GetString()) == "Dead";
          }
          return false;
        },
        10s));
    CHECK(Count(*p, "o") == 29);
  }
  // With its ordering replica Dead, strong ordering still fails clearly.
  HttpResponse still =
      rest[1]->Request("PUT", "/collections/o/points?wait=true&ordering=strong", Batch(31, 31));
  INFO(still.body);
  CHECK(still.status == 500);
  CHECK(still.body.find("Dead") != std::string::npos);
  CheckReplicasIdentical(rest, "o", 1, 2);
}

TEST_CASE("concurrent writers through every peer on the same ids leave all replicas identical",
          "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "w", 2, 3));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "w"); }, 10s));
  for (const char* ordering : {"weak", "medium", "strong"}) {
    DYNAMIC_SECTION("ordering " << ordering) {
      std::atomic<int> failures{0};
      std::vector<std::thread> writers;
      for (int t = 0; t < 8; ++t) {
        writers.emplace_back([&, t] {
          ClusterPeer& via = *peers[t % 3];
          for (int round = 0; round < 12; ++round) {
            const uint64_t first = 1 + static_cast<uint64_t>((t * 7 + round * 13) % 90);
            std::string path = std::string("/collections/w/points") +
                               (round % 2 ? "?wait=true&" : "?") + "ordering=" + ordering;
            HttpResponse r =
                round % 4 == 3
                    ? via.Request("POST",
                                  "/collections/w/points/delete?ordering=" + std::string(ordering),
                                  R"({"points":[)" + std::to_string(first) + "," +
                                      std::to_string(first + 1) + "]}")
                    : via.Request("PUT", path, Batch(first, first + 10, "t" + std::to_string(t)));
            if (r.status != 200) ++failures;
          }
        });
      }
      for (std::thread& w : writers) w.join();
      CHECK(failures == 0);
      // One more wait=true operation on every shard through each peer makes sure everything
      // before it has been applied everywhere (replicas apply in op order).
      for (const auto& p : peers) {
        REQUIRE(p->Request("PUT", "/collections/w/index?wait=true",
                           R"({"field_name":"tag","field_schema":"keyword"})")
                    .status == 200);
      }
      CHECK(CheckReplicasIdentical(Ptrs(peers), "w", 2, 3) == 6);
      uint64_t n = Count(*peers[0], "w");
      for (const auto& p : peers) CHECK(Count(*p, "w") == n);
    }
  }
}

TEST_CASE(
    "a peer killed under write load: writes go on, its replicas go Dead, no acknowledged write is "
    "lost",
    "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "k", 3, 2));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "k"); }, 10s));
  ClusterPeer& victim = *peers[2];
  const uint64_t victim_id = PeerId(victim);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<uint64_t> acknowledged;
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&, t] {
      ClusterPeer& via = *peers[t];
      for (uint64_t id = 1 + static_cast<uint64_t>(t) * 100000; !stop; ++id) {
        HttpResponse r = via.Request("PUT", "/collections/k/points?wait=true", Batch(id, id));
        if (r.status == 200) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.insert(id);
        } else {
          ++failed;
        }
      }
    });
  }
  REQUIRE(PollUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return acknowledged.size() >= 50;
      },
      30s));
  victim.Kill(SIGKILL);
  REQUIRE(victim.WaitExit(10s));
  size_t at_kill = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    at_kill = acknowledged.size();
  }
  // Writes through the survivors go on.
  CHECK(PollUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return acknowledged.size() >= at_kill + 100;
      },
      30s));
  stop = true;
  for (std::thread& w : writers) w.join();
  WARN("writes acknowledged: " << acknowledged.size()
                               << ", failed around the kill: " << failed.load());
  // Its replicas are Dead on both survivors.
  for (int i = 0; i < 2; ++i) {
    CHECK(PollUntil(
        [&] {
          rapidjson::Document d = Json(peers[i]->Request("GET", "/collections/k/cluster"));
          for (const auto& s : d["result"]["remote_shards"].GetArray()) {
            if (s["peer_id"].GetUint64() == victim_id &&
                std::string(s["state"].GetString()) != "Dead")
              return false;
          }
          return true;
        },
        10s));
  }
  // Every acknowledged write is readable through each survivor.
  for (int i = 0; i < 2; ++i) {
    HttpResponse r = peers[i]->Request("POST", "/collections/k/points/scroll",
                                       R"({"limit":1000000,"with_payload":false})", 30s);
    REQUIRE(r.status == 200);
    rapidjson::Document d = Json(r);
    std::set<uint64_t> seen;
    for (const auto& p : d["result"]["points"].GetArray()) seen.insert(p["id"].GetUint64());
    size_t lost = 0;
    for (uint64_t id : acknowledged) lost += seen.count(id) ? 0 : 1;
    CHECK(lost == 0);
  }
  CheckReplicasIdentical({peers[0].get(), peers[1].get()}, "k", 3, 1);
}

TEST_CASE(
    "write_consistency_factor: a write fails, saying how many replicas applied it, when too few "
    "can",
    "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "c", 1, 2, 2));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "c"); }, 10s));
  REQUIRE(peers[0]->Request("PUT", "/collections/c/points?wait=true", Batch(1, 5)).status == 200);
  // Stop the lower-id replica: the other one orders the writes and cannot reach it.
  rapidjson::Document d = Json(peers[0]->Request("GET", "/collections/c/cluster"));
  std::vector<uint64_t> holders;
  for (const auto& s : d["result"]["local_shards"].GetArray())
    (void)s, holders.push_back(PeerId(*peers[0]));
  for (const auto& s : d["result"]["remote_shards"].GetArray())
    holders.push_back(s["peer_id"].GetUint64());
  REQUIRE(holders.size() == 2);
  const uint64_t low = std::min(holders[0], holders[1]);
  ClusterPeer* low_peer = nullptr;
  for (const auto& p : peers) {
    if (PeerId(*p) == low) low_peer = p.get();
  }
  REQUIRE(low_peer);
  low_peer->Kill(SIGKILL);
  REQUIRE(low_peer->WaitExit(10s));
  ClusterPeer* via = peers[0].get() == low_peer ? peers[1].get() : peers[0].get();
  HttpResponse r = via->Request("PUT", "/collections/c/points?wait=true", Batch(6, 6));
  INFO(r.body);
  CHECK(r.status == 503);
  CHECK(r.body.find(
            "write consistency factor not met: 1 of 2 replicas applied the write, 2 required") !=
        std::string::npos);
}

TEST_CASE(
    "a Listener node receives every write, answers no reads from its replicas, and turns Active as "
    "Normal",
    "[cluster]") {
  auto peers = StartCluster(2);
  REQUIRE(WaitConverged(Ptrs(peers), 2) != 0);
  auto listener = std::make_unique<ClusterPeer>(
      std::map<std::string, std::string>{{"QDRANT__STORAGE__NODE_TYPE", "Listener"}});
  listener->Start(peers[0]->uri());
  REQUIRE(listener->WaitReady());
  peers.push_back(std::move(listener));
  ClusterPeer& l = *peers[2];
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  const uint64_t listener_id = PeerId(l);
  REQUIRE(CreateCollection(*peers[0], "l", 2, 3));
  auto listener_states = [&](const ClusterPeer& p) {
    std::vector<std::string> states;
    rapidjson::Document d = Json(p.Request("GET", "/collections/l/cluster"));
    for (const auto& s : d["result"]["local_shards"].GetArray()) {
      if (d["result"]["peer_id"].GetUint64() == listener_id)
        states.push_back(s["state"].GetString());
    }
    for (const auto& s : d["result"]["remote_shards"].GetArray()) {
      if (s["peer_id"].GetUint64() == listener_id) states.push_back(s["state"].GetString());
    }
    return states;
  };
  // Every peer sees the listener's replicas as Listener.
  for (const auto& p : peers) {
    CHECK(PollUntil(
        [&] {
          auto states = listener_states(*p);
          return states.size() == 2 && states[0] == "Listener" && states[1] == "Listener";
        },
        10s));
  }
  // Writes through any node, the listener included, reach its replicas too.
  for (size_t i = 0; i < peers.size(); ++i) {
    HttpResponse w =
        peers[i]->Request("PUT", "/collections/l/points?wait=true", Batch(i * 10 + 1, i * 10 + 10));
    INFO(w.body);
    REQUIRE(w.status == 200);
  }
  uint64_t held = 0;
  rapidjson::Document d = Json(l.Request("GET", "/collections/l/cluster"));
  for (const auto& s : d["result"]["local_shards"].GetArray())
    held += s["points_count"].GetUint64();
  CHECK(held == 30);
  // Reads through the listener are answered by the other replicas; its own never answer.
  CHECK(Count(l, "l") == 30);
  CHECK_FALSE(ReplicaContent(l, "l", 0).has_value());
  const std::string before =
      Result(peers[0]->Request("POST", "/collections/l/points/scroll",
                               R"({"limit":100,"with_payload":true,"with_vector":true})"));
  // Restarted as Normal, its replicas become Active everywhere and answer reads with the same data.
  l.SetEnv("QDRANT__STORAGE__NODE_TYPE", "");
  REQUIRE(l.Stop() == 0);
  l.Start();
  REQUIRE(l.WaitReady());
  for (const auto& p : peers) {
    CHECK(PollUntil(
        [&] {
          auto states = listener_states(*p);
          return states.size() == 2 && states[0] == "Active" && states[1] == "Active";
        },
        15s));
  }
  CHECK(ReplicaContent(l, "l", 0).has_value());
  CHECK(CheckReplicasIdentical(Ptrs(peers), "l", 2, 3) == 6);
  CHECK(Result(l.Request("POST", "/collections/l/points/scroll",
                         R"({"limit":100,"with_payload":true,"with_vector":true})")) == before);
}

TEST_CASE("update_rate_limit: past it, a write waits and then gets 429, and the node goes on", "[cluster]") {
  auto peers = StartCluster(2, {{"QDRANT__STORAGE__PERFORMANCE__UPDATE_RATE_LIMIT", "1"}});
  REQUIRE(WaitConverged(Ptrs(peers), 2) != 0);
  REQUIRE(CreateCollection(*peers[0], "b", 1, 2));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "b"); }, 10s));
  REQUIRE(peers[0]->Request("PUT", "/collections/b/points?wait=true", Batch(1, 5)).status == 200);
  // A paused replica holds writes on peer 0 until the replication times out: of four writes
  // sent at once, one takes the only slot and the others are refused after their wait.
  peers[1]->Kill(SIGSTOP);
  std::atomic<int> refused{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      HttpResponse r = peers[0]->Request("PUT", "/collections/b/points?wait=true", Batch(6 + t, 6 + t), 60s);
      if (r.status == 429 &&
          r.body.find("Too many update operations in flight on this peer (1") != std::string::npos) {
        ++refused;
      }
    });
  }
  CHECK(PollUntil([&] { return refused.load() == 3; }, 20s));
  peers[1]->Kill(SIGCONT);
  for (std::thread& w : writers) w.join();
  CHECK(refused == 3);
  // Once the slot is free, writes go through again.
  CHECK(PollUntil([&] {
    return peers[0]->Request("PUT", "/collections/b/points?wait=true", Batch(8, 8)).status == 200;
  }, 30s));
  CHECK(peers[0]->Running());
}

TEST_CASE(
    "read consistency: every level answers alike through every peer, and all and majority fail "
    "while a replica cannot answer",
    "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "c", 2, 3));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "c"); }, 10s));
  REQUIRE(peers[1]->Request("PUT", "/collections/c/points?wait=true", Batch(1, 40)).status == 200);
  struct Read {
    const char* method;
    std::string path;
    const char* body;
  };
  const std::vector<Read> reads = {
      {"POST", "/collections/c/points/scroll", R"({"limit":15,"with_payload":true})"},
      {"POST", "/collections/c/points/count", R"({"exact":true})"},
      {"POST", "/collections/c/points/query", R"({"query":[1,0.5],"limit":6,"offset":2})"},
      {"POST", "/collections/c/points", R"({"ids":[3,17,39],"with_vector":true})"},
      {"GET", "/collections/c/points/7", ""},
  };
  auto with = [](const std::string& path, const std::string& consistency) {
    return consistency.empty() ? path : path + "?consistency=" + consistency;
  };
  for (const Read& read : reads) {
    HttpResponse plain = peers[0]->Request(read.method, read.path, read.body);
    REQUIRE(plain.status == 200);
    for (const auto& p : peers) {
      for (const char* c : {"all", "majority", "quorum", "2", "3", "7"}) {
        HttpResponse r = p->Request(read.method, with(read.path, c), read.body);
        INFO(read.path << "?consistency=" << c << " -> " << r.body);
        REQUIRE(r.status == 200);
        CHECK(Result(r) == Result(plain));
      }
    }
  }
  HttpResponse bad =
      peers[0]->Request("POST", "/collections/c/points/count?consistency=most", "{}");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("consistency `most`") != std::string::npos);

  // One replica gone (its peer killed, still Active in the cluster state): a quorum and a factor
  // of 2 replace it with the third replica; all and majority need it.
  peers[2]->Kill(SIGKILL);
  REQUIRE(peers[2]->WaitExit(10s));
  const std::string count = "/collections/c/points/count";
  for (const char* c : {"", "quorum", "2"}) {
    HttpResponse r = peers[0]->Request("POST", with(count, c), R"({"exact":true})");
    INFO(c << " -> " << r.body);
    CHECK(r.status == 200);
    CHECK(r.body.find("\"count\":40") != std::string::npos);
  }
  for (const char* c : {"all", "majority"}) {
    HttpResponse r = peers[1]->Request("POST", with(count, c), R"({"exact":true})");
    INFO(c << " -> " << r.body);
    CHECK(r.status == 503);
    CHECK(r.body.find(std::string("read consistency `") + c +
                      "` needs 3 replicas to answer, 2 of 3 did") != std::string::npos);
  }
  // Writes to both shards find their replicas down and have them marked Dead: all is then the
  // two that are left.
  REQUIRE(peers[0]->Request("PUT", "/collections/c/points?wait=true", Batch(41, 50)).status == 200);
  HttpResponse last;
  const bool marked = PollUntil(
      [&] {
        last = peers[1]->Request("POST", with(count, "all"), R"({"exact":true})");
        return last.status == 200 && last.body.find("\"count\":50") != std::string::npos;
      },
      10s);
  INFO(last.body << "\n" << peers[1]->Request("GET", "/collections/c/cluster").body);
  CHECK(marked);
}
