// Uri: one endpoint as operators write it: "http://host:port", "https://host:port", "host:port",
// "host" (the caller's default port) or IPv6 "[::1]:6334". qdctl parses --url with it and the
// daemon its --uri/--bootstrap peer addresses ("http://127.0.0.1:6335"), so it knows nothing of
// either: no default port, no path, no user info. Thread: any (values, pure functions).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "libshared/status.h"

namespace qd {

struct Uri {
  std::string scheme = "http";  // "http" or "https", lower case
  std::string host;             // a name, an IPv4 address or an IPv6 address without brackets
  uint16_t port = 0;

  // "host:port" with brackets around an IPv6 address: what gRPC and sockets take as a target.
  std::string HostPort() const;
  // "scheme://host:port": the canonical form, which ParseUri reads back unchanged.
  std::string ToString() const;

  friend bool operator==(const Uri&, const Uri&) = default;
};

// Parses `text`; the port is `default_port` when the text has none. The scheme is optional
// (http when absent) and case-insensitive; one trailing '/' is accepted, a path is not.
// Errors: kInvalidArgument, message `invalid URL "<text>": <what is wrong>`.
Result<Uri> ParseUri(std::string_view text, uint16_t default_port);

}  // namespace qd
