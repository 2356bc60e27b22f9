// Tests of ember's layers (nn/linear, embedding, layer_norm, dropout, feed_forward, attention,
// transformer): forward values against independent hand computations (MultiHeadAttention
// against a naive loop reference), gradcheck in double (Linear, LayerNorm, MultiHeadAttention
// with padding, TransformerEncoderLayer post-LN and pre-LN), padding edge cases (a fully padded
// sequence gives finite outputs and gradients), Hugging Face BERT key names, and the tiny BERT
// encoder fixture (tests/data/bert_tiny, from tools/gen_bert_fixtures.py) reproduced layer by
// layer. Tolerances are stated at each check.
#include <ember/autograd/gradcheck.hpp>
#include <ember/io/safetensors.hpp>
#include <ember/nn.hpp>
#include <ember/ops/reduction.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace ember;

namespace {

template <class T>
std::vector<std::string> keys_of(const nn::Module<T>& m) {
  std::vector<std::string> out;
  for (auto& [k, t] : m.state_dict()) out.push_back(k);
  return out;
}

template <class T>
bool all_finite(const Tensor<T>& t) {
  for (T v : t.to_vector())
    if (!std::isfinite(double(v))) return false;
  return true;
}

template <class T>
void check_close(const Tensor<T>& a, const Tensor<T>& b, double tol) {
  REQUIRE(a.shape() == b.shape());
  auto av = a.to_vector(), bv = b.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < av.size(); ++i)
    worst = std::max(worst, std::abs(double(av[i]) - double(bv[i])));
  CHECK(worst <= tol);
}

// Naive multi-head attention with loops, in double, from the module's weights (row-major
// [out, in]), with HF's additive mask (1 − m)·lowest(double). x [B, S, H]; mask [B, S] or empty.
std::vector<double> naive_attention(const nn::MultiHeadAttention<double>& mha,
                                    const std::vector<double>& x, int64_t B, int64_t S,
                                    const std::vector<int64_t>& mask) {
  const int64_t H = mha.options().hidden_size(), NH = mha.options().num_heads(), D = H / NH;
  auto proj = [&](const nn::Linear<double>& lin, const std::vector<double>& in) {
    auto w = lin.weight.to_vector(), b = lin.bias.to_vector();
    std::vector<double> out(B * S * H);
    for (int64_t r = 0; r < B * S; ++r)
      for (int64_t o = 0; o < H; ++o) {
        double acc = b[o];
        for (int64_t i = 0; i < H; ++i) acc += w[o * H + i] * in[r * H + i];
        out[r * H + o] = acc;
      }
    return out;
  };
  auto q = proj(*mha.query, x), k = proj(*mha.key, x), v = proj(*mha.value, x);
  std::vector<double> ctx(B * S * H, 0.0);
  const double lowest = std::numeric_limits<double>::lowest();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = 0; i < S; ++i) {
        std::vector<double> s(S);
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < S; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < D; ++e)
            dot += q[(b * S + i) * H + h * D + e] * k[(b * S + j) * H + h * D + e];
          s[j] = dot / std::sqrt(double(D));
          if (!mask.empty()) s[j] += (1.0 - double(mask[b * S + j])) * lowest;
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (int64_t j = 0; j < S; ++j) z += (s[j] = std::exp(s[j] - mx));
        for (int64_t j = 0; j < S; ++j)
          for (int64_t e = 0; e < D; ++e)
            ctx[(b * S + i) * H + h * D + e] += s[j] / z * v[(b * S + j) * H + h * D + e];
      }
  return proj(*mha.dense, ctx);
}

}  // namespace

// ---- Linear ---------------------------------------------------------------------------------

TEST_CASE("Linear: forward equals x Wᵀ + b computed by hand; leading dims are kept") {
  nn::Linear<double> lin(3, 2);
  {
    NoGradGuard g;
    lin.weight.copy_(from_vector<double>({1, 2, 3, -1, 0, 0.5}, {2, 3}));
    lin.bias.copy_(from_vector<double>({0.25, -2}));
  }
  Tensor<double> x = from_vector<double>({1, 0, 2, -1, 1, 1, 0, 0, 0, 3, 2, 1}, {2, 2, 3});
  Tensor<double> y = lin.forward(x);
  CHECK(y.shape() == Shape{2, 2, 2});
  // rows: (1,0,2) (-1,1,1) (0,0,0) (3,2,1)
  CHECK(y.to_vector() == std::vector<double>{7.25, -2, 4.25, -0.5, 0.25, -2, 10.25, -4.5});
  nn::Linear<double> nobias(nn::LinearOptions(3, 2).bias(false));
  CHECK_FALSE(nobias.bias.defined());
  CHECK(keys_of(nobias) == std::vector<std::string>{"weight"});
}

TEST_CASE("Linear: gradcheck (double) on 2-D, 3-D and transposed inputs, with and without bias") {
  for (bool bias : {true, false}) {
    nn::Linear<double> lin(nn::LinearOptions(4, 3).bias(bias).initializer_range(0.5));
    Generator gen(1);
    Tensor<double> x2 = randn<double>({5, 4}, gen).requires_grad_();
    Tensor<double> x3 = randn<double>({2, 3, 4}, gen).requires_grad_();
    Tensor<double> xt = randn<double>({4, 5}, gen).t().requires_grad_();  // non-contiguous leaf
    for (const Tensor<double>& x : {x2, x3, xt}) {
      std::vector<Tensor<double>> inputs{x, lin.weight};
      if (bias) inputs.push_back(lin.bias);
      CHECK(gradcheck([&](const std::vector<Tensor<double>>& in) { return lin.forward(in[0]); },
                      inputs));
    }
  }
}

TEST_CASE("Linear: a wrong input names the module, the expected and the found shape") {
  nn::Linear<float> lin(8, 4);
  CHECK_THROWS_WITH_AS(lin.forward(zeros<float>({2, 7})),
                       "Linear(in_features=8, out_features=4): expected an input of shape "
                       "[..., 8], found [2, 7]",
                       Error);
  CHECK_THROWS_WITH_AS(nn::Linear<float>(0, 3), doctest::Contains("must be positive"), Error);
}

// ---- Embedding --------------------------------------------------------------------------------

TEST_CASE("Embedding: rows of the table; the padding row is zero and receives no gradient") {
  nn::Embedding<double> emb(nn::EmbeddingOptions(5, 3).padding_idx(0).initializer_range(1.0));
  Tensor<int64_t> ids = from_vector<int64_t>({2, 0, 4, 2}, {2, 2});
  Tensor<double> y = emb.forward(ids);
  CHECK(y.shape() == Shape{2, 2, 3});
  CHECK(y.select(0, 0).select(0, 0).to_vector() == emb.weight.select(0, 2).to_vector());
  CHECK(y.select(0, 0).select(0, 1).to_vector() == std::vector<double>(3, 0.0));
  sum(y).backward();
  Tensor<double> g = emb.weight.grad();
  CHECK(g.select(0, 0).to_vector() == std::vector<double>(3, 0.0));  // padding row
  CHECK(g.select(0, 2).to_vector() == std::vector<double>(3, 2.0));  // used twice
  CHECK(g.select(0, 4).to_vector() == std::vector<double>(3, 1.0));
  CHECK(g.select(0, 1).to_vector() == std::vector<double>(3, 0.0));
  CHECK_THROWS_WITH_AS(nn::Embedding<float>(nn::EmbeddingOptions(5, 3).padding_idx(5)),
                       doctest::Contains("padding_idx 5 is out of range"), Error);
}

// ---- LayerNorm --------------------------------------------------------------------------------

TEST_CASE("LayerNorm: forward against the formula; gradcheck (double); shape errors") {
  nn::LayerNorm<double> ln(nn::LayerNormOptions(4).eps(1e-12));
  Generator gen(2);
  {
    NoGradGuard g;
    ln.weight.copy_(randn<double>({4}, gen));
    ln.bias.copy_(randn<double>({4}, gen));
  }
  Tensor<double> x = randn<double>({2, 3, 4}, gen);
  Tensor<double> y = ln.forward(x);
  auto xv = x.to_vector(), yv = y.to_vector(), w = ln.weight.to_vector(), b = ln.bias.to_vector();
  double worst = 0;
  for (int r = 0; r < 6; ++r) {
    double m = 0, v = 0;
    for (int i = 0; i < 4; ++i) m += xv[r * 4 + i] / 4;
    for (int i = 0; i < 4; ++i) v += (xv[r * 4 + i] - m) * (xv[r * 4 + i] - m) / 4;
    for (int i = 0; i < 4; ++i)
      worst = std::max(worst, std::abs(yv[r * 4 + i] -
                                       ((xv[r * 4 + i] - m) / std::sqrt(v + 1e-12) * w[i] + b[i])));
  }
  CHECK(worst < 1e-12);

  Tensor<double> xg = randn<double>({3, 4}, gen).requires_grad_();
  Tensor<double> xs = randn<double>({4, 6}, gen).slice(1, 0, 6, 2).t().requires_grad_();  // [3, 4]
  for (const Tensor<double>& in : {xg, xs})
    CHECK(gradcheck([&](const std::vector<Tensor<double>>& i) { return ln.forward(i[0]); },
                    {in, ln.weight, ln.bias}));

  CHECK_THROWS_WITH_AS(ln.forward(zeros<double>({2, 5})),
                       "LayerNorm([4], eps=1e-12): expected an input of shape [..., 4], found "
                       "[2, 5]",
                       Error);
}

// ---- Dropout ---------------------------------------------------------------------------------

TEST_CASE("Dropout: identity in eval; in training zeros or 1/(1-p)-scaled values, seeded") {
  Generator g1(9), g2(9);
  nn::Dropout<float> d1(nn::DropoutOptions(0.5).generator(&g1)),
      d2(nn::DropoutOptions(0.5).generator(&g2));
  Tensor<float> x = ones<float>({400});
  Tensor<float> y = d1.forward(x);
  int zeros_n = 0;
  for (float v : y.to_vector()) {
    CHECK((v == 0.f || v == 2.f));
    zeros_n += v == 0.f;
  }
  CHECK(zeros_n > 120);
  CHECK(zeros_n < 280);
  CHECK(d2.forward(x).to_vector() == y.to_vector());
  d1.eval();
  CHECK(d1.forward(x).is_same(x));
  CHECK_THROWS_WITH_AS(nn::Dropout<float>(1.5), doctest::Contains("p must be in [0, 1]"), Error);
}

// ---- FeedForward ----------------------------------------------------------------------------

TEST_CASE("FeedForward: HF names, W2 act(W1 x + b1) + b2, activation names") {
  nn::FeedForward<double> ffn(
      nn::FeedForwardOptions(3, 5).activation(nn::Activation::Relu).initializer_range(0.7));
  CHECK(keys_of(ffn) == std::vector<std::string>{"intermediate.dense.weight",
                                                 "intermediate.dense.bias", "output.dense.weight",
                                                 "output.dense.bias"});
  Generator gen(3);
  Tensor<double> x = randn<double>({2, 3}, gen);
  Tensor<double> expected = ffn.output_dense->forward(relu(ffn.intermediate_dense->forward(x)));
  CHECK(ffn.forward(x).to_vector() == expected.to_vector());
  CHECK(nn::activation_from_name("gelu") == nn::Activation::Gelu);
  CHECK(nn::activation_from_name("gelu_new") == nn::Activation::GeluTanh);
  CHECK(nn::activation_from_name("gelu_pytorch_tanh") == nn::Activation::GeluTanh);
  CHECK(nn::activation_from_name("relu") == nn::Activation::Relu);
  CHECK_THROWS_WITH_AS(nn::activation_from_name("swish"),
                       doctest::Contains("unsupported activation \"swish\""), Error);
}

// ---- MultiHeadAttention ------------------------------------------------------------------------

TEST_CASE("MultiHeadAttention: HF BertAttention names; hidden % heads != 0 is an error") {
  nn::MultiHeadAttention<float> mha(nn::MultiHeadAttentionOptions(8, 2));
  CHECK(keys_of(mha) == std::vector<std::string>{"self.query.weight", "self.query.bias",
                                                 "self.key.weight", "self.key.bias",
                                                 "self.value.weight", "self.value.bias",
                                                 "output.dense.weight", "output.dense.bias"});
  CHECK(mha.head_dim() == 4);
  CHECK_THROWS_WITH_AS(nn::MultiHeadAttention<float>(nn::MultiHeadAttentionOptions(10, 3)),
                       "MultiHeadAttention: hidden_size (10) must be a positive multiple of "
                       "num_heads (3)",
                       Error);
  CHECK_THROWS_WITH_AS(mha.forward(zeros<float>({2, 3, 7})),
                       doctest::Contains("expected an input of shape [batch, seq, 8], found "
                                         "[2, 3, 7]"),
                       Error);
  CHECK_THROWS_WITH_AS(mha.forward(zeros<float>({2, 3, 8}), ones<int64_t>({2, 4})),
                       doctest::Contains("expected attention_mask of shape [2, 3]"), Error);
}

TEST_CASE("additive_attention_mask: HF's (1 - mask) * finfo.min as [batch, 1, 1, seq]") {
  Tensor<int64_t> m = from_vector<int64_t>({1, 1, 0, 1, 0, 0}, {2, 3});
  Tensor<float> a = nn::additive_attention_mask<float>(m);
  CHECK(a.shape() == Shape{2, 1, 1, 3});
  const float lo = std::numeric_limits<float>::lowest();
  CHECK(a.to_vector() == std::vector<float>{0, 0, lo, 0, lo, lo});
}

TEST_CASE("MultiHeadAttention: equals a naive loop implementation, with and without padding") {
  nn::MultiHeadAttention<double> mha(nn::MultiHeadAttentionOptions(6, 3).initializer_range(0.5));
  Generator gen(4);
  {
    NoGradGuard g;
    for (auto& p : mha.parameters()) p.copy_(randn<double>(p.shape(), gen, 0.0, 0.5));
  }
  const int64_t B = 3, S = 4;
  Tensor<double> x = randn<double>({B, S, 6}, gen);
  std::vector<int64_t> mask{1, 1, 1, 1, /**/ 1, 1, 0, 0, /**/ 1, 0, 1, 0};
  Tensor<int64_t> m = from_vector<int64_t>(mask, {B, S});
  // 1e-12: the same sums in a different order, in double.
  check_close(mha.forward(x), from_vector(naive_attention(mha, x.to_vector(), B, S, {}), {B, S, 6}),
              1e-12);
  check_close(mha.forward(x, m),
              from_vector(naive_attention(mha, x.to_vector(), B, S, mask), {B, S, 6}), 1e-12);
  // Masked keys do not matter: changing x at a padded position leaves the valid rows unchanged.
  Tensor<double> x2 = x.clone();
  x2.select(0, 1).select(0, 3).fill_(100.0);
  auto y1 = mha.forward(x, m), y2 = mha.forward(x2, m);
  check_close(y1.select(0, 1).slice(0, 0, 2), y2.select(0, 1).slice(0, 0, 2), 1e-12);
}

TEST_CASE("MultiHeadAttention: gradcheck (double) through x and the weights, with a padding mask") {
  nn::MultiHeadAttention<double> mha(nn::MultiHeadAttentionOptions(4, 2).initializer_range(0.5));
  mha.eval();
  Generator gen(5);
  Tensor<int64_t> m = from_vector<int64_t>({1, 1, 1, 1, 1, 0}, {2, 3});
  Tensor<double> x = randn<double>({2, 3, 4}, gen).requires_grad_();
  Tensor<double> xt = randn<double>({2, 4, 3}, gen).transpose(1, 2).requires_grad_();
  for (const Tensor<double>& in : {x, xt}) {
    CHECK(gradcheck([&](const std::vector<Tensor<double>>& i) { return mha.forward(i[0], m); },
                    {in, mha.query->weight, mha.key->weight, mha.value->bias, mha.dense->weight}));
  }
}

TEST_CASE(
    "MultiHeadAttention: a fully padded sequence gives finite outputs and gradients "
    "(uniform attention, as Hugging Face)") {
  for (int dtype = 0; dtype < 2; ++dtype) {
    auto run = [&](auto zero) {
      using T = decltype(zero);
      nn::MultiHeadAttention<T> mha(nn::MultiHeadAttentionOptions(4, 2).initializer_range(0.5));
      Generator gen(6);
      Tensor<T> x = randn<T>({2, 3, 4}, gen, 0.0, 3.0).requires_grad_();
      Tensor<int64_t> m = from_vector<int64_t>({1, 1, 0, 0, 0, 0}, {2, 3});
      Tensor<T> y = mha.forward(x, m);
      CHECK(all_finite(y));
      // All keys masked: every query of sequence 1 averages the value rows uniformly.
      Tensor<T> v = mha.value->forward(x.detach().select(0, 1));    // [3, 4]
      Tensor<T> expected = mha.dense->forward(mean(v, {0}, true));  // [1, 4]
      for (int64_t i = 0; i < 3; ++i)
        check_close(y.detach().select(0, 1).slice(0, i, i + 1), expected, 1e-5);
      sum(y * y).backward();
      CHECK(all_finite(x.grad()));
      for (auto& p : mha.parameters()) CHECK(all_finite(p.grad()));
    };
    if (dtype == 0)
      run(0.0f);
    else
      run(0.0);
  }
}

TEST_CASE("MultiHeadAttention: attention dropout is active only in training, and seeded") {
  Generator g1(7);
  nn::MultiHeadAttention<float> a(nn::MultiHeadAttentionOptions(8, 2).dropout(0.5).generator(&g1));
  const Generator after_init = g1;  // the constructor drew the initial weights from g1
  Generator init(8);
  Tensor<float> x = randn<float>({2, 5, 8}, init);
  a.eval();
  Tensor<float> e1 = a.forward(x), e2 = a.forward(x);
  CHECK(e1.to_vector() == e2.to_vector());
  CHECK(g1.offset() == after_init.offset());  // eval draws nothing
  a.train();
  Tensor<float> t1 = a.forward(x);
  CHECK(t1.to_vector() != e1.to_vector());
  g1 = after_init;  // same generator state → same masks
  CHECK(a.forward(x).to_vector() == t1.to_vector());
}

// ---- TransformerEncoderLayer --------------------------------------------------------------------

TEST_CASE("TransformerEncoderLayer: exactly HF BertLayer's state_dict keys, in order") {
  nn::TransformerEncoderLayer<float> layer(nn::TransformerEncoderLayerOptions(8, 2, 16));
  CHECK(keys_of(layer) ==
        std::vector<std::string>{
            "attention.self.query.weight", "attention.self.query.bias", "attention.self.key.weight",
            "attention.self.key.bias", "attention.self.value.weight", "attention.self.value.bias",
            "attention.output.dense.weight", "attention.output.dense.bias",
            "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
            "intermediate.dense.weight", "intermediate.dense.bias", "output.dense.weight",
            "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias"});
  // Pre-LN has the same parameters.
  nn::TransformerEncoderLayer<float> pre(
      nn::TransformerEncoderLayerOptions(8, 2, 16).norm_first(true));
  CHECK(keys_of(pre) == keys_of(layer));
  CHECK(layer.num_parameters() == 4 * (8 * 8 + 8) + 2 * 8 + (8 * 16 + 16) + (16 * 8 + 8) + 2 * 8);
}

TEST_CASE("TransformerEncoderLayer: post-LN and pre-LN wiring; gradcheck (double), dropout off") {
  for (bool norm_first : {false, true}) {
    CAPTURE(norm_first);
    nn::TransformerEncoderLayer<double> layer(
        nn::TransformerEncoderLayerOptions(4, 2, 6).norm_first(norm_first).initializer_range(0.5));
    layer.eval();
    Generator gen(10);
    {
      NoGradGuard g;  // non-trivial LayerNorm parameters
      for (auto* ln : {layer.attention_norm.get(), layer.output_norm.get()}) {
        ln->weight.copy_(randn<double>({4}, gen, 1.0, 0.3));
        ln->bias.copy_(randn<double>({4}, gen, 0.0, 0.3));
      }
    }
    Tensor<int64_t> m = from_vector<int64_t>({1, 1, 1, 1, 1, 0}, {2, 3});
    Tensor<double> x = randn<double>({2, 3, 4}, gen);

    // The formula, composed by hand from the layer's pieces.
    auto ffn = [&](const Tensor<double>& h) {
      return layer.output_dense->forward(gelu(layer.intermediate_dense->forward(h)));
    };
    Tensor<double> expected;
    if (!norm_first) {
      Tensor<double> h = layer.attention_norm->forward(x + layer.attention->forward(x, m));
      expected = layer.output_norm->forward(h + ffn(h));
    } else {
      Tensor<double> h = x + layer.attention->forward(layer.attention_norm->forward(x), m);
      expected = h + ffn(layer.output_norm->forward(h));
    }
    check_close(layer.forward(x, m), expected, 1e-14);

    Tensor<double> xg = x.clone().requires_grad_();
    CHECK(gradcheck(
        [&](const std::vector<Tensor<double>>& i) { return layer.forward(i[0], m); },
        {xg, layer.attention->query->weight, layer.attention_norm->weight,
         layer.intermediate_dense->bias, layer.output_dense->weight, layer.output_norm->bias}));
  }
}

TEST_CASE(
    "TransformerEncoderLayer: hidden dropout in training only; a fully padded row is finite") {
  Generator gen(12);
  nn::TransformerEncoderLayer<float> layer(
      nn::TransformerEncoderLayerOptions(8, 2, 16).generator(&gen));
  Generator xg(13);
  Tensor<float> x = randn<float>({2, 4, 8}, xg).requires_grad_();
  Tensor<int64_t> m = from_vector<int64_t>({1, 1, 1, 0, 0, 0, 0, 0}, {2, 4});
  Tensor<float> train_out = layer.forward(x, m);
  layer.eval();
  Tensor<float> eval_out = layer.forward(x, m);
  CHECK(train_out.to_vector() != eval_out.to_vector());
  CHECK(layer.forward(x, m).to_vector() == eval_out.to_vector());
  CHECK(all_finite(train_out));
  CHECK(all_finite(eval_out));
  sum(eval_out * eval_out).backward();
  CHECK(all_finite(x.grad()));
  for (auto& p : layer.parameters()) CHECK(all_finite(p.grad()));
}

// ---- TransformerEncoder ------------------------------------------------------------------------

TEST_CASE("TransformerEncoder: layer.N names, forward = layers in sequence, hidden states") {
  nn::TransformerEncoder<double> enc(nn::TransformerEncoderLayerOptions(4, 2, 8), 3);
  auto keys = keys_of(enc);
  CHECK(keys.size() == 3 * 16);
  CHECK(keys.front() == "layer.0.attention.self.query.weight");
  CHECK(keys.back() == "layer.2.output.LayerNorm.bias");
  CHECK(enc.num_layers() == 3);
  enc.eval();
  Generator gen(14);
  Tensor<double> x = randn<double>({2, 3, 4}, gen);
  Tensor<int64_t> m = from_vector<int64_t>({1, 1, 0, 1, 1, 1}, {2, 3});
  Tensor<double> h = x;
  for (std::size_t i = 0; i < 3; ++i) h = enc.layer_at(i)->forward(h, m);
  CHECK(enc.forward(x, m).to_vector() == h.to_vector());
  auto states = enc.all_hidden_states(x, m);
  REQUIRE(states.size() == 4);
  CHECK(states[0].is_same(x));
  CHECK(states[3].to_vector() == h.to_vector());

  nn::TransformerEncoder<float> pre(
      nn::TransformerEncoderOptions(nn::TransformerEncoderLayerOptions(4, 2, 8).norm_first(true), 2)
          .final_layer_norm(true));
  CHECK(keys_of(pre).back() == "LayerNorm.bias");
  CHECK_THROWS_WITH_AS(enc.forward(x, ones<int64_t>({2, 4})),
                       doctest::Contains("expected attention_mask of shape [2, 3]"), Error);
}

TEST_CASE("TransformerEncoder reproduces Hugging Face's tiny BERT encoder (tests/data/bert_tiny)") {
  // The fixture: BertModel(config) with torch.manual_seed(0), eager attention, eval mode;
  // hidden_states.0 is the embedding output, hidden_states.k the output of layer k-1.
  const std::string dir = std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny/";
  auto model = io::SafetensorsFile::open(dir + "model.safetensors");
  auto golden = io::SafetensorsFile::open(dir + "golden.safetensors");
  const std::string prefix = "bert.encoder.";
  nn::StateDict<float> sd;
  for (const auto& k : model.keys())
    if (k.rfind(prefix, 0) == 0) sd.emplace_back(k.substr(prefix.size()), model.get<float>(k));

  auto check_case = [&](auto zero, double tol) {
    using T = decltype(zero);
    nn::TransformerEncoder<T> enc(nn::TransformerEncoderLayerOptions(32, 4, 64)
                                      .activation(nn::Activation::Gelu)
                                      .layer_norm_eps(1e-12),
                                  2);
    CHECK(enc.load_state_dict(sd).ok());  // strict: the key sets are identical
    enc.eval();
    for (const char* c : {"a", "b", "c"}) {
      CAPTURE(c);
      const std::string p = std::string(c) + ".";
      Tensor<int64_t> mask = golden.get<int64_t>(p + "attention_mask");
      auto states = enc.all_hidden_states(golden.get<T>(p + "hidden_states.0"), mask);
      check_close(states[1], golden.get<T>(p + "hidden_states.1"), tol);
      check_close(states[2], golden.get<T>(p + "hidden_states.2"), tol);
    }
  };
  check_case(0.0f, 2e-5);  // float32 vs PyTorch float32 (LayerNorm outputs are O(1))
  check_case(0.0, 2e-5);   // double vs the float32 reference
}
