// ClusterNode: this peer's membership in the cluster. It owns the Raft node (consensus/), the
// cluster FSM (StateMachine), and the outbound peer pool (peer/), and implements what the P2P
// listener, REST and gRPC ask of the cluster: propose a metadata change, join, status.
//
// Start decides between three paths (compat.md §6.2, §6.3, §6.9):
//   * raft.db has state (or this peer joined before): restart with the stored peer id; any
//     --bootstrap is ignored; a new --uri is announced through consensus (UpsertPeer);
//   * empty storage with --bootstrap: a new random 64-bit peer id is persisted, Raft starts
//     empty, and Join is sent to the bootstrap peer (forwarded to the leader, which registers the
//     peer through consensus and then adds it to the Raft configuration and promotes it to
//     voter). URI conflict with a peer holding replicas -> fatal 101; unreachable bootstrap for
//     cluster.consensus.bootstrap_timeout_sec -> fatal 1; a TLS handshake that fails (peer TLS
//     on one side only, or certificates from another CA) -> fatal 1 at once, saying so;
//   * empty storage without --bootstrap: founds a one-voter cluster.
// --reinit forgets term, vote, log and membership but keeps the peer id and the collections: a
// founder re-proposes them (kRestoreState), a joiner receives them from the leader.
//
// Housekeeping runs every tick on the loop: it expires and retries proposals, keeps the Raft
// configuration in line with ClusterState.peers (leader only: add, promote, remove one change at
// a time), re-announces this peer's URI, and latches readiness.
// Thread: the loop, except Propose() and State(), which any thread may call.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "libshared/status.h"
#include "qdrantd/cluster/cluster_state.h"
#include "qdrantd/cluster/meta_operation.h"
#include "qdrantd/cluster/state_machine.h"
#include "qdrantd/consensus/raft_io.h"
#include "qdrantd/peer/peer_pool.h"
#include "qdrantd/server/loop.h"

namespace qd::consensus {
class RaftNode;
}

namespace qd::cluster {

struct ClusterOptions {
  std::string storage_path = "./storage";
  std::optional<std::string> uri;        // --uri / QDRANT_URI
  std::optional<std::string> bootstrap;  // --bootstrap / QDRANT_BOOTSTRAP
  bool reinit = false;
  NodeType node_type = NodeType::kNormal;
  unsigned tick_ms = 100;
  unsigned compact_wal_entries = 128;
  size_t max_message_queue_size = 100;
  unsigned message_timeout_ticks = 10;
  std::chrono::seconds bootstrap_timeout{15};
  bool peer_tls = false;  // cluster.p2p.enable_tls: for the words of a failed join
};

// What GET /cluster and the admin ClusterStatus report (compat.md §6.1).
struct ClusterStatus {
  PeerId peer_id = 0;
  struct PeerStatus {
    std::string uri;
    bool is_voter = false;
    bool reachable = false;
  };
  std::map<PeerId, PeerStatus> peers;
  uint64_t term = 0;
  uint64_t commit = 0;
  uint64_t pending_operations = 0;
  std::optional<PeerId> leader;
  std::string role;  // Leader, Follower, Candidate, PreCandidate; empty: unknown
  bool is_voter = false;
  std::string consensus_thread_status = "working";  // working | stopped | stopped_with_err
  std::string consensus_error;
  std::map<std::string, peer::PeerPool::SendFailure> message_send_failures;  // by peer URI
};

class ClusterNode : public consensus::Transport {
 public:
  // Fatal conditions end the process: exit code and one sentence for the log.
  using FatalFn = std::function<void(server::OnLoop, int exit_code, const std::string& message)>;
  using Done = std::function<void(Status)>;

  ClusterNode(server::Loop& loop, ClusterOptions options);
  ~ClusterNode() override;
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Errors: kInvalidArgument (no URI known on a fresh storage), kInternal (raft.db).
  Status Start(server::OnLoop, FatalFn fatal);
  // Cancels proposals (kUnavailable), closes Raft and the peer pool; `done` runs on the loop.
  void Stop(server::OnLoop, std::function<void()> done);

  // Proposes `op` and calls `done` once THIS node applied it and, with a reconciler attached,
  // reconciled it (AttachReconciler), with the FSM's verdict (e.g. kAlreadyExists), also when
  // the entry reached this node inside a Raft snapshot (ClusterState::recent_results).
  // Forwarded to the leader when this node is not the leader. Errors: kDeadlineExceeded when it
  // was not applied here within `timeout`, whether a leader accepted it (outcome unknown:
  // re-read the state) or none did (no quorum); the message says which. kUnavailable when
  // consensus is not running, or on shutdown.
  // Thread: any; `done` runs on the loop thread and must not block.
  void Propose(MetaOperation op, std::chrono::milliseconds timeout, Done done);
  void ProposeOnLoop(server::OnLoop, MetaOperation op, std::chrono::milliseconds timeout, Done done);

  // The latest applied state; never null. Thread: any.
  std::shared_ptr<const ClusterState> State() const { return fsm_.Current(); }
  // Called on the loop after every applied entry or snapshot restore.
  void Subscribe(server::OnLoop on_loop, StateMachine::Subscriber subscriber) {
    fsm_.Subscribe(on_loop, std::move(subscriber));
  }
  // The Reconciler: `subscriber` sees every applied state once this node caught up with the
  // cluster (CaughtUp(): until then the state may be an old snapshot, and reconciling it would
  // drop collections created since), first the whole current state then each new one. From now
  // on a proposer is answered only once Reconciled() reported a state at or past its entry
  // (STYLE.md §1), and readiness waits for the reconciler too. Loop thread, before the loop runs.
  void AttachReconciler(server::OnLoop on_loop, StateMachine::Subscriber subscriber);
  // The reconciler finished with the state of `applied_index`.
  void Reconciled(server::OnLoop on_loop, uint64_t applied_index) { fsm_.Reconciled(on_loop, applied_index); }

  ClusterStatus GetStatus(server::OnLoop) const;
  // Whether this node leads, and the peers it cannot reach now (GetStatus's `reachable`),
  // refreshed every tick. Thread: any.
  struct Liveness {
    bool leader = false;
    std::set<PeerId> unreachable;
  };
  Liveness GetLiveness() const {
    std::lock_guard<std::mutex> lock(liveness_mu_);
    return liveness_;
  }
  // /readyz (compat.md §3), latched: this node joined, applied and reconciled up to the commit
  // index the other members report, and every local replica that was not healthy then has been
  // Active or Listener since.
  bool Ready() const { return ready_.load(); }
  // This node's Raft commit index (the P2P CommitIndex call). Loop thread.
  uint64_t CommitIndex(server::OnLoop) const;
  // The applied index of the last state this node's local collections reflect. Loop thread.
  uint64_t ReconciledIndex(server::OnLoop) const;
  // This node's commit, reconciled and applied indexes, term and role (P2P CommitIndex).
  peer::PeerPool::Position OwnPosition(server::OnLoop) const;
  // Every member's position, asked over P2P CommitIndex (this node's own without a call);
  // nullopt for a member that did not answer within `timeout`. For admin ClusterStatus
  // (qdctl cluster status: term, commit, applied and lag per peer). Loop thread.
  void Positions(
      server::OnLoop, std::chrono::milliseconds timeout,
      std::function<void(server::OnLoop, std::map<PeerId, std::optional<peer::PeerPool::Position>>)>
          reply);
  // Asks every other member how far it applied and reconciled the state (P2P CommitIndex) and
  // calls `reply` once all answered or `timeout` passed, with each member's standing: reached
  // `index`, behind it, down (its address refuses connections), or no answer. Loop thread.
  enum class Caught { kYes, kBehind, kDown, kNoAnswer };
  void MembersBehind(server::OnLoop, uint64_t index, std::chrono::milliseconds timeout,
                     std::function<void(server::OnLoop, std::map<uint64_t, Caught>)> reply);
  // Whether this node applied the state up to the commit index the other members reported
  // since it started (the reconciler runs from then on). Loop thread.
  bool CaughtUp(server::OnLoop) const { return reconciler_released_; }
  PeerId peer_id() const { return peer_id_; }

  // P2P entry points (api/p2p binds them), on the loop.
  void OnRaftMessage(server::OnLoop, const std::string& bytes);
  void OnForwardedPropose(server::OnLoop, std::string operation,
                          std::function<void(server::OnLoop, const Status&, uint64_t leader)> reply);
  void OnJoin(server::OnLoop, uint64_t peer_id, std::string uri, std::string node_type,
              std::function<void(server::OnLoop, const Status&, uint64_t leader)> reply);

  // consensus::Transport
  void Send(server::OnLoop, uint64_t to_id, const std::string& to_address, std::string bytes,
            std::function<void(server::OnLoop, bool)> done) override;

 private:
  struct Waiter {
    Done done;
    std::string bytes;
    std::chrono::steady_clock::time_point deadline;
    bool accepted = false;   // a leader took it into its log
    bool in_flight = false;  // a submission is outstanding
  };

  static void OnTimer(uv_timer_t* timer) noexcept;
  void Housekeeping(server::OnLoop);
  void Submit(server::OnLoop, const std::string& request_id);
  void ExpireWaiters(server::OnLoop);
  void ReconcileMembership(server::OnLoop);
  void AnnounceSelf(server::OnLoop);
  void TryJoin(server::OnLoop);
  void UpdateReadiness(server::OnLoop);
  void OnApplied(server::OnLoop, const std::string& request_id, const Status& status);
  std::string Resolve(uint64_t id, const std::string& fallback) const;
  Status LoadIdentity(server::OnLoop);

  server::Loop& loop_;
  ClusterOptions options_;
  FatalFn fatal_;
  PeerId peer_id_ = 0;
  std::string uri_;
  StateMachine fsm_;
  std::unique_ptr<peer::PeerPool> peers_;
  std::unique_ptr<consensus::RaftNode> raft_;
  uv_timer_t* timer_ = nullptr;  // freed in its close callback

  bool joined_ = false;
  bool founder_ = false;
  std::chrono::steady_clock::time_point join_started_;
  std::chrono::steady_clock::time_point next_join_attempt_;
  bool join_in_flight_ = false;
  bool announce_in_flight_ = false;
  std::optional<ClusterState> reinit_state_;  // founder with --reinit: collections to restore
  bool reinit_proposed_ = false;
  bool change_in_flight_ = false;
  bool stopping_ = false;
  bool fatal_reported_ = false;
  std::atomic<bool> ready_{false};
  // Readiness, in three steps (UpdateReadiness): the cluster's commit index as the other members
  // report it; then the local replicas that were not healthy once caught up; then ready.
  std::optional<uint64_t> ready_commit_target_;
  bool commit_query_in_flight_ = false;
  std::chrono::steady_clock::time_point next_commit_query_;
  std::optional<std::set<std::pair<std::string, ShardId>>> unhealthy_at_catch_up_;
  StateMachine::Subscriber reconciler_;
  bool reconciler_released_ = false;  // caught up: the reconciler sees every state
  uint64_t catch_up_applied_index_ = 0;  // the state handed to the reconciler when released
  const uint64_t incarnation_;  // random per process: request ids never repeat across restarts
  uint64_t next_request_ = 0;
  std::map<std::string, Waiter> waiters_;
  std::map<uint64_t, std::string> observed_addresses_;  // from incoming Raft messages
  std::map<uint64_t, std::chrono::steady_clock::time_point> last_heard_;  // likewise
  // When the leader first saw each removed peer still in the Raft configuration: it waits a
  // few heartbeats before removing it, so that the peer learns of its removal (and can report
  // consensus_thread_status "stopped") before the leader stops talking to it.
  std::map<uint64_t, std::chrono::steady_clock::time_point> removal_noticed_;
  mutable std::mutex liveness_mu_;
  Liveness liveness_;  // Protected by liveness_mu_
};

}  // namespace qd::cluster
