// ember/backend/cuda/layer_norm.cuh — CUDA kernels for layer normalization over the rows of a
// contiguous [rows, n] array, forward and backward. The math is backend/cpu/layer_norm.hpp's:
//
//   μ = (1/n) Σ x_i,  σ² = (1/n) Σ (x_i − μ)²  (biased, two passes, in double),  rstd = 1/√(σ² + eps)
//   y_i = (x_i − μ)·rstd·w_i + b_i                      (mean[rows], rstd[rows] kept, in double)
//   dx_i = rstd·(gw_i − mean(gw) − x̂_i·mean(gw ⊙ x̂)),  gw = dy ⊙ w
//   dw_i = Σ_rows dy_i·x̂_i,   db_i = Σ_rows dy_i
//
// Forward and dx: one block per row; the row sums are block reductions in double (the two-pass
// variance, as the CPU: E[x²] − E[x]² cancels catastrophically when |μ| ≫ σ).
//
// dw, db are column sums over all rows. Atomics would make them depend on the order in which
// blocks finish; instead a two-stage reduction: stage 1 gives each thread one column and a fixed
// chunk of rows (neighbouring threads read neighbouring columns: coalesced) and writes a partial
// sum in double to scratch [chunks, n]; stage 2 adds each column's partials in chunk order. The
// chunking depends on the shape only, so dw and db are deterministic.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <ember/backend/cuda/allocator.cuh>
#include <ember/backend/cuda/check.cuh>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/stream.cuh>

namespace ember::backend::cuda {

namespace kernel {

template <class T>
__global__ void layer_norm_forward(const T* x, const T* w, const T* b, T* y, double* mean,
                                   double* rstd, int64_t rows, int64_t n, double eps) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    double s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += double(xr[i]);
    s = detail::block_reduce(s, detail::SumOp{}, 0.0);
    const double mu = s / double(n);
    double m2 = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const double d = double(xr[i]) - mu;
      m2 += d * d;
    }
    m2 = detail::block_reduce(m2, detail::SumOp{}, 0.0);
    const double rs = 1.0 / ::sqrt(m2 / double(n) + eps);
    if (threadIdx.x == 0) {
      mean[r] = mu;
      rstd[r] = rs;
    }
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      double v = (double(xr[i]) - mu) * rs;
      if (w) v = v * double(w[i]);
      if (b) v = v + double(b[i]);
      yr[i] = T(v);
    }
  }
}

/// Block per row: dx.
template <class T>
__global__ void layer_norm_backward_dx(const T* dy, const T* x, const double* mean,
                                       const double* rstd, const T* w, T* dx, int64_t rows,
                                       int64_t n) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* gr = dy + r * n;
    const T* xr = x + r * n;
    T* dr = dx + r * n;
    const double mu = mean[r], rs = rstd[r];
    double a = 0, bsum = 0;  // Σ gw, Σ gw·x̂
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const double gw = double(gr[i]) * (w ? double(w[i]) : 1.0);
      a += gw;
      bsum += gw * (double(xr[i]) - mu) * rs;
    }
    a = detail::block_reduce(a, detail::SumOp{}, 0.0);
    bsum = detail::block_reduce(bsum, detail::SumOp{}, 0.0);
    const double ma = a / double(n), mb = bsum / double(n);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const double gw = double(gr[i]) * (w ? double(w[i]) : 1.0);
      const double xh = (double(xr[i]) - mu) * rs;
      dr[i] = T(rs * (gw - ma - xh * mb));
    }
  }
}

/// Stage 1 of dw/db: thread (column j, chunk c) sums rows [c·chunk_rows, ...) into
/// pw[c·n + j] (Σ dy·x̂) and pb[c·n + j] (Σ dy).
template <class T>
__global__ void layer_norm_backward_params(const T* dy, const T* x, const double* mean,
                                           const double* rstd, int64_t rows, int64_t n,
                                           int64_t chunk_rows, double* pw, double* pb) {
  const int64_t c = blockIdx.y;
  const int64_t r0 = c * chunk_rows;
  const int64_t r1 = r0 + chunk_rows < rows ? r0 + chunk_rows : rows;
  for (int64_t j = detail::grid_start(); j < n; j += detail::grid_step()) {
    double sw = 0, sb = 0;
    for (int64_t r = r0; r < r1; ++r) {
      const double g = double(dy[r * n + j]);
      sw += g * ((double(x[r * n + j]) - mean[r]) * rstd[r]);
      sb += g;
    }
    pw[c * n + j] = sw;
    pb[c * n + j] = sb;
  }
}

/// Stage 2: dw[j], db[j] = the chunk partials of column j added in chunk order.
template <class T>
__global__ void layer_norm_backward_params_finish(const double* pw, const double* pb,
                                                  int64_t chunks, int64_t n, T* dw, T* db) {
  for (int64_t j = detail::grid_start(); j < n; j += detail::grid_step()) {
    double sw = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sw += pw[c * n + j];
      sb += pb[c * n + j];
    }
    if (dw) dw[j] = T(sw);
    if (db) db[j] = T(sb);
  }
}

}  // namespace kernel

/// y = layer_norm(x) per row of contiguous [rows, n] x; w, b ([n]) may be null; writes
/// mean[rows] and rstd[rows].
template <class T>
inline void layer_norm_forward(const T* x, const T* w, const T* b, T* y, double* mean,
                               double* rstd, int64_t rows, int64_t n, double eps) {
  if (rows == 0 || n == 0) return;
  kernel::layer_norm_forward<T>
      <<<detail::grid_for_rows(rows), detail::row_threads(n), 0, current_stream()>>>(
          x, w, b, y, mean, rstd, rows, n, eps);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// Gradients of layer_norm; writes whichever of dx [rows, n], dw [n], db [n] is non-null
/// (dw, db are written, not accumulated into).
template <class T>
inline void layer_norm_backward(const T* dy, const T* x, const double* mean, const double* rstd,
                                const T* w, T* dx, T* dw, T* db, int64_t rows, int64_t n) {
  if (n == 0) return;
  cudaStream_t stream = current_stream();
  if (dx && rows > 0) {
    kernel::layer_norm_backward_dx<T>
        <<<detail::grid_for_rows(rows), detail::row_threads(n), 0, stream>>>(dy, x, mean, rstd, w,
                                                                           dx, rows, n);
    EMBER_CUDA_CHECK_LAUNCH();
  }
  if (!dw && !db) return;
  // At least 32 rows per chunk, at most 256 chunks (grid.y), set by the shape alone.
  const int64_t chunk_rows = std::max<int64_t>(32, (rows + 255) / 256);
  const int64_t chunks = rows == 0 ? 1 : (rows + chunk_rows - 1) / chunk_rows;
  DeviceBuffer<double> partial(static_cast<std::size_t>(2 * chunks * n));
  double* pw = partial.data();
  double* pb = partial.data() + chunks * n;
  const dim3 grid(detail::grid_for(n), static_cast<unsigned>(chunks));
  kernel::layer_norm_backward_params<T><<<grid, detail::kThreads, 0, stream>>>(
      dy, x, mean, rstd, rows, n, chunk_rows, pw, pb);
  EMBER_CUDA_CHECK_LAUNCH();
  kernel::layer_norm_backward_params_finish<T><<<detail::grid_for(n), detail::kThreads, 0, stream>>>(
      pw, pb, chunks, n, dw, db);
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace ember::backend::cuda
