// ember/optim/optimizer.hpp — `Optimizer<T>`, the base of ember's optimizers: parameter groups,
// zero_grad(), per-parameter state, and state_dict()/load_state_dict() for checkpoints; plus
// `bert_param_groups`, the decay / no-decay split of the BERT fine-tuning recipe.
//
// The model is PyTorch's torch.optim.Optimizer (1.13):
//  * An optimizer holds parameter groups. Each group has its own learning rate and weight decay
//    (a group that leaves them unset takes the optimizer's defaults, from its options struct);
//    the other hyperparameters (betas, eps, momentum, ...) are the optimizer's, shared by all
//    groups. (PyTorch lets every hyperparameter vary per group; in practice lr and weight_decay
//    are the ones that do, and a typed options struct reads better than a dictionary.)
//  * `step()` updates, in place and under NoGradGuard, every parameter that has a gradient; a
//    parameter without one (`grad()` undefined) is skipped and its state does not advance.
//    The update bumps the parameter's storage version, so a backward graph that saved the old
//    value refuses to run instead of computing wrong gradients.
//  * Per-parameter state (step count, momentum buffer, exp_avg, exp_avg_sq, ...) is created at
//    the parameter's first update and then reused: a steady step allocates nothing.
//  * `zero_grad()` drops the gradients (PyTorch 2's default `set_to_none=True`).
//
// Checkpoints. `state_dict()` returns an `OptimizerState<T>`: named tensors (state buffers, to be
// written to safetensors) and named scalars (to be written to JSON). Parameters are numbered
// 0..N-1 across the groups in order, as PyTorch numbers them. The keys:
//   tensors  state.<i>.<buffer>          e.g. state.3.exp_avg, state.0.momentum_buffer
//   scalars  state.<i>.step              updates applied to parameter i (absent: no state yet)
//            group.<g>.lr, group.<g>.weight_decay, group.<g>.num_params
//            num_groups, num_params
//            the optimizer's own hyperparameters (momentum, beta1, eps, amsgrad, ...)
// `load_state_dict()` checks everything before it changes anything (a failed load leaves the
// optimizer as it was), and restores the hyperparameters too, as PyTorch does.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <ember/autograd/grad_mode.hpp>
#include <ember/core/error.hpp>
#include <ember/nn/layer_norm.hpp>
#include <ember/nn/module.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::optim {

// ================================================================================================
// Synopsis
// ================================================================================================

/// A set of parameters sharing a learning rate and a weight decay. Unset values take the
/// optimizer's defaults when the group is added; in the optimizer's `param_groups()` both are
/// always set.
template <class T>
struct ParamGroup {
  std::vector<Tensor<T>> params;
  std::optional<double> lr;            ///< learning rate (>= 0)
  std::optional<double> weight_decay;  ///< weight decay (>= 0)
};

/// What `Optimizer::state_dict()` returns: tensors for safetensors, scalars for JSON.
template <class T>
struct OptimizerState {
  std::vector<std::pair<std::string, Tensor<T>>> tensors;
  std::map<std::string, double> scalars;

  /// The tensor named `name`, or nullptr.
  const Tensor<T>* find_tensor(const std::string& name) const {
    for (const auto& [n, t] : tensors)
      if (n == name) return &t;
    return nullptr;
  }
};

/// Base of SGD, Adam and AdamW. Not copyable (the state buffers would be shared).
template <class T>
class Optimizer {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "ember::optim::Optimizer<T>: T must be float or double");

 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter that has a gradient. Throws `ember::Error` if a gradient's
  /// shape differs from its parameter's, or a parameter is not on the CPU.
  virtual void step() = 0;

  /// Drops every parameter's gradient (`grad()` becomes undefined; set_to_none semantics).
  void zero_grad();

  /// Adds a group (unset lr / weight_decay take the optimizer's defaults). Throws `ember::Error`
  /// for lr < 0, weight_decay < 0, an undefined, non-leaf or non-contiguous parameter, or a
  /// parameter that is already in this optimizer.
  void add_param_group(ParamGroup<T> group);

  /// The groups; lr and weight_decay may be changed between steps (schedulers do).
  std::vector<ParamGroup<T>>& param_groups() { return groups_; }
  const std::vector<ParamGroup<T>>& param_groups() const { return groups_; }
  /// Learning rate of group `g`.
  double lr(std::size_t g = 0) const;
  /// Sets the learning rate of every group.
  void set_lr(double lr);

  /// Number of parameters over all groups.
  int64_t num_params() const { return static_cast<int64_t>(state_.size()); }
  /// Updates applied so far to parameter `i` (numbered across groups in order).
  int64_t step_count(int64_t i) const;
  /// "SGD", "Adam" or "AdamW" (used in error messages).
  const std::string& name() const { return name_; }

  /// A copy of the state and hyperparameters (keys in the header comment). The tensors are
  /// clones: later steps do not change them.
  OptimizerState<T> state_dict() const;
  /// Restores what state_dict() returned. Throws `ember::Error` (naming both sides) when the
  /// number of groups or parameters differs, a state tensor's shape differs from its parameter's,
  /// a key is missing or unexpected, or a hyperparameter is invalid; nothing changes then.
  void load_state_dict(const OptimizerState<T>& state);

 protected:
  static constexpr int kMaxBuffers = 3;
  /// Per-parameter state: number of updates and up to three buffers of the parameter's shape.
  struct ParamState {
    int64_t step = 0;
    Tensor<T> buffers[kMaxBuffers];
  };
  /// What a derived optimizer says about a state it is asked to load: how many buffers each
  /// parameter with state must have, and how to apply the hyperparameters once all checks pass.
  struct PreparedLoad {
    int num_buffers = 0;
    std::function<void()> commit;
  };

  Optimizer(std::string name, double default_lr, double default_weight_decay)
      : name_(std::move(name)), default_lr_(default_lr), default_wd_(default_weight_decay) {}
  /// Adds `groups`; throws `ember::Error` if there are no parameters at all.
  void init_groups(std::vector<ParamGroup<T>> groups);

  /// Number of state buffers per parameter under the current hyperparameters.
  virtual int num_buffers() const = 0;
  /// Name of buffer k (`exp_avg`, ...); the same for every hyperparameter setting.
  virtual const char* buffer_name(int k) const = 0;
  /// Writes the optimizer-wide hyperparameters.
  virtual void save_hyperparameters(std::map<std::string, double>& out) const = 0;
  /// Reads and validates them (throwing on a missing or invalid value) without applying them.
  virtual PreparedLoad prepare_hyperparameters(const std::map<std::string, double>& in) = 0;

  /// Calls `f(group, state, param, grad)` for every parameter with a gradient, under
  /// NoGradGuard; `grad` is contiguous and of the parameter's shape. Bumps each updated
  /// parameter's version afterwards. `op` names the caller in errors.
  template <class F>
  void for_each_param_with_grad(const char* op, F&& f);

  /// Reads scalar `key` from `in`, or throws naming the optimizer and the key.
  double get_scalar(const std::map<std::string, double>& in, const std::string& key) const;

  std::vector<ParamState> state_;  // by parameter index

 private:
  std::vector<ParamGroup<T>> groups_;
  std::string name_;
  double default_lr_;
  double default_wd_;
};

/// Splits named parameters into the two groups of the BERT fine-tuning recipe (Hugging Face's
/// `no_decay = ["bias", "LayerNorm.weight"]`): group 0 holds the parameters whose name contains
/// none of `no_decay` (weight decay `weight_decay`), group 1 the others (weight decay 0). Both
/// leave lr unset (the optimizer's). Parameters with requires_grad false are left out, as the
/// Hugging Face Trainer leaves them out. Both groups are returned even if one is empty, so group
/// indices are stable. Throws `ember::Error` for weight_decay < 0.
///
///   auto groups = optim::bert_param_groups(model.named_parameters(), 0.01);
///   optim::AdamW<float> opt(groups, optim::AdamWOptions(2e-5));
template <class T>
std::vector<ParamGroup<T>> bert_param_groups(
    const std::vector<std::pair<std::string, Tensor<T>>>& named_parameters, double weight_decay,
    const std::vector<std::string>& no_decay = {"bias", "LayerNorm.weight"});

/// The same split decided by role, as Hugging Face's Trainer decides it
/// (`get_decay_parameter_names`: every parameter of a normalization layer, and every bias, gets
/// no decay): the parameters of every `nn::LayerNorm` of `model` — whatever it is called
/// (`LayerNorm`, `ln_f`, `layer_norm`) — and every parameter registered under the name `bias`
/// go to group 1 (weight decay 0), the others to group 0 (`weight_decay`), in
/// `model.named_parameters()` order. `no_decay`: further name substrings to exempt (the
/// name-based override). Throws `ember::Error` for weight_decay < 0.
///
///   optim::AdamW<float> opt(optim::bert_param_groups(*model, 0.01), optim::AdamWOptions(2e-5));
template <class T>
std::vector<ParamGroup<T>> bert_param_groups(const nn::Module<T>& model, double weight_decay,
                                             const std::vector<std::string>& no_decay = {});

// ================================================================================================
// Implementation
// ================================================================================================

namespace detail {
inline std::string counts_str(const std::vector<int64_t>& v) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ']';
  return os.str();
}
}  // namespace detail

template <class T>
void Optimizer<T>::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.zero_grad();
}

template <class T>
void Optimizer<T>::add_param_group(ParamGroup<T> group) {
  if (!group.lr) group.lr = default_lr_;
  if (!group.weight_decay) group.weight_decay = default_wd_;
  const std::size_t gi = groups_.size();
  EMBER_CHECK(*group.lr >= 0.0, name_, ": expected lr >= 0 for parameter group ", gi, ", found ",
              *group.lr);
  EMBER_CHECK(*group.weight_decay >= 0.0, name_, ": expected weight_decay >= 0 for parameter group ",
              gi, ", found ", *group.weight_decay);
  std::set<const void*> seen;
  for (const auto& g : groups_)
    for (const auto& p : g.params) seen.insert(p.impl_ptr().get());
  for (std::size_t j = 0; j < group.params.size(); ++j) {
    const Tensor<T>& p = group.params[j];
    EMBER_CHECK(p.defined(), name_, ": parameter ", j, " of group ", gi, " is an undefined tensor");
    EMBER_CHECK(p.is_leaf(), name_, ": cannot optimize a non-leaf tensor (parameter ", j,
                " of group ", gi, ", shape ", p.shape(), "); pass the leaf or detach() it");
    EMBER_CHECK(p.is_contiguous(), name_, ": parameter ", j, " of group ", gi, " (shape ",
                p.shape(), ", strides ", p.strides(), ") is not contiguous");
    EMBER_CHECK(seen.insert(p.impl_ptr().get()).second, name_, ": parameter ", j, " of group ", gi,
                " (shape ", p.shape(), ") appears more than once in the parameter groups");
  }
  state_.resize(state_.size() + group.params.size());
  groups_.push_back(std::move(group));
}

template <class T>
void Optimizer<T>::init_groups(std::vector<ParamGroup<T>> groups) {
  int64_t n = 0;
  for (const auto& g : groups) n += static_cast<int64_t>(g.params.size());
  EMBER_CHECK(n > 0, name_, ": got an empty parameter list");
  for (auto& g : groups) add_param_group(std::move(g));
}

template <class T>
double Optimizer<T>::lr(std::size_t g) const {
  EMBER_CHECK(g < groups_.size(), name_, ".lr: group ", g, " does not exist (", groups_.size(),
              " groups)");
  return *groups_[g].lr;
}

template <class T>
void Optimizer<T>::set_lr(double lr) {
  EMBER_CHECK(lr >= 0.0, name_, ".set_lr: expected lr >= 0, found ", lr);
  for (auto& g : groups_) g.lr = lr;
}

template <class T>
int64_t Optimizer<T>::step_count(int64_t i) const {
  EMBER_CHECK(i >= 0 && i < num_params(), name_, ".step_count: parameter ", i,
              " does not exist (", num_params(), " parameters)");
  return state_[i].step;
}

template <class T>
template <class F>
void Optimizer<T>::for_each_param_with_grad(const char* op, F&& f) {
  NoGradGuard no_grad;
  std::size_t index = 0;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    ParamGroup<T>& group = groups_[gi];
    for (Tensor<T>& p : group.params) {
      ParamState& st = state_[index++];
      Tensor<T> g = p.grad();
      if (!g.defined()) continue;
      EMBER_CHECK(p.device() == g.device(), op, ": parameter ", index - 1, " is on ", p.device(),
                  " but its gradient is on ", g.device());
      EMBER_CHECK(g.shape() == p.shape(), op, ": parameter ", index - 1, " has shape ", p.shape(),
                  " but its gradient has shape ", g.shape());
      if (!g.is_contiguous()) g = g.contiguous();
      f(static_cast<const ParamGroup<T>&>(group), st, p, static_cast<const Tensor<T>&>(g));
      p.storage()->bump_version();
    }
  }
}

template <class T>
double Optimizer<T>::get_scalar(const std::map<std::string, double>& in,
                                const std::string& key) const {
  auto it = in.find(key);
  EMBER_CHECK(it != in.end(), name_, "::load_state_dict: the state has no scalar \"", key,
              "\" (was it saved by another kind of optimizer?)");
  return it->second;
}

template <class T>
OptimizerState<T> Optimizer<T>::state_dict() const {
  NoGradGuard no_grad;
  OptimizerState<T> out;
  out.scalars["num_groups"] = static_cast<double>(groups_.size());
  out.scalars["num_params"] = static_cast<double>(num_params());
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const std::string k = "group." + std::to_string(g) + ".";
    out.scalars[k + "lr"] = *groups_[g].lr;
    out.scalars[k + "weight_decay"] = *groups_[g].weight_decay;
    out.scalars[k + "num_params"] = static_cast<double>(groups_[g].params.size());
  }
  save_hyperparameters(out.scalars);
  for (std::size_t i = 0; i < state_.size(); ++i) {
    const ParamState& st = state_[i];
    if (st.step == 0) continue;
    const std::string k = "state." + std::to_string(i) + ".";
    out.scalars[k + "step"] = static_cast<double>(st.step);
    for (int b = 0; b < kMaxBuffers; ++b)
      if (st.buffers[b].defined()) out.tensors.emplace_back(k + buffer_name(b), st.buffers[b].clone());
  }
  return out;
}

template <class T>
void Optimizer<T>::load_state_dict(const OptimizerState<T>& state) {
  const std::string who = name_ + "::load_state_dict";
  const auto& sc = state.scalars;

  // 1. Structure: the same number of groups, and of parameters in each.
  std::vector<int64_t> mine, theirs;
  for (const auto& g : groups_) mine.push_back(static_cast<int64_t>(g.params.size()));
  const double ng = get_scalar(sc, "num_groups");
  EMBER_CHECK(ng >= 0 && ng == std::floor(ng) && ng < 1e9, who, ": invalid num_groups ", ng);
  for (int64_t g = 0; g < static_cast<int64_t>(ng); ++g)
    theirs.push_back(static_cast<int64_t>(get_scalar(sc, "group." + std::to_string(g) + ".num_params")));
  int64_t total = 0;
  for (int64_t c : theirs) total += c;
  EMBER_CHECK(theirs == mine, who, ": the state has ", theirs.size(), " parameter groups with ",
              total, " parameters ", detail::counts_str(theirs), ", but this optimizer has ",
              mine.size(), " groups with ", num_params(), " parameters ", detail::counts_str(mine));
  EMBER_CHECK(get_scalar(sc, "num_params") == static_cast<double>(num_params()), who,
              ": the state says num_params = ", get_scalar(sc, "num_params"), ", but this optimizer has ",
              num_params(), " parameters");

  // 2. Hyperparameters.
  std::vector<std::pair<double, double>> group_hp;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const std::string k = "group." + std::to_string(g) + ".";
    double lr = get_scalar(sc, k + "lr"), wd = get_scalar(sc, k + "weight_decay");
    EMBER_CHECK(lr >= 0.0, who, ": expected lr >= 0 for group ", g, ", found ", lr);
    EMBER_CHECK(wd >= 0.0, who, ": expected weight_decay >= 0 for group ", g, ", found ", wd);
    group_hp.emplace_back(lr, wd);
  }
  PreparedLoad prepared = prepare_hyperparameters(sc);

  // 3. Per-parameter state: steps and buffers, each of its parameter's shape.
  std::vector<const Tensor<T>*> params;
  for (const auto& g : groups_)
    for (const auto& p : g.params) params.push_back(&p);
  std::set<std::string> consumed;
  std::vector<int64_t> steps(params.size(), 0);
  std::vector<std::array<const Tensor<T>*, kMaxBuffers>> bufs(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::string k = "state." + std::to_string(i) + ".";
    bufs[i].fill(nullptr);
    auto it = sc.find(k + "step");
    if (it == sc.end()) continue;
    const double s = it->second;
    EMBER_CHECK(s >= 0 && s == std::floor(s) && s < 9.007199254740992e15, who, ": invalid ", k,
                "step = ", s);
    steps[i] = static_cast<int64_t>(s);
    if (steps[i] == 0) continue;
    for (int b = 0; b < prepared.num_buffers; ++b) {
      const std::string key = k + buffer_name(b);
      const Tensor<T>* t = state.find_tensor(key);
      EMBER_CHECK(t != nullptr && t->defined(), who, ": parameter ", i, " has ", k,
                  "step = ", steps[i], " but the state has no tensor \"", key, "\"");
      EMBER_CHECK(t->shape() == params[i]->shape(), who, ": \"", key, "\" has shape ", t->shape(),
                  " but parameter ", i, " has shape ", params[i]->shape());
      bufs[i][b] = t;
      consumed.insert(key);
    }
  }
  for (const auto& [key, t] : state.tensors)
    EMBER_CHECK(consumed.count(key) != 0, who, ": unexpected tensor \"", key, "\" (shape ",
                t.defined() ? t.shape() : Shape{}, ") in the state of a ", name_, " with ",
                num_params(), " parameters");

  // 4. Commit (nothing below throws on valid input).
  NoGradGuard no_grad;
  std::vector<ParamState> fresh(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    fresh[i].step = steps[i];
    for (int b = 0; b < kMaxBuffers; ++b)
      if (bufs[i][b] != nullptr) fresh[i].buffers[b] = bufs[i][b]->detach().to(params[i]->device()).clone();
  }
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].lr = group_hp[g].first;
    groups_[g].weight_decay = group_hp[g].second;
  }
  if (prepared.commit) prepared.commit();
  state_ = std::move(fresh);
}

template <class T>
std::vector<ParamGroup<T>> bert_param_groups(
    const std::vector<std::pair<std::string, Tensor<T>>>& named_parameters, double weight_decay,
    const std::vector<std::string>& no_decay) {
  EMBER_CHECK(weight_decay >= 0.0, "bert_param_groups: expected weight_decay >= 0, found ",
              weight_decay);
  std::vector<ParamGroup<T>> groups(2);
  groups[0].weight_decay = weight_decay;
  groups[1].weight_decay = 0.0;
  for (const auto& [name, p] : named_parameters) {
    if (!p.defined() || !p.requires_grad()) continue;
    bool exempt = false;
    for (const auto& nd : no_decay) exempt = exempt || name.find(nd) != std::string::npos;
    groups[exempt ? 1 : 0].params.push_back(p);
  }
  return groups;
}

template <class T>
std::vector<ParamGroup<T>> bert_param_groups(const nn::Module<T>& model, double weight_decay,
                                             const std::vector<std::string>& no_decay) {
  // The parameters exempt by role: a normalization module's, and those registered as "bias".
  std::vector<Tensor<T>> exempt;
  for (const auto& [prefix, m] : model.named_modules()) {
    const bool norm = dynamic_cast<const nn::LayerNorm<T>*>(m) != nullptr;
    for (const auto& [name, p] : m->named_parameters(/*recurse=*/false))
      if (norm || name == "bias") exempt.push_back(p);
  }
  EMBER_CHECK(weight_decay >= 0.0, "bert_param_groups: expected weight_decay >= 0, found ",
              weight_decay);
  std::vector<ParamGroup<T>> groups(2);
  groups[0].weight_decay = weight_decay;
  groups[1].weight_decay = 0.0;
  const std::vector<std::pair<std::string, Tensor<T>>> named = model.named_parameters();
  for (const auto& [name, p] : named) {
    if (!p.defined() || !p.requires_grad()) continue;
    bool no = false;
    for (const Tensor<T>& e : exempt) no = no || e.is_same(p);
    for (const auto& nd : no_decay) no = no || name.find(nd) != std::string::npos;
    groups[no ? 1 : 0].params.push_back(p);
  }
  return groups;
}

}  // namespace ember::optim
