// ember/backend/cpu/cross_entropy.hpp — the CPU kernels of fused softmax cross-entropy with
// ignore_index and label smoothing, one pass over a row of logits per sample.
//
// For a row x of C logits with target t and smoothing ε (PyTorch's F.cross_entropy):
//   m   = max_c x_c                     (subtracted for stability: exp never overflows)
//   ls  = log Σ_c exp(x_c − m)          so log p_c = (x_c − m) − ls,  lse = m + ls
//   nll = ls − (x_t − m)                = −log p_t
//   smooth = ls − mean_c (x_c − m)      = −mean_c log p_c
//   loss = (1 − ε) · nll + ε · smooth
// `m` and `ls` are kept apart (not summed into lse) so that nothing cancels: for x = [1e8, 1e8]
// in float, lse = 1e8 + ln 2 would round to 1e8 and the loss to 0; here nll = ln 2 − 0 exactly.
//
// Backward, for a row with output gradient s (already divided by the count for a mean):
//   dloss/dx_c = s · (p_c − ε/C − (1 − ε)·[c = t]),  p_c = exp((x_c − m) − ls)
// An ignored row (t == ignore_index) has loss 0 and gradient 0.
//
// Kernels see pointers and sizes only and trust their callers (contiguous [rows, C] logits,
// targets either ignore_index or in [0, C)).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <ember/backend/cpu/strided.hpp>

namespace ember::backend::cpu {

/// Per-row loss, max and log-sum-exp-minus-max of contiguous `logits` [rows, classes].
/// Ignored rows get loss 0 (and max = logsum = 0). Parallel over rows.
template <class T>
inline void cross_entropy_forward(const T* logits, int64_t rows, int64_t classes,
                                  const int64_t* targets, int64_t ignore_index, double smoothing,
                                  T* loss, T* row_max, T* row_logsum) {
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(classes, 1));
  parallel_for(rows, grain, [&](int64_t i) {
    const int64_t t = targets[i];
    if (t == ignore_index) {
      loss[i] = T(0);
      row_max[i] = T(0);
      row_logsum[i] = T(0);
      return;
    }
    const T* x = logits + i * classes;
    T m = x[0];
    for (int64_t c = 1; c < classes; ++c) m = x[c] > m ? x[c] : m;
    T s = T(0);
    for (int64_t c = 0; c < classes; ++c) s += std::exp(x[c] - m);
    const T ls = std::log(s);
    double l = (1.0 - smoothing) * (double(ls) - double(x[t] - m));
    if (smoothing != 0.0) {
      double sum_shifted = 0.0;  // Σ_c (x_c − m), in double: C may be tens of thousands
      for (int64_t c = 0; c < classes; ++c) sum_shifted += double(x[c] - m);
      l += smoothing * (double(ls) - sum_shifted / double(classes));
    }
    loss[i] = T(l);
    row_max[i] = m;
    row_logsum[i] = ls;
  });
}

/// grad[i, c] = scale_i · (p_ic − ε/C − (1 − ε)·[c = t_i]) with scale_i = scale[i · scale_stride]
/// (stride 0: one scale for all rows); ignored rows get 0. `grad` contiguous [rows, classes].
template <class T>
inline void cross_entropy_backward(const T* logits, int64_t rows, int64_t classes,
                                   const int64_t* targets, int64_t ignore_index, double smoothing,
                                   const T* row_max, const T* row_logsum, const T* scale,
                                   int64_t scale_stride, T* grad) {
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(classes, 1));
  const T uniform = T(smoothing / double(classes));
  const T on_target = T(1.0 - smoothing);
  parallel_for(rows, grain, [&](int64_t i) {
    T* g = grad + i * classes;
    const int64_t t = targets[i];
    if (t == ignore_index) {
      std::fill(g, g + classes, T(0));
      return;
    }
    const T* x = logits + i * classes;
    const T m = row_max[i], ls = row_logsum[i], s = scale[i * scale_stride];
    for (int64_t c = 0; c < classes; ++c) g[c] = s * (std::exp((x[c] - m) - ls) - uniform);
    g[t] -= s * on_target;
  });
}

}  // namespace ember::backend::cpu
