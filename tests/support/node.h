// One real qdrantd process for integration tests: its own temp working directory (so storage
// lands in <dir>/storage and config in <dir>/config), its own ephemeral ports passed through
// QDRANT__ environment variables, started and killed by the test.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace qd::test {

struct NodeOptions {
  std::map<std::string, std::string> env;  // extra environment, applied over the port settings
  std::vector<std::string> args;           // extra command-line arguments
  std::string working_dir;                 // empty: a fresh TempDir owned by the Node
};

class Node {
 public:
  explicit Node(NodeOptions options = {});

  uint16_t http_port() const { return http_port_; }
  uint16_t grpc_port() const { return grpc_port_; }
  const std::string& dir() const { return dir_; }
  Process& process() { return *process_; }

  // Polls GET /readyz until it answers 200; false if the process died or the deadline passed.
  bool WaitReady(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  HttpResponse Get(const std::string& path) const { return HttpGet(http_port_, path); }

 private:
  std::unique_ptr<TempDir> temp_;
  std::string dir_;
  uint16_t http_port_, grpc_port_, p2p_port_;
  std::unique_ptr<Process> process_;
};

const char* QdrantdBinary();
const char* QdctlBinary();

// Runs qdctl with `args`, with its profile lookup pointed into `home` so the user's own
// ~/.config/qdctl never leaks into a test.
RunResult RunQdctl(const std::vector<std::string>& args, const std::string& home);

}  // namespace qd::test
