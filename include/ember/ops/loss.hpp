// ember/ops/loss.hpp — the losses, each PyTorch's: `cross_entropy` (softmax cross-entropy on
// logits with ignore_index and label smoothing, F.cross_entropy with class-index targets, no
// class weights), `mse_loss`, `binary_cross_entropy_with_logits`, `kl_div`, `distillation_loss`.
//
// For a sample with logits x (C classes), target class t and smoothing ε:
//   loss = (1 − ε) · (−log p_t) + ε · mean_c(−log p_c),     p = softmax(x)
// (PyTorch's definition: the smoothed target distribution is (1 − ε)·onehot(t) + ε/C.)
// Samples whose target equals `ignore_index` contribute 0 and are not counted.
// Reduction::Mean divides the sum by the number of non-ignored samples; when every sample is
// ignored that is 0/0 and the loss is NaN — as in PyTorch — while its gradient is 0 (no
// sample contributes), so an optimizer step is harmless but the logged loss shows the empty batch.
//
// Forward and backward are fused (backend/cpu/cross_entropy.hpp): one pass per row computes the
// row max and log-sum-exp with max subtraction (stable: logits [1e8, 1e8] → ln 2 in float too).
// Backward: (softmax(x) − (1 − ε)·onehot(t) − ε/C) · g / count. Saved for backward: the logits
// (the gradient needs softmax; recomputing it from logits + two floats per row costs one exp per
// element and avoids keeping a probability tensor as large as the logits), the targets, and the
// per-row max and log-sum-exp ([rows] each).
//
// `mse_loss` and `binary_cross_entropy_with_logits` (the regression and multi-label heads) are
// compositions of elementwise ops too.
// `kl_div` and `distillation_loss` (knowledge distillation, Hinton, Vinyals & Dean, "Distilling
// the Knowledge in a Neural Network", 2015) are compositions of ops with their own backward
// (log_softmax, softmax, where, log, mul, sum), so their gradients are those ops' gradients.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <ember/autograd/node.hpp>
#include <ember/backend/backend.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/ops/indexing.hpp>
#include <ember/ops/reduction.hpp>
#include <ember/ops/softmax.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember {

/// How a per-sample loss is reduced (PyTorch's `reduction=`).
enum class Reduction {
  None,  ///< the per-sample losses, shape of the targets (ignored samples: 0)
  Mean,  ///< sum over non-ignored samples / their count, a 0-d tensor
  Sum,   ///< sum over samples, a 0-d tensor
};

/// Options of `cross_entropy` (PyTorch's keyword arguments, same defaults).
struct CrossEntropyOptions {
  int64_t ignore_index = -100;   ///< targets equal to this contribute nothing and are not counted
  double label_smoothing = 0.0;  ///< ε in [0, 1]
  Reduction reduction = Reduction::Mean;
};

/// Cross-entropy between `logits` and class-index `targets` (int64):
///   logits [N, C], targets [N]               (the usual case: a batch of N samples, C classes)
///   logits [N, C, d1, ...], targets [N, d1, ...]   (per-position classes, as PyTorch)
///   logits [C], targets [] (0-d)             (one sample)
/// Returns a 0-d tensor for Mean/Sum, the targets' shape for None.
/// Throws `ember::Error` naming both shapes if they do not match as above, naming the target,
/// its position and C if a target is outside [0, C) and not ignore_index, and if
/// label_smoothing is outside [0, 1].
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& logits, const Tensor<int64_t>& targets,
                        const CrossEntropyOptions& opt = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "cross_entropy: logits must be float or double");
  const double eps = opt.label_smoothing;
  EMBER_CHECK(eps >= 0.0 && eps <= 1.0, "cross_entropy: label_smoothing must be in [0, 1], found ",
              eps);
  detail::check_same_device(logits.device(), targets.device(), "cross_entropy");
  EMBER_CHECK(logits.dim() >= 1, "cross_entropy: expected logits of shape [N, C], found ",
              logits.shape());

  // Expected target shape: logits' shape without the class dim (dim 1, or dim 0 for 1-D logits).
  const int class_dim = logits.dim() == 1 ? 0 : 1;
  const int64_t C = logits.size(class_dim);
  Shape expected = logits.shape();
  expected.erase(class_dim);
  EMBER_CHECK(targets.shape() == expected, "cross_entropy: expected targets of shape ", expected,
              " for logits of shape ", logits.shape(), " (class dim ", class_dim,
              " removed), found ", targets.shape());
  EMBER_CHECK(C > 0, "cross_entropy: logits of shape ", logits.shape(), " have no classes");

  // Logits as rows [M, C] (differentiable views: the backward of the permute/reshape is done by
  // their own nodes).
  Tensor<T> rows2d = logits;
  if (logits.dim() == 1) {
    rows2d = logits.unsqueeze(0);
  } else if (logits.dim() > 2) {
    Shape perm;
    perm.push_back(0);
    for (int d = 2; d < logits.dim(); ++d) perm.push_back(d);
    perm.push_back(1);
    rows2d = logits.permute(perm).reshape({-1, C});
  }
  const Tensor<T> x = rows2d.contiguous();
  const int64_t M = x.size(0);
  // Targets in row-major order are the rows' order (n, d1, ...): no reshape needed.
  const Tensor<int64_t> t = targets.contiguous();

  const int64_t ignore = opt.ignore_index;
  const Tensor<int64_t> host_t = t.to(Device::cpu());  // the range check reads targets on the host
  const int64_t* tp = host_t.data();
  int64_t count = 0;
  for (int64_t i = 0; i < M; ++i) {
    if (tp[i] == ignore) continue;
    if (tp[i] < 0 || tp[i] >= C) {
      EMBER_FAIL("cross_entropy: target ", tp[i], " at position ",
                 detail::multi_index(targets.shape(), i), " of targets with shape ",
                 targets.shape(), " is out of range for ", C, " classes (logits shape ",
                 logits.shape(), "); expected 0 <= target < ", C, " or ignore_index ", ignore);
    }
    ++count;
  }

  Tensor<T> row_loss = Tensor<T>::empty(targets.shape(), logits.device());
  Tensor<T> row_max = Tensor<T>::empty({M}, logits.device());
  Tensor<T> row_logsum = Tensor<T>::empty({M}, logits.device());
  backend::kernels<T>(x.device(), "cross_entropy").cross_entropy_forward(x.data(), M, C, t.data(), ignore, eps, row_loss.data(), row_max.data(), row_logsum.data());

  Tensor<T> out;
  if (opt.reduction == Reduction::None) {
    out = row_loss;
  } else {  // Σ over the rows in double (mean over zero samples: 0/0 = NaN, as PyTorch)
    out = Tensor<T>::empty(Shape{}, x.device());
    const double scale = opt.reduction == Reduction::Mean ? 1.0 / double(count) : 1.0;
    if (M > 0) {
      backend::kernels<T>(x.device(), "cross_entropy")
          .reduce_sum(row_loss.data(), backend::make_layout(Shape{M}, Shape{1}, "cross_entropy"), 1u,
                      scale, out.data());
    } else {
      out.fill_(opt.reduction == Reduction::Mean ? T(NAN) : T(0));
    }
  }

  if (autograd::any_requires_grad(x)) {
    const Reduction red = opt.reduction;
    autograd::record(
        out, "cross_entropy", {x},
        [sx = autograd::SavedTensor<T>(x), st = autograd::SavedTensor<int64_t>(t), row_max,
         row_logsum, M, C, ignore, eps, red, count](const Tensor<T>& g) {
          const Tensor<T>& xs = sx.get("cross_entropy");
          const Tensor<int64_t>& ts = st.get("cross_entropy");
          Tensor<T> grad = Tensor<T>::empty({M, C}, xs.device());
          Tensor<T> scale;
          int64_t scale_stride = 0;
          if (red == Reduction::None) {
            scale = g.contiguous();
            scale_stride = 1;
          } else {
            double s = double(g.item());
            if (red == Reduction::Mean) s /= double(count);  // count 0: every row is ignored
            scale = full<T>(Shape{1}, T(s), xs.device());
          }
          backend::kernels<T>(xs.device(), "cross_entropy").cross_entropy_backward(xs.data(), M, C, ts.data(), ignore, eps, row_max.data(), row_logsum.data(), scale.data(), scale_stride, grad.data());
          return autograd::Grads<T>{grad};
        });
  }
  return out;
}

/// Kullback–Leibler divergence KL(P ‖ Q) with `input` = log Q and `target` = P (or log P with
/// `log_target`), PyTorch's `F.kl_div(input, target, reduction, log_target)`: pointwise
///   target · (log target − input)        (0 where target is 0, as PyTorch's xlogy)
///   exp(target) · (target − input)       with log_target
/// `input` and `target` have the same shape. Reduction::Mean averages over every element
/// (PyTorch's "mean"; its "batchmean", the true KL per sample, is the Sum divided by
/// input.size(0)), Sum adds them up, None returns the pointwise terms. Throws `ember::Error` when
/// the shapes differ.
template <class T>
Tensor<T> kl_div(const Tensor<T>& input, const Tensor<T>& target,
                 Reduction reduction = Reduction::Mean, bool log_target = false) {
  EMBER_CHECK(input.defined() && target.defined() && input.shape() == target.shape(),
              "kl_div: expected input (log-probabilities) and target of the same shape, found ",
              input.defined() ? input.shape() : Shape{}, " and ",
              target.defined() ? target.shape() : Shape{});
  Tensor<T> pointwise;
  if (log_target) {
    pointwise = exp(target) * (target - input);
  } else {
    // log is taken of 1 where target is 0, so 0 · log 0 is 0 and its gradient finite.
    Tensor<T> safe = where(gt(target, 0.0), target, ones_like(target));
    pointwise = target * (log(safe) - input);
  }
  if (reduction == Reduction::None) return pointwise;
  return reduction == Reduction::Sum ? sum(pointwise) : mean(pointwise);
}

/// Hinton et al.'s distillation loss for `student_logits` and `teacher_logits` [N, C]:
///   T² · KL(softmax(teacher / T) ‖ softmax(student / T))    per row (summed over the C classes)
/// — PyTorch: `F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean")
/// * T**2` for Reduction::Mean (the mean over rows), the row sum for Sum, the [N] row losses for
/// None. T² keeps the gradient's size independent of T (Hinton et al., §2). The teacher's logits
/// are constants: no gradient reaches them. Throws `ember::Error` for shapes that are not the
/// same [N, C] or a temperature that is not positive and finite.
template <class T>
Tensor<T> distillation_loss(const Tensor<T>& student_logits, const Tensor<T>& teacher_logits,
                            double temperature, Reduction reduction = Reduction::Mean) {
  EMBER_CHECK(student_logits.defined() && teacher_logits.defined() && student_logits.dim() == 2 &&
                  student_logits.shape() == teacher_logits.shape(),
              "distillation_loss: expected student and teacher logits of the same shape [N, C], "
              "found ", student_logits.defined() ? student_logits.shape() : Shape{}, " and ",
              teacher_logits.defined() ? teacher_logits.shape() : Shape{});
  EMBER_CHECK(temperature > 0 && std::isfinite(temperature),
              "distillation_loss: temperature must be positive and finite, found ", temperature);
  Tensor<T> soft_targets;
  {
    NoGradGuard no_grad;
    soft_targets = softmax(teacher_logits.detach() * (1.0 / temperature), -1);
  }
  Tensor<T> log_q = log_softmax(student_logits * (1.0 / temperature), -1);
  Tensor<T> rows = sum(kl_div(log_q, soft_targets, Reduction::None), {-1}) *
                   (temperature * temperature);
  if (reduction == Reduction::None) return rows;
  return reduction == Reduction::Sum ? sum(rows) : mean(rows);
}

/// Mean squared error, PyTorch's `F.mse_loss(input, target, reduction)`: pointwise
/// (input − target)², averaged over every element (Mean), summed (Sum) or returned (None).
/// `input` and `target` have the same shape (no broadcasting: PyTorch warns on it, and a
/// [N, 1] against [N] mix-up would silently give an [N, N] loss). Throws `ember::Error` when the
/// shapes differ. Gradient: 2 (input − target) · g (/ numel for Mean), to both arguments.
template <class T>
Tensor<T> mse_loss(const Tensor<T>& input, const Tensor<T>& target,
                   Reduction reduction = Reduction::Mean) {
  EMBER_CHECK(input.defined() && target.defined() && input.shape() == target.shape(),
              "mse_loss: expected input and target of the same shape, found ",
              input.defined() ? input.shape() : Shape{}, " and ",
              target.defined() ? target.shape() : Shape{});
  Tensor<T> d = input - target;
  Tensor<T> pointwise = d * d;
  if (reduction == Reduction::None) return pointwise;
  return reduction == Reduction::Sum ? sum(pointwise) : mean(pointwise);
}

/// Binary cross-entropy on logits x with targets y in [0, 1], PyTorch's
/// `F.binary_cross_entropy_with_logits(input, target, reduction)` (no weight, no pos_weight):
///   pointwise  −[y · log σ(x) + (1 − y) · log(1 − σ(x))]
///            = (1 − y) · x + m + log(e^(−m) + e^(−x − m)),   m = max(−x, 0)
/// — ATen's stable form: no exp overflows for |x| large (x = ±1e4 gives finite losses). The
/// gradient, σ(x) − y (· g / numel for Mean), comes from the composed ops; m's own gradient is
/// 1 − 1 = 0, so the kink of max at x = 0 does not matter. Throws `ember::Error` when the shapes
/// differ. Used by multi-label classification (problem_type "multi_label_classification").
template <class T>
Tensor<T> binary_cross_entropy_with_logits(const Tensor<T>& input, const Tensor<T>& target,
                                           Reduction reduction = Reduction::Mean) {
  EMBER_CHECK(input.defined() && target.defined() && input.shape() == target.shape(),
              "binary_cross_entropy_with_logits: expected input (logits) and target of the same "
              "shape, found ", input.defined() ? input.shape() : Shape{}, " and ",
              target.defined() ? target.shape() : Shape{});
  Tensor<T> m = relu(-input);
  Tensor<T> pointwise = (1.0 - target) * input + m + log(exp(-m) + exp(-input - m));
  if (reduction == Reduction::None) return pointwise;
  return reduction == Reduction::Sum ? sum(pointwise) : mean(pointwise);
}

}  // namespace ember
