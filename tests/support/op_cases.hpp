// The one table of op cases (STYLE.md item 7): per differentiable op of the public API a builder,
// its input shape sets (broadcast, non-contiguous, empty, odd, and sizes that need several
// blocks), and its tolerances. Two suites run every entry:
//   tests/ops/test_op_cases.cpp  gradcheck in double (ember::gradcheck, finite differences) and
//                                float against double, forward and backward, on the CPU
//   tests/cuda/test_cuda.cu      the GPU against the CPU in float and double, forward and
//                                backward, every device allocation poisoned with NaN
// Adding an op adds one `add` line below; both suites pick it up.
//
// An entry's builder is a generic lambda over `Args<T>` (T = float and double): a[i] is the i-th
// floating input, a.id(i) the i-th int64 input, a.mask(i) the i-th bool input, each already on
// the device under test and in its layout. Input values are drawn in float from a fixed seed, so
// the float and double runs and both devices see the same numbers.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include <ember/autograd/gradcheck.hpp>
#include <ember/core/generator.hpp>
#include <ember/nn/attention.hpp>
#include <ember/ops/dropout.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/ops/embedding.hpp>
#include <ember/ops/indexing.hpp>
#include <ember/ops/layer_norm.hpp>
#include <ember/ops/loss.hpp>
#include <ember/ops/matmul.hpp>
#include <ember/ops/reduction.hpp>
#include <ember/ops/softmax.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::test::opcase {

/// How an input's values are drawn: N(a, b²); uniform in [a, b); integer ids in [a, b) (int64);
/// a bool mask, true with probability a.
enum class Dist { Normal, Uniform, Ids, Mask };
/// How an input sits in memory: contiguous; the transpose view of a tensor whose last two dims
/// are swapped (column-major); every other element of a tensor twice as long in its last dim;
/// every other row (dim 0) of a tensor twice as long in dim 0 (dense rows at a larger stride).
enum class Layout { Contiguous, Transposed, Strided, StridedRows };

/// One input of a shape set.
struct In {
  Shape shape;
  Dist dist = Dist::Normal;
  double a = 0.0, b = 1.0;
  Layout layout = Layout::Contiguous;
  bool grad = true;            ///< floating inputs: requires grad (gradchecked, gradient compared)
  std::vector<double> values;  ///< fixed row-major values instead of `dist`, when not empty

  In t() const { return with_layout(Layout::Transposed); }
  In strided() const { return with_layout(Layout::Strided); }
  In strided_rows() const { return with_layout(Layout::StridedRows); }
  In nograd() const {
    In c = *this;
    c.grad = false;
    return c;
  }

 private:
  In with_layout(Layout l) const {
    In c = *this;
    c.layout = l;
    return c;
  }
};

/// An input of shape `s` drawn from `d` with parameters (a, b) (see Dist).
inline In input(const Shape& s, Dist d, double a = 0.0, double b = 1.0) {
  In in;
  in.shape = s;
  in.dist = d;
  in.a = a;
  in.b = b;
  return in;
}
inline In normal(const Shape& s, double mean = 0.0, double std = 1.0) {
  return input(s, Dist::Normal, mean, std);
}
/// Uniform in [lo, hi): positive inputs for log, sqrt, rsqrt, pow.
inline In uniform(const Shape& s, double lo = 0.5, double hi = 2.0) {
  return input(s, Dist::Uniform, lo, hi);
}
/// Fixed floating values (e.g. −inf entries, additive masks).
inline In values(const Shape& s, std::vector<double> v) {
  In in = input(s, Dist::Normal);
  in.values = std::move(v);
  return in;
}
/// int64 ids in [0, n).
inline In ids(const Shape& s, int64_t n) { return input(s, Dist::Ids, 0.0, double(n)); }
/// Fixed int64 ids (targets with ignore_index, repeated ids).
inline In ids(const Shape& s, const std::vector<int64_t>& v) {
  In in = input(s, Dist::Ids);
  in.values.assign(v.begin(), v.end());
  return in;
}
/// A bool mask, true with probability p.
inline In mask(const Shape& s, double p = 0.5) { return input(s, Dist::Mask, p); }

/// The inputs of one run of an op.
struct Set {
  std::vector<In> in;
  bool gradcheck = true;  ///< false: too large to gradcheck; float-vs-double and GPU checks only
  bool backward = true;   ///< false: forward only
  Set(std::initializer_list<In> l) : in(l) {}
};
/// A set too large for finite differences (the cheap checks still run forward and backward).
inline Set big(std::initializer_list<In> l) {
  Set s(l);
  s.gradcheck = false;
  return s;
}
/// A set checked forward only.
inline Set forward_only(std::initializer_list<In> l) {
  Set s(l);
  s.gradcheck = false;
  s.backward = false;
  return s;
}

/// What a builder receives: the inputs of one set on one device, in one dtype.
template <class T>
struct Args {
  using value_type = T;
  std::vector<Tensor<T>> x;           ///< floating inputs, in the order of the set
  std::vector<Tensor<int64_t>> ids;   ///< Dist::Ids inputs, in order
  std::vector<Tensor<bool>> masks;    ///< Dist::Mask inputs, in order
  const Tensor<T>& operator[](std::size_t i) const { return x.at(i); }
  const Tensor<int64_t>& id(std::size_t i) const { return ids.at(i); }
  const Tensor<bool>& mask(std::size_t i) const { return masks.at(i); }
  /// The i-th floating input, or an undefined tensor when the set has fewer (optional operands).
  Tensor<T> opt(std::size_t i) const { return i < x.size() ? x[i] : Tensor<T>(); }
  /// A non-floating result (argmax, comparisons) as T, for the forward checks.
  template <class U>
  Tensor<T> as_t(const Tensor<U>& t) const {
    return t.template to<T>();
  }
};

/// Tolerances of an entry.
struct Tol {
  GradcheckOptions gc;  ///< double gradcheck: eps, atol, rtol
  double f32 = 1e-5;    ///< float: max|got − want| ≤ f32·max(1, max|want|), GPU vs CPU and vs double
  double f64 = 1e-12;   ///< double GPU vs CPU, same form
};

struct OpCase {
  std::string name;
  std::function<Tensor<float>(const Args<float>&)> f32;
  std::function<Tensor<double>(const Args<double>&)> f64;
  std::vector<Set> sets;
  Tol tol;
  bool differentiable = true;  ///< false: every set forward only (argmax, comparisons)
};

// ---- building inputs --------------------------------------------------------------------------

/// Row-major values of `in` (drawn in float from `seed`, so float and double agree exactly).
inline std::vector<double> logical_values(const In& in, uint64_t seed) {
  if (!in.values.empty()) {
    EMBER_CHECK(int64_t(in.values.size()) == in.shape.numel(), "op case: ", in.values.size(),
                " values for shape ", in.shape);
    return in.values;
  }
  Generator gen(seed);
  std::vector<double> v;
  if (in.dist == Dist::Normal) {
    for (float f : randn<float>(in.shape, gen, in.a, in.b).to_vector()) v.push_back(f);
  } else if (in.dist == Dist::Uniform) {
    for (float f : rand<float>(in.shape, gen, in.a, in.b).to_vector()) v.push_back(f);
  } else if (in.dist == Dist::Ids) {
    for (double f : rand<double>(in.shape, gen, in.a, in.b).to_vector()) v.push_back(std::floor(f));
  } else {
    for (double f : rand<double>(in.shape, gen).to_vector()) v.push_back(f < in.a ? 1.0 : 0.0);
  }
  return v;
}

/// `in` as a tensor of U on `dev`, in its layout (the view of a contiguous base moved to `dev`).
template <class U>
Tensor<U> make_input(const In& in, uint64_t seed, Device dev) {
  const std::vector<double> v = logical_values(in, seed);
  const Shape& s = in.shape;
  const int nd = s.size();
  Shape base_shape = s;
  if (in.layout == Layout::Transposed) {
    EMBER_CHECK(nd >= 2, "op case: a transposed input needs 2 dims, found ", s);
    std::swap(base_shape[nd - 2], base_shape[nd - 1]);
  } else if (in.layout == Layout::Strided) {
    EMBER_CHECK(nd >= 1, "op case: a strided input needs 1 dim");
    base_shape[nd - 1] *= 2;
  } else if (in.layout == Layout::StridedRows) {
    EMBER_CHECK(nd >= 1, "op case: a strided-rows input needs 1 dim");
    base_shape[0] *= 2;
  }
  Tensor<U> base = Tensor<U>::empty(base_shape);
  U* p = base.data();
  const int64_t n = s.numel();
  const int64_t cols = nd >= 1 ? s[nd - 1] : 1, rows = nd >= 2 ? s[nd - 2] : 1;
  const int64_t inner = nd >= 1 && s[0] > 0 ? n / s[0] : 1;  // elements per index of dim 0
  for (int64_t k = 0; k < base.numel(); ++k) p[k] = static_cast<U>(7);  // the strided gaps
  for (int64_t k = 0; k < n; ++k) {
    int64_t dst = k;
    if (in.layout == Layout::Transposed) {
      const int64_t mat = k / (rows * cols), i = (k / cols) % rows, j = k % cols;
      dst = mat * rows * cols + j * rows + i;
    } else if (in.layout == Layout::Strided) {
      dst = (k / cols) * 2 * cols + 2 * (k % cols);
    } else if (in.layout == Layout::StridedRows) {
      dst = (k / inner) * 2 * inner + k % inner;
    }
    p[dst] = static_cast<U>(v[std::size_t(k)]);
  }
  Tensor<U> on = base.to(dev);
  if (in.layout == Layout::Transposed) return on.transpose(-2, -1);
  if (in.layout == Layout::Strided) return on.slice(-1, 0, 2 * cols, 2);
  if (in.layout == Layout::StridedRows) return on.slice(0, 0, 2 * s[0], 2);
  return on;
}

/// Seed of input i of set j (the same on every device and dtype).
inline uint64_t input_seed(std::size_t set, std::size_t i) { return 1000 + 97 * set + 13 * i; }

/// The inputs of set `j` of `c` on `dev`; floating inputs require grad when `grad` and their
/// spec says so.
template <class T>
Args<T> make_args(const OpCase& c, std::size_t j, Device dev, bool grad) {
  Args<T> a;
  const Set& s = c.sets[j];
  for (std::size_t i = 0; i < s.in.size(); ++i) {
    const In& in = s.in[i];
    const uint64_t seed = input_seed(j, i);
    if (in.dist == Dist::Ids) {
      a.ids.push_back(make_input<int64_t>(in, seed, dev));
    } else if (in.dist == Dist::Mask) {
      a.masks.push_back(make_input<bool>(in, seed, dev));
    } else {
      Tensor<T> t = make_input<T>(in, seed, dev);
      if (grad && in.grad) t.requires_grad_();
      a.x.push_back(t);
    }
  }
  return a;
}

/// The output gradient fed to backward in the comparisons (drawn in float, like the inputs).
template <class T>
Tensor<T> output_grad(const Shape& s) {
  Generator gen(99);
  return randn<float>(s, gen).template to<T>();
}

/// Whether the set runs backward (the op is differentiable and the set is not forward only).
inline bool runs_backward(const OpCase& c, const Set& s) { return c.differentiable && s.backward; }

/// "" when NaN and ±inf sit at the same places in `got` and `want` and elsewhere
/// max|got − want| ≤ rtol·max(1, max|want|); else what differs.
inline std::string mismatch(const std::vector<double>& got, const std::vector<double>& want,
                            double rtol) {
  std::ostringstream os;
  if (got.size() != want.size()) {
    os << got.size() << " elements vs " << want.size();
    return os.str();
  }
  double diff = 0, ref = 1;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double g = got[i], w = want[i];
    if (std::isnan(g) || std::isnan(w) || std::isinf(g) || std::isinf(w)) {
      if (!(std::isnan(g) && std::isnan(w)) && g != w) {
        os << "NaN/inf mismatch at flat index " << i << ": " << g << " vs " << w;
        return os.str();
      }
      continue;
    }
    if (std::abs(g - w) > diff) {
      diff = std::abs(g - w);
      worst = i;
    }
    ref = std::max(ref, std::abs(w));
  }
  if (diff <= rtol * ref) return "";
  os << "max|got - want| = " << diff << " at flat index " << worst << " > " << rtol << " * " << ref;
  return os.str();
}

template <class T>
std::vector<double> as_doubles(const Tensor<T>& t) {
  std::vector<double> out;
  for (T v : t.to_vector()) out.push_back(double(v));
  return out;
}

/// The cases, built once. `add(name, builder, sets, tol)`; `add_forward_only` for ops without
/// a gradient.
class CaseList {
 public:
  template <class F>
  void add(std::string name, F f, std::vector<Set> sets, Tol tol = Tol()) {
    cases_.push_back(OpCase{std::move(name), f, f, std::move(sets), tol, true});
  }
  template <class F>
  void add_forward_only(std::string name, F f, std::vector<Set> sets, Tol tol = Tol()) {
    cases_.push_back(OpCase{std::move(name), f, f, std::move(sets), tol, false});
  }
  std::vector<OpCase> take() { return std::move(cases_); }

 private:
  std::vector<OpCase> cases_;
};

std::vector<OpCase> build_op_cases();

}  // namespace ember::test::opcase

namespace ember::test {
using opcase::OpCase;
/// Every op case (tests/support/op_cases.hpp).
inline const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = opcase::build_op_cases();
  return cases;
}
/// The number of shape sets over all cases.
inline std::size_t op_case_sets() {
  std::size_t n = 0;
  for (const OpCase& c : op_cases()) n += c.sets.size();
  return n;
}
}  // namespace ember::test

// ---- the table --------------------------------------------------------------------------------

inline std::vector<ember::test::opcase::OpCase> ember::test::opcase::build_op_cases() {
  CaseList t;
  const double lo = double(std::numeric_limits<float>::lowest());  // an additive-mask "−∞"
  const double inf = std::numeric_limits<double>::infinity();

  // Elementwise binary ops: broadcast both ways, transposed and strided operands, a scalar-like
  // [1] operand, empty, odd sizes, and 2^20 elements (many blocks).
  const std::vector<Set> binary = {
      {normal({3, 4}), normal({4})},
      {normal({3, 1, 5}), normal({4, 5})},
      {normal({3, 4}).t(), normal({3, 1})},
      {normal({3, 4}).strided(), normal({3, 4}).t()},
      {normal({1}), normal({2, 3, 7})},
      {normal({7, 13}), normal({13})},
      {normal({0, 3}), normal({3})},
      big({normal({1 << 20}), normal({1 << 20})}),
  };
  // The same with the second operand away from 0 (divisor).
  const std::vector<Set> divide = {
      {normal({3, 4}), normal({4}, 3.0, 0.5)},
      {normal({3, 1, 5}), normal({4, 5}, -3.0, 0.5)},
      {normal({3, 4}).t(), uniform({3, 1})},
      {normal({3, 4}).strided(), uniform({3, 4}).t()},
      {normal({1}), normal({2, 3, 7}, 3.0, 0.5)},
      {normal({7, 13}), uniform({13})},
      {normal({0, 3}), uniform({3})},
      big({normal({1 << 20}), normal({1 << 20}, 3.0, 0.5)}),
  };
  t.add("add", [](const auto& a) { return a[0] + a[1]; }, binary);
  t.add("sub", [](const auto& a) { return a[0] - a[1]; }, binary);
  t.add("mul", [](const auto& a) { return a[0] * a[1]; }, binary);
  t.add("div", [](const auto& a) { return a[0] / a[1]; }, divide);
  t.add("mul (the same tensor twice)", [](const auto& a) { return a[0] * a[0]; },
        {{normal({3, 4})}, {normal({5, 3}).t()}});
  t.add("scalar forms (+ - * / with a double, neg)",
        [](const auto& a) {
          return (2.0 - a[0] * 3.0 + 1.5 / 2.0) / 4.0 + (1.0 + a[0]) * 0.5 - (-a[0]) / 3.0 +
                 neg(a[0]) + (a[0] - 1.0) + 2.0 * a[0];
        },
        {{normal({3, 4})}, {normal({33, 65}).t()}, {normal({0})}});

  // Elementwise unary ops.
  const std::vector<Set> unary = {
      {normal({2, 3, 4})},
      {normal({3, 4}).t()},
      {normal({5, 7}).strided()},
      {normal({0, 4})},
      big({normal({3, 1025})}),
      big({normal({70001})}),
  };
  const std::vector<Set> positive = {
      {uniform({2, 3, 4})},
      {uniform({3, 5}).t()},
      {uniform({5, 7}).strided()},
      {uniform({0, 4})},
      big({uniform({3, 1025})}),
      big({uniform({70001})}),
  };
  std::vector<Set> gelu_sets = unary;
  gelu_sets.push_back(big({normal({3, 1 << 18})}));
  t.add("exp", [](const auto& a) { return exp(a[0]); }, unary);
  t.add("tanh", [](const auto& a) { return tanh(a[0]); }, unary);
  t.add("relu", [](const auto& a) { return relu(a[0]); }, unary);
  t.add("gelu", [](const auto& a) { return gelu(a[0]); }, gelu_sets);
  t.add("gelu_tanh", [](const auto& a) { return gelu_tanh(a[0]); }, gelu_sets);
  // bias_gelu: gelu(x + bias) fused, bias broadcast over the last dim; exact and tanh forms.
  const std::vector<Set> bias_gelu_sets = {
      {normal({5, 4}), normal({4})},          {normal({2, 3, 7}), normal({7})},
      {normal({4, 6}).t(), normal({6})},      {normal({3, 8}).strided(), normal({8}).strided()},
      {normal({7}), normal({7}).nograd()},    {normal({0, 5}), normal({5})},
      {normal({3, 13}).nograd(), normal({13})}, big({normal({700, 1031}), normal({1031})})};
  t.add("bias_gelu(x, b)", [](const auto& a) { return bias_gelu(a[0], a[1]); }, bias_gelu_sets);
  t.add("bias_gelu(x, b, tanh)", [](const auto& a) { return bias_gelu(a[0], a[1], true); },
        bias_gelu_sets);
  t.add("pow(x, 3)", [](const auto& a) { return pow(a[0], 3.0); }, unary);
  t.add("log", [](const auto& a) { return log(a[0]); }, positive);
  t.add("sqrt", [](const auto& a) { return sqrt(a[0]); }, positive);
  t.add("rsqrt", [](const auto& a) { return rsqrt(a[0]); }, positive);
  t.add("pow(x, 2.5)", [](const auto& a) { return pow(a[0], 2.5); }, positive);
  t.add("pow(x, -1.5)", [](const auto& a) { return pow(a[0], -1.5); }, positive);

  // Reductions.
  const std::vector<Set> r3 = {
      {normal({3, 4, 5})},
      {normal({3, 4, 5}).t()},
      {normal({2, 3, 5}).strided()},
      {normal({2, 0, 3})},
      big({normal({5, 7, 11})}),
      big({normal({3, 1025, 7})}),
  };
  t.add("sum(x)", [](const auto& a) { return sum(a[0]); },
        {{normal({3, 4, 5})}, {normal({4, 5}).t()}, {normal({0, 3})}, big({normal({70001})})});
  t.add("sum(x, {1})", [](const auto& a) { return sum(a[0], {1}); },
        {{normal({3, 4, 5})}, {normal({4, 5}).t()}, {normal({3, 5}).strided()},
         {normal({3, 5}).strided_rows()}, {normal({0, 3})}, big({normal({3, 1000003})})});
  t.add("sum(x, {0, -1}, keepdim)", [](const auto& a) { return sum(a[0], {0, -1}, true); }, r3);
  t.add("mean(x)", [](const auto& a) { return mean(a[0]); },
        {{normal({3, 4, 5})}, {normal({3, 5}).strided()}, big({normal({70001})})});
  t.add("mean(x, {-2})", [](const auto& a) { return mean(a[0], {-2}); }, r3);
  t.add("mean(x, {2, 0}, keepdim)", [](const auto& a) { return mean(a[0], {2, 0}, true); }, r3);
  t.add_forward_only("mean(x, {0}) of nothing (NaN)", [](const auto& a) { return mean(a[0], {0}); },
        {{normal({0, 3})}});
  t.add("var(x, {-1})", [](const auto& a) { return var(a[0], {-1}); }, r3);
  t.add("var(x, {0}, biased)", [](const auto& a) { return var(a[0], {0}, false); },
        {{normal({4, 5}).t()}, {normal({3, 5}).strided_rows()}});
  t.add("var(x, {0, 2}, biased, keepdim)", [](const auto& a) { return var(a[0], {0, 2}, false, true); },
        r3);
  t.add("var(x, {}) all", [](const auto& a) { return var(a[0], {}); },
        {{normal({4, 5}).t()}, {normal({3, 4, 5}, 100.0, 2.0)}, big({normal({70001})})});
  // max: random values have no ties, so max is differentiable there.
  t.add("max(x, 1)", [](const auto& a) { return max(a[0], 1); },
        {{normal({3, 4, 5})}, {normal({3, 4, 5}).t()}, {normal({2, 3, 5}).strided()},
         {normal({0, 4, 3})}, big({normal({5, 7, 11})}), big({normal({3, 1025, 7})})});
  t.add("max(x, -1, keepdim)", [](const auto& a) { return max(a[0], -1, true); },
        {{normal({3, 4, 5})}, {normal({4, 5}).t()}, {normal({3, 7}).strided()},
         big({normal({3, 1025})})});
  t.add("max(x)", [](const auto& a) { return max(a[0]); },
        {{normal({3, 4, 5})}, {normal({4, 5}).t()}, big({normal({70001})})});
  t.add_forward_only("argmax(x, dim) (no gradient)",
                     [](const auto& a) { return a.as_t(argmax(a[0], 2, true)) + a.as_t(argmax(a[0], 0, true)); },
                     {{normal({5, 7, 11})}, {normal({3, 4, 5}).t()}, {normal({3, 1025, 3})}});

  // Softmax family.
  auto softmax_dim = [](int64_t d) { return [d](const auto& a) { return softmax(a[0], d); }; };
  auto log_softmax_dim = [](int64_t d) { return [d](const auto& a) { return log_softmax(a[0], d); }; };
  const std::vector<Set> sm3 = {{normal({3, 4, 5})}, {normal({3, 4, 5}).t()},
                                {normal({3, 4, 6}).strided()}, {normal({3, 4, 5}).strided_rows()},
                                big({normal({5, 33, 129})})};
  for (int64_t d : {0, 1, 2, -1, -2}) {
    t.add("softmax(x, " + std::to_string(d) + ")", softmax_dim(d), sm3);
    t.add("log_softmax(x, " + std::to_string(d) + ")", log_softmax_dim(d), sm3);
  }
  // Last dim: long rows, odd rows, empty, −inf entries (a fully masked row gives zeros).
  // (log_softmax gives −inf there: its set is not gradchecked, the weighted sum would be NaN.)
  const std::vector<double> masked = {0.3, -inf, 1.2, -0.4, -inf, -inf, -inf, -inf, 2.0, 0.1, -1.0, 0.5};
  std::vector<Set> rows = {{normal({7, 13})}, {normal({0, 5})}, {normal({3, 5}).strided_rows()},
                           big({normal({3, 1025})}),
                           big({normal({3, 5000})})};
  std::vector<Set> softmax_rows = rows, log_softmax_rows = rows;
  softmax_rows.push_back({values({3, 4}, masked)});
  log_softmax_rows.push_back(big({values({3, 4}, masked)}));
  t.add("softmax rows (dim -1)", softmax_dim(-1), softmax_rows);
  t.add("log_softmax rows (dim -1)", log_softmax_dim(-1), log_softmax_rows);
  t.add("softmax(x, -1) * x", [](const auto& a) { return softmax(a[0], -1) * a[0]; },
        {{normal({3, 4, 5})}});
  // scaled_masked_softmax(x, √8, mask): no mask, a padding mask [b, 1, 1, k] (some keys masked),
  // per-query [b, 1, q, k], shared [1, 1, 1, k], x's full shape, transposed scores; fully masked
  // rows (all "−∞" = lowest float) only where not gradchecked.
  const Shape sx{2, 3, 4, 5};
  const std::vector<double> pad = {0, 0, 0, 0, 0, 0, 0, 0, lo, lo};
  std::vector<double> am(3 * 7, 0.0);  // batch 1: last 3 keys masked; batch 2: every key
  for (int j = 4; j < 7; ++j) am[std::size_t(7 + j)] = lo;
  for (int j = 0; j < 7; ++j) am[std::size_t(14 + j)] = lo;
  t.add("scaled_masked_softmax(x, sqrt(8), mask)",
        [](const auto& a) { return scaled_masked_softmax(a[0], std::sqrt(8.0), a.opt(1)); },
        {{normal(sx)},
         {normal(sx), values({2, 1, 1, 5}, pad).nograd()},
         {normal(sx), normal({2, 1, 4, 5}).nograd()},
         {normal(sx), normal({1, 1, 1, 5}).nograd()},
         {normal(sx), normal(sx).nograd()},
         {normal(sx).t(), values({2, 1, 1, 5}, pad).nograd()},
         {normal({4, 13})},
         big({normal({3, 2, 7, 7}), values({3, 1, 1, 7}, am).nograd()}),
         big({normal({4, 130})}),
         big({normal({2, 4, 33, 1025}), normal({2, 1, 1, 1025}).nograd()})});

  // layer_norm.
  t.add("layer_norm(x, [n], w, b)",
        [](const auto& a) { return layer_norm(a[0], {a[0].size(-1)}, a[1], a[2]); },
        {{normal({2, 3, 8}, 1.0, 2.0), normal({8}, 1.0, 0.3), normal({8})},
         {normal({5, 6}).t(), normal({6}, 1.0, 0.3).strided(), normal({6})},
         {normal({4, 6}).strided(), normal({6}, 1.0, 0.3), normal({6})},
         {normal({4, 6}).strided_rows(), normal({6}, 1.0, 0.3).strided(), normal({6})},
         {normal({2, 3, 8}).nograd(), normal({8}, 1.0, 0.3), normal({8})},
         {normal({5}), normal({5}), normal({5})},
         {normal({0, 7}), normal({7}), normal({7})},
         big({normal({3, 5, 1}, 2.0, 3.0), normal({1}), normal({1})}),
         big({normal({3, 5, 17}, 2.0, 3.0), normal({17}), normal({17})}),
         big({normal({3, 5, 384}, 2.0, 3.0), normal({384}), normal({384})}),
         big({normal({3, 5, 769}, 2.0, 3.0), normal({769}), normal({769})}),
         big({normal({3, 5, 4099}, 2.0, 3.0), normal({4099}), normal({4099})}),
         big({normal({1025, 64}), normal({64}), normal({64})})});
  t.add("layer_norm(x, [n], w, b) * x (the gradient through a following op)",
        [](const auto& a) { return layer_norm(a[0], {a[0].size(-1)}, a[1], a[2]) * a[0]; },
        {{normal({2, 3, 8}, 1.0, 2.0), normal({8}, 1.0, 0.3), normal({8})}});
  t.add("layer_norm(x, [n, m], w, b, eps 1e-3)",
        [](const auto& a) { return layer_norm(a[0], {a[0].size(-2), a[0].size(-1)}, a[1], a[2], 1e-3); },
        {{normal({2, 3, 8}), normal({3, 8}, 1.0, 0.3), normal({3, 8})}});
  t.add("layer_norm(x, [n]) without weight and bias",
        [](const auto& a) { return layer_norm(a[0], {a[0].size(-1)}); },
        {{normal({2, 3, 8})}, {normal({7, 33})}, {normal({4, 6}).strided()}});
  t.add("layer_norm(x, [n, m]) without weight and bias",
        [](const auto& a) { return layer_norm(a[0], {a[0].size(-2), a[0].size(-1)}); },
        {{normal({5, 6}).t()}, {normal({2, 3, 7})}});
  t.add("layer_norm(x, [n], w) (no bias)",
        [](const auto& a) { return layer_norm(a[0], {a[0].size(-1)}, a[1]); },
        {{normal({2, 3, 8}), normal({8}, 1.0, 0.3)}});
  t.add("layer_norm(x, [n], none, b) (no weight)",
        [](const auto& a) { return layer_norm(a[0], {a[0].size(-1)}, a.opt(9), a[1]); },
        {{normal({2, 3, 8}), normal({8})}});

  // matmul: 1-D, 2-D, batched, broadcast batch (both ways), k = 0, empty, transposed and strided
  // operands, one operand without grad.
  t.add("matmul(a, b)", [](const auto& a) { return matmul(a[0], a[1]); },
        {{normal({3, 4}), normal({4, 5})},
         {normal({4}), normal({4})},
         {normal({4}), normal({4, 3})},
         {normal({3, 4}), normal({4})},
         {normal({4}), normal({2, 4, 3})},
         {normal({2, 3, 4}), normal({4})},
         {normal({2, 1, 3, 4}), normal({5, 4, 2})},
         {normal({2, 3, 4}), normal({4, 5})},
         {normal({3, 4}), normal({2, 4, 5})},
         {normal({1, 3, 4}), normal({2, 4, 2})},
         {normal({2, 2, 3, 4}), normal({2, 2, 4, 2})},
         {normal({3, 0}), normal({0, 2})},
         {normal({0, 4}), normal({4, 3})},
         {normal({2, 3, 4}), normal({4, 2}).nograd()},
         {normal({2, 4}).t().nograd(), normal({2, 4, 3})},
         {normal({3, 4}).t(), normal({2, 4, 5}).t()},
         {normal({3, 4}).strided(), normal({4, 2})},
         {normal({6, 4}).strided_rows(), normal({4, 3}).strided_rows()},
         {normal({2, 3, 4}).t(), normal({4, 2})},
         {normal({7, 13}), normal({13, 5})},
         {normal({1, 9}), normal({9, 1})},
         {normal({7, 13}).t(), normal({13, 5}).t()},
         {normal({4, 7, 13}), normal({4, 13, 5})},
         {normal({2, 1, 7, 3}), normal({5, 3, 6})},
         {normal({13}), normal({13, 5})},
         {normal({7, 13}), normal({13})},
         big({normal({33, 64}), normal({64, 129})}),
         big({normal({16, 32, 24}), normal({16, 24, 40})}),
         big({normal({200, 150}).t(), normal({150, 170})})});
  t.add("matmul(x, w.t()) (a view inside)", [](const auto& a) { return matmul(a[0], a[1].t()); },
        {{normal({2, 3, 4}), normal({5, 4})}});
  t.add("matmul(q, k^T) of [b, s, h, d] permuted to heads",
        [](const auto& a) {
          return matmul(a[0].permute({0, 2, 1, 3}), a[1].permute({0, 2, 1, 3}).transpose(-1, -2));
        },
        {{normal({2, 2, 3, 4}), normal({2, 2, 3, 4})}, {normal({2, 17, 3, 8}), normal({2, 17, 3, 8})}});
  t.add("matmul(y, w.expand) (stride-0 batch)",
        [](const auto& a) { return matmul(a[1], a[0].expand({a[1].size(0), 4, 2})); },
        {{normal({4, 2}), normal({3, 5, 4})}});
  // linear with and without bias.
  t.add("linear(x, w, b)", [](const auto& a) { return linear(a[0], a[1], a[2]); },
        {{normal({5, 4}), normal({3, 4}), normal({3})},
         {normal({2, 3, 4}), normal({3, 4}), normal({3})},
         {normal({4}), normal({3, 4}), normal({3})},
         {normal({2, 1, 2, 4}), normal({3, 4}), normal({3})},
         {normal({2, 3, 4}).t(), normal({3, 4}).t(), normal({3})},
         {normal({2, 3, 4}), normal({3, 4}).nograd(), normal({3})},
         {normal({2, 3, 4}).nograd(), normal({3, 4}), normal({3}).nograd()},
         {normal({0, 4}), normal({3, 4}), normal({3})},
         {normal({3, 9, 31}), normal({17, 31}), normal({17})},
         big({normal({300, 256}), normal({256, 256}), normal({256})})});
  t.add("linear(x, w) (no bias)", [](const auto& a) { return linear(a[0], a[1]); },
        {{normal({5, 4}), normal({3, 4})},
         {normal({2, 3, 4}), normal({3, 4})},
         {normal({4}), normal({3, 4})},
         {normal({2, 1, 2, 4}), normal({3, 4})},
         {normal({5, 31}), normal({17, 31})}});

  // embedding: repeated ids, transposed ids and weight, a padding row (a constant: its gradient
  // is zero by definition, not the derivative), a transposed output gradient, many ids.
  const In ids24 = ids({2, 4}, {1, 4, 4, 0, 2, 4, 5, 1});
  t.add("embedding(ids, w)", [](const auto& a) { return embedding(a.id(0), a[0]); },
        {{ids24, normal({6, 3})},
         {ids24.t(), normal({6, 3}).t()},
         {ids({0, 3}, 6), normal({6, 3})},
         big({ids({4096}, 50), normal({50, 96})})});
  t.add("embedding(ids, cat(pad_row, rest), padding_idx 0)",
        [](const auto& a) { return embedding(a.id(0), cat(std::vector{a[0], a[1]}, 0), 0); },
        {{ids24, normal({1, 3}).nograd(), normal({5, 3})},
         {ids({2, 4}, {2, 0, 5, 2, 2, 9, 0, 1}), normal({1, 37}).nograd(), normal({9, 37})}});
  t.add("embedding(ids, w).transpose(0, 2)",
        [](const auto& a) { return embedding(a.id(0), a[0]).transpose(0, 2); },
        {{ids24, normal({6, 3})}});

  // index_select: repeated indices (gradients add up), dims 0 / 1 / -1, a transposed input.
  t.add("index_select(x, 0, idx)", [](const auto& a) { return index_select(a[0], 0, a.id(0)); },
        {{ids({5}, {3, 0, 3, 1, 4}), normal({6, 3})},
         {ids({4}, {2, 2, 0, 1}), normal({3, 2, 5})},
         {ids({0}, 3), normal({3, 4})}});
  t.add("index_select(x, 1, idx)", [](const auto& a) { return index_select(a[0], 1, a.id(0)); },
        {{ids({3}, {1, 1, 0}), normal({4, 2, 3})}, {ids({2}, {2, 0}), normal({5, 3}).t()}});
  t.add("index_select(x, -1, idx)", [](const auto& a) { return index_select(a[0], -1, a.id(0)); },
        {{ids({4}, {0, 2, 2, 1}), normal({2, 3, 3})}});

  // dropout: p = 0 (the input itself), p > 0 with a fixed generator (the same mask on every call
  // and on both devices: Philox).
  t.add("dropout(x, 0)", [](const auto& a) { return dropout(a[0], 0.0, true) * 1.0; },
        {{normal({3, 4})}, {normal({3, 4}).t()}});
  t.add("dropout(x, 0.3) (fixed generator)",
        [](const auto& a) {
          Generator g(1234);
          return dropout(a[0], 0.3, true, g);
        },
        {{normal({3, 4, 5})}, {normal({0, 3})}, big({normal({7, 1001})})});
  t.add("dropout(x, 0.6) (fixed generator)",
        [](const auto& a) {
          Generator g(1234);
          return dropout(a[0], 0.6, true, g);
        },
        {{normal({4, 5}).t()}, {normal({3, 6}).strided()}, big({normal({70001})})});

  // cross_entropy: every reduction, label smoothing, ignore_index, [N, C], [N, C, d] and [C].
  auto ce = [](Reduction r, double eps) {
    return [r, eps](const auto& a) {
      CrossEntropyOptions o;
      o.reduction = r;
      o.label_smoothing = eps;
      return cross_entropy(a[0], a.id(0), o);
    };
  };
  const std::vector<Set> ce_sets = {
      {normal({5, 6}, 0.0, 2.0), ids({5}, {1, 4, -100, 0, 3})},
      {normal({5, 6}).t(), ids({5}, {1, 4, -100, 0, 3})},
      {normal({2, 4, 3}, 0.0, 2.0), ids({2, 3}, {0, 3, -100, 1, 2, 2})},
      {normal({4}), ids(Shape{}, {1})},
      {normal({7, 5}), ids({7}, {1, 0, 4, -100, 2, 3, 1})},
      big({normal({1025, 7}), ids({1025}, 7)}),
  };
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    const char* rn = r == Reduction::Mean ? "mean" : r == Reduction::Sum ? "sum" : "none";
    for (double eps : {0.0, 0.15})
      t.add(std::string("cross_entropy(") + rn + ", label_smoothing " + (eps > 0 ? "0.15" : "0") + ")",
            ce(r, eps), ce_sets);
  }

  // kl_div: probabilities from a softmax (the gradient reaches y through it), a target with
  // exact zeros (relu), log targets; distillation_loss with the teacher a constant.
  t.add("kl_div(x, softmax(y), sum)",
        [](const auto& a) { return kl_div(a[0], softmax(a[1], -1), Reduction::Sum); },
        {{normal({3, 5}), normal({3, 5})}, {normal({4, 3}).t(), normal({4, 3})}, {normal({6}), normal({6})}});
  t.add("kl_div(x, relu(y), mean) (zeros in the target)",
        [](const auto& a) { return kl_div(a[0], relu(a[1]), Reduction::Mean); },
        {{normal({3, 5}), normal({3, 5})}, {normal({2, 3, 4}), normal({2, 3, 4})}});
  // mse_loss and binary_cross_entropy_with_logits (the regression and multi-label heads): every
  // reduction; BCE with targets in [0, 1] (gradients reach them too, as in PyTorch), logits up to
  // ±6 and exact 0/1 targets.
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    const char* rn = r == Reduction::Mean ? "mean" : r == Reduction::Sum ? "sum" : "none";
    t.add(std::string("mse_loss(x, y, ") + rn + ")",
          [r](const auto& a) { return mse_loss(a[0], a[1], r); },
          {{normal({4, 3}), normal({4, 3})}, {normal({3, 5}).t(), normal({3, 5}).t()},
           {normal({6}), normal({6})}, big({normal({70001}), normal({70001})})});
    t.add(std::string("binary_cross_entropy_with_logits(x, y, ") + rn + ")",
          [r](const auto& a) { return binary_cross_entropy_with_logits(a[0], a[1], r); },
          {{normal({4, 3}, 0.0, 3.0), uniform({4, 3}, 0.0, 1.0)},
           {normal({3, 5}, 0.0, 3.0).t(), uniform({3, 5}, 0.0, 1.0).t()},
           {values({4}, {-6.0, -0.5, 0.7, 6.0}), values({4}, {0.0, 1.0, 0.0, 1.0})},
           big({normal({70001}), uniform({70001}, 0.0, 1.0)})});
  }
  t.add("kl_div(x, y, none, log_target)",
        [](const auto& a) { return kl_div(a[0], a[1], Reduction::None, true); },
        {{normal({3, 5}), normal({3, 5})}, {normal({2, 3}).t(), normal({2, 3})}});
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    const char* rn = r == Reduction::Mean ? "mean" : r == Reduction::Sum ? "sum" : "none";
    t.add(std::string("distillation_loss(s, t, T 2, ") + rn + ")",
          [r](const auto& a) { return distillation_loss(a[0], a[1], 2.0, r); },
          {{normal({4, 3}, 0.0, 2.0), normal({4, 3}, 0.0, 2.0).nograd()},
           {normal({5, 3}).t(), normal({5, 3}).nograd()},
           big({normal({1025, 2}), normal({1025, 2}).nograd()})});
  }

  // masked_fill, where, comparisons, cat, stack.
  t.add("masked_fill(x, mask, 2.5)", [](const auto& a) { return masked_fill(a[0], a.mask(0), 2.5); },
        {{normal({2, 3}), mask({2, 3})},
         {normal({2, 3, 2, 2}), mask({2, 1, 1, 2})},
         {normal({3}), mask({2, 3})},
         {normal({3, 2}).t(), mask({3, 2}).t()},
         {normal({6, 1, 9}), mask({6, 4, 9})},
         {normal({0, 3}), mask({0, 3})},
         big({normal({3, 1025}), mask({3, 1025})})});
  t.add("masked_fill(x, gt(y, 0.25), -1) (a comparison's mask)",
        [](const auto& a) { return masked_fill(a[0], gt(a[1], 0.25), -1.0); },
        {{normal({3, 4}), normal({3, 4}).nograd()}, {normal({4, 3}).t(), normal({3}).nograd()}});
  t.add_forward_only("eq, ne, gt, lt, ge, le (no gradient)",
                     [](const auto& a) {
                       const auto& x = a[0];
                       return a.as_t(eq(x, 0.5)) + 2.0 * a.as_t(ne(x, 0.0)) + 4.0 * a.as_t(gt(x, 0.5)) +
                              8.0 * a.as_t(lt(x, -1.0)) + 16.0 * a.as_t(ge(x, 0.5)) +
                              32.0 * a.as_t(le(x, 2.0));
                     },
                     {{values({2, 4}, {0.0, 0.5, -1.0, 2.0, 0.5, 3.0, -2.0, 0.25})},
                      {normal({3, 1025})}});
  t.add("where(cond, a, b)", [](const auto& a) { return where(a.mask(0), a[0], a[1]); },
        {{mask({2, 3}), normal({2, 3}), normal({2, 3})},
         {mask({2, 3}), normal({3}), normal({2, 1})},
         {mask({1, 3, 1}), normal({2, 3, 4}), normal({2, 3, 4})},
         {mask({2, 3}), normal({2, 3}).t(), normal({2, 3}).t()},
         {mask({2, 3}), normal({2, 3}).nograd(), normal({2, 3})},
         {mask({6, 4, 9}), normal({6, 4, 9}), normal({4, 1})},
         {mask({0, 3}), normal({3}), normal({0, 1})},
         big({mask({3, 1025}), normal({3, 1025}), normal({1025})})});
  t.add("cat(xs, 0)", [](const auto& a) { return cat(a.x, 0); },
        {{normal({2, 3}), normal({1, 3}), normal({4, 3})},
         {normal({2, 2}).nograd(), normal({3, 2})},
         {normal({2, 3}), normal({0, 3})},
         big({normal({1025, 3}), normal({77, 3})})});
  t.add("cat(xs, 1)", [](const auto& a) { return cat(a.x, 1); },
        {{normal({2, 2, 3}), normal({2, 1, 3})}, {normal({3, 5}), normal({3, 2})}});
  t.add("cat(xs, -1)", [](const auto& a) { return cat(a.x, -1); },
        {{normal({3, 2}).t(), normal({3, 4})}, {normal({3, 4}).strided(), normal({3, 1})}});
  t.add("stack(xs, 1)", [](const auto& a) { return stack(a.x, 1); },
        {{normal({2, 3}), normal({2, 3}).t(), normal({2, 3})}});
  t.add("stack(xs, 0)", [](const auto& a) { return stack(a.x, 0); },
        {{normal({4}), normal({4})}, {normal({0, 2}), normal({0, 2})}});

  // Views and copies (Tensor methods), each through its own backward.
  t.add("t().reshape", [](const auto& a) { return a[0].t().reshape({2, 6}) * 2.0; },
        {{normal({3, 4})}});
  t.add("slice with a step", [](const auto& a) { return a[0].slice(1, 1, 4, 2); }, {{normal({3, 4})}});
  t.add("select", [](const auto& a) { return a[0].select(0, -1) * a[0].select(1, 2).slice(0, 0, 1); },
        {{normal({3, 4})}});
  t.add("narrow, unsqueeze", [](const auto& a) { return a[0].narrow(0, 1, 2).unsqueeze(1); },
        {{normal({3, 4})}});
  t.add("permute, contiguous", [](const auto& a) { return a[0].permute({1, 0}).contiguous(); },
        {{normal({3, 4})}, {normal({3, 4}).t()}, big({normal({1025, 33})})});
  t.add("unsqueeze, expand", [](const auto& a) { return a[0].unsqueeze(0).expand({2, 3, 4}); },
        {{normal({3, 4})}});
  t.add("to<float>().to<T>() * x",
        [](const auto& a) {
          using T = typename std::decay_t<decltype(a)>::value_type;
          return a[0].template to<float>().template to<T>() * a[0];
        },
        {{normal({3, 4})}}, Tol{GradcheckOptions{1e-3, 1e-4, 1e-3}});
  t.add("reshape of a non-contiguous tensor",
        [](const auto& a) { return a[0].reshape({20}) * a[0].reshape({20}); }, {{normal({5, 4}).t()}});
  t.add("squeeze + broadcast", [](const auto& a) { return a[0].squeeze() + a[1]; },
        {{normal({1, 3, 1}), normal({2, 1})}});

  // nn::scaled_dot_product_attention (the CPU runs matmul → scaled_masked_softmax → dropout →
  // matmul; the GPU the fused kernel where it applies): d_v ≠ d, leading dims, a padding mask,
  // seq_q ≠ seq_k, and dropout with a fixed generator.
  t.add("nn::scaled_dot_product_attention(q, k, v, mask)",
        [](const auto& a) { return nn::scaled_dot_product_attention(a[0], a[1], a[2], a.opt(3)); },
        {{normal({2, 2, 5, 4}), normal({2, 2, 7, 4}), normal({2, 2, 7, 3})},
         {normal({3, 5, 4}), normal({3, 6, 4}), normal({3, 6, 4})},
         {normal({2, 3, 7, 8}), normal({2, 3, 7, 8}), normal({2, 3, 7, 8}),
          values({2, 1, 1, 7}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, lo, lo, lo}).nograd()},
         {normal({2, 3, 7, 8}).t(), normal({2, 3, 8, 8}), normal({2, 3, 8, 8})},
         big({normal({2, 4, 65, 32}), normal({2, 4, 65, 32}), normal({2, 4, 65, 32})})});
  t.add("nn::scaled_dot_product_attention(q, k, v, dropout 0.2) (fixed generator)",
        [](const auto& a) {
          Generator g(4321);
          return nn::scaled_dot_product_attention(a[0], a[1], a[2], a.opt(3), 0.2, true, g);
        },
        {{normal({1, 2, 5, 8}), normal({1, 2, 6, 8}), normal({1, 2, 6, 8})},
         big({normal({2, 3, 33, 32}), normal({2, 3, 33, 32}), normal({2, 3, 33, 32})})});
  return t.take();
}
