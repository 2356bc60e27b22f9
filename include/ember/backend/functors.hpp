// ember/backend/functors.hpp — the math of every elementwise function, written once for the CPU
// kernels and the CUDA kernels.
//
// Each functor is `EMBER_HOST_DEVICE` (so nvcc compiles it into device code too) and carries the
// code by which host code names it to the kernel table (backend/kernel_list.hpp): an op calls
// `binary_map(a, b, "div", fn::Div{})`; on the CPU the functor runs in backend/cpu/strided.hpp's
// loops, on the GPU the backend switches on `Div::code` to a kernel instantiated with the same
// functor. Functors with a parameter keep it in `s` (a double, rounded to T where PyTorch rounds
// it: `T(s)`).
//
// Derivatives (the `*Grad` functors take x and y = f(x) and return dy/dx, see ops/elementwise.hpp):
//   exp: y   log: 1/x   sqrt: 1/(2y)   rsqrt: −y³/2   tanh: 1 − y²   relu: [x > 0]   pow: p·x^(p−1)
#pragma once

#include <cmath>
#include <cstdint>

#include <ember/backend/types.hpp>
#include <ember/core/dtype.hpp>

namespace ember::backend {

// ---- math shared by the CPU and CUDA kernels -------------------------------------------------------

/// GELU's constants (Hendrycks & Gimpel 2016; the tanh form is BERT's / GPT-2's "gelu_new").
inline constexpr double kSqrtHalf = 0.70710678118654752440;      // 1/√2
inline constexpr double kInvSqrt2Pi = 0.39894228040143267794;    // 1/√(2π)
inline constexpr double kSqrt2OverPi = 0.79788456080286535588;   // √(2/π)
inline constexpr double kGeluTanhCubic = 0.044715;

/// Dropout's 24-bit threshold of drop probability p in [0, 1]: a word w is kept iff
/// (w >> 8) >= it (backend/cpu/dropout.hpp explains the rule).
inline uint32_t dropout_threshold(double p) {
  return static_cast<uint32_t>(std::ceil(p * 16777216.0));
}

/// True when the element whose random word is `word` survives dropout.
EMBER_HOST_DEVICE inline bool dropout_keep(uint32_t word, uint32_t threshold) {
  return (word >> 8) >= threshold;
}

}  // namespace ember::backend

namespace ember::fn {

using backend::BinaryCode;
using backend::CompareCode;
using backend::UnaryCode;

// ---- unary: y = f(x; s) --------------------------------------------------------------------------

struct AddScalar {
  static constexpr UnaryCode code = UnaryCode::add_scalar;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x) const { return T(x + T(s)); }
};
struct MulScalar {
  static constexpr UnaryCode code = UnaryCode::mul_scalar;
  double s = 1;
  template <class T> EMBER_HOST_DEVICE T operator()(T x) const { return T(x * T(s)); }
};
struct Exp {
  static constexpr UnaryCode code = UnaryCode::exp;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x) const { return T(std::exp(x)); }
};
struct Log {
  static constexpr UnaryCode code = UnaryCode::log;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x) const { return T(std::log(x)); }
};
struct Sqrt {
  static constexpr UnaryCode code = UnaryCode::sqrt;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x) const { return T(std::sqrt(x)); }
};
struct Rsqrt {
  static constexpr UnaryCode code = UnaryCode::rsqrt;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x) const { return T(1) / T(std::sqrt(x)); }
};
struct Tanh {
  static constexpr UnaryCode code = UnaryCode::tanh;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x) const { return T(std::tanh(x)); }
};
/// max(x, 0).
struct Relu {
  static constexpr UnaryCode code = UnaryCode::relu;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x) const { return x > T(0) ? x : T(0); }
};
/// x^s.
struct Pow {
  static constexpr UnaryCode code = UnaryCode::pow;
  double s = 1;
  template <class T> EMBER_HOST_DEVICE T operator()(T x) const { return T(std::pow(x, T(s))); }
};

// ---- binary: z = f(x, y; s) ----------------------------------------------------------------------

struct Add {
  static constexpr BinaryCode code = BinaryCode::add;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x, T y) const { return T(x + y); }
};
struct Sub {
  static constexpr BinaryCode code = BinaryCode::sub;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x, T y) const { return T(x - y); }
};
struct Mul {
  static constexpr BinaryCode code = BinaryCode::mul;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x, T y) const { return T(x * y); }
};
struct Div {
  static constexpr BinaryCode code = BinaryCode::div;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x, T y) const { return T(x / y); }
};
/// −x·y (the second half of div's backward).
struct NegMul {
  static constexpr BinaryCode code = BinaryCode::neg_mul;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x, T y) const { return T(-x * y); }
};
struct ExpGrad {
  static constexpr BinaryCode code = BinaryCode::exp_grad;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T, T y) const { return y; }
};
struct LogGrad {
  static constexpr BinaryCode code = BinaryCode::log_grad;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x, T) const { return T(1) / x; }
};
struct SqrtGrad {
  static constexpr BinaryCode code = BinaryCode::sqrt_grad;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T, T y) const { return T(0.5) / y; }
};
struct RsqrtGrad {
  static constexpr BinaryCode code = BinaryCode::rsqrt_grad;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T, T y) const { return T(-0.5) * y * y * y; }
};
struct TanhGrad {
  static constexpr BinaryCode code = BinaryCode::tanh_grad;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T, T y) const { return T(1) - y * y; }
};
/// [x > 0] (the derivative at 0 is taken as 0, as PyTorch).
struct ReluGrad {
  static constexpr BinaryCode code = BinaryCode::relu_grad;
  double s = 0;
  template <class T> EMBER_HOST_DEVICE T operator()(T x, T) const { return x > T(0) ? T(1) : T(0); }
};
/// s·x^(s−1).
struct PowGrad {
  static constexpr BinaryCode code = BinaryCode::pow_grad;
  double s = 1;
  template <class T> EMBER_HOST_DEVICE T operator()(T x, T) const {
    return T(s) * T(std::pow(x, T(s - 1)));
  }
};

// ---- comparisons against a scalar v (in C, the comparison type of ops/indexing.hpp) -------------

template <class C>
struct Compare {
  CompareCode code;
  C v;
  template <class T> EMBER_HOST_DEVICE bool operator()(T x) const {
    const C a = C(x);
    switch (code) {
      case CompareCode::eq: return a == v;
      case CompareCode::ne: return a != v;
      case CompareCode::gt: return a > v;
      case CompareCode::lt: return a < v;
      case CompareCode::ge: return a >= v;
      default: return a <= v;
    }
  }
};

}  // namespace ember::fn
