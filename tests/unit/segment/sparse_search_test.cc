// Sparse search through the posting lists (index/sparse_postings.h): after upserts, vector
// updates, vector and point deletions enough to compact the lists several times, and after a
// reopen, a search answers exactly what a scan of the model says; stale listings never show.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "qdrantd/index/sparse_postings.h"
#include "qdrantd/segment/segment.h"
#include "tests/support/temp_dir.h"

namespace qd::segment {
namespace {

using Model = std::map<uint64_t, std::map<uint32_t, float>>;

Vector SparseVector(const std::map<uint32_t, float>& v) {
  Vector out;
  out.sparse = true;
  for (const auto& [i, x] : v) {
    out.indices.push_back(i);
    out.values.push_back(x);
  }
  return out;
}

std::map<uint32_t, float> Random(std::mt19937& rng, size_t n) {
  std::map<uint32_t, float> v;
  while (v.size() < n) v[rng() % 300] = float(rng() % 100000) / 1000.0f + 0.01f;
  return v;
}

// The ids of the 10 best by dot product among points sharing a dimension with `q`.
std::vector<uint64_t> Expected(const Model& model, const std::map<uint32_t, float>& q) {
  std::vector<std::pair<float, uint64_t>> hits;
  for (const auto& [id, v] : model) {
    bool overlap = false;
    float dot = 0;
    for (const auto& [i, x] : q) {
      auto it = v.find(i);
      if (it != v.end()) overlap = true, dot += x * it->second;
    }
    if (overlap) hits.emplace_back(-dot, id);
  }
  std::sort(hits.begin(), hits.end());
  std::vector<uint64_t> out;
  for (size_t i = 0; i < hits.size() && i < 10; ++i) out.push_back(hits[i].second);
  return out;
}

void CheckQueries(const Segment& segment, const Model& model, std::mt19937& rng) {
  for (int q = 0; q < 30; ++q) {
    std::map<uint32_t, float> query = Random(rng, 3);
    SearchSpec spec;
    spec.vector_name = "s";
    spec.query = SparseVector(query);
    spec.limit = 10;
    Result<RecordBatch> found = segment.Search(spec, {});
    REQUIRE(found.ok());
    std::vector<uint64_t> ids;
    for (const PointRecord& r : found->points) ids.push_back(r.id.num);
    CHECK(ids == Expected(model, query));
  }
}

TEST_CASE("sparse search reads the posting lists and answers as a scan would", "[unit][segment]") {
  test::TempDir dir;
  VectorSpec spec;
  spec.name = "s";
  spec.sparse = true;
  std::mt19937 rng(7);
  Model model;
  OpNum op = 0;
  {
    Result<std::unique_ptr<Segment>> segment = Segment::Open(dir.path(), {spec});
    REQUIRE(segment.ok());
    auto upsert = [&](uint64_t first, uint64_t last) {
      Operation o;
      o.kind = OpKind::kUpsert;
      for (uint64_t id = first; id <= last; ++id) {
        model[id] = Random(rng, 8);
        PointStruct p;
        p.id = PointId::Num(id);
        p.vectors.emplace_back("s", SparseVector(model[id]));
        o.points.push_back(std::move(p));
      }
      REQUIRE((*segment)->Apply(++op, o).ok());
    };
    upsert(1, 3000);
    CheckQueries(**segment, model, rng);
    // Rewrites of every point, four times over: the stale entries pass the live ones, and the
    // lists are compacted on the way.
    for (int round = 0; round < 4; ++round) {
      for (uint64_t first = 1; first <= 3000; first += 500) upsert(first, first + 499);
      CheckQueries(**segment, model, rng);
    }
    // Vector updates, a vector deleted, points deleted.
    Operation update;
    update.kind = OpKind::kUpdateVectors;
    for (uint64_t id = 1; id <= 200; ++id) {
      model[id] = Random(rng, 5);
      PointStruct p;
      p.id = PointId::Num(id);
      p.vectors.emplace_back("s", SparseVector(model[id]));
      update.points.push_back(std::move(p));
    }
    REQUIRE((*segment)->Apply(++op, update).ok());
    Operation drop_vectors;
    drop_vectors.kind = OpKind::kDeleteVectors;
    drop_vectors.names = {"s"};
    Operation drop_points;
    drop_points.kind = OpKind::kDeletePoints;
    for (uint64_t id = 201; id <= 400; ++id) {
      drop_vectors.ids.push_back(PointId::Num(id));
      drop_points.ids.push_back(PointId::Num(id + 200));
      model.erase(id);
      model.erase(id + 200);
    }
    REQUIRE((*segment)->Apply(++op, drop_vectors).ok());
    REQUIRE((*segment)->Apply(++op, drop_points).ok());
    CheckQueries(**segment, model, rng);
  }
  // Reopened: the lists are rebuilt from points.db.
  Result<std::unique_ptr<Segment>> reopened = Segment::Open(dir.path(), {spec});
  REQUIRE(reopened.ok());
  CheckQueries(**reopened, model, rng);
}

TEST_CASE("sparse posting lists: live entries only, stale ones counted for compaction",
          "[unit][index]") {
  index::SparsePostings postings;
  postings.Set(3, {1, 2}, {1.0f, 2.0f});
  postings.Set(1, {2, 5}, {3.0f, 4.0f});
  postings.Set(3, {2}, {10.0f});  // rewritten: its entries under 1 and 2 are stale
  std::vector<std::pair<float, uint32_t>> scored = postings.Score({1, 2, 5}, {1.0f, 1.0f, 1.0f});
  std::sort(scored.begin(), scored.end());
  CHECK(scored == std::vector<std::pair<float, uint32_t>>{{7.0f, 1}, {10.0f, 3}});
  CHECK(postings.Score({1}, {1.0f}).empty());
  CHECK(postings.entries() == 5);
  postings.Remove(1);
  CHECK(postings.Score({5}, {1.0f}).empty());
  CHECK_FALSE(postings.NeedsCompaction());  // below the floor
  for (uint32_t i = 0; i < 3000; ++i) postings.Set(7, {i % 11, 20 + i % 13}, {1.0f, 1.0f});
  CHECK(postings.NeedsCompaction());
  postings.Compact();
  CHECK(postings.entries() == 0);
  CHECK(postings.Score({2}, {1.0f}).empty());
  postings.Set(3, {2}, {10.0f});
  CHECK(postings.Score({2}, {0.5f}) == std::vector<std::pair<float, uint32_t>>{{5.0f, 3}});
}

}  // namespace
}  // namespace qd::segment
