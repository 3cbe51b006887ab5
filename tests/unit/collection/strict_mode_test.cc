// Strict mode's pieces (collection/strict_mode.h): parsing strict_mode_config, the filter checks
// (conditions, condition size, unindexed keys), limits and the rate limiter.
#include "qdrantd/collection/strict_mode.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <string>

#include "tests/support/json.h"

namespace qd::collection {
namespace {

using index::PayloadFieldType;
using qd::test::ParseJson;

StrictMode Parsed(const std::string& json) {
  rapidjson::Document d = ParseJson(json);
  Result<StrictMode> m = ParseStrictMode(d);
  INFO(m.status().message());
  REQUIRE(m.ok());
  return *m;
}

index::Filter FilterOf(const std::string& json) {
  rapidjson::Document d = ParseJson(json);
  Result<index::Filter> f = index::ParseFilter(d);
  INFO(f.status().message());
  REQUIRE(f.ok());
  return *f;
}

}  // namespace

TEST_CASE("strict_mode_config parses Qdrant's fields and refuses wrong types", "[unit][strict]") {
  StrictMode m = Parsed(R"({"enabled":true,"max_query_limit":10,"search_allow_exact":false,
      "search_max_oversampling":1.5,"unindexed_filtering_retrieve":false,"read_rate_limit":null,
      "sparse_config":{"config":{"text":{"max_length":3}}}})");
  CHECK(m.enabled);
  CHECK(m.max_query_limit == 10u);
  CHECK(m.search_allow_exact == false);
  CHECK(m.search_max_oversampling == 1.5);
  CHECK_FALSE(m.read_rate_limit.has_value());
  CHECK(m.sparse_max_length.at("text") == 3u);
  CHECK(m.RefusesUnindexed(false));
  CHECK_FALSE(m.RefusesUnindexed(true));  // unset: allowed
  CHECK_FALSE(Parsed(R"({"max_query_limit":1})").enabled);

  rapidjson::Document bad = ParseJson(R"({"max_query_limit":"ten"})");
  Result<StrictMode> r = ParseStrictMode(bad);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("strict_mode_config.max_query_limit") != std::string::npos);
  rapidjson::Document zero = ParseJson(R"({"max_query_limit":0})");
  CHECK(ParseStrictMode(zero).status().code() == StatusCode::kUnprocessable);
}

TEST_CASE("a strict mode limit refuses what exceeds it in Qdrant's words", "[unit][strict]") {
  CHECK(CheckLimit(uint64_t{10}, uint64_t{10}, "limit").ok());
  CHECK(CheckLimit(uint64_t{11}, std::nullopt, "limit").ok());
  Status s = CheckLimit(uint64_t{11}, uint64_t{10}, "limit");
  CHECK(s.code() == StatusCode::kPermissionDenied);
  CHECK(s.message() ==
        "Forbidden: Limit exceeded 11 > 10 for \"limit\". Help: Reduce the \"limit\" parameter to "
        "or below 10.");
}

TEST_CASE("strict mode filter checks count conditions, sizes and unindexed keys",
          "[unit][strict]") {
  StrictMode m = Parsed(R"({"enabled":true,"filter_max_conditions":3,"condition_max_size":2,
      "unindexed_filtering_retrieve":false})");
  IndexedFields indexed;
  indexed.fields["city"] = PayloadFieldType::kKeyword;
  indexed.fields["price"] = PayloadFieldType::kFloat;
  indexed.fields["items[].n"] = PayloadFieldType::kInteger;

  CHECK(CheckFilter(m, FilterOf(R"({"must":[{"key":"city","match":{"value":"x"}},
      {"key":"price","range":{"gt":1}}]})"),
                    indexed, false)
            .ok());
  // Conditions nested in sub-filters count too: 4 > 3.
  Status many = CheckFilter(m, FilterOf(R"({"must":[{"key":"city","match":{"value":"x"}},
      {"should":[{"has_id":[1]},{"has_id":[2]}]}]})"),
                            indexed, false);
  CHECK(many.message().find("Limit exceeded 4 > 3 for \"conditions\"") != std::string::npos);
  Status big = CheckFilter(
      m, FilterOf(R"({"must":[{"key":"city","match":{"any":["a","b","c"]}}]})"), indexed, false);
  CHECK(big.message().find("Limit exceeded 3 > 2 for \"condition size\"") != std::string::npos);

  // An index of the wrong type does not serve: a keyword index cannot answer a range.
  Status wrong =
      CheckFilter(m, FilterOf(R"({"must":[{"key":"city","range":{"gt":1}}]})"), indexed, false);
  CHECK(wrong.code() == StatusCode::kPermissionDenied);
  CHECK(wrong.message().find("Index required but not found for \"city\" of one of the following "
                             "types: [integer, float]") != std::string::npos);
  Status none = CheckFilter(
      m, FilterOf(R"({"must_not":[{"key":"color","match":{"value":"red"}}]})"), indexed, false);
  CHECK(none.message().find("\"color\"") != std::string::npos);
  // Nested conditions read key[].field.
  CHECK(CheckFilter(m, FilterOf(R"({"must":[{"nested":{"key":"items","filter":{"must":[
      {"key":"n","match":{"value":3}}]}}}]})"),
                    indexed, false)
            .ok());
  Status nested = CheckFilter(m, FilterOf(R"({"must":[{"nested":{"key":"items","filter":{"must":[
      {"key":"m","match":{"value":3}}]}}}]})"),
                              indexed, false);
  CHECK(nested.message().find("\"items[].m\"") != std::string::npos);
  // Conditions that need no index; and updates are not refused unless asked.
  CHECK(
      CheckFilter(m, FilterOf(R"({"must":[{"is_empty":{"key":"color"}}]})"), indexed, false).ok());
  CHECK(CheckFilter(m, FilterOf(R"({"must":[{"key":"color","match":{"value":"red"}}]})"), indexed,
                    true)
            .ok());
  StrictMode off = m;
  off.enabled = false;
  CHECK(CheckFilter(off, FilterOf(R"({"must":[{"key":"color","match":{"value":"red"}}]})"), indexed,
                    false)
            .ok());
}

TEST_CASE("the rate limiter gives a minute's tokens and refuses past them", "[unit][strict]") {
  RateLimiter limiter(3, "Read");
  CHECK(limiter.Take(2).ok());
  CHECK(limiter.Take(1).ok());
  Status s = limiter.Take(1);
  CHECK(s.code() == StatusCode::kResourceExhausted);
  CHECK(s.message().find("Rate limiting exceeded: Read rate limit exceeded") != std::string::npos);
  Status never = limiter.Take(4);
  CHECK(never.code() == StatusCode::kResourceExhausted);
  CHECK(never.message().find("requires 4 tokens") != std::string::npos);
}

}  // namespace qd::collection
