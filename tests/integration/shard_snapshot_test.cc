// Shard snapshots and snapshot uploads (issue #21 item 8) against one real qdrantd: a shard's
// snapshot is created, listed, downloaded and recovered into that shard alone (from a file, an
// http:// URL and a multipart upload), leaving the other shards as they are; a wrong checksum
// or another collection's snapshot recovers nothing; recovery with wait=false answers 202.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "tests/support/json.h"
#include "tests/support/node.h"
#include "tests/support/process.h"

using namespace qd::test;
using namespace std::chrono_literals;

namespace {

HttpResponse Send(const Node& n, const char* method, const std::string& path,
                  const std::string& body = "",
                  const std::string& content_type = "application/json") {
  return HttpRequest(n.http_port(), method, path, body, {{"content-type", content_type}});
}

// Collection c: 2-d, Dot, two shards.
void CreateTwoShards(Node& node) {
  REQUIRE(node.WaitReady());
  REQUIRE(Send(node, "PUT", "/collections/c",
               R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":2})")
              .status == 200);
}

void Upsert(const Node& n, int first, int count) {
  std::string body = R"({"points":[)";
  for (int i = first; i < first + count; ++i) {
    body += (i > first ? "," : "") + std::string(R"({"id":)") + std::to_string(i) +
            R"(,"vector":[1,)" + std::to_string(i) + R"(],"payload":{"i":)" + std::to_string(i) +
            "}}";
  }
  REQUIRE(Send(n, "PUT", "/collections/c/points?wait=true", body + "]}").status == 200);
}

// Points per shard of collection c, from /telemetry.
std::vector<uint64_t> ShardPoints(const Node& n) {
  rapidjson::Document t = Json(Send(n, "GET", "/telemetry?details_level=2"));
  std::vector<uint64_t> out;
  for (const auto& shard : t["result"]["collections"]["collections"][0]["shards"].GetArray()) {
    out.push_back(shard["local"]["num_points"].GetUint64());
  }
  return out;
}

// A multipart/form-data body with the file in a `snapshot` part.
std::string Form(const std::string& bytes) {
  return "--qdboundary\r\nContent-Disposition: form-data; name=\"snapshot\"; "
         "filename=\"s.snapshot\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
         bytes + "\r\n--qdboundary--\r\n";
}

const char* kFormType = "multipart/form-data; boundary=qdboundary";

}  // namespace

TEST_CASE("a shard snapshot recovers that shard alone, from a file, a URL or an upload",
          "[integration][snapshots]") {
  Node node;
  CreateTwoShards(node);
  Upsert(node, 0, 100);
  const std::vector<uint64_t> before = ShardPoints(node);
  REQUIRE(before.size() == 2);
  REQUIRE(before[0] + before[1] == 100);
  REQUIRE(before[1] > 0);

  HttpResponse created = Send(node, "POST", "/collections/c/shards/1/snapshots");
  INFO(created.body);
  REQUIRE(created.status == 200);
  rapidjson::Document d = Json(created);
  const std::string name = d["result"]["name"].GetString();
  const std::string checksum = d["result"]["checksum"].GetString();
  CHECK(name.find("c-shard-1-") == 0);
  rapidjson::Document listed = Json(Send(node, "GET", "/collections/c/shards/1/snapshots"));
  REQUIRE(listed["result"].Size() == 1);
  CHECK(listed["result"][0]["name"].GetString() == name);
  CHECK(Json(Send(node, "GET", "/collections/c/shards/0/snapshots"))["result"].Size() == 0);
  // The collection's own snapshot list does not show shard snapshots.
  CHECK(Json(Send(node, "GET", "/collections/c/snapshots"))["result"].Size() == 0);
  HttpResponse file = Send(node, "GET", "/collections/c/shards/1/snapshots/" + name);
  REQUIRE(file.status == 200);
  CHECK(file.body.size() == d["result"]["size"].GetUint64());

  // New points land in both shards; recovering shard 1 takes back only its own.
  Upsert(node, 100, 100);
  const std::vector<uint64_t> grown = ShardPoints(node);
  REQUIRE(grown[0] > before[0]);
  REQUIRE(grown[1] > before[1]);
  const std::string local = node.dir() + "/snapshots/c/shards/1/" + name;
  HttpResponse wrong = Send(
      node, "PUT", "/collections/c/shards/1/snapshots/recover",
      R"({"location":"file://)" + local + R"(","checksum":")" + std::string(64, '0') + R"("})");
  CHECK(wrong.status == 400);
  CHECK(wrong.body.find("checksum mismatch") != std::string::npos);
  CHECK(ShardPoints(node) == grown);  // nothing recovered

  HttpResponse recovered = Send(node, "PUT", "/collections/c/shards/1/snapshots/recover",
                                R"({"location":"file://)" + local + R"(","checksum":")" + checksum +
                                    R"(","priority":"snapshot"})");
  INFO(recovered.body);
  REQUIRE(recovered.status == 200);
  CHECK(ShardPoints(node) == std::vector<uint64_t>{grown[0], before[1]});
  CHECK(
      Json(Send(node, "POST", "/collections/c/points/count", "{}"))["result"]["count"].GetUint() ==
      grown[0] + before[1]);
  // The recovered shard serves reads and writes.
  CHECK(Json(Send(node, "POST", "/collections/c/points/search",
                  R"({"vector":[1,1],"limit":3})"))["result"]
            .Size() == 3);
  Upsert(node, 100, 100);
  CHECK(ShardPoints(node) == grown);

  // Over http:// from this node's own download route, then wait=false: 202, done later.
  const std::string url = "http://127.0.0.1:" + std::to_string(node.http_port()) +
                          "/collections/c/shards/1/snapshots/" + name;
  HttpResponse later = Send(node, "PUT", "/collections/c/shards/1/snapshots/recover?wait=false",
                            R"({"location":")" + url + R"("})");
  CHECK(later.status == 202);
  CHECK(Json(later)["status"] == "accepted");
  CHECK(PollUntil([&] { return ShardPoints(node)[1] == before[1]; }, 20s));
  CHECK(ShardPoints(node)[0] == grown[0]);

  // Uploaded: the downloaded bytes as a form part, with their checksum.
  Upsert(node, 100, 100);
  HttpResponse bad_sum = Send(
      node, "POST", "/collections/c/shards/1/snapshots/upload?checksum=" + std::string(64, 'f'),
      Form(file.body), kFormType);
  CHECK(bad_sum.status == 400);
  CHECK(ShardPoints(node) == grown);
  HttpResponse uploaded =
      Send(node, "POST", "/collections/c/shards/1/snapshots/upload?checksum=" + checksum,
           Form(file.body), kFormType);
  INFO(uploaded.body);
  CHECK(uploaded.status == 200);
  CHECK(ShardPoints(node) == std::vector<uint64_t>{grown[0], before[1]});
  CHECK(Send(node, "POST", "/collections/c/shards/1/snapshots/upload", "not a form", kFormType)
            .status == 400);

  // A fresh snapshot streamed at once, not kept.
  HttpResponse streamed = Send(node, "GET", "/collections/c/shards/0/snapshot");
  CHECK(streamed.status == 200);
  CHECK(streamed.body.size() > 1000);
  CHECK(Json(Send(node, "GET", "/collections/c/shards/0/snapshots"))["result"].Size() == 0);

  // Another collection's shard does not fit; unknown shards and bad ids are refused.
  REQUIRE(Send(node, "PUT", "/collections/other", R"({"vectors":{"size":3,"distance":"Dot"}})")
              .status == 200);
  HttpResponse foreign = Send(node, "PUT", "/collections/other/shards/0/snapshots/recover",
                              R"({"location":"file://)" + local + R"("})");
  CHECK(foreign.status == 400);
  CHECK(foreign.body.find("another collection") != std::string::npos);
  CHECK(Send(node, "POST", "/collections/c/shards/7/snapshots").status == 404);
  CHECK(Send(node, "POST", "/collections/c/shards/x/snapshots").status == 400);
  CHECK(Send(node, "GET", "/collections/c/shards/1/snapshots/nope.snapshot").status == 404);
  CHECK(Send(node, "DELETE", "/collections/c/shards/1/snapshots/" + name).status == 200);
  CHECK(Json(Send(node, "GET", "/collections/c/shards/1/snapshots"))["result"].Size() == 0);
}

TEST_CASE("a collection snapshot uploaded as a form becomes the collection",
          "[integration][snapshots]") {
  Node node;
  CreateTwoShards(node);
  Upsert(node, 0, 40);
  rapidjson::Document d = Json(Send(node, "POST", "/collections/c/snapshots"));
  const std::string name = d["result"]["name"].GetString();
  HttpResponse file = Send(node, "GET", "/collections/c/snapshots/" + name);
  REQUIRE(file.status == 200);
  HttpResponse uploaded = Send(node, "POST",
                               "/collections/copy/snapshots/upload?priority=replica&checksum=" +
                                   std::string(d["result"]["checksum"].GetString()),
                               Form(file.body), kFormType);
  INFO(uploaded.body);
  REQUIRE(uploaded.status == 200);
  CHECK(Json(Send(node, "POST", "/collections/copy/points/count", "{}"))["result"]["count"]
            .GetUint() == 40);
  CHECK(Send(node, "POST", "/collections/copy/snapshots/upload?priority=first", Form(file.body),
             kFormType)
            .status == 400);
}
