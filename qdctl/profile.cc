#include "qdctl/profile.h"

#include <toml++/toml.h>  // Debian's libtomlplusplus is built with exceptions: caught below

#include <filesystem>

namespace qd::qdctl {

std::string ProfilePath(const std::map<std::string, std::string>& env) {
  auto get = [&](const char* k) -> std::string {
    auto it = env.find(k);
    return it == env.end() ? "" : it->second;
  };
  if (!get("QDCTL_CONFIG").empty()) return get("QDCTL_CONFIG");
  if (!get("XDG_CONFIG_HOME").empty()) return get("XDG_CONFIG_HOME") + "/qdctl/config.toml";
  return get("HOME") + "/.config/qdctl/config.toml";
}

Result<Profile> LoadProfile(const std::string& path, const std::string& name) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!name.empty()) {
      return Status::InvalidArgument("profile \"" + name + "\" not found: " + path + " does not exist");
    }
    return Profile{};
  }
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.source().begin.line) + ": " +
                                   std::string(e.description()));
  }
  std::string chosen = name;
  if (chosen.empty()) {
    if (auto def = root["default_profile"].value<std::string>()) chosen = *def;
  }
  if (chosen.empty()) return Profile{};

  const toml::table* table = root["profiles"][chosen].as_table();
  if (table == nullptr) {
    return Status::InvalidArgument("profile \"" + chosen + "\" not found in " + path);
  }
  Profile profile;
  auto wrong_type = [&](const char* key, const char* expected) {
    return Status::InvalidArgument(path + ": profiles." + chosen + "." + key + " must be " + expected);
  };
  if (const toml::node* url = table->get("url")) {
    if (!url->is_string()) return wrong_type("url", "a string");
    profile.url = url->value<std::string>();
  }
  if (const toml::node* key = table->get("api_key")) {
    if (!key->is_string()) return wrong_type("api_key", "a string");
    profile.api_key = key->value<std::string>();
  }
  if (const toml::node* timeout = table->get("timeout")) {
    auto seconds = timeout->value<double>();
    if (!seconds || *seconds <= 0) return wrong_type("timeout", "a positive number of seconds");
    profile.timeout_seconds = seconds;
  }
  return profile;
}

}  // namespace qd::qdctl
