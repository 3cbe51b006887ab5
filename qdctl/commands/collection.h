// qdctl collection create|list|info|update|delete: Qdrant's Collections service
// (proto/collections_service.proto) through libshared's client, so they work against a real
// Qdrant too. What the commands parse and print is declared here for the unit tests.
// Thread: main thread only.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libshared/client.h"
#include "libshared/status.h"
#include "qdctl/context.h"
#include "qdctl/output.h"

namespace qd::qdctl {

void RegisterCollection(CLI::App& app, Context& context);  // qdctl collection ...

// `qdctl collection create NAME --size N --distance D [...]` as parsed; nullopt: not given.
struct CollectionCreateFlags {
  std::string name;
  uint64_t size = 0;
  std::string distance;
  std::optional<uint32_t> shard_number;
  std::optional<uint32_t> replication_factor;
  std::optional<uint32_t> write_consistency_factor;
  std::optional<bool> on_disk_payload;
  std::optional<uint64_t> hnsw_m;
  std::optional<uint64_t> hnsw_ef_construct;
};

// `qdctl collection update NAME [...]` as parsed: the settings to change; nullopt: unchanged.
struct CollectionUpdateFlags {
  std::string name;
  std::optional<uint32_t> replication_factor;
  std::optional<uint32_t> write_consistency_factor;
  std::optional<bool> on_disk_payload;
  std::optional<uint64_t> hnsw_m;
  std::optional<uint64_t> hnsw_ef_construct;
};
void AddCollectionUpdateFlags(CLI::App& command, CollectionUpdateFlags& flags);
// The request the flags ask for. Errors: kInvalidArgument (a usage error) when none is given.
Result<client::CollectionUpdate> CollectionUpdateRequest(const CollectionUpdateFlags& flags);
// What update prints: the name, "updated", and each setting (null where left as it was).
Record CollectionUpdatedRecord(const client::CollectionUpdate& request);

// Adds create's NAME argument and flags to `command`; parsing fills `flags`, which must outlive
// the parse. Numbers out of range are usage errors in CLI11's parse.
void AddCollectionCreateFlags(CLI::App& command, CollectionCreateFlags& flags);

// The request the flags ask for. Errors: kInvalidArgument (a usage error) for an unknown
// distance.
Result<client::CollectionCreate> CollectionCreateRequest(const CollectionCreateFlags& flags);

// What each command prints (through Context::Print / PrintList): create echoes the request
// (null where the server's default applies), list one row per name, info the collection.
Record CollectionCreatedRecord(const client::CollectionCreate& request);
std::vector<Record> CollectionListRows(const std::vector<std::string>& names);
Record CollectionInfoRecord(const client::CollectionInfo& info);
Record CollectionDeletedRecord(const std::string& name);

}  // namespace qd::qdctl
