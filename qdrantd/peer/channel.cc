#include "qdrantd/peer/channel.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "libshared/uri.h"

namespace qd::peer {
namespace {

// Set once by UsePeerTls before any channel exists; read-only afterwards.
std::optional<PeerTls>& Tls() {
  static std::optional<PeerTls> tls;
  return tls;
}

Result<std::string> ReadPem(const char* setting, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument(std::string(setting) + ": cannot read " + path +
                                   " (cluster.p2p.enable_tls needs it)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN ") == std::string::npos) {
    return Status::InvalidArgument(std::string(setting) + ": " + path + " holds no PEM data");
  }
  return text.str();
}

}  // namespace

Result<PeerTls> LoadPeerTls(const std::string& cert_path, const std::string& key_path,
                            const std::string& ca_path) {
  PeerTls tls;
  for (auto [setting, path, out] :
       {std::tuple{"tls.cert", &cert_path, &tls.cert}, std::tuple{"tls.key", &key_path, &tls.key},
        std::tuple{"tls.ca_cert", &ca_path, &tls.ca}}) {
    Result<std::string> pem = ReadPem(setting, *path);
    if (!pem.ok()) return pem.status();
    *out = std::move(*pem);
  }
  return tls;
}

void UsePeerTls(PeerTls tls) { Tls() = std::move(tls); }

bool PeerTlsEnabled() { return Tls().has_value(); }

std::shared_ptr<::grpc::ServerCredentials> PeerServerCredentials() {
  if (!Tls()) return ::grpc::InsecureServerCredentials();
  ::grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = Tls()->ca;
  options.pem_key_cert_pairs.push_back({Tls()->key, Tls()->cert});
  return ::grpc::SslServerCredentials(options);
}

std::shared_ptr<::grpc::Channel> NewPeerChannel(const std::string& uri,
                                                const std::string& purpose) {
  auto parsed = ParseUri(uri, 6335);
  std::string target = parsed.ok() ? parsed->HostPort() : uri;
  ::grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  args.SetString("qdrantd.channel", purpose);
  if (!Tls()) {
    return ::grpc::CreateCustomChannel(target, ::grpc::InsecureChannelCredentials(), args);
  }
  ::grpc::SslCredentialsOptions options;
  options.pem_root_certs = Tls()->ca;
  options.pem_private_key = Tls()->key;
  options.pem_cert_chain = Tls()->cert;
  return ::grpc::CreateCustomChannel(target, ::grpc::SslCredentials(options), args);
}

}  // namespace qd::peer
