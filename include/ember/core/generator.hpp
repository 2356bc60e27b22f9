// ember/core/generator.hpp — `Generator`, the seeded counter-based random number source behind
// every random thing in ember (initialization, dropout, shuffling).
//
// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
// bijection of a 128-bit counter under a 64-bit key. The n-th block of random bits is a pure
// function of (seed, n), so a kernel can compute any element's random number independently (the
// same numbers on CPU and GPU, in any thread order), and the state is just (seed, offset):
// saving and restoring it makes a resumed run draw exactly the numbers the original would have.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include <ember/core/dtype.hpp>

namespace ember {

namespace detail {
/// One Philox-4x32-10 block: 4 random 32-bit words for `counter` under `key`.
EMBER_HOST_DEVICE inline void philox4x32_10(uint32_t c[4], uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(M0) * c[0], p1 = uint64_t(M1) * c[2];
    uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0), hi1 = uint32_t(p1 >> 32),
             lo1 = uint32_t(p1);
    uint32_t n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
    k0 += W0;
    k1 += W1;
  }
}
/// Uniform float in [0, 1) from 24 random bits.
EMBER_HOST_DEVICE inline float uint_to_unit_float(uint32_t x) {
  return float(x >> 8) * (1.0f / 16777216.0f);
}
/// Uniform double in [0, 1) from 53 random bits.
EMBER_HOST_DEVICE inline double uints_to_unit_double(uint32_t a, uint32_t b) {
  return double((uint64_t(a) << 21) | uint64_t(b >> 11)) *
         (1.0 / 9007199254740992.0);
}
}  // namespace detail

/// A seeded counter-based random generator. State: `seed` and `offset` (the number of 4-word
/// Philox blocks consumed so far). Copying a Generator copies its state.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}

  uint64_t seed() const { return seed_; }
  /// Blocks consumed so far; with `seed()` this is the whole state.
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  void manual_seed(uint64_t seed) { set_state(seed, 0); }

  /// The 4 random words of block `index` (no state change): what kernels call per element group.
  std::array<uint32_t, 4> block(uint64_t index) const {
    uint32_t c[4] = {uint32_t(index), uint32_t(index >> 32), 0u, 0u};
    detail::philox4x32_10(c, uint32_t(seed_), uint32_t(seed_ >> 32));
    return {c[0], c[1], c[2], c[3]};
  }

  /// Reserves `n` blocks and returns the index of the first: a kernel that needs 4·n words
  /// then reads blocks [first, first + n) in any order, in parallel.
  uint64_t reserve(uint64_t n) {
    uint64_t first = offset_;
    offset_ += n;
    return first;
  }

  /// Next uniform sample in [0, 1) (consumes one block).
  double uniform() {
    auto b = block(reserve(1));
    return detail::uints_to_unit_double(b[0], b[1]);
  }
  /// Next standard normal sample (Box–Muller on one block).
  double normal() {
    auto b = block(reserve(1));
    double u1 = detail::uints_to_unit_double(b[0], b[1]), u2 = detail::uints_to_unit_double(b[2], b[3]);
    return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(6.283185307179586 * u2);
  }
  /// Uniform integer in [0, n) (n > 0), by rejection-free multiply-shift on 64 bits.
  uint64_t randint(uint64_t n) {
    auto b = block(reserve(1));
    uint64_t x = (uint64_t(b[0]) << 32) | b[1];
    __extension__ using u128 = unsigned __int128;  // GCC/Clang builtin; __extension__: -Wpedantic
    return static_cast<uint64_t>((static_cast<u128>(x) * n) >> 64);
  }

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

/// The process-wide default generator, used when a function is not given one.
inline Generator& default_generator() {
  static Generator g(0);
  return g;
}

/// Seeds the default generator (like `torch::manual_seed`).
inline void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace ember
