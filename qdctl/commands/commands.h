// qdctl's command groups, one Register function per group and file (commands/<group>.cc). Each
// adds its CLI11 subcommands to the app; a subcommand's callback gets a client from the
// Context, prints through it and reports failures through it, which sets the exit code.
// Later groups (cluster, collection, peer, shard) follow the same shape:
//
//   void RegisterCluster(CLI::App& app, Context& context);   // in commands/cluster.cc
//
// and one line in main.cc. Thread: main thread only.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "qdctl/context.h"

namespace qd::qdctl {

void RegisterHealth(CLI::App& app, Context& context);      // qdctl health
void RegisterVersion(CLI::App& app, Context& context);     // qdctl version
void RegisterCompletion(CLI::App& app, Context& context);  // qdctl completion bash
void RegisterCluster(CLI::App& app, Context& context);     // qdctl cluster status
void RegisterPeer(CLI::App& app, Context& context);        // qdctl peer remove|drain
void RegisterRebalance(CLI::App& app, Context& context);   // qdctl rebalance ..., transfers
void RegisterShard(CLI::App& app, Context& context);       // qdctl shard replicate|move|...
// qdctl collection cluster NAME, added to the `collection` group.
void RegisterCollectionCluster(CLI::App& collection_group, Context& context);
// qdctl collection verify NAME [--repair] (commands/verify.cc).
void RegisterCollectionVerify(CLI::App& collection_group, Context& context);

// A bash completion script for `app`'s whole tree of subcommands and options, generated at
// run time so it stays right as commands are added.
std::string BashCompletion(const CLI::App& app);

}  // namespace qd::qdctl
