// Payload indexes (compat.md §4.6): the field schema a client sends to
// `PUT /collections/{c}/index`, an in-memory index of one payload field over a segment's point
// offsets, and the planner helper that turns a Filter into candidate offsets.
//
// Offsets are the segment's internal numbering of live points (uint32_t, assigned by the storage
// layer). An index is a cache: it never decides a result. It only narrows the points the caller
// then checks with Filter::Matches, and every candidate list it returns is a superset of the
// points that match, so results are identical with and without indexes (§4.4). To make that hold
// where Qdrant's own indexes ignore values (an integer index skipping 1.5), our numeric indexes
// keep every number, and the text index is never used for candidates (match text is a substring
// match, which tokens cannot answer).
//
// Ownership and threads: a PayloadIndexSet belongs to one segment; its owner serialises writers
// (Add/Remove/Create/Drop) against readers (Plan, PointsCount). Const methods may run
// concurrently with each other.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/index/filter.h"
#include "qdrantd/index/json_path.h"

namespace qd::index {

enum class PayloadFieldType { kKeyword, kInteger, kFloat, kGeo, kText, kBool, kDatetime, kUuid };

// "keyword", "integer", ... as in `payload_schema.<field>.data_type`.
std::string_view PayloadFieldTypeName(PayloadFieldType type);

enum class Tokenizer { kWord, kWhitespace, kPrefix, kMultilingual };

struct PayloadFieldSchema {
  PayloadFieldType type = PayloadFieldType::kKeyword;
  // Set only when the schema was a params object: that object exactly as sent (compact JSON,
  // members in the order sent), for `payload_schema.<field>.params`.
  std::optional<std::string> params_json;
  // Parsed params; only what applies to `type` is meaningful.
  bool is_tenant = false;
  bool is_principal = false;
  bool on_disk = false;
  bool lookup = true;                                    // integer
  bool range = true;                                     // integer
  Tokenizer tokenizer = Tokenizer::kWord;                // text
  bool lowercase = true;                                 // text
  std::optional<uint64_t> min_token_len, max_token_len;  // text

  // The schema as the client sent it (`"keyword"` or the params object), for persisting it:
  // ParsePayloadFieldSchema() of this text gives the same schema back.
  std::string ToJson() const;
};

// Parses `field_schema`: a type name or a params object {type, ...}. Unknown members are
// ignored; null means not set. Errors: kInvalidArgument (400) "Format error in JSON body: ..." for
// wrong JSON types and unknown type or tokenizer names; kUnprocessable (422) "Validation error:
// the 'lookup' and 'range' capabilities can't be both disabled" for such an integer index.
Result<PayloadFieldSchema> ParsePayloadFieldSchema(const rapidjson::Value& value,
                                                   std::string_view field = "field_schema");

// Splits text into tokens as the schema's tokenizer would (lowercased when asked; tokens outside
// [min_token_len, max_token_len] dropped; prefix adds every prefix of each word).
std::vector<std::string> Tokenize(std::string_view text, const PayloadFieldSchema& schema);

// The value a point is ordered by in a scroll or query with `order_by` (Qdrant: OrderValue): an
// integer for integer and datetime indexes (datetimes as UTC microseconds), a float for float
// indexes. Integers compare exactly; an integer and a float compare as doubles, as Qdrant does
// with a `start_from` of the other kind.
struct OrderValue {
  bool is_int = true;
  int64_t integer = 0;
  double real = 0;
  static OrderValue Int(int64_t v) { return OrderValue{true, v, 0}; }
  static OrderValue Float(double v) { return OrderValue{false, 0, v}; }
  double AsDouble() const { return is_int ? static_cast<double>(integer) : real; }
};
// <0, 0, >0 as a is below, equal to or above b.
int CompareOrderValues(const OrderValue& a, const OrderValue& b);

// An index of one payload field (Qdrant: FieldIndex). It indexes the values CollectValues(path)
// reaches, arrays flattened one level, that fit its type: strings (keyword, uuid; tokens for
// text), booleans, numbers (integer and float alike, as doubles), datetime strings (as UTC
// microseconds), geo points.
class PayloadFieldIndex {
 public:
  PayloadFieldIndex(JsonPath path, PayloadFieldSchema schema);

  const JsonPath& path() const { return path_; }
  const PayloadFieldSchema& schema() const { return schema_; }

  // Indexes the point at `offset` with `payload`, replacing what was indexed for it before.
  void Add(uint32_t offset, const rapidjson::Value& payload);
  // Forgets the point; a no-op for offsets never added.
  void Remove(uint32_t offset);
  // Points with at least one indexed value (`payload_schema.<field>.points`).
  size_t PointsCount() const { return values_by_offset_.size(); }
  // Writes this field's `payload_schema` entry: {"data_type", "params" (only when created from a
  // params object, exactly as sent), "points"}.
  void WriteSchemaInfo(rapidjson::Value& out, rapidjson::Document::AllocatorType& allocator) const;

  // Sorted, unique offsets that include every point satisfying the value checks of `condition`
  // (match value/any, range, geo_*), or nullopt when this index cannot answer it (another key,
  // is_empty, values_count, except, text, or a value of a type the index does not hold).
  std::optional<std::vector<uint32_t>> Candidates(const FieldCondition& condition) const;

  // Payload groups (issue #22): the points holding one value of a keyword, uuid, integer or
  // bool index, which payload links connect (HnswIndex::LinkGroup). A group's key is its value
  // tagged by kind: "s:<string>", "n:<number>", "b:0" / "b:1".
  bool Groupable() const;
  // The keys of the groups the point at `offset` is in (none for other index types).
  std::vector<std::string> GroupsOf(uint32_t offset) const;
  // The group's points, sorted (empty for an unknown key).
  std::vector<uint32_t> GroupMembers(const std::string& key) const;
  // Every group holding more than `min_points` points.
  std::vector<std::string> GroupsLargerThan(size_t min_points) const;
  // The group whose points are exactly the candidates of `condition` (a `match: {value}` on
  // this index), if there is one.
  std::optional<std::string> GroupOf(const FieldCondition& condition) const;

  // Whether `order_by` may use this index: Qdrant orders by range indexes only, which integer
  // (unless created with `range: false`), float and datetime indexes are.
  bool SupportsOrderBy() const;
  // For order_by: calls fn(value, offset) for each value a point holds, in ascending value order
  // (descending when `descending`), from `start` on inclusive (all when unset), while fn returns
  // true. A point with several values is visited once per value. The values are those Qdrant's
  // typed index holds: an integer index orders by integer values only (it skips 1.5), a float
  // index by every number, a datetime index by datetime strings. Equal values come in offset
  // order. Only for indexes that SupportsOrderBy().
  void ForEachOrdered(bool descending, const std::optional<OrderValue>& start,
                      const std::function<bool(const OrderValue&, uint32_t)>& fn) const;
  // The order_by values of the point at `offset` (none when it has none), unordered.
  std::vector<OrderValue> OrderValuesOf(uint32_t offset) const;

 private:
  struct Values {
    std::vector<std::string> strings;  // keyword, uuid, text tokens
    std::vector<double> numbers;       // integer, float, datetime (micros)
    std::vector<int64_t> integers;     // integer index: the integer values, exactly (order_by)
    std::vector<bool> bools;
    std::vector<GeoPoint> geo;
  };

  std::optional<std::vector<uint32_t>> MatchCandidates(const MatchCondition& match) const;
  std::optional<std::vector<uint32_t>> RangeCandidates(const RangeCondition& range) const;
  std::vector<uint32_t> GeoCandidates(const FieldCondition& condition) const;

  JsonPath path_;
  PayloadFieldSchema schema_;
  std::unordered_map<uint32_t, Values> values_by_offset_;  // only points with values
  // Offsets ascending and unique, in one flat vector: a filter reads thousands of them, and a
  // std::set's nodes cost a cache miss each (iterating them was 60% of a 50% range filter's
  // search). Points mostly arrive at increasing offsets, so an insert is mostly an append.
  class OffsetList {
   public:
    void Insert(uint32_t offset);
    void Erase(uint32_t offset);
    size_t size() const { return offsets_.size(); }
    bool empty() const { return offsets_.empty(); }
    const std::vector<uint32_t>& offsets() const { return offsets_; }

   private:
    std::vector<uint32_t> offsets_;
  };

  std::unordered_map<std::string, OffsetList> by_string_;
  std::set<std::pair<double, uint32_t>> by_number_;  // order_by's walk
  std::map<double, OffsetList> offsets_by_number_;   // candidates: the same, by value
  // Integer indexes only: by_number_ holds 1.5 too (see the file comment) and rounds beyond
  // 2^53, so order_by walks the exact integers here instead.
  std::set<std::pair<int64_t, uint32_t>> by_integer_;
  OffsetList by_bool_[2];
};

// What the planner found for a filter over one segment.
struct CandidatePlan {
  // At most this many points can match.
  size_t upper_bound = 0;
  // The estimate of how many do (upper_bound narrowed by answerable must_not conditions), for
  // the search planner's cost model.
  double expected_matches = 0;
  // When set: sorted unique offsets, a superset of the matching points. Check each with
  // Filter::Matches. When unset: scan all points.
  std::optional<std::vector<uint32_t>> candidates;
};

// The payload indexes of one segment, by key path.
class PayloadIndexSet {
 public:
  // Maps a point id to its offset, if the point is in the segment (lets has_id narrow the scan).
  using IdResolver = std::function<std::optional<uint32_t>(const segment::PointId&)>;

  // Creates (or replaces) the index of `path`; the caller then Add()s every live point.
  PayloadFieldIndex& Create(const JsonPath& path, PayloadFieldSchema schema);
  // Returns false when there was no such index.
  bool Drop(const JsonPath& path);
  const PayloadFieldIndex* Find(const JsonPath& path) const;
  // All indexes, ordered by path text.
  const std::map<std::string, std::unique_ptr<PayloadFieldIndex>>& indexes() const {
    return indexes_;
  }

  // Add/Remove on every index (upsert, payload change, delete).
  void Add(uint32_t offset, const rapidjson::Value& payload);
  void Remove(uint32_t offset);

  // Narrows `filter` using must (and all-indexed should / min_should) conditions, recursing into
  // nested filters in must. `total_points` is the segment's live point count.
  CandidatePlan Plan(const Filter& filter, size_t total_points,
                     const IdResolver& resolve_id = nullptr) const;

 private:
  std::optional<std::vector<uint32_t>> PlanFilter(const Filter& filter,
                                                  const IdResolver& resolve_id) const;
  std::optional<std::vector<uint32_t>> PlanCondition(const Condition& condition,
                                                     const IdResolver& resolve_id) const;

  std::map<std::string, std::unique_ptr<PayloadFieldIndex>> indexes_;
};

}  // namespace qd::index
