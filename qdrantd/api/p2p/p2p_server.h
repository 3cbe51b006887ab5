// P2pServer: the listener on cluster.p2p.port for qdrantd peers (proto/p2p.proto). Handlers
// parse, post the work to the loop and return; whoever completes it finishes the call. What the
// calls do is given as callbacks (the daemon binds them to cluster::ClusterNode), so this layer
// holds no logic. grpcpp stays in the .cc.
// Thread: Start/Shutdown from the daemon; gRPC threads post to the loop; callbacks on the loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "libshared/status.h"
#include "qdrantd/server/loop.h"

namespace grpc {
class ServerCredentials;
}

namespace qd::collection {
class Collections;
}
namespace qd::server {
class WorkerPool;
}

namespace qd::api::p2p {

struct P2pHandlers {
  // Reply with the status and the leader id this node knows of (0: unknown).
  using Reply = std::function<void(server::OnLoop, const Status&, uint64_t leader_id)>;
  std::function<void(server::OnLoop, const std::string& message)> raft_message;
  std::function<void(server::OnLoop, std::string operation, Reply reply)> propose;
  std::function<void(server::OnLoop, uint64_t peer_id, std::string uri, std::string node_type, Reply reply)> join;
  // This node's Raft commit index, and the index of the last state its local collections
  // reflect (applied and reconciled).
  std::function<uint64_t(server::OnLoop)> commit_index;
  std::function<uint64_t(server::OnLoop)> reconciled_index;
  // Its Raft term, last applied entry and role name (CommitIndexReply).
  struct Standing {
    uint64_t term = 0;
    uint64_t applied = 0;
    std::string role;
  };
  std::function<Standing(server::OnLoop)> standing;
};

// The data plane's side of the listener (service P2pData): forwarded writes, replicated ops and
// reads run against this node's collections, each kind on its own pool, never on the loop:
// forwarded writes wait for replicated ones (on another node's replicate pool), and coordinators
// wait for forwarded writes and reads (on these pools, not the API pool their request holds), so
// no cycle of waits can form between nodes.
struct P2pDataContext {
  collection::Collections* collections = nullptr;
  server::WorkerPool* forward_pool = nullptr;
  server::WorkerPool* replicate_pool = nullptr;
  server::WorkerPool* read_pool = nullptr;
};

class P2pServer {
 public:
  P2pServer(server::Loop& loop, std::string host, uint16_t port, P2pHandlers handlers,
            P2pDataContext data = {});
  ~P2pServer();
  P2pServer(const P2pServer&) = delete;
  P2pServer& operator=(const P2pServer&) = delete;

  // Errors: kUnavailable when the port cannot be bound. `credentials`: the listener's (peer
  // TLS, peer/channel.h's PeerServerCredentials); null: plaintext.
  Status Start(std::shared_ptr<::grpc::ServerCredentials> credentials = nullptr);
  // Stops accepting; blocks until calls end or `deadline`. Never on the loop thread.
  void Shutdown(std::chrono::system_clock::time_point deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qd::api::p2p
