// HttpServer: the REST listener (service.host:service.http_port) on libh2o over the daemon's
// libuv loop. It turns each h2o request into a rest::Request, hands it to the Router, and sends
// the Response back through h2o. HTTP/1.1 keep-alive and pipelining are h2o's. Bodies larger
// than max_request_size_bytes are refused by h2o with 413 before they are buffered.
// Thread: loop only. h2o types stay in http_server.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "libshared/status.h"
#include "qdrantd/api/server_tls.h"
#include "qdrantd/server/loop.h"

namespace qd::api::rest {

class Router;
}  // namespace qd::api::rest
namespace qd::api::metrics {
class RestMetrics;
}  // namespace qd::api::metrics
namespace qd::api::rest {

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 6333;
  uint64_t max_request_size_bytes = 32ull << 20;
  uint64_t keep_alive_timeout_ms = 5000;
  // Every answered request is counted here (by route and status) when set; outlives the server.
  metrics::RestMetrics* metrics = nullptr;
  // HTTPS (HTTP/1.1 over TLS, OpenSSL under h2o) when set; plain HTTP otherwise.
  std::optional<ServerTls> tls;
};

class HttpServer {
 public:
  HttpServer(server::Loop& loop, const Router& router, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens. Errors: kUnavailable when the address cannot be bound (in use, bad host);
  // kInvalidArgument when a TLS file cannot be read or the key does not match the certificate.
  Status Start(server::OnLoop);
  // Stops accepting connections; requests in flight finish normally and their connections
  // close after the response.
  void StopAccepting(server::OnLoop);
  // Requests received and not yet answered.
  size_t in_flight() const;
  // Client connections accepted and not yet closed.
  size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qd::api::rest
