// bench_cuda: ember's CUDA backend on the shapes of BERT fine-tuning, timed with CUDA events, each
// figure set against the device's own peaks measured in the same process (issue #5; docs/gpu.md).
//
// Timing. Every case runs its work a few times untimed (warm-up: cuBLAS heuristics, the caching
// allocator's first cudaMalloc), then Google Benchmark's loop times each iteration with a pair of
// CUDA events on the current stream (`UseManualTime` + `SetIterationTime`), so the reported time
// is GPU time, not host time. For single ops ("isolated" cases) each timed run is preceded,
// untimed, by
//   * an L2 flush (a cudaMemsetAsync over twice the L2 size): a [4096, 768] LayerNorm input is
//     12.6 MB and would otherwise be read from the 50 MB L2, not from HBM, and report more than
//     the memory's bandwidth;
//   * a spin kernel that keeps the GPU busy for twice the host time the op's launch takes
//     (measured during warm-up), so that the start event fires only after the whole op has been
//     queued: the time is the kernels' time, not ember's host overhead (nvbench's "blocking
//     kernel" idea).
// Whole training steps are timed without either: there the host's time between kernels (and the
// synchronizations of clip_grad_norm_) is part of what a step costs.
//
// Peaks (run first; the fractions "frac_peak" are relative to them):
//   peak/memcpy_d2d/1GiB          device-to-device cudaMemcpyAsync of 1 GiB; GB/s counts the bytes
//                                 read plus the bytes written (2 GiB per copy), as CUDA's
//                                 bandwidthTest does. The memory-bound cases' peak.
//   peak/cublas_gemm_fp32/8192    cublasGemmEx 8192³, CUBLAS_COMPUTE_32F (no tensor cores)
//   peak/cublas_gemm_tf32/8192    the same with CUBLAS_COMPUTE_32F_FAST_TF32 (tensor cores)
//   peak/cublas_gemm_bf16/8192    the same with CUBLAS_COMPUTE_32F_FAST_16BF: fp32 operands in
//                                 memory, bf16 tensor cores inside (what MatmulPrecision::medium
//                                 asks cuBLAS for)
//   peak/cublas_gemm_bf16_storage/8192   reference, not a peak of any case: bf16 A and B in
//                                 memory, fp32 C, CUBLAS_COMPUTE_32F. The gap to the line above
//                                 is what keeping activations in fp32 costs the GEMMs.
// Each stores the best figure it measured in a static (`g_peak`); a case whose peak was not run
// (e.g. filtered out with --benchmark_filter) measures it quickly itself.
//
// Cases:
//   gemm/{fp32,tf32,bf16}/MxKxN    ember::matmul([M, K], [K, N]) at the BERT-base shapes for
//                                  batch 32 × seq 128 (4096 rows: QKV/attention-output 768→768,
//                                  FFN up 768→3072, FFN down 3072→768) and at 8192³, at
//                                  MatmulPrecision highest / high / medium
//                                  (ember::cuda::set_float32_matmul_precision).
//                                  TFLOP/s = 2·M·N·K / time.
//   softmax/32x12x128x128          ember::softmax over the last dim (attention probabilities)
//   scaled_masked_softmax/...      softmax(x / 8 + mask[32, 1, 1, 128]) in one kernel
//   layer_norm_{forward,backward}/4096x768   affine LayerNorm; backward = y.backward(dy)
//   gelu_{forward,backward}/4096x3072        exact (erf) GELU
//   attention_{fused,unfused}_{forward,forward_backward}/B32xH12xS128xD{32,64}
//                                  nn::scaled_dot_product_attention on MultiHeadAttention's
//                                  permuted head views, padding mask [32, 1, 1, 128]: the fused
//                                  FlashAttention-2-style kernel (ops/attention.hpp) or, with
//                                  ember::cuda::set_fused_attention(false), the unfused path
//                                  (q·kᵀ, the scaled-masked softmax, probs·v as separate kernels).
//                                  d 32: MiniLM, d 64: BERT-base. TFLOP/s counts 4·B·H·S²·d
//                                  forward and 14·B·H·S²·d forward + backward (backward = 2.5×
//                                  forward, FlashAttention-2's convention) for both paths.
//   adamw/flat/110M                one AdamW update (adam_update of the raw kernel table) over one
//                                  flat buffer of BERT-base size; 28 bytes per parameter (p, g,
//                                  m, v read; p, m, v written): the roofline of the cases below
//   adamw_step/bert_base/201_tensors          AdamW::step over BERT-base's real parameter list
//                                  (201 tensors, 109.5M parameters, Hugging Face's two groups:
//                                  weights with decay 0.01, biases and LayerNorm without): one
//                                  multi-tensor launch per group. 28 bytes per parameter.
//   adamw_per_tensor/bert_base/201_tensors    the same update as 201 adam_update launches, one
//                                  per tensor (the optimizer's CUDA path before the multi-tensor
//                                  kernel), for comparison
//   clip_grad_norm/bert_base/201_tensors      clip_grad_norm_ over the same gradients, clipping
//                                  (max_norm 0): one multi-tensor reduction, one synchronization,
//                                  one multi-tensor scaling; 12 bytes per parameter (g read twice,
//                                  written once). Includes the host round trip of the norm.
//   clip_grad_norm_per_tensor/bert_base/201_tensors   the former algorithm, for comparison: one
//                                  norm_pow (reduction + synchronization) and one scale_inplace
//                                  per gradient
//   train_step/{minilm,bert_base}/B32xS128/{fp32,tf32,bf16}   BertForSequenceClassification (2 labels),
//                                  train mode, dropout 0.1: forward + cross_entropy + backward +
//                                  clip_grad_norm_(1.0) + AdamW step + LinearWarmupDecay step, as
//                                  bench_model's minilm_train_step (same FLOP count:
//                                  bench_model_common.hpp, matmul FLOPs only)
// Memory-bound cases count the bytes a kernel must move at least (inputs read once, outputs
// written once); the GB/s is that over the time.
//
// Counters: "TFLOP/s" or "GB/s", "frac_peak" (over the measured peak named in the label); the
// training steps add "examples/s", "tokens/s" and, where it can be told apart from the earlier
// cases' high-water mark, "peak_alloc_GB" (ember's caching allocator: the step's peak).
// Without a CUDA device the program prints "skipped: no CUDA device" and exits 0.
// Run: bench_cuda --benchmark_min_time=0.2 [--benchmark_format=json --benchmark_out=FILE]
//      (scripts/gpu_check.sh does; Google Benchmark 1.7.1 takes min_time in plain seconds).
#include <ember/cuda.hpp>

#include "bench_model_common.hpp"

#include <benchmark/benchmark.h>
#include <cuda_bf16.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using ember::Device;
using ember::Shape;
using ember::Tensor;

const Device kGpu = Device::cuda(0);

// ---- CUDA plumbing -----------------------------------------------------------------------------

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

void cublas_check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(what) + ": cuBLAS status " + std::to_string(int(s)));
}

/// The stream ember queues its work on (the current stream of the current device): events and
/// our own launches go there too, so they are ordered with the ops they time.
cudaStream_t stream() { return ember::cuda::current_stream(); }

/// Keeps the GPU busy for `ns` nanoseconds (globaltimer), so that the work queued behind it is
/// queued completely before it starts.
__global__ void spin_kernel(unsigned long long ns) {
  unsigned long long t0 = 0, t = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while (t - t0 < ns);
}

struct Events {
  cudaEvent_t start = nullptr, stop = nullptr;
  Events() {
    cuda_check(cudaEventCreate(&start), "cudaEventCreate");
    cuda_check(cudaEventCreate(&stop), "cudaEventCreate");
  }
};
Events& events() {
  static Events e;  // never destroyed before exit; the driver frees it with the context
  return e;
}

/// Evicts the L2 by writing a buffer twice its size (cudaMalloc'd once, outside ember's
/// allocator, kept until exit).
void flush_l2(cudaStream_t s) {
  static std::size_t bytes = 0;
  static void* buf = nullptr;
  if (buf == nullptr) {
    int l2 = 0;
    cuda_check(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0), "L2 size");
    bytes = std::max<std::size_t>(2 * std::size_t(l2), std::size_t(64) << 20);
    cuda_check(cudaMalloc(&buf, bytes), "cudaMalloc (L2 flush buffer)");
  }
  cuda_check(cudaMemsetAsync(buf, 0, bytes, s), "cudaMemsetAsync (L2 flush)");
}

cublasHandle_t cublas() {
  static cublasHandle_t h = [] {
    cublasHandle_t x = nullptr;
    cublas_check(cublasCreate(&x), "cublasCreate");
    return x;
  }();
  cublas_check(cublasSetStream(h, stream()), "cublasSetStream");
  return h;
}

/// Square n×n GEMM C = A·B straight through cuBLAS (the peak's reference; layout is irrelevant
/// for a square product's speed).
/// `operands` is CUDA_R_32F (a, b are float) or CUDA_R_16BF (a, b are __nv_bfloat16); C is fp32.
void cublas_gemm(cublasComputeType_t compute, int n, const void* a, const void* b, float* c,
                 cudaDataType_t operands = CUDA_R_32F) {
  const float alpha = 1.0f, beta = 0.0f;
  cublas_check(cublasGemmEx(cublas(), CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a, operands, n,
                            b, operands, n, &beta, c, CUDA_R_32F, n, compute, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx");
}

/// out[i] = bf16(in[i]) (round to nearest even), for the bf16-storage reference GEMM.
__global__ void to_bf16(const float* in, __nv_bfloat16* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = __float2bfloat16(in[i]);
}

// ---- inputs ------------------------------------------------------------------------------------

/// A standard-normal GPU tensor, generated on the CPU once per (tag, shape) and kept for the
/// whole run: generating 8192² normals on the host for every run of a case would dominate.
std::map<std::string, Tensor<float>>& randn_cache() {
  static std::map<std::string, Tensor<float>> cache;
  return cache;
}
Tensor<float> gpu_randn(const std::string& tag, const Shape& shape, uint64_t seed) {
  auto& cache = randn_cache();
  std::string key = tag;
  for (int64_t s : shape) key += "x" + std::to_string(s);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  ember::Generator gen(seed);
  Tensor<float> t = ember::randn<float>(shape, gen).to(kGpu);
  cache.emplace(key, t);
  return t;
}

std::string dims_name(std::initializer_list<int64_t> d) {
  std::string s;
  for (int64_t x : d) s += (s.empty() ? "" : "x") + std::to_string(x);
  return s;
}

// ---- measured peaks ----------------------------------------------------------------------------

enum Peak : int { kBandwidth = 0, kFp32Gemm = 1, kTf32Gemm = 2, kBf16Gemm = 3 };
double g_peak[4] = {0.0, 0.0, 0.0, 0.0};  // GB/s, then TFLOP/s: the best measured so far
const char* const kPeakName[4] = {"memcpy GB/s", "cuBLAS fp32 TFLOP/s", "cuBLAS tf32 TFLOP/s",
                                  "cuBLAS fp32-in bf16 TFLOP/s"};

/// The GEMM peak and the cuBLAS compute type of an fp32 product at `precision`.
Peak gemm_peak(ember::cuda::MatmulPrecision precision) {
  switch (precision) {
    case ember::cuda::MatmulPrecision::high: return kTf32Gemm;
    case ember::cuda::MatmulPrecision::medium: return kBf16Gemm;
    case ember::cuda::MatmulPrecision::highest: break;
  }
  return kFp32Gemm;
}
cublasComputeType_t compute_type(Peak p) {
  return p == kTf32Gemm ? CUBLAS_COMPUTE_32F_FAST_TF32
                        : p == kBf16Gemm ? CUBLAS_COMPUTE_32F_FAST_16BF : CUBLAS_COMPUTE_32F;
}
const char* precision_name(ember::cuda::MatmulPrecision precision) {
  const Peak p = gemm_peak(precision);
  return p == kTf32Gemm ? "tf32" : p == kBf16Gemm ? "bf16" : "fp32";
}

constexpr std::size_t kCopyBytes = std::size_t(1) << 30;  // 1 GiB
constexpr int kPeakGemm = 8192;

void store_peak(Peak p, double value) { g_peak[p] = std::max(g_peak[p], value); }

/// Best of 5 event-timed runs of `op` after one warm-up, in seconds (for quick peak figures).
double best_seconds(const std::function<void()>& op) {
  cudaStream_t s = stream();
  Events& ev = events();
  op();
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    cuda_check(cudaEventRecord(ev.start, s), "cudaEventRecord");
    op();
    cuda_check(cudaEventRecord(ev.stop, s), "cudaEventRecord");
    cuda_check(cudaEventSynchronize(ev.stop), "cudaEventSynchronize");
    float ms = 0;
    cuda_check(cudaEventElapsedTime(&ms, ev.start, ev.stop), "cudaEventElapsedTime");
    best = std::min(best, double(ms) * 1e-3);
  }
  return best;
}

/// The peak `p`; measured here (quickly) when its benchmark has not run in this process.
double peak(Peak p) {
  if (g_peak[p] > 0) return g_peak[p];
  if (p == kBandwidth) {
    Tensor<float> src = ember::empty<float>({int64_t(kCopyBytes / 4)}, kGpu);
    Tensor<float> dst = ember::empty<float>({int64_t(kCopyBytes / 4)}, kGpu);
    const double s = best_seconds([&] {
      cuda_check(cudaMemcpyAsync(dst.data(), src.data(), kCopyBytes, cudaMemcpyDeviceToDevice,
                                 stream()),
                 "cudaMemcpyAsync");
    });
    store_peak(p, 2.0 * double(kCopyBytes) / s * 1e-9);
  } else {
    const int n = kPeakGemm;
    Tensor<float> a = gpu_randn("peak_a", {n, n}, 1), b = gpu_randn("peak_b", {n, n}, 2);
    Tensor<float> c = ember::empty<float>({n, n}, kGpu);
    const double s =
        best_seconds([&] { cublas_gemm(compute_type(p), n, a.data(), b.data(), c.data()); });
    store_peak(p, 2.0 * double(n) * n * n / s * 1e-12);
  }
  return g_peak[p];
}

// ---- the timing loop ---------------------------------------------------------------------------

/// One case: `run` is timed; `prepare` (may be empty) is queued, untimed, before each timed run
/// (e.g. the forward whose backward is timed).
struct Case {
  std::function<void()> prepare;
  std::function<void()> run;
  bool isolate = true;  ///< L2 flush + spin before each timed run (single ops; see the top)
  int warmup = 3;
};

/// Runs `c` in Google Benchmark's loop with CUDA-event timing; returns seconds per timed run.
double time_case(benchmark::State& state, const Case& c) {
  cudaStream_t s = stream();
  Events& ev = events();
  double host_s = 0.0;  // the longest host time to queue `run` (warm-ups after the first)
  for (int i = 0; i < c.warmup; ++i) {
    if (c.prepare) c.prepare();
    cuda_check(cudaStreamSynchronize(s), "warm-up");
    const auto t0 = std::chrono::steady_clock::now();
    c.run();
    const auto t1 = std::chrono::steady_clock::now();
    cuda_check(cudaStreamSynchronize(s), "warm-up");
    if (i > 0 || c.warmup == 1) host_s = std::max(host_s, std::chrono::duration<double>(t1 - t0).count());
  }
  cuda_check(cudaGetLastError(), "warm-up");
  // Spin for twice the host's queueing time + 20 µs (at most 20 ms).
  const unsigned long long spin_ns =
      (unsigned long long)std::clamp(2.0 * host_s * 1e9 + 20e3, 20e3, 20e6);
  double total = 0.0;
  for (auto _ : state) {
    (void)_;
    if (c.prepare) c.prepare();
    if (c.isolate) {
      flush_l2(s);
      spin_kernel<<<1, 1, 0, s>>>(spin_ns);
    }
    cuda_check(cudaEventRecord(ev.start, s), "cudaEventRecord");
    c.run();
    cuda_check(cudaEventRecord(ev.stop, s), "cudaEventRecord");
    cuda_check(cudaEventSynchronize(ev.stop), "cudaEventSynchronize");
    float ms = 0.0f;
    cuda_check(cudaEventElapsedTime(&ms, ev.start, ev.stop), "cudaEventElapsedTime");
    state.SetIterationTime(double(ms) * 1e-3);
    total += double(ms) * 1e-3;
  }
  cuda_check(cudaGetLastError(), "timed runs");
  return state.iterations() > 0 ? total / double(state.iterations()) : 0.0;
}

/// Sets "TFLOP/s" (flops > 0) and/or "GB/s" (bytes > 0), and "frac_peak": the TFLOP/s (or, for
/// a case without flops, the GB/s) over peak `p`, named in the label.
void report(benchmark::State& state, double seconds, double flops, double bytes, Peak p) {
  if (seconds <= 0.0) return;
  double achieved = 0.0;
  if (bytes > 0) {
    achieved = bytes / seconds * 1e-9;
    state.counters["GB/s"] = achieved;
  }
  if (flops > 0) {
    achieved = flops / seconds * 1e-12;
    state.counters["TFLOP/s"] = achieved;
  }
  const double ref = peak(p);
  state.counters["frac_peak"] = ref > 0 ? achieved / ref : 0.0;
  char label[96];
  std::snprintf(label, sizeof label, "peak: %s %.1f", kPeakName[p], ref);
  state.SetLabel(label);
}

/// Sets the fp32 matmul precision for its lifetime (back to `highest` after, whatever happens).
struct PrecisionScope {
  explicit PrecisionScope(ember::cuda::MatmulPrecision p) {
    ember::cuda::set_float32_matmul_precision(p);
  }
  ~PrecisionScope() {
    ember::cuda::set_float32_matmul_precision(ember::cuda::MatmulPrecision::highest);
  }
};

// ---- peaks -------------------------------------------------------------------------------------

void bm_peak_memcpy(benchmark::State& state) {
  Tensor<float> src = ember::empty<float>({int64_t(kCopyBytes / 4)}, kGpu);
  Tensor<float> dst = ember::empty<float>({int64_t(kCopyBytes / 4)}, kGpu);
  Case c;
  c.run = [&] {
    cuda_check(cudaMemcpyAsync(dst.data(), src.data(), kCopyBytes, cudaMemcpyDeviceToDevice,
                               stream()),
               "cudaMemcpyAsync");
  };
  const double s = time_case(state, c);
  const double bytes = 2.0 * double(kCopyBytes);
  if (s > 0) store_peak(kBandwidth, bytes / s * 1e-9);
  report(state, s, 0.0, bytes, kBandwidth);
}

void bm_peak_cublas(benchmark::State& state, Peak p) {
  const int n = kPeakGemm;
  Tensor<float> a = gpu_randn("peak_a", {n, n}, 1), b = gpu_randn("peak_b", {n, n}, 2);
  Tensor<float> out = ember::empty<float>({n, n}, kGpu);
  Case c;
  c.run = [&] { cublas_gemm(compute_type(p), n, a.data(), b.data(), out.data()); };
  const double s = time_case(state, c);
  const double flops = 2.0 * double(n) * n * n;
  if (s > 0) store_peak(p, flops / s * 1e-12);
  report(state, s, flops, 0.0, p);
}

/// bf16 operands in memory (half the bytes of fp32), fp32 C and accumulation: the reference for
/// what a bf16-activation design would gain; reported against the fp32-in bf16 peak.
void bm_cublas_bf16_storage(benchmark::State& state) {
  const int n = kPeakGemm;
  const int64_t nn = int64_t(n) * n;
  Tensor<float> a = gpu_randn("peak_a", {n, n}, 1), b = gpu_randn("peak_b", {n, n}, 2);
  // bf16 buffers carved from float tensors (two bf16 per float).
  Tensor<float> a16 = ember::empty<float>({nn / 2}, kGpu), b16 = ember::empty<float>({nn / 2}, kGpu);
  Tensor<float> out = ember::empty<float>({n, n}, kGpu);
  auto* pa = reinterpret_cast<__nv_bfloat16*>(a16.data());
  auto* pb = reinterpret_cast<__nv_bfloat16*>(b16.data());
  to_bf16<<<1024, 256, 0, stream()>>>(a.data(), pa, nn);
  to_bf16<<<1024, 256, 0, stream()>>>(b.data(), pb, nn);
  cuda_check(cudaGetLastError(), "to_bf16");
  Case c;
  c.run = [&] { cublas_gemm(CUBLAS_COMPUTE_32F, n, pa, pb, out.data(), CUDA_R_16BF); };
  const double s = time_case(state, c);
  report(state, s, 2.0 * double(n) * n * n, 0.0, kBf16Gemm);
}

// ---- ops ---------------------------------------------------------------------------------------

void bm_gemm(benchmark::State& state, ember::cuda::MatmulPrecision precision, int64_t m,
             int64_t k, int64_t n) {
  PrecisionScope precision_scope(precision);
  ember::NoGradGuard no_grad;
  Tensor<float> a = gpu_randn("gemm_a", {m, k}, 3), b = gpu_randn("gemm_b", {k, n}, 4);
  Case c;
  c.run = [&] { Tensor<float> y = ember::matmul(a, b); };
  const double s = time_case(state, c);
  report(state, s, 2.0 * double(m) * double(n) * double(k), 0.0, gemm_peak(precision));
}

const Shape kScores{32, 12, 128, 128};  // [batch, heads, seq_q, seq_k]

void bm_softmax(benchmark::State& state, bool scaled_masked) {
  ember::NoGradGuard no_grad;
  Tensor<float> x = gpu_randn("scores", kScores, 5);
  // HF's additive mask [batch, 1, 1, seq_k]: 0 where attended, −10000 on the padding (here the
  // last 32 keys of every other sequence).
  Tensor<float> mask_cpu = ember::zeros<float>({32, 1, 1, 128});
  float* mp = mask_cpu.data();
  for (int64_t bi = 1; bi < 32; bi += 2)
    for (int64_t j = 96; j < 128; ++j) mp[bi * 128 + j] = -10000.0f;
  Tensor<float> mask = mask_cpu.to(kGpu);
  Case c;
  if (scaled_masked)
    c.run = [&] { Tensor<float> y = ember::scaled_masked_softmax(x, 8.0, mask); };
  else
    c.run = [&] { Tensor<float> y = ember::softmax(x, -1); };
  const double elems = double(x.numel());
  const double bytes = 2.0 * 4.0 * elems + (scaled_masked ? 4.0 * double(mask.numel()) : 0.0);
  report(state, time_case(state, c), 0.0, bytes, kBandwidth);
}

void bm_layer_norm(benchmark::State& state, bool backward) {
  const int64_t rows = 4096, n = 768;
  Tensor<float> x = gpu_randn("ln_x", {rows, n}, 6);
  Tensor<float> w = gpu_randn("ln_w", {n}, 7), b = gpu_randn("ln_b", {n}, 8);
  const double elems = double(rows * n);
  Case c;
  if (!backward) {
    ember::NoGradGuard no_grad;
    c.run = [&] { Tensor<float> y = ember::layer_norm(x, {n}, w, b, 1e-12); };
    // x read, y written; plus w, b and the per-row statistics (mean, rstd in double)
    report(state, time_case(state, c), 0.0, 8.0 * elems + 8.0 * n + 16.0 * rows, kBandwidth);
    return;
  }
  // Leaves of their own (the cached tensors stay grad-free for the other cases).
  Tensor<float> xl = x.detach(), wl = w.detach(), bl = b.detach();
  xl.requires_grad_();
  wl.requires_grad_();
  bl.requires_grad_();
  Tensor<float> dy = gpu_randn("ln_dy", {rows, n}, 9);
  Tensor<float> y;
  c.prepare = [&] {
    xl.zero_grad();
    wl.zero_grad();
    bl.zero_grad();
    y = ember::layer_norm(xl, {n}, wl, bl, 1e-12);
  };
  c.run = [&] { y.backward(dy); };
  // dy and x read, dx written; w, dw, db and the statistics
  report(state, time_case(state, c), 0.0, 12.0 * elems + 12.0 * n + 16.0 * rows, kBandwidth);
}

void bm_gelu(benchmark::State& state, bool backward) {
  const Shape shape{4096, 3072};
  Tensor<float> x = gpu_randn("gelu_x", shape, 10);
  const double elems = double(x.numel());
  Case c;
  if (!backward) {
    ember::NoGradGuard no_grad;
    c.run = [&] { Tensor<float> y = ember::gelu(x); };
    report(state, time_case(state, c), 0.0, 8.0 * elems, kBandwidth);
    return;
  }
  Tensor<float> xl = x.detach();
  xl.requires_grad_();
  Tensor<float> dy = gpu_randn("gelu_dy", shape, 11);
  Tensor<float> y;
  c.prepare = [&] {
    xl.zero_grad();
    y = ember::gelu(xl);
  };
  c.run = [&] { y.backward(dy); };
  report(state, time_case(state, c), 0.0, 12.0 * elems, kBandwidth);  // dy, x read; dx written
}

/// nn::scaled_dot_product_attention at [32, 12, 128, d], q/k/v as the permuted head views
/// MultiHeadAttention makes, the padding mask [32, 1, 1, 128] (zeros), no dropout; the fused
/// kernel or the unfused path (ember::cuda::set_fused_attention). `backward`: the timed run is
/// forward + backward. FLOPs: 4·B·H·S²·d forward (q·kᵀ and P·v); backward 2.5× that
/// (10·B·H·S²·d: the five products of FlashAttention-2's backward, S recomputed), so
/// forward + backward counts 14·B·H·S²·d — the same count for both paths, so their TFLOP/s
/// compare as inverse times. (The fused backward really does 7 products: S and dP are
/// recomputed by both of its kernels to stay free of atomics.)
void bm_attention(benchmark::State& state, bool fused, bool backward, int64_t d) {
  const int64_t b = 32, h = 12, s = 128;
  ember::cuda::set_fused_attention(fused);
  struct Restore {
    ~Restore() { ember::cuda::set_fused_attention(true); }
  } restore;
  const Shape shape{b, s, h, d};  // [batch, seq, heads, d] → permuted to [batch, heads, seq, d]
  const std::string tag = "attn_d" + std::to_string(d);
  Tensor<float> q = gpu_randn(tag + "q", shape, 12), k = gpu_randn(tag + "k", shape, 13),
                v = gpu_randn(tag + "v", shape, 14);
  Tensor<float> mask = ember::zeros<float>({b, 1, 1, s}).to(kGpu);
  const double fwd_flops = 4.0 * double(b * h) * double(s * s) * double(d);
  auto heads = [](const Tensor<float>& t) { return t.permute({0, 2, 1, 3}); };
  Case c;
  if (!backward) {
    ember::NoGradGuard no_grad;
    c.run = [&] {
      Tensor<float> o = ember::nn::scaled_dot_product_attention(heads(q), heads(k), heads(v), mask);
    };
    report(state, time_case(state, c), fwd_flops, 0.0, kFp32Gemm);
    return;
  }
  Tensor<float> ql = q.detach(), kl = k.detach(), vl = v.detach();
  ql.requires_grad_();
  kl.requires_grad_();
  vl.requires_grad_();
  Tensor<float> dout = gpu_randn(tag + "dout", {b, h, s, d}, 15);
  c.prepare = [&] {
    ql.zero_grad();
    kl.zero_grad();
    vl.zero_grad();
  };
  c.run = [&] {
    Tensor<float> out = ember::nn::scaled_dot_product_attention(heads(ql), heads(kl), heads(vl), mask);
    out.backward(dout);
  };
  report(state, time_case(state, c), 3.5 * fwd_flops, 0.0, kFp32Gemm);
}

void bm_adamw_flat(benchmark::State& state) {
  const int64_t n = 110'000'000;  // BERT-base: 109.5M parameters
  Tensor<float> p = ember::full<float>({n}, 0.5f, kGpu), g = ember::full<float>({n}, 0.01f, kGpu);
  Tensor<float> m = ember::zeros<float>({n}, kGpu), v = ember::zeros<float>({n}, kGpu);
  // AdamW's coefficients at step 1 (optim/adam.hpp): lr 1e-4, betas (0.9, 0.999), eps 1e-8,
  // weight decay 0.01.
  const auto co = ember::backend::AdamCoeffs<float>::make(1e-4, 0.9, 0.999, 1e-8, 0.01,
                                                               /*decoupled=*/true, false, 1.0);
  Case c;
  c.run = [&] { ember::backend::cuda::adam_update<float>(n, p.data(), g.data(), m.data(), v.data(), nullptr, co); };
  report(state, time_case(state, c), 0.0, 28.0 * double(n), kBandwidth);
}

/// BERT-base's parameter shapes (BertForSequenceClassification, 2 labels; vocabulary 30522, 512
/// positions): 201 tensors, 109.5M parameters. 1-d shapes are the biases and LayerNorm weights.
std::vector<Shape> bert_base_param_shapes() {
  const int64_t h = 768, inter = 3072;
  std::vector<Shape> s = {{30522, h}, {512, h}, {2, h}, {h}, {h}};  // embeddings + LayerNorm
  for (int layer = 0; layer < 12; ++layer) {
    for (int k = 0; k < 4; ++k) {  // query, key, value, attention output
      s.push_back({h, h});
      s.push_back({h});
    }
    s.insert(s.end(), {{h}, {h}, {inter, h}, {inter}, {h, inter}, {h}, {h}, {h}});
  }
  s.insert(s.end(), {{h, h}, {h}, {2, h}, {2}});  // pooler, classifier
  return s;
}

/// The BERT-base parameter list on the GPU, each with a gradient (created once, kept).
struct BertBaseParams {
  std::vector<Tensor<float>> params;
  std::vector<ember::optim::ParamGroup<float>> groups;  // decay (2-d) / no decay (1-d)
  int64_t numel = 0;
};
std::unique_ptr<BertBaseParams>& bert_base_slot() {  // freed before the training steps
  static std::unique_ptr<BertBaseParams> b;
  return b;
}
BertBaseParams& bert_base_params() {
  std::unique_ptr<BertBaseParams>& b = bert_base_slot();
  if (!b) {
    b = std::make_unique<BertBaseParams>();
    BertBaseParams& x = *b;
    x.groups.resize(2);
    x.groups[0].weight_decay = 0.01;
    x.groups[1].weight_decay = 0.0;
    for (const Shape& shape : bert_base_param_shapes()) {
      Tensor<float> p = ember::full<float>(shape, 0.5f, kGpu);
      p.requires_grad_();
      p.set_grad(ember::full<float>(shape, 0.01f, kGpu));
      x.numel += p.numel();
      x.params.push_back(p);
      x.groups[shape.size() == 1 ? 1 : 0].params.push_back(p);
    }
  }
  return *b;
}

void bm_adamw_bert_base(benchmark::State& state, bool per_tensor) {
  BertBaseParams& b = bert_base_params();
  ember::optim::AdamW<float> opt(b.groups, ember::optim::AdamWOptions(1e-4));
  // The per-tensor variant: the same update through one adam_update launch per parameter.
  std::vector<Tensor<float>> m, v;
  for (std::size_t i = 0; per_tensor && i < b.params.size(); ++i) {
    m.push_back(ember::zeros<float>(b.params[i].shape(), kGpu));
    v.push_back(ember::zeros<float>(b.params[i].shape(), kGpu));
  }
  const auto co = ember::backend::AdamCoeffs<float>::make(1e-4, 0.9, 0.999, 1e-8, 0.01,
                                                               /*decoupled=*/true, false, 1.0);
  Case c;
  if (per_tensor) {
    c.run = [&] {
      for (std::size_t i = 0; i < b.params.size(); ++i) {
        Tensor<float>& p = b.params[i];
        ember::backend::cuda::adam_update<float>(p.numel(), p.data(), p.grad().data(), m[i].data(), v[i].data(), nullptr,
                         co);
      }
    };
  } else {
    c.run = [&] { opt.step(); };  // the moments are created in the first warm-up run
  }
  report(state, time_case(state, c), 0.0, 28.0 * double(b.numel), kBandwidth);
  state.counters["tensors"] = double(b.params.size());
}

void bm_clip_grad_norm_bert_base(benchmark::State& state, bool per_tensor) {
  BertBaseParams& b = bert_base_params();
  Case c;
  // max_norm 0: the coefficient is 0 < 1, so every run scales (the gradients become zeros,
  // which costs the same bandwidth as any other values).
  if (per_tensor) {
    c.run = [&] {
      double acc = 0.0;
      for (const Tensor<float>& p : b.params)
        acc += ember::backend::cuda::norm_pow<float>(p.grad().data(), p.grad().numel(), 2.0);
      const float coef = static_cast<float>(0.0 / (std::sqrt(acc) + 1e-6));
      for (const Tensor<float>& p : b.params)
        ember::backend::cuda::scale_inplace<float>(p.grad().data(), p.grad().numel(), coef);
    };
  } else {
    c.run = [&] { ember::optim::clip_grad_norm_(b.params, 0.0); };
  }
  report(state, time_case(state, c), 0.0, 12.0 * double(b.numel), kBandwidth);
  state.counters["tensors"] = double(b.params.size());
}

// ---- training steps ----------------------------------------------------------------------------

constexpr int64_t kBertBaseLayers = 12;

/// A model, its optimizer and one batch, on the GPU. Built once per model and reused by all the
/// runs of its cases (Google Benchmark calls a case several times while it sizes the loop, and
/// initializing BERT-base's 110M parameters on the host takes seconds).
struct TrainSetup {
  std::string key;
  std::unique_ptr<ember::models::bert::BertForSequenceClassification<float>> model;
  std::vector<Tensor<float>> params;
  std::unique_ptr<ember::optim::AdamW<float>> opt;
  std::unique_ptr<ember::optim::LinearWarmupDecay<float>> sched;
  Tensor<int64_t> ids, mask, types, labels;
  std::size_t peak_before = 0;  ///< the allocator's high-water mark before this model was built
  double peak_gb = 0.0;         ///< the step's peak allocation, once it set a new high-water mark
};

Tensor<int64_t> random_ids(int64_t batch, int64_t seq, int64_t high, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> dist(0, high - 1);
  std::vector<int64_t> v(static_cast<std::size_t>(batch * seq));
  for (auto& x : v) x = dist(rng);
  return ember::from_vector<int64_t>(v, Shape{batch, seq});
}

TrainSetup& train_setup(const std::string& key, bench_model::Dims d, int64_t layers,
                        int64_t batch, int64_t seq) {
  static std::unique_ptr<TrainSetup> current;
  if (current && current->key == key) return *current;
  // One model on the GPU at a time, and nothing else of ours: the op cases' inputs are freed,
  // so that a new high-water mark of the allocator is this model's step alone.
  current.reset();
  randn_cache().clear();
  bert_base_slot().reset();
  ember::cuda::empty_cache();
  auto t = std::make_unique<TrainSetup>();
  t->key = key;
  t->peak_before = ember::cuda::memory_stats().peak_allocated;
  ember::models::bert::BertConfig cfg;  // as bench_model.cpp's minilm_config, dims from `d`
  cfg.vocab_size = bench_model::kVocab;
  cfg.hidden_size = d.hidden;
  cfg.num_hidden_layers = layers;
  cfg.num_attention_heads = d.heads;
  cfg.intermediate_size = d.intermediate;
  cfg.max_position_embeddings = bench_model::kMaxPositions;
  cfg.type_vocab_size = bench_model::kTypeVocab;
  cfg.hidden_dropout_prob = 0.1;
  cfg.attention_probs_dropout_prob = 0.1;
  cfg.set_num_labels(bench_model::kLabels);
  ember::manual_seed(0);
  t->model = std::make_unique<ember::models::bert::BertForSequenceClassification<float>>(cfg);
  t->model->to(kGpu);
  t->model->train();
  t->params = t->model->parameters();
  t->opt = std::make_unique<ember::optim::AdamW<float>>(
      t->params, ember::optim::AdamWOptions(2e-5).weight_decay(0.01));
  t->sched = std::make_unique<ember::optim::LinearWarmupDecay<float>>(*t->opt, 100, 1000000);
  t->ids = random_ids(batch, seq, bench_model::kVocab, 1).to(kGpu);
  t->mask = ember::ones<int64_t>(Shape{batch, seq}).to(kGpu);
  t->types = ember::zeros<int64_t>(Shape{batch, seq}).to(kGpu);
  t->labels = random_ids(batch, 1, bench_model::kLabels, 2).reshape({batch}).to(kGpu);
  current = std::move(t);
  return *current;
}

void bm_train_step(benchmark::State& state, const std::string& model,
                   ember::cuda::MatmulPrecision precision) {
  const int64_t batch = 32, seq = 128;
  const bool minilm = model == "minilm";
  const bench_model::Dims d = minilm ? bench_model::kMiniLM : bench_model::kBertBase;
  const int64_t layers = minilm ? bench_model::kMiniLMLayers : kBertBaseLayers;
  TrainSetup& t = train_setup(model, d, layers, batch, seq);
  PrecisionScope precision_scope(precision);
  Case c;
  c.isolate = false;  // host time between kernels is part of a step's cost
  c.warmup = 2;
  c.run = [&] {
    t.opt->zero_grad();
    auto out = t.model->forward(t.ids, t.mask, t.types, t.labels);
    out.loss.backward();
    ember::optim::clip_grad_norm_(t.params, 1.0);
    t.opt->step();
    t.sched->step();
  };
  const double s = time_case(state, c);
  const double flops = 3.0 * bench_model::model_forward_flops(d, layers, batch, seq,
                                                              bench_model::kLabels);
  report(state, s, flops, 0.0, gemm_peak(precision));
  if (s > 0) {
    state.counters["examples/s"] = double(batch) / s;
    state.counters["tokens/s"] = double(batch * seq) / s;
  }
  // Peak device memory of the step (weights, gradients, AdamW state, activations): known only
  // when the step raised the allocator's process-wide high-water mark (the op cases before it
  // reach about 2-3 GB: the 1 GiB copy's two buffers, the 8192² GEMM operands); a step that
  // needs less reports no figure.
  const std::size_t peak_now = ember::cuda::memory_stats().peak_allocated;
  if (peak_now > t.peak_before) t.peak_gb = std::max(t.peak_gb, double(peak_now) * 1e-9);
  if (t.peak_gb > 0) state.counters["peak_alloc_GB"] = t.peak_gb;
}

// ---- registration ------------------------------------------------------------------------------

/// Registers `fn` under `name` with manual (CUDA event) time; an exception becomes the case's
/// error message instead of ending the program, and the fp32 matmul precision is `highest`
/// again afterwards.
benchmark::internal::Benchmark* reg(const std::string& name,
                                    std::function<void(benchmark::State&)> fn,
                                    benchmark::TimeUnit unit = benchmark::kMicrosecond) {
  return benchmark::RegisterBenchmark(name.c_str(),
                                      [fn](benchmark::State& state) {
                                        try {
                                          fn(state);
                                        } catch (const std::exception& e) {
                                          state.SkipWithError(e.what());
                                        }
                                        ember::cuda::set_float32_matmul_precision(
                                            ember::cuda::MatmulPrecision::highest);
                                      })
      ->UseManualTime()
      ->Unit(unit);
}

void register_benchmarks() {
  // The peaks first: the fractions of every later case are relative to them.
  reg("peak/memcpy_d2d/1GiB", bm_peak_memcpy);
  reg("peak/cublas_gemm_fp32/8192", [](benchmark::State& s) { bm_peak_cublas(s, kFp32Gemm); });
  reg("peak/cublas_gemm_tf32/8192", [](benchmark::State& s) { bm_peak_cublas(s, kTf32Gemm); });
  reg("peak/cublas_gemm_bf16/8192", [](benchmark::State& s) { bm_peak_cublas(s, kBf16Gemm); });
  reg("peak/cublas_gemm_bf16_storage/8192", bm_cublas_bf16_storage);

  using ember::cuda::MatmulPrecision;
  const MatmulPrecision precisions[] = {MatmulPrecision::highest, MatmulPrecision::high,
                                        MatmulPrecision::medium};
  struct Mkn {
    int64_t m, k, n;
  };
  const Mkn shapes[] = {{4096, 768, 768}, {4096, 768, 3072}, {4096, 3072, 768}, {8192, 8192, 8192}};
  for (MatmulPrecision precision : precisions)
    for (const Mkn& g : shapes)
      reg(std::string("gemm/") + precision_name(precision) + "/" + dims_name({g.m, g.k, g.n}),
          [=](benchmark::State& s) { bm_gemm(s, precision, g.m, g.k, g.n); });

  reg("softmax/32x12x128x128", [](benchmark::State& s) { bm_softmax(s, false); });
  reg("scaled_masked_softmax/32x12x128x128", [](benchmark::State& s) { bm_softmax(s, true); });
  reg("layer_norm_forward/4096x768", [](benchmark::State& s) { bm_layer_norm(s, false); });
  reg("layer_norm_backward/4096x768", [](benchmark::State& s) { bm_layer_norm(s, true); });
  reg("gelu_forward/4096x3072", [](benchmark::State& s) { bm_gelu(s, false); });
  reg("gelu_backward/4096x3072", [](benchmark::State& s) { bm_gelu(s, true); });
  // Attention at MiniLM (d 32) and BERT-base (d 64) shapes: the fused kernel and the unfused
  // path (matmul → scaled_masked_softmax → matmul), forward and forward + backward.
  for (int64_t d : {32, 64})
    for (bool backward : {false, true})
      for (bool fused : {true, false})
        reg(std::string("attention_") + (fused ? "fused_" : "unfused_") +
                (backward ? "forward_backward" : "forward") + "/B32xH12xS128xD" + std::to_string(d),
            [=](benchmark::State& s) { bm_attention(s, fused, backward, d); });
  reg("adamw/flat/110M", bm_adamw_flat);
  reg("adamw_step/bert_base/201_tensors",
      [](benchmark::State& s) { bm_adamw_bert_base(s, false); });
  reg("adamw_per_tensor/bert_base/201_tensors",
      [](benchmark::State& s) { bm_adamw_bert_base(s, true); });
  reg("clip_grad_norm/bert_base/201_tensors",
      [](benchmark::State& s) { bm_clip_grad_norm_bert_base(s, false); });
  reg("clip_grad_norm_per_tensor/bert_base/201_tensors",
      [](benchmark::State& s) { bm_clip_grad_norm_bert_base(s, true); });

  for (const char* model : {"minilm", "bert_base"})
    for (MatmulPrecision precision : precisions)
      reg(std::string("train_step/") + model + "/B32xS128/" + precision_name(precision),
          [=](benchmark::State& s) { bm_train_step(s, model, precision); },
          benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  if (!ember::cuda::is_available()) {
    std::printf("skipped: no CUDA device\n");
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_benchmarks();
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
    benchmark::AddCustomContext("cuda_device", prop.name);
    benchmark::AddCustomContext("cuda_sm", std::to_string(prop.major) + "." + std::to_string(prop.minor));
    benchmark::AddCustomContext("cuda_memory_GB", std::to_string(double(prop.totalGlobalMem) * 1e-9));
  }
  int runtime_version = 0;
  cudaRuntimeGetVersion(&runtime_version);
  benchmark::AddCustomContext("cuda_runtime", std::to_string(runtime_version));
  benchmark::AddCustomContext("timing", "CUDA events; single ops after an L2 flush and a spin "
                                        "kernel that hides the host's launch time");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
