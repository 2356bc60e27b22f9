// ember/ops/layer_norm.hpp — layer normalization (Ba, Kiros & Hinton 2016), with its backward;
// the same function as torch.nn.functional.layer_norm.
//
// The trailing dims given by `normalized_shape` form one row of n elements; every row is
// normalized on its own:
//   μ = mean(x),  σ² = mean((x − μ)²)  (biased, as LayerNorm),  x̂ = (x − μ) / √(σ² + eps)
//   y = x̂ ⊙ weight + bias            (weight, bias optional, shape normalized_shape)
// BERT applies it over the hidden dim: x `[batch, seq, hidden]`, normalized_shape `[hidden]`.
//
// Statistics are computed in double with a two-pass variance (backend/cpu/layer_norm.hpp), so
// float inputs with a large common offset (|μ| ≫ σ) normalize accurately.
//
// Backward saves the input, the weight, and μ and rstd = 1/√(σ² + eps) per row (two doubles per
// row; x̂ is recomputed from them rather than stored, which would cost a whole activation):
//   dx = rstd · (g⊙w − mean(g⊙w) − x̂ · mean(g⊙w⊙x̂)),   dweight = Σ_rows g⊙x̂,   dbias = Σ_rows g
// computed in one fused kernel call, parallel over rows with per-chunk partial sums for
// dweight and dbias.
#pragma once

#include <ember/autograd/node.hpp>
#include <ember/backend/backend.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/tensor/tensor.hpp>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace ember {

/// Layer normalization of `x` `[*, normalized_shape...]` over its trailing
/// `normalized_shape` dims; `weight` and `bias` are optional (undefined Tensor) and, if given,
/// must have shape `normalized_shape`. Returns a tensor of x's shape.
/// Throws `ember::Error` (naming the shapes) when normalized_shape is empty, x's trailing dims
/// differ from it, or weight/bias has another shape.
template <class T>
Tensor<T> layer_norm(const Tensor<T>& x, const Shape& normalized_shape,
                     const Tensor<T>& weight = {}, const Tensor<T>& bias = {}, double eps = 1e-5) {
  static_assert(std::is_floating_point_v<T>, "layer_norm: T must be float or double");
  const int nn = normalized_shape.size();
  EMBER_CHECK(nn >= 1, "layer_norm: normalized_shape must have at least one dimension, found ",
              normalized_shape);
  bool match = x.dim() >= nn;
  for (int i = 0; match && i < nn; ++i) match = x.shape()[x.dim() - nn + i] == normalized_shape[i];
  if (!match) {
    std::string expected = "[*";
    for (int64_t s : normalized_shape) expected += ", " + std::to_string(s);
    EMBER_FAIL("layer_norm: expected input of shape ", expected, "] for normalized_shape ",
               normalized_shape, ", found input of shape ", x.shape());
  }
  EMBER_CHECK(!weight.defined() || weight.shape() == normalized_shape,
              "layer_norm: weight of shape ", weight.defined() ? weight.shape() : Shape{},
              " does not match normalized_shape ", normalized_shape, " (input shape ", x.shape(),
              ")");
  EMBER_CHECK(!bias.defined() || bias.shape() == normalized_shape, "layer_norm: bias of shape ",
              bias.defined() ? bias.shape() : Shape{}, " does not match normalized_shape ",
              normalized_shape, " (input shape ", x.shape(), ")");
  if (weight.defined()) detail::check_same_device(x.device(), weight.device(), "layer_norm");
  if (bias.defined()) detail::check_same_device(x.device(), bias.device(), "layer_norm");

  const int64_t n = normalized_shape.numel();
  int64_t rows = 1;
  for (int i = 0; i < x.dim() - nn; ++i) rows *= x.shape()[i];

  Tensor<T> xc = x.detach().contiguous();
  Tensor<T> wc = weight.defined() ? weight.detach().contiguous() : Tensor<T>();
  Tensor<T> bc = bias.defined() ? bias.detach().contiguous() : Tensor<T>();
  Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
  Tensor<double> mean = Tensor<double>::empty({rows}, x.device());
  Tensor<double> rstd = Tensor<double>::empty({rows}, x.device());
  backend::kernels<T>(x.device(), "layer_norm").layer_norm_forward(xc.data(), wc.defined() ? wc.data() : nullptr, bc.defined() ? bc.data() : nullptr, y.data(), mean.data(), rstd.data(), rows, n, eps);

  if (autograd::any_requires_grad(x, weight, bias)) {
    const bool gx = x.requires_grad();
    const bool gw = weight.defined() && weight.requires_grad();
    const bool gb = bias.defined() && bias.requires_grad();
    autograd::record(
        y, "layer_norm", {x, weight, bias},
        [sx = autograd::SavedTensor<T>(x),
         sw = weight.defined() ? autograd::SavedTensor<T>(weight) : autograd::SavedTensor<T>(),
         mean, rstd, rows, n, normalized_shape, gx, gw, gb](const Tensor<T>& g) {
          Tensor<T> xs = sx.get("layer_norm").contiguous();
          Tensor<T> ws = sw.get("layer_norm");
          if (ws.defined()) ws = ws.contiguous();
          Tensor<T> gc = g.contiguous();
          Tensor<T> dx = gx ? Tensor<T>::empty(xs.shape(), xs.device()) : Tensor<T>();
          Tensor<T> dw = gw ? Tensor<T>::empty(normalized_shape, xs.device()) : Tensor<T>();
          Tensor<T> db = gb ? Tensor<T>::empty(normalized_shape, xs.device()) : Tensor<T>();
          if (n == 0 || rows == 0) {  // nothing to normalize: zero gradients
            for (Tensor<T>* t : {&dx, &dw, &db})
              if (t->defined()) t->zero_();
          } else {
            backend::kernels<T>(xs.device(), "layer_norm").layer_norm_backward(gc.data(), xs.data(), mean.data(), rstd.data(), ws.defined() ? ws.data() : nullptr, gx ? dx.data() : nullptr, gw ? dw.data() : nullptr, gb ? db.data() : nullptr, rows, n);
          }
          return autograd::Grads<T>{dx, dw, db};
        });
  }
  return y;
}

}  // namespace ember
