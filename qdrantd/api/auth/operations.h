// The one table of what every REST route and every public gRPC method needs (Need, Scope), so
// that which operations are reads is decided in one place and reviewed as a table. The listeners
// look a route or method up once and hand the Requirement to the Authenticator. The P2P
// service (6335) is not in it: peers do not use API keys (Qdrant secures that port with TLS).
// Thread: any (constant data).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qdrantd/api/auth/access.h"

namespace qd::api::auth {

// The requirement of a REST route, by its method and pattern as registered with the Router
// ("GET", "/collections/{collection_name}"); nullopt for a route the table lacks (the daemon
// then refuses to start: every route must be decided). Collection-scoped routes name their
// collection in the {collection_name} parameter.
std::optional<Requirement> RestRequirement(std::string_view method, std::string_view pattern);

// The requirement of a gRPC method by its full name without the leading slash
// ("qdrant.Points/Upsert"); nullopt for a method the table lacks (refused). Collection-scoped
// methods name their collection in the request's collection_name field.
std::optional<Requirement> GrpcRequirement(std::string_view method);

// Every gRPC method of the table (tests check the services against it).
std::vector<std::string> GrpcMethodsForTesting();

// Qdrant's HealthCheck and grpc.health.v1 stay open whatever the keys, like /healthz.
inline bool IsOpenGrpcMethod(std::string_view method) {
  return method == "qdrant.Qdrant/HealthCheck" || method == "grpc.health.v1.Health/Check";
}

}  // namespace qd::api::auth
