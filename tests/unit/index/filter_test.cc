#include "qdrantd/index/filter.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/json.h"

namespace qd::index {
namespace {

using qd::test::ParseJson;
using segment::PointId;

Filter Parse(const std::string& text) {
  rapidjson::Document d = ParseJson(text);
  Result<Filter> f = ParseFilter(d);
  INFO(text);
  REQUIRE(f.ok());
  return std::move(*f);
}

Status ParseError(const std::string& text) {
  rapidjson::Document d = ParseJson(text);
  Result<Filter> f = ParseFilter(d);
  INFO(text);
  REQUIRE_FALSE(f.ok());
  return f.status();
}

bool Matches(const std::string& filter, const std::string& payload, PointId id = PointId::Num(1)) {
  Filter f = Parse(filter);
  rapidjson::Document p = ParseJson(payload);
  return f.Matches(id, p);
}

struct Case {
  std::string filter;
  std::string payload;
  bool expected;
};

void RunTable(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    INFO("filter " << c.filter << "\npayload " << c.payload);
    CHECK(Matches(c.filter, c.payload) == c.expected);
  }
}

std::string Must(const std::string& condition) { return R"({"must":[)" + condition + "]}"; }

TEST_CASE("must_not excludes points whose keyword matches", "[unit][index]") {
  const std::string f = R"({"must_not":[{"key":"city","match":{"value":"Berlin"}}]})";
  CHECK_FALSE(Matches(f, R"({"city": "Berlin"})"));
  CHECK(Matches(f, R"({"city": "Paris"})"));
  CHECK(Matches(f, R"({})"));
}

TEST_CASE("Filter clauses: must, should, must_not, min_should, nesting, single condition",
          "[unit][index]") {
  const std::string a = R"({"key":"a","match":{"value":1}})";
  const std::string b = R"({"key":"b","match":{"value":1}})";
  const std::string c = R"({"key":"c","match":{"value":1}})";
  RunTable({
      {"{}", R"({"a":1})", true},
      {"null", R"({"a":1})", true},
      {R"({"must":[]})", "{}", true},
      {R"({"should":[]})", "{}", true},
      {R"({"must":[)" + a + "," + b + "]}", R"({"a":1,"b":1})", true},
      {R"({"must":[)" + a + "," + b + "]}", R"({"a":1,"b":2})", false},
      {R"({"must":)" + a + "}", R"({"a":1})", true},  // a single condition, not a list
      {R"({"must":)" + a + "}", R"({"a":2})", false},
      {R"({"should":[)" + a + "," + b + "]}", R"({"b":1})", true},
      {R"({"should":[)" + a + "," + b + "]}", R"({"c":1})", false},
      {R"({"should":)" + a + "}", R"({"a":1})", true},
      {R"({"must_not":)" + a + "}", R"({"a":1})", false},
      {R"({"must_not":[)" + a + "," + b + "]}", R"({"b":1})", false},
      {R"({"must_not":[)" + a + "," + b + "]}", R"({"c":1})", true},
      {R"({"min_should":{"conditions":[)" + a + "," + b + "," + c + R"(],"min_count":2}})",
       R"({"a":1,"c":1})", true},
      {R"({"min_should":{"conditions":[)" + a + "," + b + "," + c + R"(],"min_count":2}})",
       R"({"a":1,"c":2})", false},
      {R"({"min_should":{"conditions":[)" + a + R"(],"min_count":0}})", R"({})", true},
      // must and should both apply.
      {R"({"must":[)" + a + R"(],"should":[)" + b + "]}", R"({"a":1,"b":2})", false},
      // Nested filters as conditions.
      {R"({"must":[{"should":[)" + a + "," + b + R"(]},{"must_not":[)" + c + "]}]}",
       R"({"b":1,"c":2})", true},
      {R"({"must":[{"should":[)" + a + "," + b + R"(]},{"must_not":[)" + c + "]}]}",
       R"({"b":1,"c":1})", false},
      {R"({"must":[{}]})", R"({})", true},  // an empty filter as a condition
      // Unknown fields are ignored, null means not set.
      {R"({"must":[)" + a + R"(],"should":null,"extra":{"x":1}})", R"({"a":1})", true},
      {R"({"must":[{"key":"a","match":{"value":1},"range":null,"foo":2}]})", R"({"a":1})", true},
  });
}

TEST_CASE("match value, any and except on keywords, integers, booleans and UUIDs",
          "[unit][index]") {
  const std::string uuid = "550e8400-e29b-41d4-a716-446655440000";
  RunTable({
      {Must(R"({"key":"k","match":{"value":"x"}})"), R"({"k":"x"})", true},
      {Must(R"({"key":"k","match":{"value":"x"}})"), R"({"k":"X"})", false},
      {Must(R"({"key":"k","match":{"value":"x"}})"), R"({"k":["y","x"]})", true},
      {Must(R"({"key":"k","match":{"value":"x"}})"), R"({"k":[["x"]]})", false},
      {Must(R"({"key":"k","match":{"value":"1"}})"), R"({"k":1})", false},  // types mismatch
      {Must(R"({"key":"k","match":{"value":1}})"), R"({"k":1})", true},
      {Must(R"({"key":"k","match":{"value":1}})"), R"({"k":"1"})", false},
      {Must(R"({"key":"k","match":{"value":1}})"), R"({"k":1.0})", false},  // as Qdrant
      {Must(R"({"key":"k","match":{"value":-5}})"), R"({"k":[-5]})", true},
      {Must(R"({"key":"k","match":{"value":true}})"), R"({"k":true})", true},
      {Must(R"({"key":"k","match":{"value":true}})"), R"({"k":false})", false},
      {Must(R"({"key":"k","match":{"value":false}})"), R"({"k":[true,false]})", true},
      {Must(R"({"key":"k","match":{"value":")" + uuid + R"("}})"), R"({"k":")" + uuid + R"("})",
       true},
      {Must(R"({"key":"k","match":{"any":["a","b"]}})"), R"({"k":"b"})", true},
      {Must(R"({"key":"k","match":{"any":["a","b"]}})"), R"({"k":"c"})", false},
      {Must(R"({"key":"k","match":{"any":["a","b"]}})"), R"({"k":["c","a"]})", true},
      {Must(R"({"key":"k","match":{"any":[1,2]}})"), R"({"k":2})", true},
      {Must(R"({"key":"k","match":{"any":[1,2]}})"), R"({"k":"2"})", false},
      {Must(R"({"key":"k","match":{"any":[]}})"), R"({"k":"a"})", false},  // empty: nothing
      {Must(R"({"key":"k","match":{"any":["z","c","a","b","a"]}})"), R"({"k":"b"})", true},
      {Must(R"({"key":"k","match":{"any":["z","c","a","b","a"]}})"), R"({"k":"d"})", false},
      {Must(R"({"key":"k","match":{"any":[9,-3,5,0]}})"), R"({"k":-3})", true},
      {Must(R"({"key":"k","match":{"any":[9,-3,5,0]}})"), R"({"k":4})", false},
      {Must(R"({"key":"k","match":{"any":[true]}})"), R"({"k":true})", true},
      {Must(R"({"key":"k","match":{"except":[false]}})"), R"({"k":false})", false},
      {Must(R"({"key":"k","match":{"except":[9,-3,5]}})"), R"({"k":[5,9]})", false},
      {Must(R"({"key":"k","match":{"except":["z","c","a"]}})"), R"({"k":["a","b"]})", true},
      {Must(R"({"key":"k","match":{"except":["a","b"]}})"), R"({"k":"c"})", true},
      {Must(R"({"key":"k","match":{"except":["a","b"]}})"), R"({"k":"a"})", false},
      {Must(R"({"key":"k","match":{"except":["a","b"]}})"), R"({"k":["a","c"]})", true},
      {Must(R"({"key":"k","match":{"except":["a","b"]}})"), R"({"k":["a","b"]})", false},
      {Must(R"({"key":"k","match":{"except":["a","b"]}})"), R"({"k":5})", true},
      {Must(R"({"key":"k","match":{"except":["a","b"]}})"), R"({})", false},
      {Must(R"({"key":"k","match":{"except":["a","b"]}})"), R"({"k":null})", false},
      {Must(R"({"key":"k","match":{"except":[1]}})"), R"({"k":2})", true},
      {Must(R"({"key":"k","match":{"except":[1]}})"), R"({"k":1})", false},
      {Must(R"({"key":"k","match":{"except":[]}})"), R"({"k":"a"})", true},  // has the field
      {Must(R"({"key":"k","match":{"except":[]}})"), R"({"x":"a"})", false},
  });
}

TEST_CASE("match text is a substring match, text_any any word, phrase a substring",
          "[unit][index]") {
  RunTable({
      {Must(R"({"key":"t","match":{"text":"quick brown"}})"), R"({"t":"the quick brown fox"})",
       true},
      {Must(R"({"key":"t","match":{"text":"brown quick"}})"), R"({"t":"the quick brown fox"})",
       false},
      {Must(R"({"key":"t","match":{"text":"uick"}})"), R"({"t":"quick"})", true},
      {Must(R"({"key":"t","match":{"text":"Quick"}})"), R"({"t":"quick"})", false},
      {Must(R"({"key":"t","match":{"text":"x"}})"), R"({"t":["a","box"]})", true},
      {Must(R"({"key":"t","match":{"text":"1"}})"), R"({"t":1})", false},
      {Must(R"({"key":"t","match":{"text_any":"cat fox"}})"), R"({"t":"a fox"})", true},
      {Must(R"({"key":"t","match":{"text_any":"cat dog"}})"), R"({"t":"a fox"})", false},
      {Must(R"({"key":"t","match":{"phrase":"a fox"}})"), R"({"t":"a fox"})", true},
  });
}

TEST_CASE("range on numbers and on RFC 3339 datetimes", "[unit][index]") {
  RunTable({
      {Must(R"({"key":"n","range":{"gt":1}})"), R"({"n":1})", false},
      {Must(R"({"key":"n","range":{"gte":1}})"), R"({"n":1})", true},
      {Must(R"({"key":"n","range":{"lt":1.5}})"), R"({"n":1.5})", false},
      {Must(R"({"key":"n","range":{"lte":1.5}})"), R"({"n":1.5})", true},
      {Must(R"({"key":"n","range":{"gte":1,"lt":3}})"), R"({"n":2.9})", true},
      {Must(R"({"key":"n","range":{"gte":1,"lt":3}})"), R"({"n":3})", false},
      {Must(R"({"key":"n","range":{"gte":1,"lt":3}})"), R"({"n":[0,7,2]})", true},
      {Must(R"({"key":"n","range":{"gte":1,"lt":3}})"), R"({"n":[0,7]})", false},
      {Must(R"({"key":"n","range":{"gte":1}})"), R"({"n":"2"})", false},
      {Must(R"({"key":"n","range":{"gte":-1e300}})"), R"({"n":-5})", true},
      {Must(R"({"key":"n","range":{}})"), R"({"n":5})", true},
      {Must(R"({"key":"n","range":{}})"), R"({"n":"x"})", false},
      {Must(R"({"key":"n","range":{"gt":null,"lt":10}})"), R"({"n":5})", true},
      // Datetimes, with and without offset and seconds.
      {Must(R"({"key":"d","range":{"gte":"2015-03-01T12:30"}})"), R"({"d":"2015-03-01T12:30:00Z"})",
       true},
      {Must(R"({"key":"d","range":{"gt":"2015-03-01T12:30"}})"), R"({"d":"2015-03-01T12:30:00Z"})",
       false},
      {Must(R"({"key":"d","range":{"gt":"2015-03-01T12:30"}})"),
       R"({"d":"2015-03-01T12:30:00.000001Z"})", true},
      {Must(R"({"key":"d","range":{"lt":"2015-03-01T12:00:00+01:00"}})"),
       R"({"d":"2015-03-01T10:59:59Z"})", true},
      {Must(R"({"key":"d","range":{"lt":"2015-03-01T12:00:00+01:00"}})"),
       R"({"d":"2015-03-01T11:00:00Z"})", false},
      {Must(R"({"key":"d","range":{"gte":"2020-01-01","lte":"2020-12-31T23:59:59"}})"),
       R"({"d":"2020-06-15 08:00:00"})", true},
      {Must(R"({"key":"d","range":{"gte":"2020-01-01"}})"), R"({"d":"2019-12-31T23:59:59.999Z"})",
       false},
      {Must(R"({"key":"d","range":{"gte":"2020-01-01"}})"), R"({"d":["bad","2021-01-01"]})", true},
      {Must(R"({"key":"d","range":{"gte":"2020-01-01"}})"), R"({"d":"not a date"})", false},
      {Must(R"({"key":"d","range":{"gte":"2020-01-01"}})"), R"({"d":1700000000})", false},
  });
}

TEST_CASE("ParseDateTime accepts RFC 3339 and the shorter forms Qdrant accepts", "[unit][index]") {
  struct DtCase {
    const char* text;
    std::optional<int64_t> micros;
  };
  const int64_t day = 86400LL * 1000000;
  for (const DtCase& c : std::vector<DtCase>{
           {"1970-01-01T00:00:00Z", 0},
           {"1970-01-01", 0},
           {"1970-01-02", day},
           {"1970-01-01T00:00", 0},
           {"1970-01-01 00:00:01", 1000000},
           {"1970-01-01t00:00:01z", 1000000},
           {"1970-01-01T00:00:00.5Z", 500000},
           {"1970-01-01T00:00:00.123456789Z", 123456},
           {"1970-01-01T01:00:00+01:00", 0},
           {"1970-01-01T01:00:00+0100", 0},
           {"1970-01-01T01:00:00+01", 0},
           {"1969-12-31T23:00:00-01:00", 0},
           {"2015-03-01T12:30", 1425213000LL * 1000000},
           {"2000-02-29", 951782400LL * 1000000},
           {"1969-12-31T23:59:59Z", -1000000},
           {"2001-02-29", std::nullopt},
           {"2020-13-01", std::nullopt},
           {"2020-01-01T24:00", std::nullopt},
           {"2020-01-01T", std::nullopt},
           {"2020-01-01T10", std::nullopt},
           {"2020-01-01T10:00:00.Z", std::nullopt},
           {"2020-01-01T10:00:00+1", std::nullopt},
           {"2020-01-01T10:00:00Zjunk", std::nullopt},
           {"20200101", std::nullopt},
           {"", std::nullopt},
       }) {
    INFO(c.text);
    CHECK(ParseDateTime(c.text) == c.micros);
  }
}

TEST_CASE("values_count counts array elements and a missing field has 0 values", "[unit][index]") {
  RunTable({
      {Must(R"({"key":"a","values_count":{"gte":2}})"), R"({"a":[1,2]})", true},
      {Must(R"({"key":"a","values_count":{"gte":2}})"), R"({"a":[1]})", false},
      {Must(R"({"key":"a","values_count":{"lt":1}})"), R"({})", true},
      {Must(R"({"key":"a","values_count":{"gt":0}})"), R"({})", false},
      {Must(R"({"key":"a","values_count":{"lte":1}})"), R"({"a":"x"})", true},
      {Must(R"({"key":"a","values_count":{"gt":1}})"), R"({"a":"x"})", false},
      {Must(R"({"key":"a","values_count":{"lt":1}})"), R"({"a":null})", true},
      {Must(R"({"key":"a","values_count":{"lt":1}})"), R"({"a":[]})", true},
      {Must(R"({"key":"a[].b","values_count":{"gte":3}})"), R"({"a":[{"b":1},{"b":[2,3]}]})", true},
      {Must(R"({"key":"a[].b","values_count":{"gte":4}})"), R"({"a":[{"b":1},{"b":[2,3]}]})",
       false},
  });
}

TEST_CASE("is_empty and is_null in both spellings", "[unit][index]") {
  for (const std::string& is_empty : {std::string(R"({"is_empty":{"key":"a"}})"),
                                      std::string(R"({"key":"a","is_empty":true})")}) {
    RunTable({
        {Must(is_empty), R"({})", true},
        {Must(is_empty), R"({"a":null})", true},
        {Must(is_empty), R"({"a":[]})", true},
        {Must(is_empty), R"({"a":[null]})", false},
        {Must(is_empty), R"({"a":1})", false},
        {Must(is_empty), R"({"a":""})", false},
        {Must(is_empty), R"({"a":{}})", false},
        {Must(is_empty), R"({"b":1})", true},
    });
  }
  for (const std::string& is_null :
       {std::string(R"({"is_null":{"key":"a"}})"), std::string(R"({"key":"a","is_null":true})")}) {
    RunTable({
        {Must(is_null), R"({})", false},
        {Must(is_null), R"({"a":null})", true},
        {Must(is_null), R"({"a":[]})", false},
        {Must(is_null), R"({"a":[null]})", false},
        {Must(is_null), R"({"a":1})", false},
    });
  }
  RunTable({
      {Must(R"({"key":"a","is_empty":false})"), R"({"a":1})", true},
      {Must(R"({"key":"a","is_empty":false})"), R"({})", false},
      {Must(R"({"key":"a","is_empty":false})"), R"({"a":[]})", false},
      {Must(R"({"key":"a","is_null":false})"), R"({"a":1})", true},
      {Must(R"({"key":"a","is_null":false})"), R"({"a":null})", false},
      {R"({"must_not":[{"is_empty":{"key":"a"}}]})", R"({"a":[1]})", true},
      {Must(R"({"is_empty":{"key":"a.b"}})"), R"({"a":{"b":[]}})", true},
      {Must(R"({"is_empty":{"key":"a[].b"}})"), R"({"a":[{"b":null},{"c":1}]})", true},
      {Must(R"({"is_empty":{"key":"a[].b"}})"), R"({"a":[{"b":null},{"b":1}]})", false},
  });
}

TEST_CASE("has_id matches numeric and UUID ids in any form", "[unit][index]") {
  const Filter f = Parse(R"({"must":[{"has_id":[1, 3, "550E8400-E29B-41D4-A716-446655440000"]}]})");
  const rapidjson::Document empty = ParseJson("{}");
  CHECK(f.Matches(PointId::Num(1), empty));
  CHECK(f.Matches(PointId::Num(3), empty));
  CHECK_FALSE(f.Matches(PointId::Num(2), empty));
  CHECK(f.Matches(PointId::ParseUuid("550e8400e29b41d4a716446655440000").value(), empty));
  CHECK_FALSE(f.Matches(PointId::ParseUuid("550e8400e29b41d4a716446655440001").value(), empty));
  const Filter none = Parse(R"({"must":{"has_id":[]}})");
  CHECK_FALSE(none.Matches(PointId::Num(1), empty));
  const Filter not_ids = Parse(R"({"must_not":{"has_id":[1]}})");
  CHECK_FALSE(not_ids.Matches(PointId::Num(1), empty));
  CHECK(not_ids.Matches(PointId::Num(2), empty));
}

TEST_CASE("has_vector asks the caller which vectors the point has", "[unit][index]") {
  const Filter f = Parse(R"({"must":[{"has_vector":"image"}],"must_not":{"has_vector":""}})");
  CHECK(f.UsesHasVector());
  CHECK_FALSE(Parse(R"({"must":[{"key":"a","match":{"value":1}}]})").UsesHasVector());
  CHECK(Parse(R"({"should":[{"must":[{"has_vector":"x"}]}]})").UsesHasVector());
  const rapidjson::Document empty = ParseJson("{}");
  const HasVectorFn image_only = [](std::string_view name) { return name == "image"; };
  const HasVectorFn both = [](std::string_view name) { return name == "image" || name.empty(); };
  CHECK(f.Matches(PointId::Num(1), empty, &image_only));
  CHECK_FALSE(f.Matches(PointId::Num(1), empty, &both));
  CHECK_FALSE(f.Matches(PointId::Num(1), empty));  // no answer: matches nothing
  CHECK(ParseError(R"({"must":{"has_vector":1}})").code() == StatusCode::kInvalidArgument);
}

TEST_CASE("geo_radius, geo_bounding_box and geo_polygon", "[unit][index]") {
  // Berlin (13.405, 52.52); Potsdam ~27 km away; Paris ~878 km away.
  const std::string berlin = R"({"loc":{"lon":13.405,"lat":52.52}})";
  const std::string potsdam = R"({"loc":{"lon":13.0645,"lat":52.3906}})";
  const std::string paris = R"({"loc":{"lon":2.3522,"lat":48.8566}})";
  const std::string radius =
      Must(R"({"key":"loc","geo_radius":{"center":{"lon":13.405,"lat":52.52},"radius":30000}})");
  const std::string radius_small =
      Must(R"({"key":"loc","geo_radius":{"center":{"lon":13.405,"lat":52.52},"radius":20000}})");
  const std::string box = Must(
      R"({"key":"loc","geo_bounding_box":{"top_left":{"lon":10,"lat":55},"bottom_right":{"lon":15,"lat":50}}})");
  const std::string box_antimeridian = Must(
      R"({"key":"loc","geo_bounding_box":{"top_left":{"lon":170,"lat":10},"bottom_right":{"lon":-170,"lat":-10}}})");
  const std::string square =
      R"({"points":[{"lon":10,"lat":50},{"lon":15,"lat":50},{"lon":15,"lat":55},{"lon":10,"lat":55},{"lon":10,"lat":50}]})";
  const std::string hole =
      R"({"points":[{"lon":13,"lat":52},{"lon":14,"lat":52},{"lon":14,"lat":53},{"lon":13,"lat":53},{"lon":13,"lat":52}]})";
  const std::string polygon = Must(R"({"key":"loc","geo_polygon":{"exterior":)" + square + "}}");
  const std::string polygon_hole = Must(R"({"key":"loc","geo_polygon":{"exterior":)" + square +
                                        R"(,"interiors":[)" + hole + "]}}");
  CHECK(HaversineMeters({13.405, 52.52}, {2.3522, 48.8566}) == Approx(877464).epsilon(0.002));
  RunTable({
      {radius, berlin, true},
      {radius, potsdam, true},
      {radius_small, potsdam, false},
      {radius, paris, false},
      {radius, R"({"loc":[{"lon":0,"lat":0},{"lon":13.4,"lat":52.5}]})", true},
      {radius, R"({"loc":"13.405,52.52"})", false},
      {radius, R"({})", false},
      {box, berlin, true},
      {box, paris, false},
      {box_antimeridian, R"({"loc":{"lon":179,"lat":0}})", true},
      {box_antimeridian, R"({"loc":{"lon":-179,"lat":0}})", true},
      {box_antimeridian, R"({"loc":{"lon":0,"lat":0}})", false},
      {polygon, berlin, true},
      {polygon, paris, false},
      {polygon_hole, berlin, false},
      {polygon_hole, R"({"loc":{"lon":11,"lat":51}})", true},
  });
}

TEST_CASE("nested filters apply to each array element as a whole", "[unit][index]") {
  const std::string payload =
      R"({"dairy":[{"food":"milk","likes":true},{"food":"cheese","likes":false}]})";
  const std::string both =
      R"({"key":"food","match":{"value":"cheese"}},{"key":"likes","match":{"value":true}})";
  RunTable({
      // Plain keys over arrays combine values of different elements ...
      {R"({"must":[{"key":"dairy[].food","match":{"value":"cheese"}},{"key":"dairy[].likes","match":{"value":true}}]})",
       payload, true},
      // ... nested requires one element to match the whole filter.
      {Must(R"({"nested":{"key":"dairy","filter":{"must":[)" + both + "]}}}"), payload, false},
      {Must(
           R"({"nested":{"key":"dairy[]","filter":{"must":[{"key":"food","match":{"value":"milk"}},{"key":"likes","match":{"value":true}}]}}})"),
       payload, true},
      {Must(
           R"({"nested":{"key":"dairy","filter":{"must_not":[{"key":"likes","match":{"value":true}}]}}})"),
       payload, true},
      {Must(R"({"nested":{"key":"dairy","filter":{}}})"), R"({"dairy":[]})", false},
      {Must(R"({"nested":{"key":"dairy","filter":{}}})"), R"({"dairy":{"food":"x"}})", false},
      {Must(R"({"nested":{"key":"a.b","filter":{"must":{"key":"c","match":{"value":1}}}}})"),
       R"({"a":{"b":[{"c":2},{"c":1}]}})", true},
  });
}

TEST_CASE("slice partitions all ids disjointly and completely", "[unit][index]") {
  const rapidjson::Document empty = ParseJson("{}");
  const uint64_t total = 3;
  std::vector<Filter> slices;
  for (uint64_t i = 0; i < total; ++i) {
    slices.push_back(
        Parse(R"({"must":[{"slice":{"total":3,"index":)" + std::to_string(i) + "}}]}"));
  }
  std::vector<int> sizes(total, 0);
  auto check = [&](const PointId& id) {
    int hits = 0;
    for (uint64_t i = 0; i < total; ++i) {
      if (slices[i].Matches(id, empty)) {
        ++hits;
        ++sizes[i];
      }
    }
    CHECK(hits == 1);
  };
  for (uint64_t n = 0; n < 300; ++n) check(PointId::Num(n));
  for (int n = 0; n < 30; ++n) {
    std::string uuid =
        "00000000-0000-4000-8000-0000000000" + std::string(n < 10 ? "0" : "") + std::to_string(n);
    check(PointId::ParseUuid(uuid).value());
  }
  for (int size : sizes) CHECK(size > 50);  // every slice gets a share
  CHECK(Matches(R"({"must":{"slice":{"total":1,"index":0}}})", "{}"));
}

TEST_CASE("keys address nested payload with dots, [] and numeric-looking names", "[unit][index]") {
  RunTable({
      {Must(R"({"key":"database_id.value","match":{"value":7}})"), R"({"database_id":{"value":7}})",
       true},
      {Must(R"({"key":"country.cities[].population","range":{"gte":1000000}})"),
       R"({"country":{"cities":[{"population":500},{"population":3500000}]}})", true},
      {Must(R"({"key":"country.cities[].population","range":{"gte":1000000}})"),
       R"({"country":{"cities":[{"population":500}]}})", false},
      {Must(R"({"key":"city[]","match":{"value":"B"}})"), R"({"city":["A","B"]})", true},
      {Must(R"({"key":"city","match":{"value":"B"}})"), R"({"city":["A","B"]})", true},
      {Must(R"({"key":"city[1]","match":{"value":"B"}})"), R"({"city":["A","B"]})", true},
      {Must(R"({"key":"city[0]","match":{"value":"B"}})"), R"({"city":["A","B"]})", false},
      {Must(R"({"key":"123","match":{"value":1}})"), R"({"123":1})", true},
      {Must(R"({"key":"a.b","match":{"value":1}})"), R"({"a":[{"b":1}]})", false},
      {Must(R"({"key":"k","match":{"value":1}})"), R"([1,2])", false},  // non-object payload
  });
}

TEST_CASE("several checks in one field condition are OR-ed, as in Qdrant", "[unit][index]") {
  const std::string f = Must(R"({"key":"a","match":{"value":1},"range":{"gt":10}})");
  RunTable({{f, R"({"a":1})", true}, {f, R"({"a":11})", true}, {f, R"({"a":5})", false}});
}

TEST_CASE("Filter errors: 400 for bad JSON types, 422 for invalid values", "[unit][index]") {
  struct ErrorCase {
    std::string filter;
    StatusCode code;
    std::string message;
  };
  const std::string ring3 = R"({"points":[{"lon":1,"lat":1},{"lon":2,"lat":1},{"lon":1,"lat":1}]})";
  const std::string open4 =
      R"({"points":[{"lon":1,"lat":1},{"lon":2,"lat":1},{"lon":2,"lat":2},{"lon":1,"lat":2}]})";
  const std::string closed4 =
      R"({"points":[{"lon":1,"lat":1},{"lon":2,"lat":1},{"lon":2,"lat":2},{"lon":1,"lat":1}]})";
  for (const ErrorCase& c : std::vector<ErrorCase>{
           {R"({"must":[{"key":"a"}]})", StatusCode::kUnprocessable,
            "Validation error in JSON body: [filter.must[0]: At least one field condition must "
            "be specified]"},
           {R"({"should":{"key":"a","match":null}})", StatusCode::kUnprocessable,
            "Validation error in JSON body: [filter.should: At least one field condition must "
            "be specified]"},
           {R"({"must":[{"slice":{"total":2,"index":2}}]})", StatusCode::kUnprocessable,
            "Validation error in JSON body: [filter.must[0].slice.index: value 2 invalid, must "
            "be less than total (2)]"},
           {R"({"must":[{"slice":{"total":0,"index":0}}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].slice.total: must be at least 1, got 0"},
           {R"({"min_should":{"conditions":[]}})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.min_should: missing field `min_count`"},
           {R"({"must":[{"key":"a","range":{"gt":"x"}}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].range.gt: expected a number or an RFC 3339 "
            "datetime, got \"x\""},
           {R"({"must":[{"key":"a","range":{"gt":1,"lt":"2020-01-01"}}]})",
            StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].range: bounds must be all numbers or all "
            "datetimes"},
           {R"({"must":[{"key":"a","range":[1]}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].range: expected an object {gt, gte, lt, "
            "lte}"},
           {R"({"must":[{"key":"a","match":{"value":1.5}}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].match.value: expected a string, an integer "
            "or a boolean"},
           {R"({"must":[{"key":"a","match":{"any":["a",1]}}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].match.any[1]: all values of the list must "
            "have the same type"},
           {R"({"must":[{"key":"a","match":{}}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].match: expected one of value, any, except, "
            "text, text_any, phrase"},
           {R"({"must":[{"key":"a","values_count":{"gt":-1}}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].values_count.gt: expected a non-negative "
            "integer"},
           {R"({"must":[{"key":5,"match":{"value":1}}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].key: expected a string (a payload key)"},
           {R"({"must":[{"key":"a[","match":{"value":1}}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].key: Bad JSON path: a["},
           {R"({"must":5})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must: expected a condition or a list of "
            "conditions"},
           {R"([])", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter: expected a filter object"},
           {R"({"must":[{"has_id":[-1]}]})", StatusCode::kInvalidArgument, ""},
           {R"({"must":[{"has_id":"1"}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].has_id: expected a list of point ids"},
           {R"({"must":[{"is_empty":{"key":null}}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].is_empty.key: missing field `key`"},
           {R"({"must":[{"key":"a","is_empty":"yes"}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].is_empty: expected a boolean"},
           {R"({"must":[{"nested":{"key":"a"}}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].nested: missing field `filter`"},
           {R"({"must":[{"nested":{"key":"a","filter":{"must":[{"key":"b"}]}}}]})",
            StatusCode::kUnprocessable,
            "Validation error in JSON body: [filter.must[0].nested.filter.must[0]: At least one "
            "field condition must be specified]"},
           {R"({"must":[{"key":"l","geo_radius":{"center":{"lon":200,"lat":0},"radius":1}}]})",
            StatusCode::kInvalidArgument, ""},
           {R"({"must":[{"key":"l","geo_radius":{"center":{"lon":0,"lat":0}}}]})",
            StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].geo_radius: missing field `radius`"},
           {R"({"must":[{"key":"l","geo_radius":{"center":{"lon":0,"lat":0},"radius":-1}}]})",
            StatusCode::kUnprocessable, ""},
           {R"({"must":[{"key":"l","geo_polygon":{"exterior":)" + ring3 + "}}]}",
            StatusCode::kUnprocessable,
            "Validation error in JSON body: [filter.must[0].geo_polygon.exterior: polygon "
            "invalid, the size must be at least 4]"},
           {R"({"must":[{"key":"l","geo_polygon":{"exterior":)" + open4 + "}}]}",
            StatusCode::kUnprocessable,
            "Validation error in JSON body: [filter.must[0].geo_polygon.exterior: polygon "
            "invalid, the first and the last points should be same]"},
           {R"({"must":[{"key":"l","geo_polygon":{"exterior":)" + closed4 + R"(,"interiors":[)" +
                ring3 + "]}}]}",
            StatusCode::kUnprocessable,
            "Validation error in JSON body: [filter.must[0].geo_polygon.interiors[0]: polygon "
            "invalid, the size must be at least 4]"},
           // Neither a condition nor a filter: never an empty filter that matches everything.
           {R"({"must":[{"key":null,"match":{"value":1}}]})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0]: expected a condition (key, has_id, "
            "is_empty, is_null, nested, slice) or a filter (must, should, must_not, "
            "min_should)"},
           {R"({"must":[{"foo":1}]})", StatusCode::kInvalidArgument, ""},
           {R"({"key":"a","match":{"value":1}})", StatusCode::kInvalidArgument,
            "Format error in JSON body: filter: unknown field `key`, expected one of `should`, "
            "`min_should`, `must`, `must_not`"},
           {R"({"must":[{"must":[],"match":{"value":1}}]})", StatusCode::kInvalidArgument, ""},
           {R"({"must":[{"key":"l","geo_bounding_box":{"top_left":{"lon":0,"lat":0}}}]})",
            StatusCode::kInvalidArgument,
            "Format error in JSON body: filter.must[0].geo_bounding_box: missing field "
            "`bottom_right`"},
       }) {
    INFO(c.filter);
    Status s = ParseError(c.filter);
    CHECK(s.code() == c.code);
    if (!c.message.empty()) CHECK(s.message() == c.message);
  }
  // The field name given by the caller prefixes the paths.
  rapidjson::Document d = ParseJson(R"({"must":[{"key":"a"}]})");
  Result<Filter> f = ParseFilter(d, "update_filter");
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().message().find("[update_filter.must[0]: At least one field condition must be "
                                  "specified]") != std::string::npos);
}

TEST_CASE("Filter nesting is bounded: 64 levels parse, deeper is 400", "[unit][index]") {
  auto nested = [](int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += R"({"must":[)";
    s += R"({"key":"a","match":{"value":1}})";
    for (int i = 0; i < depth; ++i) s += "]}";
    return s;
  };
  CHECK(Matches(nested(64), R"({"a":1})"));
  CHECK_FALSE(Matches(nested(64), R"({"a":2})"));
  Status s = ParseError(nested(66));
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("nested deeper than 64") != std::string::npos);
  // Nested conditions count too.
  std::string deep;
  for (int i = 0; i < 70; ++i) deep += R"({"must":{"nested":{"key":"a","filter":)";
  deep += "{}";
  for (int i = 0; i < 70; ++i) deep += "}}}";
  CHECK(ParseError(deep).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Filter exposes top-level must conditions to planners", "[unit][index]") {
  const Filter f = Parse(
      R"({"must":[{"key":"city","match":{"any":["B","A","B"]}},{"key":"n","range":{"gte":3}},{"has_id":[1]}],"should":[{"key":"x","match":{"value":true}}]})");
  REQUIRE(f.must().size() == 3);
  const auto* city = std::get_if<FieldCondition>(&f.must()[0].body);
  REQUIRE(city != nullptr);
  CHECK(city->key.ToString() == "city");
  REQUIRE(city->match.has_value());
  CHECK(city->match->kind == MatchCondition::Kind::kAny);
  CHECK(city->match->values.size() == 2);
  CHECK(std::get<std::string>(city->match->values[0]) == "A");
  const auto* n = std::get_if<FieldCondition>(&f.must()[1].body);
  REQUIRE(n != nullptr);
  REQUIRE(n->range.has_value());
  CHECK(*n->range->gte == 3.0);
  CHECK(std::holds_alternative<HasIdCondition>(f.must()[2].body));
  CHECK(f.should().size() == 1);
  CHECK_FALSE(f.IsEmpty());
  CHECK(Parse("{}").IsEmpty());
}

}  // namespace
}  // namespace qd::index
