// CollectionChange: a collection-level change (create, update, delete, aliases) as the APIs
// validated it, for cluster mode, where it is proposed through consensus (compat.md §5.1) instead
// of being applied to the local Collections; the Reconciler then applies it on every node.
// REST (api/rest/collection_routes.cc) and gRPC (api/grpc/collections_service.cc) both build
// their changes here and propose them through ProposeChange, so that the two APIs validate alike,
// say the same words and answer the same verdicts. Standalone mode does not use this file.
// Thread: any (values and pure functions); ProposeFn's contract is below.
#pragma once

#include <rapidjson/fwd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collections.h"

namespace qd::collection {

// POST /collections/{name}/cluster and qdrant.Collections/UpdateCollectionClusterSetup: one
// shard operation (compat.md §6.5).
struct ShardOperation {
  enum class Kind { kMoveShard, kReplicateShard, kAbortTransfer, kDropReplica, kRestartTransfer };
  Kind kind = Kind::kReplicateShard;
  uint32_t shard = 0;
  uint64_t from = 0;  // moves, replications, aborts, restarts
  uint64_t to = 0;
  uint64_t peer = 0;                  // kDropReplica
  std::optional<std::string> method;  // stream_records | snapshot | wal_delta, as requested
                                      // (required for kRestartTransfer)
};

struct CollectionChange {
  enum class Kind { kCreate, kUpdate, kDelete, kAliases, kShardOperation };
  Kind kind = Kind::kCreate;
  std::string name;
  std::string config_json;               // kCreate, kUpdate: the whole resulting config
  std::optional<uint32_t> shard_number;  // kCreate, when the request gave one
  uint32_t replication_factor = 1;       // kCreate
  std::vector<AliasAction> aliases;      // kAliases
  ShardOperation shard_operation;        // kShardOperation
};

// Proposes `change` through consensus; `done` runs exactly once, on any thread, once this node
// applied it (with the FSM's verdict: kAlreadyExists, kNotFound...) or with the error
// (kDeadlineExceeded: timed out, outcome unknown; kUnavailable: consensus is not running).
// Must not block. The daemon provides it (it maps a change onto MetaOperations).
using ProposeFn = std::function<void(CollectionChange change, std::chrono::milliseconds timeout,
                                     std::function<void(Status)> done)>;

// Cluster mode: where consensus placed a collection's replicas, shard id -> (peer id, replica
// state name), or nullopt for a collection consensus does not know. The daemon provides it;
// GET /collections/{name}/cluster and gRPC CollectionClusterInfo answer from it.
using Placement = std::vector<std::pair<uint32_t, std::vector<std::pair<uint64_t, std::string>>>>;
using PlacementFn = std::function<std::optional<Placement>(const std::string& collection)>;

// How long a change waits for consensus when the request names no `timeout` (seconds).
inline constexpr std::chrono::seconds kDefaultConsensusTimeout{30};

// PUT /collections/{name} and qdrant.Collections/Create: `body` is Qdrant's CreateCollection
// JSON. Errors as standalone mode gives them: the name's and the body's validation errors.
Result<CollectionChange> CreateChange(const std::string& name, const rapidjson::Value& body);
// PATCH /collections/{name} and qdrant.Collections/Update: `body` is Qdrant's UpdateCollection
// JSON, applied to the collection as this node knows it. Errors: kNotFound for an unknown
// collection, and the body's validation errors.
Result<CollectionChange> UpdateChange(const Collections& collections, const std::string& name,
                                      const rapidjson::Value& body);
// POST /collections/{name}/cluster: `body` is Qdrant's ClusterOperations JSON (one of
// move_shard, replicate_shard, abort_transfer, drop_replica, restart_transfer). Errors:
// kInvalidArgument (400) for a body that does not deserialise, kUnprocessable (422) for a
// transfer to its own source, kUnimplemented for replicate_points and the sharding-key and
// resharding operations.
Result<CollectionChange> ShardOperationChange(const std::string& name,
                                              const rapidjson::Value& body);
// A shard transfer as GET /collections/{name}/cluster lists it (`comment`: progress, on the
// source only).
struct TransferView {
  uint32_t shard = 0;
  uint64_t from = 0;
  uint64_t to = 0;
  bool sync = false;
  std::string method;
  std::optional<std::string> comment;
};
using TransfersFn = std::function<std::vector<TransferView>(const std::string& collection)>;
CollectionChange DeleteChange(std::string name);
CollectionChange AliasesChange(std::vector<AliasAction> actions);

// Proposes `change` with the request's `timeout_s` (or kDefaultConsensusTimeout) and calls
// `done` exactly once, on any thread, with the answer's `result`: true once applied; false for
// a delete of a collection that does not exist (Qdrant answers 200 / result=false then,
// compat.md §4.1); otherwise the error, unchanged.
void ProposeChange(const ProposeFn& propose, CollectionChange change,
                   std::optional<uint64_t> timeout_s, std::function<void(Result<bool>)> done);

}  // namespace qd::collection
