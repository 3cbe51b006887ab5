// CollectionConfig: a collection's configuration, kept as the JSON object that
// GET /collections/{name} reports under `config` (Qdrant's CollectionConfig: params,
// hnsw_config, optimizer_config, wal_config, quantization_config, strict_mode_config, metadata)
// plus what the engine derives from it. Keeping the JSON is what lets PATCH echo exactly what
// was set and leave absent what never was (compat.md §4.1). This is also the form the consensus
// issue will carry through Raft. Thread: values.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/strict_mode.h"
#include "qdrantd/segment/segment.h"

namespace qd::collection {

struct CollectionConfig {
  std::shared_ptr<const rapidjson::Document> json;  // the `config` object
  uint32_t shard_number = 1;
  uint32_t replication_factor = 1;
  uint32_t write_consistency_factor = 1;
  double deleted_threshold = 0.2;          // optimizer_config
  uint64_t vacuum_min_vector_number = 1000;  // optimizer_config
  uint64_t wal_capacity_mb = 32;             // wal_config: the WAL a shard keeps (wal_delta)
  bool unnamed_vector = false;  // `vectors` is a single VectorParams (name "")
  std::vector<segment::VectorSpec> vectors;
  // strict_mode_config, parsed; never null (disabled by default).
  std::shared_ptr<const StrictMode> strict_mode = std::make_shared<const StrictMode>();

  const segment::VectorSpec* FindVector(std::string_view name) const;
  std::string ToJson() const;
};

// From a CreateCollection body. Errors: kInvalidArgument (400: wrong types, unknown distance,
// missing size), kUnprocessable (422: values out of range), in Qdrant's texts.
Result<CollectionConfig> ParseCreateCollection(const rapidjson::Value& body);
// Applies an UpdateCollection (PATCH) body: returns the new config. Same errors.
Result<CollectionConfig> ApplyUpdate(const CollectionConfig& current, const rapidjson::Value& body);
// From the stored `config` JSON.
Result<CollectionConfig> FromConfigJson(std::string_view json);

}  // namespace qd::collection
