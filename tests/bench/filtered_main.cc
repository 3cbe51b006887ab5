// qd_filtered_bench: filtered search (issue #22) over REST, both of the engine's paths timed in
// the same run. Against a running qdrantd it
//   1. recreates the collection (Euclid/Cosine/Dot, hnsw m / ef_construct / payload_m) with two
//      integer payload indexes: `label` (the set's class, base.labels.txt; id % 10 without one)
//      and `bucket` (id % 100, uncorrelated with the vectors), then upserts the base set with
//      those payloads and waits until it is searchable,
//   2. for each filter, for each query, sends three searches, in one of the six orders in turn:
//      `exact: true` (the exact scan over the filter: the ground truth and the exact path's
//      latency), `qdrantd_plan: "hnsw"` (the filtered graph walk, whatever the planner
//      thinks) and a plain search (the planner's choice), and repeats the query set --passes
//      times for the latencies,
//   3. reads `qdrantd_search_plan_total` from /metrics around each filter's planned searches to
//      say which path the planner took,
// and prints per filter: selectivity, recall@k of the walk and of the planner's pick against the
// exact scan (by distance, so ties count as found), mean latency of each path, the planner's
// choice and its latency over the better path's.
//   qd_filtered_bench --data DIR [--port 6333] [--queries 300] [--ef 128] [--passes 3]
// Exit codes: 0 ok, 1 failed, 2 usage.
#include <rapidjson/document.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "tests/bench/dataset.h"
#include "tests/bench/http_connection.h"
#include "tests/bench/measure.h"

namespace qd::bench {
namespace {

struct Options {
  std::string host = "127.0.0.1", data_dir, metric_text = "l2", collection = "qd_filtered";
  std::string filters_text;
  uint16_t port = 6333;
  size_t m = 16, ef_construct = 100, k = 10, queries = 300, ef = 128, passes = 3;
  size_t upsert_batch = 256;
  int64_t payload_m = -1;  // -1: not sent
  bool skip_upsert = false;
  uint64_t seed = 7;
};

void AppendVector(std::string* out, std::span<const float> v) {
  char buf[32];
  out->push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out->push_back(',');
    auto r = std::to_chars(buf, buf + sizeof buf, v[i]);
    out->append(buf, r.ptr);
  }
  out->push_back(']');
}

Result<HttpResponse> Call(HttpConnection& c, std::string_view method, const std::string& path,
                          const std::string& body = {}) {
  Result<HttpResponse> r = c.Request(method, path, body);
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return Status::Internal(std::string(method) + " " + path + ": HTTP " +
                            std::to_string(r->status) + " " + r->body.substr(0, 300));
  }
  return r;
}

// One filter of the table: its name and, per query, the filter JSON ("" for none).
struct FilterCase {
  std::string name;
  std::function<std::string(size_t query)> json;
};

struct Hit {
  uint64_t id;
  float score;
};

Result<std::vector<Hit>> ParseHits(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("result") || !d["result"].IsArray()) {
    return Status::Internal("bad search answer: " + body.substr(0, 200));
  }
  std::vector<Hit> out;
  for (const auto& h : d["result"].GetArray()) {
    out.push_back(Hit{h["id"].GetUint64(), static_cast<float>(h["score"].GetDouble())});
  }
  return out;
}

// Found hits that are at least as close as the truth's k-th (Fashion-MNIST has equal distances,
// so ids would miss ties), over min(k, truth size).
double Recall(const std::vector<Hit>& found, const std::vector<Hit>& truth, bool higher_better) {
  if (truth.empty()) return 1.0;
  const float kth = truth.back().score;
  const float slack = 1e-4f * std::max(1.0f, std::abs(kth));
  size_t good = 0;
  for (const Hit& h : found) {
    if (higher_better ? h.score >= kth - slack : h.score <= kth + slack) ++good;
  }
  return std::min(1.0, double(good) / double(truth.size()));
}

// Sum of qdrantd_search_plan_total by path, from /metrics.
Result<std::map<std::string, double>> PlanCounters(HttpConnection& c) {
  Result<HttpResponse> r = Call(c, "GET", "/metrics");
  if (!r.ok()) return r.status();
  std::map<std::string, double> out;
  size_t pos = 0;
  const std::string key = "qdrantd_search_plan_total{path=\"";
  while ((pos = r->body.find(key, pos)) != std::string::npos) {
    size_t start = pos + key.size();
    size_t quote = r->body.find('"', start);
    size_t space = r->body.find(' ', quote);
    out[r->body.substr(start, quote - start)] += std::strtod(r->body.c_str() + space + 1, nullptr);
    pos = space;
  }
  return out;
}

Result<std::vector<int>> ReadLabels(const std::string& path, size_t n) {
  std::vector<int> out;
  std::ifstream in(path);
  if (!in) {
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<int>(i % 10));
    return out;
  }
  int v;
  while (in >> v) out.push_back(v);
  if (out.size() < n) return Status::InvalidArgument(path + " has fewer labels than points");
  return out;
}

Status Upsert(HttpConnection& c, const Options& o, const Dataset& ds,
              const std::vector<int>& labels, const std::string& metric) {
  const std::string base = "/collections/" + o.collection;
  (void)c.Request("DELETE", base);
  std::string create = "{\"vectors\":{\"size\":" + std::to_string(ds.base.dim) +
                       ",\"distance\":\"" + metric +
                       "\"},\"hnsw_config\":{\"m\":" + std::to_string(o.m) +
                       ",\"ef_construct\":" + std::to_string(o.ef_construct);
  if (o.payload_m >= 0) create += ",\"payload_m\":" + std::to_string(o.payload_m);
  create += "}}";
  if (auto r = Call(c, "PUT", base, create); !r.ok()) return r.status();
  for (const char* field : {"label", "bucket"}) {
    std::string body =
        std::string("{\"field_name\":\"") + field + "\",\"field_schema\":\"integer\"}";
    if (auto r = Call(c, "PUT", base + "/index?wait=true", body); !r.ok()) return r.status();
  }
  ProgressBar bar("upsert", ds.base.rows);
  const Clock::time_point start = Clock::now();
  for (size_t first = 0; first < ds.base.rows; first += o.upsert_batch) {
    const size_t end = std::min(ds.base.rows, first + o.upsert_batch);
    std::string body = "{\"points\":[";
    for (size_t i = first; i < end; ++i) {
      if (i > first) body += ',';
      body += "{\"id\":" + std::to_string(i) + ",\"vector\":";
      AppendVector(&body, ds.base.Row(i));
      body += ",\"payload\":{\"label\":" + std::to_string(labels[i]) +
              ",\"bucket\":" + std::to_string(i % 100) + "}}";
    }
    body += "]}";
    if (auto r = Call(c, "PUT", base + "/points?wait=true", body); !r.ok()) return r.status();
    bar.Add(end - first);
  }
  bar.Finish();
  std::printf("upserted %zu points with payloads in %.1f s\n", ds.base.rows, SecondsSince(start));
  return Status::Ok();
}

int Run(const Options& o) {
  Result<Metric> metric = ParseMetric(o.metric_text);
  if (!metric.ok()) {
    std::fprintf(stderr, "%s\n", metric.status().ToString().c_str());
    return 2;
  }
  Result<Dataset> ds = LoadDataset(o.data_dir, o.queries);
  if (!ds.ok()) {
    std::fprintf(stderr, "%s\n", ds.status().ToString().c_str());
    return 1;
  }
  Result<std::vector<int>> labels = ReadLabels(o.data_dir + "/base.labels.txt", ds->base.rows);
  Result<std::vector<int>> query_labels =
      ReadLabels(o.data_dir + "/query.labels.txt", ds->queries.rows);
  if (!labels.ok() || !query_labels.ok()) {
    std::fprintf(stderr, "cannot read labels\n");
    return 1;
  }
  HttpConnection c(o.host, o.port, std::chrono::seconds(300));
  if (!o.skip_upsert) {
    if (Status s = Upsert(c, o, *ds, *labels, std::string(MetricName(*metric))); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }

  std::mt19937_64 rng(o.seed);
  std::vector<int> random_label(ds->queries.rows);
  for (int& l : random_label) l = static_cast<int>(rng() % 10);
  auto must = [](const std::string& condition) { return "{\"must\":[" + condition + "]}"; };
  auto bucket_below = [&](int n) {
    return FilterCase{
        "bucket < " + std::to_string(n) + " (" + std::to_string(n) + "%)", [=](size_t) {
          return must("{\"key\":\"bucket\",\"range\":{\"lt\":" + std::to_string(n) + "}}");
        }};
  };
  std::vector<FilterCase> all = {
      {"none", [](size_t) { return std::string(); }},
      {"label = random k (10%)",
       [&](size_t q) {
         return must("{\"key\":\"label\",\"match\":{\"value\":" + std::to_string(random_label[q]) +
                     "}}");
       }},
      {"label = query's (10%)",
       [&](size_t q) {
         return must("{\"key\":\"label\",\"match\":{\"value\":" +
                     std::to_string((*query_labels)[q]) + "}}");
       }},
      bucket_below(0),  // no point: what a search costs besides its path (REST, JSON, plan)
      bucket_below(1),
      bucket_below(10),
      bucket_below(30),
      bucket_below(50),
      {"label not in 0..7 (20%)",
       [](size_t) {
         return std::string(
             "{\"must_not\":[{\"key\":\"label\",\"match\":{\"any\":[0,1,2,3,4,5,6,7]}}]}");
       }},
  };
  std::vector<FilterCase> filters;
  for (FilterCase& f : all) {
    if (o.filters_text.empty() || f.name.find(o.filters_text) != std::string::npos) {
      filters.push_back(std::move(f));
    }
  }
  const bool higher_better = *metric != Metric::kEuclid;
  const std::string path = "/collections/" + o.collection + "/points/search";
  enum Mode { kExact, kGraph, kPlanned, kModes };
  const char* kParams[kModes] = {"\"exact\":true", "\"qdrantd_plan\":\"hnsw\"", ""};

  std::printf("\n%zu queries x %zu passes, k %zu, hnsw_ef %zu; latency: mean ms per search\n",
              ds->queries.rows, o.passes, o.k, o.ef);
  std::printf("%-26s %8s %8s %9s %9s %8s %12s %12s\n", "filter", "recall", "recall", "hnsw ms",
              "exact ms", "plan ms", "plan", "plan/better");
  std::printf("%-26s %8s %8s %9s %9s %8s %12s %12s\n", "", "hnsw", "plan", "", "", "", "", "");
  for (const FilterCase& f : filters) {
    double recall[kModes] = {0, 0, 0}, seconds[kModes] = {0, 0, 0};
    size_t count[kModes] = {0, 0, 0};
    std::map<std::string, double> before, after;
    for (size_t pass = 0; pass < o.passes; ++pass) {
      for (size_t q = 0; q < ds->queries.rows; ++q) {
        std::string filter = f.json(q);
        std::vector<Hit> truth;
        std::vector<Hit> found[kModes];
        // All six orders in turn, so that each path follows each other as often: a forced
        // walk of a tiny filter crosses the whole graph and leaves cold caches to what follows.
        static constexpr size_t kOrders[6][kModes] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                                      {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
        for (size_t i = 0; i < kModes; ++i) {
          const size_t mode = kOrders[(q + pass) % 6][i];
          std::string body = "{\"vector\":";
          AppendVector(&body, ds->queries.Row(q));
          body += ",\"limit\":" + std::to_string(o.k) +
                  ",\"params\":{\"hnsw_ef\":" + std::to_string(o.ef) +
                  (mode == kPlanned ? "" : ",") + kParams[mode] + "}";
          if (!filter.empty()) body += ",\"filter\":" + filter;
          body += "}";
          const Clock::time_point start = Clock::now();
          Result<HttpResponse> r = Call(c, "POST", path, body);
          const double took = SecondsSince(start);
          if (!r.ok()) {
            std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
            return 1;
          }
          Result<std::vector<Hit>> hits = ParseHits(r->body);
          if (!hits.ok()) {
            std::fprintf(stderr, "%s\n", hits.status().ToString().c_str());
            return 1;
          }
          seconds[mode] += took;
          ++count[mode];
          found[mode] = std::move(*hits);
        }
        if (pass == 0) {
          for (size_t mode = 0; mode < kModes; ++mode) {
            recall[mode] += Recall(found[mode], found[kExact], higher_better);
          }
        }
      }
    }
    // The planner's picks: one more, untimed, sweep of planned searches between two reads of
    // the counters (the timed passes interleave the forced paths, which count too).
    if (auto counters = PlanCounters(c); counters.ok()) before = *counters;
    for (size_t q = 0; q < ds->queries.rows; ++q) {
      std::string body = "{\"vector\":";
      AppendVector(&body, ds->queries.Row(q));
      body += ",\"limit\":" + std::to_string(o.k) +
              ",\"params\":{\"hnsw_ef\":" + std::to_string(o.ef) + "}";
      const std::string filter = f.json(q);
      if (!filter.empty()) body += ",\"filter\":" + filter;
      body += "}";
      if (Result<HttpResponse> r = Call(c, "POST", path, body); !r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
        return 1;
      }
    }
    if (auto counters = PlanCounters(c); counters.ok()) after = *counters;
    const double n = double(ds->queries.rows);
    double ms[kModes];
    for (size_t mode = 0; mode < kModes; ++mode)
      ms[mode] = 1000 * seconds[mode] / double(count[mode]);
    const double exact_picks = after["exact"] - before["exact"];
    const double graph_picks = after["hnsw"] - before["hnsw"];
    const double handed_over = after["hnsw_then_exact"] - before["hnsw_then_exact"];
    // "exact", "hnsw", or the share of each: "h70/x20/p10" (hnsw, exact, probe handed over).
    auto pct = [&](double v) { return std::to_string(int(100 * v / n + 0.5)); };
    std::string choice =
        exact_picks + graph_picks + handed_over == 0 ? "?"
        : graph_picks + handed_over == 0             ? "exact"
        : exact_picks + handed_over == 0
            ? "hnsw"
            : "h" + pct(graph_picks) + "/x" + pct(exact_picks) + "/p" + pct(handed_over);
    std::printf("%-26s %8.3f %8.3f %9.2f %9.2f %8.2f %12s %12.2f\n", f.name.c_str(),
                recall[kGraph] / n, recall[kPlanned] / n, ms[kGraph], ms[kExact], ms[kPlanned],
                choice.c_str(), ms[kPlanned] / std::min(ms[kGraph], ms[kExact]));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace qd::bench

int main(int argc, char** argv) {
  qd::bench::Options o;
  CLI::App app{"filtered search: the graph walk, the exact scan and the planner's pick"};
  app.add_option("--data", o.data_dir, "set directory (base/query fvecs, labels)")->required();
  app.add_option("--host", o.host);
  app.add_option("--port", o.port);
  app.add_option("--metric", o.metric_text, "l2 | cos | dot");
  app.add_option("--collection", o.collection);
  app.add_option("--m", o.m);
  app.add_option("--ef-construct", o.ef_construct);
  app.add_option("--payload-m", o.payload_m, "hnsw_config.payload_m (not sent when < 0)");
  app.add_option("--queries", o.queries);
  app.add_option("--ef", o.ef, "hnsw_ef of every search");
  app.add_option("--k", o.k);
  app.add_option("--passes", o.passes, "times the query set is timed");
  app.add_option("--upsert-batch", o.upsert_batch);
  app.add_option("--filters", o.filters_text, "only filters whose name contains this");
  app.add_flag("--skip-upsert", o.skip_upsert, "search the collection as it is");
  CLI11_PARSE(app, argc, argv);
  return qd::bench::Run(o);
}
