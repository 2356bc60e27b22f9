// ember/backend/cpu/dropout.hpp — the CPU kernels of inverted dropout and the one definition of
// which elements a (seed, offset, p) keeps, shared with the CUDA backend.
//
// The mask is a pure function of the Generator state, so the CPU and the GPU draw the same mask
// for the same seed and offset:
//   the op reserves B = ceil(n / 4) Philox blocks [base, base + B) from the Generator;
//   element i (row-major) reads word w = block(base + i / 4)[i % 4];
//   it is kept iff uniform(w) >= p, with uniform(w) = (w >> 8) / 2^24 (detail::uint_to_unit_float).
// The comparison is done exactly, in integers: uniform(w) >= p  <=>  (w >> 8) >= ceil(p · 2^24)
// (p · 2^24 is exact in double), so no float-vs-double rounding can make two backends disagree.
//
// Forward:  out[i] = keep[i] ? x[i] · scale : 0,  scale = 1 / (1 - p)
// Backward: grad_in[i] = keep[i] ? grad_out[i] · scale : 0
//
// Kernels see pointers and sizes only and trust their callers (0 <= p < 1, contiguous data).
#pragma once

#include <cmath>
#include <cstdint>

#include <ember/backend/cpu/strided.hpp>
#include <ember/backend/functors.hpp>  // dropout_threshold, dropout_keep
#include <ember/core/dtype.hpp>
#include <ember/core/generator.hpp>

namespace ember::backend::cpu {

/// out = x ⊙ keep · scale and `mask` = keep, for contiguous `x`, `out`, `mask` of n elements.
/// Element i uses word i % 4 of Philox block `base + i / 4` under `seed`. Parallel over blocks.
template <class T>
inline void dropout_forward(const T* x, int64_t n, double p, T scale, uint64_t seed, uint64_t base,
                            T* out, bool* mask) {
  const uint32_t threshold = dropout_threshold(p);
  const int64_t blocks = (n + 3) / 4;
  parallel_chunks(blocks, kParallelGrain / 4, [&](int64_t b0, int64_t b1) {
    const Generator gen(seed);  // block() is a pure function of (seed, index)
    for (int64_t b = b0; b < b1; ++b) {
      const auto words = gen.block(base + static_cast<uint64_t>(b));
      const int64_t i0 = 4 * b, i1 = i0 + 4 < n ? i0 + 4 : n;
      for (int64_t i = i0; i < i1; ++i) {
        const bool keep = dropout_keep(words[i - i0], threshold);
        mask[i] = keep;
        out[i] = keep ? T(x[i] * scale) : T(0);
      }
    }
  });
}

/// grad_in = grad_out ⊙ mask · scale, all contiguous with n elements.
template <class T>
inline void dropout_backward(const T* grad_out, const bool* mask, int64_t n, T scale, T* grad_in) {
  parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) grad_in[i] = mask[i] ? T(grad_out[i] * scale) : T(0);
  });
}

}  // namespace ember::backend::cpu
