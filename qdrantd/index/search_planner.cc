#include "qdrantd/index/search_planner.h"

#include <algorithm>
#include <cmath>

namespace qd::index {
namespace {

// The cost model's constants, in nanoseconds, measured on the 2-core build machine (AVX2
// kernels) with scripts/bench/filtered.sh (REST, Fashion-MNIST 60,000 x 784) and qd_index_bench
// (in process, CPU time; Fashion-MNIST and the clustered 100,000 x 128 set), 2026-12-07:
//
//   a distance in the exact scan   kScanFixedNs + kScanNsPerDim * dim   784: 0.36 us (an exact
//                                  search of all 60,000: 21.6 ms); labels go in offset order,
//                                  so hnswlib's level-0 memory is read almost sequentially
//   a distance in the walk         kWalkFixedNs + kWalkNsPerDim * dim   784: 0.78 us (1,426
//                                  searches/CPU-s at ef 128, 7.0 distances per unit of ef);
//                                  128: 0.29 us (3,976/CPU-s, 6.7 per ef): a random access of
//                                  every cache line of the vector, the visited mark, a heap push
//   a filter test                  kCheckNs: Filter::Matches over the point's JSON payload, cache
//                                  misses mostly (`label` not in 0..7, 60,000 tests and 12,000
//                                  distances: 22-40 ms from run to run; bucket < 30, 18,000
//                                  tests and distances: 13.7-16.2 ms)
//
// The scan tests every candidate; the walk tests the labels it reaches, and when the payload
// indexes gave candidates only those among them (a bitset first), a share `selectivity`.
// A walk that keeps a share s of the labels it reaches computes more distances than an
// unfiltered one, but fewer than 1/s times as many (it stops once ef accepted labels are closer
// than every candidate left): Fashion-MNIST measured 4.9x at s = 0.1, 2.9x at 0.3, 1.7x at 0.5,
// so the model takes (1/s)^0.8. Uncorrelated filters then cross over near s = 0.1: `bucket < 10`
// walked in 3.8-4.2 ms against a scan of 4.7-5.2, `bucket < 30` in 2.6 against 13.7-14.9. A
// correlated filter moves that line per query, which is what the probe measures.
constexpr double kScanFixedNs = 20;
constexpr double kScanNsPerDim = 0.42;
constexpr double kWalkFixedNs = 195;
constexpr double kWalkNsPerDim = 0.75;
constexpr double kCheckNs = 400;
constexpr double kSelectivityExponent = 0.8;

// Before any measurement of the graph: distances per unit of ef of an unfiltered walk at M 16,
// ef 128 (7.0 on Fashion-MNIST, 6.7 on the clustered set; 9.0 at ef 64, 5.4 at ef 256).
constexpr double kDefaultWalkDistancesPerEf = 7;

// How much the probe's count is pulled towards the global estimate: as if this many labels
// had been tested at the global selectivity. Little: a query whose 64 first labels all fail
// (another class of Fashion-MNIST) would walk a third of the graph, and the prior must not
// talk the planner into it.
constexpr double kPriorLabels = 2;

double WalkDistancesPerEf(const PlannerInputs& in) {
  return in.walk_distances_per_ef > 0 ? in.walk_distances_per_ef : kDefaultWalkDistancesPerEf;
}

double GlobalSelectivity(const PlannerInputs& in) {
  if (in.points == 0) return 1;
  return std::clamp(in.matches / double(in.points), 1e-6, 1.0);
}

}  // namespace

double SearchPlanner::ExactCostNs(const PlannerInputs& in) {
  return double(in.scanned) * kCheckNs +
         std::max(0.0, in.matches) * (kScanFixedNs + kScanNsPerDim * double(in.dim));
}

double SearchPlanner::WalkCostNs(const PlannerInputs& in, double selectivity) {
  const double s = std::clamp(selectivity, 1e-6, 1.0);
  // The walk cannot compute more distances than there are points.
  const double distances = std::min(double(in.points), WalkDistancesPerEf(in) * double(in.ef) *
                                                           std::pow(s, -kSelectivityExponent));
  // Candidates from the payload indexes (fewer scanned than points) spare the filter test of
  // every label the bitset rejects.
  const double checks = in.scanned < in.points ? s : 1.0;
  return distances * (kWalkFixedNs + kWalkNsPerDim * double(in.dim) + checks * kCheckNs);
}

SearchPath SearchPlanner::Decide(const PlannerInputs& in) {
  return WalkCostNs(in, 1.0) <= ExactCostNs(in) ? SearchPath::kWalk : SearchPath::kExact;
}

double SearchPlanner::LocalSelectivity(const PlannerInputs& in, size_t tested, size_t passed) {
  return (double(passed) + kPriorLabels * GlobalSelectivity(in)) / (double(tested) + kPriorLabels);
}

bool SearchPlanner::KeepWalking(const PlannerInputs& in, size_t tested, size_t passed) {
  return WalkCostNs(in, LocalSelectivity(in, tested, passed)) <= ExactCostNs(in);
}

}  // namespace qd::index
