// ParallelFor: runs fn(i) for every i in [0, n) on `threads` threads, each taking the next
// index from a shared counter (hnswlib's python bindings do the same around addPoint), and the
// calling thread waits for all of them. fn must not throw. Thread: any.
#pragma once

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace qd::bench {

template <typename Fn>
void ParallelFor(size_t n, unsigned threads, Fn&& fn) {
  if (threads <= 1 || n <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i, 0u);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (size_t i = next.fetch_add(1, std::memory_order_relaxed); i < n;
           i = next.fetch_add(1, std::memory_order_relaxed)) {
        fn(i, t);
      }
    });
  }
  for (auto& th : pool) th.join();
}

}  // namespace qd::bench
