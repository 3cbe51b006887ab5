#include "qdrantd/api/metrics/request_metrics.h"

#include <prometheus/metric_family.h>

#include <algorithm>
#include <limits>

namespace qd::api::metrics {
namespace {

constexpr uint64_t kNoMin = std::numeric_limits<uint64_t>::max();

// Bucket bounds in nanoseconds, so that Record compares integers.
constexpr std::array<uint64_t, kBucketBoundsSeconds.size()> BoundsNs() {
  std::array<uint64_t, kBucketBoundsSeconds.size()> ns{};
  for (size_t i = 0; i < ns.size(); ++i) ns[i] = static_cast<uint64_t>(kBucketBoundsSeconds[i] * 1e9);
  return ns;
}
constexpr auto kBoundsNs = BoundsNs();

double Seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

prometheus::ClientMetric WithLabels(std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  return m;
}

// The six families Qdrant exports per request kind ("rest" or "grpc"), in its words.
struct RequestFamilies {
  prometheus::MetricFamily total, fail, avg, min, max, histogram;

  explicit RequestFamilies(const std::string& kind) {
    std::string what = kind == "grpc" ? "total number of grpc responses" : "total number of responses";
    total = {kind + "_responses_total", what, prometheus::MetricType::Counter, {}};
    fail = {kind + "_responses_fail_total", "total number of failed responses",
            prometheus::MetricType::Counter, {}};
    avg = {kind + "_responses_avg_duration_seconds", "average response duration",
           prometheus::MetricType::Gauge, {}};
    min = {kind + "_responses_min_duration_seconds", "minimum response duration",
           prometheus::MetricType::Gauge, {}};
    max = {kind + "_responses_max_duration_seconds", "maximum response duration",
           prometheus::MetricType::Gauge, {}};
    histogram = {kind + "_responses_duration_seconds", "response duration histogram",
                 prometheus::MetricType::Histogram, {}};
  }

  void Add(const std::vector<prometheus::ClientMetric::Label>& labels,
           const LatencyCell::Snapshot& s) {
    prometheus::ClientMetric m = WithLabels(labels);
    m.counter.value = static_cast<double>(s.count);
    total.metric.push_back(m);
    m.counter.value = static_cast<double>(s.failed);
    fail.metric.push_back(m);
    m = WithLabels(labels);
    m.gauge.value = s.count ? Seconds(s.total_ns) / static_cast<double>(s.count) : 0.0;
    avg.metric.push_back(m);
    m.gauge.value = Seconds(s.min_ns);
    min.metric.push_back(m);
    m.gauge.value = Seconds(s.max_ns);
    max.metric.push_back(m);
    m = WithLabels(labels);
    m.histogram.sample_count = s.count;
    m.histogram.sample_sum = Seconds(s.total_ns);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBucketBoundsSeconds.size(); ++i) {
      cumulative += s.buckets[i];
      m.histogram.bucket.push_back({cumulative, kBucketBoundsSeconds[i]});
    }
    m.histogram.bucket.push_back({s.count, std::numeric_limits<double>::infinity()});
    histogram.metric.push_back(std::move(m));
  }

  void MoveTo(std::vector<prometheus::MetricFamily>& out) {
    out.push_back(std::move(total));
    out.push_back(std::move(fail));
    out.push_back(std::move(avg));
    out.push_back(std::move(min));
    out.push_back(std::move(max));
    out.push_back(std::move(histogram));
  }
};

}  // namespace

LatencyCell::LatencyCell() : min_ns_(kNoMin) {}

void LatencyCell::Record(Clock::time_point end, std::chrono::nanoseconds duration, bool failed) {
  const uint64_t ns = static_cast<uint64_t>(std::max<int64_t>(duration.count(), 0));
  count_.fetch_add(1, std::memory_order_relaxed);
  if (failed) failed_.fetch_add(1, std::memory_order_relaxed);
  total_ns_.fetch_add(ns, std::memory_order_relaxed);
  size_t bucket = 0;
  while (bucket < kBoundsNs.size() && ns > kBoundsNs[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  // min/max: a load first, so that the common case (no new extreme) writes nothing.
  uint64_t seen = min_ns_.load(std::memory_order_relaxed);
  while (ns < seen && !min_ns_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
  }
  seen = max_ns_.load(std::memory_order_relaxed);
  while (ns > seen && !max_ns_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
  }
  last_steady_ns_.store(end.time_since_epoch().count(), std::memory_order_relaxed);
}

LatencyCell::Snapshot LatencyCell::Read() const {
  Snapshot s;
  s.count = count_.load(std::memory_order_relaxed);
  s.failed = failed_.load(std::memory_order_relaxed);
  s.total_ns = total_ns_.load(std::memory_order_relaxed);
  uint64_t min = min_ns_.load(std::memory_order_relaxed);
  s.min_ns = min == kNoMin ? 0 : min;
  s.max_ns = max_ns_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < buckets_.size(); ++i) s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  if (int64_t last = last_steady_ns_.load(std::memory_order_relaxed); last != 0) {
    // steady_clock has no epoch of its own: shift by how far system_clock is ahead of it now.
    auto ago = Clock::now().time_since_epoch() - std::chrono::nanoseconds(last);
    auto when = std::chrono::system_clock::now() - ago;
    s.last_unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  }
  return s;
}

void RestMetrics::SetRoutes(std::vector<std::string> routes) {
  routes.push_back("ANY unknown");
  routes_.clear();
  for (std::string& r : routes) {
    size_t space = r.find(' ');
    Route route;
    route.method = r.substr(0, space);
    route.endpoint = space == std::string::npos ? "" : r.substr(space + 1);
    routes_.push_back(std::move(route));
  }
}

void RestMetrics::Record(size_t route, int status, LatencyCell::Clock::time_point start,
                         LatencyCell::Clock::time_point end) {
  Route& r = routes_[std::min(route, routes_.size() - 1)];
  LatencyCell* cell = nullptr;
  for (auto& [s, c] : r.by_status) {
    if (s == status) {
      cell = c.get();
      break;
    }
  }
  if (cell == nullptr) {
    r.by_status.emplace_back(status, std::make_unique<LatencyCell>());
    cell = r.by_status.back().second.get();
  }
  // Qdrant counts 4xx and 5xx answers as failed responses.
  cell->Record(end, end - start, status >= 400);
}

std::vector<RestMetrics::Entry> RestMetrics::Read() const {
  std::vector<Entry> out;
  for (const Route& r : routes_) {
    for (const auto& [status, cell] : r.by_status) {
      out.push_back({r.method, r.endpoint, status, cell->Read()});
    }
  }
  return out;
}

LatencyCell& GrpcMetrics::CellFor(const char* method) {
  {
    std::shared_lock lock(mu_);
    auto it = cells_.find(method);
    if (it != cells_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  auto& cell = cells_[method];
  if (!cell) cell = std::make_unique<LatencyCell>();
  return *cell;
}

void GrpcMetrics::Record(const char* method, bool failed, LatencyCell::Clock::time_point start,
                         LatencyCell::Clock::time_point end) {
  CellFor(method).Record(end, end - start, failed);
}

std::vector<GrpcMetrics::Entry> GrpcMetrics::Read() const {
  std::vector<Entry> out;
  {
    std::shared_lock lock(mu_);
    for (const auto& [method, cell] : cells_) out.push_back({method, cell->Read()});
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.endpoint < b.endpoint; });
  return out;
}

void AppendRestFamilies(const std::vector<RestMetrics::Entry>& entries,
                        std::vector<prometheus::MetricFamily>& out) {
  RequestFamilies f("rest");
  for (const RestMetrics::Entry& e : entries) {
    f.Add({{"method", e.method}, {"endpoint", e.endpoint}, {"status", std::to_string(e.status)}},
          e.stats);
  }
  f.MoveTo(out);
}

void AppendGrpcFamilies(const std::vector<GrpcMetrics::Entry>& entries,
                        std::vector<prometheus::MetricFamily>& out) {
  RequestFamilies f("grpc");
  for (const GrpcMetrics::Entry& e : entries) f.Add({{"endpoint", e.endpoint}}, e.stats);
  f.MoveTo(out);
}

}  // namespace qd::api::metrics
