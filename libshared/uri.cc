#include "libshared/uri.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace qd {
namespace {

bool IsHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

bool IsIpv6Address(const std::string& host) {
  in6_addr address;
  return inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

}  // namespace

std::string Uri::HostPort() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

std::string Uri::ToString() const { return scheme + "://" + HostPort(); }

Result<Uri> ParseUri(std::string_view text, uint16_t default_port) {
  auto fail = [text](const std::string& why) {
    return Status::InvalidArgument("invalid URL \"" + std::string(text) + "\": " + why);
  };
  if (text.empty()) return fail("it is empty");

  Uri uri;
  std::string_view rest = text;
  if (size_t sep = rest.find("://"); sep != std::string_view::npos) {
    uri.scheme = std::string(rest.substr(0, sep));
    std::transform(uri.scheme.begin(), uri.scheme.end(), uri.scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (uri.scheme.empty()) return fail("the scheme before \"://\" is missing");
    if (uri.scheme != "http" && uri.scheme != "https") {
      return fail("the scheme must be http or https, not \"" + uri.scheme + "\"");
    }
    rest.remove_prefix(sep + 3);
  } else if (rest.find('/') != std::string_view::npos) {
    // "htp:/x", "localhost/x": a mistyped scheme or a path; say what is expected.
    return fail("expected http://host:port, https://host:port or host:port");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return fail("a path is not allowed");
  if (rest.find('@') != std::string_view::npos) return fail("user information is not allowed");
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return fail("a query or fragment is not allowed");
  }

  std::string_view port_text;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after the IPv6 address");
    uri.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("expected ':' and a port after ']'");
      port_text = after.substr(1);
      has_port = true;
    }
    if (uri.host.empty()) return fail("the host is missing");
    if (!IsIpv6Address(uri.host)) return fail("\"" + uri.host + "\" is not an IPv6 address");
  } else {
    size_t colon = rest.find(':');
    if (colon != std::string_view::npos && rest.find(':', colon + 1) != std::string_view::npos) {
      return fail("an IPv6 address must be written in brackets, e.g. [::1]:6334");
    }
    uri.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      has_port = true;
    }
    if (uri.host.empty()) return fail("the host is missing");
    auto bad = std::find_if_not(uri.host.begin(), uri.host.end(), IsHostNameChar);
    if (bad != uri.host.end()) {
      return fail("invalid character '" + std::string(1, *bad) + "' in the host");
    }
    if (uri.host.front() == '.' || uri.host.find("..") != std::string::npos) {
      return fail("the host has an empty label");
    }
  }

  if (!has_port) {
    if (default_port == 0) return fail("the port is missing");
    uri.port = default_port;
    return uri;
  }
  if (port_text.empty()) return fail("the port is empty");
  unsigned value = 0;
  const char* end = port_text.data() + port_text.size();
  auto [parsed_to, ec] = std::from_chars(port_text.data(), end, value);
  if (ec != std::errc() || parsed_to != end || value == 0 || value > 65535) {
    return fail("the port must be a number from 1 to 65535, not \"" + std::string(port_text) +
                "\"");
  }
  uri.port = static_cast<uint16_t>(value);
  return uri;
}

}  // namespace qd
