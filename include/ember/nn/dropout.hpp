// ember/nn/dropout.hpp — `nn::Dropout<T>`: in training, zeroes each element with probability p
// and scales the survivors by 1/(1 − p) (inverted dropout, Srivastava et al. 2014; PyTorch's
// nn.Dropout); in evaluation (`eval()`), the identity.
//
// Randomness: the mask is drawn from the `Generator` given in the options, or from
// `default_generator()` (looked up at each call, so `ember::manual_seed` applies) when none is
// given. The generator must outlive the module. The op and its backward (the same mask times
// the gradient) are `ember::dropout` (ops/dropout.hpp).
#pragma once

#include <ember/nn/module.hpp>
#include <ember/ops/dropout.hpp>

#include <string>

namespace ember::nn {

/// Options of `Dropout`: `DropoutOptions(0.1)`.
struct DropoutOptions {
  /* implicit */ DropoutOptions(double p = 0.5) : p_(p) {}
  /// Probability of zeroing an element, in [0, 1].
  EMBER_ARG(double, p);
  /// Source of the masks (null: `default_generator()`); must outlive the module.
  EMBER_ARG(Generator*, generator) = nullptr;
};

/// Elementwise dropout; any shape.
template <class T>
class Dropout : public Module<T> {
 public:
  /// Throws `ember::Error` for p outside [0, 1].
  explicit Dropout(const DropoutOptions& options = {}) : Module<T>("Dropout"), options_(options) {
    EMBER_CHECK(options.p() >= 0.0 && options.p() <= 1.0, "Dropout: p must be in [0, 1], found ",
                options.p());
  }

  /// `x` → same shape; the identity in eval mode or with p = 0.
  Tensor<T> forward(const Tensor<T>& x) const {
    Generator& gen = options_.generator() ? *options_.generator() : default_generator();
    return ember::dropout(x, options_.p(), this->is_training(), gen);
  }
  Tensor<T> operator()(const Tensor<T>& x) const { return forward(x); }

  std::string extra_repr() const override { return ember::detail::str_cat("p=", options_.p()); }
  const DropoutOptions& options() const { return options_; }

 private:
  DropoutOptions options_;
};

}  // namespace ember::nn
