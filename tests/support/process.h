// Child processes for integration tests: start a binary with its own environment and working
// directory, capture stdout/stderr to files, signal it, wait for it with a deadline. The
// destructor SIGKILLs and reaps a child that is still running, so no test leaves one behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qd::test {

struct ProcessOptions {
  std::vector<std::string> args;          // args[0] is the binary path
  std::map<std::string, std::string> env; // added to (and overriding) the inherited environment
  std::vector<std::string> unset_env;     // removed from the inherited environment
  std::string working_dir = ".";
  std::string stdout_path;  // empty: a file in working_dir named <binary>.<pid>.stdout
  std::string stderr_path;
};

class Process {
 public:
  explicit Process(ProcessOptions options);  // starts it; throws if fork/exec setup fails
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signo) const;
  // Waits for exit; returns the exit code (128+signal when killed), nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string stdout_path_;
  std::string stderr_path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion (killed after `timeout`, then exit_code is -1).
RunResult Run(ProcessOptions options, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
bool PollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// A TCP port on 127.0.0.1 that was free a moment ago, for a daemon to bind. Ports come from
// below the kernel's ephemeral range (ip_local_port_range), so no outgoing connection and no
// bind to port 0 (another test's, a daemon's client) can take them in between; each test
// process walks its own stretch of that range (offset by its pid) and skips ports in use.
uint16_t FreePort();

std::string ReadFile(const std::string& path);

}  // namespace qd::test
