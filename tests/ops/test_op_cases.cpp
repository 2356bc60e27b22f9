// The CPU half of the op-case table (tests/support/op_cases.hpp): for every case and shape set,
// ember::gradcheck in double (finite differences; skipped for the sets marked big), then the
// float run against the double run from the same values — output shape, values (NaN and ±inf at
// the same places) and, after backward with the same output gradient, every input's gradient,
// within the case's float tolerance. The CUDA suite runs the same table GPU against CPU.
#include <ember/autograd/gradcheck.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/op_cases.hpp"

namespace {

using ember::Device;
using ember::Tensor;
namespace oc = ember::test::opcase;

/// gradcheck of set j of `c` in double; a mismatch fails the check with gradcheck's message.
void gradcheck_set(const oc::OpCase& c, std::size_t j) {
  const oc::Args<double> args = oc::make_args<double>(c, j, Device::cpu(), true);
  auto f = [&](const std::vector<Tensor<double>>& x) {
    oc::Args<double> b = args;
    b.x = x;
    return c.f64(b);
  };
  try {
    ember::gradcheck(f, args.x, c.tol.gc);
  } catch (const ember::Error& e) {
    FAIL_CHECK(std::string(e.what()));
  }
}

/// Set j of `c` in float against double: forward, then backward with the same output gradient.
void float_vs_double(const oc::OpCase& c, std::size_t j) {
  const bool bwd = oc::runs_backward(c, c.sets[j]);
  const oc::Args<float> af = oc::make_args<float>(c, j, Device::cpu(), bwd);
  const oc::Args<double> ad = oc::make_args<double>(c, j, Device::cpu(), bwd);
  Tensor<float> yf = c.f32(af);
  Tensor<double> yd = c.f64(ad);
  REQUIRE(yf.shape() == yd.shape());
  std::string m = oc::mismatch(oc::as_doubles(yf), oc::as_doubles(yd), c.tol.f32);
  CHECK_MESSAGE(m.empty(), "forward, float vs double: ", m);
  if (!bwd) return;
  Tensor<float> dy = oc::output_grad<float>(yf.shape());
  yf.backward(dy);
  yd.backward(dy.to<double>());
  for (std::size_t i = 0; i < af.x.size(); ++i) {
    CAPTURE(i);
    if (!ad.x[i].requires_grad()) continue;
    const Tensor<float> gf = af.x[i].grad();
    const Tensor<double> gd = ad.x[i].grad();
    REQUIRE(gf.defined() == gd.defined());
    if (!gd.defined()) continue;
    REQUIRE(gf.shape() == af.x[i].shape());
    m = oc::mismatch(oc::as_doubles(gf), oc::as_doubles(gd), c.tol.f32);
    CHECK_MESSAGE(m.empty(), "gradient of floating input ", i, ", float vs double: ", m);
  }
}

}  // namespace

TEST_CASE("op-case table: gradcheck (double) and float vs double, forward and backward") {
  const std::vector<oc::OpCase>& cases = ember::test::op_cases();
  for (const oc::OpCase& c : cases) {
    SUBCASE(c.name.c_str()) {
      for (std::size_t j = 0; j < c.sets.size(); ++j) {
        CAPTURE(j);
        try {
          if (c.differentiable && c.sets[j].gradcheck) gradcheck_set(c, j);
          float_vs_double(c, j);
        } catch (const ember::Error& e) {
          FAIL_CHECK((std::string("threw: ") + e.what()));
        }
      }
    }
  }
}

TEST_CASE("op-case table: every case has shape sets, unique names, and a gradchecked set") {
  const std::vector<oc::OpCase>& cases = ember::test::op_cases();
  MESSAGE("op-case table: ", cases.size(), " cases, ", ember::test::op_case_sets(), " shape sets");
  std::vector<std::string> names;
  for (const oc::OpCase& c : cases) {
    CAPTURE(c.name);
    CHECK(!c.sets.empty());
    bool gradchecked = !c.differentiable;
    for (const oc::Set& s : c.sets) gradchecked = gradchecked || s.gradcheck;
    CHECK(gradchecked);
    for (const std::string& n : names) CHECK(n != c.name);
    names.push_back(c.name);
  }
}
