// API keys, read-only keys and JWTs (issue #19) on a real qdrantd over real HTTP and gRPC:
// every key case (none, wrong, read-only writing, read-only reading, full) on a sample of REST
// routes and gRPC methods, the open health endpoints, JWT claims, qdctl with and without
// --api-key, and the settings the daemon refuses at start.
#include <grpcpp/grpcpp.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "collections_service.grpc.pb.h"
#include "points_service.grpc.pb.h"
#include "qdrant.grpc.pb.h"
#include "qdrantd/api/auth/jwt.h"
#include "tests/support/node.h"

using namespace qd::test;

namespace {

constexpr const char* kKey = "s3cret-full-key";
constexpr const char* kReadOnlyKey = "s3cret-read-only-key";

using Headers = std::map<std::string, std::string>;

Node SecuredNode(bool jwt = false) {
  NodeOptions options;
  options.env = {{"QDRANT__SERVICE__API_KEY", kKey},
                 {"QDRANT__SERVICE__READ_ONLY_API_KEY", kReadOnlyKey}};
  if (jwt) options.env["QDRANT__SERVICE__JWT_RBAC"] = "true";
  return Node(options);
}

Headers ApiKey(const std::string& key) { return {{"api-key", key}}; }
Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }
// gRPC metadata keys are lower case.
Headers GrpcBearer(const std::string& token) { return {{"authorization", "Bearer " + token}}; }

std::string RestError(const HttpResponse& r) {
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("status") ||
      !doc["status"].IsObject() || !doc["status"].HasMember("error")) {
    return "<no error in " + r.body + ">";
  }
  return doc["status"]["error"].GetString();
}

constexpr const char* kCreate = R"({"vectors":{"size":2,"distance":"Dot"}})";
constexpr const char* kUpsert = R"({"points":[{"id":1,"vector":[1,0]}]})";
constexpr const char* kSearch = R"({"vector":[1,0],"limit":1})";

void CreateCollection(const Node& node, const std::string& name) {
  HttpResponse r =
      HttpRequest(node.http_port(), "PUT", "/collections/" + name, kCreate, ApiKey(kKey));
  INFO(r.body);
  REQUIRE(r.status == 200);
}

// A gRPC call with the given metadata and a deadline.
struct Call {
  grpc::ClientContext context;
  explicit Call(const Headers& metadata = {}) {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    for (const auto& [k, v] : metadata) context.AddMetadata(k, v);
  }
};

std::shared_ptr<grpc::Channel> Channel(const Node& node) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(node.grpc_port()),
                             grpc::InsecureChannelCredentials());
}

grpc::Status GrpcUpsert(const Node& node, const std::string& collection, const Headers& md) {
  auto points = qdrant::Points::NewStub(Channel(node));
  qdrant::UpsertPoints upsert;
  upsert.set_collection_name(collection);
  upsert.set_wait(true);
  qdrant::PointStruct* p = upsert.add_points();
  p->mutable_id()->set_num(2);
  for (float x : {0.0f, 1.0f}) p->mutable_vectors()->mutable_vector()->mutable_dense()->add_data(x);
  qdrant::PointsOperationResponse reply;
  Call call(md);
  return points->Upsert(&call.context, upsert, &reply);
}

grpc::Status GrpcSearch(const Node& node, const std::string& collection, const Headers& md) {
  auto points = qdrant::Points::NewStub(Channel(node));
  qdrant::SearchPoints search;
  search.set_collection_name(collection);
  search.add_vector(1);
  search.add_vector(0);
  search.set_limit(1);
  qdrant::SearchResponse reply;
  Call call(md);
  return points->Search(&call.context, search, &reply);
}

// Collections/List; the names listed go to `names` when given.
grpc::Status GrpcList(const Node& node, const Headers& md, std::string* names = nullptr) {
  auto collections = qdrant::Collections::NewStub(Channel(node));
  qdrant::ListCollectionsRequest request;
  qdrant::ListCollectionsResponse reply;
  Call call(md);
  grpc::Status s = collections->List(&call.context, request, &reply);
  if (names) {
    for (const auto& c : reply.collections()) *names += c.name() + " ";
  }
  return s;
}

grpc::Status GrpcDelete(const Node& node, const std::string& collection, const Headers& md) {
  auto collections = qdrant::Collections::NewStub(Channel(node));
  qdrant::DeleteCollection request;
  request.set_collection_name(collection);
  qdrant::CollectionOperationResponse reply;
  Call call(md);
  return collections->Delete(&call.context, request, &reply);
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("REST: health endpoints stay open and every other route needs a key",
          "[integration][auth]") {
  Node node = SecuredNode();
  REQUIRE(node.WaitReady());
  for (const char* path : {"/healthz", "/livez", "/readyz", "/"}) {
    INFO(path);
    CHECK(node.Get(path).status == 200);
  }
  CreateCollection(node, "books");

  struct Route {
    const char* method;
    std::string path;
    const char* body;
    bool write;
  };
  const Route routes[] = {
      {"GET", "/collections", "", false},
      {"GET", "/collections/books", "", false},
      {"GET", "/telemetry", "", false},
      {"GET", "/metrics", "", false},
      {"POST", "/collections/books/points/search", kSearch, false},
      {"POST", "/collections/books/points/scroll", "{}", false},
      {"PUT", "/collections/books/points?wait=true", kUpsert, true},
      {"PUT", "/collections/books/index", R"({"field_name":"city","field_schema":"keyword"})",
       true},
      {"POST", "/collections/aliases", R"({"actions":[]})", true},
      {"PUT", "/collections/films", kCreate, true},
  };
  for (const Route& r : routes) {
    INFO(r.method << " " << r.path);
    HttpResponse none = HttpRequest(node.http_port(), r.method, r.path, r.body);
    CHECK(none.status == 401);
    CHECK(none.headers["content-type"] == "application/json");
    CHECK(RestError(none) == "Must provide an API key or an Authorization bearer token");

    HttpResponse wrong = HttpRequest(node.http_port(), r.method, r.path, r.body, ApiKey("nope"));
    CHECK(wrong.status == 401);
    CHECK(RestError(wrong) == "Invalid API key or JWT");

    HttpResponse ro = HttpRequest(node.http_port(), r.method, r.path, r.body, ApiKey(kReadOnlyKey));
    if (r.write) {
      CHECK(ro.status == 403);
      CHECK(RestError(ro).rfind("Forbidden: ", 0) == 0);
    } else {
      CHECK(ro.status == 200);
    }
    HttpResponse full = HttpRequest(node.http_port(), r.method, r.path, r.body, ApiKey(kKey));
    CHECK(full.status == 200);
    // The same key as a bearer token (a second create of "films" is a 409, not a refusal).
    HttpResponse bearer = HttpRequest(node.http_port(), r.method, r.path, r.body, Bearer(kKey));
    CHECK(bearer.status != 401);
    CHECK(bearer.status != 403);
  }
  // The read-only key's refusal says what is missing.
  HttpResponse upsert = HttpRequest(node.http_port(), "PUT", "/collections/books/points", kUpsert,
                                    ApiKey(kReadOnlyKey));
  CHECK(RestError(upsert) == "Forbidden: Write access is required");
  HttpResponse remove =
      HttpRequest(node.http_port(), "DELETE", "/collections/books", "", ApiKey(kReadOnlyKey));
  CHECK(remove.status == 403);
  CHECK(RestError(remove) == "Forbidden: Global manage access is required");
  // An unknown path is authenticated before it is found missing.
  CHECK(HttpRequest(node.http_port(), "GET", "/nope").status == 401);
  CHECK(HttpRequest(node.http_port(), "GET", "/nope", "", ApiKey(kKey)).status == 404);

  // The keys never reach the log.
  node.process().Signal(SIGTERM);
  REQUIRE(node.process().Wait(std::chrono::seconds(20)).has_value());
  const std::string log = node.process().Stdout() + node.process().Stderr();
  CHECK(log.find(kKey) == std::string::npos);
  CHECK(log.find(kReadOnlyKey) == std::string::npos);
  CHECK(log.find("API keys required") != std::string::npos);
}

TEST_CASE("gRPC: UNAUTHENTICATED without a valid key, PERMISSION_DENIED for a read-only write",
          "[integration][auth][grpc]") {
  Node node = SecuredNode();
  REQUIRE(node.WaitReady());
  CreateCollection(node, "books");

  {  // Qdrant's health check stays open.
    auto qdrant_service = qdrant::Qdrant::NewStub(Channel(node));
    qdrant::HealthCheckRequest request;
    qdrant::HealthCheckReply reply;
    Call call;
    CHECK(qdrant_service->HealthCheck(&call.context, request, &reply).ok());
  }

  grpc::Status none = GrpcList(node, {});
  CHECK(none.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(none.error_message() == "Must provide an API key or an Authorization bearer token");
  grpc::Status wrong = GrpcSearch(node, "books", ApiKey("nope"));
  CHECK(wrong.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(wrong.error_message() == "Invalid API key or JWT");
  CHECK(GrpcUpsert(node, "books", {}).error_code() == grpc::StatusCode::UNAUTHENTICATED);

  grpc::Status ro_write = GrpcUpsert(node, "books", ApiKey(kReadOnlyKey));
  CHECK(ro_write.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(ro_write.error_message() == "Forbidden: Write access is required");
  CHECK(GrpcDelete(node, "books", ApiKey(kReadOnlyKey)).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  CHECK(GrpcSearch(node, "books", ApiKey(kReadOnlyKey)).ok());
  CHECK(GrpcList(node, ApiKey(kReadOnlyKey)).ok());

  grpc::Status full = GrpcUpsert(node, "books", ApiKey(kKey));
  INFO(full.error_message());
  CHECK(full.ok());
  CHECK(GrpcSearch(node, "books", GrpcBearer(kKey)).ok());
  CHECK(GrpcDelete(node, "books", ApiKey(kKey)).ok());
}

TEST_CASE("JWT: read-only, per-collection, expired and forged tokens", "[integration][auth]") {
  Node node = SecuredNode(/*jwt=*/true);
  REQUIRE(node.WaitReady());
  CreateCollection(node, "books");
  CreateCollection(node, "films");
  CreateCollection(node, "secret");
  const uint16_t port = node.http_port();
  using qd::api::auth::SignJwtForTesting;

  SECTION("access r: reads anything, writes nothing") {
    const std::string token = SignJwtForTesting(R"({"access":"r"})", kKey);
    CHECK(HttpRequest(port, "POST", "/collections/films/points/search", kSearch, Bearer(token))
              .status == 200);
    CHECK(HttpRequest(port, "GET", "/collections", "", Bearer(token)).status == 200);
    HttpResponse write =
        HttpRequest(port, "PUT", "/collections/books/points", kUpsert, Bearer(token));
    CHECK(write.status == 403);
    CHECK(GrpcUpsert(node, "books", ApiKey(token)).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    CHECK(GrpcSearch(node, "books", ApiKey(token)).ok());
  }
  SECTION("per collection: rw on books, r on films, nothing else") {
    const std::string token = SignJwtForTesting(
        R"({"access":[{"collection":"books","access":"rw"},{"collection":"films","access":"r"}]})",
        kKey);
    CHECK(HttpRequest(port, "PUT", "/collections/books/points?wait=true", kUpsert, Bearer(token))
              .status == 200);
    CHECK(HttpRequest(port, "POST", "/collections/films/points/search", kSearch, Bearer(token))
              .status == 200);
    HttpResponse films_write =
        HttpRequest(port, "PUT", "/collections/films/points", kUpsert, ApiKey(token));
    CHECK(films_write.status == 403);
    CHECK(RestError(films_write) == "Forbidden: Write access to collection films is required");
    HttpResponse create = HttpRequest(port, "PUT", "/collections/music", kCreate, ApiKey(token));
    CHECK(create.status == 403);
    // Listings show what the token may read, as Qdrant filters them.
    HttpResponse list = HttpRequest(port, "GET", "/collections", "", ApiKey(token));
    INFO(list.body);
    CHECK(list.status == 200);
    CHECK(list.body.find(R"({"collections":[{"name":"books"},{"name":"films"}]})") !=
          std::string::npos);
    std::string names;
    CHECK(GrpcList(node, ApiKey(token), &names).ok());
    CHECK(names == "books films ");
    // An alias of a granted collection is that collection; one of another is not.
    REQUIRE(
        HttpRequest(port, "POST", "/collections/aliases",
                    R"({"actions":[{"create_alias":{"collection_name":"books","alias_name":"b"}},)"
                    R"({"create_alias":{"collection_name":"secret","alias_name":"s"}}]})",
                    ApiKey(kKey))
            .status == 200);
    CHECK(
        HttpRequest(port, "POST", "/collections/b/points/search", kSearch, Bearer(token)).status ==
        200);
    CHECK(GrpcSearch(node, "b", ApiKey(token)).ok());
    HttpResponse hidden =
        HttpRequest(port, "POST", "/collections/s/points/search", kSearch, Bearer(token));
    CHECK(hidden.status == 403);
    HttpResponse aliases = HttpRequest(port, "GET", "/aliases", "", Bearer(token));
    CHECK(aliases.status == 200);
    CHECK(aliases.body.find(R"("alias_name":"b")") != std::string::npos);
    CHECK(aliases.body.find(R"("alias_name":"s")") == std::string::npos);
    CHECK(HttpRequest(port, "GET", "/aliases", "", ApiKey(kKey)).body.find(R"("alias_name":"s")") !=
          std::string::npos);
    // Node-wide reads stay closed to it.
    HttpResponse telemetry = HttpRequest(port, "GET", "/telemetry", "", ApiKey(token));
    CHECK(telemetry.status == 403);
    CHECK(RestError(telemetry) == "Forbidden: Global access is required");
    CHECK(GrpcUpsert(node, "books", ApiKey(token)).ok());
    grpc::Status other = GrpcSearch(node, "music", ApiKey(token));
    CHECK(other.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(other.error_message() == "Forbidden: Access to collection music is required");
  }
  SECTION("lookup_from reads another collection: the token must allow reading it too") {
    REQUIRE(HttpRequest(port, "PUT", "/collections/books/points?wait=true", kUpsert, ApiKey(kKey))
                .status == 200);
    REQUIRE(HttpRequest(port, "PUT", "/collections/films/points?wait=true", kUpsert, ApiKey(kKey))
                .status == 200);
    const std::string query =
        R"({"query":{"recommend":{"positive":[1]}},"lookup_from":{"collection":"films"}})";
    const std::string books_only =
        SignJwtForTesting(R"({"access":[{"collection":"books","access":"r"}]})", kKey);
    HttpResponse refused =
        HttpRequest(port, "POST", "/collections/books/points/query", query, Bearer(books_only));
    CHECK(refused.status == 403);
    CHECK(RestError(refused) == "Forbidden: Access to collection films is required");
    auto points = qdrant::Points::NewStub(Channel(node));
    qdrant::QueryPoints request;
    request.set_collection_name("books");
    request.mutable_query()->mutable_recommend()->add_positive()->mutable_id()->set_num(1);
    request.mutable_lookup_from()->set_collection_name("films");
    qdrant::QueryResponse reply;
    Call call(ApiKey(books_only));
    grpc::Status denied = points->Query(&call.context, request, &reply);
    CHECK(denied.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(denied.error_message() == "Forbidden: Access to collection films is required");
    const std::string both = SignJwtForTesting(
        R"({"access":[{"collection":"books","access":"r"},{"collection":"films","access":"r"}]})",
        kKey);
    HttpResponse allowed =
        HttpRequest(port, "POST", "/collections/books/points/query", query, Bearer(both));
    INFO(allowed.body);
    CHECK(allowed.status == 200);
  }
  SECTION("exp: a live token works, an expired one is refused") {
    const std::string live =
        SignJwtForTesting("{\"exp\":" + std::to_string(Now() + 600) + "}", kKey);
    CHECK(HttpRequest(port, "GET", "/collections", "", Bearer(live)).status == 200);
    const std::string expired =
        SignJwtForTesting("{\"exp\":" + std::to_string(Now() - 3600) + "}", kKey);
    HttpResponse r = HttpRequest(port, "GET", "/collections", "", Bearer(expired));
    CHECK(r.status == 403);
    CHECK(RestError(r).find("ExpiredSignature") != std::string::npos);
    CHECK(GrpcList(node, ApiKey(expired)).error_code() == grpc::StatusCode::PERMISSION_DENIED);
  }
  SECTION("a token signed with another key, or a garbled one, is refused") {
    const std::string forged = SignJwtForTesting(R"({"access":"m"})", "guessed-key");
    CHECK(HttpRequest(port, "DELETE", "/collections/books", "", Bearer(forged)).status == 403);
    CHECK(HttpRequest(port, "GET", "/collections", "", Bearer("a.b.c")).status == 401);
  }
  // The plain keys keep working beside JWTs.
  CHECK(HttpRequest(port, "GET", "/collections", "", ApiKey(kReadOnlyKey)).status == 200);
}

TEST_CASE("qdctl with and without --api-key", "[integration][auth][qdctl]") {
  Node node = SecuredNode();
  REQUIRE(node.WaitReady());
  TempDir home;
  const std::string url = "http://127.0.0.1:" + std::to_string(node.grpc_port());

  RunResult health = RunQdctl({"--url", url, "health"}, home.path());
  CHECK(health.exit_code == 0);

  RunResult without = RunQdctl({"--url", url, "collection", "list"}, home.path());
  CHECK(without.exit_code == 1);
  CHECK(without.err.find("Must provide an API key") != std::string::npos);
  CHECK(without.err.find("--api-key") != std::string::npos);

  RunResult wrong =
      RunQdctl({"--url", url, "--api-key", "nope", "collection", "list"}, home.path());
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err.find("Invalid API key or JWT") != std::string::npos);

  RunResult read_only = RunQdctl({"--url", url, "--api-key", kReadOnlyKey, "collection", "create",
                                  "books", "--size", "2", "--distance", "Dot"},
                                 home.path());
  INFO(read_only.err);
  CHECK(read_only.exit_code == 1);
  CHECK(read_only.err.find("Forbidden") != std::string::npos);

  RunResult create = RunQdctl({"--url", url, "--api-key", kKey, "collection", "create", "books",
                               "--size", "2", "--distance", "Dot"},
                              home.path());
  INFO(create.err);
  CHECK(create.exit_code == 0);
  RunResult list =
      RunQdctl({"--url", url, "--api-key", kReadOnlyKey, "collection", "list"}, home.path());
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("books") != std::string::npos);
}

TEST_CASE("qdrantd refuses security settings it cannot honour, and warns when exposed",
          "[integration][auth]") {
  struct Refused {
    const char* config;  // config/config.yaml
    const char* uri;     // --uri, when not null
    const char* says;
  };
  const Refused cases[] = {
      {"service:\n  jwt_rbac: true\n", nullptr, "service.jwt_rbac needs service.api_key"},
      {"service:\n  api_key: \"\"\n", nullptr, "service.api_key is empty"},
      // Peer URIs must say what the peers speak.
      {"cluster:\n  enabled: true\n", "https://127.0.0.1:1",
       "an https:// peer URI needs cluster.p2p.enable_tls"},
      {"cluster:\n  enabled: true\n  p2p:\n    enable_tls: true\n", "http://127.0.0.1:1",
       "cluster.p2p.enable_tls is on, so peer URIs are https://"},
  };
  for (const Refused& c : cases) {
    INFO(c.says);
    TempDir dir;
    dir.Write("config/config.yaml", c.config);
    NodeOptions options{.working_dir = dir.path()};
    if (c.uri) options.args = {"--uri", c.uri};
    Node node(options);
    std::optional<int> code = node.process().Wait(std::chrono::seconds(20));
    REQUIRE(code.has_value());
    CHECK(*code == 2);
    CHECK(node.process().Stderr().find(c.says) != std::string::npos);
  }

  for (bool keyed : {false, true}) {
    INFO("api key " << keyed);
    NodeOptions options{.env = {{"QDRANT__SERVICE__HOST", "0.0.0.0"}}};
    if (keyed) options.env["QDRANT__SERVICE__API_KEY"] = kKey;
    Node node(options);
    REQUIRE(node.WaitReady());
    node.process().Signal(SIGTERM);
    REQUIRE(node.process().Wait(std::chrono::seconds(20)).has_value());
    const bool warned =
        node.process().Stderr().find("with no service.api_key") != std::string::npos;
    CHECK(warned == !keyed);
  }
}

TEST_CASE("Qdrant's official JS clients pass their apiKey", "[compat][integration][auth]") {
  const std::string compat = std::string(QD_SOURCE_DIR) + "/tests/compat";
  const std::string node_bin = compat + "/node_modules/.bin/node";
  INFO("the JS clients are installed by `make compat-deps` (part of `make test`)");
  REQUIRE(std::filesystem::exists(node_bin));
  Node server = SecuredNode();
  REQUIRE(server.WaitReady());
  TempDir work;
  RunResult r =
      Run({.args = {node_bin, compat + "/auth.mjs",
                    "http://127.0.0.1:" + std::to_string(server.http_port()),
                    "http://127.0.0.1:" + std::to_string(server.grpc_port()), kKey, kReadOnlyKey},
           .working_dir = work.path()},
          std::chrono::seconds(60));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("FAIL") == std::string::npos);
}
