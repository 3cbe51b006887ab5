#include "qdrantd/collection/snapshots.h"

#include <netdb.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
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

// One connection of HttpDownload: a socket, with TLS over it for https.
class Connection {
 public:
  ~Connection() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  Status Open(const std::string& host, uint16_t port, bool tls, const std::string& url) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addrs = nullptr;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addrs) != 0) {
      return Status::InvalidArgument("Bad request: cannot resolve " + host);
    }
    for (addrinfo* a = addrs; a && fd_ < 0; a = a->ai_next) {
      fd_ = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
      if (fd_ >= 0 && ::connect(fd_, a->ai_addr, a->ai_addrlen) != 0) {
        ::close(fd_);
        fd_ = -1;
      }
    }
    freeaddrinfo(addrs);
    if (fd_ < 0)
      return Status::InvalidArgument("Bad request: cannot download snapshot from " + url);
    timeval tv{60, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (!tls) return Status::Ok();
    // The server's certificate is verified against the system's CAs (SSL_CERT_FILE and
    // SSL_CERT_DIR override them, as for any OpenSSL client) and must name `host`.
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_ || SSL_CTX_set_default_verify_paths(ctx_) != 1) {
      return Status::Internal("cannot set up TLS for " + url);
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    if (!ssl_) return Status::Internal("cannot set up TLS for " + url);
    SSL_set_tlsext_host_name(ssl_, host.c_str());
    if (SSL_set1_host(ssl_, host.c_str()) != 1)
      return Status::Internal("cannot set up TLS for " + url);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
      const long verify = SSL_get_verify_result(ssl_);
      return Status::InvalidArgument(
          "Bad request: cannot download snapshot from " + url + ": TLS handshake failed" +
          (verify != X509_V_OK ? std::string(": ") + X509_verify_cert_error_string(verify) : ""));
    }
    return Status::Ok();
  }
  bool Send(const std::string& data) {
    if (ssl_) return SSL_write(ssl_, data.data(), static_cast<int>(data.size())) > 0;
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  ssize_t Receive(char* buf, size_t size) {
    if (ssl_) return SSL_read(ssl_, buf, static_cast<int>(size));
    return ::recv(fd_, buf, size, 0);
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

// A chunked body's content; nullopt when it is not well formed.
std::optional<std::string> Dechunk(std::string_view body) {
  std::string out;
  for (;;) {
    size_t line = body.find("\r\n");
    if (line == std::string_view::npos) return std::nullopt;
    size_t size = 0;
    try {
      size = std::stoul(std::string(body.substr(0, line)), nullptr, 16);
    } catch (...) {
      return std::nullopt;
    }
    body.remove_prefix(line + 2);
    if (size == 0) return out;
    if (body.size() < size + 2) return std::nullopt;
    out.append(body.substr(0, size));
    body.remove_prefix(size + 2);
  }
}

// Blocking HTTP/1.1 GET of an http:// or https:// URL into a file; enough for downloading a
// snapshot from a Qdrant-like server. The body ends with the connection (or its chunks).
Status HttpDownload(const std::string& url, const std::string& to) {
  const bool tls = url.rfind("https://", 0) == 0;
  std::string rest = url.substr(url.find("://") + 3);
  size_t slash = rest.find('/');
  std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
  Result<Uri> uri = ParseUri("http://" + rest.substr(0, slash), tls ? 443 : 80);
  if (!uri.ok()) return Status::InvalidArgument("Bad request: invalid snapshot URL " + url);
  Connection connection;
  if (Status s = connection.Open(uri->host, uri->port, tls, url); !s.ok()) return s;
  std::string request =
      "GET " + target + " HTTP/1.1\r\nHost: " + uri->host + "\r\nConnection: close\r\n\r\n";
  if (!connection.Send(request)) {
    return Status::InvalidArgument("Bad request: cannot download snapshot from " + url);
  }
  std::string response;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = connection.Receive(buf, sizeof(buf));
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  size_t header_end = response.find("\r\n\r\n");
  // "HTTP/1.x 200 ...": an HTTP/1.0 server (Python's http.server) answers as well.
  if (header_end == std::string::npos || response.compare(0, 7, "HTTP/1.") != 0 ||
      response.size() < 12 || response.compare(9, 3, "200") != 0) {
    return Status::InvalidArgument("Bad request: cannot download snapshot from " + url + ": " +
                                   response.substr(0, response.find("\r\n")));
  }
  std::string headers = response.substr(0, header_end);
  for (char& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view body = std::string_view(response).substr(header_end + 4);
  if (headers.find("transfer-encoding: chunked") != std::string::npos) {
    std::optional<std::string> whole = Dechunk(body);
    if (!whole) {
      return Status::InvalidArgument("Bad request: cannot download snapshot from " + url +
                                     ": a malformed chunked body");
    }
    return WriteFile(to, *whole);
  }
  return WriteFile(to, std::string(body));
}

}  // namespace

Snapshots::Snapshots(Collections& collections, std::string snapshots_path, std::string storage_path)
    : collections_(collections),
      snapshots_path_(fs::absolute(snapshots_path).lexically_normal().string()),
      storage_path_(std::move(storage_path)) {}

Result<SnapshotDescription> Snapshots::Seal(const std::string& dir, const std::string& prefix,
                                            const std::vector<TarEntry>& entries) {
  SnapshotDescription d;
  d.name =
      prefix + "-" + UtcNow("%Y-%m-%d-%H-%M-%S") + "-" + std::to_string(g_counter++) + ".snapshot";
  const std::string path = dir + "/" + d.name;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create " + dir + ": " + ec.message());
  if (Status s = WriteTar(path + ".tmp", entries); !s.ok()) return s;
  Result<std::string> sum = Sha256File(path + ".tmp");
  if (!sum.ok()) return sum.status();
  d.checksum = *sum;
  d.size = fs::file_size(path + ".tmp");
  d.creation_time = UtcNow("%Y-%m-%dT%H:%M:%S");
  if (Status s = WriteFile(path + ".checksum", d.checksum); !s.ok()) return s;
  fs::rename(path + ".tmp", path, ec);
  if (ec) return Status::Internal("cannot rename " + path + ": " + ec.message());
  return d;
}

Result<SnapshotDescription> Snapshots::WriteSnapshot(const Collection& c,
                                                     const std::vector<uint32_t>& shards,
                                                     bool one_shard, const std::string& dir) {
  const std::string work = snapshots_path_ + "/.tmp-" + Unique();
  struct Cleanup {
    std::string work;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(work, e);
    }
  } cleanup{work};
  std::error_code ec;
  fs::create_directories(work, ec);
  if (ec) return Status::Internal("cannot create " + work + ": " + ec.message());
  std::vector<TarEntry> entries;
  if (Status s = WriteFile(work + "/config.json", c.config().ToJson()); !s.ok()) return s;
  entries.push_back({"config.json", work + "/config.json"});
  for (uint32_t shard : shards) {
    if (!c.HasLocalShard(shard)) {
      return Status::NotFound("Shard " + std::to_string(shard) + " of collection `" + c.name() +
                              "` has no replica on this peer");
    }
    const std::string copy = work + "/" + std::to_string(shard) + ".db";
    Result<std::unique_ptr<sqlite::Db>> db =
        sqlite::Db::Open(c.ShardDir(shard) + "/points.db", sqlite::Db::Sync::kNormal);
    if (!db.ok()) return db.status();
    if (Status s = (*db)->Exec("VACUUM INTO '" + copy + "'"); !s.ok()) return s;
    entries.push_back({one_shard ? "points.db" : std::to_string(shard) + "/points.db", copy});
  }
  const std::string prefix =
      one_shard ? c.name() + "-shard-" + std::to_string(shards.front()) : c.name();
  return Seal(dir, prefix, entries);
}

Result<SnapshotDescription> Snapshots::WriteCollectionSnapshot(const std::string& collection,
                                                               const std::string& dir) {
  Result<std::shared_ptr<Collection>> c = collections_.Get(collection);
  if (!c.ok()) return c.status();
  std::vector<uint32_t> shards((*c)->config().shard_number);
  for (uint32_t i = 0; i < shards.size(); ++i) shards[i] = i;
  return WriteSnapshot(**c, shards, false, dir);
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

Result<std::string> Snapshots::Fetch(const std::string& location, std::string& downloaded) const {
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
    return canonical;
  }
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) {
    fs::create_directories(snapshots_path_ + "/.download", ec);
    downloaded = snapshots_path_ + "/.download/" + Unique() + ".snapshot";
    if (Status s = HttpDownload(location, downloaded); !s.ok()) return s;
    return downloaded;
  }
  return Status::InvalidArgument(
      "Bad request: Invalid snapshot URI, file path must be absolute or on localhost");
}

Status Snapshots::Recover(const std::string& collection, const std::string& location,
                          const std::optional<std::string>& checksum) {
  return RecoverFrom(collection, std::nullopt, location, checksum);
}

Status Snapshots::RecoverShard(const std::string& collection, uint32_t shard,
                               const std::string& location,
                               const std::optional<std::string>& checksum) {
  return RecoverFrom(collection, shard, location, checksum);
}

Status Snapshots::RecoverUpload(const std::string& collection, std::optional<uint32_t> shard,
                                std::string_view bytes,
                                const std::optional<std::string>& checksum) {
  std::error_code ec;
  fs::create_directories(snapshots_path_ + "/.upload", ec);
  const std::string path = snapshots_path_ + "/.upload/" + Unique() + ".snapshot";
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code e;
      fs::remove(path, e);
    }
  } cleanup{path};
  if (Status s = WriteFile(path, std::string(bytes)); !s.ok()) return s;
  return RecoverFrom(collection, shard, "file://" + path, checksum);
}

Status Snapshots::RecoverFrom(const std::string& collection, std::optional<uint32_t> shard,
                              const std::string& location,
                              const std::optional<std::string>& checksum) {
  Status s = Collections::ValidateName(collection);
  if (!s.ok()) return s;
  std::shared_ptr<Collection> target;
  if (shard) {
    // A shard is recovered into the collection as it is: it must exist and hold the shard here.
    Result<std::shared_ptr<Collection>> c = collections_.Get(collection);
    if (!c.ok()) return c.status();
    target = *c;
    if (*shard >= target->config().shard_number || !target->HasLocalShard(*shard)) {
      return Status::NotFound("Shard " + std::to_string(*shard) + " of collection `" + collection +
                              "` has no replica on this peer");
    }
  }
  struct Cleanup {
    std::string downloaded, work;
    ~Cleanup() {
      std::error_code e;
      if (!downloaded.empty()) fs::remove(downloaded, e);
      if (!work.empty()) fs::remove_all(work, e);
    }
  } cleanup{"", storage_path_ + "/.recover-" + Unique()};
  Result<std::string> file = Fetch(location, cleanup.downloaded);
  if (!file.ok()) return file.status();
  if (checksum) {
    Result<std::string> actual = Sha256File(*file);
    if (!actual.ok()) return actual.status();
    if (*actual != *checksum) {
      return Status::InvalidArgument("Bad request: Snapshot checksum mismatch: expected " + *checksum +
                                     ", got " + *actual);
    }
  }
  Result<std::vector<TarEntry>> entries = ExtractTar(*file, cleanup.work);
  if (!entries.ok()) return Status::InvalidArgument("Bad request: " + entries.status().message());
  std::string config_text = ReadFile(cleanup.work + "/config.json");
  Result<CollectionConfig> config = FromConfigJson(config_text);
  if (!config.ok()) return Status::InvalidArgument("Bad request: the snapshot has no valid collection config");
  std::error_code ec;
  if (shard) {
    if (!fs::exists(cleanup.work + "/points.db", ec)) {
      return Status::InvalidArgument("Bad request: not a shard snapshot (it has no points.db)");
    }
    // The points must fit the collection: the same vectors (names, sizes, distances, dense or
    // sparse). Index settings may differ: the replica rebuilds its graphs from the points.
    const std::vector<segment::VectorSpec> ours = target->config().vectors;
    bool same = ours.size() == config->vectors.size();
    for (size_t i = 0; same && i < ours.size(); ++i) {
      const segment::VectorSpec& a = ours[i];
      const segment::VectorSpec& b = config->vectors[i];
      same = a.name == b.name && a.sparse == b.sparse && a.dim == b.dim && a.distance == b.distance;
    }
    if (!same) {
      return Status::InvalidArgument(
          "Bad request: the shard snapshot's vectors differ from "
          "collection `" +
          collection + "`'s: it belongs to another collection");
    }
    fs::create_directories(cleanup.work + "/shard", ec);
    fs::rename(cleanup.work + "/points.db", cleanup.work + "/shard/points.db", ec);
    if (ec) return Status::Internal("cannot stage the recovered shard: " + ec.message());
    return target->RecoverLocalShard(*shard, cleanup.work + "/shard");
  }
  for (uint32_t i = 0; i < config->shard_number; ++i) {
    if (!fs::exists(cleanup.work + "/" + std::to_string(i) + "/points.db", ec)) {
      return Status::InvalidArgument("Bad request: the snapshot lacks shard " + std::to_string(i));
    }
  }
  return collections_.Replace(collection, std::move(*config), cleanup.work);
}

// ---- shard snapshots ----

std::string Snapshots::ShardDir(const std::string& collection, uint32_t shard) const {
  return snapshots_path_ + "/" + collection + "/shards/" + std::to_string(shard);
}

Result<SnapshotDescription> Snapshots::CreateShard(const std::string& collection, uint32_t shard) {
  Result<std::shared_ptr<Collection>> c = collections_.Get(collection);
  if (!c.ok()) return c.status();
  if (shard >= (*c)->config().shard_number) {
    return Status::NotFound("Shard " + std::to_string(shard) + " of collection `" + collection +
                            "` does not exist");
  }
  return WriteSnapshot(**c, {shard}, true, ShardDir((*c)->name(), shard));
}

Result<std::vector<SnapshotDescription>> Snapshots::ListShard(const std::string& collection,
                                                              uint32_t shard) const {
  Result<std::shared_ptr<Collection>> c = collections_.Get(collection);
  if (!c.ok()) return c.status();
  return List(ShardDir((*c)->name(), shard));
}

Result<std::string> Snapshots::ShardSnapshotPath(const std::string& collection, uint32_t shard,
                                                 const std::string& name) const {
  Result<std::shared_ptr<Collection>> c = collections_.Get(collection);
  if (!c.ok()) return c.status();
  return SnapshotPath(ShardDir((*c)->name(), shard), name);
}

Status Snapshots::DeleteShard(const std::string& collection, uint32_t shard,
                              const std::string& name) {
  Result<std::string> path = ShardSnapshotPath(collection, shard, name);
  if (!path.ok()) return path.status();
  std::error_code ec;
  fs::remove(*path, ec);
  fs::remove(*path + ".checksum", ec);
  return Status::Ok();
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
  Result<SnapshotDescription> d =
      s.ok() ? Seal(snapshots_path_, "full-snapshot", entries) : Result<SnapshotDescription>(s);
  fs::remove_all(work, ec);
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
