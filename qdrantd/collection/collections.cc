#include "qdrantd/collection/collections.h"

#include <atomic>
#include <chrono>
#include <filesystem>

#include "libshared/log.h"
#include "libshared/sqlite.h"

namespace qd::collection {

Collections::Collections(std::string storage_path, std::unique_ptr<sqlite::Db> db,
                         bool cluster_mode, std::shared_ptr<PeerLink> link,
                         std::shared_ptr<UpdateLimiter> limiter)
    : storage_path_(std::move(storage_path)),
      cluster_mode_(cluster_mode),
      link_(std::move(link)),
      limiter_(std::move(limiter)),
      db_(std::move(db)) {}

Collections::~Collections() {
  Status s = FlushAll();
  if (!s.ok()) QD_LOG_WARN("flushing collections: " + s.message());
}

Result<std::unique_ptr<Collections>> Collections::Open(const std::string& storage_path,
                                                       bool cluster_mode,
                                                       std::shared_ptr<PeerLink> link,
                                                       std::shared_ptr<UpdateLimiter> limiter) {
  std::error_code ec;
  std::filesystem::create_directories(storage_path + "/collections", ec);
  if (ec) return Status::Internal("cannot create " + storage_path + "/collections: " + ec.message());
  Result<std::unique_ptr<sqlite::Db>> db =
      sqlite::Db::Open(storage_path + "/collections.db", sqlite::Db::Sync::kFull);
  if (!db.ok()) return db.status();
  Status s = (*db)->Exec(
      "CREATE TABLE IF NOT EXISTS collections(name TEXT PRIMARY KEY, config TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS aliases(alias TEXT PRIMARY KEY, collection TEXT NOT NULL);");
  if (!s.ok()) return s;
  // Files of collections deleted or recoveries interrupted before a crash.
  for (const std::string& dir : {storage_path + "/collections", storage_path}) {
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      std::string name = e.path().filename().string();
      if (name.rfind(".deleted-", 0) == 0 || name.rfind(".recover-", 0) == 0) {
        std::filesystem::remove_all(e.path(), ec);
      }
    }
  }
  std::unique_ptr<Collections> c(
      new Collections(storage_path, std::move(*db), cluster_mode, std::move(link),
                                                 std::move(limiter)));
  s = c->Load();
  if (!s.ok()) return s;
  return c;
}

Status Collections::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  Result<sqlite::Stmt> rows = db_->Prepare("SELECT name, config FROM collections");
  if (!rows.ok()) return rows.status();
  for (;;) {
    Result<bool> row = rows->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::string name(rows->Text(0));
    Result<CollectionConfig> config = FromConfigJson(rows->Text(1));
    if (!config.ok()) return config.status().WithContext("collection " + name);
    std::string dir = storage_path_ + "/collections/" + name;
    Result<std::shared_ptr<Collection>> c =
        cluster_mode_ ? Collection::OpenPlaced(name, dir, std::move(*config), nullptr, link_, limiter_)
                      : Collection::Open(name, dir, std::move(*config));
    if (!c.ok()) return c.status().WithContext("collection " + name);
    collections_[name] = std::move(*c);
  }
  Result<sqlite::Stmt> aliases = db_->Prepare("SELECT alias, collection FROM aliases");
  if (!aliases.ok()) return aliases.status();
  for (;;) {
    Result<bool> row = aliases->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    aliases_[std::string(aliases->Text(0))] = std::string(aliases->Text(1));
  }
  return Status::Ok();
}

Status Collections::ValidateNameLength(std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return Status::Unprocessable("Validation error in path parameters: [collection_name: length must be from 1 to 255, got " +
                                 std::to_string(name.size()) + "]");
  }
  return Status::Ok();
}

Status Collections::ValidateName(const std::string& name) {
  if (Status s = ValidateNameLength(name); !s.ok()) return s;
  if (name == "." || name == ".." || name.find_first_of("/\\:*?\"<>|") != std::string::npos ||
      name.find('\0') != std::string::npos) {
    return Status::Unprocessable("Validation error in path parameters: [collection_name: collection name cannot contain \"/\", \"\\\", \":\", \"*\", \"?\", \"\"\", \"<\", \">\", \"|\" or be \".\" or \"..\"]");
  }
  return Status::Ok();
}

Status Collections::Create(const std::string& name, CollectionConfig config,
                           const ShardPlacement* placement) {
  Status s = ValidateName(name);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (collections_.count(name)) {
    return Status::AlreadyExists("Wrong input: Collection `" + name + "` already exists!");
  }
  if (aliases_.count(name)) {
    return Status::InvalidArgument("Wrong input: Alias with name `" + name + "` already exists");
  }
  std::string dir = storage_path_ + "/collections/" + name;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // leftovers of a delete interrupted by a crash
  Result<std::shared_ptr<Collection>> c =
      placement ? Collection::OpenPlaced(name, dir, config, placement, link_, limiter_)
                : Collection::Open(name, dir, config);
  if (!c.ok()) return c.status();
  Result<sqlite::Stmt> insert = db_->Prepare("INSERT INTO collections(name, config) VALUES(?, ?)");
  if (!insert.ok()) return insert.status();
  s = insert->Bind(1, name).Bind(2, config.ToJson()).Run();
  if (!s.ok()) {
    (*c)->MarkDropped(dir);
    return s;
  }
  collections_[name] = std::move(*c);
  return Status::Ok();
}

Status Collections::DropLocked(const std::string& name) {
  auto it = collections_.find(name);
  if (it == collections_.end()) return Status::Ok();
  Result<sqlite::Stmt> del = db_->Prepare("DELETE FROM collections WHERE name = ?");
  if (!del.ok()) return del.status();
  Status s = del->Bind(1, name).Run();
  if (s.ok()) {
    Result<sqlite::Stmt> del_aliases = db_->Prepare("DELETE FROM aliases WHERE collection = ?");
    s = del_aliases.ok() ? del_aliases->Bind(1, name).Run() : del_aliases.status();
  }
  if (!s.ok()) return s;
  for (auto a = aliases_.begin(); a != aliases_.end();) {
    a = a->second == name ? aliases_.erase(a) : std::next(a);
  }
  // Requests in flight may still hold the collection; its files go when the last one lets go,
  // from a place where a new collection of the same name cannot meet them. Their SQLite
  // connections keep working through open descriptors, and on close SQLite sees the move and
  // leaves the WAL files at the old path alone (tests/unit/shared/sqlite_test.cc).
  static std::atomic<uint64_t> counter{0};
  std::string dir = storage_path_ + "/collections/" + name;
  std::string trash = storage_path_ + "/collections/.deleted-" + std::to_string(counter++) + "-" +
                      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  std::error_code ec;
  std::filesystem::rename(dir, trash, ec);
  it->second->MarkDropped(ec ? dir : trash);
  collections_.erase(it);
  return Status::Ok();
}

Result<bool> Collections::Delete(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!collections_.count(name)) return false;
  Status s = DropLocked(name);
  if (!s.ok()) return s;
  return true;
}

Status Collections::Replace(const std::string& name, CollectionConfig config, const std::string& source) {
  Status s = ValidateName(name);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (aliases_.count(name)) {
    return Status::InvalidArgument("Wrong input: Alias with name `" + name + "` already exists");
  }
  s = DropLocked(name);
  if (!s.ok()) return s;
  std::string dir = storage_path_ + "/collections/" + name;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  for (uint32_t shard = 0; shard < config.shard_number; ++shard) {
    std::filesystem::rename(source + "/" + std::to_string(shard), dir + "/" + std::to_string(shard), ec);
    if (ec) return Status::Internal("cannot move recovered shard into " + dir + ": " + ec.message());
  }
  Result<std::shared_ptr<Collection>> c = Collection::Open(name, dir, config);
  if (!c.ok()) return c.status();
  Result<sqlite::Stmt> insert = db_->Prepare("INSERT OR REPLACE INTO collections(name, config) VALUES(?, ?)");
  if (!insert.ok()) return insert.status();
  s = insert->Bind(1, name).Bind(2, config.ToJson()).Run();
  if (!s.ok()) return s;
  collections_[name] = std::move(*c);
  return Status::Ok();
}

Status Collections::Update(const std::string& name, const CollectionConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = collections_.find(name);
  if (it == collections_.end()) return Status::NotFound("Collection `" + name + "` doesn't exist!");
  Result<sqlite::Stmt> update = db_->Prepare("UPDATE collections SET config = ? WHERE name = ?");
  if (!update.ok()) return update.status();
  Status s = update->Bind(1, config.ToJson()).Bind(2, name).Run();
  if (!s.ok()) return s;
  it->second->SetConfig(config);
  return Status::Ok();
}

Result<std::shared_ptr<Collection>> Collections::Get(const std::string& name_or_alias) const {
  if (name_or_alias.size() > 255) return ValidateNameLength(name_or_alias);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = collections_.find(name_or_alias);
  if (it == collections_.end()) {
    auto alias = aliases_.find(name_or_alias);
    if (alias != aliases_.end()) it = collections_.find(alias->second);
  }
  if (it == collections_.end()) {
    return Status::NotFound("Collection `" + name_or_alias + "` doesn't exist!");
  }
  return it->second;
}

bool Collections::Exists(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return collections_.count(name) > 0;
}

std::vector<std::string> Collections::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, c] : collections_) names.push_back(name);
  return names;
}

Status Collections::ApplyAliases(const std::vector<AliasAction>& actions) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::string> next = aliases_;
  for (const AliasAction& a : actions) {
    switch (a.kind) {
      case AliasAction::kCreate:
        if (!collections_.count(a.collection_name)) {
          return Status::NotFound("Collection `" + a.collection_name + "` doesn't exist!");
        }
        if (collections_.count(a.alias_name)) {
          return Status::AlreadyExists("Wrong input: Collection with name `" + a.alias_name +
                                       "` already exists");
        }
        next[a.alias_name] = a.collection_name;
        break;
      case AliasAction::kDelete:
        if (!next.erase(a.alias_name)) {
          return Status::NotFound("Alias `" + a.alias_name + "` doesn't exist!");
        }
        break;
      case AliasAction::kRename: {
        auto it = next.find(a.alias_name);
        if (it == next.end()) return Status::NotFound("Alias `" + a.alias_name + "` doesn't exist!");
        std::string target = it->second;
        next.erase(it);
        next[a.new_alias_name] = target;
        break;
      }
    }
  }
  sqlite::Transaction txn(*db_);
  Status s = txn.Begin();
  if (s.ok()) s = db_->Exec("DELETE FROM aliases");
  Result<sqlite::Stmt> insert = db_->Prepare("INSERT INTO aliases(alias, collection) VALUES(?, ?)");
  if (!insert.ok()) return insert.status();
  for (const auto& [alias, collection] : next) {
    if (!s.ok()) break;
    s = insert->Bind(1, alias).Bind(2, collection).Run();
  }
  if (s.ok()) s = txn.Commit();
  if (!s.ok()) return s;
  aliases_ = std::move(next);
  return Status::Ok();
}

std::vector<std::pair<std::string, std::string>> Collections::Aliases(const std::string* collection) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [alias, target] : aliases_) {
    if (!collection || *collection == target) out.emplace_back(alias, target);
  }
  return out;
}

Status Collections::FlushAll() {
  std::vector<std::shared_ptr<Collection>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, c] : collections_) all.push_back(c);
  }
  for (const auto& c : all) {
    Status s = c->Flush();
    if (!s.ok()) return s.WithContext("collection " + c->name());
  }
  return Status::Ok();
}

}  // namespace qd::collection
