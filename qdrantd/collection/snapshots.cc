#include "qdrantd/collection/snapshots.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "libshared/sqlite.h"
#include "libshared/uri.h"
#include "qdrantd/collection/tar.h"

namespace qd::collection {
namespace fs = std::filesystem;

namespace {

std::atomic<uint64_t> g_counter{0};

std::string UtcNow(const char* format) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), format, &tm);
  return buf;
}

std::string Unique() {
  return std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "-" +
         std::to_string(g_counter++);
}

bool SafeName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != ".." &&
         name.find('\0') == std::string::npos;
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return out ? Status::Ok() : Status::Internal("cannot write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Blocking HTTP/1.1 GET into a file; enough for downloading a snapshot from a Qdrant-like server.
Status HttpDownload(const std::string& url, const std::string& to) {
  std::string rest = url.substr(url.find("://") + 3);
  size_t slash = rest.find('/');
  std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
  Result<Uri> uri = ParseUri("http://" + rest.substr(0, slash), 80);
  if (!uri.ok()) return Status::InvalidArgument("Bad request: invalid snapshot URL " + url);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  if (getaddrinfo(uri->host.c_str(), std::to_string(uri->port).c_str(), &hints, &addrs) != 0) {
    return Status::InvalidArgument("Bad request: cannot resolve " + uri->host);
  }
  int fd = -1;
  for (addrinfo* a = addrs; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(addrs);
  if (fd < 0) return Status::InvalidArgument("Bad request: cannot download snapshot from " + url);
  timeval tv{60, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + uri->host + "\r\nConnection: close\r\n\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t header_end = response.find("\r\n\r\n");
  if (header_end == std::string::npos || response.compare(0, 12, "HTTP/1.1 200") != 0) {
    return Status::InvalidArgument("Bad request: cannot download snapshot from " + url + ": " +
                                   response.substr(0, response.find("\r\n")));
  }
  return WriteFile(to, response.substr(header_end + 4));
}

}  // namespace

Snapshots::Snapshots(Collections& collections, std::string snapshots_path, std::string storage_path)
    : collections_(collections),
      snapshots_path_(fs::absolute(snapshots_path).lexically_normal().string()),
      storage_path_(std::move(storage_path)) {}

Result<SnapshotDescription> Snapshots::WriteCollectionSnapshot(const std::string& collection,
                                                               const std::string& dir) {
  Result<std::shared_ptr<Collection>> c = collections_.Get(collection);
  if (!c.ok()) return c.status();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create " + dir + ": " + ec.message());
  std::string work = snapshots_path_ + "/.tmp-" + Unique();
  fs::create_directories(work, ec);
  std::vector<TarEntry> entries;
  Status s = WriteFile(work + "/config.json", (*c)->config().ToJson());
  entries.push_back({"config.json", work + "/config.json"});
  for (size_t shard = 0; s.ok() && shard < (*c)->config().shard_number; ++shard) {
    std::string copy = work + "/" + std::to_string(shard) + ".db";
    Result<std::unique_ptr<sqlite::Db>> db =
        sqlite::Db::Open((*c)->ShardDir(shard) + "/points.db", sqlite::Db::Sync::kNormal);
    if (!db.ok()) {
      s = db.status();
      break;
    }
    s = (*db)->Exec("VACUUM INTO '" + copy + "'");
    entries.push_back({std::to_string(shard) + "/points.db", copy});
  }
  SnapshotDescription d;
  d.name = (*c)->name() + "-" + UtcNow("%Y-%m-%d-%H-%M-%S") + "-" + std::to_string(g_counter++) + ".snapshot";
  std::string path = dir + "/" + d.name;
  if (s.ok()) s = WriteTar(path + ".tmp", entries);
  fs::remove_all(work, ec);
  if (!s.ok()) return s;
  Result<std::string> sum = Sha256File(path + ".tmp");
  if (!sum.ok()) return sum.status();
  d.checksum = *sum;
  d.size = fs::file_size(path + ".tmp");
  d.creation_time = UtcNow("%Y-%m-%dT%H:%M:%S");
  s = WriteFile(path + ".checksum", d.checksum);
  if (!s.ok()) return s;
  fs::rename(path + ".tmp", path, ec);
  if (ec) return Status::Internal("cannot rename " + path + ": " + ec.message());
  return d;
}

Result<SnapshotDescription> Snapshots::CreateCollection(const std::string& collection) {
  Result<std::shared_ptr<Collection>> c = collections_.Get(collection);
  if (!c.ok()) return c.status();
  return WriteCollectionSnapshot((*c)->name(), snapshots_path_ + "/" + (*c)->name());
}

Result<std::vector<SnapshotDescription>> Snapshots::List(const std::string& dir) const {
  std::vector<SnapshotDescription> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (!e.is_regular_file() || e.path().extension() != ".snapshot") continue;
    SnapshotDescription d;
    d.name = name;
    d.size = e.file_size();
    d.checksum = ReadFile(e.path().string() + ".checksum");
    auto mtime = fs::last_write_time(e.path(), ec);
    auto sys = std::chrono::time_point_cast<std::chrono::seconds>(
        mtime - fs::file_time_type::clock::now() + std::chrono::system_clock::now());
    std::time_t t = std::chrono::system_clock::to_time_t(sys);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    d.creation_time = buf;
    out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Result<std::vector<SnapshotDescription>> Snapshots::ListCollection(const std::string& collection) const {
  Result<std::shared_ptr<Collection>> c = collections_.Get(collection);
  if (!c.ok()) return c.status();
  return List(snapshots_path_ + "/" + (*c)->name());
}

Result<std::string> Snapshots::SnapshotPath(const std::string& dir, const std::string& name) const {
  std::string path = dir + "/" + name;
  std::error_code ec;
  if (!SafeName(name) || fs::path(name).extension() != ".snapshot" || !fs::is_regular_file(path, ec)) {
    return Status::NotFound("Snapshot " + name + " not found");
  }
  return path;
}

Result<std::string> Snapshots::CollectionSnapshotPath(const std::string& collection,
                                                      const std::string& name) const {
  Result<std::shared_ptr<Collection>> c = collections_.Get(collection);
  if (!c.ok()) return c.status();
  return SnapshotPath(snapshots_path_ + "/" + (*c)->name(), name);
}

Status Snapshots::DeleteCollection(const std::string& collection, const std::string& name) {
  Result<std::string> path = CollectionSnapshotPath(collection, name);
  if (!path.ok()) return path.status();
  std::error_code ec;
  fs::remove(*path, ec);
  fs::remove(*path + ".checksum", ec);
  return Status::Ok();
}

Status Snapshots::Recover(const std::string& collection, const std::string& location,
                          const std::optional<std::string>& checksum) {
  Status s = Collections::ValidateName(collection);
  if (!s.ok()) return s;
  std::string file;
  std::string downloaded;
  std::error_code ec;
  if (location.rfind("file://", 0) == 0) {
    std::string path = location.substr(7);
    if (path.rfind("localhost/", 0) == 0) path = path.substr(9);
    if (path.empty() || path[0] != '/') {
      return Status::InvalidArgument("Bad request: Invalid snapshot URI, file path must be absolute or on localhost");
    }
    if (!fs::exists(path, ec)) {
      return Status::InvalidArgument("Bad request: Snapshot file \"" + path + "\" does not exist");
    }
    std::string canonical = fs::weakly_canonical(path, ec).string();
    if (canonical.rfind(snapshots_path_ + "/", 0) != 0) {
      return Status::PermissionDenied("Forbidden: Snapshot file path must be inside the snapshots directory " +
                                      snapshots_path_ + ", got " + path);
    }
    file = canonical;
  } else if (location.rfind("http://", 0) == 0) {
    fs::create_directories(snapshots_path_ + "/.download", ec);
    downloaded = snapshots_path_ + "/.download/" + Unique() + ".snapshot";
    s = HttpDownload(location, downloaded);
    if (!s.ok()) {
      fs::remove(downloaded, ec);
      return s;
    }
    file = downloaded;
  } else {
    return Status::InvalidArgument("Bad request: Invalid snapshot URI, file path must be absolute or on localhost");
  }
  struct Cleanup {
    std::string downloaded, work;
    ~Cleanup() {
      std::error_code e;
      if (!downloaded.empty()) fs::remove(downloaded, e);
      if (!work.empty()) fs::remove_all(work, e);
    }
  } cleanup{downloaded, storage_path_ + "/.recover-" + Unique()};

  if (checksum) {
    Result<std::string> actual = Sha256File(file);
    if (!actual.ok()) return actual.status();
    if (*actual != *checksum) {
      return Status::InvalidArgument("Bad request: Snapshot checksum mismatch: expected " + *checksum +
                                     ", got " + *actual);
    }
  }
  Result<std::vector<TarEntry>> entries = ExtractTar(file, cleanup.work);
  if (!entries.ok()) return Status::InvalidArgument("Bad request: " + entries.status().message());
  std::string config_text = ReadFile(cleanup.work + "/config.json");
  Result<CollectionConfig> config = FromConfigJson(config_text);
  if (!config.ok()) return Status::InvalidArgument("Bad request: the snapshot has no valid collection config");
  for (uint32_t shard = 0; shard < config->shard_number; ++shard) {
    if (!fs::exists(cleanup.work + "/" + std::to_string(shard) + "/points.db", ec)) {
      return Status::InvalidArgument("Bad request: the snapshot lacks shard " + std::to_string(shard));
    }
  }
  return collections_.Replace(collection, std::move(*config), cleanup.work);
}

Result<SnapshotDescription> Snapshots::CreateFull() {
  std::string work = snapshots_path_ + "/.tmp-full-" + Unique();
  std::vector<TarEntry> entries;
  std::string aliases = "{";
  for (const auto& [alias, target] : collections_.Aliases(nullptr)) {
    aliases += (aliases.size() > 1 ? "," : "") + std::string("\"") + alias + "\":\"" + target + "\"";
  }
  Status s = Status::Ok();
  std::error_code ec;
  fs::create_directories(work, ec);
  s = WriteFile(work + "/aliases.json", aliases + "}");
  entries.push_back({"aliases.json", work + "/aliases.json"});
  for (const std::string& name : collections_.List()) {
    if (!s.ok()) break;
    Result<SnapshotDescription> d = WriteCollectionSnapshot(name, work);
    if (!d.ok()) {
      s = d.status();
      break;
    }
    entries.push_back({d->name, work + "/" + d->name});
  }
  SnapshotDescription d;
  d.name = "full-snapshot-" + UtcNow("%Y-%m-%d-%H-%M-%S") + "-" + std::to_string(g_counter++) + ".snapshot";
  std::string path = snapshots_path_ + "/" + d.name;
  if (s.ok()) s = WriteTar(path + ".tmp", entries);
  fs::remove_all(work, ec);
  if (!s.ok()) return s;
  Result<std::string> sum = Sha256File(path + ".tmp");
  if (!sum.ok()) return sum.status();
  d.checksum = *sum;
  d.size = fs::file_size(path + ".tmp");
  d.creation_time = UtcNow("%Y-%m-%dT%H:%M:%S");
  s = WriteFile(path + ".checksum", d.checksum);
  if (!s.ok()) return s;
  fs::rename(path + ".tmp", path, ec);
  if (ec) return Status::Internal("cannot rename " + path);
  return d;
}

Result<std::vector<SnapshotDescription>> Snapshots::ListFull() const { return List(snapshots_path_); }

Result<std::string> Snapshots::FullSnapshotPath(const std::string& name) const {
  return SnapshotPath(snapshots_path_, name);
}

Status Snapshots::DeleteFull(const std::string& name) {
  Result<std::string> path = FullSnapshotPath(name);
  if (!path.ok()) return path.status();
  std::error_code ec;
  fs::remove(*path, ec);
  fs::remove(*path + ".checksum", ec);
  return Status::Ok();
}

}  // namespace qd::collection
