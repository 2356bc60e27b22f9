// Tests for ember/ops/layer_norm.hpp: known values (incl. a float input with a large offset),
// a naive double reference with and without weight/bias, dweight/dbias over many rows (several
// kernel chunks; thread-count determinism), PyTorch fixtures, errors. Gradchecks (several
// layouts, optional weight/bias): the op-case table (tests/support/op_cases.hpp).
#include <ember/autograd/gradcheck.hpp>
#include <ember/core/threads.hpp>
#include <ember/io/safetensors.hpp>
#include <ember/ops/layer_norm.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/test_util.hpp"
using ember::test::leaf;
using ember::test::check_close;

using namespace ember;

namespace {

/// Naive layer norm of contiguous [rows, n] data, in long double.
std::vector<double> naive_layer_norm(const std::vector<double>& x, int64_t rows, int64_t n,
                                     const std::vector<double>& w, const std::vector<double>& b,
                                     double eps) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    long double mu = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mu += x[r * n + i];
    mu /= n;
    for (int64_t i = 0; i < n; ++i) var += (x[r * n + i] - mu) * (x[r * n + i] - mu);
    var /= n;
    long double rs = 1.0L / std::sqrt(var + eps);
    for (int64_t i = 0; i < n; ++i)
      y[r * n + i] =
          double((x[r * n + i] - mu) * rs * (w.empty() ? 1.0 : w[i]) + (b.empty() ? 0.0 : b[i]));
  }
  return y;
}

/// Elementwise |got − want| ≤ tol (1 + |want|), same number of elements.
}  // namespace

TEST_CASE("layer_norm: float32 [10000..10003] with eps 1e-12 matches the double result") {
  Tensor<float> xf = from_vector<float>({10000, 10001, 10002, 10003}, {1, 4});
  Tensor<double> xd = from_vector<double>({10000, 10001, 10002, 10003}, {1, 4});
  std::vector<float> yf = layer_norm(xf, {4}, {}, {}, 1e-12).to_vector();
  std::vector<double> yd = layer_norm(xd, {4}, {}, {}, 1e-12).to_vector();
  const double s = std::sqrt(1.25);
  std::vector<double> expected = {-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s};
  for (int i = 0; i < 4; ++i) {
    CHECK(yd[i] == doctest::Approx(expected[i]).epsilon(1e-12));
    CHECK(std::abs(double(yf[i]) - yd[i]) < 1e-4);
  }
}

TEST_CASE("layer_norm: hand-computed values with weight and bias") {
  // Row [1, 2, 3, 4]: mean 2.5, var 1.25; row [2, 2, 2, 2]: var 0 → x̂ = 0.
  Tensor<double> x = from_vector<double>({1, 2, 3, 4, 2, 2, 2, 2}, {2, 4});
  Tensor<double> w = from_vector<double>({1, 2, 3, 4});
  Tensor<double> b = from_vector<double>({0.5, 0, -0.5, 1});
  std::vector<double> y = layer_norm(x, {4}, w, b, 1e-5).to_vector();
  const double rs = 1.0 / std::sqrt(1.25 + 1e-5);
  std::vector<double> expected = {
      -1.5 * rs * 1 + 0.5, -0.5 * rs * 2, 0.5 * rs * 3 - 0.5, 1.5 * rs * 4 + 1, 0.5, 0, -0.5, 1};
  for (int i = 0; i < 8; ++i) CHECK(y[i] == doctest::Approx(expected[i]).epsilon(1e-14));
}

TEST_CASE("layer_norm: matches a naive reference, with and without weight/bias") {
  Generator gen(3);
  Tensor<double> x = randn<double>({2, 3, 8}, gen, 1.0, 3.0);
  Tensor<double> w = randn<double>({8}, gen, 1.0, 0.1), b = randn<double>({8}, gen, 0.0, 0.1);
  Tensor<double> w2 = randn<double>({3, 8}, gen), b2 = randn<double>({3, 8}, gen);
  std::vector<double> xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
  struct Case {
    Tensor<double> w, b;
    std::vector<double> wv, bv;
  };
  for (const Case& c :
       {Case{w, b, wv, bv}, Case{w, {}, wv, {}}, Case{{}, b, {}, bv}, Case{{}, {}, {}, {}}}) {
    std::vector<double> got = layer_norm(x, {8}, c.w, c.b).to_vector();
    std::vector<double> ref = naive_layer_norm(xv, 6, 8, c.wv, c.bv, 1e-5);
    for (std::size_t i = 0; i < ref.size(); ++i)
      REQUIRE(got[i] == doctest::Approx(ref[i]).epsilon(1e-13).scale(1.0));
  }
  // normalized_shape over two dims: rows are [3, 8] blocks.
  std::vector<double> got = layer_norm(x, {3, 8}, w2, b2, 1e-3).to_vector();
  std::vector<double> ref = naive_layer_norm(xv, 2, 24, w2.to_vector(), b2.to_vector(), 1e-3);
  for (std::size_t i = 0; i < ref.size(); ++i)
    REQUIRE(got[i] == doctest::Approx(ref[i]).epsilon(1e-13).scale(1.0));
  // A non-contiguous input gives the same result as its contiguous copy.
  Tensor<double> xt = x.transpose(0, 1);  // [3, 2, 8]
  CHECK(layer_norm(xt, {8}, w, b).to_vector() ==
        layer_norm(xt.contiguous(), {8}, w, b).to_vector());
}

TEST_CASE("layer_norm backward: dweight/dbias over many rows, deterministic across threads") {
  Generator gen(4);
  const int64_t rows = 700, n = 96;  // several row chunks in the kernel
  Tensor<float> x = randn<float>({rows, n}, gen, 2.0, 1.5);
  Tensor<float> w = randn<float>({n}, gen, 1.0, 0.2), b = randn<float>({n}, gen);
  Tensor<float> g = randn<float>({rows, n}, gen);
  x.requires_grad_();
  w.requires_grad_();
  b.requires_grad_();
  auto run = [&] {
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
    layer_norm(x, {n}, w, b).backward(g);
    return std::vector<std::vector<float>>{x.grad().to_vector(), w.grad().to_vector(),
                                           b.grad().to_vector()};
  };
  int saved = get_num_threads();
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  set_num_threads(saved);
  CHECK(one == two);
  // Naive dweight = Σ g x̂, dbias = Σ g, dx by the formula, all in double.
  std::vector<double> xv(x.data(), x.data() + rows * n), gv(g.data(), g.data() + rows * n),
      wv(w.data(), w.data() + n);
  std::vector<double> dw(n, 0.0), db(n, 0.0), dx(rows * n);
  for (int64_t r = 0; r < rows; ++r) {
    double mu = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mu += xv[r * n + i];
    mu /= n;
    for (int64_t i = 0; i < n; ++i) var += (xv[r * n + i] - mu) * (xv[r * n + i] - mu);
    double rs = 1.0 / std::sqrt(var / n + 1e-5);
    double a = 0, c = 0;
    for (int64_t i = 0; i < n; ++i) {
      double xh = (xv[r * n + i] - mu) * rs, gw = gv[r * n + i] * wv[i];
      dw[i] += gv[r * n + i] * xh;
      db[i] += gv[r * n + i];
      a += gw;
      c += gw * xh;
    }
    for (int64_t i = 0; i < n; ++i) {
      double xh = (xv[r * n + i] - mu) * rs, gw = gv[r * n + i] * wv[i];
      dx[r * n + i] = rs * (gw - a / n - xh * c / n);
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    REQUIRE(one[1][i] == doctest::Approx(dw[i]).epsilon(1e-5).scale(1.0));
    REQUIRE(one[2][i] == doctest::Approx(db[i]).epsilon(1e-5).scale(1.0));
  }
  for (int64_t i = 0; i < rows * n; ++i)
    REQUIRE(one[0][i] == doctest::Approx(dx[i]).epsilon(1e-4).scale(1.0));
}

TEST_CASE("layer_norm: errors name the op and the shapes") {
  Tensor<float> x = zeros<float>({2, 3, 5});
  CHECK_THROWS_WITH_AS(layer_norm(x, {4}),
                       "layer_norm: expected input of shape [*, 4] for normalized_shape [4], "
                       "found input of shape [2, 3, 5]",
                       ember::Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {2, 3, 5, 1}), doctest::Contains("[2, 3, 5]"), ember::Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {5}, zeros<float>({4})),
                       "layer_norm: weight of shape [4] does not match normalized_shape [5] "
                       "(input shape [2, 3, 5])",
                       ember::Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {3, 5}, zeros<float>({3, 5}), zeros<float>({5})),
                       doctest::Contains("layer_norm: bias of shape [5] does not match "
                                         "normalized_shape [3, 5]"),
                       ember::Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, Shape{}),
                       doctest::Contains("normalized_shape must have at least one dimension"),
                       ember::Error);
}

TEST_CASE("layer_norm: matches PyTorch reference values (tests/data/ops/ops.safetensors)") {
  // float64 fixtures from tools/gen_op_fixtures.py: F.layer_norm(input [2, 3, 8], (8,), weight,
  // bias, eps=1e-5) with grads for input, weight and bias; tolerance 1e-12.
  auto file = io::SafetensorsFile::open(EMBER_TEST_DATA_DIR "/ops/ops.safetensors");
  Tensor<double> x = file.get<double>("layer_norm.input");
  Tensor<double> w = file.get<double>("layer_norm.weight");
  Tensor<double> b = file.get<double>("layer_norm.bias");
  x.requires_grad_();
  w.requires_grad_();
  b.requires_grad_();
  Tensor<double> y = layer_norm(x, {8}, w, b, 1e-5);
  check_close(y, file.get<double>("layer_norm.output"), 1e-12);
  y.backward(file.get<double>("layer_norm.grad_output"));
  check_close(x.grad(), file.get<double>("layer_norm.grad_input"), 1e-12);
  check_close(w.grad(), file.get<double>("layer_norm.grad_weight"), 1e-12);
  check_close(b.grad(), file.get<double>("layer_norm.grad_bias"), 1e-12);
}
