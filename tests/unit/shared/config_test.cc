// LoadConfig: defaults, layering, environment overrides, errors and tolerance (compat.md §1).
#include "libshared/config.h"

#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace qd::config {
namespace {

using Env = std::map<std::string, std::string>;

LoadOptions Options(const test::TempDir& dir, Env env = {}) {
  LoadOptions options;
  options.working_dir = dir.path();
  options.env = std::move(env);
  return options;
}

Loaded MustLoad(const LoadOptions& options) {
  Result<Loaded> loaded = LoadConfig(options);
  INFO(loaded.status().message());
  REQUIRE(loaded.ok());
  return std::move(loaded).value();
}

// The message of the error LoadConfig must return.
std::string LoadError(const LoadOptions& options) {
  Result<Loaded> loaded = LoadConfig(options);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().code() == StatusCode::kInvalidArgument);
  return loaded.status().message();
}

bool HasWarning(const Loaded& loaded, const std::string& text) {
  for (const auto& warning : loaded.warnings) {
    if (warning.find(text) != std::string::npos) return true;
  }
  return false;
}

// Shapes of Qdrant's own config/ files (abridged but with the kinds of keys that matter: keys
// qdrantd does not implement, nulls, commented-out blocks, quoted values).
constexpr const char* kQdrantConfigYaml = R"(log_level: INFO

logger:
  # on_disk:
  #   enabled: true
  #   log_file: path/to/log/file.log
  format: text

storage:
  # Where to store all the data
  storage_path: ./storage
  snapshots_path: ./snapshots
  snapshots_config:
    snapshots_storage: local
    # s3_config:
    #   bucket: ""
  temp_path: null
  on_disk_payload: true
  update_concurrency: null
  wal:
    wal_capacity_mb: 32
    wal_segments_ahead: 0
  node_type: "Normal"
  performance:
    max_search_threads: 0
    optimizer_cpu_budget: 0
    update_rate_limit: null
    # incoming_shard_transfers_limit: 1
    # outgoing_shard_transfers_limit: 1
    async_scorer: false
  optimizers:
    deleted_threshold: 0.2
    vacuum_min_vector_number: 1000
    default_segment_number: 0
    max_segment_size_kb: null
    memmap_threshold_kb: null
    indexing_threshold_kb: 20000
    flush_interval_sec: 5
    max_optimization_threads: null
  hnsw_index:
    m: 16
    ef_construct: 100
    full_scan_threshold_kb: 10000
    max_indexing_threads: 0
    on_disk: false
    payload_m: null
  shard_transfer_method: null
  collection:
    replication_factor: 1
    write_consistency_factor: 1
    vectors:
      on_disk: null
    quantization: null
    strict_mode:
      enabled: false
      max_query_limit: null
      multivector_config: null
  max_collections: null

service:
  max_request_size_mb: 32
  max_workers: 0
  host: 0.0.0.0
  http_port: 6333
  grpc_port: 6334
  enable_cors: true
  enable_tls: false
  verify_https_client_certificate: false
  # api_key: your_secret_api_key_here
  # read_only_api_key: your_secret_read_only_api_key_here
  # jwt_rbac: true
  hardware_reporting: false

cluster:
  enabled: false
  p2p:
    port: 6335
    enable_tls: false
  consensus:
    tick_period_ms: 100
    compact_wal_entries: 128

telemetry_disabled: false

# tls:
#   cert: ./tls/cert.pem
#   key: ./tls/key.pem
#   ca_cert: ./tls/cacert.pem
#   cert_ttl: 3600
)";

constexpr const char* kQdrantDevelopmentYaml = R"(log_level: DEBUG

service:
  enable_cors: true
  # http_port: 6333

storage:
  optimizers:
    # Set to 0 to index every segment right away
    default_segment_number: 2
  # performance:
  #   max_search_threads: 1
)";

constexpr const char* kQdrantProductionYaml = R"(log_level: INFO

service:
  host: 0.0.0.0
  http_port: 6333
  grpc_port: 6334
)";

constexpr const char* kQdrantDebYaml = R"(storage:
  storage_path: /var/lib/qdrant/storage
  snapshots_path: /var/lib/qdrant/snapshots
)";

TEST_CASE("built-in defaults are those of config.md", "[unit][config]") {
  test::TempDir dir;
  Loaded loaded = MustLoad(Options(dir));
  const Config& c = loaded.config;
  CHECK(loaded.sources.empty());
  CHECK(loaded.warnings.empty());
  CHECK(c.log_level == "INFO");
  CHECK(c.storage.storage_path == "./storage");
  CHECK(c.storage.snapshots_path == "./snapshots");
  CHECK_FALSE(c.storage.temp_path);
  CHECK(c.storage.on_disk_payload);
  CHECK_FALSE(c.storage.update_concurrency);
  CHECK(c.storage.wal.wal_capacity_mb == 32);
  CHECK(c.storage.node_type == NodeType::kNormal);
  CHECK(c.storage.performance.incoming_shard_transfers_limit == 1);
  CHECK(c.storage.performance.outgoing_shard_transfers_limit == 1);
  CHECK_FALSE(c.storage.performance.update_rate_limit);
  CHECK(c.storage.optimizers.deleted_threshold == Approx(0.2));
  CHECK(c.storage.optimizers.indexing_threshold_kb == 10000);
  CHECK(c.storage.hnsw_index.m == 16);
  CHECK(c.storage.hnsw_index.ef_construct == 100);
  CHECK_FALSE(c.storage.shard_transfer_method);
  CHECK(c.storage.collection.replication_factor == 1);
  CHECK(c.storage.collection.write_consistency_factor == 1);
  CHECK_FALSE(c.storage.collection.vectors_on_disk);
  CHECK(c.service.host == "0.0.0.0");
  CHECK(c.service.http_port == 6333);
  CHECK(c.service.grpc_port == std::optional<uint16_t>(6334));
  CHECK(c.service.max_request_size_mb == 32);
  CHECK(c.service.enable_cors);
  CHECK_FALSE(c.service.api_key);
  CHECK_FALSE(c.service.read_only_api_key);
  CHECK_FALSE(c.cluster.enabled);
  CHECK(c.cluster.grpc_timeout_ms == 60000);
  CHECK(c.cluster.p2p.port == 6335);
  CHECK(c.cluster.p2p.connection_pool_size == 2);
  CHECK(c.cluster.consensus.tick_period_ms == 100);
  CHECK(c.cluster.consensus.bootstrap_timeout_sec == 15);
  CHECK(c.cluster.consensus.max_message_queue_size == 100);
  CHECK(c.cluster.consensus.compact_wal_entries == 128);
  CHECK(c.cluster.rebalance.on_join);
  CHECK(c.cluster.rebalance.dead_peer_timeout_sec == 600);
  CHECK_FALSE(c.telemetry_disabled);
  CHECK(c.tls.cert == "./tls/cert.pem");
  CHECK(c.tls.cert_ttl == 3600);
}

// conf/config.yaml and the struct's member initialisers state the same defaults twice; a key
// missing from the YAML falls back to the struct, so the two must agree.
TEST_CASE("conf/config.yaml agrees with the defaults in config.h", "[unit][config]") {
  test::TempDir dir;
  const Config c = MustLoad(Options(dir)).config;
  const Config d;
  const StorageConfig &s = c.storage, &t = d.storage;
  CHECK(s.storage_path == t.storage_path);
  CHECK(s.snapshots_path == t.snapshots_path);
  CHECK(s.temp_path == t.temp_path);
  CHECK(s.on_disk_payload == t.on_disk_payload);
  CHECK(s.update_concurrency == t.update_concurrency);
  CHECK(s.wal.wal_capacity_mb == t.wal.wal_capacity_mb);
  CHECK(s.wal.wal_segments_ahead == t.wal.wal_segments_ahead);
  CHECK(s.node_type == t.node_type);
  CHECK(s.performance.max_search_threads == t.performance.max_search_threads);
  CHECK(s.performance.optimizer_cpu_budget == t.performance.optimizer_cpu_budget);
  CHECK(s.performance.update_rate_limit == t.performance.update_rate_limit);
  CHECK(s.performance.incoming_shard_transfers_limit ==
        t.performance.incoming_shard_transfers_limit);
  CHECK(s.performance.outgoing_shard_transfers_limit ==
        t.performance.outgoing_shard_transfers_limit);
  CHECK(s.optimizers.deleted_threshold == t.optimizers.deleted_threshold);
  CHECK(s.optimizers.vacuum_min_vector_number == t.optimizers.vacuum_min_vector_number);
  CHECK(s.optimizers.default_segment_number == t.optimizers.default_segment_number);
  CHECK(s.optimizers.max_segment_size_kb == t.optimizers.max_segment_size_kb);
  CHECK(s.optimizers.indexing_threshold_kb == t.optimizers.indexing_threshold_kb);
  CHECK(s.optimizers.flush_interval_sec == t.optimizers.flush_interval_sec);
  CHECK(s.optimizers.max_optimization_threads == t.optimizers.max_optimization_threads);
  CHECK(s.hnsw_index.m == t.hnsw_index.m);
  CHECK(s.hnsw_index.ef_construct == t.hnsw_index.ef_construct);
  CHECK(s.hnsw_index.full_scan_threshold_kb == t.hnsw_index.full_scan_threshold_kb);
  CHECK(s.hnsw_index.max_indexing_threads == t.hnsw_index.max_indexing_threads);
  CHECK(s.hnsw_index.on_disk == t.hnsw_index.on_disk);
  CHECK(s.hnsw_index.payload_m == t.hnsw_index.payload_m);
  CHECK(s.shard_transfer_method == t.shard_transfer_method);
  CHECK(s.collection.replication_factor == t.collection.replication_factor);
  CHECK(s.collection.write_consistency_factor == t.collection.write_consistency_factor);
  CHECK(s.collection.vectors_on_disk == t.collection.vectors_on_disk);
  CHECK(s.max_collections == t.max_collections);
  CHECK(c.service.host == d.service.host);
  CHECK(c.service.http_port == d.service.http_port);
  CHECK(c.service.grpc_port == d.service.grpc_port);
  CHECK(c.service.max_request_size_mb == d.service.max_request_size_mb);
  CHECK(c.service.max_workers == d.service.max_workers);
  CHECK(c.service.enable_cors == d.service.enable_cors);
  CHECK(c.service.enable_tls == d.service.enable_tls);
  CHECK(c.service.verify_https_client_certificate == d.service.verify_https_client_certificate);
  CHECK(c.service.api_key == d.service.api_key);
  CHECK(c.service.read_only_api_key == d.service.read_only_api_key);
  CHECK(c.service.http_keep_alive_timeout_sec == d.service.http_keep_alive_timeout_sec);
  CHECK(c.cluster.enabled == d.cluster.enabled);
  CHECK(c.cluster.grpc_timeout_ms == d.cluster.grpc_timeout_ms);
  CHECK(c.cluster.connection_timeout_ms == d.cluster.connection_timeout_ms);
  CHECK(c.cluster.p2p.port == d.cluster.p2p.port);
  CHECK(c.cluster.p2p.connection_pool_size == d.cluster.p2p.connection_pool_size);
  CHECK(c.cluster.p2p.enable_tls == d.cluster.p2p.enable_tls);
  CHECK(c.cluster.consensus.tick_period_ms == d.cluster.consensus.tick_period_ms);
  CHECK(c.cluster.consensus.bootstrap_timeout_sec == d.cluster.consensus.bootstrap_timeout_sec);
  CHECK(c.cluster.consensus.max_message_queue_size == d.cluster.consensus.max_message_queue_size);
  CHECK(c.cluster.consensus.message_timeout_ticks == d.cluster.consensus.message_timeout_ticks);
  CHECK(c.cluster.consensus.compact_wal_entries == d.cluster.consensus.compact_wal_entries);
  CHECK(c.cluster.rebalance.on_join == d.cluster.rebalance.on_join);
  CHECK(c.cluster.rebalance.dead_peer_timeout_sec == d.cluster.rebalance.dead_peer_timeout_sec);
  CHECK(c.tls.cert == d.tls.cert);
  CHECK(c.tls.key == d.tls.key);
  CHECK(c.tls.ca_cert == d.tls.ca_cert);
  CHECK(c.tls.cert_ttl == d.tls.cert_ttl);
  CHECK(c.telemetry_disabled == d.telemetry_disabled);
  CHECK(c.log_level == d.log_level);
}

TEST_CASE("the default config is valid as a config file and embeds safely", "[unit][config]") {
  const std::string yaml = DefaultConfigYaml();
  CHECK(yaml.find(")qdconfig\"") == std::string::npos);
  test::TempDir dir;
  LoadOptions options = Options(dir);
  options.overrides.config_path = dir.Write("etc/config.yaml", yaml);
  Loaded loaded = MustLoad(options);
  CHECK(loaded.warnings.empty());  // every key in it is one qdrantd knows
  CHECK(loaded.sources == std::vector<std::string>{*options.overrides.config_path});
}

// Each row enables the layers up to `top`; each layer sets service.http_port to its own value,
// so the port tells which layer won. Layers: 1 config.yaml, 2 ${RUN_MODE}.yaml, 3 local.yaml,
// 4 --config-path, 5 environment.
TEST_CASE("each config layer overrides the previous one", "[unit][config]") {
  struct Row {
    int top;
    uint16_t port;
  };
  const std::vector<Row> rows = {{0, 6333}, {1, 7001}, {2, 7002}, {3, 7003}, {4, 7004}, {5, 7005}};
  for (const Row& row : rows) {
    INFO("layers up to " << row.top);
    test::TempDir dir;
    auto port_yaml = [](int port) {
      return "service:\n  http_port: " + std::to_string(port) + "\n";
    };
    LoadOptions options = Options(dir);
    std::vector<std::string> files;
    if (row.top >= 1) files.push_back(dir.Write("config/config.yaml", port_yaml(7001)));
    if (row.top >= 2) files.push_back(dir.Write("config/development.yaml", port_yaml(7002)));
    if (row.top >= 3) files.push_back(dir.Write("config/local.yaml", port_yaml(7003)));
    if (row.top >= 4) {
      options.overrides.config_path = dir.Write("custom.yaml", port_yaml(7004));
      files.push_back(*options.overrides.config_path);
    }
    if (row.top >= 5) options.env["QDRANT__SERVICE__HTTP_PORT"] = "7005";
    Loaded loaded = MustLoad(options);
    CHECK(loaded.config.service.http_port == row.port);
    CHECK(loaded.sources == files);
  }
}

TEST_CASE("command-line flags win over every other layer", "[unit][config]") {
  test::TempDir dir;
  dir.Write("config/config.yaml", "telemetry_disabled: false\n");
  LoadOptions options = Options(dir, {{"QDRANT__TELEMETRY_DISABLED", "false"}});
  CHECK_FALSE(MustLoad(options).config.telemetry_disabled);
  options.overrides.disable_telemetry = true;
  CHECK(MustLoad(options).config.telemetry_disabled);

  // Without the flag, a lower layer's true stands.
  LoadOptions from_env = Options(dir, {{"QDRANT__TELEMETRY_DISABLED", "true"}});
  CHECK(MustLoad(from_env).config.telemetry_disabled);
}

TEST_CASE("layers merge key by key", "[unit][config]") {
  test::TempDir dir;
  dir.Write("config/config.yaml", "service:\n  http_port: 7001\ncluster:\n  enabled: true\n");
  dir.Write("config/local.yaml", "service:\n  grpc_port: 7002\n");
  const Config c =
      MustLoad(Options(dir, {{"QDRANT__CLUSTER__CONSENSUS__TICK_PERIOD_MS", "50"}})).config;
  CHECK(c.service.http_port == 7001);
  CHECK(c.service.grpc_port == std::optional<uint16_t>(7002));
  CHECK(c.service.host == "0.0.0.0");
  CHECK(c.cluster.enabled);
  CHECK(c.cluster.consensus.tick_period_ms == 50);
  CHECK(c.cluster.consensus.compact_wal_entries == 128);
}

TEST_CASE("RUN_MODE selects the second config file", "[unit][config]") {
  test::TempDir dir;
  dir.Write("config/development.yaml", "service:\n  http_port: 7002\n");
  const std::string production =
      dir.Write("config/production.yaml", "service:\n  http_port: 7003\n");
  CHECK(MustLoad(Options(dir)).config.service.http_port == 7002);
  CHECK(MustLoad(Options(dir, {{"RUN_MODE", ""}})).config.service.http_port == 7002);
  Loaded loaded = MustLoad(Options(dir, {{"RUN_MODE", "production"}}));
  CHECK(loaded.config.service.http_port == 7003);
  CHECK(loaded.sources == std::vector<std::string>{production});
  CHECK(MustLoad(Options(dir, {{"RUN_MODE", "staging"}})).config.service.http_port == 6333);
}

TEST_CASE("empty files and empty sections change nothing", "[unit][config]") {
  test::TempDir dir;
  const std::string empty = dir.Write("config/config.yaml", "");
  const std::string comments =
      dir.Write("config/local.yaml", "# nothing yet\nstorage:\n  # wal:\n");
  Loaded loaded = MustLoad(Options(dir));
  CHECK(loaded.sources == std::vector<std::string>{empty, comments});
  CHECK(loaded.config.storage.storage_path == "./storage");
  CHECK(loaded.config.storage.wal.wal_capacity_mb == 32);
  CHECK(loaded.warnings.empty());
}

TEST_CASE("environment overrides are nested, case-insensitive and typed", "[unit][config]") {
  test::TempDir dir;
  const Env env = {
      {"QDRANT__CLUSTER__P2P__PORT", "6335"},
      {"QDRANT__CLUSTER__ENABLED", "true"},
      {"QDRANT__service__http_port", "7000"},
      {"QDRANT__SERVICE__GRPC_PORT", "7001"},
      {"QDRANT__SERVICE__HOST", "127.0.0.1"},
      {"QDRANT__SERVICE__API_KEY", "#s3cret: !yes"},
      {"QDRANT__LOG_LEVEL", "debug"},
      {"QDRANT__STORAGE__PERFORMANCE__INCOMING_SHARD_TRANSFERS_LIMIT", "0"},
      {"QDRANT__STORAGE__PERFORMANCE__OUTGOING_SHARD_TRANSFERS_LIMIT", "0"},
      {"QDRANT__STORAGE__NODE_TYPE", "Listener"},
      {"QDRANT__STORAGE__UPDATE_CONCURRENCY", "1"},
      {"QDRANT__STORAGE__WAL__WAL_CAPACITY_MB", "1"},
      {"QDRANT__STORAGE__OPTIMIZERS__DELETED_THRESHOLD", "0.5"},
      {"QDRANT__STORAGE__SHARD_TRANSFER_METHOD", "wal_delta"},
      {"QDRANT__CLUSTER__CONSENSUS__COMPACT_WAL_ENTRIES", "1"},
      // Not ours: read elsewhere or not at all, never warned about.
      {"QDRANT_URI", "http://127.0.0.1:6335"},
      {"QDRANT_BOOTSTRAP", "http://127.0.0.1:7335"},
      {"RUN_MODE", "development"},
      {"PATH", "/usr/bin"},
  };
  Loaded loaded = MustLoad(Options(dir, env));
  const Config& c = loaded.config;
  CHECK(loaded.warnings.empty());
  CHECK(c.cluster.p2p.port == 6335);
  CHECK(c.cluster.enabled);
  CHECK(c.service.http_port == 7000);
  CHECK(c.service.grpc_port == std::optional<uint16_t>(7001));
  CHECK(c.service.host == "127.0.0.1");
  CHECK(c.service.api_key == std::optional<std::string>("#s3cret: !yes"));
  CHECK(c.log_level == "debug");
  CHECK(c.storage.performance.incoming_shard_transfers_limit == 0);
  CHECK(c.storage.performance.outgoing_shard_transfers_limit == 0);
  CHECK(c.storage.node_type == NodeType::kListener);
  CHECK(c.storage.update_concurrency == std::optional<uint64_t>(1));
  CHECK(c.storage.wal.wal_capacity_mb == 1);
  CHECK(c.storage.optimizers.deleted_threshold == Approx(0.5));
  CHECK(c.storage.shard_transfer_method == std::optional<std::string>("wal_delta"));
  CHECK(c.cluster.consensus.compact_wal_entries == 1);
}

TEST_CASE("YAML spellings of booleans are accepted", "[unit][config]") {
  test::TempDir dir;
  for (const char* yes : {"true", "True", "TRUE", "yes", "on", "y"}) {
    INFO(yes);
    CHECK(MustLoad(Options(dir, {{"QDRANT__CLUSTER__ENABLED", yes}})).config.cluster.enabled);
  }
  for (const char* no : {"false", "False", "no", "off", "n"}) {
    INFO(no);
    CHECK_FALSE(
        MustLoad(Options(dir, {{"QDRANT__SERVICE__ENABLE_CORS", no}})).config.service.enable_cors);
  }
}

TEST_CASE("malformed QDRANT__ variables are ignored with a warning", "[unit][config]") {
  test::TempDir dir;
  Loaded loaded = MustLoad(Options(
      dir, {{"QDRANT__", "1"}, {"QDRANT__SERVICE____HTTP_PORT", "1"}, {"QDRANT__SERVICE__", "1"}}));
  CHECK(loaded.warnings.size() == 3);
  CHECK(HasWarning(loaded, "ignoring environment variable QDRANT__SERVICE____HTTP_PORT"));
  CHECK(loaded.config.service.http_port == 6333);
}

TEST_CASE("keys in files are case-insensitive like the environment's", "[unit][config]") {
  test::TempDir dir;
  dir.Write("config/config.yaml", "Service:\n  HTTP_PORT: 7010\nLog_Level: WARN\n");
  Loaded loaded = MustLoad(Options(dir));
  CHECK(loaded.config.service.http_port == 7010);
  CHECK(loaded.config.log_level == "WARN");
  CHECK(loaded.warnings.empty());
}

// Every bad value is rejected with kInvalidArgument, and the message names the key and the value.
TEST_CASE("wrong types and impossible values are errors naming key and value", "[unit][config]") {
  struct Row {
    const char* yaml;
    std::vector<std::string> expected;  // substrings of the message
  };
  const std::vector<Row> rows = {
      {"service:\n  http_port: 70000\n",
       {"invalid value for config key service.http_port: \"70000\" "
        "(expected an integer from 1 to 65535)"}},
      {"service:\n  http_port: abc\n",
       {"invalid value for config key service.http_port: \"abc\" "
        "(expected an integer from 1 to 65535)"}},
      {"service:\n  http_port: 0\n", {"service.http_port", "\"0\""}},
      {"service:\n  http_port: null\n", {"service.http_port", "null"}},
      {"service:\n  http_port: [1, 2]\n", {"service.http_port", "[1, 2]"}},
      {"service:\n  http_port: {port: 1}\n", {"service.http_port", "{port: \"1\"}"}},
      {"service:\n  grpc_port: 65536\n", {"service.grpc_port", "\"65536\""}},
      {"cluster:\n  p2p:\n    port: -5\n", {"cluster.p2p.port", "\"-5\""}},
      {"storage:\n  wal:\n    wal_capacity_mb: -1\n",
       {"storage.wal.wal_capacity_mb", "\"-1\"", "integer"}},
      {"storage:\n  performance:\n    max_search_threads: 1.5\n",
       {"storage.performance.max_search_threads", "\"1.5\"", "non-negative integer"}},
      {"storage:\n  max_collections: 18446744073709551616\n",
       {"storage.max_collections", "\"18446744073709551616\""}},
      {"cluster:\n  enabled: maybe\n", {"cluster.enabled", "\"maybe\"", "true or false"}},
      {"storage:\n  node_type: Bogus\n", {"storage.node_type", "\"Bogus\"", "Normal or Listener"}},
      {"storage:\n  shard_transfer_method: fastest\n",
       {"storage.shard_transfer_method", "\"fastest\"", "wal_delta"}},
      {"storage:\n  optimizers:\n    deleted_threshold: 1.5\n",
       {"storage.optimizers.deleted_threshold", "\"1.5\"", "from 0 to 1"}},
      {"storage:\n  collection:\n    replication_factor: 0\n",
       {"storage.collection.replication_factor", "\"0\""}},
      {"storage:\n  collection:\n    replication_factor: 2\n    write_consistency_factor: 3\n",
       {"storage.collection.write_consistency_factor", "\"3\"", "replication_factor, which is 2"}},
      {"service:\n  max_request_size_mb: 0\n", {"service.max_request_size_mb", "\"0\""}},
      {"cluster:\n  consensus:\n    tick_period_ms: 0\n",
       {"cluster.consensus.tick_period_ms", "\"0\""}},
      {"cluster:\n  consensus:\n    compact_wal_entries: 0\n",
       {"cluster.consensus.compact_wal_entries", "\"0\""}},
      {"storage:\n  storage_path: {a: b}\n", {"storage.storage_path", "{a: \"b\"}", "a string"}},
      {"storage:\n  wal: 5\n", {"storage.wal", "\"5\"", "a map"}},
      {"storage:\n  collection:\n    vectors:\n      on_disk: sometimes\n",
       {"storage.collection.vectors.on_disk", "\"sometimes\""}},
      {"tls:\n  cert_ttl: soon\n", {"tls.cert_ttl", "\"soon\""}},
  };
  for (const Row& row : rows) {
    INFO(row.yaml);
    test::TempDir dir;
    const std::string path = dir.Write("config/config.yaml", row.yaml);
    const std::string message = LoadError(Options(dir));
    INFO(message);
    CHECK(message.find("config file " + path) == 0);  // where the value came from
    for (const std::string& part : row.expected) CHECK(message.find(part) != std::string::npos);
  }
}

TEST_CASE("bad values from the environment are errors naming the variable", "[unit][config]") {
  struct Row {
    Env env;
    std::vector<std::string> expected;
  };
  const std::vector<Row> rows = {
      {{{"QDRANT__SERVICE__HTTP_PORT", "abc"}},
       {"environment variable QDRANT__SERVICE__HTTP_PORT: ",
        "invalid value for config key service.http_port: \"abc\" "
        "(expected an integer from 1 to 65535)"}},
      {{{"QDRANT__CLUSTER__ENABLED", "maybe"}}, {"cluster.enabled", "\"maybe\""}},
      {{{"QDRANT__CLUSTER__P2P__PORT", "70000"}}, {"cluster.p2p.port", "\"70000\""}},
      {{{"QDRANT__STORAGE__COLLECTION__REPLICATION_FACTOR", "2"},
        {"QDRANT__STORAGE__COLLECTION__WRITE_CONSISTENCY_FACTOR", "3"}},
       {"QDRANT__STORAGE__COLLECTION__WRITE_CONSISTENCY_FACTOR",
        "storage.collection.write_consistency_factor", "\"3\"", "which is 2"}},
      {{{"QDRANT__STORAGE__WAL", "5"}}, {"storage.wal", "\"5\"", "a map"}},
      {{{"QDRANT__STORAGE__NODE_TYPE", "Bogus"}}, {"storage.node_type", "\"Bogus\""}},
  };
  for (const Row& row : rows) {
    INFO(row.expected.front());
    test::TempDir dir;
    const std::string message = LoadError(Options(dir, row.env));
    INFO(message);
    for (const std::string& part : row.expected) CHECK(message.find(part) != std::string::npos);
  }
}

TEST_CASE("write_consistency_factor is checked against the merged replication_factor",
          "[unit][config]") {
  test::TempDir dir;
  dir.Write("config/config.yaml", "storage:\n  collection:\n    write_consistency_factor: 3\n");
  CHECK(LoadError(Options(dir)).find("which is 1") != std::string::npos);
  const Config c =
      MustLoad(Options(dir, {{"QDRANT__STORAGE__COLLECTION__REPLICATION_FACTOR", "3"}})).config;
  CHECK(c.storage.collection.replication_factor == 3);
  CHECK(c.storage.collection.write_consistency_factor == 3);
}

TEST_CASE("malformed YAML names the file and the position", "[unit][config]") {
  test::TempDir dir;
  const std::string path = dir.Write("config/local.yaml", "service:\n  http_port: [6333\n");
  const std::string message = LoadError(Options(dir));
  CHECK(message.find("config file " + path) != std::string::npos);
  CHECK(message.find("line") != std::string::npos);
  CHECK(message.find("column") != std::string::npos);
}

TEST_CASE("a config file must be a map of keys", "[unit][config]") {
  test::TempDir dir;
  const std::string path = dir.Write("config/config.yaml", "- service\n- storage\n");
  const std::string message = LoadError(Options(dir));
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("[service, storage]") != std::string::npos);
}

TEST_CASE("a --config-path file that does not exist is an error", "[unit][config]") {
  test::TempDir dir;
  LoadOptions options = Options(dir);
  options.overrides.config_path = dir.path() + "/missing.yaml";
  CHECK(LoadError(options) == "config file " + dir.path() + "/missing.yaml does not exist");
  options.overrides.config_path = dir.path();
  CHECK(LoadError(options).find("is not a regular file") != std::string::npos);
}

TEST_CASE("unknown keys are warnings, never errors", "[unit][config]") {
  test::TempDir dir;
  dir.Write("config/config.yaml", R"(service:
  hardware_reporting: true
  jwt_rbac: false
storage:
  performance:
    async_scorer: true
inference:
  address: http://localhost:2114/api/v1/infer
  timeout: 10
gpu:
  indexing: true
)");
  Loaded loaded = MustLoad(Options(dir, {{"QDRANT__CLUSTER__RESHARDING_ENABLED", "true"},
                                         {"QDRANT__FEATURE_FLAGS__ALL", "true"}}));
  const std::vector<std::string> expected = {
      "unknown config key cluster.resharding_enabled (ignored)",
      "unknown config key feature_flags (ignored)",
      "unknown config key gpu (ignored)",
      "unknown config key inference (ignored)",
      "unknown config key service.hardware_reporting (ignored)",
      "unknown config key storage.performance.async_scorer (ignored)",
  };
  std::vector<std::string> sorted = loaded.warnings;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == expected);
  CHECK_FALSE(loaded.config.service.jwt_rbac);  // known since issue #19
}

TEST_CASE("Qdrant's stock config files load with only warnings", "[unit][config]") {
  test::TempDir dir;
  dir.Write("config/config.yaml", kQdrantConfigYaml);
  dir.Write("config/development.yaml", kQdrantDevelopmentYaml);
  dir.Write("config/production.yaml", kQdrantProductionYaml);
  dir.Write("config/deb.yaml", kQdrantDebYaml);
  const Env tester_env = {
      {"QDRANT__SERVICE__HOST", "127.0.0.1"},  {"QDRANT__SERVICE__HTTP_PORT", "16333"},
      {"QDRANT__SERVICE__GRPC_PORT", "16334"}, {"QDRANT__CLUSTER__P2P__PORT", "16335"},
      {"QDRANT__CLUSTER__ENABLED", "true"},    {"QDRANT__SERVICE__HARDWARE_REPORTING", "true"}};

  Loaded dev = MustLoad(Options(dir, tester_env));
  CHECK(dev.sources.size() == 2);
  CHECK(dev.config.log_level == "DEBUG");
  CHECK(dev.config.storage.optimizers.default_segment_number == 2);
  CHECK(dev.config.storage.optimizers.indexing_threshold_kb == 20000);
  CHECK(dev.config.service.host == "127.0.0.1");
  CHECK(dev.config.service.http_port == 16333);
  CHECK(dev.config.service.grpc_port == std::optional<uint16_t>(16334));
  CHECK(dev.config.cluster.p2p.port == 16335);
  CHECK(dev.config.cluster.enabled);
  CHECK(dev.config.storage.storage_path == "./storage");
  CHECK(HasWarning(dev, "unknown config key logger (ignored)"));
  CHECK(HasWarning(dev, "unknown config key storage.snapshots_config (ignored)"));
  CHECK(HasWarning(dev, "unknown config key storage.collection.strict_mode (ignored)"));
  CHECK(HasWarning(dev, "unknown config key storage.optimizers.memmap_threshold_kb (ignored)"));
  CHECK(HasWarning(dev, "unknown config key service.hardware_reporting (ignored)"));
  for (const auto& warning : dev.warnings) {
    CHECK(warning.rfind("unknown config key ", 0) == 0);
  }

  Env production_env = tester_env;
  production_env["RUN_MODE"] = "production";
  CHECK(MustLoad(Options(dir, production_env)).config.log_level == "INFO");
  production_env["RUN_MODE"] = "deb";
  CHECK(MustLoad(Options(dir, production_env)).config.storage.storage_path ==
        "/var/lib/qdrant/storage");
}

TEST_CASE("log_level keeps filter lists and degrades what it cannot parse", "[unit][config]") {
  test::TempDir dir;
  const std::string filters = "TRACE,raft::raft=info,actix_http=info,tonic=info,want=info,mio=info";
  Loaded kept = MustLoad(Options(dir, {{"QDRANT__LOG_LEVEL", filters}}));
  CHECK(kept.config.log_level == filters);
  CHECK(kept.warnings.empty());

  Loaded loud = MustLoad(Options(dir, {{"QDRANT__LOG_LEVEL", "loud"}}));
  CHECK(loud.config.log_level == "INFO");
  CHECK(loud.warnings ==
        std::vector<std::string>{"log_level \"loud\" is not understood; using INFO"});

  dir.Write("config/config.yaml", "log_level:\n  default: debug\n");
  Loaded map = MustLoad(Options(dir));
  CHECK(map.config.log_level == "INFO");
  CHECK(HasWarning(map, "is not understood; using INFO"));

  Loaded null = MustLoad(Options(dir, {{"QDRANT__LOG_LEVEL", "null"}}));
  CHECK(null.config.log_level == "INFO");
}

TEST_CASE("explicit null unsets optional fields", "[unit][config]") {
  test::TempDir dir;
  dir.Write("config/config.yaml", R"(storage:
  temp_path: /tmp/qd
  update_concurrency: 4
  performance:
    update_rate_limit: 10
  optimizers:
    max_segment_size_kb: 200000
    max_optimization_threads: 2
  hnsw_index:
    payload_m: 8
  shard_transfer_method: snapshot
  collection:
    vectors:
      on_disk: true
    quantization:
      scalar:
        type: int8
  max_collections: 10
service:
  api_key: key
  read_only_api_key: ro-key
)");
  const Config set = MustLoad(Options(dir)).config;
  CHECK(set.storage.temp_path == std::optional<std::string>("/tmp/qd"));
  CHECK(set.storage.update_concurrency == std::optional<uint64_t>(4));
  CHECK(set.storage.performance.update_rate_limit == std::optional<uint64_t>(10));
  CHECK(set.storage.optimizers.max_segment_size_kb == std::optional<uint64_t>(200000));
  CHECK(set.storage.optimizers.max_optimization_threads == std::optional<uint64_t>(2));
  CHECK(set.storage.hnsw_index.payload_m == std::optional<uint64_t>(8));
  CHECK(set.storage.shard_transfer_method == std::optional<std::string>("snapshot"));
  CHECK(set.storage.collection.vectors_on_disk == std::optional<bool>(true));
  CHECK(set.storage.max_collections == std::optional<uint64_t>(10));
  CHECK(set.service.api_key == std::optional<std::string>("key"));
  CHECK(set.service.read_only_api_key == std::optional<std::string>("ro-key"));

  dir.Write("config/local.yaml", R"(storage:
  temp_path: null
  update_concurrency: ~
  performance:
    update_rate_limit: null
  optimizers:
    max_segment_size_kb: null
    max_optimization_threads: null
  hnsw_index:
    payload_m: null
  shard_transfer_method: null
  collection:
    vectors:
      on_disk: null
    quantization: null
service:
  api_key: null
)");
  Loaded unset = MustLoad(Options(dir, {{"QDRANT__STORAGE__MAX_COLLECTIONS", "null"},
                                        {"QDRANT__SERVICE__READ_ONLY_API_KEY", ""}}));
  const Config& c = unset.config;
  CHECK(unset.warnings.empty());
  CHECK_FALSE(c.storage.temp_path);
  CHECK_FALSE(c.storage.update_concurrency);
  CHECK_FALSE(c.storage.performance.update_rate_limit);
  CHECK_FALSE(c.storage.optimizers.max_segment_size_kb);
  CHECK_FALSE(c.storage.optimizers.max_optimization_threads);
  CHECK_FALSE(c.storage.hnsw_index.payload_m);
  CHECK_FALSE(c.storage.shard_transfer_method);
  CHECK_FALSE(c.storage.collection.vectors_on_disk);
  CHECK_FALSE(c.storage.max_collections);
  CHECK_FALSE(c.service.api_key);
  CHECK_FALSE(c.service.read_only_api_key);
}

TEST_CASE("grpc_port: null disables gRPC", "[unit][config]") {
  test::TempDir dir;
  dir.Write("config/config.yaml", "service:\n  grpc_port: null\n");
  CHECK_FALSE(MustLoad(Options(dir)).config.service.grpc_port);
  test::TempDir env_dir;
  CHECK_FALSE(MustLoad(Options(env_dir, {{"QDRANT__SERVICE__GRPC_PORT", "null"}}))
                  .config.service.grpc_port);
}

TEST_CASE("ProcessEnvironment returns this process's variables", "[unit][config]") {
  REQUIRE(::setenv("QD_CONFIG_TEST_VARIABLE", "a=b", 1) == 0);
  const Env env = ProcessEnvironment();
  ::unsetenv("QD_CONFIG_TEST_VARIABLE");
  auto it = env.find("QD_CONFIG_TEST_VARIABLE");
  REQUIRE(it != env.end());
  CHECK(it->second == "a=b");
}

}  // namespace
}  // namespace qd::config
