// Reconciler: makes this node's collections and aliases match each ClusterState the state machine
// applies (STYLE.md §1: apply is pure, side effects live here). A collection in the state and not
// here is created with the shard count the state placed; one here and not in the state is
// dropped; a changed config is updated; aliases are brought in line.
//
// Today every node keeps every shard of a collection locally (the data plane that routes points
// to the replicas the placement names is a later issue), so what consensus guarantees is that
// collections, their configuration and aliases are the same on every node.
// Thread: loop only (it runs as a state-machine subscriber, before the proposer is answered, so a
// caller's next request finds the collection). Local creates do SQLite I/O on the loop: short,
// and bounded by the number of collections changed by one entry.
#pragma once

#include <memory>

#include "qdrantd/cluster/cluster_state.h"
#include "qdrantd/collection/collections.h"
#include "qdrantd/server/loop.h"

namespace qd::cluster {

class Reconciler {
 public:
  explicit Reconciler(collection::Collections& collections) : collections_(collections) {}
  void Reconcile(server::OnLoop, const std::shared_ptr<const ClusterState>& state);

 private:
  collection::Collections& collections_;
};

}  // namespace qd::cluster
