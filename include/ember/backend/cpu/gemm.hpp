// ember/backend/cpu/gemm.hpp — C = α·A·B + β·C on the CPU: one product, or a batch of them,
// through oneDNN (float), a BLAS (OpenBLAS) or Eigen's own kernels.
//
// Operands are strided matrices: element (i, j) of A lives at a[i·a_rs + j·a_cs]. GEMM can read
// an operand without copying when one of its strides is 1: row-major (a_cs == 1, leading
// dimension a_rs) or column-major (a_rs == 1, leading dimension a_cs). A transposed view is
// simply the other layout, so `x · Wᵀ` and `q · kᵀ` cost no copy. `gemm_layout` says whether a
// given (rows, cols, rs, cs) qualifies; the caller (ops/matmul.hpp) copies only the operands
// that do not.
//
// Which library runs a product (chosen when the program is compiled; `ember::cpu_info()` says
// which one runs and with which instruction set):
//  * float, with EMBER_HAVE_DNNL (CMake option EMBER_USE_DNNL, oneDNN found): oneDNN's
//    `dnnl_sgemm`, row-major with 'N'/'T' per operand. Its JIT kernels are picked at run time by
//    the CPU's features, so a CPU newer than the distribution's OpenBLAS still gets AVX-512
//    code (Debian's OpenBLAS 0.3.21 runs generic SSE3 kernels on such Intel CPUs, 2–4× slower).
//    On an Intel Xeon model 167 it was 5–15% faster than OpenBLAS's SkylakeX kernels at the
//    BERT shapes and on the attention batch (docs/performance.md, "GEMM").
//  * float and double with EIGEN_USE_BLAS (CMake option EMBER_USE_BLAS with OpenBLAS found): the
//    BLAS `?gemm` directly (with β, so β = 0 needs no zero-fill of C).
//  * otherwise each operand maps onto an `Eigen::Map<const Matrix<T, Dynamic, Dynamic,
//    RowMajor|ColMajor>, Unaligned, OuterStride<>>` and the product is Eigen's
//    `C.noalias() += α·A·B`, i.e. Eigen's blocked GEBP kernel.
//
// Threads (one pool: OpenMP's; oneDNN is built on the same GNU OpenMP runtime; see
// docs/performance.md, "GEMM" and "One thread pool"):
//  * One large product (≥ kSplitGemm multiply-adds): `gemm` cuts C into one block of rows (or
//    columns) per OpenMP thread and runs a single-threaded product per block inside one
//    `#pragma omp parallel for` (for oneDNN at 4096×768·768×768, 2 threads: 312 GFLOP/s split
//    this way, 264 when oneDNN threads the whole product itself). OpenBLAS's own pthread pool is
//    kept at 1 thread: when it ran the large products with its own threads, those threads spun
//    in sched_yield between products while ember's OpenMP threads ran the element-wise work, and
//    the two pools fought for the cores (~20% of a training step's samples in the scheduler).
//  * A batch of small products (attention: 384 products of 128×64·64×128): threading inside
//    each product reaches ~20–49% of peak, splitting the batch across threads and running each
//    product on one thread reaches ~61–71% (PERFORMANCE-NOTES). `batched_gemm` therefore runs
//    `#pragma omp parallel for` over the batch, one product per iteration.
//  * Inside a parallel region every product is single-threaded: oneDNN runs on the calling
//    thread when omp_in_parallel(); Eigen's parallelizer sees omp_get_num_threads() > 1 and runs
//    on the calling thread (Eigen/src/Core/products/Parallelizer.h: "if we already are in a
//    parallel session ... abort multi-threading"), and OpenBLAS has 1 thread
//    (openblas_set_num_threads is global, so it is set outside regions).
//
// OpenBLAS thread control needs EMBER_HAVE_OPENBLAS (defined with EIGEN_USE_BLAS by ember's CMake
// when it links OpenBLAS). With EIGEN_USE_BLAS and another BLAS, products are handed to that BLAS
// whole and batches run one product after the other, each threaded by that BLAS. ember calls
// GEMM from one thread at a time (the caller's); calling ember ops from inside your own OpenMP
// parallel region runs them single-threaded.
//
// Kernels trust their callers: sizes ≥ 0, layouts accepted by `gemm_layout`, outputs that do not
// overlap inputs or each other. A product handed to a BLAS must have sizes and leading dimensions
// that fit in int (checked: ember::Error otherwise).
#pragma once

#include <ember/backend/cpu/gemm_bf16.hpp>
#include <ember/backend/cpu/int8_gemm.hpp>
#include <ember/backend/cpu/packed_gemm.hpp>
#include <ember/backend/cpu/strided.hpp>
#include <ember/core/shape.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef EMBER_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>

#include <ember/core/error.hpp>
#endif

#if defined(EIGEN_USE_BLAS) && defined(EMBER_HAVE_OPENBLAS)
#define EMBER_GEMM_OPENBLAS_THREADS 1
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}
#else
#define EMBER_GEMM_OPENBLAS_THREADS 0
#endif

namespace ember::backend::cpu {

/// Products of at least this many multiply-adds (m·n·k) are split across OpenMP threads.
inline constexpr int64_t kSplitGemm = int64_t(1) << 18;

/// Threads one product may use: OpenMP's max threads outside a parallel region, 1 inside.
inline int gemm_threads() {
#ifdef _OPENMP
  return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  return 1;
#endif
}

/// Sizes OpenBLAS's own thread pool (no-op unless Eigen forwards to OpenBLAS). Call only
/// outside parallel regions: the setting is process-wide.
inline void set_blas_threads(int n) {
#if EMBER_GEMM_OPENBLAS_THREADS
  if (openblas_get_num_threads() != n) openblas_set_num_threads(n);
#else
  (void)n;
#endif
}

namespace detail {

template <class T, int Order>
using ConstMatMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>,
                               Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using RowMatMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>,
                             Eigen::Unaligned, Eigen::OuterStride<>>;

/// c = α·a·b + β·c with Eigen (c row-major). β == 0 never reads c (it may hold garbage).
/// Eigen's kernel (and its BLAS forwarding) only accumulates, and `c.noalias() = a·b` first
/// zero-fills c on one thread; we zero it across OpenMP threads instead (for a 4096×3072 float
/// output that fill is ~7 ms single-threaded, ~7% of the product at 2 threads), then accumulate.
template <class T, class A, class B>
inline void eigen_gemm(const A& a, const B& b, T alpha, T beta, RowMatMap<T>& c) {
  if (beta == T(0)) {
    T* p = c.data();
    const int64_t n = c.cols(), ld = c.outerStride();
    parallel_for(c.rows(), std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)),
                 [&](int64_t i) { std::fill(p + i * ld, p + i * ld + n, T(0)); });
  } else if (beta != T(1)) {
    c *= beta;
  }
  if (alpha == T(1))
    c.noalias() += a * b;
  else
    c.noalias() += alpha * a * b;
}

template <class T, int OrderA>
inline void gemm_dispatch_b(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                            const T* b, GemmLayout lb, T beta, RowMatMap<T>& c) {
  ConstMatMap<T, OrderA> ma(a, m, k, Eigen::OuterStride<>(lda));
  if (lb.row_major) {
    ConstMatMap<T, Eigen::RowMajor> mb(b, k, n, Eigen::OuterStride<>(lb.ld));
    eigen_gemm(ma, mb, alpha, beta, c);
  } else {
    ConstMatMap<T, Eigen::ColMajor> mb(b, k, n, Eigen::OuterStride<>(lb.ld));
    eigen_gemm(ma, mb, alpha, beta, c);
  }
}

#ifdef EIGEN_USE_BLAS
// With a BLAS behind Eigen, call its ?gemm directly (declared by Eigen's misc/blas.h): unlike
// Eigen's accumulate-only product it takes β, so β = 0 writes C in the same pass instead of after
// a separate zero-fill of C (a full extra write of every GEMM output).
inline void blas_gemm(char ta, char tb, int m, int n, int k, float alpha, const float* a, int lda,
                      const float* b, int ldb, float beta, float* c, int ldc) {
  sgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}
inline void blas_gemm(char ta, char tb, int m, int n, int k, double alpha, const double* a,
                      int lda, const double* b, int ldb, double beta, double* c, int ldc) {
  dgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}
#endif

/// Which library runs a product of T (see the header comment): oneDNN for float when built with
/// it, else the BLAS for float and double when Eigen forwards to one, else Eigen.
template <class T>
inline constexpr bool kDnnlGemm =
#ifdef EMBER_HAVE_DNNL
    std::is_same_v<T, float>;
#else
    false;
#endif
template <class T>
inline constexpr bool kBlasGemm =
#ifdef EIGEN_USE_BLAS
    std::is_same_v<T, float> || std::is_same_v<T, double>;
#else
    false;
#endif

/// One product on the calling thread's terms (no thread-count changes).
template <class T>
inline void gemm_impl(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t a_rs,
                      int64_t a_cs, const T* b, int64_t b_rs, int64_t b_cs, T beta, T* c,
                      int64_t c_rs, int64_t c_cs) {
  if (m == 0 || n == 0) return;
  GemmLayout lc;
  gemm_layout(m, n, c_rs, c_cs, &lc);
  if (!lc.row_major) {  // column-major C: Cᵀ = Bᵀ·Aᵀ is row-major
    gemm_impl(n, m, k, alpha, b, b_cs, b_rs, a, a_cs, a_rs, beta, c, c_cs, c_rs);
    return;
  }
  if (k == 0) {  // empty sum: C = β·C
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        c[i * lc.ld + j] = beta == T(0) ? T(0) : beta * c[i * lc.ld + j];
    return;
  }
  GemmLayout la, lb;
  gemm_layout(m, k, a_rs, a_cs, &la);
  gemm_layout(k, n, b_rs, b_cs, &lb);
  // One library per type, chosen at compile time by `if constexpr`, so the branches not taken are
  // never instantiated: Eigen's GEBP product is compiled only where it runs. (Instantiating it
  // for float and double cost ~3 s of compile in every translation unit that uses a tensor.)
  if constexpr (kDnnlGemm<T>) {
#ifdef EMBER_HAVE_DNNL
    // Row-major C: a row-major operand is used as stored ('N'), a column-major one is the
    // row-major storage of its transpose ('T'), with the same leading dimension.
    const dnnl_status_t st =
        dnnl_sgemm(la.row_major ? 'N' : 'T', lb.row_major ? 'N' : 'T', m, n, k, alpha, a, la.ld, b,
                   lb.ld, beta, c, lc.ld);
    EMBER_CHECK(st == dnnl_success, "oneDNN dnnl_sgemm failed (status ", int(st), ") for ", m,
                "x", k, " · ", k, "x", n);
#endif
  } else if constexpr (kBlasGemm<T>) {
#ifdef EIGEN_USE_BLAS
    // The BLAS takes 32-bit ints (so does Eigen's own forwarding to it, BlasIndex = int).
    constexpr int64_t kIntMax = 2147483647;
    EMBER_CHECK(std::max({m, n, k, la.ld, lb.ld, lc.ld}) <= kIntMax,
                "gemm: sizes or leading dimensions over 2^31 - 1 do not fit the BLAS's int (m ", m,
                ", n ", n, ", k ", k, ", leading dimensions ", la.ld, ", ", lb.ld, ", ", lc.ld, ")");
    // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: a row-major operand read column-major is
    // its transpose ('N'), a column-major one needs 'T'.
    blas_gemm(lb.row_major ? 'N' : 'T', la.row_major ? 'N' : 'T', int(n), int(m), int(k), alpha, b,
              int(lb.ld), a, int(la.ld), beta, c, int(lc.ld));
#endif
  } else {
    RowMatMap<T> mc(c, m, n, Eigen::OuterStride<>(lc.ld));
    if (la.row_major)
      gemm_dispatch_b<T, Eigen::RowMajor>(m, n, k, alpha, a, la.ld, b, lb, beta, mc);
    else
      gemm_dispatch_b<T, Eigen::ColMajor>(m, n, k, alpha, a, la.ld, b, lb, beta, mc);
  }
}

#ifdef EMBER_HAVE_DNNL
/// One float product with bf16 inputs (gemm_bf16.hpp): A and B rounded into dense buffers once,
/// then C's rows split across the OpenMP threads as `gemm` does, each block one single-threaded
/// oneDNN matmul. Returns false (nothing done) for a column-major C.
inline bool gemm_bf16(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t a_rs,
                      int64_t a_cs, const float* b, int64_t b_rs, int64_t b_cs, float beta,
                      float* c, int64_t c_rs, int64_t c_cs) {
  GemmLayout la, lb, lc;
  gemm_layout(m, n, c_rs, c_cs, &lc);
  if (!lc.row_major) return false;
  gemm_layout(m, k, a_rs, a_cs, &la);
  gemm_layout(k, n, b_rs, b_cs, &lb);
  ScratchBuffer<uint16_t> a16(static_cast<std::size_t>(m * k)), b16(static_cast<std::size_t>(k * n));
  to_bf16(a, m, k, la, a16.data());
  to_bf16(b, k, n, lb, b16.data());
  const int64_t lda = la.row_major ? k : m, ldb = lb.row_major ? n : k;
  const int nt = gemm_threads();
  if (nt > 1 && m * n * k >= kSplitGemm && m >= 2 * nt) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; ++t) {
      const int64_t lo = m * t / nt, hi = m * (t + 1) / nt;
      const uint16_t* ab = a16.data() + (la.row_major ? lo * lda : lo);
      detail::bf16_matmul(hi - lo, n, k, alpha, ab, la.row_major, lda, b16.data(), lb.row_major,
                          ldb, beta, c + lo * lc.ld, lc.ld);
    }
  } else {
    detail::bf16_matmul(m, n, k, alpha, a16.data(), la.row_major, lda, b16.data(), lb.row_major,
                        ldb, beta, c, lc.ld);
  }
  return true;
}
#endif

/// Element offset of batch entry `idx` (row-major over `batch_shape`) under `strides`.
inline int64_t batch_offset(int64_t idx, const Shape& batch_shape, const Shape& strides) {
  return backend::batch_offset(idx, batch_shape.size(), batch_shape.begin(), strides.begin());
}

}  // namespace detail

/// C[m, n] = α·A[m, k]·B[k, n] + β·C with strided operands (element (i, j) of X at
/// x[i·x_rs + j·x_cs]); every operand must be accepted by `gemm_layout` (C included: a
/// column-major C is computed as Cᵀ = Bᵀ·Aᵀ). β == 0 overwrites C without reading it.
/// Threads: OpenMP's thread count. A product of at least kSplitGemm multiply-adds is cut into
/// one block of C per thread (rows of C, or columns when C is wider than tall), each block a
/// single-threaded BLAS or Eigen product on an OpenMP thread; smaller products run on the
/// calling thread. (With a BLAS other than OpenBLAS, whose threads ember cannot control, the
/// product is handed to the BLAS whole.)
template <class T>
inline void gemm(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t a_rs, int64_t a_cs,
                 const T* b, int64_t b_rs, int64_t b_cs, T beta, T* c, int64_t c_rs, int64_t c_cs) {
#ifdef EMBER_HAVE_DNNL
  if constexpr (std::is_same_v<T, float>) {
    if (m > 0 && n > 0 && k > 0 && use_bf16_products() && detail::gemm_bf16(m, n, k, alpha, a, a_rs,
                                                                              a_cs, b, b_rs, b_cs,
                                                                              beta, c, c_rs, c_cs))
      return;
  }
#endif
#if defined(_OPENMP) && !(defined(EIGEN_USE_BLAS) && !EMBER_GEMM_OPENBLAS_THREADS)
  const int nt = gemm_threads();
  if (!omp_in_parallel()) set_blas_threads(1);  // one pool: OpenMP's (see the header comment)
  if (nt > 1 && m * n * k >= kSplitGemm && std::max(m, n) >= 2 * nt) {
    const bool by_rows = m >= n;
    const int64_t len = by_rows ? m : n;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; ++t) {
      const int64_t lo = len * t / nt, hi = len * (t + 1) / nt;
      if (by_rows)
        detail::gemm_impl(hi - lo, n, k, alpha, a + lo * a_rs, a_rs, a_cs, b, b_rs, b_cs, beta,
                          c + lo * c_rs, c_rs, c_cs);
      else
        detail::gemm_impl(m, hi - lo, k, alpha, a, a_rs, a_cs, b + lo * b_cs, b_rs, b_cs, beta,
                          c + lo * c_cs, c_rs, c_cs);
    }
    return;
  }
#endif
  detail::gemm_impl(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, c_rs, c_cs);
}

/// Whether an operand is used as stored or transposed (BLAS's transa/transb).
enum class Trans { kNo, kYes };

/// BLAS-style row-major GEMM: C[m, n] = α·op(A)·op(B) + β·C with op(X) = X or Xᵀ, A stored
/// row-major with leading dimension lda ([m, k], or [k, m] when transposed), likewise B
/// ([k, n] or [n, k]) and C ([m, n], ldc). Same as cblas_?gemm(CblasRowMajor, ...).
template <class T>
inline void gemm(Trans ta, Trans tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                 int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  int64_t a_rs = ta == Trans::kNo ? lda : 1, a_cs = ta == Trans::kNo ? 1 : lda;
  int64_t b_rs = tb == Trans::kNo ? ldb : 1, b_cs = tb == Trans::kNo ? 1 : ldb;
  gemm(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, ldc, int64_t(1));
}

/// Products below this many multiply-adds (m·n·k) count as "small": a batch of them is always
/// split across threads, never inside a product.
inline constexpr int64_t kSmallGemm = int64_t(1) << 24;

/// C[i] = α·A[i]·B[i] + β·C[i] for every i of `batch_shape` (row-major order); operand X's
/// batch entry i starts at x + Σ_d idx_d·x_batch_strides[d] (a stride of 0 broadcasts the same
/// matrix to every entry; no copy). Matrix strides as in `gemm`. The C entries must not overlap.
/// Threads: the batch is split across OpenMP threads (each product single-threaded) when it is
/// at least as large as the thread count and the products are small or the batch divides
/// evenly; otherwise the products run one after the other, each using all threads.
template <class T>
inline void batched_gemm(const Shape& batch_shape, int64_t m, int64_t n, int64_t k, T alpha,
                         const T* a, const Shape& a_batch_strides, int64_t a_rs, int64_t a_cs,
                         const T* b, const Shape& b_batch_strides, int64_t b_rs, int64_t b_cs,
                         T beta, T* c, const Shape& c_batch_strides, int64_t c_rs, int64_t c_cs) {
  const int64_t batch = batch_shape.numel();
  if (batch == 0 || m == 0 || n == 0) return;
  auto one = [&](int64_t i) {
    detail::gemm_impl(m, n, k, alpha, a + detail::batch_offset(i, batch_shape, a_batch_strides),
                      a_rs, a_cs, b + detail::batch_offset(i, batch_shape, b_batch_strides), b_rs,
                      b_cs, beta, c + detail::batch_offset(i, batch_shape, c_batch_strides), c_rs,
                      c_cs);
  };
  const int nt = gemm_threads();
  const int64_t mnk = m * n * k;
#if defined(EIGEN_USE_BLAS) && !EMBER_GEMM_OPENBLAS_THREADS
  const bool across = false;  // cannot make an unknown BLAS single-threaded inside the region
#else
  const bool across = nt > 1 && batch >= nt && batch * mnk >= 2 * kParallelGrain &&
                      (mnk < kSmallGemm || batch % nt == 0 || batch >= 4 * nt);
#endif
  if (!across) {  // one product after the other, each split across the threads by `gemm`
    for (int64_t i = 0; i < batch; ++i)
      gemm(m, n, k, alpha, a + detail::batch_offset(i, batch_shape, a_batch_strides), a_rs, a_cs,
           b + detail::batch_offset(i, batch_shape, b_batch_strides), b_rs, b_cs, beta,
           c + detail::batch_offset(i, batch_shape, c_batch_strides), c_rs, c_cs);
    return;
  }
#ifdef _OPENMP
  set_blas_threads(1);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < batch; ++i) one(i);
#endif
}

/// Single-stride form (cuBLAS's gemmStridedBatched): batch entry i of X starts at x + i·x_bs.
template <class T>
inline void batched_gemm(int64_t batch, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                         int64_t a_bs, int64_t a_rs, int64_t a_cs, const T* b, int64_t b_bs,
                         int64_t b_rs, int64_t b_cs, T beta, T* c, int64_t c_bs, int64_t c_rs,
                         int64_t c_cs) {
  batched_gemm(Shape{batch}, m, n, k, alpha, a, Shape{a_bs}, a_rs, a_cs, b, Shape{b_bs}, b_rs, b_cs,
               beta, c, Shape{c_bs}, c_rs, c_cs);
}

/// out[j] = Σ_i a[i·lda + j] for a row-major [rows, cols] matrix: the bias gradient of a
/// linear layer. Columns are split across threads (deterministic: each column summed by one
/// thread, rows in order); the inner loop over a row's columns vectorizes.
template <class T>
inline void sum_rows(int64_t rows, int64_t cols, const T* a, int64_t lda, T* out) {
  auto columns = [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) out[j] = T(0);
    for (int64_t i = 0; i < rows; ++i) {
      const T* row = a + i * lda;
      for (int64_t j = j0; j < j1; ++j) out[j] += row[j];
    }
  };
  if (rows * cols >= 2 * kParallelGrain)
    parallel_chunks(cols, 16, columns);
  else
    columns(0, cols);
}

/// c[i·ldc + j] = v[j] for a row-major [rows, cols] C: initializes a linear layer's output with
/// its bias, so that the GEMM then accumulates x·Wᵀ onto it (β = 1) in the same pass.
template <class T>
inline void broadcast_rows(int64_t rows, int64_t cols, const T* v, T* c, int64_t ldc) {
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(cols, 1)),
               [&](int64_t i) { std::copy(v, v + cols, c + i * ldc); });
}

/// The kernel table's GEMM (GemmArgs, backend/types.hpp): an int8 product when asked
/// (int8_gemm.hpp); an inference product whose caller lets B be kept packed through
/// `gemm_packed_weights` (packed_gemm.hpp) when it applies; else one product through `gemm`, a
/// batch through `batched_gemm`, the bias epilogue initializing C with the bias rows so that the
/// product accumulates onto it (β = 1) in the same pass.
/// The dynamic int8 product (int8_gemm.hpp) on a CPU without an int8 dot-product instruction
/// (AVX512-VNNI or AMX-INT8: e.g. AVX2-only Zen 2/3, Skylake-SP). There oneDNN's s8·s8 kernels
/// add pairs of u8·s8 products in int16 with saturation (vpmaddubsw), which breaks the promised
/// exact int32 sums when a pair exceeds 32767 (255·127·2 does): y was off by far more than the
/// quantization error. Here the same quantized integers are multiplied as floats instead — each
/// product and partial sum exact while below 2^24 (K ≤ 1040 terms of ≤ 127²; beyond that, one
/// float rounding per addition, ≤ 1e-7 relative) — so the result is the int8 arithmetic of the
/// header comment of int8_gemm.hpp, at the speed of a float product. Weights are quantized on
/// every call (k·n work, small next to the product's m·k·n).
template <class T>
inline void gemm_int8_exact_fallback(const GemmArgs<T>& g) {
  if constexpr (std::is_same_v<T, float>) {
    EMBER_CHECK(g.batch.ndim == 0 && g.alpha == 1.0f && g.beta == 0.0f,
                "int8 product: needs one product, alpha 1, beta 0");
    if (g.m == 0 || g.n == 0) return;
    GemmLayout la, lb;
    gemm_layout(g.m, g.k, g.a_rs, g.a_cs, &la);
    gemm_layout(g.k, g.n, g.b_rs, g.b_cs, &lb);
    EMBER_CHECK(la.row_major, "int8 product: the input must be row-major");
    const int64_t m = g.m, n = g.n, k = g.k;
    // W's column j (output channel j) quantized as int8_weights.hpp stores it, kept as floats.
    ScratchBuffer<int8_t> wq8(static_cast<std::size_t>(k * n));
    ScratchBuffer<float> wq(static_cast<std::size_t>(k * n)), ws(static_cast<std::size_t>(n));
    parallel_for(n, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(k, 1)), [&](int64_t j) {
      ws[j] = lb.row_major ? quantize_weight_row_s8(g.b + j, lb.ld, wq8.data() + j * k, k)
                           : quantize_weight_row_s8(g.b + j * lb.ld, 1, wq8.data() + j * k, k);
      for (int64_t t = 0; t < k; ++t) wq[j * k + t] = float(wq8[j * k + t]);  // column-major B
    });
    ScratchBuffer<int8_t> xq8(static_cast<std::size_t>(m * k));
    ScratchBuffer<float> xq(static_cast<std::size_t>(m * k)), xs(static_cast<std::size_t>(m));
    const auto quantize = detail::quantize_row_s8_into_for<float>(cpu_isa());
    parallel_for(m, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(k, 1)), [&](int64_t i) {
      quantize(g.a + i * la.ld, xq8.data() + i * k, k, &xs[i]);
      for (int64_t t = 0; t < k; ++t) xq[i * k + t] = float(xq8[i * k + t]);
    });
    gemm<float>(m, n, k, 1.0f, xq.data(), k, 1, wq.data(), 1, k, 0.0f, g.c, g.ldc, 1);
    parallel_for(m, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)), [&](int64_t i) {
      float* y = g.c + i * g.ldc;
      for (int64_t j = 0; j < n; ++j)
        y[j] = y[j] * xs[i] * ws[j] + (g.bias != nullptr ? g.bias[j] : 0.0f);
    });
  } else {
    gemm_int8(g);  // names what is missing
  }
}

template <class T>
inline void gemm(const GemmArgs<T>& g) {
  if (g.int8_dynamic) {
    const CpuFeatures& f = cpu_features();
    if (f.avx512_vnni || f.amx_int8)
      gemm_int8(g);
    else
      gemm_int8_exact_fallback(g);
    return;
  }
  if (!use_bf16_products() && gemm_packed_weights(g)) return;
  T beta = g.beta;
  const GemmBatch& bt = g.batch;
  if (g.bias != nullptr) {
    for (int64_t e = 0; e < bt.count(); ++e)
      broadcast_rows(g.m, g.n, g.bias, g.c + backend::batch_offset(e, bt.ndim, bt.sizes, bt.c),
                     g.ldc);
    beta = T(1);
  }
  if (bt.ndim == 0) {
    gemm<T>(g.m, g.n, g.k, g.alpha, g.a, g.a_rs, g.a_cs, g.b, g.b_rs, g.b_cs, beta, g.c, g.ldc, 1);
    return;
  }
  batched_gemm<T>(Shape(bt.sizes, bt.sizes + bt.ndim), g.m, g.n, g.k, g.alpha, g.a,
                  Shape(bt.a, bt.a + bt.ndim), g.a_rs, g.a_cs, g.b, Shape(bt.b, bt.b + bt.ndim),
                  g.b_rs, g.b_cs, beta, g.c, Shape(bt.c, bt.c + bt.ndim), g.ldc, 1);
}

}  // namespace ember::backend::cpu
