// ember/optim/lr_scheduler.hpp — learning-rate schedules: a factor λ(step) times each group's base
// learning rate, as PyTorch's torch.optim.lr_scheduler.LambdaLR applies the schedules of Hugging
// Face transformers (src/transformers/optimization.py, 4.44):
//
//   ConstantLR          λ(s) = 1                                       get_constant_schedule
//   ConstantWarmup      λ(s) = s / max(1, W) for s < W, else 1          get_constant_schedule_with_warmup
//   LinearWarmupDecay   λ(s) = s / max(1, W) for s < W,                 get_linear_schedule_with_warmup
//                            max(0, (N − s) / max(1, N − W)) after
//   CosineWarmupDecay   λ(s) = s / max(1, W) for s < W,                 get_cosine_schedule_with_warmup
//                            max(0, ½(1 + cos(π·2c·(s − W)/max(1, N − W)))) after
//   LambdaLR            λ given by the caller
// (W = num_warmup_steps, N = num_training_steps, c = num_cycles, 0.5 by default.) Note that with
// c = 0.5 the cosine rises again past step N, as in transformers (it is not clamped there).
//
// Protocol (PyTorch's): constructing a scheduler records each group's current lr as its base lr
// and sets lr = base·λ(0), so the FIRST optimizer step already uses λ(0) (0 with warmup). Call
// `scheduler.step()` after each `optimizer.step()`: after k calls the groups' lr is base·λ(k).
// All in double, so the lrs equal PyTorch's bit for bit.
//
// `ConstantLR` here is Hugging Face's constant schedule, not torch's ConstantLR (which multiplies
// by a factor for a number of steps).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ember/core/error.hpp>
#include <ember/optim/optimizer.hpp>

namespace ember::optim {

/// Base of the schedulers: the optimizer (by reference: it must outlive the scheduler), each
/// group's base lr and the step count. Derived classes give the factor λ(step) and call
/// `initialize()` at the end of their constructor.
template <class T>
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;

  /// Advances one step and sets every group's lr to base·λ(step). Throws `ember::Error` if the
  /// optimizer's number of groups changed since construction.
  void step() {
    ++last_step_;
    apply();
  }
  /// The lr of each group as last set by this scheduler.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  /// Number of step() calls since construction (0 right after it).
  int64_t last_step() const { return last_step_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  /// The factor λ at `step`.
  virtual double lr_lambda(int64_t step) const = 0;

  /// Scalars for JSON: `last_step` and `base_lr.<g>` per group.
  std::map<std::string, double> state_dict() const {
    std::map<std::string, double> out;
    out["last_step"] = static_cast<double>(last_step_);
    for (std::size_t g = 0; g < base_lrs_.size(); ++g)
      out["base_lr." + std::to_string(g)] = base_lrs_[g];
    return out;
  }
  /// Restores state_dict() and sets the optimizer's lrs for that step (so the order of loading
  /// the optimizer and the scheduler does not matter). Throws `ember::Error` for a missing key,
  /// a negative or non-integer step, or a different number of groups; nothing changes then.
  void load_state_dict(const std::map<std::string, double>& state) {
    auto get = [&](const std::string& key) {
      auto it = state.find(key);
      EMBER_CHECK(it != state.end(), "LRScheduler::load_state_dict: the state has no \"", key,
                  "\"");
      return it->second;
    };
    const double s = get("last_step");
    EMBER_CHECK(s >= 0 && s == std::floor(s) && s < 9.007199254740992e15,
                "LRScheduler::load_state_dict: invalid last_step ", s);
    std::vector<double> base(base_lrs_.size());
    for (std::size_t g = 0; g < base.size(); ++g) {
      base[g] = get("base_lr." + std::to_string(g));
      EMBER_CHECK(base[g] >= 0.0, "LRScheduler::load_state_dict: expected base_lr.", g,
                  " >= 0, found ", base[g]);
    }
    const std::string extra = "base_lr." + std::to_string(base.size());
    EMBER_CHECK(state.count(extra) == 0, "LRScheduler::load_state_dict: the state has more base "
                "lrs than this scheduler's ", base.size(), " parameter groups");
    check_groups();
    base_lrs_ = std::move(base);
    last_step_ = static_cast<int64_t>(s);
    apply();
  }

 protected:
  explicit LRScheduler(Optimizer<T>& optimizer) : optimizer_(&optimizer) {
    for (const auto& g : optimizer.param_groups()) base_lrs_.push_back(*g.lr);
  }

  /// Sets lr = base·λ(0); call at the end of the derived constructor.
  void initialize() { apply(); }

  static void check_steps(const char* who, int64_t warmup, int64_t total) {
    EMBER_CHECK(warmup >= 0, who, ": expected num_warmup_steps >= 0, found ", warmup);
    EMBER_CHECK(total >= 0, who, ": expected num_training_steps >= 0, found ", total);
  }
  static double warmup_factor(int64_t step, int64_t warmup) {
    return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  }

 private:
  void check_groups() const {
    EMBER_CHECK(optimizer_->param_groups().size() == base_lrs_.size(),
                "LRScheduler: the optimizer has ", optimizer_->param_groups().size(),
                " parameter groups, but the scheduler was built for ", base_lrs_.size());
  }
  void apply() {
    check_groups();
    const double f = lr_lambda(last_step_);
    last_lr_.resize(base_lrs_.size());
    auto& groups = optimizer_->param_groups();
    for (std::size_t g = 0; g < base_lrs_.size(); ++g) {
      last_lr_[g] = base_lrs_[g] * f;
      groups[g].lr = last_lr_[g];
    }
  }

  Optimizer<T>* optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  int64_t last_step_ = 0;
};

/// lr = base·λ(step) for a caller-given λ (PyTorch's LambdaLR with one λ for all groups).
template <class T>
class LambdaLR : public LRScheduler<T> {
 public:
  LambdaLR(Optimizer<T>& optimizer, std::function<double(int64_t)> lambda)
      : LRScheduler<T>(optimizer), lambda_(std::move(lambda)) {
    EMBER_CHECK(static_cast<bool>(lambda_), "LambdaLR: the lambda is empty");
    this->initialize();
  }
  double lr_lambda(int64_t step) const override { return lambda_(step); }

 private:
  std::function<double(int64_t)> lambda_;
};

/// Constant lr (Hugging Face's get_constant_schedule).
template <class T>
class ConstantLR : public LRScheduler<T> {
 public:
  explicit ConstantLR(Optimizer<T>& optimizer) : LRScheduler<T>(optimizer) { this->initialize(); }
  double lr_lambda(int64_t) const override { return 1.0; }
};

/// Linear warmup from 0 over `num_warmup_steps`, then constant
/// (get_constant_schedule_with_warmup). Throws `ember::Error` for num_warmup_steps < 0.
template <class T>
class ConstantWarmup : public LRScheduler<T> {
 public:
  ConstantWarmup(Optimizer<T>& optimizer, int64_t num_warmup_steps)
      : LRScheduler<T>(optimizer), warmup_(num_warmup_steps) {
    this->check_steps("ConstantWarmup", warmup_, 0);
    this->initialize();
  }
  double lr_lambda(int64_t step) const override {
    // transformers divides by max(1.0, W): the same value as max(1, W) for integer W.
    return step < warmup_ ? this->warmup_factor(step, warmup_) : 1.0;
  }
  int64_t num_warmup_steps() const { return warmup_; }

 private:
  int64_t warmup_;
};

/// Linear warmup from 0 over `num_warmup_steps`, then linear decay to 0 at `num_training_steps`
/// (get_linear_schedule_with_warmup; 0 after the end). Throws `ember::Error` for negative steps.
template <class T>
class LinearWarmupDecay : public LRScheduler<T> {
 public:
  LinearWarmupDecay(Optimizer<T>& optimizer, int64_t num_warmup_steps, int64_t num_training_steps)
      : LRScheduler<T>(optimizer), warmup_(num_warmup_steps), total_(num_training_steps) {
    this->check_steps("LinearWarmupDecay", warmup_, total_);
    this->initialize();
  }
  double lr_lambda(int64_t step) const override {
    if (step < warmup_) return this->warmup_factor(step, warmup_);
    return std::max(0.0, static_cast<double>(total_ - step) /
                             static_cast<double>(std::max<int64_t>(1, total_ - warmup_)));
  }
  int64_t num_warmup_steps() const { return warmup_; }
  int64_t num_training_steps() const { return total_; }

 private:
  int64_t warmup_;
  int64_t total_;
};

/// Linear warmup, then cosine decay over `num_cycles` periods (0.5: from the base lr to 0 at
/// `num_training_steps`; get_cosine_schedule_with_warmup). Throws `ember::Error` for negative
/// steps or num_cycles < 0.
template <class T>
class CosineWarmupDecay : public LRScheduler<T> {
 public:
  CosineWarmupDecay(Optimizer<T>& optimizer, int64_t num_warmup_steps, int64_t num_training_steps,
                    double num_cycles = 0.5)
      : LRScheduler<T>(optimizer),
        warmup_(num_warmup_steps),
        total_(num_training_steps),
        cycles_(num_cycles) {
    this->check_steps("CosineWarmupDecay", warmup_, total_);
    EMBER_CHECK(cycles_ >= 0.0, "CosineWarmupDecay: expected num_cycles >= 0, found ", cycles_);
    this->initialize();
  }
  double lr_lambda(int64_t step) const override {
    if (step < warmup_) return this->warmup_factor(step, warmup_);
    const double progress = static_cast<double>(step - warmup_) /
                            static_cast<double>(std::max<int64_t>(1, total_ - warmup_));
    constexpr double kPi = 3.141592653589793;  // Python's math.pi
    return std::max(0.0, 0.5 * (1.0 + std::cos(kPi * cycles_ * 2.0 * progress)));
  }
  int64_t num_warmup_steps() const { return warmup_; }
  int64_t num_training_steps() const { return total_; }
  double num_cycles() const { return cycles_; }

 private:
  int64_t warmup_;
  int64_t total_;
  double cycles_;
};

}  // namespace ember::optim
