// VectorClient: what the load tool asks of a vector database, whatever the wire. A Transport
// makes one VectorClient per client thread (each owns its own connection); REST is
// RestTransport, and gRPC (issue #4) is a second Transport behind the same interface, so the
// measuring code in bench_main.cc does not change with the wire.
// Requests are encoded by the client before the clock starts (Encode*), so a timed loop only
// sends, waits and decodes, as a load generator replaying fixed requests would.
// Thread: a VectorClient is used by one thread at a time; a Transport by any.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"
#include "tests/bench/dataset.h"

namespace qd::bench {

struct CollectionSpec {
  std::string name;
  size_t dim = 0;
  Metric metric = Metric::kEuclid;
  size_t m = 16;
  size_t ef_construct = 100;
  // Cluster mode: more members of the create body, e.g. "shard_number":3,"replication_factor":2
  // (REST only), and whether the collection's size is read with an exact count (a cluster
  // node's points_count counts its own replicas only).
  std::string extra_json;
  bool count_points = false;
};

struct CollectionState {
  uint64_t points_count = 0;
  std::string status;  // Qdrant's: "green", "yellow" (optimising), "grey", "red"
};

// One request in the transport's own encoding (REST: method, path and JSON body).
struct EncodedRequest {
  std::string method;
  std::string path;
  std::string body;
  size_t queries = 0;  // searches in it; each gets one row of results
};

// Ids of the hits of each search, best first.
using SearchResults = std::vector<std::vector<uint64_t>>;

class VectorClient {
 public:
  virtual ~VectorClient() = default;

  // Opens the client's connection now, so that no timed phase pays for it (or fails on a
  // transient connect error: gRPC fails a call at once while its channel is between attempts).
  // Errors: kUnavailable when no connection is up within the request timeout.
  virtual Status Connect() = 0;
  // Deletes the collection if it exists, then creates it with `spec`.
  // Errors: the server's (mapped from its status) or the connection's.
  virtual Status RecreateCollection(const CollectionSpec& spec) = 0;
  // Errors: kNotFound if there is no such collection; the connection's.
  virtual Result<CollectionState> GetCollection(const std::string& name) = 0;
  // Succeeds when the collection is gone (including when it was never there).
  virtual Status DeleteCollection(const std::string& name) = 0;

  // Points [first, first + count) of `base`, with ids equal to their positions, applied
  // before the answer (wait=true).
  virtual EncodedRequest EncodeUpsert(const std::string& collection, const Matrix& base,
                                      size_t first, size_t count) = 0;
  // One search for queries.Row(row), or a batch of `count` searches from `first`; `limit` hits
  // each, searched with ef = `hnsw_ef`.
  virtual EncodedRequest EncodeSearch(const std::string& collection, const Matrix& queries,
                                      size_t row, size_t limit, size_t hnsw_ef) = 0;
  virtual EncodedRequest EncodeSearchBatch(const std::string& collection, const Matrix& queries,
                                           size_t first, size_t count, size_t limit,
                                           size_t hnsw_ef) = 0;

  virtual Status Upsert(const EncodedRequest& request) = 0;
  // Fills (*results)[0 .. request.queries) with the hit ids of each search.
  virtual Status Search(const EncodedRequest& request, SearchResults* results) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::unique_ptr<VectorClient> NewClient() = 0;
  virtual std::string Describe() const = 0;  // "REST http://127.0.0.1:6333"
};

}  // namespace qd::bench
