// qdctl collection verify NAME [--repair] (qdctl/verify.h): one row per replica with its
// digest and verdict; exit 1 when replicas differ (or stay busy). --repair re-syncs each
// divergent replica from the good copy (drop, then replicate), waits for the transfers, and
// verifies again.
#include "qdctl/verify.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "qdctl/commands/commands.h"

namespace qd::qdctl {
namespace {

using Kind = ShardVerdict::Kind;

// Asks for the digests until no shard is busy (writes in flight), 5 tries a second apart.
Result<std::vector<client::ReplicaDigest>> Digests(client::Client& client, const std::string& name,
                                                   std::vector<ShardVerdict>& verdicts) {
  for (int attempt = 0;; ++attempt) {
    Result<std::vector<client::ReplicaDigest>> digests = client.VerifyCollection(name);
    if (!digests.ok()) return digests;
    verdicts = CompareReplicas(*digests);
    const bool busy = std::any_of(verdicts.begin(), verdicts.end(),
                                  [](const ShardVerdict& v) { return v.kind == Kind::kBusy; });
    if (!busy || attempt == 4) return digests;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

std::string VerdictOf(const ShardVerdict& v, const client::ReplicaDigest& r) {
  if (!r.error.empty()) return "error: " + r.error;
  if (std::find(v.not_compared.begin(), v.not_compared.end(), r.peer_id) != v.not_compared.end())
    return "not compared (" + r.state + ")";
  switch (v.kind) {
    case Kind::kConsistent:
      return "ok";
    case Kind::kUnchecked:
      return "only replica compared";
    case Kind::kBusy:
      return "busy (writes in flight)";
    case Kind::kDiffers:
      break;
  }
  return std::find(v.divergent.begin(), v.divergent.end(), r.peer_id) != v.divergent.end()
             ? "DIFFERS"
             : "ok (good copy)";
}

void Print(Context& context, const std::vector<client::ReplicaDigest>& digests,
           const std::vector<ShardVerdict>& verdicts) {
  std::vector<Record> rows;
  for (const client::ReplicaDigest& r : digests) {
    const ShardVerdict* v = nullptr;
    for (const ShardVerdict& x : verdicts) {
      if (x.shard == r.shard_id) v = &x;
    }
    rows.push_back(Record{{"shard", static_cast<uint64_t>(r.shard_id)},
                          {"peer", r.peer_id},
                          {"state", r.state},
                          {"op", r.error.empty() ? Value(r.last_op) : Value(nullptr)},
                          {"points", r.error.empty() ? Value(r.points) : Value(nullptr)},
                          {"digest", r.error.empty() ? Value(r.digest) : Value(nullptr)},
                          {"verdict", v ? VerdictOf(*v, r) : std::string("?")}});
  }
  context.PrintList(rows);
}

bool Bad(const std::vector<ShardVerdict>& verdicts) {
  return std::any_of(verdicts.begin(), verdicts.end(), [](const ShardVerdict& v) {
    return v.kind == Kind::kDiffers || v.kind == Kind::kBusy;
  });
}

// Drops each divergent replica and replicates the good copy onto its peer; waits (up to
// `wait`) until the shard has no transfer left.
Status Repair(client::Client& client, const std::string& name,
              const std::vector<ShardVerdict>& verdicts, std::chrono::seconds wait) {
  for (const ShardVerdict& v : verdicts) {
    if (v.kind != Kind::kDiffers) continue;
    for (uint64_t peer : v.divergent) {
      std::fprintf(stderr, "qdctl: shard %u: re-syncing the replica on peer %llu from peer %llu\n",
                   v.shard, static_cast<unsigned long long>(peer),
                   static_cast<unsigned long long>(*v.good_peer));
      client::ShardOperation drop;
      drop.kind = client::ShardOperation::Kind::kDrop;
      drop.collection = name;
      drop.shard_id = v.shard;
      drop.from_peer_id = peer;
      if (Status s = client.UpdateClusterSetup(drop); !s.ok()) return s;
      client::ShardOperation copy;
      copy.kind = client::ShardOperation::Kind::kReplicate;
      copy.collection = name;
      copy.shard_id = v.shard;
      copy.from_peer_id = *v.good_peer;
      copy.to_peer_id = peer;
      if (Status s = client.UpdateClusterSetup(copy); !s.ok()) return s;
      const auto deadline = std::chrono::steady_clock::now() + wait;
      for (;;) {
        Result<std::vector<client::TransferStatus>> transfers = client.ListTransfers(name);
        if (!transfers.ok()) return transfers.status();
        const bool running =
            std::any_of(transfers->begin(), transfers->end(),
                        [&](const client::TransferStatus& t) { return t.shard_id == v.shard; });
        if (!running) break;
        if (std::chrono::steady_clock::now() > deadline) {
          return Status::DeadlineExceeded("the transfer of shard " + std::to_string(v.shard) +
                                          " to peer " + std::to_string(peer) +
                                          " did not finish in time; see qdctl transfers");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

void RegisterCollectionVerify(CLI::App& collection_group, Context& context) {
  auto name = std::make_shared<std::string>();
  auto repair = std::make_shared<bool>(false);
  auto wait = std::make_shared<uint64_t>(300);
  CLI::App* cmd = collection_group.add_subcommand(
      "verify", "Compare the digests of every shard's replicas; exit 1 when they differ");
  cmd->add_option("name", *name, "Name of the collection")->required()->type_name("NAME");
  cmd->add_flag("--repair", *repair,
                "Re-sync each replica that differs from the good copy (drop, then replicate)");
  cmd->add_option("--repair-wait", *wait, "Seconds to wait for each re-sync transfer")
      ->capture_default_str();
  cmd->callback([&context, name, repair, wait] {
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    std::vector<ShardVerdict> verdicts;
    Result<std::vector<client::ReplicaDigest>> digests = Digests(*client, *name, verdicts);
    if (!digests.ok()) return context.Fail(digests.status());
    if (*repair && Bad(verdicts)) {
      if (Status s = Repair(*client, *name, verdicts, std::chrono::seconds(*wait)); !s.ok())
        return context.Fail(s);
      digests = Digests(*client, *name, verdicts);
      if (!digests.ok()) return context.Fail(digests.status());
    }
    Print(context, *digests, verdicts);
    if (Bad(verdicts)) context.ProblemsFound();
  });
}

}  // namespace qd::qdctl
