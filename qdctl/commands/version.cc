// qdctl version: this client's build and the server's (qdrantd.admin.Admin/Version). The
// client's is printed even when the server cannot be reached or has no admin service (a real
// Qdrant); the error then goes to stderr and the exit code says which it was.
#include "libshared/version.h"

#include "qdctl/commands/commands.h"

namespace qd::qdctl {

void RegisterVersion(CLI::App& app, Context& context) {
  app.add_subcommand("version", "Print the client's and the server's version")
      ->callback([&context] {
        std::unique_ptr<client::Client> client = context.Connect();
        if (!client) return;  // a usage error, already reported
        Record record = {{"client", Record{{"version", std::string(version::kServerVersion)},
                                           {"qdrant_version", std::string(version::kQdrantVersion)},
                                           {"commit", std::string(version::kCommit)}}}};
        Result<client::VersionInfo> server = client->Version();
        if (server.ok()) {
          record.push_back({"server", Record{{"version", server->server_version},
                                             {"qdrant_version", server->version},
                                             {"commit", server->commit}}});
        } else {
          record.push_back({"server", nullptr});
        }
        context.Print(record);
        if (!server.ok()) context.Fail(server.status());
      });
}

}  // namespace qd::qdctl
