// ember/backend/cpu/layer_norm.hpp — CPU kernels for layer normalization over the rows of a
// contiguous [rows, n] array, forward and a fused backward.
//
// Forward (Ba, Kiros & Hinton 2016, "Layer Normalization"; PyTorch's F.layer_norm):
//   μ = (1/n) Σ x_i,  σ² = (1/n) Σ (x_i − μ)²  (biased),  rstd = 1/√(σ² + eps)
//   x̂_i = (x_i − μ)·rstd,  y_i = x̂_i·w_i + b_i
// The variance takes two passes over the row (the row is in cache for the second) in double:
// the textbook E[x²] − E[x]² in float loses every digit when |μ| ≫ σ (for [10000..10003] it
// cancels to 0 or negative). μ and rstd are written per row, in double, for backward.
//
// Backward, with g = dy and gw_i = g_i·w_i (w = 1 without weight):
//   dx_i = rstd·(gw_i − mean(gw) − x̂_i·mean(gw ⊙ x̂))
//   dw_i = Σ_rows g_i·x̂_i,   db_i = Σ_rows g_i
// One kernel call does all three: per row, one pass for the two means, one for dx and the
// dw/db contributions (x̂ is recomputed from x, μ, rstd rather than stored). Rows run in
// parallel in a fixed number of chunks (set by the shape, not the thread count); each chunk owns
// partial dw/db sums in double that are added in chunk order, so results are deterministic.
// The per-row work runs in bodies compiled for generic, AVX2 and AVX-512 (backend/cpu/isa.hpp);
// their sums are `#pragma omp simd` reductions, so the order of the additions within a row
// depends on the vector width (in double, the difference is far below float's precision).
// Kernels trust their callers: pointers valid, arrays contiguous.
#pragma once

#include <ember/backend/cpu/isa.hpp>
#include <ember/backend/cpu/strided.hpp>
#include <ember/core/storage.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace ember::backend::cpu {

EMBER_KERNEL_MATH_BEGIN
namespace detail {

template <class T>
EMBER_ALWAYS_INLINE void layer_norm_rows_body(const T* x, const T* w, const T* b, T* y,
                                              double* mean, double* rstd, int64_t r0, int64_t r1,
                                              int64_t n, double eps) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += double(xr[i]);
    const double mu = s / double(n);
    double m2 = 0;
#pragma omp simd reduction(+ : m2)
    for (int64_t i = 0; i < n; ++i) {
      const double d = double(xr[i]) - mu;
      m2 += d * d;
    }
    const double rs = 1.0 / std::sqrt(m2 / double(n) + eps);
    mean[r] = mu;
    rstd[r] = rs;
    if (w && b) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i)
        yr[i] = T((double(xr[i]) - mu) * rs * double(w[i]) + double(b[i]));
    } else if (w) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) yr[i] = T((double(xr[i]) - mu) * rs * double(w[i]));
    } else if (b) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) yr[i] = T((double(xr[i]) - mu) * rs + double(b[i]));
    } else {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) yr[i] = T((double(xr[i]) - mu) * rs);
    }
  }
}
EMBER_ISA_VERSIONS(layer_norm_rows,
                   (const T* x, const T* w, const T* b, T* y, double* mean, double* rstd,
                    int64_t r0, int64_t r1, int64_t n, double eps),
                   (x, w, b, y, mean, rstd, r0, r1, n, eps))

/// Rows [r0, r1) of the backward: dx, and this chunk's partial Σ g·x̂ (pw) and Σ g (pb).
template <class T>
EMBER_ALWAYS_INLINE void layer_norm_grad_rows_body(const T* dy, const T* x, const double* mean,
                                                   const double* rstd, const T* w, T* dx,
                                                   double* pw, double* pb, int64_t r0, int64_t r1,
                                                   int64_t n) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* gr = dy + r * n;
    const T* xr = x + r * n;
    const double mu = mean[r], rs = rstd[r];
    if (dx) {
      double a = 0, bsum = 0;  // Σ gw, Σ gw·x̂
#pragma omp simd reduction(+ : a, bsum)
      for (int64_t i = 0; i < n; ++i) {
        const double gw = double(gr[i]) * (w ? double(w[i]) : 1.0);
        a += gw;
        bsum += gw * (double(xr[i]) - mu) * rs;
      }
      const double ma = a / double(n), mb = bsum / double(n);
      T* dr = dx + r * n;
      if (pw) {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) {
          const double g = double(gr[i]);
          const double gw = g * (w ? double(w[i]) : 1.0);
          const double xh = (double(xr[i]) - mu) * rs;
          dr[i] = T(rs * (gw - ma - xh * mb));
          pw[i] += g * xh;
          pb[i] += g;
        }
      } else {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) {
          const double gw = double(gr[i]) * (w ? double(w[i]) : 1.0);
          const double xh = (double(xr[i]) - mu) * rs;
          dr[i] = T(rs * (gw - ma - xh * mb));
        }
      }
    } else if (pw) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) {
        const double g = double(gr[i]);
        pw[i] += g * (double(xr[i]) - mu) * rs;
        pb[i] += g;
      }
    }
  }
}
EMBER_ISA_VERSIONS(layer_norm_grad_rows,
                   (const T* dy, const T* x, const double* mean, const double* rstd, const T* w,
                    T* dx, double* pw, double* pb, int64_t r0, int64_t r1, int64_t n),
                   (dy, x, mean, rstd, w, dx, pw, pb, r0, r1, n))

}  // namespace detail
EMBER_KERNEL_MATH_END

/// y = layer_norm(x) per row of contiguous [rows, n] `x`; `w`, `b` ([n]) may be null; writes
/// mean[rows] and rstd[rows].
template <class T>
inline void layer_norm_forward(const T* x, const T* w, const T* b, T* y, double* mean, double* rstd,
                               int64_t rows, int64_t n, double eps) {
  if (n == 0) return;
  const auto body = detail::layer_norm_rows_for<T>(cpu_isa());
  parallel_chunks(rows, std::max<int64_t>(1, kParallelGrain / n), [&](int64_t r0, int64_t r1) {
    body(x, w, b, y, mean, rstd, r0, r1, n, eps);
  });
}

/// Gradients of layer_norm from `dy`, `x` (contiguous [rows, n]), the forward's mean/rstd and
/// `w` ([n], null = no weight). Writes whichever of dx [rows, n], dw [n], db [n] is non-null.
template <class T>
inline void layer_norm_backward(const T* dy, const T* x, const double* mean, const double* rstd,
                                const T* w, T* dx, T* dw, T* db, int64_t rows, int64_t n) {
  if (n == 0) return;
  const bool params = dw || db;
  // Fixed chunking of the rows: ~32K elements per chunk, at most 64 chunks.
  const int64_t chunk_rows =
      std::max<int64_t>(std::max<int64_t>(1, kParallelGrain / n), (rows + 63) / 64);
  const int64_t nchunks = rows == 0 ? 0 : (rows + chunk_rows - 1) / chunk_rows;
  ScratchBuffer<double> pw(params ? static_cast<std::size_t>(nchunks * n) : 0, 0.0);
  ScratchBuffer<double> pb(params ? static_cast<std::size_t>(nchunks * n) : 0, 0.0);
  const auto body = detail::layer_norm_grad_rows_for<T>(cpu_isa());
  parallel_for(nchunks, 1, [&](int64_t c) {
    double* pwc = params ? pw.data() + c * n : nullptr;
    double* pbc = params ? pb.data() + c * n : nullptr;
    body(dy, x, mean, rstd, w, dx, pwc, pbc, c * chunk_rows, std::min(rows, (c + 1) * chunk_rows),
         n);
  });
  if (!params) return;
  for (int64_t i = 0; i < n; ++i) {
    double sw = 0, sb = 0;
    for (int64_t c = 0; c < nchunks; ++c) {
      sw += pw[c * n + i];
      sb += pb[c * n + i];
    }
    if (dw) dw[i] = T(sw);
    if (db) db[i] = T(sb);
  }
}

}  // namespace ember::backend::cpu
