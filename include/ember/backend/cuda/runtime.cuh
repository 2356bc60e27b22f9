// ember/backend/cuda/runtime.cuh — `CudaRuntimeImpl`, the dtype-independent half of the backend
// (backend/device_runtime.hpp's `DeviceRuntime`): device queries, copies between host and device, fills and
// strided copies of raw elements, allocator statistics, the fp32 matmul precision.
//
// No CUDA call happens before it is needed: the object is created at static-initialization time
// (cuda.hpp) on machines with and without a GPU, so the driver is first touched by the first
// query or tensor operation. device_count() never throws: on a machine without a driver or
// device, cudaGetDeviceCount fails ("CUDA driver version is insufficient..." or "no CUDA-capable
// device") and the answer is 0 devices (TOOLCHAIN-NOTES.md).
//
// fill and copy_strided move raw elements of 1, 2, 4 or 8 bytes (bool, bf16/half, float/int32,
// double/int64): one kernel per element size, instantiated on the unsigned integer of that size,
// serves every dtype — a copy never needs to know what the bits mean.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include <cuda_runtime.h>

#include <ember/backend/cuda/allocator.cuh>
#include <ember/backend/cuda/check.cuh>
#include <ember/backend/device_runtime.hpp>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/pinned.cuh>
#include <ember/backend/cuda/stream.cuh>
#include <ember/core/device.hpp>

namespace ember::backend::cuda {

namespace kernel {

/// out[offset(i)] = value for every index i of the layout.
template <class U>
__global__ void fill(U* out, detail::StridedIndexer<1> ix, U value, int64_t n) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step()) {
    int64_t off[1];
    ix.get(i, off);
    out[off[0]] = value;
  }
}

/// dst[dst offset(i)] = src[src offset(i)] for every index i.
template <class U>
__global__ void copy_strided(const U* src, U* dst, detail::StridedIndexer<2> ix, int64_t n) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step()) {
    int64_t off[2];
    ix.get(i, off);
    dst[off[1]] = src[off[0]];
  }
}

}  // namespace kernel

namespace detail {

template <class U>
inline void launch_fill(void* out, const Layout& layout, const void* value) {
  const int64_t n = numel(layout);
  if (n == 0) return;
  U v;
  std::memcpy(&v, value, sizeof(U));
  const Layout* ops[1] = {&layout};
  const StridedIndexer<1> ix = make_indexer<1>(layout, ops);
  kernel::fill<U><<<grid_for(n), kThreads, 0, current_stream()>>>(static_cast<U*>(out), ix, v, n);
  EMBER_CUDA_CHECK_LAUNCH();
}

template <class U>
inline void launch_copy_strided(const void* src, const Layout& sl, void* dst, const Layout& dl) {
  const int64_t n = numel(sl);
  if (n == 0) return;
  const Layout* ops[2] = {&sl, &dl};
  const StridedIndexer<2> ix = make_indexer<2>(sl, ops);
  kernel::copy_strided<U><<<grid_for(n), kThreads, 0, current_stream()>>>(
      static_cast<const U*>(src), static_cast<U*>(dst), ix, n);
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace detail

/// The DeviceRuntime of the CUDA backend (see the header comment).
class CudaRuntimeImpl final : public DeviceRuntime {
 public:
  int device_count() override {
    // Asked once: the device set of a process does not change.
    static const int count = [] {
      int n = 0;
      if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
      }
      return n;
    }();
    return count;
  }

  const char* device_name(int index) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = names_.find(index);
    if (it == names_.end()) {
      cudaDeviceProp prop;
      EMBER_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
      it = names_.emplace(index, std::string(prop.name)).first;
    }
    return it->second.c_str();  // map nodes are stable: the pointer stays valid
  }

  void synchronize(int device) override {
    DeviceGuard guard(device);
    EMBER_CUDA_CHECK(cudaDeviceSynchronize());
  }

  /// Synchronous copy between any two of host and device memory: queued on the current stream
  /// of the device involved (so it follows the kernels that produced the source), then waited for.
  void copy(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t nbytes) override {
    if (nbytes == 0) return;
    if (dst_dev.is_cpu() && src_dev.is_cpu()) {
      std::memcpy(dst, src, nbytes);
      return;
    }
    if (dst_dev.is_cuda() && src_dev.is_cuda() && dst_dev.index != src_dev.index) {
      // Across devices: the source's pending writes are on the source device's stream.
      DeviceGuard src_guard(src_dev.index);
      EMBER_CUDA_CHECK(cudaStreamSynchronize(current_stream(src_dev.index)));
    }
    const int device = dst_dev.is_cuda() ? dst_dev.index : src_dev.index;
    DeviceGuard guard(device);
    cudaStream_t stream = current_stream(device);
    EMBER_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDefault, stream));
    EMBER_CUDA_CHECK(cudaStreamSynchronize(stream));
  }

  void fill(int device, void* out, const Layout& layout, const void* value, int elem_size) override {
    DeviceGuard guard(device);
    switch (elem_size) {
      case 1: return detail::launch_fill<uint8_t>(out, layout, value);
      case 2: return detail::launch_fill<uint16_t>(out, layout, value);
      case 4: return detail::launch_fill<uint32_t>(out, layout, value);
      case 8: return detail::launch_fill<uint64_t>(out, layout, value);
    }
    EMBER_FAIL("CUDA fill: unsupported element size ", elem_size);
  }

  /// dst ← src element by element over src_layout's sizes; dst is read at dst_layout's strides
  /// when it has src_layout's rank, and is contiguous row-major otherwise.
  void copy_strided(int device, const void* src, const Layout& src_layout, void* dst,
                    const Layout& dst_layout, int elem_size) override {
    DeviceGuard guard(device);
    const Layout dl =
        dst_layout.ndim == src_layout.ndim ? dst_layout : detail::contiguous_layout(src_layout);
    switch (elem_size) {
      case 1: return detail::launch_copy_strided<uint8_t>(src, src_layout, dst, dl);
      case 2: return detail::launch_copy_strided<uint16_t>(src, src_layout, dst, dl);
      case 4: return detail::launch_copy_strided<uint32_t>(src, src_layout, dst, dl);
      case 8: return detail::launch_copy_strided<uint64_t>(src, src_layout, dst, dl);
    }
    EMBER_FAIL("CUDA copy_strided: unsupported element size ", elem_size);
  }

  MemoryStats memory_stats(int device) override { return cuda_allocator().stats(device); }

  void* allocate_pinned(std::size_t nbytes) override { return pinned_allocator().allocate(nbytes); }
  void free_pinned(void* p) noexcept override { pinned_allocator().deallocate(p); }

  void empty_cache() override {
    cuda_allocator().empty_cache();
    pinned_allocator().empty_cache();
  }

  void set_float32_matmul_precision(MatmulPrecision precision) override {
    precision_.store(precision, std::memory_order_relaxed);
  }
  MatmulPrecision float32_matmul_precision() override {
    return precision_.load(std::memory_order_relaxed);
  }

 private:
  std::mutex mu_;
  std::map<int, std::string> names_;
  std::atomic<MatmulPrecision> precision_{MatmulPrecision::highest};
};

}  // namespace ember::backend::cuda
