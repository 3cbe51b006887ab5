// Peer TLS (issue #19 item 1, cluster.p2p.enable_tls): three qdrantd processes talk mutual TLS
// with certificates made by openssl at test time, form a cluster and replicate; a node without
// TLS, or with a certificate from another CA, exchanges nothing with them: a joiner exits 1
// saying why, and a member restarted with the wrong CA shows in the leader's
// message_send_failures and log, until it comes back with the right one.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>

#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/points_helpers.h"
#include "tests/support/certs.h"
#include "tests/support/json.h"

using namespace qd::test;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string> PeerTlsEnv(const Certs& certs, const std::string& cert,
                                              const std::string& ca) {
  return {{"QDRANT__CLUSTER__P2P__ENABLE_TLS", "true"},
          {"QDRANT__TLS__CERT", certs.Path(cert + ".pem")},
          {"QDRANT__TLS__KEY", certs.Path(cert + ".key")},
          {"QDRANT__TLS__CA_CERT", certs.Path(ca + ".pem")}};
}

}  // namespace

TEST_CASE("peers talk mutual TLS, and a peer without it or from another CA is refused",
          "[cluster][tls]") {
  Certs certs;
  const std::map<std::string, std::string> tls = PeerTlsEnv(certs, "server", "ca");
  auto peers = StartCluster(3, tls);
  const uint64_t leader = WaitConverged(Ptrs(peers), 3);
  REQUIRE(leader != 0);
  std::optional<ClusterInfo> info = peers[0]->Cluster();
  REQUIRE(info.has_value());
  for (const auto& [id, uri] : info->peers) {
    INFO(uri);
    CHECK(uri.rfind("https://127.0.0.1:", 0) == 0);
  }

  // Replicated over TLS: every peer holds every point (3 replicas of each shard).
  REQUIRE(CreateCollection(*peers[1], "c", 2, 3));
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "c"); }, 20s));
  REQUIRE(peers[2]->Request("PUT", "/collections/c/points?wait=true", Batch(1, 50)).status == 200);
  for (const auto& p : peers) {
    CHECK(Count(*p, "c") == 50);
    rapidjson::Document d = Json(p->Request("GET", "/collections/c/cluster"));
    uint64_t held = 0;
    for (const auto& s : d["result"]["local_shards"].GetArray())
      held += s["points_count"].GetUint64();
    CHECK(held == 50);
  }

  // A joiner without TLS given an https:// URI: refused at start, saying what is missing.
  ClusterPeer plain;
  plain.Start(peers[0]->uri());
  std::optional<int> code = plain.WaitExit(20s);
  REQUIRE(code.has_value());
  CHECK(*code == 2);
  CHECK(plain.Stderr().find("needs cluster.p2p.enable_tls") != std::string::npos);

  // Without TLS through http:// to a TLS peer: nothing gets through; it gives up, saying why.
  ClusterPeer plaintext(std::map<std::string, std::string>{
      {"QDRANT__CLUSTER__CONSENSUS__BOOTSTRAP_TIMEOUT_SEC", "3"}});
  plaintext.Start("http://127.0.0.1:" + std::to_string(peers[0]->p2p_port()));
  code = plaintext.WaitExit(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  CHECK(plaintext.Stderr().find("cannot join the cluster through") != std::string::npos);
  CHECK(plaintext.Stderr().find("set cluster.p2p.enable_tls") != std::string::npos);

  // TLS with a certificate from another CA: the handshake fails, the joiner exits at once.
  ClusterPeer stranger(PeerTlsEnv(certs, "stranger", "other-ca"));
  const auto started = std::chrono::steady_clock::now();
  stranger.Start(peers[0]->uri());
  code = stranger.WaitExit(30s);
  REQUIRE(code.has_value());
  INFO(stranger.Stderr());
  CHECK(*code == 1);
  CHECK(stranger.Stderr().find("the TLS handshake failed") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < 15s);  // not the bootstrap timeout
  CHECK(peers[0]->Cluster()->peers.size() == 3);

  // A member restarted with another CA's certificate: the leader's messages to it fail, are
  // counted in message_send_failures with the reason, and logged once naming it.
  ClusterPeer* lead = nullptr;
  ClusterPeer* other = nullptr;
  for (const auto& p : peers) {
    if (PeerId(*p) == leader) {
      lead = p.get();
    } else {
      other = p.get();
    }
  }
  REQUIRE(lead != nullptr);
  REQUIRE(other != nullptr);
  REQUIRE(other->Stop().has_value());
  for (const auto& [key, value] : PeerTlsEnv(certs, "stranger", "other-ca"))
    other->SetEnv(key, value);
  other->Start();
  rapidjson::Document status;
  bool refused = PollUntil(
      [&] {
        status = Json(lead->Request("GET", "/cluster"));
        const auto& failures = status["result"]["message_send_failures"];
        return failures.HasMember(other->uri().c_str()) &&
               failures[other->uri().c_str()]["count"].GetUint64() > 0 &&
               failures[other->uri().c_str()]["latest_error"].IsString();
      },
      20s);
  INFO(ToJson(status));
  CHECK(refused);
  CHECK(lead->Stderr().find("peer " + other->uri() + ": Raft messages to it fail") !=
        std::string::npos);
  // The two others still make a majority: writes go on.
  CHECK(lead->Request("PUT", "/collections/c/points?wait=true", Batch(51, 60)).status == 200);

  // Back with the right certificate, it catches up.
  REQUIRE(other->Stop().has_value());
  for (const auto& [key, value] : tls) other->SetEnv(key, value);
  other->Start();
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  CHECK(PollUntil(
      [&] {
        // 503 until it applied the placement again.
        HttpResponse r = other->Request("POST", "/collections/c/points/count", R"({"exact":true})");
        return r.status == 200 && Json(r)["result"]["count"].GetUint64() == 60;
      },
      20s));
  CHECK(lead->Stderr().find("peer " + other->uri() + ": Raft messages get through again") !=
        std::string::npos);
}
