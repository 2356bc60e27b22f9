// ember/backend/cuda/softmax.cuh — CUDA kernels for softmax and log-softmax along the middle dim
// of a contiguous [outer, n, inner] array, and the fused attention softmax
// y = softmax(x / divisor + mask) over rows of n scores, forward and backward.
//
// The math, including every special case, is backend/cpu/softmax.hpp's (read its header):
//   softmax(x)_i = exp(x_i − m) / Σ_j exp(x_j − m),  log_softmax(x)_i = (x_i − m) − log Σ_j exp(x_j − m)
//   backward from y: softmax dx = y ⊙ (dy − Σ dy·y);  log_softmax dx = dy − exp(y)·Σ dy
//   a row that is all −inf gives zeros (softmax) or −inf (log_softmax), NaN if it holds a NaN,
//   and a zero gradient. The maximum ignores NaNs as std::max(m, v) does on the CPU.
//
// Parallel shapes:
//   * inner == 1 (softmax over the last dim): one block per row; each pass over the row (max,
//     Σ exp, write) is a strided loop of the block's threads and a block_reduce. Rows are read
//     two or three times; they are short enough to stay in L1/L2.
//   * inner > 1: one thread per column (o, j), the n entries visited in order exactly as the
//     CPU's column kernel (neighbouring threads read neighbouring columns: coalesced).
// Sums accumulate in double (as the CPU), except in the attention softmax, which sums in T like
// its CPU counterpart (rows are short).
//
// Attention softmax, masked keys. The CPU computes z = x/divisor + mask in T, m = max z, and
// exp(z − m) with arguments below log(FLT_MIN) (log(DBL_MIN)) flushed to exactly 0 (Eigen's
// vectorized exp would otherwise give ~1e-38). Here the same: a key masked with −inf or with
// finfo.min gets exactly 0 next to any unmasked key; a row masked entirely with finfo.min is
// uniform over its keys (every z rounds to the same value), as on the CPU; a row that is all −inf
// gives zeros.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include <ember/backend/cuda/check.cuh>
#include <ember/backend/device_runtime.hpp>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/stream.cuh>

namespace ember::backend::cuda {

namespace kernel {

using detail::ninf;
using detail::qnan;

/// Block per row of n (inner == 1).
template <class T>
__global__ void softmax_rows(const T* x, T* y, int64_t rows, int64_t n, bool log) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    T m = ninf<T>();
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) m = m < xr[i] ? xr[i] : m;
    m = detail::block_reduce(m, detail::MaxOp{}, ninf<T>());
    if (m == ninf<T>()) {  // all −inf (or NaN): zeros / −inf, NaN if any NaN
      int nan = 0;
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) nan |= xr[i] != xr[i];
      nan = detail::block_reduce(nan, detail::MaxOp{}, 0);
      const T fill = nan ? qnan<T>() : log ? ninf<T>() : T(0);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = fill;
      continue;
    }
    double s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += double(detail::dexp(T(xr[i] - m)));
    s = detail::block_reduce(s, detail::SumOp{}, 0.0);
    if (log) {
      const T ls = T(::log(s));
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = T(xr[i] - m) - ls;
    } else {
      const T inv = T(1.0 / s);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        yr[i] = detail::dexp(T(xr[i] - m)) * inv;
    }
  }
}

/// Thread per column (o, j) of [outer, n, inner] (inner > 1): the CPU column kernel.
template <class T>
__global__ void softmax_columns(const T* x, T* y, int64_t outer, int64_t n, int64_t inner,
                                bool log) {
  const int64_t total = outer * inner;
  for (int64_t c = detail::grid_start(); c < total; c += detail::grid_step()) {
    const int64_t o = c / inner, j = c % inner;
    const T* xb = x + o * n * inner + j;
    T* yb = y + o * n * inner + j;
    T m = ninf<T>();
    for (int64_t i = 0; i < n; ++i) m = m < xb[i * inner] ? xb[i * inner] : m;
    if (m == ninf<T>()) m = T(0);  // all −inf: shift by 0; the sum stays exactly 0
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += double(detail::dexp(T(xb[i * inner] - m)));
    if (log) {
      const T ls = s != 0 ? T(::log(s)) : T(0);
      for (int64_t i = 0; i < n; ++i)
        yb[i * inner] = s != 0 ? T(xb[i * inner] - m) - ls : ninf<T>();
    } else {
      const T inv = s != 0 ? T(1.0 / s) : T(0);
      for (int64_t i = 0; i < n; ++i) yb[i * inner] = detail::dexp(T(xb[i * inner] - m)) * inv;
    }
  }
}

template <class T>
__global__ void softmax_backward_rows(const T* y, const T* dy, T* dx, int64_t rows, int64_t n,
                                      bool log) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* yr = y + r * n;
    const T* gr = dy + r * n;
    T* dr = dx + r * n;
    double s = 0;
    if (log) {
      T m = ninf<T>();
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        s += double(gr[i]);
        m = m < yr[i] ? yr[i] : m;
      }
      s = detail::block_reduce(s, detail::SumOp{}, 0.0);
      m = detail::block_reduce(m, detail::MaxOp{}, ninf<T>());
      if (m == ninf<T>()) {  // an all −inf output row: zero gradient
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) dr[i] = T(0);
        continue;
      }
      const T st = T(s);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        dr[i] = gr[i] - detail::dexp(yr[i]) * st;
    } else {
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += double(gr[i]) * double(yr[i]);
      s = detail::block_reduce(s, detail::SumOp{}, 0.0);
      const T st = T(s);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) dr[i] = yr[i] * (gr[i] - st);
    }
  }
}

template <class T>
__global__ void softmax_backward_columns(const T* y, const T* dy, T* dx, int64_t outer, int64_t n,
                                         int64_t inner, bool log) {
  const int64_t total = outer * inner;
  for (int64_t c = detail::grid_start(); c < total; c += detail::grid_step()) {
    const int64_t o = c / inner, j = c % inner;
    const int64_t base = o * n * inner + j;
    const T *yb = y + base, *gb = dy + base;
    T* db = dx + base;
    double s = 0;
    if (log) {
      T m = ninf<T>();
      for (int64_t i = 0; i < n; ++i) {
        s += double(gb[i * inner]);
        m = m < yb[i * inner] ? yb[i * inner] : m;
      }
      const T st = T(s);
      for (int64_t i = 0; i < n; ++i)
        db[i * inner] = m == ninf<T>() ? T(0) : gb[i * inner] - detail::dexp(yb[i * inner]) * st;
    } else {
      for (int64_t i = 0; i < n; ++i) s += double(gb[i * inner]) * double(yb[i * inner]);
      const T st = T(s);
      for (int64_t i = 0; i < n; ++i) db[i * inner] = yb[i * inner] * (gb[i * inner] - st);
    }
  }
}

/// The additive mask row of score row r, or null (backend/types.hpp's MaskRows).
template <class T>
__device__ __forceinline__ const T* mask_row(const MaskRows<T>& m, int64_t r, int64_t n) {
  if (m.mask == nullptr) return nullptr;
  if (m.full) return m.mask + r * n;
  const int64_t b = m.mask_b == 1 ? 0 : r / m.per_batch;
  const int64_t q = m.mask_q == 1 ? 0 : r % m.sq;
  return m.mask + (b * m.mask_q + q) * n;
}

/// z_i = x_i / divisor + mask_i, in T as on the CPU.
template <class T>
__device__ __forceinline__ T masked_score(const T* xr, const T* mr, int64_t i, T divisor) {
  return mr ? T(T(xr[i] / divisor) + mr[i]) : T(xr[i] / divisor);
}

/// Block per row: y = softmax(x / divisor + mask); `lo` = log(numeric_limits<T>::min()).
template <class T>
__global__ void scaled_masked_softmax(const T* x, T* y, int64_t rows, int64_t n, T divisor,
                                      MaskRows<T> mask, T lo) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * n;
    const T* mr = mask_row(mask, r, n);
    T* yr = y + r * n;
    T m = ninf<T>();
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const T z = masked_score(xr, mr, i, divisor);
      m = m < z ? z : m;
    }
    m = detail::block_reduce(m, detail::MaxOp{}, ninf<T>());
    if (m == ninf<T>()) {  // fully masked row: zeros (NaN stays NaN)
      int nan = 0;
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const T z = masked_score(xr, mr, i, divisor);
        nan |= z != z;
      }
      nan = detail::block_reduce(nan, detail::MaxOp{}, 0);
      const T fill = nan ? qnan<T>() : T(0);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = fill;
      continue;
    }
    T s = T(0);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const T d = T(masked_score(xr, mr, i, divisor) - m);
      const T e = d < lo ? T(0) : detail::dexp(d);
      yr[i] = e;
      s += e;
    }
    s = detail::block_reduce(s, detail::SumOp{}, T(0));
    const T inv = T(1) / s;
    // Each thread rescales the entries it wrote itself: no barrier needed.
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = yr[i] * inv;
  }
}

/// Block per row: dx = y ⊙ (dy − Σ dy·y) / divisor (the sum in T, as the CPU).
template <class T>
__global__ void scaled_masked_softmax_backward(const T* y, const T* dy, T* dx, int64_t rows,
                                               int64_t n, T divisor) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* yr = y + r * n;
    const T* gr = dy + r * n;
    T* dr = dx + r * n;
    T s = T(0);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += gr[i] * yr[i];
    s = detail::block_reduce(s, detail::SumOp{}, T(0));
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) dr[i] = T(yr[i] * (gr[i] - s)) / divisor;
  }
}

}  // namespace kernel

/// y = softmax(x) (log_softmax when `log`) along the middle dim of contiguous [outer, n, inner].
template <class T>
inline void softmax_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  if (outer == 0 || n == 0 || inner == 0) return;
  cudaStream_t stream = current_stream();
  if (inner == 1) {
    kernel::softmax_rows<T><<<detail::grid_for_rows(outer), detail::row_threads(n), 0, stream>>>(
        x, y, outer, n, log);
  } else {
    kernel::softmax_columns<T><<<detail::grid_for(outer * inner), detail::kThreads, 0, stream>>>(
        x, y, outer, n, inner, log);
  }
  EMBER_CUDA_CHECK_LAUNCH();
}

/// dx from y and dy (contiguous [outer, n, inner]); an all −inf log_softmax row gets dx = 0.
template <class T>
inline void softmax_backward(const T* y, const T* dy, T* dx, int64_t outer, int64_t n,
                             int64_t inner, bool log) {
  if (outer == 0 || n == 0 || inner == 0) return;
  cudaStream_t stream = current_stream();
  if (inner == 1) {
    kernel::softmax_backward_rows<T>
        <<<detail::grid_for_rows(outer), detail::row_threads(n), 0, stream>>>(y, dy, dx, outer, n,
                                                                            log);
  } else {
    kernel::softmax_backward_columns<T>
        <<<detail::grid_for(outer * inner), detail::kThreads, 0, stream>>>(y, dy, dx, outer, n,
                                                                         inner, log);
  }
  EMBER_CUDA_CHECK_LAUNCH();
}

/// y[r] = softmax(x[r] / divisor + mask row of r) for `rows` contiguous rows of n.
template <class T>
inline void scaled_masked_softmax_forward(const T* x, T* y, int64_t rows, int64_t n, T divisor,
                                          const MaskRows<T>& mask) {
  if (rows == 0 || n == 0) return;
  const T lo = std::log(std::numeric_limits<T>::min());  // computed on the host, as the CPU does
  kernel::scaled_masked_softmax<T>
      <<<detail::grid_for_rows(rows), detail::row_threads(n), 0, current_stream()>>>(
          x, y, rows, n, divisor, mask, lo);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// dx[r] = y[r] ⊙ (dy[r] − Σ dy[r]·y[r]) / divisor for `rows` contiguous rows of n.
template <class T>
inline void scaled_masked_softmax_backward(const T* y, const T* dy, T* dx, int64_t rows,
                                           int64_t n, T divisor) {
  if (rows == 0 || n == 0) return;
  kernel::scaled_masked_softmax_backward<T>
      <<<detail::grid_for_rows(rows), detail::row_threads(n), 0, current_stream()>>>(
          y, dy, dx, rows, n, divisor);
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace ember::backend::cuda
