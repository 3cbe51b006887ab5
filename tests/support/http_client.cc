#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace qd::test {
namespace {

int Connect(uint16_t port, std::string* error) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string ReceiveUntilEof(int fd, std::chrono::milliseconds timeout) {
  std::string data;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::string HttpRaw(uint16_t port, const std::string& raw, std::chrono::milliseconds timeout) {
  std::string error;
  int fd = Connect(port, &error);
  if (fd < 0) return "";
  SendAll(fd, raw);  // the server may answer (e.g. 413) before reading everything
  std::string data = ReceiveUntilEof(fd, timeout);
  ::close(fd);
  return data;
}

HttpResponse HttpRequest(uint16_t port, const std::string& method, const std::string& path,
                         const std::string& body, const std::map<std::string, std::string>& headers,
                         std::chrono::milliseconds timeout) {
  HttpResponse response;
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" +
                        std::to_string(port) + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) request += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;

  int fd = Connect(port, &response.error);
  if (fd < 0) return response;
  SendAll(fd, request);
  const auto started = std::chrono::steady_clock::now();
  std::string data = ReceiveUntilEof(fd, timeout);
  ::close(fd);

  size_t header_end = data.find("\r\n\r\n");
  if (data.empty()) {
    // Say which: a slow server (the deadline passed) and a closed connection read alike.
    const bool timed_out = std::chrono::steady_clock::now() - started >= timeout;
    response.error = timed_out ? "no answer within " + std::to_string(timeout.count()) + " ms"
                               : "the connection closed without an answer";
    return response;
  }
  if (data.compare(0, 9, "HTTP/1.1 ") != 0 || header_end == std::string::npos) {
    response.error = "malformed response: " + data.substr(0, 200);
    return response;
  }
  response.status = std::atoi(data.c_str() + 9);
  size_t line_start = data.find("\r\n") + 2;
  while (line_start < header_end) {
    size_t line_end = data.find("\r\n", line_start);
    std::string line = data.substr(line_start, line_end - line_start);
    if (auto colon = line.find(':'); colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      response.headers[Lower(line.substr(0, colon))] = value;
    }
    line_start = line_end + 2;
  }
  response.body = data.substr(header_end + 4);
  if (Lower(response.headers["transfer-encoding"]) == "chunked") {
    std::string decoded;
    size_t pos = 0;
    while (pos < response.body.size()) {
      size_t eol = response.body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t len = std::stoul(response.body.substr(pos, eol - pos), nullptr, 16);
      if (len == 0) break;
      decoded += response.body.substr(eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    response.body = decoded;
  }
  return response;
}

}  // namespace qd::test
