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
// in a BERT training step it was the largest cost outside the GEMMs. Here each chunk is an Eigen
// array expression, so erf, exp and tanh run on SIMD packets (Eigen's float erf is a rational
// approximation accurate to a few ulp on [−4, 4], ±1 outside; its exp and tanh likewise). For
// double, Eigen calls std::erf/std::exp/std::tanh, so gradient checks see the exact functions.
// The backward computes dx = dy · dy/dx in one pass over dy and x.
#pragma once

#include <ember/backend/cpu/strided.hpp>
#include <ember/backend/functors.hpp>  // the GELU constants

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include <cstdint>

namespace ember::backend::cpu {

namespace detail {
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;

}  // namespace detail

namespace detail {
/// ys = gelu(xs) for an Eigen array expression xs (exact form, or the tanh approximation).
template <class X, class Y>
inline void gelu_block(const X& xs, Y&& ys, bool approximate_tanh) {
  using T = typename X::Scalar;
  if (approximate_tanh) {
    const T c = T(backend::kSqrt2OverPi), k = T(backend::kGeluTanhCubic);
    ys = T(0.5) * xs * (T(1) + (c * (xs + k * xs.cube())).tanh());
  } else {
    ys = T(0.5) * xs * (T(1) + (xs * T(backend::kSqrtHalf)).erf());
  }
}

/// out = gs · gelu'(xs) for Eigen array expressions.
template <class G, class X, class O>
inline void gelu_grad_block(const G& gs, const X& xs, O&& out, bool approximate_tanh) {
  using T = typename X::Scalar;
  if (approximate_tanh) {
    const T c = T(backend::kSqrt2OverPi), k = T(backend::kGeluTanhCubic);
    auto th = (c * (xs + k * xs.cube())).tanh();
    out = gs * (T(0.5) * (T(1) + th) +
                T(0.5) * xs * (T(1) - th.square()) * c * (T(1) + T(3) * k * xs.square()));
  } else {
    auto cdf = T(0.5) * (T(1) + (xs * T(backend::kSqrtHalf)).erf());
    auto pdf = T(backend::kInvSqrt2Pi) * (T(-0.5) * xs.square()).exp();
    out = gs * (cdf + xs * pdf);
  }
}

/// Rows of n elements per parallel work item, so that each item has about kParallelGrain.
inline int64_t rows_grain(int64_t n) { return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)); }
}  // namespace detail

/// y[i] = gelu(x[i]) for n contiguous elements (exact form, or the tanh approximation).
template <class T>
inline void gelu_forward(const T* x, T* y, int64_t n, bool approximate_tanh) {
  parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
    detail::ArrayMap<T> ys(y + lo, hi - lo);
    detail::gelu_block(detail::ConstArrayMap<T>(x + lo, hi - lo), ys, approximate_tanh);
  });
}

/// dx[i] = dy[i] · gelu'(x[i]) for n contiguous elements.
template <class T>
inline void gelu_backward(const T* dy, const T* x, T* dx, int64_t n, bool approximate_tanh) {
  parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
    detail::ArrayMap<T> out(dx + lo, hi - lo);
    detail::gelu_grad_block(detail::ConstArrayMap<T>(dy + lo, hi - lo),
                            detail::ConstArrayMap<T>(x + lo, hi - lo), out, approximate_tanh);
  });
}

/// y[r, :] = gelu(x[r, :] + bias) for contiguous [rows, n] x and y: the sum is never stored.
template <class T>
inline void bias_gelu_forward(const T* x, const T* bias, T* y, int64_t rows, int64_t n,
                              bool approximate_tanh) {
  const detail::ConstArrayMap<T> b(bias, n);
  parallel_for(rows, detail::rows_grain(n), [&](int64_t r) {
    detail::ArrayMap<T> ys(y + r * n, n);
    detail::gelu_block(detail::ConstArrayMap<T>(x + r * n, n) + b, ys, approximate_tanh);
  });
}

/// dx[r, :] = dy[r, :] · gelu'(x[r, :] + bias) (the sum recomputed, not saved).
template <class T>
inline void bias_gelu_backward(const T* dy, const T* x, const T* bias, T* dx, int64_t rows,
                               int64_t n, bool approximate_tanh) {
  const detail::ConstArrayMap<T> b(bias, n);
  parallel_for(rows, detail::rows_grain(n), [&](int64_t r) {
    detail::ArrayMap<T> out(dx + r * n, n);
    detail::gelu_grad_block(detail::ConstArrayMap<T>(dy + r * n, n),
                            detail::ConstArrayMap<T>(x + r * n, n) + b, out, approximate_tanh);
  });
}

}  // namespace ember::backend::cpu
