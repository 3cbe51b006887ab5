// qdctl collection: create, list, info and delete over qdrant.Collections. The flags use
// Qdrant's field names with dashes (--shard-number, --hnsw-ef-construct), so Qdrant's
// documentation reads across; unset flags stay out of the request and the server's defaults
// apply, as with Qdrant's own clients.
#include "qdctl/commands/collection.h"

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <memory>
#include <type_traits>

#include "qdctl/commands/commands.h"

namespace qd::qdctl {
namespace {

// CLI11's own range check reads "Value 0 not in range 1 to 65536" and lets "-1" wrap around
// for unsigned types; this one says what was wrong with the text as typed.
template <typename T>
CLI::Validator WholeNumber(T min, T max) {
  const std::string range = std::to_string(min) + " to " + std::to_string(max);
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
        if (text.empty() || text[0] == '-' || text[0] == '+' || end == text.c_str() ||
            *end != '\0' || errno == ERANGE || value < min || value > max) {
          return "\"" + text + "\" is not a whole number from " + range;
        }
        return "";
      },
      "");  // the option's type name (N) says enough in --help
}

template <typename T>
Value Optional(const std::optional<T>& v) {
  if (!v) return nullptr;
  if constexpr (std::is_same_v<T, bool>) {
    return *v;
  } else {
    return uint64_t{*v};
  }
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// Where the settings that create and update share go.
struct SettingFlags {
  std::optional<uint32_t>& replication_factor;
  std::optional<uint32_t>& write_consistency_factor;
  std::optional<bool>& on_disk_payload;
  std::optional<uint64_t>& hnsw_m;
  std::optional<uint64_t>& hnsw_ef_construct;
};

// Adds the shared settings' flags; `create` words their help for a new collection (the
// server's default applies when left out) rather than for a change (unchanged when left out).
void AddSettingFlags(CLI::App& command, SettingFlags to, bool create) {
  constexpr uint32_t kMaxU32 = std::numeric_limits<uint32_t>::max();
  constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
  const std::string unset = create ? " (default: the server's)" : "";
  command
      .add_option_function<uint32_t>(
          "--replication-factor", [&v = to.replication_factor](uint32_t n) { v = n; },
          "Replicas of each shard" + unset)
      ->type_name("N")
      ->check(WholeNumber<uint32_t>(1, kMaxU32));
  command
      .add_option_function<uint32_t>(
          "--write-consistency-factor", [&v = to.write_consistency_factor](uint32_t n) { v = n; },
          "Replicas that must confirm each write" + unset)
      ->type_name("N")
      ->check(WholeNumber<uint32_t>(1, kMaxU32));
  // A flag with an optional value: --on-disk-payload, --on-disk-payload=false.
  command.add_flag_function(
      "--on-disk-payload{true}", [&v = to.on_disk_payload](int64_t count) { v = count > 0; },
      "Keep payloads on disk rather than in RAM (=false for RAM" +
          std::string(create ? "; default: the server's)" : ")"));
  command
      .add_option_function<uint64_t>(
          "--hnsw-m", [&v = to.hnsw_m](uint64_t n) { v = n; },
          create ? "Edges per node of the HNSW graph; 0 builds no graph (default: the server's)"
                 : "Edges per node of HNSW graphs built from now on")
      ->type_name("N")
      ->check(WholeNumber<uint64_t>(0, kMaxU64));
  // Qdrant rejects an ef_construct below 4.
  command
      .add_option_function<uint64_t>(
          "--hnsw-ef-construct", [&v = to.hnsw_ef_construct](uint64_t n) { v = n; },
          create ? "Neighbours considered while building the HNSW graph (default: the server's)"
                 : "Neighbours considered while building graphs from now on")
      ->type_name("N")
      ->check(WholeNumber<uint64_t>(4, kMaxU64));
}

}  // namespace

void AddCollectionCreateFlags(CLI::App& command, CollectionCreateFlags& flags) {
  constexpr uint32_t kMaxU32 = std::numeric_limits<uint32_t>::max();
  command.add_option("name", flags.name, "Name of the collection")->required()->type_name("NAME");
  // Qdrant's limit: vectors have 1 to 65536 dimensions.
  command.add_option("--size", flags.size, "Dimensions of the collection's vector")
      ->required()
      ->type_name("N")
      ->check(WholeNumber<uint64_t>(1, 65536));
  command
      .add_option("--distance", flags.distance,
                  "How vectors compare: Cosine, Euclid, Dot or Manhattan (any case)")
      ->required()
      ->type_name("DISTANCE");
  command
      .add_option_function<uint32_t>(
          "--shard-number", [&flags](uint32_t v) { flags.shard_number = v; },
          "Shards of the collection (default: the server's)")
      ->type_name("N")
      ->check(WholeNumber<uint32_t>(1, kMaxU32));
  AddSettingFlags(command,
                  {flags.replication_factor, flags.write_consistency_factor, flags.on_disk_payload,
                   flags.hnsw_m, flags.hnsw_ef_construct},
                  /*create=*/true);
}

void AddCollectionUpdateFlags(CLI::App& command, CollectionUpdateFlags& flags) {
  command.add_option("name", flags.name, "Name of the collection")->required()->type_name("NAME");
  AddSettingFlags(command,
                  {flags.replication_factor, flags.write_consistency_factor, flags.on_disk_payload,
                   flags.hnsw_m, flags.hnsw_ef_construct},
                  /*create=*/false);
}

Result<client::CollectionUpdate> CollectionUpdateRequest(const CollectionUpdateFlags& flags) {
  client::CollectionUpdate request{
      flags.name,   flags.replication_factor, flags.write_consistency_factor, flags.on_disk_payload,
      flags.hnsw_m, flags.hnsw_ef_construct};
  if (!request.replication_factor && !request.write_consistency_factor &&
      !request.on_disk_payload && !request.hnsw_m && !request.hnsw_ef_construct) {
    return Status::InvalidArgument(
        "nothing to update: give at least one of --replication-factor, "
        "--write-consistency-factor, --on-disk-payload, --hnsw-m, --hnsw-ef-construct");
  }
  return request;
}

Record CollectionUpdatedRecord(const client::CollectionUpdate& request) {
  return {{"name", request.name},
          {"status", std::string("updated")},
          {"replication_factor", Optional(request.replication_factor)},
          {"write_consistency_factor", Optional(request.write_consistency_factor)},
          {"on_disk_payload", Optional(request.on_disk_payload)},
          {"hnsw_config", Record{{"m", Optional(request.hnsw_m)},
                                 {"ef_construct", Optional(request.hnsw_ef_construct)}}}};
}

Result<client::CollectionCreate> CollectionCreateRequest(const CollectionCreateFlags& flags) {
  std::optional<client::Distance> distance = client::ParseDistance(flags.distance);
  if (!distance) {
    return Status::InvalidArgument("unknown distance \"" + flags.distance +
                                   "\": use Cosine, Euclid, Dot or Manhattan");
  }
  client::CollectionCreate request;
  request.name = flags.name;
  request.vector_size = flags.size;
  request.distance = *distance;
  request.shard_number = flags.shard_number;
  request.replication_factor = flags.replication_factor;
  request.write_consistency_factor = flags.write_consistency_factor;
  request.on_disk_payload = flags.on_disk_payload;
  request.hnsw_m = flags.hnsw_m;
  request.hnsw_ef_construct = flags.hnsw_ef_construct;
  return request;
}

Record CollectionCreatedRecord(const client::CollectionCreate& request) {
  return {{"name", request.name},
          {"status", std::string("created")},
          {"vectors", Record{{"size", request.vector_size},
                             {"distance", std::string(client::DistanceName(request.distance))}}},
          {"shard_number", Optional(request.shard_number)},
          {"replication_factor", Optional(request.replication_factor)},
          {"write_consistency_factor", Optional(request.write_consistency_factor)},
          {"on_disk_payload", Optional(request.on_disk_payload)},
          {"hnsw_config", Record{{"m", Optional(request.hnsw_m)},
                                 {"ef_construct", Optional(request.hnsw_ef_construct)}}}};
}

std::vector<Record> CollectionListRows(const std::vector<std::string>& names) {
  std::vector<Record> rows;
  rows.reserve(names.size());
  for (const std::string& name : names) rows.push_back({{"name", name}});
  return rows;
}

Record CollectionInfoRecord(const client::CollectionInfo& info) {
  // Shaped like Qdrant's REST config.params.vectors: {size, distance} for the unnamed vector,
  // {name: {size, distance}} for named ones.
  auto space = [](const client::VectorSpace& v) {
    return Record{{"size", v.size}, {"distance", std::string(client::DistanceName(v.distance))}};
  };
  Value vectors = nullptr;
  if (info.vectors.size() == 1 && info.vectors[0].name.empty()) {
    vectors = space(info.vectors[0]);
  } else if (!info.vectors.empty()) {
    Record named;
    for (const client::VectorSpace& v : info.vectors) named.push_back({v.name, space(v)});
    vectors = std::move(named);
  }
  Value payload_schema = nullptr;
  if (!info.payload_schema.empty()) {
    Record fields;
    for (const client::PayloadIndex& p : info.payload_schema) {
      fields.push_back({p.field, Record{{"type", p.type}, {"points", Optional(p.points)}}});
    }
    payload_schema = std::move(fields);
  }
  auto joined_or_null = [](const std::vector<std::string>& items) -> Value {
    return items.empty() ? Value(nullptr) : Value(Joined(items));
  };
  return {
      {"name", info.name},
      {"status", info.status},
      {"optimizer_status", info.optimizer_ok ? std::string("ok") : info.optimizer_error},
      {"points_count", Optional(info.points_count)},
      {"indexed_vectors_count", Optional(info.indexed_vectors_count)},
      {"segments_count", info.segments_count},
      {"vectors", std::move(vectors)},
      {"sparse_vectors", joined_or_null(info.sparse_vectors)},
      {"shard_number", uint64_t{info.shard_number}},
      {"replication_factor", Optional(info.replication_factor)},
      {"write_consistency_factor", Optional(info.write_consistency_factor)},
      {"on_disk_payload", info.on_disk_payload},
      {"hnsw_config",
       Record{{"m", Optional(info.hnsw_m)}, {"ef_construct", Optional(info.hnsw_ef_construct)}}},
      {"payload_schema", std::move(payload_schema)},
      {"warnings", joined_or_null(info.warnings)},
  };
}

Record CollectionDeletedRecord(const std::string& name) {
  return {{"name", name}, {"status", std::string("deleted")}};
}

void RegisterCollection(CLI::App& app, Context& context) {
  CLI::App* group =
      app.add_subcommand("collection", "Create, list, inspect, change and delete collections");
  group->require_subcommand(1);

  auto create_flags = std::make_shared<CollectionCreateFlags>();
  CLI::App* create = group->add_subcommand(
      "create", "Create a collection of one vector per point (qdrant.Collections/Create)");
  AddCollectionCreateFlags(*create, *create_flags);
  create->callback([&context, create_flags] {
    Result<client::CollectionCreate> request = CollectionCreateRequest(*create_flags);
    if (!request.ok()) return context.UsageError(request.status());
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    if (Status s = client->CreateCollection(*request); !s.ok()) return context.Fail(s);
    context.Print(CollectionCreatedRecord(*request));
  });

  group->add_subcommand("list", "List the collections' names (qdrant.Collections/List)")
      ->callback([&context] {
        std::unique_ptr<client::Client> client = context.Connect();
        if (!client) return;
        Result<std::vector<std::string>> names = client->ListCollections();
        if (!names.ok()) return context.Fail(names.status());
        context.PrintList(CollectionListRows(*names));
      });

  auto info_name = std::make_shared<std::string>();
  CLI::App* info = group->add_subcommand(
      "info", "Show a collection's status, counts and configuration (qdrant.Collections/Get)");
  info->add_option("name", *info_name, "Name of the collection")->required()->type_name("NAME");
  info->callback([&context, info_name] {
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    Result<client::CollectionInfo> collection = client->GetCollection(*info_name);
    if (!collection.ok()) return context.Fail(collection.status());
    context.Print(CollectionInfoRecord(*collection));
  });

  auto update_flags = std::make_shared<CollectionUpdateFlags>();
  CLI::App* update =
      group->add_subcommand("update", "Change a collection's settings (qdrant.Collections/Update)");
  AddCollectionUpdateFlags(*update, *update_flags);
  update->callback([&context, update_flags] {
    Result<client::CollectionUpdate> request = CollectionUpdateRequest(*update_flags);
    if (!request.ok()) return context.UsageError(request.status());
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    if (Status s = client->UpdateCollection(*request); !s.ok()) return context.Fail(s);
    context.Print(CollectionUpdatedRecord(*request));
  });

  auto delete_name = std::make_shared<std::string>();
  CLI::App* remove = group->add_subcommand(
      "delete", "Delete a collection and all its data (qdrant.Collections/Delete)");
  remove->add_option("name", *delete_name, "Name of the collection")->required()->type_name("NAME");
  remove->callback([&context, delete_name] {
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    if (Status s = client->DeleteCollection(*delete_name); !s.ok()) return context.Fail(s);
    context.Print(CollectionDeletedRecord(*delete_name));
  });

  RegisterCollectionCluster(*group, context);
  RegisterCollectionVerify(*group, context);
}

}  // namespace qd::qdctl
