// Fuzzes the filter matcher and the index planner. Input: a filter, a NUL byte, then a payload
// (both JSON). Oracle: beyond "no crash", a point that matches must be among the planner's
// candidates for every index type built on every key the filter's must clause names; results
// must not depend on indexes (compat.md §4.4).
#include <rapidjson/document.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "qdrantd/index/filter.h"
#include "qdrantd/index/payload_index.h"

namespace {

using namespace qd::index;
using qd::segment::PointId;

const char* const kTypes[] = {"keyword", "integer", "float",    "geo",
                              "text",    "bool",    "datetime", "uuid"};

void CollectKeys(const Filter& filter, std::vector<JsonPath>& keys) {
  for (const std::vector<Condition>* clause : {&filter.must(), &filter.should()}) {
    for (const Condition& c : *clause) {
      if (const auto* field = std::get_if<FieldCondition>(&c.body)) keys.push_back(field->key);
      if (const auto* sub = std::get_if<std::shared_ptr<const Filter>>(&c.body)) {
        CollectKeys(**sub, keys);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  const char* nul = static_cast<const char*>(std::memchr(text, '\0', size));
  const size_t filter_size = nul ? static_cast<size_t>(nul - text) : size;
  rapidjson::Document filter_json;
  filter_json.Parse(text, filter_size);
  if (filter_json.HasParseError()) return 0;
  qd::Result<Filter> filter = ParseFilter(filter_json);
  if (!filter.ok()) return 0;

  rapidjson::Document payload;
  if (nul) payload.Parse(nul + 1, size - filter_size - 1);
  if (!nul || payload.HasParseError()) payload.SetObject();

  const PointId ids[] = {PointId::Num(0), PointId::Num(7),
                         PointId::ParseUuid("550e8400-e29b-41d4-a716-446655440000").value()};
  bool matches[3];
  for (int i = 0; i < 3; ++i) matches[i] = filter->Matches(ids[i], payload);

  // Index the payload under every key the filter names, with every index type, and check the
  // planner never loses a match (offset i holds point ids[i]).
  std::vector<JsonPath> keys;
  CollectKeys(*filter, keys);
  if (keys.size() > 4) keys.resize(4);
  for (const char* type : kTypes) {
    PayloadIndexSet set;
    rapidjson::Document schema_json;
    schema_json.SetString(rapidjson::StringRef(type));
    qd::Result<PayloadFieldSchema> schema = ParsePayloadFieldSchema(schema_json);
    if (!schema.ok()) abort();
    for (const JsonPath& key : keys) set.Create(key, *schema);
    for (uint32_t i = 0; i < 3; ++i) set.Add(i, payload);
    auto resolve = [&](const PointId& id) -> std::optional<uint32_t> {
      for (uint32_t i = 0; i < 3; ++i) {
        if (ids[i] == id) return i;
      }
      return std::nullopt;
    };
    CandidatePlan plan = set.Plan(*filter, 3, resolve);
    if (plan.candidates) {
      if (!std::is_sorted(plan.candidates->begin(), plan.candidates->end())) abort();
      for (uint32_t i = 0; i < 3; ++i) {
        const bool candidate =
            std::binary_search(plan.candidates->begin(), plan.candidates->end(), i);
        if (matches[i] && !candidate) abort();  // the index lost a match
      }
    }
    if (plan.upper_bound < static_cast<size_t>(matches[0] + matches[1] + matches[2])) abort();
    for (uint32_t i = 0; i < 3; ++i) set.Remove(i);
    for (const auto& [name, index] : set.indexes()) {
      if (index->PointsCount() != 0) abort();
    }
  }
  return 0;
}
