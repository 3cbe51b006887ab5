// The Query API beyond nearest (issue #21): prefetch with rrf and dbsf fusion, a query that ranks
// prefetched points by its own vector, recommend (average_vector, best_score, sum_scores),
// discover and context, through REST (query, recommend, discover) and gRPC (Query, Recommend,
// Discover) against one real qdrantd. Every expected answer is computed here from the vectors
// the test wrote: fusion by hand from the prefetches' own answers, the rest by brute force.
#include <grpcpp/grpcpp.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "points_service.grpc.pb.h"
#include "tests/support/json.h"
#include "tests/support/node.h"

using namespace qd::test;

namespace {

struct Hit {
  uint64_t id;
  float score;
};
using Hits = std::vector<Hit>;

std::string Show(const Hits& hits) {
  std::string out;
  for (const Hit& h : hits) {
    char text[64];
    std::snprintf(text, sizeof text, "%llu:%.7g ", static_cast<unsigned long long>(h.id),
                  static_cast<double>(h.score));
    out += text;
  }
  return out;
}

// Same ids in the same order, scores equal to float precision.
bool Same(const Hits& a, const Hits& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].id != b[i].id) return false;
    if (std::fabs(a[i].score - b[i].score) > 1e-5f * std::max(1.0f, std::fabs(b[i].score))) {
      return false;
    }
  }
  return true;
}

#define CHECK_SAME(a, b)                                               \
  do {                                                                 \
    Hits left_ = (a), right_ = (b);                                    \
    INFO("got      " << Show(left_) << "\nexpected " << Show(right_)); \
    CHECK(Same(left_, right_));                                        \
  } while (0)

std::vector<float> DenseOf(uint64_t id) {
  return {std::sin(static_cast<float>(id)), std::cos(static_cast<float>(id) * 0.7f),
          static_cast<float>(id % 7) / 7.0f, 0.5f};
}

// Sparse: two indices, the second one's value varies.
std::map<uint32_t, float> SparseOf(uint64_t id) {
  return {{static_cast<uint32_t>(id % 10), 1.0f},
          {static_cast<uint32_t>(10 + id % 7), static_cast<float>(id % 5) / 5.0f + 0.1f}};
}

std::string Json(const std::vector<float>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", static_cast<double>(v[i]));
    out += (i ? "," : "") + std::string(text);
  }
  return out + "]";
}

std::string Json(const std::map<uint32_t, float>& v) {
  std::string indices, values;
  for (const auto& [i, x] : v) {
    indices += (indices.empty() ? "" : ",") + std::to_string(i);
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", static_cast<double>(x));
    values += (values.empty() ? "" : ",") + std::string(text);
  }
  return R"({"indices":[)" + indices + R"(],"values":[)" + values + "]}";
}

std::vector<float> Unit(std::vector<float> v) {
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  norm = std::sqrt(norm);
  for (float& x : v) x = static_cast<float>(x / norm);
  return v;
}

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += double(a[i]) * b[i];
  return static_cast<float>(sum);
}

// Cosine similarity, as the collection's vectors are stored (unit length).
float Cos(const std::vector<float>& a, const std::vector<float>& b) {
  return Dot(Unit(a), Unit(b));
}

float SparseDot(const std::map<uint32_t, float>& a, const std::map<uint32_t, float>& b) {
  float sum = 0;
  for (const auto& [i, x] : a) {
    auto it = b.find(i);
    if (it != b.end()) sum += x * it->second;
  }
  return sum;
}

float Sigmoid(float x) { return 0.5f * (x / (1.0f + std::fabs(x)) + 1.0f); }

constexpr uint64_t kPoints = 120;

// Payload "tag": "even" or "odd", and for multiples of 7 also "seven" (an array).
std::vector<std::string> Tags(uint64_t id) {
  std::vector<std::string> out = {id % 2 ? "odd" : "even"};
  if (id % 7 == 0) out.push_back("seven");
  return out;
}

std::string TagJson(uint64_t id) {
  std::vector<std::string> tags = Tags(id);
  if (tags.size() == 1) return "\"" + tags[0] + "\"";
  return "[\"" + tags[0] + "\",\"" + tags[1] + "\"]";
}

// The best `limit` of every point but `excluded` by `score`, ties by id.
Hits BruteForce(const std::function<float(uint64_t)>& score, size_t limit,
                const std::set<uint64_t>& excluded = {}) {
  Hits all;
  for (uint64_t id = 1; id <= kPoints; ++id) {
    if (!excluded.count(id)) all.push_back({id, score(id)});
  }
  std::sort(all.begin(), all.end(), [](const Hit& a, const Hit& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  if (all.size() > limit) all.resize(limit);
  return all;
}

HttpResponse Post(const Node& n, const std::string& path, const std::string& body) {
  return HttpRequest(n.http_port(), "POST", path, body, {{"content-type", "application/json"}});
}

Hits RestHits(const Node& node, const std::string& path, const std::string& body) {
  HttpResponse r = Post(node, path, body);
  INFO(path << " " << body << " -> " << r.body);
  REQUIRE(r.status == 200);
  rapidjson::Document doc = ParseJson(r.body);
  const rapidjson::Value& result = doc["result"];
  const rapidjson::Value& points = result.IsObject() ? result["points"] : result;
  Hits out;
  for (const auto& p : points.GetArray()) {
    out.push_back({p["id"].GetUint64(), static_cast<float>(p["score"].GetDouble())});
  }
  return out;
}

Hits Query(const Node& node, const std::string& body) {
  return RestHits(node, "/collections/h/points/query", body);
}

template <typename Points>
Hits GrpcHits(const Points& points) {
  Hits out;
  for (const auto& p : points) out.push_back({p.id().num(), p.score()});
  return out;
}

void Deadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
}

// Calls `method` of `stub` with a 10 s deadline, REQUIREs OK (showing the status otherwise) and
// returns the reply.
template <typename Reply, typename Stub, typename Method, typename Request>
Reply Call(Stub& stub, Method method, const Request& request) {
  grpc::ClientContext context;
  Deadline(context);
  Reply reply;
  grpc::Status status = (stub.*method)(&context, request, &reply);
  INFO(status.error_message());
  REQUIRE(status.ok());
  return reply;
}

void SetDense(qdrant::VectorInput* in, const std::vector<float>& v) {
  for (float x : v) in->mutable_dense()->add_data(x);
}

void SetSparse(qdrant::VectorInput* in, const std::map<uint32_t, float>& v) {
  for (const auto& [i, x] : v) {
    in->mutable_sparse()->add_indices(i);
    in->mutable_sparse()->add_values(x);
  }
}

// Reciprocal rank fusion by hand: sum of weight / (k + position from 0).
Hits Rrf(const std::vector<Hits>& lists, float k, const std::vector<float>& weights, size_t limit) {
  std::map<uint64_t, float> sums;
  for (size_t l = 0; l < lists.size(); ++l) {
    for (size_t pos = 0; pos < lists[l].size(); ++pos) {
      sums[lists[l][pos].id] += (weights.empty() ? 1.0f : weights[l]) / (k + float(pos));
    }
  }
  return BruteForce([&](uint64_t id) { return sums.count(id) ? sums[id] : -1.0f; },
                    std::min(limit, sums.size()));
}

// Distribution-based score fusion by hand: each list's scores mapped from mean +- 3 sample
// standard deviations to 0..1, summed.
Hits Dbsf(const std::vector<Hits>& lists, size_t limit) {
  std::map<uint64_t, float> sums;
  for (const Hits& list : lists) {
    double mean = 0, var = 0;
    for (const Hit& h : list) mean += h.score;
    mean /= double(list.size());
    for (const Hit& h : list) var += (h.score - mean) * (h.score - mean);
    double sd = std::sqrt(var / double(list.size() - 1));
    for (const Hit& h : list) {
      sums[h.id] += static_cast<float>((h.score - (mean - 3 * sd)) / (6 * sd));
    }
  }
  return BruteForce([&](uint64_t id) { return sums.count(id) ? sums[id] : -100.0f; },
                    std::min(limit, sums.size()));
}

}  // namespace

TEST_CASE("prefetch, fusion, recommend and discover answer as computed by hand",
          "[integration][grpc][query][hybrid]") {
  Node node;
  REQUIRE(node.WaitReady());
  REQUIRE(HttpRequest(node.http_port(), "PUT", "/collections/h",
                      R"({"vectors":{"d":{"size":4,"distance":"Cosine"}},)"
                      R"("sparse_vectors":{"s":{}},"shard_number":3})")
              .status == 200);
  std::string body = R"({"points":[)";
  for (uint64_t id = 1; id <= kPoints; ++id) {
    body += (id > 1 ? "," : "") + std::string(R"({"id":)") + std::to_string(id) +
            R"(,"vector":{"d":)" + Json(DenseOf(id)) + R"(,"s":)" + Json(SparseOf(id)) +
            R"(},"payload":{"g":)" + std::to_string(id % 5) + R"(,"tag":)" + TagJson(id) + "}}";
  }
  REQUIRE(
      HttpRequest(node.http_port(), "PUT", "/collections/h/points?wait=true", body + "]}").status ==
      200);
  auto stub = qdrant::Points::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(node.grpc_port()), grpc::InsecureChannelCredentials()));
  auto grpc_query = [&](const std::function<void(qdrant::QueryPoints&)>& fill) {
    qdrant::QueryPoints request;
    request.set_collection_name("h");
    fill(request);
    return GrpcHits(
        Call<qdrant::QueryResponse>(*stub, &qdrant::Points::Stub::Query, request).result());
  };

  const std::vector<float> v = DenseOf(1000);
  const std::map<uint32_t, float> sq = {{3, 1.0f}, {12, 0.7f}, {15, 0.4f}};
  const std::string dense_prefetch = R"({"query":)" + Json(v) + R"(,"using":"d","limit":20})";
  const std::string sparse_prefetch = R"({"query":)" + Json(sq) + R"(,"using":"s","limit":20})";
  auto grpc_prefetches = [&](qdrant::QueryPoints& r) {
    qdrant::PrefetchQuery* dense = r.add_prefetch();
    SetDense(dense->mutable_query()->mutable_nearest(), v);
    dense->set_using_("d");
    dense->set_limit(20);
    qdrant::PrefetchQuery* sparse = r.add_prefetch();
    SetSparse(sparse->mutable_query()->mutable_nearest(), sq);
    sparse->set_using_("s");
    sparse->set_limit(20);
  };

  SECTION("rrf and dbsf fuse the prefetches' own answers") {
    Hits dense = Query(node, dense_prefetch);
    Hits sparse = Query(node, sparse_prefetch);
    REQUIRE(dense.size() == 20);
    REQUIRE(sparse.size() == 20);
    // The prefetched lists themselves are right: cosine and sparse dot products.
    CHECK_SAME(dense, BruteForce([&](uint64_t id) { return Cos(v, DenseOf(id)); }, 20));
    CHECK_SAME(sparse, BruteForce([&](uint64_t id) { return SparseDot(sq, SparseOf(id)); }, 20));

    const std::string prefetch = R"("prefetch":[)" + dense_prefetch + "," + sparse_prefetch + "]";
    Hits rrf = Query(node, "{" + prefetch + R"(,"query":{"fusion":"rrf"},"limit":10})");
    CHECK_SAME(rrf, Rrf({dense, sparse}, 2, {}, 10));
    CHECK_SAME(grpc_query([&](auto& r) {
                 grpc_prefetches(r);
                 r.mutable_query()->set_fusion(qdrant::RRF);
                 r.set_limit(10);
               }),
               rrf);
    Hits page = Query(node, "{" + prefetch + R"(,"query":{"fusion":"rrf"},"limit":4,"offset":3})");
    CHECK_SAME(page, Hits(rrf.begin() + 3, rrf.begin() + 7));

    Hits weighted =
        Query(node, "{" + prefetch + R"(,"query":{"rrf":{"k":60,"weights":[3,1]}},"limit":10})");
    CHECK_SAME(weighted, Rrf({dense, sparse}, 60, {3, 1}, 10));
    CHECK_SAME(grpc_query([&](auto& r) {
                 grpc_prefetches(r);
                 r.mutable_query()->mutable_rrf()->set_k(60);
                 r.mutable_query()->mutable_rrf()->add_weights(3);
                 r.mutable_query()->mutable_rrf()->add_weights(1);
                 r.set_limit(10);
               }),
               weighted);

    Hits dbsf = Query(node, "{" + prefetch + R"(,"query":{"fusion":"dbsf"},"limit":10})");
    CHECK_SAME(dbsf, Dbsf({dense, sparse}, 10));
    CHECK_SAME(grpc_query([&](auto& r) {
                 grpc_prefetches(r);
                 r.mutable_query()->set_fusion(qdrant::DBSF);
                 r.set_limit(10);
               }),
               dbsf);

    // The outer filter reaches the prefetches.
    Hits filtered = Query(node, "{" + prefetch +
                                    R"(,"query":{"fusion":"rrf"},"limit":10,)"
                                    R"("filter":{"must":[{"key":"g","match":{"value":2}}]}})");
    REQUIRE_FALSE(filtered.empty());
    for (const Hit& h : filtered) CHECK(h.id % 5 == 2);
  }

  SECTION("a query ranks the prefetched points by its own vector") {
    Hits sparse = Query(node, R"({"query":)" + Json(sq) + R"(,"using":"s","limit":30})");
    REQUIRE(sparse.size() == 30);
    std::set<uint64_t> prefetched;
    for (const Hit& h : sparse) prefetched.insert(h.id);
    Hits expected = BruteForce(
        [&](uint64_t id) { return prefetched.count(id) ? Cos(v, DenseOf(id)) : -10.0f; }, 10);
    const std::string request = R"({"prefetch":{"query":)" + Json(sq) +
                                R"(,"using":"s","limit":30},"query":)" + Json(v) +
                                R"(,"using":"d","limit":10})";
    Hits rest = Query(node, request);
    CHECK_SAME(rest, expected);
    CHECK_SAME(grpc_query([&](auto& r) {
                 qdrant::PrefetchQuery* p = r.add_prefetch();
                 SetSparse(p->mutable_query()->mutable_nearest(), sq);
                 p->set_using_("s");
                 p->set_limit(30);
                 SetDense(r.mutable_query()->mutable_nearest(), v);
                 r.set_using_("d");
                 r.set_limit(10);
               }),
               expected);
    // One prefetch and no query: the prefetch's answer, cut to the outer limit.
    Hits passed = Query(
        node, R"({"prefetch":{"query":)" + Json(sq) + R"(,"using":"s","limit":30},"limit":5})");
    CHECK_SAME(passed, Hits(sparse.begin(), sparse.begin() + 5));
    // Nested: the inner prefetch narrows what the middle one ranks.
    Hits nested =
        Query(node, R"({"prefetch":{"prefetch":{"query":)" + Json(sq) +
                        R"(,"using":"s","limit":30},"query":)" + Json(v) +
                        R"(,"using":"d","limit":10},"query":{"fusion":"rrf"},"limit":3})");
    CHECK_SAME(nested, Rrf({expected}, 2, {}, 3));
  }

  const std::vector<float> n1 = Unit(DenseOf(1)), n2 = Unit(DenseOf(2)), n3 = Unit(DenseOf(3));
  const std::set<uint64_t> examples = {1, 2, 3};

  SECTION("recommend: average_vector, best_score and sum_scores, through every API") {
    std::vector<float> avg(4);
    for (size_t i = 0; i < 4; ++i) avg[i] = (n1[i] + n2[i]) - n3[i];  // 2 * avg(+) - avg(-)
    Hits average = BruteForce([&](uint64_t id) { return Cos(avg, DenseOf(id)); }, 10, examples);
    Hits best = BruteForce(
        [&](uint64_t id) {
          std::vector<float> x = Unit(DenseOf(id));
          float p = std::max(Dot(n1, x), Dot(n2, x)), n = Dot(n3, x);
          return p > n ? Sigmoid(p) : -Sigmoid(n);
        },
        10, examples);
    Hits sum = BruteForce(
        [&](uint64_t id) {
          std::vector<float> x = Unit(DenseOf(id));
          return Dot(n1, x) + Dot(n2, x) - Dot(n3, x);
        },
        10, examples);
    const std::vector<std::pair<const char*, Hits>> strategies = {
        {"average_vector", average}, {"best_score", best}, {"sum_scores", sum}};
    for (const auto& [strategy, expected] : strategies) {
      INFO(strategy);
      const std::string s = strategy;
      CHECK_SAME(Query(node, R"({"query":{"recommend":{"positive":[1,2],"negative":[3],)"
                             R"("strategy":")" +
                                 s +
                                 R"("}},"using":"d","limit":10,)"
                                 R"("params":{"exact":true}})"),
                 expected);
      CHECK_SAME(RestHits(node, "/collections/h/points/recommend",
                          R"({"positive":[1,2],"negative":[3],"strategy":")" + s +
                              R"(","using":"d","limit":10,"params":{"exact":true}})"),
                 expected);
      const qdrant::RecommendStrategy proto = s == "average_vector" ? qdrant::AverageVector
                                              : s == "best_score"   ? qdrant::BestScore
                                                                    : qdrant::SumScores;
      CHECK_SAME(grpc_query([&](auto& r) {
                   qdrant::RecommendInput* in = r.mutable_query()->mutable_recommend();
                   in->add_positive()->mutable_id()->set_num(1);
                   in->add_positive()->mutable_id()->set_num(2);
                   in->add_negative()->mutable_id()->set_num(3);
                   in->set_strategy(proto);
                   r.set_using_("d");
                   r.set_limit(10);
                   r.mutable_params()->set_exact(true);
                 }),
                 expected);
      qdrant::RecommendPoints request;
      request.set_collection_name("h");
      request.add_positive()->set_num(1);
      request.add_positive()->set_num(2);
      request.add_negative()->set_num(3);
      request.set_strategy(proto);
      request.set_using_("d");
      request.set_limit(10);
      request.mutable_params()->set_exact(true);
      qdrant::RecommendResponse reply =
          Call<qdrant::RecommendResponse>(*stub, &qdrant::Points::Stub::Recommend, request);
      CHECK_SAME(GrpcHits(reply.result()), expected);
    }
    // Without `exact`, the candidates come from searches around each positive example; on this
    // data they hold the best ten.
    CHECK_SAME(Query(node, R"({"query":{"recommend":{"positive":[1,2],"negative":[3],)"
                           R"("strategy":"best_score"}},"using":"d","limit":10})"),
               best);
    // An example given as a vector is not left out of the results (only ids are).
    Hits by_vector = Query(node, R"({"query":{"recommend":{"positive":[)" + Json(DenseOf(50)) +
                                     R"(]}},"using":"d","limit":3})");
    REQUIRE_FALSE(by_vector.empty());
    CHECK(by_vector[0].id == 50);
    // Negatives only, best_score: the points least like the negative example.
    Hits away = Query(node, R"({"query":{"recommend":{"negative":[3],"strategy":"best_score"}},)"
                            R"("using":"d","limit":5})");
    CHECK_SAME(away, BruteForce([&](uint64_t id) { return -Sigmoid(Dot(n3, Unit(DenseOf(id)))); },
                                5, {3}));
    // Batches answer each request in order.
    HttpResponse batch = Post(node, "/collections/h/points/recommend/batch",
                              R"({"searches":[{"positive":[1],"using":"d","limit":2},)"
                              R"({"positive":[2],"using":"d","limit":3}]})");
    REQUIRE(batch.status == 200);
    rapidjson::Document doc = ParseJson(batch.body);
    REQUIRE(doc["result"].Size() == 2);
    CHECK(doc["result"][0].Size() == 2);
    CHECK(doc["result"][1].Size() == 3);
  }

  SECTION("discover and context") {
    const std::vector<float> target = Unit(DenseOf(5));
    const std::vector<std::pair<std::vector<float>, std::vector<float>>> pairs = {
        {Unit(DenseOf(7)), Unit(DenseOf(9))}, {Unit(DenseOf(11)), Unit(DenseOf(13))}};
    const std::set<uint64_t> used = {5, 7, 9, 11, 13};
    Hits discover = BruteForce(
        [&](uint64_t id) {
          std::vector<float> x = Unit(DenseOf(id));
          int rank = 0;
          for (const auto& [p, n] : pairs) rank += Dot(p, x) > Dot(n, x) ? 1 : -1;
          return float(rank) + Sigmoid(Dot(target, x));
        },
        10, used);
    Hits context = BruteForce(
        [&](uint64_t id) {
          std::vector<float> x = Unit(DenseOf(id));
          float loss = 0;
          for (const auto& [p, n] : pairs) {
            loss += std::min(Dot(p, x) - Dot(n, x) - std::numeric_limits<float>::epsilon(), 0.0f);
          }
          return loss;
        },
        10, {7, 9, 11, 13});
    const std::string context_json =
        R"([{"positive":7,"negative":9},{"positive":11,"negative":13}])";
    CHECK_SAME(Query(node, R"({"query":{"discover":{"target":5,"context":)" + context_json +
                               R"(}},"using":"d","limit":10,"params":{"exact":true}})"),
               discover);
    CHECK_SAME(RestHits(node, "/collections/h/points/discover",
                        R"({"target":5,"context":)" + context_json +
                            R"(,"using":"d","limit":10,"params":{"exact":true}})"),
               discover);
    CHECK_SAME(Query(node, R"({"query":{"context":)" + context_json +
                               R"(},"using":"d","limit":10,"params":{"exact":true}})"),
               context);
    qdrant::DiscoverPoints request;
    request.set_collection_name("h");
    request.mutable_target()->mutable_single()->mutable_id()->set_num(5);
    for (auto [p, n] : {std::pair<int, int>{7, 9}, {11, 13}}) {
      qdrant::ContextExamplePair* pair = request.add_context();
      pair->mutable_positive()->mutable_id()->set_num(p);
      pair->mutable_negative()->mutable_id()->set_num(n);
    }
    request.set_using_("d");
    request.set_limit(10);
    request.mutable_params()->set_exact(true);
    qdrant::DiscoverResponse reply =
        Call<qdrant::DiscoverResponse>(*stub, &qdrant::Points::Stub::Discover, request);
    CHECK_SAME(GrpcHits(reply.result()), discover);
  }

  SECTION("groups: query, search and recommend grouped by a payload field") {
    // Expected: the full ranking walked in order, each point joining the group of each of its
    // values while there is room (at most `limit` groups of `size`).
    auto grouped = [](const Hits& ranking,
                      const std::function<std::vector<std::string>(uint64_t)>& keys, size_t limit,
                      size_t size) {
      std::vector<std::pair<std::string, Hits>> groups;
      for (const Hit& h : ranking) {
        for (const std::string& key : keys(h.id)) {
          auto it = std::find_if(groups.begin(), groups.end(),
                                 [&](const auto& g) { return g.first == key; });
          if (it == groups.end()) {
            if (groups.size() == limit) continue;
            groups.push_back({key, {}});
            it = groups.end() - 1;
          }
          if (it->second.size() < size) it->second.push_back(h);
        }
      }
      return groups;
    };
    auto rest_groups = [&](const std::string& path, const std::string& request_body) {
      HttpResponse r = Post(node, path, request_body);
      INFO(path << " " << request_body << " -> " << r.body);
      REQUIRE(r.status == 200);
      rapidjson::Document d = ParseJson(r.body);
      std::vector<std::pair<std::string, Hits>> out;
      for (const auto& g : d["result"]["groups"].GetArray()) {
        std::string id =
            g["id"].IsString() ? g["id"].GetString() : std::to_string(g["id"].GetUint64());
        Hits hits;
        for (const auto& h : g["hits"].GetArray()) {
          hits.push_back({h["id"].GetUint64(), static_cast<float>(h["score"].GetDouble())});
        }
        out.push_back({id, hits});
      }
      return out;
    };
    auto same_groups = [](const std::vector<std::pair<std::string, Hits>>& got,
                          const std::vector<std::pair<std::string, Hits>>& want) {
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        INFO("group " << i << ": " << got[i].first << " vs " << want[i].first);
        CHECK(got[i].first == want[i].first);
        CHECK_SAME(got[i].second, want[i].second);
      }
    };
    const Hits ranking = BruteForce([&](uint64_t id) { return Cos(v, DenseOf(id)); }, kPoints);
    auto by_g = [](uint64_t id) { return std::vector<std::string>{std::to_string(id % 5)}; };
    const auto want_g = grouped(ranking, by_g, 3, 2);
    same_groups(rest_groups("/collections/h/points/query/groups",
                            R"({"query":)" + Json(v) +
                                R"(,"using":"d","group_by":"g","limit":3,"group_size":2})"),
                want_g);
    same_groups(rest_groups("/collections/h/points/search/groups",
                            R"({"vector":{"name":"d","vector":)" + Json(v) +
                                R"(},"group_by":"g","limit":3,"group_size":2})"),
                want_g);
    // An array value puts a point in each of its groups; the default group_size is 3.
    same_groups(
        rest_groups("/collections/h/points/query/groups",
                    R"({"query":)" + Json(v) + R"(,"using":"d","group_by":"tag","limit":3})"),
        grouped(ranking, Tags, 3, 3));
    // gRPC QueryGroups and SearchGroups answer the same groups.
    qdrant::QueryPointGroups request;
    request.set_collection_name("h");
    SetDense(request.mutable_query()->mutable_nearest(), v);
    request.set_using_("d");
    request.set_group_by("g");
    request.set_limit(3);
    request.set_group_size(2);
    request.mutable_with_payload()->set_enable(true);
    qdrant::QueryGroupsResponse reply =
        Call<qdrant::QueryGroupsResponse>(*stub, &qdrant::Points::Stub::QueryGroups, request);
    REQUIRE(reply.result().groups_size() == 3);
    for (int i = 0; i < 3; ++i) {
      const qdrant::PointGroup& g = reply.result().groups(i);
      CHECK(std::to_string(g.id().unsigned_value()) == want_g[i].first);
      CHECK_SAME(GrpcHits(g.hits()), want_g[i].second);
      for (const auto& hit : g.hits()) {
        CHECK(hit.payload().at("g").integer_value() == int64_t(hit.id().num() % 5));
      }
    }
    qdrant::SearchPointGroups search;
    search.set_collection_name("h");
    for (float x : v) search.add_vector(x);
    search.set_vector_name("d");
    search.set_group_by("tag");
    search.set_limit(2);
    search.set_group_size(4);
    qdrant::SearchGroupsResponse search_reply =
        Call<qdrant::SearchGroupsResponse>(*stub, &qdrant::Points::Stub::SearchGroups, search);
    const auto want_tags = grouped(ranking, Tags, 2, 4);
    REQUIRE(search_reply.result().groups_size() == 2);
    for (int i = 0; i < 2; ++i) {
      CHECK(search_reply.result().groups(i).id().string_value() == want_tags[i].first);
      CHECK_SAME(GrpcHits(search_reply.result().groups(i).hits()), want_tags[i].second);
    }
    // recommend/groups: best_score, exact, against the brute-force ranking.
    const Hits reco = BruteForce(
        [&](uint64_t id) {
          std::vector<float> x = Unit(DenseOf(id));
          float p = std::max(Dot(n1, x), Dot(n2, x)), n = Dot(n3, x);
          return p > n ? Sigmoid(p) : -Sigmoid(n);
        },
        kPoints, examples);
    same_groups(
        rest_groups("/collections/h/points/recommend/groups",
                    R"({"positive":[1,2],"negative":[3],"strategy":"best_score","using":"d",)"
                    R"("params":{"exact":true},"group_by":"g","limit":4,"group_size":3})"),
        grouped(reco, by_g, 4, 3));
    // Refusals.
    HttpResponse no_key =
        Post(node, "/collections/h/points/query/groups", R"({"query":[1,2,3,4],"using":"d"})");
    CHECK(no_key.status == 400);
    CHECK(no_key.body.find("group_by") != std::string::npos);
    // with_lookup: each group's id is a point of another collection.
    REQUIRE(HttpRequest(node.http_port(), "PUT", "/collections/titles",
                        R"({"vectors":{"size":2,"distance":"Dot"}})")
                .status == 200);
    std::string titles = R"({"points":[)";
    for (int g = 0; g < 4; ++g) {  // no point for group 4
      titles += (g ? "," : "") + std::string(R"({"id":)") + std::to_string(g) +
                R"(,"vector":[1,0],"payload":{"title":"group )" + std::to_string(g) + R"("}})";
    }
    REQUIRE(
        HttpRequest(node.http_port(), "PUT", "/collections/titles/points?wait=true", titles + "]}")
            .status == 200);
    HttpResponse looked = Post(node, "/collections/h/points/query/groups",
                               R"({"query":)" + Json(v) +
                                   R"(,"using":"d","group_by":"g","limit":5,"group_size":1,)"
                                   R"("with_lookup":"titles"})");
    INFO(looked.body);
    REQUIRE(looked.status == 200);
    rapidjson::Document l = ParseJson(looked.body);
    REQUIRE(l["result"]["groups"].Size() == 5);
    for (const auto& g : l["result"]["groups"].GetArray()) {
      const uint64_t id = g["id"].GetUint64();
      if (id == 4) {
        CHECK_FALSE(g.HasMember("lookup"));
        continue;
      }
      REQUIRE(g.HasMember("lookup"));
      CHECK(g["lookup"]["id"].GetUint64() == id);
      CHECK(g["lookup"]["payload"]["title"].GetString() == "group " + std::to_string(id));
    }
    HttpResponse bare = Post(
        node, "/collections/h/points/query/groups",
        R"({"query":)" + Json(v) +
            R"(,"using":"d","group_by":"g","limit":2,"group_size":1,)"
            R"("with_lookup":{"collection":"titles","with_payload":false,"with_vectors":true}})");
    REQUIRE(bare.status == 200);
    rapidjson::Document b = ParseJson(bare.body);
    for (const auto& g : b["result"]["groups"].GetArray()) {
      if (!g.HasMember("lookup")) continue;
      CHECK(g["lookup"]["payload"].IsNull());
      CHECK(g["lookup"]["vector"].IsArray());
    }
    qdrant::QueryPointGroups with_lookup = request;
    with_lookup.set_limit(5);
    with_lookup.mutable_with_lookup()->set_collection("titles");
    qdrant::QueryGroupsResponse lookup_reply =
        Call<qdrant::QueryGroupsResponse>(*stub, &qdrant::Points::Stub::QueryGroups, with_lookup);
    size_t with_title = 0;
    for (const auto& g : lookup_reply.result().groups()) {
      if (!g.has_lookup()) continue;
      CHECK(g.lookup().payload().at("title").string_value() ==
            "group " + std::to_string(g.id().unsigned_value()));
      ++with_title;
    }
    CHECK(with_title == 4);
    HttpResponse nowhere =
        Post(node, "/collections/h/points/query/groups",
             R"({"query":[1,2,3,4],"using":"d","group_by":"g","with_lookup":"nope"})");
    CHECK(nowhere.status == 404);
  }

  SECTION("facets and the distance matrix") {
    auto facet = [&](const std::string& request_body) {
      HttpResponse r = Post(node, "/collections/h/facet", request_body);
      INFO(request_body << " -> " << r.body);
      REQUIRE(r.status == 200);
      rapidjson::Document d = ParseJson(r.body);
      std::vector<std::pair<std::string, uint64_t>> out;
      for (const auto& h : d["result"]["hits"].GetArray()) {
        out.emplace_back(
            h["value"].IsString() ? h["value"].GetString() : std::to_string(h["value"].GetInt64()),
            h["count"].GetUint64());
      }
      return out;
    };
    using Counts = std::vector<std::pair<std::string, uint64_t>>;
    // 120 points: g = id % 5 (24 each, ties by value); tag even/odd (60 each) and seven (17).
    CHECK(facet(R"({"key":"g"})") == Counts{{"0", 24}, {"1", 24}, {"2", 24}, {"3", 24}, {"4", 24}});
    CHECK(facet(R"({"key":"g","limit":2})") == Counts{{"0", 24}, {"1", 24}});
    CHECK(facet(R"({"key":"tag","exact":true})") ==
          Counts{{"even", 60}, {"odd", 60}, {"seven", 17}});
    CHECK(facet(R"({"key":"tag","filter":{"must":[{"key":"g","match":{"value":0}}]}})") ==
          Counts{{"even", 12}, {"odd", 12}, {"seven", 3}});  // 35, 70 and 105
    qdrant::FacetCounts request;
    request.set_collection_name("h");
    request.set_key("tag");
    request.set_limit(2);
    qdrant::FacetResponse reply =
        Call<qdrant::FacetResponse>(*stub, &qdrant::Points::Stub::Facet, request);
    REQUIRE(reply.hits_size() == 2);
    CHECK(reply.hits(0).value().string_value() == "even");
    CHECK(reply.hits(0).count() == 60);
    CHECK(reply.hits(1).value().string_value() == "odd");

    // The matrix: each sampled point's nearest among the sample, checked by brute force.
    HttpResponse offsets = Post(node, "/collections/h/points/search/matrix/offsets",
                                R"({"sample":20,"limit":3,"using":"d"})");
    INFO(offsets.body);
    REQUIRE(offsets.status == 200);
    rapidjson::Document m = ParseJson(offsets.body);
    const auto& result = m["result"];
    std::vector<uint64_t> ids;
    for (const auto& id : result["ids"].GetArray()) ids.push_back(id.GetUint64());
    REQUIRE(ids.size() == 20);
    CHECK(std::set<uint64_t>(ids.begin(), ids.end()).size() == 20);
    REQUIRE(result["offsets_row"].Size() == 60);
    for (size_t row = 0; row < ids.size(); ++row) {
      std::set<uint64_t> sample(ids.begin(), ids.end());
      sample.erase(ids[row]);
      Hits want = BruteForce(
          [&](uint64_t id) {
            return sample.count(id) ? Cos(DenseOf(ids[row]), DenseOf(id)) : -10.0f;
          },
          3);
      Hits got;
      for (size_t k = 0; k < 3; ++k) {
        const size_t at = row * 3 + k;
        CHECK(result["offsets_row"][at].GetUint64() == row);
        got.push_back({ids[result["offsets_col"][at].GetUint64()],
                       static_cast<float>(result["scores"][at].GetDouble())});
      }
      CHECK_SAME(got, want);
    }
    // Pairs, with a filter narrowing the points below the sample: all 24 of g = 2.
    HttpResponse pairs = Post(node, "/collections/h/points/search/matrix/pairs",
                              R"({"sample":30,"limit":2,"using":"d",)"
                              R"("filter":{"must":[{"key":"g","match":{"value":2}}]}})");
    INFO(pairs.body);
    REQUIRE(pairs.status == 200);
    rapidjson::Document p = ParseJson(pairs.body);
    REQUIRE(p["result"]["pairs"].Size() == 48);
    for (rapidjson::SizeType i = 0; i < 48; i += 2) {
      const uint64_t a = p["result"]["pairs"][i]["a"].GetUint64();
      CHECK(a % 5 == 2);
      Hits want = BruteForce(
          [&](uint64_t id) {
            return id % 5 == 2 && id != a ? Cos(DenseOf(a), DenseOf(id)) : -10.0f;
          },
          2);
      Hits got;
      for (rapidjson::SizeType k = i; k < i + 2; ++k) {
        CHECK(p["result"]["pairs"][k]["a"].GetUint64() == a);
        got.push_back({p["result"]["pairs"][k]["b"].GetUint64(),
                       static_cast<float>(p["result"]["pairs"][k]["score"].GetDouble())});
      }
      CHECK_SAME(got, want);
    }
    qdrant::SearchMatrixPoints matrix;
    matrix.set_collection_name("h");
    matrix.set_using_("d");
    matrix.set_sample(5);
    matrix.set_limit(4);
    qdrant::SearchMatrixPairsResponse matrix_reply = Call<qdrant::SearchMatrixPairsResponse>(
        *stub, &qdrant::Points::Stub::SearchMatrixPairs, matrix);
    CHECK(matrix_reply.result().pairs_size() == 20);  // 5 points, each with the 4 others
    HttpResponse unknown =
        Post(node, "/collections/h/points/search/matrix/pairs", R"({"using":"x"})");
    CHECK(unknown.status == 400);
    CHECK(unknown.body.find("Not existing vector name error: x") != std::string::npos);
  }

  SECTION("lookup_from: examples and a nearest id read from another collection") {
    REQUIRE(HttpRequest(
                node.http_port(), "PUT", "/collections/other",
                R"({"vectors":{"v":{"size":4,"distance":"Dot"},"w":{"size":3,"distance":"Dot"}}})")
                .status == 200);
    REQUIRE(HttpRequest(node.http_port(), "PUT", "/collections/other/points?wait=true",
                        R"({"points":[{"id":1,"vector":{"v":)" + Json(DenseOf(501)) +
                            R"(,"w":[1,2,3]}},{"id":2,"vector":{"v":)" + Json(DenseOf(502)) +
                            R"(,"w":[3,2,1]}}]})")
                .status == 200);
    const std::string lookup = R"("lookup_from":{"collection":"other","vector":"v"})";
    // Point 1 of `other` stands for the example; point 1 of `h` is a result like any other.
    CHECK_SAME(Query(node, R"({"query":{"recommend":{"positive":[1]}},"using":"d","limit":5,)" +
                               lookup + "}"),
               BruteForce([&](uint64_t id) { return Cos(DenseOf(501), DenseOf(id)); }, 5));
    CHECK_SAME(Query(node, R"({"query":2,"using":"d","limit":5,)" + lookup + "}"),
               BruteForce([&](uint64_t id) { return Cos(DenseOf(502), DenseOf(id)); }, 5));
    CHECK_SAME(RestHits(node, "/collections/h/points/recommend",
                        R"({"positive":[1],"negative":[2],"strategy":"sum_scores","using":"d",)"
                        R"("limit":5,"params":{"exact":true},)" +
                            lookup + "}"),
               BruteForce(
                   [&](uint64_t id) {
                     std::vector<float> x = Unit(DenseOf(id));
                     return Dot(Unit(DenseOf(501)), x) - Dot(Unit(DenseOf(502)), x);
                   },
                   5));
    qdrant::QueryPoints request;
    request.set_collection_name("h");
    request.mutable_query()->mutable_nearest()->mutable_id()->set_num(2);
    request.set_using_("d");
    request.set_limit(5);
    request.mutable_lookup_from()->set_collection_name("other");
    request.mutable_lookup_from()->set_vector_name("v");
    qdrant::QueryResponse reply =
        Call<qdrant::QueryResponse>(*stub, &qdrant::Points::Stub::Query, request);
    CHECK_SAME(GrpcHits(reply.result()),
               BruteForce([&](uint64_t id) { return Cos(DenseOf(502), DenseOf(id)); }, 5));
    // Refusals: an unknown collection, a missing point, a vector of another size.
    HttpResponse unknown = Post(node, "/collections/h/points/query",
                                R"({"query":1,"using":"d","lookup_from":{"collection":"nope"}})");
    CHECK(unknown.status == 404);
    CHECK(unknown.body.find("Collection `nope` doesn't exist") != std::string::npos);
    HttpResponse missing =
        Post(node, "/collections/h/points/query", R"({"query":7,"using":"d",)" + lookup + "}");
    CHECK(missing.status == 404);
    CHECK(missing.body.find("No point with id 7 found in collection `other`") != std::string::npos);
    HttpResponse size = Post(node, "/collections/h/points/query",
                             R"({"query":{"recommend":{"positive":[1]}},"using":"d",)"
                             R"("lookup_from":{"collection":"other","vector":"w"}})");
    CHECK(size.status == 400);
    CHECK(size.body.find("expected dim: 4, got 3") != std::string::npos);
  }

  SECTION("sample: random points, among the filtered or the prefetched") {
    Hits first = Query(node, R"({"query":{"sample":"random"},"limit":10,)"
                             R"("filter":{"must":[{"key":"g","match":{"value":3}}]}})");
    REQUIRE(first.size() == 10);
    std::set<uint64_t> ids;
    for (const Hit& h : first) {
      CHECK(h.id % 5 == 3);
      CHECK(h.score == 0.0f);
      ids.insert(h.id);
    }
    CHECK(ids.size() == 10);
    // Another draw of 10 of the 24 is the same set once in C(24, 10) = 1,961,256 tries.
    Hits second = Query(node, R"({"query":{"sample":"random"},"limit":10,)"
                              R"("filter":{"must":[{"key":"g","match":{"value":3}}]}})");
    std::set<uint64_t> again;
    for (const Hit& h : second) again.insert(h.id);
    CHECK(again != ids);
    // Over a prefetch: drawn from its 5 points only.
    Hits within =
        Query(node, R"({"prefetch":{"query":)" + Json(v) +
                        R"(,"using":"d","limit":5},"query":{"sample":"random"},"limit":3})");
    Hits top5 = Query(node, R"({"query":)" + Json(v) + R"(,"using":"d","limit":5})");
    REQUIRE(within.size() == 3);
    for (const Hit& h : within) {
      CHECK(std::any_of(top5.begin(), top5.end(), [&](const Hit& t) { return t.id == h.id; }));
    }
    qdrant::QueryPoints request;
    request.set_collection_name("h");
    request.mutable_query()->set_sample(qdrant::Random);
    request.set_limit(7);
    qdrant::QueryResponse reply =
        Call<qdrant::QueryResponse>(*stub, &qdrant::Points::Stub::Query, request);
    CHECK(reply.result_size() == 7);
  }

  SECTION("order_by over a prefetch: the prefetched points by a payload field") {
    REQUIRE(HttpRequest(node.http_port(), "PUT", "/collections/h/index?wait=true",
                        R"({"field_name":"g","field_schema":"integer"})")
                .status == 200);
    Hits dense = Query(node, dense_prefetch);
    REQUIRE(dense.size() == 20);
    // Descending by g, ties by id descending (Qdrant's (value, id) order).
    std::vector<uint64_t> want;
    for (const Hit& h : dense) want.push_back(h.id);
    std::sort(want.begin(), want.end(),
              [](uint64_t a, uint64_t b) { return a % 5 != b % 5 ? a % 5 > b % 5 : a > b; });
    want.resize(6);
    HttpResponse r = Post(node, "/collections/h/points/query",
                          R"({"prefetch":)" + dense_prefetch +
                              R"(,"query":{"order_by":{"key":"g","direction":"desc"}},"limit":6})");
    INFO(r.body);
    REQUIRE(r.status == 200);
    rapidjson::Document d = ParseJson(r.body);
    std::vector<uint64_t> got;
    for (const auto& p : d["result"]["points"].GetArray()) {
      got.push_back(p["id"].GetUint64());
      CHECK(p["order_value"].GetInt64() == int64_t(p["id"].GetUint64() % 5));
    }
    CHECK(got == want);
    qdrant::QueryPoints request;
    request.set_collection_name("h");
    qdrant::PrefetchQuery* p = request.add_prefetch();
    SetDense(p->mutable_query()->mutable_nearest(), v);
    p->set_using_("d");
    p->set_limit(20);
    request.mutable_query()->mutable_order_by()->set_key("g");
    request.mutable_query()->mutable_order_by()->set_direction(qdrant::Desc);
    request.set_limit(6);
    qdrant::QueryResponse reply =
        Call<qdrant::QueryResponse>(*stub, &qdrant::Points::Stub::Query, request);
    std::vector<uint64_t> grpc_ids;
    for (const auto& point : reply.result()) grpc_ids.push_back(point.id().num());
    CHECK(grpc_ids == want);
    // Without a range index on the key: Qdrant's refusal.
    HttpResponse unindexed =
        Post(node, "/collections/h/points/query",
             R"({"prefetch":)" + dense_prefetch + R"(,"query":{"order_by":"tag"}})");
    CHECK(unindexed.status == 400);
    CHECK(unindexed.body.find("No range index for `order_by` key") != std::string::npos);
  }

  SECTION("queries these parts cannot make are refused with what is wrong") {
    struct Case {
      std::string body;
      int status;
      std::string says;
    };
    const std::vector<Case> cases = {
        {R"({"query":{"fusion":"rrf"}})", 400, "fusion needs `prefetch`"},
        {R"({"prefetch":[)" + dense_prefetch + "," + sparse_prefetch + "]}", 400,
         "several prefetches need a `query`"},
        {R"({"query":{"recommend":{"negative":[3]}},"using":"d"})", 400,
         "At least one positive vector ID required"},
        {R"({"query":{"recommend":{"positive":[[1,2]]}},"using":"d"})", 400,
         "Vector dimension error: expected dim: 4, got 2"},
        {R"({"query":{"recommend":{"positive":[9999]}},"using":"d"})", 404,
         "No point with id 9999 found"},
        {R"({"query":{"recommend":{"positive":[1]}},"using":"nope"})", 400,
         "Not existing vector name error: nope"},
        {R"({"query":{"recommend":{"positive":[1],"strategy":"worst"}},"using":"d"})", 400,
         "strategy: unknown variant"},
        {R"({"query":{"formula":{"sum":[1]}}})", 400, "not supported by this server yet"},
        {R"({"query":{"sample":"all"}})", 400, "expected `random`"},
        {R"({"query":{"fusion":"max"}})", 400, "expected `rrf` or `dbsf`"},
        {R"({"prefetch":[)" + dense_prefetch + "," + sparse_prefetch +
             R"(],"query":{"rrf":{"weights":[1,2,3]}}})",
         400, "rrf has 3 weights for 2 prefetches"},
    };
    for (const Case& c : cases) {
      HttpResponse r = Post(node, "/collections/h/points/query", c.body);
      INFO(c.body << " -> " << r.status << " " << r.body);
      CHECK(r.status == c.status);
      CHECK(r.body.find(c.says) != std::string::npos);
    }
    qdrant::QueryPoints request;
    request.set_collection_name("h");
    request.mutable_query()->set_fusion(qdrant::RRF);
    grpc::ClientContext context;
    Deadline(context);
    qdrant::QueryResponse reply;
    grpc::Status s = stub->Query(&context, request, &reply);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().find("fusion needs `prefetch`") != std::string::npos);
    // Still serving.
    CHECK(Query(node, dense_prefetch).size() == 20);
  }
}
