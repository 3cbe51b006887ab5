#include "qdrantd/server/worker_pool.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>

namespace qd::server {

WorkerPool::WorkerPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  size_ = threads;
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

WorkerPool::~WorkerPool() { Stop(); }

Status WorkerPool::Submit(std::function<void()> fn) { return Enqueue(std::move(fn), false); }

Status WorkerPool::Enqueue(std::function<void()> fn, bool helper) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status(StatusCode::kUnavailable, "the server is shutting down");
    if (!helper && queue_.size() - queued_helpers_ >= max_queued_) {
      return Status(StatusCode::kResourceExhausted,
                    "too many requests in progress (" + std::to_string(max_queued_) +
                        " queued); retry later");
    }
    queue_.push_back(Task{std::move(fn), helper});
    queued_helpers_ += helper;
  }
  cv_.notify_one();
  return Status::Ok();
}

void WorkerPool::ForEach(size_t n, const std::function<void(size_t)>& fn) {
  struct Shared {
    explicit Shared(size_t count, const std::function<void(size_t)>* f) : n(count), fn(f) {}
    const size_t n;
    const std::function<void(size_t)>* fn;  // called only for a claimed i < n: still alive then
    std::atomic<size_t> next{0};
    std::mutex mu;
    std::condition_variable cv;
    size_t helping = 0;  // Protected by mu: helpers that may hold a claimed item
  };
  auto shared = std::make_shared<Shared>(n, &fn);
  auto drain = [](Shared& sh) {
    for (size_t i = sh.next++; i < sh.n; i = sh.next++) (*sh.fn)(i);
  };
  // A helper counts itself in before it claims, so the caller's final check sees every helper
  // that can still be inside fn.
  const size_t helpers = std::min(size_ - 1, n > 0 ? n - 1 : 0);
  for (size_t h = 0; h < helpers; ++h) {
    Status queued = Enqueue([shared, drain] {
      {
        std::lock_guard<std::mutex> lock(shared->mu);
        ++shared->helping;
      }
      drain(*shared);
      {
        std::lock_guard<std::mutex> lock(shared->mu);
        --shared->helping;
      }
      shared->cv.notify_all();
    }, /*helper=*/true);
    if (!queued.ok()) break;  // a stopping pool: the caller does the rest
  }
  drain(*shared);
  std::unique_lock<std::mutex> lock(shared->mu);
  shared->cv.wait(lock, [&] { return shared->helping == 0; });
}

void WorkerPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
  threads_.clear();
}

void WorkerPool::Work() {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      fn = std::move(queue_.front().fn);
      queued_helpers_ -= queue_.front().helper;
      queue_.pop_front();
    }
    fn();
  }
}

}  // namespace qd::server
