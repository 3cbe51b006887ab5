// qdctl health: does the server answer? Calls Qdrant's own qdrant.Qdrant/HealthCheck, so it
// works against a real Qdrant too.
#include "qdctl/commands/commands.h"

namespace qd::qdctl {

void RegisterHealth(CLI::App& app, Context& context) {
  app.add_subcommand("health", "Check that the server answers (qdrant.Qdrant/HealthCheck)")
      ->callback([&context] {
        std::unique_ptr<client::Client> client = context.Connect();
        if (!client) return;
        Result<client::HealthInfo> health = client->HealthCheck();
        if (!health.ok()) return context.Fail(health.status());
        context.Print({{"status", std::string("ok")},
                       {"title", health->title},
                       {"version", health->version},
                       {"commit", health->commit ? Value(*health->commit) : Value(nullptr)}});
      });
}

}  // namespace qd::qdctl
