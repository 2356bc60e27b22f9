// ember/ops/reduction.hpp — sum, mean, var, max and argmax over dims, with their backward.
//
// Semantics follow PyTorch (torch.sum / mean / var / max / argmax):
//   sum(a, dims)   Σ over `dims`            backward: dx = broadcast(g)
//   mean(a, dims)  Σ / N                    backward: dx = broadcast(g) / N
//   var(a, dims)   Σ (x − mean)² / (N − c), c = 1 unbiased (Bessel), 0 biased
//                                           backward: dx = broadcast(g) · 2 (x − mean) / (N − c)
//   max(a, dim)    values along one dim;    backward: g goes to the first maximal element
//                                           (the index argmax returns), zeros elsewhere
//   max(a)         max of all elements;     backward: g split evenly among all elements equal
//                                           to the max (PyTorch's rule for the full reduction)
//   argmax(a, dim) int64 index of the first maximal element; not differentiable
// N is the number of elements reduced into each output. `dims` may be negative (−1 = last);
// an empty `dims` list reduces every dim (as PyTorch). keepdim = true keeps reduced dims as
// size 1, so the result broadcasts against the input. NaN propagates through max/argmax (a NaN
// counts as the maximum). Edge values as PyTorch: the sum of no elements is 0, the mean of no
// elements and var with N − c ≤ 0 are NaN; max over an empty dim throws.
//
// Precision: sums accumulate in double (backend/cpu/reduce.hpp), so float results are the
// correctly rounded double sums — a float sum of 10⁶ elements is accurate to ~1e-7 relative.
// var takes two passes (mean, then Σ (x − mean)²), both in double: no cancellation when
// |mean| ≫ std.
//
// Saved for backward: sum and mean save nothing (only shapes); var saves its input and the
// per-output means (double); max(dim) saves the int64 indices; max() saves its input and the
// max value (to find the ties). Inputs may be non-contiguous: sums read them through their
// strides; max/argmax make a contiguous copy first when needed.
#pragma once

#include <ember/autograd/node.hpp>
#include <ember/backend/backend.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/tensor/tensor.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

namespace ember {

namespace detail {
/// Maps a possibly negative `dim` of a tensor of `shape` into [0, ndim) (a 0-d tensor accepts
/// 0 and −1, as PyTorch). Throws `ember::Error` naming `op`, the dim and the shape.
inline int reduction_dim(int64_t dim, const Shape& shape, const char* op) {
  const int64_t lim = shape.size() == 0 ? 1 : shape.size();
  const int64_t d = dim < 0 ? dim + lim : dim;
  EMBER_CHECK(d >= 0 && d < lim, op, ": dim ", dim, " is out of range for a tensor of shape ",
              shape, " (expected a dim in [", -lim, ", ", lim - 1, "])");
  return static_cast<int>(d);
}

/// Bit mask (bit d = dim d) of `dims`; empty `dims` = every dim. Throws on an out-of-range or a
/// repeated dim.
inline uint32_t reduction_mask(const std::vector<int64_t>& dims, const Shape& shape,
                               const char* op) {
  if (dims.empty()) return (1u << shape.size()) - 1u;
  uint32_t mask = 0;
  for (int64_t dim : dims) {
    int d = reduction_dim(dim, shape, op);
    if (shape.size() == 0) continue;  // a 0-d tensor has nothing to reduce
    EMBER_CHECK(!(mask & (1u << d)), op, ": dim ", dim, " appears more than once in dims (shape ",
                shape, ")");
    mask |= 1u << d;
  }
  return mask;
}

/// `shape` with the masked dims removed (or set to 1 when `keepdim`).
inline Shape reduced_shape(const Shape& shape, uint32_t mask, bool keepdim) {
  Shape out;
  for (int d = 0; d < shape.size(); ++d) {
    if (!(mask & (1u << d)))
      out.push_back(shape[d]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

/// Number of elements reduced into each output.
inline int64_t reduced_count(const Shape& shape, uint32_t mask) {
  int64_t n = 1;
  for (int d = 0; d < shape.size(); ++d)
    if (mask & (1u << d)) n *= shape[d];
  return n;
}

/// Backward of sum/mean: `g` (numel of `keep_shape`, laid out over it) broadcast to `in_shape`
/// and multiplied by `scale`, as a new contiguous tensor.
template <class T>
Tensor<T> broadcast_grad(const Tensor<T>& g, const Shape& keep_shape, const Shape& in_shape,
                         double scale) {
  Tensor<T> gc = g.contiguous();
  Tensor<T> out = Tensor<T>::empty(in_shape, g.device());
  Shape bst = broadcast_strides(keep_shape, contiguous_strides(keep_shape), in_shape);
  if (out.numel() > 0)
    backend::kernels<T>(g.device(), "sum")
        .unary(fn::MulScalar::code, scale, gc.data(), layout_of(in_shape, bst, "sum"), out.data());
  return out;
}

/// sum (mean = false) or mean (mean = true) over the masked dims.
template <class T>
Tensor<T> sum_or_mean(const Tensor<T>& a, uint32_t mask, bool keepdim, bool mean) {
  static_assert(std::is_floating_point_v<T>, "sum/mean: T must be float or double");
  const char* op = mean ? "mean" : "sum";
  const Shape in_shape = a.shape();
  const Shape keep_shape = reduced_shape(in_shape, mask, true);
  const int64_t count = reduced_count(in_shape, mask);
  const double scale = mean ? 1.0 / double(count) : 1.0;  // mean of nothing: 0 · inf = NaN
  Tensor<T> out = Tensor<T>::empty(reduced_shape(in_shape, mask, keepdim), a.device());
  if (out.numel() > 0)
    backend::kernels<T>(a.device(), op)
        .reduce_sum(a.data(), layout_of(in_shape, a.strides(), op), mask, scale, out.data());
  if (autograd::any_requires_grad(a)) {
    autograd::record(out, op, {a}, [keep_shape, in_shape, scale](const Tensor<T>& g) {
      return autograd::Grads<T>{broadcast_grad(g, keep_shape, in_shape, scale)};
    });
  }
  return out;
}
}  // namespace detail

// ---- sum / mean
// -----------------------------------------------------------------------------------

/// Sum of all elements: a 0-d tensor.
template <class T>
Tensor<T> sum(const Tensor<T>& a) {
  return detail::sum_or_mean(a, (1u << a.dim()) - 1u, false, false);
}

/// Sum over `dims` (negative allowed; empty = all). `[2, 3, 4]` over {1} → `[2, 4]`, or
/// `[2, 1, 4]` with keepdim. Throws `ember::Error` for an out-of-range or repeated dim.
template <class T>
Tensor<T> sum(const Tensor<T>& a, const std::vector<int64_t>& dims, bool keepdim = false) {
  return detail::sum_or_mean(a, detail::reduction_mask(dims, a.shape(), "sum"), keepdim, false);
}

/// Mean of all elements: a 0-d tensor (NaN for an empty tensor).
template <class T>
Tensor<T> mean(const Tensor<T>& a) {
  return detail::sum_or_mean(a, (1u << a.dim()) - 1u, false, true);
}

/// Mean over `dims` (negative allowed; empty = all); shapes and errors as `sum`.
template <class T>
Tensor<T> mean(const Tensor<T>& a, const std::vector<int64_t>& dims, bool keepdim = false) {
  return detail::sum_or_mean(a, detail::reduction_mask(dims, a.shape(), "mean"), keepdim, true);
}

// ---- var
// --------------------------------------------------------------------------------------------

/// Variance over `dims` (negative allowed; empty = all): Σ (x − mean)² / (N − 1) when `unbiased`
/// (torch.var's default), / N otherwise. NaN when N − c ≤ 0 (e.g. one element, unbiased).
/// Shapes and errors as `sum`.
template <class T>
Tensor<T> var(const Tensor<T>& a, const std::vector<int64_t>& dims, bool unbiased = true,
              bool keepdim = false) {
  static_assert(std::is_floating_point_v<T>, "var: T must be float or double");
  const uint32_t mask = detail::reduction_mask(dims, a.shape(), "var");
  const int64_t count = detail::reduced_count(a.shape(), mask);
  const double divisor = std::max(0.0, double(count) - (unbiased ? 1.0 : 0.0));
  // Two passes, as the definition: the mean (summed in double), then the squared deviations
  // (summed in double); autograd differentiates the composition on any device.
  std::vector<int64_t> all;
  for (int d = 0; d < a.dim(); ++d)
    if (mask & (1u << d)) all.push_back(d);
  Tensor<T> centered = sub(a, mean(a, all, /*keepdim=*/true));
  return mul(sum(mul(centered, centered), all, keepdim), 1.0 / divisor);
}

// ---- max / argmax
// -----------------------------------------------------------------------------------

namespace detail {
/// Sizes of the [outer, n, inner] view of `shape` around dim `d` (a 0-d shape is [1, 1, 1]).
inline void split_at_dim(const Shape& shape, int d, int64_t& outer, int64_t& n, int64_t& inner) {
  outer = 1;
  n = 1;
  inner = 1;
  for (int i = 0; i < shape.size(); ++i) {
    if (i < d)
      outer *= shape[i];
    else if (i == d)
      n = shape[i];
    else
      inner *= shape[i];
  }
}

/// Values and/or indices of the max along `dim` (shared by max and argmax).
template <class T>
void max_along_dim(const Tensor<T>& a, int64_t dim, bool keepdim, const char* op, Tensor<T>* values,
                   Tensor<int64_t>* indices, int64_t& outer, int64_t& n, int64_t& inner) {
  const int d = reduction_dim(dim, a.shape(), op);
  split_at_dim(a.shape(), a.dim() == 0 ? -1 : d, outer, n, inner);
  EMBER_CHECK(n > 0, op, ": cannot reduce dim ", dim, " of size 0 (shape ", a.shape(), ")");
  const uint32_t mask = a.dim() == 0 ? 0u : (1u << d);
  const Shape out_shape = reduced_shape(a.shape(), mask, keepdim);
  Tensor<T> ac = a.detach().contiguous();
  if (values) *values = Tensor<T>::empty(out_shape, a.device());
  if (indices) *indices = Tensor<int64_t>::empty(out_shape, a.device());
  backend::kernels<T>(a.device(), op)
      .max_along(ac.data(), outer, n, inner, values ? values->data() : nullptr,
                 indices ? indices->data() : nullptr);
}
}  // namespace detail

/// Max along `dim` (negative allowed): `[2, 3, 4]` over dim 1 → `[2, 4]` (`[2, 1, 4]` with
/// keepdim). The gradient goes to the first maximal element. Throws `ember::Error` for an
/// out-of-range dim or a dim of size 0.
template <class T>
Tensor<T> max(const Tensor<T>& a, int64_t dim, bool keepdim = false) {
  Tensor<T> values;
  Tensor<int64_t> indices;
  int64_t outer, n, inner;
  detail::max_along_dim(a, dim, keepdim, "max", &values, &indices, outer, n, inner);
  if (autograd::any_requires_grad(a)) {
    Shape in_shape = a.shape();
    autograd::record(values, "max", {a}, [indices, in_shape, outer, n, inner](const Tensor<T>& g) {
      // The scatter runs on the host (a copy each way for CUDA tensors).
      Tensor<T> gc = g.contiguous().to(Device::cpu());
      Tensor<T> dx = zeros<T>(in_shape);
      const Tensor<int64_t> host_indices = indices.to(Device::cpu());
      const int64_t* ip = host_indices.data();
      const T* gp = gc.data();
      T* dp = dx.data();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < inner; ++j)
          dp[(o * n + ip[o * inner + j]) * inner + j] = gp[o * inner + j];
      return autograd::Grads<T>{dx.to(g.device())};
    });
  }
  return values;
}

/// Index (int64) of the first maximal element along `dim`; a NaN counts as maximal. Shapes and
/// errors as `max(a, dim)`.
template <class T>
Tensor<int64_t> argmax(const Tensor<T>& a, int64_t dim, bool keepdim = false) {
  Tensor<int64_t> indices;
  int64_t outer, n, inner;
  detail::max_along_dim(a, dim, keepdim, "argmax", static_cast<Tensor<T>*>(nullptr), &indices,
                        outer, n, inner);
  return indices;
}

/// Max of all elements: a 0-d tensor. The gradient is split evenly among the elements equal to
/// the max (PyTorch). Throws `ember::Error` for an empty tensor.
template <class T>
Tensor<T> max(const Tensor<T>& a) {
  EMBER_CHECK(a.numel() > 0, "max: cannot take the max of an empty tensor (shape ", a.shape(), ")");
  Tensor<T> ac = a.detach().contiguous();
  Tensor<T> out = Tensor<T>::empty(Shape{}, a.device());
  backend::kernels<T>(a.device(), "max").max_along(ac.data(), 1, ac.numel(), 1, out.data(), nullptr);
  if (autograd::any_requires_grad(a)) {
    autograd::record(out, "max", {a}, [sa = autograd::SavedTensor<T>(a), value = out.detach()](const Tensor<T>& g) {
      // Ties are found on the host (a copy each way for CUDA tensors).
      const Tensor<T> x = sa.get("max").contiguous().to(Device::cpu());
      const T m = value.to(Device::cpu()).data()[0];
      const bool m_nan = m != m;
      auto is_max = [m, m_nan](T v) { return v == m || (m_nan && v != v); };
      const T* xp = x.data();
      int64_t ties = 0;
      for (int64_t i = 0; i < x.numel(); ++i) ties += is_max(xp[i]) ? 1 : 0;
      const T share = T(double(g.to(Device::cpu()).contiguous().data()[0]) / double(ties));
      Tensor<T> dx = Tensor<T>::empty(x.shape());
      T* dp = dx.data();
      for (int64_t i = 0; i < x.numel(); ++i) dp[i] = is_max(xp[i]) ? share : T(0);
      return autograd::Grads<T>{dx.to(g.device())};
    });
  }
  return out;
}

}  // namespace ember
