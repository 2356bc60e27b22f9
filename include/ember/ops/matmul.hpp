// ember/ops/matmul.hpp — matrix products: `matmul` (PyTorch's torch.matmul) and `linear`
// (torch.nn.functional.linear), each with its backward beside it.
//
// matmul(a, b), by the operands' ranks (PyTorch semantics):
//   [k]·[k] → [] (dot)          [n, k]·[k, m] → [n, m]          [k]·[k, m] → [m]
//   [n, k]·[k] → [n]            [..., n, k]·[..., k, m] → [..., n, m], batch dims broadcast
// A 1-D left operand is promoted to [1, k] and a 1-D right operand to [k, 1]; the added dim is
// removed from the result. Batch dims ("...") broadcast as in elementwise ops.
//
// No copies for views: an operand whose last two dims have strides (ld, 1) or (1, ld) is read in
// place (row- or column-major GEMM operand), so `b.transpose(-1, -2)`, `W.t()` and head-split
// views cost nothing; only other layouts (a step inside the matrix, a stride-0 broadcast of a
// matrix dim) are made contiguous. Batch dims are walked with their strides (stride 0 where
// broadcast) and are never copied either. When the right operand is one matrix for the whole
// batch (a weight), the batch is folded into the rows and the whole thing is ONE GEMM.
//
// Backward of C = A·B (per batch entry): dA = dC·Bᵀ, dB = Aᵀ·dC. When an operand was broadcast
// over batch dims its gradient is the sum over them. For the common case — a 2-D weight B
// against an N-D input A — dB = Σ_b A[b]ᵀ·dC[b] is computed as one GEMM over the folded rows
// (A as [batch·n, k]ᵀ times dC as [batch·n, m]) instead of materializing [batch, k, m] and then
// summing; other fully-broadcast operands accumulate into one matrix (β = 1) product by
// product; partial broadcasts ([2, 1, …] against [5, …]) compute the batched gradient and sum it.
// Saves: A when B needs a gradient, B when A does (no copies: the saved tensors are the inputs).
//
// linear(x, W, b) = x·Wᵀ + b with W in PyTorch's layout [out_features, in_features]: x's leading
// dims are folded into the rows, so [..., in] → [..., out] is ONE GEMM; the output is first
// filled with the bias and the GEMM accumulates onto it (β = 1), so the bias costs no extra pass.
// Backward (x as [R, in], dy as [R, out]): dx = dy·W, dW = dyᵀ·x (one GEMM, summed over all R
// rows), db = Σ_rows dy. Saves x when W needs a gradient, W when x does. A call that records no
// graph (inference) lets the backend keep W packed for its kernels with W's storage and reuse it
// while W's version is unchanged (backend/cpu/packed_gemm.hpp: 2–5× faster products at a few
// rows); a write into W through a raw data() pointer must be followed by bump_version().
#pragma once

#include <ember/autograd/node.hpp>
#include <ember/backend/backend.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/tensor/tensor.hpp>

#include <type_traits>
#include <vector>

namespace ember {

using cuda::MatmulPrecision;  // highest, high, medium (backend/types.hpp)

/// How fp32 matrix products compute on `device` (PyTorch's torch.set_float32_matmul_precision):
/// `highest` (default) fp32; `high` TF32 on a GPU (fp32 on the CPU); `medium` bf16 inputs with
/// fp32 accumulation — on the GPU's tensor cores, or on a CPU with AMX-BF16 / AVX512-BF16 through
/// oneDNN (backend/cpu/gemm_bf16.hpp; a CPU without them, or a build without oneDNN, stays fp32:
/// see ember::cpu_info().bf16_products). Inputs and outputs stay fp32 tensors. Process-wide.
inline void set_float32_matmul_precision(MatmulPrecision precision, Device device) {
  backend::runtime(device, "set_float32_matmul_precision").set_float32_matmul_precision(precision);
}
/// The current setting of set_float32_matmul_precision for `device`.
inline MatmulPrecision get_float32_matmul_precision(Device device) {
  return backend::runtime(device, "get_float32_matmul_precision").float32_matmul_precision();
}

namespace detail {

/// backend::collapse_dims over Shapes: whether dims [first, last) read as one dim at one stride.
inline bool collapse_dims(const Shape& shape, const Shape& strides, int first, int last,
                          int64_t* stride) {
  return backend::collapse_dims(shape.begin(), strides.begin(), first, last, stride);
}

/// A matrix operand for the GEMM kernels: the last two dims of `t` (after any copy).
template <class T>
struct GemmOperand {
  Tensor<T> t;  // the tensor read (the input itself, or a contiguous copy)
  int64_t rows, cols, rs, cs;
};

/// The last two dims of `t` as a GEMM operand, copying only when their layout is unreadable.
/// `t` must be detached (no autograd recording here).
template <class T>
GemmOperand<T> gemm_operand(const Tensor<T>& t) {
  const int d = t.dim();
  int64_t rows = t.shape()[d - 2], cols = t.shape()[d - 1];
  backend::GemmLayout l;
  Tensor<T> u = t;
  if (!backend::gemm_layout(rows, cols, t.strides()[d - 2], t.strides()[d - 1], &l))
    u = t.contiguous();
  return {u, rows, cols, u.strides()[d - 2], u.strides()[d - 1]};
}

/// C[m, n] (row-major, leading dim ldc) = α·A·B + β·C (+ bias rows) for A [m, k] at strides
/// (a_rs, a_cs) and B [k, n] at (b_rs, b_cs), on `device`'s GEMM kernel; `batch` (GemmBatch)
/// repeats it over batch entries at the given strides.
template <class T>
void gemm_on(Device device, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t a_rs,
             int64_t a_cs, const T* b, int64_t b_rs, int64_t b_cs, T beta, T* c, int64_t ldc,
             const T* bias = nullptr, const backend::GemmBatch& batch = {}) {
  backend::GemmArgs<T> g;
  g.m = m, g.n = n, g.k = k, g.alpha = alpha, g.beta = beta;
  g.a = a, g.a_rs = a_rs, g.a_cs = a_cs;
  g.b = b, g.b_rs = b_rs, g.b_cs = b_cs;
  g.c = c, g.ldc = ldc, g.bias = bias, g.batch = batch;
  backend::kernels<T>(device, "matmul").gemm(g);
}

/// Batch shape (all dims but the last two).
inline Shape batch_of(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

/// The batch strides of `t` read over `out_batch` (0 where broadcast).
template <class T>
Shape batch_strides_for(const Tensor<T>& t, const Shape& out_batch) {
  Shape bs = batch_of(t.shape()), st = batch_of(t.strides());
  return broadcast_strides(bs, st, out_batch);
}

/// out = x·y per batch entry over `out_batch` (x: [xb..., n, k], y: [yb..., k, m], both
/// broadcast to out_batch; out contiguous [out_batch..., n, m]), scaled by alpha; beta as GEMM.
/// x and y must be detached. When y is one matrix for every entry and x's batch dims fold into
/// its rows, this is a single GEMM of [batch·n, k]·[k, m].
template <class T>
void bmm_into(const Tensor<T>& x_in, const Tensor<T>& y_in, const Shape& out_batch, T* out) {
  GemmOperand<T> x = gemm_operand(x_in), y = gemm_operand(y_in);
  const int64_t n = x.rows, k = x.cols, m = y.cols;
  Shape xbs = batch_strides_for(x.t, out_batch), ybs = batch_strides_for(y.t, out_batch);
  const int64_t batch = out_batch.numel();
  bool y_shared = true;
  for (int64_t s : ybs) y_shared = y_shared && s == 0;
  const Device dev = x.t.device();
  if (batch <= 1 || y_shared) {
    // Fold the batch into x's rows: row (b, i) of the [batch·n, k] matrix at one stride.
    Shape rows = out_batch, rows_st = xbs;
    rows.push_back(n);
    rows_st.push_back(x.rs);
    int64_t rs = x.rs;
    backend::GemmLayout l;
    if (collapse_dims(rows, rows_st, 0, rows.size(), &rs) &&
        backend::gemm_layout(batch * n, k, rs, x.cs, &l)) {
      gemm_on<T>(dev, batch * n, m, k, T(1), x.t.data(), rs, x.cs, y.t.data(), y.rs, y.cs, T(0),
                 out, m);
      return;
    }
  }
  Shape cbs = contiguous_strides(out_batch);
  for (int64_t& st : cbs) st *= n * m;
  backend::GemmBatch bt;
  bt.ndim = out_batch.size();
  for (int d = 0; d < bt.ndim; ++d) {
    bt.sizes[d] = out_batch[d];
    bt.a[d] = xbs[d];
    bt.b[d] = ybs[d];
    bt.c[d] = cbs[d];
  }
  gemm_on<T>(dev, n, m, k, T(1), x.t.data(), x.rs, x.cs, y.t.data(), y.rs, y.cs, T(0), out, m,
             nullptr, bt);
}

/// Gradient-style product with reduction: returns r of shape `target` ([tb..., r, c]) with
/// r[t] = Σ over the entries b of out_batch that broadcast onto t of x[b]·y[b]
/// (x: [..., r, k], y: [..., k, c], both broadcast to out_batch; detached).
template <class T>
Tensor<T> bmm_reduce(const Tensor<T>& x_in, const Tensor<T>& y_in, const Shape& out_batch,
                     const Shape& target) {
  const Device dev = x_in.device();
  Tensor<T> res = Tensor<T>::empty(target, dev);
  const int64_t batch = out_batch.numel();
  const Shape tb = batch_of(target);
  if (tb.numel() == batch) {  // no reduction (target may lack leading 1s)
    bmm_into(x_in, y_in, out_batch, res.data());
    return res;
  }
  GemmOperand<T> x = gemm_operand(x_in), y = gemm_operand(y_in);
  const int64_t r = x.rows, k = x.cols, c = y.cols;
  Shape xbs = batch_strides_for(x.t, out_batch), ybs = batch_strides_for(y.t, out_batch);
  if (tb.numel() == 1) {
    // One result matrix: fold the batch into the contraction, x as [r, batch·k] (column (b, j)
    // at one stride) times y as [batch·k, c] (row (b, j) at one stride). This is dW = Σ xᵀ·dy
    // for a weight shared by the whole batch.
    Shape xs = out_batch, xst = xbs, ys = out_batch, yst = ybs;
    xs.push_back(k);
    xst.push_back(x.cs);
    ys.push_back(k);
    yst.push_back(y.rs);
    int64_t xcs = x.cs, yrs = y.rs;
    backend::GemmLayout lx, ly;
    if (collapse_dims(xs, xst, 0, xs.size(), &xcs) && collapse_dims(ys, yst, 0, ys.size(), &yrs) &&
        backend::gemm_layout(r, batch * k, x.rs, xcs, &lx) &&
        backend::gemm_layout(batch * k, c, yrs, y.cs, &ly)) {
      gemm_on<T>(dev, r, c, batch * k, T(1), x.t.data(), x.rs, xcs, y.t.data(), yrs, y.cs, T(0),
                 res.data(), c);
      return res;
    }
    // Otherwise accumulate product by product into the one matrix (β = 1; each product
    // threaded), never materializing the [batch, r, c] stack.
    if (batch == 0) res.fill_(T(0));
    for (int64_t e = 0; e < batch; ++e)
      gemm_on<T>(dev, r, c, k, T(1), x.t.data() + backend::batch_offset(e, out_batch.size(), out_batch.begin(), xbs.begin()),
                 x.rs, x.cs, y.t.data() + backend::batch_offset(e, out_batch.size(), out_batch.begin(), ybs.begin()),
                 y.rs, y.cs, e == 0 ? T(0) : T(1), res.data(), c);
    return res;
  }
  // Partial broadcast: the full batched product, then the sum over the broadcast dims.
  Shape full = out_batch;
  full.push_back(r);
  full.push_back(c);
  Tensor<T> all = Tensor<T>::empty(full, dev);
  bmm_into(x.t, y.t, out_batch, all.data());
  return autograd::sum_to(all, target);
}

/// Shapes of a matmul after promoting 1-D operands, with the checks that throw.
struct MatmulShapes {
  Shape a, b;       // the operands' shapes
  Shape a2, b2;     // promoted operand shapes (≥ 2-D)
  Shape out_batch;  // broadcast batch shape
  Shape out2;       // promoted result shape: out_batch + [n, m]
  Shape out;        // the result's shape (promoted dims removed)
};

inline MatmulShapes matmul_shapes(const Shape& a, const Shape& b) {
  EMBER_CHECK(a.size() >= 1 && b.size() >= 1,
              "matmul: both arguments need at least 1 dimension, found shapes ", a, " and ", b);
  MatmulShapes s;
  s.a = a;
  s.b = b;
  s.a2 = a;
  s.b2 = b;
  if (a.size() == 1) s.a2.insert(0, 1);
  if (b.size() == 1) s.b2.push_back(1);
  const int64_t ka = s.a2[s.a2.size() - 1], kb = s.b2[s.b2.size() - 2];
  EMBER_CHECK(ka == kb, "matmul: shapes ", a, " and ", b,
              " cannot be multiplied (inner dimensions ", ka, " and ", kb,
              " differ; expected [..., n, k] and [..., k, m])");
  Shape ab = batch_of(s.a2), bb = batch_of(s.b2);
  int nb = std::max(ab.size(), bb.size());
  s.out_batch.resize(nb);
  for (int i = 0; i < nb; ++i) {
    int ia = ab.size() - nb + i, ib = bb.size() - nb + i;
    int64_t da = ia >= 0 ? ab[ia] : 1, db = ib >= 0 ? bb[ib] : 1;
    EMBER_CHECK(da == db || da == 1 || db == 1, "matmul: the batch dimensions of shapes ", a,
                " and ", b, " cannot be broadcast together (", ab, " vs ", bb, ")");
    s.out_batch[i] = da == 1 ? db : da;
  }
  s.out2 = s.out_batch;
  s.out2.push_back(s.a2[s.a2.size() - 2]);
  s.out2.push_back(s.b2[s.b2.size() - 1]);
  s.out = s.out_batch;
  if (a.size() > 1) s.out.push_back(s.a2[s.a2.size() - 2]);
  if (b.size() > 1) s.out.push_back(s.b2[s.b2.size() - 1]);
  return s;
}

/// A detached view of `t` with the promoted shape (inserting the size-1 dim of a 1-D operand).
template <class T>
Tensor<T> promoted(const Tensor<T>& t, bool left) {
  Tensor<T> d = t.detach();
  if (t.dim() != 1) return d;
  return left ? d.unsqueeze(0) : d.unsqueeze(1);
}

/// The swap of the last two dims, as a detached view (no copy).
template <class T>
Tensor<T> mT(const Tensor<T>& t) {
  return t.detach().transpose(-1, -2);
}

/// `t` ([..., c]) with all leading dims folded into the rows, as a GEMM operand [R, c]; copies
/// only when the leading dims do not fold into one stride or the layout is unreadable.
template <class T>
struct FoldedRows {
  Tensor<T> t;
  int64_t rows, cols, rs, cs;
};
template <class T>
FoldedRows<T> fold_rows(const Tensor<T>& t_in) {
  Tensor<T> t = t_in.detach();
  const int d = t.dim();
  const int64_t cols = t.shape()[d - 1];
  int64_t rows = 1;
  for (int i = 0; i + 1 < d; ++i) rows *= t.shape()[i];
  int64_t rs = d >= 2 ? t.strides()[d - 2] : std::max<int64_t>(cols, 1);
  backend::GemmLayout l;
  if (collapse_dims(t.shape(), t.strides(), 0, d - 1, &rs) &&
      backend::gemm_layout(rows, cols, rs, t.strides()[d - 1], &l))
    return {t, rows, cols, rs, t.strides()[d - 1]};
  Tensor<T> c = t.contiguous();
  return {c, rows, cols, std::max<int64_t>(cols, 1), 1};
}

template <class T>
constexpr bool is_gemm_type_v = std::is_same_v<T, float> || std::is_same_v<T, double>;

}  // namespace detail

// ---- matmul -------------------------------------------------------------------------------------

/// Matrix product with PyTorch's `torch.matmul` semantics (see the header comment):
/// [k]·[k] → [], [n, k]·[k, m] → [n, m], 1-D operands promoted, [..., n, k]·[..., k, m] →
/// [broadcast(...), n, m]. Throws `ember::Error` naming "matmul" and both shapes when the inner
/// dims differ, the batch dims do not broadcast, or an operand is 0-d; and for CUDA tensors in a
/// build without the CUDA backend.
template <class T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b) {
  static_assert(detail::is_gemm_type_v<T>, "matmul: T must be float or double");
  detail::check_same_device(a.device(), b.device(), "matmul");
  const detail::MatmulShapes s = detail::matmul_shapes(a.shape(), b.shape());
  Tensor<T> out = Tensor<T>::empty(s.out, a.device());
  detail::bmm_into(detail::promoted(a, true), detail::promoted(b, false), s.out_batch, out.data());
  if (autograd::any_requires_grad(a, b)) {
    const bool ga = a.requires_grad(), gb = b.requires_grad();
    autograd::record(
        out, "matmul", {a, b},
        [s, ga, gb, sa = gb ? autograd::SavedTensor<T>(a) : autograd::SavedTensor<T>(),
         sb = ga ? autograd::SavedTensor<T>(b) : autograd::SavedTensor<T>()](const Tensor<T>& g) {
          // Insert the promoted dims back ([] → [1, 1] for a dot product, built directly:
          // Tensor::view does not view a 0-d tensor as [1, 1]).
          Tensor<T> g2 = g.dim() == 0 ? full<T>(s.out2, g.item(), g.device()) : g.reshape(s.out2);
          Tensor<T> da, db;
          if (ga) {  // dA = dC·Bᵀ, summed over A's broadcast batch dims
            Tensor<T> b2 = detail::promoted(sb.get("matmul"), false);
            da = detail::bmm_reduce(g2, detail::mT(b2), s.out_batch, s.a2).view(s.a);
          }
          if (gb) {  // dB = Aᵀ·dC, summed over B's broadcast batch dims
            Tensor<T> a2 = detail::promoted(sa.get("matmul"), true);
            db = detail::bmm_reduce(detail::mT(a2), g2, s.out_batch, s.b2).view(s.b);
          }
          return autograd::Grads<T>{da, db};
        });
  }
  return out;
}

// ---- linear -------------------------------------------------------------------------------------

namespace detail {
/// linear's argument checks (also linear_dynamic_int8's), `op` naming the op in the messages.
template <class T>
void check_linear_args(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                       const char* op) {
  EMBER_CHECK(weight.dim() == 2,
              op, ": expected a 2-D weight [out_features, in_features], "
              "found shape ",
              weight.shape(), " (input shape ", x.shape(), ")");
  EMBER_CHECK(x.dim() >= 1,
              op, ": expected an input of shape [..., in_features], found a 0-d "
              "tensor (weight shape ",
              weight.shape(), ")");
  const int64_t in = weight.size(1), nout = weight.size(0);
  EMBER_CHECK(x.size(-1) == in, op, ": input shape ", x.shape(), " does not match weight shape ",
              weight.shape(), " (expected the input's last dim to be in_features = ", in,
              ", found ", x.size(-1), ")");
  if (bias.defined())
    EMBER_CHECK(bias.dim() == 1 && bias.size(0) == nout, op, ": expected a bias of shape [", nout,
                "] for weight shape ", weight.shape(), ", found ", bias.shape());
  detail::check_same_device(x.device(), weight.device(), op);
  if (bias.defined()) detail::check_same_device(x.device(), bias.device(), op);
}
}  // namespace detail

/// y = x·Wᵀ + b (torch.nn.functional.linear): x [..., in], weight [out, in], bias [out] or
/// undefined → y [..., out]. One GEMM over the folded leading dims, bias added in the same pass.
/// Throws `ember::Error` naming "linear" and the shapes when weight is not 2-D, x's last dim is
/// not in_features, x is 0-d, or bias is not [out].
template <class T>
Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias = {}) {
  static_assert(detail::is_gemm_type_v<T>, "linear: T must be float or double");
  detail::check_linear_args(x, weight, bias, "linear");
  const int64_t in = weight.size(1), nout = weight.size(0);
  const Device dev = x.device();

  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = nout;
  Tensor<T> out = Tensor<T>::empty(out_shape, x.device());
  detail::FoldedRows<T> xf = detail::fold_rows(x);
  const int64_t R = xf.rows;
  detail::GemmOperand<T> wt = detail::gemm_operand(detail::mT(weight));  // Wᵀ: [in, out]
  Tensor<T> bc = bias.defined() ? bias.detach().contiguous() : Tensor<T>();
  const bool record = autograd::any_requires_grad(x, weight, bias);
  backend::GemmArgs<T> g;
  g.m = R, g.n = nout, g.k = in;
  g.a = xf.t.data(), g.a_rs = xf.rs, g.a_cs = xf.cs;
  g.b = wt.t.data(), g.b_rs = wt.rs, g.b_cs = wt.cs;
  g.c = out.data(), g.ldc = nout, g.bias = bc.defined() ? bc.data() : nullptr;
  if (!record && wt.t.storage() == weight.storage()) {
    // Inference: the weight is read in place and no graph will need it, so the backend may keep
    // a packed copy of it with its storage and reuse it while the version is unchanged
    // (backend/cpu/packed_gemm.hpp).
    g.b_derived = &weight.storage()->derived();
    g.b_version = weight.storage()->version();
  }
  backend::kernels<T>(dev, "linear").gemm(g);

  if (record) {
    const bool gx = x.requires_grad(), gw = weight.requires_grad(),
               gbias = bias.defined() && bias.requires_grad();
    Shape x_shape = x.shape();
    autograd::record(out, "linear", {x, weight, bias},
                     [x_shape, gx, gw, gbias, R, in, nout,
                      sx = gw ? autograd::SavedTensor<T>(x) : autograd::SavedTensor<T>(),
                      sw = gx ? autograd::SavedTensor<T>(weight)
                              : autograd::SavedTensor<T>()](const Tensor<T>& g) {
                       detail::FoldedRows<T> gf = detail::fold_rows(g);  // dy as [R, out]
                       Tensor<T> dx, dw, db;
                       if (gx) {  // dx = dy·W: [R, out]·[out, in]
                         detail::GemmOperand<T> w = detail::gemm_operand(sw.get("linear").detach());
                         dx = Tensor<T>::empty(x_shape, g.device());
                         detail::gemm_on<T>(g.device(), R, in, nout, T(1), gf.t.data(), gf.rs,
                                            gf.cs, w.t.data(), w.rs, w.cs, T(0), dx.data(), in);
                       }
                       if (gw) {  // dW = dyᵀ·x: [out, R]·[R, in], summed over all rows in one GEMM
                         detail::FoldedRows<T> xf = detail::fold_rows(sx.get("linear"));
                         dw = Tensor<T>::empty({nout, in}, g.device());
                         detail::gemm_on<T>(g.device(), nout, in, R, T(1), gf.t.data(), gf.cs,
                                            gf.rs, xf.t.data(), xf.rs, xf.cs, T(0), dw.data(), in);
                       }
                       if (gbias) {  // db = Σ_rows dy
                         db = Tensor<T>::empty({nout}, g.device());
                         Tensor<T> gc = gf.cs == 1 ? gf.t : gf.t.contiguous();
                         int64_t ld = gf.cs == 1 ? gf.rs : nout;
                         backend::kernels<T>(g.device(), "linear")
                             .sum_rows(R, nout, gc.data(), ld, db.data());
                       }
                       return autograd::Grads<T>{dx, dw, db};
                     });
  }
  return out;
}

// ---- linear_dynamic_int8 ------------------------------------------------------------------------

/// y ≈ x·Wᵀ + b computed in int8 (PyTorch's dynamically quantized nn.Linear,
/// torch.ao.nn.quantized.dynamic.Linear): W quantized per output channel, symmetric, once — the
/// int8 copy is kept with W's storage and rebuilt when W changes — and x per row at run time;
/// int32 accumulation; scales and bias applied to the float result (backend/cpu/int8_gemm.hpp
/// gives the arithmetic and its error). Shapes as `linear`. Inference only: it has no backward,
/// so it throws `ember::Error` when a gradient would be needed (call it under NoGradGuard or on
/// tensors that do not require grad); CPU only, float only, and needs a build with oneDNN.
inline Tensor<float> linear_dynamic_int8(const Tensor<float>& x, const Tensor<float>& weight,
                                         const Tensor<float>& bias = {}) {
  detail::check_linear_args(x, weight, bias, "linear_dynamic_int8");
  EMBER_CHECK(!autograd::any_requires_grad(x, weight, bias),
              "linear_dynamic_int8: has no backward (int8 inference only), but an input requires "
              "grad; call it under NoGradGuard");
  EMBER_CHECK(x.device().is_cpu(), "linear_dynamic_int8: runs on the CPU only, found tensors on ",
              x.device());
#ifndef EMBER_HAVE_DNNL
  EMBER_CHECK(false, "linear_dynamic_int8: this build has no int8 products (they need oneDNN: "
                     "EMBER_USE_DNNL=ON with Debian's libdnnl-dev)");
#endif
  const int64_t in = weight.size(1), nout = weight.size(0);
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = nout;
  Tensor<float> out = Tensor<float>::empty(out_shape, x.device());
  detail::FoldedRows<float> xf = detail::fold_rows(x);
  if (xf.cs != 1) xf = detail::fold_rows(x.contiguous());
  detail::GemmOperand<float> wt = detail::gemm_operand(detail::mT(weight));  // Wᵀ: [in, out]
  Tensor<float> bc = bias.defined() ? bias.contiguous() : Tensor<float>();
  backend::GemmArgs<float> g;
  g.m = xf.rows, g.n = nout, g.k = in;
  g.a = xf.t.data(), g.a_rs = xf.rs, g.a_cs = xf.cs;
  g.b = wt.t.data(), g.b_rs = wt.rs, g.b_cs = wt.cs;
  g.c = out.data(), g.ldc = nout, g.bias = bc.defined() ? bc.data() : nullptr;
  // The int8 copy lives with the storage the product reads: W's own (kept across calls), or the
  // temporary copy gemm_operand made of an unusual layout (quantized again on every call).
  g.b_derived = &wt.t.storage()->derived();
  g.b_version = wt.t.storage()->version();
  g.int8_dynamic = true;
  backend::kernels<float>(x.device(), "linear_dynamic_int8").gemm(g);
  return out;
}

}  // namespace ember
