// Our raft_io (SQLite + worker + uv timer) under a real libuv loop: three RaftNodes in one
// process joined by a loopback Transport. Covers bootstrap, membership changes, persistence
// across a restart, and compaction after every entry with catch-up by snapshot.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <set>
#include <memory>

#include "qdrantd/cluster/meta_operation.h"
#include "qdrantd/cluster/state_machine.h"
#include "qdrantd/consensus/raft_node.h"
#include "qdrantd/consensus/raft_store.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using qd::cluster::MetaOperation;
using qd::consensus::RaftNode;
using qd::server::Loop;
using qd::server::OnLoop;

namespace {

// Delivers messages through Loop::Post, so nothing is re-entrant; `down` peers lose them.
class Loopback : public qd::consensus::Transport {
 public:
  explicit Loopback(Loop& loop) : loop_(loop) {}
  void Send(OnLoop, uint64_t to_id, const std::string&, std::string bytes,
            std::function<void(OnLoop, bool)> done) override {
    loop_.Post([this, to_id, bytes = std::move(bytes), done = std::move(done)](OnLoop on_loop) {
      auto it = nodes.find(to_id);
      bool delivered = it != nodes.end() && it->second != nullptr && !down.count(to_id);
      if (delivered) it->second->Receive(on_loop, bytes);
      done(on_loop, delivered);
    });
  }
  std::map<uint64_t, RaftNode*> nodes;
  std::set<uint64_t> down;

 private:
  Loop& loop_;
};

struct Member {
  uint64_t id;
  std::string db;
  std::unique_ptr<qd::cluster::StateMachine> fsm;
  std::unique_ptr<RaftNode> node;
};

class Harness {
 public:
  explicit Harness(unsigned compact = 1024) : transport_(loop_), compact_(compact) {}
  ~Harness() {
    for (auto& [id, m] : members_) Stop(id);
  }

  Member& Start(uint64_t id, bool bootstrap) {
    Member& m = members_[id];
    m.id = id;
    m.db = dir_.path() + "/raft-" + std::to_string(id) + ".db";
    m.fsm = std::make_unique<qd::cluster::StateMachine>();
    m.node = std::make_unique<RaftNode>(
        loop_, &transport_, m.fsm.get(),
        qd::consensus::RaftNodeOptions{.id = id, .address = "n" + std::to_string(id), .db_path = m.db,
                                       .tick_ms = 10, .election_timeout_ms = 100,
                                       .snapshot_threshold = compact_, .snapshot_trailing = compact_});
    REQUIRE(m.node->Open().ok());
    if (bootstrap) REQUIRE(m.node->Bootstrap(loop_.Enter()).ok());
    REQUIRE(m.node->Start(loop_.Enter()).ok());
    transport_.nodes[id] = m.node.get();
    return m;
  }

  void Stop(uint64_t id) {
    Member& m = members_[id];
    if (!m.node) return;
    transport_.nodes[id] = nullptr;
    bool closed = false;
    m.node->Close(loop_.Enter(), [&] { closed = true; });
    CHECK(RunUntil([&] { return closed; }, 5s));
    m.node.reset();
  }

  bool RunUntil(const std::function<bool()>& cond, std::chrono::milliseconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    while (!cond()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(loop_.raw(), UV_RUN_ONCE);
    }
    return true;
  }

  // Applies `op` through the leader and waits until every running member applied it.
  bool Propose(uint64_t leader, const MetaOperation& op) {
    int status = -1;
    int rv = members_[leader].node->Apply(loop_.Enter(), op.Encode(), [&](OnLoop, int s) { status = s; });
    if (rv != 0) return false;
    if (!RunUntil([&] { return status != -1; }, 5s) || status != 0) return false;
    uint64_t index = members_[leader].node->GetStatus(loop_.Enter()).last_applied;
    return RunUntil(
        [&] {
          for (auto& [id, m] : members_) {
            if (m.node && !transport_.down.count(id) && m.node->GetStatus(loop_.Enter()).last_applied < index) return false;
          }
          return true;
        },
        5s);
  }

  bool Change(const std::function<int(RaftNode::Done)>& start) {
    int status = -1;
    if (start([&](OnLoop, int s) { status = s; }) != 0) return false;
    return RunUntil([&] { return status != -1; }, 10s) && status == 0;
  }

  Member& operator[](uint64_t id) { return members_[id]; }
  Loop& loop() { return loop_; }
  Loopback& transport() { return transport_; }

 private:
  Loop loop_;
  qd::test::TempDir dir_;
  Loopback transport_;
  unsigned compact_;
  std::map<uint64_t, Member> members_;
};

bool IsLeader(RaftNode& n, Loop& loop) { return n.GetStatus(loop.Enter()).role == qd::consensus::Role::kLeader; }

}  // namespace

TEST_CASE("raft_io: a bootstrapped node leads, others join, and state survives a restart",
          "[consensus]") {
  Harness h;
  h.Start(1, true);
  REQUIRE(h.RunUntil([&] { return IsLeader(*h[1].node, h.loop()); }, 5s));
  REQUIRE(h.Propose(1, MetaOperation::UpsertPeer(1, "n1")));
  for (uint64_t id : {2u, 3u}) {
    h.Start(id, false);
    REQUIRE(h.Change([&](RaftNode::Done d) { return h[1].node->Add(h.loop().Enter(), id, "n" + std::to_string(id), std::move(d)); }));
    REQUIRE(h.Change([&](RaftNode::Done d) { return h[1].node->Assign(h.loop().Enter(), id, RAFT_VOTER, std::move(d)); }));
    REQUIRE(h.Propose(1, MetaOperation::UpsertPeer(id, "n" + std::to_string(id))));
  }
  REQUIRE(h.Propose(1, MetaOperation::CreateCollection("books", "{}", 3, 2)));
  for (uint64_t id : {1u, 2u, 3u}) {
    CHECK(h[id].fsm->Current()->HasCollection("books"));
    CHECK(h[id].node->GetStatus(h.loop().Enter()).is_voter);
  }

  // Node 3 restarts from raft.db alone and catches up on what it missed.
  h.Stop(3);
  REQUIRE(h.Propose(1, MetaOperation::SetMetadata("k", "1")));
  h.Start(3, false);
  REQUIRE(h.RunUntil([&] { return h[3].fsm->Current()->metadata.count("k") == 1; }, 5s));
  CHECK(h[3].fsm->Current()->HasCollection("books"));

  // Losing the leader: one of the others takes over and keeps committing.
  h.Stop(1);
  REQUIRE(h.RunUntil([&] { return IsLeader(*h[2].node, h.loop()) || IsLeader(*h[3].node, h.loop()); }, 5s));
  uint64_t leader = IsLeader(*h[2].node, h.loop()) ? 2 : 3;
  REQUIRE(h.Propose(leader, MetaOperation::DropCollection("books")));
  CHECK_FALSE(h[5 - leader].fsm->Current()->HasCollection("books"));
}

TEST_CASE("raft_io: compaction after every entry, and a node that was down catches up by snapshot",
          "[consensus]") {
  Harness h(/*compact=*/1);
  h.Start(1, true);
  REQUIRE(h.RunUntil([&] { return IsLeader(*h[1].node, h.loop()); }, 5s));
  for (uint64_t id : {2u, 3u}) {
    h.Start(id, false);
    REQUIRE(h.Change([&](RaftNode::Done d) { return h[1].node->Add(h.loop().Enter(), id, "n" + std::to_string(id), std::move(d)); }));
    REQUIRE(h.Change([&](RaftNode::Done d) { return h[1].node->Assign(h.loop().Enter(), id, RAFT_VOTER, std::move(d)); }));
  }
  h.Stop(3);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(h.Propose(1, MetaOperation::SetMetadata("k" + std::to_string(i), std::to_string(i))));
  }
  // The leader's raft.db holds a snapshot and at most a trailing entry or two.
  {
    auto store = qd::consensus::RaftStore::Open(h[1].db);
    REQUIRE(store.ok());
    auto snap = (*store)->LoadSnapshot();
    REQUIRE(snap.ok());
    REQUIRE(snap->has_value());
    CHECK((*snap)->index >= 10);
    auto entries = (*store)->LoadEntries();
    REQUIRE(entries.ok());
    CHECK(entries->size() <= 3);
  }
  h.Start(3, false);
  REQUIRE(h.RunUntil([&] { return h[3].fsm->Current()->metadata.count("k9") == 1; }, 10s));
  CHECK(h[3].fsm->Current()->metadata.size() == 10);
  // And the restarted leader reloads its own snapshot.
  h.Stop(1);
  h.Start(1, false);
  REQUIRE(h.RunUntil([&] { return h[1].fsm->Current()->metadata.count("k9") == 1; }, 10s));
}

TEST_CASE("raft_store: bootstrap refuses a database that already has state, reinit keeps the id",
          "[consensus]") {
  qd::test::TempDir dir;
  auto store = qd::consensus::RaftStore::Open(dir.path() + "/raft.db");
  REQUIRE(store.ok());
  REQUIRE((*store)->SetMetaU64("peer_id", 42).ok());
  CHECK_FALSE(*(*store)->HasRaftState());
  REQUIRE((*store)->Append({{.index = 1, .term = 1, .type = 3, .data = "x"}}).ok());
  REQUIRE((*store)->SetTerm(3).ok());
  CHECK(*(*store)->HasRaftState());
  REQUIRE((*store)->ResetRaftState().ok());
  CHECK_FALSE(*(*store)->HasRaftState());
  CHECK((*store)->GetMetaU64("peer_id")->value() == 42);
}
