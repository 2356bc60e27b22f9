// ember/backend/kernel_list.hpp — every backend kernel, declared once.
//
// An op reaches a kernel only through a table: `backend::kernels<T>(device, op).softmax_forward(
// ...)` (backend/backend.hpp). The table's entries are declared here, each ONCE, by the X-macro
// lists below: `X(return type, name, (parameters))`. From the lists come
//   * `Kernels<T>`, a struct of function pointers (one member per entry), and
//   * each backend's table: backend/cpu/kernels.hpp writes `&cpu::name<T>` into every member,
//     backend/cuda/kernels.cuh writes `&cuda::name<T>` — so a backend whose kernel has another
//     signature does not compile, and a missing kernel is a compile error, not a run-time one.
// Adding a kernel = one line here + one implementation per backend (docs/architecture.md).
//
// A backend may hold several implementations of an entry and choose one at run time: the table
// is filled once, at first use, by code that can look at the machine first (the CPU's ISA, the
// GPU's shared memory) and write the pointer of the variant it picked.
//
// Kernels see pointers, sizes, strides and the small structs of backend/types.hpp — never a
// Tensor — and never check user input (the ops do, once). Pointers are device memory for the
// CUDA table and host memory for the CPU one. Nothing synchronizes unless it says so.
//
// Two lists: EMBER_KERNELS_ANY_DTYPE holds the kernels that exist for every element type
// (comparisons and selections, used on integer ids and bool masks too); EMBER_KERNELS_FLOAT the
// math, for float and double. A table whose backend lacks an entry for T (the CUDA backend has
// float and double kernels only) leaves it null, and the op falls back (usually to the host).
#pragma once

#include <cstddef>
#include <cstdint>

#include <ember/backend/types.hpp>

// clang-format off
#define EMBER_KERNELS_ANY_DTYPE(X)                                                                 \
  /* out[i] = a[i] <code> v (a at layout al; out contiguous row-major over al's sizes). */        \
  X(void, compare, (CompareCode code, double v, const T* a, const Layout& al, bool* out))          \
  /* out[i] = mask[i] ? value : a[i]; a, mask at layouts already broadcast to out's sizes. */     \
  X(void, masked_fill, (const T* a, const Layout& al, const bool* mask, const Layout& ml,          \
                        double value, T* out))                                                     \
  /* out[i] = cond[i] ? a[i] : b[i], layouts broadcast to out's sizes. */                           \
  X(void, where, (const bool* cond, const Layout& cl, const T* a, const Layout& al, const T* b,    \
                  const Layout& bl, T* out))

#define EMBER_KERNELS_FLOAT(X)                                                                     \
  /* ---- elementwise (out contiguous row-major over the layout's sizes; functors.hpp) ---- */      \
  X(void, unary, (UnaryCode code, double s, const T* a, const Layout& al, T* out))                 \
  X(void, binary, (BinaryCode code, double s, const T* a, const Layout& al, const T* b,            \
                   const Layout& bl, T* out))                                                      \
  /* ---- reductions ---- */                                                                       \
  /* out[o] = scale · Σ x over the dims whose bit is set in reduce_mask, accumulated in double;   \
     out row-major over the kept dims. */                                                          \
  X(void, reduce_sum, (const T* x, const Layout& xl, uint32_t reduce_mask, double scale, T* out))  \
  /* The reverse of broadcasting, for autograd: out (in's sizes with the masked dims 1,           \
     contiguous) = Σ in over the masked dims, accumulated in T; in contiguous. */                  \
  X(void, sum_to, (const T* in, const Layout& il, uint32_t reduce_mask, T* out))                   \
  /* out[j] = Σ_i a[i·lda + j] for a row-major [rows, cols] a: a linear layer's bias gradient. */  \
  X(void, sum_rows, (int64_t rows, int64_t cols, const T* a, int64_t lda, T* out))                  \
  /* Max (and its first index; NaN wins) along the middle dim of contiguous [outer, n, inner];     \
     either output may be null. */                                                                 \
  X(void, max_along, (const T* x, int64_t outer, int64_t n, int64_t inner, T* values,             \
                      int64_t* indices))                                                           \
  /* Σ |x|^p over the concatenation of `count` spans (max |x| when p is +∞), in double, fixed      \
     order; returned to the host (synchronizes). */                                                \
  X(double, norm_pow_multi, (const TensorSpan<T>* xs, int64_t count, double p))                    \
  X(void, scale_inplace_multi, (const TensorSpan<T>* xs, int64_t count, T s))                      \
  /* ---- matrix products (GemmArgs: one product or a batch, optional bias epilogue) ---- */       \
  X(void, gemm, (const GemmArgs<T>& args))                                                          \
  /* ---- the Transformer kernels ---- */                                                          \
  X(void, softmax_forward, (const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log))  \
  X(void, softmax_backward, (const T* y, const T* dy, T* dx, int64_t outer, int64_t n,            \
                             int64_t inner, bool log))                                             \
  X(void, scaled_masked_softmax_forward, (const T* x, T* y, int64_t rows, int64_t n, T divisor,   \
                                          const MaskRows<T>& mask))                                \
  X(void, scaled_masked_softmax_backward, (const T* y, const T* dy, T* dx, int64_t rows,          \
                                           int64_t n, T divisor))                                  \
  X(void, layer_norm_forward, (const T* x, const T* w, const T* b, T* y, double* mean,            \
                               double* rstd, int64_t rows, int64_t n, double eps))                 \
  X(void, layer_norm_backward, (const T* dy, const T* x, const double* mean, const double* rstd,  \
                                const T* w, T* dx, T* dw, T* db, int64_t rows, int64_t n))         \
  X(void, gelu_forward, (const T* x, T* y, int64_t n, bool approximate_tanh))                      \
  X(void, gelu_backward, (const T* dy, const T* x, T* dx, int64_t n, bool approximate_tanh))       \
  /* gelu(x + bias) over contiguous [rows, n] x with bias [n]; backward: dx = dy · gelu'(x + bias).*/\
  X(void, bias_gelu_forward, (const T* x, const T* bias, T* y, int64_t rows, int64_t n,           \
                              bool approximate_tanh))                                              \
  X(void, bias_gelu_backward, (const T* dy, const T* x, const T* bias, T* dx, int64_t rows,       \
                               int64_t n, bool approximate_tanh))                                  \
  /* ids contiguous [n]; weight rows at stride ws0, elements at ws1; out contiguous [n, dim]. */  \
  X(void, embedding_forward, (const int64_t* ids, int64_t n, const T* weight, int64_t ws0,        \
                              int64_t ws1, int64_t dim, T* out))                                   \
  /* grad_weight (zeroed by the caller) += rows of grad_out; ids == padding_idx skipped. */        \
  X(void, embedding_backward, (const int64_t* ids, int64_t n, const T* grad_out, int64_t dim,     \
                               int64_t padding_idx, T* grad_weight))                               \
  /* Element i keeps by word i % 4 of Philox block base + i / 4 (core/generator.hpp). */          \
  X(void, dropout_forward, (const T* x, int64_t n, double p, T scale, uint64_t seed,              \
                            uint64_t base, T* out, bool* mask))                                    \
  X(void, dropout_backward, (const T* grad_out, const bool* mask, int64_t n, T scale, T* grad_in))\
  /* Per-row loss, max and log-sum-exp − max (backend/cpu/cross_entropy.hpp). */                   \
  X(void, cross_entropy_forward, (const T* logits, int64_t rows, int64_t classes,                 \
                                  const int64_t* targets, int64_t ignore_index,                    \
                                  double label_smoothing, T* loss, T* row_max, T* row_logsum))     \
  X(void, cross_entropy_backward, (const T* logits, int64_t rows, int64_t classes,                \
                                   const int64_t* targets, int64_t ignore_index,                   \
                                   double label_smoothing, const T* row_max,                       \
                                   const T* row_logsum, const T* scale, int64_t scale_stride,      \
                                   T* grad))                                                       \
  /* Fused attention (AttentionParams): whether this backend has it for head_dim on this device,  \
     and its forward (out and the softmax row statistics) and backward (delta: a workspace of     \
     batch·heads·seq_q elements). */                                                               \
  X(bool, attention_fits, (int64_t head_dim))                                                       \
  X(void, attention_forward, (const AttentionParams<T>& p, const AttentionOperand<T>& out,        \
                              T* row_max, T* row_logsum))                                          \
  X(void, attention_backward, (const AttentionParams<T>& p, const AttentionOperand<const T>& out, \
                               const AttentionOperand<const T>& grad_out, const T* row_max,        \
                               const T* row_logsum, T* delta, const AttentionOperand<T>& dq,       \
                               const AttentionOperand<T>& dk, const AttentionOperand<T>& dv))      \
  /* ---- optimizers: one fused pass per parameter ---- */                                         \
  /* Adam/AdamW over `count` parameters, the entries of each segment with its coefficients. */    \
  X(void, adam_update_multi, (const AdamTensor<T>* tensors, int64_t count,                         \
                              const AdamSegment<T>* segments, int64_t num_segments))               \
  X(void, sgd_update, (int64_t n, T* p, const T* g, T* buf, bool first, const SgdCoeffs<T>& c))
// clang-format on

namespace ember::backend {

#define EMBER_KERNEL_MEMBER(ret, name, params) ret(*name) params = nullptr;

/// The kernels of one backend for element type T: one function pointer per entry of the lists
/// above (null where the backend has no kernel for T).
template <class T>
struct Kernels {
  EMBER_KERNELS_ANY_DTYPE(EMBER_KERNEL_MEMBER)
  EMBER_KERNELS_FLOAT(EMBER_KERNEL_MEMBER)
};

#undef EMBER_KERNEL_MEMBER

}  // namespace ember::backend
