#include "qdrantd/collection/collection_change.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <utility>

#include "qdrantd/collection/collection_config.h"

namespace qd::collection {
namespace {

// A member that is present and not null (explicit null means "not set", compat.md §2.4).
bool Given(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return false;
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && !it->value.IsNull();
}

}  // namespace

Result<CollectionChange> CreateChange(const std::string& name, const rapidjson::Value& body) {
  if (Status s = Collections::ValidateName(name); !s.ok()) return s;
  Result<CollectionConfig> config = ParseCreateCollection(body);
  if (!config.ok()) return config.status();
  CollectionChange change;
  change.kind = CollectionChange::Kind::kCreate;
  change.name = name;
  change.config_json = config->ToJson();
  // Without an explicit shard_number the FSM places one shard per peer (Qdrant's default).
  if (Given(body, "shard_number")) change.shard_number = config->shard_number;
  change.replication_factor = config->replication_factor;
  return change;
}

Result<CollectionChange> UpdateChange(const Collections& collections, const std::string& name,
                                      const rapidjson::Value& body) {
  Result<std::shared_ptr<Collection>> c = collections.Get(name);
  if (!c.ok()) return c.status();
  Result<CollectionConfig> next = ApplyUpdate((*c)->config(), body);
  if (!next.ok()) return next.status();
  CollectionChange change;
  change.kind = CollectionChange::Kind::kUpdate;
  change.name = (*c)->name();  // an alias names its collection
  change.config_json = next->ToJson();
  return change;
}

Result<CollectionChange> ShardOperationChange(const std::string& name,
                                              const rapidjson::Value& body) {
  auto bad = [](const std::string& what) {
    return Status::InvalidArgument("Json deserialize error: " + what);
  };
  if (!body.IsObject()) return bad("expected a cluster operation object");
  struct Known {
    const char* key;
    ShardOperation::Kind kind;
  };
  static constexpr Known kKnown[] = {{"move_shard", ShardOperation::Kind::kMoveShard},
                                     {"replicate_shard", ShardOperation::Kind::kReplicateShard},
                                     {"abort_transfer", ShardOperation::Kind::kAbortTransfer},
                                     {"drop_replica", ShardOperation::Kind::kDropReplica},
                                     {"restart_transfer", ShardOperation::Kind::kRestartTransfer}};
  for (const char* unsupported : {"create_sharding_key", "drop_sharding_key", "start_resharding",
                                  "abort_resharding", "replicate_points"}) {
    if (Given(body, unsupported)) {
      return Status::Unimplemented(std::string("the `") + unsupported +
                                   "` cluster operation is not supported by qdrantd yet");
    }
  }
  const Known* found = nullptr;
  for (const Known& k : kKnown) {
    if (!Given(body, k.key)) continue;
    if (found) return bad("expected exactly one cluster operation, got several");
    found = &k;
  }
  if (!found) {
    return bad(
        "unknown variant: expected one of `move_shard`, `replicate_shard`, `abort_transfer`, "
        "`drop_replica`, `restart_transfer`");
  }
  const rapidjson::Value& op = body[found->key];
  if (!op.IsObject()) return bad(std::string(found->key) + ": expected an object");
  auto u64 = [&](const char* field, uint64_t& out) -> Status {
    if (!op.HasMember(field)) {
      return bad(std::string(found->key) + ": missing field `" + field + "`");
    }
    if (!op[field].IsUint64()) {
      return bad(std::string(found->key) + "." + field + ": expected an unsigned integer");
    }
    out = op[field].GetUint64();
    return Status::Ok();
  };
  ShardOperation s;
  s.kind = found->kind;
  uint64_t shard = 0;
  if (Status st = u64("shard_id", shard); !st.ok()) return st;
  if (shard > UINT32_MAX) return bad(std::string(found->key) + ".shard_id: out of range");
  s.shard = static_cast<uint32_t>(shard);
  if (s.kind == ShardOperation::Kind::kDropReplica) {
    if (Status st = u64("peer_id", s.peer); !st.ok()) return st;
  } else {
    if (Status st = u64("from_peer_id", s.from); !st.ok()) return st;
    if (Status st = u64("to_peer_id", s.to); !st.ok()) return st;
    if (s.from == s.to && s.kind != ShardOperation::Kind::kAbortTransfer) {
      return Status::Unprocessable("Validation error in JSON body: [" + std::string(found->key) +
                                   ".to_peer_id: cannot transfer shard to itself]");
    }
    if (Given(op, "method")) {
      if (!op["method"].IsString())
        return bad(std::string(found->key) + ".method: expected a string");
      std::string method = op["method"].GetString();
      if (method != "stream_records" && method != "snapshot" && method != "wal_delta") {
        return bad(std::string(found->key) + ".method: unknown variant `" + method +
                   "`, expected one of `stream_records`, `snapshot`, `wal_delta`");
      }
      s.method = method;
    } else if (s.kind == ShardOperation::Kind::kRestartTransfer) {
      return bad("restart_transfer: missing field `method`");
    }
  }
  CollectionChange change;
  change.kind = CollectionChange::Kind::kShardOperation;
  change.name = name;
  change.shard_operation = s;
  return change;
}

CollectionChange DeleteChange(std::string name) {
  CollectionChange change;
  change.kind = CollectionChange::Kind::kDelete;
  change.name = std::move(name);
  return change;
}

CollectionChange AliasesChange(std::vector<AliasAction> actions) {
  CollectionChange change;
  change.kind = CollectionChange::Kind::kAliases;
  change.aliases = std::move(actions);
  return change;
}

void ProposeChange(const ProposeFn& propose, CollectionChange change,
                   std::optional<uint64_t> timeout_s, std::function<void(Result<bool>)> done) {
  const bool is_delete = change.kind == CollectionChange::Kind::kDelete;
  // Clamped to a day, so that now + timeout cannot overflow the clock.
  constexpr uint64_t kMaxTimeoutS = 24 * 3600;
  std::chrono::milliseconds timeout = timeout_s
                                          ? std::chrono::seconds(std::min(*timeout_s, kMaxTimeoutS))
                                          : kDefaultConsensusTimeout;
  propose(std::move(change), timeout, [is_delete, done = std::move(done)](Status s) {
    if (is_delete && s.code() == StatusCode::kNotFound) return done(false);
    if (!s.ok()) return done(s);
    done(true);
  });
}

}  // namespace qd::collection
