// ember/tensor/tensor_impl.hpp — the out-of-line definitions of Tensor<T>'s views and copies.
// Included at the end of tensor.hpp (after autograd/engine.hpp); not on its own.
//
// Each view computes new (shape, strides, offset) over the same storage and, when the base
// requires grad, records a node whose backward maps the view's gradient back to the base's
// shape (reshape back, inverse permutation, scatter into zeros for slice/select; expand is
// undone by the generic sum_to in FunctionNode).
#ifndef EMBER_TENSOR_CLASS_DEFINED
#include <ember/tensor/tensor.hpp>
#else
#ifndef EMBER_TENSOR_IMPL_HPP
#define EMBER_TENSOR_IMPL_HPP

#include <cstring>

namespace ember {

// ---- memory overlap (copy_) ------------------------------------------------------------------

namespace detail {
/// Whether two elements of a view share one memory location: a stride of 0 on a dim of size > 1
/// (an expanded view). Views made by ember's own ops overlap internally only this way.
inline bool has_internal_overlap(const Shape& shape, const Shape& strides) {
  for (int d = 0; d < shape.size(); ++d)
    if (shape[d] > 1 && strides[d] == 0) return true;
  return false;
}

/// Whether the element ranges [lowest, highest offset] of two non-empty views of one storage
/// intersect (a conservative test: interleaved views that touch no common element count too).
inline bool extents_overlap(int64_t off_a, const Shape& shape_a, const Shape& st_a, int64_t off_b,
                            const Shape& shape_b, const Shape& st_b) {
  auto extent = [](int64_t off, const Shape& shape, const Shape& st, int64_t& lo, int64_t& hi) {
    lo = hi = off;
    for (int d = 0; d < shape.size(); ++d) {
      const int64_t span = (shape[d] - 1) * st[d];
      (span < 0 ? lo : hi) += span;
    }
  };
  int64_t a0, a1, b0, b1;
  extent(off_a, shape_a, st_a, a0, a1);
  extent(off_b, shape_b, st_b, b0, b1);
  return a0 <= b1 && b0 <= a1;
}
}  // namespace detail

// ---- views --------------------------------------------------------------------------------------

namespace detail {
/// Infers one -1 entry of `shape` from `numel`; checks the product.
inline Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from, const char* op) {
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      EMBER_CHECK(infer < 0, op, ": only one dimension can be -1, found shape ", shape);
      infer = i;
    } else {
      EMBER_CHECK(s[i] >= 0, op, ": invalid size ", s[i], " in shape ", shape);
      known *= s[i];
    }
  }
  if (infer >= 0) {
    EMBER_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape,
                " is invalid for a tensor of shape ", from, " (", numel, " elements)");
    s[infer] = numel / known;
  }
  EMBER_CHECK(s.numel() == numel, op, ": shape ", shape, " is invalid for a tensor of shape ", from,
              " (", numel, " elements)");
  return s;
}

/// Strides for viewing (shape, strides) as `target` without copying, if possible
/// (PyTorch's computeStride: each run of merged dims must be contiguous within itself).
inline bool view_strides(const Shape& shape, const Shape& strides, const Shape& target,
                         Shape& out) {
  out.resize(target.size());
  if (shape.numel() == 0 || shape.size() == 0) {  // no elements, or one element of a 0-d tensor
    out = contiguous_strides(target);
    return true;
  }
  int64_t view_d = target.size() - 1;
  int64_t chunk_base_stride = strides.size() ? strides.back() : 1;
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = shape.size() - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= shape[tensor_d];
    if (tensor_d == 0 ||
        (shape[tensor_d - 1] != 1 && strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || target[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= target[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}
}  // namespace detail

template <class T>
Tensor<T> Tensor<T>::view(const Shape& shape_in) const {
  Shape target = detail::infer_shape(shape_in, numel(), shape(), "view");
  Shape st;
  EMBER_CHECK(detail::view_strides(shape(), strides(), target, st), "view: a tensor of shape ",
              shape(), " with strides ", strides(), " cannot be viewed as ", target,
              " without copying (it is not contiguous); use reshape() or contiguous().view()");
  Tensor out = make_view(target, st, offset());
  if (autograd::any_requires_grad(*this)) {
    Shape in_shape = shape();
    autograd::record(out, "view", {*this}, [in_shape](const Tensor& g) {
      return autograd::Grads<T>{g.reshape(in_shape)};
    });
  }
  return out;
}

template <class T>
Tensor<T> Tensor<T>::reshape(const Shape& shape_in) const {
  Shape target = detail::infer_shape(shape_in, numel(), shape(), "reshape");
  Shape st;
  if (detail::view_strides(shape(), strides(), target, st)) return view(target);
  return contiguous().view(target);
}

template <class T>
Tensor<T> Tensor<T>::permute(const Shape& dims) const {
  EMBER_CHECK(dims.size() == dim(), "permute: expected ", dim(), " dims for shape ", shape(),
              ", found ", dims);
  Shape ns, nst, inverse;
  inverse.resize(dim(), -1);
  for (int i = 0; i < dims.size(); ++i) {
    int d = normalize_dim(dims[i], dim(), "permute");
    EMBER_CHECK(inverse[d] == -1, "permute: dim ", d, " repeated in ", dims);
    inverse[d] = i;
    ns.push_back(shape()[d]);
    nst.push_back(strides()[d]);
  }
  Tensor out = make_view(ns, nst, offset());
  if (autograd::any_requires_grad(*this)) {
    autograd::record(out, "permute", {*this}, [inverse](const Tensor& g) {
      return autograd::Grads<T>{g.permute(inverse)};
    });
  }
  return out;
}

template <class T>
Tensor<T> Tensor<T>::transpose(int64_t d0, int64_t d1) const {
  int a = normalize_dim(d0, dim(), "transpose"), b = normalize_dim(d1, dim(), "transpose");
  Shape perm;
  for (int i = 0; i < dim(); ++i) perm.push_back(i);
  std::swap(perm[a], perm[b]);
  return permute(perm);
}

template <class T>
Tensor<T> Tensor<T>::slice(int64_t dim_in, int64_t start, int64_t end, int64_t step) const {
  int d = normalize_dim(dim_in, dim(), "slice");
  EMBER_CHECK(step > 0, "slice: step must be positive, found ", step);
  int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape ns = shape(), nst = strides();
  ns[d] = (end - start + step - 1) / step;
  nst[d] = strides()[d] * step;
  Tensor out = make_view(ns, nst, offset() + start * strides()[d]);
  if (autograd::any_requires_grad(*this)) {
    Shape in_shape = shape();
    Device dev = device();
    autograd::record(out, "slice", {*this}, [=](const Tensor& g) {
      Tensor gi = zeros<T>(in_shape, dev);
      gi.slice(d, start, end, step).copy_(g);
      return autograd::Grads<T>{gi};
    });
  }
  return out;
}

template <class T>
Tensor<T> Tensor<T>::narrow(int64_t dim_in, int64_t start, int64_t length) const {
  int d = normalize_dim(dim_in, dim(), "narrow");
  int64_t n = shape()[d];
  if (start < 0) start += n;
  EMBER_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start,
              " + length ", length, " exceeds size ", n, " of dim ", d, " (shape ", shape(), ")");
  return slice(d, start, start + length);
}

template <class T>
Tensor<T> Tensor<T>::select(int64_t dim_in, int64_t index) const {
  int d = normalize_dim(dim_in, dim(), "select");
  int64_t n = shape()[d];
  int64_t i = index < 0 ? index + n : index;
  EMBER_CHECK(i >= 0 && i < n, "select: index ", index, " is out of range for dim ", d,
              " of size ", n, " (shape ", shape(), ")");
  Shape ns = shape(), nst = strides();
  ns.erase(d);
  nst.erase(d);
  Tensor out = make_view(ns, nst, offset() + i * strides()[d]);
  if (autograd::any_requires_grad(*this)) {
    Shape in_shape = shape();
    Device dev = device();
    autograd::record(out, "select", {*this}, [=](const Tensor& g) {
      Tensor gi = zeros<T>(in_shape, dev);
      gi.select(d, i).copy_(g);
      return autograd::Grads<T>{gi};
    });
  }
  return out;
}

template <class T>
Tensor<T> Tensor<T>::unsqueeze(int64_t dim_in) const {
  int d = normalize_dim(dim_in, dim() + 1, "unsqueeze");
  Shape ns = shape();
  ns.insert(d, 1);
  Shape st;
  detail::view_strides(shape(), strides(), ns, st);
  Tensor out = make_view(ns, st, offset());
  if (autograd::any_requires_grad(*this)) {
    Shape in_shape = shape();
    autograd::record(out, "unsqueeze", {*this}, [in_shape](const Tensor& g) {
      return autograd::Grads<T>{g.reshape(in_shape)};
    });
  }
  return out;
}

template <class T>
Tensor<T> Tensor<T>::squeeze(int64_t dim_in) const {
  int d = normalize_dim(dim_in, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape ns = shape();
  ns.erase(d);
  return view(ns);
}

template <class T>
Tensor<T> Tensor<T>::squeeze() const {
  Shape ns;
  for (int64_t s : shape())
    if (s != 1) ns.push_back(s);
  return view(ns);
}

template <class T>
Tensor<T> Tensor<T>::expand(const Shape& target_in) const {
  EMBER_CHECK(target_in.size() >= dim(), "expand: target shape ", target_in,
              " has fewer dims than the tensor's shape ", shape());
  Shape target = target_in;
  int off = target.size() - dim();
  for (int i = 0; i < target.size(); ++i) {
    int j = i - off;
    if (target[i] == -1) {
      EMBER_CHECK(j >= 0, "expand: -1 is not allowed for a new leading dim in ", target_in);
      target[i] = shape()[j];
    }
    EMBER_CHECK(j < 0 || shape()[j] == target[i] || shape()[j] == 1, "expand: shape ", shape(),
                " cannot be expanded to ", target_in, " (dim ", i, ": ", (j < 0 ? 1 : shape()[j]),
                " vs ", target[i], ")");
  }
  Tensor out = make_view(target, broadcast_strides(shape(), strides(), target), offset());
  if (autograd::any_requires_grad(*this)) {
    autograd::record(out, "expand", {*this},
                     [](const Tensor& g) { return autograd::Grads<T>{g}; });
  }
  return out;
}

// ---- copies -------------------------------------------------------------------------------------

template <class T>
Tensor<T> Tensor<T>::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

template <class T>
Tensor<T> Tensor<T>::clone() const {
  Tensor out = Tensor::empty(shape(), device());
  if (numel() > 0)
    backend::runtime(device(), "clone")
        .copy_strided(device().index, data(), backend::make_layout(shape(), strides(), "clone"),
                      out.data(), backend::make_layout(shape(), out.strides(), "clone"), sizeof(T));
  if (autograd::any_requires_grad(*this)) {
    autograd::record(out, "clone", {*this},
                     [](const Tensor& g) { return autograd::Grads<T>{g}; });
  }
  return out;
}

namespace autograd {
/// Backward of a dtype cast: casts the gradient back to the input's type.
template <class To, class From>
class CastNode final : public TypedNode<To> {
 public:
  explicit CastNode(std::shared_ptr<TypedNode<From>> input) : input_(input.get()) {
    this->next.push_back(std::move(input));
  }
  const char* name() const override { return "to"; }
  void apply() override { input_->accumulate(this->grad_.template to<From>()); }

 private:
  TypedNode<From>* input_;
};
}  // namespace autograd

template <class T>
template <class U>
Tensor<U> Tensor<T>::to() const {
  if constexpr (std::is_same_v<T, U>) {
    return *this;
  } else {
    if (!device().is_cpu()) {
      // Casts run on the host, where every pair of element types has a conversion (two copies
      // for a GPU tensor; autograd follows the device moves and the cast). Fine for masks and
      // small tensors, slow for activations.
      return to(Device::cpu()).template to<U>().to(device());
    }
    Tensor<U> out = Tensor<U>::empty(shape(), device());
    const Shape src_strides = strides(), dst_strides = out.strides();
    const Shape* st[2] = {&src_strides, &dst_strides};
    const T* src = data();
    U* dst = out.data();
    strided_walk<2>(shape(), st, [&](int64_t i, int64_t o) { dst[o] = scalar_cast<U>(src[i]); });
    if constexpr (scalar_traits<T>::is_floating && scalar_traits<U>::is_floating) {
      if (autograd::any_requires_grad(*this)) {
        auto& impl = *out.impl_ptr();
        impl.requires_grad = true;
        impl.grad_fn = detail::make_pooled<autograd::CastNode<U, T>>(autograd::gradient_edge(*this));
      }
    }
    return out;
  }
}

template <class T>
Tensor<T> Tensor<T>::to(Device dev) const {
  if (dev == device()) return *this;
  auto copy = detail::device_copy_slot();
  EMBER_CHECK(copy != nullptr, "to(", dev, "): this program was built without ember's CUDA "
                               "backend (include <ember/cuda.hpp> in a TU compiled by nvcc)");
  Tensor src = contiguous();
  Tensor out = Tensor::empty(shape(), dev);
  if (numel() > 0) copy(out.data(), dev, src.data(), src.device(), numel() * sizeof(T));
  if (autograd::any_requires_grad(*this)) {
    Device back = device();
    autograd::record(out, "to_device", {*this},
                     [back](const Tensor& g) { return autograd::Grads<T>{g.to(back)}; });
  }
  return out;
}

template <class T>
Tensor<T> Tensor<T>::empty_pinned(const Shape& shape) {
  for (int64_t d : shape)
    EMBER_CHECK(d >= 0, "empty_pinned: sizes must be non-negative, found shape ", shape);
  backend::DeviceRuntime& rt = backend::cuda_runtime("pin_memory");
  const std::size_t nbytes = static_cast<std::size_t>(shape.numel()) * sizeof(T);
  void* p = rt.allocate_pinned(nbytes);
  // The storage frees the block through the runtime (it returns to the pinned cache).
  std::shared_ptr<void> owner(
      p, [](void* q) { backend::detail::cuda_runtime_slot()->free_pinned(q); });
  auto impl = detail::make_pooled<Impl>();
  impl->storage = detail::make_pooled<Storage>(p, nbytes, Device::cpu(), std::move(owner), true);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  return Tensor(std::move(impl));
}

template <class T>
Tensor<T> Tensor<T>::pin_memory() const {
  EMBER_CHECK(device().is_cpu(), "pin_memory: expected a CPU tensor, found one on ", device());
  if (is_pinned()) return *this;
  Tensor out = empty_pinned(shape());
  const Tensor src = contiguous();
  if (numel() > 0)
    std::memcpy(out.data(), src.data(), static_cast<std::size_t>(numel()) * sizeof(T));
  if (autograd::any_requires_grad(*this))
    autograd::record(out, "pin_memory", {*this},
                     [](const Tensor& g) { return autograd::Grads<T>{g}; });
  return out;
}

template <class T>
Tensor<T>& Tensor<T>::fill_(T value) {
  EMBER_CHECK(!(requires_grad() && is_grad_enabled()),
              "fill_: in-place operation on a tensor that requires grad; use NoGradGuard or an "
              "out-of-place op");
  if (numel() > 0)
    backend::runtime(device(), "fill_")
        .fill(device().index, data(), backend::make_layout(shape(), strides(), "fill_"), &value,
              sizeof(T));
  storage()->bump_version();
  return *this;
}

template <class T>
template <class U>
Tensor<T>& Tensor<T>::copy_(const Tensor<U>& src) {
  EMBER_CHECK(!(requires_grad() && is_grad_enabled()),
              "copy_: in-place operation on a tensor that requires grad; use NoGradGuard or an "
              "out-of-place op");
  Shape target = broadcast_shapes(shape(), src.shape(), "copy_");
  EMBER_CHECK(target == shape(), "copy_: source shape ", src.shape(),
              " cannot be broadcast to destination shape ", shape());
  EMBER_CHECK(!detail::has_internal_overlap(shape(), strides()), "copy_: the destination (shape ",
              shape(), ", strides ", strides(), ") has elements that share one memory location "
              "(an expanded view), so the result would depend on the order of the writes; copy "
              "into a tensor without stride 0 (e.g. clone() it first)");
  // Cast where the source is (on the host for a GPU source), then copy on this tensor's device.
  Tensor<T> s = src.template to<T>().to(device());
  Shape sst = broadcast_strides(s.shape(), s.strides(), shape());
  if (numel() > 0 && s.storage() == storage()) {
    // Source and destination share memory. A view copied onto itself is a no-op; any other
    // overlap (A.copy_(A.t()), a shifted slice) would read elements already overwritten, so the
    // source is copied to a temporary first (PyTorch does the same for copy_).
    if (s.offset() == offset() && sst == strides()) {
      storage()->bump_version();
      return *this;
    }
    if (detail::extents_overlap(offset(), shape(), strides(), s.offset(), shape(), sst)) {
      s = s.detach().clone();
      sst = broadcast_strides(s.shape(), s.strides(), shape());
    }
  }
  if (numel() > 0)
    backend::runtime(device(), "copy_")
        .copy_strided(device().index, s.data(), backend::make_layout(shape(), sst, "copy_"), data(),
                      backend::make_layout(shape(), strides(), "copy_"), sizeof(T));
  storage()->bump_version();
  return *this;
}

}  // namespace ember

#endif  // EMBER_TENSOR_IMPL_HPP
#endif  // EMBER_TENSOR_CLASS_DEFINED
