// ember/backend/cuda/allocator.cuh — the caching allocator for device memory.
//
// cudaMalloc and cudaFree are slow (cudaFree synchronizes the whole device), and a training step
// frees and re-creates the same activation sizes every iteration. So, as the CPU allocator
// (core/storage.hpp) and PyTorch's CUDACachingAllocator do, freed blocks go to per-size free
// lists and serve the next request of their size class; a steady training step makes no
// cudaMalloc at all (ARCHITECTURE.md, decision 7).
//
// Size classes (the bytes actually reserved for a request of n bytes):
//   n ≤ 1 MiB: n rounded up to a multiple of 512 bytes (at most 511 bytes wasted per block);
//   n > 1 MiB: n rounded up to a multiple of p/4, p the largest power of two below n — four
//              classes per octave (1.25, 1.5, 1.75, 2 × p): at most 25% wasted, and batches of
//              varying sequence length still land in a few classes that get reused.
// Blocks are never split or merged (PyTorch does both; it saves memory, at much more code).
//
// Devices. A block is allocated on the calling thread's current device and remembers it, so
// deallocate() returns it to that device's free lists whatever device is current then. Each
// device has its own free lists and `MemoryStats`.
//
// Streams. A freed block may still be read by queued kernels; handing it to the next request at
// once is safe because all work is ordered on one current stream per device (stream.cuh).
//
// Out of memory. When cudaMalloc fails, this device's cached blocks are released and the call is
// retried once; if it fails again, `ember::Error` reports the request, the free/total bytes from
// cudaMemGetInfo and ember's own allocated/reserved bytes. The error is cleared first, so the
// device stays usable (catch the error, lower the batch size, go on).
//
// The allocator object is created on first use and never destroyed: tensors in static objects
// may be freed after main returns, when a destroyed allocator would be a use-after-free.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include <cuda_runtime.h>

#include <ember/backend/cuda/check.cuh>
#include <ember/backend/cuda/stream.cuh>
#include <ember/core/error.hpp>
#include <ember/core/storage.hpp>

namespace ember::backend::cuda {

/// Caching allocator of device memory (see the header comment). Thread-safe.
class CudaCachingAllocator final : public Allocator {
 public:
  static constexpr std::size_t kSmallLimit = std::size_t(1) << 20;  ///< 1 MiB
  static constexpr std::size_t kSmallRound = 512;

  /// The bytes reserved for a request of `n` bytes (see the header comment).
  static std::size_t size_class(std::size_t n) {
    if (n == 0) n = 1;
    if (n <= kSmallLimit) return (n + kSmallRound - 1) / kSmallRound * kSmallRound;
    if (n > (std::size_t(1) << 60)) return n;  // no GPU has it: leave it to cudaMalloc to refuse
    std::size_t p = kSmallLimit;
    while (p * 2 < n) p *= 2;  // largest power of two below n
    const std::size_t step = p / 4;
    return (n + step - 1) / step * step;
  }

  /// A block of at least `nbytes` on the current device (256-byte aligned, as cudaMalloc).
  void* allocate(std::size_t nbytes) override {
    const std::size_t cls = size_class(nbytes);
    const int device = detail::current_device();
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      DeviceState& ds = devices_[device];
      auto it = ds.free.find(cls);
      if (it != ds.free.end() && !it->second.empty()) {
        p = it->second.back();
        it->second.pop_back();
      } else {
        p = system_allocate(device, ds, cls, nbytes);
      }
      live_[p] = Block{cls, device};
      ds.stats.allocated += cls;
      if (ds.stats.allocated > ds.stats.peak_allocated) ds.stats.peak_allocated = ds.stats.allocated;
    }
    if (poison_.load(std::memory_order_relaxed))  // queued before any kernel that gets the block
      EMBER_CUDA_CHECK(cudaMemsetAsync(p, 0xFF, cls, current_stream(device)));
    return p;
  }

  /// Debugging aid (tests): while on, every block handed out is first filled with 0xFF bytes —
  /// NaN as float or double — so an element a kernel forgets to write cannot pass by luck.
  void set_poison(bool on) { poison_.store(on, std::memory_order_relaxed); }

  /// Returns `p` to its device's free lists. Never throws (it runs in destructors).
  void deallocate(void* p, std::size_t /*nbytes*/) override {
    if (p == nullptr) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) return;  // not ours: nothing sensible to do, and we must not throw
    const Block b = it->second;
    live_.erase(it);
    DeviceState& ds = devices_[b.device];
    ds.stats.allocated -= b.size;
    try {
      ds.free[b.size].push_back(p);
    } catch (...) {  // no host memory for the free list: give the block back to the driver
      if (cudaFree(p) != cudaSuccess) (void)cudaGetLastError();  // (UVA: any current device)
      ds.stats.reserved -= b.size;
    }
  }

  /// Returns every cached (free) block of every device to the driver.
  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (int d = 0; d < kMaxDevices; ++d) release_cached(d, devices_[d]);
  }

  /// Statistics of `device` (all zero for a device never used).
  MemoryStats stats(int device) const {
    EMBER_CHECK(device >= 0 && device < kMaxDevices, "cuda::memory_stats: no device ", device);
    std::lock_guard<std::mutex> lock(mu_);
    return devices_[device].stats;
  }

 private:
  struct Block {
    std::size_t size;  // the size class
    int device;
  };
  struct DeviceState {
    std::map<std::size_t, std::vector<void*>> free;  // size class -> cached blocks
    MemoryStats stats;
  };

  // cudaMalloc with the release-and-retry policy of the header comment. Lock held.
  void* system_allocate(int device, DeviceState& ds, std::size_t cls, std::size_t nbytes) {
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, cls);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear the error before trying again
      release_cached(device, ds);
      err = cudaMalloc(&p, cls);
    }
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      std::size_t free_b = 0, total_b = 0;
      if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
      EMBER_FAIL("CUDA out of memory: tried to allocate ", nbytes, " bytes (", cls,
                 " with rounding) on cuda:", device, "; the device has ", free_b, " bytes free of ",
                 total_b, "; ember holds ", ds.stats.allocated, " bytes in tensors and ",
                 ds.stats.reserved, " reserved. Reduce the batch size or sequence length.");
    }
    if (err != cudaSuccess) detail::throw_cuda_error(err, "cudaMalloc(&p, bytes)", __FILE__, __LINE__);
    ds.stats.reserved += cls;
    ++ds.stats.system_allocations;
    return p;
  }

  // Frees the cached blocks of `device` (lock held). cudaFree errors are ignored: the block is
  // gone either way and this runs on error paths.
  void release_cached(int device, DeviceState& ds) {
    bool any = false;
    for (auto& entry : ds.free) any = any || !entry.second.empty();
    if (!any) return;
    DeviceGuard guard(device);
    for (auto& [cls, list] : ds.free) {
      for (void* p : list) {
        if (cudaFree(p) != cudaSuccess) (void)cudaGetLastError();
      }
      ds.stats.reserved -= cls * list.size();
      list.clear();
    }
  }

  mutable std::mutex mu_;
  std::atomic<bool> poison_{false};
  DeviceState devices_[kMaxDevices];
  std::unordered_map<void*, Block> live_;  // blocks handed out: their class and device
};

/// The process-wide device allocator (created on first use, never destroyed).
inline CudaCachingAllocator& cuda_allocator() {
  static CudaCachingAllocator* a = new CudaCachingAllocator();
  return *a;
}

/// A temporary device buffer of `n` elements of T from the caching allocator (scratch space for
/// two-stage reductions), freed at the end of its scope. Freeing while kernels that use it are
/// still queued is safe: later users of the block queue behind them on the same stream.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t n)
      : n_(n), p_(n ? static_cast<T*>(cuda_allocator().allocate(n * sizeof(T))) : nullptr) {}
  ~DeviceBuffer() {
    if (p_) cuda_allocator().deallocate(p_, n_ * sizeof(T));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* data() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  std::size_t n_;
  T* p_;
};

}  // namespace ember::backend::cuda
