// Snapshots (compat.md §4.7): collection snapshots and full snapshots under
// storage.snapshots_path, and recovery of a collection from a snapshot file or URL.
//
// A collection snapshot is a tar archive (tar.h): `config.json` (the collection's config JSON)
// and `<shard>/points.db` per shard, each a consistent copy made with SQLite's VACUUM INTO
// (index files are not carried: recovery rebuilds them from points.db). Beside every snapshot
// lies `<name>.checksum`, the SHA-256 hex of its bytes. A full snapshot is a tar of one
// collection snapshot per collection plus `aliases.json`.
// Layout: <snapshots_path>/<collection>/<name>.snapshot, <snapshots_path>/<name>.snapshot.
// Thread: any; each call does blocking file I/O (call it from the worker pool).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collections.h"

namespace qd::collection {

struct SnapshotDescription {
  std::string name;
  std::string creation_time;  // UTC, "2026-11-27T06:30:00"
  uint64_t size = 0;
  std::string checksum;       // SHA-256 hex
};

class Snapshots {
 public:
  Snapshots(Collections& collections, std::string snapshots_path, std::string storage_path);

  // Errors: kNotFound (unknown collection), kInternal (I/O).
  Result<SnapshotDescription> CreateCollection(const std::string& collection);
  Result<std::vector<SnapshotDescription>> ListCollection(const std::string& collection) const;
  // Errors: kNotFound for unknown names (and for names that try to leave the directory).
  Status DeleteCollection(const std::string& collection, const std::string& name);
  Result<std::string> CollectionSnapshotPath(const std::string& collection, const std::string& name) const;

  // Recovers (creates or replaces) `collection` from `location`: `file:///abs/path` inside the
  // snapshots directory, or an http(s) URL on localhost. Errors, in Qdrant's texts: 400 invalid
  // URI / missing file / checksum mismatch, 403 outside the snapshots directory.
  Status Recover(const std::string& collection, const std::string& location,
                 const std::optional<std::string>& checksum);

  Result<SnapshotDescription> CreateFull();
  Result<std::vector<SnapshotDescription>> ListFull() const;
  Status DeleteFull(const std::string& name);
  Result<std::string> FullSnapshotPath(const std::string& name) const;

 private:
  Result<SnapshotDescription> WriteCollectionSnapshot(const std::string& collection,
                                                      const std::string& dir);
  Result<std::vector<SnapshotDescription>> List(const std::string& dir) const;
  Result<std::string> SnapshotPath(const std::string& dir, const std::string& name) const;

  Collections& collections_;
  const std::string snapshots_path_;
  const std::string storage_path_;
};

}  // namespace qd::collection
