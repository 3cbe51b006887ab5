// Client TLS (issue #19, service.enable_tls): REST (h2o over OpenSSL) and gRPC serve TLS with
// tls.cert and tls.key, and with service.verify_https_client_certificate require a client
// certificate signed by tls.ca_cert. The certificates are made at test time with openssl: a CA,
// a server certificate for 127.0.0.1, a client certificate, and a client certificate from
// another CA. REST is checked with curl, gRPC with grpc++, and both through Qdrant's JS clients.
#include <grpcpp/grpcpp.h>
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "qdrant.grpc.pb.h"
#include "tests/support/certs.h"
#include "tests/support/node.h"

using namespace qd::test;

namespace {

constexpr const char* kCurl = "/usr/bin/curl";

std::map<std::string, std::string> TlsEnv(const Certs& certs, bool verify_client) {
  return {{"QDRANT__SERVICE__ENABLE_TLS", "true"},
          {"QDRANT__SERVICE__VERIFY_HTTPS_CLIENT_CERTIFICATE", verify_client ? "true" : "false"},
          {"QDRANT__TLS__CERT", certs.Path("server.pem")},
          {"QDRANT__TLS__KEY", certs.Path("server.key")},
          {"QDRANT__TLS__CA_CERT", certs.Path("ca.pem")}};
}

// curl over HTTPS, trusting the test CA; extra arguments (a client certificate) appended.
RunResult Curl(const Certs& certs, uint16_t port, const std::string& path,
               std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {kCurl,
                                   "-sS",
                                   "--max-time",
                                   "10",
                                   "--cacert",
                                   certs.Path("ca.pem"),
                                   "https://127.0.0.1:" + std::to_string(port) + path};
  args.insert(args.end(), extra.begin(), extra.end());
  // Run() keeps each command's output in files in its working directory: the certificates'.
  return Run({.args = args, .working_dir = certs.dir.path()});
}

bool WaitTlsReady(Node& node, const Certs& certs, std::vector<std::string> extra = {}) {
  return PollUntil(
             [&] {
               if (!node.process().Running()) return true;
               RunResult r = Curl(certs, node.http_port(), "/readyz", extra);
               return r.exit_code == 0 && r.out == "all shards are ready";
             },
             std::chrono::seconds(30)) &&
         node.process().Running();
}

grpc::Status HealthCheck(const Node& node, const std::shared_ptr<grpc::ChannelCredentials>& creds) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(node.grpc_port()), creds);
  auto stub = qdrant::Qdrant::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  qdrant::HealthCheckRequest request;
  qdrant::HealthCheckReply reply;
  return stub->HealthCheck(&context, request, &reply);
}

std::shared_ptr<grpc::ChannelCredentials> Ssl(const Certs& certs, const std::string& client = "") {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(certs.Path("ca.pem"));
  if (!client.empty()) {
    options.pem_private_key = ReadFile(certs.Path(client + ".key"));
    options.pem_cert_chain = ReadFile(certs.Path(client + ".pem"));
  }
  return grpc::SslCredentials(options);
}

}  // namespace

TEST_CASE("REST and gRPC serve TLS with tls.cert and tls.key", "[integration][tls]") {
  Certs certs;
  std::map<std::string, std::string> env = TlsEnv(certs, false);
  env["QDRANT__SERVICE__API_KEY"] = "tls-key";
  env["QDRANT__SERVICE__READ_ONLY_API_KEY"] = "tls-read-only-key";
  Node node({.env = env});
  REQUIRE(WaitTlsReady(node, certs));

  // REST: HTTPS works and keys apply; plain HTTP on the same port gets no answer.
  RunResult create =
      Curl(certs, node.http_port(), "/collections/books",
           {"-X", "PUT", "-H", "api-key: tls-key", "-H", "Content-Type: application/json", "--data",
            R"({"vectors":{"size":2,"distance":"Dot"}})"});
  INFO(create.err);
  CHECK(create.out.find(R"("result":true)") != std::string::npos);
  CHECK(node.Get("/healthz").status != 200);

  // gRPC: TLS with the CA works; a plaintext client or one that does not trust the CA fails.
  grpc::Status ok = HealthCheck(node, Ssl(certs));
  INFO(ok.error_message());
  CHECK(ok.ok());
  CHECK_FALSE(HealthCheck(node, grpc::InsecureChannelCredentials()).ok());
  CHECK_FALSE(HealthCheck(node, grpc::SslCredentials(grpc::SslCredentialsOptions{
                                    .pem_root_certs = ReadFile(certs.Path("other-ca.pem"))}))
                  .ok());

  // qdctl over https: --tls-ca (or a profile's tls_ca) trusts the CA; without it the system's
  // CAs do not know it, and it says why it cannot connect.
  TempDir home;
  const std::string url = "https://127.0.0.1:" + std::to_string(node.grpc_port());
  RunResult trusted =
      RunQdctl({"--url", url, "--tls-ca", certs.Path("ca.pem"), "health"}, home.path());
  INFO(trusted.err);
  CHECK(trusted.exit_code == 0);
  home.Write(".config/qdctl/config.toml",
             "[profiles.tls]\nurl = \"" + url + "\"\ntls_ca = \"" + certs.Path("ca.pem") + "\"\n");
  CHECK(RunQdctl({"--profile", "tls", "health"}, home.path()).exit_code == 0);
  RunResult untrusted = RunQdctl({"--url", url, "health"}, home.path());
  CHECK(untrusted.exit_code == 3);
  CHECK(untrusted.err.find("the TLS connection failed") != std::string::npos);
  CHECK(untrusted.err.find("--tls-ca") != std::string::npos);
  RunResult plain = RunQdctl({"--url", "http://127.0.0.1:" + std::to_string(node.grpc_port()),
                              "--tls-ca", certs.Path("ca.pem"), "health"},
                             home.path());
  CHECK(plain.exit_code == 2);
  CHECK(plain.err.find("need an https:// URL") != std::string::npos);

  // Qdrant's JS clients over https, trusting the CA through NODE_EXTRA_CA_CERTS.
  const std::string compat = std::string(QD_SOURCE_DIR) + "/tests/compat";
  const std::string node_bin = compat + "/node_modules/.bin/node";
  REQUIRE(std::filesystem::exists(node_bin));
  TempDir work;
  RunResult js = Run({.args = {node_bin, compat + "/auth.mjs",
                               "https://127.0.0.1:" + std::to_string(node.http_port()),
                               "https://127.0.0.1:" + std::to_string(node.grpc_port()), "tls-key",
                               "tls-read-only-key"},
                      .env = {{"NODE_EXTRA_CA_CERTS", certs.Path("ca.pem")}},
                      .working_dir = work.path()},
                     std::chrono::seconds(60));
  INFO(js.out << js.err);
  CHECK(js.exit_code == 0);
  CHECK(js.out.find("FAIL") == std::string::npos);
}

TEST_CASE("verify_https_client_certificate requires a client certificate from tls.ca_cert",
          "[integration][tls]") {
  Certs certs;
  Node node({.env = TlsEnv(certs, true)});
  const std::vector<std::string> client = {"--cert", certs.Path("client.pem"), "--key",
                                           certs.Path("client.key")};
  REQUIRE(WaitTlsReady(node, certs, client));

  CHECK(Curl(certs, node.http_port(), "/healthz", client).out == "healthz check passed");
  CHECK(Curl(certs, node.http_port(), "/healthz").exit_code != 0);
  CHECK(Curl(certs, node.http_port(), "/healthz",
             {"--cert", certs.Path("stranger.pem"), "--key", certs.Path("stranger.key")})
            .exit_code != 0);

  CHECK(HealthCheck(node, Ssl(certs, "client")).ok());
  CHECK_FALSE(HealthCheck(node, Ssl(certs)).ok());
  CHECK_FALSE(HealthCheck(node, Ssl(certs, "stranger")).ok());

  TempDir home;
  const std::vector<std::string> qdctl = {"--url",
                                          "https://127.0.0.1:" + std::to_string(node.grpc_port()),
                                          "--tls-ca", certs.Path("ca.pem")};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = qdctl;
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("health");
    return RunQdctl(args, home.path());
  };
  RunResult with_cert =
      run({"--tls-cert", certs.Path("client.pem"), "--tls-key", certs.Path("client.key")});
  INFO(with_cert.err);
  CHECK(with_cert.exit_code == 0);
  RunResult without = run({});
  CHECK(without.exit_code == 3);
  CHECK(without.err.find("client certificate") != std::string::npos);
  RunResult stranger =
      run({"--tls-cert", certs.Path("stranger.pem"), "--tls-key", certs.Path("stranger.key")});
  CHECK(stranger.exit_code == 3);
  CHECK(stranger.err.find("stranger.pem") != std::string::npos);
  CHECK(run({"--tls-cert", certs.Path("client.pem")}).exit_code == 2);
}

TEST_CASE("a TLS file that cannot be used stops the daemon, naming it", "[integration][tls]") {
  Certs certs;
  struct Case {
    const char* key;
    std::string value;
    const char* says;
  };
  const Case cases[] = {
      {"QDRANT__TLS__CERT", certs.Path("missing.pem"), "tls.cert"},
      {"QDRANT__TLS__KEY", certs.Path("client.key"), "key values mismatch"},
  };
  for (const Case& c : cases) {
    INFO(c.says);
    std::map<std::string, std::string> env = TlsEnv(certs, false);
    env[c.key] = c.value;
    Node node({.env = env});
    std::optional<int> code = node.process().Wait(std::chrono::seconds(20));
    REQUIRE(code.has_value());
    CHECK(*code == 1);
    CHECK(node.process().Stderr().find(c.says) != std::string::npos);
  }
}

TEST_CASE("replaced certificate files are served within tls.cert_ttl, without a restart",
          "[integration][tls]") {
  Certs certs;
  const std::string dir = certs.dir.path();
  MakeCa(dir, "new-ca");
  MakeCert(dir, "new-ca", "new-server");
  std::filesystem::copy_file(certs.Path("server.pem"), certs.Path("live.pem"));
  std::filesystem::copy_file(certs.Path("server.key"), certs.Path("live.key"));
  std::map<std::string, std::string> env = TlsEnv(certs, false);
  env["QDRANT__TLS__CERT"] = certs.Path("live.pem");
  env["QDRANT__TLS__KEY"] = certs.Path("live.key");
  env["QDRANT__TLS__CERT_TTL"] = "1";
  Node node({.env = env});
  REQUIRE(WaitTlsReady(node, certs));
  CHECK(HealthCheck(node, Ssl(certs)).ok());

  // Rotate as docs/security.md says: write the new files beside, then rename over.
  for (const char* ext : {".key", ".pem"}) {
    std::filesystem::copy_file(certs.Path(std::string("new-server") + ext),
                               certs.Path(std::string("live") + ext + ".new"));
    std::filesystem::rename(certs.Path(std::string("live") + ext + ".new"),
                            certs.Path(std::string("live") + ext));
  }
  const std::vector<std::string> trust_new = {"--cacert", certs.Path("new-ca.pem")};
  auto new_ca = grpc::SslCredentials({.pem_root_certs = ReadFile(certs.Path("new-ca.pem"))});
  const bool rest =
      PollUntil([&] { return Curl(certs, node.http_port(), "/healthz", trust_new).exit_code == 0; },
                std::chrono::seconds(10));
  const bool grpc =
      PollUntil([&] { return HealthCheck(node, new_ca).ok(); }, std::chrono::seconds(10));
  const bool running = node.process().Running();
  if (!rest || !grpc || !running) FAIL_CHECK("qdrantd's log:\n" << node.process().Stderr());
  CHECK(rest);
  CHECK(grpc);
  CHECK(running);
  // The old certificate is no longer served.
  CHECK(Curl(certs, node.http_port(), "/healthz").exit_code != 0);
  CHECK_FALSE(HealthCheck(node, Ssl(certs)).ok());
}

TEST_CASE("a snapshot is recovered from an https:// URL whose server the node can verify",
          "[integration][tls][snapshots]") {
  Certs certs;
  Node source({.env = TlsEnv(certs, false)});
  REQUIRE(WaitTlsReady(source, certs));
  auto curl = [&](std::vector<std::string> args, const std::string& path) {
    RunResult r = Curl(certs, source.http_port(), path, std::move(args));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
  };
  curl({"-X", "PUT", "-H", "Content-Type: application/json", "--data",
        R"({"vectors":{"size":2,"distance":"Dot"}})"},
       "/collections/books");
  curl({"-X", "PUT", "-H", "Content-Type: application/json", "--data",
        R"({"points":[{"id":1,"vector":[1,0]},{"id":2,"vector":[0,1]}]})"},
       "/collections/books/points?wait=true");
  rapidjson::Document created;
  created.Parse(curl({"-X", "POST"}, "/collections/books/snapshots").c_str());
  REQUIRE(created.IsObject());
  const std::string url = "https://127.0.0.1:" + std::to_string(source.http_port()) +
                          "/collections/books/snapshots/" + created["result"]["name"].GetString();
  const std::string body = R"({"location":")" + url + R"(","checksum":")" +
                           created["result"]["checksum"].GetString() + R"("})";

  // Trusting the test CA (OpenSSL's SSL_CERT_FILE), the node downloads and recovers.
  Node trusting({.env = {{"SSL_CERT_FILE", certs.Path("ca.pem")}}});
  REQUIRE(trusting.WaitReady());
  HttpResponse ok = HttpRequest(trusting.http_port(), "PUT", "/collections/copy/snapshots/recover",
                                body, {{"content-type", "application/json"}});
  INFO(ok.body);
  CHECK(ok.status == 200);
  HttpResponse count = HttpRequest(trusting.http_port(), "POST", "/collections/copy/points/count",
                                   "{}", {{"content-type", "application/json"}});
  CHECK(count.body.find(R"("count":2)") != std::string::npos);

  // With only the system's CAs, the server cannot be verified: 400, nothing recovered.
  Node strict;
  REQUIRE(strict.WaitReady());
  HttpResponse refused =
      HttpRequest(strict.http_port(), "PUT", "/collections/copy/snapshots/recover", body,
                  {{"content-type", "application/json"}});
  INFO(refused.body);
  CHECK(refused.status == 400);
  CHECK(refused.body.find("TLS handshake failed") != std::string::npos);
  CHECK(strict.Get("/collections/copy").status == 404);
}
