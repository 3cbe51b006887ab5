// The router layer (api -> router -> collection): the one request type of every read query the
// public APIs take (REST points/search, points/query and their batches; gRPC Search,
// SearchBatch, Query, QueryBatch) and the one path that runs them. Both APIs parse into a Query
// and call Run, so a query answers the same through either; the collection below splits it by
// shard, reads the replicas and merges.
// Thread: any.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collection.h"
#include "qdrantd/collection/replica_reads.h"
#include "qdrantd/segment/point_id.h"
#include "qdrantd/segment/segment.h"

namespace qd::router {

// A vector given as such, or as the id of a stored point whose vector (of the query's vector
// name) it stands for; such points are left out of the results, as Qdrant does.
struct VectorInput {
  std::optional<segment::PointId> id;
  segment::Vector vector;  // when no id
};

// Qdrant's lookup_from: the point ids a query gives as examples (and a nearest id) name points
// of another collection, whose vector `vector` ("" the default) stands for them. Such ids are
// not left out of the results: they are not this collection's points.
struct LookupFrom {
  std::string collection;
  std::string vector;
  std::shared_ptr<const collection::Collection> resolved;  // ResolveLookups sets it
};

struct Query {
  enum class Kind : uint8_t {
    kNearest,         // nearest to spec.query
    kNearestToPoint,  // nearest to `point`'s vector spec.vector_name, the point itself left out
    kOrderBy,         // points ordered by a payload field (order_by)
    kList,            // points in id order: a query without `query`
    kRecommend,       // positive / negative examples, by `strategy`
    kDiscover,        // near `target`, within the context `pairs`
    kContext,         // within the context `pairs` only
    kFusion,          // the prefetches' results fused by `fusion`
    kSample,          // points drawn at random (Qdrant's sample: random), score 0
  };
  enum class Strategy : uint8_t { kAverageVector, kBestScore, kSumScores };
  enum class Fusion : uint8_t { kRrf, kDbsf };

  Kind kind = Kind::kNearest;
  // Vector name, query vector, limit, offset, score threshold, ef, exact. Its `filter` pointer
  // is Run's to set.
  segment::SearchSpec spec;
  segment::PointFilter filter;
  segment::Projection projection;
  std::optional<segment::OrderBy> order_by;  // kOrderBy
  segment::PointId point;                    // kNearestToPoint
  collection::ReadConsistency consistency;
  // The candidates this query scores or fuses (Qdrant's nested `prefetch`): each runs with this
  // query's filter as well as its own, and returns its spec.limit best (Qdrant's default 10).
  // This query then ranks the union of their results (fusion: the lists themselves).
  std::vector<Query> prefetch;
  std::vector<VectorInput> positive, negative;  // kRecommend
  Strategy strategy = Strategy::kAverageVector;
  VectorInput target;                                      // kDiscover
  std::vector<std::pair<VectorInput, VectorInput>> pairs;  // kDiscover, kContext: (+, -)
  Fusion fusion = Fusion::kRrf;                            // kFusion
  uint32_t rrf_k = 2;                                      // Qdrant's default
  std::vector<float> rrf_weights;                          // one per prefetch; empty: all 1
  std::optional<LookupFrom> lookup_from;
};

// The collections `query` and its prefetches look up, each once (for the caller's access
// checks: reading another collection's vectors needs read access to it).
std::vector<std::string> LookupCollections(const Query& query);
// Resolves every lookup_from of the tree through `get` (an unknown collection: get's error).
using CollectionLookup =
    std::function<Result<std::shared_ptr<collection::Collection>>(const std::string& name)>;
Status ResolveLookups(Query& query, const CollectionLookup& get);

// Runs `query`: at most spec.limit records after skipping spec.offset. Errors: the
// collection's; kNotFound ("No point with id N found") when a point given as a vector does not
// exist or has no such vector; kInvalidArgument for a query these parts cannot make (fusion
// without prefetch, several prefetches and no query to rank them, order_by over prefetch, an
// example whose size or kind does not fit the vector, recommend with no positive example).
Result<segment::RecordBatch> Run(const collection::Collection& collection, Query query);

// A group's id: the payload value its points share (Qdrant's GroupId). Non-negative integers
// are unsigned, as Qdrant reads JSON.
struct GroupKey {
  enum class Kind : uint8_t { kUnsigned, kInteger, kString };
  Kind kind = Kind::kString;
  uint64_t unsigned_value = 0;
  int64_t integer_value = 0;
  std::string string_value;
};

// The answer of a grouped query: groups best first, each with its hits best first.
struct Groups {
  segment::RecordBatch records;  // every hit; payloads live in its arena
  struct Group {
    GroupKey id;
    std::vector<size_t> hits;      // indexes into records.points
    std::optional<size_t> lookup;  // index into lookups.points (with_lookup)
  };
  std::vector<Group> groups;
  segment::RecordBatch lookups;
};

// Runs `query` grouped by the values of the payload field `group_by` (Qdrant's query/groups,
// search/groups, recommend/groups): at most query.spec.limit groups of at most `group_size`
// hits. A point joins the group of each string or integer value the field has (an array: each
// element); points without one are left out. Groups are ordered by their best hit, as the
// query ranks. It asks the query for more results, four times as many each round, until it
// fills every group or runs out (or past 100,000 results). Errors: Run's; kInvalidArgument
// for a group_by that is not a payload path.
Result<Groups> RunGroups(const collection::Collection& collection, Query query,
                         const std::string& group_by, size_t group_size);

// Qdrant's with_lookup: the point of `from` whose id is each group's id (an unsigned integer
// or a UUID string), read with `projection`, becomes the group's lookup. Groups with no such
// point have none.
Status LookupGroups(Groups& groups, const collection::Collection& from,
                    const segment::Projection& projection,
                    const collection::ReadConsistency& consistency);

}  // namespace qd::router
