// Strict mode (Qdrant's `strict_mode_config`): per-collection limits that refuse a request
// before it runs, for multi-tenant safety. This file holds the parsed configuration, the checks
// that need only a filter or a number, and the rate limiter; Collection::Update applies the
// write checks and router/strict_mode.h the read checks, so REST and gRPC refuse alike.
//
// Errors follow Qdrant 1.19 (lib/collection/src/operations/verification): a refused request is
// kPermissionDenied (403 / PERMISSION_DENIED) "Forbidden: <what>. Help: <how to fix it>", e.g.
// `Forbidden: Limit exceeded 11 > 10 for "limit". Help: Reduce the "limit" parameter to or below
// 10.`; a rate limit is kResourceExhausted (429) "Rate limiting exceeded: ...". The wording was
// written from Qdrant's tests as remembered, not copied from its source: clients that match on
// the quoted part ("Limit exceeded 11 > 10 for \"limit\"") are what it is written for.
// Thread: StrictMode is a value; RateLimiter is safe from any thread.
#pragma once

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/index/filter.h"
#include "qdrantd/index/payload_index.h"

namespace qd::collection {

struct StrictMode {
  bool enabled = false;  // nothing below is checked unless true
  std::optional<uint64_t> max_query_limit;
  std::optional<uint64_t> max_timeout;  // seconds
  std::optional<bool> unindexed_filtering_retrieve;
  std::optional<bool> unindexed_filtering_update;
  std::optional<uint64_t> search_max_hnsw_ef;
  std::optional<bool> search_allow_exact;
  std::optional<double> search_max_oversampling;
  std::optional<uint64_t> upsert_max_batchsize;
  std::optional<uint64_t> search_max_batchsize;
  std::optional<uint64_t> max_collection_vector_size_bytes;
  std::optional<uint64_t> max_collection_payload_size_bytes;
  std::optional<uint64_t> read_rate_limit;   // per minute
  std::optional<uint64_t> write_rate_limit;  // per minute
  std::optional<uint64_t> max_points_count;
  std::optional<uint64_t> filter_max_conditions;
  std::optional<uint64_t> condition_max_size;
  std::optional<uint64_t> max_payload_index_count;
  std::map<std::string, uint64_t> sparse_max_length;        // sparse vector name -> max indices
  std::map<std::string, uint64_t> multivector_max_vectors;  // vector name -> max vectors

  // Whether filtering on unindexed fields is refused for reads (update = false) or for
  // filtered updates (update = true).
  bool RefusesUnindexed(bool update) const;
};

// From a `strict_mode_config` object (nulls are unset). Errors: kInvalidArgument "Format error
// in JSON body: strict_mode_config.<field>: ..." for a value of the wrong type; kUnprocessable
// for a zero limit, as Qdrant's validation ("must be 1 or more").
Result<StrictMode> ParseStrictMode(const rapidjson::Value& json);

// The refusal: kPermissionDenied "Forbidden: <error>. Help: <help>".
Status StrictModeError(const std::string& error, const std::string& help);
// `Limit exceeded <value> > <max> for "<name>"` when value > max.
Status CheckLimit(uint64_t value, const std::optional<uint64_t>& max, std::string_view name);
Status CheckLimit(double value, const std::optional<double>& max, std::string_view name);

// The fields a filter's conditions need indexed, with the index types that would serve each
// (Qdrant's one_unindexed_key).
struct IndexedFields {
  std::map<std::string, index::PayloadFieldType> fields;  // JsonPath::ToString() -> type
};
// The filter's checks: filter_max_conditions (every condition, nested ones included),
// condition_max_size (values of a match any/except, points of a geo polygon, ids of has_id) and,
// when unindexed filtering is refused, a key some condition reads without a fitting index:
// `Index required but not found for "<key>" of one of the following types: [<types>]`.
// Conditions that need no index: has_id, has_vector, slice, values_count, is_empty, is_null.
Status CheckFilter(const StrictMode& strict, const index::Filter& filter,
                   const IndexedFields& indexed, bool update);

// Every key the filter's conditions read without a fitting index (as CheckFilter finds the
// first), each once, with the index types that would serve it.
struct UnindexedKey {
  std::string key;
  std::vector<index::PayloadFieldType> types;
};
std::vector<UnindexedKey> UnindexedKeys(const index::Filter& filter, const IndexedFields& indexed);

// A token bucket of `per_minute` tokens refilled evenly over a minute (Qdrant's rate limiter):
// a read costs 1, a write one token per point it names (1 for a write by filter).
class RateLimiter {
 public:
  RateLimiter(uint64_t per_minute, std::string what);
  // Takes `cost` tokens, or answers kResourceExhausted "Rate limiting exceeded: <What> rate
  // limit exceeded: ..." saying when to retry; a cost above the whole bucket can never pass and
  // says so.
  Status Take(uint64_t cost);

 private:
  const double capacity_;
  const std::string what_;  // "Read" or "Write"
  std::mutex mu_;
  double tokens_;                                   // Protected by mu_
  std::chrono::steady_clock::time_point refilled_;  // Protected by mu_
};

}  // namespace qd::collection
