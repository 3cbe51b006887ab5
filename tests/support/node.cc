#include "tests/support/node.h"

#include <cstdlib>

namespace qd::test {

// QD_QDRANTD_BIN in the environment runs the tests against another build of the daemon (a
// TSan one, say) without building the tests there too.
const char* QdrantdBinary() {
  const char* other = std::getenv("QD_QDRANTD_BIN");
  return other && *other ? other : QD_QDRANTD_BIN;
}
const char* QdctlBinary() { return QD_QDCTL_BIN; }

Node::Node(NodeOptions options)
    : http_port_(FreePort()), grpc_port_(FreePort()), p2p_port_(FreePort()) {
  if (options.working_dir.empty()) {
    temp_ = std::make_unique<TempDir>();
    dir_ = temp_->path();
  } else {
    dir_ = options.working_dir;
  }
  ProcessOptions p;
  p.args = {QdrantdBinary()};
  p.args.insert(p.args.end(), options.args.begin(), options.args.end());
  p.working_dir = dir_;
  p.unset_env = {"RUN_MODE", "QDRANT_URI", "QDRANT_BOOTSTRAP"};
  p.env = {{"QDRANT__SERVICE__HOST", "127.0.0.1"},
           {"QDRANT__SERVICE__HTTP_PORT", std::to_string(http_port_)},
           {"QDRANT__SERVICE__GRPC_PORT", std::to_string(grpc_port_)},
           {"QDRANT__CLUSTER__P2P__PORT", std::to_string(p2p_port_)}};
  for (const auto& [k, v] : options.env) p.env[k] = v;
  process_ = std::make_unique<Process>(std::move(p));
}

bool Node::WaitReady(std::chrono::milliseconds timeout) {
  return PollUntil(
      [&] {
        if (!process_->Running()) return true;  // stop polling; the check below fails
        return HttpGet(http_port_, "/readyz").status == 200;
      },
      timeout) &&
         process_->Running();
}

RunResult RunQdctl(const std::vector<std::string>& args, const std::string& home) {
  ProcessOptions p;
  p.args = {QdctlBinary()};
  p.args.insert(p.args.end(), args.begin(), args.end());
  p.working_dir = home;
  p.env = {{"HOME", home}, {"XDG_CONFIG_HOME", home + "/.config"}};
  p.unset_env = {"QDCTL_URL", "QDCTL_API_KEY", "QDCTL_CONFIG"};
  return Run(std::move(p), std::chrono::seconds(30));
}

}  // namespace qd::test
