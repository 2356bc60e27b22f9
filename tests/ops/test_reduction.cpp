// Tests for ember/ops/reduction.hpp: sum, mean, var, max, argmax — hand-computed values, a naive
// reference over every layout path of the kernel (row, column, strided, blocked), float
// accuracy, thread-count determinism, backward by hand, and error messages. Gradchecks: the
// op-case table (tests/support/op_cases.hpp).
#include <ember/autograd/gradcheck.hpp>
#include <ember/core/threads.hpp>
#include <ember/io/safetensors.hpp>
#include <ember/ops/reduction.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/test_util.hpp"
using ember::test::leaf;
using ember::test::transposed_leaf;
using ember::test::check_close;

using namespace ember;

namespace {


/// Naive reference: sums (in long double) of `x` over the masked dims, keepdim layout.
template <class T>
std::vector<long double> naive_sum(const Tensor<T>& x, uint32_t mask) {
  Shape s = x.shape();
  Shape keep;
  for (int d = 0; d < s.size(); ++d) keep.push_back((mask >> d) & 1u ? 1 : s[d]);
  std::vector<long double> out(static_cast<std::size_t>(keep.numel()), 0.0L);
  Shape kst = contiguous_strides(keep);
  int64_t idx[Shape::kMaxDims] = {};
  for (int64_t lin = 0; lin < s.numel(); ++lin) {
    int64_t rem = lin, off = 0, o = 0;
    for (int d = s.size() - 1; d >= 0; --d) {
      idx[d] = rem % s[d];
      rem /= s[d];
      off += idx[d] * x.strides()[d];
      if (!((mask >> d) & 1u)) o += idx[d] * kst[d];
    }
    out[static_cast<std::size_t>(o)] += static_cast<long double>(x.data()[off]);
  }
  return out;
}

std::vector<int64_t> dims_of(uint32_t mask, int nd) {
  std::vector<int64_t> dims;
  for (int d = 0; d < nd; ++d)
    if ((mask >> d) & 1u) dims.push_back(d);
  return dims;
}

/// Elementwise |got − want| ≤ tol (1 + |want|), same number of elements.

}  // namespace

TEST_CASE("sum / mean: hand-computed values, keepdim, negative dims") {
  Tensor<float> a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor<float> s = sum(a);
  CHECK(s.dim() == 0);
  CHECK(s.item() == 21.0f);
  CHECK(sum(a, {0}).to_vector() == std::vector<float>{5, 7, 9});
  CHECK(sum(a, {1}).to_vector() == std::vector<float>{6, 15});
  Tensor<float> k = sum(a, {-1}, true);
  CHECK(k.shape() == Shape{2, 1});
  CHECK(k.to_vector() == std::vector<float>{6, 15});
  CHECK(sum(a, {0, 1}).item() == 21.0f);
  CHECK(sum(a, {1, 0}, true).shape() == Shape{1, 1});
  CHECK(sum(a, {}).item() == 21.0f);  // empty dims = all (PyTorch)
  CHECK(mean(a).item() == doctest::Approx(3.5));
  CHECK(mean(a, {0}).to_vector() == std::vector<float>{2.5f, 3.5f, 4.5f});
  CHECK(mean(a, {-1}, true).to_vector() == std::vector<float>{2, 5});
  // Transposed input: the same sums along the swapped dims.
  CHECK(sum(a.t(), {1}).to_vector() == std::vector<float>{5, 7, 9});
  // 0-d input: dims 0 and -1 are accepted and reduce nothing.
  Tensor<float> z = full<float>(Shape{}, 4.0f);
  CHECK(sum(z, {0}).item() == 4.0f);
  CHECK(mean(z, {-1}).item() == 4.0f);
}

TEST_CASE("sum / mean: empty inputs") {
  Tensor<double> e = zeros<double>({0, 3});
  CHECK(sum(e, {0}).to_vector() == std::vector<double>{0, 0, 0});
  CHECK(sum(e).item() == 0.0);
  CHECK(std::isnan(mean(e).item()));
  CHECK(sum(e, {1}).shape() == Shape{0});
}

TEST_CASE("sum: every layout path matches a naive reference") {
  Generator gen(7);
  // Shapes chosen to hit: rows (reduce inner), columns (reduce outer), interleaved dims,
  // blocked long rows (few outputs), blocked long columns.
  std::vector<Shape> shapes = {{3, 4, 5, 6}, {2, 1, 7, 3}, {3, 40000}, {40000, 3}, {5, 300, 7}};
  for (const Shape& shape : shapes) {
    Tensor<double> x = randn<double>(shape, gen);
    std::vector<Tensor<double>> layouts = {x};
    // A permuted view and a strided slice of the same data.
    Shape perm;
    for (int d = shape.size() - 1; d >= 0; --d) perm.push_back(d);
    layouts.push_back(x.permute(perm));
    if (shape[0] >= 2) layouts.push_back(x.slice(0, 0, shape[0], 2));
    for (const Tensor<double>& v : layouts) {
      for (uint32_t mask = 1; mask < (1u << v.dim()); ++mask) {
        CAPTURE(v.shape());
        CAPTURE(v.strides());
        CAPTURE(mask);
        std::vector<long double> ref = naive_sum(v, mask);
        std::vector<double> got = sum(v, dims_of(mask, v.dim()), true).to_vector();
        REQUIRE(got.size() == ref.size());
        for (std::size_t i = 0; i < ref.size(); ++i)
          REQUIRE(got[i] == doctest::Approx(double(ref[i])).epsilon(1e-12).scale(1.0));
      }
    }
  }
}

TEST_CASE("sum: a float sum of 10^6 elements is accurate to 1e-6 relative") {
  const int64_t n = 1000000;
  Tensor<float> x = full<float>({n}, 0.1f);
  double exact = double(0.1f) * double(n);
  CHECK(std::abs(double(sum(x).item()) - exact) / exact < 1e-6);
  // Mixed-sign values: compare with a double loop over the same floats.
  Generator gen(3);
  Tensor<float> r = rand<float>({1000, 1000}, gen, 0.0, 1.0);
  double ref = 0;
  for (int64_t i = 0; i < r.numel(); ++i) ref += double(r.data()[i]);
  CHECK(std::abs(double(sum(r).item()) - ref) / ref < 1e-6);
  CHECK(std::abs(double(mean(r).item()) - ref / 1e6) / (ref / 1e6) < 1e-6);
  // Over the outer dim (column kernel) as well.
  double col0 = 0;
  for (int64_t i = 0; i < 1000; ++i) col0 += double(r.data()[i * 1000]);
  CHECK(std::abs(double(sum(r, {0}).to_vector()[0]) - col0) / col0 < 1e-6);
}

TEST_CASE("sum: the same bits on 1 and 2 threads") {
  Generator gen(11);
  Tensor<float> x = randn<float>({4, 300000}, gen);
  Tensor<float> y = randn<float>({300000, 4}, gen);
  int saved = get_num_threads();
  set_num_threads(1);
  std::vector<float> a1 = sum(x, {1}).to_vector(), b1 = sum(y, {0}).to_vector();
  float c1 = sum(x).item();
  set_num_threads(2);
  std::vector<float> a2 = sum(x, {1}).to_vector(), b2 = sum(y, {0}).to_vector();
  float c2 = sum(x).item();
  set_num_threads(saved);
  CHECK(a1 == a2);
  CHECK(b1 == b2);
  CHECK(c1 == c2);
}

TEST_CASE("var: hand-computed values, biased and unbiased") {
  Tensor<double> a = from_vector<double>({1, 2, 3, 4, 2, 4, 6, 8}, {2, 4});
  CHECK(var(a, {1}).to_vector()[0] == doctest::Approx(5.0 / 3.0));
  CHECK(var(a, {1}).to_vector()[1] == doctest::Approx(20.0 / 3.0));
  CHECK(var(a, {1}, false).to_vector()[0] == doctest::Approx(1.25));
  CHECK(var(a, {-1}, false, true).shape() == Shape{2, 1});
  CHECK(var(a, {0}).to_vector() == std::vector<double>{0.5, 2.0, 4.5, 8.0});
  // All elements: mean 3.75, Σ(x−μ)² = 37.5.
  CHECK(var(a, {}).item() == doctest::Approx(37.5 / 7.0));
  CHECK(var(a, {0, 1}, false).item() == doctest::Approx(37.5 / 8.0));
  // One element, unbiased: 0/0 = NaN (PyTorch).
  CHECK(std::isnan(var(from_vector<double>({3.0}), {0}).item()));
  // A large offset in float: two passes in double keep every digit.
  Tensor<float> big = from_vector<float>({10000, 10001, 10002, 10003});
  CHECK(var(big, {0}, false).item() == doctest::Approx(1.25).epsilon(1e-6));
}

TEST_CASE("max / argmax: values, ties, NaN, keepdim") {
  Tensor<float> a = from_vector<float>({3, 1, 3, 0, 5, 5}, {2, 3});
  CHECK(max(a, 1).to_vector() == std::vector<float>{3, 5});
  CHECK(argmax(a, 1).to_vector() == std::vector<int64_t>{0, 1});  // first maximal
  CHECK(max(a, 0).to_vector() == std::vector<float>{3, 5, 5});
  CHECK(argmax(a, -2).to_vector() == std::vector<int64_t>{0, 1, 1});
  CHECK(max(a, -1, true).shape() == Shape{2, 1});
  CHECK(argmax(a, 0, true).shape() == Shape{1, 3});
  CHECK(max(a).item() == 5.0f);
  CHECK(max(a).dim() == 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor<float> n = from_vector<float>({1, nan, 7, 2}, {2, 2});
  CHECK(std::isnan(max(n, 1).to_vector()[0]));
  CHECK(max(n, 1).to_vector()[1] == 7.0f);
  CHECK(argmax(n, 1).to_vector() == std::vector<int64_t>{1, 0});
  CHECK(std::isnan(max(n).item()));
  // Middle dim of a 3-D tensor (the column kernel).
  Tensor<double> c = from_vector<double>({1, 9, 4, 2, 7, 9, 0, 3}, {2, 2, 2});
  CHECK(max(c, 1).to_vector() == std::vector<double>{4, 9, 7, 9});
  CHECK(argmax(c, 1).to_vector() == std::vector<int64_t>{1, 0, 0, 0});
  // Transposed input.
  CHECK(argmax(a.t(), 0).to_vector() == std::vector<int64_t>{0, 1});
}

TEST_CASE("max backward: first maximal element for max(dim), even split for max()") {
  Tensor<double> a = from_vector<double>({3, 1, 3, 0, 5, 5}, {2, 3});
  a.requires_grad_();
  sum(max(a, 1)).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{1, 0, 0, 0, 1, 0});
  a.zero_grad();
  max(a).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{0, 0, 0, 0, 0.5, 0.5});
}

TEST_CASE("reductions: errors name the op, the dim and the shape") {
  Tensor<float> a = zeros<float>({2, 3});
  CHECK_THROWS_WITH_AS(sum(a, {2}),
                       "sum: dim 2 is out of range for a tensor of shape [2, 3] (expected a dim "
                       "in [-2, 1])",
                       ember::Error);
  CHECK_THROWS_WITH_AS(mean(a, {-3}), doctest::Contains("mean: dim -3 is out of range"),
                       ember::Error);
  CHECK_THROWS_WITH_AS(var(a, {5}), doctest::Contains("[2, 3]"), ember::Error);
  CHECK_THROWS_WITH_AS(max(a, 2), doctest::Contains("max: dim 2"), ember::Error);
  CHECK_THROWS_WITH_AS(argmax(a, -3), doctest::Contains("argmax: dim -3"), ember::Error);
  CHECK_THROWS_WITH_AS(sum(a, {1, -1}), doctest::Contains("appears more than once"), ember::Error);
  Tensor<float> e = zeros<float>({2, 0});
  CHECK_THROWS_WITH_AS(max(e, 1), doctest::Contains("max: cannot reduce dim 1 of size 0"),
                       ember::Error);
  CHECK_THROWS_WITH_AS(max(e), doctest::Contains("empty tensor (shape [2, 0])"), ember::Error);
}

TEST_CASE("var: matches PyTorch reference values (tests/data/ops/ops.safetensors)") {
  // float64 fixtures from tools/gen_op_fixtures.py: torch.var(input [4, 6], dim=1, unbiased=...)
  // and torch.var(input) over all elements (stored with shape [1]); tolerance 1e-12.
  auto file = io::SafetensorsFile::open(EMBER_TEST_DATA_DIR "/ops/ops.safetensors");
  struct Case {
    const char* op;
    std::vector<int64_t> dims;
    bool unbiased;
  };
  for (const Case& c : {Case{"var_unbiased", {1}, true}, Case{"var_biased", {1}, false},
                        Case{"var_all", {}, true}}) {
    CAPTURE(c.op);
    const std::string op = c.op;
    Tensor<double> x = file.get<double>(op + ".input");
    x.requires_grad_();
    Tensor<double> y = var(x, c.dims, c.unbiased);
    check_close(y, file.get<double>(op + ".output"), 1e-12);
    y.backward(file.get<double>(op + ".grad_output").reshape(y.shape()));
    check_close(x.grad(), file.get<double>(op + ".grad_input"), 1e-12);
  }
}
