// The data API over REST (compat.md §4): collections, aliases, points, search and query.
// Handlers parse and validate on the worker pool (bodies can be 32 MB), call the engine
// (collection/), serialise there too, and answer back on the loop. No logic beyond mapping.
// Thread: routes are added before the server starts; handlers run on the loop and the pool.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collections.h"

namespace qd::server {
class Loop;
class WorkerPool;
}  // namespace qd::server
namespace qd::collection {
class Snapshots;
}  // namespace qd::collection

namespace qd::api::rest {

class Router;

// A collection-level change as the API validated it. In cluster mode it goes through consensus
// (compat.md §5.1) instead of being applied here; the Reconciler then applies it on every node.
struct CollectionChange {
  enum class Kind { kCreate, kUpdate, kDelete, kAliases };
  Kind kind = Kind::kCreate;
  std::string name;
  std::string config_json;                // kCreate, kUpdate
  std::optional<uint32_t> shard_number;   // kCreate, when the request gave one
  uint32_t replication_factor = 1;        // kCreate
  std::vector<collection::AliasAction> aliases;  // kAliases
};
// Proposes `change`; `done` runs (on any thread) once this node applied it, or with the error.
using ProposeFn = std::function<void(CollectionChange change, std::chrono::milliseconds timeout,
                                     std::function<void(Status)> done)>;

// Where consensus placed a collection's replicas: shard id -> (peer id, replica state name).
using Placement = std::vector<std::pair<uint32_t, std::vector<std::pair<uint64_t, std::string>>>>;
using PlacementFn = std::function<std::optional<Placement>(const std::string& collection)>;

struct EngineContext {
  server::Loop* loop;
  server::WorkerPool* pool;
  collection::Collections* collections;
  ProposeFn propose;      // empty in standalone mode: changes apply locally
  uint64_t peer_id = 0;   // this node's id in cluster mode
  PlacementFn placement;  // empty in standalone mode: every shard is local and Active
};

void AddCollectionRoutes(Router& router, EngineContext context);
void AddPointRoutes(Router& router, EngineContext context);
void AddSnapshotRoutes(Router& router, EngineContext context, collection::Snapshots* snapshots);

}  // namespace qd::api::rest
