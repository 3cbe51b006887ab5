// Authenticator: who is calling, from the credentials a REST request or gRPC call carries, and
// whether that caller may run an operation (Qdrant: AuthKeys). Built once from service.api_key,
// service.read_only_api_key and service.jwt_rbac; with neither key set it is disabled and every
// call passes, as in Qdrant.
//
// A credential is the `api-key` header (gRPC: metadata) or, failing that, the token of an
// `Authorization: Bearer <token>` header. It is compared with the full key, then the read-only
// key (each in constant time: both sides are hashed with SHA-256 and the digests compared with
// CRYPTO_memcmp, so neither content nor length leaks through timing), then, with jwt_rbac, read
// as a JWT signed with the full key (jwt.h). Keys and tokens are never logged.
// Immutable after construction (and SetAliasResolver at start); thread: any.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "libshared/status.h"
#include "qdrantd/api/auth/access.h"

namespace qd::api::auth {

struct Credentials {
  std::optional<std::string_view> api_key;        // the api-key header or metadata
  std::optional<std::string_view> authorization;  // the Authorization header or metadata
};

struct AuthOptions {
  std::optional<std::string> api_key;
  std::optional<std::string> read_only_api_key;
  bool jwt_rbac = false;
};

class Authenticator {
 public:
  explicit Authenticator(AuthOptions options);

  // False when no key is configured: nothing is checked.
  bool enabled() const { return enabled_; }

  // The access the credentials grant. Errors (Qdrant's words): kUnauthenticated "Must provide
  // an API key or an Authorization bearer token" when there is none, "Invalid API key or JWT"
  // when it matches nothing; kPermissionDenied for an expired or badly signed JWT.
  Result<Access> Authenticate(const Credentials& credentials) const;

  // Authenticate, then Access::Check for an operation on `collection`. OK when disabled or
  // when the operation is open. A collection named by one of its aliases is allowed when the
  // collection itself is (SetAliasResolver).
  Status Authorize(const Credentials& credentials, const Requirement& requirement,
                   std::string_view collection) const;
  // Whether the credentials may read `collection` (true when disabled): what the listings show.
  bool MayRead(const Credentials& credentials, std::string_view collection) const;

  // The collection an alias names (nullopt: not an alias, or unknown). Set once at start,
  // before requests are served.
  using AliasResolver = std::function<std::optional<std::string>(std::string_view name)>;
  void SetAliasResolver(AliasResolver resolver) { resolve_alias_ = std::move(resolver); }

 private:
  using Digest = std::array<unsigned char, 32>;
  bool enabled_ = false;
  std::optional<Digest> full_key_;
  std::optional<Digest> read_only_key_;
  std::optional<std::string> jwt_secret_;  // the full key, when jwt_rbac
  AliasResolver resolve_alias_;
};

}  // namespace qd::api::auth
