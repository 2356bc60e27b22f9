// ember/backend/cpu/kernels.hpp — the CPU backend's tables: every entry of backend/kernel_list.hpp
// pointed at its CPU kernel (backend/cpu/*.hpp), and the CPU's DeviceRuntime.
//
// The table is built once, at first use (a function-local static), by the X-macro lists — an
// entry without a CPU kernel of the declared signature does not compile. This is also the place
// where a run-time choice among several implementations of an entry goes. Today the choices are
// made one level down: each of ember's own kernels picks its AVX-512, AVX2 or generic body from
// cpu_isa() (backend/cpu/isa.hpp), and the products' library is fixed at compile time
// (backend/cpu/gemm.hpp); filling the table prints a warning if either runs generic code on a CPU
// with AVX2 (backend/cpu/cpu_info.hpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include <ember/backend/cpu/attention.hpp>
#include <ember/backend/cpu/cpu_info.hpp>
#include <ember/backend/cpu/cross_entropy.hpp>
#include <ember/backend/cpu/dropout.hpp>
#include <ember/backend/cpu/elementwise.hpp>
#include <ember/backend/cpu/embedding.hpp>
#include <ember/backend/cpu/gelu.hpp>
#include <ember/backend/cpu/gemm.hpp>
#include <ember/backend/cpu/layer_norm.hpp>
#include <ember/backend/cpu/optimizer.hpp>
#include <ember/backend/cpu/reduce.hpp>
#include <ember/backend/cpu/softmax.hpp>
#include <ember/backend/cpu/strided.hpp>
#include <ember/backend/device_runtime.hpp>
#include <ember/backend/kernel_list.hpp>
#include <ember/core/error.hpp>

namespace ember::backend::cpu {

/// The CPU kernels for T: every entry for float and double, the any-dtype entries otherwise.
template <class T>
inline const Kernels<T>& kernel_table() {
  static const Kernels<T> table = [] {
    static const bool warned = (::ember::detail::warn_if_generic(::ember::cpu_info()), true);
    (void)warned;
    Kernels<T> t;
#define EMBER_CPU_ENTRY(ret, name, params) t.name = &cpu::name<T>;
    EMBER_KERNELS_ANY_DTYPE(EMBER_CPU_ENTRY)
    if constexpr (std::is_floating_point_v<T>) {
      EMBER_KERNELS_FLOAT(EMBER_CPU_ENTRY)
    }
#undef EMBER_CPU_ENTRY
    return t;
  }();
  return table;
}

/// The CPU's element-size services: strided copies and fills as moves of 1/2/4/8-byte words.
class CpuRuntime final : public DeviceRuntime {
 public:
  int device_count() override { return 1; }
  const char* device_name(int) override { return "cpu"; }
  void synchronize(int) override {}
  void copy(void* dst, Device, const void* src, Device, std::size_t nbytes) override {
    if (nbytes > 0) std::memcpy(dst, src, nbytes);
  }
  void fill(int, void* out, const Layout& layout, const void* value, int elem_size) override {
    by_size(elem_size, [&](auto word) {
      using W = decltype(word);
      W v;
      std::memcpy(&v, value, sizeof(W));
      W* p = static_cast<W*>(out);
      if (layout.is_contiguous()) {
        const int64_t n = layout.numel();
        parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i) p[i] = v;
        });
        return;
      }
      const Shape st = layout.stride_shape();
      const Shape* s[1] = {&st};
      strided_walk<1>(layout.shape(), s, [&](int64_t i) { p[i] = v; });
    });
  }
  void copy_strided(int, const void* src, const Layout& src_layout, void* dst,
                    const Layout& dst_layout, int elem_size) override {
    by_size(elem_size, [&](auto word) {
      using W = decltype(word);
      const Shape shape = src_layout.shape(), ss = src_layout.stride_shape();
      const Shape ds = dst_layout.ndim == src_layout.ndim ? dst_layout.stride_shape()
                                                          : contiguous_strides(shape);
      cpu::copy_strided(shape, static_cast<const W*>(src), ss, static_cast<W*>(dst), ds,
                        [](W v) { return v; });
    });
  }
  MemoryStats memory_stats(int) override { return cpu_allocator().stats(); }
  void* allocate_pinned(std::size_t) override {
    EMBER_FAIL("pin_memory: pinned memory is a CUDA feature; ", backend::detail::cuda_not_built_message());
  }
  void free_pinned(void*) noexcept override {}
  void empty_cache() override {}
  // `medium`: bf16 products where the CPU has bf16 arithmetic (backend/cpu/gemm_bf16.hpp);
  // `high` (TF32 on a GPU) is fp32 here.
  void set_float32_matmul_precision(MatmulPrecision precision) override {
    matmul_precision_flag().store(int(precision));
  }
  MatmulPrecision float32_matmul_precision() override {
    return MatmulPrecision(matmul_precision_flag().load());
  }

 private:
  template <class F>
  static void by_size(int elem_size, F f) {
    switch (elem_size) {
      case 1: return f(uint8_t{});
      case 2: return f(uint16_t{});
      case 4: return f(uint32_t{});
      case 8: return f(uint64_t{});
      default: EMBER_FAIL("copy: unsupported element size ", elem_size);
    }
  }
};

/// The CPU runtime (one per program).
inline DeviceRuntime& runtime() {
  static CpuRuntime r;
  return r;
}

}  // namespace ember::backend::cpu
