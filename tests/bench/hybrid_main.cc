// qd_hybrid_bench (issue #21): what a hybrid query costs against the dense query alone, over
// REST on one collection, in one run. It writes N points with a dense vector (uniform random,
// unit length after the server's Cosine normalisation) and a sparse one (a few "tokens" drawn
// from a Zipf-like vocabulary, as text gives), then times, one client after the other, with the
// same query vectors:
//   dense       query nearest the dense vector, limit 10 (the baseline);
//   dense+dense prefetch two dense searches (limit 20 each) fused by rrf: the fusion's own cost;
//   hybrid      prefetch dense (limit 20) and sparse (limit 20) fused by rrf;
//   sparse      the sparse prefetch alone, limit 20: what hybrid adds to the dense search.
// Prints per mode QPS, p50 and p99 ms, and QPS as a ratio of dense. Not a test: figures only.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tests/bench/http_connection.h"
#include "tests/bench/measure.h"

namespace qd::bench {
namespace {

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 6333;
  std::string collection = "hybrid_bench";
  size_t points = 50000;
  size_t dim = 100;
  size_t vocabulary = 20000;
  size_t tokens = 12;  // per point; queries take 4
  size_t queries = 300;
  size_t passes = 3;
  size_t ef = 64;
  bool skip_upsert = false;
};

std::string Floats(const std::vector<float>& v) {
  std::string out = "[";
  char text[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(text, sizeof text, "%s%.5g", i ? "," : "", double(v[i]));
    out += text;
  }
  return out + "]";
}

class Generator {
 public:
  explicit Generator(const Options& o) : o_(o), rng_(20261207) {}

  std::vector<float> Dense() {
    std::vector<float> v(o_.dim);
    for (float& x : v) x = uniform_(rng_);
    return v;
  }

  // {"indices":[...],"values":[...]}: `n` distinct tokens, rank r drawn with weight 1/(r+1).
  std::string Sparse(size_t n) {
    std::vector<uint32_t> picked;
    while (picked.size() < n) {
      double u = unit_(rng_);
      auto token = static_cast<uint32_t>(std::pow(double(o_.vocabulary), u)) - 1;  // ~Zipf
      if (std::find(picked.begin(), picked.end(), token) == picked.end()) picked.push_back(token);
    }
    std::sort(picked.begin(), picked.end());
    std::string indices, values;
    char text[32];
    for (uint32_t t : picked) {
      indices += (indices.empty() ? "" : ",") + std::to_string(t);
      std::snprintf(text, sizeof text, "%s%.3g", values.empty() ? "" : ",", 0.2 + unit_(rng_));
      values += text;
    }
    return R"({"indices":[)" + indices + R"(],"values":[)" + values + "]}";
  }

 private:
  const Options& o_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<float> uniform_{-1.0f, 1.0f};
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
};

Status Check(const Result<HttpResponse>& r, const char* what) {
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return Status::Internal(std::string(what) + ": HTTP " + std::to_string(r->status) + " " +
                            r->body.substr(0, 300));
  }
  return Status::Ok();
}

Status Load(HttpConnection& c, const Options& o, Generator& gen) {
  const std::string base = "/collections/" + o.collection;
  (void)c.Request("DELETE", base);
  Status s = Check(c.Request("PUT", base,
                             R"({"vectors":{"d":{"size":)" + std::to_string(o.dim) +
                                 R"(,"distance":"Cosine"}},"sparse_vectors":{"s":{}}})"),
                   "create");
  if (!s.ok()) return s;
  ProgressBar bar("upsert", o.points);
  const auto start = Clock::now();
  for (size_t first = 0; first < o.points; first += 500) {
    std::string body = R"({"points":[)";
    const size_t end = std::min(o.points, first + 500);
    for (size_t id = first; id < end; ++id) {
      body += (id > first ? "," : "") + std::string(R"({"id":)") + std::to_string(id + 1) +
              R"(,"vector":{"d":)" + Floats(gen.Dense()) + R"(,"s":)" + gen.Sparse(o.tokens) + "}}";
    }
    s = Check(c.Request("PUT", base + "/points?wait=true", body + "]}"), "upsert");
    if (!s.ok()) return s;
    bar.Add(end - first);
  }
  bar.Finish();
  std::printf("upserted %zu points (dense %zu-d, sparse %zu of %zu tokens) in %.1f s\n", o.points,
              o.dim, o.tokens, o.vocabulary, SecondsSince(start));
  return Status::Ok();
}

struct Mode {
  const char* name;
  std::vector<std::string> bodies;  // one per query
};

int Run(const Options& o) {
  HttpConnection c(o.host, o.port, std::chrono::seconds(120));
  Generator gen(o);
  if (!o.skip_upsert) {
    if (Status s = Load(c, o, gen); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  const std::string params = R"("params":{"hnsw_ef":)" + std::to_string(o.ef) + "}";
  std::vector<Mode> modes = {{"dense", {}}, {"dense+dense", {}}, {"hybrid", {}}, {"sparse", {}}};
  for (size_t q = 0; q < o.queries; ++q) {
    const std::string dense = Floats(gen.Dense()), other = Floats(gen.Dense());
    const std::string sparse = gen.Sparse(4);
    const std::string dense_prefetch =
        R"({"query":)" + dense + R"(,"using":"d","limit":20,)" + params + "}";
    const std::string sparse_prefetch = R"({"query":)" + sparse + R"(,"using":"s","limit":20})";
    modes[0].bodies.push_back(R"({"query":)" + dense + R"(,"using":"d","limit":10,)" + params +
                              "}");
    modes[1].bodies.push_back(R"({"prefetch":[)" + dense_prefetch + R"(,{"query":)" + other +
                              R"(,"using":"d","limit":20,)" + params +
                              R"(}],"query":{"fusion":"rrf"},"limit":10})");
    modes[2].bodies.push_back(R"({"prefetch":[)" + dense_prefetch + "," + sparse_prefetch +
                              R"(],"query":{"fusion":"rrf"},"limit":10})");
    modes[3].bodies.push_back(sparse_prefetch);
  }
  const std::string target = "/collections/" + o.collection + "/points/query";
  std::printf("%-12s %10s %9s %9s %9s\n", "mode", "QPS", "p50 ms", "p99 ms", "vs dense");
  double dense_qps = 0;
  for (const Mode& m : modes) {
    double best_qps = 0;
    std::vector<double> best_latencies;
    for (size_t pass = 0; pass < o.passes; ++pass) {
      std::vector<double> latencies;
      const auto start = Clock::now();
      for (const std::string& body : m.bodies) {
        const auto t = Clock::now();
        if (Status s = Check(c.Request("POST", target, body), m.name); !s.ok()) {
          std::fprintf(stderr, "%s\n", s.ToString().c_str());
          return 1;
        }
        latencies.push_back(SecondsSince(t) * 1000);
      }
      const double qps = double(m.bodies.size()) / SecondsSince(start);
      if (qps > best_qps) best_qps = qps, best_latencies = latencies;
    }
    if (dense_qps == 0) dense_qps = best_qps;
    const double p50 = Percentile(&best_latencies, 50), p99 = Percentile(&best_latencies, 99);
    std::printf("%-12s %10.0f %9.2f %9.2f %9.2f\n", m.name, best_qps, p50, p99,
                best_qps / dense_qps);
  }
  std::printf("(best of %zu passes of %zu queries each, one client, hnsw_ef %zu)\n", o.passes,
              o.queries, o.ef);
  return 0;
}

}  // namespace
}  // namespace qd::bench

int main(int argc, char** argv) {
  qd::bench::Options o;
  CLI::App app{"hybrid query (dense + sparse prefetch, rrf) against the dense query alone"};
  app.add_option("--host", o.host);
  app.add_option("--port", o.port);
  app.add_option("--collection", o.collection);
  app.add_option("--points", o.points);
  app.add_option("--dim", o.dim);
  app.add_option("--vocabulary", o.vocabulary, "sparse tokens in all");
  app.add_option("--tokens", o.tokens, "sparse tokens per point");
  app.add_option("--queries", o.queries);
  app.add_option("--passes", o.passes, "times each mode's queries are timed (the best counts)");
  app.add_option("--ef", o.ef, "hnsw_ef of the dense searches");
  app.add_flag("--skip-upsert", o.skip_upsert, "search the collection as it is");
  CLI11_PARSE(app, argc, argv);
  return qd::bench::Run(o);
}
