#include "qdrantd/collection/collection.h"

#include <malloc.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <thread>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "libshared/log.h"

namespace qd::collection {

using segment::Operation;
using segment::OpKind;
using segment::PointId;
using segment::RecordBatch;

Collection::Collection(std::string name, std::string dir, CollectionConfig config)
    : name_(std::move(name)),
      dir_(std::move(dir)),
      config_(std::move(config)),
      layout_(std::make_shared<const Layout>()) {}

Collection::Slot::~Slot() {
  replica.reset();  // flushes (unless abandoned) and closes first
  if (trash.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(trash, ec);
  if (ec) QD_LOG_WARN("cannot remove " + trash + ": " + ec.message());
}

Collection::~Collection() {
  layout_.store(nullptr);  // flushes and closes the replicas first
  if (dropped_) {
    std::error_code ec;
    std::filesystem::remove_all(dropped_dir_, ec);
    if (ec) QD_LOG_WARN("cannot remove " + dropped_dir_ + ": " + ec.message());
    // Its graph and points were freed just now, much of it into malloc's arenas (after glibc
    // raises its mmap threshold, even the big blocks land there), which keep it resident until
    // a trim: without this one a deleted collection's memory came back only at the next index
    // checkpoint, up to a minute later.
    malloc_trim(0);
  }
}

void Collection::MarkDropped(std::string dir) {
  dropped_dir_ = std::move(dir);
  dropped_ = true;
  for (const auto& slot : layout()->local) {
    if (slot) slot->replica->Abandon();
  }
}

Result<std::shared_ptr<Collection::Slot>> Collection::OpenSlot(uint32_t shard) const {
  CollectionConfig c = config();
  Result<std::unique_ptr<replica::LocalReplica>> r = replica::LocalReplica::Open(
      ShardDir(shard), c.vectors, {c.deleted_threshold, c.vacuum_min_vector_number});
  if (!r.ok()) return r.status();
  auto slot = std::make_shared<Slot>();
  slot->replica = std::move(*r);
  return slot;
}

Result<std::shared_ptr<Collection>> Collection::Open(std::string name, std::string dir,
                                                     CollectionConfig config) {
  std::shared_ptr<Collection> c(new Collection(std::move(name), std::move(dir), config));
  auto layout = std::make_shared<Layout>();
  layout->others.resize(config.shard_number);
  for (uint32_t shard = 0; shard < config.shard_number; ++shard) {
    Result<std::shared_ptr<Slot>> slot = c->OpenSlot(shard);
    if (!slot.ok()) return slot.status();
    layout->local.push_back(std::move(*slot));
  }
  c->layout_.store(std::move(layout));
  return c;
}

Result<std::shared_ptr<Collection>> Collection::OpenPlaced(std::string name, std::string dir,
                                                           CollectionConfig config,
                                                           const ShardPlacement* placement) {
  std::shared_ptr<Collection> c(new Collection(std::move(name), std::move(dir), config));
  std::error_code ec;
  // Replicas dropped before a crash, whose files were still in use.
  for (const auto& e : std::filesystem::directory_iterator(c->dir_, ec)) {
    if (e.path().filename().string().rfind(".deleted-", 0) == 0) std::filesystem::remove_all(e.path(), ec);
  }
  if (placement) {
    Status s = c->ApplyPlacement(*placement, false);
    if (!s.ok()) return s;
    return c;
  }
  // Restart: the replicas this node held are the directories it has; which shards are placed
  // where is known once the reconciler applies the replayed state.
  auto layout = std::make_shared<Layout>();
  layout->placed = true;
  layout->known = false;
  layout->local.resize(config.shard_number);
  layout->others.resize(config.shard_number);
  for (uint32_t shard = 0; shard < config.shard_number; ++shard) {
    if (!std::filesystem::exists(c->ShardDir(shard) + "/points.db", ec)) continue;
    Result<std::shared_ptr<Slot>> slot = c->OpenSlot(shard);
    if (!slot.ok()) return slot.status();
    layout->local[shard] = std::move(*slot);
  }
  c->layout_.store(std::move(layout));
  return c;
}

Status Collection::ApplyPlacement(const ShardPlacement& placement, bool recreate_missing) {
  std::lock_guard<std::mutex> lock(placement_mu_);
  std::shared_ptr<const Layout> old = layout();
  const uint32_t shards = config().shard_number;
  auto next = std::make_shared<Layout>();
  next->placed = true;
  next->self_peer = placement.self_peer;
  next->local.resize(shards);
  next->others.resize(shards);
  std::vector<uint32_t> to_open;
  for (uint32_t shard = 0; shard < shards; ++shard) {
    bool here = false;
    if (auto it = placement.replicas.find(shard); it != placement.replicas.end()) {
      for (uint64_t peer : it->second) {
        if (peer == placement.self_peer) {
          here = true;
        } else {
          next->others[shard].push_back(peer);
        }
      }
    }
    std::shared_ptr<Slot> slot = shard < old->local.size() ? old->local[shard] : nullptr;
    std::error_code ec;
    bool vanished = slot && recreate_missing && !std::filesystem::exists(ShardDir(shard) + "/points.db", ec);
    if (slot && (!here || vanished)) {
      // Never write through the old paths again, and move what is left of its files aside:
      // requests in flight may still hold the replica, and a new one may be created here.
      slot->replica->Abandon();
      static std::atomic<uint64_t> counter{0};
      std::string trash = dir_ + "/.deleted-" + std::to_string(shard) + "-" + std::to_string(counter++);
      std::filesystem::rename(ShardDir(shard), trash, ec);
      if (!ec) slot->trash = trash;
      closing_[shard] = slot;
      slot.reset();
      QD_LOG_INFO("collection " + name_ + ": " + (vanished ? "re-creating the vanished" : "dropping the") +
                  " local replica of shard " + std::to_string(shard));
    }
    if (here && !slot) to_open.push_back(shard);
    next->local[shard] = std::move(slot);
  }
  layout_.store(next);
  old.reset();
  if (to_open.empty()) return Status::Ok();

  Status first_error;
  auto complete = std::make_shared<Layout>(*next);
  for (uint32_t shard : to_open) {
    // SQLite deletes a WAL file by its path when the last connection closes it: a replica that
    // left this path must be closed (no request holds it any more) before a new one opens here.
    auto closing = closing_.find(shard);
    if (closing != closing_.end()) {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!closing->second.expired() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (!closing->second.expired()) {
        if (first_error.ok()) {
          first_error = Status::Unavailable("collection " + name_ + ": the old replica of shard " +
                                            std::to_string(shard) + " is still in use; retry");
        }
        continue;
      }
      closing_.erase(closing);
    }
    Result<std::shared_ptr<Slot>> opened = OpenSlot(shard);
    if (!opened.ok()) {
      QD_LOG_ERROR("collection " + name_ + ": cannot create the local replica of shard " +
                   std::to_string(shard) + ": " + opened.status().message());
      if (first_error.ok()) first_error = opened.status().WithContext("collection " + name_);
      continue;
    }
    complete->local[shard] = std::move(*opened);
  }
  layout_.store(std::move(complete));
  return first_error;
}

Status Collection::CheckAllReadable(const Layout& layout) const {
  for (size_t s = 0; s < layout.local.size(); ++s) {
    if (Status routable = CheckRoutable(layout, static_cast<uint32_t>(s), Access::kRead); !routable.ok()) {
      return routable;
    }
  }
  return Status::Ok();
}

Status Collection::CheckRoutable(const Layout& layout, uint32_t shard, Access access) const {
  if (!layout.placed) return Status::Ok();
  if (!layout.known) {
    return Status::Unavailable("Collection `" + name_ +
                               "`: this peer has not applied the shard placement from consensus yet; retry shortly");
  }
  const std::vector<uint64_t>& others = layout.others[shard];
  auto list = [&] {
    std::string out;
    for (uint64_t peer : others) out += (out.empty() ? "" : ", ") + std::to_string(peer);
    return out;
  };
  const std::string where = "Collection `" + name_ + "`, shard " + std::to_string(shard);
  if (!layout.local[shard]) {
    if (others.empty()) return Status::Unavailable(where + ": no peer holds a replica of this shard");
    return Status::Unimplemented(where + " has no replica on this peer (" + std::to_string(layout.self_peer) +
                                 "); its replicas are on peer(s) " + list() +
                                 ". Forwarding points between peers is not implemented yet: send the request "
                                 "to a peer that holds every shard it needs; nothing was " +
                                 (access == Access::kWrite ? "written" : "read"));
  }
  if (access == Access::kWrite && !others.empty()) {
    return Status::Unimplemented(where + " also has replicas on peer(s) " + list() +
                                 ". Writing to a shard replicated on other peers needs forwarding points between "
                                 "peers, which is not implemented yet; nothing was written");
  }
  return Status::Ok();
}

size_t Collection::segments_count() const {
  size_t n = 0;
  for (const auto& slot : layout()->local) n += slot ? 1 : 0;
  return n;
}

bool Collection::HasLocalShard(size_t shard) const {
  std::shared_ptr<const Layout> l = layout();
  return shard < l->local.size() && l->local[shard];
}

size_t Collection::ShardPointsCount(size_t shard) const {
  std::shared_ptr<const Layout> l = layout();
  if (shard >= l->local.size() || !l->local[shard]) return 0;
  return l->local[shard]->replica->segment().points_count();
}

CollectionConfig Collection::config() const {
  std::lock_guard<std::mutex> lock(config_mu_);
  return config_;
}

void Collection::SetConfig(CollectionConfig config) {
  std::lock_guard<std::mutex> lock(config_mu_);
  config_ = std::move(config);
}

size_t Collection::ShardOf(const PointId& id, size_t shards) { return id.StableHash() % shards; }

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

Result<UpdateResult> Collection::Update(UpdateRequest request, const OnDurable& on_durable) {
  const Operation& op = request.op;
  std::shared_ptr<const Layout> layout = this->layout();
  const std::vector<std::shared_ptr<Slot>>& local = layout->local;
  // Split explicit points / ids by shard.
  std::vector<Operation> per_shard(local.size());
  for (Operation& o : per_shard) {
    o.kind = op.kind;
    o.payload_json = op.payload_json;
    o.key = op.key;
    o.names = op.names;
    o.field_name = op.field_name;
    o.field_schema_json = op.field_schema_json;
  }
  for (const segment::PointStruct& p : op.points) per_shard[ShardOf(p.id, local.size())].points.push_back(p);
  for (const PointId& id : op.ids) per_shard[ShardOf(id, local.size())].ids.push_back(id);
  const bool index_op = op.kind == OpKind::kCreateFieldIndex || op.kind == OpKind::kDeleteFieldIndex;
  auto touches = [&](size_t s) {
    return index_op || request.by_filter || !per_shard[s].points.empty() || !per_shard[s].ids.empty();
  };
  // Every shard the update touches must be writable here before anything is applied.
  for (size_t s = 0; s < local.size(); ++s) {
    if (!touches(s)) continue;
    if (Status routable = CheckRoutable(*layout, static_cast<uint32_t>(s), Access::kWrite); !routable.ok()) {
      return routable;
    }
  }
  const bool needs_existing = op.kind == OpKind::kUpdateVectors ||
                              ((op.kind == OpKind::kSetPayload ||
                                op.kind == OpKind::kOverwritePayload) && !request.by_filter);

  // Points that must exist: checked first on every shard so that nothing is applied when one
  // is missing (Qdrant answers 404 for the whole request).
  if (needs_existing) {
    for (size_t s = 0; s < local.size(); ++s) {
      for (const PointId& id : per_shard[s].AffectedIds()) {
        if (!local[s]->replica->segment().Exists(id)) {
          return Status::NotFound("No point with id " + id.ToString() + " found");
        }
      }
    }
  }

  // A resolve that only passes the request on may overlap the previous request's apply.
  const bool pure = !request.by_filter &&
                    ((op.kind != OpKind::kUpsert && op.kind != OpKind::kUpdateVectors) ||
                     (op.kind == OpKind::kUpsert && request.update_mode == UpdateMode::kUpsert &&
                      !request.update_filter));
  size_t last_touched = 0;
  for (size_t s = 0; s < local.size(); ++s) {
    if (touches(s)) last_touched = s;
  }

  UpdateResult result;
  for (size_t s = 0; s < local.size(); ++s) {
    Operation& shard_op = per_shard[s];
    if (!touches(s)) continue;
    auto resolve = [&](const segment::Segment& seg) -> Result<Operation> {
      if (pure) return std::move(shard_op);  // read once, by this resolve
      Operation out = std::move(shard_op);
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
    // The caller hears "durable" once the last shard's op is in its WAL: the earlier shards are
    // applied by then (one shard at a time, so that no thread holds a logged op of one shard
    // while it waits in another).
    std::function<void(segment::OpNum)> durable;
    if (on_durable && s == last_touched) {
      durable = [&](segment::OpNum n) { on_durable(std::max(result.operation_id, n)); };
    }
    Result<segment::OpNum> n = local[s]->replica->Update(resolve, pure, durable);
    if (!n.ok()) return n.status();
    result.operation_id = std::max(result.operation_id, *n);
  }
  return result;
}

size_t Collection::Count(const segment::PointFilter* filter) const {
  size_t n = 0;
  for (const auto& slot : layout()->local) {
    if (slot) n += slot->replica->segment().Count(filter);
  }
  return n;
}

Result<size_t> Collection::CountPoints(const segment::PointFilter* filter) const {
  std::shared_ptr<const Layout> layout = this->layout();
  if (Status readable = CheckAllReadable(*layout); !readable.ok()) return readable;
  size_t n = 0;
  for (const auto& slot : layout->local) n += slot->replica->segment().Count(filter);
  return n;
}

size_t Collection::points_count() const { return Count(nullptr); }

std::string Collection::PayloadSchemaJson() const {
  // Definitions are the same on every shard; points are summed.
  std::map<std::string, segment::Segment::FieldIndexInfo> merged;
  for (const auto& slot : layout()->local) {
    if (!slot) continue;
    for (segment::Segment::FieldIndexInfo& info : slot->replica->segment().FieldIndexes()) {
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

Result<RecordBatch> Collection::Retrieve(const std::vector<PointId>& ids,
                                         const segment::Projection& projection) const {
  std::shared_ptr<const Layout> layout = this->layout();
  const size_t shards = layout->local.size();
  for (const PointId& id : ids) {
    Status routable = CheckRoutable(*layout, static_cast<uint32_t>(ShardOf(id, shards)), Access::kRead);
    if (!routable.ok()) return routable;
  }
  RecordBatch out;
  for (const PointId& id : ids) {
    RecordBatch one = layout->local[ShardOf(id, shards)]->replica->segment().Retrieve({id}, projection);
    for (segment::PointRecord& r : one.points) {
      if (r.has_payload) r.payload = rapidjson::Value(r.payload, out.Allocator());
      out.points.push_back(std::move(r));
    }
  }
  return out;
}

namespace {
// Moves records of `from` into `to`, copying payloads into to's arena.
void Absorb(RecordBatch& to, RecordBatch& from) {
  for (segment::PointRecord& r : from.points) {
    if (r.has_payload) r.payload = rapidjson::Value(r.payload, to.Allocator());
    to.points.push_back(std::move(r));
  }
}
}  // namespace

Result<RecordBatch> Collection::Scroll(const std::optional<PointId>& from, size_t limit,
                                       const segment::PointFilter* filter,
                                       const segment::Projection& projection,
                                       std::optional<PointId>& next_offset) const {
  std::shared_ptr<const Layout> layout = this->layout();
  const std::vector<std::shared_ptr<Slot>>& local = layout->local;
  if (Status readable = CheckAllReadable(*layout); !readable.ok()) return readable;
  RecordBatch merged;
  if (local.size() == 1) {
    merged = local[0]->replica->segment().Scroll(from, limit + 1, filter, projection);
  } else {
    for (const auto& shard : local) {
      RecordBatch part = shard->replica->segment().Scroll(from, limit + 1, filter, projection);
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

Result<RecordBatch> Collection::ScrollOrdered(const segment::OrderBy& order_by,
                                              const std::optional<PointId>& from, size_t limit,
                                              const segment::PointFilter* filter,
                                              const segment::Projection& projection) const {
  std::shared_ptr<const Layout> layout = this->layout();
  const std::vector<std::shared_ptr<Slot>>& local = layout->local;
  if (Status readable = CheckAllReadable(*layout); !readable.ok()) return readable;
  // Qdrant checks the index before the offset.
  for (const auto& shard : local) {
    if (!shard->replica->segment().HasOrderByIndex(order_by.path)) {
      return segment::NoRangeIndexForOrderBy(order_by.key);
    }
  }
  if (from) {
    return Status::InvalidArgument(
        "Bad request: Cannot use an `offset` when using `order_by`. The alternative for paging is "
        "to use `order_by.start_from` and a filter to exclude the IDs that you've already seen "
        "for the `order_by.start_from` value");
  }
  RecordBatch merged;
  for (const auto& shard : local) {
    Result<RecordBatch> part =
        shard->replica->segment().ScrollOrdered(order_by, limit, filter, projection);
    if (!part.ok()) return part.status();
    if (local.size() == 1) {
      merged = std::move(*part);
      break;
    }
    Absorb(merged, *part);
  }
  const bool descending = order_by.descending;
  std::stable_sort(merged.points.begin(), merged.points.end(),
                   [descending](const segment::PointRecord& a, const segment::PointRecord& b) {
                     return segment::OrderedBefore(a, b, descending);
                   });
  auto repeats = [](const segment::PointRecord& a, const segment::PointRecord& b) {
    return a.id == b.id;
  };
  merged.points.erase(std::unique(merged.points.begin(), merged.points.end(), repeats),
                      merged.points.end());
  if (merged.points.size() > limit) merged.points.resize(limit);
  return merged;
}

Result<RecordBatch> Collection::QueryOrdered(const segment::OrderBy& order_by, size_t offset,
                                             size_t limit, const segment::PointFilter* filter,
                                             const segment::Projection& projection) const {
  Result<RecordBatch> page = ScrollOrdered(order_by, std::nullopt, offset + limit, filter, projection);
  if (!page.ok()) return page;
  auto& points = page->points;
  points.erase(points.begin(), points.begin() + static_cast<std::ptrdiff_t>(std::min(offset, points.size())));
  return page;
}

Result<RecordBatch> Collection::QueryListed(size_t offset, size_t limit,
                                            const segment::PointFilter* filter,
                                            const segment::Projection& projection) const {
  std::optional<PointId> next;
  Result<RecordBatch> page = Scroll(std::nullopt, offset + limit, filter, projection, next);
  if (!page.ok()) return page;
  auto& points = page->points;
  points.erase(points.begin(), points.begin() + static_cast<std::ptrdiff_t>(std::min(offset, points.size())));
  return page;
}

Result<RecordBatch> Collection::Search(const segment::SearchSpec& spec,
                                       const segment::Projection& projection) const {
  std::shared_ptr<const Layout> layout = this->layout();
  const std::vector<std::shared_ptr<Slot>>& local = layout->local;
  if (Status readable = CheckAllReadable(*layout); !readable.ok()) return readable;
  RecordBatch merged;
  for (const auto& shard : local) {
    Result<RecordBatch> part = shard->replica->segment().Search(spec, projection);
    if (!part.ok()) return part.status();
    if (local.size() == 1) {
      merged = std::move(*part);  // already in this order, limit + offset long
      break;
    }
    Absorb(merged, *part);
  }
  std::vector<segment::PointRecord>& points = merged.points;
  if (local.size() > 1) {
    std::sort(points.begin(), points.end(),
              [](const segment::PointRecord& a, const segment::PointRecord& b) {
                return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
              });
  }
  const size_t begin = std::min(spec.offset, points.size());
  const size_t end = std::min(spec.offset + spec.limit, points.size());
  points.erase(points.begin() + static_cast<std::ptrdiff_t>(end), points.end());
  points.erase(points.begin(), points.begin() + static_cast<std::ptrdiff_t>(begin));
  return merged;
}

Status Collection::Flush() {
  for (const auto& slot : layout()->local) {
    if (!slot) continue;
    Status s = slot->replica->Flush();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace qd::collection
