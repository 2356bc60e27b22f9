// bench_gemm: ember::matmul (float) against OpenBLAS's cblas_sgemm on the BERT-base GEMM shapes
// and on the attention batch, at 1 and 2 threads. Reports GFLOP/s = 2·M·N·K per product / wall
// time (counter "GFLOP/s"). Results, commands and the machine: docs/performance.md, "GEMM".
//
//   ember_matmul/<shape>/<threads>       ember::matmul; output from the caching allocator, so
//                                        every iteration after the first reuses the same block
//   ember_linear/<shape>/<threads>       ember::linear(x [M, K], W [N, K], b [N]) = x·Wᵀ + b
//   cblas_sgemm/<shape>/<threads>        OpenBLAS, its own pthread pool set to <threads>
//   cblas_sgemm_loop/attn/<threads>      the batch as a loop of cblas_sgemm, OpenBLAS threaded
//   cblas_sgemm_omp_batch/attn/<threads> the batch split across OpenMP threads, OpenBLAS set to
//                                        1 thread (set before the region: the setting is global)
// Shapes: M×K×N = 4096×768×768 (QKV/output projections, batch 32 × seq 128), 4096×768×3072
// (FFN up), 4096×3072×768 (FFN down), and attn = 384 × (128×64 · 64×128) (batch 32 × 12 heads,
// scores q·kᵀ). Built twice: bench_gemm (ember as configured: EIGEN_USE_BLAS when OpenBLAS was
// found) and bench_gemm_eigen (ember on Eigen's own kernels).
#include <ember/ops/matmul.hpp>

#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdint>
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
constexpr int64_t kBatch = 384, kSeq = 128, kHead = 64;

void set_threads(int n) {
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

void report(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iter * 1e-9 * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
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
void BM_ember_linear(benchmark::State& state, GemmShape s) {
  set_threads(int(state.range(0)));
  auto x = random({s.m, s.k}, 1), w = random({s.n, s.k}, 2), b = random({s.n}, 5);
  { auto warm = ember::linear(x, w, b); }
  for (auto _ : state) {
    auto y = ember::linear(x, w, b);
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
    benchmark::RegisterBenchmark((std::string("ember_linear/") + s.name).c_str(), BM_ember_linear,
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
#ifdef EIGEN_USE_BLAS
  benchmark::AddCustomContext("ember_gemm", "Eigen -> OpenBLAS (EIGEN_USE_BLAS)");
#else
  benchmark::AddCustomContext("ember_gemm", "Eigen's own kernels");
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
