// ember/backend/cuda/cross_entropy.cuh — fused softmax cross-entropy with ignore_index and label
// smoothing on the GPU, forward (one block per row) and backward (elementwise). The math, and
// why the max m and ls = log Σ exp(x − m) are kept apart, is backend/cpu/cross_entropy.hpp's:
//
//   loss = (1 − ε)·(ls − (x_t − m)) + ε·(ls − mean_c (x_c − m))
//   dloss/dx_c = s·(exp((x_c − m) − ls) − ε/C − (1 − ε)·[c = t])
//   an ignored row (t == ignore_index): loss 0, max 0, logsum 0, gradient 0.
//
// Differences from the CPU, all below rounding: Σ exp(x − m) accumulates in double (the CPU sums
// in T, in order) before being rounded to T; the maximum is the same (a NaN in x[0] poisons it,
// other NaNs are skipped, as the CPU's `x[c] > m ? x[c] : m` from m = x[0]).
#pragma once

#include <cstdint>

#include <ember/backend/cuda/check.cuh>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/stream.cuh>

namespace ember::backend::cuda {

namespace kernel {

template <class T>
__global__ void cross_entropy_forward(const T* logits, int64_t rows, int64_t classes,
                                      const int64_t* targets, int64_t ignore_index,
                                      double smoothing, T* loss, T* row_max, T* row_logsum) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t t = targets[r];
    if (t == ignore_index) {  // uniform across the block: no thread reaches a barrier alone
      if (threadIdx.x == 0) {
        loss[r] = T(0);
        row_max[r] = T(0);
        row_logsum[r] = T(0);
      }
      continue;
    }
    const T* x = logits + r * classes;
    T m = x[0];
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) m = x[c] > m ? x[c] : m;
    m = detail::block_reduce(m, detail::MaxOp{}, x[0]);
    double s = 0;
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) s += double(detail::dexp(T(x[c] - m)));
    s = detail::block_reduce(s, detail::SumOp{}, 0.0);
    const T ls = detail::dlog(T(s));
    double shifted = 0;  // Σ_c (x_c − m), only with smoothing
    if (smoothing != 0.0) {
      for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) shifted += double(T(x[c] - m));
      shifted = detail::block_reduce(shifted, detail::SumOp{}, 0.0);
    }
    if (threadIdx.x == 0) {
      double l = (1.0 - smoothing) * (double(ls) - double(T(x[t] - m)));
      if (smoothing != 0.0) l += smoothing * (double(ls) - shifted / double(classes));
      loss[r] = T(l);
      row_max[r] = m;
      row_logsum[r] = ls;
    }
  }
}

template <class T>
__global__ void cross_entropy_backward(const T* logits, int64_t rows, int64_t classes,
                                       const int64_t* targets, int64_t ignore_index, T uniform,
                                       T on_target, const T* row_max, const T* row_logsum,
                                       const T* scale, int64_t scale_stride, T* grad) {
  const int64_t total = rows * classes;
  for (int64_t k = detail::grid_start(); k < total; k += detail::grid_step()) {
    const int64_t r = k / classes, c = k % classes;
    const int64_t t = targets[r];
    if (t == ignore_index) {
      grad[k] = T(0);
      continue;
    }
    const T m = row_max[r], ls = row_logsum[r], s = scale[r * scale_stride];
    T g = s * (detail::dexp(T(T(logits[k] - m) - ls)) - uniform);
    if (c == t) g = g - s * on_target;
    grad[k] = g;
  }
}

}  // namespace kernel

/// Per-row loss, max and log-sum-exp − max of contiguous logits [rows, classes].
template <class T>
inline void cross_entropy_forward(const T* logits, int64_t rows, int64_t classes,
                                  const int64_t* targets, int64_t ignore_index, double smoothing,
                                  T* loss, T* row_max, T* row_logsum) {
  if (rows == 0 || classes == 0) return;
  kernel::cross_entropy_forward<T>
      <<<detail::grid_for_rows(rows), detail::row_threads(classes), 0, current_stream()>>>(
          logits, rows, classes, targets, ignore_index, smoothing, loss, row_max, row_logsum);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// grad[r, c] = scale[r·scale_stride]·(p_rc − ε/C − (1 − ε)·[c = t_r]); ignored rows get 0.
template <class T>
inline void cross_entropy_backward(const T* logits, int64_t rows, int64_t classes,
                                   const int64_t* targets, int64_t ignore_index, double smoothing,
                                   const T* row_max, const T* row_logsum, const T* scale,
                                   int64_t scale_stride, T* grad) {
  const int64_t total = rows * classes;
  if (total == 0) return;
  const T uniform = T(smoothing / double(classes));
  const T on_target = T(1.0 - smoothing);
  kernel::cross_entropy_backward<T><<<detail::grid_for(total), detail::kThreads, 0, current_stream()>>>(
      logits, rows, classes, targets, ignore_index, uniform, on_target, row_max, row_logsum, scale,
      scale_stride, grad);
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace ember::backend::cuda
