// ember/backend/cpu/softmax.hpp — CPU kernels for softmax and log-softmax, forward and backward,
// along the middle dim of a contiguous [outer, n, inner] array.
//
//   softmax(x)_i     = exp(x_i − m) / Σ_j exp(x_j − m)            m = max_j x_j (stability)
//   log_softmax(x)_i = (x_i − m) − log Σ_j exp(x_j − m)
//   backward, from the output y only:
//     softmax:      dx = y ⊙ (dy − Σ_j dy_j y_j)
//     log_softmax:  dx = dy − exp(y) Σ_j dy_j
//
// A row whose entries are all −inf (a fully masked attention row) has no finite maximum; by
// definition softmax gives zeros and log_softmax gives −inf everywhere (PyTorch gives NaN), and
// both give a zero gradient, so no NaN enters forward or backward. Rows holding −inf next to
// finite values are ordinary: those entries get probability 0.
//
// inner == 1 (softmax over the last dim, the common case) runs the row kernel: one pass for the
// max, one for exp and the sum, one to scale, parallel over rows. Otherwise the column kernel
// processes up to 256 neighbouring columns at once so the inner loops run over contiguous memory.
// Sums accumulate in double. Kernels trust their callers: pointers are valid, n ≥ 1.
#pragma once

#include <ember/backend/cpu/isa.hpp>
#include <ember/backend/cpu/strided.hpp>
#include <ember/backend/cpu/vec_math.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace ember::backend::cpu {

/// y = softmax(x) (or log_softmax when `log`) along the middle dim of contiguous
/// [outer, n, inner] arrays `x` and `y`.
template <class T>
inline void softmax_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  const T ninf = -std::numeric_limits<T>::infinity();
  if (inner == 1) {
    parallel_for(
        outer, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)), [&](int64_t r) {
          const T* xr = x + r * n;
          T* yr = y + r * n;
          T m = ninf;
          for (int64_t i = 0; i < n; ++i) m = std::max(m, xr[i]);
          if (m == ninf) {  // all −inf: defined as zeros / −inf (NaN stays NaN)
            bool nan = std::any_of(xr, xr + n, [](T v) { return v != v; });
            std::fill(yr, yr + n, nan ? std::numeric_limits<T>::quiet_NaN() : log ? ninf : T(0));
            return;
          }
          double s = 0;
          if (log) {
            for (int64_t i = 0; i < n; ++i) s += double(std::exp(xr[i] - m));
            const T ls = T(std::log(s));
            for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - m) - ls;
          } else {
            for (int64_t i = 0; i < n; ++i) {
              T e = std::exp(xr[i] - m);
              yr[i] = e;
              s += double(e);
            }
            const T inv = T(1.0 / s);
            for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
          }
        });
    return;
  }
  constexpr int64_t kChunk = 256;
  const int64_t nchunks = (inner + kChunk - 1) / kChunk;
  const int64_t per_item = std::max<int64_t>(1, std::min(inner, kChunk) * n);
  parallel_for(outer * nchunks, std::max<int64_t>(1, kParallelGrain / per_item), [&](int64_t item) {
    const int64_t o = item / nchunks, j0 = (item % nchunks) * kChunk;
    const int64_t len = std::min(kChunk, inner - j0);
    const T* xb = x + o * n * inner + j0;
    T* yb = y + o * n * inner + j0;
    T m[kChunk];
    double s[kChunk];
    for (int64_t j = 0; j < len; ++j) {
      m[j] = ninf;
      s[j] = 0;
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < len; ++j) m[j] = std::max(m[j], xb[i * inner + j]);
    // Columns that are all −inf: shift by 0 instead of −inf; their sums stay exactly 0 (any
    // other column sums to ≥ 1, or NaN) and are handled when writing.
    for (int64_t j = 0; j < len; ++j)
      if (m[j] == ninf) m[j] = T(0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < len; ++j) s[j] += double(std::exp(xb[i * inner + j] - m[j]));
    if (log) {
      T ls[kChunk];
      for (int64_t j = 0; j < len; ++j) ls[j] = s[j] != 0 ? T(std::log(s[j])) : T(0);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < len; ++j)
          yb[i * inner + j] = s[j] != 0 ? (xb[i * inner + j] - m[j]) - ls[j] : ninf;
    } else {
      T inv[kChunk];
      for (int64_t j = 0; j < len; ++j) inv[j] = s[j] != 0 ? T(1.0 / s[j]) : T(0);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < len; ++j)
          yb[i * inner + j] = std::exp(xb[i * inner + j] - m[j]) * inv[j];
    }
  });
}

/// dx from the forward output `y` and the output gradient `dy` (all contiguous
/// [outer, n, inner]). A log_softmax row whose outputs are all −inf gets dx = 0.
template <class T>
inline void softmax_backward(const T* y, const T* dy, T* dx, int64_t outer, int64_t n,
                             int64_t inner, bool log) {
  const T ninf = -std::numeric_limits<T>::infinity();
  if (inner == 1) {
    parallel_for(outer, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)),
                 [&](int64_t r) {
                   const T* yr = y + r * n;
                   const T* gr = dy + r * n;
                   T* dr = dx + r * n;
                   double s = 0;
                   if (log) {
                     T m = ninf;
                     for (int64_t i = 0; i < n; ++i) {
                       s += double(gr[i]);
                       m = std::max(m, yr[i]);
                     }
                     if (m == ninf) {
                       std::fill(dr, dr + n, T(0));
                       return;
                     }
                     const T st = T(s);
                     for (int64_t i = 0; i < n; ++i) dr[i] = gr[i] - std::exp(yr[i]) * st;
                   } else {
                     for (int64_t i = 0; i < n; ++i) s += double(gr[i]) * double(yr[i]);
                     const T st = T(s);
                     for (int64_t i = 0; i < n; ++i) dr[i] = yr[i] * (gr[i] - st);
                   }
                 });
    return;
  }
  constexpr int64_t kChunk = 256;
  const int64_t nchunks = (inner + kChunk - 1) / kChunk;
  const int64_t per_item = std::max<int64_t>(1, std::min(inner, kChunk) * n);
  parallel_for(outer * nchunks, std::max<int64_t>(1, kParallelGrain / per_item), [&](int64_t item) {
    const int64_t o = item / nchunks, j0 = (item % nchunks) * kChunk;
    const int64_t len = std::min(kChunk, inner - j0);
    const int64_t base = o * n * inner + j0;
    const T *yb = y + base, *gb = dy + base;
    T* db = dx + base;
    double s[kChunk];
    T st[kChunk];
    for (int64_t j = 0; j < len; ++j) s[j] = 0;
    if (log) {
      T m[kChunk];
      for (int64_t j = 0; j < len; ++j) m[j] = ninf;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < len; ++j) {
          s[j] += double(gb[i * inner + j]);
          m[j] = std::max(m[j], yb[i * inner + j]);
        }
      for (int64_t j = 0; j < len; ++j) st[j] = T(s[j]);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < len; ++j)
          db[i * inner + j] =
              m[j] == ninf ? T(0) : gb[i * inner + j] - std::exp(yb[i * inner + j]) * st[j];
    } else {
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < len; ++j)
          s[j] += double(gb[i * inner + j]) * double(yb[i * inner + j]);
      for (int64_t j = 0; j < len; ++j) st[j] = T(s[j]);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < len; ++j)
          db[i * inner + j] = yb[i * inner + j] * (gb[i * inner + j] - st[j]);
    }
  });
}

// ---- attention probabilities, fused ----------------------------------------------------------
//
// y = softmax(x / divisor + mask) over each contiguous row of n scores, in one pass over x
// instead of three (divide, add the mask, softmax), and its backward
// dx = y ⊙ (dy − Σ_j dy_j y_j) / divisor in one pass. The rows of one thread's block run in one
// body compiled for generic, AVX2 and AVX-512 (backend/cpu/isa.hpp): `#pragma omp simd` loops
// with vec_math's exp for float (< 1 ulp, exactly 0 below ln(FLT_MIN), so a masked score gives
// probability 0), std::exp for double; sums accumulate in T: attention rows are short (n = seq_k
// ≤ a few thousand). A row whose entries are all −inf after the mask gives zeros and a zero
// gradient, as `softmax_forward` (a NaN in it gives NaN).

EMBER_KERNEL_MATH_BEGIN
namespace detail {

template <class T>
EMBER_ALWAYS_INLINE T exp_of(T v) {
  if constexpr (std::is_same_v<T, float>) return vmath::exp(v);
  else return std::exp(v);
}

/// The max and Σ exp(v − max) of one softmax row.
template <class T>
struct SoftmaxRowStats {
  T max, sum;
};

/// One row of n: v_j = x_j / divisor + mask[j·mask_cs] (no mask when null), then
/// y = softmax(v) (x and y may be the same array). Returns the row's max and Σ exp(v − max); a
/// row without a finite entry gives zeros (NaN when it holds a NaN) and max = −inf. Shared by
/// scaled_masked_softmax and the fused attention kernels (backend/cpu/attention.hpp).
template <class T>
EMBER_ALWAYS_INLINE SoftmaxRowStats<T> masked_softmax_row(const T* x, T* y, int64_t n, T divisor,
                                                          const T* mask, int64_t mask_cs) {
  const T ninf = -std::numeric_limits<T>::infinity();
  T mx = ninf;
  if (mask) {
#pragma omp simd reduction(max : mx)
    for (int64_t i = 0; i < n; ++i) {
      const T v = x[i] / divisor + mask[i * mask_cs];
      y[i] = v;
      mx = v > mx ? v : mx;
    }
  } else {
#pragma omp simd reduction(max : mx)
    for (int64_t i = 0; i < n; ++i) {
      const T v = x[i] / divisor;
      y[i] = v;
      mx = v > mx ? v : mx;
    }
  }
  if (mx == ninf) {  // fully masked row, or only NaN and −inf: zeros (NaN stays NaN)
    bool nan = false;
    for (int64_t i = 0; i < n; ++i) nan = nan || y[i] != y[i];
    const T fill = nan ? std::numeric_limits<T>::quiet_NaN() : T(0);
    for (int64_t i = 0; i < n; ++i) y[i] = fill;
    return {ninf, T(0)};
  }
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) {
    const T e = exp_of(T(y[i] - mx));
    y[i] = e;
    s += e;
  }
  const T inv = T(1) / s;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] *= inv;
  return {mx, s};
}

template <class T>
EMBER_ALWAYS_INLINE void masked_softmax_rows_body(const T* x, T* y, int64_t r0, int64_t r1,
                                                  int64_t n, T divisor, const MaskRows<T>* mask) {
  for (int64_t r = r0; r < r1; ++r)
    masked_softmax_row(x + r * n, y + r * n, n, divisor, mask->row(r, n), int64_t(1));
}
EMBER_ISA_VERSIONS(masked_softmax_rows,
                   (const T* x, T* y, int64_t r0, int64_t r1, int64_t n, T divisor,
                    const MaskRows<T>* mask),
                   (x, y, r0, r1, n, divisor, mask))

template <class T>
EMBER_ALWAYS_INLINE void masked_softmax_grad_rows_body(const T* y, const T* dy, T* dx, int64_t r0,
                                                       int64_t r1, int64_t n, T divisor) {
  for (int64_t r = r0; r < r1; ++r) {
    const T *yr = y + r * n, *gr = dy + r * n;
    T* dr = dx + r * n;
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += gr[i] * yr[i];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dr[i] = yr[i] * (gr[i] - s) / divisor;
  }
}
EMBER_ISA_VERSIONS(masked_softmax_grad_rows,
                   (const T* y, const T* dy, T* dx, int64_t r0, int64_t r1, int64_t n, T divisor),
                   (y, dy, dx, r0, r1, n, divisor))

}  // namespace detail
EMBER_KERNEL_MATH_END

/// y[r] = softmax(x[r] / divisor + mask.row(r)) for `rows` contiguous rows of n elements
/// (MaskRows in backend/types.hpp says where each row's additive mask is; none when null).
template <class T>
inline void scaled_masked_softmax_forward(const T* x, T* y, int64_t rows, int64_t n, T divisor,
                                          const MaskRows<T>& mask) {
  const auto body = detail::masked_softmax_rows_for<T>(cpu_isa());
  parallel_chunks(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)),
                  [&](int64_t r0, int64_t r1) { body(x, y, r0, r1, n, divisor, &mask); });
}

/// dx[r] = y[r] ⊙ (dy[r] − Σ dy[r]·y[r]) / divisor for `rows` contiguous rows of n elements.
template <class T>
inline void scaled_masked_softmax_backward(const T* y, const T* dy, T* dx, int64_t rows,
                                           int64_t n, T divisor) {
  const auto body = detail::masked_softmax_grad_rows_for<T>(cpu_isa());
  parallel_chunks(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)),
                  [&](int64_t r0, int64_t r1) { body(y, dy, dx, r0, r1, n, divisor); });
}

}  // namespace ember::backend::cpu
