// Context: what every qdctl command works through: the global options as given on the command
// line, the environment, the printer, and the exit code the command leaves for main() to
// return. Commands get a client from Connect() and report failures through Fail(), so the
// precedence of settings and the mapping of errors to exit codes live here and only here.
// Thread: main thread only (one command per process).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libshared/client.h"
#include "libshared/status.h"
#include "qdctl/output.h"

namespace qd::qdctl {

// Exit codes (see man/qdctl.1, EXIT STATUS).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;      // the server answered with an error
inline constexpr int kExitUsage = 2;        // bad flags, URL or profile
inline constexpr int kExitUnreachable = 3;  // the server could not be reached

inline constexpr const char* kDefaultUrl = "http://localhost:6334";
inline constexpr uint16_t kDefaultGrpcPort = 6334;
inline constexpr double kDefaultTimeoutSeconds = 5;
inline constexpr double kMaxTimeoutSeconds = 24 * 60 * 60;

// The global options; nullopt means "not given on the command line".
struct GlobalOptions {
  std::optional<std::string> url;
  std::optional<std::string> api_key;
  std::optional<std::string> tls_ca;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<std::string> profile;
  std::optional<double> timeout_seconds;
  std::string output = "table";  // "table" or "json", checked by CLI11
};

// Settles each setting as flag > environment (QDCTL_URL, QDCTL_API_KEY) > profile > default.
// Reads the profile file (see profile.h). Errors: kInvalidArgument (a usage error): a bad URL,
// a timeout out of range, or any profile error.
Result<client::ClientOptions> ResolveClientOptions(const GlobalOptions& flags,
                                                   const std::map<std::string, std::string>& env);

class Context {
 public:
  explicit Context(std::map<std::string, std::string> env) : env_(std::move(env)) {}

  GlobalOptions& flags() { return flags_; }
  const std::map<std::string, std::string>& env() const { return env_; }
  Format format() const { return flags_.output == "json" ? Format::kJson : Format::kTable; }
  int exit_code() const { return exit_code_; }

  // A client for the resolved endpoint, or null after reporting a usage error (exit 2).
  std::unique_ptr<client::Client> Connect();

  // Prints on stdout through the one printer.
  void Print(const Record& record) const;
  void PrintList(const std::vector<Record>& rows) const;

  // Prints "qdctl: <message>" on stderr and sets the exit code: 3 for kUnavailable (the
  // server could not be reached), 1 for anything else the server or the call reported.
  void Fail(const Status& status);
  // Same, for a mistake of the user's: exit code 2.
  void UsageError(const Status& status);
  // A check that ran and found problems (cluster doctor): exit code 1, nothing printed here.
  void ProblemsFound() { exit_code_ = kExitRefused; }

 private:
  GlobalOptions flags_;
  std::map<std::string, std::string> env_;
  int exit_code_ = kExitOk;
};

}  // namespace qd::qdctl
