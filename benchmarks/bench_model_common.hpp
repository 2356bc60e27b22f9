// bench_model_common.hpp — what bench_model.cpp (ember) and bench_libtorch.cpp (LibTorch 1.13)
// share: the cases' shapes, their matmul FLOP counts, the counters, and the `--threads=N` flag.
// Neither ember nor LibTorch is included here, so both executables compile it alone.
//
// FLOPs count matrix products only (2 flop per multiply-add); LayerNorm, GELU, softmax, adds,
// embeddings, the loss and the optimizer are not counted. For one post-LN encoder layer on
// B sequences of S tokens, hidden H, intermediate I:
//   forward  = 2·B·S·(4·H² + 2·H·I)   (q, k, v, o projections; FFN up and down)
//            + 2·2·B·S²·H             (scores q·kᵀ and probs·v, summed over heads)
//   backward ≈ 2 × forward (grad wrt input and wrt weight of every product),
// so forward+backward = 3 × forward. Model cases add the pooler (2·B·H²) and the classifier
// (2·B·H·labels) per forward.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/resource.h>

namespace bench_model {

struct Dims {
  int64_t hidden, heads, intermediate;
};
constexpr Dims kMiniLM{384, 12, 1536};    // all-MiniLM-L6-v2
constexpr Dims kBertBase{768, 12, 3072};  // bert-base-uncased
constexpr int64_t kMiniLMLayers = 6;
constexpr int64_t kVocab = 30522, kMaxPositions = 512, kTypeVocab = 2, kLabels = 2;

inline double layer_forward_flops(const Dims& d, int64_t batch, int64_t seq) {
  const double b = double(batch), s = double(seq), h = double(d.hidden), i = double(d.intermediate);
  return 2.0 * b * s * (4.0 * h * h + 2.0 * h * i) + 2.0 * 2.0 * b * s * s * h;
}
inline double model_forward_flops(const Dims& d, int64_t layers, int64_t batch, int64_t seq,
                                  int64_t labels) {
  const double b = double(batch), h = double(d.hidden);
  return double(layers) * layer_forward_flops(d, batch, seq) + 2.0 * b * h * h +
         2.0 * b * h * double(labels);
}

/// Sets the counters every case reports: "tokens" and "GFLOP" per second over the timed loop.
inline void set_counters(benchmark::State& state, int64_t batch, int64_t seq, double flops,
                         int threads) {
  const double iters = double(state.iterations());
  state.counters["tokens"] =
      benchmark::Counter(double(batch * seq) * iters, benchmark::Counter::kIsRate);
  state.counters["GFLOP"] = benchmark::Counter(flops * iters * 1e-9, benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  state.counters["peak_rss_MB"] = double(ru.ru_maxrss) / 1024.0;  // process-wide so far
}

/// Removes `--threads=N` from argv (before benchmark::Initialize) and returns N (default 2).
inline int parse_threads(int* argc, char** argv) {
  int threads = 2;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
      if (threads < 1) threads = 1;
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  return threads;
}

/// The main() of both benchmark executables: parses `--threads=N`, registers the same cases
/// under the same names for either library, and runs Google Benchmark.
///   forward(state, batch, seq, threads)                 the 6-layer MiniLM model forward
///   layer(state, dims, batch, seq, backward, threads)   one encoder layer, fwd or fwd+bwd
///   train_step(state, batch, seq, threads)              the MiniLM fine-tuning step
/// Cases: bert_minilm_forward/B32xS128, layer_forward|layer_fwd_bwd/{bert_base/B8xS128,
/// minilm/B32xS64}, minilm_train_step/B32xS64, and the scaling grid ("how cost grows"): the
/// BERT-base layer forward and forward+backward at batch 1, 8, 32 × seq 64, 128, 256, 512
/// (scaling_forward|scaling_fwd_bwd/bert_base/B<b>xS<s>), each ~20 GFLOP of timed work (at
/// least one iteration) after its warm-up.
template <class Forward, class Layer, class TrainStep>
int run_main(int argc, char** argv, const std::string& library, Forward forward, Layer layer,
             TrainStep train_step) {
  const int threads = parse_threads(&argc, argv);
  auto reg = [](const std::string& name, int64_t iters, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)
        ->Iterations(iters)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  };
  reg("bert_minilm_forward/B32xS128", 3, [=](benchmark::State& s) { forward(s, 32, 128, threads); });
  reg("layer_forward/bert_base/B8xS128", 10,
      [=](benchmark::State& s) { layer(s, kBertBase, 8, 128, false, threads); });
  reg("layer_fwd_bwd/bert_base/B8xS128", 4,
      [=](benchmark::State& s) { layer(s, kBertBase, 8, 128, true, threads); });
  reg("layer_forward/minilm/B32xS64", 10,
      [=](benchmark::State& s) { layer(s, kMiniLM, 32, 64, false, threads); });
  reg("layer_fwd_bwd/minilm/B32xS64", 5,
      [=](benchmark::State& s) { layer(s, kMiniLM, 32, 64, true, threads); });
  reg("minilm_train_step/B32xS64", 3, [=](benchmark::State& s) { train_step(s, 32, 64, threads); });
  for (bool backward : {false, true})
    for (int64_t batch : {1, 8, 32})
      for (int64_t seq : {64, 128, 256, 512}) {
        const double flops = (backward ? 3.0 : 1.0) * layer_forward_flops(kBertBase, batch, seq);
        const int64_t iters = std::clamp<int64_t>(int64_t(20e9 / flops), 1, 20);
        reg(std::string(backward ? "scaling_fwd_bwd" : "scaling_forward") + "/bert_base/B" +
                std::to_string(batch) + "xS" + std::to_string(seq),
            iters, [=](benchmark::State& s) { layer(s, kBertBase, batch, seq, backward, threads); });
      }
  benchmark::AddCustomContext("threads", std::to_string(threads));
  benchmark::AddCustomContext("library", library);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace bench_model
