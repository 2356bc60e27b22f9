// ember/nn/layer_norm.hpp — `nn::LayerNorm<T>`: normalizes over the trailing
// `normalized_shape` dims, y = (x − mean) / √(var + eps) · weight + bias (Ba et al. 2016;
// PyTorch's nn.LayerNorm, biased variance).
//
// Parameters: `weight` and `bias`, both of shape `normalized_shape` (omitted with
// `elementwise_affine(false)`), initialized to 1 and 0. Hugging Face BERT registers its
// LayerNorm children under the name "LayerNorm" (keys `….LayerNorm.weight`), and uses
// eps = 1e-12 (`layer_norm_eps`); PyTorch's default, used here, is 1e-5. The computation and its
// backward are `ember::layer_norm` (ops/layer_norm.hpp).
#pragma once

#include <ember/nn/init.hpp>
#include <ember/nn/module.hpp>
#include <ember/ops/layer_norm.hpp>

#include <string>

namespace ember::nn {

/// Options of `LayerNorm`: `LayerNormOptions({hidden}).eps(1e-12)`.
struct LayerNormOptions {
  /* implicit */ LayerNormOptions(Shape normalized_shape) : normalized_shape_(normalized_shape) {}
  /* implicit */ LayerNormOptions(int64_t size) : normalized_shape_(Shape{size}) {}
  EMBER_ARG(Shape, normalized_shape);
  /// Added to the variance for numerical stability (BERT: 1e-12).
  EMBER_ARG(double, eps) = 1e-5;
  /// Learn `weight` and `bias`.
  EMBER_ARG(bool, elementwise_affine) = true;
};

/// Normalizes `[..., *normalized_shape]` over its trailing dims.
template <class T>
class LayerNorm : public Module<T> {
 public:
  /// Throws `ember::Error` for an empty or non-positive `normalized_shape` or eps < 0.
  explicit LayerNorm(const LayerNormOptions& options) : Module<T>("LayerNorm"), options_(options) {
    const Shape& s = options.normalized_shape();
    EMBER_CHECK(s.size() >= 1 && s.numel() > 0,
                "LayerNorm: normalized_shape must be non-empty "
                "with positive sizes, found ",
                s);
    EMBER_CHECK(options.eps() >= 0, "LayerNorm: eps must be non-negative, found ", options.eps());
    if (options.elementwise_affine()) {
      weight = this->register_parameter("weight", empty<T>(s));
      bias = this->register_parameter("bias", empty<T>(s));
    }
    reset_parameters();
  }

  /// weight ← 1, bias ← 0.
  void reset_parameters() {
    if (weight.defined()) init::ones_(weight);
    if (bias.defined()) init::zeros_(bias);
  }

  /// `x` [..., *normalized_shape] → same shape. Throws `ember::Error` naming this module, the
  /// expected trailing dims and the found shape.
  Tensor<T> forward(const Tensor<T>& x) const {
    EMBER_CHECK(x.defined(), this->repr(), ": the input is undefined");
    const Shape& s = options_.normalized_shape();
    bool ok = x.dim() >= s.size();
    for (int i = 0; ok && i < s.size(); ++i) ok = x.shape()[x.dim() - s.size() + i] == s[i];
    EMBER_CHECK(ok, this->repr(), ": expected an input of shape [..., ", shape_body(s), "], found ",
                x.shape());
    return ember::layer_norm(x, s, weight, bias, options_.eps());
  }
  Tensor<T> operator()(const Tensor<T>& x) const { return forward(x); }

  std::string extra_repr() const override {
    std::string s = ember::detail::str_cat(options_.normalized_shape(), ", eps=", options_.eps());
    if (!options_.elementwise_affine()) s += ", elementwise_affine=false";
    return s;
  }
  const LayerNormOptions& options() const { return options_; }

  Tensor<T> weight;  ///< [*normalized_shape] (undefined without elementwise_affine)
  Tensor<T> bias;    ///< [*normalized_shape]

 private:
  static std::string shape_body(const Shape& s) {
    std::string out;
    for (int i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out;
  }
  LayerNormOptions options_;
};

}  // namespace ember::nn
