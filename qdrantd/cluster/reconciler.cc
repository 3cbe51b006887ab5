#include "qdrantd/cluster/reconciler.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "libshared/log.h"

namespace qd::cluster {
namespace {

// The proposer's config JSON with the shard count the state machine placed.
std::string WithShardCount(const std::string& config_json, size_t shards) {
  rapidjson::Document doc;
  doc.Parse(config_json.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("params") || !doc["params"].IsObject()) {
    return config_json;
  }
  rapidjson::Value& params = doc["params"];
  if (params.HasMember("shard_number")) {
    params["shard_number"].SetUint64(shards);
  } else {
    params.AddMember("shard_number", static_cast<uint64_t>(shards), doc.GetAllocator());
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

Status Reconciler::ReconcileNow(collection::Collections& collections, PeerId self, const ClusterState& state,
                                bool recreate_missing) {
  Status first_error;
  auto failed = [&](Status s, const std::string& what) {
    QD_LOG_ERROR("reconciler: " + what + ": " + s.message());
    if (first_error.ok()) first_error = std::move(s);
  };
  for (const auto& [name, wanted] : state.collections) {
    std::string json = WithShardCount(wanted.config_json, std::max<size_t>(wanted.shards.size(), 1));
    Result<collection::CollectionConfig> config = collection::FromConfigJson(json);
    if (!config.ok()) {
      failed(config.status(), "collection " + name);
      continue;
    }
    collection::ShardPlacement placement{.self_peer = self, .replicas = {}};
    for (const auto& [shard, replicas] : wanted.shards) {
      auto& peers = placement.replicas[shard];
      for (const auto& [peer, replica_state] : replicas.replicas)
        peers.emplace_back(peer, replica_state);
    }
    for (const Transfer& t : state.transfers) {
      if (t.collection == name) placement.transfers[t.shard].emplace_back(t.from, t.to);
    }
    if (!collections.Exists(name)) {
      Status s = collections.Create(name, std::move(*config), &placement);
      if (!s.ok()) failed(s, "cannot create collection " + name);
      continue;
    }
    Result<std::shared_ptr<collection::Collection>> local = collections.Get(name);
    if (!local.ok()) continue;  // dropped meanwhile: not by us, nothing to do
    if ((*local)->config().ToJson() != config->ToJson()) {
      Status s = collections.Update(name, *config);
      if (!s.ok()) failed(s, "cannot update collection " + name);
    }
    Status s = (*local)->ApplyPlacement(placement, recreate_missing);
    if (!s.ok()) failed(s, "collection " + name + ": local replicas");
  }
  for (const std::string& name : collections.List()) {
    if (state.collections.count(name)) continue;
    Result<bool> dropped = collections.Delete(name);
    if (!dropped.ok()) failed(dropped.status(), "cannot drop collection " + name);
  }
  // Aliases: delete what differs, then create what is missing, in one local change.
  std::map<std::string, std::string> have;
  for (const auto& [alias, target] : collections.Aliases(nullptr)) have[alias] = target;
  if (have != state.aliases) {
    std::vector<collection::AliasAction> actions;
    for (const auto& [alias, target] : have) {
      auto it = state.aliases.find(alias);
      if (it == state.aliases.end() || it->second != target) {
        actions.push_back({collection::AliasAction::kDelete, alias, "", ""});
      }
    }
    for (const auto& [alias, target] : state.aliases) {
      auto it = have.find(alias);
      if (it == have.end() || it->second != target) {
        actions.push_back({collection::AliasAction::kCreate, alias, target, ""});
      }
    }
    Status s = collections.ApplyAliases(actions);
    if (!s.ok()) failed(s, "aliases");
  }
  return first_error;
}

Reconciler::Reconciler(server::Loop& loop, server::WorkerPool& pool,
                       collection::Collections& collections, PeerId self, ReconciledFn reconciled,
                       ProposeStateFn propose_state, bool listener)
    : loop_(loop),
      pool_(pool),
      collections_(collections),
      self_(self),
      reconciled_(std::move(reconciled)),
      propose_state_(std::move(propose_state)),
      listener_(listener) {}

std::vector<Reconciler::StateFix> Reconciler::StateFixes(const ClusterState& state) const {
  std::vector<StateFix> fixes;
  if (!propose_state_) return fixes;
  for (const auto& [name, wanted] : state.collections) {
    Result<std::shared_ptr<collection::Collection>> local = collections_.Get(name);
    if (!local.ok()) continue;
    for (const auto& [shard, replicas] : wanted.shards) {
      auto it = replicas.replicas.find(self_);
      if (it == replicas.replicas.end() || !(*local)->HasLocalShard(shard)) continue;
      const ReplicaState now = it->second;
      if ((*local)->LostData(shard)) {
        // Its files vanished: Dead until a transfer refills it (compat.md §6.6).
        if (now != ReplicaState::kDead) fixes.push_back({name, shard, ReplicaState::kDead});
        continue;
      }
      const ReplicaState settled = listener_ ? ReplicaState::kListener : ReplicaState::kActive;
      if (now == ReplicaState::kInitializing || (now == ReplicaState::kActive && listener_) ||
          (now == ReplicaState::kListener && !listener_)) {
        fixes.push_back({name, shard, settled});
      }
    }
  }
  return fixes;
}

void Reconciler::ProposeFixes(server::OnLoop on_loop, std::vector<StateFix> fixes) {
  for (StateFix& fix : fixes) {
    auto key = std::make_pair(fix.collection, fix.shard);
    if (!proposing_.insert(key).second) continue;
    QD_LOG_INFO("collection " + fix.collection + ": proposing the local replica of shard " +
                std::to_string(fix.shard) + " " + std::string(ReplicaStateName(fix.state)));
    const bool dead = fix.state == ReplicaState::kDead;
    propose_state_(on_loop, fix.collection, fix.shard, fix.state, [this, key, dead](Status s) {
      if (dead && s.code() == StatusCode::kFailedPrecondition) {
        // The last readable replica of its shard: nothing can refill it; it serves, empty.
        Status submitted = pool_.Submit([this, key] {
          Result<std::shared_ptr<collection::Collection>> c = collections_.Get(key.first);
          if (c.ok()) (*c)->AcceptLoss(key.second);
        });
        if (!submitted.ok()) QD_LOG_WARN("reconciler: " + submitted.message());
      }
      if (!s.ok()) {
        QD_LOG_WARN("collection " + key.first +
                    ": changing the state of the local replica of shard " +
                    std::to_string(key.second) + " failed: " + s.message());
      }
      proposing_.erase(key);
    });
  }
}

Reconciler::~Reconciler() = default;

void Reconciler::Reconcile(server::OnLoop on_loop, std::shared_ptr<const ClusterState> state) {
  if (stopped_) return;
  pending_ = std::move(state);
  StartNext(on_loop);
}

void Reconciler::Recover(server::OnLoop on_loop, std::shared_ptr<const ClusterState> state, RecoverFn done) {
  if (stopped_) {
    done(on_loop, Status::Unavailable("qdrantd is shutting down"));
    return;
  }
  pending_ = std::move(state);
  pending_recover_ = true;
  pending_recovers_.push_back(std::move(done));
  StartNext(on_loop);
}

void Reconciler::Stop(server::OnLoop on_loop) {
  stopped_ = true;
  pending_.reset();
  std::vector<RecoverFn> recovers = std::move(pending_recovers_);
  pending_recovers_.clear();
  for (RecoverFn& done : recovers) done(on_loop, Status::Unavailable("qdrantd is shutting down"));
  if (retry_timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(retry_timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    retry_timer_ = nullptr;
  }
}

void Reconciler::OnRetryTimer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Reconciler*>(timer->data);
  self->StartNext(self->loop_.Enter());
}

void Reconciler::StartNext(server::OnLoop) {
  if (in_flight_ || stopped_ || !pending_) return;
  std::shared_ptr<const ClusterState> state = pending_;
  bool recover = pending_recover_;
  std::vector<RecoverFn> recovers = pending_recovers_;
  Status submitted = pool_.Submit([this, state, recover, recovers]() mutable {
    Status s = ReconcileNow(collections_, self_, *state, recover);
    std::vector<StateFix> fixes = StateFixes(*state);
    loop_.Post([this, index = state->applied_index, s, recovers = std::move(recovers),
                fixes = std::move(fixes)](server::OnLoop l) mutable {
      if (!stopped_ && !fixes.empty()) ProposeFixes(l, std::move(fixes));
      Finished(l, index, s, std::move(recovers));
    });
  });
  if (!submitted.ok()) {
    // The pool's queue is full: try again shortly, with whatever state is latest by then.
    if (retry_timer_ == nullptr) {
      retry_timer_ = new uv_timer_t;
      uv_timer_init(loop_.raw(), retry_timer_);
      retry_timer_->data = this;
    }
    uv_timer_start(retry_timer_, &Reconciler::OnRetryTimer, kRetryDelay.count(), 0);
    return;
  }
  in_flight_ = true;
  pending_.reset();
  pending_recover_ = false;
  pending_recovers_.clear();
}

void Reconciler::Finished(server::OnLoop on_loop, uint64_t applied_index, Status status,
                          std::vector<RecoverFn> recovers) {
  in_flight_ = false;
  if (stopped_) return;
  reconciled_(on_loop, applied_index);
  for (RecoverFn& done : recovers) done(on_loop, status);
  StartNext(on_loop);
}

}  // namespace qd::cluster
