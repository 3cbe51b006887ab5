// order_by (Qdrant's scroll and query ordered by a payload field) through the engine: the field
// index walk (index/payload_index.h), Segment::ScrollOrdered and the merge across shards in
// Collection::ScrollOrdered, on real segments in a temp directory.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "qdrantd/collection/collection.h"
#include "qdrantd/index/filter.h"
#include "tests/support/json.h"
#include "tests/support/temp_dir.h"

namespace qd::collection {
namespace {

using qd::test::ParseJson;
using segment::PointId;

// A collection of 2-d vectors with `shards` shards in a temp dir.
struct Fixture {
  explicit Fixture(int shards = 1) {
    rapidjson::Document body = ParseJson(R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":)" +
                                    std::to_string(shards) + "}");
    Result<CollectionConfig> config = ParseCreateCollection(body);
    REQUIRE(config.ok());
    Result<std::shared_ptr<Collection>> opened = Collection::Open("c", dir.path(), *config);
    REQUIRE(opened.ok());
    c = std::move(*opened);
  }

  void Upsert(const std::vector<std::pair<uint64_t, std::string>>& points) {
    UpdateRequest u;
    u.op.kind = segment::OpKind::kUpsert;
    for (const auto& [id, payload] : points) {
      segment::PointStruct p;
      p.id = PointId::Num(id);
      segment::Vector v;
      v.dense = {1, 0};
      p.vectors.emplace_back("", std::move(v));
      p.payload_json = payload;
      u.op.points.push_back(std::move(p));
    }
    REQUIRE(c->Update(std::move(u)).ok());
  }

  void Index(const std::string& field, const std::string& schema) {
    UpdateRequest u;
    u.op.kind = segment::OpKind::kCreateFieldIndex;
    u.op.field_name = field;
    u.op.field_schema_json = schema;
    REQUIRE(c->Update(std::move(u)).ok());
  }

  test::TempDir dir;
  std::shared_ptr<Collection> c;
};

segment::OrderBy By(const std::string& key, bool descending = false,
                    std::optional<index::OrderValue> start = std::nullopt) {
  segment::OrderBy o;
  o.key = key;
  o.path = index::ParseJsonPath(key).value();
  o.descending = descending;
  o.start_from = start;
  return o;
}

segment::PointFilter Filter(const std::string& json) {
  rapidjson::Document d = ParseJson(json);
  Result<index::Filter> f = index::ParseFilter(d);
  REQUIRE(f.ok());
  return segment::PointFilter{std::make_shared<const index::Filter>(std::move(*f))};
}

// "id:value" for each record, the value as the client sees it.
std::vector<std::string> Order(const Result<segment::RecordBatch>& batch) {
  INFO((batch.ok() ? "" : batch.status().message()));
  REQUIRE(batch.ok());
  std::vector<std::string> out;
  for (const segment::PointRecord& r : batch->points) {
    REQUIRE(r.order_value.has_value());
    std::string value = r.order_value->is_int ? std::to_string(r.order_value->integer)
                                              : std::to_string(r.order_value->real);
    out.push_back(r.id.ToString() + ":" + value);
  }
  return out;
}

Result<segment::RecordBatch> Scroll(const Fixture& f, const segment::OrderBy& o, size_t limit,
                                    const segment::PointFilter* filter = nullptr) {
  segment::Projection projection;
  return f.c->ScrollOrdered(o, std::nullopt, limit, filter, projection);
}

// Points 1..6 on `n`, with two ties (3 and 5 share 20; 1 and 6 share 10) and a point without it.
// Written out of id order, so that the segment's offsets (write order) disagree with the ids
// inside each tie: a tie must be ordered by id, not by where the points landed.
void Seed(Fixture& f) {
  f.Index("n", R"("integer")");
  f.Upsert({{5, R"({"n":20})"},
            {6, R"({"n":10})"},
            {2, R"({"n":30})"},
            {4, R"({"other":1})"},
            {3, R"({"n":20})"},
            {1, R"({"n":10})"}});
}

TEST_CASE("order_by: ascending and descending, ties by id in the same direction",
          "[unit][collection][order_by]") {
  for (int shards : {1, 3}) {
    INFO("shards " << shards);
    Fixture f(shards);
    Seed(f);
    // Point 4 has no `n`: never returned.
    CHECK(Order(Scroll(f, By("n"), 10)) ==
          std::vector<std::string>{"1:10", "6:10", "3:20", "5:20", "2:30"});
    CHECK(Order(Scroll(f, By("n", true), 10)) ==
          std::vector<std::string>{"2:30", "5:20", "3:20", "6:10", "1:10"});
    // The limit cuts inside a tie group by id.
    CHECK(Order(Scroll(f, By("n"), 3)) == std::vector<std::string>{"1:10", "6:10", "3:20"});
    CHECK(Order(Scroll(f, By("n", true), 2)) == std::vector<std::string>{"2:30", "5:20"});
  }
}

TEST_CASE("order_by: start_from is inclusive, an integer or a float bound",
          "[unit][collection][order_by]") {
  Fixture f(2);
  Seed(f);
  using index::OrderValue;
  CHECK(Order(Scroll(f, By("n", false, OrderValue::Int(20)), 10)) ==
        std::vector<std::string>{"3:20", "5:20", "2:30"});
  CHECK(Order(Scroll(f, By("n", true, OrderValue::Int(20)), 10)) ==
        std::vector<std::string>{"5:20", "3:20", "6:10", "1:10"});
  CHECK(Order(Scroll(f, By("n", false, OrderValue::Float(19.5)), 10)) ==
        std::vector<std::string>{"3:20", "5:20", "2:30"});
  CHECK(Order(Scroll(f, By("n", true, OrderValue::Float(19.5)), 10)) ==
        std::vector<std::string>{"6:10", "1:10"});
  CHECK(Order(Scroll(f, By("n", false, OrderValue::Int(31)), 10)).empty());
}

TEST_CASE("order_by: the filter applies, whether or not an index narrows it",
          "[unit][collection][order_by]") {
  Fixture f;
  f.Index("n", R"("integer")");
  f.Index("tag", R"("keyword")");
  std::vector<std::pair<uint64_t, std::string>> points;
  for (uint64_t id = 1; id <= 40; ++id) {
    // n descends as id grows; tag "rare" on 3 points only (the indexed path), "even" on half.
    std::string tag = id % 13 == 0 ? "rare" : id % 2 == 0 ? "even" : "odd";
    points.push_back({id, R"({"n":)" + std::to_string(100 - id) + R"(,"tag":")" + tag + "\"}"});
  }
  f.Upsert(points);
  segment::PointFilter rare = Filter(R"({"must":[{"key":"tag","match":{"value":"rare"}}]})");
  CHECK(Order(Scroll(f, By("n"), 10, &rare)) ==
        std::vector<std::string>{"39:61", "26:74", "13:87"});
  // Not narrowed by an index (a must_not): the ordered walk filters as it goes.
  segment::PointFilter not_even =
      Filter(R"({"must_not":[{"key":"tag","match":{"value":"even"}}]})");
  CHECK(Order(Scroll(f, By("n", true), 3, &not_even)) ==
        std::vector<std::string>{"1:99", "3:97", "5:95"});
  CHECK(Order(Scroll(f, By("n", false, index::OrderValue::Int(62)), 2, &not_even)) ==
        std::vector<std::string>{"37:63", "35:65"});
}

TEST_CASE("order_by: an integer index orders integers only, a float index every number",
          "[unit][collection][order_by]") {
  Fixture f;
  f.Index("i", R"("integer")");
  f.Index("x", R"("float")");
  f.Upsert({{1, R"({"i":1.5,"x":1.5})"},
            {2, R"({"i":9007199254740993,"x":2})"},
            {3, R"({"i":-4,"x":-4.25})"},
            {4, R"({"i":"7","x":"7"})"}});
  // 1.5 is no integer (Qdrant's integer index skips it); 2^53+1 stays exact.
  CHECK(Order(Scroll(f, By("i"), 10)) == std::vector<std::string>{"3:-4", "2:9007199254740993"});
  CHECK(Order(Scroll(f, By("x", true), 10)) ==
        std::vector<std::string>{"2:2.000000", "1:1.500000", "3:-4.250000"});
}

TEST_CASE("order_by: a point shows once per value, unless its values come one after another",
          "[unit][collection][order_by]") {
  Fixture f;
  f.Index("n", R"("integer")");
  f.Upsert({{1, R"({"n":[1,5]})"}, {2, R"({"n":3})"}, {3, R"({"n":[7,8]})"}});
  // As Qdrant: (value, id) pairs in order, then a record repeating the previous id dropped.
  CHECK(Order(Scroll(f, By("n"), 10)) == std::vector<std::string>{"1:1", "2:3", "1:5", "3:7"});
  CHECK(Order(Scroll(f, By("n", true), 10)) ==
        std::vector<std::string>{"3:8", "1:5", "2:3", "1:1"});
}

TEST_CASE("order_by: datetime keys order by UTC instant, start_from a datetime",
          "[unit][collection][order_by]") {
  Fixture f(2);
  f.Index("at", R"("datetime")");
  f.Upsert({{1, R"({"at":"2024-01-02T00:00:00Z"})"},
            {2, R"({"at":"2024-01-01T23:00:00-02:00"})"},  // 2024-01-02T01:00Z
            {3, R"({"at":"2023-12-31"})"},
            {4, R"({"at":"not a date"})"}});
  Result<segment::RecordBatch> all = Scroll(f, By("at"), 10);
  REQUIRE(all.ok());
  std::vector<std::string> ids;
  for (const auto& r : all->points) ids.push_back(r.id.ToString());
  CHECK(ids == std::vector<std::string>{"3", "1", "2"});
  REQUIRE(all->points[0].order_value->is_int);
  CHECK(all->points[0].order_value->integer == *index::ParseDateTime("2023-12-31T00:00:00Z"));
  const int64_t start = *index::ParseDateTime("2024-01-02T00:00:00Z");
  Result<segment::RecordBatch> later =
      Scroll(f, By("at", false, index::OrderValue::Int(start)), 10);
  REQUIRE(later.ok());
  REQUIRE(later->points.size() == 2);
  CHECK(later->points[0].id == PointId::Num(1));
  CHECK(later->points[1].id == PointId::Num(2));
}

TEST_CASE("order_by: a key without a range index is Qdrant's 400, then offset is refused",
          "[unit][collection][order_by]") {
  Fixture f(2);
  f.Index("tag", R"("keyword")");
  f.Index("count", R"({"type":"integer","lookup":true,"range":false})");
  f.Index("n", R"("integer")");
  f.Upsert({{1, R"({"tag":"a","count":1,"n":1})"}});
  for (const char* key : {"missing", "tag", "count"}) {
    Result<segment::RecordBatch> r = Scroll(f, By(key), 10);
    INFO(key);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message() ==
          std::string("Bad request: No range index for `order_by` key: `") + key +
              "`. Please create one to use `order_by`. Check "
              "https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which "
              "payload schemas support Range conditions");
  }
  segment::Projection projection;
  // The missing index wins over the offset, as in Qdrant.
  Result<segment::RecordBatch> both =
      f.c->ScrollOrdered(By("tag"), PointId::Num(1), 10, nullptr, projection);
  REQUIRE_FALSE(both.ok());
  CHECK(both.status().message().find("No range index") != std::string::npos);
  Result<segment::RecordBatch> offset =
      f.c->ScrollOrdered(By("n"), PointId::Num(1), 10, nullptr, projection);
  REQUIRE_FALSE(offset.ok());
  CHECK(offset.status().code() == StatusCode::kInvalidArgument);
  CHECK(offset.status().message().rfind("Bad request: Cannot use an `offset` when using `order_by`",
                                        0) == 0);
}

TEST_CASE("order_by: deleted and updated points leave the order", "[unit][collection][order_by]") {
  Fixture f;
  Seed(f);
  f.Upsert({{2, R"({"n":5})"}});
  UpdateRequest del;
  del.op.kind = segment::OpKind::kDeletePoints;
  del.op.ids = {PointId::Num(3)};
  REQUIRE(f.c->Update(std::move(del)).ok());
  CHECK(Order(Scroll(f, By("n"), 10)) == std::vector<std::string>{"2:5", "1:10", "6:10", "5:20"});
}

}  // namespace
}  // namespace qd::collection
