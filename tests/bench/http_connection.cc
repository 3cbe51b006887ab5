#include "tests/bench/http_connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace qd::bench {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

HttpConnection::HttpConnection(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout) {}

HttpConnection::~HttpConnection() { Close(); }

void HttpConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

Status HttpConnection::Connect() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(port_);
  if (int rc = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Status::Unavailable("resolve " + host_ + ": " + gai_strerror(rc));
  }
  std::string error = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      timeval tv{};
      tv.tv_sec = static_cast<time_t>(timeout_.count() / 1000);
      tv.tv_usec = static_cast<suseconds_t>(timeout_.count() % 1000 * 1000);
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      fd_ = fd;
      break;
    }
    error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (fd_ < 0) return Status::Unavailable("connect " + host_ + ":" + port + ": " + error);
  return Status::Ok();
}

Status HttpConnection::Fill() {
  char chunk[65536];
  ssize_t n;
  do {
    n = ::recv(fd_, chunk, sizeof chunk, 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    buffer_.append(chunk, static_cast<size_t>(n));
    return Status::Ok();
  }
  if (n == 0) return Status::Unavailable("connection closed by server");
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    return Status::DeadlineExceeded("no response within " + std::to_string(timeout_.count()) +
                                    " ms; outcome unknown");
  }
  return Status::Unavailable(std::string("recv: ") + std::strerror(errno));
}

Result<HttpResponse> HttpConnection::Request(std::string_view method, std::string_view target,
                                             std::string_view body) {
  const bool reused = fd_ >= 0;
  if (!reused) {
    if (Status s = Connect(); !s.ok()) return s;
  }
  bool nothing_received = false;
  auto r = RoundTrip(method, target, body, &nothing_received);
  if (!r.ok()) {
    Close();
    if (reused && nothing_received && r.status().code() == StatusCode::kUnavailable) {
      if (Status s = Connect(); !s.ok()) return s;
      r = RoundTrip(method, target, body, &nothing_received);
      if (!r.ok()) Close();
    }
  }
  return r;
}

Result<HttpResponse> HttpConnection::RoundTrip(std::string_view method, std::string_view target,
                                               std::string_view body, bool* nothing_received) {
  *nothing_received = true;
  head_.clear();
  head_.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  head_.append(host_).append(":").append(std::to_string(port_)).append("\r\n");
  if (!body.empty()) head_.append("Content-Type: application/json\r\n");
  if (!body.empty() || method == "POST" || method == "PUT") {
    head_.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  head_.append("\r\n");

  iovec iov[2] = {{head_.data(), head_.size()}, {const_cast<char*>(body.data()), body.size()}};
  size_t total = head_.size() + body.size(), sent = 0;
  while (sent < total) {
    msghdr msg{};
    iovec part[2];
    int count = 0;
    size_t skip = sent;
    for (const iovec& v : iov) {
      if (skip >= v.iov_len) {
        skip -= v.iov_len;
        continue;
      }
      part[count++] = {static_cast<char*>(v.iov_base) + skip, v.iov_len - skip};
      skip = 0;
    }
    msg.msg_iov = part;
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable(std::string("send: ") + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }

  // Head: status line and headers up to the blank line.
  size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (Status s = Fill(); !s.ok()) return s;
    *nothing_received = false;
  }
  *nothing_received = false;
  std::string_view head(buffer_.data(), head_end);
  HttpResponse response;
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") {
    return Status::Internal("malformed status line: " + std::string(head.substr(0, 40)));
  }
  response.status = std::atoi(std::string(head.substr(9, 3)).c_str());
  long long content_length = -1;
  bool chunked = false, close_after = head.substr(0, 8) == "HTTP/1.0";
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    std::string_view line = head.substr(
        pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = line.substr(0, colon), value = Trim(line.substr(colon + 1));
      if (IEquals(name, "content-length")) content_length = std::atoll(std::string(value).c_str());
      if (IEquals(name, "transfer-encoding") && IEquals(value, "chunked")) chunked = true;
      if (IEquals(name, "connection")) {
        if (IEquals(value, "close")) close_after = true;
        if (IEquals(value, "keep-alive")) close_after = false;
      }
    }
    pos = next;
  }
  buffer_.erase(0, head_end + 4);
  const bool no_body = method == "HEAD" || response.status == 204 || response.status == 304 ||
                       response.status / 100 == 1;

  if (no_body) {
    // nothing to read
  } else if (chunked) {
    while (true) {
      size_t line_end;
      while ((line_end = buffer_.find("\r\n")) == std::string::npos) {
        if (Status s = Fill(); !s.ok()) return s;
      }
      const size_t size = std::strtoull(buffer_.c_str(), nullptr, 16);
      buffer_.erase(0, line_end + 2);
      while (buffer_.size() < size + 2) {
        if (Status s = Fill(); !s.ok()) return s;
      }
      response.body.append(buffer_, 0, size);
      buffer_.erase(0, size + 2);
      if (size == 0) break;  // no trailers expected from qdrantd
    }
  } else if (content_length >= 0) {
    while (buffer_.size() < static_cast<size_t>(content_length)) {
      if (Status s = Fill(); !s.ok()) return s;
    }
    response.body.assign(buffer_, 0, static_cast<size_t>(content_length));
    buffer_.erase(0, static_cast<size_t>(content_length));
  } else {
    // Body delimited by EOF.
    while (true) {
      Status s = Fill();
      if (s.code() == StatusCode::kUnavailable) break;
      if (!s.ok()) return s;
    }
    response.body = std::move(buffer_);
    close_after = true;
  }
  if (close_after) Close();
  return response;
}

}  // namespace qd::bench
