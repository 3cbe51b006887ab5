// HttpConnection: one blocking HTTP/1.1 client connection with keep-alive, for the load tool.
// Each client thread owns one, so a benchmark with 8 concurrent clients holds 8 connections and
// every request reuses its connection as a real client library would. Bodies are read by
// Content-Length or chunked encoding. Thread: one at a time (owned by its thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "libshared/status.h"

namespace qd::bench {

struct HttpResponse {
  int status = 0;
  std::string body;
};

class HttpConnection {
 public:
  // Connects lazily, on the first request. `host` is a name or an address.
  HttpConnection(std::string host, uint16_t port, std::chrono::milliseconds timeout);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends one request (Content-Type: application/json when `body` is not empty) and reads the
  // whole response. When a reused connection turns out to be closed by the server before any
  // byte of the response arrived, it reconnects and sends again once: every request the tool
  // makes is idempotent (upserts by id, searches, reads).
  // Errors: kUnavailable (cannot connect, connection lost), kDeadlineExceeded (no answer
  // within the timeout; outcome unknown), kInternal (malformed response).
  Result<HttpResponse> Request(std::string_view method, std::string_view target,
                               std::string_view body = {});

 private:
  Status Connect();
  void Close();
  // Sends and reads once. `*nothing_received` says whether the failure came before the
  // response's first byte (then a retry on a fresh connection is safe).
  Result<HttpResponse> RoundTrip(std::string_view method, std::string_view target,
                                 std::string_view body, bool* nothing_received);
  // Reads at least one more byte into buffer_. Errors as Request's.
  Status Fill();

  const std::string host_;
  const uint16_t port_;
  const std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_;  // received bytes not yet consumed
  std::string head_;    // request head, reused to avoid an allocation per request
};

}  // namespace qd::bench
