// ember/ops/softmax.hpp — softmax and log_softmax along one dim, with their backward.
//
//   softmax(x)_i     = exp(x_i − m) / Σ_j exp(x_j − m),          m = max_j x_j
//   log_softmax(x)_i = x_i − m − log Σ_j exp(x_j − m)
// Subtracting the row max keeps exp from overflowing: softmax([1000, 1000, −inf]) is
// [0.5, 0.5, 0], not NaN. Same values as torch.softmax / torch.log_softmax, with one deliberate
// difference: a row whose inputs are all −inf (a fully masked attention row) gives zeros from
// softmax (as PyTorch) and −inf everywhere from log_softmax (PyTorch gives NaN), and both give a
// zero gradient for that row — no NaN in forward or backward.
//
// Backward saves the output y only (not the input):
//   softmax:      dx = y ⊙ (dy − Σ_j dy_j y_j)
//   log_softmax:  dx = dy − softmax(x) Σ_j dy_j,   softmax(x) = exp(y)
// The sums run along the same dim; kernels in backend/cpu/softmax.hpp (row kernel when the dim
// is the innermost, column kernel otherwise; the input is made contiguous first if needed).
#pragma once

#include <ember/autograd/node.hpp>
#include <ember/backend/cpu/softmax.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/ops/reduction.hpp>
#include <ember/tensor/tensor.hpp>

#include <cstdint>
#include <type_traits>
#include <vector>

namespace ember {

namespace detail {
template <class T>
Tensor<T> softmax_impl(const Tensor<T>& x, int64_t dim, bool log) {
  static_assert(std::is_floating_point_v<T>, "softmax: T must be float or double");
  const char* op = log ? "log_softmax" : "softmax";
  check_cpu_op(x.device(), op);
  const int d = reduction_dim(dim, x.shape(), op);
  int64_t outer, n, inner;
  split_at_dim(x.shape(), x.dim() == 0 ? -1 : d, outer, n, inner);
  Tensor<T> xc = x.detach().contiguous();
  Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
  if (y.numel() > 0) backend::cpu::softmax_forward(xc.data(), y.data(), outer, n, inner, log);
  if (autograd::any_requires_grad(x)) {
    autograd::record(
        y, op, {x},
        [op, log, outer, n, inner, sy = autograd::SavedTensor<T>(y.detach())](const Tensor<T>& g) {
          const Tensor<T>& yv = sy.get(op);
          Tensor<T> gc = g.contiguous();
          Tensor<T> dx = Tensor<T>::empty(yv.shape(), yv.device());
          if (dx.numel() > 0)
            backend::cpu::softmax_backward(yv.data(), gc.data(), dx.data(), outer, n, inner, log);
          return autograd::Grads<T>{dx};
        });
  }
  return y;
}
}  // namespace detail

/// Softmax along `dim` (negative allowed), any shape: `[batch, heads, seq, seq]` over −1 gives
/// attention probabilities of the same shape. All −inf rows give zeros. Throws `ember::Error`
/// naming the dim and the shape when `dim` is out of range.
template <class T>
Tensor<T> softmax(const Tensor<T>& x, int64_t dim) {
  return detail::softmax_impl(x, dim, false);
}

/// log(softmax(x)) along `dim`, computed stably (never log of a rounded-to-0 probability).
/// All −inf rows give −inf with zero gradient (PyTorch: NaN). Errors as `softmax`.
template <class T>
Tensor<T> log_softmax(const Tensor<T>& x, int64_t dim) {
  return detail::softmax_impl(x, dim, true);
}

}  // namespace ember
