#include "qdrantd/index/json_path.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/json.h"

namespace qd::index {
namespace {

using qd::test::ParseJson;

std::string Dump(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

std::string Collected(const char* payload, const char* path, bool flatten = false) {
  rapidjson::Document d = ParseJson(payload);
  Result<JsonPath> p = ParseJsonPath(path);
  REQUIRE(p.ok());
  std::vector<const rapidjson::Value*> values;
  CollectValues(d, *p, values);
  if (flatten) {
    std::vector<const rapidjson::Value*> flat;
    FlattenValues(values, flat);
    values = flat;
  }
  std::string out = "[";
  for (const rapidjson::Value* v : values) out += (out.size() > 1 ? "," : "") + Dump(*v);
  return out + "]";
}

TEST_CASE("JsonPath parses Qdrant key paths and prints them back", "[unit][index]") {
  struct Case {
    const char* text;
    size_t items;
    const char* canonical;
  };
  for (const Case& c : std::vector<Case>{
           {"a", 1, "a"},
           {"a.b", 2, "a.b"},
           {"a[].b", 3, "a[].b"},
           {"a[0].b", 3, "a[0].b"},
           {"city[]", 2, "city[]"},
           {"123", 1, "123"},
           {"a.0.b", 3, "a.0.b"},
           {"m[][1]", 3, "m[][1]"},
           {"\"a.b\".c", 2, "\"a.b\".c"},
           {"country.cities[].population", 4, "country.cities[].population"},
       }) {
    INFO(c.text);
    Result<JsonPath> p = ParseJsonPath(c.text);
    REQUIRE(p.ok());
    CHECK(p->items().size() == c.items);
    CHECK(p->ToString() == c.canonical);
    CHECK(ParseJsonPath(p->ToString()).value() == *p);
  }
  CHECK(ParseJsonPath("123").value().items()[0].kind == JsonPathItem::Kind::kKey);
  CHECK(ParseJsonPath("a[7]").value().items()[1].index == 7);
}

TEST_CASE("JsonPath rejects malformed paths with the text", "[unit][index]") {
  for (const char* bad : {"", ".", "a.", ".a", "a..b", "a[", "a[x]", "a]", "[0]", "a[0", "\"a",
                          "a[]b", "a[99999999999999999999999]"}) {
    INFO(bad);
    Result<JsonPath> p = ParseJsonPath(bad);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == StatusCode::kInvalidArgument);
    CHECK(p.status().message() == std::string("Bad JSON path: ") + bad);
  }
}

TEST_CASE("JsonPath length is bounded", "[unit][index]") {
  std::string ok = "a";
  for (int i = 1; i < 256; ++i) ok += ".a";
  CHECK(ParseJsonPath(ok).ok());
  CHECK(ParseJsonPath(ok + ".a").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("CollectValues follows keys, indexes and [] projections", "[unit][index]") {
  struct Case {
    const char* payload;
    const char* path;
    const char* raw;
    const char* flat;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"a":1})", "a", "[1]", "[1]"},
           {R"({"a":{"b":2}})", "a.b", "[2]", "[2]"},
           {R"({"a":[1,2]})", "a", "[[1,2]]", "[1,2]"},
           {R"({"a":[1,2]})", "a[]", "[1,2]", "[1,2]"},
           {R"({"a":[1,[2,3]]})", "a[]", "[1,[2,3]]", "[1,2,3]"},
           {R"({"a":[{"b":1},{"b":[2,3]},{"c":4}]})", "a[].b", "[1,[2,3]]", "[1,2,3]"},
           {R"({"a":[{"b":1},{"b":2}]})", "a[1].b", "[2]", "[2]"},
           {R"({"a":[{"b":1}]})", "a[5].b", "[]", "[]"},
           {R"({"a":[{"b":1}]})", "a.b", "[]", "[]"},  // keys do not look through arrays
           {R"({"a":{"b":1}})", "a[].b", "[]", "[]"},
           {R"({"0":"zero"})", "0", "[\"zero\"]", "[\"zero\"]"},
           {R"({"a":null})", "a", "[null]", "[null]"},
           {R"({"a":[]})", "a", "[[]]", "[]"},
           {R"({})", "a", "[]", "[]"},
           {R"({"a.b":1,"a":{"b":2}})", "\"a.b\"", "[1]", "[1]"},
       }) {
    INFO(c.payload << " " << c.path);
    CHECK(Collected(c.payload, c.path) == c.raw);
    CHECK(Collected(c.payload, c.path, /*flatten=*/true) == c.flat);
  }
}

std::string Selected(const char* selector_json, const char* payload) {
  rapidjson::Document selector = ParseJson(selector_json);
  Result<PayloadSelector> s = ParsePayloadSelector(&selector, "with_payload");
  REQUIRE(s.ok());
  rapidjson::Document p = ParseJson(payload);
  rapidjson::Document out;
  s->Apply(p, out, out.GetAllocator());
  return Dump(out);
}

TEST_CASE("PayloadSelector includes and excludes paths", "[unit][index]") {
  const char* payload =
      R"({"city":"Berlin","n":1,"country":{"name":"DE","cities":[{"name":"B","pop":3},{"pop":1},{"name":"M"}]},"tags":["a","b"]})";
  struct Case {
    const char* selector;
    const char* expected;
  };
  for (
      const Case& c : std::vector<Case>{
          {"true", payload},
          {"false", "{}"},
          {"null", "{}"},
          {R"(["city"])", R"({"city":"Berlin"})"},
          {R"(["n","city"])", R"({"city":"Berlin","n":1})"},
          {R"(["missing"])", "{}"},
          {R"({"include":["country.name"]})", R"({"country":{"name":"DE"}})"},
          {R"({"include":["country.cities[].name"]})",
           R"({"country":{"cities":[{"name":"B"},{"name":"M"}]}})"},
          {R"({"include":["country.cities[1]"]})", R"({"country":{"cities":[{"pop":1}]}})"},
          {R"({"include":["tags"]})", R"({"tags":["a","b"]})"},
          {R"({"exclude":["country","tags"]})", R"({"city":"Berlin","n":1})"},
          {R"({"exclude":["country.cities[].name"]})",
           R"({"city":"Berlin","n":1,"country":{"name":"DE","cities":[{"pop":3},{"pop":1},{}]},"tags":["a","b"]})"},
          {R"({"exclude":"city"})",
           R"({"n":1,"country":{"name":"DE","cities":[{"name":"B","pop":3},{"pop":1},{"name":"M"}]},"tags":["a","b"]})"},
      }) {
    INFO(c.selector);
    CHECK(Selected(c.selector, payload) == c.expected);
  }
  CHECK(ParsePayloadSelector(nullptr, "with_payload", true).value().mode() ==
        PayloadSelector::Mode::kAll);
  CHECK_FALSE(ParsePayloadSelector(nullptr, "with_payload").value().WantsPayload());
}

TEST_CASE("PayloadSelector rejects wrong JSON types naming the field", "[unit][index]") {
  for (const char* bad : {"1", "\"city\"", R"([1])", R"({"include":5})", R"({})", R"(["a["])"}) {
    INFO(bad);
    rapidjson::Document d = ParseJson(bad);
    Result<PayloadSelector> s = ParsePayloadSelector(&d, "with_payload");
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == StatusCode::kInvalidArgument);
    CHECK(s.status().message().find("with_payload") != std::string::npos);
  }
}

TEST_CASE("SetPayload merges top-level keys and replaces nested objects", "[unit][index]") {
  rapidjson::Document p = ParseJson(R"({"a":1,"n":{"x":1,"y":2}})");
  rapidjson::Document src = ParseJson(R"({"b":2,"n":{"z":3}})");
  SetPayload(p, src, p.GetAllocator());
  CHECK(Dump(p) == R"({"a":1,"n":{"z":3},"b":2})");
}

TEST_CASE("SetPayloadAt merges at a sub-path as Qdrant does", "[unit][index]") {
  struct Case {
    const char* payload;
    const char* key;
    const char* source;
    const char* expected;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"n":{"x":1}})", "n", R"({"y":2})", R"({"n":{"x":1,"y":2}})"},
           {R"({})", "n", R"({"y":2})", R"({"n":{"y":2}})"},
           {R"({"n":5})", "n.m", R"({"y":2})", R"({"n":{"m":{"y":2}}})"},
           {R"({"a":[{"b":{"c":1}},{"b":2}]})", "a[0].b", R"({"d":3})",
            R"({"a":[{"b":{"c":1,"d":3}},{"b":2}]})"},
           {R"({"a":[{"b":{"c":1}},{}]})", "a[].b", R"({"d":3})",
            R"({"a":[{"b":{"c":1,"d":3}},{"b":{"d":3}}]})"},
           {R"({"a":[1]})", "a[3].b", R"({"d":3})", R"({"a":[1]})"},
           {R"({"a":{"b":1}})", "a[].b", R"({"d":3})", R"({"a":{"b":1}})"},
       }) {
    INFO(c.payload << " " << c.key);
    rapidjson::Document p = ParseJson(c.payload);
    rapidjson::Document src = ParseJson(c.source);
    SetPayloadAt(p, ParseJsonPath(c.key).value(), src, p.GetAllocator());
    CHECK(Dump(p) == c.expected);
  }
}

TEST_CASE("DeletePayloadPath removes members, elements and array contents", "[unit][index]") {
  struct Case {
    const char* payload;
    const char* key;
    const char* expected;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"a":1,"b":2})", "a", R"({"b":2})"},
           {R"({"a":{"b":1,"c":2}})", "a.b", R"({"a":{"c":2}})"},
           {R"({"a":[{"b":1,"c":2},{"b":3}]})", "a[].b", R"({"a":[{"c":2},{}]})"},
           {R"({"a":[1,2,3]})", "a[1]", R"({"a":[1,3]})"},
           {R"({"a":[1,2,3]})", "a[]", R"({"a":[]})"},
           {R"({"a":[1,2,3]})", "a[9]", R"({"a":[1,2,3]})"},
           {R"({"a":1})", "x.y", R"({"a":1})"},
       }) {
    INFO(c.payload << " " << c.key);
    rapidjson::Document p = ParseJson(c.payload);
    DeletePayloadPath(p, ParseJsonPath(c.key).value());
    CHECK(Dump(p) == c.expected);
  }
}

}  // namespace
}  // namespace qd::index
