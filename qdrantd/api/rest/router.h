// Router: maps (method, path pattern) to a handler. Patterns are '/'-separated segments where
// "{name}" captures one percent-decoded segment into Request::params. Later issues add routes
// with Add(); the HTTP server core never changes for them. An unknown path answers 404 and a
// known path with another method 405, both with Qdrant's JSON error envelope.
// Thread: routes are added before the server starts; Dispatch runs on the loop thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "qdrantd/api/rest/request.h"

namespace qd::api::rest {

using Handler = std::function<void(Request&, Reply)>;

class Router {
 public:
  void Add(std::string method, std::string pattern, Handler handler);
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
  };
  std::vector<Route> routes_;
};

std::string PercentDecode(std::string_view text);
// Splits "a=1&b=x%20y" into decoded pairs.
std::map<std::string, std::string> ParseQueryString(std::string_view query);

}  // namespace qd::api::rest
