#include "qdrantd/api/grpc/grpc_server.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <vector>

#include "admin.grpc.pb.h"
#include "libshared/version.h"
#include "qdrant.grpc.pb.h"
#include "qdrantd/api/grpc/qdrant_services.h"

namespace qd::api::grpc {
namespace {

using ::grpc::CallbackServerContext;
using ::grpc::ServerUnaryReactor;

ServerUnaryReactor* Answer(CallbackServerContext* context, const ::grpc::Status& status) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

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
  explicit AdminService(bool cluster_enabled) : cluster_enabled_(cluster_enabled) {}

  ServerUnaryReactor* Version(CallbackServerContext* context, const qdrantd::admin::VersionRequest*,
                              qdrantd::admin::VersionReply* reply) override {
    reply->set_version(version::kQdrantVersion);
    reply->set_commit(version::kCommit);
    reply->set_server_version(version::kServerVersion);
    return Answer(context, ::grpc::Status::OK);
  }

  ServerUnaryReactor* ClusterStatus(CallbackServerContext* context,
                                    const qdrantd::admin::ClusterStatusRequest*,
                                    qdrantd::admin::ClusterStatusReply* reply) override {
    if (cluster_enabled_) {
      // TODO(#5): report Raft state once consensus exists.
      return Answer(context, ::grpc::Status(::grpc::StatusCode::UNIMPLEMENTED,
                                            "cluster status is not implemented yet"));
    }
    reply->set_enabled(false);
    return Answer(context, ::grpc::Status::OK);
  }

  ServerUnaryReactor* RemovePeer(CallbackServerContext* context,
                                 const qdrantd::admin::RemovePeerRequest*,
                                 qdrantd::admin::RemovePeerReply*) override {
    if (!cluster_enabled_) {
      return Answer(context, ::grpc::Status(::grpc::StatusCode::FAILED_PRECONDITION,
                                            "Cluster operations are not available in standalone "
                                            "mode: start qdrantd with cluster.enabled=true"));
    }
    // TODO(#5): peer removal through consensus.
    return Answer(context, ::grpc::Status(::grpc::StatusCode::UNIMPLEMENTED,
                                          "peer removal is not implemented yet"));
  }

 private:
  bool cluster_enabled_;
};

}  // namespace

struct GrpcServer::Impl {
  GrpcServerOptions options;
  QdrantService qdrant_service;
  AdminService admin_service;
  std::vector<std::unique_ptr<::grpc::Service>> engine_services;
  std::unique_ptr<::grpc::Server> server;

  explicit Impl(GrpcServerOptions o)
      : options(std::move(o)), admin_service(options.cluster_enabled) {
    if (options.collections && options.pool) {
      ServiceContext context{options.collections, options.pool, options.snapshots,
                             options.cluster_enabled};
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
  builder.AddListeningPort(address, ::grpc::InsecureServerCredentials(), &bound_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(impl_->options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(impl_->options.max_message_bytes));
  // Without this gRPC may share a port with another process through SO_REUSEPORT, and a second
  // qdrantd on the same port would start silently instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&impl_->qdrant_service);
  builder.RegisterService(&impl_->admin_service);
  for (auto& service : impl_->engine_services) builder.RegisterService(service.get());
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || bound_port == 0) {
    impl_->server.reset();
    return Status::Unavailable("cannot listen for gRPC on " + address +
                               ": the address is in use or invalid");
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
