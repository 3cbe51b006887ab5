// Qdrant's public Collections, Points and Snapshots services (package qdrant) over the engine
// (collection/): one implementation under REST and gRPC. Each method parses the request on the
// WorkerPool (grpc_call.h), calls the same engine functions the REST routes call, with the same
// validation and error messages, and fills the response as Qdrant does. Only grpc_server.cc
// includes this header. Thread: created by GrpcServer; methods on gRPC's threads, work on the pool.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "qdrantd/collection/collection_change.h"

namespace qd::server {
class WorkerPool;
}
namespace qd::api::auth {
class Authenticator;
}
namespace qd::collection {
class Collections;
class Snapshots;
}  // namespace qd::collection

namespace qd::api::grpc {

struct ServiceContext {
  collection::Collections* collections;
  server::WorkerPool* pool;
  collection::Snapshots* snapshots = nullptr;  // null: Snapshots answers UNIMPLEMENTED
  bool cluster_enabled = false;
  // Cluster mode: collection and alias changes are proposed through consensus with it (the
  // same function REST uses); empty in standalone mode or when consensus is not running.
  collection::ProposeFn propose;
  uint64_t peer_id = 0;              // cluster mode: this node
  collection::PlacementFn placement;  // cluster mode; empty: every shard is local and Active
  collection::TransfersFn transfers;  // cluster mode: shard transfers in progress
  // Every method checks the caller's API key or JWT with it first (grpc_auth.h); null: none.
  const auth::Authenticator* auth = nullptr;
};

std::unique_ptr<::grpc::Service> NewCollectionsService(ServiceContext context);
std::unique_ptr<::grpc::Service> NewPointsService(ServiceContext context);
std::unique_ptr<::grpc::Service> NewSnapshotsService(ServiceContext context);

}  // namespace qd::api::grpc
