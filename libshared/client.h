// Client: qdctl's (and other tools') connection to one qdrantd over gRPC: Qdrant's public
// services and our admin service. Every call has a deadline; every failure comes back as a
// Status whose message a person understands ("cannot reach qdrantd at localhost:6334:
// connection refused"), never gRPC internals. grpcpp stays in client.cc.
// Thread: a Client may be used from one thread at a time.
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
  Uri endpoint;
  std::optional<std::string> api_key;  // sent as the "api-key" header
  std::chrono::milliseconds timeout{5000};
};

struct HealthInfo {
  std::string title;
  std::string version;
  std::optional<std::string> commit;
};

struct VersionInfo {
  std::string version;         // Qdrant-compatible version
  std::string commit;
  std::string server_version;  // qdrantd's own
};

struct PeerStatus {
  uint64_t id = 0;
  std::string uri;
  std::string role;
  bool is_voter = false;
  bool reachable = false;
};

struct ClusterStatus {
  bool enabled = false;
  uint64_t peer_id = 0;
  std::vector<PeerStatus> peers;
  uint64_t term = 0;
  uint64_t commit = 0;
  std::optional<uint64_t> leader;
  std::string consensus_thread_status;
};

class Client {
 public:
  // Creates the channel; connecting happens on the first call.
  static std::unique_ptr<Client> Connect(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Errors of every call: kUnavailable when the server cannot be reached (qdctl exit 3);
  // the server's own code and message otherwise.
  Result<HealthInfo> HealthCheck();
  Result<VersionInfo> Version();
  Result<ClusterStatus> GetClusterStatus();
  Status RemovePeer(uint64_t peer_id, bool force);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qd::client
