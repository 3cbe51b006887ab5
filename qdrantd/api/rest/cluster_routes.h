// REST routes of cluster mode (compat.md §6.1, §6.4, §6.7): GET /cluster, POST /cluster/recover,
// GET+POST /cluster/rebalance, POST+DELETE /cluster/peer/{peer_id}/drain (beyond Qdrant),
// DELETE /cluster/peer/{peer_id}, and the cluster metadata keys. Handlers parse, call the
// ClusterNode on the loop, and answer; consensus waits never block the loop (the reply is sent
// from the proposal's callback). Standalone mode keeps service_routes.cc's answers.
#pragma once

#include <functional>

#include "libshared/status.h"

namespace qd::server {
class Loop;
class OnLoop;
}
namespace qd::cluster {
class ClusterNode;
}

namespace qd::api::rest {

class Router;

// POST /cluster/recover: re-runs the reconciler on the full current state; `done` with its result.
using RecoverFn = std::function<void(server::OnLoop, std::function<void(Status)> done)>;

void AddClusterRoutes(Router& router, server::Loop& loop, cluster::ClusterNode& node, RecoverFn recover);

}  // namespace qd::api::rest
