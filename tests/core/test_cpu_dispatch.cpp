// Tests of core/cpu_features.hpp and backend/cpu/cpu_info.hpp: ember's own CPUID reading agrees
// with the kernel's (/proc/cpuinfo), EMBER_CPU_ISA only lowers the level, OpenBLAS's kernel
// names are classified, and — the check the CTest ember_cpu_dispatch runs on its own — a CPU with
// AVX2 or AVX-512 is served by neither generic products nor generic ember kernels.
#include <ember/backend/cpu/cpu_info.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

using namespace ember;

namespace {
/// The "flags" line of /proc/cpuinfo as a set (empty when unreadable).
std::set<std::string> proc_cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w) flags.insert(w);
    break;
  }
  return flags;
}
}  // namespace

TEST_CASE("cpu_dispatch: CPUID features agree with the kernel's /proc/cpuinfo flags") {
  const auto flags = proc_cpu_flags();
  if (flags.empty() || !EMBER_X86_64) {
    MESSAGE("no /proc/cpuinfo flags (or not x86-64): nothing to compare");
    return;
  }
  const CpuFeatures& f = cpu_features();
  auto has = [&](const char* name) { return flags.count(name) > 0; };
  CHECK(f.sse2 == has("sse2"));
  CHECK(f.avx == has("avx"));
  CHECK(f.fma == has("fma"));
  CHECK(f.f16c == has("f16c"));
  CHECK(f.avx2 == has("avx2"));
  CHECK(f.avx512f == has("avx512f"));
  CHECK(f.avx512dq == has("avx512dq"));
  CHECK(f.avx512bw == has("avx512bw"));
  CHECK(f.avx512vl == has("avx512vl"));
  CHECK(f.avx512_vnni == has("avx512_vnni"));
  CHECK(f.avx512_bf16 == has("avx512_bf16"));
  CHECK(f.amx_tile == has("amx_tile"));
  CHECK(f.amx_bf16 == has("amx_bf16"));
  CHECK(f.amx_int8 == has("amx_int8"));
  CHECK(f.family > 0);
}

TEST_CASE("cpu_dispatch: no generic path on a CPU with AVX2 or AVX-512") {
  const CpuInfo& info = cpu_info();
  MESSAGE("\n" << info.summary());
  const CpuIsa best = info.features.best_isa();
  const char* env = std::getenv("EMBER_CPU_ISA");
  if (env == nullptr || *env == '\0') {
    CHECK(info.kernels == best);  // ember's kernels run the best version the CPU has
  }
  if (best != CpuIsa::generic) {
    CHECK_MESSAGE(!info.gemm_generic, "the float products run generic code: " << info.gemm << ", "
                                                                             << info.gemm_kernels);
    CHECK_MESSAGE(!info.inference_generic, "the inference products run oneDNN's reference code: "
                                               << info.inference_products);
    CHECK_MESSAGE(info.kernels != CpuIsa::generic, "ember's kernels run their generic version");
    CHECK_FALSE(info.generic_fallback());
  }
}

TEST_CASE("cpu_dispatch: EMBER_CPU_ISA lowers the level, never raises it") {
  CpuFeatures avx512;
  avx512.avx2 = avx512.fma = avx512.f16c = true;
  avx512.avx512f = avx512.avx512dq = avx512.avx512bw = avx512.avx512vl = true;
  CpuFeatures avx2 = avx512;
  avx2.avx512f = avx2.avx512dq = avx2.avx512bw = avx2.avx512vl = false;
  const CpuFeatures old{};  // SSE2 only
  CHECK(avx512.best_isa() == CpuIsa::avx512);
  CHECK(avx2.best_isa() == CpuIsa::avx2);
  CHECK(old.best_isa() == CpuIsa::generic);
  CHECK(detail::choose_cpu_isa(avx512, nullptr) == CpuIsa::avx512);
  CHECK(detail::choose_cpu_isa(avx512, "") == CpuIsa::avx512);
  CHECK(detail::choose_cpu_isa(avx512, "avx2") == CpuIsa::avx2);
  CHECK(detail::choose_cpu_isa(avx512, "generic") == CpuIsa::generic);
  CHECK(detail::choose_cpu_isa(avx2, "avx512") == CpuIsa::avx2);     // never above the CPU
  CHECK(detail::choose_cpu_isa(old, "avx2") == CpuIsa::generic);
  CHECK(detail::choose_cpu_isa(avx512, "sse9") == CpuIsa::avx512);   // unknown: ignored
  // A generic fallback is reported only where the CPU could do better.
  CpuInfo info;
  info.features = avx2;
  info.kernels = CpuIsa::avx2;
  CHECK_FALSE(info.generic_fallback());
  info.gemm_generic = true;
  CHECK(info.generic_fallback());
  info.gemm_generic = false;
  info.inference_generic = true;
  CHECK(info.generic_fallback());
  info.features = old;
  CHECK_FALSE(info.generic_fallback());
}

TEST_CASE("cpu_dispatch: OpenBLAS kernel sets with and without AVX2") {
  CHECK(detail::openblas_core_is_modern("SkylakeX"));
  CHECK(detail::openblas_core_is_modern("Haswell"));
  CHECK(detail::openblas_core_is_modern("Zen"));
  CHECK(detail::openblas_core_is_modern("SAPPHIRERAPIDS"));
  CHECK_FALSE(detail::openblas_core_is_modern("Prescott"));
  CHECK_FALSE(detail::openblas_core_is_modern("Sandybridge"));
  CHECK_FALSE(detail::openblas_core_is_modern(""));
}
