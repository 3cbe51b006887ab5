#include "qdrantd/collection/strict_mode.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <type_traits>
#include <variant>

namespace qd::collection {
namespace {

using rapidjson::Value;

Status FormatError(const std::string& field, const char* expected) {
  return Status::InvalidArgument("Format error in JSON body: strict_mode_config." + field +
                                 ": invalid type, expected " + expected);
}

// Reads an optional unsigned member; null or absent leaves `out` unset.
Status ReadUint(const Value& json, const char* name, bool nonzero, std::optional<uint64_t>& out) {
  auto it = json.FindMember(name);
  if (it == json.MemberEnd() || it->value.IsNull()) return Status::Ok();
  if (!it->value.IsUint64()) return FormatError(name, "an unsigned integer");
  if (nonzero && it->value.GetUint64() == 0) {
    return Status::Unprocessable(
        std::string("Validation error in JSON body: [strict_mode_config.") + name +
        ": value 0 invalid, must be 1 or more]");
  }
  out = it->value.GetUint64();
  return Status::Ok();
}

Status ReadBool(const Value& json, const char* name, std::optional<bool>& out) {
  auto it = json.FindMember(name);
  if (it == json.MemberEnd() || it->value.IsNull()) return Status::Ok();
  if (!it->value.IsBool()) return FormatError(name, "a boolean");
  out = it->value.GetBool();
  return Status::Ok();
}

// {"config": {"<name>": {"<field>": N}}} (StrictModeSparseConfig / StrictModeMultivectorConfig).
Status ReadPerVector(const Value& json, const char* name, const char* field,
                     std::map<std::string, uint64_t>& out) {
  auto it = json.FindMember(name);
  if (it == json.MemberEnd() || it->value.IsNull()) return Status::Ok();
  if (!it->value.IsObject()) return FormatError(name, "an object");
  // Qdrant's JSON nests the map under "config"; accept the map itself as well.
  const Value* map = &it->value;
  if (auto c = it->value.FindMember("config"); c != it->value.MemberEnd() && c->value.IsObject()) {
    map = &c->value;
  }
  for (const auto& entry : map->GetObject()) {
    if (!entry.value.IsObject())
      return FormatError(std::string(name) + "." + entry.name.GetString(), "an object");
    std::optional<uint64_t> limit;
    if (Status s = ReadUint(entry.value, field, false, limit); !s.ok()) return s;
    if (limit) out[entry.name.GetString()] = *limit;
  }
  return Status::Ok();
}

template <typename T>
std::string Text(T value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// The index types that serve a field condition; empty: it needs none.
std::vector<index::PayloadFieldType> TypesFor(const index::FieldCondition& c) {
  using T = index::PayloadFieldType;
  std::vector<T> types;
  if (c.match) {
    using K = index::MatchCondition::Kind;
    if (c.match->kind == K::kText || c.match->kind == K::kTextAny || c.match->kind == K::kPhrase) {
      types.push_back(T::kText);
    } else if (!c.match->values.empty()) {
      const index::MatchValue& v = c.match->values.front();
      if (std::holds_alternative<std::string>(v)) {
        types.insert(types.end(), {T::kKeyword, T::kUuid});
      } else if (std::holds_alternative<int64_t>(v)) {
        types.push_back(T::kInteger);
      } else {
        types.push_back(T::kBool);
      }
    } else {
      types.insert(types.end(), {T::kKeyword, T::kInteger});  // match any: [] matches nothing
    }
  }
  if (c.range) {
    if (c.range->is_datetime) {
      types.push_back(T::kDatetime);
    } else {
      types.insert(types.end(), {T::kInteger, T::kFloat});
    }
  }
  if (c.geo_radius || c.geo_bounding_box || c.geo_polygon) types.push_back(T::kGeo);
  return types;
}

struct FilterWalk {
  const IndexedFields& indexed;
  bool check_indexes;
  uint64_t conditions = 0;
  uint64_t max_size = 0;
  std::vector<UnindexedKey> unindexed;  // in the filter's order, each key once

  void Key(const std::vector<index::JsonPathItem>& prefix, const index::FieldCondition& c) {
    if (!check_indexes) return;
    std::vector<index::PayloadFieldType> types = TypesFor(c);
    if (types.empty()) return;
    std::vector<index::JsonPathItem> items = prefix;
    items.insert(items.end(), c.key.items().begin(), c.key.items().end());
    std::string key = index::JsonPath(std::move(items)).ToString();
    auto it = indexed.fields.find(key);
    if (it != indexed.fields.end() &&
        std::find(types.begin(), types.end(), it->second) != types.end()) {
      return;
    }
    for (const UnindexedKey& u : unindexed) {
      if (u.key == key) return;
    }
    unindexed.push_back(UnindexedKey{std::move(key), std::move(types)});
  }

  void Conditions(const std::vector<index::JsonPathItem>& prefix,
                  const std::vector<index::Condition>& list) {
    for (const index::Condition& c : list) Condition(prefix, c);
  }

  void Walk(const std::vector<index::JsonPathItem>& prefix, const index::Filter& f) {
    Conditions(prefix, f.must());
    Conditions(prefix, f.should());
    Conditions(prefix, f.must_not());
    if (f.min_should()) Conditions(prefix, f.min_should()->conditions);
  }

  void Condition(const std::vector<index::JsonPathItem>& prefix, const index::Condition& c) {
    ++conditions;
    std::visit(
        [&](const auto& body) {
          using B = std::decay_t<decltype(body)>;
          if constexpr (std::is_same_v<B, index::FieldCondition>) {
            uint64_t size = 1;
            if (body.match) size = std::max<uint64_t>(size, body.match->values.size());
            if (body.geo_polygon) {
              size_t points = body.geo_polygon->exterior.size();
              for (const auto& ring : body.geo_polygon->interiors) points += ring.size();
              size = std::max<uint64_t>(size, points);
            }
            max_size = std::max(max_size, size);
            Key(prefix, body);
          } else if constexpr (std::is_same_v<B, index::HasIdCondition>) {
            max_size = std::max<uint64_t>(max_size, body.ids.size());
          } else if constexpr (std::is_same_v<B, index::NestedCondition>) {
            std::vector<index::JsonPathItem> inner = prefix;
            inner.insert(inner.end(), body.element_path.items().begin(),
                         body.element_path.items().end());
            if (body.filter) Walk(inner, *body.filter);
          } else if constexpr (std::is_same_v<B, std::shared_ptr<const index::Filter>>) {
            if (body) Walk(prefix, *body);
          }
        },
        c.body);
  }
};

std::string TypeList(const std::vector<index::PayloadFieldType>& types) {
  std::string out;
  for (index::PayloadFieldType t : types) {
    if (!out.empty()) out += ", ";
    out += index::PayloadFieldTypeName(t);
  }
  return out;
}

}  // namespace

bool StrictMode::RefusesUnindexed(bool update) const {
  const std::optional<bool>& allowed =
      update ? unindexed_filtering_update : unindexed_filtering_retrieve;
  return enabled && allowed.has_value() && !*allowed;
}

Result<StrictMode> ParseStrictMode(const Value& json) {
  StrictMode out;
  if (json.IsNull()) return out;
  if (!json.IsObject())
    return Status::InvalidArgument(
        "Format error in JSON body: strict_mode_config: invalid type, expected an object");
  std::optional<bool> enabled;
  Status s = ReadBool(json, "enabled", enabled);
  out.enabled = enabled.value_or(false);
  struct UintField {
    const char* name;
    bool nonzero;
    std::optional<uint64_t> StrictMode::*field;
  };
  static const UintField kUints[] = {
      {"max_query_limit", true, &StrictMode::max_query_limit},
      {"max_timeout", true, &StrictMode::max_timeout},
      {"search_max_hnsw_ef", false, &StrictMode::search_max_hnsw_ef},
      {"upsert_max_batchsize", false, &StrictMode::upsert_max_batchsize},
      {"search_max_batchsize", false, &StrictMode::search_max_batchsize},
      {"max_collection_vector_size_bytes", false, &StrictMode::max_collection_vector_size_bytes},
      {"max_collection_payload_size_bytes", false, &StrictMode::max_collection_payload_size_bytes},
      {"read_rate_limit", true, &StrictMode::read_rate_limit},
      {"write_rate_limit", true, &StrictMode::write_rate_limit},
      {"max_points_count", false, &StrictMode::max_points_count},
      {"filter_max_conditions", false, &StrictMode::filter_max_conditions},
      {"condition_max_size", false, &StrictMode::condition_max_size},
      {"max_payload_index_count", false, &StrictMode::max_payload_index_count},
  };
  for (const UintField& f : kUints) {
    if (s.ok()) s = ReadUint(json, f.name, f.nonzero, out.*(f.field));
  }
  if (s.ok()) s = ReadBool(json, "unindexed_filtering_retrieve", out.unindexed_filtering_retrieve);
  if (s.ok()) s = ReadBool(json, "unindexed_filtering_update", out.unindexed_filtering_update);
  if (s.ok()) s = ReadBool(json, "search_allow_exact", out.search_allow_exact);
  if (!s.ok()) return s;
  if (auto it = json.FindMember("search_max_oversampling");
      it != json.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsNumber()) return FormatError("search_max_oversampling", "a number");
    out.search_max_oversampling = it->value.GetDouble();
  }
  if (s = ReadPerVector(json, "sparse_config", "max_length", out.sparse_max_length); !s.ok()) {
    return s;
  }
  if (s = ReadPerVector(json, "multivector_config", "max_vectors", out.multivector_max_vectors);
      !s.ok()) {
    return s;
  }
  return out;
}

Status StrictModeError(const std::string& error, const std::string& help) {
  return Status::PermissionDenied("Forbidden: " + error + ". Help: " + help);
}

Status CheckLimit(uint64_t value, const std::optional<uint64_t>& max, std::string_view name) {
  if (!max || value <= *max) return Status::Ok();
  const std::string n(name);
  return StrictModeError(
      "Limit exceeded " + std::to_string(value) + " > " + std::to_string(*max) + " for \"" + n +
          "\"",
      "Reduce the \"" + n + "\" parameter to or below " + std::to_string(*max) + ".");
}

Status CheckLimit(double value, const std::optional<double>& max, std::string_view name) {
  if (!max || value <= *max) return Status::Ok();
  const std::string n(name);
  return StrictModeError(
      "Limit exceeded " + Text(value) + " > " + Text(*max) + " for \"" + n + "\"",
      "Reduce the \"" + n + "\" parameter to or below " + Text(*max) + ".");
}

Status CheckFilter(const StrictMode& strict, const index::Filter& filter,
                   const IndexedFields& indexed, bool update) {
  if (!strict.enabled) return Status::Ok();
  FilterWalk walk{indexed, strict.RefusesUnindexed(update)};
  walk.Walk({}, filter);
  if (Status s = CheckLimit(walk.conditions, strict.filter_max_conditions, "conditions"); !s.ok()) {
    return s;
  }
  if (Status s = CheckLimit(walk.max_size, strict.condition_max_size, "condition size"); !s.ok()) {
    return s;
  }
  if (!walk.unindexed.empty()) {
    return StrictModeError("Index required but not found for \"" + walk.unindexed[0].key +
                               "\" of one of the following types: [" +
                               TypeList(walk.unindexed[0].types) + "]",
                           "Create an index for this key or use a different filter.");
  }
  return Status::Ok();
}

std::vector<UnindexedKey> UnindexedKeys(const index::Filter& filter, const IndexedFields& indexed) {
  FilterWalk walk{indexed, true};
  walk.Walk({}, filter);
  return std::move(walk.unindexed);
}

RateLimiter::RateLimiter(uint64_t per_minute, std::string what)
    : capacity_(static_cast<double>(per_minute)),
      what_(std::move(what)),
      tokens_(capacity_),
      refilled_(std::chrono::steady_clock::now()) {}

Status RateLimiter::Take(uint64_t cost) {
  const double need = static_cast<double>(cost);
  if (need > capacity_) {
    return Status(StatusCode::kResourceExhausted,
                  "Rate limiting exceeded: " + what_ + " rate limit exceeded: operation requires " +
                      std::to_string(cost) + " tokens but the limit is " + Text(capacity_) +
                      " per minute; split the operation");
  }
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - refilled_).count();
  tokens_ = std::min(capacity_, tokens_ + elapsed * capacity_ / 60.0);
  refilled_ = now;
  if (tokens_ >= need) {
    tokens_ -= need;
    return Status::Ok();
  }
  const double wait_s = std::ceil((need - tokens_) * 60.0 / capacity_);
  return Status(StatusCode::kResourceExhausted, "Rate limiting exceeded: " + what_ +
                                                    " rate limit exceeded, retry after " +
                                                    Text(wait_s) + "s");
}

}  // namespace qd::collection
