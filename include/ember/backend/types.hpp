// ember/backend/types.hpp — the plain structs and codes through which ops talk to kernels, on
// every backend: array layouts, operation codes, the masked-softmax mask, fused attention's
// problem, optimizer coefficients, multi-tensor spans and GEMM arguments.
//
// Plain C++ that g++ and nvcc both compile (no CUDA, no Eigen, no Tensor): backend/kernel_list.hpp
// declares the kernels over these types, backend/cpu/ and backend/cuda/ implement them, and the
// ops (the layer above) fill them in from tensors. Device pointers and host pointers look the
// same here; the table a pointer goes to decides which one it is (backend/backend.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <ember/core/dtype.hpp>  // EMBER_HOST_DEVICE
#include <ember/core/error.hpp>
#include <ember/core/shape.hpp>

namespace ember {
class DerivedSlot;  // core/storage.hpp: where a kernel keeps a form derived from a buffer
}  // namespace ember

namespace ember::cuda {
/// How fp32 matrix products may compute on the GPU (PyTorch's
/// `torch.set_float32_matmul_precision`, same names and meaning). Inputs and outputs stay fp32
/// tensors in every mode; only the multiply inside cuBLAS changes. Products accumulate in fp32.
///   highest  true fp32 (the default): results match the CPU to ~1e-6 relative.
///   high     TF32 tensor cores: inputs rounded to a 10-bit mantissa; ~1e-3 relative.
///   medium   bf16 tensor cores (CUBLAS_COMPUTE_32F_FAST_16BF): inputs rounded to an 8-bit
///            mantissa; ~1e-2 relative; the fastest, and what `--bf16` of the example selects.
/// double GEMMs are always computed in double. The CPU ignores it (its products are fp32).
enum class MatmulPrecision : int { highest, high, medium };
}  // namespace ember::cuda

namespace ember::backend {

using ember::cuda::MatmulPrecision;

/// Most dims a kernel's Layout holds (the layout travels by value, to GPU kernels too). Ops
/// throw `ember::Error` above it.
inline constexpr int kMaxDims = 8;

/// Sizes and element strides of an operand, passed by value to kernels. Stride 0 = broadcast.
struct Layout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= sizes[d];
    return n;
  }
  /// True when the strides are the row-major strides of the sizes (size-1 dims ignored).
  bool is_contiguous() const {
    int64_t expected = 1;
    for (int d = ndim - 1; d >= 0; --d) {
      if (sizes[d] == 1) continue;
      if (strides[d] != expected) return false;
      expected *= sizes[d];
    }
    return true;
  }
  Shape shape() const { return Shape(sizes, sizes + ndim); }
  Shape stride_shape() const { return Shape(strides, strides + ndim); }
};

/// The Layout of `shape` read at `strides`; throws beyond kMaxDims dims.
inline Layout make_layout(const Shape& shape, const Shape& strides, const char* op) {
  EMBER_CHECK(shape.size() <= kMaxDims, op, ": kernels take at most ", kMaxDims,
              " dims, found a tensor of shape ", shape);
  Layout l;
  l.ndim = static_cast<int>(shape.size());
  for (int d = 0; d < l.ndim; ++d) {
    l.sizes[d] = shape[d];
    l.strides[d] = strides[d];
  }
  return l;
}

/// Unary elementwise functions y = f(x; s) (s: the scalar parameter where one is needed).
/// The math of each code is in backend/functors.hpp, shared by every backend.
enum class UnaryCode : int { add_scalar, mul_scalar, exp, log, sqrt, rsqrt, tanh, relu, pow };

/// Binary elementwise functions z = f(x, y; s). The `*_grad` codes are the derivatives of the
/// unary functions expressed through x and y = f(x) (ops/elementwise.hpp's `unary_op`).
enum class BinaryCode : int {
  add, sub, mul, div, neg_mul,
  exp_grad, log_grad, sqrt_grad, rsqrt_grad, tanh_grad, relu_grad, pow_grad
};

/// Comparisons against a scalar, producing bool.
enum class CompareCode : int { eq, ne, gt, lt, ge, le };

/// Where the additive attention mask row of score row r lives (ops/softmax.hpp): with `full`, at
/// mask + r·n; otherwise at mask + (b·mask_q + q)·n with b = mask_b == 1 ? 0 : r / per_batch and
/// q = mask_q == 1 ? 0 : r % sq. `mask` null = no mask.
template <class T>
struct MaskRows {
  const T* mask = nullptr;
  bool full = false;
  int64_t per_batch = 1, sq = 1, mask_b = 1, mask_q = 1;

  /// The mask row of score row r (n elements), or null without a mask.
  EMBER_HOST_DEVICE const T* row(int64_t r, int64_t n) const {
    if (mask == nullptr) return nullptr;
    if (full) return mask + r * n;
    const int64_t b = mask_b == 1 ? 0 : r / per_batch, q = mask_q == 1 ? 0 : r % sq;
    return mask + (b * mask_q + q) * n;
  }
};

/// Largest head dim the fused attention kernels take (ops/attention.hpp falls back above it).
inline constexpr int64_t kMaxAttentionHeadDim = 128;

/// One [batch, heads, seq, head_dim] operand of fused attention: element (b, h, i, c) at
/// data[b·sb + h·sh + i·ss + c] (the head dim dense; any other strides, 0 included). T is
/// `const U` for the inputs.
template <class T>
struct AttentionOperand {
  T* data = nullptr;
  int64_t sb = 0, sh = 0, ss = 0;
};

/// The problem of fused attention (ops/attention.hpp), per (b, h):
///   out = dropout(softmax(q kᵀ / divisor + mask)) v
/// q [batch, heads, seq_q, head_dim], k and v [batch, heads, seq_k, head_dim], head_dim ≤
/// kMaxAttentionHeadDim. `mask`: null, or the additive mask, element (b, h, i, j) at
/// mask[b·s0 + h·s1 + i·s2 + j·s3] with s = mask_strides (0 along broadcast dims).
/// Dropout when dropout_p > 0 (< 1): the probability with flat index
/// f = ((b·heads + h)·seq_q + i)·seq_k + j is kept by word f % 4 of Philox block base + f / 4
/// under seed — dropout_forward's rule over the contiguous probabilities — and scaled by 1/(1 − p).
template <class T>
struct AttentionParams {
  int64_t batch = 0, heads = 0, seq_q = 0, seq_k = 0, head_dim = 0;
  AttentionOperand<const T> q, k, v;
  const T* mask = nullptr;
  int64_t mask_strides[4] = {};
  T divisor = T(1);
  double dropout_p = 0.0;
  uint64_t seed = 0, base = 0;
};

// ---- optimizers (the update rules are in backend/cpu/optimizer.hpp's header comment) ----------

/// SGD hyperparameters, already rounded to T as PyTorch rounds them.
template <class T>
struct SgdCoeffs {
  T neg_lr;                  ///< −lr
  T weight_decay;            ///< used when has_weight_decay
  T momentum;                ///< μ, used when has_momentum
  T one_minus_dampening;     ///< 1 − dampening
  bool has_weight_decay;     ///< weight_decay != 0
  bool has_momentum;         ///< momentum != 0
  bool nesterov;
};

/// Adam/AdamW hyperparameters for one step t, already rounded to T as PyTorch rounds them.
template <class T>
struct AdamCoeffs {
  T beta1, one_minus_beta1;  ///< β1, 1 − β1
  T beta2, one_minus_beta2;  ///< β2, 1 − β2
  T l2;                      ///< Adam's weight decay added to the gradient (when has_l2)
  T decay;                   ///< AdamW's factor 1 − lr·wd (when has_decay)
  T bias_correction2_sqrt;   ///< sqrt(1 − β2^t)
  T eps;
  T neg_step_size;           ///< −lr / (1 − β1^t)
  bool has_l2;
  bool has_decay;
  bool amsgrad;

  /// The coefficients of step `t` (1-based) of Adam (`decoupled` false: L2 weight decay added to
  /// the gradient) or AdamW (decoupled decay p ← p·(1 − lr·wd)), rounded to T as PyTorch does.
  static AdamCoeffs make(double lr, double beta1, double beta2, double eps, double wd,
                         bool decoupled, bool amsgrad, double t) {
    const double bias_correction1 = 1.0 - std::pow(beta1, t);
    const double bias_correction2 = 1.0 - std::pow(beta2, t);
    AdamCoeffs c;
    c.beta1 = T(beta1);
    c.one_minus_beta1 = T(1.0 - beta1);
    c.beta2 = T(beta2);
    c.one_minus_beta2 = T(1.0 - beta2);
    c.l2 = T(wd);
    c.decay = T(1.0 - lr * wd);
    c.bias_correction2_sqrt = T(std::sqrt(bias_correction2));
    c.eps = T(eps);
    c.neg_step_size = T(-(lr / bias_correction1));
    c.has_l2 = !decoupled && wd != 0.0;
    c.has_decay = decoupled && wd != 0.0;
    c.amsgrad = amsgrad;
    return c;
  }
};

/// One parameter of a multi-tensor Adam/AdamW step: pointers to `numel` contiguous elements each
/// (`max_exp_avg_sq` null unless amsgrad). numel may be 0.
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
/// parameters of one group at the same step count: one launch each on the GPU).
template <class T>
struct AdamSegment {
  int64_t begin;
  int64_t end;
  AdamCoeffs<T> coeffs;
};

/// `numel` contiguous elements (a gradient, for clip_grad_norm_). Not const: the same list
/// serves the norm (which only reads) and the scaling that follows it.
template <class T>
struct TensorSpan {
  T* data;
  int64_t numel;
};

// ---- matrix products ------------------------------------------------------------------------------

/// How GEMM reads a rows×cols operand with strides (rs, cs).
struct GemmLayout {
  bool row_major = true;  ///< true: element (i, j) at i·ld + j; false: at i + j·ld
  int64_t ld = 1;         ///< leading dimension, ≥ max(1, inner extent)
};

/// Classifies an operand: row-major when cs == 1, column-major when rs == 1 (a size-1 dim may
/// have any stride). Returns false when neither applies (e.g. a stride-0 broadcast inside the
/// matrix, or a slice with a step along the last dim): the caller must copy it.
inline bool gemm_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, GemmLayout* out) {
  const int64_t cols1 = std::max<int64_t>(cols, 1), rows1 = std::max<int64_t>(rows, 1);
  if (cs == 1 || cols <= 1) {
    int64_t ld = rows <= 1 ? cols1 : rs;
    if (ld >= cols1) {
      *out = {true, ld};
      return true;
    }
  }
  if (rs == 1 || rows <= 1) {
    int64_t ld = cols <= 1 ? rows1 : cs;
    if (ld >= rows1) {
      *out = {false, ld};
      return true;
    }
  }
  return false;
}

/// True when dims [first, last) of (sizes, strides) can be read as ONE dim (their index
/// row-major) at a single stride, i.e. each non-1 dim's stride is the next inner non-1 dim's
/// stride times its size; *stride is then set to the innermost non-1 dim's stride (left
/// unchanged when every dim is 1).
inline bool collapse_dims(const int64_t* sizes, const int64_t* strides, int first, int last,
                          int64_t* stride) {
  int64_t expected = 0;
  bool seen = false;
  for (int d = last - 1; d >= first; --d) {
    if (sizes[d] == 1) continue;
    if (!seen) {
      *stride = strides[d];
      seen = true;
    } else if (strides[d] != expected) {
      return false;
    }
    expected = strides[d] * sizes[d];
  }
  return true;
}

/// Element offset of batch entry `idx` (row-major over `sizes[0, ndim)`) under `strides`.
inline int64_t batch_offset(int64_t idx, int ndim, const int64_t* sizes, const int64_t* strides) {
  int64_t off = 0;
  for (int d = ndim - 1; d >= 0 && idx > 0; --d) {
    const int64_t s = sizes[d];
    off += (idx % s) * strides[d];
    idx /= s;
  }
  return off;
}

/// The batch of a GEMM: entry e (row-major over sizes) reads A at a + offset(e, a), B at
/// b + offset(e, b) and writes C at c + offset(e, c) (batch_offset; a stride of 0 repeats the
/// same matrix; the C entries must not overlap). ndim 0: one product.
struct GemmBatch {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t a[kMaxDims] = {}, b[kMaxDims] = {}, c[kMaxDims] = {};

  int64_t count() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= sizes[d];
    return n;
  }
};

/// One GEMM (or a batch of them): C[m, n] = α·A[m, k]·B[k, n] + β·C (+ bias), C row-major with
/// leading dim ldc, element (i, j) of A at a[i·a_rs + j·a_cs] (B likewise); A and B must be
/// accepted by `gemm_layout`. β == 0 overwrites C without reading it. `bias` (n elements, or null)
/// is added to every row of the result: the epilogue of a linear layer (needs β == 0).
/// `b_derived` (or null): where a backend may keep a packed copy of B and reuse it while B's
/// storage version stays `b_version` — set by `linear` for inference calls (no autograd graph),
/// whose weights do not change between calls (backend/cpu/packed_gemm.hpp; the CUDA backend
/// ignores it). `int8_dynamic`: run the product in int8, W quantized per output channel once (kept
/// in `b_derived`, which it needs) and A per row at run time (backend/cpu/int8_gemm.hpp; CPU
/// only, inference only: set by `linear_dynamic_int8`).
template <class T>
struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  T alpha = T(1), beta = T(0);
  const T* a = nullptr;
  int64_t a_rs = 0, a_cs = 0;
  const T* b = nullptr;
  int64_t b_rs = 0, b_cs = 0;
  T* c = nullptr;
  int64_t ldc = 0;
  const T* bias = nullptr;
  GemmBatch batch;
  DerivedSlot* b_derived = nullptr;
  uint64_t b_version = 0;
  bool int8_dynamic = false;
};

}  // namespace ember::backend
