// qdrant.Snapshots over collection::Snapshots, as qdrantd/api/rest/snapshot_routes.cc serves it
// over REST (compat.md §4.7): collection and full snapshots, create, list, delete. Downloads and
// recovery have no gRPC method in Qdrant's API; they stay REST-only.
#include <ctime>

#include "qdrantd/api/grpc/grpc_auth.h"
#include "qdrantd/api/grpc/grpc_call.h"
#include "qdrantd/api/grpc/qdrant_services.h"
#include "qdrantd/collection/snapshots.h"
#include "snapshots_service.grpc.pb.h"

namespace qd::api::grpc {
namespace {

using collection::SnapshotDescription;
using ::grpc::CallbackServerContext;
using ::grpc::ServerUnaryReactor;

// creation_time is UTC "YYYY-MM-DDTHH:MM:SS" (snapshots.h).
void ToProto(const SnapshotDescription& d, qdrant::SnapshotDescription* out) {
  out->set_name(d.name);
  out->set_size(static_cast<int64_t>(d.size));
  out->set_checksum(d.checksum);
  std::tm tm{};
  if (strptime(d.creation_time.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr) {
    out->mutable_creation_time()->set_seconds(static_cast<int64_t>(timegm(&tm)));
  }
}

class SnapshotsService final : public qdrant::Snapshots::CallbackService {
 public:
  explicit SnapshotsService(ServiceContext context) : c_(context) {}

  ServerUnaryReactor* Create(CallbackServerContext* context,
                             const qdrant::CreateSnapshotRequest* request,
                             qdrant::CreateSnapshotResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Snapshots/Create", *request))
      return refused;
    return Run(context, response, [this, request, response]() -> Status {
      Result<SnapshotDescription> d = c_.snapshots->CreateCollection(request->collection_name());
      if (!d.ok()) return d.status();
      ToProto(*d, response->mutable_snapshot_description());
      return Status::Ok();
    });
  }

  ServerUnaryReactor* List(CallbackServerContext* context,
                           const qdrant::ListSnapshotsRequest* request,
                           qdrant::ListSnapshotsResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Snapshots/List", *request))
      return refused;
    return Run(context, response, [this, request, response]() -> Status {
      auto list = c_.snapshots->ListCollection(request->collection_name());
      if (!list.ok()) return list.status();
      for (const SnapshotDescription& d : *list) ToProto(d, response->add_snapshot_descriptions());
      return Status::Ok();
    });
  }

  ServerUnaryReactor* Delete(CallbackServerContext* context,
                             const qdrant::DeleteSnapshotRequest* request,
                             qdrant::DeleteSnapshotResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Snapshots/Delete", *request))
      return refused;
    return Run(context, response, [this, request]() -> Status {
      return c_.snapshots->DeleteCollection(request->collection_name(), request->snapshot_name());
    });
  }

  ServerUnaryReactor* CreateFull(CallbackServerContext* context,
                                 const qdrant::CreateFullSnapshotRequest* request,
                                 qdrant::CreateSnapshotResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Snapshots/CreateFull", *request))
      return refused;
    return Run(context, response, [this, response]() -> Status {
      Result<SnapshotDescription> d = c_.snapshots->CreateFull();
      if (!d.ok()) return d.status();
      ToProto(*d, response->mutable_snapshot_description());
      return Status::Ok();
    });
  }

  ServerUnaryReactor* ListFull(CallbackServerContext* context,
                               const qdrant::ListFullSnapshotsRequest* request,
                               qdrant::ListSnapshotsResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Snapshots/ListFull", *request))
      return refused;
    return Run(context, response, [this, response]() -> Status {
      auto list = c_.snapshots->ListFull();
      if (!list.ok()) return list.status();
      for (const SnapshotDescription& d : *list) ToProto(d, response->add_snapshot_descriptions());
      return Status::Ok();
    });
  }

  ServerUnaryReactor* DeleteFull(CallbackServerContext* context,
                                 const qdrant::DeleteFullSnapshotRequest* request,
                                 qdrant::DeleteSnapshotResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Snapshots/DeleteFull", *request))
      return refused;
    return Run(context, response, [this, request]() -> Status {
      return c_.snapshots->DeleteFull(request->snapshot_name());
    });
  }

 private:
  template <typename Response, typename Work>
  ServerUnaryReactor* Run(CallbackServerContext* context, Response* response, Work work) {
    if (!c_.snapshots) {
      return Answer(context, ::grpc::Status(::grpc::StatusCode::UNIMPLEMENTED,
                                            "snapshots are not available on this server"));
    }
    return OnPool(c_.pool, context, response, std::move(work));
  }

  ServiceContext c_;
};

}  // namespace

std::unique_ptr<::grpc::Service> NewSnapshotsService(ServiceContext context) {
  return std::make_unique<SnapshotsService>(context);
}

}  // namespace qd::api::grpc
