#include "qdrantd/router/query.h"

#include <string>
#include <utility>

namespace qd::router {

namespace {

// `filter` with `id` left out: {"must": [filter], "must_not": [{"has_id": [id]}]}.
Result<segment::PointFilter> Excluding(const segment::PointFilter& filter,
                                       const segment::PointId& id) {
  std::string json = "{";
  if (filter) json += "\"must\":[" + filter.json + "],";
  json += "\"must_not\":[{\"has_id\":[" + id.ToJson() + "]}]}";
  return segment::PointFilter::ParseText(json, "filter");
}

}  // namespace

Result<segment::RecordBatch> Run(const collection::Collection& collection, Query query) {
  const segment::PointFilter* filter = query.filter ? &query.filter : nullptr;
  segment::SearchSpec& spec = query.spec;
  switch (query.kind) {
    case Query::Kind::kOrderBy:
      return collection.QueryOrdered(*query.order_by, spec.offset, spec.limit, filter,
                                     query.projection, query.consistency);
    case Query::Kind::kList:
      return collection.QueryListed(spec.offset, spec.limit, filter, query.projection,
                                    query.consistency);
    case Query::Kind::kNearestToPoint: {
      // Qdrant searches with the point's stored vector and leaves the point out of the results;
      // leaving it out in the filter (not after the search) keeps offset and limit exact.
      segment::Projection vector_only;
      vector_only.vector_names = {spec.vector_name};
      Result<segment::RecordBatch> found =
          collection.Retrieve({query.point}, vector_only, query.consistency);
      if (!found.ok()) return found.status();
      if (found->points.empty() || found->points[0].vectors.empty()) {
        return Status::NotFound("No point with id " + query.point.ToString() + " found");
      }
      spec.query = std::move(found->points[0].vectors[0].second);
      Result<segment::PointFilter> excluding = Excluding(query.filter, query.point);
      if (!excluding.ok()) return excluding.status();
      query.filter = std::move(*excluding);
      filter = &query.filter;
      break;
    }
    case Query::Kind::kNearest:
      break;
  }
  spec.filter = filter;
  return collection.Search(spec, query.projection, query.consistency);
}

}  // namespace qd::router
