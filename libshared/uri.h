// Endpoint URLs as operators write them: "http://host:port", "https://host:port", "host:port",
// "host" (with a default port) and IPv6 "[::1]:6334". Used for qdctl's --url and the daemon's
// --uri/--bootstrap peer addresses. Thread: any (pure).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "libshared/status.h"

namespace qd {

struct Uri {
  std::string scheme = "http";  // "http" or "https"
  std::string host;             // without IPv6 brackets
  uint16_t port = 0;

  std::string HostPort() const;  // "host:port", brackets around IPv6
  std::string ToString() const;  // "scheme://host:port"
};

// Errors: kInvalidArgument naming the text and what is wrong with it.
Result<Uri> ParseUri(std::string_view text, uint16_t default_port);

}  // namespace qd
