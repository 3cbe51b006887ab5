// Peers of a real cluster for multi-process tests: each ClusterPeer is one qdrantd with cluster
// mode on, its own working directory (kept across restarts so storage survives) and ephemeral
// ports, started with --uri http(s)://127.0.0.1:<p2p port> and optionally --bootstrap. Helpers
// read GET /cluster as JSON and poll with deadlines; the destructor SIGKILLs what still runs.
#pragma once

#include <rapidjson/document.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/node.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace qd::test {

struct ClusterInfo {
  uint64_t peer_id = 0;
  std::map<uint64_t, std::string> peers;  // id -> uri
  uint64_t term = 0;
  uint64_t commit = 0;
  std::optional<uint64_t> leader;
  std::string role;
  bool is_voter = false;
  std::string thread_status;
};

class ClusterPeer {
 public:
  // `env` is added to every start (e.g. compaction settings).
  explicit ClusterPeer(std::map<std::string, std::string> env = {});
  ~ClusterPeer();

  // Starts qdrantd; `bootstrap` is another peer's URI. `extra` are additional arguments.
  void Start(const std::optional<std::string>& bootstrap = std::nullopt, std::vector<std::string> extra = {});
  // New ports (and so a new --uri) for the next Start().
  void NewPorts();
  // Sets (or with an empty value, removes) an environment variable for the next Start().
  void SetEnv(const std::string& key, const std::string& value) {
    if (value.empty()) {
      env_.erase(key);
    } else {
      env_[key] = value;
    }
  }
  void Kill(int signo);
  // SIGTERM and wait for exit; returns the exit code.
  std::optional<int> Stop();
  bool Running();
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  std::string Stderr() const { return process_ ? process_->Stderr() : ""; }

  // https:// when the peer's environment turns peer TLS on.
  std::string uri() const {
    return (PeerTls() ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(p2p_port_);
  }
  // The environment's value of `key` ("" when unset).
  std::string Env(const std::string& key) const {
    auto it = env_.find(key);
    return it == env_.end() ? std::string() : it->second;
  }
  bool PeerTls() const { return Env("QDRANT__CLUSTER__P2P__ENABLE_TLS") == "true"; }
  uint16_t p2p_port() const { return p2p_port_; }
  uint16_t http_port() const { return http_port_; }
  uint16_t grpc_port() const { return grpc_port_; }
  const std::string& dir() const { return dir_.path(); }

  HttpResponse Request(const std::string& method, const std::string& path, const std::string& body = "",
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return HttpRequest(http_port_, method, path, body, {{"Content-Type", "application/json"}}, timeout);
  }
  std::optional<ClusterInfo> Cluster() const;
  bool WaitReady(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  std::map<std::string, std::string> env_;
  TempDir dir_;
  uint16_t http_port_, grpc_port_, p2p_port_;
  std::unique_ptr<Process> process_;
};

// Starts a founder and n-1 joiners (each joiner once the previous one answers /readyz).
std::vector<std::unique_ptr<ClusterPeer>> StartCluster(unsigned n, std::map<std::string, std::string> env = {});

// Polls until every running peer in `peers` reports the same leader, `n` members, and all of
// them voters; returns that leader's id or 0 on timeout.
uint64_t WaitConverged(const std::vector<ClusterPeer*>& peers, size_t n,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The metadata value of `key` as JSON text as `peer` sees it ("null" when missing; "" on error).
std::string Metadata(const ClusterPeer& peer, const std::string& key);

std::vector<ClusterPeer*> Ptrs(const std::vector<std::unique_ptr<ClusterPeer>>& peers);

// All points of `peer`'s own replica of `shard`, in id order, as the bytes the P2P data service's
// per-replica read returns (ids, vectors, payloads, then the versions): the read a coordinator
// sends to the replica it picked, here aimed at one replica. nullopt when that peer holds no
// replica of the shard that answers reads.
std::optional<std::string> ReplicaContent(const ClusterPeer& peer, const std::string& collection,
                                          uint32_t shard);

}  // namespace qd::test
