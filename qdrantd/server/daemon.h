// Daemon: owns every subsystem of one qdrantd process and runs its lifecycle.
//
// Happy path: lock the storage directory -> start REST and gRPC listeners -> sd_notify READY=1
// -> run the loop. On SIGINT/SIGTERM: stop accepting (REST listener closed, gRPC stops taking
// calls), let in-flight requests finish, flush, close idle keep-alive connections, return 0. Failure modes: storage locked by another process, or a listener that cannot bind ->
// Run() returns 1 with one clear log line; shutdown that has not drained within
// kShutdownGrace -> remaining requests are cut off and Run() still returns 0 in time.
// Thread: constructed and run on the main thread, which becomes the loop thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "libshared/config.h"

namespace qd::server {

struct DaemonFlags {
  std::optional<std::string> uri;        // --uri / QDRANT_URI: this peer's P2P address
  std::optional<std::string> bootstrap;  // --bootstrap / QDRANT_BOOTSTRAP
  bool reinit = false;
};

class Daemon {
 public:
  static constexpr std::chrono::seconds kShutdownGrace{8};

  Daemon(config::Config config, DaemonFlags flags);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until a stop signal; returns the process exit code.
  int Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qd::server
