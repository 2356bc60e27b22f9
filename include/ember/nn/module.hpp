// ember/nn/module.hpp — `nn::Module<T>`, the base of every layer and model: named parameters and
// buffers, child modules, train/eval mode, `state_dict()` / `load_state_dict()`, `to(Device)`.
//
// The design is LibTorch's C++ frontend (torch/nn/module.h) with PyTorch's naming and ordering:
//  * A module registers its parameters (`register_parameter`, trained: requires_grad is set),
//    buffers (`register_buffer`, saved but not trained) and children (`register_module`) under
//    short names. Full names are dotted paths from the root: a parameter `weight` of the child
//    `query` of the child `self` of the child `attention` is `attention.self.query.weight`.
//    These names are the keys of `state_dict()`, and ember's layers choose them so that they are
//    exactly Hugging Face's checkpoint keys (see docs/nn.md).
//  * Order is PyTorch's: `named_parameters()` visits the modules depth-first in pre-order
//    (a module, then each child in registration order) and yields each module's parameters in
//    registration order. `state_dict()` yields, per module, its parameters then its persistent
//    buffers, then recurses into the children (PyTorch's `Module.state_dict`).
//  * A tensor registered twice (weight tying, e.g. BERT's MLM decoder sharing the word embedding
//    matrix) appears once in `parameters()` / `named_parameters()` (so an optimizer updates it
//    once) but under every name in `state_dict()` (as PyTorch); `tied_state_keys()` names the
//    later names, which savers skip and `load_state_dict` fills from the first (as Hugging Face).
//  * There is no virtual `forward`: each module has its own typed `forward(...)`, so calls are
//    direct and arguments keep their types (LibTorch does the same).
//
// Member handles stay valid: `load_state_dict` copies values into the registered tensors in
// place and `to(Device)` swaps the storage inside the same tensor object, so a layer's `weight`
// member and the registered parameter remain one tensor.
//
// Modules are held by `std::shared_ptr` (children are shared_ptr; `register_module` returns the
// typed pointer) and are neither copyable nor movable: a copy would silently share parameters.
#pragma once

#include <ember/autograd/grad_mode.hpp>
#include <ember/core/arg.hpp>
#include <ember/core/device.hpp>
#include <ember/core/error.hpp>
#include <ember/core/generator.hpp>
#include <ember/tensor/tensor.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ember::nn {

template <class T>
class Module;

/// An ordered list of (dotted name, tensor): what `state_dict()` returns and
/// `load_state_dict()` accepts (any iterable of (name, Tensor) pairs is accepted there).
template <class T>
using StateDict = std::vector<std::pair<std::string, Tensor<T>>>;

/// What `load_state_dict` could not match: keys the module has that the dict lacks, and keys the
/// dict has that the module lacks (both empty after a clean load).
struct LoadResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
  bool ok() const { return missing_keys.empty() && unexpected_keys.empty(); }
};

namespace detail {
inline std::string join_names(const std::vector<std::string>& names, std::size_t limit = 20) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > limit) s += ", ... (" + std::to_string(names.size() - limit) + " more)";
  return s;
}
inline std::string dotted(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}
}  // namespace detail

/// The base class of all layers and models, templated on the scalar type (float or double).
///
/// A module owns named parameters (tensors trained by an optimizer), named buffers (tensors that
/// are saved but not trained) and named child modules. Subclasses register them in their
/// constructor and write a typed `forward(...)`. A plain `Module<T>` is also usable on its own as
/// a naming container (e.g. HF's `attention.output` level).
template <class T>
class Module {
 public:
  static_assert(std::is_floating_point_v<T>, "nn::Module<T>: T must be float or double");
  using value_type = T;
  using StateDict = nn::StateDict<T>;

  /// `type_name` is the class name shown in `repr()` and error messages ("Linear", "MLP").
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- registration (call from the subclass constructor) --------------------------------------

  /// Registers `tensor` as parameter `name` and returns it. A leaf is registered as is (the
  /// returned handle is the same tensor); a non-leaf is detached first. `requires_grad` is set
  /// to `requires_grad` (false freezes the parameter; it still appears in `parameters()`).
  /// Throws `ember::Error` for an empty name, a name containing '.', a name already used by a
  /// parameter, buffer or child of this module, or an undefined tensor.
  Tensor<T> register_parameter(const std::string& name, Tensor<T> tensor,
                               bool requires_grad = true) {
    check_new_name(name, "register_parameter");
    EMBER_CHECK(tensor.defined(), type_name_, ".register_parameter(\"", name,
                "\"): the tensor is undefined");
    if (!tensor.is_leaf()) tensor = tensor.detach();
    tensor.requires_grad_(requires_grad);
    parameters_.emplace_back(name, tensor);
    return tensor;
  }

  /// Registers `tensor` as buffer `name` (saved and moved with the module, never trained: its
  /// requires_grad is left off). Non-persistent buffers are not part of `state_dict()` (PyTorch's
  /// `persistent=False`). Same name rules as `register_parameter`.
  Tensor<T> register_buffer(const std::string& name, Tensor<T> tensor, bool persistent = true) {
    check_new_name(name, "register_buffer");
    EMBER_CHECK(tensor.defined(), type_name_, ".register_buffer(\"", name,
                "\"): the tensor is undefined");
    if (tensor.requires_grad()) tensor = tensor.detach();
    buffers_.push_back({name, tensor, persistent});
    return tensor;
  }

  /// Registers `module` as child `name` and returns it with its own type, so a constructor can
  /// write `fc1 = register_module("fc1", std::make_shared<Linear<T>>(8, 4));`.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module<T>, M>,
                  "register_module: the child must derive from nn::Module<T> with the same T");
    check_new_name(name, "register_module");
    EMBER_CHECK(module != nullptr, type_name_, ".register_module(\"", name,
                "\"): the module pointer is null");
    EMBER_CHECK(module.get() != this, type_name_, ".register_module(\"", name,
                "\"): a module cannot be its own child");
    children_.emplace_back(name, std::static_pointer_cast<Module<T>>(module));
    return module;
  }

  /// Replaces the child `name` (e.g. to swap a classifier head); returns the new child.
  template <class M>
  std::shared_ptr<M> replace_module(const std::string& name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module<T>, M>,
                  "replace_module: the child must derive from nn::Module<T> with the same T");
    EMBER_CHECK(module != nullptr, type_name_, ".replace_module(\"", name,
                "\"): the module pointer is null");
    for (auto& [n, m] : children_)
      if (n == name) {
        m = std::static_pointer_cast<Module<T>>(module);
        return module;
      }
    EMBER_FAIL(type_name_, ".replace_module: no child named \"", name, "\"");
  }

  // ---- traversal -------------------------------------------------------------------------------

  /// Parameters with dotted names, depth-first pre-order, each module's in registration order.
  /// A tensor registered under several names (tied weights) appears once, under its first name.
  /// With `recurse` false, only this module's own parameters.
  std::vector<std::pair<std::string, Tensor<T>>> named_parameters(bool recurse = true) const {
    std::vector<std::pair<std::string, Tensor<T>>> out;
    std::unordered_set<const void*> seen;
    auto visit = [&](const std::string& prefix, const Module& m) {
      for (const auto& [name, p] : m.parameters_)
        if (seen.insert(p.impl_ptr().get()).second)
          out.emplace_back(detail::dotted(prefix, name), p);
    };
    if (recurse) {
      for (const auto& [prefix, m] : named_modules()) visit(prefix, *m);
    } else {
      visit("", *this);
    }
    return out;
  }
  /// The tensors of `named_parameters()` (what an optimizer takes).
  std::vector<Tensor<T>> parameters(bool recurse = true) const {
    std::vector<Tensor<T>> out;
    for (auto& [name, p] : named_parameters(recurse)) out.push_back(p);
    return out;
  }
  /// Buffers with dotted names (persistent and not), in the same order as parameters.
  std::vector<std::pair<std::string, Tensor<T>>> named_buffers(bool recurse = true) const {
    std::vector<std::pair<std::string, Tensor<T>>> out;
    std::unordered_set<const void*> seen;
    auto visit = [&](const std::string& prefix, const Module& m) {
      for (const auto& b : m.buffers_)
        if (seen.insert(b.tensor.impl_ptr().get()).second)
          out.emplace_back(detail::dotted(prefix, b.name), b.tensor);
    };
    if (recurse) {
      for (const auto& [prefix, m] : named_modules()) visit(prefix, *m);
    } else {
      visit("", *this);
    }
    return out;
  }
  std::vector<Tensor<T>> buffers(bool recurse = true) const {
    std::vector<Tensor<T>> out;
    for (auto& [name, b] : named_buffers(recurse)) out.push_back(b);
    return out;
  }
  /// Direct children with their names, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>>& named_children() const {
    return children_;
  }
  std::vector<std::shared_ptr<Module<T>>> children() const {
    std::vector<std::shared_ptr<Module<T>>> out;
    for (auto& [name, m] : children_) out.push_back(m);
    return out;
  }
  /// The child called `name`, or null.
  std::shared_ptr<Module<T>> child(const std::string& name) const {
    for (auto& [n, m] : children_)
      if (n == name) return m;
    return nullptr;
  }
  /// This module (name "") and all descendants with dotted names, depth-first pre-order; a
  /// module reachable twice appears once. The pointers are non-owning views of the tree.
  std::vector<std::pair<std::string, const Module<T>*>> named_modules() const {
    std::vector<std::pair<std::string, const Module<T>*>> out;
    std::unordered_set<const Module<T>*> seen;
    collect_modules("", this, out, seen);
    return out;
  }
  /// Calls `fn(module)` on this module and every descendant, pre-order (PyTorch's `apply`;
  /// e.g. custom initialization).
  void apply(const std::function<void(Module<T>&)>& fn) {
    fn(*this);
    for (auto& [name, m] : children_) m->apply(fn);
  }

  // ---- modes -----------------------------------------------------------------------------------

  /// Sets training mode on this module and all descendants (dropout is active in training).
  void train(bool on = true) {
    training_ = on;
    for (auto& [name, m] : children_) m->train(on);
  }
  /// Evaluation mode: `train(false)`.
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- state -----------------------------------------------------------------------------------

  /// Parameters and persistent buffers under their dotted names, in PyTorch's order (per module:
  /// parameters, then buffers, then children). The tensors are detached handles sharing storage
  /// with the module: reading them is free, writing them writes the module.
  StateDict state_dict() const {
    StateDict out;
    collect_state("", out);
    for (auto& [name, t] : out) t = t.detach();
    return out;
  }

  /// Tied weights: each `state_dict()` key whose tensor an earlier key already holds (one tensor
  /// registered under several names, e.g. BERT's MLM decoder sharing the word-embedding matrix),
  /// mapped to that first key. Empty for a model without ties. Hugging Face saves a tied tensor
  /// once, under its first name, and ties the others to it on load (`_tied_weights_keys`):
  /// `load_state_dict` accepts such a dict, and savers skip these keys.
  std::map<std::string, std::string> tied_state_keys() const {
    StateDict own;
    collect_state("", own);
    std::map<std::string, std::string> tied;
    std::unordered_map<const void*, std::string> first;
    for (const auto& [name, t] : own) {
      auto [it, inserted] = first.emplace(t.impl_ptr().get(), name);
      if (!inserted) tied.emplace(name, it->second);
    }
    return tied;
  }

  /// Copies the values of `dict` (any iterable of (name, Tensor<U>) pairs: a `StateDict`, a
  /// `std::map`, an `std::unordered_map`; U may differ from T and is converted) into this module's
  /// parameters and persistent buffers, in place, without recording gradients.
  ///
  /// Everything is checked before anything is copied, so a failed load leaves the module
  /// unchanged. Throws `ember::Error`:
  ///  * for a key present in both whose shapes differ (naming the key and both shapes), even
  ///    when `strict` is false (as PyTorch);
  ///  * when `strict` and keys are missing from `dict` or `dict` has keys the module lacks (the
  ///    message lists both);
  ///  * for a key that appears twice in `dict`.
  /// Tied weights (`tied_state_keys()`): a key whose tensor is tied to an earlier key is not
  /// missing when that key is given (Hugging Face stores a tied matrix once); when both are
  /// given, the first key's value is kept (HF ties after loading).
  /// Returns the missing and unexpected keys (useful with `strict = false`).
  template <class Dict>
  LoadResult load_state_dict(const Dict& dict, bool strict = true) {
    StateDict own = state_dict();
    const std::map<std::string, std::string> tied = tied_state_keys();
    std::unordered_map<std::string, std::size_t> own_index;
    for (std::size_t i = 0; i < own.size(); ++i) own_index.emplace(own[i].first, i);

    LoadResult result;
    std::unordered_set<std::string> given;
    std::vector<std::string> mismatches;
    for (const auto& [key_in, value] : dict) {
      std::string key(key_in);
      EMBER_CHECK(given.insert(key).second, "load_state_dict: key \"", key,
                  "\" appears more than once in the state dict");
      auto it = own_index.find(key);
      if (it == own_index.end()) {
        result.unexpected_keys.push_back(key);
        continue;
      }
      EMBER_CHECK(value.defined(), "load_state_dict: the tensor for \"", key, "\" is undefined");
      const Tensor<T>& dst = own[it->second].second;
      if (value.shape() != dst.shape())
        mismatches.push_back(ember::detail::str_cat("\"", key, "\": the checkpoint has shape ",
                                                    value.shape(), ", the module has shape ",
                                                    dst.shape()));
    }
    // A tied key is loaded through its first key: skip it when that key is given.
    auto through_tie = [&](const std::string& key) {
      auto t = tied.find(key);
      return t != tied.end() && given.count(t->second) > 0;
    };
    for (const auto& [key, t] : own)
      if (!given.count(key) && !through_tie(key)) result.missing_keys.push_back(key);

    EMBER_CHECK(mismatches.empty(), "load_state_dict: size mismatch for ", mismatches.size(),
                " key(s) in ", type_name_, ": ", detail::join_names(mismatches));
    if (strict && !result.ok()) {
      std::string msg = "load_state_dict (strict) failed for " + type_name_ + ":";
      if (!result.missing_keys.empty())
        msg += " missing key(s) [" + detail::join_names(result.missing_keys) + "];";
      if (!result.unexpected_keys.empty())
        msg += " unexpected key(s) [" + detail::join_names(result.unexpected_keys) + "];";
      msg += " pass strict=false to load the matching keys and get the rest in the result";
      throw Error(msg);
    }

    NoGradGuard no_grad;
    for (const auto& [key_in, value] : dict) {
      auto it = own_index.find(std::string(key_in));
      if (it == own_index.end() || through_tie(it->first)) continue;
      Tensor<T> dst = own[it->second].second;  // detached handle sharing the module's storage
      dst.copy_(value);
    }
    return result;
  }

  /// Moves every parameter, buffer (and existing gradient) to `device`. The module's tensor
  /// objects are kept (their storage is swapped), so member handles like `weight` stay valid.
  /// Without the CUDA backend, moving to a CUDA device throws `ember::Error`.
  Module& to(Device device) {
    std::unordered_set<const void*> done;
    apply([&](Module<T>& m) {
      auto move = [&](Tensor<T>& t) {
        if (!done.insert(t.impl_ptr().get()).second || t.device() == device) return;
        Tensor<T> moved = t.detach().to(device);
        auto& impl = *t.impl_ptr();
        impl.storage = moved.storage();
        impl.offset = moved.offset();
        impl.shape = moved.shape();
        impl.strides = moved.strides();
        if (impl.grad) impl.grad = Tensor<T>(impl.grad).to(device).impl_ptr();
      };
      for (auto& [name, p] : m.parameters_) move(p);
      for (auto& b : m.buffers_) move(b.tensor);
    });
    return *this;
  }

  /// Total number of elements over `parameters()` (tied tensors counted once); with
  /// `trainable_only`, only parameters that require grad.
  int64_t num_parameters(bool trainable_only = false) const {
    int64_t n = 0;
    for (const auto& p : parameters())
      if (!trainable_only || p.requires_grad()) n += p.numel();
    return n;
  }

  /// Drops every parameter's gradient (PyTorch's default `set_to_none=True`).
  void zero_grad() {
    for (auto& p : parameters()) p.zero_grad();
  }

  // ---- description -----------------------------------------------------------------------------

  const std::string& type_name() const { return type_name_; }
  /// The arguments shown between the parentheses of `repr()` ("in_features=8, out_features=4").
  virtual std::string extra_repr() const { return ""; }
  /// One-line description: `Linear(in_features=8, out_features=4, bias=true)`.
  std::string repr() const { return type_name_ + "(" + extra_repr() + ")"; }
  /// Prints the module tree like PyTorch's `print(model)`.
  void pretty_print(std::ostream& os, int indent = 0) const {
    os << type_name_ << "(" << extra_repr();
    if (!children_.empty()) {
      os << "\n";
      for (const auto& [name, m] : children_) {
        os << std::string(indent + 2, ' ') << "(" << name << "): ";
        m->pretty_print(os, indent + 2);
        os << "\n";
      }
      os << std::string(indent, ' ');
    }
    os << ")";
  }
  friend std::ostream& operator<<(std::ostream& os, const Module& m) {
    m.pretty_print(os);
    return os;
  }

 private:
  struct Buffer {
    std::string name;
    Tensor<T> tensor;
    bool persistent;
  };

  void check_new_name(const std::string& name, const char* fn) const {
    EMBER_CHECK(!name.empty(), type_name_, ".", fn, ": the name must not be empty");
    EMBER_CHECK(name.find('.') == std::string::npos, type_name_, ".", fn, "(\"", name,
                "\"): a name must not contain '.' (dots separate the levels of a full name)");
    bool used = std::any_of(parameters_.begin(), parameters_.end(),
                            [&](const auto& p) { return p.first == name; }) ||
                std::any_of(buffers_.begin(), buffers_.end(),
                            [&](const Buffer& b) { return b.name == name; }) ||
                std::any_of(children_.begin(), children_.end(),
                            [&](const auto& c) { return c.first == name; });
    EMBER_CHECK(!used, type_name_, ".", fn, "(\"", name,
                "\"): this module already has a parameter, buffer or child with that name");
  }

  static void collect_modules(const std::string& prefix, const Module<T>* m,
                              std::vector<std::pair<std::string, const Module<T>*>>& out,
                              std::unordered_set<const Module<T>*>& seen) {
    if (!seen.insert(m).second) return;
    out.emplace_back(prefix, m);
    for (const auto& [name, c] : m->children_)
      collect_modules(detail::dotted(prefix, name), c.get(), out, seen);
  }

  /// The registered tensors (not detached: their identity tells tied weights apart).
  void collect_state(const std::string& prefix, StateDict& out) const {
    for (const auto& [name, p] : parameters_) out.emplace_back(detail::dotted(prefix, name), p);
    for (const auto& b : buffers_)
      if (b.persistent) out.emplace_back(detail::dotted(prefix, b.name), b.tensor);
    for (const auto& [name, c] : children_) c->collect_state(detail::dotted(prefix, name), out);
  }

  std::string type_name_;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor<T>>> parameters_;
  std::vector<Buffer> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>> children_;
};

/// A list of child modules registered as "0", "1", ... (PyTorch's `nn.ModuleList`), so that a
/// list registered as `layer` gives Hugging Face's `layer.0.…`, `layer.1.…` names.
template <class T>
class ModuleList : public Module<T> {
 public:
  ModuleList() : Module<T>("ModuleList") {}

  /// Appends `module` (registered as child `std::to_string(size())`) and returns it typed.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    auto typed = this->register_module(std::to_string(items_.size()), std::move(module));
    items_.push_back(typed);
    return typed;
  }
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  /// The i-th module (as the base type); throws for an index out of range.
  const std::shared_ptr<Module<T>>& operator[](std::size_t i) const {
    EMBER_CHECK(i < items_.size(), "ModuleList: index ", i, " is out of range for a list of ",
                items_.size(), " module(s)");
    return items_[i];
  }
  /// The i-th module as `M`; throws if it is not an `M`.
  template <class M>
  std::shared_ptr<M> at(std::size_t i) const {
    auto typed = std::dynamic_pointer_cast<M>((*this)[i]);
    EMBER_CHECK(typed != nullptr, "ModuleList: module ", i, " is a ", (*this)[i]->type_name(),
                ", not the requested type");
    return typed;
  }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<Module<T>>> items_;
};

}  // namespace ember::nn
