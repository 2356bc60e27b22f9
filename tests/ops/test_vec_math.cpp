// Tests of backend/cpu/vec_math.hpp (exp, erf, 1 + tanh for float) and of the GELU kernel bodies
// in every version backend/cpu/isa.hpp compiles that this CPU can run: the accuracy bounds the
// header states, the special values, and that the versions agree with a double reference.
#include <ember/backend/cpu/gelu.hpp>
#include <ember/backend/cpu/vec_math.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace ember;
namespace cpu = ember::backend::cpu;
namespace vmath = ember::backend::cpu::vmath;
using cpu::detail::gelu_at;
using cpu::detail::gelu_slope_at;

namespace {

// The math functions over a span, compiled in each version (as the kernels use them).
EMBER_KERNEL_MATH_BEGIN
template <class T>
EMBER_ALWAYS_INLINE void vmath_span_body(int which, const float* x, float* y, int64_t n) {
  if (which == 0) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = vmath::exp(x[i]);
  } else if (which == 1) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = vmath::erf(x[i]);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = vmath::one_plus_tanh(x[i]);
  }
}
EMBER_ISA_VERSIONS(vmath_span, (int which, const float* x, float* y, int64_t n), (which, x, y, n))
EMBER_KERNEL_MATH_END

std::vector<CpuIsa> runnable_versions() {
  std::vector<CpuIsa> v{CpuIsa::generic};
  if (int(cpu_features().best_isa()) >= int(CpuIsa::avx2)) v.push_back(CpuIsa::avx2);
  if (cpu_features().best_isa() == CpuIsa::avx512) v.push_back(CpuIsa::avx512);
  return v;
}

std::vector<float> grid(float lo, float hi, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = lo + (hi - lo) * float(i) / float(n - 1);
  return x;
}

double ulp_of(double v) {
  const float f = std::fabs(float(v));
  return double(std::nextafter(f, std::numeric_limits<float>::infinity())) - double(f);
}

}  // namespace

TEST_CASE("vec_math: exp, erf and 1 + tanh within their stated bounds, every version") {
  const auto x_exp = grid(-87.3f, 88.7f, 200003);
  const auto x_erf = grid(-6.0f, 6.0f, 200003);
  const auto x_tanh = grid(-40.0f, 40.0f, 200003);
  std::vector<float> y(x_exp.size());
  const int64_t n = int64_t(y.size());
  for (CpuIsa isa : runnable_versions()) {
    const std::string version = to_string(isa);
    CAPTURE(version);
    const auto span = vmath_span_for<float>(isa);
    double worst = 0;
    span(0, x_exp.data(), y.data(), n);
    for (size_t i = 0; i < y.size(); ++i) {
      const double ref = std::exp(double(x_exp[i]));
      worst = std::max(worst, std::fabs(double(y[i]) - ref) / ulp_of(ref));
    }
    CHECK(worst < 1.0);  // ulp
    worst = 0;
    span(1, x_erf.data(), y.data(), n);
    for (size_t i = 0; i < y.size(); ++i)
      worst = std::max(worst, std::fabs(double(y[i]) - std::erf(double(x_erf[i]))));
    CHECK(worst < 6e-7);  // absolute
    worst = 0;
    span(2, x_tanh.data(), y.data(), n);
    for (size_t i = 0; i < y.size(); ++i) {
      const double ref = 2.0 / (1.0 + std::exp(-2.0 * double(x_tanh[i])));
      if (ref > 1e-30) worst = std::max(worst, std::fabs(double(y[i]) - ref) / ref);
    }
    CHECK(worst < 2e-7);  // relative

    // Special values: exp's underflow to exactly 0 (masked softmax scores), overflow, NaN.
    const float inf = std::numeric_limits<float>::infinity();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> sx{-inf, -1e30f, -88.0f, 0.0f, 89.0f, inf, nan, -3.4e38f};
    std::vector<float> sy(sx.size());
    span(0, sx.data(), sy.data(), int64_t(sx.size()));
    CHECK(sy[0] == 0.0f);
    CHECK(sy[1] == 0.0f);
    CHECK(sy[2] == 0.0f);
    CHECK(sy[3] == 1.0f);
    CHECK(sy[4] == inf);
    CHECK(sy[5] == inf);
    CHECK(std::isnan(sy[6]));
    CHECK(sy[7] == 0.0f);
    span(1, sx.data(), sy.data(), int64_t(sx.size()));
    CHECK(sy[0] == -1.0f);
    CHECK(sy[3] == 0.0f);
    CHECK(sy[5] == 1.0f);
    CHECK(std::isnan(sy[6]));
  }
}

TEST_CASE("vec_math: the GELU bodies agree with a double reference in every version") {
  const int64_t rows = 3, n = 1001;  // odd sizes: vector bodies and scalar tails
  std::vector<float> x(static_cast<size_t>(rows * n)), dy(x.size()), bias(static_cast<size_t>(n));
  for (int64_t i = 0; i < rows * n; ++i) {
    x[size_t(i)] = -7.0f + 14.0f * float(i % n) / float(n - 1) + 0.01f * float(i / n);
    dy[size_t(i)] = 0.5f + float(i % 7) * 0.25f;
  }
  for (int64_t j = 0; j < n; ++j) bias[size_t(j)] = 0.1f * float(j % 5) - 0.2f;
  for (bool tanh_form : {false, true}) {
    for (bool with_bias : {false, true}) {
      std::vector<double> ref_y(x.size()), ref_dx(x.size());
      for (int64_t i = 0; i < rows * n; ++i) {
        const double v = double(x[size_t(i)]) + (with_bias ? double(bias[size_t(i % n)]) : 0.0);
        ref_y[size_t(i)] = gelu_at<false>(v);
        if (tanh_form) ref_y[size_t(i)] = gelu_at<true>(v);
        ref_dx[size_t(i)] = double(dy[size_t(i)]) *
                            (tanh_form ? gelu_slope_at<true>(v) : gelu_slope_at<false>(v));
      }
      for (CpuIsa isa : runnable_versions()) {
        const std::string version = to_string(isa);
    CAPTURE(version);
        CAPTURE(tanh_form);
        CAPTURE(with_bias);
        std::vector<float> y(x.size()), dx(x.size());
        const auto fwd = cpu::detail::gelu_span_for<float>(isa);
        const auto bwd = cpu::detail::gelu_grad_span_for<float>(isa);
        for (int64_t r = 0; r < rows; ++r) {
          fwd(x.data() + r * n, with_bias ? bias.data() : nullptr, y.data() + r * n, n, tanh_form);
          bwd(dy.data() + r * n, x.data() + r * n, with_bias ? bias.data() : nullptr,
              dx.data() + r * n, n, tanh_form);
        }
        double worst_y = 0, worst_dx = 0;
        for (size_t i = 0; i < x.size(); ++i) {
          worst_y = std::max(worst_y, std::fabs(double(y[i]) - ref_y[i]) / (1.0 + std::fabs(ref_y[i])));
          worst_dx =
              std::max(worst_dx, std::fabs(double(dx[i]) - ref_dx[i]) / (1.0 + std::fabs(ref_dx[i])));
        }
        CHECK(worst_y < 2e-6);
        CHECK(worst_dx < 2e-6);
      }
    }
  }
}
