// qdctl's profile file and the precedence of its settings: flag > environment > profile >
// default, and the usage errors (exit 2) an operator gets for a bad file.
#include "qdctl/profile.h"

#include <catch2/catch.hpp>

#include "qdctl/context.h"
#include "tests/support/temp_dir.h"

using qd::qdctl::GlobalOptions;
using qd::qdctl::LoadProfile;
using qd::qdctl::Profile;
using qd::qdctl::ProfilePath;
using qd::qdctl::ResolveClientOptions;
using Env = std::map<std::string, std::string>;
using namespace std::chrono_literals;

namespace {

constexpr const char* kTwoProfiles = R"(
default_profile = "local"

[profiles.local]
url = "http://localhost:7334"

[profiles.prod]
url = "https://qdrant-1.example.com:6334"
api_key = "secret"
tls_ca = "/etc/qdrant/tls/cacert.pem"
tls_cert = "client.pem"
tls_key = "client.key"
timeout = 10
)";

}  // namespace

TEST_CASE("the profile file is found through QDCTL_CONFIG, XDG_CONFIG_HOME, then HOME",
          "[unit][qdctl]") {
  CHECK(ProfilePath({{"HOME", "/home/a"}}) == "/home/a/.config/qdctl/config.toml");
  CHECK(ProfilePath({{"HOME", "/home/a"}, {"XDG_CONFIG_HOME", "/xdg"}}) ==
        "/xdg/qdctl/config.toml");
  CHECK(ProfilePath(
            {{"HOME", "/home/a"}, {"XDG_CONFIG_HOME", "/xdg"}, {"QDCTL_CONFIG", "/c.toml"}}) ==
        "/c.toml");
  CHECK(ProfilePath({{"HOME", "/home/a"}, {"XDG_CONFIG_HOME", ""}}) ==
        "/home/a/.config/qdctl/config.toml");
}

TEST_CASE("LoadProfile reads a named profile, or the default one", "[unit][qdctl]") {
  qd::test::TempDir dir;
  std::string path = dir.Write("config.toml", kTwoProfiles);

  qd::Result<Profile> prod = LoadProfile(path, "prod");
  REQUIRE(prod.ok());
  CHECK(prod->name == "prod");
  CHECK(prod->url == "https://qdrant-1.example.com:6334");
  CHECK(prod->api_key == "secret");
  CHECK(prod->tls_ca == "/etc/qdrant/tls/cacert.pem");
  CHECK(prod->tls_cert == "client.pem");
  CHECK(prod->tls_key == "client.key");
  CHECK(prod->timeout_seconds == 10.0);

  qd::Result<Profile> by_default = LoadProfile(path, std::nullopt);
  REQUIRE(by_default.ok());
  CHECK(by_default->name == "local");
  CHECK(by_default->url == "http://localhost:7334");
  CHECK_FALSE(by_default->api_key);
  CHECK_FALSE(by_default->timeout_seconds);
}

TEST_CASE("LoadProfile without a name or default_profile, or without a file, gives nothing",
          "[unit][qdctl]") {
  qd::test::TempDir dir;
  std::string path = dir.Write("config.toml", "[profiles.a]\nurl = \"x\"\n");
  qd::Result<Profile> none = LoadProfile(path, std::nullopt);
  REQUIRE(none.ok());
  CHECK(none->name.empty());
  CHECK_FALSE(none->url);

  qd::Result<Profile> missing = LoadProfile(dir.path() + "/absent.toml", std::nullopt);
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->url);
}

TEST_CASE("LoadProfile reports an unknown profile naming it and the file", "[unit][qdctl]") {
  qd::test::TempDir dir;
  std::string path = dir.Write("config.toml", kTwoProfiles);
  qd::Result<Profile> unknown = LoadProfile(path, "staging");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == qd::StatusCode::kInvalidArgument);
  CHECK(unknown.status().message() == "profile \"staging\" not found in " + path);

  std::string absent = dir.path() + "/absent.toml";
  qd::Result<Profile> no_file = LoadProfile(absent, "prod");
  REQUIRE_FALSE(no_file.ok());
  CHECK(no_file.status().message() ==
        "profile \"prod\" not found in " + absent + " (the file does not exist)");

  std::string bad_default = dir.Write("default.toml", "default_profile = \"gone\"\n");
  qd::Result<Profile> gone = LoadProfile(bad_default, std::nullopt);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.status().message() == "profile \"gone\" not found in " + bad_default);
}

TEST_CASE("LoadProfile reports malformed TOML with the file and line", "[unit][qdctl]") {
  qd::test::TempDir dir;
  std::string path = dir.Write("config.toml", "[profiles.a]\nurl = \"x\"\nthis is not toml\n");
  qd::Result<Profile> bad = LoadProfile(path, "a");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == qd::StatusCode::kInvalidArgument);
  const std::string& m = bad.status().message();
  INFO(m);
  CHECK(m.rfind("malformed profile file " + path + ", line 3: ", 0) == 0);
}

TEST_CASE("LoadProfile rejects fields of the wrong type and unknown fields", "[unit][qdctl]") {
  struct Case {
    const char* toml;
    const char* message;  // after "profile file <path>: "
  };
  const Case cases[] = {
      {"[profiles.a]\nurl = 1\n", "profiles.a.url must be a string"},
      {"[profiles.a]\napi_key = true\n", "profiles.a.api_key must be a string"},
      {"[profiles.a]\ntimeout = \"5\"\n",
       "profiles.a.timeout must be a positive number of seconds"},
      {"[profiles.a]\ntimeout = 0\n", "profiles.a.timeout must be a positive number of seconds"},
      {"[profiles.a]\napi-key = \"k\"\n",
       "unknown field profiles.a.api-key (expected url, api_key, tls_ca, tls_cert, tls_key or "
       "timeout)"},
      {"profiles = 1\n", "profiles must be a table"},
      {"[profiles]\na = 1\n", "profiles.a must be a table"},
  };
  qd::test::TempDir dir;
  for (const Case& c : cases) {
    INFO(c.toml);
    std::string path = dir.Write("config.toml", c.toml);
    qd::Result<Profile> bad = LoadProfile(path, "a");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message() == "profile file " + path + ": " + c.message);
  }
  std::string path = dir.Write("config.toml", "default_profile = 3\n");
  qd::Result<Profile> bad = LoadProfile(path, std::nullopt);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "profile file " + path + ": default_profile must be a string");
}

TEST_CASE("a fractional or integer timeout in a profile is seconds", "[unit][qdctl]") {
  qd::test::TempDir dir;
  std::string path = dir.Write("config.toml", "[profiles.a]\ntimeout = 0.25\n");
  qd::Result<Profile> p = LoadProfile(path, "a");
  REQUIRE(p.ok());
  CHECK(p->timeout_seconds == 0.25);
}

TEST_CASE("settings resolve as flag > environment > profile > default", "[unit][qdctl]") {
  qd::test::TempDir dir;
  std::string path = dir.Write("config.toml", kTwoProfiles);
  Env env = {{"QDCTL_CONFIG", path}};

  SECTION("defaults, with no file") {
    qd::Result<qd::client::ClientOptions> o =
        ResolveClientOptions({}, {{"QDCTL_CONFIG", dir.path() + "/absent.toml"}});
    REQUIRE(o.ok());
    CHECK(o->endpoint.ToString() == "http://localhost:6334");
    CHECK_FALSE(o->api_key);
    CHECK(o->timeout == 5s);
  }
  SECTION("the default profile") {
    qd::Result<qd::client::ClientOptions> o = ResolveClientOptions({}, env);
    REQUIRE(o.ok());
    CHECK(o->endpoint.ToString() == "http://localhost:7334");
  }
  SECTION("a named profile beats the default profile and the defaults") {
    GlobalOptions flags;
    flags.profile = "prod";
    qd::Result<qd::client::ClientOptions> o = ResolveClientOptions(flags, env);
    REQUIRE(o.ok());
    CHECK(o->endpoint.ToString() == "https://qdrant-1.example.com:6334");
    CHECK(o->api_key == "secret");
    CHECK(o->timeout == 10s);
  }
  SECTION("the environment beats the profile") {
    GlobalOptions flags;
    flags.profile = "prod";
    env["QDCTL_URL"] = "env-host:1";
    env["QDCTL_API_KEY"] = "env-key";
    qd::Result<qd::client::ClientOptions> o = ResolveClientOptions(flags, env);
    REQUIRE(o.ok());
    CHECK(o->endpoint.ToString() == "http://env-host:1");
    CHECK(o->api_key == "env-key");
    CHECK(o->timeout == 10s);
  }
  SECTION("flags beat the environment and the profile") {
    GlobalOptions flags;
    flags.profile = "prod";
    flags.url = "https://flag-host:2";
    flags.api_key = "flag-key";
    flags.timeout_seconds = 0.5;
    env["QDCTL_URL"] = "env-host:1";
    env["QDCTL_API_KEY"] = "env-key";
    qd::Result<qd::client::ClientOptions> o = ResolveClientOptions(flags, env);
    REQUIRE(o.ok());
    CHECK(o->endpoint.ToString() == "https://flag-host:2");
    CHECK(o->api_key == "flag-key");
    CHECK(o->timeout == 500ms);
    CHECK(o->tls_ca_path == "/etc/qdrant/tls/cacert.pem");
  }
  SECTION("a TLS flag replaces the profile's three TLS files") {
    GlobalOptions flags;
    flags.profile = "prod";
    flags.tls_ca = "other-ca.pem";
    qd::Result<qd::client::ClientOptions> o = ResolveClientOptions(flags, env);
    REQUIRE(o.ok());
    CHECK(o->tls_ca_path == "other-ca.pem");
    CHECK_FALSE(o->tls_cert_path);
    CHECK_FALSE(o->tls_key_path);
  }
}

TEST_CASE("resolving reports bad URLs and profile errors as usage errors", "[unit][qdctl]") {
  qd::test::TempDir dir;
  std::string path = dir.Write("config.toml", "[profiles.bad]\nurl = \"htp:/x\"\n");
  Env env = {{"QDCTL_CONFIG", path}};

  GlobalOptions flags;
  flags.url = "htp:/x";
  qd::Result<qd::client::ClientOptions> from_flag = ResolveClientOptions(flags, env);
  REQUIRE_FALSE(from_flag.ok());
  CHECK(from_flag.status().code() == qd::StatusCode::kInvalidArgument);
  CHECK(from_flag.status().message().rfind("invalid URL \"htp:/x\": ", 0) == 0);

  GlobalOptions profile_flags;
  profile_flags.profile = "bad";
  qd::Result<qd::client::ClientOptions> from_profile = ResolveClientOptions(profile_flags, env);
  REQUIRE_FALSE(from_profile.ok());
  CHECK(from_profile.status().message().rfind("profile \"bad\": invalid URL \"htp:/x\": ", 0) == 0);

  GlobalOptions unknown;
  unknown.profile = "nope";
  qd::Result<qd::client::ClientOptions> missing = ResolveClientOptions(unknown, env);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message() == "profile \"nope\" not found in " + path);

  GlobalOptions slow;
  slow.timeout_seconds = 1e9;
  qd::Result<qd::client::ClientOptions> too_slow = ResolveClientOptions(slow, env);
  REQUIRE_FALSE(too_slow.ok());
  CHECK(too_slow.status().message() ==
        "invalid timeout 1e+09: it must be from 0.001 to 86400 seconds");
}
