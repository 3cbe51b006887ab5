#include "qdrantd/replica/local_replica.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <unordered_set>

#include "libshared/log.h"
#include "libshared/sqlite.h"

namespace qd::replica {

using segment::OpNum;
using segment::Operation;

LocalReplica::LocalReplica(std::string dir, std::unique_ptr<sqlite::Db> wal,
                           std::unique_ptr<segment::Segment> segment)
    : dir_(std::move(dir)), wal_(std::move(wal)), segment_(std::move(segment)) {}

LocalReplica::~LocalReplica() {
  {
    std::lock_guard<std::mutex> lock(optimizer_mu_);
    if (optimizer_.joinable()) optimizer_.join();
  }
  Status s = Flush();
  if (!s.ok()) QD_LOG_WARN("replica " + dir_ + ": " + s.message());
}

Result<std::unique_ptr<LocalReplica>> LocalReplica::Open(const std::string& dir,
                                                         std::vector<segment::VectorSpec> vectors,
                                                         Options options) {
  Result<std::unique_ptr<segment::Segment>> seg = segment::Segment::Open(dir, std::move(vectors));
  if (!seg.ok()) return seg.status();
  // Background checkpoints: an inline one stretched a WAL append, and the writers queued behind
  // it, to 20-30 ms.
  Result<std::unique_ptr<sqlite::Db>> wal = sqlite::Db::Open(
      dir + "/wal.db", sqlite::Db::Sync::kFull, sqlite::Db::Checkpoints::kBackground);
  if (!wal.ok()) return wal.status();
  // `origin`: the peer that numbered the op (its shard's ordering replica; 0 standalone and in
  // WALs written before the data plane). Op numbers are the same on every replica of a shard, so
  // (op, origin) says exactly which operations a replica has (what wal_delta transfers compare).
  Status s = (*wal)->Exec(
      "CREATE TABLE IF NOT EXISTS ops(op INTEGER PRIMARY KEY, body BLOB NOT NULL, "
      "origin INTEGER NOT NULL DEFAULT 0)");
  if (!s.ok()) return s;
  {
    Result<sqlite::Stmt> has =
        (*wal)->Prepare("SELECT COUNT(*) FROM pragma_table_info('ops') WHERE name = 'origin'");
    if (!has.ok()) return has.status();
    Result<bool> row = has->Step();
    if (!row.ok()) return row.status();
    if (*row && has->Int(0) == 0) {
      s = (*wal)->Exec("ALTER TABLE ops ADD COLUMN origin INTEGER NOT NULL DEFAULT 0");
      if (!s.ok()) return s;
    }
  }
  // meta: 'incomplete' while a transfer that reset the replica has not finished (ResetTo).
  s = (*wal)->Exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
  if (!s.ok()) return s;
  bool incomplete = false;
  {
    Result<sqlite::Stmt> q = (*wal)->Prepare("SELECT COUNT(*) FROM meta WHERE key = 'incomplete'");
    if (!q.ok()) return q.status();
    Result<bool> row = q->Step();
    if (!row.ok()) return row.status();
    incomplete = *row && q->Int(0) > 0;
  }
  std::unique_ptr<LocalReplica> replica(new LocalReplica(dir, std::move(*wal), std::move(*seg)));
  replica->options_ = options;
  replica->incomplete_ = incomplete;
  s = replica->Recover();
  if (!s.ok()) return s.WithContext("recovering " + dir);
  return replica;
}

Status LocalReplica::Recover() {
  std::lock_guard<std::mutex> log(log_mu_);
  std::lock_guard<std::mutex> apply(apply_mu_);
  std::lock_guard<std::mutex> store(store_mu_);
  const OpNum index_op = segment_->index_op();
  const OpNum applied = segment_->applied_op();
  Result<sqlite::Stmt> stmt = wal_->Prepare("SELECT op, body FROM ops WHERE op > ? ORDER BY op");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, static_cast<int64_t>(std::min(index_op, applied)));
  std::vector<segment::PointId> resync;
  size_t replayed = 0;
  last_op_ = applied;
  for (;;) {
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    OpNum op_num = static_cast<OpNum>(stmt->Int(0));
    Result<Operation> op = segment::Decode(stmt->Blob(1));
    if (!op.ok()) return op.status().WithContext("WAL op " + std::to_string(op_num));
    if (op_num <= applied) {
      // Only a loaded checkpoint can lag points.db; a graph rebuilt from points.db at open
      // (index_op 0) already holds these points.
      if (index_op == 0) continue;
      for (const segment::PointId& id : op->AffectedIds()) resync.push_back(id);
    } else {
      Status s = segment_->Apply(op_num, *op);
      if (!s.ok()) return s;
      ++replayed;
    }
    last_op_ = std::max(last_op_, op_num);
  }
  if (!resync.empty()) {
    std::sort(resync.begin(), resync.end());
    resync.erase(std::unique(resync.begin(), resync.end()), resync.end());
    Status s = segment_->SyncFromStore(resync);
    if (!s.ok()) return s;
  }
  {
    std::lock_guard<std::mutex> turn(turn_mu_);
    applied_in_memory_ = applied_ = last_op_;
  }
  if (replayed || !resync.empty()) {
    QD_LOG_INFO("replica " + dir_ + ": replayed " + std::to_string(replayed) +
                " WAL operations, re-indexed " + std::to_string(resync.size()) + " points");
  }
  return Status::Ok();
}

Result<OpNum> LocalReplica::Update(const Resolve& resolve, bool pure,
                                   const std::function<void(OpNum)>& on_durable) {
  Result<Logged> logged = Log(resolve, pure);
  if (!logged.ok()) return logged.status();
  if (logged->op_num == 0) return OpNum{0};
  if (on_durable) on_durable(logged->op_num);
  Status s = Apply(*logged);
  if (!s.ok()) return s;
  // Deleted fractions move slowly: look every 16 updates (the check reads one word per point).
  if ((updates_++ % 16) == 15) MaybeOptimize();
  return logged->op_num;
}

void LocalReplica::SetLogListener(uint64_t origin, LogListener listener) {
  std::lock_guard<std::mutex> log(log_mu_);
  origin_ = origin;
  listener_ = std::move(listener);
}

Status LocalReplica::Broken() {
  std::lock_guard<std::mutex> turn(turn_mu_);
  return broken_;
}

struct LocalReplica::Writer {
  const Resolve* resolve = nullptr;  // a state-reading resolve, run at the front of the queue
  Operation op;
  std::string body;                  // op encoded; empty: nothing to log
  // ApplyReplicated's: the op number the ordering replica gave it (0: number it here), and
  // that peer. `skipped`: already logged under that number with the same body.
  OpNum expected = 0;
  uint64_t origin = 0;
  bool skipped = false;
  // The outcome, written before `done` under queue_mu_ (by the front, when it is another).
  Status status;
  OpNum op_num = 0;
  bool done = false;
  std::condition_variable cv;        // with queue_mu_: done, or this writer reached the front
};

namespace {
bool IsEmpty(const Operation& op) { return op.points.empty() && op.ids.empty() && op.field_name.empty(); }
}  // namespace

Result<OpNum> LocalReplica::ApplyReplicated(uint64_t origin, std::vector<NumberedOp> ops,
                                            std::vector<OpNum>* logged) {
  // Every op joins the queue at once, in order, so the front takes them into one group (one
  // transaction, one fsync) as far as kMaxGroupBytes allows; this thread then commits the rest
  // of them as each reaches the front.
  std::vector<std::unique_ptr<Writer>> writers;
  if (!ops.empty()) {
    // The op before these may still travel through another stream (a transfer's source and
    // the ordering replica both send while the transfer hands over).
    std::unique_lock<std::mutex> log(log_mu_);
    logged_cv_.wait_for(log, kGapWait, [&] { return last_op_ + 1 >= ops.front().op_num; });
  }
  for (NumberedOp& n : ops) {
    Result<Operation> op = segment::Decode(n.body);
    if (!op.ok()) return op.status().WithContext("replicated op " + std::to_string(n.op_num));
    auto w = std::make_unique<Writer>();
    w->op = std::move(*op);
    w->body = std::move(n.body);
    w->expected = n.op_num;
    w->origin = origin;
    writers.push_back(std::move(w));
  }
  {
    std::lock_guard<std::mutex> queue(queue_mu_);
    for (auto& w : writers) queue_.push_back(w.get());
  }
  bool refused = false;
  for (auto& w : writers) {
    bool front = false;
    {
      std::unique_lock<std::mutex> queue(queue_mu_);
      w->cv.wait(queue, [&] { return w->done || queue_.front() == w.get(); });
      front = !w->done;
    }
    if (front) {
      if (refused) {
        // An earlier group refused one of these ops: none after it may be logged.
        w->status =
            Status::FailedPrecondition("replica " + dir_ + " refused op " +
                                       std::to_string(w->expected) + ": it follows a refused op");
        w->body.clear();
      }
      CommitGroup(*w);
    }
    if (!w->status.ok()) refused = true;
  }
  if (logged) {
    for (auto& w : writers) {
      if (w->status.ok() && !w->skipped) logged->push_back(w->op_num);
    }
  }
  Status first_error;
  for (auto& w : writers) {
    if (!w->status.ok()) {
      if (first_error.ok()) first_error = w->status;
      continue;
    }
    if (w->skipped) {
      // Whoever logged it applies it; answer once it did.
      std::unique_lock<std::mutex> turn(turn_mu_);
      TurnCv(w->expected + 1).wait(turn, [&] { return applied_ >= w->expected || !broken_.ok(); });
      if (!broken_.ok()) return broken_;
      continue;
    }
    Status s = Apply(Logged{w->op_num, std::move(w->op)});
    if (!s.ok()) return s;
  }
  if (!first_error.ok()) return first_error;
  return last_op();
}

Result<LocalReplica::Logged> LocalReplica::Log(const Resolve& resolve, bool pure) {
  Writer w;
  if (pure) {
    // Passes the request on: resolved and encoded here, in parallel with other callers.
    Result<Operation> op = resolve(*segment_);
    if (!op.ok()) return op.status();
    if (IsEmpty(*op)) return Logged{};
    w.op = std::move(*op);
    w.body = segment::Encode(w.op);
  } else {
    w.resolve = &resolve;
  }
  bool front = false;
  {
    std::unique_lock<std::mutex> queue(queue_mu_);
    queue_.push_back(&w);
    w.cv.wait(queue, [&] { return w.done || queue_.front() == &w; });
    front = !w.done;
  }
  if (front) CommitGroup(w);
  if (!w.status.ok()) return w.status;
  return Logged{w.op_num, std::move(w.op)};
}

void LocalReplica::CommitGroup(Writer& w) {
  std::vector<Writer*> group;
  Status s;
  {
    std::lock_guard<std::mutex> log(log_mu_);
    s = Broken();
    if (s.ok() && w.resolve) {
      // Every logged op applied (or the replica broken): the resolve sees them all.
      {
        std::unique_lock<std::mutex> turn(turn_mu_);
        TurnCv(last_op_ + 1).wait(turn, [&] { return applied_ == last_op_ || !broken_.ok(); });
      }
      s = Broken();
      if (s.ok()) {
        // This caller's error is its own: the writers behind it go on. Nothing may throw past
        // here while w is in the queue.
        try {
          Result<Operation> op = (*w.resolve)(*segment_);
          if (!op.ok()) {
            w.status = op.status();
          } else if (!IsEmpty(*op)) {
            w.op = std::move(*op);
            w.body = segment::Encode(w.op);
          }
        } catch (const std::exception& e) {
          w.status = Status::Internal(std::string("resolving a write: ") + e.what());
        }
      }
    }
    {
      // The group: this writer and the pure ones right behind it, a prefix of the queue.
      std::lock_guard<std::mutex> queue(queue_mu_);
      size_t bytes = w.body.size();
      group.push_back(&w);
      for (auto it = queue_.begin() + 1; it != queue_.end(); ++it) {
        if ((*it)->resolve || bytes + (*it)->body.size() > kMaxGroupBytes) break;
        bytes += (*it)->body.size();
        group.push_back(*it);
      }
    }
    if (s.ok()) s = AppendToWal(group);
  }
  std::lock_guard<std::mutex> queue(queue_mu_);
  for (Writer* x : group) {
    queue_.pop_front();
    if (!s.ok()) x->status = s;
    if (x == &w) continue;
    x->done = true;
    x->cv.notify_one();  // under the lock: once it sees `done`, x may go out of scope
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();
}

Status LocalReplica::AppendToWal(const std::vector<Writer*>& group) {
  // A replicated op must get exactly the number its ordering replica gave it: one that would
  // get another number is refused and not logged, and so is every replicated op behind it.
  {
    OpNum next = last_op_ + 1;
    bool refused = false;  // a replicated op was refused: the ones behind it are too
    for (Writer* x : group) {
      if (x->expected != 0 && (refused || !x->status.ok())) {
        if (x->status.ok()) {
          x->status = Status::FailedPrecondition(
              "replica " + dir_ + " refused op " + std::to_string(x->expected) + " from peer " +
              std::to_string(x->origin) + ": it follows a refused op");
        }
        x->body.clear();
        refused = true;
        continue;
      }
      if (x->body.empty()) continue;
      if (x->expected != 0 && x->expected < next && HasLogged(x->expected, x->body)) {
        x->skipped = true;
        x->body.clear();
        continue;
      }
      if (x->expected != 0 && x->expected != next) {
        refused = true;
        // Below: another peer numbered that op already (two ordering replicas at once, one of
        // them no longer current); above: this replica missed ops. Either way only a transfer
        // can make it equal to the others again.
        x->status = Status::FailedPrecondition(
            "replica " + dir_ + " is at op " + std::to_string(next - 1) + " and cannot log op " +
            std::to_string(x->expected) + " from peer " + std::to_string(x->origin) +
            (x->expected < next ? ": it holds another op under that number"
                                : ": it missed operations") +
            " and must be recovered by a shard transfer");
        x->body.clear();
      } else {
        ++next;
      }
    }
  }
  size_t ops = 0;
  for (const Writer* x : group) ops += x->body.empty() ? 0 : 1;
  if (ops == 0) return Status::Ok();
  const OpNum first = last_op_ + 1;
  Status s = [&] {
    sqlite::Transaction tx(*wal_);  // rolls back unless committed
    if (Status begun = tx.Begin(); !begun.ok()) return begun;
    Result<sqlite::Stmt> insert =
        wal_->Prepare("INSERT INTO ops(op, body, origin) VALUES(?, ?, ?)");
    if (!insert.ok()) return insert.status();
    OpNum next = first;
    for (const Writer* x : group) {
      if (x->body.empty()) continue;
      const uint64_t origin = x->expected != 0 ? x->origin : origin_;
      Status put = insert->Bind(1, static_cast<int64_t>(next++))
                       .BindBlob(2, x->body.data(), x->body.size())
                       .Bind(3, static_cast<int64_t>(origin))
                       .Run();
      if (!put.ok()) return put;
    }
    return tx.Commit();
  }();
  if (!s.ok()) {
    // A failed commit or fsync may or may not have left the records on disk: never guess.
    return MarkBroken("failed to append ops " + std::to_string(first) + ".." +
                          std::to_string(first + ops - 1) + " to its WAL",
                      s);
  }
  for (Writer* x : group) {
    if (x->body.empty()) continue;
    x->op_num = ++last_op_;
    if (listener_)
      listener_(x->op_num, x->body, x->expected == 0, x->expected == 0 ? origin_ : x->origin);
  }
  wal_commits_.fetch_add(1, std::memory_order_relaxed);
  logged_cv_.notify_all();
  return Status::Ok();
}

bool LocalReplica::HasLogged(OpNum op_num, const std::string& body) {
  Result<sqlite::Stmt> stmt = wal_->Prepare("SELECT body FROM ops WHERE op = ?");
  if (!stmt.ok()) return false;
  stmt->Bind(1, static_cast<int64_t>(op_num));
  Result<bool> row = stmt->Step();
  return row.ok() && *row && stmt->Blob(0) == body;
}

Status LocalReplica::WaitAllApplied(std::unique_lock<std::mutex>& log) {
  (void)log;  // held by the caller: nothing new is logged meanwhile
  std::unique_lock<std::mutex> turn(turn_mu_);
  TurnCv(last_op_ + 1).wait(turn, [&] { return applied_ == last_op_ || !broken_.ok(); });
  return broken_;
}

Status LocalReplica::WithQuiescedLog(
    const std::function<Status(OpNum, const segment::Segment&)>& fn) {
  std::unique_lock<std::mutex> log(log_mu_);
  if (abandoned_) return Status::Unavailable("replica " + dir_ + " was dropped");
  if (Status s = WaitAllApplied(log); !s.ok()) return s;
  return fn(last_op_, *segment_);
}

Result<std::vector<LocalReplica::NumberedOp>> LocalReplica::ReadOps(OpNum from, OpNum to) {
  std::lock_guard<std::mutex> log(log_mu_);
  return ReadOpsLocked(from, to);
}

Result<std::vector<LocalReplica::NumberedOp>> LocalReplica::ReadOpsLocked(OpNum from, OpNum to) {
  Result<sqlite::Stmt> stmt =
      wal_->Prepare("SELECT op, body FROM ops WHERE op >= ? AND op <= ? ORDER BY op");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, static_cast<int64_t>(from)).Bind(2, static_cast<int64_t>(to));
  std::vector<NumberedOp> out;
  for (;;) {
    Result<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back({static_cast<OpNum>(stmt->Int(0)), std::string(stmt->Blob(1))});
  }
  if (to < from || out.size() != to - from + 1) {
    return Status::NotFound("replica " + dir_ + " no longer holds ops " + std::to_string(from) +
                            ".." + std::to_string(to) + " in its WAL");
  }
  return out;
}

OpNum LocalReplica::WaitLogged(OpNum op_num, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> log(log_mu_);
  logged_cv_.wait_for(log, timeout, [&] { return last_op_ >= op_num; });
  return last_op_;
}

Status LocalReplica::ResetTo(OpNum base) {
  std::unique_lock<std::mutex> log(log_mu_);
  if (Status s = WaitAllApplied(log); !s.ok()) return s;
  std::lock_guard<std::mutex> apply(apply_mu_);
  std::lock_guard<std::mutex> store(store_mu_);
  Operation clear;
  clear.kind = segment::OpKind::kDeletePoints;
  segment::RecordBatch all = segment_->Scroll(std::nullopt, SIZE_MAX, nullptr, {});
  for (const segment::PointRecord& r : all.points) clear.ids.push_back(r.id);
  if (Status s = segment_->ApplyTransferred(clear, {}); !s.ok())
    return MarkBroken("failed to reset", s);
  for (const segment::Segment::FieldIndexInfo& info : segment_->FieldIndexes()) {
    Operation drop;
    drop.kind = segment::OpKind::kDeleteFieldIndex;
    drop.field_name = info.field;
    if (Status s = segment_->ApplyTransferred(drop, {}); !s.ok())
      return MarkBroken("failed to reset", s);
  }
  // Emptying the WAL and marking the replica incomplete go together, so that no crash leaves a
  // reset replica that looks complete.
  if (Status s = wal_->Exec(
          "BEGIN; DELETE FROM ops; INSERT OR REPLACE INTO meta VALUES('incomplete', 1); COMMIT");
      !s.ok()) {
    return MarkBroken("failed to reset", s);
  }
  incomplete_ = true;
  if (Status s = segment_->SetBase(base); !s.ok()) return MarkBroken("failed to reset", s);
  last_op_ = base;
  std::lock_guard<std::mutex> turn(turn_mu_);
  applied_in_memory_ = applied_ = base;
  return Status::Ok();
}

Status LocalReplica::MarkComplete() {
  std::lock_guard<std::mutex> log(log_mu_);
  if (!incomplete_ || abandoned_) return Status::Ok();
  if (Status s = wal_->Exec("DELETE FROM meta WHERE key = 'incomplete'"); !s.ok()) return s;
  incomplete_ = false;
  return Status::Ok();
}

uint64_t LocalReplica::OpHash(std::string_view body) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

Result<std::optional<LocalReplica::Clock>> LocalReplica::LastClock() {
  std::lock_guard<std::mutex> log(log_mu_);
  if (incomplete_ || last_op_ == 0) return std::optional<Clock>();
  Result<sqlite::Stmt> q = wal_->Prepare("SELECT body FROM ops WHERE op = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, static_cast<int64_t>(last_op_));
  Result<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Clock>();
  return std::optional<Clock>(Clock{last_op_, OpHash(q->Blob(0))});
}

Status LocalReplica::WithQuiescedOps(
    OpNum from, const std::function<Status(OpNum last, std::vector<NumberedOp> ops)>& fn) {
  std::unique_lock<std::mutex> log(log_mu_);
  if (abandoned_) return Status::Unavailable("replica " + dir_ + " was dropped");
  if (Status s = WaitAllApplied(log); !s.ok()) return s;
  if (from == last_op_ + 1) return fn(last_op_, {});  // none after the last
  Result<std::vector<NumberedOp>> ops = ReadOpsLocked(from, last_op_);
  if (!ops.ok()) return ops.status();
  return fn(last_op_, std::move(*ops));
}

bool LocalReplica::IsSnapshotFile(std::string_view name) {
  if (name == "points.db" || name == "wal.db") return true;
  constexpr std::string_view kPrefix = "index-", kSuffix = ".hnsw";
  if (name.size() <= kPrefix.size() + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix)) {
    return false;
  }
  for (char c : name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size())) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

Result<LocalReplica::Snapshot> LocalReplica::CaptureSnapshot(const std::string& out_dir) {
  namespace fs = std::filesystem;
  std::lock_guard<std::mutex> flushing(flush_mu_);
  if (abandoned_) return Status::Unavailable("replica " + dir_ + " was dropped");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Status::Internal("cannot create " + out_dir + ": " + ec.message());
  Snapshot out;
  OpNum index_op = 0;
  {
    std::lock_guard<std::mutex> store(store_mu_);
    index_op = segment_->index_op();
    out.points = segment_->points_count();
  }
  // With checkpoints held off, the index files on disk are the checkpoint at index_op, and the
  // WAL holds every op after it (a trim drops only what a checkpoint covers).
  if (index_op > 0) {
    for (const fs::directory_entry& e : fs::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      if (!name.starts_with("index-") || !IsSnapshotFile(name)) continue;
      fs::create_hard_link(e.path(), out_dir + "/" + name, ec);
      if (ec) return Status::Internal("cannot link " + e.path().string() + ": " + ec.message());
      out.files.push_back(name);
    }
  }
  {
    std::lock_guard<std::mutex> pinned(pins_->mu);
    pins_->from.insert(index_op);
  }
  out.pin = std::shared_ptr<void>(nullptr, [pins = pins_, index_op](void*) {
    std::lock_guard<std::mutex> pinned(pins->mu);
    pins->from.erase(pins->from.find(index_op));
  });
  // points.db first: the WAL copied after it holds every op points.db reflects.
  for (const char* name : {"points.db", "wal.db"}) {
    Result<std::unique_ptr<sqlite::Db>> db =
        sqlite::Db::Open(dir_ + "/" + name, sqlite::Db::Sync::kNormal);
    if (!db.ok()) return db.status();
    const std::string copy = out_dir + "/" + name;
    std::string quoted;
    for (char c : copy) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    if (Status s = (*db)->Exec("VACUUM INTO '" + quoted + "'"); !s.ok()) {
      return s.WithContext("copying " + dir_ + "/" + name);
    }
    out.files.push_back(name);
  }
  return out;
}

Status LocalReplica::ApplyTransferred(const Operation& op, const std::vector<OpNum>& versions) {
  std::unique_lock<std::mutex> log(log_mu_);
  if (Status s = WaitAllApplied(log); !s.ok()) return s;
  std::lock_guard<std::mutex> apply(apply_mu_);
  std::lock_guard<std::mutex> store(store_mu_);
  return segment_->ApplyTransferred(op, versions);
}

Status LocalReplica::MarkBroken(const std::string& failure, const Status& cause) {
  Status s;
  {
    std::lock_guard<std::mutex> turn(turn_mu_);
    if (broken_.ok()) {
      broken_ = Status::Internal("replica " + dir_ + " " + failure +
                                 " and refuses writes until restarted: " + cause.message());
      QD_LOG_ERROR(broken_.message());
    }
    s = broken_;
  }
  for (std::condition_variable& cv : turn_cvs_) cv.notify_all();
  return s;
}

Status LocalReplica::WaitTurn(const OpNum& done, OpNum op_num) {
  std::unique_lock<std::mutex> turn(turn_mu_);
  TurnCv(op_num).wait(turn, [&] { return done + 1 == op_num || !broken_.ok(); });
  return broken_;
}

Status LocalReplica::EndTurn(OpNum& done, OpNum op_num, Status s) {
  if (!s.ok()) return MarkBroken("failed to apply op " + std::to_string(op_num), s);
  {
    std::lock_guard<std::mutex> turn(turn_mu_);
    done = op_num;
  }
  TurnCv(op_num + 1).notify_all();  // op_num + 1's turn, in the stage after or this one
  return s;
}

Status LocalReplica::Apply(const Logged& logged) {
  const OpNum op_num = logged.op_num;
  if (Status s = WaitTurn(applied_in_memory_, op_num); !s.ok()) return s;
  Result<segment::Segment::PendingStore> pending = segment::Segment::PendingStore{};
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    pending = segment_->ApplyInMemory(op_num, logged.op);
  }
  if (Status s = EndTurn(applied_in_memory_, op_num, pending.status()); !s.ok()) return s;
  if (Status s = WaitTurn(applied_, op_num); !s.ok()) return s;
  Status s;
  {
    std::lock_guard<std::mutex> lock(store_mu_);
    s = segment_->Store(*pending);
  }
  return EndTurn(applied_, op_num, s);
}

void LocalReplica::MaybeOptimize() {
  if (optimizing_.exchange(true)) return;
  int spec = segment_->SpecNeedingVacuum(options_.deleted_threshold, options_.vacuum_min_vector_number);
  if (spec < 0) {
    optimizing_ = false;
    return;
  }
  std::lock_guard<std::mutex> lock(optimizer_mu_);
  if (optimizer_.joinable()) optimizer_.join();  // the previous run, finished
  optimizer_ = std::thread([this, spec] {
    Vacuum(spec);
    optimizing_ = false;
  });
}

namespace {

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A version 4 UUID's text from 128 bits (the version and variant bits are set here).
std::string FormatUuid(uint64_t hi, uint64_t lo) {
  hi = (hi & ~uint64_t{0xf000}) | 0x4000;
  lo = (lo & ~(uint64_t{3} << 62)) | (uint64_t{2} << 62);
  char out[40];
  std::snprintf(out, sizeof out, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return out;
}

std::string RandomUuid() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  const uint64_t hi = random();
  return FormatUuid(hi, random());
}

}  // namespace

std::vector<LocalReplica::OptimizationRun> LocalReplica::Optimizations() const {
  std::lock_guard<std::mutex> lock(runs_mu_);
  return {runs_.begin(), runs_.end()};
}

bool LocalReplica::NeedsOptimization() const {
  return !optimizing_.load() && segment_->SpecNeedingVacuum(options_.deleted_threshold,
                                                            options_.vacuum_min_vector_number) >= 0;
}

size_t LocalReplica::optimized_points() const {
  std::lock_guard<std::mutex> lock(runs_mu_);
  return optimized_points_;
}

std::string LocalReplica::segment_uuid() const {
  // Two FNV-1a hashes of the directory: stable across restarts.
  return FormatUuid(OpHash(dir_), OpHash(dir_ + "/segment"));
}

void LocalReplica::Vacuum(int spec) {
  auto started = std::chrono::steady_clock::now();
  OptimizationRun run;
  run.uuid = RandomUuid();
  run.optimizer = "vacuum";
  run.vector = segment_->vectors()[static_cast<size_t>(spec)].name;
  run.running = true;
  run.started_ms = UnixMs();
  {
    std::lock_guard<std::mutex> lock(runs_mu_);
    runs_.push_front(run);
    if (runs_.size() > kKeptRuns) runs_.pop_back();
  }
  // Records how the run ended (it is still the front: runs start one at a time).
  auto finish = [this](std::optional<std::string> error, size_t points) {
    std::lock_guard<std::mutex> lock(runs_mu_);
    OptimizationRun& r = runs_.front();
    r.running = false;
    r.error = std::move(error);
    r.finished_ms = UnixMs();
    r.points = points;
    if (!r.error) optimized_points_ += points;
  };
  std::vector<uint32_t> labels;
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    labels = segment_->BeginVacuum(spec);
  }
  Result<std::unique_ptr<index::HnswIndex>> fresh = segment_->BuildVacuumed(spec, labels);
  std::lock_guard<std::mutex> lock(apply_mu_);
  if (!fresh.ok()) {
    segment_->AbortVacuum();
    QD_LOG_WARN("optimizer " + dir_ + ": " + fresh.status().message());
    finish(fresh.status().message(), 0);
    return;
  }
  Status s = segment_->FinishVacuum(spec, std::move(*fresh));
  if (!s.ok()) {
    QD_LOG_WARN("optimizer " + dir_ + ": " + s.message());
    finish(s.message(), 0);
    return;
  }
  finish(std::nullopt, labels.size());
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  QD_LOG_INFO("optimizer " + dir_ + ": rebuilt the graph of vector " + std::to_string(spec) +
              " without its deleted points (" + std::to_string(labels.size()) + " live) in " +
              std::to_string(ms.count()) + " ms");
}

Status LocalReplica::Flush() {
  // The WAL goes on taking writes while the graphs are written, which takes seconds at a million
  // points: log_mu_ (the committing writers' lock) is taken only for the trim. The trim may
  // drop only what a saved checkpoint covers, and index_op never goes back.
  // Nor does the apply stage wait for the disk: the graphs are copied in memory between two
  // applies (a memcpy: tens of ms at 300k points, where writing them held it for ~0.8 s),
  // written with no lock held, and only then does points.db say what they cover.
  std::lock_guard<std::mutex> flushing(flush_mu_);
  std::optional<segment::Segment::IndexImages> images;
  std::vector<size_t> hints;
  {
    std::lock_guard<std::mutex> apply(apply_mu_);
    if (abandoned_ || segment_->index_op() == segment_->applied_op()) return Status::Ok();
    hints = segment_->IndexImageHints();
  }
  // The copies' memory is allocated and faulted in before writes wait (a third of the copy's
  // time at 300k points when done under the lock).
  std::vector<std::string> buffers(hints.size());
  for (size_t i = 0; i < hints.size(); ++i) buffers[i].resize(hints[i]);
  const auto started = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> apply(apply_mu_);  // graphs copied between two applies
    if (abandoned_) return Status::Ok();
    Result<segment::Segment::IndexImages> captured = segment_->CaptureIndexes(std::move(buffers));
    if (!captured.ok()) return captured.status();
    images = std::move(*captured);
  }
  // The directory was opened above: were the replica dropped and its directory moved aside
  // meanwhile, the files still go there, never to a new collection at the old path.
  const auto copied = std::chrono::steady_clock::now();
  if (Status s = segment::Segment::WriteIndexes(*images); !s.ok()) return s;
  const OpNum covered = images->covered;
  const auto written = std::chrono::steady_clock::now();
  auto ms = [](auto d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  if (written - copied >= std::chrono::milliseconds(100)) {
    // Big graphs only: what the apply stage waited for, and what it no longer waits for.
    QD_LOG_INFO("replica " + dir_ + ": index checkpoint at op " + std::to_string(covered) +
                ": graphs copied in " + ms(copied - started) + " ms (writes wait), written in " +
                ms(written - copied) + " ms (they do not)");
  }
  {
    std::lock_guard<std::mutex> store(store_mu_);  // points.db's meta written between two stores
    if (abandoned_) return Status::Ok();
    if (Status s = segment_->CommitIndexes(*images); !s.ok()) return s;
  }
  images.reset();  // the copies' memory back before the trim
  std::lock_guard<std::mutex> log(log_mu_);
  if (abandoned_) return Status::Ok();
  // Of what the checkpoint covers, the newest wal_retain_bytes of ops stay (and the last op
  // always): the ops a wal_delta transfer may send to a replica that missed them.
  Result<sqlite::Stmt> keep = wal_->Prepare(
      "SELECT COALESCE(MIN(op), 0) FROM (SELECT op, SUM(LENGTH(body)) OVER (ORDER BY op DESC) "
      "AS newer FROM ops) WHERE newer <= ?");
  if (!keep.ok()) return keep.status();
  keep->Bind(1, static_cast<int64_t>(options_.wal_retain_bytes));
  Result<bool> row = keep->Step();
  if (!row.ok()) return row.status();
  OpNum oldest_kept = *row ? static_cast<OpNum>(keep->Int(0)) : 0;
  if (oldest_kept == 0 || oldest_kept > last_op_) oldest_kept = last_op_;
  OpNum trim_to = std::min(covered, oldest_kept - std::min<OpNum>(oldest_kept, 1));
  {
    std::lock_guard<std::mutex> pinned(pins_->mu);
    if (!pins_->from.empty()) {
      trim_to = std::min(trim_to, *pins_->from.begin() - std::min<OpNum>(*pins_->from.begin(), 1));
    }
  }
  if (trim_to == 0) return Status::Ok();
  Result<sqlite::Stmt> trim = wal_->Prepare("DELETE FROM ops WHERE op <= ?");
  if (!trim.ok()) return trim.status();
  return trim->Bind(1, static_cast<int64_t>(trim_to)).Run();
}

size_t LocalReplica::queued() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return queue_.size();
}

OpNum LocalReplica::last_op() const {
  std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(log_mu_));
  return last_op_;
}

}  // namespace qd::replica
