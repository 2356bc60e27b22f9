// ember/backend/cuda/kernels.cuh — `CudaKernelsImpl<T>`, the table of interface.hpp's
// `CudaKernels<T>` filled with the kernels of the other backend/cuda/*.cuh headers, and
// `install()`, which puts the tables into the slots that host code reads.
//
// Each virtual forwards to the free function of the same name; the table exists so that code
// compiled by g++ (the ops, templates instantiated in any translation unit) can reach kernels
// compiled by nvcc (ARCHITECTURE.md, decision 4; interface.hpp explains the mechanism).
// Only float and double get tables: they are the dtypes with CUDA kernels.
#pragma once

#include <cstdint>

#include <ember/backend/cuda/allocator.cuh>
#include <ember/backend/cuda/attention.cuh>
#include <ember/backend/cuda/blas.cuh>
#include <ember/backend/cuda/cross_entropy.cuh>
#include <ember/backend/cuda/dropout.cuh>
#include <ember/backend/cuda/elementwise.cuh>
#include <ember/backend/cuda/embedding.cuh>
#include <ember/backend/cuda/gelu.cuh>
#include <ember/backend/cuda/interface.hpp>
#include <ember/backend/cuda/layer_norm.cuh>
#include <ember/backend/cuda/multi_tensor.cuh>
#include <ember/backend/cuda/optimizer.cuh>
#include <ember/backend/cuda/reduce.cuh>
#include <ember/backend/cuda/runtime.cuh>
#include <ember/backend/cuda/softmax.cuh>
#include <ember/core/storage.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::backend::cuda {

/// The CUDA kernels for T (float or double), as the CudaKernels<T> table.
template <class T>
class CudaKernelsImpl final : public CudaKernels<T> {
 public:
  // ---- elementwise ----
  void unary(UnaryCode code, double s, const T* a, const Layout& al, T* out) override {
    cuda::unary<T>(code, s, a, al, out);
  }
  void binary(BinaryCode code, double s, const T* a, const Layout& al, const T* b,
              const Layout& bl, T* out) override {
    cuda::binary<T>(code, s, a, al, b, bl, out);
  }
  void compare(CompareCode code, double v, const T* a, const Layout& al, bool* out) override {
    cuda::compare<T>(code, v, a, al, out);
  }
  void masked_fill(const T* a, const Layout& al, const bool* mask, const Layout& ml, double value,
                   T* out) override {
    cuda::masked_fill<T>(a, al, mask, ml, value, out);
  }
  void where(const bool* cond, const Layout& cl, const T* a, const Layout& al, const T* b,
             const Layout& bl, T* out) override {
    cuda::where<T>(cond, cl, a, al, b, bl, out);
  }

  // ---- reductions ----
  void reduce_sum(const T* x, const Layout& xl, uint32_t reduce_mask, double scale,
                  T* out) override {
    cuda::reduce_sum<T>(x, xl, reduce_mask, scale, out);
  }
  void max_along(const T* x, int64_t outer, int64_t n, int64_t inner, T* values,
                 int64_t* indices) override {
    cuda::max_along<T>(x, outer, n, inner, values, indices);
  }
  double norm_pow(const T* x, int64_t n, double p) override { return cuda::norm_pow<T>(x, n, p); }
  void scale_inplace(T* x, int64_t n, T s) override { cuda::scale_inplace<T>(x, n, s); }

  // ---- matrix products ----
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
            int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c,
            int64_t ldc, int64_t stride_c, int64_t batch) override {
    const MatmulPrecision precision = detail::runtime_slot() != nullptr
                                          ? detail::runtime_slot()->float32_matmul_precision()
                                          : MatmulPrecision::highest;
    cuda::gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c,
                  ldc, stride_c, batch, precision);
  }
  void add_bias(const T* x, const T* bias, T* out, int64_t rows, int64_t n) override {
    cuda::add_bias<T>(x, bias, out, rows, n);
  }

  // ---- Transformer kernels ----
  void softmax_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner,
                       bool log) override {
    cuda::softmax_forward<T>(x, y, outer, n, inner, log);
  }
  void softmax_backward(const T* y, const T* dy, T* dx, int64_t outer, int64_t n, int64_t inner,
                        bool log) override {
    cuda::softmax_backward<T>(y, dy, dx, outer, n, inner, log);
  }
  void scaled_masked_softmax_forward(const T* x, T* y, int64_t rows, int64_t n, T divisor,
                                     const MaskRows<T>& mask) override {
    cuda::scaled_masked_softmax_forward<T>(x, y, rows, n, divisor, mask);
  }
  void scaled_masked_softmax_backward(const T* y, const T* dy, T* dx, int64_t rows, int64_t n,
                                      T divisor) override {
    cuda::scaled_masked_softmax_backward<T>(y, dy, dx, rows, n, divisor);
  }
  void layer_norm_forward(const T* x, const T* w, const T* b, T* y, double* mean, double* rstd,
                          int64_t rows, int64_t n, double eps) override {
    cuda::layer_norm_forward<T>(x, w, b, y, mean, rstd, rows, n, eps);
  }
  void layer_norm_backward(const T* dy, const T* x, const double* mean, const double* rstd,
                           const T* w, T* dx, T* dw, T* db, int64_t rows, int64_t n) override {
    cuda::layer_norm_backward<T>(dy, x, mean, rstd, w, dx, dw, db, rows, n);
  }
  void gelu_forward(const T* x, T* y, int64_t n, bool approximate_tanh) override {
    cuda::gelu_forward<T>(x, y, n, approximate_tanh);
  }
  void gelu_backward(const T* dy, const T* x, T* dx, int64_t n, bool approximate_tanh) override {
    cuda::gelu_backward<T>(dy, x, dx, n, approximate_tanh);
  }
  void embedding_forward(const int64_t* ids, int64_t n, const T* weight, int64_t ws0, int64_t ws1,
                         int64_t dim, T* out) override {
    cuda::embedding_forward<T>(ids, n, weight, ws0, ws1, dim, out);
  }
  void embedding_backward(const int64_t* ids, int64_t n, const T* grad_out, int64_t dim,
                          int64_t padding_idx, T* grad_weight) override {
    cuda::embedding_backward<T>(ids, n, grad_out, dim, padding_idx, grad_weight);
  }
  void dropout_forward(const T* x, int64_t n, double p, T scale, uint64_t seed, uint64_t base,
                       T* out, bool* mask) override {
    cuda::dropout_forward<T>(x, n, p, scale, seed, base, out, mask);
  }
  void dropout_backward(const T* grad_out, const bool* mask, int64_t n, T scale,
                        T* grad_in) override {
    cuda::dropout_backward<T>(grad_out, mask, n, scale, grad_in);
  }
  void cross_entropy_forward(const T* logits, int64_t rows, int64_t classes,
                             const int64_t* targets, int64_t ignore_index, double label_smoothing,
                             T* loss, T* row_max, T* row_logsum) override {
    cuda::cross_entropy_forward<T>(logits, rows, classes, targets, ignore_index, label_smoothing,
                                   loss, row_max, row_logsum);
  }
  void cross_entropy_backward(const T* logits, int64_t rows, int64_t classes,
                              const int64_t* targets, int64_t ignore_index,
                              double label_smoothing, const T* row_max, const T* row_logsum,
                              const T* scale, int64_t scale_stride, T* grad) override {
    cuda::cross_entropy_backward<T>(logits, rows, classes, targets, ignore_index, label_smoothing,
                                    row_max, row_logsum, scale, scale_stride, grad);
  }
  bool attention_fits(int64_t head_dim) override { return cuda::attention_fits<T>(head_dim); }
  void attention_forward(const AttentionParams<T>& p, const AttentionOperand<T>& out, T* row_max,
                         T* row_logsum) override {
    cuda::attention_forward<T>(p, out, row_max, row_logsum);
  }
  void attention_backward(const AttentionParams<T>& p, const AttentionOperand<const T>& out,
                          const AttentionOperand<const T>& grad_out, const T* row_max,
                          const T* row_logsum, T* delta, const AttentionOperand<T>& dq,
                          const AttentionOperand<T>& dk, const AttentionOperand<T>& dv) override {
    cuda::attention_backward<T>(p, out, grad_out, row_max, row_logsum, delta, dq, dk, dv);
  }

  // ---- optimizers ----
  void adam_update(int64_t n, T* p, const T* g, T* m, T* v, T* vmax,
                   const cpu::AdamCoeffs<T>& c) override {
    cuda::adam_update<T>(n, p, g, m, v, vmax, c);
  }
  void sgd_update(int64_t n, T* p, const T* g, T* buf, bool first,
                  const cpu::SgdCoeffs<T>& c) override {
    cuda::sgd_update<T>(n, p, g, buf, first, c);
  }

  // ---- multi-tensor launches (multi_tensor.cuh) ----
  double norm_pow_multi(const TensorSpan<T>* xs, int64_t count, double p) override {
    return cuda::norm_pow_multi<T>(xs, count, p);
  }
  void scale_inplace_multi(const TensorSpan<T>* xs, int64_t count, T s) override {
    cuda::scale_inplace_multi<T>(xs, count, s);
  }
  void adam_update_multi(const AdamTensor<T>* tensors, int64_t count,
                         const AdamSegment<T>* segments, int64_t num_segments) override {
    cuda::adam_update_multi<T>(tensors, count, segments, num_segments);
  }
};

namespace detail {

/// The DeviceCopyFn of tensor/tensor.hpp (`Tensor::to(Device)`): the runtime's synchronous copy.
inline void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev,
                        std::size_t nbytes) {
  runtime_slot()->copy(dst, dst_dev, src, src_dev, nbytes);
}

/// Puts the CUDA backend into the slots host code reads: the runtime, the float and double
/// kernel tables, the device allocator and the device copy. Makes no CUDA call (a program must
/// start on a machine without a GPU); the objects are never destroyed (tensors may outlive
/// static destructors). Idempotent.
inline bool install() {
  if (runtime_slot() != nullptr) return true;
  runtime_slot() = new CudaRuntimeImpl();
  kernels_slot<float>() = new CudaKernelsImpl<float>();
  kernels_slot<double>() = new CudaKernelsImpl<double>();
  ember::detail::cuda_allocator_slot() = &cuda_allocator();
  ember::detail::device_copy_slot() = &device_copy;
  return true;
}

}  // namespace detail

}  // namespace ember::backend::cuda
