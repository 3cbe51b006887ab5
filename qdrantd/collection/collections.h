// Collections: every collection and alias of this node (Qdrant: TableOfContent), persisted in
// <storage>/collections.db (SQLite: collections(name, config), aliases(alias, collection)) and
// the data under <storage>/collections/<name>/<shard>/.
//
// In single-node mode each change is applied here directly. In cluster mode the same operations
// go through the Raft state machine and cluster::Reconciler applies them here, with the shard
// placement consensus decided: a collection then has local replicas only for the shards placed
// on this peer (Collection::ApplyPlacement). Thread: any; one mutex guards the maps.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collection.h"

namespace qd::sqlite {
class Db;
}

namespace qd::collection {

struct AliasAction {
  enum Kind { kCreate, kDelete, kRename } kind = kCreate;
  std::string alias_name;       // kCreate/kDelete; kRename: old_alias_name
  std::string collection_name;  // kCreate
  std::string new_alias_name;   // kRename
};

class Collections {
 public:
  // `cluster_mode`: collections open only the shard directories they have and wait for their
  // placement (Collection::OpenPlaced) and reach other peers through `link`.
  static Result<std::unique_ptr<Collections>> Open(const std::string& storage_path,
                                                   bool cluster_mode = false,
                                                   std::shared_ptr<PeerLink> link = nullptr,
                                                   std::shared_ptr<UpdateLimiter> limiter = nullptr);
  ~Collections();

  // Errors: kUnprocessable (bad name), kAlreadyExists, kInvalidArgument (name is an alias).
  // `placement` (cluster mode): create local replicas only for the shards placed here.
  Status Create(const std::string& name, CollectionConfig config,
                const ShardPlacement* placement = nullptr);
  // true when it existed.
  Result<bool> Delete(const std::string& name);
  Status Update(const std::string& name, const CollectionConfig& config);
  // Creates `name`, replacing an existing collection of that name, from shard directories
  // prepared under `source` (<source>/<shard>/points.db); the directories are moved in.
  Status Replace(const std::string& name, CollectionConfig config, const std::string& source);
  // By name or alias. Errors: kNotFound "Collection `x` doesn't exist!".
  Result<std::shared_ptr<Collection>> Get(const std::string& name_or_alias) const;
  bool Exists(const std::string& name) const;
  std::vector<std::string> List() const;

  Status ApplyAliases(const std::vector<AliasAction>& actions);
  // (alias, collection) pairs, sorted by alias; only those of `collection` when given.
  std::vector<std::pair<std::string, std::string>> Aliases(const std::string* collection) const;

  Status FlushAll();

  static Status ValidateName(const std::string& name);
  // The length part of it (1 to 255 bytes), which Qdrant checks before it looks a name up:
  // Get answers it for a longer name, and the REST router for every collection_name in a path.
  static Status ValidateNameLength(std::string_view name);

 private:
  Collections(std::string storage_path, std::unique_ptr<sqlite::Db> db, bool cluster_mode,
              std::shared_ptr<PeerLink> link, std::shared_ptr<UpdateLimiter> limiter);
  Status Load();
  // Removes `name` from the maps and collections.db and moves its files aside. Holds mu_.
  Status DropLocked(const std::string& name);

  const std::string storage_path_;
  const bool cluster_mode_;
  const std::shared_ptr<PeerLink> link_;
  const std::shared_ptr<UpdateLimiter> limiter_;
  mutable std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;                                   // Protected by mu_
  std::map<std::string, std::shared_ptr<Collection>> collections_;  // Protected by mu_
  std::map<std::string, std::string> aliases_;                       // Protected by mu_
};

}  // namespace qd::collection
