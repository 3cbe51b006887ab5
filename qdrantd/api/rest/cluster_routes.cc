#include "qdrantd/api/rest/cluster_routes.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <memory>

#include "qdrantd/api/rest/async_handler.h"
#include "qdrantd/api/rest/json.h"
#include "qdrantd/api/rest/router.h"
#include "qdrantd/cluster/cluster_node.h"
#include "qdrantd/server/loop.h"

namespace qd::api::rest {
namespace {

using cluster::MetaOperation;

constexpr std::chrono::seconds kDefaultTimeout{10};

std::string Rfc3339Now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros));
  return buf;
}

std::string ClusterJson(const cluster::ClusterStatus& s) {
  std::string out = "{\"status\":\"enabled\",\"peer_id\":" + std::to_string(s.peer_id) + ",\"peers\":{";
  bool first = true;
  for (const auto& [id, peer] : s.peers) {
    if (!first) out += ",";
    first = false;
    // Appended piece by piece: g++ 12 at -O3 warns (-Wrestrict, a known false positive) on
    // "literal" + std::to_string(...) here.
    out.append("\"").append(std::to_string(id)).append("\":{\"uri\":").append(JsonQuote(peer.uri)).append("}");
  }
  out += "},\"raft_info\":{\"term\":" + std::to_string(s.term) + ",\"commit\":" + std::to_string(s.commit) +
         ",\"pending_operations\":" + std::to_string(s.pending_operations) +
         ",\"leader\":" + (s.leader ? std::to_string(*s.leader) : "null") +
         ",\"role\":" + (s.role.empty() ? "null" : JsonQuote(s.role)) +
         ",\"is_voter\":" + (s.is_voter ? "true" : "false") + "},\"consensus_thread_status\":";
  if (s.consensus_thread_status == "working") {
    out += "{\"consensus_thread_status\":\"working\",\"last_update\":" + JsonQuote(Rfc3339Now()) + "}";
  } else if (s.consensus_thread_status == "stopped_with_err") {
    out += "{\"consensus_thread_status\":\"stopped_with_err\",\"err\":" + JsonQuote(s.consensus_error) + "}";
  } else {
    out += "{\"consensus_thread_status\":\"stopped\"}";
  }
  out += ",\"message_send_failures\":{";
  first = true;
  for (const auto& [uri, count] : s.message_send_failures) {
    if (!first) out += ",";
    first = false;
    out += JsonQuote(uri) + ":{\"count\":" + std::to_string(count) + ",\"latest_error\":null}";
  }
  out += "}}";
  return out;
}

// ?timeout=<seconds, >= 1>, parsed and refused in the words the collection routes use
// (async_handler.h): 400 for garbage, 422 for 0 (compat.md §2.2, §2.5). Clamped to a day.
Result<std::chrono::milliseconds> ConsensusTimeout(const Request& request) {
  Result<std::optional<uint64_t>> t = TimeoutParam(request);
  if (!t.ok()) return t.status();
  if (!*t) return std::chrono::milliseconds(kDefaultTimeout);
  return std::chrono::milliseconds(std::chrono::seconds(std::min<uint64_t>(**t, 24 * 3600)));
}

// A boolean query parameter (`force`, `wait`), `fallback` when absent; a non-boolean is refused
// as WaitParam refuses it.
Result<bool> BoolParam(const Request& request, const std::string& name, bool fallback) {
  std::optional<std::string> v = request.Query(name);
  if (!v) return fallback;
  if (*v == "true" || v->empty()) return true;
  if (*v == "false") return false;
  return Status::InvalidArgument("Query deserialize error: " + name + ": invalid value `" + *v +
                                 "`, expected a boolean");
}

// Proposes `op` and answers `true` once applied here (or the error); with `wait=false` at once.
void ProposeAndAnswer(server::Loop& loop, cluster::ClusterNode& node, Request& request, Reply reply,
                      MetaOperation op, bool wait_by_default) {
  auto timeout = ConsensusTimeout(request);
  if (!timeout.ok()) {
    reply.Send(JsonError(request, timeout.status()));
    return;
  }
  Result<bool> wait = BoolParam(request, "wait", wait_by_default);
  if (!wait.ok()) {
    reply.Send(JsonError(request, wait.status()));
    return;
  }
  Request copy = request;
  copy.body = {};
  if (!*wait) {
    node.ProposeOnLoop(loop.Enter(), std::move(op), *timeout, [](Status) {});
    reply.Send(JsonResult(copy, "true"));
    return;
  }
  auto shared = std::make_shared<Reply>(std::move(reply));
  node.ProposeOnLoop(loop.Enter(), std::move(op), *timeout, [copy, shared](Status s) {
    shared->Send(s.ok() ? JsonResult(copy, "true") : JsonError(copy, s));
  });
}

}  // namespace

void AddClusterRoutes(Router& router, server::Loop& loop, cluster::ClusterNode& node, RecoverFn recover) {
  router.Add("GET", "/cluster", [&loop, &node](Request& request, Reply reply) {
    reply.Send(JsonResult(request, ClusterJson(node.GetStatus(loop.Enter()))));
  });
  // Qdrant's recover re-applies the consensus state from a snapshot (compat.md §6.6). Our
  // applied state is always current, so recovering means reconciling it again in full: local
  // replicas whose files vanished come back, empty (refilling them is the data plane's job).
  router.Add("POST", "/cluster/recover", [&loop, recover](Request& request, Reply reply) {
    Request copy = request;
    copy.body = {};
    auto shared = std::make_shared<Reply>(std::move(reply));
    recover(loop.Enter(), [copy, shared](Status s) {
      shared->Send(s.ok() ? JsonResult(copy, "true") : JsonError(copy, s));
    });
  });
  router.Add("DELETE", "/cluster/peer/{peer_id}", [&loop, &node](Request& request, Reply reply) {
    const std::string& text = request.Param("peer_id");
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      reply.Send(
          JsonError(request, Status::InvalidArgument("Path deserialize error: can not parse \"" +
                                                     text + "\" to a u64")));
      return;
    }
    Result<bool> force = BoolParam(request, "force", false);
    if (!force.ok()) {
      reply.Send(JsonError(request, force.status()));
      return;
    }
    // The FSM says the same when the peer vanishes meanwhile (cluster/state_machine.cc).
    if (!node.State()->peers.count(id)) {
      reply.Send(JsonError(request, Status::NotFound("Peer " + text + " does not exist")));
      return;
    }
    ProposeAndAnswer(loop, node, request, std::move(reply), MetaOperation::RemovePeer(id, *force),
                     /*wait_by_default=*/true);
  });

  router.Add("GET", "/cluster/metadata/keys", [&node](Request& request, Reply reply) {
    std::string out = "[";
    for (const auto& [key, value] : node.State()->metadata) {
      if (out.size() > 1) out += ",";
      out += JsonQuote(key);
    }
    reply.Send(JsonResult(request, out + "]"));
  });
  router.Add("GET", "/cluster/metadata/keys/{key}", [&node](Request& request, Reply reply) {
    auto state = node.State();
    auto it = state->metadata.find(request.Param("key"));
    // A missing key is `null` with 200 (compat.md §6.4).
    reply.Send(JsonResult(request, it == state->metadata.end() ? "null" : it->second));
  });
  router.Add("PUT", "/cluster/metadata/keys/{key}", [&loop, &node](Request& request, Reply reply) {
    auto body = ParseJsonBody(request.body);
    if (!body.ok()) {
      reply.Send(JsonError(request, body.status()));
      return;
    }
    ProposeAndAnswer(loop, node, request, std::move(reply),
                     MetaOperation::SetMetadata(request.Param("key"), ToJson(*body)),
                     /*wait_by_default=*/true);
  });
  router.Add("DELETE", "/cluster/metadata/keys/{key}",
             [&loop, &node](Request& request, Reply reply) {
               ProposeAndAnswer(loop, node, request, std::move(reply),
                                MetaOperation::DeleteMetadata(request.Param("key")),
                                /*wait_by_default=*/true);
             });
}

}  // namespace qd::api::rest
