// ember/ops/indexing.hpp — selecting and assembling tensors: comparisons that make boolean
// masks, `masked_fill`, `where`, `cat` and `stack`, each with its backward beside it.
//
//   eq/ne/gt/lt/ge/le(a, v)   mask[i] = a[i] OP v         (Tensor<bool>, not differentiable)
//   masked_fill(x, mask, v)   out[i] = mask[i] ? v : x[i]    d/dx: g where !mask, 0 where mask
//   where(cond, a, b)         out[i] = cond[i] ? a[i] : b[i] d/da: g where cond; d/db: g where !cond
//   cat(ts, dim)              ts laid end to end along dim   d/dts[k]: the k-th slice of g
//   stack(ts, dim)            cat of ts each unsqueezed at dim
//
// masked_fill and where broadcast their operands as PyTorch does (NumPy rules; the result has
// the broadcast shape); the gradient of a broadcast operand is summed back to its shape by the
// autograd node. Saved for backward: the mask / condition only (one byte per element); cat and
// stack save nothing but the sizes along dim.
//
// Comparisons follow PyTorch's type promotion for a Python scalar: on a floating tensor the
// scalar is first converted to the tensor's type (so a float tensor holding 0.1f equals 0.1);
// on an integer tensor the comparison is done in double (so `eq(int_tensor, 0.5)` is false).
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <ember/autograd/node.hpp>
#include <ember/backend/backend.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember {

namespace detail {
/// "[i, j, k]": the multi-index of flat (row-major) position `flat` in `shape`.
inline std::string multi_index(const Shape& shape, int64_t flat) {
  Shape idx;
  idx.resize(shape.size());
  for (int d = shape.size() - 1; d >= 0; --d) {
    idx[d] = shape[d] > 0 ? flat % shape[d] : 0;
    flat = shape[d] > 0 ? flat / shape[d] : 0;
  }
  return str_cat(idx);
}

/// out[i] = m[i] == when ? value : a[i] at the broadcast shape of a and m (no autograd):
/// masked_fill's forward and backward (when = true) and where's backward (both values of when).
template <class T>
Tensor<T> fill_where(const Tensor<T>& a, const Tensor<bool>& m, T value, const char* op,
                     bool when = true) {
  check_same_device(a.device(), m.device(), op);
  Shape shape = broadcast_shapes(a.shape(), m.shape(), op);
  Tensor<T> out = Tensor<T>::empty(shape, a.device());
  Shape as = broadcast_strides(a.shape(), a.strides(), shape);
  Shape ms = broadcast_strides(m.shape(), m.strides(), shape);
  if (out.numel() == 0) return out;
  const backend::Kernels<T>& k = backend::kernels<T>(a.device(), op);
  if (!k.masked_fill) {  // no kernels for this element type on this device: on the host
    const Device dev = a.device();
    return fill_where(a.to(Device::cpu()), m.to(Device::cpu()), value, op, when).to(dev);
  }
  if (when) {
    k.masked_fill(a.data(), layout_of(shape, as, op), m.data(), layout_of(shape, ms, op),
                  double(value), out.data());
  } else {  // m ? a : value, the value read from a one-element tensor at stride 0
    Tensor<T> v = full<T>(Shape{1}, value, a.device());
    k.where(m.data(), layout_of(shape, ms, op), a.data(), layout_of(shape, as, op), v.data(),
            layout_of(shape, Shape(std::vector<int64_t>(shape.size(), 0)), op), out.data());
  }
  return out;
}

/// mask[i] = a[i] `code` v (no autograd), compared in C (see compare_t).
template <class T, class C>
Tensor<bool> compare(const Tensor<T>& a, const char* op, fn::Compare<C> pred) {
  const backend::Kernels<T>& k = backend::kernels<T>(a.device(), op);
  if (!k.compare)  // no kernels for this element type on this device: on the host
    return compare(a.to(Device::cpu()), op, pred).to(a.device());
  Tensor<bool> out = Tensor<bool>::empty(a.shape(), a.device());
  if (out.numel() > 0)
    k.compare(pred.code, double(pred.v), a.data(), layout_of(a.shape(), a.strides(), op),
              out.data());
  return out;
}

/// The type a tensor element and a scalar are compared in (see the header comment).
template <class T>
using compare_t = std::conditional_t<scalar_traits<T>::is_floating, T, double>;
}  // namespace detail

// ---- comparisons with a scalar ---------------------------------------------------------------------

/// a == v elementwise → Tensor<bool> of a's shape (e.g. `eq(attention_mask, 0)`).
template <class T>
Tensor<bool> eq(const Tensor<T>& a, double v) {
  using C = detail::compare_t<T>;
  return detail::compare(a, "eq", fn::Compare<C>{fn::CompareCode::eq, scalar_cast<C>(v)});
}
/// a != v elementwise.
template <class T>
Tensor<bool> ne(const Tensor<T>& a, double v) {
  using C = detail::compare_t<T>;
  return detail::compare(a, "ne", fn::Compare<C>{fn::CompareCode::ne, scalar_cast<C>(v)});
}
/// a > v elementwise.
template <class T>
Tensor<bool> gt(const Tensor<T>& a, double v) {
  using C = detail::compare_t<T>;
  return detail::compare(a, "gt", fn::Compare<C>{fn::CompareCode::gt, scalar_cast<C>(v)});
}
/// a < v elementwise.
template <class T>
Tensor<bool> lt(const Tensor<T>& a, double v) {
  using C = detail::compare_t<T>;
  return detail::compare(a, "lt", fn::Compare<C>{fn::CompareCode::lt, scalar_cast<C>(v)});
}
/// a >= v elementwise.
template <class T>
Tensor<bool> ge(const Tensor<T>& a, double v) {
  using C = detail::compare_t<T>;
  return detail::compare(a, "ge", fn::Compare<C>{fn::CompareCode::ge, scalar_cast<C>(v)});
}
/// a <= v elementwise.
template <class T>
Tensor<bool> le(const Tensor<T>& a, double v) {
  using C = detail::compare_t<T>;
  return detail::compare(a, "le", fn::Compare<C>{fn::CompareCode::le, scalar_cast<C>(v)});
}

// ---- masked_fill ---------------------------------------------------------------------------------

/// `x` with `value` where `mask` is true: out[i] = mask[i] ? value : x[i]. `mask` and `x`
/// broadcast together (typically mask [batch, 1, 1, seq] against scores [batch, heads, seq, seq]);
/// the result has the broadcast shape. `value` may be ±infinity. Backward: the gradient with the
/// masked positions zeroed (summed back to x's shape if x was broadcast).
/// Throws `ember::Error` naming both shapes if they do not broadcast.
template <class T>
Tensor<T> masked_fill(const Tensor<T>& x, const Tensor<bool>& mask, double value) {
  const T v = scalar_cast<T>(value);
  Tensor<T> out = detail::fill_where(x, mask, v, "masked_fill");
  if constexpr (scalar_traits<T>::is_floating) {
    if (autograd::any_requires_grad(x)) {
      autograd::record(out, "masked_fill", {x},
                       [sm = autograd::SavedTensor<bool>(mask)](const Tensor<T>& g) {
                         return autograd::Grads<T>{
                             detail::fill_where(g, sm.get("masked_fill"), T(0), "masked_fill")};
                       });
    }
  }
  return out;
}

// ---- where ---------------------------------------------------------------------------------------

/// out[i] = cond[i] ? a[i] : b[i], with cond, a and b broadcast together (the result has the
/// broadcast shape of all three). Backward: g where cond to a, g where !cond to b (each summed
/// back to its operand's shape). Throws `ember::Error` naming the three shapes if they do not
/// broadcast, or if the tensors are on different devices.
template <class T>
Tensor<T> where(const Tensor<bool>& cond, const Tensor<T>& a, const Tensor<T>& b) {
  detail::check_same_device(cond.device(), a.device(), "where");
  detail::check_same_device(a.device(), b.device(), "where");
  // Three-way NumPy broadcast, with an error that names all three shapes.
  const Shape* in[3] = {&cond.shape(), &a.shape(), &b.shape()};
  int nd = 0;
  for (const Shape* s : in) nd = s->size() > nd ? s->size() : nd;
  Shape shape;
  shape.resize(nd, 1);
  for (const Shape* s : in) {
    for (int i = 0; i < s->size(); ++i) {
      int o = nd - s->size() + i;
      int64_t d = (*s)[i];
      EMBER_CHECK(d == shape[o] || d == 1 || shape[o] == 1, "where: shapes cond ", cond.shape(),
                  ", a ", a.shape(), " and b ", b.shape(), " cannot be broadcast together (dimension ",
                  o - nd, ": ", shape[o], " vs ", d, ")");
      if (d != 1) shape[o] = d;
    }
  }

  Tensor<T> out = Tensor<T>::empty(shape, a.device());
  const bool* pc = cond.data();
  const T *pa = a.data(), *pb = b.data();
  T* po = out.data();
  Shape sc = broadcast_strides(cond.shape(), cond.strides(), shape);
  Shape sa = broadcast_strides(a.shape(), a.strides(), shape);
  Shape sb = broadcast_strides(b.shape(), b.strides(), shape);
  const backend::Kernels<T>& k = backend::kernels<T>(a.device(), "where");
  if (!k.where)  // no kernels for this element type on this device: on the host
    return where(cond.to(Device::cpu()), a.to(Device::cpu()), b.to(Device::cpu())).to(a.device());
  if (out.numel() > 0)
    k.where(pc, detail::layout_of(shape, sc, "where"), pa, detail::layout_of(shape, sa, "where"), pb,
            detail::layout_of(shape, sb, "where"), po);

  if constexpr (scalar_traits<T>::is_floating) {
    if (autograd::any_requires_grad(a, b)) {
      const bool ga = a.requires_grad(), gb = b.requires_grad();
      autograd::record(out, "where", {a, b},
                       [sc = autograd::SavedTensor<bool>(cond), ga, gb](const Tensor<T>& g) {
                         const Tensor<bool>& c = sc.get("where");
                         Tensor<T> da, db;
                         if (ga) da = detail::fill_where(g, c, T(0), "where", /*when=*/false);
                         if (gb) db = detail::fill_where(g, c, T(0), "where");
                         return autograd::Grads<T>{da, db};
                       });
    }
  }
  return out;
}

// ---- cat and stack -------------------------------------------------------------------------------

namespace detail {
/// Concatenation along `d` (already normalized) of tensors whose shapes were checked.
template <class T>
Tensor<T> cat_checked(const std::vector<Tensor<T>>& ts, int d, const char* op) {
  Shape shape = ts[0].shape();
  int64_t total = 0;
  for (const Tensor<T>& t : ts) total += t.size(d);
  shape[d] = total;
  Tensor<T> out = Tensor<T>::empty(shape, ts[0].device());
  const Shape& ost = out.strides();
  std::vector<int64_t> sizes;
  sizes.reserve(ts.size());
  int64_t off = 0;
  for (const Tensor<T>& t : ts) {
    if (t.numel() > 0)
      backend::runtime(t.device(), op)
          .copy_strided(t.device().index, t.data(), layout_of(t.shape(), t.strides(), op),
                        out.data() + off * ost[d], layout_of(t.shape(), ost, op), sizeof(T));
    sizes.push_back(t.size(d));
    off += t.size(d);
  }
  if constexpr (scalar_traits<T>::is_floating) {
    bool any = false;
    for (const Tensor<T>& t : ts) any = any || t.requires_grad();
    if (any && is_grad_enabled()) {
      std::vector<bool> needs;
      for (const Tensor<T>& t : ts) needs.push_back(t.requires_grad());
      autograd::record(out, op, ts, [sizes, needs, d](const Tensor<T>& g) {
        autograd::Grads<T> grads(sizes.size());
        int64_t o = 0;
        for (std::size_t k = 0; k < sizes.size(); ++k) {
          if (needs[k]) grads[k] = g.slice(d, o, o + sizes[k]).contiguous();
          o += sizes[k];
        }
        return grads;
      });
    }
  }
  return out;
}
}  // namespace detail

/// Concatenates `ts` along `dim` (negative counts from the end): all tensors have the same number
/// of dims (>= 1) and the same sizes except along `dim`. [a, 3] and [b, 3] along 0 → [a + b, 3].
/// Backward: each input gets its slice of the gradient. Throws `ember::Error` for an empty list,
/// a 0-d tensor, or a mismatch (naming the op, the index of the offending tensor and both
/// shapes).
template <class T>
Tensor<T> cat(const std::vector<Tensor<T>>& ts, int64_t dim) {
  EMBER_CHECK(!ts.empty(), "cat: expected a non-empty list of tensors");
  const Tensor<T>& first = ts[0];
  EMBER_CHECK(first.dim() > 0, "cat: tensor 0 is zero-dimensional (shape ", first.shape(),
              ") and cannot be concatenated; unsqueeze it or use stack");
  const int d = normalize_dim(dim, first.dim(), "cat");
  for (std::size_t k = 0; k < ts.size(); ++k) {
    const Tensor<T>& t = ts[k];
    detail::check_same_device(first.device(), t.device(), "cat");
    EMBER_CHECK(t.dim() == first.dim(), "cat: tensor ", k, " has shape ", t.shape(),
                " but tensor 0 has shape ", first.shape(), " (expected the same number of dims, ",
                first.dim(), ")");
    for (int i = 0; i < first.dim(); ++i)
      EMBER_CHECK(i == d || t.size(i) == first.size(i), "cat: tensor ", k, " has shape ",
                  t.shape(), " but tensor 0 has shape ", first.shape(),
                  " (sizes must match except in dim ", d, "; they differ in dim ", i, ")");
  }
  return detail::cat_checked(ts, d, "cat");
}

/// Stacks `ts` (all the same shape) along a new dim `dim` in [-(n+1), n] for n-dim inputs:
/// k tensors of [a, b] along 0 → [k, a, b]. Backward: each input gets its slice of the gradient.
/// Throws `ember::Error` for an empty list or a shape mismatch (naming the index of the
/// offending tensor and both shapes).
template <class T>
Tensor<T> stack(const std::vector<Tensor<T>>& ts, int64_t dim) {
  EMBER_CHECK(!ts.empty(), "stack: expected a non-empty list of tensors");
  const Tensor<T>& first = ts[0];
  const int d = normalize_dim(dim, first.dim() + 1, "stack");
  std::vector<Tensor<T>> parts;
  parts.reserve(ts.size());
  for (std::size_t k = 0; k < ts.size(); ++k) {
    const Tensor<T>& t = ts[k];
    detail::check_same_device(first.device(), t.device(), "stack");
    EMBER_CHECK(t.shape() == first.shape(), "stack: tensor ", k, " has shape ", t.shape(),
                " but tensor 0 has shape ", first.shape(), " (stack needs equal shapes)");
    parts.push_back(t.unsqueeze(d));  // a differentiable view
  }
  return detail::cat_checked(parts, d, "stack");
}

}  // namespace ember
