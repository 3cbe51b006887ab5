#include "qdrantd/index/payload_index.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iterator>

namespace qd::index {
namespace {

using rapidjson::Value;

Status FormatError(const std::string& path, const std::string& message) {
  return Status::InvalidArgument("Format error in JSON body: " + path + ": " + message);
}

const Value* Member(const Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

struct TypeName {
  const char* name;
  PayloadFieldType type;
};
constexpr TypeName kTypeNames[] = {
    {"keyword", PayloadFieldType::kKeyword},   {"integer", PayloadFieldType::kInteger},
    {"float", PayloadFieldType::kFloat},       {"geo", PayloadFieldType::kGeo},
    {"text", PayloadFieldType::kText},         {"bool", PayloadFieldType::kBool},
    {"datetime", PayloadFieldType::kDatetime}, {"uuid", PayloadFieldType::kUuid},
};

Result<PayloadFieldType> ParseTypeName(const Value& value, const std::string& path) {
  if (!value.IsString()) return FormatError(path, "expected a payload field type name");
  const std::string_view name(value.GetString(), value.GetStringLength());
  for (const TypeName& t : kTypeNames) {
    if (name == t.name) return t.type;
  }
  return FormatError(path, "unknown variant `" + std::string(name) +
                               "`, expected one of `keyword`, `integer`, `float`, `geo`, `text`, "
                               "`bool`, `datetime`, `uuid`");
}

Status ReadBool(const Value& object, const char* name, const std::string& path, bool& out) {
  const Value* v = Member(object, name);
  if (v == nullptr) return Status::Ok();
  if (!v->IsBool()) return FormatError(path + "." + name, "expected a boolean");
  out = v->GetBool();
  return Status::Ok();
}

// The union of sorted offset lists, sorted: through a bitset when there are several (a range
// over 50 values of 600 points each: no sort, no merge tree).
std::vector<uint32_t> UnionOfLists(const std::vector<const std::vector<uint32_t>*>& lists) {
  if (lists.empty()) return {};
  if (lists.size() == 1) return *lists.front();
  size_t total = 0;
  uint32_t max = 0;
  for (const std::vector<uint32_t>* l : lists) {
    total += l->size();
    if (!l->empty()) max = std::max(max, l->back());
  }
  std::vector<uint64_t> bits(size_t{max} / 64 + 1, 0);
  for (const std::vector<uint32_t>* l : lists) {
    for (uint32_t o : *l) bits[o >> 6] |= uint64_t{1} << (o & 63);
  }
  std::vector<uint32_t> out;
  out.reserve(total);
  for (size_t w = 0; w < bits.size(); ++w) {
    for (uint64_t word = bits[w]; word; word &= word - 1) {
      out.push_back(static_cast<uint32_t>(w * 64 + __builtin_ctzll(word)));
    }
  }
  return out;
}

void UnionInto(std::vector<uint32_t>& acc, const std::vector<uint32_t>& more) {
  std::vector<uint32_t> out;
  out.reserve(acc.size() + more.size());
  std::set_union(acc.begin(), acc.end(), more.begin(), more.end(), std::back_inserter(out));
  acc.swap(out);
}

void IntersectInto(std::vector<uint32_t>& acc, const std::vector<uint32_t>& more) {
  std::vector<uint32_t> out;
  std::set_intersection(acc.begin(), acc.end(), more.begin(), more.end(), std::back_inserter(out));
  acc.swap(out);
}

bool IsNumberType(PayloadFieldType t) {
  return t == PayloadFieldType::kInteger || t == PayloadFieldType::kFloat ||
         t == PayloadFieldType::kDatetime;
}

}  // namespace

std::string_view PayloadFieldTypeName(PayloadFieldType type) {
  for (const TypeName& t : kTypeNames) {
    if (t.type == type) return t.name;
  }
  return "keyword";
}

Result<PayloadFieldSchema> ParsePayloadFieldSchema(const rapidjson::Value& value,
                                                   std::string_view field) {
  const std::string path(field);
  PayloadFieldSchema schema;
  if (value.IsString()) {
    Result<PayloadFieldType> type = ParseTypeName(value, path);
    if (!type.ok()) return type.status();
    schema.type = *type;
    return schema;
  }
  if (!value.IsObject()) {
    return FormatError(path, "expected a payload field type name or a params object");
  }
  const Value* type_value = Member(value, "type");
  if (type_value == nullptr) return FormatError(path, "missing field `type`");
  Result<PayloadFieldType> type = ParseTypeName(*type_value, path + ".type");
  if (!type.ok()) return type.status();
  schema.type = *type;
  for (const auto& [name, out] : {std::pair<const char*, bool*>{"is_tenant", &schema.is_tenant},
                                  {"is_principal", &schema.is_principal},
                                  {"on_disk", &schema.on_disk},
                                  {"lookup", &schema.lookup},
                                  {"range", &schema.range},
                                  {"lowercase", &schema.lowercase}}) {
    Status s = ReadBool(value, name, path, *out);
    if (!s.ok()) return s;
  }
  bool enable_hnsw = true;  // accepted and ignored: there is no HNSW payload-block link here
  Status s = ReadBool(value, "enable_hnsw", path, enable_hnsw);
  if (!s.ok()) return s;
  if (const Value* v = Member(value, "tokenizer")) {
    const std::string where = path + ".tokenizer";
    if (!v->IsString()) return FormatError(where, "expected a tokenizer name");
    const std::string_view name(v->GetString(), v->GetStringLength());
    if (name == "word") {
      schema.tokenizer = Tokenizer::kWord;
    } else if (name == "whitespace") {
      schema.tokenizer = Tokenizer::kWhitespace;
    } else if (name == "prefix") {
      schema.tokenizer = Tokenizer::kPrefix;
    } else if (name == "multilingual") {
      schema.tokenizer = Tokenizer::kMultilingual;
    } else {
      return FormatError(where, "unknown variant `" + std::string(name) +
                                    "`, expected one of `prefix`, `whitespace`, `word`, "
                                    "`multilingual`");
    }
  }
  for (const auto& [name, out] :
       {std::pair<const char*, std::optional<uint64_t>*>{"min_token_len", &schema.min_token_len},
        {"max_token_len", &schema.max_token_len}}) {
    const Value* v = Member(value, name);
    if (v == nullptr) continue;
    if (!v->IsUint64()) return FormatError(path + "." + name, "expected a non-negative integer");
    *out = v->GetUint64();
  }
  if (schema.type == PayloadFieldType::kInteger && !schema.lookup && !schema.range) {
    return Status::Unprocessable(
        "Validation error: the 'lookup' and 'range' capabilities can't be both disabled");
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  schema.params_json = std::string(buffer.GetString(), buffer.GetSize());
  return schema;
}

std::vector<std::string> Tokenize(std::string_view text, const PayloadFieldSchema& schema) {
  std::vector<std::string> words;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) words.push_back(std::move(current));
    current.clear();
  };
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool separator = schema.tokenizer == Tokenizer::kWhitespace
                               ? std::isspace(c) != 0
                               : !(std::isalnum(c) || c >= 0x80);  // keep UTF-8 bytes together
    if (separator) {
      flush();
    } else {
      current += schema.lowercase && c < 0x80 ? static_cast<char>(std::tolower(c)) : ch;
    }
  }
  flush();
  const size_t min_len = schema.min_token_len.value_or(0);
  const size_t max_len = schema.max_token_len.value_or(SIZE_MAX);
  std::vector<std::string> tokens;
  for (const std::string& word : words) {
    if (schema.tokenizer == Tokenizer::kPrefix) {
      for (size_t n = std::max<size_t>(min_len, 1); n <= std::min(word.size(), max_len); ++n) {
        tokens.push_back(word.substr(0, n));
      }
    } else if (word.size() >= min_len && word.size() <= max_len) {
      tokens.push_back(word);
    }
  }
  return tokens;
}

std::string PayloadFieldSchema::ToJson() const {
  if (params_json) return *params_json;
  return "\"" + std::string(PayloadFieldTypeName(type)) + "\"";
}

// ---- PayloadFieldIndex ----

void PayloadFieldIndex::OffsetList::Insert(uint32_t offset) {
  if (offsets_.empty() || offsets_.back() < offset) {
    offsets_.push_back(offset);
    return;
  }
  auto it = std::lower_bound(offsets_.begin(), offsets_.end(), offset);
  if (it == offsets_.end() || *it != offset) offsets_.insert(it, offset);
}

void PayloadFieldIndex::OffsetList::Erase(uint32_t offset) {
  auto it = std::lower_bound(offsets_.begin(), offsets_.end(), offset);
  if (it != offsets_.end() && *it == offset) offsets_.erase(it);
}

PayloadFieldIndex::PayloadFieldIndex(JsonPath path, PayloadFieldSchema schema)
    : path_(std::move(path)), schema_(std::move(schema)) {}

void PayloadFieldIndex::Add(uint32_t offset, const rapidjson::Value& payload) {
  Remove(offset);
  std::vector<const Value*> raw;
  CollectValues(payload, path_, raw);
  std::vector<const Value*> flat;
  FlattenValues(raw, flat);
  Values values;
  for (const Value* v : flat) {
    switch (schema_.type) {
      case PayloadFieldType::kKeyword:
      case PayloadFieldType::kUuid:
        if (v->IsString()) values.strings.emplace_back(v->GetString(), v->GetStringLength());
        break;
      case PayloadFieldType::kText:
        if (v->IsString()) {
          for (std::string& token :
               Tokenize(std::string_view(v->GetString(), v->GetStringLength()), schema_)) {
            values.strings.push_back(std::move(token));
          }
        }
        break;
      case PayloadFieldType::kInteger:
        if (v->IsInt64()) values.integers.push_back(v->GetInt64());
        if (v->IsNumber()) values.numbers.push_back(v->GetDouble());
        break;
      case PayloadFieldType::kFloat:
        if (v->IsNumber()) values.numbers.push_back(v->GetDouble());
        break;
      case PayloadFieldType::kDatetime:
        if (v->IsString()) {
          std::optional<int64_t> micros =
              ParseDateTime(std::string_view(v->GetString(), v->GetStringLength()));
          if (micros) values.numbers.push_back(static_cast<double>(*micros));
        }
        break;
      case PayloadFieldType::kBool:
        if (v->IsBool()) values.bools.push_back(v->GetBool());
        break;
      case PayloadFieldType::kGeo:
        if (std::optional<GeoPoint> p = GeoPointFromJson(*v)) values.geo.push_back(*p);
        break;
    }
  }
  if (values.strings.empty() && values.numbers.empty() && values.bools.empty() &&
      values.geo.empty()) {
    return;
  }
  for (const std::string& s : values.strings) by_string_[s].Insert(offset);
  for (double n : values.numbers) {
    by_number_.emplace(n, offset);
    offsets_by_number_[n].Insert(offset);
  }
  for (int64_t n : values.integers) by_integer_.emplace(n, offset);
  for (bool b : values.bools) by_bool_[b ? 1 : 0].Insert(offset);
  values_by_offset_.emplace(offset, std::move(values));
}

void PayloadFieldIndex::WriteSchemaInfo(rapidjson::Value& out,
                                        rapidjson::Document::AllocatorType& allocator) const {
  out.SetObject();
  const std::string_view name = PayloadFieldTypeName(schema_.type);
  out.AddMember("data_type",
                Value(name.data(), static_cast<rapidjson::SizeType>(name.size()), allocator),
                allocator);
  if (schema_.params_json) {
    rapidjson::Document params(&allocator);
    params.Parse(schema_.params_json->data(), schema_.params_json->size());
    if (!params.HasParseError()) out.AddMember("params", Value(params, allocator), allocator);
  }
  out.AddMember("points", static_cast<uint64_t>(PointsCount()), allocator);
}

void PayloadFieldIndex::Remove(uint32_t offset) {
  auto it = values_by_offset_.find(offset);
  if (it == values_by_offset_.end()) return;
  for (const std::string& s : it->second.strings) {
    auto entry = by_string_.find(s);
    if (entry == by_string_.end()) continue;
    entry->second.Erase(offset);
    if (entry->second.empty()) by_string_.erase(entry);
  }
  for (double n : it->second.numbers) {
    by_number_.erase({n, offset});
    auto entry = offsets_by_number_.find(n);
    if (entry == offsets_by_number_.end()) continue;
    entry->second.Erase(offset);
    if (entry->second.empty()) offsets_by_number_.erase(entry);
  }
  for (int64_t n : it->second.integers) by_integer_.erase({n, offset});
  for (bool b : it->second.bools) by_bool_[b ? 1 : 0].Erase(offset);
  values_by_offset_.erase(it);
}

std::optional<std::vector<uint32_t>> PayloadFieldIndex::MatchCandidates(
    const MatchCondition& match) const {
  if (match.kind != MatchCondition::Kind::kValue && match.kind != MatchCondition::Kind::kAny) {
    return std::nullopt;
  }
  std::vector<uint32_t> out;
  for (const MatchValue& value : match.values) {
    std::vector<uint32_t> these;
    if (const auto* s = std::get_if<std::string>(&value)) {
      if (schema_.type != PayloadFieldType::kKeyword && schema_.type != PayloadFieldType::kUuid) {
        return std::nullopt;
      }
      auto it = by_string_.find(*s);
      if (it != by_string_.end()) these = it->second.offsets();
    } else if (const auto* n = std::get_if<int64_t>(&value)) {
      if (schema_.type != PayloadFieldType::kInteger && schema_.type != PayloadFieldType::kFloat) {
        return std::nullopt;
      }
      auto it = offsets_by_number_.find(static_cast<double>(*n));
      if (it != offsets_by_number_.end()) these = it->second.offsets();
    } else {
      if (schema_.type != PayloadFieldType::kBool) return std::nullopt;
      these = by_bool_[std::get<bool>(value) ? 1 : 0].offsets();
    }
    UnionInto(out, these);
  }
  return out;
}

std::optional<std::vector<uint32_t>> PayloadFieldIndex::RangeCandidates(
    const RangeCondition& range) const {
  const bool datetime_index = schema_.type == PayloadFieldType::kDatetime;
  if (!IsNumberType(schema_.type) || range.is_datetime != datetime_index) return std::nullopt;
  // Walk the values from the lower bound to the upper bound.
  auto it = offsets_by_number_.begin();
  if (range.gte || range.gt) {
    const double low = std::max(range.gte.value_or(-HUGE_VAL), range.gt.value_or(-HUGE_VAL));
    it = offsets_by_number_.lower_bound(low);
  }
  std::vector<const std::vector<uint32_t>*> lists;
  for (; it != offsets_by_number_.end(); ++it) {
    if (range.lt && !(it->first < *range.lt)) break;
    if (range.lte && !(it->first <= *range.lte)) break;
    if (range.Contains(it->first)) lists.push_back(&it->second.offsets());
  }
  return UnionOfLists(lists);
}

std::vector<uint32_t> PayloadFieldIndex::GeoCandidates(const FieldCondition& condition) const {
  std::vector<uint32_t> out;
  for (const auto& [offset, values] : values_by_offset_) {
    for (const GeoPoint& p : values.geo) {
      if (GeoPointSatisfies(condition, p)) {
        out.push_back(offset);
        break;
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::vector<uint32_t>> PayloadFieldIndex::Candidates(
    const FieldCondition& condition) const {
  if (!(condition.key == path_)) return std::nullopt;
  if (condition.values_count || condition.is_empty || condition.is_null) return std::nullopt;
  std::vector<uint32_t> out;
  if (condition.match) {
    std::optional<std::vector<uint32_t>> c = MatchCandidates(*condition.match);
    if (!c) return std::nullopt;
    UnionInto(out, *c);
  }
  if (condition.range) {
    std::optional<std::vector<uint32_t>> c = RangeCandidates(*condition.range);
    if (!c) return std::nullopt;
    UnionInto(out, *c);
  }
  if (condition.geo_radius || condition.geo_bounding_box || condition.geo_polygon) {
    if (schema_.type != PayloadFieldType::kGeo) return std::nullopt;
    UnionInto(out, GeoCandidates(condition));
  }
  return out;
}

// ---- payload groups ----

namespace {

std::string NumberKey(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "n:%.17g", v);
  return buf;
}

}  // namespace

bool PayloadFieldIndex::Groupable() const {
  return schema_.type == PayloadFieldType::kKeyword || schema_.type == PayloadFieldType::kUuid ||
         schema_.type == PayloadFieldType::kInteger || schema_.type == PayloadFieldType::kBool;
}

std::vector<std::string> PayloadFieldIndex::GroupsOf(uint32_t offset) const {
  std::vector<std::string> out;
  if (!Groupable()) return out;
  auto it = values_by_offset_.find(offset);
  if (it == values_by_offset_.end()) return out;
  for (const std::string& v : it->second.strings) out.push_back("s:" + v);
  for (double v : it->second.numbers) out.push_back(NumberKey(v));
  for (bool v : it->second.bools) out.push_back(v ? "b:1" : "b:0");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<uint32_t> PayloadFieldIndex::GroupMembers(const std::string& key) const {
  std::vector<uint32_t> out;
  if (key.size() < 2) return out;
  const std::string value = key.substr(2);
  if (key[0] == 's') {
    auto it = by_string_.find(value);
    if (it != by_string_.end()) out = it->second.offsets();
  } else if (key[0] == 'n') {
    auto it = offsets_by_number_.find(std::strtod(value.c_str(), nullptr));
    if (it != offsets_by_number_.end()) out = it->second.offsets();
  } else if (key[0] == 'b') {
    out = by_bool_[value == "1" ? 1 : 0].offsets();
  }
  return out;
}

std::vector<std::string> PayloadFieldIndex::GroupsLargerThan(size_t min_points) const {
  std::vector<std::string> out;
  if (!Groupable()) return out;
  for (const auto& [value, offsets] : by_string_) {
    if (offsets.size() > min_points) out.push_back("s:" + value);
  }
  for (const auto& [value, offsets] : offsets_by_number_) {
    if (offsets.size() > min_points) out.push_back(NumberKey(value));
  }
  for (int b = 0; b < 2; ++b) {
    if (by_bool_[b].size() > min_points) out.push_back(b ? "b:1" : "b:0");
  }
  return out;
}

std::optional<std::string> PayloadFieldIndex::GroupOf(const FieldCondition& condition) const {
  if (!Groupable() || !(condition.key == path_) || !condition.match || condition.range ||
      condition.values_count || condition.is_empty || condition.is_null || condition.geo_radius ||
      condition.geo_bounding_box || condition.geo_polygon) {
    return std::nullopt;
  }
  const MatchCondition& match = *condition.match;
  if (match.kind != MatchCondition::Kind::kValue || match.values.size() != 1) return std::nullopt;
  const MatchValue& value = match.values[0];
  if (const auto* s = std::get_if<std::string>(&value)) {
    if (schema_.type != PayloadFieldType::kKeyword && schema_.type != PayloadFieldType::kUuid) {
      return std::nullopt;
    }
    return "s:" + *s;
  }
  if (const auto* n = std::get_if<int64_t>(&value)) {
    if (schema_.type != PayloadFieldType::kInteger) return std::nullopt;
    return NumberKey(static_cast<double>(*n));
  }
  if (schema_.type != PayloadFieldType::kBool) return std::nullopt;
  return std::get<bool>(value) ? "b:1" : "b:0";
}

// ---- order_by ----

int CompareOrderValues(const OrderValue& a, const OrderValue& b) {
  if (a.is_int && b.is_int) return a.integer < b.integer ? -1 : a.integer > b.integer ? 1 : 0;
  const double x = a.AsDouble(), y = b.AsDouble();
  return x < y ? -1 : x > y ? 1 : 0;
}

bool PayloadFieldIndex::SupportsOrderBy() const {
  return (schema_.type == PayloadFieldType::kInteger && schema_.range) ||
         schema_.type == PayloadFieldType::kFloat || schema_.type == PayloadFieldType::kDatetime;
}

namespace {

// Walks `set` (pairs of value and offset, ascending) in the asked direction from `start`.
// `approx` is where to begin: at or before the first value that passes `start`; entries that
// fail are skipped (only those around the bound, where `approx` may be inexact), since values
// pass monotonically once they start to.
template <typename Set, typename ToValue, typename Fn>
void WalkOrdered(const Set& set, bool descending, const std::optional<OrderValue>& start,
                 typename Set::value_type::first_type approx, ToValue to_value, Fn&& fn) {
  using Key = typename Set::value_type;
  auto passes = [&](const OrderValue& v) {
    if (!start) return true;
    const int c = CompareOrderValues(v, *start);
    return descending ? c <= 0 : c >= 0;
  };
  bool passing = false;
  if (!descending) {
    auto it = start ? set.lower_bound(Key{approx, 0}) : set.begin();
    for (; it != set.end(); ++it) {
      const OrderValue v = to_value(it->first);
      if (!passing && !(passing = passes(v))) continue;
      if (!fn(v, it->second)) return;
    }
  } else {
    auto it =
        start ? std::make_reverse_iterator(set.upper_bound(Key{approx, UINT32_MAX})) : set.rbegin();
    for (; it != set.rend(); ++it) {
      const OrderValue v = to_value(it->first);
      if (!passing && !(passing = passes(v))) continue;
      if (!fn(v, it->second)) return;
    }
  }
}

// The int64 at or beyond `d` in the walk's direction (clamped), for an integer walk's bound.
int64_t IntegerBound(double d, bool descending) {
  if (std::isnan(d)) return descending ? INT64_MIN : INT64_MAX;
  const double r = descending ? std::floor(d) : std::ceil(d);
  if (r <= -9.2e18) return INT64_MIN;
  if (r >= 9.2e18) return INT64_MAX;
  return static_cast<int64_t>(r);
}

}  // namespace

void PayloadFieldIndex::ForEachOrdered(
    bool descending, const std::optional<OrderValue>& start,
    const std::function<bool(const OrderValue&, uint32_t)>& fn) const {
  switch (schema_.type) {
    case PayloadFieldType::kInteger: {
      const int64_t approx = !start          ? 0
                             : start->is_int ? start->integer
                                             : IntegerBound(start->real, descending);
      WalkOrdered(by_integer_, descending, start, approx, OrderValue::Int, fn);
      return;
    }
    case PayloadFieldType::kDatetime:
      WalkOrdered(
          by_number_, descending, start, start ? start->AsDouble() : 0,
          [](double d) { return OrderValue::Int(static_cast<int64_t>(d)); }, fn);
      return;
    default:
      WalkOrdered(by_number_, descending, start, start ? start->AsDouble() : 0, OrderValue::Float,
                  fn);
      return;
  }
}

std::vector<OrderValue> PayloadFieldIndex::OrderValuesOf(uint32_t offset) const {
  std::vector<OrderValue> out;
  auto it = values_by_offset_.find(offset);
  if (it == values_by_offset_.end()) return out;
  if (schema_.type == PayloadFieldType::kInteger) {
    for (int64_t n : it->second.integers) out.push_back(OrderValue::Int(n));
  } else if (schema_.type == PayloadFieldType::kDatetime) {
    for (double n : it->second.numbers) out.push_back(OrderValue::Int(static_cast<int64_t>(n)));
  } else {
    for (double n : it->second.numbers) out.push_back(OrderValue::Float(n));
  }
  return out;
}

// ---- PayloadIndexSet ----

PayloadFieldIndex& PayloadIndexSet::Create(const JsonPath& path, PayloadFieldSchema schema) {
  auto index = std::make_unique<PayloadFieldIndex>(path, std::move(schema));
  PayloadFieldIndex& ref = *index;
  indexes_[path.ToString()] = std::move(index);
  return ref;
}

bool PayloadIndexSet::Drop(const JsonPath& path) { return indexes_.erase(path.ToString()) > 0; }

const PayloadFieldIndex* PayloadIndexSet::Find(const JsonPath& path) const {
  auto it = indexes_.find(path.ToString());
  return it == indexes_.end() ? nullptr : it->second.get();
}

void PayloadIndexSet::Add(uint32_t offset, const rapidjson::Value& payload) {
  for (auto& [name, index] : indexes_) index->Add(offset, payload);
}

void PayloadIndexSet::Remove(uint32_t offset) {
  for (auto& [name, index] : indexes_) index->Remove(offset);
}

std::optional<std::vector<uint32_t>> PayloadIndexSet::PlanCondition(
    const Condition& condition, const IdResolver& resolve_id) const {
  if (const auto* field = std::get_if<FieldCondition>(&condition.body)) {
    const PayloadFieldIndex* index = Find(field->key);
    if (index == nullptr) return std::nullopt;
    return index->Candidates(*field);
  }
  if (const auto* has_id = std::get_if<HasIdCondition>(&condition.body)) {
    if (!resolve_id) return std::nullopt;
    std::vector<uint32_t> out;
    for (const segment::PointId& id : has_id->ids) {
      if (std::optional<uint32_t> offset = resolve_id(id)) out.push_back(*offset);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  if (const auto* filter = std::get_if<std::shared_ptr<const Filter>>(&condition.body)) {
    return PlanFilter(**filter, resolve_id);
  }
  return std::nullopt;  // nested (its keys are relative to elements), slice
}

std::optional<std::vector<uint32_t>> PayloadIndexSet::PlanFilter(
    const Filter& filter, const IdResolver& resolve_id) const {
  std::optional<std::vector<uint32_t>> acc;
  auto narrow = [&](std::vector<uint32_t> more) {
    if (!acc) {
      acc = std::move(more);
    } else {
      IntersectInto(*acc, more);
    }
  };
  for (const Condition& c : filter.must()) {
    if (std::optional<std::vector<uint32_t>> more = PlanCondition(c, resolve_id)) {
      narrow(std::move(*more));
    }
  }
  // A point matching a non-empty should matches one of its conditions: the union of their
  // candidates bounds it, but only when every one of them is answerable.
  auto union_of =
      [&](const std::vector<Condition>& conditions) -> std::optional<std::vector<uint32_t>> {
    std::vector<uint32_t> out;
    for (const Condition& c : conditions) {
      std::optional<std::vector<uint32_t>> more = PlanCondition(c, resolve_id);
      if (!more) return std::nullopt;
      UnionInto(out, *more);
    }
    return out;
  };
  if (!filter.should().empty()) {
    if (std::optional<std::vector<uint32_t>> more = union_of(filter.should())) {
      narrow(std::move(*more));
    }
  }
  if (filter.min_should() && filter.min_should()->min_count > 0) {
    if (std::optional<std::vector<uint32_t>> more = union_of(filter.min_should()->conditions)) {
      narrow(std::move(*more));
    }
  }
  return acc;
}

CandidatePlan PayloadIndexSet::Plan(const Filter& filter, size_t total_points,
                                    const IdResolver& resolve_id) const {
  CandidatePlan plan;
  plan.candidates = PlanFilter(filter, resolve_id);
  plan.upper_bound =
      plan.candidates ? std::min(total_points, plan.candidates->size()) : total_points;
  // must_not conditions never narrow the candidates (the complement of a superset is not one),
  // but they do the estimate: each answerable one keeps the share of points it does not match,
  // as if independent of the rest (Qdrant's estimate does the same).
  double expected = double(plan.upper_bound);
  if (total_points > 0) {
    for (const Condition& c : filter.must_not()) {
      if (std::optional<std::vector<uint32_t>> excluded = PlanCondition(c, resolve_id)) {
        expected *= 1.0 - std::min(1.0, double(excluded->size()) / double(total_points));
      }
    }
  }
  plan.expected_matches = expected;
  return plan;
}

}  // namespace qd::index
