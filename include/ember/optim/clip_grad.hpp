// ember/optim/clip_grad.hpp — `clip_grad_norm_`: rescales gradients so that their global norm is
// at most max_norm (Pascanu et al., "On the difficulty of training recurrent neural networks",
// 2013), as torch.nn.utils.clip_grad_norm_ (1.13) computes it:
//
//   total = ‖(‖g_1‖_p, ‖g_2‖_p, ...)‖_p        (= the p-norm of all gradients concatenated)
//   total = max_i max |g_i|                     (p = inf)
//   coef  = max_norm / (total + 1e-6)
//   g_i  ← g_i · coef        only when coef < 1  (PyTorch multiplies by min(coef, 1); ×1 is a no-op)
//
// Sums are accumulated in double over fixed blocks (backend::cpu::sum_abs_pow), so the norm does
// not depend on the thread count and loses nothing to float rounding; it is returned as T.
// Parameters without a gradient are skipped. Gradients are scaled in place (their storage
// version is bumped). CUDA gradients are reduced on the GPU all together, by one multi-tensor
// reduction in double (fixed per-chunk partials added in a fixed order: deterministic) with one
// synchronization to read the norm back, and scaled by one multi-tensor launch
// (backend/cuda/multi_tensor.cuh); their Σ|g|^p is added after the CPU gradients' partial sums.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <ember/autograd/grad_mode.hpp>
#include <ember/backend/cpu/optimizer.hpp>
#include <ember/backend/cpu/strided.hpp>
#include <ember/backend/cuda/interface.hpp>
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
  // CUDA gradients are reduced together (one multi-tensor reduction, one synchronization) and
  // scaled together (one launch): their pointers go to `cuda_grads`, a block of the CPU caching
  // allocator, so a steady training step allocates nothing here.
  std::size_t num_cuda = 0;
  for (const Tensor<T>& p : params)
    if (p.defined() && p.grad().defined() && p.grad().device().is_cuda()) ++num_cuda;
  ScratchBuffer<backend::cuda::TensorSpan<T>> cuda_grads(num_cuda);
  std::vector<Tensor<T>> cuda_copies;  // contiguous copies of non-contiguous CUDA gradients
  bool cuda_contiguous = true;
  num_cuda = 0;
  bool any = false;
  double acc = 0.0;  // Σ|g|^p, or max|g| for the infinity norm
  auto combine = [&](double v) {
    if (inf_norm) {
      if (v > acc || std::isnan(v)) acc = v;
    } else {
      acc += v;
    }
  };
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!params[i].defined() || !params[i].grad().defined()) continue;
    const Tensor<T>& g = params[i].grad();
    any = true;
    if (g.device().is_cuda()) {
      Tensor<T> c = g;
      if (!g.is_contiguous()) {
        cuda_contiguous = false;
        cuda_copies.push_back(c = g.contiguous());
      }
      cuda_grads[num_cuda++] = {c.data(), c.numel()};
      continue;
    }
    Tensor<T> c = g.is_contiguous() ? g : g.contiguous();
    if (inf_norm)
      combine(backend::cpu::max_abs(c.numel(), c.data()));
    else
      combine(backend::cpu::sum_abs_pow(c.numel(), c.data(), norm_type));
  }
  if (num_cuda > 0)
    combine(backend::cuda::kernels<T>("clip_grad_norm_")
                .norm_pow_multi(cuda_grads.data(), static_cast<int64_t>(num_cuda), norm_type));
  if (!any) return T(0);
  const double total =
      inf_norm ? acc : (norm_type == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / norm_type));
  EMBER_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of "
              "order ", norm_type, " of the gradients is ", total,
              ", so it cannot be clipped (pass error_if_nonfinite = false to scale anyway)");

  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0 || std::isnan(coef)) {
    const T s = static_cast<T>(coef);
    if (num_cuda > 0) {
      EMBER_CHECK(cuda_contiguous, "clip_grad_norm_: expected contiguous CUDA gradients");
      backend::cuda::kernels<T>("clip_grad_norm_")
          .scale_inplace_multi(cuda_grads.data(), static_cast<int64_t>(num_cuda), s);
    }
    for (const Tensor<T>& p : params) {
      if (!p.defined() || !p.grad().defined()) continue;
      Tensor<T> g = p.grad();
      if (g.device().is_cuda()) {
        // scaled above, with the other CUDA gradients; only the version bump is left
      } else if (g.is_contiguous()) {
        backend::cpu::scale_inplace(g.numel(), g.data(), s);
      } else {
        Shape st = g.strides();
        const Shape* strides[1] = {&st};
        T* d = g.data();
        backend::cpu::strided_walk<1>(g.shape(), strides, [&](int64_t i) { d[i] = d[i] * s; });
      }
      g.storage()->bump_version();
    }
  }
  return static_cast<T>(total);
}

}  // namespace ember::optim
