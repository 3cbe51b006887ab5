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

struct CollectionChange {
  enum class Kind { kCreate, kUpdate, kDelete, kAliases };
  Kind kind = Kind::kCreate;
  std::string name;
  std::string config_json;               // kCreate, kUpdate: the whole resulting config
  std::optional<uint32_t> shard_number;  // kCreate, when the request gave one
  uint32_t replication_factor = 1;       // kCreate
  std::vector<AliasAction> aliases;      // kAliases
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
CollectionChange DeleteChange(std::string name);
CollectionChange AliasesChange(std::vector<AliasAction> actions);

// Proposes `change` with the request's `timeout_s` (or kDefaultConsensusTimeout) and calls
// `done` exactly once, on any thread, with the answer's `result`: true once applied; false for
// a delete of a collection that does not exist (Qdrant answers 200 / result=false then,
// compat.md §4.1); otherwise the error, unchanged.
void ProposeChange(const ProposeFn& propose, CollectionChange change,
                   std::optional<uint64_t> timeout_s, std::function<void(Result<bool>)> done);

}  // namespace qd::collection
