// ember/backend/cuda/launch.cuh — what every kernel of the backend shares: launch geometry,
// strided indexing, block reductions and the float/double overloads of the math functions.
//
// Launch geometry. Elementwise kernels use grid-stride loops (each thread handles elements i,
// i + gridDim·blockDim, ...) with 64-bit indices, so any n works with a capped grid; row kernels
// (softmax, LayerNorm, cross-entropy) put one block on a row and loop over rows the same way.
// Nothing is launched for n == 0 (a zero-sized grid is a launch error).
//
// Strided indexing. An operand is read through its Layout: linear index i of the (row-major,
// contiguous) output → multi-index → Σ idx_d·stride_d. Before launching, `make_indexer` removes
// size-1 dims and merges neighbouring dims that are contiguous with each other in *every*
// operand, so a contiguous tensor becomes 1-d (offset = i, no division at all) and a broadcast
// bias add [rows, n] + [n] stays 2-d whatever the rank it was written with.
//
// Reductions. `block_reduce` combines one value per thread in a fixed tree (warp butterflies,
// then the warp results), so a sum gives the same bits on every run for the same launch shape —
// and launch shapes here depend on the problem size only, never on the GPU model.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include <ember/backend/cuda/check.cuh>
#include <ember/backend/device_runtime.hpp>
#include <ember/backend/cuda/stream.cuh>

namespace ember::backend::cuda::detail {

// ---- launch geometry ----------------------------------------------------------------------------

/// Threads per block of the elementwise kernels.
inline constexpr int kThreads = 256;
/// Most blocks of a grid-stride launch: enough to fill any current GPU many times over.
inline constexpr int64_t kMaxBlocks = 65535 * 4;

/// Blocks for a grid-stride loop over n ≥ 1 items with `threads` threads per block.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < kMaxBlocks ? b : kMaxBlocks);
}

/// Blocks for a one-block-per-row launch over `rows` ≥ 1 rows (the kernel loops past the cap).
inline unsigned grid_for_rows(int64_t rows) {
  return static_cast<unsigned>(rows < kMaxBlocks ? rows : kMaxBlocks);
}

/// Threads for a block that works on one row of n elements: a multiple of 32 (block_reduce
/// needs whole warps), at most 256, no more than the row can use.
inline int row_threads(int64_t n) {
  int64_t t = (n + 31) / 32 * 32;
  if (t < 32) t = 32;
  return static_cast<int>(t < 256 ? t : 256);
}

/// First index and stride of a grid-stride loop, in 64 bits.
__device__ __forceinline__ int64_t grid_start() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_step() { return int64_t(blockDim.x) * gridDim.x; }

// ---- strided indexing ---------------------------------------------------------------------------

/// Offsets of K operands for each linear index of a row-major iteration space (see the header
/// comment). Passed by value to kernels.
template <int K>
struct StridedIndexer {
  int ndim = 0;
  bool contiguous = true;  // every operand is dense in iteration order: offset == i
  int64_t sizes[kMaxDims] = {};
  int64_t strides[K][kMaxDims] = {};

  __host__ __device__ __forceinline__ void get(int64_t i, int64_t (&off)[K]) const {
    for (int k = 0; k < K; ++k) off[k] = contiguous ? i : 0;
    if (contiguous) return;
    for (int d = ndim - 1; d > 0; --d) {
      const int64_t idx = i % sizes[d];
      i /= sizes[d];
      for (int k = 0; k < K; ++k) off[k] += idx * strides[k][d];
    }
    if (ndim > 0) {
      for (int k = 0; k < K; ++k) off[k] += i * strides[k][0];
    }
  }
};

/// Number of elements of a layout's sizes.
inline int64_t numel(const Layout& l) {
  int64_t n = 1;
  for (int d = 0; d < l.ndim; ++d) n *= l.sizes[d];
  return n;
}

/// The layout of a contiguous row-major array of `l`'s sizes.
inline Layout contiguous_layout(const Layout& l) {
  Layout c = l;
  int64_t s = 1;
  for (int d = l.ndim - 1; d >= 0; --d) {
    c.strides[d] = s;
    s *= l.sizes[d];
  }
  return c;
}

/// The indexer over `sizes.sizes` reading operand k at `ops[k]->strides`, with size-1 dims
/// dropped and contiguous neighbours merged (see the header comment).
template <int K>
inline StridedIndexer<K> make_indexer(const Layout& sizes, const Layout* const (&ops)[K]) {
  // Build innermost-first, then reverse.
  int64_t sz[kMaxDims];
  int64_t st[K][kMaxDims];
  int nd = 0;
  for (int d = sizes.ndim - 1; d >= 0; --d) {
    const int64_t s = sizes.sizes[d];
    if (s == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < K && merge; ++k)
      merge = ops[k]->strides[d] == st[k][nd - 1] * sz[nd - 1];
    if (merge) {
      sz[nd - 1] *= s;  // the merged dim keeps the inner stride
    } else {
      sz[nd] = s;
      for (int k = 0; k < K; ++k) st[k][nd] = ops[k]->strides[d];
      ++nd;
    }
  }
  StridedIndexer<K> ix;
  ix.ndim = nd;
  for (int d = 0; d < nd; ++d) {
    ix.sizes[d] = sz[nd - 1 - d];
    for (int k = 0; k < K; ++k) ix.strides[k][d] = st[k][nd - 1 - d];
  }
  ix.contiguous = nd == 0;
  if (nd == 1) {
    ix.contiguous = true;
    for (int k = 0; k < K; ++k) ix.contiguous = ix.contiguous && ix.strides[k][0] == 1;
  }
  return ix;
}

// ---- 16-byte vectors ----------------------------------------------------------------------------

/// 16 bytes of T (float4- / double2-sized), for vectorized loads and stores.
template <class T>
struct alignas(16) Pack {
  static constexpr int N = 16 / sizeof(T);
  T v[N];
};

/// True when `p` may be read and written as Pack<T> (16-byte aligned).
inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// ---- math on float and double -------------------------------------------------------------------
// Overloads that pick the single- or double-precision CUDA function from the argument type (the
// full-precision ones: erff, expf, ... unless the user compiles with --use_fast_math).

__device__ __forceinline__ float dexp(float x) { return ::expf(x); }
__device__ __forceinline__ double dexp(double x) { return ::exp(x); }
__device__ __forceinline__ float dlog(float x) { return ::logf(x); }
__device__ __forceinline__ double dlog(double x) { return ::log(x); }
__device__ __forceinline__ float dsqrt(float x) { return ::sqrtf(x); }
__device__ __forceinline__ double dsqrt(double x) { return ::sqrt(x); }
__device__ __forceinline__ float dtanh(float x) { return ::tanhf(x); }
__device__ __forceinline__ double dtanh(double x) { return ::tanh(x); }
__device__ __forceinline__ float derf(float x) { return ::erff(x); }
__device__ __forceinline__ double derf(double x) { return ::erf(x); }
__device__ __forceinline__ float dfabs(float x) { return ::fabsf(x); }
__device__ __forceinline__ double dfabs(double x) { return ::fabs(x); }

/// −∞ and a quiet NaN of T, in device code (std::numeric_limits is host-only without
/// --expt-relaxed-constexpr).
template <class T>
__device__ __forceinline__ T ninf();
template <>
__device__ __forceinline__ float ninf<float>() { return __int_as_float(static_cast<int>(0xff800000u)); }
template <>
__device__ __forceinline__ double ninf<double>() {
  return __longlong_as_double(static_cast<long long>(0xfff0000000000000ull));
}
template <class T>
__device__ __forceinline__ T qnan();
template <>
__device__ __forceinline__ float qnan<float>() { return __int_as_float(0x7fc00000); }
template <>
__device__ __forceinline__ double qnan<double>() { return __longlong_as_double(0x7ff8000000000000ll); }

// Correctly rounded operations that the compiler may not fuse into an FMA nor approximate (even
// under --use_fast_math): the optimizer kernels use them to round every operation as the CPU
// kernel does, so an update is bit-identical to the CPU's.
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double sqrt_rn(double a) { return __dsqrt_rn(a); }

// ---- reductions ---------------------------------------------------------------------------------

struct SumOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
/// max that ignores NaN (std::max(m, v) of a running maximum never takes a NaN v); on values
/// that are never NaN it is the ordinary, commutative max.
struct MaxOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a < b ? b : a; }
};

/// Reduces v over the 32 lanes of a warp; every lane gets the result.
template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

/// Reduces v over the whole block (blockDim.x a multiple of 32, every thread calling);
/// every thread gets the result. `identity` pads the missing warps. Safe to call repeatedly.
template <class T, class Op>
__device__ __forceinline__ T block_reduce(T v, Op op, T identity) {
  __shared__ T partial[32];
  v = warp_reduce(v, op);
  const int nwarps = blockDim.x >> 5;
  if (nwarps == 1) return v;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // readers of the previous call are done with `partial`
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < nwarps ? partial[lane] : identity;
  return warp_reduce(v, op);  // every warp reduces the same values: all threads get the result
}

}  // namespace ember::backend::cuda::detail
