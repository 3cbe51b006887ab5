// GET /metrics (Prometheus text format, Qdrant's metric names) and GET /telemetry (Qdrant's
// shape, for what qdrantd has). Both are built on the loop thread from the request cells
// (api/metrics/), the collections, and, in cluster mode, a ClusterMetrics the daemon reads
// from consensus on the loop.
// Thread: routes are added before the server starts; handlers run on the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qd::collection {
class Collections;
}
namespace qd::api::metrics {
class RestMetrics;
class GrpcMetrics;
}  // namespace qd::api::metrics

namespace qd::api::rest {

class Router;

// What consensus knows, as Qdrant's cluster_* metrics and our replica/transfer families need it.
struct ClusterMetrics {
  uint64_t peer_id = 0;
  uint64_t peers = 0;
  uint64_t term = 0;
  uint64_t commit = 0;
  uint64_t pending_operations = 0;
  bool voter = false;
  std::string role;
  struct Replica {
    std::string collection;
    uint32_t shard = 0;
    uint64_t peer = 0;
    std::string state;  // Active, Dead, Partial, ...
  };
  std::vector<Replica> replicas;
  struct Transfer {
    std::string collection;
    uint32_t shard = 0;
    uint64_t from = 0;
    uint64_t to = 0;
    std::string method;
  };
  std::vector<Transfer> transfers;
};

struct MetricsContext {
  collection::Collections* collections = nullptr;
  const metrics::RestMetrics* rest = nullptr;
  const metrics::GrpcMetrics* grpc = nullptr;  // null when gRPC is disabled
  // Cluster mode: called on the loop thread. Empty in standalone mode.
  std::function<ClusterMetrics()> cluster;
};

void AddMetricsRoutes(Router& router, MetricsContext context);

// The /metrics body (exposed for tests and benchmarks).
std::string RenderMetrics(const MetricsContext& context);

}  // namespace qd::api::rest
