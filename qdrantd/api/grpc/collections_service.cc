// qdrant.Collections over collection::Collections, as qdrantd/api/rest/collection_routes.cc
// serves it over REST (compat.md §4.1, §5.1).
#include <rapidjson/document.h>

#include "collections_service.grpc.pb.h"
#include "qdrantd/api/grpc/collection_codec.h"
#include "qdrantd/api/grpc/grpc_auth.h"
#include "qdrantd/api/grpc/grpc_call.h"
#include "qdrantd/api/grpc/qdrant_services.h"
#include "qdrantd/collection/collections.h"

namespace qd::api::grpc {
namespace {

using collection::AliasAction;
using collection::CollectionChange;
using collection::Collections;
using ::grpc::CallbackServerContext;
using ::grpc::ServerUnaryReactor;

// A standalone qdrantd is one peer; Qdrant gives even a standalone node a (random, persisted)
// peer id. Until consensus gives peers real ids (issue #5), ours is this fixed one.
constexpr uint64_t kStandalonePeerId = 1;

const char kStandaloneMessage[] =
    "Cluster operations are not available in standalone mode: start qdrantd with "
    "cluster.enabled=true";

Result<std::vector<AliasAction>> ParseAliasActions(const qdrant::ChangeAliases& request) {
  std::vector<AliasAction> actions;
  for (int i = 0; i < request.actions_size(); ++i) {
    const qdrant::AliasOperations& op = request.actions(i);
    AliasAction action;
    switch (op.action_case()) {
      case qdrant::AliasOperations::kCreateAlias:
        action.kind = AliasAction::kCreate;
        action.alias_name = op.create_alias().alias_name();
        action.collection_name = op.create_alias().collection_name();
        break;
      case qdrant::AliasOperations::kRenameAlias:
        action.kind = AliasAction::kRename;
        action.alias_name = op.rename_alias().old_alias_name();
        action.new_alias_name = op.rename_alias().new_alias_name();
        break;
      case qdrant::AliasOperations::kDeleteAlias:
        action.kind = AliasAction::kDelete;
        action.alias_name = op.delete_alias().alias_name();
        break;
      case qdrant::AliasOperations::ACTION_NOT_SET:
        return Status::InvalidArgument("Format error: actions[" + std::to_string(i) +
                                       "]: unknown variant, expected one of `create_alias`, "
                                       "`delete_alias`, `rename_alias`");
    }
    actions.push_back(std::move(action));
  }
  return actions;
}

class CollectionsService final : public qdrant::Collections::CallbackService {
 public:
  explicit CollectionsService(ServiceContext context) : c_(context) {}

  ServerUnaryReactor* Get(CallbackServerContext* context,
                          const qdrant::GetCollectionInfoRequest* request,
                          qdrant::GetCollectionInfoResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Collections/Get", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      auto c = c_.collections->Get(request->collection_name());
      if (!c.ok()) return c.status();
      qdrant::CollectionInfo* info = response->mutable_result();
      const size_t points = (*c)->points_count();
      info->set_status(qdrant::Green);
      info->mutable_optimizer_status()->set_ok(true);
      info->set_segments_count((*c)->segments_count());
      info->set_points_count(points);
      info->set_indexed_vectors_count(points);
      info->mutable_update_queue()->set_length(0);
      ConfigToProto(*(*c)->config().json, info->mutable_config());
      rapidjson::Document schema;
      const std::string schema_json = (*c)->PayloadSchemaJson();
      schema.Parse(schema_json.data(), schema_json.size());
      PayloadSchemaToProto(schema, info->mutable_payload_schema());
      return Status::Ok();
    });
  }

  ServerUnaryReactor* List(CallbackServerContext* context,
                           const qdrant::ListCollectionsRequest* request,
                           qdrant::ListCollectionsResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Collections/List", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, context, response]() -> Status {
      for (const std::string& name : c_.collections->List()) {
        if (MayRead(c_.auth, *context, name)) response->add_collections()->set_name(name);
      }
      return Status::Ok();
    });
  }

  ServerUnaryReactor* Create(CallbackServerContext* context,
                             const qdrant::CreateCollection* request,
                             qdrant::CollectionOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Collections/Create", *request))
      return refused;
    if (c_.cluster_enabled) {
      return Propose(context, request->has_timeout(), request->timeout(), response,
                     [request]() -> Result<CollectionChange> {
                       rapidjson::Document body;
                       CreateCollectionToJson(*request, body);
                       return collection::CreateChange(request->collection_name(), body);
                     });
    }
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      const std::string& name = request->collection_name();
      Status s = Collections::ValidateName(name);
      if (!s.ok()) return s;
      rapidjson::Document body;
      CreateCollectionToJson(*request, body);
      Result<collection::CollectionConfig> config = collection::ParseCreateCollection(body);
      if (!config.ok()) return config.status();
      s = c_.collections->Create(name, std::move(*config));
      if (!s.ok()) return s;
      response->set_result(true);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* Update(CallbackServerContext* context,
                             const qdrant::UpdateCollection* request,
                             qdrant::CollectionOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Collections/Update", *request))
      return refused;
    if (c_.cluster_enabled) {
      return Propose(context, request->has_timeout(), request->timeout(), response,
                     [this, request]() -> Result<CollectionChange> {
                       rapidjson::Document body;
                       UpdateCollectionToJson(*request, body);
                       return collection::UpdateChange(*c_.collections, request->collection_name(),
                                                       body);
                     });
    }
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      auto c = c_.collections->Get(request->collection_name());
      if (!c.ok()) return c.status();
      rapidjson::Document body;
      UpdateCollectionToJson(*request, body);
      Result<collection::CollectionConfig> next = collection::ApplyUpdate((*c)->config(), body);
      if (!next.ok()) return next.status();
      Status s = c_.collections->Update((*c)->name(), *next);
      if (!s.ok()) return s;
      response->set_result(true);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* Delete(CallbackServerContext* context,
                             const qdrant::DeleteCollection* request,
                             qdrant::CollectionOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Collections/Delete", *request))
      return refused;
    if (c_.cluster_enabled) {
      return Propose(context, request->has_timeout(), request->timeout(), response,
                     [request]() -> Result<CollectionChange> {
                       return collection::DeleteChange(request->collection_name());
                     });
    }
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      Result<bool> existed = c_.collections->Delete(request->collection_name());
      if (!existed.ok()) return existed.status();
      response->set_result(*existed);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* UpdateAliases(CallbackServerContext* context,
                                    const qdrant::ChangeAliases* request,
                                    qdrant::CollectionOperationResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Collections/UpdateAliases", *request))
      return refused;
    if (c_.cluster_enabled) {
      return Propose(context, request->has_timeout(), request->timeout(), response,
                     [request]() -> Result<CollectionChange> {
                       Result<std::vector<AliasAction>> actions = ParseAliasActions(*request);
                       if (!actions.ok()) return actions.status();
                       return collection::AliasesChange(std::move(*actions));
                     });
    }
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      Result<std::vector<AliasAction>> actions = ParseAliasActions(*request);
      if (!actions.ok()) return actions.status();
      Status s = c_.collections->ApplyAliases(*actions);
      if (!s.ok()) return s;
      response->set_result(true);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* ListCollectionAliases(CallbackServerContext* context,
                                            const qdrant::ListCollectionAliasesRequest* request,
                                            qdrant::ListAliasesResponse* response) override {
    if (auto* refused =
            Refused(c_.auth, context, "qdrant.Collections/ListCollectionAliases", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      auto c = c_.collections->Get(request->collection_name());
      if (!c.ok()) return c.status();
      const std::string name = (*c)->name();
      FillAliases(c_.collections->Aliases(&name), response);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* ListAliases(CallbackServerContext* context,
                                  const qdrant::ListAliasesRequest* request,
                                  qdrant::ListAliasesResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Collections/ListAliases", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, context, response]() -> Status {
      std::vector<std::pair<std::string, std::string>> visible;
      for (auto& [alias, collection] : c_.collections->Aliases(nullptr)) {
        if (MayRead(c_.auth, *context, collection)) visible.emplace_back(alias, collection);
      }
      FillAliases(visible, response);
      return Status::Ok();
    });
  }

  ServerUnaryReactor* CollectionClusterInfo(
      CallbackServerContext* context, const qdrant::CollectionClusterInfoRequest* request,
      qdrant::CollectionClusterInfoResponse* response) override {
    if (auto* refused =
            Refused(c_.auth, context, "qdrant.Collections/CollectionClusterInfo", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      auto c = c_.collections->Get(request->collection_name());
      if (!c.ok()) return c.status();
      const uint32_t shards = (*c)->config().shard_number;
      std::optional<collection::Placement> placement;
      if (c_.placement) placement = c_.placement((*c)->name());
      response->set_peer_id(placement ? c_.peer_id : kStandalonePeerId);
      response->set_shard_count(placement ? static_cast<uint32_t>(placement->size()) : shards);
      auto local = [&](uint32_t shard, qdrant::ReplicaState state) {
        qdrant::LocalShardInfo* info = response->add_local_shards();
        info->set_shard_id(shard);
        info->set_state(state);
        info->set_points_count((*c)->ShardPointsCount(shard));
      };
      if (!placement) {
        for (uint32_t shard = 0; shard < shards; ++shard) local(shard, qdrant::Active);
        return Status::Ok();
      }
      // The placement as consensus applied it, as GET /collections/{name}/cluster shows it.
      for (const auto& [shard, replicas] : *placement) {
        for (const auto& [peer, state_name] : replicas) {
          qdrant::ReplicaState state = qdrant::Active;
          qdrant::ReplicaState_Parse(state_name, &state);
          if (peer == c_.peer_id) {
            local(shard, state);
          } else {
            qdrant::RemoteShardInfo* info = response->add_remote_shards();
            info->set_shard_id(shard);
            info->set_peer_id(peer);
            info->set_state(state);
          }
        }
      }
      if (c_.transfers) {
        for (const collection::TransferView& t : c_.transfers((*c)->name())) {
          qdrant::ShardTransferInfo* info = response->add_shard_transfers();
          info->set_shard_id(t.shard);
          info->set_from(t.from);
          info->set_to(t.to);
          info->set_sync(t.sync);
        }
      }
      return Status::Ok();
    });
  }

  ServerUnaryReactor* CollectionExists(CallbackServerContext* context,
                                       const qdrant::CollectionExistsRequest* request,
                                       qdrant::CollectionExistsResponse* response) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Collections/CollectionExists", *request))
      return refused;
    return OnPool(c_.pool, context, response, [this, request, response]() -> Status {
      response->mutable_result()->set_exists(c_.collections->Exists(request->collection_name()));
      return Status::Ok();
    });
  }

  // POST /collections/{name}/cluster's twin (compat.md §6.5), proposed the same way.
  ServerUnaryReactor* UpdateCollectionClusterSetup(
      CallbackServerContext* context, const qdrant::UpdateCollectionClusterSetupRequest* request,
      qdrant::UpdateCollectionClusterSetupResponse* response) override {
    if (auto* refused =
            Refused(c_.auth, context, "qdrant.Collections/UpdateCollectionClusterSetup", *request))
      return refused;
    if (!c_.cluster_enabled) {
      return Answer(context,
                    ::grpc::Status(::grpc::StatusCode::FAILED_PRECONDITION, kStandaloneMessage));
    }
    using Op = qdrant::UpdateCollectionClusterSetupRequest;
    switch (request->operation_case()) {
      case Op::kMoveShard:
      case Op::kReplicateShard:
      case Op::kAbortTransfer:
      case Op::kDropReplica:
      case Op::kRestartTransfer:
        break;
      case Op::OPERATION_NOT_SET:
        return Answer(context, ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                                              "no cluster operation given"));
      default:
        return Unimplemented(context,
                             "qdrant.Collections/UpdateCollectionClusterSetup: this operation");
    }
    return Propose(context, request->has_timeout(), request->timeout(), response,
                   [this, request]() -> Result<CollectionChange> {
                     Result<std::shared_ptr<collection::Collection>> c =
                         c_.collections->Get(request->collection_name());
                     if (!c.ok()) return c.status();
                     return ShardOperationOf(*request, (*c)->name());
                   });
  }

  ServerUnaryReactor* CreateShardKey(CallbackServerContext* context,
                                     const qdrant::CreateShardKeyRequest* request,
                                     qdrant::CreateShardKeyResponse*) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Collections/CreateShardKey", *request))
      return refused;
    return Unimplemented(context, "qdrant.Collections/CreateShardKey (custom sharding)");
  }
  ServerUnaryReactor* DeleteShardKey(CallbackServerContext* context,
                                     const qdrant::DeleteShardKeyRequest* request,
                                     qdrant::DeleteShardKeyResponse*) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Collections/DeleteShardKey", *request))
      return refused;
    return Unimplemented(context, "qdrant.Collections/DeleteShardKey (custom sharding)");
  }
  ServerUnaryReactor* ListShardKeys(CallbackServerContext* context,
                                    const qdrant::ListShardKeysRequest* request,
                                    qdrant::ListShardKeysResponse*) override {
    if (auto* refused = Refused(c_.auth, context, "qdrant.Collections/ListShardKeys", *request))
      return refused;
    return Unimplemented(context, "qdrant.Collections/ListShardKeys (custom sharding)");
  }

 private:
  // Cluster mode (compat.md §5.1): `build` validates the request and makes the change on the
  // pool, exactly as REST does (collection/collection_change.h); the change is then proposed
  // through consensus, and the call is finished once this node applied it (or with the timeout
  // or unavailability error). The reactor is never touched by this gRPC thread again: the
  // Completion finishes it once, from the pool (validation errors) or the loop (consensus).
  // The gRPC form of a shard operation, checked as REST checks its JSON
  // (collection::ShardOperationChange).
  static Result<CollectionChange> ShardOperationOf(
      const qdrant::UpdateCollectionClusterSetupRequest& request, const std::string& name) {
    using Op = qdrant::UpdateCollectionClusterSetupRequest;
    collection::ShardOperation s;
    const char* key = "";
    auto method = [&](bool has, qdrant::ShardTransferMethod m) {
      if (!has) return;
      switch (m) {
        case qdrant::StreamRecords:
          s.method = "stream_records";
          break;
        case qdrant::Snapshot:
          s.method = "snapshot";
          break;
        case qdrant::WalDelta:
          s.method = "wal_delta";
          break;
        default:
          s.method = "stream_records";
          break;
      }
    };
    switch (request.operation_case()) {
      case Op::kMoveShard: {
        const qdrant::MoveShard& m = request.move_shard();
        s = {collection::ShardOperation::Kind::kMoveShard,
             m.shard_id(),
             m.from_peer_id(),
             m.to_peer_id(),
             0,
             std::nullopt};
        method(m.has_method(), m.method());
        key = "move_shard";
        break;
      }
      case Op::kReplicateShard: {
        const qdrant::ReplicateShard& m = request.replicate_shard();
        s = {collection::ShardOperation::Kind::kReplicateShard,
             m.shard_id(),
             m.from_peer_id(),
             m.to_peer_id(),
             0,
             std::nullopt};
        method(m.has_method(), m.method());
        key = "replicate_shard";
        break;
      }
      case Op::kAbortTransfer: {
        const qdrant::AbortShardTransfer& m = request.abort_transfer();
        s = {collection::ShardOperation::Kind::kAbortTransfer,
             m.shard_id(),
             m.from_peer_id(),
             m.to_peer_id(),
             0,
             std::nullopt};
        break;
      }
      case Op::kRestartTransfer: {
        const qdrant::RestartTransfer& m = request.restart_transfer();
        s = {collection::ShardOperation::Kind::kRestartTransfer,
             m.shard_id(),
             m.from_peer_id(),
             m.to_peer_id(),
             0,
             std::nullopt};
        method(true, m.method());
        key = "restart_transfer";
        break;
      }
      default: {
        const qdrant::Replica& m = request.drop_replica();
        s = {collection::ShardOperation::Kind::kDropReplica,
             m.shard_id(),
             0,
             0,
             m.peer_id(),
             std::nullopt};
        break;
      }
    }
    if (*key && s.from == s.to) {
      return Status::Unprocessable("Validation error in JSON body: [" + std::string(key) +
                                   ".to_peer_id: cannot transfer shard to itself]");
    }
    CollectionChange change;
    change.kind = CollectionChange::Kind::kShardOperation;
    change.name = name;
    change.shard_operation = s;
    return change;
  }

  template <typename Response, typename Build>
  ServerUnaryReactor* Propose(CallbackServerContext* context, bool has_timeout, uint64_t timeout,
                              Response* response, Build build) {
    if (!c_.propose) {
      return Answer(context, ToGrpcStatus(Status::Unavailable("consensus is not running")));
    }
    std::optional<uint64_t> timeout_s;
    if (has_timeout) timeout_s = timeout;
    return OnPoolDeferred(
        c_.pool, context, response,
        [this, timeout_s, build = std::move(build)](Completion<Response> finish) {
          if (timeout_s && *timeout_s == 0) {
            return finish(Status::Unprocessable(
                "Validation error in JSON body: [timeout: value 0 invalid, must be 1 or more]"));
          }
          Result<CollectionChange> change = build();
          if (!change.ok()) return finish(change.status());
          collection::ProposeChange(c_.propose, std::move(*change), timeout_s,
                                    [finish](Result<bool> result) {
                                      if (!result.ok()) return finish(result.status());
                                      finish.response()->set_result(*result);
                                      finish(Status::Ok());
                                    });
        });
  }

  static void FillAliases(const std::vector<std::pair<std::string, std::string>>& aliases,
                          qdrant::ListAliasesResponse* response) {
    for (const auto& [alias, target] : aliases) {
      qdrant::AliasDescription* d = response->add_aliases();
      d->set_alias_name(alias);
      d->set_collection_name(target);
    }
  }

  ServiceContext c_;
};

}  // namespace

std::unique_ptr<::grpc::Service> NewCollectionsService(ServiceContext context) {
  return std::make_unique<CollectionsService>(context);
}

}  // namespace qd::api::grpc
