// Cluster mode as operators and Qdrant's test suites drive it: several qdrantd processes on
// 127.0.0.1 with ephemeral ports (compat.md §6). Every wait polls with a deadline; every
// process is killed by its ClusterPeer's destructor.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "collections_service.grpc.pb.h"
#include "tests/cluster/cluster_harness.h"

using namespace qd::test;
using namespace std::chrono_literals;

namespace {

ClusterPeer* ById(const std::vector<std::unique_ptr<ClusterPeer>>& peers, uint64_t id) {
  for (const auto& p : peers) {
    auto info = p->Cluster();
    if (info && info->peer_id == id) return p.get();
  }
  return nullptr;
}

ClusterPeer* AFollower(const std::vector<std::unique_ptr<ClusterPeer>>& peers, uint64_t leader) {
  for (const auto& p : peers) {
    auto info = p->Cluster();
    if (info && info->peer_id != leader) return p.get();
  }
  return nullptr;
}

// Qdrant's public Collections service on `peer`'s gRPC port, as any Qdrant gRPC client calls it.
std::unique_ptr<qdrant::Collections::Stub> CollectionsStub(const ClusterPeer& peer) {
  return qdrant::Collections::NewStub(::grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(peer.grpc_port()), ::grpc::InsecureChannelCredentials()));
}

qdrant::CreateCollection GrpcCreate(const std::string& name, std::optional<uint64_t> timeout_s) {
  qdrant::CreateCollection request;
  request.set_collection_name(name);
  qdrant::VectorParams* params = request.mutable_vectors_config()->mutable_params();
  params->set_size(4);
  params->set_distance(qdrant::Dot);
  if (timeout_s) request.set_timeout(*timeout_s);
  return request;
}

// One unary call with a client deadline well past the server's consensus timeout.
template <typename Request, typename Response, typename Method>
::grpc::Status Call(qdrant::Collections::Stub& stub, Method method, const Request& request,
                    Response* response) {
  ::grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  return (stub.*method)(&context, request, response);
}

bool PutMetadata(const ClusterPeer& peer, const std::string& key, const std::string& value,
                 const std::string& query = "?wait=true") {
  return peer.Request("PUT", "/cluster/metadata/keys/" + key + query, value).status == 200;
}

}  // namespace

TEST_CASE("a single --uri peer founds a one-member cluster and leads it", "[cluster]") {
  ClusterPeer peer;
  peer.Start();
  REQUIRE(peer.WaitReady());
  auto info = peer.Cluster();
  REQUIRE(info);
  CHECK(info->peers.size() == 1);
  CHECK(info->leader == info->peer_id);
  CHECK(info->role == "Leader");
  CHECK(info->thread_status == "working");
  CHECK(info->peers.at(info->peer_id) == peer.uri());
  // Metadata keys: a missing key is null with 200; set, list, delete.
  CHECK(Metadata(peer, "missing") == "null");
  REQUIRE(PutMetadata(peer, "owner", R"({"team":"search","n":[1,2]})"));
  CHECK(Metadata(peer, "owner") == R"({"team":"search","n":[1,2]})");
  CHECK(peer.Request("GET", "/cluster/metadata/keys").body.find(R"("result":["owner"])") != std::string::npos);
  CHECK(peer.Request("DELETE", "/cluster/metadata/keys/owner?wait=true").status == 200);
  CHECK(Metadata(peer, "owner") == "null");
}

TEST_CASE("three peers bootstrap, agree on the leader and replicate metadata", "[cluster]") {
  auto peers = StartCluster(3);
  uint64_t leader = WaitConverged(Ptrs(peers), 3);
  REQUIRE(leader != 0);
  // A change through a follower is visible everywhere.
  ClusterPeer* follower = peers[0]->Cluster()->peer_id == leader ? peers[1].get() : peers[0].get();
  REQUIRE(PutMetadata(*follower, "k", "42"));
  for (auto& p : peers) CHECK(PollUntil([&] { return Metadata(*p, "k") == "42"; }, 10s));
  // qdctl sees the same cluster through the admin gRPC service.
  TempDir home;
  RunResult r = RunQdctl({"--url", "http://127.0.0.1:" + std::to_string(peers[2]->grpc_port()), "cluster", "status"},
                         home.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("LEADER") != std::string::npos);
  CHECK(r.out.find(std::to_string(leader)) != std::string::npos);
  for (auto& p : peers) CHECK(r.out.find(p->uri()) != std::string::npos);
  r = RunQdctl({"--url", "http://127.0.0.1:" + std::to_string(peers[1]->grpc_port()), "--output", "json", "cluster",
                "status"},
               home.path());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("\"voter\":true") != std::string::npos);
  CHECK(r.out.find("\"leader\":true") != std::string::npos);

  // Each peer answers for itself: its term, its applied index and no lag once idle.
  auto status_json = [&](const ClusterPeer& via) {
    RunResult j = RunQdctl({"--url", "http://127.0.0.1:" + std::to_string(via.grpc_port()),
                            "--output", "json", "cluster", "status"},
                           home.path());
    auto d = std::make_shared<rapidjson::Document>();
    d->Parse(j.out.c_str());
    return d;
  };
  const uint64_t paused_id = peers[0]->Cluster()->peer_id;
  CHECK(PollUntil(
      [&] {
        auto d = status_json(*peers[1]);
        if (d->HasParseError() || !d->IsArray() || d->Size() != 3) return false;
        for (const auto& row : d->GetArray()) {
          if (!row["term"].IsUint64() || !row["applied"].IsUint64() || !row["lag"].IsUint64())
            return false;
          if (row["applied"].GetUint64() == 0 || row["lag"].GetUint64() != 0) return false;
          if (std::string(row["type"].GetString()) != "Normal") return false;
          if (!row["role"].IsString()) return false;
        }
        return true;
      },
      10s));
  // A paused peer does not answer: not reachable, no figures of its own.
  peers[0]->Kill(SIGSTOP);
  auto d = status_json(*peers[1]);
  peers[0]->Kill(SIGCONT);
  REQUIRE((!d->HasParseError() && d->IsArray()));
  bool seen = false;
  for (const auto& row : d->GetArray()) {
    if (row["id"].GetUint64() != paused_id) continue;
    seen = true;
    CHECK(row["reachable"].IsFalse());
    CHECK(row["term"].IsNull());
    CHECK(row["lag"].IsNull());
  }
  CHECK(seen);
}

TEST_CASE("five peers joined back to back are all voters with one leader", "[cluster]") {
  std::vector<std::unique_ptr<ClusterPeer>> peers;
  for (int i = 0; i < 5; ++i) {
    peers.push_back(std::make_unique<ClusterPeer>());
    // Each joiner starts as soon as the previous process answers HTTP, not once it is ready,
    // and joins through the previous peer (not the leader).
    if (i == 0) {
      peers[0]->Start();
    } else {
      peers[i]->Start(peers[i - 1]->uri());
    }
    REQUIRE(PollUntil([&] { return peers[i]->Request("GET", "/healthz").status == 200; }, 10s));
  }
  REQUIRE(WaitConverged(Ptrs(peers), 5) != 0);
  for (auto& p : peers) CHECK(p->WaitReady());
}

TEST_CASE("after the leader is killed the survivors elect one leader and keep acknowledged changes",
          "[cluster]") {
  auto peers = StartCluster(3);
  uint64_t leader = WaitConverged(Ptrs(peers), 3);
  REQUIRE(leader != 0);
  REQUIRE(PutMetadata(*peers[0], "before", "1"));
  ClusterPeer* old = ById(peers, leader);
  REQUIRE(old != nullptr);
  old->Kill(SIGKILL);
  REQUIRE(old->WaitExit(5s).has_value());
  std::vector<ClusterPeer*> survivors;
  for (auto& p : peers) {
    if (p.get() != old) survivors.push_back(p.get());
  }
  // A new leader, reported the same by both survivors over several polls.
  uint64_t next = 0;
  REQUIRE(PollUntil(
      [&] {
        for (int i = 0; i < 3; ++i) {
          std::optional<uint64_t> seen;
          for (ClusterPeer* p : survivors) {
            auto info = p->Cluster();
            if (!info || !info->leader || *info->leader == leader) return false;
            if (seen && *seen != *info->leader) return false;
            seen = info->leader;
          }
          next = *seen;
        }
        return true;
      },
      15s));
  CHECK(next != leader);
  REQUIRE(PutMetadata(*survivors[0], "after", "2"));
  for (ClusterPeer* p : survivors) {
    CHECK(Metadata(*p, "before") == "1");
    CHECK(PollUntil([&] { return Metadata(*p, "after") == "2"; }, 10s));
  }
}

TEST_CASE("a restarted peer keeps its id, ignores --bootstrap and catches up", "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  uint64_t id = peers[2]->Cluster()->peer_id;
  REQUIRE(peers[2]->Stop() == 0);
  REQUIRE(PutMetadata(*peers[0], "missed", R"("yes")"));
  // --bootstrap given on restart (even pointing at itself) is ignored.
  peers[2]->Start(peers[2]->uri());
  REQUIRE(peers[2]->WaitReady());
  CHECK(peers[2]->Cluster()->peer_id == id);
  CHECK(PollUntil([&] { return Metadata(*peers[2], "missed") == R"("yes")"; }, 10s));
  CHECK(WaitConverged(Ptrs(peers), 3) != 0);
}

TEST_CASE("with compaction after every entry a peer that was down catches up by snapshot",
          "[cluster]") {
  auto peers = StartCluster(3, {{"QDRANT__CLUSTER__CONSENSUS__COMPACT_WAL_ENTRIES", "1"}});
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  peers[2]->Kill(SIGKILL);
  REQUIRE(peers[2]->WaitExit(5s).has_value());
  for (int i = 0; i < 8; ++i) REQUIRE(PutMetadata(*peers[0], "k" + std::to_string(i), std::to_string(i)));
  REQUIRE(peers[0]->Request("DELETE", "/cluster/metadata/keys/k0?wait=true").status == 200);
  peers[2]->Start();
  REQUIRE(peers[2]->WaitReady());
  CHECK(PollUntil([&] { return Metadata(*peers[2], "k7") == "7"; }, 15s));
  CHECK(Metadata(*peers[2], "k0") == "null");
  // Commit converges on all peers.
  CHECK(PollUntil(
      [&] {
        auto a = peers[0]->Cluster(), b = peers[1]->Cluster(), c = peers[2]->Cluster();
        return a && b && c && a->commit == b->commit && b->commit == c->commit && c->thread_status == "working";
      },
      15s));
  // A brand-new peer joins from a snapshot too.
  ClusterPeer late(std::map<std::string, std::string>{{"QDRANT__CLUSTER__CONSENSUS__COMPACT_WAL_ENTRIES", "1"}});
  late.Start(peers[1]->uri());
  REQUIRE(late.WaitReady());
  CHECK(PollUntil([&] { return Metadata(late, "k5") == "5"; }, 15s));
}

TEST_CASE("a removed peer leaves every member list and reports its consensus stopped", "[cluster]") {
  auto peers = StartCluster(3);
  uint64_t leader = WaitConverged(Ptrs(peers), 3);
  REQUIRE(leader != 0);
  ClusterPeer* victim = nullptr;
  for (auto& p : peers) {
    if (p->Cluster()->peer_id != leader) victim = p.get();
  }
  uint64_t victim_id = victim->Cluster()->peer_id;
  // Through qdctl on another peer.
  ClusterPeer* other = victim == peers[0].get() ? peers[1].get() : peers[0].get();
  TempDir home;
  RunResult r = RunQdctl({"--url", "http://127.0.0.1:" + std::to_string(other->grpc_port()), "peer", "remove",
                          std::to_string(victim_id)},
                         home.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<ClusterPeer*> rest;
  for (auto& p : peers) {
    if (p.get() != victim) rest.push_back(p.get());
  }
  CHECK(WaitConverged(rest, 2) != 0);
  CHECK(PollUntil([&] { auto i = victim->Cluster(); return i && i->thread_status == "stopped"; }, 30s));
  CHECK(other->Request("DELETE", "/cluster/peer/" + std::to_string(victim_id)).status == 404);
  // The remaining two still commit.
  CHECK(PutMetadata(*rest[0], "after_removal", "true"));
}

TEST_CASE("a peer restarted with a new --uri announces it and stays the same peer", "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  uint64_t id = peers[1]->Cluster()->peer_id;
  REQUIRE(peers[1]->Stop() == 0);
  peers[1]->NewPorts();
  peers[1]->Start();
  REQUIRE(peers[1]->WaitReady());
  CHECK(peers[1]->Cluster()->peer_id == id);
  for (auto& p : peers) {
    CHECK(PollUntil([&] { auto i = p->Cluster(); return i && i->peers.size() == 3 && i->peers[id] == peers[1]->uri(); }, 15s));
  }
  CHECK(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(PutMetadata(*peers[1], "via_new_uri", "1"));
}

TEST_CASE("reinit keeps the data and peer ids but founds a new membership", "[cluster]") {
  auto peers = StartCluster(2);
  REQUIRE(WaitConverged(Ptrs(peers), 2) != 0);
  REQUIRE(PutMetadata(*peers[0], "kept", R"("across reinit")"));
  uint64_t first_id = peers[0]->Cluster()->peer_id, second_id = peers[1]->Cluster()->peer_id;
  for (auto& p : peers) REQUIRE(p->Stop() == 0);
  for (auto& p : peers) p->NewPorts();
  peers[0]->Start(std::nullopt, {"--reinit"});
  REQUIRE(peers[0]->WaitReady());
  auto info = peers[0]->Cluster();
  REQUIRE(info);
  CHECK(info->peers.size() == 1);
  CHECK(info->peer_id == first_id);
  CHECK(PollUntil([&] { return Metadata(*peers[0], "kept") == R"("across reinit")"; }, 10s));
  peers[1]->Start(peers[0]->uri(), {"--reinit"});
  REQUIRE(peers[1]->WaitReady());
  CHECK(peers[1]->Cluster()->peer_id == second_id);
  CHECK(WaitConverged(Ptrs(peers), 2) != 0);
  // New peers can join afterwards.
  ClusterPeer late;
  late.Start(peers[1]->uri());
  REQUIRE(late.WaitReady());
  CHECK(Metadata(late, "kept") == R"("across reinit")");
}

TEST_CASE("a newcomer announcing the URI of a peer without replicas replaces it", "[cluster]") {
  auto peers = StartCluster(3);  // two stay up: a quorum to commit the replacement
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  uint64_t old_id = peers[1]->Cluster()->peer_id;
  // A fresh node (empty storage) on the old one's P2P URI; the old process is stopped first so
  // the port is free, as when a pod comes back with an empty volume.
  ClusterPeer* old = peers[1].get();
  REQUIRE(old->Stop() == 0);
  ClusterPeer fresh;
  // Reuse the old URI: same p2p port.
  std::string uri = old->uri();
  fresh.NewPorts();
  // ClusterPeer has no setter for ports; start a Process by hand with the old URI.
  ProcessOptions p;
  p.args = {QdrantdBinary(), "--uri", uri, "--bootstrap", peers[0]->uri()};
  p.working_dir = fresh.dir();
  p.unset_env = {"RUN_MODE", "QDRANT_URI", "QDRANT_BOOTSTRAP"};
  uint16_t http = FreePort();
  p.env = {{"QDRANT__CLUSTER__ENABLED", "true"},
           {"QDRANT__SERVICE__HOST", "127.0.0.1"},
           {"QDRANT__SERVICE__HTTP_PORT", std::to_string(http)},
           {"QDRANT__SERVICE__GRPC_PORT", std::to_string(FreePort())},
           {"QDRANT__CLUSTER__P2P__PORT", uri.substr(uri.rfind(':') + 1)}};
  Process proc(std::move(p));
  REQUIRE(PollUntil([&] { return HttpGet(http, "/readyz").status == 200; }, 30s));
  CHECK(PollUntil(
      [&] {
        auto info = peers[0]->Cluster();
        return info && info->peers.size() == 3 && !info->peers.count(old_id) && info->peers.count(info->peer_id);
      },
      15s));
}

TEST_CASE("an unreachable bootstrap peer fails the start with a clear message", "[cluster]") {
  ClusterPeer peer(std::map<std::string, std::string>{{"QDRANT__CLUSTER__CONSENSUS__BOOTSTRAP_TIMEOUT_SEC", "2"}});
  peer.Start("http://127.0.0.1:" + std::to_string(FreePort()));
  auto code = peer.WaitExit(20s);
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(peer.Stderr().find("cannot join the cluster through") != std::string::npos);
}

TEST_CASE("a minority cannot change metadata: a timeout error, then recovery after SIGCONT",
          "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  peers[1]->Kill(SIGSTOP);
  peers[2]->Kill(SIGSTOP);
  auto started = std::chrono::steady_clock::now();
  HttpResponse r = peers[0]->Request("PUT", "/cluster/metadata/keys/minority?wait=true&timeout=2", "1", 10s);
  auto took = std::chrono::steady_clock::now() - started;
  INFO(r.body);
  CHECK(r.status != 200);
  CHECK(r.status != 0);  // answered, not hung
  CHECK(r.body.find("Timed out") != std::string::npos);
  CHECK(took < 6s);
  peers[1]->Kill(SIGCONT);
  peers[2]->Kill(SIGCONT);
  CHECK(PollUntil([&] { return PutMetadata(*peers[0], "majority", "2", "?wait=true&timeout=2"); }, 30s));
  CHECK(WaitConverged(Ptrs(peers), 3) != 0);
}

// A URI conflict is refused only when the registered peer holds replicas (compat.md §6.8).
TEST_CASE("a newcomer announcing the URI of a peer that holds replicas exits 101", "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  REQUIRE(peers[0]->Request("PUT", "/collections/c",
                            R"({"vectors":{"size":4,"distance":"Dot"},"shard_number":3,"replication_factor":1})")
              .status == 200);
  std::string uri = peers[2]->uri();
  uint64_t old_id = peers[2]->Cluster()->peer_id;
  REQUIRE(peers[2]->Stop() == 0);
  for (int attempt = 0; attempt < 2; ++attempt) {  // refused at every attempt
    TempDir dir;
    ProcessOptions p;
    p.args = {QdrantdBinary(), "--uri", uri, "--bootstrap", peers[0]->uri()};
    p.working_dir = dir.path();
    p.unset_env = {"RUN_MODE", "QDRANT_URI", "QDRANT_BOOTSTRAP"};
    p.env = {{"QDRANT__CLUSTER__ENABLED", "true"},
             {"QDRANT__SERVICE__HOST", "127.0.0.1"},
             {"QDRANT__SERVICE__HTTP_PORT", std::to_string(FreePort())},
             {"QDRANT__SERVICE__GRPC_PORT", std::to_string(FreePort())},
             {"QDRANT__CLUSTER__P2P__PORT", uri.substr(uri.rfind(':') + 1)}};
    Process proc(std::move(p));
    auto code = proc.Wait(20s);
    REQUIRE(code.has_value());
    CHECK(*code == 101);
  }
  auto info = peers[0]->Cluster();
  REQUIRE(info);
  CHECK(info->peers.count(old_id) == 1);
  CHECK(info->peers[old_id] == uri);
}

TEST_CASE("collections and aliases changed through any node reach every node through consensus",
          "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  // Created through a follower or the leader alike; usable right after the call returns.
  HttpResponse created = peers[1]->Request("PUT", "/collections/books?timeout=5",
                                           R"({"vectors":{"size":2,"distance":"Dot"},"replication_factor":2})");
  INFO(created.body);
  REQUIRE(created.status == 200);
  // Create waited until every replica was Active: points go in at once (data_plane_test.cc has
  // the details).
  CHECK(peers[1]
            ->Request("PUT", "/collections/books/points?wait=true",
                      R"({"points":[{"id":1,"vector":[1,0]}]})")
            .status == 200);
  for (auto& p : peers) {
    CHECK(PollUntil([&] { return p->Request("GET", "/collections/books").status == 200; }, 10s));
    // shard_number defaulted to the number of peers.
    CHECK(p->Request("GET", "/collections/books").body.find("\"shard_number\":3") != std::string::npos);
  }
  // Placement: 3 shards x 2 replicas over 3 peers; each node sees its own and the others', all
  // Active once every node applied the peers' Active proposals.
  size_t local = 0, remote = 0;
  CHECK(PollUntil(
      [&] {
        local = remote = 0;
        for (auto& p : peers) {
          std::string info = p->Request("GET", "/collections/books/cluster").body;
          for (size_t at = info.find("\"state\":\"Active\""); at != std::string::npos;
               at = info.find("\"state\":\"Active\"", at + 1)) {
            (info.rfind("remote_shards", at) != std::string::npos ? remote : local)++;
          }
        }
        return local == 6 && remote == 12;
      },
      10s));
  CHECK(local == 6);       // every replica is local to exactly one peer
  CHECK(remote == 12);     // and remote to the two others
  HttpResponse again = peers[2]->Request("PUT", "/collections/books", R"({"vectors":{"size":2,"distance":"Dot"}})");
  CHECK(again.status == 409);
  REQUIRE(peers[2]->Request("POST", "/collections/aliases",
                            R"({"actions":[{"create_alias":{"alias_name":"novels","collection_name":"books"}}]})").status == 200);
  for (auto& p : peers) {
    CHECK(PollUntil([&] { return p->Request("GET", "/aliases").body.find("novels") != std::string::npos; }, 10s));
  }
  // The actions of one request apply all or none, as in Qdrant: one bad action, nothing changes.
  HttpResponse refused = peers[1]->Request("POST", "/collections/aliases?timeout=5",
      R"({"actions":[{"rename_alias":{"old_alias_name":"novels","new_alias_name":"fiction"}},)"
      R"({"create_alias":{"alias_name":"poems","collection_name":"books"}},)"
      R"({"delete_alias":{"alias_name":"missing"}}]})");
  CHECK(refused.status == 404);
  CHECK(refused.body.find("Alias `missing` doesn't exist!") != std::string::npos);
  HttpResponse renamed = peers[1]->Request("POST", "/collections/aliases?timeout=5",
      R"({"actions":[{"rename_alias":{"old_alias_name":"novels","new_alias_name":"fiction"}},)"
      R"({"create_alias":{"alias_name":"poems","collection_name":"books"}}]})");
  CHECK(renamed.status == 200);
  for (auto& p : peers) {
    CHECK(PollUntil([&] {
      std::string aliases = p->Request("GET", "/aliases").body;
      return aliases.find("fiction") != std::string::npos && aliases.find("poems") != std::string::npos &&
             aliases.find("novels") == std::string::npos;
    }, 10s));
  }
  REQUIRE(peers[0]->Request("PATCH", "/collections/books", R"({"optimizers_config":{"indexing_threshold":123}})").status == 200);
  for (auto& p : peers) {
    CHECK(PollUntil([&] { return p->Request("GET", "/collections/books").body.find("\"indexing_threshold\":123") != std::string::npos; }, 10s));
  }
  HttpResponse deleted = peers[2]->Request("DELETE", "/collections/books");
  REQUIRE(deleted.status == 200);
  CHECK(deleted.body.find("\"result\":true") != std::string::npos);
  for (auto& p : peers) {
    CHECK(PollUntil([&] { return p->Request("GET", "/collections/books").status == 404; }, 10s));
  }
  CHECK(peers[0]->Request("DELETE", "/collections/books").body.find("\"result\":false") != std::string::npos);
}

// Issue #4 item 2 / issue #5 item 3: the gRPC Collections service changes collections through
// consensus exactly as REST does: any node, forwarded to the leader, answered once applied here.
TEST_CASE("a create is answered once every peer has the collection, replicas or not", "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  // One shard, one replica: two of the three peers hold nothing of it, and nothing they propose
  // tells the creator they applied it. Still, right after the answer, each of them knows it.
  // A follower paused for the first 300 ms of each create lags behind the others, which commit
  // without it: the create waits for it.
  const uint64_t leader = WaitConverged(Ptrs(peers), 3);
  std::vector<ClusterPeer*> followers;
  for (auto& p : peers) {
    if (p->Cluster()->peer_id != leader) followers.push_back(p.get());
  }
  REQUIRE(followers.size() == 2);
  for (int i = 0; i < 6; ++i) {
    const std::string name = "c" + std::to_string(i);
    ClusterPeer& slow = *followers[static_cast<size_t>(i) % 2];
    ClusterPeer& via = *followers[static_cast<size_t>(i + 1) % 2];
    slow.Kill(SIGSTOP);
    std::atomic<bool> resumed{false};
    std::thread resume([&slow, &resumed] {
      std::this_thread::sleep_for(300ms);
      resumed = true;
      slow.Kill(SIGCONT);
    });
    HttpResponse created =
        via.Request("PUT", "/collections/" + name,
                    R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":1})");
    // The paused peer cannot have applied the create before it was resumed.
    const bool answered_after_resume = resumed;
    resume.join();
    INFO(created.body);
    REQUIRE(created.status == 200);
    CHECK(answered_after_resume);
    for (auto& p : peers) {
      HttpResponse got = p->Request("GET", "/collections/" + name);
      INFO(name << " on a peer right after the create: " << got.body);
      CHECK(got.status == 200);
      CHECK(p->Request("POST", "/collections/" + name + "/points/count", "{}").status == 200);
    }
  }
}

TEST_CASE("collections and aliases changed over gRPC through a follower reach every node",
          "[cluster]") {
  auto peers = StartCluster(3);
  uint64_t leader = WaitConverged(Ptrs(peers), 3);
  REQUIRE(leader != 0);
  ClusterPeer* follower = AFollower(peers, leader);
  REQUIRE(follower != nullptr);
  const std::string url = "http://127.0.0.1:" + std::to_string(follower->grpc_port());
  TempDir home;
  RunResult r = RunQdctl({"--url", url, "collection", "create", "books", "--size", "4",
                          "--distance", "Dot", "--replication-factor", "2"},
                         home.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // Answered once applied on the follower: it serves the collection right away.
  CHECK(follower->Request("GET", "/collections/books").status == 200);
  for (auto& p : peers) {
    CHECK(PollUntil([&] { return p->Request("GET", "/collections/books").status == 200; }, 10s));
  }

  auto stub = CollectionsStub(*follower);
  qdrant::ChangeAliases aliases;
  qdrant::CreateAlias* create_alias = aliases.add_actions()->mutable_create_alias();
  create_alias->set_alias_name("novels");
  create_alias->set_collection_name("books");
  aliases.set_timeout(10);
  qdrant::CollectionOperationResponse response;
  ::grpc::Status s = Call(*stub, &qdrant::Collections::Stub::UpdateAliases, aliases, &response);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(response.result());
  for (auto& p : peers) {
    CHECK(PollUntil(
        [&] { return p->Request("GET", "/aliases").body.find("\"novels\"") != std::string::npos; },
        10s));
  }

  // CollectionClusterInfo answers from the placement: this peer, 3 shards (one per peer by
  // default) of 2 replicas each, the remote ones on the other peers.
  {
    std::optional<ClusterInfo> info = follower->Cluster();
    REQUIRE(info);
    qdrant::CollectionClusterInfoRequest request;
    request.set_collection_name("books");
    qdrant::CollectionClusterInfoResponse cluster_info;
    ::grpc::Status st =
        Call(*stub, &qdrant::Collections::Stub::CollectionClusterInfo, request, &cluster_info);
    REQUIRE(st.ok());
    CHECK(cluster_info.peer_id() == info->peer_id);
    CHECK(cluster_info.shard_count() == 3);
    CHECK(cluster_info.local_shards_size() + cluster_info.remote_shards_size() == 6);
    CHECK(cluster_info.local_shards_size() >= 1);
    for (const auto& remote : cluster_info.remote_shards()) {
      CHECK(remote.peer_id() != info->peer_id);
      CHECK(info->peers.count(remote.peer_id()) == 1);
    }
  }

  // The FSM's verdict with standalone mode's code and words, the same over both APIs.
  s = Call(*stub, &qdrant::Collections::Stub::Create, GrpcCreate("books", 5), &response);
  CHECK(s.error_code() == ::grpc::StatusCode::ALREADY_EXISTS);
  CHECK(s.error_message() == "Wrong input: Collection `books` already exists!");
  HttpResponse rest =
      peers[0]->Request("PUT", "/collections/books", R"({"vectors":{"size":4,"distance":"Dot"}})");
  CHECK(rest.status == 409);
  CHECK(rest.body.find(s.error_message()) != std::string::npos);
  // Validation before consensus: INVALID_ARGUMENT, as REST's 422 says it.
  s = Call(*stub, &qdrant::Collections::Stub::Create, GrpcCreate("bad/name", 5), &response);
  CHECK(s.error_code() == ::grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("Validation error in path parameters: [collection_name:") == 0);
  s = Call(*stub, &qdrant::Collections::Stub::Create, GrpcCreate("other", 0), &response);
  CHECK(s.error_code() == ::grpc::StatusCode::INVALID_ARGUMENT);

  r = RunQdctl({"--url", url, "collection", "delete", "books"}, home.path());
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (auto& p : peers) {
    CHECK(PollUntil([&] { return p->Request("GET", "/collections/books").status == 404; }, 10s));
    CHECK(PollUntil(
        [&] { return p->Request("GET", "/aliases").body.find("novels") == std::string::npos; },
        10s));
  }
  // Deleting what does not exist: OK with result=false, as Qdrant (and our REST) answer.
  qdrant::DeleteCollection drop;
  drop.set_collection_name("books");
  s = Call(*stub, &qdrant::Collections::Stub::Delete, drop, &response);
  CHECK(s.ok());
  CHECK_FALSE(response.result());
}

TEST_CASE("a gRPC collection change without a quorum times out with DEADLINE_EXCEEDED",
          "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  peers[1]->Kill(SIGSTOP);
  peers[2]->Kill(SIGSTOP);
  auto stub = CollectionsStub(*peers[0]);
  qdrant::CollectionOperationResponse response;
  auto started = std::chrono::steady_clock::now();
  ::grpc::Status s =
      Call(*stub, &qdrant::Collections::Stub::Create, GrpcCreate("late", 2), &response);
  auto took = std::chrono::steady_clock::now() - started;
  INFO(s.error_message());
  CHECK(s.error_code() == ::grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(s.error_message().find("Timed out waiting for consensus") == 0);
  CHECK(took < 6s);  // the request's timeout (2 s), not the client's deadline (30 s)
  peers[1]->Kill(SIGCONT);
  peers[2]->Kill(SIGCONT);
  // The outcome was unknown: the first attempt may still have committed.
  CHECK(PollUntil(
      [&] {
        ::grpc::Status again =
            Call(*stub, &qdrant::Collections::Stub::Create, GrpcCreate("late", 2), &response);
        return again.ok() || again.error_code() == ::grpc::StatusCode::ALREADY_EXISTS;
      },
      30s));
  for (auto& p : peers) {
    CHECK(PollUntil([&] { return p->Request("GET", "/collections/late").status == 200; }, 10s));
  }
}

namespace {

// "status code|error text" of a REST answer ("200|result" for success), the time left out.
std::string Outcome(const HttpResponse& r) {
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  std::string what = "?";
  if (!d.HasParseError() && d.IsObject()) {
    if (d.HasMember("status") && d["status"].IsObject() && d["status"].HasMember("error") &&
        d["status"]["error"].IsString()) {
      what = d["status"]["error"].GetString();
    } else if (d.HasMember("result")) {
      what = d["result"].IsBool() ? (d["result"].GetBool() ? "true" : "false") : "result";
    }
  }
  return std::to_string(r.status) + "|" + what;
}

}  // namespace

// Issue #5 item 3: the same mistake gets the same status and the same words (compat.md §2,
// §4.1) from a cluster as from a standalone node.
TEST_CASE("cluster mode refuses collection and alias mistakes as standalone mode does",
          "[cluster]") {
  ClusterPeer peer;
  peer.Start();
  REQUIRE(peer.WaitReady());
  Node standalone;
  REQUIRE(standalone.WaitReady());
  auto standalone_request = [&](const std::string& method, const std::string& path,
                                const std::string& body) {
    return HttpRequest(standalone.http_port(), method, path, body,
                       {{"Content-Type", "application/json"}}, 10s);
  };
  const std::string create = R"({"vectors":{"size":2,"distance":"Dot"}})";
  const std::string alias =
      R"({"actions":[{"create_alias":{"alias_name":"novels","collection_name":"books"}}]})";
  REQUIRE(peer.Request("PUT", "/collections/books", create).status == 200);
  REQUIRE(peer.Request("POST", "/collections/aliases", alias).status == 200);
  REQUIRE(standalone_request("PUT", "/collections/books", create).status == 200);
  REQUIRE(standalone_request("POST", "/collections/aliases", alias).status == 200);
  struct Mistake {
    const char* method;
    std::string path, body, expected;
  };
  const std::vector<Mistake> mistakes = {
      {"PUT", "/collections/books", create, "409|Wrong input: Collection `books` already exists!"},
      {"PUT", "/collections/novels", create,
       "400|Wrong input: Alias with name `novels` already exists"},
      {"POST", "/collections/aliases",
       R"({"actions":[{"create_alias":{"alias_name":"books","collection_name":"books"}}]})",
       "409|Wrong input: Collection with name `books` already exists"},
      {"POST", "/collections/aliases",
       R"({"actions":[{"create_alias":{"alias_name":"x","collection_name":"missing"}}]})",
       "404|Collection `missing` doesn't exist!"},
      {"POST", "/collections/aliases", R"({"actions":[{"delete_alias":{"alias_name":"gone"}}]})",
       "404|Alias `gone` doesn't exist!"},
      {"PATCH", "/collections/missing", R"({"optimizers_config":{"indexing_threshold":1}})",
       "404|Collection `missing` doesn't exist!"},
      {"PUT", "/collections/fresh?timeout=abc", create,
       "400|Query deserialize error: timeout: invalid digit found in string `abc`"},
      {"PUT", "/collections/fresh?timeout=0", create,
       "422|Validation error in query parameters: [timeout: value 0 invalid, must be 1 or more]"},
      {"PUT", "/collections/fresh", R"({"vectors":{"size":0,"distance":"Dot"}})", ""},
      {"PUT", "/collections/fresh", R"({"vectors":5})", ""},
      {"DELETE", "/collections/missing", "", "200|false"},
  };
  for (const Mistake& m : mistakes) {
    std::string in_cluster = Outcome(peer.Request(m.method, m.path, m.body));
    std::string alone = Outcome(standalone_request(m.method, m.path, m.body));
    INFO(m.method << " " << m.path << " " << m.body);
    CHECK(in_cluster == alone);
    if (!m.expected.empty()) CHECK(in_cluster == m.expected);
  }
  CHECK(peer.Request("GET", "/collections/fresh").status == 404);

  // /cluster/...: its parameters are refused in the words the collection routes use.
  uint64_t self = peer.Cluster()->peer_id;
  CHECK(Outcome(peer.Request("DELETE", "/cluster/peer/" + std::to_string(self) + "?timeout=abc")) ==
        "400|Query deserialize error: timeout: invalid digit found in string `abc`");
  CHECK(Outcome(peer.Request("DELETE", "/cluster/peer/" + std::to_string(self) + "?timeout=0")) ==
        "422|Validation error in query parameters: [timeout: value 0 invalid, must be 1 or more]");
  CHECK(Outcome(peer.Request("DELETE", "/cluster/peer/abc")) ==
        "400|Path deserialize error: can not parse \"abc\" to a u64");
  CHECK(Outcome(peer.Request("DELETE", "/cluster/peer/12345")) == "404|Peer 12345 does not exist");
  CHECK(Outcome(peer.Request("DELETE", "/cluster/peer/" + std::to_string(self))) ==
        "400|Bad request: Cannot remove peer " + std::to_string(self) +
            " as there are shards on it; move them first or use force=true");
  CHECK(Outcome(peer.Request("PUT", "/cluster/metadata/keys/k?wait=maybe", "1")) ==
        "400|Query deserialize error: wait: invalid value `maybe`, expected a boolean");
  CHECK(Outcome(peer.Request("PUT", "/cluster/metadata/keys/k?timeout=0", "1")).rfind("422|", 0) ==
        0);
}
