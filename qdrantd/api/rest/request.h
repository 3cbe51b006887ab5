// The REST layer's view of one HTTP exchange, independent of h2o so that routes can be tested
// without a socket: a Request, the Response a handler builds, and the Reply through which it is
// sent exactly once. Thread: a Request and its Reply live on the loop thread; a handler that
// hands work to another thread must come back to the loop (Loop::Post) before Reply::Send.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/api/auth/authenticator.h"

namespace qd::api::rest {

struct Request {
  std::string method;
  std::string path;                           // percent-encoded, without the query string
  std::map<std::string, std::string> query;   // decoded; a repeated key keeps the last value
  std::map<std::string, std::string> params;  // decoded {placeholders} of the matched route
  std::string_view body;                      // valid until the Reply is sent
  auth::Credentials credentials;  // api-key and Authorization headers; valid while the body is
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  size_t route = SIZE_MAX;  // index of the matched route (Router::RouteNames); SIZE_MAX: none

  const std::string& Param(const std::string& name) const;  // "" when absent
  std::optional<std::string> Query(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Qdrant's JSON envelope (compat.md §2.1), with `time` measured from request.start.
// `result_json` must already be serialised JSON.
Response JsonResult(const Request& request, std::string_view result_json);
// {"status": {"error": message}, "time": ...} with the HTTP status mapped from status.code().
Response JsonError(const Request& request, const Status& status);
Response TextResult(std::string body);

// The one place our StatusCode meets HTTP.
int HttpStatusFor(StatusCode code);

// Sends the Response of one request exactly once. Move-only. A Reply dropped without Send()
// answers 500, so a handler bug never leaves a client hanging.
class Reply {
 public:
  using SendFn = std::function<void(Response)>;
  explicit Reply(SendFn send) : send_(std::move(send)) {}
  Reply(Reply&& other) noexcept : send_(std::exchange(other.send_, nullptr)) {}
  Reply& operator=(Reply&&) = delete;
  Reply(const Reply&) = delete;
  ~Reply();

  void Send(Response response);

 private:
  SendFn send_;
};

}  // namespace qd::api::rest
