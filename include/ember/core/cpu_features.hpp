// ember/core/cpu_features.hpp — what the x86-64 CPU this process runs on can execute, read by
// ember itself (CPUID and XGETBV), and the instruction-set level ember's own CPU kernels run at.
//
// Why ember reads CPUID itself instead of trusting a library: Debian's OpenBLAS 0.3.21 does not
// know Intel CPUs newer than itself and runs its generic SSE3 ("Prescott") kernels on them, 2–4×
// slower, without a word. ember's checks (ember::cpu_info(), the CTest ember_cpu_dispatch) compare
// what each library chose against what the CPU can do.
//
// A feature counts only when both the CPU has it (CPUID) and the operating system saves its
// registers on a context switch (XCR0 via XGETBV: bits 1–2 for the 256-bit AVX state, 5–7 for
// AVX-512's, 17–18 for AMX's tiles). Sources: Intel 64 and IA-32 Architectures Software
// Developer's Manual, vol. 2A, CPUID leaf 1 (ECX), leaf 7 sub-leaf 0 (EBX, ECX, EDX) and
// sub-leaf 1 (EAX); Intel's "Intel AVX-512 ... detection" guidance (OSXSAVE, then XCR0).
//
// `cpu_isa()` is the level at which ember's own element-wise kernels (GELU, softmax, LayerNorm,
// ...) run: each has a generic (SSE2, any x86-64), an AVX2+FMA and an AVX-512 version compiled
// into every build (backend/cpu/isa.hpp), and the best one the CPU supports is chosen at first
// use. The environment variable EMBER_CPU_ISA=generic|avx2|avx512 lowers it (never raises it
// above what the CPU has), to compare the versions or to reproduce a result from another CPU.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#define EMBER_X86_64 1
#include <cpuid.h>
#else
#define EMBER_X86_64 0
#endif

namespace ember {

/// The instruction-set levels of ember's own CPU kernels, lowest first.
enum class CpuIsa { generic = 0, avx2 = 1, avx512 = 2 };

inline const char* to_string(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::avx512: return "avx512";
    case CpuIsa::avx2: return "avx2";
    default: return "generic";
  }
}

/// The CPU's name and the features ember cares about (each usable: CPU and OS support it).
struct CpuFeatures {
  std::string vendor;      ///< "GenuineIntel", "AuthenticAMD", ... (empty off x86-64)
  std::string model_name;  ///< /proc/cpuinfo's "model name" (empty when unreadable)
  int family = 0, model = 0;  ///< display family and model (CPUID leaf 1)
  bool sse2 = false, avx = false, fma = false, f16c = false, avx2 = false;
  bool avx512f = false, avx512dq = false, avx512bw = false, avx512vl = false;
  bool avx512_vnni = false, avx512_bf16 = false;
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;

  /// The highest level of ember's kernels this CPU can run: avx512 needs F+DQ+BW+VL (the
  /// Skylake-SP set), avx2 needs AVX2+FMA+F16C (Haswell and later, every Zen).
  CpuIsa best_isa() const {
    if (avx512f && avx512dq && avx512bw && avx512vl && avx2 && fma) return CpuIsa::avx512;
    if (avx2 && fma && f16c) return CpuIsa::avx2;
    return CpuIsa::generic;
  }
  /// The features above as one line, e.g. "avx2 fma avx512f avx512bw avx512_bf16 amx_bf16".
  std::string flags() const {
    std::string s;
    auto add = [&](bool on, const char* name) {
      if (!on) return;
      if (!s.empty()) s += ' ';
      s += name;
    };
    add(sse2, "sse2");
    add(avx, "avx");
    add(fma, "fma");
    add(f16c, "f16c");
    add(avx2, "avx2");
    add(avx512f, "avx512f");
    add(avx512dq, "avx512dq");
    add(avx512bw, "avx512bw");
    add(avx512vl, "avx512vl");
    add(avx512_vnni, "avx512_vnni");
    add(avx512_bf16, "avx512_bf16");
    add(amx_tile, "amx_tile");
    add(amx_bf16, "amx_bf16");
    add(amx_int8, "amx_int8");
    return s;
  }
};

namespace detail {

inline CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#if EMBER_X86_64
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned max_leaf = a;
  char vendor[13] = {};
  std::memcpy(vendor + 0, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  f.vendor = vendor;
  auto bit = [](unsigned reg, int i) { return ((reg >> i) & 1u) != 0; };
  __get_cpuid(1, &a, &b, &c, &d);
  const unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
  f.family = int(base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family);
  f.model = int(base_family == 0x6 || base_family == 0xf ? (((a >> 16) & 0xf) << 4) | base_model
                                                          : base_model);
  f.sse2 = bit(d, 26);
  const bool osxsave = bit(c, 27);
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (uint64_t(hi) << 32) | lo;
  }
  const bool os_avx = (xcr0 & 0x6) == 0x6;            // XMM and YMM state
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM0–15 high, ZMM16–31
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;     // XTILECFG, XTILEDATA
  f.avx = os_avx && bit(c, 28);
  f.fma = os_avx && bit(c, 12);
  f.f16c = os_avx && bit(c, 29);
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = os_avx && bit(b, 5);
    f.avx512f = os_avx512 && bit(b, 16);
    f.avx512dq = os_avx512 && bit(b, 17);
    f.avx512bw = os_avx512 && bit(b, 30);
    f.avx512vl = os_avx512 && bit(b, 31);
    f.avx512_vnni = os_avx512 && bit(c, 11);
    f.amx_bf16 = os_amx && bit(d, 22);
    f.amx_tile = os_amx && bit(d, 24);
    f.amx_int8 = os_amx && bit(d, 25);
    unsigned sub1[4] = {};  // leaf 7 sub-leaf 1: EAX, EBX, ECX, EDX
    __cpuid_count(7, 1, sub1[0], sub1[1], sub1[2], sub1[3]);
    f.avx512_bf16 = os_avx512 && bit(sub1[0], 5);
  }
#endif
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        f.model_name = line.substr(line.find_first_not_of(" \t", colon + 1));
      }
      break;
    }
  }
  return f;
}

/// The level chosen for ember's kernels: the CPU's best, lowered by EMBER_CPU_ISA if set.
inline CpuIsa choose_cpu_isa(const CpuFeatures& f, const char* env) {
  CpuIsa isa = f.best_isa();
  if (env == nullptr || *env == '\0') return isa;
  const std::string want(env);
  CpuIsa asked = isa;
  if (want == "generic") asked = CpuIsa::generic;
  else if (want == "avx2") asked = CpuIsa::avx2;
  else if (want == "avx512") asked = CpuIsa::avx512;
  return int(asked) < int(isa) ? asked : isa;
}

}  // namespace detail

/// The features of the CPU this process runs on (detected once).
inline const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detail::detect_cpu_features();
  return f;
}

/// The level ember's own CPU kernels run at: the CPU's best, or lower if EMBER_CPU_ISA asks
/// (read once, at the first call).
inline CpuIsa cpu_isa() {
  static const CpuIsa isa = detail::choose_cpu_isa(cpu_features(), std::getenv("EMBER_CPU_ISA"));
  return isa;
}

}  // namespace ember
