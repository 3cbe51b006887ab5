#include "qdrantd/replica/local_replica.h"

#include <algorithm>
#include <chrono>
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
                                                         OptimizerOptions optimizer) {
  Result<std::unique_ptr<segment::Segment>> seg = segment::Segment::Open(dir, std::move(vectors));
  if (!seg.ok()) return seg.status();
  Result<std::unique_ptr<sqlite::Db>> wal = sqlite::Db::Open(dir + "/wal.db", sqlite::Db::Sync::kFull);
  if (!wal.ok()) return wal.status();
  Status s = (*wal)->Exec("CREATE TABLE IF NOT EXISTS ops(op INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  if (!s.ok()) return s;
  std::unique_ptr<LocalReplica> replica(new LocalReplica(dir, std::move(*wal), std::move(*seg)));
  replica->options_ = optimizer;
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

Status LocalReplica::Broken() {
  std::lock_guard<std::mutex> turn(turn_mu_);
  return broken_;
}

Result<LocalReplica::Logged> LocalReplica::Log(const Resolve& resolve, bool pure) {
  std::lock_guard<std::mutex> lock(log_mu_);
  if (!pure) {
    // Every logged op applied (or the replica broken): the resolve sees them all.
    std::unique_lock<std::mutex> turn(turn_mu_);
    turn_cv_.wait(turn, [&] { return applied_ == last_op_ || !broken_.ok(); });
  }
  if (Status broken = Broken(); !broken.ok()) return broken;
  Result<Operation> op = resolve(*segment_);
  if (!op.ok()) return op.status();
  if (op->points.empty() && op->ids.empty() && op->field_name.empty()) return Logged{};
  const OpNum op_num = last_op_ + 1;
  std::string body = segment::Encode(*op);
  Result<sqlite::Stmt> insert = wal_->Prepare("INSERT INTO ops(op, body) VALUES(?, ?)");
  if (!insert.ok()) return insert.status();
  Status s = insert->Bind(1, static_cast<int64_t>(op_num)).BindBlob(2, body.data(), body.size()).Run();
  if (!s.ok()) return s.WithContext("WAL append");
  last_op_ = op_num;
  return Logged{op_num, std::move(*op)};
}

Status LocalReplica::WaitTurn(const OpNum& done, OpNum op_num) {
  std::unique_lock<std::mutex> turn(turn_mu_);
  turn_cv_.wait(turn, [&] { return done + 1 == op_num || !broken_.ok(); });
  return broken_;
}

Status LocalReplica::EndTurn(OpNum& done, OpNum op_num, Status s) {
  {
    std::lock_guard<std::mutex> turn(turn_mu_);
    if (s.ok()) {
      done = op_num;
    } else {
      broken_ = Status::Internal("replica " + dir_ + " failed to apply op " + std::to_string(op_num) +
                                 " and refuses writes until restarted: " + s.message());
      QD_LOG_ERROR(broken_.message());
      s = broken_;
    }
  }
  turn_cv_.notify_all();
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

void LocalReplica::Vacuum(int spec) {
  auto started = std::chrono::steady_clock::now();
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
    return;
  }
  Status s = segment_->FinishVacuum(spec, std::move(*fresh));
  if (!s.ok()) {
    QD_LOG_WARN("optimizer " + dir_ + ": " + s.message());
    return;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  QD_LOG_INFO("optimizer " + dir_ + ": rebuilt the graph of vector " + std::to_string(spec) +
              " without its deleted points (" + std::to_string(labels.size()) + " live) in " +
              std::to_string(ms.count()) + " ms");
}

Status LocalReplica::Flush() {
  std::lock_guard<std::mutex> log(log_mu_);      // the WAL trim below
  std::lock_guard<std::mutex> apply(apply_mu_);  // graphs saved between two applies
  std::lock_guard<std::mutex> store(store_mu_);  // points.db's meta written between two stores
  if (abandoned_) return Status::Ok();
  if (segment_->index_op() == segment_->applied_op()) return Status::Ok();
  Status s = segment_->SaveIndexes();
  if (!s.ok()) return s;
  Result<sqlite::Stmt> trim = wal_->Prepare("DELETE FROM ops WHERE op <= ?");
  if (!trim.ok()) return trim.status();
  return trim->Bind(1, static_cast<int64_t>(segment_->index_op())).Run();
}

OpNum LocalReplica::last_op() const {
  std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(log_mu_));
  return last_op_;
}

}  // namespace qd::replica
