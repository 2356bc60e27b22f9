// ember/backend/cpu/gelu.hpp — GELU forward and backward over contiguous arrays, vectorized.
//
//   exact (Hendrycks & Gimpel 2016, PyTorch `gelu`, HF "gelu"):
//     y = x Φ(x) = ½ x (1 + erf(x/√2)),         dy/dx = Φ(x) + x φ(x),  φ(x) = e^(−x²/2)/√(2π)
//   tanh approximation (PyTorch `gelu(approximate='tanh')`, HF "gelu_new"):
//     y = ½ x (1 + tanh u),  u = √(2/π)(x + 0.044715 x³)
//     dy/dx = ½ (1 + tanh u) + ½ x (1 − tanh² u) √(2/π)(1 + 3·0.044715 x²)
//
// Why a kernel of its own: the element-wise path calls the C library's scalar erff/expf once per
// element, and GELU runs on the largest activation of a Transformer layer ([tokens, 4·hidden]):
// in a BERT training step it was the largest cost outside the GEMMs. For float, each span is one
// `#pragma omp simd` loop over backend/cpu/vec_math.hpp's erf and exp, compiled for SSE2, AVX2
// and AVX-512 (backend/cpu/isa.hpp) and chosen by the CPU at run time; the tanh form uses
// 1 + tanh u = 2/(1 + e^(−2u)). For double, the spans call std::erf / std::exp / std::tanh, so gradient
// checks see the exact functions. The backward computes dx = dy · dy/dx in one pass over dy and x;
// the bias forms add the bias on the fly (the sum is never stored).
#pragma once

#include <ember/backend/cpu/isa.hpp>
#include <ember/backend/cpu/strided.hpp>
#include <ember/backend/cpu/vec_math.hpp>
#include <ember/backend/functors.hpp>  // the GELU constants

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace ember::backend::cpu {

EMBER_KERNEL_MATH_BEGIN
namespace detail {

/// gelu(v) and dgelu/dv(v): float through vec_math (vectorizable), double through std::.
template <bool kTanh, class T>
EMBER_ALWAYS_INLINE T gelu_at(T v) {
  constexpr T c = T(backend::kSqrt2OverPi), k = T(backend::kGeluTanhCubic);
  if constexpr (std::is_same_v<T, float>) {
    if constexpr (kTanh) return 0.5f * v * vmath::one_plus_tanh(c * (v + k * v * v * v));
    else return 0.5f * v * (1.0f + vmath::erf(v * float(backend::kSqrtHalf)));
  } else {
    if constexpr (kTanh) return T(0.5) * v * (T(1) + std::tanh(c * (v + k * v * v * v)));
    else return T(0.5) * v * (T(1) + std::erf(v * T(backend::kSqrtHalf)));
  }
}
template <bool kTanh, class T>
EMBER_ALWAYS_INLINE T gelu_slope_at(T v) {
  constexpr T c = T(backend::kSqrt2OverPi), k = T(backend::kGeluTanhCubic);
  if constexpr (kTanh) {
    // s = 1 + tanh u;  d/dv = ½·s + ½·v·(1 − tanh²u)·c·(1 + 3k v²),  1 − tanh²u = s·(2 − s)
    const T u = c * (v + k * v * v * v);
    T s;
    if constexpr (std::is_same_v<T, float>) s = vmath::one_plus_tanh(u);
    else s = T(1) + std::tanh(u);
    return T(0.5) * s + T(0.5) * v * s * (T(2) - s) * c * (T(1) + T(3) * k * v * v);
  } else {
    // Φ(v) + v·φ(v)
    if constexpr (std::is_same_v<T, float>)
      return 0.5f * (1.0f + vmath::erf(v * float(backend::kSqrtHalf))) +
             v * float(backend::kInvSqrt2Pi) * vmath::exp(-0.5f * v * v);
    else
      return T(0.5) * (T(1) + std::erf(v * T(backend::kSqrtHalf))) +
             v * T(backend::kInvSqrt2Pi) * std::exp(T(-0.5) * v * v);
  }
}

template <bool kTanh, class T>
EMBER_ALWAYS_INLINE void gelu_loop(const T* x, const T* bias, T* y, int64_t n) {
  if (bias) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = gelu_at<kTanh>(T(x[i] + bias[i]));
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = gelu_at<kTanh>(x[i]);
  }
}
template <bool kTanh, class T>
EMBER_ALWAYS_INLINE void gelu_grad_loop(const T* dy, const T* x, const T* bias, T* dx,
                                        int64_t n) {
  if (bias) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * gelu_slope_at<kTanh>(T(x[i] + bias[i]));
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * gelu_slope_at<kTanh>(x[i]);
  }
}

/// y[i] = gelu(x[i] + bias[i]) for n contiguous elements (bias may be null).
template <class T>
EMBER_ALWAYS_INLINE void gelu_span_body(const T* x, const T* bias, T* y, int64_t n, bool tanh) {
  if (tanh) gelu_loop<true>(x, bias, y, n);
  else gelu_loop<false>(x, bias, y, n);
}
EMBER_ISA_VERSIONS(gelu_span, (const T* x, const T* bias, T* y, int64_t n, bool tanh),
                   (x, bias, y, n, tanh))

/// dx[i] = dy[i] · gelu'(x[i] + bias[i]) for n contiguous elements (bias may be null).
template <class T>
EMBER_ALWAYS_INLINE void gelu_grad_span_body(const T* dy, const T* x, const T* bias, T* dx,
                                             int64_t n, bool tanh) {
  if (tanh) gelu_grad_loop<true>(dy, x, bias, dx, n);
  else gelu_grad_loop<false>(dy, x, bias, dx, n);
}
EMBER_ISA_VERSIONS(gelu_grad_span,
                   (const T* dy, const T* x, const T* bias, T* dx, int64_t n, bool tanh),
                   (dy, x, bias, dx, n, tanh))

}  // namespace detail
EMBER_KERNEL_MATH_END

namespace detail {
/// Rows of n elements per parallel work item, so that each item has about kParallelGrain.
inline int64_t rows_grain(int64_t n) { return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)); }
}  // namespace detail

/// y[i] = gelu(x[i]) for n contiguous elements (exact form, or the tanh approximation).
template <class T>
inline void gelu_forward(const T* x, T* y, int64_t n, bool approximate_tanh) {
  const auto span = detail::gelu_span_for<T>(cpu_isa());
  parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
    span(x + lo, nullptr, y + lo, hi - lo, approximate_tanh);
  });
}

/// dx[i] = dy[i] · gelu'(x[i]) for n contiguous elements.
template <class T>
inline void gelu_backward(const T* dy, const T* x, T* dx, int64_t n, bool approximate_tanh) {
  const auto span = detail::gelu_grad_span_for<T>(cpu_isa());
  parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
    span(dy + lo, x + lo, nullptr, dx + lo, hi - lo, approximate_tanh);
  });
}

/// y[r, :] = gelu(x[r, :] + bias) for contiguous [rows, n] x and y: the sum is never stored.
template <class T>
inline void bias_gelu_forward(const T* x, const T* bias, T* y, int64_t rows, int64_t n,
                              bool approximate_tanh) {
  const auto span = detail::gelu_span_for<T>(cpu_isa());
  parallel_for(rows, detail::rows_grain(n), [&](int64_t r) {
    span(x + r * n, bias, y + r * n, n, approximate_tanh);
  });
}

/// dx[r, :] = dy[r, :] · gelu'(x[r, :] + bias) (the sum recomputed, not saved).
template <class T>
inline void bias_gelu_backward(const T* dy, const T* x, const T* bias, T* dx, int64_t rows,
                               int64_t n, bool approximate_tanh) {
  const auto span = detail::gelu_grad_span_for<T>(cpu_isa());
  parallel_for(rows, detail::rows_grain(n), [&](int64_t r) {
    span(dy + r * n, x + r * n, bias, dx + r * n, n, approximate_tanh);
  });
}

}  // namespace ember::backend::cpu
