// RaftStore: raft.db, the SQLite file under storage.storage_path that holds this peer's
// identity, libraft's persistent state (term, vote), its log and its latest snapshot.
//
// Schema (WAL journal, synchronous=FULL, so a commit is durable when it returns):
//   meta(key TEXT PRIMARY KEY, value BLOB)   peer_id, uri, joined, term, vote
//   log(idx INTEGER PRIMARY KEY, term INTEGER, type INTEGER, data BLOB)
//   snapshot(id INTEGER PRIMARY KEY CHECK (id = 1), idx, term, conf BLOB, conf_index, data BLOB)
// The log holds a contiguous range of indexes; the snapshot, when present, covers everything up
// to snapshot.idx (entries at or below it may remain as trailing entries).
// Thread: one RaftStore per thread. RaftIo opens two on the same file: one on the loop for the
// synchronous term/vote/bootstrap writes, one on its worker for appends and snapshots; SQLite's
// busy timeout serialises their commits.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libshared/status.h"

namespace qd::consensus {

struct StoredEntry {
  uint64_t index = 0;
  uint64_t term = 0;
  uint16_t type = 0;
  std::string data;
};

struct StoredSnapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  std::string conf;  // EncodeConfiguration
  uint64_t conf_index = 0;
  std::string data;  // the FSM's bytes
};

class RaftStore {
 public:
  // Opens (creating if needed) the database at `path`. Errors: kInternal.
  static Result<std::unique_ptr<RaftStore>> Open(const std::string& path);
  ~RaftStore();

  Result<std::optional<std::string>> GetMeta(const std::string& key);
  Status SetMeta(const std::string& key, const std::string& value);
  Result<std::optional<uint64_t>> GetMetaU64(const std::string& key);
  Status SetMetaU64(const std::string& key, uint64_t value);

  // term := term, vote := 0, in one transaction.
  Status SetTerm(uint64_t term);
  Status SetVote(uint64_t vote);

  // Writes `entries` (consecutive indexes) in one transaction, replacing any at those indexes.
  Status Append(const std::vector<StoredEntry>& entries);
  // Deletes every entry with index >= `index`.
  Status TruncateFrom(uint64_t index);
  // Stores the snapshot and deletes entries with index <= snapshot.index - trailing (all of
  // them when trailing is 0), in one transaction.
  Status PutSnapshot(const StoredSnapshot& snapshot, unsigned trailing);
  Result<std::optional<StoredSnapshot>> LoadSnapshot();
  Result<std::vector<StoredEntry>> LoadEntries();
  // True when there is any term, log or snapshot: bootstrap must then refuse.
  Result<bool> HasRaftState();
  // --reinit: forgets term, vote, log, snapshot and the joined flag; keeps peer_id and uri.
  Status ResetRaftState();

 private:
  explicit RaftStore(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  Status SqliteError(const char* what);

  sqlite3* db_;
};

}  // namespace qd::consensus
