// MetaOperation: one change to the ClusterState, as proposed through Raft. Each Raft command is
// one MetaOperation encoded as versioned JSON:
//   {"v":1,"kind":"create_collection","request_id":"<proposer>-<n>", ...kind's fields}
// Fields not used by a kind are omitted. request_id lets the proposing node match the applied
// entry to its waiting caller (StateMachine reports each applied op's Status by request id).
// Thread: any (a value).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/cluster/cluster_state.h"

namespace qd::cluster {

struct MetaOperation {
  enum class Kind {
    kUpsertPeer,        // peer_id, uri, node_type: add a peer or change its URI
    kRemovePeer,        // peer_id, force: drop it (with its replicas and transfers if force)
    kCreateCollection,  // collection, config_json, shard_number?, replication_factor, placement?
    kUpdateCollection,  // collection, config_json
    kDropCollection,    // collection
    kSetReplicaState,   // collection, shard, peer_id, replica_state (adds the replica if absent)
    kRemoveReplica,     // collection, shard, peer_id
    kStartTransfer,     // transfer, transfer_limits (automatic ones)
    kFinishTransfer,    // transfer (matched by collection, shard, from, to)
    kAbortTransfer,     // transfer (matched likewise)
    kCreateAlias,       // alias, collection
    kDeleteAlias,       // alias
    kChangeAliases,     // alias_changes, applied all or none (Qdrant's change_aliases)
    kSetMetadata,       // key, value_json
    kDeleteMetadata,    // key
    kRestoreState,      // state_json: replaces collections/aliases/metadata (--reinit)
    kUpdateTransfer,    // transfer (matched as kFinishTransfer's): its method is what runs
    kRestartTransfer,   // transfer (matched likewise): start it over with transfer.method
    kDrainPeer,         // peer_id, cancel: start (or cancel) draining the peer
    kSetRebalance,      // rebalance_action, reason, started_ms (ClusterState::rebalance)
  };

  Kind kind = Kind::kSetMetadata;
  std::string request_id;

  PeerId peer_id = 0;
  std::string uri;
  NodeType node_type = NodeType::kNormal;
  bool force = false;

  std::string collection;
  std::string config_json;
  std::optional<uint32_t> shard_number;  // default: number of peers
  uint32_t replication_factor = 1;
  std::optional<ReplicaState> initial_state;                // default Active (Listener on listeners)
  std::map<ShardId, std::vector<PeerId>> placement;  // explicit placement; empty: computed

  ShardId shard = 0;
  ReplicaState replica_state = ReplicaState::kActive;
  Transfer transfer;
  // kStartTransfer of an automatic transfer: the proposer's incoming and outgoing limits; the
  // FSM refuses it when the receiver or the source already takes part in that many transfers.
  std::pair<uint64_t, uint64_t> transfer_limits{0, 0};

  std::string alias;
  struct AliasChange {
    enum Kind { kCreate, kDelete, kRename } kind = kCreate;
    std::string alias;       // kRename: the old name
    std::string collection;  // kCreate
    std::string new_alias;   // kRename
    friend bool operator==(const AliasChange&, const AliasChange&) = default;
  };
  std::vector<AliasChange> alias_changes;
  std::string key;
  std::string value_json;
  std::string state_json;
  bool cancel = false;  // kDrainPeer
  // kSetRebalance: "start" (reason, started_ms: counters reset), "finish" (running = false),
  // "ack_join" (the joined peers were seen; nothing starts). Each clears rebalance.joined.
  std::string rebalance_action;
  std::string reason;
  uint64_t started_ms = 0;

  std::string Encode() const;
  // Errors: kInvalidArgument for bytes that are not a MetaOperation of a known version/kind.
  static Result<MetaOperation> Decode(std::string_view bytes);

  // Convenience constructors for the common kinds.
  static MetaOperation UpsertPeer(PeerId id, std::string uri, NodeType type = NodeType::kNormal);
  static MetaOperation RemovePeer(PeerId id, bool force);
  static MetaOperation CreateCollection(std::string name, std::string config_json,
                                        std::optional<uint32_t> shard_number,
                                        uint32_t replication_factor);
  static MetaOperation DropCollection(std::string name);
  static MetaOperation SetReplicaState(std::string collection, ShardId shard, PeerId peer,
                                       ReplicaState state);
  static MetaOperation CreateAlias(std::string alias, std::string collection);
  static MetaOperation DeleteAlias(std::string alias);
  static MetaOperation ChangeAliases(std::vector<AliasChange> changes);
  static MetaOperation SetMetadata(std::string key, std::string value_json);
  static MetaOperation DeleteMetadata(std::string key);
};

std::string_view KindName(MetaOperation::Kind kind);

}  // namespace qd::cluster
