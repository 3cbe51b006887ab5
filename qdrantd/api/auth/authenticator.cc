#include "qdrantd/api/auth/authenticator.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <chrono>
#include <utility>

#include "qdrantd/api/auth/jwt.h"

namespace qd::api::auth {
namespace {

std::array<unsigned char, 32> Sha256(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

bool Matches(const std::optional<std::array<unsigned char, 32>>& key,
             const std::array<unsigned char, 32>& presented) {
  return key && CRYPTO_memcmp(key->data(), presented.data(), presented.size()) == 0;
}

// "Bearer <token>" (the scheme case-insensitively, as RFC 7235 has it).
std::optional<std::string_view> BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return std::nullopt;
  }
  return header.substr(kScheme.size());
}

}  // namespace

Authenticator::Authenticator(AuthOptions options) {
  if (options.api_key) full_key_ = Sha256(*options.api_key);
  if (options.read_only_api_key) read_only_key_ = Sha256(*options.read_only_api_key);
  if (options.jwt_rbac && options.api_key) jwt_secret_ = std::move(options.api_key);
  enabled_ = full_key_ || read_only_key_;
}

Result<Access> Authenticator::Authenticate(const Credentials& credentials) const {
  std::optional<std::string_view> key = credentials.api_key;
  if (!key && credentials.authorization) key = BearerToken(*credentials.authorization);
  if (!key) {
    return Status::Unauthenticated("Must provide an API key or an Authorization bearer token");
  }
  const std::array<unsigned char, 32> presented = Sha256(*key);
  if (Matches(full_key_, presented)) return Access::Manage();
  if (Matches(read_only_key_, presented)) return Access::ReadOnly();
  if (jwt_secret_ && LooksLikeJwt(*key)) {
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    return VerifyJwt(*key, *jwt_secret_, now);
  }
  return Status::Unauthenticated("Invalid API key or JWT");
}

Status Authenticator::Authorize(const Credentials& credentials, const Requirement& requirement,
                                std::string_view collection) const {
  if (!enabled_ || requirement.need == Need::kOpen) return Status::Ok();
  Result<Access> access = Authenticate(credentials);
  if (!access.ok()) return access.status();
  Status allowed = access->Check(requirement, collection);
  if (!allowed.ok() && requirement.scope == Scope::kCollection && resolve_alias_) {
    // A token for collection `books` may use `books` through its alias.
    std::optional<std::string> target = resolve_alias_(collection);
    if (target && *target != collection && access->Check(requirement, *target).ok()) {
      return Status::Ok();
    }
  }
  return allowed;
}

bool Authenticator::MayRead(const Credentials& credentials, std::string_view collection) const {
  return Authorize(credentials, Requirement{Need::kRead, Scope::kCollection}, collection).ok();
}

}  // namespace qd::api::auth
