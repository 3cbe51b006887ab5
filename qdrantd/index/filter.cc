#include "qdrantd/index/filter.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace qd::index {
namespace {

using rapidjson::Value;

// Deeper filters are rejected: recursion must stay bounded for any input (fuzzed).
constexpr int kMaxFilterDepth = 64;

Status FormatError(const std::string& path, const std::string& message) {
  return Status::InvalidArgument("Format error in JSON body: " + path + ": " + message);
}

Status ValidationError(const std::string& path, const std::string& message) {
  return Status::Unprocessable("Validation error in JSON body: [" + path + ": " + message + "]");
}

const Value* Member(const Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;  // null = not set
  return &it->value;
}

std::string_view View(const Value& s) { return {s.GetString(), s.GetStringLength()}; }

bool IsNullOrEmptyArray(const Value* v) { return v->IsNull() || (v->IsArray() && v->Empty()); }

}  // namespace

// Parses the filter language; a friend of Filter so it can fill in the clauses.
class FilterParser {
 public:
  static Result<Filter> ParseFilterObject(const Value& value, const std::string& path, int depth);

 private:
  static Status ParseConditions(const Value& value, const std::string& path, int depth,
                                std::vector<Condition>& out);
  static Result<Condition> ParseCondition(const Value& value, const std::string& path, int depth);
  static Result<FieldCondition> ParseFieldCondition(const Value& value, const std::string& path);
  static Result<JsonPath> ParseKey(const Value* value, const std::string& path);
  static Result<MatchCondition> ParseMatch(const Value& value, const std::string& path);
  static Result<MatchValue> ParseMatchScalar(const Value& value, const std::string& path);
  static Result<RangeCondition> ParseRange(const Value& value, const std::string& path);
  static Result<ValuesCountCondition> ParseValuesCount(const Value& value, const std::string& path);
  static Result<GeoPoint> ParseGeoPoint(const Value* value, const std::string& path);
  static Result<std::vector<GeoPoint>> ParseRing(const Value* value, const std::string& path);
  static Result<uint64_t> ParseUnsigned(const Value* value, const std::string& path);
};

Result<Filter> FilterParser::ParseFilterObject(const Value& value, const std::string& path,
                                               int depth) {
  if (depth > kMaxFilterDepth) {
    return FormatError(path, "filters are nested deeper than " + std::to_string(kMaxFilterDepth));
  }
  Filter filter;
  if (value.IsNull()) return filter;
  if (!value.IsObject()) return FormatError(path, "expected a filter object");
  // Unknown members are ignored, except those of a condition: a condition sent where a filter
  // belongs would otherwise be an empty filter that matches (and deletes) every point.
  for (const char* name : {"key", "match", "range", "has_id", "is_empty", "is_null", "nested",
                           "has_vector", "slice", "values_count"}) {
    if (value.HasMember(name)) {
      return FormatError(path, std::string("unknown field `") + name +
                                   "`, expected one of `should`, `min_should`, `must`, "
                                   "`must_not`");
    }
  }
  struct Clause {
    const char* name;
    std::vector<Condition>* out;
  };
  for (const Clause& clause : {Clause{"must", &filter.must_}, Clause{"should", &filter.should_},
                               Clause{"must_not", &filter.must_not_}}) {
    if (const Value* v = Member(value, clause.name)) {
      Status s = ParseConditions(*v, path + "." + clause.name, depth, *clause.out);
      if (!s.ok()) return s;
    }
  }
  if (const Value* v = Member(value, "min_should")) {
    const std::string where = path + ".min_should";
    if (!v->IsObject()) return FormatError(where, "expected an object {conditions, min_count}");
    MinShould min_should;
    const Value* conditions = Member(*v, "conditions");
    if (conditions == nullptr) return FormatError(where, "missing field `conditions`");
    Status s = ParseConditions(*conditions, where + ".conditions", depth, min_should.conditions);
    if (!s.ok()) return s;
    const Value* min_count = Member(*v, "min_count");
    if (min_count == nullptr) return FormatError(where, "missing field `min_count`");
    Result<uint64_t> count = ParseUnsigned(min_count, where + ".min_count");
    if (!count.ok()) return count.status();
    min_should.min_count = *count;
    filter.min_should_ = std::move(min_should);
  }
  return filter;
}

Status FilterParser::ParseConditions(const Value& value, const std::string& path, int depth,
                                     std::vector<Condition>& out) {
  if (value.IsObject()) {  // a single condition instead of a list
    Result<Condition> c = ParseCondition(value, path, depth);
    if (!c.ok()) return c.status();
    out.push_back(std::move(*c));
    return Status::Ok();
  }
  if (!value.IsArray()) return FormatError(path, "expected a condition or a list of conditions");
  for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
    Result<Condition> c = ParseCondition(value[i], path + "[" + std::to_string(i) + "]", depth);
    if (!c.ok()) return c.status();
    out.push_back(std::move(*c));
  }
  return Status::Ok();
}

Result<Condition> FilterParser::ParseCondition(const Value& value, const std::string& path,
                                               int depth) {
  if (!value.IsObject()) return FormatError(path, "expected a condition object");
  Condition condition;
  if (Member(value, "key") != nullptr) {
    Result<FieldCondition> field = ParseFieldCondition(value, path);
    if (!field.ok()) return field.status();
    condition.body = std::move(*field);
    return condition;
  }
  for (const char* spelling : {"is_empty", "is_null"}) {
    const Value* v = Member(value, spelling);
    if (v == nullptr) continue;
    const std::string where = path + "." + spelling;
    if (!v->IsObject()) return FormatError(where, "expected an object {\"key\": ...}");
    FieldCondition field;
    Result<JsonPath> key = ParseKey(Member(*v, "key"), where + ".key");
    if (!key.ok()) return key.status();
    field.key = std::move(*key);
    (spelling[3] == 'e' ? field.is_empty : field.is_null) = true;
    condition.body = std::move(field);
    return condition;
  }
  if (const Value* v = Member(value, "has_id")) {
    const std::string where = path + ".has_id";
    if (!v->IsArray()) return FormatError(where, "expected a list of point ids");
    HasIdCondition has_id;
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
      Result<segment::PointId> id =
          segment::PointId::FromJson((*v)[i], where + "[" + std::to_string(i) + "]");
      if (!id.ok())
        return Status::InvalidArgument("Format error in JSON body: " + id.status().message());
      has_id.ids.push_back(*id);
    }
    std::sort(has_id.ids.begin(), has_id.ids.end());
    has_id.ids.erase(std::unique(has_id.ids.begin(), has_id.ids.end()), has_id.ids.end());
    condition.body = std::move(has_id);
    return condition;
  }
  if (const Value* v = Member(value, "nested")) {
    const std::string where = path + ".nested";
    if (!v->IsObject()) return FormatError(where, "expected an object {key, filter}");
    NestedCondition nested;
    Result<JsonPath> key = ParseKey(Member(*v, "key"), where + ".key");
    if (!key.ok()) return key.status();
    nested.key = std::move(*key);
    nested.element_path = nested.key.WithWildcard();
    const Value* inner = Member(*v, "filter");
    if (inner == nullptr) return FormatError(where, "missing field `filter`");
    Result<Filter> filter = ParseFilterObject(*inner, where + ".filter", depth + 1);
    if (!filter.ok()) return filter.status();
    nested.filter = std::make_shared<const Filter>(std::move(*filter));
    condition.body = std::move(nested);
    return condition;
  }
  if (const Value* v = Member(value, "slice")) {
    const std::string where = path + ".slice";
    if (!v->IsObject()) return FormatError(where, "expected an object {total, index}");
    Result<uint64_t> total = ParseUnsigned(Member(*v, "total"), where + ".total");
    if (!total.ok()) return total.status();
    Result<uint64_t> index = ParseUnsigned(Member(*v, "index"), where + ".index");
    if (!index.ok()) return index.status();
    if (*total == 0) return FormatError(where + ".total", "must be at least 1, got 0");
    if (*index >= *total) {
      return ValidationError(where + ".index", "value " + std::to_string(*index) +
                                                   " invalid, must be less than total (" +
                                                   std::to_string(*total) + ")");
    }
    condition.body = SliceCondition{*total, *index};
    return condition;
  }
  if (const Value* v = Member(value, "has_vector")) {
    if (!v->IsString()) return FormatError(path + ".has_vector", "expected a vector name");
    condition.body = HasVectorCondition{std::string(View(*v))};
    return condition;
  }
  // Anything else is a nested filter (all its fields are optional, as in Qdrant's untagged
  // Condition enum: `{}` is an empty filter, which every point matches). An object that is
  // neither a condition nor a filter is an error, not an empty filter.
  if (!value.ObjectEmpty() && !value.HasMember("must") && !value.HasMember("should") &&
      !value.HasMember("must_not") && !value.HasMember("min_should")) {
    return FormatError(path,
                       "expected a condition (key, has_id, is_empty, is_null, nested, "
                       "slice) or a filter (must, should, must_not, min_should)");
  }
  Result<Filter> filter = ParseFilterObject(value, path, depth + 1);
  if (!filter.ok()) return filter.status();
  condition.body = std::make_shared<const Filter>(std::move(*filter));
  return condition;
}

Result<JsonPath> FilterParser::ParseKey(const Value* value, const std::string& path) {
  if (value == nullptr) return FormatError(path, "missing field `key`");
  if (!value->IsString()) return FormatError(path, "expected a string (a payload key)");
  Result<JsonPath> key = ParseJsonPath(View(*value));
  if (!key.ok()) return FormatError(path, key.status().message());
  return key;
}

Result<FieldCondition> FilterParser::ParseFieldCondition(const Value& value,
                                                         const std::string& path) {
  FieldCondition field;
  Result<JsonPath> key = ParseKey(Member(value, "key"), path + ".key");
  if (!key.ok()) return key.status();
  field.key = std::move(*key);
  if (const Value* v = Member(value, "match")) {
    Result<MatchCondition> match = ParseMatch(*v, path + ".match");
    if (!match.ok()) return match.status();
    field.match = std::move(*match);
  }
  if (const Value* v = Member(value, "range")) {
    Result<RangeCondition> range = ParseRange(*v, path + ".range");
    if (!range.ok()) return range.status();
    field.range = *range;
  }
  if (const Value* v = Member(value, "values_count")) {
    Result<ValuesCountCondition> count = ParseValuesCount(*v, path + ".values_count");
    if (!count.ok()) return count.status();
    field.values_count = *count;
  }
  if (const Value* v = Member(value, "geo_radius")) {
    const std::string where = path + ".geo_radius";
    if (!v->IsObject()) return FormatError(where, "expected an object {center, radius}");
    Result<GeoPoint> center = ParseGeoPoint(Member(*v, "center"), where + ".center");
    if (!center.ok()) return center.status();
    const Value* radius = Member(*v, "radius");
    if (radius == nullptr) return FormatError(where, "missing field `radius`");
    if (!radius->IsNumber()) return FormatError(where + ".radius", "expected a number");
    if (radius->GetDouble() < 0) {
      return ValidationError(where + ".radius", "value " + std::to_string(radius->GetDouble()) +
                                                    " invalid, must be non-negative");
    }
    field.geo_radius = GeoRadius{*center, radius->GetDouble()};
  }
  if (const Value* v = Member(value, "geo_bounding_box")) {
    const std::string where = path + ".geo_bounding_box";
    if (!v->IsObject()) return FormatError(where, "expected an object {top_left, bottom_right}");
    Result<GeoPoint> top_left = ParseGeoPoint(Member(*v, "top_left"), where + ".top_left");
    if (!top_left.ok()) return top_left.status();
    Result<GeoPoint> bottom_right =
        ParseGeoPoint(Member(*v, "bottom_right"), where + ".bottom_right");
    if (!bottom_right.ok()) return bottom_right.status();
    field.geo_bounding_box = GeoBoundingBox{*top_left, *bottom_right};
  }
  if (const Value* v = Member(value, "geo_polygon")) {
    const std::string where = path + ".geo_polygon";
    if (!v->IsObject()) return FormatError(where, "expected an object {exterior, interiors}");
    GeoPolygon polygon;
    Result<std::vector<GeoPoint>> exterior = ParseRing(Member(*v, "exterior"), where + ".exterior");
    if (!exterior.ok()) return exterior.status();
    polygon.exterior = std::move(*exterior);
    if (const Value* interiors = Member(*v, "interiors")) {
      if (!interiors->IsArray()) return FormatError(where + ".interiors", "expected a list");
      for (rapidjson::SizeType i = 0; i < interiors->Size(); ++i) {
        Result<std::vector<GeoPoint>> ring =
            ParseRing(&(*interiors)[i], where + ".interiors[" + std::to_string(i) + "]");
        if (!ring.ok()) return ring.status();
        polygon.interiors.push_back(std::move(*ring));
      }
    }
    field.geo_polygon = std::move(polygon);
  }
  for (const char* name : {"is_empty", "is_null"}) {
    const Value* v = Member(value, name);
    if (v == nullptr) continue;
    if (!v->IsBool()) return FormatError(path + "." + name, "expected a boolean");
    (name[3] == 'e' ? field.is_empty : field.is_null) = v->GetBool();
  }
  if (field.CheckCount() == 0) {
    return ValidationError(path, "At least one field condition must be specified");
  }
  return field;
}

Result<MatchValue> FilterParser::ParseMatchScalar(const Value& value, const std::string& path) {
  if (value.IsString()) return MatchValue(std::string(View(value)));
  if (value.IsBool()) return MatchValue(value.GetBool());
  if (value.IsInt64()) return MatchValue(value.GetInt64());
  return FormatError(path, "expected a string, an integer or a boolean");
}

Result<MatchCondition> FilterParser::ParseMatch(const Value& value, const std::string& path) {
  if (!value.IsObject()) return FormatError(path, "expected an object");
  MatchCondition match;
  if (const Value* v = Member(value, "value")) {
    Result<MatchValue> scalar = ParseMatchScalar(*v, path + ".value");
    if (!scalar.ok()) return scalar.status();
    match.kind = MatchCondition::Kind::kValue;
    match.values.push_back(std::move(*scalar));
    return match;
  }
  struct Text {
    const char* name;
    MatchCondition::Kind kind;
  };
  for (const Text& t :
       {Text{"text", MatchCondition::Kind::kText}, Text{"text_any", MatchCondition::Kind::kTextAny},
        Text{"phrase", MatchCondition::Kind::kPhrase}}) {
    const Value* v = Member(value, t.name);
    if (v == nullptr) continue;
    if (!v->IsString()) return FormatError(path + "." + t.name, "expected a string");
    match.kind = t.kind;
    match.text = std::string(View(*v));
    return match;
  }
  for (const char* name : {"any", "except"}) {
    const Value* v = Member(value, name);
    if (v == nullptr) continue;
    const std::string where = path + "." + name;
    if (!v->IsArray()) return FormatError(where, "expected a list");
    match.kind = name[0] == 'a' ? MatchCondition::Kind::kAny : MatchCondition::Kind::kExcept;
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
      const std::string item_path = where + "[" + std::to_string(i) + "]";
      Result<MatchValue> scalar = ParseMatchScalar((*v)[i], item_path);
      if (!scalar.ok()) return scalar.status();
      if (!match.values.empty() && match.values.front().index() != scalar->index()) {
        return FormatError(item_path, "all values of the list must have the same type");
      }
      match.values.push_back(std::move(*scalar));
    }
    // Sorted and unique, so that matching is a binary search (lists of tenant ids get long).
    std::sort(match.values.begin(), match.values.end());
    match.values.erase(std::unique(match.values.begin(), match.values.end()), match.values.end());
    return match;
  }
  return FormatError(path, "expected one of value, any, except, text, text_any, phrase");
}

Result<RangeCondition> FilterParser::ParseRange(const Value& value, const std::string& path) {
  if (!value.IsObject()) return FormatError(path, "expected an object {gt, gte, lt, lte}");
  RangeCondition range;
  struct Bound {
    const char* name;
    std::optional<double>* out;
  };
  int numbers = 0;
  int strings = 0;
  for (const Bound& b : {Bound{"gt", &range.gt}, Bound{"gte", &range.gte}, Bound{"lt", &range.lt},
                         Bound{"lte", &range.lte}}) {
    const Value* v = Member(value, b.name);
    if (v == nullptr) continue;
    const std::string where = path + "." + b.name;
    if (v->IsNumber()) {
      ++numbers;
      *b.out = v->GetDouble();
    } else if (v->IsString()) {
      ++strings;
      std::optional<int64_t> micros = ParseDateTime(View(*v));
      if (!micros) {
        return FormatError(where, "expected a number or an RFC 3339 datetime, got \"" +
                                      std::string(View(*v)) + "\"");
      }
      *b.out = static_cast<double>(*micros);
    } else {
      return FormatError(where, "expected a number or an RFC 3339 datetime");
    }
  }
  if (numbers > 0 && strings > 0) {
    return FormatError(path, "bounds must be all numbers or all datetimes");
  }
  range.is_datetime = strings > 0;
  return range;
}

Result<ValuesCountCondition> FilterParser::ParseValuesCount(const Value& value,
                                                            const std::string& path) {
  if (!value.IsObject()) return FormatError(path, "expected an object {gt, gte, lt, lte}");
  ValuesCountCondition count;
  struct Bound {
    const char* name;
    std::optional<uint64_t>* out;
  };
  for (const Bound& b : {Bound{"gt", &count.gt}, Bound{"gte", &count.gte}, Bound{"lt", &count.lt},
                         Bound{"lte", &count.lte}}) {
    const Value* v = Member(value, b.name);
    if (v == nullptr) continue;
    Result<uint64_t> n = ParseUnsigned(v, path + "." + b.name);
    if (!n.ok()) return n.status();
    *b.out = *n;
  }
  return count;
}

Result<uint64_t> FilterParser::ParseUnsigned(const Value* value, const std::string& path) {
  if (value == nullptr) {
    const size_t dot = path.rfind('.');
    return FormatError(
        path.substr(0, dot),
        "missing field `" + path.substr(dot == std::string::npos ? 0 : dot + 1) + "`");
  }
  if (!value->IsUint64()) return FormatError(path, "expected a non-negative integer");
  return value->GetUint64();
}

Result<GeoPoint> FilterParser::ParseGeoPoint(const Value* value, const std::string& path) {
  if (value == nullptr) {
    const size_t dot = path.rfind('.');
    return FormatError(path.substr(0, dot), "missing field `" + path.substr(dot + 1) + "`");
  }
  if (!value->IsObject()) return FormatError(path, "expected an object {lon, lat}");
  const Value* lon = Member(*value, "lon");
  const Value* lat = Member(*value, "lat");
  if (lon == nullptr || !lon->IsNumber()) return FormatError(path + ".lon", "expected a number");
  if (lat == nullptr || !lat->IsNumber()) return FormatError(path + ".lat", "expected a number");
  GeoPoint point{lon->GetDouble(), lat->GetDouble()};
  // Qdrant checks the ranges while deserialising a GeoPoint, hence 400.
  if (!(point.lon >= -180 && point.lon <= 180) || !(point.lat >= -90 && point.lat <= 90)) {
    return FormatError(
        path, "Wrong format of GeoPoint payload: expected `lat` = " + std::to_string(point.lat) +
                  " within [-90;90] and `lon` = " + std::to_string(point.lon) +
                  " within [-180;180]");
  }
  return point;
}

Result<std::vector<GeoPoint>> FilterParser::ParseRing(const Value* value, const std::string& path) {
  if (value == nullptr) {
    const size_t dot = path.rfind('.');
    return FormatError(path.substr(0, dot), "missing field `" + path.substr(dot + 1) + "`");
  }
  if (!value->IsObject()) return FormatError(path, "expected an object {points}");
  const Value* points = Member(*value, "points");
  if (points == nullptr || !points->IsArray()) {
    return FormatError(path + ".points", "expected a list of geo points");
  }
  std::vector<GeoPoint> ring;
  for (rapidjson::SizeType i = 0; i < points->Size(); ++i) {
    Result<GeoPoint> p = ParseGeoPoint(&(*points)[i], path + ".points[" + std::to_string(i) + "]");
    if (!p.ok()) return p.status();
    ring.push_back(*p);
  }
  // Qdrant's validate_geo_polygon: a closed line string of at least 4 points.
  if (ring.size() < 4) {
    return ValidationError(path, "polygon invalid, the size must be at least 4");
  }
  if (ring.front().lon != ring.back().lon || ring.front().lat != ring.back().lat) {
    return ValidationError(path, "polygon invalid, the first and the last points should be same");
  }
  return ring;
}

// ---- evaluation ----

bool RangeCondition::Contains(double v) const {
  if (gt && !(v > *gt)) return false;
  if (gte && !(v >= *gte)) return false;
  if (lt && !(v < *lt)) return false;
  if (lte && !(v <= *lte)) return false;
  return true;
}

bool ValuesCountCondition::Contains(uint64_t count) const {
  if (gt && !(count > *gt)) return false;
  if (gte && !(count >= *gte)) return false;
  if (lt && !(count < *lt)) return false;
  if (lte && !(count <= *lte)) return false;
  return true;
}

int FieldCondition::CheckCount() const {
  return int(match.has_value()) + int(range.has_value()) + int(values_count.has_value()) +
         int(geo_radius.has_value()) + int(geo_bounding_box.has_value()) +
         int(geo_polygon.has_value()) + int(is_empty.has_value()) + int(is_null.has_value());
}

double HaversineMeters(const GeoPoint& a, const GeoPoint& b) {
  constexpr double kEarthRadiusM = 6371008.8;  // mean radius, as the geo crate Qdrant uses
  constexpr double kRad = M_PI / 180.0;
  const double dlat = (b.lat - a.lat) * kRad;
  const double dlon = (b.lon - a.lon) * kRad;
  const double h =
      std::sin(dlat / 2) * std::sin(dlat / 2) +
      std::cos(a.lat * kRad) * std::cos(b.lat * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadiusM * std::asin(std::min(1.0, std::sqrt(h)));
}

std::optional<GeoPoint> GeoPointFromJson(const rapidjson::Value& value) {
  if (!value.IsObject()) return std::nullopt;
  const Value* lon = Member(value, "lon");
  const Value* lat = Member(value, "lat");
  if (lon == nullptr || lat == nullptr || !lon->IsNumber() || !lat->IsNumber()) {
    return std::nullopt;
  }
  return GeoPoint{lon->GetDouble(), lat->GetDouble()};
}

namespace {

// Even-odd ray casting in the lon/lat plane.
bool RingContains(const std::vector<GeoPoint>& ring, const GeoPoint& p) {
  bool inside = false;
  for (size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++) {
    const GeoPoint& a = ring[i];
    const GeoPoint& b = ring[j];
    if ((a.lat > p.lat) != (b.lat > p.lat)) {
      const double lon_at = (b.lon - a.lon) * (p.lat - a.lat) / (b.lat - a.lat) + a.lon;
      if (p.lon < lon_at) inside = !inside;
    }
  }
  return inside;
}

}  // namespace

bool GeoPointSatisfies(const FieldCondition& c, const GeoPoint& p) {
  if (c.geo_radius && HaversineMeters(c.geo_radius->center, p) <= c.geo_radius->radius_m) {
    return true;
  }
  if (c.geo_bounding_box) {
    const GeoBoundingBox& box = *c.geo_bounding_box;
    const bool lat_ok = p.lat <= box.top_left.lat && p.lat >= box.bottom_right.lat;
    // A box whose left edge is east of its right edge crosses the antimeridian.
    const bool lon_ok = box.top_left.lon <= box.bottom_right.lon
                            ? p.lon >= box.top_left.lon && p.lon <= box.bottom_right.lon
                            : p.lon >= box.top_left.lon || p.lon <= box.bottom_right.lon;
    if (lat_ok && lon_ok) return true;
  }
  if (c.geo_polygon && RingContains(c.geo_polygon->exterior, p)) {
    bool in_hole = false;
    for (const auto& interior : c.geo_polygon->interiors) {
      if (RingContains(interior, p)) {
        in_hole = true;
        break;
      }
    }
    if (!in_hole) return true;
  }
  return false;
}

namespace {

// Whether `value` equals one of `list` (sorted, all of one type), without copying it.
bool InSortedList(const std::vector<MatchValue>& list, const Value& value) {
  if (list.empty()) return false;
  if (std::holds_alternative<std::string>(list.front())) {
    if (!value.IsString()) return false;
    const std::string_view key = View(value);
    auto it = std::lower_bound(list.begin(), list.end(), key,
                               [](const MatchValue& a, std::string_view b) {
                                 return std::string_view(std::get<std::string>(a)) < b;
                               });
    return it != list.end() && std::get<std::string>(*it) == key;
  }
  if (std::holds_alternative<int64_t>(list.front())) {
    if (!value.IsInt64()) return false;
    return std::binary_search(list.begin(), list.end(), MatchValue(value.GetInt64()));
  }
  if (!value.IsBool()) return false;
  return std::binary_search(list.begin(), list.end(), MatchValue(value.GetBool()));
}

bool MatchSatisfies(const MatchCondition& m, const Value& value) {
  switch (m.kind) {
    case MatchCondition::Kind::kValue:
    case MatchCondition::Kind::kAny:
      return InSortedList(m.values, value);
    case MatchCondition::Kind::kExcept:
      return !value.IsNull() && !InSortedList(m.values, value);
    case MatchCondition::Kind::kText:
    case MatchCondition::Kind::kPhrase:
      return value.IsString() && View(value).find(m.text) != std::string_view::npos;
    case MatchCondition::Kind::kTextAny: {
      if (!value.IsString()) return false;
      const std::string_view stored = View(value);
      size_t i = 0;
      while (i < m.text.size()) {
        while (i < m.text.size() && std::isspace(static_cast<unsigned char>(m.text[i]))) ++i;
        size_t start = i;
        while (i < m.text.size() && !std::isspace(static_cast<unsigned char>(m.text[i]))) ++i;
        if (i > start &&
            stored.find(std::string_view(m.text).substr(start, i - start)) != stored.npos) {
          return true;
        }
      }
      return false;
    }
  }
  return false;
}

bool FilterMatches(const Filter& filter, const segment::PointId& id, const Value& payload,
                   const HasVectorFn* has_vector);

}  // namespace

bool MatchValueEquals(const MatchValue& expected, const rapidjson::Value& value) {
  if (const auto* s = std::get_if<std::string>(&expected)) {
    return value.IsString() && View(value) == *s;
  }
  if (const auto* n = std::get_if<int64_t>(&expected)) {
    return value.IsInt64() && value.GetInt64() == *n;
  }
  const bool b = std::get<bool>(expected);
  return value.IsBool() && value.GetBool() == b;
}

bool ValueSatisfies(const FieldCondition& c, const rapidjson::Value& value) {
  if (c.match && MatchSatisfies(*c.match, value)) return true;
  if (c.range) {
    if (c.range->is_datetime) {
      if (value.IsString()) {
        std::optional<int64_t> micros = ParseDateTime(View(value));
        if (micros && c.range->Contains(static_cast<double>(*micros))) return true;
      }
    } else if (value.IsNumber() && c.range->Contains(value.GetDouble())) {
      return true;
    }
  }
  if (c.geo_radius || c.geo_bounding_box || c.geo_polygon) {
    std::optional<GeoPoint> p = GeoPointFromJson(value);
    if (p && GeoPointSatisfies(c, *p)) return true;
  }
  return false;
}

namespace {

bool FieldMatches(const FieldCondition& c, const Value& payload) {
  // One walk over the values the key reaches, with no allocation: aggregates for values_count,
  // is_empty and is_null, and a short cut as soon as a value satisfies match/range/geo (the
  // checks of one condition are OR-ed).
  const bool value_checks =
      c.match || c.range || c.geo_radius || c.geo_bounding_box || c.geo_polygon;
  bool found = false;
  bool hit = false;
  bool all_empty = true;
  bool any_null = false;
  uint64_t count = 0;
  ForEachValue(payload, c.key, [&](const Value& v) {
    found = true;
    count += v.IsNull() ? 0 : v.IsArray() ? v.Size() : 1;
    all_empty = all_empty && IsNullOrEmptyArray(&v);
    any_null = any_null || v.IsNull();
    if (value_checks) {
      if (v.IsArray()) {
        for (const Value& element : v.GetArray()) {
          if (ValueSatisfies(c, element)) {
            hit = true;
            break;
          }
        }
      } else {
        hit = ValueSatisfies(c, v);
      }
    }
    return !hit;
  });
  if (hit) return true;
  if (!found) {
    return (c.values_count && c.values_count->Contains(0)) || c.is_empty == true ||
           c.is_null == false;
  }
  return (c.values_count && c.values_count->Contains(count)) ||
         (c.is_empty && all_empty == *c.is_empty) || (c.is_null && any_null == *c.is_null);
}

bool FilterMatches(const Filter& filter, const segment::PointId& id, const Value& payload,
                   const HasVectorFn* has_vector) {
  for (const Condition& c : filter.must()) {
    if (!ConditionMatches(c, id, payload, has_vector)) return false;
  }
  for (const Condition& c : filter.must_not()) {
    if (ConditionMatches(c, id, payload, has_vector)) return false;
  }
  if (!filter.should().empty()) {
    bool any = false;
    for (const Condition& c : filter.should()) {
      if (ConditionMatches(c, id, payload, has_vector)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  if (filter.min_should()) {
    uint64_t matched = 0;
    for (const Condition& c : filter.min_should()->conditions) {
      if (matched >= filter.min_should()->min_count) break;
      if (ConditionMatches(c, id, payload, has_vector)) ++matched;
    }
    if (matched < filter.min_should()->min_count) return false;
  }
  return true;
}

}  // namespace

bool ConditionMatches(const Condition& condition, const segment::PointId& id,
                      const rapidjson::Value& payload, const HasVectorFn* has_vector) {
  if (const auto* field = std::get_if<FieldCondition>(&condition.body)) {
    return FieldMatches(*field, payload);
  }
  if (const auto* has_id = std::get_if<HasIdCondition>(&condition.body)) {
    return std::binary_search(has_id->ids.begin(), has_id->ids.end(), id);
  }
  if (const auto* nested = std::get_if<NestedCondition>(&condition.body)) {
    bool any = false;
    ForEachValue(payload, nested->element_path, [&](const Value& element) {
      any = element.IsObject() && nested->filter->Matches(id, element, has_vector);
      return !any;
    });
    return any;
  }
  if (const auto* slice = std::get_if<SliceCondition>(&condition.body)) {
    return id.StableHash() % slice->total == slice->index;
  }
  if (const auto* vector = std::get_if<HasVectorCondition>(&condition.body)) {
    return has_vector != nullptr && *has_vector && (*has_vector)(vector->vector);
  }
  const auto& filter = std::get<std::shared_ptr<const Filter>>(condition.body);
  return filter->Matches(id, payload, has_vector);
}

bool Filter::Matches(const segment::PointId& id, const rapidjson::Value& payload,
                     const HasVectorFn* has_vector) const {
  if (!payload.IsObject()) {
    const Value empty(rapidjson::kObjectType);
    return FilterMatches(*this, id, empty, has_vector);
  }
  return FilterMatches(*this, id, payload, has_vector);
}

namespace {

bool AnyUsesHasVector(const std::vector<Condition>& conditions) {
  for (const Condition& c : conditions) {
    if (std::holds_alternative<HasVectorCondition>(c.body)) return true;
    if (const auto* nested = std::get_if<NestedCondition>(&c.body)) {
      if (nested->filter->UsesHasVector()) return true;
    }
    if (const auto* filter = std::get_if<std::shared_ptr<const Filter>>(&c.body)) {
      if ((*filter)->UsesHasVector()) return true;
    }
  }
  return false;
}

}  // namespace

bool Filter::UsesHasVector() const {
  return AnyUsesHasVector(must_) || AnyUsesHasVector(should_) || AnyUsesHasVector(must_not_) ||
         (min_should_ && AnyUsesHasVector(min_should_->conditions));
}

Result<Filter> ParseFilter(const rapidjson::Value& value, std::string_view field) {
  return FilterParser::ParseFilterObject(value, std::string(field), 0);
}

// ---- datetimes ----

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  bool Done() const { return i_ == s_.size(); }
  bool Peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool Take(char c) {
    if (!Peek(c)) return false;
    ++i_;
    return true;
  }
  char Next() { return i_ < s_.size() ? s_[i_++] : '\0'; }
  bool PeekDigit() const { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; }
  // Exactly `n` digits.
  bool Digits(int n, int& out) {
    out = 0;
    for (int k = 0; k < n; ++k) {
      if (!PeekDigit()) return false;
      out = out * 10 + (s_[i_++] - '0');
    }
    return true;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::optional<int64_t> ParseDateTime(std::string_view text) {
  Scanner s(text);
  int year, month, day;
  if (!s.Digits(4, year) || !s.Take('-') || !s.Digits(2, month) || !s.Take('-') ||
      !s.Digits(2, day)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return std::nullopt;
  if (day > kDays[month - 1] + (month == 2 && IsLeap(year) ? 1 : 0)) return std::nullopt;
  int hour = 0, minute = 0, second = 0;
  int64_t micros = 0;
  int64_t offset_seconds = 0;
  if (!s.Done()) {
    if (!(s.Take('T') || s.Take('t') || s.Take(' '))) return std::nullopt;
    if (!s.Digits(2, hour) || !s.Take(':') || !s.Digits(2, minute)) return std::nullopt;
    if (s.Take(':')) {
      if (!s.Digits(2, second)) return std::nullopt;
      if (s.Take('.')) {
        int digits = 0;
        int64_t scale = 100000;
        while (s.PeekDigit()) {
          const int d = s.Next() - '0';
          if (digits < 6) micros += d * scale;
          scale /= 10;
          ++digits;
        }
        if (digits == 0) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (s.Take('Z') || s.Take('z')) {
      // UTC
    } else if (s.Peek('+') || s.Peek('-')) {
      const int sign = s.Next() == '-' ? -1 : 1;
      int oh, om = 0;
      if (!s.Digits(2, oh)) return std::nullopt;
      if (s.Take(':')) {
        if (!s.Digits(2, om)) return std::nullopt;
      } else if (s.PeekDigit()) {
        if (!s.Digits(2, om)) return std::nullopt;
      }
      if (oh > 23 || om > 59) return std::nullopt;
      offset_seconds = sign * (oh * 3600 + om * 60);
    }
    if (!s.Done()) return std::nullopt;
  }
  const int64_t seconds =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - offset_seconds;
  return seconds * 1000000 + micros;
}

}  // namespace qd::index
