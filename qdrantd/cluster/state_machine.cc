#include "qdrantd/cluster/state_machine.h"

#include <algorithm>

#include "libshared/log.h"
#include "qdrantd/cluster/placement.h"

namespace qd::cluster {
namespace {

using Kind = MetaOperation::Kind;

std::string PeerName(PeerId id) { return std::to_string(id); }

bool SameTransfer(const Transfer& a, const Transfer& b) {
  return a.collection == b.collection && a.shard == b.shard && a.from == b.from && a.to == b.to;
}

// Ends `t` as aborted (compat.md §6.5): a replication's receiver is left Dead (a later transfer
// recovers it), a move's receiver is dropped; the source stays as it was.
void AbortTransfer(ClusterState& s, const Transfer& t) {
  std::erase_if(s.transfers, [&](const Transfer& other) { return SameTransfer(other, t); });
  if (t.reason == "rebalance") ++s.rebalance.moves_failed;
  auto c = s.collections.find(t.collection);
  if (c == s.collections.end()) return;
  auto shard = c->second.shards.find(t.shard);
  if (shard == c->second.shards.end()) return;
  auto target = shard->second.replicas.find(t.to);
  if (target == shard->second.replicas.end()) return;
  if (t.sync) {
    target->second = ReplicaState::kDead;
  } else {
    shard->second.replicas.erase(target);
  }
}

// Aborts every transfer of the shard (every shard when `shard` is empty) that `peer` takes part in.
void AbortTransfersOf(ClusterState& s, PeerId peer, const std::string* collection,
                      std::optional<ShardId> shard) {
  std::vector<Transfer> hit;
  for (const Transfer& t : s.transfers) {
    if (collection && t.collection != *collection) continue;
    if (shard && t.shard != *shard) continue;
    if (t.from == peer || t.to == peer) hit.push_back(t);
  }
  for (const Transfer& t : hit) AbortTransfer(s, t);
}

void DropPeerEverywhere(ClusterState& s, PeerId id) {
  AbortTransfersOf(s, id, nullptr, std::nullopt);
  s.draining.erase(id);
  s.rebalance.joined.erase(id);
  for (auto& [name, c] : s.collections) {
    for (auto& [sid, shard] : c.shards) shard.replicas.erase(id);
  }
}

std::string ShardName(const std::string& collection, ShardId shard) {
  return "shard " + std::to_string(shard) + " of collection `" + collection + "`";
}

Status ApplyStartTransfer(ClusterState& s, const Transfer& t,
                          std::pair<uint64_t, uint64_t> limits) {
  auto c = s.collections.find(t.collection);
  if (c == s.collections.end())
    return Status::NotFound("Collection `" + t.collection + "` doesn't exist!");
  auto shard = c->second.shards.find(t.shard);
  if (shard == c->second.shards.end()) {
    return Status::NotFound("Bad request: Shard " + std::to_string(t.shard) + " does not exist");
  }
  for (PeerId p : {t.from, t.to}) {
    if (!s.peers.count(p))
      return Status::NotFound("Bad request: Peer " + PeerName(p) + " does not exist");
  }
  if (t.from == t.to) {
    return Status::Unprocessable(
        "Validation error in JSON body: [move_shard.to_peer_id: cannot transfer shard to itself]");
  }
  auto& replicas = shard->second.replicas;
  auto source = replicas.find(t.from);
  if (source == replicas.end() || source->second != ReplicaState::kActive) {
    return Status::InvalidArgument("Bad request: " + ShardName(t.collection, t.shard) +
                                   " has no Active replica on peer " + PeerName(t.from) +
                                   " to transfer from");
  }
  if (!t.sync && replicas.count(t.to)) {
    return Status::InvalidArgument("Bad request: peer " + PeerName(t.to) +
                                   " already holds a replica of " +
                                   ShardName(t.collection, t.shard) + "; cannot move it there");
  }
  for (const Transfer& other : s.transfers) {
    if (other.collection == t.collection && other.shard == t.shard &&
        (other.to == t.to || other.from == t.from || other.to == t.from || other.from == t.to)) {
      return Status::InvalidArgument("Bad request: " + ShardName(t.collection, t.shard) +
                                     " is already involved in a transfer from peer " +
                                     PeerName(other.from) + " to peer " + PeerName(other.to));
    }
  }
  if (t.automatic) {
    // Every transfer counts, the user's too (compat.md §6.6).
    uint64_t incoming = 0, outgoing = 0;
    for (const Transfer& other : s.transfers) {
      incoming += other.to == t.to ? 1 : 0;
      outgoing += other.from == t.from ? 1 : 0;
    }
    if (incoming >= limits.first || outgoing >= limits.second) {
      return Status::FailedPrecondition("automatic transfer of " +
                                        ShardName(t.collection, t.shard) +
                                        " not started: the transfer limits are reached");
    }
  }
  // The receiver takes writes from now on and answers no reads until the transfer finishes.
  replicas[t.to] = ReplicaState::kPartial;
  s.transfers.push_back(t);
  return Status::Ok();
}

Status ApplyUpsertPeer(ClusterState& s, const MetaOperation& op) {
  if (op.peer_id == 0) return Status::InvalidArgument("peer id 0 is not valid");
  if (s.removed_peers.count(op.peer_id)) {
    return Status::FailedPrecondition("peer " + PeerName(op.peer_id) + " was removed from the cluster");
  }
  // Qdrant: a newcomer announcing the URI of a registered peer replaces it when that peer holds
  // no replicas, and is refused otherwise (compat.md §6.8).
  if (auto other = s.PeerWithUri(op.uri, op.peer_id)) {
    if (s.HoldsReplicas(*other)) {
      return Status::AlreadyExists("URI conflict: " + op.uri + " belongs to peer " + PeerName(*other) +
                                   ", which holds replicas");
    }
    s.peers.erase(*other);
    s.removed_peers.insert(*other);
    DropPeerEverywhere(s, *other);
  }
  // A Normal peer seen for the first time may start a rebalance (cluster.rebalance.on_join, on
  // the leader); the founder's own registration is not a join.
  if (!s.peers.empty() && !s.peers.count(op.peer_id) && op.node_type == NodeType::kNormal) {
    s.rebalance.joined.insert(op.peer_id);
  }
  s.peers[op.peer_id] = Peer{.uri = op.uri, .type = op.node_type};
  return Status::Ok();
}

Status ApplyRemovePeer(ClusterState& s, const MetaOperation& op) {
  // Qdrant's texts (its DELETE /cluster/peer), as api/rest/cluster_routes.cc says them too.
  if (!s.peers.count(op.peer_id))
    return Status::NotFound("Peer " + PeerName(op.peer_id) + " does not exist");
  if (!op.force && s.HoldsReplicas(op.peer_id)) {
    return Status::FailedPrecondition(
        "Bad request: Cannot remove peer " + PeerName(op.peer_id) +
        " as there are shards on it; move them first or use force=true");
  }
  s.peers.erase(op.peer_id);
  s.removed_peers.insert(op.peer_id);
  DropPeerEverywhere(s, op.peer_id);
  return Status::Ok();
}

Status ApplyCreateCollection(ClusterState& s, const MetaOperation& op) {
  if (op.collection.empty()) return Status::InvalidArgument("collection name is empty");
  if (s.collections.count(op.collection)) {
    return Status::AlreadyExists("Wrong input: Collection `" + op.collection + "` already exists!");
  }
  // Qdrant answers 400 here, not 409 (compat.md §4.1); the texts are standalone mode's
  // (collection/collections.cc), so both modes say the same for the same mistake.
  if (s.aliases.count(op.collection)) {
    return Status::InvalidArgument("Wrong input: Alias with name `" + op.collection +
                                   "` already exists");
  }
  std::map<ShardId, std::vector<PeerId>> placement = op.placement;
  if (placement.empty()) {
    // A draining peer receives no new replicas, unless every peer is draining.
    std::vector<PeerId> ids;
    for (const auto& [id, peer] : s.peers) {
      if (!s.draining.count(id)) ids.push_back(id);
    }
    if (ids.empty()) {
      for (const auto& [id, peer] : s.peers) ids.push_back(id);
    }
    uint32_t shards = op.shard_number.value_or(static_cast<uint32_t>(std::max<size_t>(ids.size(), 1)));
    if (shards == 0) return Status::InvalidArgument("shard_number must be at least 1");
    placement = PlaceReplicas(ids, shards, op.replication_factor);
    if (placement.empty()) return Status::Unavailable("no peers to place replicas on");
  }
  Collection c;
  c.config_json = op.config_json.empty() ? "{}" : op.config_json;
  for (const auto& [sid, peers] : placement) {
    Shard& shard = c.shards[sid];
    for (PeerId p : peers) {
      auto it = s.peers.find(p);
      if (it == s.peers.end()) return Status::NotFound("peer " + PeerName(p) + " does not exist");
      // A new replica is Initializing until its peer created it and proposed it Active (the
      // Reconciler does), as in Qdrant; a Listener peer's replicas are Listener from the start.
      ReplicaState st = op.initial_state.value_or(it->second.type == NodeType::kListener
                                                      ? ReplicaState::kListener
                                                      : ReplicaState::kInitializing);
      shard.replicas[p] = st;
    }
  }
  s.collections[op.collection] = std::move(c);
  return Status::Ok();
}

Result<Collection*> FindCollection(ClusterState& s, const std::string& name) {
  auto it = s.collections.find(name);
  if (it == s.collections.end()) return Status::NotFound("Collection `" + name + "` doesn't exist!");
  return &it->second;
}

}  // namespace

// One alias action, with standalone mode's rules and texts (Collections::ApplyAliases).
Status ApplyAliasChange(ClusterState& s, const MetaOperation::AliasChange& change) {
  switch (change.kind) {
    case MetaOperation::AliasChange::kCreate:
      if (!s.collections.count(change.collection)) {
        return Status::NotFound("Collection `" + change.collection + "` doesn't exist!");
      }
      if (s.collections.count(change.alias)) {
        return Status::AlreadyExists("Wrong input: Collection with name `" + change.alias +
                                     "` already exists");
      }
      s.aliases[change.alias] = change.collection;
      return Status::Ok();
    case MetaOperation::AliasChange::kDelete:
      if (!s.aliases.erase(change.alias)) {
        return Status::NotFound("Alias `" + change.alias + "` doesn't exist!");
      }
      return Status::Ok();
    case MetaOperation::AliasChange::kRename: {
      auto it = s.aliases.find(change.alias);
      if (it == s.aliases.end()) return Status::NotFound("Alias `" + change.alias + "` doesn't exist!");
      std::string target = it->second;
      s.aliases.erase(it);
      s.aliases[change.new_alias] = target;
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("unknown alias action");
}

Status ApplyOperation(ClusterState& s, const MetaOperation& op) {
  switch (op.kind) {
    case Kind::kUpsertPeer:
      return ApplyUpsertPeer(s, op);
    case Kind::kRemovePeer:
      return ApplyRemovePeer(s, op);
    case Kind::kCreateCollection:
      return ApplyCreateCollection(s, op);
    case Kind::kUpdateCollection: {
      auto c = FindCollection(s, op.collection);
      if (!c.ok()) return c.status();
      (*c)->config_json = op.config_json.empty() ? "{}" : op.config_json;
      return Status::Ok();
    }
    case Kind::kDropCollection: {
      if (!s.collections.erase(op.collection)) {
        return Status::NotFound("Collection `" + op.collection + "` doesn't exist!");
      }
      std::erase_if(s.aliases, [&](const auto& a) { return a.second == op.collection; });
      std::erase_if(s.transfers, [&](const Transfer& t) { return t.collection == op.collection; });
      return Status::Ok();
    }
    case Kind::kSetReplicaState: {
      auto c = FindCollection(s, op.collection);
      if (!c.ok()) return c.status();
      auto shard = (*c)->shards.find(op.shard);
      if (shard == (*c)->shards.end()) {
        return Status::NotFound("shard " + std::to_string(op.shard) + " of " + op.collection + " does not exist");
      }
      if (!s.peers.count(op.peer_id)) return Status::NotFound("peer " + PeerName(op.peer_id) + " does not exist");
      auto current = shard->second.replicas.find(op.peer_id);
      if (op.replica_state == ReplicaState::kDead && current == shard->second.replicas.end()) {
        // A report about a replica that left meanwhile (a move dropped it): nothing to mark.
        return Status::NotFound("peer " + PeerName(op.peer_id) + " holds no replica of " +
                                ShardName(op.collection, op.shard));
      }
      if (op.replica_state == ReplicaState::kDead && current != shard->second.replicas.end() &&
          shard::AcceptsReads(current->second)) {
        // As Qdrant: a shard keeps its last readable replica, or no read or write could reach its
        // data until a transfer that needs that very replica as its source.
        bool another = false;
        for (const auto& [peer, state] : shard->second.replicas) {
          if (peer != op.peer_id && shard::AcceptsReads(state)) another = true;
        }
        if (!another) {
          return Status::FailedPrecondition("cannot deactivate the last active replica of shard " +
                                            std::to_string(op.shard) + " of " + op.collection +
                                            " (peer " + PeerName(op.peer_id) + ")");
        }
      }
      shard->second.replicas[op.peer_id] = op.replica_state;
      // A transfer cannot go on without its source or its receiver.
      if (op.replica_state == ReplicaState::kDead) {
        AbortTransfersOf(s, op.peer_id, &op.collection, op.shard);
      }
      return Status::Ok();
    }
    case Kind::kRemoveReplica: {
      auto c = FindCollection(s, op.collection);
      if (!c.ok()) return c.status();
      auto shard = (*c)->shards.find(op.shard);
      if (shard == (*c)->shards.end() || !shard->second.replicas.count(op.peer_id)) {
        return Status::NotFound("Bad request: peer " + PeerName(op.peer_id) +
                                " holds no replica of " + ShardName(op.collection, op.shard));
      }
      if (shard::AcceptsReads(shard->second.replicas[op.peer_id])) {
        bool another = false;
        for (const auto& [peer, state] : shard->second.replicas) {
          if (peer != op.peer_id && shard::AcceptsReads(state)) another = true;
        }
        if (!another) {
          return Status::InvalidArgument("Bad request: cannot drop the last Active replica of " +
                                         ShardName(op.collection, op.shard) + " (peer " +
                                         PeerName(op.peer_id) + ")");
        }
      }
      AbortTransfersOf(s, op.peer_id, &op.collection, op.shard);
      shard->second.replicas.erase(op.peer_id);
      return Status::Ok();
    }
    case Kind::kStartTransfer:
      return ApplyStartTransfer(s, op.transfer, op.transfer_limits);
    case Kind::kFinishTransfer:
    case Kind::kAbortTransfer:
    case Kind::kUpdateTransfer:
    case Kind::kRestartTransfer: {
      auto it = std::find_if(s.transfers.begin(), s.transfers.end(),
                             [&](const Transfer& t) { return SameTransfer(t, op.transfer); });
      if (it == s.transfers.end()) {
        return Status::NotFound("Bad request: there is no transfer of " +
                                ShardName(op.transfer.collection, op.transfer.shard) +
                                " from peer " + PeerName(op.transfer.from) + " to peer " +
                                PeerName(op.transfer.to) + "; it does not exist");
      }
      if (op.kind == Kind::kUpdateTransfer) {
        it->method = op.transfer.method;  // a wal_delta that fell back to a full method
        // The source's progress report, unless it is older than the one recorded.
        if (op.transfer.progress.updated_ms >= it->progress.updated_ms &&
            op.transfer.progress.updated_ms != 0) {
          it->progress = op.transfer.progress;
        }
        return Status::Ok();
      }
      if (op.kind == Kind::kRestartTransfer) {
        it->method = op.transfer.method;
        ++it->restarts;  // the source's TransferManager starts it over
        it->progress = {};
        return Status::Ok();
      }
      const Transfer t = *it;
      if (op.kind == Kind::kAbortTransfer) {
        AbortTransfer(s, t);
        return Status::Ok();
      }
      s.transfers.erase(it);
      if (t.reason == "rebalance") ++s.rebalance.moves_done;
      auto c = s.collections.find(t.collection);
      if (c == s.collections.end() || !c->second.shards.count(t.shard)) return Status::Ok();
      auto& replicas = c->second.shards[t.shard].replicas;
      if (replicas.count(t.to)) replicas[t.to] = ReplicaState::kActive;
      if (!t.sync) replicas.erase(t.from);
      return Status::Ok();
    }
    case Kind::kCreateAlias:
      return ApplyAliasChange(s, {MetaOperation::AliasChange::kCreate, op.alias, op.collection, ""});
    case Kind::kDeleteAlias:
      return ApplyAliasChange(s, {MetaOperation::AliasChange::kDelete, op.alias, "", ""});
    case Kind::kChangeAliases:
      // All or none: the caller applies to a copy and keeps it only when every action succeeded.
      for (const MetaOperation::AliasChange& change : op.alias_changes) {
        if (Status st = ApplyAliasChange(s, change); !st.ok()) return st;
      }
      return Status::Ok();
    case Kind::kSetMetadata:
      s.metadata[op.key] = op.value_json.empty() ? "null" : op.value_json;
      return Status::Ok();
    case Kind::kDeleteMetadata:
      s.metadata.erase(op.key);
      return Status::Ok();
    case Kind::kRestoreState: {
      auto restored = ClusterState::FromJson(op.state_json);
      if (!restored.ok()) return restored.status();
      s.collections = std::move(restored->collections);
      s.aliases = std::move(restored->aliases);
      s.metadata = std::move(restored->metadata);
      s.transfers.clear();
      return Status::Ok();
    }
    case Kind::kDrainPeer:
      if (!s.peers.count(op.peer_id))
        return Status::NotFound("Peer " + PeerName(op.peer_id) + " does not exist");
      if (op.cancel) {
        s.draining.erase(op.peer_id);
      } else {
        s.draining.insert(op.peer_id);
      }
      return Status::Ok();
    case Kind::kSetRebalance:
      s.rebalance.joined.clear();
      if (op.rebalance_action == "start") {
        s.rebalance.running = true;
        s.rebalance.reason = op.reason;
        s.rebalance.started_ms = op.started_ms;
        s.rebalance.moves_done = 0;
        s.rebalance.moves_failed = 0;
      } else if (op.rebalance_action == "finish") {
        s.rebalance.running = false;
      } else if (op.rebalance_action != "ack_join") {
        return Status::InvalidArgument("unknown rebalance action `" + op.rebalance_action + "`");
      }
      return Status::Ok();
  }
  return Status::InvalidArgument("unknown meta operation");
}

StateMachine::StateMachine() : published_(std::make_shared<const ClusterState>()) {}

void StateMachine::Apply(server::OnLoop on_loop, uint64_t index, std::string_view command) {
  auto op = MetaOperation::Decode(command);
  Status result;
  if (!op.ok()) {
    result = op.status();
    QD_LOG_ERROR("skipping a raft entry at index " + std::to_string(index) + ": " + result.message());
  } else {
    // Apply to a copy so that a failed operation leaves nothing half-done.
    ClusterState next = live_;
    result = ApplyOperation(next, *op);
    if (result.ok()) live_ = std::move(next);
    // Failures too: the verdict is what a proposer that hears of it by snapshot is told.
    if (!op->request_id.empty()) live_.RecordResult(op->request_id, result);
  }
  live_.applied_index = index;
  Publish(on_loop);
  if (!op.ok() || op->request_id.empty() || !on_result_) return;
  if (hold_results_ && index > reconciled_index_) {
    held_.push_back({index, op->request_id, result});
    return;
  }
  on_result_(on_loop, op->request_id, result);
}

void StateMachine::Reconciled(server::OnLoop on_loop, uint64_t applied_index) {
  reconciled_index_ = std::max(reconciled_index_, applied_index);
  size_t released = 0;
  while (released < held_.size() && held_[released].index <= reconciled_index_) ++released;
  std::vector<HeldResult> ready(std::make_move_iterator(held_.begin()),
                                std::make_move_iterator(held_.begin() + static_cast<std::ptrdiff_t>(released)));
  held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(released));
  for (const HeldResult& r : ready) {
    if (on_result_) on_result_(on_loop, r.request_id, r.status);
  }
}

std::string StateMachine::Snapshot(server::OnLoop) { return live_.ToJson(); }

Status StateMachine::Restore(server::OnLoop on_loop, std::string_view snapshot, uint64_t) {
  auto state = ClusterState::FromJson(snapshot);
  if (!state.ok()) return state.status();
  live_ = std::move(state.value());
  Publish(on_loop);
  // Entries that reached this node inside the snapshot were never applied here one by one: their
  // proposers learn the verdicts the snapshot carries.
  // Like applied entries, they wait for the reconcile of the restored state when one is held.
  if (on_result_) {
    const bool hold = hold_results_ && live_.applied_index > reconciled_index_;
    for (const AppliedResult& r : live_.recent_results) {
      Status verdict(r.code, r.message);
      if (hold) {
        held_.push_back({live_.applied_index, r.request_id, verdict});
      } else {
        on_result_(on_loop, r.request_id, verdict);
      }
    }
  }
  return Status::Ok();
}

void StateMachine::ResetForTesting(server::OnLoop on_loop, ClusterState state) {
  live_ = std::move(state);
  Publish(on_loop);
}

void StateMachine::Publish(server::OnLoop on_loop) {
  auto copy = std::make_shared<const ClusterState>(live_);
  published_.store(copy);
  for (auto& subscriber : subscribers_) subscriber(on_loop, copy);
}

}  // namespace qd::cluster

