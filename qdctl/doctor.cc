#include "qdctl/doctor.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace qd::qdctl {
namespace {

using Severity = Finding::Severity;

std::string Id(uint64_t id) { return std::to_string(id); }

// The shell-safe spelling of a collection name in a suggested command.
std::string Arg(const std::string& name) {
  const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
  if (plain) return name;
  std::string out = "'";
  for (char c : name) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class Doctor {
 public:
  explicit Doctor(const DoctorInput& in) : in_(in) {
    for (const auto& p : in.cluster.peers) {
      peers_[p.id] = &p;
      if (!p.reachable) unreachable_.insert(p.id);
    }
    for (const auto& c : in.collections) {
      for (const auto& r : c.layout.replicas) ++replicas_of_[r.peer_id];
    }
  }

  std::vector<Finding> Run() {
    Consensus();
    for (const auto& c : in_.collections) Collection(c);
    Peers();
    Transfers();
    Rebalance();
    std::stable_sort(out_.begin(), out_.end(),
                     [](const Finding& a, const Finding& b) { return a.severity < b.severity; });
    return std::move(out_);
  }

 private:
  void Add(Severity severity, std::string subject, std::string problem, std::string fix) {
    out_.push_back({severity, std::move(subject), std::move(problem), std::move(fix)});
  }

  bool Reachable(uint64_t peer) const { return !unreachable_.count(peer) && peers_.count(peer); }

  // How to bring back a peer: start it; if it is gone for good, remove it (its replicas go
  // with it, so --force when it holds any).
  std::string BringBack(uint64_t peer) const {
    auto it = peers_.find(peer);
    const std::string where = it != peers_.end() ? " (" + it->second->uri + ")" : "";
    auto held = replicas_of_.find(peer);
    const bool holds = held != replicas_of_.end() && held->second > 0;
    return "start qdrantd on peer " + Id(peer) + where +
           "; if it is gone for good: qdctl peer remove " + Id(peer) + (holds ? " --force" : "");
  }

  void Consensus() {
    if (in_.cluster.leader) return;
    size_t reachable = 0;
    for (const auto& p : in_.cluster.peers) reachable += p.reachable ? 1 : 0;
    Add(Severity::kCritical, "cluster",
        "no leader: consensus has no quorum (" + Id(reachable) + " of " +
            Id(in_.cluster.peers.size()) +
            " peers answer); no collection or shard change can be made",
        "start the stopped peers: a majority of the voters must run");
  }

  // The peer that should send a new copy of `shard`: a reachable Active replica, the highest
  // id first (the shard's ordering replica).
  std::optional<uint64_t> SourceOf(
      const std::vector<const client::CollectionCluster::Replica*>& rs) {
    std::optional<uint64_t> best;
    for (const auto* r : rs) {
      if (r->state == "Active" && Reachable(r->peer_id))
        best = std::max(best.value_or(0), r->peer_id);
    }
    return best;
  }

  // A peer to hold one more replica of a shard: reachable, a Normal node, not holding the shard,
  // with the fewest replicas overall (then the lowest id).
  std::optional<uint64_t> TargetFor(const std::set<uint64_t>& holders) const {
    std::optional<uint64_t> best;
    size_t best_count = 0;
    for (const auto& p : in_.cluster.peers) {
      if (!p.reachable || holders.count(p.id) || p.node_type == "Listener") continue;
      auto it = replicas_of_.find(p.id);
      const size_t count = it == replicas_of_.end() ? 0 : it->second;
      if (!best || count < best_count) {
        best = p.id;
        best_count = count;
      }
    }
    return best;
  }

  bool InTransfer(const std::string& collection, uint32_t shard, uint64_t peer) const {
    for (const auto& t : in_.transfers) {
      if (t.collection == collection && t.shard_id == shard &&
          (t.to_peer_id == peer || t.from_peer_id == peer)) {
        return true;
      }
    }
    return false;
  }

  void Collection(const DoctorInput::Collection& c) {
    std::map<uint32_t, std::vector<const client::CollectionCluster::Replica*>> shards;
    for (uint32_t s = 0; s < c.layout.shard_count; ++s) shards[s];
    for (const auto& r : c.layout.replicas) shards[r.shard_id].push_back(&r);
    for (const auto& [shard, replicas] : shards) {
      const std::string subject = "collection " + c.name + ", shard " + Id(shard);
      std::set<uint64_t> holders;
      size_t active = 0, active_reachable = 0;
      for (const auto* r : replicas) {
        holders.insert(r->peer_id);
        if (r->state != "Active") continue;
        ++active;
        if (Reachable(r->peer_id)) ++active_reachable;
      }
      if (active == 0) {
        Add(Severity::kCritical, subject, "no Active replica: its points cannot be read or written",
            "start the peers that held it; if none comes back: recover the collection from a "
            "snapshot (qdrant PUT /collections/" +
                c.name + "/snapshots/recover)");
        continue;
      }
      if (active_reachable == 0) {
        std::string on;
        uint64_t first = 0;
        for (const auto* r : replicas) {
          if (r->state != "Active") continue;
          on += (on.empty() ? "" : ", ") + Id(r->peer_id);
          if (!first) first = r->peer_id;
        }
        Add(Severity::kCritical, subject,
            "its only Active replicas are on peers that do not answer (" + on + ")",
            "start qdrantd on peer " + Id(first));
        continue;
      }
      const std::optional<uint64_t> source = SourceOf(replicas);
      for (const auto* r : replicas) {
        if (r->state != "Dead" || InTransfer(c.name, shard, r->peer_id)) continue;
        std::string fix;
        if (!Reachable(r->peer_id)) {
          fix = BringBack(r->peer_id);
        } else {
          fix = "qdctl shard replicate " + Arg(c.name) + " " + Id(shard) + " --from " +
                Id(*source) + " --to " + Id(r->peer_id);
        }
        Add(Severity::kWarning, subject,
            "the replica on peer " + Id(r->peer_id) +
                " is Dead and no transfer is recovering it (automatic recovery starts one when "
                "its peer answers and transfer limits allow)",
            fix);
      }
      size_t recovering = 0;  // transfers that will add an Active replica
      for (const auto& t : in_.transfers) {
        if (t.collection == c.name && t.shard_id == shard && t.sync) ++recovering;
      }
      size_t dead = 0;
      for (const auto* r : replicas) dead += r->state == "Dead" ? 1 : 0;
      if (active + recovering < c.replication_factor && active + dead < c.replication_factor) {
        std::optional<uint64_t> target = TargetFor(holders);
        Add(Severity::kWarning, subject,
            Id(active) + " Active replica(s), replication_factor is " + Id(c.replication_factor),
            target ? "qdctl shard replicate " + Arg(c.name) + " " + Id(shard) + " --from " +
                         Id(*source) + " --to " + Id(*target)
                   : std::string("add a peer (qdrantd --bootstrap ...): every reachable peer "
                                 "already holds this shard"));
      }
    }
  }

  void Peers() {
    for (const auto& p : in_.cluster.peers) {
      const std::string subject = "peer " + Id(p.id);
      if (!p.reachable) {
        Add(Severity::kWarning, subject, "does not answer (" + p.uri + ")", BringBack(p.id));
        continue;
      }
      if (p.lag && *p.lag >= in_.lag_warning) {
        Add(Severity::kWarning, subject, Id(*p.lag) + " consensus entries behind the leader",
            "look at its disk and network (journalctl -u qdrantd on " + p.uri +
                "); it catches up by itself once they keep pace");
      }
    }
  }

  void Transfers() {
    for (const auto& t : in_.transfers) {
      if (t.updated_at_ms == 0 || in_.now_ms <= t.updated_at_ms) continue;
      const uint64_t silent_s = (in_.now_ms - t.updated_at_ms) / 1000;
      if (silent_s < in_.stuck_after_s) continue;
      const std::string route = Arg(t.collection) + " " + Id(t.shard_id) + " --from " +
                                Id(t.from_peer_id) + " --to " + Id(t.to_peer_id);
      Add(Severity::kWarning,
          "transfer " + t.collection + "/" + Id(t.shard_id) + " " + Id(t.from_peer_id) + "->" +
              Id(t.to_peer_id),
          "no progress reported for " + Id(silent_s) + " s (" + Id(t.points_done) + " of " +
              Id(t.points_total) + " points sent)",
          "qdctl shard restart " + route + " --method stream_records   (or: qdctl shard abort " +
              route + ")");
    }
  }

  void Rebalance() {
    if (!in_.rebalance) return;
    const client::RebalanceInfo& r = *in_.rebalance;
    for (const std::string& stuck : r.stuck) {
      Add(Severity::kWarning, "rebalance", "a move cannot proceed: " + stuck,
          "qdctl rebalance plan   (then bring back the peers it names, or qdctl peer drain "
          "--cancel)");
    }
    if (r.state == "running") return;
    bool uneven = false;
    for (const auto& m : r.plan) uneven |= m.reason == "rebalance";
    if (!uneven) return;
    std::string counts;
    for (const auto& p : r.replicas) {
      counts +=
          (counts.empty() ? "" : ", ") + std::string("peer ") + Id(p.peer_id) + ": " + Id(p.now);
    }
    Add(Severity::kWarning, "cluster",
        "uneven replica counts (" + counts + ") and no rebalance runs",
        "qdctl rebalance plan; qdctl rebalance apply");
  }

  const DoctorInput& in_;
  std::map<uint64_t, const client::PeerStatus*> peers_;
  std::set<uint64_t> unreachable_;
  std::map<uint64_t, size_t> replicas_of_;
  std::vector<Finding> out_;
};

}  // namespace

std::string SeverityName(Finding::Severity severity) {
  return severity == Finding::Severity::kCritical ? "critical" : "warning";
}

std::vector<Finding> Diagnose(const DoctorInput& input) { return Doctor(input).Run(); }

}  // namespace qd::qdctl
