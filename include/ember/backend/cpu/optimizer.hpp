// ember/backend/cpu/optimizer.hpp — the fused optimizer update kernels (SGD, Adam/AdamW) and the
// gradient-norm kernels behind clip_grad_norm_, on raw pointers.
//
// Each update is ONE pass over the elements of a parameter: it reads p, g and the state buffers
// once and writes p and the buffers once. PyTorch 1.13's single-tensor path
// (torch/optim/sgd.py `_single_tensor_sgd`, adam.py `_single_tensor_adam`, adamw.py
// `_single_tensor_adamw`) runs the same arithmetic as several whole-tensor passes; per element
// the operations and their order are the same here, and every hyperparameter is rounded to T
// where PyTorch rounds it (a Python float becomes a T scalar in the tensor op), so float results
// agree with PyTorch to a few ulp (exact agreement would need PyTorch's vectorized FMA paths).
//
//   SGD:   d = g (+ wd·p)                                      torch: grad.add(param, alpha=wd)
//          buf = d (first step) | buf·μ + (1−dampening)·d      buf.mul_(μ).add_(d, alpha=1−damp)
//          d = d + μ·buf (nesterov) | buf
//          p = p + (−lr)·d                                     param.add_(d, alpha=−lr)
//   Adam:  g' = g (+ wd·p)          (L2 in the gradient; Adam)
//          p = p·(1 − lr·wd)        (decoupled decay; AdamW, Loshchilov & Hutter 2019)
//          m = m·β1 + (1−β1)·g'                                exp_avg.mul_(β1).add_(g, alpha=1−β1)
//          v = v·β2 + (1−β2)·g'·g'                             exp_avg_sq.mul_(β2).addcmul_(g, g, 1−β2)
//          v̂ = max(v̂, v)            (amsgrad)
//          denom = sqrt(v)/sqrt(1−β2^t) + eps                  (sqrt(v)/bc2_sqrt).add_(eps)
//          p = p + (−lr/(1−β1^t))·m/denom                      param.addcdiv_(m, denom, −step_size)
//
// Kernels never check their input (the optimizer does); large parameters are split over the
// OpenMP threads in contiguous chunks (each element's update is independent, so the result does
// not depend on the thread count). The norm kernels sum fixed-size blocks in double and add the
// block sums in order, so the norm does not depend on the thread count either.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <ember/backend/cpu/strided.hpp>
#include <ember/core/storage.hpp>

namespace ember::backend::cpu {

// ---- SGD ----------------------------------------------------------------------------------------


namespace detail {
template <class T, bool WD, bool Momentum, bool Nesterov>
inline void sgd_range(int64_t lo, int64_t hi, T* p, const T* g, T* buf, bool first,
                      const SgdCoeffs<T>& c) {
  for (int64_t i = lo; i < hi; ++i) {
    T d = g[i];
    if constexpr (WD) d = d + c.weight_decay * p[i];
    if constexpr (Momentum) {
      T b = first ? d : T(buf[i] * c.momentum) + c.one_minus_dampening * d;
      buf[i] = b;
      if constexpr (Nesterov)
        d = d + c.momentum * b;
      else
        d = b;
    }
    p[i] = p[i] + c.neg_lr * d;
  }
}
}  // namespace detail

/// One SGD step over `n` contiguous elements: updates `p` in place (and `buf`, the momentum
/// buffer, when `c.has_momentum`; `first` means the buffer is uninitialized and becomes d).
/// `buf` may be null when there is no momentum.
template <class T>
inline void sgd_update(int64_t n, T* p, const T* g, T* buf, bool first, const SgdCoeffs<T>& c) {
  auto run = [&](auto wd, auto mom, auto nest) {
    parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
      detail::sgd_range<T, decltype(wd)::value, decltype(mom)::value, decltype(nest)::value>(
          lo, hi, p, g, buf, first, c);
    });
  };
  using F = std::false_type;
  using Tr = std::true_type;
  if (!c.has_momentum) {
    if (c.has_weight_decay) run(Tr{}, F{}, F{});
    else run(F{}, F{}, F{});
  } else if (c.nesterov) {
    if (c.has_weight_decay) run(Tr{}, Tr{}, Tr{});
    else run(F{}, Tr{}, Tr{});
  } else {
    if (c.has_weight_decay) run(Tr{}, Tr{}, F{});
    else run(F{}, Tr{}, F{});
  }
}

// ---- Adam / AdamW -------------------------------------------------------------------------------


namespace detail {
template <class T, bool L2, bool Decay, bool Amsgrad>
inline void adam_range(int64_t lo, int64_t hi, T* p, const T* g, T* m, T* v, T* vmax,
                       const AdamCoeffs<T>& c) {
  for (int64_t i = lo; i < hi; ++i) {
    T pi = p[i];
    if constexpr (Decay) pi = pi * c.decay;
    T gi = g[i];
    if constexpr (L2) gi = gi + c.l2 * pi;
    T mi = T(m[i] * c.beta1) + c.one_minus_beta1 * gi;
    T vi = T(v[i] * c.beta2) + T(c.one_minus_beta2 * gi) * gi;
    m[i] = mi;
    v[i] = vi;
    T vd = vi;
    if constexpr (Amsgrad) {
      T old = vmax[i];
      vd = (vi > old || std::isnan(vi)) ? vi : old;  // torch.maximum propagates NaN
      vmax[i] = vd;
    }
    T denom = std::sqrt(vd) / c.bias_correction2_sqrt + c.eps;
    p[i] = pi + T(c.neg_step_size * mi) / denom;
  }
}
}  // namespace detail

/// One Adam/AdamW step over `n` contiguous elements: updates `p`, `m` (exp_avg), `v`
/// (exp_avg_sq) and, with amsgrad, `vmax` (max_exp_avg_sq; may be null otherwise) in place.
template <class T>
inline void adam_update(int64_t n, T* p, const T* g, T* m, T* v, T* vmax, const AdamCoeffs<T>& c) {
  auto run = [&](auto l2, auto decay, auto ams) {
    parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
      detail::adam_range<T, decltype(l2)::value, decltype(decay)::value, decltype(ams)::value>(
          lo, hi, p, g, m, v, vmax, c);
    });
  };
  using F = std::false_type;
  using Tr = std::true_type;
  if (c.amsgrad) {
    if (c.has_l2) run(Tr{}, F{}, Tr{});
    else if (c.has_decay) run(F{}, Tr{}, Tr{});
    else run(F{}, F{}, Tr{});
  } else {
    if (c.has_l2) run(Tr{}, F{}, F{});
    else if (c.has_decay) run(F{}, Tr{}, F{});
    else run(F{}, F{}, F{});
  }
}

// ---- gradient norms and scaling -----------------------------------------------------------------

/// Block size of the deterministic norm reductions.
inline constexpr int64_t kNormBlock = 16384;

namespace detail {
/// Σ f(x[i]) over [lo, hi) in double.
template <class T, class F>
inline double block_sum(const T* x, int64_t lo, int64_t hi, F f) {
  double s = 0.0;
  for (int64_t i = lo; i < hi; ++i) s += f(double(x[i]));
  return s;
}
}  // namespace detail

/// Σ |x[i]|^p over `n` contiguous elements, in double (p = 2 and p = 1 take exact fast paths).
/// Fixed blocks summed in order: the result does not depend on the thread count.
template <class T>
inline double sum_abs_pow(int64_t n, const T* x, double p) {
  auto f = [p](double a) {
    if (p == 2.0) return a * a;
    if (p == 1.0) return std::fabs(a);
    return std::pow(std::fabs(a), p);
  };
  if (n <= kNormBlock) return detail::block_sum(x, 0, n, f);
  int64_t nb = (n + kNormBlock - 1) / kNormBlock;
  ScratchBuffer<double> partial(nb);
  parallel_for(nb, 2, [&](int64_t b) {
    partial[b] = detail::block_sum(x, b * kNormBlock, std::min(n, (b + 1) * kNormBlock), f);
  });
  double s = 0.0;
  for (int64_t b = 0; b < nb; ++b) s += partial[b];
  return s;
}

/// max |x[i]| over `n` contiguous elements (0 for n = 0; NaN if any element is NaN).
template <class T>
inline double max_abs(int64_t n, const T* x) {
  double m = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double a = std::fabs(double(x[i]));
    if (a > m || std::isnan(a)) m = a;
    if (std::isnan(m)) return m;
  }
  return m;
}

/// x[i] *= s over `n` contiguous elements.
template <class T>
inline void scale_inplace(int64_t n, T* x, T s) {
  parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) x[i] = x[i] * s;
  });
}

// ---- the multi-tensor forms of the kernel table (backend/kernel_list.hpp) ------------------------

/// adam_update of every tensor, each segment's entries with its coefficients (the CPU has no
/// launch overhead to save: tensor by tensor, each split over the threads).
template <class T>
inline void adam_update_multi(const AdamTensor<T>* tensors, int64_t count,
                              const AdamSegment<T>* segments, int64_t num_segments) {
  (void)count;
  for (int64_t s = 0; s < num_segments; ++s)
    for (int64_t i = segments[s].begin; i < segments[s].end; ++i) {
      const AdamTensor<T>& t = tensors[i];
      adam_update(t.numel, t.param, t.grad, t.exp_avg, t.exp_avg_sq, t.max_exp_avg_sq,
                  segments[s].coeffs);
    }
}

/// Σ |x|^p over the spans, tensor by tensor in order (max |x| when p is +∞; a NaN wins).
template <class T>
inline double norm_pow_multi(const TensorSpan<T>* xs, int64_t count, double p) {
  const bool inf = std::isinf(p);
  double acc = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    if (inf) {
      const double v = max_abs(xs[i].numel, xs[i].data);
      if (v > acc || std::isnan(v)) acc = v;
    } else {
      acc += sum_abs_pow(xs[i].numel, xs[i].data, p);
    }
  }
  return acc;
}

/// scale_inplace of every span.
template <class T>
inline void scale_inplace_multi(const TensorSpan<T>* xs, int64_t count, T s) {
  for (int64_t i = 0; i < count; ++i) scale_inplace(xs[i].numel, xs[i].data, s);
}

}  // namespace ember::backend::cpu
