// ember/backend/cpu/attention.hpp — fused scaled-dot-product attention on the CPU, forward and
// backward: softmax(q kᵀ / √d + mask) v with dropout on the probabilities, one block of query
// rows at a time, so the [batch, heads, seq_q, seq_k] scores never exist in memory.
//
// The contract is the CUDA kernels' (ops/attention.hpp, backend/types.hpp AttentionParams): same
// math and order (scores / divisor, then + mask, in T), the same dropout mask bit for bit (element
// (b, h, i, j) reads word f % 4 of Philox block base + f / 4, f = ((b·heads + h)·seq_q + i)·seq_k
// + j, as ember::dropout on the unfused path's contiguous probabilities), and the same saved
// statistics: per query row the score max m and log Σ_j exp(s_j − m).
//
// The algorithm is FlashAttention-2's (Dao 2023) with one difference that suits a CPU: a block of
// kBlockQ query rows takes the whole key range at once (seq_k ≤ a few thousand, so a
// kBlockQ × seq_k block of scores stays in L2), so there is no online rescaling. Per thread, the
// memory is two kBlockQ × seq_k blocks: O(seq_k) per head, not O(seq_q · seq_k).
//   forward, per (b, h) and query block Q_i:
//     S = Q_i Kᵀ / divisor + mask;  m = rowmax S;  ℓ = Σ_j exp(S − m);  P = exp(S − m) / ℓ
//     P̃ = dropout(P);  O_i = P̃ V;  saved: m, log ℓ
//   backward, per (b, h) (one task owns dK and dV of its head: no atomics, deterministic), per
//   query block: recompute P from S, m, log ℓ; P̃ = dropout(P);
//     dV += P̃ᵀ dO_i;  dP̃ = dO_i Vᵀ;  dP = dropout'(dP̃);  δ_i = rowsum(dO_i ⊙ O_i) (= Σ_j P_ij dP_ij)
//     dS = P ⊙ (dP − δ) / divisor;  dQ_i = dS K;  dK += dSᵀ Q_i
// The products are single-threaded GEMMs (backend/cpu/gemm.hpp's gemm_impl: oneDNN, OpenBLAS or
// Eigen) inside one OpenMP loop over the batch × heads; the element-wise work runs in bodies
// compiled for generic, AVX2 and AVX-512 (backend/cpu/isa.hpp).
//
// A row whose scores are all −inf after the mask gives zeros (as scaled_masked_softmax) and zero
// gradients. Kernels trust their callers (ops/attention.hpp checks the shapes).
#pragma once

#include <ember/backend/cpu/gemm.hpp>
#include <ember/backend/cpu/isa.hpp>
#include <ember/backend/cpu/softmax.hpp>
#include <ember/backend/cpu/vec_math.hpp>
#include <ember/backend/functors.hpp>  // dropout_threshold, dropout_keep
#include <ember/backend/types.hpp>
#include <ember/core/generator.hpp>
#include <ember/core/storage.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember::backend::cpu {

/// Query rows per block: 64 rows × seq_k 512 floats = 128 KiB of scores, in L2 with room to spare.
inline constexpr int64_t kAttentionBlockQ = 64;

/// The CPU runs every head dim the op allows (1..kMaxAttentionHeadDim).
template <class T>
inline bool attention_fits(int64_t head_dim) {
  return head_dim >= 1 && head_dim <= kMaxAttentionHeadDim;
}

EMBER_KERNEL_MATH_BEGIN
namespace detail {

/// Rows [0, rows) of a score block s [rows, sk] (raw q·kᵀ in, probabilities P out, in place):
/// s = s / divisor + mask; m = max; P = exp(s − m) / Σ. Writes m and log Σ per row. A row with
/// no finite score gives P = 0, m = −inf, log Σ = 0 (NaN stays NaN).
template <class T>
EMBER_ALWAYS_INLINE void attn_softmax_rows_body(T* s, int64_t rows, int64_t sk, T divisor,
                                                const T* mask, int64_t mask_rs, int64_t mask_cs,
                                                T* row_max, T* row_logsum) {
  for (int64_t r = 0; r < rows; ++r) {
    const SoftmaxRowStats<T> st =
        masked_softmax_row(s + r * sk, s + r * sk, sk, divisor, mask ? mask + r * mask_rs : nullptr,
                           mask_cs);
    row_max[r] = st.max;
    row_logsum[r] = st.max == -std::numeric_limits<T>::infinity() ? T(0) : T(std::log(st.sum));
  }
}
EMBER_ISA_VERSIONS(attn_softmax_rows,
                   (T * s, int64_t rows, int64_t sk, T divisor, const T* mask, int64_t mask_rs,
                    int64_t mask_cs, T* row_max, T* row_logsum),
                   (s, rows, sk, divisor, mask, mask_rs, mask_cs, row_max, row_logsum))

/// Recomputes P in place from raw scores s [rows, sk] and the saved m, log Σ (backward).
template <class T>
EMBER_ALWAYS_INLINE void attn_probs_rows_body(T* s, int64_t rows, int64_t sk, T divisor,
                                              const T* mask, int64_t mask_rs, int64_t mask_cs,
                                              const T* row_max, const T* row_logsum) {
  const T ninf = -std::numeric_limits<T>::infinity();
  for (int64_t r = 0; r < rows; ++r) {
    T* sr = s + r * sk;
    const T m = row_max[r], lse = row_logsum[r];
    if (m == ninf) {
      for (int64_t j = 0; j < sk; ++j) sr[j] = T(0);
      continue;
    }
    if (mask) {
      const T* mr = mask + r * mask_rs;
#pragma omp simd
      for (int64_t j = 0; j < sk; ++j)
        sr[j] = exp_of(T(T(sr[j] / divisor + mr[j * mask_cs]) - m - lse));
    } else {
#pragma omp simd
      for (int64_t j = 0; j < sk; ++j) sr[j] = exp_of(T(T(sr[j] / divisor) - m - lse));
    }
  }
}
EMBER_ISA_VERSIONS(attn_probs_rows,
                   (T * s, int64_t rows, int64_t sk, T divisor, const T* mask, int64_t mask_rs,
                    int64_t mask_cs, const T* row_max, const T* row_logsum),
                   (s, rows, sk, divisor, mask, mask_rs, mask_cs, row_max, row_logsum))

/// dS = P ⊙ (dP − δ) / divisor in place of dp [rows, sk], δ per row.
template <class T>
EMBER_ALWAYS_INLINE void attn_dscores_rows_body(const T* p, T* dp, int64_t rows, int64_t sk,
                                                const T* delta, T divisor) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* pr = p + r * sk;
    T* dr = dp + r * sk;
    const T dl = delta[r];
#pragma omp simd
    for (int64_t j = 0; j < sk; ++j) dr[j] = pr[j] * (dr[j] - dl) / divisor;
  }
}
EMBER_ISA_VERSIONS(attn_dscores_rows,
                   (const T* p, T* dp, int64_t rows, int64_t sk, const T* delta, T divisor),
                   (p, dp, rows, sk, delta, divisor))

}  // namespace detail
EMBER_KERNEL_MATH_END

namespace detail {

/// The dropout decisions of the probability block of rows i0.. of head (b, h): keep[f'] = 1 when
/// the element survives, from the word of flat index ((b·H + h)·sq + i)·sk + j.
template <class T>
inline void attn_dropout_keep(const AttentionParams<T>& p, int64_t b, int64_t h, int64_t i0,
                              int64_t rows, uint8_t* keep) {
  const uint32_t threshold = dropout_threshold(p.dropout_p);
  const Generator gen(p.seed);
  const int64_t sk = p.seq_k;
  const uint64_t first = uint64_t(((b * p.heads + h) * p.seq_q + i0) * sk);
  const uint64_t n = uint64_t(rows * sk);
  uint64_t f = first;
  uint8_t* out = keep;
  while (f < first + n) {
    const auto words = gen.block(p.base + f / 4);
    const uint64_t w0 = f % 4, stop = std::min<uint64_t>(4, w0 + (first + n - f));
    for (uint64_t w = w0; w < stop; ++w, ++f, ++out) *out = dropout_keep(words[w], threshold);
  }
}

/// x ← keep ? x · scale : 0 over n elements (inverted dropout with decisions already drawn).
template <class T>
inline void attn_dropout_apply(const AttentionParams<T>& p, const uint8_t* keep, int64_t n, T* x) {
  const T scale = T(1.0 / (1.0 - p.dropout_p));
  for (int64_t i = 0; i < n; ++i) x[i] = keep[i] ? T(x[i] * scale) : T(0);
}

/// Row r of head (b, h) of an operand as a GEMM-ready matrix: its rows at stride `ss` when that
/// is a valid row-major layout, else copied into `tmp` (rows × d, dense).
template <class T>
inline const T* attn_rows(const AttentionOperand<const T>& op, int64_t b, int64_t h, int64_t r0,
                          int64_t rows, int64_t d, T* tmp, int64_t* ld) {
  const T* src = op.data + b * op.sb + h * op.sh + r0 * op.ss;
  if (rows <= 1 || op.ss >= d) {
    *ld = rows <= 1 ? d : op.ss;
    return src;
  }
  for (int64_t r = 0; r < rows; ++r) std::copy(src + r * op.ss, src + r * op.ss + d, tmp + r * d);
  *ld = d;
  return tmp;
}

inline int attn_threads(int64_t tasks) {
#ifdef _OPENMP
  return int(std::max<int64_t>(1, std::min<int64_t>(tasks, omp_in_parallel() ? 1 : omp_get_max_threads())));
#else
  (void)tasks;
  return 1;
#endif
}

/// How a kernel call splits its work, and its per-thread scratch: one task per (batch, head),
/// query blocks of `bq` rows, `count` blocks of `block` elements per thread (scores, copies of
/// operands whose rows overlap). Sizes OpenBLAS's pool to 1 (gemm.hpp: one pool, OpenMP's).
template <class T>
struct AttnPlan {
  int64_t tasks, bq, block, count;
  int threads;
  ScratchBuffer<T> buf;
  AttnPlan(const AttentionParams<T>& p, int64_t count_)
      : tasks(p.batch * p.heads),
        bq(std::max<int64_t>(1, std::min(kAttentionBlockQ, p.seq_q))),
        block(std::max({bq * p.seq_k, bq * p.head_dim, p.seq_k * p.head_dim})),
        count(count_),
        threads(attn_threads(tasks)),
        buf(std::size_t(threads * count * block)) {
    set_blas_threads(1);
  }
  T* at(int thread, int64_t which) { return buf.data() + (thread * count + which) * block; }
};

inline int attn_thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

}  // namespace detail

/// Forward (see the header): out [b, h, seq_q, d] (strided, head dim dense), row_max and
/// row_logsum [b, h, seq_q] contiguous.
template <class T>
inline void attention_forward(const AttentionParams<T>& p, const AttentionOperand<T>& out,
                              T* row_max, T* row_logsum) {
  const int64_t H = p.heads, sq = p.seq_q, sk = p.seq_k, d = p.head_dim;
  const int64_t tasks = p.batch * H;
  if (tasks == 0 || sq == 0) return;
  detail::AttnPlan<T> plan(p, 5);  // per thread: scores, copies of q rows, k, v if needed, keep
  const int64_t bq = plan.bq;
  const auto softmax_rows = detail::attn_softmax_rows_for<T>(cpu_isa());
  const bool drop = p.dropout_p > 0.0;
#pragma omp parallel for num_threads(plan.threads) schedule(dynamic, 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int tid = detail::attn_thread_id();
    const int64_t b = t / H, h = t % H;
    T* s = plan.at(tid, 0);
    int64_t ldk = 0, ldv = 0;
    const T* kh = detail::attn_rows(p.k, b, h, 0, sk, d, plan.at(tid, 2), &ldk);
    const T* vh = detail::attn_rows(p.v, b, h, 0, sk, d, plan.at(tid, 3), &ldv);
    for (int64_t i0 = 0; i0 < sq; i0 += bq) {
      const int64_t rows = std::min(bq, sq - i0);
      int64_t ldq = 0;
      const T* qh = detail::attn_rows(p.q, b, h, i0, rows, d, plan.at(tid, 1), &ldq);
      // S = Q_i · Kᵀ (Kᵀ: k's rows read as columns)
      detail::gemm_impl<T>(rows, sk, d, T(1), qh, ldq, 1, kh, 1, ldk, T(0), s, sk, 1);
      const T* mask = p.mask ? p.mask + b * p.mask_strides[0] + h * p.mask_strides[1] +
                                   i0 * p.mask_strides[2]
                             : nullptr;
      const int64_t stat = (b * H + h) * sq + i0;
      softmax_rows(s, rows, sk, p.divisor, mask, p.mask_strides[2], p.mask_strides[3],
                   row_max + stat, row_logsum + stat);
      if (drop) {
        uint8_t* keep = reinterpret_cast<uint8_t*>(plan.at(tid, 4));
        detail::attn_dropout_keep(p, b, h, i0, rows, keep);
        detail::attn_dropout_apply(p, keep, rows * sk, s);
      }
      // O_i = P̃ · V
      T* o = out.data + b * out.sb + h * out.sh + i0 * out.ss;
      detail::gemm_impl<T>(rows, d, sk, T(1), s, sk, 1, vh, ldv, 1, T(0), o, out.ss, 1);
    }
  }
}

/// Backward (see the header): from out, its gradient dout and the saved statistics, writes dq,
/// dk, dv ([b, h, seq, d], strided, head dim dense); delta [b, h, seq_q] is scratch (δ).
template <class T>
inline void attention_backward(const AttentionParams<T>& p, const AttentionOperand<const T>& out,
                               const AttentionOperand<const T>& dout, const T* row_max,
                               const T* row_logsum, T* delta, const AttentionOperand<T>& dq,
                               const AttentionOperand<T>& dk, const AttentionOperand<T>& dv) {
  const int64_t H = p.heads, sq = p.seq_q, sk = p.seq_k, d = p.head_dim;
  const int64_t tasks = p.batch * H;
  if (tasks == 0) return;
  detail::AttnPlan<T> plan(p, 8);  // per thread: P, dP, P̃, copies of k, v, q rows, dO rows, keep
  const int64_t bq = plan.bq;
  const auto probs_rows = detail::attn_probs_rows_for<T>(cpu_isa());
  const auto dscores_rows = detail::attn_dscores_rows_for<T>(cpu_isa());
  const bool drop = p.dropout_p > 0.0;
#pragma omp parallel for num_threads(plan.threads) schedule(dynamic, 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int tid = detail::attn_thread_id();
    const int64_t b = t / H, h = t % H;
    T* pm = plan.at(tid, 0);   // P, then P̃
    T* dpm = plan.at(tid, 1);  // dP̃, dP, dS
    T* pd = plan.at(tid, 2);   // P̃ kept apart when dropout is on (P is needed for dS)
    int64_t ldk = 0, ldv = 0;
    const T* kh = detail::attn_rows(p.k, b, h, 0, sk, d, plan.at(tid, 3), &ldk);
    const T* vh = detail::attn_rows(p.v, b, h, 0, sk, d, plan.at(tid, 4), &ldv);
    T* dkh = dk.data + b * dk.sb + h * dk.sh;
    T* dvh = dv.data + b * dv.sb + h * dv.sh;
    if (sq == 0) {  // no queries: zero gradients of k and v
      for (int64_t j = 0; j < sk; ++j) {
        std::fill(dkh + j * dk.ss, dkh + j * dk.ss + d, T(0));
        std::fill(dvh + j * dv.ss, dvh + j * dv.ss + d, T(0));
      }
      continue;
    }
    for (int64_t i0 = 0; i0 < sq; i0 += bq) {
      const int64_t rows = std::min(bq, sq - i0);
      const T beta = i0 == 0 ? T(0) : T(1);  // dK, dV: write the first block, then accumulate
      int64_t ldq = 0;
      const T* qh = detail::attn_rows(p.q, b, h, i0, rows, d, plan.at(tid, 5), &ldq);
      const T* oh = out.data + b * out.sb + h * out.sh + i0 * out.ss;
      int64_t ldgo = 0;
      const T* goh = detail::attn_rows(dout, b, h, i0, rows, d, plan.at(tid, 6), &ldgo);
      const int64_t stat = (b * H + h) * sq + i0;
      // δ_i = rowsum(dO_i ⊙ O_i)
      for (int64_t r = 0; r < rows; ++r) {
        T acc = 0;
        for (int64_t c = 0; c < d; ++c) acc += goh[r * ldgo + c] * oh[r * out.ss + c];
        delta[stat + r] = acc;
      }
      // P from the raw scores and the saved statistics
      detail::gemm_impl<T>(rows, sk, d, T(1), qh, ldq, 1, kh, 1, ldk, T(0), pm, sk, 1);
      const T* mask = p.mask ? p.mask + b * p.mask_strides[0] + h * p.mask_strides[1] +
                                   i0 * p.mask_strides[2]
                             : nullptr;
      probs_rows(pm, rows, sk, p.divisor, mask, p.mask_strides[2], p.mask_strides[3],
                 row_max + stat, row_logsum + stat);
      const T* pt = pm;  // P̃
      uint8_t* keep = reinterpret_cast<uint8_t*>(plan.at(tid, 7));  // drawn once, used twice
      if (drop) {
        detail::attn_dropout_keep(p, b, h, i0, rows, keep);
        std::copy(pm, pm + rows * sk, pd);
        detail::attn_dropout_apply(p, keep, rows * sk, pd);
        pt = pd;
      }
      // dV += P̃ᵀ · dO_i   (P̃ᵀ: P̃'s rows read as columns)
      detail::gemm_impl<T>(sk, d, rows, T(1), pt, 1, sk, goh, ldgo, 1, beta, dvh, dv.ss, 1);
      // dP̃ = dO_i · Vᵀ; dP = dP̃ ⊙ keep · scale (dropout's backward: the same mask)
      detail::gemm_impl<T>(rows, sk, d, T(1), goh, ldgo, 1, vh, 1, ldv, T(0), dpm, sk, 1);
      if (drop) detail::attn_dropout_apply(p, keep, rows * sk, dpm);
      // dS = P ⊙ (dP − δ) / divisor
      dscores_rows(pm, dpm, rows, sk, delta + stat, p.divisor);
      // dQ_i = dS · K;  dK += dSᵀ · Q_i
      T* dqh = dq.data + b * dq.sb + h * dq.sh + i0 * dq.ss;
      detail::gemm_impl<T>(rows, d, sk, T(1), dpm, sk, 1, kh, ldk, 1, T(0), dqh, dq.ss, 1);
      detail::gemm_impl<T>(sk, d, rows, T(1), dpm, 1, sk, qh, ldq, 1, beta, dkh, dk.ss, 1);
    }
  }
}

}  // namespace ember::backend::cpu
