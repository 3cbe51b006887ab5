#include <catch2/catch.hpp>

#include "qdrantd/api/rest/json.h"
#include "qdrantd/api/rest/router.h"

using namespace qd::api::rest;

namespace {

// Dispatches one request and returns the response the router (or handler) sent.
Response Call(const Router& router, std::string method, std::string path, std::string body = "") {
  Request request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.body = body;
  Response out;
  router.Dispatch(request, Reply([&](Response r) { out = std::move(r); }));
  return out;
}

}  // namespace

TEST_CASE("routes capture percent-decoded {params}", "[unit][rest]") {
  Router router;
  router.Add("GET", "/collections/{name}/points/{id}", [](Request& req, Reply reply) {
    reply.Send(TextResult(req.Param("name") + "|" + req.Param("id")));
  });
  Response r = Call(router, "GET", "/collections/my%20books/points/7");
  CHECK(r.status == 200);
  CHECK(r.body == "my books|7");
}

TEST_CASE("unknown path is 404 and wrong method 405, both in the error envelope", "[unit][rest]") {
  Router router;
  router.Add("GET", "/healthz", [](Request&, Reply reply) { reply.Send(TextResult("ok")); });
  Response missing = Call(router, "GET", "/nope");
  CHECK(missing.status == 404);
  CHECK(missing.content_type == "application/json");
  CHECK(missing.body.rfind(R"({"status":{"error":)", 0) == 0);
  Response wrong_method = Call(router, "POST", "/healthz");
  CHECK(wrong_method.status == 405);
}

TEST_CASE("a handler that never answers still produces a 500", "[unit][rest]") {
  Router router;
  router.Add("GET", "/forgetful", [](Request&, Reply) {});
  CHECK(Call(router, "GET", "/forgetful").status == 500);
}

TEST_CASE("query strings are split and decoded", "[unit][rest]") {
  auto q = ParseQueryString("wait=true&timeout=5&name=a%2Fb+c&flag");
  CHECK(q["wait"] == "true");
  CHECK(q["timeout"] == "5");
  CHECK(q["name"] == "a/b c");
  CHECK(q.count("flag") == 1);
  CHECK(PercentDecode("100%") == "100%");
  CHECK(PercentDecode("%zz") == "%zz");
}

TEST_CASE("malformed JSON bodies are 400s that say what and where", "[unit][rest]") {
  struct Case {
    const char* body;
    const char* expected;
  };
  const Case cases[] = {
      {"", "Format error in JSON body: The document is empty at line 1 column 1"},
      {"{\"a\": }", "Format error in JSON body: Invalid value at line 1 column 7"},
      {"{\"a\": 1,\n \"b\" 2}", "at line 2 column 6"},
      {"{} x", "Format error in JSON body: trailing characters at line 1 column 4"},
  };
  for (const Case& c : cases) {
    auto doc = ParseJsonBody(c.body);
    INFO(c.body);
    REQUIRE_FALSE(doc.ok());
    CHECK(doc.status().code() == qd::StatusCode::kInvalidArgument);
    CHECK(HttpStatusFor(doc.status().code()) == 400);
    CHECK(doc.status().message().find(c.expected) != std::string::npos);
  }
  auto good = ParseJsonBody(" {\"vector\": [0.5, 1]} \n");
  REQUIRE(good.ok());
  CHECK(good.value()["vector"].Size() == 2);
}

TEST_CASE("a JSON route answers a malformed body with 400 in the envelope", "[unit][rest]") {
  Router router;
  router.Add("PUT", "/echo", [](Request& req, Reply reply) {
    auto doc = ParseJsonBody(req.body);
    if (!doc.ok()) return reply.Send(JsonError(req, doc.status()));
    reply.Send(JsonResult(req, ToJson(doc.value())));
  });
  Response bad = Call(router, "PUT", "/echo", "{\"a\":");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("Format error in JSON body") != std::string::npos);
  Response good = Call(router, "PUT", "/echo", "{\"a\":[1,2]}");
  CHECK(good.status == 200);
  CHECK(good.body.rfind(R"({"result":{"a":[1,2]},"status":"ok","time":)", 0) == 0);
}

TEST_CASE("every status code maps to its HTTP status", "[unit][rest]") {
  using qd::StatusCode;
  CHECK(HttpStatusFor(StatusCode::kInvalidArgument) == 400);
  CHECK(HttpStatusFor(StatusCode::kUnprocessable) == 422);
  CHECK(HttpStatusFor(StatusCode::kNotFound) == 404);
  CHECK(HttpStatusFor(StatusCode::kAlreadyExists) == 409);
  CHECK(HttpStatusFor(StatusCode::kPermissionDenied) == 403);
  CHECK(HttpStatusFor(StatusCode::kMethodNotAllowed) == 405);
  CHECK(HttpStatusFor(StatusCode::kPayloadTooLarge) == 413);
  CHECK(HttpStatusFor(StatusCode::kResourceExhausted) == 429);
  CHECK(HttpStatusFor(StatusCode::kUnavailable) == 503);
  CHECK(HttpStatusFor(StatusCode::kDeadlineExceeded) == 408);
  CHECK(HttpStatusFor(StatusCode::kInternal) == 500);
  CHECK(HttpStatusFor(StatusCode::kUnimplemented) == 501);
}

TEST_CASE("a body nested deeper than 128 levels is a 400, not a stack overflow", "[unit][api]") {
  std::string deep(1000000, '[');
  qd::Result<rapidjson::Document> r = ParseJsonBody(deep);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == qd::StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("nesting deeper than 128") != std::string::npos);
  // Brackets inside strings do not count; 100 real levels are fine.
  CHECK(ParseJsonBody("{\"a\":\"" + std::string(500, '[') + "\"}").ok());
  // An escaped quote does not end the string: its brackets still do not count.
  CHECK(ParseJsonBody("{\"a\":\"\\\"" + std::string(500, '[') + "\"}").ok());
  // An escaped backslash does: the brackets after it count.
  qd::Result<rapidjson::Document> after = ParseJsonBody("{\"a\":\"\\\\\"," + std::string(500, '[') + "]}");
  REQUIRE_FALSE(after.ok());
  CHECK(after.status().message().find("nesting deeper than 128") != std::string::npos);
  CHECK(ParseJsonBody(std::string(100, '[') + std::string(100, ']')).ok());
}
