// ember/backend/cuda/optimizer.cuh — the fused optimizer updates (SGD, Adam/AdamW) on the GPU:
// one pass over a parameter's elements, reading p, g and the state buffers once and writing p and
// the buffers once.
//
// The arithmetic is backend/cpu/optimizer.hpp's `sgd_range` / `adam_range`, operation for
// operation and in the same order (read its header for where each step comes from in PyTorch).
// Every multiply, add, divide and square root goes through the correctly rounded intrinsics of
// launch.cuh (mul_rn, add_rn, div_rn, sqrt_rn): nvcc would otherwise fuse a·b + c into one FMA
// (one rounding instead of two), and then the GPU and CPU updates would drift apart by an ulp per
// step. With them, an update is bit-identical to the CPU's for the same inputs.
//
// The variants (weight decay, momentum, Nesterov; L2, decoupled decay, AMSGrad) are uniform
// run-time branches rather than template parameters: one kernel per optimizer and dtype keeps
// compile time down, and the branches cost nothing next to the memory traffic.
#pragma once

#include <cstdint>

#include <ember/backend/types.hpp>  // SgdCoeffs, AdamCoeffs
#include <ember/backend/cuda/check.cuh>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/stream.cuh>

namespace ember::backend::cuda {

namespace detail {

/// One element of an Adam/AdamW step, on values: p, m, v (and vmax with amsgrad) are updated in
/// place from the gradient g. The one copy of the GPU's Adam arithmetic, shared by the
/// per-tensor kernel below and the multi-tensor kernel (multi_tensor.cuh), so both give the same
/// bits as cpu::detail::adam_range.
template <class T>
__device__ __forceinline__ void adam_element(T& p, T g, T& m, T& v, T& vmax,
                                             const AdamCoeffs<T>& c) {
  T pi = p;
  if (c.has_decay) pi = mul_rn(pi, c.decay);
  if (c.has_l2) g = add_rn(g, mul_rn(c.l2, pi));
  const T mi = add_rn(mul_rn(m, c.beta1), mul_rn(c.one_minus_beta1, g));
  const T vi = add_rn(mul_rn(v, c.beta2), mul_rn(mul_rn(c.one_minus_beta2, g), g));
  m = mi;
  v = vi;
  T vd = vi;
  if (c.amsgrad) {
    vd = (vi > vmax || vi != vi) ? vi : vmax;  // torch.maximum propagates NaN
    vmax = vd;
  }
  const T denom = add_rn(div_rn(sqrt_rn(vd), c.bias_correction2_sqrt), c.eps);
  p = add_rn(pi, div_rn(mul_rn(c.neg_step_size, mi), denom));
}

}  // namespace detail

namespace kernel {

template <class T>
__global__ void sgd_update(int64_t n, T* p, const T* g, T* buf, bool first, SgdCoeffs<T> c) {
  using detail::add_rn;
  using detail::mul_rn;
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step()) {
    T d = g[i];
    if (c.has_weight_decay) d = add_rn(d, mul_rn(c.weight_decay, p[i]));
    if (c.has_momentum) {
      const T b = first ? d : add_rn(mul_rn(buf[i], c.momentum), mul_rn(c.one_minus_dampening, d));
      buf[i] = b;
      d = c.nesterov ? add_rn(d, mul_rn(c.momentum, b)) : b;
    }
    p[i] = add_rn(p[i], mul_rn(c.neg_lr, d));
  }
}

template <class T>
__global__ void adam_update(int64_t n, T* p, const T* g, T* m, T* v, T* vmax,
                            AdamCoeffs<T> c) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step()) {
    T pi = p[i], mi = m[i], vi = v[i], vmaxi = c.amsgrad ? vmax[i] : T(0);
    detail::adam_element(pi, g[i], mi, vi, vmaxi, c);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
    if (c.amsgrad) vmax[i] = vmaxi;
  }
}

}  // namespace kernel

/// One SGD step over n contiguous elements (buf: the momentum buffer, null without momentum;
/// `first`: the buffer is uninitialized and becomes d).
template <class T>
inline void sgd_update(int64_t n, T* p, const T* g, T* buf, bool first, const SgdCoeffs<T>& c) {
  if (n == 0) return;
  kernel::sgd_update<T><<<detail::grid_for(n), detail::kThreads, 0, current_stream()>>>(
      n, p, g, buf, first, c);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// One Adam/AdamW step over n contiguous elements (vmax: null unless amsgrad).
template <class T>
inline void adam_update(int64_t n, T* p, const T* g, T* m, T* v, T* vmax,
                        const AdamCoeffs<T>& c) {
  if (n == 0) return;
  kernel::adam_update<T><<<detail::grid_for(n), detail::kThreads, 0, current_stream()>>>(
      n, p, g, m, v, vmax, c);
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace ember::backend::cuda
