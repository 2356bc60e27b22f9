// ember/backend/cpu/int8_gemm.hpp — dynamic int8 products for inference: y = x·Wᵀ + b with W
// quantized once per output channel and x quantized per row at run time, multiplied in int8 with
// int32 accumulation (PyTorch's `quantize_dynamic` for nn.Linear; ONNX Runtime's
// `DynamicQuantizeMatMul`).
//
// The arithmetic (symmetric, signed 8-bit, round to nearest even):
//   weight scale  s_w[n] = max_k |W[n, k]| / 127,  W_q[n, k] = round(W[n, k] / s_w[n])  (once)
//   row scale     s_x[m] = max_k |x[m, k]| / 127,  x_q[m, k] = round(x[m, k] / s_x[m])  (each call)
//   y[m, n] = s_x[m] · s_w[n] · Σ_k x_q[m, k] · W_q[n, k] + b[n]   (the sum exact in int32)
// A row or channel of zeros gets scale 1 (and stays 0). Per-row scales keep one outlier token
// from coarsening every other row (PyTorch quantizes the activations per tensor, with an 8-bit
// zero point and `reduce_range`); per-channel weight scales are what PyTorch's x86 backend and
// ONNX Runtime's per-channel option use. Error: each product term is off by at most half a step
// of each factor, so |y − y_fp32| ≲ (s_x·max|W| + s_w·max|x|)/2 · K per element in the worst
// case and ~1% of |y| typically.
//
// The int8 product runs on oneDNN's matmul primitive with s8 source and weights and an s32
// destination (dnnl_matmul.hpp), the weights reordered once into its blocked layout and kept with
// W's storage (DerivedSlot, as packed_gemm.hpp does for float: rebuilt when W's version changes).
// On a CPU with AMX-INT8 (Sapphire Rapids and later) oneDNN runs `brg:avx512_core_amx_int8`;
// with AVX512-VNNI or AVX-VNNI its VNNI kernels. Measured on an Intel Xeon model 167 (AMX),
// 2 threads, standalone: 2048 × 768 · 768 × 3072 in 2.7 ms against 33 ms in fp32 (packed). The
// scales are applied by ember's own epilogue (one pass over y, in place: the int32 result and
// the float output share the buffer), because oneDNN 2.6 picks its `brg` kernels only for
// constant output scales and the row scales change with every call.
//
// Only with oneDNN (EMBER_HAVE_DNNL); `int8_products_available()` says whether this build has
// them. Float only (double products have no int8 path).
#pragma once

#include <ember/backend/cpu/isa.hpp>
#include <ember/backend/cpu/strided.hpp>
#include <ember/backend/int8_weights.hpp>
#include <ember/backend/types.hpp>
#include <ember/core/error.hpp>
#include <ember/core/storage.hpp>

#ifdef EMBER_HAVE_DNNL
#include <ember/backend/cpu/dnnl_matmul.hpp>
#endif

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

namespace ember::backend::cpu {

/// Whether this build runs int8 products (oneDNN found).
inline bool int8_products_available() {
#ifdef EMBER_HAVE_DNNL
  return true;
#else
  return false;
#endif
}

EMBER_KERNEL_MATH_BEGIN
namespace detail {

/// q[k] = round(x[k] / scale) for one row of K floats, scale = max|x| / 127 (1 for a zero row);
/// returns the scale. Written so that both loops vectorize: plain compares instead of fmax/fabs
/// (whose NaN rules block it), and rounding to nearest even by adding and subtracting 1.5·2²³
/// (exact for |v| ≤ 2²², here ≤ 127; the compiler may not fold it: no -ffast-math) instead of a
/// libm call.
/// A NaN in the row makes the scale NaN and an infinity makes it infinite (q all 0): every
/// output the row touches is then NaN, never a finite number that hides the bad value.
template <class T>
EMBER_ALWAYS_INLINE float quantize_row_s8_body(const T* x, int8_t* q, int64_t k) {
  float amax = 0.0f;
  int nans = 0;
#pragma omp simd reduction(max : amax) reduction(+ : nans)
  for (int64_t i = 0; i < k; ++i) {
    const float v = float(x[i]), a = v < 0.0f ? -v : v;
    amax = a > amax ? a : amax;
    nans += v != v;
  }
  if (nans > 0 || amax == std::numeric_limits<float>::infinity()) {
    for (int64_t i = 0; i < k; ++i) q[i] = 0;
    return nans > 0 ? std::numeric_limits<float>::quiet_NaN() : amax;
  }
  const float scale = amax > 0.0f ? amax / 127.0f : 1.0f;
  const float inv = 1.0f / scale;
  constexpr float kRound = 12582912.0f;  // 1.5 · 2^23
#pragma omp simd
  for (int64_t i = 0; i < k; ++i) {
    float v = (float(x[i]) * inv + kRound) - kRound;
    v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
    q[i] = int8_t(int32_t(v));
  }
  return scale;
}
template <class T>
EMBER_ALWAYS_INLINE void quantize_row_s8_into_body(const T* x, int8_t* q, int64_t k, float* scale) {
  *scale = quantize_row_s8_body<T>(x, q, k);
}
EMBER_ISA_VERSIONS(quantize_row_s8_into, (const T* x, int8_t* q, int64_t k, float* scale),
                   (x, q, k, scale))

/// One row of the epilogue, in place: y[n] = float(acc[n]) · row_scale · w_scale[n] (+ bias[n]).
/// `y` holds the int32 sums on entry (oneDNN wrote them there); each is read (memcpy: no
/// aliasing through another type) before the float is written at the same index.
template <class T>
EMBER_ALWAYS_INLINE void dequantize_row_body(T* y, const float* w_scale, const float* bias,
                                             float row_scale, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    int32_t acc;
    std::memcpy(&acc, &y[j], sizeof acc);
    y[j] = T(float(acc) * row_scale * w_scale[j] + (bias != nullptr ? bias[j] : 0.0f));
  }
}
EMBER_ISA_VERSIONS(dequantize_row,
                   (T * y, const float* w_scale, const float* bias, float row_scale, int64_t n),
                   (y, w_scale, bias, row_scale, n))

}  // namespace detail
EMBER_KERNEL_MATH_END

#ifdef EMBER_HAVE_DNNL
namespace detail {

/// W quantized per output channel and packed for oneDNN, with its scales s_w[n].
struct Int8Weights : PackedB {
  std::vector<float> scale;
};

/// B[k, n] (= Wᵀ: column n is output channel n) quantized per column into a dense column-major
/// [k, n] s8 buffer (column n at q + n·k), scales into `scale` — by backend/int8_weights.hpp, the
/// form int8 model files store.
inline void quantize_weights_s8(const float* b, int64_t k, int64_t n, const GemmLayout& lb,
                                int8_t* q, float* scale) {
  parallel_for(n, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(k, 1)), [&](int64_t j) {
    // column j: contiguous when B is column-major (W row-major), else every ld-th element
    scale[j] = lb.row_major ? quantize_weight_row_s8(b + j, lb.ld, q + j * k, k)
                            : quantize_weight_row_s8(b + j * lb.ld, 1, q + j * k, k);
  });
}

}  // namespace detail
#endif

/// Runs the product of `g` as a dynamic int8 product (see the header comment). Needs W's slot
/// (g.b_derived), no batch, α = 1, β = 0, A row-major (a_cs == 1), float, oneDNN; throws
/// ember::Error naming what is missing otherwise (the op checks the user-facing conditions).
template <class T>
inline void gemm_int8(const GemmArgs<T>& g) {
#ifdef EMBER_HAVE_DNNL
  if constexpr (std::is_same_v<T, float>) {
    EMBER_CHECK(g.b_derived != nullptr && g.batch.ndim == 0 && g.alpha == 1.0f && g.beta == 0.0f,
                "int8 product: needs one product with the weight's storage slot, alpha 1, beta 0");
    if (g.m == 0 || g.n == 0) return;
    GemmLayout la, lb;
    gemm_layout(g.m, g.k, g.a_rs, g.a_cs, &la);
    gemm_layout(g.k, g.n, g.b_rs, g.b_cs, &lb);
    EMBER_CHECK(la.row_major, "int8 product: the input must be row-major");
    detail::MatmulKey key;
    key.m = g.m, key.n = g.n, key.k = g.k, key.lda = g.k, key.ldc = g.ldc;
    key.packed_b = true, key.src_type = dnnl::memory::data_type::s8;
    key.dst_type = dnnl::memory::data_type::s32;
    std::shared_ptr<detail::Matmul> made = detail::DnnlMatmuls::get().primitive(key);
    const dnnl::memory::desc want = made->pd.weights_desc();
    std::shared_ptr<const detail::Int8Weights> held =
        detail::current_packed<detail::Int8Weights>(g, lb, want);
    if (!held) {
      auto fresh = std::make_shared<detail::Int8Weights>();
      fresh->scale.resize(static_cast<std::size_t>(g.n));
      ScratchBuffer<int8_t> q(static_cast<std::size_t>(g.k * g.n));
      detail::quantize_weights_s8(g.b, g.k, g.n, lb, q.data(), fresh->scale.data());
      const dnnl::memory plain(dnnl::memory::desc({g.k, g.n}, dnnl::memory::data_type::s8,
                                                  dnnl::memory::dims{1, g.k}),
                               detail::DnnlMatmuls::get().engine(), q.data());
      fresh->pack(g, lb, want, plain);
      g.b_derived->store(fresh);
      held = std::move(fresh);
    }
    // x quantized per row into a dense [m, k] buffer.
    ScratchBuffer<int8_t> xq(static_cast<std::size_t>(g.m * g.k));
    ScratchBuffer<float> row_scale(static_cast<std::size_t>(g.m));
    const auto quantize = detail::quantize_row_s8_into_for<float>(cpu_isa());
    parallel_for(g.m, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(g.k, 1)),
                 [&](int64_t i) {
                   quantize(g.a + i * la.ld, xq.data() + i * g.k, g.k, &row_scale[i]);
                 });
    detail::execute_matmul(*made, xq.data(), held->packed.get_data_handle(), nullptr, g.c);
    const auto dequantize = detail::dequantize_row_for<float>(cpu_isa());
    const float* ws = held->scale.data();
    parallel_for(g.m, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(g.n, 1)),
                 [&](int64_t i) { dequantize(g.c + i * g.ldc, ws, g.bias, row_scale[i], g.n); });
    return;
  }
#endif
  (void)g;
  EMBER_CHECK(false, "int8 products need a float product and oneDNN (EMBER_USE_DNNL=ON with "
                     "Debian's libdnnl-dev); this build has ",
              int8_products_available() ? "oneDNN, but the product is not float" : "no oneDNN");
}

}  // namespace ember::backend::cpu
