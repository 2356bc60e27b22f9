// ember/backend/cuda/multi_tensor.cuh — multi-tensor launches: one kernel over many tensors
// (PyTorch's `multi_tensor_apply`, apex's fused optimizers). Three of them:
//   * adam_update_multi    the Adam/AdamW step of all the parameters of a group in one launch;
//   * norm_pow_multi       Σ|g|^p (or max|g|) over all gradients in one reduction and one
//                          synchronization (clip_grad_norm_);
//   * scale_inplace_multi  g ← g·s for all gradients in one launch (clip_grad_norm_).
// BERT-base has about 200 parameter tensors, most of them small (biases and LayerNorm weights
// of 768 elements): one launch per tensor is ~200 launches per step for a few microseconds of
// work each, and the per-gradient norm was one synchronization per gradient.
//
// Work split. Each tensor is cut into chunks of kChunkElems elements (ceil(n / kChunkElems) of
// them; empty tensors are left out) and each thread block takes one chunk. A launch carries the
// prefix sums of its tensors' chunk counts, `first_chunk`, and block b works on the tensor t with
// first_chunk[t] ≤ b < first_chunk[t + 1] (a binary search over at most kMaxLaunchTensors
// entries, nothing next to the 16384 elements it then processes), chunk b − first_chunk[t].
//
// Where the tables live: in the kernel arguments (`MultiTensorArgs`, passed by value), as
// PyTorch does. The alternative, a table in device memory, must be uploaded whenever a pointer
// changes — and gradient pointers do change between steps (zero_grad frees them; the next
// backward gets blocks from the caching allocator in whatever order its free lists give) — and
// an upload from pageable memory may synchronize the host with the stream. Kernel arguments
// travel with the launch: no upload, no allocation, no state to keep valid. They are limited to
// 4 KB before CUDA 12.1 and to 32764 bytes from 12.1 on, so a launch takes at most
// kMaxLaunchTensors tensors (64 / 512) and a longer list is split over several launches: with
// CUDA ≥ 12.1 one launch covers a BERT-base parameter group (at most ~130 tensors).
//
// Results. Each element's Adam update is detail::adam_element (optimizer.cuh), the arithmetic
// of the per-tensor kernel: bit-identical to it and to the CPU. The norm sums each chunk in
// double in a fixed tree (block_reduce) into its own slot of a partial-sum buffer (chunks are
// numbered across launches in tensor order), then one block adds the partials in a fixed order
// (reduce.cuh's norm_finish): the same bits on every run, and no atomics.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include <cuda_runtime.h>

#include <ember/backend/cuda/allocator.cuh>
#include <ember/backend/cuda/check.cuh>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/types.hpp>
#include <ember/backend/cuda/optimizer.cuh>
#include <ember/backend/cuda/reduce.cuh>
#include <ember/backend/cuda/stream.cuh>

namespace ember::backend::cuda {

namespace detail {

/// Elements per chunk (one thread block each): 64 per thread at kThreads = 256. A multiple of
/// every Pack<T>::N, so a chunk of a 16-byte-aligned tensor starts 16-byte aligned.
inline constexpr int64_t kChunkElems = 16384;

/// Most tensors per launch: what fits in the kernel-argument space (see the header comment;
/// the Adam table is 48 bytes per tensor).
#if CUDART_VERSION >= 12010
inline constexpr int kMaxLaunchTensors = 512;  // ≤ 27 KB of the 32764 bytes
#else
inline constexpr int kMaxLaunchTensors = 64;  // ≤ 3.5 KB of the 4096 bytes
#endif

/// The tensors of one launch, passed by value as a kernel argument. Block b works on chunk
/// b − first_chunk[t] of tensors[t], for the t with first_chunk[t] ≤ b < first_chunk[t + 1].
template <class Entry>
struct MultiTensorArgs {
  int count;                                  // tensors in this launch (≥ 1, none empty)
  int32_t first_chunk[kMaxLaunchTensors + 1];  // prefix sums of the chunk counts
  Entry tensors[kMaxLaunchTensors];
};

// The largest argument list, the double Adam launch, must fit the limit of the header comment.
static_assert(sizeof(MultiTensorArgs<AdamTensor<double>>) + sizeof(AdamCoeffs<double>) <=
                  (CUDART_VERSION >= 12010 ? 32764 : 4096),
              "multi-tensor kernel arguments exceed the CUDA limit: lower kMaxLaunchTensors");

/// Number of chunks of a tensor of n elements.
inline int64_t num_chunks(int64_t n) { return (n + kChunkElems - 1) / kChunkElems; }

/// Calls `launch(args, blocks)` for consecutive runs of the non-empty entries of
/// entries[0, count): at most kMaxLaunchTensors tensors and 2^31 − 1 chunks each, in order.
template <class Entry, class Launch>
inline void for_each_launch(const Entry* entries, int64_t count, Launch&& launch) {
  MultiTensorArgs<Entry> args;
  args.count = 0;
  args.first_chunk[0] = 0;
  int64_t chunks = 0;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t c = num_chunks(entries[i].numel);
    if (c == 0) continue;
    if (args.count == kMaxLaunchTensors || chunks + c > std::numeric_limits<int32_t>::max()) {
      launch(args, chunks);
      args.count = 0;
      chunks = 0;
    }
    args.tensors[args.count] = entries[i];
    chunks += c;
    args.first_chunk[++args.count] = static_cast<int32_t>(chunks);
  }
  if (args.count > 0) launch(args, chunks);
}

/// The tensor of block b: the largest t < args.count with args.first_chunk[t] ≤ b (the entries
/// strictly increase: no tensor is empty). Reads the argument in place (ptxas keeps it in the
/// parameter space: no stack frame).
template <class Entry>
__device__ __forceinline__ int tensor_of_block(const MultiTensorArgs<Entry>& args, int32_t b) {
  int lo = 0, hi = args.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (args.first_chunk[mid] <= b)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/// Block blockIdx.x's tensor entry and its elements [lo, hi).
template <class Entry>
__device__ __forceinline__ Entry block_chunk(const MultiTensorArgs<Entry>& args, int64_t& lo,
                                             int64_t& hi) {
  const int32_t b = static_cast<int32_t>(blockIdx.x);
  const int t = tensor_of_block(args, b);
  const Entry e = args.tensors[t];
  lo = int64_t(b - args.first_chunk[t]) * kChunkElems;
  hi = lo + kChunkElems < e.numel ? lo + kChunkElems : e.numel;
  return e;
}

__device__ __forceinline__ bool aligned16_device(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace detail

namespace kernel {

/// Block b updates its chunk with Adam/AdamW (coefficients c): 16-byte loads and stores when all
/// the tensor's buffers are 16-byte aligned (every block of the caching allocator is), then a
/// scalar loop for the rest. Every element goes through adam_element either way.
template <class T>
__global__ void adam_update_multi(detail::MultiTensorArgs<AdamTensor<T>> args,
                                  AdamCoeffs<T> c) {
  using P = detail::Pack<T>;
  int64_t lo, hi;
  const AdamTensor<T> t = detail::block_chunk(args, lo, hi);
  int64_t scalar_lo = lo;
  if (detail::aligned16_device(t.param) && detail::aligned16_device(t.grad) &&
      detail::aligned16_device(t.exp_avg) && detail::aligned16_device(t.exp_avg_sq) &&
      (!c.amsgrad || detail::aligned16_device(t.max_exp_avg_sq))) {
    // lo is a multiple of P::N (kChunkElems is), so element lo of each buffer is aligned.
    const int64_t nv = (hi - lo) / P::N;
    for (int64_t k = threadIdx.x; k < nv; k += blockDim.x) {
      const int64_t i = lo + k * P::N;
      P p = *reinterpret_cast<const P*>(t.param + i);
      const P g = *reinterpret_cast<const P*>(t.grad + i);
      P m = *reinterpret_cast<const P*>(t.exp_avg + i);
      P v = *reinterpret_cast<const P*>(t.exp_avg_sq + i);
      P vmax{};
      if (c.amsgrad) vmax = *reinterpret_cast<const P*>(t.max_exp_avg_sq + i);
#pragma unroll
      for (int j = 0; j < P::N; ++j)
        detail::adam_element(p.v[j], g.v[j], m.v[j], v.v[j], vmax.v[j], c);
      *reinterpret_cast<P*>(t.param + i) = p;
      *reinterpret_cast<P*>(t.exp_avg + i) = m;
      *reinterpret_cast<P*>(t.exp_avg_sq + i) = v;
      if (c.amsgrad) *reinterpret_cast<P*>(t.max_exp_avg_sq + i) = vmax;
    }
    scalar_lo = lo + nv * P::N;
  }
  for (int64_t i = scalar_lo + threadIdx.x; i < hi; i += blockDim.x) {
    T p = t.param[i], m = t.exp_avg[i], v = t.exp_avg_sq[i];
    T vmax = c.amsgrad ? t.max_exp_avg_sq[i] : T(0);
    detail::adam_element(p, t.grad[i], m, v, vmax, c);
    t.param[i] = p;
    t.exp_avg[i] = m;
    t.exp_avg_sq[i] = v;
    if (c.amsgrad) t.max_exp_avg_sq[i] = vmax;
  }
}

/// Block b: partial[b] = Σ|x|^p (or max|x|) over its chunk, in double (norm_partial's
/// arithmetic and modes, reduce.cuh). `partial` already points at this launch's first chunk.
template <class T>
__global__ void norm_partial_multi(detail::MultiTensorArgs<TensorSpan<T>> args, int mode,
                                   double p, double* partial) {
  int64_t lo, hi;
  const T* x = detail::block_chunk(args, lo, hi).data;
  const double acc = norm_block_partial(x, lo, hi, mode, p);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

/// Block b: x ← x·s over its chunk.
template <class T>
__global__ void scale_multi(detail::MultiTensorArgs<TensorSpan<T>> args, T s) {
  int64_t lo, hi;
  T* x = detail::block_chunk(args, lo, hi).data;
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) x[i] = detail::mul_rn(x[i], s);
}

}  // namespace kernel

/// Adam/AdamW over `count` tensors, each segment's tensors with its coefficients: one launch per
/// segment (more only past kMaxLaunchTensors tensors).
template <class T>
inline void adam_update_multi(const AdamTensor<T>* tensors, int64_t /*count*/,
                              const AdamSegment<T>* segments, int64_t num_segments) {
  using Args = detail::MultiTensorArgs<AdamTensor<T>>;
  cudaStream_t stream = current_stream();
  for (int64_t s = 0; s < num_segments; ++s) {
    const AdamSegment<T>& seg = segments[s];
    auto launch = [&](const Args& args, int64_t blocks) {
      kernel::adam_update_multi<T><<<static_cast<unsigned>(blocks), detail::kThreads, 0, stream>>>(
          args, seg.coeffs);
      EMBER_CUDA_CHECK_LAUNCH();
    };
    detail::for_each_launch(tensors + seg.begin, seg.end - seg.begin, launch);
  }
}

/// Σ|x|^p over all `count` tensors in double (p = 1, 2 exact; general p through pow), or max|x|
/// for p = +∞ (NaN propagates; 0 without elements). One reduction; synchronizes once.
template <class T>
inline double norm_pow_multi(const TensorSpan<T>* xs, int64_t count, double p) {
  int64_t total = 0;  // chunks over all tensors: one partial sum each
  for (int64_t i = 0; i < count; ++i) total += detail::num_chunks(xs[i].numel);
  if (total == 0) return 0.0;
  const int mode = detail::norm_mode(p);
  cudaStream_t stream = current_stream();
  DeviceBuffer<double> partial(static_cast<std::size_t>(total) + 1);  // + the result
  int64_t done = 0;  // chunks of the earlier launches
  auto launch = [&](const detail::MultiTensorArgs<TensorSpan<T>>& args, int64_t blocks) {
    kernel::norm_partial_multi<T><<<static_cast<unsigned>(blocks), detail::kThreads, 0, stream>>>(
        args, mode, p, partial.data() + done);
    EMBER_CUDA_CHECK_LAUNCH();
    done += blocks;
  };
  detail::for_each_launch(xs, count, launch);
  return detail::finish_norm(partial.data(), total, mode, stream);
}

/// x ← x·s for all `count` tensors (one launch up to kMaxLaunchTensors tensors).
template <class T>
inline void scale_inplace_multi(const TensorSpan<T>* xs, int64_t count, T s) {
  cudaStream_t stream = current_stream();
  auto launch = [&](const detail::MultiTensorArgs<TensorSpan<T>>& args, int64_t blocks) {
    kernel::scale_multi<T><<<static_cast<unsigned>(blocks), detail::kThreads, 0, stream>>>(args, s);
    EMBER_CUDA_CHECK_LAUNCH();
  };
  detail::for_each_launch(xs, count, launch);
}

}  // namespace ember::backend::cuda
