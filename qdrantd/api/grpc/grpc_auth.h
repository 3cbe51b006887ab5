// API keys and JWTs on the public gRPC services: each method handler first asks Refused()
// whether the call's `api-key` (or `authorization: Bearer`) metadata allows it, by the method's
// row in auth/operations.cc. Only gRPC code includes this header. Thread: gRPC's threads.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string_view>

#include "libshared/status.h"
#include "qdrantd/api/auth/authenticator.h"
#include "qdrantd/api/grpc/grpc_call.h"

namespace qd::api::grpc {

// The call's `api-key` and `authorization` metadata (valid while the call runs).
auth::Credentials CredentialsOf(const ::grpc::CallbackServerContext& context);
// Whether the caller may read `collection` (listings show only those); true without keys.
bool MayRead(const auth::Authenticator* authenticator, const ::grpc::CallbackServerContext& context,
             std::string_view collection);

// Whether the credentials of `context` allow `method` ("qdrant.Points/Upsert") on `collection`.
// Errors: kUnauthenticated, kPermissionDenied (also for a method without an access rule).
Status AuthorizeCall(const auth::Authenticator& authenticator,
                     const ::grpc::CallbackServerContext& context, std::string_view method,
                     std::string_view collection);

// Null when the call may run (or no key is configured); otherwise the reactor that already
// answered it UNAUTHENTICATED or PERMISSION_DENIED. The collection is the request's
// collection_name when it has one.
template <typename Request>
::grpc::ServerUnaryReactor* Refused(const auth::Authenticator* authenticator,
                                    ::grpc::CallbackServerContext* context, std::string_view method,
                                    const Request& request) {
  if (authenticator == nullptr || !authenticator->enabled()) return nullptr;
  std::string_view collection;
  if constexpr (requires { request.collection_name(); }) collection = request.collection_name();
  Status allowed = AuthorizeCall(*authenticator, *context, method, collection);
  if (allowed.ok()) return nullptr;
  return Answer(context, ToGrpcStatus(allowed));
}

}  // namespace qd::api::grpc
