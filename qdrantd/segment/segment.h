// Segment: all points of one local replica of a shard, in memory for search and in points.db
// (SQLite) for durability (Qdrant: a segment; we keep one per replica). Dense vectors live in
// one HnswIndex per named vector (hnswlib holds the only in-memory copy), sparse vectors and
// payloads beside them, keyed by a dense `offset` per point that is also its HNSW label.
//
// Durability contract: Apply(op_num, op) writes points.db and its applied op number in one
// SQLite transaction (Apply = ApplyInMemory, then Store of what it captured; the replica runs
// the two as pipeline stages) (synchronous=NORMAL: it may be lost in a crash, which the replica's WAL
// makes good). Index files are checkpoints: index-<vector>.hnsw covers every op up to the
// `index_op` recorded in points.db; Open() loads them and re-syncs from points.db the points
// touched by later ops (SyncFromStore), so they never need to be exact.
//
// Points.db format: points(id BLOB PRIMARY KEY, offset INTEGER, version INTEGER,
// vectors BLOB, payload TEXT); meta(k TEXT PRIMARY KEY, v INTEGER) with applied_op and
// index_op. `id` is PointIdKey(), `vectors` an Operation-style encoding of NamedVectors.
//
// Thread: one writer at a time (the replica serialises Apply/SaveIndexes/SyncFromStore; it may
// run Store(op N) beside ApplyInMemory(op N+1), which touch disjoint state); reads
// from any thread, concurrently with the writer. A point becomes visible to search once its
// vectors are in the index.
#pragma once

#include <rapidjson/document.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/index/hnsw_index.h"
#include "qdrantd/index/payload_index.h"
#include "qdrantd/index/sparse_postings.h"
#include "qdrantd/segment/operation.h"
#include "qdrantd/segment/point_id.h"

namespace qd::sqlite {
class Db;
}

namespace qd::segment {

struct VectorSpec {
  std::string name;  // "" = the default vector
  bool sparse = false;
  uint32_t dim = 0;  // dense
  index::Distance distance = index::Distance::kCosine;
  size_t m = 16;
  size_t ef_construct = 100;
  size_t full_scan_threshold_kb = 10000;
  // hnsw_config.payload_m: links per point among the points of one payload value (issue #22,
  // HnswIndex::LinkGroup); unset: m. 0: no payload links.
  std::optional<size_t> payload_m;
};

// Which path dense searches took, process-wide, for /metrics (`qdrantd_search_plan_total`):
// the exact scan, the graph walk, or a walk the planner's probe abandoned for the scan.
enum class SearchPathTaken { kExact, kWalk, kWalkThenExact };
void CountSearchPath(SearchPathTaken path);
uint64_t SearchPathCount(SearchPathTaken path);

// A parsed filter (index/filter.h): a predicate over (id, payload) that the payload indexes can
// also plan with. Empty means "every point".
struct PointFilter {
  std::shared_ptr<const index::Filter> filter;
  // The JSON the filter was parsed from, compact: what a read or write forwarded to another
  // peer carries (the filter language is JSON). Empty when there is no filter.
  std::string json;
  explicit operator bool() const { return filter != nullptr; }
  bool operator()(const PointId& id, const rapidjson::Value& payload) const;
  // Parses a filter (index::ParseFilter; `path` names it in errors) and keeps its JSON text.
  static Result<PointFilter> Parse(const rapidjson::Value& json, const std::string& path);
  // The same from JSON text; empty text is no filter. Errors: kInvalidArgument.
  static Result<PointFilter> ParseText(const std::string& text, const std::string& path);
};
// Copies the selected part of a payload into `out` (allocated with `alloc`).
using PayloadProjector = std::function<void(const rapidjson::Value& payload, rapidjson::Value& out,
                                            rapidjson::Document::AllocatorType& alloc)>;

struct Projection {
  PayloadProjector payload;  // null: no payload in the result
  bool all_vectors = false;
  std::vector<std::string> vector_names;  // when !all_vectors: only these
  bool any_vectors() const { return all_vectors || !vector_names.empty(); }
};

struct PointRecord {
  PointId id;
  OpNum version = 0;
  float score = 0;     // as Qdrant reports it
  float distance = 0;  // lower is better; orders search results
  bool has_payload = false;
  rapidjson::Value payload;  // allocated in the owning RecordBatch's arena
  bool has_vectors = false;
  NamedVectors vectors;
  uint32_t offset = 0;  // internal: the point's offset in the segment that found it
  // Set in results ordered by a payload field (order_by): the value this record stands for.
  std::optional<index::OrderValue> order_value;
};

// Records plus the allocator their payloads live in. The allocator is made when the first payload
// is copied in: a search without payloads (most of them) allocates none.
struct RecordBatch {
  std::shared_ptr<rapidjson::Document> arena;
  std::vector<PointRecord> points;

  rapidjson::Document::AllocatorType& Allocator() {
    if (!arena) arena = std::make_shared<rapidjson::Document>();
    return arena->GetAllocator();
  }
};

struct SearchSpec {
  std::string vector_name;
  Vector query;
  size_t limit = 10;  // this segment returns limit + offset best
  size_t offset = 0;
  std::optional<float> score_threshold;
  size_t ef = 0;  // 0: the index's ef_construct
  bool exact = false;
  // Benchmarks: the graph walk whatever the planner would choose (REST `params.qdrantd_plan:
  // "hnsw"`, not a Qdrant field), so both paths can be timed in one run.
  bool force_graph = false;
  const PointFilter* filter = nullptr;
};

// A scroll or query ordered by a payload field (Qdrant: OrderBy).
struct OrderBy {
  std::string key;  // as the client sent it, for messages
  index::JsonPath path;
  bool descending = false;
  // Only values >= it (ascending) or <= it (descending); datetimes as Int UTC microseconds.
  std::optional<index::OrderValue> start_from;
};

// Qdrant's answer to order_by on a key without a range index (integer, float, datetime).
Status NoRangeIndexForOrderBy(const std::string& key);

// Whether record a comes before b in an order_by result: by order value, ties by id, both
// ascending, or both descending for a descending order (as Qdrant sorts (value, id) pairs).
bool OrderedBefore(const PointRecord& a, const PointRecord& b, bool descending);

// Which vectors of each point reads may see: one bitset per vector spec, indexed by offset.
// Per spec, not per point, because the graph walk tests it for every candidate: 50k points make
// a 6 KB array that stays in cache (a 64-bit word per point was 400 KB and a miss per test).
class Presence {
 public:
  explicit Presence(size_t specs) : words_(specs) {}
  size_t size() const { return size_; }  // offsets covered
  void Grow(uint32_t offset) {
    if (offset < size_) return;
    size_ = offset + 1;
    for (auto& w : words_) w.resize((size_ + 63) / 64, 0);
  }
  bool Test(uint32_t offset, size_t spec) const {
    return offset < size_ && (words_[spec][offset >> 6] >> (offset & 63)) & 1;
  }
  void Set(uint32_t offset, size_t spec) { words_[spec][offset >> 6] |= Bit(offset); }
  void Clear(uint32_t offset, size_t spec) { words_[spec][offset >> 6] &= ~Bit(offset); }
  void ClearAll(uint32_t offset) {
    for (auto& w : words_) w[offset >> 6] &= ~Bit(offset);
  }
  // Sets the specs whose bits are set in `specs` (bit s: spec s).
  void SetAll(uint32_t offset, uint64_t specs) {
    for (size_t s = 0; s < words_.size(); ++s) {
      if (specs >> s & 1) Set(offset, s);
    }
  }
  size_t Count(size_t spec) const;
  const uint64_t* Words(size_t spec) const { return words_[spec].data(); }

 private:
  static uint64_t Bit(uint32_t offset) { return uint64_t(1) << (offset & 63); }
  std::vector<std::vector<uint64_t>> words_;  // per spec
  size_t size_ = 0;
};

class Segment {
 public:
  static Result<std::unique_ptr<Segment>> Open(const std::string& dir,
                                               std::vector<VectorSpec> vectors);
  ~Segment();

  // --- writer side (one caller at a time) ---
  // Applies op as op number op_num to memory and points.db. Ops at or below applied_op() were
  // already applied and are skipped. Errors: kInternal (points.db); the replica then stops.
  Status Apply(OpNum op_num, const Operation& op);
  // What one op writes to points.db, captured when it was applied in memory.
  struct PendingStore {
    struct Row {
      std::string key;
      uint32_t offset = 0;
      OpNum version = 0;
      std::string vectors;
      std::string payload;
    };
    OpNum op_num = 0;  // 0: nothing to store (the op was applied before)
    std::vector<Row> rows;
    std::vector<std::string> erased;  // keys
    int field_change = 0;             // 1: index created, 2: dropped
    std::string field_name, field_schema_json;
  };
  // The memory half of Apply: slots, payload indexes, graphs; returns the points.db half.
  Result<PendingStore> ApplyInMemory(OpNum op_num, const Operation& op);
  // The points.db half, in op order; then applied_op() is its op. Touches only points.db.
  Status Store(const PendingStore& pending);
  // Shard transfers (the receiving replica). SetBase: an empty segment continues from op
  // `base` (the source's last op when the transfer started), its graphs to be rebuilt from
  // points.db at the next open; kFailedPrecondition unless empty.
  // ApplyTransferred: `op` (kUpsert: the source's points as they are, `versions` theirs, in
  // order; kCreateFieldIndex) applied to memory and points.db without advancing applied_op().
  Status SetBase(OpNum base);
  Status ApplyTransferred(const Operation& op, const std::vector<OpNum>& versions);
  // Writes every index file and records the op they cover.
  Status SaveIndexes();
  // SaveIndexes in three steps, so that a checkpoint holds the writer only for a copy in
  // memory (LocalReplica::Flush): CaptureIndexes (no concurrent apply) copies every graph at
  // applied_op() and opens the directory; WriteIndexes (no lock; the directory may have been
  // renamed meanwhile, the files still go to it) writes, fsyncs and renames each file;
  // CommitIndexes (no concurrent store) records the op they cover in points.db.
  struct IndexImages {
    OpNum covered = 0;
    std::shared_ptr<const int> dir_fd;                       // closed with the last copy
    std::vector<std::pair<std::string, std::string>> files;  // name, bytes
  };
  // `buffers`: one per vector spec, sized beforehand (IndexImageHints, then allocated with no
  // lock held); moved into the images.
  std::vector<size_t> IndexImageHints() const;
  Result<IndexImages> CaptureIndexes(std::vector<std::string> buffers = {}) const;
  static Status WriteIndexes(const IndexImages& images);
  Status CommitIndexes(const IndexImages& images);
  OpNum applied_op() const { return applied_op_.load(); }
  OpNum index_op() const { return index_op_; }
  // Re-reads these points from points.db into the indexes (recovery after an index checkpoint).
  Status SyncFromStore(const std::vector<PointId>& ids);

  // --- the optimizer (a background thread of the replica) ---
  // A dense vector space whose graph holds more than `threshold` dead labels (deleted points,
  // removed vectors) and at least `min_vectors` labels, or -1.
  int SpecNeedingVacuum(double threshold, size_t min_vectors) const;
  // Starts recording which labels of `spec` change; returns the live labels to rebuild from.
  // Caller holds the replica's writer lock.
  std::vector<uint32_t> BeginVacuum(int spec);
  // Builds a fresh graph of those labels from the current one. No lock needed: reads and writes
  // go on meanwhile.
  Result<std::unique_ptr<index::HnswIndex>> BuildVacuumed(int spec, const std::vector<uint32_t>& labels) const;
  // Copies in what changed since BeginVacuum and swaps the fresh graph in. Caller holds the
  // replica's writer lock; searches pause only for the swap.
  Status FinishVacuum(int spec, std::unique_ptr<index::HnswIndex> fresh);
  void AbortVacuum();

  // --- reader side (any thread) ---
  bool Exists(const PointId& id) const;
  size_t Count(const PointFilter* filter) const;
  std::vector<PointId> Matching(const PointFilter& filter) const;
  // Payload of a point as JSON text, or nullopt when absent.
  std::optional<std::string> PayloadJson(const PointId& id) const;
  // The points among ids that exist, in the order given.
  RecordBatch Retrieve(const std::vector<PointId>& ids, const Projection& projection) const;
  // Points with id >= from (all when null) matching filter, ascending, at most limit.
  RecordBatch Scroll(const std::optional<PointId>& from, size_t limit, const PointFilter* filter,
                     const Projection& projection) const;
  // Whether `path` has an index that order_by can use (PayloadFieldIndex::SupportsOrderBy).
  bool HasOrderByIndex(const index::JsonPath& path) const;
  // The first `limit` (value, point) pairs matching filter in order_by's order (OrderedBefore),
  // each record carrying its order_value. A point appears once per value it holds under the key;
  // points with none are left out. Errors: kInvalidArgument (NoRangeIndexForOrderBy).
  Result<RecordBatch> ScrollOrdered(const OrderBy& order_by, size_t limit,
                                    const PointFilter* filter, const Projection& projection) const;
  // Best limit+offset points, best first. Errors: kInvalidArgument (unknown vector name,
  // wrong dimension).
  Result<RecordBatch> Search(const SearchSpec& spec, const Projection& projection) const;

  // `payload_schema` entries: field -> (data_type, indexed points, params JSON if given).
  struct FieldIndexInfo {
    std::string field;
    std::string data_type;
    size_t points = 0;
    std::optional<std::string> params_json;
    // The schema as a create-index request gives it (what kCreateFieldIndex carries).
    std::string SchemaJson() const { return params_json ? *params_json : "\"" + data_type + "\""; }
  };
  std::vector<FieldIndexInfo> FieldIndexes() const;

  const std::vector<VectorSpec>& vectors() const { return specs_; }
  size_t points_count() const;

 private:
  // ApplyInMemory's body: `versions` (kUpsert, when given) replace op_num as point versions.
  Result<PendingStore> ApplyChanges(OpNum op_num, const Operation& op,
                                    const std::vector<OpNum>* versions);
  // What memory holds per point, by offset: id and version (48 bytes); a payload and sparse
  // vectors only when the point has them (Extra). Points.db holds the rest.
  struct Extra;
  struct Slot {
    PointId id;
    OpNum version = 0;             // 0: a free offset (op numbers start at 1)
    std::unique_ptr<Extra> extra;  // null: empty payload, no sparse vectors
    bool live() const { return version != 0; }
    const rapidjson::Value& payload() const;  // {} when the point has none
    void SetPayload(std::string_view json);
    void SetPayload(const rapidjson::Value& value);
    const Vector& sparse(size_t spec) const;  // an empty Vector when absent
    // The sparse vector of spec for writing; the segment has `specs` vector specs.
    Vector& MutableSparse(size_t spec, size_t specs);
    void ClearSparse();
  };
  class IdMap;
  Segment(std::string dir, std::vector<VectorSpec> specs, std::unique_ptr<sqlite::Db> db);
  Status Load();
  int SpecIndex(const std::string& name) const;
  void FillRecord(const Slot& slot, uint32_t offset, const Projection& projection,
                  RecordBatch& batch, PointRecord& record) const;
  // The points.db row of a live point. Caller holds mu_.
  PendingStore::Row RowOf(uint32_t offset) const;
  Status AddDense(const std::vector<std::pair<uint32_t, const Vector*>>& work, int spec);
  uint32_t NewOffset();
  // Offsets of live points that may match (all live points when no index narrows it), sorted.
  // Caller holds mu_.
  std::vector<uint32_t> CandidateOffsets(const PointFilter* filter) const;
  // The payload indexes' plan for filter, its candidates (if any) restricted to live points;
  // nullopt without a filter. Caller holds mu_.
  std::optional<index::CandidatePlan> Plan(const PointFilter* filter) const;
  // The payload indexes' candidates for filter, or nullopt when no index narrows it.
  std::optional<std::vector<uint32_t>> PlannedOffsets(const PointFilter* filter) const;
  Status CreateFieldIndex(const std::string& field, const std::string& schema_json);  // holds mu_

  // Payload links (issue #22, HnswIndex::LinkGroup). A group (the points of one value of a
  // keyword, uuid, integer or bool index) gets links once it holds more points than
  // full_scan_threshold_kb of vectors: below that the planner scans it anyway (Qdrant's rule).
  // Links live in memory only: Open() builds them again, as do index creation and drops.
  size_t PayloadM(int spec) const;
  size_t LinkThresholdPoints(int spec) const;
  // "<field path>\x1f<group key>", the name of a group in linked_groups_.
  static std::string GroupId(const std::string& field, const std::string& key);
  // Links the points at `offsets` (just given vectors or payloads) into their linked groups,
  // and links every group they made pass the threshold. Writer only; takes mu_ shared.
  Status LinkPayloads(const std::vector<uint32_t>& offsets);
  // Drops all payload links and builds them for every group over the threshold. Writer only.
  Status RebuildPayloadLinks();
  // The group a filter's walk may stay within: a top-level must `match: {value}` whose group
  // is linked (the smallest, when several are). Caller holds mu_.
  std::optional<std::vector<uint32_t>> LinkedGroupOf(const PointFilter* filter, int spec) const;
  // Rebuilds the posting lists of sparse specs whose stale entries outnumber the live ones.
  // Caller holds mu_ exclusively.
  void CompactSparsePostings();

  const std::string dir_;
  const std::vector<VectorSpec> specs_;
  std::unique_ptr<sqlite::Db> db_;
  std::vector<std::unique_ptr<index::HnswIndex>> dense_;  // per spec; null for sparse specs

  mutable std::shared_mutex mu_;
  std::unique_ptr<IdMap> offset_of_;  // Protected by mu_; live points only
  std::vector<Slot> slots_;           // Protected by mu_; by offset
  // The point at an offset has that spec's vector, and it is searchable.
  Presence present_;                          // Protected by mu_
  int vacuum_spec_ = -1;                      // Protected by mu_
  std::vector<uint32_t> vacuum_changed_;      // Protected by mu_
  index::PayloadIndexSet payload_indexes_;   // Protected by mu_
  // Per spec (used for sparse ones): which points have which dimensions. Protected by mu_.
  std::vector<index::SparsePostings> sparse_postings_;
  // Per dense spec, the groups whose payload links are built (GroupId). Protected by mu_.
  std::vector<std::set<std::string>> linked_groups_;
  uint32_t next_offset_ = 0;                  // writer only
  std::atomic<OpNum> applied_op_{0};
  OpNum index_op_ = 0;
};

// The key of a point in points.db: 8-byte big-endian number or 16 UUID bytes, after a tag byte,
// so that SQLite's BLOB order is PointId order.
std::string PointIdKey(const PointId& id);

}  // namespace qd::segment
