// ParseUri: the endpoint forms operators write, and the mistakes they make.
#include "libshared/uri.h"

#include <catch2/catch.hpp>

namespace {

struct Good {
  const char* text;
  const char* scheme;
  const char* host;
  uint16_t port;
  const char* canonical;  // Uri::ToString()
};

struct Bad {
  const char* text;
  const char* why;  // the end of the message
};

}  // namespace

TEST_CASE("ParseUri accepts the forms operators write", "[unit][uri]") {
  const Good cases[] = {
      {"http://localhost:6334", "http", "localhost", 6334, "http://localhost:6334"},
      {"https://qdrant-1.example.com:443", "https", "qdrant-1.example.com", 443,
       "https://qdrant-1.example.com:443"},
      {"HTTPS://Host:1", "https", "Host", 1, "https://Host:1"},
      {"localhost:6335", "http", "localhost", 6335, "http://localhost:6335"},
      {"localhost", "http", "localhost", 6334, "http://localhost:6334"},
      {"http://127.0.0.1:6335", "http", "127.0.0.1", 6335, "http://127.0.0.1:6335"},
      {"http://127.0.0.1:6335/", "http", "127.0.0.1", 6335, "http://127.0.0.1:6335"},
      {"https://node_2.internal", "https", "node_2.internal", 6334, "https://node_2.internal:6334"},
      {"[::1]:6334", "http", "::1", 6334, "http://[::1]:6334"},
      {"[::1]", "http", "::1", 6334, "http://[::1]:6334"},
      {"https://[fe80::1:2]:65535", "https", "fe80::1:2", 65535, "https://[fe80::1:2]:65535"},
      {"http://[::ffff:10.0.0.1]:80", "http", "::ffff:10.0.0.1", 80, "http://[::ffff:10.0.0.1]:80"},
  };
  for (const Good& c : cases) {
    INFO(c.text);
    qd::Result<qd::Uri> uri = qd::ParseUri(c.text, 6334);
    REQUIRE(uri.ok());
    CHECK(uri->scheme == c.scheme);
    CHECK(uri->host == c.host);
    CHECK(uri->port == c.port);
    CHECK(uri->ToString() == c.canonical);
    // The canonical form reads back as the same Uri.
    qd::Result<qd::Uri> again = qd::ParseUri(uri->ToString(), 1);
    REQUIRE(again.ok());
    CHECK(again.value() == uri.value());
  }
}

TEST_CASE("ParseUri rejects bad input, naming the text and the mistake", "[unit][uri]") {
  const Bad cases[] = {
      {"", "it is empty"},
      {"htp:/x", "expected http://host:port, https://host:port or host:port"},
      {"localhost/collections", "expected http://host:port, https://host:port or host:port"},
      {"htp://x", "the scheme must be http or https, not \"htp\""},
      {"grpc://x:6334", "the scheme must be http or https, not \"grpc\""},
      {"://x", "the scheme before \"://\" is missing"},
      {"http://", "the host is missing"},
      {"http://:6334", "the host is missing"},
      {"http://x/collections", "a path is not allowed"},
      {"http://user@x:6334", "user information is not allowed"},
      {"http://x:6334?a=1", "a query or fragment is not allowed"},
      {"x:", "the port is empty"},
      {"x:0", "the port must be a number from 1 to 65535, not \"0\""},
      {"x:65536", "the port must be a number from 1 to 65535, not \"65536\""},
      {"x:-1", "the port must be a number from 1 to 65535, not \"-1\""},
      {"x:63a", "the port must be a number from 1 to 65535, not \"63a\""},
      {"x: 80", "the port must be a number from 1 to 65535, not \" 80\""},
      {"::1", "an IPv6 address must be written in brackets, e.g. [::1]:6334"},
      {"x:1:2", "an IPv6 address must be written in brackets, e.g. [::1]:6334"},
      {"[::1", "missing ']' after the IPv6 address"},
      {"[::1]6334", "expected ':' and a port after ']'"},
      {"[]:6334", "the host is missing"},
      {"[nothost]:6334", "\"nothost\" is not an IPv6 address"},
      {"[::1]:", "the port is empty"},
      {"bad host:1", "invalid character ' ' in the host"},
      {"a..b:1", "the host has an empty label"},
      {".a:1", "the host has an empty label"},
  };
  for (const Bad& c : cases) {
    INFO(c.text);
    qd::Result<qd::Uri> uri = qd::ParseUri(c.text, 6334);
    REQUIRE_FALSE(uri.ok());
    CHECK(uri.status().code() == qd::StatusCode::kInvalidArgument);
    CHECK(uri.status().message() ==
          "invalid URL \"" + std::string(c.text) + "\": " + std::string(c.why));
  }
}

TEST_CASE("ParseUri without a default port requires one in the text", "[unit][uri]") {
  CHECK(qd::ParseUri("http://x:1", 0).ok());
  qd::Result<qd::Uri> uri = qd::ParseUri("http://x", 0);
  REQUIRE_FALSE(uri.ok());
  CHECK(uri.status().message() == "invalid URL \"http://x\": the port is missing");
}

TEST_CASE("Uri::HostPort brackets IPv6 addresses only", "[unit][uri]") {
  CHECK(qd::Uri{"http", "example.com", 6334}.HostPort() == "example.com:6334");
  CHECK(qd::Uri{"http", "10.0.0.1", 6335}.HostPort() == "10.0.0.1:6335");
  CHECK(qd::Uri{"https", "::1", 443}.HostPort() == "[::1]:443");
}
