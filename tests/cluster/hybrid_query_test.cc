// The Query API beyond nearest in a 3-peer cluster (issue #21): prefetch with rrf fusion,
// recommend, discover and groups over 3 shards with 2 replicas each give every peer the same
// answer, the one computed here (fusion by hand from the prefetches' answers, recommend by brute
// force), and still do with one peer killed.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/points_helpers.h"
#include "tests/support/json.h"

using namespace qd::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kPoints = 300;

std::vector<float> DenseOf(uint64_t id) {
  return {std::sin(float(id)), std::cos(float(id) * 0.3f), float(id % 11) / 11.0f};
}

std::string Floats(const std::vector<float>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", double(v[i]));
    out += (i ? "," : "") + std::string(text);
  }
  return out + "]";
}

std::vector<float> Unit(std::vector<float> v) {
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  for (float& x : v) x = float(x / std::sqrt(norm));
  return v;
}

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += double(a[i]) * b[i];
  return float(sum);
}

// (id, score) pairs of a query's answer, in order.
std::vector<std::pair<uint64_t, float>> Hits(const ClusterPeer& p, const std::string& body) {
  HttpResponse r = p.Request("POST", "/collections/hq/points/query", body);
  INFO(body << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 200);
  rapidjson::Document d = Json(r);
  std::vector<std::pair<uint64_t, float>> out;
  for (const auto& h : d["result"]["points"].GetArray()) {
    out.emplace_back(h["id"].GetUint64(), float(h["score"].GetDouble()));
  }
  return out;
}

std::vector<uint64_t> Ids(const std::vector<std::pair<uint64_t, float>>& hits) {
  std::vector<uint64_t> out;
  for (const auto& h : hits) out.push_back(h.first);
  return out;
}

}  // namespace

TEST_CASE("prefetch with rrf, recommend and discover answer alike through every peer, one killed",
          "[cluster][query]") {
  auto peers = StartCluster(3);
  REQUIRE(WaitConverged(Ptrs(peers), 3) != 0);
  HttpResponse created = peers[0]->Request(
      "PUT", "/collections/hq",
      R"({"vectors":{"d":{"size":3,"distance":"Cosine"}},"sparse_vectors":{"s":{}},)"
      R"("shard_number":3,"replication_factor":2})");
  REQUIRE(created.status == 200);
  REQUIRE(PollUntil([&] { return AllActive(Ptrs(peers), "hq"); }, 10s));
  std::string body = R"({"points":[)";
  for (uint64_t id = 1; id <= kPoints; ++id) {
    body += (id > 1 ? "," : "") + std::string(R"({"id":)") + std::to_string(id) +
            R"(,"vector":{"d":)" + Floats(DenseOf(id)) + R"(,"s":{"indices":[)" +
            std::to_string(id % 13) + R"(],"values":[)" + std::to_string(1 + id % 4) +
            R"(]}},"payload":{"g":)" + std::to_string(id % 3) + "}}";
  }
  HttpResponse w = peers[1]->Request("PUT", "/collections/hq/points?wait=true", body + "]}");
  REQUIRE(w.status == 200);

  const std::vector<float> v = DenseOf(1000);
  const std::string dense = R"({"query":)" + Floats(v) + R"(,"using":"d","limit":15})";
  const std::string sparse = R"({"query":{"indices":[4],"values":[1]},"using":"s","limit":15})";
  const std::string fused =
      R"({"prefetch":[)" + dense + "," + sparse + R"(],"query":{"fusion":"rrf"},"limit":10})";
  const std::string recommend =
      R"({"query":{"recommend":{"positive":[1,2],"negative":[3],"strategy":"best_score"}},)"
      R"("using":"d","limit":10,"params":{"exact":true}})";
  const std::string discover =
      R"({"query":{"discover":{"target":5,"context":[{"positive":7,"negative":9}]}},)"
      R"("using":"d","limit":10,"params":{"exact":true}})";

  // Expected: rrf from peer 0's prefetch answers, recommend by brute force.
  auto dense_hits = Hits(*peers[0], dense), sparse_hits = Hits(*peers[0], sparse);
  REQUIRE(dense_hits.size() == 15);
  REQUIRE(sparse_hits.size() == 15);
  std::map<uint64_t, float> rrf;
  for (const auto* list : {&dense_hits, &sparse_hits}) {
    for (size_t pos = 0; pos < list->size(); ++pos) rrf[(*list)[pos].first] += 1.0f / (2.0f + pos);
  }
  std::vector<std::pair<uint64_t, float>> expected_rrf(rrf.begin(), rrf.end());
  std::sort(expected_rrf.begin(), expected_rrf.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  expected_rrf.resize(10);
  auto sigmoid = [](float x) { return 0.5f * (x / (1 + std::fabs(x)) + 1); };
  std::vector<std::pair<uint64_t, float>> expected_reco;
  for (uint64_t id = 4; id <= kPoints; ++id) {
    std::vector<float> x = Unit(DenseOf(id));
    float p = std::max(Dot(Unit(DenseOf(1)), x), Dot(Unit(DenseOf(2)), x));
    float n = Dot(Unit(DenseOf(3)), x);
    expected_reco.emplace_back(id, p > n ? sigmoid(p) : -sigmoid(n));
  }
  std::sort(expected_reco.begin(), expected_reco.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  expected_reco.resize(10);

  const std::string groups =
      R"({"query":)" + Floats(v) + R"(,"using":"d","group_by":"g","limit":3,"group_size":4})";
  auto check_all = [&](const std::vector<ClusterPeer*>& serving) {
    std::vector<uint64_t> first_discover;
    std::string first_groups;
    for (ClusterPeer* p : serving) {
      INFO("peer " << PeerId(*p));
      CHECK(Ids(Hits(*p, fused)) == Ids(expected_rrf));
      auto reco = Hits(*p, recommend);
      CHECK(Ids(reco) == Ids(expected_reco));
      for (size_t i = 0; i < reco.size() && i < expected_reco.size(); ++i) {
        CHECK(reco[i].second == Approx(expected_reco[i].second).epsilon(1e-5));
      }
      auto found = Ids(Hits(*p, discover));
      CHECK(found.size() == 10);
      if (first_discover.empty()) first_discover = found;
      CHECK(found == first_discover);
      // Groups: 3 of 4 hits each (g has 3 values and 300 points), the same through every peer.
      HttpResponse grouped = p->Request("POST", "/collections/hq/points/query/groups", groups);
      REQUIRE(grouped.status == 200);
      rapidjson::Document d = Json(grouped);
      REQUIRE(d["result"]["groups"].Size() == 3);
      for (const auto& g : d["result"]["groups"].GetArray()) CHECK(g["hits"].Size() == 4);
      if (first_groups.empty()) first_groups = Result(grouped);
      CHECK(Result(grouped) == first_groups);
    }
  };
  check_all(Ptrs(peers));

  // Every shard has a replica on two peers: with one killed, the others answer the same.
  peers[2]->Kill(SIGKILL);
  check_all({peers[0].get(), peers[1].get()});
}
