// ember/ops/dropout.hpp — inverted dropout (Srivastava et al., JMLR 2014; PyTorch's F.dropout),
// with its backward.
//
// Training: each element is zeroed with probability p and the survivors are scaled by
// 1 / (1 − p), so the expected value of every element is unchanged and evaluation needs no
// rescaling:   out = x ⊙ keep / (1 − p),  keep ~ Bernoulli(1 − p) i.i.d.
// Evaluation (training == false) and p == 0: the identity — the input tensor itself is returned.
// p == 1: all zeros (no random numbers drawn).
//
// The mask comes from the counter-based Generator (core/generator.hpp): the op reserves
// ceil(numel / 4) Philox blocks and element i (row-major) uses word i % 4 of block base + i / 4;
// the keep rule is in backend/cpu/dropout.hpp. The same generator state gives the same mask on
// any thread count and on the CUDA backend. Backward: grad ⊙ keep / (1 − p); saved for
// backward: the keep mask only (one byte per element, `Tensor<bool>`), not the input.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <ember/autograd/node.hpp>
#include <ember/backend/backend.hpp>
#include <ember/core/generator.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember {

/// Inverted dropout of `x` (any shape) with drop probability `p`, random bits from `gen`
/// (advanced by ceil(numel / 4) blocks when a mask is drawn). Returns `x` itself when
/// `training` is false or p == 0. Throws `ember::Error` if p is outside [0, 1] (or NaN).
template <class T>
Tensor<T> dropout(const Tensor<T>& x, double p, bool training, Generator& gen) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "dropout: input must be float or double");
  EMBER_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability p must be in [0, 1], found ", p);
  if (!training || p == 0.0) return x;

  if (p == 1.0) {  // everything dropped; the gradient is zero too
    Tensor<T> out = zeros<T>(x.shape(), x.device());
    if (autograd::any_requires_grad(x))
      autograd::record(out, "dropout", {x}, [](const Tensor<T>& g) {
        return autograd::Grads<T>{zeros<T>(g.shape(), g.device())};
      });
    return out;
  }

  const T scale = T(1.0 / (1.0 - p));
  Tensor<T> xc = x.contiguous();
  const int64_t n = xc.numel();
  const uint64_t base = gen.reserve(static_cast<uint64_t>((n + 3) / 4));
  Tensor<T> out = Tensor<T>::empty(x.shape(), x.device());
  Tensor<bool> mask = Tensor<bool>::empty(x.shape(), x.device());
  backend::kernels<T>(x.device(), "dropout").dropout_forward(xc.data(), n, p, scale, gen.seed(), base, out.data(), mask.data());

  if (autograd::any_requires_grad(x)) {
    // The mask is private to this node (never handed out), so it is captured as is.
    autograd::record(out, "dropout", {x}, [mask, scale](const Tensor<T>& g) {
      Tensor<T> gc = g.contiguous();
      Tensor<T> gi = Tensor<T>::empty(gc.shape(), gc.device());
      backend::kernels<T>(gc.device(), "dropout").dropout_backward(gc.data(), mask.data(), gc.numel(), scale, gi.data());
      return autograd::Grads<T>{gi};
    });
  }
  return out;
}

/// Inverted dropout drawing from `default_generator()` (seed it with `manual_seed`).
template <class T>
Tensor<T> dropout(const Tensor<T>& x, double p, bool training = true) {
  return dropout(x, p, training, default_generator());
}

}  // namespace ember
