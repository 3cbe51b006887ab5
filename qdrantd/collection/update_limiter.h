// UpdateLimiter: storage.performance.update_rate_limit, the number of point updates a node
// has in flight in cluster mode (each client request that writes points is one until it is
// answered). Past the limit a request waits for a slot, at most `max_wait`, and then fails
// with kResourceExhausted (HTTP 429 / RESOURCE_EXHAUSTED): never a crash or an unbounded queue.
// The Permit gives the slot back when it goes out of scope. Thread: any.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>

#include "libshared/status.h"

namespace qd::collection {

class UpdateLimiter {
 public:
  // limit 0: unlimited.
  UpdateLimiter(size_t limit, std::chrono::milliseconds max_wait) : limit_(limit), max_wait_(max_wait) {}

  class Permit {
   public:
    Permit() = default;
    explicit Permit(UpdateLimiter* owner) : owner_(owner) {}
    Permit(Permit&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Permit& operator=(Permit&& other) noexcept {
      std::swap(owner_, other.owner_);
      return *this;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() {
      if (owner_) owner_->Release();
    }

   private:
    UpdateLimiter* owner_ = nullptr;
  };

  // Errors: kResourceExhausted when no slot freed within max_wait.
  Result<Permit> Acquire() {
    if (limit_ == 0) return Permit();
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, max_wait_, [&] { return in_flight_ < limit_; })) {
      return Status(
          StatusCode::kResourceExhausted,
          "Too many update operations in flight on this peer (" + std::to_string(limit_) +
          ", storage.performance.update_rate_limit); retry later");
    }
    ++in_flight_;
    return Permit(this);
  }

  size_t limit() const { return limit_; }

 private:
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_flight_;
    }
    cv_.notify_one();
  }

  const size_t limit_;
  const std::chrono::milliseconds max_wait_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;  // Protected by mu_
};

}  // namespace qd::collection
