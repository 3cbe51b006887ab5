// Per-endpoint request counts and latencies for /metrics and /telemetry (Qdrant:
// WebApiTelemetry and GrpcTelemetry). The listeners record every answered request here; the
// scrape reads the cells and turns them into Prometheus families (prometheus-cpp's
// ClientMetric, so its TextSerializer writes the format) or Qdrant's telemetry JSON.
//
// The hot path is a few relaxed atomic adds on a cell found without hashing (REST: by the
// router's route index; gRPC: a pointer-keyed lookup under a shared lock). prometheus-cpp's own
// Histogram::Observe takes a mutex and its Family::Add hashes the labels under another, so its
// metric objects stay off the hot path: measured on this project's 2-core VM, one Record is
// 13 ns (plus the one steady_clock read the listener adds, 50 ns there) against 56 ns for a
// pre-resolved prometheus-cpp Counter::Increment + Histogram::Observe.
//
// Thread: RestMetrics is loop-only (the REST listener answers on the loop, and /metrics is
// served there). GrpcMetrics may be recorded from any thread and read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace prometheus {
struct MetricFamily;
}

namespace qd::api::metrics {

// Upper bounds of the latency histogram buckets, in seconds (the last bucket, +Inf, is implied).
inline constexpr std::array<double, 12> kBucketBoundsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

// One endpoint (and, for REST, one status): count, failures, duration sum/min/max, histogram.
// Relaxed atomics: a scrape may see a count and a sum from slightly different moments, which
// Prometheus tolerates; nothing is ever lost.
class LatencyCell {
 public:
  using Clock = std::chrono::steady_clock;
  LatencyCell();
  // `end`: when the response was sent; `duration`: since the request arrived.
  void Record(Clock::time_point end, std::chrono::nanoseconds duration, bool failed);

  struct Snapshot {
    uint64_t count = 0;
    uint64_t failed = 0;
    uint64_t total_ns = 0;
    uint64_t min_ns = 0;  // 0 when count == 0
    uint64_t max_ns = 0;
    std::array<uint64_t, kBucketBoundsSeconds.size() + 1> buckets{};  // not cumulative
    int64_t last_unix_ms = 0;  // when the last response was sent, 0 if never
  };
  Snapshot Read() const;

 private:
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> total_ns_{0};
  std::atomic<uint64_t> min_ns_;
  std::atomic<uint64_t> max_ns_{0};
  std::atomic<int64_t> last_steady_ns_{0};
  std::array<std::atomic<uint64_t>, kBucketBoundsSeconds.size() + 1> buckets_{};
};

// REST responses by (route, status). Routes are numbered by the Router in the order they were
// added; route == routes.size() collects requests that matched no route (404, one endpoint
// label "unknown", so that scanning clients cannot blow up the label set).
class RestMetrics {
 public:
  // `routes`: "METHOD /pattern" per route index, as Router::RouteNames() gives them. Called
  // once all routes are added, before the listener starts; until then every request counts as
  // unknown.
  RestMetrics() { SetRoutes({}); }
  void SetRoutes(std::vector<std::string> routes);

  // Loop thread. `route` out of range counts as unknown.
  void Record(size_t route, int status, LatencyCell::Clock::time_point start,
              LatencyCell::Clock::time_point end);

  struct Entry {
    std::string method;
    std::string endpoint;
    int status;
    LatencyCell::Snapshot stats;
  };
  // Loop thread. Only (route, status) pairs that were answered at least once.
  std::vector<Entry> Read() const;

 private:
  struct Route {
    std::string method;
    std::string endpoint;
    std::vector<std::pair<int, std::unique_ptr<LatencyCell>>> by_status;  // a handful
  };
  std::vector<Route> routes_;  // the last one is "unknown"; never empty
};

// gRPC responses by full method name ("/qdrant.Points/Search"). Any thread.
class GrpcMetrics {
 public:
  // `method` must stay valid for the life of the server: gRPC's method names are static strings
  // of the generated code, so the pointer itself is the key.
  void Record(const char* method, bool failed, LatencyCell::Clock::time_point start,
              LatencyCell::Clock::time_point end);

  struct Entry {
    std::string endpoint;
    LatencyCell::Snapshot stats;
  };
  std::vector<Entry> Read() const;

 private:
  LatencyCell& CellFor(const char* method);

  mutable std::shared_mutex mu_;
  std::unordered_map<const char*, std::unique_ptr<LatencyCell>> cells_;  // Protected by mu_
};

// Qdrant's request families (rest_responses_*, grpc_responses_*) from the cells, appended to
// `out`: *_total and *_fail_total counters, *_avg/min/max_duration_seconds gauges and the
// *_duration_seconds histogram.
void AppendRestFamilies(const std::vector<RestMetrics::Entry>& entries,
                        std::vector<prometheus::MetricFamily>& out);
void AppendGrpcFamilies(const std::vector<GrpcMetrics::Entry>& entries,
                        std::vector<prometheus::MetricFamily>& out);

}  // namespace qd::api::metrics
