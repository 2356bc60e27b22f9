// ember/backend/cuda/attention.cuh — fused scaled-dot-product attention on the GPU, forward and
// backward, without ever storing the [batch, heads, seq_q, seq_k] score or probability matrix.
//
// What it computes (the unfused reference is nn::scaled_dot_product_attention on the CPU:
// matmul → scaled_masked_softmax → dropout → matmul), per (b, h):
//   z_ij = (q_i · k_j) / divisor + mask_ij           (in T, in this order, as the unfused path)
//   P_ij = exp(z_ij − m_i) / l_i,   m_i = max_j z_ij,  l_i = Σ_j exp(z_ij − m_i)
//   o_i  = Σ_j P_ij · keep_ij · scale · v_j           (dropout: keep from Philox, scale 1/(1−p))
//
// Algorithm: FlashAttention-2 (Dao, "FlashAttention-2: Faster Attention with Better Parallelism
// and Work Partitioning", 2023), on CUDA cores in T (fp32 for float, fp64 for double).
//
// Forward: one thread block per (b, h, tile of TILE query rows). The query tile stays in shared
// memory; the block walks over the keys TILE at a time, loading each K and V tile once into
// shared memory, and keeps per query row the running max m, the running sum l and the
// unnormalized output acc (the "online softmax", Milakov & Gimelshein 2018). When a new key tile
// raises the max from m to m', everything accumulated so far is rescaled by exp(m − m'). At the
// end o = acc / l. What backward needs is written per row: m and log l. (FlashAttention stores
// their sum L = m + log l; with BERT's finite mask lowest(T), a row whose keys are all masked has
// m ≈ −3.4e38 and m + log l rounds back to m, so exp(z − L) would give 1 instead of 1/seq_k.
// Keeping the two apart costs one float per row and is exact — it is what cross_entropy saves.)
//
// Backward, deterministically (no atomics: every output element is summed by one thread in a
// fixed order, so two runs give the same bits, as everywhere in this backend):
//   1. delta_i = Σ_c dO_ic · O_ic (= Σ_j P_ij dP_ij even with dropout), one warp per row;
//   2. a block per (b, h, key tile): K and V tiles stay in shared memory, the block walks over
//      all query tiles, recomputes S and P = exp((z − m) − log l), dP = dO·Vᵀ, and accumulates
//        dV_j += Σ_i P_ij keep_ij scale · dO_i
//        dK_j += Σ_i dS_ij q_i,   dS_ij = P_ij (dP_ij keep_ij scale − delta_i) / divisor;
//   3. a block per (b, h, query tile): walks over the key tiles, recomputes P and dS the same
//      way and accumulates dQ_i += Σ_j dS_ij k_j.
// FlashAttention-2 does 2 and 3 in one kernel with atomic adds into dQ; the price of
// determinism here is recomputing S, P and dP once more (the backward does 7 tile products
// instead of 5).
//
// Tiles. TILE query rows × TILE keys, 256 threads as a 16 × 16 grid (ty, tx). A thread owns the
// scores of rows ty·R .. ty·R + R − 1 (R = TILE / 16) and keys tx, tx + 16, ... (strided, so
// that the 16 threads of a row read 16 different K rows from 16 different banks), and the output
// columns tx, tx + 16, ... of its rows (consecutive threads, consecutive columns: conflict-free
// shared reads, coalesced global writes). The 16 threads of a query row are one half-warp, so
// the row max and sum are 4 butterfly shuffles. Shared rows are padded to D + 1 elements: K[j][c]
// is then read by the 16 threads at 16 different banks. The head dim d is padded to D ∈ {32,
// 64, 128} with zeros (a compile-time size for the unrolled loops); TILE is 64, or 32 where
// 64 × D elements would not leave room (float D = 128; double D ≥ 64). Shared memory per block
// is 50-140 KB, so the kernels opt in to more than the default 48 KB (sm_80 and later).
//
// Dropout: element (b, h, i, j) of the [batch, heads, seq_q, seq_k] probabilities has flat index
// f = ((b·heads + h)·seq_q + i)·seq_k + j and is kept by word f % 4 of Philox block base + f / 4
// under seed — exactly what ember::dropout (dropout.cuh, backend/cpu/dropout.hpp) draws for the
// unfused path's contiguous probabilities, so the two paths drop the same elements. Each score
// computes its own Philox block (the 16 scores of a thread are in different blocks); 10 rounds
// of integer work per score, only while training with p > 0.
//
// Masks: an additive mask is read through four strides (0 along broadcast dims), never
// expanded. A key whose score is −inf contributes exactly 0; rows that are entirely −inf give
// zeros and zero gradients (as scaled_masked_softmax); BERT's lowest(T) keeps every score finite,
// so a fully masked row is uniform, as in the unfused path and Hugging Face. Note exp(z − m) is
// not flushed to 0 below log(FLT_MIN) as the unfused kernel does: the difference is < 1e-38.
#pragma once

#include <ember/backend/functors.hpp>  // dropout_threshold, dropout_keep
#include <ember/backend/cuda/check.cuh>
#include <ember/backend/device_runtime.hpp>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/stream.cuh>
#include <ember/core/generator.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>

namespace ember::backend::cuda {

namespace detail {

/// Threads per block of the attention tile kernels: a 16 × 16 grid.
inline constexpr int kAttentionThreads = 256;

/// Query rows (and keys) per tile for element type T and padded head dim D (header comment).
template <class T, int D>
__host__ __device__ constexpr int attention_tile() {
  return sizeof(T) * D <= 256 ? 64 : 32;
}

/// Dynamic shared memory of the attention kernels, in bytes: `tiles` [TILE][D + 1] operand tiles,
/// one [TILE][TILE + 1] probability tile, and 3·TILE per-row statistics.
template <class T, int D>
constexpr std::size_t attention_smem(int tiles) {
  constexpr int tile = attention_tile<T, D>();
  return sizeof(T) *
         (std::size_t(tiles) * tile * (D + 1) + std::size_t(tile) * (tile + 1) + 3 * tile);
}

}  // namespace detail

namespace kernel {

using detail::ninf;

/// +∞ of T in device code.
template <class T>
__device__ __forceinline__ T pinf() {
  return -ninf<T>();
}

/// The dynamic shared memory of every attention kernel (16-byte aligned for double).
extern __shared__ __align__(16) unsigned char attention_shared[];

/// Whether the dropout mask keeps element `flat` of the probabilities: word flat % 4 of Philox
/// block base + flat / 4 under seed (dropout.cuh's rule, element by element).
__device__ __forceinline__ bool attention_keep(uint64_t seed, uint64_t base, uint64_t flat,
                                               uint32_t threshold) {
  const uint64_t index = base + flat / 4;
  uint32_t w[4] = {uint32_t(index), uint32_t(index >> 32), 0u, 0u};  // as Generator::block
  ember::detail::philox4x32_10(w, uint32_t(seed), uint32_t(seed >> 32));
  const uint32_t r = uint32_t(flat % 4);
  const uint32_t word = r == 0 ? w[0] : r == 1 ? w[1] : r == 2 ? w[2] : w[3];  // no local array
  return backend::dropout_keep(word, threshold);
}

/// Copies rows [r0, r0 + TILE) of one (b, h) slice of a [seq, d] operand (row stride `ld`, the
/// head dim dense) into a shared [TILE][D + 1] tile, zero-filling rows ≥ rows and columns ≥ d:
/// zero rows and columns add nothing to the dot products (and a zero V row never meets a NaN).
/// Consecutive threads read consecutive columns (coalesced).
template <class T, int D, int TILE>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int64_t ld, int64_t r0,
                                          int64_t rows, int64_t d) {
  for (int e = threadIdx.x; e < TILE * D; e += detail::kAttentionThreads) {
    const int r = e / D, c = e % D;  // D is a power of two: shifts
    const int64_t gr = r0 + r;
    dst[r * (D + 1) + c] = (gr < rows && c < d) ? src[gr * ld + c] : T(0);
  }
}

/// s[r][c] = a[ty·R + r] · b[tx + 16c] over the D columns of two shared [TILE][D + 1] tiles: the
/// thread's R × R block of a·bᵀ (S = Q·Kᵀ, or dP = dO·Vᵀ).
template <class T, int D, int TILE>
__device__ __forceinline__ void tile_dots(const T* a, const T* b, T (&s)[TILE / 16][TILE / 16],
                                          int ty, int tx) {
  constexpr int R = TILE / 16, LD = D + 1;
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int c = 0; c < R; ++c) s[r][c] = T(0);
#pragma unroll 4
  for (int k = 0; k < D; ++k) {
    T av[R], bv[R];
#pragma unroll
    for (int r = 0; r < R; ++r) av[r] = a[(ty * R + r) * LD + k];
#pragma unroll
    for (int c = 0; c < R; ++c) bv[c] = b[(tx + 16 * c) * LD + k];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int c = 0; c < R; ++c) s[r][c] += av[r] * bv[c];
  }
}

/// acc[r][c] += Σ_t p[row(r)][t] · x[t][tx + 16c] over the TILE columns of the shared
/// [TILE][TILE + 1] tile p and the TILE rows of a shared [TILE][D + 1] tile x, where
/// row(r) = ty·R + r. With `transpose_p`, p is read as pᵀ: p[t][row(r)].
template <class T, int D, int TILE, bool transpose_p>
__device__ __forceinline__ void tile_accumulate(const T* p, const T* x, T (&acc)[TILE / 16][D / 16],
                                                int ty, int tx) {
  constexpr int R = TILE / 16, C = D / 16, LP = TILE + 1, LD = D + 1;
#pragma unroll 4
  for (int t = 0; t < TILE; ++t) {
    T pv[R], xv[C];
#pragma unroll
    for (int r = 0; r < R; ++r)
      pv[r] = transpose_p ? p[t * LP + ty * R + r] : p[(ty * R + r) * LP + t];
#pragma unroll
    for (int c = 0; c < C; ++c) xv[c] = x[t * LD + tx + 16 * c];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int c = 0; c < C; ++c) acc[r][c] += pv[r] * xv[c];
  }
}

/// Reduces v over the 16 threads of a query row (one half-warp: lanes differ in bits 0-3).
template <class T, class Op>
__device__ __forceinline__ T row_reduce(T v, Op op) {
#pragma unroll
  for (int off = 8; off > 0; off >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

/// z = dot / divisor + mask(i, j) in T, as scaled_masked_softmax (softmax.cuh's masked_score).
template <class T>
__device__ __forceinline__ T attention_score(T dot, const AttentionParams<T>& p, const T* mask_bh,
                                             int64_t i, int64_t j) {
  const T z = dot / p.divisor;
  return mask_bh ? T(z + mask_bh[i * p.mask_strides[2] + j * p.mask_strides[3]]) : z;
}

/// Forward: a block per (b, h, query tile); see the header comment.
template <class T, int D>
__global__ void __launch_bounds__(detail::kAttentionThreads)
    attention_forward(AttentionParams<T> p, AttentionOperand<T> out, T* row_max, T* row_logsum,
                      int64_t q_tiles, int64_t blocks, T scale, uint32_t threshold) {
  constexpr int TILE = detail::attention_tile<T, D>();
  constexpr int R = TILE / 16, C = D / 16, LD = D + 1, LP = TILE + 1;
  T* qs = reinterpret_cast<T*>(attention_shared);  // [TILE][LD] queries
  T* ks = qs + TILE * LD;                          // [TILE][LD] keys
  T* vs = ks + TILE * LD;                          // [TILE][LD] values
  T* ps = vs + TILE * LD;                          // [TILE][LP] dropped, unnormalized probabilities
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  const bool dropout = p.dropout_p > 0;

  for (int64_t blk = blockIdx.x; blk < blocks; blk += gridDim.x) {
    const int64_t bh = blk / q_tiles, i0 = (blk % q_tiles) * TILE;
    const int64_t b = bh / p.heads, h = bh % p.heads;
    const T* qg = p.q.data + b * p.q.sb + h * p.q.sh;
    const T* kg = p.k.data + b * p.k.sb + h * p.k.sh;
    const T* vg = p.v.data + b * p.v.sb + h * p.v.sh;
    const T* mask_bh = p.mask ? p.mask + b * p.mask_strides[0] + h * p.mask_strides[1] : nullptr;

    __syncthreads();  // the previous block iteration is done with the shared tiles
    load_tile<T, D, TILE>(qs, qg, p.q.ss, i0, p.seq_q, p.head_dim);

    T m[R], l[R], acc[R][C];  // running max, running Σ exp, Σ exp · keep · scale · v
#pragma unroll
    for (int r = 0; r < R; ++r) {
      m[r] = ninf<T>();
      l[r] = T(0);
#pragma unroll
      for (int c = 0; c < C; ++c) acc[r][c] = T(0);
    }

    for (int64_t j0 = 0; j0 < p.seq_k; j0 += TILE) {
      __syncthreads();  // everyone is done reading the previous K, V and P tiles
      load_tile<T, D, TILE>(ks, kg, p.k.ss, j0, p.seq_k, p.head_dim);
      load_tile<T, D, TILE>(vs, vg, p.v.ss, j0, p.seq_k, p.head_dim);
      __syncthreads();  // tiles (and, the first time, the query tile) in place

      T s[R][R];
      tile_dots<T, D, TILE>(qs, ks, s, ty, tx);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const int64_t i = i0 + ty * R + r;
        // Scores; keys past the end are −inf (exactly 0 weight). Rows past the end are computed
        // from zero queries (never stored) and read no mask.
#pragma unroll
        for (int c = 0; c < R; ++c) {
          const int64_t j = j0 + tx + 16 * c;
          s[r][c] = j >= p.seq_k  ? ninf<T>()
                    : i < p.seq_q ? attention_score(s[r][c], p, mask_bh, i, j)
                                  : s[r][c] / p.divisor;
        }
        T tile_max = s[r][0];
#pragma unroll
        for (int c = 1; c < R; ++c) tile_max = detail::MaxOp{}(tile_max, s[r][c]);
        tile_max = row_reduce(tile_max, detail::MaxOp{});
        const T m_new = detail::MaxOp{}(m[r], tile_max);
        // While every score so far is −inf, shift by 0: exp(−inf − 0) = 0, never exp(NaN).
        const T shift = m_new == ninf<T>() ? T(0) : m_new;
        const T alpha = detail::dexp(T(m[r] - shift));  // rescales what was summed under m[r]
        T sum = T(0);
#pragma unroll
        for (int c = 0; c < R; ++c) {
          const T e = detail::dexp(T(s[r][c] - shift));
          sum += e;  // the softmax normalizer counts dropped elements too (dropout comes after)
          T kept = e;
          if (dropout) {
            const int64_t j = j0 + tx + 16 * c;
            const uint64_t flat = uint64_t((bh * p.seq_q + i) * p.seq_k + j);
            kept = (i < p.seq_q && j < p.seq_k && attention_keep(p.seed, p.base, flat, threshold))
                       ? T(e * scale)
                       : T(0);
          }
          ps[(ty * R + r) * LP + tx + 16 * c] = kept;
        }
        sum = row_reduce(sum, detail::SumOp{});
        l[r] = alpha * l[r] + sum;
        m[r] = m_new;
#pragma unroll
        for (int c = 0; c < C; ++c) acc[r][c] *= alpha;
      }
      __syncthreads();  // the P tile is complete
      tile_accumulate<T, D, TILE, false>(ps, vs, acc, ty, tx);
    }

    // o = acc / l (a row with l == 0, all −inf or seq_k == 0, gives zeros); the statistics.
    T* og = out.data + b * out.sb + h * out.sh;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t i = i0 + ty * R + r;
      if (i >= p.seq_q) continue;
      const T inv = l[r] > T(0) ? T(T(1) / l[r]) : T(0);
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const int col = tx + 16 * c;
        if (col < p.head_dim) og[i * out.ss + col] = acc[r][c] * inv;
      }
      if (tx == 0) {
        // P = exp((z − row_max) − row_logsum): 0 everywhere for an l == 0 row (shift 0, +inf).
        row_max[bh * p.seq_q + i] = m[r] == ninf<T>() ? T(0) : m[r];
        row_logsum[bh * p.seq_q + i] = l[r] > T(0) ? detail::dlog(l[r]) : pinf<T>();
      }
    }
  }
}

/// delta[row] = Σ_c dO[row, c] · O[row, c] for the batch·heads·seq_q rows, a warp per row.
template <class T>
__global__ void attention_delta(AttentionOperand<const T> o, AttentionOperand<const T> dout,
                                int64_t heads, int64_t seq_q, int64_t d, int64_t rows, T* delta) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = detail::grid_start() / 32; row < rows; row += warps) {
    const int64_t i = row % seq_q, bh = row / seq_q, b = bh / heads, h = bh % heads;
    const T* orow = o.data + b * o.sb + h * o.sh + i * o.ss;
    const T* grow = dout.data + b * dout.sb + h * dout.sh + i * dout.ss;
    T s = T(0);
    for (int64_t c = lane; c < d; c += 32) s += orow[c] * grow[c];
    s = detail::warp_reduce(s, detail::SumOp{});
    if (lane == 0) delta[row] = s;
  }
}

/// Backward, the shared part of both kernels: the thread's R × R block of the probabilities
/// P (returned in s, as used by O: times keep · scale when `dropped`) and of dS (returned in dp)
/// for query rows i0 + ty·R + r and keys j0 + tx + 16c, from the tiles qs, ks, dos, vs and the
/// per-row statistics of the query tile in shared memory.
template <class T, int D, int TILE>
__device__ __forceinline__ void attention_probs_and_dscores(
    const AttentionParams<T>& p, const T* mask_bh, int64_t bh, int64_t i0, int64_t j0, const T* qs,
    const T* ks, const T* dos, const T* vs, const T* stat_max, const T* stat_logsum,
    const T* stat_delta, T scale, uint32_t threshold, T (&s)[TILE / 16][TILE / 16],
    T (&dp)[TILE / 16][TILE / 16], int ty, int tx) {
  constexpr int R = TILE / 16;
  tile_dots<T, D, TILE>(qs, ks, s, ty, tx);    // q·k
  tile_dots<T, D, TILE>(dos, vs, dp, ty, tx);  // dO·v: the gradient of the dropped probabilities
  const bool dropout = p.dropout_p > 0;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int li = ty * R + r;
    const int64_t i = i0 + li;
#pragma unroll
    for (int c = 0; c < R; ++c) {
      const int64_t j = j0 + tx + 16 * c;
      T prob = T(0), ds = T(0);
      if (i < p.seq_q && j < p.seq_k) {
        const T z = attention_score(s[r][c], p, mask_bh, i, j);
        prob = detail::dexp(T(T(z - stat_max[li]) - stat_logsum[li]));
        T g = dp[r][c];  // ∂loss/∂(dropped probability)
        T kept = prob;
        if (dropout) {
          const uint64_t flat = uint64_t((bh * p.seq_q + i) * p.seq_k + j);
          const bool keep = attention_keep(p.seed, p.base, flat, threshold);
          g = keep ? T(g * scale) : T(0);  // ∂loss/∂P
          kept = keep ? T(prob * scale) : T(0);
        }
        // softmax backward, then the 1/divisor of the scaling (the mask's derivative is 1)
        ds = T(prob * T(g - stat_delta[li])) / p.divisor;
        prob = kept;
      }
      s[r][c] = prob;
      dp[r][c] = ds;
    }
  }
}

/// Loads the query tile's statistics (row max, log-sum, delta) into shared memory. Rows past
/// the end get +inf log-sums, hence P = 0 (they are skipped anyway).
template <class T, int TILE>
__device__ __forceinline__ void load_stats(T* stat_max, T* stat_logsum, T* stat_delta,
                                           const T* row_max, const T* row_logsum, const T* delta,
                                           int64_t bh, int64_t i0, int64_t seq_q) {
  for (int t = threadIdx.x; t < TILE; t += detail::kAttentionThreads) {
    const int64_t i = i0 + t;
    const bool in = i < seq_q;
    stat_max[t] = in ? row_max[bh * seq_q + i] : T(0);
    stat_logsum[t] = in ? row_logsum[bh * seq_q + i] : pinf<T>();
    stat_delta[t] = in ? delta[bh * seq_q + i] : T(0);
  }
}

/// Writes the thread's rows of a [TILE][D] accumulator (rows r0 + ty·R + r < rows, columns
/// tx + 16c < d) to one (b, h) slice of an operand.
template <class T, int D, int TILE>
__device__ __forceinline__ void store_rows(T* dst, int64_t ld, const T (&acc)[TILE / 16][D / 16],
                                           int64_t r0, int64_t rows, int64_t d, int ty, int tx) {
  constexpr int R = TILE / 16, C = D / 16;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t row = r0 + ty * R + r;
    if (row >= rows) continue;
#pragma unroll
    for (int c = 0; c < C; ++c) {
      const int col = tx + 16 * c;
      if (col < d) dst[row * ld + col] = acc[r][c];
    }
  }
}

/// Backward step 2: a block per (b, h, key tile) accumulates dK and dV over all query tiles.
template <class T, int D>
__global__ void __launch_bounds__(detail::kAttentionThreads)
    attention_backward_dkdv(AttentionParams<T> p, AttentionOperand<const T> dout, const T* row_max,
                            const T* row_logsum, const T* delta, AttentionOperand<T> dk,
                            AttentionOperand<T> dv, int64_t k_tiles, int64_t blocks, T scale,
                            uint32_t threshold) {
  constexpr int TILE = detail::attention_tile<T, D>();
  constexpr int R = TILE / 16, C = D / 16, LD = D + 1, LP = TILE + 1;
  T* ks = reinterpret_cast<T*>(attention_shared);  // [TILE][LD] keys (this block's)
  T* vs = ks + TILE * LD;                          // [TILE][LD] values (this block's)
  T* qs = vs + TILE * LD;                          // [TILE][LD] queries (current query tile)
  T* dos = qs + TILE * LD;                         // [TILE][LD] output gradient rows
  T* ps = dos + TILE * LD;                         // [TILE][LP] P·keep·scale, then dS
  T* stat_max = ps + TILE * LP;                    // [TILE] per query row
  T* stat_logsum = stat_max + TILE;
  T* stat_delta = stat_logsum + TILE;
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;

  for (int64_t blk = blockIdx.x; blk < blocks; blk += gridDim.x) {
    const int64_t bh = blk / k_tiles, j0 = (blk % k_tiles) * TILE;
    const int64_t b = bh / p.heads, h = bh % p.heads;
    const T* qg = p.q.data + b * p.q.sb + h * p.q.sh;
    const T* kg = p.k.data + b * p.k.sb + h * p.k.sh;
    const T* vg = p.v.data + b * p.v.sb + h * p.v.sh;
    const T* dog = dout.data + b * dout.sb + h * dout.sh;
    const T* mask_bh = p.mask ? p.mask + b * p.mask_strides[0] + h * p.mask_strides[1] : nullptr;

    __syncthreads();  // the previous block iteration is done with the shared tiles
    load_tile<T, D, TILE>(ks, kg, p.k.ss, j0, p.seq_k, p.head_dim);
    load_tile<T, D, TILE>(vs, vg, p.v.ss, j0, p.seq_k, p.head_dim);

    // This thread's rows of dK and dV: keys j0 + ty·R + r, columns tx + 16c.
    T dk_acc[R][C], dv_acc[R][C];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int c = 0; c < C; ++c) dk_acc[r][c] = dv_acc[r][c] = T(0);

    for (int64_t i0 = 0; i0 < p.seq_q; i0 += TILE) {
      __syncthreads();  // everyone is done with the previous query tile and ps
      load_tile<T, D, TILE>(qs, qg, p.q.ss, i0, p.seq_q, p.head_dim);
      load_tile<T, D, TILE>(dos, dog, dout.ss, i0, p.seq_q, p.head_dim);
      load_stats<T, TILE>(stat_max, stat_logsum, stat_delta, row_max, row_logsum, delta, bh, i0,
                          p.seq_q);
      __syncthreads();

      T s[R][R], ds[R][R];
      attention_probs_and_dscores<T, D, TILE>(p, mask_bh, bh, i0, j0, qs, ks, dos, vs, stat_max,
                                              stat_logsum, stat_delta, scale, threshold, s, ds, ty,
                                              tx);
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int c = 0; c < R; ++c) ps[(ty * R + r) * LP + tx + 16 * c] = s[r][c];
      __syncthreads();
      tile_accumulate<T, D, TILE, true>(ps, dos, dv_acc, ty, tx);  // dV += (P·keep·scale)ᵀ dO
      __syncthreads();  // done reading P: ps now takes dS
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int c = 0; c < R; ++c) ps[(ty * R + r) * LP + tx + 16 * c] = ds[r][c];
      __syncthreads();
      tile_accumulate<T, D, TILE, true>(ps, qs, dk_acc, ty, tx);  // dK += dSᵀ Q
    }

    store_rows<T, D, TILE>(dk.data + b * dk.sb + h * dk.sh, dk.ss, dk_acc, j0, p.seq_k, p.head_dim,
                           ty, tx);
    store_rows<T, D, TILE>(dv.data + b * dv.sb + h * dv.sh, dv.ss, dv_acc, j0, p.seq_k, p.head_dim,
                           ty, tx);
  }
}

/// Backward step 3: a block per (b, h, query tile) accumulates dQ over all key tiles.
template <class T, int D>
__global__ void __launch_bounds__(detail::kAttentionThreads)
    attention_backward_dq(AttentionParams<T> p, AttentionOperand<const T> dout, const T* row_max,
                          const T* row_logsum, const T* delta, AttentionOperand<T> dq,
                          int64_t q_tiles, int64_t blocks, T scale, uint32_t threshold) {
  constexpr int TILE = detail::attention_tile<T, D>();
  constexpr int R = TILE / 16, C = D / 16, LD = D + 1, LP = TILE + 1;
  T* qs = reinterpret_cast<T*>(attention_shared);  // [TILE][LD] queries (this block's)
  T* dos = qs + TILE * LD;                         // [TILE][LD] output gradient rows (this block's)
  T* ks = dos + TILE * LD;                         // [TILE][LD] keys (current key tile)
  T* vs = ks + TILE * LD;                          // [TILE][LD] values (current key tile)
  T* ps = vs + TILE * LD;                          // [TILE][LP] dS
  T* stat_max = ps + TILE * LP;
  T* stat_logsum = stat_max + TILE;
  T* stat_delta = stat_logsum + TILE;
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;

  for (int64_t blk = blockIdx.x; blk < blocks; blk += gridDim.x) {
    const int64_t bh = blk / q_tiles, i0 = (blk % q_tiles) * TILE;
    const int64_t b = bh / p.heads, h = bh % p.heads;
    const T* qg = p.q.data + b * p.q.sb + h * p.q.sh;
    const T* kg = p.k.data + b * p.k.sb + h * p.k.sh;
    const T* vg = p.v.data + b * p.v.sb + h * p.v.sh;
    const T* dog = dout.data + b * dout.sb + h * dout.sh;
    const T* mask_bh = p.mask ? p.mask + b * p.mask_strides[0] + h * p.mask_strides[1] : nullptr;

    __syncthreads();  // the previous block iteration is done with the shared tiles
    load_tile<T, D, TILE>(qs, qg, p.q.ss, i0, p.seq_q, p.head_dim);
    load_tile<T, D, TILE>(dos, dog, dout.ss, i0, p.seq_q, p.head_dim);
    load_stats<T, TILE>(stat_max, stat_logsum, stat_delta, row_max, row_logsum, delta, bh, i0,
                        p.seq_q);

    T dq_acc[R][C];  // this thread's rows of dQ: queries i0 + ty·R + r, columns tx + 16c
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int c = 0; c < C; ++c) dq_acc[r][c] = T(0);

    for (int64_t j0 = 0; j0 < p.seq_k; j0 += TILE) {
      __syncthreads();  // everyone is done with the previous key tile and ps
      load_tile<T, D, TILE>(ks, kg, p.k.ss, j0, p.seq_k, p.head_dim);
      load_tile<T, D, TILE>(vs, vg, p.v.ss, j0, p.seq_k, p.head_dim);
      __syncthreads();

      T s[R][R], ds[R][R];
      attention_probs_and_dscores<T, D, TILE>(p, mask_bh, bh, i0, j0, qs, ks, dos, vs, stat_max,
                                              stat_logsum, stat_delta, scale, threshold, s, ds, ty,
                                              tx);
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int c = 0; c < R; ++c) ps[(ty * R + r) * LP + tx + 16 * c] = ds[r][c];
      __syncthreads();
      tile_accumulate<T, D, TILE, false>(ps, ks, dq_acc, ty, tx);  // dQ += dS K
    }

    store_rows<T, D, TILE>(dq.data + b * dq.sb + h * dq.sh, dq.ss, dq_acc, i0, p.seq_q, p.head_dim,
                           ty, tx);
  }
}

}  // namespace kernel

namespace detail {

/// Launches the forward for padded head dim D (see attention_forward below).
template <class T, int D>
inline void attention_forward_d(const AttentionParams<T>& p, const AttentionOperand<T>& out,
                                T* row_max, T* row_logsum, T scale, uint32_t threshold) {
  constexpr int tile = attention_tile<T, D>();
  constexpr std::size_t smem = attention_smem<T, D>(3);
  // More than the default 48 KB of shared memory needs an opt-in per kernel; once per
  // instantiation (the attribute belongs to the function; ember runs on one device).
  static const bool opted_in = [] {
    EMBER_CUDA_CHECK(cudaFuncSetAttribute(kernel::attention_forward<T, D>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
    return true;
  }();
  (void)opted_in;
  const int64_t q_tiles = (p.seq_q + tile - 1) / tile, blocks = p.batch * p.heads * q_tiles;
  kernel::attention_forward<T, D>
      <<<grid_for_rows(blocks), kAttentionThreads, smem, current_stream()>>>(
          p, out, row_max, row_logsum, q_tiles, blocks, scale, threshold);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// Launches backward steps 2 and 3 for padded head dim D (see attention_backward below).
template <class T, int D>
inline void attention_backward_d(const AttentionParams<T>& p,
                                 const AttentionOperand<const T>& grad_out, const T* row_max,
                                 const T* row_logsum, const T* delta, const AttentionOperand<T>& dq,
                                 const AttentionOperand<T>& dk, const AttentionOperand<T>& dv,
                                 T scale, uint32_t threshold) {
  constexpr int tile = attention_tile<T, D>();
  constexpr std::size_t smem = attention_smem<T, D>(4);
  static const bool opted_in = [] {
    EMBER_CUDA_CHECK(cudaFuncSetAttribute(kernel::attention_backward_dkdv<T, D>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
    EMBER_CUDA_CHECK(cudaFuncSetAttribute(kernel::attention_backward_dq<T, D>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
    return true;
  }();
  (void)opted_in;
  cudaStream_t stream = current_stream();
  // dK, dV: a block per key tile. With seq_q == 0 the blocks write zeros.
  const int64_t k_tiles = (p.seq_k + tile - 1) / tile, kv_blocks = p.batch * p.heads * k_tiles;
  if (kv_blocks > 0) {
    kernel::attention_backward_dkdv<T, D>
        <<<grid_for_rows(kv_blocks), kAttentionThreads, smem, stream>>>(
            p, grad_out, row_max, row_logsum, delta, dk, dv, k_tiles, kv_blocks, scale, threshold);
    EMBER_CUDA_CHECK_LAUNCH();
  }
  // dQ: a block per query tile. With seq_k == 0 the blocks write zeros.
  const int64_t q_tiles = (p.seq_q + tile - 1) / tile, q_blocks = p.batch * p.heads * q_tiles;
  if (q_blocks > 0) {
    kernel::attention_backward_dq<T, D>
        <<<grid_for_rows(q_blocks), kAttentionThreads, smem, stream>>>(
            p, grad_out, row_max, row_logsum, delta, dq, q_tiles, q_blocks, scale, threshold);
    EMBER_CUDA_CHECK_LAUNCH();
  }
}

/// The dropout scale 1/(1 − p) (as ops/dropout.hpp) and keep threshold of p (0: no dropout).
template <class T>
inline T attention_dropout_scale(double p) {
  return p > 0 ? T(1.0 / (1.0 - p)) : T(1);
}

}  // namespace detail

/// Whether the current device's shared memory per block (its opt-in limit) holds the attention
/// kernels for `head_dim` ≤ kMaxAttentionHeadDim. Backward's four tiles are the most: up to
/// 141 KB for double at head dim 128, more than the 99 KB of sm_86/sm_89 (the 227 KB of sm_90
/// holds every case). The limit is queried once per device.
template <class T>
inline bool attention_fits(int64_t head_dim) {
  const std::size_t need = head_dim <= 32   ? detail::attention_smem<T, 32>(4)
                           : head_dim <= 64 ? detail::attention_smem<T, 64>(4)
                                            : detail::attention_smem<T, 128>(4);
  static std::atomic<int> limit[kMaxDevices];  // bytes; 0 (static zero-init) = not queried yet
  const int device = detail::current_device();
  int bytes = limit[device].load(std::memory_order_relaxed);
  if (bytes == 0) {
    EMBER_CUDA_CHECK(
        cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    limit[device].store(bytes, std::memory_order_relaxed);
  }
  return need <= std::size_t(bytes);
}

/// out = dropout(softmax(q kᵀ / divisor + mask)) v (backend/types.hpp's AttentionParams, head_dim ≤
/// kMaxAttentionHeadDim); row_max and row_logsum get batch·heads·seq_q contiguous entries each
/// (what backward needs). Every element of out is written (zeros where seq_k is 0).
template <class T>
inline void attention_forward(const AttentionParams<T>& p, const AttentionOperand<T>& out,
                              T* row_max, T* row_logsum) {
  if (p.batch == 0 || p.heads == 0 || p.seq_q == 0) return;
  const T scale = detail::attention_dropout_scale<T>(p.dropout_p);
  const uint32_t threshold = backend::dropout_threshold(p.dropout_p);
  if (p.head_dim <= 32)
    detail::attention_forward_d<T, 32>(p, out, row_max, row_logsum, scale, threshold);
  else if (p.head_dim <= 64)
    detail::attention_forward_d<T, 64>(p, out, row_max, row_logsum, scale, threshold);
  else
    detail::attention_forward_d<T, 128>(p, out, row_max, row_logsum, scale, threshold);
}

/// dq, dk, dv of attention_forward from grad_out, the forward's out, row_max and row_logsum;
/// `delta` is a workspace of batch·heads·seq_q elements. Every element of dq, dk and dv is
/// written (zeros where seq_q or seq_k is 0). Deterministic: no atomics.
template <class T>
inline void attention_backward(const AttentionParams<T>& p, const AttentionOperand<const T>& out,
                               const AttentionOperand<const T>& grad_out, const T* row_max,
                               const T* row_logsum, T* delta, const AttentionOperand<T>& dq,
                               const AttentionOperand<T>& dk, const AttentionOperand<T>& dv) {
  if (p.batch == 0 || p.heads == 0) return;
  const T scale = detail::attention_dropout_scale<T>(p.dropout_p);
  const uint32_t threshold = backend::dropout_threshold(p.dropout_p);
  const int64_t rows = p.batch * p.heads * p.seq_q;
  if (rows > 0) {  // step 1: delta = rowsum(dO ∘ O), a warp per row
    kernel::attention_delta<T>
        <<<detail::grid_for(rows * 32), detail::kThreads, 0, current_stream()>>>(
            out, grad_out, p.heads, p.seq_q, p.head_dim, rows, delta);
    EMBER_CUDA_CHECK_LAUNCH();
  }
  if (p.head_dim <= 32)
    detail::attention_backward_d<T, 32>(p, grad_out, row_max, row_logsum, delta, dq, dk, dv, scale,
                                        threshold);
  else if (p.head_dim <= 64)
    detail::attention_backward_d<T, 64>(p, grad_out, row_max, row_logsum, delta, dq, dk, dv, scale,
                                        threshold);
  else
    detail::attention_backward_d<T, 128>(p, grad_out, row_max, row_logsum, delta, dq, dk, dv, scale,
                                         threshold);
}

}  // namespace ember::backend::cuda
