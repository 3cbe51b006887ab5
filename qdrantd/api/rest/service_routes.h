// Routes of the service itself (compat.md §1.8, §3): GET /, /healthz, /livez, /readyz, and the
// standalone answers of /cluster. Collections, points and the cluster API add their own routes.
#pragma once

#include <functional>

namespace qd::api::rest {

class Router;

struct ServiceState {
  bool cluster_enabled = false;
  std::function<bool()> ready;  // /readyz: true once the node is ready (stays true)
};

void AddServiceRoutes(Router& router, ServiceState state);

}  // namespace qd::api::rest
