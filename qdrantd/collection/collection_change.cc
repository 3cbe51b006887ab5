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
