// One query path for both APIs (router/query.h): the same queries sent through REST and through
// gRPC to one real qdrantd give the same points and scores — nearest to a vector, to a stored
// point (which is left out, with offsets exact), ordered by a payload field, listed, filtered,
// with a score threshold and through the legacy search — and reads take a read consistency.
#include <grpcpp/grpcpp.h>
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "points_service.grpc.pb.h"
#include "tests/support/json.h"
#include "tests/support/node.h"

using namespace qd::test;

namespace Catch {
template <>
struct StringMaker<std::pair<uint64_t, float>> {
  static std::string convert(const std::pair<uint64_t, float>& hit) {
    char text[64];
    std::snprintf(text, sizeof text, "%llu:%.9g", static_cast<unsigned long long>(hit.first),
                  static_cast<double>(hit.second));
    return text;
  }
};
}  // namespace Catch

namespace {

using Hits = std::vector<std::pair<uint64_t, float>>;  // (id, score) in answer order

HttpResponse Post(const Node& n, const std::string& path, const std::string& body) {
  return HttpRequest(n.http_port(), "POST", path, body, {{"content-type", "application/json"}});
}

// 4-d vectors from a fixed formula, so that scores are distinct and the test repeatable.
std::vector<float> VectorOf(uint64_t id) {
  return {std::sin(static_cast<float>(id)), std::cos(static_cast<float>(id) * 0.7f),
          static_cast<float>(id % 7) / 7.0f, 0.5f};
}

// Exactly the floats gRPC sends (9 significant digits round-trip a float).
std::string Json(const std::vector<float>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", static_cast<double>(v[i]));
    out += (i ? "," : "") + std::string(text);
  }
  return out + "]";
}

Hits RestHits(const Node& node, const std::string& path, const std::string& body) {
  HttpResponse r = Post(node, path, body);
  INFO(path << " " << body << " -> " << r.body);
  REQUIRE(r.status == 200);
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  const rapidjson::Value& result = doc["result"];
  const rapidjson::Value& points = result.IsObject() ? result["points"] : result;
  Hits out;
  for (const auto& p : points.GetArray()) {
    out.emplace_back(p["id"].GetUint64(), static_cast<float>(p["score"].GetDouble()));
  }
  return out;
}

template <typename Points>
Hits GrpcHits(const Points& points) {
  Hits out;
  for (const auto& p : points) out.emplace_back(p.id().num(), p.score());
  return out;
}

qdrant::Condition GroupIs(int64_t g) {
  qdrant::Condition c;
  c.mutable_field()->set_key("g");
  c.mutable_field()->mutable_match()->set_integer(g);
  return c;
}

void Deadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
}

}  // namespace

TEST_CASE("queries answer the same through REST and gRPC", "[integration][grpc][query]") {
  Node node;
  REQUIRE(node.WaitReady());
  REQUIRE(HttpRequest(node.http_port(), "PUT", "/collections/q",
                      R"({"vectors":{"size":4,"distance":"Cosine"},"shard_number":3})")
              .status == 200);
  REQUIRE(HttpRequest(node.http_port(), "PUT", "/collections/q/index?wait=true",
                      R"({"field_name":"n","field_schema":"integer"})")
              .status == 200);
  std::string body = R"({"points":[)";
  for (uint64_t id = 1; id <= 120; ++id) {
    body += (id > 1 ? "," : "") + std::string(R"({"id":)") + std::to_string(id) + R"(,"vector":)" +
            Json(VectorOf(id)) + R"(,"payload":{"g":)" + std::to_string(id % 5) + R"(,"n":)" +
            std::to_string((id * 37) % 101) + "}}";
  }
  REQUIRE(
      HttpRequest(node.http_port(), "PUT", "/collections/q/points?wait=true", body + "]}").status ==
      200);

  auto stub = qdrant::Points::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(node.grpc_port()), grpc::InsecureChannelCredentials()));
  auto grpc_query = [&](const std::function<void(qdrant::QueryPoints&)>& fill) {
    qdrant::QueryPoints request;
    request.set_collection_name("q");
    fill(request);
    grpc::ClientContext context;
    Deadline(context);
    qdrant::QueryResponse reply;
    grpc::Status s = stub->Query(&context, request, &reply);
    INFO(s.error_message());
    REQUIRE(s.ok());
    return GrpcHits(reply.result());
  };
  const std::vector<float> v = VectorOf(1000);
  auto set_nearest = [&](qdrant::QueryPoints& r) {
    for (float x : v) r.mutable_query()->mutable_nearest()->mutable_dense()->add_data(x);
  };

  SECTION("nearest to a vector, with offsets") {
    Hits all =
        RestHits(node, "/collections/q/points/query", R"({"query":)" + Json(v) + R"(,"limit":20})");
    REQUIRE(all.size() == 20);
    CHECK(all == grpc_query([&](auto& r) { set_nearest(r), r.set_limit(20); }));
    Hits page = RestHits(node, "/collections/q/points/query",
                         R"({"query":)" + Json(v) + R"(,"limit":5,"offset":7})");
    CHECK(page == Hits(all.begin() + 7, all.begin() + 12));
    CHECK(page == grpc_query([&](auto& r) { set_nearest(r), r.set_limit(5), r.set_offset(7); }));
  }

  SECTION("nearest to a vector with a filter and a score threshold") {
    Hits rest = RestHits(node, "/collections/q/points/query",
                         R"({"query":)" + Json(v) +
                             R"(,"limit":8,"offset":2,"score_threshold":0.5,)"
                             R"("filter":{"must":[{"key":"g","match":{"value":2}}]}})");
    REQUIRE_FALSE(rest.empty());
    for (const auto& [id, score] : rest) {
      CHECK(id % 5 == 2);
      CHECK(score >= 0.5f);
    }
    CHECK(rest == grpc_query([&](auto& r) {
            set_nearest(r);
            r.set_limit(8);
            r.set_offset(2);
            r.set_score_threshold(0.5f);
            *r.mutable_filter()->add_must() = GroupIs(2);
          }));
  }

  SECTION("nearest to a stored point leaves the point out, offsets exact") {
    Hits all = RestHits(node, "/collections/q/points/query", R"({"query":17,"limit":15})");
    REQUIRE(all.size() == 15);
    for (const auto& hit : all) CHECK(hit.first != 17);
    Hits page =
        RestHits(node, "/collections/q/points/query", R"({"query":17,"limit":5,"offset":4})");
    CHECK(page == Hits(all.begin() + 4, all.begin() + 9));
    CHECK(page == grpc_query([&](auto& r) {
            r.mutable_query()->mutable_nearest()->mutable_id()->set_num(17);
            r.set_limit(5);
            r.set_offset(4);
          }));
    Hits filtered =
        RestHits(node, "/collections/q/points/query",
                 R"({"query":17,"limit":5,"filter":{"must":[{"key":"g","match":{"value":2}}]}})");
    for (const auto& hit : filtered) CHECK((hit.first % 5 == 2 && hit.first != 17));
    CHECK(filtered == grpc_query([&](auto& r) {
            r.mutable_query()->mutable_nearest()->mutable_id()->set_num(17);
            r.set_limit(5);
            *r.mutable_filter()->add_must() = GroupIs(2);
          }));
    HttpResponse missing = Post(node, "/collections/q/points/query", R"({"query":999})");
    CHECK(missing.status == 404);
    CHECK(missing.body.find("No point with id 999 found") != std::string::npos);
  }

  SECTION("ordered by a payload field, and listed") {
    Hits ordered =
        RestHits(node, "/collections/q/points/query",
                 R"({"query":{"order_by":{"key":"n","direction":"desc"}},"limit":6,"offset":2})");
    REQUIRE(ordered.size() == 6);
    CHECK(ordered == grpc_query([&](auto& r) {
            r.mutable_query()->mutable_order_by()->set_key("n");
            r.mutable_query()->mutable_order_by()->set_direction(qdrant::Desc);
            r.set_limit(6);
            r.set_offset(2);
          }));
    Hits listed = RestHits(node, "/collections/q/points/query", R"({"limit":6,"offset":3})");
    CHECK(listed == Hits{{4, 0.f}, {5, 0.f}, {6, 0.f}, {7, 0.f}, {8, 0.f}, {9, 0.f}});
    CHECK(listed == grpc_query([&](auto& r) { r.set_limit(6), r.set_offset(3); }));
  }

  SECTION("the legacy search and search batch") {
    Hits rest = RestHits(node, "/collections/q/points/search",
                         R"({"vector":)" + Json(v) + R"(,"limit":6,"offset":3})");
    qdrant::SearchPoints request;
    request.set_collection_name("q");
    for (float x : v) request.add_vector(x);
    request.set_limit(6);
    request.set_offset(3);
    grpc::ClientContext context;
    Deadline(context);
    qdrant::SearchResponse reply;
    REQUIRE(stub->Search(&context, request, &reply).ok());
    CHECK(rest == GrpcHits(reply.result()));
    CHECK(rest == RestHits(node, "/collections/q/points/query",
                           R"({"query":)" + Json(v) + R"(,"limit":6,"offset":3})"));
  }

  SECTION("reads take a read consistency; a wrong one is refused with its value") {
    Hits plain =
        RestHits(node, "/collections/q/points/query", R"({"query":)" + Json(v) + R"(,"limit":5})");
    for (const char* c : {"all", "majority", "quorum", "2"}) {
      CHECK(plain == RestHits(node, std::string("/collections/q/points/query?consistency=") + c,
                              R"({"query":)" + Json(v) + R"(,"limit":5})"));
    }
    CHECK(plain == grpc_query([&](auto& r) {
            set_nearest(r);
            r.set_limit(5);
            r.mutable_read_consistency()->set_type(qdrant::All);
          }));
    for (const char* path : {"/collections/q/points/query?consistency=most",
                             "/collections/q/points/scroll?consistency=0",
                             "/collections/q/points/count?consistency=-2"}) {
      HttpResponse r = Post(node, path, "{}");
      INFO(path << " -> " << r.body);
      CHECK(r.status == 400);
      CHECK(r.body.find("consistency `") != std::string::npos);
    }
  }
}
