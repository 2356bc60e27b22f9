// ember/nn/transformer.hpp — the Transformer encoder layer and a stack of them, with Hugging
// Face BERT's parameter names.
//
// Post-LN (BERT, the original Transformer; `norm_first(false)`, the default):
//   h   = LayerNorm₁(x + dropout(Attention(x, mask)))
//   out = LayerNorm₂(h + dropout(W₂ act(W₁ h)))
// Pre-LN (`norm_first(true)`; Xiong et al. 2020, PyTorch's `norm_first=True`):
//   h   = x + dropout(Attention(LayerNorm₁(x), mask))
//   out = h + dropout(W₂ act(W₁ LayerNorm₂(h)))
// Both modes have the same parameters. Keys of one layer (exactly HF's `BertLayer`):
//   attention.self.{query,key,value}.{weight,bias}   attention.output.dense.{weight,bias}
//   attention.output.LayerNorm.{weight,bias}          intermediate.dense.{weight,bias}
//   output.dense.{weight,bias}                        output.LayerNorm.{weight,bias}
// and `TransformerEncoder` registers its layers as `layer.0`, `layer.1`, … (HF `BertEncoder`).
// Dropouts: `hidden_dropout` after the attention output projection and after the second FFN
// Linear (HF `hidden_dropout_prob`), `attention_dropout` on the attention probabilities (HF
// `attention_probs_dropout_prob`). Defaults are BertConfig's (gelu, 0.1, 0.1, eps 1e-12).
// Every piece's backward is in its op; nothing here needs its own.
#pragma once

#include <ember/nn/attention.hpp>
#include <ember/nn/feed_forward.hpp>
#include <ember/nn/layer_norm.hpp>
#include <ember/nn/linear.hpp>
#include <ember/nn/module.hpp>
#include <ember/ops/dropout.hpp>

#include <string>
#include <vector>

namespace ember::nn {

/// Options of `TransformerEncoderLayer`: `TransformerEncoderLayerOptions(hidden, heads,
/// intermediate).norm_first(false).layer_norm_eps(1e-12).activation(Activation::Gelu)
/// .hidden_dropout(0.1).attention_dropout(0.1)`.
struct TransformerEncoderLayerOptions {
  TransformerEncoderLayerOptions(int64_t hidden_size, int64_t num_heads, int64_t intermediate_size)
      : hidden_size_(hidden_size), num_heads_(num_heads), intermediate_size_(intermediate_size) {}
  EMBER_ARG(int64_t, hidden_size);
  EMBER_ARG(int64_t, num_heads);
  EMBER_ARG(int64_t, intermediate_size);
  /// Pre-LN (LayerNorm before each sublayer) instead of BERT's post-LN.
  EMBER_ARG(bool, norm_first) = false;
  EMBER_ARG(double, layer_norm_eps) = 1e-12;
  EMBER_ARG(Activation, activation) = Activation::Gelu;
  /// HF `hidden_dropout_prob`.
  EMBER_ARG(double, hidden_dropout) = 0.1;
  /// HF `attention_probs_dropout_prob`.
  EMBER_ARG(double, attention_dropout) = 0.1;
  /// Standard deviation of the Linear weights' initialization.
  EMBER_ARG(double, initializer_range) = 0.02;
  /// Generator for initialization and dropout (null: `default_generator()`); must outlive the
  /// module.
  EMBER_ARG(Generator*, generator) = nullptr;
};

/// One encoder layer: self-attention and feed-forward, each with residual and LayerNorm.
template <class T>
class TransformerEncoderLayer : public Module<T> {
 public:
  /// Throws `ember::Error` for invalid sizes (hidden_size not a multiple of num_heads, …) or
  /// dropouts outside [0, 1].
  explicit TransformerEncoderLayer(const TransformerEncoderLayerOptions& options)
      : Module<T>("TransformerEncoderLayer"), options_(options) {
    EMBER_CHECK(options.hidden_dropout() >= 0.0 && options.hidden_dropout() <= 1.0,
                "TransformerEncoderLayer: hidden_dropout must be in [0, 1], found ",
                options.hidden_dropout());
    EMBER_CHECK(options.intermediate_size() > 0,
                "TransformerEncoderLayer: intermediate_size must be positive, found ",
                options.intermediate_size());
    const int64_t h = options.hidden_size(), inter = options.intermediate_size();
    auto lin = [&](int64_t in, int64_t out) {
      return std::make_shared<Linear<T>>(LinearOptions(in, out)
                                             .initializer_range(options.initializer_range())
                                             .generator(options.generator()));
    };
    auto norm = [&] {
      return std::make_shared<LayerNorm<T>>(LayerNormOptions(h).eps(options.layer_norm_eps()));
    };
    attention = this->register_module(
        "attention",
        std::make_shared<MultiHeadAttention<T>>(MultiHeadAttentionOptions(h, options.num_heads())
                                                    .dropout(options.attention_dropout())
                                                    .initializer_range(options.initializer_range())
                                                    .generator(options.generator())));
    // HF keeps the attention block's LayerNorm at attention.output.LayerNorm.
    attention_norm = attention->output->register_module("LayerNorm", norm());
    intermediate =
        this->register_module("intermediate", std::make_shared<Module<T>>("Intermediate"));
    intermediate_dense = intermediate->register_module("dense", lin(h, inter));
    output = this->register_module("output", std::make_shared<Module<T>>("Output"));
    output_dense = output->register_module("dense", lin(inter, h));
    output_norm = output->register_module("LayerNorm", norm());
  }

  /// `x` [batch, seq, hidden]; `attention_mask` [batch, seq] int64 (1 = attend, 0 = padding)
  /// or undefined. Returns [batch, seq, hidden].
  Tensor<T> forward(const Tensor<T>& x,
                    const Tensor<int64_t>& attention_mask = Tensor<int64_t>()) const {
    check_mask(x, attention_mask);
    return forward_with_additive_mask(
        x, attention_mask.defined() ? additive_attention_mask<T>(attention_mask) : Tensor<T>());
  }
  Tensor<T> operator()(const Tensor<T>& x,
                       const Tensor<int64_t>& attention_mask = Tensor<int64_t>()) const {
    return forward(x, attention_mask);
  }

  /// As `forward`, with a ready additive mask (see `MultiHeadAttention`).
  Tensor<T> forward_with_additive_mask(const Tensor<T>& x, const Tensor<T>& additive_mask) const {
    Generator& gen = options_.generator() ? *options_.generator() : default_generator();
    const bool train = this->is_training();
    const double p = options_.hidden_dropout();
    auto ffn = [&](const Tensor<T>& in) {
      Tensor<T> inner = apply_activation(intermediate_dense->forward(in), options_.activation());
      if (neuron_mask.defined()) {
        EMBER_CHECK(neuron_mask.dim() == 1 && neuron_mask.size(0) == options_.intermediate_size(),
                    this->repr(), ": expected neuron_mask of shape [",
                    options_.intermediate_size(), "] (one value per neuron), found ",
                    neuron_mask.shape());
        inner = inner * neuron_mask;  // [inter] broadcasts over the tokens
      }
      return ember::dropout(output_dense->forward(inner), p, train, gen);
    };
    if (options_.norm_first()) {
      Tensor<T> a =
          attention->forward_with_additive_mask(attention_norm->forward(x), additive_mask);
      Tensor<T> h = x + ember::dropout(a, p, train, gen);
      return h + ffn(output_norm->forward(h));
    }
    Tensor<T> a = attention->forward_with_additive_mask(x, additive_mask);
    Tensor<T> h = attention_norm->forward(x + ember::dropout(a, p, train, gen));
    return output_norm->forward(h + ffn(h));
  }

  /// Removes the feed-forward neurons at `positions` (indices into today's 0..intermediate_size−1;
  /// duplicates count once): intermediate.dense loses those rows and bias entries, output.dense
  /// those columns, so the block computes W₂' act(W₁' x + b₁') + b₂ with a smaller inner
  /// dimension — exactly the output of the full block with those neurons' activations set to 0.
  /// `options().intermediate_size()` becomes the new size. Structured pruning of the FFN (Michel
  /// et al. 2019 score heads; the same gradient estimate scores neurons, nn/prune.hpp). Do it
  /// before creating an optimizer (the old parameters are gone). Throws `ember::Error` for a
  /// position out of range or when no neuron would be left.
  void prune_neurons(const std::vector<int64_t>& positions) {
    const int64_t inter = options_.intermediate_size();
    std::vector<char> drop(std::size_t(inter), 0);
    for (int64_t i : positions) {
      EMBER_CHECK(i >= 0 && i < inter, this->repr(), ": prune_neurons: neuron ", i,
                  " is out of range for intermediate_size ", inter);
      drop[std::size_t(i)] = 1;
    }
    std::vector<int64_t> kept;
    for (int64_t i = 0; i < inter; ++i)
      if (!drop[std::size_t(i)]) kept.push_back(i);
    if (int64_t(kept.size()) == inter) return;
    EMBER_CHECK(!kept.empty(), this->repr(), ": prune_neurons would remove all ", inter,
                " neurons; keep at least one");
    const Tensor<int64_t> index = from_vector(kept).to(intermediate_dense->weight.device());
    intermediate_dense =
        intermediate->replace_module("dense", nn::select_features(*intermediate_dense, index, 0));
    output_dense = output->replace_module("dense", nn::select_features(*output_dense, index, 1));
    options_.intermediate_size(int64_t(kept.size()));
    neuron_mask = Tensor<T>();
  }

  std::string extra_repr() const override {
    return ember::detail::str_cat("hidden_size=", options_.hidden_size(),
                                  ", num_heads=", options_.num_heads(),
                                  ", intermediate_size=", options_.intermediate_size(),
                                  ", norm_first=", options_.norm_first() ? "true" : "false",
                                  ", activation=", activation_name(options_.activation()));
  }
  const TransformerEncoderLayerOptions& options() const { return options_; }

  /// A mask on the feed-forward neurons: undefined (none), or [intermediate_size] multiplying
  /// each neuron's activation before output.dense (1 keeps it, 0 silences it). With
  /// requires_grad, its gradient is the loss's sensitivity to each neuron
  /// (nn::neuron_importance).
  Tensor<T> neuron_mask;

  std::shared_ptr<MultiHeadAttention<T>> attention;  ///< attention.{self,output}
  std::shared_ptr<LayerNorm<T>> attention_norm;      ///< attention.output.LayerNorm
  std::shared_ptr<Module<T>> intermediate;           ///< naming level "intermediate"
  std::shared_ptr<Linear<T>> intermediate_dense;     ///< intermediate.dense: hidden → inter
  std::shared_ptr<Module<T>> output;                 ///< naming level "output"
  std::shared_ptr<Linear<T>> output_dense;           ///< output.dense: inter → hidden
  std::shared_ptr<LayerNorm<T>> output_norm;         ///< output.LayerNorm

 private:
  void check_mask(const Tensor<T>& x, const Tensor<int64_t>& mask) const {
    EMBER_CHECK(x.defined() && x.dim() == 3, this->repr(),
                ": expected an input of shape [batch, seq, hidden], found ",
                x.defined() ? x.shape() : Shape{});
    EMBER_CHECK(!mask.defined() ||
                    (mask.dim() == 2 && mask.size(0) == x.size(0) && mask.size(1) == x.size(1)),
                this->repr(), ": expected attention_mask of shape [", x.size(0), ", ", x.size(1),
                "] for an input of shape ", x.shape(), ", found ", mask.shape());
  }
  TransformerEncoderLayerOptions options_;
};

/// Options of `TransformerEncoder`: the layer options, the number of layers, and whether to
/// end with a LayerNorm (usual for pre-LN stacks; registered as "LayerNorm").
struct TransformerEncoderOptions {
  TransformerEncoderOptions(const TransformerEncoderLayerOptions& layer, int64_t num_layers)
      : layer_(layer), num_layers_(num_layers) {}
  EMBER_ARG(TransformerEncoderLayerOptions, layer);
  EMBER_ARG(int64_t, num_layers);
  EMBER_ARG(bool, final_layer_norm) = false;
};

/// A stack of `num_layers` encoder layers registered as `layer.0`, `layer.1`, … (HF BertEncoder).
template <class T>
class TransformerEncoder : public Module<T> {
 public:
  /// Throws `ember::Error` for num_layers < 0 or invalid layer options.
  explicit TransformerEncoder(const TransformerEncoderOptions& options)
      : Module<T>("TransformerEncoder"), options_(options) {
    EMBER_CHECK(options.num_layers() >= 0, "TransformerEncoder: num_layers must be >= 0, found ",
                options.num_layers());
    layer = this->register_module("layer", std::make_shared<ModuleList<T>>());
    for (int64_t i = 0; i < options.num_layers(); ++i)
      layers_.push_back(
          layer->push_back(std::make_shared<TransformerEncoderLayer<T>>(options.layer())));
    if (options.final_layer_norm())
      final_norm = this->register_module(
          "LayerNorm",
          std::make_shared<LayerNorm<T>>(LayerNormOptions(options.layer().hidden_size())
                                             .eps(options.layer().layer_norm_eps())));
  }
  TransformerEncoder(const TransformerEncoderLayerOptions& layer_options, int64_t num_layers)
      : TransformerEncoder(TransformerEncoderOptions(layer_options, num_layers)) {}

  /// `x` [batch, seq, hidden], `attention_mask` [batch, seq] int64 or undefined →
  /// [batch, seq, hidden]. The additive mask is built once for all layers.
  Tensor<T> forward(const Tensor<T>& x,
                    const Tensor<int64_t>& attention_mask = Tensor<int64_t>()) const {
    return encode(x, attention_mask, nullptr);
  }
  Tensor<T> operator()(const Tensor<T>& x,
                       const Tensor<int64_t>& attention_mask = Tensor<int64_t>()) const {
    return forward(x, attention_mask);
  }

  /// HF's `output_hidden_states`: the input followed by each layer's output (num_layers + 1
  /// tensors; the final LayerNorm, if any, is applied to the last one).
  std::vector<Tensor<T>> all_hidden_states(
      const Tensor<T>& x, const Tensor<int64_t>& attention_mask = Tensor<int64_t>()) const {
    std::vector<Tensor<T>> all;
    encode(x, attention_mask, &all);
    return all;
  }

  std::size_t num_layers() const { return layers_.size(); }
  /// Layer `i`, typed.
  const std::shared_ptr<TransformerEncoderLayer<T>>& layer_at(std::size_t i) const {
    EMBER_CHECK(i < layers_.size(), "TransformerEncoder: layer ", i, " is out of range for ",
                layers_.size(), " layer(s)");
    return layers_[i];
  }
  std::string extra_repr() const override {
    return ember::detail::str_cat("num_layers=", layers_.size());
  }
  const TransformerEncoderOptions& options() const { return options_; }

  std::shared_ptr<ModuleList<T>> layer;      ///< "layer": the layers as children "0", "1", …
  std::shared_ptr<LayerNorm<T>> final_norm;  ///< "LayerNorm" with final_layer_norm(true), else null

 private:
  // Runs the layers (and the final LayerNorm); with `all`, also collects the input and every
  // layer's output there. Returns the last hidden state.
  Tensor<T> encode(const Tensor<T>& x, const Tensor<int64_t>& attention_mask,
                   std::vector<Tensor<T>>* all) const {
    EMBER_CHECK(x.defined() && x.dim() == 3 && x.size(-1) == options_.layer().hidden_size(),
                this->repr(), ": expected an input of shape [batch, seq, ",
                options_.layer().hidden_size(), "], found ", x.defined() ? x.shape() : Shape{});
    EMBER_CHECK(!attention_mask.defined() ||
                    (attention_mask.dim() == 2 && attention_mask.size(0) == x.size(0) &&
                     attention_mask.size(1) == x.size(1)),
                this->repr(), ": expected attention_mask of shape [", x.size(0), ", ", x.size(1),
                "] for an input of shape ", x.shape(), ", found ", attention_mask.shape());
    Tensor<T> mask =
        attention_mask.defined() ? additive_attention_mask<T>(attention_mask) : Tensor<T>();
    Tensor<T> h = x;
    if (all) all->push_back(h);
    for (const auto& l : layers_) {
      h = l->forward_with_additive_mask(h, mask);
      if (all) all->push_back(h);
    }
    if (final_norm) {
      h = final_norm->forward(h);
      if (all) all->back() = h;
    }
    return h;
  }

  TransformerEncoderOptions options_;
  std::vector<std::shared_ptr<TransformerEncoderLayer<T>>> layers_;
};

}  // namespace ember::nn
