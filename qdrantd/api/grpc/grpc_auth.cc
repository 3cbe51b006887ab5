#include "qdrantd/api/grpc/grpc_auth.h"

#include <optional>

#include "qdrantd/api/auth/operations.h"

namespace qd::api::grpc {
namespace {

std::optional<std::string_view> Metadata(const ::grpc::CallbackServerContext& context,
                                         std::string_view key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(::grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return std::nullopt;
  return std::string_view(it->second.data(), it->second.size());
}

}  // namespace

auth::Credentials CredentialsOf(const ::grpc::CallbackServerContext& context) {
  return auth::Credentials{Metadata(context, "api-key"), Metadata(context, "authorization")};
}

bool MayRead(const auth::Authenticator* authenticator, const ::grpc::CallbackServerContext& context,
             std::string_view collection) {
  return authenticator == nullptr || authenticator->MayRead(CredentialsOf(context), collection);
}

Status AuthorizeCall(const auth::Authenticator& authenticator,
                     const ::grpc::CallbackServerContext& context, std::string_view method,
                     std::string_view collection) {
  std::optional<auth::Requirement> requirement = auth::GrpcRequirement(method);
  if (!requirement) {
    return Status::PermissionDenied("Forbidden: " + std::string(method) + " has no access rule");
  }
  return authenticator.Authorize(CredentialsOf(context), *requirement, collection);
}

}  // namespace qd::api::grpc
