// ember/backend/cpu/cpu_info.hpp — which code serves ember's work on this CPU: the CPU and its
// features, the library and instruction set that run the float products, and the version of
// ember's own kernels (backend/cpu/isa.hpp). `ember::cpu_info()` returns it; the examples print
// it with --verbose, the benchmarks in their context, and the CTest ember_cpu_dispatch fails when
// a CPU with AVX2 or AVX-512 is served by a generic (SSE-only) path.
//
// The products' library is fixed when the program is compiled (backend/cpu/gemm.hpp): oneDNN
// (EMBER_HAVE_DNNL) reports the instruction set its JIT kernels may use
// (dnnl_get_effective_cpu_isa); OpenBLAS reports the kernel set it picked at load time
// (openblas_get_corename: a CPU it does not know gets "Prescott", its generic SSE3 kernels);
// Eigen's own kernels use what the compiler flags enabled (EIGEN_VECTORIZE_*). The first use of
// the CPU kernel table prints one warning on stderr when the products or ember's kernels run a
// generic path on a CPU that has AVX2 (`generic_fallback()`), with what to do about it.
#pragma once

#include <ember/backend/cpu/gemm.hpp>
#include <ember/core/cpu_features.hpp>

#include <Eigen/Core>

#include <cstdio>
#include <string>

#if defined(EMBER_HAVE_OPENBLAS)
extern "C" char* openblas_get_corename(void);
#endif

namespace ember {

/// What serves ember's float work on this CPU (see the header comment).
struct CpuInfo {
  CpuFeatures features;     ///< the CPU, as CPUID and XGETBV report it
  std::string gemm;         ///< the library of the float products, with its version
  std::string gemm_kernels;  ///< the kernel set / instruction set that library runs here
  bool gemm_generic = false;  ///< the products run pre-AVX2 code
  CpuIsa kernels = CpuIsa::generic;  ///< the version of ember's own kernels (cpu_isa())
  bool bf16_products = false;  ///< MatmulPrecision::medium runs bf16 products (gemm_bf16.hpp)
  /// The kernel of the inference products on packed weights (packed_gemm.hpp), as oneDNN names
  /// the implementation it picked for a 16 × 384 · 384 × 384 product ("brg:avx512_core");
  /// empty without oneDNN (inference products then run as the others).
  std::string inference_products;
  bool inference_generic = false;  ///< that kernel is oneDNN's reference (non-JIT) code

  /// True when a CPU with AVX2 (or AVX-512) is served by a generic path, products or kernels.
  bool generic_fallback() const {
    const bool has_avx2 = features.best_isa() != CpuIsa::generic;
    return has_avx2 && (gemm_generic || inference_generic || kernels == CpuIsa::generic);
  }
  /// A few lines for logs: the CPU, its features, the products' library, ember's kernels.
  std::string summary() const {
    std::string s = "cpu: " + (features.model_name.empty() ? features.vendor : features.model_name) +
                    " (family " + std::to_string(features.family) + " model " +
                    std::to_string(features.model) + ")\n";
    s += "cpu features: " + features.flags() + "\n";
    s += "float products: " + gemm + ", kernels " + gemm_kernels +
         (gemm_generic ? " (generic)" : "") + "\n";
    if (!inference_products.empty())
      s += "inference products (packed weights): oneDNN matmul " + inference_products +
           (inference_generic ? " (generic)" : "") + "\n";
    s += std::string("ember kernels: ") + to_string(kernels) + "\n";
    s += std::string("bf16 products (set_float32_matmul_precision medium): ") +
         (bf16_products ? (features.amx_bf16 ? "yes, AMX-BF16" : "yes, AVX512-BF16")
                        : "no (fp32)") + "\n";
    return s;
  }
};

namespace detail {

#if defined(EMBER_HAVE_DNNL)
inline const char* dnnl_isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}
#endif

/// OpenBLAS kernel sets that use AVX2 or AVX-512 (the rest are SSE-era or generic).
inline bool openblas_core_is_modern(const std::string& core) {
  for (const char* name : {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"}) {
    std::string lower;
    for (char ch : core) lower += char(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    if (lower == name) return true;
  }
  return false;
}

inline CpuInfo detect_cpu_info() {
  CpuInfo info;
  info.features = cpu_features();
  info.kernels = cpu_isa();
  info.bf16_products = backend::cpu::bf16_products_available();
#if defined(EMBER_HAVE_DNNL)
  const dnnl_version_t* v = dnnl_version();
  info.gemm = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
              std::to_string(v->patch) + " (dnnl_sgemm)";
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  info.gemm_kernels = dnnl_isa_name(isa);
  info.gemm_generic = isa == dnnl_cpu_isa_sse41 || isa == dnnl_cpu_isa_avx;
  backend::cpu::detail::MatmulKey key;
  key.m = 16, key.n = 384, key.k = 384, key.lda = 384, key.ldc = 384, key.packed_b = true;
  info.inference_products = backend::cpu::detail::DnnlMatmuls::get().primitive(key)->pd.impl_info_str();
  info.inference_generic = info.inference_products.rfind("ref", 0) == 0;
#elif defined(EIGEN_USE_BLAS) && defined(EMBER_HAVE_OPENBLAS)
  info.gemm = "OpenBLAS (sgemm)";
  const char* core = openblas_get_corename();
  info.gemm_kernels = core ? core : "unknown";
  info.gemm_generic = !openblas_core_is_modern(info.gemm_kernels);
#elif defined(EIGEN_USE_BLAS)
  info.gemm = "a BLAS (sgemm)";
  info.gemm_kernels = "unknown";
#else
  info.gemm = "Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
              std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION);
#if defined(EIGEN_VECTORIZE_AVX512)
  info.gemm_kernels = "avx512";
#elif defined(EIGEN_VECTORIZE_AVX2)
  info.gemm_kernels = "avx2";
#else
  info.gemm_kernels = "sse2";
  info.gemm_generic = true;
#endif
#endif
  return info;
}

/// Prints, once per process, what a CPU with AVX2 loses to a generic path and how to fix it.
inline void warn_if_generic(const CpuInfo& info) {
  if (!info.generic_fallback()) return;
  std::fprintf(stderr,
               "ember: warning: this CPU has %s, but %s run generic (SSE-only) code, several times "
               "slower:\n%s",
               to_string(info.features.best_isa()),
               info.gemm_generic        ? "the float products"
               : info.inference_generic ? "the inference products"
                                        : "ember's kernels",
               info.summary().c_str());
  if (info.inference_generic && !info.gemm_generic)
    std::fprintf(stderr, "ember: oneDNN found no JIT matmul kernel for this CPU (ONEDNN_MAX_CPU_ISA "
                         "set?)\n");
  else if (info.gemm_generic)
    std::fprintf(stderr,
                 "ember: install oneDNN (Debian: libdnnl-dev) and rebuild with EMBER_USE_DNNL=ON, "
                 "or tell OpenBLAS the CPU (e.g. OPENBLAS_CORETYPE=SkylakeX or Haswell)\n");
  else
    std::fprintf(stderr, "ember: EMBER_CPU_ISA=%s asked for this; unset it\n",
                 to_string(info.kernels));
}

}  // namespace detail

/// What serves ember's float work on this CPU (detected once per process).
inline const CpuInfo& cpu_info() {
  static const CpuInfo info = detail::detect_cpu_info();
  return info;
}

}  // namespace ember
