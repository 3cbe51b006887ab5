#include "qdrantd/segment/point_id.h"

#include <cctype>

namespace qd::segment {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// FNV-1a 64: tiny, stable, and good enough to spread ids over shards.
uint64_t Fnv1a(const uint8_t* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

Result<PointId> PointId::ParseUuid(std::string_view text) {
  std::string_view s = text;
  if (s.size() > 9 && (s.substr(0, 9) == "urn:uuid:" || s.substr(0, 9) == "URN:UUID:")) s.remove_prefix(9);
  if (s.size() >= 2 && s.front() == '{' && s.back() == '}') s = s.substr(1, s.size() - 2);
  PointId id;
  id.is_uuid = true;
  size_t nibbles = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '-') {
      // Hyphens only where the hyphenated form has them, or nowhere at all.
      if (!(nibbles == 8 || nibbles == 12 || nibbles == 16 || nibbles == 20)) nibbles = 99;
      continue;
    }
    int v = HexValue(c);
    if (v < 0 || nibbles >= 32) { nibbles = 99; break; }
    id.uuid[nibbles / 2] = static_cast<uint8_t>(id.uuid[nibbles / 2] | (nibbles % 2 ? v : v << 4));
    ++nibbles;
  }
  size_t hyphens = 0;
  for (char c : s) hyphens += c == '-';
  if (nibbles != 32 || (hyphens != 0 && hyphens != 4)) {
    return Status::InvalidArgument("Unable to parse UUID: " + std::string(text));
  }
  return id;
}

Result<PointId> PointId::FromJson(const rapidjson::Value& value, std::string_view field) {
  if (value.IsUint64()) return Num(value.GetUint64());
  if (value.IsString()) {
    Result<PointId> id = ParseUuid(std::string_view(value.GetString(), value.GetStringLength()));
    if (!id.ok()) {
      return Status::InvalidArgument(std::string(field) + ": " + id.status().message());
    }
    return id;
  }
  return Status::InvalidArgument(
      std::string(field) + ": invalid point id, expected an unsigned integer or a UUID string");
}

std::string PointId::ToString() const {
  if (!is_uuid) return std::to_string(num);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[uuid[i] >> 4]);
    out.push_back(kHex[uuid[i] & 15]);
  }
  return out;
}

std::string PointId::ToJson() const {
  return is_uuid ? "\"" + ToString() + "\"" : std::to_string(num);
}

uint64_t PointId::StableHash() const {
  if (is_uuid) return Fnv1a(uuid.data(), uuid.size());
  uint8_t bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(num >> (8 * i));
  return Fnv1a(bytes, 8);
}

}  // namespace qd::segment
