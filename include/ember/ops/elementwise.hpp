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
#include <ember/backend/cpu/gelu.hpp>
#include <ember/backend/cpu/strided.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember {

namespace detail {
inline void check_same_device(Device a, Device b, const char* op) {
  EMBER_CHECK(a == b, op, ": expected both tensors on the same device, found ", a, " and ", b);
}
inline void check_cpu_op(Device d, const char* op) {
  EMBER_CHECK(d.is_cpu(), op, ": not available on ", d,
              " in this build (the CUDA backend implements it when <ember/cuda.hpp> is used)");
}

/// out[i] = f(a[i], b[i]) with broadcasting; no autograd.
template <class T, class F>
Tensor<T> binary_map(const Tensor<T>& a, const Tensor<T>& b, const char* op, F f) {
  check_same_device(a.device(), b.device(), op);
  check_cpu_op(a.device(), op);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor<T> out = Tensor<T>::empty(shape, a.device());
  bool same_a = a.shape() == shape, same_b = b.shape() == shape;
  backend::cpu::binary_kernel(shape, a.data(), broadcast_strides(a.shape(), a.strides(), shape),
                              same_a && a.is_contiguous(), b.data(),
                              broadcast_strides(b.shape(), b.strides(), shape),
                              same_b && b.is_contiguous(), out.data(), f);
  return out;
}

/// out[i] = f(a[i]); no autograd.
template <class T, class F>
Tensor<T> unary_map(const Tensor<T>& a, const char* op, F f) {
  check_cpu_op(a.device(), op);
  Tensor<T> out = Tensor<T>::empty(a.shape(), a.device());
  backend::cpu::unary_kernel(a.shape(), a.data(), a.strides(), a.is_contiguous(), out.data(), f);
  return out;
}
}  // namespace detail

// ---- binary arithmetic ----------------------------------------------------------------------------

/// a + b with broadcasting. Throws `ember::Error` naming both shapes if they do not broadcast.
template <class T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::binary_map(a, b, "add", [](T x, T y) { return T(x + y); });
  if (autograd::any_requires_grad(a, b))
    autograd::record(out, "add", {a, b},
                     [](const Tensor<T>& g) { return autograd::Grads<T>{g, g}; });
  return out;
}

/// a - b with broadcasting.
template <class T>
Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::binary_map(a, b, "sub", [](T x, T y) { return T(x - y); });
  if (autograd::any_requires_grad(a, b))
    autograd::record(out, "sub", {a, b}, [](const Tensor<T>& g) {
      return autograd::Grads<T>{g, detail::unary_map(g, "neg", [](T x) { return T(-x); })};
    });
  return out;
}

/// a * b (elementwise) with broadcasting. Saves both inputs.
template <class T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::binary_map(a, b, "mul", [](T x, T y) { return T(x * y); });
  if (autograd::any_requires_grad(a, b)) {
    bool ga = a.requires_grad(), gb = b.requires_grad();
    autograd::record(out, "mul", {a, b},
                     [sa = autograd::SavedTensor<T>(a), sb = autograd::SavedTensor<T>(b), ga,
                      gb](const Tensor<T>& g) {
                       auto m = [](T x, T y) { return T(x * y); };
                       return autograd::Grads<T>{
                           ga ? detail::binary_map(g, sb.get("mul"), "mul", m) : Tensor<T>(),
                           gb ? detail::binary_map(g, sa.get("mul"), "mul", m) : Tensor<T>()};
                     });
  }
  return out;
}

/// a / b (elementwise) with broadcasting. Saves both inputs.
template <class T>
Tensor<T> div(const Tensor<T>& a, const Tensor<T>& b) {
  Tensor<T> out = detail::binary_map(a, b, "div", [](T x, T y) { return T(x / y); });
  if (autograd::any_requires_grad(a, b)) {
    bool ga = a.requires_grad(), gb = b.requires_grad();
    autograd::record(
        out, "div", {a, b},
        [sa = autograd::SavedTensor<T>(a), sb = autograd::SavedTensor<T>(b), ga,
         gb](const Tensor<T>& g) {
          const Tensor<T>& bb = sb.get("div");
          Tensor<T> g_over_b = detail::binary_map(g, bb, "div", [](T x, T y) { return T(x / y); });
          Tensor<T> gbv;
          if (gb) {  // -g a / b² = -(g/b) * (a/b)
            Tensor<T> a_over_b =
                detail::binary_map(sa.get("div"), bb, "div", [](T x, T y) { return T(x / y); });
            gbv = detail::binary_map(g_over_b, a_over_b, "div",
                                     [](T x, T y) { return T(-x * y); });
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
  Tensor<T> out = detail::unary_map(a, "add", [s](T x) { return T(x + T(s)); });
  if (autograd::any_requires_grad(a))
    autograd::record(out, "add", {a}, [](const Tensor<T>& g) { return autograd::Grads<T>{g}; });
  return out;
}
/// a * s.
template <class T>
Tensor<T> mul(const Tensor<T>& a, double s) {
  Tensor<T> out = detail::unary_map(a, "mul", [s](T x) { return T(x * T(s)); });
  if (autograd::any_requires_grad(a))
    autograd::record(out, "mul", {a}, [s](const Tensor<T>& g) {
      return autograd::Grads<T>{detail::unary_map(g, "mul", [s](T x) { return T(x * T(s)); })};
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
/// Elementwise op y = f(x) whose derivative is expressed through x and y: dy/dx = df(x, y).
/// Saves the input and/or output as the derivative needs.
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
                       Tensor<T> xy = binary_map(x, y, op, [df](T xv, T yv) { return df(xv, yv); });
                       return autograd::Grads<T>{
                           binary_map(g, xy, op, [](T gv, T d) { return T(gv * d); })};
                     });
  }
  return out;
}
}  // namespace detail

/// e^x.
template <class T>
Tensor<T> exp(const Tensor<T>& a) {
  return detail::unary_op(
      a, "exp", [](T x) { return T(std::exp(x)); }, [](T, T y) { return y; }, true);
}
/// Natural logarithm.
template <class T>
Tensor<T> log(const Tensor<T>& a) {
  return detail::unary_op(
      a, "log", [](T x) { return T(std::log(x)); }, [](T x, T) { return T(1) / x; }, false);
}
/// √x.
template <class T>
Tensor<T> sqrt(const Tensor<T>& a) {
  return detail::unary_op(
      a, "sqrt", [](T x) { return T(std::sqrt(x)); }, [](T, T y) { return T(0.5) / y; }, true);
}
/// 1/√x.
template <class T>
Tensor<T> rsqrt(const Tensor<T>& a) {
  return detail::unary_op(
      a, "rsqrt", [](T x) { return T(1) / T(std::sqrt(x)); },
      [](T, T y) { return T(-0.5) * y * y * y; }, true);
}
/// tanh(x).
template <class T>
Tensor<T> tanh(const Tensor<T>& a) {
  return detail::unary_op(
      a, "tanh", [](T x) { return T(std::tanh(x)); }, [](T, T y) { return T(1) - y * y; }, true);
}
/// max(x, 0); the derivative at 0 is taken as 0 (as PyTorch).
template <class T>
Tensor<T> relu(const Tensor<T>& a) {
  return detail::unary_op(
      a, "relu", [](T x) { return x > T(0) ? x : T(0); },
      [](T x, T) { return x > T(0) ? T(1) : T(0); }, false);
}
/// x^p for a scalar exponent p.
template <class T>
Tensor<T> pow(const Tensor<T>& a, double p) {
  return detail::unary_op(
      a, "pow", [p](T x) { return T(std::pow(x, T(p))); },
      [p](T x, T) { return T(p) * T(std::pow(x, T(p - 1))); }, false);
}

namespace detail {
/// GELU on a contiguous copy of `a` through the vectorized kernels of backend/cpu/gelu.hpp;
/// the backward saves the input and computes dx = dy · gelu'(x) in one pass.
template <class T>
Tensor<T> gelu_op(const Tensor<T>& a, bool approximate_tanh, const char* op) {
  check_cpu_op(a.device(), op);
  Tensor<T> x = a.is_contiguous() ? a : a.detach().contiguous();
  Tensor<T> out = Tensor<T>::empty(x.shape(), x.device());
  backend::cpu::gelu_forward(x.data(), out.data(), x.numel(), approximate_tanh);
  if (autograd::any_requires_grad(a)) {
    autograd::record(out, op, {a},
                     [op, approximate_tanh, sx = autograd::SavedTensor<T>(x)](const Tensor<T>& g) {
                       const Tensor<T>& xv = sx.get(op);
                       Tensor<T> gc = g.contiguous();
                       Tensor<T> dx = Tensor<T>::empty(xv.shape(), xv.device());
                       backend::cpu::gelu_backward(gc.data(), xv.data(), dx.data(), xv.numel(),
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

}  // namespace ember
