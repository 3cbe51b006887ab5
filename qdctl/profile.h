// qdctl's profile file (TOML): named endpoints so an operator types `--profile prod` instead of
// a URL and a key. Looked up at $QDCTL_CONFIG, else $XDG_CONFIG_HOME/qdctl/config.toml, else
// ~/.config/qdctl/config.toml:
//
//   default_profile = "local"          # optional: used when --profile is not given
//   [profiles.local]
//   url = "http://localhost:6334"
//   [profiles.prod]
//   url = "https://qdrant-1.example:6334"
//   api_key = "..."
//   timeout = 10                        # seconds
#pragma once

#include <map>
#include <optional>
#include <string>

#include "libshared/status.h"

namespace qd::qdctl {

struct Profile {
  std::optional<std::string> url;
  std::optional<std::string> api_key;
  std::optional<double> timeout_seconds;
};

// Where the profile file is, given the environment.
std::string ProfilePath(const std::map<std::string, std::string>& env);

// Loads profile `name` (or the file's default_profile when `name` is empty) from `path`.
// A missing file, or no name and no default, gives an empty Profile. Errors (kInvalidArgument,
// qdctl exit 2): malformed TOML (file and line named), an unknown profile, fields of the wrong type.
Result<Profile> LoadProfile(const std::string& path, const std::string& name);

}  // namespace qd::qdctl
