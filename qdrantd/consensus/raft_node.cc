#include "qdrantd/consensus/raft_node.h"

#include <algorithm>
#include <cstring>

#include "libshared/log.h"

namespace qd::consensus {
namespace {

using server::OnLoop;

// One heap-allocated libraft request plus our callback; freed in the trampoline.
template <typename Req>
struct Request {
  Req req{};
  RaftNode::Done done;
  server::Loop* loop;
};

template <typename Req>
void Complete(Req* req, int status) {
  auto* r = static_cast<Request<Req>*>(req->data);
  if (r->done) r->done(r->loop->Enter(), status);
  delete r;
}

}  // namespace

RaftNode::RaftNode(server::Loop& loop, Transport* transport, Fsm* fsm, RaftNodeOptions options)
    : loop_(loop), options_(std::move(options)), io_(loop, options_.db_path, transport), fsm_(loop, fsm) {}

RaftNode::~RaftNode() = default;

Status RaftNode::Open() { return io_.Open(); }

Status RaftNode::Bootstrap(OnLoop) {
  raft_configuration conf;
  raft_configuration_init(&conf);
  raft_configuration_add(&conf, options_.id, options_.address.c_str(), RAFT_VOTER);
  // raft_bootstrap only checks that the instance is pristine and calls io->bootstrap; calling
  // the backend directly avoids initialising (and closing) a throwaway raft instance on it.
  int rv = io_.io()->bootstrap(io_.io(), &conf);
  raft_configuration_close(&conf);
  if (rv == RAFT_CANTBOOTSTRAP) return Status::FailedPrecondition("raft.db already holds a cluster");
  if (rv != 0) return Status::Internal(std::string("raft bootstrap: ") + raft_strerror(rv));
  return Status::Ok();
}

Status RaftNode::Start(OnLoop) {
  int rv = raft_init(&raft_, io_.io(), fsm_.fsm(), options_.id, options_.address.c_str());
  if (rv != 0) return Status::Internal(std::string("raft init: ") + raft_strerror(rv));
  initialised_ = true;
  raft_.data = this;
  fsm_.set_raft(&raft_);
  raft_set_heartbeat_timeout(&raft_, options_.tick_ms);
  raft_set_election_timeout(&raft_, options_.election_timeout_ms);
  raft_set_install_snapshot_timeout(&raft_, std::max(5 * options_.election_timeout_ms, 5000u));
  raft_set_snapshot_threshold(&raft_, options_.snapshot_threshold);
  raft_set_snapshot_trailing(&raft_, options_.snapshot_trailing);
  raft_set_pre_vote(&raft_, true);
  raft_set_max_catch_up_round_duration(&raft_, 2 * options_.election_timeout_ms);
  rv = raft_start(&raft_);
  if (rv != 0) {
    return Status::Internal(std::string("raft start: ") + raft_strerror(rv) + ": " + raft_errmsg(&raft_));
  }
  started_ = true;
  return Status::Ok();
}

void RaftNode::Close(OnLoop, std::function<void()> done) {
  if (!initialised_ || closed_) {
    closed_ = true;
    if (done) done();
    return;
  }
  close_done_ = std::move(done);
  raft_close(&raft_, [](raft* r) {
    auto* self = static_cast<RaftNode*>(r->data);
    self->closed_ = true;
    if (self->close_done_) std::exchange(self->close_done_, nullptr)();
  });
}

int RaftNode::Apply(OnLoop, const std::string& command, Done done) {
  if (!started_ || closed_) return RAFT_SHUTDOWN;
  raft_buffer buf;
  buf.len = command.size();
  buf.base = raft_malloc(buf.len == 0 ? 1 : buf.len);
  if (buf.base == nullptr) return RAFT_NOMEM;
  if (!command.empty()) std::memcpy(buf.base, command.data(), command.size());
  auto* r = new Request<struct raft_apply>{.req = {}, .done = std::move(done), .loop = &loop_};
  r->req.data = r;
  int rv = raft_apply(&raft_, &r->req, &buf, 1, [](struct raft_apply* req, int status, void*) {
    Complete(req, status);
  });
  if (rv != 0) {
    raft_free(buf.base);
    delete r;
  }
  return rv;
}

int RaftNode::Add(OnLoop, uint64_t id, const std::string& address, Done done) {
  if (!started_ || closed_) return RAFT_SHUTDOWN;
  auto* r = new Request<raft_change>{.req = {}, .done = std::move(done), .loop = &loop_};
  r->req.data = r;
  int rv = raft_add(&raft_, &r->req, id, address.c_str(), &Complete<raft_change>);
  if (rv != 0) delete r;
  return rv;
}

int RaftNode::Assign(OnLoop, uint64_t id, int role, Done done) {
  if (!started_ || closed_) return RAFT_SHUTDOWN;
  auto* r = new Request<raft_change>{.req = {}, .done = std::move(done), .loop = &loop_};
  r->req.data = r;
  int rv = raft_assign(&raft_, &r->req, id, role, &Complete<raft_change>);
  if (rv != 0) delete r;
  return rv;
}

int RaftNode::Remove(OnLoop, uint64_t id, Done done) {
  if (!started_ || closed_) return RAFT_SHUTDOWN;
  auto* r = new Request<raft_change>{.req = {}, .done = std::move(done), .loop = &loop_};
  r->req.data = r;
  int rv = raft_remove(&raft_, &r->req, id, &Complete<raft_change>);
  if (rv != 0) delete r;
  return rv;
}

int RaftNode::TransferLeadership(OnLoop) {
  if (!started_ || closed_) return RAFT_SHUTDOWN;
  using TransferReq = struct raft_transfer;
  auto* req = new TransferReq{};
  int rv = ::raft_transfer(&raft_, req, 0, [](TransferReq* t) { delete t; });
  if (rv != 0) delete req;
  return rv;
}

bool RaftNode::ChangePending(OnLoop) const {
  return raft_.state == RAFT_LEADER && raft_.leader_state.change != nullptr;
}

RaftStatus RaftNode::GetStatus(OnLoop) const {
  RaftStatus s;
  if (!started_ || closed_) return s;
  auto* r = const_cast<raft*>(&raft_);
  switch (raft_state(r)) {
    case RAFT_FOLLOWER: s.role = Role::kFollower; break;
    case RAFT_CANDIDATE:
      s.role = Role::kCandidate;
      s.pre_candidate = raft_.candidate_state.in_pre_vote;
      break;
    case RAFT_LEADER: s.role = Role::kLeader; break;
    default: s.role = Role::kUnavailable; break;
  }
  s.term = raft_.current_term;
  s.commit = raft_.commit_index;
  s.last_applied = raft_.last_applied;
  s.last_index = raft_last_index(r);
  raft_id leader = 0;
  const char* address = nullptr;
  raft_leader(r, &leader, &address);
  s.leader_id = leader;
  s.leader_address = address ? address : "";
  for (unsigned i = 0; i < raft_.configuration.n; ++i) {
    const raft_server& srv = raft_.configuration.servers[i];
    s.servers.push_back({srv.id, srv.address ? srv.address : "", srv.role});
    if (srv.id == options_.id) s.is_voter = srv.role == RAFT_VOTER;
  }
  return s;
}

}  // namespace qd::consensus
