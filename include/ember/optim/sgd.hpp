// ember/optim/sgd.hpp — stochastic gradient descent with momentum, dampening, Nesterov momentum
// and (L2) weight decay: PyTorch's torch.optim.SGD (1.13, `_single_tensor_sgd`).
//
// For each parameter p with gradient g, with learning rate lr, momentum μ, dampening τ and
// weight decay λ:
//   d = g + λ·p                                  (λ ≠ 0)
//   b = d                       at the first step (μ ≠ 0): the buffer starts as the gradient
//   b = μ·b + (1 − τ)·d         afterwards
//   d = d + μ·b  (nesterov)  or  d = b
//   p = p − lr·d
// Nesterov momentum follows Sutskever et al. (2013) as PyTorch formulates it. The fused kernel is
// the `sgd_update` kernel (one pass over p, g, b). State per parameter: `momentum_buffer`
// (only when μ ≠ 0), created at the parameter's first update.
#pragma once

#include <ember/backend/backend.hpp>
#include <ember/optim/optimizer.hpp>

namespace ember::optim {

/// SGD hyperparameters, with chainable setters: `SGDOptions(0.1).momentum(0.9).nesterov(true)`.
class SGDOptions {
 public:
  /// `lr` is required (PyTorch 1.13 has no default either).
  explicit SGDOptions(double lr) : lr_(lr) {}

  SGDOptions& lr(double v) { lr_ = v; return *this; }
  SGDOptions& momentum(double v) { momentum_ = v; return *this; }
  SGDOptions& dampening(double v) { dampening_ = v; return *this; }
  SGDOptions& weight_decay(double v) { weight_decay_ = v; return *this; }
  SGDOptions& nesterov(bool v) { nesterov_ = v; return *this; }

  double lr() const { return lr_; }
  double momentum() const { return momentum_; }
  double dampening() const { return dampening_; }
  double weight_decay() const { return weight_decay_; }
  bool nesterov() const { return nesterov_; }

 private:
  double lr_;
  double momentum_ = 0.0;
  double dampening_ = 0.0;
  double weight_decay_ = 0.0;
  bool nesterov_ = false;
};

/// torch.optim.SGD. Throws `ember::Error` at construction for lr < 0, momentum < 0,
/// weight_decay < 0, or nesterov without momentum > 0 and dampening 0.
template <class T>
class SGD : public Optimizer<T> {
 public:
  SGD(std::vector<Tensor<T>> params, const SGDOptions& options)
      : SGD(std::vector<ParamGroup<T>>{ParamGroup<T>{std::move(params), {}, {}}}, options) {}
  SGD(std::vector<ParamGroup<T>> groups, const SGDOptions& options)
      : Optimizer<T>("SGD", options.lr(), options.weight_decay()), options_(options) {
    check(options_, "SGD");
    this->init_groups(std::move(groups));
  }

  void step() override;
  const SGDOptions& options() const { return options_; }

 protected:
  int num_buffers() const override { return options_.momentum() != 0.0 ? 1 : 0; }
  const char* buffer_name(int) const override { return "momentum_buffer"; }
  void save_hyperparameters(std::map<std::string, double>& out) const override {
    out["momentum"] = options_.momentum();
    out["dampening"] = options_.dampening();
    out["nesterov"] = options_.nesterov() ? 1.0 : 0.0;
  }
  typename Optimizer<T>::PreparedLoad prepare_hyperparameters(
      const std::map<std::string, double>& in) override {
    SGDOptions o = options_;
    o.momentum(this->get_scalar(in, "momentum"))
        .dampening(this->get_scalar(in, "dampening"))
        .nesterov(this->get_scalar(in, "nesterov") != 0.0);
    check(o, "SGD::load_state_dict");
    return {o.momentum() != 0.0 ? 1 : 0, [this, o] { options_ = o; }};
  }

 private:
  static void check(const SGDOptions& o, const char* who) {
    EMBER_CHECK(o.lr() >= 0.0, who, ": expected lr >= 0, found ", o.lr());
    EMBER_CHECK(o.momentum() >= 0.0, who, ": expected momentum >= 0, found ", o.momentum());
    EMBER_CHECK(o.weight_decay() >= 0.0, who, ": expected weight_decay >= 0, found ",
                o.weight_decay());
    EMBER_CHECK(!o.nesterov() || (o.momentum() > 0.0 && o.dampening() == 0.0), who,
                ": nesterov momentum requires momentum > 0 and dampening 0, found momentum ",
                o.momentum(), " and dampening ", o.dampening());
  }

  SGDOptions options_;
};

template <class T>
void SGD<T>::step() {
  const double mu = options_.momentum();
  this->for_each_param_with_grad(
      "SGD::step", [&](const ParamGroup<T>& group, typename Optimizer<T>::ParamState& st,
                       Tensor<T>& p, const Tensor<T>& g) {
        backend::SgdCoeffs<T> c{T(-*group.lr),
                                T(*group.weight_decay),
                                T(mu),
                                T(1.0 - options_.dampening()),
                                *group.weight_decay != 0.0,
                                mu != 0.0,
                                options_.nesterov()};
        T* buf = nullptr;
        bool first = false;
        if (mu != 0.0) {
          if (!st.buffers[0].defined()) {
            st.buffers[0] = Tensor<T>::empty(p.shape(), p.device());
            first = true;
          }
          buf = st.buffers[0].data();
        }
        backend::kernels<T>(p.device(), "SGD::step")
            .sgd_update(p.numel(), p.data(), g.data(), buf, first, c);
        ++st.step;
      });
}

}  // namespace ember::optim
