#include "qdrantd/api/rest/point_codec.h"

#include <charconv>
#include <cmath>
#include <memory>

#include "qdrantd/index/filter.h"
#include "qdrantd/index/json_path.h"

namespace qd::api::rest {

using rapidjson::Value;
using segment::NamedVectors;
using segment::PointId;
using segment::Vector;

namespace {

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

Result<std::vector<float>> ParseDense(const Value& v, const std::string& path) {
  std::vector<float> out;
  out.reserve(v.Size());
  for (const Value& x : v.GetArray()) {
    if (!x.IsNumber()) return TypeError(path, "an array of numbers");
    out.push_back(static_cast<float>(x.GetDouble()));
  }
  if (out.empty()) {
    return Status::InvalidArgument("Validation error in JSON body: [" + path +
                                   ": Vector must not be empty]");
  }
  return out;
}

}  // namespace

const Value* Member(const Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

Result<std::optional<uint64_t>> OptionalUint(const Value& object, const char* name,
                                             const std::string& path) {
  const Value* v = Member(object, name);
  if (!v) return std::optional<uint64_t>();
  if (v->IsInt64() && v->GetInt64() < 0) {
    return Status::InvalidArgument("Format error in JSON body: " + path + ": invalid value: integer `" +
                                   std::to_string(v->GetInt64()) + "`, expected usize");
  }
  if (!v->IsUint64()) return TypeError(path, "an unsigned integer");
  return std::optional<uint64_t>(v->GetUint64());
}

Result<PointId> ParsePointId(const Value& value, const std::string& path) {
  return PointId::FromJson(value, path);
}

Result<std::vector<PointId>> ParsePointIds(const Value& value, const std::string& path) {
  if (!value.IsArray()) return TypeError(path, "an array of point ids");
  std::vector<PointId> ids;
  ids.reserve(value.Size());
  for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
    Result<PointId> id = ParsePointId(value[i], path + "[" + std::to_string(i) + "]");
    if (!id.ok()) return id.status();
    ids.push_back(*id);
  }
  return ids;
}

Result<Vector> ParseOneVector(const Value& value, const std::string& path) {
  Vector v;
  if (value.IsArray()) {
    if (value.Size() > 0 && value[0].IsArray()) {
      return Status::InvalidArgument("Wrong input: multivectors are not supported (" + path + ")");
    }
    Result<std::vector<float>> dense = ParseDense(value, path);
    if (!dense.ok()) return dense.status();
    v.dense = std::move(*dense);
    return v;
  }
  if (value.IsObject() && value.HasMember("indices") && value.HasMember("values")) {
    const Value& indices = value["indices"];
    const Value& values = value["values"];
    if (!indices.IsArray()) return TypeError(path + ".indices", "an array of unsigned integers");
    if (!values.IsArray()) return TypeError(path + ".values", "an array of numbers");
    v.sparse = true;
    for (const Value& i : indices.GetArray()) {
      if (!i.IsUint()) return TypeError(path + ".indices", "an array of unsigned 32-bit integers");
      v.indices.push_back(i.GetUint());
    }
    for (const Value& x : values.GetArray()) {
      if (!x.IsNumber()) return TypeError(path + ".values", "an array of numbers");
      v.values.push_back(static_cast<float>(x.GetDouble()));
    }
    if (v.indices.size() != v.values.size()) {
      return Status::Unprocessable("Validation error in JSON body: [" + path +
                                   ": indices and values must be the same length]");
    }
    return v;
  }
  return TypeError(path, "a vector (array of numbers) or a sparse vector {indices, values}");
}

Result<NamedVectors> ParseVectors(const Value& value, const std::string& path) {
  NamedVectors out;
  if (value.IsArray()) {
    Result<Vector> v = ParseOneVector(value, path);
    if (!v.ok()) return v.status();
    out.emplace_back("", std::move(*v));
    return out;
  }
  if (!value.IsObject()) return TypeError(path, "a vector or a map of named vectors");
  for (auto m = value.MemberBegin(); m != value.MemberEnd(); ++m) {
    std::string name(m->name.GetString(), m->name.GetStringLength());
    Result<Vector> v = ParseOneVector(m->value, path + "." + name);
    if (!v.ok()) return v.status();
    out.emplace_back(std::move(name), std::move(*v));
  }
  return out;
}

Result<std::vector<segment::PointStruct>> ParsePointsInsert(const Value& body) {
  std::vector<segment::PointStruct> points;
  if (const Value* list = Member(body, "points")) {
    if (!list->IsArray()) return TypeError("points", "an array of points");
    points.reserve(list->Size());
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      const Value& p = (*list)[i];
      std::string path = "points[" + std::to_string(i) + "]";
      if (!p.IsObject()) return TypeError(path, "a point");
      segment::PointStruct point;
      const Value* id = Member(p, "id");
      if (!id) return Status::InvalidArgument("Format error in JSON body: " + path + ": missing field `id`");
      Result<PointId> parsed_id = ParsePointId(*id, path + ".id");
      if (!parsed_id.ok()) return parsed_id.status();
      point.id = *parsed_id;
      const Value* vector = Member(p, "vector");
      if (!vector) vector = Member(p, "vectors");
      if (!vector) return Status::InvalidArgument("Format error in JSON body: " + path + ": missing field `vector`");
      Result<NamedVectors> vectors = ParseVectors(*vector, path + ".vector");
      if (!vectors.ok()) return vectors.status();
      point.vectors = std::move(*vectors);
      if (const Value* payload = Member(p, "payload")) {
        if (!payload->IsObject()) return TypeError(path + ".payload", "an object");
        point.payload_json = ToText(*payload);
      }
      points.push_back(std::move(point));
    }
    return points;
  }
  if (const Value* batch = Member(body, "batch")) {
    if (!batch->IsObject()) return TypeError("batch", "an object");
    const Value* ids = Member(*batch, "ids");
    if (!ids) return Status::InvalidArgument("Format error in JSON body: batch: missing field `ids`");
    Result<std::vector<PointId>> parsed = ParsePointIds(*ids, "batch.ids");
    if (!parsed.ok()) return parsed.status();
    points.resize(parsed->size());
    for (size_t i = 0; i < points.size(); ++i) points[i].id = (*parsed)[i];
    const Value* vectors = Member(*batch, "vectors");
    if (!vectors) return Status::InvalidArgument("Format error in JSON body: batch: missing field `vectors`");
    auto fill = [&](const std::string& name, const Value& list, const std::string& path) -> Status {
      if (!list.IsArray()) return TypeError(path, "an array of vectors");
      if (list.Size() != points.size()) {
        return Status::InvalidArgument("Wrong input: " + path + " has " + std::to_string(list.Size()) +
                                       " vectors for " + std::to_string(points.size()) + " ids");
      }
      for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
        Result<Vector> v = ParseOneVector(list[i], path + "[" + std::to_string(i) + "]");
        if (!v.ok()) return v.status();
        points[i].vectors.emplace_back(name, std::move(*v));
      }
      return Status::Ok();
    };
    if (vectors->IsArray()) {
      Status s = fill("", *vectors, "batch.vectors");
      if (!s.ok()) return s;
    } else if (vectors->IsObject()) {
      for (auto m = vectors->MemberBegin(); m != vectors->MemberEnd(); ++m) {
        std::string name(m->name.GetString(), m->name.GetStringLength());
        Status s = fill(name, m->value, "batch.vectors." + name);
        if (!s.ok()) return s;
      }
    } else {
      return TypeError("batch.vectors", "an array or a map of arrays");
    }
    if (const Value* payloads = Member(*batch, "payloads")) {
      if (!payloads->IsArray() || payloads->Size() != points.size()) {
        return Status::InvalidArgument("Wrong input: batch.payloads must have one entry per id");
      }
      for (rapidjson::SizeType i = 0; i < payloads->Size(); ++i) {
        const Value& p = (*payloads)[i];
        if (p.IsNull()) continue;
        if (!p.IsObject()) return TypeError("batch.payloads[" + std::to_string(i) + "]", "an object");
        points[i].payload_json = ToText(p);
      }
    }
    return points;
  }
  return Status::InvalidArgument(
      "Format error in JSON body: data did not match any variant of untagged enum "
      "PointInsertOperations (expected `points` or `batch`)");
}

Result<segment::PointFilter> ParseFilterField(const Value& object, const char* name,
                                              const std::string& path) {
  const Value* v = Member(object, name);
  if (!v) return segment::PointFilter();
  return segment::PointFilter::Parse(*v, path);
}

Result<segment::OrderBy> ParseOrderBy(const Value& value, const std::string& path) {
  auto format_error = [&](const std::string& where, const std::string& message) {
    return Status::InvalidArgument("Format error in JSON body: " + where + ": " + message);
  };
  segment::OrderBy out;
  const Value* key = &value;
  if (value.IsObject()) {
    key = Member(value, "key");
    if (key == nullptr) return format_error(path, "missing field `key`");
    if (const Value* direction = Member(value, "direction")) {
      const std::string d = direction->IsString() ? direction->GetString() : "";
      if (d != "asc" && d != "desc") {
        return format_error(path + ".direction", "unknown variant, expected `asc` or `desc`");
      }
      out.descending = d == "desc";
    }
    if (const Value* start = Member(value, "start_from")) {
      if (start->IsInt64()) {
        out.start_from = index::OrderValue::Int(start->GetInt64());
      } else if (start->IsNumber()) {
        out.start_from = index::OrderValue::Float(start->GetDouble());
      } else if (start->IsString()) {
        std::optional<int64_t> micros =
            index::ParseDateTime(std::string_view(start->GetString(), start->GetStringLength()));
        if (!micros) {
          return format_error(path + ".start_from",
                              "expected a number or an RFC 3339 datetime, got \"" +
                                  std::string(start->GetString()) + "\"");
        }
        out.start_from = index::OrderValue::Int(*micros);
      } else {
        return format_error(path + ".start_from", "expected a number or an RFC 3339 datetime");
      }
    }
  }
  if (!key->IsString()) {
    return format_error(value.IsObject() ? path + ".key" : path,
                        value.IsObject() ? "expected a string" : "expected a key or an object");
  }
  out.key.assign(key->GetString(), key->GetStringLength());
  Result<index::JsonPath> parsed = index::ParseJsonPath(out.key);
  if (!parsed.ok()) return parsed.status();
  out.path = std::move(*parsed);
  return out;
}

Result<segment::PayloadProjector> ParseWithPayload(const Value& object, bool absent_default) {
  const Value* v = object.IsObject() && object.HasMember("with_payload") ? &object["with_payload"] : nullptr;
  Result<index::PayloadSelector> selector = index::ParsePayloadSelector(v, "with_payload", absent_default);
  if (!selector.ok()) return selector.status();
  if (!selector->WantsPayload()) return segment::PayloadProjector();
  if (selector->mode() == index::PayloadSelector::Mode::kAll) {
    return segment::PayloadProjector(
        [](const Value& in, Value& out, rapidjson::Document::AllocatorType& a) { out.CopyFrom(in, a); });
  }
  auto shared = std::make_shared<index::PayloadSelector>(std::move(*selector));
  return segment::PayloadProjector(
      [shared](const Value& in, Value& out, rapidjson::Document::AllocatorType& a) {
        shared->Apply(in, out, a);
      });
}

Status ParseWithVector(const Value& object, segment::Projection& projection) {
  const Value* v = Member(object, "with_vector");
  if (!v) v = Member(object, "with_vectors");
  if (!v) return Status::Ok();
  if (v->IsBool()) {
    projection.all_vectors = v->GetBool();
    return Status::Ok();
  }
  if (v->IsArray()) {
    for (const Value& n : v->GetArray()) {
      if (!n.IsString()) return TypeError("with_vector", "a boolean or a list of vector names");
      projection.vector_names.emplace_back(n.GetString(), n.GetStringLength());
    }
    return Status::Ok();
  }
  return TypeError("with_vector", "a boolean or a list of vector names");
}

void WriteFloat(JsonWriter& w, float value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc() || !std::isfinite(value)) {
    w.Null();
    return;
  }
  w.RawValue(buf, static_cast<size_t>(end - buf), rapidjson::kNumberType);
}

void WritePointId(JsonWriter& w, const PointId& id) {
  if (id.is_uuid) {
    std::string s = id.ToString();
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  } else {
    w.Uint64(id.num);
  }
}

namespace {
void WriteVector(JsonWriter& w, const Vector& v) {
  if (v.sparse) {
    w.StartObject();
    w.Key("indices");
    w.StartArray();
    for (uint32_t i : v.indices) w.Uint(i);
    w.EndArray();
    w.Key("values");
    w.StartArray();
    for (float x : v.values) WriteFloat(w, x);
    w.EndArray();
    w.EndObject();
    return;
  }
  w.StartArray();
  for (float x : v.dense) WriteFloat(w, x);
  w.EndArray();
}
}  // namespace

void WriteVectors(JsonWriter& w, const NamedVectors& vectors, bool unnamed) {
  if (unnamed && vectors.size() == 1 && vectors[0].first.empty()) {
    WriteVector(w, vectors[0].second);
    return;
  }
  w.StartObject();
  for (const auto& [name, v] : vectors) {
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    WriteVector(w, v);
  }
  w.EndObject();
}

void WriteRecord(JsonWriter& w, const segment::PointRecord& r, bool scored, bool unnamed) {
  w.StartObject();
  w.Key("id");
  WritePointId(w, r.id);
  if (scored) {
    w.Key("version");
    w.Uint64(r.version);
    w.Key("score");
    WriteFloat(w, r.score);
  }
  w.Key("payload");
  if (r.has_payload) {
    r.payload.Accept(w);
  } else {
    w.Null();
  }
  w.Key("vector");
  if (r.has_vectors) {
    WriteVectors(w, r.vectors, unnamed);
  } else {
    w.Null();
  }
  w.Key("shard_key");
  w.Null();
  w.Key("order_value");
  if (!r.order_value) {
    w.Null();
  } else if (r.order_value->is_int) {
    w.Int64(r.order_value->integer);
  } else {
    w.Double(r.order_value->real);
  }
  w.EndObject();
}

void WriteUpdateResult(JsonWriter& w, segment::OpNum operation_id, bool wait) {
  w.StartObject();
  w.Key("operation_id");
  w.Uint64(operation_id);
  w.Key("status");
  w.String(wait ? "completed" : "acknowledged");
  w.EndObject();
}

std::string Take(rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace qd::api::rest
