// Operation: one change to the points of a shard, as it is written to the replica's WAL and
// applied to its segment. Operations are already *resolved*: filter-based deletes and payload
// changes carry the ids they hit, conditional upserts only the points that pass, so replaying a
// WAL gives the same state on every replica (compat.md §5.2).
//
// Wire format (Encode/Decode), little-endian, versioned by the first byte:
//   u8 version=1, u8 kind, then per kind: counts as varints, ids as (u8 tag, u64 | 16 bytes),
//   strings as varint length + bytes, dense vectors as varint dim + raw float32,
//   sparse as varint nnz + u32 indices + float32 values, payloads as compact JSON text.
// Thread: values; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/segment/point_id.h"

namespace qd::segment {

using OpNum = uint64_t;

struct Vector {
  bool sparse = false;
  std::vector<float> dense;
  std::vector<uint32_t> indices;  // sparse
  std::vector<float> values;      // sparse
};

// Vectors of one point by name; "" is the default (unnamed) vector.
using NamedVectors = std::vector<std::pair<std::string, Vector>>;

struct PointStruct {
  PointId id;
  NamedVectors vectors;
  std::string payload_json = "{}";  // a JSON object
};

enum class OpKind : uint8_t {
  kUpsert = 1,
  kDeletePoints = 2,
  kSetPayload = 3,
  kOverwritePayload = 4,
  kDeletePayload = 5,
  kClearPayload = 6,
  kUpdateVectors = 7,
  kDeleteVectors = 8,
  kCreateFieldIndex = 9,
  kDeleteFieldIndex = 10,
};

struct Operation {
  OpKind kind = OpKind::kUpsert;
  std::vector<PointStruct> points;  // kUpsert; kUpdateVectors (payload unused)
  std::vector<PointId> ids;         // delete, payload ops, kDeleteVectors
  std::string payload_json;         // kSetPayload, kOverwritePayload
  std::optional<std::string> key;   // kSetPayload: merge at this path
  std::vector<std::string> names;   // kDeletePayload keys; kDeleteVectors vector names
  std::string field_name;           // index ops
  std::string field_schema_json;    // kCreateFieldIndex

  // Every point id the operation may change (empty for index operations).
  std::vector<PointId> AffectedIds() const;
};

std::string Encode(const Operation& op);
// Errors: kInternal for a record that is not a valid encoding (a corrupt WAL).
Result<Operation> Decode(std::string_view bytes);

}  // namespace qd::segment
