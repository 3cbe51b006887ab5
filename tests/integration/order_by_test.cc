// order_by on a real qdrantd: scroll and query ordered by a payload field over REST and gRPC,
// on one shard and on three. Every expected order is computed here from the points the test
// wrote (sorted by value, ties by id in the same direction, as Qdrant sorts), never copied from
// the server's own output.
#include <grpcpp/grpcpp.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "points_service.grpc.pb.h"
#include "tests/support/json.h"
#include "tests/support/node.h"

using namespace qd::test;

namespace {

HttpResponse Send(const Node& n, const char* method, const std::string& path,
                  const std::string& body) {
  return HttpRequest(n.http_port(), method, path, body, {{"content-type", "application/json"}});
}

const char kNoRangeIndex[] =
    "`. Please create one to use `order_by`. Check "
    "https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload "
    "schemas support Range conditions";

// One point as written: `price` is missing on every 7th point; many prices tie.
struct P {
  uint64_t id;
  std::optional<int64_t> price;
  double weight;  // distinct floats
  int day;        // "at": 2024-01-<day>T<hour>:00:00Z
  int hour;
  std::string color;
};

std::string At(const P& p) {
  char text[32];
  std::snprintf(text, sizeof text, "2024-01-%02dT%02d:00:00Z", p.day, p.hour);
  return text;
}

std::vector<P> MakePoints() {
  std::mt19937 rng(7);
  std::vector<P> out;
  for (uint64_t id = 1; id <= 60; ++id) {
    P p;
    p.id = id;
    if (id % 7 != 0) p.price = static_cast<int64_t>(rng() % 15) - 5;
    p.weight = static_cast<double>(rng() % 100000) / 64.0 + static_cast<double>(id) / 1024.0;
    p.day = 1 + static_cast<int>(rng() % 9);
    p.hour = static_cast<int>(rng() % 24);
    p.color = rng() % 3 == 0 ? "red" : "blue";
    out.push_back(p);
  }
  return out;
}

// The ids Qdrant returns: points with a value passing `keep`, by (value, id), both ascending or
// both descending, the first `limit`.
template <typename V>
std::vector<uint64_t> Expected(const std::vector<P>& points,
                               const std::function<std::optional<V>(const P&)>& value,
                               bool descending, size_t limit,
                               const std::function<bool(const P&, V)>& keep) {
  std::vector<std::pair<V, uint64_t>> pairs;
  for (const P& p : points) {
    std::optional<V> v = value(p);
    if (v && keep(p, *v)) pairs.emplace_back(*v, p.id);
  }
  std::sort(pairs.begin(), pairs.end());
  if (descending) std::reverse(pairs.begin(), pairs.end());
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < pairs.size() && i < limit; ++i) ids.push_back(pairs[i].second);
  return ids;
}

std::optional<int64_t> Price(const P& p) { return p.price; }
std::optional<double> Weight(const P& p) { return p.weight; }
std::optional<int64_t> Hours(const P& p) { return int64_t{p.day} * 24 + p.hour; }

std::vector<uint64_t> Ids(const rapidjson::Value& points) {
  std::vector<uint64_t> ids;
  for (const auto& p : points.GetArray()) ids.push_back(p["id"].GetUint64());
  return ids;
}

// A collection "c" with `shards` shards, range indexes on price, weight and at, a keyword index
// on color, and the points of MakePoints().
void Setup(const Node& node, int shards, const std::vector<P>& points) {
  REQUIRE(Send(node, "PUT", "/collections/c",
               R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":)" +
                   std::to_string(shards) + "}")
              .status == 200);
  for (const char* index : {R"({"field_name":"price","field_schema":"integer"})",
                            R"({"field_name":"weight","field_schema":"float"})",
                            R"({"field_name":"at","field_schema":"datetime"})",
                            R"({"field_name":"color","field_schema":"keyword"})"}) {
    HttpResponse r = Send(node, "PUT", "/collections/c/index?wait=true", index);
    INFO(r.body);
    REQUIRE(r.status == 200);
  }
  std::string body = R"({"points":[)";
  for (const P& p : points) {
    if (p.id > 1) body += ",";
    body += R"({"id":)" + std::to_string(p.id) + R"(,"vector":[1,0],"payload":{)";
    if (p.price) body += R"("price":)" + std::to_string(*p.price) + ",";
    char weight[64];
    std::snprintf(weight, sizeof weight, "%.17g", p.weight);
    body += R"("weight":)" + std::string(weight) + R"(,"at":")" + At(p) + R"(","color":")" +
            p.color + R"("}})";
  }
  body += "]}";
  HttpResponse r = Send(node, "PUT", "/collections/c/points?wait=true", body);
  INFO(r.body);
  REQUIRE(r.status == 200);
}

rapidjson::Document Scroll(const Node& node, const std::string& body) {
  HttpResponse r = Send(node, "POST", "/collections/c/points/scroll", body);
  INFO(body << " -> " << r.body);
  REQUIRE(r.status == 200);
  return Json(r);
}

std::shared_ptr<grpc::Channel> Channel(const Node& node) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(node.grpc_port()),
                             grpc::InsecureChannelCredentials());
}

}  // namespace

TEST_CASE("REST scroll with order_by: directions, start_from, filter, datetime, shards",
          "[integration][order_by]") {
  const std::vector<P> points = MakePoints();
  const auto any = [](const P&, auto) { return true; };
  for (int shards : {1, 3}) {
    DYNAMIC_SECTION("shards " << shards) {
      Node node;
      REQUIRE(node.WaitReady());
      Setup(node, shards, points);

      // The key alone: ascending, points without a price left out, order_value the price.
      rapidjson::Document d = Scroll(node, R"({"order_by":"price","limit":100})");
      const auto& page = d["result"]["points"];
      CHECK(Ids(page) == Expected<int64_t>(points, Price, false, 100, any));
      CHECK(page.Size() == 52);  // 60 less the 8 without price
      CHECK(d["result"]["next_page_offset"].IsNull());
      for (const auto& p : page.GetArray()) {
        const P& written = points[p["id"].GetUint64() - 1];
        REQUIRE(p["order_value"].IsInt64());
        CHECK(p["order_value"].GetInt64() == *written.price);
        CHECK(p["payload"]["color"] == written.color.c_str());  // with_payload defaults to true
      }

      d = Scroll(node, R"({"order_by":{"key":"price","direction":"desc"},"limit":17})");
      CHECK(Ids(d["result"]["points"]) == Expected<int64_t>(points, Price, true, 17, any));
      CHECK(d["result"]["next_page_offset"].IsNull());

      // start_from is inclusive; a float bound on an integer key.
      d = Scroll(node, R"({"order_by":{"key":"price","start_from":3},"limit":100})");
      CHECK(
          Ids(d["result"]["points"]) ==
          Expected<int64_t>(points, Price, false, 100, [](const P&, int64_t v) { return v >= 3; }));
      d = Scroll(node,
                 R"({"order_by":{"key":"price","direction":"desc","start_from":2.5},"limit":9})");
      CHECK(Ids(d["result"]["points"]) ==
            Expected<int64_t>(points, Price, true, 9, [](const P&, int64_t v) { return v <= 2; }));

      // The filter applies (an indexed keyword, then a must_not no index answers).
      d = Scroll(node, R"({"order_by":{"key":"price","direction":"desc"},"limit":100,)"
                       R"("filter":{"must":[{"key":"color","match":{"value":"red"}}]}})");
      CHECK(Ids(d["result"]["points"]) ==
            Expected<int64_t>(points, Price, true, 100,
                              [](const P& p, int64_t) { return p.color == "red"; }));
      d = Scroll(node, R"({"order_by":{"key":"price","start_from":0},"limit":6,)"
                       R"("filter":{"must_not":[{"key":"color","match":{"value":"red"}}]}})");
      CHECK(Ids(d["result"]["points"]) ==
            Expected<int64_t>(points, Price, false, 6,
                              [](const P& p, int64_t v) { return v >= 0 && p.color != "red"; }));

      // Floats: order_value is the number itself.
      d = Scroll(node, R"({"order_by":{"key":"weight","direction":"desc"},"limit":5})");
      CHECK(Ids(d["result"]["points"]) == Expected<double>(points, Weight, true, 5, any));
      for (const auto& p : d["result"]["points"].GetArray()) {
        CHECK(p["order_value"].GetDouble() == points[p["id"].GetUint64() - 1].weight);
      }

      // Datetimes, start_from an RFC 3339 string; order_value is UTC microseconds.
      d = Scroll(node, R"({"order_by":{"key":"at","start_from":"2024-01-05T00:00:00Z"},)"
                       R"("limit":100,"with_payload":false})");
      CHECK(Ids(d["result"]["points"]) ==
            Expected<int64_t>(points, Hours, false, 100,
                              [](const P& p, int64_t) { return p.day >= 5; }));
      for (const auto& p : d["result"]["points"].GetArray()) {
        const P& written = points[p["id"].GetUint64() - 1];
        const int64_t micros =
            (1704067200LL + (written.day - 1) * 86400LL + written.hour * 3600LL) * 1000000LL;
        CHECK(p["order_value"].GetInt64() == micros);
        CHECK(p["payload"].IsNull());
      }
      d = Scroll(node, R"({"order_by":{"key":"at","direction":"desc",)"
                       R"("start_from":"2024-01-05T00:00:00+01:00"},"limit":100})");
      CHECK(Ids(d["result"]["points"]) ==
            Expected<int64_t>(points, Hours, true, 100, [](const P&, int64_t h) {
              return h <= 4 * 24 + 23;  // at or before 2024-01-04T23:00Z
            }));
    }
  }
}

TEST_CASE("REST order_by refusals: no range index, offset, bad shapes", "[integration][order_by]") {
  Node node;
  REQUIRE(node.WaitReady());
  Setup(node, 2, MakePoints());
  for (const char* key : {"color", "nothing"}) {
    HttpResponse r = Send(node, "POST", "/collections/c/points/scroll",
                          std::string(R"({"order_by":")") + key + "\"}");
    INFO(r.body);
    CHECK(r.status == 400);
    CHECK(Json(r)["status"]["error"].GetString() ==
          std::string("Bad request: No range index for `order_by` key: `") + key + kNoRangeIndex);
  }
  HttpResponse offset =
      Send(node, "POST", "/collections/c/points/scroll", R"({"order_by":"price","offset":3})");
  INFO(offset.body);
  CHECK(offset.status == 400);
  CHECK(std::string(Json(offset)["status"]["error"].GetString())
            .rfind("Bad request: Cannot use an `offset` when using `order_by`", 0) == 0);
  HttpResponse direction = Send(node, "POST", "/collections/c/points/scroll",
                                R"({"order_by":{"key":"price","direction":"up"}})");
  CHECK(direction.status == 400);
  CHECK(direction.body.find("order_by.direction") != std::string::npos);
  HttpResponse query =
      Send(node, "POST", "/collections/c/points/query", R"({"query":{"order_by":"color"}})");
  CHECK(query.status == 400);
  CHECK(query.body.find("No range index for `order_by` key: `color`") != std::string::npos);
}

TEST_CASE("REST query with order_by answers scored points in the scroll's order",
          "[integration][order_by]") {
  const std::vector<P> points = MakePoints();
  Node node;
  REQUIRE(node.WaitReady());
  Setup(node, 3, points);
  HttpResponse r =
      Send(node, "POST", "/collections/c/points/query",
           R"({"query":{"order_by":{"key":"price","direction":"desc"}},"limit":8,)"
           R"("offset":2,"filter":{"must":[{"key":"color","match":{"value":"blue"}}]}})");
  INFO(r.body);
  REQUIRE(r.status == 200);
  rapidjson::Document d = Json(r);
  std::vector<uint64_t> all = Expected<int64_t>(
      points, Price, true, 10, [](const P& p, int64_t) { return p.color == "blue"; });
  CHECK(Ids(d["result"]["points"]) == std::vector<uint64_t>(all.begin() + 2, all.end()));
  for (const auto& p : d["result"]["points"].GetArray()) {
    CHECK(p["order_value"].GetInt64() == *points[p["id"].GetUint64() - 1].price);
    CHECK(p["score"].GetDouble() == 0);
  }
}

TEST_CASE("gRPC scroll and query with order_by", "[integration][order_by][grpc]") {
  const std::vector<P> points = MakePoints();
  Node node;
  REQUIRE(node.WaitReady());
  Setup(node, 3, points);
  auto stub = qdrant::Points::NewStub(Channel(node));

  qdrant::ScrollPoints scroll;
  scroll.set_collection_name("c");
  scroll.set_limit(12);
  scroll.mutable_order_by()->set_key("price");
  scroll.mutable_order_by()->set_direction(qdrant::Desc);
  scroll.mutable_order_by()->mutable_start_from()->set_integer(4);
  auto* must = scroll.mutable_filter()->add_must()->mutable_field();
  must->set_key("color");
  must->mutable_match()->set_keyword("blue");
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    qdrant::ScrollResponse reply;
    grpc::Status s = stub->Scroll(&context, scroll, &reply);
    INFO(s.error_message());
    REQUIRE(s.ok());
    std::vector<uint64_t> ids;
    for (const auto& p : reply.result()) {
      ids.push_back(p.id().num());
      REQUIRE(p.has_order_value());
      CHECK(p.order_value().int_() == *points[p.id().num() - 1].price);
    }
    CHECK(ids == Expected<int64_t>(points, Price, true, 12, [](const P& p, int64_t v) {
            return v <= 4 && p.color == "blue";
          }));
    CHECK_FALSE(reply.has_next_page_offset());
  }
  {
    // A datetime start as a protobuf Timestamp: 2024-01-03T00:00:00Z.
    qdrant::ScrollPoints by_time;
    by_time.set_collection_name("c");
    by_time.set_limit(100);
    by_time.mutable_order_by()->set_key("at");
    by_time.mutable_order_by()->mutable_start_from()->mutable_timestamp()->set_seconds(1704067200 +
                                                                                       2 * 86400);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    qdrant::ScrollResponse reply;
    grpc::Status s = stub->Scroll(&context, by_time, &reply);
    INFO(s.error_message());
    REQUIRE(s.ok());
    std::vector<uint64_t> ids;
    for (const auto& p : reply.result()) ids.push_back(p.id().num());
    CHECK(ids == Expected<int64_t>(points, Hours, false, 100,
                                   [](const P& p, int64_t) { return p.day >= 3; }));
  }
  {
    qdrant::QueryPoints query;
    query.set_collection_name("c");
    query.set_limit(5);
    query.mutable_query()->mutable_order_by()->set_key("weight");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    qdrant::QueryResponse reply;
    grpc::Status s = stub->Query(&context, query, &reply);
    INFO(s.error_message());
    REQUIRE(s.ok());
    std::vector<uint64_t> ids;
    for (const auto& p : reply.result()) {
      ids.push_back(p.id().num());
      CHECK(p.order_value().float_() == points[p.id().num() - 1].weight);
      CHECK(p.score() == 0);
    }
    CHECK(ids == Expected<double>(points, Weight, false, 5, [](const P&, double) { return true; }));
  }
  {
    qdrant::ScrollPoints bad;
    bad.set_collection_name("c");
    bad.mutable_order_by()->set_key("color");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    qdrant::ScrollResponse reply;
    grpc::Status s = stub->Scroll(&context, bad, &reply);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message() ==
          std::string("Bad request: No range index for `order_by` key: `color") + kNoRangeIndex);
  }
  {
    qdrant::ScrollPoints with_offset;
    with_offset.set_collection_name("c");
    with_offset.mutable_order_by()->set_key("price");
    with_offset.mutable_offset()->set_num(3);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    qdrant::ScrollResponse reply;
    grpc::Status s = stub->Scroll(&context, with_offset, &reply);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().rfind("Bad request: Cannot use an `offset` when using `order_by`", 0) ==
          0);
  }
}
