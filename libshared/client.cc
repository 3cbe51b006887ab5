#include "libshared/client.h"

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

#include "admin.grpc.pb.h"
#include "qdrant.grpc.pb.h"

namespace qd::client {
namespace {

constexpr const char* kHealthCheck = "qdrant.Qdrant/HealthCheck";
constexpr const char* kVersion = "qdrantd.admin.Admin/Version";
constexpr const char* kClusterStatus = "qdrantd.admin.Admin/ClusterStatus";
constexpr const char* kRemovePeer = "qdrantd.admin.Admin/RemovePeer";

bool Contains(const std::string& haystack, const char* needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// gRPC explains a failed connection at length ("failed to connect to all addresses; last
// error: UNKNOWN: ipv4:127.0.0.1:6334: Failed to connect to remote host: Connection refused",
// "DNS resolution failed for x:6334: C-ares status is not ARES_SUCCESS ... Domain name not
// found"); an operator needs the cause in a few words.
std::string ConnectFailureReason(const std::string& grpc_message) {
  const std::string m = Lower(grpc_message);
  if (Contains(m, "connection refused")) return "connection refused";
  if (Contains(m, "dns resolution failed") || Contains(m, "domain name not found") ||
      Contains(m, "name or service not known") || Contains(m, "could not resolve") ||
      Contains(m, "no address")) {
    return "no such host";
  }
  if (Contains(m, "certificate") || Contains(m, "handshake") || Contains(m, "ssl") ||
      Contains(m, "tls")) {
    return "the TLS handshake failed (is the server using TLS, and is its certificate trusted?)";
  }
  if (Contains(m, "failed parsing http/2") || Contains(m, "http1")) {
    return "it does not speak gRPC (is that qdrantd's gRPC port?)";
  }
  if (Contains(m, "no route to host")) return "no route to host";
  if (Contains(m, "network is unreachable")) return "network is unreachable";
  if (Contains(m, "connection reset")) return "the connection was reset";
  if (Contains(m, "timed out") || Contains(m, "timeout")) return "timed out";
  if (Contains(m, "socket closed") || Contains(m, "connection closed") || Contains(m, "goaway") ||
      Contains(m, "eof") || Contains(m, "end of stream")) {
    return "the connection was closed";
  }
  return "the connection failed";
}

// "5s", "0.5s", "1.25s".
std::string Seconds(std::chrono::milliseconds timeout) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", std::chrono::duration<double>(timeout).count());
  return buf;
}

// gRPC falls back on its own bundled roots when given none; an operator expects the system's
// (where their private CA is installed), as curl does. GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, when
// set, still wins because we then pass nothing.
std::string SystemRootCertificates() {
  if (std::getenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH") != nullptr) return "";
  for (const char* path : {"/etc/ssl/certs/ca-certificates.crt",  // Debian, Ubuntu, Arch
                           "/etc/pki/tls/certs/ca-bundle.crt",    // Fedora, RHEL
                           "/etc/ssl/ca-bundle.pem",              // openSUSE
                           "/etc/ssl/cert.pem"}) {                // Alpine, macOS
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;
    std::ostringstream pem;
    pem << in.rdbuf();
    if (in.bad() || pem.str().empty()) continue;
    return pem.str();
  }
  return "";
}

// gRPC metadata values must be printable ASCII; grpcpp fails the call (or worse) otherwise.
bool IsPrintableAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

void DiscardGrpcLog(gpr_log_func_args*) {}

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

  // Whether a failed call never reached the server: the channel is not connected after it.
  // A server that took the call and then failed it leaves the channel READY; one that crashed
  // mid-call did not answer it either.
  bool NotConnected() const {
    return channel->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY;
  }

  std::string Unreachable(const std::string& reason) const {
    return "cannot reach qdrantd at " + options.endpoint.HostPort() + ": " + reason;
  }

  // The one mapping of gRPC status codes to ours on the client side. `method` is the full
  // method name, for "the server does not support ...".
  Status ToStatus(const ::grpc::Status& s, const char* method) const {
    const std::string& message = s.error_message();
    auto server_said = [&](const char* fallback) {
      return message.empty() ? std::string(fallback) : message;
    };
    // Something that speaks HTTP/2 but not gRPC (a web server, a proxy, the REST port of a
    // server that speaks h2c) answers with a plain HTTP status, which gRPC turns into one of
    // several codes with this message.
    if (constexpr std::string_view kHttpStatus = "Received http2 header with status: ";
        message.rfind(kHttpStatus, 0) == 0) {
      return Status::Unavailable(Unreachable("it answered HTTP " +
                                             message.substr(kHttpStatus.size()) +
                                             " instead of gRPC (is that qdrantd's gRPC port?)"));
    }
    switch (s.error_code()) {
      case ::grpc::StatusCode::OK:
        return Status::Ok();
      case ::grpc::StatusCode::UNAVAILABLE:
        if (NotConnected()) return Status::Unavailable(Unreachable(ConnectFailureReason(message)));
        return Status::Unavailable(server_said("the server is unavailable"));
      case ::grpc::StatusCode::DEADLINE_EXCEEDED:
        if (NotConnected()) {
          return Status::Unavailable(Unreachable("timed out after " + Seconds(options.timeout)));
        }
        return Status::DeadlineExceeded("qdrantd at " + options.endpoint.HostPort() +
                                        " did not answer " + method + " within " +
                                        Seconds(options.timeout) + "; its outcome is unknown");
      case ::grpc::StatusCode::INVALID_ARGUMENT:
      case ::grpc::StatusCode::OUT_OF_RANGE:
        return Status::InvalidArgument(server_said("the server rejected the request"));
      case ::grpc::StatusCode::NOT_FOUND:
        return Status::NotFound(server_said("not found"));
      case ::grpc::StatusCode::ALREADY_EXISTS:
        return Status::AlreadyExists(server_said("already exists"));
      case ::grpc::StatusCode::PERMISSION_DENIED:
      case ::grpc::StatusCode::UNAUTHENTICATED:
        return Status::PermissionDenied(
            server_said("permission denied: the API key is missing or wrong"));
      case ::grpc::StatusCode::FAILED_PRECONDITION:
      case ::grpc::StatusCode::ABORTED:
        return Status::FailedPrecondition(server_said("the server refused the request"));
      case ::grpc::StatusCode::RESOURCE_EXHAUSTED:
        return Status(StatusCode::kResourceExhausted, server_said("the server is overloaded"));
      case ::grpc::StatusCode::UNIMPLEMENTED:
        // gRPC itself (and Qdrant's tonic) answer an unknown method with no message; our own
        // server says what is not implemented yet.
        return Status::FailedPrecondition(std::string("the server does not support ") + method +
                                          (message.empty() ? "" : ": " + message));
      case ::grpc::StatusCode::CANCELLED:
        return Status::Internal(server_said("the call was cancelled"));
      case ::grpc::StatusCode::UNKNOWN:
      case ::grpc::StatusCode::INTERNAL:
      case ::grpc::StatusCode::DATA_LOSS:
      case ::grpc::StatusCode::DO_NOT_USE:
        return Status::Internal(server_said("the server failed without saying why"));
    }
    return Status::Internal("unknown gRPC status code " + std::to_string(s.error_code()) + ": " +
                            message);
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const ClientOptions& Client::options() const { return impl_->options; }

Result<std::unique_ptr<Client>> Client::Connect(ClientOptions options) {
  const Uri& endpoint = options.endpoint;
  if (endpoint.host.empty() || endpoint.port == 0) {
    return Status::InvalidArgument("invalid endpoint \"" + endpoint.ToString() +
                                   "\": it needs a host and a port");
  }
  std::shared_ptr<::grpc::ChannelCredentials> credentials;
  if (endpoint.scheme == "https") {
    ::grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = SystemRootCertificates();
    credentials = ::grpc::SslCredentials(ssl);
  } else if (endpoint.scheme == "http") {
    credentials = ::grpc::InsecureChannelCredentials();
  } else {
    return Status::InvalidArgument("invalid endpoint \"" + endpoint.ToString() +
                                   "\": the scheme must be http or https");
  }
  if (options.api_key && !IsPrintableAscii(*options.api_key)) {
    return Status::InvalidArgument("the API key must be printable ASCII");
  }
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("the timeout must be positive");
  }

  auto impl = std::make_unique<Impl>();
  impl->channel = ::grpc::CreateChannel(endpoint.HostPort(), credentials);
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
  if (Status status = impl_->ToStatus(s, kHealthCheck); !status.ok()) return status;
  HealthInfo info{reply.title(), reply.version(), std::nullopt};
  if (reply.has_commit()) info.commit = reply.commit();
  return info;
}

Result<VersionInfo> Client::Version() {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrantd::admin::VersionReply reply;
  ::grpc::Status s = impl_->admin->Version(&context, qdrantd::admin::VersionRequest(), &reply);
  if (Status status = impl_->ToStatus(s, kVersion); !status.ok()) return status;
  return VersionInfo{reply.version(), reply.commit(), reply.server_version()};
}

Result<ClusterStatus> Client::GetClusterStatus() {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrantd::admin::ClusterStatusReply reply;
  ::grpc::Status s =
      impl_->admin->ClusterStatus(&context, qdrantd::admin::ClusterStatusRequest(), &reply);
  if (Status status = impl_->ToStatus(s, kClusterStatus); !status.ok()) return status;
  ClusterStatus status;
  status.enabled = reply.enabled();
  status.peer_id = reply.peer_id();
  status.term = reply.term();
  status.commit = reply.commit();
  if (reply.has_leader()) status.leader = reply.leader();
  status.consensus_thread_status = reply.consensus_thread_status();
  status.peers.reserve(reply.peers_size());
  for (const qdrantd::admin::PeerInfo& p : reply.peers()) {
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
  return impl_->ToStatus(s, kRemovePeer);
}

void SilenceGrpcLogging() { gpr_set_log_function(DiscardGrpcLog); }

}  // namespace qd::client
