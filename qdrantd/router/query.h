// The router layer (api -> router -> collection): the one request type of every read query the
// public APIs take (REST points/search, points/query and their batches; gRPC Search,
// SearchBatch, Query, QueryBatch) and the one path that runs them. Both APIs parse into a Query
// and call Run, so a query answers the same through either; the collection below splits it by
// shard, reads the replicas and merges.
// Thread: any.
#pragma once

#include <optional>

#include "libshared/status.h"
#include "qdrantd/collection/collection.h"
#include "qdrantd/collection/replica_reads.h"
#include "qdrantd/segment/point_id.h"
#include "qdrantd/segment/segment.h"

namespace qd::router {

struct Query {
  enum class Kind : uint8_t {
    kNearest,         // nearest to spec.query
    kNearestToPoint,  // nearest to `point`'s vector spec.vector_name, the point itself left out
    kOrderBy,         // points ordered by a payload field (order_by)
    kList,            // points in id order: a query without `query`
  };
  Kind kind = Kind::kNearest;
  // Vector name, query vector, limit, offset, score threshold, ef, exact. Its `filter` pointer
  // is Run's to set.
  segment::SearchSpec spec;
  segment::PointFilter filter;
  segment::Projection projection;
  std::optional<segment::OrderBy> order_by;  // kOrderBy
  segment::PointId point;                    // kNearestToPoint
  collection::ReadConsistency consistency;
};

// Runs `query`: at most spec.limit records after skipping spec.offset. Errors: the
// collection's; kNotFound ("No point with id N found") when kNearestToPoint's point does not
// exist or has no such vector.
Result<segment::RecordBatch> Run(const collection::Collection& collection, Query query);

}  // namespace qd::router
