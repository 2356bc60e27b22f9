// bench_gemm: ember::matmul (float) against OpenBLAS's cblas_sgemm on the BERT-base GEMM shapes
// and on the attention batch, at 1 and 2 threads, and the CPU's FMA peak (fma_peak/<threads>). Reports GFLOP/s = 2·M·N·K per product / wall
// time (counter "GFLOP/s"). Results, commands and the machine: docs/performance.md, "GEMM".
//
//   ember_matmul/<shape>/<threads>       ember::matmul; output from the caching allocator, so
//                                        every iteration after the first reuses the same block
//   ember_linear/<shape>/<threads>       ember::linear(x [M, K], W [N, K], b [N]) = x·Wᵀ + b,
//                                        inference (no graph): W packed once and reused
//                                        (backend/cpu/packed_gemm.hpp)
//   ember_linear_grad/<shape>/<threads>  the same with W.requires_grad (the call records its
//                                        backward): the training path, dnnl_sgemm per call
//   ember_linear_int8/<shape>/<threads>  ember::linear_dynamic_int8: int8 products, W quantized
//                                        once, x per call (backend/cpu/int8_gemm.hpp)
//   cblas_sgemm/<shape>/<threads>        OpenBLAS, its own pthread pool set to <threads>
//   cblas_sgemm_loop/attn/<threads>      the batch as a loop of cblas_sgemm, OpenBLAS threaded
//   cblas_sgemm_omp_batch/attn/<threads> the batch split across OpenMP threads, OpenBLAS set to
//                                        1 thread (set before the region: the setting is global)
// Shapes: M×K×N = 4096×768×768 (QKV/output projections, batch 32 × seq 128), 4096×768×3072
// (FFN up), 4096×3072×768 (FFN down), and attn = 384 × (128×64 · 64×128) (batch 32 × 12 heads,
// scores q·kᵀ); for ember_linear also a served sentence through MiniLM (16 rows: 16×384×384,
// 16×384×1536, 16×1536×384) and a batch of 8 × 16 tokens (128×384×1536). Built twice: bench_gemm (ember as configured: EIGEN_USE_BLAS when OpenBLAS was
// found) and bench_gemm_eigen (ember on Eigen's own kernels).
#include <ember/backend/cpu/cpu_info.hpp>
#include <ember/backend/cpu/isa.hpp>
#include <ember/ops/matmul.hpp>

#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <omp.h>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int num_threads);  // OpenBLAS extension (cblas.h)

namespace {


struct GemmShape {
  const char* name;
  int64_t m, k, n;
};
constexpr GemmShape kShapes[] = {{"4096x768x768", 4096, 768, 768},
                                 {"4096x768x3072", 4096, 768, 3072},
                                 {"4096x3072x768", 4096, 3072, 768}};
constexpr GemmShape kServeShapes[] = {{"16x384x384", 16, 384, 384},
                                      {"16x384x1536", 16, 384, 1536},
                                      {"16x1536x384", 16, 1536, 384},
                                      {"128x384x1536", 128, 384, 1536}};
constexpr int64_t kBatch = 384, kSeq = 128, kHead = 64;

void set_threads(int n) {
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

void report(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iter * 1e-9 * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

// ---- the FMA peak: what the cores can do, to put the products' GFLOP/s in proportion ---------
// Each thread runs 12 independent chains acc = acc·m + a on full-width vectors (12 > the FMA
// latency × ports, so the chains keep both FMA ports busy), 2 flops per lane per FMA. Compiled
// for the widest level this CPU has (backend/cpu/isa.hpp's targets); GCC contracts a·b + c into
// one FMA under its default -ffp-contract=fast (GNU dialect).
typedef float FloatVec8 __attribute__((vector_size(32)));   // one AVX2 register
typedef float FloatVec16 __attribute__((vector_size(64)));  // one AVX-512 register

template <class V>
EMBER_ALWAYS_INLINE float fma_chains(int64_t iters) {
  constexpr int kLanes = int(sizeof(V) / sizeof(float));
  V acc[12];
  const V zero = {};
  const V m = zero + 0.999999f, a = zero + 1e-6f;
  for (int j = 0; j < 12; ++j) acc[j] = m * float(j);
  for (int64_t i = 0; i < iters; ++i)
    for (int j = 0; j < 12; ++j) acc[j] = acc[j] * m + a;
  float lanes[kLanes], sum = 0;
  for (int j = 0; j < 12; ++j) {
    std::memcpy(lanes, &acc[j], sizeof lanes);
    for (int l = 0; l < kLanes; ++l) sum += lanes[l];
  }
  return sum;
}
EMBER_TARGET_AVX512 __attribute__((noinline)) float fma_chains_avx512(int64_t iters) {
  return fma_chains<FloatVec16>(iters);
}
EMBER_TARGET_AVX2 __attribute__((noinline)) float fma_chains_avx2(int64_t iters) {
  return fma_chains<FloatVec8>(iters);
}

void BM_fma_peak(benchmark::State& state) {
  const int threads = int(state.range(0));
  const ember::CpuIsa isa = ember::cpu_isa();
  const int lanes = isa == ember::CpuIsa::avx512 ? 16 : isa == ember::CpuIsa::avx2 ? 8 : 0;
  if (lanes == 0) {
    state.SkipWithError("no AVX2 or AVX-512: no FMA peak to measure");
    return;
  }
  constexpr int64_t kIters = 1 << 22;
  float sink = 0;
  for (auto _ : state) {
#pragma omp parallel for num_threads(threads) reduction(+ : sink)
    for (int t = 0; t < threads; ++t)
      sink += lanes == 16 ? fma_chains_avx512(kIters) : fma_chains_avx2(kIters);
  }
  benchmark::DoNotOptimize(sink);
  report(state, double(threads) * double(kIters) * 12.0 * double(lanes) * 2.0);
}

ember::Tensor<float> random(const ember::Shape& s, uint64_t seed) {
  ember::Generator gen(seed);
  return ember::randn<float>(s, gen);
}

void BM_ember_matmul(benchmark::State& state, GemmShape s) {
  set_threads(int(state.range(0)));
  auto a = random({s.m, s.k}, 1), b = random({s.k, s.n}, 2);
  { auto warm = ember::matmul(a, b); }  // puts the output block into the allocator's cache
  for (auto _ : state) {
    auto c = ember::matmul(a, b);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  report(state, 2.0 * s.m * s.n * s.k);
}

// linear(x, W, b) = x·Wᵀ + b with W stored [N, K] (PyTorch layout): Wᵀ read in place
// (column-major operand), output initialized with the bias and accumulated onto (β = 1).
// How BM_ember_linear runs: `inference` on W packed once (the warm-up call packs it), `grad` with
// W requiring grad (each call records its backward and runs on dnnl_sgemm), `int8` through
// linear_dynamic_int8 (W quantized once by the warm-up call, x per call).
enum class LinearMode { inference, grad, int8 };

void BM_ember_linear(benchmark::State& state, GemmShape s, LinearMode mode) {
  set_threads(int(state.range(0)));
  auto x = random({s.m, s.k}, 1), w = random({s.n, s.k}, 2), b = random({s.n}, 5);
  if (mode == LinearMode::grad) w.requires_grad_();
  auto run = [&] {
    return mode == LinearMode::int8 ? ember::linear_dynamic_int8(x, w, b) : ember::linear(x, w, b);
  };
  { auto warm = run(); }
  for (auto _ : state) {
    auto y = run();
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  report(state, 2.0 * s.m * s.n * s.k);
}

void BM_cblas_sgemm(benchmark::State& state, GemmShape s) {
  set_threads(int(state.range(0)));
  auto a = random({s.m, s.k}, 1), b = random({s.k, s.n}, 2);
  std::vector<float> c(std::size_t(s.m * s.n));
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(s.m), int(s.n), int(s.k), 1.0f,
                a.data(), int(s.k), b.data(), int(s.n), 0.0f, c.data(), int(s.n));
    benchmark::ClobberMemory();
  }
  report(state, 2.0 * s.m * s.n * s.k);
}

constexpr double kAttnFlops = 2.0 * kBatch * kSeq * kSeq * kHead;

void BM_ember_matmul_attn(benchmark::State& state) {
  set_threads(int(state.range(0)));
  auto q = random({kBatch, kSeq, kHead}, 3), kt = random({kBatch, kHead, kSeq}, 4);
  { auto warm = ember::matmul(q, kt); }
  for (auto _ : state) {
    auto c = ember::matmul(q, kt);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  report(state, kAttnFlops);
}

void attn_product(const float* q, const float* kt, float* c, int64_t i) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(kSeq), int(kSeq), int(kHead), 1.0f,
              q + i * kSeq * kHead, int(kHead), kt + i * kHead * kSeq, int(kSeq), 0.0f,
              c + i * kSeq * kSeq, int(kSeq));
}

void BM_cblas_sgemm_loop_attn(benchmark::State& state) {
  set_threads(int(state.range(0)));
  auto q = random({kBatch, kSeq, kHead}, 3), kt = random({kBatch, kHead, kSeq}, 4);
  std::vector<float> c(std::size_t(kBatch * kSeq * kSeq));
  for (auto _ : state) {
    for (int64_t i = 0; i < kBatch; ++i) attn_product(q.data(), kt.data(), c.data(), i);
    benchmark::ClobberMemory();
  }
  report(state, kAttnFlops);
}

void BM_cblas_sgemm_omp_batch_attn(benchmark::State& state) {
  const int nt = int(state.range(0));
  omp_set_num_threads(nt);
  openblas_set_num_threads(1);
  auto q = random({kBatch, kSeq, kHead}, 3), kt = random({kBatch, kHead, kSeq}, 4);
  std::vector<float> c(std::size_t(kBatch * kSeq * kSeq));
  for (auto _ : state) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = 0; i < kBatch; ++i) attn_product(q.data(), kt.data(), c.data(), i);
    benchmark::ClobberMemory();
  }
  report(state, kAttnFlops);
}

int register_all() {
  for (const GemmShape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("ember_matmul/") + s.name).c_str(), BM_ember_matmul,
                                 s)
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("cblas_sgemm/") + s.name).c_str(), BM_cblas_sgemm, s)
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  for (const auto& shapes : {std::vector<GemmShape>(std::begin(kServeShapes), std::end(kServeShapes)),
                             std::vector<GemmShape>(std::begin(kShapes), std::end(kShapes))})
    for (const GemmShape& s : shapes)
      for (LinearMode mode : {LinearMode::inference, LinearMode::grad, LinearMode::int8})
        benchmark::RegisterBenchmark(
            (std::string(mode == LinearMode::grad   ? "ember_linear_grad/"
                         : mode == LinearMode::int8 ? "ember_linear_int8/"
                                                    : "ember_linear/") +
             s.name)
                .c_str(),
            BM_ember_linear, s, mode)
            ->Arg(1)
            ->Arg(2)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("fma_peak", BM_fma_peak)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ember_matmul/attn", BM_ember_matmul_attn)
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("cblas_sgemm_loop/attn", BM_cblas_sgemm_loop_attn)
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("cblas_sgemm_omp_batch/attn", BM_cblas_sgemm_omp_batch_attn)
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  const ember::CpuInfo& cpu = ember::cpu_info();
  benchmark::AddCustomContext("ember_cpu", cpu.features.model_name);
  benchmark::AddCustomContext("ember_gemm", cpu.gemm + ", kernels " + cpu.gemm_kernels);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
