// Fuzzes what a request body goes through before any data is touched: arbitrary bytes parsed by
// RapidJSON as the REST layer does, then every part treated as a filter, a with_payload
// selector, a payload index field schema, a key path, and as the source and target of payload
// mutations. Any crash, sanitizer report or leak is a bug; the parsers must answer a Status.
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "qdrantd/index/filter.h"
#include "qdrantd/index/json_path.h"
#include "qdrantd/index/payload_index.h"

namespace {

using rapidjson::Value;
using namespace qd::index;

void Exercise(const Value& v, rapidjson::Document& scratch) {
  (void)ParseFilter(v);
  (void)ParsePayloadFieldSchema(v);
  qd::Result<PayloadSelector> selector = ParsePayloadSelector(&v, "with_payload");
  if (selector.ok()) {
    Value out;
    selector->Apply(scratch, out, scratch.GetAllocator());
  }
  if (v.IsString()) {
    const std::string_view text(v.GetString(), v.GetStringLength());
    (void)ParseDateTime(text);
    qd::Result<JsonPath> path = ParseJsonPath(text);
    if (path.ok()) {
      std::vector<const Value*> values;
      CollectValues(scratch, *path, values);
      std::vector<const Value*> flat;
      FlattenValues(values, flat);
      Value source(rapidjson::kObjectType);
      source.AddMember("k", 1, scratch.GetAllocator());
      SetPayloadAt(scratch, *path, source, scratch.GetAllocator());
      DeletePayloadPath(scratch, *path);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseStopWhenDoneFlag>(reinterpret_cast<const char*>(data), size);
  if (doc.HasParseError()) return 0;
  // The document is also the payload the selectors and paths work on.
  rapidjson::Document scratch;
  scratch.CopyFrom(doc, scratch.GetAllocator());
  if (!scratch.IsObject()) scratch.SetObject();
  Exercise(doc, scratch);
  if (doc.IsObject()) {
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
      Exercise(it->value, scratch);
      if (it->value.IsArray()) {
        for (const Value& element : it->value.GetArray()) Exercise(element, scratch);
      }
    }
    SetPayload(scratch, doc, scratch.GetAllocator());
  }
  return 0;
}
