#include "qdrantd/cluster/rebalance.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "qdrantd/cluster/json_util.h"

namespace qd::cluster {
namespace {

// One shard as the plan sees it: in-flight transfers done, planned moves applied.
struct ShardView {
  const std::string* collection;
  ShardId shard;
  uint32_t replication_factor;
  std::map<PeerId, ReplicaState> replicas;
};

}  // namespace

std::string_view PlannedMoveKindName(PlannedMove::Kind kind) {
  switch (kind) {
    case PlannedMove::Kind::kMove:
      return "move";
    case PlannedMove::Kind::kReplicate:
      return "replicate";
    case PlannedMove::Kind::kDrop:
      return "drop";
  }
  return "move";
}

uint32_t ReplicationFactorOf(const Collection& c) {
  rapidjson::Document d;
  d.Parse(c.config_json.data(), c.config_json.size());
  if (d.HasParseError()) return 1;
  const rapidjson::Value* params = json::Member(d, "params");
  uint64_t rf = params ? json::U64(*params, "replication_factor", 1) : 1;
  return static_cast<uint32_t>(std::clamp<uint64_t>(rf, 1, 65536));
}

RebalancePlan PlanRebalance(const ClusterState& state, const std::set<PeerId>& unreachable,
                            const std::set<PeerId>& dead, bool balance) {
  RebalancePlan plan;
  auto normal = [&](PeerId p) {
    auto it = state.peers.find(p);
    return it != state.peers.end() && it->second.type == NodeType::kNormal;
  };
  auto leaving = [&](PeerId p) { return state.draining.count(p) != 0 || dead.count(p) != 0; };
  std::vector<PeerId> eligible;  // sorted by id (state.peers is)
  size_t staying = 0;            // Normal peers not leaving, reachable or not
  for (const auto& [id, peer] : state.peers) {
    if (!normal(id) || leaving(id)) continue;
    ++staying;
    if (!unreachable.count(id)) eligible.push_back(id);
  }

  std::vector<ShardView> shards;
  for (const auto& [name, c] : state.collections) {
    const uint32_t rf = ReplicationFactorOf(c);
    for (const auto& [sid, shard] : c.shards) {
      ShardView v{&name, sid, rf, shard.replicas};
      for (const Transfer& t : state.transfers) {
        if (t.collection != name || t.shard != sid) continue;
        if (!t.sync) v.replicas.erase(t.from);
        v.replicas[t.to] = ReplicaState::kActive;
      }
      shards.push_back(std::move(v));
    }
  }
  // Replicas per Normal peer, overall and per collection (balance prefers the collection that
  // is most uneven between the two peers, so each collection ends spread too).
  std::map<PeerId, uint64_t> count;
  std::map<std::pair<PeerId, const std::string*>, uint64_t> per_collection;
  for (const auto& [id, peer] : state.peers) {
    if (normal(id)) count[id] = 0;
  }
  for (const ShardView& v : shards) {
    for (const auto& [p, st] : v.replicas) {
      if (!count.count(p)) continue;
      ++count[p];
      ++per_collection[{p, v.collection}];
    }
  }
  plan.replicas_before = count;
  auto add = [&](ShardView& v, PlannedMove move) {
    if (move.kind != PlannedMove::Kind::kReplicate) {
      v.replicas.erase(move.from);
      if (count.count(move.from)) {
        --count[move.from];
        --per_collection[{move.from, v.collection}];
      }
    }
    if (move.kind != PlannedMove::Kind::kDrop) {
      v.replicas[move.to] = ReplicaState::kActive;
      ++count[move.to];
      ++per_collection[{move.to, v.collection}];
    }
    plan.moves.push_back(std::move(move));
  };
  auto name_of = [](const ShardView& v) {
    return "shard " + std::to_string(v.shard) + " of collection `" + *v.collection + "`";
  };

  // Drain and heal.
  for (ShardView& v : shards) {
    for (;;) {
      std::vector<PeerId> gone;
      for (const auto& [p, st] : v.replicas) {
        if (leaving(p)) gone.push_back(p);
      }
      if (gone.empty()) break;
      const bool draining = std::any_of(gone.begin(), gone.end(), [&](PeerId p) {
        return state.draining.count(p) && !dead.count(p);
      });
      const std::string reason = draining ? "drain" : "heal";
      const size_t target = std::min<size_t>(v.replication_factor, staying);
      size_t outside = 0, outside_active = 0;
      std::optional<PeerId> copy_from;  // an Active replica outside, reachable
      for (const auto& [p, st] : v.replicas) {
        if (leaving(p) || !normal(p)) continue;
        ++outside;
        if (st != ReplicaState::kActive) continue;
        ++outside_active;
        if (!unreachable.count(p)) copy_from = p;
      }
      if (outside < target) {
        PeerId to = 0;
        for (PeerId p : eligible) {
          if (v.replicas.count(p)) continue;
          if (to == 0 || count[p] < count[to]) to = p;
        }
        if (to == 0) {
          plan.stuck.push_back(name_of(v) + ": no peer left to take the replica of peer " +
                               std::to_string(gone.front()));
          break;
        }
        // A draining peer's Active replica moves (its data leaves with it); anything else is
        // copied from an Active replica outside.
        std::optional<PeerId> move_from;
        for (PeerId p : gone) {
          if (state.draining.count(p) && !dead.count(p) && !unreachable.count(p) &&
              v.replicas[p] == ReplicaState::kActive) {
            move_from = p;
            break;
          }
        }
        if (move_from) {
          add(v, {PlannedMove::Kind::kMove, *v.collection, v.shard, *move_from, to, reason});
        } else if (copy_from) {
          add(v, {PlannedMove::Kind::kReplicate, *v.collection, v.shard, *copy_from, to, reason});
        } else {
          plan.stuck.push_back(name_of(v) + ": no Active replica to copy from");
          break;
        }
        continue;
      }
      // Enough replicas outside: drop the leaving ones once those are Active, and never below
      // the replication factor (the peer can still be removed with force).
      if (outside_active < v.replication_factor) {
        if (outside >= target && target < v.replication_factor) {
          plan.stuck.push_back(name_of(v) + ": dropping the replica on peer " +
                               std::to_string(gone.front()) + " would leave fewer than its " +
                               std::to_string(v.replication_factor) +
                               " replicas (replication_factor); add a peer, or remove the peer "
                               "with force");
        }
        break;
      }
      add(v, {PlannedMove::Kind::kDrop, *v.collection, v.shard, gone.front(), 0, reason});
    }
  }

  // Balance: most loaded to least loaded, one replica at a time.
  if (balance && eligible.size() > 1) {
    for (size_t guard = 0; guard < 100000; ++guard) {
      std::vector<PeerId> order = eligible;
      std::stable_sort(order.begin(), order.end(),
                       [&](PeerId a, PeerId b) { return count[a] > count[b]; });
      bool moved = false;
      for (auto d = order.begin(); d != order.end() && !moved; ++d) {
        for (auto r = order.rbegin(); r != order.rend() && !moved; ++r) {
          if (count[*d] <= count[*r] + 1) break;
          ShardView* best = nullptr;
          int64_t best_score = 0;
          for (ShardView& v : shards) {
            auto it = v.replicas.find(*d);
            if (it == v.replicas.end() || it->second != ReplicaState::kActive ||
                v.replicas.count(*r)) {
              continue;
            }
            const int64_t score = static_cast<int64_t>(per_collection[{*d, v.collection}]) -
                                  static_cast<int64_t>(per_collection[{*r, v.collection}]);
            if (!best || score > best_score) {
              best = &v;
              best_score = score;
            }
          }
          if (!best) continue;
          add(*best,
              {PlannedMove::Kind::kMove, *best->collection, best->shard, *d, *r, "rebalance"});
          moved = true;
        }
      }
      if (!moved) break;
    }
  }
  plan.replicas_after = count;
  return plan;
}

RebalanceStatus DescribeRebalance(const ClusterState& state, const std::set<PeerId>& unreachable,
                                  uint64_t now_ms) {
  RebalanceStatus out;
  const Rebalance& r = state.rebalance;
  // Balancing moves are planned whether or not a rebalance runs: a dry run when none does.
  out.plan = PlanRebalance(state, unreachable, {}, /*balance=*/true);
  if (r.running) {
    for (const PlannedMove& m : out.plan.moves) out.moves_planned += m.reason == "rebalance";
  }
  for (const Transfer& t : state.transfers) {
    out.moves_in_flight += t.reason == "rebalance" ? 1 : 0;
    if (t.automatic) out.in_flight.push_back(t);
  }
  out.state = r.running ? "running" : r.started_ms ? "done" : "idle";
  out.reason = r.reason;
  out.moves_done = r.moves_done;
  out.moves_failed = r.moves_failed;
  out.moves_total = r.moves_done + r.moves_failed + out.moves_in_flight + out.moves_planned;
  out.started_ms = r.started_ms;
  if (r.running && r.moves_done > 0 && now_ms > r.started_ms) {
    const double per_move =
        static_cast<double>(now_ms - r.started_ms) / 1000.0 / static_cast<double>(r.moves_done);
    out.eta_sec = static_cast<uint64_t>(
        per_move * static_cast<double>(out.moves_in_flight + out.moves_planned) + 0.5);
  }
  out.draining.assign(state.draining.begin(), state.draining.end());
  return out;
}

Status CheckDrain(const ClusterState& state, PeerId peer, bool cancel) {
  auto it = state.peers.find(peer);
  if (it == state.peers.end()) {
    return Status::NotFound("Peer " + std::to_string(peer) + " does not exist");
  }
  if (cancel || it->second.type != NodeType::kNormal || !state.HoldsReplicas(peer)) {
    return Status::Ok();
  }
  for (const auto& [other, p] : state.peers) {
    if (other != peer && p.type == NodeType::kNormal && !state.draining.count(other)) {
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("Bad request: cannot drain peer " + std::to_string(peer) +
                                 ": no other Normal peer that is not draining can take its "
                                 "replicas");
}

}  // namespace qd::cluster
