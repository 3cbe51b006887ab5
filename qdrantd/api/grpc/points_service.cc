// qdrant.Points over collection::Collection, as qdrantd/api/rest/points_routes.cc serves it
// over REST (compat.md §4.2-§4.6): the same engine calls, validation and messages. Points,
// vectors and search requests become engine structs directly; filters and payload selectors go
// through the REST parsers (grpc_codec.h).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <optional>

#include "points_service.grpc.pb.h"
#include "qdrantd/api/grpc/collection_codec.h"
#include "qdrantd/api/grpc/grpc_auth.h"
#include "qdrantd/api/grpc/grpc_call.h"
#include "qdrantd/api/grpc/qdrant_services.h"
#include "qdrantd/collection/collections.h"
#include "qdrantd/index/json_path.h"
#include "qdrantd/index/payload_index.h"
#include "qdrantd/router/aggregates.h"
#include "qdrantd/router/query.h"
#include "qdrantd/router/strict_mode.h"
#include "qdrantd/server/worker_pool.h"

namespace qd::api::grpc {
namespace {

using collection::Collection;
using collection::UpdateMode;
using collection::UpdateRequest;
using ::grpc::CallbackServerContext;
using ::grpc::ServerUnaryReactor;
using segment::OpKind;
using segment::PointId;

using CollectionPtr = std::shared_ptr<Collection>;
using PointStructs = google::protobuf::RepeatedPtrField<qdrant::PointStruct>;

// ---- updates ----

Status ParseSelector(const qdrant::PointsSelector* selector, UpdateRequest& update,
                     const std::string& path) {
  if (selector) {
    switch (selector->points_selector_one_of_case()) {
      case qdrant::PointsSelector::kPoints: {
        Result<std::vector<PointId>> ids = FromProto(selector->points().ids());
        if (!ids.ok()) return ids.status();
        update.op.ids = std::move(*ids);
        return Status::Ok();
      }
      case qdrant::PointsSelector::kFilter: {
        Result<segment::PointFilter> filter = ParseFilter(selector->filter(), path + "filter");
        if (!filter.ok()) return filter.status();
        update.by_filter = true;
        update.filter = std::move(*filter);
        return Status::Ok();
      }
      case qdrant::PointsSelector::POINTS_SELECTOR_ONE_OF_NOT_SET:
        break;
    }
  }
  return Status::InvalidArgument("Format error in JSON body: " + path +
                                 "expected either `points` or `filter`");
}

Status ParseUpdateFilter(bool has, const qdrant::Filter& filter, UpdateRequest& update,
                         const std::string& path) {
  if (!has) return Status::Ok();
  Result<segment::PointFilter> parsed = ParseFilter(filter, path + "update_filter");
  if (!parsed.ok()) return parsed.status();
  update.update_filter = std::move(*parsed);
  return Status::Ok();
}

Result<UpdateRequest> ParseUpsert(const Collection& c, const PointStructs& points, bool has_mode,
                                  qdrant::UpdateMode mode, bool has_filter,
                                  const qdrant::Filter& filter, const std::string& path) {
  UpdateRequest update;
  update.op.kind = OpKind::kUpsert;
  update.op.points.reserve(static_cast<size_t>(points.size()));
  for (int i = 0; i < points.size(); ++i) {
    const qdrant::PointStruct& p = points[i];
    const std::string at = path + "points[" + std::to_string(i) + "]";
    if (!p.has_id()) {
      return Status::InvalidArgument("Format error in JSON body: " + at + ": missing field `id`");
    }
    segment::PointStruct point;
    Result<PointId> id = FromProto(p.id());
    if (!id.ok()) return id.status();
    point.id = *id;
    if (p.has_vectors()) {
      Result<segment::NamedVectors> vectors = FromProto(p.vectors(), at + ".vector");
      if (!vectors.ok()) return vectors.status();
      point.vectors = std::move(*vectors);
    }
    point.payload_json = PayloadToJsonText(p.payload());
    update.op.points.push_back(std::move(point));
  }
  Status s = c.ValidatePoints(update.op.points, /*partial=*/false);
  if (!s.ok()) return s;
  if (has_mode) {
    switch (mode) {
      case qdrant::Upsert:
        update.update_mode = UpdateMode::kUpsert;
        break;
      case qdrant::InsertOnly:
        update.update_mode = UpdateMode::kInsertOnly;
        break;
      case qdrant::UpdateOnly:
        update.update_mode = UpdateMode::kUpdateOnly;
        break;
      default:
        return Status::InvalidArgument("Format error in JSON body: " + path +
                                       "update_mode: unknown variant, expected one of `upsert`, "
                                       "`insert_only`, `update_only`");
    }
  }
  s = ParseUpdateFilter(has_filter, filter, update, path);
  if (!s.ok()) return s;
  return update;
}

Result<UpdateRequest> ParseSelected(OpKind kind, const qdrant::PointsSelector* selector,
                                    const std::string& path) {
  UpdateRequest update;
  update.op.kind = kind;
  Status s = ParseSelector(selector, update, path);
  if (!s.ok()) return s;
  return update;
}

Result<UpdateRequest> ParseSetPayload(OpKind kind, const ProtoPayload& payload,
                                      const qdrant::PointsSelector* selector,
                                      const std::string* key, const std::string& path) {
  UpdateRequest update;
  update.op.kind = kind;
  update.op.payload_json = PayloadToJsonText(payload);
  if (key) {
    Result<index::JsonPath> parsed = index::ParseJsonPath(*key);
    if (!parsed.ok()) return parsed.status();
    update.op.key = *key;
  }
  Status s = ParseSelector(selector, update, path);
  if (!s.ok()) return s;
  return update;
}

Result<UpdateRequest> ParseDeletePayload(
    const google::protobuf::RepeatedPtrField<std::string>& keys,
    const qdrant::PointsSelector* selector, const std::string& path) {
  UpdateRequest update;
  update.op.kind = OpKind::kDeletePayload;
  for (const std::string& k : keys) {
    Result<index::JsonPath> parsed = index::ParseJsonPath(k);
    if (!parsed.ok()) return parsed.status();
    update.op.names.push_back(k);
  }
  Status s = ParseSelector(selector, update, path);
  if (!s.ok()) return s;
  return update;
}

Result<UpdateRequest> ParseUpdateVectors(
    const Collection& c, const google::protobuf::RepeatedPtrField<qdrant::PointVectors>& points,
    bool has_filter, const qdrant::Filter& filter, const std::string& path) {
  UpdateRequest update;
  update.op.kind = OpKind::kUpdateVectors;
  for (int i = 0; i < points.size(); ++i) {
    const qdrant::PointVectors& p = points[i];
    const std::string at = path + "points[" + std::to_string(i) + "]";
    if (!p.has_id() || !p.has_vectors()) {
      return Status::InvalidArgument("Format error in JSON body: " + at +
                                     ": expected `id` and `vector`");
    }
    segment::PointStruct ps;
    Result<PointId> id = FromProto(p.id());
    if (!id.ok()) return id.status();
    ps.id = *id;
    Result<segment::NamedVectors> v = FromProto(p.vectors(), at + ".vector");
    if (!v.ok()) return v.status();
    ps.vectors = std::move(*v);
    update.op.points.push_back(std::move(ps));
  }
  Status s = c.ValidatePoints(update.op.points, /*partial=*/true);
  if (!s.ok()) return s;
  s = ParseUpdateFilter(has_filter, filter, update, path);
  if (!s.ok()) return s;
  return update;
}

Result<UpdateRequest> ParseDeleteVectors(const Collection& c,
                                         const qdrant::PointsSelector* selector,
                                         const qdrant::VectorsSelector& vectors,
                                         const std::string& path) {
  UpdateRequest update;
  update.op.kind = OpKind::kDeleteVectors;
  collection::CollectionConfig config = c.config();
  for (const std::string& name : vectors.names()) {
    if (!config.FindVector(name)) {
      return Status::InvalidArgument("Wrong input: Not existing vector name error: " + name);
    }
    update.op.names.push_back(name);
  }
  Status s = ParseSelector(selector, update, path);
  if (!s.ok()) return s;
  return update;
}

void FillUpdateResult(segment::OpNum operation_id, bool wait, qdrant::UpdateResult* out) {
  out->set_operation_id(operation_id);
  out->set_status(wait ? qdrant::Completed : qdrant::Acknowledged);
}

// ---- reads ----

// A request's read_consistency (one replica per shard when absent).
template <typename Request>
collection::ReadConsistency ConsistencyOf(const Request& request) {
  collection::ReadConsistency out;
  if (!request.has_read_consistency()) return out;
  const qdrant::ReadConsistency& c = request.read_consistency();
  if (c.value_case() == qdrant::ReadConsistency::kFactor) {
    out.factor = std::max<uint64_t>(1, c.factor());
    return out;
  }
  if (c.value_case() != qdrant::ReadConsistency::kType) return out;
  switch (c.type()) {
    case qdrant::All:
      out.kind = collection::ReadConsistency::Kind::kAll;
      break;
    case qdrant::Majority:
      out.kind = collection::ReadConsistency::Kind::kMajority;
      break;
    case qdrant::Quorum:
      out.kind = collection::ReadConsistency::Kind::kQuorum;
      break;
    default:
      break;
  }
  return out;
}

Status ParseParams(bool has, const qdrant::SearchParams& params, const std::string& path,
                   segment::SearchSpec& spec) {
  if (!has) return Status::Ok();
  if (params.has_hnsw_ef()) {
    if (params.hnsw_ef() == 0) {
      return Status::Unprocessable("Validation error in JSON body: [" + path +
                                   "params.hnsw_ef: value 0 invalid, must be 1 or more]");
    }
    spec.ef = params.hnsw_ef();
  }
  spec.exact = params.exact();
  return Status::Ok();
}

Status CheckLimit(uint64_t limit, const std::string& path) {
  if (limit == 0) {
    return Status::Unprocessable("Validation error in JSON body: [" + path +
                                 "limit: value 0 invalid, must be 1 or more]");
  }
  return Status::Ok();
}

Result<router::Query> ParseSearch(const qdrant::SearchPoints& request, const std::string& path) {
  router::Query out;
  segment::Vector& query = out.spec.query;
  if (request.has_sparse_indices()) {
    query.sparse = true;
    query.indices.assign(request.sparse_indices().data().begin(),
                         request.sparse_indices().data().end());
    query.values.assign(request.vector().begin(), request.vector().end());
    if (query.indices.size() != query.values.size()) {
      return Status::Unprocessable("Validation error in JSON body: [" + path +
                                   "vector: indices and values must be the same length]");
    }
  } else {
    if (request.vector().empty()) {
      return Status::InvalidArgument("Validation error in JSON body: [" + path +
                                     "vector: Vector must not be empty]");
    }
    query.dense.assign(request.vector().begin(), request.vector().end());
  }
  out.spec.vector_name = request.vector_name();
  Status s = CheckLimit(request.limit(), path);
  if (!s.ok()) return s;
  out.spec.limit = request.limit();
  out.spec.offset = request.offset();
  if (request.has_score_threshold()) out.spec.score_threshold = request.score_threshold();
  s = ParseParams(request.has_params(), request.params(), path, out.spec);
  if (!s.ok()) return s;
  if (request.has_filter()) {
    Result<segment::PointFilter> filter = ParseFilter(request.filter(), path + "filter");
    if (!filter.ok()) return filter.status();
    out.filter = std::move(*filter);
  }
  Result<segment::PayloadProjector> payload =
      ParseWithPayload(request.has_with_payload() ? &request.with_payload() : nullptr, false);
  if (!payload.ok()) return payload.status();
  out.projection.payload = std::move(*payload);
  ParseWithVectors(request.has_with_vectors() ? &request.with_vectors() : nullptr, out.projection);
  return out;
}

router::LookupFrom LookupOf(const qdrant::LookupLocation& location) {
  router::LookupFrom out;
  out.collection = location.collection_name();
  out.vector = location.vector_name();
  return out;
}

Status NotYet(const std::string& what) {
  return Status::InvalidArgument("Bad request: " + what + " is not supported by this server yet");
}

// A vector or the id of a stored point (the Query API's VectorInput).
Result<router::VectorInput> FromInput(const qdrant::VectorInput& input, const std::string& path) {
  router::VectorInput out;
  switch (input.variant_case()) {
    case qdrant::VectorInput::kId: {
      Result<PointId> id = FromProto(input.id());
      if (!id.ok()) return id.status();
      out.id = *id;
      return out;
    }
    case qdrant::VectorInput::kDense:
      if (input.dense().data().empty()) {
        return Status::InvalidArgument("Validation error in JSON body: [" + path +
                                       ": Vector must not be empty]");
      }
      out.vector.dense.assign(input.dense().data().begin(), input.dense().data().end());
      return out;
    case qdrant::VectorInput::kSparse: {
      qdrant::Vector v;
      *v.mutable_sparse() = input.sparse();
      Result<segment::Vector> sparse = FromProto(v, path);
      if (!sparse.ok()) return sparse.status();
      out.vector = std::move(*sparse);
      return out;
    }
    case qdrant::VectorInput::kMultiDense:
      return Status::InvalidArgument("Wrong input: multivectors are not supported (" + path + ")");
    default:
      return NotYet("this kind of vector input (" + path + ")");
  }
}

// The legacy examples (recommend, discover): an id or a Vector.
Result<router::VectorInput> FromExample(const qdrant::VectorExample& example,
                                        const std::string& path) {
  router::VectorInput out;
  if (example.has_id()) {
    Result<PointId> id = FromProto(example.id());
    if (!id.ok()) return id.status();
    out.id = *id;
    return out;
  }
  if (!example.has_vector()) {
    return Status::InvalidArgument("Format error in JSON body: " + path + ": missing example");
  }
  Result<segment::Vector> v = FromProto(example.vector(), path);
  if (!v.ok()) return v.status();
  out.vector = std::move(*v);
  return out;
}

template <typename Inputs>
Result<std::vector<router::VectorInput>> FromInputs(const Inputs& inputs, const std::string& path) {
  std::vector<router::VectorInput> out;
  for (int i = 0; i < inputs.size(); ++i) {
    Result<router::VectorInput> in = FromInput(inputs[i], path + "[" + std::to_string(i) + "]");
    if (!in.ok()) return in.status();
    out.push_back(std::move(*in));
  }
  return out;
}

router::Query::Strategy StrategyOf(qdrant::RecommendStrategy strategy) {
  switch (strategy) {
    case qdrant::BestScore:
      return router::Query::Strategy::kBestScore;
    case qdrant::SumScores:
      return router::Query::Strategy::kSumScores;
    default:
      return router::Query::Strategy::kAverageVector;
  }
}

template <typename Pairs>
Result<std::vector<std::pair<router::VectorInput, router::VectorInput>>> FromPairs(
    const Pairs& pairs, const std::string& path) {
  std::vector<std::pair<router::VectorInput, router::VectorInput>> out;
  for (int i = 0; i < pairs.size(); ++i) {
    const std::string at = path + "[" + std::to_string(i) + "].";
    Result<router::VectorInput> plus = FromInput(pairs[i].positive(), at + "positive");
    if (!plus.ok()) return plus.status();
    Result<router::VectorInput> minus = FromInput(pairs[i].negative(), at + "negative");
    if (!minus.ok()) return minus.status();
    out.emplace_back(std::move(*plus), std::move(*minus));
  }
  return out;
}

// A Query's variant into `out`; no query lists points.
Status ParseQueryVariant(bool has, const qdrant::Query& query, const std::string& path,
                         router::Query& out) {
  using Kind = router::Query::Kind;
  if (!has) {
    out.kind = Kind::kList;
    return Status::Ok();
  }
  switch (query.variant_case()) {
    case qdrant::Query::kNearest: {
      Result<router::VectorInput> in = FromInput(query.nearest(), path + "query");
      if (!in.ok()) return in.status();
      if (in->id) {
        out.kind = Kind::kNearestToPoint;
        out.point = *in->id;
      } else {
        out.spec.query = std::move(in->vector);
      }
      return Status::Ok();
    }
    case qdrant::Query::kOrderBy: {
      Result<segment::OrderBy> order_by = FromProto(query.order_by(), path + "query.order_by");
      if (!order_by.ok()) return order_by.status();
      out.kind = Kind::kOrderBy;
      out.order_by = std::move(*order_by);
      return Status::Ok();
    }
    case qdrant::Query::kRecommend: {
      const qdrant::RecommendInput& r = query.recommend();
      auto positive = FromInputs(r.positive(), path + "query.recommend.positive");
      if (!positive.ok()) return positive.status();
      auto negative = FromInputs(r.negative(), path + "query.recommend.negative");
      if (!negative.ok()) return negative.status();
      out.kind = Kind::kRecommend;
      out.positive = std::move(*positive);
      out.negative = std::move(*negative);
      out.strategy = StrategyOf(r.strategy());
      return Status::Ok();
    }
    case qdrant::Query::kDiscover: {
      const qdrant::DiscoverInput& d = query.discover();
      Result<router::VectorInput> target = FromInput(d.target(), path + "query.discover.target");
      if (!target.ok()) return target.status();
      auto pairs = FromPairs(d.context().pairs(), path + "query.discover.context");
      if (!pairs.ok()) return pairs.status();
      out.kind = Kind::kDiscover;
      out.target = std::move(*target);
      out.pairs = std::move(*pairs);
      return Status::Ok();
    }
    case qdrant::Query::kContext: {
      auto pairs = FromPairs(query.context().pairs(), path + "query.context");
      if (!pairs.ok()) return pairs.status();
      out.kind = Kind::kContext;
      out.pairs = std::move(*pairs);
      return Status::Ok();
    }
    case qdrant::Query::kFusion:
      out.kind = Kind::kFusion;
      out.fusion = query.fusion() == qdrant::DBSF ? router::Query::Fusion::kDbsf
                                                  : router::Query::Fusion::kRrf;
      return Status::Ok();
    case qdrant::Query::kRrf:
      if (query.rrf().has_k() && query.rrf().k() == 0) {
        return Status::Unprocessable("Validation error in JSON body: [" + path +
                                     "query.rrf.k: value 0 invalid, must be 1 or more]");
      }
      out.kind = Kind::kFusion;
      out.fusion = router::Query::Fusion::kRrf;
      out.rrf_k = query.rrf().has_k() ? query.rrf().k() : 2;
      out.rrf_weights.assign(query.rrf().weights().begin(), query.rrf().weights().end());
      return Status::Ok();
    case qdrant::Query::kSample:  // Sample has one value: Random
      out.kind = Kind::kSample;
      return Status::Ok();
    case qdrant::Query::kFormula:
      return NotYet("the `formula` query");
    case qdrant::Query::kNearestWithMmr:
      return NotYet("`mmr`");
    default:
      return NotYet("this query type");
  }
}

Status ParseFilterInto(bool has, const qdrant::Filter& filter, const std::string& path,
                       router::Query& out) {
  if (!has) return Status::Ok();
  Result<segment::PointFilter> parsed = ParseFilter(filter, path + "filter");
  if (!parsed.ok()) return parsed.status();
  out.filter = std::move(*parsed);
  return Status::Ok();
}

// A prefetch (nested): query, using, filter, params, score_threshold, limit.
Status ParsePrefetch(const qdrant::PrefetchQuery& p, const std::string& path, router::Query& out,
                     int depth) {
  if (depth >= 8)
    return Status::InvalidArgument("Bad request: prefetch is nested too deep (8 levels at most)");
  if (p.has_lookup_from()) out.lookup_from = LookupOf(p.lookup_from());
  for (int i = 0; i < p.prefetch_size(); ++i) {
    router::Query sub;
    Status s =
        ParsePrefetch(p.prefetch(i), path + "prefetch[" + std::to_string(i) + "].", sub, depth + 1);
    if (!s.ok()) return s;
    out.prefetch.push_back(std::move(sub));
  }
  out.spec.vector_name = p.using_();
  Status s = ParseQueryVariant(p.has_query(), p.query(), path, out);
  if (!s.ok()) return s;
  out.spec.limit = p.has_limit() ? p.limit() : 10;
  s = CheckLimit(out.spec.limit, path);
  if (!s.ok()) return s;
  if (p.has_score_threshold()) out.spec.score_threshold = p.score_threshold();
  s = ParseParams(p.has_params(), p.params(), path, out.spec);
  if (!s.ok()) return s;
  return ParseFilterInto(p.has_filter(), p.filter(), path, out);
}

Status ParseProjection(bool has_payload, const qdrant::WithPayloadSelector& with_payload,
                       bool has_vectors, const qdrant::WithVectorsSelector& with_vectors,
                       router::Query& out) {
  Result<segment::PayloadProjector> payload =
      ParseWithPayload(has_payload ? &with_payload : nullptr, false);
  if (!payload.ok()) return payload.status();
  out.projection.payload = std::move(*payload);
  ParseWithVectors(has_vectors ? &with_vectors : nullptr, out.projection);
  return Status::Ok();
}

// A query (the Query API): prefetch, nearest, recommend, discover, context, order_by, fusion.
Result<router::Query> ParseQuery(const qdrant::QueryPoints& request, const std::string& path) {
  router::Query out;
  if (request.has_lookup_from()) out.lookup_from = LookupOf(request.lookup_from());
  for (int i = 0; i < request.prefetch_size(); ++i) {
    router::Query sub;
    Status s =
        ParsePrefetch(request.prefetch(i), path + "prefetch[" + std::to_string(i) + "].", sub, 1);
    if (!s.ok()) return s;
    out.prefetch.push_back(std::move(sub));
  }
  out.spec.vector_name = request.using_();
  Status s = ParseQueryVariant(request.has_query(), request.query(), path, out);
  if (!s.ok()) return s;
  out.spec.limit = request.has_limit() ? request.limit() : 10;
  s = CheckLimit(out.spec.limit, path);
  if (!s.ok()) return s;
  out.spec.offset = request.offset();
  if (request.has_score_threshold()) out.spec.score_threshold = request.score_threshold();
  s = ParseParams(request.has_params(), request.params(), path, out.spec);
  if (!s.ok()) return s;
  s = ParseFilterInto(request.has_filter(), request.filter(), path, out);
  if (!s.ok()) return s;
  s = ParseProjection(request.has_with_payload(), request.with_payload(),
                      request.has_with_vectors(), request.with_vectors(), out);
  if (!s.ok()) return s;
  return out;
}

// The search fields of RecommendPoints and DiscoverPoints.
template <typename Request>
Status ParseExampleSearch(const Request& request, const std::string& path, router::Query& out) {
  if (request.has_lookup_from()) out.lookup_from = LookupOf(request.lookup_from());
  out.spec.vector_name = request.using_();
  Status s = CheckLimit(request.limit(), path);
  if (!s.ok()) return s;
  out.spec.limit = request.limit();
  out.spec.offset = request.offset();
  s = ParseParams(request.has_params(), request.params(), path, out.spec);
  if (!s.ok()) return s;
  s = ParseFilterInto(request.has_filter(), request.filter(), path, out);
  if (!s.ok()) return s;
  return ParseProjection(request.has_with_payload(), request.with_payload(),
                         request.has_with_vectors(), request.with_vectors(), out);
}

Result<router::Query> ParseRecommend(const qdrant::RecommendPoints& request,
                                     const std::string& path) {
  router::Query out;
  out.kind = router::Query::Kind::kRecommend;
  auto add = [&](const auto& ids, const auto& vectors, const std::string& name,
                 std::vector<router::VectorInput>& into) -> Status {
    for (const qdrant::PointId& id : ids) {
      Result<PointId> parsed = FromProto(id);
      if (!parsed.ok()) return parsed.status();
      router::VectorInput in;
      in.id = *parsed;
      into.push_back(std::move(in));
    }
    for (int i = 0; i < vectors.size(); ++i) {
      Result<segment::Vector> v =
          FromProto(vectors[i], path + name + "_vectors[" + std::to_string(i) + "]");
      if (!v.ok()) return v.status();
      router::VectorInput in;
      in.vector = std::move(*v);
      into.push_back(std::move(in));
    }
    return Status::Ok();
  };
  Status s = add(request.positive(), request.positive_vectors(), "positive", out.positive);
  if (!s.ok()) return s;
  s = add(request.negative(), request.negative_vectors(), "negative", out.negative);
  if (!s.ok()) return s;
  out.strategy = StrategyOf(request.strategy());
  if (request.has_score_threshold()) out.spec.score_threshold = request.score_threshold();
  s = ParseExampleSearch(request, path, out);
  if (!s.ok()) return s;
  return out;
}

Result<router::Query> ParseDiscover(const qdrant::DiscoverPoints& request,
                                    const std::string& path) {
  router::Query out;
  for (int i = 0; i < request.context_size(); ++i) {
    const std::string at = path + "context[" + std::to_string(i) + "].";
    Result<router::VectorInput> plus = FromExample(request.context(i).positive(), at + "positive");
    if (!plus.ok()) return plus.status();
    Result<router::VectorInput> minus = FromExample(request.context(i).negative(), at + "negative");
    if (!minus.ok()) return minus.status();
    out.pairs.emplace_back(std::move(*plus), std::move(*minus));
  }
  if (request.has_target() && request.target().has_single()) {
    Result<router::VectorInput> target = FromExample(request.target().single(), path + "target");
    if (!target.ok()) return target.status();
    out.kind = router::Query::Kind::kDiscover;
    out.target = std::move(*target);
  } else {
    out.kind = router::Query::Kind::kContext;
  }
  Status s = ParseExampleSearch(request, path, out);
  if (!s.ok()) return s;
  return out;
}

// The */groups requests as their plain requests (same field names), plus the group fields.
qdrant::SearchPoints AsPlain(const qdrant::SearchPointGroups& g) {
  qdrant::SearchPoints out;
  out.set_collection_name(g.collection_name());
  *out.mutable_vector() = g.vector();
  if (g.has_filter()) *out.mutable_filter() = g.filter();
  out.set_limit(g.limit());
  if (g.has_with_payload()) *out.mutable_with_payload() = g.with_payload();
  if (g.has_params()) *out.mutable_params() = g.params();
  if (g.has_score_threshold()) out.set_score_threshold(g.score_threshold());
  if (g.has_vector_name()) out.set_vector_name(g.vector_name());
  if (g.has_with_vectors()) *out.mutable_with_vectors() = g.with_vectors();
  if (g.has_sparse_indices()) *out.mutable_sparse_indices() = g.sparse_indices();
  return out;
}

qdrant::RecommendPoints AsPlain(const qdrant::RecommendPointGroups& g) {
  qdrant::RecommendPoints out;
  out.set_collection_name(g.collection_name());
  *out.mutable_positive() = g.positive();
  *out.mutable_negative() = g.negative();
  *out.mutable_positive_vectors() = g.positive_vectors();
  *out.mutable_negative_vectors() = g.negative_vectors();
  if (g.has_strategy()) out.set_strategy(g.strategy());
  if (g.has_filter()) *out.mutable_filter() = g.filter();
  out.set_limit(g.limit());
  if (g.has_with_payload()) *out.mutable_with_payload() = g.with_payload();
  if (g.has_params()) *out.mutable_params() = g.params();
  if (g.has_score_threshold()) out.set_score_threshold(g.score_threshold());
  if (g.has_using_()) out.set_using_(g.using_());
  if (g.has_with_vectors()) *out.mutable_with_vectors() = g.with_vectors();
  if (g.has_lookup_from()) *out.mutable_lookup_from() = g.lookup_from();
  return out;
}

qdrant::QueryPoints AsPlain(const qdrant::QueryPointGroups& g) {
  qdrant::QueryPoints out;
  out.set_collection_name(g.collection_name());
  *out.mutable_prefetch() = g.prefetch();
  if (g.has_query()) *out.mutable_query() = g.query();
  if (g.has_using_()) out.set_using_(g.using_());
  if (g.has_filter()) *out.mutable_filter() = g.filter();
  if (g.has_params()) *out.mutable_params() = g.params();
  if (g.has_score_threshold()) out.set_score_threshold(g.score_threshold());
  if (g.has_with_payload()) *out.mutable_with_payload() = g.with_payload();
  if (g.has_with_vectors()) *out.mutable_with_vectors() = g.with_vectors();
  if (g.has_lookup_from()) *out.mutable_lookup_from() = g.lookup_from();
  if (g.has_limit()) out.set_limit(g.limit());
  return out;
}

void SetGroupId(const router::GroupKey& key, qdrant::GroupId* out) {
  switch (key.kind) {
    case router::GroupKey::Kind::kString:
      out->set_string_value(key.string_value);
      break;
    case router::GroupKey::Kind::kUnsigned:
      out->set_unsigned_value(key.unsigned_value);
      break;
    case router::GroupKey::Kind::kInteger:
      out->set_integer_value(key.integer_value);
      break;
  }
}

template <typename List>
void FillScored(segment::RecordBatch& batch, bool unnamed, List* out) {
  out->Reserve(static_cast<int>(batch.points.size()));
  for (segment::PointRecord& r : batch.points) ToProto(r, unnamed, out->Add());
}

// ---- the service ----

// The request's write ordering (compat.md §5.3); weak when absent.
template <typename Request>
collection::WriteOrdering OrderingOf(const Request& request) {
  if (!request.has_ordering()) return collection::WriteOrdering::kWeak;
  switch (request.ordering().type()) {
    case qdrant::Medium:
      return collection::WriteOrdering::kMedium;
    case qdrant::Strong:
      return collection::WriteOrdering::kStrong;
    default:
      return collection::WriteOrdering::kWeak;
  }
}

class PointsService final : public qdrant::Points::CallbackService {
 public:
  explicit PointsService(ServiceContext context) : c_(context) {
    SetMessageAllocatorFor_Search(&search_messages_);
    SetMessageAllocatorFor_SearchBatch(&search_batch_messages_);
    SetMessageAllocatorFor_Query(&query_messages_);
    SetMessageAllocatorFor_QueryBatch(&query_batch_messages_);
    SetMessageAllocatorFor_Upsert(&upsert_messages_);
  }

  // An update of one kind: parse (against the collection), apply, answer. A wait=false call is
  // answered as soon as its operation is in the WAL; `request` and `response` belong to gRPC
  // from then on, so nothing below the Update touches them once answered.
  template <typename Request, typename Parse>
  ServerUnaryReactor* RunUpdate(CallbackServerContext* context, const Request* request,
                                qdrant::PointsOperationResponse* response, Parse parse) {
    return OnPoolDeferred(c_.pool, context, response,
                          [this, request, parse](Completion<qdrant::PointsOperationResponse> finish) {
      Result<CollectionPtr> c = c_.collections->Get(request->collection_name());
      if (!c.ok()) return finish(c.status());
      Result<UpdateRequest> update = parse(**c);
      if (!update.ok()) return finish(update.status());
      update->ordering = OrderingOf(*request);
      const bool wait = request->wait();
      bool answered = false;
      Collection::OnDurable durable;
      if (!wait) {
        durable = [&](segment::OpNum n) {
          FillUpdateResult(n, false, finish.response()->mutable_result());
          answered = true;
          finish(Status::Ok());
        };
      }
      Result<collection::UpdateResult> result = (*c)->Update(std::move(*update), durable);
      if (answered) return;  // a later apply error is the replica's (logged, writes refused)
      if (!result.ok()) return finish(result.status());
      FillUpdateResult(result->operation_id, wait, finish.response()->mutable_result());
      finish(Status::Ok());
    });
  }

  ServerUnaryReactor* Upsert(CallbackServerContext* context, const qdrant::UpsertPoints* request,
                             qdrant::PointsOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/Upsert", *request)) return refused;
    return RunUpdate(context, request, response, [request](const Collection& c) {
      return ParseUpsert(c, request->points(), request->has_update_mode(), request->update_mode(),
                         request->has_update_filter(), request->update_filter(), "");
    });
  }

  ServerUnaryReactor* Delete(CallbackServerContext* context, const qdrant::DeletePoints* request,
                             qdrant::PointsOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/Delete", *request)) return refused;
    return RunUpdate(context, request, response, [request](const Collection&) {
      return ParseSelected(OpKind::kDeletePoints,
                           request->has_points() ? &request->points() : nullptr, "");
    });
  }

  ServerUnaryReactor* UpdateVectors(CallbackServerContext* context,
                                    const qdrant::UpdatePointVectors* request,
                                    qdrant::PointsOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/UpdateVectors", *request))
      return refused;
    return RunUpdate(context, request, response, [request](const Collection& c) {
      return ParseUpdateVectors(c, request->points(), request->has_update_filter(),
                                request->update_filter(), "");
    });
  }

  ServerUnaryReactor* DeleteVectors(CallbackServerContext* context,
                                    const qdrant::DeletePointVectors* request,
                                    qdrant::PointsOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/DeleteVectors", *request))
      return refused;
    return RunUpdate(context, request, response, [request](const Collection& c) {
      return ParseDeleteVectors(
          c, request->has_points_selector() ? &request->points_selector() : nullptr,
          request->vectors(), "");
    });
  }

  ServerUnaryReactor* SetPayload(CallbackServerContext* context,
                                 const qdrant::SetPayloadPoints* request,
                                 qdrant::PointsOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/SetPayload", *request))
      return refused;
    return RunUpdate(context, request, response, [request](const Collection&) {
      return ParseSetPayload(OpKind::kSetPayload, request->payload(),
                             request->has_points_selector() ? &request->points_selector() : nullptr,
                             request->has_key() ? &request->key() : nullptr, "");
    });
  }

  ServerUnaryReactor* OverwritePayload(CallbackServerContext* context,
                                       const qdrant::SetPayloadPoints* request,
                                       qdrant::PointsOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/OverwritePayload", *request))
      return refused;
    return RunUpdate(context, request, response, [request](const Collection&) {
      return ParseSetPayload(OpKind::kOverwritePayload, request->payload(),
                             request->has_points_selector() ? &request->points_selector() : nullptr,
                             request->has_key() ? &request->key() : nullptr, "");
    });
  }

  ServerUnaryReactor* DeletePayload(CallbackServerContext* context,
                                    const qdrant::DeletePayloadPoints* request,
                                    qdrant::PointsOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/DeletePayload", *request))
      return refused;
    return RunUpdate(context, request, response, [request](const Collection&) {
      return ParseDeletePayload(
          request->keys(), request->has_points_selector() ? &request->points_selector() : nullptr,
          "");
    });
  }

  ServerUnaryReactor* ClearPayload(CallbackServerContext* context,
                                   const qdrant::ClearPayloadPoints* request,
                                   qdrant::PointsOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/ClearPayload", *request))
      return refused;
    return RunUpdate(context, request, response, [request](const Collection&) {
      return ParseSelected(OpKind::kClearPayload,
                           request->has_points() ? &request->points() : nullptr, "");
    });
  }

  ServerUnaryReactor* CreateFieldIndex(CallbackServerContext* context,
                                       const qdrant::CreateFieldIndexCollection* request,
                                       qdrant::PointsOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/CreateFieldIndex", *request))
      return refused;
    return RunUpdate(
        context, request, response, [request](const Collection&) -> Result<UpdateRequest> {
          Result<index::JsonPath> path = index::ParseJsonPath(request->field_name());
          if (!path.ok()) return path.status();
          rapidjson::Document schema;
          Status s = FieldSchemaToJson(*request, schema);
          if (!s.ok()) return s;
          Result<index::PayloadFieldSchema> parsed = index::ParsePayloadFieldSchema(schema);
          if (!parsed.ok()) return parsed.status();
          UpdateRequest update;
          update.op.kind = OpKind::kCreateFieldIndex;
          update.op.field_name = request->field_name();
          rapidjson::StringBuffer buffer;
          rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
          schema.Accept(writer);
          update.op.field_schema_json.assign(buffer.GetString(), buffer.GetSize());
          return update;
        });
  }

  ServerUnaryReactor* DeleteFieldIndex(CallbackServerContext* context,
                                       const qdrant::DeleteFieldIndexCollection* request,
                                       qdrant::PointsOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/DeleteFieldIndex", *request))
      return refused;
    return RunUpdate(context, request, response,
                     [request](const Collection&) -> Result<UpdateRequest> {
                       UpdateRequest update;
                       update.op.kind = OpKind::kDeleteFieldIndex;
                       update.op.field_name = request->field_name();
                       return update;
                     });
  }

  ServerUnaryReactor* UpdateBatch(CallbackServerContext* context,
                                  const qdrant::UpdateBatchPoints* request,
                                  qdrant::UpdateBatchResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/UpdateBatch", *request))
      return refused;
    return OnPoolDeferred(c_.pool, context, response,
                          [this, request](Completion<qdrant::UpdateBatchResponse> finish) {
      Result<CollectionPtr> c = c_.collections->Get(request->collection_name());
      if (!c.ok()) return finish(c.status());
      // Parse and validate everything first, then apply in order (as REST).
      std::vector<UpdateRequest> updates;
      for (int i = 0; i < request->operations_size(); ++i) {
        Result<UpdateRequest> update =
            ParseOperation(**c, request->operations(i), "operations[" + std::to_string(i) + "].");
        if (!update.ok()) return finish(update.status());
        update->ordering = OrderingOf(*request);
        updates.push_back(std::move(*update));
      }
      // wait=false: answered once the last operation is in the WAL (see RunUpdate).
      const bool wait = request->wait();
      bool answered = false;
      for (size_t i = 0; i < updates.size(); ++i) {
        Collection::OnDurable durable;
        if (!wait && i + 1 == updates.size()) {
          durable = [&](segment::OpNum n) {
            FillUpdateResult(n, false, finish.response()->add_result());
            answered = true;
            finish(Status::Ok());
          };
        }
        Result<collection::UpdateResult> result = (*c)->Update(std::move(updates[i]), durable);
        if (answered) return;
        if (!result.ok()) return finish(result.status());
        FillUpdateResult(result->operation_id, wait, finish.response()->add_result());
      }
      finish(Status::Ok());
    });
  }

  ServerUnaryReactor* Get(CallbackServerContext* context, const qdrant::GetPoints* request,
                          qdrant::GetResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/Get", *request)) return refused;
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      Result<CollectionPtr> c = c_.collections->Get(request->collection_name());
      if (!c.ok()) return c.status();
      Result<std::vector<PointId>> ids = FromProto(request->ids());
      if (!ids.ok()) return ids.status();
      segment::Projection projection;
      // Without with_payload, no payload: Qdrant's gRPC default (REST's retrieve differs).
      Result<segment::PayloadProjector> payload =
          ParseWithPayload(request->has_with_payload() ? &request->with_payload() : nullptr, false);
      if (!payload.ok()) return payload.status();
      projection.payload = std::move(*payload);
      ParseWithVectors(request->has_with_vectors() ? &request->with_vectors() : nullptr,
                       projection);
      std::vector<PointId> unique;
      for (const PointId& id : *ids) {
        if (std::find(unique.begin(), unique.end(), id) == unique.end()) unique.push_back(id);
      }
      if (Status s = CheckStrict(**c, *request, {}); !s.ok()) return s;
      Result<segment::RecordBatch> found =
          (*c)->Retrieve(unique, projection, ConsistencyOf(*request));
      if (!found.ok()) return found.status();
      segment::RecordBatch& batch = *found;
      const bool unnamed = (*c)->config().unnamed_vector;
      for (segment::PointRecord& r : batch.points) ToProto(r, unnamed, response->add_result());
      return Status::Ok();
    });
  }

  ServerUnaryReactor* Scroll(CallbackServerContext* context, const qdrant::ScrollPoints* request,
                             qdrant::ScrollResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/Scroll", *request)) return refused;
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      Result<CollectionPtr> c = c_.collections->Get(request->collection_name());
      if (!c.ok()) return c.status();
      segment::PointFilter filter;
      if (request->has_filter()) {
        Result<segment::PointFilter> parsed = ParseFilter(request->filter(), "filter");
        if (!parsed.ok()) return parsed.status();
        filter = std::move(*parsed);
      }
      if (request->has_limit() && request->limit() == 0) {
        return Status::Unprocessable(
            "Validation error in JSON body: [limit: value 0 invalid, must be 1 or more]");
      }
      std::optional<PointId> offset;
      if (request->has_offset()) {
        Result<PointId> id = FromProto(request->offset());
        if (!id.ok()) return id.status();
        offset = *id;
      }
      std::optional<segment::OrderBy> order_by;
      if (request->has_order_by()) {
        Result<segment::OrderBy> parsed = FromProto(request->order_by(), "order_by");
        if (!parsed.ok()) return parsed.status();
        order_by = std::move(*parsed);
      }
      segment::Projection projection;
      Result<segment::PayloadProjector> payload =
          ParseWithPayload(request->has_with_payload() ? &request->with_payload() : nullptr, true);
      if (!payload.ok()) return payload.status();
      projection.payload = std::move(*payload);
      ParseWithVectors(request->has_with_vectors() ? &request->with_vectors() : nullptr,
                       projection);
      std::optional<PointId> next;
      const size_t limit = request->has_limit() ? request->limit() : 10;
      const segment::PointFilter* f = filter ? &filter : nullptr;
      router::ReadCheck check;
      check.limits.emplace_back("limit", limit);
      check.filters.push_back(&filter);
      if (Status s = CheckStrict(**c, *request, check); !s.ok()) return s;
      Result<segment::RecordBatch> page =
          order_by ? (*c)->ScrollOrdered(*order_by, offset, limit, f, projection,
                                         ConsistencyOf(*request))
                   : (*c)->Scroll(offset, limit, f, projection, next, ConsistencyOf(*request));
      if (!page.ok()) return page.status();
      segment::RecordBatch& batch = *page;
      const bool unnamed = (*c)->config().unnamed_vector;
      for (segment::PointRecord& r : batch.points) ToProto(r, unnamed, response->add_result());
      if (next) ToProto(*next, response->mutable_next_page_offset());
      return Status::Ok();
    });
  }

  ServerUnaryReactor* Count(CallbackServerContext* context, const qdrant::CountPoints* request,
                            qdrant::CountResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/Count", *request)) return refused;
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      Result<CollectionPtr> c = c_.collections->Get(request->collection_name());
      if (!c.ok()) return c.status();
      segment::PointFilter filter;
      if (request->has_filter()) {
        Result<segment::PointFilter> parsed = ParseFilter(request->filter(), "filter");
        if (!parsed.ok()) return parsed.status();
        filter = std::move(*parsed);
      }
      router::ReadCheck check;
      check.filters.push_back(&filter);
      if (Status s = CheckStrict(**c, *request, check); !s.ok()) return s;
      Result<size_t> n = (*c)->CountPoints(filter ? &filter : nullptr, ConsistencyOf(*request));
      if (!n.ok()) return n.status();
      response->mutable_result()->set_count(*n);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* Search(CallbackServerContext* context, const qdrant::SearchPoints* request,
                             qdrant::SearchResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/Search", *request)) return refused;
    return OnPool(c_.pool, context, response, [this, context, request, response]() -> Status {
      return RunOne(context, "qdrant.Points/Search", *request, ParseSearch,
                    response->mutable_result());
    });
  }

  ServerUnaryReactor* SearchBatch(CallbackServerContext* context,
                                  const qdrant::SearchBatchPoints* request,
                                  qdrant::SearchBatchResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/SearchBatch", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, context, request, response]() -> Status {
      return RunParsedBatch(context, "qdrant.Points/SearchBatch", *request,
                            request->search_points(), ParseSearch, response);
    });
  }

  ServerUnaryReactor* Query(CallbackServerContext* context, const qdrant::QueryPoints* request,
                            qdrant::QueryResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/Query", *request)) return refused;
    return OnPool(c_.pool, context, response, [this, context, request, response]() -> Status {
      return RunOne(context, "qdrant.Points/Query", *request, ParseQuery,
                    response->mutable_result());
    });
  }

  ServerUnaryReactor* QueryBatch(CallbackServerContext* context,
                                 const qdrant::QueryBatchPoints* request,
                                 qdrant::QueryBatchResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/QueryBatch", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, context, request, response]() -> Status {
      return RunParsedBatch(context, "qdrant.Points/QueryBatch", *request, request->query_points(),
                            ParseQuery, response);
    });
  }

  ServerUnaryReactor* Recommend(CallbackServerContext* context,
                                const qdrant::RecommendPoints* request,
                                qdrant::RecommendResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/Recommend", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, context, request, response]() -> Status {
      return RunOne(context, "qdrant.Points/Recommend", *request, ParseRecommend,
                    response->mutable_result());
    });
  }

  ServerUnaryReactor* RecommendBatch(CallbackServerContext* context,
                                     const qdrant::RecommendBatchPoints* request,
                                     qdrant::RecommendBatchResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/RecommendBatch", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, context, request, response]() -> Status {
      return RunParsedBatch(context, "qdrant.Points/RecommendBatch", *request,
                            request->recommend_points(), ParseRecommend, response);
    });
  }

  ServerUnaryReactor* Discover(CallbackServerContext* context,
                               const qdrant::DiscoverPoints* request,
                               qdrant::DiscoverResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/Discover", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, context, request, response]() -> Status {
      return RunOne(context, "qdrant.Points/Discover", *request, ParseDiscover,
                    response->mutable_result());
    });
  }

  ServerUnaryReactor* DiscoverBatch(CallbackServerContext* context,
                                    const qdrant::DiscoverBatchPoints* request,
                                    qdrant::DiscoverBatchResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/DiscoverBatch", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, context, request, response]() -> Status {
      return RunParsedBatch(context, "qdrant.Points/DiscoverBatch", *request,
                            request->discover_points(), ParseDiscover, response);
    });
  }

  ServerUnaryReactor* SearchGroups(CallbackServerContext* context,
                                   const qdrant::SearchPointGroups* request,
                                   qdrant::SearchGroupsResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/SearchGroups", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, context, request, response]() -> Status {
      return RunGroups(context, "qdrant.Points/SearchGroups", *request, ParseSearch,
                       response->mutable_result());
    });
  }

  ServerUnaryReactor* RecommendGroups(CallbackServerContext* context,
                                      const qdrant::RecommendPointGroups* request,
                                      qdrant::RecommendGroupsResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/RecommendGroups", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, context, request, response]() -> Status {
      return RunGroups(context, "qdrant.Points/RecommendGroups", *request, ParseRecommend,
                       response->mutable_result());
    });
  }

  ServerUnaryReactor* QueryGroups(CallbackServerContext* context,
                                  const qdrant::QueryPointGroups* request,
                                  qdrant::QueryGroupsResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/QueryGroups", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, context, request, response]() -> Status {
      return RunGroups(context, "qdrant.Points/QueryGroups", *request, ParseQuery,
                       response->mutable_result());
    });
  }

  ServerUnaryReactor* Facet(CallbackServerContext* context, const qdrant::FacetCounts* request,
                            qdrant::FacetResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/Facet", *request)) return refused;
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      Result<CollectionPtr> c = c_.collections->Get(request->collection_name());
      if (!c.ok()) return c.status();
      if (request->key().empty()) {
        return Status::InvalidArgument("Validation error in JSON body: [key: must not be empty]");
      }
      if (request->has_limit() && request->limit() == 0) {
        return Status::Unprocessable(
            "Validation error in JSON body: [limit: value 0 invalid, must be 1 or more]");
      }
      segment::PointFilter filter;
      if (request->has_filter()) {
        Result<segment::PointFilter> parsed = ParseFilter(request->filter(), "filter");
        if (!parsed.ok()) return parsed.status();
        filter = std::move(*parsed);
      }
      router::ReadCheck check;
      check.limits.emplace_back("limit", request->has_limit() ? request->limit() : 10);
      check.filters.push_back(&filter);
      if (Status s = CheckStrict(**c, *request, check); !s.ok()) return s;
      Result<std::vector<router::FacetHit>> hits =
          router::Facet(**c, request->key(), request->has_limit() ? request->limit() : 10,
                        filter ? &filter : nullptr, ConsistencyOf(*request));
      if (!hits.ok()) return hits.status();
      for (const router::FacetHit& hit : *hits) {
        qdrant::FacetHit* out = response->add_hits();
        switch (hit.value.kind) {
          case router::FacetValue::Kind::kString:
            out->mutable_value()->set_string_value(hit.value.string_value);
            break;
          case router::FacetValue::Kind::kInteger:
            out->mutable_value()->set_integer_value(hit.value.integer_value);
            break;
          case router::FacetValue::Kind::kBool:
            out->mutable_value()->set_bool_value(hit.value.bool_value);
            break;
        }
        out->set_count(hit.count);
      }
      return Status::Ok();
    });
  }

  ServerUnaryReactor* SearchMatrixPairs(CallbackServerContext* context,
                                        const qdrant::SearchMatrixPoints* request,
                                        qdrant::SearchMatrixPairsResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/SearchMatrixPairs", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      Result<router::Matrix> m = RunMatrix(*request);
      if (!m.ok()) return m.status();
      for (size_t i = 0; i < m->rows.size(); ++i) {
        for (const auto& [j, score] : m->rows[i]) {
          qdrant::SearchMatrixPair* pair = response->mutable_result()->add_pairs();
          ToProto(m->ids[i], pair->mutable_a());
          ToProto(m->ids[j], pair->mutable_b());
          pair->set_score(score);
        }
      }
      return Status::Ok();
    });
  }

  ServerUnaryReactor* SearchMatrixOffsets(CallbackServerContext* context,
                                          const qdrant::SearchMatrixPoints* request,
                                          qdrant::SearchMatrixOffsetsResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/SearchMatrixOffsets", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      Result<router::Matrix> m = RunMatrix(*request);
      if (!m.ok()) return m.status();
      qdrant::SearchMatrixOffsets* out = response->mutable_result();
      for (size_t i = 0; i < m->rows.size(); ++i) {
        for (const auto& [j, score] : m->rows[i]) {
          out->add_offsets_row(i);
          out->add_offsets_col(j);
          out->add_scores(score);
        }
      }
      for (const PointId& id : m->ids) ToProto(id, out->add_ids());
      return Status::Ok();
    });
  }

  // Not implemented: each answers UNIMPLEMENTED naming itself.
#define QD_UNIMPLEMENTED(Method, Request, Response)                                          \
  ServerUnaryReactor* Method(CallbackServerContext* context, const qdrant::Request* request, \
                             qdrant::Response*) override {                                   \
    if (auto* refused = Refused(c_.auth, context, "qdrant.Points/" #Method, *request)) {     \
      return refused;                                                                        \
    }                                                                                        \
    return Unimplemented(context, "qdrant.Points/" #Method);                                 \
  }
  QD_UNIMPLEMENTED(CreateVectorName, CreateVectorNameRequest, PointsOperationResponse)
  QD_UNIMPLEMENTED(DeleteVectorName, DeleteVectorNameRequest, PointsOperationResponse)
#undef QD_UNIMPLEMENTED

 private:
  Result<router::Matrix> RunMatrix(const qdrant::SearchMatrixPoints& request) {
    Result<CollectionPtr> c = c_.collections->Get(request.collection_name());
    if (!c.ok()) return c.status();
    if ((request.has_sample() && request.sample() == 0) ||
        (request.has_limit() && request.limit() == 0)) {
      return Status::Unprocessable(
          std::string("Validation error in JSON body: [") +
          (request.has_sample() && request.sample() == 0 ? "sample" : "limit") +
          ": value 0 invalid, must be 1 or more]");
    }
    segment::PointFilter filter;
    if (request.has_filter()) {
      Result<segment::PointFilter> parsed = ParseFilter(request.filter(), "filter");
      if (!parsed.ok()) return parsed.status();
      filter = std::move(*parsed);
    }
    router::ReadCheck check;
    check.limits.emplace_back("sample", request.has_sample() ? request.sample() : 10);
    check.limits.emplace_back("limit", request.has_limit() ? request.limit() : 3);
    check.filters.push_back(&filter);
    if (Status s = CheckStrict(**c, request, check); !s.ok()) return s;
    return router::DistanceMatrix(**c, request.using_(),
                                  request.has_sample() ? request.sample() : 10,
                                  request.has_limit() ? request.limit() : 3,
                                  filter ? &filter : nullptr, ConsistencyOf(request));
  }

  // A */groups request: its plain form parsed by `parse`, run grouped, the groups into `out`.
  template <typename Request, typename Parse>
  Status RunGroups(CallbackServerContext* context, std::string_view method, const Request& request,
                   Parse parse, qdrant::GroupsResult* out) {
    Result<CollectionPtr> c = c_.collections->Get(request.collection_name());
    if (!c.ok()) return c.status();
    if (request.group_by().empty()) {
      return Status::InvalidArgument(
          "Validation error in JSON body: [group_by: must not be empty]");
    }
    const uint64_t group_size = request.group_size();
    if (group_size == 0) {
      return Status::Unprocessable(
          "Validation error in JSON body: [group_size: value 0 invalid, must be 1 or more]");
    }
    Result<router::Query> query = parse(AsPlain(request), "");
    if (!query.ok()) return query.status();
    query->consistency = ConsistencyOf(request);
    router::ReadCheck check;
    check.queries.push_back(&*query);
    if (Status s = CheckStrict(**c, request, check); !s.ok()) return s;
    if (Status s = Lookups(context, method, *query); !s.ok()) return s;
    // with_lookup reads another collection: the caller must be allowed to read it.
    CollectionPtr lookup;
    segment::Projection lookup_projection;
    if (request.has_with_lookup()) {
      const qdrant::WithLookup& with = request.with_lookup();
      if (c_.auth != nullptr && c_.auth->enabled()) {
        Status allowed = AuthorizeCall(*c_.auth, *context, method, with.collection());
        if (!allowed.ok()) return allowed;
      }
      Result<CollectionPtr> from = c_.collections->Get(with.collection());
      if (!from.ok()) return from.status();
      lookup = *from;
      Result<segment::PayloadProjector> payload =
          ParseWithPayload(with.has_with_payload() ? &with.with_payload() : nullptr, true);
      if (!payload.ok()) return payload.status();
      lookup_projection.payload = std::move(*payload);
      ParseWithVectors(with.has_with_vectors() ? &with.with_vectors() : nullptr, lookup_projection);
    }
    const collection::ReadConsistency read = query->consistency;
    Result<router::Groups> groups =
        router::RunGroups(**c, std::move(*query), request.group_by(), group_size);
    if (!groups.ok()) return groups.status();
    if (lookup) {
      Status s = router::LookupGroups(*groups, *lookup, lookup_projection, read);
      if (!s.ok()) return s;
    }
    const bool unnamed = (*c)->config().unnamed_vector;
    for (const router::Groups::Group& g : groups->groups) {
      qdrant::PointGroup* group = out->add_groups();
      SetGroupId(g.id, group->mutable_id());
      for (size_t i : g.hits) ToProto(groups->records.points[i], unnamed, group->add_hits());
      if (g.lookup) {
        ToProto(groups->lookups.points[*g.lookup], lookup->config().unnamed_vector,
                group->mutable_lookup());
      }
    }
    return Status::Ok();
  }

  // Strict mode's read checks (router/strict_mode.h), with the request's timeout if it has one.
  template <typename Request>
  static Status CheckStrict(const Collection& c, const Request& request, router::ReadCheck check) {
    if constexpr (requires { request.has_timeout(); }) {
      if (request.has_timeout()) check.timeout = request.timeout();
    }
    return router::CheckRead(c, check);
  }

  // The collections a query's lookup_from names: the caller must be allowed to read each (as
  // `method` on it), then they are resolved.
  Status Lookups(CallbackServerContext* context, std::string_view method, router::Query& query) {
    if (c_.auth != nullptr && c_.auth->enabled()) {
      for (const std::string& name : router::LookupCollections(query)) {
        if (Status s = AuthorizeCall(*c_.auth, *context, method, name); !s.ok()) return s;
      }
    }
    return router::ResolveLookups(
        query, [this](const std::string& name) { return c_.collections->Get(name); });
  }

  // One query of a request parsed by `parse`, its scored points into `out`.
  template <typename Request, typename Parse, typename List>
  Status RunOne(CallbackServerContext* context, std::string_view method, const Request& request,
                Parse parse, List* out) {
    Result<CollectionPtr> c = c_.collections->Get(request.collection_name());
    if (!c.ok()) return c.status();
    Result<router::Query> query = parse(request, "");
    if (!query.ok()) return query.status();
    query->consistency = ConsistencyOf(request);
    router::ReadCheck check;
    check.queries.push_back(&*query);
    if (Status s = CheckStrict(**c, request, check); !s.ok()) return s;
    if (Status s = Lookups(context, method, *query); !s.ok()) return s;
    Result<segment::RecordBatch> result = router::Run(**c, std::move(*query));
    if (!result.ok()) return result.status();
    FillScored(*result, (*c)->config().unnamed_vector, out);
    return Status::Ok();
  }

  // A batch request's queries, each parsed by `parse` and read with the batch's consistency.
  template <typename Request, typename Items, typename Parse, typename Response>
  Status RunParsedBatch(CallbackServerContext* context, std::string_view method,
                        const Request& request, const Items& items, Parse parse,
                        Response* response) {
    Result<CollectionPtr> c = c_.collections->Get(request.collection_name());
    if (!c.ok()) return c.status();
    std::vector<router::Query> searches;
    for (int i = 0; i < items.size(); ++i) {
      Result<router::Query> s = parse(items[i], "searches[" + std::to_string(i) + "].");
      if (!s.ok()) return s.status();
      s->consistency = ConsistencyOf(request);
      searches.push_back(std::move(*s));
    }
    router::ReadCheck check;
    check.searches = searches.size();
    check.batch = true;
    for (const router::Query& q : searches) check.queries.push_back(&q);
    if (Status s = CheckStrict(**c, request, check); !s.ok()) return s;
    for (router::Query& q : searches) {
      if (Status l = Lookups(context, method, q); !l.ok()) return l;
    }
    return RunBatch(**c, searches, response);
  }

  // The searches run on this thread and on idle pool threads (see WorkerPool::ForEach).
  template <typename Response>
  Status RunBatch(const Collection& c, std::vector<router::Query>& searches, Response* response) {
    std::vector<std::optional<Result<segment::RecordBatch>>> results(searches.size());
    c_.pool->ForEach(searches.size(),
                     [&](size_t i) { results[i].emplace(router::Run(c, std::move(searches[i]))); });
    const bool unnamed = c.config().unnamed_vector;
    for (std::optional<Result<segment::RecordBatch>>& result : results) {
      if (!result->ok()) return result->status();
      FillScored(**result, unnamed, response->add_result()->mutable_result());
    }
    return Status::Ok();
  }

  static Result<UpdateRequest> ParseOperation(const Collection& c,
                                              const qdrant::PointsUpdateOperation& op,
                                              const std::string& path) {
    using Op = qdrant::PointsUpdateOperation;
    switch (op.operation_case()) {
      case Op::kUpsert: {
        const auto& u = op.upsert();
        return ParseUpsert(c, u.points(), u.has_update_mode(), u.update_mode(),
                           u.has_update_filter(), u.update_filter(), path + "upsert.");
      }
      case Op::kDeletePoints:
        return ParseSelected(
            OpKind::kDeletePoints,
            op.delete_points().has_points() ? &op.delete_points().points() : nullptr,
            path + "delete.");
      case Op::kSetPayload: {
        const auto& u = op.set_payload();
        return ParseSetPayload(OpKind::kSetPayload, u.payload(),
                               u.has_points_selector() ? &u.points_selector() : nullptr,
                               u.has_key() ? &u.key() : nullptr, path + "set_payload.");
      }
      case Op::kOverwritePayload: {
        const auto& u = op.overwrite_payload();
        return ParseSetPayload(OpKind::kOverwritePayload, u.payload(),
                               u.has_points_selector() ? &u.points_selector() : nullptr,
                               u.has_key() ? &u.key() : nullptr, path + "overwrite_payload.");
      }
      case Op::kDeletePayload: {
        const auto& u = op.delete_payload();
        return ParseDeletePayload(u.keys(),
                                  u.has_points_selector() ? &u.points_selector() : nullptr,
                                  path + "delete_payload.");
      }
      case Op::kClearPayload:
        return ParseSelected(
            OpKind::kClearPayload,
            op.clear_payload().has_points() ? &op.clear_payload().points() : nullptr,
            path + "clear_payload.");
      case Op::kUpdateVectors: {
        const auto& u = op.update_vectors();
        return ParseUpdateVectors(c, u.points(), u.has_update_filter(), u.update_filter(),
                                  path + "update_vectors.");
      }
      case Op::kDeleteVectors: {
        const auto& u = op.delete_vectors();
        return ParseDeleteVectors(c, u.has_points_selector() ? &u.points_selector() : nullptr,
                                  u.vectors(), path + "delete_vectors.");
      }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      case Op::kDeleteDeprecated:
        return ParseSelected(OpKind::kDeletePoints, &op.delete_deprecated(), path + "delete.");
      case Op::kClearPayloadDeprecated:
        return ParseSelected(OpKind::kClearPayload, &op.clear_payload_deprecated(),
                             path + "clear_payload.");
#pragma GCC diagnostic pop
      case Op::OPERATION_NOT_SET:
        break;
    }
    return Status::InvalidArgument("Format error in JSON body: " + path.substr(0, path.size() - 1) +
                                   ": unknown operation");
  }

  ServiceContext c_;
  // The search calls' messages live on one arena per call (see ArenaMessageAllocator).
  ArenaMessageAllocator<qdrant::SearchPoints, qdrant::SearchResponse> search_messages_;
  ArenaMessageAllocator<qdrant::SearchBatchPoints, qdrant::SearchBatchResponse> search_batch_messages_;
  ArenaMessageAllocator<qdrant::QueryPoints, qdrant::QueryResponse> query_messages_;
  ArenaMessageAllocator<qdrant::QueryBatchPoints, qdrant::QueryBatchResponse> query_batch_messages_;
  // And an upsert's points (a message, a vector and a float array each, and payload maps).
  ArenaMessageAllocator<qdrant::UpsertPoints, qdrant::PointsOperationResponse> upsert_messages_;
};

}  // namespace

std::unique_ptr<::grpc::Service> NewPointsService(ServiceContext context) {
  return std::make_unique<PointsService>(context);
}

}  // namespace qd::api::grpc
