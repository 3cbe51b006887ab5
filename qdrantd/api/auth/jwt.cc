#include "qdrantd/api/auth/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace qd::api::auth {
namespace {

constexpr int64_t kLeewaySeconds = 60;

Status Invalid() { return Status::Unauthenticated("Invalid API key or JWT"); }

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// RFC 7515 base64url without padding.
std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int v = Base64UrlValue(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

std::string Base64UrlEncode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : data) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> count) & 0x3f];
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 0x3f];
  return out;
}

std::array<unsigned char, 32> HmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, 32> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &length);
  return mac;
}

struct Parts {
  std::string_view header, payload, signature;
};

std::optional<Parts> Split(std::string_view token) {
  size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return Parts{token.substr(0, first), token.substr(first + 1, second - first - 1),
               token.substr(second + 1)};
}

std::optional<rapidjson::Document> ParseObject(std::string_view base64url) {
  std::optional<std::string> json = Base64UrlDecode(base64url);
  if (!json) return std::nullopt;
  rapidjson::Document doc;
  doc.Parse(json->data(), json->size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  return doc;
}

// The "access" claim; absent means manage (Qdrant's default_access).
std::optional<Access> ParseAccess(const rapidjson::Document& claims) {
  auto it = claims.FindMember("access");
  if (it == claims.MemberEnd()) return Access::Manage();
  const rapidjson::Value& access = it->value;
  if (access.IsString()) {
    std::string_view mode(access.GetString(), access.GetStringLength());
    if (mode == "m") return Access::Manage();
    if (mode == "r") return Access::ReadOnly();
    return std::nullopt;
  }
  if (!access.IsArray()) return std::nullopt;
  std::vector<CollectionGrant> grants;
  for (const rapidjson::Value& entry : access.GetArray()) {
    if (!entry.IsObject()) return std::nullopt;
    auto name = entry.FindMember("collection");
    auto mode = entry.FindMember("access");
    if (name == entry.MemberEnd() || !name->value.IsString() || mode == entry.MemberEnd() ||
        !mode->value.IsString()) {
      return std::nullopt;
    }
    std::string_view m(mode->value.GetString(), mode->value.GetStringLength());
    CollectionGrant grant{std::string(name->value.GetString(), name->value.GetStringLength())};
    if (m == "r") {
      grant.mode = CollectionMode::kRead;
    } else if (m == "rw") {
      grant.mode = CollectionMode::kReadWrite;
    } else {
      return std::nullopt;
    }
    grants.push_back(std::move(grant));
  }
  return Access::Collections(std::move(grants));
}

}  // namespace

bool LooksLikeJwt(std::string_view token) {
  std::optional<Parts> parts = Split(token);
  return parts && ParseObject(parts->header).has_value();
}

Result<Access> VerifyJwt(std::string_view token, std::string_view secret, int64_t now) {
  std::optional<Parts> parts = Split(token);
  if (!parts) return Invalid();
  std::optional<rapidjson::Document> header = ParseObject(parts->header);
  if (!header) return Invalid();
  auto alg = header->FindMember("alg");
  // Only HS256: never "none", and never an algorithm an attacker picks.
  if (alg == header->MemberEnd() || !alg->value.IsString() ||
      std::string_view(alg->value.GetString()) != "HS256") {
    return Invalid();
  }
  std::optional<std::string> signature = Base64UrlDecode(parts->signature);
  if (!signature) return Invalid();
  const std::string_view signed_part =
      token.substr(0, parts->header.size() + 1 + parts->payload.size());
  const std::array<unsigned char, 32> expected = HmacSha256(secret, signed_part);
  if (signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return Status::PermissionDenied(
        "Forbidden: the JWT's signature is not valid (InvalidSignature)");
  }
  std::optional<rapidjson::Document> claims = ParseObject(parts->payload);
  if (!claims) return Invalid();
  if (auto exp = claims->FindMember("exp"); exp != claims->MemberEnd()) {
    if (!exp->value.IsNumber()) return Invalid();
    if (exp->value.GetDouble() + static_cast<double>(kLeewaySeconds) < static_cast<double>(now)) {
      return Status::PermissionDenied("Forbidden: the JWT has expired (ExpiredSignature)");
    }
  }
  std::optional<Access> access = ParseAccess(*claims);
  if (!access) return Invalid();
  if (claims->HasMember("value_exists")) {
    return Status::PermissionDenied(
        "Forbidden: the JWT claim value_exists is not supported by this server");
  }
  return std::move(*access);
}

std::string SignJwtForTesting(std::string_view claims_json, std::string_view secret) {
  std::string token =
      Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." + Base64UrlEncode(claims_json);
  const std::array<unsigned char, 32> mac = HmacSha256(secret, token);
  token += "." +
           Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return token;
}

}  // namespace qd::api::auth
