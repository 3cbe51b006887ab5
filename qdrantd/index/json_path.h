// JsonPath: a key path into a point's payload as Qdrant writes it (`a.b`, `a[].b`, `a[0].b`,
// `city[]`, `"quoted.key"`), and what is done with one: reading the values it reaches, selecting
// parts of a payload for `with_payload`, and the payload mutations of compat.md §4.2 (set at a
// sub-path, delete keys). Value types; thread: any. Nothing here throws.
//
// Reading follows Qdrant's JsonPath v2 (lib/segment/src/json_path): a key step reads an object
// member and does not look through arrays; `[]` projects over the elements of an array; `[N]`
// takes one element. CollectValues() returns what the path reaches, arrays included as arrays.
// Conditions that compare values (match, range, geo, text) then look one level into a terminal
// array, as Qdrant's ValueChecker::check does: FlattenValues() does that, so `{"tags": ["a","b"]}`
// matches `tags` = "a" exactly like `tags[]` does. values_count and is_empty work on the
// unflattened values (an array counts as its length; an empty array is empty).
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"

namespace qd::index {

struct JsonPathItem {
  enum class Kind { kKey, kIndex, kWildcard };
  Kind kind = Kind::kKey;
  std::string key;   // for kKey
  size_t index = 0;  // for kIndex

  friend bool operator==(const JsonPathItem&, const JsonPathItem&) = default;
};

class JsonPath {
 public:
  JsonPath() = default;
  explicit JsonPath(std::vector<JsonPathItem> items) : items_(std::move(items)) {}

  const std::vector<JsonPathItem>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  // Canonical text: keys that need it are quoted; parses back to the same path.
  std::string ToString() const;
  // This path followed by `[]` (what `nested {key}` means), unless it already ends with `[]`.
  JsonPath WithWildcard() const;

  friend bool operator==(const JsonPath&, const JsonPath&) = default;

 private:
  std::vector<JsonPathItem> items_;
};

// Parses Qdrant's key path syntax. A key is any run of characters other than `.`, `[`, `]`, `"`
// (so `123` is an object key, never an index) or a double-quoted string without quotes inside;
// each key may be followed by `[]` or `[N]` any number of times. Errors: kInvalidArgument
// "Bad JSON path: <text>" for an empty path, empty key, unterminated quote or bracket, or more
// than 256 steps (walking a path recurses once per step).
Result<JsonPath> ParseJsonPath(std::string_view text);

// Appends to `out` every value `path` reaches in `payload` (see the file comment). Pointers are
// into `payload`. Missing keys, out-of-range indexes and type mismatches contribute nothing.
void CollectValues(const rapidjson::Value& payload, const JsonPath& path,
                   std::vector<const rapidjson::Value*>& out);
// The same values as CollectValues, without collecting them: calls `fn(const Value&)` for each
// in order until it returns false. Returns false if `fn` stopped the walk. For hot paths
// (Filter::Matches), where a vector per call costs more than the match.
template <typename Fn>
bool ForEachValue(const rapidjson::Value& payload, const JsonPath& path, Fn&& fn);
// Replaces each array in `values` by its elements (one level), keeping order.
void FlattenValues(const std::vector<const rapidjson::Value*>& values,
                   std::vector<const rapidjson::Value*>& out);

// What `with_payload` asks for: everything, nothing, only some paths, or all but some paths.
class PayloadSelector {
 public:
  enum class Mode { kAll, kNone, kInclude, kExclude };

  static PayloadSelector All() { return PayloadSelector(Mode::kAll, {}); }
  static PayloadSelector None() { return PayloadSelector(Mode::kNone, {}); }
  PayloadSelector(Mode mode, std::vector<JsonPath> paths) : mode_(mode), paths_(std::move(paths)) {}

  Mode mode() const { return mode_; }
  const std::vector<JsonPath>& paths() const { return paths_; }
  // False for kNone: the answer then carries `"payload": null`, as Qdrant does.
  bool WantsPayload() const { return mode_ != Mode::kNone; }

  // Writes into `out` (made an object) the selected part of `payload` (an object). Include keeps
  // the objects and arrays on the way to each path (`a[].b` keeps `a` as an array of `{b}`; array
  // elements and members that hold none of the paths are dropped); exclude copies all and then
  // deletes the paths as DeletePayloadPath does.
  void Apply(const rapidjson::Value& payload, rapidjson::Value& out,
             rapidjson::Document::AllocatorType& allocator) const;

 private:
  Mode mode_;
  std::vector<JsonPath> paths_;
};

// Parses `with_payload`: absent (nullptr) or null -> `absent_default`; true/false; a list of
// paths (include); {"include": [...]} or {"exclude": [...]} (a single path string is accepted
// for either list). Errors: kInvalidArgument naming `field` for other JSON types or bad paths.
Result<PayloadSelector> ParsePayloadSelector(const rapidjson::Value* value, std::string_view field,
                                             bool absent_default = false);

// Payload mutations (compat.md §4.2). `payload` is a point's payload object (made one if not).
//
// Set payload: merges the top-level members of `source` (an object) into `payload`, replacing
// values of the same key wholesale (a nested object given replaces the stored one).
void SetPayload(rapidjson::Value& payload, const rapidjson::Value& source,
                rapidjson::Document::AllocatorType& allocator);
// Set payload with `key`: merges `source`'s members into the object(s) at `path`, as Qdrant's
// JsonPath::value_set does: a key step creates the member (or replaces a non-object) with an
// object; `[N]` and `[]` step into existing array elements only (missing or non-array: nothing
// is written there); at the end the target becomes an object if it was not one.
void SetPayloadAt(rapidjson::Value& payload, const JsonPath& path, const rapidjson::Value& source,
                  rapidjson::Document::AllocatorType& allocator);
// Delete payload key: removes what `path` reaches. A final key removes the member, a final
// `[N]` removes that element, a final `[]` empties the array (Qdrant's value_remove).
void DeletePayloadPath(rapidjson::Value& payload, const JsonPath& path);

namespace json_path_internal {

template <typename Fn>
bool Walk(const rapidjson::Value& value, const JsonPathItem* item, const JsonPathItem* end,
          Fn& fn) {
  if (item == end) return fn(value);
  switch (item->kind) {
    case JsonPathItem::Kind::kKey: {
      if (!value.IsObject()) return true;
      auto it = value.FindMember(rapidjson::Value(rapidjson::StringRef(
          item->key.data(), static_cast<rapidjson::SizeType>(item->key.size()))));
      return it == value.MemberEnd() || Walk(it->value, item + 1, end, fn);
    }
    case JsonPathItem::Kind::kIndex:
      if (!value.IsArray() || item->index >= value.Size()) return true;
      return Walk(value[static_cast<rapidjson::SizeType>(item->index)], item + 1, end, fn);
    case JsonPathItem::Kind::kWildcard:
      if (!value.IsArray()) return true;
      for (const rapidjson::Value& element : value.GetArray()) {
        if (!Walk(element, item + 1, end, fn)) return false;
      }
      return true;
  }
  return true;
}

}  // namespace json_path_internal

template <typename Fn>
bool ForEachValue(const rapidjson::Value& payload, const JsonPath& path, Fn&& fn) {
  if (path.empty()) return true;
  const JsonPathItem* begin = path.items().data();
  return json_path_internal::Walk(payload, begin, begin + path.items().size(), fn);
}

}  // namespace qd::index
