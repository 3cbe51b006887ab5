// SearchPlanner (qdrantd/index/search_planner.h): the cost model's choices on the shapes of
// the filtered-search benchmark (scripts/bench/filtered.sh, Fashion-MNIST: 60,000 x 784,
// hnsw_ef 128), where the measured answer is known: which path was the faster one.
#include "qdrantd/index/search_planner.h"

#include <catch2/catch.hpp>

namespace qd::index {
namespace {

// Fashion-MNIST with a filter that the payload indexes answer with `matches` candidates.
PlannerInputs FashionMnist(size_t matches, size_t scanned = 0) {
  PlannerInputs in;
  in.dim = 784;
  in.points = 60000;
  in.scanned = scanned ? scanned : matches;
  in.matches = double(matches);
  in.ef = 128;
  in.walk_distances_per_ef = 7;  // measured at ef 128
  return in;
}

TEST_CASE("the planner scans a 1% filter without walking", "[unit][index]") {
  CHECK(SearchPlanner::Decide(FashionMnist(600)) == SearchPath::kExact);
}

TEST_CASE("the planner probes a 10% filter and follows what the probe saw", "[unit][index]") {
  const PlannerInputs label = FashionMnist(6000);
  REQUIRE(SearchPlanner::Decide(label) == SearchPath::kWalk);
  // `label` = the query's own class: nearly every label around the query passes.
  CHECK(SearchPlanner::KeepWalking(label, 64, 58));
  // Another class: none do, and the walk would cross the graph to find 128.
  CHECK_FALSE(SearchPlanner::KeepWalking(label, 64, 0));
  // Few pass around the query (a filter anti-correlated with it): the scan. (An uncorrelated
  // 10%, 6 of 64, sits on the line, where both paths measured within 20% of each other.)
  CHECK_FALSE(SearchPlanner::KeepWalking(label, 64, 3));
}

TEST_CASE("the planner walks uncorrelated filters of 30% and more", "[unit][index]") {
  for (size_t matches : {18000, 30000}) {
    const PlannerInputs in = FashionMnist(matches);
    REQUIRE(SearchPlanner::Decide(in) == SearchPath::kWalk);
    const size_t passed = 64 * matches / 60000;
    CHECK(SearchPlanner::KeepWalking(in, 64, passed));
  }
}

TEST_CASE("a must_not filter the indexes cannot narrow is scanned in full but estimated",
          "[unit][index]") {
  // `label` not in 0..7: 20% of the points, but the scan tests all 60,000.
  const PlannerInputs in = FashionMnist(12000, 60000);
  REQUIRE(SearchPlanner::Decide(in) == SearchPath::kWalk);
  CHECK(SearchPlanner::KeepWalking(in, 64, 13));  // a query whose class is 8 or 9 ...
  CHECK(SearchPlanner::KeepWalking(in, 64, 60));
  CHECK_FALSE(SearchPlanner::KeepWalking(in, 64, 0));  // ... or one of the others
}

TEST_CASE("the probe's selectivity leans on the global estimate when it saw little",
          "[unit][index]") {
  const PlannerInputs in = FashionMnist(6000);
  CHECK(SearchPlanner::LocalSelectivity(in, 0, 0) == Approx(0.1));
  CHECK(SearchPlanner::LocalSelectivity(in, 64, 64) > 0.85);
  CHECK(SearchPlanner::LocalSelectivity(in, 64, 0) < 0.02);
}

TEST_CASE("the walk's estimated cost never exceeds a distance per point", "[unit][index]") {
  const PlannerInputs in = FashionMnist(60);
  CHECK(SearchPlanner::WalkCostNs(in, 1e-9) == SearchPlanner::WalkCostNs(in, 1e-6));
  CHECK(SearchPlanner::WalkCostNs(in, 0.5) < SearchPlanner::WalkCostNs(in, 0.1));
}

}  // namespace
}  // namespace qd::index
