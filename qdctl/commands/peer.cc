// qdctl peer remove ID [--force]: removes a peer from the cluster through consensus
// (qdrantd.admin.Admin/RemovePeer, REST DELETE /cluster/peer/{id}). Without --force the server
// refuses while the peer still holds shard replicas.
#include "qdctl/commands/commands.h"

namespace qd::qdctl {

void RegisterPeer(CLI::App& app, Context& context) {
  CLI::App* peer = app.add_subcommand("peer", "Cluster peers");
  peer->require_subcommand(1);
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
}

}  // namespace qd::qdctl
