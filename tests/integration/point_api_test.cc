// Small mismatches Qdrant's clients found (issue #21 item 9), against one real qdrantd:
// POST /points/batch answers one update result per operation; a collection name longer than 255
// bytes is a validation error before any lookup, on every path and over gRPC; gRPC GetPoints
// without with_payload returns no payload.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "collections_service.grpc.pb.h"
#include "points_service.grpc.pb.h"
#include "tests/support/json.h"
#include "tests/support/node.h"

using namespace qd::test;

namespace {

HttpResponse Send(const Node& n, const char* method, const std::string& path,
                  const std::string& body = "") {
  return HttpRequest(n.http_port(), method, path, body, {{"content-type", "application/json"}});
}

void Deadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
}

std::shared_ptr<grpc::Channel> Channel(const Node& node) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(node.grpc_port()),
                             grpc::InsecureChannelCredentials());
}

}  // namespace

TEST_CASE("the point API's small mismatches with Qdrant are gone", "[integration][grpc]") {
  Node node;
  REQUIRE(node.WaitReady());
  REQUIRE(Send(node, "PUT", "/collections/p", R"({"vectors":{"size":2,"distance":"Dot"}})").status ==
          200);

  SECTION("points/batch answers an update result per operation, in order") {
    const std::string ops = R"({"operations":[)"
                            R"({"upsert":{"points":[{"id":1,"vector":[1,0],"payload":{"a":1}}]}},)"
                            R"({"set_payload":{"payload":{"b":2},"points":[1]}},)"
                            R"({"upsert":{"points":[{"id":2,"vector":[0,1]}]}}]})";
    HttpResponse r = Send(node, "POST", "/collections/p/points/batch?wait=true", ops);
    INFO(r.body);
    REQUIRE(r.status == 200);
    rapidjson::Document d = Json(r);
    REQUIRE(d["result"].IsArray());
    REQUIRE(d["result"].Size() == 3);
    uint64_t last = 0;
    for (const auto& u : d["result"].GetArray()) {
      CHECK(u["status"].GetString() == std::string("completed"));
      CHECK(u["operation_id"].GetUint64() > last);
      last = u["operation_id"].GetUint64();
    }
    rapidjson::Document point = Json(Send(node, "GET", "/collections/p/points/1"));
    CHECK(point["result"]["payload"]["b"].GetInt() == 2);

    HttpResponse async = Send(node, "POST", "/collections/p/points/batch?wait=false",
                              R"({"operations":[{"delete":{"points":[2]}},)"
                              R"({"upsert":{"points":[{"id":3,"vector":[1,1]}]}}]})");
    INFO(async.body);
    REQUIRE(async.status == 200);
    rapidjson::Document a = Json(async);
    REQUIRE(a["result"].Size() == 2);
    for (const auto& u : a["result"].GetArray()) {
      CHECK(u["status"].GetString() == std::string("acknowledged"));
    }
    // A bad operation anywhere refuses the whole batch before any of it runs.
    HttpResponse bad = Send(node, "POST", "/collections/p/points/batch?wait=true",
                            R"({"operations":[{"upsert":{"points":[{"id":9,"vector":[1,0]}]}},)"
                            R"({"upsert":{"points":[{"id":10,"vector":[1,0,0]}]}}]})");
    CHECK(bad.status == 400);
    CHECK(bad.body.find("Vector dimension error") != std::string::npos);
    CHECK(Send(node, "GET", "/collections/p/points/9").status == 404);
  }

  SECTION("a collection name over 255 bytes is a validation error before any lookup") {
    const std::string long_name(256, 'n');
    for (const auto& [method, path] : std::vector<std::pair<const char*, std::string>>{
             {"GET", "/collections/" + long_name},
             {"GET", "/collections/" + long_name + "/exists"},
             {"DELETE", "/collections/" + long_name},
             {"POST", "/collections/" + long_name + "/points/scroll"},
             {"PUT", "/collections/" + long_name}}) {
      HttpResponse r = Send(node, method, path, R"({"vectors":{"size":2,"distance":"Dot"}})");
      INFO(method << " " << path.substr(0, 40) << "... -> " << r.status << " " << r.body);
      CHECK(r.status == 422);
      CHECK(r.body.find("Validation error") != std::string::npos);
      CHECK(r.body.find("got 256") != std::string::npos);
    }
    // 255 bytes is a name like any other: not found.
    CHECK(Send(node, "GET", "/collections/" + std::string(255, 'n')).status == 404);
    auto collections = qdrant::Collections::NewStub(Channel(node));
    grpc::ClientContext context;
    Deadline(context);
    qdrant::GetCollectionInfoRequest request;
    request.set_collection_name(long_name);
    qdrant::GetCollectionInfoResponse reply;
    grpc::Status s = collections->Get(&context, request, &reply);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().find("Validation error") != std::string::npos);
  }

  SECTION("gRPC GetPoints returns a payload only when asked") {
    REQUIRE(Send(node, "PUT", "/collections/p/points?wait=true",
                 R"({"points":[{"id":5,"vector":[1,2],"payload":{"city":"Oslo"}}]})")
                .status == 200);
    auto points = qdrant::Points::NewStub(Channel(node));
    auto get = [&](bool ask) {
      qdrant::GetPoints request;
      request.set_collection_name("p");
      request.add_ids()->set_num(5);
      if (ask) request.mutable_with_payload()->set_enable(true);
      grpc::ClientContext context;
      Deadline(context);
      qdrant::GetResponse reply;
      grpc::Status s = points->Get(&context, request, &reply);
      INFO(s.error_message());
      REQUIRE(s.ok());
      REQUIRE(reply.result_size() == 1);
      return reply.result(0);
    };
    CHECK(get(false).payload().empty());
    qdrant::RetrievedPoint with = get(true);
    REQUIRE(with.payload().count("city") == 1);
    CHECK(with.payload().at("city").string_value() == "Oslo");
    // REST's retrieve keeps its own default: the payload.
    rapidjson::Document rest = Json(Send(node, "POST", "/collections/p/points", R"({"ids":[5]})"));
    CHECK(rest["result"][0]["payload"]["city"].GetString() == std::string("Oslo"));
  }
}
