// ember/backend/cuda/interface.hpp — the CUDA backend as host code sees it: two tables of entry
// points (`CudaRuntime`, `CudaKernels<T>`) that ops call for CUDA tensors.
//
// Why a table: ember is header-only and a CPU-only program must never need the CUDA toolkit
// (ARCHITECTURE.md, decision 4). The ops are templates compiled by whatever compiler the user's
// translation unit has (g++ for most of them); kernel launches need nvcc. So the ops call these
// abstract classes, and <ember/cuda.hpp> — included in one translation unit compiled by nvcc —
// defines the implementations (backend/cuda/*.cuh) and installs them at static-initialization
// time. A program without that TU gets a clear `ember::Error` the first time it touches a CUDA
// tensor ("built without ember's CUDA backend"), never a link error.
//
// This file is plain C++ (g++ and nvcc both compile it); it declares no kernels. Every pointer
// argument is device memory. Launches go to the current stream of the current device
// (`ember::cuda::current_stream()` in <ember/cuda.hpp>); nothing here synchronizes unless it says
// so (`copy`, `norm_pow`, `norm_pow_multi` and `embedding_backward` do). Like the CPU kernels,
// these entry points never check user input — the ops do (decision 3). One GPU: storage and
// kernels use the current device (device 0 unless the program changes it); `cuda:1` tensors are
// not supported yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <ember/core/device.hpp>
#include <ember/core/error.hpp>
#include <ember/core/shape.hpp>
#include <ember/core/storage.hpp>
#include <ember/backend/cpu/optimizer.hpp>  // AdamCoeffs, SgdCoeffs (plain structs)
#include <ember/backend/cuda/multi_tensor.hpp>  // AdamTensor, AdamSegment, TensorSpan

namespace ember::backend::cuda {

/// Most dims a CUDA elementwise/reduction kernel accepts (the layout travels by value to the
/// kernel). Ops throw `ember::Error` above it.
inline constexpr int kMaxDims = 8;

/// Sizes and element strides of an operand, passed by value to kernels. Stride 0 = broadcast.
struct Layout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
};

/// The Layout of `shape` read at `strides`; throws beyond kMaxDims dims.
inline Layout make_layout(const Shape& shape, const Shape& strides, const char* op) {
  EMBER_CHECK(shape.size() <= kMaxDims, op, ": CUDA kernels take at most ", kMaxDims,
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
/// The math of each code is in backend/functors.hpp, shared with the CPU kernels.
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

/// The problem of fused attention (backend/cuda/attention.cuh, ops/attention.hpp), per (b, h):
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

}  // namespace ember::backend::cuda

namespace ember::cuda {
/// How fp32 matrix products may compute on the GPU (PyTorch's
/// `torch.set_float32_matmul_precision`, same names and meaning). Inputs and outputs stay fp32
/// tensors in every mode; only the multiply inside cuBLAS changes. Products accumulate in fp32.
///   highest  true fp32 (the default): results match the CPU to ~1e-6 relative.
///   high     TF32 tensor cores: inputs rounded to a 10-bit mantissa; ~1e-3 relative.
///   medium   bf16 tensor cores (CUBLAS_COMPUTE_32F_FAST_16BF): inputs rounded to an 8-bit
///            mantissa; ~1e-2 relative; the fastest, and what `--bf16` of the example selects.
/// double GEMMs are always computed in double.
enum class MatmulPrecision : int { highest, high, medium };
}  // namespace ember::cuda

namespace ember::backend::cuda {

using ember::cuda::MatmulPrecision;

/// Dtype-independent services: devices, streams, copies, fills, statistics.
class CudaRuntime {
 public:
  virtual ~CudaRuntime() = default;
  /// Number of usable CUDA devices (0 when the driver or device is missing; never throws).
  virtual int device_count() = 0;
  /// Name of device `index` ("NVIDIA H200").
  virtual const char* device_name(int index) = 0;
  /// Blocks until all work queued on `device` has finished.
  virtual void synchronize(int device) = 0;
  /// Copies nbytes between any two of host and device memory (synchronous: returns when the
  /// bytes are in place, so host buffers may be reused at once).
  virtual void copy(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t nbytes) = 0;
  /// out[i] = value for `numel` elements of `elem_size` bytes (1, 2, 4 or 8) at layout `out`.
  virtual void fill(int device, void* out, const Layout& layout, const void* value, int elem_size) = 0;
  /// Strided copy of elements of `elem_size` bytes: dst at `dst_layout` strides (when it has
  /// src's number of dims; otherwise dst is contiguous row-major over src's sizes) ← src at
  /// `src_layout` strides.
  virtual void copy_strided(int device, const void* src, const Layout& src_layout, void* dst,
                            const Layout& dst_layout, int elem_size) = 0;
  /// The caching allocator's statistics for `device`.
  virtual MemoryStats memory_stats(int device) = 0;
  /// `nbytes` of page-locked ("pinned") host memory, which the GPU reads and writes by DMA
  /// without a staging copy (cudaHostAlloc behind a cache: backend/cuda/pinned.cuh); throws
  /// `ember::Error` when it cannot be had.
  virtual void* allocate_pinned(std::size_t nbytes) = 0;
  /// Returns a block of allocate_pinned to the cache. Never throws.
  virtual void free_pinned(void* p) noexcept = 0;
  /// Returns the cached (free) blocks of every device, and of pinned host memory, to the driver.
  virtual void empty_cache() = 0;
  /// The internal precision of fp32 GEMMs (see `ember::cuda::MatmulPrecision`).
  virtual void set_float32_matmul_precision(MatmulPrecision precision) = 0;
  virtual MatmulPrecision float32_matmul_precision() = 0;
};

/// The math kernels for one scalar type (float and double are installed).
template <class T>
class CudaKernels {
 public:
  virtual ~CudaKernels() = default;

  // ---- elementwise (out contiguous row-major over the layout's sizes) ----
  virtual void unary(UnaryCode code, double s, const T* a, const Layout& al, T* out) = 0;
  /// al and bl are already broadcast to the output's sizes (stride 0 on broadcast dims).
  virtual void binary(BinaryCode code, double s, const T* a, const Layout& al, const T* b,
                      const Layout& bl, T* out) = 0;
  virtual void compare(CompareCode code, double v, const T* a, const Layout& al, bool* out) = 0;
  /// out[i] = mask[i] ? value : a[i] (masked_fill) or, with `where`, cond ? a : b.
  virtual void masked_fill(const T* a, const Layout& al, const bool* mask, const Layout& ml,
                           double value, T* out) = 0;
  virtual void where(const bool* cond, const Layout& cl, const T* a, const Layout& al, const T* b,
                     const Layout& bl, T* out) = 0;

  // ---- reductions ----
  /// out[o] = scale · Σ x over the dims whose bit is set in `reduce_mask`, accumulated in double
  /// (as the CPU kernel); `out` is row-major over the kept dims (their numel entries).
  virtual void reduce_sum(const T* x, const Layout& xl, uint32_t reduce_mask, double scale,
                          T* out) = 0;
  /// Max along the middle dim of contiguous [outer, n, inner] (n ≥ 1); either output may be null.
  virtual void max_along(const T* x, int64_t outer, int64_t n, int64_t inner, T* values,
                         int64_t* indices) = 0;
  /// Σ |x|^p (p = 1 or 2 exactly, else general) over n contiguous elements, returned to the host
  /// in double (synchronizes); max |x| when p is +∞.
  virtual double norm_pow(const T* x, int64_t n, double p) = 0;
  virtual void scale_inplace(T* x, int64_t n, T s) = 0;
  /// norm_pow over the concatenation of `count` tensors: one multi-tensor reduction (fixed
  /// per-chunk partials combined in a fixed order, in double) and one synchronization.
  virtual double norm_pow_multi(const TensorSpan<T>* xs, int64_t count, double p) = 0;
  /// scale_inplace of `count` tensors in one launch.
  virtual void scale_inplace_multi(const TensorSpan<T>* xs, int64_t count, T s) = 0;

  // ---- matrix products (cuBLAS) ----
  /// Row-major batched GEMM: C_i[m, n] = α·op(A_i)·op(B_i) + β·C_i for i < batch, op(X) = X or
  /// Xᵀ; lda/ldb/ldc are row-major leading dims; stride_* the element distance between batch
  /// entries (0 = the same matrix for every entry; not allowed for C when batch > 1).
  virtual void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                    const T* a, int64_t lda, int64_t stride_a, const T* b, int64_t ldb,
                    int64_t stride_b, T beta, T* c, int64_t ldc, int64_t stride_c,
                    int64_t batch) = 0;
  /// out[r, :] = x[r, :] + bias (x and out contiguous [rows, n]; may alias).
  virtual void add_bias(const T* x, const T* bias, T* out, int64_t rows, int64_t n) = 0;

  // ---- the Transformer kernels (semantics as the backend/cpu/ kernel of the same name) ----
  virtual void softmax_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) = 0;
  virtual void softmax_backward(const T* y, const T* dy, T* dx, int64_t outer, int64_t n,
                                int64_t inner, bool log) = 0;
  virtual void scaled_masked_softmax_forward(const T* x, T* y, int64_t rows, int64_t n,
                                             T divisor, const MaskRows<T>& mask) = 0;
  virtual void scaled_masked_softmax_backward(const T* y, const T* dy, T* dx, int64_t rows,
                                              int64_t n, T divisor) = 0;
  virtual void layer_norm_forward(const T* x, const T* w, const T* b, T* y, double* mean,
                                  double* rstd, int64_t rows, int64_t n, double eps) = 0;
  virtual void layer_norm_backward(const T* dy, const T* x, const double* mean, const double* rstd,
                                   const T* w, T* dx, T* dw, T* db, int64_t rows, int64_t n) = 0;
  virtual void gelu_forward(const T* x, T* y, int64_t n, bool approximate_tanh) = 0;
  virtual void gelu_backward(const T* dy, const T* x, T* dx, int64_t n, bool approximate_tanh) = 0;
  /// ids contiguous [n]; weight rows at stride ws0, elements at ws1; out contiguous [n, dim].
  virtual void embedding_forward(const int64_t* ids, int64_t n, const T* weight, int64_t ws0,
                                 int64_t ws1, int64_t dim, T* out) = 0;
  /// grad_weight [num_embeddings, dim] (zeroed by the caller) += scatter of grad_out rows;
  /// rows with id == padding_idx are skipped.
  virtual void embedding_backward(const int64_t* ids, int64_t n, const T* grad_out, int64_t dim,
                                  int64_t padding_idx, T* grad_weight) = 0;
  /// Same mask as the CPU for the same (seed, base): element i uses word i % 4 of Philox block
  /// base + i / 4 (core/generator.hpp).
  virtual void dropout_forward(const T* x, int64_t n, double p, T scale, uint64_t seed,
                               uint64_t base, T* out, bool* mask) = 0;
  virtual void dropout_backward(const T* grad_out, const bool* mask, int64_t n, T scale,
                                T* grad_in) = 0;
  /// Per-row loss, max and log-sum-exp − max (as backend/cpu/cross_entropy.hpp).
  virtual void cross_entropy_forward(const T* logits, int64_t rows, int64_t classes,
                                     const int64_t* targets, int64_t ignore_index,
                                     double label_smoothing, T* loss, T* row_max, T* row_logsum) = 0;
  virtual void cross_entropy_backward(const T* logits, int64_t rows, int64_t classes,
                                      const int64_t* targets, int64_t ignore_index,
                                      double label_smoothing, const T* row_max,
                                      const T* row_logsum, const T* scale, int64_t scale_stride,
                                      T* grad) = 0;
  /// Whether the current device has the shared memory the fused attention kernels need for
  /// `head_dim` (ops/attention.hpp takes the unfused path otherwise).
  virtual bool attention_fits(int64_t head_dim) = 0;
  /// Fused attention (FlashAttention-2 tiling, AttentionParams above): out without the
  /// [batch, heads, seq_q, seq_k] matrix; row_max and row_logsum (batch·heads·seq_q each,
  /// contiguous) are the softmax statistics backward needs.
  virtual void attention_forward(const AttentionParams<T>& p, const AttentionOperand<T>& out,
                                 T* row_max, T* row_logsum) = 0;
  /// dq, dk, dv from grad_out and the forward's out and statistics; `delta` is a workspace of
  /// batch·heads·seq_q elements. Deterministic (no atomics).
  virtual void attention_backward(const AttentionParams<T>& p, const AttentionOperand<const T>& out,
                                  const AttentionOperand<const T>& grad_out, const T* row_max,
                                  const T* row_logsum, T* delta, const AttentionOperand<T>& dq,
                                  const AttentionOperand<T>& dk, const AttentionOperand<T>& dv) = 0;

  // ---- optimizers (one fused pass over a parameter's n elements) ----
  virtual void adam_update(int64_t n, T* p, const T* g, T* m, T* v, T* vmax,
                           const cpu::AdamCoeffs<T>& c) = 0;
  virtual void sgd_update(int64_t n, T* p, const T* g, T* buf, bool first,
                          const cpu::SgdCoeffs<T>& c) = 0;
  /// adam_update of every tensor of `tensors`, each segment's entries with its coefficients:
  /// one multi-tensor launch per segment (backend/cuda/multi_tensor.cuh), bit-identical to
  /// adam_update tensor by tensor.
  virtual void adam_update_multi(const AdamTensor<T>* tensors, int64_t count,
                                 const AdamSegment<T>* segments, int64_t num_segments) = 0;
};

namespace detail {
inline CudaRuntime*& runtime_slot() {
  static CudaRuntime* r = nullptr;
  return r;
}
template <class T>
inline CudaKernels<T>*& kernels_slot() {
  static CudaKernels<T>* k = nullptr;
  return k;
}
inline const char* not_built_message() {
  return "this program was built without ember's CUDA backend (include <ember/cuda.hpp> in a "
         "translation unit compiled by nvcc and link ember::cuda)";
}
}  // namespace detail

/// True when this program contains the CUDA backend (whether or not a device is present).
inline bool backend_available() { return detail::runtime_slot() != nullptr; }

/// The runtime; throws `ember::Error` naming `op` when the program has no CUDA backend.
inline CudaRuntime& runtime(const char* op) {
  CudaRuntime* r = detail::runtime_slot();
  EMBER_CHECK(r != nullptr, op, ": ", detail::not_built_message());
  return *r;
}

/// The kernels for T; throws `ember::Error` naming `op` without a CUDA backend or when T has no
/// CUDA kernels (only float and double have them).
template <class T>
inline CudaKernels<T>& kernels(const char* op) {
  runtime(op);
  CudaKernels<T>* k = detail::kernels_slot<T>();
  EMBER_CHECK(k != nullptr, op, ": no CUDA kernels for this element type (float and double have them)");
  return *k;
}

}  // namespace ember::backend::cuda

/// The user-facing CUDA queries (PyTorch's `torch.cuda.*`). Callable from any translation unit;
/// without the CUDA backend in the program they report no device (and the others throw).
namespace ember::cuda {
/// True when the program has ember's CUDA backend — a translation unit compiled by nvcc includes
/// <ember/cuda.hpp> — whether or not a device is present (PyTorch: torch.backends.cuda.is_built()).
inline bool is_built() { return backend::cuda::backend_available(); }
/// True when the program has ember's CUDA backend and at least one usable device.
inline bool is_available() {
  return backend::cuda::backend_available() && backend::cuda::detail::runtime_slot()->device_count() > 0;
}
/// Number of usable CUDA devices (0 without the backend or a driver).
inline int device_count() {
  return backend::cuda::backend_available() ? backend::cuda::detail::runtime_slot()->device_count() : 0;
}
/// Waits for all queued work on `device`.
inline void synchronize(int device = 0) { backend::cuda::runtime("cuda::synchronize").synchronize(device); }
/// Caching-allocator statistics (bytes) of `device`: allocated, reserved, peak_allocated.
inline MemoryStats memory_stats(int device = 0) {
  return backend::cuda::runtime("cuda::memory_stats").memory_stats(device);
}
/// Returns cached, unused device blocks to the driver (`torch.cuda.empty_cache`).
inline void empty_cache() { backend::cuda::runtime("cuda::empty_cache").empty_cache(); }
/// Sets how fp32 GEMMs compute (`torch.set_float32_matmul_precision`; see MatmulPrecision).
/// Process-wide; takes effect for the next GEMM. Throws `ember::Error` without the backend.
inline void set_float32_matmul_precision(MatmulPrecision precision) {
  backend::cuda::runtime("cuda::set_float32_matmul_precision").set_float32_matmul_precision(precision);
}
/// The current fp32 GEMM precision (`torch.get_float32_matmul_precision`).
inline MatmulPrecision get_float32_matmul_precision() {
  return backend::cuda::runtime("cuda::get_float32_matmul_precision").float32_matmul_precision();
}
/// PyTorch's other spelling, `torch.backends.cuda.matmul.allow_tf32 = allow`: `high` when true,
/// `highest` when false.
inline void set_allow_tf32(bool allow) {
  set_float32_matmul_precision(allow ? MatmulPrecision::high : MatmulPrecision::highest);
}
}  // namespace ember::cuda
