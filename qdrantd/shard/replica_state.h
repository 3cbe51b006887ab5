// ReplicaState: what consensus says of one replica of a shard (Qdrant's ReplicaState,
// lib/collection/src/shards/replica_set/replica_state.rs), and the pure rules the data plane
// reads from it: who receives writes, who answers reads, who may order a shard's writes.
// cluster/ stores the states; collection/ routes by them. Thread: any (values, pure functions).
#pragma once

#include <cstdint>
#include <string_view>

namespace qd::shard {

enum class ReplicaState : uint8_t {
  kActive,
  kDead,
  kPartial,
  kInitializing,
  kListener,
  kPartialSnapshot,
  kRecovery,
  kResharding,
  kActiveRead,
  kManualRecovery,
};

// Qdrant's spelling of the state, as GET /collections/{c}/cluster shows it.
constexpr std::string_view StateName(ReplicaState s) {
  switch (s) {
    case ReplicaState::kActive:
      return "Active";
    case ReplicaState::kDead:
      return "Dead";
    case ReplicaState::kPartial:
      return "Partial";
    case ReplicaState::kInitializing:
      return "Initializing";
    case ReplicaState::kListener:
      return "Listener";
    case ReplicaState::kPartialSnapshot:
      return "PartialSnapshot";
    case ReplicaState::kRecovery:
      return "Recovery";
    case ReplicaState::kResharding:
      return "Resharding";
    case ReplicaState::kActiveRead:
      return "ActiveRead";
    case ReplicaState::kManualRecovery:
      return "ManualRecovery";
  }
  return "Dead";
}

// Every live replica receives every write: Active, one being filled (Partial, PartialSnapshot,
// Recovery, Resharding, ActiveRead), a new one (Initializing) and a Listener (compat.md §5.2).
// Dead and ManualRecovery replicas receive nothing until a transfer recovers them.
constexpr bool AcceptsWrites(ReplicaState s) {
  return s != ReplicaState::kDead && s != ReplicaState::kManualRecovery;
}

// Reads go only to replicas that hold everything: Active (and ActiveRead, Qdrant's resharding
// state that serves reads). Partial, Listener and Dead replicas never answer reads (§5.4, §5.5).
constexpr bool AcceptsReads(ReplicaState s) {
  return s == ReplicaState::kActive || s == ReplicaState::kActiveRead;
}

// A replica that holds every acknowledged write: a coordinator that (in its possibly newer view
// of the cluster state) picked it to order writes or answer reads is served even while this
// peer has not applied the last state change yet (Initializing -> Active, Listener -> Active).
constexpr bool HoldsAllWrites(ReplicaState s) {
  return s == ReplicaState::kActive || s == ReplicaState::kInitializing ||
         s == ReplicaState::kListener || s == ReplicaState::kActiveRead;
}

// The ordering replica of a shard (the one that numbers its writes) is an Active one.
constexpr bool MayOrder(ReplicaState s) { return s == ReplicaState::kActive; }

}  // namespace qd::shard
