// The data API over REST (compat.md §4): collections, aliases, points, search and query.
// Handlers parse and validate on the worker pool (bodies can be 32 MB), call the engine
// (collection/), serialise there too, and answer back on the loop. No logic beyond mapping.
// Thread: routes are added before the server starts; handlers run on the loop and the pool.
#pragma once

namespace qd::server {
class Loop;
class WorkerPool;
}  // namespace qd::server
namespace qd::collection {
class Collections;
class Snapshots;
}  // namespace qd::collection

namespace qd::api::rest {

class Router;

struct EngineContext {
  server::Loop* loop;
  server::WorkerPool* pool;
  collection::Collections* collections;
};

void AddCollectionRoutes(Router& router, EngineContext context);
void AddPointRoutes(Router& router, EngineContext context);
void AddSnapshotRoutes(Router& router, EngineContext context, collection::Snapshots* snapshots);

}  // namespace qd::api::rest
