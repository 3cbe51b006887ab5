// /metrics and /telemetry of a real qdrantd: Prometheus text with Qdrant's names, counting the
// REST and gRPC requests it answered.
#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>
#include <rapidjson/document.h>

#include <regex>

#include "collections_service.grpc.pb.h"
#include "qdrant.grpc.pb.h"
#include "tests/support/node.h"

using namespace qd::test;

namespace {

// The value of the sample whose line starts with `series` (name and labels), or -1.
double Sample(const std::string& text, const std::string& series) {
  size_t at = ("\n" + text).find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 1));
}

HttpResponse Put(const Node& n, const std::string& path, const std::string& body) {
  return HttpRequest(n.http_port(), "PUT", path, body, {{"content-type", "application/json"}});
}

}  // namespace

TEST_CASE("/metrics counts REST responses per route and status in Prometheus text",
          "[integration][metrics]") {
  Node node;
  REQUIRE(node.WaitReady());
  REQUIRE(Put(node, "/collections/books", R"({"vectors":{"size":2,"distance":"Dot"}})").status == 200);
  REQUIRE(Put(node, "/collections/books/points?wait=true",
              R"({"points":[{"id":1,"vector":[1,0]},{"id":2,"vector":[0,1]},{"id":3,"vector":[1,1]}]})")
              .status == 200);
  for (int i = 0; i < 3; ++i) REQUIRE(node.Get("/collections/books").status == 200);
  REQUIRE(node.Get("/collections/nothing").status == 404);
  REQUIRE(node.Get("/no/such/path").status == 404);

  HttpResponse r = node.Get("/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.headers["content-type"] == "text/plain; version=0.0.4");
  const std::string& m = r.body;
  INFO(m);
  CHECK(Sample(m, R"(rest_responses_total{method="GET",endpoint="/collections/{collection_name}",status="200"})") == 3);
  CHECK(Sample(m, R"(rest_responses_total{method="GET",endpoint="/collections/{collection_name}",status="404"})") == 1);
  CHECK(Sample(m, R"(rest_responses_fail_total{method="GET",endpoint="/collections/{collection_name}",status="404"})") == 1);
  CHECK(Sample(m, R"(rest_responses_total{method="ANY",endpoint="unknown",status="404"})") == 1);
  CHECK(Sample(m, R"(rest_responses_duration_seconds_count{method="GET",endpoint="/collections/{collection_name}",status="200"})") == 3);
  CHECK(Sample(m, "collections_total") == 1);
  CHECK(Sample(m, "collections_vector_total") == 3);
  CHECK(Sample(m, R"(qdrantd_collection_points{collection="books"})") == 3);
  CHECK(Sample(m, "cluster_enabled") == 0);
  CHECK(std::regex_search(m, std::regex(R"(\napp_info\{name="qdrant",version="[0-9.]+"\} 1\n)")));

  // This scrape is counted by the next one.
  std::string again = node.Get("/metrics").body;
  CHECK(Sample(again, R"(rest_responses_total{method="GET",endpoint="/metrics",status="200"})") >= 1);
}

TEST_CASE("/metrics counts gRPC calls per method, failures apart", "[integration][metrics][grpc]") {
  Node node;
  REQUIRE(node.WaitReady());
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(node.grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto qdrant = qdrant::Qdrant::NewStub(channel);
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    qdrant::HealthCheckReply reply;
    REQUIRE(qdrant->HealthCheck(&context, qdrant::HealthCheckRequest(), &reply).ok());
  }
  auto collections = qdrant::Collections::NewStub(channel);
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    qdrant::GetCollectionInfoRequest request;
    request.set_collection_name("missing");
    qdrant::GetCollectionInfoResponse reply;
    REQUIRE(collections->Get(&context, request, &reply).error_code() == grpc::StatusCode::NOT_FOUND);
  }
  std::string m = node.Get("/metrics").body;
  INFO(m);
  CHECK(Sample(m, R"(grpc_responses_total{endpoint="/qdrant.Qdrant/HealthCheck"})") == 2);
  CHECK(Sample(m, R"(grpc_responses_fail_total{endpoint="/qdrant.Qdrant/HealthCheck"})") == 0);
  CHECK(Sample(m, R"(grpc_responses_total{endpoint="/qdrant.Collections/Get"})") == 1);
  CHECK(Sample(m, R"(grpc_responses_fail_total{endpoint="/qdrant.Collections/Get"})") == 1);
}

TEST_CASE("/telemetry answers Qdrant's shape with the request statistics", "[integration][metrics]") {
  Node node;
  REQUIRE(node.WaitReady());
  REQUIRE(node.Get("/healthz").status == 200);
  HttpResponse r = node.Get("/telemetry");
  REQUIRE(r.status == 200);
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  INFO(r.body);
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.HasMember("result"));
  const auto& result = doc["result"];
  CHECK(std::string(result["app"]["name"].GetString()) == "qdrant");
  CHECK(result["collections"]["number_of_collections"].GetUint() == 0);
  CHECK(result["cluster"]["enabled"].GetBool() == false);
  const auto& healthz = result["requests"]["rest"]["responses"]["GET /healthz"]["200"];
  CHECK(healthz["count"].GetUint() == 1);
  CHECK(healthz["avg_duration_micros"].GetDouble() > 0);
  CHECK(std::regex_match(std::string(healthz["last_responded"].GetString()),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  CHECK(std::string(doc["status"].GetString()) == "ok");
}
