// How a Qdrant service method runs (STYLE.md §2): the reactor returns at once on gRPC's thread;
// the work (parsing, validation, the engine call, filling the response) runs on the WorkerPool,
// which then sets the response's `time` and calls Finish(). gRPC keeps the request and response
// alive until Finish(), so the work may use them. A full pool answers RESOURCE_EXHAUSTED.
// Only gRPC code includes this header. Thread: OnPool() on gRPC's threads; work on the pool.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>
#include <utility>

#include "libshared/status.h"
#include "qdrantd/api/grpc/grpc_codec.h"
#include "qdrantd/server/worker_pool.h"

namespace qd::api::grpc {

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
