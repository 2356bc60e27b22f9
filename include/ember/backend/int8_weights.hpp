// ember/backend/int8_weights.hpp — the int8 form of one weight row (one output channel), shared by
// the CPU's int8 products (backend/cpu/int8_gemm.hpp, which quantizes a weight once and keeps
// it) and by int8 model files (models/bert/pretrained.hpp, which save that same form), so that a
// saved int8 model loads back to exactly the integers the products used before saving.
//
//   s = max_k |w[k]| / 127 (1 for a row of zeros),   q[k] = round-half-even(w[k] · (1 / s))
//
// Plain scalar code compiled with the includer's flags: the product w·(1/s) is rounded to float
// before nearbyint (no addition follows it, so no compiler may fuse it into an FMA, whose single
// rounding would round a different way at a few near-ties — as the vectorized activation
// quantization of int8_gemm.hpp may). Weights are quantized once, so speed does not matter here.
// A NaN in the row gives a NaN scale and an infinity an infinite one, with q all 0: the products
// then output NaN, never a finite number that hides the bad weight.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace ember::backend {

/// Quantizes the `k` floats at `w` (stride `stride`) into q[0..k); returns the scale.
inline float quantize_weight_row_s8(const float* w, int64_t stride, int8_t* q, int64_t k) {
  float amax = 0.0f;
  bool nan = false;
  for (int64_t i = 0; i < k; ++i) {
    const float v = w[i * stride];
    nan = nan || v != v;
    amax = std::abs(v) > amax ? std::abs(v) : amax;
  }
  if (nan || amax == std::numeric_limits<float>::infinity()) {
    for (int64_t i = 0; i < k; ++i) q[i] = 0;
    return nan ? std::numeric_limits<float>::quiet_NaN() : amax;
  }
  const float scale = amax > 0.0f ? amax / 127.0f : 1.0f;
  const float inv = 1.0f / scale;
  for (int64_t i = 0; i < k; ++i) {
    const float v = std::nearbyint(w[i * stride] * inv);
    q[i] = static_cast<int8_t>(v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v));
  }
  return scale;
}

}  // namespace ember::backend
