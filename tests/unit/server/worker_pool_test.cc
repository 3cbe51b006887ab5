// WorkerPool::ForEach: every index once, idle pool threads help, and a pool thread whose
// siblings are all busy still finishes alone (it never waits for a task that has not started).
#include "qdrantd/server/worker_pool.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

using qd::server::WorkerPool;
using Clock = std::chrono::steady_clock;

TEST_CASE("ForEach calls every index exactly once", "[worker_pool]") {
  WorkerPool pool(2);
  for (size_t n : {0, 1, 2, 3, 64, 1000}) {
    std::vector<std::atomic<int>> calls(n);
    pool.ForEach(n, [&](size_t i) { calls[i].fetch_add(1); });
    for (size_t i = 0; i < n; ++i) REQUIRE(calls[i].load() == 1);
  }
}

TEST_CASE("ForEach runs on an idle pool thread beside the caller", "[worker_pool]") {
  WorkerPool pool(2);
  // Whoever claims the first item waits for the other to enter: only possible if two threads
  // run the items at once.
  std::atomic<int> entered{0};
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<bool> both{false};
  pool.ForEach(2, [&](size_t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
    }
    entered.fetch_add(1);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (entered.load() < 2 && Clock::now() < deadline) std::this_thread::yield();
    if (entered.load() == 2) both = true;
  });
  REQUIRE(both);
  REQUIRE(threads.size() == 2);
}

TEST_CASE("ForEach on a pool thread finishes alone while every other pool thread is busy",
          "[worker_pool]") {
  WorkerPool pool(2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> blocked;
  REQUIRE(pool.Submit([&, released] {
                blocked.set_value();
                released.wait();
              }).ok());
  blocked.get_future().wait();  // the other pool thread is now busy until released
  std::promise<size_t> done;
  REQUIRE(pool.Submit([&] {
                std::atomic<size_t> sum{0};
                pool.ForEach(100, [&](size_t i) { sum.fetch_add(i + 1); });
                done.set_value(sum.load());
              }).ok());
  std::future<size_t> result = done.get_future();
  const bool finished = result.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  release.set_value();  // let the blocked thread and the late helper go before asserting
  REQUIRE(finished);
  REQUIRE(result.get() == 5050);
}

TEST_CASE("ForEach's helpers do not take the queue's room from requests", "[worker_pool]") {
  // Helpers queued behind busy threads (up to threads - 1 per call) must not count against
  // max_queued: with many cores and many batches in flight, real requests were refused.
  WorkerPool pool(3, /*max_queued=*/2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> blocked{0};
  for (int t = 1; t <= 3; ++t) {  // one at a time: the queue holds two
    REQUIRE(pool.Submit([&, released] {
                  blocked.fetch_add(1);
                  released.wait();
                }).ok());
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (blocked.load() < t && Clock::now() < deadline) std::this_thread::yield();
    REQUIRE(blocked.load() == t);
  }
  std::atomic<size_t> sum{0};
  pool.ForEach(100, [&](size_t i) { sum.fetch_add(i + 1); });
  CHECK(sum.load() == 5050);
  // The queue's room is still all there for real work.
  std::atomic<int> ran{0};
  CHECK(pool.Submit([&] { ran.fetch_add(1); }).ok());
  CHECK(pool.Submit([&] { ran.fetch_add(1); }).ok());
  release.set_value();
  pool.Stop();
  CHECK(ran.load() == 2);
}

}  // namespace
