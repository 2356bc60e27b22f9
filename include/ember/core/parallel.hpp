// ember/core/parallel.hpp — the threading and index helpers every layer may use: parallel loops
// over OpenMP threads with a grain size, and the row-major walk over up to three strided arrays.
//
// They live in core (not in the CPU backend) because host code above the kernels needs them too:
// the tensor layer's host-side casts, the tokenizer's and the safetensors reader's loops. Kernels
// build on them (backend/cpu/strided.hpp).
#pragma once

#include <cstdint>

#include <ember/core/shape.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember {

/// Work below this many elements runs on one thread: a parallel region costs microseconds.
inline constexpr int64_t kParallelGrain = 32768;

/// Calls `f(i)` for i in [0, n), in parallel over OpenMP threads when n is large.
template <class F>
inline void parallel_for(int64_t n, int64_t grain, F&& f) {
#ifdef _OPENMP
  if (n >= 2 * grain && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) f(i);
}

/// Calls `f(begin, end)` on contiguous chunks of [0, n), one per thread when n is large.
template <class F>
inline void parallel_chunks(int64_t n, int64_t grain, F&& f) {
#ifdef _OPENMP
  int nt = omp_get_max_threads();
  if (n >= 2 * grain && nt > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(nt)
    {
      int t = omp_get_thread_num(), T = omp_get_num_threads();
      int64_t b = n * t / T, e = n * (t + 1) / T;
      if (b < e) f(b, e);
    }
    return;
  }
#endif
  if (n > 0) f(int64_t(0), n);
}

/// Walks `shape` in row-major order; for each element calls `f(offsets...)` with the element
/// offset of each operand (in elements, per its own strides). N operands, N in 1..3.
template <int N, class F>
inline void strided_walk(const Shape& shape, const Shape* const strides[N], F&& f) {
  const int nd = shape.size();
  for (int i = 0; i < nd; ++i)
    if (shape[i] == 0) return;
  if (nd == 0) {
    int64_t off[N] = {};
    if constexpr (N == 1) f(off[0]);
    if constexpr (N == 2) f(off[0], off[1]);
    if constexpr (N == 3) f(off[0], off[1], off[2]);
    return;
  }
  const int64_t inner = shape[nd - 1];
  int64_t inner_stride[N];
  for (int k = 0; k < N; ++k) inner_stride[k] = (*strides[k])[nd - 1];
  int64_t outer = shape.numel() / inner;
  int64_t idx[Shape::kMaxDims] = {};
  int64_t base[N] = {};
  for (int64_t o = 0; o < outer; ++o) {
    if constexpr (N == 1) {
      for (int64_t j = 0; j < inner; ++j) f(base[0] + j * inner_stride[0]);
    } else if constexpr (N == 2) {
      for (int64_t j = 0; j < inner; ++j)
        f(base[0] + j * inner_stride[0], base[1] + j * inner_stride[1]);
    } else {
      for (int64_t j = 0; j < inner; ++j)
        f(base[0] + j * inner_stride[0], base[1] + j * inner_stride[1],
          base[2] + j * inner_stride[2]);
    }
    // Advance the outer multi-index (dims nd-2 .. 0) like an odometer.
    for (int d = nd - 2; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        for (int k = 0; k < N; ++k) base[k] += (*strides[k])[d];
        break;
      }
      for (int k = 0; k < N; ++k) base[k] -= (*strides[k])[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}
}  // namespace ember
