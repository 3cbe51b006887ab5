// Local replicas follow the placement consensus decided (issue #5 item 3), and point operations
// that need another peer's shard are forwarded to it (issue #16). Also /readyz in cluster mode
// (compat.md §3) and POST /cluster/recover (§6.6). Several qdrantd processes on 127.0.0.1,
// ephemeral ports; every wait polls with a deadline; every process is killed by its ClusterPeer's
// destructor.
#include <catch2/catch.hpp>

#include <rapidjson/document.h>
#include <signal.h>

#include <filesystem>
#include <set>
#include <string>

#include "tests/cluster/cluster_harness.h"

using namespace qd::test;
using namespace std::chrono_literals;

namespace {

rapidjson::Document Json(const HttpResponse& r) {
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  return d;
}

struct ShardView {
  std::map<uint32_t, uint64_t> local;    // shard -> points_count
  std::map<uint32_t, uint64_t> remote;   // shard -> peer id
  uint64_t peer_id = 0;
};

// GET /collections/{name}/cluster as seen by `peer`.
std::optional<ShardView> Shards(const ClusterPeer& peer, const std::string& name) {
  HttpResponse r = peer.Request("GET", "/collections/" + name + "/cluster");
  if (r.status != 200) return std::nullopt;
  rapidjson::Document d = Json(r);
  const auto& res = d["result"];
  ShardView v;
  v.peer_id = res["peer_id"].GetUint64();
  for (const auto& s : res["local_shards"].GetArray()) {
    v.local[s["shard_id"].GetUint()] = s["points_count"].GetUint64();
  }
  for (const auto& s : res["remote_shards"].GetArray()) v.remote[s["shard_id"].GetUint()] = s["peer_id"].GetUint64();
  return v;
}

std::string Point(uint64_t id) {
  return R"({"id":)" + std::to_string(id) + R"(,"vector":[)" + std::to_string(id % 7) + ".5,1]}";
}

std::string ShardDir(const ClusterPeer& peer, const std::string& name, uint32_t shard) {
  return peer.dir() + "/storage/collections/" + name + "/" + std::to_string(shard);
}

}  // namespace

TEST_CASE("a one-node cluster serves points like standalone mode, from local replicas only", "[cluster]") {
  auto peers = StartCluster(1);
  ClusterPeer& p = *peers[0];
  REQUIRE(WaitConverged(Ptrs(peers), 1) != 0);
  HttpResponse created = p.Request("PUT", "/collections/c?timeout=5",
                                   R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":2})");
  INFO(created.body);
  REQUIRE(created.status == 200);
  // Usable right after the call returns: the proposer is answered after the reconcile.
  std::string batch = R"({"points":[)";
  for (uint64_t id = 1; id <= 20; ++id) batch += (id > 1 ? "," : "") + Point(id);
  batch += "]}";
  HttpResponse upserted = p.Request("PUT", "/collections/c/points?wait=true", batch);
  INFO(upserted.body);
  REQUIRE(upserted.status == 200);
  HttpResponse searched = p.Request("POST", "/collections/c/points/search", R"({"vector":[1,1],"limit":3})");
  CHECK(searched.status == 200);
  CHECK(Json(searched)["result"].Size() == 3);
  HttpResponse counted = p.Request("POST", "/collections/c/points/count", "{}");
  CHECK(counted.body.find("\"count\":20") != std::string::npos);
  CHECK(p.Request("GET", "/collections/c/points/7").status == 200);
  CHECK(p.Request("POST", "/collections/c/points/delete?wait=true", R"({"points":[7]})").status == 200);
  CHECK(p.Request("GET", "/collections/c/points/7").status == 404);

  auto view = Shards(p, "c");
  REQUIRE(view);
  CHECK(view->remote.empty());
  REQUIRE(view->local.size() == 2);
  CHECK(view->local[0] + view->local[1] == 19);
  CHECK(std::filesystem::exists(ShardDir(p, "c", 0)));
  CHECK(std::filesystem::exists(ShardDir(p, "c", 1)));
}

TEST_CASE("a point operation on a shard placed on another peer is forwarded to it", "[cluster]") {
  auto peers = StartCluster(2);
  REQUIRE(WaitConverged(Ptrs(peers), 2) != 0);
  ClusterPeer& a = *peers[0];
  ClusterPeer& b = *peers[1];
  REQUIRE(a.Request("PUT", "/collections/c?timeout=5",
                    R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":2,"replication_factor":1})")
              .status == 200);
  REQUIRE(PollUntil([&] { return b.Request("GET", "/collections/c").status == 200; }, 10s));
  auto va = Shards(a, "c");
  auto vb = Shards(b, "c");
  REQUIRE(va);
  REQUIRE(vb);
  // One shard each: local here, remote there, and only the local one has a directory.
  REQUIRE(va->local.size() == 1);
  REQUIRE(va->remote.size() == 1);
  REQUIRE(vb->local.size() == 1);
  const uint32_t a_shard = va->local.begin()->first;
  const uint32_t b_shard = vb->local.begin()->first;
  CHECK(a_shard != b_shard);
  CHECK(va->remote.begin()->first == b_shard);
  CHECK(va->remote.begin()->second == vb->peer_id);
  CHECK(std::filesystem::exists(ShardDir(a, "c", a_shard)));
  CHECK_FALSE(std::filesystem::exists(ShardDir(a, "c", b_shard)));
  CHECK_FALSE(std::filesystem::exists(ShardDir(b, "c", a_shard)));

  // A batch that touches both shards lands on both peers.
  std::string batch = R"({"points":[)";
  for (uint64_t id = 1; id <= 20; ++id) batch += (id > 1 ? "," : "") + Point(id);
  batch += "]}";
  HttpResponse written = a.Request("PUT", "/collections/c/points?wait=true", batch);
  INFO(written.body);
  REQUIRE(written.status == 200);
  const uint64_t on_a = Shards(a, "c")->local.begin()->second;
  const uint64_t on_b = Shards(b, "c")->local.begin()->second;
  CHECK(on_a > 0);
  CHECK(on_b > 0);
  CHECK(on_a + on_b == 20);
  // Reads fan out to both shards from either peer, and every point is found through both.
  for (ClusterPeer* p : {&a, &b}) {
    CHECK(p->Request("POST", "/collections/c/points/count", "{}").body.find("\"count\":20") !=
          std::string::npos);
    HttpResponse searched =
        p->Request("POST", "/collections/c/points/search", R"({"vector":[1,1],"limit":30})");
    CHECK(searched.status == 200);
    CHECK(Json(searched)["result"].Size() == 20);
    HttpResponse scrolled = p->Request("POST", "/collections/c/points/scroll", R"({"limit":100})");
    CHECK(scrolled.status == 200);
    CHECK(Json(scrolled)["result"]["points"].Size() == 20);
    for (uint64_t id = 1; id <= 20; ++id) {
      CHECK(p->Request("GET", "/collections/c/points/" + std::to_string(id)).status == 200);
    }
  }
  // GET /collections counts this peer's replicas only, as Qdrant's points_count does.
  CHECK(a.Request("GET", "/collections/c").body.find("\"points_count\":" + std::to_string(on_a)) !=
        std::string::npos);

  // A restart opens the local replica only, with its points.
  REQUIRE(a.Stop() == 0);
  a.Start();
  REQUIRE(a.WaitReady());
  CHECK(Shards(a, "c")->local.begin()->second == on_a);
  CHECK_FALSE(std::filesystem::exists(ShardDir(a, "c", b_shard)));
  CHECK(a.Request("POST", "/collections/c/points/count", "{}").body.find("\"count\":20") !=
        std::string::npos);
}

TEST_CASE("a replicated shard takes writes through either peer and both replicas hold them",
          "[cluster]") {
  auto peers = StartCluster(2);
  REQUIRE(WaitConverged(Ptrs(peers), 2) != 0);
  ClusterPeer& a = *peers[0];
  ClusterPeer& b = *peers[1];
  REQUIRE(a.Request("PUT", "/collections/r?timeout=5",
                    R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":1,"replication_factor":2})")
              .status == 200);
  REQUIRE(PollUntil([&] { return b.Request("GET", "/collections/r").status == 200; }, 10s));
  uint64_t id = 0;
  for (ClusterPeer* p : {&a, &b}) {
    auto v = Shards(*p, "r");
    REQUIRE(v);
    CHECK(v->local.size() == 1);
    CHECK(v->remote.size() == 1);
    HttpResponse w =
        p->Request("PUT", "/collections/r/points?wait=true", R"({"points":[)" + Point(++id) + "]}");
    INFO(w.body);
    CHECK(w.status == 200);
  }
  for (ClusterPeer* p : {&a, &b}) {
    CHECK(Shards(*p, "r")->local.begin()->second == 2);
    HttpResponse count = p->Request("POST", "/collections/r/points/count", "{}");
    CHECK(count.status == 200);
    CHECK(count.body.find("\"count\":2") != std::string::npos);
    CHECK(p->Request("POST", "/collections/r/points/search", R"({"vector":[1,1],"limit":3})").status == 200);
  }
}

TEST_CASE("removing a peer with force drops its replicas from the placement on every node", "[cluster]") {
  auto peers = StartCluster(2);
  REQUIRE(WaitConverged(Ptrs(peers), 2) != 0);
  ClusterPeer& a = *peers[0];
  ClusterPeer& b = *peers[1];
  REQUIRE(a.Request("PUT", "/collections/c?timeout=5",
                    R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":2})")
              .status == 200);
  REQUIRE(PollUntil([&] { return Shards(b, "c").has_value(); }, 10s));
  const uint64_t b_id = Shards(b, "c")->peer_id;
  const uint32_t b_shard = Shards(b, "c")->local.begin()->first;
  REQUIRE(std::filesystem::exists(ShardDir(b, "c", b_shard)));
  HttpResponse removed = a.Request("DELETE", "/cluster/peer/" + std::to_string(b_id) + "?force=true");
  INFO(removed.body);
  REQUIRE(removed.status == 200);
  auto va = Shards(a, "c");
  REQUIRE(va);
  CHECK(va->remote.empty());
  CHECK(va->local.size() == 1);
  // The removed peer applies its own removal too, and its reconciler drops the replica.
  CHECK(PollUntil([&] { return !std::filesystem::exists(ShardDir(b, "c", b_shard)); }, 15s));
  // The shard has no replica left anywhere: a clear error, not a silent miss.
  bool saw_orphan = false;
  for (uint64_t id = 1; id <= 20 && !saw_orphan; ++id) {
    HttpResponse r = a.Request("PUT", "/collections/c/points?wait=true", R"({"points":[)" + Point(id) + "]}");
    if (r.status != 200) {
      CHECK(r.status == 503);
      CHECK(r.body.find("no peer holds a replica") != std::string::npos);
      saw_orphan = true;
    }
  }
  CHECK(saw_orphan);
}

TEST_CASE("POST /cluster/recover re-creates local replicas whose files were deleted", "[cluster]") {
  auto peers = StartCluster(1);
  ClusterPeer& p = *peers[0];
  REQUIRE(WaitConverged(Ptrs(peers), 1) != 0);
  REQUIRE(p.Request("PUT", "/collections/c?timeout=5", R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":2})")
              .status == 200);
  REQUIRE(p.Request("PUT", "/collections/c/points?wait=true",
                    R"({"points":[)" + Point(1) + "," + Point(2) + "," + Point(3) + "]}")
              .status == 200);
  // On a healthy node recover changes nothing.
  HttpResponse healthy = p.Request("POST", "/cluster/recover");
  INFO(healthy.body);
  REQUIRE(healthy.status == 200);
  CHECK(p.Request("POST", "/collections/c/points/count", "{}").body.find("\"count\":3") != std::string::npos);

  // The operator loses the collection's data while the node runs.
  std::filesystem::remove_all(p.dir() + "/storage/collections/c");
  HttpResponse recovered = p.Request("POST", "/cluster/recover");
  INFO(recovered.body);
  REQUIRE(recovered.status == 200);
  CHECK(recovered.body.find("\"result\":true") != std::string::npos);
  CHECK(std::filesystem::exists(ShardDir(p, "c", 0) + "/points.db"));
  CHECK(std::filesystem::exists(ShardDir(p, "c", 1) + "/points.db"));
  // Its replicas are the only ones, so nothing can refill them: once consensus refused to mark
  // them Dead (the last readable replicas), they serve again, empty, and take writes.
  CHECK(PollUntil(
      [&] {
        return p.Request("POST", "/collections/c/points/count", "{}").body.find("\"count\":0") !=
               std::string::npos;
      },
      10s));
  REQUIRE(p.Request("PUT", "/collections/c/points?wait=true", R"({"points":[)" + Point(4) + "]}").status == 200);
  // What it writes now survives a restart.
  REQUIRE(p.Stop() == 0);
  p.Start();
  REQUIRE(p.WaitReady());
  CHECK(p.Request("GET", "/collections/c/points/4").status == 200);
  CHECK(p.Request("POST", "/collections/c/points/count", "{}").body.find("\"count\":1") != std::string::npos);
}

TEST_CASE("readyz: a joiner is not ready before joining and a restarted peer is ready only once caught up",
          "[cluster]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  // (a) a joiner that cannot reach its bootstrap peer never becomes ready.
  ClusterPeer lonely;
  ClusterPeer nobody;  // never started: its URI has no listener
  lonely.Start(nobody.uri());
  REQUIRE(PollUntil([&] { return lonely.Request("GET", "/").status == 200; }, 10s));
  for (int i = 0; i < 5; ++i) CHECK(lonely.Request("GET", "/readyz").status != 200);

  // (b) a peer that was down while the cluster moved on is ready only once it has it all: the
  // first moment it says ready, the collections created meanwhile are there and reconciled.
  ClusterPeer& late = *peers[2];
  late.Kill(SIGKILL);
  REQUIRE(late.WaitExit(10s));
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = peers[0]->Request("PUT", "/collections/c" + std::to_string(i) + "?timeout=5",
                                       R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":3})");
    INFO(r.body);
    REQUIRE(r.status == 200);
  }
  auto leader_view = peers[0]->Cluster();
  REQUIRE(leader_view);
  late.Start();
  REQUIRE(PollUntil([&] { return late.Request("GET", "/readyz").status == 200; }, 30s));
  auto info = late.Cluster();
  REQUIRE(info);
  CHECK(info->commit >= leader_view->commit);
  for (int i = 0; i < 5; ++i) {
    std::string name = "c" + std::to_string(i);
    auto v = Shards(late, name);
    REQUIRE(v);
    CHECK(v->local.size() == 1);
    CHECK(std::filesystem::exists(ShardDir(late, name, v->local.begin()->first) + "/points.db"));
  }
  // Once ready, stays ready.
  for (int i = 0; i < 5; ++i) CHECK(late.Request("GET", "/readyz").status == 200);
}
