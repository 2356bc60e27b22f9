// Tests for ember/ops/softmax.hpp: known values (stability with huge and −inf logits), the
// all −inf row convention (zeros / −inf, zero and finite gradients), row vs column kernels,
// PyTorch fixtures, and error messages. Gradchecks (every dim and layout, masks): the op-case
// table (tests/support/op_cases.hpp).
#include <ember/autograd/gradcheck.hpp>
#include <ember/io/safetensors.hpp>
#include <ember/ops/softmax.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/test_util.hpp"
using ember::test::leaf;
using ember::test::check_close;

using namespace ember;

namespace {
constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr double kInf = std::numeric_limits<double>::infinity();


bool all_finite(const std::vector<double>& v) {
  for (double x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

/// Elementwise |got − want| ≤ tol (1 + |want|), same number of elements.
}  // namespace

TEST_CASE("softmax / log_softmax: known values") {
  Tensor<float> x = from_vector<float>({1000.0f, 1000.0f, -kInfF});
  std::vector<float> y = softmax(x, 0).to_vector();
  CHECK(y == std::vector<float>{0.5f, 0.5f, 0.0f});
  std::vector<float> ly = log_softmax(x, -1).to_vector();
  CHECK(ly[0] == doctest::Approx(-std::log(2.0)));
  CHECK(ly[1] == doctest::Approx(-std::log(2.0)));
  CHECK(ly[2] == -kInfF);

  // softmax([1, 2, 3]) = e^i / (e + e² + e³).
  Tensor<double> a = from_vector<double>({1, 2, 3});
  double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  std::vector<double> s = softmax(a, 0).to_vector();
  for (int i = 0; i < 3; ++i) CHECK(s[i] == doctest::Approx(std::exp(i + 1.0) / z).epsilon(1e-14));
  std::vector<double> ls = log_softmax(a, 0).to_vector();
  for (int i = 0; i < 3; ++i) CHECK(ls[i] == doctest::Approx(i + 1.0 - std::log(z)).epsilon(1e-14));

  // log_softmax stays finite where softmax underflows to 0.
  Tensor<float> far = from_vector<float>({0.0f, -200.0f});
  CHECK(softmax(far, 0).to_vector()[1] == 0.0f);
  CHECK(log_softmax(far, 0).to_vector()[1] == doctest::Approx(-200.0f));

  // 0-d input: a single element.
  CHECK(softmax(full<double>(Shape{}, 3.0), 0).item() == 1.0);
  CHECK(log_softmax(full<double>(Shape{}, 3.0), -1).item() == 0.0);
}

TEST_CASE("softmax: an all -inf row gives zeros (log_softmax: -inf) and zero, finite gradients") {
  // Row kernel (last dim): row 1 is fully masked.
  Tensor<double> x = from_vector<double>({0.5, -kInf, 2.0, -kInf, -kInf, -kInf}, {2, 3});
  x.requires_grad_();
  Tensor<double> dy = from_vector<double>({0.3, -1.2, 0.7, 2.0, -0.5, 1.5}, {2, 3});
  Tensor<double> y = softmax(x, -1);
  std::vector<double> yv = y.to_vector();
  CHECK(yv[1] == 0.0);
  CHECK(yv[3] == 0.0);
  CHECK(yv[4] == 0.0);
  CHECK(yv[5] == 0.0);
  CHECK(yv[0] + yv[2] == doctest::Approx(1.0));
  y.backward(dy);
  std::vector<double> g = x.grad().to_vector();
  CHECK(all_finite(g));
  CHECK(g[3] == 0.0);
  CHECK(g[4] == 0.0);
  CHECK(g[5] == 0.0);
  CHECK(g[1] == 0.0);

  x.zero_grad();
  Tensor<double> ly = log_softmax(x, 1);
  std::vector<double> lv = ly.to_vector();
  CHECK(lv[3] == -kInf);
  CHECK(lv[4] == -kInf);
  CHECK(lv[5] == -kInf);
  ly.backward(dy);
  g = x.grad().to_vector();
  CHECK(all_finite(g));
  CHECK(g[3] == 0.0);
  CHECK(g[4] == 0.0);
  CHECK(g[5] == 0.0);

  // Column kernel (dim 0 of [3, 2]): column 1 is fully masked.
  Tensor<float> c = from_vector<float>({1, -kInfF, 2, -kInfF, 3, -kInfF}, {3, 2});
  c.requires_grad_();
  Tensor<float> cy = softmax(c, 0);
  std::vector<float> cv = cy.to_vector();
  CHECK(cv[1] == 0.0f);
  CHECK(cv[3] == 0.0f);
  CHECK(cv[5] == 0.0f);
  CHECK(cv[0] + cv[2] + cv[4] == doctest::Approx(1.0f));
  cy.backward(ones<float>({3, 2}));
  for (float v : c.grad().to_vector()) CHECK(std::isfinite(v));
  c.zero_grad();
  Tensor<float> cl = log_softmax(c, 0);
  cv = cl.to_vector();
  CHECK(cv[1] == -kInfF);
  CHECK(cv[5] == -kInfF);
  CHECK(std::isfinite(cv[0]));
  cl.backward(ones<float>({3, 2}));
  std::vector<float> cg = c.grad().to_vector();
  for (float v : cg) CHECK(std::isfinite(v));
  CHECK(cg[1] == 0.0f);
  CHECK(cg[3] == 0.0f);
  CHECK(cg[5] == 0.0f);
}

TEST_CASE("softmax: NaN inputs give NaN rows") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor<double> x = from_vector<double>({1.0, nan, 0.0, nan, nan, nan}, {2, 3});
  for (double v : softmax(x, 1).to_vector()) CHECK(std::isnan(v));
  for (double v : log_softmax(x, 1).to_vector()) CHECK(std::isnan(v));
}

TEST_CASE("softmax: every dim and layout sums to 1 and matches the row kernel") {
  Generator gen(5);
  Tensor<double> x = randn<double>({3, 4, 300}, gen, 0.0, 3.0);
  for (int64_t d : {0, 1, 2, -1}) {
    CAPTURE(d);
    Tensor<double> y = softmax(x, d);
    Tensor<double> ly = log_softmax(x, d);
    // Reference: move `d` last, use the row kernel, move it back.
    Tensor<double> ref = softmax(x.transpose(d, -1).contiguous(), -1).transpose(d, -1);
    std::vector<double> yv = y.to_vector(), rv = ref.to_vector(), lv = ly.to_vector();
    for (std::size_t i = 0; i < yv.size(); ++i) {
      REQUIRE(yv[i] == doctest::Approx(rv[i]).epsilon(1e-13));
      REQUIRE(std::exp(lv[i]) == doctest::Approx(yv[i]).epsilon(1e-12));
    }
  }
  // Non-contiguous input (transposed view).
  Tensor<double> xt = x.transpose(0, 2);  // [300, 4, 3]
  Tensor<double> yt = softmax(xt, 0);     // = softmax(x, 2) transposed
  Tensor<double> ref = softmax(x, 2).transpose(0, 2);
  CHECK(yt.to_vector() == ref.to_vector());
}

TEST_CASE("softmax: float rows with huge logits") {
  Generator gen(9);
  Tensor<float> x = randn<float>({64, 1000}, gen, 0.0, 1.0);
  Tensor<float> big = add(x, 1.0e4);  // softmax is shift-invariant
  std::vector<float> a = softmax(x, 1).to_vector(), b = softmax(big, 1).to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(b[i] == doctest::Approx(a[i]).epsilon(2e-3));
  std::vector<float> la = log_softmax(x, 1).to_vector();
  for (std::size_t i = 0; i < a.size(); ++i)
    REQUIRE(std::exp(la[i]) == doctest::Approx(a[i]).epsilon(1e-5));
}

TEST_CASE("softmax: errors name the op, the dim and the shape") {
  Tensor<float> a = zeros<float>({2, 3});
  CHECK_THROWS_WITH_AS(softmax(a, 2),
                       "softmax: dim 2 is out of range for a tensor of shape [2, 3] (expected a "
                       "dim in [-2, 1])",
                       ember::Error);
  CHECK_THROWS_WITH_AS(log_softmax(a, -3), doctest::Contains("log_softmax: dim -3"), ember::Error);
}

TEST_CASE(
    "softmax / log_softmax: match PyTorch reference values (tests/data/ops/ops.safetensors)") {
  // float64 fixtures from tools/gen_op_fixtures.py: F.softmax / F.log_softmax(input [2, 3, 5],
  // dim=-1), one row shifted by +50; tolerance 1e-12.
  auto file = io::SafetensorsFile::open(EMBER_TEST_DATA_DIR "/ops/ops.safetensors");
  for (const std::string op : {"softmax", "log_softmax"}) {
    CAPTURE(op);
    Tensor<double> x = file.get<double>(op + ".input");
    x.requires_grad_();
    Tensor<double> y = op == "softmax" ? softmax(x, -1) : log_softmax(x, -1);
    check_close(y, file.get<double>(op + ".output"), 1e-12);
    y.backward(file.get<double>(op + ".grad_output"));
    check_close(x.grad(), file.get<double>(op + ".grad_input"), 1e-12);
  }
}

// ---- scaled_masked_softmax: the fused attention probabilities -----------------------------------

TEST_CASE("scaled_masked_softmax equals softmax(x / d + mask) for every mask shape") {
  const Shape xs{2, 3, 4, 5};
  Tensor<double> x = leaf(xs, 11);
  const double d = std::sqrt(8.0);
  // A padding mask [batch, 1, 1, seq_k] as nn::additive_attention_mask makes (batch 1: last two
  // keys masked), a per-query mask [batch, 1, seq_q, seq_k], one mask for all [1, 1, 1, seq_k],
  // and a mask of x's full shape (the expanded fallback).
  const double lo = std::numeric_limits<double>::lowest();
  Tensor<double> pad = from_vector<double>({0, 0, 0, 0, 0, 0, 0, 0, lo, lo}, {2, 1, 1, 5});
  Tensor<double> per_query = leaf({2, 1, 4, 5}, 12).detach();
  Tensor<double> shared = leaf({1, 1, 1, 5}, 13).detach();
  Tensor<double> full = leaf(xs, 14).detach();
  for (const Tensor<double>& m : {Tensor<double>(), pad, per_query, shared, full}) {
    Tensor<double> want = softmax(m.defined() ? x / d + m : x / d, -1);
    check_close(scaled_masked_softmax(x, d, m), want, 1e-14);
  }
  // Masked keys get probability 0, and each row sums to 1.
  std::vector<double> p = scaled_masked_softmax(x, d, pad).to_vector();
  for (int64_t r = 0; r < 24; ++r) {
    double s = 0;
    for (int64_t j = 0; j < 5; ++j) s += p[std::size_t(r * 5 + j)];
    CHECK(s == doctest::Approx(1.0).epsilon(1e-12));
    if (r >= 12) CHECK(p[std::size_t(r * 5 + 3)] == 0.0);
  }
  // float: the vectorized exp agrees with the unfused float ops to a few ulp.
  Tensor<float> xf = x.detach().to<float>(), padf = pad.to<float>();
  std::vector<float> got = scaled_masked_softmax(xf, d, padf).to_vector();
  std::vector<float> ref = softmax(xf / d + padf, -1).to_vector();
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(ref[i]).epsilon(1e-6));
  // Non-contiguous scores (a transposed view) are read correctly.
  Tensor<double> xt = leaf({2, 3, 5, 4}, 15).transpose(-2, -1);
  check_close(scaled_masked_softmax(xt, d, pad), softmax(xt / d + pad, -1), 1e-14);
}

TEST_CASE("scaled_masked_softmax: an all -inf row gives zeros and a zero gradient") {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor<double> x = from_vector<double>({-inf, -inf, 1.0, 2.0}, {1, 1, 2, 2});
  x.requires_grad_(true);
  Tensor<double> y = scaled_masked_softmax(x, 2.0);
  std::vector<double> v = y.to_vector();
  CHECK(v[0] == 0.0);
  CHECK(v[1] == 0.0);
  CHECK(v[2] + v[3] == doctest::Approx(1.0));
  y.backward(from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}));
  std::vector<double> g = x.grad().to_vector();
  CHECK(g[0] == 0.0);
  CHECK(g[1] == 0.0);
}

TEST_CASE("scaled_masked_softmax: errors name the op and the shapes") {
  Tensor<double> x = leaf({2, 3, 4, 5}, 1);
  std::string e = ember::test::error_of([&] { scaled_masked_softmax(x, 2.0, leaf({3, 1, 1, 5}, 2).detach()); });
  CHECK(ember::test::contains(e, "scaled_masked_softmax"));
  CHECK(ember::test::contains(e, "[3, 1, 1, 5]"));
  e = ember::test::error_of([&] { scaled_masked_softmax(x, 0.0); });
  CHECK(ember::test::contains(e, "positive divisor"));
  Tensor<double> m = leaf({2, 1, 1, 5}, 3);
  m.requires_grad_(true);
  e = ember::test::error_of([&] { scaled_masked_softmax(x, 2.0, m); });
  CHECK(ember::test::contains(e, "must not require grad"));
  e = ember::test::error_of([&] { scaled_masked_softmax(leaf({5}, 4), 2.0); });
  CHECK(ember::test::contains(e, "[5]"));
}
