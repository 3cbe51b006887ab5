// Qdrant's official JS clients (npm @qdrant/js-client-rest and @qdrant/js-client-grpc, pinned
// in tests/compat/package.json and installed by `make test`) against a real qdrantd. The
// scripts under tests/compat/ do the checking; this runs them and fails with their output.
#include <catch2/catch.hpp>

#include <filesystem>

#include "tests/support/node.h"

using namespace qd::test;

TEST_CASE("Qdrant's official JS clients accept qdrantd's service endpoints",
          "[compat][integration]") {
  const std::string compat = std::string(QD_SOURCE_DIR) + "/tests/compat";
  const std::string node_bin = compat + "/node_modules/.bin/node";
  INFO("the JS clients are installed by `make compat-deps` (part of `make test`)");
  REQUIRE(std::filesystem::exists(node_bin));

  Node server;
  REQUIRE(server.WaitReady());
  TempDir work;
  RunResult r = Run({.args = {node_bin, compat + "/service.mjs",
                              "http://127.0.0.1:" + std::to_string(server.http_port()),
                              "http://127.0.0.1:" + std::to_string(server.grpc_port())},
                     .working_dir = work.path()},
                    std::chrono::seconds(60));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("FAIL") == std::string::npos);
}

TEST_CASE("Qdrant's official REST client reads a cluster's status, rebalance field included",
          "[compat][integration]") {
  const std::string compat = std::string(QD_SOURCE_DIR) + "/tests/compat";
  const std::string node_bin = compat + "/node_modules/.bin/node";
  REQUIRE(std::filesystem::exists(node_bin));
  NodeOptions options;
  options.env["QDRANT__CLUSTER__ENABLED"] = "true";
  options.env["QDRANT__CLUSTER__P2P__PORT"] = std::to_string(FreePort());
  options.args = {"--uri", "http://127.0.0.1:" + options.env["QDRANT__CLUSTER__P2P__PORT"]};
  Node server(options);
  REQUIRE(server.WaitReady());
  TempDir work;
  RunResult r = Run({.args = {node_bin, compat + "/cluster.mjs",
                              "http://127.0.0.1:" + std::to_string(server.http_port())},
                     .working_dir = work.path()},
                    std::chrono::seconds(60));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("FAIL") == std::string::npos);
}

TEST_CASE("Qdrant's official REST client drives the vector engine", "[compat][integration]") {
  const std::string compat = std::string(QD_SOURCE_DIR) + "/tests/compat";
  const std::string node_bin = compat + "/node_modules/.bin/node";
  REQUIRE(std::filesystem::exists(node_bin));
  Node server;
  REQUIRE(server.WaitReady());
  TempDir work;
  RunResult r = Run({.args = {node_bin, compat + "/rest_engine.mjs",
                              "http://127.0.0.1:" + std::to_string(server.http_port())},
                     .working_dir = work.path()},
                    std::chrono::seconds(120));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("FAIL") == std::string::npos);
}
