// GrpcServer: the public gRPC listener on service.grpc_port. It serves Qdrant's services
// (package qdrant: Qdrant, Collections, Points, Snapshots; qdrant_services.h) and our admin
// service (qdrantd.admin.Admin) that qdctl uses. gRPC runs its own threads: handlers here only
// parse and answer, and hand data work to the pool (STYLE.md §2). grpcpp stays in the .cc.
// Thread: Start/Shutdown from the daemon; handlers on gRPC's threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/api/server_tls.h"
#include "qdrantd/cluster/rebalance.h"
#include "qdrantd/collection/collection_change.h"

namespace qd::server {
class WorkerPool;
}
namespace qd::collection {
class Collections;
class Snapshots;
}  // namespace qd::collection
namespace qd::api::metrics {
class GrpcMetrics;
}  // namespace qd::api::metrics
namespace qd::api::auth {
class Authenticator;
}  // namespace qd::api::auth

namespace qd::api::grpc {

// Cluster mode (issue #5): how the admin service reaches the cluster. All are called on gRPC
// threads, must not block, and call their callback exactly once from any thread.
struct AdminClusterHooks {
  struct Peer {
    uint64_t id = 0;
    std::string uri;
    std::string role;
    bool is_voter = false;
    bool reachable = false;  // and it answered the status call
    std::string node_type;   // Normal or Listener
    // As the peer itself reported them; nullopt when it did not answer.
    std::optional<uint64_t> term, commit, applied;
    std::optional<uint64_t> lag;  // the leader's commit index minus the peer's applied index
  };
  struct Info {
    uint64_t peer_id = 0;
    std::vector<Peer> peers;
    uint64_t term = 0;
    uint64_t commit = 0;
    std::optional<uint64_t> leader;
    std::string consensus_thread_status;
  };
  std::function<void(std::function<void(Info)>)> status;
  std::function<void(uint64_t peer_id, bool force, std::chrono::milliseconds timeout,
                     std::function<void(Status)>)> remove_peer;
  // ListTransfers: the cluster state's transfers, returned at once (any thread).
  std::function<std::vector<cluster::Transfer>()> transfers;
  // GetRebalance: the rebalance status as this peer computes it (cluster/rebalance.h).
  std::function<void(std::function<void(cluster::RebalanceStatus)>)> rebalance;
  std::function<void(std::chrono::milliseconds timeout, std::function<void(Status)>)>
      start_rebalance;
  // DrainPeer: CheckDrain's refusals, else the kDrainPeer proposal's verdict.
  std::function<void(uint64_t peer_id, bool cancel, std::chrono::milliseconds timeout,
                     std::function<void(Status)>)>
      drain_peer;
  // VerifyCollection: each replica's digest (Collection::Verify), taken off the loop; kNotFound
  // for an unknown collection.
  struct Digest {
    uint32_t shard = 0;
    uint64_t peer = 0;
    std::string state;
    std::string error;  // empty: the figures below are set
    uint64_t last_op = 0, points = 0;
    std::string digest;
  };
  std::function<void(const std::string& collection,
                     std::function<void(Result<std::vector<Digest>>)>)>
      verify;
};

struct GrpcServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 6334;
  bool cluster_enabled = false;
  uint64_t max_message_bytes = 64ull << 20;
  AdminClusterHooks cluster;  // set when cluster_enabled
  // The engine behind Qdrant's Collections, Points and Snapshots services; both outlive the
  // server. Null: those services are not offered (only HealthCheck and admin).
  collection::Collections* collections = nullptr;
  server::WorkerPool* pool = nullptr;
  collection::Snapshots* snapshots = nullptr;
  // Cluster mode: how Collections' Create, Update, Delete and UpdateAliases reach consensus.
  collection::ProposeFn propose;
  // Cluster mode: this node's peer id and where consensus placed each collection's replicas
  // (CollectionClusterInfo).
  uint64_t peer_id = 0;
  collection::PlacementFn placement;
  collection::TransfersFn transfers;
  // Every finished call is counted here (by method) when set; outlives the server.
  metrics::GrpcMetrics* metrics = nullptr;
  // API keys and JWTs (auth/authenticator.h), checked by every method but the health check;
  // outlives the server. Null: nothing is checked.
  const auth::Authenticator* auth = nullptr;
  // gRPC over TLS when set (with client certificates required and verified when
  // tls->verify_client); plaintext otherwise.
  std::optional<ServerTls> tls;
};

class GrpcServer {
 public:
  explicit GrpcServer(GrpcServerOptions options);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Errors: kUnavailable when the port cannot be bound; kInvalidArgument when a TLS file cannot
  // be read.
  Status Start();
  // Stops accepting calls, lets running ones finish until `deadline`, then cancels the rest.
  // Blocks; never call it on the loop thread.
  void Shutdown(std::chrono::system_clock::time_point deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qd::api::grpc
