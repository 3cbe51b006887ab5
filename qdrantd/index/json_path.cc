#include "qdrantd/index/json_path.h"

#include <span>

namespace qd::index {
namespace {

using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// Longer paths are rejected: the code walking a path recurses once per step.
constexpr size_t kMaxPathItems = 256;

bool IsKeyChar(char c) { return c != '.' && c != '[' && c != ']' && c != '"'; }

bool KeyNeedsQuoting(const std::string& key) {
  if (key.empty()) return true;
  for (char c : key) {
    if (!IsKeyChar(c)) return true;
  }
  return false;
}

Status BadPath(std::string_view text) {
  return Status::InvalidArgument("Bad JSON path: " + std::string(text));
}

void Collect(const Value& value, std::span<const JsonPathItem> path,
             std::vector<const Value*>& out) {
  if (path.empty()) {
    out.push_back(&value);
    return;
  }
  const JsonPathItem& head = path.front();
  switch (head.kind) {
    case JsonPathItem::Kind::kKey: {
      if (!value.IsObject()) return;
      auto it = value.FindMember(Value(rapidjson::StringRef(head.key.data(), head.key.size())));
      if (it != value.MemberEnd()) Collect(it->value, path.subspan(1), out);
      return;
    }
    case JsonPathItem::Kind::kIndex:
      if (value.IsArray() && head.index < value.Size()) {
        Collect(value[static_cast<rapidjson::SizeType>(head.index)], path.subspan(1), out);
      }
      return;
    case JsonPathItem::Kind::kWildcard:
      if (!value.IsArray()) return;
      for (const Value& element : value.GetArray()) Collect(element, path.subspan(1), out);
      return;
  }
}

Value::MemberIterator FindKey(Value& object, const std::string& key) {
  return object.FindMember(Value(rapidjson::StringRef(key.data(), key.size())));
}

// Include selection: `paths` are the remainders of the include paths that reached `value`.
// Returns false when nothing of `value` is selected.
bool Select(const Value& value, const std::vector<std::span<const JsonPathItem>>& paths, Value& out,
            Allocator& allocator) {
  for (const auto& path : paths) {
    if (path.empty()) {
      out.CopyFrom(value, allocator);
      return true;
    }
  }
  if (value.IsObject()) {
    bool any = false;
    for (auto it = value.MemberBegin(); it != value.MemberEnd(); ++it) {
      std::string_view name(it->name.GetString(), it->name.GetStringLength());
      std::vector<std::span<const JsonPathItem>> rest;
      for (const auto& path : paths) {
        if (path.front().kind == JsonPathItem::Kind::kKey && path.front().key == name) {
          rest.push_back(path.subspan(1));
        }
      }
      if (rest.empty()) continue;
      Value child;
      if (!Select(it->value, rest, child, allocator)) continue;
      if (!any) out.SetObject();
      any = true;
      out.AddMember(Value(it->name, allocator), child, allocator);
    }
    return any;
  }
  if (value.IsArray()) {
    bool any = false;
    for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
      std::vector<std::span<const JsonPathItem>> rest;
      for (const auto& path : paths) {
        const JsonPathItem& head = path.front();
        if (head.kind == JsonPathItem::Kind::kWildcard ||
            (head.kind == JsonPathItem::Kind::kIndex && head.index == i)) {
          rest.push_back(path.subspan(1));
        }
      }
      if (rest.empty()) continue;
      Value child;
      if (!Select(value[i], rest, child, allocator)) continue;
      if (!any) out.SetArray();
      any = true;
      out.PushBack(child, allocator);
    }
    return any;
  }
  return false;
}

void MergeInto(Value& target, const Value& source, Allocator& allocator) {
  if (!target.IsObject()) target.SetObject();
  if (!source.IsObject()) return;
  for (auto it = source.MemberBegin(); it != source.MemberEnd(); ++it) {
    auto existing = target.FindMember(it->name);
    if (existing != target.MemberEnd()) {
      existing->value.CopyFrom(it->value, allocator);
    } else {
      target.AddMember(Value(it->name, allocator), Value(it->value, allocator), allocator);
    }
  }
}

void SetAt(Value& value, std::span<const JsonPathItem> path, const Value& source,
           Allocator& allocator) {
  if (path.empty()) {
    MergeInto(value, source, allocator);
    return;
  }
  const JsonPathItem& head = path.front();
  switch (head.kind) {
    case JsonPathItem::Kind::kKey: {
      if (!value.IsObject()) value.SetObject();
      auto it = FindKey(value, head.key);
      if (it == value.MemberEnd()) {
        value.AddMember(
            Value(head.key.data(), static_cast<rapidjson::SizeType>(head.key.size()), allocator),
            Value(rapidjson::kObjectType), allocator);
        it = FindKey(value, head.key);
      }
      SetAt(it->value, path.subspan(1), source, allocator);
      return;
    }
    case JsonPathItem::Kind::kIndex:
      if (value.IsArray() && head.index < value.Size()) {
        SetAt(value[static_cast<rapidjson::SizeType>(head.index)], path.subspan(1), source,
              allocator);
      }
      return;
    case JsonPathItem::Kind::kWildcard:
      if (!value.IsArray()) return;
      for (Value& element : value.GetArray()) SetAt(element, path.subspan(1), source, allocator);
      return;
  }
}

void DeleteAt(Value& value, std::span<const JsonPathItem> path) {
  if (path.empty()) return;
  const JsonPathItem& head = path.front();
  const bool last = path.size() == 1;
  switch (head.kind) {
    case JsonPathItem::Kind::kKey: {
      if (!value.IsObject()) return;
      auto it = FindKey(value, head.key);
      if (it == value.MemberEnd()) return;
      if (last) {
        value.EraseMember(it);  // keeps the order of the other members
      } else {
        DeleteAt(it->value, path.subspan(1));
      }
      return;
    }
    case JsonPathItem::Kind::kIndex:
      if (!value.IsArray() || head.index >= value.Size()) return;
      if (last) {
        value.Erase(value.Begin() + head.index);
      } else {
        DeleteAt(value[static_cast<rapidjson::SizeType>(head.index)], path.subspan(1));
      }
      return;
    case JsonPathItem::Kind::kWildcard:
      if (!value.IsArray()) return;
      if (last) {
        value.Clear();
      } else {
        for (Value& element : value.GetArray()) DeleteAt(element, path.subspan(1));
      }
      return;
  }
}

Result<std::vector<JsonPath>> ParsePathList(const Value& value, const std::string& field) {
  std::vector<JsonPath> paths;
  auto add = [&](const Value& item, const std::string& where) -> Status {
    if (!item.IsString()) {
      return Status::InvalidArgument("Format error in JSON body: " + where +
                                     ": expected a string (a payload key)");
    }
    Result<JsonPath> path =
        ParseJsonPath(std::string_view(item.GetString(), item.GetStringLength()));
    if (!path.ok()) return path.status().WithContext(where);
    paths.push_back(std::move(*path));
    return Status::Ok();
  };
  if (value.IsString()) {
    Status s = add(value, field);
    if (!s.ok()) return s;
    return paths;
  }
  if (!value.IsArray()) {
    return Status::InvalidArgument("Format error in JSON body: " + field +
                                   ": expected a list of payload keys");
  }
  for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
    Status s = add(value[i], field + "[" + std::to_string(i) + "]");
    if (!s.ok()) return s;
  }
  return paths;
}

}  // namespace

std::string JsonPath::ToString() const {
  std::string out;
  for (const JsonPathItem& item : items_) {
    switch (item.kind) {
      case JsonPathItem::Kind::kKey:
        if (!out.empty()) out += '.';
        if (KeyNeedsQuoting(item.key)) {
          out += '"' + item.key + '"';
        } else {
          out += item.key;
        }
        break;
      case JsonPathItem::Kind::kIndex:
        out += "[" + std::to_string(item.index) + "]";
        break;
      case JsonPathItem::Kind::kWildcard:
        out += "[]";
        break;
    }
  }
  return out;
}

JsonPath JsonPath::WithWildcard() const {
  std::vector<JsonPathItem> items = items_;
  if (items.empty() || items.back().kind != JsonPathItem::Kind::kWildcard) {
    items.push_back(JsonPathItem{JsonPathItem::Kind::kWildcard, {}, 0});
  }
  return JsonPath(std::move(items));
}

Result<JsonPath> ParseJsonPath(std::string_view text) {
  std::vector<JsonPathItem> items;
  size_t i = 0;
  const size_t n = text.size();
  if (n == 0) return BadPath(text);
  while (true) {
    // A key: quoted or raw.
    std::string key;
    if (i < n && text[i] == '"') {
      size_t close = text.find('"', i + 1);
      if (close == std::string_view::npos) return BadPath(text);
      key = std::string(text.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      size_t start = i;
      while (i < n && IsKeyChar(text[i])) ++i;
      key = std::string(text.substr(start, i - start));
      if (key.empty()) return BadPath(text);
    }
    items.push_back(JsonPathItem{JsonPathItem::Kind::kKey, std::move(key), 0});
    // Any number of [] or [N].
    while (i < n && text[i] == '[') {
      ++i;
      if (i < n && text[i] == ']') {
        items.push_back(JsonPathItem{JsonPathItem::Kind::kWildcard, {}, 0});
        ++i;
        continue;
      }
      size_t start = i;
      size_t index = 0;
      while (i < n && text[i] >= '0' && text[i] <= '9') {
        if (index > (SIZE_MAX - 9) / 10) return BadPath(text);
        index = index * 10 + static_cast<size_t>(text[i] - '0');
        ++i;
      }
      if (i == start || i >= n || text[i] != ']') return BadPath(text);
      ++i;
      items.push_back(JsonPathItem{JsonPathItem::Kind::kIndex, {}, index});
    }
    if (items.size() > kMaxPathItems) return BadPath(text);
    if (i == n) break;
    if (text[i] != '.') return BadPath(text);
    ++i;
    if (i == n) return BadPath(text);
  }
  return JsonPath(std::move(items));
}

void CollectValues(const rapidjson::Value& payload, const JsonPath& path,
                   std::vector<const rapidjson::Value*>& out) {
  if (path.empty()) return;
  Collect(payload, path.items(), out);
}

void FlattenValues(const std::vector<const rapidjson::Value*>& values,
                   std::vector<const rapidjson::Value*>& out) {
  for (const Value* value : values) {
    if (value->IsArray()) {
      for (const Value& element : value->GetArray()) out.push_back(&element);
    } else {
      out.push_back(value);
    }
  }
}

void PayloadSelector::Apply(const rapidjson::Value& payload, rapidjson::Value& out,
                            rapidjson::Document::AllocatorType& allocator) const {
  switch (mode_) {
    case Mode::kAll:
      out.CopyFrom(payload, allocator);
      if (!out.IsObject()) out.SetObject();
      return;
    case Mode::kNone:
      out.SetObject();
      return;
    case Mode::kInclude: {
      std::vector<std::span<const JsonPathItem>> paths;
      for (const JsonPath& path : paths_) {
        if (!path.empty()) paths.emplace_back(path.items());
      }
      out.SetObject();
      if (!paths.empty() && payload.IsObject()) {
        Value selected;
        if (Select(payload, paths, selected, allocator)) out.Swap(selected);
      }
      return;
    }
    case Mode::kExclude:
      out.CopyFrom(payload, allocator);
      if (!out.IsObject()) out.SetObject();
      for (const JsonPath& path : paths_) DeletePayloadPath(out, path);
      return;
  }
}

Result<PayloadSelector> ParsePayloadSelector(const rapidjson::Value* value, std::string_view field,
                                             bool absent_default) {
  const std::string where(field);
  if (value == nullptr || value->IsNull()) {
    return absent_default ? PayloadSelector::All() : PayloadSelector::None();
  }
  if (value->IsBool()) return value->GetBool() ? PayloadSelector::All() : PayloadSelector::None();
  if (value->IsArray()) {
    Result<std::vector<JsonPath>> paths = ParsePathList(*value, where);
    if (!paths.ok()) return paths.status();
    return PayloadSelector(PayloadSelector::Mode::kInclude, std::move(*paths));
  }
  if (value->IsObject()) {
    auto include = value->FindMember("include");
    if (include != value->MemberEnd() && !include->value.IsNull()) {
      Result<std::vector<JsonPath>> paths = ParsePathList(include->value, where + ".include");
      if (!paths.ok()) return paths.status();
      return PayloadSelector(PayloadSelector::Mode::kInclude, std::move(*paths));
    }
    auto exclude = value->FindMember("exclude");
    if (exclude != value->MemberEnd() && !exclude->value.IsNull()) {
      Result<std::vector<JsonPath>> paths = ParsePathList(exclude->value, where + ".exclude");
      if (!paths.ok()) return paths.status();
      return PayloadSelector(PayloadSelector::Mode::kExclude, std::move(*paths));
    }
  }
  return Status::InvalidArgument(
      "Format error in JSON body: " + where +
      ": expected true, false, a list of payload keys, {\"include\": [...]} or "
      "{\"exclude\": [...]}");
}

void SetPayload(rapidjson::Value& payload, const rapidjson::Value& source,
                rapidjson::Document::AllocatorType& allocator) {
  MergeInto(payload, source, allocator);
}

void SetPayloadAt(rapidjson::Value& payload, const JsonPath& path, const rapidjson::Value& source,
                  rapidjson::Document::AllocatorType& allocator) {
  if (!payload.IsObject()) payload.SetObject();
  SetAt(payload, path.items(), source, allocator);
}

void DeletePayloadPath(rapidjson::Value& payload, const JsonPath& path) {
  DeleteAt(payload, path.items());
}

}  // namespace qd::index
