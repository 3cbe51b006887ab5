// qdctl cluster status: the cluster as the answering node sees it (qdrantd.admin.Admin/
// ClusterStatus, the same data as REST GET /cluster): one row per peer with its URI, role, a
// leader marker, voter and reachability. Standalone mode prints "cluster mode disabled".
#include "qdctl/commands/commands.h"

namespace qd::qdctl {

void RegisterCluster(CLI::App& app, Context& context) {
  CLI::App* cluster = app.add_subcommand("cluster", "Cluster membership and consensus");
  cluster->require_subcommand(1);
  cluster->add_subcommand("status", "Show the peers, the leader and each peer's role")->callback([&context] {
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    Result<client::ClusterStatus> status = client->GetClusterStatus();
    if (!status.ok()) {
      context.Fail(status.status());
      return;
    }
    if (!status->enabled) {
      context.Print(Record{{"status", std::string("disabled")}});
      return;
    }
    if (context.format() == Format::kJson) {
      // One JSON array, one object per peer, typed (booleans, integers).
      std::vector<Record> peers;
      for (const auto& p : status->peers) {
        peers.push_back(Record{{"id", p.id},
                               {"uri", p.uri},
                               {"role", p.role.empty() ? Value(nullptr) : Value(p.role)},
                               {"leader", status->leader && *status->leader == p.id},
                               {"voter", p.is_voter},
                               {"reachable", p.reachable}});
      }
      context.PrintList(peers);
      return;
    }
    std::vector<Record> rows;
    for (const auto& p : status->peers) {
      bool leader = status->leader && *status->leader == p.id;
      rows.push_back(Record{{"id", p.id},
                            {"uri", p.uri},
                            {"role", p.role.empty() ? Value(nullptr) : Value(p.role)},
                            {"leader", std::string(leader ? "*" : "")},
                            {"voter", std::string(p.is_voter ? "yes" : "no")},
                            {"reachable", std::string(p.reachable ? "yes" : "no")}});
    }
    context.PrintList(rows);
  });
}

}  // namespace qd::qdctl
