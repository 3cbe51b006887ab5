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
#include "qdrantd/collection/collection_change.h"
#include "qdrantd/collection/collections.h"

namespace qd::server {
class Loop;
class WorkerPool;
}  // namespace qd::server
namespace qd::collection {
class Snapshots;
}  // namespace qd::collection
namespace qd::api::auth {
class Authenticator;
}  // namespace qd::api::auth

namespace qd::api::rest {

class Router;

// Cluster mode: collection changes go through consensus (collection/collection_change.h).
using ProposeFn = collection::ProposeFn;

using Placement = collection::Placement;
using PlacementFn = collection::PlacementFn;

struct EngineContext {
  server::Loop* loop;
  server::WorkerPool* pool;
  collection::Collections* collections;
  ProposeFn propose;      // empty in standalone mode: changes apply locally
  uint64_t peer_id = 0;   // this node's id in cluster mode
  PlacementFn placement;  // empty in standalone mode: every shard is local and Active
  collection::TransfersFn transfers;  // cluster mode: shard transfers in progress
  // API keys and JWTs; null or disabled: none. The router checks each route's own collection;
  // handlers check with it the other collections a request reads (a query's lookup_from).
  const auth::Authenticator* auth = nullptr;
};

void AddCollectionRoutes(Router& router, EngineContext context);
void AddPointRoutes(Router& router, EngineContext context);
void AddSnapshotRoutes(Router& router, EngineContext context, collection::Snapshots* snapshots);
// GET/DELETE /issues, GET /collections/{c}/optimizations (diagnostics_routes.cc).
void AddDiagnosticsRoutes(Router& router, EngineContext context);

}  // namespace qd::api::rest
