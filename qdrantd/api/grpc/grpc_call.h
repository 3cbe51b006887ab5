// How a Qdrant service method runs (STYLE.md §2): the reactor returns at once on gRPC's thread;
// the work (parsing, validation, the engine call, filling the response) runs on the WorkerPool,
// which then sets the response's `time` and calls Finish(). gRPC keeps the request and response
// alive until Finish(), so the work may use them. A full pool answers RESOURCE_EXHAUSTED.
// Only gRPC code includes this header. Thread: OnPool() on gRPC's threads; work on the pool.
#pragma once

#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/message_allocator.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "libshared/status.h"
#include "qdrantd/api/grpc/grpc_codec.h"
#include "qdrantd/server/worker_pool.h"

namespace qd::api::grpc {

// Request and response of one call on a protobuf arena, freed at once when gRPC releases them:
// a SearchBatch answer is thousands of small messages (points, ids, scores), which otherwise
// cost a malloc and a free each, the frees on gRPC's own thread. Set it for a callback method
// with the generated SetMessageAllocatorFor_<Method>(); it must outlive the server.
template <typename Request, typename Response>
class ArenaMessageAllocator : public ::grpc::MessageAllocator<Request, Response> {
 public:
  ::grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder(); }

 private:
  static ::google::protobuf::ArenaOptions Options() {
    ::google::protobuf::ArenaOptions options;
    options.start_block_size = 4096;
    options.max_block_size = 64 * 1024;
    return options;
  }

  class Holder : public ::grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options()) {
      this->set_request(::google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(::google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    ::google::protobuf::Arena arena_;
  };
};

// `work` is called as Status(). On success the response's `time` (seconds) is set when it has one.
template <typename Response, typename Work>
::grpc::ServerUnaryReactor* OnPool(server::WorkerPool* pool, ::grpc::CallbackServerContext* context,
                                   Response* response, Work work) {
  ::grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const auto start = std::chrono::steady_clock::now();
  Status submitted = pool->Submit([reactor, response, start, work = std::move(work)]() mutable {
    Status s = work();
    if (s.ok()) {
      if constexpr (requires { response->set_time(0.0); }) {
        response->set_time(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
    }
    reactor->Finish(ToGrpcStatus(s));
  });
  if (!submitted.ok()) reactor->Finish(ToGrpcStatus(submitted));
  return reactor;
}

// Finishes a call from any thread: on success sets the response's `time`, then calls Finish().
// Copies share one flag, so whichever copy runs first finishes the call and any later call is
// ignored: gRPC forbids a second Finish(). A call the client cancelled is finished all the same
// (the callback API requires Finish() exactly once; gRPC then drops the answer).
template <typename Response>
class Completion {
 public:
  Completion(::grpc::ServerUnaryReactor* reactor, Response* response)
      : state_(std::make_shared<State>(reactor, response)) {}

  void operator()(const Status& s) const {
    if (state_->finished.exchange(true)) return;
    if (s.ok()) {
      if constexpr (requires(Response * r) { r->set_time(0.0); }) {
        state_->response->set_time(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - state_->start)
                .count());
      }
    }
    state_->reactor->Finish(ToGrpcStatus(s));
  }
  Response* response() const { return state_->response; }

 private:
  struct State {
    State(::grpc::ServerUnaryReactor* r, Response* p) : reactor(r), response(p) {}
    ::grpc::ServerUnaryReactor* reactor;
    Response* response;
    const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::atomic<bool> finished{false};
  };
  std::shared_ptr<State> state_;
};

// Like OnPool, for work that ends later on another thread (e.g. once consensus answered):
// `work` is called as void(Completion<Response>) on the pool and must see to it that the
// completion is called once, from wherever the work ends.
template <typename Response, typename Work>
::grpc::ServerUnaryReactor* OnPoolDeferred(server::WorkerPool* pool,
                                           ::grpc::CallbackServerContext* context,
                                           Response* response, Work work) {
  ::grpc::ServerUnaryReactor* reactor = context->DefaultReactor();  // once per call
  Completion<Response> finish(reactor, response);
  Status submitted = pool->Submit([finish, work = std::move(work)]() mutable { work(finish); });
  if (!submitted.ok()) finish(submitted);
  return reactor;
}

// Answers at once (cheap calls, refusals).
inline ::grpc::ServerUnaryReactor* Answer(::grpc::CallbackServerContext* context,
                                          const ::grpc::Status& status) {
  ::grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// What a Qdrant method this server does not implement answers.
inline ::grpc::ServerUnaryReactor* Unimplemented(::grpc::CallbackServerContext* context,
                                                 const std::string& method) {
  return Answer(context, ::grpc::Status(::grpc::StatusCode::UNIMPLEMENTED,
                                        method + " is not implemented by this server"));
}

}  // namespace qd::api::grpc
