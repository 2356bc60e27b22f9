// Tests of ember/ops/indexing.hpp: comparisons, masked_fill, where, cat, stack — values, backward
// by hand, errors. Gradchecks: the op-case table (tests/support/op_cases.hpp).
#include <ember/ops/indexing.hpp>

#include <ember/autograd/gradcheck.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/test_util.hpp"
using ember::test::leaf;
using ember::test::transposed_leaf;

using namespace ember;

namespace {
// The message of the ember::Error thrown by f ("" if none was thrown).
template <class F>
std::string indexing_error(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A non-contiguous leaf of `shape`: the transpose of a [shape[1], shape[0]] tensor (2-D only).
Tensor<bool> bools(const std::vector<int>& v, const Shape& shape) {
  Tensor<bool> t = Tensor<bool>::empty(shape);
  for (std::size_t i = 0; i < v.size(); ++i) t.data()[i] = v[i] != 0;
  return t;
}
}  // namespace

TEST_CASE("comparisons with a scalar make masks, with PyTorch's promotion rules") {
  Tensor<int64_t> am = from_vector<int64_t>({1, 1, 0, 1, 0, 0}, {2, 3});
  Tensor<bool> m = eq(am, 0);
  CHECK(m.shape() == Shape{2, 3});
  CHECK(m.to_vector() == std::vector<bool>{false, false, true, false, true, true});
  CHECK(ne(am, 0).to_vector() == std::vector<bool>{true, true, false, true, false, false});
  CHECK(eq(am, 0.5).to_vector() == std::vector<bool>(6, false));  // compared in double

  Tensor<float> f = from_vector<float>({0.1f, -2.f, 3.f, 0.f}, {4});
  CHECK(eq(f, 0.1).to_vector() == std::vector<bool>{true, false, false, false});  // 0.1 → float
  CHECK(gt(f, 0.0).to_vector() == std::vector<bool>{true, false, true, false});
  CHECK(ge(f, 0.0).to_vector() == std::vector<bool>{true, false, true, true});
  CHECK(lt(f, 0.0).to_vector() == std::vector<bool>{false, true, false, false});
  CHECK(le(f, 0.0).to_vector() == std::vector<bool>{false, true, false, true});

  // Non-contiguous input: the mask follows the logical (row-major) order.
  Tensor<double> d = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(gt(d.t(), 2.5).to_vector() == std::vector<bool>{false, true, false, true, true, true});
}

TEST_CASE("masked_fill: values, broadcasting, infinity, backward") {
  Tensor<double> x = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor<bool> m = bools({1, 0, 1, 0, 0, 1}, {2, 3});
  CHECK(masked_fill(x, m, -7.0).to_vector() == std::vector<double>{-7, 2, -7, 4, 5, -7});

  // Mask [1, 3] broadcast over rows; -inf as in attention masking.
  const double inf = std::numeric_limits<double>::infinity();
  Tensor<double> y = masked_fill(x, bools({0, 1, 0}, {1, 3}), -inf);
  CHECK(y.to_vector() == std::vector<double>{1, -inf, 3, 4, -inf, 6});

  // Mask larger than x: the result has the broadcast shape (as PyTorch's out-of-place form).
  Tensor<double> row = from_vector<double>({1, 2, 3}, {3});
  Tensor<double> z = masked_fill(row, bools({1, 0, 0, 0, 0, 1}, {2, 3}), 0.0);
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.to_vector() == std::vector<double>{0, 2, 3, 1, 2, 0});

  // Float, attention-style: scores [b, h, s, s] with a key mask [b, 1, 1, s].
  Tensor<float> scores = ones<float>({2, 2, 3, 3});
  Tensor<int64_t> attn = from_vector<int64_t>({1, 1, 0, 1, 0, 0}, {2, 1, 1, 3});
  Tensor<float> masked = masked_fill(scores, eq(attn, 0), -1e4);
  CHECK(masked.at({0, 1, 2, 2}) == -1e4f);
  CHECK(masked.at({0, 1, 2, 1}) == 1.0f);
  CHECK(masked.at({1, 0, 0, 1}) == -1e4f);
  CHECK(masked.at({1, 0, 0, 0}) == 1.0f);

  // Backward: the gradient is zero at masked positions.
  Tensor<double> xl = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  xl.requires_grad_();
  masked_fill(xl, m, 0.0).backward(ones<double>({2, 3}));
  CHECK(xl.grad().to_vector() == std::vector<double>{0, 1, 0, 1, 1, 0});
}

TEST_CASE("masked_fill: errors name the op and both shapes") {
  std::string e = indexing_error([] { masked_fill(zeros<double>({2, 3}), Tensor<bool>::empty({2, 4}), 0.0); });
  CHECK(has(e, "masked_fill"));
  CHECK(has(e, "[2, 3]"));
  CHECK(has(e, "[2, 4]"));
}

TEST_CASE("where: values with three-way broadcasting") {
  Tensor<bool> c = bools({1, 0, 1}, {3});                       // [3]
  Tensor<double> a = from_vector<double>({10, 20}, {2, 1});     // [2, 1]
  Tensor<double> b = from_vector<double>({-1, -2, -3}, {1, 3}); // [1, 3]
  Tensor<double> out = where(c, a, b);
  CHECK(out.shape() == Shape{2, 3});
  CHECK(out.to_vector() == std::vector<double>{10, -2, 10, 20, -2, 20});

  // Fast path (all contiguous, same shape), float.
  Tensor<float> fa = from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor<float> fb = from_vector<float>({5, 6, 7, 8}, {2, 2});
  CHECK(where(bools({0, 1, 1, 0}, {2, 2}), fa, fb).to_vector() == std::vector<float>{5, 2, 3, 8});
  // Non-contiguous operand.
  CHECK(where(bools({0, 1, 1, 0}, {2, 2}), fa.t(), fb).to_vector() ==
        std::vector<float>{5, 3, 2, 8});
  // Integer tensors work too (no autograd).
  Tensor<int64_t> ia = from_vector<int64_t>({1, 2}, {2}), ib = from_vector<int64_t>({7, 8}, {2});
  CHECK(where(bools({1, 0}, {2}), ia, ib).to_vector() == std::vector<int64_t>{1, 8});

  // Backward: g where cond to a, g where !cond to b; broadcast operands summed back.
  Tensor<double> al = from_vector<double>({1, 2}, {2, 1});
  Tensor<double> bl = from_vector<double>({3, 4, 5}, {1, 3});
  al.requires_grad_();
  bl.requires_grad_();
  where(c, al, bl).backward(ones<double>({2, 3}));
  CHECK(al.grad().to_vector() == std::vector<double>{2, 2});   // two true columns per row
  CHECK(bl.grad().to_vector() == std::vector<double>{0, 2, 0});  // column 1, both rows
}

TEST_CASE("where: errors name the op and all three shapes") {
  std::string e = indexing_error([] {
    where(Tensor<bool>::empty({2, 3}), zeros<double>({4, 3}), zeros<double>({3}));
  });
  CHECK(has(e, "where"));
  CHECK(has(e, "[2, 3]"));
  CHECK(has(e, "[4, 3]"));
  CHECK(has(e, "[3]"));
}

TEST_CASE("cat: values along several dims, non-contiguous inputs, integer tensors") {
  Tensor<double> a = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor<double> b = from_vector<double>({7, 8, 9}, {1, 3});
  Tensor<double> r0 = cat<double>({a, b}, 0);
  CHECK(r0.shape() == Shape{3, 3});
  CHECK(r0.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9});

  Tensor<double> c = from_vector<double>({10, 20}, {2, 1});
  Tensor<double> r1 = cat<double>({a, c, a}, -1);
  CHECK(r1.shape() == Shape{2, 7});
  CHECK(r1.to_vector() == std::vector<double>{1, 2, 3, 10, 1, 2, 3, 4, 5, 6, 20, 4, 5, 6});

  // A transposed input ([3, 2] viewed from a [2, 3]).
  Tensor<double> r2 = cat<double>({a.t(), from_vector<double>({0, 0}, {1, 2})}, 0);
  CHECK(r2.to_vector() == std::vector<double>{1, 4, 2, 5, 3, 6, 0, 0});

  // Zero-size parts are fine.
  Tensor<double> r3 = cat<double>({a, zeros<double>({0, 3})}, 0);
  CHECK(r3.to_vector() == a.to_vector());

  Tensor<int64_t> i1 = from_vector<int64_t>({1, 2}, {1, 2}), i2 = from_vector<int64_t>({3, 4}, {1, 2});
  CHECK(cat<int64_t>({i1, i2}, 1).to_vector() == std::vector<int64_t>{1, 2, 3, 4});
}

TEST_CASE("cat: errors name the op, the offending index and both shapes") {
  std::string e = indexing_error(
      [] { cat<double>({zeros<double>({2, 3}), zeros<double>({2, 3}), zeros<double>({2, 4})}, 0); });
  CHECK(has(e, "cat"));
  CHECK(has(e, "tensor 2"));
  CHECK(has(e, "[2, 4]"));
  CHECK(has(e, "[2, 3]"));

  e = indexing_error([] { cat<double>({zeros<double>({2, 3}), zeros<double>({6})}, 0); });
  CHECK(has(e, "tensor 1"));
  CHECK(has(e, "[6]"));
  CHECK(has(e, "[2, 3]"));

  CHECK_THROWS_AS(cat<double>({}, 0), Error);
  CHECK_THROWS_AS(cat<double>({zeros<double>({2})}, 1), Error);       // dim out of range
  CHECK_THROWS_AS(cat<double>({zeros<double>(Shape{})}, 0), Error);   // 0-d
}

TEST_CASE("stack: values, errors") {
  Tensor<double> a = from_vector<double>({1, 2, 3}, {3}), b = from_vector<double>({4, 5, 6}, {3});
  Tensor<double> s0 = stack<double>({a, b}, 0);
  CHECK(s0.shape() == Shape{2, 3});
  CHECK(s0.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});
  Tensor<double> s1 = stack<double>({a, b}, -1);
  CHECK(s1.shape() == Shape{3, 2});
  CHECK(s1.to_vector() == std::vector<double>{1, 4, 2, 5, 3, 6});


  std::string e = indexing_error([] { stack<double>({zeros<double>({2, 3}), zeros<double>({3, 2})}, 0); });
  CHECK(has(e, "stack"));
  CHECK(has(e, "tensor 1"));
  CHECK(has(e, "[3, 2]"));
  CHECK(has(e, "[2, 3]"));
  CHECK_THROWS_AS(stack<double>({}, 0), Error);
  CHECK_THROWS_AS(stack<double>({zeros<double>({2})}, 2), Error);
}
