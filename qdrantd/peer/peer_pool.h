// PeerPool: this node's outbound side of the P2P service (proto/p2p.proto): one gRPC channel
// per peer address, one bounded queue of Raft messages per peer with at most one RPC in flight,
// and one-off forwarded proposals and join requests. Every RPC has a deadline.
//
// Happy path of SendRaft: the message joins the peer's queue -> if no RPC is in flight, the
// head is sent -> gRPC completes it on one of its threads -> the completion is posted to the
// loop, which reports `done(true)` and sends the next. Failure modes: queue full -> the oldest
// message is dropped, its done(false) called and counted in message_send_failures (libraft,
// src/uv_send.c); RPC error or deadline -> done(false), counted. Never blocks the loop.
// Thread: the loop for every method; gRPC threads only post back to it. Stop() first cancels
// everything in flight; completions arriving later are dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "libshared/status.h"
#include "qdrantd/server/loop.h"

namespace qd::peer {

struct PeerPoolOptions {
  size_t max_message_queue_size = 100;
  std::chrono::milliseconds message_timeout{1000};  // deadline of one Raft message RPC
  std::chrono::milliseconds connection_timeout{2000};
};

class PeerPool {
 public:
  using Done = std::function<void(server::OnLoop, bool delivered)>;
  // Application status from the remote handler (or a transport failure as kUnavailable), plus
  // the leader id the remote knows of (0: unknown).
  using Reply = std::function<void(server::OnLoop, Status status, uint64_t leader_id)>;

  PeerPool(server::Loop& loop, PeerPoolOptions options);
  ~PeerPool();
  PeerPool(const PeerPool&) = delete;
  PeerPool& operator=(const PeerPool&) = delete;

  void SendRaft(server::OnLoop, uint64_t peer_id, const std::string& uri, std::string bytes, Done done);
  void Propose(server::OnLoop, const std::string& uri, std::string operation,
               std::chrono::milliseconds timeout, Reply reply);
  void Join(server::OnLoop, const std::string& uri, uint64_t peer_id, const std::string& my_uri,
            const std::string& node_type, std::chrono::milliseconds timeout, Reply reply);
  // The peer's Raft commit index, reconciled index and standing (proto/p2p.proto
  // CommitIndexReply); kUnavailable when it cannot be reached in time.
  struct Position {
    uint64_t commit = 0;
    uint64_t reconciled = 0;
    uint64_t term = 0;
    uint64_t applied = 0;
    std::string role;
  };
  using CommitReply = std::function<void(server::OnLoop, Status status, const Position&)>;
  void CommitIndex(server::OnLoop, const std::string& uri, std::chrono::milliseconds timeout, CommitReply reply);

  // message_send_failures of GET /cluster: failures per peer URI since start, and why the
  // last Raft message to it failed when it did ("" once one got through again).
  struct SendFailure {
    uint64_t count = 0;
    std::string latest_error;
  };
  std::map<std::string, SendFailure> SendFailures(server::OnLoop) const;
  // Whether the last Raft message to this peer got through (false before any).
  bool Reachable(server::OnLoop, uint64_t peer_id) const;
  void Stop(server::OnLoop);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace qd::peer
