#include <cstdio>

#include "qdctl/commands/commands.h"
#include "qdctl/profile.h"

namespace qd::qdctl {

std::unique_ptr<client::Client> Context::Connect() {
  auto from_env = [&](const char* name) -> std::string {
    auto it = env.find(name);
    return it == env.end() ? "" : it->second;
  };
  auto profile_result = LoadProfile(ProfilePath(env), profile);
  if (!profile_result.ok()) {
    Fail(profile_result.status());
    exit_code = kExitUsage;
    return nullptr;
  }
  const Profile& p = profile_result.value();

  std::string chosen_url = !url.empty() ? url
                           : !from_env("QDCTL_URL").empty() ? from_env("QDCTL_URL")
                           : p.url ? *p.url
                           : "http://localhost:6334";
  auto endpoint = ParseUri(chosen_url, 6334);
  if (!endpoint.ok()) {
    Fail(endpoint.status());
    exit_code = kExitUsage;
    return nullptr;
  }
  client::ClientOptions options;
  options.endpoint = endpoint.value();
  std::string key = !api_key.empty() ? api_key : from_env("QDCTL_API_KEY");
  if (!key.empty()) {
    options.api_key = key;
  } else if (p.api_key) {
    options.api_key = p.api_key;
  }
  double seconds = timeout_seconds > 0 ? timeout_seconds : p.timeout_seconds.value_or(5.0);
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  return client::Client::Connect(std::move(options));
}

void Context::Fail(const Status& status) {
  std::fprintf(stderr, "qdctl: %s\n", status.message().c_str());
  exit_code = status.code() == StatusCode::kUnavailable ? kExitUnreachable : kExitRefused;
}

}  // namespace qd::qdctl
