// Collections and aliases (compat.md §4.1).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "qdrantd/api/auth/authenticator.h"
#include "qdrantd/api/rest/async_handler.h"
#include "qdrantd/api/rest/json.h"
#include "qdrantd/api/rest/point_codec.h"
#include "qdrantd/api/rest/router.h"
#include "qdrantd/collection/collections.h"

namespace qd::api::rest {
namespace {

using collection::AliasAction;
using collection::CollectionChange;
using collection::Collections;
using rapidjson::Value;

Response Ok(const Request& request, std::string_view result) { return JsonResult(request, result); }

Result<Response> GetCollection(Collections& collections, const Request& request) {
  Result<std::shared_ptr<collection::Collection>> c = collections.Get(request.Param("collection_name"));
  if (!c.ok()) return c.status();
  collection::CollectionConfig config = (*c)->config();
  size_t points = (*c)->points_count();
  std::string out = "{\"status\":\"green\",\"optimizer_status\":\"ok\",\"indexed_vectors_count\":" +
                    std::to_string(points) + ",\"points_count\":" + std::to_string(points) +
                    ",\"segments_count\":" + std::to_string((*c)->segments_count()) +
                    ",\"config\":" + config.ToJson() + ",\"payload_schema\":" +
                    (*c)->PayloadSchemaJson() + "}";
  return Ok(request, out);
}

Result<Response> CreateCollection(Collections& collections, const Request& request) {
  Result<std::optional<uint64_t>> timeout = TimeoutParam(request);
  if (!timeout.ok()) return timeout.status();
  const std::string& name = request.Param("collection_name");
  Status s = Collections::ValidateName(name);
  if (!s.ok()) return s;
  Result<rapidjson::Document> body = ParseJsonBody(request.body.empty() ? "{}" : request.body);
  if (!body.ok()) return body.status();
  Result<collection::CollectionConfig> config = collection::ParseCreateCollection(*body);
  if (!config.ok()) return config.status();
  s = collections.Create(name, std::move(*config));
  if (!s.ok()) return s;
  return Ok(request, "true");
}

// Cluster mode: the validation REST and gRPC share (collection/collection_change.h), then
// consensus instead of a local change.
void Propose(const EngineContext& context, const Request& request, CollectionChange change,
             std::optional<uint64_t> timeout_s, Answer answer) {
  Request copy = request;  // only for the envelope's time; the body is not used after this
  copy.body = {};
  collection::ProposeChange(context.propose, std::move(change), timeout_s,
                            [copy, answer](Result<bool> result) {
                              if (!result.ok()) return answer(result.status());
                              answer(JsonResult(copy, *result ? "true" : "false"));
                            });
}

void ClusterCreate(const EngineContext& context, const Request& request, Answer answer) {
  Result<std::optional<uint64_t>> timeout = TimeoutParam(request);
  if (!timeout.ok()) return answer(timeout.status());
  const std::string& name = request.Param("collection_name");
  if (Status s = Collections::ValidateName(name); !s.ok()) return answer(s);
  Result<rapidjson::Document> body = ParseJsonBody(request.body.empty() ? "{}" : request.body);
  if (!body.ok()) return answer(body.status());
  Result<CollectionChange> change = collection::CreateChange(name, *body);
  if (!change.ok()) return answer(change.status());
  Propose(context, request, std::move(*change), *timeout, std::move(answer));
}

void ClusterUpdate(const EngineContext& context, const Request& request, Answer answer) {
  Result<std::optional<uint64_t>> timeout = TimeoutParam(request);
  if (!timeout.ok()) return answer(timeout.status());
  // Unknown collection before a malformed body, as standalone mode answers.
  Result<std::shared_ptr<collection::Collection>> c = context.collections->Get(request.Param("collection_name"));
  if (!c.ok()) return answer(c.status());
  Result<rapidjson::Document> body = ParseJsonBody(request.body.empty() ? "{}" : request.body);
  if (!body.ok()) return answer(body.status());
  Result<CollectionChange> change =
      collection::UpdateChange(*context.collections, request.Param("collection_name"), *body);
  if (!change.ok()) return answer(change.status());
  Propose(context, request, std::move(*change), *timeout, std::move(answer));
}

// POST /collections/{name}/cluster (compat.md §6.5): answers once the operation is applied
// here (a transfer is then registered; it runs on its own).
void ClusterOperation(const EngineContext& context, const Request& request, Answer answer) {
  Result<std::optional<uint64_t>> timeout = TimeoutParam(request);
  if (!timeout.ok()) return answer(timeout.status());
  Result<std::shared_ptr<collection::Collection>> c =
      context.collections->Get(request.Param("collection_name"));
  if (!c.ok()) return answer(c.status());
  Result<rapidjson::Document> body = ParseJsonBody(request.body.empty() ? "{}" : request.body);
  if (!body.ok()) return answer(body.status());
  Result<CollectionChange> change = collection::ShardOperationChange((*c)->name(), *body);
  if (!change.ok()) return answer(change.status());
  Propose(context, request, std::move(*change), *timeout, std::move(answer));
}

void ClusterDelete(const EngineContext& context, const Request& request, Answer answer) {
  Result<std::optional<uint64_t>> timeout = TimeoutParam(request);
  if (!timeout.ok()) return answer(timeout.status());
  Propose(context, request, collection::DeleteChange(request.Param("collection_name")), *timeout,
          std::move(answer));
}

Result<Response> UpdateCollection(Collections& collections, const Request& request) {
  Result<std::optional<uint64_t>> timeout = TimeoutParam(request);
  if (!timeout.ok()) return timeout.status();
  Result<std::shared_ptr<collection::Collection>> c = collections.Get(request.Param("collection_name"));
  if (!c.ok()) return c.status();
  Result<rapidjson::Document> body = ParseJsonBody(request.body.empty() ? "{}" : request.body);
  if (!body.ok()) return body.status();
  Result<collection::CollectionConfig> next = collection::ApplyUpdate((*c)->config(), *body);
  if (!next.ok()) return next.status();
  Status s = collections.Update((*c)->name(), *next);
  if (!s.ok()) return s;
  return Ok(request, "true");
}

Result<Response> DeleteCollection(Collections& collections, const Request& request) {
  Result<std::optional<uint64_t>> timeout = TimeoutParam(request);
  if (!timeout.ok()) return timeout.status();
  Result<bool> existed = collections.Delete(request.Param("collection_name"));
  if (!existed.ok()) return existed.status();
  return Ok(request, *existed ? "true" : "false");
}

std::string AliasesJson(const std::vector<std::pair<std::string, std::string>>& aliases) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("aliases");
  w.StartArray();
  for (const auto& [alias, target] : aliases) {
    w.StartObject();
    w.Key("alias_name");
    w.String(alias.c_str());
    w.Key("collection_name");
    w.String(target.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Take(buffer);
}

Result<std::vector<AliasAction>> ParseAliasActions(const Request& request) {
  Result<rapidjson::Document> body = ParseJsonBody(request.body);
  if (!body.ok()) return body.status();
  const Value* actions = Member(*body, "actions");
  if (!actions || !actions->IsArray()) {
    return Status::InvalidArgument("Format error in JSON body: missing field `actions`");
  }
  std::vector<AliasAction> parsed;
  auto text = [](const Value& object, const char* name, const std::string& path) -> Result<std::string> {
    const Value* v = Member(object, name);
    if (!v) return Status::InvalidArgument("Format error in JSON body: " + path + ": missing field `" + name + "`");
    if (!v->IsString()) return Status::InvalidArgument("Format error in JSON body: " + path + "." + name + ": expected a string");
    return std::string(v->GetString(), v->GetStringLength());
  };
  for (rapidjson::SizeType i = 0; i < actions->Size(); ++i) {
    const Value& a = (*actions)[i];
    std::string path = "actions[" + std::to_string(i) + "]";
    AliasAction action;
    if (const Value* create = Member(a, "create_alias")) {
      action.kind = AliasAction::kCreate;
      Result<std::string> alias = text(*create, "alias_name", path + ".create_alias");
      if (!alias.ok()) return alias.status();
      Result<std::string> target = text(*create, "collection_name", path + ".create_alias");
      if (!target.ok()) return target.status();
      action.alias_name = *alias;
      action.collection_name = *target;
    } else if (const Value* del = Member(a, "delete_alias")) {
      action.kind = AliasAction::kDelete;
      Result<std::string> alias = text(*del, "alias_name", path + ".delete_alias");
      if (!alias.ok()) return alias.status();
      action.alias_name = *alias;
    } else if (const Value* rename = Member(a, "rename_alias")) {
      action.kind = AliasAction::kRename;
      Result<std::string> old_name = text(*rename, "old_alias_name", path + ".rename_alias");
      if (!old_name.ok()) return old_name.status();
      Result<std::string> new_name = text(*rename, "new_alias_name", path + ".rename_alias");
      if (!new_name.ok()) return new_name.status();
      action.alias_name = *old_name;
      action.new_alias_name = *new_name;
    } else {
      return Status::InvalidArgument("Format error in JSON body: " + path +
                                     ": unknown variant, expected one of `create_alias`, "
                                     "`delete_alias`, `rename_alias`");
    }
    parsed.push_back(std::move(action));
  }
  return parsed;
}

Result<Response> ChangeAliases(Collections& collections, const Request& request) {
  Result<std::optional<uint64_t>> timeout = TimeoutParam(request);
  if (!timeout.ok()) return timeout.status();
  Result<std::vector<AliasAction>> parsed = ParseAliasActions(request);
  if (!parsed.ok()) return parsed.status();
  Status s = collections.ApplyAliases(*parsed);
  if (!s.ok()) return s;
  return Ok(request, "true");
}

void ClusterAliases(const EngineContext& context, const Request& request, Answer answer) {
  Result<std::optional<uint64_t>> timeout = TimeoutParam(request);
  if (!timeout.ok()) return answer(timeout.status());
  Result<std::vector<AliasAction>> parsed = ParseAliasActions(request);
  if (!parsed.ok()) return answer(parsed.status());
  Propose(context, request, collection::AliasesChange(std::move(*parsed)), *timeout,
          std::move(answer));
}

}  // namespace

// GET /collections/{name}/cluster (compat.md §5.1).
Result<Response> CollectionClusterInfo(const EngineContext& context, const Request& request) {
  Result<std::shared_ptr<collection::Collection>> c = context.collections->Get(request.Param("collection_name"));
  if (!c.ok()) return c.status();
  size_t shard_count = (*c)->config().shard_number;
  std::optional<Placement> placement;
  if (context.placement) placement = context.placement((*c)->name());
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("peer_id");
  w.Uint64(context.peer_id);
  w.Key("shard_count");
  w.Uint64(placement ? placement->size() : shard_count);
  w.Key("local_shards");
  w.StartArray();
  auto local = [&](uint32_t shard, const std::string& state) {
    w.StartObject();
    w.Key("shard_id");
    w.Uint(shard);
    w.Key("points_count");
    w.Uint64((*c)->ShardPointsCount(shard));  // 0 until the reconciler created the replica
    w.Key("state");
    w.String(state.c_str());
    w.EndObject();
  };
  if (!placement) {
    for (uint32_t shard = 0; shard < shard_count; ++shard) local(shard, "Active");
  } else {
    for (const auto& [shard, replicas] : *placement) {
      for (const auto& [peer, state] : replicas) {
        if (peer == context.peer_id) local(shard, state);
      }
    }
  }
  w.EndArray();
  w.Key("remote_shards");
  w.StartArray();
  if (placement) {
    for (const auto& [shard, replicas] : *placement) {
      for (const auto& [peer, state] : replicas) {
        if (peer == context.peer_id) continue;
        w.StartObject();
        w.Key("shard_id");
        w.Uint(shard);
        w.Key("peer_id");
        w.Uint64(peer);
        w.Key("state");
        w.String(state.c_str());
        w.EndObject();
      }
    }
  }
  w.EndArray();
  w.Key("shard_transfers");
  w.StartArray();
  if (context.transfers) {
    for (const collection::TransferView& t : context.transfers((*c)->name())) {
      w.StartObject();
      w.Key("shard_id");
      w.Uint(t.shard);
      w.Key("from");
      w.Uint64(t.from);
      w.Key("to");
      w.Uint64(t.to);
      w.Key("sync");
      w.Bool(t.sync);
      w.Key("method");
      w.String(t.method.c_str());
      if (t.comment) {
        w.Key("comment");
        w.String(t.comment->c_str());
      }
      w.EndObject();
    }
  }
  w.EndArray();
  w.EndObject();
  return JsonResult(request, Take(buffer));
}

void AddCollectionRoutes(Router& router, EngineContext context) {
  Collections* collections = context.collections;
  auto add = [&](const char* method, const char* path,
                 Result<Response> (*fn)(Collections&, const Request&)) {
    router.Add(method, path, [context, collections, fn](Request& request, Reply reply) {
      Async(context, request, std::move(reply),
            [collections, fn](const Request& r) { return fn(*collections, r); });
    });
  };
  // The listings show what the caller may read (a token limited to some collections).
  const auth::Authenticator* authenticator = context.auth;
  auto visible = [authenticator](const Request& request, const std::string& collection) {
    return authenticator == nullptr || authenticator->MayRead(request.credentials, collection);
  };
  router.Add("GET", "/collections", [collections, visible](Request& request, Reply reply) {
    std::string out = "{\"collections\":[";
    bool first = true;
    for (const std::string& name : collections->List()) {
      if (!visible(request, name)) continue;
      out += first ? "" : ",";
      out += "{\"name\":" + JsonQuote(name) + "}";
      first = false;
    }
    out += "]}";
    reply.Send(JsonResult(request, out));
  });
  auto add_cluster = [&](const char* method, const char* path,
                         void (*fn)(const EngineContext&, const Request&, Answer)) {
    router.Add(method, path, [context, fn](Request& request, Reply reply) {
      AsyncDeferred(context, request, std::move(reply),
                    [context, fn](const Request& r, Answer answer) { fn(context, r, std::move(answer)); });
    });
  };
  add("GET", "/collections/{collection_name}", &GetCollection);
  router.Add("GET", "/collections/{collection_name}/cluster", [context](Request& request, Reply reply) {
    Async(context, request, std::move(reply),
          [context](const Request& r) { return CollectionClusterInfo(context, r); });
  });
  if (context.propose) {
    add_cluster("POST", "/collections/aliases", &ClusterAliases);
    add_cluster("PUT", "/collections/{collection_name}", &ClusterCreate);
    add_cluster("PATCH", "/collections/{collection_name}", &ClusterUpdate);
    add_cluster("DELETE", "/collections/{collection_name}", &ClusterDelete);
    add_cluster("POST", "/collections/{collection_name}/cluster", &ClusterOperation);
  } else {
    router.Add("POST", "/collections/{collection_name}/cluster", [](Request& request, Reply reply) {
      reply.Send(JsonError(
          request, Status::MethodNotAllowed("Cluster operations are not available in standalone "
                                            "mode: start qdrantd with cluster.enabled=true")));
    });
    add("POST", "/collections/aliases", &ChangeAliases);
    add("PUT", "/collections/{collection_name}", &CreateCollection);
    add("PATCH", "/collections/{collection_name}", &UpdateCollection);
    add("DELETE", "/collections/{collection_name}", &DeleteCollection);
  }
  router.Add("GET", "/collections/{collection_name}/exists", [collections](Request& request, Reply reply) {
    bool exists = collections->Exists(request.Param("collection_name"));
    reply.Send(JsonResult(request, exists ? R"({"exists":true})" : R"({"exists":false})"));
  });
  router.Add("GET", "/aliases", [collections, visible](Request& request, Reply reply) {
    std::vector<std::pair<std::string, std::string>> aliases;
    for (auto& [alias, collection] : collections->Aliases(nullptr)) {
      if (visible(request, collection)) aliases.emplace_back(alias, collection);
    }
    reply.Send(JsonResult(request, AliasesJson(aliases)));
  });
  router.Add("GET", "/collections/{collection_name}/aliases", [collections](Request& request, Reply reply) {
    Result<std::shared_ptr<collection::Collection>> c = collections->Get(request.Param("collection_name"));
    if (!c.ok()) {
      reply.Send(JsonError(request, c.status()));
      return;
    }
    std::string name = (*c)->name();
    reply.Send(JsonResult(request, AliasesJson(collections->Aliases(&name))));
  });
}

}  // namespace qd::api::rest
