// LocalReplica: this node's copy of one shard (Qdrant: LocalShard). It owns the shard's
// operation WAL (wal.db, SQLite, synchronous=FULL) and its Segment.
//
// Write path, a three-stage pipeline; each op goes through it on the thread that asked for it.
// Stage 1, group commit (STYLE.md §2, LevelDB's DBImpl::Write): callers queue in arrival order.
// The caller at the front appends its own op and every pure op queued behind it (up to
// kMaxGroupBytes) to the WAL in one transaction and one fsync, under consecutive op numbers,
// and wakes the others with the shared outcome; then each caller's on_durable runs (a
// wait=false caller is answered there). A pure resolve (it only passes the request on) runs on
// its caller's thread before it queues; a state-reading one runs at the front of the queue,
// once every logged op is through stage 3, and its op leads its own group. Stage 2, in op
// order: the segment applies the op in memory (slots, graph inserts) and captures its
// points.db rows. Stage 3, in op order: those rows are written to points.db.
// Op N+1 is fsynced while op N is inserted into the graph, and inserted while op N is written
// to points.db, so neither the fsync nor the SQLite write idles the cores. Update returns after
// stage 3. A resolve that reads state (`pure` false: update_mode, update_filter, by filter,
// update_vectors) sees every op logged before it.
// Failure modes: a resolve error returns before anything is logged. A failed WAL transaction
// fails its whole group with kInternal and the replica refuses further writes until restarted:
// after a failed commit or fsync nobody knows whether the records landed (none was
// acknowledged; recovery applies whatever is in the WAL). An apply error after the WAL commit
// leaves the op in the WAL, so it is applied on the next start, and the replica refuses
// further writes (and the not yet applied ops behind it) until then.
//
// Recovery (Open): the segment loads points.db (state at applied_op) and its index checkpoint
// (index_op); WAL ops in (index_op, applied_op] are re-synced into the indexes from points.db
// and ops above applied_op are applied again.
// Thread: Update from any thread; segment() reads from any.
// Lock order: log_mu_, apply_mu_, store_mu_, turn_mu_; queue_mu_ is a leaf (nothing else is
// locked while it is held).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/segment/operation.h"
#include "qdrantd/segment/segment.h"

namespace qd::sqlite {
class Db;
}

namespace qd::replica {

class LocalReplica {
 public:
  struct Options {
    // The optimizer rebuilds a graph when more than deleted_threshold of its labels are dead
    // (Qdrant's optimizers_config.deleted_threshold / vacuum_min_vector_number).
    double deleted_threshold = 0.2;
    size_t vacuum_min_vector_number = 1000;
    // Flush keeps at least the newest this many bytes of ops in the WAL (wal_config's
    // wal_capacity_mb), and always the last op: how far back a wal_delta transfer can reach.
    size_t wal_retain_bytes = size_t{32} << 20;
  };
  static Result<std::unique_ptr<LocalReplica>> Open(const std::string& dir,
                                                    std::vector<segment::VectorSpec> vectors,
                                                    Options options);
  ~LocalReplica();

  using Resolve = std::function<Result<segment::Operation>(const segment::Segment&)>;
  // Returns the op number, or 0 when the resolved operation was empty and nothing was logged.
  // `pure`: resolve does not read the segment, so it may run while earlier ops are applied.
  Result<segment::OpNum> Update(const Resolve& resolve, bool pure,
                                const std::function<void(segment::OpNum)>& on_durable);

  // Cluster mode: `listener` is called for every op this replica logs, in op order, under the
  // WAL lock, with the op's encoding, whether Update numbered it here (this replica orders
  // the shard's writes) or ApplyReplicated logged another's, and the peer it came from (this
  // one, or ApplyReplicated's `origin`); it must only queue work (the op for the other
  // replicas, or for a transfer's receiver). `origin` (this peer) is recorded with the ops
  // Update logs. Call before the first Update.
  using LogListener = std::function<void(segment::OpNum, const std::string& body, bool ordered_here,
                                         uint64_t from)>;
  void SetLogListener(uint64_t origin, LogListener listener);
  // Cluster mode, a replica that follows another's order: logs `ops` (numbered by the ordering
  // replica `origin`, consecutive) in one WAL transaction and applies them in order. Returns
  // last_op() after them. An op this replica already logged with the same body is skipped (it
  // came through two streams while a transfer handed over); when the first op is ahead of
  // last_op() + 1, the call waits up to kGapWait for the missing ops to arrive by another
  // stream. Errors: kFailedPrecondition for an op that is not last_op() + 1 then (neither it
  // nor the ops after it are logged: this replica missed ops, or holds another op under that
  // number, and must be recovered by a transfer); kInternal for an op that does not decode;
  // the pipeline's errors.
  static constexpr std::chrono::milliseconds kGapWait{3000};
  struct NumberedOp {
    segment::OpNum op_num = 0;
    std::string body;  // segment::Encode(op)
  };
  // `logged`, when given, receives the numbers of the ops this call logged (not those it
  // skipped): only for those did the log listener run here.
  Result<segment::OpNum> ApplyReplicated(uint64_t origin, std::vector<NumberedOp> ops,
                                         std::vector<segment::OpNum>* logged = nullptr);

  // Shard transfers. Source: runs `fn` with last_op() and the segment while no op is being
  // logged or applied (the WAL lock held, every logged op applied), so what it reads of the
  // segment is exactly the state at that op and what it queues lands between two ops in the
  // log listener's order. Keep `fn` short: writes wait meanwhile.
  Status WithQuiescedLog(const std::function<Status(segment::OpNum, const segment::Segment&)>& fn);
  // Receiver: ResetTo empties the replica in place (points, payload indexes, WAL) and makes it
  // continue from op `base`; then ApplyTransferred writes the source's points with their
  // versions (or its payload indexes), between two ops, without logging them: a replica filled
  // this way is complete only when its transfer finishes (Segment::ApplyTransferred). In place,
  // so that requests holding the replica never make a transfer wait for them.
  // Until MarkComplete, the replica is marked incomplete (in wal.db, so across restarts): a
  // transfer into it that did not finish left it with only part of the points, whatever its
  // WAL says, and Clock() then tells a wal_delta source so.
  Status ResetTo(segment::OpNum base);
  // The replica holds everything again (its transfer finished); cheap when it was not marked.
  Status MarkComplete();
  // Which operations this replica holds, for a wal_delta transfer into it: its last op and the
  // hash of that op's body (OpHash). nullopt when that cannot be trusted: the replica is
  // incomplete, holds no op, or its WAL no longer holds its last op.
  struct Clock {
    segment::OpNum op = 0;
    uint64_t hash = 0;
  };
  Result<std::optional<Clock>> LastClock();
  static uint64_t OpHash(std::string_view body);  // FNV-1a 64: the same in every build
  // Transfer source, wal_delta: runs `fn` like WithQuiescedLog, with the WAL's ops
  // `from`..last_op(). Errors: kNotFound when the WAL does not hold them all; fn's.
  Status WithQuiescedOps(
      segment::OpNum from,
      const std::function<Status(segment::OpNum last, std::vector<NumberedOp> ops)>& fn);
  // Ops `from`..`to` from the WAL. Errors: kNotFound unless it holds them all (a checkpoint
  // trimmed them, or they were never logged here).
  Result<std::vector<NumberedOp>> ReadOps(segment::OpNum from, segment::OpNum to);
  // Waits up to `timeout` until last_op() >= op_num; returns last_op().
  segment::OpNum WaitLogged(segment::OpNum op_num, std::chrono::milliseconds timeout);
  Status ApplyTransferred(const segment::Operation& op,
                          const std::vector<segment::OpNum>& versions);

  // Transfer source, snapshot method: writes into `out_dir` (created; same filesystem) what a
  // receiver opens as this replica (docs/cluster.md "Shard transfers"): its index checkpoint
  // (hard links to the index-<n>.hnsw files, at index_op I), then points.db and wal.db as
  // consistent copies (VACUUM INTO; points.db at some applied op K >= I, the WAL holding every op
  // after I, and ops logged after K too). Opening those replays them exactly as a restart does.
  // No write waits: only checkpoints (Flush) are held off while it copies. The WAL keeps every
  // op from I on for as long as `pin` lives (set on success), so a delta can follow.
  struct Snapshot {
    std::vector<std::string> files;  // names in out_dir
    size_t points = 0;               // live points when it was taken
    std::shared_ptr<void> pin;
  };
  Result<Snapshot> CaptureSnapshot(const std::string& out_dir);
  // The file names a snapshot may hold (CaptureSnapshot's files).
  static bool IsSnapshotFile(std::string_view name);

  const segment::Segment& segment() const { return *segment_; }
  // Saves index checkpoints and drops WAL records every checkpoint covers. A no-op once
  // Abandon()ed.
  Status Flush();
  // The collection was dropped or replaced and its files moved aside: never write through the
  // old paths again (a new collection of the same name may live there now).
  void Abandon() { abandoned_ = true; }
  segment::OpNum last_op() const;
  // WAL transactions committed since Open: fewer than the ops logged when writes overlapped.
  uint64_t wal_commits() const { return wal_commits_.load(std::memory_order_relaxed); }
  // Callers in stage 1 now, the one writing included.
  size_t queued() const;
  // A WAL transaction carries at most this many bytes of operations, unless one op is bigger.
  static constexpr size_t kMaxGroupBytes = size_t{8} << 20;

  // The optimizer's runs since Open (GET /collections/{c}/optimizations): the one running, if
  // any, then the completed ones, newest first (the last kKeptRuns).
  struct OptimizationRun {
    std::string uuid;       // random, per run
    std::string optimizer;  // "vacuum": a graph rebuilt without its deleted points
    std::string vector;     // the vector whose graph it rebuilt ("" the unnamed one)
    bool running = false;
    std::optional<std::string> error;
    int64_t started_ms = 0;   // Unix milliseconds
    int64_t finished_ms = 0;  // when not running
    size_t points = 0;        // live points the rebuilt graph holds
  };
  static constexpr size_t kKeptRuns = 32;
  std::vector<OptimizationRun> Optimizations() const;
  // Whether a graph needs the optimizer and it is not running on it yet (a queued run).
  bool NeedsOptimization() const;
  // Points optimized since Open (Qdrant's total_optimized_points).
  size_t optimized_points() const;
  // A stable id for this replica's segment: a UUID made from its directory.
  std::string segment_uuid() const;

 private:
  LocalReplica(std::string dir, std::unique_ptr<sqlite::Db> wal,
               std::unique_ptr<segment::Segment> segment);
  Status Recover();
  // ReadOps with log_mu_ held.
  Result<std::vector<NumberedOp>> ReadOpsLocked(segment::OpNum from, segment::OpNum to);
  // Starts the optimizer thread when a graph needs it and none runs.
  void MaybeOptimize();
  void Vacuum(int spec);
  struct Logged {
    segment::OpNum op_num = 0;  // 0: nothing to apply
    segment::Operation op;
  };
  struct Writer;  // a caller waiting in stage 1
  // Stage 1: resolve and append to the WAL, alone or in a group.
  Result<Logged> Log(const Resolve& resolve, bool pure);
  // At the front of the queue: resolves w when it reads state, then writes w and the pure
  // writers behind it. Holds log_mu_.
  void CommitGroup(Writer& w);
  // One transaction for the group's ops; numbers them on success. Holds log_mu_.
  Status AppendToWal(const std::vector<Writer*>& group);
  // Records the first failure that stops the replica's writes, wakes every waiter, and
  // returns the status they all get.
  Status MarkBroken(const std::string& failure, const Status& cause);
  // Stages 2 and 3: each waits for op_num - 1 to be through it.
  Status Apply(const Logged& logged);
  // Waits until `done` (applied_in_memory_ or applied_) reaches op_num - 1 or the replica broke.
  Status WaitTurn(const segment::OpNum& done, segment::OpNum op_num);
  // Records the outcome of a stage for op_num in `done` and wakes the waiters.
  Status EndTurn(segment::OpNum& done, segment::OpNum op_num, Status s);
  // The first apply error, or Ok.
  Status Broken();

  const std::string dir_;
  mutable std::mutex queue_mu_;
  std::deque<Writer*> queue_;                      // stage 1's callers; protected by queue_mu_
  std::mutex log_mu_;                              // held by the front's WAL transaction
  std::unique_ptr<sqlite::Db> wal_;                // Protected by log_mu_
  segment::OpNum last_op_ = 0;                     // logged; protected by log_mu_
  std::condition_variable logged_cv_;              // with log_mu_: last_op_ advanced
  // Whether the WAL holds op `op_num` with this body. Holds log_mu_.
  bool HasLogged(segment::OpNum op_num, const std::string& body);
  // Waits, holding `log` (on log_mu_), until every logged op went through stage 3.
  Status WaitAllApplied(std::unique_lock<std::mutex>& log);
  std::atomic<uint64_t> wal_commits_{0};
  std::mutex apply_mu_;                            // held through stage 2 (and by the optimizer)
  std::mutex store_mu_;                            // held through stage 3
  std::unique_ptr<segment::Segment> segment_;
  std::mutex turn_mu_;
  // Op N waits for its turn in a stage on TurnCv(N), and the stage's end for op N - 1 wakes
  // that slot only (waiters of the other stage or of op N + 64 there check and sleep again),
  // not every writer of a big pool. A state-reading resolve waits for the last logged op's
  // stage 3 on TurnCv(last_op_ + 1). MarkBroken wakes every slot.
  static constexpr size_t kTurnSlots = 64;
  std::array<std::condition_variable, kTurnSlots> turn_cvs_;
  std::condition_variable& TurnCv(segment::OpNum op) { return turn_cvs_[op % kTurnSlots]; }
  segment::OpNum applied_in_memory_ = 0;           // through stage 2; protected by turn_mu_
  segment::OpNum applied_ = 0;                     // through stage 3; protected by turn_mu_
  Status broken_;                                  // Protected by turn_mu_
  Options options_;
  bool incomplete_ = false;  // ResetTo..MarkComplete, kept in wal.db's meta; protected by log_mu_
  std::atomic<uint64_t> updates_{0};
  std::mutex optimizer_mu_;
  std::thread optimizer_;                          // Protected by optimizer_mu_
  std::atomic<bool> optimizing_{false};
  mutable std::mutex runs_mu_;        // a leaf
  std::deque<OptimizationRun> runs_;  // newest first; Protected by runs_mu_
  size_t optimized_points_ = 0;       // Protected by runs_mu_
  std::atomic<bool> abandoned_{false};
  // Held by Flush throughout and by CaptureSnapshot: index files, index_op and the WAL's trim
  // move together. Lock order: before log_mu_.
  std::mutex flush_mu_;
  // Ops the WAL keeps whatever the trim says (CaptureSnapshot's pins): the lowest pinned op and
  // every op after it. Shared with the pins' deleters, which may outlive the replica.
  struct Pins {
    std::mutex mu;  // a leaf
    std::multiset<segment::OpNum> from;
  };
  std::shared_ptr<Pins> pins_ = std::make_shared<Pins>();
  uint64_t origin_ = 0;   // recorded with ops Update logs; set once before writes
  LogListener listener_;  // called under log_mu_; set once before writes
};

}  // namespace qd::replica
