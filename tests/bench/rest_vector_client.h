// The REST transport: Qdrant's HTTP API over one keep-alive HttpConnection per client, JSON
// written by hand (floats in shortest round-trip form) and read with RapidJSON. The shapes:
//   PUT    /collections/{name}  {"vectors":{"size":N,"distance":"Euclid"},
//                                "hnsw_config":{"m":16,"ef_construct":100}}
//   DELETE /collections/{name}
//   GET    /collections/{name}  -> result.points_count, result.status
//   PUT    /collections/{name}/points?wait=true  {"points":[{"id":1,"vector":[...]}, ...]}
//   POST   /collections/{name}/points/search  {"vector":[...],"limit":10,"params":{"hnsw_ef":64}}
//          -> result: [{id, score, ...}]
//   POST   /collections/{name}/points/search/batch  {"searches":[<search>, ...]}
//          -> result: [[{id, score, ...}], ...]
// Every answer is {"result": ..., "status": "ok", "time": ...}; errors carry
// {"status": {"error": "..."}}. Thread: see vector_client.h.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "tests/bench/vector_client.h"

namespace qd::bench {

class RestTransport : public Transport {
 public:
  // count_points: collection sizes by exact count (cluster mode; see CollectionSpec).
  RestTransport(std::string host, uint16_t port, std::chrono::milliseconds timeout,
                bool count_points = false)
      : host_(std::move(host)), port_(port), timeout_(timeout), count_points_(count_points) {}
  std::unique_ptr<VectorClient> NewClient() override;
  std::string Describe() const override;

 private:
  const std::string host_;
  const uint16_t port_;
  const std::chrono::milliseconds timeout_;
  const bool count_points_;
};

}  // namespace qd::bench
