#include "qdrantd/server/daemon.h"

#include <signal.h>

#include <atomic>
#include <thread>

#include "libshared/log.h"
#include "qdrantd/api/grpc/grpc_server.h"
#include "qdrantd/api/rest/http_server.h"
#include "qdrantd/api/rest/router.h"
#include "qdrantd/api/rest/engine_routes.h"
#include "qdrantd/api/rest/service_routes.h"
#include "qdrantd/collection/collections.h"
#include "qdrantd/collection/snapshots.h"
#include "qdrantd/server/loop.h"
#include "qdrantd/server/notify.h"
#include "qdrantd/server/storage_lock.h"
#include "qdrantd/server/worker_pool.h"

namespace qd::server {

struct Daemon::Impl {
  config::Config config;
  DaemonFlags flags;
  Loop loop;
  api::rest::Router router;
  std::unique_ptr<StorageLock> storage_lock;
  std::unique_ptr<collection::Collections> collections;
  std::unique_ptr<WorkerPool> pool;
  std::unique_ptr<collection::Snapshots> snapshots;
  std::unique_ptr<api::rest::HttpServer> http;
  std::unique_ptr<api::grpc::GrpcServer> grpc;
  uv_signal_t sigint{}, sigterm{};
  uv_timer_t drain_timer{};
  std::thread grpc_stopper;
  std::atomic<bool> grpc_stopped{true};
  std::chrono::steady_clock::time_point shutdown_started;
  bool stopping = false;

  Impl(config::Config c, DaemonFlags f) : config(std::move(c)), flags(std::move(f)) {}

  Status Start(OnLoop on_loop);
  void BeginShutdown(OnLoop on_loop, int signo);
  void CheckDrained(OnLoop on_loop);
  void CloseHandles();

  static void OnSignal(uv_signal_t* handle, int signo) noexcept {
    auto* self = static_cast<Impl*>(handle->data);
    self->BeginShutdown(self->loop.Enter(), signo);
  }
  static void OnDrainTimer(uv_timer_t* handle) noexcept {
    auto* self = static_cast<Impl*>(handle->data);
    self->CheckDrained(self->loop.Enter());
  }
};

Status Daemon::Impl::Start(OnLoop on_loop) {
  auto lock = StorageLock::Acquire(config.storage.storage_path);
  if (!lock.ok()) return lock.status();
  storage_lock = std::move(lock.value());

  if (config.cluster.enabled) {
    QD_LOG_WARN("cluster.enabled is set, but distributed mode is not implemented yet (issue #5); "
                "running as a single node");
  }

  auto opened = collection::Collections::Open(config.storage.storage_path);
  if (!opened.ok()) return opened.status().WithContext("storage " + config.storage.storage_path);
  collections = std::move(*opened);
  pool = std::make_unique<WorkerPool>(config.storage.performance.max_search_threads);

  api::rest::AddServiceRoutes(router, {.cluster_enabled = config.cluster.enabled, .ready = {}});
  api::rest::EngineContext engine{&loop, pool.get(), collections.get()};
  api::rest::AddCollectionRoutes(router, engine);
  api::rest::AddPointRoutes(router, engine);
  snapshots = std::make_unique<collection::Snapshots>(*collections, config.storage.snapshots_path,
                                                      config.storage.storage_path);
  api::rest::AddSnapshotRoutes(router, engine, snapshots.get());
  http = std::make_unique<api::rest::HttpServer>(
      loop, router,
      api::rest::HttpServerOptions{
          .host = config.service.host,
          .port = config.service.http_port,
          .max_request_size_bytes = config.service.max_request_size_mb << 20,
          .keep_alive_timeout_ms = config.service.http_keep_alive_timeout_sec * 1000});
  if (Status s = http->Start(on_loop); !s.ok()) return s;
  QD_LOG_INFO("REST listening on " + config.service.host + ":" +
              std::to_string(config.service.http_port));

  if (config.service.grpc_port) {
    grpc = std::make_unique<api::grpc::GrpcServer>(api::grpc::GrpcServerOptions{
        .host = config.service.host,
        .port = *config.service.grpc_port,
        .cluster_enabled = config.cluster.enabled,
        .max_message_bytes = config.service.max_request_size_mb << 20,
        .collections = collections.get(),
        .pool = pool.get(),
        .snapshots = snapshots.get()});
    if (Status s = grpc->Start(); !s.ok()) return s;
    grpc_stopped = false;
    QD_LOG_INFO("gRPC listening on " + config.service.host + ":" +
                std::to_string(*config.service.grpc_port));
  } else {
    QD_LOG_INFO("gRPC disabled (service.grpc_port is null)");
  }

  for (auto [handle, signo] : {std::pair{&sigint, SIGINT}, std::pair{&sigterm, SIGTERM}}) {
    uv_signal_init(loop.raw(), handle);
    handle->data = this;
    uv_signal_start(handle, &Impl::OnSignal, signo);
  }
  uv_timer_init(loop.raw(), &drain_timer);
  drain_timer.data = this;

  NotifyReady();
  QD_LOG_INFO("qdrantd is ready");
  return Status::Ok();
}

void Daemon::Impl::BeginShutdown(OnLoop on_loop, int signo) {
  if (stopping) {
    QD_LOG_WARN("second stop signal: shutting down immediately");
    loop.Stop(on_loop);
    return;
  }
  stopping = true;
  shutdown_started = std::chrono::steady_clock::now();
  QD_LOG_INFO(std::string("received ") + (signo == SIGINT ? "SIGINT" : "SIGTERM") +
              ", shutting down");
  NotifyStopping();
  http->StopAccepting(on_loop);
  if (grpc) {
    // grpc::Server::Shutdown blocks until calls finish: never on the loop.
    auto deadline = std::chrono::system_clock::now() + kShutdownGrace - std::chrono::seconds(1);
    grpc_stopper = std::thread([this, deadline] {
      grpc->Shutdown(deadline);
      grpc_stopped = true;
    });
  }
  uv_timer_start(&drain_timer, &Impl::OnDrainTimer, 0, 10);
}

void Daemon::Impl::CheckDrained(OnLoop on_loop) {
  bool drained = http->in_flight() == 0 && grpc_stopped;
  bool out_of_time = std::chrono::steady_clock::now() - shutdown_started > kShutdownGrace;
  if (!drained && !out_of_time) return;
  if (!drained) QD_LOG_WARN("shutdown grace period over; cutting off requests still in flight");
  loop.Stop(on_loop);
}

void Daemon::Impl::CloseHandles() {
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&sigint),
                         reinterpret_cast<uv_handle_t*>(&sigterm),
                         reinterpret_cast<uv_handle_t*>(&drain_timer)}) {
    if (h->loop != nullptr && !uv_is_closing(h)) uv_close(h, nullptr);
  }
}

Daemon::Daemon(config::Config config, DaemonFlags flags)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(flags))) {}

Daemon::~Daemon() {
  if (impl_->grpc_stopper.joinable()) impl_->grpc_stopper.join();
}

int Daemon::Run() {
  Status started = impl_->Start(impl_->loop.Enter());
  if (!started.ok()) {
    QD_LOG_ERROR("cannot start: " + started.message());
    if (impl_->grpc) impl_->grpc->Shutdown(std::chrono::system_clock::now());
    if (impl_->http) impl_->http->StopAccepting(impl_->loop.Enter());
    impl_->CloseHandles();
    impl_->http.reset();
    if (impl_->pool) impl_->pool->Stop();
    return 1;
  }
  impl_->loop.Run();
  if (impl_->grpc_stopper.joinable()) impl_->grpc_stopper.join();
  if (!impl_->grpc_stopped && impl_->grpc) impl_->grpc->Shutdown(std::chrono::system_clock::now());
  // Work still queued finishes (its answers go nowhere); then indexes are checkpointed.
  impl_->pool->Stop();
  impl_->CloseHandles();
  impl_->http.reset();
  impl_->collections.reset();
  QD_LOG_INFO("qdrantd stopped");
  return 0;
}

}  // namespace qd::server
