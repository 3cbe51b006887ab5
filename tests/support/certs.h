// Certificates made at test time with openssl, for the TLS tests (client TLS, peer TLS, https
// snapshot recovery): a CA, certificates it signed for 127.0.0.1 (server and client use), and a
// certificate from another CA. Header-only: it uses Catch, which the support library does not
// link.
#pragma once

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace qd::test {

inline void Openssl(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/bin/openssl");
  RunResult r = Run({.args = args, .working_dir = dir});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// A CA in <dir>/<ca>.pem (key <ca>.key).
inline void MakeCa(const std::string& dir, const std::string& ca) {
  Openssl(dir, {"req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", "2", "-nodes", "-keyout",
                ca + ".key", "-out", ca + ".pem", "-subj", "/CN=" + ca});
}

// A certificate <ca> signed in <dir>/<name>.pem, key <name>.key, for 127.0.0.1 and localhost,
// usable by servers and clients.
inline void MakeCert(const std::string& dir, const std::string& ca, const std::string& name) {
  Openssl(dir, {"req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + name});
  const std::string ext = dir + "/" + name + ".ext";
  std::ofstream(ext) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                        "extendedKeyUsage=serverAuth,clientAuth\n";
  Openssl(dir,
          {"x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
           "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out", name + ".pem"});
}

// ca.pem signed server.pem and client.pem; other-ca.pem signed stranger.pem.
struct Certs {
  TempDir dir;
  std::string Path(const std::string& file) const { return dir.path() + "/" + file; }
  Certs() {
    MakeCa(dir.path(), "ca");
    MakeCert(dir.path(), "ca", "server");
    MakeCert(dir.path(), "ca", "client");
    MakeCa(dir.path(), "other-ca");
    MakeCert(dir.path(), "other-ca", "stranger");
  }
};

}  // namespace qd::test
