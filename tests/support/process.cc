#include "tests/support/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace qd::test {
namespace {

std::atomic<int> g_counter{0};

std::string DefaultOutputPath(const ProcessOptions& o, const char* stream) {
  std::string base = o.args.at(0);
  if (auto slash = base.rfind('/'); slash != std::string::npos) base = base.substr(slash + 1);
  return o.working_dir + "/" + base + "." + std::to_string(::getpid()) + "." +
         std::to_string(g_counter.fetch_add(1)) + "." + stream;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Process::Process(ProcessOptions options) {
  stdout_path_ = options.stdout_path.empty() ? DefaultOutputPath(options, "stdout") : options.stdout_path;
  stderr_path_ = options.stderr_path.empty() ? DefaultOutputPath(options, "stderr") : options.stderr_path;

  // Build argv and envp before fork: the child may only call async-signal-safe functions.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& name : options.unset_env) env.erase(name);
  for (const auto& [k, v] : options.env) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : options.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out = ::open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) throw std::runtime_error("cannot create output files in " + options.working_dir);

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (::chdir(options.working_dir.c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
}

Process::~Process() {
  if (Running()) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

void Process::Signal(int signo) const {
  if (pid_ > 0) ::kill(pid_, signo);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = DecodeWaitStatus(status);
      return exit_code_;
    }
    if (r < 0) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool Process::Running() {
  if (exit_code_ || pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = DecodeWaitStatus(status);
    return false;
  }
  return r == 0;
}

std::string Process::Stdout() const { return ReadFile(stdout_path_); }
std::string Process::Stderr() const { return ReadFile(stderr_path_); }

RunResult Run(ProcessOptions options, std::chrono::milliseconds timeout) {
  Process p(std::move(options));
  RunResult result;
  auto code = p.Wait(timeout);
  if (!code) {
    p.Signal(SIGKILL);
    p.Wait(std::chrono::seconds(10));
  }
  result.exit_code = code.value_or(-1);
  result.out = p.Stdout();
  result.err = p.Stderr();
  return result;
}

bool PollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

namespace {

// A socket bound to 127.0.0.1:port (0: a port the kernel picks), or -1.
int BoundSocket(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool CanBind(uint16_t port) {
  int fd = BoundSocket(port);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// A port the kernel picks (bind to port 0), released again.
uint16_t KernelPickedPort() {
  int fd = BoundSocket(0);
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (fd < 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot bind an ephemeral port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The first port of the kernel's ephemeral range (32768 when it cannot be read).
uint16_t EphemeralLow() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 0, high = 0;
  if (range >> low >> high && low > 2048 && low <= 65535) return static_cast<uint16_t>(low);
  return 32768;
}

}  // namespace

uint16_t FreePort() {
  static const uint16_t kFirst = 10000;  // above the ports services commonly use
  static const uint16_t kEnd = EphemeralLow();  // exclusive
  if (kEnd < kFirst + 1000) return KernelPickedPort();  // no room below the ephemeral range
  static const uint32_t kSpan = kEnd - kFirst;
  static std::atomic<uint32_t> next{static_cast<uint32_t>(::getpid()) * 1009u % kSpan};
  for (uint32_t tries = 0; tries < kSpan; ++tries) {
    uint16_t port = static_cast<uint16_t>(kFirst + next++ % kSpan);
    if (CanBind(port)) return port;
  }
  throw std::runtime_error("no free port below the ephemeral range");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace qd::test
