#include "tests/bench/grpc_vector_client.h"

#include <google/protobuf/arena.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <span>

#include "collections_service.grpc.pb.h"
#include "points_service.grpc.pb.h"

namespace qd::bench {
namespace {

StatusCode CodeForGrpc(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return StatusCode::kInvalidArgument;
    case grpc::StatusCode::NOT_FOUND:
      return StatusCode::kNotFound;
    case grpc::StatusCode::ALREADY_EXISTS:
      return StatusCode::kAlreadyExists;
    case grpc::StatusCode::PERMISSION_DENIED:
      return StatusCode::kPermissionDenied;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return StatusCode::kResourceExhausted;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return StatusCode::kFailedPrecondition;
    case grpc::StatusCode::UNAVAILABLE:
      return StatusCode::kUnavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return StatusCode::kDeadlineExceeded;
    default:
      return StatusCode::kInternal;
  }
}

Status FromGrpc(const grpc::Status& s, const std::string& method) {
  if (s.ok()) return Status::Ok();
  return Status(CodeForGrpc(s.error_code()),
                method + ": gRPC " + std::to_string(s.error_code()) + ": " + s.error_message());
}

qdrant::Distance DistanceOf(Metric metric) {
  switch (metric) {
    case Metric::kEuclid:
      return qdrant::Euclid;
    case Metric::kCosine:
      return qdrant::Cosine;
    case Metric::kDot:
      return qdrant::Dot;
  }
  return qdrant::UnknownDistance;
}

void FillSearch(qdrant::SearchPoints* s, const std::string& collection, std::span<const float> v,
                size_t limit, size_t ef) {
  s->set_collection_name(collection);
  s->mutable_vector()->Add(v.begin(), v.end());
  s->set_limit(limit);
  s->mutable_params()->set_hnsw_ef(ef);
}

void ReadHits(const google::protobuf::RepeatedPtrField<qdrant::ScoredPoint>& hits,
              std::vector<uint64_t>* ids) {
  ids->clear();
  for (const qdrant::ScoredPoint& p : hits) ids->push_back(p.id().num());
}

class GrpcVectorClient : public VectorClient {
 public:
  GrpcVectorClient(const std::string& target, std::chrono::milliseconds timeout)
      : target_(target), timeout_(timeout) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 << 20);
    args.SetMaxSendMessageSize(256 << 20);
    args.SetInt("qd_bench_channel", next_channel_++);  // a connection of its own
    channel_ = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    collections_ = qdrant::Collections::NewStub(channel_);
    upsert_ = std::make_unique<RawStub<qdrant::PointsOperationResponse>>(channel_);
    search_ = std::make_unique<RawStub<qdrant::SearchResponse>>(channel_);
    search_batch_ = std::make_unique<RawStub<qdrant::SearchBatchResponse>>(channel_);
  }

  ~GrpcVectorClient() override {
    calls_.Shutdown();
    void* tag;
    bool ok;
    while (calls_.Next(&tag, &ok)) {
    }
  }

  Status Connect() override {
    // Retries with gRPC's backoff until the deadline. A bench run once failed its first search
    // on a fresh channel with "failed to connect to all addresses ... No such file or
    // directory" while the daemon was up and serving the other connections.
    if (channel_->WaitForConnected(std::chrono::system_clock::now() + timeout_)) return Status::Ok();
    return Status::Unavailable("no gRPC connection to " + target_ + " within " +
                               std::to_string(timeout_.count()) + " ms");
  }

  Status RecreateCollection(const CollectionSpec& spec) override {
    if (Status s = DeleteCollection(spec.name); !s.ok()) return s;
    qdrant::CreateCollection request;
    request.set_collection_name(spec.name);
    auto* params = request.mutable_vectors_config()->mutable_params();
    params->set_size(spec.dim);
    params->set_distance(DistanceOf(spec.metric));
    request.mutable_hnsw_config()->set_m(spec.m);
    request.mutable_hnsw_config()->set_ef_construct(spec.ef_construct);
    qdrant::CollectionOperationResponse reply;
    grpc::ClientContext context;
    Deadline(context);
    return FromGrpc(collections_->Create(&context, request, &reply), "Collections/Create");
  }

  Result<CollectionState> GetCollection(const std::string& name) override {
    qdrant::GetCollectionInfoRequest request;
    request.set_collection_name(name);
    qdrant::GetCollectionInfoResponse reply;
    grpc::ClientContext context;
    Deadline(context);
    if (Status s = FromGrpc(collections_->Get(&context, request, &reply), "Collections/Get");
        !s.ok()) {
      return s;
    }
    CollectionState state;
    state.points_count = reply.result().points_count();
    switch (reply.result().status()) {
      case qdrant::Green:
        state.status = "green";
        break;
      case qdrant::Yellow:
        state.status = "yellow";
        break;
      case qdrant::Red:
        state.status = "red";
        break;
      case qdrant::Grey:
        state.status = "grey";
        break;
      default:
        state.status = "unknown";
        break;
    }
    return state;
  }

  Status DeleteCollection(const std::string& name) override {
    qdrant::DeleteCollection request;
    request.set_collection_name(name);
    qdrant::CollectionOperationResponse reply;
    grpc::ClientContext context;
    Deadline(context);
    Status s = FromGrpc(collections_->Delete(&context, request, &reply), "Collections/Delete");
    return s.code() == StatusCode::kNotFound ? Status::Ok() : s;
  }

  EncodedRequest EncodeUpsert(const std::string& collection, const Matrix& base, size_t first,
                              size_t count) override {
    qdrant::UpsertPoints request;
    request.set_collection_name(collection);
    request.set_wait(true);
    for (size_t i = first; i < first + count; ++i) {
      qdrant::PointStruct* p = request.add_points();
      p->mutable_id()->set_num(i);
      auto row = base.Row(i);
      p->mutable_vectors()->mutable_vector()->mutable_dense()->mutable_data()->Add(row.begin(),
                                                                                   row.end());
    }
    return {"Upsert", collection, request.SerializeAsString(), 0};
  }

  EncodedRequest EncodeSearch(const std::string& collection, const Matrix& queries, size_t row,
                              size_t limit, size_t hnsw_ef) override {
    qdrant::SearchPoints request;
    FillSearch(&request, collection, queries.Row(row), limit, hnsw_ef);
    return {"Search", collection, request.SerializeAsString(), 1};
  }

  EncodedRequest EncodeSearchBatch(const std::string& collection, const Matrix& queries,
                                   size_t first, size_t count, size_t limit,
                                   size_t hnsw_ef) override {
    qdrant::SearchBatchPoints request;
    request.set_collection_name(collection);
    for (size_t i = first; i < first + count; ++i) {
      FillSearch(request.add_search_points(), collection, queries.Row(i), limit, hnsw_ef);
    }
    return {"SearchBatch", collection, request.SerializeAsString(), count};
  }

  Status Upsert(const EncodedRequest& encoded) override {
    auto* reply = NewReply<qdrant::PointsOperationResponse>();
    return FromGrpc(Call(*upsert_, encoded, reply), "Points/Upsert");
  }

  Status Search(const EncodedRequest& encoded, SearchResults* results) override {
    results->resize(encoded.queries);
    if (encoded.method == "SearchBatch") {
      auto* reply = NewReply<qdrant::SearchBatchResponse>();
      if (Status s = FromGrpc(Call(*search_batch_, encoded, reply), "Points/SearchBatch");
          !s.ok()) {
        return s;
      }
      if (static_cast<size_t>(reply->result_size()) != encoded.queries) {
        return Status::Internal("Points/SearchBatch: expected " + std::to_string(encoded.queries) +
                                " result lists");
      }
      for (int i = 0; i < reply->result_size(); ++i)
        ReadHits(reply->result(i).result(), &(*results)[i]);
      return Status::Ok();
    }
    auto* reply = NewReply<qdrant::SearchResponse>();
    if (Status s = FromGrpc(Call(*search_, encoded, reply), "Points/Search"); !s.ok()) return s;
    ReadHits(reply->result(), &(*results)[0]);
    return Status::Ok();
  }

 private:
  void Deadline(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
  }

  // The timed calls send the bytes Encode* made, as the REST client sends its JSON: parsing them
  // back into a message for the typed stub to serialise again cost the client a copy of every
  // vector in each direction. Replies are typed and land in one reused arena.
  template <class Reply>
  using RawStub = grpc::TemplatedGenericStub<grpc::ByteBuffer, Reply>;

  static constexpr size_t kArenaBlock = 512 << 10;
  static google::protobuf::ArenaOptions ArenaOptionsFor(char* block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = kArenaBlock;
    return options;
  }

  template <class Reply>
  Reply* NewReply() {
    arena_.Reset();
    return google::protobuf::Arena::CreateMessage<Reply>(&arena_);
  }

  // A blocking unary call over the client's own completion queue (what a sync stub does).
  template <class Reply>
  grpc::Status Call(RawStub<Reply>& stub, const EncodedRequest& encoded, Reply* reply) {
    grpc::ClientContext context;
    Deadline(context);
    grpc::Slice slice(encoded.body.data(), encoded.body.size(), grpc::Slice::STATIC_SLICE);
    grpc::ByteBuffer request(&slice, 1);
    auto call = stub.PrepareUnaryCall(&context, "/qdrant.Points/" + encoded.method, request,
                                      &calls_);
    call->StartCall();
    grpc::Status status;
    call->Finish(reply, &status, this);
    void* tag;
    bool ok;
    if (!calls_.Next(&tag, &ok) || !ok) return grpc::Status(grpc::StatusCode::INTERNAL, "call lost");
    return status;
  }

  static inline std::atomic<int> next_channel_{0};
  const std::string target_;
  const std::chrono::milliseconds timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<qdrant::Collections::Stub> collections_;
  std::unique_ptr<RawStub<qdrant::PointsOperationResponse>> upsert_;
  std::unique_ptr<RawStub<qdrant::SearchResponse>> search_;
  std::unique_ptr<RawStub<qdrant::SearchBatchResponse>> search_batch_;
  grpc::CompletionQueue calls_;
  // Room for a 64-search reply, kept across Reset(): replies then cost no malloc at all.
  std::unique_ptr<char[]> arena_block_ = std::make_unique<char[]>(kArenaBlock);
  google::protobuf::Arena arena_{ArenaOptionsFor(arena_block_.get())};
};

}  // namespace

std::unique_ptr<VectorClient> GrpcTransport::NewClient() {
  return std::make_unique<GrpcVectorClient>(host_ + ":" + std::to_string(port_), timeout_);
}

std::string GrpcTransport::Describe() const {
  return "gRPC " + host_ + ":" + std::to_string(port_);
}

}  // namespace qd::bench
