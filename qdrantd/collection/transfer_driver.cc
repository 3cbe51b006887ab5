#include "qdrantd/collection/transfer_driver.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "libshared/log.h"

namespace qd::collection {

TransferDriver::TransferDriver(std::shared_ptr<Collection> collection,
                               std::shared_ptr<PeerLink> link, uint32_t shard, uint64_t self,
                               uint64_t to, Options options, Finished finished)
    : collection_(std::move(collection)),
      link_(std::move(link)),
      shard_(shard),
      self_(self),
      to_(to),
      options_(options),
      finished_(std::move(finished)) {
  progress_.started = std::chrono::steady_clock::now();
  progress_.method = options_.method == "wal_delta" || options_.method == "snapshot"
                         ? options_.method
                         : "stream_records";
  thread_ = std::thread([this] { Run(); });
}

TransferDriver::~TransferDriver() {
  Cancel();
  if (thread_.joinable()) thread_.join();
}

void TransferDriver::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  cv_.notify_all();
}

TransferProgress TransferDriver::progress() const {
  std::lock_guard<std::mutex> lock(mu_);
  return progress_;
}

PeerLink::Done TransferDriver::Track(std::shared_ptr<Item> item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
  }
  // The driver outlives every callback: Run waits for them all before it returns.
  return [this, item](Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    item->answered = true;
    if (s.ok() && item->sized) {
      progress_.points_done += item->points;
      progress_.bytes_done += item->bytes;
    } else if (!s.ok() && failure_.ok()) {
      failure_ = s;
    }
    cv_.notify_all();
  };
}

void TransferDriver::Sized(const std::shared_ptr<Item>& item, size_t points, size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  item->points = points;
  item->bytes = bytes;
  item->sized = true;
  if (item->answered && failure_.ok()) {
    progress_.points_done += points;
    progress_.bytes_done += bytes;
  }
}

Status TransferDriver::WaitInFlight(size_t in_flight) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return in_flight_ <= in_flight || !failure_.ok() || cancelled_; });
  if (!failure_.ok()) return failure_;
  if (cancelled_) return Status::Unavailable("the transfer was cancelled");
  return Status::Ok();
}

Status TransferDriver::Transfer() {
  const std::string what = "transfer of shard " + std::to_string(shard_) + " of " +
                           collection_->name() + " to peer " + std::to_string(to_);
  // 1. The receiver must have applied the start (and made its replica Partial) first.
  const auto deadline = std::chrono::steady_clock::now() + options_.ready_wait;
  std::optional<ReplicaClock> clock;
  for (;;) {
    Result<std::optional<ReplicaClock>> ready =
        collection_->SendsTransfer(shard_, to_)
            ? link_->TransferReady(to_, collection_->name(), shard_, self_)
            : Status::Unavailable("this peer has not applied the transfer's start yet");
    if (ready.ok()) {
      clock = *ready;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return ready.status().WithContext("the receiver is not ready for the " + what);
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return cancelled_; })) {
      return Status::Unavailable("the transfer was cancelled");
    }
  }
  std::string method = progress().method;
  if (method == "wal_delta") {
    Status delta = SendDelta(clock);
    if (delta.code() != StatusCode::kFailedPrecondition) return delta;
    method = options_.fallback == "stream_records" ? "stream_records" : "snapshot";
    QD_LOG_INFO("the " + what + " falls back from wal_delta to " + method + ": " + delta.message());
    std::lock_guard<std::mutex> lock(mu_);
    progress_.method = method;
    progress_.fallback = "wal_delta fell back: " + delta.message();
  }
  if (method == "snapshot") {
    Status snapshot = SendSnapshot();
    if (snapshot.code() != StatusCode::kFailedPrecondition) return snapshot;
    QD_LOG_INFO("the " + what +
                " falls back from snapshot to stream_records: " + snapshot.message());
    std::lock_guard<std::mutex> lock(mu_);
    progress_.method = "stream_records";
    if (!progress_.fallback.empty()) progress_.fallback += "; ";
    progress_.fallback += "snapshot fell back: " + snapshot.message();
  }
  // 2. Forward every op from here on, behind the reset.
  PeerLink::Done reset_done = Track(std::make_shared<Item>());
  Result<size_t> total = collection_->BeginTransfer(shard_, to_, reset_done);
  if (!total.ok()) {
    reset_done(total.status());  // never queued: not in flight
    return total.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    progress_.points_total = *total;
  }
  QD_LOG_INFO("starting the " + what + " (" + std::to_string(*total) + " points)");
  // 3. The points, batch by batch.
  Collection::TransferCursor cursor;
  const auto started = std::chrono::steady_clock::now();
  while (!cursor.done) {
    if (Status s = WaitInFlight(kMaxInFlight - 1); !s.ok()) return s;
    if (Status s = Throttle(started, cursor.bytes); !s.ok()) return s;
    const size_t points_before = cursor.points;
    const size_t bytes_before = cursor.bytes;
    auto item = std::make_shared<Item>();
    PeerLink::Done done = Track(item);
    Result<bool> sent =
        collection_->SendTransferBatch(shard_, to_, options_.batch_points, cursor, done);
    if (!sent.ok() || !*sent) {
      done(sent.ok() ? Status::Ok() : sent.status());  // never queued: not in flight
      if (!sent.ok()) return sent.status();
      continue;
    }
    Sized(item, cursor.points - points_before, cursor.bytes - bytes_before);
  }
  // 4. Everything applied by the receiver.
  if (Status s = WaitInFlight(0); !s.ok()) return s;
  QD_LOG_INFO("the " + what + " sent " + std::to_string(cursor.points) + " points");
  return Status::Ok();
}

Status TransferDriver::Throttle(std::chrono::steady_clock::time_point started, size_t bytes) {
  std::unique_lock<std::mutex> lock(mu_);
  if (cancelled_) return Status::Unavailable("the transfer was cancelled");
  if (options_.rate_limit_bytes == 0) return Status::Ok();
  // Sleep until the bytes sent so far fit the rate.
  const auto due =
      started + std::chrono::microseconds(bytes * 1'000'000 / options_.rate_limit_bytes);
  if (cv_.wait_until(lock, due, [&] { return cancelled_; })) {
    return Status::Unavailable("the transfer was cancelled");
  }
  return Status::Ok();
}

Status TransferDriver::SendSnapshot() {
  namespace fs = std::filesystem;
  static std::atomic<uint64_t> counter{0};
  std::random_device random;
  const uint64_t session = (uint64_t{random()} << 32 | random()) | 1;
  const std::string dir =
      collection_->TransferStagingDir("out-" + std::to_string(shard_) + "-" + std::to_string(to_) +
                                      "-" + std::to_string(counter++));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  // Holds this replica's WAL from the snapshot on until the ops after it are queued.
  Result<replica::LocalReplica::Snapshot> snapshot =
      collection_->CaptureTransferSnapshot(shard_, to_, dir);
  if (!snapshot.ok()) return snapshot.status();
  size_t total = 0;
  for (const std::string& file : snapshot->files) {
    std::error_code ec;
    total += fs::file_size(dir + "/" + file, ec);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    progress_.points_total = snapshot->points;
    progress_.bytes_total = total;
  }
  const std::string what = "snapshot transfer of shard " + std::to_string(shard_) + " of " +
                           collection_->name() + " to peer " + std::to_string(to_);
  QD_LOG_INFO("starting the " + what + " (" + std::to_string(snapshot->points) + " points, " +
              std::to_string(total) + " bytes in " + std::to_string(snapshot->files.size()) +
              " files)");
  const auto started = std::chrono::steady_clock::now();
  size_t sent = 0;
  SnapshotChunk chunk{.shard = shard_, .from = self_, .session = session};
  for (const std::string& file : snapshot->files) {
    const std::string path = dir + "/" + file;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return Status::Internal("cannot open " + path + ": " + std::strerror(errno));
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
    chunk.file = file;
    chunk.offset = 0;
    // An empty file is sent as one empty chunk, so that the receiver has it too.
    do {
      if (Status s = Throttle(started, sent); !s.ok()) return s;
      chunk.data.resize(options_.snapshot_chunk_bytes);
      chunk.data.resize(std::fread(chunk.data.data(), 1, chunk.data.size(), f));
      if (std::ferror(f)) return Status::Internal("cannot read " + path);
      Result<InstalledSnapshot> r = link_->SendSnapshotChunk(to_, collection_->name(), chunk);
      if (!r.ok()) return r.status().WithContext("the " + what);
      chunk.offset += chunk.data.size();
      sent += chunk.data.size();
      std::lock_guard<std::mutex> lock(mu_);
      progress_.bytes_done = sent;
    } while (chunk.data.size() == options_.snapshot_chunk_bytes);
  }
  chunk.file.clear();
  chunk.data.clear();
  chunk.offset = 0;
  chunk.install = true;
  Result<InstalledSnapshot> installed = link_->SendSnapshotChunk(to_, collection_->name(), chunk);
  if (!installed.ok()) return installed.status().WithContext("installing the " + what);
  {
    std::lock_guard<std::mutex> lock(mu_);
    progress_.points_done = installed->points;
  }
  QD_LOG_INFO("the receiver of the " + what + " opened it at op " +
              std::to_string(installed->last_op) + "; sending the ops after it");
  return SendOpsAfter(ReplicaClock{installed->last_op, 0}, true);
}

Status TransferDriver::SendDelta(const std::optional<ReplicaClock>& clock) {
  if (!clock) {
    return Status::FailedPrecondition(
        "the receiver's replica holds no operations a delta can continue from (it is empty, a "
        "transfer into it did not finish, or its WAL no longer holds its last op)");
  }
  return SendOpsAfter(*clock, false);
}

Status TransferDriver::SendOpsAfter(const ReplicaClock& clock, bool from_snapshot) {
  PeerLink::Done done = Track(std::make_shared<Item>());
  Result<size_t> ops = collection_->BeginDeltaTransfer(shard_, to_, clock, done, from_snapshot);
  if (!ops.ok()) {
    done(Status::Ok());  // never queued: not in flight, and not a failure of the stream
    return ops.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    progress_.ops_total = *ops;
  }
  QD_LOG_INFO(progress().method + " transfer of shard " + std::to_string(shard_) + " of " +
              collection_->name() + " to peer " + std::to_string(to_) + ": sending the " +
              std::to_string(*ops) + " ops after op " + std::to_string(clock.op));
  if (Status s = WaitInFlight(0); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  progress_.ops_done = true;
  return Status::Ok();
}

void TransferDriver::Run() {
  Status s = Transfer();
  // Callbacks still in flight reference this driver: wait for them (the stream fails them all
  // on an error, so this ends).
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
    if (cancelled_) return;
  }
  if (!s.ok()) QD_LOG_WARN("shard transfer failed: " + s.message());
  finished_(s);
}

}  // namespace qd::collection
