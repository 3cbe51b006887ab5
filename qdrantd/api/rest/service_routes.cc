#include "qdrantd/api/rest/service_routes.h"

#include "libshared/version.h"
#include "qdrantd/api/rest/json.h"
#include "qdrantd/api/rest/router.h"

namespace qd::api::rest {

void AddServiceRoutes(Router& router, ServiceState state) {
  // Qdrant answers GET / with VersionInfo itself, not inside the result envelope.
  router.Add("GET", "/", [](Request&, Reply reply) {
    Response r;
    r.body = std::string("{\"title\":") + JsonQuote(version::kTitle) +
             ",\"version\":" + JsonQuote(version::kQdrantVersion) +
             ",\"commit\":" + JsonQuote(version::kCommit) + "}";
    reply.Send(std::move(r));
  });
  for (const char* path : {"/healthz", "/livez"}) {
    router.Add("GET", path, [](Request&, Reply reply) {
      reply.Send(TextResult("healthz check passed"));
    });
  }
  router.Add("GET", "/readyz", [ready = state.ready](Request&, Reply reply) {
    if (!ready || ready()) {
      reply.Send(TextResult("all shards are ready"));
      return;
    }
    Response r = TextResult("some shards are not ready");
    r.status = 503;
    reply.Send(std::move(r));
  });

  if (!state.cluster_enabled) {
    // Standalone mode (compat.md §1.8).
    router.Add("GET", "/cluster", [](Request& request, Reply reply) {
      reply.Send(JsonResult(request, R"({"status":"disabled"})"));
    });
    auto standalone = [](Request& request, Reply reply) {
      reply.Send(JsonError(request, Status::MethodNotAllowed(
                                        "Cluster operations are not available in standalone mode: "
                                        "start qdrantd with cluster.enabled=true")));
    };
    router.Add("POST", "/cluster/recover", standalone);
    router.Add("DELETE", "/cluster/peer/{peer_id}", standalone);
    router.Add("GET", "/cluster/rebalance", standalone);
    router.Add("POST", "/cluster/rebalance", standalone);
    router.Add("POST", "/cluster/peer/{peer_id}/drain", standalone);
    router.Add("DELETE", "/cluster/peer/{peer_id}/drain", standalone);
  }
}

}  // namespace qd::api::rest
