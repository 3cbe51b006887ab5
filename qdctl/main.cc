// qdctl: global options -> command groups -> the subcommand's callback. Exit codes: 0 ok,
// 1 the server refused, 2 usage error, 3 unreachable.
#include <CLI/CLI.hpp>

#include "libshared/config.h"
#include "qdctl/commands/commands.h"

int main(int argc, char** argv) {
  using namespace qd::qdctl;
  CLI::App app{"qdctl: operate qdrantd (and Qdrant) clusters over gRPC", "qdctl"};
  Context context;
  context.env = qd::config::ProcessEnvironment();

  app.add_option("--url", context.url, "Server gRPC endpoint (default http://localhost:6334; env QDCTL_URL)");
  app.add_option("--api-key", context.api_key, "API key sent with every call (env QDCTL_API_KEY)");
  app.add_option("-o,--output", context.output, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}));
  app.add_option("--profile", context.profile, "Named endpoint from ~/.config/qdctl/config.toml");
  app.add_option("--timeout", context.timeout_seconds, "Seconds to wait for each call (default 5)")
      ->check(CLI::PositiveNumber);
  app.require_subcommand(1);

  RegisterHealth(app, context);
  RegisterVersion(app, context);
  RegisterCompletion(app, context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  return context.exit_code;
}
