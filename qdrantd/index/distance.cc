#include "qdrantd/index/distance.h"

#include <cmath>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace qd::index {
namespace {

// Two accumulators hide the latency of the add (FMA) chain; the tail is scalar or masked.

#if defined(__x86_64__)

// ---- SSE (every x86-64 CPU) ----

float HorizontalSum(__m128 v) {
  __m128 shuf = _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1));
  __m128 sums = _mm_add_ps(v, shuf);
  shuf = _mm_movehl_ps(shuf, sums);
  return _mm_cvtss_f32(_mm_add_ss(sums, shuf));
}

float L2Sse(const void* a, const void* b, const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128 d0 = _mm_sub_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(y + i));
    __m128 d1 = _mm_sub_ps(_mm_loadu_ps(x + i + 4), _mm_loadu_ps(y + i + 4));
    acc0 = _mm_add_ps(acc0, _mm_mul_ps(d0, d0));
    acc1 = _mm_add_ps(acc1, _mm_mul_ps(d1, d1));
  }
  float sum = HorizontalSum(_mm_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += (x[i] - y[i]) * (x[i] - y[i]);
  return sum;
}

float InnerProductSse(const void* a, const void* b, const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm_add_ps(acc0, _mm_mul_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(y + i)));
    acc1 = _mm_add_ps(acc1, _mm_mul_ps(_mm_loadu_ps(x + i + 4), _mm_loadu_ps(y + i + 4)));
  }
  float sum = HorizontalSum(_mm_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += x[i] * y[i];
  return 1.0f - sum;
}

float ManhattanSse(const void* a, const void* b, const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  const __m128 sign = _mm_set1_ps(-0.0f);
  __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm_add_ps(acc0, _mm_andnot_ps(sign, _mm_sub_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(y + i))));
    acc1 = _mm_add_ps(acc1, _mm_andnot_ps(sign, _mm_sub_ps(_mm_loadu_ps(x + i + 4), _mm_loadu_ps(y + i + 4))));
  }
  float sum = HorizontalSum(_mm_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += std::fabs(x[i] - y[i]);
  return sum;
}

// ---- AVX2 + FMA ----

__attribute__((target("avx2,fma"))) float HorizontalSum256(__m256 v) {
  return HorizontalSum(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}

__attribute__((target("avx2,fma"))) float L2Avx2(const void* a, const void* b, const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
    acc0 = _mm256_fmadd_ps(d, d, acc0);
  }
  float sum = HorizontalSum256(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += (x[i] - y[i]) * (x[i] - y[i]);
  return sum;
}

__attribute__((target("avx2,fma"))) float InnerProductAvx2(const void* a, const void* b,
                                                           const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
  }
  float sum = HorizontalSum256(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += x[i] * y[i];
  return 1.0f - sum;
}

__attribute__((target("avx2,fma"))) float ManhattanAvx2(const void* a, const void* b,
                                                        const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
    acc0 = _mm256_add_ps(acc0, _mm256_andnot_ps(sign, d0));
    acc1 = _mm256_add_ps(acc1, _mm256_andnot_ps(sign, d1));
  }
  for (; i + 8 <= n; i += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
    acc0 = _mm256_add_ps(acc0, _mm256_andnot_ps(sign, d));
  }
  float sum = HorizontalSum256(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += std::fabs(x[i] - y[i]);
  return sum;
}

// ---- AVX-512 (F): the tail is one masked step ----

// GCC 12's _mm512_reduce_add_ps passes _mm256_undefined_pd() on purpose (the lanes are don't
// care), which -Wuninitialized reports from inside the intrinsic header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"

__attribute__((target("avx512f"))) float L2Avx512(const void* a, const void* b, const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16));
    acc0 = _mm512_fmadd_ps(d0, d0, acc0);
    acc1 = _mm512_fmadd_ps(d1, d1, acc1);
  }
  for (; i + 16 <= n; i += 16) {
    __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
    acc0 = _mm512_fmadd_ps(d, d, acc0);
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
    acc1 = _mm512_fmadd_ps(d, d, acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

__attribute__((target("avx512f"))) float InnerProductAvx512(const void* a, const void* b,
                                                            const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), acc1);
  }
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), acc1);
  }
  return 1.0f - _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

__attribute__((target("avx512f"))) float ManhattanAvx512(const void* a, const void* b,
                                                         const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_add_ps(acc0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i))));
    acc1 = _mm512_add_ps(acc1, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16))));
  }
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm512_add_ps(acc0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i))));
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_add_ps(acc1, _mm512_abs_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i),
                                                           _mm512_maskz_loadu_ps(m, y + i))));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

#pragma GCC diagnostic pop

constexpr DistanceKernels kPortable{"portable", &L2Sse, &InnerProductSse, &ManhattanSse};
constexpr DistanceKernels kAvx2{"avx2", &L2Avx2, &InnerProductAvx2, &ManhattanAvx2};
constexpr DistanceKernels kAvx512{"avx512", &L2Avx512, &InnerProductAvx512, &ManhattanAvx512};

bool HasAvx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool HasAvx512() { return __builtin_cpu_supports("avx512f"); }

#else  // not x86-64: plain loops, which the compiler vectorizes where it may

float L2Plain(const void* a, const void* b, const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += (x[i] - y[i]) * (x[i] - y[i]);
  return sum;
}

float InnerProductPlain(const void* a, const void* b, const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += x[i] * y[i];
  return 1.0f - sum;
}

float ManhattanPlain(const void* a, const void* b, const void* dim) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t n = *static_cast<const size_t*>(dim);
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::fabs(x[i] - y[i]);
  return sum;
}

constexpr DistanceKernels kPortable{"portable", &L2Plain, &InnerProductPlain, &ManhattanPlain};

#endif

}  // namespace

std::vector<DistanceKernels> SupportedDistanceKernels() {
  std::vector<DistanceKernels> out{kPortable};
#if defined(__x86_64__)
  if (HasAvx2()) out.push_back(kAvx2);
  if (HasAvx512()) out.push_back(kAvx512);
#endif
  return out;
}

const DistanceKernels& BestDistanceKernels() {
  static const DistanceKernels best = SupportedDistanceKernels().back();
  return best;
}

}  // namespace qd::index
