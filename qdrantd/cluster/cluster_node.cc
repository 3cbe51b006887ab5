#include "qdrantd/cluster/cluster_node.h"

#include <filesystem>
#include <random>

#include "libshared/log.h"
#include "libshared/uri.h"
#include "qdrantd/consensus/codec.h"
#include "qdrantd/consensus/raft_node.h"
#include "qdrantd/consensus/raft_store.h"
#include "qdrantd/peer/peer_pool.h"

namespace qd::cluster {
namespace {

using server::OnLoop;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kJoinRetry{500};
constexpr std::chrono::milliseconds kInternalTimeout{10000};
constexpr std::chrono::milliseconds kCommitQueryRetry{500};

std::string Id(uint64_t id) { return std::to_string(id); }

// GET /cluster's raft_info.role names; empty when consensus is not running.
std::string RoleName(const consensus::RaftStatus& st) {
  switch (st.role) {
    case consensus::Role::kLeader:
      return "Leader";
    case consensus::Role::kFollower:
      return "Follower";
    case consensus::Role::kCandidate:
      return st.pre_candidate ? "PreCandidate" : "Candidate";
    case consensus::Role::kUnavailable:
      break;
  }
  return "";
}

uint64_t RandomPeerId() {
  std::random_device rd;
  std::mt19937_64 rng((uint64_t(rd()) << 32) ^ rd());
  uint64_t id = 0;
  while (id == 0) id = rng();
  return id;
}

// Rebuilds the last known state from raft.db: the snapshot plus every command after it. Used by
// --reinit, which runs after the cluster was stopped, so every logged command was committed.
Result<ClusterState> ReplayStore(consensus::RaftStore& store) {
  ClusterState state;
  auto snap = store.LoadSnapshot();
  if (!snap.ok()) return snap.status();
  uint64_t from = 0;
  if (snap->has_value()) {
    auto restored = ClusterState::FromJson((*snap)->data);
    if (!restored.ok()) return restored.status();
    state = std::move(restored.value());
    from = (*snap)->index;
  }
  auto entries = store.LoadEntries();
  if (!entries.ok()) return entries.status();
  for (const auto& e : *entries) {
    if (e.index <= from || e.type != RAFT_COMMAND) continue;
    auto op = MetaOperation::Decode(e.data);
    if (op.ok()) (void)ApplyOperation(state, *op);
  }
  return state;
}

}  // namespace

ClusterNode::ClusterNode(server::Loop& loop, ClusterOptions options)
    : loop_(loop), options_(std::move(options)), incarnation_(RandomPeerId()) {
  fsm_.OnResult([this](OnLoop on_loop, const std::string& id, const Status& s) { OnApplied(on_loop, id, s); });
}

ClusterNode::~ClusterNode() = default;

Status ClusterNode::LoadIdentity(OnLoop) {
  std::error_code ec;
  std::filesystem::create_directories(options_.storage_path, ec);
  if (ec) return Status::Internal("cannot create " + options_.storage_path + ": " + ec.message());
  auto opened = consensus::RaftStore::Open(options_.storage_path + "/raft.db");
  if (!opened.ok()) return opened.status();
  consensus::RaftStore& store = **opened;

  auto id = store.GetMetaU64("peer_id");
  if (!id.ok()) return id.status();
  if (id->has_value()) {
    peer_id_ = **id;
  } else {
    peer_id_ = RandomPeerId();
    if (Status s = store.SetMetaU64("peer_id", peer_id_); !s.ok()) return s;
  }
  auto stored_uri = store.GetMeta("uri");
  if (!stored_uri.ok()) return stored_uri.status();
  if (options_.uri) {
    auto parsed = ParseUri(*options_.uri, 6335);
    uri_ = parsed.ok() ? parsed->ToString() : *options_.uri;
    if (Status s = store.SetMeta("uri", uri_); !s.ok()) return s;
  } else if (stored_uri->has_value()) {
    uri_ = **stored_uri;
  } else {
    return Status::InvalidArgument(
        "cluster mode needs this peer's P2P address: pass --uri http://HOST:P2P_PORT (or QDRANT_URI)");
  }

  if (options_.reinit) {
    auto state = ReplayStore(store);
    if (!state.ok()) return state.status().WithContext("--reinit");
    if (!options_.bootstrap) reinit_state_ = std::move(state.value());
    if (Status s = store.ResetRaftState(); !s.ok()) return s;
    QD_LOG_INFO("--reinit: discarded the old membership; keeping peer id " + Id(peer_id_) + " and the data");
  }

  auto joined = store.GetMetaU64("joined");
  if (!joined.ok()) return joined.status();
  auto has_state = store.HasRaftState();
  if (!has_state.ok()) return has_state.status();
  joined_ = joined->value_or(0) != 0 || *has_state;
  founder_ = !joined_ && !options_.bootstrap;
  return Status::Ok();
}

Status ClusterNode::Start(OnLoop on_loop, FatalFn fatal) {
  fatal_ = std::move(fatal);
  if (Status s = LoadIdentity(on_loop); !s.ok()) return s;

  peers_ = std::make_unique<peer::PeerPool>(
      loop_, peer::PeerPoolOptions{
                 .max_message_queue_size = options_.max_message_queue_size,
                 .message_timeout = std::chrono::milliseconds(options_.tick_ms * options_.message_timeout_ticks),
             });
  unsigned compact = std::max(1u, options_.compact_wal_entries);
  raft_ = std::make_unique<consensus::RaftNode>(
      loop_, this, &fsm_,
      consensus::RaftNodeOptions{
          .id = peer_id_,
          .address = uri_,
          .db_path = options_.storage_path + "/raft.db",
          .tick_ms = options_.tick_ms,
          // 5 ticks, randomised by libraft to 5-10: a dead leader is replaced well within 2 s
          // at the default 100 ms tick.
          .election_timeout_ms = std::max(5 * options_.tick_ms, 50u),
          .snapshot_threshold = compact,
          .snapshot_trailing = compact,
      });
  if (Status s = raft_->Open(); !s.ok()) return s;
  if (founder_) {
    if (Status s = raft_->Bootstrap(on_loop); !s.ok()) return s;
    if (Status s = raft_->store().SetMetaU64("joined", 1); !s.ok()) return s;
    joined_ = true;
    QD_LOG_INFO("founded a new cluster as peer " + Id(peer_id_) + " at " + uri_);
  } else if (joined_) {
    if (options_.bootstrap) QD_LOG_INFO("existing cluster state found: ignoring --bootstrap");
    QD_LOG_INFO("rejoining the cluster as peer " + Id(peer_id_) + " at " + uri_);
  } else {
    QD_LOG_INFO("joining the cluster through " + *options_.bootstrap + " as peer " + Id(peer_id_) + " at " + uri_);
    join_started_ = Clock::now();
  }
  if (Status s = raft_->Start(on_loop); !s.ok()) return s;

  timer_ = new uv_timer_t;
  uv_timer_init(loop_.raw(), timer_);
  timer_->data = this;
  uv_timer_start(timer_, &ClusterNode::OnTimer, 0, options_.tick_ms);
  return Status::Ok();
}

void ClusterNode::Stop(OnLoop on_loop, std::function<void()> done) {
  stopping_ = true;
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& [id, w] : waiters) w.done(Status::Unavailable("qdrantd is shutting down"));
  if (timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  if (!raft_) {
    if (peers_) peers_->Stop(on_loop);
    done();
    return;
  }
  raft_->Close(on_loop, [this, done = std::move(done)] {
    peers_->Stop(loop_.Enter());
    done();
  });
}

void ClusterNode::OnTimer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<ClusterNode*>(timer->data);
  self->Housekeeping(self->loop_.Enter());
}

void ClusterNode::Housekeeping(OnLoop on_loop) {
  if (stopping_ || !raft_ || !raft_->started()) return;
  ExpireWaiters(on_loop);
  for (auto& [id, w] : waiters_) {
    if (!w.accepted && !w.in_flight) Submit(on_loop, id);
  }
  if (!joined_) {
    TryJoin(on_loop);
    return;
  }
  ReconcileMembership(on_loop);
  AnnounceSelf(on_loop);
  UpdateReadiness(on_loop);
  ClusterStatus status = GetStatus(on_loop);
  Liveness live{.leader = status.role == "Leader", .unreachable = {}};
  for (const auto& [id, peer] : status.peers) {
    if (!peer.reachable) live.unreachable.insert(id);
  }
  std::lock_guard<std::mutex> lock(liveness_mu_);
  liveness_ = std::move(live);
}

// --- Proposals ------------------------------------------------------------------------------

void ClusterNode::Propose(MetaOperation op, std::chrono::milliseconds timeout, Done done) {
  loop_.Post([this, op = std::move(op), timeout, done = std::move(done)](OnLoop on_loop) mutable {
    ProposeOnLoop(on_loop, std::move(op), timeout, std::move(done));
  });
}

void ClusterNode::ProposeOnLoop(OnLoop on_loop, MetaOperation op, std::chrono::milliseconds timeout, Done done) {
  if (stopping_ || !raft_) {
    done(Status::Unavailable("consensus is not running"));
    return;
  }
  // Unique across restarts too: the log replayed at start and the verdicts a snapshot carries
  // hold request ids of earlier runs, which must not answer this run's waiters.
  op.request_id = Id(peer_id_) + "-" + Id(incarnation_) + "-" + Id(++next_request_);
  Waiter& w = waiters_[op.request_id];
  w.done = std::move(done);
  w.bytes = op.Encode();
  w.deadline = Clock::now() + timeout;
  Submit(on_loop, op.request_id);
}

void ClusterNode::Submit(OnLoop on_loop, const std::string& request_id) {
  auto it = waiters_.find(request_id);
  if (it == waiters_.end()) return;
  Waiter& w = it->second;
  consensus::RaftStatus st = raft_->GetStatus(on_loop);
  if (st.role == consensus::Role::kLeader) {
    int rv = raft_->Apply(on_loop, w.bytes, [](OnLoop, int) {
      // Success is reported by OnApplied (the FSM's verdict); a lost leadership leaves the
      // outcome unknown until the deadline.
    });
    if (rv == 0) w.accepted = true;
    return;
  }
  if (st.leader_id == 0) return;  // retried on the next tick
  w.in_flight = true;
  std::chrono::milliseconds left = std::chrono::duration_cast<std::chrono::milliseconds>(w.deadline - Clock::now());
  peers_->Propose(on_loop, Resolve(st.leader_id, st.leader_address), w.bytes,
                  std::max(left, std::chrono::milliseconds(1)),
                  [this, request_id](OnLoop, Status s, uint64_t) {
                    auto found = waiters_.find(request_id);
                    if (found == waiters_.end()) return;
                    found->second.in_flight = false;
                    if (s.ok()) {
                      found->second.accepted = true;
                    } else if (s.code() != StatusCode::kUnavailable) {
                      Done d = std::move(found->second.done);
                      waiters_.erase(found);
                      d(s);
                    }
                    // kUnavailable (not the leader, or unreachable): retried on the next tick.
                  });
}

void ClusterNode::OnApplied(OnLoop, const std::string& request_id, const Status& status) {
  auto it = waiters_.find(request_id);
  if (it == waiters_.end()) return;
  Done done = std::move(it->second.done);
  waiters_.erase(it);
  done(status);
}

void ClusterNode::ExpireWaiters(OnLoop) {
  auto now = Clock::now();
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    Waiter w = std::move(it->second);
    it = waiters_.erase(it);
    if (w.accepted) {
      w.done(Status::DeadlineExceeded(
          "Timed out waiting for consensus: the operation was proposed but not applied in time; "
          "its outcome is unknown"));
    } else {
      w.done(Status::DeadlineExceeded(
          "Timed out waiting for consensus: no leader accepted the operation in time (no quorum?)"));
    }
  }
}

void ClusterNode::OnForwardedPropose(OnLoop on_loop, std::string operation,
                                     std::function<void(OnLoop, const Status&, uint64_t)> reply) {
  if (stopping_ || !raft_ || !raft_->started()) {
    reply(on_loop, Status::Unavailable("consensus is not running"), 0);
    return;
  }
  consensus::RaftStatus st = raft_->GetStatus(on_loop);
  if (st.role != consensus::Role::kLeader) {
    reply(on_loop, Status::Unavailable("not the leader"), st.leader_id);
    return;
  }
  int rv = raft_->Apply(on_loop, operation, [](OnLoop, int) {});
  if (rv != 0) {
    reply(on_loop, Status::Unavailable(std::string("leader refused the entry: ") + raft_strerror(rv)), st.leader_id);
    return;
  }
  reply(on_loop, Status::Ok(), peer_id_);
}

// --- Membership -----------------------------------------------------------------------------

void ClusterNode::OnJoin(OnLoop on_loop, uint64_t peer_id, std::string uri, std::string node_type,
                         std::function<void(OnLoop, const Status&, uint64_t)> reply) {
  if (stopping_ || !raft_ || !raft_->started()) {
    reply(on_loop, Status::Unavailable("consensus is not running"), 0);
    return;
  }
  consensus::RaftStatus st = raft_->GetStatus(on_loop);
  if (st.role != consensus::Role::kLeader) {
    if (st.leader_id == 0) {
      reply(on_loop, Status::Unavailable("this peer knows no leader yet"), 0);
      return;
    }
    // Any member accepts a join and forwards it to the leader (compat.md §6.2).
    peers_->Join(on_loop, Resolve(st.leader_id, st.leader_address), peer_id, uri, node_type, kInternalTimeout,
                 [reply = std::move(reply)](OnLoop l, Status s, uint64_t leader) { reply(l, s, leader); });
    return;
  }
  auto parsed = ParseUri(uri, 6335);
  std::string canonical = parsed.ok() ? parsed->ToString() : uri;
  NodeType type = ParseNodeType(node_type).value_or(NodeType::kNormal);
  QD_LOG_INFO("peer " + Id(peer_id) + " at " + canonical + " asks to join");
  ProposeOnLoop(on_loop, MetaOperation::UpsertPeer(peer_id, canonical, type), kInternalTimeout,
                [this, reply = std::move(reply)](Status s) { reply(loop_.Enter(), s, peer_id_); });
}

void ClusterNode::TryJoin(OnLoop on_loop) {
  if (join_in_flight_ || Clock::now() < next_join_attempt_) return;
  join_in_flight_ = true;
  peers_->Join(on_loop, *options_.bootstrap, peer_id_, uri_, std::string(NodeTypeName(options_.node_type)),
               std::chrono::seconds(5), [this](OnLoop l, Status s, uint64_t) {
                 join_in_flight_ = false;
                 if (stopping_) return;
                 if (s.ok()) {
                   joined_ = true;
                   if (Status w = raft_->store().SetMetaU64("joined", 1); !w.ok()) QD_LOG_ERROR(w.message());
                   QD_LOG_INFO("joined the cluster as peer " + Id(peer_id_));
                   return;
                 }
                 if (s.code() == StatusCode::kAlreadyExists || s.code() == StatusCode::kFailedPrecondition) {
                   // 101 is the status Qdrant (a Rust panic) exits with; testers check for it.
                   if (!fatal_reported_) {
                     fatal_reported_ = true;
                     fatal_(l, s.code() == StatusCode::kAlreadyExists ? 101 : 1,
                            "cannot join the cluster through " + *options_.bootstrap + ": " + s.message());
                   }
                   return;
                 }
                 // A handshake never succeeds by waiting: the two sides' TLS settings differ.
                 const bool handshake = s.message().find("andshake") != std::string::npos ||
                                        s.message().find("SSL") != std::string::npos;
                 const std::string tls_hint =
                     options_.peer_tls
                         ? " (this node uses TLS between peers, cluster.p2p.enable_tls: the "
                           "cluster must too, with certificates from this node's tls.ca_cert)"
                         : " (if the cluster uses TLS between peers, https:// URIs, set "
                           "cluster.p2p.enable_tls and its tls.* files on this node too)";
                 if (handshake || Clock::now() - join_started_ > options_.bootstrap_timeout) {
                   if (!fatal_reported_) {
                     fatal_reported_ = true;
                     fatal_(
                         l, 1,
                         "cannot join the cluster through " + *options_.bootstrap +
                             (handshake
                                  ? ": the TLS handshake failed"
                                  : " within " +
                                        std::to_string(options_.bootstrap_timeout.count()) + " s") +
                             ": " + s.message() + tls_hint);
                   }
                   return;
                 }
                 QD_LOG_DEBUG("join attempt failed, retrying: " + s.message());
                 next_join_attempt_ = Clock::now() + kJoinRetry;
               });
}

void ClusterNode::ReconcileMembership(OnLoop on_loop) {
  consensus::RaftStatus st = raft_->GetStatus(on_loop);
  if (st.role != consensus::Role::kLeader || change_in_flight_ || raft_->ChangePending(on_loop)) return;
  std::shared_ptr<const ClusterState> state = fsm_.Current();
  auto done = [this](OnLoop, int status) {
    change_in_flight_ = false;
    if (status != 0) QD_LOG_DEBUG(std::string("membership change failed: ") + raft_strerror(status));
  };
  auto start = [&](int rv, const std::string& what) {
    if (rv == 0) {
      change_in_flight_ = true;
      QD_LOG_INFO(what);
    }
  };
  // Removed peers leave the Raft configuration; the leader hands over before removing itself.
  for (const auto& srv : st.servers) {
    if (!state->removed_peers.count(srv.id)) continue;
    if (srv.id == peer_id_) {
      raft_->TransferLeadership(on_loop);
      return;
    }
    auto noticed = removal_noticed_.emplace(srv.id, Clock::now()).first->second;
    if (Clock::now() - noticed < std::chrono::milliseconds(10 * options_.tick_ms)) continue;
    start(raft_->Remove(on_loop, srv.id, done), "removing peer " + Id(srv.id) + " from the Raft configuration");
    return;
  }
  // Registered peers join the configuration, then get promoted to voters.
  for (const auto& [id, peer] : state->peers) {
    bool present = false;
    for (const auto& srv : st.servers) present |= srv.id == id;
    if (!present) {
      start(raft_->Add(on_loop, id, peer.uri, done), "adding peer " + Id(id) + " to the Raft configuration");
      return;
    }
  }
  for (const auto& srv : st.servers) {
    if (srv.role != RAFT_VOTER && state->peers.count(srv.id)) {
      start(raft_->Assign(on_loop, srv.id, RAFT_VOTER, done), "promoting peer " + Id(srv.id) + " to voter");
      return;
    }
  }
  if (reinit_state_ && !reinit_proposed_ && state->peers.count(peer_id_)) {
    reinit_proposed_ = true;
    MetaOperation op;
    op.kind = MetaOperation::Kind::kRestoreState;
    op.state_json = reinit_state_->ToJson();
    ProposeOnLoop(on_loop, std::move(op), kInternalTimeout, [this](Status s) {
      if (!s.ok()) {
        QD_LOG_ERROR("--reinit: cannot restore the collections: " + s.message());
        reinit_proposed_ = false;
        return;
      }
      QD_LOG_INFO("--reinit: collections restored into the new cluster");
      reinit_state_.reset();
    });
  }
}

void ClusterNode::AnnounceSelf(OnLoop on_loop) {
  if (announce_in_flight_) return;
  std::shared_ptr<const ClusterState> state = fsm_.Current();
  if (state->removed_peers.count(peer_id_)) return;
  auto it = state->peers.find(peer_id_);
  if (it != state->peers.end() && it->second.uri == uri_ && it->second.type == options_.node_type) return;
  consensus::RaftStatus st = raft_->GetStatus(on_loop);
  if (st.leader_id == 0) return;
  // A founder registers itself; a restarted peer with a new --uri announces it (compat.md §6.3).
  announce_in_flight_ = true;
  ProposeOnLoop(on_loop, MetaOperation::UpsertPeer(peer_id_, uri_, options_.node_type), kInternalTimeout,
                [this](Status s) {
                  announce_in_flight_ = false;
                  if (s.ok()) {
                    QD_LOG_INFO("announced this peer's address " + uri_);
                  } else if (s.code() == StatusCode::kAlreadyExists && !fatal_reported_ && !stopping_) {
                    fatal_reported_ = true;
                    fatal_(loop_.Enter(), 101, "URI conflict: " + s.message());
                  }
                });
}

// Readiness (compat.md §3). Happy path: this node joined and knows a leader -> it asks every
// other member for its commit index (P2P CommitIndex) and takes the highest answer as the
// target (a one-member cluster: its own last log index) -> once it applied that far, it hands
// the state to the reconciler (AttachReconciler) -> once that state is reconciled, it
// notes its local replicas that are not Active/Listener -> when each of them has been healthy
// once (or left this node), it is ready, for good. Failure modes: no member answers -> asked
// again after kCommitQueryRetry; a replica that stays Dead keeps the node not ready.
void ClusterNode::UpdateReadiness(OnLoop on_loop) {
  if (ready_.load()) return;
  consensus::RaftStatus st = raft_->GetStatus(on_loop);
  std::shared_ptr<const ClusterState> state = fsm_.Current();
  if (st.leader_id == 0 || st.commit == 0 || !state->peers.count(peer_id_)) return;

  if (!ready_commit_target_) {
    std::vector<std::string> others;
    for (const auto& [id, peer] : state->peers) {
      if (id != peer_id_) others.push_back(Resolve(id, peer.uri));
    }
    if (others.empty()) {
      // The only member leads and commits its whole log: all of it is the cluster's.
      ready_commit_target_ = std::max(st.commit, st.last_index);
    } else {
      if (commit_query_in_flight_ || Clock::now() < next_commit_query_) return;
      commit_query_in_flight_ = true;
      struct Round {
        size_t waiting;
        std::optional<uint64_t> highest;
      };
      auto round = std::make_shared<Round>(Round{others.size(), std::nullopt});
      for (const std::string& uri : others) {
        peers_->CommitIndex(on_loop, uri, std::chrono::milliseconds(1000),
                            [this, round](OnLoop, Status s, const peer::PeerPool::Position& p) {
                              if (s.ok())
                                round->highest = std::max(round->highest.value_or(0), p.commit);
                              if (--round->waiting > 0) return;
                              commit_query_in_flight_ = false;
                              if (round->highest) {
                                ready_commit_target_ = *round->highest;
                                QD_LOG_INFO("readiness: the cluster has committed up to " + Id(*round->highest));
                              } else {
                                next_commit_query_ = Clock::now() + kCommitQueryRetry;
                              }
                            });
      }
      return;
    }
  }
  if (st.last_applied < *ready_commit_target_) return;
  if (!reconciler_released_) {
    // A --reinit founder's collections come back through its own kRestoreState: reconciling the
    // state before that entry applied would drop them locally.
    if (reinit_state_) {
      for (const auto& [name, c] : reinit_state_->collections) {
        if (!state->collections.count(name)) return;
      }
    }
    reconciler_released_ = true;
    catch_up_applied_index_ = state->applied_index;
    QD_LOG_INFO("caught up with the cluster (commit " + Id(*ready_commit_target_) +
                "): reconciling the local collections");
    if (reconciler_) reconciler_(on_loop, state);
  }
  if (reconciler_ && fsm_.reconciled_index() < catch_up_applied_index_) return;

  auto healthy = [](ReplicaState s) { return s == ReplicaState::kActive || s == ReplicaState::kListener; };
  if (!unhealthy_at_catch_up_) {
    unhealthy_at_catch_up_.emplace();
    for (const auto& [name, c] : state->collections) {
      for (const auto& [shard, replicas] : c.shards) {
        auto it = replicas.replicas.find(peer_id_);
        if (it != replicas.replicas.end() && !healthy(it->second)) unhealthy_at_catch_up_->insert({name, shard});
      }
    }
  }
  for (auto it = unhealthy_at_catch_up_->begin(); it != unhealthy_at_catch_up_->end();) {
    bool gone_or_healthy = true;
    if (auto c = state->collections.find(it->first); c != state->collections.end()) {
      if (auto shard = c->second.shards.find(it->second); shard != c->second.shards.end()) {
        auto replica = shard->second.replicas.find(peer_id_);
        gone_or_healthy = replica == shard->second.replicas.end() || healthy(replica->second);
      }
    }
    it = gone_or_healthy ? unhealthy_at_catch_up_->erase(it) : std::next(it);
  }
  if (!unhealthy_at_catch_up_->empty()) return;
  ready_.store(true);
  QD_LOG_INFO("consensus caught up (applied " + Id(st.last_applied) + ", cluster commit " +
              Id(*ready_commit_target_) + ") and every local replica is healthy: ready");
}

void ClusterNode::AttachReconciler(OnLoop on_loop, StateMachine::Subscriber subscriber) {
  reconciler_ = std::move(subscriber);
  fsm_.HoldResultsUntilReconciled(on_loop);
  fsm_.Subscribe(on_loop, [this](OnLoop l, const std::shared_ptr<const ClusterState>& state) {
    if (reconciler_released_) reconciler_(l, state);
  });
}

uint64_t ClusterNode::CommitIndex(OnLoop on_loop) const {
  if (!raft_ || !raft_->started()) return 0;
  return raft_->GetStatus(on_loop).commit;
}

uint64_t ClusterNode::ReconciledIndex(OnLoop) const {
  // Without a reconciler (consensus tests) the applied state is all there is.
  return reconciler_ ? fsm_.reconciled_index() : fsm_.Current()->applied_index;
}

void ClusterNode::MembersBehind(OnLoop on_loop, uint64_t index, std::chrono::milliseconds timeout,
                                std::function<void(OnLoop, std::map<uint64_t, Caught>)> reply) {
  std::shared_ptr<const ClusterState> state = fsm_.Current();
  struct Round {
    size_t waiting = 0;
    std::map<uint64_t, Caught> members;
    std::function<void(OnLoop, std::map<uint64_t, Caught>)> reply;
  };
  auto round = std::make_shared<Round>();
  round->reply = std::move(reply);
  std::vector<std::pair<uint64_t, std::string>> others;
  for (const auto& [id, peer] : state->peers) {
    if (id != peer_id_) others.emplace_back(id, Resolve(id, peer.uri));
  }
  round->waiting = others.size();
  if (others.empty()) return round->reply(on_loop, {});
  for (const auto& [id, uri] : others) {
    peers_->CommitIndex(on_loop, uri, timeout,
                        [round, id = id, index](OnLoop l, Status s,
                                                const peer::PeerPool::Position& p) {
                          const uint64_t reconciled = p.reconciled;
                          Caught c = Caught::kYes;
                          if (!s.ok()) {
                            // Nothing listens there: the peer is down. Any other failure (a
                            // deadline, a connection that does not complete) may be a paused or
                            // slow peer.
                            c = s.message().find("Connection refused") != std::string::npos
                                    ? Caught::kDown
                                    : Caught::kNoAnswer;
                          } else if (reconciled < index) {
                            c = Caught::kBehind;
                          }
                          round->members[id] = c;
                          if (--round->waiting == 0) round->reply(l, std::move(round->members));
                        });
  }
}

peer::PeerPool::Position ClusterNode::OwnPosition(OnLoop on_loop) const {
  peer::PeerPool::Position p;
  p.commit = CommitIndex(on_loop);
  p.reconciled = ReconciledIndex(on_loop);
  if (!raft_ || !raft_->started()) return p;
  consensus::RaftStatus st = raft_->GetStatus(on_loop);
  p.term = st.term;
  p.applied = st.last_applied;
  p.role = RoleName(st);
  return p;
}

void ClusterNode::Positions(
    OnLoop on_loop, std::chrono::milliseconds timeout,
    std::function<void(OnLoop, std::map<PeerId, std::optional<peer::PeerPool::Position>>)> reply) {
  std::shared_ptr<const ClusterState> state = fsm_.Current();
  struct Round {
    size_t waiting = 0;
    std::map<PeerId, std::optional<peer::PeerPool::Position>> positions;
    std::function<void(OnLoop, std::map<PeerId, std::optional<peer::PeerPool::Position>>)> reply;
  };
  auto round = std::make_shared<Round>();
  round->reply = std::move(reply);
  round->positions[peer_id_] = OwnPosition(on_loop);
  std::vector<std::pair<PeerId, std::string>> others;
  for (const auto& [id, peer] : state->peers) {
    if (id != peer_id_) others.emplace_back(id, Resolve(id, peer.uri));
  }
  round->waiting = others.size();
  if (others.empty() || !peers_) return round->reply(on_loop, std::move(round->positions));
  for (const auto& [id, uri] : others) {
    peers_->CommitIndex(on_loop, uri, timeout,
                        [round, id = id](OnLoop l, Status s, const peer::PeerPool::Position& p) {
                          round->positions[id] =
                              s.ok() ? std::optional<peer::PeerPool::Position>(p) : std::nullopt;
                          if (--round->waiting == 0) round->reply(l, std::move(round->positions));
                        });
  }
}

// --- Transport ------------------------------------------------------------------------------

std::string ClusterNode::Resolve(uint64_t id, const std::string& fallback) const {
  if (auto it = observed_addresses_.find(id); it != observed_addresses_.end()) return it->second;
  std::shared_ptr<const ClusterState> state = fsm_.Current();
  if (auto it = state->peers.find(id); it != state->peers.end()) return it->second.uri;
  return fallback;
}

void ClusterNode::Send(OnLoop on_loop, uint64_t to_id, const std::string& to_address, std::string bytes,
                       std::function<void(OnLoop, bool)> done) {
  peers_->SendRaft(on_loop, to_id, Resolve(to_id, to_address), std::move(bytes), std::move(done));
}

void ClusterNode::OnRaftMessage(OnLoop on_loop, const std::string& bytes) {
  if (stopping_ || !raft_) return;
  uint64_t sender = 0;
  std::string address;
  if (consensus::PeekSender(bytes, &sender, &address) && sender != 0 && !address.empty()) {
    observed_addresses_[sender] = address;
  }
  if (sender != 0) last_heard_[sender] = Clock::now();
  raft_->Receive(on_loop, bytes);
}

// --- Status ---------------------------------------------------------------------------------

ClusterStatus ClusterNode::GetStatus(OnLoop on_loop) const {
  ClusterStatus out;
  out.peer_id = peer_id_;
  std::shared_ptr<const ClusterState> state = fsm_.Current();
  consensus::RaftStatus st = raft_ ? raft_->GetStatus(on_loop) : consensus::RaftStatus{};
  for (const auto& [id, peer] : state->peers) {
    ClusterStatus::PeerStatus ps{.uri = peer.uri};
    for (const auto& srv : st.servers) {
      if (srv.id == id) ps.is_voter = srv.role == RAFT_VOTER;
    }
    auto heard = last_heard_.find(id);
    bool recently_heard = heard != last_heard_.end() &&
                          Clock::now() - heard->second < std::chrono::milliseconds(10 * options_.tick_ms);
    ps.reachable = id == peer_id_ || recently_heard || (peers_ && peers_->Reachable(on_loop, id));
    out.peers[id] = ps;
  }
  out.term = st.term;
  out.commit = st.commit;
  out.pending_operations = waiters_.size();
  if (st.leader_id != 0) out.leader = st.leader_id;
  out.role = RoleName(st);
  out.is_voter = st.is_voter;
  if (state->removed_peers.count(peer_id_) || !raft_ || !raft_->started() || raft_->closed()) {
    out.consensus_thread_status = "stopped";
  }
  if (peers_) out.message_send_failures = peers_->SendFailures(on_loop);
  return out;
}

}  // namespace qd::cluster
