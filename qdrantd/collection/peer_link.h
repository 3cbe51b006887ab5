// PeerLink: what a collection asks of the other peers of a cluster, as plain C++ values, so that
// collection/ stays free of gRPC (peer::DataClient implements it over proto/p2p.proto's P2pData
// service; the daemon injects it). Also the shard-level read and write requests both the local
// and the remote path execute, so one request type serves REST, gRPC and peers.
// Thread: any; implementations are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/segment/operation.h"
#include "qdrantd/segment/segment.h"

namespace qd::collection {

enum class UpdateMode { kUpsert, kInsertOnly, kUpdateOnly };

// Qdrant's write ordering (compat.md §5.3). In qdrantd every write of a shard is numbered by
// one ordering replica, so replicas converge under all three; they differ in which replica:
// weak and medium take the Active replica with the highest peer id that answers (falling over
// to the next, which is reported Dead); strong takes the highest-id replica whatever its state,
// and fails (HTTP 500) when that one is not Active or cannot be reached.
enum class WriteOrdering : uint8_t { kWeak = 0, kMedium = 1, kStrong = 2 };

// A points update as the API hands it over, before it is resolved per shard.
struct UpdateRequest {
  segment::Operation op;   // kind and data; ids/points are the explicit ones
  bool by_filter = false;  // select points by `filter` instead of op.ids
  segment::PointFilter filter;
  UpdateMode update_mode = UpdateMode::kUpsert;  // kUpsert only
  segment::PointFilter update_filter;            // kUpsert / kUpdateVectors: replace only matches
  WriteOrdering ordering = WriteOrdering::kWeak;
};

// One read of one shard's replica: what the coordinator sends to the replica it picked and
// what that replica runs against its segment (Collection::ReadLocal).
struct ShardRead {
  enum class Kind : uint8_t {
    kSearch = 0,
    kScroll = 1,
    kCount = 2,
    kRetrieve = 3,
    kScrollOrdered = 4
  };
  Kind kind = Kind::kSearch;
  segment::PointFilter filter;
  // The coordinator's projection. Payloads cross peers whole and the coordinator projects them;
  // vectors are selected at the source.
  segment::Projection projection;
  segment::SearchSpec search;                // kSearch; its `filter` pointer is ignored
  std::optional<segment::PointId> from;      // kScroll
  size_t limit = 0;                          // kScroll, kScrollOrdered
  std::vector<segment::PointId> ids;         // kRetrieve
  std::optional<segment::OrderBy> order_by;  // kScrollOrdered
};

struct ShardReadResult {
  segment::RecordBatch records;
  size_t count = 0;  // kCount
};

// One entry of a replication stream (proto/p2p.proto's ReplicatedOp): an op numbered by the
// shard's ordering replica, or an item of a shard transfer its source puts between the ops it
// forwards (docs/cluster.md "Shard transfers").
struct StreamItem {
  enum class Kind : uint8_t {
    kOp = 0,
    kTransferReset = 1,   // op_num: the base the receiver's emptied replica continues from
    kTransferPoints = 2,  // body: a kUpsert Operation; versions: its points' versions
  };
  Kind kind = Kind::kOp;
  segment::OpNum op_num = 0;
  std::string body;                      // kOp, kTransferPoints: segment::Encode(op)
  std::vector<segment::OpNum> versions;  // kTransferPoints
  std::vector<std::string> indexes;      // kTransferReset: kCreateFieldIndex encodings
};

// PeerLink's calls fail with kUnavailable and a message that starts with this when the call did
// not reach a working peer (refused, reset, deadline). Any other error is the peer's own answer.
inline constexpr std::string_view kUnreachable = "peer unreachable: ";

// Which operations a replica holds, as a wal_delta transfer compares it: its last op and the
// hash of that op's body (replica::LocalReplica::LastClock).
struct ReplicaClock {
  segment::OpNum op = 0;
  uint64_t hash = 0;
};
// A replica's content in a few numbers (proto/p2p.proto DigestReply): equal replicas at the
// same op have equal digests.
struct ReplicaDigest {
  segment::OpNum op = 0;
  uint64_t points = 0;
  uint64_t sum = 0;
  uint64_t xor_ = 0;
  friend bool operator==(const ReplicaDigest&, const ReplicaDigest&) = default;
};
// A piece of a shard snapshot a snapshot transfer's source sends (proto/p2p.proto
// SnapshotChunkRequest): `data` at `offset` of `file`, or, with `install`, the request to open
// every file sent as the receiver's replica. A new `session` (one per attempt) discards what
// an older one sent.
struct SnapshotChunk {
  uint32_t shard = 0;
  uint64_t from = 0;  // the transfer's source
  uint64_t session = 0;
  std::string file;  // replica::LocalReplica::IsSnapshotFile
  uint64_t offset = 0;
  std::string data;
  bool install = false;
};
// What the receiver holds once it opened a snapshot: the last op (the delta continues after
// it) and its points.
struct InstalledSnapshot {
  segment::OpNum last_op = 0;
  uint64_t points = 0;
};
inline bool IsUnreachable(const Status& s) {
  return s.code() == StatusCode::kUnavailable && s.message().rfind(kUnreachable, 0) == 0;
}

class PeerLink {
 public:
  virtual ~PeerLink() = default;

  // Has `peer` run `request` (this shard's part of an update) as the shard's ordering replica;
  // returns its op number (0: resolved to nothing). Errors: the remote application error, or
  // kUnavailable when the call did not reach a working peer (connection refused, deadline):
  // whether it was applied is then unknown.
  virtual Result<segment::OpNum> Forward(uint64_t peer, const std::string& collection,
                                         uint32_t shard, const UpdateRequest& request) = 0;

  // Queues `item` for `peer`'s replica of the shard. Calls for one (peer, collection, shard)
  // must come in op order (the sender calls it under its WAL lock); they are sent in that
  // order, batched, one batch in flight. Never blocks. `done` runs once the peer applied it, or
  // with the failure (after which every later item for that replica fails too, until
  // `ResetReplication`).
  using Done = std::function<void(Status)>;
  virtual void Replicate(uint64_t peer, const std::string& collection, uint32_t shard,
                         uint64_t origin, StreamItem item, Done done) = 0;
  // Forgets a failed replication stream, so that later ops are sent again (a recovered replica).
  virtual void ResetReplication(uint64_t peer, const std::string& collection, uint32_t shard) = 0;

  // Asks `peer` whether its replica of the shard is ready to receive the transfer from `from`
  // (it applied the transfer's start), and which ops it holds (nullopt: none that can be
  // trusted); an empty `collection` asks only whether the peer is up. Errors as Forward's.
  virtual Result<std::optional<ReplicaClock>> TransferReady(uint64_t peer,
                                                            const std::string& collection,
                                                            uint32_t shard, uint64_t from) = 0;

  // Sends one chunk of a snapshot transfer to `peer` (Collection::ReceiveTransferSnapshot); the
  // install's answer says what the receiver holds then. Errors as Forward's.
  virtual Result<InstalledSnapshot> SendSnapshotChunk(uint64_t peer, const std::string& collection,
                                                      const SnapshotChunk& chunk) = 0;

  // `peer`'s replica's digest (Collection::Digest). Errors as Forward's.
  virtual Result<ReplicaDigest> Digest(uint64_t peer, const std::string& collection,
                                       uint32_t shard) = 0;

  // Ops `from`..`to` from `peer`'s WAL of the shard, as kOp items. Errors: kNotFound when its
  // WAL no longer holds them all; as Forward's.
  virtual Result<std::vector<StreamItem>> ReadOps(uint64_t peer, const std::string& collection,
                                                  uint32_t shard, segment::OpNum from,
                                                  segment::OpNum to) = 0;

  // Asks `peer` to confirm that its replica of the shard no longer orders writes because
  // `orderer` does (proto/p2p.proto, Fence); returns its last op. Errors as Forward's.
  virtual Result<segment::OpNum> Fence(uint64_t peer, const std::string& collection, uint32_t shard,
                                       uint64_t orderer) = 0;

  // Runs `read` on `peer`'s replica of the shard. Errors as Forward's.
  virtual std::future<Result<ShardReadResult>> Read(uint64_t peer, const std::string& collection,
                                                    uint32_t shard, const ShardRead& read) = 0;

  // Reports `peer`'s replica of the shard Dead through consensus; the future says whether that
  // committed (and applied on this node). Concurrent reports of one replica share one proposal.
  virtual std::shared_future<Status> ReportDead(const std::string& collection, uint32_t shard,
                                                uint64_t peer, const std::string& why) = 0;
};

}  // namespace qd::collection
