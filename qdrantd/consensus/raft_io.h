// RaftIo: our raft_io backend for libraft. The log, term, vote and snapshots live in raft.db
// (RaftStore, SQLite); messages leave through a Transport (the P2P gRPC service in production,
// an in-process loopback in tests); ticks come from a libuv timer.
//
// Happy path of an append: libraft calls append() on the loop -> the entries are copied and
// queued for the worker thread -> the worker commits them in one SQLite transaction (durable
// with synchronous=FULL) -> the callback is posted back to the loop -> libraft learns they are
// stored and may acknowledge them. truncate() and snapshot_put() join the same ordered queue, so
// the disk sees them in the order libraft issued them. set_term, set_vote and bootstrap write
// synchronously on the loop (libraft requires them durable on return).
// Failure modes: a failed SQLite write completes the request with RAFT_IOERR; a message the
// Transport cannot deliver completes its send with RAFT_NOCONNECTION; close() cancels pending
// sends with RAFT_CANCELED, waits for queued disk work to finish, then calls libraft back.
// Thread: the loop, apart from the internal worker. Owned by consensus::RaftNode.
#pragma once

#include "qdrantd/consensus/raft_c.h"
#include <uv.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "libshared/status.h"
#include "qdrantd/consensus/raft_store.h"
#include "qdrantd/server/loop.h"

namespace qd::consensus {

// Where RaftIo's messages go. Implementations must never block the loop and must call `done`
// exactly once, later, on the loop: true when the peer received the message.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void Send(server::OnLoop, uint64_t to_id, const std::string& to_address, std::string bytes,
                    std::function<void(server::OnLoop, bool delivered)> done) = 0;
};

class RaftIo {
 public:
  RaftIo(server::Loop& loop, std::string db_path, Transport* transport);
  ~RaftIo();
  RaftIo(const RaftIo&) = delete;
  RaftIo& operator=(const RaftIo&) = delete;

  // Opens raft.db (both connections) and starts the worker. Errors: kInternal.
  Status Open();
  raft_io* io() { return &io_; }
  // The loop's own connection, for the peer identity stored beside libraft's state.
  RaftStore& store() { return *loop_store_; }

  // Hands a message received from a peer to libraft. Malformed bytes are dropped with a log line.
  void Receive(server::OnLoop, std::string_view bytes);
  bool started() const { return recv_cb_ != nullptr && !closing_; }

 private:
  struct PendingSend {
    raft_io_send* req;
    raft_io_send_cb cb;
  };
  // Shared with in-flight transport callbacks, which may outlive a closed RaftIo.
  struct Sends {
    uint64_t next_id = 1;
    std::map<uint64_t, PendingSend> pending;
  };

  static RaftIo* Self(raft_io* io) { return static_cast<RaftIo*>(io->impl); }
  static int Init(raft_io* io, raft_id id, const char* address) noexcept;
  static void Close(raft_io* io, raft_io_close_cb cb) noexcept;
  static int Load(raft_io* io, raft_term* term, raft_id* voted_for, raft_snapshot** snapshot,
                  raft_index* start_index, raft_entry** entries, size_t* n_entries) noexcept;
  static int Start(raft_io* io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv) noexcept;
  static int Bootstrap(raft_io* io, const raft_configuration* conf) noexcept;
  static int Recover(raft_io* io, const raft_configuration* conf) noexcept;
  static int SetTerm(raft_io* io, raft_term term) noexcept;
  static int SetVote(raft_io* io, raft_id server_id) noexcept;
  static int Send(raft_io* io, raft_io_send* req, const raft_message* message, raft_io_send_cb cb) noexcept;
  static int Append(raft_io* io, raft_io_append* req, const raft_entry entries[], unsigned n,
                    raft_io_append_cb cb) noexcept;
  static int Truncate(raft_io* io, raft_index index) noexcept;
  static int SnapshotPut(raft_io* io, unsigned trailing, raft_io_snapshot_put* req,
                         const raft_snapshot* snapshot, raft_io_snapshot_put_cb cb) noexcept;
  static int SnapshotGet(raft_io* io, raft_io_snapshot_get* req, raft_io_snapshot_get_cb cb) noexcept;
  static raft_time Time(raft_io* io) noexcept;
  static int Random(raft_io* io, int min, int max) noexcept;
  static int AsyncWork(raft_io* io, raft_io_async_work* req, raft_io_async_work_cb cb) noexcept;
  static void OnTick(uv_timer_t* timer) noexcept;

  // Runs `work` on the worker, then `done` on the loop; both in submission order.
  void Submit(std::function<void()> work, std::function<void(server::OnLoop)> done);
  void WorkerMain();
  void Finished(server::OnLoop);
  void MaybeFinishClose();
  int Fail(const Status& s, int code);

  server::Loop& loop_;
  std::string db_path_;
  Transport* transport_;
  raft_io io_{};
  raft_id id_ = 0;
  std::string address_;
  std::unique_ptr<RaftStore> loop_store_;
  std::unique_ptr<RaftStore> worker_store_;  // worker thread only
  uint64_t next_index_ = 1;                  // index the next appended entry gets
  std::mt19937_64 rng_{std::random_device{}()};

  raft_io_tick_cb tick_cb_ = nullptr;
  raft_io_recv_cb recv_cb_ = nullptr;
  uv_timer_t* timer_ = nullptr;  // freed in its close callback
  bool closing_ = false;
  raft_io_close_cb close_cb_ = nullptr;
  unsigned pending_ = 0;  // disk requests whose callback has not run yet
  std::shared_ptr<Sends> sends_ = std::make_shared<Sends>();

  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // Protected by mu_
  bool stop_worker_ = false;                // Protected by mu_
};

}  // namespace qd::consensus
