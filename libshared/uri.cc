#include "libshared/uri.h"

#include <cctype>
#include <charconv>

namespace qd {

std::string Uri::HostPort() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

std::string Uri::ToString() const { return scheme + "://" + HostPort(); }

Result<Uri> ParseUri(std::string_view text, uint16_t default_port) {
  auto fail = [&](const std::string& why) {
    return Status::InvalidArgument("invalid URL \"" + std::string(text) + "\": " + why);
  };
  Uri uri;
  std::string_view rest = text;
  if (size_t sep = rest.find("://"); sep != std::string_view::npos) {
    uri.scheme = std::string(rest.substr(0, sep));
    for (char& c : uri.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (uri.scheme != "http" && uri.scheme != "https") {
      return fail("the scheme must be http or https");
    }
    rest.remove_prefix(sep + 3);
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return fail("a path is not allowed");

  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after an IPv6 address");
    uri.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return fail("empty port");
    }
  } else {
    size_t colon = rest.find(':');
    if (colon != std::string_view::npos && rest.find(':', colon + 1) != std::string_view::npos) {
      return fail("an IPv6 address must be written in brackets, e.g. [::1]:6334");
    }
    uri.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return fail("empty port");
    }
  }
  if (uri.host.empty()) return fail("the host is missing");
  for (char c : uri.host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' && c != ':') {
      return fail("invalid character '" + std::string(1, c) + "' in the host");
    }
  }
  if (port_text.empty()) {
    uri.port = default_port;
  } else {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return fail("the port must be a number from 1 to 65535");
    }
    uri.port = static_cast<uint16_t>(value);
  }
  return uri;
}

}  // namespace qd
