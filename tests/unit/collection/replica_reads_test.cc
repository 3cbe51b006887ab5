// Read consistency's rules (collection/replica_reads.h): parsing Qdrant's values, how many
// replicas each asks, and how several replicas' answers become one, whatever the coordinator.
#include "qdrantd/collection/replica_reads.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

namespace qd::collection {
namespace {

using segment::PointId;

// One answer: (id, version, distance) records, each with payload {"v": version}.
ShardReadResult Answer(const std::vector<std::tuple<uint64_t, segment::OpNum, float>>& records) {
  ShardReadResult out;
  for (const auto& [id, version, distance] : records) {
    segment::PointRecord r;
    r.id = PointId::Num(id);
    r.version = version;
    r.distance = distance;
    r.has_payload = true;
    r.payload.SetObject();
    r.payload.AddMember("v", static_cast<uint64_t>(version), out.records.Allocator());
    out.records.points.push_back(std::move(r));
  }
  return out;
}

std::vector<std::pair<uint64_t, segment::OpNum>> IdsAndVersions(const ShardReadResult& r) {
  std::vector<std::pair<uint64_t, segment::OpNum>> out;
  for (const segment::PointRecord& p : r.records.points) {
    out.emplace_back(p.id.num, p.version);
    REQUIRE(p.payload["v"].GetUint64() == p.version);  // the payload travelled with its record
  }
  return out;
}

TEST_CASE("read consistency parses Qdrant's values and refuses others", "[unit][consistency]") {
  CHECK(ParseReadConsistency("all")->kind == ReadConsistency::Kind::kAll);
  CHECK(ParseReadConsistency("majority")->kind == ReadConsistency::Kind::kMajority);
  CHECK(ParseReadConsistency("quorum")->kind == ReadConsistency::Kind::kQuorum);
  CHECK(ParseReadConsistency("2")->factor == 2);
  CHECK(ParseReadConsistency("1")->single());
  for (const char* bad : {"0", "-1", "2x", "", "ALL", "1.5"}) {
    Result<ReadConsistency> r = ParseReadConsistency(bad);
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().find("consistency `" + std::string(bad) + "`") != std::string::npos);
  }
}

TEST_CASE("read consistency asks as many replicas as Qdrant does", "[unit][consistency]") {
  auto quorum = [](const char* text, size_t readable) {
    return QuorumFor(*ParseReadConsistency(text), readable);
  };
  CHECK(quorum("all", 3).required == 3);
  CHECK(quorum("all", 3).keep_all);
  CHECK(quorum("majority", 3).required == 3);
  CHECK_FALSE(quorum("majority", 3).keep_all);
  CHECK(quorum("quorum", 3).required == 2);
  CHECK(quorum("quorum", 4).required == 3);
  CHECK(quorum("quorum", 1).required == 1);
  CHECK(quorum("2", 3).required == 2);
  CHECK(quorum("5", 3).required == 3);  // more than there are: all of them
  CHECK(quorum("1", 3).required == 1);
}

TEST_CASE("answers of several replicas resolve to one, the same in any coordinator",
          "[unit][consistency]") {
  ShardRead search;
  search.kind = ShardRead::Kind::kSearch;
  // Replica answers in peer id order. Point 3 is newer on the second replica; point 4 only on
  // the first two; point 5 only on the third; point 1 everywhere.
  auto answers = [] {
    std::vector<ShardReadResult> a;
    a.push_back(Answer({{1, 7, 0.1f}, {3, 5, 0.3f}, {4, 2, 0.2f}}));
    a.push_back(Answer({{1, 7, 0.1f}, {3, 9, 0.05f}, {4, 2, 0.2f}}));
    a.push_back(Answer({{1, 7, 0.1f}, {3, 5, 0.3f}, {5, 4, 0.01f}}));
    return a;
  };
  SECTION("keep_all: only records every answer has, the newest copy, by distance") {
    ShardReadResult r = ResolveAnswers(search, answers(), true);
    CHECK(IdsAndVersions(r) == std::vector<std::pair<uint64_t, segment::OpNum>>{{3, 9}, {1, 7}});
  }
  SECTION("majority: records more than half the answers have") {
    ShardReadResult r = ResolveAnswers(search, answers(), false);
    CHECK(IdsAndVersions(r) ==
          std::vector<std::pair<uint64_t, segment::OpNum>>{{3, 9}, {1, 7}, {4, 2}});
  }
  SECTION("scroll answers come back in id order") {
    ShardRead scroll;
    scroll.kind = ShardRead::Kind::kScroll;
    ShardReadResult r = ResolveAnswers(scroll, answers(), false);
    CHECK(IdsAndVersions(r) ==
          std::vector<std::pair<uint64_t, segment::OpNum>>{{1, 7}, {3, 9}, {4, 2}});
  }
  SECTION("equal versions with different contents: the lowest peer's copy") {
    std::vector<ShardReadResult> a;
    a.push_back(Answer({{1, 7, 0.5f}}));
    a.push_back(Answer({{1, 7, 0.1f}}));
    ShardReadResult r = ResolveAnswers(search, std::move(a), true);
    REQUIRE(r.records.points.size() == 1);
    CHECK(r.records.points[0].distance == 0.5f);
  }
  SECTION("one answer is passed through") {
    std::vector<ShardReadResult> a;
    a.push_back(Answer({{2, 1, 0.1f}, {1, 1, 0.2f}}));
    ShardReadResult r = ResolveAnswers(search, std::move(a), true);
    CHECK(IdsAndVersions(r) == std::vector<std::pair<uint64_t, segment::OpNum>>{{2, 1}, {1, 1}});
  }
}

TEST_CASE("counts resolve to the smallest, or the median for majority", "[unit][consistency]") {
  ShardRead count;
  count.kind = ShardRead::Kind::kCount;
  auto answers = [](std::vector<size_t> counts) {
    std::vector<ShardReadResult> a;
    for (size_t c : counts) {
      ShardReadResult r;
      r.count = c;
      a.push_back(std::move(r));
    }
    return a;
  };
  CHECK(ResolveAnswers(count, answers({10, 8, 12}), true).count == 8);
  CHECK(ResolveAnswers(count, answers({10, 8, 12}), false).count == 10);
  CHECK(ResolveAnswers(count, answers({10, 8}), false).count == 8);
}

}  // namespace
}  // namespace qd::collection
