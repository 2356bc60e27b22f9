// Generator: Philox-4x32-10 known-answer test, determinism, state save/restore, distributions.
#include <cmath>

#include <doctest/doctest.h>
#include <ember/core/generator.hpp>
#include <ember/core/threads.hpp>

TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors") {
  // Random123's kat_vectors: philox4x32 10 rounds, counter 0, key 0 -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8
  uint32_t c[4] = {0, 0, 0, 0};
  ember::detail::philox4x32_10(c, 0, 0);
  CHECK(c[0] == 0x6627e8d5u);
  CHECK(c[1] == 0xe169c58du);
  CHECK(c[2] == 0xbc57ac4cu);
  CHECK(c[3] == 0x9b00dbd8u);
  // counter all ones, key all ones -> 408f276d 41c83b0e a20bc7c6 6d5451fd
  uint32_t d[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
  ember::detail::philox4x32_10(d, 0xffffffffu, 0xffffffffu);
  CHECK(d[0] == 0x408f276du);
  CHECK(d[1] == 0x41c83b0eu);
  CHECK(d[2] == 0xa20bc7c6u);
  CHECK(d[3] == 0x6d5451fdu);
}

TEST_CASE("Generator: same seed same stream, state restore resumes exactly") {
  ember::Generator a(7), b(7), c(8);
  double x = a.uniform(), y = b.uniform(), z = c.uniform();
  CHECK(x == y);
  CHECK(x != z);
  ember::Generator saved = a;  // copy = snapshot of (seed, offset)
  double next1 = a.normal();
  ember::Generator resumed;
  resumed.set_state(saved.seed(), saved.offset());
  CHECK(resumed.normal() == next1);
}

TEST_CASE("Generator: uniform and normal moments, randint range") {
  ember::Generator g(123);
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0;
  for (int i = 0; i < n; ++i) {
    double u = g.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    su += u;
    double z = g.normal();
    sn += z;
    sn2 += z * z;
  }
  CHECK(su / n == doctest::Approx(0.5).epsilon(0.01));
  CHECK(std::abs(sn / n) < 0.01);
  CHECK(sn2 / n == doctest::Approx(1.0).epsilon(0.02));
  int counts[5] = {};
  for (int i = 0; i < 50000; ++i) {
    uint64_t k = g.randint(5);
    REQUIRE(k < 5);
    ++counts[k];
  }
  for (int k = 0; k < 5; ++k) CHECK(counts[k] == doctest::Approx(10000).epsilon(0.05));
}

TEST_CASE("set_num_threads validates its argument") {
  CHECK_THROWS_AS(ember::set_num_threads(0), ember::Error);
  ember::set_num_threads(1);
  CHECK(ember::get_num_threads() == 1);
  ember::set_num_threads(2);
}
