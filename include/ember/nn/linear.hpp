// ember/nn/linear.hpp — `nn::Linear<T>`: y = x Wᵀ + b over the last dim (PyTorch's nn.Linear).
//
// Parameters (Hugging Face / PyTorch names): `weight` [out_features, in_features] and, unless
// `bias(false)`, `bias` [out_features]. Initialized as BERT: weight ~ N(0, 0.02²)
// (`initializer_range`), bias 0 (nn/init.hpp). The product is `ember::linear` (ops/matmul.hpp),
// which reads W transposed without copying; its backward is there.
#pragma once

#include <ember/nn/init.hpp>
#include <ember/nn/module.hpp>
#include <ember/ops/embedding.hpp>
#include <ember/ops/matmul.hpp>

#include <string>
#include <type_traits>

namespace ember::nn {

/// Options of `Linear`: `LinearOptions(in, out).bias(false).initializer_range(0.02)`.
struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  EMBER_ARG(int64_t, in_features);
  EMBER_ARG(int64_t, out_features);
  /// Whether to learn an additive bias.
  EMBER_ARG(bool, bias) = true;
  /// Standard deviation of the weight's normal initialization (BERT's `initializer_range`).
  EMBER_ARG(double, initializer_range) = 0.02;
  /// Generator for the initialization (null: `default_generator()`); used only in the
  /// constructor and `reset_parameters()`, so it need only live until then.
  EMBER_ARG(Generator*, generator) = nullptr;
};

/// Affine map of the last dim: `[..., in_features]` → `[..., out_features]`.
template <class T>
class Linear : public Module<T> {
 public:
  explicit Linear(const LinearOptions& options) : Module<T>("Linear"), options_(options) {
    EMBER_CHECK(options.in_features() > 0 && options.out_features() > 0,
                "Linear: in_features and out_features must be positive, found in_features=",
                options.in_features(), " out_features=", options.out_features());
    weight = this->register_parameter("weight",
                                      empty<T>({options.out_features(), options.in_features()}));
    if (options.bias()) bias = this->register_parameter("bias", empty<T>({options.out_features()}));
    reset_parameters();
  }
  Linear(int64_t in_features, int64_t out_features)
      : Linear(LinearOptions(in_features, out_features)) {}

  /// Re-draws the weight ~ N(0, initializer_range²) and zeroes the bias.
  void reset_parameters() {
    Generator& gen = options_.generator() ? *options_.generator() : default_generator();
    init::normal_(weight, 0.0, options_.initializer_range(), gen);
    if (bias.defined()) init::zeros_(bias);
  }

  /// `x` [..., in_features] → [..., out_features]. Throws `ember::Error` naming this module,
  /// the expected and the found shape when the last dim of `x` is not `in_features`.
  Tensor<T> forward(const Tensor<T>& x) const {
    EMBER_CHECK(x.defined(), this->repr(), ": the input is undefined");
    EMBER_CHECK(x.dim() >= 1 && x.size(-1) == options_.in_features(), this->repr(),
                ": expected an input of shape [..., ", options_.in_features(), "], found ",
                x.shape());
    if constexpr (std::is_same_v<T, float>) {
      if (dynamic_int8_) return ember::linear_dynamic_int8(x, weight, bias);
    }
    return ember::linear(x, weight, bias);
  }
  Tensor<T> operator()(const Tensor<T>& x) const { return forward(x); }

  /// Whether forward runs its product in int8 (`ember::linear_dynamic_int8`; inference only:
  /// a forward that needs a gradient throws). Set by `nn::quantize_dynamic` (nn/quantize.hpp);
  /// the float weight stays the parameter (state_dict, saving and training see no change).
  /// float only: `set_dynamic_int8(true)` on Linear<double> throws ember::Error.
  bool dynamic_int8() const { return dynamic_int8_; }
  void set_dynamic_int8(bool on) {
    EMBER_CHECK(!on || (std::is_same_v<T, float>), this->repr(),
                ": int8 products are for float layers only");
    dynamic_int8_ = on;
  }

  std::string extra_repr() const override {
    return ember::detail::str_cat("in_features=", options_.in_features(),
                                  ", out_features=", options_.out_features(),
                                  options_.bias() ? "" : ", bias=false",
                                  dynamic_int8_ ? ", dynamic_int8" : "");
  }
  const LinearOptions& options() const { return options_; }

  Tensor<T> weight;  ///< [out_features, in_features]
  Tensor<T> bias;    ///< [out_features], undefined with `bias(false)`

 private:
  LinearOptions options_;
  bool dynamic_int8_ = false;
};

/// A copy of `lin` keeping only the output features (`dim` 0: weight rows and bias) or the input
/// features (`dim` 1: weight columns) at `index` — structured pruning's removal step
/// (`MultiHeadAttention::prune_heads`, `TransformerEncoderLayer::prune_neurons`). On `lin`'s
/// device, with its requires_grad flags and int8 setting. A private generator draws the new
/// layer's throwaway initialization, so pruning leaves the default generator's stream alone.
/// Throws `ember::Error` for `dim` other than 0 or 1 or an index out of range.
template <class T>
std::shared_ptr<Linear<T>> select_features(const Linear<T>& lin, const Tensor<int64_t>& index,
                                           int64_t dim) {
  EMBER_CHECK(dim == 0 || dim == 1, "select_features: dim must be 0 (outputs) or 1 (inputs), "
              "found ", dim);
  NoGradGuard no_grad;
  Generator scratch(0);
  LinearOptions o = lin.options();
  o.generator(&scratch);
  if (dim == 0)
    o.out_features(index.numel());
  else
    o.in_features(index.numel());
  auto out = std::make_shared<Linear<T>>(o);
  out->to(lin.weight.device());
  out->weight.copy_(index_select(lin.weight, dim, index));
  out->weight.requires_grad_(lin.weight.requires_grad());
  if (lin.bias.defined()) {
    out->bias.copy_(dim == 0 ? index_select(lin.bias, 0, index) : lin.bias);
    out->bias.requires_grad_(lin.bias.requires_grad());
  }
  if constexpr (std::is_same_v<T, float>) out->set_dynamic_int8(lin.dynamic_int8());
  return out;
}

}  // namespace ember::nn
