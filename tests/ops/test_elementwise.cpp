// Elementwise arithmetic and math: gradchecks (double) on broadcast and non-contiguous inputs,
// known values, and the errors for shapes that do not broadcast.
#include <cmath>
#include <string>

#include <doctest/doctest.h>
#include <ember/ember.hpp>

using namespace ember;
using TD = Tensor<double>;
using Inputs = std::vector<TD>;

TEST_CASE("binary ops: gradcheck with broadcasting and non-contiguous operands") {
  Generator gen(1);
  auto a = randn<double>({3, 4}, gen).requires_grad_();
  auto row = randn<double>({4}, gen).requires_grad_();
  auto col = randn<double>({3, 1}, gen).requires_grad_();
  auto tr = randn<double>({4, 3}, gen).t().detach().requires_grad_();       // transposed leaf
  auto sl = randn<double>({3, 8}, gen).slice(1, 0, 8, 2).detach().requires_grad_();  // strided
  auto pos = add(rand<double>({3, 4}, gen), 0.5).requires_grad_();           // away from 0 for div
  CHECK(gradcheck([](const Inputs& x) { return x[0] + x[1]; }, {a, row}));
  CHECK(gradcheck([](const Inputs& x) { return x[0] - x[1]; }, {col, row}));
  CHECK(gradcheck([](const Inputs& x) { return x[0] * x[1]; }, {tr, col}));
  CHECK(gradcheck([](const Inputs& x) { return x[0] / x[1]; }, {sl, pos}));
  CHECK(gradcheck([](const Inputs& x) { return x[0] * x[0]; }, {a}));  // same tensor twice
  CHECK(gradcheck([](const Inputs& x) { return 2.0 - x[0] * 3.0 + 1.5 / 2.0; }, {a}));
  CHECK(gradcheck([](const Inputs& x) { return -x[0] / 4.0 + neg(x[1]); }, {a, row}));
}

TEST_CASE("unary math: gradcheck") {
  Generator gen(2);
  auto a = randn<double>({2, 3, 4}, gen).requires_grad_();
  auto tr = randn<double>({4, 3}, gen).t().detach().requires_grad_();
  auto pos = add(rand<double>({5, 3}, gen), 0.2).t().detach().requires_grad_();
  for (auto x : {a, tr}) {
    CHECK(gradcheck([](const Inputs& v) { return exp(v[0]); }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return tanh(v[0]); }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return gelu(v[0]); }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return gelu_tanh(v[0]); }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return pow(v[0], 3.0); }, {x}));
  }
  CHECK(gradcheck([](const Inputs& v) { return log(v[0]); }, {pos}));
  CHECK(gradcheck([](const Inputs& v) { return sqrt(v[0]); }, {pos}));
  CHECK(gradcheck([](const Inputs& v) { return rsqrt(v[0]); }, {pos}));
  CHECK(gradcheck([](const Inputs& v) { return pow(v[0], -1.5); }, {pos}));
  // relu away from the kink at 0.
  auto away = from_vector<double>({-1.0, -0.3, 0.4, 2.0}).requires_grad_();
  CHECK(gradcheck([](const Inputs& v) { return relu(v[0]); }, {away}));
}

TEST_CASE("known values") {
  // GELU exact: 1·Φ(1) = 0.8413447461; tanh form (HF gelu_new): 0.8411919906.
  CHECK(gelu(full<float>({1}, 1.0f)).item() == doctest::Approx(0.8413447).epsilon(1e-6));
  CHECK(gelu_tanh(full<float>({1}, 1.0f)).item() == doctest::Approx(0.8411920).epsilon(1e-6));
  CHECK(gelu(full<double>({1}, -3.0)).item() == doctest::Approx(-0.0040496).epsilon(1e-4));
  auto x = from_vector<float>({1, 4, 9});
  CHECK(sqrt(x).to_vector() == std::vector<float>{1, 2, 3});
  CHECK(rsqrt(x).at({1}) == doctest::Approx(0.5));
  CHECK(relu(from_vector<float>({-1, 0, 2})).to_vector() == std::vector<float>{0, 0, 2});
  CHECK(exp(zeros<float>({2})).to_vector() == std::vector<float>{1, 1});
  CHECK(log(full<double>({1}, std::exp(2.0))).item() == doctest::Approx(2.0));
  auto b = from_vector<float>({1, 2, 3}) / from_vector<float>({2, 4, 6}).reshape({3, 1});
  CHECK(b.shape() == Shape{3, 3});
  CHECK(b.at({2, 0}) == doctest::Approx(1.0f / 6));
}

TEST_CASE("shapes that do not broadcast name the op and both shapes") {
  auto a = ones<float>({2, 3});
  auto b = ones<float>({4});
  for (auto f : {+[](const Tensor<float>& x, const Tensor<float>& y) { return x + y; },
                 +[](const Tensor<float>& x, const Tensor<float>& y) { return x * y; }}) {
    try {
      f(a, b);
      FAIL("expected ember::Error");
    } catch (const Error& e) {
      std::string m = e.what();
      CHECK(m.find("[2, 3]") != std::string::npos);
      CHECK(m.find("[4]") != std::string::npos);
      CHECK(m.find("broadcast") != std::string::npos);
    }
  }
  try {
    (void)(a - b);
    FAIL("expected ember::Error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).rfind("sub:", 0) == 0);
  }
}
