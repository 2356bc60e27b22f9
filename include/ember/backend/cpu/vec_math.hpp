// ember/backend/cpu/vec_math.hpp — exp, erf and 1 + tanh for float, written so that a
// loop over them vectorizes: straight-line arithmetic and selects, no calls into the C library
// (whose scalar expf/erff are called once per element and stop the vectorizer). Used by the
// kernel bodies that backend/cpu/isa.hpp compiles for SSE2, AVX2 and AVX-512.
//
// Accuracy, measured against double-precision std::exp / std::erfc (tests/ops/test_vec_math.cpp
// checks these bounds for every compiled version):
//   exp(x):          < 1 ulp on [−87.3, 88.7]; 0 below ln(FLT_MIN) ≈ −87.34 (the softmax of a
//                    masked score is exactly 0); +inf above ln(FLT_MAX); NaN stays NaN.
//   erf(x):          absolute error < 6e-7 (a rational approximation; the same form and
//                    coefficients as Eigen's and XLA's float erf, so ember's GELU keeps the
//                    values it had when it used Eigen's packets); NaN stays NaN.
//   one_plus_tanh(u) = 2 / (1 + e^(−2u)): relative error < 2e-7; never cancels as 1 + tanh would.
// Sources: exp — Cody & Waite range reduction (x = n·ln2 + r, ln2 split in two) and the
// polynomial of Cephes' expf (S. Moshier); erf — erf(x) ≈ x·P(x²)/Q(x²), P of degree 6 and Q of
// degree 4 in x², x clamped to [−4, 4] (Eigen's generic_fast_erf_float, XLA's ErfImpl32).
#pragma once

#include <ember/backend/cpu/isa.hpp>

#include <cstdint>
#include <cstring>
#include <limits>

EMBER_KERNEL_MATH_BEGIN
namespace ember::backend::cpu::vmath {

EMBER_ALWAYS_INLINE float from_bits(int32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

/// e^x for float (see the header for accuracy and the special values).
EMBER_ALWAYS_INLINE float exp(float x) {
  constexpr float kLo = -87.3365478515625f;   // ln(FLT_MIN): below it the result is 0
  constexpr float kHi = 88.72283935546875f;   // ln(FLT_MAX): above it the result is +inf
  float xc = x >= kLo ? x : kLo;  // NaN becomes kLo here (the integer conversion below stays
  xc = xc <= kHi ? xc : kHi;      // defined) and is passed through at the end
  // n = round(x / ln2): adding 1.5·2^23 pushes the fraction out of the mantissa (round to
  // nearest); subtracting it again leaves the integer.
  constexpr float kShift = 12582912.0f;
  const float n = (xc * 1.44269504088896341f + kShift) - kShift;
  float r = xc - n * 0.693359375f;  // ln2 = 0.693359375 − 2.12194440e-4, the first part exact
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n with n in [−126, 128] as two normal powers of two, 2^(n>>1)·2^(n − n>>1).
  const int32_t ni = int32_t(n);
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  const float y = p * from_bits((n1 + 127) << 23) * from_bits((n2 + 127) << 23);
  const float inf = std::numeric_limits<float>::infinity();
  return x < kLo ? 0.0f : (x > kHi ? inf : (x == x ? y : x));
}

/// erf(x) for float: x·P(x²)/Q(x²) on [−4, 4] (±1 beyond, to float precision).
EMBER_ALWAYS_INLINE float erf(float x) {
  float xc = x >= -4.0f ? x : -4.0f;  // NaN becomes −4 here and is passed through at the end
  xc = xc <= 4.0f ? xc : 4.0f;
  const float x2 = xc * xc;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 - 2.10102402082508e-06f;
  p = p * x2 - 5.69250639462346e-05f;
  p = p * x2 - 7.34990630326855e-04f;
  p = p * x2 - 2.95459980854025e-03f;
  p = p * x2 - 1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 - 2.13374055278905e-04f;
  q = q * x2 - 1.68282697438203e-03f;
  q = q * x2 - 7.37332916720468e-03f;
  q = q * x2 - 1.42647390514189e-02f;
  const float y = xc * p / q;
  return x == x ? y : x;
}

/// 1 + tanh(u) = 2 / (1 + e^(−2u)) for float.
EMBER_ALWAYS_INLINE float one_plus_tanh(float u) { return 2.0f / (1.0f + exp(-2.0f * u)); }

}  // namespace ember::backend::cpu::vmath
EMBER_KERNEL_MATH_END
