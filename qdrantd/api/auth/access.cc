#include "qdrantd/api/auth/access.h"

#include <utility>

namespace qd::api::auth {
namespace {

// Qdrant answers a missing right with StorageError::Forbidden, shown as "Forbidden: ...".
Status Forbidden(std::string what) { return Status::PermissionDenied("Forbidden: " + what); }

}  // namespace

Access Access::Manage() { return Access(Kind::kManage); }
Access Access::ReadOnly() { return Access(Kind::kReadOnly); }

Access Access::Collections(std::vector<CollectionGrant> grants) {
  Access access(Kind::kCollections);
  access.grants_ = std::move(grants);
  return access;
}

Status Access::Check(const Requirement& requirement, std::string_view collection) const {
  if (requirement.need == Need::kOpen) return Status::Ok();
  switch (kind_) {
    case Kind::kManage:
      return Status::Ok();
    case Kind::kReadOnly:
      switch (requirement.need) {
        case Need::kOpen:
        case Need::kRead:
          return Status::Ok();
        case Need::kWrite:
          return Forbidden("Write access is required");
        case Need::kManage:
          return Forbidden("Global manage access is required");
      }
      return Forbidden("Global manage access is required");
    case Kind::kCollections:
      break;
  }
  // A token limited to some collections manages nothing and sees nothing node-wide.
  if (requirement.need == Need::kManage) return Forbidden("Global manage access is required");
  if (requirement.scope == Scope::kListing && requirement.need == Need::kRead) return Status::Ok();
  if (requirement.scope == Scope::kGlobal) return Forbidden("Global access is required");
  for (const CollectionGrant& grant : grants_) {
    if (grant.collection != collection) continue;
    if (requirement.need == Need::kWrite && grant.mode != CollectionMode::kReadWrite) {
      return Forbidden("Write access to collection " + std::string(collection) + " is required");
    }
    return Status::Ok();
  }
  return Forbidden("Access to collection " + std::string(collection) + " is required");
}

}  // namespace qd::api::auth
