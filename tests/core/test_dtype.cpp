// Conversions of the 16-bit storage types: round-to-nearest-even, subnormals, inf and NaN.
// Expected bit patterns are from IEEE 754 binary16 / bfloat16 definitions (checked by hand and
// against torch.tensor(x).half()/.bfloat16() for the decimal cases).
#include <cmath>
#include <cstring>
#include <limits>

#include <doctest/doctest.h>
#include <ember/core/dtype.hpp>

using ember::bf16;
using ember::half;

static float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST_CASE("bf16: exact values, rounding to nearest even, specials") {
  CHECK(bf16(1.0f).bits == 0x3F80);
  CHECK(bf16(-2.0f).bits == 0xC000);
  // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties to even (1.0).
  CHECK(bf16(from_bits(0x3F808000)).bits == 0x3F80);
  // 1 + 3·2^-8 is halfway between 1+2^-7 (odd) and 1+2^-6 (even): rounds up.
  CHECK(bf16(from_bits(0x3F818000)).bits == 0x3F82);
  CHECK(bf16(from_bits(0x3F808001)).bits == 0x3F81);  // just above half: up
  CHECK(bf16(std::numeric_limits<float>::infinity()).bits == 0x7F80);
  CHECK(bf16(-std::numeric_limits<float>::infinity()).bits == 0xFF80);
  CHECK(std::isnan(float(bf16(std::nanf("")))));
  CHECK(std::isnan(float(bf16(from_bits(0x7F800001)))));  // signalling NaN stays NaN
  // Largest finite float rounds to inf in bf16 (its mantissa rounds up past the max).
  CHECK(bf16(std::numeric_limits<float>::max()).bits == 0x7F80);
  // Subnormals are kept (bf16 has the float exponent range).
  CHECK(bf16(from_bits(0x00010000)).bits == 0x0001);
  CHECK(float(bf16(1.0f / 3.0f)) == 0.333984375f);
}

TEST_CASE("half: exact values, rounding, overflow, subnormals, specials") {
  CHECK(half(1.0f).bits == 0x3C00);
  CHECK(half(-2.0f).bits == 0xC000);
  CHECK(half(65504.0f).bits == 0x7BFF);   // max finite
  CHECK(half(65519.0f).bits == 0x7BFF);   // below the halfway point: stays max
  CHECK(half(65520.0f).bits == 0x7C00);   // halfway to 65536: ties to even = inf
  CHECK(half(1e6f).bits == 0x7C00);
  CHECK(half(-1e6f).bits == 0xFC00);
  CHECK(half(std::numeric_limits<float>::infinity()).bits == 0x7C00);
  CHECK(std::isnan(float(half(std::nanf("")))));
  // 1 + 2^-11 is halfway between 1 and 1+2^-10: ties to even -> 1.
  CHECK(half(1.0f + std::ldexp(1.0f, -11)).bits == 0x3C00);
  CHECK(half(1.0f + 3 * std::ldexp(1.0f, -11)).bits == 0x3C02);
  // Subnormals: smallest 2^-24 = 0x0001; 2^-25 is a tie -> 0 (even); just above -> 0x0001.
  CHECK(half(std::ldexp(1.0f, -24)).bits == 0x0001);
  CHECK(half(std::ldexp(1.0f, -25)).bits == 0x0000);
  CHECK(half(std::ldexp(1.0f, -25) * 1.0001f).bits == 0x0001);
  CHECK(half(std::ldexp(3.0f, -25)).bits == 0x0002);  // 1.5 units: tie -> even (2)
  CHECK(half(std::ldexp(1023.0f, -24)).bits == 0x03FF);  // largest subnormal
  CHECK(half(std::ldexp(1.0f, -14)).bits == 0x0400);     // smallest normal
  CHECK(half(-0.0f).bits == 0x8000);
  // Round trip of every half value through float is exact.
  for (uint32_t b = 0; b < 0x10000; ++b) {
    half h = half::from_bits(uint16_t(b));
    float f = float(h);
    if (std::isnan(f)) continue;
    CHECK_MESSAGE(half(f).bits == b, "bits ", b);
  }
  CHECK(float(half::from_bits(0x0001)) == std::ldexp(1.0f, -24));
  CHECK(float(half::from_bits(0x7BFF)) == 65504.0f);
}
