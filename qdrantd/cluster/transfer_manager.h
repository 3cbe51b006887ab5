// TransferManager: this peer's part in the shard transfers consensus registered, and automatic
// recovery (compat.md §6.5, §6.6; docs/cluster.md "Shard transfers").
//  * For every transfer whose source is this peer it runs a collection::TransferDriver, and
//    proposes the transfer's end (finish, or abort when the driver failed) through consensus.
//    A transfer that left the state (finished, aborted, its peers removed) has its driver
//    cancelled and its forwarding stopped; a restarted one (restart_transfer) too, and a new
//    driver starts it over with its method at the next tick.
//  * Automatic recovery: for each shard whose Active replica with the highest peer id is here,
//    every Dead replica on a peer that answers a probe gets a replication from here, within the
//    transfer limits (the FSM checks them, counting every transfer); limits 0/0 turn it off.
//    A probe or proposal that failed waits kRetryDelay before the next try of that replica.
//  * A wal_delta transfer whose driver fell back to stream_records has its method updated
//    through consensus, so that every peer lists what runs; every kProgressEvery the same
//    update carries the driver's progress (Transfer::Progress), which every peer can then show.
//  * On the leader only: the rebalance planner (cluster/rebalance.h). It starts the first planned
//    move of each shard that is in no transfer (automatic, within the limits): drains, heals
//    peers unreachable longer than dead_peer_timeout, and balances while a rebalance runs; it
//    starts a rebalance when a Normal peer joined (rebalance_on_join) and ends it when nothing
//    is left to balance. Unreachability is timed from when this peer became leader.
// It works on its own thread, ticking every kTick: probes and proposals may block there,
// never on the loop.
// Thread: any for the public methods.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>

#include "libshared/status.h"
#include "qdrantd/cluster/cluster_state.h"
#include "qdrantd/cluster/meta_operation.h"
#include "qdrantd/collection/collections.h"
#include "qdrantd/collection/transfer_driver.h"

namespace qd::cluster {

class TransferManager {
 public:
  struct Options {
    uint64_t incoming_limit = 1;
    uint64_t outgoing_limit = 1;
    uint64_t rate_limit_bytes = 0;  // per second and transfer; 0: unlimited
    size_t batch_points = 128;
    // The method of recovery transfers (storage.shard_transfer_method; ChooseMethod).
    std::optional<std::string> method;
    bool rebalance_on_join = true;  // cluster.rebalance.on_join
    // cluster.rebalance.dead_peer_timeout_sec; 0: never replace a dead peer's replicas.
    std::chrono::milliseconds dead_peer_timeout{std::chrono::seconds(600)};
  };
  // Whether this peer leads, and the peers it cannot reach now (ClusterNode::Liveness).
  struct Liveness {
    bool leader = false;
    std::set<PeerId> unreachable;
  };
  using LivenessFn = std::function<Liveness()>;
  static constexpr std::chrono::milliseconds kTick{200};
  static constexpr std::chrono::milliseconds kRetryDelay{1000};
  static constexpr std::chrono::milliseconds kProgressEvery{2000};
  // Proposes `op`; `done` runs once it was applied here or failed (any thread).
  using ProposeFn = std::function<void(MetaOperation op, std::function<void(Status)> done)>;
  using StateFn = std::function<std::shared_ptr<const ClusterState>()>;

  TransferManager(collection::Collections& collections, std::shared_ptr<collection::PeerLink> link,
                  PeerId self, Options options, ProposeFn propose, StateFn state);
  ~TransferManager();  // stops the thread and every driver
  TransferManager(const TransferManager&) = delete;
  TransferManager& operator=(const TransferManager&) = delete;

  // Before Start(): without it the planner never runs.
  void SetLiveness(LivenessFn liveness) { liveness_ = std::move(liveness); }
  void Start();
  // Stops the thread and every driver (joins them). Idempotent; Progress still answers.
  void Stop();
  // The progress of a transfer this peer sends, if it runs here.
  std::optional<collection::TransferProgress> Progress(const Transfer& t) const;

 private:
  using Key = std::tuple<std::string, ShardId, PeerId>;  // collection, shard, to
  // The driver's outcome, set on its thread once it ended: what to propose.
  struct Outcome {
    std::mutex mu;
    std::optional<Status> status;  // Protected by mu
  };
  struct Running {
    Transfer transfer;
    std::unique_ptr<collection::TransferDriver> driver;
    std::shared_ptr<collection::Collection> collection;
    std::shared_ptr<Outcome> outcome;
    bool proposing = false;                          // Protected by mu_
    bool proposing_method = false;  // a kUpdateTransfer in flight; Protected by mu_
    std::chrono::steady_clock::time_point next_progress;  // Protected by mu_
    std::chrono::steady_clock::time_point retry_at;  // Protected by mu_
  };
  void Run();
  void Tick(const ClusterState& state);
  void SyncDrivers(const ClusterState& state);
  void PlanRecovery(const ClusterState& state);
  void RunPlanner(const ClusterState& state);
  void ProposeRebalance(std::string action, std::string reason);

  collection::Collections& collections_;
  const std::shared_ptr<collection::PeerLink> link_;
  const PeerId self_;
  const Options options_;
  ProposeFn propose_;
  StateFn state_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                            // Protected by mu_
  std::map<Key, std::unique_ptr<Running>> running_;  // Protected by mu_
  std::set<Key> recovering_;  // recovery proposals in flight; Protected by mu_
  std::map<Key, std::chrono::steady_clock::time_point> backoff_;  // thread only
  LivenessFn liveness_;
  // The planner's proposals in flight: shards (collection, shard) and the rebalance record.
  std::set<std::pair<std::string, ShardId>> planning_;                         // Protected by mu_
  bool proposing_rebalance_ = false;                                           // Protected by mu_
  std::map<PeerId, std::chrono::steady_clock::time_point> unreachable_since_;  // thread only
  std::map<std::pair<std::string, ShardId>, std::chrono::steady_clock::time_point>
      plan_backoff_;  // thread only
  std::thread thread_;
};

}  // namespace qd::cluster
