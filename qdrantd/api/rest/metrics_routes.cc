#include "qdrantd/api/rest/metrics_routes.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <random>

#include "libshared/version.h"
#include "qdrantd/api/metrics/request_metrics.h"
#include "qdrantd/api/rest/json.h"
#include "qdrantd/api/rest/router.h"
#include "qdrantd/collection/collection.h"
#include "qdrantd/collection/collections.h"
#include "qdrantd/replica/local_replica.h"
#include "qdrantd/segment/segment.h"

namespace qd::api::rest {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

// One sample: a gauge or a counter (ClientMetric keeps both; the family's type picks one).
ClientMetric Sample(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  m.counter.value = value;
  return m;
}

MetricFamily Single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily f = Family(std::move(name), std::move(help), type);
  f.metric.push_back(Sample(value));
  return f;
}

struct CollectionFigures {
  std::string name;
  uint64_t points = 0;
  uint64_t vectors = 0;
};

// Collections are read through their public accessors only; one that disappears between
// List() and Get() (dropped meanwhile) is left out.
std::vector<CollectionFigures> ReadCollections(collection::Collections* collections) {
  std::vector<CollectionFigures> out;
  if (collections == nullptr) return out;
  for (const std::string& name : collections->List()) {
    auto got = collections->Get(name);
    if (!got.ok()) continue;
    const collection::Collection& c = **got;
    CollectionFigures f{name, c.points_count(), 0};
    f.vectors = f.points * std::max<uint64_t>(c.config().vectors.size(), 1);
    out.push_back(std::move(f));
  }
  return out;
}

// Qdrant's OperationDurationStatistics.
std::string DurationJson(const metrics::LatencyCell::Snapshot& s) {
  auto micros = [](uint64_t ns) { return std::to_string(static_cast<double>(ns) / 1000.0); };
  std::string out = "{\"count\":" + std::to_string(s.count);
  if (s.failed) out += ",\"fail_count\":" + std::to_string(s.failed);
  out += ",\"avg_duration_micros\":" + micros(s.count ? s.total_ns / s.count : 0);
  out += ",\"min_duration_micros\":" + micros(s.min_ns);
  out += ",\"max_duration_micros\":" + micros(s.max_ns);
  out += ",\"total_duration_micros\":" + std::to_string(s.total_ns / 1000);
  if (s.last_unix_ms) out += ",\"last_responded\":" + JsonQuote(IsoTime(s.last_unix_ms));
  return out + "}";
}

// One collection of /telemetry's `collections.collections`, as Qdrant details it: at level 0
// CollectionsAggregatedTelemetry {vectors, optimizers_status, params}; from level 1
// CollectionTelemetry {id, config}; from level 2 with `shards` too (ReplicaSetTelemetry: the
// local replica's figures, the other peers holding the shard, every replica's state).
std::string CollectionTelemetry(const collection::Collection& c, uint64_t details_level,
                                const ClusterMetrics* cluster) {
  const collection::CollectionConfig config = c.config();
  const size_t points = c.points_count();
  const size_t vectors = points * std::max<size_t>(config.vectors.size(), 1);
  if (details_level == 0) {
    const rapidjson::Value& params = (*config.json)["params"];
    return "{\"vectors\":" + std::to_string(vectors) +
           ",\"optimizers_status\":\"ok\",\"params\":" + ToJson(params) + "}";
  }
  std::string out = "{\"id\":" + JsonQuote(c.name()) + ",\"config\":" + config.ToJson();
  if (details_level >= 2) {
    out += ",\"shards\":[";
    std::map<uint32_t, size_t> optimized;
    for (const collection::Collection::ShardOptimizations& s : c.Optimizations()) {
      for (const replica::LocalReplica::OptimizationRun& run : s.runs) {
        if (!run.running && !run.error) optimized[s.shard] += run.points;
      }
    }
    for (uint32_t shard = 0; shard < config.shard_number; ++shard) {
      if (shard) out += ",";
      out += "{\"id\":" + std::to_string(shard) + ",\"key\":null,\"local\":";
      if (c.HasLocalShard(shard)) {
        const size_t n = c.ShardPointsCount(shard);
        out +=
            "{\"variant_name\":\"local_shard\",\"status\":\"green\",\"total_optimized_points\":" +
            std::to_string(optimized[shard]) + ",\"num_points\":" + std::to_string(n) +
            ",\"num_vectors\":" + std::to_string(n * std::max<size_t>(config.vectors.size(), 1)) +
            "}";
      } else {
        out += "null";
      }
      std::string remote, states;
      if (cluster) {
        for (const ClusterMetrics::Replica& r : cluster->replicas) {
          if (r.collection != c.name() || r.shard != shard) continue;
          if (r.peer != cluster->peer_id) {
            remote += std::string(remote.empty() ? "" : ",") +
                      "{\"shard_id\":" + std::to_string(shard) +
                      ",\"peer_id\":" + std::to_string(r.peer) + "}";
          }
          states += std::string(states.empty() ? "" : ",") + JsonQuote(std::to_string(r.peer)) +
                    ":" + JsonQuote(r.state);
        }
      }
      out += ",\"remote\":[" + remote + "],\"replicate_states\":{" + states + "}}";
    }
    out += "]";
  }
  return out + "}";
}

std::string RenderTelemetry(const MetricsContext& context, const std::string& id,
                            const std::string& startup, uint64_t details_level) {
  std::string out = "{\"id\":" + JsonQuote(id);
  out += ",\"app\":{\"name\":\"qdrant\",\"version\":" + JsonQuote(version::kQdrantVersion) +
         ",\"startup\":" + JsonQuote(startup) + "}";

  std::optional<ClusterMetrics> cluster;
  if (context.cluster) cluster = context.cluster();
  std::vector<std::string> names =
      context.collections ? context.collections->List() : std::vector<std::string>{};
  std::string listed;
  size_t count = 0;
  for (const std::string& name : names) {
    auto got = context.collections->Get(name);
    if (!got.ok()) continue;  // dropped meanwhile
    listed += std::string(count++ ? "," : "") +
              CollectionTelemetry(**got, details_level, cluster ? &*cluster : nullptr);
  }
  out += ",\"collections\":{\"number_of_collections\":" + std::to_string(count) +
         ",\"collections\":[" + listed + "]}";

  if (cluster) {
    const ClusterMetrics& c = *cluster;
    out += ",\"cluster\":{\"enabled\":true,\"status\":{\"number_of_peers\":" + std::to_string(c.peers) +
           ",\"term\":" + std::to_string(c.term) + ",\"commit\":" + std::to_string(c.commit) +
           ",\"pending_operations\":" + std::to_string(c.pending_operations) +
           ",\"role\":" + JsonQuote(c.role) + ",\"is_voter\":" + (c.voter ? "true" : "false") +
           ",\"peer_id\":" + std::to_string(c.peer_id) + "}}";
  } else {
    out += ",\"cluster\":{\"enabled\":false}";
  }

  out += ",\"requests\":{\"rest\":{\"responses\":{";
  std::string endpoint;
  bool first_endpoint = true;
  for (const metrics::RestMetrics::Entry& e : context.rest ? context.rest->Read()
                                                           : std::vector<metrics::RestMetrics::Entry>{}) {
    std::string name = e.method + " " + e.endpoint;
    if (name != endpoint) {
      if (!first_endpoint) out += "}";
      out += std::string(first_endpoint ? "" : ",") + JsonQuote(name) + ":{";
      endpoint = name;
      first_endpoint = false;
    } else {
      out += ",";
    }
    out += JsonQuote(std::to_string(e.status)) + ":" + DurationJson(e.stats);
  }
  if (!first_endpoint) out += "}";
  out += "}},\"grpc\":{\"responses\":{";
  if (context.grpc) {
    bool first = true;
    for (const metrics::GrpcMetrics::Entry& e : context.grpc->Read()) {
      out += std::string(first ? "" : ",") + JsonQuote(e.endpoint) + ":" + DurationJson(e.stats);
      first = false;
    }
  }
  out += "}}}}";
  return out;
}

}  // namespace

std::string RenderMetrics(const MetricsContext& context) {
  std::vector<MetricFamily> families;
  MetricFamily app = Family("app_info", "information about qdrant server", MetricType::Gauge);
  app.metric.push_back(Sample(1, {{"name", "qdrant"}, {"version", version::kQdrantVersion}}));
  families.push_back(std::move(app));
  families.push_back(Single("app_status_recovery_mode",
                            "If qdrant is currently started in recovery mode", MetricType::Gauge, 0));
  MetricFamily build = Family("qdrantd_build_info", "qdrantd's own version and commit", MetricType::Gauge);
  build.metric.push_back(Sample(1, {{"version", version::kServerVersion}, {"commit", version::kCommit}}));
  families.push_back(std::move(build));

  std::vector<CollectionFigures> collections = ReadCollections(context.collections);
  uint64_t vectors = 0;
  MetricFamily points = Family("qdrantd_collection_points", "points in the collection's local replicas",
                               MetricType::Gauge);
  for (const CollectionFigures& c : collections) {
    vectors += c.vectors;
    points.metric.push_back(Sample(static_cast<double>(c.points), {{"collection", c.name}}));
  }
  families.push_back(Single("collections_total", "number of collections", MetricType::Gauge,
                            static_cast<double>(collections.size())));
  families.push_back(Single("collections_vector_total", "total number of vectors in all collections",
                            MetricType::Gauge, static_cast<double>(vectors)));
  families.push_back(std::move(points));
  MetricFamily plans = Family("qdrantd_search_plan_total",
                              "dense searches by the path that answered them: the exact scan, the "
                              "HNSW walk, or a walk the planner's probe handed to the scan",
                              MetricType::Counter);
  for (auto [path, name] :
       {std::pair{segment::SearchPathTaken::kExact, "exact"},
        std::pair{segment::SearchPathTaken::kWalk, "hnsw"},
        std::pair{segment::SearchPathTaken::kWalkThenExact, "hnsw_then_exact"}}) {
    plans.metric.push_back(
        Sample(static_cast<double>(segment::SearchPathCount(path)), {{"path", name}}));
  }
  families.push_back(std::move(plans));

  families.push_back(Single("cluster_enabled", "is cluster support enabled", MetricType::Gauge,
                            context.cluster ? 1 : 0));
  if (context.cluster) {
    ClusterMetrics c = context.cluster();
    families.push_back(Single("cluster_peers_total", "total number of cluster peers",
                              MetricType::Gauge, static_cast<double>(c.peers)));
    families.push_back(Single("cluster_term", "current cluster term", MetricType::Counter,
                              static_cast<double>(c.term)));
    families.push_back(Single("cluster_commit",
                              "index of last committed (finalized) operation cluster peer is aware of",
                              MetricType::Counter, static_cast<double>(c.commit)));
    families.push_back(Single("cluster_pending_operations_total",
                              "total number of pending operations for cluster peer",
                              MetricType::Gauge, static_cast<double>(c.pending_operations)));
    families.push_back(Single("cluster_voter", "is cluster peer a voter or learner",
                              MetricType::Gauge, c.voter ? 1 : 0));
    MetricFamily replicas = Family("qdrantd_shard_replica_state",
                                   "1 for each shard replica in its current state, as consensus records it",
                                   MetricType::Gauge);
    for (const ClusterMetrics::Replica& r : c.replicas) {
      replicas.metric.push_back(Sample(1, {{"collection", r.collection},
                                           {"shard", std::to_string(r.shard)},
                                           {"peer", std::to_string(r.peer)},
                                           {"state", r.state}}));
    }
    families.push_back(std::move(replicas));
    families.push_back(Single("qdrantd_shard_transfers_total", "shard transfers in progress",
                              MetricType::Gauge, static_cast<double>(c.transfers.size())));
    MetricFamily transfers = Family("qdrantd_shard_transfer", "1 for each shard transfer in progress",
                                    MetricType::Gauge);
    for (const ClusterMetrics::Transfer& t : c.transfers) {
      transfers.metric.push_back(Sample(1, {{"collection", t.collection},
                                            {"shard", std::to_string(t.shard)},
                                            {"from", std::to_string(t.from)},
                                            {"to", std::to_string(t.to)},
                                            {"method", t.method}}));
    }
    families.push_back(std::move(transfers));
  }

  if (context.rest) metrics::AppendRestFamilies(context.rest->Read(), families);
  if (context.grpc) metrics::AppendGrpcFamilies(context.grpc->Read(), families);
  return prometheus::TextSerializer().Serialize(families);
}

void AddMetricsRoutes(Router& router, MetricsContext context) {
  router.Add("GET", "/metrics", [context](Request&, Reply reply) {
    Response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = RenderMetrics(context);
    reply.Send(std::move(r));
  });

  // Qdrant's telemetry names this instance with a random id and says when it started.
  std::random_device random;
  char id[40];
  std::snprintf(id, sizeof id, "%08x-%04x-4%03x-%04x-%04x%08x", random(), random() & 0xffff,
                random() & 0xfff, (random() & 0x3fff) | 0x8000, random() & 0xffff, random());
  std::string startup = IsoTime(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
  router.Add(
      "GET", "/telemetry", [context, id = std::string(id), startup](Request& request, Reply reply) {
        // details_level: 0 (the default) to any; Qdrant adds detail at 1 and 2 for what we have.
        uint64_t level = 0;
        if (std::optional<std::string> text = request.Query("details_level")) {
          if (text->empty() || text->size() > 19 ||
              !std::all_of(text->begin(), text->end(),
                           [](char c) { return c >= '0' && c <= '9'; })) {
            reply.Send(JsonError(
                request,
                Status::InvalidArgument("Query deserialize error: details_level: invalid digit "
                                        "found in string `" +
                                        *text + "`")));
            return;
          }
          level = std::stoull(*text);
        }
        reply.Send(JsonResult(request, RenderTelemetry(context, id, startup, level)));
      });
}

}  // namespace qd::api::rest
