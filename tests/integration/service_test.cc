// A real qdrantd on ephemeral ports in a temp dir: the REST service endpoints, exactly as
// compat.md §3 and §1.8 describe them.
#include <catch2/catch.hpp>

#include <regex>

#include "tests/support/node.h"

using namespace qd::test;

TEST_CASE("GET / answers Qdrant's VersionInfo with exactly title, version and commit",
          "[integration][rest]") {
  Node node;
  REQUIRE(node.WaitReady());
  HttpResponse r = node.Get("/");
  CHECK(r.status == 200);
  CHECK(r.headers["content-type"] == "application/json");
  std::regex shape(
      R"(\{"title":"qdrant - vector search engine","version":"[0-9]+\.[0-9]+\.[0-9]+","commit":"[0-9a-f]{40}"\})");
  CHECK(std::regex_match(r.body, shape));
}

TEST_CASE("health endpoints answer text/plain with Qdrant's bodies", "[integration][rest]") {
  Node node;
  REQUIRE(node.WaitReady());
  for (const char* path : {"/healthz", "/livez"}) {
    HttpResponse r = node.Get(path);
    INFO(path);
    CHECK(r.status == 200);
    CHECK(r.headers["content-type"] == "text/plain");
    CHECK(r.body == "healthz check passed");
  }
  HttpResponse ready = node.Get("/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.headers["content-type"] == "text/plain");
  CHECK(ready.body == "all shards are ready");
}

TEST_CASE("an unknown path is a 404 with the JSON error envelope", "[integration][rest]") {
  Node node;
  REQUIRE(node.WaitReady());
  HttpResponse r = node.Get("/no/such/thing");
  CHECK(r.status == 404);
  CHECK(r.headers["content-type"] == "application/json");
  CHECK(std::regex_match(r.body, std::regex(R"(\{"status":\{"error":"[^"]*no/such/thing[^"]*"\},"time":[0-9.]+\})")));
}

TEST_CASE("standalone mode answers the cluster endpoints as Qdrant does", "[integration][rest]") {
  Node node;
  REQUIRE(node.WaitReady());
  HttpResponse cluster = node.Get("/cluster");
  CHECK(cluster.status == 200);
  CHECK(cluster.body.find(R"("result":{"status":"disabled"})") != std::string::npos);
  HttpResponse remove = HttpRequest(node.http_port(), "DELETE", "/cluster/peer/42");
  CHECK(remove.status == 405);
  CHECK(remove.body.find("standalone mode") != std::string::npos);
  HttpResponse recover = HttpRequest(node.http_port(), "POST", "/cluster/recover");
  CHECK(recover.status == 405);
}

TEST_CASE("a body over service.max_request_size_mb is refused with 413 and the node lives on",
          "[integration][rest]") {
  Node node({.env = {{"QDRANT__SERVICE__MAX_REQUEST_SIZE_MB", "1"}}});
  REQUIRE(node.WaitReady());
  std::string big(2 << 20, 'x');
  HttpResponse r = HttpRequest(node.http_port(), "PUT", "/collections/c/points", big);
  CHECK(r.status == 413);
  CHECK(node.Get("/healthz").status == 200);
}

TEST_CASE("keep-alive: pipelined requests on one connection are all answered, in order",
          "[integration][rest]") {
  Node node;
  REQUIRE(node.WaitReady());
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string last = "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string raw = HttpRaw(node.http_port(), request + request + last);
  size_t count = 0;
  for (size_t pos = raw.find("HTTP/1.1 200"); pos != std::string::npos;
       pos = raw.find("HTTP/1.1 200", pos + 1)) {
    ++count;
  }
  CHECK(count == 3);
}
