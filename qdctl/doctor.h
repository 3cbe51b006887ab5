// qdctl cluster doctor: what is wrong with a cluster and the exact command that fixes each
// finding. Diagnose is a pure function of what the server answered (cluster status with every
// peer's own standing, each collection's replicas and replication factor, the transfers with
// their last progress report, the rebalance status), so that each rule is tested on its own
// (tests/unit/qdctl/doctor_test.cc); commands/cluster.cc gathers the input over gRPC.
//
// The rules, most severe first (man/qdctl.1 lists them too):
//   critical  no leader; a shard with no Active replica, or only on unreachable peers
//   warning   a peer that does not answer; a Dead replica no transfer is recovering; a shard
//             with fewer Active replicas than its replication factor; a peer lagging behind
//             the leader; a transfer whose source reported no progress for `stuck_after_s`;
//             a rebalance that reports stuck moves; uneven replica counts while no rebalance
//             runs
// Thread: any.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libshared/client.h"

namespace qd::qdctl {

struct DoctorInput {
  client::ClusterStatus cluster;
  struct Collection {
    std::string name;
    uint32_t replication_factor = 1;
    client::CollectionCluster layout;
  };
  std::vector<Collection> collections;
  std::vector<client::TransferStatus> transfers;
  std::optional<client::RebalanceInfo> rebalance;
  uint64_t now_ms = 0;          // wall clock, ms since the epoch (transfers report in it)
  uint64_t stuck_after_s = 60;  // a transfer with no progress report for this long is stuck
  uint64_t lag_warning = 100;   // Raft entries behind the leader
};

struct Finding {
  enum class Severity { kCritical, kWarning };
  Severity severity = Severity::kWarning;
  std::string subject;  // "peer 7", "collection c, shard 2", "transfer c/2 7->9"
  std::string problem;
  std::string fix;  // a command line (or what to do), never empty
};

std::string SeverityName(Finding::Severity severity);  // "critical", "warning"

// The findings, critical ones first, then in the order the rules above are listed.
std::vector<Finding> Diagnose(const DoctorInput& input);

}  // namespace qd::qdctl
