// qdctl: global options -> command groups -> the chosen subcommand's callback, which leaves the
// exit code in the Context: 0 ok, 1 the server refused, 2 usage error, 3 unreachable.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "libshared/config.h"
#include "qdctl/commands/collection.h"
#include "qdctl/commands/commands.h"

namespace {

// CLI11's own range check reads "Value 0 not in range 0.001000 to 86400.000000".
std::string TimeoutCheck(const std::string& text) {
  char* end = nullptr;
  double seconds = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(seconds >= 0.001) ||
      seconds > qd::qdctl::kMaxTimeoutSeconds) {
    return "\"" + text + "\" is not a number of seconds from 0.001 to 86400";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace qd::qdctl;
  qd::client::SilenceGrpcLogging();  // our errors are one sentence; gRPC's logs are not ours
  Context context(qd::config::ProcessEnvironment());
  GlobalOptions& flags = context.flags();
  CLI::App app{"qdctl: operate qdrantd (and Qdrant) servers over gRPC", "qdctl"};
  try {
    app.add_option_function<std::string>(
           "--url", [&flags](const std::string& v) { flags.url = v; },
           "Server gRPC endpoint, http[s]://host[:port] (default http://localhost:6334; env "
           "QDCTL_URL)")
        ->type_name("URL");
    app.add_option_function<std::string>(
           "--api-key", [&flags](const std::string& v) { flags.api_key = v; },
           "API key sent with every call (env QDCTL_API_KEY)")
        ->type_name("KEY");
    app.add_option_function<std::string>(
           "--tls-ca", [&flags](const std::string& v) { flags.tls_ca = v; },
           "https: CA certificate (PEM) the server's certificate must chain to (default: the "
           "system's CAs)")
        ->type_name("FILE");
    app.add_option_function<std::string>(
           "--tls-cert", [&flags](const std::string& v) { flags.tls_cert = v; },
           "https: this client's certificate (PEM), for a server that requires one")
        ->type_name("FILE");
    app.add_option_function<std::string>(
           "--tls-key", [&flags](const std::string& v) { flags.tls_key = v; },
           "https: the private key (PEM) of --tls-cert")
        ->type_name("FILE");
    app.add_option("-o,--output", flags.output, "Output format (default table)")
        ->type_name("FORMAT")
        ->check(CLI::IsMember({"table", "json"}));
    app.add_option_function<std::string>(
           "--profile", [&flags](const std::string& v) { flags.profile = v; },
           "Profile of the profile file to use (default: its default_profile)")
        ->type_name("NAME");
    app.add_option_function<double>(
           "--timeout", [&flags](double v) { flags.timeout_seconds = v; },
           "Seconds each call may take (default 5)")
        ->type_name("SECONDS")
        ->check(TimeoutCheck);
    app.fallthrough();  // global options may also follow the command
    app.failure_message([](const CLI::App*, const CLI::Error& e) {
      return "qdctl: " + std::string(e.what()) + " (see qdctl --help)\n";
    });

    RegisterHealth(app, context);
    RegisterVersion(app, context);
    RegisterCollection(app, context);
    RegisterCompletion(app, context);
    RegisterCluster(app, context);
    RegisterPeer(app, context);
    RegisterRebalance(app, context);

    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      context.UsageError(qd::Status::InvalidArgument("a command is required (see qdctl --help)"));
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;  // --help prints and exits 0
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qdctl: internal error: %s\n", e.what());
    return kExitRefused;
  }
  return context.exit_code();
}
