#include "qdctl/context.h"

#include <cmath>
#include <cstdio>

#include "qdctl/profile.h"

namespace qd::qdctl {
namespace {

std::optional<std::string> FromEnv(const std::map<std::string, std::string>& env,
                                   const char* name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

}  // namespace

Result<client::ClientOptions> ResolveClientOptions(const GlobalOptions& flags,
                                                   const std::map<std::string, std::string>& env) {
  Result<Profile> loaded = LoadProfile(ProfilePath(env), flags.profile);
  if (!loaded.ok()) return loaded.status();
  const Profile& profile = loaded.value();

  std::optional<std::string> url = flags.url;
  if (!url) url = FromEnv(env, "QDCTL_URL");
  if (!url) url = profile.url;
  Result<Uri> endpoint = ParseUri(url.value_or(kDefaultUrl), kDefaultGrpcPort);
  if (!endpoint.ok()) {
    if (!flags.url && !FromEnv(env, "QDCTL_URL") && profile.url) {
      return endpoint.status().WithContext("profile \"" + profile.name + "\"");
    }
    return endpoint.status();
  }

  client::ClientOptions options;
  options.endpoint = std::move(endpoint).value();
  options.api_key = flags.api_key;
  if (!options.api_key) options.api_key = FromEnv(env, "QDCTL_API_KEY");
  if (!options.api_key) options.api_key = profile.api_key;
  // The TLS files come as a set: a flag for one of them takes none from the profile.
  if (flags.tls_ca || flags.tls_cert || flags.tls_key) {
    options.tls_ca_path = flags.tls_ca;
    options.tls_cert_path = flags.tls_cert;
    options.tls_key_path = flags.tls_key;
  } else {
    options.tls_ca_path = profile.tls_ca;
    options.tls_cert_path = profile.tls_cert;
    options.tls_key_path = profile.tls_key;
  }

  double seconds =
      flags.timeout_seconds.value_or(profile.timeout_seconds.value_or(kDefaultTimeoutSeconds));
  if (!(seconds >= 0.001 && seconds <= kMaxTimeoutSeconds)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", seconds);
    return Status::InvalidArgument(std::string("invalid timeout ") + buf +
                                   ": it must be from 0.001 to 86400 seconds");
  }
  options.timeout = std::chrono::milliseconds(std::llround(seconds * 1000));
  return options;
}

std::unique_ptr<client::Client> Context::Connect() {
  Result<client::ClientOptions> options = ResolveClientOptions(flags_, env_);
  if (!options.ok()) {
    UsageError(options.status());
    return nullptr;
  }
  Result<std::unique_ptr<client::Client>> client =
      client::Client::Connect(std::move(options).value());
  if (!client.ok()) {
    UsageError(client.status());
    return nullptr;
  }
  return std::move(client).value();
}

void Context::Print(const Record& record) const {
  std::fputs(Render(record, format()).c_str(), stdout);
}

void Context::PrintList(const std::vector<Record>& rows) const {
  std::fputs(RenderList(rows, format()).c_str(), stdout);
}

void Context::Fail(const Status& status) {
  std::fprintf(stderr, "qdctl: %s\n", status.message().c_str());
  exit_code_ = status.code() == StatusCode::kUnavailable ? kExitUnreachable : kExitRefused;
}

void Context::UsageError(const Status& status) {
  std::fprintf(stderr, "qdctl: %s\n", status.message().c_str());
  exit_code_ = kExitUsage;
}

}  // namespace qd::qdctl
