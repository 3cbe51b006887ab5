#include "qdrantd/cluster/cluster_state.h"

#include <array>
#include <chrono>
#include <utility>

#include "qdrantd/cluster/json_util.h"

namespace qd::cluster {
namespace {

constexpr std::array<std::pair<ReplicaState, std::string_view>, 10> kReplicaStates{{
    {ReplicaState::kActive, "Active"},
    {ReplicaState::kDead, "Dead"},
    {ReplicaState::kPartial, "Partial"},
    {ReplicaState::kInitializing, "Initializing"},
    {ReplicaState::kListener, "Listener"},
    {ReplicaState::kPartialSnapshot, "PartialSnapshot"},
    {ReplicaState::kRecovery, "Recovery"},
    {ReplicaState::kResharding, "Resharding"},
    {ReplicaState::kActiveRead, "ActiveRead"},
    {ReplicaState::kManualRecovery, "ManualRecovery"},
}};

std::optional<StatusCode> ParseStatusCode(std::string_view name) {
  for (int c = static_cast<int>(StatusCode::kOk); c <= static_cast<int>(StatusCode::kInternal);
       ++c) {
    if (StatusCodeName(static_cast<StatusCode>(c)) == name) return static_cast<StatusCode>(c);
  }
  return std::nullopt;
}

}  // namespace

void ClusterState::RecordResult(const std::string& request_id, const Status& status) {
  recent_results.push_back(
      AppliedResult{.request_id = request_id, .code = status.code(), .message = status.message()});
  while (recent_results.size() > kRecentResults) recent_results.pop_front();
}

std::optional<Status> ClusterState::ResultOf(const std::string& request_id) const {
  for (auto it = recent_results.rbegin(); it != recent_results.rend(); ++it) {
    if (it->request_id == request_id) return Status(it->code, it->message);
  }
  return std::nullopt;
}

std::string_view NodeTypeName(NodeType type) { return type == NodeType::kListener ? "Listener" : "Normal"; }

std::optional<NodeType> ParseNodeType(std::string_view name) {
  if (name == "Normal") return NodeType::kNormal;
  if (name == "Listener") return NodeType::kListener;
  return std::nullopt;
}

std::string_view ReplicaStateName(ReplicaState state) {
  for (auto [s, name] : kReplicaStates) {
    if (s == state) return name;
  }
  return "Dead";
}

std::optional<ReplicaState> ParseReplicaState(std::string_view name) {
  for (auto [s, n] : kReplicaStates) {
    if (n == name) return s;
  }
  return std::nullopt;
}

uint64_t WallClockMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

bool ClusterState::HoldsReplicas(PeerId peer) const {
  for (const auto& [name, c] : collections) {
    for (const auto& [id, shard] : c.shards) {
      if (shard.replicas.count(peer)) return true;
    }
  }
  return false;
}

std::optional<PeerId> ClusterState::PeerWithUri(const std::string& uri, PeerId except) const {
  for (const auto& [id, peer] : peers) {
    if (id != except && peer.uri == uri) return id;
  }
  return std::nullopt;
}

std::string ClusterState::ToJson() const {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "v");
  w.Uint(1);
  json::Key(w, "applied_index");
  w.Uint64(applied_index);
  json::Key(w, "peers");
  w.StartArray();
  for (const auto& [id, p] : peers) {
    w.StartObject();
    json::Key(w, "id");
    w.Uint64(id);
    json::Key(w, "uri");
    json::Str(w, p.uri);
    json::Key(w, "node_type");
    json::Str(w, NodeTypeName(p.type));
    w.EndObject();
  }
  w.EndArray();
  json::Key(w, "removed_peers");
  w.StartArray();
  for (PeerId id : removed_peers) w.Uint64(id);
  w.EndArray();
  json::Key(w, "collections");
  w.StartArray();
  for (const auto& [name, c] : collections) {
    w.StartObject();
    json::Key(w, "name");
    json::Str(w, name);
    json::Key(w, "config");
    json::Raw(w, c.config_json);
    json::Key(w, "shards");
    w.StartArray();
    for (const auto& [sid, shard] : c.shards) {
      w.StartObject();
      json::Key(w, "id");
      w.Uint(sid);
      json::Key(w, "replicas");
      w.StartArray();
      for (const auto& [peer, state] : shard.replicas) {
        w.StartObject();
        json::Key(w, "peer");
        w.Uint64(peer);
        json::Key(w, "state");
        json::Str(w, ReplicaStateName(state));
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  json::Key(w, "aliases");
  w.StartObject();
  for (const auto& [alias, target] : aliases) {
    json::Key(w, alias);
    json::Str(w, target);
  }
  w.EndObject();
  json::Key(w, "metadata");
  w.StartObject();
  for (const auto& [key, value] : metadata) {
    json::Key(w, key);
    json::Raw(w, value);
  }
  w.EndObject();
  json::Key(w, "transfers");
  w.StartArray();
  for (const Transfer& t : transfers) json::WriteTransfer(w, t);
  w.EndArray();
  json::Key(w, "draining");
  w.StartArray();
  for (PeerId id : draining) w.Uint64(id);
  w.EndArray();
  json::Key(w, "rebalance");
  w.StartObject();
  json::Key(w, "running");
  w.Bool(rebalance.running);
  json::Key(w, "reason");
  json::Str(w, rebalance.reason);
  json::Key(w, "started_ms");
  w.Uint64(rebalance.started_ms);
  json::Key(w, "moves_done");
  w.Uint64(rebalance.moves_done);
  json::Key(w, "moves_failed");
  w.Uint64(rebalance.moves_failed);
  json::Key(w, "joined");
  w.StartArray();
  for (PeerId id : rebalance.joined) w.Uint64(id);
  w.EndArray();
  w.EndObject();
  json::Key(w, "recent_results");
  w.StartArray();
  for (const AppliedResult& r : recent_results) {
    w.StartObject();
    json::Key(w, "request");
    json::Str(w, r.request_id);
    json::Key(w, "code");
    json::Str(w, StatusCodeName(r.code));
    json::Key(w, "message");
    json::Str(w, r.message);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<ClusterState> ClusterState::FromJson(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError() || !d.IsObject()) return Status::InvalidArgument("cluster state: not a JSON object");
  if (json::U64(d, "v") != 1) return Status::InvalidArgument("cluster state: unknown version");
  ClusterState s;
  s.applied_index = json::U64(d, "applied_index");
  if (const auto* peers = json::Member(d, "peers"); peers && peers->IsArray()) {
    for (const auto& p : peers->GetArray()) {
      Peer peer{.uri = json::String(p, "uri"),
                .type = ParseNodeType(json::String(p, "node_type")).value_or(NodeType::kNormal)};
      s.peers[json::U64(p, "id")] = std::move(peer);
    }
  }
  if (const auto* removed = json::Member(d, "removed_peers"); removed && removed->IsArray()) {
    for (const auto& id : removed->GetArray()) {
      if (id.IsUint64()) s.removed_peers.insert(id.GetUint64());
    }
  }
  if (const auto* cs = json::Member(d, "collections"); cs && cs->IsArray()) {
    for (const auto& c : cs->GetArray()) {
      Collection col;
      if (const auto* config = json::Member(c, "config")) col.config_json = json::Serialize(*config);
      if (const auto* shards = json::Member(c, "shards"); shards && shards->IsArray()) {
        for (const auto& sh : shards->GetArray()) {
          Shard shard;
          if (const auto* reps = json::Member(sh, "replicas"); reps && reps->IsArray()) {
            for (const auto& r : reps->GetArray()) {
              auto state = ParseReplicaState(json::String(r, "state"));
              if (!state) return Status::InvalidArgument("cluster state: unknown replica state");
              shard.replicas[json::U64(r, "peer")] = *state;
            }
          }
          col.shards[static_cast<ShardId>(json::U64(sh, "id"))] = std::move(shard);
        }
      }
      s.collections[json::String(c, "name")] = std::move(col);
    }
  }
  if (const auto* aliases = json::Member(d, "aliases"); aliases && aliases->IsObject()) {
    for (const auto& m : aliases->GetObject()) {
      if (m.value.IsString()) s.aliases[m.name.GetString()] = m.value.GetString();
    }
  }
  if (const auto* metadata = json::Member(d, "metadata"); metadata && metadata->IsObject()) {
    for (const auto& m : metadata->GetObject()) s.metadata[m.name.GetString()] = json::Serialize(m.value);
  }
  if (const auto* ts = json::Member(d, "transfers"); ts && ts->IsArray()) {
    for (const auto& t : ts->GetArray()) {
      s.transfers.push_back(json::ReadTransfer(t));
    }
  }
  if (const auto* ids = json::Member(d, "draining"); ids && ids->IsArray()) {
    for (const auto& id : ids->GetArray()) {
      if (id.IsUint64()) s.draining.insert(id.GetUint64());
    }
  }
  if (const auto* r = json::Member(d, "rebalance"); r && r->IsObject()) {
    s.rebalance.running = json::Bool(*r, "running");
    s.rebalance.reason = json::String(*r, "reason");
    s.rebalance.started_ms = json::U64(*r, "started_ms");
    s.rebalance.moves_done = json::U64(*r, "moves_done");
    s.rebalance.moves_failed = json::U64(*r, "moves_failed");
    if (const auto* ids = json::Member(*r, "joined"); ids && ids->IsArray()) {
      for (const auto& id : ids->GetArray()) {
        if (id.IsUint64()) s.rebalance.joined.insert(id.GetUint64());
      }
    }
  }
  if (const auto* rs = json::Member(d, "recent_results"); rs && rs->IsArray()) {
    for (const auto& r : rs->GetArray()) {
      auto code = ParseStatusCode(json::String(r, "code"));
      if (!code) return Status::InvalidArgument("cluster state: unknown result code");
      s.recent_results.push_back(AppliedResult{.request_id = json::String(r, "request"),
                                               .code = *code,
                                               .message = json::String(r, "message")});
    }
  }
  return s;
}

namespace json {

void WriteTransfer(Writer& w, const Transfer& t) {
  w.StartObject();
  Key(w, "collection");
  Str(w, t.collection);
  Key(w, "shard");
  w.Uint(t.shard);
  Key(w, "from");
  w.Uint64(t.from);
  Key(w, "to");
  w.Uint64(t.to);
  Key(w, "method");
  Str(w, t.method);
  Key(w, "sync");
  w.Bool(t.sync);
  if (t.automatic) {
    Key(w, "auto");
    w.Bool(true);
  }
  if (t.restarts > 0) {
    Key(w, "restarts");
    w.Uint(t.restarts);
  }
  if (!t.reason.empty()) {
    Key(w, "reason");
    Str(w, t.reason);
  }
  if (t.progress.updated_ms != 0) {
    const Transfer::Progress& p = t.progress;
    Key(w, "progress");
    w.StartObject();
    for (auto [name, value] : {std::pair<const char*, uint64_t>{"started_ms", p.started_ms},
                               {"updated_ms", p.updated_ms},
                               {"points_done", p.points_done},
                               {"points_total", p.points_total},
                               {"bytes_done", p.bytes_done},
                               {"bytes_total", p.bytes_total},
                               {"ops_done", p.ops_done},
                               {"ops_total", p.ops_total}}) {
      Key(w, name);
      w.Uint64(value);
    }
    w.EndObject();
  }
  w.EndObject();
}

Transfer ReadTransfer(const rapidjson::Value& v) {
  Transfer t{.collection = String(v, "collection"),
             .shard = static_cast<ShardId>(U64(v, "shard")),
             .from = U64(v, "from"),
             .to = U64(v, "to"),
             .method = String(v, "method", "stream_records"),
             .sync = Bool(v, "sync"),
             .automatic = Bool(v, "auto"),
             .restarts = static_cast<uint32_t>(U64(v, "restarts")),
             .reason = String(v, "reason"),
             .progress = {}};
  if (const rapidjson::Value* p = Member(v, "progress"); p && p->IsObject()) {
    t.progress = Transfer::Progress{.started_ms = U64(*p, "started_ms"),
                                    .updated_ms = U64(*p, "updated_ms"),
                                    .points_done = U64(*p, "points_done"),
                                    .points_total = U64(*p, "points_total"),
                                    .bytes_done = U64(*p, "bytes_done"),
                                    .bytes_total = U64(*p, "bytes_total"),
                                    .ops_done = U64(*p, "ops_done"),
                                    .ops_total = U64(*p, "ops_total")};
  }
  return t;
}

}  // namespace json

std::string ChooseTransferMethod(const std::optional<std::string>& requested,
                                 const std::optional<std::string>& configured,
                                 bool to_holds_replica) {
  const std::optional<std::string>& chosen = requested ? requested : configured;
  if (chosen && (*chosen == "wal_delta" || *chosen == "snapshot")) return *chosen;
  if (chosen) return "stream_records";
  return to_holds_replica ? "wal_delta" : "snapshot";
}

}  // namespace qd::cluster
