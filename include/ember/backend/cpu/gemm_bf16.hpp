// ember/backend/cpu/gemm_bf16.hpp — float products with bf16 inputs on the CPU: A and B rounded to
// bfloat16 (round to nearest even), multiplied with fp32 accumulation, C in fp32. What
// `ember::set_float32_matmul_precision(MatmulPrecision::medium, Device::cpu())` selects — the
// CPU counterpart of PyTorch's bf16 autocast for matmuls and of ember's `medium` on the GPU.
//
// Why: a CPU with AMX-BF16 (Intel Sapphire Rapids and later) multiplies bf16 tiles several times
// faster than it runs fp32 FMAs (oneDNN's `brg:avx512_core_amx_bf16` matmul at 4096×768·768×768:
// 634 GFLOP/s on one core of a model-167 Xeon, against 153 for fp32); AVX512-BF16 (`vdpbf16ps`)
// alone is slower than fp32 FMAs on some CPUs. The products run on oneDNN's matmul primitive with
// bf16 source and weights and an fp32 destination, created once per shape and layout and executed
// concurrently from OpenMP threads (dnnl_matmul.hpp). The fp32 operands are converted into
// per-call buffers first (one pass each).
//
// Only compiled with oneDNN (EMBER_HAVE_DNNL); `bf16_products_available()` says whether this CPU
// has bf16 arithmetic (AVX512-BF16 or AMX-BF16). Without either, or without oneDNN, the
// precision setting has no effect on the CPU (products stay fp32), and `cpu_info()` says so.
#pragma once

#include <ember/backend/cpu/dnnl_matmul.hpp>
#include <ember/backend/cpu/isa.hpp>
#include <ember/backend/cpu/strided.hpp>
#include <ember/backend/types.hpp>
#include <ember/core/cpu_features.hpp>
#include <ember/core/dtype.hpp>
#include <ember/core/error.hpp>
#include <ember/core/storage.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>

namespace ember::backend::cpu {

/// The CPU's fp32 product precision (MatmulPrecision; `high` behaves as `highest` on the CPU,
/// which has no TF32).
inline std::atomic<int>& matmul_precision_flag() {
  static std::atomic<int> precision{int(MatmulPrecision::highest)};
  return precision;
}

/// Whether this build and CPU can run bf16 products (oneDNN, and AVX512-BF16 or AMX-BF16).
inline bool bf16_products_available() {
#ifdef EMBER_HAVE_DNNL
  return cpu_features().avx512_bf16 || cpu_features().amx_bf16;
#else
  return false;
#endif
}

/// True when float products should run with bf16 inputs now.
inline bool use_bf16_products() {
  return matmul_precision_flag().load(std::memory_order_relaxed) == int(MatmulPrecision::medium) &&
         bf16_products_available();
}

EMBER_KERNEL_MATH_BEGIN
namespace detail {
/// d[i] = bf16(s[i]) for n floats: round to nearest even, NaN kept quiet (bf16::from_float's
/// rule, written on the bits so that the loop vectorizes).
template <class T>
EMBER_ALWAYS_INLINE void bf16_round_span_body(const T* s, uint16_t* d, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &s[i], sizeof u);
    const uint16_t rounded = uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    d[i] = (u & 0x7fffffffu) > 0x7f800000u ? uint16_t((u >> 16) | 0x0040u) : rounded;
  }
}
EMBER_ISA_VERSIONS(bf16_round_span, (const T* s, uint16_t* d, int64_t n), (s, d, n))
}  // namespace detail
EMBER_KERNEL_MATH_END

/// dst = src rounded to bf16, for a [rows, cols] matrix read at (rs, cs) and written dense in the
/// same orientation: row-major (cs == 1) to [rows, cols], column-major to [cols, rows].
inline void to_bf16(const float* src, int64_t rows, int64_t cols, const GemmLayout& l,
                    uint16_t* dst) {
  const int64_t outer = l.row_major ? rows : cols, inner = l.row_major ? cols : rows;
  const auto span = detail::bf16_round_span_for<float>(cpu_isa());
  parallel_for(outer, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(inner, 1)),
               [&](int64_t o) { span(src + o * l.ld, dst + o * inner, inner); });
}

#ifdef EMBER_HAVE_DNNL
namespace detail {

/// C[m, n] (row-major, ldc) = α·A·B + β·C from bf16 operands: A row-major (leading dimension
/// lda) or column-major, likewise B. On the calling thread when called inside a parallel region.
inline void bf16_matmul(int64_t m, int64_t n, int64_t k, float alpha, const uint16_t* a,
                        bool a_row_major, int64_t lda, const uint16_t* b, bool b_row_major,
                        int64_t ldb, float beta, float* c, int64_t ldc) {
  MatmulKey key;
  key.m = m, key.n = n, key.k = k, key.lda = lda, key.ldb = ldb, key.ldc = ldc;
  key.a_row_major = a_row_major, key.b_row_major = b_row_major;
  key.src_type = dnnl::memory::data_type::bf16, key.alpha = alpha, key.beta = beta;
  execute_matmul(*DnnlMatmuls::get().primitive(key), a, b, nullptr, c);
}

}  // namespace detail
#endif

}  // namespace ember::backend::cpu
