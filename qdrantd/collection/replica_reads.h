// Read consistency (Qdrant's `consistency` query parameter and gRPC `read_consistency`): how many
// replicas of each shard one read asks, and how their answers become one (docs/cluster.md "Read
// consistency"). A plain value and two pure functions, so the rules are tested without peers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/peer_link.h"

namespace qd::collection {

struct ReadConsistency {
  // kFactor: `factor` replicas (1, the default: one replica, the local one first).
  enum class Kind : uint8_t { kFactor = 0, kAll = 1, kMajority = 2, kQuorum = 3 };
  Kind kind = Kind::kFactor;
  uint64_t factor = 1;

  bool single() const { return kind == Kind::kFactor && factor <= 1; }
  std::string ToString() const;  // as the API spells it: "all", "majority", "quorum", "2"
};

// "all", "majority", "quorum" or a positive integer. Errors: kInvalidArgument naming the value.
Result<ReadConsistency> ParseReadConsistency(std::string_view text);

// What a read with `consistency` needs of a shard with `readable` replicas that accept reads:
// how many must answer, and whether a record is kept only when every answer has it (else when
// more than half of them do). Qdrant's rules: all = every replica, kept when all have it;
// majority = every replica, kept when most have it; quorum = readable/2 + 1, kept when all have
// it; N = min(N, readable), kept when all have it.
struct ReadQuorum {
  size_t required = 1;
  bool keep_all = true;
};
ReadQuorum QuorumFor(const ReadConsistency& consistency, size_t readable);

// One answer from the answers of several replicas of one shard to `read`, the same whichever
// peer coordinates: `answers` must come in the order of the replicas' peer ids. A record is
// kept per ReadQuorum::keep_all; of its copies the one with the highest version wins, then the
// one from the lowest peer id. The result is in the read's order (search: distance, then id;
// scroll and retrieve: id; ordered scroll: the order value). Counts: keep_all takes the
// smallest, else the median (the lower one of an even number).
ShardReadResult ResolveAnswers(const ShardRead& read, std::vector<ShardReadResult> answers,
                               bool keep_all);

}  // namespace qd::collection
