// LocalReplica: this node's copy of one shard (Qdrant: LocalShard). It owns the shard's
// operation WAL (wal.db, SQLite, synchronous=FULL) and its Segment.
//
// Write path, happy case: Update() takes the writer lock, lets the caller resolve the request
// against the current state into an Operation (filters become ids), appends it to the WAL under
// the next op number (one transaction, fsynced), calls on_durable (a wait=false caller is
// answered here), applies it to the segment and returns the op number. Failure modes: a resolve
// error returns before anything is logged; a WAL error returns kInternal and nothing was
// acknowledged; an apply error after the WAL commit leaves the op in the WAL, so it is applied
// on the next start, and the replica refuses further writes until then.
//
// Recovery (Open): the segment loads points.db (state at applied_op) and its index checkpoint
// (index_op); WAL ops in (index_op, applied_op] are re-synced into the indexes from points.db
// and ops above applied_op are applied again.
// Thread: Update from any thread (serialised by the writer lock); segment() reads from any.
#pragma once

#include <functional>
#include <memory>
#include <atomic>
#include <mutex>
#include <thread>
#include <string>
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
  // The optimizer rebuilds a graph when more than deleted_threshold of its labels are dead
  // (Qdrant's optimizers_config.deleted_threshold / vacuum_min_vector_number).
  struct OptimizerOptions {
    double deleted_threshold = 0.2;
    size_t vacuum_min_vector_number = 1000;
  };
  static Result<std::unique_ptr<LocalReplica>> Open(const std::string& dir,
                                                    std::vector<segment::VectorSpec> vectors,
                                                    OptimizerOptions optimizer);
  ~LocalReplica();

  using Resolve = std::function<Result<segment::Operation>(const segment::Segment&)>;
  // Returns the op number, or 0 when the resolved operation was empty and nothing was logged.
  Result<segment::OpNum> Update(const Resolve& resolve,
                                const std::function<void(segment::OpNum)>& on_durable);

  const segment::Segment& segment() const { return *segment_; }
  // Saves index checkpoints and drops WAL records every checkpoint covers. A no-op once
  // Abandon()ed.
  Status Flush();
  // The collection was dropped or replaced and its files moved aside: never write through the
  // old paths again (a new collection of the same name may live there now).
  void Abandon() { abandoned_ = true; }
  segment::OpNum last_op() const;

 private:
  LocalReplica(std::string dir, std::unique_ptr<sqlite::Db> wal,
               std::unique_ptr<segment::Segment> segment);
  Status Recover();
  // Starts the optimizer thread when a graph needs it and none runs.
  void MaybeOptimize();
  void Vacuum(int spec);
  Result<segment::OpNum> UpdateLocked(const Resolve& resolve,
                                      const std::function<void(segment::OpNum)>& on_durable);

  const std::string dir_;
  std::mutex writer_mu_;
  std::unique_ptr<sqlite::Db> wal_;                // Protected by writer_mu_
  std::unique_ptr<segment::Segment> segment_;
  segment::OpNum last_op_ = 0;                     // Protected by writer_mu_
  Status broken_;                                  // Protected by writer_mu_
  OptimizerOptions options_;
  std::atomic<uint64_t> updates_{0};
  std::mutex optimizer_mu_;
  std::thread optimizer_;                          // Protected by optimizer_mu_
  std::atomic<bool> optimizing_{false};
  std::atomic<bool> abandoned_{false};
};

}  // namespace qd::replica
