#include "qdrantd/segment/segment.h"

#include <absl/container/btree_map.h>
#include <fcntl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "libshared/log.h"
#include "libshared/sqlite.h"
#include "qdrantd/index/json_path.h"
#include "qdrantd/index/search_planner.h"

namespace qd::segment {

namespace {
std::atomic<uint64_t> search_path_counts[3];
}  // namespace

void CountSearchPath(SearchPathTaken path) {
  search_path_counts[static_cast<int>(path)].fetch_add(1, std::memory_order_relaxed);
}
uint64_t SearchPathCount(SearchPathTaken path) {
  return search_path_counts[static_cast<int>(path)].load(std::memory_order_relaxed);
}

namespace {

using Alloc = rapidjson::MemoryPoolAllocator<>;

std::string ToJsonText(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string EncodeVectors(const NamedVectors& vectors) {
  Operation holder;
  holder.kind = OpKind::kUpsert;
  holder.points.push_back(PointStruct{PointId{}, vectors, ""});
  return Encode(holder);
}

Result<NamedVectors> DecodeVectors(std::string_view blob) {
  Result<Operation> op = Decode(blob);
  if (!op.ok()) return op.status();
  if (op->points.size() != 1) return Status::Internal("points.db: corrupt vectors");
  return std::move(op->points[0].vectors);
}

void SortSparse(Vector& v) {
  if (std::is_sorted(v.indices.begin(), v.indices.end())) return;
  std::vector<size_t> order(v.indices.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v.indices[a] < v.indices[b]; });
  Vector sorted;
  sorted.sparse = true;
  for (size_t i : order) {
    sorted.indices.push_back(v.indices[i]);
    sorted.values.push_back(v.values[i]);
  }
  v = std::move(sorted);
}

bool Better(const PointRecord& a, const PointRecord& b) {
  return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
}

}  // namespace

bool PointFilter::operator()(const PointId& id, const rapidjson::Value& payload) const {
  return !filter || filter->Matches(id, payload);
}

Result<PointFilter> PointFilter::Parse(const rapidjson::Value& json, const std::string& path) {
  Result<index::Filter> parsed = index::ParseFilter(json, path);
  if (!parsed.ok()) return parsed.status();
  rapidjson::StringBuffer text;
  rapidjson::Writer<rapidjson::StringBuffer> writer(text);
  json.Accept(writer);
  return PointFilter{std::make_shared<const index::Filter>(std::move(*parsed)),
                     std::string(text.GetString(), text.GetSize())};
}

Result<PointFilter> PointFilter::ParseText(const std::string& text, const std::string& path) {
  if (text.empty()) return PointFilter{};
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError()) return Status::InvalidArgument(path + ": the filter is not valid JSON");
  return Parse(doc, path);
}

std::string PointIdKey(const PointId& id) {
  std::string key;
  if (id.is_uuid) {
    key.push_back('\x02');
    key.append(reinterpret_cast<const char*>(id.uuid.data()), 16);
  } else {
    key.push_back('\x01');
    for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>(id.num >> (8 * i)));
  }
  return key;
}

namespace {
PointId PointIdFromKey(std::string_view key) {
  PointId id;
  if (key.size() == 17 && key[0] == '\x02') {
    id.is_uuid = true;
    std::memcpy(id.uuid.data(), key.data() + 1, 16);
  } else if (key.size() == 9) {
    for (int i = 1; i <= 8; ++i) id.num = (id.num << 8) | static_cast<uint8_t>(key[i]);
  }
  return id;
}
}  // namespace

// What a point holds beyond its id and version. The payload owns a small pool allocator, so
// that a point's JSON is freed with it (rapidjson's default pool would grow forever).
struct Segment::Extra {
  std::unique_ptr<Alloc> alloc;
  rapidjson::Value payload{rapidjson::kObjectType};
  std::vector<Vector> sparse;  // per spec index when the segment has sparse specs, else empty
};

// Live points by id, in PointId order: every number before every UUID (point_id.h), so two
// B-trees read one after the other give that order. About 20 bytes a point, where a
// std::map<PointId, uint32_t> node took 80.
class Segment::IdMap {
 public:
  std::optional<uint32_t> Find(const PointId& id) const {
    if (id.is_uuid) {
      auto it = uuids_.find(id.uuid);
      return it == uuids_.end() ? std::nullopt : std::optional<uint32_t>(it->second);
    }
    auto it = numbers_.find(id.num);
    return it == numbers_.end() ? std::nullopt : std::optional<uint32_t>(it->second);
  }
  void Set(const PointId& id, uint32_t offset) {
    if (id.is_uuid) {
      uuids_[id.uuid] = offset;
    } else {
      numbers_[id.num] = offset;
    }
  }
  void Erase(const PointId& id) {
    if (id.is_uuid) {
      uuids_.erase(id.uuid);
    } else {
      numbers_.erase(id.num);
    }
  }
  size_t size() const { return numbers_.size() + uuids_.size(); }

  // Calls fn(id, offset) for the ids >= from (all when null), ascending, while it returns true.
  template <typename Fn>
  void ForEachFrom(const std::optional<PointId>& from, Fn&& fn) const {
    if (!from || !from->is_uuid) {
      for (auto it = from ? numbers_.lower_bound(from->num) : numbers_.begin();
           it != numbers_.end(); ++it) {
        if (!fn(PointId::Num(it->first), it->second)) return;
      }
    }
    for (auto it = from && from->is_uuid ? uuids_.lower_bound(from->uuid) : uuids_.begin();
         it != uuids_.end(); ++it) {
      if (!fn(PointId{true, 0, it->first}, it->second)) return;
    }
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    ForEachFrom(std::nullopt, [&](const PointId& id, uint32_t offset) {
      fn(id, offset);
      return true;
    });
  }

 private:
  absl::btree_map<uint64_t, uint32_t> numbers_;
  absl::btree_map<std::array<uint8_t, 16>, uint32_t> uuids_;
};

namespace {

const rapidjson::Value& EmptyPayload() {
  static const rapidjson::Value empty(rapidjson::kObjectType);
  return empty;
}

}  // namespace

const rapidjson::Value& Segment::Slot::payload() const {
  return extra ? extra->payload : EmptyPayload();
}

void Segment::Slot::SetPayload(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (!doc.IsObject()) doc.SetObject();
  SetPayload(static_cast<const rapidjson::Value&>(doc));
}

void Segment::Slot::SetPayload(const rapidjson::Value& value) {
  if (value.IsObject() && value.MemberCount() == 0) {  // most points: no allocation at all
    if (!extra) return;
    extra->payload.SetObject();
    extra->alloc.reset();
    if (extra->sparse.empty()) extra.reset();
    return;
  }
  auto fresh = std::make_unique<Alloc>(256);
  rapidjson::Value copy(value, *fresh);
  if (!extra) extra = std::make_unique<Extra>();
  extra->payload = std::move(copy);
  extra->alloc = std::move(fresh);
}

const Vector& Segment::Slot::sparse(size_t spec) const {
  static const Vector empty;
  return extra && spec < extra->sparse.size() ? extra->sparse[spec] : empty;
}

Vector& Segment::Slot::MutableSparse(size_t spec, size_t specs) {
  if (!extra) extra = std::make_unique<Extra>();
  if (extra->sparse.size() < specs) extra->sparse.resize(specs);
  return extra->sparse[spec];
}

void Segment::Slot::ClearSparse() {
  if (!extra) return;
  extra->sparse.clear();
  if (!extra->alloc) extra.reset();
}

size_t Presence::Count(size_t spec) const {
  size_t n = 0;
  for (uint64_t w : words_[spec]) n += static_cast<size_t>(__builtin_popcountll(w));
  return n;
}

Segment::Segment(std::string dir, std::vector<VectorSpec> specs, std::unique_ptr<sqlite::Db> db)
    : dir_(std::move(dir)),
      specs_(std::move(specs)),
      db_(std::move(db)),
      offset_of_(std::make_unique<IdMap>()),
      present_(specs_.size()),
      linked_groups_(specs_.size()) {}
Segment::~Segment() = default;

Result<std::unique_ptr<Segment>> Segment::Open(const std::string& dir,
                                               std::vector<VectorSpec> vectors) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create " + dir + ": " + ec.message());
  if (vectors.size() > 64) return Status::InvalidArgument("at most 64 vectors per collection");
  // Background checkpoints: an inline one stretched a store to 20-30 ms, and the replica's
  // next op waited for it.
  Result<std::unique_ptr<sqlite::Db>> db = sqlite::Db::Open(
      dir + "/points.db", sqlite::Db::Sync::kNormal, sqlite::Db::Checkpoints::kBackground);
  if (!db.ok()) return db.status();
  Status s = (*db)->Exec(
      "CREATE TABLE IF NOT EXISTS points(id BLOB PRIMARY KEY, offset INTEGER NOT NULL, "
      "version INTEGER NOT NULL, vectors BLOB NOT NULL, payload TEXT NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS field_indexes(field TEXT PRIMARY KEY, schema TEXT NOT NULL);");
  if (!s.ok()) return s;
  std::unique_ptr<Segment> segment(new Segment(dir, std::move(vectors), std::move(*db)));
  s = segment->Load();
  if (!s.ok()) return s;
  return segment;
}

int Segment::SpecIndex(const std::string& name) const {
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

uint32_t Segment::NewOffset() { return next_offset_++; }

Status Segment::Load() {
  {
    Result<sqlite::Stmt> meta = db_->Prepare("SELECT k, v FROM meta");
    if (!meta.ok()) return meta.status();
    for (;;) {
      Result<bool> row = meta->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      if (meta->Text(0) == "applied_op") applied_op_ = static_cast<OpNum>(meta->Int(1));
      if (meta->Text(0) == "index_op") index_op_ = static_cast<OpNum>(meta->Int(1));
    }
  }
  // Index checkpoints: usable only if every dense index loads; otherwise rebuild all from here.
  bool indexes_loaded = index_op_ > 0;
  dense_.resize(specs_.size());
  sparse_postings_.resize(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].sparse) continue;
    index::HnswIndex::Params params{specs_[i].dim, specs_[i].distance, specs_[i].m,
                                    specs_[i].ef_construct};
    std::string path = dir_ + "/index-" + std::to_string(i) + ".hnsw";
    if (indexes_loaded && std::filesystem::exists(path)) {
      Result<std::unique_ptr<index::HnswIndex>> loaded = index::HnswIndex::Load(params, path);
      if (loaded.ok()) {
        dense_[i] = std::move(*loaded);
        continue;
      }
      QD_LOG_WARN(loaded.status().message() + "; rebuilding it from points.db");
    }
    indexes_loaded = false;
  }
  if (!indexes_loaded) {
    index_op_ = 0;
    for (size_t i = 0; i < specs_.size(); ++i) {
      if (specs_[i].sparse) continue;
      Result<std::unique_ptr<index::HnswIndex>> created = index::HnswIndex::Create(
          {specs_[i].dim, specs_[i].distance, specs_[i].m, specs_[i].ef_construct}, 1024);
      if (!created.ok()) return created.status();
      dense_[i] = std::move(*created);
    }
  }

  Result<sqlite::Stmt> rows = db_->Prepare("SELECT id, offset, version, vectors, payload FROM points");
  if (!rows.ok()) return rows.status();
  std::vector<std::pair<uint32_t, Vector>> to_index_by_spec[64];
  for (;;) {
    Result<bool> row = rows->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Slot slot;
    slot.id = PointIdFromKey(rows->Blob(0));
    uint32_t offset = static_cast<uint32_t>(rows->Int(1));
    slot.version = static_cast<OpNum>(rows->Int(2));
    if (slot.version == 0) return Status::Internal("points.db: point with version 0");
    Result<NamedVectors> vectors = DecodeVectors(rows->Blob(3));
    if (!vectors.ok()) return vectors.status();
    slot.SetPayload(rows->Text(4));
    present_.Grow(offset);
    for (auto& [name, v] : *vectors) {
      int s = SpecIndex(name);
      if (s < 0) continue;
      present_.Set(offset, s);
      if (v.sparse) {
        Vector& stored = slot.MutableSparse(s, specs_.size());
        stored = std::move(v);
        sparse_postings_[s].Set(offset, stored.indices, stored.values);
      } else if (!indexes_loaded || !dense_[s]->Contains(offset)) {
        to_index_by_spec[s].emplace_back(offset, std::move(v));
      }
    }
    offset_of_->Set(slot.id, offset);
    if (offset >= slots_.size()) slots_.resize(offset + 1);
    next_offset_ = std::max(next_offset_, offset + 1);
    slots_[offset] = std::move(slot);
  }
  Result<sqlite::Stmt> fields = db_->Prepare("SELECT field, schema FROM field_indexes");
  if (!fields.ok()) return fields.status();
  for (;;) {
    Result<bool> row = fields->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Status st = CreateFieldIndex(std::string(fields->Text(0)), std::string(fields->Text(1)));
    if (!st.ok()) return st;
  }
  for (size_t s = 0; s < specs_.size(); ++s) {
    if (to_index_by_spec[s].empty()) continue;
    std::vector<std::pair<uint32_t, const Vector*>> work;
    for (auto& [offset, v] : to_index_by_spec[s]) work.emplace_back(offset, &v);
    Status st = AddDense(work, static_cast<int>(s));
    if (!st.ok()) return st;
  }
  return RebuildPayloadLinks();
}

void Segment::CompactSparsePostings() {
  for (size_t s = 0; s < specs_.size(); ++s) {
    if (!specs_[s].sparse || !sparse_postings_[s].NeedsCompaction()) continue;
    sparse_postings_[s].Compact();
    offset_of_->ForEach([&](const PointId&, uint32_t offset) {
      const Vector& v = slots_[offset].sparse(s);
      if (!v.indices.empty()) sparse_postings_[s].Set(offset, v.indices, v.values);
    });
  }
}

Status Segment::AddDense(const std::vector<std::pair<uint32_t, const Vector*>>& given, int spec) {
  index::HnswIndex& index = *dense_[spec];
  // One point twice in an operation: its last vector wins, as if applied in order (two threads
  // would race for it), and HnswIndex::Add never sees one label on two threads at once.
  std::vector<std::pair<uint32_t, const Vector*>> deduplicated;
  const auto* work_ptr = &given;
  {
    std::vector<uint32_t> labels;
    labels.reserve(given.size());
    for (const auto& item : given) labels.push_back(item.first);
    std::sort(labels.begin(), labels.end());
    if (std::adjacent_find(labels.begin(), labels.end()) != labels.end()) {
      std::vector<bool> seen(labels.back() + 1);
      for (auto it = given.rbegin(); it != given.rend(); ++it) {
        if (seen[it->first]) continue;
        seen[it->first] = true;
        deduplicated.push_back(*it);
      }
      std::reverse(deduplicated.begin(), deduplicated.end());
      work_ptr = &deduplicated;
    }
  }
  const auto& work = *work_ptr;
  Status s = index.Reserve(work.size());
  if (!s.ok()) return s;
  // Two threads for real batches, like hnswlib's own ParallelFor; the graph takes concurrent
  // inserts (per-node locks).
  size_t threads = work.size() >= 64 ? std::min<size_t>(2, std::thread::hardware_concurrency()) : 1;
  index::HnswIndex::WriteScope writing(index);  // searches lock nodes for the whole batch
  std::atomic<size_t> next{0};
  std::mutex error_mu;
  Status first_error;
  auto run = [&] {
    for (size_t i = next++; i < work.size(); i = next++) {
      Status st = index.Add(work[i].first, work[i].second->dense.data());
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (first_error.ok()) first_error = st;
      }
    }
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(run);
  run();
  for (std::thread& t : helpers) t.join();
  return first_error;
}

Segment::PendingStore::Row Segment::RowOf(uint32_t offset) const {
  const Slot& slot = slots_[offset];
  NamedVectors vectors;
  for (size_t s = 0; s < specs_.size(); ++s) {
    if (!present_.Test(offset, s)) continue;
    Vector v;
    if (specs_[s].sparse) {
      v = slot.sparse(s);
    } else {
      dense_[s]->VectorOf(offset, v.dense);
    }
    vectors.emplace_back(specs_[s].name, std::move(v));
  }
  return PendingStore::Row{PointIdKey(slot.id), offset, slot.version, EncodeVectors(vectors),
                           ToJsonText(slot.payload())};
}

Status Segment::Apply(OpNum op_num, const Operation& op) {
  Result<PendingStore> pending = ApplyInMemory(op_num, op);
  if (!pending.ok()) return pending.status();
  return Store(*pending);
}

Result<Segment::PendingStore> Segment::ApplyInMemory(OpNum op_num, const Operation& op) {
  if (op_num <= applied_op_) return PendingStore{};
  return ApplyChanges(op_num, op, nullptr);
}

Status Segment::SetBase(OpNum base) {
  if (points_count() != 0) {
    return Status::FailedPrecondition("segment " + dir_ + " is not empty and cannot be rebased");
  }
  // The graph checkpoint on disk (if any) no longer describes these points: index_op 0 makes
  // the next open rebuild the graphs from points.db.
  sqlite::Transaction txn(*db_);
  Status s = txn.Begin();
  for (const char* key : {"applied_op", "index_op"}) {
    if (!s.ok()) break;
    Result<sqlite::Stmt> meta = db_->Prepare("INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)");
    s = meta.ok()
            ? meta->Bind(1, std::string(key))
                  .Bind(2, static_cast<int64_t>(std::string_view(key) == "applied_op" ? base : 0))
                  .Run()
            : meta.status();
  }
  if (s.ok()) s = txn.Commit();
  if (!s.ok()) return s.WithContext("segment " + dir_);
  applied_op_ = base;
  index_op_ = 0;
  return Status::Ok();
}

Status Segment::ApplyTransferred(const Operation& op, const std::vector<OpNum>& versions) {
  if (op.kind == OpKind::kUpsert && versions.size() != op.points.size()) {
    return Status::InvalidArgument("transferred points and versions differ in number");
  }
  Result<PendingStore> pending = ApplyChanges(applied_op_, op, &versions);
  if (!pending.ok()) return pending.status();
  pending->op_num = applied_op_;  // rows written, applied_op unchanged
  return Store(*pending);
}

Result<Segment::PendingStore> Segment::ApplyChanges(OpNum op_num, const Operation& op,
                                                    const std::vector<OpNum>* versions) {
  std::vector<uint32_t> touched;       // offsets to store
  std::vector<PointId> erased;         // ids to delete from points.db
  // Dense vectors to (re)index per spec, added outside the exclusive lock.
  std::vector<std::vector<std::pair<uint32_t, const Vector*>>> dense_work(specs_.size());
  std::vector<std::pair<uint32_t, uint64_t>> reveal;  // offset -> bits to make visible
  int field_change = 0;  // 1: index created, 2: dropped (persisted below)

  auto update_vectors = [&](Slot& slot, uint32_t offset, const NamedVectors& vectors,
                            bool replace_all) {
    uint64_t bits = 0;
    if (replace_all) {
      present_.ClearAll(offset);
      for (size_t s = 0; s < specs_.size(); ++s) {
        if (specs_[s].sparse) sparse_postings_[s].Remove(offset);
      }
      slot.ClearSparse();
    }
    for (const auto& [name, v] : vectors) {
      int s = SpecIndex(name);
      if (s < 0) continue;  // validated before logging; tolerate on replay
      if (specs_[s].sparse) {
        Vector& stored = slot.MutableSparse(s, specs_.size());
        stored = v;
        stored.sparse = true;
        SortSparse(stored);
        sparse_postings_[s].Set(offset, stored.indices, stored.values);
        present_.Set(offset, s);
      } else {
        present_.Clear(offset, s);  // invisible until indexed
        dense_work[s].emplace_back(offset, &v);
        if (vacuum_spec_ == s) vacuum_changed_.push_back(offset);
        bits |= uint64_t(1) << s;
      }
    }
    if (bits) reveal.emplace_back(offset, bits);
  };

  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    switch (op.kind) {
      case OpKind::kUpsert:
        for (size_t i = 0; i < op.points.size(); ++i) {
          const PointStruct& p = op.points[i];
          std::optional<uint32_t> found = offset_of_->Find(p.id);
          uint32_t offset;
          if (!found) {
            offset = NewOffset();
            if (offset >= slots_.size()) slots_.resize(offset + 1);
            slots_[offset] = Slot();
            slots_[offset].id = p.id;
            present_.Grow(offset);
            offset_of_->Set(p.id, offset);
          } else {
            offset = *found;
          }
          Slot& slot = slots_[offset];
          slot.version = versions != nullptr ? (*versions)[i] : op_num;
          slot.SetPayload(p.payload_json);
          payload_indexes_.Add(offset, slot.payload());
          update_vectors(slot, offset, p.vectors, /*replace_all=*/true);
          touched.push_back(offset);
        }
        break;
      case OpKind::kUpdateVectors:
        for (const PointStruct& p : op.points) {
          std::optional<uint32_t> offset = offset_of_->Find(p.id);
          if (!offset) continue;
          Slot& slot = slots_[*offset];
          slot.version = op_num;
          update_vectors(slot, *offset, p.vectors, /*replace_all=*/false);
          touched.push_back(*offset);
        }
        break;
      case OpKind::kDeletePoints:
        for (const PointId& id : op.ids) {
          std::optional<uint32_t> offset = offset_of_->Find(id);
          if (!offset) continue;
          payload_indexes_.Remove(*offset);
          present_.ClearAll(*offset);
          for (size_t s = 0; s < specs_.size(); ++s) {
            if (specs_[s].sparse) sparse_postings_[s].Remove(*offset);
          }
          slots_[*offset] = Slot();  // free; the HNSW node stays as a dead waypoint
          offset_of_->Erase(id);
          erased.push_back(id);
        }
        break;
      case OpKind::kDeleteVectors:
        for (const PointId& id : op.ids) {
          std::optional<uint32_t> offset = offset_of_->Find(id);
          if (!offset) continue;
          Slot& slot = slots_[*offset];
          for (const std::string& name : op.names) {
            int s = SpecIndex(name);
            if (s < 0) continue;
            present_.Clear(*offset, s);
            if (specs_[s].sparse) {
              sparse_postings_[s].Remove(*offset);
              slot.MutableSparse(s, specs_.size()) = Vector();
            }
          }
          slot.version = op_num;
          touched.push_back(*offset);
        }
        break;
      case OpKind::kSetPayload:
      case OpKind::kOverwritePayload:
      case OpKind::kDeletePayload:
      case OpKind::kClearPayload: {
        rapidjson::Document given;
        if (!op.payload_json.empty()) given.Parse(op.payload_json.data(), op.payload_json.size());
        // Paths were validated before the op was logged; one that no longer parses is skipped.
        std::optional<index::JsonPath> key_path;
        if (op.key) {
          Result<index::JsonPath> k = index::ParseJsonPath(*op.key);
          if (k.ok()) key_path = std::move(*k);
        }
        std::vector<index::JsonPath> delete_paths;
        for (const std::string& name : op.names) {
          Result<index::JsonPath> k = index::ParseJsonPath(name);
          if (k.ok()) delete_paths.push_back(std::move(*k));
        }
        for (const PointId& id : op.ids) {
          std::optional<uint32_t> offset = offset_of_->Find(id);
          if (!offset) continue;
          Slot* slot = &slots_[*offset];
          rapidjson::Document next;
          next.CopyFrom(slot->payload(), next.GetAllocator());
          if (op.kind == OpKind::kOverwritePayload || op.kind == OpKind::kClearPayload) {
            next.SetObject();
          }
          if ((op.kind == OpKind::kSetPayload || op.kind == OpKind::kOverwritePayload) &&
              given.IsObject()) {
            if (op.key && key_path) {
              index::SetPayloadAt(next, *key_path, given, next.GetAllocator());
            } else {
              index::SetPayload(next, given, next.GetAllocator());
            }
          }
          if (op.kind == OpKind::kDeletePayload) {
            for (const index::JsonPath& path : delete_paths) index::DeletePayloadPath(next, path);
          }
          slot->SetPayload(next);
          slot->version = op_num;
          payload_indexes_.Add(*offset, slot->payload());
          touched.push_back(*offset);
        }
        break;
      }
      case OpKind::kCreateFieldIndex: {
        Status st = CreateFieldIndex(op.field_name, op.field_schema_json);
        if (!st.ok()) {
          QD_LOG_WARN("segment " + dir_ + ": " + st.message());
          break;
        }
        field_change = 1;
        break;
      }
      case OpKind::kDeleteFieldIndex: {
        Result<index::JsonPath> path = index::ParseJsonPath(op.field_name);
        if (path.ok()) payload_indexes_.Drop(*path);
        field_change = 2;
        break;
      }
    }
    CompactSparsePostings();
  }

  for (size_t s = 0; s < specs_.size(); ++s) {
    if (dense_work[s].empty()) continue;
    Status st = AddDense(dense_work[s], static_cast<int>(s));
    if (!st.ok()) return st;
  }
  if (!reveal.empty()) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    for (auto [offset, bits] : reveal) {
      if (offset < slots_.size() && slots_[offset].live()) present_.SetAll(offset, bits);
    }
  }
  {
    // Payload links: a new or dropped payload index changes every group (built again: the
    // write waits, as for the index itself); otherwise the touched points join theirs.
    Status st = field_change ? RebuildPayloadLinks() : LinkPayloads(touched);
    if (!st.ok()) return st;
  }

  // What points.db gets, captured now: the next op may change these slots before it is stored.
  PendingStore pending;
  pending.op_num = op_num;
  pending.field_change = field_change;
  pending.field_name = op.field_name;
  pending.field_schema_json = op.field_schema_json;
  std::shared_lock<std::shared_mutex> lock(mu_);
  pending.rows.reserve(touched.size());
  for (uint32_t offset : touched) {
    if (offset < slots_.size() && slots_[offset].live()) pending.rows.push_back(RowOf(offset));
  }
  for (const PointId& id : erased) pending.erased.push_back(PointIdKey(id));
  return pending;
}

Status Segment::Store(const PendingStore& pending) {
  if (pending.op_num == 0 && pending.rows.empty() && pending.erased.empty() &&
      !pending.field_change) {
    return Status::Ok();
  }
  // One transaction with the op number it reaches.
  sqlite::Transaction txn(*db_);
  Status s = txn.Begin();
  if (s.ok() && !pending.rows.empty()) {
    Result<sqlite::Stmt> insert = db_->Prepare(
        "INSERT OR REPLACE INTO points(id, offset, version, vectors, payload) VALUES(?,?,?,?,?)");
    s = insert.status();
    for (const PendingStore::Row& row : pending.rows) {
      if (!s.ok()) break;
      s = insert->BindBlob(1, row.key.data(), row.key.size())
              .Bind(2, static_cast<int64_t>(row.offset))
              .Bind(3, static_cast<int64_t>(row.version))
              .BindBlob(4, row.vectors.data(), row.vectors.size())
              .Bind(5, row.payload)
              .Run();
    }
  }
  if (s.ok() && !pending.erased.empty()) {
    Result<sqlite::Stmt> erase = db_->Prepare("DELETE FROM points WHERE id = ?");
    s = erase.status();
    for (const std::string& key : pending.erased) {
      if (!s.ok()) break;
      s = erase->BindBlob(1, key.data(), key.size()).Run();
    }
  }
  if (s.ok() && pending.field_change) {
    Result<sqlite::Stmt> f = db_->Prepare(pending.field_change == 1
        ? "INSERT OR REPLACE INTO field_indexes(field, schema) VALUES(?, ?)"
        : "DELETE FROM field_indexes WHERE field = ? OR ? IS NULL");
    if (f.ok()) {
      f->Bind(1, pending.field_name);
      if (pending.field_change == 1) {
        f->Bind(2, pending.field_schema_json);
      } else {
        f->BindNull(2);
      }
      s = f->Run();
    } else {
      s = f.status();
    }
  }
  if (s.ok()) {
    Result<sqlite::Stmt> meta = db_->Prepare("INSERT OR REPLACE INTO meta(k, v) VALUES('applied_op', ?)");
    s = meta.ok() ? meta->Bind(1, static_cast<int64_t>(pending.op_num)).Run() : meta.status();
  }
  if (s.ok()) s = txn.Commit();
  if (!s.ok()) return s.WithContext("segment " + dir_);
  applied_op_ = pending.op_num;
  return Status::Ok();
}

Status Segment::SaveIndexes() {
  Result<IndexImages> images = CaptureIndexes();
  if (!images.ok()) return images.status();
  if (Status s = WriteIndexes(*images); !s.ok()) return s;
  return CommitIndexes(*images);
}

std::vector<size_t> Segment::IndexImageHints() const {
  std::vector<size_t> out(specs_.size(), 0);
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (dense_[i]) out[i] = dense_[i]->ImageSizeHint();
  }
  return out;
}

Result<Segment::IndexImages> Segment::CaptureIndexes(std::vector<std::string> buffers) const {
  IndexImages out;
  out.covered = applied_op_;
  const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Internal("cannot open " + dir_ + ": " + std::strerror(errno));
  out.dir_fd = std::shared_ptr<const int>(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
  buffers.resize(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (!dense_[i]) continue;
    dense_[i]->ImageInto(buffers[i]);
    out.files.emplace_back("index-" + std::to_string(i) + ".hnsw", std::move(buffers[i]));
  }
  return out;
}

Status Segment::WriteIndexes(const IndexImages& images) {
  for (const auto& [name, bytes] : images.files) {
    if (Status s = index::HnswIndex::WriteImage(bytes, *images.dir_fd, name); !s.ok()) return s;
  }
  // The renames are durable before points.db says the files cover `covered`.
  if (::fsync(*images.dir_fd) != 0) {
    return Status::Internal(std::string("cannot sync an index directory: ") + std::strerror(errno));
  }
  return Status::Ok();
}

Status Segment::CommitIndexes(const IndexImages& images) {
  Result<sqlite::Stmt> meta = db_->Prepare("INSERT OR REPLACE INTO meta(k, v) VALUES('index_op', ?)");
  if (!meta.ok()) return meta.status();
  Status s = meta->Bind(1, static_cast<int64_t>(images.covered)).Run();
  if (s.ok()) index_op_ = images.covered;
  return s;
}

Status Segment::SyncFromStore(const std::vector<PointId>& ids) {
  // Points loaded from points.db are already in memory; their dense vectors may be missing from
  // or stale in a loaded index checkpoint.
  Result<sqlite::Stmt> stmt = db_->Prepare("SELECT offset, vectors FROM points WHERE id = ?");
  if (!stmt.ok()) return stmt.status();
  std::vector<std::vector<std::pair<uint32_t, Vector>>> work(specs_.size());
  for (const PointId& id : ids) {
    std::string key = PointIdKey(id);
    stmt->BindBlob(1, key.data(), key.size());
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (*row) {
      uint32_t offset = static_cast<uint32_t>(stmt->Int(0));
      Result<NamedVectors> vectors = DecodeVectors(stmt->Blob(1));
      if (!vectors.ok()) return vectors.status();
      for (auto& [name, v] : *vectors) {
        int s = SpecIndex(name);
        if (s >= 0 && !v.sparse) work[s].emplace_back(offset, std::move(v));
      }
    }
    stmt->Reset();
  }
  for (size_t s = 0; s < specs_.size(); ++s) {
    std::vector<std::pair<uint32_t, const Vector*>> refs;
    for (auto& [offset, v] : work[s]) refs.emplace_back(offset, &v);
    if (refs.empty()) continue;
    Status st = AddDense(refs, static_cast<int>(s));
    if (!st.ok()) return st;
  }
  std::vector<uint32_t> offsets;
  for (const auto& spec_work : work) {
    for (const auto& item : spec_work) offsets.push_back(item.first);
  }
  return LinkPayloads(offsets);
}

Status Segment::CreateFieldIndex(const std::string& field, const std::string& schema_json) {
  Result<index::JsonPath> path = index::ParseJsonPath(field);
  if (!path.ok()) return path.status();
  rapidjson::Document schema;
  schema.Parse(schema_json.data(), schema_json.size());
  if (schema.HasParseError()) return Status::Internal("corrupt field schema of " + field);
  Result<index::PayloadFieldSchema> parsed = index::ParsePayloadFieldSchema(schema);
  if (!parsed.ok()) return parsed.status();
  index::PayloadFieldIndex& created = payload_indexes_.Create(*path, std::move(*parsed));
  offset_of_->ForEach(
      [&](const PointId&, uint32_t offset) { created.Add(offset, slots_[offset].payload()); });
  return Status::Ok();
}

size_t Segment::PayloadM(int spec) const { return specs_[spec].payload_m.value_or(specs_[spec].m); }

size_t Segment::LinkThresholdPoints(int spec) const {
  const size_t vector_bytes = std::max<size_t>(1, specs_[spec].dim * sizeof(float));
  return specs_[spec].full_scan_threshold_kb * 1024 / vector_bytes;
}

std::string Segment::GroupId(const std::string& field, const std::string& key) {
  return field + '\x1f' + key;
}

namespace {

// A group's labels as an Accept bitset (those with the spec's vector), and up to 16 of them,
// spread over the group, for a walk within it to start from.
struct GroupWalk {
  std::vector<uint64_t> words;
  std::vector<uint32_t> seeds;
  index::HnswIndex::Accept accept;
};

void MakeGroupWalk(const std::vector<uint32_t>& members, const Presence& present, size_t spec,
                   GroupWalk& out) {
  out.words.assign((present.size() + 63) / 64, 0);
  std::vector<uint32_t> in;
  for (uint32_t offset : members) {
    if (!present.Test(offset, spec)) continue;
    out.words[offset >> 6] |= uint64_t{1} << (offset & 63);
    in.push_back(offset);
  }
  out.seeds.clear();
  const size_t step = std::max<size_t>(1, in.size() / 16);
  for (size_t i = 0; i < in.size(); i += step) out.seeds.push_back(in[i]);
  out.accept = index::HnswIndex::Accept{out.words.data(), present.size(), nullptr};
}

}  // namespace

Status Segment::LinkPayloads(const std::vector<uint32_t>& offsets) {
  if (offsets.empty()) return Status::Ok();
  for (size_t s = 0; s < specs_.size(); ++s) {
    if (specs_[s].sparse || !dense_[s] || PayloadM(int(s)) == 0) continue;
    const size_t m = PayloadM(int(s)), threshold = LinkThresholdPoints(int(s));
    // What to do, read under the lock; the graph work runs without it (searches go on).
    struct Work {
      bool build = false;          // the group just passed the threshold: link all of it
      std::vector<uint32_t> join;  // else: these points join its links
      GroupWalk walk;
      std::vector<uint32_t> members;
    };
    std::map<std::string, Work> work;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      for (const auto& [name, field] : payload_indexes_.indexes()) {
        if (!field->Groupable()) continue;
        for (uint32_t offset : offsets) {
          if (offset >= slots_.size() || !slots_[offset].live()) continue;
          if (!present_.Test(offset, s)) continue;
          for (const std::string& key : field->GroupsOf(offset)) {
            const std::string id = GroupId(name, key);
            auto [it, fresh] = work.try_emplace(id);
            Work& w = it->second;
            if (fresh) {
              w.members = field->GroupMembers(key);
              if (w.members.size() <= threshold) {
                w.members.clear();
                continue;
              }
              w.build = linked_groups_[s].count(id) == 0;
              if (!w.build) MakeGroupWalk(w.members, present_, s, w.walk);
            }
            if (!w.build && !w.members.empty()) w.join.push_back(offset);
          }
        }
      }
    }
    for (auto& [id, w] : work) {
      if (w.members.empty()) continue;
      if (w.build) {
        Status st = dense_[s]->LinkGroup(w.members, m, specs_[s].ef_construct);
        if (!st.ok()) return st;
        std::unique_lock<std::shared_mutex> lock(mu_);
        linked_groups_[s].insert(id);
        continue;
      }
      for (uint32_t offset : w.join) {
        dense_[s]->LinkIntoGroup(offset, w.walk.accept, w.walk.seeds, m, specs_[s].ef_construct);
      }
    }
  }
  return Status::Ok();
}

Status Segment::RebuildPayloadLinks() {
  for (size_t s = 0; s < specs_.size(); ++s) {
    if (specs_[s].sparse || !dense_[s]) continue;
    std::vector<std::pair<std::string, std::vector<uint32_t>>> groups;
    {
      std::unique_lock<std::shared_mutex> lock(mu_);
      const bool had_links = !linked_groups_[s].empty();
      linked_groups_[s].clear();
      if (had_links) dense_[s]->ClearPayloadLinks();
      if (PayloadM(int(s)) == 0) continue;
      for (const auto& [name, field] : payload_indexes_.indexes()) {
        for (const std::string& key : field->GroupsLargerThan(LinkThresholdPoints(int(s)))) {
          groups.emplace_back(GroupId(name, key), field->GroupMembers(key));
        }
      }
    }
    for (auto& [id, members] : groups) {
      Status st = dense_[s]->LinkGroup(members, PayloadM(int(s)), specs_[s].ef_construct);
      if (!st.ok()) return st;
      std::unique_lock<std::shared_mutex> lock(mu_);
      linked_groups_[s].insert(id);
    }
  }
  return Status::Ok();
}

std::optional<std::vector<uint32_t>> Segment::LinkedGroupOf(const PointFilter* filter,
                                                            int spec) const {
  if (!filter || !filter->filter || linked_groups_[spec].empty()) return std::nullopt;
  std::optional<std::vector<uint32_t>> best;
  for (const index::Condition& c : filter->filter->must()) {
    const auto* field = std::get_if<index::FieldCondition>(&c.body);
    if (!field) continue;
    const index::PayloadFieldIndex* idx = payload_indexes_.Find(field->key);
    if (!idx) continue;
    std::optional<std::string> key = idx->GroupOf(*field);
    if (!key) continue;
    for (const auto& [name, found] : payload_indexes_.indexes()) {
      if (found.get() != idx || !linked_groups_[spec].count(GroupId(name, *key))) continue;
      std::vector<uint32_t> members = idx->GroupMembers(*key);
      if (!best || members.size() < best->size()) best = std::move(members);
    }
  }
  return best;
}

std::vector<uint32_t> Segment::CandidateOffsets(const PointFilter* filter) const {
  std::optional<std::vector<uint32_t>> planned = PlannedOffsets(filter);
  if (planned) return std::move(*planned);
  std::vector<uint32_t> out;
  out.reserve(offset_of_->size());
  offset_of_->ForEach([&](const PointId&, uint32_t offset) { out.push_back(offset); });
  return out;
}

std::optional<index::CandidatePlan> Segment::Plan(const PointFilter* filter) const {
  if (!filter || !filter->filter) return std::nullopt;
  index::CandidatePlan plan = payload_indexes_.Plan(
      *filter->filter, offset_of_->size(),
      [this](const PointId& id) -> std::optional<uint32_t> { return offset_of_->Find(id); });
  if (plan.candidates) {
    std::vector<uint32_t>& c = *plan.candidates;
    c.erase(std::remove_if(c.begin(), c.end(),
                           [&](uint32_t o) { return o >= slots_.size() || !slots_[o].live(); }),
            c.end());
  }
  return plan;
}

std::optional<std::vector<uint32_t>> Segment::PlannedOffsets(const PointFilter* filter) const {
  std::vector<uint32_t> out;
  if (filter && filter->filter) {
    index::CandidatePlan plan = payload_indexes_.Plan(
        *filter->filter, offset_of_->size(),
        [this](const PointId& id) -> std::optional<uint32_t> { return offset_of_->Find(id); });
    if (plan.candidates) {
      for (uint32_t offset : *plan.candidates) {
        if (offset < slots_.size() && slots_[offset].live()) out.push_back(offset);
      }
      return out;
    }
  }
  return std::nullopt;
}

std::vector<Segment::FieldIndexInfo> Segment::FieldIndexes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<FieldIndexInfo> out;
  for (const auto& [name, idx] : payload_indexes_.indexes()) {
    out.push_back(FieldIndexInfo{name, std::string(index::PayloadFieldTypeName(idx->schema().type)),
                                 idx->PointsCount(), idx->schema().params_json});
  }
  return out;
}

int Segment::SpecNeedingVacuum(double threshold, size_t min_vectors) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (size_t s = 0; s < specs_.size(); ++s) {
    if (!dense_[s]) continue;
    size_t labels = dense_[s]->size();
    if (labels < min_vectors || labels == 0) continue;
    size_t live = present_.Count(s);
    if (double(labels - std::min(live, labels)) / double(labels) > threshold) return static_cast<int>(s);
  }
  return -1;
}

std::vector<uint32_t> Segment::BeginVacuum(int spec) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  vacuum_spec_ = spec;
  vacuum_changed_.clear();
  std::vector<uint32_t> labels;
  for (uint32_t offset = 0; offset < present_.size(); ++offset) {
    if (present_.Test(offset, spec)) labels.push_back(offset);
  }
  return labels;
}

Result<std::unique_ptr<index::HnswIndex>> Segment::BuildVacuumed(int spec, const std::vector<uint32_t>& labels) const {
  const VectorSpec& vs = specs_[spec];
  Result<std::unique_ptr<index::HnswIndex>> fresh = index::HnswIndex::Create(
      {vs.dim, vs.distance, vs.m, vs.ef_construct}, labels.size() + labels.size() / 8 + 16);
  if (!fresh.ok()) return fresh.status();
  // The current graph is only read (VectorOf is safe beside the writer); one thread, so the
  // optimizer leaves a core to searches and upserts.
  std::vector<float> v;
  for (uint32_t label : labels) {
    bool found;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      found = dense_[spec]->VectorOf(label, v);
    }
    if (!found) continue;
    Status s = (*fresh)->Add(label, v.data());
    if (!s.ok()) return s;
  }
  return fresh;
}

Status Segment::FinishVacuum(int spec, std::unique_ptr<index::HnswIndex> fresh) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  std::vector<float> v;
  Status s = fresh->Reserve(vacuum_changed_.size());
  for (uint32_t label : vacuum_changed_) {
    if (!s.ok()) break;
    if (dense_[spec]->VectorOf(label, v)) s = fresh->Add(label, v.data());
  }
  vacuum_spec_ = -1;
  vacuum_changed_.clear();
  if (!s.ok()) return s;
  dense_[spec] = std::move(fresh);
  lock.unlock();
  return RebuildPayloadLinks();  // the fresh graph has none
}

void Segment::AbortVacuum() {
  std::unique_lock<std::shared_mutex> lock(mu_);
  vacuum_spec_ = -1;
  vacuum_changed_.clear();
}

bool Segment::Exists(const PointId& id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return offset_of_->Find(id).has_value();
}

size_t Segment::points_count() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return offset_of_->size();
}

size_t Segment::Count(const PointFilter* filter) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (!filter || !*filter) return offset_of_->size();
  size_t n = 0;
  for (uint32_t offset : CandidateOffsets(filter)) {
    n += (*filter)(slots_[offset].id, slots_[offset].payload()) ? 1 : 0;
  }
  return n;
}

std::vector<PointId> Segment::Matching(const PointFilter& filter) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<PointId> out;
  for (uint32_t offset : CandidateOffsets(&filter)) {
    if (filter(slots_[offset].id, slots_[offset].payload())) out.push_back(slots_[offset].id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> Segment::PayloadJson(const PointId& id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::optional<uint32_t> offset = offset_of_->Find(id);
  if (!offset) return std::nullopt;
  return ToJsonText(slots_[*offset].payload());
}

void Segment::FillRecord(const Slot& slot, uint32_t offset, const Projection& projection,
                         RecordBatch& batch, PointRecord& record) const {
  record.id = slot.id;
  record.version = slot.version;
  if (projection.payload) {
    record.has_payload = true;
    projection.payload(slot.payload(), record.payload, batch.Allocator());
  }
  if (projection.any_vectors()) {
    record.has_vectors = true;
    for (size_t s = 0; s < specs_.size(); ++s) {
      if (!present_.Test(offset, s)) continue;
      if (!projection.all_vectors &&
          std::find(projection.vector_names.begin(), projection.vector_names.end(),
                    specs_[s].name) == projection.vector_names.end()) {
        continue;
      }
      Vector v;
      if (specs_[s].sparse) {
        v = slot.sparse(s);
      } else if (!dense_[s]->VectorOf(offset, v.dense)) {
        continue;
      }
      record.vectors.emplace_back(specs_[s].name, std::move(v));
    }
  }
}

RecordBatch Segment::Retrieve(const std::vector<PointId>& ids, const Projection& projection) const {
  RecordBatch batch;
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (const PointId& id : ids) {
    std::optional<uint32_t> offset = offset_of_->Find(id);
    if (!offset) continue;
    PointRecord record;
    FillRecord(slots_[*offset], *offset, projection, batch, record);
    batch.points.push_back(std::move(record));
  }
  return batch;
}

RecordBatch Segment::Scroll(const std::optional<PointId>& from, size_t limit,
                            const PointFilter* filter, const Projection& projection) const {
  RecordBatch batch;
  std::shared_lock<std::shared_mutex> lock(mu_);
  offset_of_->ForEachFrom(from, [&](const PointId&, uint32_t offset) {
    if (batch.points.size() >= limit) return false;
    const Slot& slot = slots_[offset];
    if (filter && *filter && !(*filter)(slot.id, slot.payload())) return true;
    PointRecord record;
    FillRecord(slot, offset, projection, batch, record);
    batch.points.push_back(std::move(record));
    return true;
  });
  return batch;
}

Status NoRangeIndexForOrderBy(const std::string& key) {
  return Status::InvalidArgument(
      "Bad request: No range index for `order_by` key: `" + key +
      "`. Please create one to use `order_by`. Check "
      "https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload "
      "schemas support Range conditions");
}

bool OrderedBefore(const PointRecord& a, const PointRecord& b, bool descending) {
  const int c = index::CompareOrderValues(*a.order_value, *b.order_value);
  if (c != 0) return descending ? c > 0 : c < 0;
  return descending ? b.id < a.id : a.id < b.id;
}

bool Segment::HasOrderByIndex(const index::JsonPath& path) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  const index::PayloadFieldIndex* field = payload_indexes_.Find(path);
  return field != nullptr && field->SupportsOrderBy();
}

Result<RecordBatch> Segment::ScrollOrdered(const OrderBy& order_by, size_t limit,
                                           const PointFilter* filter,
                                           const Projection& projection) const {
  RecordBatch batch;
  std::shared_lock<std::shared_mutex> lock(mu_);
  const index::PayloadFieldIndex* field = payload_indexes_.Find(order_by.path);
  if (field == nullptr || !field->SupportsOrderBy()) return NoRangeIndexForOrderBy(order_by.key);
  if (limit == 0) return batch;
  const bool descending = order_by.descending;
  const bool filtered = filter && *filter;
  auto accept = [&](uint32_t offset) {
    if (offset >= slots_.size() || !slots_[offset].live()) return false;
    return !filtered || (*filter)(slots_[offset].id, slots_[offset].payload());
  };
  std::vector<PointRecord> hits;
  auto add = [&](const index::OrderValue& value, uint32_t offset) {
    PointRecord r;
    r.id = slots_[offset].id;
    r.offset = offset;
    r.order_value = value;
    hits.push_back(std::move(r));
  };
  std::optional<std::vector<uint32_t>> planned = PlannedOffsets(filter);
  if (planned && planned->size() * 4 < field->PointsCount()) {
    // The payload indexes narrowed the filter to a few points: order those rather than walk the
    // whole field index testing the filter at every value.
    for (uint32_t offset : *planned) {
      if (!accept(offset)) continue;
      for (const index::OrderValue& value : field->OrderValuesOf(offset)) {
        if (order_by.start_from) {
          const int c = index::CompareOrderValues(value, *order_by.start_from);
          if (descending ? c > 0 : c < 0) continue;
        }
        add(value, offset);
      }
    }
  } else {
    // Walk the values in order; past the limit-th hit, finish its run of equal values (their
    // order is by id, which the walk does not follow) and stop.
    field->ForEachOrdered(
        descending, order_by.start_from, [&](const index::OrderValue& value, uint32_t offset) {
          if (hits.size() >= limit &&
              index::CompareOrderValues(value, *hits[limit - 1].order_value) != 0) {
            return false;
          }
          if (accept(offset)) add(value, offset);
          return true;
        });
  }
  const size_t keep = std::min(limit, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + keep, hits.end(),
                    [descending](const PointRecord& a, const PointRecord& b) {
                      return OrderedBefore(a, b, descending);
                    });
  hits.resize(keep);
  for (PointRecord& r : hits) {
    const uint32_t offset = r.offset;
    FillRecord(slots_[offset], offset, projection, batch, r);
    batch.points.push_back(std::move(r));
  }
  return batch;
}

Result<RecordBatch> Segment::Search(const SearchSpec& spec, const Projection& projection) const {
  int s = SpecIndex(spec.vector_name);
  if (s < 0) {
    return Status::InvalidArgument("Wrong input: Not existing vector name error: " +
                                   (spec.vector_name.empty() ? std::string("default vector")
                                                             : spec.vector_name));
  }
  const VectorSpec& vs = specs_[s];
  if (vs.sparse != spec.query.sparse) {
    return Status::InvalidArgument(std::string("Wrong input: vector `") + vs.name + "` is " +
                                   (vs.sparse ? "sparse" : "dense") + ", the query is not");
  }
  if (!vs.sparse && spec.query.dense.size() != vs.dim) {
    return Status::InvalidArgument("Wrong input: Vector dimension error: expected dim: " +
                                   std::to_string(vs.dim) + ", got " +
                                   std::to_string(spec.query.dense.size()));
  }
  const size_t want = spec.limit + spec.offset;
  RecordBatch batch;
  std::vector<PointRecord> hits;
  std::shared_lock<std::shared_mutex> lock(mu_);
  const bool filtered = spec.filter && *spec.filter;
  // The present_ bitset answers without touching the points unless there is a filter.
  auto accept = [&](uint32_t offset) {
    if (!present_.Test(offset, s)) return false;
    if (!filtered) return true;
    const Slot& slot = slots_[offset];
    return (*spec.filter)(slot.id, slot.payload());
  };
  auto passes_threshold = [&](float score) {
    if (!spec.score_threshold) return true;
    bool distance_like = !vs.sparse && (vs.distance == index::Distance::kEuclid ||
                                        vs.distance == index::Distance::kManhattan);
    return distance_like ? score <= *spec.score_threshold : score >= *spec.score_threshold;
  };

  if (vs.sparse) {
    Vector query = spec.query;
    SortSparse(query);
    // Only points listed under one of the query's dimensions can overlap it; each is scored by
    // its current vector (a listing may be stale: see SparsePostings).
    // The posting lists score every point that shares a dimension with the query; records are
    // made for the best only (a common dimension makes most points candidates).
    std::vector<std::pair<float, uint32_t>> scored =
        sparse_postings_[s].Score(query.indices, query.values);
    std::erase_if(scored, [&](const std::pair<float, uint32_t>& hit) {
      return !accept(hit.second) || !passes_threshold(hit.first);
    });
    const size_t best = std::min(want, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + best, scored.end(),
                      [&](const auto& a, const auto& b) {
                        if (a.first != b.first) return a.first > b.first;
                        return slots_[a.second].id < slots_[b.second].id;
                      });
    hits.reserve(best);
    for (size_t i = 0; i < best; ++i) {
      PointRecord r;
      r.id = slots_[scored[i].second].id;
      r.offset = scored[i].second;
      r.score = scored[i].first;
      r.distance = -r.score;
      hits.push_back(std::move(r));
    }
  } else {
    const index::HnswIndex& index = *dense_[s];
    // The planner (index/search_planner.h): exact when asked, or when the payload indexes narrow
    // the filter to fewer points than Qdrant's full_scan_threshold (kilobytes of vectors), as
    // Qdrant does. Above it, a filtered search takes the cheaper path by the cost model: the
    // scan of the candidates, or the graph walk, which measures the filter's selectivity around
    // the query over its first labels and hands over to the scan when that makes it the dearer.
    std::optional<index::CandidatePlan> plan = Plan(spec.filter);
    const size_t points = offset_of_->size();
    const size_t scanned = plan && plan->candidates ? plan->candidates->size() : points;
    const size_t kb = scanned * vs.dim * sizeof(float) / 1024;
    const size_t ef = std::max(spec.ef ? spec.ef : std::max<size_t>(vs.ef_construct, want), want);
    index::PlannerInputs costs;
    costs.dim = vs.dim;
    costs.points = points;
    costs.scanned = scanned;
    costs.matches = plan ? std::min(plan->expected_matches, double(scanned)) : double(points);
    costs.ef = ef;
    costs.walk_distances_per_ef = index.WalkDistancesPerEf();
    bool exact = spec.exact || (kb < vs.full_scan_threshold_kb && !spec.force_graph);
    // A filter on a value whose points have payload links walks within them: the walk then
    // meets only that value's points, wherever the query is, and costs what an unfiltered walk
    // of a graph that size does (selectivity: the filter's share of the group). No probe.
    std::optional<std::vector<uint32_t>> group;
    if (!exact && filtered) group = LinkedGroupOf(spec.filter, s);
    index::PlannerInputs group_costs = costs;
    if (group) {
      group_costs.points = group->size();
      group_costs.matches = std::min(costs.matches, double(group->size()));
    }
    const bool planned = filtered && !spec.force_graph;
    if (!exact && planned && group) {
      const double in_group = group_costs.matches / double(std::max<size_t>(1, group->size()));
      exact = index::SearchPlanner::WalkCostNs(group_costs, in_group) >
              index::SearchPlanner::ExactCostNs(costs);
    } else if (!exact && planned) {
      exact = index::SearchPlanner::Decide(costs) == index::SearchPath::kExact;
    }
    bool walked = false;
    if (!exact) {
      // The walk tests candidates against a bitset (present and, when the payload indexes
      // narrowed the filter, among their candidates) before it pays for Filter::Matches over a
      // payload: most labels a selective filter's walk reaches fail the bitset.
      const uint64_t* words = present_.Words(s);
      std::vector<uint64_t> narrowed;
      if (plan && plan->candidates) {
        narrowed.assign((present_.size() + 63) / 64, 0);
        for (uint32_t offset : *plan->candidates) {
          if (offset < present_.size()) narrowed[offset >> 6] |= uint64_t{1} << (offset & 63);
        }
        for (size_t w = 0; w < narrowed.size(); ++w) narrowed[w] &= words[w];
        words = narrowed.data();
      }
      std::function<bool(uint32_t)> filter_check = [&](uint32_t offset) {
        const Slot& slot = slots_[offset];
        return (*spec.filter)(slot.id, slot.payload());
      };
      index::HnswIndex::Accept graph_accept{words, present_.size(),
                                            filtered ? &filter_check : nullptr};
      index::HnswIndex::Walk walk;
      GroupWalk within;
      if (group) {
        MakeGroupWalk(*group, present_, s, within);
        walk.within = &within.accept;
        walk.seeds = within.seeds;
      } else if (planned) {
        walk.probe_after = index::SearchPlanner::kProbeLabels;
        walk.keep_going = [&](size_t tested, size_t passed) {
          return index::SearchPlanner::KeepWalking(costs, tested, passed);
        };
      }
      std::vector<index::Hit> found =
          index.Search(spec.query.dense.data(), want, ef, graph_accept, &walk);
      if (walk.abandoned) {
        CountSearchPath(SearchPathTaken::kWalkThenExact);
      } else {
        CountSearchPath(SearchPathTaken::kWalk);
        walked = true;
        // Each hit's slot is a cache miss of its own: ask for all of them before the first.
        for (const index::Hit& h : found) __builtin_prefetch(&slots_[h.label]);
        hits.reserve(found.size());
        for (const index::Hit& h : found) {
          PointRecord r;
          r.id = slots_[h.label].id;
          r.offset = h.label;
          r.distance = h.distance;
          hits.push_back(std::move(r));
        }
      }
    } else {
      CountSearchPath(SearchPathTaken::kExact);
    }
    if (!walked) {
      std::vector<float> q = index.PrepareQuery(spec.query.dense.data());
      std::vector<uint32_t> all =
          plan && plan->candidates ? std::move(*plan->candidates) : CandidateOffsets(nullptr);
      all.erase(std::remove_if(all.begin(), all.end(), [&](uint32_t o) { return !accept(o); }),
                all.end());
      std::vector<float> distances = index.DistancesTo(q.data(), all);
      hits.reserve(all.size());
      for (size_t i = 0; i < all.size(); ++i) {
        PointRecord r;
        r.id = slots_[all[i]].id;
        r.offset = all[i];
        r.distance = distances[i];
        hits.push_back(std::move(r));
      }
    }
    for (PointRecord& r : hits) r.score = index::HnswIndex::Score(vs.distance, r.distance);
    if (vs.distance == index::Distance::kEuclid) {
      for (PointRecord& r : hits) r.distance = r.score;  // sqrt is monotonic; keep ties exact
    }
    if (spec.score_threshold) {
      hits.erase(std::remove_if(hits.begin(), hits.end(),
                                [&](const PointRecord& r) { return !passes_threshold(r.score); }),
                 hits.end());
    }
  }
  size_t keep = std::min(want, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + keep, hits.end(), Better);
  hits.resize(keep);
  batch.points.reserve(keep);
  for (PointRecord& r : hits) {
    uint32_t offset = r.offset;  // no map walk: ten of those cost 10% of a query
    float score = r.score, distance = r.distance;
    FillRecord(slots_[offset], offset, projection, batch, r);
    r.score = score;
    r.distance = distance;
    batch.points.push_back(std::move(r));
  }
  return batch;
}

}  // namespace qd::segment
