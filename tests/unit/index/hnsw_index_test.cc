// HnswIndex (qdrantd/index/hnsw_index.h): results against brute force, the Accept bitmap and
// filter, and searches running while inserts rewrite the graph (the WriteScope gate that lets
// searches skip hnswlib's node locks when no insert runs). The concurrency case is the one to
// run under TSan (`make test-tsan`).
#include "qdrantd/index/hnsw_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <random>
#include <thread>
#include <vector>

#include "tests/support/stalled_pipe.h"
#include "tests/support/temp_dir.h"

namespace qd::index {
namespace {

constexpr uint32_t kDim = 16;

std::vector<float> RandomVectors(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n * kDim);
  for (float& x : v) x = normal(rng);
  return v;
}

float L2(const float* a, const float* b) {
  float sum = 0;
  for (uint32_t i = 0; i < kDim; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum;
}

std::unique_ptr<HnswIndex> MakeIndex(size_t capacity) {
  HnswIndex::Params params;
  params.dim = kDim;
  params.distance = Distance::kEuclid;
  params.m = 16;
  params.ef_construct = 100;
  auto index = HnswIndex::Create(params, capacity);
  REQUIRE(index.ok());
  return std::move(*index);
}

// The exact k nearest labels among those `accept` takes, best first (ties by label).
std::vector<uint32_t> BruteForce(const std::vector<float>& data, size_t n, const float* q, size_t k,
                                 const HnswIndex::Accept& accept) {
  std::vector<std::pair<float, uint32_t>> all;
  for (uint32_t label = 0; label < n; ++label) {
    if (accept(label)) all.emplace_back(L2(q, &data[label * kDim]), label);
  }
  std::sort(all.begin(), all.end());
  std::vector<uint32_t> out;
  for (size_t i = 0; i < std::min(k, all.size()); ++i) out.push_back(all[i].second);
  return out;
}

std::vector<uint32_t> Labels(const std::vector<Hit>& hits) {
  std::vector<uint32_t> out;
  for (const Hit& h : hits) out.push_back(h.label);
  return out;
}

}  // namespace

TEST_CASE("HnswIndex search with a large ef returns the exact neighbours", "[hnsw]") {
  constexpr size_t n = 500;
  std::vector<float> data = RandomVectors(n, 1);
  auto index = MakeIndex(64);  // grows through Reserve
  REQUIRE(index->Reserve(n).ok());
  for (uint32_t label = 0; label < n; ++label) REQUIRE(index->Add(label, &data[label * kDim]).ok());
  std::vector<uint64_t> visible((n + 63) / 64, ~uint64_t(0));
  HnswIndex::Accept all{visible.data(), n, nullptr};
  std::vector<float> queries = RandomVectors(20, 2);
  for (size_t q = 0; q < 20; ++q) {
    std::vector<Hit> hits = index->Search(&queries[q * kDim], 10, n, all);
    CHECK(Labels(hits) == BruteForce(data, n, &queries[q * kDim], 10, all));
    CHECK(std::is_sorted(hits.begin(), hits.end(),
                         [](const Hit& a, const Hit& b) { return a.distance < b.distance; }));
  }
}

TEST_CASE("HnswIndex search returns only what the bitmap and the filter accept", "[hnsw]") {
  constexpr size_t n = 400;
  std::vector<float> data = RandomVectors(n, 3);
  auto index = MakeIndex(n);
  for (uint32_t label = 0; label < n; ++label) REQUIRE(index->Add(label, &data[label * kDim]).ok());
  // Odd labels below 350 are visible; labels at or past the bitset's size are not, whatever
  // bits the last word holds beyond it.
  constexpr size_t visible_size = n - 50;
  std::vector<uint64_t> bits((n + 63) / 64, 0);
  for (size_t label = 1; label < n; label += 2) bits[label / 64] |= uint64_t(1) << (label % 64);
  std::function<bool(uint32_t)> every_tenth_odd = [](uint32_t label) { return label % 10 == 3; };
  HnswIndex::Accept odd{bits.data(), visible_size, nullptr};
  HnswIndex::Accept restrictive{bits.data(), visible_size, &every_tenth_odd};
  std::vector<float> queries = RandomVectors(10, 4);
  for (size_t q = 0; q < 10; ++q) {
    const float* query = &queries[q * kDim];
    std::vector<Hit> hits = index->Search(query, 10, 64, odd);
    REQUIRE(hits.size() == 10);
    for (const Hit& h : hits) CHECK((h.label % 2 == 1 && h.label < visible_size));
    // 35 labels match (3, 13, ..., 343): a restrictive filter still yields k results, and with
    // ef covering the graph they are the exact ones.
    std::vector<Hit> few = index->Search(query, 10, n, restrictive);
    CHECK(Labels(few) == BruteForce(data, n, query, 10, restrictive));
  }
}

TEST_CASE("HnswIndex searches run while inserts rewrite the graph", "[hnsw]") {
  constexpr size_t n = 3000;
  std::vector<float> data = RandomVectors(n, 5);
  auto index = MakeIndex(n);
  std::vector<uint64_t> visible((n + 63) / 64, ~uint64_t(0));  // read-only: all acceptable
  HnswIndex::Accept all{visible.data(), n, nullptr};
  for (uint32_t label = 0; label < 200; ++label) REQUIRE(index->Add(label, &data[label * kDim]).ok());

  std::atomic<bool> done{false};
  std::atomic<size_t> searches{0}, bad{0};
  auto searcher = [&](uint32_t seed) {
    std::vector<float> queries = RandomVectors(32, seed);
    for (size_t i = 0; !done.load() || i < 64; ++i) {
      std::vector<Hit> hits = index->Search(&queries[(i % 32) * kDim], 10, 32, all);
      bool sorted = std::is_sorted(hits.begin(), hits.end(),
                                   [](const Hit& a, const Hit& b) { return a.distance < b.distance; });
      bool known = std::all_of(hits.begin(), hits.end(), [&](const Hit& h) { return h.label < n; });
      if (hits.size() != 10 || !sorted || !known) ++bad;
      ++searches;
    }
  };
  std::thread s1(searcher, 6), s2(searcher, 7);
  // Batches under a WriteScope (as the segment inserts), and single Adds, which enter it alone.
  for (uint32_t start = 200; start < n; start += 400) {
    uint32_t end = std::min<uint32_t>(start + 400, n);
    if ((start / 400) % 2 == 0) {
      HnswIndex::WriteScope writing(*index);
      for (uint32_t label = start; label < end; ++label) {
        REQUIRE(index->Add(label, &data[label * kDim]).ok());
      }
    } else {
      for (uint32_t label = start; label < end; ++label) {
        REQUIRE(index->Add(label, &data[label * kDim]).ok());
      }
    }
  }
  done = true;
  s1.join();
  s2.join();
  CHECK(bad.load() == 0);
  CHECK(searches.load() >= 128);
  // Every point is found again by its own vector once the inserts are done.
  size_t found = 0;
  for (uint32_t label = 0; label < n; label += 7) {
    std::vector<Hit> hits = index->Search(&data[label * kDim], 1, 64, all);
    found += !hits.empty() && hits[0].label == label;
  }
  CHECK(found >= (n / 7) * 99 / 100);
}

TEST_CASE("HnswIndex searches go on while the index is being saved", "[hnsw]") {
  // The save writes into a pipe nobody reads, so it stops inside hnswlib's saveIndex, lock held,
  // once the pipe is full. A search must still answer then; an exclusive lock in Save held every
  // search for the whole write (0.7 s at 300k points, every minute).
  constexpr size_t n = 2000;  // ~400 KB of index: far more than a pipe holds
  std::vector<float> data = RandomVectors(n, 21);
  auto index = MakeIndex(n);
  for (uint32_t label = 0; label < n; ++label) REQUIRE(index->Add(label, &data[label * kDim]).ok());
  test::TempDir dir;
  test::StalledPipe pipe(dir.path() + "/index.hnsw");
  REQUIRE(pipe.ok());
  std::future<Status> saved =
      std::async(std::launch::async, [&] { return index->Save(dir.path() + "/index.hnsw"); });
  REQUIRE(pipe.WaitForWriter());  // the save has begun writing: it holds its lock

  std::vector<uint64_t> visible((n + 63) / 64, ~uint64_t(0));
  HnswIndex::Accept all{visible.data(), n, nullptr};
  std::future<size_t> searched = std::async(std::launch::async, [&] {
    return index->Search(&data[7 * kDim], 5, 32, all).size();
  });
  const bool answered = searched.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  pipe.Drain();  // the save (and, without the fix, the search) can finish
  CHECK(saved.get().ok());
  CHECK(answered);
  CHECK(searched.get() == 5);
}

TEST_CASE("HnswIndex grown step by step and reloaded answers as one made at full size", "[hnsw]") {
  // Reserve moves level 0 (vectors and links) to bigger blocks as the index grows, and a load
  // shrinks it to fit. One thread inserting in one order builds one graph (hnswlib draws levels
  // from a fixed seed), so the index grown from 16 by Reserve steps, and the same index saved
  // and loaded, must answer every query exactly as one made at full size.
  constexpr uint32_t dim = 128;
  constexpr size_t n = 5000;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> data(n * dim);
  for (float& x : data) x = normal(rng);
  HnswIndex::Params params;
  params.dim = dim;
  params.distance = Distance::kEuclid;
  params.m = 8;
  params.ef_construct = 32;
  auto make = [&](size_t capacity, size_t step) {
    auto created = HnswIndex::Create(params, capacity);
    REQUIRE(created.ok());
    std::unique_ptr<HnswIndex> index = std::move(*created);
    for (size_t first = 0; first < n; first += step) {
      REQUIRE(index->Reserve(step).ok());
      for (size_t label = first; label < first + step; ++label) {
        REQUIRE(index->Add(static_cast<uint32_t>(label), &data[label * dim]).ok());
      }
    }
    return index;
  };
  std::unique_ptr<HnswIndex> full = make(n, n);
  std::unique_ptr<HnswIndex> grown = make(16, 250);

  std::vector<uint64_t> visible((n + 64) / 64, ~uint64_t(0));
  HnswIndex::Accept all{visible.data(), n + 1, nullptr};
  std::vector<float> queries(200 * dim);
  for (float& x : queries) x = normal(rng);
  auto same_answers = [&](const HnswIndex& a, const HnswIndex& b) {
    std::vector<float> stored;
    for (uint32_t label = 0; label < n; label += 7) {
      REQUIRE(b.VectorOf(label, stored));
      REQUIRE(std::equal(stored.begin(), stored.end(), &data[label * dim]));
    }
    for (size_t q = 0; q < 200; ++q) {
      std::vector<Hit> x = a.Search(&queries[q * dim], 10, 48, all);
      std::vector<Hit> y = b.Search(&queries[q * dim], 10, 48, all);
      REQUIRE(x.size() == 10);
      REQUIRE(Labels(x) == Labels(y));
    }
  };
  same_answers(*full, *grown);

  test::TempDir dir;
  const std::string path = dir.path() + "/index.hnsw";
  REQUIRE(grown->Save(path).ok());
  auto loaded = HnswIndex::Load(params, path);
  REQUIRE(loaded.ok());
  CHECK((*loaded)->size() == n);
  same_answers(*full, **loaded);
  // A checkpoint's two halves write the same bytes as Save (hnswlib's saveIndex).
  {
    std::ifstream saved(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(saved)), {});
    const std::string image = grown->Image();
    CHECK(image.size() == bytes.size());
    CHECK(image == bytes);
    const int dir_fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(dir_fd >= 0);
    REQUIRE(HnswIndex::WriteImage(image, dir_fd, "image.hnsw").ok());
    ::close(dir_fd);
    auto reloaded = HnswIndex::Load(params, dir.path() + "/image.hnsw");
    REQUIRE(reloaded.ok());
    same_answers(*full, **reloaded);
  }
  // It grows again after the load.
  std::vector<float> extra(dim, 0.5f);
  REQUIRE((*loaded)->Reserve(1).ok());
  REQUIRE((*loaded)->Add(static_cast<uint32_t>(n), extra.data()).ok());
  std::vector<Hit> hits = (*loaded)->Search(extra.data(), 1, 64, all);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].label == n);
}

// Issue #22: payload links. The group is the labels whose first coordinate is above 1 (a slab
// of the space, about 16% of it); queries come from the other side (first coordinate -3), so
// the graph's own links lead away from the group and a walk within it needs the group's links.
TEST_CASE("HnswIndex walks within a linked group wherever the query is", "[hnsw]") {
  constexpr size_t n = 3000;
  std::vector<float> data = RandomVectors(n, 11);
  auto index = MakeIndex(n);
  for (uint32_t label = 0; label < n; ++label) REQUIRE(index->Add(label, &data[label * kDim]).ok());
  std::vector<uint32_t> group;
  std::vector<uint64_t> bits((n + 63) / 64, 0);
  for (uint32_t label = 0; label < n; ++label) {
    if (data[label * kDim] > 1) {
      group.push_back(label);
      bits[label / 64] |= uint64_t(1) << (label % 64);
    }
  }
  REQUIRE(group.size() > 300);
  HnswIndex::Accept in_group{bits.data(), n, nullptr};
  // Half the group linked at once, the rest point by point, as a segment grows a group.
  const size_t half = group.size() / 2;
  REQUIRE(index->LinkGroup({group.begin(), group.begin() + half}, 8, 64).ok());
  const size_t links_at_half = index->PayloadLinkCount();
  CHECK(links_at_half >= half * 4);
  std::vector<uint32_t> seeds;
  for (size_t i = 0; i < half; i += half / 16) seeds.push_back(group[i]);
  for (size_t i = half; i < group.size(); ++i) {
    index->LinkIntoGroup(group[i], in_group, seeds, 8, 64);
  }
  CHECK(index->PayloadLinkCount() > links_at_half);

  std::vector<float> queries = RandomVectors(20, 12);
  size_t found = 0;
  for (size_t q = 0; q < 20; ++q) {
    float* query = &queries[q * kDim];
    query[0] = -3;
    HnswIndex::Walk walk;
    walk.within = &in_group;
    walk.seeds = seeds;
    std::vector<Hit> hits = index->Search(query, 10, 64, in_group, &walk);
    std::vector<uint32_t> truth = BruteForce(data, n, query, 10, in_group);
    for (const Hit& h : hits) {
      CHECK((data[h.label * kDim] > 1));
      found += std::count(truth.begin(), truth.end(), h.label);
    }
    // Within the group the walk measures group labels only.
    CHECK(walk.tested <= group.size());
  }
  CHECK(double(found) / 200 >= 0.95);

  index->ClearPayloadLinks();
  CHECK(index->PayloadLinkCount() == 0);
}

// Payload links change while searches walk within the group: the writer links points in and
// grows the index (Reserve moves the extra lists too), two threads search. Run under TSan.
TEST_CASE("HnswIndex searches within a group while points are linked into it", "[hnsw]") {
  constexpr size_t n = 2000, more = 400;
  std::vector<float> data = RandomVectors(n + more, 13);
  auto index = MakeIndex(n);
  for (uint32_t label = 0; label < n; ++label) REQUIRE(index->Add(label, &data[label * kDim]).ok());
  std::vector<uint32_t> group;
  std::vector<uint64_t> bits((n + more + 63) / 64, 0);
  for (uint32_t label = 0; label < n; label += 3) {
    group.push_back(label);
    bits[label / 64] |= uint64_t(1) << (label % 64);
  }
  const size_t half = group.size() / 2;
  REQUIRE(index->LinkGroup({group.begin(), group.begin() + half}, 8, 32).ok());
  std::vector<uint32_t> seeds(group.begin(), group.begin() + 16);
  HnswIndex::Accept in_group{bits.data(), n, nullptr};

  std::atomic<bool> done{false};
  std::atomic<size_t> bad{0};
  auto searcher = [&](uint32_t seed) {
    std::vector<float> queries = RandomVectors(16, seed);
    for (size_t i = 0; !done.load() || i < 32; ++i) {
      HnswIndex::Walk walk;
      walk.within = &in_group;
      walk.seeds = seeds;
      std::vector<Hit> hits = index->Search(&queries[(i % 16) * kDim], 10, 32, in_group, &walk);
      bool ok =
          hits.size() == 10 &&
          std::is_sorted(hits.begin(), hits.end(),
                         [](const Hit& a, const Hit& b) { return a.distance < b.distance; }) &&
          std::all_of(hits.begin(), hits.end(), [](const Hit& h) { return h.label % 3 == 0; });
      if (!ok) ++bad;
    }
  };
  std::thread s1(searcher, 14), s2(searcher, 15);
  for (size_t i = half; i < group.size(); ++i) {
    index->LinkIntoGroup(group[i], in_group, seeds, 8, 32);
    if (i % 100 == 0) {  // the writer grows the graph between links, as a segment does
      const uint32_t first = static_cast<uint32_t>(n + (i / 100) * 10);
      if (first + 10 <= n + more) {
        REQUIRE(index->Reserve(10).ok());
        for (uint32_t label = first; label < first + 10; ++label) {
          REQUIRE(index->Add(label, &data[label * kDim]).ok());
        }
      }
    }
  }
  done = true;
  s1.join();
  s2.join();
  CHECK(bad == 0);
}

}  // namespace qd::index
