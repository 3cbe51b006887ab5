// qd_bench: the load tool for issue #3 item 9. Against a running server it
//   1. recreates the collection (size, distance, hnsw m/ef_construct),
//   2. upserts the base set in batches over parallel connections (progress bar on stderr) and
//      waits until points_count == N and status is green: points/s counts the index build,
//      measured until the set is searchable,
//   3. for each ef: batched search (search/batch, 64 queries per request, 2 client threads) ->
//      recall@k and QPS; single-query search with 1 and with 8 concurrent connections -> QPS,
//      p50, p99 (and recall),
//   4. reads the server's VmRSS/VmHWM from /proc when given --server-pid,
// and prints a table (and JSON with --json) that scripts/bench/vectors.sh sets beside
// qd_hnsw_baseline's. Timed loops only send pre-encoded requests and decode answers; each
// repeats the query set until --min-seconds have passed, recall coming from the first pass.
//   qd_bench --data DIR [--host 127.0.0.1] [--port 6333] [--metric l2] [--ef 16,32,64,128]
//            [--server-pid PID] [--json FILE]        (see --help for the rest)
//   qd_bench --probe 10000 [--port 6333]   GET /healthz over one keep-alive connection
// Exit codes: 0 ok, 1 failed (server error, timeout, bad set), 2 usage.
#include <rapidjson/filewritestream.h>
#include <rapidjson/prettywriter.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <mutex>
#include <thread>

#include "tests/bench/dataset.h"
#include "tests/bench/grpc_vector_client.h"
#include "tests/bench/http_connection.h"
#include "tests/bench/measure.h"
#include "tests/bench/rest_vector_client.h"

namespace qd::bench {
namespace {

struct Options {
  std::string transport = "rest", host = "127.0.0.1", data_dir, metric_text = "l2";
  std::string collection_json;  // more create-body members (cluster mode)
  bool count_points = false;
  uint16_t port = 6333;
  std::string collection = "qd_bench", ef_text = "16,32,64,128", concurrency_text = "1,8";
  std::string json_path;
  size_t m = 16, ef_construct = 100, k = 10, max_queries = 0;
  size_t upsert_batch = 256, upsert_connections = 2;
  size_t batch_size = 64, batch_clients = 2;
  double min_seconds = 2.0, ready_timeout_seconds = 1800, request_timeout_seconds = 300;
  int server_pid = 0;
  bool skip_upsert = false, drop_after = false;
  size_t probe = 0;
};

struct LoadResult {
  double seconds = 0;
  size_t queries = 0;
  double qps = 0, recall = 0, p50_ms = 0, p99_ms = 0;
  double server_cpu_seconds = -1;  // CPU the server used meanwhile; -1 without --server-pid
  double client_cpu_seconds = 0;   // CPU this process used meanwhile
};

// CPU-seconds a process (the server, or this one) has used so far, or -1 when its pid is
// unknown or unreadable.
double ProcessCpu(int pid) {
  if (pid <= 0) return -1;
  auto c = ProcessCpuSeconds(pid);
  return c.ok() ? *c : -1;
}

struct EfFigures {
  int ef = 0;
  LoadResult batch;
  std::vector<std::pair<int, LoadResult>> single;  // by concurrency
};

// First error of any worker thread; the others see it and stop.
class FirstError {
 public:
  void Set(const Status& s) {
    std::lock_guard lock(mu_);
    if (status_.ok()) status_ = s;
    failed_.store(true);
  }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  Status Get() {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  Status status_;  // Protected by mu_
  std::atomic<bool> failed_{false};
};

// Sends `requests` from `threads` clients, taking the next from a shared counter, over and over
// until every request went once and `min_seconds` passed. The first pass's hits land in
// `*first_pass` (row per query, in request order); per-request latencies in milliseconds.
Status RunLoad(std::vector<std::unique_ptr<VectorClient>>& clients, size_t threads,
               const std::vector<EncodedRequest>& requests, double min_seconds, int server_pid,
               SearchResults* first_pass, LoadResult* out) {
  std::vector<size_t> first_row(requests.size() + 1, 0);
  for (size_t i = 0; i < requests.size(); ++i)
    first_row[i + 1] = first_row[i] + requests[i].queries;
  first_pass->assign(first_row.back(), {});
  std::vector<std::vector<double>> latencies(threads);
  std::atomic<size_t> next{0}, queries{0};
  FirstError error;
  const double cpu0 = ProcessCpu(server_pid);
  const double client0 = ProcessCpu(getpid());
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      SearchResults hits;
      VectorClient& client = *clients[t];
      while (!error.failed()) {
        const size_t i = next.fetch_add(1, std::memory_order_relaxed);
        if (i >= requests.size() && SecondsSince(start) >= min_seconds) break;
        const EncodedRequest& req = requests[i % requests.size()];
        const auto sent = Clock::now();
        if (Status s = client.Search(req, &hits); !s.ok()) {
          error.Set(s);
          break;
        }
        latencies[t].push_back(SecondsSince(sent) * 1000);
        queries.fetch_add(req.queries, std::memory_order_relaxed);
        if (i < requests.size()) {
          for (size_t q = 0; q < req.queries; ++q)
            (*first_pass)[first_row[i] + q] = std::move(hits[q]);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  if (error.failed()) return error.Get();
  out->seconds = SecondsSince(start);
  if (const double cpu1 = ProcessCpu(server_pid); cpu0 >= 0 && cpu1 >= 0) {
    out->server_cpu_seconds = cpu1 - cpu0;
  }
  out->client_cpu_seconds = ProcessCpu(getpid()) - client0;
  out->queries = queries.load();
  out->qps = static_cast<double>(out->queries) / out->seconds;
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  out->p50_ms = Percentile(&all, 50);
  out->p99_ms = Percentile(&all, 99);
  return Status::Ok();
}

struct UpsertFigures {
  double acked_seconds = 0;  // last upsert answered
  double ready_seconds = 0;  // points_count == N and status green
  double points_per_second = 0;
  double server_cpu_seconds = -1;  // until ready; -1 without --server-pid
  double client_cpu_seconds = 0;   // this process, until ready
  double p50_ms = 0, p99_ms = 0;   // one upsert request, sent to answered
};

Status Upsert(const Options& o, const Dataset& ds,
              std::vector<std::unique_ptr<VectorClient>>& clients, UpsertFigures* out) {
  const size_t n = ds.base.rows, batches = (n + o.upsert_batch - 1) / o.upsert_batch;
  ProgressBar bar("upsert", n);
  std::atomic<size_t> next{0};
  FirstError error;
  const double cpu0 = ProcessCpu(o.server_pid);
  const double client0 = ProcessCpu(getpid());
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  std::vector<std::vector<double>> latencies(o.upsert_connections);
  for (size_t t = 0; t < o.upsert_connections; ++t) {
    pool.emplace_back([&, t] {
      for (size_t b = next++; b < batches && !error.failed(); b = next++) {
        const size_t first = b * o.upsert_batch, count = std::min(o.upsert_batch, n - first);
        EncodedRequest req = clients[t]->EncodeUpsert(o.collection, ds.base, first, count);
        const auto sent = Clock::now();
        if (Status s = clients[t]->Upsert(req); !s.ok()) return error.Set(s);
        latencies[t].push_back(SecondsSince(sent) * 1000);
        bar.Add(count);
      }
    });
  }
  for (auto& th : pool) th.join();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  if (!all.empty()) {
    out->p50_ms = all[all.size() / 2];
    out->p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  if (error.failed()) return error.Get();
  bar.Finish();
  out->acked_seconds = SecondsSince(start);
  // Searchable means counted and green: an engine that indexes in the background says yellow.
  CollectionState state;
  while (true) {
    auto got = clients[0]->GetCollection(o.collection);
    if (!got.ok()) return got.status();
    state = *got;
    if (state.points_count == n && state.status == "green") break;
    if (SecondsSince(start) > o.ready_timeout_seconds) {
      return Status::DeadlineExceeded(
          "collection not ready after " + std::to_string(o.ready_timeout_seconds) +
          "s: " + std::to_string(state.points_count) + " points, status " + state.status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  out->ready_seconds = SecondsSince(start);
  if (const double cpu1 = ProcessCpu(o.server_pid); cpu0 >= 0 && cpu1 >= 0) {
    out->server_cpu_seconds = cpu1 - cpu0;
  }
  out->client_cpu_seconds = ProcessCpu(getpid()) - client0;
  out->points_per_second = static_cast<double>(n) / out->ready_seconds;
  return Status::Ok();
}

int Probe(const Options& o) {
  HttpConnection http(o.host, o.port, std::chrono::seconds(10));
  for (const char* path : {"/", "/healthz"}) {
    auto r = http.Request("GET", path);
    if (!r.ok()) {
      std::fprintf(stderr, "GET %s: %s\n", path, r.status().ToString().c_str());
      return 1;
    }
    std::printf("GET %s -> %d %s\n", path, r->status, r->body.substr(0, 200).c_str());
  }
  std::vector<double> lat;
  const auto start = Clock::now();
  for (size_t i = 0; i < o.probe; ++i) {
    const auto s = Clock::now();
    auto r = http.Request("GET", "/healthz");
    if (!r.ok() || r->status != 200) {
      std::fprintf(stderr, "GET /healthz #%zu: %s\n", i,
                   r.ok() ? std::to_string(r->status).c_str() : r.status().ToString().c_str());
      return 1;
    }
    lat.push_back(SecondsSince(s) * 1000);
  }
  const double secs = SecondsSince(start);
  std::printf(
      "%zu x GET /healthz on one keep-alive connection: %.0f requests/s, p50 %.3f ms, "
      "p99 %.3f ms\n",
      o.probe, static_cast<double>(o.probe) / secs, Percentile(&lat, 50), Percentile(&lat, 99));
  return 0;
}

void WriteLoad(rapidjson::PrettyWriter<rapidjson::FileWriteStream>& w, const LoadResult& r) {
  w.StartObject();
  w.Key("qps");
  w.Double(r.qps);
  w.Key("recall_at_k");
  w.Double(r.recall);
  w.Key("p50_ms");
  w.Double(r.p50_ms);
  w.Key("p99_ms");
  w.Double(r.p99_ms);
  w.Key("queries");
  w.Uint64(r.queries);
  w.Key("seconds");
  w.Double(r.seconds);
  if (r.server_cpu_seconds >= 0) {
    w.Key("server_cpu_seconds");
    w.Double(r.server_cpu_seconds);
  }
  w.Key("client_cpu_seconds");
  w.Double(r.client_cpu_seconds);
  w.EndObject();
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"Load a vector set into a Qdrant-compatible server and measure it"};
  app.add_option("--transport", o.transport, "Wire: rest or grpc")->capture_default_str();
  app.add_option("--host", o.host, "Server host")->capture_default_str();
  app.add_option("--port", o.port, "Server port: REST, or gRPC with --transport grpc")
      ->capture_default_str();
  app.add_option("--data", o.data_dir, "Set directory (base/query/groundtruth)");
  app.add_option("--metric", o.metric_text, "Euclid (l2), Cosine (cos) or Dot")
      ->capture_default_str();
  app.add_option("--collection", o.collection, "Collection (deleted and recreated)")
      ->capture_default_str();
  app.add_option("--m", o.m, "hnsw_config.m")->capture_default_str();
  app.add_option("--ef-construct", o.ef_construct, "hnsw_config.ef_construct")
      ->capture_default_str();
  app.add_option("--ef", o.ef_text, "hnsw_ef values to search with")->capture_default_str();
  app.add_option("--k", o.k, "limit (recall@k)")->capture_default_str();
  app.add_option("--queries", o.max_queries, "Use only the first N queries (0: all)");
  app.add_option("--upsert-batch", o.upsert_batch, "Points per upsert request")
      ->capture_default_str();
  app.add_option("--upsert-connections", o.upsert_connections, "Parallel upsert connections")
      ->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "Searches per search/batch request")
      ->capture_default_str();
  app.add_option("--batch-clients", o.batch_clients, "Client threads for search/batch")
      ->capture_default_str();
  app.add_option("--concurrency", o.concurrency_text,
                 "Concurrent single-query clients (0: no single-query measurement)")
      ->capture_default_str();
  app.add_option("--min-seconds", o.min_seconds, "Minimum duration of each search measurement")
      ->capture_default_str();
  app.add_option("--ready-timeout", o.ready_timeout_seconds,
                 "Seconds to wait for points_count == N and green")
      ->capture_default_str();
  app.add_option("--request-timeout", o.request_timeout_seconds, "Seconds per request")
      ->capture_default_str();
  app.add_option("--server-pid", o.server_pid, "Server process: report its VmRSS/VmHWM");
  app.add_flag("--skip-upsert", o.skip_upsert, "Reuse the loaded collection (must hold the set)");
  app.add_flag("--drop-after", o.drop_after, "Delete the collection at the end");
  app.add_option("--json", o.json_path, "Also write the figures as JSON to this file");
  app.add_option(
      "--collection-json", o.collection_json,
      "More members of the create body, e.g. '\"shard_number\":3,\"replication_factor\":2' (REST)");
  app.add_flag("--count-points", o.count_points,
               "Read the collection's size with an exact count (a cluster node's points_count is "
               "its own; REST)");
  app.add_option("--probe", o.probe, "Only check the HTTP client: N x GET /healthz, then exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.probe) return Probe(o);
  auto metric = ParseMetric(o.metric_text);
  auto efs = ParseIntList(o.ef_text);
  Result<std::vector<int>> concurrency =
      o.concurrency_text == "0" ? std::vector<int>{} : ParseIntList(o.concurrency_text);
  for (const Status* s : {&metric.status(), &efs.status(), &concurrency.status()}) {
    if (!s->ok()) {
      std::fprintf(stderr, "%s\n", s->message().c_str());
      return 2;
    }
  }
  if ((o.transport != "rest" && o.transport != "grpc") || o.data_dir.empty() ||
      o.upsert_batch == 0 || o.batch_size == 0 || o.upsert_connections == 0 ||
      o.batch_clients == 0) {
    std::fprintf(stderr,
                 "need --data, --transport rest|grpc, and non-zero batch sizes and clients\n");
    return 2;
  }
  if (o.transport == "grpc" && (!o.collection_json.empty() || o.count_points)) {
    std::fprintf(stderr, "--collection-json and --count-points are for --transport rest\n");
    return 2;
  }
  auto loaded = LoadDataset(o.data_dir, o.max_queries);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  const Dataset& ds = *loaded;
  const size_t n = ds.base.rows, nq = ds.queries.rows;

  const auto request_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.request_timeout_seconds * 1000));
  std::unique_ptr<Transport> transport;
  if (o.transport == "grpc") {
    transport = std::make_unique<GrpcTransport>(o.host, o.port, request_timeout);
  } else {
    transport = std::make_unique<RestTransport>(o.host, o.port, request_timeout, o.count_points);
  }
  size_t max_clients = std::max(o.upsert_connections, o.batch_clients);
  for (int c : *concurrency) max_clients = std::max(max_clients, static_cast<size_t>(c));
  std::vector<std::unique_ptr<VectorClient>> clients;
  for (size_t i = 0; i < max_clients; ++i) clients.push_back(transport->NewClient());
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "qd_bench: %s\n", s.ToString().c_str());
    return 1;
  };
  for (const auto& client : clients) {
    if (Status s = client->Connect(); !s.ok()) return fail(s);
  }
  std::printf("set: %s (%zu x %zu, %zu queries), metric %s, m=%zu ef_construct=%zu; %s\n",
              ds.description.c_str(), n, ds.base.dim, nq, std::string(MetricName(*metric)).c_str(),
              o.m, o.ef_construct, transport->Describe().c_str());

  std::optional<ProcessMemory> mem_before, mem_idle, mem_loaded, mem_end;
  auto sample = [&](std::optional<ProcessMemory>* slot) {
    if (o.server_pid <= 0) return;
    if (auto m = ReadProcessMemory(o.server_pid); m.ok()) *slot = *m;
  };
  UpsertFigures up;
  if (o.skip_upsert) {
    auto state = clients[0]->GetCollection(o.collection);
    if (!state.ok()) return fail(state.status());
    if (state->points_count != n) {
      return fail(Status::FailedPrecondition("--skip-upsert: collection holds " +
                                             std::to_string(state->points_count) +
                                             " points, the set " + std::to_string(n)));
    }
  } else {
    // The daemon without the collection, then with it empty: the growth from the first sample to
    // the loaded one is what the collection costs (ann-benchmarks measures an index that way).
    if (Status s = clients[0]->DeleteCollection(o.collection); !s.ok()) return fail(s);
    sample(&mem_before);
    CollectionSpec spec{o.collection,   ds.base.dim,       *metric,       o.m,
                        o.ef_construct, o.collection_json, o.count_points};
    if (Status s = clients[0]->RecreateCollection(spec); !s.ok()) return fail(s);
    sample(&mem_idle);
    if (Status s = Upsert(o, ds, clients, &up); !s.ok()) return fail(s);
    std::printf(
        "upsert: %zu points in batches of %zu over %zu connections: acknowledged in "
        "%.2fs, searchable (green) in %.2fs -> %.0f points/s\n",
        n, o.upsert_batch, o.upsert_connections, up.acked_seconds, up.ready_seconds,
        up.points_per_second);
    std::printf("upsert: one request (%zu points) p50 %.2f ms, p99 %.2f ms\n", o.upsert_batch,
                up.p50_ms, up.p99_ms);
    if (up.server_cpu_seconds >= 0) {
      std::printf("upsert: the server used %.1f CPU-seconds, the client %.1f\n",
                  up.server_cpu_seconds, up.client_cpu_seconds);
    }
  }
  sample(&mem_loaded);

  std::vector<EfFigures> figures;
  char header[512];
  int used = std::snprintf(header, sizeof header, "%6s  %9s  %9s", "ef",
                           ("recall@" + std::to_string(o.k)).c_str(), "batch QPS");
  for (int c : *concurrency) {
    used += std::snprintf(header + used, sizeof header - static_cast<size_t>(used),
                          " | %2d conn QPS  p50 ms  p99 ms", c);
  }
  bool warmed = false;
  for (int ef : *efs) {
    EfFigures f;
    f.ef = ef;
    std::vector<EncodedRequest> batch_requests;
    for (size_t first = 0; first < nq; first += o.batch_size) {
      batch_requests.push_back(clients[0]->EncodeSearchBatch(o.collection, ds.queries, first,
                                                             std::min(o.batch_size, nq - first),
                                                             o.k, static_cast<size_t>(ef)));
    }
    SearchResults hits;
    if (!warmed) {  // one untimed pass: page in what the first measurement would
      LoadResult ignored;
      if (Status s = RunLoad(clients, o.batch_clients, batch_requests, 0, 0, &hits, &ignored);
          !s.ok())
        return fail(s);
      warmed = true;
      std::printf("%s\n", header);
    }
    if (Status s = RunLoad(clients, o.batch_clients, batch_requests, o.min_seconds, o.server_pid,
                           &hits, &f.batch);
        !s.ok())
      return fail(s);
    f.batch.recall = RecallAtK(hits, ds.groundtruth, ds.gt_k, o.k);

    std::vector<EncodedRequest> single_requests;
    for (size_t q = 0; q < nq; ++q) {
      single_requests.push_back(
          clients[0]->EncodeSearch(o.collection, ds.queries, q, o.k, static_cast<size_t>(ef)));
    }
    for (int c : *concurrency) {
      LoadResult r;
      if (Status s = RunLoad(clients, static_cast<size_t>(c), single_requests, o.min_seconds,
                             o.server_pid, &hits, &r);
          !s.ok())
        return fail(s);
      r.recall = RecallAtK(hits, ds.groundtruth, ds.gt_k, o.k);
      f.single.emplace_back(c, r);
    }
    std::printf("%6d  %9.4f  %9.0f", ef, f.batch.recall, f.batch.qps);
    for (const auto& entry : f.single) {
      const LoadResult& r = entry.second;
      std::printf(" | %11.0f %7.3f %7.3f", r.qps, r.p50_ms, r.p99_ms);
    }
    std::printf("\n");
    std::fflush(stdout);
    figures.push_back(f);
  }
  sample(&mem_end);
  for (const EfFigures& f : figures) {  // how the two sides shared the machine while batching
    const LoadResult& b = f.batch;
    if (b.server_cpu_seconds < 0 || b.seconds <= 0) continue;
    std::printf("batch ef %d: server %.2f cores, client %.2f cores\n", f.ef,
                b.server_cpu_seconds / b.seconds, b.client_cpu_seconds / b.seconds);
  }
  if (mem_end) {
    std::printf(
        "server memory: RSS %s after load%s, %s at the end; peak (VmHWM) %s\n",
        mem_loaded ? HumanBytes(mem_loaded->rss_bytes).c_str() : "?",
        mem_before && mem_idle
            ? (" (" + HumanBytes(mem_before->rss_bytes) + " before the collection, " +
               HumanBytes(mem_idle->rss_bytes) + " with it empty)").c_str()
            : "",
        HumanBytes(mem_end->rss_bytes).c_str(), HumanBytes(mem_end->hwm_bytes).c_str());
    if (mem_loaded) {
      std::printf("  after load: %s anonymous (the data), %s of files (shared libraries' code)\n",
                  HumanBytes(mem_loaded->anon_bytes).c_str(),
                  HumanBytes(mem_loaded->file_bytes).c_str());
    }
  }
  if (o.drop_after) {
    if (Status s = clients[0]->DeleteCollection(o.collection); !s.ok()) return fail(s);
  }

  if (!o.json_path.empty()) {
    std::FILE* file = std::fopen(o.json_path.c_str(), "wb");
    if (!file) return fail(Status::Internal("cannot write " + o.json_path));
    char buf[4096];
    rapidjson::FileWriteStream os(file, buf, sizeof buf);
    rapidjson::PrettyWriter<rapidjson::FileWriteStream> w(os);
    w.StartObject();
    w.Key("tool");
    w.String("qd_bench");
    w.Key("transport");
    w.String(transport->Describe().c_str());
    w.Key("set");
    w.String(ds.description.c_str());
    w.Key("points");
    w.Uint64(n);
    w.Key("dim");
    w.Uint64(ds.base.dim);
    w.Key("queries");
    w.Uint64(nq);
    w.Key("metric");
    w.String(std::string(MetricName(*metric)).c_str());
    w.Key("m");
    w.Uint64(o.m);
    w.Key("ef_construct");
    w.Uint64(o.ef_construct);
    w.Key("k");
    w.Uint64(o.k);
    if (!o.skip_upsert) {
      w.Key("upsert");
      w.StartObject();
      w.Key("batch");
      w.Uint64(o.upsert_batch);
      w.Key("connections");
      w.Uint64(o.upsert_connections);
      w.Key("acked_seconds");
      w.Double(up.acked_seconds);
      w.Key("ready_seconds");
      w.Double(up.ready_seconds);
      w.Key("points_per_second");
      w.Double(up.points_per_second);
      w.Key("p50_ms");
      w.Double(up.p50_ms);
      w.Key("p99_ms");
      w.Double(up.p99_ms);
      if (up.server_cpu_seconds >= 0) {
        w.Key("server_cpu_seconds");
        w.Double(up.server_cpu_seconds);
      }
      w.EndObject();
    }
    w.Key("batch_size");
    w.Uint64(o.batch_size);
    w.Key("batch_clients");
    w.Uint64(o.batch_clients);
    w.Key("search");
    w.StartArray();
    for (const EfFigures& f : figures) {
      w.StartObject();
      w.Key("ef");
      w.Int(f.ef);
      w.Key("batch");
      WriteLoad(w, f.batch);
      w.Key("single");
      w.StartArray();
      for (const auto& [c, r] : f.single) {
        w.StartObject();
        w.Key("concurrency");
        w.Int(c);
        w.Key("result");
        WriteLoad(w, r);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    auto write_mem = [&](const char* key, const std::optional<ProcessMemory>& m) {
      if (!m) return;
      w.Key(key);
      w.StartObject();
      w.Key("rss_bytes");
      w.Uint64(m->rss_bytes);
      w.Key("hwm_bytes");
      w.Uint64(m->hwm_bytes);
      w.Key("anon_bytes");
      w.Uint64(m->anon_bytes);
      w.Key("file_bytes");
      w.Uint64(m->file_bytes);
      w.EndObject();
    };
    write_mem("server_memory_before_collection", mem_before);
    write_mem("server_memory_empty_collection", mem_idle);
    write_mem("server_memory_loaded", mem_loaded);
    write_mem("server_memory_end", mem_end);
    w.EndObject();
    os.Put('\n');
    os.Flush();
    std::fclose(file);
  }
  return 0;
}

}  // namespace
}  // namespace qd::bench

int main(int argc, char** argv) { return qd::bench::Main(argc, argv); }
