#include "qdrantd/api/grpc/grpc_codec.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <memory>
#include <type_traits>

#include "qdrantd/index/filter.h"
#include "qdrantd/index/json_path.h"

namespace qd::api::grpc {

using rapidjson::Value;

::grpc::Status ToGrpcStatus(const Status& status) {
  ::grpc::StatusCode code = ::grpc::StatusCode::INTERNAL;
  switch (status.code()) {
    case StatusCode::kOk:
      return ::grpc::Status::OK;
    case StatusCode::kInvalidArgument:
    case StatusCode::kUnprocessable:
      code = ::grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case StatusCode::kNotFound:
      code = ::grpc::StatusCode::NOT_FOUND;
      break;
    case StatusCode::kAlreadyExists:
      code = ::grpc::StatusCode::ALREADY_EXISTS;
      break;
    case StatusCode::kPermissionDenied:
      code = ::grpc::StatusCode::PERMISSION_DENIED;
      break;
    case StatusCode::kMethodNotAllowed:
    case StatusCode::kFailedPrecondition:
      code = ::grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case StatusCode::kPayloadTooLarge:
    case StatusCode::kResourceExhausted:
      code = ::grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    case StatusCode::kUnavailable:
      code = ::grpc::StatusCode::UNAVAILABLE;
      break;
    case StatusCode::kDeadlineExceeded:
      code = ::grpc::StatusCode::DEADLINE_EXCEEDED;
      break;
    case StatusCode::kInternal:
      code = ::grpc::StatusCode::INTERNAL;
      break;
    case StatusCode::kUnimplemented:
      code = ::grpc::StatusCode::UNIMPLEMENTED;
      break;
    case StatusCode::kUnauthenticated:
      code = ::grpc::StatusCode::UNAUTHENTICATED;
      break;
  }
  return ::grpc::Status(code, status.message());
}

// ---- ids ----

Result<segment::PointId> FromProto(const qdrant::PointId& id) {
  switch (id.point_id_options_case()) {
    case qdrant::PointId::kNum:
      return segment::PointId::Num(id.num());
    case qdrant::PointId::kUuid:
      return segment::PointId::ParseUuid(id.uuid());
    case qdrant::PointId::POINT_ID_OPTIONS_NOT_SET:
      break;
  }
  return Status::InvalidArgument("Unable to parse point id: it is neither `num` nor `uuid`");
}

void ToProto(const segment::PointId& id, qdrant::PointId* out) {
  if (id.is_uuid) {
    out->set_uuid(id.ToString());
  } else {
    out->set_num(id.num);
  }
}

Result<std::vector<segment::PointId>> FromProto(
    const google::protobuf::RepeatedPtrField<qdrant::PointId>& ids) {
  std::vector<segment::PointId> out;
  out.reserve(static_cast<size_t>(ids.size()));
  for (const qdrant::PointId& id : ids) {
    Result<segment::PointId> parsed = FromProto(id);
    if (!parsed.ok()) return parsed.status();
    out.push_back(*parsed);
  }
  return out;
}

// ---- payload values ----

void ValueToJson(const qdrant::Value& value, Value& out, Allocator& alloc) {
  switch (value.kind_case()) {
    case qdrant::Value::kDoubleValue:
      if (std::isfinite(value.double_value())) {
        out.SetDouble(value.double_value());
      } else {
        out.SetNull();  // JSON has no NaN or infinity
      }
      return;
    case qdrant::Value::kIntegerValue:
      out.SetInt64(value.integer_value());
      return;
    case qdrant::Value::kStringValue:
      out.SetString(value.string_value().data(),
                    static_cast<rapidjson::SizeType>(value.string_value().size()), alloc);
      return;
    case qdrant::Value::kBoolValue:
      out.SetBool(value.bool_value());
      return;
    case qdrant::Value::kStructValue:
      PayloadToJson(value.struct_value().fields(), out, alloc);
      return;
    case qdrant::Value::kListValue:
      out.SetArray();
      out.Reserve(static_cast<rapidjson::SizeType>(value.list_value().values_size()), alloc);
      for (const qdrant::Value& v : value.list_value().values()) {
        Value item;
        ValueToJson(v, item, alloc);
        out.PushBack(item, alloc);
      }
      return;
    case qdrant::Value::kNullValue:
    case qdrant::Value::KIND_NOT_SET:
      out.SetNull();
      return;
  }
}

void PayloadToJson(const ProtoPayload& payload, Value& out, Allocator& alloc) {
  out.SetObject();
  for (const auto& [key, v] : payload) {
    Value item;
    ValueToJson(v, item, alloc);
    out.AddMember(Value(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc), item,
                  alloc);
  }
}

std::string PayloadToJsonText(const ProtoPayload& payload) {
  rapidjson::Document doc;
  PayloadToJson(payload, doc, doc.GetAllocator());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

void JsonToValue(const Value& json, qdrant::Value* out) {
  switch (json.GetType()) {
    case rapidjson::kNullType:
      out->set_null_value(qdrant::NULL_VALUE);
      return;
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      out->set_bool_value(json.GetBool());
      return;
    case rapidjson::kNumberType:
      // Qdrant keeps integers that fit i64 as integers; everything else is a double.
      if (json.IsInt64()) {
        out->set_integer_value(json.GetInt64());
      } else {
        out->set_double_value(json.GetDouble());
      }
      return;
    case rapidjson::kStringType:
      out->set_string_value(std::string(json.GetString(), json.GetStringLength()));
      return;
    case rapidjson::kArrayType: {
      qdrant::ListValue* list = out->mutable_list_value();
      list->mutable_values()->Reserve(static_cast<int>(json.Size()));
      for (const Value& v : json.GetArray()) JsonToValue(v, list->add_values());
      return;
    }
    case rapidjson::kObjectType:
      JsonToPayload(json, out->mutable_struct_value()->mutable_fields());
      return;
  }
}

void JsonToPayload(const Value& object, ProtoPayload* out) {
  if (!object.IsObject()) return;
  for (auto m = object.MemberBegin(); m != object.MemberEnd(); ++m) {
    JsonToValue(m->value, &(*out)[std::string(m->name.GetString(), m->name.GetStringLength())]);
  }
}

// ---- vectors ----

namespace {

Status EmptyVector(const std::string& path) {
  return Status::InvalidArgument("Validation error in JSON body: [" + path +
                                 ": Vector must not be empty]");
}

Result<segment::Vector> Sparse(const google::protobuf::RepeatedField<uint32_t>& indices,
                               const google::protobuf::RepeatedField<float>& values,
                               const std::string& path) {
  segment::Vector v;
  v.sparse = true;
  v.indices.assign(indices.begin(), indices.end());
  v.values.assign(values.begin(), values.end());
  if (v.indices.size() != v.values.size()) {
    return Status::Unprocessable("Validation error in JSON body: [" + path +
                                 ": indices and values must be the same length]");
  }
  return v;
}

}  // namespace

Result<segment::Vector> FromProto(const qdrant::Vector& vector, const std::string& path) {
  segment::Vector v;
  switch (vector.vector_case()) {
    case qdrant::Vector::kDense:
      if (vector.dense().data().empty()) return EmptyVector(path);
      v.dense.assign(vector.dense().data().begin(), vector.dense().data().end());
      return v;
    case qdrant::Vector::kSparse:
      return Sparse(vector.sparse().indices(), vector.sparse().values(), path);
    case qdrant::Vector::kMultiDense:
      return Status::InvalidArgument("Wrong input: multivectors are not supported (" + path + ")");
    case qdrant::Vector::kDocument:
    case qdrant::Vector::kImage:
    case qdrant::Vector::kObject:
      return Status::InvalidArgument(
          "Wrong input: inference (document, image, object) is not "
          "supported by this server (" +
          path + ")");
    case qdrant::Vector::VECTOR_NOT_SET:
      break;
  }
    // The deprecated form: `data`, plus `indices` for a sparse vector.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (vector.has_indices()) return Sparse(vector.indices().data(), vector.data(), path);
  if (vector.has_vectors_count() && vector.vectors_count() > 1) {
    return Status::InvalidArgument("Wrong input: multivectors are not supported (" + path + ")");
  }
  if (vector.data().empty()) return EmptyVector(path);
  v.dense.assign(vector.data().begin(), vector.data().end());
#pragma GCC diagnostic pop
  return v;
}

Result<segment::NamedVectors> FromProto(const qdrant::Vectors& vectors, const std::string& path) {
  segment::NamedVectors out;
  switch (vectors.vectors_options_case()) {
    case qdrant::Vectors::kVector: {
      Result<segment::Vector> v = FromProto(vectors.vector(), path);
      if (!v.ok()) return v.status();
      out.emplace_back("", std::move(*v));
      return out;
    }
    case qdrant::Vectors::kVectors:
      for (const auto& [name, vector] : vectors.vectors().vectors()) {
        Result<segment::Vector> v = FromProto(vector, path + "." + name);
        if (!v.ok()) return v.status();
        out.emplace_back(name, std::move(*v));
      }
      // protobuf maps have no order; the engine's checks and errors should not depend on it.
      std::sort(out.begin(), out.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      return out;
    case qdrant::Vectors::VECTORS_OPTIONS_NOT_SET:
      break;
  }
  return out;  // a point without vectors: the engine says what is missing
}

namespace {
void VectorToProto(const segment::Vector& v, qdrant::VectorOutput* out) {
  if (v.sparse) {
    qdrant::SparseVector* s = out->mutable_sparse();
    s->mutable_indices()->Add(v.indices.begin(), v.indices.end());
    s->mutable_values()->Add(v.values.begin(), v.values.end());
  } else {
    out->mutable_dense()->mutable_data()->Add(v.dense.begin(), v.dense.end());
  }
}
}  // namespace

void ToProto(const segment::NamedVectors& vectors, bool unnamed, qdrant::VectorsOutput* out) {
  if (unnamed && vectors.size() == 1 && vectors[0].first.empty()) {
    VectorToProto(vectors[0].second, out->mutable_vector());
    return;
  }
  auto* map = out->mutable_vectors()->mutable_vectors();
  for (const auto& [name, v] : vectors) VectorToProto(v, &(*map)[name]);
}

// ---- filters ----

namespace {

Value Str(const std::string& s, Allocator& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

void GeoToJson(const qdrant::GeoPoint& p, Value& out, Allocator& a) {
  out.SetObject();
  out.AddMember("lon", p.lon(), a).AddMember("lat", p.lat(), a);
}

void RingToJson(const qdrant::GeoLineString& ring, Value& out, Allocator& a) {
  Value points(rapidjson::kArrayType);
  for (const qdrant::GeoPoint& p : ring.points()) {
    Value g;
    GeoToJson(p, g, a);
    points.PushBack(g, a);
  }
  out.SetObject();
  out.AddMember("points", points, a);
}

std::string Rfc3339(const google::protobuf::Timestamp& t) {
  std::time_t seconds = static_cast<std::time_t>(t.seconds());
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t.nanos() / 1000);
  return buf;
}

void MatchToJson(const qdrant::Match& match, Value& out, Allocator& a) {
  out.SetObject();
  auto list = [&](const char* name, auto&& values) {
    Value array(rapidjson::kArrayType);
    for (const auto& v : values) {
      if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) {
        array.PushBack(Str(v, a), a);
      } else {
        array.PushBack(Value(static_cast<int64_t>(v)), a);
      }
    }
    out.AddMember(Value(name, a), array, a);
  };
  switch (match.match_value_case()) {
    case qdrant::Match::kKeyword:
      out.AddMember("value", Str(match.keyword(), a), a);
      break;
    case qdrant::Match::kInteger:
      out.AddMember("value", Value(static_cast<int64_t>(match.integer())), a);
      break;
    case qdrant::Match::kBoolean:
      out.AddMember("value", Value(match.boolean()), a);
      break;
    case qdrant::Match::kText:
      out.AddMember("text", Str(match.text(), a), a);
      break;
    case qdrant::Match::kKeywords:
      list("any", match.keywords().strings());
      break;
    case qdrant::Match::kIntegers:
      list("any", match.integers().integers());
      break;
    case qdrant::Match::kExceptIntegers:
      list("except", match.except_integers().integers());
      break;
    case qdrant::Match::kExceptKeywords:
      list("except", match.except_keywords().strings());
      break;
    case qdrant::Match::kPhrase:
      out.AddMember("phrase", Str(match.phrase(), a), a);
      break;
    case qdrant::Match::kTextAny:
      out.AddMember("text_any", Str(match.text_any(), a), a);
      break;
    case qdrant::Match::kPrefix:
      out.AddMember("prefix", Str(match.prefix(), a), a);
      break;
    case qdrant::Match::MATCH_VALUE_NOT_SET:
      break;
  }
}

template <typename Bounds, typename Convert>
void BoundsToJson(const Bounds& r, Value& out, Allocator& a, Convert convert) {
  out.SetObject();
  if (r.has_lt()) out.AddMember("lt", convert(r.lt()), a);
  if (r.has_gt()) out.AddMember("gt", convert(r.gt()), a);
  if (r.has_gte()) out.AddMember("gte", convert(r.gte()), a);
  if (r.has_lte()) out.AddMember("lte", convert(r.lte()), a);
}

void FieldToJson(const qdrant::FieldCondition& f, Value& out, Allocator& a) {
  out.SetObject();
  out.AddMember("key", Str(f.key(), a), a);
  if (f.has_match()) {
    Value m;
    MatchToJson(f.match(), m, a);
    out.AddMember("match", m, a);
  }
  if (f.has_range()) {
    Value r;
    BoundsToJson(f.range(), r, a, [](double x) { return Value(x); });
    out.AddMember("range", r, a);
  }
  if (f.has_datetime_range()) {
    Value r;
    BoundsToJson(f.datetime_range(), r, a,
                 [&](const google::protobuf::Timestamp& t) { return Str(Rfc3339(t), a); });
    out.AddMember("range", r, a);
  }
  if (f.has_values_count()) {
    Value r;
    BoundsToJson(f.values_count(), r, a, [](uint64_t x) { return Value(x); });
    out.AddMember("values_count", r, a);
  }
  if (f.has_geo_radius()) {
    Value g(rapidjson::kObjectType), center;
    GeoToJson(f.geo_radius().center(), center, a);
    g.AddMember("center", center, a).AddMember("radius", f.geo_radius().radius(), a);
    out.AddMember("geo_radius", g, a);
  }
  if (f.has_geo_bounding_box()) {
    Value g(rapidjson::kObjectType), tl, br;
    GeoToJson(f.geo_bounding_box().top_left(), tl, a);
    GeoToJson(f.geo_bounding_box().bottom_right(), br, a);
    g.AddMember("top_left", tl, a).AddMember("bottom_right", br, a);
    out.AddMember("geo_bounding_box", g, a);
  }
  if (f.has_geo_polygon()) {
    Value g(rapidjson::kObjectType), exterior, interiors(rapidjson::kArrayType);
    RingToJson(f.geo_polygon().exterior(), exterior, a);
    for (const qdrant::GeoLineString& ring : f.geo_polygon().interiors()) {
      Value r;
      RingToJson(ring, r, a);
      interiors.PushBack(r, a);
    }
    g.AddMember("exterior", exterior, a).AddMember("interiors", interiors, a);
    out.AddMember("geo_polygon", g, a);
  }
  if (f.has_is_empty()) out.AddMember("is_empty", f.is_empty(), a);
  if (f.has_is_null()) out.AddMember("is_null", f.is_null(), a);
}

void ConditionToJson(const qdrant::Condition& c, Value& out, Allocator& a) {
  out.SetObject();
  auto keyed = [&](const char* name, const std::string& key) {
    Value inner(rapidjson::kObjectType);
    inner.AddMember("key", Str(key, a), a);
    out.AddMember(Value(name, a), inner, a);
  };
  switch (c.condition_one_of_case()) {
    case qdrant::Condition::kField:
      FieldToJson(c.field(), out, a);
      return;
    case qdrant::Condition::kIsEmpty:
      keyed("is_empty", c.is_empty().key());
      return;
    case qdrant::Condition::kIsNull:
      keyed("is_null", c.is_null().key());
      return;
    case qdrant::Condition::kHasId: {
      Value ids(rapidjson::kArrayType);
      for (const qdrant::PointId& id : c.has_id().has_id()) {
        if (id.has_uuid()) {
          ids.PushBack(Str(id.uuid(), a), a);
        } else {
          ids.PushBack(Value(static_cast<uint64_t>(id.num())), a);
        }
      }
      out.AddMember("has_id", ids, a);
      return;
    }
    case qdrant::Condition::kFilter:
      FilterToJson(c.filter(), out, a);
      return;
    case qdrant::Condition::kNested: {
      Value nested(rapidjson::kObjectType), filter;
      FilterToJson(c.nested().filter(), filter, a);
      nested.AddMember("key", Str(c.nested().key(), a), a).AddMember("filter", filter, a);
      out.AddMember("nested", nested, a);
      return;
    }
    case qdrant::Condition::kHasVector:
      out.AddMember("has_vector", Str(c.has_vector().has_vector(), a), a);
      return;
    case qdrant::Condition::kSlice: {
      Value slice(rapidjson::kObjectType);
      slice.AddMember("total", c.slice().total(), a).AddMember("index", c.slice().index(), a);
      out.AddMember("slice", slice, a);
      return;
    }
    case qdrant::Condition::CONDITION_ONE_OF_NOT_SET:
      return;  // an empty filter: matches every point, as Qdrant's empty condition
  }
}

void ConditionsToJson(const google::protobuf::RepeatedPtrField<qdrant::Condition>& conditions,
                      Value& out, Allocator& a) {
  out.SetArray();
  for (const qdrant::Condition& c : conditions) {
    Value v;
    ConditionToJson(c, v, a);
    out.PushBack(v, a);
  }
}

}  // namespace

void FilterToJson(const qdrant::Filter& filter, Value& out, Allocator& a) {
  out.SetObject();
  struct Clause {
    const char* name;
    const google::protobuf::RepeatedPtrField<qdrant::Condition>& conditions;
  };
  for (const Clause& clause : {Clause{"must", filter.must()}, Clause{"should", filter.should()},
                               Clause{"must_not", filter.must_not()}}) {
    if (clause.conditions.empty()) continue;
    Value list;
    ConditionsToJson(clause.conditions, list, a);
    out.AddMember(Value(clause.name, a), list, a);
  }
  if (filter.has_min_should()) {
    Value min(rapidjson::kObjectType), list;
    ConditionsToJson(filter.min_should().conditions(), list, a);
    min.AddMember("conditions", list, a);
    min.AddMember("min_count", static_cast<uint64_t>(filter.min_should().min_count()), a);
    out.AddMember("min_should", min, a);
  }
}

Result<segment::PointFilter> ParseFilter(const qdrant::Filter& filter, const std::string& path) {
  rapidjson::Document doc;
  FilterToJson(filter, doc, doc.GetAllocator());
  return segment::PointFilter::Parse(doc, path);
}

// ---- selectors ----

Result<segment::PayloadProjector> ParseWithPayload(const qdrant::WithPayloadSelector* selector,
                                                   bool absent_default) {
  rapidjson::Document doc;
  Allocator& a = doc.GetAllocator();
  const Value* json = nullptr;
  if (selector) {
    auto fields = [&](const google::protobuf::RepeatedPtrField<std::string>& names) {
      Value list(rapidjson::kArrayType);
      for (const std::string& n : names) list.PushBack(Str(n, a), a);
      return list;
    };
    switch (selector->selector_options_case()) {
      case qdrant::WithPayloadSelector::kEnable:
        doc.SetBool(selector->enable());
        json = &doc;
        break;
      case qdrant::WithPayloadSelector::kInclude:
        doc.SetObject();
        doc.AddMember("include", fields(selector->include().fields()), a);
        json = &doc;
        break;
      case qdrant::WithPayloadSelector::kExclude:
        doc.SetObject();
        doc.AddMember("exclude", fields(selector->exclude().fields()), a);
        json = &doc;
        break;
      case qdrant::WithPayloadSelector::SELECTOR_OPTIONS_NOT_SET:
        break;
    }
  }
  Result<index::PayloadSelector> parsed =
      index::ParsePayloadSelector(json, "with_payload", absent_default);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->WantsPayload()) return segment::PayloadProjector();
  if (parsed->mode() == index::PayloadSelector::Mode::kAll) {
    return segment::PayloadProjector(
        [](const Value& in, Value& out, Allocator& alloc) { out.CopyFrom(in, alloc); });
  }
  auto shared = std::make_shared<index::PayloadSelector>(std::move(*parsed));
  return segment::PayloadProjector(
      [shared](const Value& in, Value& out, Allocator& alloc) { shared->Apply(in, out, alloc); });
}

void ParseWithVectors(const qdrant::WithVectorsSelector* selector,
                      segment::Projection& projection) {
  if (!selector) return;
  switch (selector->selector_options_case()) {
    case qdrant::WithVectorsSelector::kEnable:
      projection.all_vectors = selector->enable();
      return;
    case qdrant::WithVectorsSelector::kInclude:
      projection.vector_names.assign(selector->include().names().begin(),
                                     selector->include().names().end());
      return;
    case qdrant::WithVectorsSelector::SELECTOR_OPTIONS_NOT_SET:
      return;
  }
}

// ---- records ----

namespace {
template <typename Point>
void FillPoint(segment::PointRecord& record, bool unnamed, Point* out) {
  ToProto(record.id, out->mutable_id());
  if (record.has_payload) JsonToPayload(record.payload, out->mutable_payload());
  if (record.has_vectors) ToProto(record.vectors, unnamed, out->mutable_vectors());
  if (record.order_value) {
    if (record.order_value->is_int) {
      out->mutable_order_value()->set_int_(record.order_value->integer);
    } else {
      out->mutable_order_value()->set_float_(record.order_value->real);
    }
  }
}
}  // namespace

Result<segment::OrderBy> FromProto(const qdrant::OrderBy& order_by, const std::string& path) {
  segment::OrderBy out;
  out.key = order_by.key();
  Result<index::JsonPath> key = index::ParseJsonPath(out.key);
  if (!key.ok()) return key.status();
  out.path = std::move(*key);
  if (order_by.has_direction()) {
    switch (order_by.direction()) {
      case qdrant::Asc:
        break;
      case qdrant::Desc:
        out.descending = true;
        break;
      default:
        return Status::InvalidArgument("Format error in JSON body: " + path +
                                       ".direction: unknown variant, expected `asc` or `desc`");
    }
  }
  if (order_by.has_start_from()) {
    const qdrant::StartFrom& start = order_by.start_from();
    switch (start.value_case()) {
      case qdrant::StartFrom::kFloat:
        out.start_from = index::OrderValue::Float(start.float_());
        break;
      case qdrant::StartFrom::kInteger:
        out.start_from = index::OrderValue::Int(start.integer());
        break;
      case qdrant::StartFrom::kTimestamp:
        out.start_from = index::OrderValue::Int(start.timestamp().seconds() * 1000000 +
                                                start.timestamp().nanos() / 1000);
        break;
      case qdrant::StartFrom::kDatetime: {
        std::optional<int64_t> micros = index::ParseDateTime(start.datetime());
        if (!micros) {
          return Status::InvalidArgument("Format error in JSON body: " + path +
                                         ".start_from: expected a number or an RFC 3339 "
                                         "datetime, got \"" +
                                         start.datetime() + "\"");
        }
        out.start_from = index::OrderValue::Int(*micros);
        break;
      }
      case qdrant::StartFrom::VALUE_NOT_SET:
        break;
    }
  }
  return out;
}

void ToProto(segment::PointRecord& record, bool unnamed, qdrant::RetrievedPoint* out) {
  FillPoint(record, unnamed, out);
}

void ToProto(segment::PointRecord& record, bool unnamed, qdrant::ScoredPoint* out) {
  FillPoint(record, unnamed, out);
  out->set_score(record.score);
  out->set_version(record.version);
}

}  // namespace qd::api::grpc
