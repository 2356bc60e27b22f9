// ember/backend/cpu/strided.hpp — the loops that walk up to three strided N-d arrays in lockstep.
//
// Every elementwise kernel (copy, cast, arithmetic with broadcasting) is "for each index of the
// output shape, read the inputs at their strides, write the output". A broadcast input simply
// has stride 0 along the stretched dims. The walk is row-major; the innermost dim is a plain
// loop with constant strides so the compiler can vectorize it when the strides are 1. When all
// operands are contiguous the whole thing collapses to one flat loop.
//
// Kernels see pointers, sizes and strides only (never Tensor<T>), and trust their callers. The
// walk itself (strided_walk) and the OpenMP helpers live in core/parallel.hpp.
#pragma once

#include <cstdint>

#include <ember/backend/types.hpp>
#include <ember/core/parallel.hpp>
#include <ember/core/shape.hpp>

namespace ember::backend::cpu {

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
