// ember/backend/cuda/reduce.cuh — CUDA reductions: sums over any set of dims (sum, mean, the
// reverse of broadcasting, bias gradients), max/argmax along one dim, and the Σ|x|^p / max|x|
// behind clip_grad_norm_. Semantics as backend/cpu/reduce.hpp and backend/cpu/optimizer.hpp.
//
// Sums (`reduce_sum`). As on the CPU, the problem is first described by its kept dims (in output
// order) and its reduced dims, size-1 dims dropped and contiguous neighbours merged, and every
// sum accumulates in double. Two parallel shapes cover the layouts met in practice:
//   * block per output ("row"): the threads of a block walk the output's reduced elements and
//     combine their sums with block_reduce; right when the reduced elements are contiguous
//     (sum over the last dim);
//   * thread per output ("column"): each thread sums its output's elements in order; right when
//     neighbouring outputs are neighbours in memory (sum over the batch dim, a bias gradient:
//     a warp then reads 32 consecutive elements per step) or when each output sums few elements.
// Long reductions with few outputs are split into P chunks per output: partial sums go to a
// scratch buffer [P, K] and a second kernel adds each output's P partials in chunk order.
// P and every launch shape depend on the problem's sizes only, so a sum has the same bits on
// every run and every GPU model (ARCHITECTURE.md, decision 6) — no atomics anywhere.
//
// Max along a dim (`max_along`): the first maximal index, a NaN counting as maximal (the first
// NaN wins), exactly `cpu::max_takes`. A parallel reduction cannot rely on visiting elements in
// order, so candidates are compared as (value, index) pairs under a total order that selects
// exactly what the sequential scan selects: any NaN beats any number, lower index breaks ties.
//
// Norms (`norm_pow`): Σ|x|^p in double (p = 1, 2 exactly; general p through pow), or max|x| for
// p = +∞ (NaN propagates), over fixed chunks combined in order; the result is copied to the host,
// which synchronizes the stream.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <ember/backend/cuda/allocator.cuh>
#include <ember/backend/cuda/check.cuh>
#include <ember/backend/device_runtime.hpp>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/stream.cuh>

namespace ember::backend::cuda {

namespace detail {

/// The geometry of a sum: K outputs over kept dims (row-major), R reduced elements each.
struct ReduceGeom {
  int nk = 0, nr = 0;
  int64_t ksz[kMaxDims] = {}, kst[kMaxDims] = {};  // kept sizes / input strides (output order)
  int64_t rsz[kMaxDims] = {}, rst[kMaxDims] = {};  // reduced sizes / input strides
  int64_t K = 1, R = 1;

  /// Input offset of the first element of output o.
  __host__ __device__ __forceinline__ int64_t kept_offset(int64_t o) const { return offset(o, nk, ksz, kst); }
  /// Offset of reduced element r relative to its output's first element.
  __host__ __device__ __forceinline__ int64_t red_offset(int64_t r) const { return offset(r, nr, rsz, rst); }

  __host__ __device__ __forceinline__ static int64_t offset(int64_t i, int nd, const int64_t* sz,
                                                   const int64_t* st) {
    int64_t off = 0;
    for (int d = nd - 1; d > 0; --d) {
      off += (i % sz[d]) * st[d];
      i /= sz[d];
    }
    return nd > 0 ? off + i * st[0] : off;
  }
};

/// Appends (size, stride) to a dim list, merging with the previous entry when contiguous.
inline void push_merged(int& nd, int64_t* sz, int64_t* st, int64_t size, int64_t stride) {
  if (nd > 0 && st[nd - 1] == stride * size) {
    sz[nd - 1] *= size;
    st[nd - 1] = stride;
  } else {
    sz[nd] = size;
    st[nd] = stride;
    ++nd;
  }
}

/// The plan of reducing the dims of `xl` whose bit is set in `mask` (as cpu::make_reduce_plan).
inline ReduceGeom make_reduce_geom(const Layout& xl, uint32_t mask) {
  ReduceGeom g;
  int order[kMaxDims];
  int nr = 0;
  for (int d = 0; d < xl.ndim; ++d) {
    if (mask & (1u << d)) {
      g.R *= xl.sizes[d];
      if (xl.sizes[d] != 1) order[nr++] = d;
    } else {
      g.K *= xl.sizes[d];
      if (xl.sizes[d] != 1) push_merged(g.nk, g.ksz, g.kst, xl.sizes[d], xl.strides[d]);
    }
  }
  // The summation order is free: walk the reduced dims outermost (largest stride) first.
  std::stable_sort(order, order + nr, [&](int a, int b) { return xl.strides[a] > xl.strides[b]; });
  for (int i = 0; i < nr; ++i)
    push_merged(g.nr, g.rsz, g.rst, xl.sizes[order[i]], xl.strides[order[i]]);
  return g;
}

}  // namespace detail

namespace kernel {

/// Block per output: sums output o's reduced elements of chunk blockIdx.y (of P) into
/// dst[chunk·K + o], or out[o] = T(scale·sum) when P == 1.
template <class T>
__global__ void reduce_rows(const T* x, detail::ReduceGeom g, int64_t P, double scale, T* out,
                            double* partial) {
  const int64_t p = blockIdx.y;
  const int64_t r0 = p * g.R / P, r1 = (p + 1) * g.R / P;
  for (int64_t o = blockIdx.x; o < g.K; o += gridDim.x) {
    const T* base = x + g.kept_offset(o);
    double acc = 0;
    for (int64_t r = r0 + threadIdx.x; r < r1; r += blockDim.x) acc += double(base[g.red_offset(r)]);
    acc = detail::block_reduce(acc, detail::SumOp{}, 0.0);
    if (threadIdx.x == 0) {
      if (P == 1)
        out[o] = T(acc * scale);
      else
        partial[p * g.K + o] = acc;
    }
  }
}

/// Thread per output: as reduce_rows, each thread summing its output's chunk in order.
template <class T>
__global__ void reduce_columns(const T* x, detail::ReduceGeom g, int64_t P, double scale, T* out,
                               double* partial) {
  const int64_t p = blockIdx.y;
  const int64_t r0 = p * g.R / P, r1 = (p + 1) * g.R / P;
  for (int64_t o = detail::grid_start(); o < g.K; o += detail::grid_step()) {
    const T* base = x + g.kept_offset(o);
    double acc = 0;
    for (int64_t r = r0; r < r1; ++r) acc += double(base[g.red_offset(r)]);
    if (P == 1)
      out[o] = T(acc * scale);
    else
      partial[p * g.K + o] = acc;
  }
}

/// out[o] = T(scale · Σ_p partial[p·K + o]), the partials added in chunk order.
template <class T>
__global__ void reduce_finish(const double* partial, int64_t K, int64_t P, double scale, T* out) {
  for (int64_t o = detail::grid_start(); o < K; o += detail::grid_step()) {
    double acc = 0;
    for (int64_t p = 0; p < P; ++p) acc += partial[p * K + o];
    out[o] = T(acc * scale);
  }
}

/// True when candidate (v, i) should replace (bv, bi): the order that makes the first NaN, else
/// the first maximum, win (see the header comment).
template <class T>
__device__ __forceinline__ bool max_better(T v, int64_t i, T bv, int64_t bi) {
  const bool vn = v != v, bn = bv != bv;
  if (vn || bn) return vn && (!bn || i < bi);
  return v > bv || (v == bv && i < bi);
}

/// inner == 1: block per row of n, (value, index) reduced across the block.
template <class T>
__global__ void max_along_rows(const T* x, int64_t outer, int64_t n, T* values, int64_t* indices) {
  __shared__ T sv[32];
  __shared__ int64_t si[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * n;
    T bv = row[0];
    int64_t bi = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
      if (max_better(row[i], i, bv, bi)) {
        bv = row[i];
        bi = i;
      }
    for (int off = 16; off > 0; off >>= 1) {
      const T v = __shfl_xor_sync(0xffffffffu, bv, off);
      const int64_t i = __shfl_xor_sync(0xffffffffu, bi, off);
      if (max_better(v, i, bv, bi)) {
        bv = v;
        bi = i;
      }
    }
    __syncthreads();  // the previous row's readers are done
    if (lane == 0) {
      sv[warp] = bv;
      si[warp] = bi;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int w = 1; w < nwarps; ++w)
        if (max_better(sv[w], si[w], bv, bi)) {
          bv = sv[w];
          bi = si[w];
        }
      if (values) values[o] = bv;
      if (indices) indices[o] = bi;
    }
  }
}

/// inner > 1: thread per output column (o, j), scanning the n entries in order as the CPU.
template <class T>
__global__ void max_along_columns(const T* x, int64_t outer, int64_t n, int64_t inner, T* values,
                                  int64_t* indices) {
  const int64_t total = outer * inner;
  for (int64_t c = detail::grid_start(); c < total; c += detail::grid_step()) {
    const int64_t o = c / inner, j = c % inner;
    const T* base = x + o * n * inner + j;
    T best = base[0];
    int64_t bi = 0;
    for (int64_t i = 1; i < n; ++i) {
      const T v = base[i * inner];
      if (v > best || (v != v && best == best)) {  // cpu::max_takes
        best = v;
        bi = i;
      }
    }
    if (values) values[c] = best;
    if (indices) indices[c] = bi;
  }
}

/// Norm modes of norm_pow's kernels.
enum NormMode : int { kNormL1 = 0, kNormL2 = 1, kNormGeneral = 2, kNormMax = 3 };

/// |a|^p of one element, in double, as cpu::sum_abs_pow.
__device__ __forceinline__ double norm_term(double a, int mode, double p) {
  a = ::fabs(a);
  return mode == kNormL2 ? a * a : mode == kNormGeneral ? ::pow(a, p) : a;
}

/// max that propagates NaN (cpu::max_abs): any NaN operand wins.
struct NanMaxOp {
  __device__ __forceinline__ double operator()(double a, double b) const {
    if (a != a) return a;
    if (b != b) return b;
    return a < b ? b : a;
  }
};

/// The whole block: Σ|x_i|^p (or max|x_i|) over i in [lo, hi), in double, in a fixed order;
/// the result is valid in thread 0.
template <class T>
__device__ double norm_block_partial(const T* x, int64_t lo, int64_t hi, int mode, double p) {
  double acc = 0;
  if (mode == kNormMax) {
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x)
      acc = NanMaxOp{}(acc, ::fabs(double(x[i])));
    return detail::block_reduce(acc, NanMaxOp{}, 0.0);
  }
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x)
    acc += norm_term(double(x[i]), mode, p);
  return detail::block_reduce(acc, detail::SumOp{}, 0.0);
}

/// Block b reduces elements [b·chunk, (b+1)·chunk) into partial[b].
template <class T>
__global__ void norm_partial(const T* x, int64_t n, int64_t chunk, int mode, double p,
                             double* partial) {
  const int64_t lo = int64_t(blockIdx.x) * chunk;
  const int64_t hi = lo + chunk < n ? lo + chunk : n;
  const double acc = norm_block_partial(x, lo, hi, mode, p);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

/// One block: result[0] = the partials combined (in a fixed order). (A template only so that
/// the header may be included by several translation units.)
template <int = 0>
__global__ void norm_finish(const double* partial, int64_t nb, int mode, double* result) {
  double acc = 0;
  if (mode == kNormMax) {
    for (int64_t b = threadIdx.x; b < nb; b += blockDim.x) acc = NanMaxOp{}(acc, partial[b]);
    acc = detail::block_reduce(acc, NanMaxOp{}, 0.0);
  } else {
    for (int64_t b = threadIdx.x; b < nb; b += blockDim.x) acc += partial[b];
    acc = detail::block_reduce(acc, detail::SumOp{}, 0.0);
  }
  if (threadIdx.x == 0) result[0] = acc;
}

}  // namespace kernel

/// out[o] = T(scale · Σ x) over the dims whose bit is set in `reduce_mask`, accumulated in
/// double; out is contiguous row-major over the kept dims (see the header comment).
template <class T>
inline void reduce_sum(const T* x, const Layout& xl, uint32_t reduce_mask, double scale, T* out) {
  const detail::ReduceGeom g = detail::make_reduce_geom(xl, reduce_mask);
  const int64_t K = g.K, R = g.R;
  if (K == 0) return;
  cudaStream_t stream = current_stream();
  // Column order when neighbouring outputs are neighbours in memory and the reduced elements are
  // not (as the CPU chooses), or when each output sums so few elements that a block would idle.
  const bool outputs_dense = g.nk > 0 && g.kst[g.nk - 1] == 1;
  const bool reduced_dense = g.nr > 0 && g.rst[g.nr - 1] == 1;
  const bool column = R <= 32 || (outputs_dense && !reduced_dense);
  // Chunks per output: enough parallel work for few outputs, decided by the sizes alone.
  int64_t P = 1;
  if (column) {
    // ~64K threads in all, each summing at least 64 elements.
    const int64_t want = (65536 + K - 1) / K, most = R / 64;
    P = std::max<int64_t>(1, std::min<int64_t>({want, most, 1024}));
  } else {
    // ~1024 blocks in all, each summing at least 8192 elements.
    const int64_t want = (1024 + K - 1) / K, most = R / 8192;
    P = std::max<int64_t>(1, std::min<int64_t>({want, most, 1024}));
  }
  DeviceBuffer<double> partial(P > 1 ? static_cast<std::size_t>(P * K) : 0);
  if (column) {
    const dim3 grid(detail::grid_for(K), static_cast<unsigned>(P));
    kernel::reduce_columns<T><<<grid, detail::kThreads, 0, stream>>>(x, g, P, scale, out,
                                                                      partial.data());
  } else {
    const dim3 grid(detail::grid_for_rows(K), static_cast<unsigned>(P));
    const int threads = detail::row_threads(R / P + 1);
    kernel::reduce_rows<T><<<grid, threads, 0, stream>>>(x, g, P, scale, out, partial.data());
  }
  EMBER_CUDA_CHECK_LAUNCH();
  if (P > 1) {
    kernel::reduce_finish<T><<<detail::grid_for(K), detail::kThreads, 0, stream>>>(
        partial.data(), K, P, scale, out);
    EMBER_CUDA_CHECK_LAUNCH();
  }
}

/// Max along the middle dim of contiguous [outer, n, inner] (n ≥ 1): values and/or indices
/// (either may be null) of the first maximal entry, a NaN counting as maximal.
template <class T>
inline void max_along(const T* x, int64_t outer, int64_t n, int64_t inner, T* values,
                      int64_t* indices) {
  if (outer == 0 || inner == 0 || n == 0) return;
  cudaStream_t stream = current_stream();
  if (inner == 1) {
    kernel::max_along_rows<T><<<detail::grid_for_rows(outer), detail::row_threads(n), 0, stream>>>(
        x, outer, n, values, indices);
  } else {
    kernel::max_along_columns<T><<<detail::grid_for(outer * inner), detail::kThreads, 0, stream>>>(
        x, outer, n, inner, values, indices);
  }
  EMBER_CUDA_CHECK_LAUNCH();
}

namespace detail {
/// The kernel::kNorm* mode of Σ|x|^p: max for p = +∞, exact sums for p = 1 and 2, pow otherwise.
inline int norm_mode(double p) {
  return std::isinf(p) && p > 0 ? kernel::kNormMax
         : p == 2.0             ? kernel::kNormL2
         : p == 1.0             ? kernel::kNormL1
                                : kernel::kNormGeneral;
}
/// Combines the `count` partials partial[0, count) in a fixed order into partial[count]
/// (kernel::norm_finish) and returns that value to the host: one synchronization of `stream`.
inline double finish_norm(double* partial, int64_t count, int mode, cudaStream_t stream) {
  kernel::norm_finish<><<<1, 1024, 0, stream>>>(partial, count, mode, partial + count);
  EMBER_CUDA_CHECK_LAUNCH();
  double result = 0;
  EMBER_CUDA_CHECK(cudaMemcpyAsync(&result, partial + count, sizeof(double),
                                   cudaMemcpyDeviceToHost, stream));
  EMBER_CUDA_CHECK(cudaStreamSynchronize(stream));
  return result;
}
}  // namespace detail

/// Σ |x|^p over n contiguous elements in double (p = 1, 2 exact; general p through pow), or
/// max |x| when p is +∞ (NaN propagates; 0 for n = 0). Returns to the host: synchronizes.
template <class T>
inline double norm_pow(const T* x, int64_t n, double p) {
  if (n == 0) return 0.0;
  const int mode = detail::norm_mode(p);
  constexpr int64_t kChunk = 16384;
  const int64_t nb = (n + kChunk - 1) / kChunk;
  cudaStream_t stream = current_stream();
  DeviceBuffer<double> partial(static_cast<std::size_t>(nb + 1));  // nb partials + the result
  kernel::norm_partial<T><<<static_cast<unsigned>(nb), detail::kThreads, 0, stream>>>(
      x, n, kChunk, mode, p, partial.data());
  EMBER_CUDA_CHECK_LAUNCH();
  return detail::finish_norm(partial.data(), nb, mode, stream);
}

}  // namespace ember::backend::cuda
