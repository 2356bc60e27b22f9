// ember/nn/feed_forward.hpp — the position-wise feed-forward block of a Transformer,
// y = dropout(W₂ · act(W₁ x + b₁) + b₂) (Vaswani et al. 2017, §3.3), and the activations
// Transformer configs name.
//
// Parameter names follow Hugging Face BERT's `BertIntermediate` / `BertOutput`:
// `intermediate.dense` (hidden → intermediate) and `output.dense` (intermediate → hidden), so a
// standalone FeedForward has keys `intermediate.dense.weight`, …, `output.dense.bias`.
// (`TransformerEncoderLayer` registers the same two Linears under the same names itself, next
// to its `output.LayerNorm`.) Each piece's backward is in its op (ops/matmul.hpp,
// ops/elementwise.hpp, ops/dropout.hpp).
#pragma once

#include <ember/nn/linear.hpp>
#include <ember/nn/module.hpp>
#include <ember/ops/dropout.hpp>
#include <ember/ops/elementwise.hpp>

#include <string>

namespace ember::nn {

/// The nonlinearity of a feed-forward block.
enum class Activation {
  Relu,      ///< max(x, 0)
  Gelu,      ///< exact GELU x·Φ(x) (HF "gelu", PyTorch default)
  GeluTanh,  ///< tanh approximation (HF "gelu_new" / "gelu_pytorch_tanh")
};

/// The name Hugging Face configs use for `a` ("relu", "gelu", "gelu_new").
inline const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Relu:
      return "relu";
    case Activation::Gelu:
      return "gelu";
    case Activation::GeluTanh:
      return "gelu_new";
  }
  return "?";
}

/// Parses an HF `hidden_act`: "relu", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast"
/// (the last three are the tanh approximation). Throws `ember::Error` for anything else.
inline Activation activation_from_name(const std::string& name) {
  if (name == "relu") return Activation::Relu;
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
    return Activation::GeluTanh;
  EMBER_FAIL("activation_from_name: unsupported activation \"", name,
             "\" (supported: relu, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast)");
}

/// Applies `a` elementwise (differentiable).
template <class T>
Tensor<T> apply_activation(const Tensor<T>& x, Activation a) {
  switch (a) {
    case Activation::Relu:
      return ember::relu(x);
    case Activation::Gelu:
      return ember::gelu(x);
    case Activation::GeluTanh:
      return ember::gelu_tanh(x);
  }
  EMBER_FAIL("apply_activation: unknown activation");
}

/// Options of `FeedForward`:
/// `FeedForwardOptions(hidden, intermediate).activation(Activation::Gelu).dropout(0.1)`.
struct FeedForwardOptions {
  FeedForwardOptions(int64_t hidden_size, int64_t intermediate_size)
      : hidden_size_(hidden_size), intermediate_size_(intermediate_size) {}
  EMBER_ARG(int64_t, hidden_size);
  EMBER_ARG(int64_t, intermediate_size);
  EMBER_ARG(Activation, activation) = Activation::Gelu;
  /// Dropout on the output (HF `hidden_dropout_prob`).
  EMBER_ARG(double, dropout) = 0.0;
  /// Standard deviation of the Linear weights' initialization.
  EMBER_ARG(double, initializer_range) = 0.02;
  /// Generator for initialization and dropout (null: `default_generator()`); must outlive the
  /// module.
  EMBER_ARG(Generator*, generator) = nullptr;
};

/// [..., hidden] → [..., hidden] through [..., intermediate].
template <class T>
class FeedForward : public Module<T> {
 public:
  /// Throws `ember::Error` for non-positive sizes or dropout outside [0, 1].
  explicit FeedForward(const FeedForwardOptions& options)
      : Module<T>("FeedForward"), options_(options) {
    EMBER_CHECK(options.dropout() >= 0.0 && options.dropout() <= 1.0,
                "FeedForward: dropout must be in [0, 1], found ", options.dropout());
    auto lin = [&](int64_t in, int64_t out) {
      return std::make_shared<Linear<T>>(LinearOptions(in, out)
                                             .initializer_range(options.initializer_range())
                                             .generator(options.generator()));
    };
    intermediate =
        this->register_module("intermediate", std::make_shared<Module<T>>("Intermediate"));
    intermediate_dense = intermediate->register_module(
        "dense", lin(options.hidden_size(), options.intermediate_size()));
    output = this->register_module("output", std::make_shared<Module<T>>("Output"));
    output_dense =
        output->register_module("dense", lin(options.intermediate_size(), options.hidden_size()));
  }

  /// `x` [..., hidden_size] → [..., hidden_size]. Shape errors name the Linear that failed.
  Tensor<T> forward(const Tensor<T>& x) const {
    Tensor<T> h = apply_activation(intermediate_dense->forward(x), options_.activation());
    Generator& gen = options_.generator() ? *options_.generator() : default_generator();
    return ember::dropout(output_dense->forward(h), options_.dropout(), this->is_training(), gen);
  }
  Tensor<T> operator()(const Tensor<T>& x) const { return forward(x); }

  std::string extra_repr() const override {
    return ember::detail::str_cat("hidden_size=", options_.hidden_size(),
                                  ", intermediate_size=", options_.intermediate_size(),
                                  ", activation=", activation_name(options_.activation()),
                                  ", dropout=", options_.dropout());
  }
  const FeedForwardOptions& options() const { return options_; }

  std::shared_ptr<Module<T>> intermediate;        ///< naming level "intermediate"
  std::shared_ptr<Linear<T>> intermediate_dense;  ///< intermediate.dense: hidden → intermediate
  std::shared_ptr<Module<T>> output;              ///< naming level "output"
  std::shared_ptr<Linear<T>> output_dense;        ///< output.dense: intermediate → hidden

 private:
  FeedForwardOptions options_;
};

}  // namespace ember::nn
