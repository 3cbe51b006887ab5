#include "qdrantd/api/p2p/p2p_server.h"

#include <grpcpp/grpcpp.h>

#include "libshared/log.h"
#include "p2p.grpc.pb.h"
#include "qdrantd/collection/collections.h"
#include "qdrantd/peer/data_codec.h"
#include "qdrantd/server/worker_pool.h"

namespace qd::api::p2p {
namespace {

namespace pb = ::qdrantd::p2p;
using ::grpc::CallbackServerContext;
using ::grpc::ServerUnaryReactor;
using server::OnLoop;

class Service final : public pb::P2p::CallbackService {
 public:
  Service(server::Loop& loop, P2pHandlers handlers) : loop_(loop), handlers_(std::move(handlers)) {}

  ServerUnaryReactor* Raft(CallbackServerContext* context, const pb::RaftMessageRequest* request,
                           pb::RaftMessageReply*) override {
    ServerUnaryReactor* reactor = context->DefaultReactor();
    // The message is handed over as soon as it is queued for the loop: Raft tolerates loss.
    loop_.Post([this, message = request->message()](OnLoop on_loop) {
      if (handlers_.raft_message) handlers_.raft_message(on_loop, message);
    });
    reactor->Finish(::grpc::Status::OK);
    return reactor;
  }

  ServerUnaryReactor* Propose(CallbackServerContext* context, const pb::ProposeRequest* request,
                              pb::ProposeReply* reply) override {
    ServerUnaryReactor* reactor = context->DefaultReactor();
    loop_.Post([this, op = request->operation(), reactor, reply](OnLoop on_loop) mutable {
      handlers_.propose(on_loop, std::move(op), [reactor, reply](OnLoop, const Status& s, uint64_t leader) {
        reply->set_code(static_cast<int32_t>(s.code()));
        reply->set_message(s.message());
        reply->set_leader_id(leader);
        reactor->Finish(::grpc::Status::OK);
      });
    });
    return reactor;
  }

  ServerUnaryReactor* Join(CallbackServerContext* context, const pb::JoinRequest* request,
                           pb::JoinReply* reply) override {
    ServerUnaryReactor* reactor = context->DefaultReactor();
    loop_.Post([this, id = request->peer_id(), uri = request->uri(), type = request->node_type(), reactor,
                reply](OnLoop on_loop) mutable {
      handlers_.join(on_loop, id, std::move(uri), std::move(type),
                     [reactor, reply](OnLoop, const Status& s, uint64_t leader) {
                       reply->set_code(static_cast<int32_t>(s.code()));
                       reply->set_message(s.message());
                       reply->set_leader_id(leader);
                       reactor->Finish(::grpc::Status::OK);
                     });
    });
    return reactor;
  }

  ServerUnaryReactor* CommitIndex(CallbackServerContext* context, const pb::CommitIndexRequest*,
                                  pb::CommitIndexReply* reply) override {
    ServerUnaryReactor* reactor = context->DefaultReactor();
    loop_.Post([this, reactor, reply](OnLoop on_loop) {
      reply->set_commit(handlers_.commit_index ? handlers_.commit_index(on_loop) : 0);
      reply->set_reconciled(handlers_.reconciled_index ? handlers_.reconciled_index(on_loop) : 0);
      if (handlers_.standing) {
        P2pHandlers::Standing s = handlers_.standing(on_loop);
        reply->set_term(s.term);
        reply->set_applied(s.applied);
        reply->set_role(s.role);
      }
      reactor->Finish(::grpc::Status::OK);
    });
    return reactor;
  }

 private:
  server::Loop& loop_;
  P2pHandlers handlers_;
};

template <typename Reply>
void SetStatus(Reply* reply, const Status& s) {
  reply->set_code(static_cast<int32_t>(s.code()));
  reply->set_message(s.message());
}

// Runs `work` (Status(Reply*)) on `pool`, then finishes the call; a full pool answers in-band
// RESOURCE_EXHAUSTED, a missing data context UNAVAILABLE.
template <typename Reply, typename Work>
ServerUnaryReactor* OnPool(server::WorkerPool* pool, CallbackServerContext* context, Reply* reply,
                           Work work) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  if (pool == nullptr) {
    SetStatus(reply, Status::Unavailable("this peer serves no data plane yet"));
    reactor->Finish(::grpc::Status::OK);
    return reactor;
  }
  Status submitted = pool->Submit([reactor, reply, work = std::move(work)]() mutable {
    Status s = work();
    SetStatus(reply, s);
    reactor->Finish(::grpc::Status::OK);
  });
  if (!submitted.ok()) {
    SetStatus(reply, submitted);
    reactor->Finish(::grpc::Status::OK);
  }
  return reactor;
}

class DataService final : public pb::P2pData::CallbackService {
 public:
  explicit DataService(P2pDataContext data) : data_(data) {}

  ServerUnaryReactor* Forward(CallbackServerContext* context, const pb::ForwardRequest* request,
                              pb::ForwardReply* reply) override {
    return OnPool(data_.forward_pool, context, reply, [this, request, reply]() -> Status {
      Result<std::shared_ptr<collection::Collection>> c =
          data_.collections->Get(request->collection());
      if (!c.ok()) return c.status();
      Result<collection::UpdateRequest> update = peer::DecodeUpdate(*request);
      if (!update.ok()) return update.status();
      Result<segment::OpNum> n =
          (*c)->UpdateAsOrderingReplica(request->shard(), std::move(*update));
      if (!n.ok()) return n.status();
      reply->set_op_num(*n);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* Replicate(CallbackServerContext* context, const pb::ReplicateRequest* request,
                                pb::ReplicateReply* reply) override {
    return OnPool(data_.replicate_pool, context, reply, [this, request, reply]() -> Status {
      Result<std::shared_ptr<collection::Collection>> c =
          data_.collections->Get(request->collection());
      if (!c.ok()) return c.status();
      std::vector<collection::StreamItem> items;
      items.reserve(request->ops_size());
      for (const pb::ReplicatedOp& op : request->ops()) {
        if (op.kind() > 2) return Status::InvalidArgument("unknown replicated item kind");
        collection::StreamItem item;
        item.kind = static_cast<collection::StreamItem::Kind>(op.kind());
        item.op_num = op.op_num();
        item.body = op.op();
        item.versions.assign(op.versions().begin(), op.versions().end());
        item.indexes.assign(op.indexes().begin(), op.indexes().end());
        items.push_back(std::move(item));
      }
      Result<segment::OpNum> last =
          (*c)->ApplyReplicated(request->shard(), request->origin(), std::move(items));
      if (!last.ok()) {
        QD_LOG_WARN("collection " + request->collection() + ", shard " +
                    std::to_string(request->shard()) + ": refused ops from peer " +
                    std::to_string(request->origin()) + ": " + last.status().message());
        return last.status();
      }
      reply->set_last_op(*last);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* TransferReady(CallbackServerContext* context,
                                    const pb::TransferReadyRequest* request,
                                    pb::TransferReadyReply* reply) override {
    return OnPool(data_.read_pool, context, reply, [this, request, reply]() -> Status {
      if (request->collection().empty()) return Status::Ok();  // a probe: this peer is up
      Result<std::shared_ptr<collection::Collection>> c =
          data_.collections->Get(request->collection());
      if (!c.ok()) return Status::Unavailable(c.status().message());
      Result<std::optional<collection::ReplicaClock>> clock =
          (*c)->TransferReady(request->shard(), request->from());
      if (!clock.ok()) return clock.status();
      if (*clock) {
        reply->set_has_clock(true);
        reply->set_last_op((*clock)->op);
        reply->set_last_op_hash((*clock)->hash);
      }
      return Status::Ok();
    });
  }

  ServerUnaryReactor* SnapshotChunk(CallbackServerContext* context,
                                    const pb::SnapshotChunkRequest* request,
                                    pb::SnapshotChunkReply* reply) override {
    // On the replicate pool: chunk writes are short, an install opens a replica (seconds).
    return OnPool(data_.replicate_pool, context, reply, [this, request, reply]() -> Status {
      Result<std::shared_ptr<collection::Collection>> c =
          data_.collections->Get(request->collection());
      if (!c.ok()) return c.status();
      collection::SnapshotChunk chunk{.shard = request->shard(),
                                      .from = request->from(),
                                      .session = request->session(),
                                      .file = request->file(),
                                      .offset = request->offset(),
                                      .data = request->data(),
                                      .install = request->install()};
      Result<collection::InstalledSnapshot> r = (*c)->ReceiveTransferSnapshot(chunk);
      if (!r.ok()) return r.status();
      reply->set_last_op(r->last_op);
      reply->set_points(r->points);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* Fence(CallbackServerContext* context, const pb::FenceRequest* request,
                            pb::FenceReply* reply) override {
    return OnPool(data_.read_pool, context, reply, [this, request, reply]() -> Status {
      Result<std::shared_ptr<collection::Collection>> c =
          data_.collections->Get(request->collection());
      if (!c.ok()) return c.status();
      Result<segment::OpNum> last = (*c)->Fence(request->shard(), request->orderer());
      if (!last.ok()) return last.status();
      reply->set_last_op(*last);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* Digest(CallbackServerContext* context, const pb::DigestRequest* request,
                             pb::DigestReply* reply) override {
    return OnPool(data_.read_pool, context, reply, [this, request, reply]() -> Status {
      Result<std::shared_ptr<collection::Collection>> c =
          data_.collections->Get(request->collection());
      if (!c.ok()) return c.status();
      Result<collection::ReplicaDigest> d = (*c)->Digest(request->shard());
      if (!d.ok()) return d.status();
      reply->set_last_op(d->op);
      reply->set_points(d->points);
      reply->set_sum(d->sum);
      reply->set_xor_(d->xor_);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* ReadOps(CallbackServerContext* context, const pb::ReadOpsRequest* request,
                              pb::ReadOpsReply* reply) override {
    return OnPool(data_.read_pool, context, reply, [this, request, reply]() -> Status {
      Result<std::shared_ptr<collection::Collection>> c =
          data_.collections->Get(request->collection());
      if (!c.ok()) return c.status();
      Result<std::vector<replica::LocalReplica::NumberedOp>> ops =
          (*c)->ReadOps(request->shard(), request->from(), request->to());
      if (!ops.ok()) return ops.status();
      for (replica::LocalReplica::NumberedOp& op : *ops) {
        pb::ReplicatedOp* out = reply->add_ops();
        out->set_op_num(op.op_num);
        out->set_op(std::move(op.body));
      }
      return Status::Ok();
    });
  }

  ServerUnaryReactor* Read(CallbackServerContext* context, const pb::ReadRequest* request,
                           pb::ReadReply* reply) override {
    return OnPool(data_.read_pool, context, reply, [this, request, reply]() -> Status {
      Result<std::shared_ptr<collection::Collection>> c =
          data_.collections->Get(request->collection());
      if (!c.ok()) return c.status();
      Result<collection::ShardRead> read = peer::DecodeRead(*request);
      if (!read.ok()) return read.status();
      Result<collection::ShardReadResult> result = (*c)->ReadLocal(request->shard(), *read);
      if (!result.ok()) return result.status();
      peer::EncodeReadResult(*result, *reply);
      return Status::Ok();
    });
  }

 private:
  P2pDataContext data_;
};

}  // namespace

struct P2pServer::Impl {
  std::string host;
  uint16_t port;
  Service service;
  DataService data_service;
  bool serve_data;
  std::unique_ptr<::grpc::Server> server;
  Impl(server::Loop& loop, std::string h, uint16_t p, P2pHandlers handlers, P2pDataContext data)
      : host(std::move(h)),
        port(p),
        service(loop, std::move(handlers)),
        data_service(data),
        serve_data(data.collections != nullptr) {}
};

P2pServer::P2pServer(server::Loop& loop, std::string host, uint16_t port, P2pHandlers handlers,
                     P2pDataContext data)
    : impl_(std::make_unique<Impl>(loop, std::move(host), port, std::move(handlers), data)) {}

P2pServer::~P2pServer() {
  if (impl_->server) impl_->server->Shutdown(std::chrono::system_clock::now());
}

Status P2pServer::Start(std::shared_ptr<::grpc::ServerCredentials> credentials) {
  std::string address = impl_->host + ":" + std::to_string(impl_->port);
  ::grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(address, credentials ? credentials : ::grpc::InsecureServerCredentials(),
                           &bound_port);
  builder.SetMaxReceiveMessageSize(256 << 20);
  builder.SetMaxSendMessageSize(256 << 20);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&impl_->service);
  if (impl_->serve_data) builder.RegisterService(&impl_->data_service);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || bound_port == 0) {
    impl_->server.reset();
    return Status::Unavailable("cannot listen for P2P on " + address + ": the address is in use or invalid");
  }
  return Status::Ok();
}

void P2pServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  if (impl_->server) {
    impl_->server->Shutdown(deadline);
    impl_->server->Wait();
    impl_->server.reset();
  }
}

}  // namespace qd::api::p2p
