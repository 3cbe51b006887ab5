#include "qdrantd/api/auth/operations.h"

#include <algorithm>
#include <iterator>

namespace qd::api::auth {
namespace {

constexpr Requirement kOpen{Need::kOpen, Scope::kGlobal};
constexpr Requirement kReadNode{Need::kRead, Scope::kGlobal};
constexpr Requirement kReadCollection{Need::kRead, Scope::kCollection};
constexpr Requirement kWriteCollection{Need::kWrite, Scope::kCollection};
constexpr Requirement kManage{Need::kManage, Scope::kGlobal};
constexpr Requirement kListing{Need::kRead, Scope::kListing};

struct RestRule {
  std::string_view method;
  std::string_view pattern;
  Requirement requirement;
};

// As Qdrant decides them (its rbac AccessRequirements per handler): reading points, searching
// and reading a collection's info, aliases, cluster info and snapshots need read access to that
// collection; changing points, payload indexes and taking or deleting a collection's snapshots
// need write access to it; creating, changing or deleting collections and aliases, cluster
// operations, full snapshots and recovering from snapshots need global manage access.
// Node-wide reads (telemetry, metrics, cluster status) need global read access. The listings of
// collections and aliases answer any caller who may read something, showing only what it may
// read: a token limited to some collections lists those (as Qdrant filters them).
constexpr RestRule kRestRules[] = {
    // Service: open as in Qdrant (its API key middleware's whitelist).
    {"GET", "/", kOpen},
    {"GET", "/healthz", kOpen},
    {"GET", "/livez", kOpen},
    {"GET", "/readyz", kOpen},
    {"GET", "/telemetry", kReadNode},
    {"GET", "/metrics", kReadNode},
    {"GET", "/issues", kReadNode},
    {"DELETE", "/issues", kManage},
    // Cluster.
    {"GET", "/cluster", kReadNode},
    {"POST", "/cluster/recover", kManage},
    {"DELETE", "/cluster/peer/{peer_id}", kManage},
    {"GET", "/cluster/rebalance", kReadNode},
    {"POST", "/cluster/rebalance", kManage},
    {"POST", "/cluster/peer/{peer_id}/drain", kManage},
    {"DELETE", "/cluster/peer/{peer_id}/drain", kManage},
    {"GET", "/cluster/metadata/keys", kReadNode},
    {"GET", "/cluster/metadata/keys/{key}", kReadNode},
    {"PUT", "/cluster/metadata/keys/{key}", kManage},
    {"DELETE", "/cluster/metadata/keys/{key}", kManage},
    // Collections and aliases.
    {"GET", "/collections", kListing},
    {"GET", "/collections/{collection_name}", kReadCollection},
    {"PUT", "/collections/{collection_name}", kManage},
    {"PATCH", "/collections/{collection_name}", kManage},
    {"DELETE", "/collections/{collection_name}", kManage},
    {"GET", "/collections/{collection_name}/exists", kReadCollection},
    {"GET", "/collections/{collection_name}/cluster", kReadCollection},
    {"GET", "/collections/{collection_name}/optimizations", kReadCollection},
    {"POST", "/collections/{collection_name}/cluster", kManage},
    {"POST", "/collections/aliases", kManage},
    {"GET", "/collections/{collection_name}/aliases", kReadCollection},
    {"GET", "/aliases", kListing},
    // Payload indexes.
    {"PUT", "/collections/{collection_name}/index", kWriteCollection},
    {"DELETE", "/collections/{collection_name}/index/{field_name}", kWriteCollection},
    // Points: writes.
    {"PUT", "/collections/{collection_name}/points", kWriteCollection},
    {"POST", "/collections/{collection_name}/points/delete", kWriteCollection},
    {"PUT", "/collections/{collection_name}/points/vectors", kWriteCollection},
    {"POST", "/collections/{collection_name}/points/vectors/delete", kWriteCollection},
    {"POST", "/collections/{collection_name}/points/payload", kWriteCollection},
    {"PUT", "/collections/{collection_name}/points/payload", kWriteCollection},
    {"POST", "/collections/{collection_name}/points/payload/delete", kWriteCollection},
    {"POST", "/collections/{collection_name}/points/payload/clear", kWriteCollection},
    {"POST", "/collections/{collection_name}/points/batch", kWriteCollection},
    // Points: reads (POST carries the query in its body).
    {"GET", "/collections/{collection_name}/points/{id}", kReadCollection},
    {"POST", "/collections/{collection_name}/points", kReadCollection},
    {"POST", "/collections/{collection_name}/points/scroll", kReadCollection},
    {"POST", "/collections/{collection_name}/points/count", kReadCollection},
    {"POST", "/collections/{collection_name}/points/search", kReadCollection},
    {"POST", "/collections/{collection_name}/points/search/batch", kReadCollection},
    {"POST", "/collections/{collection_name}/points/query", kReadCollection},
    {"POST", "/collections/{collection_name}/points/query/batch", kReadCollection},
    {"POST", "/collections/{collection_name}/facet", kReadCollection},
    {"POST", "/collections/{collection_name}/points/search/matrix/pairs", kReadCollection},
    {"POST", "/collections/{collection_name}/points/search/matrix/offsets", kReadCollection},
    {"POST", "/collections/{collection_name}/points/search/groups", kReadCollection},
    {"POST", "/collections/{collection_name}/points/query/groups", kReadCollection},
    {"POST", "/collections/{collection_name}/points/recommend/groups", kReadCollection},
    {"POST", "/collections/{collection_name}/points/recommend", kReadCollection},
    {"POST", "/collections/{collection_name}/points/recommend/batch", kReadCollection},
    {"POST", "/collections/{collection_name}/points/discover", kReadCollection},
    {"POST", "/collections/{collection_name}/points/discover/batch", kReadCollection},
    // Snapshots.
    {"GET", "/collections/{collection_name}/snapshots", kReadCollection},
    {"POST", "/collections/{collection_name}/snapshots", kWriteCollection},
    {"PUT", "/collections/{collection_name}/snapshots/recover", kManage},
    {"GET", "/collections/{collection_name}/snapshots/{snapshot_name}", kReadCollection},
    {"DELETE", "/collections/{collection_name}/snapshots/{snapshot_name}", kWriteCollection},
    {"POST", "/collections/{collection_name}/snapshots/upload", kManage},
    {"GET", "/collections/{collection_name}/shards/{shard_id}/snapshots", kReadCollection},
    {"POST", "/collections/{collection_name}/shards/{shard_id}/snapshots", kWriteCollection},
    {"GET", "/collections/{collection_name}/shards/{shard_id}/snapshot", kWriteCollection},
    {"PUT", "/collections/{collection_name}/shards/{shard_id}/snapshots/recover", kManage},
    {"POST", "/collections/{collection_name}/shards/{shard_id}/snapshots/upload", kManage},
    {"GET", "/collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}",
     kReadCollection},
    {"DELETE", "/collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}",
     kWriteCollection},
    {"GET", "/snapshots", kReadNode},
    {"POST", "/snapshots", kManage},
    {"GET", "/snapshots/{snapshot_name}", kReadNode},
    {"DELETE", "/snapshots/{snapshot_name}", kManage},
};

struct GrpcRule {
  std::string_view method;
  Requirement requirement;
};

// The same decisions for gRPC. Methods this server does not implement are listed too, so a
// caller learns it lacks access before it learns the method is missing, as from Qdrant.
constexpr GrpcRule kGrpcRules[] = {
    {"qdrant.Qdrant/HealthCheck", kOpen},
    {"grpc.health.v1.Health/Check", kOpen},
    // qdctl's admin service (docs/admin-api.md): the version is no secret (GET / is open too).
    {"qdrantd.admin.Admin/Version", kOpen},
    {"qdrantd.admin.Admin/ClusterStatus", kReadNode},
    {"qdrantd.admin.Admin/RemovePeer", kManage},
    {"qdrantd.admin.Admin/ListTransfers", kReadNode},
    {"qdrantd.admin.Admin/GetRebalance", kReadNode},
    {"qdrantd.admin.Admin/StartRebalance", kManage},
    {"qdrantd.admin.Admin/DrainPeer", kManage},
    {"qdrantd.admin.Admin/VerifyCollection", kReadCollection},
    // Collections.
    {"qdrant.Collections/Get", kReadCollection},
    {"qdrant.Collections/List", kListing},
    {"qdrant.Collections/Create", kManage},
    {"qdrant.Collections/Update", kManage},
    {"qdrant.Collections/Delete", kManage},
    {"qdrant.Collections/UpdateAliases", kManage},
    {"qdrant.Collections/ListCollectionAliases", kReadCollection},
    {"qdrant.Collections/ListAliases", kListing},
    {"qdrant.Collections/CollectionClusterInfo", kReadCollection},
    {"qdrant.Collections/CollectionExists", kReadCollection},
    {"qdrant.Collections/UpdateCollectionClusterSetup", kManage},
    {"qdrant.Collections/CreateShardKey", kManage},
    {"qdrant.Collections/DeleteShardKey", kManage},
    {"qdrant.Collections/ListShardKeys", kReadCollection},
    // Points: writes.
    {"qdrant.Points/Upsert", kWriteCollection},
    {"qdrant.Points/Delete", kWriteCollection},
    {"qdrant.Points/UpdateVectors", kWriteCollection},
    {"qdrant.Points/DeleteVectors", kWriteCollection},
    {"qdrant.Points/SetPayload", kWriteCollection},
    {"qdrant.Points/OverwritePayload", kWriteCollection},
    {"qdrant.Points/DeletePayload", kWriteCollection},
    {"qdrant.Points/ClearPayload", kWriteCollection},
    {"qdrant.Points/CreateFieldIndex", kWriteCollection},
    {"qdrant.Points/DeleteFieldIndex", kWriteCollection},
    {"qdrant.Points/UpdateBatch", kWriteCollection},
    // A collection's named vectors are its schema.
    {"qdrant.Points/CreateVectorName", kManage},
    {"qdrant.Points/DeleteVectorName", kManage},
    // Points: reads.
    {"qdrant.Points/Get", kReadCollection},
    {"qdrant.Points/Scroll", kReadCollection},
    {"qdrant.Points/Count", kReadCollection},
    {"qdrant.Points/Search", kReadCollection},
    {"qdrant.Points/SearchBatch", kReadCollection},
    {"qdrant.Points/SearchGroups", kReadCollection},
    {"qdrant.Points/Recommend", kReadCollection},
    {"qdrant.Points/RecommendBatch", kReadCollection},
    {"qdrant.Points/RecommendGroups", kReadCollection},
    {"qdrant.Points/Discover", kReadCollection},
    {"qdrant.Points/DiscoverBatch", kReadCollection},
    {"qdrant.Points/Query", kReadCollection},
    {"qdrant.Points/QueryBatch", kReadCollection},
    {"qdrant.Points/QueryGroups", kReadCollection},
    {"qdrant.Points/Facet", kReadCollection},
    {"qdrant.Points/SearchMatrixPairs", kReadCollection},
    {"qdrant.Points/SearchMatrixOffsets", kReadCollection},
    // Snapshots.
    {"qdrant.Snapshots/Create", kWriteCollection},
    {"qdrant.Snapshots/List", kReadCollection},
    {"qdrant.Snapshots/Delete", kWriteCollection},
    {"qdrant.Snapshots/CreateFull", kManage},
    {"qdrant.Snapshots/ListFull", kReadNode},
    {"qdrant.Snapshots/DeleteFull", kManage},
};

}  // namespace

std::optional<Requirement> RestRequirement(std::string_view method, std::string_view pattern) {
  auto it = std::find_if(std::begin(kRestRules), std::end(kRestRules), [&](const RestRule& r) {
    return r.method == method && r.pattern == pattern;
  });
  if (it == std::end(kRestRules)) return std::nullopt;
  return it->requirement;
}

std::optional<Requirement> GrpcRequirement(std::string_view method) {
  auto it = std::find_if(std::begin(kGrpcRules), std::end(kGrpcRules),
                         [&](const GrpcRule& r) { return r.method == method; });
  if (it == std::end(kGrpcRules)) return std::nullopt;
  return it->requirement;
}

std::vector<std::string> GrpcMethodsForTesting() {
  std::vector<std::string> methods;
  for (const GrpcRule& rule : kGrpcRules) methods.emplace_back(rule.method);
  return methods;
}

}  // namespace qd::api::auth
