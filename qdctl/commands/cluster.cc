// qdctl cluster status: the cluster as the answering node sees it (qdrantd.admin.Admin/
// ClusterStatus): one row per peer with its URI, role, a leader marker, node type, voter,
// reachability, and its own term, commit and applied index and its lag behind the leader (the
// answering node asks every peer; "-" for one that did not answer within 1 s). Standalone mode
// prints "cluster mode disabled".
#include <chrono>
#include <cstdio>
#include <memory>

#include "qdctl/commands/commands.h"
#include "qdctl/doctor.h"

namespace qd::qdctl {
namespace {

// qdctl cluster doctor (doctor.h): gathers what the server knows, prints the findings, exits 1
// when there are any.
void Doctor(Context& context, uint64_t stuck_after, uint64_t lag) {
  std::unique_ptr<client::Client> client = context.Connect();
  if (!client) return;
  DoctorInput in;
  in.stuck_after_s = stuck_after;
  in.lag_warning = lag;
  Result<client::ClusterStatus> status = client->GetClusterStatus();
  if (!status.ok()) return context.Fail(status.status());
  if (!status->enabled) {
    context.Print(Record{{"status", std::string("cluster mode disabled: nothing to check")}});
    return;
  }
  in.cluster = std::move(*status);
  Result<std::vector<std::string>> names = client->ListCollections();
  if (!names.ok()) return context.Fail(names.status());
  for (const std::string& name : *names) {
    Result<client::CollectionInfo> info = client->GetCollection(name);
    Result<client::CollectionCluster> layout = client->GetCollectionCluster(name);
    // Deleted meanwhile: nothing to check.
    if (!info.ok() && info.status().code() == StatusCode::kNotFound) continue;
    if (!layout.ok() && layout.status().code() == StatusCode::kNotFound) continue;
    if (!info.ok()) return context.Fail(info.status());
    if (!layout.ok()) return context.Fail(layout.status());
    in.collections.push_back({name, info->replication_factor.value_or(1), std::move(*layout)});
  }
  Result<std::vector<client::TransferStatus>> transfers = client->ListTransfers(std::nullopt);
  if (!transfers.ok()) return context.Fail(transfers.status());
  in.transfers = std::move(*transfers);
  Result<client::RebalanceInfo> rebalance = client->GetRebalance();
  if (!rebalance.ok()) return context.Fail(rebalance.status());
  in.rebalance = std::move(*rebalance);
  in.now_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());

  const std::vector<Finding> findings = Diagnose(in);
  if (!findings.empty()) context.ProblemsFound();
  if (context.format() == Format::kJson) {
    std::vector<Record> rows;
    for (const Finding& f : findings) {
      rows.push_back(Record{{"severity", SeverityName(f.severity)},
                            {"subject", f.subject},
                            {"problem", f.problem},
                            {"fix", f.fix}});
    }
    context.PrintList(rows);
    return;
  }
  if (findings.empty()) {
    std::printf("healthy: %zu peers, %zu collections, %zu transfers running: no problems found\n",
                in.cluster.peers.size(), in.collections.size(), in.transfers.size());
    return;
  }
  // One block per finding: long problems and commands read better than in a table.
  for (const Finding& f : findings) {
    std::printf("%-8s  %s: %s\n          fix: %s\n", SeverityName(f.severity).c_str(),
                f.subject.c_str(), f.problem.c_str(), f.fix.c_str());
  }
  std::printf("%zu problem(s) found\n", findings.size());
}

}  // namespace

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
    auto number = [](const std::optional<uint64_t>& v) { return v ? Value(*v) : Value(nullptr); };
    const bool json = context.format() == Format::kJson;
    // JSON: one array, one typed object per peer; table: yes/no and a leader marker.
    std::vector<Record> rows;
    for (const auto& p : status->peers) {
      const bool leader = status->leader && *status->leader == p.id;
      rows.push_back(Record{
          {"id", p.id},
          {"uri", p.uri},
          {"role", p.role.empty() ? Value(nullptr) : Value(p.role)},
          {"leader", json ? Value(leader) : Value(std::string(leader ? "*" : ""))},
          {"type", p.node_type.empty() ? Value(nullptr) : Value(p.node_type)},
          {"voter", json ? Value(p.is_voter) : Value(std::string(p.is_voter ? "yes" : "no"))},
          {"reachable", json ? Value(p.reachable) : Value(std::string(p.reachable ? "yes" : "no"))},
          {"term", number(p.term)},
          {"commit", number(p.commit)},
          {"applied", number(p.applied)},
          {"lag", number(p.lag)}});
    }
    context.PrintList(rows);
  });

  auto stuck_after = std::make_shared<uint64_t>(60);
  auto lag = std::make_shared<uint64_t>(100);
  CLI::App* doctor = cluster->add_subcommand(
      "doctor", "Check every peer, collection and transfer; print each problem and its fix");
  doctor
      ->add_option("--stuck-after", *stuck_after,
                   "Seconds without a progress report after which a transfer is stuck")
      ->capture_default_str();
  doctor->add_option("--lag", *lag, "Consensus entries behind the leader that make a peer lag")
      ->capture_default_str();
  doctor->callback([&context, stuck_after, lag] { Doctor(context, *stuck_after, *lag); });
}

}  // namespace qd::qdctl
