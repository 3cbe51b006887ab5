#include <catch2/catch.hpp>

#include <chrono>
#include <regex>
#include <thread>

#include "qdrantd/api/metrics/request_metrics.h"
#include "qdrantd/api/rest/metrics_routes.h"
#include "qdrantd/api/rest/router.h"

using namespace qd::api;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

bool HasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("a latency cell counts, sums, keeps min and max and fills one bucket per sample",
          "[unit][metrics]") {
  metrics::LatencyCell cell;
  Clock::time_point now = Clock::now();
  cell.Record(now, 2ms, false);   // bucket <= 0.0025
  cell.Record(now, 300us, true);  // bucket <= 0.0005
  cell.Record(now, 7s, false);    // +Inf
  metrics::LatencyCell::Snapshot s = cell.Read();
  CHECK(s.count == 3);
  CHECK(s.failed == 1);
  CHECK(s.total_ns == 7'002'300'000ull);
  CHECK(s.min_ns == 300'000);
  CHECK(s.max_ns == 7'000'000'000ull);
  CHECK(s.buckets[0] == 1);
  CHECK(s.buckets[2] == 1);
  CHECK(s.buckets.back() == 1);
  uint64_t sum = 0;
  for (uint64_t b : s.buckets) sum += b;
  CHECK(sum == 3);
  CHECK(s.last_unix_ms > 1'700'000'000'000);
}

TEST_CASE("REST responses are labelled by route pattern and status, unmatched ones as unknown",
          "[unit][metrics]") {
  rest::Router router;
  router.Add("GET", "/collections/{name}", [](rest::Request&, rest::Reply) {});
  router.Add("POST", "/collections/{name}/points/search", [](rest::Request&, rest::Reply) {});
  metrics::RestMetrics rest;
  rest.SetRoutes(router.RouteNames());
  Clock::time_point t = Clock::now();
  rest.Record(1, 200, t, t + 3ms);
  rest.Record(1, 200, t, t + 1ms);
  rest.Record(1, 400, t, t + 1ms);
  rest.Record(SIZE_MAX, 404, t, t + 1ms);

  std::string text = rest::RenderMetrics({.rest = &rest});
  CHECK(HasLine(text, "# TYPE rest_responses_total counter"));
  CHECK(HasLine(text, R"(rest_responses_total{method="POST",endpoint="/collections/{name}/points/search",status="200"} 2)"));
  CHECK(HasLine(text, R"(rest_responses_fail_total{method="POST",endpoint="/collections/{name}/points/search",status="400"} 1)"));
  CHECK(HasLine(text, R"(rest_responses_fail_total{method="POST",endpoint="/collections/{name}/points/search",status="200"} 0)"));
  CHECK(HasLine(text, R"(rest_responses_total{method="ANY",endpoint="unknown",status="404"} 1)"));
  CHECK(HasLine(text, R"(rest_responses_avg_duration_seconds{method="POST",endpoint="/collections/{name}/points/search",status="200"} 0.002)"));
  CHECK(HasLine(text, R"(rest_responses_max_duration_seconds{method="POST",endpoint="/collections/{name}/points/search",status="200"} 0.003)"));
  CHECK(HasLine(text, "# TYPE rest_responses_duration_seconds histogram"));
  CHECK(HasLine(text, R"(rest_responses_duration_seconds_bucket{method="POST",endpoint="/collections/{name}/points/search",status="200",le="0.001"} 1)"));
  CHECK(HasLine(text, R"(rest_responses_duration_seconds_bucket{method="POST",endpoint="/collections/{name}/points/search",status="200",le="+Inf"} 2)"));
  CHECK(HasLine(text, R"(rest_responses_duration_seconds_count{method="POST",endpoint="/collections/{name}/points/search",status="200"} 2)"));
  // A route never answered has no series.
  CHECK(text.find(R"(endpoint="/collections/{name}",)") == std::string::npos);
  // Standalone, no collections: Qdrant's app and collection families still appear.
  CHECK(std::regex_search(text, std::regex(R"(\napp_info\{name="qdrant",version="[0-9.]+"\} 1\n)")));
  CHECK(HasLine(text, "collections_total 0"));
  CHECK(HasLine(text, "cluster_enabled 0"));
}

TEST_CASE("gRPC responses are counted per method from many threads without loss",
          "[unit][metrics]") {
  metrics::GrpcMetrics grpc;
  static const char* const kSearch = "/qdrant.Points/Search";
  static const char* const kHealth = "/qdrant.Qdrant/HealthCheck";
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&grpc, t] {
      for (int i = 0; i < 10'000; ++i) {
        Clock::time_point now = Clock::now();
        grpc.Record(i % 2 ? kSearch : kHealth, t == 0 && i % 2, now, now + 1us);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<metrics::GrpcMetrics::Entry> entries = grpc.Read();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].endpoint == kSearch);
  CHECK(entries[0].stats.count == 20'000);
  CHECK(entries[0].stats.failed == 5'000);
  CHECK(entries[1].stats.count == 20'000);
  std::string text = rest::RenderMetrics({.grpc = &grpc});
  CHECK(HasLine(text, R"(grpc_responses_total{endpoint="/qdrant.Points/Search"} 20000)"));
  CHECK(HasLine(text, R"(grpc_responses_fail_total{endpoint="/qdrant.Points/Search"} 5000)"));
}

TEST_CASE("cluster figures become Qdrant's cluster_* families and our replica states",
          "[unit][metrics]") {
  rest::ClusterMetrics cluster{.peer_id = 7, .peers = 3, .term = 4, .commit = 19,
                               .pending_operations = 1, .voter = true, .role = "Leader"};
  cluster.replicas.push_back({"books", 0, 7, "Active"});
  cluster.replicas.push_back({"books", 0, 8, "Partial"});
  cluster.transfers.push_back({"books", 0, 7, 8, "stream_records"});
  std::string text = rest::RenderMetrics({.cluster = [&] { return cluster; }});
  CHECK(HasLine(text, "cluster_enabled 1"));
  CHECK(HasLine(text, "cluster_peers_total 3"));
  CHECK(HasLine(text, "# TYPE cluster_term counter"));
  CHECK(HasLine(text, "cluster_term 4"));
  CHECK(HasLine(text, "cluster_commit 19"));
  CHECK(HasLine(text, "cluster_pending_operations_total 1"));
  CHECK(HasLine(text, "cluster_voter 1"));
  CHECK(HasLine(text, R"(qdrantd_shard_replica_state{collection="books",shard="0",peer="8",state="Partial"} 1)"));
  CHECK(HasLine(text, "qdrantd_shard_transfers_total 1"));
  CHECK(HasLine(text, R"(qdrantd_shard_transfer{collection="books",shard="0",from="7",to="8",method="stream_records"} 1)"));
}
