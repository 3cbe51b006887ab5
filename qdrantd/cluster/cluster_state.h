// ClusterState: everything the cluster agrees on through Raft — peers, collections with their
// shard placement and replica states, aliases, cluster metadata keys and shard transfers in
// progress. A plain value: the live copy belongs to StateMachine on the loop; readers on other
// threads get immutable copies (StateMachine::Current()).
//
// Serialised as JSON (ToJson/FromJson) for Raft snapshots; the format is versioned ("v": 1):
//   {"v":1,"applied_index":N,
//    "peers":[{"id":u64,"uri":"http://..","node_type":"Normal"|"Listener"}],
//    "removed_peers":[u64...],
//    "collections":[{"name":..,"config":<any JSON>,"shards":[{"id":u32,
//        "replicas":[{"peer":u64,"state":"Active"|..}]}]}],
//    "aliases":{"alias":"collection"}, "metadata":{"key":<any JSON>},
//    "transfers":[{"collection":..,"shard":u32,"from":u64,"to":u64,"method":..,"sync":bool,"auto":bool,
//                  "reason":"recovery"|"rebalance"|"drain"|"heal" (automatic ones),
//                  "progress":{"started_ms","updated_ms","points_done","points_total",
//                              "bytes_done","ops_done","ops_total"} (once reported)}],
//    "draining":[u64...],
//    "rebalance":{"running":bool,"reason":..,"started_ms":u64,"moves_done":u64,"moves_failed":u64,
//                 "joined":[u64...]},
//    "recent_results":[{"request":"<request id>","code":"ok"|"already exists"|..,"message":..}]}
// recent_results is oldest first; a snapshot without it (older versions) restores an empty one.
// Thread: any (a value).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/shard/replica_state.h"

namespace qd::cluster {

using PeerId = uint64_t;
using ShardId = uint32_t;

enum class NodeType { kNormal, kListener };
// Qdrant's ReplicaState names (lib/collection/src/shards/replica_set/replica_state.rs).
using shard::ReplicaState;

// The wall clock in ms since the epoch: how the cluster state records times (rebalance start,
// transfer progress). Thread: any.
uint64_t WallClockMs();

std::string_view NodeTypeName(NodeType type);
std::optional<NodeType> ParseNodeType(std::string_view name);
std::string_view ReplicaStateName(ReplicaState state);
std::optional<ReplicaState> ParseReplicaState(std::string_view name);

struct Peer {
  std::string uri;
  NodeType type = NodeType::kNormal;
  friend bool operator==(const Peer&, const Peer&) = default;
};

struct Shard {
  std::map<PeerId, ReplicaState> replicas;
  friend bool operator==(const Shard&, const Shard&) = default;
};

struct Collection {
  std::string config_json = "{}";  // opaque to the FSM: the collection layer's config
  std::map<ShardId, Shard> shards;
  friend bool operator==(const Collection&, const Collection&) = default;
};

struct Transfer {
  std::string collection;
  ShardId shard = 0;
  PeerId from = 0;
  PeerId to = 0;
  std::string method = "stream_records";
  bool sync = false;       // a replication: the source keeps its replica (Qdrant's `sync`)
  bool automatic = false;  // started by automatic recovery, within the transfer limits
  uint32_t restarts = 0;   // restart_transfer: each one starts the transfer over on its source
  // Why an automatic transfer runs: "recovery" (a Dead replica), or the planner's "rebalance",
  // "drain", "heal" (cluster/rebalance.h). Empty for the user's transfers.
  std::string reason;
  // How far it got, as its source last reported through consensus (kUpdateTransfer, every
  // TransferManager::kProgressEvery), so that every peer can show it, across restarts.
  // Times are the source's wall clock in ms since the epoch; all 0 until the first report.
  struct Progress {
    uint64_t started_ms = 0;
    uint64_t updated_ms = 0;
    uint64_t points_done = 0;
    uint64_t points_total = 0;
    uint64_t bytes_done = 0;
    uint64_t bytes_total = 0;  // snapshot: the snapshot's files
    uint64_t ops_done = 0;     // wal_delta, and snapshot after the files
    uint64_t ops_total = 0;
    friend bool operator==(const Progress&, const Progress&) = default;
  };
  Progress progress;
  friend bool operator==(const Transfer&, const Transfer&) = default;
};

// The method a transfer to `to` runs: `requested`, else the configured default, else auto:
// wal_delta when `to` already holds a replica of the shard (it may miss only a few ops; the
// driver falls back to a full method when it cannot), snapshot otherwise (docs/cluster.md).
std::string ChooseTransferMethod(const std::optional<std::string>& requested,
                                 const std::optional<std::string>& configured,
                                 bool to_holds_replica);

// Rebalancing (cluster/rebalance.h, docs/cluster.md "Rebalancing, draining and self-healing"):
// whether one runs, why, and how far it got. The moves themselves are not stored: the leader's
// planner derives them from the state each time it looks, so a new leader carries on where the
// old one stopped, and every peer can show the plan.
struct Rebalance {
  bool running = false;
  std::string reason;       // "peer 7 joined", "requested"
  uint64_t started_ms = 0;  // the proposer's wall clock (ms since the epoch) when it started
  uint64_t moves_done = 0;  // rebalance transfers finished since it started
  uint64_t moves_failed = 0;
  // Normal peers that joined since the leader last looked: cluster.rebalance.on_join decides on
  // the leader whether they start a rebalance (MetaOperation kSetRebalance clears them).
  std::set<PeerId> joined;
  friend bool operator==(const Rebalance&, const Rebalance&) = default;
};

// The verdict of one applied operation that carried a request id: what its proposer is told.
struct AppliedResult {
  std::string request_id;
  StatusCode code = StatusCode::kOk;
  std::string message;
  friend bool operator==(const AppliedResult&, const AppliedResult&) = default;
};

struct ClusterState {
  // How many verdicts recent_results keeps: a proposer whose entry reached its node inside a
  // Raft snapshot (it was behind) learns the verdict from here, if at most this many requests
  // were applied after its own.
  static constexpr size_t kRecentResults = 256;

  uint64_t applied_index = 0;  // log index of the last entry applied
  std::map<PeerId, Peer> peers;
  std::set<PeerId> removed_peers;  // never come back with the same id
  std::map<std::string, Collection> collections;
  std::map<std::string, std::string> aliases;   // alias -> collection name
  std::map<std::string, std::string> metadata;  // key -> JSON value text
  std::vector<Transfer> transfers;
  // Peers being drained (POST /cluster/peer/{id}/drain): their replicas move to other peers and
  // they receive none, until they are removed or the drain is cancelled.
  std::set<PeerId> draining;
  Rebalance rebalance;
  // The last kRecentResults verdicts, oldest first. Part of the state, so carried in snapshots.
  std::deque<AppliedResult> recent_results;

  // Appends a verdict, dropping the oldest beyond kRecentResults. Pure; deterministic.
  void RecordResult(const std::string& request_id, const Status& status);
  // The recorded verdict of `request_id`, if it is still among the recent ones.
  std::optional<Status> ResultOf(const std::string& request_id) const;

  bool HasCollection(const std::string& name) const { return collections.count(name) != 0; }
  bool HoldsReplicas(PeerId peer) const;
  // The peer registered with `uri`, other than `except`.
  std::optional<PeerId> PeerWithUri(const std::string& uri, PeerId except = 0) const;

  std::string ToJson() const;
  // Errors: kInvalidArgument naming what is malformed.
  static Result<ClusterState> FromJson(std::string_view json);

  friend bool operator==(const ClusterState&, const ClusterState&) = default;
};

}  // namespace qd::cluster
