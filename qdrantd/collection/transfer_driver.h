// TransferDriver: the source's side of one shard transfer, on its own thread. Methods:
// stream_records as below; wal_delta sends only the ops the receiver's replica missed
// (Collection::BeginDeltaTransfer) and falls back to Options::fallback when it cannot (the
// receiver holds nothing it can trust, or this WAL no longer covers the gap), saying so in
// progress().method and progress().fallback; snapshot sends this replica's snapshot files
// (LocalReplica::CaptureSnapshot: no write waits for it) in chunks, has the receiver open them
// as its replica, then sends the ops logged after the snapshot as wal_delta does.
// Happy path (docs/cluster.md "Shard transfers"): wait until the receiver applied the transfer's
// start (its replica is Partial for it) -> Collection::BeginTransfer (from then on every op the
// source logs is forwarded to the receiver, behind a reset to the source's current op) -> send
// the points in id order, batch by batch, each read while no write is being applied, so that
// in the one stream every batch lands exactly between the ops it reflects -> once the receiver
// applied everything, `finished(Ok)` (the owner proposes the transfer's end through consensus;
// the forwarding stops when the transfer leaves the placement, Collection::EndTransfer).
// Failure modes: the receiver never ready, a batch or forwarded op refused, the receiver
// unreachable -> `finished(error)` (the owner proposes the abort). Cancel() (the transfer left
// consensus) stops it without calling `finished`.
// Throttles: at most kMaxInFlight batches unanswered; `rate_limit_bytes` per second (0: none).
// Thread: any; `finished` runs on the driver's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "libshared/status.h"
#include "qdrantd/collection/collection.h"

namespace qd::collection {

struct TransferProgress {
  std::string method;  // what runs: stream_records, snapshot or wal_delta
  // Why the method asked for fell back to `method`: "<method> fell back: <why>" ("": it did not).
  std::string fallback;
  size_t points_total = 0;
  size_t points_done = 0;  // applied by the receiver (snapshot: once it opened the snapshot)
  size_t bytes_total = 0;  // snapshot: the files' size
  size_t ops_total = 0;    // wal_delta: the ops the receiver missed
  bool ops_done = false;   // wal_delta: all of them applied
  size_t bytes_done = 0;
  std::chrono::steady_clock::time_point started;
};

class TransferDriver {
 public:
  struct Options {
    std::string method = "stream_records";  // or wal_delta, snapshot
    // What wal_delta falls back to (stream_records or snapshot); snapshot falls back to
    // stream_records when the receiver cannot continue from it.
    std::string fallback = "snapshot";
    size_t snapshot_chunk_bytes = size_t{1} << 20;
    size_t batch_points = 128;
    uint64_t rate_limit_bytes = 0;  // per second; 0: unlimited
    std::chrono::milliseconds ready_wait{30000};
  };
  static constexpr size_t kMaxInFlight = 2;
  using Finished = std::function<void(Status)>;

  TransferDriver(std::shared_ptr<Collection> collection, std::shared_ptr<PeerLink> link,
                 uint32_t shard, uint64_t self, uint64_t to, Options options, Finished finished);
  ~TransferDriver();  // cancels and joins
  TransferDriver(const TransferDriver&) = delete;
  TransferDriver& operator=(const TransferDriver&) = delete;

  void Cancel();
  TransferProgress progress() const;

 private:
  void Run();
  Status Transfer();
  // wal_delta: the ops the receiver misses; kFailedPrecondition when it cannot work.
  Status SendDelta(const std::optional<ReplicaClock>& clock);
  // snapshot: the snapshot, then the ops after it; kFailedPrecondition when it cannot work.
  Status SendSnapshot();
  // Queues the ops after the receiver's `clock` and forwards later ones; waits until applied.
  Status SendOpsAfter(const ReplicaClock& clock, bool from_snapshot);
  // Sleeps until `bytes` sent since `started` fit the rate limit; kUnavailable on Cancel.
  Status Throttle(std::chrono::steady_clock::time_point started, size_t bytes);
  // One item in flight: its size is known once it was read, which may be after its answer.
  struct Item {
    size_t points = 0, bytes = 0;
    bool sized = false, answered = false;  // Protected by mu_
  };
  // Registers one more item in flight; its Done records the outcome.
  PeerLink::Done Track(std::shared_ptr<Item> item);
  void Sized(const std::shared_ptr<Item>& item, size_t points, size_t bytes);
  // Waits until at most `in_flight` items are unanswered, a failure, or Cancel.
  Status WaitInFlight(size_t in_flight);

  const std::shared_ptr<Collection> collection_;
  const std::shared_ptr<PeerLink> link_;
  const uint32_t shard_;
  const uint64_t self_;
  const uint64_t to_;
  const Options options_;
  Finished finished_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;     // Protected by mu_
  size_t in_flight_ = 0;       // Protected by mu_
  Status failure_;             // Protected by mu_
  TransferProgress progress_;  // Protected by mu_
  std::thread thread_;
};

}  // namespace qd::collection
