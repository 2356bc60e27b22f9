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
// The sums run along the same dim; CPU kernels in backend/cpu/softmax.hpp (row kernel when the dim
// is the innermost, column kernel otherwise; the input is made contiguous first if needed).
#pragma once

#include <ember/autograd/node.hpp>
#include <ember/backend/backend.hpp>
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
  const int d = reduction_dim(dim, x.shape(), op);
  int64_t outer, n, inner;
  split_at_dim(x.shape(), x.dim() == 0 ? -1 : d, outer, n, inner);
  Tensor<T> xc = x.detach().contiguous();
  Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
  if (y.numel() > 0)
    backend::kernels<T>(x.device(), op).softmax_forward(xc.data(), y.data(), outer, n, inner, log);
  if (autograd::any_requires_grad(x)) {
    autograd::record(
        y, op, {x},
        [op, log, outer, n, inner, sy = autograd::SavedTensor<T>(y.detach())](const Tensor<T>& g) {
          const Tensor<T>& yv = sy.get(op);
          Tensor<T> gc = g.contiguous();
          Tensor<T> dx = Tensor<T>::empty(yv.shape(), yv.device());
          if (dx.numel() > 0)
            backend::kernels<T>(yv.device(), op).softmax_backward(yv.data(), gc.data(), dx.data(), outer, n, inner, log);
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

/// Attention probabilities in one fused op: softmax(x / divisor + additive_mask) over the last
/// dim, the order HF's eager BertSelfAttention uses (scores / √d, + mask, softmax), without the
/// two intermediate tensors and their backward passes.
///   x              [batch, heads, seq_q, seq_k] (any leading dims are allowed: [..., seq_q, seq_k])
///   divisor        > 0, usually √head_dim
///   additive_mask  undefined, or 0 / large-negative values broadcastable to x; the usual
///                  [batch or 1, 1, seq_q or 1, seq_k] (nn::additive_attention_mask) is read in
///                  place, other shapes are expanded first; it receives no gradient and must
///                  not require grad
/// Returns probabilities of x's shape; rows that are entirely −inf give zeros.
/// Throws `ember::Error` naming the shapes when x has fewer than 2 dims or the mask does not fit.
template <class T>
Tensor<T> scaled_masked_softmax(const Tensor<T>& x, double divisor,
                                const Tensor<T>& additive_mask = Tensor<T>()) {
  static_assert(std::is_floating_point_v<T>, "scaled_masked_softmax: T must be float or double");
  const char* op = "scaled_masked_softmax";
  if (additive_mask.defined()) detail::check_same_device(x.device(), additive_mask.device(), op);
  EMBER_CHECK(x.dim() >= 2, op, ": expected scores [..., seq_q, seq_k], found shape ", x.shape());
  EMBER_CHECK(divisor > 0.0, op, ": expected a positive divisor, found ", divisor);
  const int64_t n = x.size(-1), sq = x.size(-2), rows = x.numel() / std::max<int64_t>(n, 1);
  const int64_t batch = x.dim() >= 4 ? x.size(0) : 1;
  const int64_t per_batch = x.dim() >= 4 ? rows / std::max<int64_t>(batch, 1) : rows;
  Tensor<T> mask;
  int64_t mask_b = 1, mask_q = 1;
  bool full_mask = false;  // a mask of x's own shape: row r of the mask is row r of x
  if (additive_mask.defined()) {
    EMBER_CHECK(!(is_grad_enabled() && additive_mask.requires_grad()), op,
                ": the additive mask must not require grad");
    const Shape& ms = additive_mask.shape();
    if (x.dim() == 4 && ms.size() == 4 && ms[3] == n && ms[1] == 1 &&
        (ms[0] == 1 || ms[0] == batch) && (ms[2] == 1 || ms[2] == sq)) {
      mask = additive_mask.detach().contiguous();  // the attention mask's usual shape: no copy
      mask_b = ms[0];
      mask_q = ms[2];
    } else {
      Shape bs = broadcast_shapes(x.shape(), ms, op);
      EMBER_CHECK(bs == x.shape(), op, ": the additive mask of shape ", ms,
                  " does not broadcast to the scores' shape ", x.shape());
      mask = additive_mask.detach().expand(x.shape()).contiguous();
      full_mask = true;
    }
  }
  Tensor<T> xc = x.detach().contiguous();
  Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
  const backend::MaskRows<T> mask_rows{mask.defined() ? mask.data() : nullptr, full_mask, per_batch,
                                        sq, mask_b, mask_q};
  if (y.numel() > 0)
    backend::kernels<T>(x.device(), op)
        .scaled_masked_softmax_forward(xc.data(), y.data(), rows, n, T(divisor), mask_rows);
  if (autograd::any_requires_grad(x)) {
    autograd::record(y, op, {x},
                     [op, rows, n, divisor, sy = autograd::SavedTensor<T>(y.detach())](const Tensor<T>& g) {
                       const Tensor<T>& yv = sy.get(op);
                       Tensor<T> gc = g.contiguous();
                       Tensor<T> dx = Tensor<T>::empty(yv.shape(), yv.device());
                       if (dx.numel() > 0)
                         backend::kernels<T>(yv.device(), op).scaled_masked_softmax_backward(yv.data(), gc.data(), dx.data(), rows, n, T(divisor));
                       return autograd::Grads<T>{dx};
                     });
  }
  return y;
}

}  // namespace ember
