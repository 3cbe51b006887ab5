#include "qdrantd/collection/transfer_driver.h"

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
  progress_.method = options_.method == "wal_delta" ? "wal_delta" : "stream_records";
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
  if (options_.method == "wal_delta") {
    Status delta = SendDelta(clock);
    if (delta.code() != StatusCode::kFailedPrecondition) return delta;
    QD_LOG_INFO("the " + what + " falls back from wal_delta to stream_records: " + delta.message());
    std::lock_guard<std::mutex> lock(mu_);
    progress_.method = "stream_records";
    progress_.fallback = delta.message();
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
    if (options_.rate_limit_bytes > 0) {
      // Sleep until the bytes sent so far fit the rate.
      auto due =
          started + std::chrono::microseconds(cursor.bytes * 1'000'000 / options_.rate_limit_bytes);
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_until(lock, due, [&] { return cancelled_; })) {
        return Status::Unavailable("the transfer was cancelled");
      }
    }
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

Status TransferDriver::SendDelta(const std::optional<ReplicaClock>& clock) {
  if (!clock) {
    return Status::FailedPrecondition(
        "the receiver's replica holds no operations a delta can continue from (it is empty, a "
        "transfer into it did not finish, or its WAL no longer holds its last op)");
  }
  PeerLink::Done done = Track(std::make_shared<Item>());
  Result<size_t> ops = collection_->BeginDeltaTransfer(shard_, to_, *clock, done);
  if (!ops.ok()) {
    done(Status::Ok());  // never queued: not in flight, and not a failure of the stream
    return ops.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    progress_.ops_total = *ops;
  }
  QD_LOG_INFO("wal_delta transfer of shard " + std::to_string(shard_) + " of " +
              collection_->name() + " to peer " + std::to_string(to_) + ": sending the " +
              std::to_string(*ops) + " ops after op " + std::to_string(clock->op));
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
