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

#include <ember/backend/cpu/strided.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

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
// dx = y ⊙ (dy − Σ_j dy_j y_j) / divisor in one pass. Each row is an Eigen array expression, so
// exp runs on SIMD packets (Eigen's float exp is accurate to ~1 ulp), and sums accumulate in T:
// attention rows are short (n = seq_k ≤ a few thousand). A row whose entries are all −inf after
// the mask gives zeros and a zero gradient, as `softmax_forward`.

/// y[r] = softmax(x[r] / divisor + mask.row(r)) for `rows` contiguous rows of n elements
/// (MaskRows in backend/types.hpp says where each row's additive mask is; none when null).
template <class T>
inline void scaled_masked_softmax_forward(const T* x, T* y, int64_t rows, int64_t n, T divisor,
                                          const MaskRows<T>& mask) {
  using Row = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
  using ConstRow = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
  const T ninf = -std::numeric_limits<T>::infinity();
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)),
               [&](int64_t r) {
                 ConstRow xr(x + r * n, n);
                 Row yr(y + r * n, n);
                 if (const T* m = mask.row(r, n))
                   yr = xr / divisor + ConstRow(m, n);
                 else
                   yr = xr / divisor;
                 const T mx = yr.maxCoeff();
                 if (mx == ninf) {  // fully masked row (NaN stays NaN)
                   const bool nan = (yr != yr).any();
                   yr.setConstant(nan ? std::numeric_limits<T>::quiet_NaN() : T(0));
                   return;
                 }
                 // Eigen's vectorized exp clamps its argument (to about −88 for float), so
                 // exp of a masked score (≈ lowest()) would be ~1e-38 instead of 0; arguments
                 // below the smallest normal's log give exactly 0, as the scalar exp does.
                 const T lo = std::log(std::numeric_limits<T>::min());
                 yr = (yr - mx < lo).select(T(0), (yr - mx).exp());
                 yr *= T(1) / yr.sum();
               });
}

/// dx[r] = y[r] ⊙ (dy[r] − Σ dy[r]·y[r]) / divisor for `rows` contiguous rows of n elements.
template <class T>
inline void scaled_masked_softmax_backward(const T* y, const T* dy, T* dx, int64_t rows,
                                           int64_t n, T divisor) {
  using Row = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
  using ConstRow = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)),
               [&](int64_t r) {
                 ConstRow yr(y + r * n, n), gr(dy + r * n, n);
                 Row dr(dx + r * n, n);
                 const T s = (gr * yr).sum();
                 dr = yr * (gr - s) / divisor;
               });
}

}  // namespace ember::backend::cpu
