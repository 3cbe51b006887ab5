// The TLS files a public listener (REST, gRPC) serves with when service.enable_tls is set:
// tls.cert (the certificate chain, PEM), tls.key (its private key, PEM) and, when clients must
// present a certificate (service.verify_https_client_certificate), tls.ca_cert, the CA they
// must be signed by. Paths as configured, relative to the working directory. The files are
// read again every tls.cert_ttl seconds, so that replacing them rotates the certificate
// without a restart (Qdrant does the same). A value.
#pragma once

#include <chrono>
#include <string>

namespace qd::api {

struct ServerTls {
  std::string cert_path;
  std::string key_path;
  std::string ca_cert_path;
  bool verify_client = false;
  std::chrono::seconds reload_interval{3600};  // tls.cert_ttl; 0: read once, at start
};

}  // namespace qd::api
