// Shard transfers and automatic recovery (issue #17, compat.md §6.5, §6.6): replicate_shard,
// move_shard, abort_transfer and drop_replica over REST while writers go on through every peer,
// and Dead replicas recovered by themselves within the transfer limits. Three qdrantd processes
// on 127.0.0.1 with ephemeral ports; every wait polls with a deadline; the harness kills every
// process it started. A small `shard_transfer_rate_limit_mb` makes a transfer of a few
// thousand points last long enough to be seen in progress and aborted.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "collections_service.grpc.pb.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/points_helpers.h"
#include "tests/support/json.h"

using namespace qd::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kRateLimit = "QDRANT__STORAGE__PERFORMANCE__SHARD_TRANSFER_RATE_LIMIT_MB";

struct Replica {
  uint64_t peer = 0;
  std::string state;
};

// The replicas of `shard` as `via` reports them (local and remote).
std::vector<Replica> Replicas(const ClusterPeer& via, const std::string& name, uint32_t shard) {
  std::vector<Replica> out;
  HttpResponse r = via.Request("GET", "/collections/" + name + "/cluster");
  if (r.status != 200) return out;
  rapidjson::Document d = Json(r);
  const uint64_t self = d["result"]["peer_id"].GetUint64();
  for (const auto& s : d["result"]["local_shards"].GetArray()) {
    if (s["shard_id"].GetUint() == shard) out.push_back({self, s["state"].GetString()});
  }
  for (const auto& s : d["result"]["remote_shards"].GetArray()) {
    if (s["shard_id"].GetUint() == shard)
      out.push_back({s["peer_id"].GetUint64(), s["state"].GetString()});
  }
  return out;
}

size_t Transfers(const ClusterPeer& via, const std::string& name) {
  HttpResponse r = via.Request("GET", "/collections/" + name + "/cluster");
  if (r.status != 200) return 0;
  return Json(r)["result"]["shard_transfers"].Size();
}

HttpResponse Operate(const ClusterPeer& via, const std::string& name, const std::string& body) {
  return via.Request("POST", "/collections/" + name + "/cluster", body);
}

std::string TransferBody(const char* op, uint64_t from, uint64_t to) {
  return std::string(R"({")") + op + R"(":{"shard_id":0,"from_peer_id":)" + std::to_string(from) +
         R"(,"to_peer_id":)" + std::to_string(to) + "}}";
}

// The peer of `peers` holding no replica of shard 0 and one that holds it.
ClusterPeer* HolderOf(const std::vector<ClusterPeer*>& peers, const std::string& name, bool holds) {
  std::vector<Replica> replicas = Replicas(*peers[0], name, 0);
  for (ClusterPeer* p : peers) {
    const uint64_t id = PeerId(*p);
    bool has = false;
    for (const Replica& r : replicas) has = has || r.peer == id;
    if (has == holds) return p;
  }
  return nullptr;
}

}  // namespace

TEST_CASE(
    "replicate_shard then move_shard under writes through every peer: progress is shown, replicas "
    "end identical and no acknowledged write is lost",
    "[cluster]") {
  auto peers = StartCluster(3, {{kRateLimit, "0.5"}});
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "t", 1, 1));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "t"); }, 10s));
  Preload(*peers[1], "t", 8000);
  ClusterPeer* source = HolderOf(Ptrs(peers), "t", true);
  ClusterPeer* target = HolderOf(Ptrs(peers), "t", false);
  REQUIRE(source);
  REQUIRE(target);
  ClusterPeer* third = nullptr;
  for (ClusterPeer* p : Ptrs(peers)) {
    if (p != source && p != target) third = p;
  }
  const uint64_t source_id = PeerId(*source), target_id = PeerId(*target),
                 third_id = PeerId(*third);

  Writers writers(Ptrs(peers), "t");
  // Auto: the receiver holds nothing, so a snapshot; the move below names stream_records.
  HttpResponse started =
      Operate(*third, "t", TransferBody("replicate_shard", source_id, target_id));
  INFO(started.body);
  REQUIRE(started.status == 200);
  // Listed on every peer with its method; the source shows its progress.
  for (const auto& p : peers) CHECK(PollUntil([&] { return Transfers(*p, "t") == 1; }, 5s));
  bool progress_seen = false;
  std::string last;
  REQUIRE(PollUntil(
      [&] {
        HttpResponse r = source->Request("GET", "/collections/t/cluster");
        last = r.body;
        if (r.body.find("Transferring snapshot (") != std::string::npos) progress_seen = true;
        if (r.body.find("\"method\":\"snapshot\"") == std::string::npos &&
            Json(r)["result"]["shard_transfers"].Size() > 0) {
          return false;
        }
        // The receiver answers no reads while it is filled.
        for (const Replica& rep : Replicas(*source, "t", 0)) {
          if (rep.peer == target_id) CHECK((rep.state == "Partial" || rep.state == "Active"));
        }
        return Json(r)["result"]["shard_transfers"].Size() == 0;
      },
      60s));
  INFO(last);
  CHECK(progress_seen);
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "t"); }, 10s));
  CHECK(Replicas(*third, "t", 0).size() == 2);

  // Now move the original replica to the third peer, record by record.
  HttpResponse moved = Operate(*target, "t",
                               R"({"move_shard":{"shard_id":0,"from_peer_id":)" +
                                   std::to_string(source_id) + R"(,"to_peer_id":)" +
                                   std::to_string(third_id) + R"(,"method":"stream_records"}})");
  INFO(moved.body);
  REQUIRE(moved.status == 200);
  REQUIRE(PollUntil(
      [&] {
        for (const auto& p : peers) {
          if (Transfers(*p, "t") != 0) return false;
        }
        std::vector<Replica> replicas = Replicas(*source, "t", 0);
        if (replicas.size() != 2) return false;
        for (const Replica& r : replicas) {
          if (r.peer == source_id || r.state != "Active") return false;
        }
        return true;
      },
      60s));
  writers.Stop();
  // One more write through every peer: applied everywhere after everything before it.
  for (const auto& p : peers) {
    REQUIRE(p->Request("PUT", "/collections/t/points?wait=true", Batch(1, 1)).status == 200);
  }
  const std::set<uint64_t> acked = writers.acked();
  CHECK(acked.size() > 20);
  INFO("unknown outcomes: " << writers.unknown());
  for (const auto& p : peers) {
    std::set<uint64_t> ids = Ids(*p, "t");
    size_t missing = 0;
    for (uint64_t id : acked) missing += ids.count(id) ? 0 : 1;
    CHECK(missing == 0);
    CHECK(Count(*p, "t") == ids.size());
    CHECK(ids.size() >= 8000 + acked.size());
  }
  CHECK(CheckReplicasIdentical(Ptrs(peers), "t", 1, 2) == 2);
}

TEST_CASE(
    "abort_transfer under load: gone from every peer within 3 s, the receiver Dead, a later "
    "transfer recovers it, and mistakes get clear errors",
    "[cluster]") {
  // Limits 0/0: no automatic recovery, so what happens is only what the test asks for.
  auto peers =
      StartCluster(3, {{kRateLimit, "0.2"},
                       {"QDRANT__STORAGE__PERFORMANCE__INCOMING_SHARD_TRANSFERS_LIMIT", "0"},
                       {"QDRANT__STORAGE__PERFORMANCE__OUTGOING_SHARD_TRANSFERS_LIMIT", "0"}});
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "a", 1, 1));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "a"); }, 10s));
  Preload(*peers[0], "a", 6000);
  ClusterPeer* source = HolderOf(Ptrs(peers), "a", true);
  ClusterPeer* target = HolderOf(Ptrs(peers), "a", false);
  const uint64_t source_id = PeerId(*source), target_id = PeerId(*target);

  // Mistakes: to itself (422), unknown method (400), unknown collection (404), nothing to abort.
  HttpResponse self = Operate(*source, "a", TransferBody("move_shard", source_id, source_id));
  CHECK(self.status == 422);
  CHECK(self.body.find("cannot transfer shard to itself") != std::string::npos);
  CHECK(Operate(
            *source, "a",
            R"({"replicate_shard":{"shard_id":0,"from_peer_id":1,"to_peer_id":2,"method":"fax"}})")
            .status == 400);
  CHECK(Operate(*source, "missing", TransferBody("replicate_shard", source_id, target_id)).status ==
        404);
  HttpResponse none = Operate(*source, "a", TransferBody("abort_transfer", source_id, target_id));
  CHECK((none.status == 404 || none.status == 400));
  CHECK(none.body.find("does not exist") != std::string::npos);
  HttpResponse from_nowhere =
      Operate(*source, "a", TransferBody("replicate_shard", target_id, source_id));
  CHECK(from_nowhere.status == 400);

  Writers writers(Ptrs(peers), "a");
  REQUIRE(Operate(*target, "a", TransferBody("replicate_shard", source_id, target_id)).status ==
          200);
  // Aborted while its snapshot's files are being sent (auto: the receiver holds nothing).
  REQUIRE(PollUntil(
      [&] {
        return source->Request("GET", "/collections/a/cluster")
                   .body.find("Transferring snapshot (") != std::string::npos;
      },
      20s));
  HttpResponse aborted =
      Operate(*peers[2], "a", TransferBody("abort_transfer", source_id, target_id));
  INFO(aborted.body);
  REQUIRE(aborted.status == 200);
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  for (const auto& p : peers) {
    CHECK(PollUntil([&] { return Transfers(*p, "a") == 0; },
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())));
  }
  for (const Replica& r : Replicas(*source, "a", 0)) {
    if (r.peer == target_id) CHECK(r.state == "Dead");
  }
  // The Dead replica takes no reads; a new transfer recovers it.
  std::this_thread::sleep_for(1s);
  CHECK(Transfers(*source, "a") == 0);  // automatic recovery is off
  REQUIRE(Operate(*source, "a", TransferBody("replicate_shard", source_id, target_id)).status ==
          200);
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "a"); }, 60s));
  writers.Stop();
  for (const auto& p : peers) {
    HttpResponse barrier = p->Request("PUT", "/collections/a/points?wait=true", Batch(1, 1));
    INFO("barrier through peer " << PeerId(*p) << ": " << barrier.body << barrier.error);
    REQUIRE(barrier.status == 200);
  }
  const std::set<uint64_t> acked = writers.acked();
  std::set<uint64_t> ids = Ids(*target, "a");
  size_t missing = 0;
  for (uint64_t id : acked) missing += ids.count(id) ? 0 : 1;
  CHECK(missing == 0);
  CHECK(CheckReplicasIdentical(Ptrs(peers), "a", 1, 2) == 2);

  // drop_replica: the receiver's replica goes; the last Active one stays.
  REQUIRE(Operate(*source, "a",
                  R"({"drop_replica":{"shard_id":0,"peer_id":)" + std::to_string(target_id) + "}}")
              .status == 200);
  CHECK(Replicas(*source, "a", 0).size() == 1);
  HttpResponse last =
      Operate(*source, "a",
              R"({"drop_replica":{"shard_id":0,"peer_id":)" + std::to_string(source_id) + "}}");
  CHECK(last.status == 400);
  CHECK(Count(*target, "a") == ids.size());
}

TEST_CASE(
    "a peer killed under writes and restarted gets its Dead replicas back by itself, within the "
    "transfer limits, with identical data",
    "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "r", 4, 2));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "r"); }, 10s));
  Preload(*peers[0], "r", 2000);
  ClusterPeer& victim = *peers[2];
  std::vector<ClusterPeer*> survivors{peers[0].get(), peers[1].get()};
  {
    Writers writers(survivors, "r");
    std::this_thread::sleep_for(500ms);
    victim.Kill(SIGKILL);
    REQUIRE(victim.WaitExit(10s));
    // Its replicas go Dead as writes miss them.
    REQUIRE(PollUntil(
        [&] {
          return peers[0]->Request("GET", "/collections/r/cluster").body.find("\"Dead\"") !=
                 std::string::npos;
        },
        20s));
    std::this_thread::sleep_for(500ms);
    writers.Stop();
    victim.Start();
    // Recovered by themselves; at no observation more transfers than the limits allow (1 into
    // the one receiver).
    size_t most = 0;
    REQUIRE(PollUntil(
        [&] {
          for (const auto& p : peers) {
            if (p->Running()) most = std::max(most, Transfers(*p, "r"));
          }
          return AllActive(Ptrs(peers), "r");
        },
        60s));
    CHECK(most <= 1);
    CHECK(victim.WaitReady(30s));
    for (const auto& p : peers) {
      REQUIRE(p->Request("PUT", "/collections/r/index?wait=true",
                         R"({"field_name":"n","field_schema":"integer"})")
                  .status == 200);
    }
    const std::set<uint64_t> acked = writers.acked();
    CHECK(acked.size() > 10);
    for (const auto& p : peers) {
      std::set<uint64_t> ids = Ids(*p, "r");
      size_t missing = 0;
      for (uint64_t id : acked) {
        if (!ids.count(id)) {
          ++missing;
          UNSCOPED_INFO("acknowledged id "
                        << id << " is missing; retrieving it gives "
                        << p->Request("GET", "/collections/r/points/" + std::to_string(id)).body);
        }
      }
      CHECK(missing == 0);
    }
  }
  CHECK(CheckReplicasIdentical(Ptrs(peers), "r", 4, 2) == 8);
}

TEST_CASE(
    "with both transfer limits at 0 nothing is recovered automatically but a manual "
    "replicate_shard works",
    "[cluster]") {
  auto peers =
      StartCluster(3, {{"QDRANT__STORAGE__PERFORMANCE__INCOMING_SHARD_TRANSFERS_LIMIT", "0"},
                       {"QDRANT__STORAGE__PERFORMANCE__OUTGOING_SHARD_TRANSFERS_LIMIT", "0"}});
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "z", 1, 3));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "z"); }, 10s));
  ClusterPeer& victim = *peers[1];
  const uint64_t victim_id = PeerId(victim);
  victim.Kill(SIGKILL);
  REQUIRE(victim.WaitExit(10s));
  REQUIRE(peers[0]->Request("PUT", "/collections/z/points?wait=true", Batch(1, 50)).status == 200);
  victim.Start();
  REQUIRE(PollUntil([&] { return victim.Request("GET", "/healthz").status == 200; }, 30s));
  auto victim_state = [&] {
    for (const Replica& r : Replicas(*peers[0], "z", 0)) {
      if (r.peer == victim_id) return r.state;
    }
    return std::string("none");
  };
  REQUIRE(PollUntil([&] { return victim_state() == "Dead"; }, 10s));
  std::this_thread::sleep_for(2s);
  CHECK(victim_state() == "Dead");
  CHECK(Transfers(*peers[0], "z") == 0);
  const uint64_t from = PeerId(*peers[0]);
  REQUIRE(Operate(*peers[2], "z", TransferBody("replicate_shard", from, victim_id)).status == 200);
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "z"); }, 30s));
  CHECK(Count(victim, "z") == 50);
  CHECK(CheckReplicasIdentical(Ptrs(peers), "z", 1, 3) == 3);
}

TEST_CASE(
    "replicas whose files vanished come back empty, are reported Dead and refilled by a transfer, "
    "never served as healthy",
    "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "v", 2, 3));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "v"); }, 10s));
  Preload(*peers[0], "v", 1500);
  ClusterPeer& lost = *peers[1];
  const uint64_t lost_id = PeerId(lost);
  std::filesystem::remove_all(lost.dir() + "/storage/collections/v");
  HttpResponse recovered = lost.Request("POST", "/cluster/recover");
  INFO(recovered.body);
  REQUIRE(recovered.status == 200);
  // Proposed Dead, refilled, Active again; meanwhile every read through it is complete (the
  // emptied replica answers none).
  bool dead_seen = false;
  REQUIRE(PollUntil(
      [&] {
        for (const Replica& r : Replicas(*peers[0], "v", 0)) {
          if (r.peer == lost_id && r.state != "Active") dead_seen = true;
        }
        CHECK(Count(lost, "v") == 1500);
        return dead_seen && AllActive(Ptrs(peers), "v");
      },
      30s));
  CHECK(Count(lost, "v") == 1500);
  CHECK(CheckReplicasIdentical(Ptrs(peers), "v", 2, 3) == 6);
}

TEST_CASE("gRPC UpdateCollectionClusterSetup replicates and drops replicas as REST does",
          "[cluster]") {
  auto peers = StartCluster(2);
  REQUIRE(WaitConverged(Ptrs(peers), 2) != 0);
  REQUIRE(CreateCollection(*peers[0], "g", 1, 1));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "g"); }, 10s));
  Preload(*peers[0], "g", 500);
  ClusterPeer* source = HolderOf(Ptrs(peers), "g", true);
  ClusterPeer* target = HolderOf(Ptrs(peers), "g", false);
  const uint64_t source_id = PeerId(*source), target_id = PeerId(*target);
  auto stub = qdrant::Collections::NewStub(::grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(target->grpc_port()), ::grpc::InsecureChannelCredentials()));
  auto call = [&](const qdrant::UpdateCollectionClusterSetupRequest& request) {
    ::grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    qdrant::UpdateCollectionClusterSetupResponse response;
    ::grpc::Status status = stub->UpdateCollectionClusterSetup(&context, request, &response);
    INFO(status.error_message());
    return std::make_pair(status, response.result());
  };
  qdrant::UpdateCollectionClusterSetupRequest self;
  self.set_collection_name("g");
  self.mutable_move_shard()->set_from_peer_id(source_id);
  self.mutable_move_shard()->set_to_peer_id(source_id);
  auto [self_status, self_result] = call(self);
  CHECK(self_status.error_code() == ::grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(self_status.error_message().find("cannot transfer shard to itself") != std::string::npos);

  // restart_transfer goes through too: here for a transfer that does not exist.
  qdrant::UpdateCollectionClusterSetupRequest restart;
  restart.set_collection_name("g");
  restart.mutable_restart_transfer()->set_from_peer_id(source_id);
  restart.mutable_restart_transfer()->set_to_peer_id(target_id);
  restart.mutable_restart_transfer()->set_method(qdrant::WalDelta);
  auto [restart_status, restart_result] = call(restart);
  CHECK(restart_status.error_code() == ::grpc::StatusCode::NOT_FOUND);
  CHECK(restart_status.error_message().find("does not exist") != std::string::npos);

  qdrant::UpdateCollectionClusterSetupRequest replicate;
  replicate.set_collection_name("g");
  replicate.mutable_replicate_shard()->set_from_peer_id(source_id);
  replicate.mutable_replicate_shard()->set_to_peer_id(target_id);
  replicate.mutable_replicate_shard()->set_method(qdrant::StreamRecords);
  auto [status, result] = call(replicate);
  REQUIRE(status.ok());
  CHECK(result);
  REQUIRE(PollUntil(
      [&] { return AllActive(Ptrs(peers), "g") && Replicas(*source, "g", 0).size() == 2; }, 30s));
  CHECK(Count(*target, "g") == 500);

  qdrant::UpdateCollectionClusterSetupRequest drop;
  drop.set_collection_name("g");
  drop.mutable_drop_replica()->set_peer_id(source_id);
  REQUIRE(call(drop).first.ok());
  CHECK(Replicas(*target, "g", 0).size() == 1);
  CHECK(Count(*source, "g") == 500);  // read from the remaining replica
}

TEST_CASE(
    "a restarted peer's Dead replica comes back by wal_delta: only the ops it missed are sent, "
    "nothing is reset",
    "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "d", 1, 3));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "d"); }, 10s));
  Preload(*peers[0], "d", 3000);
  ClusterPeer& victim = *peers[1];
  victim.Kill(SIGKILL);
  REQUIRE(victim.WaitExit(10s));
  // 40 writes it misses (the first one has it marked Dead), then it returns.
  for (uint64_t id = 5001; id <= 5040; ++id) {
    REQUIRE(
        peers[0]->Request("PUT", "/collections/d/points?wait=true", Batch(id, id, "late")).status ==
        200);
  }
  victim.Start();
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "d"); }, 60s));
  CHECK(Count(victim, "d") == 3040);
  CHECK(CheckReplicasIdentical(Ptrs(peers), "d", 1, 3) == 3);
  // The source sent the 40 ops; the victim's replica was never emptied for a full copy.
  std::string sources;
  for (const auto& p : peers) sources += p->Stderr();
  CHECK(sources.find("sending the 40 ops after op") != std::string::npos);
  CHECK(victim.Stderr().find("receives a transfer from op") == std::string::npos);
}

TEST_CASE(
    "a wal_delta replication to a peer holding nothing falls back to a snapshot and every peer "
    "lists that method",
    "[cluster]") {
  auto peers = StartCluster(3, {{kRateLimit, "0.05"}});
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "f", 1, 1));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "f"); }, 10s));
  Preload(*peers[0], "f", 2000);
  ClusterPeer* from = HolderOf(Ptrs(peers), "f", true);
  ClusterPeer* to = HolderOf(Ptrs(peers), "f", false);
  REQUIRE(from);
  REQUIRE(to);
  const std::string body = R"({"replicate_shard":{"shard_id":0,"from_peer_id":)" +
                           std::to_string(PeerId(*from)) + R"(,"to_peer_id":)" +
                           std::to_string(PeerId(*to)) + R"(,"method":"wal_delta"}})";
  HttpResponse r = Operate(*peers[2], "f", body);
  INFO(r.body);
  REQUIRE(r.status == 200);
  // While it runs (the rate limit stretches it), every peer lists snapshot, and the source's
  // comment says why.
  REQUIRE(PollUntil(
      [&] {
        for (const auto& p : peers) {
          rapidjson::Document d = Json(p->Request("GET", "/collections/f/cluster"));
          const auto& transfers = d["result"]["shard_transfers"];
          if (transfers.Size() != 1) return false;
          if (std::string(transfers[0]["method"].GetString()) != "snapshot") return false;
        }
        return true;
      },
      20s));
  rapidjson::Document d = Json(from->Request("GET", "/collections/f/cluster"));
  REQUIRE(d["result"]["shard_transfers"].Size() == 1);
  const rapidjson::Value& t = d["result"]["shard_transfers"][0];
  REQUIRE(t.HasMember("comment"));
  CHECK(std::string(t["comment"].GetString())
            .find("wal_delta fell back: the receiver's replica "
                  "holds no operations") != std::string::npos);
  REQUIRE(Operate(*from, "f", TransferBody("abort_transfer", PeerId(*from), PeerId(*to))).status ==
          200);
}

namespace {
// The <done> of the source's "Transferring records (<done>/<total>)" comment; nullopt when no
// transfer with that comment is listed.
std::optional<uint64_t> RecordsDone(const ClusterPeer& source, const std::string& name) {
  HttpResponse r = source.Request("GET", "/collections/" + name + "/cluster");
  const size_t at = r.body.find("Transferring records (");
  if (at == std::string::npos) return std::nullopt;
  return std::stoull(r.body.substr(at + std::string("Transferring records (").size()));
}
}  // namespace

TEST_CASE("restart_transfer starts a running transfer over with the method it names", "[cluster]") {
  auto peers = StartCluster(3, {{kRateLimit, "0.05"}});
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "s", 1, 1));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "s"); }, 10s));
  Preload(*peers[0], "s", 2000);
  ClusterPeer* from = HolderOf(Ptrs(peers), "s", true);
  ClusterPeer* to = HolderOf(Ptrs(peers), "s", false);
  REQUIRE(from);
  REQUIRE(to);
  const std::string ids = R"({"shard_id":0,"from_peer_id":)" + std::to_string(PeerId(*from)) +
                          R"(,"to_peer_id":)" + std::to_string(PeerId(*to));
  // Refused: no such transfer yet, and a restart without a method.
  HttpResponse none =
      Operate(*peers[1], "s", R"({"restart_transfer":)" + ids + R"(,"method":"stream_records"}})");
  CHECK(none.status == 404);
  CHECK(none.body.find("does not exist") != std::string::npos);
  HttpResponse no_method = Operate(*peers[1], "s", R"({"restart_transfer":)" + ids + "}}");
  CHECK(no_method.status == 400);
  CHECK(no_method.body.find("missing field `method`") != std::string::npos);

  REQUIRE(
      Operate(*peers[1], "s", R"({"replicate_shard":)" + ids + R"(,"method":"stream_records"}})")
          .status == 200);
  uint64_t before = 0;
  REQUIRE(PollUntil(
      [&] {
        before = RecordsDone(*from, "s").value_or(0);
        return before >= 256;
      },
      30s));
  HttpResponse restarted =
      Operate(*peers[2], "s", R"({"restart_transfer":)" + ids + R"(,"method":"stream_records"}})");
  INFO(restarted.body);
  REQUIRE(restarted.status == 200);
  // It starts over: the points sent count from 0 again.
  CHECK(PollUntil(
      [&] {
        std::optional<uint64_t> done = RecordsDone(*from, "s");
        return done && *done < before;
      },
      20s));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "s"); }, 60s));
  CHECK(Count(*to, "s") == 2000);
  CHECK(CheckReplicasIdentical(Ptrs(peers), "s", 1, 2) == 2);
}

TEST_CASE(
    "a snapshot replication under writes through every peer ships the source's files, graph "
    "checkpoint included, then the writes that arrived meanwhile, and replicas end identical",
    "[cluster]") {
  auto peers = StartCluster(3, {{kRateLimit, "0.1"}});
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(CreateCollection(*peers[0], "n", 1, 1));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "n"); }, 10s));
  Preload(*peers[1], "n", 6000);
  ClusterPeer* source = HolderOf(Ptrs(peers), "n", true);
  ClusterPeer* target = HolderOf(Ptrs(peers), "n", false);
  REQUIRE(source);
  REQUIRE(target);
  const uint64_t source_id = PeerId(*source), target_id = PeerId(*target);
  // A clean stop saves the source's index checkpoint, which the snapshot then carries.
  REQUIRE(source->Stop() == 0);
  source->Start();
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "n"); }, 30s));

  Writers writers(Ptrs(peers), "n");
  std::this_thread::sleep_for(300ms);
  HttpResponse started =
      Operate(*peers[0], "n",
              R"({"replicate_shard":{"shard_id":0,"from_peer_id":)" + std::to_string(source_id) +
                  R"(,"to_peer_id":)" + std::to_string(target_id) + R"(,"method":"snapshot"}})");
  INFO(started.body);
  REQUIRE(started.status == 200);
  for (const auto& p : peers) CHECK(PollUntil([&] { return Transfers(*p, "n") == 1; }, 5s));
  // Every peer lists the method; the source shows the bytes sent; the receiver serves no reads.
  bool progress_seen = false;
  std::string last;
  REQUIRE(PollUntil(
      [&] {
        HttpResponse r = source->Request("GET", "/collections/n/cluster");
        last = r.body;
        if (r.body.find("Transferring snapshot (") != std::string::npos) progress_seen = true;
        for (const auto& p : peers) {
          HttpResponse other = p->Request("GET", "/collections/n/cluster");
          if (Json(other)["result"]["shard_transfers"].Size() > 0) {
            CHECK(other.body.find("\"method\":\"snapshot\"") != std::string::npos);
          }
        }
        for (const Replica& rep : Replicas(*source, "n", 0)) {
          if (rep.peer == target_id) CHECK((rep.state == "Partial" || rep.state == "Active"));
        }
        return Json(r)["result"]["shard_transfers"].Size() == 0;
      },
      90s));
  INFO(last);
  CHECK(progress_seen);
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "n"); }, 10s));
  std::this_thread::sleep_for(300ms);  // writes after the transfer, too
  writers.Stop();
  for (const auto& p : peers) {
    REQUIRE(p->Request("PUT", "/collections/n/points?wait=true", Batch(1, 1)).status == 200);
  }
  // The receiver opened the files (graph included), never a record-by-record reset.
  INFO(target->Stderr());
  CHECK(target->Stderr().find("is a snapshot from peer " + std::to_string(source_id)) !=
        std::string::npos);
  CHECK(target->Stderr().find("graphs from its index checkpoint at op") != std::string::npos);
  CHECK(target->Stderr().find("receives a transfer from op") == std::string::npos);
  const std::set<uint64_t> acked = writers.acked();
  CHECK(acked.size() > 20);
  std::set<uint64_t> ids = Ids(*target, "n");
  size_t missing = 0;
  for (uint64_t id : acked) missing += ids.count(id) ? 0 : 1;
  CHECK(missing == 0);
  CHECK(ids.size() >= 6000 + acked.size());
  CHECK(CheckReplicasIdentical(Ptrs(peers), "n", 1, 2) == 2);
  // A search answers from the received graph as from the source's.
  const std::string query = R"({"vector":[0.3,0.7],"limit":5})";
  CHECK(Result(target->Request("POST", "/collections/n/points/search", query)) ==
        Result(source->Request("POST", "/collections/n/points/search", query)));
}
