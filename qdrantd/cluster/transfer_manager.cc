#include "qdrantd/cluster/transfer_manager.h"

#include <algorithm>
#include <vector>

#include "libshared/log.h"
#include "qdrantd/cluster/rebalance.h"

namespace qd::cluster {

TransferManager::TransferManager(collection::Collections& collections,
                                 std::shared_ptr<collection::PeerLink> link, PeerId self,
                                 Options options, ProposeFn propose, StateFn state)
    : collections_(collections),
      link_(std::move(link)),
      self_(self),
      options_(options),
      propose_(std::move(propose)),
      state_(std::move(state)) {}

TransferManager::~TransferManager() { Stop(); }

void TransferManager::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::map<Key, std::unique_ptr<Running>> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running = std::move(running_);
  }
  running.clear();  // joins the drivers outside mu_
}

void TransferManager::Start() {
  thread_ = std::thread([this] { Run(); });
}

void TransferManager::Run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, kTick, [&] { return stopping_; })) return;
    }
    std::shared_ptr<const ClusterState> state = state_();
    if (state) Tick(*state);
  }
}

std::optional<collection::TransferProgress> TransferManager::Progress(const Transfer& t) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(Key{t.collection, t.shard, t.to});
  if (it == running_.end() || it->second->transfer.from != t.from) return std::nullopt;
  return it->second->driver->progress();
}

void TransferManager::Tick(const ClusterState& state) {
  SyncDrivers(state);
  PlanRecovery(state);
  RunPlanner(state);
}

void TransferManager::SyncDrivers(const ClusterState& state) {
  std::map<Key, Transfer> wanted;
  for (const Transfer& t : state.transfers) {
    if (t.from == self_) wanted[Key{t.collection, t.shard, t.to}] = t;
  }
  std::vector<std::unique_ptr<Running>> ended;
  std::vector<std::pair<Transfer, Status>> to_propose;
  std::vector<Transfer> methods_to_propose;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<Key> ended_now;
    for (auto it = running_.begin(); it != running_.end();) {
      auto w = wanted.find(it->first);
      if (w == wanted.end() || w->second.from != it->second->transfer.from ||
          w->second.restarts != it->second->transfer.restarts) {
        ended_now.insert(it->first);
        ended.push_back(std::move(it->second));
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [key, t] : wanted) {
      auto it = running_.find(key);
      // A restarted transfer starts over at the next tick, once the old driver stopped and its
      // forwarding ended (below), so that the two never overlap.
      if (it == running_.end() && ended_now.count(key)) continue;
      if (it == running_.end()) {
        Result<std::shared_ptr<collection::Collection>> c = collections_.Get(t.collection);
        if (!c.ok()) continue;  // not reconciled here yet
        auto r = std::make_unique<Running>();
        r->transfer = t;
        r->collection = *c;
        r->outcome = std::make_shared<Outcome>();
        r->next_progress = now + kProgressEvery;
        collection::TransferDriver::Options o;
        o.method = t.method;
        // wal_delta falls back to the configured full method, else to snapshot.
        o.fallback = options_.method == std::optional<std::string>("stream_records")
                         ? "stream_records"
                         : "snapshot";
        o.batch_points = options_.batch_points;
        o.rate_limit_bytes = options_.rate_limit_bytes;
        r->driver = std::make_unique<collection::TransferDriver>(
            *c, link_, t.shard, self_, t.to, o, [outcome = r->outcome](Status s) {
              std::lock_guard<std::mutex> l(outcome->mu);
              outcome->status = s;
            });
        running_[key] = std::move(r);
        continue;
      }
      Running& r = *it->second;
      if (!r.proposing_method &&
          (r.driver->progress().method != r.transfer.method || now >= r.next_progress)) {
        r.proposing_method = true;
        r.next_progress = now + kProgressEvery;
        const collection::TransferProgress p = r.driver->progress();
        Transfer update = r.transfer;
        update.method = p.method;
        const uint64_t wall_now = WallClockMs();
        const auto running_ms = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(now - p.started).count());
        update.progress =
            Transfer::Progress{.started_ms = wall_now - std::min(wall_now, running_ms),
                               .updated_ms = wall_now,
                               .points_done = p.points_done,
                               .points_total = p.points_total,
                               .bytes_done = p.bytes_done,
                               .bytes_total = p.bytes_total,
                               .ops_done = p.ops_done ? p.ops_total : 0,
                               .ops_total = p.ops_total};
        methods_to_propose.push_back(std::move(update));
      }
      std::optional<Status> outcome;
      {
        std::lock_guard<std::mutex> l(r.outcome->mu);
        outcome = r.outcome->status;
      }
      if (!outcome || r.proposing || now < r.retry_at) continue;
      r.proposing = true;
      to_propose.emplace_back(r.transfer, *outcome);
    }
  }
  for (std::unique_ptr<Running>& r : ended) {
    r->driver.reset();  // cancels and joins
    r->collection->EndTransfer(r->transfer.shard, r->transfer.to);
    QD_LOG_INFO("transfer of shard " + std::to_string(r->transfer.shard) + " of " +
                r->transfer.collection + " to peer " + std::to_string(r->transfer.to) +
                " left the cluster state; its sending side stopped");
  }
  for (const Transfer& t : methods_to_propose) {
    MetaOperation op;
    op.kind = MetaOperation::Kind::kUpdateTransfer;
    op.transfer = t;
    Key key{t.collection, t.shard, t.to};
    propose_(std::move(op), [this, key, method = t.method](Status s) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = running_.find(key);
      if (it == running_.end()) return;
      if (s.ok()) it->second->transfer.method = method;
      it->second->proposing_method = false;  // on a failure, the next tick tries again
    });
  }
  for (auto& [t, outcome] : to_propose) {
    MetaOperation op;
    op.kind =
        outcome.ok() ? MetaOperation::Kind::kFinishTransfer : MetaOperation::Kind::kAbortTransfer;
    op.transfer = t;
    Key key{t.collection, t.shard, t.to};
    propose_(std::move(op), [this, key](Status s) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = running_.find(key);
      if (it == running_.end()) return;
      it->second->proposing = false;
      if (!s.ok()) {
        QD_LOG_WARN("ending the transfer of shard " + std::to_string(std::get<1>(key)) + " of " +
                    std::get<0>(key) + " through consensus failed, retrying: " + s.message());
        it->second->retry_at = std::chrono::steady_clock::now() + kRetryDelay;
      }
    });
  }
}

void TransferManager::PlanRecovery(const ClusterState& state) {
  if (options_.incoming_limit == 0 || options_.outgoing_limit == 0) return;
  const auto now = std::chrono::steady_clock::now();
  std::map<PeerId, bool> up;  // probed this tick
  uint64_t outgoing = 0;
  std::map<PeerId, uint64_t> incoming;
  for (const Transfer& t : state.transfers) {
    outgoing += t.from == self_ ? 1 : 0;
    ++incoming[t.to];
  }
  for (const auto& [name, c] : state.collections) {
    for (const auto& [shard_id, shard] : c.shards) {
      // The source: the Active replica with the highest peer id, so one peer decides.
      PeerId source = 0;
      for (const auto& [peer, st] : shard.replicas) {
        if (st == ReplicaState::kActive) source = std::max(source, peer);
      }
      if (source != self_) continue;
      bool busy = false;
      for (const Transfer& t : state.transfers) {
        if (t.collection == name && t.shard == shard_id) busy = true;
      }
      if (busy) continue;
      for (const auto& [peer, st] : shard.replicas) {
        // A draining peer's replica is moved off, not refilled.
        if (st != ReplicaState::kDead || !state.peers.count(peer) || state.draining.count(peer)) {
          continue;
        }
        if (outgoing >= options_.outgoing_limit || incoming[peer] >= options_.incoming_limit) {
          continue;
        }
        Key key{name, shard_id, peer};
        if (auto b = backoff_.find(key); b != backoff_.end() && now < b->second) continue;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (recovering_.count(key)) continue;
        }
        auto probed = up.find(peer);
        if (probed == up.end()) {
          probed = up.emplace(peer, link_->TransferReady(peer, "", 0, 0).ok()).first;
        }
        if (!probed->second) {
          backoff_[key] = now + kRetryDelay;
          continue;
        }
        MetaOperation op;
        op.kind = MetaOperation::Kind::kStartTransfer;
        op.transfer = Transfer{.collection = name,
                               .shard = shard_id,
                               .from = self_,
                               .to = peer,
                               .method = ChooseTransferMethod(std::nullopt, options_.method, true),
                               .sync = true,
                               .automatic = true,
                               .reason = "recovery"};
        op.transfer_limits = {options_.incoming_limit, options_.outgoing_limit};
        {
          std::lock_guard<std::mutex> lock(mu_);
          recovering_.insert(key);
        }
        ++outgoing;
        ++incoming[peer];
        backoff_[key] = now + kRetryDelay;
        QD_LOG_INFO("collection " + name + ": recovering the Dead replica of shard " +
                    std::to_string(shard_id) + " on peer " + std::to_string(peer) +
                    " from this peer");
        propose_(std::move(op), [this, key](Status s) {
          if (!s.ok()) {
            QD_LOG_INFO("collection " + std::get<0>(key) + ": recovery transfer of shard " +
                        std::to_string(std::get<1>(key)) + " not started: " + s.message());
          }
          std::lock_guard<std::mutex> lock(mu_);
          recovering_.erase(key);
        });
        break;  // one transfer per shard at a time
      }
    }
  }
}

void TransferManager::ProposeRebalance(std::string action, std::string reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (proposing_rebalance_) return;
    proposing_rebalance_ = true;
  }
  MetaOperation op;
  op.kind = MetaOperation::Kind::kSetRebalance;
  op.rebalance_action = std::move(action);
  op.reason = std::move(reason);
  op.started_ms = WallClockMs();
  QD_LOG_INFO("rebalance: " + op.rebalance_action +
              (op.reason.empty() ? "" : " (" + op.reason + ")"));
  propose_(std::move(op), [this](Status s) {
    if (!s.ok()) QD_LOG_INFO("rebalance: proposal failed, retrying: " + s.message());
    std::lock_guard<std::mutex> lock(mu_);
    proposing_rebalance_ = false;
  });
}

void TransferManager::RunPlanner(const ClusterState& state) {
  Liveness live = liveness_ ? liveness_() : Liveness{};
  if (!live.leader) {
    unreachable_since_.clear();  // a new leader times unreachability afresh
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  std::set<PeerId> unreachable, dead;
  for (const auto& [id, peer] : state.peers) {
    if (id == self_ || !live.unreachable.count(id)) {
      unreachable_since_.erase(id);
      continue;
    }
    unreachable.insert(id);
    auto since = unreachable_since_.emplace(id, now).first->second;
    if (options_.dead_peer_timeout.count() > 0 && now - since >= options_.dead_peer_timeout) {
      dead.insert(id);
    }
  }
  // With a transfer limit at 0 no automatic transfer ever starts, so a rebalance could only
  // stay `running` with its moves planned for ever: a join is acknowledged without one, and a
  // requested one finishes at once (the log says why).
  const bool can_move = options_.incoming_limit > 0 && options_.outgoing_limit > 0;
  if (!state.rebalance.joined.empty()) {
    std::string who;
    for (PeerId p : state.rebalance.joined) who += (who.empty() ? "" : ", ") + std::to_string(p);
    if (options_.rebalance_on_join && !can_move) {
      QD_LOG_INFO(
          "rebalance: not started for the join: automatic transfers are off "
          "(storage.performance.incoming_shard_transfers_limit or "
          "outgoing_shard_transfers_limit is 0)");
    }
    ProposeRebalance(options_.rebalance_on_join && can_move ? "start" : "ack_join",
                     (state.rebalance.joined.size() > 1 ? "peers " : "peer ") + who + " joined");
    return;  // plan on the state that says whether it runs
  }
  if (state.rebalance.running && !can_move) {
    QD_LOG_INFO(
        "rebalance: finished without moves: automatic transfers are off "
        "(storage.performance.incoming_shard_transfers_limit or "
        "outgoing_shard_transfers_limit is 0)");
    ProposeRebalance("finish", "");
    return;
  }
  RebalancePlan plan = PlanRebalance(state, unreachable, dead, state.rebalance.running);
  // A rebalance ends when nothing is left to balance with every staying peer reachable: a peer
  // not heard from yet (a newcomer) or away for a while is waited for, until it counts as dead.
  bool rebalance_left = false;
  if (state.rebalance.running) {
    for (const PlannedMove& m : PlanRebalance(state, {}, dead, true).moves) {
      rebalance_left |= m.reason == "rebalance";
    }
  }
  for (const Transfer& t : state.transfers) rebalance_left |= t.reason == "rebalance";
  if (state.rebalance.running && !rebalance_left) {
    ProposeRebalance("finish", "");
    return;
  }
  std::map<PeerId, uint64_t> incoming, outgoing;
  std::set<std::pair<std::string, ShardId>> busy;
  for (const Transfer& t : state.transfers) {
    ++incoming[t.to];
    ++outgoing[t.from];
    busy.insert({t.collection, t.shard});
  }
  std::set<std::pair<std::string, ShardId>> seen;
  for (const PlannedMove& m : plan.moves) {
    const std::pair<std::string, ShardId> key{m.collection, m.shard};
    if (!seen.insert(key).second || busy.count(key)) continue;  // one step per shard at a time
    if (auto b = plan_backoff_.find(key); b != plan_backoff_.end() && now < b->second) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (planning_.count(key)) continue;
    }
    MetaOperation op;
    std::string what;
    if (m.kind == PlannedMove::Kind::kDrop) {
      op.kind = MetaOperation::Kind::kRemoveReplica;
      op.collection = m.collection;
      op.shard = m.shard;
      op.peer_id = m.from;
      what = "dropping the replica of shard " + std::to_string(m.shard) + " on peer " +
             std::to_string(m.from);
    } else {
      if (incoming[m.to] >= options_.incoming_limit ||
          outgoing[m.from] >= options_.outgoing_limit) {
        continue;
      }
      ++incoming[m.to];
      ++outgoing[m.from];
      op.kind = MetaOperation::Kind::kStartTransfer;
      op.transfer = Transfer{.collection = m.collection,
                             .shard = m.shard,
                             .from = m.from,
                             .to = m.to,
                             .method = ChooseTransferMethod(std::nullopt, options_.method, false),
                             .sync = m.kind == PlannedMove::Kind::kReplicate,
                             .automatic = true,
                             .reason = m.reason};
      op.transfer_limits = {options_.incoming_limit, options_.outgoing_limit};
      what = std::string(m.kind == PlannedMove::Kind::kMove ? "moving" : "copying") + " shard " +
             std::to_string(m.shard) + " from peer " + std::to_string(m.from) + " to peer " +
             std::to_string(m.to);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      planning_.insert(key);
    }
    plan_backoff_[key] = now + kRetryDelay;
    QD_LOG_INFO("collection " + m.collection + ": " + m.reason + ": " + what);
    propose_(std::move(op), [this, key, what](Status s) {
      if (!s.ok()) {
        QD_LOG_INFO("collection " + key.first + ": " + what + " not started: " + s.message());
      }
      std::lock_guard<std::mutex> lock(mu_);
      planning_.erase(key);
    });
  }
}

}  // namespace qd::cluster
