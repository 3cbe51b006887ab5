// JSON Web Tokens as Qdrant accepts them with service.jwt_rbac (Qdrant: JwtParser, Claims):
// compact JWS, HS256 only, signed with service.api_key. The claims, all optional:
//   exp           seconds since the epoch after which the token is refused (60 s of leeway,
//                 as jsonwebtoken's default, for clock skew)
//   access        "m" (manage: everything; the default), "r" (read anything), or a list of
//                 {"collection": name, "access": "r" | "rw"}
//   value_exists  {"collection", "matches": [{"key", "value"}]}: valid only while a point with
//                 that payload exists. Not implemented: such a token is refused (never accepted
//                 without the check its issuer asked for).
// Other claims (sub, iat, ...) are ignored. Pure functions; thread: any.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "libshared/status.h"
#include "qdrantd/api/auth/access.h"

namespace qd::api::auth {

// Whether `token` has the shape of a JWT (three base64url parts whose first is a JSON header).
// The caller tries a token as a JWT only if it is not one of the API keys.
bool LooksLikeJwt(std::string_view token);

// Verifies `token` against `secret` at `now_unix_seconds` and returns the access it grants.
// Errors, as Qdrant answers them: kUnauthenticated "Invalid API key or JWT" for a token that is
// not a well-formed HS256 JWT with valid claims; kPermissionDenied for a token with a bad
// signature (InvalidSignature), one that has expired (ExpiredSignature), or one that asks for
// value_exists.
Result<Access> VerifyJwt(std::string_view token, std::string_view secret, int64_t now_unix_seconds);

// Signs `claims_json` with HS256: what an operator's token issuer does (tests and docs use it).
std::string SignJwtForTesting(std::string_view claims_json, std::string_view secret);

}  // namespace qd::api::auth
