// ember/nn/attention.hpp — multi-head self-attention (Vaswani et al. 2017, §3.2), laid out as
// Hugging Face's `BertAttention`, and the padding-mask conversion BERT uses.
//
// For x [batch, seq, hidden], with H heads of size d = hidden / H:
//   Q = x W_qᵀ + b_q, K = …, V = …                          each viewed as [batch, H, seq, d]
//   scores = Q Kᵀ / √d + mask                                [batch, H, seq, seq]
//   probs  = dropout(softmax(scores, -1))                    (attention_probs_dropout_prob)
//   out    = (probs V → [batch, seq, hidden]) W_oᵀ + b_o
// Q, K, V are views of the projections (view + permute, no copies); Kᵀ is a transposed view.
// Only the merge of the heads back to [batch, seq, hidden] copies.
//
// Masks. `attention_mask` [batch, seq] (int64, 1 = attend, 0 = padding; what the tokenizer
// returns) becomes the additive mask (1 − mask) · lowest(T), shaped [batch, 1, 1, seq]:
// exactly Hugging Face's `get_extended_attention_mask` with `torch.finfo(dtype).min`. Masked
// keys get a finite, hugely negative score, so exp underflows to 0 for them; a row whose keys
// are all masked (an all-padding sequence) has all scores ≈ lowest and gets uniform weights,
// as in Hugging Face — finite outputs and gradients, never NaN.
//
// Parameter names (state_dict keys), as HF `BertAttention` so BERT checkpoints load:
//   self.query.{weight,bias}  self.key.*  self.value.*  output.dense.*
// HF's `attention.output.LayerNorm` belongs to the residual block around this module;
// `TransformerEncoderLayer` registers it inside this module's `output` level so that its keys are
// exactly BERT's.
//
// scaled_dot_product_attention runs the fused kernels of ops/attention.hpp (CPU and GPU;
// FlashAttention-2's blocking: the [batch, H, seq, seq] probabilities are never stored; backward
// saves Q, K, V, the output and two statistics per query row) whenever its shapes allow it (4-D
// q, k, v with head_dim ≤ 128, a mask broadcastable to [batch, H, seq_q, seq_k]) — same results
// to rounding, the same dropout mask. The fused output is laid out [batch, seq, H, d], so the
// merge of the heads below is a view, not a copy. `ember::set_fused_attention(false)` forces the
// unfused path (matmul → scaled_masked_softmax → dropout → matmul, whose backward keeps the
// probabilities, as PyTorch's eager attention).
//
// Head pruning (Michel et al., "Are Sixteen Heads Really Better than One?", NeurIPS 2019; HF's
// `BertAttention.prune_heads`): `prune_heads({…})` removes heads for good — query/key/value lose
// those heads' d rows each and output.dense the matching d columns, so the layer computes with
// H' < H heads of the same size d (hidden / H of the unpruned layer) and is smaller and faster.
// Indices are always in the original numbering (0..H−1), as HF records them in
// `config.pruned_heads`. `head_mask` ([H'], HF's `head_mask` for one layer) multiplies each head's
// output: the gradient of the loss with respect to it is Michel et al.'s head importance
// (nn/prune.hpp).
#pragma once

#include <ember/nn/linear.hpp>
#include <ember/nn/module.hpp>
#include <ember/ops/attention.hpp>
#include <ember/ops/dropout.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/ops/matmul.hpp>
#include <ember/ops/softmax.hpp>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace ember::nn {

/// The additive mask for `attention_mask` [batch, seq] (int64: 1 = attend, 0 = padding):
/// (1 − mask) · lowest(T) as [batch, 1, 1, seq], broadcastable over heads and query positions
/// (HF `get_extended_attention_mask`). Throws `ember::Error` unless the mask is 2-D.
template <class T>
Tensor<T> additive_attention_mask(const Tensor<int64_t>& attention_mask) {
  EMBER_CHECK(attention_mask.defined() && attention_mask.dim() == 2,
              "additive_attention_mask: expected attention_mask of shape [batch, seq], found ",
              attention_mask.defined() ? attention_mask.shape() : Shape{});
  NoGradGuard no_grad;
  Tensor<T> m = attention_mask.template to<T>();
  Tensor<T> additive = (1.0 - m) * static_cast<double>(std::numeric_limits<T>::lowest());
  return additive.view({attention_mask.size(0), 1, 1, attention_mask.size(1)});
}

/// The attention core as a function: ember::scaled_dot_product_attention (ops/attention.hpp).
using ember::scaled_dot_product_attention;

/// Options of `MultiHeadAttention`: `MultiHeadAttentionOptions(hidden, heads).dropout(0.1)`.
struct MultiHeadAttentionOptions {
  MultiHeadAttentionOptions(int64_t hidden_size, int64_t num_heads)
      : hidden_size_(hidden_size), num_heads_(num_heads) {}
  EMBER_ARG(int64_t, hidden_size);
  EMBER_ARG(int64_t, num_heads);
  /// Dropout on the attention probabilities (HF `attention_probs_dropout_prob`).
  EMBER_ARG(double, dropout) = 0.0;
  /// Biases on the four projections.
  EMBER_ARG(bool, bias) = true;
  /// Standard deviation of the projections' initialization.
  EMBER_ARG(double, initializer_range) = 0.02;
  /// Generator for initialization and dropout (null: `default_generator()`, looked up at each
  /// call); must outlive the module.
  EMBER_ARG(Generator*, generator) = nullptr;
};

/// Multi-head self-attention over [batch, seq, hidden], with HF BertAttention's names.
template <class T>
class MultiHeadAttention : public Module<T> {
 public:
  /// Throws `ember::Error` when hidden_size is not a positive multiple of num_heads, or dropout
  /// is outside [0, 1].
  explicit MultiHeadAttention(const MultiHeadAttentionOptions& options)
      : Module<T>("MultiHeadAttention"), options_(options) {
    EMBER_CHECK(options.num_heads() > 0 && options.hidden_size() > 0 &&
                    options.hidden_size() % options.num_heads() == 0,
                "MultiHeadAttention: hidden_size (", options.hidden_size(),
                ") must be a positive multiple of num_heads (", options.num_heads(), ")");
    EMBER_CHECK(options.dropout() >= 0.0 && options.dropout() <= 1.0,
                "MultiHeadAttention: dropout must be in [0, 1], found ", options.dropout());
    const int64_t h = options.hidden_size();
    auto lin = [&] {
      return std::make_shared<Linear<T>>(LinearOptions(h, h)
                                             .bias(options.bias())
                                             .initializer_range(options.initializer_range())
                                             .generator(options.generator()));
    };
    self = this->register_module("self", std::make_shared<Module<T>>("SelfAttention"));
    query = self->register_module("query", lin());
    key = self->register_module("key", lin());
    value = self->register_module("value", lin());
    output = this->register_module("output", std::make_shared<Module<T>>("SelfOutput"));
    dense = output->register_module("dense", lin());
    for (int64_t i = 0; i < options.num_heads(); ++i) heads_.push_back(i);
  }

  /// `x` [batch, seq, hidden]; `attention_mask` [batch, seq] int64 (1 = attend, 0 = padding) or
  /// undefined (attend everywhere). Returns [batch, seq, hidden] (after `output.dense`).
  /// Throws `ember::Error` naming this module for a wrong x or mask shape.
  Tensor<T> forward(const Tensor<T>& x,
                    const Tensor<int64_t>& attention_mask = Tensor<int64_t>()) const {
    check_input(x);
    if (!attention_mask.defined()) return forward_with_additive_mask(x, Tensor<T>());
    EMBER_CHECK(attention_mask.dim() == 2 && attention_mask.size(0) == x.size(0) &&
                    attention_mask.size(1) == x.size(1),
                this->repr(), ": expected attention_mask of shape [", x.size(0), ", ", x.size(1),
                "] (int64, [batch, seq]) for an input of shape ", x.shape(), ", found ",
                attention_mask.shape());
    return forward_with_additive_mask(x, additive_attention_mask<T>(attention_mask));
  }
  Tensor<T> operator()(const Tensor<T>& x,
                       const Tensor<int64_t>& attention_mask = Tensor<int64_t>()) const {
    return forward(x, attention_mask);
  }

  /// As `forward`, with a ready additive mask (undefined, or broadcastable to
  /// [batch, heads, seq, seq]: e.g. `additive_attention_mask` computed once for all layers, or
  /// a causal mask of 0 / lowest(T)).
  Tensor<T> forward_with_additive_mask(const Tensor<T>& x, const Tensor<T>& additive_mask) const {
    check_input(x);
    const int64_t b = x.size(0), s = x.size(1), nh = num_heads(), d = head_dim();
    auto heads = [&](const Tensor<T>& t) {  // [b, s, nh·d] → [b, nh, s, d], a view
      return t.view({b, s, nh, d}).permute({0, 2, 1, 3});
    };
    Tensor<T> q = heads(query->forward(x)), k = heads(key->forward(x)),
              v = heads(value->forward(x));
    Generator& gen = options_.generator() ? *options_.generator() : default_generator();
    Tensor<T> context = scaled_dot_product_attention(q, k, v, additive_mask, options_.dropout(),
                                                     this->is_training(), gen);
    if (head_mask.defined()) {
      EMBER_CHECK(head_mask.dim() == 1 && head_mask.size(0) == nh, this->repr(),
                  ": expected head_mask of shape [", nh, "] (one value per head), found ",
                  head_mask.shape());
      context = context * head_mask.view({1, nh, 1, 1});
    }
    // [b, nh, s, d] → [b, s, nh, d] → [b, s, nh·d] (a view after the fused kernel; the unfused
    // path's reshape copies)
    return dense->forward(context.permute({0, 2, 1, 3}).reshape({b, s, nh * d}));
  }

  /// Removes the heads `heads` (indices in the original numbering 0..H−1; heads already removed
  /// are skipped), as HF's `prune_heads`: the projections are replaced by smaller Linear layers
  /// holding the kept heads' rows (query/key/value) and columns (output.dense), in the original
  /// order, on the same device, with the same requires_grad and int8 setting. Do it before
  /// creating an optimizer (the old parameters are gone). Throws `ember::Error` for an index
  /// outside [0, H) or when no head would be left (keep at least one).
  void prune_heads(const std::vector<int64_t>& heads) {
    const int64_t H = options_.num_heads();
    std::set<int64_t> drop;
    for (int64_t i : heads) {
      EMBER_CHECK(i >= 0 && i < H, this->repr(), ": prune_heads: head ", i,
                  " is out of range (the layer was built with ", H, " heads)");
      if (!pruned_.count(i)) drop.insert(i);
    }
    if (drop.empty()) return;
    const int64_t d = head_dim();
    std::vector<int64_t> kept, rows;  // kept heads (original ids); their rows in today's layout
    for (std::size_t p = 0; p < heads_.size(); ++p) {
      if (drop.count(heads_[p])) continue;
      kept.push_back(heads_[p]);
      for (int64_t j = 0; j < d; ++j) rows.push_back(int64_t(p) * d + j);
    }
    EMBER_CHECK(!kept.empty(), this->repr(), ": prune_heads would remove every head (",
                heads_.size(), " left, ", drop.size(), " to remove); keep at least one");
    const Tensor<int64_t> index = from_vector(rows).to(query->weight.device());
    query = self->replace_module("query", nn::select_features(*query, index, 0));
    key = self->replace_module("key", nn::select_features(*key, index, 0));
    value = self->replace_module("value", nn::select_features(*value, index, 0));
    dense = output->replace_module("dense", nn::select_features(*dense, index, 1));
    heads_ = kept;
    pruned_.insert(drop.begin(), drop.end());
    head_mask = Tensor<T>();
  }

  std::string extra_repr() const override {
    return ember::detail::str_cat("hidden_size=", options_.hidden_size(),
                                  ", num_heads=", num_heads(),
                                  pruned_.empty() ? "" : " (pruned from ",
                                  pruned_.empty() ? std::string() : std::to_string(options_.num_heads()),
                                  pruned_.empty() ? "" : ")",
                                  ", dropout=", options_.dropout());
  }
  const MultiHeadAttentionOptions& options() const { return options_; }
  /// Size d of each head (hidden_size / the num_heads the layer was built with; pruning keeps it).
  int64_t head_dim() const { return options_.hidden_size() / options_.num_heads(); }
  /// Heads computed now (options().num_heads() minus the pruned ones).
  int64_t num_heads() const { return int64_t(heads_.size()); }
  /// The original ids of the heads computed now, in order.
  const std::vector<int64_t>& heads() const { return heads_; }
  /// The original ids of the removed heads (HF `pruned_heads`).
  const std::set<int64_t>& pruned_heads() const { return pruned_; }

  /// HF's `head_mask` for this layer: undefined (no mask), or [num_heads()] multiplying each
  /// head's output before output.dense (1 keeps a head, 0 silences it). With requires_grad, its
  /// gradient is the loss's sensitivity to each head (nn::head_importance).
  Tensor<T> head_mask;

  std::shared_ptr<Module<T>> self;    ///< naming level "self" (HF BertSelfAttention)
  std::shared_ptr<Linear<T>> query;   ///< self.query
  std::shared_ptr<Linear<T>> key;     ///< self.key
  std::shared_ptr<Linear<T>> value;   ///< self.value
  std::shared_ptr<Module<T>> output;  ///< naming level "output" (HF BertSelfOutput)
  std::shared_ptr<Linear<T>> dense;   ///< output.dense

 private:
  void check_input(const Tensor<T>& x) const {
    EMBER_CHECK(x.defined() && x.dim() == 3 && x.size(-1) == options_.hidden_size(), this->repr(),
                ": expected an input of shape [batch, seq, ", options_.hidden_size(), "], found ",
                x.defined() ? x.shape() : Shape{});
  }

  MultiHeadAttentionOptions options_;
  std::vector<int64_t> heads_;  // original ids of the heads computed now
  std::set<int64_t> pruned_;    // original ids of the removed heads
};

}  // namespace ember::nn
