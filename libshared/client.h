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
#include <vector>

#include "libshared/status.h"
#include "libshared/uri.h"

namespace qd::client {

struct ClientOptions {
  Uri endpoint;                             // https: TLS with the system's roots; http: plaintext
  std::optional<std::string> api_key;       // sent as the "api-key" metadata with every call
  std::chrono::milliseconds timeout{5000};  // deadline of each call
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
  bool reachable = false;
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

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Routes gRPC's own log lines (e.g. "Handshake failed" from its TLS code) away from stderr, so
// that a command-line tool prints only its own one-sentence errors. Process-wide; a tool calls it
// once at start. The daemon does not.
void SilenceGrpcLogging();

}  // namespace qd::client
