// order_by as REST clients send it (Qdrant's OrderByInterface): parsed into segment::OrderBy.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>

#include "qdrantd/api/rest/point_codec.h"

namespace qd::api::rest {
namespace {

TEST_CASE("order_by: the REST parser takes a key or {key, direction, start_from}",
          "[unit][api][order_by]") {
  struct Case {
    const char* json;
    bool ok;
    const char* expect;  // "key dir start" or the error text
  } cases[] = {
      {R"("price")", true, "price asc -"},
      {R"({"key":"a.b"})", true, "a.b asc -"},
      {R"({"key":"p","direction":"desc","start_from":3})", true, "p desc i3"},
      {R"({"key":"p","direction":"asc","start_from":2.5})", true, "p asc f2.500000"},
      {R"({"key":"p","start_from":"2024-01-01T00:00:00Z"})", true, "p asc i1704067200000000"},
      {R"({"key":"p","direction":null,"start_from":null})", true, "p asc -"},
      {R"({"key":"p","direction":"down"})", false,
       "Format error in JSON body: order_by.direction: unknown variant, expected `asc` or `desc`"},
      {R"({"key":"p","start_from":"yesterday"})", false,
       "Format error in JSON body: order_by.start_from: expected a number or an RFC 3339 "
       "datetime, got \"yesterday\""},
      {R"({"key":"p","start_from":true})", false, "order_by.start_from"},
      {R"({"direction":"asc"})", false, "Format error in JSON body: order_by: missing field `key`"},
      {R"(5)", false, "Format error in JSON body: order_by: expected a key or an object"},
      {R"({"key":5})", false, "Format error in JSON body: order_by.key: expected a string"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    rapidjson::Document d;
    d.Parse(c.json);
    REQUIRE_FALSE(d.HasParseError());
    Result<segment::OrderBy> o = ParseOrderBy(d, "order_by");
    REQUIRE(o.ok() == c.ok);
    if (!c.ok) {
      CHECK(o.status().message().find(c.expect) != std::string::npos);
      continue;
    }
    std::string start = "-";
    if (o->start_from) {
      start = o->start_from->is_int ? "i" + std::to_string(o->start_from->integer)
                                    : "f" + std::to_string(o->start_from->real);
    }
    CHECK(o->key + (o->descending ? " desc " : " asc ") + start == c.expect);
  }
}

}  // namespace
}  // namespace qd::api::rest
