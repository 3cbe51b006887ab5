// Reconciler: makes this node's collections, their local replicas and the aliases match each
// ClusterState the state machine applies (STYLE.md §1: apply is pure, side effects live here).
// A collection in the state and not here is created; one here and not in the state is dropped; a
// changed config is updated; each collection's local replicas follow the placement: this node
// holds a replica of exactly the shards placed on its peer id (Collection::ApplyPlacement) and
// knows the other holders; aliases are brought in line.
//
// Happy path: the state machine publishes a state -> Reconcile() (loop) hands it to the worker
// pool, where the SQLite and disk work runs -> the pool posts the end back to the loop -> the
// `reconciled` callback reports the state's applied index (ClusterNode then answers the
// proposers of entries up to it, so a caller's next request finds its change). One reconcile
// runs at a time, in order; states published meanwhile are coalesced to the latest (each run
// looks at a whole state, so skipping intermediate ones loses nothing). Failure modes: a local
// change that fails is logged and the state still counts as reconciled (the proposer's change
// did commit; the next state or POST /cluster/recover retries it); a full pool queue retries
// the submission after kRetryDelay.
// Thread: the loop for every method; the work itself on the pool.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/cluster/cluster_state.h"
#include "qdrantd/collection/collections.h"
#include "qdrantd/server/loop.h"
#include "qdrantd/server/worker_pool.h"

namespace qd::cluster {

class Reconciler {
 public:
  using ReconciledFn = std::function<void(server::OnLoop, uint64_t applied_index)>;
  // Proposes a new state for this peer's replica of a shard; `done` runs on the loop.
  using ProposeStateFn =
      std::function<void(server::OnLoop, const std::string& collection, ShardId shard,
                         ReplicaState state, std::function<void(Status)> done)>;
  using RecoverFn = std::function<void(server::OnLoop, Status)>;
  static constexpr std::chrono::milliseconds kRetryDelay{20};

  // `propose_state` (may be null in tests): after each run, this peer's replicas that exist
  // here but whose state says otherwise are proposed into the state this peer's node type gives
  // them: Initializing -> Active (or Listener on a Listener node), Listener -> Active on a node
  // restarted as Normal, Active -> Listener on a node restarted as Listener (compat.md §5.1,
  // §5.5); a replica whose files vanished (Collection::LostData) -> Dead, for a transfer to
  // refill it (§6.6). One proposal per replica in flight.
  Reconciler(server::Loop& loop, server::WorkerPool& pool, collection::Collections& collections,
             PeerId self, ReconciledFn reconciled, ProposeStateFn propose_state = nullptr,
             bool listener = false);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Queues `state`, replacing any state still queued; runs it on the pool when the run in
  // flight, if any, has finished.
  void Reconcile(server::OnLoop, std::shared_ptr<const ClusterState> state);
  // POST /cluster/recover: reconciles `state` in full, also re-creating (empty) every local
  // replica whose files vanished from disk. `done` runs on the loop after that run, with the
  // first error (kInternal: a replica could not be created).
  void Recover(server::OnLoop, std::shared_ptr<const ClusterState> state, RecoverFn done);
  // Drops queued work and stops retrying; a run in flight finishes but reports nothing.
  void Stop(server::OnLoop);

  // One run, synchronously, on the calling thread: what the pool executes. Returns the first
  // error; every collection is still attempted. Thread: any (tests call it directly).
  static Status ReconcileNow(collection::Collections& collections, PeerId self, const ClusterState& state,
                             bool recreate_missing);

 private:
  static void OnRetryTimer(uv_timer_t* timer) noexcept;
  void StartNext(server::OnLoop);
  void Finished(server::OnLoop, uint64_t applied_index, Status status, std::vector<RecoverFn> recovers);
  struct StateFix {
    std::string collection;
    ShardId shard = 0;
    ReplicaState state = ReplicaState::kActive;
  };
  // The replica states `state` should change for this peer (see the constructor). Pool thread.
  std::vector<StateFix> StateFixes(const ClusterState& state) const;
  void ProposeFixes(server::OnLoop, std::vector<StateFix> fixes);

  server::Loop& loop_;
  server::WorkerPool& pool_;
  collection::Collections& collections_;
  const PeerId self_;
  ReconciledFn reconciled_;
  ProposeStateFn propose_state_;
  const bool listener_;
  std::set<std::pair<std::string, ShardId>> proposing_;  // state fixes in flight; loop only
  bool in_flight_ = false;
  bool stopped_ = false;
  std::shared_ptr<const ClusterState> pending_;  // the latest state not yet handed to the pool
  bool pending_recover_ = false;                 // the pending run re-creates vanished replicas
  std::vector<RecoverFn> pending_recovers_;      // answered when the pending run ends
  uv_timer_t* retry_timer_ = nullptr;            // freed in its close callback
};

}  // namespace qd::cluster
