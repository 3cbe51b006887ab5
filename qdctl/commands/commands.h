// qdctl's command groups. Each Register* adds its CLI11 subcommands to the app; a subcommand's
// callback does its work through the Context and leaves the process exit code in it:
// 0 ok, 1 the server refused, 2 usage error, 3 unreachable.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <memory>
#include <string>

#include "libshared/client.h"
#include "qdctl/output.h"

namespace qd::qdctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

struct Context {
  // Global options as given; empty means "not given".
  std::string url;
  std::string api_key;
  std::string output = "table";
  std::string profile;
  double timeout_seconds = 0;
  std::map<std::string, std::string> env;

  int exit_code = kExitOk;

  Format format() const { return output == "json" ? Format::kJson : Format::kTable; }
  // Resolves flag > environment > profile > default into a connected client, or reports a
  // usage error (and sets exit_code) and returns null.
  std::unique_ptr<client::Client> Connect();
  // Prints "qdctl: <message>" on stderr and sets the exit code for the status.
  void Fail(const Status& status);
};

void RegisterHealth(CLI::App& app, Context& context);
void RegisterVersion(CLI::App& app, Context& context);
void RegisterCompletion(CLI::App& app, Context& context);

// A bash completion script for the app's subcommands and options, generated from the CLI11 tree.
std::string BashCompletion(const CLI::App& app);

}  // namespace qd::qdctl
