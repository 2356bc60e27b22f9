// ember/tensor/tensor.hpp — `Tensor<T>`: a cheap handle to shared storage + offset + shape +
// strides + device, with views, copies, factories and printing.
//
// Semantics follow PyTorch's `at::Tensor`:
//  * Copying a Tensor copies the handle; both names refer to the same data (`clone()` copies data).
//  * Views (`view`, `reshape` when possible, `permute`, `transpose`, `slice`, `narrow`, `select`,
//    `unsqueeze`, `squeeze`, `expand`) share storage with their base and only change offset,
//    shape and strides. Writing through a view writes the base.
//  * Row-major: a contiguous tensor of shape [a, b, c] has strides [b*c, c, 1] (in elements).
//  * Views are differentiable: if the base requires grad, the view records a backward node.
//
// Layering note: the autograd node types (autograd/node.hpp) are included here because every
// view must be able to record its backward; they depend on core and this header only.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <memory>
#include <numeric>
#include <ostream>
#include <sstream>
#include <type_traits>
#include <vector>

#include <ember/autograd/grad_mode.hpp>
#include <ember/backend/backend.hpp>
#include <ember/backend/functors.hpp>
#include <ember/core/device.hpp>
#include <ember/core/dtype.hpp>
#include <ember/core/error.hpp>
#include <ember/core/generator.hpp>
#include <ember/core/parallel.hpp>
#include <ember/core/pool.hpp>
#include <ember/core/shape.hpp>
#include <ember/core/storage.hpp>

namespace ember {

template <class T>
class Tensor;

namespace autograd {
class Node;
template <class T>
class TypedNode;
}  // namespace autograd

namespace detail {
/// The state behind a Tensor handle. Users never touch it directly.
template <class T>
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  bool requires_grad = false;
  std::shared_ptr<TensorImpl<T>> grad;                 // leaf gradient (.grad())
  std::shared_ptr<autograd::TypedNode<T>> grad_fn;     // node that produced this (non-leaf)
  std::shared_ptr<autograd::TypedNode<T>> grad_accumulator;  // leaf: lazily created
  // leaf: called after backward() accumulated into .grad() ({id, hook}; Tensor::register_…)
  std::vector<std::pair<uint64_t, std::function<void(const Tensor<T>&)>>> post_accumulate_grad_hooks;
};

/// Hook installed by the CUDA backend: copies `nbytes` between devices (`kind` as cudaMemcpy).
using DeviceCopyFn = void (*)(void* dst, Device dst_dev, const void* src, Device src_dev,
                              std::size_t nbytes);
inline DeviceCopyFn& device_copy_slot() {
  static DeviceCopyFn fn = nullptr;
  return fn;
}
}  // namespace detail

/// An N-dimensional array of `T` (float, double, bf16, half, int64_t, int32_t, uint8_t) on a
/// device, with optional autograd. Default-constructed tensors are undefined (`defined()` false).
template <class T>
class Tensor {
 public:
  using value_type = T;
  using Impl = detail::TensorImpl<T>;

  Tensor() = default;
  explicit Tensor(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  /// Allocates an uninitialized contiguous tensor of `shape` on `device`.
  static Tensor empty(const Shape& shape, Device device = Device::cpu()) {
    for (int64_t d : shape)
      EMBER_CHECK(d >= 0, "empty: sizes must be non-negative, found shape ", shape);
    auto impl = detail::make_pooled<Impl>();
    impl->storage = detail::make_pooled<Storage>(shape.numel() * sizeof(T), device);
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    return Tensor(std::move(impl));
  }

  // ---- metadata -------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  /// Size of dim `d` (negative counts from the end).
  int64_t size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }
  int64_t stride(int64_t d) const { return strides()[normalize_dim(d, dim(), "stride")]; }
  int dim() const { return shape().size(); }
  int64_t numel() const { return shape().numel(); }
  int64_t offset() const { return impl().offset; }
  Device device() const { return impl().storage->device(); }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  const char* dtype_name() const { return scalar_traits<T>::name; }
  /// True when the elements are laid out densely in row-major order.
  bool is_contiguous() const {
    int64_t expected = 1;
    for (int i = dim() - 1; i >= 0; --i) {
      if (shape()[i] != 1 && strides()[i] != expected) return false;
      expected *= shape()[i];
    }
    return true;
  }
  /// Pointer to the first element (device memory for CUDA tensors).
  T* data() const { return static_cast<T*>(impl().storage->data()) + impl().offset; }
  /// True if both handles share the same implementation (the same tensor, not just equal).
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  const std::shared_ptr<Impl>& impl_ptr() const { return impl_; }

  // ---- element access (CPU; for tests and small host-side logic) ------------------------------
  /// The value of a one-element tensor.
  T item() const {
    EMBER_CHECK(numel() == 1, "item: expected a tensor with one element, found shape ", shape());
    if (!device().is_cpu()) return to(Device::cpu()).item();  // copies (and waits), as PyTorch
    return *data();
  }
  /// The element at a full index (negative indices count from the end).
  T at(std::initializer_list<int64_t> index) const { return *element_ptr(index, "at"); }
  /// Writes the element at a full index (bumps the version counter).
  void set(std::initializer_list<int64_t> index, T value) {
    *element_ptr(index, "set") = value;
    storage()->bump_version();
  }
  /// Row-major copy of all elements.
  std::vector<T> to_vector() const {
    Tensor c = to(Device::cpu()).contiguous();
    return std::vector<T>(c.data(), c.data() + c.numel());
  }

  // ---- views (share storage; differentiable) --------------------------------------------------
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor flatten() const { return reshape({numel()}); }
  Tensor permute(std::initializer_list<int64_t> dims) const { return permute(Shape(dims)); }
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  /// Transpose of a 2-D tensor.
  Tensor t() const {
    EMBER_CHECK(dim() == 2, "t: expected a 2-D tensor, found shape ", shape());
    return transpose(0, 1);
  }
  /// Elements start, start+step, ... < end along `dim` (Python slicing; ends are clamped).
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  /// Removes `dim` by taking index `index` along it.
  Tensor select(int64_t dim, int64_t index) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor squeeze() const;
  /// Broadcasts size-1 dims (and new leading dims) to `shape` without copying (stride 0).
  Tensor expand(const Shape& shape) const;

  // ---- copies ---------------------------------------------------------------------------------
  /// This tensor if already contiguous, otherwise a contiguous copy (differentiable).
  Tensor contiguous() const;
  /// A contiguous copy that owns its data (differentiable).
  Tensor clone() const;
  /// Converts the element type (differentiable between floating types).
  template <class U>
  Tensor<U> to() const;
  /// Copies to `device` (this tensor if already there).
  Tensor to(Device device) const;
  /// A copy in page-locked ("pinned") host memory, or this tensor when it is pinned already
  /// (PyTorch's `pin_memory()`): the GPU copies from it by DMA, without the staging copy that
  /// pageable memory needs. Throws `ember::Error` for a CUDA tensor, and when the program has no
  /// CUDA backend or no usable driver (page-locking is a CUDA driver service).
  Tensor pin_memory() const;
  /// True when the elements live in page-locked host memory.
  bool is_pinned() const { return storage()->is_pinned(); }
  /// An uninitialized contiguous CPU tensor in page-locked memory (errors as pin_memory).
  static Tensor empty_pinned(const Shape& shape);
  /// A tensor sharing storage but cut from the graph (requires_grad false).
  Tensor detach() const {
    auto impl = detail::make_pooled<Impl>();
    impl->storage = this->impl().storage;
    impl->offset = offset();
    impl->shape = shape();
    impl->strides = strides();
    return Tensor(std::move(impl));
  }

  // ---- in-place (bump the version counter; refused on tensors that record grad) ---------------
  Tensor& fill_(T value);
  Tensor& zero_() { return fill_(T(0)); }
  /// Copies `src` (broadcastable to this shape, any type) into this tensor.
  template <class U>
  Tensor& copy_(const Tensor<U>& src);

  // ---- autograd -------------------------------------------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  /// Marks a leaf tensor as needing a gradient (returns *this for chaining).
  Tensor& requires_grad_(bool flag = true) {
    EMBER_CHECK(is_leaf() || flag, "requires_grad_: cannot turn off requires_grad on a non-leaf "
                                   "tensor; use detach()");
    EMBER_CHECK(!flag || scalar_traits<T>::is_floating,
                "requires_grad_: only floating-point tensors can require gradients, found ",
                dtype_name());
    impl().requires_grad = flag;
    return *this;
  }
  /// True for tensors created by the user (not by a recorded op).
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  /// The accumulated gradient of a leaf (undefined before the first backward()).
  Tensor grad() const { return Tensor(impl().grad); }
  /// Replaces the stored gradient (e.g. an undefined tensor to drop it).
  void set_grad(const Tensor& g) { impl().grad = g.impl_; }
  /// Drops the stored gradient (PyTorch's `set_to_none=True`).
  void zero_grad() { impl().grad.reset(); }
  /// Calls `hook(*this)` each time a backward pass has finished accumulating this leaf's gradient
  /// into `.grad()` — once per pass that reaches the leaf, as soon as its gradient is complete
  /// (PyTorch's `register_post_accumulate_grad_hook`; DistributedDataParallel starts a bucket's
  /// all-reduce from it while the rest of the backward runs). The hook runs with grad mode off
  /// and may read and modify `.grad()` in place. Returns an id for
  /// `remove_post_accumulate_grad_hook`. Throws `ember::Error` for a tensor that is not a leaf.
  uint64_t register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) {
    EMBER_CHECK(is_leaf(), "register_post_accumulate_grad_hook: only a leaf tensor (a parameter) "
                           "accumulates a gradient; this one was computed by ",
                impl().grad_fn->name());
    static std::atomic<uint64_t> next_id{0};
    const uint64_t id = ++next_id;
    impl().post_accumulate_grad_hooks.emplace_back(id, std::move(hook));
    return id;
  }
  /// Removes the hook `register_post_accumulate_grad_hook` returned `id` for (no-op if gone).
  void remove_post_accumulate_grad_hook(uint64_t id) {
    auto& hooks = impl().post_accumulate_grad_hooks;
    hooks.erase(std::remove_if(hooks.begin(), hooks.end(),
                               [&](const auto& h) { return h.first == id; }),
                hooks.end());
  }
  /// The node that produced this tensor, or null for a leaf.
  const std::shared_ptr<autograd::TypedNode<T>>& grad_fn() const { return impl().grad_fn; }
  /// Back-propagates from this scalar (gradient 1). Throws if it does not require grad.
  void backward(bool retain_graph = false) const;
  /// Back-propagates with an explicit output gradient of this tensor's shape.
  void backward(const Tensor& gradient, bool retain_graph = false) const;

 private:
  Impl& impl() const {
    EMBER_CHECK(impl_ != nullptr, "use of an undefined (default-constructed) tensor");
    return *impl_;
  }
  void check_cpu(const char* op) const {
    EMBER_CHECK(device().is_cpu(), op, ": needs a CPU tensor, found one on ", device(),
                " (call .to(Device::cpu()) first)");
  }
  T* element_ptr(std::initializer_list<int64_t> index, const char* op) const {
    check_cpu(op);
    EMBER_CHECK(static_cast<int>(index.size()) == dim(), op, ": expected ", dim(),
                " indices for shape ", shape(), ", found ", index.size());
    int64_t off = 0;
    int i = 0;
    for (int64_t ix : index) {
      int64_t n = shape()[i];
      int64_t j = ix < 0 ? ix + n : ix;
      EMBER_CHECK(j >= 0 && j < n, op, ": index ", ix, " is out of range for dim ", i,
                  " of size ", n, " (shape ", shape(), ")");
      off += j * strides()[i++];
    }
    return data() + off;
  }
  /// A view sharing this tensor's storage with the given geometry (no autograd).
  Tensor make_view(const Shape& shape, const Shape& strides, int64_t offset) const {
    auto impl = detail::make_pooled<Impl>();
    impl->storage = this->impl().storage;
    impl->offset = offset;
    impl->shape = shape;
    impl->strides = strides;
    return Tensor(std::move(impl));
  }
  template <class U>
  friend class Tensor;

  std::shared_ptr<Impl> impl_;
};

// ---- factories ----------------------------------------------------------------------------------

/// Uninitialized contiguous tensor `[shape]`.
template <class T>
inline Tensor<T> empty(const Shape& shape, Device device = Device::cpu()) {
  return Tensor<T>::empty(shape, device);
}
/// Tensor filled with `value`.
template <class T>
inline Tensor<T> full(const Shape& shape, T value, Device device = Device::cpu()) {
  Tensor<T> t = Tensor<T>::empty(shape, device);
  t.fill_(value);
  return t;
}
template <class T>
inline Tensor<T> zeros(const Shape& shape, Device device = Device::cpu()) {
  return full<T>(shape, T(0), device);
}
template <class T>
inline Tensor<T> ones(const Shape& shape, Device device = Device::cpu()) {
  return full<T>(shape, T(1), device);
}
template <class T>
inline Tensor<T> zeros_like(const Tensor<T>& t) {
  return zeros<T>(t.shape(), t.device());
}
template <class T>
inline Tensor<T> ones_like(const Tensor<T>& t) {
  return ones<T>(t.shape(), t.device());
}
template <class T>
inline Tensor<T> empty_like(const Tensor<T>& t) {
  return empty<T>(t.shape(), t.device());
}
/// `[start, start+step, ...)` below `end` (1-D, PyTorch's `arange`).
template <class T>
inline Tensor<T> arange(T start, T end, T step = T(1)) {
  EMBER_CHECK(step != T(0), "arange: step must be non-zero");
  double n = std::ceil((double(end) - double(start)) / double(step));
  int64_t count = n > 0 ? static_cast<int64_t>(n) : 0;
  Tensor<T> t = Tensor<T>::empty({count});
  for (int64_t i = 0; i < count; ++i) t.data()[i] = static_cast<T>(double(start) + i * double(step));
  return t;
}
template <class T>
inline Tensor<T> arange(T end) {
  return arange<T>(T(0), end, T(1));
}
/// Copies `values` into a tensor of `shape` (numel must match).
template <class T>
inline Tensor<T> from_vector(const std::vector<T>& values, const Shape& shape) {
  EMBER_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "from_vector: ",
              values.size(), " values cannot fill shape ", shape, " (", shape.numel(),
              " elements)");
  Tensor<T> t = Tensor<T>::empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}
/// 1-D tensor from `values`.
template <class T>
inline Tensor<T> from_vector(const std::vector<T>& values) {
  return from_vector(values, Shape{static_cast<int64_t>(values.size())});
}
/// Uniform samples in [low, high) from `gen` (element i uses Philox block offset+i).
template <class T>
inline Tensor<T> rand(const Shape& shape, Generator& gen, double low = 0.0, double high = 1.0) {
  Tensor<T> t = Tensor<T>::empty(shape);
  T* p = t.data();
  int64_t n = t.numel();
  uint64_t base = gen.reserve(static_cast<uint64_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto b = gen.block(base + i);
    p[i] = static_cast<T>(low + (high - low) * detail::uints_to_unit_double(b[0], b[1]));
  }
  return t;
}
/// Normal samples N(mean, std²) from `gen` (Box–Muller, one Philox block per element).
template <class T>
inline Tensor<T> randn(const Shape& shape, Generator& gen, double mean = 0.0, double std = 1.0) {
  Tensor<T> t = Tensor<T>::empty(shape);
  T* p = t.data();
  int64_t n = t.numel();
  uint64_t base = gen.reserve(static_cast<uint64_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto b = gen.block(base + i);
    double u1 = detail::uints_to_unit_double(b[0], b[1]);
    double u2 = detail::uints_to_unit_double(b[2], b[3]);
    double z = std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(6.283185307179586 * u2);
    p[i] = static_cast<T>(mean + std * z);
  }
  return t;
}
template <class T>
inline Tensor<T> rand(const Shape& shape) {
  return rand<T>(shape, default_generator());
}
template <class T>
inline Tensor<T> randn(const Shape& shape) {
  return randn<T>(shape, default_generator());
}

// ---- printing -----------------------------------------------------------------------------------

namespace detail {
template <class T>
void print_rec(std::ostream& os, const T* base, const Shape& shape, const Shape& strides, int d,
               int indent) {
  int64_t n = shape[d];
  const int64_t edge = 3;
  bool summarize = n > 2 * edge + 1 && shape.numel() > 1000;
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && i == edge) {
      os << (d + 1 == shape.size() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - edge;
    }
    const T* p = base + i * strides[d];
    if (d + 1 == shape.size()) {
      if constexpr (std::is_integral_v<T>)
        os << static_cast<int64_t>(*p);
      else
        os << std::setprecision(6) << static_cast<double>(static_cast<float>(*p));
    } else {
      print_rec(os, p, shape, strides, d + 1, indent + 1);
    }
    if (i + 1 < n) os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << ']';
}
}  // namespace detail

/// Prints like PyTorch: `tensor([[1, 2], [3, 4]], dtype=float32, shape=[2, 2])`.
template <class T>
std::ostream& operator<<(std::ostream& os, const Tensor<T>& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  Tensor<T> c = t.to(Device::cpu());
  os << "tensor(";
  if (c.dim() == 0) {
    if constexpr (std::is_integral_v<T>)
      os << static_cast<int64_t>(*c.data());
    else
      os << static_cast<double>(static_cast<float>(*c.data()));
  } else {
    detail::print_rec(os, c.data(), c.shape(), c.strides(), 0, 7);
  }
  os << ", dtype=" << t.dtype_name() << ", shape=" << t.shape();
  if (!t.device().is_cpu()) os << ", device=" << t.device();
  if (t.requires_grad()) os << ", requires_grad=true";
  return os << ')';
}

}  // namespace ember

#define EMBER_TENSOR_CLASS_DEFINED
#include <ember/autograd/node.hpp>
#include <ember/autograd/engine.hpp>
#include <ember/tensor/tensor_impl.hpp>
