#include "qdrantd/server/daemon.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "libshared/log.h"
#include "qdrantd/api/auth/authenticator.h"
#include "qdrantd/api/grpc/grpc_server.h"
#include "qdrantd/api/metrics/request_metrics.h"
#include "qdrantd/api/p2p/p2p_server.h"
#include "qdrantd/api/rest/cluster_routes.h"
#include "qdrantd/api/rest/engine_routes.h"
#include "qdrantd/api/rest/http_server.h"
#include "qdrantd/api/rest/metrics_routes.h"
#include "qdrantd/api/rest/router.h"
#include "qdrantd/api/rest/service_routes.h"
#include "qdrantd/cluster/cluster_node.h"
#include "qdrantd/cluster/rebalance.h"
#include "qdrantd/cluster/reconciler.h"
#include "qdrantd/cluster/transfer_manager.h"
#include "qdrantd/collection/collection.h"
#include "qdrantd/collection/collections.h"
#include "qdrantd/collection/snapshots.h"
#include "qdrantd/peer/channel.h"
#include "qdrantd/peer/data_client.h"
#include "qdrantd/server/loop.h"
#include "qdrantd/server/notify.h"
#include "qdrantd/server/storage_lock.h"
#include "qdrantd/server/worker_pool.h"

namespace qd::server {

struct Daemon::Impl {
  config::Config config;
  DaemonFlags flags;
  Loop loop;
  // Declared before the router and listeners that hold a pointer to it.
  std::unique_ptr<api::auth::Authenticator> authenticator;
  api::rest::Router router;
  std::unique_ptr<StorageLock> storage_lock;
  std::unique_ptr<collection::Collections> collections;
  std::unique_ptr<WorkerPool> pool;
  std::unique_ptr<collection::Snapshots> snapshots;
  std::unique_ptr<api::rest::HttpServer> http;
  std::unique_ptr<api::grpc::GrpcServer> grpc;
  api::metrics::RestMetrics rest_metrics;  // loop only
  api::metrics::GrpcMetrics grpc_metrics;
  uv_signal_t sigint{}, sigterm{};
  uv_timer_t drain_timer{};
  // Index checkpoints: every kCheckpointInterval the pool saves the graphs that changed and
  // trims the WALs they cover, so restarts replay little and WALs stay small.
  static constexpr uint64_t kCheckpointIntervalMs = 60'000;
  uv_timer_t checkpoint_timer{};
  std::atomic<bool> checkpointing{false};
  std::thread grpc_stopper;
  std::atomic<bool> grpc_stopped{true};
  std::chrono::steady_clock::time_point shutdown_started;
  bool stopping = false;
  // Cluster mode (issue #5). The transfer manager outlives the node, whose proposals' callbacks
  // reach it.
  std::unique_ptr<cluster::TransferManager> transfers;
  std::unique_ptr<cluster::ClusterNode> cluster_node;
  std::unique_ptr<cluster::Reconciler> reconciler;
  std::unique_ptr<api::p2p::P2pServer> p2p;
  // The data plane (issue #16): the link collections reach other peers through, and the pools
  // the P2P data calls run on (see api/p2p/p2p_server.h for why three).
  std::shared_ptr<peer::DataClient> data_client;
  std::unique_ptr<WorkerPool> forward_pool, replicate_pool, read_pool;
  // The Reconciler's own thread: a write that waits for a replica to be marked Dead waits for
  // a reconcile, which must not queue behind the API pool's requests (that write among them).
  std::unique_ptr<WorkerPool> reconcile_pool;
  bool cluster_stopped = true;
  int exit_code = 0;

  Impl(config::Config c, DaemonFlags f) : config(std::move(c)), flags(std::move(f)) {}

  Status Start(OnLoop on_loop);
  Status StartCluster(OnLoop on_loop);
  api::grpc::AdminClusterHooks ClusterHooks();
  std::function<api::rest::ClusterMetrics()> MetricsOfCluster();
  // POST /cluster/recover before this peer caught up: checks every 100 ms, then recovers.
  void RecoverWhenCaughtUp(OnLoop on_loop);
  uv_timer_t recover_timer{};
  bool recover_waiting = false;
  void BeginShutdown(OnLoop on_loop, int signo);
  void CheckDrained(OnLoop on_loop);
  void CloseHandles();

  static void OnSignal(uv_signal_t* handle, int signo) noexcept {
    auto* self = static_cast<Impl*>(handle->data);
    self->BeginShutdown(self->loop.Enter(), signo);
  }
  static void OnCheckpointTimer(uv_timer_t* handle) noexcept {
    auto* self = static_cast<Impl*>(handle->data);
    if (self->stopping || self->checkpointing.exchange(true)) return;
    Status s = self->pool->Submit([self] {
      Status flushed = self->collections->FlushAll();
      if (!flushed.ok()) QD_LOG_WARN("index checkpoint: " + flushed.message());
      malloc_trim(0);
      self->checkpointing = false;
    });
    if (!s.ok()) self->checkpointing = false;
  }
  static void OnDrainTimer(uv_timer_t* handle) noexcept {
    auto* self = static_cast<Impl*>(handle->data);
    self->CheckDrained(self->loop.Enter());
  }
};

namespace {

// A build with -DQD_REQUEST_METRICS=OFF counts no requests: it exists to measure what counting
// costs (scripts/bench/metrics.sh). /metrics still answers, without request families.
#ifdef QD_NO_REQUEST_METRICS
constexpr bool kCountRequests = false;
#else
constexpr bool kCountRequests = true;
#endif

// Alias actions become one MetaOperation, so that they apply all or none.
cluster::MetaOperation ChangeAliases(const std::vector<collection::AliasAction>& actions) {
  using Change = cluster::MetaOperation::AliasChange;
  std::vector<Change> changes;
  for (const collection::AliasAction& a : actions) {
    switch (a.kind) {
      case collection::AliasAction::kCreate:
        changes.push_back({Change::kCreate, a.alias_name, a.collection_name, ""});
        break;
      case collection::AliasAction::kDelete:
        changes.push_back({Change::kDelete, a.alias_name, "", ""});
        break;
      case collection::AliasAction::kRename:
        changes.push_back({Change::kRename, a.alias_name, "", a.new_alias_name});
        break;
    }
  }
  return cluster::MetaOperation::ChangeAliases(std::move(changes));
}

// Whether every replica of `name` has settled (Active, or Listener on a Listener peer): each peer
// proposes that once it created its replica, so then every holder serves the collection.
bool AllReplicasSettled(const cluster::ClusterState& state, const std::string& name) {
  auto it = state.collections.find(name);
  if (it == state.collections.end()) return true;  // dropped meanwhile: nothing to wait for
  for (const auto& [shard_id, shard] : it->second.shards) {
    for (const auto& [peer, replica] : shard.replicas) {
      if (replica == cluster::ReplicaState::kInitializing) return false;
    }
  }
  return true;
}

// Create waits for the whole cluster (compat.md §5.1): calls `done(Ok)` once every replica of
// `name` settled and then every other member has applied and reconciled the state up to
// `index` (the create's entry or later), so that no peer answers 404 for the collection after
// it was acknowledged; or at `deadline`, with a warning (the collection exists; replicas and
// members that are down catch up when they return). A member that is down (refuses
// connections), or has not answered for kGiveUpOnSilent, is not waited for: a paused or slow
// peer is, for that long. Checks every 10 ms on the loop; one round of questions in flight.
constexpr std::chrono::milliseconds kGiveUpOnSilent{2000};
void WaitSettled(Loop& loop, cluster::ClusterNode* node, std::string name, uint64_t index,
                 std::chrono::steady_clock::time_point deadline, std::function<void(Status)> done) {
  struct Wait {
    cluster::ClusterNode* node;
    std::string name;
    uint64_t index;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(Status)> done;
    bool replicas_settled = false;
    bool asking = false;  // a MembersBehind round is in flight
    bool members_caught_up = false;
    std::vector<uint64_t> behind;  // the last round's members still waited for
    std::map<uint64_t, std::chrono::steady_clock::time_point> silent_since;
  };
  struct Timer {
    uv_timer_t timer;
    Loop* loop;
    std::shared_ptr<Wait> wait;
  };
  auto wait = std::make_shared<Wait>(Wait{node, std::move(name), index, deadline, std::move(done)});
  auto* t = new Timer{{}, &loop, wait};
  uv_timer_init(loop.raw(), &t->timer);
  t->timer.data = t;
  uv_timer_start(
      &t->timer,
      [](uv_timer_t* handle) {
        auto* self = static_cast<Timer*>(handle->data);
        std::shared_ptr<Wait> w = self->wait;
        if (!w->replicas_settled)
          w->replicas_settled = AllReplicasSettled(*w->node->State(), w->name);
        if (w->replicas_settled && !w->members_caught_up && !w->asking) {
          w->asking = true;
          using Caught = cluster::ClusterNode::Caught;
          w->node->MembersBehind(self->loop->Enter(), w->index, std::chrono::milliseconds(500),
                                 [w](OnLoop, std::map<uint64_t, Caught> members) {
                                   const auto now = std::chrono::steady_clock::now();
                                   w->asking = false;
                                   w->behind.clear();
                                   for (const auto& [peer, caught] : members) {
                                     if (caught != Caught::kNoAnswer) w->silent_since.erase(peer);
                                     if (caught == Caught::kBehind) w->behind.push_back(peer);
                                     if (caught == Caught::kNoAnswer) {
                                       auto since =
                                           w->silent_since.emplace(peer, now).first->second;
                                       if (now - since < kGiveUpOnSilent) w->behind.push_back(peer);
                                     }
                                   }
                                   w->members_caught_up = w->behind.empty();
                                 });
        }
        const bool finished = w->replicas_settled && w->members_caught_up;
        if (!finished && std::chrono::steady_clock::now() < w->deadline) return;
        if (!w->replicas_settled) {
          QD_LOG_WARN("collection " + w->name +
                      " was created, but not every replica reported itself Active in time");
        } else if (!finished) {
          std::string peers;
          for (uint64_t p : w->behind) peers += (peers.empty() ? "" : ", ") + std::to_string(p);
          QD_LOG_WARN("collection " + w->name + " was created, but peers " + peers +
                      " had not applied it in time");
        }
        uv_timer_stop(handle);
        std::function<void(Status)> finish = std::move(w->done);
        uv_close(reinterpret_cast<uv_handle_t*>(handle),
                 [](uv_handle_t* h) { delete static_cast<Timer*>(h->data); });
        finish(Status::Ok());
      },
      0, 10);
}

// The one mapping of a validated collection change (REST and gRPC build them alike,
// collection/collection_change.h) onto MetaOperations.
collection::ProposeFn MakeProposer(Loop& loop, cluster::ClusterNode* node,
                                   std::optional<std::string> transfer_method) {
  return [&loop, node, transfer_method](collection::CollectionChange change,
                                        std::chrono::milliseconds timeout,
                                        std::function<void(Status)> done) {
    using Kind = collection::CollectionChange::Kind;
    switch (change.kind) {
      case Kind::kCreate: {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::string name = change.name;
        return node->Propose(
            cluster::MetaOperation::CreateCollection(
                change.name, change.config_json, change.shard_number, change.replication_factor),
            timeout, [&loop, node, name, deadline, done = std::move(done)](Status s) mutable {
              if (!s.ok()) return done(s);
              // Applied here: this node's state is at the create's entry or past it.
              const uint64_t index = node->State()->applied_index;
              WaitSettled(loop, node, name, index, deadline, std::move(done));
            });
      }
      case Kind::kUpdate: {
        cluster::MetaOperation op;
        op.kind = cluster::MetaOperation::Kind::kUpdateCollection;
        op.collection = change.name;
        op.config_json = change.config_json;
        return node->Propose(std::move(op), timeout, std::move(done));
      }
      case Kind::kDelete:
        return node->Propose(cluster::MetaOperation::DropCollection(change.name), timeout, std::move(done));
      case Kind::kAliases:
        return node->Propose(ChangeAliases(change.aliases), timeout, std::move(done));
      case Kind::kShardOperation: {
        using Shard = collection::ShardOperation::Kind;
        const collection::ShardOperation& s = change.shard_operation;
        cluster::MetaOperation op;
        op.collection = change.name;
        op.shard = s.shard;
        op.peer_id = s.peer;
        // snapshot runs as stream_records for now (docs/cluster.md "Shard transfers"); the
        // transfer's `method` says what runs.
        bool to_holds_replica = false;
        {
          std::shared_ptr<const cluster::ClusterState> state = node->State();
          if (auto c = state->collections.find(change.name); c != state->collections.end()) {
            if (auto sh = c->second.shards.find(s.shard); sh != c->second.shards.end()) {
              to_holds_replica = sh->second.replicas.count(s.to) > 0;
            }
          }
        }
        op.transfer = cluster::Transfer{
            .collection = change.name,
            .shard = s.shard,
            .from = s.from,
            .to = s.to,
            .method = cluster::ChooseTransferMethod(s.method, transfer_method, to_holds_replica),
            .sync = s.kind == Shard::kReplicateShard};
        switch (s.kind) {
          case Shard::kMoveShard:
          case Shard::kReplicateShard:
            op.kind = cluster::MetaOperation::Kind::kStartTransfer;
            break;
          case Shard::kAbortTransfer:
            op.kind = cluster::MetaOperation::Kind::kAbortTransfer;
            break;
          case Shard::kRestartTransfer:
            op.kind = cluster::MetaOperation::Kind::kRestartTransfer;
            break;
          case Shard::kDropReplica:
            op.kind = cluster::MetaOperation::Kind::kRemoveReplica;
            break;
        }
        return node->Propose(std::move(op), timeout, std::move(done));
      }
    }
  };
}

// Whether `host` only accepts connections from this machine (127.0.0.0/8, ::1).
bool IsLoopback(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// Hardening (issue #19): say it at start when anyone on the network can do anything.
void WarnIfExposed(const config::Config& config) {
  if (IsLoopback(config.service.host)) return;
  if (!config.service.api_key && !config.service.read_only_api_key) {
    QD_LOG_WARN("REST and gRPC listen on " + config.service.host +
                " with no service.api_key: anyone who reaches this node can read, change and "
                "delete every collection; set service.api_key (docs/security.md)");
  } else if (!config.service.enable_tls) {
    QD_LOG_WARN("REST and gRPC listen on " + config.service.host +
                " without TLS: API keys and tokens cross the network in clear text; set "
                "service.enable_tls (docs/security.md)");
  }
  if (config.cluster.enabled && !config.cluster.p2p.enable_tls) {
    QD_LOG_WARN("the P2P port " + std::to_string(config.cluster.p2p.port) + " on " +
                config.service.host +
                " has no authentication (API keys do not apply to peers): anyone who reaches it "
                "can join the cluster or read its shards; set cluster.p2p.enable_tls or keep it "
                "on a private network (docs/security.md)");
  }
}

}  // namespace

Status Daemon::Impl::Start(OnLoop on_loop) {
  auto lock = StorageLock::Acquire(config.storage.storage_path);
  if (!lock.ok()) return lock.status();
  storage_lock = std::move(lock.value());

  if (config.cluster.enabled) {
    data_client = std::make_shared<peer::DataClient>(
        [this](uint64_t peer) -> std::optional<std::string> {
          if (!cluster_node) return std::nullopt;
          std::shared_ptr<const cluster::ClusterState> state = cluster_node->State();
          auto it = state->peers.find(peer);
          if (it == state->peers.end()) return std::nullopt;
          return it->second.uri;
        },
        [this](const std::string& collection, uint32_t shard, uint64_t peer,
               std::function<void(const Status&)> done) {
          cluster_node->Propose(cluster::MetaOperation::SetReplicaState(
                                    collection, shard, peer, cluster::ReplicaState::kDead),
                                std::chrono::seconds(10),
                                [done = std::move(done)](Status s) { done(s); });
        });
    // Forwarded writes mostly wait for the other replicas: more threads than cores.
    forward_pool = std::make_unique<WorkerPool>(16);
    replicate_pool = std::make_unique<WorkerPool>(4);
    read_pool = std::make_unique<WorkerPool>(config.storage.performance.max_search_threads);
  }
  // storage.performance.update_rate_limit: updates in flight in cluster mode (null: auto, 64 per
  // core: enough to keep the WAL's group commit full, small enough that a stalled replica cannot
  // pile up unbounded requests); past it a request waits up to 2 s, then gets 429.
  std::shared_ptr<collection::UpdateLimiter> limiter;
  if (config.cluster.enabled) {
    const size_t limit = config.storage.performance.update_rate_limit.value_or(
        64 * std::max(1u, std::thread::hardware_concurrency()));
    limiter = std::make_shared<collection::UpdateLimiter>(limit, std::chrono::seconds(2));
  }
  auto opened = collection::Collections::Open(config.storage.storage_path, config.cluster.enabled,
                                              data_client, limiter);
  if (!opened.ok()) return opened.status().WithContext("storage " + config.storage.storage_path);
  collections = std::move(*opened);

  if (config.cluster.enabled) {
    if (Status s = StartCluster(on_loop); !s.ok()) return s;
    api::rest::AddClusterRoutes(
        router, loop, *cluster_node, [this](OnLoop l, std::function<void(Status)> done) {
          if (!reconciler) return done(Status::Unavailable("qdrantd is shutting down"));
          if (!cluster_node->CaughtUp(l)) {
            // compat.md §6.6: accepted at once; the refresh runs once this peer has caught up.
            done(Status::Ok());
            RecoverWhenCaughtUp(l);
            return;
          }
          reconciler->Recover(l, cluster_node->State(),
                              [done = std::move(done)](OnLoop, Status s) { done(s); });
        });
  }

  pool = std::make_unique<WorkerPool>(config.storage.performance.max_search_threads);

  std::function<bool()> ready;
  if (cluster_node) ready = [node = cluster_node.get()] { return node->Ready(); };
  api::rest::AddServiceRoutes(router, {.cluster_enabled = config.cluster.enabled, .ready = ready});
  authenticator = std::make_unique<api::auth::Authenticator>(
      api::auth::AuthOptions{.api_key = config.service.api_key,
                             .read_only_api_key = config.service.read_only_api_key,
                             .jwt_rbac = config.service.jwt_rbac});
  api::rest::EngineContext engine{&loop, pool.get(), collections.get(), {}};
  engine.auth = authenticator.get();
  if (cluster_node) {
    // Collection changes go through consensus; the Reconciler applies each committed state
    // locally on the pool, and the proposer is answered once that is done, so its next request
    // finds the change.
    cluster::ClusterNode* member = cluster_node.get();
    reconcile_pool = std::make_unique<WorkerPool>(1);
    reconciler = std::make_unique<cluster::Reconciler>(
        loop, *reconcile_pool, *collections, member->peer_id(),
        [member](OnLoop l, uint64_t applied_index) { member->Reconciled(l, applied_index); },
        [member](OnLoop l, const std::string& collection, cluster::ShardId shard,
                 cluster::ReplicaState state, std::function<void(Status)> done) {
          member->ProposeOnLoop(
              l,
              cluster::MetaOperation::SetReplicaState(collection, shard, member->peer_id(), state),
              std::chrono::seconds(10), std::move(done));
        },
        config.storage.node_type == config::NodeType::kListener);
    member->AttachReconciler(on_loop, [r = reconciler.get()](OnLoop l, const std::shared_ptr<const cluster::ClusterState>& st) {
      r->Reconcile(l, st);
    });
    cluster::TransferManager::Options transfer_options;
    transfer_options.incoming_limit = config.storage.performance.incoming_shard_transfers_limit;
    transfer_options.outgoing_limit = config.storage.performance.outgoing_shard_transfers_limit;
    if (auto mb = config.storage.performance.shard_transfer_rate_limit_mb) {
      transfer_options.rate_limit_bytes = static_cast<uint64_t>(std::max(1.0, *mb * 1e6));
    }
    transfer_options.method = config.storage.shard_transfer_method;
    transfer_options.rebalance_on_join = config.cluster.rebalance.on_join;
    transfer_options.dead_peer_timeout =
        std::chrono::seconds(config.cluster.rebalance.dead_peer_timeout_sec);
    transfers = std::make_unique<cluster::TransferManager>(
        *collections, data_client, member->peer_id(), transfer_options,
        [member](cluster::MetaOperation op, std::function<void(Status)> done) {
          member->Propose(std::move(op), std::chrono::seconds(10), std::move(done));
        },
        [member] { return member->State(); });
    transfers->SetLiveness([member] {
      cluster::ClusterNode::Liveness live = member->GetLiveness();
      return cluster::TransferManager::Liveness{.leader = live.leader,
                                                .unreachable = std::move(live.unreachable)};
    });
    transfers->Start();
    engine.transfers = [member, manager = transfers.get()](const std::string& name) {
      std::vector<collection::TransferView> out;
      // Held for the loop: a range over a temporary's member outlives the temporary.
      const std::shared_ptr<const cluster::ClusterState> state = member->State();
      for (const cluster::Transfer& t : state->transfers) {
        if (t.collection != name) continue;
        collection::TransferView v{.shard = t.shard,
                                   .from = t.from,
                                   .to = t.to,
                                   .sync = t.sync,
                                   .method = t.method,
                                   .comment = std::nullopt};
        if (std::optional<collection::TransferProgress> p = manager->Progress(t)) {
          const std::string started =
              ", started " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::steady_clock::now() - p->started)
                                 .count()) +
              "s ago";
          if (p->method == "snapshot") {
            v.comment = "Transferring snapshot (" + std::to_string(p->bytes_done) + "/" +
                        std::to_string(p->bytes_total) + " bytes)";
            if (p->points_done > 0) {
              *v.comment += ", installed (" + std::to_string(p->points_done) +
                            " points), then operations (" +
                            std::to_string(p->ops_done ? p->ops_total : 0) + "/" +
                            std::to_string(p->ops_total) + ")";
            }
            *v.comment += started;
            if (!p->fallback.empty()) *v.comment += "; " + p->fallback;
          } else if (p->method == "wal_delta") {
            v.comment = "Transferring operations (" +
                        std::to_string(p->ops_done ? p->ops_total : 0) + "/" +
                        std::to_string(p->ops_total) + ")" + started;
          } else {
            // Qdrant's words, which scripts match on (compat.md §6.5).
            v.comment = "Transferring records (" + std::to_string(p->points_done) + "/" +
                        std::to_string(p->points_total) + ")" + started;
            if (!p->fallback.empty()) *v.comment += "; " + p->fallback;
          }
        }
        out.push_back(std::move(v));
      }
      return out;
    };
    engine.propose = MakeProposer(loop, cluster_node.get(), config.storage.shard_transfer_method);
    engine.peer_id = cluster_node->peer_id();
    engine.placement = [node = cluster_node.get()](const std::string& name) -> std::optional<api::rest::Placement> {
      std::shared_ptr<const cluster::ClusterState> state = node->State();
      auto it = state->collections.find(name);
      if (it == state->collections.end()) return std::nullopt;
      api::rest::Placement out;
      for (const auto& [shard, replicas] : it->second.shards) {
        std::vector<std::pair<uint64_t, std::string>> peers;
        for (const auto& [peer, st] : replicas.replicas) peers.emplace_back(peer, std::string(cluster::ReplicaStateName(st)));
        out.emplace_back(static_cast<uint32_t>(shard), std::move(peers));
      }
      return out;
    };
  }
  api::rest::AddCollectionRoutes(router, engine);
  api::rest::AddPointRoutes(router, engine);
  api::rest::AddDiagnosticsRoutes(router, engine);
  snapshots = std::make_unique<collection::Snapshots>(*collections, config.storage.snapshots_path,
                                                      config.storage.storage_path);
  api::rest::AddSnapshotRoutes(router, engine, snapshots.get());
  api::rest::AddMetricsRoutes(router, {.collections = collections.get(),
                                       .rest = &rest_metrics,
                                       .grpc = config.service.grpc_port ? &grpc_metrics : nullptr,
                                       .cluster = MetricsOfCluster()});
  rest_metrics.SetRoutes(router.RouteNames());
  authenticator->SetAliasResolver(
      [collections = collections.get()](std::string_view name) -> std::optional<std::string> {
        Result<std::shared_ptr<collection::Collection>> c = collections->Get(std::string(name));
        if (!c.ok()) return std::nullopt;
        return (*c)->name();
      });
  if (Status s = router.Protect(authenticator.get()); !s.ok()) return s;
  if (authenticator->enabled()) {
    QD_LOG_INFO(std::string("API keys required on REST and gRPC") +
                (config.service.jwt_rbac ? " (JWTs accepted)" : ""));
  }
  WarnIfExposed(config);
  std::optional<api::ServerTls> tls;
  if (config.service.enable_tls) {
    tls = api::ServerTls{.cert_path = config.tls.cert,
                         .key_path = config.tls.key,
                         .ca_cert_path = config.tls.ca_cert,
                         .verify_client = config.service.verify_https_client_certificate,
                         .reload_interval = std::chrono::seconds(config.tls.cert_ttl)};
  }
  const std::string tls_note = tls ? " (TLS)" : "";
  http = std::make_unique<api::rest::HttpServer>(
      loop, router,
      api::rest::HttpServerOptions{
          .host = config.service.host,
          .port = config.service.http_port,
          .max_request_size_bytes = config.service.max_request_size_mb << 20,
          .keep_alive_timeout_ms = config.service.http_keep_alive_timeout_sec * 1000,
          .metrics = kCountRequests ? &rest_metrics : nullptr,
          .tls = tls});
  if (Status s = http->Start(on_loop); !s.ok()) return s;
  QD_LOG_INFO("REST listening on " + config.service.host + ":" +
              std::to_string(config.service.http_port) + tls_note);

  if (config.service.grpc_port) {
    grpc = std::make_unique<api::grpc::GrpcServer>(api::grpc::GrpcServerOptions{
        .host = config.service.host,
        .port = *config.service.grpc_port,
        .cluster_enabled = config.cluster.enabled,
        .max_message_bytes = config.service.max_request_size_mb << 20,
        .cluster = cluster_node ? ClusterHooks() : api::grpc::AdminClusterHooks{},
        .collections = collections.get(),
        .pool = pool.get(),
        .snapshots = snapshots.get(),
        .propose = engine.propose,
        .peer_id = engine.peer_id,
        .placement = engine.placement,
        .transfers = engine.transfers,
        .metrics = kCountRequests ? &grpc_metrics : nullptr,
        .auth = authenticator.get(),
        .tls = tls});
    if (Status s = grpc->Start(); !s.ok()) return s;
    grpc_stopped = false;
    QD_LOG_INFO("gRPC listening on " + config.service.host + ":" +
                std::to_string(*config.service.grpc_port) + tls_note);
  } else {
    QD_LOG_INFO("gRPC disabled (service.grpc_port is null)");
  }

  for (auto [handle, signo] : {std::pair{&sigint, SIGINT}, std::pair{&sigterm, SIGTERM}}) {
    uv_signal_init(loop.raw(), handle);
    handle->data = this;
    uv_signal_start(handle, &Impl::OnSignal, signo);
  }
  uv_timer_init(loop.raw(), &drain_timer);
  drain_timer.data = this;
  uv_timer_init(loop.raw(), &checkpoint_timer);
  checkpoint_timer.data = this;
  uv_timer_start(&checkpoint_timer, &Impl::OnCheckpointTimer, kCheckpointIntervalMs, kCheckpointIntervalMs);

  NotifyReady();
  QD_LOG_INFO("qdrantd is ready");
  return Status::Ok();
}

void Daemon::Impl::BeginShutdown(OnLoop on_loop, int signo) {
  if (stopping) {
    QD_LOG_WARN("second stop signal: shutting down immediately");
    loop.Stop(on_loop);
    return;
  }
  stopping = true;
  shutdown_started = std::chrono::steady_clock::now();
  if (signo != 0) {
    QD_LOG_INFO(std::string("received ") + (signo == SIGINT ? "SIGINT" : "SIGTERM") +
                ", shutting down");
  }
  NotifyStopping();
  http->StopAccepting(on_loop);
  if (reconciler) reconciler->Stop(on_loop);
  if (cluster_node) {
    cluster_stopped = false;
    cluster_node->Stop(on_loop, [this] { cluster_stopped = true; });
  }
  if (grpc || p2p) {
    // grpc::Server::Shutdown blocks until calls finish: never on the loop.
    grpc_stopped = false;
    auto deadline = std::chrono::system_clock::now() + kShutdownGrace - std::chrono::seconds(1);
    grpc_stopper = std::thread([this, deadline] {
      if (transfers) transfers->Stop();  // joins its threads: never on the loop
      if (grpc) grpc->Shutdown(deadline);
      if (p2p) p2p->Shutdown(deadline);
      grpc_stopped = true;
    });
  }
  uv_timer_stop(&checkpoint_timer);
  uv_timer_start(&drain_timer, &Impl::OnDrainTimer, 0, 10);
}

void Daemon::Impl::RecoverWhenCaughtUp(OnLoop) {
  if (recover_waiting) return;
  recover_waiting = true;
  if (recover_timer.loop == nullptr) {
    uv_timer_init(loop.raw(), &recover_timer);
    recover_timer.data = this;
  }
  uv_timer_start(
      &recover_timer,
      [](uv_timer_t* t) {
        auto* self = static_cast<Impl*>(t->data);
        OnLoop l = self->loop.Enter();
        if (self->stopping || !self->reconciler) {
          uv_timer_stop(t);
          return;
        }
        if (!self->cluster_node->CaughtUp(l)) return;
        uv_timer_stop(t);
        self->recover_waiting = false;
        QD_LOG_INFO("caught up: running the recover asked for earlier");
        self->reconciler->Recover(l, self->cluster_node->State(), [](OnLoop, Status s) {
          if (!s.ok()) QD_LOG_WARN("recover: " + s.message());
        });
      },
      100, 100);
}

void Daemon::Impl::CheckDrained(OnLoop on_loop) {
  bool drained = http->in_flight() == 0 && grpc_stopped && cluster_stopped;
  bool out_of_time = std::chrono::steady_clock::now() - shutdown_started > kShutdownGrace;
  if (!drained && !out_of_time) return;
  if (!drained) QD_LOG_WARN("shutdown grace period over; cutting off requests still in flight");
  loop.Stop(on_loop);
}

void Daemon::Impl::CloseHandles() {
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&sigint), reinterpret_cast<uv_handle_t*>(&sigterm),
        reinterpret_cast<uv_handle_t*>(&drain_timer),
        reinterpret_cast<uv_handle_t*>(&checkpoint_timer),
        reinterpret_cast<uv_handle_t*>(&recover_timer)}) {
    if (h->loop != nullptr && !uv_is_closing(h)) uv_close(h, nullptr);
  }
}

Status Daemon::Impl::StartCluster(OnLoop on_loop) {
  const config::ClusterConfig& c = config.cluster;
  if (c.p2p.enable_tls) {
    // Before the first channel: every one is mutual TLS from the start (peer/channel.h).
    Result<peer::PeerTls> tls =
        peer::LoadPeerTls(config.tls.cert, config.tls.key, config.tls.ca_cert);
    if (!tls.ok()) return tls.status();
    peer::UsePeerTls(std::move(*tls));
  }
  cluster_node = std::make_unique<cluster::ClusterNode>(
      loop, cluster::ClusterOptions{
                .storage_path = config.storage.storage_path,
                .uri = flags.uri,
                .bootstrap = flags.bootstrap,
                .reinit = flags.reinit,
                .node_type = config.storage.node_type == config::NodeType::kListener
                                 ? cluster::NodeType::kListener
                                 : cluster::NodeType::kNormal,
                .tick_ms = static_cast<unsigned>(c.consensus.tick_period_ms),
                .compact_wal_entries = static_cast<unsigned>(c.consensus.compact_wal_entries),
                .max_message_queue_size = c.consensus.max_message_queue_size,
                .message_timeout_ticks = static_cast<unsigned>(c.consensus.message_timeout_ticks),
                .bootstrap_timeout =
                    std::chrono::seconds(std::max<uint64_t>(c.consensus.bootstrap_timeout_sec, 1)),
                .peer_tls = c.p2p.enable_tls,
            });
  cluster::ClusterNode* node = cluster_node.get();
  p2p = std::make_unique<api::p2p::P2pServer>(
      loop, config.service.host, c.p2p.port,
      api::p2p::P2pHandlers{
          .raft_message = [node](OnLoop l, const std::string& m) { node->OnRaftMessage(l, m); },
          .propose =
              [node](OnLoop l, std::string op, api::p2p::P2pHandlers::Reply reply) {
                node->OnForwardedPropose(l, std::move(op), std::move(reply));
              },
          .join =
              [node](OnLoop l, uint64_t id, std::string uri, std::string type,
                     api::p2p::P2pHandlers::Reply reply) {
                node->OnJoin(l, id, std::move(uri), std::move(type), std::move(reply));
              },
          .commit_index = [node](OnLoop l) { return node->CommitIndex(l); },
          .reconciled_index = [node](OnLoop l) { return node->ReconciledIndex(l); },
          .standing =
              [node](OnLoop l) {
                peer::PeerPool::Position p = node->OwnPosition(l);
                return api::p2p::P2pHandlers::Standing{
                    .term = p.term, .applied = p.applied, .role = p.role};
              },
      },
      api::p2p::P2pDataContext{.collections = collections.get(),
                               .forward_pool = forward_pool.get(),
                               .replicate_pool = replicate_pool.get(),
                               .read_pool = read_pool.get()});
  if (Status s = p2p->Start(peer::PeerServerCredentials()); !s.ok()) return s;
  QD_LOG_INFO("P2P listening on " + config.service.host + ":" + std::to_string(c.p2p.port) +
              (c.p2p.enable_tls ? " (mutual TLS: tls.cert, tls.ca_cert)" : ""));
  return cluster_node->Start(on_loop, [this](OnLoop l, int code, const std::string& message) {
    QD_LOG_ERROR(message);
    exit_code = code;
    BeginShutdown(l, 0);
  });
}

api::grpc::AdminClusterHooks Daemon::Impl::ClusterHooks() {
  cluster::ClusterNode* node = cluster_node.get();
  Loop* l = &loop;
  api::grpc::AdminClusterHooks hooks;
  hooks.status = [node, l](std::function<void(api::grpc::AdminClusterHooks::Info)> done) {
    l->Post([node, done = std::move(done)](OnLoop on_loop) {
      // Every peer's own term, commit and applied index (P2P CommitIndex, 1 s at most), so
      // that qdctl cluster status shows each one's lag behind the leader.
      node->Positions(
          on_loop, std::chrono::milliseconds(1000), [node, done](OnLoop now, auto positions) {
            cluster::ClusterStatus s = node->GetStatus(now);
            std::shared_ptr<const cluster::ClusterState> state = node->State();
            api::grpc::AdminClusterHooks::Info info{
                .peer_id = s.peer_id,
                .term = s.term,
                .commit = s.commit,
                .leader = s.leader,
                .consensus_thread_status = s.consensus_thread_status};
            // Lag: entries the leader committed that the peer has not applied yet.
            uint64_t leader_commit = s.commit;
            if (s.leader) {
              auto it = positions.find(*s.leader);
              if (it != positions.end() && it->second) leader_commit = it->second->commit;
            }
            for (const auto& [id, p] : s.peers) {
              api::grpc::AdminClusterHooks::Peer peer{
                  .id = id, .uri = p.uri, .is_voter = p.is_voter, .reachable = false};
              auto known = state->peers.find(id);
              peer.node_type =
                  known != state->peers.end() && known->second.type == cluster::NodeType::kListener
                      ? "Listener"
                      : "Normal";
              auto it = positions.find(id);
              if (it != positions.end() && it->second) {
                // It answered this node just now: reachable, whatever Raft traffic says (a
                // follower hears only from the leader, so it cannot tell about the others).
                const peer::PeerPool::Position& pos = *it->second;
                peer.reachable = true;
                peer.role = pos.role;
                peer.term = pos.term;
                peer.commit = pos.commit;
                peer.applied = pos.applied;
                peer.lag = leader_commit > pos.applied ? leader_commit - pos.applied : 0;
              } else {
                // No answer: the role this node believes, as GET /cluster shows it.
                peer.role = id == s.peer_id ? s.role
                                            : (s.leader && *s.leader == id ? "Leader" : "Follower");
              }
              info.peers.push_back(std::move(peer));
            }
            done(std::move(info));
          });
    });
  };
  hooks.remove_peer = [node](uint64_t id, bool force, std::chrono::milliseconds timeout,
                             std::function<void(Status)> done) {
    node->Propose(cluster::MetaOperation::RemovePeer(id, force), timeout, std::move(done));
  };
  hooks.transfers = [node] { return node->State()->transfers; };
  hooks.rebalance = [node, l](std::function<void(cluster::RebalanceStatus)> done) {
    l->Post([node, done = std::move(done)](OnLoop on_loop) {
      // As GET /cluster/rebalance: only the leader's view of reachability is complete.
      std::set<cluster::PeerId> unreachable;
      cluster::ClusterStatus status = node->GetStatus(on_loop);
      for (const auto& [id, p] : status.peers) {
        if (!p.reachable && status.role == "Leader") unreachable.insert(id);
      }
      done(cluster::DescribeRebalance(*node->State(), unreachable, cluster::WallClockMs()));
    });
  };
  hooks.start_rebalance = [node](std::chrono::milliseconds timeout,
                                 std::function<void(Status)> done) {
    cluster::MetaOperation op;
    op.kind = cluster::MetaOperation::Kind::kSetRebalance;
    op.rebalance_action = "start";
    op.reason = "requested";
    op.started_ms = cluster::WallClockMs();
    node->Propose(std::move(op), timeout, std::move(done));
  };
  hooks.drain_peer = [node](uint64_t id, bool cancel, std::chrono::milliseconds timeout,
                            std::function<void(Status)> done) {
    if (Status s = cluster::CheckDrain(*node->State(), id, cancel); !s.ok()) {
      done(s);
      return;
    }
    cluster::MetaOperation op;
    op.kind = cluster::MetaOperation::Kind::kDrainPeer;
    op.peer_id = id;
    op.cancel = cancel;
    node->Propose(std::move(op), timeout, std::move(done));
  };
  collection::Collections* all = collections.get();
  WorkerPool* api_pool = pool.get();
  hooks.verify = [all, api_pool](const std::string& name, auto done) {
    Status queued = api_pool->Submit([all, name, done] {
      Result<std::shared_ptr<collection::Collection>> c = all->Get(name);
      if (!c.ok()) return done(c.status());
      std::vector<api::grpc::AdminClusterHooks::Digest> out;
      for (collection::Collection::VerifiedReplica& v : (*c)->Verify()) {
        api::grpc::AdminClusterHooks::Digest d{
            .shard = v.shard, .peer = v.peer, .state = std::string(shard::StateName(v.state))};
        if (!v.digest.ok()) {
          d.error = v.digest.status().message();
        } else {
          char hex[33];
          std::snprintf(hex, sizeof hex, "%016llx%016llx",
                        static_cast<unsigned long long>(v.digest->sum),
                        static_cast<unsigned long long>(v.digest->xor_));
          d.last_op = v.digest->op;
          d.points = v.digest->points;
          d.digest = hex;
        }
        out.push_back(std::move(d));
      }
      done(std::move(out));
    });
    if (!queued.ok()) done(queued);
  };
  return hooks;
}

// /metrics and /telemetry in cluster mode: consensus figures and the replica placement, read on
// the loop (the handlers run there).
std::function<api::rest::ClusterMetrics()> Daemon::Impl::MetricsOfCluster() {
  if (!cluster_node) return {};
  return [node = cluster_node.get(), l = &loop] {
    cluster::ClusterStatus s = node->GetStatus(l->Enter());
    api::rest::ClusterMetrics m{.peer_id = s.peer_id, .peers = s.peers.size(), .term = s.term,
                                .commit = s.commit, .pending_operations = s.pending_operations,
                                .voter = s.is_voter, .role = s.role};
    std::shared_ptr<const cluster::ClusterState> state = node->State();
    for (const auto& [name, collection] : state->collections) {
      for (const auto& [shard, replicas] : collection.shards) {
        for (const auto& [peer, replica_state] : replicas.replicas) {
          m.replicas.push_back({name, static_cast<uint32_t>(shard), peer,
                                std::string(cluster::ReplicaStateName(replica_state))});
        }
      }
    }
    for (const cluster::Transfer& t : state->transfers) {
      m.transfers.push_back({t.collection, static_cast<uint32_t>(t.shard), t.from, t.to, t.method});
    }
    return m;
  };
}

Daemon::Daemon(config::Config config, DaemonFlags flags)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(flags))) {}

Daemon::~Daemon() {
  if (impl_->grpc_stopper.joinable()) impl_->grpc_stopper.join();
}

int Daemon::Run() {
  Status started = impl_->Start(impl_->loop.Enter());
  if (!started.ok()) {
    QD_LOG_ERROR("cannot start: " + started.message());
    if (impl_->grpc) impl_->grpc->Shutdown(std::chrono::system_clock::now());
    if (impl_->p2p) impl_->p2p->Shutdown(std::chrono::system_clock::now());
    if (impl_->http) impl_->http->StopAccepting(impl_->loop.Enter());
    impl_->CloseHandles();
    impl_->http.reset();
    if (impl_->pool) impl_->pool->Stop();
    for (WorkerPool* p : {impl_->forward_pool.get(), impl_->replicate_pool.get(),
                          impl_->read_pool.get(), impl_->reconcile_pool.get()}) {
      if (p) p->Stop();
    }
    return 1;
  }
  impl_->loop.Run();
  if (impl_->grpc_stopper.joinable()) impl_->grpc_stopper.join();
  if (!impl_->grpc_stopped && impl_->grpc) impl_->grpc->Shutdown(std::chrono::system_clock::now());
  if (!impl_->grpc_stopped && impl_->p2p) impl_->p2p->Shutdown(std::chrono::system_clock::now());
  // Work still queued finishes (its answers go nowhere); then indexes are checkpointed.
  impl_->pool->Stop();
  for (WorkerPool* p : {impl_->forward_pool.get(), impl_->replicate_pool.get(),
                        impl_->read_pool.get(), impl_->reconcile_pool.get()}) {
    if (p) p->Stop();
  }
  impl_->CloseHandles();
  impl_->http.reset();
  impl_->collections.reset();
  QD_LOG_INFO("qdrantd stopped");
  return impl_->exit_code;
}

}  // namespace qd::server
