// Loop: the daemon's one libuv event loop, and the only way other threads reach it.
//
// The loop thread owns libuv handles, h2o, and (with the consensus issue) libraft and the live
// cluster state. Other threads never touch those: they Post() a closure, which runs on the loop
// thread. Code that may only run on the loop takes an OnLoop, which only the Loop can mint.
// Thread: Post() from any thread; everything else on the loop thread.
#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qd::server {

// Proof that the caller runs on the loop thread. Pass by value; never store it.
class OnLoop {
  friend class Loop;
  OnLoop() = default;
};

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  uv_loop_t* raw() { return &loop_; }

  // Runs fn on the loop thread, in posting order. Never blocks; safe from any thread, including
  // the loop thread itself (fn then runs on a later iteration).
  void Post(std::function<void(OnLoop)> fn);

  // Runs the loop on the calling thread until Stop(); that thread becomes the loop thread.
  void Run();
  // Makes Run() return once the current iteration ends. Loop thread only.
  void Stop(OnLoop);

  // For C callback trampolines, which run on the loop thread by construction.
  OnLoop Enter() const;

 private:
  static void OnAsync(uv_async_t* handle) noexcept;

  uv_loop_t loop_{};
  uv_async_t async_{};
  std::thread::id loop_thread_;
  std::mutex mu_;
  std::vector<std::function<void(OnLoop)>> posted_;  // Protected by mu_
};

}  // namespace qd::server
