// Profiles: qdctl's TOML file of named endpoints, so an operator types `--profile prod` instead
// of a URL, a key and a timeout. The file is $QDCTL_CONFIG, else
// $XDG_CONFIG_HOME/qdctl/config.toml, else ~/.config/qdctl/config.toml:
//
//   default_profile = "local"          # optional: used when --profile is not given
//   [profiles.local]
//   url = "http://localhost:6334"
//   [profiles.prod]
//   url = "https://qdrant-1.example:6334"
//   api_key = "..."
//   tls_ca = "/etc/qdrant/tls/cacert.pem"  # https: the CA the server's certificate chains to
//   tls_cert = "client.pem"             # https: this client's certificate and key, for a
//   tls_key = "client.key"              #   server that requires one
//   timeout = 10                        # seconds per call
//
// A profile only supplies defaults: flags and environment variables win (see context.h).
// Thread: any (reads the file, no shared state).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "libshared/status.h"

namespace qd::qdctl {

struct Profile {
  std::string name;  // empty when no profile applies
  std::optional<std::string> url;
  std::optional<std::string> api_key;
  std::optional<std::string> tls_ca;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<double> timeout_seconds;
};

// Where the profile file is, given the environment (QDCTL_CONFIG, XDG_CONFIG_HOME, HOME).
std::string ProfilePath(const std::map<std::string, std::string>& env);

// Loads profile `name` from the file at `path`; with no name, the file's default_profile, if
// any. A missing file, or no name and no default_profile, gives an empty Profile.
// Errors (kInvalidArgument, qdctl exit 2), each naming the file: malformed TOML (with the line),
// `profile "x" not found in <file>` (also when a name is given and the file is missing), a field
// of the wrong type or an unknown field.
Result<Profile> LoadProfile(const std::string& path, const std::optional<std::string>& name);

}  // namespace qd::qdctl
