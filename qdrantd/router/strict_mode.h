// Strict mode's read checks (collection/strict_mode.h has the configuration and the rest): what
// a read request asks for, gathered by the API that parsed it, checked against the collection's
// strict_mode_config before anything runs. REST and gRPC fill the same ReadCheck, so they refuse
// alike.
// Thread: any.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collection.h"
#include "qdrantd/router/query.h"

namespace qd::router {

struct ReadCheck {
  // Searches in the request: search_max_batchsize for a batch; what read_rate_limit charges.
  size_t searches = 1;
  bool batch = false;
  std::optional<uint64_t> timeout;  // seconds, as the request gave it
  // Queries: their limit, hnsw_ef, exact and filter, prefetches included.
  std::vector<const Query*> queries;
  // A read's own limits (scroll, facet, matrix sample and limit...): name -> value.
  std::vector<std::pair<const char*, uint64_t>> limits;
  std::vector<const segment::PointFilter*> filters;  // filters outside queries
};

// Shows each filter to Collection::NoteFilteredRead (GET /issues), then: Ok when strict mode is
// off or the request keeps within it, having taken the read tokens.
// Errors: collection::StrictModeError's kPermissionDenied; kResourceExhausted past
// read_rate_limit.
Status CheckRead(const collection::Collection& collection, const ReadCheck& check);

}  // namespace qd::router
