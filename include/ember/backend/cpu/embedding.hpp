// ember/backend/cpu/embedding.hpp — the CPU kernels of embedding lookup: a row gather forward and
// a row scatter-add backward.
//
// Forward:  out[i, :] = weight[ids[i], :]                       for i in [0, n)
// Backward: grad_weight[ids[i], :] += grad_out[i, :]            for i in [0, n), ids[i] != padding_idx
//
// The backward is a scatter with collisions (a repeated id adds several rows into the same
// gradient row), so it cannot be parallelized over i without atomics. It is parallelized over
// the embedding dimension instead: each thread owns a range of columns (in blocks of 16 elements,
// so two threads never write the same cache line of a row whose length is a multiple of 16) and
// walks all n ids. Every gradient element is therefore summed in the order of i, whatever the
// thread count: the result is deterministic and identical to the serial loop.
//
// Kernels see pointers, sizes and strides only and trust their callers (ids in range).
#pragma once

#include <algorithm>
#include <cstdint>

#include <ember/backend/cpu/strided.hpp>

namespace ember::backend::cpu {

/// out[i, :] = weight[ids[i], :]. `ids` contiguous [n]; `weight` rows at stride `ws0`, elements
/// within a row at stride `ws1` (1 when contiguous); `out` contiguous [n, dim]. Parallel over i.
template <class T>
inline void embedding_forward(const int64_t* ids, int64_t n, const T* weight, int64_t ws0,
                              int64_t ws1, int64_t dim, T* out) {
  int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(dim, 1));
  parallel_for(n, grain, [&](int64_t i) {
    const T* src = weight + ids[i] * ws0;
    T* dst = out + i * dim;
    if (ws1 == 1) {
      std::copy(src, src + dim, dst);
    } else {
      for (int64_t c = 0; c < dim; ++c) dst[c] = src[c * ws1];
    }
  });
}

/// grad_weight[ids[i], :] += grad_out[i, :] for every i with ids[i] != padding_idx
/// (padding_idx < 0: none). `grad_out` contiguous [n, dim]; `grad_weight` contiguous
/// [num_embeddings, dim], zeroed (or holding a gradient to add to) by the caller.
/// Parallel over column blocks; deterministic (see the header comment).
template <class T>
inline void embedding_backward(const int64_t* ids, int64_t n, const T* grad_out, int64_t dim,
                               int64_t padding_idx, T* grad_weight) {
  constexpr int64_t kBlock = 16;
  const int64_t blocks = (dim + kBlock - 1) / kBlock;
  // Parallel when the total work n*dim is large: blocks >= 2*grain  <=>  n*dim >~ 2*kParallelGrain.
  int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n * kBlock, 1));
  parallel_chunks(blocks, grain, [&](int64_t b0, int64_t b1) {
    const int64_t c0 = b0 * kBlock, c1 = std::min(dim, b1 * kBlock);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t id = ids[i];
      if (id == padding_idx) continue;
      const T* src = grad_out + i * dim;
      T* dst = grad_weight + id * dim;
      for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
    }
  });
}

}  // namespace ember::backend::cpu
