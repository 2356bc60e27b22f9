// ember/optim/clip_grad.hpp — `clip_grad_norm_`: rescales gradients so that their global norm is
// at most max_norm (Pascanu et al., "On the difficulty of training recurrent neural networks",
// 2013), as torch.nn.utils.clip_grad_norm_ (1.13) computes it:
//
//   total = ‖(‖g_1‖_p, ‖g_2‖_p, ...)‖_p        (= the p-norm of all gradients concatenated)
//   total = max_i max |g_i|                     (p = inf)
//   coef  = max_norm / (total + 1e-6)
//   g_i  ← g_i · coef        only when coef < 1  (PyTorch multiplies by min(coef, 1); ×1 is a no-op)
//
// Sums are accumulated in double over fixed blocks (the norm_pow_multi kernel), so the norm does
// not depend on the thread count and loses nothing to float rounding; it is returned as T.
// Parameters without a gradient are skipped. Gradients are scaled in place (their storage
// version is bumped). The gradients of each device are reduced all together by one
// norm_pow_multi call (on the GPU one multi-tensor reduction in double with fixed per-chunk
// partials added in a fixed order, and one synchronization to read the norm back:
// backend/cuda/multi_tensor.cuh) and scaled by one scale_inplace_multi call; the devices' Σ|g|^p
// are added CPU first.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include <ember/autograd/grad_mode.hpp>
#include <ember/backend/backend.hpp>
#include <ember/core/error.hpp>
#include <ember/core/storage.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::optim {

/// Total `norm_type`-norm of the gradients of `params` (0 when none has a gradient); scales them
/// in place by max_norm / (total + 1e-6) when that is below 1. `norm_type` is p > 0 or
/// `std::numeric_limits<double>::infinity()`. Throws `ember::Error` for max_norm < 0 or NaN,
/// norm_type <= 0 or NaN, a non-contiguous CUDA gradient, or — with `error_if_nonfinite` — a total
/// norm that is NaN or infinite (then nothing is scaled; without it, as PyTorch, the gradients
/// are multiplied by the resulting coefficient, 0 or NaN).
template <class T>
T clip_grad_norm_(const std::vector<Tensor<T>>& params, double max_norm, double norm_type = 2.0,
                  bool error_if_nonfinite = false) {
  EMBER_CHECK(max_norm >= 0.0, "clip_grad_norm_: expected max_norm >= 0, found ", max_norm);
  EMBER_CHECK(norm_type > 0.0, "clip_grad_norm_: expected norm_type > 0 (or infinity), found ",
              norm_type);
  NoGradGuard no_grad;
  const bool inf_norm = std::isinf(norm_type);
  // The gradients are listed per device (CPU first, then CUDA) as contiguous spans in a block of
  // the CPU caching allocator, so a steady training step allocates nothing here.
  std::size_t num = 0;
  for (const Tensor<T>& p : params)
    if (p.defined() && p.grad().defined()) ++num;
  ScratchBuffer<backend::TensorSpan<T>> spans(num);
  // Contiguous copies of non-contiguous gradients (rare), with the index of their parameter.
  std::vector<std::pair<std::size_t, Tensor<T>>> copies;
  const Device devices[2] = {Device::cpu(), Device::cuda(0)};
  std::size_t begin[3] = {0, 0, 0};  // spans of devices[i]: [begin[i], begin[i + 1])
  num = 0;
  for (int d = 0; d < 2; ++d) {
    begin[d] = num;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Tensor<T>& p = params[i];
      if (!p.defined() || !p.grad().defined() || p.grad().device() != devices[d]) continue;
      Tensor<T> c = p.grad();
      if (!c.is_contiguous()) copies.emplace_back(i, c = c.contiguous());
      spans[num++] = {c.data(), c.numel()};
    }
  }
  begin[2] = num;
  if (num == 0) return T(0);
  double acc = 0.0;  // Σ|g|^p, or max|g| for the infinity norm
  for (int d = 0; d < 2; ++d) {
    if (begin[d + 1] == begin[d]) continue;
    const double v = backend::kernels<T>(devices[d], "clip_grad_norm_")
                         .norm_pow_multi(spans.data() + begin[d],
                                         static_cast<int64_t>(begin[d + 1] - begin[d]), norm_type);
    if (inf_norm) {
      if (v > acc || std::isnan(v)) acc = v;
    } else {
      acc += v;
    }
  }
  const double total =
      inf_norm ? acc : (norm_type == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / norm_type));
  EMBER_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of "
              "order ", norm_type, " of the gradients is ", total,
              ", so it cannot be clipped (pass error_if_nonfinite = false to scale anyway)");

  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0 || std::isnan(coef)) {
    const T s = static_cast<T>(coef);
    for (int d = 0; d < 2; ++d)
      if (begin[d + 1] > begin[d])
        backend::kernels<T>(devices[d], "clip_grad_norm_")
            .scale_inplace_multi(spans.data() + begin[d],
                                 static_cast<int64_t>(begin[d + 1] - begin[d]), s);
    for (auto& [i, c] : copies) {  // scaled in its contiguous copy: write it back
      Tensor<T> g = params[i].grad();
      g.copy_(c);
    }
    for (const Tensor<T>& p : params)
      if (p.defined() && p.grad().defined()) p.grad().storage()->bump_version();
  }
  return static_cast<T>(total);
}

}  // namespace ember::optim
