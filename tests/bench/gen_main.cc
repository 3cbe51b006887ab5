// qd_bench_gen: makes a clustered benchmark set with exact ground truth, or checks an existing
// one (SIFT-style fvecs/ivecs) by recomputing the ground truth of a sample of queries.
//   qd_bench_gen --out DIR [--n 100000] [--queries 1000] [--dim 128] [--clusters 100]
//                [--seed 1] [--metric l2|cos|dot] [--gt-k 100] [--threads 2]
//   qd_bench_gen --check DIR [--metric l2] [--recheck 20]
// Exit codes: 0 ok, 1 failed (I/O, bad set, ground truth mismatch), 2 usage.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <set>

#include "tests/bench/dataset.h"
#include "tests/bench/measure.h"

namespace qd::bench {
namespace {

// Recomputes the top-k of `samples` queries spread over the set and compares them, as sets,
// with the stored ground truth. A difference only at equal distances (ties) still counts.
int Recheck(const Dataset& ds, Metric metric, size_t samples) {
  samples = std::min(samples, ds.queries.rows);
  if (samples == 0) return 0;
  const size_t k = std::min<size_t>(ds.gt_k, 100);
  Matrix picked;
  picked.dim = ds.queries.dim;
  std::vector<size_t> rows;
  for (size_t i = 0; i < samples; ++i) rows.push_back(i * ds.queries.rows / samples);
  for (size_t r : rows) {
    auto row = ds.queries.Row(r);
    picked.data.insert(picked.data.end(), row.begin(), row.end());
  }
  picked.rows = rows.size();
  const auto t0 = Clock::now();
  std::vector<int32_t> fresh = ExactNeighbours(ds.base, picked, metric, k, 2);
  size_t mismatched = 0, missing = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::set<int32_t> stored(
        ds.groundtruth.begin() + static_cast<ptrdiff_t>(rows[i] * ds.gt_k),
        ds.groundtruth.begin() + static_cast<ptrdiff_t>(rows[i] * ds.gt_k + k));
    size_t miss = 0;
    for (size_t r = 0; r < k; ++r) miss += stored.count(fresh[i * k + r]) == 0;
    if (miss) ++mismatched, missing += miss;
  }
  std::printf(
      "recheck: %zu queries, top-%zu by brute force (%s) in %.2fs: %zu differ (%zu of %zu "
      "ids)\n",
      rows.size(), k, std::string(MetricName(metric)).c_str(), SecondsSince(t0), mismatched,
      missing, rows.size() * k);
  // Float summation order differs between programs: allow one swapped id per 1000 at the edge.
  return missing * 1000 > rows.size() * k ? 1 : 0;
}

int Main(int argc, char** argv) {
  CLI::App app{"Generate or check a benchmark vector set (fvecs/ivecs with ground truth)"};
  std::string out_dir, check_dir, metric_text = "l2";
  ClusteredParams p;
  size_t gt_k = 100, recheck = 20;
  unsigned threads = 2;
  app.add_option("--out", out_dir, "Directory to write base.fvecs, query.fvecs, groundtruth.ivecs");
  app.add_option("--check", check_dir, "Check an existing set instead of generating one");
  app.add_option("--n", p.base_rows, "Base vectors")->capture_default_str();
  app.add_option("--queries", p.query_rows, "Query vectors")->capture_default_str();
  app.add_option("--dim", p.dim, "Dimension")->capture_default_str();
  app.add_option("--clusters", p.clusters, "Gaussian clusters")->capture_default_str();
  app.add_option("--seed", p.seed, "RNG seed (gen_clustered.c's SEED)")->capture_default_str();
  app.add_option("--metric", metric_text, "l2 (Euclid), cos (Cosine: vectors normalised) or dot")
      ->capture_default_str();
  app.add_option("--gt-k", gt_k, "Neighbours per query in the ground truth")->capture_default_str();
  app.add_option("--threads", threads, "Threads for the brute-force ground truth")
      ->capture_default_str();
  app.add_option("--recheck", recheck, "Queries whose ground truth is recomputed and compared")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto metric = ParseMetric(metric_text);
  if (!metric.ok() || out_dir.empty() == check_dir.empty() || p.base_rows == 0 || p.dim == 0 ||
      p.clusters == 0 || gt_k == 0) {
    std::fprintf(stderr, "%s\n",
                 metric.ok() ? "give exactly one of --out and --check, and "
                               "non-zero sizes"
                             : metric.status().message().c_str());
    return 2;
  }

  if (!check_dir.empty()) {
    auto ds = LoadDataset(check_dir);
    if (!ds.ok()) {
      std::fprintf(stderr, "%s\n", ds.status().ToString().c_str());
      return 1;
    }
    std::printf("%s: %zu base x %zu dim, %zu queries, ground truth top-%zu\n",
                ds->description.c_str(), ds->base.rows, ds->base.dim, ds->queries.rows, ds->gt_k);
    return Recheck(*ds, *metric, recheck);
  }

  p.normalize = *metric == Metric::kCosine;
  const auto t0 = Clock::now();
  Dataset ds = GenerateClustered(p);
  std::fprintf(stderr, "generated %s in %.1fs; ground truth (top-%zu, %u threads)...\n",
               ds.description.c_str(), SecondsSince(t0), gt_k, threads);
  const auto t1 = Clock::now();
  ds.gt_k = std::min(gt_k, p.base_rows);
  ds.groundtruth = ExactNeighbours(ds.base, ds.queries, *metric, ds.gt_k, threads);
  std::fprintf(stderr, "ground truth in %.1fs\n", SecondsSince(t1));
  std::filesystem::path dir(out_dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  for (Status s :
       {WriteFvecs(dir / "base.fvecs", ds.base), WriteFvecs(dir / "query.fvecs", ds.queries),
        WriteIvecs(dir / "groundtruth.ivecs", ds.groundtruth, ds.gt_k)}) {
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf("wrote %s (metric %s) to %s\n", ds.description.c_str(),
              std::string(MetricName(*metric)).c_str(), out_dir.c_str());
  return 0;
}

}  // namespace
}  // namespace qd::bench

int main(int argc, char** argv) { return qd::bench::Main(argc, argv); }
