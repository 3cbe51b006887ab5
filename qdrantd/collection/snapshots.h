// Snapshots (compat.md §4.7): collection snapshots and full snapshots under
// storage.snapshots_path, and recovery of a collection from a snapshot file or URL.
//
// A collection snapshot is a tar archive (tar.h): `config.json` (the collection's config JSON)
// and `<shard>/points.db` per shard, each a consistent copy made with SQLite's VACUUM INTO
// (index files are not carried: recovery rebuilds them from points.db). Beside every snapshot
// lies `<name>.checksum`, the SHA-256 hex of its bytes. A full snapshot is a tar of one
// collection snapshot per collection plus `aliases.json`.
// Layout: <snapshots_path>/<collection>/<name>.snapshot, <snapshots_path>/<name>.snapshot,
// <snapshots_path>/<collection>/shards/<shard>/<name>.snapshot.
// Thread: any; each call does blocking file I/O (call it from the worker pool).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collections.h"
#include "qdrantd/collection/tar.h"

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
  // snapshots directory, or an http:// or https:// URL (https verified against the system's
  // CAs; SSL_CERT_FILE overrides them). Errors, in Qdrant's texts: 400 invalid URI / missing
  // file / download failure / checksum mismatch (nothing recovered), 403 outside the snapshots
  // directory.
  Status Recover(const std::string& collection, const std::string& location,
                 const std::optional<std::string>& checksum);
  // The same from a snapshot's bytes (REST's multipart upload), `shard` given for a shard
  // snapshot; the bytes are kept in the snapshots directory only while recovering.
  Status RecoverUpload(const std::string& collection, std::optional<uint32_t> shard,
                       std::string_view bytes, const std::optional<std::string>& checksum);

  // Shard snapshots (Qdrant's /collections/{c}/shards/{s}/snapshots): a tar of `config.json`
  // and this peer's replica's `points.db`, under <snapshots_path>/<collection>/shards/<shard>/.
  // Errors: kNotFound for an unknown collection, a shard it does not have, or one with no
  // replica on this peer.
  Result<SnapshotDescription> CreateShard(const std::string& collection, uint32_t shard);
  Result<std::vector<SnapshotDescription>> ListShard(const std::string& collection,
                                                     uint32_t shard) const;
  Status DeleteShard(const std::string& collection, uint32_t shard, const std::string& name);
  Result<std::string> ShardSnapshotPath(const std::string& collection, uint32_t shard,
                                        const std::string& name) const;
  // Replaces this peer's replica of `shard` with the shard snapshot at `location` (as Recover
  // takes it; Collection::RecoverLocalShard). Errors: Recover's; kNotFound as above;
  // kInvalidArgument for a snapshot that is not a shard snapshot or whose vectors differ from
  // the collection's; RecoverLocalShard's.
  Status RecoverShard(const std::string& collection, uint32_t shard, const std::string& location,
                      const std::optional<std::string>& checksum);

  Result<SnapshotDescription> CreateFull();
  Result<std::vector<SnapshotDescription>> ListFull() const;
  Status DeleteFull(const std::string& name);
  Result<std::string> FullSnapshotPath(const std::string& name) const;

 private:
  Result<SnapshotDescription> WriteCollectionSnapshot(const std::string& collection,
                                                      const std::string& dir);
  // A snapshot of `shards` of `c` in `dir`: `<shard>/points.db` each, or `points.db` alone for
  // a shard snapshot (`one_shard`), beside `config.json`.
  Result<SnapshotDescription> WriteSnapshot(const Collection& c,
                                            const std::vector<uint32_t>& shards, bool one_shard,
                                            const std::string& dir);
  // Tars `entries` into `dir`/<prefix>-<time>-<n>.snapshot with its .checksum beside it.
  Result<SnapshotDescription> Seal(const std::string& dir, const std::string& prefix,
                                   const std::vector<TarEntry>& entries);
  // The local file of a snapshot `location` (file:// checked, http(s):// downloaded into
  // `downloaded`, which the caller removes).
  Result<std::string> Fetch(const std::string& location, std::string& downloaded) const;
  Status RecoverFrom(const std::string& collection, std::optional<uint32_t> shard,
                     const std::string& location, const std::optional<std::string>& checksum);
  std::string ShardDir(const std::string& collection, uint32_t shard) const;
  Result<std::vector<SnapshotDescription>> List(const std::string& dir) const;
  Result<std::string> SnapshotPath(const std::string& dir, const std::string& name) const;

  Collections& collections_;
  const std::string snapshots_path_;
  const std::string storage_path_;
};

}  // namespace qd::collection
