// ember/nn/init.hpp — in-place parameter initializers (PyTorch's `torch.nn.init`), and the
// defaults ember's layers use, which are BERT's.
//
// Every function overwrites the tensor's values without recording gradients (it runs under
// NoGradGuard, so it may be called on parameters that require grad) and returns the tensor.
// Random ones draw from a `Generator` (default: `default_generator()`), so the same seed gives
// the same weights: element i of a tensor uses Philox block `offset + i` of the generator
// (core/generator.hpp).
//
// BERT's initialization (Hugging Face `BertPreTrainedModel._init_weights`, from the original
// TensorFlow code): Linear and Embedding weights ~ N(0, initializer_range²) with
// initializer_range = 0.02, biases 0, the embedding row of `padding_idx` 0, LayerNorm weight 1
// and bias 0. `Linear`, `Embedding` and `LayerNorm` apply exactly this in their constructors.
//
// Xavier/Glorot uniform (Glorot & Bengio, AISTATS 2010): U(-a, a), a = gain·√(6 / (fan_in +
// fan_out)), with fan_in = size(1)·receptive, fan_out = size(0)·receptive, receptive = product of
// the dims after the first two (PyTorch's `_calculate_fan_in_and_fan_out`).
#pragma once

#include <ember/autograd/grad_mode.hpp>
#include <ember/core/error.hpp>
#include <ember/core/generator.hpp>
#include <ember/tensor/tensor.hpp>

#include <cmath>

namespace ember::nn::init {

/// Fills `t` with samples of N(mean, std²). Returns `t` (the same handle).
template <class T>
Tensor<T> normal_(Tensor<T> t, double mean, double std, Generator& gen = default_generator()) {
  EMBER_CHECK(std >= 0, "init::normal_: std must be non-negative, found ", std);
  NoGradGuard no_grad;
  t.copy_(randn<T>(t.shape(), gen, mean, std));
  return t;
}

/// Fills `t` with samples of U(low, high).
template <class T>
Tensor<T> uniform_(Tensor<T> t, double low, double high, Generator& gen = default_generator()) {
  EMBER_CHECK(low <= high, "init::uniform_: expected low <= high, found low=", low, " high=", high);
  NoGradGuard no_grad;
  t.copy_(rand<T>(t.shape(), gen, low, high));
  return t;
}

/// Fills `t` with `value`.
template <class T>
Tensor<T> constant_(Tensor<T> t, double value) {
  NoGradGuard no_grad;
  t.fill_(static_cast<T>(value));
  return t;
}
/// Fills `t` with 0.
template <class T>
Tensor<T> zeros_(Tensor<T> t) {
  return constant_(t, 0.0);
}
/// Fills `t` with 1.
template <class T>
Tensor<T> ones_(Tensor<T> t) {
  return constant_(t, 1.0);
}

/// Xavier/Glorot uniform for a tensor of at least 2 dims ([out, in, ...]).
/// Throws `ember::Error` for fewer than 2 dims.
template <class T>
Tensor<T> xavier_uniform_(Tensor<T> t, double gain = 1.0, Generator& gen = default_generator()) {
  EMBER_CHECK(t.dim() >= 2,
              "init::xavier_uniform_: fan in and fan out need a tensor with at "
              "least 2 dims, found shape ",
              t.shape());
  int64_t receptive = 1;
  for (int d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  double fan_in = double(t.size(1) * receptive), fan_out = double(t.size(0) * receptive);
  double a = gain * std::sqrt(6.0 / (fan_in + fan_out));
  return uniform_(t, -a, a, gen);
}

}  // namespace ember::nn::init
