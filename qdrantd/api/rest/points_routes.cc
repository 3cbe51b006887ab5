// Points, search and query (compat.md §4.2–§4.5).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <optional>

#include "qdrantd/api/auth/authenticator.h"
#include "qdrantd/api/rest/async_handler.h"
#include "qdrantd/api/rest/json.h"
#include "qdrantd/api/rest/point_codec.h"
#include "qdrantd/api/rest/router.h"
#include "qdrantd/collection/collections.h"
#include "qdrantd/index/json_path.h"
#include "qdrantd/index/payload_index.h"
#include "qdrantd/router/aggregates.h"
#include "qdrantd/router/query.h"
#include "qdrantd/router/strict_mode.h"
#include "qdrantd/server/worker_pool.h"

namespace qd::api::rest {
namespace {

using collection::Collection;
using collection::Collections;
using collection::UpdateMode;
using collection::UpdateRequest;
using rapidjson::Value;
using segment::OpKind;
using segment::PointId;

using CollectionPtr = std::shared_ptr<Collection>;

Status TypeError(const std::string& path, const char* expected) {
  return Status::InvalidArgument("Format error in JSON body: " + path + ": invalid type, expected " +
                                 expected);
}

std::string ToText(const Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// ---- updates ----

// UpdateResult {operation_id, status: completed | acknowledged} in the envelope.
Response UpdateResponse(const Request& request, segment::OpNum operation_id, bool wait) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteUpdateResult(w, operation_id, wait);
  return JsonResult(request, Take(buffer));
}

// The point selector of delete / payload / vector operations: `points` (ids) or `filter`.
Status ParseSelector(const Value& body, UpdateRequest& update, const std::string& path) {
  if (const Value* points = Member(body, "points")) {
    Result<std::vector<PointId>> ids = ParsePointIds(*points, path + "points");
    if (!ids.ok()) return ids.status();
    update.op.ids = std::move(*ids);
    return Status::Ok();
  }
  if (Member(body, "filter")) {
    Result<segment::PointFilter> filter = ParseFilterField(body, "filter", path + "filter");
    if (!filter.ok()) return filter.status();
    update.by_filter = true;
    update.filter = std::move(*filter);
    return Status::Ok();
  }
  return Status::InvalidArgument("Format error in JSON body: " + path +
                                 "expected either `points` or `filter`");
}

// Parses one update operation body of kind `kind` (the REST body itself, or one entry of
// points/batch), validated against the collection.
Result<UpdateRequest> ParseUpdate(const Collection& c, OpKind kind, const Value& body,
                                  const std::string& path) {
  if (!body.IsObject()) return TypeError(path.empty() ? "body" : path, "an object");
  UpdateRequest update;
  update.op.kind = kind;
  switch (kind) {
    case OpKind::kUpsert: {
      Result<std::vector<segment::PointStruct>> points = ParsePointsInsert(body);
      if (!points.ok()) return points.status().WithContext(path.empty() ? "" : path);
      Status s = c.ValidatePoints(*points, /*partial=*/false);
      if (!s.ok()) return s;
      update.op.points = std::move(*points);
      if (const Value* mode = Member(body, "update_mode")) {
        std::string m = mode->IsString() ? mode->GetString() : "";
        if (m == "upsert") {
          update.update_mode = UpdateMode::kUpsert;
        } else if (m == "insert_only") {
          update.update_mode = UpdateMode::kInsertOnly;
        } else if (m == "update_only") {
          update.update_mode = UpdateMode::kUpdateOnly;
        } else {
          return Status::InvalidArgument("Format error in JSON body: " + path +
                                         "update_mode: unknown variant, expected one of `upsert`, "
                                         "`insert_only`, `update_only`");
        }
      }
      Result<segment::PointFilter> uf = ParseFilterField(body, "update_filter", path + "update_filter");
      if (!uf.ok()) return uf.status();
      update.update_filter = std::move(*uf);
      return update;
    }
    case OpKind::kDeletePoints:
    case OpKind::kClearPayload: {
      Status s = ParseSelector(body, update, path);
      if (!s.ok()) return s;
      return update;
    }
    case OpKind::kSetPayload:
    case OpKind::kOverwritePayload: {
      const Value* payload = Member(body, "payload");
      if (!payload) return Status::InvalidArgument("Format error in JSON body: " + path + "missing field `payload`");
      if (!payload->IsObject()) return TypeError(path + "payload", "an object");
      update.op.payload_json = ToText(*payload);
      if (const Value* key = Member(body, "key")) {
        if (!key->IsString()) return TypeError(path + "key", "a string");
        Result<index::JsonPath> parsed = index::ParseJsonPath(key->GetString());
        if (!parsed.ok()) return parsed.status();
        update.op.key = key->GetString();
      }
      Status s = ParseSelector(body, update, path);
      if (!s.ok()) return s;
      return update;
    }
    case OpKind::kDeletePayload: {
      const Value* keys = Member(body, "keys");
      if (!keys || !keys->IsArray()) return Status::InvalidArgument("Format error in JSON body: " + path + "missing field `keys`");
      for (const Value& k : keys->GetArray()) {
        if (!k.IsString()) return TypeError(path + "keys", "an array of strings");
        Result<index::JsonPath> parsed = index::ParseJsonPath(k.GetString());
        if (!parsed.ok()) return parsed.status();
        update.op.names.emplace_back(k.GetString(), k.GetStringLength());
      }
      Status s = ParseSelector(body, update, path);
      if (!s.ok()) return s;
      return update;
    }
    case OpKind::kUpdateVectors: {
      const Value* points = Member(body, "points");
      if (!points || !points->IsArray()) return Status::InvalidArgument("Format error in JSON body: " + path + "missing field `points`");
      for (rapidjson::SizeType i = 0; i < points->Size(); ++i) {
        const Value& p = (*points)[i];
        std::string at = path + "points[" + std::to_string(i) + "]";
        const Value* id = Member(p, "id");
        const Value* vector = Member(p, "vector");
        if (!id || !vector) return Status::InvalidArgument("Format error in JSON body: " + at + ": expected `id` and `vector`");
        segment::PointStruct ps;
        Result<PointId> pid = ParsePointId(*id, at + ".id");
        if (!pid.ok()) return pid.status();
        ps.id = *pid;
        Result<segment::NamedVectors> v = ParseVectors(*vector, at + ".vector");
        if (!v.ok()) return v.status();
        ps.vectors = std::move(*v);
        update.op.points.push_back(std::move(ps));
      }
      Status s = c.ValidatePoints(update.op.points, /*partial=*/true);
      if (!s.ok()) return s;
      Result<segment::PointFilter> uf = ParseFilterField(body, "update_filter", path + "update_filter");
      if (!uf.ok()) return uf.status();
      update.update_filter = std::move(*uf);
      return update;
    }
    case OpKind::kDeleteVectors: {
      const Value* vectors = Member(body, "vector");
      if (!vectors) vectors = Member(body, "vectors");
      if (!vectors || !vectors->IsArray()) return Status::InvalidArgument("Format error in JSON body: " + path + "missing field `vector`");
      collection::CollectionConfig config = c.config();
      for (const Value& n : vectors->GetArray()) {
        if (!n.IsString()) return TypeError(path + "vector", "an array of vector names");
        if (!config.FindVector(n.GetString())) {
          return Status::InvalidArgument(std::string("Wrong input: Not existing vector name error: ") + n.GetString());
        }
        update.op.names.emplace_back(n.GetString(), n.GetStringLength());
      }
      Status s = ParseSelector(body, update, path);
      if (!s.ok()) return s;
      return update;
    }
    case OpKind::kCreateFieldIndex:
    case OpKind::kDeleteFieldIndex:
      break;
  }
  return Status::InvalidArgument("unsupported operation");
}

Result<CollectionPtr> Find(Collections& collections, const Request& request) {
  return collections.Get(request.Param("collection_name"));
}

// The body of an update route: parses, runs the update(s) and returns the operation id. It
// passes `durable` to the Update of its last operation.
using UpdateBody = std::function<Result<segment::OpNum>(const Request& request,
                                                         const Collection::OnDurable& durable)>;

// Answers an update: with wait=false as soon as its last operation is in the WAL (the apply
// goes on after the answer), with wait=true (or on an error before that) when the body returns.
void AnswerUpdate(const Request& request, const Answer& answer, const UpdateBody& body) {
  Result<bool> wait = WaitParam(request);
  if (!wait.ok()) return answer(wait.status());
  bool answered = false;
  Collection::OnDurable durable;
  if (!*wait) {
    durable = [&](segment::OpNum n) {
      answered = true;
      answer(UpdateResponse(request, n, false));
    };
  }
  Result<segment::OpNum> n = body(request, durable);
  if (answered) return;  // a later apply error is the replica's (logged, writes refused)
  if (!n.ok()) return answer(n.status());
  answer(UpdateResponse(request, *n, *wait));
}

// `ordering=weak|medium|strong` (compat.md §5.3); weak when absent.
Result<collection::WriteOrdering> OrderingParam(const Request& request) {
  std::optional<std::string> v = request.Query("ordering");
  if (!v || *v == "weak") return collection::WriteOrdering::kWeak;
  if (*v == "medium") return collection::WriteOrdering::kMedium;
  if (*v == "strong") return collection::WriteOrdering::kStrong;
  return Status::InvalidArgument("Query deserialize error: ordering: unknown variant `" + *v +
                                 "`, expected one of `weak`, `medium`, `strong`");
}

Result<segment::OpNum> RunUpdate(Collections& collections, const Request& request, OpKind kind,
                                 const Collection::OnDurable& durable) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  Result<rapidjson::Document> body = ParseJsonBody(request.body);
  if (!body.ok()) return body.status();
  Result<UpdateRequest> update = ParseUpdate(**c, kind, *body, "");
  if (!update.ok()) return update.status();
  Result<collection::WriteOrdering> ordering = OrderingParam(request);
  if (!ordering.ok()) return ordering.status();
  update->ordering = *ordering;
  Result<collection::UpdateResult> result = (*c)->Update(std::move(*update), durable);
  if (!result.ok()) return result.status();
  return result->operation_id;
}

// Runs a batch's operations in order; each one's operation id goes to `ids` once it ran.
Result<segment::OpNum> RunBatch(Collections& collections, const Request& request,
                                const Collection::OnDurable& durable,
                                std::vector<segment::OpNum>& ids) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  Result<rapidjson::Document> body = ParseJsonBody(request.body);
  if (!body.ok()) return body.status();
  const Value* operations = Member(*body, "operations");
  if (!operations || !operations->IsArray()) {
    return Status::InvalidArgument("Format error in JSON body: missing field `operations`");
  }
  static const std::pair<const char*, OpKind> kKinds[] = {
      {"upsert", OpKind::kUpsert},
      {"delete", OpKind::kDeletePoints},
      {"set_payload", OpKind::kSetPayload},
      {"overwrite_payload", OpKind::kOverwritePayload},
      {"delete_payload", OpKind::kDeletePayload},
      {"clear_payload", OpKind::kClearPayload},
      {"update_vectors", OpKind::kUpdateVectors},
      {"delete_vectors", OpKind::kDeleteVectors},
  };
  Result<collection::WriteOrdering> ordering = OrderingParam(request);
  if (!ordering.ok()) return ordering.status();
  // Parse and validate everything first, then apply in order.
  std::vector<UpdateRequest> updates;
  for (rapidjson::SizeType i = 0; i < operations->Size(); ++i) {
    const Value& op = (*operations)[i];
    std::string path = "operations[" + std::to_string(i) + "].";
    bool found = false;
    for (const auto& [name, kind] : kKinds) {
      const Value* inner = Member(op, name);
      if (!inner) continue;
      Result<UpdateRequest> update = ParseUpdate(**c, kind, *inner, path + name + ".");
      if (!update.ok()) return update.status();
      update->ordering = *ordering;
      updates.push_back(std::move(*update));
      found = true;
      break;
    }
    if (!found) {
      return Status::InvalidArgument("Format error in JSON body: " + path.substr(0, path.size() - 1) +
                                     ": unknown operation");
    }
  }
  segment::OpNum last = 0;
  for (size_t i = 0; i < updates.size(); ++i) {
    Result<collection::UpdateResult> result =
        (*c)->Update(std::move(updates[i]), i + 1 == updates.size() ? durable : nullptr);
    if (!result.ok()) return result.status();
    ids.push_back(result->operation_id);
    last = std::max(last, result->operation_id);
  }
  return last;
}

// Answers a batch as Qdrant does: an array of update results, one per operation, in order.
// With wait=false it answers once the last operation is in the WAL (the ones before it ran
// through), every result `acknowledged`.
void AnswerBatch(Collections& collections, const Request& request, const Answer& answer) {
  Result<bool> wait = WaitParam(request);
  if (!wait.ok()) return answer(wait.status());
  std::vector<segment::OpNum> ids;
  auto respond = [&](const std::vector<segment::OpNum>& done, bool completed) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartArray();
    for (segment::OpNum id : done) WriteUpdateResult(w, id, completed);
    w.EndArray();
    answer(JsonResult(request, Take(buffer)));
  };
  bool answered = false;
  Collection::OnDurable durable;
  if (!*wait) {
    durable = [&](segment::OpNum n) {
      answered = true;
      std::vector<segment::OpNum> done = ids;  // the operations before the last one ran
      done.push_back(n);
      respond(done, false);
    };
  }
  Result<segment::OpNum> n = RunBatch(collections, request, durable, ids);
  if (answered) return;
  if (!n.ok()) return answer(n.status());
  respond(ids, *wait);
}

Result<segment::OpNum> CreateFieldIndex(Collections& collections, const Request& request,
                                        const Collection::OnDurable& durable) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  Result<rapidjson::Document> body = ParseJsonBody(request.body);
  if (!body.ok()) return body.status();
  const Value* field = Member(*body, "field_name");
  if (!field) return Status::InvalidArgument("Format error in JSON body: missing field `field_name`");
  if (!field->IsString()) return TypeError("field_name", "a string");
  Result<index::JsonPath> path = index::ParseJsonPath(field->GetString());
  if (!path.ok()) return path.status();
  const Value* schema = Member(*body, "field_schema");
  if (!schema) {
    return Status::InvalidArgument("Bad request: field_schema is required (automatic schema inference is not supported)");
  }
  Result<index::PayloadFieldSchema> parsed = index::ParsePayloadFieldSchema(*schema);
  if (!parsed.ok()) return parsed.status();
  UpdateRequest update;
  update.op.kind = OpKind::kCreateFieldIndex;
  update.op.field_name = field->GetString();
  update.op.field_schema_json = ToText(*schema);
  Result<collection::WriteOrdering> ordering = OrderingParam(request);
  if (!ordering.ok()) return ordering.status();
  update.ordering = *ordering;
  Result<collection::UpdateResult> result = (*c)->Update(std::move(update), durable);
  if (!result.ok()) return result.status();
  return result->operation_id;
}

Result<segment::OpNum> DeleteFieldIndex(Collections& collections, const Request& request,
                                        const Collection::OnDurable& durable) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  UpdateRequest update;
  update.op.kind = OpKind::kDeleteFieldIndex;
  update.op.field_name = request.Param("field_name");
  Result<collection::WriteOrdering> ordering = OrderingParam(request);
  if (!ordering.ok()) return ordering.status();
  update.ordering = *ordering;
  Result<collection::UpdateResult> result = (*c)->Update(std::move(update), durable);
  if (!result.ok()) return result.status();
  return result->operation_id;
}

// ---- reads ----

// The `consistency` query parameter of reads (compat.md §2.5); one replica per shard when absent.
Result<collection::ReadConsistency> ConsistencyOf(const Request& request) {
  std::optional<std::string> text = request.Query("consistency");
  if (!text) return collection::ReadConsistency{};
  return collection::ParseReadConsistency(*text);
}

// Strict mode's read checks (router/strict_mode.h), with the request's ?timeout.
Status CheckStrict(const Collection& c, const Request& request, router::ReadCheck check) {
  Result<std::optional<uint64_t>> timeout = TimeoutParam(request);
  if (!timeout.ok()) return timeout.status();
  check.timeout = *timeout;
  return router::CheckRead(c, check);
}

Result<Response> GetPoint(Collections& collections, const Request& request) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  rapidjson::Document id_doc;
  const std::string& text = request.Param("id");
  bool numeric = !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (numeric) {
    id_doc.Parse(text.c_str());
  } else {
    id_doc.SetString(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), id_doc.GetAllocator());
  }
  Result<PointId> id = ParsePointId(id_doc, "id");
  if (!id.ok()) return id.status();
  segment::Projection projection;
  projection.payload = [](const Value& in, Value& out, rapidjson::Document::AllocatorType& a) { out.CopyFrom(in, a); };
  projection.all_vectors = true;
  Result<collection::ReadConsistency> consistency = ConsistencyOf(request);
  if (!consistency.ok()) return consistency.status();
  if (Status strict = CheckStrict(**c, request, {}); !strict.ok()) return strict;
  Result<segment::RecordBatch> found = (*c)->Retrieve({*id}, projection, *consistency);
  if (!found.ok()) return found.status();
  segment::RecordBatch& batch = *found;
  if (batch.points.empty()) return Status::NotFound("No point with id " + id->ToString() + " found");
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteRecord(w, batch.points[0], false, (*c)->config().unnamed_vector);
  return JsonResult(request, Take(buffer));
}

Result<Response> GetPoints(Collections& collections, const Request& request) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  Result<rapidjson::Document> body = ParseJsonBody(request.body);
  if (!body.ok()) return body.status();
  const Value* ids = Member(*body, "ids");
  if (!ids) return Status::InvalidArgument("Format error in JSON body: missing field `ids`");
  Result<std::vector<PointId>> parsed = ParsePointIds(*ids, "ids");
  if (!parsed.ok()) return parsed.status();
  segment::Projection projection;
  Result<segment::PayloadProjector> payload = ParseWithPayload(*body, true);
  if (!payload.ok()) return payload.status();
  projection.payload = std::move(*payload);
  Status s = ParseWithVector(*body, projection);
  if (!s.ok()) return s;
  std::vector<PointId> unique;
  for (const PointId& id : *parsed) {
    if (std::find(unique.begin(), unique.end(), id) == unique.end()) unique.push_back(id);
  }
  Result<collection::ReadConsistency> consistency = ConsistencyOf(request);
  if (!consistency.ok()) return consistency.status();
  if (Status strict = CheckStrict(**c, request, {}); !strict.ok()) return strict;
  Result<segment::RecordBatch> found = (*c)->Retrieve(unique, projection, *consistency);
  if (!found.ok()) return found.status();
  segment::RecordBatch& batch = *found;
  bool unnamed = (*c)->config().unnamed_vector;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartArray();
  for (const segment::PointRecord& r : batch.points) WriteRecord(w, r, false, unnamed);
  w.EndArray();
  return JsonResult(request, Take(buffer));
}

Result<Response> Scroll(Collections& collections, const Request& request) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  Result<rapidjson::Document> body = ParseJsonBody(request.body.empty() ? "{}" : request.body);
  if (!body.ok()) return body.status();
  Result<segment::PointFilter> filter = ParseFilterField(*body, "filter", "filter");
  if (!filter.ok()) return filter.status();
  Result<std::optional<uint64_t>> limit = OptionalUint(*body, "limit", "limit");
  if (!limit.ok()) return limit.status();
  if (*limit && **limit == 0) {
    return Status::Unprocessable("Validation error in JSON body: [limit: value 0 invalid, must be 1 or more]");
  }
  std::optional<PointId> offset;
  if (const Value* o = Member(*body, "offset")) {
    Result<PointId> id = ParsePointId(*o, "offset");
    if (!id.ok()) return id.status();
    offset = *id;
  }
  std::optional<segment::OrderBy> order_by;
  if (const Value* o = Member(*body, "order_by")) {
    Result<segment::OrderBy> parsed = ParseOrderBy(*o, "order_by");
    if (!parsed.ok()) return parsed.status();
    order_by = std::move(*parsed);
  }
  segment::Projection projection;
  Result<segment::PayloadProjector> payload = ParseWithPayload(*body, true);
  if (!payload.ok()) return payload.status();
  projection.payload = std::move(*payload);
  Status s = ParseWithVector(*body, projection);
  if (!s.ok()) return s;
  Result<collection::ReadConsistency> consistency = ConsistencyOf(request);
  if (!consistency.ok()) return consistency.status();
  std::optional<PointId> next;
  size_t n = limit->value_or(10);
  const segment::PointFilter* f = *filter ? &*filter : nullptr;
  router::ReadCheck check;
  check.limits.emplace_back("limit", n);
  check.filters.push_back(&*filter);
  if (Status strict = CheckStrict(**c, request, check); !strict.ok()) return strict;
  Result<segment::RecordBatch> page =
      order_by ? (*c)->ScrollOrdered(*order_by, offset, n, f, projection, *consistency)
               : (*c)->Scroll(offset, n, f, projection, next, *consistency);
  if (!page.ok()) return page.status();
  segment::RecordBatch& batch = *page;
  bool unnamed = (*c)->config().unnamed_vector;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("points");
  w.StartArray();
  for (const segment::PointRecord& r : batch.points) WriteRecord(w, r, false, unnamed);
  w.EndArray();
  w.Key("next_page_offset");
  if (next) {
    WritePointId(w, *next);
  } else {
    w.Null();
  }
  w.EndObject();
  return JsonResult(request, Take(buffer));
}

Result<Response> Count(Collections& collections, const Request& request) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  Result<rapidjson::Document> body = ParseJsonBody(request.body.empty() ? "{}" : request.body);
  if (!body.ok()) return body.status();
  Result<segment::PointFilter> filter = ParseFilterField(*body, "filter", "filter");
  if (!filter.ok()) return filter.status();
  Result<collection::ReadConsistency> consistency = ConsistencyOf(request);
  if (!consistency.ok()) return consistency.status();
  router::ReadCheck check;
  check.filters.push_back(&*filter);
  if (Status strict = CheckStrict(**c, request, check); !strict.ok()) return strict;
  Result<size_t> n = (*c)->CountPoints(*filter ? &*filter : nullptr, *consistency);
  if (!n.ok()) return n.status();
  return JsonResult(request, "{\"count\":" + std::to_string(*n) + "}");
}

// POST /facet {key, limit, filter, exact}: {"hits": [{"value", "count"}]}.
Result<Response> Facet(Collections& collections, const Request& request) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  Result<rapidjson::Document> body = ParseJsonBody(request.body.empty() ? "{}" : request.body);
  if (!body.ok()) return body.status();
  const Value* key = Member(*body, "key");
  if (!key) return Status::InvalidArgument("Format error in JSON body: missing field `key`");
  if (!key->IsString()) return TypeError("key", "a string");
  Result<std::optional<uint64_t>> limit = OptionalUint(*body, "limit", "limit");
  if (!limit.ok()) return limit.status();
  if (*limit && **limit == 0) {
    return Status::Unprocessable(
        "Validation error in JSON body: [limit: value 0 invalid, must be 1 or more]");
  }
  Result<segment::PointFilter> filter = ParseFilterField(*body, "filter", "filter");
  if (!filter.ok()) return filter.status();
  Result<collection::ReadConsistency> consistency = ConsistencyOf(request);
  if (!consistency.ok()) return consistency.status();
  router::ReadCheck check;
  check.limits.emplace_back("limit", limit->value_or(10));
  check.filters.push_back(&*filter);
  if (Status strict = CheckStrict(**c, request, check); !strict.ok()) return strict;
  Result<std::vector<router::FacetHit>> hits = router::Facet(
      **c, key->GetString(), limit->value_or(10), *filter ? &*filter : nullptr, *consistency);
  if (!hits.ok()) return hits.status();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("hits");
  w.StartArray();
  for (const router::FacetHit& hit : *hits) {
    w.StartObject();
    w.Key("value");
    switch (hit.value.kind) {
      case router::FacetValue::Kind::kString:
        w.String(hit.value.string_value.data(),
                 static_cast<rapidjson::SizeType>(hit.value.string_value.size()));
        break;
      case router::FacetValue::Kind::kInteger:
        w.Int64(hit.value.integer_value);
        break;
      case router::FacetValue::Kind::kBool:
        w.Bool(hit.value.bool_value);
        break;
    }
    w.Key("count");
    w.Uint64(hit.count);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return JsonResult(request, Take(buffer));
}

// POST /points/search/matrix/pairs|offsets {sample, limit, filter, using}.
Result<Response> Matrix(Collections& collections, const Request& request, bool pairs) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  Result<rapidjson::Document> body = ParseJsonBody(request.body.empty() ? "{}" : request.body);
  if (!body.ok()) return body.status();
  Result<std::optional<uint64_t>> sample = OptionalUint(*body, "sample", "sample");
  if (!sample.ok()) return sample.status();
  Result<std::optional<uint64_t>> limit = OptionalUint(*body, "limit", "limit");
  if (!limit.ok()) return limit.status();
  for (const auto& [name, value] : {std::pair{"sample", *sample}, std::pair{"limit", *limit}}) {
    if (value && *value == 0) {
      return Status::Unprocessable(std::string("Validation error in JSON body: [") + name +
                                   ": value 0 invalid, must be 1 or more]");
    }
  }
  std::string using_name;
  if (const Value* u = Member(*body, "using"); u && !u->IsNull()) {
    if (!u->IsString()) return TypeError("using", "a string");
    using_name = u->GetString();
  }
  Result<segment::PointFilter> filter = ParseFilterField(*body, "filter", "filter");
  if (!filter.ok()) return filter.status();
  Result<collection::ReadConsistency> consistency = ConsistencyOf(request);
  if (!consistency.ok()) return consistency.status();
  router::ReadCheck check;
  check.limits.emplace_back("sample", sample->value_or(10));
  check.limits.emplace_back("limit", limit->value_or(3));
  check.filters.push_back(&*filter);
  if (Status strict = CheckStrict(**c, request, check); !strict.ok()) return strict;
  Result<router::Matrix> m =
      router::DistanceMatrix(**c, using_name, sample->value_or(10), limit->value_or(3),
                             *filter ? &*filter : nullptr, *consistency);
  if (!m.ok()) return m.status();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  if (pairs) {
    w.Key("pairs");
    w.StartArray();
    for (size_t i = 0; i < m->rows.size(); ++i) {
      for (const auto& [j, score] : m->rows[i]) {
        w.StartObject();
        w.Key("a");
        WritePointId(w, m->ids[i]);
        w.Key("b");
        WritePointId(w, m->ids[j]);
        w.Key("score");
        WriteFloat(w, score);
        w.EndObject();
      }
    }
    w.EndArray();
  } else {
    auto column = [&](const char* name, auto write) {
      w.Key(name);
      w.StartArray();
      for (size_t i = 0; i < m->rows.size(); ++i) {
        for (const auto& [j, score] : m->rows[i]) write(i, j, score);
      }
      w.EndArray();
    };
    column("offsets_row", [&](size_t i, size_t, float) { w.Uint64(i); });
    column("offsets_col", [&](size_t, size_t j, float) { w.Uint64(j); });
    column("scores", [&](size_t, size_t, float score) { WriteFloat(w, score); });
    w.Key("ids");
    w.StartArray();
    for (const PointId& id : m->ids) WritePointId(w, id);
    w.EndArray();
  }
  w.EndObject();
  return JsonResult(request, Take(buffer));
}

// Common search parameters of search and query requests.
Status ParseSearchParams(const Value& body, const std::string& path, segment::SearchSpec& spec) {
  Result<std::optional<uint64_t>> limit = OptionalUint(body, "limit", path + "limit");
  if (!limit.ok()) return limit.status();
  if (!*limit) {
    limit = OptionalUint(body, "top", path + "top");
    if (!limit.ok()) return limit.status();
  }
  spec.limit = limit->value_or(10);
  if (spec.limit == 0) {
    return Status::Unprocessable("Validation error in JSON body: [" + path + "limit: value 0 invalid, must be 1 or more]");
  }
  Result<std::optional<uint64_t>> offset = OptionalUint(body, "offset", path + "offset");
  if (!offset.ok()) return offset.status();
  spec.offset = offset->value_or(0);
  if (const Value* t = Member(body, "score_threshold")) {
    if (!t->IsNumber()) return TypeError(path + "score_threshold", "a number");
    spec.score_threshold = static_cast<float>(t->GetDouble());
  }
  if (const Value* params = Member(body, "params")) {
    if (!params->IsObject()) return TypeError(path + "params", "an object");
    Result<std::optional<uint64_t>> ef = OptionalUint(*params, "hnsw_ef", path + "params.hnsw_ef");
    if (!ef.ok()) return ef.status();
    if (*ef && **ef == 0) {
      return Status::Unprocessable("Validation error in JSON body: [" + path + "params.hnsw_ef: value 0 invalid, must be 1 or more]");
    }
    spec.ef = ef->value_or(0);
    if (const Value* exact = Member(*params, "exact")) {
      if (!exact->IsBool()) return TypeError(path + "params.exact", "a boolean");
      spec.exact = exact->GetBool();
    }
    // Ours, for benchmarks (scripts/bench/filtered.sh): "hnsw" times the graph walk even where
    // the planner would scan. Any other value leaves the choice to the planner.
    if (const Value* plan = Member(*params, "qdrantd_plan")) {
      spec.force_graph = plan->IsString() && std::string_view(plan->GetString()) == "hnsw";
    }
  }
  return Status::Ok();
}

// A search request (points/search): vector plain, {name, vector}, or a named sparse vector.
Result<router::Query> ParseSearch(const Value& body, const std::string& path) {
  if (!body.IsObject()) return TypeError(path.empty() ? "body" : path, "an object");
  router::Query out;
  const Value* vector = Member(body, "vector");
  if (!vector) return Status::InvalidArgument("Format error in JSON body: " + path + "missing field `vector`");
  if (vector->IsArray()) {
    Result<segment::Vector> v = ParseOneVector(*vector, path + "vector");
    if (!v.ok()) return v.status();
    out.spec.query = std::move(*v);
  } else if (vector->IsObject()) {
    const Value* name = Member(*vector, "name");
    const Value* inner = Member(*vector, "vector");
    if (!name || !name->IsString() || !inner) {
      return TypeError(path + "vector", "a vector or {\"name\", \"vector\"}");
    }
    out.spec.vector_name = name->GetString();
    Result<segment::Vector> v = ParseOneVector(*inner, path + "vector.vector");
    if (!v.ok()) return v.status();
    out.spec.query = std::move(*v);
  } else {
    return TypeError(path + "vector", "a vector or {\"name\", \"vector\"}");
  }
  Status s = ParseSearchParams(body, path, out.spec);
  if (!s.ok()) return s;
  Result<segment::PointFilter> filter = ParseFilterField(body, "filter", path + "filter");
  if (!filter.ok()) return filter.status();
  out.filter = std::move(*filter);
  Result<segment::PayloadProjector> payload = ParseWithPayload(body, false);
  if (!payload.ok()) return payload.status();
  out.projection.payload = std::move(*payload);
  s = ParseWithVector(body, out.projection);
  if (!s.ok()) return s;
  return out;
}

// A vector or the id of a stored point (the Query API's VectorInput).
Result<router::VectorInput> ParseVectorInput(const Value& value, const std::string& path) {
  router::VectorInput out;
  if (value.IsUint64() || value.IsString()) {
    Result<PointId> id = ParsePointId(value, path);
    if (!id.ok()) return id.status();
    out.id = *id;
    return out;
  }
  Result<segment::Vector> v = ParseOneVector(value, path);
  if (!v.ok()) return v.status();
  out.vector = std::move(*v);
  return out;
}

// An array of VectorInputs; absent or null is none.
Result<std::vector<router::VectorInput>> ParseVectorInputs(const Value& object, const char* name,
                                                           const std::string& path) {
  std::vector<router::VectorInput> out;
  const Value* list = Member(object, name);
  if (!list || list->IsNull()) return out;
  if (!list->IsArray()) return TypeError(path + name, "an array of point ids or vectors");
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    Result<router::VectorInput> in =
        ParseVectorInput((*list)[i], path + name + "[" + std::to_string(i) + "]");
    if (!in.ok()) return in.status();
    out.push_back(std::move(*in));
  }
  return out;
}

Result<router::Query::Strategy> ParseStrategy(const Value& object, const std::string& path) {
  const Value* strategy = Member(object, "strategy");
  if (!strategy || strategy->IsNull()) return router::Query::Strategy::kAverageVector;
  std::string_view name = strategy->IsString() ? strategy->GetString() : "";
  if (name == "average_vector") return router::Query::Strategy::kAverageVector;
  if (name == "best_score") return router::Query::Strategy::kBestScore;
  if (name == "sum_scores") return router::Query::Strategy::kSumScores;
  return Status::InvalidArgument("Format error in JSON body: " + path +
                                 "strategy: unknown variant, expected one of `average_vector`, "
                                 "`best_score`, `sum_scores`");
}

// Context pairs: one {positive, negative} or an array of them; absent or null is none.
Result<std::vector<std::pair<router::VectorInput, router::VectorInput>>> ParsePairs(
    const Value* value, const std::string& path) {
  std::vector<std::pair<router::VectorInput, router::VectorInput>> out;
  if (!value || value->IsNull()) return out;
  auto one = [&](const Value& pair, const std::string& at) -> Status {
    if (!pair.IsObject()) return TypeError(at, "an object {positive, negative}");
    const Value* plus = Member(pair, "positive");
    const Value* minus = Member(pair, "negative");
    if (!plus)
      return Status::InvalidArgument("Format error in JSON body: " + at +
                                     ": missing field `positive`");
    if (!minus)
      return Status::InvalidArgument("Format error in JSON body: " + at +
                                     ": missing field `negative`");
    Result<router::VectorInput> p = ParseVectorInput(*plus, at + ".positive");
    if (!p.ok()) return p.status();
    Result<router::VectorInput> m = ParseVectorInput(*minus, at + ".negative");
    if (!m.ok()) return m.status();
    out.emplace_back(std::move(*p), std::move(*m));
    return Status::Ok();
  };
  if (value->IsArray()) {
    for (rapidjson::SizeType i = 0; i < value->Size(); ++i) {
      Status s = one((*value)[i], path + "[" + std::to_string(i) + "]");
      if (!s.ok()) return s;
    }
    return out;
  }
  Status s = one(*value, path);
  if (!s.ok()) return s;
  return out;
}

Status NotYet(const std::string& what) {
  return Status::InvalidArgument("Bad request: " + what + " is not supported by this server yet");
}

// lookup_from: {"collection": name, "vector": name?}; absent or null is none.
Status ParseLookupFrom(const Value& body, const std::string& path, router::Query& out) {
  const Value* lookup = Member(body, "lookup_from");
  if (!lookup || lookup->IsNull()) return Status::Ok();
  if (!lookup->IsObject()) return TypeError(path + "lookup_from", "an object");
  const Value* collection = Member(*lookup, "collection");
  if (!collection || !collection->IsString()) {
    return Status::InvalidArgument("Format error in JSON body: " + path +
                                   "lookup_from: missing field `collection`");
  }
  router::LookupFrom from;
  from.collection = collection->GetString();
  if (const Value* vector = Member(*lookup, "vector"); vector && !vector->IsNull()) {
    if (!vector->IsString()) return TypeError(path + "lookup_from.vector", "a string");
    from.vector = vector->GetString();
  }
  out.lookup_from = std::move(from);
  return Status::Ok();
}

// The `query` of a query request or prefetch, into `out`: a vector, a point id, or one of the
// objects nearest, recommend, discover, context, order_by, fusion, rrf; absent lists points.
Status ParseQueryVariant(const Value* query, const std::string& path, router::Query& out) {
  using Kind = router::Query::Kind;
  if (!query || query->IsNull()) {
    out.kind = Kind::kList;
    return Status::Ok();
  }
  if (query->IsObject() && query->HasMember("nearest")) {
    if (query->HasMember("mmr")) return NotYet("`mmr`");
    query = &(*query)["nearest"];
  }
  if (query->IsArray() || query->IsUint64() || query->IsString() ||
      (query->IsObject() && query->HasMember("indices"))) {
    Result<router::VectorInput> in = ParseVectorInput(*query, path + "query");
    if (!in.ok()) return in.status();
    if (in->id) {
      out.kind = Kind::kNearestToPoint;
      out.point = *in->id;
    } else {
      out.spec.query = std::move(in->vector);
    }
    return Status::Ok();
  }
  if (!query->IsObject())
    return TypeError(path + "query", "a vector, a point id or a query object");
  if (const Value* order_by = Member(*query, "order_by")) {
    Result<segment::OrderBy> parsed = ParseOrderBy(*order_by, path + "query.order_by");
    if (!parsed.ok()) return parsed.status();
    out.kind = Kind::kOrderBy;
    out.order_by = std::move(*parsed);
    return Status::Ok();
  }
  if (const Value* recommend = Member(*query, "recommend")) {
    const std::string at = path + "query.recommend.";
    if (!recommend->IsObject()) return TypeError(at, "an object");
    out.kind = Kind::kRecommend;
    Result<std::vector<router::VectorInput>> positive =
        ParseVectorInputs(*recommend, "positive", at);
    if (!positive.ok()) return positive.status();
    Result<std::vector<router::VectorInput>> negative =
        ParseVectorInputs(*recommend, "negative", at);
    if (!negative.ok()) return negative.status();
    Result<router::Query::Strategy> strategy = ParseStrategy(*recommend, at);
    if (!strategy.ok()) return strategy.status();
    out.positive = std::move(*positive);
    out.negative = std::move(*negative);
    out.strategy = *strategy;
    return Status::Ok();
  }
  if (const Value* discover = Member(*query, "discover")) {
    const std::string at = path + "query.discover.";
    if (!discover->IsObject()) return TypeError(at, "an object");
    const Value* target = Member(*discover, "target");
    if (!target)
      return Status::InvalidArgument("Format error in JSON body: " + at +
                                     "target: missing field `target`");
    Result<router::VectorInput> t = ParseVectorInput(*target, at + "target");
    if (!t.ok()) return t.status();
    auto pairs = ParsePairs(Member(*discover, "context"), at + "context");
    if (!pairs.ok()) return pairs.status();
    out.kind = Kind::kDiscover;
    out.target = std::move(*t);
    out.pairs = std::move(*pairs);
    return Status::Ok();
  }
  if (const Value* context = Member(*query, "context")) {
    auto pairs = ParsePairs(context, path + "query.context");
    if (!pairs.ok()) return pairs.status();
    out.kind = Kind::kContext;
    out.pairs = std::move(*pairs);
    return Status::Ok();
  }
  if (const Value* fusion = Member(*query, "fusion")) {
    std::string_view name = fusion->IsString() ? fusion->GetString() : "";
    if (name != "rrf" && name != "dbsf") {
      return Status::InvalidArgument("Format error in JSON body: " + path +
                                     "query.fusion: unknown variant, expected `rrf` or `dbsf`");
    }
    out.kind = Kind::kFusion;
    out.fusion = name == "rrf" ? router::Query::Fusion::kRrf : router::Query::Fusion::kDbsf;
    return Status::Ok();
  }
  if (const Value* rrf = Member(*query, "rrf")) {
    const std::string at = path + "query.rrf.";
    if (!rrf->IsObject()) return TypeError(at, "an object");
    Result<std::optional<uint64_t>> k = OptionalUint(*rrf, "k", at + "k");
    if (!k.ok()) return k.status();
    if (*k && **k == 0) {
      return Status::Unprocessable("Validation error in JSON body: [" + at +
                                   "k: value 0 invalid, must be 1 or more]");
    }
    out.kind = Kind::kFusion;
    out.fusion = router::Query::Fusion::kRrf;
    out.rrf_k = static_cast<uint32_t>(k->value_or(2));
    if (const Value* weights = Member(*rrf, "weights"); weights && !weights->IsNull()) {
      if (!weights->IsArray()) return TypeError(at + "weights", "an array of numbers");
      for (const Value& w : weights->GetArray()) {
        if (!w.IsNumber()) return TypeError(at + "weights", "an array of numbers");
        out.rrf_weights.push_back(static_cast<float>(w.GetDouble()));
      }
    }
    return Status::Ok();
  }
  if (const Value* sample = Member(*query, "sample")) {
    if (!sample->IsString() || std::string_view(sample->GetString()) != "random") {
      return Status::InvalidArgument("Format error in JSON body: " + path +
                                     "query.sample: unknown variant, expected `random`");
    }
    out.kind = Kind::kSample;
    return Status::Ok();
  }
  for (const char* name : {"formula", "relevance_feedback"}) {
    if (query->HasMember(name)) return NotYet(std::string("the `") + name + "` query");
  }
  return TypeError(path + "query", "a vector, a point id or a query object");
}

// The fields a query request shares with its prefetches: prefetch (nested), query, using,
// filter, params, score_threshold, limit.
Status ParseQueryCore(const Value& body, const std::string& path, router::Query& out, int depth) {
  if (Status s = ParseLookupFrom(body, path, out); !s.ok()) return s;
  if (const Value* using_name = Member(body, "using"); using_name && !using_name->IsNull()) {
    if (!using_name->IsString()) return TypeError(path + "using", "a string");
    out.spec.vector_name = using_name->GetString();
  }
  if (const Value* prefetch = Member(body, "prefetch"); prefetch && !prefetch->IsNull()) {
    if (depth >= 8)
      return Status::InvalidArgument("Bad request: prefetch is nested too deep (8 levels at most)");
    auto one = [&](const Value& p, const std::string& at) -> Status {
      if (!p.IsObject()) return TypeError(at, "an object");
      router::Query sub;
      Status s = ParseQueryCore(p, at + ".", sub, depth + 1);
      if (!s.ok()) return s;
      out.prefetch.push_back(std::move(sub));
      return Status::Ok();
    };
    if (prefetch->IsArray()) {
      for (rapidjson::SizeType i = 0; i < prefetch->Size(); ++i) {
        Status s = one((*prefetch)[i], path + "prefetch[" + std::to_string(i) + "]");
        if (!s.ok()) return s;
      }
    } else {
      Status s = one(*prefetch, path + "prefetch");
      if (!s.ok()) return s;
    }
  }
  Status s = ParseQueryVariant(Member(body, "query"), path, out);
  if (!s.ok()) return s;
  s = ParseSearchParams(body, path, out.spec);
  if (!s.ok()) return s;
  Result<segment::PointFilter> filter = ParseFilterField(body, "filter", path + "filter");
  if (!filter.ok()) return filter.status();
  out.filter = std::move(*filter);
  return Status::Ok();
}

Status ParseProjection(const Value& body, router::Query& out) {
  Result<segment::PayloadProjector> payload = ParseWithPayload(body, false);
  if (!payload.ok()) return payload.status();
  out.projection.payload = std::move(*payload);
  return ParseWithVector(body, out.projection);
}

// A query request (points/query): the Query API, prefetch and all.
Result<router::Query> ParseQuery(const Value& body, const std::string& path) {
  if (!body.IsObject()) return TypeError(path.empty() ? "body" : path, "an object");
  router::Query out;
  Status s = ParseQueryCore(body, path, out, 0);
  if (!s.ok()) return s;
  s = ParseProjection(body, out);
  if (!s.ok()) return s;
  return out;
}

// The fields recommend and discover requests share with a search: using, filter, params,
// limit, offset, score_threshold, with_payload, with_vector.
Status ParseExampleSearch(const Value& body, const std::string& path, router::Query& out) {
  if (Status s = ParseLookupFrom(body, path, out); !s.ok()) return s;
  if (const Value* using_name = Member(body, "using"); using_name && !using_name->IsNull()) {
    if (!using_name->IsString()) return TypeError(path + "using", "a string");
    out.spec.vector_name = using_name->GetString();
  }
  Status s = ParseSearchParams(body, path, out.spec);
  if (!s.ok()) return s;
  Result<segment::PointFilter> filter = ParseFilterField(body, "filter", path + "filter");
  if (!filter.ok()) return filter.status();
  out.filter = std::move(*filter);
  return ParseProjection(body, out);
}

// A recommend request (points/recommend): positive and negative ids or vectors, a strategy.
Result<router::Query> ParseRecommend(const Value& body, const std::string& path) {
  if (!body.IsObject()) return TypeError(path.empty() ? "body" : path, "an object");
  router::Query out;
  out.kind = router::Query::Kind::kRecommend;
  Result<std::vector<router::VectorInput>> positive = ParseVectorInputs(body, "positive", path);
  if (!positive.ok()) return positive.status();
  Result<std::vector<router::VectorInput>> negative = ParseVectorInputs(body, "negative", path);
  if (!negative.ok()) return negative.status();
  Result<router::Query::Strategy> strategy = ParseStrategy(body, path);
  if (!strategy.ok()) return strategy.status();
  out.positive = std::move(*positive);
  out.negative = std::move(*negative);
  out.strategy = *strategy;
  Status s = ParseExampleSearch(body, path, out);
  if (!s.ok()) return s;
  return out;
}

// A discover request (points/discover): a target and context pairs; without a target, a
// context search.
Result<router::Query> ParseDiscover(const Value& body, const std::string& path) {
  if (!body.IsObject()) return TypeError(path.empty() ? "body" : path, "an object");
  router::Query out;
  auto pairs = ParsePairs(Member(body, "context"), path + "context");
  if (!pairs.ok()) return pairs.status();
  out.pairs = std::move(*pairs);
  const Value* target = Member(body, "target");
  if (target && !target->IsNull()) {
    Result<router::VectorInput> t = ParseVectorInput(*target, path + "target");
    if (!t.ok()) return t.status();
    out.kind = router::Query::Kind::kDiscover;
    out.target = std::move(*t);
  } else {
    out.kind = router::Query::Kind::kContext;
  }
  Status s = ParseExampleSearch(body, path, out);
  if (!s.ok()) return s;
  return out;
}

void WriteScored(JsonWriter& w, const segment::RecordBatch& batch, bool unnamed) {
  w.StartArray();
  for (const segment::PointRecord& r : batch.points) WriteRecord(w, r, true, unnamed);
  w.EndArray();
}

// A query's lookup_from collections: the caller must be allowed to read each, then they are
// resolved.
Status PrepareLookups(Collections& collections, const auth::Authenticator* authenticator,
                      const Request& request, router::Query& query) {
  if (authenticator != nullptr && authenticator->enabled()) {
    for (const std::string& name : router::LookupCollections(query)) {
      Status allowed = authenticator->Authorize(
          request.credentials, auth::Requirement{auth::Need::kRead, auth::Scope::kCollection},
          name);
      if (!allowed.ok()) return allowed;
    }
  }
  return router::ResolveLookups(
      query, [&collections](const std::string& name) { return collections.Get(name); });
}

// A */groups request's with_lookup: a collection name, or {collection, with_payload (default
// true), with_vectors (default false)}.
struct GroupLookup {
  std::string collection;
  segment::Projection projection;
};

// The group fields of a */groups request: group_by (a payload path), group_size (default 3),
// with_lookup; `limit` (the groups) is the query's.
Status ParseGroupFields(const Value& body, std::string& group_by, size_t& group_size,
                        std::optional<GroupLookup>& lookup) {
  const Value* by = Member(body, "group_by");
  if (!by) return Status::InvalidArgument("Format error in JSON body: missing field `group_by`");
  if (!by->IsString() || by->GetStringLength() == 0) return TypeError("group_by", "a payload key");
  group_by = by->GetString();
  Result<std::optional<uint64_t>> size = OptionalUint(body, "group_size", "group_size");
  if (!size.ok()) return size.status();
  if (*size && **size == 0) {
    return Status::Unprocessable(
        "Validation error in JSON body: [group_size: value 0 invalid, must be 1 or more]");
  }
  group_size = size->value_or(3);
  const Value* with = Member(body, "with_lookup");
  if (!with || with->IsNull()) return Status::Ok();
  GroupLookup out;
  if (with->IsString()) {
    out.collection = with->GetString();
    out.projection.payload = [](const Value& in, Value& copy,
                                rapidjson::Document::AllocatorType& a) { copy.CopyFrom(in, a); };
  } else if (with->IsObject()) {
    const Value* collection = Member(*with, "collection");
    if (!collection || !collection->IsString()) {
      return Status::InvalidArgument(
          "Format error in JSON body: with_lookup: missing field `collection`");
    }
    out.collection = collection->GetString();
    Result<segment::PayloadProjector> payload = ParseWithPayload(*with, true);
    if (!payload.ok()) return payload.status();
    out.projection.payload = std::move(*payload);
    if (Status s = ParseWithVector(*with, out.projection); !s.ok()) return s;
  } else {
    return TypeError("with_lookup",
                     "a collection name or {collection, with_payload, with_vectors}");
  }
  lookup = std::move(out);
  return Status::Ok();
}

enum class GroupsKind { kSearch, kQuery, kRecommend };

// search/groups, query/groups, recommend/groups: {"groups": [{"id", "hits"}]}.
Result<Response> SearchGroups(Collections& collections, const auth::Authenticator* authenticator,
                              const Request& request, GroupsKind kind) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  Result<rapidjson::Document> body = ParseJsonBody(request.body);
  if (!body.ok()) return body.status();
  Result<collection::ReadConsistency> consistency = ConsistencyOf(request);
  if (!consistency.ok()) return consistency.status();
  Result<router::Query> query = kind == GroupsKind::kQuery       ? ParseQuery(*body, "")
                                : kind == GroupsKind::kRecommend ? ParseRecommend(*body, "")
                                                                 : ParseSearch(*body, "");
  if (!query.ok()) return query.status();
  query->consistency = *consistency;
  router::ReadCheck check;
  check.queries.push_back(&*query);
  if (Status strict = CheckStrict(**c, request, check); !strict.ok()) return strict;
  if (Status s = PrepareLookups(collections, authenticator, request, *query); !s.ok()) return s;
  std::string group_by;
  size_t group_size = 3;
  std::optional<GroupLookup> lookup;
  Status s = ParseGroupFields(*body, group_by, group_size, lookup);
  if (!s.ok()) return s;
  // with_lookup reads another collection: the caller must be allowed to read it.
  CollectionPtr lookup_collection;
  if (lookup) {
    if (authenticator != nullptr && authenticator->enabled()) {
      Status allowed = authenticator->Authorize(
          request.credentials, auth::Requirement{auth::Need::kRead, auth::Scope::kCollection},
          lookup->collection);
      if (!allowed.ok()) return allowed;
    }
    Result<CollectionPtr> from = collections.Get(lookup->collection);
    if (!from.ok()) return from.status();
    lookup_collection = *from;
  }
  const collection::ReadConsistency read = query->consistency;
  Result<router::Groups> groups = router::RunGroups(**c, std::move(*query), group_by, group_size);
  if (!groups.ok()) return groups.status();
  if (lookup_collection) {
    s = router::LookupGroups(*groups, *lookup_collection, lookup->projection, read);
    if (!s.ok()) return s;
  }
  const bool unnamed = (*c)->config().unnamed_vector;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("groups");
  w.StartArray();
  for (const router::Groups::Group& g : groups->groups) {
    w.StartObject();
    w.Key("id");
    switch (g.id.kind) {
      case router::GroupKey::Kind::kString:
        w.String(g.id.string_value.data(),
                 static_cast<rapidjson::SizeType>(g.id.string_value.size()));
        break;
      case router::GroupKey::Kind::kUnsigned:
        w.Uint64(g.id.unsigned_value);
        break;
      case router::GroupKey::Kind::kInteger:
        w.Int64(g.id.integer_value);
        break;
    }
    w.Key("hits");
    w.StartArray();
    for (size_t i : g.hits) WriteRecord(w, groups->records.points[i], true, unnamed);
    w.EndArray();
    if (g.lookup) {
      w.Key("lookup");
      WriteRecord(w, groups->lookups.points[*g.lookup], false,
                  lookup_collection->config().unnamed_vector);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return JsonResult(request, Take(buffer));
}

enum class SearchKind {
  kSearch,
  kSearchBatch,
  kQuery,
  kQueryBatch,
  kRecommend,
  kRecommendBatch,
  kDiscover,
  kDiscoverBatch
};

Result<router::Query> ParseOf(SearchKind kind, const Value& body, const std::string& path) {
  switch (kind) {
    case SearchKind::kQuery:
    case SearchKind::kQueryBatch:
      return ParseQuery(body, path);
    case SearchKind::kRecommend:
    case SearchKind::kRecommendBatch:
      return ParseRecommend(body, path);
    case SearchKind::kDiscover:
    case SearchKind::kDiscoverBatch:
      return ParseDiscover(body, path);
    default:
      return ParseSearch(body, path);
  }
}

Result<Response> Search(Collections& collections, server::WorkerPool& pool,
                        const auth::Authenticator* authenticator, const Request& request,
                        SearchKind kind) {
  Result<CollectionPtr> c = Find(collections, request);
  if (!c.ok()) return c.status();
  Result<rapidjson::Document> body = ParseJsonBody(request.body);
  if (!body.ok()) return body.status();
  const bool query = kind == SearchKind::kQuery || kind == SearchKind::kQueryBatch;
  const bool batch = kind == SearchKind::kSearchBatch || kind == SearchKind::kQueryBatch ||
                     kind == SearchKind::kRecommendBatch || kind == SearchKind::kDiscoverBatch;
  Result<collection::ReadConsistency> consistency = ConsistencyOf(request);
  if (!consistency.ok()) return consistency.status();
  std::vector<router::Query> searches;
  if (batch) {
    const Value* list = Member(*body, "searches");
    if (!list || !list->IsArray()) return Status::InvalidArgument("Format error in JSON body: missing field `searches`");
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      std::string path = "searches[" + std::to_string(i) + "].";
      Result<router::Query> s = ParseOf(kind, (*list)[i], path);
      if (!s.ok()) return s.status();
      searches.push_back(std::move(*s));
    }
  } else {
    Result<router::Query> s = ParseOf(kind, *body, "");
    if (!s.ok()) return s.status();
    searches.push_back(std::move(*s));
  }
  router::ReadCheck check;
  check.searches = searches.size();
  check.batch = batch;
  for (router::Query& q : searches) {
    q.consistency = *consistency;
    check.queries.push_back(&q);
  }
  if (Status strict = CheckStrict(**c, request, check); !strict.ok()) return strict;
  for (router::Query& q : searches) {
    if (Status s = PrepareLookups(collections, authenticator, request, q); !s.ok()) return s;
  }
  // A batch's searches run on this thread and on idle pool threads: one request can use every
  // core, and a core is not left idle while another client's next request is in flight.
  std::vector<std::optional<Result<segment::RecordBatch>>> results(searches.size());
  pool.ForEach(searches.size(),
               [&](size_t i) { results[i].emplace(router::Run(**c, std::move(searches[i]))); });
  bool unnamed = (*c)->config().unnamed_vector;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  if (batch) w.StartArray();
  for (const std::optional<Result<segment::RecordBatch>>& result : results) {
    if (!result->ok()) return result->status();
    if (query) {
      w.StartObject();
      w.Key("points");
    }
    WriteScored(w, **result, unnamed);
    if (query) w.EndObject();
  }
  if (batch) w.EndArray();
  return JsonResult(request, Take(buffer));
}

}  // namespace

void AddPointRoutes(Router& router, EngineContext context) {
  Collections* collections = context.collections;
  server::WorkerPool* pool = context.pool;
  const auth::Authenticator* authenticator = context.auth;
  auto add = [&](const char* method, const char* path, std::function<Result<Response>(const Request&)> fn) {
    router.Add(method, path, [context, fn](Request& request, Reply reply) {
      Async(context, request, std::move(reply), fn);
    });
  };
  auto add_update = [&](const char* method, const char* path, UpdateBody body) {
    router.Add(method, path, [context, body](Request& request, Reply reply) {
      AsyncDeferred(context, request, std::move(reply), [body](const Request& r, Answer answer) {
        AnswerUpdate(r, answer, body);
      });
    });
  };
  auto update = [&](const char* method, const char* path, OpKind kind) {
    add_update(method, path, [collections, kind](const Request& r, const Collection::OnDurable& d) {
      return RunUpdate(*collections, r, kind, d);
    });
  };
  const std::string base = "/collections/{collection_name}/points";
  update("PUT", (base).c_str(), OpKind::kUpsert);
  update("POST", (base + "/delete").c_str(), OpKind::kDeletePoints);
  update("PUT", (base + "/vectors").c_str(), OpKind::kUpdateVectors);
  update("POST", (base + "/vectors/delete").c_str(), OpKind::kDeleteVectors);
  update("POST", (base + "/payload").c_str(), OpKind::kSetPayload);
  update("PUT", (base + "/payload").c_str(), OpKind::kOverwritePayload);
  update("POST", (base + "/payload/delete").c_str(), OpKind::kDeletePayload);
  update("POST", (base + "/payload/clear").c_str(), OpKind::kClearPayload);
  router.Add("POST", (base + "/batch").c_str(),
             [context, collections](Request& request, Reply reply) {
               AsyncDeferred(context, request, std::move(reply),
                             [collections](const Request& r, Answer answer) {
                               AnswerBatch(*collections, r, answer);
                             });
             });
  add("POST", base.c_str(), [collections](const Request& r) { return GetPoints(*collections, r); });
  add("POST", (base + "/scroll").c_str(), [collections](const Request& r) { return Scroll(*collections, r); });
  add("POST", (base + "/count").c_str(), [collections](const Request& r) { return Count(*collections, r); });
  add("POST", (base + "/search").c_str(), [collections, pool, authenticator](const Request& r) {
    return Search(*collections, *pool, authenticator, r, SearchKind::kSearch);
  });
  add("POST", (base + "/search/batch").c_str(),
      [collections, pool, authenticator](const Request& r) {
        return Search(*collections, *pool, authenticator, r, SearchKind::kSearchBatch);
      });
  add("POST", (base + "/query").c_str(), [collections, pool, authenticator](const Request& r) {
    return Search(*collections, *pool, authenticator, r, SearchKind::kQuery);
  });
  add("POST", (base + "/query/batch").c_str(),
      [collections, pool, authenticator](const Request& r) {
        return Search(*collections, *pool, authenticator, r, SearchKind::kQueryBatch);
      });
  add("POST", "/collections/{collection_name}/facet",
      [collections](const Request& r) { return Facet(*collections, r); });
  add("POST", (base + "/search/matrix/pairs").c_str(),
      [collections](const Request& r) { return Matrix(*collections, r, true); });
  add("POST", (base + "/search/matrix/offsets").c_str(),
      [collections](const Request& r) { return Matrix(*collections, r, false); });
  add("POST", (base + "/search/groups").c_str(), [collections, authenticator](const Request& r) {
    return SearchGroups(*collections, authenticator, r, GroupsKind::kSearch);
  });
  add("POST", (base + "/query/groups").c_str(), [collections, authenticator](const Request& r) {
    return SearchGroups(*collections, authenticator, r, GroupsKind::kQuery);
  });
  add("POST", (base + "/recommend/groups").c_str(), [collections, authenticator](const Request& r) {
    return SearchGroups(*collections, authenticator, r, GroupsKind::kRecommend);
  });
  add("POST", (base + "/recommend").c_str(), [collections, pool, authenticator](const Request& r) {
    return Search(*collections, *pool, authenticator, r, SearchKind::kRecommend);
  });
  add("POST", (base + "/recommend/batch").c_str(),
      [collections, pool, authenticator](const Request& r) {
        return Search(*collections, *pool, authenticator, r, SearchKind::kRecommendBatch);
      });
  add("POST", (base + "/discover").c_str(), [collections, pool, authenticator](const Request& r) {
    return Search(*collections, *pool, authenticator, r, SearchKind::kDiscover);
  });
  add("POST", (base + "/discover/batch").c_str(),
      [collections, pool, authenticator](const Request& r) {
        return Search(*collections, *pool, authenticator, r, SearchKind::kDiscoverBatch);
      });
  add_update("PUT", "/collections/{collection_name}/index",
             [collections](const Request& r, const Collection::OnDurable& d) { return CreateFieldIndex(*collections, r, d); });
  add_update("DELETE", "/collections/{collection_name}/index/{field_name}",
             [collections](const Request& r, const Collection::OnDurable& d) { return DeleteFieldIndex(*collections, r, d); });
  add("GET", (base + "/{id}").c_str(), [collections](const Request& r) { return GetPoint(*collections, r); });
}

}  // namespace qd::api::rest
