// Rebalancing on join, draining and self-healing (issue #17 items 5-6, docs/cluster.md
// "Rebalancing, draining and self-healing"): real qdrantd processes on 127.0.0.1 with ephemeral
// ports, writers going on through every peer, and at every observation no shard with fewer
// Active replicas than its replication factor. Every wait polls with a deadline; the harness
// kills every process it started.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <thread>

#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/points_helpers.h"
#include "tests/support/json.h"

using namespace qd::test;
using namespace std::chrono_literals;

namespace {

// Active replicas per shard and replicas per peer of `name`, as `via` sees the cluster state.
struct Layout {
  std::map<uint32_t, size_t> active;  // shard -> Active replicas
  std::map<uint64_t, size_t> held;    // peer -> replicas (any state)
  bool ok = false;
};

Layout LayoutOf(const ClusterPeer& via, const std::string& name) {
  Layout out;
  HttpResponse r = via.Request("GET", "/collections/" + name + "/cluster");
  if (r.status != 200) return out;
  rapidjson::Document d = Json(r);
  auto add = [&](uint32_t shard, uint64_t peer, const std::string& state) {
    out.active[shard] += state == "Active" ? 1 : 0;
    ++out.held[peer];
  };
  const uint64_t self = d["result"]["peer_id"].GetUint64();
  for (const auto& s : d["result"]["local_shards"].GetArray()) {
    add(s["shard_id"].GetUint(), self, s["state"].GetString());
  }
  for (const auto& s : d["result"]["remote_shards"].GetArray()) {
    add(s["shard_id"].GetUint(), s["peer_id"].GetUint64(), s["state"].GetString());
  }
  out.ok = true;
  return out;
}

// The `rebalance` object of GET /cluster through `via` (null document when it failed).
rapidjson::Document RebalanceStatus(const ClusterPeer& via) {
  rapidjson::Document out;
  HttpResponse r = via.Request("GET", "/cluster");
  if (r.status != 200) return out;
  rapidjson::Document d = Json(r);
  if (!d["result"].HasMember("rebalance")) return out;
  out.CopyFrom(d["result"]["rebalance"], out.GetAllocator());
  return out;
}

// Every acknowledged id of `writers` is readable through each of `peers`.
void CheckNothingLost(const std::vector<ClusterPeer*>& peers, const std::string& name,
                      const std::set<uint64_t>& acked) {
  CHECK(acked.size() > 10);
  for (ClusterPeer* p : peers) {
    std::set<uint64_t> ids = Ids(*p, name);
    size_t missing = 0;
    for (uint64_t id : acked) missing += ids.count(id) ? 0 : 1;
    CHECK(missing == 0);
  }
}

}  // namespace

TEST_CASE(
    "a 4th peer that joins gets its share of two collections while writers go on: no shard ever "
    "has fewer Active replicas than its replication factor, and nothing is lost",
    "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "a", 6, 2));
  REQUIRE(CreateCollection(*peers[1], "b", 6, 2));
  REQUIRE(
      PollUntil([&] { return AllActive(Ptrs(peers), "a") && AllActive(Ptrs(peers), "b"); }, 15s));
  Preload(*peers[0], "a", 2000);
  Preload(*peers[0], "b", 1000);
  std::set<uint64_t> acked;
  {
    Writers writers(Ptrs(peers), "a");
    peers.push_back(std::make_unique<ClusterPeer>());
    ClusterPeer& newcomer = *peers.back();
    newcomer.Start(peers[0]->uri());
    REQUIRE(newcomer.WaitReady(30s));
    const uint64_t id = PeerId(newcomer);
    size_t observations = 0;
    bool balanced = false;
    REQUIRE(PollUntil(
        [&] {
          size_t on_newcomer = 0;
          for (const char* name : {"a", "b"}) {
            Layout l = LayoutOf(*peers[0], name);
            if (!l.ok) return false;
            ++observations;
            for (const auto& [shard, active] : l.active) {
              INFO("collection " << name << " shard " << shard);
              REQUIRE(active >= 2);
            }
            on_newcomer += l.held[id];
          }
          rapidjson::Document r = RebalanceStatus(*peers[0]);
          balanced =
              on_newcomer == 6 && r.IsObject() && std::string(r["state"].GetString()) == "done";
          return balanced;
        },
        90s));
    CHECK(observations > 10);
    writers.Stop();
    acked = writers.acked();
  }
  // What GET /cluster and GET /cluster/rebalance say, on the peers that do not lead too (once
  // they applied the end).
  for (const auto& p : peers) {
    REQUIRE(PollUntil(
        [&] {
          rapidjson::Document r = RebalanceStatus(*p);
          return r.IsObject() && std::string(r["state"].GetString()) == "done";
        },
        10s));
    rapidjson::Document r = RebalanceStatus(*p);
    REQUIRE(r.IsObject());
    CHECK(r["moves_done"].GetUint64() == 6);
    CHECK(r["moves_total"].GetUint64() == 6 + r["moves_failed"].GetUint64());
    CHECK(std::string(r["reason"].GetString()).find("joined") != std::string::npos);
  }
  HttpResponse plan = peers[3]->Request("GET", "/cluster/rebalance");
  REQUIRE(plan.status == 200);
  rapidjson::Document d = Json(plan);
  CHECK(d["result"]["plan"].Size() == 0);
  for (const auto& [peer, counts] : d["result"]["replicas_per_peer"].GetObject()) {
    INFO("peer " << peer.GetString());
    CHECK(counts["now"].GetUint64() == 6);
  }
  CheckNothingLost(Ptrs(peers), "a", acked);
  CHECK(Count(*peers[3], "b") == 1000);
  CHECK(CheckReplicasIdentical(Ptrs(peers), "a", 6, 2) == 12);
  CHECK(CheckReplicasIdentical(Ptrs(peers), "b", 6, 2) == 12);
}

TEST_CASE("with cluster.rebalance.on_join false a new peer receives nothing (Qdrant's behaviour)",
          "[cluster]") {
  auto peers = StartCluster(2, {{"QDRANT__CLUSTER__REBALANCE__ON_JOIN", "false"}});
  REQUIRE(WaitConverged(Ptrs(peers), 2) != 0);
  REQUIRE(CreateCollection(*peers[0], "q", 4, 1));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "q"); }, 10s));
  peers.push_back(std::make_unique<ClusterPeer>());
  peers.back()->Start(peers[0]->uri());
  REQUIRE(peers.back()->WaitReady(30s));
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  // Nothing moves; the plan shows, as a dry run, the one move a rebalance would make.
  REQUIRE(PollUntil(
      [&] {
        HttpResponse r = peers[0]->Request("GET", "/cluster/rebalance");
        return r.status == 200 && Json(r)["result"]["plan"].Size() == 1;
      },
      10s));
  std::this_thread::sleep_for(1s);
  Layout l = LayoutOf(*peers[0], "q");
  REQUIRE(l.ok);
  CHECK(l.held[PeerId(*peers[2])] == 0);
  rapidjson::Document r = RebalanceStatus(*peers[0]);
  REQUIRE(r.IsObject());
  CHECK(std::string(r["state"].GetString()) != "running");
  CHECK(r["moves_planned"].GetUint64() == 0);
  rapidjson::Document plan = Json(peers[1]->Request("GET", "/cluster/rebalance"));
  REQUIRE(plan["result"]["plan"].Size() == 1);
  const auto& move = plan["result"]["plan"][0];
  CHECK(std::string(move["kind"].GetString()) == "move");
  CHECK(move["to_peer_id"].GetUint64() == PeerId(*peers[2]));
  CHECK(std::string(move["reason"].GetString()) == "rebalance");
  // A rebalance on request moves one of the 4 shards there (2/1/1).
  REQUIRE(peers[1]->Request("POST", "/cluster/rebalance").status == 200);
  REQUIRE(PollUntil([&] { return LayoutOf(*peers[0], "q").held[PeerId(*peers[2])] == 1; }, 30s));
  REQUIRE(PollUntil(
      [&] {
        rapidjson::Document s = RebalanceStatus(*peers[2]);
        return s.IsObject() && std::string(s["state"].GetString()) == "done";
      },
      20s));
  CHECK(std::string(RebalanceStatus(*peers[2])["reason"].GetString()) == "requested");
}

TEST_CASE(
    "a drained peer's replicas move away under writes, then it is removed without force, and drain "
    "errors",
    "[cluster]") {
  auto peers = StartCluster(3, {{"QDRANT__CLUSTER__REBALANCE__ON_JOIN", "false"}});
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "d", 3, 2));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "d"); }, 10s));
  Preload(*peers[0], "d", 2000);
  ClusterPeer& leaving = *peers[2];
  const uint64_t id = PeerId(leaving);
  REQUIRE(LayoutOf(*peers[0], "d").held[id] == 2);

  CHECK(peers[0]->Request("POST", "/cluster/peer/123/drain").status == 404);
  CHECK(peers[0]->Request("POST", "/cluster/peer/x/drain").status == 400);
  // Without force, removal is refused while the peer holds replicas (Qdrant's answer).
  CHECK(peers[0]->Request("DELETE", "/cluster/peer/" + std::to_string(id)).status == 400);

  std::vector<ClusterPeer*> staying{peers[0].get(), peers[1].get()};
  std::set<uint64_t> acked;
  {
    Writers writers(Ptrs(peers), "d");
    std::this_thread::sleep_for(300ms);
    HttpResponse r = peers[1]->Request("POST", "/cluster/peer/" + std::to_string(id) + "/drain");
    INFO(r.body);
    REQUIRE(r.status == 200);
    REQUIRE(PollUntil(
        [&] {
          Layout l = LayoutOf(*peers[0], "d");
          if (!l.ok) return false;
          for (const auto& [shard, active] : l.active) REQUIRE(active >= 2);
          return l.held[id] == 0 && l.active.size() == 3 &&
                 std::all_of(l.active.begin(), l.active.end(),
                             [](auto& a) { return a.second == 2; });
        },
        60s));
    writers.Stop();
    acked = writers.acked();
  }
  rapidjson::Document status = RebalanceStatus(*peers[0]);
  REQUIRE(status.IsObject());
  REQUIRE(status["draining"].Size() == 1);
  CHECK(status["draining"][0].GetUint64() == id);
  HttpResponse removed = peers[0]->Request("DELETE", "/cluster/peer/" + std::to_string(id));
  INFO(removed.body);
  CHECK(removed.status == 200);
  CheckNothingLost(staying, "d", acked);
  CHECK(CheckReplicasIdentical(staying, "d", 3, 2) == 6);
  CHECK(RebalanceStatus(*peers[0])["draining"].Size() == 0);
}

TEST_CASE(
    "a peer unreachable longer than dead_peer_timeout_sec has its replicas re-created from the "
    "survivors, so every shard is back at its replication factor",
    "[cluster]") {
  auto peers = StartCluster(3, {{"QDRANT__CLUSTER__REBALANCE__DEAD_PEER_TIMEOUT_SEC", "2"}});
  const uint64_t leader = WaitConverged(Ptrs(peers), 3);
  REQUIRE(leader != 0);
  REQUIRE(CreateCollection(*peers[0], "h", 3, 2));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "h"); }, 10s));
  Preload(*peers[0], "h", 1500);
  // A follower dies for good.
  ClusterPeer* victim = nullptr;
  std::vector<ClusterPeer*> survivors;
  for (const auto& p : peers) {
    if (!victim && PeerId(*p) != leader) {
      victim = p.get();
    } else {
      survivors.push_back(p.get());
    }
  }
  const uint64_t dead = PeerId(*victim);
  std::set<uint64_t> acked;
  {
    Writers writers(survivors, "h");
    std::this_thread::sleep_for(300ms);
    victim->Kill(SIGKILL);
    REQUIRE(victim->WaitExit(10s));
    REQUIRE(PollUntil(
        [&] {
          Layout l = LayoutOf(*survivors[0], "h");
          return l.ok && l.held[dead] == 0 && l.active.size() == 3 &&
                 std::all_of(l.active.begin(), l.active.end(),
                             [](auto& a) { return a.second == 2; });
        },
        60s));
    writers.Stop();
    acked = writers.acked();
  }
  CheckNothingLost(survivors, "h", acked);
  CHECK(CheckReplicasIdentical(survivors, "h", 3, 2) == 6);
  HttpResponse plan = survivors[0]->Request("GET", "/cluster/rebalance");
  REQUIRE(plan.status == 200);
  CHECK(Json(plan)["result"]["stuck"].Size() == 0);
}

TEST_CASE(
    "with transfer limits 0/0 a join starts no rebalance and a requested one ends at once, "
    "instead of staying running with moves that never start",
    "[cluster]") {
  const std::map<std::string, std::string> off{
      {"QDRANT__STORAGE__PERFORMANCE__INCOMING_SHARD_TRANSFERS_LIMIT", "0"},
      {"QDRANT__STORAGE__PERFORMANCE__OUTGOING_SHARD_TRANSFERS_LIMIT", "0"}};
  auto peers = StartCluster(2, off);
  REQUIRE(WaitConverged(Ptrs(peers), 2) != 0);
  REQUIRE(CreateCollection(*peers[0], "o", 4, 1));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "o"); }, 10s));
  peers.push_back(std::make_unique<ClusterPeer>(off));
  peers.back()->Start(peers[0]->uri());
  REQUIRE(PollUntil([&] { return peers.back()->Request("GET", "/healthz").status == 200; }, 30s));
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  auto rebalance = [&] { return Json(peers[0]->Request("GET", "/cluster/rebalance")); };
  // The newcomer holds nothing, so a rebalance would have a move; none may run.
  REQUIRE(PollUntil([&] { return rebalance()["result"]["plan"].Size() > 0; }, 10s));
  for (int i = 0; i < 5; ++i) {
    CHECK(std::string(rebalance()["result"]["state"].GetString()) != "running");
    std::this_thread::sleep_for(200ms);
  }
  REQUIRE(peers[1]->Request("POST", "/cluster/rebalance").status == 200);
  CHECK(PollUntil([&] { return std::string(rebalance()["result"]["state"].GetString()) == "done"; },
                  10s));
  CHECK(rebalance()["result"]["moves_done"].GetUint64() == 0);
}

TEST_CASE(
    "qdctl plans, applies and watches a rebalance, lists transfers with progress from any peer, "
    "drains a peer and removes it",
    "[cluster]") {
  // A slow transfer (5 KB/s) so that its progress is reported (every 2 s) while it runs.
  auto peers =
      StartCluster(2, {{"QDRANT__CLUSTER__REBALANCE__ON_JOIN", "false"},
                       {"QDRANT__STORAGE__PERFORMANCE__SHARD_TRANSFER_RATE_LIMIT_MB", "0.005"}});
  REQUIRE(WaitConverged(Ptrs(peers), 2) != 0);
  REQUIRE(CreateCollection(*peers[0], "t", 4, 1));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "t"); }, 10s));
  Preload(*peers[0], "t", 2000);
  peers.push_back(std::make_unique<ClusterPeer>(std::map<std::string, std::string>{
      {"QDRANT__CLUSTER__REBALANCE__ON_JOIN", "false"},
      {"QDRANT__STORAGE__PERFORMANCE__SHARD_TRANSFER_RATE_LIMIT_MB", "0.005"}}));
  peers.back()->Start(peers[0]->uri());
  REQUIRE(peers.back()->WaitReady(30s));
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  const uint64_t newcomer = PeerId(*peers[2]);
  TempDir home;
  auto qdctl = [&](const ClusterPeer& via, std::vector<std::string> args) {
    std::vector<std::string> all{"--url",     "http://127.0.0.1:" + std::to_string(via.grpc_port()),
                                 "--timeout", "10",
                                 "-o",        "json"};
    all.insert(all.end(), args.begin(), args.end());
    return RunQdctl(all, home.path());
  };

  RunResult plan = qdctl(*peers[1], {"rebalance", "plan"});
  INFO(plan.out << plan.err);
  REQUIRE(plan.exit_code == 0);
  rapidjson::Document moves;
  moves.Parse(plan.out.c_str());
  REQUIRE(moves.IsArray());
  REQUIRE(moves.Size() == 1);
  CHECK(moves[0]["to"].GetUint64() == newcomer);
  CHECK(std::string(moves[0]["kind"].GetString()) == "move");

  RunResult apply = qdctl(*peers[0], {"rebalance", "apply"});
  INFO(apply.out << apply.err);
  REQUIRE(apply.exit_code == 0);
  // Once the move is listed: transfers --watch --until-done (not a terminal) and rebalance
  // apply --wait run beside the checks below, until it ends.
  REQUIRE(PollUntil(
      [&] {
        rapidjson::Document d;
        d.Parse(qdctl(*peers[1], {"transfers", "--collection", "t"}).out.c_str());
        return d.IsArray() && !d.Empty();
      },
      10s));
  RunResult watched, status;
  std::thread watcher([&] {
    watched = RunQdctl({"--url", "http://127.0.0.1:" + std::to_string(peers[1]->grpc_port()),
                        "transfers", "--collection", "t", "--watch", "--until-done"},
                       home.path());
  });
  std::thread waiter([&] { status = qdctl(*peers[2], {"rebalance", "apply", "--wait"}); });
  // The move's progress, as its source reported it, through a peer that is not the source.
  bool seen = false;
  const bool progressed = PollUntil(
      [&] {
        for (const auto& p : peers) {
          RunResult list = qdctl(*p, {"transfers", "--collection", "t"});
          if (list.exit_code != 0) continue;
          rapidjson::Document d;
          d.Parse(list.out.c_str());
          if (!d.IsArray() || d.Empty()) continue;
          if (d[0]["from"].GetUint64() == PeerId(*p)) continue;  // the source itself
          // A snapshot (the auto method for a new replica) counts its files' bytes first.
          const bool moving = d[0]["points_done"].GetUint64() > 0 ||
                              (d[0]["bytes_done"].GetUint64() > 0 &&
                               d[0]["bytes_total"].GetUint64() >= d[0]["bytes_done"].GetUint64());
          if (moving && d[0]["points_total"].GetUint64() >= 400) {
            CHECK(std::string(d[0]["reason"].GetString()) == "rebalance");
            CHECK(d[0]["bytes_per_second"].GetDouble() > 0);
            seen = true;
          }
        }
        return seen;
      },
      30s);
  watcher.join();
  waiter.join();
  REQUIRE(progressed);
  {
    INFO(watched.out << watched.err);
    CHECK(watched.exit_code == 0);
    CHECK(watched.out.find("rebalance") != std::string::npos);
    CHECK(watched.out.find("snapshot") != std::string::npos);
    CHECK(watched.out.find("[#") == std::string::npos);  // bars only on a terminal
    const std::string last = "no shard transfers\n";
    CHECK((watched.out.size() >= last.size() &&
           watched.out.compare(watched.out.size() - last.size(), last.size(), last) == 0));
  }
  INFO(status.out << status.err);
  REQUIRE(status.exit_code == 0);
  rapidjson::Document s;
  s.Parse(status.out.c_str());
  CHECK(std::string(s["state"].GetString()) == "done");
  CHECK(s["moves_done"].GetUint64() == 1);

  // Drain the newcomer again (its one replica goes back), then remove it without --force.
  RunResult drain = qdctl(*peers[0], {"peer", "drain", std::to_string(newcomer), "--wait"});
  INFO(drain.out << drain.err);
  REQUIRE(drain.exit_code == 0);
  CHECK(drain.out.find("\"replicas_left\":0") != std::string::npos);
  RunResult removed = qdctl(*peers[1], {"peer", "remove", std::to_string(newcomer)});
  INFO(removed.out << removed.err);
  CHECK(removed.exit_code == 0);
  CHECK(Count(*peers[0], "t") == 2000);
  CHECK(qdctl(*peers[0], {"peer", "drain", "424242"}).exit_code == 1);
}

TEST_CASE("qdctl shard replicate, drop and move, and the collection's shards x peers matrix",
          "[cluster]") {
  auto peers = StartCluster(2, {{"QDRANT__CLUSTER__REBALANCE__ON_JOIN", "false"}});
  REQUIRE(WaitConverged(Ptrs(peers), 2) != 0);
  REQUIRE(CreateCollection(*peers[0], "m", 2, 1));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "m"); }, 10s));
  Preload(*peers[0], "m", 500);
  TempDir home;
  auto qdctl = [&](std::vector<std::string> args) {
    std::vector<std::string> all{
        "--url", "http://127.0.0.1:" + std::to_string(peers[1]->grpc_port()), "--timeout", "10"};
    all.insert(all.end(), args.begin(), args.end());
    return RunQdctl(all, home.path());
  };
  auto matrix = [&] {
    RunResult r = qdctl({"-o", "json", "collection", "cluster", "m"});
    REQUIRE(r.exit_code == 0);
    rapidjson::Document d;
    d.Parse(r.out.c_str());
    REQUIRE(d.IsArray());
    std::map<uint32_t, std::map<uint64_t, std::string>> out;
    for (const auto& row : d.GetArray()) {
      out[row["shard"].GetUint()][row["peer"].GetUint64()] = row["state"].GetString();
    }
    return out;
  };
  auto before = matrix();
  REQUIRE(before.size() == 2);
  REQUIRE(before[0].size() == 1);
  const uint64_t holder = before[0].begin()->first;
  const uint64_t other = holder == PeerId(*peers[0]) ? PeerId(*peers[1]) : PeerId(*peers[0]);

  RunResult replicate = qdctl({"shard", "replicate", "m", "0", "--from", std::to_string(holder),
                               "--to", std::to_string(other), "--method", "stream_records"});
  INFO(replicate.out << replicate.err);
  REQUIRE(replicate.exit_code == 0);
  REQUIRE(PollUntil(
      [&] {
        auto m = matrix();
        return m[0].size() == 2 && m[0][other] == "Active";
      },
      20s));
  RunResult table = qdctl({"collection", "cluster", "m"});
  INFO(table.out);
  CHECK(table.out.find("SHARD") == 0);
  CHECK(table.out.find("PEER " + std::to_string(PeerId(*peers[1])) + "*") != std::string::npos);
  CHECK(table.out.find("Active (") != std::string::npos);  // the answering peer's point counts

  RunResult drop = qdctl({"shard", "drop", "m", "0", "--peer", std::to_string(holder)});
  INFO(drop.out << drop.err);
  REQUIRE(drop.exit_code == 0);
  REQUIRE(PollUntil([&] { return matrix()[0].size() == 1 && matrix()[0].count(other); }, 20s));
  CHECK(Count(*peers[0], "m") == 500);

  RunResult self = qdctl(
      {"shard", "move", "m", "1", "--from", std::to_string(other), "--to", std::to_string(other)});
  CHECK(self.exit_code == 1);
  CHECK(self.err.find("cannot transfer shard to itself") != std::string::npos);
  RunResult bad = qdctl({"shard", "restart", "m", "1", "--from", std::to_string(other), "--to",
                         std::to_string(holder), "--method", "carrier_pigeon"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("unknown transfer method") != std::string::npos);
  CHECK(qdctl({"shard", "abort", "m", "1", "--from", std::to_string(other), "--to",
               std::to_string(holder)})
            .exit_code == 1);
}
