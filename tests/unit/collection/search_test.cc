// Collection::Search over one and several shards: the page `offset`/`limit` cuts from the merged
// order (distance, then id), and payloads are copied into the returned batch only when asked
// for, on real segments in a temp directory.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "qdrantd/collection/collection.h"
#include "tests/support/json.h"
#include "tests/support/temp_dir.h"

namespace qd::collection {
namespace {

using qd::test::ParseJson;
using segment::PointId;

// 2-d Euclid vectors, `shards` shards. Point i sits at (i % 7, 0): distances from the origin
// repeat every 7 ids, so most ranks are ties that only the id orders.
struct Fixture {
  explicit Fixture(int shards) {
    rapidjson::Document body = ParseJson(
        R"({"vectors":{"size":2,"distance":"Euclid"},"shard_number":)" + std::to_string(shards) + "}");
    Result<CollectionConfig> config = ParseCreateCollection(body);
    REQUIRE(config.ok());
    Result<std::shared_ptr<Collection>> opened = Collection::Open("c", dir.path(), *config);
    REQUIRE(opened.ok());
    c = std::move(*opened);
    UpdateRequest u;
    u.op.kind = segment::OpKind::kUpsert;
    for (uint64_t id = 1; id <= 30; ++id) {
      segment::PointStruct p;
      p.id = PointId::Num(id);
      segment::Vector v;
      v.dense = {static_cast<float>(id % 7), 0};
      p.vectors.emplace_back("", std::move(v));
      p.payload_json = R"({"id":)" + std::to_string(id) + "}";
      u.op.points.push_back(std::move(p));
    }
    REQUIRE(c->Update(std::move(u)).ok());
  }

  test::TempDir dir;
  std::shared_ptr<Collection> c;
};

segment::Projection WithPayload(bool payload) {
  segment::Projection p;
  if (payload) {
    p.payload = [](const rapidjson::Value& in, rapidjson::Value& out,
                   rapidjson::Document::AllocatorType& alloc) { out.CopyFrom(in, alloc); };
  }
  return p;
}

std::vector<uint64_t> Ids(const Fixture& f, size_t limit, size_t offset, bool exact,
                          bool payload = false) {
  segment::SearchSpec spec;
  spec.query.dense = {0, 0};
  spec.limit = limit;
  spec.offset = offset;
  spec.exact = exact;
  spec.ef = 64;
  Result<segment::RecordBatch> found = f.c->Search(spec, WithPayload(payload));
  INFO((found.ok() ? "" : found.status().message()));
  REQUIRE(found.ok());
  std::vector<uint64_t> ids;
  for (const segment::PointRecord& r : found->points) {
    ids.push_back(r.id.num);
    REQUIRE(r.has_payload == payload);
    if (payload) {
      // The payload lives in the batch's own allocator and survives the shards' batches.
      REQUIRE(r.payload.IsObject());
      CHECK(r.payload["id"].GetUint64() == r.id.num);
    }
  }
  return ids;
}

TEST_CASE("search: offset and limit page the merged order", "[unit][collection][search]") {
  // Ordered by distance i % 7, then id: the 7s, then 1 8 15 22 29, then 2 9 16 23 30, ...
  std::vector<uint64_t> all;
  for (uint64_t d = 0; d < 7; ++d) {
    for (uint64_t id = 1; id <= 30; ++id) {
      if (id % 7 == d) all.push_back(id);
    }
  }
  for (int shards : {1, 3}) {
    Fixture f(shards);
    for (bool exact : {true, false}) {
      INFO("shards " << shards << (exact ? ", exact" : ", graph"));
      CHECK(Ids(f, 30, 0, exact) == all);
      for (size_t offset : {0u, 1u, 4u, 13u, 28u, 30u, 45u}) {
        INFO("offset " << offset);
        std::vector<uint64_t> want(all.begin() + std::min<size_t>(offset, all.size()),
                                   all.begin() + std::min<size_t>(offset + 6, all.size()));
        CHECK(Ids(f, 6, offset, exact) == want);
      }
    }
  }
}

TEST_CASE("search: payloads only when projected, from every shard", "[unit][collection][search]") {
  for (int shards : {1, 3}) {
    INFO("shards " << shards);
    Fixture f(shards);
    CHECK(Ids(f, 10, 3, false, true).size() == 10);
    CHECK(Ids(f, 10, 3, false, false).size() == 10);
  }
}

}  // namespace
}  // namespace qd::collection
