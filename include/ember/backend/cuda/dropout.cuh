// ember/backend/cuda/dropout.cuh — inverted dropout on the GPU with the CPU's mask, bit for bit.
//
// Which elements survive is defined once, in backend/cpu/dropout.hpp: element i reads word
// i % 4 of Philox-4x32-10 block (base + i / 4) under `seed` (core/generator.hpp) and is kept iff
// (word >> 8) >= ceil(p · 2^24) — an integer comparison, so the two backends cannot disagree.
// Here one thread computes one Philox block (4 words) and handles its 4 elements, with the same
// `philox4x32_10`, `dropout_threshold` and `dropout_keep` functions the CPU uses.
//
//   forward:  out[i] = keep[i] ? x[i]·scale : 0,  mask[i] = keep[i]      scale = 1/(1 − p)
//   backward: grad_in[i] = mask[i] ? grad_out[i]·scale : 0
#pragma once

#include <cstdint>

#include <ember/backend/functors.hpp>  // dropout_threshold, dropout_keep
#include <ember/backend/cuda/check.cuh>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/stream.cuh>
#include <ember/core/generator.hpp>

namespace ember::backend::cuda {

namespace kernel {

template <class T>
__global__ void dropout_forward(const T* x, int64_t n, uint32_t threshold, T scale, uint64_t seed,
                                uint64_t base, T* out, bool* mask) {
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = detail::grid_start(); b < blocks; b += detail::grid_step()) {
    const uint64_t index = base + static_cast<uint64_t>(b);
    uint32_t w[4] = {uint32_t(index), uint32_t(index >> 32), 0u, 0u};  // as Generator::block
    ember::detail::philox4x32_10(w, uint32_t(seed), uint32_t(seed >> 32));
    const int64_t i0 = 4 * b;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t i = i0 + j;
      if (i < n) {
        const bool keep = backend::dropout_keep(w[j], threshold);
        mask[i] = keep;
        out[i] = keep ? T(x[i] * scale) : T(0);
      }
    }
  }
}

template <class T>
__global__ void dropout_backward(const T* grad_out, const bool* mask, int64_t n, T scale,
                                 T* grad_in) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step())
    grad_in[i] = mask[i] ? T(grad_out[i] * scale) : T(0);
}

}  // namespace kernel

/// out = x ⊙ keep · scale, mask = keep, for n contiguous elements; the keep rule of
/// backend/cpu/dropout.hpp (element i: word i % 4 of Philox block base + i / 4 under seed).
template <class T>
inline void dropout_forward(const T* x, int64_t n, double p, T scale, uint64_t seed, uint64_t base,
                            T* out, bool* mask) {
  if (n == 0) return;
  const uint32_t threshold = backend::dropout_threshold(p);
  kernel::dropout_forward<T><<<detail::grid_for((n + 3) / 4), detail::kThreads, 0, current_stream()>>>(
      x, n, threshold, scale, seed, base, out, mask);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// grad_in = grad_out ⊙ mask · scale, all contiguous with n elements.
template <class T>
inline void dropout_backward(const T* grad_out, const bool* mask, int64_t n, T scale, T* grad_in) {
  if (n == 0) return;
  kernel::dropout_backward<T><<<detail::grid_for(n), detail::kThreads, 0, current_stream()>>>(
      grad_out, mask, n, scale, grad_in);
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace ember::backend::cuda
