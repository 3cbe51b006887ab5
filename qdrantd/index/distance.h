// Distance kernels for the HNSW graph, chosen once from the CPU the daemon runs on.
//
// hnswlib picks its SIMD kernel at compile time (-mavx512f and the like), so a portable build,
// as a Debian package is, gets SSE only. These kernels are compiled for AVX2+FMA and AVX-512 as
// well, and the best the CPU offers is taken at run time, as Qdrant does. Every kernel has
// hnswlib's DISTFUNC signature (a, b, pointer to the dimension) and any dimension works.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace qd::index {

using DistanceKernel = float (*)(const void* a, const void* b, const void* dim);

struct DistanceKernels {
  std::string_view isa;             // "avx512", "avx2" or "portable"
  DistanceKernel l2_squared;        // sum (a - b)^2
  DistanceKernel inner_product;     // 1 - sum a * b (hnswlib's InnerProductSpace)
  DistanceKernel manhattan;         // sum |a - b|
};

// The best set this CPU runs. Thread-safe; chosen on the first call.
const DistanceKernels& BestDistanceKernels();

// Every set this CPU can run, portable first (for tests and benchmarks).
std::vector<DistanceKernels> SupportedDistanceKernels();

}  // namespace qd::index
