// qdctl health: is the server up? Calls Qdrant's own qdrant.Qdrant/HealthCheck, so it works
// against a real Qdrant too.
#include <cstdio>

#include "qdctl/commands/commands.h"

namespace qd::qdctl {

void RegisterHealth(CLI::App& app, Context& context) {
  app.add_subcommand("health", "Check that the server answers (qdrant.Qdrant/HealthCheck)")
      ->callback([&context] {
        auto client = context.Connect();
        if (!client) return;
        auto health = client->HealthCheck();
        if (!health.ok()) return context.Fail(health.status());
        Record record = {{"status", std::string("ok")},
                         {"title", health->title},
                         {"version", health->version}};
        record.push_back({"commit", health->commit ? Value(*health->commit) : Value(nullptr)});
        std::fputs(Render(record, context.format()).c_str(), stdout);
      });
}

}  // namespace qd::qdctl
