// Collection: one collection on this node: its configuration and its shards (one LocalReplica
// per shard in single-node mode; the consensus issue adds remote replicas). Points are routed to
// shard PointId::StableHash() % shard_number; reads fan out to every shard and merge (top-k by
// score, ties by id), the way ARCHITECTURE.md's data flow describes.
// Thread: any. The shard list is fixed for the Collection's lifetime; configuration changes
// that do not touch shards swap the config under a mutex.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collection_config.h"
#include "qdrantd/replica/local_replica.h"

namespace qd::collection {

enum class UpdateMode { kUpsert, kInsertOnly, kUpdateOnly };

// A points update as the API hands it over, before it is resolved per shard.
struct UpdateRequest {
  segment::Operation op;               // kind and data; ids/points are the explicit ones
  bool by_filter = false;              // select points by `filter` instead of op.ids
  segment::PointFilter filter;
  UpdateMode update_mode = UpdateMode::kUpsert;  // kUpsert only
  segment::PointFilter update_filter;            // kUpsert / kUpdateVectors: replace only matches
};

struct UpdateResult {
  segment::OpNum operation_id = 0;
};

class Collection {
 public:
  static Result<std::shared_ptr<Collection>> Open(std::string name, std::string dir,
                                                  CollectionConfig config);
  ~Collection();

  const std::string& name() const { return name_; }
  CollectionConfig config() const;
  void SetConfig(CollectionConfig config);  // same shards and vectors only

  // Checks every vector of the points against the configuration (names, dense vs sparse,
  // dimensions); maps the unnamed vector. Errors: kInvalidArgument in Qdrant's words.
  Status ValidatePoints(std::vector<segment::PointStruct>& points, bool partial) const;

  // Applies the update on every shard it concerns. `wait` false answers once durable in the WAL
  // (on_durable is then called once, before the return).
  Result<UpdateResult> Update(UpdateRequest request);

  size_t Count(const segment::PointFilter* filter) const;
  segment::RecordBatch Retrieve(const std::vector<segment::PointId>& ids,
                                const segment::Projection& projection) const;
  // Points from `from` on in id order; next_offset is the id after the page (none at the end).
  segment::RecordBatch Scroll(const std::optional<segment::PointId>& from, size_t limit,
                              const segment::PointFilter* filter,
                              const segment::Projection& projection,
                              std::optional<segment::PointId>& next_offset) const;
  Result<segment::RecordBatch> Search(const segment::SearchSpec& spec,
                                      const segment::Projection& projection) const;

  size_t points_count() const;
  size_t ShardPointsCount(size_t shard) const { return shards_[shard]->segment().points_count(); }
  // `payload_schema` of CollectionInfo: indexed field -> {data_type, points[, params]}.
  std::string PayloadSchemaJson() const;
  size_t segments_count() const { return shards_.size(); }
  // Saves index checkpoints (shutdown, periodic).
  Status Flush();
  // Makes the destructor delete the collection's files, which now live in `dir` (the caller
  // moved them aside so that a new collection of the same name never meets them).
  void MarkDropped(std::string dir);
  std::string ShardDir(size_t shard) const { return dir_ + "/" + std::to_string(shard); }

 private:
  Collection(std::string name, std::string dir, CollectionConfig config);
  size_t ShardOf(const segment::PointId& id) const;

  const std::string name_;
  const std::string dir_;
  std::string dropped_dir_;  // set once by MarkDropped, read in the destructor
  mutable std::mutex config_mu_;
  CollectionConfig config_;  // Protected by config_mu_
  std::vector<std::unique_ptr<replica::LocalReplica>> shards_;
  std::atomic<bool> dropped_{false};
};

}  // namespace qd::collection
