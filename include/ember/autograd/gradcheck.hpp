// ember/autograd/gradcheck.hpp — compares analytic gradients with central finite differences.
//
// For y = f(x₁, …, xₙ) and a fixed random weight tensor w of y's shape, the scalar
// L = Σ w ⊙ y has ∂L/∂xᵢ computed two ways: by backward(w), and numerically by
// (L(x + ε e_j) − L(x − ε e_j)) / 2ε for every element j of every input (PyTorch's
// torch.autograd.gradcheck does the same). Use double precision: in float the finite-difference
// error swamps the comparison. Inputs may be non-contiguous (transposed, sliced) leaves.
#pragma once

#include <cmath>
#include <functional>
#include <sstream>
#include <vector>

#include <ember/tensor/tensor.hpp>

namespace ember {

struct GradcheckOptions {
  double eps = 1e-6;   ///< finite-difference step
  double atol = 1e-5;  ///< absolute tolerance
  double rtol = 1e-4;  ///< relative tolerance (of the numerical value)
  uint64_t seed = 1234;
};

namespace detail {
/// Offsets (in elements, from data()) of every element of `t`, row-major.
inline std::vector<int64_t> element_offsets(const Shape& shape, const Shape& strides) {
  std::vector<int64_t> offs;
  offs.reserve(static_cast<std::size_t>(shape.numel()));
  const Shape* st[1] = {&strides};
  strided_walk<1>(shape, st, [&](int64_t o) { offs.push_back(o); });
  return offs;
}
inline double weighted_sum(const Tensor<double>& y, const Tensor<double>& w) {
  Tensor<double> yc = y.contiguous();
  double s = 0;
  for (int64_t i = 0; i < yc.numel(); ++i) s += yc.data()[i] * w.data()[i];
  return s;
}
}  // namespace detail

/// Checks the gradients of `f` at `inputs` (double tensors that require grad; their .grad() is
/// overwritten). Returns true, or throws `ember::Error` naming the input, element, and both
/// values at the first mismatch.
inline bool gradcheck(const std::function<Tensor<double>(const std::vector<Tensor<double>>&)>& f,
                      const std::vector<Tensor<double>>& inputs, GradcheckOptions opt = {}) {
  for (auto& x : inputs) const_cast<Tensor<double>&>(x).zero_grad();
  Tensor<double> y = f(inputs);
  Generator gen(opt.seed);
  Tensor<double> w = randn<double>(y.shape(), gen);
  EMBER_CHECK(y.requires_grad(), "gradcheck: the output does not require grad");
  y.backward(w);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor<double>& x = inputs[i];
    if (!x.requires_grad()) continue;
    Tensor<double> analytic = x.grad();
    std::vector<int64_t> offs = detail::element_offsets(x.shape(), x.strides());
    std::vector<double> ana(offs.size(), 0.0);
    if (analytic.defined()) {
      EMBER_CHECK(analytic.shape() == x.shape(), "gradcheck: gradient of input ", i, " has shape ",
                  analytic.shape(), ", expected ", x.shape());
      ana = analytic.to_vector();
    }
    for (std::size_t j = 0; j < offs.size(); ++j) {
      double* p = x.data() + offs[j];
      double orig = *p;
      double lp, lm;
      {
        NoGradGuard ng;
        *p = orig + opt.eps;
        lp = detail::weighted_sum(f(inputs), w);
        *p = orig - opt.eps;
        lm = detail::weighted_sum(f(inputs), w);
        *p = orig;
      }
      double num = (lp - lm) / (2 * opt.eps);
      if (!(std::abs(num - ana[j]) <= opt.atol + opt.rtol * std::abs(num))) {
        EMBER_FAIL("gradcheck: input ", i, " (shape ", x.shape(), ") element ", j,
                   ": analytic gradient ", ana[j], " vs numerical ", num, " (atol ", opt.atol,
                   ", rtol ", opt.rtol, ")");
      }
    }
  }
  return true;
}

}  // namespace ember
