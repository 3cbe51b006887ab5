// PointId: a point's id as Qdrant defines it, an unsigned 64-bit integer or a UUID. UUIDs are
// accepted in any RFC 4122 text form and always printed hyphenated lowercase (compat.md §4.2).
// Order (scroll, tie-breaks): every numeric id before every UUID; numbers by value, UUIDs by
// bytes, which is Qdrant's order. Thread: any (a value type).
#pragma once

#include <rapidjson/document.h>

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "libshared/status.h"

namespace qd::segment {

struct PointId {
  bool is_uuid = false;
  uint64_t num = 0;                 // when !is_uuid
  std::array<uint8_t, 16> uuid{};   // when is_uuid

  static PointId Num(uint64_t n) { return PointId{false, n, {}}; }
  // Parses any UUID text form (hyphenated, simple, braced, urn:uuid:); fails with
  // kInvalidArgument naming the text.
  static Result<PointId> ParseUuid(std::string_view text);
  // From JSON: a non-negative integer or a UUID string. `field` names it in the error.
  static Result<PointId> FromJson(const rapidjson::Value& value, std::string_view field);

  std::string ToString() const;  // "42" or "550e8400-e29b-41d4-a716-446655440000"
  std::string ToJson() const;    // 42 or "550e8400-..." (quoted)
  // Stable across processes and versions: used to route a point to its shard.
  uint64_t StableHash() const;

  friend bool operator==(const PointId&, const PointId&) = default;
  friend std::strong_ordering operator<=>(const PointId& a, const PointId& b) {
    if (a.is_uuid != b.is_uuid) return a.is_uuid ? std::strong_ordering::greater
                                                : std::strong_ordering::less;
    if (!a.is_uuid) return a.num <=> b.num;
    return a.uuid <=> b.uuid;
  }
};

struct PointIdHash {
  size_t operator()(const PointId& id) const { return static_cast<size_t>(id.StableHash()); }
};

}  // namespace qd::segment
