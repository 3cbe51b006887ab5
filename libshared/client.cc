#include "libshared/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cctype>

#include "admin.grpc.pb.h"
#include "qdrant.grpc.pb.h"

namespace qd::client {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// gRPC explains connection failures at length ("failed to connect to all addresses; last
// error: UNKNOWN: ipv4:127.0.0.1:6334: Failed to connect to remote host: Connection refused");
// an operator needs the last clause.
std::string ConnectFailureReason(const std::string& grpc_message) {
  std::string m = Lower(grpc_message);
  if (m.find("connection refused") != std::string::npos) return "connection refused";
  if (m.find("dns") != std::string::npos || m.find("resolve") != std::string::npos ||
      m.find("name or service not known") != std::string::npos) {
    return "cannot resolve the host name";
  }
  if (m.find("ssl") != std::string::npos || m.find("handshake") != std::string::npos) {
    return "TLS handshake failed";
  }
  if (m.find("no route") != std::string::npos) return "no route to host";
  if (m.find("network is unreachable") != std::string::npos) return "network is unreachable";
  return "the connection failed";
}

}  // namespace

struct Client::Impl {
  ClientOptions options;
  std::shared_ptr<::grpc::Channel> channel;
  std::unique_ptr<qdrant::Qdrant::Stub> qdrant;
  std::unique_ptr<qdrantd::admin::Admin::Stub> admin;

  void Prepare(::grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + options.timeout);
    if (options.api_key) context.AddMetadata("api-key", *options.api_key);
  }

  // The one mapping of gRPC status codes to ours on the client side.
  Status ToStatus(const ::grpc::Status& s, const char* method) const {
    std::string where = "cannot reach qdrantd at " + options.endpoint.HostPort() + ": ";
    switch (s.error_code()) {
      case ::grpc::StatusCode::OK:
        return Status::Ok();
      case ::grpc::StatusCode::UNAVAILABLE:
        if (channel->GetState(false) != GRPC_CHANNEL_READY) {
          return Status::Unavailable(where + ConnectFailureReason(s.error_message()));
        }
        return Status::Unavailable(s.error_message());
      case ::grpc::StatusCode::DEADLINE_EXCEEDED:
        if (channel->GetState(false) != GRPC_CHANNEL_READY) {
          auto seconds = std::chrono::duration<double>(options.timeout).count();
          char buf[32];
          std::snprintf(buf, sizeof buf, "%gs", seconds);
          return Status::Unavailable(where + "timed out after " + buf);
        }
        return Status::DeadlineExceeded(s.error_message());
      case ::grpc::StatusCode::INVALID_ARGUMENT:
      case ::grpc::StatusCode::OUT_OF_RANGE:
        return Status::InvalidArgument(s.error_message());
      case ::grpc::StatusCode::NOT_FOUND:
        return Status::NotFound(s.error_message());
      case ::grpc::StatusCode::ALREADY_EXISTS:
        return Status::AlreadyExists(s.error_message());
      case ::grpc::StatusCode::PERMISSION_DENIED:
      case ::grpc::StatusCode::UNAUTHENTICATED:
        return Status::PermissionDenied(s.error_message());
      case ::grpc::StatusCode::FAILED_PRECONDITION:
      case ::grpc::StatusCode::ABORTED:
        return Status::FailedPrecondition(s.error_message());
      case ::grpc::StatusCode::RESOURCE_EXHAUSTED:
        return Status(StatusCode::kResourceExhausted, s.error_message());
      case ::grpc::StatusCode::UNIMPLEMENTED:
        return Status::FailedPrecondition(std::string("the server does not support ") + method +
                                          (s.error_message().empty() ? "" : ": " + s.error_message()));
      case ::grpc::StatusCode::CANCELLED:
      case ::grpc::StatusCode::UNKNOWN:
      case ::grpc::StatusCode::INTERNAL:
      case ::grpc::StatusCode::DATA_LOSS:
      case ::grpc::StatusCode::DO_NOT_USE:
        return Status::Internal(s.error_message());
    }
    return Status::Internal(s.error_message());
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

std::unique_ptr<Client> Client::Connect(ClientOptions options) {
  auto impl = std::make_unique<Impl>();
  std::shared_ptr<::grpc::ChannelCredentials> credentials =
      options.endpoint.scheme == "https" ? ::grpc::SslCredentials(::grpc::SslCredentialsOptions())
                                         : ::grpc::InsecureChannelCredentials();
  impl->channel = ::grpc::CreateChannel(options.endpoint.HostPort(), credentials);
  impl->qdrant = qdrant::Qdrant::NewStub(impl->channel);
  impl->admin = qdrantd::admin::Admin::NewStub(impl->channel);
  impl->options = std::move(options);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<HealthInfo> Client::HealthCheck() {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrant::HealthCheckReply reply;
  ::grpc::Status s = impl_->qdrant->HealthCheck(&context, qdrant::HealthCheckRequest(), &reply);
  if (!s.ok()) return impl_->ToStatus(s, "HealthCheck");
  HealthInfo info{reply.title(), reply.version(), std::nullopt};
  if (reply.has_commit()) info.commit = reply.commit();
  return info;
}

Result<VersionInfo> Client::Version() {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrantd::admin::VersionReply reply;
  ::grpc::Status s = impl_->admin->Version(&context, qdrantd::admin::VersionRequest(), &reply);
  if (!s.ok()) return impl_->ToStatus(s, "the qdrantd admin API (Version)");
  return VersionInfo{reply.version(), reply.commit(), reply.server_version()};
}

Result<ClusterStatus> Client::GetClusterStatus() {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrantd::admin::ClusterStatusReply reply;
  ::grpc::Status s =
      impl_->admin->ClusterStatus(&context, qdrantd::admin::ClusterStatusRequest(), &reply);
  if (!s.ok()) return impl_->ToStatus(s, "the qdrantd admin API (ClusterStatus)");
  ClusterStatus status;
  status.enabled = reply.enabled();
  status.peer_id = reply.peer_id();
  status.term = reply.term();
  status.commit = reply.commit();
  if (reply.has_leader()) status.leader = reply.leader();
  status.consensus_thread_status = reply.consensus_thread_status();
  for (const auto& p : reply.peers()) {
    status.peers.push_back({p.id(), p.uri(), p.role(), p.is_voter(), p.reachable()});
  }
  return status;
}

Status Client::RemovePeer(uint64_t peer_id, bool force) {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrantd::admin::RemovePeerRequest request;
  request.set_peer_id(peer_id);
  request.set_force(force);
  qdrantd::admin::RemovePeerReply reply;
  ::grpc::Status s = impl_->admin->RemovePeer(&context, request, &reply);
  return impl_->ToStatus(s, "the qdrantd admin API (RemovePeer)");
}

}  // namespace qd::client
