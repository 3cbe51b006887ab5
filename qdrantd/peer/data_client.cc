#include "qdrantd/peer/data_client.h"

#include <grpcpp/grpcpp.h>

#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "libshared/log.h"
#include "p2p.grpc.pb.h"
#include "qdrantd/peer/channel.h"
#include "qdrantd/peer/data_codec.h"

namespace qd::peer {
namespace {

namespace pb = ::qdrantd::p2p;

Status Unreachable(uint64_t peer, const std::string& what, const ::grpc::Status& s) {
  return Status::Unavailable(std::string(collection::kUnreachable) + "peer " +
                             std::to_string(peer) + " (" + what + "): " + s.error_message());
}

void SetDeadline(::grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

}  // namespace

// Lock order: a Stream's mu, then mu.
struct DataClient::Impl : std::enable_shared_from_this<DataClient::Impl> {
  UriOf uri_of;
  ProposeDead propose_dead;
  DataClientOptions options;

  std::mutex mu;
  std::map<std::string, std::shared_ptr<pb::P2pData::Stub>> stubs;  // by URI; Protected by mu
  // Dead reports in flight, shared by their concurrent callers. Protected by mu.
  std::map<std::tuple<std::string, uint32_t, uint64_t>, std::shared_future<Status>> reporting;

  struct Entry {
    uint64_t origin = 0;
    collection::StreamItem item;
    Done done;
    size_t bytes() const { return item.body.size() + item.versions.size() * 8; }
  };
  struct Stream {
    std::mutex mu;
    std::deque<Entry> queue;  // Protected by mu
    bool in_flight = false;   // Protected by mu
    Status failed;            // Protected by mu; sticky
  };
  using StreamKey = std::tuple<uint64_t, std::string, uint32_t>;
  std::map<StreamKey, std::shared_ptr<Stream>> streams;  // Protected by mu

  Result<std::shared_ptr<pb::P2pData::Stub>> StubFor(uint64_t peer) {
    std::optional<std::string> uri = uri_of(peer);
    if (!uri)
      return Status::Unavailable(std::string(collection::kUnreachable) + "peer " +
                                 std::to_string(peer) + " is not a member of the cluster");
    std::lock_guard<std::mutex> lock(mu);
    auto it = stubs.find(*uri);
    if (it != stubs.end()) return it->second;
    auto channel = NewPeerChannel(*uri, "data");
    auto stub = std::make_shared<pb::P2pData::Stub>(channel);
    stubs[*uri] = stub;
    return stub;
  }

  std::shared_ptr<Stream> StreamFor(const StreamKey& key) {
    std::lock_guard<std::mutex> lock(mu);
    std::shared_ptr<Stream>& s = streams[key];
    if (!s) s = std::make_shared<Stream>();
    return s;
  }

  // Sends the next batch of `stream` if it is idle and has ops. Holds stream->mu.
  void SendNext(const StreamKey& key, const std::shared_ptr<Stream>& stream) {
    if (stream->in_flight || stream->queue.empty() || !stream->failed.ok()) return;
    const auto& [peer, collection, shard] = key;
    Result<std::shared_ptr<pb::P2pData::Stub>> stub = StubFor(peer);
    if (!stub.ok()) {
      FailAll(stream, stub.status());
      return;
    }
    struct Call {
      ::grpc::ClientContext context;
      pb::ReplicateRequest request;
      pb::ReplicateReply reply;
      std::vector<Entry> batch;
      std::shared_ptr<pb::P2pData::Stub> stub;
    };
    auto call = std::make_shared<Call>();
    call->stub = *stub;
    call->request.set_collection(collection);
    call->request.set_shard(shard);
    size_t bytes = 0;
    call->request.set_origin(stream->queue.front().origin);
    while (
        !stream->queue.empty() && stream->queue.front().origin == call->request.origin() &&
        (call->batch.empty() || bytes + stream->queue.front().bytes() <= options.max_batch_bytes)) {
      Entry e = std::move(stream->queue.front());
      stream->queue.pop_front();
      bytes += e.bytes();
      pb::ReplicatedOp* op = call->request.add_ops();
      op->set_op_num(e.item.op_num);
      op->set_kind(static_cast<uint32_t>(e.item.kind));
      op->set_op(std::move(e.item.body));
      for (segment::OpNum v : e.item.versions) op->add_versions(v);
      for (std::string& index : e.item.indexes) op->add_indexes(std::move(index));
      e.item = {};
      call->batch.push_back(std::move(e));
    }
    stream->in_flight = true;
    SetDeadline(call->context, options.replicate_timeout);
    std::weak_ptr<Impl> weak = weak_from_this();
    call->stub->async()->Replicate(
        &call->context, &call->request, &call->reply,
        [weak, key, stream, call](::grpc::Status status) {
          Status s = status.ok() ? StatusFromWire(call->reply.code(), call->reply.message())
                                 : Unreachable(std::get<0>(key), "replicating", status);
          for (Entry& e : call->batch) e.done(s);
          std::lock_guard<std::mutex> lock(stream->mu);
          stream->in_flight = false;
          if (!s.ok()) {
            FailAll(stream, s);
            return;
          }
          if (auto self = weak.lock()) self->SendNext(key, stream);
        });
  }

  // Makes the stream's failure sticky and fails everything queued. Holds stream->mu.
  static void FailAll(const std::shared_ptr<Stream>& stream, const Status& s) {
    if (stream->failed.ok()) stream->failed = s;
    std::deque<Entry> queued = std::move(stream->queue);
    stream->queue.clear();
    for (Entry& e : queued) e.done(stream->failed);
  }
};

DataClient::DataClient(UriOf uri_of, ProposeDead propose_dead, DataClientOptions options)
    : impl_(std::make_shared<Impl>()) {
  impl_->uri_of = std::move(uri_of);
  impl_->propose_dead = std::move(propose_dead);
  impl_->options = options;
}

DataClient::~DataClient() = default;

Result<segment::OpNum> DataClient::Forward(uint64_t peer, const std::string& collection,
                                           uint32_t shard,
                                           const collection::UpdateRequest& request) {
  Result<std::shared_ptr<pb::P2pData::Stub>> stub = impl_->StubFor(peer);
  if (!stub.ok()) return stub.status();
  pb::ForwardRequest req;
  req.set_collection(collection);
  req.set_shard(shard);
  EncodeUpdate(request, req);
  pb::ForwardReply reply;
  ::grpc::ClientContext context;
  SetDeadline(context, impl_->options.forward_timeout);
  ::grpc::Status status = (*stub)->Forward(&context, req, &reply);
  if (!status.ok()) return Unreachable(peer, "forwarding a write", status);
  Status s = StatusFromWire(reply.code(), reply.message());
  if (!s.ok()) return s;
  return reply.op_num();
}

void DataClient::Replicate(uint64_t peer, const std::string& collection, uint32_t shard,
                           uint64_t origin, collection::StreamItem item, Done done) {
  Impl::StreamKey key{peer, collection, shard};
  std::shared_ptr<Impl::Stream> stream = impl_->StreamFor(key);
  std::unique_lock<std::mutex> lock(stream->mu);
  if (!stream->failed.ok()) {
    Status failed = stream->failed;
    lock.unlock();
    done(failed);
    return;
  }
  stream->queue.push_back(Impl::Entry{origin, std::move(item), std::move(done)});
  impl_->SendNext(key, stream);
}

void DataClient::ResetReplication(uint64_t peer, const std::string& collection, uint32_t shard) {
  // Lock order: a stream's mutex before impl_->mu (SendNext holds the first and takes the second
  // in StubFor), so the two are never held here at once the other way round.
  const Impl::StreamKey key{peer, collection, shard};
  std::shared_ptr<Impl::Stream> stream;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->streams.find(key);
    if (it == impl_->streams.end()) return;
    stream = it->second;
  }
  {
    std::lock_guard<std::mutex> lock(stream->mu);
    if (stream->failed.ok()) return;
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->streams.find(key);
  if (it != impl_->streams.end() && it->second == stream) impl_->streams.erase(it);
}

Result<std::optional<collection::ReplicaClock>> DataClient::TransferReady(
    uint64_t peer, const std::string& collection, uint32_t shard, uint64_t from) {
  Result<std::shared_ptr<pb::P2pData::Stub>> stub = impl_->StubFor(peer);
  if (!stub.ok()) return stub.status();
  pb::TransferReadyRequest req;
  req.set_collection(collection);
  req.set_shard(shard);
  req.set_from(from);
  pb::TransferReadyReply reply;
  ::grpc::ClientContext context;
  SetDeadline(context, impl_->options.probe_timeout);
  ::grpc::Status status = (*stub)->TransferReady(&context, req, &reply);
  if (!status.ok()) return Unreachable(peer, "asking about a transfer", status);
  Status s = StatusFromWire(reply.code(), reply.message());
  if (!s.ok()) return s;
  if (!reply.has_clock()) return std::optional<collection::ReplicaClock>();
  return std::optional<collection::ReplicaClock>(
      collection::ReplicaClock{reply.last_op(), reply.last_op_hash()});
}

Result<collection::InstalledSnapshot> DataClient::SendSnapshotChunk(
    uint64_t peer, const std::string& collection, const collection::SnapshotChunk& chunk) {
  Result<std::shared_ptr<pb::P2pData::Stub>> stub = impl_->StubFor(peer);
  if (!stub.ok()) return stub.status();
  pb::SnapshotChunkRequest req;
  req.set_collection(collection);
  req.set_shard(chunk.shard);
  req.set_from(chunk.from);
  req.set_session(chunk.session);
  req.set_file(chunk.file);
  req.set_offset(chunk.offset);
  req.set_data(chunk.data);
  req.set_install(chunk.install);
  pb::SnapshotChunkReply reply;
  ::grpc::ClientContext context;
  SetDeadline(context,
              chunk.install ? impl_->options.install_timeout : impl_->options.forward_timeout);
  ::grpc::Status status = (*stub)->SnapshotChunk(&context, req, &reply);
  if (!status.ok()) return Unreachable(peer, "sending a shard snapshot", status);
  Status s = StatusFromWire(reply.code(), reply.message());
  if (!s.ok()) return s;
  return collection::InstalledSnapshot{reply.last_op(), reply.points()};
}

Result<segment::OpNum> DataClient::Fence(uint64_t peer, const std::string& collection,
                                         uint32_t shard, uint64_t orderer) {
  Result<std::shared_ptr<pb::P2pData::Stub>> stub = impl_->StubFor(peer);
  if (!stub.ok()) return stub.status();
  pb::FenceRequest req;
  req.set_collection(collection);
  req.set_shard(shard);
  req.set_orderer(orderer);
  pb::FenceReply reply;
  ::grpc::ClientContext context;
  SetDeadline(context, impl_->options.read_timeout);
  ::grpc::Status status = (*stub)->Fence(&context, req, &reply);
  if (!status.ok()) return Unreachable(peer, "fencing the ordering of a shard", status);
  Status s = StatusFromWire(reply.code(), reply.message());
  if (!s.ok()) return s;
  return reply.last_op();
}

Result<collection::ReplicaDigest> DataClient::Digest(uint64_t peer, const std::string& collection,
                                                     uint32_t shard) {
  Result<std::shared_ptr<pb::P2pData::Stub>> stub = impl_->StubFor(peer);
  if (!stub.ok()) return stub.status();
  pb::DigestRequest req;
  req.set_collection(collection);
  req.set_shard(shard);
  pb::DigestReply reply;
  ::grpc::ClientContext context;
  SetDeadline(context, impl_->options.read_timeout);
  ::grpc::Status status = (*stub)->Digest(&context, req, &reply);
  if (!status.ok()) return Unreachable(peer, "taking a replica's digest", status);
  Status s = StatusFromWire(reply.code(), reply.message());
  if (!s.ok()) return s;
  return collection::ReplicaDigest{reply.last_op(), reply.points(), reply.sum(), reply.xor_()};
}

Result<std::vector<collection::StreamItem>> DataClient::ReadOps(uint64_t peer,
                                                                const std::string& collection,
                                                                uint32_t shard, segment::OpNum from,
                                                                segment::OpNum to) {
  Result<std::shared_ptr<pb::P2pData::Stub>> stub = impl_->StubFor(peer);
  if (!stub.ok()) return stub.status();
  pb::ReadOpsRequest req;
  req.set_collection(collection);
  req.set_shard(shard);
  req.set_from(from);
  req.set_to(to);
  pb::ReadOpsReply reply;
  ::grpc::ClientContext context;
  SetDeadline(context, impl_->options.read_timeout);
  ::grpc::Status status = (*stub)->ReadOps(&context, req, &reply);
  if (!status.ok()) return Unreachable(peer, "reading ops", status);
  Status s = StatusFromWire(reply.code(), reply.message());
  if (!s.ok()) return s;
  std::vector<collection::StreamItem> out;
  for (const pb::ReplicatedOp& op : reply.ops()) {
    collection::StreamItem item;
    item.op_num = op.op_num();
    item.body = op.op();
    out.push_back(std::move(item));
  }
  return out;
}

std::future<Result<collection::ShardReadResult>> DataClient::Read(
    uint64_t peer, const std::string& collection, uint32_t shard,
    const collection::ShardRead& read) {
  struct Call {
    ::grpc::ClientContext context;
    pb::ReadRequest request;
    pb::ReadReply reply;
    std::promise<Result<collection::ShardReadResult>> promise;
    segment::Projection projection;
    std::shared_ptr<pb::P2pData::Stub> stub;
  };
  auto call = std::make_shared<Call>();
  std::future<Result<collection::ShardReadResult>> future = call->promise.get_future();
  Result<std::shared_ptr<pb::P2pData::Stub>> stub = impl_->StubFor(peer);
  if (!stub.ok()) {
    call->promise.set_value(stub.status());
    return future;
  }
  call->stub = *stub;
  call->projection = read.projection;
  call->request.set_collection(collection);
  call->request.set_shard(shard);
  EncodeRead(read, call->request);
  SetDeadline(call->context, impl_->options.read_timeout);
  call->stub->async()->Read(
      &call->context, &call->request, &call->reply, [call, peer](::grpc::Status status) {
        if (!status.ok()) {
          call->promise.set_value(Unreachable(peer, "reading", status));
          return;
        }
        Status s = StatusFromWire(call->reply.code(), call->reply.message());
        if (!s.ok()) {
          call->promise.set_value(s);
          return;
        }
        call->promise.set_value(DecodeReadResult(call->reply, call->projection));
      });
  return future;
}

std::shared_future<Status> DataClient::ReportDead(const std::string& collection, uint32_t shard,
                                                  uint64_t peer, const std::string& why) {
  auto key = std::make_tuple(collection, shard, peer);
  auto promise = std::make_shared<std::promise<Status>>();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->reporting.find(key);
    if (it != impl_->reporting.end()) return it->second;
    impl_->reporting[key] = promise->get_future().share();
  }
  std::shared_future<Status> result;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    result = impl_->reporting[key];
  }
  QD_LOG_WARN("collection " + collection + ", shard " + std::to_string(shard) +
              ": reporting the replica on peer " + std::to_string(peer) + " Dead: " + why);
  std::weak_ptr<Impl> weak = impl_;
  impl_->propose_dead(collection, shard, peer, [weak, key, promise](const Status& s) {
    if (!s.ok()) {
      QD_LOG_WARN("collection " + std::get<0>(key) + ", shard " + std::to_string(std::get<1>(key)) +
                  ": marking the replica on peer " + std::to_string(std::get<2>(key)) +
                  " Dead failed: " + s.message());
    }
    if (auto self = weak.lock()) {
      std::lock_guard<std::mutex> lock(self->mu);
      self->reporting.erase(key);
    }
    promise->set_value(s);
  });
  return result;
}

}  // namespace qd::peer
