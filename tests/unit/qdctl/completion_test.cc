// qdctl completion bash: the script follows the CLI11 tree, including commands added later.
#include <catch2/catch.hpp>

#include "qdctl/commands/commands.h"

TEST_CASE("the bash completion script covers every subcommand path and option", "[unit][qdctl]") {
  CLI::App app{"test", "qdctl"};
  std::string output, url;
  app.add_option("-o,--output", output)->check(CLI::IsMember({"table", "json"}));
  app.add_option("--url", url);
  app.fallthrough();
  CLI::App* cluster = app.add_subcommand("cluster", "");
  cluster->add_subcommand("status", "");
  bool force = false;
  cluster->add_subcommand("remove-peer", "")->add_flag("--force", force);

  std::string script = qd::qdctl::BashCompletion(app);
  INFO(script);
  CHECK(script.find("complete -F _qdctl qdctl\n") != std::string::npos);
  // Top level: the subcommands and the global options.
  CHECK(script.find("\"\") words=\"cluster --help -h --output -o --url\" ;;") != std::string::npos);
  // Nested levels inherit the global options.
  CHECK(script.find("\"cluster remove-peer\") words=\"--help -h --output -o --url --force\" ;;") !=
        std::string::npos);
  CHECK(script.find("\"cluster\"|\"cluster status\"|\"cluster remove-peer\"") != std::string::npos);
  // Values of a membership-checked option; other options that take a value complete nothing.
  CHECK(script.find("--output|-o) COMPREPLY=($(compgen -W \"table json\"") != std::string::npos);
  CHECK(script.find("--output|--url|-o) ((i++)); continue ;;") != std::string::npos);
}
