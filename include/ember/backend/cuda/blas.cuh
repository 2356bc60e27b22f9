// ember/backend/cuda/blas.cuh — row-major (batched) GEMM through cuBLAS.
//
//   C_i[m, n] = α·op(A_i)·op(B_i) + β·C_i,   i < batch,   op(X) = X or Xᵀ,   all row-major
//
// Row-major onto column-major. cuBLAS is column-major: a buffer holding a row-major [r, c] matrix
// with leading dimension ld is, read column-major, the [c, r] matrix Xᵀ with the same ld. So
// ember's row-major C[m, n] is cuBLAS's column-major Cᵀ[n, m], and we ask cuBLAS for
//   Cᵀ = (op(A)·op(B))ᵀ = op(B)ᵀ·op(A)ᵀ.
// What cuBLAS sees in B's buffer is Bᵀ (column-major). If op(B) = B, then op(B)ᵀ = Bᵀ is exactly
// that buffer: no transpose (N). If op(B) = Bᵀ, then op(B)ᵀ = B, the transpose of the buffer: T.
// The same for A. Hence the call
//   gemm(op = trans_b, op = trans_a, rows = n, cols = m, inner = k, B, ldb, A, lda, C, ldc)
// with each operand keeping its own transpose flag and leading dimension, only their order and
// m/n swapped. (E.g. no transposes, A [2,3], B [3,4]: cuBLAS computes the [4,2] column-major
// product Bᵀ[4,3]·Aᵀ[3,2] = (AB)ᵀ, which is the row-major [2,4] AB in C's buffer.)
//
// Handles. One cuBLAS handle per device, created on first use (never at static initialization)
// and never destroyed (destroying it after the driver shut down at exit would crash). Before
// each call it is bound to the current stream; because cublasSetStream resets the workspace to
// cuBLAS's own pool, the workspace (32 MiB from the caching allocator, held for the process's
// lifetime and counted in memory_stats) is set again right after. The math mode is set to
// CUBLAS_DEFAULT_MATH on every call, and the precision of an fp32 product is chosen by the
// compute type of cublasGemmStridedBatchedEx instead (one place, no hidden state in the handle):
//   MatmulPrecision::highest → CUBLAS_COMPUTE_32F            true fp32
//   MatmulPrecision::high    → CUBLAS_COMPUTE_32F_FAST_TF32  TF32 tensor cores
//   MatmulPrecision::medium  → CUBLAS_COMPUTE_32F_FAST_16BF  bf16 tensor cores
// In the fast modes cuBLAS rounds A and B to the narrow type inside the kernel (no copy in
// memory) and accumulates in fp32; C stays fp32. Double products use cublasDgemmStridedBatched.
//
// Edge cases. m, n or batch == 0: nothing to do. k == 0: the product is empty and C = β·C (C = 0
// when β == 0, whatever C held, as BLAS), done by a small kernel rather than relying on how
// cuBLAS treats k == 0. Sizes and leading dims must fit in int (strides in int64): otherwise
// `ember::Error`. A leading dimension of a matrix with a single row never matters for addressing,
// so it is raised to the minimum cuBLAS validates (callers may pass anything there).
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <mutex>
#include <type_traits>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <ember/backend/cuda/allocator.cuh>
#include <ember/backend/cuda/check.cuh>
#include <ember/backend/device_runtime.hpp>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/stream.cuh>
#include <ember/core/error.hpp>

namespace ember::backend::cuda {

namespace detail {

/// The per-device cuBLAS handles and their workspaces (see the header comment).
class CublasHandles {
 public:
  static constexpr std::size_t kWorkspaceBytes = std::size_t(32) << 20;

  /// Calls f(handle) on the current device's handle, bound to `stream` with the workspace and
  /// the default math mode set, under a lock (a handle is not safe for concurrent use).
  template <class F>
  void with_handle(cudaStream_t stream, F&& f) {
    const int device = current_device();
    std::lock_guard<std::mutex> lock(mu_[device]);
    Entry& e = entries_[device];
    if (e.handle == nullptr) {
      cublasHandle_t h = nullptr;
      EMBER_CUBLAS_CHECK(cublasCreate(&h));
      e.workspace = cuda_allocator().allocate(kWorkspaceBytes);
      EMBER_CUBLAS_CHECK(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST));
      e.handle = h;
    }
    EMBER_CUBLAS_CHECK(cublasSetStream(e.handle, stream));
    EMBER_CUBLAS_CHECK(cublasSetWorkspace(e.handle, e.workspace, kWorkspaceBytes));
    EMBER_CUBLAS_CHECK(cublasSetMathMode(e.handle, CUBLAS_DEFAULT_MATH));
    f(e.handle);
  }

 private:
  struct Entry {
    cublasHandle_t handle = nullptr;
    void* workspace = nullptr;
  };
  std::mutex mu_[kMaxDevices];
  Entry entries_[kMaxDevices];
};

/// The process-wide handle table (created on first use, never destroyed).
inline CublasHandles& cublas_handles() {
  static CublasHandles* h = new CublasHandles();
  return *h;
}

/// int for cuBLAS, or `ember::Error` naming the argument.
inline int to_int(int64_t v, const char* what) {
  EMBER_CHECK(v >= 0 && v <= INT_MAX, "CUDA matmul: ", what, " = ", v,
              " does not fit the 32-bit int that cuBLAS takes");
  return static_cast<int>(v);
}

/// A row-major [rows, cols] operand's leading dim as cuBLAS validates it: ≥ cols, ≥ 1 when a
/// single row makes it irrelevant; unchanged otherwise.
inline int64_t fix_ld(int64_t ld, int64_t rows, int64_t cols) {
  if (rows <= 1) ld = std::max(ld, cols);
  return std::max<int64_t>(ld, 1);
}

/// The cuBLAS compute type of an fp32 GEMM at `precision` (see the header comment).
inline cublasComputeType_t fp32_compute_type(MatmulPrecision precision) {
  switch (precision) {
    case MatmulPrecision::high: return CUBLAS_COMPUTE_32F_FAST_TF32;
    case MatmulPrecision::medium: return CUBLAS_COMPUTE_32F_FAST_16BF;
    case MatmulPrecision::highest: break;
  }
  return CUBLAS_COMPUTE_32F;
}

}  // namespace detail

namespace kernel {

/// C_i = β·C_i (0 when β == 0) for every entry of [batch, m, n] at (stride_c, ldc, 1).
template <class T>
__global__ void gemm_scale_c(T* c, int64_t m, int64_t n, int64_t ldc, int64_t stride_c,
                             int64_t batch, T beta) {
  const int64_t total = batch * m * n;
  for (int64_t t = detail::grid_start(); t < total; t += detail::grid_step()) {
    const int64_t j = t % n, i = (t / n) % m, b = t / (m * n);
    T& v = c[b * stride_c + i * ldc + j];
    v = beta == T(0) ? T(0) : T(beta * v);
  }
}

}  // namespace kernel

namespace detail {

/// The arguments of one cuBLAS column-major strided-batched GEMM call (in cuBLAS's order).
template <class T>
struct CublasGemmArgs {
  cublasOperation_t op_a, op_b;
  int m, n, k;
  const T* a;
  int lda;
  long long stride_a;
  const T* b;
  int ldb;
  long long stride_b;
  T* c;
  int ldc;
  long long stride_c;
  int batch;
};

/// ember's row-major C[m, n] = op(A)·op(B) as cuBLAS's column-major Cᵀ[n, m] = op(B)ᵀ·op(A)ᵀ
/// (see the header comment): cuBLAS's first operand is B with trans_b's op, its second is A with
/// trans_a's; m and n swap. Requires m, n, k, batch > 0.
template <class T>
inline CublasGemmArgs<T> cublas_gemm_args(bool trans_a, bool trans_b, int64_t m, int64_t n,
                                          int64_t k, const T* a, int64_t lda, int64_t stride_a,
                                          const T* b, int64_t ldb, int64_t stride_b, T* c,
                                          int64_t ldc, int64_t stride_c, int64_t batch) {
  // Stored row-major shapes: A is [m, k] (or [k, m] when transposed), B is [k, n] (or [n, k]).
  lda = fix_ld(lda, trans_a ? k : m, trans_a ? m : k);
  ldb = fix_ld(ldb, trans_b ? n : k, trans_b ? k : n);
  ldc = fix_ld(ldc, m, n);
  CublasGemmArgs<T> g;
  g.op_a = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  g.op_b = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  g.m = to_int(n, "n");
  g.n = to_int(m, "m");
  g.k = to_int(k, "k");
  g.a = b;
  g.lda = to_int(ldb, "ldb");
  g.stride_a = stride_b;
  g.b = a;
  g.ldb = to_int(lda, "lda");
  g.stride_b = stride_a;
  g.c = c;
  g.ldc = to_int(ldc, "ldc");
  g.stride_c = stride_c;
  g.batch = to_int(batch, "batch");
  return g;
}

}  // namespace detail

/// Row-major batched GEMM (see the header comment). lda/ldb/ldc are row-major leading dims,
/// stride_* element distances between batch entries (0: the same matrix for every entry).
template <class T>
inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                 int64_t lda, int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta,
                 T* c, int64_t ldc, int64_t stride_c, int64_t batch, MatmulPrecision precision) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "cuBLAS GEMM: float or double");
  if (m == 0 || n == 0 || batch == 0) return;
  cudaStream_t stream = current_stream();
  if (k == 0) {
    kernel::gemm_scale_c<T><<<detail::grid_for(batch * m * n), detail::kThreads, 0, stream>>>(
        c, m, n, ldc, stride_c, batch, beta);
    EMBER_CUDA_CHECK_LAUNCH();
    return;
  }
  const detail::CublasGemmArgs<T> g = detail::cublas_gemm_args(
      trans_a, trans_b, m, n, k, a, lda, stride_a, b, ldb, stride_b, c, ldc, stride_c, batch);
  detail::cublas_handles().with_handle(stream, [&](cublasHandle_t h) {
    if constexpr (std::is_same_v<T, float>) {
      EMBER_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
          h, g.op_a, g.op_b, g.m, g.n, g.k, &alpha, g.a, CUDA_R_32F, g.lda, g.stride_a, g.b,
          CUDA_R_32F, g.ldb, g.stride_b, &beta, g.c, CUDA_R_32F, g.ldc, g.stride_c, g.batch,
          detail::fp32_compute_type(precision), CUBLAS_GEMM_DEFAULT));
    } else {
      EMBER_CUBLAS_CHECK(cublasDgemmStridedBatched(h, g.op_a, g.op_b, g.m, g.n, g.k, &alpha, g.a,
                                                   g.lda, g.stride_a, g.b, g.ldb, g.stride_b,
                                                   &beta, g.c, g.ldc, g.stride_c, g.batch));
    }
  });
}

}  // namespace ember::backend::cuda
