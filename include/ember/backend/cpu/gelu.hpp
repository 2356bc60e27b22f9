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

/// y[i] = gelu(x[i]) for n contiguous elements (exact form, or the tanh approximation).
template <class T>
inline void gelu_forward(const T* x, T* y, int64_t n, bool approximate_tanh) {
  parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
    detail::ConstArrayMap<T> xs(x + lo, hi - lo);
    detail::ArrayMap<T> ys(y + lo, hi - lo);
    if (approximate_tanh) {
      const T c = T(backend::kSqrt2OverPi), k = T(backend::kGeluTanhCubic);
      ys = T(0.5) * xs * (T(1) + (c * (xs + k * xs.cube())).tanh());
    } else {
      ys = T(0.5) * xs * (T(1) + (xs * T(backend::kSqrtHalf)).erf());
    }
  });
}

/// dx[i] = dy[i] · gelu'(x[i]) for n contiguous elements.
template <class T>
inline void gelu_backward(const T* dy, const T* x, T* dx, int64_t n, bool approximate_tanh) {
  parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
    detail::ConstArrayMap<T> gs(dy + lo, hi - lo), xs(x + lo, hi - lo);
    detail::ArrayMap<T> out(dx + lo, hi - lo);
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
  });
}

}  // namespace ember::backend::cpu
