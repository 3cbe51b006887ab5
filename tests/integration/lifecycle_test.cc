// qdrantd's lifecycle as an operator sees it: configuration from files and environment, exit
// codes, the storage lock, and graceful shutdown on SIGTERM/SIGINT.
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>

#include "tests/support/node.h"

using namespace qd::test;
using namespace std::chrono_literals;

namespace {

// Runs qdrantd in `dir` to completion (it is expected to exit by itself).
RunResult RunQdrantd(const std::string& dir, std::vector<std::string> args,
                     std::map<std::string, std::string> env = {}) {
  ProcessOptions p;
  p.args = {QdrantdBinary()};
  p.args.insert(p.args.end(), args.begin(), args.end());
  p.working_dir = dir;
  p.unset_env = {"RUN_MODE", "QDRANT_URI", "QDRANT_BOOTSTRAP"};
  env.emplace("QDRANT__SERVICE__HOST", "127.0.0.1");
  env.emplace("QDRANT__SERVICE__HTTP_PORT", std::to_string(FreePort()));
  env.emplace("QDRANT__SERVICE__GRPC_PORT", std::to_string(FreePort()));
  p.env = std::move(env);
  return Run(std::move(p), 20s);
}

}  // namespace

TEST_CASE("SIGTERM and SIGINT stop qdrantd cleanly with exit 0 within 10 s",
          "[integration][lifecycle]") {
  for (int signo : {SIGTERM, SIGINT}) {
    Node node;
    REQUIRE(node.WaitReady());
    auto started = std::chrono::steady_clock::now();
    node.process().Signal(signo);
    std::optional<int> code = node.process().Wait(10s);
    INFO("signal " << signo << "; stderr: " << node.process().Stderr());
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    CHECK(node.process().Stderr().find("qdrantd stopped") != std::string::npos);
  }
}

TEST_CASE("a second qdrantd on the same storage exits 1 naming the lock holder",
          "[integration][lifecycle]") {
  Node first;
  REQUIRE(first.WaitReady());
  RunResult second = RunQdrantd(first.dir(), {});
  CHECK(second.exit_code == 1);
  CHECK(second.err.find("already in use by another qdrantd") != std::string::npos);
  CHECK(second.err.find(std::to_string(first.process().pid())) != std::string::npos);
  CHECK(first.Get("/healthz").status == 200);  // the first one is undisturbed
}

TEST_CASE("the storage lock is released when its holder is killed", "[integration][lifecycle]") {
  TempDir dir;
  {
    Node first({.working_dir = dir.path()});
    REQUIRE(first.WaitReady());
    first.process().Signal(SIGKILL);
    REQUIRE(first.process().Wait(10s).has_value());
  }
  Node second({.working_dir = dir.path()});
  CHECK(second.WaitReady());
}

TEST_CASE("a REST port already in use exits 1 with a message naming it",
          "[integration][lifecycle]") {
  Node first;
  REQUIRE(first.WaitReady());
  TempDir other;
  RunResult r = RunQdrantd(other.path(), {},
                           {{"QDRANT__SERVICE__HTTP_PORT", std::to_string(first.http_port())}});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("cannot listen for REST on 127.0.0.1:" + std::to_string(first.http_port())) !=
        std::string::npos);
}

TEST_CASE("an impossible value in config/config.yaml exits 2 naming the key and the value",
          "[integration][lifecycle][config]") {
  // cluster.p2p.port, because RunQdrantd sets the REST and gRPC ports through the environment,
  // which would override the file.
  TempDir dir;
  dir.Write("config/config.yaml", "cluster:\n  p2p:\n    port: 70000\n");
  RunResult r = RunQdrantd(dir.path(), {});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("cluster.p2p.port") != std::string::npos);
  CHECK(r.err.find("70000") != std::string::npos);
  CHECK(r.err.find("config/config.yaml") != std::string::npos);
}

TEST_CASE("write_consistency_factor above replication_factor exits 2",
          "[integration][lifecycle][config]") {
  TempDir dir;
  RunResult r = RunQdrantd(dir.path(), {},
                           {{"QDRANT__STORAGE__COLLECTION__REPLICATION_FACTOR", "2"},
                            {"QDRANT__STORAGE__COLLECTION__WRITE_CONSISTENCY_FACTOR", "3"}});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("write_consistency_factor") != std::string::npos);
}

TEST_CASE("a missing --config-path file and a bad --uri are usage errors (exit 2)",
          "[integration][lifecycle][config]") {
  TempDir dir;
  RunResult missing = RunQdrantd(dir.path(), {"--config-path", dir.path() + "/nope.yaml"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("nope.yaml") != std::string::npos);
  RunResult bad_uri = RunQdrantd(dir.path(), {"--uri", "http://:::bad"});
  CHECK(bad_uri.exit_code == 2);
  CHECK(bad_uri.err.find("--uri") != std::string::npos);
  RunResult unknown_flag = RunQdrantd(dir.path(), {"--no-such-flag"});
  CHECK(unknown_flag.exit_code == 2);
}

TEST_CASE("precedence: config/config.yaml < RUN_MODE file < --config-path < environment",
          "[integration][lifecycle][config]") {
  TempDir dir;
  uint16_t file_port = FreePort(), mode_port = FreePort(), path_port = FreePort(),
           env_port = FreePort();
  dir.Write("config/config.yaml", "service:\n  http_port: " + std::to_string(file_port) + "\n");
  dir.Write("config/production.yaml", "service:\n  http_port: " + std::to_string(mode_port) + "\n");
  std::string custom = dir.Write("custom.yaml", "service:\n  http_port: " + std::to_string(path_port) + "\n");

  // Node always sets the port through the environment, so drive the layers by hand here.
  auto start = [&](std::map<std::string, std::string> env, std::vector<std::string> args) {
    ProcessOptions p;
    p.args = {QdrantdBinary()};
    p.args.insert(p.args.end(), args.begin(), args.end());
    p.working_dir = dir.path();
    p.unset_env = {"RUN_MODE", "QDRANT__SERVICE__HTTP_PORT"};
    p.env = {{"QDRANT__SERVICE__HOST", "127.0.0.1"},
             {"QDRANT__SERVICE__GRPC_PORT", std::to_string(FreePort())}};
    for (auto& [k, v] : env) p.env[k] = v;
    return std::make_unique<Process>(std::move(p));
  };
  struct Case {
    std::map<std::string, std::string> env;
    std::vector<std::string> args;
    uint16_t expected;
  };
  std::vector<Case> cases = {
      {{}, {}, file_port},
      {{{"RUN_MODE", "production"}}, {}, mode_port},
      {{{"RUN_MODE", "production"}}, {"--config-path", custom}, path_port},
      {{{"RUN_MODE", "production"}, {"QDRANT__SERVICE__HTTP_PORT", std::to_string(env_port)}},
       {"--config-path", custom}, env_port},
  };
  for (const Case& c : cases) {
    auto process = start(c.env, c.args);
    bool up = PollUntil([&] { return HttpGet(c.expected, "/healthz").status == 200 || !process->Running(); }, 20s);
    INFO("expected port " << c.expected << "; stderr: " << process->Stderr());
    CHECK(up);
    CHECK(HttpGet(c.expected, "/healthz").status == 200);
    process->Signal(SIGTERM);
    CHECK(process->Wait(10s) == std::optional<int>(0));
  }
}

TEST_CASE("a directory holding Qdrant's stock config files starts qdrantd unchanged",
          "[integration][lifecycle][config]") {
  TempDir dir;
  dir.Write("config/config.yaml",
            ReadFile(std::string(QD_SOURCE_DIR) + "/tests/data/qdrant-stock-config.yaml"));
  dir.Write("config/development.yaml", "log_level: DEBUG\nservice:\n  host: 127.0.0.1\n");
  dir.Write("config/production.yaml", "log_level: INFO\n");
  Node node({.env = {{"QDRANT__LOG_LEVEL", "TRACE,raft::raft=info,tonic=info"},
                     {"QDRANT__SERVICE__HARDWARE_REPORTING", "true"}},
             .working_dir = dir.path()});
  REQUIRE(node.WaitReady());
  CHECK(std::filesystem::exists(dir.path() + "/storage"));
  CHECK(node.process().Stderr().find("unknown config key") != std::string::npos);
}
