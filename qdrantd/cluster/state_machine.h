// StateMachine: the cluster FSM. Apply(state, MetaOperation) -> next state, pure: no I/O, no
// clock, no liveness checks (STYLE.md §1). It implements consensus::Fsm, so libraft feeds it
// committed entries, snapshots it and restores it; after each change it publishes an immutable
// copy for readers on any thread and tells its subscribers (the Reconciler hook).
// Thread: the loop for everything but Current(), which any thread may call.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qdrantd/cluster/cluster_state.h"
#include "qdrantd/cluster/meta_operation.h"
#include "qdrantd/consensus/fsm.h"

namespace qd::cluster {

// The pure transition. On error `state` is unchanged. Errors: kNotFound (unknown collection,
// alias, peer, replica, transfer), kAlreadyExists (collection or alias exists; a URI held by a
// peer with replicas), kFailedPrecondition (removing a peer that holds replicas without force;
// a removed peer id coming back), kInvalidArgument (malformed operation).
Status ApplyOperation(ClusterState& state, const MetaOperation& op);

class StateMachine : public consensus::Fsm {
 public:
  // Called on the loop after each applied entry or restore, with the new published state.
  using Subscriber = std::function<void(server::OnLoop, const std::shared_ptr<const ClusterState>&)>;
  // Called on the loop for each applied operation that carried a request id, and after a
  // snapshot restore for each verdict the snapshot carries (ClusterState::recent_results), so
  // that a proposer whose entry arrived inside a snapshot hears its outcome; the same id may
  // thus be reported more than once, and ids nobody waits for are to be ignored.
  using ResultFn = std::function<void(server::OnLoop, const std::string& request_id, const Status&)>;

  StateMachine();

  // consensus::Fsm
  void Apply(server::OnLoop, uint64_t index, std::string_view command) override;
  std::string Snapshot(server::OnLoop) override;
  Status Restore(server::OnLoop, std::string_view snapshot, uint64_t index) override;

  // The latest published state; never null. Any thread.
  std::shared_ptr<const ClusterState> Current() const { return published_.load(); }
  // Register before consensus starts; loop thread.
  void Subscribe(server::OnLoop, Subscriber subscriber) { subscribers_.push_back(std::move(subscriber)); }
  void OnResult(ResultFn fn) { on_result_ = std::move(fn); }
  // From now on, each operation's result is held until Reconciled() reports a state at or past
  // its entry, so that a proposer is answered only once its node applied AND reconciled it
  // (STYLE.md §1). Without it (the FSM alone, in tests) results go out at apply. Loop thread.
  void HoldResultsUntilReconciled(server::OnLoop) { hold_results_ = true; }
  // The reconciler finished with the state of `applied_index`: releases the results it covers.
  void Reconciled(server::OnLoop, uint64_t applied_index);
  // The applied index of the last state reconciled (0: none yet). Loop thread.
  uint64_t reconciled_index() const { return reconciled_index_; }
  // Replaces the live state without consensus: --reinit seeding and tests only.
  void ResetForTesting(server::OnLoop, ClusterState state);

 private:
  void Publish(server::OnLoop);

  ClusterState live_;
  std::atomic<std::shared_ptr<const ClusterState>> published_;
  std::vector<Subscriber> subscribers_;
  ResultFn on_result_;
  struct HeldResult {
    uint64_t index;
    std::string request_id;
    Status status;
  };
  bool hold_results_ = false;
  uint64_t reconciled_index_ = 0;
  std::vector<HeldResult> held_;  // in index order
};

}  // namespace qd::cluster
