#include "qdrantd/consensus/raft_store.h"

#include <string_view>

namespace qd::consensus {
namespace {

// One prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  void Bind(int i, uint64_t v) { sqlite3_bind_int64(stmt_, i, static_cast<sqlite3_int64>(v)); }
  void Bind(int i, std::string_view v) {
    sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT);
  }
  void BindText(int i, std::string_view v) {
    sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  int Step() { return sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  uint64_t U64(int col) { return static_cast<uint64_t>(sqlite3_column_int64(stmt_, col)); }
  std::string Blob(int col) {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

}  // namespace

Result<std::unique_ptr<RaftStore>> RaftStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Internal("cannot open " + path + ": " + msg);
  }
  std::unique_ptr<RaftStore> store(new RaftStore(db));
  sqlite3_busy_timeout(db, 10000);
  for (const char* sql : {
           "PRAGMA journal_mode=WAL",
           "PRAGMA synchronous=FULL",
           // Debian's SQLite zeroes every freed page (secure_delete on): log truncations and
           // snapshot replacements would write what they drop again. See libshared/sqlite.cc.
           "PRAGMA secure_delete=FAST",
           "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB)",
           "CREATE TABLE IF NOT EXISTS log(idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, "
           "type INTEGER NOT NULL, data BLOB)",
           "CREATE TABLE IF NOT EXISTS snapshot(id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER, "
           "term INTEGER, conf BLOB, conf_index INTEGER, data BLOB)",
       }) {
    if (Status s = store->Exec(sql); !s.ok()) return s.WithContext(path);
  }
  return store;
}

RaftStore::~RaftStore() { sqlite3_close(db_); }

Status RaftStore::SqliteError(const char* what) {
  return Status::Internal(std::string("raft.db: ") + what + ": " + sqlite3_errmsg(db_));
}

Status RaftStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::Internal(std::string("raft.db: ") + sql + ": " + msg);
  }
  return Status::Ok();
}

Result<std::optional<std::string>> RaftStore::GetMeta(const std::string& key) {
  Stmt s(db_, "SELECT value FROM meta WHERE key = ?");
  if (!s.ok()) return SqliteError("select meta");
  s.BindText(1, key);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(s.Blob(0));
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return SqliteError("select meta");
}

Status RaftStore::SetMeta(const std::string& key, const std::string& value) {
  Stmt s(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
  if (!s.ok()) return SqliteError("insert meta");
  s.BindText(1, key);
  s.Bind(2, std::string_view(value));
  if (s.Step() != SQLITE_DONE) return SqliteError("insert meta");
  return Status::Ok();
}

Result<std::optional<uint64_t>> RaftStore::GetMetaU64(const std::string& key) {
  auto v = GetMeta(key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<uint64_t>();
  return std::optional<uint64_t>(std::stoull(**v));
}

Status RaftStore::SetMetaU64(const std::string& key, uint64_t value) {
  return SetMeta(key, std::to_string(value));
}

Status RaftStore::SetTerm(uint64_t term) {
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  Status s = SetMetaU64("term", term);
  if (s.ok()) s = SetMetaU64("vote", 0);
  if (!s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  return Exec("COMMIT");
}

Status RaftStore::SetVote(uint64_t vote) { return SetMetaU64("vote", vote); }

Status RaftStore::Append(const std::vector<StoredEntry>& entries) {
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  {
    Stmt s(db_, "INSERT OR REPLACE INTO log(idx, term, type, data) VALUES (?, ?, ?, ?)");
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return SqliteError("insert log");
    }
    for (const StoredEntry& e : entries) {
      s.Bind(1, e.index);
      s.Bind(2, e.term);
      s.Bind(3, uint64_t{e.type});
      s.Bind(4, std::string_view(e.data));
      if (s.Step() != SQLITE_DONE) {
        Status err = SqliteError("insert log");
        s.Reset();
        (void)Exec("ROLLBACK");
        return err;
      }
      s.Reset();
    }
  }
  return Exec("COMMIT");
}

Status RaftStore::TruncateFrom(uint64_t index) {
  Stmt s(db_, "DELETE FROM log WHERE idx >= ?");
  if (!s.ok()) return SqliteError("truncate log");
  s.Bind(1, index);
  if (s.Step() != SQLITE_DONE) return SqliteError("truncate log");
  return Status::Ok();
}

Status RaftStore::PutSnapshot(const StoredSnapshot& snap, unsigned trailing) {
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  Status result;
  {
    Stmt s(db_,
           "INSERT OR REPLACE INTO snapshot(id, idx, term, conf, conf_index, data) "
           "VALUES (1, ?, ?, ?, ?, ?)");
    if (s.ok()) {
      s.Bind(1, snap.index);
      s.Bind(2, snap.term);
      s.Bind(3, std::string_view(snap.conf));
      s.Bind(4, snap.conf_index);
      s.Bind(5, std::string_view(snap.data));
    }
    if (!s.ok() || s.Step() != SQLITE_DONE) result = SqliteError("insert snapshot");
  }
  if (result.ok()) {
    Stmt d(db_, trailing == 0 ? "DELETE FROM log" : "DELETE FROM log WHERE idx <= ?");
    if (trailing != 0) d.Bind(1, snap.index > trailing ? snap.index - trailing : 0);
    if (!d.ok() || d.Step() != SQLITE_DONE) result = SqliteError("compact log");
  }
  if (!result.ok()) {
    (void)Exec("ROLLBACK");
    return result;
  }
  return Exec("COMMIT");
}

Result<std::optional<StoredSnapshot>> RaftStore::LoadSnapshot() {
  Stmt s(db_, "SELECT idx, term, conf, conf_index, data FROM snapshot WHERE id = 1");
  if (!s.ok()) return SqliteError("select snapshot");
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<StoredSnapshot>();
  if (rc != SQLITE_ROW) return SqliteError("select snapshot");
  StoredSnapshot snap;
  snap.index = s.U64(0);
  snap.term = s.U64(1);
  snap.conf = s.Blob(2);
  snap.conf_index = s.U64(3);
  snap.data = s.Blob(4);
  return std::optional<StoredSnapshot>(std::move(snap));
}

Result<std::vector<StoredEntry>> RaftStore::LoadEntries() {
  Stmt s(db_, "SELECT idx, term, type, data FROM log ORDER BY idx");
  if (!s.ok()) return SqliteError("select log");
  std::vector<StoredEntry> entries;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    StoredEntry e;
    e.index = s.U64(0);
    e.term = s.U64(1);
    e.type = static_cast<uint16_t>(s.U64(2));
    e.data = s.Blob(3);
    if (!entries.empty() && e.index != entries.back().index + 1) {
      return Status::Internal("raft.db: log has a gap before index " + std::to_string(e.index));
    }
    entries.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return SqliteError("select log");
  return entries;
}

Result<bool> RaftStore::HasRaftState() {
  auto term = GetMetaU64("term");
  if (!term.ok()) return term.status();
  if (term->value_or(0) != 0) return true;
  Stmt s(db_, "SELECT (SELECT COUNT(*) FROM log) + (SELECT COUNT(*) FROM snapshot)");
  if (!s.ok() || s.Step() != SQLITE_ROW) return SqliteError("count state");
  return s.U64(0) != 0;
}

Status RaftStore::ResetRaftState() {
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  Status s = Exec("DELETE FROM log");
  if (s.ok()) s = Exec("DELETE FROM snapshot");
  if (s.ok()) s = Exec("DELETE FROM meta WHERE key IN ('term', 'vote', 'joined')");
  if (!s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  return Exec("COMMIT");
}

}  // namespace qd::consensus
