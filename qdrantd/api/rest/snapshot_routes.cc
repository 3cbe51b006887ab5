// Collection and full snapshots (compat.md §4.7).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <fstream>
#include <string_view>

#include "libshared/log.h"
#include "qdrantd/api/rest/async_handler.h"
#include "qdrantd/api/rest/json.h"
#include "qdrantd/api/rest/point_codec.h"
#include "qdrantd/api/rest/router.h"
#include "qdrantd/collection/snapshots.h"
#include "qdrantd/server/worker_pool.h"

namespace qd::api::rest {
namespace {

using collection::SnapshotDescription;
using collection::Snapshots;

void WriteDescription(JsonWriter& w, const SnapshotDescription& d) {
  w.StartObject();
  w.Key("name");
  w.String(d.name.c_str());
  w.Key("creation_time");
  w.String(d.creation_time.c_str());
  w.Key("size");
  w.Uint64(d.size);
  w.Key("checksum");
  w.String(d.checksum.c_str());
  w.EndObject();
}

Response Described(const Request& request, const SnapshotDescription& d) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteDescription(w, d);
  return JsonResult(request, Take(buffer));
}

Response Listed(const Request& request, const std::vector<SnapshotDescription>& list) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartArray();
  for (const SnapshotDescription& d : list) WriteDescription(w, d);
  w.EndArray();
  return JsonResult(request, Take(buffer));
}

Response Accepted(const Request& request) {
  Response r = JsonResult(request, "null");
  // {"status":"accepted","time":...}: the envelope without a result.
  std::string time = r.body.substr(r.body.find("\"time\":"));
  r.status = 202;
  r.body = "{\"status\":\"accepted\"," + time;
  return r;
}

Result<Response> FileResponse(const Result<std::string>& path) {
  if (!path.ok()) return path.status();
  std::ifstream in(*path, std::ios::binary);
  if (!in) return Status::NotFound("Snapshot not found");
  Response r;
  r.content_type = "application/octet-stream";
  r.body.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

// A multipart/form-data body's part named `name` (Qdrant's upload form field `snapshot`): the
// boundary is the body's first line.
std::optional<std::string_view> FormPart(std::string_view body, std::string_view name) {
  size_t first = body.find("\r\n");
  if (first == std::string_view::npos || !body.starts_with("--")) return std::nullopt;
  const std::string delimiter = "\r\n" + std::string(body.substr(0, first));
  size_t at = first + 2;
  while (at < body.size()) {
    size_t headers_end = body.find("\r\n\r\n", at);
    if (headers_end == std::string_view::npos) return std::nullopt;
    std::string_view headers = body.substr(at, headers_end - at);
    size_t content = headers_end + 4;
    size_t end = body.find(delimiter, content);
    if (end == std::string_view::npos) return std::nullopt;
    const std::string wanted = "name=\"" + std::string(name) + "\"";
    if (headers.find(wanted) != std::string_view::npos) return body.substr(content, end - content);
    at = end + delimiter.size();
    if (body.substr(at, 2) == "--") return std::nullopt;
    at += 2;  // CRLF after the delimiter
  }
  return std::nullopt;
}

// `?wait=`: snapshot operations wait unless told not to (Qdrant's default for snapshots).
Result<bool> Waiting(const Request& r) {
  Result<bool> wait = WaitParam(r);
  if (!wait.ok()) return wait.status();
  return !r.Query("wait") || *wait;
}

// `{shard_id}`: a shard number.
Result<uint32_t> ShardParam(const Request& r) {
  const std::string& text = r.Param("shard_id");
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status::InvalidArgument(
        "Path deserialize error: shard_id: invalid digit found in string `" + text + "`");
  }
  return static_cast<uint32_t>(std::stoul(text));
}

// Qdrant's SnapshotPriority, in a body or the query: accepted, and meaningless on one node
// (there is no other replica to prefer).
Status CheckPriority(const std::optional<std::string>& priority) {
  if (!priority || *priority == "replica" || *priority == "snapshot" || *priority == "no_sync") {
    return Status::Ok();
  }
  return Status::InvalidArgument("Format error in JSON body: priority: unknown variant `" +
                                 *priority + "`, expected one of `no_sync`, `snapshot`, `replica`");
}

// A recover body {location, checksum?, priority?, api_key?}.
struct RecoverBody {
  std::string location;
  std::optional<std::string> checksum;
};

Result<RecoverBody> ParseRecover(const Request& r) {
  Result<rapidjson::Document> body = ParseJsonBody(r.body);
  if (!body.ok()) return body.status();
  const rapidjson::Value* location = Member(*body, "location");
  if (!location || !location->IsString()) {
    return Status::InvalidArgument("Format error in JSON body: missing field `location`");
  }
  RecoverBody out{location->GetString(), std::nullopt};
  if (const rapidjson::Value* c = Member(*body, "checksum"); c && !c->IsNull()) {
    if (!c->IsString())
      return Status::InvalidArgument("Format error in JSON body: checksum: expected a string");
    out.checksum = c->GetString();
  }
  if (const rapidjson::Value* p = Member(*body, "priority"); p && !p->IsNull()) {
    if (!p->IsString())
      return Status::InvalidArgument("Format error in JSON body: priority: expected a string");
    if (Status s = CheckPriority(std::string(p->GetString())); !s.ok()) return s;
  }
  return out;
}

// Runs `recover` now (wait) or on the pool after answering 202 (wait=false, as Qdrant does);
// a background failure is logged.
Result<Response> RecoverNowOrLater(const Request& r, server::WorkerPool* pool,
                                   std::function<Status()> recover) {
  Result<bool> waiting = Waiting(r);
  if (!waiting.ok()) return waiting.status();
  if (*waiting) {
    if (Status s = recover(); !s.ok()) return s;
    return JsonResult(r, "true");
  }
  std::string what = r.path;
  Status s = pool->Submit([recover = std::move(recover), what] {
    if (Status failed = recover(); !failed.ok()) {
      QD_LOG_WARN("snapshot recovery (" + what + ") failed: " + failed.message());
    }
  });
  if (!s.ok()) return s;
  return Accepted(r);
}

// POST .../snapshots/upload: the multipart form's `snapshot` part, recovered at once.
Result<Response> Upload(const Request& r, Snapshots* snapshots, std::optional<uint32_t> shard) {
  if (Status s = CheckPriority(r.Query("priority")); !s.ok()) return s;
  Result<bool> waiting = Waiting(r);
  if (!waiting.ok()) return waiting.status();
  std::optional<std::string_view> file = FormPart(r.body, "snapshot");
  if (!file) {
    return Status::InvalidArgument(
        "Bad request: expected a multipart/form-data body with the snapshot in a `snapshot` part");
  }
  // The upload lives only as long as this request: recover before answering, whatever wait.
  Status s =
      snapshots->RecoverUpload(r.Param("collection_name"), shard, *file, r.Query("checksum"));
  if (!s.ok()) return s;
  return JsonResult(r, "true");
}

}  // namespace

void AddSnapshotRoutes(Router& router, EngineContext context, Snapshots* snapshots) {
  auto add = [&](const char* method, const char* path, std::function<Result<Response>(const Request&)> fn) {
    router.Add(method, path, [context, fn](Request& request, Reply reply) {
      Async(context, request, std::move(reply), fn);
    });
  };
  server::WorkerPool* pool = context.pool;
  // POST with wait=false answers 202 at once and creates in the background.
  auto create = [snapshots, pool](const Request& r, bool full) -> Result<Response> {
    Result<bool> waiting = Waiting(r);
    if (!waiting.ok()) return waiting.status();
    std::string collection = r.Param("collection_name");
    if (!*waiting) {
      if (!full) {
        Result<std::vector<SnapshotDescription>> exists = snapshots->ListCollection(collection);
        if (!exists.ok()) return exists.status();
      }
      Status s = pool->Submit([snapshots, collection, full] {
        if (full) {
          (void)snapshots->CreateFull();
        } else {
          (void)snapshots->CreateCollection(collection);
        }
      });
      if (!s.ok()) return s;
      return Accepted(r);
    }
    Result<SnapshotDescription> d = full ? snapshots->CreateFull() : snapshots->CreateCollection(collection);
    if (!d.ok()) return d.status();
    return Described(r, *d);
  };
  const std::string base = "/collections/{collection_name}/snapshots";
  add("POST", base.c_str(), [create](const Request& r) { return create(r, false); });
  add("GET", base.c_str(), [snapshots](const Request& r) -> Result<Response> {
    Result<std::vector<SnapshotDescription>> list = snapshots->ListCollection(r.Param("collection_name"));
    if (!list.ok()) return list.status();
    return Listed(r, *list);
  });
  add("PUT", (base + "/recover").c_str(), [snapshots, pool](const Request& r) -> Result<Response> {
    Result<RecoverBody> body = ParseRecover(r);
    if (!body.ok()) return body.status();
    return RecoverNowOrLater(
        r, pool, [snapshots, collection = r.Param("collection_name"), body = std::move(*body)] {
          return snapshots->Recover(collection, body.location, body.checksum);
        });
  });
  add("POST", (base + "/upload").c_str(),
      [snapshots](const Request& r) { return Upload(r, snapshots, std::nullopt); });
  add("GET", (base + "/{snapshot_name}").c_str(), [snapshots](const Request& r) {
    return FileResponse(snapshots->CollectionSnapshotPath(r.Param("collection_name"), r.Param("snapshot_name")));
  });
  add("DELETE", (base + "/{snapshot_name}").c_str(), [snapshots](const Request& r) -> Result<Response> {
    Status s = snapshots->DeleteCollection(r.Param("collection_name"), r.Param("snapshot_name"));
    if (!s.ok()) return s;
    return JsonResult(r, "true");
  });

  // Shard snapshots.
  const std::string shard_base = "/collections/{collection_name}/shards/{shard_id}/snapshots";
  add("POST", shard_base.c_str(), [snapshots, pool](const Request& r) -> Result<Response> {
    Result<uint32_t> shard = ShardParam(r);
    if (!shard.ok()) return shard.status();
    Result<bool> waiting = Waiting(r);
    if (!waiting.ok()) return waiting.status();
    const std::string collection = r.Param("collection_name");
    if (!*waiting) {
      Result<std::vector<SnapshotDescription>> exists = snapshots->ListShard(collection, *shard);
      if (!exists.ok()) return exists.status();
      Status s = pool->Submit([snapshots, collection, shard = *shard] {
        (void)snapshots->CreateShard(collection, shard);
      });
      if (!s.ok()) return s;
      return Accepted(r);
    }
    Result<SnapshotDescription> d = snapshots->CreateShard(collection, *shard);
    if (!d.ok()) return d.status();
    return Described(r, *d);
  });
  add("GET", shard_base.c_str(), [snapshots](const Request& r) -> Result<Response> {
    Result<uint32_t> shard = ShardParam(r);
    if (!shard.ok()) return shard.status();
    Result<std::vector<SnapshotDescription>> list =
        snapshots->ListShard(r.Param("collection_name"), *shard);
    if (!list.ok()) return list.status();
    return Listed(r, *list);
  });
  add("GET", (shard_base + "/{snapshot_name}").c_str(),
      [snapshots](const Request& r) -> Result<Response> {
        Result<uint32_t> shard = ShardParam(r);
        if (!shard.ok()) return shard.status();
        return FileResponse(snapshots->ShardSnapshotPath(r.Param("collection_name"), *shard,
                                                         r.Param("snapshot_name")));
      });
  add("DELETE", (shard_base + "/{snapshot_name}").c_str(),
      [snapshots](const Request& r) -> Result<Response> {
        Result<uint32_t> shard = ShardParam(r);
        if (!shard.ok()) return shard.status();
        Status s =
            snapshots->DeleteShard(r.Param("collection_name"), *shard, r.Param("snapshot_name"));
        if (!s.ok()) return s;
        return JsonResult(r, "true");
      });
  add("PUT", (shard_base + "/recover").c_str(),
      [snapshots, pool](const Request& r) -> Result<Response> {
        Result<uint32_t> shard = ShardParam(r);
        if (!shard.ok()) return shard.status();
        Result<RecoverBody> body = ParseRecover(r);
        if (!body.ok()) return body.status();
        return RecoverNowOrLater(r, pool,
                                 [snapshots, collection = r.Param("collection_name"),
                                  shard = *shard, body = std::move(*body)] {
                                   return snapshots->RecoverShard(collection, shard, body.location,
                                                                  body.checksum);
                                 });
      });
  add("POST", (shard_base + "/upload").c_str(), [snapshots](const Request& r) -> Result<Response> {
    Result<uint32_t> shard = ShardParam(r);
    if (!shard.ok()) return shard.status();
    return Upload(r, snapshots, *shard);
  });
  // GET .../shards/{s}/snapshot: a fresh snapshot of the shard, downloaded at once and not kept.
  add("GET", "/collections/{collection_name}/shards/{shard_id}/snapshot",
      [snapshots](const Request& r) -> Result<Response> {
        Result<uint32_t> shard = ShardParam(r);
        if (!shard.ok()) return shard.status();
        const std::string collection = r.Param("collection_name");
        Result<SnapshotDescription> d = snapshots->CreateShard(collection, *shard);
        if (!d.ok()) return d.status();
        Result<Response> file =
            FileResponse(snapshots->ShardSnapshotPath(collection, *shard, d->name));
        (void)snapshots->DeleteShard(collection, *shard, d->name);
        return file;
      });

  add("POST", "/snapshots", [create](const Request& r) { return create(r, true); });
  add("GET", "/snapshots", [snapshots](const Request& r) -> Result<Response> {
    Result<std::vector<SnapshotDescription>> list = snapshots->ListFull();
    if (!list.ok()) return list.status();
    return Listed(r, *list);
  });
  add("GET", "/snapshots/{snapshot_name}", [snapshots](const Request& r) {
    return FileResponse(snapshots->FullSnapshotPath(r.Param("snapshot_name")));
  });
  add("DELETE", "/snapshots/{snapshot_name}", [snapshots](const Request& r) -> Result<Response> {
    Status s = snapshots->DeleteFull(r.Param("snapshot_name"));
    if (!s.ok()) return s;
    return JsonResult(r, "true");
  });
}

}  // namespace qd::api::rest
