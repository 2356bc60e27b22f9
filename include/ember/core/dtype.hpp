// ember/core/dtype.hpp — scalar types: the 16-bit storage types `bf16` and `half`, and
// `scalar_traits<T>` that names every element type ember stores.
//
// bf16 (bfloat16: 1 sign, 8 exponent, 7 mantissa bits) is the top half of an IEEE float32;
// half (IEEE 754 binary16: 1, 5, 10) has its own exponent range. Both convert from float with
// round-to-nearest-even, keep inf, keep NaN as a quiet NaN, and handle subnormals exactly
// (IEEE 754-2008 §4.3.1; the same results as PyTorch's `c10::BFloat16` and `c10::Half`).
// They are storage types: arithmetic happens in float after conversion.
#pragma once

#include <cstdint>
#include <cstring>
#include <ostream>
#include <type_traits>

#if defined(__CUDACC__)
#define EMBER_HOST_DEVICE __host__ __device__
#else
#define EMBER_HOST_DEVICE
#endif

namespace ember {

namespace detail {
EMBER_HOST_DEVICE inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
EMBER_HOST_DEVICE inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace detail

/// bfloat16 storage type. Conversion from float rounds to nearest, ties to even.
struct bf16 {
  uint16_t bits = 0;

  bf16() = default;
  EMBER_HOST_DEVICE bf16(float f) : bits(from_float(f)) {}  // NOLINT: implicit like a float
  EMBER_HOST_DEVICE operator float() const { return detail::bits_float(uint32_t(bits) << 16); }

  static bf16 from_bits(uint16_t b) {
    bf16 r;
    r.bits = b;
    return r;
  }
  EMBER_HOST_DEVICE static uint16_t from_float(float f) {
    uint32_t u = detail::float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);  // quiet NaN
    uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);  // ties go to the even neighbour
    return uint16_t((u + rounding) >> 16);
  }
};

/// IEEE 754 binary16 storage type. Conversion from float rounds to nearest, ties to even;
/// values beyond 65504 (after rounding) become inf; tiny values become subnormals or zero.
struct half {
  uint16_t bits = 0;

  half() = default;
  EMBER_HOST_DEVICE half(float f) : bits(from_float(f)) {}  // NOLINT: implicit like a float
  EMBER_HOST_DEVICE operator float() const { return to_float(bits); }

  static half from_bits(uint16_t b) {
    half r;
    r.bits = b;
    return r;
  }

  EMBER_HOST_DEVICE static uint16_t from_float(float f) {
    uint32_t u = detail::float_bits(f);
    uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN
    if (a >= 0x47800000u) return uint16_t(sign | 0x7c00u);  // >= 65536: inf (or overflow)
    if (a < 0x38800000u) {  // below 2^-14: a half subnormal (or zero)
      if (a < 0x33000000u) return sign;  // below half the smallest subnormal 2^-25: ±0
      // Value = mant * 2^(e-150) with the implicit bit; express it in units of 2^-24.
      uint32_t e = a >> 23, mant = (a & 0x7fffffu) | 0x800000u;
      uint32_t shift = 126 - e;  // 2^-24 units: mant >> (150 - 24 - e)
      uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
      if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
      return uint16_t(sign | q);
    }
    // Normal range: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits.
    uint32_t r = a - 0x38000000u;  // exponent - 112
    uint32_t q = r >> 13, rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) ++q;  // may carry into inf: correct
    return uint16_t(sign | q);
  }

  EMBER_HOST_DEVICE static float to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return detail::bits_float(sign | 0x7f800000u | (m << 13));  // inf / NaN
    if (e == 0) {
      if (m == 0) return detail::bits_float(sign);
      float v = float(m) * 5.9604644775390625e-08f;  // m * 2^-24, exact
      return sign ? -v : v;
    }
    return detail::bits_float(sign | ((e + 112) << 23) | (m << 13));
  }
};

inline std::ostream& operator<<(std::ostream& os, bf16 v) { return os << float(v); }
inline std::ostream& operator<<(std::ostream& os, half v) { return os << float(v); }

/// Names and properties of the element types a `Tensor<T>` may hold.
template <class T>
struct scalar_traits;
template <>
struct scalar_traits<float> {
  static constexpr const char* name = "float32";
  static constexpr bool is_floating = true;
};
template <>
struct scalar_traits<double> {
  static constexpr const char* name = "float64";
  static constexpr bool is_floating = true;
};
template <>
struct scalar_traits<bf16> {
  static constexpr const char* name = "bfloat16";
  static constexpr bool is_floating = true;
};
template <>
struct scalar_traits<half> {
  static constexpr const char* name = "float16";
  static constexpr bool is_floating = true;
};
template <>
struct scalar_traits<int64_t> {
  static constexpr const char* name = "int64";
  static constexpr bool is_floating = false;
};
template <>
struct scalar_traits<int32_t> {
  static constexpr const char* name = "int32";
  static constexpr bool is_floating = false;
};
template <>
struct scalar_traits<bool> {
  static constexpr const char* name = "bool";
  static constexpr bool is_floating = false;
};
template <>
struct scalar_traits<uint8_t> {
  static constexpr const char* name = "uint8";
  static constexpr bool is_floating = false;
};
template <>
struct scalar_traits<int8_t> {
  static constexpr const char* name = "int8";
  static constexpr bool is_floating = false;
};

/// Converts between any two ember scalar types (through float for the 16-bit ones).
template <class To, class From>
EMBER_HOST_DEVICE inline To scalar_cast(From v) {
  if constexpr (std::is_same_v<From, bf16> || std::is_same_v<From, half>) {
    return static_cast<To>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, bf16> || std::is_same_v<To, half>) {
    return To(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace ember
