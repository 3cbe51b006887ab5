#include "qdrantd/cluster/meta_operation.h"

#include <array>
#include <utility>

#include "qdrantd/cluster/json_util.h"

namespace qd::cluster {
namespace {

using Kind = MetaOperation::Kind;

constexpr std::array<std::pair<Kind, std::string_view>, 20> kKinds{{
    {Kind::kUpsertPeer, "upsert_peer"},
    {Kind::kRemovePeer, "remove_peer"},
    {Kind::kCreateCollection, "create_collection"},
    {Kind::kUpdateCollection, "update_collection"},
    {Kind::kDropCollection, "drop_collection"},
    {Kind::kSetReplicaState, "set_replica_state"},
    {Kind::kRemoveReplica, "remove_replica"},
    {Kind::kStartTransfer, "start_transfer"},
    {Kind::kFinishTransfer, "finish_transfer"},
    {Kind::kAbortTransfer, "abort_transfer"},
    {Kind::kCreateAlias, "create_alias"},
    {Kind::kDeleteAlias, "delete_alias"},
    {Kind::kChangeAliases, "change_aliases"},
    {Kind::kSetMetadata, "set_metadata"},
    {Kind::kDeleteMetadata, "delete_metadata"},
    {Kind::kRestoreState, "restore_state"},
    {Kind::kUpdateTransfer, "update_transfer"},
    {Kind::kRestartTransfer, "restart_transfer"},
    {Kind::kDrainPeer, "drain_peer"},
    {Kind::kSetRebalance, "set_rebalance"},
}};

}  // namespace

std::string_view KindName(Kind kind) {
  for (auto [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::string MetaOperation::Encode() const {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "v");
  w.Uint(1);
  json::Key(w, "kind");
  json::Str(w, KindName(kind));
  json::Key(w, "request_id");
  json::Str(w, request_id);
  auto str = [&](const char* k, const std::string& v) {
    json::Key(w, k);
    json::Str(w, v);
  };
  switch (kind) {
    case Kind::kUpsertPeer:
      json::Key(w, "peer_id");
      w.Uint64(peer_id);
      str("uri", uri);
      str("node_type", std::string(NodeTypeName(node_type)));
      break;
    case Kind::kRemovePeer:
      json::Key(w, "peer_id");
      w.Uint64(peer_id);
      json::Key(w, "force");
      w.Bool(force);
      break;
    case Kind::kCreateCollection:
    case Kind::kUpdateCollection:
      str("collection", collection);
      json::Key(w, "config");
      json::Raw(w, config_json);
      if (kind == Kind::kUpdateCollection) break;
      if (shard_number) {
        json::Key(w, "shard_number");
        w.Uint(*shard_number);
      }
      json::Key(w, "replication_factor");
      w.Uint(replication_factor);
      if (initial_state) str("initial_state", std::string(ReplicaStateName(*initial_state)));
      if (!placement.empty()) {
        json::Key(w, "placement");
        w.StartArray();
        for (const auto& [sid, peers] : placement) {
          w.StartObject();
          json::Key(w, "shard");
          w.Uint(sid);
          json::Key(w, "peers");
          w.StartArray();
          for (PeerId p : peers) w.Uint64(p);
          w.EndArray();
          w.EndObject();
        }
        w.EndArray();
      }
      break;
    case Kind::kDropCollection:
      str("collection", collection);
      break;
    case Kind::kSetReplicaState:
    case Kind::kRemoveReplica:
      str("collection", collection);
      json::Key(w, "shard");
      w.Uint(shard);
      json::Key(w, "peer_id");
      w.Uint64(peer_id);
      if (kind == Kind::kSetReplicaState) str("state", std::string(ReplicaStateName(replica_state)));
      break;
    case Kind::kStartTransfer:
    case Kind::kFinishTransfer:
    case Kind::kAbortTransfer:
    case Kind::kUpdateTransfer:
    case Kind::kRestartTransfer:
      json::Key(w, "transfer");
      json::WriteTransfer(w, transfer);
      if (transfer.automatic) {
        json::Key(w, "limits");
        w.StartArray();
        w.Uint64(transfer_limits.first);
        w.Uint64(transfer_limits.second);
        w.EndArray();
      }
      break;
    case Kind::kCreateAlias:
      str("alias", alias);
      str("collection", collection);
      break;
    case Kind::kDeleteAlias:
      str("alias", alias);
      break;
    case Kind::kChangeAliases:
      json::Key(w, "actions");
      w.StartArray();
      for (const AliasChange& a : alias_changes) {
        w.StartObject();
        str("op", a.kind == AliasChange::kCreate ? "create" : a.kind == AliasChange::kDelete ? "delete" : "rename");
        str("alias", a.alias);
        if (a.kind == AliasChange::kCreate) str("collection", a.collection);
        if (a.kind == AliasChange::kRename) str("new_alias", a.new_alias);
        w.EndObject();
      }
      w.EndArray();
      break;
    case Kind::kSetMetadata:
      str("key", key);
      json::Key(w, "value");
      json::Raw(w, value_json);
      break;
    case Kind::kDeleteMetadata:
      str("key", key);
      break;
    case Kind::kRestoreState:
      json::Key(w, "state");
      json::Raw(w, state_json);
      break;
    case Kind::kDrainPeer:
      json::Key(w, "peer_id");
      w.Uint64(peer_id);
      json::Key(w, "cancel");
      w.Bool(cancel);
      break;
    case Kind::kSetRebalance:
      str("action", rebalance_action);
      str("reason", reason);
      json::Key(w, "started_ms");
      w.Uint64(started_ms);
      break;
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<MetaOperation> MetaOperation::Decode(std::string_view bytes) {
  rapidjson::Document d;
  d.Parse(bytes.data(), bytes.size());
  if (d.HasParseError() || !d.IsObject()) return Status::InvalidArgument("meta operation: not a JSON object");
  if (json::U64(d, "v") != 1) return Status::InvalidArgument("meta operation: unknown version");
  std::string kind = json::String(d, "kind");
  MetaOperation op;
  bool known = false;
  for (auto [k, name] : kKinds) {
    if (name == kind) {
      op.kind = k;
      known = true;
    }
  }
  if (!known) return Status::InvalidArgument("meta operation: unknown kind \"" + kind + "\"");
  op.request_id = json::String(d, "request_id");
  op.peer_id = json::U64(d, "peer_id");
  op.uri = json::String(d, "uri");
  op.node_type = ParseNodeType(json::String(d, "node_type")).value_or(NodeType::kNormal);
  op.force = json::Bool(d, "force");
  op.cancel = json::Bool(d, "cancel");
  op.rebalance_action = json::String(d, "action");
  op.reason = json::String(d, "reason");
  op.started_ms = json::U64(d, "started_ms");
  op.collection = json::String(d, "collection");
  if (const auto* c = json::Member(d, "config")) op.config_json = json::Serialize(*c);
  if (const auto* n = json::Member(d, "shard_number"); n && n->IsUint()) op.shard_number = n->GetUint();
  op.replication_factor = static_cast<uint32_t>(json::U64(d, "replication_factor", 1));
  if (auto s = json::String(d, "initial_state"); !s.empty()) op.initial_state = ParseReplicaState(s);
  if (const auto* p = json::Member(d, "placement"); p && p->IsArray()) {
    for (const auto& sh : p->GetArray()) {
      auto& peers = op.placement[static_cast<ShardId>(json::U64(sh, "shard"))];
      if (const auto* ps = json::Member(sh, "peers"); ps && ps->IsArray()) {
        for (const auto& id : ps->GetArray()) {
          if (id.IsUint64()) peers.push_back(id.GetUint64());
        }
      }
    }
  }
  op.shard = static_cast<ShardId>(json::U64(d, "shard"));
  if (auto s = json::String(d, "state"); !s.empty()) {
    auto st = ParseReplicaState(s);
    if (!st) return Status::InvalidArgument("meta operation: unknown replica state \"" + s + "\"");
    op.replica_state = *st;
  }
  if (const auto* t = json::Member(d, "transfer"); t && t->IsObject()) {
    op.transfer = json::ReadTransfer(*t);
  }
  if (const auto* l = json::Member(d, "limits");
      l && l->IsArray() && l->Size() == 2 && (*l)[0].IsUint64() && (*l)[1].IsUint64()) {
    op.transfer_limits = {(*l)[0].GetUint64(), (*l)[1].GetUint64()};
  }
  op.alias = json::String(d, "alias");
  if (const auto* actions = json::Member(d, "actions"); actions && actions->IsArray()) {
    for (const auto& a : actions->GetArray()) {
      AliasChange change;
      std::string what = json::String(a, "op");
      if (what == "create") {
        change.kind = AliasChange::kCreate;
      } else if (what == "delete") {
        change.kind = AliasChange::kDelete;
      } else if (what == "rename") {
        change.kind = AliasChange::kRename;
      } else {
        return Status::InvalidArgument("meta operation: unknown alias action \"" + what + "\"");
      }
      change.alias = json::String(a, "alias");
      change.collection = json::String(a, "collection");
      change.new_alias = json::String(a, "new_alias");
      op.alias_changes.push_back(std::move(change));
    }
  }
  op.key = json::String(d, "key");
  if (const auto* v = json::Member(d, "value")) op.value_json = json::Serialize(*v);
  if (const auto* s = json::Member(d, "state"); s && s->IsObject()) op.state_json = json::Serialize(*s);
  return op;
}

MetaOperation MetaOperation::UpsertPeer(PeerId id, std::string uri, NodeType type) {
  MetaOperation op;
  op.kind = Kind::kUpsertPeer;
  op.peer_id = id;
  op.uri = std::move(uri);
  op.node_type = type;
  return op;
}

MetaOperation MetaOperation::RemovePeer(PeerId id, bool force) {
  MetaOperation op;
  op.kind = Kind::kRemovePeer;
  op.peer_id = id;
  op.force = force;
  return op;
}

MetaOperation MetaOperation::CreateCollection(std::string name, std::string config_json,
                                              std::optional<uint32_t> shard_number,
                                              uint32_t replication_factor) {
  MetaOperation op;
  op.kind = Kind::kCreateCollection;
  op.collection = std::move(name);
  op.config_json = std::move(config_json);
  op.shard_number = shard_number;
  op.replication_factor = replication_factor;
  return op;
}

MetaOperation MetaOperation::DropCollection(std::string name) {
  MetaOperation op;
  op.kind = Kind::kDropCollection;
  op.collection = std::move(name);
  return op;
}

MetaOperation MetaOperation::SetReplicaState(std::string collection, ShardId shard, PeerId peer,
                                             ReplicaState state) {
  MetaOperation op;
  op.kind = Kind::kSetReplicaState;
  op.collection = std::move(collection);
  op.shard = shard;
  op.peer_id = peer;
  op.replica_state = state;
  return op;
}

MetaOperation MetaOperation::ChangeAliases(std::vector<AliasChange> changes) {
  MetaOperation op;
  op.kind = Kind::kChangeAliases;
  op.alias_changes = std::move(changes);
  return op;
}

MetaOperation MetaOperation::CreateAlias(std::string alias, std::string collection) {
  MetaOperation op;
  op.kind = Kind::kCreateAlias;
  op.alias = std::move(alias);
  op.collection = std::move(collection);
  return op;
}

MetaOperation MetaOperation::DeleteAlias(std::string alias) {
  MetaOperation op;
  op.kind = Kind::kDeleteAlias;
  op.alias = std::move(alias);
  return op;
}

MetaOperation MetaOperation::SetMetadata(std::string key, std::string value_json) {
  MetaOperation op;
  op.kind = Kind::kSetMetadata;
  op.key = std::move(key);
  op.value_json = std::move(value_json);
  return op;
}

MetaOperation MetaOperation::DeleteMetadata(std::string key) {
  MetaOperation op;
  op.kind = Kind::kDeleteMetadata;
  op.key = std::move(key);
  return op;
}

}  // namespace qd::cluster
