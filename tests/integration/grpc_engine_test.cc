// Qdrant's public gRPC API (qdrant.Collections, qdrant.Points, qdrant.Snapshots) on a real
// qdrantd: Qdrant's official JS gRPC client driving the engine (tests/compat/grpc_engine.mjs),
// the status codes and messages a client sees (the same texts REST answers with), and qdctl's
// collection commands, which use the same service.
#include <grpcpp/grpcpp.h>
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "collections_service.grpc.pb.h"
#include "points_service.grpc.pb.h"
#include "snapshots_service.grpc.pb.h"
#include "tests/support/node.h"

using namespace qd::test;

namespace {

std::string GrpcUrl(const Node& node) {
  return "http://127.0.0.1:" + std::to_string(node.grpc_port());
}

std::shared_ptr<grpc::Channel> Channel(const Node& node) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(node.grpc_port()),
                             grpc::InsecureChannelCredentials());
}

void Deadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
}

// The `status.error` text of a REST answer.
std::string RestError(const HttpResponse& r) {
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("status") ||
      !doc["status"].IsObject() || !doc["status"].HasMember("error")) {
    return "<no error in " + r.body + ">";
  }
  return doc["status"]["error"].GetString();
}

qdrant::Vector Dense(std::initializer_list<float> values) {
  qdrant::Vector v;
  for (float x : values) v.mutable_dense()->add_data(x);
  return v;
}

}  // namespace

TEST_CASE("Qdrant's official JS gRPC client drives the engine through qdrantd",
          "[compat][integration][grpc]") {
  const std::string compat = std::string(QD_SOURCE_DIR) + "/tests/compat";
  const std::string node_bin = compat + "/node_modules/.bin/node";
  INFO("the JS clients are installed by `make compat-deps` (part of `make test`)");
  REQUIRE(std::filesystem::exists(node_bin));

  Node server;
  REQUIRE(server.WaitReady());
  TempDir work;
  for (const char* shards : {"1", "2"}) {
    RunResult r = Run({.args = {node_bin, compat + "/grpc_engine.mjs", GrpcUrl(server), shards},
                       .working_dir = work.path()},
                      std::chrono::seconds(90));
    INFO("shards " << shards << "\n" << r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("FAIL") == std::string::npos);
  }
}

TEST_CASE("gRPC answers Qdrant's status codes with the REST messages", "[integration][grpc]") {
  Node node;
  REQUIRE(node.WaitReady());
  auto collections = qdrant::Collections::NewStub(Channel(node));
  auto points = qdrant::Points::NewStub(Channel(node));

  qdrant::CreateCollection create;
  create.set_collection_name("books");
  create.mutable_vectors_config()->mutable_params()->set_size(4);
  create.mutable_vectors_config()->mutable_params()->set_distance(qdrant::Dot);
  {
    grpc::ClientContext context;
    Deadline(context);
    qdrant::CollectionOperationResponse reply;
    grpc::Status s = collections->Create(&context, create, &reply);
    INFO(s.error_message());
    REQUIRE(s.ok());
    CHECK(reply.result());
    CHECK(reply.time() > 0);
  }

  SECTION("an existing collection: ALREADY_EXISTS") {
    grpc::ClientContext context;
    Deadline(context);
    qdrant::CollectionOperationResponse reply;
    grpc::Status s = collections->Create(&context, create, &reply);
    CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);
    HttpResponse rest = HttpRequest(node.http_port(), "PUT", "/collections/books",
                                    R"({"vectors":{"size":4,"distance":"Dot"}})");
    CHECK(rest.status == 409);
    CHECK(s.error_message() == RestError(rest));
  }

  SECTION("an unknown collection: NOT_FOUND") {
    grpc::ClientContext context;
    Deadline(context);
    qdrant::GetCollectionInfoRequest request;
    request.set_collection_name("nope");
    qdrant::GetCollectionInfoResponse reply;
    grpc::Status s = collections->Get(&context, request, &reply);
    CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
    HttpResponse rest = HttpGet(node.http_port(), "/collections/nope");
    CHECK(rest.status == 404);
    CHECK(s.error_message() == RestError(rest));

    grpc::ClientContext search_context;
    Deadline(search_context);
    qdrant::SearchPoints search;
    search.set_collection_name("nope");
    search.add_vector(1);
    search.set_limit(3);
    qdrant::SearchResponse search_reply;
    CHECK(points->Search(&search_context, search, &search_reply).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }

  SECTION("a vector of the wrong dimension: INVALID_ARGUMENT, REST's message") {
    grpc::ClientContext context;
    Deadline(context);
    qdrant::UpsertPoints upsert;
    upsert.set_collection_name("books");
    upsert.set_wait(true);
    qdrant::PointStruct* p = upsert.add_points();
    p->mutable_id()->set_num(1);
    *p->mutable_vectors()->mutable_vector() = Dense({1, 2, 3});
    qdrant::PointsOperationResponse reply;
    grpc::Status s = points->Upsert(&context, upsert, &reply);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    HttpResponse rest = HttpRequest(node.http_port(), "PUT", "/collections/books/points?wait=true",
                                    R"({"points":[{"id":1,"vector":[1,2,3]}]})");
    CHECK(rest.status == 400);
    CHECK(s.error_message() == RestError(rest));
    CHECK(s.error_message().find("expected dim: 4, got 3") != std::string::npos);

    grpc::ClientContext search_context;
    Deadline(search_context);
    qdrant::SearchPoints search;
    search.set_collection_name("books");
    search.add_vector(1);
    search.set_limit(3);
    qdrant::SearchResponse search_reply;
    grpc::Status searched = points->Search(&search_context, search, &search_reply);
    CHECK(searched.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    HttpResponse rest_search =
        HttpRequest(node.http_port(), "POST", "/collections/books/points/search",
                    R"({"vector":[1],"limit":3})");
    CHECK(searched.error_message() == RestError(rest_search));
  }

  SECTION("an out-of-range value (REST 422): INVALID_ARGUMENT") {
    grpc::ClientContext context;
    Deadline(context);
    qdrant::CreateCollection bad = create;
    bad.set_collection_name("zero");
    bad.mutable_vectors_config()->mutable_params()->set_size(0);
    qdrant::CollectionOperationResponse reply;
    grpc::Status s = collections->Create(&context, bad, &reply);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    HttpResponse rest = HttpRequest(node.http_port(), "PUT", "/collections/zero",
                                    R"({"vectors":{"size":0,"distance":"Dot"}})");
    CHECK(rest.status == 422);
    CHECK(s.error_message() == RestError(rest));
  }

  SECTION("cluster setup in standalone mode: FAILED_PRECONDITION") {
    grpc::ClientContext context;
    Deadline(context);
    qdrant::UpdateCollectionClusterSetupRequest request;
    request.set_collection_name("books");
    request.mutable_drop_replica()->set_peer_id(2);
    qdrant::UpdateCollectionClusterSetupResponse reply;
    grpc::Status s = collections->UpdateCollectionClusterSetup(&context, request, &reply);
    CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK(s.error_message().find("standalone") != std::string::npos);
  }

  SECTION("methods we do not serve: UNIMPLEMENTED, naming the method") {
    grpc::ClientContext context;
    Deadline(context);
    qdrant::CreateVectorNameRequest request;
    request.set_collection_name("books");
    qdrant::PointsOperationResponse reply;
    grpc::Status s = points->CreateVectorName(&context, request, &reply);
    CHECK(s.error_code() == grpc::StatusCode::UNIMPLEMENTED);
    CHECK(s.error_message() == "qdrant.Points/CreateVectorName is not implemented by this server");
  }
}

TEST_CASE("gRPC collection snapshots: create, list, delete", "[integration][grpc]") {
  Node node;
  REQUIRE(node.WaitReady());
  REQUIRE(HttpRequest(node.http_port(), "PUT", "/collections/snap",
                      R"({"vectors":{"size":2,"distance":"Dot"}})")
              .status == 200);
  auto snapshots = qdrant::Snapshots::NewStub(Channel(node));

  qdrant::CreateSnapshotResponse created;
  {
    grpc::ClientContext context;
    Deadline(context);
    qdrant::CreateSnapshotRequest request;
    request.set_collection_name("snap");
    grpc::Status s = snapshots->Create(&context, request, &created);
    INFO(s.error_message());
    REQUIRE(s.ok());
    CHECK(!created.snapshot_description().name().empty());
    CHECK(created.snapshot_description().size() > 0);
    CHECK(created.snapshot_description().checksum().size() == 64);
    CHECK(created.snapshot_description().creation_time().seconds() > 1700000000);
  }
  {
    grpc::ClientContext context;
    Deadline(context);
    qdrant::ListSnapshotsRequest request;
    request.set_collection_name("snap");
    qdrant::ListSnapshotsResponse list;
    REQUIRE(snapshots->List(&context, request, &list).ok());
    REQUIRE(list.snapshot_descriptions_size() == 1);
    CHECK(list.snapshot_descriptions(0).name() == created.snapshot_description().name());
  }
  {
    grpc::ClientContext context;
    Deadline(context);
    qdrant::DeleteSnapshotRequest request;
    request.set_collection_name("snap");
    request.set_snapshot_name(created.snapshot_description().name());
    qdrant::DeleteSnapshotResponse reply;
    REQUIRE(snapshots->Delete(&context, request, &reply).ok());
  }
  {
    grpc::ClientContext context;
    Deadline(context);
    qdrant::DeleteSnapshotRequest request;
    request.set_collection_name("snap");
    request.set_snapshot_name(created.snapshot_description().name());
    qdrant::DeleteSnapshotResponse reply;
    CHECK(snapshots->Delete(&context, request, &reply).error_code() == grpc::StatusCode::NOT_FOUND);
  }
}

TEST_CASE("qdctl collection create, list, info, update and delete against the daemon",
          "[integration][qdctl][grpc]") {
  Node node;
  REQUIRE(node.WaitReady());
  TempDir home;
  const std::string url = GrpcUrl(node);

  RunResult created = RunQdctl(
      {"--url", url, "-o", "json", "collection", "create", "books", "--size", "4", "--distance",
       "cosine", "--shard-number", "2", "--hnsw-m", "8", "--hnsw-ef-construct", "50"},
      home.path());
  INFO(created.out << created.err);
  REQUIRE(created.exit_code == 0);
  CHECK(created.out.find(R"("name":"books")") != std::string::npos);

  RunResult again =
      RunQdctl({"--url", url, "collection", "create", "books", "--size", "4", "--distance", "Dot"},
               home.path());
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("already exists") != std::string::npos);

  RunResult list = RunQdctl({"--url", url, "-o", "json", "collection", "list"}, home.path());
  INFO(list.out << list.err);
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("books") != std::string::npos);

  HttpRequest(node.http_port(), "PUT", "/collections/books/points?wait=true",
              R"({"points":[{"id":1,"vector":[1,0,0,0]},{"id":2,"vector":[0,1,0,0]}]})");
  RunResult info =
      RunQdctl({"--url", url, "-o", "json", "collection", "info", "books"}, home.path());
  INFO(info.out << info.err);
  CHECK(info.exit_code == 0);
  CHECK(info.out.find(R"("points_count":2)") != std::string::npos);
  CHECK(info.out.find(R"("shard_number":2)") != std::string::npos);
  CHECK(info.out.find(R"("distance":"Cosine")") != std::string::npos);
  CHECK(info.out.find(R"("m":8)") != std::string::npos);
  CHECK(info.out.find(R"("ef_construct":50)") != std::string::npos);

  // update: only what is given changes.
  RunResult updated = RunQdctl({"--url", url, "-o", "json", "collection", "update", "books",
                                "--write-consistency-factor", "1", "--hnsw-ef-construct", "64"},
                               home.path());
  INFO(updated.out << updated.err);
  CHECK(updated.exit_code == 0);
  CHECK(updated.out.find(R"("status":"updated")") != std::string::npos);
  CHECK(updated.out.find(R"("replication_factor":null)") != std::string::npos);
  RunResult after =
      RunQdctl({"--url", url, "-o", "json", "collection", "info", "books"}, home.path());
  CHECK(after.out.find(R"("ef_construct":64)") != std::string::npos);
  CHECK(after.out.find(R"("m":8)") != std::string::npos);  // unchanged
  CHECK(after.out.find(R"("shard_number":2)") != std::string::npos);
  RunResult nothing = RunQdctl({"--url", url, "collection", "update", "books"}, home.path());
  CHECK(nothing.exit_code == 2);
  CHECK(nothing.err.find("nothing to update") != std::string::npos);
  RunResult unknown =
      RunQdctl({"--url", url, "collection", "update", "films", "--hnsw-m", "4"}, home.path());
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("films") != std::string::npos);

  RunResult table = RunQdctl({"--url", url, "collection", "info", "books"}, home.path());
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("books") != std::string::npos);

  RunResult removed = RunQdctl({"--url", url, "collection", "delete", "books"}, home.path());
  INFO(removed.out << removed.err);
  CHECK(removed.exit_code == 0);
  RunResult gone = RunQdctl({"--url", url, "collection", "info", "books"}, home.path());
  CHECK(gone.exit_code == 1);
  CHECK(gone.err.find("books") != std::string::npos);
  RunResult delete_again = RunQdctl({"--url", url, "collection", "delete", "books"}, home.path());
  CHECK(delete_again.exit_code == 1);
}

TEST_CASE("gRPC collection configs, aliases and payload indexes read back as set",
          "[integration][grpc]") {
  Node node;
  REQUIRE(node.WaitReady());
  auto collections = qdrant::Collections::NewStub(Channel(node));
  auto points = qdrant::Points::NewStub(Channel(node));
  auto call = [](auto method, const auto& request, auto* reply) {
    grpc::ClientContext context;
    Deadline(context);
    grpc::Status s = method(&context, request, reply);
    INFO(s.error_message());
    return s.ok();
  };

  qdrant::CreateCollection create;
  create.set_collection_name("cfg");
  auto* map = create.mutable_vectors_config()->mutable_params_map()->mutable_map();
  (*map)["a"].set_size(3);
  (*map)["a"].set_distance(qdrant::Cosine);
  create.mutable_hnsw_config()->set_m(8);
  create.mutable_optimizers_config()->set_indexing_threshold(5000);
  (*create.mutable_metadata())["owner"].set_string_value("me");
  qdrant::CollectionOperationResponse done;
  REQUIRE(call([&](auto... a) { return collections->Create(a...); }, create, &done));

  qdrant::UpdateCollection update;
  update.set_collection_name("cfg");
  update.mutable_hnsw_config()->set_ef_construct(50);
  REQUIRE(call([&](auto... a) { return collections->Update(a...); }, update, &done));

  qdrant::ChangeAliases aliases;
  auto* alias = aliases.add_actions()->mutable_create_alias();
  alias->set_alias_name("cfg_alias");
  alias->set_collection_name("cfg");
  REQUIRE(call([&](auto... a) { return collections->UpdateAliases(a...); }, aliases, &done));
  qdrant::ListAliasesResponse listed;
  REQUIRE(call([&](auto... a) { return collections->ListAliases(a...); },
               qdrant::ListAliasesRequest(), &listed));
  REQUIRE(listed.aliases_size() == 1);
  CHECK(listed.aliases(0).alias_name() == "cfg_alias");
  CHECK(listed.aliases(0).collection_name() == "cfg");

  qdrant::CreateFieldIndexCollection index;
  index.set_collection_name("cfg_alias");  // an alias works wherever a name does
  index.set_wait(true);
  index.set_field_name("title");
  index.mutable_field_index_params()->mutable_text_index_params()->set_lowercase(true);
  qdrant::PointsOperationResponse indexed;
  REQUIRE(call([&](auto... a) { return points->CreateFieldIndex(a...); }, index, &indexed));
  CHECK(indexed.result().status() == qdrant::Completed);

  qdrant::GetCollectionInfoRequest get;
  get.set_collection_name("cfg");
  qdrant::GetCollectionInfoResponse info;
  REQUIRE(call([&](auto... a) { return collections->Get(a...); }, get, &info));
  const qdrant::CollectionConfig& config = info.result().config();
  REQUIRE(config.params().vectors_config().has_params_map());
  const auto& vectors = config.params().vectors_config().params_map().map();
  REQUIRE(vectors.count("a") == 1);
  CHECK(vectors.at("a").size() == 3);
  CHECK(vectors.at("a").distance() == qdrant::Cosine);
  CHECK(config.hnsw_config().m() == 8);
  CHECK(config.hnsw_config().ef_construct() == 50);
  CHECK(config.optimizer_config().indexing_threshold() == 5000);
  CHECK(config.optimizer_config().max_optimization_threads().setting() ==
        qdrant::MaxOptimizationThreads::Auto);
  REQUIRE(config.metadata().count("owner") == 1);
  CHECK(config.metadata().at("owner").string_value() == "me");
  REQUIRE(info.result().payload_schema().count("title") == 1);
  const qdrant::PayloadSchemaInfo& title = info.result().payload_schema().at("title");
  CHECK(title.data_type() == qdrant::Text);
  CHECK(title.params().text_index_params().lowercase());
  CHECK(info.result().status() == qdrant::Green);
}
