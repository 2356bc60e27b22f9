// ember/backend/device_runtime.hpp — the element-type-independent services of a backend: copies
// and fills by element size, and, for the GPU, devices, synchronization, memory statistics,
// pinned host memory and the fp32 GEMM precision. `backend::runtime(device, op)`
// (backend/backend.hpp) returns the one of a tensor's device.
//
// Why tables at all: ember is header-only and a CPU-only program must never need the CUDA
// toolkit. The ops are templates compiled by whatever compiler the user's translation unit has
// (g++ for most of them); kernel launches need nvcc. So the ops call through tables, and
// <ember/cuda.hpp> — included in one translation unit compiled by nvcc — fills the CUDA ones
// (backend/cuda/kernels.cuh) at static-initialization time. A program without that TU gets a
// clear `ember::Error` the first time it touches a CUDA tensor ("built without ember's CUDA
// backend"), never a link error.
//
// Plain C++ (g++ and nvcc both compile it). One GPU: CUDA storage and kernels use the current
// device (device 0 unless the program changes it); `cuda:1` tensors are not supported yet.
#pragma once

#include <cstddef>
#include <cstdint>

#include <ember/backend/kernel_list.hpp>
#include <ember/backend/types.hpp>
#include <ember/core/device.hpp>
#include <ember/core/error.hpp>
#include <ember/core/storage.hpp>

namespace ember::backend {

/// Services of one backend that do not depend on the element type.
class DeviceRuntime {
 public:
  virtual ~DeviceRuntime() = default;
  /// Number of usable devices of this kind (0 when the driver or device is missing; never throws).
  virtual int device_count() = 0;
  /// Name of device `index` ("NVIDIA H200").
  virtual const char* device_name(int index) = 0;
  /// Blocks until all work queued on `device` has finished.
  virtual void synchronize(int device) = 0;
  /// Copies nbytes between any two of host and device memory (synchronous: returns when the
  /// bytes are in place, so host buffers may be reused at once).
  virtual void copy(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t nbytes) = 0;
  /// out[i] = value for the elements of `elem_size` bytes (1, 2, 4 or 8) at layout `out`.
  virtual void fill(int device, void* out, const Layout& layout, const void* value, int elem_size) = 0;
  /// Strided copy of elements of `elem_size` bytes: dst at `dst_layout` strides (when it has
  /// src's number of dims; otherwise dst is contiguous row-major over src's sizes) ← src at
  /// `src_layout` strides.
  virtual void copy_strided(int device, const void* src, const Layout& src_layout, void* dst,
                            const Layout& dst_layout, int elem_size) = 0;
  /// The caching allocator's statistics for `device`.
  virtual MemoryStats memory_stats(int device) = 0;
  /// `nbytes` of page-locked ("pinned") host memory, which the GPU reads and writes by DMA
  /// without a staging copy (cudaHostAlloc behind a cache: backend/cuda/pinned.cuh); throws
  /// `ember::Error` when it cannot be had.
  virtual void* allocate_pinned(std::size_t nbytes) = 0;
  /// Returns a block of allocate_pinned to the cache. Never throws.
  virtual void free_pinned(void* p) noexcept = 0;
  /// Returns the cached (free) blocks of every device, and of pinned host memory, to the driver.
  virtual void empty_cache() = 0;
  /// The internal precision of fp32 GEMMs (see `ember::cuda::MatmulPrecision`).
  virtual void set_float32_matmul_precision(MatmulPrecision precision) = 0;
  virtual MatmulPrecision float32_matmul_precision() = 0;
};

namespace detail {
/// The CUDA backend's tables, written by <ember/cuda.hpp> (backend/cuda/kernels.cuh install()).
inline DeviceRuntime*& cuda_runtime_slot() {
  static DeviceRuntime* r = nullptr;
  return r;
}
template <class T>
inline const Kernels<T>*& cuda_kernels_slot() {
  static const Kernels<T>* k = nullptr;
  return k;
}
inline const char* cuda_not_built_message() {
  return "this program was built without ember's CUDA backend (include <ember/cuda.hpp> in a "
         "translation unit compiled by nvcc and link ember::cuda)";
}
}  // namespace detail

/// True when this program contains the CUDA backend (whether or not a device is present).
inline bool cuda_backend_available() { return detail::cuda_runtime_slot() != nullptr; }

/// The CUDA runtime; throws `ember::Error` naming `op` when the program has no CUDA backend.
inline DeviceRuntime& cuda_runtime(const char* op) {
  DeviceRuntime* r = detail::cuda_runtime_slot();
  EMBER_CHECK(r != nullptr, op, ": ", detail::cuda_not_built_message());
  return *r;
}

}  // namespace ember::backend

/// The user-facing CUDA queries (PyTorch's `torch.cuda.*`). Callable from any translation unit;
/// without the CUDA backend in the program they report no device (and the others throw).
namespace ember::cuda {
/// True when the program has ember's CUDA backend — a translation unit compiled by nvcc includes
/// <ember/cuda.hpp> — whether or not a device is present (PyTorch: torch.backends.cuda.is_built()).
inline bool is_built() { return backend::cuda_backend_available(); }
/// True when the program has ember's CUDA backend and at least one usable device.
inline bool is_available() {
  return backend::cuda_backend_available() && backend::detail::cuda_runtime_slot()->device_count() > 0;
}
/// Number of usable CUDA devices (0 without the backend or a driver).
inline int device_count() {
  return backend::cuda_backend_available() ? backend::detail::cuda_runtime_slot()->device_count() : 0;
}
/// Waits for all queued work on `device`.
inline void synchronize(int device = 0) { backend::cuda_runtime("cuda::synchronize").synchronize(device); }
/// Caching-allocator statistics (bytes) of `device`: allocated, reserved, peak_allocated.
inline MemoryStats memory_stats(int device = 0) {
  return backend::cuda_runtime("cuda::memory_stats").memory_stats(device);
}
/// Returns cached, unused device blocks to the driver (`torch.cuda.empty_cache`).
inline void empty_cache() { backend::cuda_runtime("cuda::empty_cache").empty_cache(); }
/// Sets how fp32 GEMMs compute (`torch.set_float32_matmul_precision`; see MatmulPrecision).
/// Process-wide; takes effect for the next GEMM. Throws `ember::Error` without the backend.
inline void set_float32_matmul_precision(MatmulPrecision precision) {
  backend::cuda_runtime("cuda::set_float32_matmul_precision").set_float32_matmul_precision(precision);
}
/// The current fp32 GEMM precision (`torch.get_float32_matmul_precision`).
inline MatmulPrecision get_float32_matmul_precision() {
  return backend::cuda_runtime("cuda::get_float32_matmul_precision").float32_matmul_precision();
}
/// PyTorch's other spelling, `torch.backends.cuda.matmul.allow_tf32 = allow`: `high` when true,
/// `highest` when false.
inline void set_allow_tf32(bool allow) {
  set_float32_matmul_precision(allow ? MatmulPrecision::high : MatmulPrecision::highest);
}
}  // namespace ember::cuda
