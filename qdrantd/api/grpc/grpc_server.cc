#include "qdrantd/api/grpc/grpc_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/server_interceptor.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "admin.grpc.pb.h"
#include "libshared/version.h"
#include "qdrant.grpc.pb.h"
#include "qdrantd/api/grpc/grpc_auth.h"
#include "qdrantd/api/grpc/grpc_call.h"
#include "qdrantd/api/grpc/grpc_codec.h"
#include "qdrantd/api/grpc/qdrant_services.h"
#include "qdrantd/api/metrics/request_metrics.h"

namespace qd::api::grpc {
namespace {

using ::grpc::CallbackServerContext;
using ::grpc::ServerUnaryReactor;

// qdrant.Qdrant: Qdrant's root service.
class QdrantService final : public qdrant::Qdrant::CallbackService {
  ServerUnaryReactor* HealthCheck(CallbackServerContext* context, const qdrant::HealthCheckRequest*,
                                  qdrant::HealthCheckReply* reply) override {
    reply->set_title(version::kTitle);
    reply->set_version(version::kQdrantVersion);
    reply->set_commit(version::kCommit);
    return Answer(context, ::grpc::Status::OK);
  }
};

// qdrantd.admin.Admin: what qdctl needs beyond Qdrant's public API (docs/admin-api.md).
class AdminService final : public qdrantd::admin::Admin::CallbackService {
 public:
  AdminService(bool cluster_enabled, AdminClusterHooks hooks, const auth::Authenticator* auth)
      : cluster_enabled_(cluster_enabled), hooks_(std::move(hooks)), auth_(auth) {}

  ServerUnaryReactor* Version(CallbackServerContext* context,
                              const qdrantd::admin::VersionRequest* request,
                              qdrantd::admin::VersionReply* reply) override {
    if (auto* refused = Refused(auth_, context, "qdrantd.admin.Admin/Version", *request)) {
      return refused;
    }
    reply->set_version(version::kQdrantVersion);
    reply->set_commit(version::kCommit);
    reply->set_server_version(version::kServerVersion);
    return Answer(context, ::grpc::Status::OK);
  }

  ServerUnaryReactor* ClusterStatus(CallbackServerContext* context,
                                    const qdrantd::admin::ClusterStatusRequest* request,
                                    qdrantd::admin::ClusterStatusReply* reply) override {
    if (auto* refused = Refused(auth_, context, "qdrantd.admin.Admin/ClusterStatus", *request)) {
      return refused;
    }
    if (cluster_enabled_ && hooks_.status) {
      ServerUnaryReactor* reactor = context->DefaultReactor();
      hooks_.status([reactor, reply](AdminClusterHooks::Info info) {
        reply->set_enabled(true);
        reply->set_peer_id(info.peer_id);
        for (const auto& p : info.peers) {
          auto* peer = reply->add_peers();
          peer->set_id(p.id);
          peer->set_uri(p.uri);
          peer->set_role(p.role);
          peer->set_is_voter(p.is_voter);
          peer->set_reachable(p.reachable);
          peer->set_node_type(p.node_type);
          if (p.term) peer->set_term(*p.term);
          if (p.commit) peer->set_commit(*p.commit);
          if (p.applied) peer->set_applied(*p.applied);
          if (p.lag) peer->set_lag(*p.lag);
        }
        reply->set_term(info.term);
        reply->set_commit(info.commit);
        if (info.leader) reply->set_leader(*info.leader);
        reply->set_consensus_thread_status(info.consensus_thread_status);
        reactor->Finish(::grpc::Status::OK);
      });
      return reactor;
    }
    reply->set_enabled(false);
    return Answer(context, ::grpc::Status::OK);
  }

  ServerUnaryReactor* ListTransfers(CallbackServerContext* context,
                                    const qdrantd::admin::ListTransfersRequest* request,
                                    qdrantd::admin::ListTransfersReply* reply) override {
    if (auto* refused = Refused(auth_, context, "qdrantd.admin.Admin/ListTransfers", *request)) {
      return refused;
    }
    if (auto* off = Standalone(context)) return off;
    const auto now_ms = cluster::WallClockMs();
    for (const cluster::Transfer& t : hooks_.transfers()) {
      if (request->has_collection() && t.collection != request->collection()) continue;
      FillTransfer(t, now_ms, reply->add_transfers());
    }
    return Answer(context, ::grpc::Status::OK);
  }

  ServerUnaryReactor* GetRebalance(CallbackServerContext* context,
                                   const qdrantd::admin::GetRebalanceRequest* request,
                                   qdrantd::admin::GetRebalanceReply* reply) override {
    if (auto* refused = Refused(auth_, context, "qdrantd.admin.Admin/GetRebalance", *request)) {
      return refused;
    }
    if (auto* off = Standalone(context)) return off;
    ServerUnaryReactor* reactor = context->DefaultReactor();
    hooks_.rebalance([reactor, reply](cluster::RebalanceStatus r) {
      reply->set_state(r.state);
      reply->set_reason(r.reason);
      reply->set_moves_done(r.moves_done);
      reply->set_moves_failed(r.moves_failed);
      reply->set_moves_in_flight(r.moves_in_flight);
      reply->set_moves_planned(r.moves_planned);
      reply->set_moves_total(r.moves_total);
      reply->set_started_at_ms(r.started_ms);
      if (r.eta_sec) reply->set_eta_seconds(*r.eta_sec);
      for (cluster::PeerId p : r.draining) reply->add_draining(p);
      for (const cluster::PlannedMove& m : r.plan.moves) {
        auto* move = reply->add_plan();
        move->set_kind(std::string(cluster::PlannedMoveKindName(m.kind)));
        move->set_collection(m.collection);
        move->set_shard_id(m.shard);
        move->set_from_peer_id(m.from);
        if (m.to) move->set_to_peer_id(m.to);
        move->set_reason(m.reason);
      }
      const auto now_ms = cluster::WallClockMs();
      for (const cluster::Transfer& t : r.in_flight)
        FillTransfer(t, now_ms, reply->add_in_flight());
      for (const std::string& why : r.plan.stuck) reply->add_stuck(why);
      for (const auto& [peer, now] : r.plan.replicas_before) {
        auto* counts = reply->add_replicas();
        counts->set_peer_id(peer);
        counts->set_now(now);
        auto after = r.plan.replicas_after.find(peer);
        counts->set_after(after == r.plan.replicas_after.end() ? 0 : after->second);
      }
      reactor->Finish(::grpc::Status::OK);
    });
    return reactor;
  }

  ServerUnaryReactor* StartRebalance(CallbackServerContext* context,
                                     const qdrantd::admin::StartRebalanceRequest* request,
                                     qdrantd::admin::StartRebalanceReply*) override {
    if (auto* refused = Refused(auth_, context, "qdrantd.admin.Admin/StartRebalance", *request)) {
      return refused;
    }
    if (auto* off = Standalone(context)) return off;
    ServerUnaryReactor* reactor = context->DefaultReactor();
    hooks_.start_rebalance(Timeout(request->has_timeout_sec(), request->timeout_sec()),
                           [reactor](Status s) { reactor->Finish(ToGrpcStatus(s)); });
    return reactor;
  }

  ServerUnaryReactor* DrainPeer(CallbackServerContext* context,
                                const qdrantd::admin::DrainPeerRequest* request,
                                qdrantd::admin::DrainPeerReply*) override {
    if (auto* refused = Refused(auth_, context, "qdrantd.admin.Admin/DrainPeer", *request)) {
      return refused;
    }
    if (auto* off = Standalone(context)) return off;
    ServerUnaryReactor* reactor = context->DefaultReactor();
    hooks_.drain_peer(request->peer_id(), request->cancel(),
                      Timeout(request->has_timeout_sec(), request->timeout_sec()),
                      [reactor](Status s) { reactor->Finish(ToGrpcStatus(s)); });
    return reactor;
  }

  ServerUnaryReactor* VerifyCollection(CallbackServerContext* context,
                                       const qdrantd::admin::VerifyCollectionRequest* request,
                                       qdrantd::admin::VerifyCollectionReply* reply) override {
    if (auto* refused = Refused(auth_, context, "qdrantd.admin.Admin/VerifyCollection", *request)) {
      return refused;
    }
    if (auto* off = Standalone(context)) return off;
    ServerUnaryReactor* reactor = context->DefaultReactor();
    hooks_.verify(request->collection_name(),
                  [reactor, reply](Result<std::vector<AdminClusterHooks::Digest>> digests) {
                    if (!digests.ok()) return reactor->Finish(ToGrpcStatus(digests.status()));
                    for (const AdminClusterHooks::Digest& d : *digests) {
                      qdrantd::admin::ReplicaDigestInfo* out = reply->add_replicas();
                      out->set_shard_id(d.shard);
                      out->set_peer_id(d.peer);
                      out->set_state(d.state);
                      out->set_error(d.error);
                      out->set_last_op(d.last_op);
                      out->set_points(d.points);
                      out->set_digest(d.digest);
                    }
                    reactor->Finish(::grpc::Status::OK);
                  });
    return reactor;
  }

  ServerUnaryReactor* RemovePeer(CallbackServerContext* context,
                                 const qdrantd::admin::RemovePeerRequest* request,
                                 qdrantd::admin::RemovePeerReply*) override {
    if (auto* refused = Refused(auth_, context, "qdrantd.admin.Admin/RemovePeer", *request)) {
      return refused;
    }
    if (!cluster_enabled_) {
      return Answer(context, ::grpc::Status(::grpc::StatusCode::FAILED_PRECONDITION,
                                            "Cluster operations are not available in standalone "
                                            "mode: start qdrantd with cluster.enabled=true"));
    }
    if (!hooks_.remove_peer) {
      return Answer(context, ::grpc::Status(::grpc::StatusCode::UNAVAILABLE, "consensus is not running"));
    }
    ServerUnaryReactor* reactor = context->DefaultReactor();
    auto timeout = std::chrono::seconds(request->has_timeout_sec() ? request->timeout_sec() : 10);
    hooks_.remove_peer(request->peer_id(), request->force(), timeout, [reactor](Status s) {
      reactor->Finish(ToGrpcStatus(s));
    });
    return reactor;
  }

 private:
  static std::chrono::milliseconds Timeout(bool given, uint64_t seconds) {
    return std::chrono::seconds(given ? std::min<uint64_t>(seconds, 24 * 3600) : 10);
  }
  // FAILED_PRECONDITION in standalone mode (as RemovePeer), UNAVAILABLE before consensus runs.
  ServerUnaryReactor* Standalone(CallbackServerContext* context) const {
    if (!cluster_enabled_) {
      return Answer(context, ::grpc::Status(::grpc::StatusCode::FAILED_PRECONDITION,
                                            "Cluster operations are not available in standalone "
                                            "mode: start qdrantd with cluster.enabled=true"));
    }
    if (!hooks_.transfers || !hooks_.rebalance || !hooks_.start_rebalance || !hooks_.drain_peer) {
      return Answer(context,
                    ::grpc::Status(::grpc::StatusCode::UNAVAILABLE, "consensus is not running"));
    }
    return nullptr;
  }
  // A transfer with its progress as the source last reported it, and the rate and ETA derived.
  static void FillTransfer(const cluster::Transfer& t, uint64_t now_ms,
                           qdrantd::admin::TransferInfo* out) {
    out->set_collection(t.collection);
    out->set_shard_id(t.shard);
    out->set_from_peer_id(t.from);
    out->set_to_peer_id(t.to);
    out->set_method(t.method);
    out->set_sync(t.sync);
    out->set_reason(t.automatic && t.reason.empty() ? "recovery" : t.reason);
    out->set_restarts(t.restarts);
    const cluster::Transfer::Progress& p = t.progress;
    out->set_points_done(p.points_done);
    out->set_points_total(p.points_total);
    out->set_bytes_done(p.bytes_done);
    out->set_bytes_total(p.bytes_total);
    out->set_ops_done(p.ops_done);
    out->set_ops_total(p.ops_total);
    out->set_started_at_ms(p.started_ms);
    out->set_updated_at_ms(p.updated_ms);
    if (p.updated_ms <= p.started_ms) return;
    const double seconds = static_cast<double>(p.updated_ms - p.started_ms) / 1000.0;
    out->set_bytes_per_second(static_cast<double>(p.bytes_done) / seconds);
    const bool by_ops = t.method == "wal_delta";
    const bool by_bytes = t.method == "snapshot" && p.bytes_total > 0;
    const uint64_t done = by_bytes ? p.bytes_done : by_ops ? p.ops_done : p.points_done;
    const uint64_t total = by_bytes ? p.bytes_total : by_ops ? p.ops_total : p.points_total;
    if (done > 0 && total >= done) {
      // The rest at the rate so far, less the time since the report.
      const double left =
          seconds * static_cast<double>(total - done) / static_cast<double>(done) -
          static_cast<double>(now_ms > p.updated_ms ? now_ms - p.updated_ms : 0) / 1000.0;
      out->set_eta_seconds(std::max(0.0, left));
    }
  }

  bool cluster_enabled_;
  AdminClusterHooks hooks_;
  const auth::Authenticator* auth_;
};

// Counts every call of every service for /metrics when its status is sent, so the services
// themselves carry no metrics code. gRPC creates one interceptor per call.
class MetricsInterceptor final : public ::grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(const char* method, metrics::GrpcMetrics* metrics)
      : method_(method), metrics_(metrics), start_(std::chrono::steady_clock::now()) {}

  void Intercept(::grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            ::grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->Record(method_, !methods->GetSendStatus().ok(), start_,
                       std::chrono::steady_clock::now());
    }
    methods->Proceed();
  }

 private:
  const char* method_;
  metrics::GrpcMetrics* metrics_;
  std::chrono::steady_clock::time_point start_;
};

class MetricsInterceptorFactory final
    : public ::grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(metrics::GrpcMetrics* metrics) : metrics_(metrics) {}
  ::grpc::experimental::Interceptor* CreateServerInterceptor(
      ::grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info->method(), metrics_);
  }

 private:
  metrics::GrpcMetrics* metrics_;
};

Result<std::string> ReadPem(const char* key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad() || text.str().empty()) {
    return Status::InvalidArgument(std::string(key) + " " + path + " cannot be read");
  }
  return text.str();
}

// The credentials of service.enable_tls. The files are read here first, so that a missing one
// stops the server at start with its name. With a reload interval, gRPC's file watcher then
// reads them again every interval and new handshakes use what it read (a file it cannot use
// keeps the last good certificate); `provider` must outlive the server.
Result<std::shared_ptr<::grpc::ServerCredentials>> TlsCredentials(
    const ServerTls& tls,
    std::shared_ptr<::grpc::experimental::CertificateProviderInterface>* provider) {
  Result<std::string> cert = ReadPem("tls.cert", tls.cert_path);
  if (!cert.ok()) return cert.status();
  Result<std::string> key = ReadPem("tls.key", tls.key_path);
  if (!key.ok()) return key.status();
  const grpc_ssl_client_certificate_request_type request =
      tls.verify_client ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                        : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  std::optional<std::string> ca;
  if (tls.verify_client) {
    Result<std::string> read = ReadPem("tls.ca_cert", tls.ca_cert_path);
    if (!read.ok()) return read.status();
    ca = std::move(*read);
  }
  if (tls.reload_interval.count() > 0) {
    const auto seconds = static_cast<unsigned int>(tls.reload_interval.count());
    *provider = tls.verify_client
                    ? std::make_shared<::grpc::experimental::FileWatcherCertificateProvider>(
                          tls.key_path, tls.cert_path, tls.ca_cert_path, seconds)
                    : std::make_shared<::grpc::experimental::FileWatcherCertificateProvider>(
                          tls.key_path, tls.cert_path, seconds);
    ::grpc::experimental::TlsServerCredentialsOptions options(*provider);
    options.watch_identity_key_cert_pairs();
    if (tls.verify_client) options.watch_root_certs();
    options.set_cert_request_type(request);
    return ::grpc::experimental::TlsServerCredentials(options);
  }
  ::grpc::SslServerCredentialsOptions options(request);
  if (ca) options.pem_root_certs = std::move(*ca);
  options.pem_key_cert_pairs.push_back({std::move(*key), std::move(*cert)});
  return ::grpc::SslServerCredentials(options);
}

}  // namespace

struct GrpcServer::Impl {
  GrpcServerOptions options;
  QdrantService qdrant_service;
  AdminService admin_service;
  std::vector<std::unique_ptr<::grpc::Service>> engine_services;
  // service.enable_tls with tls.cert_ttl: re-reads the certificate files. Declared before
  // `server`, which uses it, so that it is destroyed after it.
  std::shared_ptr<::grpc::experimental::CertificateProviderInterface> certificates;
  std::unique_ptr<::grpc::Server> server;

  explicit Impl(GrpcServerOptions o)
      : options(std::move(o)),
        admin_service(options.cluster_enabled, options.cluster, options.auth) {
    if (options.collections && options.pool) {
      ServiceContext context{options.collections,     options.pool,      options.snapshots,
                             options.cluster_enabled, options.propose,   options.peer_id,
                             options.placement,       options.transfers, options.auth};
      engine_services.push_back(NewCollectionsService(context));
      engine_services.push_back(NewPointsService(context));
      engine_services.push_back(NewSnapshotsService(context));
    }
  }
};

GrpcServer::GrpcServer(GrpcServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

GrpcServer::~GrpcServer() {
  if (impl_->server) impl_->server->Shutdown(std::chrono::system_clock::now());
}

Status GrpcServer::Start() {
  std::string address = impl_->options.host + ":" + std::to_string(impl_->options.port);
  ::grpc::ServerBuilder builder;
  int bound_port = 0;
  std::shared_ptr<::grpc::ServerCredentials> credentials = ::grpc::InsecureServerCredentials();
  if (impl_->options.tls) {
    Result<std::shared_ptr<::grpc::ServerCredentials>> tls =
        TlsCredentials(*impl_->options.tls, &impl_->certificates);
    if (!tls.ok()) return tls.status();
    credentials = std::move(*tls);
  }
  builder.AddListeningPort(address, credentials, &bound_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(impl_->options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(impl_->options.max_message_bytes));
  // Without this gRPC may share a port with another process through SO_REUSEPORT, and a second
  // qdrantd on the same port would start silently instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&impl_->qdrant_service);
  builder.RegisterService(&impl_->admin_service);
  for (auto& service : impl_->engine_services) builder.RegisterService(service.get());
  if (impl_->options.metrics) {
    std::vector<std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<MetricsInterceptorFactory>(impl_->options.metrics));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || bound_port == 0) {
    impl_->server.reset();
    return Status::Unavailable("cannot listen for gRPC on " + address +
                               (impl_->options.tls
                                    ? ": the address is in use or invalid, or the TLS files are"
                                      " not a valid certificate and key"
                                    : ": the address is in use or invalid"));
  }
  return Status::Ok();
}

void GrpcServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  if (impl_->server) {
    impl_->server->Shutdown(deadline);
    impl_->server->Wait();
    impl_->server.reset();
  }
}

}  // namespace qd::api::grpc
