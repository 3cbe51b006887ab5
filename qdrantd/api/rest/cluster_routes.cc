#include "qdrantd/api/rest/cluster_routes.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <memory>
#include <set>
#include <string_view>

#include "qdrantd/api/rest/async_handler.h"
#include "qdrantd/api/rest/json.h"
#include "qdrantd/api/rest/router.h"
#include "qdrantd/cluster/cluster_node.h"
#include "qdrantd/cluster/rebalance.h"
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

std::string Rfc3339(uint64_t ms_since_epoch) {
  std::time_t t = static_cast<std::time_t>(ms_since_epoch / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03lluZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned long long>(ms_since_epoch % 1000));
  return buf;
}

// The `rebalance` object of GET /cluster (beyond Qdrant, whose schema allows extra properties
// there) and, with `full`, the result of GET /cluster/rebalance: the plan as this peer computes
// it (cluster/rebalance.h) from the state and the peers it reaches. Only the leader knows which
// peers count as dead, so heal moves show in the plan on the leader alone.
std::string RebalanceJson(const cluster::ClusterState& state, const cluster::ClusterStatus& status,
                          bool full) {
  // Only the leader hears from every peer (a follower hears from the leader alone), and only
  // it acts on the plan: elsewhere every peer counts as reachable.
  std::set<cluster::PeerId> unreachable;
  for (const auto& [id, peer] : status.peers) {
    if (!peer.reachable && status.role == "Leader") unreachable.insert(id);
  }
  const cluster::RebalanceStatus r =
      cluster::DescribeRebalance(state, unreachable, cluster::WallClockMs());
  std::string out;
  out.append("{\"state\":")
      .append(JsonQuote(r.state))
      .append(",\"reason\":")
      .append(r.reason.empty() ? "null" : JsonQuote(r.reason))
      .append(",\"moves_done\":")
      .append(std::to_string(r.moves_done))
      .append(",\"moves_failed\":")
      .append(std::to_string(r.moves_failed))
      .append(",\"moves_in_flight\":")
      .append(std::to_string(r.moves_in_flight))
      .append(",\"moves_planned\":")
      .append(std::to_string(r.moves_planned))
      .append(",\"moves_total\":")
      .append(std::to_string(r.moves_total))
      .append(",\"started_at\":")
      .append(r.started_ms ? JsonQuote(Rfc3339(r.started_ms)) : "null")
      .append(",\"eta_sec\":")
      .append(r.eta_sec ? std::to_string(*r.eta_sec) : "null")
      .append(",\"draining\":[");
  bool first = true;
  for (cluster::PeerId p : r.draining) {
    out.append(first ? "" : ",").append(std::to_string(p));
    first = false;
  }
  out += "]";
  if (!full) return out + "}";
  out += ",\"plan\":[";
  first = true;
  for (const cluster::PlannedMove& m : r.plan.moves) {
    out.append(first ? "" : ",")
        .append("{\"kind\":\"")
        .append(cluster::PlannedMoveKindName(m.kind))
        .append("\",\"collection\":")
        .append(JsonQuote(m.collection))
        .append(",\"shard_id\":")
        .append(std::to_string(m.shard))
        .append(",\"from_peer_id\":")
        .append(std::to_string(m.from))
        .append(",\"to_peer_id\":")
        .append(m.to ? std::to_string(m.to) : "null")
        .append(",\"reason\":")
        .append(JsonQuote(m.reason))
        .append("}");
    first = false;
  }
  out += "],\"in_flight\":[";
  first = true;
  for (const cluster::Transfer& t : r.in_flight) {
    out.append(first ? "" : ",")
        .append("{\"collection\":")
        .append(JsonQuote(t.collection))
        .append(",\"shard_id\":")
        .append(std::to_string(t.shard))
        .append(",\"from_peer_id\":")
        .append(std::to_string(t.from))
        .append(",\"to_peer_id\":")
        .append(std::to_string(t.to))
        .append(",\"sync\":")
        .append(t.sync ? "true" : "false")
        .append(",\"method\":")
        .append(JsonQuote(t.method))
        .append(",\"reason\":")
        .append(JsonQuote(t.reason.empty() ? "recovery" : t.reason))
        .append(",\"points_done\":")
        .append(std::to_string(t.progress.points_done))
        .append(",\"points_total\":")
        .append(std::to_string(t.progress.points_total))
        .append("}");
    first = false;
  }
  out += "],\"stuck\":[";
  first = true;
  for (const std::string& why : r.plan.stuck) {
    out.append(first ? "" : ",").append(JsonQuote(why));
    first = false;
  }
  out += "],\"replicas_per_peer\":{";
  first = true;
  for (const auto& [peer, now] : r.plan.replicas_before) {
    auto after = r.plan.replicas_after.find(peer);
    out.append(first ? "" : ",")
        .append("\"")
        .append(std::to_string(peer))
        .append("\":{\"now\":")
        .append(std::to_string(now))
        .append(",\"after\":")
        .append(std::to_string(after == r.plan.replicas_after.end() ? 0 : after->second))
        .append("}");
    first = false;
  }
  return out + "}}";
}

Result<uint64_t> ParsePeerId(const std::string& text) {
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("Path deserialize error: can not parse \"" + text +
                                   "\" to a u64");
  }
  return id;
}

std::string ClusterJson(const cluster::ClusterStatus& s, const cluster::ClusterState& state) {
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
  for (const auto& [uri, failure] : s.message_send_failures) {
    if (!first) out += ",";
    first = false;
    out += JsonQuote(uri) + ":{\"count\":" + std::to_string(failure.count) + ",\"latest_error\":" +
           (failure.latest_error.empty() ? "null" : JsonQuote(failure.latest_error)) + "}";
  }
  out += "},\"rebalance\":" + RebalanceJson(state, s, /*full=*/false) + "}";
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
    reply.Send(JsonResult(request, ClusterJson(node.GetStatus(loop.Enter()), *node.State())));
  });
  // Rebalancing, draining (beyond Qdrant; docs/cluster.md "Rebalancing, draining and
  // self-healing"): the plan, starting a rebalance, draining a peer and cancelling a drain.
  router.Add("GET", "/cluster/rebalance", [&loop, &node](Request& request, Reply reply) {
    reply.Send(JsonResult(request, RebalanceJson(*node.State(), node.GetStatus(loop.Enter()),
                                                 /*full=*/true)));
  });
  router.Add("POST", "/cluster/rebalance", [&loop, &node](Request& request, Reply reply) {
    MetaOperation op;
    op.kind = MetaOperation::Kind::kSetRebalance;
    op.rebalance_action = "start";
    op.reason = "requested";
    op.started_ms = cluster::WallClockMs();
    ProposeAndAnswer(loop, node, request, std::move(reply), std::move(op),
                     /*wait_by_default=*/true);
  });
  for (const char* method : {"POST", "DELETE"}) {
    const bool cancel = std::string_view(method) == "DELETE";
    router.Add(method, "/cluster/peer/{peer_id}/drain",
               [&loop, &node, cancel](Request& request, Reply reply) {
                 Result<uint64_t> id = ParsePeerId(request.Param("peer_id"));
                 if (!id.ok()) {
                   reply.Send(JsonError(request, id.status()));
                   return;
                 }
                 if (Status s = cluster::CheckDrain(*node.State(), *id, cancel); !s.ok()) {
                   reply.Send(JsonError(request, s));
                   return;
                 }
                 MetaOperation op;
                 op.kind = MetaOperation::Kind::kDrainPeer;
                 op.peer_id = *id;
                 op.cancel = cancel;
                 ProposeAndAnswer(loop, node, request, std::move(reply), std::move(op),
                                  /*wait_by_default=*/true);
               });
  }
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
    Result<uint64_t> parsed = ParsePeerId(text);
    if (!parsed.ok()) {
      reply.Send(JsonError(request, parsed.status()));
      return;
    }
    const uint64_t id = *parsed;
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
    const auto state = node.State();  // held for the loop
    for (const auto& [key, value] : state->metadata) {
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
