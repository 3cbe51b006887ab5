// What the node noticed about itself (issue #21 item 7): GET/DELETE /issues (collection/issues.h)
// and GET /collections/{c}/optimizations (each local replica's optimizer, Qdrant's
// OptimizationsResponse). /telemetry and /metrics are in metrics_routes.cc.
#include <algorithm>
#include <string>
#include <vector>

#include "qdrantd/api/rest/async_handler.h"
#include "qdrantd/api/rest/engine_routes.h"
#include "qdrantd/api/rest/json.h"
#include "qdrantd/api/rest/router.h"
#include "qdrantd/collection/issues.h"

namespace qd::api::rest {
namespace {

std::string IssuesJson() {
  std::string out = "{\"issues\":[";
  bool first = true;
  for (const collection::Issue& issue : collection::IssueLog::Global().List()) {
    if (!first) out += ",";
    first = false;
    std::string body = "{";
    for (const auto& [key, value] : issue.body) {
      if (body.size() > 1) body += ",";
      body += JsonQuote(key) + ":" + JsonQuote(value);
    }
    body += "}";
    out += "{\"id\":" + JsonQuote(issue.id) + ",\"description\":" + JsonQuote(issue.description) +
           ",\"solution\":{\"immediate\":{\"message\":" + JsonQuote(issue.message) +
           ",\"action\":{\"method\":" + JsonQuote(issue.method) +
           ",\"uri\":" + JsonQuote(issue.uri) + ",\"headers\":{},\"body\":" + body +
           "}}},\"timestamp\":" + JsonQuote(IsoTime(issue.timestamp_ms)) + "}";
  }
  return out + "]}";
}

// `?with=queued,completed,idle_segments`.
struct With {
  bool queued = false;
  bool completed = false;
  bool idle_segments = false;
};

Result<With> ParseWith(const Request& request) {
  With with;
  std::optional<std::string> text = request.Query("with");
  if (!text) return with;
  size_t start = 0;
  while (start <= text->size()) {
    size_t end = std::min(text->find(',', start), text->size());
    std::string item = text->substr(start, end - start);
    if (item == "queued") {
      with.queued = true;
    } else if (item == "completed") {
      with.completed = true;
    } else if (item == "idle_segments") {
      with.idle_segments = true;
    } else if (!item.empty()) {
      return Status::InvalidArgument("Query deserialize error: with: unknown variant `" + item +
                                     "`, expected one of `queued`, `completed`, `idle_segments`");
    }
    start = end + 1;
  }
  return with;
}

Result<std::optional<uint64_t>> CompletedLimit(const Request& request) {
  std::optional<std::string> text = request.Query("completed_limit");
  if (!text) return std::optional<uint64_t>();
  if (text->empty() || text->size() > 19 ||
      !std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status::InvalidArgument(
        "Query deserialize error: completed_limit: invalid digit found in string `" + *text + "`");
  }
  return std::optional<uint64_t>(std::stoull(*text));
}

std::string SegmentJson(const collection::Collection::ShardOptimizations& s) {
  return "{\"uuid\":" + JsonQuote(s.segment_uuid) +
         ",\"points_count\":" + std::to_string(s.points) + "}";
}

std::string RunJson(const collection::Collection::ShardOptimizations& s,
                    const replica::LocalReplica::OptimizationRun& run) {
  std::string status = run.running ? "\"optimizing\""
                       : run.error ? "{\"error\":" + JsonQuote(*run.error) + "}"
                                   : "\"done\"";
  std::string progress = "{\"name\":" + JsonQuote(run.optimizer) +
                         ",\"started_at\":" + JsonQuote(IsoTime(run.started_ms));
  if (!run.running) {
    progress += ",\"finished_at\":" + JsonQuote(IsoTime(run.finished_ms)) + ",\"duration_sec\":" +
                std::to_string(static_cast<double>(run.finished_ms - run.started_ms) / 1000.0);
  }
  progress += ",\"children\":[]}";
  return "{\"uuid\":" + JsonQuote(run.uuid) + ",\"optimizer\":" + JsonQuote(run.optimizer) +
         ",\"status\":" + status + ",\"segments\":[" + SegmentJson(s) +
         "],\"progress\":" + progress + "}";
}

Result<Response> Optimizations(collection::Collections& collections, const Request& request) {
  Result<std::shared_ptr<collection::Collection>> c =
      collections.Get(request.Param("collection_name"));
  if (!c.ok()) return c.status();
  Result<With> with = ParseWith(request);
  if (!with.ok()) return with.status();
  Result<std::optional<uint64_t>> completed_limit = CompletedLimit(request);
  if (!completed_limit.ok()) return completed_limit.status();

  std::vector<collection::Collection::ShardOptimizations> shards = (*c)->Optimizations();
  std::string running, queued, completed, idle;
  size_t queued_count = 0, queued_points = 0, idle_count = 0, completed_count = 0;
  // Completed runs of every shard, newest first.
  std::vector<std::pair<int64_t, std::string>> done;
  for (const collection::Collection::ShardOptimizations& s : shards) {
    bool busy = false;
    for (const replica::LocalReplica::OptimizationRun& run : s.runs) {
      if (run.running) {
        busy = true;
        running += (running.empty() ? "" : ",") + RunJson(s, run);
      } else {
        done.emplace_back(run.finished_ms, RunJson(s, run));
      }
    }
    if (s.queued) {
      ++queued_count;
      queued_points += s.points;
      queued += std::string(queued.empty() ? "" : ",") +
                "{\"optimizer\":\"vacuum\",\"segments\":[" + SegmentJson(s) + "]}";
    } else if (!busy) {
      ++idle_count;
      idle += (idle.empty() ? "" : ",") + SegmentJson(s);
    }
  }
  std::stable_sort(done.begin(), done.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [finished, json] : done) {
    if (*completed_limit && completed_count >= **completed_limit) break;
    completed += (completed.empty() ? "" : ",") + json;
    ++completed_count;
  }
  std::string out = "{\"summary\":{\"queued_optimizations\":" + std::to_string(queued_count) +
                    ",\"queued_segments\":" + std::to_string(queued_count) +
                    ",\"queued_points\":" + std::to_string(queued_points) +
                    ",\"idle_segments\":" + std::to_string(idle_count) + "},\"running\":[" +
                    running + "]";
  if (with->queued) out += ",\"queued\":[" + queued + "]";
  if (with->completed) out += ",\"completed\":[" + completed + "]";
  if (with->idle_segments) out += ",\"idle_segments\":[" + idle + "]";
  return JsonResult(request, out + "}");
}

}  // namespace

void AddDiagnosticsRoutes(Router& router, EngineContext context) {
  router.Add("GET", "/issues",
             [](Request& request, Reply reply) { reply.Send(JsonResult(request, IssuesJson())); });
  router.Add("DELETE", "/issues", [](Request& request, Reply reply) {
    collection::IssueLog::Global().Clear();
    reply.Send(JsonResult(request, "true"));
  });
  collection::Collections* collections = context.collections;
  router.Add("GET", "/collections/{collection_name}/optimizations",
             [context, collections](Request& request, Reply reply) {
               Async(context, request, std::move(reply),
                     [collections](const Request& r) { return Optimizations(*collections, r); });
             });
}

}  // namespace qd::api::rest
