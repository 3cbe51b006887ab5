// Strict mode (issue #21 item 6) against one real qdrantd, through REST and gRPC: each limit of
// strict_mode_config refuses what exceeds it with 403 / PERMISSION_DENIED in Qdrant's words and
// lets the rest through; rate limits answer 429; PATCH turns it off.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "points_service.grpc.pb.h"
#include "tests/support/json.h"
#include "tests/support/node.h"

using namespace qd::test;

namespace {

HttpResponse Send(const Node& n, const char* method, const std::string& path,
                  const std::string& body = "") {
  return HttpRequest(n.http_port(), method, path, body, {{"content-type", "application/json"}});
}

bool Says(const HttpResponse& r, const std::string& text) {
  return r.body.find(text) != std::string::npos;
}

template <typename Reply, typename Request, typename Method>
grpc::Status Call(qdrant::Points::Stub& stub, Method method, const Request& request, Reply* reply) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return (stub.*method)(&context, request, reply);
}

}  // namespace

TEST_CASE("strict mode refuses what exceeds its limits, over REST and gRPC",
          "[integration][grpc]") {
  Node node;
  REQUIRE(node.WaitReady());
  HttpResponse bad = Send(node, "PUT", "/collections/bad",
                          R"({"vectors":{"size":2,"distance":"Dot"},
                              "strict_mode_config":{"enabled":true,"max_query_limit":"5"}})");
  CHECK(bad.status == 400);
  CHECK(Says(bad, "strict_mode_config.max_query_limit"));

  REQUIRE(Send(node, "PUT", "/collections/s",
               R"({"vectors":{"size":2,"distance":"Dot"},
                   "strict_mode_config":{"enabled":true,"max_query_limit":10,
                     "search_allow_exact":false,"search_max_hnsw_ef":64,
                     "unindexed_filtering_retrieve":false,"unindexed_filtering_update":false,
                     "upsert_max_batchsize":3,"search_max_batchsize":2,"max_timeout":10,
                     "max_points_count":5,"filter_max_conditions":2}})")
              .status == 200);
  rapidjson::Document info = Json(Send(node, "GET", "/collections/s"));
  CHECK(info["result"]["config"]["strict_mode_config"]["max_query_limit"].GetInt() == 10);

  SECTION("writes: batch size, points count, unindexed filters") {
    HttpResponse four = Send(node, "PUT", "/collections/s/points?wait=true",
                             R"({"points":[{"id":1,"vector":[1,0]},{"id":2,"vector":[0,1]},
                                 {"id":3,"vector":[1,1]},{"id":4,"vector":[1,2]}]})");
    CHECK(four.status == 403);
    CHECK(Says(four, R"(Limit exceeded 4 > 3 for \"upsert limit\")"));
    REQUIRE(Send(node, "PUT", "/collections/s/points?wait=true",
                 R"({"points":[{"id":1,"vector":[1,0],"payload":{"city":"a"}},
                     {"id":2,"vector":[0,1]},{"id":3,"vector":[1,1]}]})")
                .status == 200);
    HttpResponse full = Send(node, "PUT", "/collections/s/points?wait=true",
                             R"({"points":[{"id":4,"vector":[1,0]},{"id":5,"vector":[0,1]},
                                 {"id":6,"vector":[1,1]}]})");
    CHECK(full.status == 403);
    CHECK(Says(full, "Max points count limit of 5 reached"));
    // Nothing of a refused write was applied.
    CHECK(
        Json(Send(node, "POST", "/collections/s/points/count", "{}"))["result"]["count"].GetInt() ==
        3);

    HttpResponse by_filter = Send(node, "POST", "/collections/s/points/delete?wait=true",
                                  R"({"filter":{"must":[{"key":"city","match":{"value":"a"}}]}})");
    CHECK(by_filter.status == 403);
    CHECK(Says(by_filter, R"(Index required but not found for \"city\")"));
    REQUIRE(Send(node, "PUT", "/collections/s/index?wait=true",
                 R"({"field_name":"city","field_schema":"keyword"})")
                .status == 200);
    CHECK(Send(node, "POST", "/collections/s/points/delete?wait=true",
               R"({"filter":{"must":[{"key":"city","match":{"value":"a"}}]}})")
              .status == 200);
    CHECK(
        Json(Send(node, "POST", "/collections/s/points/count", "{}"))["result"]["count"].GetInt() ==
        2);
  }

  SECTION("reads: limit, exact, hnsw_ef, filters, batch size and timeout") {
    REQUIRE(Send(node, "PUT", "/collections/s/points?wait=true",
                 R"({"points":[{"id":1,"vector":[1,0],"payload":{"city":"a","n":1}},
                     {"id":2,"vector":[0,1],"payload":{"city":"b"}}]})")
                .status == 200);
    REQUIRE(Send(node, "PUT", "/collections/s/index?wait=true",
                 R"({"field_name":"city","field_schema":"keyword"})")
                .status == 200);
    HttpResponse ok = Send(node, "POST", "/collections/s/points/search",
                           R"({"vector":[1,0],"limit":10,"params":{"hnsw_ef":64},
                               "filter":{"must":[{"key":"city","match":{"value":"a"}}]}})");
    INFO(ok.body);
    CHECK(ok.status == 200);
    CHECK(Json(ok)["result"].Size() == 1);

    struct Case {
      const char* path;
      const char* body;
      const char* says;
    };
    const Case cases[] = {
        {"/points/search", R"({"vector":[1,0],"limit":11})",
         R"(Limit exceeded 11 > 10 for \"limit\")"},
        {"/points/query", R"({"query":[1,0],"prefetch":[{"query":[1,0],"limit":50}],"limit":3})",
         R"(Limit exceeded 50 > 10 for \"limit\")"},
        {"/points/scroll", R"({"limit":11})", R"(Limit exceeded 11 > 10 for \"limit\")"},
        {"/points/search", R"({"vector":[1,0],"params":{"exact":true}})", "Exact search disabled!"},
        {"/points/query", R"({"query":[1,0],"params":{"hnsw_ef":65}})",
         R"(Limit exceeded 65 > 64 for \"hnsw_ef\")"},
        {"/points/count", R"({"filter":{"must":[{"key":"n","match":{"value":1}}]}})",
         R"(Index required but not found for \"n\" of one of the following types: [integer])"},
        {"/points/search",
         R"({"vector":[1,0],"filter":{"must":[{"key":"city","match":{"value":"a"}},{"has_id":[1]},{"has_id":[2]}]}})",
         R"(Limit exceeded 3 > 2 for \"conditions\")"},
        {"/points/search/batch",
         R"({"searches":[{"vector":[1,0]},{"vector":[1,0]},{"vector":[1,0]}]})",
         R"(Limit exceeded 3 > 2 for \"batch size\")"},
        {"/points/query?timeout=11", R"({"query":[1,0]})",
         R"(Limit exceeded 11 > 10 for \"timeout\")"},
        {"/facet", R"({"key":"city","limit":11})", R"(Limit exceeded 11 > 10 for \"limit\")"},
    };
    for (const Case& c : cases) {
      HttpResponse r = Send(node, "POST", std::string("/collections/s") + c.path, c.body);
      INFO(c.path << " " << c.body << " -> " << r.body);
      CHECK(r.status == 403);
      CHECK(Says(r, c.says));
      CHECK(Says(r, "Help: "));
    }

    auto stub = qdrant::Points::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(node.grpc_port()), grpc::InsecureChannelCredentials()));
    qdrant::SearchPoints search;
    search.set_collection_name("s");
    search.add_vector(1);
    search.add_vector(0);
    search.set_limit(11);
    qdrant::SearchResponse searched;
    grpc::Status refused = Call(*stub, &qdrant::Points::Stub::Search, search, &searched);
    CHECK(refused.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(refused.error_message().find("Limit exceeded 11 > 10 for \"limit\"") !=
          std::string::npos);
    search.set_limit(10);
    CHECK(Call(*stub, &qdrant::Points::Stub::Search, search, &searched).ok());
    CHECK(searched.result_size() == 2);

    qdrant::CountPoints count;
    count.set_collection_name("s");
    qdrant::FieldCondition* field = count.mutable_filter()->add_must()->mutable_field();
    field->set_key("n");
    field->mutable_match()->set_integer(1);
    qdrant::CountResponse counted;
    grpc::Status unindexed = Call(*stub, &qdrant::Points::Stub::Count, count, &counted);
    CHECK(unindexed.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(unindexed.error_message().find("\"n\"") != std::string::npos);

    qdrant::QueryBatchPoints batch;
    batch.set_collection_name("s");
    for (int i = 0; i < 3; ++i) {
      qdrant::QueryPoints* q = batch.add_query_points();
      q->set_collection_name("s");
      q->mutable_query()->mutable_nearest()->mutable_dense()->add_data(1);
      q->mutable_query()->mutable_nearest()->mutable_dense()->add_data(0);
    }
    qdrant::QueryBatchResponse batched;
    grpc::Status too_many = Call(*stub, &qdrant::Points::Stub::QueryBatch, batch, &batched);
    CHECK(too_many.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(too_many.error_message().find("batch size") != std::string::npos);
    batch.mutable_query_points()->RemoveLast();
    CHECK(Call(*stub, &qdrant::Points::Stub::QueryBatch, batch, &batched).ok());

    qdrant::SearchPoints timed = search;
    timed.set_timeout(11);
    grpc::Status late = Call(*stub, &qdrant::Points::Stub::Search, timed, &searched);
    CHECK(late.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(late.error_message().find("\"timeout\"") != std::string::npos);

    // Turned off, the same requests pass.
    REQUIRE(Send(node, "PATCH", "/collections/s", R"({"strict_mode_config":{"enabled":false}})")
                .status == 200);
    CHECK(Send(node, "POST", "/collections/s/points/search", R"({"vector":[1,0],"limit":11})")
              .status == 200);
    CHECK(Call(*stub, &qdrant::Points::Stub::Count, count, &counted).ok());
    CHECK(counted.result().count() == 1);
  }
}

TEST_CASE("strict mode rate limits answer 429 past the minute's budget", "[integration]") {
  Node node;
  REQUIRE(node.WaitReady());
  REQUIRE(Send(node, "PUT", "/collections/r",
               R"({"vectors":{"size":2,"distance":"Dot"},
                   "strict_mode_config":{"enabled":true,"read_rate_limit":2,
                                         "write_rate_limit":3}})")
              .status == 200);
  CHECK(Send(node, "PUT", "/collections/r/points?wait=true",
             R"({"points":[{"id":1,"vector":[1,0]},{"id":2,"vector":[0,1]}]})")
            .status == 200);
  HttpResponse writes = Send(node, "PUT", "/collections/r/points?wait=true",
                             R"({"points":[{"id":3,"vector":[1,0]},{"id":4,"vector":[0,1]}]})");
  CHECK(writes.status == 429);
  CHECK(Says(writes, "Rate limiting exceeded: Write rate limit exceeded"));
  CHECK(Send(node, "POST", "/collections/r/points/search", R"({"vector":[1,0]})").status == 200);
  CHECK(Send(node, "POST", "/collections/r/points/count", "{}").status == 200);
  HttpResponse reads = Send(node, "POST", "/collections/r/points/search", R"({"vector":[1,0]})");
  CHECK(reads.status == 429);
  CHECK(Says(reads, "Read rate limit exceeded"));
  // Another collection is not charged.
  REQUIRE(
      Send(node, "PUT", "/collections/free", R"({"vectors":{"size":2,"distance":"Dot"}})").status ==
      200);
  CHECK(Send(node, "POST", "/collections/free/points/search", R"({"vector":[1,0]})").status == 200);
}
