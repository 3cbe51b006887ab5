#include "libshared/sqlite.h"

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "libshared/log.h"

namespace qd::sqlite {

struct Db::Background {
  std::mutex mu;            // held while checkpointing
  sqlite3* conn = nullptr;  // Protected by mu; null once the Db is gone
  std::atomic<bool> queued{false};
  std::string path;
};

namespace {

// The one thread that checkpoints kBackground files, started on first use and never stopped
// (it sleeps when there is nothing to do; a Db takes its connection back under Background::mu).
class Checkpointer {
 public:
  static Checkpointer& Get() {
    static Checkpointer* instance = new Checkpointer;  // never destroyed: its thread outlives exit
    return *instance;
  }

  void Request(const std::shared_ptr<Db::Background>& file) {
    if (file->queued.exchange(true)) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(file);
      if (!started_) {
        started_ = true;
        std::thread([this] { Run(); }).detach();
      }
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    for (;;) {
      std::shared_ptr<Db::Background> file;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !queue_.empty(); });
        file = std::move(queue_.front());
        queue_.pop_front();
      }
      // Commits from now on ask again: this checkpoint only copies the frames committed so far.
      file->queued = false;
      std::lock_guard<std::mutex> lock(file->mu);
      if (!file->conn) continue;
      int rc = sqlite3_wal_checkpoint_v2(file->conn, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                         nullptr);
      // BUSY: another checkpoint of the file is running; the next commit asks again.
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        QD_LOG_WARN(file->path + ": background checkpoint failed: " + sqlite3_errmsg(file->conn));
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Db::Background>> queue_;  // Protected by mu_
  bool started_ = false;                               // Protected by mu_
};

const char* SyncPragma(Db::Sync sync) {
  return sync == Db::Sync::kFull ? "FULL" : sync == Db::Sync::kNormal ? "NORMAL" : "OFF";
}

Status ExecOn(sqlite3* db, const std::string& path, std::string_view sql) {
  char* err = nullptr;
  std::string text(sql);
  if (sqlite3_exec(db, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::Internal(path + ": " + message + " (in: " + text.substr(0, 60) + ")");
  }
  return Status::Ok();
}

Result<sqlite3*> OpenConnection(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return Status::Internal("cannot open " + path + ": " + message);
  }
  return raw;
}

}  // namespace

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, Sync sync, Checkpoints checkpoints) {
  Result<sqlite3*> raw = OpenConnection(path);
  if (!raw.ok()) return raw.status();
  std::unique_ptr<Db> db(new Db(*raw, path));
  sqlite3_busy_timeout(*raw, 5000);
  // A small page cache: these files are written far more than read (points live in memory).
  // secure_delete=FAST: Debian builds SQLite with secure_delete on, which writes zeros over
  // every page a delete frees. Trimming a shard's WAL of the ops its checkpoint covers then
  // wrote their whole size again (160 MB of zeros into wal.db's WAL after a 300k-point load).
  // FAST still clears deleted content inside the pages a change writes anyway.
  Status s = db->Exec(std::string("PRAGMA journal_mode=WAL; PRAGMA cache_size=-512; "
                                  "PRAGMA secure_delete=FAST; PRAGMA synchronous=") +
                      SyncPragma(sync) + ";");
  if (!s.ok()) return s;
  if (checkpoints == Checkpoints::kInline) return db;

  // The checkpoint connection opens the file, its WAL and shared memory now, by this path: a
  // collection's directory may be moved aside later, and a new one made under the old name.
  Result<sqlite3*> conn = OpenConnection(path);
  if (!conn.ok()) return conn.status();
  db->background_ = std::make_shared<Background>();
  db->background_->conn = *conn;
  db->background_->path = path;
  s = ExecOn(*conn, path,
             std::string("PRAGMA synchronous=") + SyncPragma(sync) +
                 "; PRAGMA cache_size=-64; SELECT count(*) FROM sqlite_master;");
  if (!s.ok()) return s;
  sqlite3_wal_autocheckpoint(*raw, 0);
  sqlite3_wal_hook(*raw, &Db::OnCommit, db.get());
  return db;
}

int Db::OnCommit(void* self, sqlite3* db, const char* /*name*/, int pages) {
  auto* me = static_cast<Db*>(self);
  if (pages >= kInlineCheckpointPages) {
    // The WAL only starts over when a checkpoint has caught up before a write begins, which a
    // writer committing back to back may never let the thread do. This one has caught up when it
    // returns (nothing else writes), so the next write starts over. Waits for the thread's run.
    std::lock_guard<std::mutex> lock(me->background_->mu);
    int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      QD_LOG_WARN(me->path_ + ": checkpoint failed: " + sqlite3_errmsg(db));
    }
  } else if (pages >= kCheckpointPages) {
    Checkpointer::Get().Request(me->background_);
  }
  return SQLITE_OK;
}

Db::~Db() {
  if (background_) {
    std::lock_guard<std::mutex> lock(background_->mu);
    sqlite3_close_v2(background_->conn);
    background_->conn = nullptr;
  }
  sqlite3_close_v2(db_);  // the last connection: it checkpoints and removes the WAL
}

Status Db::Error(std::string_view what) const {
  return Status::Internal(path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

Status Db::Exec(std::string_view sql) { return ExecOn(db_, path_, sql); }

Result<Stmt> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return Error("prepare " + std::string(sql.substr(0, 60)));
  }
  return Stmt(this, stmt);
}

int64_t Db::Changes() const { return sqlite3_changes64(db_); }

Stmt::Stmt(Stmt&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Stmt& Stmt::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Stmt& Stmt::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindBlob(int index, const void* data, size_t size) {
  sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error("step");
}

Status Stmt::Run() {
  for (;;) {
    Result<bool> row = Step();
    if (!row.ok()) {
      Reset();
      return row.status();
    }
    if (!*row) break;
  }
  Reset();
  return Status::Ok();
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::Int(int column) const { return sqlite3_column_int64(stmt_, column); }
std::string_view Stmt::Text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  return p ? std::string_view(reinterpret_cast<const char*>(p),
                              static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
           : std::string_view();
}
std::string_view Stmt::Blob(int column) const {
  const void* p = sqlite3_column_blob(stmt_, column);
  return p ? std::string_view(static_cast<const char*>(p),
                              static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
           : std::string_view();
}
bool Stmt::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

}  // namespace qd::sqlite
