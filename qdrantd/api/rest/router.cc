#include "qdrantd/api/rest/router.h"

#include "qdrantd/api/auth/operations.h"
#include "qdrantd/collection/collections.h"

namespace qd::api::rest {
namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> segments;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > pos) segments.emplace_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return segments;
}

bool IsCapture(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQueryString(std::string_view query) {
  std::map<std::string, std::string> result;
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view item = query.substr(pos, amp - pos);
    if (!item.empty()) {
      size_t eq = item.find('=');
      std::string key(item.substr(0, eq));
      std::string value = eq == std::string_view::npos ? "" : std::string(item.substr(eq + 1));
      for (char& c : value) c = c == '+' ? ' ' : c;
      result[PercentDecode(key)] = PercentDecode(value);
    }
    pos = amp + 1;
  }
  return result;
}

void Router::Add(std::string method, std::string pattern, Handler handler) {
  std::vector<std::string> segments = SplitPath(pattern);
  routes_.push_back(Route{std::move(method), std::move(pattern), std::move(segments), std::move(handler)});
}

Status Router::Protect(const auth::Authenticator* authenticator) {
  for (Route& route : routes_) {
    std::optional<auth::Requirement> requirement =
        auth::RestRequirement(route.method, route.pattern);
    if (!requirement) {
      return Status::Internal("REST route " + route.method + " " + route.pattern +
                              " has no access rule in api/auth/operations.cc");
    }
    route.requirement = *requirement;
  }
  authenticator_ = authenticator != nullptr && authenticator->enabled() ? authenticator : nullptr;
  return Status::Ok();
}

std::vector<std::string> Router::RouteNames() const {
  std::vector<std::string> names;
  for (const Route& route : routes_) names.push_back(route.method + " " + route.pattern);
  return names;
}

void Router::Dispatch(Request& request, Reply reply) const {
  std::vector<std::string> segments = SplitPath(request.path);
  bool path_matched = false;
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const std::string& want = route.segments[i];
      if (IsCapture(want)) {
        params[want.substr(1, want.size() - 2)] = PercentDecode(segments[i]);
      } else {
        match = want == segments[i];
      }
    }
    if (!match) continue;
    path_matched = true;
    if (route.method != request.method) continue;
    request.params = std::move(params);
    request.route = static_cast<size_t>(&route - routes_.data());
    if (authenticator_ != nullptr) {
      Status allowed = authenticator_->Authorize(request.credentials, route.requirement,
                                                 request.Param("collection_name"));
      if (!allowed.ok()) return reply.Send(JsonError(request, allowed));
    }
    // Qdrant validates a collection name's length before anything looks it up.
    if (auto name = request.params.find("collection_name"); name != request.params.end()) {
      Status valid = collection::Collections::ValidateNameLength(name->second);
      if (!valid.ok()) return reply.Send(JsonError(request, valid));
    }
    route.handler(request, std::move(reply));
    return;
  }
  if (authenticator_ != nullptr) {
    Result<auth::Access> access = authenticator_->Authenticate(request.credentials);
    if (!access.ok()) return reply.Send(JsonError(request, access.status()));
  }
  if (path_matched) {
    reply.Send(JsonError(request, Status::MethodNotAllowed("Method " + request.method +
                                                           " is not allowed on " + request.path)));
  } else {
    reply.Send(JsonError(request, Status::NotFound("Not found: no such path " + request.path)));
  }
}

}  // namespace qd::api::rest
