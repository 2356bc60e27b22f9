// ember/backend/cuda/multi_tensor.hpp — the plain structs that describe a multi-tensor launch
// (one kernel over many tensors) to the CUDA backend: the per-tensor pointer tables of the
// fused Adam/AdamW step and of the gradient-norm reduction and scaling behind clip_grad_norm_.
//
// Plain C++ (g++ and nvcc both compile it; interface.hpp includes it). The kernels that read
// these tables are in backend/cuda/multi_tensor.cuh, which explains the launch design.
#pragma once

#include <cstdint>

#include <ember/backend/cpu/optimizer.hpp>  // AdamCoeffs (a plain struct)

namespace ember::backend::cuda {

/// One parameter of a multi-tensor Adam/AdamW step: device pointers to `numel` contiguous
/// elements each (`max_exp_avg_sq` null unless amsgrad). numel may be 0.
template <class T>
struct AdamTensor {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  T* max_exp_avg_sq;
  int64_t numel;
};

/// Entries [begin, end) of a multi-tensor Adam/AdamW step share these coefficients (the
/// parameters of one group at the same step count: one launch each).
template <class T>
struct AdamSegment {
  int64_t begin;
  int64_t end;
  cpu::AdamCoeffs<T> coeffs;
};

/// `numel` contiguous device elements (a gradient, for clip_grad_norm_). Not const: the same
/// list serves the norm (which only reads) and the scaling that follows it.
template <class T>
struct TensorSpan {
  T* data;
  int64_t numel;
};

}  // namespace ember::backend::cuda
