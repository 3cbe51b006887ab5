#include "libshared/client.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>
#include <tuple>

#include "admin.grpc.pb.h"
#include "collections_service.grpc.pb.h"
#include "qdrant.grpc.pb.h"

namespace qd::client {
namespace {

constexpr const char* kHealthCheck = "qdrant.Qdrant/HealthCheck";
constexpr const char* kVersion = "qdrantd.admin.Admin/Version";
constexpr const char* kClusterStatus = "qdrantd.admin.Admin/ClusterStatus";
constexpr const char* kRemovePeer = "qdrantd.admin.Admin/RemovePeer";
constexpr const char* kListTransfers = "qdrantd.admin.Admin/ListTransfers";
constexpr const char* kGetRebalance = "qdrantd.admin.Admin/GetRebalance";
constexpr const char* kStartRebalance = "qdrantd.admin.Admin/StartRebalance";
constexpr const char* kDrainPeer = "qdrantd.admin.Admin/DrainPeer";
constexpr const char* kVerifyCollection = "qdrantd.admin.Admin/VerifyCollection";
constexpr const char* kCreateCollection = "qdrant.Collections/Create";
constexpr const char* kListCollections = "qdrant.Collections/List";
constexpr const char* kGetCollection = "qdrant.Collections/Get";
constexpr const char* kDeleteCollection = "qdrant.Collections/Delete";
constexpr const char* kUpdateCollection = "qdrant.Collections/Update";
constexpr const char* kCollectionClusterInfo = "qdrant.Collections/CollectionClusterInfo";
constexpr const char* kUpdateClusterSetup = "qdrant.Collections/UpdateCollectionClusterSetup";

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

// A PEM file named by a flag; errors name the flag and the path.
Result<std::string> ReadPem(const char* flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream pem;
  if (in) pem << in.rdbuf();
  if (!in || in.bad() || pem.str().empty()) {
    return Status::InvalidArgument(std::string(flag) + " " + path + " cannot be read");
  }
  return pem.str();
}

constexpr std::string_view kCollectionsPrefix = "qdrant.Collections/";

qdrant::Distance ToProto(Distance distance) {
  switch (distance) {
    case Distance::kUnknown:
      return qdrant::UnknownDistance;
    case Distance::kCosine:
      return qdrant::Cosine;
    case Distance::kEuclid:
      return qdrant::Euclid;
    case Distance::kDot:
      return qdrant::Dot;
    case Distance::kManhattan:
      return qdrant::Manhattan;
  }
  return qdrant::UnknownDistance;
}

Distance FromProto(qdrant::Distance distance) {
  switch (distance) {
    case qdrant::Cosine:
      return Distance::kCosine;
    case qdrant::Euclid:
      return Distance::kEuclid;
    case qdrant::Dot:
      return Distance::kDot;
    case qdrant::Manhattan:
      return Distance::kManhattan;
    default:
      return Distance::kUnknown;  // UnknownDistance, or a value newer than us
  }
}

// Qdrant deprecated these fields in favour of Memory placements (1.19) but still honours them,
// and they are what an operator knows; the generated accessors carry [[deprecated]].
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void SetOnDiskPayload(qdrant::CreateCollection& request, bool on_disk) {
  request.set_on_disk_payload(on_disk);
}
void SetOnDiskPayload(qdrant::CollectionParamsDiff& params, bool on_disk) {
  params.set_on_disk_payload(on_disk);
}
bool OnDiskPayload(const qdrant::CollectionParams& params) { return params.on_disk_payload(); }
#pragma GCC diagnostic pop

qdrant::CreateCollection ToProto(const CollectionCreate& in) {
  qdrant::CreateCollection out;
  out.set_collection_name(in.name);
  qdrant::VectorParams* params = out.mutable_vectors_config()->mutable_params();
  params->set_size(in.vector_size);
  params->set_distance(ToProto(in.distance));
  if (in.shard_number) out.set_shard_number(*in.shard_number);
  if (in.replication_factor) out.set_replication_factor(*in.replication_factor);
  if (in.write_consistency_factor) out.set_write_consistency_factor(*in.write_consistency_factor);
  if (in.on_disk_payload) SetOnDiskPayload(out, *in.on_disk_payload);
  if (in.hnsw_m) out.mutable_hnsw_config()->set_m(*in.hnsw_m);
  if (in.hnsw_ef_construct) out.mutable_hnsw_config()->set_ef_construct(*in.hnsw_ef_construct);
  return out;
}

qdrant::UpdateCollection ToProto(const CollectionUpdate& in) {
  qdrant::UpdateCollection out;
  out.set_collection_name(in.name);
  if (in.replication_factor) out.mutable_params()->set_replication_factor(*in.replication_factor);
  if (in.write_consistency_factor) {
    out.mutable_params()->set_write_consistency_factor(*in.write_consistency_factor);
  }
  if (in.on_disk_payload) SetOnDiskPayload(*out.mutable_params(), *in.on_disk_payload);
  if (in.hnsw_m) out.mutable_hnsw_config()->set_m(*in.hnsw_m);
  if (in.hnsw_ef_construct) out.mutable_hnsw_config()->set_ef_construct(*in.hnsw_ef_construct);
  return out;
}

CollectionInfo FromProto(const std::string& name, const qdrant::CollectionInfo& in) {
  CollectionInfo out;
  out.name = name;
  out.status = qdrant::CollectionStatus_Name(in.status());
  if (out.status.empty()) out.status = "Unknown(" + std::to_string(in.status()) + ")";
  out.optimizer_ok = in.optimizer_status().ok();
  out.optimizer_error = in.optimizer_status().error();
  if (in.has_points_count()) out.points_count = in.points_count();
  if (in.has_indexed_vectors_count()) out.indexed_vectors_count = in.indexed_vectors_count();
  out.segments_count = in.segments_count();

  const qdrant::CollectionParams& params = in.config().params();
  const qdrant::VectorsConfig& vectors = params.vectors_config();
  if (vectors.has_params()) {
    out.vectors.push_back({"", vectors.params().size(), FromProto(vectors.params().distance())});
  } else if (vectors.has_params_map()) {
    for (const auto& [vector_name, p] : vectors.params_map().map()) {
      out.vectors.push_back({vector_name, p.size(), FromProto(p.distance())});
    }
  }
  std::sort(out.vectors.begin(), out.vectors.end(),
            [](const VectorSpace& a, const VectorSpace& b) { return a.name < b.name; });
  for (const auto& [sparse_name, unused] : params.sparse_vectors_config().map()) {
    out.sparse_vectors.push_back(sparse_name);
  }
  std::sort(out.sparse_vectors.begin(), out.sparse_vectors.end());
  out.shard_number = params.shard_number();
  if (params.has_replication_factor()) out.replication_factor = params.replication_factor();
  if (params.has_write_consistency_factor()) {
    out.write_consistency_factor = params.write_consistency_factor();
  }
  out.on_disk_payload = OnDiskPayload(params);
  const qdrant::HnswConfigDiff& hnsw = in.config().hnsw_config();
  if (hnsw.has_m()) out.hnsw_m = hnsw.m();
  if (hnsw.has_ef_construct()) out.hnsw_ef_construct = hnsw.ef_construct();

  for (const auto& [field, schema] : in.payload_schema()) {
    PayloadIndex index{field, qdrant::PayloadSchemaType_Name(schema.data_type()), std::nullopt};
    if (index.type.empty()) index.type = "Unknown(" + std::to_string(schema.data_type()) + ")";
    if (schema.has_points()) index.points = schema.points();
    out.payload_schema.push_back(std::move(index));
  }
  std::sort(out.payload_schema.begin(), out.payload_schema.end(),
            [](const PayloadIndex& a, const PayloadIndex& b) { return a.field < b.field; });
  for (const qdrant::CollectionWarning& w : in.warnings()) out.warnings.push_back(w.message());
  return out;
}

}  // namespace

std::string_view DistanceName(Distance distance) {
  switch (distance) {
    case Distance::kUnknown:
      return "Unknown";
    case Distance::kCosine:
      return "Cosine";
    case Distance::kEuclid:
      return "Euclid";
    case Distance::kDot:
      return "Dot";
    case Distance::kManhattan:
      return "Manhattan";
  }
  return "Unknown";
}

std::optional<Distance> ParseDistance(std::string_view name) {
  const std::string lower = Lower(std::string(name));
  for (Distance d : {Distance::kCosine, Distance::kEuclid, Distance::kDot, Distance::kManhattan}) {
    if (lower == Lower(std::string(DistanceName(d)))) return d;
  }
  return std::nullopt;
}

struct Client::Impl {
  ClientOptions options;
  std::shared_ptr<::grpc::Channel> channel;
  std::unique_ptr<qdrant::Qdrant::Stub> qdrant;
  std::unique_ptr<qdrantd::admin::Admin::Stub> admin;
  std::unique_ptr<qdrant::Collections::Stub> collections;

  void Prepare(::grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + options.timeout);
    if (options.api_key) context.AddMetadata("api-key", *options.api_key);
  }

  // Whether a failed call never reached the server: the channel is not connected after it.
  // A server that took the call and then failed it leaves the channel READY; one that crashed
  // mid-call did not answer it either.
  bool NotConnected() const {
    if (assume_connected_for_testing) return false;
    return channel->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY;
  }
  bool assume_connected_for_testing = false;

  std::string Unreachable(const std::string& reason) const {
    return "cannot reach qdrantd at " + options.endpoint.HostPort() + ": " + reason;
  }

  // Over https, a failed handshake, or a connection the server closed right after it (TLS 1.3
  // servers refuse a client certificate only then), most often means one of the certificates.
  std::string ConnectFailure(const std::string& grpc_message) const {
    std::string reason = ConnectFailureReason(grpc_message);
    if (options.endpoint.scheme != "https" || reason == "connection refused" ||
        reason == "no such host" || reason == "timed out" || reason == "no route to host" ||
        reason == "network is unreachable") {
      return reason;
    }
    std::string ca = options.tls_ca_path ? "--tls-ca " + *options.tls_ca_path
                                         : "a CA this system trusts (else give it with --tls-ca)";
    std::string client =
        options.tls_cert_path
            ? "did it refuse the client certificate " + *options.tls_cert_path + "?"
            : "does it require a client certificate (--tls-cert, --tls-key)?";
    return "the TLS connection failed: is the server using TLS, is its certificate signed by " +
           ca + ", " + client;
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
        if (NotConnected()) return Status::Unavailable(Unreachable(ConnectFailure(message)));
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
      // The server's own words ("Invalid API key or JWT", "Forbidden: Write access is
      // required"), then what the operator can do about it.
      case ::grpc::StatusCode::UNAUTHENTICATED:
        return Status::Unauthenticated(
            "qdrantd at " + options.endpoint.HostPort() +
            " refused the call: " + server_said("the API key is missing or wrong") +
            (options.api_key ? " (the API key given is not accepted)"
                             : " (give the API key with --api-key, QDCTL_API_KEY or a profile's "
                               "api_key)"));
      case ::grpc::StatusCode::PERMISSION_DENIED:
        return Status::PermissionDenied("qdrantd at " + options.endpoint.HostPort() +
                                        " refused the call: " + server_said("permission denied") +
                                        " (the API key given does not allow " + method + ")");
      case ::grpc::StatusCode::FAILED_PRECONDITION:
      case ::grpc::StatusCode::ABORTED:
        return Status::FailedPrecondition(server_said("the server refused the request"));
      case ::grpc::StatusCode::RESOURCE_EXHAUSTED:
        return Status(StatusCode::kResourceExhausted, server_said("the server is overloaded"));
      case ::grpc::StatusCode::UNIMPLEMENTED:
        // gRPC itself (and Qdrant's tonic) answer an unknown method with no message; our own
        // server says what is not implemented yet. Every Qdrant serves Collections, so only a
        // qdrantd from before it did (or something else entirely) lacks it.
        if (message.empty() && std::string_view(method).rfind(kCollectionsPrefix, 0) == 0) {
          return Status::FailedPrecondition(
              std::string("the server does not support ") + method +
              ": it does not serve collections over gRPC (a qdrantd older than this qdctl?)");
        }
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
    if (options.tls_ca_path) {
      Result<std::string> ca = ReadPem("--tls-ca", *options.tls_ca_path);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = std::move(*ca);
    } else {
      ssl.pem_root_certs = SystemRootCertificates();
    }
    if (options.tls_cert_path.has_value() != options.tls_key_path.has_value()) {
      return Status::InvalidArgument("--tls-cert and --tls-key go together");
    }
    if (options.tls_cert_path) {
      Result<std::string> cert = ReadPem("--tls-cert", *options.tls_cert_path);
      if (!cert.ok()) return cert.status();
      Result<std::string> key = ReadPem("--tls-key", *options.tls_key_path);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = std::move(*cert);
      ssl.pem_private_key = std::move(*key);
    }
    credentials = ::grpc::SslCredentials(ssl);
  } else if (options.tls_ca_path || options.tls_cert_path || options.tls_key_path) {
    return Status::InvalidArgument(
        "--tls-ca, --tls-cert and --tls-key need an https:// URL, not \"" + endpoint.ToString() +
        "\"");
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
  impl->collections = qdrant::Collections::NewStub(impl->channel);
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
    PeerStatus peer{p.id(), p.uri(), p.role(), p.is_voter(), p.reachable(), p.node_type()};
    if (p.has_term()) peer.term = p.term();
    if (p.has_commit()) peer.commit = p.commit();
    if (p.has_applied()) peer.applied = p.applied();
    if (p.has_lag()) peer.lag = p.lag();
    status.peers.push_back(std::move(peer));
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

namespace {

TransferStatus FromProto(const qdrantd::admin::TransferInfo& t) {
  TransferStatus out{.collection = t.collection(),
                     .shard_id = t.shard_id(),
                     .from_peer_id = t.from_peer_id(),
                     .to_peer_id = t.to_peer_id(),
                     .method = t.method(),
                     .sync = t.sync(),
                     .reason = t.reason(),
                     .points_done = t.points_done(),
                     .points_total = t.points_total(),
                     .bytes_done = t.bytes_done(),
                     .bytes_total = t.bytes_total(),
                     .ops_done = t.ops_done(),
                     .ops_total = t.ops_total(),
                     .started_at_ms = t.started_at_ms(),
                     .updated_at_ms = t.updated_at_ms(),
                     .bytes_per_second = t.bytes_per_second(),
                     .eta_seconds = std::nullopt};
  if (t.has_eta_seconds()) out.eta_seconds = t.eta_seconds();
  return out;
}

}  // namespace

Result<std::vector<TransferStatus>> Client::ListTransfers(
    const std::optional<std::string>& collection) {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrantd::admin::ListTransfersRequest request;
  if (collection) request.set_collection(*collection);
  qdrantd::admin::ListTransfersReply reply;
  ::grpc::Status s = impl_->admin->ListTransfers(&context, request, &reply);
  if (Status status = impl_->ToStatus(s, kListTransfers); !status.ok()) return status;
  std::vector<TransferStatus> out;
  for (const qdrantd::admin::TransferInfo& t : reply.transfers()) out.push_back(FromProto(t));
  return out;
}

Result<RebalanceInfo> Client::GetRebalance() {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrantd::admin::GetRebalanceReply reply;
  ::grpc::Status s =
      impl_->admin->GetRebalance(&context, qdrantd::admin::GetRebalanceRequest(), &reply);
  if (Status status = impl_->ToStatus(s, kGetRebalance); !status.ok()) return status;
  RebalanceInfo out{.state = reply.state(),
                    .reason = reply.reason(),
                    .moves_done = reply.moves_done(),
                    .moves_failed = reply.moves_failed(),
                    .moves_in_flight = reply.moves_in_flight(),
                    .moves_planned = reply.moves_planned(),
                    .moves_total = reply.moves_total(),
                    .started_at_ms = reply.started_at_ms(),
                    .eta_seconds = std::nullopt,
                    .draining = {reply.draining().begin(), reply.draining().end()},
                    .plan = {},
                    .in_flight = {},
                    .stuck = {reply.stuck().begin(), reply.stuck().end()},
                    .replicas = {}};
  if (reply.has_eta_seconds()) out.eta_seconds = reply.eta_seconds();
  for (const qdrantd::admin::PlannedMove& m : reply.plan()) {
    out.plan.push_back(
        {.kind = m.kind(),
         .collection = m.collection(),
         .shard_id = m.shard_id(),
         .from_peer_id = m.from_peer_id(),
         .to_peer_id = m.has_to_peer_id() ? std::optional<uint64_t>(m.to_peer_id()) : std::nullopt,
         .reason = m.reason()});
  }
  for (const qdrantd::admin::TransferInfo& t : reply.in_flight())
    out.in_flight.push_back(FromProto(t));
  for (const qdrantd::admin::PeerReplicas& r : reply.replicas()) {
    out.replicas.push_back({.peer_id = r.peer_id(), .now = r.now(), .after = r.after()});
  }
  return out;
}

Status Client::StartRebalance() {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrantd::admin::StartRebalanceReply reply;
  ::grpc::Status s =
      impl_->admin->StartRebalance(&context, qdrantd::admin::StartRebalanceRequest(), &reply);
  return impl_->ToStatus(s, kStartRebalance);
}

Status Client::DrainPeer(uint64_t peer_id, bool cancel) {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrantd::admin::DrainPeerRequest request;
  request.set_peer_id(peer_id);
  request.set_cancel(cancel);
  qdrantd::admin::DrainPeerReply reply;
  ::grpc::Status s = impl_->admin->DrainPeer(&context, request, &reply);
  return impl_->ToStatus(s, kDrainPeer);
}

Result<std::vector<ReplicaDigest>> Client::VerifyCollection(const std::string& name) {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrantd::admin::VerifyCollectionRequest request;
  request.set_collection_name(name);
  qdrantd::admin::VerifyCollectionReply reply;
  ::grpc::Status s = impl_->admin->VerifyCollection(&context, request, &reply);
  if (Status status = impl_->ToStatus(s, kVerifyCollection); !status.ok()) return status;
  std::vector<ReplicaDigest> out;
  for (const qdrantd::admin::ReplicaDigestInfo& r : reply.replicas()) {
    out.push_back(
        {r.shard_id(), r.peer_id(), r.state(), r.error(), r.last_op(), r.points(), r.digest()});
  }
  return out;
}

Status Client::CreateCollection(const CollectionCreate& request) {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrant::CollectionOperationResponse reply;
  ::grpc::Status s = impl_->collections->Create(&context, ToProto(request), &reply);
  if (Status status = impl_->ToStatus(s, kCreateCollection); !status.ok()) return status;
  // Qdrant answers an error for every failure it knows of; false would be a server bug.
  if (!reply.result()) {
    return Status::Internal("the server answered that it did not create collection \"" +
                            request.name + "\", without saying why");
  }
  return Status::Ok();
}

Status Client::UpdateCollection(const CollectionUpdate& request) {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrant::CollectionOperationResponse reply;
  ::grpc::Status s = impl_->collections->Update(&context, ToProto(request), &reply);
  if (Status status = impl_->ToStatus(s, kUpdateCollection); !status.ok()) return status;
  if (!reply.result()) {
    return Status::Internal("the server answered that it did not update collection \"" +
                            request.name + "\", without saying why");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> Client::ListCollections() {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrant::ListCollectionsResponse reply;
  ::grpc::Status s = impl_->collections->List(&context, qdrant::ListCollectionsRequest(), &reply);
  if (Status status = impl_->ToStatus(s, kListCollections); !status.ok()) return status;
  std::vector<std::string> names;
  names.reserve(reply.collections_size());
  for (const qdrant::CollectionDescription& c : reply.collections()) names.push_back(c.name());
  std::sort(names.begin(), names.end());
  return names;
}

Result<CollectionInfo> Client::GetCollection(const std::string& name) {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrant::GetCollectionInfoRequest request;
  request.set_collection_name(name);
  qdrant::GetCollectionInfoResponse reply;
  ::grpc::Status s = impl_->collections->Get(&context, request, &reply);
  if (Status status = impl_->ToStatus(s, kGetCollection); !status.ok()) return status;
  return FromProto(name, reply.result());
}

Status Client::DeleteCollection(const std::string& name) {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrant::DeleteCollection request;
  request.set_collection_name(name);
  qdrant::CollectionOperationResponse reply;
  ::grpc::Status s = impl_->collections->Delete(&context, request, &reply);
  if (Status status = impl_->ToStatus(s, kDeleteCollection); !status.ok()) return status;
  // Qdrant answers result=false, not NOT_FOUND, when there was nothing to delete.
  if (!reply.result()) return Status::NotFound("collection \"" + name + "\" does not exist");
  return Status::Ok();
}

Result<CollectionCluster> Client::GetCollectionCluster(const std::string& name) {
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrant::CollectionClusterInfoRequest request;
  request.set_collection_name(name);
  qdrant::CollectionClusterInfoResponse reply;
  ::grpc::Status s = impl_->collections->CollectionClusterInfo(&context, request, &reply);
  if (Status status = impl_->ToStatus(s, kCollectionClusterInfo); !status.ok()) return status;
  CollectionCluster out{.peer_id = reply.peer_id(),
                        .shard_count = reply.shard_count(),
                        .replicas = {},
                        .transfers = {}};
  for (const qdrant::LocalShardInfo& l : reply.local_shards()) {
    out.replicas.push_back({.shard_id = l.shard_id(),
                            .peer_id = reply.peer_id(),
                            .state = qdrant::ReplicaState_Name(l.state()),
                            .points_count = l.points_count()});
  }
  for (const qdrant::RemoteShardInfo& r : reply.remote_shards()) {
    out.replicas.push_back({.shard_id = r.shard_id(),
                            .peer_id = r.peer_id(),
                            .state = qdrant::ReplicaState_Name(r.state()),
                            .points_count = std::nullopt});
  }
  std::sort(out.replicas.begin(), out.replicas.end(), [](const auto& a, const auto& b) {
    return std::tie(a.shard_id, a.peer_id) < std::tie(b.shard_id, b.peer_id);
  });
  for (const qdrant::ShardTransferInfo& t : reply.shard_transfers()) {
    out.transfers.push_back(
        {.shard_id = t.shard_id(), .from = t.from(), .to = t.to(), .sync = t.sync()});
  }
  return out;
}

Status Client::UpdateClusterSetup(const ShardOperation& op) {
  std::optional<qdrant::ShardTransferMethod> method;
  if (op.method) {
    if (*op.method == "stream_records") {
      method = qdrant::StreamRecords;
    } else if (*op.method == "snapshot") {
      method = qdrant::Snapshot;
    } else if (*op.method == "wal_delta") {
      method = qdrant::WalDelta;
    } else {
      return Status::InvalidArgument("unknown transfer method \"" + *op.method +
                                     "\": use stream_records, snapshot or wal_delta");
    }
  }
  qdrant::UpdateCollectionClusterSetupRequest request;
  request.set_collection_name(op.collection);
  auto transfer = [&](auto* t) {
    t->set_shard_id(op.shard_id);
    t->set_from_peer_id(op.from_peer_id);
    t->set_to_peer_id(op.to_peer_id);
  };
  switch (op.kind) {
    case ShardOperation::Kind::kReplicate:
      transfer(request.mutable_replicate_shard());
      if (method) request.mutable_replicate_shard()->set_method(*method);
      break;
    case ShardOperation::Kind::kMove:
      transfer(request.mutable_move_shard());
      if (method) request.mutable_move_shard()->set_method(*method);
      break;
    case ShardOperation::Kind::kAbort:
      transfer(request.mutable_abort_transfer());
      break;
    case ShardOperation::Kind::kRestart:
      if (!method) return Status::InvalidArgument("restarting a transfer needs its method");
      transfer(request.mutable_restart_transfer());
      request.mutable_restart_transfer()->set_method(*method);
      break;
    case ShardOperation::Kind::kDrop:
      request.mutable_drop_replica()->set_shard_id(op.shard_id);
      request.mutable_drop_replica()->set_peer_id(op.from_peer_id);
      break;
  }
  ::grpc::ClientContext context;
  impl_->Prepare(context);
  qdrant::UpdateCollectionClusterSetupResponse reply;
  ::grpc::Status s = impl_->collections->UpdateCollectionClusterSetup(&context, request, &reply);
  if (Status status = impl_->ToStatus(s, kUpdateClusterSetup); !status.ok()) return status;
  if (!reply.result()) {
    return Status::Internal(
        "the server answered that it did not apply the operation, without "
        "saying why");
  }
  return Status::Ok();
}

void SilenceGrpcLogging() { gpr_set_log_function(DiscardGrpcLog); }

std::string CreateCollectionRequestTextForTesting(const CollectionCreate& request) {
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintToString(ToProto(request), &text);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

Status Client::StatusFromGrpcForTesting(int grpc_code, const std::string& message,
                                        const char* method) {
  Impl impl;  // no channel: with assume_connected_for_testing, ToStatus never asks it
  impl.assume_connected_for_testing = true;
  impl.options.endpoint.host = "localhost";
  impl.options.endpoint.port = 6334;
  return impl.ToStatus(::grpc::Status(static_cast<::grpc::StatusCode>(grpc_code), message), method);
}

Result<CollectionInfo> CollectionInfoFromTextForTesting(const std::string& name,
                                                        const std::string& response_text) {
  // Collects the parser's complaint instead of letting protobuf log it to stderr.
  struct Errors : google::protobuf::io::ErrorCollector {
    std::string first;
    void AddError(int line, int column, const std::string& message) override {
      if (first.empty())
        first = std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
    }
  } errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  qdrant::GetCollectionInfoResponse response;
  if (!parser.ParseFromString(response_text, &response)) {
    return Status::InvalidArgument("not a GetCollectionInfoResponse in text format: " +
                                   errors.first);
  }
  return FromProto(name, response.result());
}

}  // namespace qd::client
