// ember/backend/cpu/strided.hpp — the loops that walk up to three strided N-d arrays in lockstep.
//
// Every elementwise kernel (copy, cast, arithmetic with broadcasting) is "for each index of the
// output shape, read the inputs at their strides, write the output". A broadcast input simply
// has stride 0 along the stretched dims. The walk is row-major; the innermost dim is a plain
// loop with constant strides so the compiler can vectorize it when the strides are 1. When all
// operands are contiguous the whole thing collapses to one flat loop.
//
// Kernels see pointers, sizes and strides only (never Tensor<T>), and trust their callers.
#pragma once

#include <cstdint>

#include <ember/core/shape.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember::backend::cpu {

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

/// dst[i] = src[i] (with conversion) for strided src/dst of the same shape.
template <class To, class From, class Conv>
inline void copy_strided(const Shape& shape, const From* src, const Shape& src_strides, To* dst,
                         const Shape& dst_strides, Conv conv) {
  const Shape* st[2] = {&src_strides, &dst_strides};
  strided_walk<2>(shape, st, [&](int64_t a, int64_t b) { dst[b] = conv(src[a]); });
}

/// out = f(a, b) elementwise; `a`/`b` strides already broadcast to `shape` (0 where stretched),
/// `out` contiguous. Flat fast path when both inputs are contiguous.
template <class T, class U, class O, class F>
inline void binary_kernel(const Shape& shape, const T* a, const Shape& as, bool a_contig, const U* b,
                          const Shape& bs, bool b_contig, O* out, F f) {
  int64_t n = shape.numel();
  if (a_contig && b_contig) {
    parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) out[i] = f(a[i], b[i]);
    });
    return;
  }
  Shape os = contiguous_strides(shape);
  const Shape* st[3] = {&as, &bs, &os};
  strided_walk<3>(shape, st, [&](int64_t ia, int64_t ib, int64_t io) { out[io] = f(a[ia], b[ib]); });
}

/// out = f(a) elementwise; `out` contiguous.
template <class T, class O, class F>
inline void unary_kernel(const Shape& shape, const T* a, const Shape& as, bool a_contig, O* out,
                         F f) {
  int64_t n = shape.numel();
  if (a_contig) {
    parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) out[i] = f(a[i]);
    });
    return;
  }
  Shape os = contiguous_strides(shape);
  const Shape* st[2] = {&as, &os};
  strided_walk<2>(shape, st, [&](int64_t ia, int64_t io) { out[io] = f(a[ia]); });
}

/// Sums `in` (contiguous, shape `in_shape`) into `out` (contiguous, shape `out_shape`, which is
/// `in_shape` with some dims reduced to 1, same rank): the reverse of broadcasting.
template <class T>
inline void sum_to_kernel(const Shape& in_shape, const T* in, const Shape& out_shape, T* out) {
  int64_t on = out_shape.numel();
  for (int64_t i = 0; i < on; ++i) out[i] = T(0);
  Shape os = contiguous_strides(out_shape);
  for (int d = 0; d < out_shape.size(); ++d)
    if (out_shape[d] == 1) os[d] = 0;
  Shape is = contiguous_strides(in_shape);
  const Shape* st[2] = {&is, &os};
  strided_walk<2>(in_shape, st, [&](int64_t ii, int64_t io) { out[io] = T(out[io] + in[ii]); });
}

}  // namespace ember::backend::cpu
