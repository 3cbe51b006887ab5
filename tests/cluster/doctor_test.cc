// qdctl's checks against three real peers (issue #18). cluster doctor: healthy says so and
// exits 0; a killed peer and the Dead replica it left are found (exit 1) with the commands that
// fix them; and running the command the doctor proposes makes the cluster healthy again.
// collection verify: a replica whose points.db was altered while its peer was down (so it is
// Active yet holds other data) is found by its digest, and --repair makes it equal again.
#include <rapidjson/document.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "libshared/sqlite.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/points_helpers.h"

namespace qd::test {
namespace {

using namespace std::chrono_literals;

struct Doctor {
  int exit_code = -1;
  std::string out, err;
  std::vector<std::pair<std::string, std::string>> findings;  // problem, fix (JSON run)
};

Doctor RunDoctor(const ClusterPeer& via, const std::string& home) {
  const std::string url = "http://127.0.0.1:" + std::to_string(via.grpc_port());
  Doctor d;
  RunResult table = RunQdctl({"--url", url, "cluster", "doctor"}, home);
  d.exit_code = table.exit_code;
  d.out = table.out;
  d.err = table.err;
  RunResult json = RunQdctl({"--url", url, "--output", "json", "cluster", "doctor"}, home);
  rapidjson::Document doc;
  doc.Parse(json.out.c_str());
  if (!doc.HasParseError() && doc.IsArray()) {
    for (const auto& f : doc.GetArray()) {
      d.findings.emplace_back(f["problem"].GetString(), f["fix"].GetString());
    }
  }
  return d;
}

bool HoldsReplica(const ClusterPeer& p, const std::string& name) {
  HttpResponse r = p.Request("GET", "/collections/" + name + "/cluster");
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  return r.status == 200 && !d.HasParseError() && d["result"]["local_shards"].Size() > 0;
}

// Three peers with automatic recovery off (transfer limits 0/0: what breaks stays broken until
// the test, or a command it runs, fixes it) and collection `name`: 1 shard, RF 2, `points`.
std::vector<std::unique_ptr<ClusterPeer>> ClusterWithCollection(const std::string& name,
                                                                uint64_t points) {
  auto peers =
      StartCluster(3, {{"QDRANT__STORAGE__PERFORMANCE__INCOMING_SHARD_TRANSFERS_LIMIT", "0"},
                       {"QDRANT__STORAGE__PERFORMANCE__OUTGOING_SHARD_TRANSFERS_LIMIT", "0"}});
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], name, 1, 2));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), name); }, 10s));
  Preload(*peers[0], name, points);
  return peers;
}

TEST_CASE("cluster doctor finds a dead peer and its Dead replica, and its fix heals the cluster",
          "[cluster]") {
  // The Dead replica stays until the doctor's fix runs.
  auto peers = ClusterWithCollection("d", 200);
  TempDir home;

  // Healthy: exit 0 and says so.
  Doctor healthy;
  REQUIRE(PollUntil(
      [&] {
        healthy = RunDoctor(*peers[0], home.path());
        return healthy.exit_code == 0 && healthy.findings.empty();
      },
      10s));
  INFO(healthy.out << healthy.err);
  CHECK(healthy.out.find("healthy: 3 peers, 1 collections") != std::string::npos);
  CHECK(healthy.findings.empty());
  // peer list: three reachable peers holding the shard's two replicas between them.
  RunResult list = RunQdctl({"--url", "http://127.0.0.1:" + std::to_string(peers[0]->grpc_port()),
                             "-o", "json", "peer", "list"},
                            home.path());
  INFO(list.out << list.err);
  rapidjson::Document rows;
  rows.Parse(list.out.c_str());
  REQUIRE((!rows.HasParseError() && rows.IsArray() && rows.Size() == 3));
  uint64_t replicas = 0;
  for (const auto& row : rows.GetArray()) {
    CHECK(row["reachable"].IsTrue());
    CHECK(row["draining"].IsFalse());
    replicas += row["replicas"].GetUint64();
  }
  CHECK(replicas == 2);

  // Kill a peer holding a replica; a write marks its replica Dead.
  ClusterPeer* victim = nullptr;
  ClusterPeer* via = nullptr;
  for (auto& p : peers) {
    if (!victim && HoldsReplica(*p, "d")) {
      victim = p.get();
    } else if (!via) {
      via = p.get();
    }
  }
  REQUIRE(victim);
  REQUIRE(via);
  const uint64_t victim_id = PeerId(*victim);
  victim->Kill(SIGKILL);
  REQUIRE(victim->WaitExit(10s));
  REQUIRE(via->Request("PUT", "/collections/d/points?wait=true", Batch(1000, 1000)).status == 200);

  Doctor sick;
  const bool found = PollUntil(
      [&] {
        sick = RunDoctor(*via, home.path());
        // Two runs (table, JSON): both must see the replica marked.
        return sick.exit_code == 1 && sick.findings.size() == 2 &&
               sick.out.find("2 problem(s) found") != std::string::npos;
      },
      15s);
  INFO(sick.out << sick.err);
  REQUIRE(found);
  CHECK(sick.out.find("peer " + std::to_string(victim_id) + ": does not answer") !=
        std::string::npos);
  CHECK(sick.out.find("the replica on peer " + std::to_string(victim_id) + " is Dead") !=
        std::string::npos);
  CHECK(sick.out.find("qdctl peer remove " + std::to_string(victim_id) + " --force") !=
        std::string::npos);
  CHECK(sick.out.find("2 problem(s) found") != std::string::npos);

  // It comes back: one finding left, the replicate command; run it as printed.
  victim->Start();
  // Not ready while its replica is Dead (readyz waits for healthy replicas): alive is enough.
  REQUIRE(PollUntil([&] { return victim->Request("GET", "/healthz").status == 200; }, 10s));
  Doctor dead;
  const bool back = PollUntil(
      [&] {
        dead = RunDoctor(*via, home.path());
        return dead.findings.size() == 1 &&
               dead.out.find("1 problem(s) found") != std::string::npos;
      },
      15s);
  INFO(dead.out << dead.err);
  REQUIRE(back);
  const std::string fix = dead.findings[0].second;
  REQUIRE(fix.rfind("qdctl shard replicate d 0 --from ", 0) == 0);
  REQUIRE(fix.find("--to " + std::to_string(victim_id)) != std::string::npos);
  std::vector<std::string> args{"--url", "http://127.0.0.1:" + std::to_string(via->grpc_port())};
  std::istringstream words(fix.substr(std::string("qdctl ").size()));
  for (std::string w; words >> w;) args.push_back(w);
  RunResult ran = RunQdctl(args, home.path());
  INFO(ran.out << ran.err);
  REQUIRE(ran.exit_code == 0);
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "d"); }, 30s));
  CHECK(PollUntil([&] { return RunDoctor(*via, home.path()).exit_code == 0; }, 10s));
  CHECK(Count(*victim, "d") == 201);
}

TEST_CASE("collection verify finds an Active replica holding other data, and --repair re-syncs it",
          "[cluster]") {
  auto peers = ClusterWithCollection("v", 300);
  TempDir home;
  auto verify = [&](const ClusterPeer& via, bool repair = false) {
    std::vector<std::string> args{
        "--url",      "http://127.0.0.1:" + std::to_string(via.grpc_port()),
        "--timeout",  "60",
        "collection", "verify",
        "v"};
    if (repair) args.push_back("--repair");
    return RunQdctl(args, home.path());
  };
  RunResult clean = verify(*peers[0]);
  INFO(clean.out << clean.err);
  CHECK(clean.exit_code == 0);
  CHECK(clean.out.find("DIFFERS") == std::string::npos);

  // The lower-id holder (not the ordering replica, whose copy wins a tie) gets one payload
  // changed in its points.db while it is down: it comes back Active, with other data.
  ClusterPeer* victim = nullptr;
  ClusterPeer* via = nullptr;
  for (auto& p : peers) {
    if (!HoldsReplica(*p, "v")) {
      via = p.get();
    } else if (!victim || PeerId(*p) < PeerId(*victim)) {
      victim = p.get();
    }
  }
  REQUIRE(victim);
  REQUIRE(via);
  REQUIRE(victim->Stop() == 0);
  std::string points_db;
  for (const auto& e : std::filesystem::recursive_directory_iterator(victim->dir())) {
    const std::string path = e.path().string();
    if (path.find("/collections/v/0/points.db") != std::string::npos &&
        path.size() > std::string("points.db").size() &&
        path.substr(path.size() - std::string("points.db").size()) == "points.db") {
      points_db = path;
    }
  }
  REQUIRE(!points_db.empty());
  {
    auto db = sqlite::Db::Open(points_db, sqlite::Db::Sync::kFull);
    REQUIRE(db.ok());
    REQUIRE((*db)
                ->Exec("UPDATE points SET payload = '{\"tampered\":true}' WHERE id = "
                       "(SELECT min(id) FROM points)")
                .ok());
    REQUIRE((*db)->Changes() == 1);
  }
  victim->Start();
  REQUIRE(victim->WaitReady());
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "v"); }, 10s));

  RunResult found = verify(*via);
  INFO(found.out << found.err);
  CHECK(found.exit_code == 1);
  CHECK(found.out.find("DIFFERS") != std::string::npos);
  CHECK(found.out.find("ok (good copy)") != std::string::npos);

  RunResult repaired = verify(*via, /*repair=*/true);
  INFO(repaired.out << repaired.err);
  CHECK(repaired.exit_code == 0);
  CHECK(repaired.err.find("re-syncing the replica on peer " + std::to_string(PeerId(*victim))) !=
        std::string::npos);
  CHECK(repaired.out.find("DIFFERS") == std::string::npos);
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "v"); }, 10s));
  CHECK(CheckReplicasIdentical(Ptrs(peers), "v", 1, 2) == 2);
}

}  // namespace
}  // namespace qd::test
