#include "qdrantd/index/payload_index.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "tests/support/json.h"

namespace qd::index {
namespace {

using qd::test::ParseJson;
using segment::PointId;

Filter ParseF(const std::string& text) {
  rapidjson::Document d = ParseJson(text);
  Result<Filter> f = ParseFilter(d);
  INFO(text);
  REQUIRE(f.ok());
  return std::move(*f);
}

PayloadFieldSchema Schema(const std::string& json) {
  rapidjson::Document d = ParseJson(json);
  Result<PayloadFieldSchema> s = ParsePayloadFieldSchema(d);
  INFO(json);
  REQUIRE(s.ok());
  return *s;
}

TEST_CASE("Field schema: type names and params objects, echoed exactly", "[unit][index]") {
  struct Case {
    const char* json;
    PayloadFieldType type;
    const char* params;  // nullptr: no params echoed
  };
  for (
      const Case& c : std::vector<Case>{
          {R"("keyword")", PayloadFieldType::kKeyword, nullptr},
          {R"("integer")", PayloadFieldType::kInteger, nullptr},
          {R"("float")", PayloadFieldType::kFloat, nullptr},
          {R"("geo")", PayloadFieldType::kGeo, nullptr},
          {R"("text")", PayloadFieldType::kText, nullptr},
          {R"("bool")", PayloadFieldType::kBool, nullptr},
          {R"("datetime")", PayloadFieldType::kDatetime, nullptr},
          {R"("uuid")", PayloadFieldType::kUuid, nullptr},
          {R"({"type":"keyword","is_tenant":true, "on_disk":null})", PayloadFieldType::kKeyword,
           R"({"type":"keyword","is_tenant":true,"on_disk":null})"},
          {R"({"type":"integer","lookup":false,"range":true,"is_principal":true})",
           PayloadFieldType::kInteger,
           R"({"type":"integer","lookup":false,"range":true,"is_principal":true})"},
          {R"({"type":"text","tokenizer":"prefix","lowercase":false,"min_token_len":2,"max_token_len":10,"extra":[1]})",
           PayloadFieldType::kText,
           R"({"type":"text","tokenizer":"prefix","lowercase":false,"min_token_len":2,"max_token_len":10,"extra":[1]})"},
      }) {
    INFO(c.json);
    PayloadFieldSchema s = Schema(c.json);
    CHECK(s.type == c.type);
    if (c.params == nullptr) {
      CHECK_FALSE(s.params_json.has_value());
    } else {
      CHECK(s.params_json == std::string(c.params));
    }
  }
  PayloadFieldSchema text = Schema(
      R"({"type":"text","tokenizer":"prefix","lowercase":false,"min_token_len":2,"max_token_len":10})");
  CHECK(text.tokenizer == Tokenizer::kPrefix);
  CHECK_FALSE(text.lowercase);
  CHECK(text.min_token_len == 2u);
  CHECK(PayloadFieldTypeName(PayloadFieldType::kDatetime) == "datetime");
  // ToJson gives back what was sent, for persisting the schema.
  CHECK(Schema(R"("uuid")").ToJson() == R"("uuid")");
  CHECK(Schema(text.ToJson()).tokenizer == Tokenizer::kPrefix);
  CHECK(Schema(text.ToJson()).params_json == text.params_json);
}

TEST_CASE("payload_schema entries carry params only when sent as an object", "[unit][index]") {
  rapidjson::Document out;
  PayloadFieldIndex plain(ParseJsonPath("a").value(), Schema(R"("integer")"));
  plain.Add(0, ParseJson(R"({"a":[1,2]})"));
  plain.WriteSchemaInfo(out, out.GetAllocator());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  out.Accept(writer);
  CHECK(std::string(buffer.GetString()) == R"({"data_type":"integer","points":1})");
  PayloadFieldIndex with_params(ParseJsonPath("a").value(),
                                Schema(R"({"type":"integer","range":false,"x":null})"));
  with_params.WriteSchemaInfo(out, out.GetAllocator());
  buffer.Clear();
  writer.Reset(buffer);
  out.Accept(writer);
  CHECK(std::string(buffer.GetString()) ==
        R"({"data_type":"integer","params":{"type":"integer","range":false,"x":null},"points":0})");
}

TEST_CASE(
    "Field schema errors: 400 for bad types and names, 422 for integer without lookup and "
    "range",
    "[unit][index]") {
  struct Case {
    const char* json;
    StatusCode code;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"type":"integer","lookup":false,"range":false})", StatusCode::kUnprocessable,
            "Validation error: the 'lookup' and 'range' capabilities can't be both disabled"},
           {R"("strings")", StatusCode::kInvalidArgument,
            "Format error in JSON body: field_schema: unknown variant `strings`, expected one of "
            "`keyword`, `integer`, `float`, `geo`, `text`, `bool`, `datetime`, `uuid`"},
           {R"(5)", StatusCode::kInvalidArgument,
            "Format error in JSON body: field_schema: expected a payload field type name or a "
            "params object"},
           {R"({"is_tenant":true})", StatusCode::kInvalidArgument,
            "Format error in JSON body: field_schema: missing field `type`"},
           {R"({"type":"keyword","is_tenant":"yes"})", StatusCode::kInvalidArgument,
            "Format error in JSON body: field_schema.is_tenant: expected a boolean"},
           {R"({"type":"text","tokenizer":"ngram"})", StatusCode::kInvalidArgument, nullptr},
           {R"({"type":"text","min_token_len":-1})", StatusCode::kInvalidArgument, nullptr},
       }) {
    INFO(c.json);
    rapidjson::Document d = ParseJson(c.json);
    Result<PayloadFieldSchema> s = ParsePayloadFieldSchema(d);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == c.code);
    if (c.message != nullptr) CHECK(s.status().message() == c.message);
  }
  // Either capability alone is fine.
  CHECK(Schema(R"({"type":"integer","lookup":false})").range);
}

TEST_CASE("Tokenize follows the tokenizer, lowercase and token length bounds", "[unit][index]") {
  CHECK(Tokenize("Hello, World-wide web!", Schema(R"("text")")) ==
        std::vector<std::string>{"hello", "world", "wide", "web"});
  CHECK(Tokenize("Hello, World-wide", Schema(R"({"type":"text","tokenizer":"whitespace"})")) ==
        std::vector<std::string>{"hello,", "world-wide"});
  CHECK(
      Tokenize("ab abc abcdef", Schema(R"({"type":"text","min_token_len":3,"max_token_len":4})")) ==
      std::vector<std::string>{"abc"});
  CHECK(Tokenize("Fox", Schema(R"({"type":"text","tokenizer":"prefix","lowercase":false})")) ==
        std::vector<std::string>{"F", "Fo", "Fox"});
}

TEST_CASE("A field index counts points, replaces on Add and forgets on Remove", "[unit][index]") {
  PayloadFieldIndex index(ParseJsonPath("city").value(), Schema(R"("keyword")"));
  index.Add(1, ParseJson(R"({"city":"Berlin"})"));
  index.Add(2, ParseJson(R"({"city":["Berlin","Paris"]})"));
  index.Add(3, ParseJson(R"({"city":5})"));  // not a keyword: not indexed
  index.Add(4, ParseJson(R"({})"));
  CHECK(index.PointsCount() == 2);
  const Filter berlin = ParseF(R"({"must":{"key":"city","match":{"value":"Berlin"}}})");
  const auto& condition = std::get<FieldCondition>(berlin.must()[0].body);
  CHECK(index.Candidates(condition) == std::vector<uint32_t>{1, 2});
  index.Add(1, ParseJson(R"({"city":"Rome"})"));
  CHECK(index.Candidates(condition) == std::vector<uint32_t>{2});
  index.Remove(2);
  index.Remove(99);
  CHECK(index.Candidates(condition) == std::vector<uint32_t>{});
  CHECK(index.PointsCount() == 1);
  // Conditions on other keys or of other kinds are not answered.
  const Filter other = ParseF(R"({"must":[{"key":"town","match":{"value":"x"}},
      {"key":"city","match":{"except":["x"]}},{"key":"city","match":{"value":1}},
      {"is_empty":{"key":"city"}},{"key":"city","match":{"text":"Ro"}}]})");
  for (const Condition& c : other.must()) {
    CHECK_FALSE(index.Candidates(std::get<FieldCondition>(c.body)).has_value());
  }
}

TEST_CASE("Numeric, datetime, bool and geo indexes answer their conditions", "[unit][index]") {
  PayloadIndexSet set;
  set.Create(ParseJsonPath("n").value(), Schema(R"("integer")"));
  set.Create(ParseJsonPath("d").value(), Schema(R"("datetime")"));
  set.Create(ParseJsonPath("b").value(), Schema(R"("bool")"));
  set.Create(ParseJsonPath("g").value(), Schema(R"("geo")"));
  set.Add(0, ParseJson(R"({"n":1,"d":"2020-01-01T00:00:00Z","b":true,"g":{"lon":13.4,"lat":52.5}})"));
  set.Add(1, ParseJson(R"({"n":2.5,"d":"2021-01-01","b":false,"g":{"lon":2.35,"lat":48.85}})"));
  set.Add(2, ParseJson(R"({"n":[3,10],"d":["x","2022-06-01T12:00"],"b":[true,false]})"));
  set.Add(3, ParseJson(R"({})"));
  CHECK(set.Find(ParseJsonPath("n").value())->PointsCount() == 3);
  CHECK(set.Find(ParseJsonPath("g").value())->PointsCount() == 2);
  struct Case {
    std::string filter;
    std::optional<std::vector<uint32_t>> candidates;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"must":{"key":"n","range":{"gte":2}}})", std::vector<uint32_t>{1, 2}},
           {R"({"must":{"key":"n","range":{"gt":2.5,"lt":5}}})", std::vector<uint32_t>{2}},
           {R"({"must":{"key":"n","match":{"value":10}}})", std::vector<uint32_t>{2}},
           {R"({"must":{"key":"n","match":{"any":[1,3]}}})", std::vector<uint32_t>{0, 2}},
           {R"({"must":{"key":"d","range":{"gte":"2020-06-01"}}})", std::vector<uint32_t>{1, 2}},
           {R"({"must":{"key":"d","range":{"gte":5}}})", std::nullopt},
           {R"({"must":{"key":"n","range":{"gte":"2020-06-01"}}})", std::nullopt},
           {R"({"must":{"key":"b","match":{"value":false}}})", std::vector<uint32_t>{1, 2}},
           {R"({"must":{"key":"g","geo_radius":{"center":{"lon":13.4,"lat":52.5},"radius":1000}}})",
            std::vector<uint32_t>{0}},
           // Intersections of must, and unions for should.
           {R"({"must":[{"key":"n","range":{"gte":2}},{"key":"b","match":{"value":true}}]})",
            std::vector<uint32_t>{2}},
           {R"({"should":[{"key":"n","match":{"value":1}},{"key":"b","match":{"value":false}}]})",
            std::vector<uint32_t>{0, 1, 2}},
           {R"({"should":[{"key":"n","match":{"value":1}},{"key":"zz","match":{"value":false}}]})",
            std::nullopt},
           {R"({"must":[{"must":[{"key":"n","match":{"value":1}}]}]})", std::vector<uint32_t>{0}},
           {R"({"must_not":[{"key":"n","match":{"value":1}}]})", std::nullopt},
       }) {
    INFO(c.filter);
    CandidatePlan plan = set.Plan(ParseF(c.filter), 4);
    CHECK(plan.candidates == c.candidates);
    CHECK(plan.upper_bound == (c.candidates ? c.candidates->size() : 4));
  }
  // has_id narrows through the caller's id -> offset map.
  auto resolve = [](const PointId& id) -> std::optional<uint32_t> {
    if (!id.is_uuid && id.num < 4) return static_cast<uint32_t>(id.num);
    return std::nullopt;
  };
  CandidatePlan plan = set.Plan(ParseF(R"({"must":{"has_id":[3,1,77]}})"), 4, resolve);
  CHECK(plan.candidates == std::vector<uint32_t>{1, 3});
  CHECK(set.Drop(ParseJsonPath("n").value()));
  CHECK_FALSE(set.Drop(ParseJsonPath("n").value()));
  CHECK_FALSE(set.Plan(ParseF(R"({"must":{"key":"n","range":{"gte":2}}})"), 4).candidates);
}

// Random payloads and filters: the planner's candidates, re-checked with Matches, give exactly
// what a full scan gives, and always include every match.
std::string RandomValue(std::mt19937& rng, int kind) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* words[] = {"\"a\"", "\"b\"", "\"c\"", "\"A\""};
  const char* dates[] = {"\"2020-01-01\"", "\"2020-06-01T12:30\"", "\"2021-01-01T00:00:00Z\"",
                         "\"2019-12-31T23:00:00-02:00\"", "\"not a date\""};
  switch (kind) {
    case 0:
      return words[pick(4)];
    case 1:
      return std::to_string(pick(7) - 2);
    case 2:
      return std::to_string(pick(7) - 2) + ".5";
    case 3:
      return pick(2) ? "true" : "false";
    case 4:
      return dates[pick(5)];
    case 5:
      return "{\"lon\":" + std::to_string(pick(20) - 10) +
             ",\"lat\":" + std::to_string(pick(20) - 10) + "}";
    default:
      return "null";
  }
}

std::string RandomField(std::mt19937& rng) {
  const int shape = static_cast<int>(rng() % 6);
  if (shape == 0) return "";  // missing
  auto value = [&] { return RandomValue(rng, static_cast<int>(rng() % 7)); };
  if (shape <= 2) return value();
  std::string array = "[";
  const int n = static_cast<int>(rng() % 4);
  for (int i = 0; i < n; ++i) array += (i ? "," : "") + value();
  return array + "]";
}

std::string RandomPayload(std::mt19937& rng) {
  std::string out = "{";
  bool first = true;
  for (const char* key : {"k", "n", "b", "d", "g"}) {
    std::string v = RandomField(rng);
    if (v.empty()) continue;
    out += std::string(first ? "" : ",") + "\"" + key + "\":" + v;
    first = false;
  }
  std::string nested = RandomField(rng);
  if (!nested.empty()) out += std::string(first ? "" : ",") + "\"o\":{\"x\":" + nested + "}";
  return out + "}";
}

std::string RandomCondition(std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* keys[] = {"k", "n", "b", "d", "g", "o.x"};
  const std::string key = std::string("\"key\":\"") + keys[pick(6)] + "\"";
  switch (pick(10)) {
    case 0:
      return "{" + key + ",\"match\":{\"value\":" + RandomValue(rng, pick(2) ? 0 : 1) + "}}";
    case 1:
      return "{" + key + ",\"match\":{\"value\":" + RandomValue(rng, 3) + "}}";
    case 2:
      return "{" + key + ",\"match\":{\"any\":[" + RandomValue(rng, 0) + "," + RandomValue(rng, 0) +
             "]}}";
    case 3:
      return "{" + key + ",\"match\":{\"any\":[" + RandomValue(rng, 1) + "]}}";
    case 4:
      return "{" + key + ",\"range\":{\"gte\":" + RandomValue(rng, 1) +
             ",\"lt\":" + RandomValue(rng, 2) + "}}";
    case 5:
      return "{" + key + ",\"range\":{\"gt\":\"2020-01-01T06:00\"}}";
    case 6:
      return "{" + key + ",\"geo_radius\":{\"center\":" + RandomValue(rng, 5) +
             ",\"radius\":500000}}";
    case 7:
      return "{" + key + ",\"match\":{\"except\":[" + RandomValue(rng, 0) + "]}}";
    case 8:
      return "{\"is_empty\":{" + key + "}}";
    default:
      return "{" + key + ",\"values_count\":{\"gte\":2}}";
  }
}

std::string RandomFilter(std::mt19937& rng) {
  auto list = [&](int max) {
    std::string s = "[";
    const int n = static_cast<int>(rng() % static_cast<unsigned>(max + 1));
    for (int i = 0; i < n; ++i) s += (i ? "," : "") + RandomCondition(rng);
    return s + "]";
  };
  std::string f = "{\"must\":" + list(3);
  if (rng() % 2) f += ",\"should\":" + list(2);
  if (rng() % 3 == 0) f += ",\"must_not\":" + list(1);
  if (rng() % 4 == 0) f += ",\"must\":[{\"must\":" + list(2) + "}]";
  return f + "}";
}

TEST_CASE("Results are identical with and without payload indexes on random data",
          "[unit][index]") {
  std::mt19937 rng(20261127);
  constexpr uint32_t kPoints = 300;
  std::vector<rapidjson::Document> payloads(kPoints);
  PayloadIndexSet set;
  set.Create(ParseJsonPath("k").value(), Schema(R"("keyword")"));
  set.Create(ParseJsonPath("n").value(), Schema(R"({"type":"integer","lookup":true})"));
  set.Create(ParseJsonPath("b").value(), Schema(R"("bool")"));
  set.Create(ParseJsonPath("d").value(), Schema(R"("datetime")"));
  set.Create(ParseJsonPath("g").value(), Schema(R"("geo")"));
  set.Create(ParseJsonPath("o.x").value(), Schema(R"("float")"));
  for (uint32_t i = 0; i < kPoints; ++i) {
    payloads[i].Parse(RandomPayload(rng).c_str());
    REQUIRE_FALSE(payloads[i].HasParseError());
    set.Add(i, payloads[i]);
  }
  int answered = 0;
  int nonempty = 0;
  for (int round = 0; round < 400; ++round) {
    // Change some payloads between rounds, as updates do.
    for (int k = 0; k < 5; ++k) {
      const uint32_t i = rng() % kPoints;
      payloads[i].Parse(RandomPayload(rng).c_str());
      set.Remove(i);
      set.Add(i, payloads[i]);
    }
    const std::string text = RandomFilter(rng);
    INFO(text);
    const Filter filter = ParseF(text);
    std::vector<uint32_t> scan;
    for (uint32_t i = 0; i < kPoints; ++i) {
      if (filter.Matches(PointId::Num(i), payloads[i])) scan.push_back(i);
    }
    const CandidatePlan plan = set.Plan(filter, kPoints);
    CHECK(plan.upper_bound >= scan.size());
    std::vector<uint32_t> planned;
    if (plan.candidates) {
      ++answered;
      CHECK(std::is_sorted(plan.candidates->begin(), plan.candidates->end()));
      for (uint32_t i : *plan.candidates) {
        if (filter.Matches(PointId::Num(i), payloads[i])) planned.push_back(i);
      }
    } else {
      planned = scan;
    }
    CHECK(planned == scan);
    if (!scan.empty()) ++nonempty;
  }
  // The test must exercise the planner, on filters that match something.
  CHECK(answered > 60);
  CHECK(nonempty > 50);
}

}  // namespace
}  // namespace qd::index
