// qdrantd's configuration: Qdrant 1.19's keys (../shared/spec/config.md) as a typed struct.
//
// LoadConfig merges, each layer over the previous one (compat.md §1):
//   1. built-in defaults: conf/config.yaml, compiled into the binary;
//   2. config/config.yaml, config/${RUN_MODE:-development}.yaml, config/local.yaml, relative to
//      the working directory, each optional;
//   3. the file given with --config-path (must exist);
//   4. environment variables QDRANT__SECTION__KEY (case-insensitive path, YAML scalar values);
//   5. command-line flags (ConfigOverrides).
// A value of the wrong type or out of range fails with kInvalidArgument naming the key and the
// value (qdrantd then exits 2). Unknown keys and an unparseable log_level are warnings, not
// errors. Thread: any; pure apart from reading files and the environment.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libshared/status.h"

namespace qd::config {

struct WalConfig {
  uint64_t wal_capacity_mb = 32;
  uint64_t wal_segments_ahead = 0;
};

struct PerformanceConfig {
  uint64_t max_search_threads = 0;
  uint64_t optimizer_cpu_budget = 0;
  std::optional<uint64_t> update_rate_limit;
  uint64_t incoming_shard_transfers_limit = 1;
  uint64_t outgoing_shard_transfers_limit = 1;
  // Bytes of points each shard transfer sends per second, in MB (fractions allowed); null:
  // unlimited. qdrantd's own key (Elasticsearch's recovery throttle is the model).
  std::optional<double> shard_transfer_rate_limit_mb;
};

struct OptimizersConfig {
  double deleted_threshold = 0.2;
  uint64_t vacuum_min_vector_number = 1000;
  uint64_t default_segment_number = 0;
  std::optional<uint64_t> max_segment_size_kb;
  uint64_t indexing_threshold_kb = 10000;
  uint64_t flush_interval_sec = 5;
  std::optional<uint64_t> max_optimization_threads;
};

struct HnswIndexConfig {
  uint64_t m = 16;
  uint64_t ef_construct = 100;
  uint64_t full_scan_threshold_kb = 10000;
  uint64_t max_indexing_threads = 0;
  bool on_disk = false;
  std::optional<uint64_t> payload_m;
};

struct CollectionDefaults {
  uint64_t replication_factor = 1;
  uint64_t write_consistency_factor = 1;  // must be <= replication_factor
  std::optional<bool> vectors_on_disk;    // storage.collection.vectors.on_disk
};

enum class NodeType { kNormal, kListener };

struct StorageConfig {
  std::string storage_path = "./storage";
  std::string snapshots_path = "./snapshots";
  std::optional<std::string> temp_path;
  bool on_disk_payload = true;
  std::optional<uint64_t> update_concurrency;
  WalConfig wal;
  NodeType node_type = NodeType::kNormal;
  PerformanceConfig performance;
  OptimizersConfig optimizers;
  HnswIndexConfig hnsw_index;
  std::optional<std::string> shard_transfer_method;  // stream_records | snapshot | wal_delta
  CollectionDefaults collection;
  std::optional<uint64_t> max_collections;
};

struct ServiceConfig {
  std::string host = "0.0.0.0";
  uint16_t http_port = 6333;
  std::optional<uint16_t> grpc_port = 6334;  // null in the config disables gRPC
  uint64_t max_request_size_mb = 32;
  uint64_t max_workers = 0;
  bool enable_cors = true;
  bool enable_tls = false;
  bool verify_https_client_certificate = false;
  std::optional<std::string> api_key;
  std::optional<std::string> read_only_api_key;
  bool jwt_rbac = false;  // JWTs signed (HS256) with api_key carry the access rights
  uint64_t http_keep_alive_timeout_sec = 5;
};

struct P2pConfig {
  uint16_t port = 6335;
  uint64_t connection_pool_size = 2;
  bool enable_tls = false;
};

struct ConsensusConfig {
  uint64_t tick_period_ms = 100;
  uint64_t bootstrap_timeout_sec = 15;
  uint64_t max_message_queue_size = 100;
  uint64_t message_timeout_ticks = 10;
  uint64_t compact_wal_entries = 128;
};

// Beyond Qdrant (docs/cluster.md "Rebalancing, draining and self-healing").
struct RebalanceConfig {
  bool on_join = true;  // a Normal peer that joins gets its share of the replicas
  // A peer unreachable this long has its replicas re-created elsewhere; 0: never.
  uint64_t dead_peer_timeout_sec = 600;
};

struct ClusterConfig {
  bool enabled = false;
  uint64_t grpc_timeout_ms = 60000;
  uint64_t connection_timeout_ms = 2000;
  P2pConfig p2p;
  ConsensusConfig consensus;
  RebalanceConfig rebalance;
};

struct TlsConfig {
  std::string cert = "./tls/cert.pem";
  std::string key = "./tls/key.pem";
  std::string ca_cert = "./tls/cacert.pem";
  uint64_t cert_ttl = 3600;
};

struct Config {
  std::string log_level = "INFO";  // as written; the daemon parses it with log::ParseLevel
  StorageConfig storage;
  ServiceConfig service;
  ClusterConfig cluster;
  TlsConfig tls;
  bool telemetry_disabled = false;
};

// What the command line sets; applied last.
struct ConfigOverrides {
  std::optional<std::string> config_path;  // --config-path: must exist
  bool disable_telemetry = false;          // --disable-telemetry
};

struct LoadOptions {
  ConfigOverrides overrides;
  std::string working_dir = ".";             // where config/ is looked up
  std::map<std::string, std::string> env;    // the environment (tests pass their own)
};

struct Loaded {
  Config config;
  std::vector<std::string> warnings;  // unknown keys, degraded log level, ...
  std::vector<std::string> sources;   // files that were read, in order
};

// The environment of this process as a map (for LoadOptions::env).
std::map<std::string, std::string> ProcessEnvironment();

// Errors: kInvalidArgument for a wrong type, an impossible value, unreadable/malformed YAML or a
// missing --config-path file; the message names the key (dotted path) and the value, and the
// file it came from when there is one.
Result<Loaded> LoadConfig(const LoadOptions& options);

// The compiled-in default config (conf/config.yaml).
const char* DefaultConfigYaml();

}  // namespace qd::config
