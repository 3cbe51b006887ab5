// qdctl peer list: every peer with its type, reachability, replicas held (transfers in flight
// counted as done) and whether it is draining (ClusterStatus and GetRebalance).
// qdctl peer remove ID [--force]: removes a peer from the cluster through consensus
// (qdrantd.admin.Admin/RemovePeer, REST DELETE /cluster/peer/{id}). Without --force the server
// refuses while the peer still holds shard replicas.
// qdctl peer drain ID [--cancel] [--wait]: moves its replicas to other peers first
// (qdrantd.admin.Admin/DrainPeer, REST POST /cluster/peer/{id}/drain).
#include <algorithm>
#include <chrono>
#include <thread>

#include "qdctl/commands/commands.h"

namespace qd::qdctl {

void RegisterPeer(CLI::App& app, Context& context) {
  CLI::App* peer = app.add_subcommand("peer", "Cluster peers");
  peer->require_subcommand(1);
  peer->add_subcommand("list", "The peers with their type, reachability, replicas and drains")
      ->callback([&context] {
        std::unique_ptr<client::Client> client = context.Connect();
        if (!client) return;
        Result<client::ClusterStatus> status = client->GetClusterStatus();
        if (!status.ok()) return context.Fail(status.status());
        if (!status->enabled) {
          context.Print(Record{{"status", std::string("disabled")}});
          return;
        }
        Result<client::RebalanceInfo> r = client->GetRebalance();
        if (!r.ok()) return context.Fail(r.status());
        const bool json = context.format() == Format::kJson;
        std::vector<Record> rows;
        for (const client::PeerStatus& p : status->peers) {
          std::optional<uint64_t> replicas;
          for (const auto& c : r->replicas) {
            if (c.peer_id == p.id) replicas = c.now;
          }
          const bool draining =
              std::find(r->draining.begin(), r->draining.end(), p.id) != r->draining.end();
          rows.push_back(Record{
              {"id", p.id},
              {"uri", p.uri},
              {"type", p.node_type.empty() ? Value(nullptr) : Value(p.node_type)},
              {"reachable",
               json ? Value(p.reachable) : Value(std::string(p.reachable ? "yes" : "no"))},
              {"replicas", replicas ? Value(*replicas) : Value(nullptr)},
              {"draining", json ? Value(draining) : Value(std::string(draining ? "yes" : "no"))}});
        }
        context.PrintList(rows);
      });
  CLI::App* remove = peer->add_subcommand("remove", "Remove a peer from the cluster");
  auto id = std::make_shared<uint64_t>(0);
  auto force = std::make_shared<bool>(false);
  remove->add_option("ID", *id, "The peer id (see qdctl cluster status)")->required();
  remove->add_flag("--force", *force, "Remove it even if it still holds shard replicas (they are dropped)");
  remove->callback([&context, id, force] {
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    if (Status s = client->RemovePeer(*id, *force); !s.ok()) {
      context.Fail(s);
      return;
    }
    context.Print(Record{{"removed", *id}});
  });

  CLI::App* drain = peer->add_subcommand(
      "drain", "Move every replica off a peer (then it can be removed without --force)");
  auto drain_id = std::make_shared<uint64_t>(0);
  auto cancel = std::make_shared<bool>(false);
  auto wait = std::make_shared<bool>(false);
  drain->add_option("ID", *drain_id, "The peer id (see qdctl cluster status)")->required();
  drain->add_flag("--cancel", *cancel, "Stop draining it (replicas already moved stay moved)");
  drain->add_flag("--wait", *wait, "Print progress until the peer holds no replica");
  drain->callback([&context, drain_id, cancel, wait] {
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    if (Status s = client->DrainPeer(*drain_id, *cancel); !s.ok()) {
      context.Fail(s);
      return;
    }
    uint64_t left = 0;
    std::string last;
    for (;;) {
      Result<client::RebalanceInfo> r = client->GetRebalance();
      if (!r.ok()) {
        context.Fail(r.status());
        return;
      }
      left = 0;
      for (const auto& p : r->replicas) {
        if (p.peer_id == *drain_id) left = p.now;
      }
      uint64_t moving = 0;
      for (const auto& t : r->in_flight) moving += t.from_peer_id == *drain_id ? 1 : 0;
      if (!*wait || *cancel || (left == 0 && moving == 0)) break;
      std::string line = "peer " + std::to_string(*drain_id) + ": " + std::to_string(left) +
                         " replicas left, " + std::to_string(moving) + " moving";
      if (line != last) std::fprintf(stderr, "%s\n", line.c_str());
      last = line;
      // A drain that cannot finish says why instead of waiting for ever.
      if (moving == 0 && !r->stuck.empty() && r->in_flight.empty()) {
        context.Fail(Status::FailedPrecondition("the drain of peer " + std::to_string(*drain_id) +
                                                " cannot finish: " + r->stuck.front()));
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    context.Print(
        Record{{*cancel ? "drain_cancelled" : "draining", *drain_id}, {"replicas_left", left}});
  });
}

}  // namespace qd::qdctl
