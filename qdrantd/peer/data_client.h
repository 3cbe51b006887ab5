// DataClient: this node's outbound side of the data plane (proto/p2p.proto, service P2pData),
// the PeerLink collections use to reach other peers' replicas. It keeps its own gRPC channel per
// peer address, apart from PeerPool's Raft channels, so big upserts never queue behind Raft
// heartbeats, and reuses it for every call.
//
// Replication streams, one per (peer, collection, shard): ops arrive in op order (the ordering
// replica calls Replicate under its WAL lock), queue, and go out in batches with one batch in
// flight, so the receiver sees them in order and logs a batch in one transaction. Happy path:
// Replicate queues -> if idle, a batch is sent -> the reply (the receiver applied it) runs each
// op's `done` on a gRPC thread -> the next batch goes. Failure modes: transport failure, deadline
// or an in-band error -> that batch's ops and everything queued behind fail, and so does every
// later op of the stream (the receiver now misses ops: only a transfer can bring it back), until
// ResetReplication. Never blocks the caller.
// Thread: any. Calls carry deadlines; callbacks run on gRPC's threads and must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "qdrantd/collection/peer_link.h"

namespace qd::peer {

struct DataClientOptions {
  std::chrono::milliseconds forward_timeout{30000};    // a forwarded write, replication included
  std::chrono::milliseconds replicate_timeout{20000};  // one replicated batch
  std::chrono::milliseconds read_timeout{20000};
  std::chrono::milliseconds probe_timeout{2000};  // TransferReady
  // A snapshot's install opens a replica (loads its graphs, replays its WAL): minutes at most.
  std::chrono::milliseconds install_timeout{600000};
  size_t max_batch_bytes = size_t{8} << 20;
};

class DataClient : public collection::PeerLink {
 public:
  // The URI of a peer as consensus knows it; nullopt for an unknown peer.
  using UriOf = std::function<std::optional<std::string>(uint64_t peer)>;
  // Proposes the replica Dead through consensus; `done` runs when that answered (any thread).
  using ProposeDead = std::function<void(const std::string& collection, uint32_t shard,
                                         uint64_t peer, std::function<void(const Status&)> done)>;

  DataClient(UriOf uri_of, ProposeDead propose_dead, DataClientOptions options = {});
  ~DataClient() override;
  DataClient(const DataClient&) = delete;
  DataClient& operator=(const DataClient&) = delete;

  Result<segment::OpNum> Forward(uint64_t peer, const std::string& collection, uint32_t shard,
                                 const collection::UpdateRequest& request) override;
  void Replicate(uint64_t peer, const std::string& collection, uint32_t shard, uint64_t origin,
                 collection::StreamItem item, Done done) override;
  Result<std::optional<collection::ReplicaClock>> TransferReady(uint64_t peer,
                                                                const std::string& collection,
                                                                uint32_t shard,
                                                                uint64_t from) override;
  Result<collection::InstalledSnapshot> SendSnapshotChunk(
      uint64_t peer, const std::string& collection,
      const collection::SnapshotChunk& chunk) override;
  Result<segment::OpNum> Fence(uint64_t peer, const std::string& collection, uint32_t shard,
                               uint64_t orderer) override;
  Result<collection::ReplicaDigest> Digest(uint64_t peer, const std::string& collection,
                                           uint32_t shard) override;
  Result<std::vector<collection::StreamItem>> ReadOps(uint64_t peer, const std::string& collection,
                                                      uint32_t shard, segment::OpNum from,
                                                      segment::OpNum to) override;
  void ResetReplication(uint64_t peer, const std::string& collection, uint32_t shard) override;
  std::future<Result<collection::ShardReadResult>> Read(uint64_t peer,
                                                        const std::string& collection,
                                                        uint32_t shard,
                                                        const collection::ShardRead& read) override;
  std::shared_future<Status> ReportDead(const std::string& collection, uint32_t shard,
                                        uint64_t peer, const std::string& why) override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace qd::peer
