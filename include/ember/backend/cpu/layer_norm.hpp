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
// Kernels trust their callers: pointers valid, arrays contiguous.
#pragma once

#include <ember/backend/cpu/strided.hpp>
#include <ember/core/storage.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace ember::backend::cpu {

/// y = layer_norm(x) per row of contiguous [rows, n] `x`; `w`, `b` ([n]) may be null; writes
/// mean[rows] and rstd[rows].
template <class T>
inline void layer_norm_forward(const T* x, const T* w, const T* b, T* y, double* mean, double* rstd,
                               int64_t rows, int64_t n, double eps) {
  if (n == 0) return;
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / n), [&](int64_t r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += double(xr[i]);
    const double mu = s / double(n);
    double m2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      double d = double(xr[i]) - mu;
      m2 += d * d;
    }
    const double rs = 1.0 / std::sqrt(m2 / double(n) + eps);
    mean[r] = mu;
    rstd[r] = rs;
    if (w && b) {
      for (int64_t i = 0; i < n; ++i)
        yr[i] = T((double(xr[i]) - mu) * rs * double(w[i]) + double(b[i]));
    } else if (w) {
      for (int64_t i = 0; i < n; ++i) yr[i] = T((double(xr[i]) - mu) * rs * double(w[i]));
    } else if (b) {
      for (int64_t i = 0; i < n; ++i) yr[i] = T((double(xr[i]) - mu) * rs + double(b[i]));
    } else {
      for (int64_t i = 0; i < n; ++i) yr[i] = T((double(xr[i]) - mu) * rs);
    }
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
  parallel_for(nchunks, 1, [&](int64_t c) {
    double* pwc = params ? pw.data() + c * n : nullptr;
    double* pbc = params ? pb.data() + c * n : nullptr;
    const int64_t r1 = std::min(rows, (c + 1) * chunk_rows);
    for (int64_t r = c * chunk_rows; r < r1; ++r) {
      const T* gr = dy + r * n;
      const T* xr = x + r * n;
      const double mu = mean[r], rs = rstd[r];
      if (dx) {
        double a = 0, bsum = 0;  // Σ gw, Σ gw·x̂
        for (int64_t i = 0; i < n; ++i) {
          double gw = double(gr[i]) * (w ? double(w[i]) : 1.0);
          a += gw;
          bsum += gw * (double(xr[i]) - mu) * rs;
        }
        const double ma = a / double(n), mb = bsum / double(n);
        T* dr = dx + r * n;
        for (int64_t i = 0; i < n; ++i) {
          double g = double(gr[i]);
          double gw = g * (w ? double(w[i]) : 1.0);
          double xh = (double(xr[i]) - mu) * rs;
          dr[i] = T(rs * (gw - ma - xh * mb));
          if (params) {
            pwc[i] += g * xh;
            pbc[i] += g;
          }
        }
      } else if (params) {
        for (int64_t i = 0; i < n; ++i) {
          double g = double(gr[i]);
          pwc[i] += g * (double(xr[i]) - mu) * rs;
          pbc[i] += g;
        }
      }
    }
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
