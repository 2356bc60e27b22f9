// ember/ops/attention.hpp — fused scaled-dot-product attention on the CPU and on CUDA tensors,
// forward and backward: softmax(q kᵀ / √d + mask) v with dropout on the probabilities, computed
// block by block (FlashAttention-2, Dao 2023) without materializing the
// [batch, heads, seq_q, seq_k] matrix (kernels: backend/cpu/attention.hpp,
// backend/cuda/attention.cuh).
//
// The unfused path (scaled_dot_product_attention below: matmul → scaled_masked_softmax → dropout
// → matmul) stays the reference; scaled_dot_product_attention calls `fused_attention` whenever
// `fused_attention_supported` says the shapes allow it. Same math, same order of the scaling and the mask (scores / √d, then
// + mask, in T), and the same dropout mask bit for bit: the op reserves ceil(n / 4) Philox
// blocks from the Generator for n = batch·heads·seq_q·seq_k elements, exactly as ember::dropout
// on the unfused path's contiguous probabilities, and element (b, h, i, j) uses the word of
// flat index ((b·heads + h)·seq_q + i)·seq_k + j (backend/cuda/attention.cuh). Results agree
// with the unfused path to rounding (fp32 ~1e-6 relative): the sums run in another order.
//
// Saved for backward: q, k, v, the mask, the output and two numbers per query row (the softmax
// row max and log Σ exp, in T — the accumulation type of float and double), never the
// probabilities; backward recomputes them tile by tile (attention.cuh explains why the two
// statistics are kept apart rather than summed into one log-sum-exp). The backward is
// deterministic (no atomics).
//
// Layouts. q, k, v may be any strided views whose last dim is dense (others are copied first):
// MultiHeadAttention's view + permute of the projections is read in place. The output is
// returned as a [batch, heads, seq_q, d] view of a [batch, seq_q, heads, d] buffer: the layout
// MultiHeadAttention merges the heads from, so its permute + reshape back to
// [batch, seq, hidden] is a view, not a copy. Gradients of q, k, v come in their inputs'
// layout when that is this head-interleaved one, contiguous otherwise.
//
// The switch `ember::set_fused_attention(false)` (also spelled `ember::cuda::set_fused_attention`)
// makes nn::scaled_dot_product_attention take the unfused path on every device (the tests compare
// the two; default: on).
#pragma once

#include <ember/autograd/grad_mode.hpp>
#include <ember/autograd/node.hpp>
#include <ember/backend/backend.hpp>
#include <ember/core/generator.hpp>
#include <ember/core/shape.hpp>
#include <ember/ops/dropout.hpp>
#include <ember/ops/matmul.hpp>
#include <ember/ops/softmax.hpp>
#include <ember/tensor/tensor.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace ember {

namespace detail {
inline std::atomic<bool>& fused_attention_flag() {
  static std::atomic<bool> on{true};
  return on;
}
}  // namespace detail

/// Whether nn::scaled_dot_product_attention may use the fused kernels, on the CPU and on the GPU
/// (default true). Off: the unfused path (matmul → scaled_masked_softmax → dropout → matmul) —
/// for comparisons and debugging.
inline void set_fused_attention(bool on) { detail::fused_attention_flag().store(on); }
/// The current value of set_fused_attention.
inline bool fused_attention_enabled() { return detail::fused_attention_flag().load(); }

namespace cuda {
/// The same switch as ember::set_fused_attention (its name from when only the GPU had the kernel).
inline void set_fused_attention(bool on) { ember::set_fused_attention(on); }
/// The current value of set_fused_attention.
inline bool fused_attention_enabled() { return ember::fused_attention_enabled(); }
}  // namespace cuda

namespace detail {

/// Why `fused_attention` cannot take these arguments, or null when it can.
template <class T>
const char* fused_attention_unsupported(const Tensor<T>& q, const Tensor<T>& k, const Tensor<T>& v,
                                        const Tensor<T>& mask, double dropout_p, bool training) {
  if (!(std::is_same_v<T, float> || std::is_same_v<T, double>))
    return "only float and double tensors have the fused kernel";
  if (!q.defined() || !k.defined() || !v.defined()) return "q, k and v must be defined";
  if (k.device() != q.device() || v.device() != q.device() ||
      (mask.defined() && mask.device() != q.device()))
    return "q, k, v and the mask must be on the same device";
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4)
    return "q, k and v must be 4-D [batch, heads, seq, head_dim]";
  if (k.size(0) != q.size(0) || k.size(1) != q.size(1) || v.shape() != k.shape() ||
      k.size(3) != q.size(3))
    return "q [b, h, seq_q, d], k and v [b, h, seq_k, d] must agree (no broadcasting)";
  if (q.size(3) < 1 || q.size(3) > backend::kMaxAttentionHeadDim)
    return "the head dim must be between 1 and 128";
  if (training && dropout_p > 0.0 && !(dropout_p < 1.0)) return "dropout p must be below 1";
  if (!backend::kernels<T>(q.device(), "fused_attention").attention_fits(q.size(3)))
    return "this device has no fused kernel for this head dim (on a GPU, the shared memory per "
           "block is too small)";
  if (mask.defined()) {
    if (mask.dim() > 4) return "the mask has more than 4 dims";
    const Shape target{q.size(0), q.size(1), q.size(2), k.size(2)};
    const int off = 4 - mask.dim();
    for (int i = 0; i < mask.dim(); ++i)
      if (mask.size(i) != 1 && mask.size(i) != target[off + i])
        return "the mask does not broadcast to [batch, heads, seq_q, seq_k]";
    if (is_grad_enabled() && mask.requires_grad()) return "the mask must not require grad";
  }
  return nullptr;
}

/// `t` itself when its last dim is dense (or has one element), else a contiguous copy.
template <class T>
Tensor<T> dense_last_dim(const Tensor<T>& t) {
  return t.size(-1) <= 1 || t.stride(-1) == 1 ? t : t.contiguous();
}

/// Whether t [b, h, s, d] is the permuted view of a contiguous [b, s, h, d] buffer.
template <class T>
bool heads_interleaved(const Tensor<T>& t) {
  const int64_t h = t.size(1), s = t.size(2), d = t.size(3);
  return t.stride(3) == 1 && t.stride(1) == d && t.stride(2) == h * d && t.stride(0) == s * h * d;
}

/// An uninitialized [b, h, s, d] tensor on `like`'s device: a view of a [b, s, h, d] buffer
/// when `interleaved`, contiguous otherwise.
template <class T>
Tensor<T> empty_heads(const Tensor<T>& like, bool interleaved) {
  const int64_t b = like.size(0), h = like.size(1), s = like.size(2), d = like.size(3);
  if (!interleaved) return Tensor<T>::empty({b, h, s, d}, like.device());
  return Tensor<T>::empty({b, s, h, d}, like.device()).permute({0, 2, 1, 3});
}

/// The kernel's view of a [b, h, s, d] tensor whose last dim is dense.
template <class P, class T>
backend::AttentionOperand<P> attention_operand(const Tensor<T>& t) {
  return {t.data(), t.stride(0), t.stride(1), t.stride(2)};
}

}  // namespace detail

/// True when `fused_attention` accepts these arguments (and set_fused_attention is on): CPU or
/// CUDA float/double tensors q [b, h, seq_q, d], k and v [b, h, seq_k, d] (the same b, h, d; views
/// allowed), 1 ≤ d ≤ 128, a mask (if any) of at most 4 dims broadcastable to
/// [b, h, seq_q, seq_k] that does not require grad, dropout p < 1 when training, and a device
/// whose shared memory per block holds the kernels (double with head dim ≤ 32 or > 64 needs more
/// than the 99 KB of sm_86/sm_89 cards).
template <class T>
bool fused_attention_supported(const Tensor<T>& q, const Tensor<T>& k, const Tensor<T>& v,
                               const Tensor<T>& additive_mask = Tensor<T>(), double dropout_p = 0.0,
                               bool training = false) {
  return fused_attention_enabled() &&
         detail::fused_attention_unsupported(q, k, v, additive_mask, dropout_p, training) ==
             nullptr;
}

/// softmax(q kᵀ / √d + additive_mask) v in one fused kernel (CPU or CUDA tensors), with inverted
/// dropout of probability `dropout_p` on the probabilities when `training` (random bits from
/// `gen`, advanced exactly as ember::dropout on the [b, h, seq_q, seq_k] probabilities would).
///   q [batch, heads, seq_q, d], k and v [batch, heads, seq_k, d]; additive_mask undefined or
///   broadcastable to [batch, heads, seq_q, seq_k] (e.g. nn::additive_attention_mask's
///   [batch, 1, 1, seq_k], read in place); returns [batch, heads, seq_q, d] (a view, see above).
/// Throws `ember::Error` naming what is not supported (see fused_attention_supported; the
/// set_fused_attention switch is not consulted here).
template <class T>
Tensor<T> fused_attention(const Tensor<T>& q_in, const Tensor<T>& k_in, const Tensor<T>& v_in,
                          const Tensor<T>& additive_mask = Tensor<T>(), double dropout_p = 0.0,
                          bool training = false, Generator& gen = default_generator()) {
  const char* op = "fused_attention";
  const char* why =
      detail::fused_attention_unsupported(q_in, k_in, v_in, additive_mask, dropout_p, training);
  EMBER_CHECK(why == nullptr, op, ": ", why, " (found q ", q_in.defined() ? q_in.shape() : Shape{},
              ", k ", k_in.defined() ? k_in.shape() : Shape{}, ", v ",
              v_in.defined() ? v_in.shape() : Shape{}, " on ",
              q_in.defined() ? q_in.device() : Device::cpu(), ")");
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    const Tensor<T> q = detail::dense_last_dim(q_in.detach()),
                    k = detail::dense_last_dim(k_in.detach()),
                    v = detail::dense_last_dim(v_in.detach());
    const Tensor<T> mask = additive_mask.defined() ? additive_mask.detach() : Tensor<T>();
    const int64_t b = q.size(0), h = q.size(1), sq = q.size(2), sk = k.size(2), d = q.size(3);

    backend::AttentionParams<T> p;
    p.batch = b;
    p.heads = h;
    p.seq_q = sq;
    p.seq_k = sk;
    p.head_dim = d;
    p.q = detail::attention_operand<const T>(q);
    p.k = detail::attention_operand<const T>(k);
    p.v = detail::attention_operand<const T>(v);
    if (mask.defined()) {
      const Shape ms = broadcast_strides(mask.shape(), mask.strides(), Shape{b, h, sq, sk});
      p.mask = mask.data();
      for (int i = 0; i < 4; ++i) p.mask_strides[i] = ms[i];
    }
    p.divisor = T(std::sqrt(double(d)));  // as the unfused path's scaled_masked_softmax
    if (training && dropout_p > 0.0) {
      // What ember::dropout reserves for the n probabilities: ceil(n / 4) blocks.
      const uint64_t n = uint64_t(b) * uint64_t(h) * uint64_t(sq) * uint64_t(sk);
      p.dropout_p = dropout_p;
      p.seed = gen.seed();
      p.base = gen.reserve((n + 3) / 4);
    }

    Tensor<T> out = detail::empty_heads(q, /*interleaved=*/true);
    Tensor<T> row_max = Tensor<T>::empty({b, h, sq}, q.device());
    Tensor<T> row_logsum = Tensor<T>::empty({b, h, sq}, q.device());
    const backend::Kernels<T>& kern = backend::kernels<T>(q.device(), op);
    kern.attention_forward(p, detail::attention_operand<T>(out), row_max.data(), row_logsum.data());

    if (autograd::any_requires_grad(q_in, k_in, v_in)) {
      // The saved inputs are q, k, v as the kernel read them (p points into them).
      autograd::record(
          out, op, {q_in, k_in, v_in},
          [op, p, row_max, row_logsum, sq_ = autograd::SavedTensor<T>(q),
           sk_ = autograd::SavedTensor<T>(k), sv_ = autograd::SavedTensor<T>(v),
           sm_ = mask.defined() ? autograd::SavedTensor<T>(mask) : autograd::SavedTensor<T>(),
           so_ = autograd::SavedTensor<T>(out), q_interleaved = detail::heads_interleaved(q_in),
           k_interleaved = detail::heads_interleaved(k_in),
           v_interleaved = detail::heads_interleaved(v_in)](const Tensor<T>& g) {
            // Check that nothing saved was modified in place (the pointers in p read them).
            const Tensor<T>& qv = sq_.get(op);
            const Tensor<T>& kv = sk_.get(op);
            const Tensor<T>& vv = sv_.get(op);
            sm_.get(op);
            const Tensor<T>& ov = so_.get(op);
            const Tensor<T> go = detail::dense_last_dim(g);
            Tensor<T> dq = detail::empty_heads(qv, q_interleaved);
            Tensor<T> dk = detail::empty_heads(kv, k_interleaved);
            Tensor<T> dv = detail::empty_heads(vv, v_interleaved);
            Tensor<T> delta = Tensor<T>::empty({qv.size(0), qv.size(1), qv.size(2)}, qv.device());
            backend::kernels<T>(qv.device(), op).attention_backward(
                p, detail::attention_operand<const T>(ov), detail::attention_operand<const T>(go),
                row_max.data(), row_logsum.data(), delta.data(), detail::attention_operand<T>(dq),
                detail::attention_operand<T>(dk), detail::attention_operand<T>(dv));
            return autograd::Grads<T>{dq, dk, dv};
          });
    }
    return out;
  } else {
    EMBER_FAIL(op, ": only float and double tensors have the fused kernel");
  }
}

// ---- scaled dot-product attention -----------------------------------------------------------------

/// softmax(q kᵀ / √d + mask) v with dropout on the probabilities (the core of attention).
/// q [..., seq_q, d], k [..., seq_k, d], v [..., seq_k, d_v] (leading dims broadcast as in
/// `matmul`); `additive_mask` (optional) broadcastable to [..., seq_q, seq_k]. Returns
/// [..., seq_q, d_v]. Dropout (probability `dropout_p`) applies only when `training`.
/// Throws `ember::Error` when the last dims of q and k differ or k and v disagree on seq_k
/// (further shape errors come from the ops).
/// Takes the fused kernel when `fused_attention_supported`; otherwise runs the unfused ops below
/// (the reference).
template <class T>
Tensor<T> scaled_dot_product_attention(const Tensor<T>& q, const Tensor<T>& k, const Tensor<T>& v,
                                       const Tensor<T>& additive_mask = Tensor<T>(),
                                       double dropout_p = 0.0, bool training = false,
                                       Generator& gen = default_generator()) {
  EMBER_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2 && q.size(-1) == k.size(-1) &&
                  k.size(-2) == v.size(-2),
              "scaled_dot_product_attention: expected q [..., seq_q, d], k [..., seq_k, d], "
              "v [..., seq_k, d_v], found q ",
              q.shape(), ", k ", k.shape(), ", v ", v.shape());
  if (fused_attention_supported(q, k, v, additive_mask, dropout_p, training))
    return fused_attention(q, k, v, additive_mask, dropout_p, training, gen);
  // HF's eager BertSelfAttention divides the scores (not q) by √d, adds the mask, then takes the
  // softmax; scaled_masked_softmax does the three in one pass (and one pass backward).
  Tensor<T> probs = scaled_masked_softmax(matmul(q, k.transpose(-2, -1)),
                                                 std::sqrt(double(q.size(-1))), additive_mask);
  if (training && dropout_p > 0.0) probs = dropout(probs, dropout_p, training, gen);
  return matmul(probs, v);
}

}  // namespace ember
