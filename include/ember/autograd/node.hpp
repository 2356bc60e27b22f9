// ember/autograd/node.hpp — the backward graph: nodes, saved tensors, and how an op records
// its backward function.
//
// Define-by-run reverse mode (as PyTorch's autograd): every op on tensors that require grad
// creates a Node holding the op's backward function and the tensors that function needs
// ("saved tensors"). The output tensor points at its node; the node points at its inputs'
// nodes. A leaf tensor (created by the user, requires_grad) gets an AccumulateGrad node that
// adds incoming gradients into its `.grad()`.
//
// Each node accumulates the gradient of its output from every consumer before it runs (the
// engine visits nodes in topological order), so a tensor used twice gets the sum.
// Broadcasting is undone here, once for all ops: a gradient whose shape differs from its
// input's shape is summed back to it (`sum_to`).
//
// Saved tensors remember the storage version they saw. If the data was modified in place
// after the op (directly or through any view of the same storage), backward throws
// `ember::Error` naming the op instead of computing a wrong gradient.
#ifndef EMBER_TENSOR_CLASS_DEFINED
// Included on its own: tensor.hpp defines Tensor<T>, then includes this file again.
#include <ember/tensor/tensor.hpp>
#else
#ifndef EMBER_AUTOGRAD_NODE_HPP
#define EMBER_AUTOGRAD_NODE_HPP

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ember::autograd {

/// A node of the backward graph. `next` are the nodes of the inputs (null where an input
/// needs no gradient), used for the topological order.
class Node {
 public:
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  /// Runs backward: reads the accumulated output gradient and feeds the inputs' nodes.
  virtual void apply() = 0;
  /// Drops the accumulated output gradient (after apply) to free memory early.
  virtual void clear_grad() = 0;
  virtual bool has_grad() const = 0;
  /// Frees saved tensors; a later apply() throws (backward through a freed graph).
  virtual void release() {}

  detail::PooledVector<std::shared_ptr<Node>> next;
  /// Marks the node as visited by the backward pass numbered `visit_mark` (run_backward).
  uint64_t visit_mark = 0;
};

/// What a backward function returns: one gradient per input, in input order (an undefined
/// tensor where an input gets none). Its buffer comes from the small-object pool, like the
/// node's, so recording and running backward make no system allocation in a steady step.
template <class T>
using Grads = detail::PooledVector<Tensor<T>>;

/// A node whose output has element type T: it owns the accumulated output gradient.
template <class T>
class TypedNode : public Node {
 public:
  /// Adds `g` (shape of this node's output) to the accumulated gradient.
  void accumulate(const Tensor<T>& g) {
    if (!grad_.defined()) {
      grad_ = g;
    } else {
      Tensor<T> sum = Tensor<T>::empty(grad_.shape(), grad_.device());
      add_into(grad_, g, sum);
      grad_ = sum;
    }
  }
  void clear_grad() override { grad_ = Tensor<T>(); }
  bool has_grad() const override { return grad_.defined(); }
  const Tensor<T>& grad() const { return grad_; }

 protected:
  static void add_into(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& out);
  Tensor<T> grad_;
};

/// Sums a gradient back to the shape of the input it belongs to (the reverse of broadcasting).
template <class T>
Tensor<T> sum_to(const Tensor<T>& grad, const Shape& shape);

/// The node of a leaf that requires grad: adds incoming gradient into the leaf's `.grad()`.
template <class T>
class AccumulateGrad final : public TypedNode<T> {
 public:
  explicit AccumulateGrad(std::weak_ptr<detail::TensorImpl<T>> leaf) : leaf_(std::move(leaf)) {}
  const char* name() const override { return "AccumulateGrad"; }
  void apply() override;

 private:
  std::weak_ptr<detail::TensorImpl<T>> leaf_;
};

/// A saved tensor plus the storage version it had when saved.
template <class T>
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor<T>& t)
      : t_(t.detach()), version_(t.defined() ? t.storage()->version() : 0) {}
  /// The tensor; throws if its storage was modified in place since it was saved.
  const Tensor<T>& get(const char* op) const {
    EMBER_CHECK(!t_.defined() || t_.storage()->version() == version_, op,
                ": a tensor saved for backward was modified by an in-place operation after it "
                "was saved (version ", version_, " -> ", t_.storage()->version(),
                "); clone() it before modifying, or modify a copy");
    return t_;
  }

 private:
  Tensor<T> t_;
  uint64_t version_ = 0;
};

/// The generic op node: `fn(grad_out)` returns one gradient per input (an undefined tensor where
/// there is none); gradients are summed back to each input's shape before being passed on.
template <class T, class Fn>
class FunctionNode final : public TypedNode<T> {
 public:
  FunctionNode(const char* name, Fn fn) : name_(name), fn_(std::move(fn)) {}
  const char* name() const override { return name_; }
  void apply() override {
    EMBER_CHECK(fn_.has_value(), name_,
                ": trying to run backward through the graph a second time (its saved tensors were "
                "freed by the first backward); pass retain_graph=true to the first backward()");
    Grads<T> grads = (*fn_)(this->grad_);
    EMBER_ASSERT(grads.size() == inputs_.size());
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      if (!inputs_[i] || !grads[i].defined()) continue;
      if (grads[i].shape() != input_shapes_[i])
        inputs_[i]->accumulate(sum_to(grads[i], input_shapes_[i]));
      else
        inputs_[i]->accumulate(grads[i]);
    }
  }
  void release() override { fn_.reset(); }

  void reserve_inputs(std::size_t n) {
    inputs_.reserve(n);
    input_shapes_.reserve(n);
    this->next.reserve(n);
  }
  void add_input(std::shared_ptr<TypedNode<T>> node, const Shape& shape) {
    inputs_.push_back(node.get());
    input_shapes_.push_back(shape);
    this->next.push_back(std::move(node));
  }

 private:
  const char* name_;
  std::optional<Fn> fn_;
  detail::PooledVector<TypedNode<T>*> inputs_;
  detail::PooledVector<Shape> input_shapes_;
};

/// The node that receives gradient for `t`: its grad_fn, or its leaf accumulator, or null when
/// `t` needs no gradient.
template <class T>
std::shared_ptr<TypedNode<T>> gradient_edge(const Tensor<T>& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  auto& impl = *t.impl_ptr();
  if (impl.grad_fn) return impl.grad_fn;
  if (!impl.grad_accumulator)
    impl.grad_accumulator = detail::make_pooled<AccumulateGrad<T>>(t.impl_ptr());
  return impl.grad_accumulator;
}

/// True when an op on these inputs must record a node (grad mode on and some input requires grad).
template <class... Ts>
bool any_requires_grad(const Ts&... ts) {
  return is_grad_enabled() && (... || (ts.defined() && ts.requires_grad()));
}

/// Records the backward of an op: `out` gets a node with `fn` whose inputs are `inputs`.
/// Call only when `any_requires_grad(inputs...)`. Inputs may be undefined (skipped).
template <class T, class Fn>
void record(Tensor<T>& out, const char* name, std::initializer_list<Tensor<T>> inputs, Fn fn) {
  auto node = detail::make_pooled<FunctionNode<T, Fn>>(name, std::move(fn));
  node->reserve_inputs(inputs.size());
  for (const Tensor<T>& in : inputs)
    node->add_input(gradient_edge(in), in.defined() ? in.shape() : Shape{});
  auto& impl = *out.impl_ptr();
  impl.requires_grad = true;
  impl.grad_fn = std::move(node);
}

/// Variant taking a vector of inputs (for ops with a variable number of inputs, e.g. cat).
template <class T, class Fn>
void record(Tensor<T>& out, const char* name, const std::vector<Tensor<T>>& inputs, Fn fn) {
  auto node = detail::make_pooled<FunctionNode<T, Fn>>(name, std::move(fn));
  node->reserve_inputs(inputs.size());
  for (const Tensor<T>& in : inputs) node->add_input(gradient_edge(in), in.shape());
  auto& impl = *out.impl_ptr();
  impl.requires_grad = true;
  impl.grad_fn = std::move(node);
}

/// Runs backward from `root` (a node) seeded with `grad`: topological order by an iterative
/// depth-first search, each node applied once after all its consumers.
void run_backward(const std::shared_ptr<Node>& root, bool retain_graph);

}  // namespace ember::autograd

#endif  // EMBER_AUTOGRAD_NODE_HPP
#endif  // EMBER_TENSOR_CLASS_DEFINED
