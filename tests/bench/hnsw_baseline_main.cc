// qd_hnsw_baseline: raw in-process hnswlib on a benchmark set, the reference qd_bench's REST
// figures are divided by. It builds the index with M and ef_construct on N threads (addPoint
// over a shared counter, as hnswlib's python bindings do), then for each ef searches every query
// on N threads (recall@k, QPS) and once more on one thread, timing each query (p50/p99).
// It also reports the bytes of vectors and graph, counted from hnswlib's own layout:
//   vectors  n * data_size_                         (dim * 4)
//   graph    n * (size_links_level0_ + label)       (level-0 links: maxM0 ids + count, 8B label)
//            + sum(level_i) * size_links_per_element_  (upper levels: maxM ids + count each)
// That sum is what a server must hold at least; its resident memory is compared with it.
// --kernel qdrantd swaps hnswlib's distance function (fixed at compile time: SSE in a portable
// build) for the one the daemon picks at run time (qdrantd/index/distance.h): the same graph
// code with the daemon's kernel, so a ratio against it is the server's overhead alone.
//   qd_hnsw_baseline --data DIR [--metric l2] [--m 16] [--ef-construct 100]
//                    [--ef 16,32,64,128,256] [--threads 2] [--kernel hnswlib|qdrantd]
//                    [--json FILE]
// Exit codes: 0 ok, 1 failed, 2 usage.
#include <hnswlib/hnswlib.h>
#include <rapidjson/filewritestream.h>
#include <rapidjson/prettywriter.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "qdrantd/index/distance.h"
#include "qdrantd/index/kernel_space.h"
#include "tests/bench/dataset.h"
#include "tests/bench/measure.h"
#include "tests/bench/parallel.h"

namespace qd::bench {
namespace {

struct EfResult {
  int ef = 0;
  double recall = 0;
  double qps = 0;          // all queries on `threads` threads
  double cpu_seconds = 0;  // CPU time of that measurement (all threads)
  size_t queries = 0;      // queries in it
  double single_qps = 0;   // one thread, one query at a time
  double p50_ms = 0, p99_ms = 0;
};

std::vector<uint64_t> Search(hnswlib::HierarchicalNSW<float>& index, const float* q, size_t k) {
  auto heap = index.searchKnn(q, k);  // farthest on top
  std::vector<uint64_t> ids(heap.size());
  for (size_t i = heap.size(); i-- > 0; heap.pop()) ids[i] = heap.top().second;
  return ids;
}

int Main(int argc, char** argv) {
  CLI::App app{"Raw in-process hnswlib on a benchmark set: build and search figures"};
  std::string data_dir, metric_text = "l2", ef_text = "16,32,64,128,256", json_path,
      kernel = "hnswlib";
  size_t m = 16, ef_construct = 100, k = 10, max_queries = 0;
  unsigned threads = 2;
  double min_seconds = 1.0;
  app.add_option("--data", data_dir, "Set directory (base/query/groundtruth)")->required();
  app.add_option("--metric", metric_text, "Euclid (l2), Cosine (cos) or Dot")
      ->capture_default_str();
  app.add_option("--m", m, "HNSW M")->capture_default_str();
  app.add_option("--ef-construct", ef_construct, "HNSW ef_construction")->capture_default_str();
  app.add_option("--ef", ef_text, "Search ef values, comma-separated")->capture_default_str();
  app.add_option("--k", k, "Neighbours per query (recall@k)")->capture_default_str();
  app.add_option("--threads", threads, "Threads for build and batched search")
      ->capture_default_str();
  app.add_option("--queries", max_queries, "Use only the first N queries (0: all)");
  app.add_option("--min-seconds", min_seconds,
                 "Repeat the query set until the multi-thread search has run this long")
      ->capture_default_str();
  app.add_option("--kernel", kernel,
                 "Distance function: hnswlib's own, or qdrantd's pick for this CPU")
      ->check(CLI::IsMember({"hnswlib", "qdrantd"}))
      ->capture_default_str();
  app.add_option("--json", json_path, "Also write the figures as JSON to this file");
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
  // Qdrant stores Cosine vectors normalised and ranks them by dot product; so does this.
  auto loaded = LoadDatasetFor(*metric, data_dir, max_queries);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  Dataset& ds = *loaded;
  const size_t n = ds.base.rows, dim = ds.base.dim, nq = ds.queries.rows;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  const index::DistanceKernels& ours = index::BestDistanceKernels();
  if (kernel == "qdrantd") {
    space = std::make_unique<index::KernelSpace>(
        dim, *metric == Metric::kEuclid ? ours.l2_squared : ours.inner_product);
    kernel = "qdrantd " + std::string(ours.isa);
  } else if (*metric == Metric::kEuclid) {
    space = std::make_unique<hnswlib::L2Space>(dim);
  } else {
    space = std::make_unique<hnswlib::InnerProductSpace>(dim);
  }
  std::printf(
      "set: %s (%zu x %zu, %zu queries), metric %s, M=%zu ef_construct=%zu, %u threads, "
      "%s kernel\n",
      ds.description.c_str(), n, dim, nq, std::string(MetricName(*metric)).c_str(), m,
      ef_construct, threads, kernel.c_str());

  auto rss_before = ReadProcessMemory(getpid());
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
  double build_seconds = 0, build_cpu_seconds = 0;
  // CPU time of this process: the figures per CPU-second hold up when other work shares the cores.
  auto cpu = [] {
    auto c = ProcessCpuSeconds(getpid());
    return c.ok() ? *c : 0.0;
  };
  try {
    index = std::make_unique<hnswlib::HierarchicalNSW<float>>(space.get(), n, m, ef_construct);
    ProgressBar bar("hnswlib build", n);
    const double cpu0 = cpu();
    const auto t0 = Clock::now();
    ParallelFor(n, threads, [&](size_t i, unsigned) {
      index->addPoint(ds.base.data.data() + i * dim, i);
      if ((i & 255) == 0) bar.Add(std::min<size_t>(256, n - i));
    });
    build_seconds = SecondsSince(t0);
    build_cpu_seconds = cpu() - cpu0;
    bar.Finish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hnswlib: %s\n", e.what());
    return 1;
  }
  auto rss_after = ReadProcessMemory(getpid());
  const double build_pps = static_cast<double>(n) / build_seconds;

  uint64_t upper_links = 0;
  for (size_t i = 0; i < n; ++i) {
    upper_links +=
        static_cast<uint64_t>(index->element_levels_[i]) * index->size_links_per_element_;
  }
  const uint64_t vectors_bytes = static_cast<uint64_t>(n) * index->data_size_;
  const uint64_t graph_bytes =
      static_cast<uint64_t>(n) * (index->size_links_level0_ + sizeof(hnswlib::labeltype)) +
      upper_links;
  const uint64_t rss_delta =
      rss_before.ok() && rss_after.ok() ? rss_after->rss_bytes - rss_before->rss_bytes : 0;
  std::printf("build: %.2fs, %.0f points/s, %.1f CPU-seconds\n", build_seconds, build_pps,
              build_cpu_seconds);
  std::printf("memory: vectors %s + graph %s = %s (process RSS grew %s during build)\n",
              HumanBytes(vectors_bytes).c_str(), HumanBytes(graph_bytes).c_str(),
              HumanBytes(vectors_bytes + graph_bytes).c_str(), HumanBytes(rss_delta).c_str());

  std::vector<EfResult> results;
  std::printf("%6s %9s %11s %13s %9s %9s\n", "ef", ("recall@" + std::to_string(k)).c_str(),
              ("QPS " + std::to_string(threads) + " thr").c_str(), "QPS 1 thread", "p50 ms",
              "p99 ms");
  for (int ef : *efs) {
    EfResult r;
    r.ef = ef;
    index->setEf(static_cast<size_t>(ef));
    std::vector<std::vector<uint64_t>> found(nq);
    size_t done = 0;
    const double cpu0 = cpu();
    const auto t0 = Clock::now();
    do {
      ParallelFor(nq, threads, [&](size_t q, unsigned) {
        found[q] = Search(*index, ds.queries.data.data() + q * dim, k);
      });
      done += nq;
    } while (SecondsSince(t0) < min_seconds);
    r.qps = static_cast<double>(done) / SecondsSince(t0);
    r.cpu_seconds = cpu() - cpu0;
    r.queries = done;
    r.recall = RecallAtK(found, ds.groundtruth, ds.gt_k, k);

    std::vector<double> lat_ms(nq);
    const auto t1 = Clock::now();
    for (size_t q = 0; q < nq; ++q) {
      const auto s = Clock::now();
      found[q] = Search(*index, ds.queries.data.data() + q * dim, k);
      lat_ms[q] = SecondsSince(s) * 1000;
    }
    r.single_qps = static_cast<double>(nq) / SecondsSince(t1);
    r.p50_ms = Percentile(&lat_ms, 50);
    r.p99_ms = Percentile(&lat_ms, 99);
    std::printf("%6d %9.4f %11.0f %13.0f %9.3f %9.3f\n", r.ef, r.recall, r.qps, r.single_qps,
                r.p50_ms, r.p99_ms);
    results.push_back(r);
  }

  if (!json_path.empty()) {
    std::FILE* f = std::fopen(json_path.c_str(), "wb");
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", json_path.c_str());
      return 1;
    }
    char buf[4096];
    rapidjson::FileWriteStream os(f, buf, sizeof buf);
    rapidjson::PrettyWriter<rapidjson::FileWriteStream> w(os);
    w.StartObject();
    w.Key("tool");
    w.String("qd_hnsw_baseline");
    w.Key("set");
    w.String(ds.description.c_str());
    w.Key("points");
    w.Uint64(n);
    w.Key("dim");
    w.Uint64(dim);
    w.Key("queries");
    w.Uint64(nq);
    w.Key("metric");
    w.String(std::string(MetricName(*metric)).c_str());
    w.Key("m");
    w.Uint64(m);
    w.Key("ef_construct");
    w.Uint64(ef_construct);
    w.Key("threads");
    w.Uint(threads);
    w.Key("build_seconds");
    w.Double(build_seconds);
    w.Key("kernel");
    w.String(kernel.c_str());
    w.Key("build_points_per_second");
    w.Double(build_pps);
    w.Key("build_cpu_seconds");
    w.Double(build_cpu_seconds);
    w.Key("vectors_bytes");
    w.Uint64(vectors_bytes);
    w.Key("graph_bytes");
    w.Uint64(graph_bytes);
    w.Key("build_rss_growth_bytes");
    w.Uint64(rss_delta);
    w.Key("search");
    w.StartArray();
    for (const EfResult& r : results) {
      w.StartObject();
      w.Key("ef");
      w.Int(r.ef);
      w.Key("recall_at_k");
      w.Double(r.recall);
      w.Key("k");
      w.Uint64(k);
      w.Key("qps");
      w.Double(r.qps);
      w.Key("cpu_seconds");
      w.Double(r.cpu_seconds);
      w.Key("queries");
      w.Uint64(r.queries);
      w.Key("single_thread_qps");
      w.Double(r.single_qps);
      w.Key("p50_ms");
      w.Double(r.p50_ms);
      w.Key("p99_ms");
      w.Double(r.p99_ms);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    os.Put('\n');
    os.Flush();
    std::fclose(f);
  }
  return 0;
}

}  // namespace
}  // namespace qd::bench

int main(int argc, char** argv) { return qd::bench::Main(argc, argv); }
