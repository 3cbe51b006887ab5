#include "qdrantd/cluster/transfer_manager.h"

#include <vector>

#include "libshared/log.h"

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
        collection::TransferDriver::Options o;
        o.method = t.method;
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
      if (!r.proposing_method && r.driver->progress().method != r.transfer.method) {
        r.proposing_method = true;
        methods_to_propose.push_back(r.transfer);
        methods_to_propose.back().method = r.driver->progress().method;
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
        if (st != ReplicaState::kDead || !state.peers.count(peer)) continue;
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
                               .automatic = true};
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

}  // namespace qd::cluster
