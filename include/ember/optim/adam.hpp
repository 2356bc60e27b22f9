// ember/optim/adam.hpp — Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, "Decoupled
// Weight Decay Regularization", 2019), as PyTorch 1.13 computes them (torch/optim/adam.py and
// adamw.py, `_single_tensor_adam[w]`).
//
// For each parameter p with gradient g, at its t-th update (t = 1, 2, ...), with learning rate
// lr, betas (β1, β2), eps ε and weight decay λ:
//   Adam:   g ← g + λ·p                       (L2 regularization folded into the gradient)
//   AdamW:  p ← p·(1 − lr·λ)                  (decoupled decay, before the Adam update)
//   m ← β1·m + (1 − β1)·g                     (exp_avg)
//   v ← β2·v + (1 − β2)·g²                    (exp_avg_sq)
//   v̂ ← max(v̂, v)                             (max_exp_avg_sq, amsgrad only; Reddi et al. 2018)
//   denom = sqrt(v or v̂)/sqrt(1 − β2^t) + ε   (ε added after the bias correction, as PyTorch)
//   p ← p − lr/(1 − β1^t) · m/denom
// The bias corrections and the step size are computed in double from the integer t, as PyTorch
// does in Python; the element arithmetic runs in T. The fused kernel is `adam_update_multi`
// (backend/kernel_list.hpp): one pass over each parameter's p, g, m, v — on the CPU tensor by
// tensor, on CUDA one multi-tensor launch for all the parameters of a group
// (backend/cuda/multi_tensor.cuh), with the same per-element arithmetic and the same bits.
// State per parameter: `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq` with amsgrad), zero-filled
// at its first update, and the step count t.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include <ember/backend/backend.hpp>
#include <ember/optim/optimizer.hpp>

namespace ember::optim {

namespace detail {
/// The options shared by Adam and AdamW; `Derived` makes the setters return the derived type.
template <class Derived>
class AdamOptionsBase {
 public:
  Derived& lr(double v) { lr_ = v; return self(); }
  Derived& betas(double beta1, double beta2) { beta1_ = beta1; beta2_ = beta2; return self(); }
  Derived& eps(double v) { eps_ = v; return self(); }
  Derived& weight_decay(double v) { weight_decay_ = v; return self(); }
  Derived& amsgrad(bool v) { amsgrad_ = v; return self(); }

  double lr() const { return lr_; }
  double beta1() const { return beta1_; }
  double beta2() const { return beta2_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  bool amsgrad() const { return amsgrad_; }

 protected:
  AdamOptionsBase(double lr, double weight_decay) : lr_(lr), weight_decay_(weight_decay) {}

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  double lr_;
  double beta1_ = 0.9;
  double beta2_ = 0.999;
  double eps_ = 1e-8;
  double weight_decay_;
  bool amsgrad_ = false;
};
}  // namespace detail

/// Adam hyperparameters: `AdamOptions(1e-3).betas(0.9, 0.999).eps(1e-8).weight_decay(0)`.
/// Defaults as PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, amsgrad false.
class AdamOptions : public detail::AdamOptionsBase<AdamOptions> {
 public:
  explicit AdamOptions(double lr = 1e-3) : AdamOptionsBase(lr, 0.0) {}
};

/// AdamW hyperparameters: `AdamWOptions(2e-5).betas(0.9, 0.999).eps(1e-8).weight_decay(0.01)`.
/// Defaults as PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2, amsgrad false.
class AdamWOptions : public detail::AdamOptionsBase<AdamWOptions> {
 public:
  explicit AdamWOptions(double lr = 1e-3) : AdamOptionsBase(lr, 1e-2) {}
};

namespace detail {
/// Adam and AdamW differ only in where the weight decay goes (`Decoupled`).
template <class T, class Options, bool Decoupled>
class AdamImpl : public Optimizer<T> {
 public:
  AdamImpl(std::vector<ParamGroup<T>> groups, const Options& options)
      : Optimizer<T>(Decoupled ? "AdamW" : "Adam", options.lr(), options.weight_decay()),
        options_(options) {
    check(options_, Decoupled ? "AdamW" : "Adam");
    this->init_groups(std::move(groups));
  }

  void step() override;
  const Options& options() const { return options_; }

 protected:
  int num_buffers() const override { return options_.amsgrad() ? 3 : 2; }
  const char* buffer_name(int k) const override {
    static const char* const names[3] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    return names[k];
  }
  void save_hyperparameters(std::map<std::string, double>& out) const override {
    out["beta1"] = options_.beta1();
    out["beta2"] = options_.beta2();
    out["eps"] = options_.eps();
    out["amsgrad"] = options_.amsgrad() ? 1.0 : 0.0;
  }
  typename Optimizer<T>::PreparedLoad prepare_hyperparameters(
      const std::map<std::string, double>& in) override {
    Options o = options_;
    o.betas(this->get_scalar(in, "beta1"), this->get_scalar(in, "beta2"))
        .eps(this->get_scalar(in, "eps"))
        .amsgrad(this->get_scalar(in, "amsgrad") != 0.0);
    check(o, Decoupled ? "AdamW::load_state_dict" : "Adam::load_state_dict");
    return {o.amsgrad() ? 3 : 2, [this, o] { options_ = o; }};
  }

 private:
  static void check(const Options& o, const char* who) {
    EMBER_CHECK(o.lr() >= 0.0, who, ": expected lr >= 0, found ", o.lr());
    EMBER_CHECK(o.eps() >= 0.0, who, ": expected eps >= 0, found ", o.eps());
    EMBER_CHECK(o.beta1() >= 0.0 && o.beta1() < 1.0 && o.beta2() >= 0.0 && o.beta2() < 1.0, who,
                ": expected betas in [0, 1), found (", o.beta1(), ", ", o.beta2(), ")");
    EMBER_CHECK(o.weight_decay() >= 0.0, who, ": expected weight_decay >= 0, found ",
                o.weight_decay());
  }

  Options options_;
  // The work of one step (see step()); members so that a steady step reuses their memory.
  std::vector<backend::AdamTensor<T>> tensors_;
  std::vector<backend::AdamSegment<T>> segments_;
  std::vector<Tensor<T>> grads_;
};

template <class T, class Options, bool Decoupled>
void AdamImpl<T, Options, Decoupled>::step() {
  const char* op = Decoupled ? "AdamW::step" : "Adam::step";
  const double beta1 = options_.beta1(), beta2 = options_.beta2(), eps = options_.eps();
  const bool amsgrad = options_.amsgrad();
  // Parameters are collected and updated by one adam_update_multi call per run of parameters on
  // one device, in segments: a run of parameters of one group at the same step count (in
  // practice the whole group), since they share the coefficients.
  tensors_.clear();
  segments_.clear();
  grads_.clear();
  const ParamGroup<T>* segment_group = nullptr;
  double segment_t = 0.0;
  Device device = Device::cpu();
  auto launch = [&] {
    if (!tensors_.empty())
      backend::kernels<T>(device, op)
          .adam_update_multi(tensors_.data(), static_cast<int64_t>(tensors_.size()),
                             segments_.data(), static_cast<int64_t>(segments_.size()));
    tensors_.clear();
    segments_.clear();
    grads_.clear();
  };
  auto update = [&](const ParamGroup<T>& group, typename Optimizer<T>::ParamState& st,
                    Tensor<T>& p, const Tensor<T>& g) {
    for (int b = 0; b < (amsgrad ? 3 : 2); ++b)
      if (!st.buffers[b].defined()) st.buffers[b] = zeros<T>(p.shape(), p.device());
    const double t = static_cast<double>(++st.step);
    const auto c = backend::AdamCoeffs<T>::make(*group.lr, beta1, beta2, eps,
                                                *group.weight_decay, Decoupled, amsgrad, t);
    T* vmax = amsgrad ? st.buffers[2].data() : static_cast<T*>(nullptr);
    if (!tensors_.empty() && p.device() != device) launch();
    device = p.device();
    const auto n = static_cast<int64_t>(tensors_.size());
    if (segments_.empty() || segment_group != &group || segment_t != t) {
      segments_.push_back({n, n, c});
      segment_group = &group;
      segment_t = t;
    }
    tensors_.push_back({p.data(), g.data(), st.buffers[0].data(), st.buffers[1].data(), vmax,
                        p.numel()});
    segments_.back().end = n + 1;
    grads_.push_back(g);  // may be a contiguous copy: it must live until the launch
  };
  try {
    this->for_each_param_with_grad(op, update);
  } catch (...) {
    launch();  // as with per-parameter updates, the parameters before the failing one advance
    throw;
  }
  launch();
}
}  // namespace detail

/// torch.optim.Adam: weight decay is L2 regularization added to the gradient. Throws
/// `ember::Error` at construction for lr < 0, eps < 0, betas outside [0, 1), weight_decay < 0.
template <class T>
class Adam : public detail::AdamImpl<T, AdamOptions, false> {
 public:
  Adam(std::vector<ParamGroup<T>> groups, const AdamOptions& options = AdamOptions())
      : detail::AdamImpl<T, AdamOptions, false>(std::move(groups), options) {}
  Adam(std::vector<Tensor<T>> params, const AdamOptions& options = AdamOptions())
      : Adam(std::vector<ParamGroup<T>>{ParamGroup<T>{std::move(params), {}, {}}}, options) {}
};

/// torch.optim.AdamW: decoupled weight decay p ← p·(1 − lr·λ) before the Adam update (the
/// optimizer of BERT fine-tuning). Errors as Adam.
template <class T>
class AdamW : public detail::AdamImpl<T, AdamWOptions, true> {
 public:
  AdamW(std::vector<ParamGroup<T>> groups, const AdamWOptions& options = AdamWOptions())
      : detail::AdamImpl<T, AdamWOptions, true>(std::move(groups), options) {}
  AdamW(std::vector<Tensor<T>> params, const AdamWOptions& options = AdamWOptions())
      : AdamW(std::vector<ParamGroup<T>>{ParamGroup<T>{std::move(params), {}, {}}}, options) {}
};

}  // namespace ember::optim
