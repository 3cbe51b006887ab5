// RaftCluster: n cluster::StateMachines under libraft's raft_fixture (in-memory raft_io,
// fixture-owned time), so elections and replication replay exactly. Test-only.
#pragma once

#include "qdrantd/consensus/raft_c.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "qdrantd/cluster/meta_operation.h"
#include "qdrantd/cluster/state_machine.h"
#include "qdrantd/consensus/fsm.h"
#include "qdrantd/server/loop.h"

namespace qd::test {

class RaftCluster {
 public:
  explicit RaftCluster(unsigned n, unsigned snapshot_threshold = 1024, unsigned trailing = 128) {
    raft_fixture_initialize(&f_);
    for (unsigned i = 0; i < n; ++i) {
      machines_.push_back(std::make_unique<cluster::StateMachine>());
      adapters_.push_back(std::make_unique<consensus::FsmAdapter>(loop_, machines_.back().get()));
      raft_fixture_grow(&f_, adapters_.back()->fsm());
      raft* r = raft_fixture_get(&f_, i);
      adapters_.back()->set_raft(r);
      raft_set_snapshot_threshold(r, snapshot_threshold);
      raft_set_snapshot_trailing(r, trailing);
    }
    raft_configuration conf;
    raft_fixture_configuration(&f_, n, &conf);
    raft_fixture_bootstrap(&f_, &conf);
    raft_configuration_close(&conf);
    raft_fixture_start(&f_);
  }
  ~RaftCluster() { raft_fixture_close(&f_); }
  RaftCluster(const RaftCluster&) = delete;
  RaftCluster& operator=(const RaftCluster&) = delete;

  unsigned n() const { return static_cast<unsigned>(machines_.size()); }
  void Elect(unsigned i) { raft_fixture_elect(&f_, i); }
  unsigned LeaderIndex() { return raft_fixture_leader_index(&f_); }
  raft* Raft(unsigned i) { return raft_fixture_get(&f_, i); }

  // Proposes `op` through server i (which must be the leader). Returns the raft_apply code.
  int Propose(unsigned i, const cluster::MetaOperation& op) {
    std::string bytes = op.Encode();
    raft_buffer buf{raft_malloc(bytes.size()), bytes.size()};
    std::memcpy(buf.base, bytes.data(), bytes.size());
    using ApplyReq = struct raft_apply;
    auto* req = new ApplyReq{};
    int rv = ::raft_apply(Raft(i), req, &buf, 1, [](ApplyReq* r, int, void*) { delete r; });
    if (rv != 0) {
      raft_free(buf.base);
      delete req;
    }
    return rv;
  }

  // Steps the fixture until every live server applied index `index`.
  bool StepUntilAppliedEverywhere(raft_index index, std::chrono::milliseconds within) {
    return raft_fixture_step_until_applied(&f_, n(), index, static_cast<unsigned>(within.count()));
  }
  bool StepUntilApplied(unsigned i, raft_index index, std::chrono::milliseconds within) {
    return raft_fixture_step_until_applied(&f_, i, index, static_cast<unsigned>(within.count()));
  }
  bool StepUntilHasLeader(std::chrono::milliseconds within) {
    return raft_fixture_step_until_has_leader(&f_, static_cast<unsigned>(within.count()));
  }
  // Steps until a leader other than server i is stable (the fixture keeps reporting a killed or
  // partitioned leader until another one wins).
  bool StepUntilLeaderIsNot(unsigned i, std::chrono::milliseconds within) {
    struct Arg {
      unsigned not_index;
    } arg{i};
    return raft_fixture_step_until(
        &f_,
        [](raft_fixture* f, void* a) {
          unsigned leader = raft_fixture_leader_index(f);
          return leader < raft_fixture_n(f) && leader != static_cast<Arg*>(a)->not_index;
        },
        &arg, static_cast<unsigned>(within.count()));
  }
  void StepFor(std::chrono::milliseconds d) { raft_fixture_step_until_elapsed(&f_, static_cast<unsigned>(d.count())); }
  void Kill(unsigned i) { raft_fixture_kill(&f_, i); }
  void Revive(unsigned i) { raft_fixture_revive(&f_, i); }
  void Disconnect(unsigned i, unsigned j) { raft_fixture_disconnect(&f_, i, j); }
  void Reconnect(unsigned i, unsigned j) { raft_fixture_reconnect(&f_, i, j); }
  raft_index LastIndex(unsigned i) { return raft_last_index(Raft(i)); }

  const cluster::ClusterState& State(unsigned i) const { return *machines_[i]->Current(); }
  cluster::StateMachine& Machine(unsigned i) { return *machines_[i]; }
  server::Loop& loop() { return loop_; }

 private:
  server::Loop loop_;  // mints OnLoop for the FSMs: the fixture runs them on this thread
  raft_fixture f_{};
  std::vector<std::unique_ptr<cluster::StateMachine>> machines_;
  std::vector<std::unique_ptr<consensus::FsmAdapter>> adapters_;
};

}  // namespace qd::test
