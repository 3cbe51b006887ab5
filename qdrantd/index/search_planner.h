// SearchPlanner: chooses how a dense search with a filter runs in one segment: an exact scan
// over the points the payload indexes leave (Qdrant's "plain" search), or the filtered HNSW walk
// that skips what the filter rejects. A pure cost model (the figures it rests on are in
// search_planner.cc) plus one measurement the walk makes of itself: the share of the first
// labels it reaches that the filter accepts (the *local* selectivity). A filter that is 10% of
// the collection may be 90% of the query's neighbourhood (Fashion-MNIST, `label` = the query's
// class) or 0% of it (another class): the global estimate cannot tell, the first 64 labels can.
//
// Flow in Segment::Search, filtered and over full_scan_threshold:
//   1. Decide(inputs): kExact when even a walk whose every label passes (local selectivity 1)
//      would cost more than the scan; otherwise kWalk with a probe.
//   2. The walk runs; after kProbeLabels labels were tested, KeepWalking(inputs, tested, passed)
//      compares the walk at the measured selectivity with the scan; false abandons the walk
//      (that probe cost ~1% of the scan) and the segment scans instead.
// Thread: any; everything here is a pure function of its arguments.
#pragma once

#include <cstddef>

namespace qd::index {

struct PlannerInputs {
  size_t dim = 0;      // vector dimension
  size_t points = 0;   // live points with this vector in the segment
  size_t scanned = 0;  // points the exact scan tests against the filter
  double matches = 0;  // expected points that pass the filter (payload index statistics)
  size_t ef = 0;       // the walk's ef (>= limit)
  // Distances an unfiltered walk computes per unit of ef in this graph (its shape: M, size,
  // how clustered the data is); HnswIndex measures it (WalkDistancesPerEf).
  double walk_distances_per_ef = 0;
};

enum class SearchPath { kExact, kWalk };

class SearchPlanner {
 public:
  // Labels the walk tests before KeepWalking decides.
  static constexpr size_t kProbeLabels = 64;

  // Estimated cost, in nanoseconds, of the exact scan: a filter test per scanned point and a
  // sequential distance per match.
  static double ExactCostNs(const PlannerInputs& in);
  // Estimated cost of the filtered walk when a share `selectivity` (0..1] of the labels it
  // reaches pass the filter: it computes about walk_distances_per_ef * ef / selectivity^0.8
  // distances (at most one per point), each a random access.
  static double WalkCostNs(const PlannerInputs& in, double selectivity);

  // The choice before the walk (see the file comment).
  static SearchPath Decide(const PlannerInputs& in);
  // After the probe: whether the walk at the selectivity it measured (`passed` of `tested`,
  // smoothed towards the global estimate) still costs no more than the scan.
  static bool KeepWalking(const PlannerInputs& in, size_t tested, size_t passed);
  // The smoothed local selectivity KeepWalking uses.
  static double LocalSelectivity(const PlannerInputs& in, size_t tested, size_t passed);
};

}  // namespace qd::index
