#include "qdrantd/cluster/reconciler.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <set>

#include "libshared/log.h"

namespace qd::cluster {
namespace {

// The proposer's config JSON with the shard count the state machine placed.
std::string WithShardCount(const std::string& config_json, size_t shards) {
  rapidjson::Document doc;
  doc.Parse(config_json.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("params") || !doc["params"].IsObject()) {
    return config_json;
  }
  rapidjson::Value& params = doc["params"];
  if (params.HasMember("shard_number")) {
    params["shard_number"].SetUint64(shards);
  } else {
    params.AddMember("shard_number", static_cast<uint64_t>(shards), doc.GetAllocator());
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

void Reconciler::Reconcile(server::OnLoop, const std::shared_ptr<const ClusterState>& state) {
  for (const auto& [name, wanted] : state->collections) {
    std::string json = WithShardCount(wanted.config_json, std::max<size_t>(wanted.shards.size(), 1));
    Result<collection::CollectionConfig> config = collection::FromConfigJson(json);
    if (!config.ok()) {
      QD_LOG_ERROR("reconciler: collection " + name + ": " + config.status().message());
      continue;
    }
    if (!collections_.Exists(name)) {
      Status s = collections_.Create(name, std::move(*config));
      if (!s.ok()) QD_LOG_ERROR("reconciler: cannot create collection " + name + ": " + s.message());
      continue;
    }
    Result<std::shared_ptr<collection::Collection>> local = collections_.Get(name);
    if (local.ok() && (*local)->config().ToJson() != config->ToJson()) {
      Status s = collections_.Update(name, *config);
      if (!s.ok()) QD_LOG_ERROR("reconciler: cannot update collection " + name + ": " + s.message());
    }
  }
  for (const std::string& name : collections_.List()) {
    if (state->collections.count(name)) continue;
    Result<bool> dropped = collections_.Delete(name);
    if (!dropped.ok()) QD_LOG_ERROR("reconciler: cannot drop collection " + name + ": " + dropped.status().message());
  }
  // Aliases: delete what differs, then create what is missing, in one local change.
  std::map<std::string, std::string> have;
  for (const auto& [alias, target] : collections_.Aliases(nullptr)) have[alias] = target;
  if (have != state->aliases) {
    std::vector<collection::AliasAction> actions;
    for (const auto& [alias, target] : have) {
      auto it = state->aliases.find(alias);
      if (it == state->aliases.end() || it->second != target) {
        actions.push_back({collection::AliasAction::kDelete, alias, "", ""});
      }
    }
    for (const auto& [alias, target] : state->aliases) {
      auto it = have.find(alias);
      if (it == have.end() || it->second != target) {
        actions.push_back({collection::AliasAction::kCreate, alias, target, ""});
      }
    }
    Status s = collections_.ApplyAliases(actions);
    if (!s.ok()) QD_LOG_ERROR("reconciler: aliases: " + s.message());
  }
}

}  // namespace qd::cluster
