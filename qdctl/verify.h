// qdctl collection verify: compares the digests of every shard's replicas
// (qdrantd.admin.Admin/VerifyCollection) and says which replicas differ and which copy is the
// good one. Pure, so that each verdict is tested on its own (tests/unit/qdctl/verify_test.cc);
// commands/verify.cc asks the server, retries while writes move the replicas' ops apart, and
// with --repair drops each divergent replica and replicates the good one onto its peer.
//
// Only replicas that claim all the shard's data are compared: Active ones (a Dead or Partial
// replica is known to be incomplete; transfers and recovery handle it). Replicas at different
// ops cannot be compared (writes in flight): the shard is "busy". Among replicas at one op,
// the digest most of them share is the good one; on a tie, the one of the highest peer id (the
// shard's ordering replica, whose order every other replica follows).
// Thread: any.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "libshared/client.h"

namespace qd::qdctl {

struct ShardVerdict {
  uint32_t shard = 0;
  enum class Kind { kConsistent, kDiffers, kBusy, kUnchecked };
  Kind kind = Kind::kConsistent;
  std::optional<uint64_t> good_peer;   // kDiffers: a peer holding the good copy
  std::vector<uint64_t> divergent;     // kDiffers: peers whose replica is not the good copy
  std::vector<uint64_t> not_compared;  // not Active, or no digest (an error)
};

// One verdict per shard present in `replicas`, by shard id. kUnchecked: fewer than two
// replicas could be compared.
std::vector<ShardVerdict> CompareReplicas(const std::vector<client::ReplicaDigest>& replicas);

}  // namespace qd::qdctl
