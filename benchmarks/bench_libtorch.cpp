// bench_libtorch: the cases of bench_model.cpp (same names, shapes, counters) built from
// torch::nn modules in LibTorch 1.13 (Debian libtorch-dev), float32, torch::set_num_threads(N).
// Built only when CMake finds LibTorch; scripts/bench_compare.sh runs it next to bench_model.
//
// The model mirrors Hugging Face's BertModel (post-LN):
//   embeddings: word (30522×H) + position (512×H) + token type (2×H) → LayerNorm → dropout
//   layer: q, k, v = Linear(H, H)(x) split into heads; probs = softmax(q·kᵀ/√d + mask) →
//          dropout; a = Linear(H, H)(probs·v merged) → dropout; h = LayerNorm(x + a);
//          f = Linear(I, H)(gelu_exact(Linear(H, I)(h))) → dropout; out = LayerNorm(h + f)
//   pooler: tanh(Linear(H, H)(out[:, 0])); classifier: Linear(H, 2)(dropout(pooled))
// mask: additive [B, 1, 1, S], (1 − attention_mask)·(lowest float), from an all-ones attention
// mask (no padding), as HF and ember build it. The training step: cross_entropy, backward,
// torch::nn::utils::clip_grad_norm_(1.0), torch::optim::AdamW (lr 2e-5, wd 0.01), and the
// linear warmup/decay lr set by hand on the param group each step.
// Flag: --threads=N (default 2; torch::set_num_threads).
#include <torch/torch.h>

#include "bench_model_common.hpp"

#include <cmath>
#include <limits>

namespace {

using bench_model::Dims;

struct LayerImpl : torch::nn::Module {
  LayerImpl(const Dims& d, double p)
      : heads(d.heads),
        head_dim(d.hidden / d.heads),
        dropout_p(p),
        q(register_module("q", torch::nn::Linear(d.hidden, d.hidden))),
        k(register_module("k", torch::nn::Linear(d.hidden, d.hidden))),
        v(register_module("v", torch::nn::Linear(d.hidden, d.hidden))),
        o(register_module("o", torch::nn::Linear(d.hidden, d.hidden))),
        ln1(register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d.hidden})
                                                            .eps(1e-12)))),
        up(register_module("up", torch::nn::Linear(d.hidden, d.intermediate))),
        down(register_module("down", torch::nn::Linear(d.intermediate, d.hidden))),
        ln2(register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d.hidden})
                                                            .eps(1e-12)))) {}

  torch::Tensor heads_view(const torch::Tensor& t, int64_t b, int64_t s) {
    return t.view({b, s, heads, head_dim}).transpose(1, 2);  // [B, heads, S, d]
  }
  torch::Tensor drop(const torch::Tensor& t) {
    return torch::nn::functional::dropout(
        t, torch::nn::functional::DropoutFuncOptions().p(dropout_p).training(is_training()));
  }

  // x [B, S, H], mask additive [B, 1, 1, S].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask) {
    const int64_t b = x.size(0), s = x.size(1), h = x.size(2);
    auto qh = heads_view(q(x), b, s), kh = heads_view(k(x), b, s), vh = heads_view(v(x), b, s);
    auto scores = torch::matmul(qh, kh.transpose(-2, -1)) / std::sqrt(double(head_dim)) + mask;
    auto probs = drop(torch::softmax(scores, -1));
    auto ctx = torch::matmul(probs, vh).transpose(1, 2).contiguous().view({b, s, h});
    auto a = ln1(x + drop(o(ctx)));
    auto f = drop(down(torch::gelu(up(a))));
    return ln2(a + f);
  }

  int64_t heads, head_dim;
  double dropout_p;
  torch::nn::Linear q, k, v, o;
  torch::nn::LayerNorm ln1;
  torch::nn::Linear up, down;
  torch::nn::LayerNorm ln2;
};
TORCH_MODULE(Layer);

struct BertImpl : torch::nn::Module {
  BertImpl(const Dims& d, int64_t layers, double p, int64_t labels)
      : dropout_p(p),
        word(register_module("word", torch::nn::Embedding(bench_model::kVocab, d.hidden))),
        position(register_module("position",
                                 torch::nn::Embedding(bench_model::kMaxPositions, d.hidden))),
        type(register_module("type", torch::nn::Embedding(bench_model::kTypeVocab, d.hidden))),
        emb_ln(register_module(
            "emb_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d.hidden}).eps(1e-12)))),
        pooler(register_module("pooler", torch::nn::Linear(d.hidden, d.hidden))),
        classifier(register_module("classifier", torch::nn::Linear(d.hidden, labels))) {
    for (int64_t i = 0; i < layers; ++i)
      encoder.push_back(register_module("layer" + std::to_string(i), Layer(d, p)));
  }
  torch::Tensor drop(const torch::Tensor& t) {
    return torch::nn::functional::dropout(
        t, torch::nn::functional::DropoutFuncOptions().p(dropout_p).training(is_training()));
  }
  // Returns the pooled output [B, H].
  torch::Tensor pooled(const torch::Tensor& ids, const torch::Tensor& attention_mask,
                       const torch::Tensor& types) {
    const int64_t s = ids.size(1);
    auto pos = torch::arange(s, torch::kLong).unsqueeze(0);
    auto h = drop(emb_ln(word(ids) + position(pos) + type(types)));
    auto mask = (1.0 - attention_mask.to(torch::kFloat).view({ids.size(0), 1, 1, s})) *
                std::numeric_limits<float>::lowest();
    for (auto& l : encoder) h = l(h, mask);
    return torch::tanh(pooler(h.select(1, 0)));
  }
  torch::Tensor logits(const torch::Tensor& ids, const torch::Tensor& attention_mask,
                       const torch::Tensor& types) {
    return classifier(drop(pooled(ids, attention_mask, types)));
  }

  double dropout_p;
  torch::nn::Embedding word, position, type;
  torch::nn::LayerNorm emb_ln;
  std::vector<Layer> encoder;
  torch::nn::Linear pooler, classifier;
};
TORCH_MODULE(Bert);

torch::Tensor additive_mask(int64_t b, int64_t s) {
  auto m = torch::ones({b, s});
  return ((1.0 - m) * std::numeric_limits<float>::lowest()).view({b, 1, 1, s});
}

void bm_bert_forward(benchmark::State& state, int64_t batch, int64_t seq, int threads) {
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  Bert model(bench_model::kMiniLM, bench_model::kMiniLMLayers, 0.1, bench_model::kLabels);
  model->eval();
  auto ids = torch::randint(bench_model::kVocab, {batch, seq}, torch::kLong);
  auto mask = torch::ones({batch, seq}, torch::kLong);
  auto types = torch::zeros({batch, seq}, torch::kLong);
  torch::NoGradGuard no_grad;
  benchmark::DoNotOptimize(model->pooled(ids, mask, types).data_ptr());  // warm-up
  for (auto _ : state) {
    auto out = model->pooled(ids, mask, types);
    benchmark::DoNotOptimize(out.data_ptr());
  }
  bench_model::set_counters(state, batch, seq,
                            bench_model::model_forward_flops(bench_model::kMiniLM,
                                                             bench_model::kMiniLMLayers, batch, seq,
                                                             0),
                            threads);
}

void bm_layer(benchmark::State& state, Dims d, int64_t batch, int64_t seq, bool backward,
              int threads) {
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  Layer layer(d, 0.0);
  auto x = torch::randn({batch, seq, d.hidden});
  auto mask = additive_mask(batch, seq);
  const double fwd = bench_model::layer_forward_flops(d, batch, seq);
  if (!backward) {
    layer->eval();
    torch::NoGradGuard no_grad;
    benchmark::DoNotOptimize(layer(x, mask).data_ptr());  // warm-up
    for (auto _ : state) {
      auto y = layer(x, mask);
      benchmark::DoNotOptimize(y.data_ptr());
    }
    bench_model::set_counters(state, batch, seq, fwd, threads);
    return;
  }
  layer->train();
  x.requires_grad_(true);
  auto w = torch::randn({batch, seq, d.hidden});
  auto step = [&] {
    layer->zero_grad(/*set_to_none=*/true);
    x.mutable_grad() = torch::Tensor();
    auto y = layer(x, mask);
    y.backward(w);
  };
  step();  // warm-up
  for (auto _ : state) step();
  bench_model::set_counters(state, batch, seq, 3.0 * fwd, threads);
}

void bm_train_step(benchmark::State& state, int64_t batch, int64_t seq, int threads) {
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  Bert model(bench_model::kMiniLM, bench_model::kMiniLMLayers, 0.1, bench_model::kLabels);
  model->train();
  auto params = model->parameters();
  const double base_lr = 2e-5;
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(base_lr).weight_decay(0.01));
  const int64_t warmup = 100, total = 1000000;
  int64_t step_count = 0;
  auto ids = torch::randint(bench_model::kVocab, {batch, seq}, torch::kLong);
  auto mask = torch::ones({batch, seq}, torch::kLong);
  auto types = torch::zeros({batch, seq}, torch::kLong);
  auto labels = torch::randint(bench_model::kLabels, {batch}, torch::kLong);
  auto set_lr = [&] {  // get_linear_schedule_with_warmup, by hand
    const double f = step_count < warmup ? double(step_count) / double(warmup)
                                         : double(total - step_count) / double(total - warmup);
    for (auto& g : opt.param_groups())
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(base_lr * f);
  };
  set_lr();
  auto step = [&] {
    opt.zero_grad();
    auto logits = model->logits(ids, mask, types);
    auto loss = torch::nn::functional::cross_entropy(logits, labels);
    loss.backward();
    torch::nn::utils::clip_grad_norm_(params, 1.0);
    opt.step();
    ++step_count;
    set_lr();
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
  return bench_model::run_main(argc, argv, std::string("libtorch ") + TORCH_VERSION, bm_bert_forward, bm_layer, bm_train_step);
}
