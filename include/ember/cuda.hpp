// ember/cuda.hpp — the umbrella header of the GPU build: the whole CPU library plus ember's CUDA
// backend, for a translation unit compiled by nvcc.
//
// Include it in at least one .cu file of a program (any number of them is fine) and link
// ember::cuda (CUDA::cudart, CUDA::cublas). At static-initialization time it installs the
// backend's tables (backend/kernel_list.hpp, backend/device_runtime.hpp) — the runtime, the
// float and double kernels, the device allocator and the device copy — so that every op of the
// program, in whatever translation unit and compiled by whatever compiler, can run on CUDA
// tensors. Installation
// makes no CUDA call: a program built with the backend starts normally on a machine without a
// GPU, and `ember::cuda::is_available()` then answers false.
//
// Besides the queries of backend/device_runtime.hpp (is_available, device_count, synchronize,
// memory_stats, empty_cache, set_float32_matmul_precision, set_allow_tf32), this header adds the
// nvcc-only stream API:
//   ember::cuda::current_stream()           the stream all of ember's work on the current
//                                           device goes to (default: the legacy default stream)
//   ember::cuda::set_current_stream(s)      make `s` current (waits for the previous stream)
//   ember::cuda::set_poison_allocations(b)  fill new device blocks with NaN bytes (debugging)
//
// Example (a .cu file):
//   #include <ember/cuda.hpp>
//   auto x = ember::randn<float>({8, 16}).to(ember::Device::cuda(0));
#pragma once

#if !defined(__CUDACC__)
#error "<ember/cuda.hpp> must be compiled by nvcc"
#endif

// Keep Eigen host-only inside this translation unit: ember's GPU kernels are its own, and
// Eigen's CUDA support only adds warnings (TOOLCHAIN-NOTES.md).
#if !defined(EIGEN_NO_CUDA)
#define EIGEN_NO_CUDA
#endif

#include <ember/ember.hpp>

#include <ember/backend/cuda/allocator.cuh>
#include <ember/backend/cuda/blas.cuh>
#include <ember/backend/cuda/check.cuh>
#include <ember/backend/device_runtime.hpp>
#include <ember/backend/cuda/kernels.cuh>
#include <ember/backend/cuda/runtime.cuh>
#include <ember/backend/cuda/stream.cuh>

namespace ember::backend::cuda::detail {
/// Installs the backend once per program, however many translation units include this header
/// (an inline variable has one definition, initialized once).
inline const bool installed = install();
}  // namespace ember::backend::cuda::detail

namespace ember::cuda {

/// The current stream of the current device (where ember queues its kernels, copies, GEMMs).
inline cudaStream_t current_stream() { return backend::cuda::current_stream(); }

/// Makes `stream` current on the current device, after waiting for the previous current stream
/// (so no pending work can race with the new stream; see backend/cuda/stream.cuh).
inline void set_current_stream(cudaStream_t stream) { backend::cuda::set_current_stream(stream); }

/// Debugging aid: while on, every device allocation is filled with 0xFF bytes (NaN for float and
/// double) before use, so a kernel that forgets to write an element shows NaN (the CUDA tests
/// run with it on). Costs a memset per allocation.
inline void set_poison_allocations(bool on) { backend::cuda::cuda_allocator().set_poison(on); }

}  // namespace ember::cuda
