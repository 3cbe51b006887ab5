// qdctl version: this client's version and the server's (admin API). The client's is printed
// even when the server cannot be reached; the exit code then says so.
#include <cstdio>

#include "libshared/version.h"
#include "qdctl/commands/commands.h"

namespace qd::qdctl {

void RegisterVersion(CLI::App& app, Context& context) {
  app.add_subcommand("version", "Print the client's and the server's version")->callback([&context] {
    Record client_record = {{"version", std::string(version::kServerVersion)},
                            {"qdrant_version", std::string(version::kQdrantVersion)},
                            {"commit", std::string(version::kCommit)}};
    Record record = {{"client", client_record}};
    Status failure;
    if (auto client = context.Connect()) {
      auto server = client->Version();
      if (server.ok()) {
        record.push_back({"server", Record{{"version", server->server_version},
                                           {"qdrant_version", server->version},
                                           {"commit", server->commit}}});
      } else {
        failure = server.status();
        record.push_back({"server", nullptr});
      }
    } else {
      return;  // usage error already reported
    }
    std::fputs(Render(record, context.format()).c_str(), stdout);
    if (!failure.ok()) context.Fail(failure);
  });
}

}  // namespace qd::qdctl
