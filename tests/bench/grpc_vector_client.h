// The gRPC transport: Qdrant's public gRPC API (qdrant.Collections, qdrant.Points) through the
// generated stubs, one channel per client (so client threads do not share an HTTP/2
// connection, as separate REST connections do not). Requests are encoded as serialized
// messages before the clock starts (EncodedRequest.method names the RPC, body holds the bytes);
// sending parses them back into the message, which for packed floats is a copy.
//   Create:      CreateCollection {vectors_config.params {size, distance}, hnsw_config {m,
//   ef_construct}} Upsert:      UpsertPoints {wait: true, points [{id.num, vectors.vector.dense}]}
//   Search:      SearchPoints {vector, limit, params.hnsw_ef}
//   SearchBatch: SearchBatchPoints {search_points [SearchPoints...]}
// Thread: see vector_client.h. grpcpp stays in the .cc.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "tests/bench/vector_client.h"

namespace qd::bench {

class GrpcTransport : public Transport {
 public:
  GrpcTransport(std::string host, uint16_t port, std::chrono::milliseconds timeout)
      : host_(std::move(host)), port_(port), timeout_(timeout) {}
  std::unique_ptr<VectorClient> NewClient() override;
  std::string Describe() const override;

 private:
  const std::string host_;
  const uint16_t port_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace qd::bench
