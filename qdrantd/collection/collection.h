// Collection: one collection on this node: its configuration and its shards. Points are routed
// to shard PointId::StableHash() % shard_number; reads fan out to every shard and merge (top-k by
// score, ties by id), the way ARCHITECTURE.md's data flow describes.
//
// Standalone, every shard has a LocalReplica. In cluster mode the shards follow the placement
// and replica states consensus decided (ShardPlacement): this node holds a LocalReplica only for
// the shards placed on its peer id and reaches the others through a PeerLink.
//  * Writes (compat.md §5.2, §5.3; docs/cluster.md "Writes"): each shard's writes are numbered
//    by one ordering replica (the Active one with the highest peer id, WriteOrdering says which
//    exactly). A coordinator hands the shard's part of an update to it (locally, or Forward);
//    it resolves the update against its own data (filters, update_mode, "must exist"), logs the
//    resolved op under the next op number, streams it (PeerLink::Replicate, in op order) to
//    every other replica that accepts writes, applies it, and answers once every one of them
//    answered: successful when write_consistency_factor replicas applied it. A replica that
//    fails is reported Dead. Replicas log the same ops under the same numbers, so they converge
//    whatever the ordering, and point versions (op numbers) are equal everywhere.
//  * Reads (§5.4): one replica per shard that accepts reads, local first, the others tried in
//    turn when one fails; remote shards are read in parallel. A read `consistency` other than 1
//    asks several replicas of each shard and reconciles their answers (replica_reads.h).
// Thread: any. Each operation loads the shard layout once (an immutable snapshot swapped by
// ApplyPlacement); configuration changes that do not touch shards swap the config under a mutex.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collection_config.h"
#include "qdrantd/collection/peer_link.h"
#include "qdrantd/collection/replica_reads.h"
#include "qdrantd/collection/strict_mode.h"
#include "qdrantd/collection/update_limiter.h"
#include "qdrantd/replica/local_replica.h"
#include "qdrantd/shard/replica_state.h"

namespace qd::collection {

struct UpdateResult {
  segment::OpNum operation_id = 0;
};

// Where consensus placed a collection's shards (cluster mode; a plain value, so collection/
// does not depend on cluster/): every shard id of the collection -> the peers holding a replica
// and that replica's state, this peer included when it holds one.
struct ShardPlacement {
  uint64_t self_peer = 0;
  std::map<uint32_t, std::vector<std::pair<uint64_t, shard::ReplicaState>>> replicas;
  // Shard transfers in progress: shard id -> (from, to) peers.
  std::map<uint32_t, std::vector<std::pair<uint64_t, uint64_t>>> transfers;
};

class Collection {
 public:
  // Standalone: opens (or creates) a LocalReplica for every shard.
  static Result<std::shared_ptr<Collection>> Open(std::string name, std::string dir,
                                                  CollectionConfig config);
  // Cluster mode. With a placement: creates or opens the replicas placed on placement->self_peer
  // only. Without one (a restart, before consensus replayed): opens the shard directories found
  // on disk, and point operations answer kUnavailable until ApplyPlacement.
  // `link` reaches the other peers (null only in tests that never need them); `limiter`
  // bounds the updates in flight (Update answers 429 past it).
  static Result<std::shared_ptr<Collection>> OpenPlaced(
      std::string name, std::string dir, CollectionConfig config, const ShardPlacement* placement,
      std::shared_ptr<PeerLink> link = nullptr, std::shared_ptr<UpdateLimiter> limiter = nullptr);
  ~Collection();

  // Cluster mode: makes the local replicas follow `placement`: creates those placed here and
  // missing, drops (and deletes the files of) those no longer placed here, and records the other
  // holders of every shard. With `recreate_missing`, a local replica whose files vanished from
  // disk is closed and created again, empty (POST /cluster/recover; refilling it is the data
  // plane's job). Errors: kInternal when a replica cannot be created (the others still apply),
  // kUnavailable when a replica to re-create stays in use by requests for 10 s.
  // Thread: any; calls are serialised.
  Status ApplyPlacement(const ShardPlacement& placement, bool recreate_missing);

  // Standalone: replaces the local replica of `shard` with the one in `source` (a directory
  // holding its points.db, moved into place): the old replica is closed and its files go once
  // no request holds it; meanwhile requests answer kUnavailable. Errors: kFailedPrecondition in
  // cluster mode (a replica there is refilled by a shard transfer, docs/cluster.md), kNotFound
  // without a local replica, kUnavailable when the old one stays in use for 10 s (the new data
  // is then served after a restart), kInternal for I/O.
  Status RecoverLocalShard(uint32_t shard, const std::string& source);

  // Whether this peer's replica of `shard` was created empty although consensus says it holds
  // data (Active or Listener): its files vanished. The Reconciler reports it Dead, so that a
  // transfer refills it; it is never served as healthy. Cleared once its state says otherwise.
  bool LostData(uint32_t shard) const;
  // Consensus refused to mark it Dead (it is the shard's last readable replica, so nothing can
  // refill it): it serves again, empty. Logs the loss.
  void AcceptLoss(uint32_t shard);

  const std::string& name() const { return name_; }
  CollectionConfig config() const;
  void SetConfig(CollectionConfig config);  // same shards and vectors only

  // ---- Strict mode (strict_mode.h; docs/query-api.md "Strict mode") ----
  // The strict_mode_config in force (never null).
  std::shared_ptr<const StrictMode> strict_mode() const;
  // Whether it is enabled: one relaxed load, so that the read path of a collection without
  // strict mode pays nothing more.
  bool strict_mode_enabled() const { return strict_enabled_.load(std::memory_order_relaxed); }
  // The payload indexes the unindexed-filter check trusts: this peer's local replicas' (every
  // replica of a collection has the same). `known` is false when this peer holds no replica
  // and so cannot tell: such a coordinator does not refuse (docs/query-api.md says so).
  struct StrictIndexes {
    bool known = false;
    IndexedFields fields;
  };
  StrictIndexes IndexedForStrictMode() const;
  // Takes `cost` tokens of read_rate_limit (Ok without one). Errors: kResourceExhausted.
  Status TakeReadTokens(uint64_t cost) const;

  // ---- Issues and optimizations (GET /issues, GET /collections/{c}/optimizations) ----
  // A filtered read on this collection: when it holds kIssueMinPoints points or more (its
  // local estimate), an UNINDEXED_FIELD issue (issues.h) for each key the filter reads without
  // a fitting index. Looks at most once a second per collection, so that the hot path pays a
  // clock read.
  static constexpr size_t kIssueMinPoints = 10000;
  void NoteFilteredRead(const segment::PointFilter& filter) const;
  // Each local replica's optimizer: its segment, points, whether a run is queued, its runs.
  struct ShardOptimizations {
    uint32_t shard = 0;
    std::string segment_uuid;
    size_t points = 0;
    bool queued = false;
    std::vector<replica::LocalReplica::OptimizationRun> runs;
  };
  std::vector<ShardOptimizations> Optimizations() const;

  // Checks every vector of the points against the configuration (names, dense vs sparse,
  // dimensions); maps the unnamed vector. Errors: kInvalidArgument in Qdrant's words.
  Status ValidatePoints(std::vector<segment::PointStruct>& points, bool partial) const;

  // Update applies the update on every shard it concerns, one shard after the other (see the
  // class comment for the cluster path). Errors (besides the operation's own): kUnavailable
  // before the placement is known, for a shard with no replica anywhere or none reachable that
  // may order its writes, and when fewer than write_consistency_factor replicas applied it
  // (the message says how many did); kInternal for a strong write whose ordering replica is
  // down (Qdrant answers 500); kResourceExhausted past update_rate_limit (UpdateLimiter).
  // on_durable(operation_id), when given, runs once every touched shard logged its op (in
  // cluster mode: once the update is done), before the last one is applied (a wait=false caller
  // is answered there); it does not run when the update fails before that or resolved to
  // nothing.
  using OnDurable = std::function<void(segment::OpNum)>;
  // In strict mode it first checks the update (CheckStrictWrite).
  Result<UpdateResult> Update(UpdateRequest request, const OnDurable& on_durable = nullptr);
  // The reads below ask one replica per shard, or several with a `consistency` other than the
  // default (replica_reads.h; errors then: kUnavailable when fewer replicas answered than it
  // needs, the message says how many did).
  Result<size_t> CountPoints(const segment::PointFilter* filter,
                             const ReadConsistency& consistency = {}) const;
  Result<segment::RecordBatch> Retrieve(const std::vector<segment::PointId>& ids,
                                        const segment::Projection& projection,
                                        const ReadConsistency& consistency = {}) const;
  // Points from `from` on in id order; next_offset is the id after the page (none at the end).
  Result<segment::RecordBatch> Scroll(const std::optional<segment::PointId>& from, size_t limit,
                                      const segment::PointFilter* filter,
                                      const segment::Projection& projection,
                                      std::optional<segment::PointId>& next_offset,
                                      const ReadConsistency& consistency = {}) const;
  // Points ordered by a payload field (Qdrant's scroll with order_by): the first `limit` records
  // of every shard merged by segment::OrderedBefore, a record that repeats the id of the one
  // before it dropped (Qdrant's dedup, so a point whose several values are adjacent shows once),
  // then cut to `limit`. Each record carries its order_value. There is no next page offset.
  // Errors: kInvalidArgument when the key has no range index on a shard
  // (segment::NoRangeIndexForOrderBy), then when `from` is set (Qdrant cannot page by id here:
  // paging is start_from plus a filter); ReadShards's.
  Result<segment::RecordBatch> ScrollOrdered(const segment::OrderBy& order_by,
                                             const std::optional<segment::PointId>& from,
                                             size_t limit, const segment::PointFilter* filter,
                                             const segment::Projection& projection,
                                             const ReadConsistency& consistency = {}) const;
  // The Query API's pages that are not searches, after skipping `offset` results: points
  // ordered by a payload field (ScrollOrdered; score 0, order_value set), or in id order (a
  // query without `query`).
  Result<segment::RecordBatch> QueryOrdered(const segment::OrderBy& order_by, size_t offset,
                                            size_t limit, const segment::PointFilter* filter,
                                            const segment::Projection& projection,
                                            const ReadConsistency& consistency = {}) const;
  Result<segment::RecordBatch> QueryListed(size_t offset, size_t limit,
                                           const segment::PointFilter* filter,
                                           const segment::Projection& projection,
                                           const ReadConsistency& consistency = {}) const;
  Result<segment::RecordBatch> Search(const segment::SearchSpec& spec,
                                      const segment::Projection& projection,
                                      const ReadConsistency& consistency = {}) const;

  // The peer side of the cluster paths (api/p2p calls these; they never call other peers but
  // for the ordering replica's own replication). Errors: kNotFound when this peer holds no
  // replica of the shard, kUnavailable when its state does not allow the call (a Dead replica).
  // UpdateAsOrderingReplica: `request` is this shard's part of an update; runs it as the
  // shard's ordering replica (see the class comment) and returns its op number.
  Result<segment::OpNum> UpdateAsOrderingReplica(uint32_t shard, UpdateRequest request);
  // A replication stream's items for this peer's replica, in order: ops numbered by the
  // ordering replica (LocalReplica::ApplyReplicated), and a transfer's reset and points from
  // its source `origin` (allowed only while the placement has that transfer to this peer).
  // When this peer is itself a transfer's source, answers once the receiver applied the ops
  // too. Returns the replica's last op.
  Result<segment::OpNum> ApplyReplicated(uint32_t shard, uint64_t origin,
                                         std::vector<StreamItem> items);

  // PeerLink::Fence's peer side: once this peer's view has `orderer` as the shard's ordering
  // replica and its ordered writes in flight ended, this replica's last op (0 at once without
  // a replica here: it cannot have ordered). Errors: kUnavailable when that does not happen
  // within a few seconds.
  Result<segment::OpNum> Fence(uint32_t shard, uint64_t orderer);
  // Ops `from`..`to` from this peer's replica's WAL (PeerLink::ReadOps).
  Result<std::vector<replica::LocalReplica::NumberedOp>> ReadOps(uint32_t shard,
                                                                 segment::OpNum from,
                                                                 segment::OpNum to) const;

  // ---- Shard transfers (docs/cluster.md "Shard transfers"; TransferDriver runs them) ----
  // Receiver: Ok once this peer applied the start of the transfer of `shard` from `from` (its
  // replica is Partial for it), with the replica's clock (nullopt: none a wal_delta source can
  // trust); kUnavailable before, kNotFound without the collection's shard.
  Result<std::optional<ReplicaClock>> TransferReady(uint32_t shard, uint64_t from) const;
  // Source, wal_delta: when the receiver's last op (`receiver`) is this replica's op of that
  // number and the WAL still holds every op after it, queues those ops for `to` and forwards
  // every op logged from now on (`done` runs once the receiver applied the last one); returns
  // how many it queued. kFailedPrecondition, saying why, when a delta cannot work: the caller
  // falls back to a full transfer.
  // `from_snapshot`: the receiver opened this replica's snapshot and holds its ops up to
  // receiver.op (no hash to compare); the ops after it are queued.
  Result<size_t> BeginDeltaTransfer(uint32_t shard, uint64_t to, const ReplicaClock& receiver,
                                    PeerLink::Done done, bool from_snapshot = false);
  // Source, snapshot: this replica's snapshot for the transfer to `to`, in `out_dir`
  // (LocalReplica::CaptureSnapshot). Errors: kUnavailable unless this peer sends that transfer.
  Result<replica::LocalReplica::Snapshot> CaptureTransferSnapshot(uint32_t shard, uint64_t to,
                                                                  const std::string& out_dir);
  // Where a transfer's files are staged (removed at the next open).
  std::string TransferStagingDir(const std::string& what) const;
  // Receiver, snapshot: stores a chunk in the staging directory of the shard, or with
  // `chunk.install` replaces this peer's (Partial) replica by what was sent and opens it, marked
  // incomplete until it is Active. Errors: kUnavailable unless this peer applied the transfer's
  // start; kInvalidArgument for a file name no snapshot holds; kFailedPrecondition for a chunk
  // that does not continue its file (the source starts over), or an install without points.db;
  // an open's errors (the replica is empty then).
  Result<InstalledSnapshot> ReceiveTransferSnapshot(const SnapshotChunk& chunk);
  // Source. BeginTransfer: from now on every op this peer's replica of `shard` logs is also
  // streamed to `to`, behind a reset to the replica's current op and payload indexes (`done`
  // runs when the receiver applied the reset). Returns the points the replica holds.
  // SendTransferBatch: queues the next `limit` points from `cursor` as they are now; false when
  // none were left. EndTransfer: stops streaming to `to` (the transfer ended in consensus).
  struct TransferCursor {
    std::optional<segment::PointId> next;
    bool done = false;
    size_t points = 0;  // sent so far
    size_t bytes = 0;
  };
  bool SendsTransfer(uint32_t shard, uint64_t to) const;  // the placement applied here has it
  Result<size_t> BeginTransfer(uint32_t shard, uint64_t to, PeerLink::Done done);
  Result<bool> SendTransferBatch(uint32_t shard, uint64_t to, size_t limit, TransferCursor& cursor,
                                 PeerLink::Done done);
  void EndTransfer(uint32_t shard, uint64_t to);
  // Runs `read` on this peer's replica of the shard (payloads projected by read.projection).
  Result<ShardReadResult> ReadLocal(uint32_t shard, const ShardRead& read) const;
  // This peer's replica of the shard in a few numbers (ReplicaDigest), taken with its WAL
  // quiesced: writes to the shard wait meanwhile (about 1 us a point). Errors: kNotFound
  // without a local replica.
  Result<ReplicaDigest> Digest(uint32_t shard) const;
  // qdctl collection verify: every replica of every shard in this peer's view, with its state
  // and its digest (this peer's own, the others' over P2P) or why it could not be taken.
  struct VerifiedReplica {
    uint32_t shard = 0;
    uint64_t peer = 0;
    shard::ReplicaState state = shard::ReplicaState::kActive;
    Result<ReplicaDigest> digest = Status::Unavailable("not asked");
  };
  std::vector<VerifiedReplica> Verify() const;

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
  using Replicas = std::vector<std::pair<uint64_t, shard::ReplicaState>>;
  // Which shards are here and who else holds them. Immutable once published.
  struct Layout {
    bool placed = false;  // cluster mode: the shards follow a placement
    bool known = true;    // false: cluster mode, placement not applied since the start
    std::string unavailable;  // non-empty: why every request answers kUnavailable for now
    uint64_t self_peer = 0;
    std::vector<std::shared_ptr<Slot>> local;      // by shard id; null: no replica here
    std::vector<shard::ReplicaState> local_state;  // by shard id, when local
    // By shard id: the local replica was created empty while consensus says it holds data
    // (LostData): it neither answers reads nor orders writes.
    std::vector<bool> lost;
    std::vector<Replicas> others;  // by shard id: other peers holding a replica, by peer id
    // By shard id: transfers in progress, (from, to).
    std::vector<std::vector<std::pair<uint64_t, uint64_t>>> transfers;
    bool IsTransferTarget(uint32_t shard, uint64_t peer) const;
    bool HasTransfer(uint32_t shard, uint64_t from, uint64_t to) const;
  };
  // What the ordering replica waits for after it logged an op: the answers of the replicas it
  // streamed the op to.
  struct Acks;

  Collection(std::string name, std::string dir, CollectionConfig config,
             std::shared_ptr<PeerLink> link = nullptr,
             std::shared_ptr<UpdateLimiter> limiter = nullptr);
  static size_t ShardOf(const segment::PointId& id, size_t shards);
  // Strict mode's write checks, in Qdrant's order: batch size, filters, sparse lengths, the
  // points and vector storage estimates, payload index count, then write_rate_limit.
  Status CheckStrictWrite(const UpdateRequest& request) const;
  // The collection's points from the local replicas: exact standalone; in cluster mode their
  // average per shard times shard_number (nullopt without a local replica).
  std::optional<size_t> EstimatedPoints() const;
  Result<std::shared_ptr<Slot>> OpenSlot(uint32_t shard) const;
  std::shared_ptr<const Layout> layout() const { return layout_.load(); }
  // kUnavailable until a cluster-mode collection knows its placement.
  Status CheckKnown(const Layout& layout) const;
  // The peer side's check (UpdateAsOrderingReplica, ApplyReplicated, ReadLocal): CheckKnown,
  // then kNotFound without a local replica of `shard`, then kUnavailable "... is <state>" +
  // `refused` unless `allowed` (the caller's verdict on the local replica's state).
  Status CheckLocalReplica(const Layout& layout, uint32_t shard, bool allowed,
                           const std::string& refused) const;
  // This shard's part of an update, through its ordering replica (Update's cluster path).
  Result<segment::OpNum> WriteShard(const Layout& layout, uint32_t shard, UpdateRequest request,
                                    const OnDurable& on_durable);
  // Resolves, logs and applies on the local replica; in cluster mode also streams the op to
  // the other replicas and waits for them (UpdateAsOrderingReplica's body).
  Result<segment::OpNum> WriteLocal(const Layout& layout, uint32_t shard, UpdateRequest request,
                                    const OnDurable& on_durable);
  // Called under the local replica's WAL lock for each op it logs: queues it for the other
  // replicas that accept writes (ops numbered here, except to transfer targets, which their
  // transfer's source feeds) and for the receivers of transfers this peer sends (every op).
  // ListenToLog attaches it to a local replica (cluster mode).
  // `from`: the peer the op came from (this one when ordered here); never sent back to it.
  void OnLogged(uint32_t shard, segment::OpNum op_num, const std::string& body, bool ordered_here,
                uint64_t from);
  void ListenToLog(const Slot& slot, uint32_t shard, uint64_t self_peer);
  // The peer that orders the shard's writes in this view: the Active replica with the highest
  // peer id, else the Initializing one with the highest (right after a create); 0: none.
  static uint64_t OrdererOf(const Layout& layout, uint32_t shard);
  // Before this peer numbers its first write as the shard's ordering replica: every other
  // replica that may have ordered confirms it stopped (PeerLink::Fence), and the ops it numbered
  // that this replica lacks are fetched and applied, so that no op number is used twice.
  Status Handover(const Layout& layout, uint32_t shard);
  // Waits for the other replicas' answers to op `op_num` of `shard` (registered by OnLogged):
  // how many applied it, and the failures.
  struct AckOutcome {
    size_t applied = 0;
    size_t replicas = 0;
    std::vector<std::pair<uint64_t, Status>> failures;
  };
  AckOutcome WaitAcks(uint32_t shard, segment::OpNum op_num);
  // Receiver: empties this peer's replica of `shard` in place and makes it continue from
  // `base` with the given payload indexes (a transfer's reset).
  Status ResetForTransfer(uint32_t shard, segment::OpNum base,
                          const std::vector<std::string>& indexes);
  // Replaces this peer's replica of `shard` by the files in directory `source` (moved into
  // place) and opens them; the layout meanwhile has no replica there (and says `unavailable`,
  // when not empty). The caller puts the opened slot in the layout. Holds placement_mu_.
  Result<std::shared_ptr<Slot>> ReplaceLocalReplica(uint32_t shard, const std::string& source,
                                                    const std::string& unavailable,
                                                    const std::string& why);
  // Waits until the replica that left `shard`'s slot is closed (no request holds it), so that
  // a new one may open its files. Holds placement_mu_.
  Status WaitClosed(uint32_t shard);
  // Runs `read` on every shard in `shards`: one replica each (see the class comment), or as
  // many as `consistency` asks (ReadShardsFromSeveral).
  Result<std::vector<ShardReadResult>> ReadShards(const Layout& layout,
                                                  const std::vector<uint32_t>& shards,
                                                  const std::vector<ShardRead>& reads,
                                                  const ReadConsistency& consistency) const;
  Result<std::vector<ShardReadResult>> ReadShardsFromSeveral(
      const Layout& layout, const std::vector<uint32_t>& shards,
      const std::vector<ShardRead>& reads, const ReadConsistency& consistency) const;
  Result<ShardReadResult> ReadSlot(const Slot& slot, const ShardRead& read) const;
  std::vector<uint32_t> AllShards(const Layout& layout) const;

  const std::string name_;
  const std::string dir_;
  std::string dropped_dir_;  // set once by MarkDropped, read in the destructor
  mutable std::mutex config_mu_;
  CollectionConfig config_;  // Protected by config_mu_
  // Strict mode's configuration and rate limiters, swapped whole by SetConfig (the limiters
  // kept while their limits stay the same).
  struct Strict {
    std::shared_ptr<const StrictMode> mode;
    std::shared_ptr<RateLimiter> read, write;
  };
  static std::shared_ptr<Strict> MakeStrict(const CollectionConfig& config,
                                            const std::shared_ptr<const Strict>& before);
  std::atomic<std::shared_ptr<Strict>> strict_;
  std::atomic<bool> strict_enabled_{false};            // strict_->mode->enabled
  mutable std::atomic<int64_t> issues_checked_ms_{0};  // NoteFilteredRead's last look
  std::mutex placement_mu_;  // serialises ApplyPlacement
  std::atomic<std::shared_ptr<const Layout>> layout_;
  std::map<uint32_t, std::weak_ptr<Slot>> closing_;  // left the layout; Protected by placement_mu_
  std::atomic<bool> dropped_{false};
  const std::shared_ptr<PeerLink> link_;           // cluster mode
  const std::shared_ptr<UpdateLimiter> limiter_;   // cluster mode
  // By shard id: ordered writes hold it shared from their ordering check to their end; Fence
  // takes it exclusively, so that its answer comes after them. One per shard: a write waiting
  // in one shard's handover must not hold back another shard's Fence (two peers, each the new
  // ordering replica of one shard, would wait for each other).
  std::unique_ptr<std::shared_timed_mutex[]> ordering_mu_;
  std::shared_timed_mutex& OrderingMutex(uint32_t shard);
  std::mutex handover_mu_;
  std::mutex handover_run_mu_;  // one Handover at a time
  std::set<uint32_t> fenced_;   // shards this peer took the ordering of; Protected by handover_mu_
  std::mutex forwards_mu_;      // a leaf: taken under a replica's WAL lock
  std::map<uint32_t, std::vector<uint64_t>>
      forwards_;  // shard -> receivers; Protected by forwards_mu_
  std::mutex acks_mu_;
  std::map<std::pair<uint32_t, segment::OpNum>, std::shared_ptr<Acks>>
      acks_;  // Protected by acks_mu_
  // Snapshot transfers received: shard -> the session whose files are staged.
  std::mutex incoming_mu_;                 // before placement_mu_
  std::map<uint32_t, uint64_t> incoming_;  // Protected by incoming_mu_
  // Receiver: swaps the staged files in as the replica of `shard`. Holds incoming_mu_.
  Result<InstalledSnapshot> InstallTransferSnapshot(uint32_t shard, uint64_t from,
                                                    const std::string& staged);
};

}  // namespace qd::collection
