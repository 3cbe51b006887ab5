// A minimal blocking HTTP/1.1 client for integration tests: one request per connection
// (Connection: close), the response read to EOF. Real enough to see exactly the bytes qdrantd
// sends (status, headers, body); not a general client.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace qd::test {

struct HttpResponse {
  int status = 0;                              // 0: no response (connection failed)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string error;                           // why status is 0
};

HttpResponse HttpRequest(uint16_t port, const std::string& method, const std::string& path,
                         const std::string& body = "",
                         const std::map<std::string, std::string>& headers = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

inline HttpResponse HttpGet(uint16_t port, const std::string& path) {
  return HttpRequest(port, "GET", path);
}

// Sends `raw` bytes as they are and returns what came back until EOF or timeout.
std::string HttpRaw(uint16_t port, const std::string& raw,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace qd::test
