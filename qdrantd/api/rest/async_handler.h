// Helpers shared by the engine routes: run a handler body on the worker pool with an owned
// copy of the request, answer on the loop; common query parameters.
// Thread: Async() on the loop; the work function on a pool thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "libshared/status.h"
#include "qdrantd/api/rest/engine_routes.h"
#include "qdrantd/api/rest/request.h"

namespace qd::api::rest {

// The work returns the Response; a Status error becomes Qdrant's error envelope.
using Work = std::function<Result<Response>(const Request& request)>;
void Async(const EngineContext& context, Request& request, Reply reply, Work work);

// Like Async, for work that finishes later (e.g. once consensus applied a change): the work
// gets `answer`, to be called exactly once from any thread.
using Answer = std::function<void(Result<Response>)>;
using DeferredWork = std::function<void(const Request& request, Answer answer)>;
void AsyncDeferred(const EngineContext& context, Request& request, Reply reply, DeferredWork work);

// `wait` query parameter (default false). Errors: kInvalidArgument for a non-boolean.
Result<bool> WaitParam(const Request& request);
// `timeout` (seconds, >= 1) if given. Errors: kInvalidArgument / kUnprocessable.
Result<std::optional<uint64_t>> TimeoutParam(const Request& request);

}  // namespace qd::api::rest
