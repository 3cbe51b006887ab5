#include "qdrantd/server/loop.h"

#include <cstdlib>

#include "libshared/log.h"

namespace qd::server {

Loop::Loop() {
  if (uv_loop_init(&loop_) != 0 || uv_async_init(&loop_, &async_, &Loop::OnAsync) != 0) {
    QD_LOG_ERROR("cannot initialise the libuv loop");
    std::abort();
  }
  async_.data = this;
  // The async handle must not keep the loop alive on its own once everything else has closed.
  uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
  loop_thread_ = std::this_thread::get_id();
}

Loop::~Loop() {
  // Owners close their handles before the loop goes; whatever is still open now (a client
  // connection cut off at the end of the shutdown grace period) is closed here so that the loop
  // can be closed in bounded time.
  uv_walk(
      &loop_,
      [](uv_handle_t* handle, void*) {
        if (!uv_is_closing(handle)) uv_close(handle, nullptr);
      },
      nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop_) != 0) QD_LOG_WARN("libuv loop closed with live handles");
}

void Loop::Post(std::function<void(OnLoop)> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    posted_.push_back(std::move(fn));
  }
  uv_async_send(&async_);
}

void Loop::Run() {
  loop_thread_ = std::this_thread::get_id();
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Loop::Stop(OnLoop) { uv_stop(&loop_); }

OnLoop Loop::Enter() const {
  if (std::this_thread::get_id() != loop_thread_) {
    QD_LOG_ERROR("loop-only code called from another thread");
    std::abort();
  }
  return OnLoop();
}

void Loop::OnAsync(uv_async_t* handle) noexcept {
  auto* self = static_cast<Loop*>(handle->data);
  OnLoop on_loop = self->Enter();
  // libuv coalesces async sends: take everything queued so far and run it.
  std::vector<std::function<void(OnLoop)>> batch;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    batch.swap(self->posted_);
  }
  for (auto& fn : batch) fn(on_loop);
}

}  // namespace qd::server
