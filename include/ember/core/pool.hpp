// ember/core/pool.hpp — a recycling pool for the small objects every op creates: tensor
// headers (TensorImpl), storage headers, autograd nodes and their short lists.
//
// Why: a training step creates a few thousand small objects — each op makes an output tensor
// and, under autograd, a node that records its inputs — and destroys them all by the next step.
// The caching allocator (core/storage.hpp) already recycles tensor *data*; this pool does the
// same for the objects around it, so that a steady training step makes no call to the system
// allocator at all (tests/core/test_allocations.cpp counts them through a replaced
// `operator new`). Freed blocks go to a free list per size class and are handed out again;
// memory is obtained in chunks during the first steps and kept for the life of the program.
//
// Use `detail::make_pooled<T>(args...)` instead of `std::make_shared<T>(args...)`, and
// `detail::PoolAllocator<T>` as a container's allocator. Objects of more than
// `SmallObjectPool::kMaxBytes` bytes, or aligned beyond 16 bytes, fall through to
// `operator new`. Thread-safe (one mutex; an op takes it a few times, ~20 ns each).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

// Under AddressSanitizer, blocks on a free list are poisoned, so a use after free of a pooled
// object is still reported (as it would be with operator new/delete).
#if defined(__SANITIZE_ADDRESS__)
#define EMBER_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMBER_POOL_ASAN 1
#endif
#endif
#ifdef EMBER_POOL_ASAN
#include <sanitizer/asan_interface.h>
#define EMBER_POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define EMBER_POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define EMBER_POOL_POISON(p, n) ((void)(p), (void)(n))
#define EMBER_POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace ember::detail {

class SmallObjectPool {
 public:
  static constexpr std::size_t kGranule = 16;    ///< size classes are multiples of 16 bytes
  static constexpr std::size_t kMaxBytes = 2048;  ///< larger requests use operator new
  static constexpr std::size_t kBlocksPerChunk = 64;

  /// The process-wide pool (never destroyed: objects may outlive static destructors).
  static SmallObjectPool& instance() {
    static SmallObjectPool* pool = new SmallObjectPool();
    return *pool;
  }

  void* allocate(std::size_t n) {
    if (n > kMaxBytes) return ::operator new(n);
    const std::size_t c = class_of(n);
    std::lock_guard<std::mutex> lock(mu_);
    if (!free_[c]) refill(c);
    FreeBlock* b = free_[c];
    EMBER_POOL_UNPOISON(b, (c + 1) * kGranule);
    free_[c] = b->next;
    return b;
  }

  void deallocate(void* p, std::size_t n) noexcept {
    if (n > kMaxBytes) {
      ::operator delete(p);
      return;
    }
    const std::size_t c = class_of(n);
    std::lock_guard<std::mutex> lock(mu_);
    auto* b = static_cast<FreeBlock*>(p);
    b->next = free_[c];
    free_[c] = b;
    EMBER_POOL_POISON(b, (c + 1) * kGranule);
  }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  static std::size_t class_of(std::size_t n) { return (n + kGranule - 1) / kGranule - (n > 0); }

  // Carves a new chunk into blocks of class c (called with the lock held).
  void refill(std::size_t c) {
    const std::size_t size = (c + 1) * kGranule;
    char* chunk = static_cast<char*>(::operator new(size * kBlocksPerChunk));
    chunks_.push_back(chunk);
    for (std::size_t i = kBlocksPerChunk; i-- > 0;) {
      auto* b = reinterpret_cast<FreeBlock*>(chunk + i * size);
      b->next = free_[c];
      free_[c] = b;
      EMBER_POOL_POISON(b, size);
    }
  }

  std::mutex mu_;
  FreeBlock* free_[kMaxBytes / kGranule] = {};
  std::vector<char*> chunks_;  // kept for the life of the program
};

/// A standard allocator over SmallObjectPool (stateless: all instances are equal).
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (alignof(T) > SmallObjectPool::kGranule)
      return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(alignof(T))));
    return static_cast<T*>(SmallObjectPool::instance().allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (alignof(T) > SmallObjectPool::kGranule)
      ::operator delete(p, std::align_val_t(alignof(T)));
    else
      SmallObjectPool::instance().deallocate(p, n * sizeof(T));
  }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const PoolAllocator<U>&) const noexcept {
    return false;
  }
};

/// `std::make_shared<T>(args...)` with the object and its control block from the pool.
template <class T, class... Args>
std::shared_ptr<T> make_pooled(Args&&... args) {
  return std::allocate_shared<T>(PoolAllocator<T>(), std::forward<Args>(args)...);
}

/// A vector whose buffer comes from the pool (short per-op lists: node inputs, gradients).
template <class T>
using PooledVector = std::vector<T, PoolAllocator<T>>;

}  // namespace ember::detail
