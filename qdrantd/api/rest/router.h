// Router: maps (method, path pattern) to a handler. Patterns are '/'-separated segments where
// "{name}" captures one percent-decoded segment into Request::params. Later issues add routes
// with Add(); the HTTP server core never changes for them. An unknown path answers 404 and a
// known path with another method 405, both with Qdrant's JSON error envelope.
// With Protect(), every request is authorized (auth/operations.h) before its handler runs.
// Thread: routes are added before the server starts; Dispatch runs on the loop thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "qdrantd/api/auth/access.h"
#include "qdrantd/api/rest/request.h"

namespace qd::api::rest {

using Handler = std::function<void(Request&, Reply)>;

class Router {
 public:
  void Add(std::string method, std::string pattern, Handler handler);
  // From now on, Dispatch answers a request whose credentials do not allow its route (what
  // auth::RestRequirement says of it) with 401 or 403 instead of calling the handler; a
  // request for an unknown path is authenticated before it is told 404, as in Qdrant.
  // Call after the last Add; `authenticator` outlives the router. Errors: kInternal naming a
  // route that has no row in the table (every route must be decided).
  Status Protect(const auth::Authenticator* authenticator);
  // Matches the request, fills request.params and request.route and calls the handler (or
  // answers 404/405).
  void Dispatch(Request& request, Reply reply) const;
  // "METHOD /pattern" of each route, by the index Dispatch stores in Request::route
  // (request metrics label responses with them).
  std::vector<std::string> RouteNames() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" captures
    Handler handler;
    auth::Requirement requirement;  // set by Protect
  };
  std::vector<Route> routes_;
  const auth::Authenticator* authenticator_ = nullptr;  // null or disabled: nothing checked
};

std::string PercentDecode(std::string_view text);
// Splits "a=1&b=x%20y" into decoded pairs.
std::map<std::string, std::string> ParseQueryString(std::string_view query);

}  // namespace qd::api::rest
