// qd_index_bench: the engine's search path against raw hnswlib on the *same graph*. It builds
// one hnswlib index (labels = positions in base.fvecs), saves it, loads the file twice (raw
// hnswlib and qdrantd's HnswIndex, qdrantd/index), and for each ef runs every query on one
// thread through each in alternating rounds, timing with the thread's CPU clock. Same graph,
// same queries, same core: the ratio is the cost of our traversal (per-node locks, the
// visibility bitmap, our own best-first loop), free of graph-to-graph recall differences and of
// whatever else shares the machine. qd_bench measures the whole server; this isolates the walk.
//   qd_index_bench --data DIR [--metric l2] [--m 16] [--ef-construct 100] [--ef 32,64,128]
//                  [--rounds 5] [--threads 2] [--index FILE]
// --index keeps the built graph in FILE and loads it on the next run (same set and settings),
// so repeated runs (and profiles) measure searches only.
// Exit codes: 0 ok, 1 failed, 2 usage.
#include <hnswlib/hnswlib.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "qdrantd/index/hnsw_index.h"
#include "tests/bench/dataset.h"
#include "tests/bench/measure.h"
#include "tests/bench/parallel.h"

namespace qd::bench {
namespace {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Side {
  double cpu_seconds = 0;
  size_t queries = 0;
  std::vector<std::vector<uint64_t>> found;
};

int Main(int argc, char** argv) {
  CLI::App app{"qdrantd's HNSW search path against raw hnswlib on the same graph"};
  std::string data_dir, metric_text = "l2", ef_text = "32,64,128", index_path, only;
  size_t m = 16, ef_construct = 100, k = 10, rounds = 5, max_queries = 0;
  unsigned threads = 2;
  app.add_option("--data", data_dir, "Set directory (base/query/groundtruth)")->required();
  app.add_option("--metric", metric_text, "Euclid (l2), Cosine (cos) or Dot")->capture_default_str();
  app.add_option("--m", m, "HNSW M")->capture_default_str();
  app.add_option("--ef-construct", ef_construct, "HNSW ef_construction")->capture_default_str();
  app.add_option("--ef", ef_text, "Search ef values, comma-separated")->capture_default_str();
  app.add_option("--k", k, "Neighbours per query (recall@k)")->capture_default_str();
  app.add_option("--rounds", rounds, "Alternating rounds over all queries per side and ef")
      ->capture_default_str();
  app.add_option("--threads", threads, "Threads for the build")->capture_default_str();
  app.add_option("--queries", max_queries, "Use only the first N queries (0: all)");
  app.add_option("--only", only, "Search with one side only (to profile it): raw or ours")
      ->check(CLI::IsMember({"raw", "ours"}));
  app.add_option("--index", index_path, "Keep the graph in this file; load it when it exists");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto metric = ParseMetric(metric_text);
  auto efs = ParseIntList(ef_text);
  if (!metric.ok() || !efs.ok()) {
    std::fprintf(stderr, "%s\n", (metric.ok() ? efs.status() : metric.status()).message().c_str());
    return 2;
  }
  // Cosine: both sides get normalised vectors (HnswIndex normalises again; a no-op on unit
  // vectors) and rank by inner product.
  auto loaded = LoadDatasetFor(*metric, data_dir, max_queries);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  Dataset& ds = *loaded;
  const size_t n = ds.base.rows, dim = ds.base.dim, nq = ds.queries.rows;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  index::HnswIndex::Params params;
  params.dim = static_cast<uint32_t>(dim);
  params.m = m;
  params.ef_construct = ef_construct;
  if (*metric == Metric::kEuclid) {
    space = std::make_unique<hnswlib::L2Space>(dim);
    params.distance = index::Distance::kEuclid;
  } else {
    space = std::make_unique<hnswlib::InnerProductSpace>(dim);
    params.distance = *metric == Metric::kCosine ? index::Distance::kCosine : index::Distance::kDot;
  }
  std::printf("set: %s (%zu x %zu, %zu queries), metric %s, M=%zu ef_construct=%zu\n",
              ds.description.c_str(), n, dim, nq, std::string(MetricName(*metric)).c_str(), m,
              ef_construct);

  const bool keep = !index_path.empty();
  const std::filesystem::path file =
      keep ? std::filesystem::path(index_path)
           : std::filesystem::temp_directory_path() / ("qd_index_bench-" + std::to_string(getpid()) + ".hnsw");
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> raw;
  try {
    if (!keep || !std::filesystem::exists(file)) {
      hnswlib::HierarchicalNSW<float> built(space.get(), n, m, ef_construct);
      ProgressBar bar("hnswlib build", n);
      ParallelFor(n, threads, [&](size_t i, unsigned) {
        built.addPoint(ds.base.data.data() + i * dim, i);
        if ((i & 255) == 0) bar.Add(std::min<size_t>(256, n - i));
      });
      bar.Finish();
      built.saveIndex(file.string());
    }
    raw = std::make_unique<hnswlib::HierarchicalNSW<float>>(space.get(), file.string());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hnswlib: %s\n", e.what());
    return 1;
  }
  if (raw->cur_element_count != n || raw->data_size_ != dim * sizeof(float)) {
    std::fprintf(stderr, "%s holds another set\n", file.c_str());
    return 1;
  }
  auto ours = index::HnswIndex::Load(params, file.string());
  if (!keep) std::filesystem::remove(file);
  if (!ours.ok()) {
    std::fprintf(stderr, "%s\n", ours.status().ToString().c_str());
    return 1;
  }
  // Every label visible, no filter: what an unfiltered search of a segment passes.
  std::vector<uint64_t> visible((n + 63) / 64, ~uint64_t(0));
  index::HnswIndex::Accept accept{visible.data(), n, nullptr};

  std::printf("%6s %10s %10s %12s %12s %7s %8s\n", "ef", "raw recall", "our recall", "raw q/CPU-s",
              "our q/CPU-s", "ratio", "dist/ef");
  for (int ef : *efs) {
    raw->setEf(static_cast<size_t>(ef));
    Side r, o;
    r.found.resize(nq);
    o.found.resize(nq);
    for (size_t round = 0; round < rounds; ++round) {
      double t0 = ThreadCpuSeconds();
      for (size_t q = 0; q < nq && only != "ours"; ++q) {
        auto heap = raw->searchKnn(ds.queries.Row(q).data(), k);
        if (round == 0) {
          std::vector<uint64_t>& ids = r.found[q];
          ids.resize(heap.size());
          for (size_t i = heap.size(); i-- > 0; heap.pop()) ids[i] = heap.top().second;
        }
      }
      r.cpu_seconds += ThreadCpuSeconds() - t0;
      r.queries += nq;
      t0 = ThreadCpuSeconds();
      for (size_t q = 0; q < nq && only != "raw"; ++q) {
        std::vector<index::Hit> hits = (*ours)->Search(ds.queries.Row(q).data(), k, ef, accept);
        if (round == 0) {
          std::vector<uint64_t>& ids = o.found[q];
          ids.clear();
          for (const index::Hit& h : hits) ids.push_back(h.label);
        }
      }
      o.cpu_seconds += ThreadCpuSeconds() - t0;
      o.queries += nq;
    }
    const double raw_rate = r.queries / r.cpu_seconds, our_rate = o.queries / o.cpu_seconds;
    // dist/ef: distances our walk computed per unit of ef (the planner's graph shape figure).
    std::printf("%6d %10.4f %10.4f %12.0f %12.0f %7.2f %8.1f\n", ef,
                RecallAtK(r.found, ds.groundtruth, ds.gt_k, k),
                RecallAtK(o.found, ds.groundtruth, ds.gt_k, k), raw_rate, our_rate,
                our_rate / raw_rate, (*ours)->WalkDistancesPerEf());
  }
  return 0;
}

}  // namespace
}  // namespace qd::bench

int main(int argc, char** argv) { return qd::bench::Main(argc, argv); }
