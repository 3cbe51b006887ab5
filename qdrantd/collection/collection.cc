#include "qdrantd/collection/collection.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "libshared/log.h"

namespace qd::collection {

using segment::Operation;
using segment::OpKind;
using segment::PointId;
using segment::RecordBatch;

Collection::Collection(std::string name, std::string dir, CollectionConfig config)
    : name_(std::move(name)), dir_(std::move(dir)), config_(std::move(config)) {}

Collection::~Collection() {
  shards_.clear();  // flushes and closes the replicas first
  if (dropped_) {
    std::error_code ec;
    std::filesystem::remove_all(dropped_dir_, ec);
    if (ec) QD_LOG_WARN("cannot remove " + dropped_dir_ + ": " + ec.message());
  }
}

void Collection::MarkDropped(std::string dir) {
  dropped_dir_ = std::move(dir);
  dropped_ = true;
  for (const auto& shard : shards_) shard->Abandon();
}

Result<std::shared_ptr<Collection>> Collection::Open(std::string name, std::string dir,
                                                     CollectionConfig config) {
  std::shared_ptr<Collection> c(new Collection(std::move(name), std::move(dir), config));
  for (uint32_t shard = 0; shard < config.shard_number; ++shard) {
    Result<std::unique_ptr<replica::LocalReplica>> r =
        replica::LocalReplica::Open(c->dir_ + "/" + std::to_string(shard), config.vectors,
                                    {config.deleted_threshold, config.vacuum_min_vector_number});
    if (!r.ok()) return r.status();
    c->shards_.push_back(std::move(*r));
  }
  return c;
}

CollectionConfig Collection::config() const {
  std::lock_guard<std::mutex> lock(config_mu_);
  return config_;
}

void Collection::SetConfig(CollectionConfig config) {
  std::lock_guard<std::mutex> lock(config_mu_);
  config_ = std::move(config);
}

size_t Collection::ShardOf(const PointId& id) const { return id.StableHash() % shards_.size(); }

Status Collection::ValidatePoints(std::vector<segment::PointStruct>& points, bool partial) const {
  CollectionConfig c = config();
  for (segment::PointStruct& p : points) {
    for (auto& [name, v] : p.vectors) {
      const segment::VectorSpec* spec = c.FindVector(name);
      if (!spec) {
        return Status::InvalidArgument(
            "Wrong input: Not existing vector name error: " +
            (name.empty() ? std::string("default vector (the collection has only named vectors)")
                          : name));
      }
      if (spec->sparse != v.sparse) {
        return Status::InvalidArgument("Wrong input: Conversion between sparse and regular vectors failed for vector `" + name + "`");
      }
      if (!v.sparse) {
        if (v.dense.size() != spec->dim) {
          return Status::InvalidArgument("Wrong input: Vector dimension error: expected dim: " +
                                         std::to_string(spec->dim) + ", got " +
                                         std::to_string(v.dense.size()));
        }
      } else {
        if (v.indices.size() != v.values.size()) {
          return Status::InvalidArgument("Validation error in JSON body: [" + name +
                                         ": indices and values must have the same length]");
        }
        std::vector<uint32_t> sorted = v.indices;
        std::sort(sorted.begin(), sorted.end());
        if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
          return Status::InvalidArgument("Validation error in JSON body: [" + name +
                                         ": indices must be unique]");
        }
      }
    }
    if (!partial && c.unnamed_vector && p.vectors.empty()) {
      return Status::InvalidArgument("Wrong input: Vector dimension error: expected dim: " +
                                     std::to_string(c.vectors[0].dim) + ", got 0");
    }
  }
  return Status::Ok();
}

Result<UpdateResult> Collection::Update(UpdateRequest request) {
  const Operation& op = request.op;
  // Split explicit points / ids by shard.
  std::vector<Operation> per_shard(shards_.size());
  for (Operation& o : per_shard) {
    o.kind = op.kind;
    o.payload_json = op.payload_json;
    o.key = op.key;
    o.names = op.names;
    o.field_name = op.field_name;
    o.field_schema_json = op.field_schema_json;
  }
  for (const segment::PointStruct& p : op.points) per_shard[ShardOf(p.id)].points.push_back(p);
  for (const PointId& id : op.ids) per_shard[ShardOf(id)].ids.push_back(id);
  const bool index_op = op.kind == OpKind::kCreateFieldIndex || op.kind == OpKind::kDeleteFieldIndex;
  const bool needs_existing = op.kind == OpKind::kUpdateVectors ||
                              ((op.kind == OpKind::kSetPayload ||
                                op.kind == OpKind::kOverwritePayload) && !request.by_filter);

  // Points that must exist: checked first on every shard so that nothing is applied when one
  // is missing (Qdrant answers 404 for the whole request).
  if (needs_existing) {
    for (size_t s = 0; s < shards_.size(); ++s) {
      for (const PointId& id : per_shard[s].AffectedIds()) {
        if (!shards_[s]->segment().Exists(id)) {
          return Status::NotFound("No point with id " + id.ToString() + " found");
        }
      }
    }
  }

  UpdateResult result;
  for (size_t s = 0; s < shards_.size(); ++s) {
    Operation& shard_op = per_shard[s];
    if (!index_op && !request.by_filter && shard_op.points.empty() && shard_op.ids.empty()) continue;
    auto resolve = [&](const segment::Segment& seg) -> Result<Operation> {
      Operation out = shard_op;
      if (request.by_filter) out.ids = seg.Matching(request.filter);
      if (op.kind == OpKind::kUpsert || op.kind == OpKind::kUpdateVectors) {
        std::vector<segment::PointStruct> kept;
        for (segment::PointStruct& p : out.points) {
          bool exists = seg.Exists(p.id);
          if (request.update_mode == UpdateMode::kInsertOnly && exists) continue;
          if (request.update_mode == UpdateMode::kUpdateOnly && !exists) continue;
          if (request.update_filter && exists) {
            segment::RecordBatch b = seg.Retrieve({p.id}, segment::Projection{
                [](const rapidjson::Value& in, rapidjson::Value& o, rapidjson::Document::AllocatorType& a) {
                  o.CopyFrom(in, a);
                }});
            if (b.points.empty() || !request.update_filter(p.id, b.points[0].payload)) continue;
          }
          kept.push_back(std::move(p));
        }
        out.points = std::move(kept);
      }
      return out;
    };
    Result<segment::OpNum> n = shards_[s]->Update(resolve, nullptr);
    if (!n.ok()) return n.status();
    result.operation_id = std::max(result.operation_id, *n);
  }
  return result;
}

size_t Collection::Count(const segment::PointFilter* filter) const {
  size_t n = 0;
  for (const auto& shard : shards_) n += shard->segment().Count(filter);
  return n;
}

size_t Collection::points_count() const { return Count(nullptr); }

std::string Collection::PayloadSchemaJson() const {
  // Definitions are the same on every shard; points are summed.
  std::map<std::string, segment::Segment::FieldIndexInfo> merged;
  for (const auto& shard : shards_) {
    for (segment::Segment::FieldIndexInfo& info : shard->segment().FieldIndexes()) {
      auto [it, inserted] = merged.emplace(info.field, info);
      if (!inserted) it->second.points += info.points;
    }
  }
  std::string out = "{";
  for (const auto& [field, info] : merged) {
    if (out.size() > 1) out += ",";
    rapidjson::StringBuffer key;
    rapidjson::Writer<rapidjson::StringBuffer> w(key);
    w.String(field.data(), static_cast<rapidjson::SizeType>(field.size()));
    out += std::string(key.GetString(), key.GetSize()) + ":{\"data_type\":\"" + info.data_type +
           "\"," + (info.params_json ? "\"params\":" + *info.params_json + "," : std::string()) +
           "\"points\":" + std::to_string(info.points) + "}";
  }
  return out + "}";
}

RecordBatch Collection::Retrieve(const std::vector<PointId>& ids,
                                 const segment::Projection& projection) const {
  RecordBatch out;
  for (const PointId& id : ids) {
    RecordBatch one = shards_[ShardOf(id)]->segment().Retrieve({id}, projection);
    for (segment::PointRecord& r : one.points) {
      rapidjson::Value payload(r.payload, out.arena->GetAllocator());
      r.payload = std::move(payload);
      out.points.push_back(std::move(r));
    }
  }
  return out;
}

namespace {
// Moves records of `from` into `to`, copying payloads into to's arena.
void Absorb(RecordBatch& to, RecordBatch& from) {
  for (segment::PointRecord& r : from.points) {
    rapidjson::Value payload(r.payload, to.arena->GetAllocator());
    r.payload = std::move(payload);
    to.points.push_back(std::move(r));
  }
}
}  // namespace

RecordBatch Collection::Scroll(const std::optional<PointId>& from, size_t limit,
                               const segment::PointFilter* filter,
                               const segment::Projection& projection,
                               std::optional<PointId>& next_offset) const {
  RecordBatch merged;
  if (shards_.size() == 1) {
    merged = shards_[0]->segment().Scroll(from, limit + 1, filter, projection);
  } else {
    for (const auto& shard : shards_) {
      RecordBatch part = shard->segment().Scroll(from, limit + 1, filter, projection);
      Absorb(merged, part);
    }
    std::sort(merged.points.begin(), merged.points.end(),
              [](const segment::PointRecord& a, const segment::PointRecord& b) { return a.id < b.id; });
  }
  next_offset.reset();
  if (merged.points.size() > limit) {
    next_offset = merged.points[limit].id;
    merged.points.resize(limit);
  }
  return merged;
}

Result<RecordBatch> Collection::Search(const segment::SearchSpec& spec,
                                       const segment::Projection& projection) const {
  RecordBatch merged;
  for (const auto& shard : shards_) {
    Result<RecordBatch> part = shard->segment().Search(spec, projection);
    if (!part.ok()) return part.status();
    if (shards_.size() == 1) {
      merged = std::move(*part);
      break;
    }
    Absorb(merged, *part);
  }
  std::sort(merged.points.begin(), merged.points.end(),
            [](const segment::PointRecord& a, const segment::PointRecord& b) {
              return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
            });
  size_t begin = std::min(spec.offset, merged.points.size());
  size_t end = std::min(spec.offset + spec.limit, merged.points.size());
  std::vector<segment::PointRecord> page;
  for (size_t i = begin; i < end; ++i) page.push_back(std::move(merged.points[i]));
  merged.points = std::move(page);
  return merged;
}

Status Collection::Flush() {
  for (const auto& shard : shards_) {
    Status s = shard->Flush();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace qd::collection
