#include "qdrantd/api/grpc/grpc_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/server_interceptor.h>

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
