// A benchmark vector set as ANN benchmarks lay it out on disk: base.fvecs (the points),
// query.fvecs and groundtruth.ivecs (for each query, the 0-based positions in base.fvecs of its
// exact nearest neighbours, best first). fvecs: per vector an int32 dimension, then that many
// float32; ivecs: the same with int32 (little-endian, as written by the x86 machines that made
// SIFT/GIST). Point ids in the database are the positions in base.fvecs.
// Also the clustered generator that makes such a set when no real one is present: the same
// Gaussian mixture and RNG as /work/shared/bench/gen_clustered.c, so the same arguments give
// byte-identical base and query files. Thread: any (plain values; no shared state).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"

namespace qd::bench {

// How distance is measured; names are Qdrant's (collection "distance").
enum class Metric { kEuclid, kCosine, kDot };

// Accepts Qdrant's names and the generator's ("l2", "cos", "ip"), any case.
Result<Metric> ParseMetric(std::string_view text);
std::string_view MetricName(Metric metric);  // "Euclid", "Cosine", "Dot"

// Row-major vectors of one dimension.
struct Matrix {
  size_t rows = 0;
  size_t dim = 0;
  std::vector<float> data;
  std::span<const float> Row(size_t i) const { return {data.data() + i * dim, dim}; }
};

struct Dataset {
  Matrix base;
  Matrix queries;
  // groundtruth[q * gt_k + r] is the position of the r-th nearest base vector to query q.
  size_t gt_k = 0;
  std::vector<int32_t> groundtruth;
  std::string description;  // where it came from, for reports
};

// Reads every vector of an fvecs file (or the first `limit`, if non-zero).
// Errors: kNotFound if it cannot be opened; kInvalidArgument if it is not fvecs.
Result<Matrix> ReadFvecs(const std::filesystem::path& path, size_t limit = 0);
Status WriteFvecs(const std::filesystem::path& path, const Matrix& m);
// Reads an ivecs file whose rows all have the same length; `*k` receives it.
Result<std::vector<int32_t>> ReadIvecs(const std::filesystem::path& path, size_t* k);
Status WriteIvecs(const std::filesystem::path& path, std::span<const int32_t> rows, size_t k);

// Loads a set from `dir`: base/query/groundtruth files named "base.fvecs" or "<x>_base.fvecs"
// (SIFT's "sift_base.fvecs") and so on. `max_queries` (if non-zero) keeps the first queries.
// Ground truth is required; it must hold positions below base.rows.
Result<Dataset> LoadDataset(const std::filesystem::path& dir, size_t max_queries = 0);

struct ClusteredParams {
  size_t base_rows = 100000;
  size_t query_rows = 1000;
  size_t dim = 128;
  size_t clusters = 100;
  uint64_t seed = 1;
  bool normalize = false;  // unit vectors, for Cosine
};
// A Gaussian mixture: cluster centres ~ N(0, 4^2) per coordinate, each point a centre plus
// N(0, s^2) noise with s uniform in [0.5, 1.5), queries drawn from the same mixture.
Dataset GenerateClustered(const ClusteredParams& params);

// Exact top-`k` neighbours of every query by brute force on `threads` threads: the smallest
// squared L2 for kEuclid, the largest dot product for kDot, and for kCosine the largest dot
// product of the normalised vectors. Ties go to the lower position.
std::vector<int32_t> ExactNeighbours(const Matrix& base, const Matrix& queries, Metric metric,
                                     size_t k, unsigned threads);

// Scales every row to unit length (rows of zeros stay zero), as Qdrant does for Cosine.
void NormalizeRows(Matrix* m);
// LoadDataset for the in-process tools (raw hnswlib, the engine's index): Cosine rows come back
// normalised, as Qdrant stores them before ranking by dot product.
Result<Dataset> LoadDatasetFor(Metric metric, const std::filesystem::path& dir, size_t max_queries = 0);

}  // namespace qd::bench
