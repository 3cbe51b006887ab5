// WorkerPool: the threads that do everything heavier than ~1 ms (JSON of big bodies, search,
// upserts, index builds, snapshot I/O) so that the loop never blocks (ARCHITECTURE.md).
// The queue is bounded: Submit() refuses with kResourceExhausted instead of queueing without
// limit. Stop() lets queued work finish, then joins; work submitted after Stop() is refused.
// Thread: Submit() from any thread, including a worker (the task then simply queues).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "libshared/status.h"

namespace qd::server {

class WorkerPool {
 public:
  // threads == 0 means one per hardware thread.
  explicit WorkerPool(size_t threads = 0, size_t max_queued = 4096);
  ~WorkerPool();  // Stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues fn. Errors: kResourceExhausted when max_queued tasks are waiting or after Stop().
  Status Submit(std::function<void()> fn);
  // Calls fn(i) for every i in [0, n), on the calling thread and on the pool threads that are
  // idle meanwhile; returns once every call has returned. The caller never waits for a task that
  // has not started (a helper that starts late finds nothing left and returns), so a pool
  // thread may call it. Its helpers (up to threads() - 1) are queued beyond max_queued: they
  // never take a request's room. fn must be safe to call on several threads at once.
  void ForEach(size_t n, const std::function<void(size_t)>& fn);
  // Finishes the queued work and joins the threads. Idempotent.
  void Stop();

  size_t threads() const { return size_; }

 private:
  void Work();
  // Queues fn; a helper does not count against max_queued_.
  Status Enqueue(std::function<void()> fn, bool helper);

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  struct Task {
    std::function<void()> fn;
    bool helper = false;  // ForEach's: not counted against max_queued_
  };
  std::deque<Task> queue_;                   // Protected by mu_
  size_t queued_helpers_ = 0;                // helpers in queue_; Protected by mu_
  bool stopping_ = false;                    // Protected by mu_
  size_t size_ = 0;  // threads started; fixed after construction (Stop() empties threads_)
  std::vector<std::thread> threads_;
};

}  // namespace qd::server
