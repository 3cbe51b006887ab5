// LoadConfig: parse each layer into a plain tree, deep-merge the layers, then read the merged
// tree into the typed Config.
//
// Why a tree of our own (Value) rather than yaml-cpp nodes: merging needs value semantics
// (yaml-cpp nodes are shared references, so assigning one into another aliases them), and each
// leaf remembers which file or variable set it, so an error can say where the bad value came
// from. yaml-cpp is used only to parse text; it throws, so every call sits inside a try block.
//
// Rules the merge and the readers follow (compat.md §1, config.md):
//   * Keys are matched case-insensitively (lowercased when parsed), as Qdrant's config crate
//     does for environment variables; files are treated the same so `Log_Level` still works.
//   * Maps merge key by key; a scalar, a sequence or a null replaces what was there. The one
//     exception is a null over a section of the built-in defaults (`storage:` with every key
//     below it commented out): that is an empty section, not "delete all storage settings".
//   * A key the readers never ask for is unknown: a warning, never an error, so Qdrant's own
//     config files (with keys we do not implement) load unchanged.
//   * Explicit null: for an optional field it means "not set" (std::nullopt); service.grpc_port
//     is optional, so null disables gRPC. For a field that must have a value (http_port,
//     storage_path, ...) null is an error naming the key, like any other wrong type: silently
//     keeping the default would hide a config mistake. log_level never fails (see ReadLogLevel).
#include "libshared/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

#include "libshared/log.h"

extern char** environ;  // POSIX: the process environment, NULL-terminated "NAME=value" strings

namespace qd::config {
namespace {

constexpr std::string_view kEnvPrefix = "QDRANT__";
constexpr std::string_view kEnvSeparator = "__";
constexpr uint64_t kMaxUint = std::numeric_limits<uint64_t>::max();

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The merged tree.

// One node of a configuration layer or of the merged configuration.
struct Value {
  enum class Kind { kNull, kScalar, kSequence, kMap };

  Kind kind = Kind::kNull;
  std::string text;                       // kScalar: as written; kSequence: flow rendering
  std::map<std::string, Value> children;  // kMap; keys lowercased
  bool section = false;                   // a map of the built-in defaults (see Merge)
  std::string origin;                     // "config file X", "environment variable Y"; "" built-in
};

// The value as an error message shows it: scalars quoted as written, maps in flow style.
std::string Render(const Value& value) {
  switch (value.kind) {
    case Value::Kind::kNull:
      return "null";
    case Value::Kind::kScalar:
      return "\"" + value.text + "\"";
    case Value::Kind::kSequence:
      return value.text;
    case Value::Kind::kMap:
      break;
  }
  std::string out = "{";
  for (const auto& [key, child] : value.children) {
    if (out.size() > 1) out += ", ";
    out += key + ": " + Render(child);
    if (out.size() > 200) return out + ", ...}";
  }
  return out + "}";
}

std::string RenderYamlFlow(const YAML::Node& node) {
  // A node keeps the style it was written in; only a copy can be switched to flow style.
  YAML::Node copy = YAML::Clone(node);
  copy.SetStyle(YAML::EmitterStyle::Flow);
  YAML::Emitter emitter;
  emitter << copy;
  return emitter.good() ? std::string(emitter.c_str()) : std::string("[...]");
}

// Converts a parsed YAML node into a Value tagged with `origin`. Maps become sections when
// `sections` is set (the built-in defaults). Non-scalar map keys cannot name a config key: they
// are reported as warnings and skipped.
Value FromYaml(const YAML::Node& node, const std::string& origin, bool sections,
               std::vector<std::string>* warnings) {
  Value value;
  value.origin = origin;
  if (!node.IsDefined() || node.IsNull()) return value;
  if (node.IsScalar()) {
    value.kind = Value::Kind::kScalar;
    value.text = node.Scalar();
    return value;
  }
  if (node.IsSequence()) {
    value.kind = Value::Kind::kSequence;
    value.text = RenderYamlFlow(node);
    return value;
  }
  value.kind = Value::Kind::kMap;
  value.section = sections;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      warnings->push_back(
          origin + ": ignoring a key that is not a plain name: " + RenderYamlFlow(entry.first));
      continue;
    }
    value.children[Lowercase(entry.first.Scalar())] =
        FromYaml(entry.second, origin, sections, warnings);
  }
  return value;
}

// Lays `layer` over `base`; see the rules at the top of this file.
void Merge(Value* base, const Value& layer) {
  if (layer.kind == Value::Kind::kNull && base->section) return;
  if (layer.kind == Value::Kind::kMap && base->kind == Value::Kind::kMap) {
    for (const auto& [key, child] : layer.children) Merge(&base->children[key], child);
    return;
  }
  *base = layer;
}

// ---------------------------------------------------------------------------------------------
// Layers.

// Parses YAML text into a layer. Errors: kInvalidArgument naming `origin` with yaml-cpp's
// line/column message, or when the document is not a map of keys.
Result<Value> ParseLayer(const std::string& text, const std::string& origin, bool sections,
                         std::vector<std::string>* warnings) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(origin + ": malformed YAML: " + e.what());
  }
  Value layer = FromYaml(root, origin, sections, warnings);
  if (layer.kind != Value::Kind::kNull && layer.kind != Value::Kind::kMap) {
    return Status::InvalidArgument(
        origin + ": expected a map of config keys at the top level, got " + Render(layer));
  }
  return layer;
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::InvalidArgument("config file " + path.string() + " is not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.is_open() || in.bad()) {
    return Status::InvalidArgument("cannot read config file " + path.string());
  }
  return text;
}

// A leaf from an environment variable. Values are YAML scalars: `null`, `~` and the empty
// string are null, anything else is kept as written and typed by the reader that asks for it
// (`true`, `6335`, `0.5`). We do not run the value through the YAML parser: it would treat a
// leading `#`, `!`, `&` or `*` as syntax and could turn an API key such as `#s3cret` into null.
Value EnvValue(const std::string& name, const std::string& raw) {
  Value leaf;
  leaf.origin = "environment variable " + name;
  if (raw.empty() || raw == "~" || raw == "null" || raw == "Null" || raw == "NULL") return leaf;
  leaf.kind = Value::Kind::kScalar;
  leaf.text = raw;
  return leaf;
}

// Splits QDRANT__A__B into {"a", "b"}; an empty list when a part is empty (`QDRANT__`,
// `QDRANT__A____B`).
std::vector<std::string> EnvPath(std::string_view name) {
  std::vector<std::string> path;
  for (size_t start = kEnvPrefix.size();;) {
    size_t end = name.find(kEnvSeparator, start);
    std::string segment = Lowercase(name.substr(start, end - start));
    if (segment.empty()) return {};
    path.push_back(std::move(segment));
    if (end == std::string_view::npos) return path;
    start = end + kEnvSeparator.size();
  }
}

// The QDRANT__SECTION__KEY=value variables as one layer; other variables are not ours.
Value EnvLayer(const std::map<std::string, std::string>& env, std::vector<std::string>* warnings) {
  Value layer;
  layer.kind = Value::Kind::kMap;
  for (const auto& [name, raw] : env) {
    if (name.compare(0, kEnvPrefix.size(), kEnvPrefix) != 0) continue;
    std::vector<std::string> path = EnvPath(name);
    if (path.empty()) {
      warnings->push_back("ignoring environment variable " + name +
                          ": expected QDRANT__SECTION__KEY with no empty parts");
      continue;
    }
    Value* node = &layer;
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      node = &node->children[path[i]];
      if (node->kind != Value::Kind::kMap) {
        *node = Value();
        node->kind = Value::Kind::kMap;
      }
    }
    node->children[path.back()] = EnvValue(name, raw);
  }
  return layer;
}

// ---------------------------------------------------------------------------------------------
// Reading the merged tree into Config.

std::optional<uint64_t> ParseUint(std::string_view text, uint64_t min, uint64_t max) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

std::string UintExpectation(uint64_t min, uint64_t max) {
  if (max != kMaxUint) {
    return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  }
  return min == 0 ? "a non-negative integer" : "an integer >= " + std::to_string(min);
}

std::optional<bool> ParseBool(const std::string& text) {
  bool value = false;
  if (YAML::convert<bool>::decode(YAML::Node(text), value)) return value;
  return std::nullopt;
}

std::optional<double> ParseFraction(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  if (!std::isfinite(value) || value < 0 || value > 1) return std::nullopt;
  return value;
}

std::optional<double> ParsePositive(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  if (!std::isfinite(value) || value <= 0) return std::nullopt;
  return value;
}

std::optional<NodeType> ParseNodeType(std::string_view text) {
  std::string lower = Lowercase(text);
  if (lower == "normal") return NodeType::kNormal;
  if (lower == "listener") return NodeType::kListener;
  return std::nullopt;
}

std::optional<std::string> ParseTransferMethod(std::string_view text) {
  std::string lower = Lowercase(text);
  if (lower == "stream_records" || lower == "snapshot" || lower == "wal_delta") return lower;
  return std::nullopt;
}

// Reads typed fields out of the merged tree by dotted path. Every path asked for becomes a
// known key; what is left over afterwards is reported as unknown. A getter leaves its output
// unchanged when the key is absent and records the first error it meets, so the Read*
// functions below are straight lists of fields; status() tells whether all went well.
class Reader {
 public:
  explicit Reader(const Value& root) : root_(root) {}

  void Uint(std::string_view path, uint64_t* out, uint64_t min = 0, uint64_t max = kMaxUint) {
    Get(path, out, UintExpectation(min, max),
        [&](const std::string& text) { return ParseUint(text, min, max); });
  }
  void OptionalUint(std::string_view path, std::optional<uint64_t>* out, uint64_t min = 0) {
    GetOptional(path, out, UintExpectation(min, kMaxUint),
                [&](const std::string& text) { return ParseUint(text, min, kMaxUint); });
  }
  void Port(std::string_view path, uint16_t* out) {
    Get(path, out, UintExpectation(1, 65535), ParsePort);
  }
  void OptionalPort(std::string_view path, std::optional<uint16_t>* out) {
    GetOptional(path, out, UintExpectation(1, 65535) + " or null", ParsePort);
  }
  void Bool(std::string_view path, bool* out) { Get(path, out, "true or false", ParseBool); }
  void OptionalBool(std::string_view path, std::optional<bool>* out) {
    GetOptional(path, out, "true, false or null", ParseBool);
  }
  void String(std::string_view path, std::string* out) {
    Get(path, out, "a string", [](const std::string& text) { return std::optional(text); });
  }
  void OptionalString(std::string_view path, std::optional<std::string>* out) {
    GetOptional(path, out, "a string or null",
                [](const std::string& text) { return std::optional(text); });
  }
  void Fraction(std::string_view path, double* out) {
    Get(path, out, "a number from 0 to 1", ParseFraction);
  }
  void OptionalPositive(std::string_view path, std::optional<double>* out) {
    GetOptional(path, out, "a number above 0 or null", ParsePositive);
  }
  void NodeTypeValue(std::string_view path, NodeType* out) {
    Get(path, out, "Normal or Listener", ParseNodeType);
  }
  void TransferMethod(std::string_view path, std::optional<std::string>* out) {
    GetOptional(path, out, "stream_records, snapshot, wal_delta or null", ParseTransferMethod);
  }
  // A documented key whose value qdrantd does not interpret yet: known, anything accepted.
  void Opaque(std::string_view path) { Find(path); }

  // Marks `path` known and returns its value, or nullptr when it is absent (or a parent is not a
  // map, which is recorded as an error).
  const Value* Find(std::string_view path) {
    known_leaves_.emplace(path);
    for (size_t dot = path.find('.'); dot != std::string_view::npos;
         dot = path.find('.', dot + 1)) {
      known_sections_.emplace(path.substr(0, dot));
    }
    const Value* node = &root_;
    for (size_t start = 0;;) {
      size_t dot = path.find('.', start);
      if (node->kind != Value::Kind::kMap) {
        if (node->kind != Value::Kind::kNull) {
          Fail(start == 0 ? "(top level)" : path.substr(0, start - 1), *node,
               "a map of config keys");
        }
        return nullptr;
      }
      auto it = node->children.find(std::string(path.substr(start, dot - start)));
      if (it == node->children.end()) return nullptr;
      node = &it->second;
      if (dot == std::string_view::npos) return node;
      start = dot + 1;
    }
  }

  // Records an error for `path` unless one was recorded already; the message names the key,
  // the value and what was expected, prefixed by where the value came from.
  void Fail(std::string_view path, const Value& value, std::string_view expected) {
    if (!status_.ok()) return;
    Status error =
        Status::InvalidArgument("invalid value for config key " + std::string(path) + ": " +
                                Render(value) + " (expected " + std::string(expected) + ")");
    status_ = value.origin.empty() ? error : error.WithContext(value.origin);
  }

  const Status& status() const { return status_; }

  // Appends a warning for every key in the tree that no getter asked for. Reports the topmost
  // unknown key only (`inference`, not each key below it).
  void CollectUnknown(std::vector<std::string>* warnings) const {
    CollectUnknown(root_, "", warnings);
  }

 private:
  static std::optional<uint16_t> ParsePort(const std::string& text) {
    std::optional<uint64_t> port = ParseUint(text, 1, 65535);
    if (!port) return std::nullopt;
    return static_cast<uint16_t>(*port);
  }

  template <typename T, typename Parse>
  void Get(std::string_view path, T* out, const std::string& expected, Parse parse) {
    const Value* value = Find(path);
    if (value == nullptr) return;
    std::optional<T> parsed;
    if (value->kind == Value::Kind::kScalar) parsed = parse(value->text);
    if (parsed) {
      *out = std::move(*parsed);
    } else {
      Fail(path, *value, expected);
    }
  }

  template <typename T, typename Parse>
  void GetOptional(std::string_view path, std::optional<T>* out, const std::string& expected,
                   Parse parse) {
    const Value* value = Find(path);
    if (value == nullptr) return;
    if (value->kind == Value::Kind::kNull) {
      out->reset();
      return;
    }
    T parsed{};
    Get(path, &parsed, expected, parse);
    if (status_.ok()) *out = std::move(parsed);
  }

  void CollectUnknown(const Value& map, const std::string& prefix,
                      std::vector<std::string>* warnings) const {
    for (const auto& [key, child] : map.children) {
      std::string path = prefix.empty() ? key : prefix + "." + key;
      if (known_leaves_.count(path) != 0) continue;
      if (known_sections_.count(path) != 0) {
        if (child.kind == Value::Kind::kMap) CollectUnknown(child, path, warnings);
        continue;
      }
      warnings->push_back("unknown config key " + path + " (ignored)");
    }
  }

  const Value& root_;
  std::set<std::string, std::less<>> known_leaves_;
  std::set<std::string, std::less<>> known_sections_;
  Status status_;
};

void ReadStorage(Reader& r, StorageConfig* s) {
  r.String("storage.storage_path", &s->storage_path);
  r.String("storage.snapshots_path", &s->snapshots_path);
  r.OptionalString("storage.temp_path", &s->temp_path);
  r.Bool("storage.on_disk_payload", &s->on_disk_payload);
  r.OptionalUint("storage.update_concurrency", &s->update_concurrency, 1);
  r.Uint("storage.wal.wal_capacity_mb", &s->wal.wal_capacity_mb, 1);
  r.Uint("storage.wal.wal_segments_ahead", &s->wal.wal_segments_ahead);
  r.NodeTypeValue("storage.node_type", &s->node_type);

  PerformanceConfig& p = s->performance;
  r.Uint("storage.performance.max_search_threads", &p.max_search_threads);
  r.Uint("storage.performance.optimizer_cpu_budget", &p.optimizer_cpu_budget);
  r.OptionalUint("storage.performance.update_rate_limit", &p.update_rate_limit);
  r.Uint("storage.performance.incoming_shard_transfers_limit", &p.incoming_shard_transfers_limit);
  r.Uint("storage.performance.outgoing_shard_transfers_limit", &p.outgoing_shard_transfers_limit);
  r.OptionalPositive("storage.performance.shard_transfer_rate_limit_mb",
                     &p.shard_transfer_rate_limit_mb);

  OptimizersConfig& o = s->optimizers;
  r.Fraction("storage.optimizers.deleted_threshold", &o.deleted_threshold);
  r.Uint("storage.optimizers.vacuum_min_vector_number", &o.vacuum_min_vector_number);
  r.Uint("storage.optimizers.default_segment_number", &o.default_segment_number);
  r.OptionalUint("storage.optimizers.max_segment_size_kb", &o.max_segment_size_kb);
  r.Uint("storage.optimizers.indexing_threshold_kb", &o.indexing_threshold_kb);
  r.Uint("storage.optimizers.flush_interval_sec", &o.flush_interval_sec);
  r.OptionalUint("storage.optimizers.max_optimization_threads", &o.max_optimization_threads);

  HnswIndexConfig& h = s->hnsw_index;
  r.Uint("storage.hnsw_index.m", &h.m);
  r.Uint("storage.hnsw_index.ef_construct", &h.ef_construct);
  r.Uint("storage.hnsw_index.full_scan_threshold_kb", &h.full_scan_threshold_kb);
  r.Uint("storage.hnsw_index.max_indexing_threads", &h.max_indexing_threads);
  r.Bool("storage.hnsw_index.on_disk", &h.on_disk);
  r.OptionalUint("storage.hnsw_index.payload_m", &h.payload_m);

  r.TransferMethod("storage.shard_transfer_method", &s->shard_transfer_method);
  CollectionDefaults& c = s->collection;
  r.Uint("storage.collection.replication_factor", &c.replication_factor, 1);
  r.Uint("storage.collection.write_consistency_factor", &c.write_consistency_factor, 1);
  r.OptionalBool("storage.collection.vectors.on_disk", &c.vectors_on_disk);
  r.Opaque("storage.collection.quantization");
  r.OptionalUint("storage.max_collections", &s->max_collections);
}

void ReadService(Reader& r, ServiceConfig* s) {
  r.String("service.host", &s->host);
  r.Port("service.http_port", &s->http_port);
  r.OptionalPort("service.grpc_port", &s->grpc_port);
  // Upper bound: the daemon shifts this into bytes; 1 TiB is far beyond any real body.
  r.Uint("service.max_request_size_mb", &s->max_request_size_mb, 1, uint64_t{1} << 20);
  r.Uint("service.max_workers", &s->max_workers);
  r.Bool("service.enable_cors", &s->enable_cors);
  r.Bool("service.enable_tls", &s->enable_tls);
  r.Bool("service.verify_https_client_certificate", &s->verify_https_client_certificate);
  r.OptionalString("service.api_key", &s->api_key);
  r.OptionalString("service.read_only_api_key", &s->read_only_api_key);
  r.Bool("service.jwt_rbac", &s->jwt_rbac);
  r.Uint("service.http_keep_alive_timeout_sec", &s->http_keep_alive_timeout_sec);
}

void ReadCluster(Reader& r, ClusterConfig* c) {
  r.Bool("cluster.enabled", &c->enabled);
  r.Uint("cluster.grpc_timeout_ms", &c->grpc_timeout_ms);
  r.Uint("cluster.connection_timeout_ms", &c->connection_timeout_ms);
  r.Port("cluster.p2p.port", &c->p2p.port);
  r.Uint("cluster.p2p.connection_pool_size", &c->p2p.connection_pool_size, 1);
  r.Bool("cluster.p2p.enable_tls", &c->p2p.enable_tls);
  ConsensusConfig& k = c->consensus;
  r.Uint("cluster.consensus.tick_period_ms", &k.tick_period_ms, 1);
  r.Uint("cluster.consensus.bootstrap_timeout_sec", &k.bootstrap_timeout_sec);
  r.Uint("cluster.consensus.max_message_queue_size", &k.max_message_queue_size, 1);
  r.Uint("cluster.consensus.message_timeout_ticks", &k.message_timeout_ticks, 1);
  r.Uint("cluster.consensus.compact_wal_entries", &k.compact_wal_entries, 1);
  r.Bool("cluster.rebalance.on_join", &c->rebalance.on_join);
  r.Uint("cluster.rebalance.dead_peer_timeout_sec", &c->rebalance.dead_peer_timeout_sec);
}

void ReadTls(Reader& r, TlsConfig* t) {
  r.String("tls.cert", &t->cert);
  r.String("tls.key", &t->key);
  r.String("tls.ca_cert", &t->ca_cert);
  r.Uint("tls.cert_ttl", &t->cert_ttl);
}

// An unusable log level must never stop startup (compat.md §1.3): keep what was written when
// log::ParseLevel understands it (plain levels and filter lists), otherwise warn and use INFO.
void ReadLogLevel(Reader& r, std::string* log_level, std::vector<std::string>* warnings) {
  const Value* value = r.Find("log_level");
  if (value == nullptr) return;
  if (value->kind == Value::Kind::kScalar && log::ParseLevel(value->text)) {
    *log_level = value->text;
    return;
  }
  std::string shown = value->kind == Value::Kind::kScalar ? value->text : Render(*value);
  warnings->push_back("log_level \"" + shown + "\" is not understood; using INFO");
  *log_level = "INFO";
}

// Constraints between fields, checked once every field has been read.
void CheckConsistency(Reader& r, const Config& config) {
  const CollectionDefaults& c = config.storage.collection;
  if (c.write_consistency_factor <= c.replication_factor) return;
  constexpr std::string_view kKey = "storage.collection.write_consistency_factor";
  const Value* value = r.Find(kKey);
  Value shown;
  shown.kind = Value::Kind::kScalar;
  shown.text = std::to_string(c.write_consistency_factor);
  r.Fail(kKey, value != nullptr ? *value : shown,
         "at most storage.collection.replication_factor, which is " +
             std::to_string(c.replication_factor));
}

Result<Config> ReadConfig(const Value& root, std::vector<std::string>* warnings) {
  Config config;
  Reader reader(root);
  ReadLogLevel(reader, &config.log_level, warnings);
  ReadStorage(reader, &config.storage);
  ReadService(reader, &config.service);
  ReadCluster(reader, &config.cluster);
  ReadTls(reader, &config.tls);
  reader.Bool("telemetry_disabled", &config.telemetry_disabled);
  if (reader.status().ok()) CheckConsistency(reader, config);
  if (!reader.status().ok()) return reader.status();
  reader.CollectUnknown(warnings);
  return config;
}

// Adds the file at `path` to `merged` if it exists (or fails if it must exist).
Status MergeFile(const std::filesystem::path& path, bool required, Value* merged, Loaded* loaded) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!required) return Status::Ok();
    return Status::InvalidArgument("config file " + path.string() + " does not exist");
  }
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  Result<Value> layer = ParseLayer(*text, "config file " + path.string(), false, &loaded->warnings);
  if (!layer.ok()) return layer.status();
  Merge(merged, *layer);
  loaded->sources.push_back(path.string());
  return Status::Ok();
}

Result<Loaded> Load(const LoadOptions& options) {
  Loaded loaded;
  Result<Value> merged = ParseLayer(DefaultConfigYaml(), "", true, &loaded.warnings);
  if (!merged.ok()) return merged.status().WithContext("built-in default config");

  const std::filesystem::path dir = std::filesystem::path(options.working_dir) / "config";
  auto run_mode = options.env.find("RUN_MODE");
  std::string mode =
      run_mode == options.env.end() || run_mode->second.empty() ? "development" : run_mode->second;
  for (const std::string& name : {std::string("config"), mode, std::string("local")}) {
    Status s = MergeFile(dir / (name + ".yaml"), false, &*merged, &loaded);
    if (!s.ok()) return s;
  }
  if (options.overrides.config_path) {
    Status s = MergeFile(*options.overrides.config_path, true, &*merged, &loaded);
    if (!s.ok()) return s;
  }
  Merge(&*merged, EnvLayer(options.env, &loaded.warnings));

  Result<Config> config = ReadConfig(*merged, &loaded.warnings);
  if (!config.ok()) return config.status();
  loaded.config = std::move(*config);
  if (options.overrides.disable_telemetry) loaded.config.telemetry_disabled = true;
  return loaded;
}

}  // namespace

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    size_t eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

Result<Loaded> LoadConfig(const LoadOptions& options) {
  // yaml-cpp and the standard library may throw (bad_alloc, yaml-cpp internals); nothing may
  // escape to the caller.
  try {
    return Load(options);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("cannot load the configuration: ") + e.what());
  } catch (...) {
    return Status::InvalidArgument("cannot load the configuration: unknown error");
  }
}

}  // namespace qd::config
