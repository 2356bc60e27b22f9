// ember/backend/cuda/gelu.cuh — GELU forward and backward over contiguous arrays, both forms,
// with the formulas (and the order of operations, in T) of backend/cpu/gelu.hpp:
//
//   exact:  y = ½x(1 + erf(x/√2)),              dy/dx = Φ(x) + x·φ(x),  φ(x) = e^(−x²/2)/√(2π)
//   tanh:   y = ½x(1 + tanh u),  u = √(2/π)(x + 0.044715x³)
//           dy/dx = ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²)
//
// One grid-stride elementwise kernel per direction; the form is a uniform run-time branch. The
// CUDA erff/expf/tanhf are accurate to a few ulp, like Eigen's vectorized versions on the CPU.
#pragma once

#include <cstdint>

#include <ember/backend/functors.hpp>  // the GELU constants
#include <ember/backend/cuda/check.cuh>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/stream.cuh>

namespace ember::backend::cuda {

namespace detail {
/// gelu(v), exact form or the tanh approximation (the order of operations of the CPU's).
template <class T>
__device__ inline T gelu_value(T v, bool approximate_tanh) {
  const T c = T(backend::kSqrt2OverPi), k = T(backend::kGeluTanhCubic);
  if (approximate_tanh) return T(0.5) * v * (T(1) + dtanh(c * (v + k * (v * v * v))));
  return T(0.5) * v * (T(1) + derf(v * T(backend::kSqrtHalf)));
}

/// gelu'(v).
template <class T>
__device__ inline T gelu_slope(T v, bool approximate_tanh) {
  const T c = T(backend::kSqrt2OverPi), k = T(backend::kGeluTanhCubic);
  if (approximate_tanh) {
    const T th = dtanh(c * (v + k * (v * v * v)));
    return T(0.5) * (T(1) + th) + T(0.5) * v * (T(1) - th * th) * c * (T(1) + T(3) * k * (v * v));
  }
  const T cdf = T(0.5) * (T(1) + derf(v * T(backend::kSqrtHalf)));
  const T pdf = T(backend::kInvSqrt2Pi) * dexp(T(-0.5) * (v * v));
  return cdf + v * pdf;
}
}  // namespace detail

namespace kernel {

template <class T>
__global__ void gelu_forward(const T* x, T* y, int64_t n, bool approximate_tanh) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step())
    y[i] = detail::gelu_value(x[i], approximate_tanh);
}

template <class T>
__global__ void gelu_backward(const T* dy, const T* x, T* dx, int64_t n, bool approximate_tanh) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step())
    dx[i] = dy[i] * detail::gelu_slope(x[i], approximate_tanh);
}

template <class T>
__global__ void bias_gelu_forward(const T* x, const T* bias, T* y, int64_t total, int64_t n,
                                  bool approximate_tanh) {
  for (int64_t i = detail::grid_start(); i < total; i += detail::grid_step())
    y[i] = detail::gelu_value(x[i] + bias[i % n], approximate_tanh);
}

template <class T>
__global__ void bias_gelu_backward(const T* dy, const T* x, const T* bias, T* dx, int64_t total,
                                   int64_t n, bool approximate_tanh) {
  for (int64_t i = detail::grid_start(); i < total; i += detail::grid_step())
    dx[i] = dy[i] * detail::gelu_slope(x[i] + bias[i % n], approximate_tanh);
}

}  // namespace kernel

/// y[i] = gelu(x[i]) for n contiguous elements (exact form, or the tanh approximation).
template <class T>
inline void gelu_forward(const T* x, T* y, int64_t n, bool approximate_tanh) {
  if (n == 0) return;
  kernel::gelu_forward<T><<<detail::grid_for(n), detail::kThreads, 0, current_stream()>>>(
      x, y, n, approximate_tanh);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// dx[i] = dy[i] · gelu'(x[i]) for n contiguous elements.
template <class T>
inline void gelu_backward(const T* dy, const T* x, T* dx, int64_t n, bool approximate_tanh) {
  if (n == 0) return;
  kernel::gelu_backward<T><<<detail::grid_for(n), detail::kThreads, 0, current_stream()>>>(
      dy, x, dx, n, approximate_tanh);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// y[r, :] = gelu(x[r, :] + bias) for contiguous [rows, n] x and y.
template <class T>
inline void bias_gelu_forward(const T* x, const T* bias, T* y, int64_t rows, int64_t n,
                              bool approximate_tanh) {
  const int64_t total = rows * n;
  if (total == 0) return;
  kernel::bias_gelu_forward<T><<<detail::grid_for(total), detail::kThreads, 0, current_stream()>>>(
      x, bias, y, total, n, approximate_tanh);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// dx[r, :] = dy[r, :] · gelu'(x[r, :] + bias).
template <class T>
inline void bias_gelu_backward(const T* dy, const T* x, const T* bias, T* dx, int64_t rows,
                               int64_t n, bool approximate_tanh) {
  const int64_t total = rows * n;
  if (total == 0) return;
  kernel::bias_gelu_backward<T><<<detail::grid_for(total), detail::kThreads, 0, current_stream()>>>(
      dy, x, bias, dx, total, n, approximate_tanh);
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace ember::backend::cuda
