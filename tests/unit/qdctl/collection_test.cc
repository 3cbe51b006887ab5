// qdctl collection: flags -> CollectionCreate -> the qdrant.CreateCollection on the wire, the
// GetCollectionInfoResponse -> CollectionInfo mapping, and what each command prints.
#include "qdctl/commands/collection.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using qd::StatusCode;
using qd::client::CollectionCreate;
using qd::client::CollectionInfo;
using qd::client::CollectionInfoFromTextForTesting;
using qd::client::CreateCollectionRequestTextForTesting;
using qd::client::Distance;
using qd::qdctl::CollectionCreateFlags;
using qd::qdctl::Format;
using qd::qdctl::Render;
using qd::qdctl::RenderList;

namespace {

// Parses `qdctl collection create <args>` the way main() does and returns the flags.
CollectionCreateFlags ParseCreate(std::vector<std::string> args) {
  CLI::App app{"test", "create"};
  CollectionCreateFlags flags;
  qd::qdctl::AddCollectionCreateFlags(app, flags);
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  app.parse(args);
  return flags;
}

std::string CreateText(std::vector<std::string> args) {
  qd::Result<CollectionCreate> request =
      qd::qdctl::CollectionCreateRequest(ParseCreate(std::move(args)));
  REQUIRE(request.ok());
  return CreateCollectionRequestTextForTesting(*request);
}

}  // namespace

TEST_CASE("collection create maps every flag to its CreateCollection field", "[unit][qdctl]") {
  CHECK(CreateText({"books", "--size", "4", "--distance", "Dot", "--shard-number", "2",
                    "--replication-factor", "3", "--write-consistency-factor", "2",
                    "--on-disk-payload", "--hnsw-m", "32", "--hnsw-ef-construct", "200"}) ==
        "collection_name: \"books\" hnsw_config { m: 32 ef_construct: 200 } shard_number: 2 "
        "on_disk_payload: true vectors_config { params { size: 4 distance: Dot } } "
        "replication_factor: 3 write_consistency_factor: 2");
}

TEST_CASE("collection create leaves unset flags out, so the server's defaults apply",
          "[unit][qdctl]") {
  CHECK(CreateText({"books", "--size", "768", "--distance", "cosine"}) ==
        "collection_name: \"books\" vectors_config { params { size: 768 distance: Cosine } }");
  // Explicit false is sent (it overrides a server default of true); m = 0 disables the graph.
  CHECK(CreateText({"b", "--size", "1", "--distance", "MANHATTAN", "--on-disk-payload=false",
                    "--hnsw-m", "0"}) ==
        "collection_name: \"b\" hnsw_config { m: 0 } on_disk_payload: false "
        "vectors_config { params { size: 1 distance: Manhattan } }");
}

TEST_CASE("collection create rejects bad flags as usage errors", "[unit][qdctl]") {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{"b", "--distance", "Dot"}, "--size is required"},
      {{"b", "--size", "4"}, "--distance is required"},
      {{"--size", "4", "--distance", "Dot"}, "name is required"},
      {{"b", "--size", "0", "--distance", "Dot"}, "\"0\" is not a whole number from 1 to 65536"},
      {{"b", "--size", "65537", "--distance", "Dot"}, "from 1 to 65536"},
      {{"b", "--size", "-4", "--distance", "Dot"}, "\"-4\" is not a whole number"},
      {{"b", "--size", "4", "--distance", "Dot", "--shard-number", "0"}, "from 1 to 4294967295"},
      {{"b", "--size", "4", "--distance", "Dot", "--replication-factor", "x"}, "\"x\""},
      {{"b", "--size", "4", "--distance", "Dot", "--shard-number", "4294967296"}, "4294967296"},
      {{"b", "--size", "4", "--distance", "Dot", "--hnsw-ef-construct", "3"}, "from 4 to"},
  };
  for (const Case& c : cases) {
    INFO(c.error);
    try {
      ParseCreate(c.args);
      FAIL("parsed");
    } catch (const CLI::ParseError& e) {
      CHECK_THAT(e.what(), Catch::Contains(c.error));
    }
  }
  CollectionCreateFlags flags = ParseCreate({"b", "--size", "4", "--distance", "Jaccard"});
  qd::Result<CollectionCreate> request = qd::qdctl::CollectionCreateRequest(flags);
  REQUIRE_FALSE(request.ok());
  CHECK(request.status().code() == StatusCode::kInvalidArgument);
  CHECK(request.status().message() ==
        "unknown distance \"Jaccard\": use Cosine, Euclid, Dot or Manhattan");
}

TEST_CASE("collection create prints what it created, null where the server decides",
          "[unit][qdctl]") {
  CollectionCreate request;
  request.name = "books";
  request.vector_size = 4;
  request.distance = Distance::kEuclid;
  request.shard_number = 2;
  request.on_disk_payload = false;
  request.hnsw_ef_construct = 100;
  const qd::qdctl::Record record = qd::qdctl::CollectionCreatedRecord(request);
  CHECK(Render(record, Format::kTable) ==
        "name                      books\n"
        "status                    created\n"
        "vectors.size              4\n"
        "vectors.distance          Euclid\n"
        "shard_number              2\n"
        "replication_factor        -\n"
        "write_consistency_factor  -\n"
        "on_disk_payload           false\n"
        "hnsw_config.m             -\n"
        "hnsw_config.ef_construct  100\n");
  CHECK(Render(record, Format::kJson) ==
        R"({"name":"books","status":"created","vectors":{"size":4,"distance":"Euclid"},)"
        R"("shard_number":2,"replication_factor":null,"write_consistency_factor":null,)"
        R"("on_disk_payload":false,"hnsw_config":{"m":null,"ef_construct":100}})"
        "\n");
}

TEST_CASE("collection list prints one name per row", "[unit][qdctl]") {
  const auto rows = qd::qdctl::CollectionListRows({"books", "films"});
  CHECK(RenderList(rows, Format::kTable) == "NAME\nbooks\nfilms\n");
  CHECK(RenderList(rows, Format::kJson) == R"([{"name":"books"},{"name":"films"}])"
                                           "\n");
}

TEST_CASE("collection info maps Qdrant's CollectionInfo and prints it", "[unit][qdctl]") {
  qd::Result<CollectionInfo> info = CollectionInfoFromTextForTesting("books", R"(
    result {
      status: Yellow
      optimizer_status { ok: false error: "disk full" }
      segments_count: 3
      points_count: 1000
      config {
        params {
          shard_number: 2
          replication_factor: 2
          write_consistency_factor: 1
          on_disk_payload: true
          vectors_config { params_map { map { key: "text" value { size: 384 distance: Cosine } }
                                        map { key: "image" value { size: 512 distance: Dot } } } }
          sparse_vectors_config { map { key: "bm25" value {} } }
        }
        hnsw_config { m: 16 ef_construct: 100 }
      }
      payload_schema { key: "city" value { data_type: Keyword points: 990 } }
      payload_schema { key: "age" value { data_type: Integer } }
      warnings { message: "hnsw m is low" }
    }
    time: 0.001)");
  REQUIRE(info.ok());
  CHECK(info->status == "Yellow");
  CHECK_FALSE(info->indexed_vectors_count.has_value());
  REQUIRE(info->vectors.size() == 2);
  CHECK(info->vectors[0].name == "image");  // sorted by name
  CHECK(info->vectors[0].distance == Distance::kDot);
  const qd::qdctl::Record record = qd::qdctl::CollectionInfoRecord(*info);
  CHECK(Render(record, Format::kTable) ==
        "name                        books\n"
        "status                      Yellow\n"
        "optimizer_status            disk full\n"
        "points_count                1000\n"
        "indexed_vectors_count       -\n"
        "segments_count              3\n"
        "vectors.image.size          512\n"
        "vectors.image.distance      Dot\n"
        "vectors.text.size           384\n"
        "vectors.text.distance       Cosine\n"
        "sparse_vectors              bm25\n"
        "shard_number                2\n"
        "replication_factor          2\n"
        "write_consistency_factor    1\n"
        "on_disk_payload             true\n"
        "hnsw_config.m               16\n"
        "hnsw_config.ef_construct    100\n"
        "payload_schema.age.type     Integer\n"
        "payload_schema.age.points   -\n"
        "payload_schema.city.type    Keyword\n"
        "payload_schema.city.points  990\n"
        "warnings                    hnsw m is low\n");
}

TEST_CASE("collection info prints an unnamed vector as Qdrant's REST does", "[unit][qdctl]") {
  qd::Result<CollectionInfo> info = CollectionInfoFromTextForTesting("b", R"(
    result {
      status: Green
      optimizer_status { ok: true }
      points_count: 0
      indexed_vectors_count: 0
      config { params { shard_number: 1 vectors_config { params { size: 4 distance: Euclid } } } }
    })");
  REQUIRE(info.ok());
  CHECK(Render(qd::qdctl::CollectionInfoRecord(*info), Format::kJson) ==
        R"({"name":"b","status":"Green","optimizer_status":"ok","points_count":0,)"
        R"("indexed_vectors_count":0,"segments_count":0,)"
        R"("vectors":{"size":4,"distance":"Euclid"},"sparse_vectors":null,"shard_number":1,)"
        R"("replication_factor":null,"write_consistency_factor":null,"on_disk_payload":false,)"
        R"("hnsw_config":{"m":null,"ef_construct":null},"payload_schema":null,"warnings":null})"
        "\n");
  CHECK_FALSE(CollectionInfoFromTextForTesting("b", "result { bogus: 1 }").ok());
}

TEST_CASE("collection delete prints the name it deleted", "[unit][qdctl]") {
  CHECK(Render(qd::qdctl::CollectionDeletedRecord("books"), Format::kTable) ==
        "name    books\n"
        "status  deleted\n");
}

TEST_CASE("distances parse in any case and print in Qdrant's spelling", "[unit][qdctl]") {
  CHECK(qd::client::ParseDistance("euclid") == Distance::kEuclid);
  CHECK(qd::client::ParseDistance("DOT") == Distance::kDot);
  CHECK_FALSE(qd::client::ParseDistance("Unknown").has_value());
  CHECK_FALSE(qd::client::ParseDistance("").has_value());
  CHECK(qd::client::DistanceName(Distance::kManhattan) == "Manhattan");
}

TEST_CASE("a server without the Collections service gets a clear error", "[unit][qdctl]") {
  constexpr int kUnimplemented = 12;  // grpc::StatusCode::UNIMPLEMENTED
  qd::Status s =
      qd::client::Client::StatusFromGrpcForTesting(kUnimplemented, "", "qdrant.Collections/Create");
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(s.message() ==
        "the server does not support qdrant.Collections/Create: it does not serve collections "
        "over gRPC (a qdrantd older than this qdctl?)");
  // A server that says why keeps its own words; other services keep the general sentence.
  CHECK(qd::client::Client::StatusFromGrpcForTesting(kUnimplemented, "not yet",
                                                     "qdrant.Collections/List")
            .message() == "the server does not support qdrant.Collections/List: not yet");
  CHECK(qd::client::Client::StatusFromGrpcForTesting(kUnimplemented, "",
                                                     "qdrantd.admin.Admin/Version")
            .message() == "the server does not support qdrantd.admin.Admin/Version");
  constexpr int kNotFound = 5;
  qd::Status missing = qd::client::Client::StatusFromGrpcForTesting(
      kNotFound, "Not found: Collection `books` doesn't exist!", "qdrant.Collections/Get");
  CHECK(missing.code() == StatusCode::kNotFound);
  CHECK(missing.message() == "Not found: Collection `books` doesn't exist!");
}
