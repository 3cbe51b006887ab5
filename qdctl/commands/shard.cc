// qdctl shard replicate|move|abort|drop|restart and qdctl collection cluster: Qdrant's shard
// operations (POST /collections/{name}/cluster, compat.md §6.5) over its public gRPC
// qdrant.Collections/UpdateCollectionClusterSetup, and the collection's replicas as a shards x
// peers matrix (qdrant.Collections/CollectionClusterInfo). Both work against Qdrant too.
#include <map>
#include <set>

#include "qdctl/commands/commands.h"

namespace qd::qdctl {
namespace {

struct ShardFlags {
  std::string collection;
  uint32_t shard = 0;
  uint64_t from = 0;
  uint64_t to = 0;
  std::string method;
};

void AddShardCommand(CLI::App& group, Context& context, const char* name, const char* help,
                     client::ShardOperation::Kind kind) {
  auto flags = std::make_shared<ShardFlags>();
  CLI::App* cmd = group.add_subcommand(name, help);
  cmd->add_option("COLLECTION", flags->collection, "The collection")->required();
  cmd->add_option("SHARD", flags->shard, "The shard id")->required();
  const bool drop = kind == client::ShardOperation::Kind::kDrop;
  if (drop) {
    cmd->add_option("--peer", flags->from, "The peer whose replica is dropped")->required();
  } else {
    cmd->add_option("--from", flags->from, "The peer sending the shard")->required();
    cmd->add_option("--to", flags->to, "The peer receiving it")->required();
  }
  if (kind == client::ShardOperation::Kind::kRestart) {
    cmd->add_option("--method", flags->method, "stream_records, snapshot or wal_delta")->required();
  } else if (kind != client::ShardOperation::Kind::kAbort && !drop) {
    cmd->add_option("--method", flags->method,
                    "stream_records, snapshot or wal_delta (default: the server chooses)");
  }
  cmd->callback([&context, flags, kind, name] {
    client::ShardOperation op{
        .kind = kind,
        .collection = flags->collection,
        .shard_id = flags->shard,
        .from_peer_id = flags->from,
        .to_peer_id = flags->to,
        .method = flags->method.empty() ? std::nullopt : std::optional<std::string>(flags->method)};
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    if (Status s = client->UpdateClusterSetup(op); !s.ok()) {
      context.Fail(s);
      return;
    }
    Record r{{"operation", std::string(name)},
             {"collection", flags->collection},
             {"shard", static_cast<uint64_t>(flags->shard)}};
    if (kind == client::ShardOperation::Kind::kDrop) {
      r.push_back({"peer", flags->from});
    } else {
      r.push_back({"from", flags->from});
      r.push_back({"to", flags->to});
    }
    context.Print(r);
  });
}

}  // namespace

void RegisterShard(CLI::App& app, Context& context) {
  CLI::App* shard = app.add_subcommand("shard", "Replicate, move and drop shard replicas");
  shard->require_subcommand(1);
  using Kind = client::ShardOperation::Kind;
  AddShardCommand(*shard, context, "replicate", "Copy a shard to another peer", Kind::kReplicate);
  AddShardCommand(*shard, context, "move", "Move a shard to another peer", Kind::kMove);
  AddShardCommand(*shard, context, "abort", "Abort a running transfer", Kind::kAbort);
  AddShardCommand(*shard, context, "drop", "Drop a peer's replica of a shard", Kind::kDrop);
  AddShardCommand(*shard, context, "restart", "Start a running transfer over with a method",
                  Kind::kRestart);
}

void RegisterCollectionCluster(CLI::App& collection_group, Context& context) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = collection_group.add_subcommand(
      "cluster",
      "The collection's replicas: shards x peers (qdrant.Collections/CollectionClusterInfo)");
  cmd->add_option("name", *name, "Name of the collection")->required()->type_name("NAME");
  cmd->callback([&context, name] {
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    Result<client::CollectionCluster> c = client->GetCollectionCluster(*name);
    if (!c.ok()) {
      context.Fail(c.status());
      return;
    }
    std::map<uint64_t, std::string> in_transfer;  // shard x peer -> "->" or "<-"
    auto cell_key = [](uint32_t shard, uint64_t peer) { return (uint64_t{shard} << 32) ^ peer; };
    for (const auto& t : c->transfers) {
      in_transfer[cell_key(t.shard_id, t.from)] = " ->" + std::to_string(t.to);
      in_transfer[cell_key(t.shard_id, t.to)] = " <-" + std::to_string(t.from);
    }
    if (context.format() == Format::kJson) {
      std::vector<Record> rows;
      for (const auto& r : c->replicas) {
        rows.push_back(
            Record{{"shard", static_cast<uint64_t>(r.shard_id)},
                   {"peer", r.peer_id},
                   {"state", r.state},
                   {"points", r.points_count ? Value(*r.points_count) : Value(nullptr)}});
      }
      context.PrintList(rows);
      return;
    }
    // One row per shard, one column per peer: the replica's state, its points where the
    // answering peer knows them, and the transfer it takes part in.
    std::set<uint64_t> peers;
    std::map<uint32_t, std::map<uint64_t, std::string>> cells;
    for (const auto& r : c->replicas) {
      peers.insert(r.peer_id);
      std::string cell = r.state;
      if (r.points_count) cell += " (" + std::to_string(*r.points_count) + ")";
      auto t = in_transfer.find(cell_key(r.shard_id, r.peer_id));
      if (t != in_transfer.end()) cell += t->second;
      cells[r.shard_id][r.peer_id] = cell;
    }
    std::vector<std::vector<std::string>> table{{"SHARD"}};
    for (uint64_t p : peers) {
      table[0].push_back("PEER " + std::to_string(p) + (p == c->peer_id ? "*" : ""));
    }
    for (const auto& [shard, row] : cells) {
      std::vector<std::string> line{std::to_string(shard)};
      for (uint64_t p : peers) {
        auto it = row.find(p);
        line.push_back(it == row.end() ? "-" : it->second);
      }
      table.push_back(std::move(line));
    }
    std::fputs(AlignedTable(table).c_str(), stdout);
  });
}

}  // namespace qd::qdctl
