#include "qdctl/profile.h"

// Debian's toml++ is a compiled library built with exceptions, so parse errors arrive as
// toml::parse_error; they are caught here and nowhere else.
#include <toml++/toml.h>

#include <filesystem>

namespace qd::qdctl {
namespace {

std::string Get(const std::map<std::string, std::string>& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

Status ProfileNotFound(const std::string& name, const std::string& path, const char* why) {
  return Status::InvalidArgument("profile \"" + name + "\" not found in " + path + why);
}

}  // namespace

std::string ProfilePath(const std::map<std::string, std::string>& env) {
  if (std::string path = Get(env, "QDCTL_CONFIG"); !path.empty()) return path;
  if (std::string xdg = Get(env, "XDG_CONFIG_HOME"); !xdg.empty()) {
    return xdg + "/qdctl/config.toml";
  }
  return Get(env, "HOME") + "/.config/qdctl/config.toml";
}

Result<Profile> LoadProfile(const std::string& path, const std::optional<std::string>& name) {
  std::error_code ec;
  const auto type = std::filesystem::status(path, ec).type();
  if (type == std::filesystem::file_type::not_found) {
    if (name) return ProfileNotFound(*name, path, " (the file does not exist)");
    return Profile{};
  }
  if (type != std::filesystem::file_type::regular) {
    return Status::InvalidArgument("profile file " + path + " is not a regular file");
  }

  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const toml::source_position& where = e.source().begin;
    return Status::InvalidArgument(
        "malformed profile file " + path +
        (where.line > 0 ? ", line " + std::to_string(where.line) : std::string()) + ": " +
        std::string(e.description()));
  }
  auto wrong = [&](const std::string& key, const char* expected) {
    return Status::InvalidArgument("profile file " + path + ": " + key + " must be " + expected);
  };

  std::string chosen;
  if (name) {
    chosen = *name;
  } else if (const toml::node* def = root.get("default_profile")) {
    if (!def->is_string()) return wrong("default_profile", "a string");
    chosen = **def->as_string();
  } else {
    return Profile{};
  }

  const toml::node* profiles = root.get("profiles");
  if (profiles != nullptr && !profiles->is_table()) return wrong("profiles", "a table");
  const toml::node* node = profiles ? profiles->as_table()->get(chosen) : nullptr;
  if (node == nullptr) return ProfileNotFound(chosen, path, "");
  const toml::table* table = node->as_table();
  if (table == nullptr) return wrong("profiles." + chosen, "a table");

  Profile profile;
  profile.name = chosen;
  for (const auto& [key, value] : *table) {
    const std::string field = "profiles." + chosen + "." + std::string(key.str());
    if (key == "url") {
      if (!value.is_string()) return wrong(field, "a string");
      profile.url = **value.as_string();
    } else if (key == "api_key") {
      if (!value.is_string()) return wrong(field, "a string");
      profile.api_key = **value.as_string();
    } else if (key == "tls_ca" || key == "tls_cert" || key == "tls_key") {
      if (!value.is_string()) return wrong(field, "a string");
      std::optional<std::string>& slot = key == "tls_ca"     ? profile.tls_ca
                                         : key == "tls_cert" ? profile.tls_cert
                                                             : profile.tls_key;
      slot = **value.as_string();
    } else if (key == "timeout") {
      std::optional<double> seconds = value.is_number() ? value.value<double>() : std::nullopt;
      if (!seconds || !(*seconds > 0)) return wrong(field, "a positive number of seconds");
      profile.timeout_seconds = seconds;
    } else {
      // A typo ("api-key") would otherwise silently send no key.
      return Status::InvalidArgument("profile file " + path + ": unknown field " + field +
                                     " (expected url, api_key, tls_ca, tls_cert, tls_key or "
                                     "timeout)");
    }
  }
  return profile;
}

}  // namespace qd::qdctl
