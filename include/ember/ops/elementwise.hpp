// ember/ops/elementwise.hpp — arithmetic with broadcasting and the elementwise math functions,
// each with its backward beside it.
//
// Binary ops follow NumPy/PyTorch broadcasting: shapes are aligned at the right and size-1 dims
// stretch. The backward of a broadcast operand is summed back to its shape by the autograd node
// (autograd/node.hpp), so each op below writes its gradient at the output's shape.
//
// Derivatives (d/dx):  a+b: 1, 1   a-b: 1, -1   a*b: b, a   a/b: 1/b, -a/b²   exp: exp(x)
//   log: 1/x   sqrt: 1/(2 sqrt x)   rsqrt: -rsqrt(x)³/2   tanh: 1 - tanh²   relu: [x > 0]
//   pow(x, p): p x^(p-1)
//   gelu (exact, Hendrycks & Gimpel 2016): x Φ(x) → Φ(x) + x φ(x)
//   gelu_tanh (the BERT/GPT-2 approximation, "gelu_new"): 0.5 x (1 + tanh(u)),
//     u = √(2/π)(x + 0.044715 x³) → 0.5(1 + tanh u) + 0.5 x (1 - tanh² u) √(2/π)(1 + 3·0.044715 x²)
#pragma once

#include <cmath>

#include <ember/autograd/node.hpp>
#include <ember/backend/backend.hpp>
#include <ember/backend/functors.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember {

namespace detail {
inline void check_same_device(Device a, Device b, const char* op) {
  EMBER_CHECK(a == b, op, ": expected both tensors on the same device, found ", a, " and ", b);
}
/// The kernels' Layout of `shape` read at `strides` (throws beyond the kernels' dim limit).
inline backend::Layout layout_of(const Shape& shape, const Shape& strides, const char* op) {
  return backend::make_layout(shape, strides, op);
}

/// out[i] = f(a[i], b[i]) with broadcasting; no autograd. `f` is a functor of
/// backend/functors.hpp, named to the kernel by its code (the backend runs the same functor).
template <class T, class F>
Tensor<T> binary_map(const Tensor<T>& a, const Tensor<T>& b, const char* op, F f) {
  check_same_device(a.device(), b.device(), op);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor<T> out = Tensor<T>::empty(shape, a.device());
  Shape as = broadcast_strides(a.shape(), a.strides(), shape);
  Shape bs = broadcast_strides(b.shape(), b.strides(), shape);
  if (out.numel() > 0)
    backend::kernels<T>(a.device(), op)
        .binary(F::code, f.s, a.data(), layout_of(shape, as, op), b.data(), layout_of(shape, bs, op),
                out.data());
  return out;
}

/// out[i] = f(a[i]); no autograd. `f` as for binary_map.
template <class T, class F>
Tensor<T> unary_map(const Tensor<T>& a, const char* op, F f) {
  Tensor<T> out = Tensor<T>::empty(a.shape(), a.device());
  if (out.numel() > 0)
    backend::kernels<T>(a.device(), op)
        .unary(F::code, f.s, a.data(), layout_of(a.shape(), a.strides(), op), out.data());
  return out;
}
}  // namespace detail

// ---- binary arithmetic ----------------------------------------------------------------------------

/// a + b with broadcasting. Throws `ember::Error` naming both shapes if they do not broadcast.
template <class T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::binary_map(a, b, "add", fn::Add{});
  if (autograd::any_requires_grad(a, b))
    autograd::record(out, "add", {a, b},
                     [](const Tensor<T>& g) { return autograd::Grads<T>{g, g}; });
  return out;
}

/// a - b with broadcasting.
template <class T>
Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::binary_map(a, b, "sub", fn::Sub{});
  if (autograd::any_requires_grad(a, b))
    autograd::record(out, "sub", {a, b}, [](const Tensor<T>& g) {
      return autograd::Grads<T>{g, detail::unary_map(g, "neg", fn::MulScalar{-1.0})};
    });
  return out;
}

/// a * b (elementwise) with broadcasting. Saves both inputs.
template <class T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::binary_map(a, b, "mul", fn::Mul{});
  if (autograd::any_requires_grad(a, b)) {
    bool ga = a.requires_grad(), gb = b.requires_grad();
    autograd::record(out, "mul", {a, b},
                     [sa = autograd::SavedTensor<T>(a), sb = autograd::SavedTensor<T>(b), ga,
                      gb](const Tensor<T>& g) {
                       return autograd::Grads<T>{
                           ga ? detail::binary_map(g, sb.get("mul"), "mul", fn::Mul{}) : Tensor<T>(),
                           gb ? detail::binary_map(g, sa.get("mul"), "mul", fn::Mul{}) : Tensor<T>()};
                     });
  }
  return out;
}

/// a / b (elementwise) with broadcasting. Saves both inputs.
template <class T>
Tensor<T> div(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::binary_map(a, b, "div", fn::Div{});
  if (autograd::any_requires_grad(a, b)) {
    bool ga = a.requires_grad(), gb = b.requires_grad();
    autograd::record(
        out, "div", {a, b},
        [sa = autograd::SavedTensor<T>(a), sb = autograd::SavedTensor<T>(b), ga,
         gb](const Tensor<T>& g) {
          const Tensor<T>& bb = sb.get("div");
          Tensor<T> g_over_b = detail::binary_map(g, bb, "div", fn::Div{});
          Tensor<T> gbv;
          if (gb) {  // -g a / b² = -(g/b) * (a/b)
            Tensor<T> a_over_b =
                detail::binary_map(sa.get("div"), bb, "div", fn::Div{});
            gbv = detail::binary_map(g_over_b, a_over_b, "div", fn::NegMul{});
          }
          return autograd::Grads<T>{ga ? g_over_b : Tensor<T>(), gbv};
        });
  }
  return out;
}

// ---- scalar forms --------------------------------------------------------------------------------

/// a + s.
template <class T>
Tensor<T> add(const Tensor<T>& a, double s) {
  Tensor<T> out = detail::unary_map(a, "add", fn::AddScalar{s});
  if (autograd::any_requires_grad(a))
    autograd::record(out, "add", {a}, [](const Tensor<T>& g) { return autograd::Grads<T>{g}; });
  return out;
}
/// a * s.
template <class T>
Tensor<T> mul(const Tensor<T>& a, double s) {
  Tensor<T> out = detail::unary_map(a, "mul", fn::MulScalar{s});
  if (autograd::any_requires_grad(a))
    autograd::record(out, "mul", {a}, [s](const Tensor<T>& g) {
      return autograd::Grads<T>{detail::unary_map(g, "mul", fn::MulScalar{s})};
    });
  return out;
}

template <class T> Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) { return add(a, b); }
template <class T> Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) { return sub(a, b); }
template <class T> Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) { return mul(a, b); }
template <class T> Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b) { return div(a, b); }
template <class T> Tensor<T> operator+(const Tensor<T>& a, double s) { return add(a, s); }
template <class T> Tensor<T> operator+(double s, const Tensor<T>& a) { return add(a, s); }
template <class T> Tensor<T> operator-(const Tensor<T>& a, double s) { return add(a, -s); }
template <class T> Tensor<T> operator-(double s, const Tensor<T>& a) { return add(mul(a, -1.0), s); }
template <class T> Tensor<T> operator*(const Tensor<T>& a, double s) { return mul(a, s); }
template <class T> Tensor<T> operator*(double s, const Tensor<T>& a) { return mul(a, s); }
template <class T> Tensor<T> operator/(const Tensor<T>& a, double s) { return mul(a, 1.0 / s); }
template <class T> Tensor<T> operator-(const Tensor<T>& a) { return mul(a, -1.0); }
/// -a.
template <class T> Tensor<T> neg(const Tensor<T>& a) { return mul(a, -1.0); }

// ---- unary math ---------------------------------------------------------------------------------

namespace detail {
/// Elementwise op y = f(x) whose derivative is expressed through x and y: dy/dx = df(x, y)
/// (functor pairs of backend/functors.hpp). Saves the input and/or output as df needs.
template <class T, class F, class DF>
Tensor<T> unary_op(const Tensor<T>& a, const char* op, F f, DF df, bool save_output) {
  Tensor<T> out = unary_map(a, op, f);
  if (autograd::any_requires_grad(a)) {
    autograd::record(out, op, {a},
                     [op, df, sa = autograd::SavedTensor<T>(a),
                      so = save_output ? autograd::SavedTensor<T>(out.detach())
                                       : autograd::SavedTensor<T>()](const Tensor<T>& g) {
                       const Tensor<T>& x = sa.get(op);
                       Tensor<T> y = so.get(op);
                       if (!y.defined()) y = x;  // df ignores y then
                       Tensor<T> xy = binary_map(x, y, op, df);
                       return autograd::Grads<T>{binary_map(g, xy, op, fn::Mul{})};
                     });
  }
  return out;
}
}  // namespace detail

/// e^x.
template <class T>
Tensor<T> exp(const Tensor<T>& a) {
  return detail::unary_op(a, "exp", fn::Exp{}, fn::ExpGrad{}, true);
}
/// Natural logarithm.
template <class T>
Tensor<T> log(const Tensor<T>& a) {
  return detail::unary_op(a, "log", fn::Log{}, fn::LogGrad{}, false);
}
/// √x.
template <class T>
Tensor<T> sqrt(const Tensor<T>& a) {
  return detail::unary_op(a, "sqrt", fn::Sqrt{}, fn::SqrtGrad{}, true);
}
/// 1/√x.
template <class T>
Tensor<T> rsqrt(const Tensor<T>& a) {
  return detail::unary_op(a, "rsqrt", fn::Rsqrt{}, fn::RsqrtGrad{}, true);
}
/// tanh(x).
template <class T>
Tensor<T> tanh(const Tensor<T>& a) {
  return detail::unary_op(a, "tanh", fn::Tanh{}, fn::TanhGrad{}, true);
}
/// max(x, 0); the derivative at 0 is taken as 0 (as PyTorch).
template <class T>
Tensor<T> relu(const Tensor<T>& a) {
  return detail::unary_op(a, "relu", fn::Relu{}, fn::ReluGrad{}, false);
}
/// x^p for a scalar exponent p.
template <class T>
Tensor<T> pow(const Tensor<T>& a, double p) {
  return detail::unary_op(a, "pow", fn::Pow{p}, fn::PowGrad{p}, false);
}

namespace detail {
/// GELU on a contiguous copy of `a` through the gelu kernels (vectorized on the CPU);
/// the backward saves the input and computes dx = dy · gelu'(x) in one pass.
template <class T>
Tensor<T> gelu_op(const Tensor<T>& a, bool approximate_tanh, const char* op) {
  Tensor<T> x = a.is_contiguous() ? a : a.detach().contiguous();
  Tensor<T> out = Tensor<T>::empty(x.shape(), x.device());
  if (x.numel() > 0)
    backend::kernels<T>(x.device(), op).gelu_forward(x.data(), out.data(), x.numel(), approximate_tanh);
  if (autograd::any_requires_grad(a)) {
    autograd::record(out, op, {a},
                     [op, approximate_tanh, sx = autograd::SavedTensor<T>(x)](const Tensor<T>& g) {
                       const Tensor<T>& xv = sx.get(op);
                       Tensor<T> gc = g.contiguous();
                       Tensor<T> dx = Tensor<T>::empty(xv.shape(), xv.device());
                       if (xv.numel() > 0)
                         backend::kernels<T>(xv.device(), op)
                             .gelu_backward(gc.data(), xv.data(), dx.data(), xv.numel(),
                                            approximate_tanh);
                       return autograd::Grads<T>{dx};
                     });
  }
  return out;
}
}  // namespace detail

/// GELU, exact form x·Φ(x) with Φ the standard normal CDF (PyTorch `gelu`, HF `"gelu"`).
template <class T>
Tensor<T> gelu(const Tensor<T>& a) {
  return detail::gelu_op(a, false, "gelu");
}
/// GELU, tanh approximation (PyTorch `gelu(approximate='tanh')`, HF `"gelu_new"`).
template <class T>
Tensor<T> gelu_tanh(const Tensor<T>& a) {
  return detail::gelu_op(a, true, "gelu_tanh");
}

/// gelu(x + bias) in one pass, the bias broadcast over the last dim (Megatron-LM's fused
/// bias-GELU): what a Transformer's feed-forward layer computes after its first linear, without
/// storing the [rows, n] sum. Backward recomputes x + bias (it saves x and bias) and gives
/// dx = dy·gelu'(x + bias), dbias = Σ_rows dx.
///   x     [..., n]   (any layout; a contiguous copy is read)
///   bias  [n]
/// `approximate_tanh`: the tanh form (HF "gelu_new"); otherwise exact. Returns x's shape.
/// Throws `ember::Error` naming the shapes when bias is not [n], or for tensors on two devices.
template <class T>
Tensor<T> bias_gelu(const Tensor<T>& x, const Tensor<T>& bias, bool approximate_tanh = false) {
  const char* op = "bias_gelu";
  EMBER_CHECK(x.dim() >= 1 && bias.dim() == 1 && bias.size(0) == x.size(-1), op,
              ": expected x [..., n] and bias [n], found x ", x.shape(), " and bias ", bias.shape());
  detail::check_same_device(x.device(), bias.device(), op);
  const Tensor<T> xc = x.detach().contiguous(), bc = bias.detach().contiguous();
  const int64_t n = x.size(-1), rows = n == 0 ? 0 : x.numel() / n;
  Tensor<T> out = Tensor<T>::empty(x.shape(), x.device());
  if (out.numel() > 0)
    backend::kernels<T>(x.device(), op)
        .bias_gelu_forward(xc.data(), bc.data(), out.data(), rows, n, approximate_tanh);
  if (autograd::any_requires_grad(x, bias)) {
    const bool gbias = bias.requires_grad();
    autograd::record(out, op, {x, bias},
                     [op, rows, n, approximate_tanh, gbias, sx = autograd::SavedTensor<T>(xc),
                      sb = autograd::SavedTensor<T>(bc)](const Tensor<T>& g) {
                       const Tensor<T>& xv = sx.get(op);
                       const Tensor<T>& bv = sb.get(op);
                       const Tensor<T> gc = g.contiguous();
                       const backend::Kernels<T>& k = backend::kernels<T>(xv.device(), op);
                       Tensor<T> dx = Tensor<T>::empty(xv.shape(), xv.device()), db;
                       if (dx.numel() > 0)
                         k.bias_gelu_backward(gc.data(), xv.data(), bv.data(), dx.data(), rows, n,
                                              approximate_tanh);
                       if (gbias) {
                         db = Tensor<T>::empty({n}, xv.device());
                         if (n > 0) k.sum_rows(rows, n, dx.data(), n, db.data());
                       }
                       return autograd::Grads<T>{dx, db};
                     });
  }
  return out;
}

}  // namespace ember
