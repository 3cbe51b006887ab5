// A thin RAII layer over SQLite: one owner per sqlite3* and per sqlite3_stmt*, every failure
// turned into a Status that names the database file and SQLite's message.
// Thread: a Db is used by one thread at a time (the caller serialises, e.g. a replica's writer
// mutex); SQLite itself is built threadsafe, so different Db objects are independent. The
// second connection of a kBackground Db is used only by the checkpoint thread (sqlite.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "libshared/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace qd::sqlite {

class Stmt;

class Db {
 public:
  enum class Sync { kOff, kNormal, kFull };
  // Who copies the WAL back into the database file (a checkpoint):
  // - kInline: SQLite's default. The commit that takes the WAL past 1,000 pages checkpoints
  //   before it returns, which stretches that commit to 20-30 ms here.
  // - kBackground: for files on a write path that others wait for (a shard's wal.db and
  //   points.db). Past 1,000 pages a commit only asks; one process-wide thread checkpoints the
  //   file through a second connection of its own, PASSIVE, so it never blocks the writer. The
  //   WAL starts over at the first write after a checkpoint has caught up. Should that never
  //   happen, a commit past 8,000 pages checkpoints inline after all, so the WAL stays bounded.
  enum class Checkpoints { kInline, kBackground };
  static constexpr int kCheckpointPages = 1000;
  static constexpr int kInlineCheckpointPages = 8000;
  struct Background;  // opaque (sqlite.cc): the kBackground connection, shared with that thread

  // Opens (creating) `path` in WAL journal mode with the given synchronous level.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, Sync sync,
                                          Checkpoints checkpoints = Checkpoints::kInline);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  Result<Stmt> Prepare(std::string_view sql);
  int64_t Changes() const;
  const std::string& path() const { return path_; }
  sqlite3* raw() const { return db_; }
  Status Error(std::string_view what) const;  // kInternal "<path>: <what>: <sqlite message>"

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  static int OnCommit(void* self, sqlite3* db, const char* name, int pages);  // sqlite3_wal_hook
  sqlite3* db_;
  std::string path_;
  std::shared_ptr<Background> background_;  // null for kInline
};

// A prepared statement. Bind indexes are 1-based, column indexes 0-based (as in SQLite).
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  ~Stmt();

  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, std::string_view text);
  Stmt& BindBlob(int index, const void* data, size_t size);
  Stmt& BindNull(int index);

  // Advances: true when a row is available, false when done; errors as Status.
  Result<bool> Step();
  // Step() until done, then Reset().
  Status Run();
  void Reset();

  int64_t Int(int column) const;
  std::string_view Text(int column) const;
  std::string_view Blob(int column) const;
  bool IsNull(int column) const;

 private:
  friend class Db;
  Stmt(const Db* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  const Db* db_;
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed without Commit().
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) {}
  Status Begin() { return db_.Exec("BEGIN IMMEDIATE"); }
  Status Commit() {
    Status s = db_.Exec("COMMIT");
    if (s.ok()) done_ = true;
    return s;
  }
  ~Transaction() {
    if (!done_) (void)db_.Exec("ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace qd::sqlite
