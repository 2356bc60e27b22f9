// Tests of ember/ops/dropout.hpp: the mask rule (Philox words), reproducibility, the kept
// fraction, exact scaling, backward with the mask fixed, eval/p=0 identity, p=1, errors.
// Gradchecks: the op-case table (tests/support/op_cases.hpp).
#include <ember/ops/dropout.hpp>

#include <ember/autograd/gradcheck.hpp>
#include <ember/core/threads.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace ember;

namespace {
// The keep decision of element i, computed independently of the kernel from the documented rule:
// word i % 4 of Philox block base + i / 4, kept iff uniform(word) >= p.
bool expected_keep(const Generator& gen, uint64_t base, int64_t i, double p) {
  auto words = gen.block(base + uint64_t(i) / 4);
  return double(detail::uint_to_unit_float(words[i % 4])) >= p;
}
}  // namespace

TEST_CASE_TEMPLATE("dropout: mask follows the Philox rule, kept values are scaled exactly", T, float,
                   double) {
  const double p = 0.25;
  Generator gen(42);
  gen.reserve(5);  // a nonzero starting offset
  const Generator before = gen;
  Tensor<T> x = randn<T>({7, 9}, gen);  // 63 elements: not a multiple of 4
  const Generator at_dropout = gen;
  Tensor<T> y = dropout(x, p, true, gen);
  // ceil(63 / 4) = 16 blocks reserved.
  CHECK(gen.offset() == at_dropout.offset() + 16);
  CHECK(gen.seed() == before.seed());
  const T scale = T(1.0 / (1.0 - p));
  std::vector<T> xv = x.to_vector(), yv = y.to_vector();
  int kept = 0;
  for (int64_t i = 0; i < 63; ++i) {
    bool keep = expected_keep(at_dropout, at_dropout.offset(), i, p);
    kept += keep;
    CHECK(yv[i] == (keep ? T(xv[i] * scale) : T(0)));
  }
  CHECK(kept > 0);
  CHECK(kept < 63);
}

TEST_CASE("dropout: same generator state gives the same mask; different seeds differ") {
  Tensor<float> x = ones<float>({1000});
  Generator a(7), b(7), c(8);
  Tensor<float> ya = dropout(x, 0.5, true, a), yb = dropout(x, 0.5, true, b),
                yc = dropout(x, 0.5, true, c);
  CHECK(ya.to_vector() == yb.to_vector());
  CHECK(ya.to_vector() != yc.to_vector());
  // The generator advanced: a second call draws a different mask.
  CHECK(dropout(x, 0.5, true, a).to_vector() != ya.to_vector());
  // The default generator, reseeded.
  manual_seed(123);
  Tensor<float> d1 = dropout(x, 0.5);
  manual_seed(123);
  Tensor<float> d2 = dropout(x, 0.5, true);
  CHECK(d1.to_vector() == d2.to_vector());
}

TEST_CASE("dropout: kept fraction ≈ 1 − p on 10^5 elements, independent of the thread count") {
  const int64_t n = 100000;
  Tensor<double> x = ones<double>({n});
  for (double p : {0.1, 0.3, 0.5, 0.9}) {
    Generator gen(2024);
    Tensor<double> y = dropout(x, p, true, gen);
    const double scale = 1.0 / (1.0 - p);
    int64_t kept = 0;
    bool values_ok = true;
    for (double v : y.to_vector()) {
      if (v != 0.0) {
        ++kept;
        values_ok = values_ok && v == scale;
      }
    }
    CHECK(values_ok);
    // Binomial standard deviation of the fraction ≤ 0.0016; allow about 6 sigma.
    CHECK(std::abs(double(kept) / double(n) - (1.0 - p)) < 0.01);
  }
  const int saved = get_num_threads();
  set_num_threads(1);
  Generator g1(99);
  std::vector<double> one_thread = dropout(x, 0.3, true, g1).to_vector();
  set_num_threads(3);
  Generator g3(99);
  std::vector<double> three_threads = dropout(x, 0.3, true, g3).to_vector();
  set_num_threads(saved);
  CHECK(one_thread == three_threads);
}

TEST_CASE("dropout: a non-contiguous input uses the logical (row-major) order") {
  Generator g0(5);
  Tensor<double> base = randn<double>({6, 5}, g0);
  Tensor<double> xt = base.t();  // [5, 6], non-contiguous
  Generator a(11), b(11);
  CHECK(dropout(xt, 0.4, true, a).to_vector() == dropout(xt.contiguous(), 0.4, true, b).to_vector());
}

TEST_CASE("dropout: backward is g ⊙ mask / (1 − p)") {
  Tensor<double> x = ones<double>({4, 8});
  x.requires_grad_();
  Generator gen(3);
  Tensor<double> y = dropout(x, 0.5, true, gen);
  Tensor<double> g = full<double>({4, 8}, 3.0);
  y.backward(g);
  // With x = 1: y = mask · 2, so the gradient is 3 · y.
  std::vector<double> yv = y.to_vector(), gv = x.grad().to_vector();
  for (std::size_t i = 0; i < yv.size(); ++i) CHECK(gv[i] == 3.0 * yv[i]);
}

TEST_CASE("dropout: eval mode and p = 0 return the input itself; p = 1 gives zeros") {
  Tensor<float> x = ones<float>({3, 3});
  Generator gen(1);
  CHECK(dropout(x, 0.5, false, gen).is_same(x));
  CHECK(dropout(x, 0.0, true, gen).is_same(x));
  CHECK(gen.offset() == 0);  // nothing drawn

  Tensor<double> xd = ones<double>({2, 3});
  xd.requires_grad_();
  Tensor<double> z = dropout(xd, 1.0, true, gen);
  CHECK(z.to_vector() == std::vector<double>(6, 0.0));
  z.backward(ones<double>({2, 3}));
  CHECK(xd.grad().to_vector() == std::vector<double>(6, 0.0));
}

TEST_CASE("dropout: p outside [0, 1] throws, naming the op and p") {
  Tensor<float> x = ones<float>({2});
  Generator gen(1);
  CHECK_THROWS_WITH_AS(dropout(x, -0.1, true, gen), doctest::Contains("dropout"), Error);
  CHECK_THROWS_WITH_AS(dropout(x, 1.5, true, gen), doctest::Contains("1.5"), Error);
  CHECK_THROWS_AS(dropout(x, 1.5, false, gen), Error);  // checked in eval mode too (as PyTorch)
  CHECK_THROWS_AS(dropout(x, std::numeric_limits<double>::quiet_NaN(), true, gen), Error);
}
