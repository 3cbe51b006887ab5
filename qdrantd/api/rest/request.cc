#include "qdrantd/api/rest/request.h"

#include <cstdio>

#include "qdrantd/api/rest/json.h"

namespace qd::api::rest {
namespace {

std::string TimeField(const Request& request) {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - request.start).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9f", seconds);
  return buf;
}

}  // namespace

const std::string& Request::Param(const std::string& name) const {
  static const std::string kEmpty;
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

std::optional<std::string> Request::Query(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Response JsonResult(const Request& request, std::string_view result_json) {
  Response r;
  r.body.reserve(result_json.size() + 48);
  r.body += "{\"result\":";
  r.body += result_json;
  r.body += ",\"status\":\"ok\",\"time\":";
  r.body += TimeField(request);
  r.body += '}';
  return r;
}

Response JsonError(const Request& request, const Status& status) {
  Response r;
  r.status = HttpStatusFor(status.code());
  r.body = "{\"status\":{\"error\":" + JsonQuote(status.message()) + "},\"time\":" +
           TimeField(request) + "}";
  return r;
}

Response TextResult(std::string body) {
  Response r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnprocessable: return 422;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kMethodNotAllowed: return 405;
    case StatusCode::kPayloadTooLarge: return 413;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kFailedPrecondition: return 400;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 408;
    case StatusCode::kInternal: return 500;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kUnauthenticated: return 401;
  }
  return 500;
}

Reply::~Reply() {
  if (send_) {
    Response r;
    r.status = 500;
    r.body = R"({"status":{"error":"Service internal error: the request was not answered"},"time":0})";
    send_(std::move(r));
  }
}

void Reply::Send(Response response) {
  if (!send_) return;
  SendFn send = std::exchange(send_, nullptr);
  send(std::move(response));
}

}  // namespace qd::api::rest
