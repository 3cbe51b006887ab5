// qdctl against a real qdrantd over real gRPC: health, version, JSON output, profiles, and the
// exit codes and messages an operator sees when something is wrong.
#include <catch2/catch.hpp>

#include "tests/support/node.h"

using namespace qd::test;

namespace {
std::string Url(const Node& node) { return "http://127.0.0.1:" + std::to_string(node.grpc_port()); }
}  // namespace

TEST_CASE("qdctl health answers through qdrant.Qdrant/HealthCheck", "[integration][qdctl]") {
  Node node;
  REQUIRE(node.WaitReady());
  TempDir home;
  RunResult table = RunQdctl({"--url", Url(node), "health"}, home.path());
  INFO(table.err);
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("qdrant - vector search engine") != std::string::npos);
  CHECK(table.out.find("1.19.0") != std::string::npos);

  RunResult json = RunQdctl({"--url", Url(node), "--output", "json", "health"}, home.path());
  CHECK(json.exit_code == 0);
  CHECK(json.out.find(R"("title":"qdrant - vector search engine")") != std::string::npos);
}

TEST_CASE("qdctl version prints the client's and the server's version", "[integration][qdctl]") {
  Node node;
  REQUIRE(node.WaitReady());
  TempDir home;
  RunResult r = RunQdctl({"--url", Url(node), "-o", "json", "version"}, home.path());
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(R"("client")") != std::string::npos);
  CHECK(r.out.find(R"("server")") != std::string::npos);
  CHECK(r.out.find("1.19.0") != std::string::npos);
}

TEST_CASE("qdctl takes its endpoint from a named profile", "[integration][qdctl]") {
  Node node;
  REQUIRE(node.WaitReady());
  TempDir home;
  home.Write(".config/qdctl/config.toml",
             "[profiles.test]\nurl = \"" + Url(node) + "\"\n");
  RunResult r = RunQdctl({"--profile", "test", "health"}, home.path());
  INFO(r.err);
  CHECK(r.exit_code == 0);
  RunResult unknown = RunQdctl({"--profile", "nope", "health"}, home.path());
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("nope") != std::string::npos);
}

TEST_CASE("qdctl against nothing exits 3 with one plain sentence", "[integration][qdctl]") {
  TempDir home;
  uint16_t port = FreePort();  // nothing listens there
  RunResult r = RunQdctl({"--url", "http://127.0.0.1:" + std::to_string(port), "health"}, home.path());
  CHECK(r.exit_code == 3);
  CHECK(r.err == "qdctl: cannot reach qdrantd at 127.0.0.1:" + std::to_string(port) +
                     ": connection refused\n");
}

TEST_CASE("qdctl usage errors exit 2", "[integration][qdctl]") {
  TempDir home;
  CHECK(RunQdctl({"no-such-command"}, home.path()).exit_code == 2);
  CHECK(RunQdctl({"--output", "yaml", "health"}, home.path()).exit_code == 2);
  CHECK(RunQdctl({"--url", "htp:/x:y:z", "health"}, home.path()).exit_code == 2);
  CHECK(RunQdctl({"--help"}, home.path()).exit_code == 0);
}

TEST_CASE("qdctl completion bash prints a completion script naming its commands",
          "[integration][qdctl]") {
  TempDir home;
  RunResult r = RunQdctl({"completion", "bash"}, home.path());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("complete ") != std::string::npos);
  CHECK(r.out.find("health") != std::string::npos);
  CHECK(r.out.find("--output") != std::string::npos);
}
