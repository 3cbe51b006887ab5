// Filter: the filter language of Qdrant's search, query, scroll, count, delete and payload
// operations (compat.md §4.4), parsed once from JSON and then evaluated against points. A parsed
// Filter is an immutable value; Matches() may run on any thread concurrently.
//
// Evaluation follows Qdrant 1.19 (lib/segment/src/payload_storage/query_checker.rs and
// condition_checker.rs) where it is observable:
//  * must: all; must_not: none; should: at least one (an empty list is no constraint);
//    min_should: at least min_count of its conditions. All given clauses must hold.
//  * A field condition reads CollectValues(key). If the key reaches nothing, only values_count
//    (as 0 values), is_empty: true and is_null: false can match. Otherwise match, range, geo and
//    text conditions hold when any reached value, or any element of a reached array, satisfies
//    them (json_path.h). Several checks in one field condition are OR-ed, as in Qdrant.
//  * match value: strings, integers (payload must be an integer: 5.0 is not 5) and booleans.
//    match any: the value is one of the list (empty list: nothing). match except: some value is
//    not in the list; values of another type count as "not in the list"; null does not; a missing
//    field never matches.
//  * match text / phrase: substring of a string value, as Qdrant without a full-text index.
//    text_any: any whitespace-separated word of the query is a substring. We use these semantics
//    also when a text index exists, so results never depend on indexes (§4.4).
//  * range: on numbers when all bounds are numbers; on RFC 3339 datetimes when they are strings
//    (stored strings that parse as datetimes; naive times are UTC).
//  * is_empty: missing, null, [] (every reached value is null or an empty array).
//    is_null: some reached value is null (`[null]` is not null, as in Qdrant).
//  * geo_*: payload values that are objects {lon, lat}; radius in meters (haversine, R=6371008.8).
//  * nested {key, filter}: some element of `key[]` that is an object matches the whole filter.
//  * slice {total, index}: PointId::StableHash() % total == index.
//  * has_vector: answered by the caller's HasVectorFn (nothing matches without one).
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/index/json_path.h"
#include "qdrantd/segment/point_id.h"

namespace qd::index {

struct GeoPoint {
  double lon = 0;
  double lat = 0;
};

// A scalar a match condition compares with.
using MatchValue = std::variant<std::string, int64_t, bool>;

struct MatchCondition {
  enum class Kind { kValue, kAny, kExcept, kText, kTextAny, kPhrase };
  Kind kind = Kind::kValue;
  std::vector<MatchValue> values;  // one for kValue; kAny/kExcept: sorted, unique, one type
  std::string text;                // kText, kTextAny, kPhrase
};

struct RangeCondition {
  bool is_datetime = false;  // bounds are UTC microseconds when true
  std::optional<double> gt, gte, lt, lte;
  bool Contains(double v) const;
};

struct ValuesCountCondition {
  std::optional<uint64_t> gt, gte, lt, lte;
  bool Contains(uint64_t count) const;
};

struct GeoRadius {
  GeoPoint center;
  double radius_m = 0;
};
struct GeoBoundingBox {
  GeoPoint top_left, bottom_right;
};
struct GeoPolygon {
  std::vector<GeoPoint> exterior;
  std::vector<std::vector<GeoPoint>> interiors;
};

// One condition on a payload field: {"key": ..., "match"|"range"|... }, or the separate
// {"is_empty": {"key"}} / {"is_null": {"key"}} spellings, which parse to the same thing.
struct FieldCondition {
  JsonPath key;
  std::optional<MatchCondition> match;
  std::optional<RangeCondition> range;
  std::optional<ValuesCountCondition> values_count;
  std::optional<GeoRadius> geo_radius;
  std::optional<GeoBoundingBox> geo_bounding_box;
  std::optional<GeoPolygon> geo_polygon;
  std::optional<bool> is_empty;
  std::optional<bool> is_null;

  // How many of the checks above are set (parsing guarantees >= 1).
  int CheckCount() const;
};

class Filter;

// Tells whether the point being matched has a vector of this name (has_vector conditions). The
// storage layer supplies it; without one, has_vector matches nothing.
using HasVectorFn = std::function<bool(std::string_view vector_name)>;

struct HasIdCondition {
  std::vector<segment::PointId> ids;  // sorted, unique
};
struct NestedCondition {
  JsonPath key;           // as written
  JsonPath element_path;  // key[]: what evaluation walks
  std::shared_ptr<const Filter> filter;
};
// {"has_vector": "<name>"}: the point has that vector ("" names the unnamed default vector).
struct HasVectorCondition {
  std::string vector;
};
struct SliceCondition {
  uint64_t total = 1;
  uint64_t index = 0;
};

struct Condition {
  std::variant<FieldCondition, HasIdCondition, NestedCondition, SliceCondition, HasVectorCondition,
               std::shared_ptr<const Filter>>
      body;
};

struct MinShould {
  std::vector<Condition> conditions;
  uint64_t min_count = 0;
};

class Filter {
 public:
  Filter() = default;  // matches every point

  // True when the point with this id and payload (an object; anything else is treated as {})
  // satisfies the filter.
  bool Matches(const segment::PointId& id, const rapidjson::Value& payload,
               const HasVectorFn* has_vector = nullptr) const;
  // Whether any condition, at any depth, is has_vector (then pass a HasVectorFn).
  bool UsesHasVector() const;

  // For planners: the top-level must conditions. A point matching the filter matches each of
  // them, so an index that answers one of them yields a superset of the filter's matches.
  const std::vector<Condition>& must() const { return must_; }
  const std::vector<Condition>& should() const { return should_; }
  const std::vector<Condition>& must_not() const { return must_not_; }
  const std::optional<MinShould>& min_should() const { return min_should_; }
  bool IsEmpty() const {
    return must_.empty() && should_.empty() && must_not_.empty() && !min_should_.has_value();
  }

 private:
  friend class FilterParser;
  std::vector<Condition> must_, should_, must_not_;
  std::optional<MinShould> min_should_;
};

// Evaluates one condition (as a must clause would).
bool ConditionMatches(const Condition& condition, const segment::PointId& id,
                      const rapidjson::Value& payload, const HasVectorFn* has_vector = nullptr);

// Parses a filter object. Null -> an empty filter. `field` prefixes error paths.
// Errors:
//  kInvalidArgument (400) "Format error in JSON body: <path>: <what>" when the JSON does not
//    deserialise: wrong types, a bad key path, min_should without min_count, slice total 0,
//    negative values_count bounds, mixed-type any/except lists, geo points out of range (Qdrant
//    checks them while deserialising), nesting deeper than 64, a
//    filter object holding condition fields (`key`, `match`, ...) and a condition object that
//    is neither a condition nor a filter: either would otherwise read as an empty filter that
//    matches every point, which a delete by filter must never do.
//  kUnprocessable (422) "Validation error in JSON body: [<path>: <message>]" for well-formed but
//    invalid input: a condition with only a key ("At least one field condition must be
//    specified"), slice index >= total, invalid polygons (< 4 points, not closed), negative
//    radius.
Result<Filter> ParseFilter(const rapidjson::Value& value, std::string_view field = "filter");

// Parses an RFC 3339 datetime, also without seconds or offset (`2015-03-01T12:30`), with ' '
// for 'T', a date alone, fractions of a second, `Z` or `+HH:MM`/`+HHMM`/`+HH`. Returns
// microseconds since the Unix epoch, UTC (naive times are UTC); nullopt if not a datetime.
std::optional<int64_t> ParseDateTime(std::string_view text);

// Great-circle distance in meters.
double HaversineMeters(const GeoPoint& a, const GeoPoint& b);

// The geo point a payload value stands for ({"lon": x, "lat": y}), if any.
std::optional<GeoPoint> GeoPointFromJson(const rapidjson::Value& value);

// Whether one (flattened) payload value satisfies the value-level checks of `condition`
// (match, range, geo); used by the matcher and by payload indexes that re-check values.
bool ValueSatisfies(const FieldCondition& condition, const rapidjson::Value& value);
// Whether `point` satisfies the geo checks (radius, box, polygon; OR-ed) of `condition`.
bool GeoPointSatisfies(const FieldCondition& condition, const GeoPoint& point);
bool MatchValueEquals(const MatchValue& expected, const rapidjson::Value& value);

}  // namespace qd::index
