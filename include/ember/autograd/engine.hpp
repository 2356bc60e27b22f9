// ember/autograd/engine.hpp — the autograd engine: `run_backward` (the graph in topological
// order from the root, each node's gradient accumulated before it runs, the graph freed unless
// retained), `AccumulateGrad` (a leaf's node: adds into `.grad()`, then runs the leaf's
// post-accumulate-grad hooks), `sum_to` (undoes
// broadcasting once, for every op) and `Tensor::backward`.
//
// Tensor and autograd are one layer (docs/architecture.md): a Tensor carries its grad_fn and
// grad, and a node holds tensors. This header is therefore included at the end of tensor.hpp,
// once Tensor<T> is complete; including it first simply includes tensor.hpp.
#ifndef EMBER_TENSOR_CLASS_DEFINED
#include <ember/tensor/tensor.hpp>
#else
#ifndef EMBER_AUTOGRAD_ENGINE_HPP
#define EMBER_AUTOGRAD_ENGINE_HPP

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

namespace ember {

// ---- autograd engine ----------------------------------------------------------------------------

namespace autograd {

namespace detail {
/// out = a + b elementwise; a and b have out's shape (any strides), out is contiguous and may be
/// a itself. On the CPU or through the CUDA backend, by the tensors' device.
template <class T>
void add_same_shape(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& out, const char* op) {
  if (out.numel() == 0) return;
  backend::kernels<T>(out.device(), op)
      .binary(backend::BinaryCode::add, 0.0, a.data(), backend::make_layout(a.shape(), a.strides(), op),
              b.data(), backend::make_layout(b.shape(), b.strides(), op), out.data());
}
}  // namespace detail

template <class T>
void TypedNode<T>::add_into(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& out) {
  EMBER_CHECK(a.device() == b.device(), "autograd: gradients of one tensor on two devices (",
              a.device(), " and ", b.device(), ")");
  detail::add_same_shape(a, b, out, "autograd: gradient accumulation");
}

template <class T>
Tensor<T> sum_to(const Tensor<T>& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  // Align ranks: sum the leading extra dims, then the dims where `shape` has 1.
  Shape padded;
  int extra = grad.dim() - shape.size();
  EMBER_CHECK(extra >= 0, "sum_to: cannot reduce shape ", grad.shape(), " to ", shape);
  for (int i = 0; i < extra; ++i) padded.push_back(1);
  for (int64_t d : shape) padded.push_back(d);
  for (int i = 0; i < padded.size(); ++i)
    EMBER_CHECK(padded[i] == grad.shape()[i] || padded[i] == 1, "sum_to: cannot reduce shape ",
                grad.shape(), " to ", shape);
  Tensor<T> out = Tensor<T>::empty(padded, grad.device());
  uint32_t mask = 0;  // reduce the dims that `shape` collapses to 1
  for (int i = 0; i < padded.size(); ++i)
    if (padded[i] == 1 && grad.shape()[i] != 1) mask |= uint32_t(1) << i;
  Tensor<T> g = grad.contiguous();
  if (out.numel() > 0)
    backend::kernels<T>(g.device(), "sum_to")
        .sum_to(g.data(), backend::make_layout(g.shape(), g.strides(), "sum_to"), mask, out.data());
  return out.view(shape);
}

template <class T>
void AccumulateGrad<T>::apply() {
  auto leaf = leaf_.lock();
  if (!leaf || !this->grad_.defined()) return;
  const Tensor<T>& g = this->grad_;
  if (!leaf->grad) {
    // .grad() must own its memory: optimizers and clip_grad_norm_ modify it in place. When
    // nothing else refers to the incoming gradient (this node holds the only reference to it and
    // to its storage), take it as it is, as PyTorch's AccumulateGrad does; otherwise copy it.
    // Taking it saves a copy of every parameter's gradient per step.
    const auto& impl = g.impl_ptr();
    const bool sole_owner = impl.use_count() == 1 && impl->storage.use_count() == 1 &&
                            g.is_contiguous() && g.offset() == 0 && !impl->grad_fn && !impl->requires_grad &&
                            g.shape() == leaf->shape;
    leaf->grad = sole_owner ? impl : g.clone().impl_ptr();
  } else {
    Tensor<T> acc(leaf->grad);
    detail::add_same_shape(acc, g, acc, "autograd: gradient accumulation");
  }
  // By index, over the hooks present now: one registered by a hook runs from the next pass on.
  const std::size_t hooks = leaf->post_accumulate_grad_hooks.size();
  if (hooks > 0) {
    const Tensor<T> param(leaf);
    for (std::size_t i = 0; i < hooks && i < leaf->post_accumulate_grad_hooks.size(); ++i)
      leaf->post_accumulate_grad_hooks[i].second(param);
  }
}

namespace detail {
inline std::vector<std::function<void()>>& final_callbacks() {
  thread_local std::vector<std::function<void()>> callbacks;
  return callbacks;
}
inline bool& in_backward() {
  thread_local bool active = false;
  return active;
}
}  // namespace detail

/// Runs `callback` once the backward pass now running on this thread has finished every node
/// (PyTorch's `Variable._execution_engine.queue_callback`): DistributedDataParallel waits there
/// for its last all-reduces, so `loss.backward()` returns with synchronized gradients. Callbacks
/// run in the order queued; one queued by a callback runs too. If the pass throws, the queued
/// callbacks are dropped. Throws `ember::Error` outside a backward pass.
inline void queue_callback(std::function<void()> callback) {
  EMBER_CHECK(detail::in_backward(), "autograd::queue_callback: no backward pass is running (call "
                                     "it from a hook during backward)");
  detail::final_callbacks().push_back(std::move(callback));
}

inline void run_backward(const std::shared_ptr<Node>& root, bool retain_graph) {
  // Iterative post-order DFS gives a topological order (inputs after consumers when reversed).
  // A node is "seen" when its visit_mark equals this pass's number. The work lists are
  // per-thread and keep their capacity, so a steady training step allocates nothing here.
  static std::atomic<uint64_t> passes{0};
  const uint64_t mark = ++passes;
  thread_local std::vector<Node*> order;
  thread_local std::vector<std::pair<Node*, std::size_t>> stack;
  order.clear();
  stack.clear();
  stack.push_back({root.get(), 0});
  root->visit_mark = mark;
  while (!stack.empty()) {
    auto& [node, i] = stack.back();
    if (i < node->next.size()) {
      Node* child = node->next[i++].get();
      if (child && child->visit_mark != mark) {
        child->visit_mark = mark;
        stack.push_back({child, 0});
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  // Reverse post-order: every node runs after all nodes that feed it gradient. (apply() never
  // re-enters run_backward: backward functions run with grad mode off and record nothing.)
  auto& callbacks = detail::final_callbacks();
  struct Pass {  // marks the pass; drops unrun callbacks however it ends
    std::vector<std::function<void()>>& callbacks;
    explicit Pass(std::vector<std::function<void()>>& c) : callbacks(c) {
      callbacks.clear();
      detail::in_backward() = true;
    }
    ~Pass() {
      detail::in_backward() = false;
      callbacks.clear();
    }
  } pass(callbacks);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = *it;
    if (n->has_grad()) n->apply();
    n->clear_grad();
    if (!retain_graph) n->release();
  }
  for (std::size_t i = 0; i < callbacks.size(); ++i) {
    std::function<void()> callback = std::move(callbacks[i]);  // the vector may grow meanwhile
    callback();
  }
}

}  // namespace autograd

template <class T>
void Tensor<T>::backward(bool retain_graph) const {
  EMBER_CHECK(numel() == 1, "backward: implicit gradient needs a one-element output, found shape ",
              shape(), "; pass the output gradient explicitly");
  backward(ones<T>(shape(), device()), retain_graph);
}

template <class T>
void Tensor<T>::backward(const Tensor& gradient, bool retain_graph) const {
  EMBER_CHECK(requires_grad(), "backward: the tensor does not require grad (no input requires "
                               "grad, or it was computed under NoGradGuard)");
  EMBER_CHECK(gradient.shape() == shape(), "backward: gradient shape ", gradient.shape(),
              " does not match the tensor's shape ", shape());
  auto root = autograd::gradient_edge(*this);
  root->accumulate(gradient);
  NoGradGuard no_grad;  // backward functions do not themselves record graphs
  autograd::run_backward(root, retain_graph);
}

}  // namespace ember

#endif  // EMBER_AUTOGRAD_ENGINE_HPP
#endif  // EMBER_TENSOR_CLASS_DEFINED
