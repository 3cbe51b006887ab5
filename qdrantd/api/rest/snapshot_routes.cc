// Collection and full snapshots (compat.md §4.7).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fstream>

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
    Result<bool> wait = WaitParam(r);
    if (!wait.ok()) return wait.status();
    std::optional<std::string> given = r.Query("wait");
    bool waiting = !given || *wait;  // Qdrant waits by default for snapshots
    std::string collection = r.Param("collection_name");
    if (!waiting) {
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
  add("PUT", (base + "/recover").c_str(), [snapshots](const Request& r) -> Result<Response> {
    Result<bool> wait = WaitParam(r);
    if (!wait.ok()) return wait.status();
    Result<rapidjson::Document> body = ParseJsonBody(r.body);
    if (!body.ok()) return body.status();
    const rapidjson::Value* location = Member(*body, "location");
    if (!location || !location->IsString()) {
      return Status::InvalidArgument("Format error in JSON body: missing field `location`");
    }
    std::optional<std::string> checksum;
    if (const rapidjson::Value* c = Member(*body, "checksum")) {
      if (!c->IsString()) return Status::InvalidArgument("Format error in JSON body: checksum: expected a string");
      checksum = c->GetString();
    }
    Status s = snapshots->Recover(r.Param("collection_name"), location->GetString(), checksum);
    if (!s.ok()) return s;
    return JsonResult(r, "true");
  });
  add("GET", (base + "/{snapshot_name}").c_str(), [snapshots](const Request& r) {
    return FileResponse(snapshots->CollectionSnapshotPath(r.Param("collection_name"), r.Param("snapshot_name")));
  });
  add("DELETE", (base + "/{snapshot_name}").c_str(), [snapshots](const Request& r) -> Result<Response> {
    Status s = snapshots->DeleteCollection(r.Param("collection_name"), r.Param("snapshot_name"));
    if (!s.ok()) return s;
    return JsonResult(r, "true");
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
