// RaftNode: one libraft instance with our RaftIo and an Fsm: start, propose, change membership,
// report status, close. It knows nothing of what the commands mean (cluster/ does).
//
// Timing: libraft ticks every heartbeat_timeout, so the tick period is the heartbeat; the
// election timeout is a multiple of it (randomised by libraft between 1x and 2x).
// Thread: the loop only (every method takes OnLoop). Owned by cluster::ClusterNode.
#pragma once

#include "qdrantd/consensus/raft_c.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "libshared/status.h"
#include "qdrantd/consensus/fsm.h"
#include "qdrantd/consensus/raft_io.h"
#include "qdrantd/server/loop.h"

namespace qd::consensus {

struct RaftNodeOptions {
  uint64_t id = 0;
  std::string address;  // this peer's P2P URI
  std::string db_path;  // raft.db
  unsigned tick_ms = 100;
  unsigned election_timeout_ms = 1000;
  unsigned snapshot_threshold = 128;  // cluster.consensus.compact_wal_entries
  unsigned snapshot_trailing = 128;
};

enum class Role { kUnavailable, kFollower, kCandidate, kLeader };

struct RaftStatus {
  Role role = Role::kUnavailable;
  bool pre_candidate = false;
  uint64_t term = 0;
  uint64_t commit = 0;
  uint64_t last_applied = 0;
  uint64_t last_index = 0;
  uint64_t leader_id = 0;  // 0: unknown
  std::string leader_address;
  bool is_voter = false;
  struct Server {
    uint64_t id;
    std::string address;
    int role;  // RAFT_VOTER, RAFT_STANDBY, RAFT_SPARE
  };
  std::vector<Server> servers;  // the current configuration
};

class RaftNode {
 public:
  using Done = std::function<void(server::OnLoop, int raft_status)>;

  RaftNode(server::Loop& loop, Transport* transport, Fsm* fsm, RaftNodeOptions options);
  ~RaftNode();
  RaftNode(const RaftNode&) = delete;
  RaftNode& operator=(const RaftNode&) = delete;

  // Opens raft.db; the store is then usable for the peer identity. Errors: kInternal.
  Status Open();
  RaftStore& store() { return io_.store(); }
  // Founds a one-voter cluster of this node. Errors: kFailedPrecondition when raft.db already
  // holds raft state.
  Status Bootstrap(server::OnLoop);
  // Loads the state and starts ticking. Errors: kInternal.
  Status Start(server::OnLoop);
  // Closes libraft; `done` runs once everything is released. Safe to call once, after Start.
  void Close(server::OnLoop, std::function<void()> done);
  bool started() const { return started_; }
  bool closed() const { return closed_; }

  // Leader only: appends `command`; `done` gets 0 once applied here, else a RAFT_* code.
  // Returns the synchronous refusal (RAFT_NOTLEADER...) or 0.
  int Apply(server::OnLoop, const std::string& command, Done done);
  int Add(server::OnLoop, uint64_t id, const std::string& address, Done done);
  int Assign(server::OnLoop, uint64_t id, int role, Done done);
  int Remove(server::OnLoop, uint64_t id, Done done);
  int TransferLeadership(server::OnLoop);

  void Receive(server::OnLoop on_loop, std::string_view bytes) { io_.Receive(on_loop, bytes); }
  RaftStatus GetStatus(server::OnLoop) const;
  // True while a membership change is pending on this leader.
  bool ChangePending(server::OnLoop) const;
  raft* raw() { return &raft_; }

 private:
  server::Loop& loop_;
  RaftNodeOptions options_;
  RaftIo io_;
  FsmAdapter fsm_;
  raft raft_{};
  bool initialised_ = false;
  bool started_ = false;
  bool closed_ = false;
  std::function<void()> close_done_;
};

}  // namespace qd::consensus
