// ember/core/storage.hpp — `Storage`, a reference-counted buffer on one device, and the caching
// allocators that hand buffers out.
//
// A training step creates and frees the same tensor sizes every iteration. The caching
// allocator keeps freed blocks in per-size free lists and hands them back on the next request
// of that size class, so a steady step does not call the system allocator for tensor data
// (ARCHITECTURE.md, decision 7). `empty_cache()` returns the cached blocks to the system.
//
// Each Storage carries a version counter, bumped by every in-place write. Autograd records the
// version of each tensor it saves and refuses to run backward if it changed (decision 2). The
// same counter tells a kernel whether a form it derived from the contents and kept with the
// Storage (`DerivedSlot`: the CPU GEMM's packed copy of a weight matrix) is still current.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include <ember/core/device.hpp>
#include <ember/core/error.hpp>

namespace ember {

/// Allocator interface: one per device type. Blocks are at least 64-byte aligned.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* p, std::size_t nbytes) = 0;
  virtual void empty_cache() {}
};

/// Memory statistics of a caching allocator, in bytes.
struct MemoryStats {
  std::size_t allocated = 0;       ///< bytes handed out and not yet returned
  std::size_t reserved = 0;        ///< bytes obtained from the system (allocated + cached)
  std::size_t peak_allocated = 0;  ///< high-water mark of `allocated`
  std::size_t system_allocations = 0;  ///< calls that reached the system allocator
};

/// The CPU caching allocator: size classes of powers of two above 4 KiB (multiples of 64 below),
/// per-class free lists, thread-safe.
class CpuCachingAllocator : public Allocator {
 public:
  static constexpr std::size_t kAlign = 64;

  ~CpuCachingAllocator() override { empty_cache(); }

  void* allocate(std::size_t nbytes) override {
    std::size_t cls = size_class(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    auto& list = free_[cls];
    void* p;
    if (!list.empty()) {
      p = list.back();
      list.pop_back();
    } else {
      p = ::operator new(cls, std::align_val_t(kAlign));
      stats_.reserved += cls;
      ++stats_.system_allocations;
    }
    stats_.allocated += cls;
    if (stats_.allocated > stats_.peak_allocated) stats_.peak_allocated = stats_.allocated;
    return p;
  }

  void deallocate(void* p, std::size_t nbytes) override {
    std::size_t cls = size_class(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    free_[cls].push_back(p);
    stats_.allocated -= cls;
  }

  /// Returns every cached (free) block to the system.
  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [cls, list] : free_) {
      for (void* p : list) ::operator delete(p, std::align_val_t(kAlign));
      stats_.reserved -= cls * list.size();
      list.clear();
    }
  }

  MemoryStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  static std::size_t size_class(std::size_t n) {
    if (n == 0) n = 1;
    if (n <= 4096) return (n + kAlign - 1) / kAlign * kAlign;
    std::size_t c = 4096;
    while (c < n) c <<= 1;
    return c;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::size_t, std::vector<void*>> free_;
  MemoryStats stats_;
};

inline CpuCachingAllocator& cpu_allocator() {
  static CpuCachingAllocator* a = new CpuCachingAllocator();  // never destroyed: outlives tensors
  return *a;
}

/// Temporary CPU buffer of `n` elements of a trivial type T (kernels' partial sums and other
/// scratch space), from the caching allocator: in a steady training step it reuses a cached
/// block instead of calling the system allocator. Contents are uninitialized unless a fill
/// value is given. Not copyable; freed at the end of its scope.
template <class T>
class ScratchBuffer {
 public:
  explicit ScratchBuffer(std::size_t n) : n_(n), p_(n ? static_cast<T*>(cpu_allocator().allocate(n * sizeof(T))) : nullptr) {}
  ScratchBuffer(std::size_t n, T fill) : ScratchBuffer(n) {
    for (std::size_t i = 0; i < n_; ++i) p_[i] = fill;
  }
  ~ScratchBuffer() {
    if (p_) cpu_allocator().deallocate(p_, n_ * sizeof(T));
  }
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  T* data() { return p_; }
  T& operator[](std::size_t i) { return p_[i]; }
  std::size_t size() const { return n_; }

 private:
  std::size_t n_;
  T* p_;
};

namespace detail {
/// The CUDA allocator, installed by <ember/cuda.hpp> in a translation unit compiled by nvcc.
inline Allocator*& cuda_allocator_slot() {
  static Allocator* a = nullptr;
  return a;
}
}  // namespace detail

/// The allocator for `device`; throws if `device` is CUDA and this program has no CUDA backend.
inline Allocator& allocator_for(Device device) {
  if (device.is_cpu()) return cpu_allocator();
  Allocator* a = detail::cuda_allocator_slot();
  EMBER_CHECK(a != nullptr, "device ", device,
              ": this program was built without ember's CUDA backend (include <ember/cuda.hpp> "
              "in a translation unit compiled by nvcc and link ember::cuda)");
  // One GPU for now: the CUDA backend allocates and launches on the current device.
  EMBER_CHECK(device.index == 0, "device ", device, ": only one GPU, cuda:0, is supported yet "
              "(choose which physical GPU that is with CUDA_VISIBLE_DEVICES)");
  return *a;
}

/// Something a kernel derived from a buffer's contents and keeps for reuse (see DerivedSlot).
class DerivedValue {
 public:
  virtual ~DerivedValue() = default;
};

/// A place where a kernel keeps something it derived from a buffer's contents, to reuse it while
/// they are unchanged: the CPU GEMM keeps the packed copy of a weight matrix here
/// (backend/cpu/packed_gemm.hpp). It lives and dies with the Storage, so nothing outlives the
/// weights it was made from. The kernel stores, with its value, the Storage version it was made
/// at and checks it on every use: writes through ember (copy_, fill_, optimizers) bump the
/// version; writes through a raw `data()` pointer do not, and must be followed by
/// `bump_version()`, as for autograd. Thread-safe: load and store are atomic with respect to
/// each other (a value, once loaded, stays alive while the loader holds it).
class DerivedSlot {
 public:
  std::shared_ptr<const DerivedValue> load() const {
    if (!full_.load(std::memory_order_acquire)) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    return value_;
  }
  void store(std::shared_ptr<const DerivedValue> value) {
    std::lock_guard<std::mutex> lock(mu_);
    value_ = std::move(value);
    full_.store(value_ != nullptr, std::memory_order_release);
  }
  /// Frees what is held (no lock taken when the slot is empty: the common case).
  void clear() {
    if (full_.load(std::memory_order_acquire)) store(nullptr);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const DerivedValue> value_;
  std::atomic<bool> full_{false};
};

/// A buffer of `nbytes` bytes on one device, with a version counter for autograd.
class Storage {
 public:
  Storage(std::size_t nbytes, Device device)
      : nbytes_(nbytes), device_(device), data_(allocator_for(device).allocate(nbytes)) {}
  /// Wraps memory owned elsewhere (e.g. a memory-mapped file, or page-locked host memory with
  /// `pinned`); `keep_alive` owns it and frees it.
  Storage(void* data, std::size_t nbytes, Device device, std::shared_ptr<void> keep_alive,
          bool pinned = false)
      : nbytes_(nbytes), device_(device), data_(data), external_(std::move(keep_alive)),
        pinned_(pinned) {}
  ~Storage() {
    if (!external_) allocator_for(device_).deallocate(data_, nbytes_);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  /// True for page-locked host memory (Tensor::pin_memory): copies to a GPU are direct DMA.
  bool is_pinned() const { return pinned_; }

  /// In-place writes call bump_version(); autograd compares saved versions. It also frees what
  /// kernels derived from the old contents (derived()): it can never be used again.
  uint64_t version() const { return version_; }
  void bump_version() {
    ++version_;
    derived_.clear();
  }

  /// What kernels derived from these contents (see DerivedSlot); mutable through a const Storage.
  DerivedSlot& derived() const { return derived_; }

 private:
  std::size_t nbytes_;
  Device device_;
  void* data_;
  std::shared_ptr<void> external_;
  bool pinned_ = false;
  uint64_t version_ = 0;
  mutable DerivedSlot derived_;
};

}  // namespace ember
