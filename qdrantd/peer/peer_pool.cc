#include "qdrantd/peer/peer_pool.h"

#include <grpcpp/grpcpp.h>

#include <deque>
#include <mutex>
#include <set>

#include "libshared/log.h"
#include "p2p.grpc.pb.h"
#include "qdrantd/peer/channel.h"

namespace qd::peer {
namespace {

using server::OnLoop;
namespace p2p = ::qdrantd::p2p;

Status FromWire(int32_t code, const std::string& message) {
  if (code == 0) return Status::Ok();
  return Status(static_cast<StatusCode>(code), message);
}

}  // namespace

struct PeerPool::Impl {
  server::Loop* loop;
  PeerPoolOptions options;

  std::mutex mu;
  bool stopped = false;                     // Protected by mu
  std::set<::grpc::ClientContext*> inflight;  // Protected by mu

  struct Channel {
    std::shared_ptr<::grpc::Channel> channel;
    std::unique_ptr<p2p::P2p::Stub> stub;
  };
  struct Queue {
    std::string uri;
    std::deque<std::pair<std::string, Done>> items;
    bool busy = false;
    bool reachable = false;
    // Why the last Raft message failed ("" after a success): logged once when it changes, so
    // that a peer refused for good (a TLS mismatch, a wrong CA) shows in the log by name and
    // reason without a line per heartbeat.
    std::string failure;
  };
  // Loop only.
  std::map<std::string, std::shared_ptr<Channel>> channels;
  std::map<uint64_t, Queue> queues;
  std::map<std::string, uint64_t> failures;

  std::shared_ptr<Channel> ChannelFor(const std::string& uri) {
    auto it = channels.find(uri);
    if (it != channels.end()) return it->second;
    auto ch = std::make_shared<Channel>();
    ch->channel = NewPeerChannel(uri, "raft");
    ch->stub = p2p::P2p::NewStub(ch->channel);
    channels[uri] = ch;
    return ch;
  }

  // Registers a context as in flight; false once stopped.
  bool Track(::grpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> lock(mu);
    if (stopped) return false;
    inflight.insert(ctx);
    return true;
  }
  // From a gRPC thread: forget the context and run `fn` on the loop unless stopped.
  void Untrack(::grpc::ClientContext* ctx, std::function<void(OnLoop)> fn) {
    std::lock_guard<std::mutex> lock(mu);
    inflight.erase(ctx);
    if (!stopped) loop->Post(std::move(fn));
  }

  void Pump(const std::shared_ptr<Impl>& self, uint64_t peer_id);
};

void PeerPool::Impl::Pump(const std::shared_ptr<Impl>& self, uint64_t peer_id) {
  Queue& q = queues[peer_id];
  if (q.busy || q.items.empty()) return;
  struct Call {
    ::grpc::ClientContext ctx;
    p2p::RaftMessageRequest req;
    p2p::RaftMessageReply resp;
    Done done;
    std::shared_ptr<Channel> channel;
  };
  auto call = std::make_shared<Call>();
  call->req.set_message(std::move(q.items.front().first));
  call->done = std::move(q.items.front().second);
  q.items.pop_front();
  call->channel = ChannelFor(q.uri);
  call->ctx.set_deadline(std::chrono::system_clock::now() + options.message_timeout);
  if (!Track(&call->ctx)) return;
  q.busy = true;
  call->channel->stub->async()->Raft(
      &call->ctx, &call->req, &call->resp, [self, call, peer_id](::grpc::Status s) {
        self->Untrack(
            &call->ctx, [self, call, peer_id, ok = s.ok(),
                         error = s.ok() ? std::string() : s.error_message()](OnLoop on_loop) {
              Queue& queue = self->queues[peer_id];
              queue.busy = false;
              queue.reachable = ok;
              if (!ok) ++self->failures[queue.uri];
              if (error != queue.failure) {
                if (!error.empty()) {
                  QD_LOG_WARN("peer " + queue.uri + ": Raft messages to it fail: " + error);
                } else {
                  QD_LOG_INFO("peer " + queue.uri + ": Raft messages get through again");
                }
                queue.failure = error;
              }
              if (call->done) call->done(on_loop, ok);
              self->Pump(self, peer_id);
            });
      });
}

PeerPool::PeerPool(server::Loop& loop, PeerPoolOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->loop = &loop;
  impl_->options = options;
}

PeerPool::~PeerPool() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->stopped = true;
  for (auto* ctx : impl_->inflight) ctx->TryCancel();
}

void PeerPool::SendRaft(OnLoop on_loop, uint64_t peer_id, const std::string& uri, std::string bytes, Done done) {
  Impl::Queue& q = impl_->queues[peer_id];
  if (q.uri != uri) {
    q.uri = uri;
  }
  if (q.items.size() >= impl_->options.max_message_queue_size) {
    // Full: drop the oldest, never block (libraft tolerates lost messages).
    Done dropped = std::move(q.items.front().second);
    q.items.pop_front();
    ++impl_->failures[uri];
    if (dropped) dropped(on_loop, false);
  }
  q.items.emplace_back(std::move(bytes), std::move(done));
  impl_->Pump(impl_, peer_id);
}

void PeerPool::Propose(OnLoop, const std::string& uri, std::string operation,
                       std::chrono::milliseconds timeout, Reply reply) {
  struct Call {
    ::grpc::ClientContext ctx;
    p2p::ProposeRequest req;
    p2p::ProposeReply resp;
    std::shared_ptr<Impl::Channel> channel;
  };
  auto call = std::make_shared<Call>();
  call->req.set_operation(std::move(operation));
  call->channel = impl_->ChannelFor(uri);
  call->ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  if (!impl_->Track(&call->ctx)) return;
  auto self = impl_;
  call->channel->stub->async()->Propose(
      &call->ctx, &call->req, &call->resp, [self, call, reply = std::move(reply), uri](::grpc::Status s) mutable {
        self->Untrack(&call->ctx, [call, reply = std::move(reply), s, uri](OnLoop on_loop) {
          if (!s.ok()) {
            reply(on_loop, Status::Unavailable("peer " + uri + " did not answer: " + s.error_message()), 0);
            return;
          }
          reply(on_loop, FromWire(call->resp.code(), call->resp.message()), call->resp.leader_id());
        });
      });
}

void PeerPool::Join(OnLoop, const std::string& uri, uint64_t peer_id, const std::string& my_uri,
                    const std::string& node_type, std::chrono::milliseconds timeout, Reply reply) {
  struct Call {
    ::grpc::ClientContext ctx;
    p2p::JoinRequest req;
    p2p::JoinReply resp;
    std::shared_ptr<Impl::Channel> channel;
  };
  auto call = std::make_shared<Call>();
  call->req.set_peer_id(peer_id);
  call->req.set_uri(my_uri);
  call->req.set_node_type(node_type);
  call->channel = impl_->ChannelFor(uri);
  call->ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  if (!impl_->Track(&call->ctx)) return;
  auto self = impl_;
  call->channel->stub->async()->Join(
      &call->ctx, &call->req, &call->resp, [self, call, reply = std::move(reply), uri](::grpc::Status s) mutable {
        self->Untrack(&call->ctx, [call, reply = std::move(reply), s, uri](OnLoop on_loop) {
          if (!s.ok()) {
            reply(on_loop, Status::Unavailable("cannot reach " + uri + ": " + s.error_message()), 0);
            return;
          }
          reply(on_loop, FromWire(call->resp.code(), call->resp.message()), call->resp.leader_id());
        });
      });
}

void PeerPool::CommitIndex(OnLoop, const std::string& uri, std::chrono::milliseconds timeout, CommitReply reply) {
  struct Call {
    ::grpc::ClientContext ctx;
    p2p::CommitIndexRequest req;
    p2p::CommitIndexReply resp;
    std::shared_ptr<Impl::Channel> channel;
  };
  auto call = std::make_shared<Call>();
  call->channel = impl_->ChannelFor(uri);
  call->ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  if (!impl_->Track(&call->ctx)) return;
  auto self = impl_;
  call->channel->stub->async()->CommitIndex(
      &call->ctx, &call->req, &call->resp, [self, call, reply = std::move(reply), uri](::grpc::Status s) mutable {
        self->Untrack(&call->ctx, [call, reply = std::move(reply), s, uri](OnLoop on_loop) {
          if (!s.ok()) {
            reply(on_loop, Status::Unavailable("cannot reach " + uri + ": " + s.error_message()),
                  Position{});
            return;
          }
          reply(on_loop, Status::Ok(),
                Position{.commit = call->resp.commit(),
                         .reconciled = call->resp.reconciled(),
                         .term = call->resp.term(),
                         .applied = call->resp.applied(),
                         .role = call->resp.role()});
        });
      });
}

std::map<std::string, PeerPool::SendFailure> PeerPool::SendFailures(OnLoop) const {
  std::map<std::string, SendFailure> out;
  for (const auto& [uri, count] : impl_->failures) out[uri].count = count;
  for (const auto& [id, queue] : impl_->queues) {
    if (!queue.failure.empty()) out[queue.uri].latest_error = queue.failure;
  }
  return out;
}

bool PeerPool::Reachable(OnLoop, uint64_t peer_id) const {
  auto it = impl_->queues.find(peer_id);
  return it != impl_->queues.end() && it->second.reachable;
}

void PeerPool::Stop(OnLoop on_loop) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopped = true;
    for (auto* ctx : impl_->inflight) ctx->TryCancel();
  }
  // Whatever is still queued will never be sent.
  for (auto& [id, q] : impl_->queues) {
    auto items = std::move(q.items);
    q.items.clear();
    for (auto& [bytes, done] : items) {
      if (done) done(on_loop, false);
    }
  }
}

}  // namespace qd::peer
