// The TLS files a public listener (REST, gRPC) serves with when service.enable_tls is set:
// tls.cert (the certificate chain, PEM), tls.key (its private key, PEM) and, when clients must
// present a certificate (service.verify_https_client_certificate), tls.ca_cert, the CA they
// must be signed by. Paths as configured, relative to the working directory. A value.
#pragma once

#include <string>

namespace qd::api {

struct ServerTls {
  std::string cert_path;
  std::string key_path;
  std::string ca_cert_path;
  bool verify_client = false;
};

}  // namespace qd::api
