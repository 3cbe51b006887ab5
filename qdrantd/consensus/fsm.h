// Fsm: what consensus hands committed commands to. consensus/ never knows what the bytes mean;
// cluster::StateMachine implements this, the way libraft hands entries to a raft_fsm.
// FsmAdapter turns an Fsm into libraft's raft_fsm (version 1: libraft frees snapshot buffers).
// Thread: the loop (libraft calls the FSM from its callbacks).
#pragma once

#include "qdrantd/consensus/raft_c.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "libshared/status.h"
#include "qdrantd/server/loop.h"

namespace qd::consensus {

class Fsm {
 public:
  virtual ~Fsm() = default;
  // Applies the committed command at log index `index`. Cannot fail the log: a command that is
  // invalid against the current state is a no-op whose Status the FSM reports to its waiters.
  virtual void Apply(server::OnLoop, uint64_t index, std::string_view command) = 0;
  // Serialises the whole state (taken on the loop; the state is small: metadata only).
  virtual std::string Snapshot(server::OnLoop) = 0;
  // Replaces the whole state. Errors: kInvalidArgument for bytes it cannot read.
  virtual Status Restore(server::OnLoop, std::string_view snapshot, uint64_t index) = 0;
};

class FsmAdapter {
 public:
  FsmAdapter(server::Loop& loop, Fsm* fsm);
  raft_fsm* fsm() { return &fsm_; }
  // The raft instance driving this FSM: its last_applied tells Apply the entry's index.
  void set_raft(raft* r) { raft_ = r; }

 private:
  static int ApplyCb(raft_fsm* fsm, const raft_buffer* buf, void** result) noexcept;
  static int SnapshotCb(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs) noexcept;
  static int RestoreCb(raft_fsm* fsm, raft_buffer* buf) noexcept;

  server::Loop& loop_;
  Fsm* impl_;
  raft* raft_ = nullptr;
  raft_fsm fsm_{};
};

}  // namespace qd::consensus
