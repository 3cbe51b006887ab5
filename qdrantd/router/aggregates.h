// Reads that aggregate over many points rather than rank them (issue #21 item 5): facet counts
// of a payload field (Qdrant's /facet) and the distance matrix of a random sample
// (/points/search/matrix/pairs and /offsets). Both APIs parse into these and call them; the
// collection below reads every shard, so they answer the same in a cluster.
// Thread: any.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collection.h"
#include "qdrantd/collection/replica_reads.h"
#include "qdrantd/segment/point_id.h"
#include "qdrantd/segment/segment.h"

namespace qd::router {

struct FacetValue {
  enum class Kind : uint8_t { kString, kInteger, kBool };
  Kind kind = Kind::kString;
  std::string string_value;
  int64_t integer_value = 0;
  bool bool_value = false;
};

struct FacetHit {
  FacetValue value;
  uint64_t count = 0;  // points that have the value (once each, however often they repeat it)
};

// The `limit` most frequent string, integer and boolean values of payload field `key` among the
// points `filter` passes, by count descending, ties by value ascending. Every point is read (the
// counts are exact whatever `exact` a client sent). Errors: kInvalidArgument for a key that is
// not a payload path; the collection's.
Result<std::vector<FacetHit>> Facet(const collection::Collection& collection,
                                    const std::string& key, size_t limit,
                                    const segment::PointFilter* filter,
                                    const collection::ReadConsistency& consistency);

// The distance matrix of a sample: `sample` points drawn at random among those `filter` passes
// that have vector `using_name`, and for each, its `limit` nearest among the others of the
// sample (nearest first, scores as a search reports them). rows[i] lists (column, score) for
// ids[i].
struct Matrix {
  std::vector<segment::PointId> ids;
  std::vector<std::vector<std::pair<size_t, float>>> rows;
};
// Errors: kInvalidArgument for an unknown vector name; the collection's.
Result<Matrix> DistanceMatrix(const collection::Collection& collection,
                              const std::string& using_name, size_t sample, size_t limit,
                              const segment::PointFilter* filter,
                              const collection::ReadConsistency& consistency);

}  // namespace qd::router
