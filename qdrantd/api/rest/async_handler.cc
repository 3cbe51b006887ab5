#include "qdrantd/api/rest/async_handler.h"

#include <malloc.h>

#include "qdrantd/server/loop.h"
#include "qdrantd/server/worker_pool.h"

namespace qd::api::rest {
namespace {
constexpr size_t kTrimAfterBytes = 1 << 20;
}  // namespace

void Async(const EngineContext& context, Request& request, Reply reply, Work work) {
  AsyncDeferred(context, request, std::move(reply),
                [work = std::move(work)](const Request& r, Answer answer) { answer(work(r)); });
}

void AsyncDeferred(const EngineContext& context, Request& request, Reply reply, DeferredWork work) {
  // The h2o request (and the body it points into) may go away if the client disconnects, so
  // the pool works on its own copy.
  struct Owned {
    Request request;
    std::string body;
    std::unique_ptr<Reply> reply;
  };
  auto owned = std::make_shared<Owned>();
  owned->request = request;
  owned->body.assign(request.body);
  owned->request.body = owned->body;
  owned->reply = std::make_unique<Reply>(std::move(reply));
  server::Loop* loop = context.loop;
  Status submitted = context.pool->Submit([owned, loop, work = std::move(work)] {
    work(owned->request, [owned, loop](Result<Response> response) {
      Response r = response.ok() ? std::move(*response) : JsonError(owned->request, response.status());
      loop->Post([owned, r = std::move(r)](server::OnLoop) mutable { owned->reply->Send(std::move(r)); });
    });
    // A big body's DOM was freed into this pool thread's malloc arena, which glibc keeps;
    // give it back so that resident memory tracks the data, not the largest request seen.
    if (owned->body.size() >= kTrimAfterBytes) malloc_trim(0);
  });
  if (!submitted.ok()) owned->reply->Send(JsonError(owned->request, submitted));
}

Result<bool> WaitParam(const Request& request) {
  std::optional<std::string> wait = request.Query("wait");
  if (!wait || *wait == "false") return false;
  if (*wait == "true" || wait->empty()) return true;
  return Status::InvalidArgument("Query deserialize error: wait: invalid value `" + *wait +
                                 "`, expected a boolean");
}

Result<std::optional<uint64_t>> TimeoutParam(const Request& request) {
  std::optional<std::string> timeout = request.Query("timeout");
  if (!timeout) return std::optional<uint64_t>();
  uint64_t value = 0;
  for (char c : *timeout) {
    if (c < '0' || c > '9' || value > (UINT64_MAX - 9) / 10) {
      return Status::InvalidArgument("Query deserialize error: timeout: invalid digit found in string `" +
                                     *timeout + "`");
    }
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (timeout->empty()) return Status::InvalidArgument("Query deserialize error: timeout: cannot parse integer from empty string");
  if (value < 1) {
    return Status::Unprocessable("Validation error in query parameters: [timeout: value 0 invalid, must be 1 or more]");
  }
  return std::optional<uint64_t>(value);
}

}  // namespace qd::api::rest
