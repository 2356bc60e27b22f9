// ember/backend/cuda/embedding.cuh — CUDA kernels of embedding lookup: a row gather forward and
// a deterministic scatter-add backward. Semantics as backend/cpu/embedding.hpp:
//
//   forward:  out[i, :] = weight[ids[i], :]                        i in [0, n)
//   backward: grad_weight[ids[i], :] += grad_out[i, :]             ids[i] != padding_idx
//
// The backward is a scatter with collisions (a repeated id adds several rows into one gradient
// row). atomicAdd would be fast but would add the rows in whatever order the hardware serves
// them, so two runs with the same seed would differ in the last bits and then drift
// (ARCHITECTURE.md, decision 6). Instead the ids are sorted: they are copied to the host
// (n int64 values, a few KiB for a batch of tokens), the positions i with the same id are grouped
// by a stable sort, and a kernel gives each (group, column) to one thread, which adds the group's
// rows in increasing i — the order of the CPU's loop. The result is deterministic and
// bit-identical to the CPU kernel. The price is one synchronization per backward (the copy of
// the ids), small next to the rest of a training step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <ember/backend/cuda/allocator.cuh>
#include <ember/backend/cuda/check.cuh>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/stream.cuh>

namespace ember::backend::cuda {

namespace kernel {

template <class T>
__global__ void embedding_forward(const int64_t* ids, int64_t n, const T* weight, int64_t ws0,
                                  int64_t ws1, int64_t dim, T* out) {
  const int64_t total = n * dim;
  for (int64_t t = detail::grid_start(); t < total; t += detail::grid_step()) {
    const int64_t i = t / dim, c = t % dim;
    out[t] = weight[ids[i] * ws0 + c * ws1];
  }
}

/// Thread per (group s, column c): grad_weight[id, c] += Σ grad_out[order[k], c] over the
/// group's positions k in [starts[s], starts[s + 1]), in order.
template <class T>
__global__ void embedding_backward(const int64_t* ids, const int64_t* order, const int64_t* starts,
                                   int64_t groups, const T* grad_out, int64_t dim, T* grad_weight) {
  const int64_t total = groups * dim;
  for (int64_t t = detail::grid_start(); t < total; t += detail::grid_step()) {
    const int64_t s = t / dim, c = t % dim;
    const int64_t k0 = starts[s], k1 = starts[s + 1];
    T* dst = grad_weight + ids[order[k0]] * dim + c;
    T acc = *dst;
    for (int64_t k = k0; k < k1; ++k) acc = acc + grad_out[order[k] * dim + c];
    *dst = acc;
  }
}

}  // namespace kernel

/// out[i, :] = weight[ids[i], :]; ids contiguous [n]; weight rows at stride ws0, elements at ws1;
/// out contiguous [n, dim].
template <class T>
inline void embedding_forward(const int64_t* ids, int64_t n, const T* weight, int64_t ws0,
                              int64_t ws1, int64_t dim, T* out) {
  if (n == 0 || dim == 0) return;
  kernel::embedding_forward<T><<<detail::grid_for(n * dim), detail::kThreads, 0, current_stream()>>>(
      ids, n, weight, ws0, ws1, dim, out);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// grad_weight[ids[i], :] += grad_out[i, :] for ids[i] != padding_idx (padding_idx < 0: none);
/// grad_weight contiguous [num_embeddings, dim]. Synchronizes the stream (see the header).
template <class T>
inline void embedding_backward(const int64_t* ids, int64_t n, const T* grad_out, int64_t dim,
                               int64_t padding_idx, T* grad_weight) {
  if (n == 0 || dim == 0) return;
  cudaStream_t stream = current_stream();
  std::vector<int64_t> host_ids(static_cast<std::size_t>(n));
  EMBER_CUDA_CHECK(cudaMemcpyAsync(host_ids.data(), ids, n * sizeof(int64_t),
                                   cudaMemcpyDeviceToHost, stream));
  EMBER_CUDA_CHECK(cudaStreamSynchronize(stream));

  // plan = [order (m positions, grouped by id, increasing i within a group) | starts (groups + 1)]
  std::vector<int64_t> plan;
  plan.reserve(static_cast<std::size_t>(2 * n + 1));
  for (int64_t i = 0; i < n; ++i)
    if (host_ids[i] != padding_idx) plan.push_back(i);
  const int64_t m = static_cast<int64_t>(plan.size());
  if (m == 0) return;
  std::stable_sort(plan.begin(), plan.end(),
                   [&](int64_t a, int64_t b) { return host_ids[a] < host_ids[b]; });
  for (int64_t k = 0; k < m; ++k)
    if (k == 0 || host_ids[plan[k]] != host_ids[plan[k - 1]]) plan.push_back(k);
  const int64_t groups = static_cast<int64_t>(plan.size()) - m;
  plan.push_back(m);

  DeviceBuffer<int64_t> dplan(plan.size());
  EMBER_CUDA_CHECK(cudaMemcpyAsync(dplan.data(), plan.data(), plan.size() * sizeof(int64_t),
                                   cudaMemcpyHostToDevice, stream));
  kernel::embedding_backward<T><<<detail::grid_for(groups * dim), detail::kThreads, 0, stream>>>(
      ids, dplan.data(), dplan.data() + m, groups, grad_out, dim, grad_weight);
  EMBER_CUDA_CHECK_LAUNCH();
  // `plan` is pageable host memory that the copy may still be reading from: wait before it goes.
  EMBER_CUDA_CHECK(cudaStreamSynchronize(stream));
}

}  // namespace ember::backend::cuda
