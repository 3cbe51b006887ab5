#include "qdrantd/collection/collection_config.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace qd::collection {
namespace {

using rapidjson::Document;
using rapidjson::Value;
using Allocator = Document::AllocatorType;

Status TypeError(const std::string& path, const char* expected) {
  return Status::InvalidArgument("Format error in JSON body: " + path + ": invalid type, expected " +
                                 expected);
}

Status RangeError(const std::string& path, int64_t value, const std::string& bound) {
  return Status::Unprocessable("Validation error in JSON body: [" + path + ": value " +
                               std::to_string(value) + " invalid, " + bound + "]");
}

const Value* Member(const Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;  // null = not set
  return &it->value;
}

// Reads an optional unsigned field with a minimum; absent leaves `out` untouched.
Status ReadUint(const Value& object, const char* name, const std::string& path, uint64_t min,
                uint64_t max, uint64_t& out, bool& present) {
  present = false;
  const Value* v = Member(object, name);
  if (!v) return Status::Ok();
  if (v->IsInt64() && v->GetInt64() < 0) {
    return Status::InvalidArgument("Format error in JSON body: " + path + ": invalid value: integer `" +
                                   std::to_string(v->GetInt64()) + "`, expected u64");
  }
  if (!v->IsUint64()) return TypeError(path, "an unsigned integer");
  uint64_t x = v->GetUint64();
  if (x < min || x > max) {
    std::string bound = max == UINT64_MAX ? "must be " + std::to_string(min) + " or more"
                                          : "must be from " + std::to_string(min) + " to " +
                                                std::to_string(max);
    return RangeError(path, static_cast<int64_t>(x), bound);
  }
  out = x;
  present = true;
  return Status::Ok();
}

Result<index::Distance> ParseDistance(const Value* v, const std::string& path) {
  if (!v) return Status::InvalidArgument("Format error in JSON body: " + path + ": missing field `distance`");
  if (!v->IsString()) return TypeError(path + ".distance", "a string");
  std::string_view d(v->GetString(), v->GetStringLength());
  if (d == "Cosine") return index::Distance::kCosine;
  if (d == "Euclid") return index::Distance::kEuclid;
  if (d == "Dot") return index::Distance::kDot;
  if (d == "Manhattan") return index::Distance::kManhattan;
  return Status::InvalidArgument("Format error in JSON body: " + path + ".distance: unknown variant `" +
                                 std::string(d) + "`, expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan`");
}

// Copies `from` into a fresh value without null members (null = not set).
void CopyWithoutNulls(const Value& from, Value& to, Allocator& alloc) {
  if (!from.IsObject()) {
    to.CopyFrom(from, alloc);
    return;
  }
  to.SetObject();
  for (auto m = from.MemberBegin(); m != from.MemberEnd(); ++m) {
    if (m->value.IsNull()) continue;
    Value v;
    CopyWithoutNulls(m->value, v, alloc);
    to.AddMember(Value(m->name, alloc), v, alloc);
  }
}

// Sets object[name] = value, replacing an existing member.
void Set(Value& object, const char* name, Value value, Allocator& alloc) {
  auto it = object.FindMember(name);
  if (it != object.MemberEnd()) {
    it->value = value;
  } else {
    object.AddMember(Value(name, alloc), value, alloc);
  }
}

// Merges the non-null members of `patch` into `target` (an object), shallowly.
void Merge(Value& target, const Value& patch, Allocator& alloc) {
  if (!target.IsObject()) target.SetObject();
  for (auto m = patch.MemberBegin(); m != patch.MemberEnd(); ++m) {
    if (m->value.IsNull()) continue;
    Value v;
    CopyWithoutNulls(m->value, v, alloc);
    auto it = target.FindMember(m->name);
    if (it != target.MemberEnd()) {
      it->value = v;
    } else {
      target.AddMember(Value(m->name, alloc), v, alloc);
    }
  }
}

Status ValidateHnsw(const Value& hnsw, const std::string& path) {
  if (!hnsw.IsObject()) return TypeError(path, "an object");
  uint64_t x = 0;
  bool present;
  Status s = ReadUint(hnsw, "m", path + ".m", 0, UINT64_MAX, x, present);
  if (s.ok()) s = ReadUint(hnsw, "ef_construct", path + ".ef_construct", 4, UINT64_MAX, x, present);
  if (s.ok()) s = ReadUint(hnsw, "full_scan_threshold", path + ".full_scan_threshold", 10, UINT64_MAX, x, present);
  if (s.ok()) s = ReadUint(hnsw, "max_indexing_threads", path + ".max_indexing_threads", 0, UINT64_MAX, x, present);
  if (s.ok()) s = ReadUint(hnsw, "payload_m", path + ".payload_m", 0, UINT64_MAX, x, present);
  return s;
}

// Validates one VectorParams object and appends it (nulls stripped) to `out`.
Status ParseVectorParams(const Value& v, const std::string& path, Value& out, Allocator& alloc) {
  if (!v.IsObject()) return TypeError(path, "an object");
  const Value* size = Member(v, "size");
  if (!size) return Status::InvalidArgument("Format error in JSON body: " + path + ": missing field `size`");
  uint64_t dim = 0;
  bool present;
  Status s = ReadUint(v, "size", path + ".size", 1, 65536, dim, present);
  if (!s.ok()) return s;
  Result<index::Distance> d = ParseDistance(Member(v, "distance"), path);
  if (!d.ok()) return d.status();
  if (const Value* h = Member(v, "hnsw_config")) {
    s = ValidateHnsw(*h, path + ".hnsw_config");
    if (!s.ok()) return s;
  }
  if (const Value* od = Member(v, "on_disk"); od && !od->IsBool()) return TypeError(path + ".on_disk", "a boolean");
  CopyWithoutNulls(v, out, alloc);
  return Status::Ok();
}

}  // namespace

const segment::VectorSpec* CollectionConfig::FindVector(std::string_view name) const {
  for (const segment::VectorSpec& v : vectors) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

std::string CollectionConfig::ToJson() const {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  json->Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<CollectionConfig> FromConfigJson(std::string_view text) {
  auto doc = std::make_shared<Document>();
  doc->Parse(text.data(), text.size());
  if (doc->HasParseError() || !doc->IsObject()) return Status::Internal("corrupt collection config");
  CollectionConfig c;
  const Value& params = (*doc)["params"];
  c.shard_number = params["shard_number"].GetUint();
  c.replication_factor = params["replication_factor"].GetUint();
  c.write_consistency_factor = params["write_consistency_factor"].GetUint();
  const Value& optimizer = (*doc)["optimizer_config"];
  if (optimizer.HasMember("deleted_threshold") && optimizer["deleted_threshold"].IsNumber()) {
    c.deleted_threshold = optimizer["deleted_threshold"].GetDouble();
  }
  if (optimizer.HasMember("vacuum_min_vector_number") && optimizer["vacuum_min_vector_number"].IsUint64()) {
    c.vacuum_min_vector_number = optimizer["vacuum_min_vector_number"].GetUint64();
  }
  if (doc->HasMember("wal_config") && (*doc)["wal_config"].IsObject()) {
    const Value& wal = (*doc)["wal_config"];
    if (wal.HasMember("wal_capacity_mb") && wal["wal_capacity_mb"].IsUint64()) {
      c.wal_capacity_mb = wal["wal_capacity_mb"].GetUint64();
    }
  }
  if (doc->HasMember("strict_mode_config")) {
    // Validated when it was set; a stored config that no longer parses checks nothing.
    if (Result<StrictMode> sm = ParseStrictMode((*doc)["strict_mode_config"]); sm.ok()) {
      c.strict_mode = std::make_shared<const StrictMode>(std::move(*sm));
    }
  }
  const Value& hnsw = (*doc)["hnsw_config"];
  auto spec_of = [&](const std::string& name, const Value& vp) {
    segment::VectorSpec s;
    s.name = name;
    s.dim = vp["size"].GetUint();
    std::string_view d = vp["distance"].GetString();
    s.distance = d == "Euclid"  ? index::Distance::kEuclid
                 : d == "Dot"   ? index::Distance::kDot
                 : d == "Manhattan" ? index::Distance::kManhattan
                                : index::Distance::kCosine;
    const Value* own = vp.HasMember("hnsw_config") ? &vp["hnsw_config"] : nullptr;
    auto pick = [&](const char* key, size_t fallback) -> size_t {
      if (own && own->HasMember(key) && (*own)[key].IsUint64()) return (*own)[key].GetUint64();
      if (hnsw.HasMember(key) && hnsw[key].IsUint64()) return hnsw[key].GetUint64();
      return fallback;
    };
    s.m = pick("m", 16);
    s.ef_construct = pick("ef_construct", 100);
    s.full_scan_threshold_kb = pick("full_scan_threshold", 10000);
    // payload_m: the vector's own, else the collection's; null or absent: m (Qdrant's default).
    if (own && own->HasMember("payload_m") && (*own)["payload_m"].IsUint64()) {
      s.payload_m = (*own)["payload_m"].GetUint64();
    } else if (hnsw.HasMember("payload_m") && hnsw["payload_m"].IsUint64()) {
      s.payload_m = hnsw["payload_m"].GetUint64();
    }
    return s;
  };
  if (params.HasMember("vectors")) {
    const Value& vectors = params["vectors"];
    if (vectors.HasMember("size") && vectors["size"].IsNumber()) {
      c.unnamed_vector = true;
      c.vectors.push_back(spec_of("", vectors));
    } else {
      for (auto m = vectors.MemberBegin(); m != vectors.MemberEnd(); ++m) {
        c.vectors.push_back(spec_of(m->name.GetString(), m->value));
      }
    }
  }
  if (params.HasMember("sparse_vectors") && params["sparse_vectors"].IsObject()) {
    for (auto m = params["sparse_vectors"].MemberBegin(); m != params["sparse_vectors"].MemberEnd(); ++m) {
      segment::VectorSpec s;
      s.name = m->name.GetString();
      s.sparse = true;
      c.vectors.push_back(s);
    }
  }
  c.json = std::move(doc);
  return c;
}

Result<CollectionConfig> ParseCreateCollection(const rapidjson::Value& body) {
  if (!body.IsObject()) return TypeError("body", "an object");
  Document doc(rapidjson::kObjectType);
  Allocator& a = doc.GetAllocator();
  Value params(rapidjson::kObjectType);

  if (const Value* vectors = Member(body, "vectors")) {
    if (!vectors->IsObject()) return TypeError("vectors", "an object");
    Value out;
    if (vectors->HasMember("size") || vectors->HasMember("distance")) {
      Status s = ParseVectorParams(*vectors, "vectors", out, a);
      if (!s.ok()) return s;
    } else {
      out.SetObject();
      for (auto m = vectors->MemberBegin(); m != vectors->MemberEnd(); ++m) {
        Value one;
        Status s = ParseVectorParams(m->value, std::string("vectors.") + m->name.GetString(), one, a);
        if (!s.ok()) return s;
        out.AddMember(Value(m->name, a), one, a);
      }
    }
    params.AddMember("vectors", out, a);
  } else {
    params.AddMember("vectors", Value(rapidjson::kObjectType), a);
  }

  uint64_t shard_number = 1, replication_factor = 1, wcf = 1;
  bool present;
  Status s = ReadUint(body, "shard_number", "shard_number", 1, 65536, shard_number, present);
  if (s.ok()) s = ReadUint(body, "replication_factor", "replication_factor", 1, 65536, replication_factor, present);
  if (s.ok()) s = ReadUint(body, "write_consistency_factor", "write_consistency_factor", 1, 65536, wcf, present);
  if (!s.ok()) return s;
  params.AddMember("shard_number", Value(static_cast<uint64_t>(shard_number)), a);
  params.AddMember("replication_factor", Value(static_cast<uint64_t>(replication_factor)), a);
  params.AddMember("write_consistency_factor", Value(static_cast<uint64_t>(wcf)), a);
  if (const Value* v = Member(body, "read_fan_out_factor")) params.AddMember("read_fan_out_factor", Value(*v, a), a);
  if (const Value* v = Member(body, "sharding_method")) params.AddMember("sharding_method", Value(*v, a), a);
  bool on_disk_payload = true;
  if (const Value* v = Member(body, "on_disk_payload")) {
    if (!v->IsBool()) return TypeError("on_disk_payload", "a boolean");
    on_disk_payload = v->GetBool();
  }
  params.AddMember("on_disk_payload", Value(on_disk_payload), a);
  if (const Value* sparse = Member(body, "sparse_vectors")) {
    if (!sparse->IsObject()) return TypeError("sparse_vectors", "an object");
    Value out;
    CopyWithoutNulls(*sparse, out, a);
    params.AddMember("sparse_vectors", out, a);
  }
  doc.AddMember("params", params, a);

  Value hnsw(rapidjson::kObjectType);
  hnsw.AddMember("m", 16, a).AddMember("ef_construct", 100, a).AddMember("full_scan_threshold", 10000, a);
  hnsw.AddMember("max_indexing_threads", 0, a).AddMember("on_disk", false, a);
  if (const Value* h = Member(body, "hnsw_config")) {
    s = ValidateHnsw(*h, "hnsw_config");
    if (!s.ok()) return s;
    Merge(hnsw, *h, a);
  }
  doc.AddMember("hnsw_config", hnsw, a);

  Value optimizer(rapidjson::kObjectType);
  optimizer.AddMember("deleted_threshold", 0.2, a).AddMember("vacuum_min_vector_number", 1000, a);
  optimizer.AddMember("default_segment_number", 0, a).AddMember("max_segment_size", Value(), a);
  optimizer.AddMember("memmap_threshold", Value(), a).AddMember("indexing_threshold", 10000, a);
  optimizer.AddMember("flush_interval_sec", 5, a).AddMember("max_optimization_threads", Value(), a);
  if (const Value* o = Member(body, "optimizers_config")) {
    if (!o->IsObject()) return TypeError("optimizers_config", "an object");
    Merge(optimizer, *o, a);
  }
  doc.AddMember("optimizer_config", optimizer, a);

  Value wal(rapidjson::kObjectType);
  wal.AddMember("wal_capacity_mb", 32, a).AddMember("wal_segments_ahead", 0, a).AddMember("wal_retain_closed", 1, a);
  if (const Value* w = Member(body, "wal_config")) {
    if (!w->IsObject()) return TypeError("wal_config", "an object");
    uint64_t x;
    s = ReadUint(*w, "wal_capacity_mb", "wal_config.wal_capacity_mb", 1, UINT64_MAX, x, present);
    if (!s.ok()) return s;
    Merge(wal, *w, a);
  }
  doc.AddMember("wal_config", wal, a);

  Value quantization;
  if (const Value* q = Member(body, "quantization_config")) CopyWithoutNulls(*q, quantization, a);
  doc.AddMember("quantization_config", quantization, a);

  Value strict(rapidjson::kObjectType);
  strict.AddMember("enabled", false, a);
  if (const Value* st = Member(body, "strict_mode_config")) {
    if (!st->IsObject()) return TypeError("strict_mode_config", "an object");
    Merge(strict, *st, a);
  }
  if (Result<StrictMode> sm = ParseStrictMode(strict); !sm.ok()) return sm.status();
  doc.AddMember("strict_mode_config", strict, a);

  if (const Value* meta = Member(body, "metadata")) {
    if (!meta->IsObject()) return TypeError("metadata", "an object");
    Value m;
    CopyWithoutNulls(*meta, m, a);
    doc.AddMember("metadata", m, a);
  }

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return FromConfigJson(std::string_view(buffer.GetString(), buffer.GetSize()));
}

Result<CollectionConfig> ApplyUpdate(const CollectionConfig& current, const rapidjson::Value& body) {
  if (!body.IsObject()) return TypeError("body", "an object");
  Document doc;
  doc.CopyFrom(*current.json, doc.GetAllocator());
  Allocator& a = doc.GetAllocator();
  Value& params = doc["params"];

  if (const Value* vectors = Member(body, "vectors")) {
    if (!vectors->IsObject()) return TypeError("vectors", "an object");
    for (auto m = vectors->MemberBegin(); m != vectors->MemberEnd(); ++m) {
      std::string name = m->name.GetString();
      std::string path = "vectors." + name;
      if (!current.FindVector(name) || current.FindVector(name)->sparse) {
        return Status::InvalidArgument("Wrong input: Not existing vector name error: " + name);
      }
      if (m->value.IsNull()) continue;
      if (!m->value.IsObject()) return TypeError(path, "an object");
      if (const Value* h = Member(m->value, "hnsw_config")) {
        Status s = ValidateHnsw(*h, path + ".hnsw_config");
        if (!s.ok()) return s;
      }
      Value& target = current.unnamed_vector ? params["vectors"] : params["vectors"][name.c_str()];
      for (auto f = m->value.MemberBegin(); f != m->value.MemberEnd(); ++f) {
        if (f->value.IsNull()) continue;
        std::string field = f->name.GetString();
        Value v;
        if ((field == "hnsw_config" || field == "quantization_config") && f->value.IsObject() &&
            target.HasMember(field.c_str()) && target[field.c_str()].IsObject() && field == "hnsw_config") {
          v.CopyFrom(target[field.c_str()], a);
          Merge(v, f->value, a);
        } else {
          CopyWithoutNulls(f->value, v, a);
        }
        Set(target, field.c_str(), std::move(v), a);
      }
    }
  }
  if (const Value* p = Member(body, "params")) {
    if (!p->IsObject()) return TypeError("params", "an object");
    uint64_t x;
    bool present;
    Status s = ReadUint(*p, "replication_factor", "params.replication_factor", 1, 65536, x, present);
    if (s.ok()) s = ReadUint(*p, "write_consistency_factor", "params.write_consistency_factor", 1, 65536, x, present);
    if (!s.ok()) return s;
    for (const char* key : {"replication_factor", "write_consistency_factor", "read_fan_out_factor",
                            "on_disk_payload"}) {
      if (const Value* v = Member(*p, key)) Set(params, key, Value(*v, a), a);
    }
  }
  if (const Value* h = Member(body, "hnsw_config")) {
    Status s = ValidateHnsw(*h, "hnsw_config");
    if (!s.ok()) return s;
    Merge(doc["hnsw_config"], *h, a);
  }
  if (const Value* o = Member(body, "optimizers_config")) {
    if (!o->IsObject()) return TypeError("optimizers_config", "an object");
    Merge(doc["optimizer_config"], *o, a);
  }
  if (const Value* q = Member(body, "quantization_config")) {
    Value v;
    CopyWithoutNulls(*q, v, a);
    if (q->IsString() && std::string_view(q->GetString()) == "Disabled") v.SetNull();
    doc["quantization_config"] = v;
  }
  if (const Value* st = Member(body, "strict_mode_config")) {
    if (!st->IsObject()) return TypeError("strict_mode_config", "an object");
    Merge(doc["strict_mode_config"], *st, a);
    if (Result<StrictMode> sm = ParseStrictMode(doc["strict_mode_config"]); !sm.ok()) {
      return sm.status();
    }
  }
  if (const Value* sparse = Member(body, "sparse_vectors")) {
    if (!sparse->IsObject()) return TypeError("sparse_vectors", "an object");
    for (auto m = sparse->MemberBegin(); m != sparse->MemberEnd(); ++m) {
      const segment::VectorSpec* spec = current.FindVector(m->name.GetString());
      if (!spec || !spec->sparse) {
        return Status::InvalidArgument(std::string("Wrong input: Not existing vector name error: ") +
                                       m->name.GetString());
      }
      if (!m->value.IsObject()) continue;
      Value& target = params["sparse_vectors"][m->name.GetString()];
      for (auto f = m->value.MemberBegin(); f != m->value.MemberEnd(); ++f) {
        if (f->value.IsNull()) continue;
        Value v;
        if (f->value.IsObject() && target.HasMember(f->name) && target[f->name].IsObject()) {
          v.CopyFrom(target[f->name], a);
          Merge(v, f->value, a);
        } else {
          CopyWithoutNulls(f->value, v, a);
        }
        Set(target, f->name.GetString(), std::move(v), a);
      }
    }
  }
  if (const Value* meta = Member(body, "metadata")) {
    if (!meta->IsObject()) return TypeError("metadata", "an object");
    if (!doc.HasMember("metadata")) doc.AddMember("metadata", Value(rapidjson::kObjectType), a);
    Value& target = doc["metadata"];
    for (auto m = meta->MemberBegin(); m != meta->MemberEnd(); ++m) {
      if (m->value.IsNull()) {
        target.RemoveMember(m->name);
      } else {
        Set(target, m->name.GetString(), Value(m->value, a), a);
      }
    }
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return FromConfigJson(std::string_view(buffer.GetString(), buffer.GetSize()));
}

}  // namespace qd::collection
