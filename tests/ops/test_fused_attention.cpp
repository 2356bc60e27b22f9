// Tests of the CPU's fused attention (backend/cpu/attention.hpp through ops/attention.hpp) against
// the unfused path (matmul → scaled_masked_softmax → dropout → matmul): outputs and q/k/v
// gradients agree to rounding, the same dropout mask (the same generator offset afterwards and the
// same values), the fused node actually taken, two runs bit-identical, and the head merge a view.
// Gradchecks in double: the op-case table (tests/support/op_cases.hpp, scaled_dot_product_attention
// cases, which now run the fused kernels on the CPU).
#include <ember/nn/attention.hpp>
#include <ember/ops/attention.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

using namespace ember;

namespace {

template <class T>
bool graph_has(const Tensor<T>& t, const std::string& name) {
  std::vector<std::shared_ptr<autograd::Node>> stack;
  std::set<const autograd::Node*> seen;
  if (t.grad_fn()) stack.push_back(t.grad_fn());
  while (!stack.empty()) {
    std::shared_ptr<autograd::Node> n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n.get()).second) continue;
    if (name == n->name()) return true;
    for (const auto& m : n->next) stack.push_back(m);
  }
  return false;
}

struct FusedScope {
  explicit FusedScope(bool on) { set_fused_attention(on); }
  ~FusedScope() { set_fused_attention(true); }
};

/// q [b, h, sq, d], k and v [b, h, sk, d] (permuted views of [b, s, h, d] leaves when `permuted`);
/// mask 0: none, 1: padding [b, 1, 1, sk] (batch 0 fully masked, batch i its last 3·i keys),
/// 2: causal [sq, sk]; dropout p.
struct Case {
  int64_t b, h, sq, sk, d;
  bool permuted;
  int mask;
  double p;
};

template <class T>
struct Run {
  Tensor<T> out;
  std::vector<Tensor<T>> grads;
  uint64_t offset = 0;
  bool fused = false;
};

template <class T>
Tensor<T> random_tensor(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return randn<T>(s, g);
}

template <class T>
Run<T> run(const Case& c, bool fused, uint64_t seed) {
  FusedScope scope(fused);
  auto leaf = [&](int64_t s) {
    return c.permuted ? Shape{c.b, s, c.h, c.d} : Shape{c.b, c.h, s, c.d};
  };
  std::vector<Tensor<T>> leaves = {random_tensor<T>(leaf(c.sq), seed).requires_grad_(),
                                   random_tensor<T>(leaf(c.sk), seed + 1).requires_grad_(),
                                   random_tensor<T>(leaf(c.sk), seed + 2).requires_grad_()};
  auto heads = [&](const Tensor<T>& t) { return c.permuted ? t.permute({0, 2, 1, 3}) : t; };
  Tensor<T> mask;
  if (c.mask == 1) {
    Tensor<int64_t> am = ones<int64_t>({c.b, c.sk});
    for (int64_t bi = 0; bi < c.b; ++bi)
      for (int64_t j = 0; j < c.sk; ++j)
        if (bi == 0 || j >= c.sk - 3 * bi) am.set({bi, j}, 0);
    mask = nn::additive_attention_mask<T>(am);
  } else if (c.mask == 2) {
    mask = zeros<T>({c.sq, c.sk});
    for (int64_t i = 0; i < c.sq; ++i)
      for (int64_t j = i + 1; j < c.sk; ++j) mask.set({i, j}, std::numeric_limits<T>::lowest());
  }
  Generator gen(4321);
  Run<T> r;
  r.out = nn::scaled_dot_product_attention(heads(leaves[0]), heads(leaves[1]), heads(leaves[2]),
                                           mask, c.p, c.p > 0, gen);
  r.fused = graph_has(r.out, "fused_attention");
  r.offset = gen.offset();
  r.out.backward(random_tensor<T>({c.b, c.h, c.sq, c.d}, seed + 3));
  for (const Tensor<T>& l : leaves) r.grads.push_back(l.grad());
  r.out = r.out.detach();
  return r;
}

template <class T>
void check_close(const Tensor<T>& a, const Tensor<T>& b, const char* what, double tol) {
  const auto va = a.contiguous().to_vector(), vb = b.contiguous().to_vector();
  REQUIRE(va.size() == vb.size());
  double scale = 1.0, worst = 0.0;
  for (T v : vb) scale = std::max(scale, std::fabs(double(v)));
  for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::fabs(double(va[i]) - double(vb[i])));
  CHECK_MESSAGE(worst <= tol * scale, what << ": max |fused − unfused| = " << worst
                                            << " (scale " << scale << ")");
}

template <class T>
void compare(const Case& c, uint64_t seed, double tol) {
  CAPTURE(c.b);
  CAPTURE(c.h);
  CAPTURE(c.sq);
  CAPTURE(c.sk);
  CAPTURE(c.d);
  CAPTURE(c.permuted);
  CAPTURE(c.mask);
  CAPTURE(c.p);
  const Run<T> f = run<T>(c, true, seed), u = run<T>(c, false, seed);
  CHECK(f.fused);
  CHECK(!u.fused);
  CHECK(f.offset == u.offset);
  check_close(f.out, u.out, "output", tol);
  const char* names[3] = {"grad of q", "grad of k", "grad of v"};
  for (int i = 0; i < 3; ++i) check_close(f.grads[i], u.grads[i], names[i], tol);
  const Run<T> again = run<T>(c, true, seed);
  CHECK(again.out.to_vector() == f.out.to_vector());
  for (int i = 0; i < 3; ++i) CHECK(again.grads[i].to_vector() == f.grads[i].to_vector());
}

}  // namespace

TEST_CASE("fused attention (CPU): forward and q/k/v gradients equal the unfused path") {
  // Query blocks of 64 rows: seq 65 and 130 cross block boundaries; seq_q ≠ seq_k; permuted
  // q/k/v; padding masks with fully masked rows, a causal mask, none; dropout; head dims 8..128;
  // empty batches and sequences.
  const std::vector<Case> cases = {
      {2, 3, 1, 1, 8, true, 0, 0.0},     {2, 3, 7, 7, 8, true, 1, 0.0},
      {2, 2, 65, 65, 32, true, 1, 0.1},  {1, 2, 130, 130, 64, false, 2, 0.0},
      {3, 2, 7, 65, 32, false, 1, 0.2},  {2, 2, 33, 33, 20, true, 0, 0.1},
      {1, 2, 65, 65, 128, true, 1, 0.1}, {2, 3, 130, 70, 64, true, 1, 0.1},
      {0, 2, 5, 5, 8, false, 0, 0.0},    {2, 2, 0, 0, 8, false, 0, 0.1},
      {2, 2, 5, 0, 8, false, 0, 0.0},
  };
  for (const Case& c : cases) compare<float>(c, 60, 2e-5);
  for (const Case& c : {Case{2, 3, 65, 65, 32, true, 1, 0.1}, Case{1, 2, 130, 130, 64, false, 2, 0.0}})
    compare<double>(c, 70, 1e-12);
}

TEST_CASE("fused attention (CPU): the output is [b, s, h, d] underneath, so merging heads is a view") {
  Generator g(5);
  Tensor<float> q = randn<float>({2, 4, 3, 8}, g);
  Tensor<float> out = nn::scaled_dot_product_attention(q, q, q);
  // [b, h, s, d] view of a [b, s, h, d] buffer: strides (s·h·d, d, h·d, 1)
  CHECK(out.stride(3) == 1);
  CHECK(out.stride(1) == 8);
  CHECK(out.stride(2) == 32);
  CHECK(out.permute({0, 2, 1, 3}).is_contiguous());
}
