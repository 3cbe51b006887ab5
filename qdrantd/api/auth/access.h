// What a caller may do (Qdrant: rbac::Access) and what an operation needs (Qdrant:
// AccessRequirements), and the one check between them. A full API key (or a JWT with access "m")
// may do anything; a read-only key (or access "r") may read anything; a JWT with a list of
// collections may read, or read and write, those collections only and manage nothing.
// Values; thread: any.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"

namespace qd::api::auth {

// What an operation does. kOpen needs no credentials at all (/healthz, the gRPC health check).
enum class Need { kOpen, kRead, kWrite, kManage };

// Where it acts: on the collection its request names, or on the node (telemetry, cluster
// membership, full snapshots). kListing: the listings of collections and aliases, which any
// caller who may read something can call; the handler then shows only what the caller may read
// (Authenticator::MayRead), as Qdrant filters them for a token limited to some collections.
enum class Scope { kCollection, kGlobal, kListing };

struct Requirement {
  Need need = Need::kManage;
  Scope scope = Scope::kGlobal;
};

enum class CollectionMode { kRead, kReadWrite };  // a JWT's "r" and "rw"

struct CollectionGrant {
  std::string collection;
  CollectionMode mode = CollectionMode::kRead;
};

class Access {
 public:
  static Access Manage();    // the API key, or a JWT with access "m" (or none)
  static Access ReadOnly();  // the read-only API key, or a JWT with access "r"
  static Access Collections(std::vector<CollectionGrant> grants);

  // Whether this access meets `requirement` for an operation on `collection` (ignored for
  // global operations). Errors: kPermissionDenied, with a message that says what is missing
  // ("Forbidden: Write access is required").
  Status Check(const Requirement& requirement, std::string_view collection) const;

  bool is_manage() const { return kind_ == Kind::kManage; }
  bool is_read_only() const { return kind_ == Kind::kReadOnly; }
  const std::vector<CollectionGrant>& grants() const { return grants_; }

 private:
  enum class Kind { kManage, kReadOnly, kCollections };
  explicit Access(Kind kind) : kind_(kind) {}
  Kind kind_;
  std::vector<CollectionGrant> grants_;  // kCollections only
};

}  // namespace qd::api::auth
