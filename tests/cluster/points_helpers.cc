#include "tests/cluster/points_helpers.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>

#include "tests/support/json.h"

namespace qd::test {

std::string Point(uint64_t id, const std::string& tag) {
  return R"({"id":)" + std::to_string(id) + R"(,"vector":[)" + std::to_string(id % 7) + ".5," +
         std::to_string(id % 3) + R"(],"payload":{"n":)" + std::to_string(id) + R"(,"tag":")" +
         tag + R"("}})";
}

std::string Batch(uint64_t first, uint64_t last, const std::string& tag) {
  std::string out = R"({"points":[)";
  for (uint64_t id = first; id <= last; ++id) out += (id > first ? "," : "") + Point(id, tag);
  return out + "]}";
}

bool CreateCollection(ClusterPeer& via, const std::string& name, int shards, int rf, int wcf) {
  HttpResponse r =
      via.Request("PUT", "/collections/" + name + "?timeout=10",
                  R"({"vectors":{"size":2,"distance":"Dot"},"shard_number":)" +
                      std::to_string(shards) + R"(,"replication_factor":)" + std::to_string(rf) +
                      R"(,"write_consistency_factor":)" + std::to_string(wcf) + "}");
  INFO(r.body);
  return r.status == 200;
}

// Every peer knows the collection and every replica of it is Active there.
bool AllActive(const std::vector<ClusterPeer*>& peers, const std::string& name) {
  for (ClusterPeer* p : peers) {
    if (!p->Running()) continue;
    HttpResponse r = p->Request("GET", "/collections/" + name + "/cluster");
    if (r.status != 200) return false;
    for (const char* state : {"\"Dead\"", "\"Partial\"", "\"Initializing\""}) {
      if (r.body.find(state) != std::string::npos) return false;
    }
  }
  return true;
}

uint64_t Count(const ClusterPeer& p, const std::string& name, const std::string& body) {
  HttpResponse r = p.Request("POST", "/collections/" + name + "/points/count", body);
  INFO(r.body);
  REQUIRE(r.status == 200);
  return Json(r)["result"]["count"].GetUint64();
}

// The result of a read with the volatile "time" field removed.
std::string Result(const HttpResponse& r) {
  rapidjson::Document d = ParseJson(r.body);
  if (!d.IsObject() || !d.HasMember("result")) return r.body;
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  d["result"].Accept(writer);
  return buffer.GetString();
}

// Every shard's replicas across `peers` hold the same bytes; returns how many replicas were
// compared (each shard must have at least `min_replicas`).
size_t CheckReplicasIdentical(const std::vector<ClusterPeer*>& peers, const std::string& name,
                              uint32_t shards, size_t min_replicas) {
  size_t compared = 0;
  for (uint32_t shard = 0; shard < shards; ++shard) {
    std::optional<std::string> first;
    size_t replicas = 0;
    for (ClusterPeer* p : peers) {
      if (!p->Running()) continue;
      std::optional<std::string> content = ReplicaContent(*p, name, shard);
      if (!content) continue;
      ++replicas;
      if (!first) {
        first = content;
      } else {
        INFO("shard " << shard << " differs between replicas");
        CHECK(*content == *first);
      }
    }
    INFO("shard " << shard);
    CHECK(replicas >= min_replicas);
    compared += replicas;
  }
  return compared;
}

uint64_t PeerId(const ClusterPeer& p) {
  auto info = p.Cluster();
  REQUIRE(info);
  return info->peer_id;
}

void Preload(const ClusterPeer& via, const std::string& name, uint64_t points) {
  for (uint64_t first = 1; first <= points; first += 1000) {
    HttpResponse r = via.Request("PUT", "/collections/" + name + "/points?wait=true",
                                 Batch(first, std::min(points, first + 999)));
    INFO(r.body);
    REQUIRE(r.status == 200);
  }
}

std::set<uint64_t> Ids(const ClusterPeer& via, const std::string& name) {
  HttpResponse r =
      via.Request("POST", "/collections/" + name + "/points/scroll",
                  R"({"limit":1000000,"with_payload":false})", std::chrono::seconds(30));
  REQUIRE(r.status == 200);
  std::set<uint64_t> out;
  rapidjson::Document d = Json(r);
  for (const auto& p : d["result"]["points"].GetArray()) out.insert(p["id"].GetUint64());
  CHECK(d["result"]["next_page_offset"].IsNull());
  return out;
}

Writers::Writers(const std::vector<ClusterPeer*>& peers, std::string name)
    : name_(std::move(name)) {
  for (size_t w = 0; w < 3; ++w) {
    threads_.emplace_back([this, peers, w] {
      uint64_t next = 1'000'000 * (w + 1);
      while (!stop_) {
        const ClusterPeer& via = *peers[(w + next) % peers.size()];
        const uint64_t id = next++;
        HttpResponse r = via.Request("PUT", "/collections/" + name_ + "/points?wait=true",
                                     Batch(id, id, "w"), std::chrono::seconds(10));
        std::lock_guard<std::mutex> lock(mu_);
        (r.status == 200 ? acked_ : unknown_).insert(id);
      }
    });
  }
}

void Writers::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::set<uint64_t> Writers::acked() {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_;
}

size_t Writers::unknown() {
  std::lock_guard<std::mutex> lock(mu_);
  return unknown_.size();
}

}  // namespace qd::test
