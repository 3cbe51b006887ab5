// Service endpoints of issue #21 item 7 against one real qdrantd: GET/DELETE /issues (an
// unindexed field filtered on in a big collection, resolved by creating its index),
// GET /collections/{c}/optimizations (the optimizer's runs, Qdrant's OptimizationsResponse) and
// /telemetry's details_level.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "tests/support/json.h"
#include "tests/support/node.h"
#include "tests/support/process.h"

using namespace qd::test;
using namespace std::chrono_literals;

namespace {

HttpResponse Send(const Node& n, const char* method, const std::string& path,
                  const std::string& body = "") {
  return HttpRequest(n.http_port(), method, path, body, {{"content-type", "application/json"}});
}

// `count` points from `first` on, 2-d, with payload {"city": "c<i % 10>", "n": i}.
void Upsert(const Node& n, const std::string& collection, int first, int count) {
  std::string body = R"({"points":[)";
  for (int i = first; i < first + count; ++i) {
    body += (i > first ? "," : "") + std::string(R"({"id":)") + std::to_string(i) +
            R"(,"vector":[)" + std::to_string(i % 7) + "," + std::to_string(i % 5 + 1) +
            R"(],"payload":{"city":"c)" + std::to_string(i % 10) + R"(","n":)" + std::to_string(i) +
            "}}";
  }
  HttpResponse r = Send(n, "PUT", "/collections/" + collection + "/points?wait=true", body + "]}");
  INFO(r.body);
  REQUIRE(r.status == 200);
}

// GET /issues.
rapidjson::Document Issues(const Node& n) {
  HttpResponse r = Send(n, "GET", "/issues");
  INFO(r.body);
  REQUIRE(r.status == 200);
  return Json(r);
}

const rapidjson::Value* FindIssue(const rapidjson::Document& issues, const std::string& id) {
  for (const auto& issue : issues["result"]["issues"].GetArray()) {
    if (issue["id"].GetString() == id) return &issue;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("/issues reports an unindexed field filtered on, until it is indexed", "[integration]") {
  Node node;
  REQUIRE(node.WaitReady());
  REQUIRE(
      Send(node, "PUT", "/collections/big", R"({"vectors":{"size":2,"distance":"Dot"}})").status ==
      200);
  REQUIRE(Send(node, "PUT", "/collections/small", R"({"vectors":{"size":2,"distance":"Dot"}})")
              .status == 200);
  for (int first = 0; first < 10000; first += 2500) Upsert(node, "big", first, 2500);
  Upsert(node, "small", 0, 100);
  CHECK(Issues(node)["result"]["issues"].Size() == 0);

  const std::string by_city =
      R"({"vector":[1,1],"filter":{"must":[{"key":"city","match":{"value":"c3"}}]}})";
  const std::string by_n = R"({"filter":{"must":[{"key":"n","range":{"gte":10}}]}})";
  REQUIRE(Send(node, "POST", "/collections/small/points/search", by_city).status == 200);
  // A collection looks at most once a second: ask until it has looked.
  bool seen = PollUntil(
      [&] {
        REQUIRE(Send(node, "POST", "/collections/big/points/search", by_city).status == 200);
        REQUIRE(Send(node, "POST", "/collections/big/points/count", by_n).status == 200);
        rapidjson::Document issues = Issues(node);
        return FindIssue(issues, "UNINDEXED_FIELD/big/city") != nullptr &&
               FindIssue(issues, "UNINDEXED_FIELD/big/n") != nullptr;
      },
      20s);
  REQUIRE(seen);
  rapidjson::Document issues = Issues(node);
  CHECK(issues["result"]["issues"].Size() == 2);  // none for the small collection
  const rapidjson::Value& city = *FindIssue(issues, "UNINDEXED_FIELD/big/city");
  CHECK(std::string(city["description"].GetString()) ==
        "Unindexed field 'city' might be slowing queries down in collection 'big'");
  const rapidjson::Value& action = city["solution"]["immediate"]["action"];
  CHECK(std::string(action["method"].GetString()) == "PUT");
  CHECK(std::string(action["uri"].GetString()) == "/collections/big/index");
  CHECK(std::string(action["body"]["field_schema"].GetString()) == "keyword");
  CHECK(std::string((*FindIssue(
            issues,
            "UNINDEXED_FIELD/big/n"))["solution"]["immediate"]["action"]["body"]["field_schema"]
                        .GetString()) == "integer");

  // The action it proposes works, and solves the issue.
  HttpResponse index =
      Send(node, action["method"].GetString(),
           std::string(action["uri"].GetString()) + "?wait=true", ToJson(action["body"]));
  INFO(index.body);
  REQUIRE(index.status == 200);
  issues = Issues(node);
  CHECK(FindIssue(issues, "UNINDEXED_FIELD/big/city") == nullptr);
  CHECK(FindIssue(issues, "UNINDEXED_FIELD/big/n") != nullptr);

  HttpResponse cleared = Send(node, "DELETE", "/issues");
  CHECK(cleared.status == 200);
  CHECK(Json(cleared)["result"].GetBool());
  CHECK(Issues(node)["result"]["issues"].Size() == 0);
}

TEST_CASE("/collections/{c}/optimizations lists the optimizer's runs in Qdrant's shape",
          "[integration]") {
  Node node;
  REQUIRE(node.WaitReady());
  REQUIRE(Send(node, "PUT", "/collections/o",
               R"({"vectors":{"size":2,"distance":"Dot"},
                   "optimizers_config":{"deleted_threshold":0.1,"vacuum_min_vector_number":100}})")
              .status == 200);
  HttpResponse empty = Send(node, "GET", "/collections/o/optimizations?with=idle_segments");
  INFO(empty.body);
  REQUIRE(empty.status == 200);
  rapidjson::Document idle = Json(empty);
  CHECK(idle["result"]["summary"]["queued_optimizations"].GetUint() == 0);
  CHECK(idle["result"]["summary"]["idle_segments"].GetUint() == 1);
  CHECK(idle["result"]["running"].Size() == 0);
  CHECK(idle["result"]["idle_segments"].Size() == 1);
  CHECK_FALSE(idle["result"].HasMember("completed"));

  Upsert(node, "o", 0, 300);
  REQUIRE(Send(node, "POST", "/collections/o/points/delete?wait=true",
               R"({"filter":{"must":[{"key":"n","range":{"lt":100}}]}})")
              .status == 200);
  // The deleted fraction is looked at every 16 updates.
  for (int i = 0; i < 20; ++i) Upsert(node, "o", 1000 + i, 1);
  rapidjson::Document done;
  bool finished = PollUntil(
      [&] {
        done = Json(Send(node, "GET", "/collections/o/optimizations?with=completed,queued"));
        return done["result"]["completed"].Size() > 0;
      },
      30s);
  INFO(ToJson(done));
  REQUIRE(finished);
  const rapidjson::Value& run = done["result"]["completed"][0];
  CHECK(std::string(run["optimizer"].GetString()) == "vacuum");
  CHECK(std::string(run["status"].GetString()) == "done");
  CHECK(std::string(run["uuid"].GetString()).size() == 36);
  CHECK(run["segments"].Size() == 1);
  CHECK(run["segments"][0]["uuid"] == idle["result"]["idle_segments"][0]["uuid"]);
  CHECK(run["progress"]["started_at"].IsString());
  CHECK(run["progress"]["finished_at"].IsString());
  CHECK(run["progress"]["duration_sec"].GetDouble() >= 0);
  CHECK(done["result"]["queued"].IsArray());

  CHECK(Json(Send(
            node, "GET",
            "/collections/o/optimizations?with=completed&completed_limit=0"))["result"]["completed"]
            .Size() == 0);
  HttpResponse bad = Send(node, "GET", "/collections/o/optimizations?with=everything");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("unknown variant `everything`") != std::string::npos);
  CHECK(Send(node, "GET", "/collections/none/optimizations").status == 404);
}

TEST_CASE("/telemetry details its collections by details_level", "[integration][metrics]") {
  Node node;
  REQUIRE(node.WaitReady());
  REQUIRE(Send(node, "PUT", "/collections/t",
               R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":2})")
              .status == 200);
  Upsert(node, "t", 0, 50);

  rapidjson::Document level0 = Json(Send(node, "GET", "/telemetry"));
  const rapidjson::Value& aggregated = level0["result"]["collections"]["collections"][0];
  CHECK(aggregated["vectors"].GetUint() == 50);
  CHECK(std::string(aggregated["optimizers_status"].GetString()) == "ok");
  CHECK(aggregated["params"]["shard_number"].GetUint() == 2);
  CHECK_FALSE(aggregated.HasMember("id"));

  rapidjson::Document level1 = Json(Send(node, "GET", "/telemetry?details_level=1"));
  const rapidjson::Value& full = level1["result"]["collections"]["collections"][0];
  CHECK(std::string(full["id"].GetString()) == "t");
  CHECK(full["config"]["params"]["vectors"]["size"].GetUint() == 2);
  CHECK(full["config"].HasMember("strict_mode_config"));
  CHECK_FALSE(full.HasMember("shards"));

  rapidjson::Document level2 = Json(Send(node, "GET", "/telemetry?details_level=2"));
  const rapidjson::Value& shards = level2["result"]["collections"]["collections"][0]["shards"];
  REQUIRE(shards.Size() == 2);
  uint64_t points = 0;
  for (const auto& shard : shards.GetArray()) points += shard["local"]["num_points"].GetUint();
  CHECK(points == 50);
  CHECK(shards[1]["id"].GetUint() == 1);

  CHECK(Send(node, "GET", "/telemetry?details_level=x").status == 400);
}
