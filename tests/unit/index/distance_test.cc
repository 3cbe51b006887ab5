// Every distance kernel this CPU runs agrees with a double-precision reference, at dimensions
// that exercise the wide loops, the narrow loop and the tails.
#include "qdrantd/index/distance.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

using qd::index::BestDistanceKernels;
using qd::index::DistanceKernels;
using qd::index::SupportedDistanceKernels;

TEST_CASE("distance kernels agree with a double-precision reference at every dimension",
          "[distance]") {
  std::vector<DistanceKernels> sets = SupportedDistanceKernels();
  REQUIRE(!sets.empty());
  CHECK(sets.front().isa == "portable");
  CHECK(BestDistanceKernels().isa == sets.back().isa);
  std::mt19937 rng(3);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  for (size_t dim : {1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 100, 128, 129, 768, 1000}) {
    // Offsets of one float: the kernels must not need aligned vectors.
    std::vector<float> buffer(2 * dim + 2);
    for (float& v : buffer) v = gauss(rng);
    const float* a = buffer.data() + 1;
    const float* b = buffer.data() + dim + 2;
    double l2 = 0, dot = 0, l1 = 0;
    for (size_t i = 0; i < dim; ++i) {
      const double d = static_cast<double>(a[i]) - b[i];
      l2 += d * d;
      dot += static_cast<double>(a[i]) * b[i];
      l1 += std::fabs(d);
    }
    for (const DistanceKernels& k : sets) {
      INFO(std::string(k.isa) << " at dim " << dim);
      const double tolerance = 1e-5 * static_cast<double>(dim);
      CHECK(k.l2_squared(a, b, &dim) == Approx(l2).margin(tolerance));
      CHECK(k.inner_product(a, b, &dim) == Approx(1.0 - dot).margin(tolerance));
      CHECK(k.manhattan(a, b, &dim) == Approx(l1).margin(tolerance));
      CHECK(k.l2_squared(a, a, &dim) == 0.0f);
    }
  }
}

}  // namespace
