// Collection: one collection on this node: its configuration and its shards. Points are routed
// to shard PointId::StableHash() % shard_number; reads fan out to every shard and merge (top-k by
// score, ties by id), the way ARCHITECTURE.md's data flow describes.
//
// Standalone, every shard has a LocalReplica. In cluster mode the shards follow the placement
// consensus decided (ShardPlacement): this node holds a LocalReplica only for the shards placed
// on its peer id, and knows the others as remote. Until the data plane forwards points between
// peers (a later issue), a point operation that needs a shard without a local replica, or that
// writes to a shard that also has replicas elsewhere, fails with kUnimplemented and nothing is
// written: see CheckRoutable, the one place where points meet the placement.
// Thread: any. Each operation loads the shard layout once (an immutable snapshot swapped by
// ApplyPlacement); configuration changes that do not touch shards swap the config under a mutex.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collection_config.h"
#include "qdrantd/replica/local_replica.h"

namespace qd::collection {

enum class UpdateMode { kUpsert, kInsertOnly, kUpdateOnly };

// A points update as the API hands it over, before it is resolved per shard.
struct UpdateRequest {
  segment::Operation op;               // kind and data; ids/points are the explicit ones
  bool by_filter = false;              // select points by `filter` instead of op.ids
  segment::PointFilter filter;
  UpdateMode update_mode = UpdateMode::kUpsert;  // kUpsert only
  segment::PointFilter update_filter;            // kUpsert / kUpdateVectors: replace only matches
};

struct UpdateResult {
  segment::OpNum operation_id = 0;
};

// Where consensus placed a collection's shards (cluster mode; a plain value, so collection/
// does not depend on cluster/): every shard id of the collection -> the peers holding a replica,
// this peer included when it holds one.
struct ShardPlacement {
  uint64_t self_peer = 0;
  std::map<uint32_t, std::vector<uint64_t>> replicas;
};

class Collection {
 public:
  // Standalone: opens (or creates) a LocalReplica for every shard.
  static Result<std::shared_ptr<Collection>> Open(std::string name, std::string dir,
                                                  CollectionConfig config);
  // Cluster mode. With a placement: creates or opens the replicas placed on placement->self_peer
  // only. Without one (a restart, before consensus replayed): opens the shard directories found
  // on disk, and point operations answer kUnavailable until ApplyPlacement.
  static Result<std::shared_ptr<Collection>> OpenPlaced(std::string name, std::string dir,
                                                        CollectionConfig config,
                                                        const ShardPlacement* placement);
  ~Collection();

  // Cluster mode: makes the local replicas follow `placement`: creates those placed here and
  // missing, drops (and deletes the files of) those no longer placed here, and records the other
  // holders of every shard. With `recreate_missing`, a local replica whose files vanished from
  // disk is closed and created again, empty (POST /cluster/recover; refilling it is the data
  // plane's job). Errors: kInternal when a replica cannot be created (the others still apply),
  // kUnavailable when a replica to re-create stays in use by requests for 10 s.
  // Thread: any; calls are serialised.
  Status ApplyPlacement(const ShardPlacement& placement, bool recreate_missing);

  const std::string& name() const { return name_; }
  CollectionConfig config() const;
  void SetConfig(CollectionConfig config);  // same shards and vectors only

  // Checks every vector of the points against the configuration (names, dense vs sparse,
  // dimensions); maps the unnamed vector. Errors: kInvalidArgument in Qdrant's words.
  Status ValidatePoints(std::vector<segment::PointStruct>& points, bool partial) const;

  // Update applies the update on every shard it concerns. The point API's reads and writes check CheckRoutable for every shard they touch: reads need
  // a local replica of each shard they read, writes also need it to be the shard's only one.
  // Errors (besides the operation's own): kUnimplemented naming the collection, shard and peers
  // (forwarding points between peers does not exist yet); kUnavailable before the placement is
  // known or for a shard with no replica anywhere.
  // on_durable(operation_id), when given, runs once every touched shard logged its op, before
  // the last one is applied (a wait=false caller is answered there); it does not run when the
  // update fails before that or resolved to nothing.
  using OnDurable = std::function<void(segment::OpNum)>;
  Result<UpdateResult> Update(UpdateRequest request, const OnDurable& on_durable = nullptr);
  Result<size_t> CountPoints(const segment::PointFilter* filter) const;
  Result<segment::RecordBatch> Retrieve(const std::vector<segment::PointId>& ids,
                                        const segment::Projection& projection) const;
  // Points from `from` on in id order; next_offset is the id after the page (none at the end).
  Result<segment::RecordBatch> Scroll(const std::optional<segment::PointId>& from, size_t limit,
                                      const segment::PointFilter* filter,
                                      const segment::Projection& projection,
                                      std::optional<segment::PointId>& next_offset) const;
  // Points ordered by a payload field (Qdrant's scroll with order_by): the first `limit` records
  // of every shard merged by segment::OrderedBefore, a record that repeats the id of the one
  // before it dropped (Qdrant's dedup, so a point whose several values are adjacent shows once),
  // then cut to `limit`. Each record carries its order_value. There is no next page offset.
  // Errors: kInvalidArgument when the key has no range index on a shard
  // (segment::NoRangeIndexForOrderBy), then when `from` is set (Qdrant cannot page by id here:
  // paging is start_from plus a filter); CheckRoutable's.
  Result<segment::RecordBatch> ScrollOrdered(const segment::OrderBy& order_by,
                                             const std::optional<segment::PointId>& from,
                                             size_t limit, const segment::PointFilter* filter,
                                             const segment::Projection& projection) const;
  // The Query API's pages that are not searches, after skipping `offset` results: points
  // ordered by a payload field (ScrollOrdered; score 0, order_value set), or in id order (a
  // query without `query`).
  Result<segment::RecordBatch> QueryOrdered(const segment::OrderBy& order_by, size_t offset,
                                            size_t limit, const segment::PointFilter* filter,
                                            const segment::Projection& projection) const;
  Result<segment::RecordBatch> QueryListed(size_t offset, size_t limit,
                                           const segment::PointFilter* filter,
                                           const segment::Projection& projection) const;
  Result<segment::RecordBatch> Search(const segment::SearchSpec& spec,
                                      const segment::Projection& projection) const;

  // Shard and collection info: these count the LOCAL replicas only, never fail.
  size_t Count(const segment::PointFilter* filter) const;
  size_t points_count() const;
  size_t ShardPointsCount(size_t shard) const;
  bool HasLocalShard(size_t shard) const;
  // `payload_schema` of CollectionInfo: indexed field -> {data_type, points[, params]}.
  std::string PayloadSchemaJson() const;
  size_t segments_count() const;  // local replicas
  // Saves index checkpoints (shutdown, periodic).
  Status Flush();
  // Makes the destructor delete the collection's files, which now live in `dir` (the caller
  // moved them aside so that a new collection of the same name never meets them).
  void MarkDropped(std::string dir);
  std::string ShardDir(size_t shard) const { return dir_ + "/" + std::to_string(shard); }

 private:
  // A local replica; when dropped from the placement its files were moved to `trash`, which goes
  // once the last request holding the replica lets go.
  struct Slot {
    std::unique_ptr<replica::LocalReplica> replica;
    std::string trash;
    ~Slot();
  };
  // Which shards are here and who else holds them. Immutable once published.
  struct Layout {
    bool placed = false;  // cluster mode: the shards follow a placement
    bool known = true;    // false: cluster mode, placement not applied since the start
    uint64_t self_peer = 0;
    std::vector<std::shared_ptr<Slot>> local;   // by shard id; null: no replica here
    std::vector<std::vector<uint64_t>> others;  // by shard id: other peers holding a replica
  };
  enum class Access { kRead, kWrite };

  Collection(std::string name, std::string dir, CollectionConfig config);
  static size_t ShardOf(const segment::PointId& id, size_t shards);
  Result<std::shared_ptr<Slot>> OpenSlot(uint32_t shard) const;
  std::shared_ptr<const Layout> layout() const { return layout_.load(); }
  // The one place where a point operation meets the placement (see the class comment).
  Status CheckRoutable(const Layout& layout, uint32_t shard, Access access) const;
  // CheckRoutable(kRead) for every shard: the reads that visit them all (scroll, search, count).
  Status CheckAllReadable(const Layout& layout) const;

  const std::string name_;
  const std::string dir_;
  std::string dropped_dir_;  // set once by MarkDropped, read in the destructor
  mutable std::mutex config_mu_;
  CollectionConfig config_;  // Protected by config_mu_
  std::mutex placement_mu_;  // serialises ApplyPlacement
  std::atomic<std::shared_ptr<const Layout>> layout_;
  std::map<uint32_t, std::weak_ptr<Slot>> closing_;  // left the layout; Protected by placement_mu_
  std::atomic<bool> dropped_{false};
};

}  // namespace qd::collection
