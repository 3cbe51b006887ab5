// API keys, read-only keys and JWTs (issue #19): the access check, the JWT verifier, the
// authenticator, the table of what each route and method needs, and the router enforcing it.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "qdrantd/api/auth/authenticator.h"
#include "qdrantd/api/auth/jwt.h"
#include "qdrantd/api/auth/operations.h"
#include "qdrantd/api/rest/router.h"

using namespace qd;
using namespace qd::api::auth;

namespace {

constexpr Requirement kRead{Need::kRead, Scope::kCollection};
constexpr Requirement kWrite{Need::kWrite, Scope::kCollection};
constexpr Requirement kManage{Need::kManage, Scope::kGlobal};
constexpr Requirement kReadNode{Need::kRead, Scope::kGlobal};

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Authenticator Keys(bool jwt = false) {
  return Authenticator(
      AuthOptions{.api_key = "full-key", .read_only_api_key = "ro-key", .jwt_rbac = jwt});
}

Credentials Key(std::string_view key) { return Credentials{key, std::nullopt}; }

}  // namespace

TEST_CASE("what each access allows", "[unit][auth]") {
  struct Case {
    const char* what;
    Access access;
    Requirement need;
    const char* collection;
    const char* error;  // "" when allowed
  };
  const Access books_rw_films_r = Access::Collections(
      {{"books", CollectionMode::kReadWrite}, {"films", CollectionMode::kRead}});
  const Case cases[] = {
      {"manage writes", Access::Manage(), kWrite, "books", ""},
      {"manage manages", Access::Manage(), kManage, "", ""},
      {"read-only reads", Access::ReadOnly(), kRead, "books", ""},
      {"read-only reads node-wide", Access::ReadOnly(), kReadNode, "", ""},
      {"read-only cannot write", Access::ReadOnly(), kWrite, "books",
       "Forbidden: Write access is required"},
      {"read-only cannot manage", Access::ReadOnly(), kManage, "",
       "Forbidden: Global manage access is required"},
      {"rw collection writes", books_rw_films_r, kWrite, "books", ""},
      {"r collection reads", books_rw_films_r, kRead, "films", ""},
      {"r collection cannot write", books_rw_films_r, kWrite, "films",
       "Forbidden: Write access to collection films is required"},
      {"other collection refused", books_rw_films_r, kRead, "music",
       "Forbidden: Access to collection music is required"},
      {"collection token cannot list", books_rw_films_r, kReadNode, "",
       "Forbidden: Global access is required"},
      {"collection token cannot manage", books_rw_films_r, kManage, "books",
       "Forbidden: Global manage access is required"},
      {"open needs nothing", Access::Collections({}), Requirement{Need::kOpen, Scope::kGlobal}, "",
       ""},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Status s = c.access.Check(c.need, c.collection);
    if (std::string(c.error).empty()) {
      CHECK(s.ok());
    } else {
      CHECK(s.code() == StatusCode::kPermissionDenied);
      CHECK(s.message() == c.error);
    }
  }
}

TEST_CASE("the authenticator tells a missing, wrong, read-only and full key apart",
          "[unit][auth]") {
  const Authenticator auth = Keys();
  REQUIRE(auth.enabled());

  Result<Access> none = auth.Authenticate({});
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == StatusCode::kUnauthenticated);
  CHECK(none.status().message() == "Must provide an API key or an Authorization bearer token");

  Result<Access> wrong = auth.Authenticate(Key("full-key "));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().code() == StatusCode::kUnauthenticated);
  CHECK(wrong.status().message() == "Invalid API key or JWT");

  Result<Access> prefix = auth.Authenticate(Key("full"));
  CHECK_FALSE(prefix.ok());

  Result<Access> full = auth.Authenticate(Key("full-key"));
  REQUIRE(full.ok());
  CHECK(full->is_manage());
  Result<Access> ro = auth.Authenticate(Key("ro-key"));
  REQUIRE(ro.ok());
  CHECK(ro->is_read_only());

  // Authorization: Bearer, the scheme in any case; the api-key header wins when both are sent.
  CHECK(auth.Authenticate({std::nullopt, "Bearer full-key"})->is_manage());
  CHECK(auth.Authenticate({std::nullopt, "bearer ro-key"})->is_read_only());
  CHECK_FALSE(auth.Authenticate({std::nullopt, "Basic full-key"}).ok());
  CHECK(auth.Authenticate({"ro-key", "Bearer full-key"})->is_read_only());

  CHECK(auth.Authorize(Key("ro-key"), kWrite, "books").code() == StatusCode::kPermissionDenied);
  CHECK(auth.Authorize({}, Requirement{Need::kOpen, Scope::kGlobal}, "").ok());

  const Authenticator off(AuthOptions{});
  CHECK_FALSE(off.enabled());
  CHECK(off.Authorize({}, kManage, "").ok());

  // Only a read-only key: nobody can write, as in Qdrant.
  const Authenticator read_only_only(
      AuthOptions{.api_key = std::nullopt, .read_only_api_key = "ro-key", .jwt_rbac = false});
  CHECK(read_only_only.enabled());
  CHECK(read_only_only.Authorize(Key("ro-key"), kRead, "books").ok());
  CHECK_FALSE(read_only_only.Authorize(Key("ro-key"), kWrite, "books").ok());
}

TEST_CASE("JWTs signed with the API key carry Qdrant's claims", "[unit][auth]") {
  const std::string secret = "full-key";
  const int64_t now = Now();

  SECTION("no access claim means manage; r means read-only") {
    CHECK(VerifyJwt(SignJwtForTesting("{}", secret), secret, now)->is_manage());
    CHECK(VerifyJwt(SignJwtForTesting(R"({"access":"m"})", secret), secret, now)->is_manage());
    CHECK(VerifyJwt(SignJwtForTesting(R"({"access":"r"})", secret), secret, now)->is_read_only());
  }
  SECTION("a collection list") {
    Result<Access> a = VerifyJwt(
        SignJwtForTesting(
            R"({"access":[{"collection":"books","access":"rw"},{"collection":"films","access":"r"}]})",
            secret),
        secret, now);
    REQUIRE(a.ok());
    CHECK(a->Check(kWrite, "books").ok());
    CHECK(a->Check(kRead, "films").ok());
    CHECK_FALSE(a->Check(kWrite, "films").ok());
    CHECK_FALSE(a->Check(kRead, "music").ok());
  }
  SECTION("exp: valid until it passes, with a minute of leeway") {
    const std::string later = "{\"exp\":" + std::to_string(now + 3600) + "}";
    CHECK(VerifyJwt(SignJwtForTesting(later, secret), secret, now).ok());
    const std::string skewed = "{\"exp\":" + std::to_string(now - 30) + "}";
    CHECK(VerifyJwt(SignJwtForTesting(skewed, secret), secret, now).ok());
    const std::string past = "{\"exp\":" + std::to_string(now - 3600) + "}";
    Result<Access> expired = VerifyJwt(SignJwtForTesting(past, secret), secret, now);
    REQUIRE_FALSE(expired.ok());
    CHECK(expired.status().code() == StatusCode::kPermissionDenied);
    CHECK(expired.status().message().find("ExpiredSignature") != std::string::npos);
  }
  SECTION("a token signed with another key is refused") {
    Result<Access> forged = VerifyJwt(SignJwtForTesting(R"({"access":"m"})", "other"), secret, now);
    REQUIRE_FALSE(forged.ok());
    CHECK(forged.status().code() == StatusCode::kPermissionDenied);
    CHECK(forged.status().message().find("InvalidSignature") != std::string::npos);
  }
  SECTION("malformed tokens and claims are not tokens") {
    const std::string good = SignJwtForTesting(R"({"access":"r"})", secret);
    const std::string header = good.substr(0, good.find('.'));
    for (const std::string& token :
         {std::string("a.b.c"), std::string("not-a-jwt"), good + ".x",
          // alg none, unsigned
          std::string("eyJhbGciOiJub25lIn0.e30."), SignJwtForTesting(R"({"access":"x"})", secret),
          SignJwtForTesting(R"({"access":[{"collection":"a","access":"w"}]})", secret),
          SignJwtForTesting(R"({"exp":"tomorrow"})", secret), SignJwtForTesting("[1]", secret)}) {
      INFO(token);
      Result<Access> a = VerifyJwt(token, secret, now);
      REQUIRE_FALSE(a.ok());
      CHECK(a.status().code() == StatusCode::kUnauthenticated);
      CHECK(a.status().message() == "Invalid API key or JWT");
    }
  }
  SECTION("value_exists is refused, never ignored") {
    Result<Access> a = VerifyJwt(
        SignJwtForTesting(
            R"({"value_exists":{"collection":"users","matches":[{"key":"user","value":"ann"}]}})",
            secret),
        secret, now);
    REQUIRE_FALSE(a.ok());
    CHECK(a.status().code() == StatusCode::kPermissionDenied);
  }
  SECTION("the authenticator reads JWTs only with jwt_rbac") {
    const std::string token = SignJwtForTesting(R"({"access":"r"})", "full-key");
    CHECK(Keys(true).Authenticate(Key(token))->is_read_only());
    CHECK(Keys(true).Authenticate({std::nullopt, "Bearer " + token})->is_read_only());
    Result<Access> without = Keys(false).Authenticate(Key(token));
    REQUIRE_FALSE(without.ok());
    CHECK(without.status().code() == StatusCode::kUnauthenticated);
  }
}

TEST_CASE("every gRPC method of every public service has an access rule", "[unit][auth]") {
  // The services as the .proto files declare them, so a method added there without a row in
  // api/auth/operations.cc fails here.
  std::set<std::string> declared;
  for (const char* file : {"qdrant.proto", "collections_service.proto", "points_service.proto",
                           "snapshots_service.proto", "admin.proto"}) {
    std::ifstream in(std::string(QD_SOURCE_DIR) + "/proto/" + file);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    const std::string proto = text.str();
    std::smatch package;
    REQUIRE(std::regex_search(proto, package, std::regex(R"(\npackage\s+([\w.]+)\s*;)")));
    std::string service;
    static const std::regex kLine(R"((?:^|\n)\s*(service|rpc)\s+(\w+))");
    for (auto it = std::sregex_iterator(proto.begin(), proto.end(), kLine);
         it != std::sregex_iterator(); ++it) {
      if ((*it)[1] == "service") {
        service = (*it)[2];
      } else {
        declared.insert(package[1].str() + "." + service + "/" + (*it)[2].str());
      }
    }
  }
  REQUIRE(declared.size() > 50);
  for (const std::string& method : declared) {
    INFO(method);
    CHECK(GrpcRequirement(method).has_value());
  }
  CHECK(GrpcRequirement("qdrant.Points/Upsert")->need == Need::kWrite);
  CHECK(GrpcRequirement("qdrant.Points/Search")->need == Need::kRead);
  CHECK(GrpcRequirement("qdrant.Collections/Create")->need == Need::kManage);
  CHECK(GrpcRequirement("qdrant.Qdrant/HealthCheck")->need == Need::kOpen);
  CHECK_FALSE(GrpcRequirement("qdrant.Points/Nonexistent"));
}

TEST_CASE("the router refuses before the handler runs, and opens what Qdrant opens",
          "[unit][auth][rest]") {
  using namespace qd::api::rest;
  int handled = 0;
  Router router;
  auto handler = [&handled](Request&, Reply reply) {
    ++handled;
    reply.Send(TextResult("ok"));
  };
  router.Add("GET", "/healthz", handler);
  router.Add("GET", "/collections/{collection_name}", handler);
  router.Add("PUT", "/collections/{collection_name}/points", handler);
  const Authenticator auth = Keys();
  REQUIRE(router.Protect(&auth).ok());

  auto call = [&](std::string method, std::string path, Credentials credentials) {
    Request request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.credentials = credentials;
    Response out;
    router.Dispatch(request, Reply([&](Response r) { out = std::move(r); }));
    return out;
  };
  CHECK(call("GET", "/healthz", {}).status == 200);
  CHECK(call("GET", "/collections/books", {}).status == 401);
  CHECK(call("GET", "/collections/books", Key("wrong")).status == 401);
  CHECK(call("GET", "/collections/books", Key("ro-key")).status == 200);
  Response denied = call("PUT", "/collections/books/points", Key("ro-key"));
  CHECK(denied.status == 403);
  CHECK(denied.body.find("Forbidden: Write access is required") != std::string::npos);
  CHECK(call("PUT", "/collections/books/points", Key("full-key")).status == 200);
  CHECK(handled == 3);
  // Unknown paths are authenticated first, as Qdrant's middleware runs before routing.
  CHECK(call("GET", "/nope", {}).status == 401);
  CHECK(call("GET", "/nope", Key("ro-key")).status == 404);

  Router unknown;
  unknown.Add("GET", "/not-in-the-table", handler);
  Status s = unknown.Protect(&auth);
  CHECK(s.code() == StatusCode::kInternal);
  CHECK(s.message().find("GET /not-in-the-table") != std::string::npos);
}
