// The router's own scores (router/scoring.h): fusion of result lists and the custom objectives
// of recommend, discover and context, on small hand-computed cases and their edges.
#include "qdrantd/router/scoring.h"

#include <catch2/catch.hpp>
#include <vector>

namespace qd::router {
namespace {

using segment::PointId;

std::vector<Scored> List(std::vector<std::pair<uint64_t, float>> hits) {
  std::vector<Scored> out;
  for (auto [id, score] : hits) out.push_back(Scored{PointId::Num(id), score, score});
  return out;
}

segment::Vector Dense(std::vector<float> v) {
  segment::Vector out;
  out.dense = std::move(v);
  return out;
}

TEST_CASE("rrf sums weight over k plus position, ties by id", "[unit][router]") {
  std::vector<Scored> fused =
      FuseRrf({List({{1, 0.9f}, {2, 0.8f}}), List({{2, 5}, {3, 4}})}, 2, {});
  REQUIRE(fused.size() == 3);
  CHECK(fused[0].id == PointId::Num(2));  // 1/3 + 1/2
  CHECK(fused[0].score == Approx(1.0f / 3 + 1.0f / 2));
  CHECK(fused[1].id == PointId::Num(1));  // 1/2
  CHECK(fused[2].id == PointId::Num(3));  // 1/3
  // 4 and 3 both first in one list: tied, the lower id first.
  std::vector<Scored> tied = FuseRrf({List({{4, 1}}), List({{3, 1}})}, 2, {});
  REQUIRE(tied.size() == 2);
  CHECK(tied[0].id == PointId::Num(3));
  CHECK(tied[0].score == tied[1].score);
  std::vector<Scored> weighted =
      FuseRrf({List({{1, 0.9f}, {2, 0.8f}}), List({{2, 5}, {3, 4}})}, 60, {0.5f, 2.0f});
  CHECK(weighted[0].id == PointId::Num(2));
  CHECK(weighted[0].score == Approx(0.5f / 61 + 2.0f / 60));
  CHECK(weighted[1].id == PointId::Num(3));  // 2/61 beats 0.5/60
}

TEST_CASE("dbsf normalises each list to mean plus or minus three deviations", "[unit][router]") {
  // Keys 1, 2, 3: mean 2, sample deviation 1, range -1..5.
  std::vector<Scored> fused = FuseDbsf({List({{1, 3}, {2, 2}, {3, 1}})});
  REQUIRE(fused.size() == 3);
  CHECK(fused[0].score == Approx(4.0f / 6));
  CHECK(fused[2].score == Approx(2.0f / 6));
  // One score, or equal scores, normalise to the middle.
  std::vector<Scored> one = FuseDbsf({List({{7, 0.3f}}), List({{7, 0.9f}, {8, 0.9f}})});
  CHECK(one[0].id == PointId::Num(7));
  CHECK(one[0].score == Approx(1.0f));
  CHECK(one[1].score == Approx(0.5f));
  CHECK(FuseDbsf({}).empty());
}

TEST_CASE("recommend's objectives and the average vector", "[unit][router]") {
  CHECK(ScaledFastSigmoid(0) == Approx(0.5f));
  CHECK(ScaledFastSigmoid(1) == Approx(0.75f));
  CHECK(BestScore({0.2f, 0.6f}, {0.5f}) == Approx(ScaledFastSigmoid(0.6f)));
  CHECK(BestScore({0.2f}, {0.5f}) == Approx(-ScaledFastSigmoid(0.5f)));
  CHECK(BestScore({}, {0.5f}) == Approx(-ScaledFastSigmoid(0.5f)));
  CHECK(SumScores({0.2f, 0.6f}, {0.5f}) == Approx(0.3f));
  segment::Vector avg = AverageVector({Dense({1, 0}), Dense({0, 1})}, {Dense({1, 1})});
  CHECK(avg.dense == std::vector<float>{0, 0});  // 2 * (0.5, 0.5) - (1, 1)
  CHECK(AverageVector({Dense({2, 4})}, {}).dense == std::vector<float>{2, 4});
}

TEST_CASE("discover ranks by context pairs first, context sums its losses", "[unit][router]") {
  // One pair won, one lost: rank 0, plus the target's sigmoid.
  CHECK(DiscoverScore(1, {{0.9f, 0.1f}, {0.1f, 0.9f}}) == Approx(0.75f));
  CHECK(DiscoverScore(0, {{0.9f, 0.1f}, {0.9f, 0.1f}}) == Approx(2.5f));
  CHECK(ContextScore({{0.9f, 0.1f}}) == 0.0f);
  CHECK(ContextScore({{0.1f, 0.9f}, {0.2f, 0.5f}}) == Approx(-1.1f));
}

TEST_CASE("similarities and nearest scores follow the metric", "[unit][router]") {
  segment::Vector a = Prepared(index::Distance::kCosine, Dense({3, 4}));
  CHECK(a.dense[0] == Approx(0.6f));
  CHECK(Similarity(index::Distance::kEuclid, Dense({0, 0}), Dense({3, 4})) == Approx(-25.0f));
  CHECK(Similarity(index::Distance::kManhattan, Dense({0, 0}), Dense({3, 4})) == Approx(-7.0f));
  Scored euclid = NearestScore(index::Distance::kEuclid, Dense({0, 0}), Dense({3, 4}));
  CHECK(euclid.score == Approx(5.0f));
  CHECK(euclid.key == Approx(-5.0f));
  segment::Vector sparse;
  sparse.sparse = true;
  sparse.indices = {5, 1};
  sparse.values = {2, 3};
  segment::Vector sorted = Prepared(index::Distance::kDot, sparse);
  CHECK(sorted.indices == std::vector<uint32_t>{1, 5});
  CHECK(sorted.values == std::vector<float>{3, 2});
  segment::Vector other = sorted;
  CHECK(Similarity(index::Distance::kDot, sorted, other) == Approx(13.0f));
}

}  // namespace
}  // namespace qd::router
