// ember/backend/cuda/pinned.cuh — page-locked ("pinned") host memory for `Tensor::pin_memory`,
// `Tensor::empty_pinned` and `DataLoaderOptions::pin_memory`, behind a caching allocator.
//
// Why pinned memory: the GPU copies to and from page-locked host memory by DMA directly; from
// ordinary (pageable) memory the driver first copies through a staging buffer of its own.
// Why a cache: cudaHostAlloc is slow (it maps the pages for the device) and cudaFreeHost may
// synchronize the device, so a DataLoader that pins every batch would pay both per batch. As the
// CPU and device allocators do, freed blocks go to per-size free lists (the CPU allocator's size
// classes) and serve the next request of their class; a steady training loop pins without
// calling the driver.
//
// Reusing a freed block at once is safe because every copy ember makes from or to host memory
// has completed when it returns (DeviceRuntime::copy synchronizes its stream). A non-blocking copy
// (PyTorch's `to(device, non_blocking=True)`) would need each block to record an event on the
// stream of its last copy and wait for it before reuse (PyTorch's CachingHostAllocator); see
// docs/gpu.md, "Known limits".
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <cuda_runtime.h>

#include <ember/core/error.hpp>
#include <ember/core/storage.hpp>

namespace ember::backend::cuda {

/// Caching allocator of page-locked host memory (see the header comment). Thread-safe.
class PinnedHostAllocator {
 public:
  /// A page-locked block of at least `nbytes` bytes; throws `ember::Error` when the driver
  /// refuses (no driver or device, or the system's page-locked limit).
  void* allocate(std::size_t nbytes) {
    const std::size_t cls = CpuCachingAllocator::size_class(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    void* p = nullptr;
    auto it = free_.find(cls);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
    } else {
      const cudaError_t err = cudaHostAlloc(&p, cls, cudaHostAllocDefault);
      if (err != cudaSuccess) {
        (void)cudaGetLastError();  // leave the device usable
        EMBER_FAIL("pin_memory: cannot allocate ", nbytes, " bytes of page-locked host memory (",
                   cudaGetErrorName(err), ": ", cudaGetErrorString(err), ")");
      }
    }
    live_[p] = cls;
    return p;
  }

  /// Returns `p` to the free lists. Never throws (it runs in destructors).
  void deallocate(void* p) noexcept {
    if (p == nullptr) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) return;  // not ours
    const std::size_t cls = it->second;
    live_.erase(it);
    try {
      free_[cls].push_back(p);
    } catch (...) {  // no host memory for the free list: give the block back to the driver
      if (cudaFreeHost(p) != cudaSuccess) (void)cudaGetLastError();
    }
  }

  /// Returns the cached (free) blocks to the driver.
  void empty_cache() noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& entry : free_) {
      for (void* p : entry.second)
        if (cudaFreeHost(p) != cudaSuccess) (void)cudaGetLastError();
      entry.second.clear();
    }
  }

 private:
  std::mutex mu_;
  std::map<std::size_t, std::vector<void*>> free_;  // size class -> cached blocks
  std::unordered_map<void*, std::size_t> live_;     // blocks handed out: their size class
};

/// The process-wide pinned-memory allocator (created on first use, never destroyed: pinned
/// tensors in static objects may be freed after main returns).
inline PinnedHostAllocator& pinned_allocator() {
  static PinnedHostAllocator* a = new PinnedHostAllocator();
  return *a;
}

}  // namespace ember::backend::cuda
