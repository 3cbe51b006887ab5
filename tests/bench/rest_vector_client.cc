#include "tests/bench/rest_vector_client.h"

#include <rapidjson/document.h>

#include <charconv>
#include <cstring>

#include "tests/bench/http_connection.h"

namespace qd::bench {
namespace {

// Collection names go into paths; keep unreserved characters, escape the rest.
std::string PathSegment(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

void AppendUint(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// [x0,x1,...] with each float in its shortest form that reads back to the same float.
void AppendVector(std::string* out, std::span<const float> v) {
  char buf[32];
  out->push_back('[');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out->push_back(',');
    auto r = std::to_chars(buf, buf + sizeof buf, v[i]);
    out->append(buf, r.ptr);
  }
  out->push_back(']');
}

void AppendSearch(std::string* out, std::span<const float> v, size_t limit, size_t ef) {
  out->append("{\"vector\":");
  AppendVector(out, v);
  out->append(",\"limit\":");
  AppendUint(out, limit);
  out->append(",\"params\":{\"hnsw_ef\":");
  AppendUint(out, ef);
  out->append("}}");
}

StatusCode CodeForHttp(int status) {
  switch (status) {
    case 400:
      return StatusCode::kInvalidArgument;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 405:
      return StatusCode::kMethodNotAllowed;
    case 408:
      return StatusCode::kDeadlineExceeded;
    case 409:
      return StatusCode::kAlreadyExists;
    case 413:
      return StatusCode::kPayloadTooLarge;
    case 422:
      return StatusCode::kUnprocessable;
    case 429:
      return StatusCode::kResourceExhausted;
    case 503:
      return StatusCode::kUnavailable;
    default:
      return StatusCode::kInternal;
  }
}

// "PUT /collections/x: 404 Not found: Collection `x` doesn't exist!"
Status HttpError(const EncodedRequest& req, const HttpResponse& resp) {
  std::string detail = resp.body.substr(0, 300);
  rapidjson::Document doc;
  doc.Parse(resp.body.data(), resp.body.size());
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("status") &&
      doc["status"].IsObject() && doc["status"].HasMember("error") &&
      doc["status"]["error"].IsString()) {
    detail = doc["status"]["error"].GetString();
  }
  return Status(CodeForHttp(resp.status), req.method + " " + req.path + ": HTTP " +
                                              std::to_string(resp.status) + ": " + detail);
}

// Reads one search's hits: [{"id": 7, "score": ...}, ...]. Only integer ids are benchmark ids.
Status ReadHits(const rapidjson::Value& hits, std::vector<uint64_t>* ids) {
  if (!hits.IsArray()) return Status::Internal("search result is not an array");
  ids->clear();
  for (const auto& hit : hits.GetArray()) {
    if (!hit.IsObject() || !hit.HasMember("id") || !hit["id"].IsUint64()) {
      return Status::Internal("search hit without an integer id");
    }
    ids->push_back(hit["id"].GetUint64());
  }
  return Status::Ok();
}

class RestVectorClient : public VectorClient {
 public:
  RestVectorClient(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
                   bool count_points)
      : http_(host, port, timeout), count_points_(count_points) {}

  // HttpConnection connects on its first request, and reconnects once when the server closed it.
  Status Connect() override { return Status::Ok(); }

  Status RecreateCollection(const CollectionSpec& spec) override {
    if (Status s = DeleteCollection(spec.name); !s.ok()) return s;
    EncodedRequest req{"PUT", "/collections/" + PathSegment(spec.name), {}, 0};
    req.body = "{\"vectors\":{\"size\":";
    AppendUint(&req.body, spec.dim);
    req.body.append(",\"distance\":\"").append(MetricName(spec.metric)).append("\"}");
    req.body.append(",\"hnsw_config\":{\"m\":");
    AppendUint(&req.body, spec.m);
    req.body.append(",\"ef_construct\":");
    AppendUint(&req.body, spec.ef_construct);
    req.body.append("}");
    if (!spec.extra_json.empty()) req.body.append(",").append(spec.extra_json);
    req.body.append("}");
    count_points_ = spec.count_points;
    return Call(req, nullptr);
  }

  Result<CollectionState> GetCollection(const std::string& name) override {
    EncodedRequest req{"GET", "/collections/" + PathSegment(name), {}, 0};
    rapidjson::Document doc;
    if (Status s = Call(req, &doc); !s.ok()) return s;
    const rapidjson::Value& result = doc["result"];
    if (!result.IsObject())
      return Status::Internal("GET " + req.path + ": result is not an object");
    CollectionState state;
    if (result.HasMember("points_count") && result["points_count"].IsUint64()) {
      state.points_count = result["points_count"].GetUint64();
    }
    if (result.HasMember("status") && result["status"].IsString()) {
      state.status = result["status"].GetString();
    }
    if (count_points_) {
      EncodedRequest count{"POST", "/collections/" + PathSegment(name) + "/points/count",
                           "{\"exact\":true}", 0};
      rapidjson::Document counted;
      if (Status s = Call(count, &counted); !s.ok()) return s;
      state.points_count = counted["result"]["count"].GetUint64();
    }
    return state;
  }

  Status DeleteCollection(const std::string& name) override {
    EncodedRequest req{"DELETE", "/collections/" + PathSegment(name), {}, 0};
    Status s = Call(req, nullptr);
    return s.code() == StatusCode::kNotFound ? Status::Ok() : s;
  }

  EncodedRequest EncodeUpsert(const std::string& collection, const Matrix& base, size_t first,
                              size_t count) override {
    EncodedRequest req{
        "PUT", "/collections/" + PathSegment(collection) + "/points?wait=true", {}, 0};
    req.body.reserve(count * (base.dim * 12 + 24) + 16);
    req.body.append("{\"points\":[");
    for (size_t i = first; i < first + count; ++i) {
      if (i != first) req.body.push_back(',');
      req.body.append("{\"id\":");
      AppendUint(&req.body, i);
      req.body.append(",\"vector\":");
      AppendVector(&req.body, base.Row(i));
      req.body.push_back('}');
    }
    req.body.append("]}");
    return req;
  }

  EncodedRequest EncodeSearch(const std::string& collection, const Matrix& queries, size_t row,
                              size_t limit, size_t hnsw_ef) override {
    EncodedRequest req{"POST", "/collections/" + PathSegment(collection) + "/points/search", {}, 1};
    AppendSearch(&req.body, queries.Row(row), limit, hnsw_ef);
    return req;
  }

  EncodedRequest EncodeSearchBatch(const std::string& collection, const Matrix& queries,
                                   size_t first, size_t count, size_t limit,
                                   size_t hnsw_ef) override {
    EncodedRequest req{
        "POST", "/collections/" + PathSegment(collection) + "/points/search/batch", {}, count};
    req.body.append("{\"searches\":[");
    for (size_t i = first; i < first + count; ++i) {
      if (i != first) req.body.push_back(',');
      AppendSearch(&req.body, queries.Row(i), limit, hnsw_ef);
    }
    req.body.append("]}");
    return req;
  }

  Status Upsert(const EncodedRequest& request) override { return Call(request, nullptr); }

  Status Search(const EncodedRequest& request, SearchResults* results) override {
    rapidjson::Document doc;
    if (Status s = Call(request, &doc); !s.ok()) return s;
    const rapidjson::Value& result = doc["result"];
    results->resize(request.queries);
    if (request.path.ends_with("/batch")) {
      if (!result.IsArray() || result.Size() != request.queries) {
        return Status::Internal(request.path + ": expected " + std::to_string(request.queries) +
                                " result lists");
      }
      for (rapidjson::SizeType i = 0; i < result.Size(); ++i) {
        if (Status s = ReadHits(result[i], &(*results)[i]); !s.ok()) return s;
      }
      return Status::Ok();
    }
    return ReadHits(result, &(*results)[0]);
  }

 private:
  // Sends `req`; on 2xx parses the body into `doc` (when given) and checks it has "result".
  Status Call(const EncodedRequest& req, rapidjson::Document* doc) {
    auto resp = http_.Request(req.method, req.path, req.body);
    if (!resp.ok()) return resp.status().WithContext(req.method + " " + req.path);
    if (resp->status / 100 != 2) return HttpError(req, *resp);
    if (doc == nullptr) return Status::Ok();
    doc->Parse(resp->body.data(), resp->body.size());
    if (doc->HasParseError() || !doc->IsObject() || !doc->HasMember("result")) {
      return Status::Internal(req.method + " " + req.path +
                              ": answer without \"result\": " + resp->body.substr(0, 200));
    }
    return Status::Ok();
  }

  HttpConnection http_;
  bool count_points_ =
      false;  // GetCollection counts exactly (a cluster node's points_count is its own)
};

}  // namespace

std::unique_ptr<VectorClient> RestTransport::NewClient() {
  return std::make_unique<RestVectorClient>(host_, port_, timeout_, count_points_);
}

std::string RestTransport::Describe() const {
  return "REST http://" + host_ + ":" + std::to_string(port_);
}

}  // namespace qd::bench
