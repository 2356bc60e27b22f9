// ember/backend/cpu/isa.hpp — one kernel body, compiled for three instruction-set levels in every
// build, and the run-time choice among them.
//
// A header-only library is compiled with its user's flags, and a plain `-O2`/`-O3` build targets
// baseline x86-64 (SSE2): without this, ember's own kernels would run 128-bit code on a CPU with
// AVX-512. GCC's and Clang's `target` attribute compiles one function for a wider instruction set
// than the rest of the program; a body marked EMBER_ALWAYS_INLINE is inlined into each versioned
// function and vectorized there for that level (`#pragma omp simd` in the bodies makes the
// vectorization independent of -O2's cost model and allows the reductions to be reordered). The
// version is chosen from `ember::cpu_isa()` (core/cpu_features.hpp: CPUID, once per process), so
// a binary built on one machine runs the best version its CPU has on another.
//
//   template <class T> EMBER_ALWAYS_INLINE void scale_body(const T* x, T* y, int64_t n) {...}
//   EMBER_ISA_VERSIONS(scale, (const T* x, T* y, int64_t n), (x, y, n))
//   ...  detail::scale_for<T>(cpu_isa())(x, y, n);   // the AVX-512, AVX2 or generic version
//
// Only the innermost work (a span or a row) is versioned: the parallel loop around it stays in
// ordinary code, because an OpenMP region is outlined into a function of its own that would not
// inherit the target. Each call handles thousands of elements, so the indirect call is free.
// In translation units compiled by nvcc (whose front end knows neither the pragma nor the target
// attribute) only the generic version exists. Levels: generic = the compiler's baseline; avx2 = AVX2+FMA+F16C (Haswell, Zen); avx512 =
// AVX-512 F/DQ/BW/VL with 512-bit vectors preferred (Skylake-SP and later, Zen 4).
#pragma once

#include <ember/core/cpu_features.hpp>

// GCC keeps a float comparison (a select such as `x < lo ? lo : x`) as a branch, so the loop does
// not vectorize, unless it may assume that floating-point operations do not trap; ember never
// enables floating-point exceptions. The bodies, their helpers (backend/cpu/vec_math.hpp) and
// their versions are therefore defined between EMBER_KERNEL_MATH_BEGIN and EMBER_KERNEL_MATH_END,
// which compile them with -fno-trapping-math (Clang's default) and nothing else of the user's.
// A region, not a per-function attribute: the option has to hold for the helpers as they are
// inlined, and GCC does not inline a function with trapping math into one without.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define EMBER_KERNEL_MATH_BEGIN \
  _Pragma("GCC push_options") _Pragma("GCC optimize(\"no-trapping-math\")")
#define EMBER_KERNEL_MATH_END _Pragma("GCC pop_options")
#else
#define EMBER_KERNEL_MATH_BEGIN
#define EMBER_KERNEL_MATH_END
#endif

#if defined(__GNUC__) && EMBER_X86_64 && !defined(__CUDACC__)
#define EMBER_ALWAYS_INLINE inline __attribute__((always_inline))
#define EMBER_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#if defined(__clang__)  // Clang refuses prefer-vector-width in target(); min_vector_width says it
#define EMBER_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,f16c"), min_vector_width(512)))
#else
#define EMBER_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,f16c,prefer-vector-width=512")))
#endif
#define EMBER_ISA_DISPATCH 1
#else
#define EMBER_ALWAYS_INLINE inline
#define EMBER_TARGET_AVX2
#define EMBER_TARGET_AVX512
#define EMBER_ISA_DISPATCH 0
#endif

/// Defines `name##_generic<T>`, `name##_avx2<T>` and `name##_avx512<T>` (each runs the always-
/// inline `name##_body<T>` with `params`, forwarding `args`) and `name##_for<T>(CpuIsa)`, which
/// returns the version for that level. Use inside the kernel's namespace.
#define EMBER_ISA_VERSIONS(name, params, args)                                   \
  template <class T>                                                             \
  void name##_generic params {                                                 \
    name##_body<T> args;                                                         \
  }                                                                              \
  template <class T>                                                             \
  EMBER_TARGET_AVX2 void name##_avx2 params {                                \
    name##_body<T> args;                                                         \
  }                                                                              \
  template <class T>                                                             \
  EMBER_TARGET_AVX512 void name##_avx512 params {                            \
    name##_body<T> args;                                                         \
  }                                                                              \
  template <class T>                                                             \
  inline auto name##_for(::ember::CpuIsa isa)->decltype(&name##_generic<T>) {    \
    if (EMBER_ISA_DISPATCH && isa == ::ember::CpuIsa::avx512) return &name##_avx512<T>; \
    if (EMBER_ISA_DISPATCH && isa == ::ember::CpuIsa::avx2) return &name##_avx2<T>;     \
    return &name##_generic<T>;                                                   \
  }
