#include "qdrantd/api/rest/http_server.h"

#include <arpa/inet.h>
#include <h2o.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>
#include <cstring>

#include "libshared/log.h"
#include "qdrantd/api/metrics/request_metrics.h"
#include "qdrantd/api/rest/router.h"

namespace qd::api::rest {
namespace {

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

// h2o refuses a body over max_request_entity_size itself, with a text/plain 413, before any
// handler runs. Qdrant's clients expect every non-2xx body in the JSON error envelope
// (compat.md §2.1), so this output filter swaps h2o's own error bodies for the envelope.
struct ErrorBodyFilter {
  struct Ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
  };

  static void OnSetupOstream(h2o_filter_t*, h2o_req_t* req, h2o_ostream_t** slot) noexcept {
    // Our handlers never answer 413, so a 413 here is always h2o's own.
    ssize_t type = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (req->res.status == 413 && type != -1) {
      static constexpr char kBody[] =
          R"({"status":{"error":"Payload too large: the request body exceeds service.max_request_size_mb"},"time":0})";
      req->res.headers.entries[type].value = h2o_iovec_init(H2O_STRLIT("application/json"));
      req->res.content_length = sizeof kBody - 1;
      auto* ostream = reinterpret_cast<Ostream*>(h2o_add_ostream(req, sizeof(Ostream), slot));
      ostream->body = h2o_iovec_init(kBody, sizeof kBody - 1);
      ostream->super.do_send = &DoSend;
      slot = &ostream->super.next;
    }
    h2o_setup_next_ostream(req, slot);
  }

  // Drops h2o's body and sends ours once h2o's is complete.
  static void DoSend(h2o_ostream_t* self, h2o_req_t* req, h2o_iovec_t*, size_t,
                     h2o_send_state_t state) noexcept {
    auto* ostream = reinterpret_cast<Ostream*>(self);
    if (h2o_send_state_is_in_progress(state)) {
      h2o_ostream_send_next(self, req, nullptr, 0, state);
    } else {
      h2o_ostream_send_next(self, req, &ostream->body, 1, state);
    }
  }
};

// OpenSSL's reason for the last failure, for a message an operator can act on.
std::string OpenSslError() {
  unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

// The server context of service.enable_tls: TLS 1.2 and later, the certificate chain and key
// of tls.cert/tls.key and, with verify_client, clients must present a certificate signed by
// tls.ca_cert. Errors: kInvalidArgument naming the file.
Result<SSL_CTX*> NewServerContext(const ServerTls& tls) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Status::Internal("cannot create a TLS context: " + OpenSslError());
  auto fail = [ctx](std::string what) -> Status {
    SSL_CTX_free(ctx);
    return Status::InvalidArgument(std::move(what) + ": " + OpenSslError());
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_path.c_str()) != 1) {
    return fail("tls.cert " + tls.cert_path + " cannot be used");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("tls.key " + tls.key_path + " cannot be used with tls.cert " + tls.cert_path);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail("tls.key " + tls.key_path + " does not match tls.cert " + tls.cert_path);
  }
  if (tls.verify_client) {
    if (SSL_CTX_load_verify_locations(ctx, tls.ca_cert_path.c_str(), nullptr) != 1) {
      return fail("tls.ca_cert " + tls.ca_cert_path + " cannot be used");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

}  // namespace

struct HttpServer::Impl {
  // Lifetime of one request. h2o frees h2o_req_t when the connection goes away, which may
  // happen before an asynchronous handler answers; the pool-attached sentinel tells us so.
  struct RequestState {
    h2o_req_t* req;
    Impl* server;
    bool alive = true;
    bool answered = false;
    Request request;  // here, not on the stack: its route and start outlive an async handler
  };

  // A client connection's handle. h2o uses handle->data itself, so the server is found through
  // the enclosing struct (tcp is its first member).
  struct Connection {
    uv_tcp_t tcp;
    Impl* impl;
    // The TLS context it was accepted with, referenced until it closes: h2o keeps only a raw
    // pointer to it until the client's first bytes arrive, so a reload must not free it.
    SSL_CTX* ssl_ctx;
  };

  struct Handler {
    h2o_handler_t super;  // must be first: h2o hands us a pointer to it
    Impl* impl;
  };

  server::Loop& loop;
  const Router& router;
  HttpServerOptions options;
  h2o_globalconf_t globalconf{};
  h2o_context_t context{};
  h2o_accept_ctx_t accept_ctx{};
  SSL_CTX* ssl_ctx = nullptr;  // service.enable_tls; lives as long as the h2o context
  // Every tls.cert_ttl: a new context from the files, used by connections accepted from then
  // on (each connection holds a reference to the context it was accepted with).
  uv_timer_t reload_timer{};
  bool reloading = false;
  uv_tcp_t listener{};
  bool listening = false;
  bool context_initialised = false;
  size_t in_flight = 0;
  size_t open_connections = 0;

  Impl(server::Loop& l, const Router& r, HttpServerOptions o)
      : loop(l), router(r), options(std::move(o)) {}

  static int OnRequest(h2o_handler_t* self, h2o_req_t* req) noexcept;
  static void OnConnection(uv_stream_t* listener, int status) noexcept;
  static void OnRequestDisposed(void* slot) noexcept;
  static void OnConnectionClosed(uv_handle_t* handle) noexcept;
  static void OnReloadTimer(uv_timer_t* timer) noexcept;
  static void Finish(RequestState& state, Response response);
};

void HttpServer::Impl::OnRequestDisposed(void* slot) noexcept {
  auto* holder = *static_cast<std::shared_ptr<RequestState>**>(slot);
  if (!(*holder)->answered) {
    (*holder)->answered = true;
    --(*holder)->server->in_flight;
  }
  (*holder)->alive = false;
  delete holder;
}

void HttpServer::Impl::Finish(RequestState& state, Response response) {
  if (!state.alive) return;  // the client went away; nothing to send to
  h2o_req_t* req = state.req;
  if (!state.answered) {
    state.answered = true;
    --state.server->in_flight;
  }
  req->res.status = response.status;
  req->res.reason = ReasonPhrase(response.status);
  h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, nullptr,
                 h2o_strdup(&req->pool, response.content_type.data(), response.content_type.size()).base,
                 response.content_type.size());
  req->res.content_length = response.body.size();
  h2o_send_inline(req, response.body.data(), response.body.size());
  if (metrics::RestMetrics* m = state.server->options.metrics) {
    m->Record(state.request.route, response.status, state.request.start,
              std::chrono::steady_clock::now());
  }
}

int HttpServer::Impl::OnRequest(h2o_handler_t* self, h2o_req_t* req) noexcept {
  Impl* impl = reinterpret_cast<Handler*>(self)->impl;
  ++impl->in_flight;
  auto state = std::make_shared<RequestState>(RequestState{req, impl});
  auto** slot = static_cast<std::shared_ptr<RequestState>**>(
      h2o_mem_alloc_shared(&req->pool, sizeof(void*), &Impl::OnRequestDisposed));
  *slot = new std::shared_ptr<RequestState>(state);

  Request& request = state->request;
  request.method.assign(req->method.base, req->method.len);
  size_t path_len = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
  request.path.assign(req->path.base, path_len);
  if (req->query_at != SIZE_MAX) {
    request.query = ParseQueryString(
        std::string_view(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1));
  }
  if (req->entity.base != nullptr) request.body = std::string_view(req->entity.base, req->entity.len);
  if (ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("api-key"), -1); i != -1) {
    request.credentials.api_key =
        std::string_view(req->headers.entries[i].value.base, req->headers.entries[i].value.len);
  }
  if (ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1); i != -1) {
    request.credentials.authorization =
        std::string_view(req->headers.entries[i].value.base, req->headers.entries[i].value.len);
  }

  try {
    impl->router.Dispatch(request, Reply([state](Response response) {
      Finish(*state, std::move(response));
    }));
  } catch (const std::exception& e) {
    // Handlers report errors as Status; an exception here is a bug, but must not unwind into h2o.
    QD_LOG_ERROR(std::string("REST handler threw: ") + e.what());
    Response r;
    r.status = 500;
    r.body = R"({"status":{"error":"Service internal error"},"time":0})";
    Finish(*state, std::move(r));
  }
  return 0;
}

void HttpServer::Impl::OnReloadTimer(uv_timer_t* timer) noexcept {
  Impl* impl = static_cast<Impl*>(timer->data);
  Result<SSL_CTX*> ctx = NewServerContext(*impl->options.tls);
  if (!ctx.ok()) {
    QD_LOG_WARN("REST keeps its current TLS certificate: " + ctx.status().message());
    return;
  }
  SSL_CTX_free(impl->ssl_ctx);  // connections accepted with it hold their own reference
  impl->ssl_ctx = *ctx;
  impl->accept_ctx.ssl_ctx = impl->ssl_ctx;
}

void HttpServer::Impl::OnConnectionClosed(uv_handle_t* handle) noexcept {
  auto* conn = reinterpret_cast<Connection*>(handle);
  --conn->impl->open_connections;
  if (conn->ssl_ctx != nullptr) SSL_CTX_free(conn->ssl_ctx);
  delete conn;
}

void HttpServer::Impl::OnConnection(uv_stream_t* listener, int status) noexcept {
  if (status != 0) return;
  Impl* impl = static_cast<Impl*>(listener->data);
  auto* conn = new Connection{{}, impl, impl->ssl_ctx};
  if (conn->ssl_ctx != nullptr) SSL_CTX_up_ref(conn->ssl_ctx);
  uv_tcp_init(listener->loop, &conn->tcp);
  ++impl->open_connections;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&conn->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->tcp), &Impl::OnConnectionClosed);
    return;
  }
  uv_tcp_nodelay(&conn->tcp, 1);
  h2o_socket_t* sock =
      h2o_uv_socket_create(reinterpret_cast<uv_stream_t*>(&conn->tcp), &Impl::OnConnectionClosed);
  h2o_accept(&impl->accept_ctx, sock);
}

HttpServer::HttpServer(server::Loop& loop, const Router& router, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(loop, router, std::move(options))) {}

HttpServer::~HttpServer() {
  // h2o asserts that no connection is left when its context goes; connections cut off at the
  // end of a shutdown grace period are closed by the Loop instead, and the context is left to
  // the process exit.
  if (impl_->context_initialised && impl_->open_connections == 0) {
    h2o_context_dispose(&impl_->context);
    h2o_config_dispose(&impl_->globalconf);
    if (impl_->ssl_ctx != nullptr) SSL_CTX_free(impl_->ssl_ctx);
  }
}

Status HttpServer::Start(server::OnLoop) {
  Impl& impl = *impl_;
  if (impl.options.tls) {
    Result<SSL_CTX*> ctx = NewServerContext(*impl.options.tls);
    if (!ctx.ok()) return ctx.status();
    impl.ssl_ctx = *ctx;
  }
  h2o_config_init(&impl.globalconf);
  impl.globalconf.max_request_entity_size = impl.options.max_request_size_bytes;
  impl.globalconf.http1.req_timeout = impl.options.keep_alive_timeout_ms;
  impl.globalconf.server_name = h2o_iovec_init(H2O_STRLIT("qdrantd"));
  h2o_hostconf_t* host = h2o_config_register_host(&impl.globalconf,
                                                  h2o_iovec_init(H2O_STRLIT("default")), 65535);
  h2o_pathconf_t* path = h2o_config_register_path(host, "/", 0);
  auto* handler = reinterpret_cast<Impl::Handler*>(h2o_create_handler(path, sizeof(Impl::Handler)));
  handler->super.on_req = &Impl::OnRequest;
  handler->impl = &impl;
  for (h2o_pathconf_t* conf : {path, &host->fallback_path}) {
    h2o_create_filter(conf, sizeof(h2o_filter_t))->on_setup_ostream = &ErrorBodyFilter::OnSetupOstream;
  }

  h2o_context_init(&impl.context, impl.loop.raw(), &impl.globalconf);
  impl.context_initialised = true;
  impl.accept_ctx.ctx = &impl.context;
  impl.accept_ctx.hosts = impl.globalconf.hosts;
  impl.accept_ctx.ssl_ctx = impl.ssl_ctx;  // null: plain HTTP
  if (impl.ssl_ctx != nullptr && impl.options.tls->reload_interval.count() > 0) {
    const uint64_t every_ms =
        static_cast<uint64_t>(impl.options.tls->reload_interval.count()) * 1000;
    uv_timer_init(impl.loop.raw(), &impl.reload_timer);
    impl.reload_timer.data = &impl;
    uv_timer_start(&impl.reload_timer, &Impl::OnReloadTimer, every_ms, every_ms);
    impl.reloading = true;
  }

  std::string where = impl.options.host + ":" + std::to_string(impl.options.port);
  sockaddr_storage addr{};
  if (uv_ip4_addr(impl.options.host.c_str(), impl.options.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(impl.options.host.c_str(), impl.options.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    return Status::Unavailable("cannot listen for REST on " + where + ": not an IP address");
  }
  uv_tcp_init(impl.loop.raw(), &impl.listener);
  impl.listener.data = &impl;
  impl.listening = true;
  int rc = uv_tcp_bind(&impl.listener, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&impl.listener), 512, &Impl::OnConnection);
  if (rc != 0) {
    return Status::Unavailable("cannot listen for REST on " + where + ": " + uv_strerror(rc));
  }
  return Status::Ok();
}

void HttpServer::StopAccepting(server::OnLoop) {
  if (impl_->listening) {
    impl_->listening = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&impl_->listener), nullptr);
  }
  if (impl_->reloading) {
    impl_->reloading = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&impl_->reload_timer), nullptr);
  }
  // Responses to requests still in flight then carry "Connection: close". (Not
  // h2o_context_request_shutdown: in h2o 2.2 it arms an HTTP/2 timer that outlives the context.)
  // Idle keep-alive connections are simply closed with the loop; HTTP clients retry those.
  impl_->context.shutdown_requested = 1;
}

size_t HttpServer::in_flight() const { return impl_->in_flight; }
size_t HttpServer::open_connections() const { return impl_->open_connections; }

}  // namespace qd::api::rest
