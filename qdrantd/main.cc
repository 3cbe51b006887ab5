// qdrantd: flags -> config -> Daemon. Exit codes: 0 clean stop, 1 could not start (storage
// locked, port in use), 2 bad command line or configuration.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "libshared/config.h"
#include "libshared/log.h"
#include "libshared/uri.h"
#include "libshared/version.h"
#include "qdrantd/server/daemon.h"

namespace {

constexpr int kExitUsage = 2;

// --uri/--bootstrap (or QDRANT_URI/QDRANT_BOOTSTRAP) must be peer URLs such as
// http://10.0.0.1:6335, https:// exactly when peers talk TLS (cluster.p2p.enable_tls): a node
// whose URIs contradict its setting would only ever fail its handshakes.
qd::Status ValidatePeerUri(const char* what, const std::optional<std::string>& uri, bool peer_tls) {
  if (!uri) return qd::Status::Ok();
  auto parsed = qd::ParseUri(*uri, 6335);
  if (!parsed.ok()) return parsed.status().WithContext(what);
  if (peer_tls && parsed->scheme != "https") {
    return qd::Status::InvalidArgument(std::string(what) + " " + *uri +
                                       ": cluster.p2p.enable_tls is on, so peer URIs are https://");
  }
  if (!peer_tls && parsed->scheme == "https") {
    return qd::Status::InvalidArgument(
        std::string(what) + " " + *uri +
        ": an https:// peer URI needs cluster.p2p.enable_tls (and tls.cert, tls.key, "
        "tls.ca_cert) on this node");
  }
  return qd::Status::Ok();
}

// Security settings this build cannot honour, or that would leave the node open while the
// operator believes it is closed: refused at start rather than served insecurely (issue #19).
qd::Status CheckSecurity(const qd::config::Config& config) {
  const auto& service = config.service;
  for (auto [key, value] : {std::pair{"service.api_key", &service.api_key},
                            std::pair{"service.read_only_api_key", &service.read_only_api_key}}) {
    if (*value && (*value)->empty()) {
      return qd::Status::InvalidArgument(std::string(key) +
                                         " is empty: set a secret, or leave it unset");
    }
  }
  if (service.jwt_rbac && !service.api_key) {
    return qd::Status::InvalidArgument(
        "service.jwt_rbac needs service.api_key: tokens are signed with it");
  }
  return qd::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qdrantd: a distributed vector database, compatible with Qdrant", "qdrantd"};
  qd::config::ConfigOverrides overrides;
  qd::server::DaemonFlags flags;
  std::string uri, bootstrap, config_path;
  std::vector<std::string> snapshots;
  bool force_snapshot = false, stacktrace = false, show_version = false;

  app.add_option("--uri", uri, "This peer's P2P address, e.g. http://10.0.0.1:6335 (env QDRANT_URI)");
  app.add_option("--bootstrap", bootstrap,
                 "Address of any existing cluster member to join through (env QDRANT_BOOTSTRAP)");
  app.add_option("--config-path", config_path, "Configuration file applied after config/*.yaml");
  app.add_flag("--reinit", flags.reinit, "Keep data but found a new cluster membership");
  app.add_flag("--disable-telemetry", overrides.disable_telemetry, "Disable telemetry");
  app.add_option("--snapshot", snapshots, "PATH:COLLECTION snapshot to restore at start (repeatable)");
  app.add_flag("--force-snapshot", force_snapshot, "Overwrite existing collections with --snapshot");
  app.add_flag("--stacktrace", stacktrace, "Print a stack trace on crashes");
  app.add_flag("--version", show_version, "Print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  if (show_version) {
    std::printf("qdrantd %s (compatible with Qdrant %s, commit %s)\n", qd::version::kServerVersion,
                qd::version::kQdrantVersion, qd::version::kCommit);
    return 0;
  }

  qd::config::LoadOptions load;
  load.env = qd::config::ProcessEnvironment();
  if (!config_path.empty()) overrides.config_path = config_path;
  load.overrides = overrides;
  auto loaded = qd::config::LoadConfig(load);
  if (!loaded.ok()) {
    std::fprintf(stderr, "qdrantd: configuration error: %s\n", loaded.status().message().c_str());
    return kExitUsage;
  }
  qd::config::Config& config = loaded->config;
  qd::log::SetLevel(qd::log::ParseLevel(config.log_level).value_or(qd::log::Level::kInfo));
  for (const auto& source : loaded->sources) QD_LOG_INFO("loaded configuration from " + source);
  for (const auto& warning : loaded->warnings) QD_LOG_WARN(warning);
  if (qd::Status s = CheckSecurity(config); !s.ok()) {
    std::fprintf(stderr, "qdrantd: configuration error: %s\n", s.message().c_str());
    return kExitUsage;
  }

  // Flags win over the environment, as in Qdrant.
  auto from_env = [&](const char* name) -> std::optional<std::string> {
    auto it = load.env.find(name);
    if (it == load.env.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
  flags.uri = !uri.empty() ? std::optional(uri) : from_env("QDRANT_URI");
  flags.bootstrap = !bootstrap.empty() ? std::optional(bootstrap) : from_env("QDRANT_BOOTSTRAP");
  const bool peer_tls = config.cluster.enabled && config.cluster.p2p.enable_tls;
  for (auto [what, value] : {std::pair{"--uri", &flags.uri}, std::pair{"--bootstrap", &flags.bootstrap}}) {
    // With peer TLS a URI without a scheme is https://.
    if (peer_tls && *value && value->value().find("://") == std::string::npos) {
      *value = "https://" + value->value();
    }
    if (qd::Status s = ValidatePeerUri(what, *value, peer_tls); !s.ok()) {
      std::fprintf(stderr, "qdrantd: %s\n", s.message().c_str());
      return kExitUsage;
    }
  }
  if (!snapshots.empty() || force_snapshot) {
    QD_LOG_WARN("--snapshot is not supported yet (issue #3); ignoring it");
  }
  (void)stacktrace;  // glibc prints nothing useful; sanitizer builds print their own traces

  qd::server::Daemon daemon(std::move(config), std::move(flags));
  return daemon.Run();
}
