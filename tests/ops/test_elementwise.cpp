// Elementwise arithmetic and math: known values, and the errors for shapes that do not
// broadcast. Gradchecks (broadcast, non-contiguous, scalar forms): the op-case table
// (tests/support/op_cases.hpp).
#include <cmath>
#include <string>

#include <doctest/doctest.h>
#include <ember/ember.hpp>

using namespace ember;

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
