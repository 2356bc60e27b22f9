// bench_model: ember's BERT models, timed whole, on the shapes bench_libtorch times LibTorch 1.13
// on (same case names, same counters; scripts/bench_compare.sh runs both and prints the ratios).
// Results, commands and the machine: docs/performance.md, "BERT models vs LibTorch".
//
//   bert_minilm_forward/B32xS128   BertModel (all-MiniLM-L6-v2 config: hidden 384, 12 heads,
//                                  ffn 1536, 6 layers, vocab 30522), eval, NoGradGuard
//   layer_forward/<dims>/<shape>   one TransformerEncoderLayer (post-LN, exact GELU, dropout 0),
//                                  eval, NoGradGuard
//   layer_fwd_bwd/<dims>/<shape>   the same layer, forward + backward of a random-weighted sum of
//                                  the output (y.backward(w)); the input requires grad too
//   minilm_train_step/B32xS64      BertForSequenceClassification (2 labels), train mode, dropout
//                                  0.1: forward + cross_entropy + backward + clip_grad_norm_(1.0)
//                                  + AdamW step + LinearWarmupDecay step
//   scaling_forward|scaling_fwd_bwd/bert_base/B<b>xS<s>   the BERT-base layer at batch 1, 8, 32
//                                  × seq 64, 128, 256, 512 (scripts/bench_compare.sh --scaling)
// dims: bert_base = 768/12/3072 at batch 8 × seq 128; minilm = 384/12/1536 at batch 32 × seq 64.
// Counters: tokens and GFLOP as rates per second (GFLOP counts matmul FLOPs only, see
// bench_model_common.hpp), peak_rss_MB (process-wide, so far). Every case runs a fixed number
// of iterations after one untimed warm-up iteration; time is wall time. Flags: --threads=N (default
// 2; ember::set_num_threads); --bf16 (bf16 products: MatmulPrecision::medium, where the CPU has
// AMX-BF16 or AVX512-BF16; the context line ember_matmul_precision says what ran).
#include <ember/ember.hpp>

#include "bench_model_common.hpp"

#include <random>
#include <vector>

namespace {

using namespace ember;
using bench_model::Dims;

Tensor<int64_t> random_ids(int64_t batch, int64_t seq, int64_t high, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> dist(0, high - 1);
  std::vector<int64_t> v(static_cast<std::size_t>(batch * seq));
  for (auto& x : v) x = dist(rng);
  return from_vector<int64_t>(v, Shape{batch, seq});
}

models::bert::BertConfig minilm_config(double dropout) {
  models::bert::BertConfig c;
  c.vocab_size = bench_model::kVocab;
  c.hidden_size = bench_model::kMiniLM.hidden;
  c.num_hidden_layers = bench_model::kMiniLMLayers;
  c.num_attention_heads = bench_model::kMiniLM.heads;
  c.intermediate_size = bench_model::kMiniLM.intermediate;
  c.max_position_embeddings = bench_model::kMaxPositions;
  c.type_vocab_size = bench_model::kTypeVocab;
  c.hidden_dropout_prob = dropout;
  c.attention_probs_dropout_prob = dropout;
  c.set_num_labels(bench_model::kLabels);
  return c;
}

void bm_bert_forward(benchmark::State& state, int64_t batch, int64_t seq, int threads) {
  set_num_threads(threads);
  manual_seed(0);
  models::bert::BertModel<float> model(minilm_config(0.1));
  model.eval();
  const Tensor<int64_t> ids = random_ids(batch, seq, bench_model::kVocab, 1);
  const Tensor<int64_t> mask = ones<int64_t>(Shape{batch, seq});
  const Tensor<int64_t> types = zeros<int64_t>(Shape{batch, seq});
  NoGradGuard no_grad;
  benchmark::DoNotOptimize(model.forward(ids, mask, types).pooler_output.data());  // warm-up
  for (auto _ : state) {
    auto out = model.forward(ids, mask, types);
    benchmark::DoNotOptimize(out.pooler_output.data());
  }
  bench_model::set_counters(state, batch, seq,
                            bench_model::model_forward_flops(bench_model::kMiniLM,
                                                             bench_model::kMiniLMLayers, batch, seq,
                                                             0),
                            threads);
}

void bm_layer(benchmark::State& state, Dims d, int64_t batch, int64_t seq, bool backward,
              int threads) {
  set_num_threads(threads);
  manual_seed(0);
  nn::TransformerEncoderLayer<float> layer(
      nn::TransformerEncoderLayerOptions(d.hidden, d.heads, d.intermediate)
          .hidden_dropout(0.0)
          .attention_dropout(0.0));
  Tensor<float> x = randn<float>(Shape{batch, seq, d.hidden});
  const Tensor<int64_t> mask = ones<int64_t>(Shape{batch, seq});
  const double fwd = bench_model::layer_forward_flops(d, batch, seq);
  if (!backward) {
    layer.eval();
    NoGradGuard no_grad;
    benchmark::DoNotOptimize(layer.forward(x, mask).data());  // warm-up
    for (auto _ : state) {
      Tensor<float> y = layer.forward(x, mask);
      benchmark::DoNotOptimize(y.data());
    }
    bench_model::set_counters(state, batch, seq, fwd, threads);
    return;
  }
  layer.train();
  x.requires_grad_(true);
  const Tensor<float> w = randn<float>(Shape{batch, seq, d.hidden});
  auto step = [&] {
    layer.zero_grad();
    x.zero_grad();
    Tensor<float> y = layer.forward(x, mask);
    y.backward(w);
  };
  step();  // warm-up
  for (auto _ : state) step();
  bench_model::set_counters(state, batch, seq, 3.0 * fwd, threads);
}

void bm_train_step(benchmark::State& state, int64_t batch, int64_t seq, int threads) {
  set_num_threads(threads);
  manual_seed(0);
  models::bert::BertForSequenceClassification<float> model(minilm_config(0.1));
  model.train();
  std::vector<Tensor<float>> params = model.parameters();
  optim::AdamW<float> opt(params, optim::AdamWOptions(2e-5).weight_decay(0.01));
  optim::LinearWarmupDecay<float> sched(opt, 100, 1000000);
  const Tensor<int64_t> ids = random_ids(batch, seq, bench_model::kVocab, 1);
  const Tensor<int64_t> mask = ones<int64_t>(Shape{batch, seq});
  const Tensor<int64_t> types = zeros<int64_t>(Shape{batch, seq});
  const Tensor<int64_t> labels = random_ids(batch, 1, bench_model::kLabels, 2).reshape({batch});
  auto step = [&] {
    opt.zero_grad();
    auto out = model.forward(ids, mask, types, labels);
    out.loss.backward();
    optim::clip_grad_norm_(params, 1.0);
    opt.step();
    sched.step();
  };
  step();  // warm-up
  for (auto _ : state) step();
  bench_model::set_counters(
      state, batch, seq,
      3.0 * bench_model::model_forward_flops(bench_model::kMiniLM, bench_model::kMiniLMLayers,
                                             batch, seq, bench_model::kLabels),
      threads);
}

}  // namespace

int main(int argc, char** argv) {
  // --bf16: bf16 products (MatmulPrecision::medium) where the CPU has AMX-BF16 / AVX512-BF16.
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) != "--bf16") continue;
    ember::set_float32_matmul_precision(ember::MatmulPrecision::medium, ember::Device::cpu());
    for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
    --argc;
    break;
  }
  const ember::CpuInfo& cpu = ember::cpu_info();
  benchmark::AddCustomContext("ember_cpu", cpu.features.model_name + " (family " +
                                               std::to_string(cpu.features.family) + " model " +
                                               std::to_string(cpu.features.model) + ")");
  benchmark::AddCustomContext("ember_products", cpu.gemm + ", kernels " + cpu.gemm_kernels);
  benchmark::AddCustomContext("ember_kernels", ember::to_string(cpu.kernels));
  const bool bf16 = ember::get_float32_matmul_precision(ember::Device::cpu()) ==
                    ember::MatmulPrecision::medium;
  benchmark::AddCustomContext("ember_matmul_precision",
                              !bf16 ? "fp32" : cpu.bf16_products ? "bf16 (medium)" : "fp32 (no bf16 on this CPU)");
  return bench_model::run_main(argc, argv, "ember", bm_bert_forward, bm_layer, bm_train_step);
}
