// Client: a connection to one qdrantd (or Qdrant) over gRPC, for qdctl and later other tools:
// Qdrant's public services (proto/qdrant.proto) and qdrantd's admin service (proto/admin.proto),
// the same protos the daemon serves, so the two ends cannot drift. Every call has a deadline
// (ClientOptions::timeout) and every failure comes back as a Status whose message a person
// understands ("cannot reach qdrantd at localhost:6334: connection refused"), never gRPC's
// internals. grpcpp and the generated code stay in client.cc behind the pimpl.
// Thread: a Client may be used by one thread at a time; calls block until answered or timed out.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"
#include "libshared/uri.h"

namespace qd::client {

struct ClientOptions {
  Uri endpoint;                             // https: TLS with the system's roots; http: plaintext
  std::optional<std::string> api_key;       // sent as the "api-key" metadata with every call
  std::chrono::milliseconds timeout{5000};  // deadline of each call
  // https only, PEM files. tls_ca_path: the CA the server's certificate must chain to (default:
  // the system's CAs); tls_cert_path and tls_key_path (both or neither): this client's
  // certificate, for a server that requires one (service.verify_https_client_certificate).
  std::optional<std::string> tls_ca_path;
  std::optional<std::string> tls_cert_path;
  std::optional<std::string> tls_key_path;
};

// qdrant.Qdrant/HealthCheck.
struct HealthInfo {
  std::string title;  // "qdrant - vector search engine"
  std::string version;
  std::optional<std::string> commit;
};

// qdrantd.admin.Admin/Version.
struct VersionInfo {
  std::string version;         // the Qdrant version clients see, e.g. 1.19.0
  std::string commit;          // git commit of the server's build
  std::string server_version;  // qdrantd's own release number
};

// qdrantd.admin.Admin/ClusterStatus: what REST GET /cluster shows.
struct PeerStatus {
  uint64_t id = 0;
  std::string uri;
  std::string role;  // Leader, Follower, Candidate, PreCandidate, or empty when unknown
  bool is_voter = false;
  bool reachable = false;  // and it answered the server's status call
  std::string node_type;   // Normal or Listener
  // As the peer reported them to the server; nullopt when it did not answer.
  std::optional<uint64_t> term, commit, applied;
  std::optional<uint64_t> lag;  // Raft entries the leader committed that it has not applied
};

struct ClusterStatus {
  bool enabled = false;  // false: standalone mode, nothing else is filled in
  uint64_t peer_id = 0;  // the peer that answered
  std::vector<PeerStatus> peers;
  uint64_t term = 0;
  uint64_t commit = 0;
  std::optional<uint64_t> leader;
  std::string consensus_thread_status;  // working, stopped or stopped_with_err
};

// qdrantd.admin.Admin/ListTransfers: a shard transfer with the progress its source last
// reported through consensus (docs/admin-api.md).
struct TransferStatus {
  std::string collection;
  uint32_t shard_id = 0;
  uint64_t from_peer_id = 0;
  uint64_t to_peer_id = 0;
  std::string method;
  bool sync = false;
  std::string reason;  // "" (requested), recovery, rebalance, drain, heal
  uint64_t points_done = 0;
  uint64_t points_total = 0;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;  // snapshot: the snapshot's files
  uint64_t ops_done = 0;
  uint64_t ops_total = 0;
  uint64_t started_at_ms = 0;  // 0: no progress reported yet
  uint64_t updated_at_ms = 0;
  double bytes_per_second = 0;
  std::optional<double> eta_seconds;
};

// qdrantd.admin.Admin/GetRebalance: the rebalance record and plan (docs/cluster.md).
struct RebalanceMove {
  std::string kind;  // move, replicate, drop
  std::string collection;
  uint32_t shard_id = 0;
  uint64_t from_peer_id = 0;
  std::optional<uint64_t> to_peer_id;
  std::string reason;  // drain, heal, rebalance
};

struct RebalanceInfo {
  std::string state;  // idle, running, done
  std::string reason;
  uint64_t moves_done = 0;
  uint64_t moves_failed = 0;
  uint64_t moves_in_flight = 0;
  uint64_t moves_planned = 0;
  uint64_t moves_total = 0;
  uint64_t started_at_ms = 0;
  std::optional<uint64_t> eta_seconds;
  std::vector<uint64_t> draining;
  std::vector<RebalanceMove> plan;
  std::vector<TransferStatus> in_flight;
  std::vector<std::string> stuck;
  struct PeerReplicas {
    uint64_t peer_id = 0;
    uint64_t now = 0;
    uint64_t after = 0;
  };
  std::vector<PeerReplicas> replicas;
};

// qdrantd.admin.Admin/VerifyCollection: one replica's digest (docs/admin-api.md).
struct ReplicaDigest {
  uint32_t shard_id = 0;
  uint64_t peer_id = 0;
  std::string state;
  std::string error;  // why no digest was taken; empty when it was
  uint64_t last_op = 0;
  uint64_t points = 0;
  std::string digest;  // equal replicas at the same last_op have equal digests
};

// qdrant.Collections/UpdateCollectionClusterSetup: one shard operation (compat.md §6.5).
struct ShardOperation {
  enum class Kind { kReplicate, kMove, kAbort, kDrop, kRestart };
  Kind kind = Kind::kReplicate;
  std::string collection;
  uint32_t shard_id = 0;
  uint64_t from_peer_id = 0;  // kDrop: the peer whose replica is dropped
  uint64_t to_peer_id = 0;
  // stream_records, snapshot or wal_delta; required for kRestart, else the server chooses.
  std::optional<std::string> method;
};

// qdrant.Collections/CollectionClusterInfo: the collection's replicas as the answering peer
// sees them; points_count is known for that peer's own replicas only.
struct CollectionCluster {
  uint64_t peer_id = 0;
  uint64_t shard_count = 0;
  struct Replica {
    uint32_t shard_id = 0;
    uint64_t peer_id = 0;
    std::string state;  // Active, Dead, Partial, ...
    std::optional<uint64_t> points_count;
  };
  std::vector<Replica> replicas;  // by shard, then peer
  struct Transfer {
    uint32_t shard_id = 0;
    uint64_t from = 0;
    uint64_t to = 0;
    bool sync = false;
  };
  std::vector<Transfer> transfers;
};

// qdrant.Distance: how a collection compares vectors.
enum class Distance { kUnknown, kCosine, kEuclid, kDot, kManhattan };

// Qdrant's spelling: "Cosine", "Euclid", "Dot", "Manhattan"; "Unknown" for kUnknown.
std::string_view DistanceName(Distance distance);
// Qdrant's names in any case ("cosine", "Dot"); nullopt for anything else, kUnknown included.
std::optional<Distance> ParseDistance(std::string_view name);

// qdrant.Collections/Create: what qdctl can set. A collection of one unnamed dense vector per
// point; every unset optional stays out of the request, so the server's defaults apply (its
// config.yaml's, as for Qdrant).
struct CollectionCreate {
  std::string name;
  uint64_t vector_size = 0;
  Distance distance = Distance::kCosine;
  std::optional<uint32_t> shard_number;
  std::optional<uint32_t> replication_factor;
  std::optional<uint32_t> write_consistency_factor;
  std::optional<bool> on_disk_payload;        // deprecated by Qdrant 1.19, still honoured
  std::optional<uint64_t> hnsw_m;             // hnsw_config.m
  std::optional<uint64_t> hnsw_ef_construct;  // hnsw_config.ef_construct
};

// qdrant.Collections/Update: the settings of an existing collection qdctl can change. Only
// those set go into the request (Qdrant's *Diff messages); the others stay as they are.
struct CollectionUpdate {
  std::string name;
  std::optional<uint32_t> replication_factor;
  std::optional<uint32_t> write_consistency_factor;
  std::optional<bool> on_disk_payload;
  std::optional<uint64_t> hnsw_m;
  std::optional<uint64_t> hnsw_ef_construct;
};

// One vector space of a collection: name "" for the unnamed vector.
struct VectorSpace {
  std::string name;
  uint64_t size = 0;
  Distance distance = Distance::kUnknown;
};

// One payload index of a collection (CollectionInfo.payload_schema).
struct PayloadIndex {
  std::string field;
  std::string type;                // Qdrant's PayloadSchemaType name: Keyword, Integer, ...
  std::optional<uint64_t> points;  // points indexed, when the server says
};

// qdrant.Collections/Get: the parts of CollectionInfo an operator looks at.
struct CollectionInfo {
  std::string name;    // as asked for (Qdrant does not echo it)
  std::string status;  // Green, Yellow, Grey or Red (qdrant.CollectionStatus)
  bool optimizer_ok = true;
  std::string optimizer_error;  // empty when optimizer_ok
  std::optional<uint64_t> points_count;
  std::optional<uint64_t> indexed_vectors_count;
  uint64_t segments_count = 0;
  std::vector<VectorSpace> vectors;         // sorted by name
  std::vector<std::string> sparse_vectors;  // names, sorted
  uint32_t shard_number = 0;
  std::optional<uint32_t> replication_factor;
  std::optional<uint32_t> write_consistency_factor;
  bool on_disk_payload = false;
  std::optional<uint64_t> hnsw_m;  // the collection's HNSW defaults
  std::optional<uint64_t> hnsw_ef_construct;
  std::vector<PayloadIndex> payload_schema;  // sorted by field
  std::vector<std::string> warnings;
};

class Client {
 public:
  // Creates the channel; the connection is made by the first call, so an unreachable server
  // shows up there, not here. Errors: kInvalidArgument for an endpoint without host or port
  // or with a scheme other than http/https.
  static Result<std::unique_ptr<Client>> Connect(ClientOptions options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ClientOptions& options() const;

  // Errors common to every call:
  // - kUnavailable: the server cannot be reached ("cannot reach qdrantd at host:port:
  //   connection refused", "... no such host", "... timed out after 5s"), or the server said
  //   it is unavailable (no leader, no active replica) in its own words;
  // - kDeadlineExceeded: connected, but no answer within the timeout; the outcome is unknown;
  // - kPermissionDenied: the API key is missing or wrong;
  // - kFailedPrecondition "the server does not support <method>": e.g. a real Qdrant, which
  //   has no qdrantd.admin service, or an endpoint that is not gRPC at all;
  // - the server's own code and message otherwise (kInvalidArgument, kNotFound, ...).
  Result<HealthInfo> HealthCheck();
  Result<VersionInfo> Version();
  Result<ClusterStatus> GetClusterStatus();
  // Errors also: kFailedPrecondition in standalone mode.
  Status RemovePeer(uint64_t peer_id, bool force);
  // Rebalancing and draining (beyond Qdrant). Errors also: kFailedPrecondition in standalone
  // mode; DrainPeer kNotFound for an unknown peer, kInvalidArgument when nothing can take its
  // replicas.
  Result<std::vector<TransferStatus>> ListTransfers(const std::optional<std::string>& collection);
  Result<RebalanceInfo> GetRebalance();
  Status StartRebalance();
  Status DrainPeer(uint64_t peer_id, bool cancel);
  // Every replica of every shard of `name` with its digest. Errors also: kNotFound for an
  // unknown collection; kFailedPrecondition in standalone mode.
  Result<std::vector<ReplicaDigest>> VerifyCollection(const std::string& name);

  // Qdrant's Collections service (proto/collections_service.proto). A server without it (a
  // qdrantd that does not serve collections over gRPC yet) fails them with kFailedPrecondition
  // "the server does not support qdrant.Collections/<Method>: ...".
  //
  // Creates the collection; OK once the server says it exists. Errors also: kAlreadyExists,
  // kInvalidArgument (e.g. a zero vector size, in the server's words); kDeadlineExceeded means
  // the collection may still be created: look with GetCollection before retrying.
  Status CreateCollection(const CollectionCreate& request);
  // Errors as CreateCollection's, and kNotFound for an unknown collection.
  Status UpdateCollection(const CollectionUpdate& request);
  // Names of all collections, sorted.
  Result<std::vector<std::string>> ListCollections();
  // Errors also: kNotFound for an unknown collection.
  Result<CollectionInfo> GetCollection(const std::string& name);
  // Drops the collection and its data. Errors also: kNotFound when it does not exist (the
  // server deleted nothing); kDeadlineExceeded as for CreateCollection.
  Status DeleteCollection(const std::string& name);
  Result<CollectionCluster> GetCollectionCluster(const std::string& name);
  // Errors also: kInvalidArgument for an unknown method (before any call), and the server's
  // (kNotFound for a missing collection or transfer, kInvalidArgument for an impossible move).
  Status UpdateClusterSetup(const ShardOperation& operation);

  // The Status a call to `method` returns when a connected server answers with gRPC status
  // `grpc_code` (a grpc::StatusCode value) and `message`.
  static Status StatusFromGrpcForTesting(int grpc_code, const std::string& message,
                                         const char* method);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Routes gRPC's own log lines (e.g. "Handshake failed" from its TLS code) away from stderr, so
// that a command-line tool prints only its own one-sentence errors. Process-wide; a tool calls it
// once at start. The daemon does not.
void SilenceGrpcLogging();

// The request CreateCollection sends and the CollectionInfo a GetCollectionInfoResponse gives,
// in protobuf text format, so that tests check the mapping without gRPC or generated headers.
// Errors: kInvalidArgument for text that does not parse.
std::string CreateCollectionRequestTextForTesting(const CollectionCreate& request);
Result<CollectionInfo> CollectionInfoFromTextForTesting(const std::string& name,
                                                        const std::string& response_text);

}  // namespace qd::client
