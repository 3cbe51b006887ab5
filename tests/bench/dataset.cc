#include "tests/bench/dataset.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>

#include "tests/bench/parallel.h"

namespace qd::bench {
namespace {

namespace fs = std::filesystem;

struct FileClose {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileClose>;

// Reads rows of `int32 n` + n 4-byte items; every row must have the same n.
template <typename T>
Result<std::vector<T>> ReadVecs(const fs::path& path, size_t limit, size_t* dim_out) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return Status::NotFound("cannot open " + path.string());
  std::vector<T> out;
  int32_t dim = 0;
  size_t rows = 0;
  while (limit == 0 || rows < limit) {
    int32_t d = 0;
    if (std::fread(&d, 4, 1, f.get()) != 1) break;
    if (d <= 0 || (rows > 0 && d != dim)) {
      return Status::InvalidArgument(path.string() + ": row " + std::to_string(rows) +
                                     " has dimension " + std::to_string(d) + ", expected " +
                                     std::to_string(rows ? dim : 1) + "+");
    }
    dim = d;
    size_t old = out.size();
    out.resize(old + static_cast<size_t>(d));
    if (std::fread(out.data() + old, sizeof(T), static_cast<size_t>(d), f.get()) !=
        static_cast<size_t>(d)) {
      return Status::InvalidArgument(path.string() + ": truncated at row " + std::to_string(rows));
    }
    ++rows;
  }
  if (rows == 0) return Status::InvalidArgument(path.string() + ": no vectors");
  *dim_out = static_cast<size_t>(dim);
  return out;
}

template <typename T>
Status WriteVecs(const fs::path& path, const T* data, size_t rows, size_t dim) {
  File f(std::fopen(path.c_str(), "wb"));
  if (!f) return Status::Internal("cannot create " + path.string());
  const int32_t d = static_cast<int32_t>(dim);
  for (size_t i = 0; i < rows; ++i) {
    if (std::fwrite(&d, 4, 1, f.get()) != 1 ||
        std::fwrite(data + i * dim, sizeof(T), dim, f.get()) != dim) {
      return Status::Internal("write failed: " + path.string());
    }
  }
  if (std::fflush(f.get()) != 0) return Status::Internal("write failed: " + path.string());
  return Status::Ok();
}

// "base.fvecs" or "<anything>_base.fvecs" in dir.
Result<fs::path> FindFile(const fs::path& dir, const std::string& role, const std::string& ext) {
  const std::string plain = role + ext, suffix = "_" + role + ext;
  if (fs::exists(dir / plain)) return dir / plain;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return entry.path();
    }
  }
  return Status::NotFound("no " + plain + " or *" + suffix + " in " + dir.string());
}

// The generator's RNG: xorshift64 and Box-Muller, exactly as gen_clustered.c computes them,
// so both programs make the same vectors from the same seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 2654435761ULL + 1) {}
  double Uniform() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return static_cast<double>(s_ >> 11) * (1.0 / 9007199254740992.0);
  }
  double Gauss() {
    double u = Uniform() + 1e-12;
    double v = Uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * v);
  }

 private:
  uint64_t s_;
};

// Eight partial sums so the compiler can keep them in vector registers without -ffast-math.
float SquaredL2(const float* a, const float* b, size_t dim) {
  float acc[8] = {};
  size_t j = 0;
  for (; j + 8 <= dim; j += 8) {
    for (size_t l = 0; l < 8; ++l) {
      float t = a[j + l] - b[j + l];
      acc[l] += t * t;
    }
  }
  float sum = 0;
  for (; j < dim; ++j) sum += (a[j] - b[j]) * (a[j] - b[j]);
  for (float x : acc) sum += x;
  return sum;
}

float Dot(const float* a, const float* b, size_t dim) {
  float acc[8] = {};
  size_t j = 0;
  for (; j + 8 <= dim; j += 8) {
    for (size_t l = 0; l < 8; ++l) acc[l] += a[j + l] * b[j + l];
  }
  float sum = 0;
  for (; j < dim; ++j) sum += a[j] * b[j];
  for (float x : acc) sum += x;
  return sum;
}

}  // namespace

Result<Metric> ParseMetric(std::string_view text) {
  std::string t(text);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "euclid" || t == "l2") return Metric::kEuclid;
  if (t == "cosine" || t == "cos") return Metric::kCosine;
  if (t == "dot" || t == "ip") return Metric::kDot;
  return Status::InvalidArgument("unknown metric '" + std::string(text) +
                                 "': expected Euclid (l2), Cosine (cos) or Dot (ip)");
}

std::string_view MetricName(Metric metric) {
  switch (metric) {
    case Metric::kEuclid:
      return "Euclid";
    case Metric::kCosine:
      return "Cosine";
    case Metric::kDot:
      return "Dot";
  }
  return "?";
}

Result<Matrix> ReadFvecs(const fs::path& path, size_t limit) {
  Matrix m;
  auto data = ReadVecs<float>(path, limit, &m.dim);
  if (!data.ok()) return data.status();
  m.data = std::move(data).value();
  m.rows = m.data.size() / m.dim;
  return m;
}

Status WriteFvecs(const fs::path& path, const Matrix& m) {
  return WriteVecs(path, m.data.data(), m.rows, m.dim);
}

Result<std::vector<int32_t>> ReadIvecs(const fs::path& path, size_t* k) {
  return ReadVecs<int32_t>(path, 0, k);
}

Status WriteIvecs(const fs::path& path, std::span<const int32_t> rows, size_t k) {
  return WriteVecs(path, rows.data(), rows.size() / k, k);
}

Result<Dataset> LoadDataset(const fs::path& dir, size_t max_queries) {
  auto base_path = FindFile(dir, "base", ".fvecs");
  auto query_path = FindFile(dir, "query", ".fvecs");
  auto gt_path = FindFile(dir, "groundtruth", ".ivecs");
  for (const Status* s : {&base_path.status(), &query_path.status(), &gt_path.status()}) {
    if (!s->ok()) return *s;
  }
  Dataset ds;
  auto base = ReadFvecs(*base_path);
  if (!base.ok()) return base.status();
  auto queries = ReadFvecs(*query_path, max_queries);
  if (!queries.ok()) return queries.status();
  auto gt = ReadIvecs(*gt_path, &ds.gt_k);
  if (!gt.ok()) return gt.status();
  ds.base = std::move(base).value();
  ds.queries = std::move(queries).value();
  ds.groundtruth = std::move(gt).value();
  if (ds.queries.dim != ds.base.dim) {
    return Status::InvalidArgument("queries have dimension " + std::to_string(ds.queries.dim) +
                                   ", base " + std::to_string(ds.base.dim));
  }
  if (ds.groundtruth.size() / ds.gt_k < ds.queries.rows) {
    return Status::InvalidArgument("ground truth has " +
                                   std::to_string(ds.groundtruth.size() / ds.gt_k) + " rows for " +
                                   std::to_string(ds.queries.rows) + " queries");
  }
  ds.groundtruth.resize(ds.queries.rows * ds.gt_k);
  for (int32_t id : ds.groundtruth) {
    if (id < 0 || static_cast<size_t>(id) >= ds.base.rows) {
      return Status::InvalidArgument("ground truth position " + std::to_string(id) +
                                     " outside base of " + std::to_string(ds.base.rows));
    }
  }
  ds.description = dir.string();
  return ds;
}

Dataset GenerateClustered(const ClusteredParams& p) {
  Rng rng(p.seed);
  const size_t d = p.dim;
  std::vector<float> centres(p.clusters * d);
  for (float& c : centres) c = static_cast<float>(4 * rng.Gauss());
  Dataset ds;
  for (int pass = 0; pass < 2; ++pass) {
    Matrix& m = pass ? ds.queries : ds.base;
    m.rows = pass ? p.query_rows : p.base_rows;
    m.dim = d;
    m.data.resize(m.rows * d);
    for (size_t i = 0; i < m.rows; ++i) {
      size_t c =
          static_cast<size_t>(static_cast<int>(rng.Uniform() * static_cast<double>(p.clusters)));
      double spread = 0.5 + rng.Uniform();
      double norm = 0;
      float* x = m.data.data() + i * d;
      for (size_t j = 0; j < d; ++j) {
        x[j] = static_cast<float>(centres[c * d + j] + spread * rng.Gauss());
        norm += x[j] * x[j];
      }
      if (p.normalize) {
        for (size_t j = 0; j < d; ++j) x[j] = static_cast<float>(x[j] / std::sqrt(norm));
      }
    }
  }
  ds.description = "clustered n=" + std::to_string(p.base_rows) +
                   " q=" + std::to_string(p.query_rows) + " dim=" + std::to_string(d) +
                   " clusters=" + std::to_string(p.clusters) + " seed=" + std::to_string(p.seed) +
                   (p.normalize ? " normalised" : "");
  return ds;
}

Result<Dataset> LoadDatasetFor(Metric metric, const fs::path& dir, size_t max_queries) {
  Result<Dataset> loaded = LoadDataset(dir, max_queries);
  if (loaded.ok() && metric == Metric::kCosine) {
    NormalizeRows(&loaded->base);
    NormalizeRows(&loaded->queries);
  }
  return loaded;
}

void NormalizeRows(Matrix* m) {
  for (size_t i = 0; i < m->rows; ++i) {
    float* x = m->data.data() + i * m->dim;
    double norm = 0;
    for (size_t j = 0; j < m->dim; ++j) norm += static_cast<double>(x[j]) * x[j];
    if (norm == 0) continue;
    const double inv = 1 / std::sqrt(norm);
    for (size_t j = 0; j < m->dim; ++j) x[j] = static_cast<float>(x[j] * inv);
  }
}

std::vector<int32_t> ExactNeighbours(const Matrix& base_in, const Matrix& queries_in, Metric metric,
                                     size_t k, unsigned threads) {
  // Cosine ranks like Dot on unit vectors; normalise copies so the caller's data is untouched.
  Matrix base_copy, query_copy;
  const Matrix* base = &base_in;
  const Matrix* queries = &queries_in;
  if (metric == Metric::kCosine) {
    base_copy = base_in;
    query_copy = queries_in;
    NormalizeRows(&base_copy);
    NormalizeRows(&query_copy);
    base = &base_copy;
    queries = &query_copy;
  }
  k = std::min(k, base->rows);
  std::vector<int32_t> out(queries->rows * k);
  std::vector<std::vector<float>> scores(std::max(threads, 1u), std::vector<float>(base->rows));
  std::vector<std::vector<int32_t>> order(std::max(threads, 1u), std::vector<int32_t>(base->rows));
  ParallelFor(queries->rows, threads, [&](size_t q, unsigned t) {
    std::vector<float>& s = scores[t];
    const float* qv = queries->data.data() + q * queries->dim;
    for (size_t i = 0; i < base->rows; ++i) {
      const float* bv = base->data.data() + i * base->dim;
      s[i] = metric == Metric::kEuclid ? SquaredL2(qv, bv, base->dim) : -Dot(qv, bv, base->dim);
    }
    std::vector<int32_t>& idx = order[t];
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + static_cast<ptrdiff_t>(k), idx.end(),
                      [&](int32_t a, int32_t b) { return s[a] < s[b] || (s[a] == s[b] && a < b); });
    std::copy_n(idx.begin(), k, out.begin() + static_cast<ptrdiff_t>(q * k));
  });
  return out;
}

}  // namespace qd::bench
