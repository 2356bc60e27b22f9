// ember/nn/sparsity.hpp — unstructured magnitude pruning during training with the gradual
// sparsity schedule of Zhu & Gupta, "To prune, or not to prune: exploring the efficacy of
// pruning for model compression" (2017), §3, eq. 1:
//   s_t = s_f + (s_i − s_f) · (1 − (t − t_0) / (t_end − t_0))³      for t_0 ≤ t ≤ t_end
// (s_i before t_0, s_f after t_end). Every `frequency` steps in [t_0, t_end] each weight tensor's
// mask is recomputed so that the fraction s_t of its entries with the smallest |w| is zero (layer
// by layer, as the paper); between updates the masks stay fixed, and `step` multiplies every
// weight by its mask after each optimizer step, so a pruned weight stays exactly zero even though
// AdamW's momentum and weight decay would move it. Weights already at zero are the smallest, so a
// pruned weight is never revived. The weights stay dense tensors: this saves no time or memory
// without sparse kernels (docs/compression.md); it shows how much accuracy a sparsity costs.
#pragma once

#include <ember/nn/module.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace ember::nn {

/// Options of `MagnitudePruner` (Zhu & Gupta's s_i, s_f, t_0, t_end, Δt).
struct MagnitudePruningOptions {
  explicit MagnitudePruningOptions(double final_sparsity) : final_sparsity_(final_sparsity) {}
  /// s_f in [0, 1): the fraction of each tensor's weights that are zero from `end_step` on.
  EMBER_ARG(double, final_sparsity);
  /// s_i in [0, s_f]: the sparsity at `begin_step`.
  EMBER_ARG(double, initial_sparsity) = 0.0;
  /// t_0 and t_end (optimizer steps, counted from 1); begin_step ≤ end_step.
  EMBER_ARG(int64_t, begin_step) = 0;
  EMBER_ARG(int64_t, end_step) = 0;
  /// Δt ≥ 1: the masks are recomputed every `frequency` steps from begin_step, and at end_step.
  EMBER_ARG(int64_t, frequency) = 100;
};

/// The 2-D weights of the Linear layers inside `model`'s encoder (names containing "encoder."
/// and ending in "weight": query/key/value/output and both feed-forward matrices of each layer;
/// not the embeddings, pooler or classifier), what `bert_classification train --sparsity` prunes.
template <class T>
std::vector<std::pair<std::string, Tensor<T>>> encoder_linear_weights(const Module<T>& model) {
  std::vector<std::pair<std::string, Tensor<T>>> out;
  for (auto& [name, p] : model.named_parameters()) {
    const bool weight = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
    if (p.dim() == 2 && weight && name.find("encoder.") != std::string::npos)
      out.emplace_back(name, p);
  }
  return out;
}

/// Gradual magnitude pruning of `weights` (each tensor pruned on its own). Call `step(t)` after
/// optimizer step t (t = 1, 2, …). Masks start as "w ≠ 0", so a pruner made again on resumed
/// weights carries on with the zeros they hold.
template <class T>
class MagnitudePruner {
 public:
  /// Throws `ember::Error` for an empty list, a weight that is not a float tensor on the CPU, or
  /// options outside 0 ≤ s_i ≤ s_f < 1, 0 ≤ t_0 ≤ t_end, Δt ≥ 1.
  MagnitudePruner(std::vector<std::pair<std::string, Tensor<T>>> weights,
                  const MagnitudePruningOptions& options)
      : weights_(std::move(weights)), options_(options) {
    const auto& o = options_;
    EMBER_CHECK(!weights_.empty(), "MagnitudePruner: no weights to prune");
    EMBER_CHECK(o.final_sparsity() >= 0 && o.final_sparsity() < 1,
                "MagnitudePruner: final_sparsity must be in [0, 1), found ", o.final_sparsity());
    EMBER_CHECK(o.initial_sparsity() >= 0 && o.initial_sparsity() <= o.final_sparsity(),
                "MagnitudePruner: initial_sparsity must be in [0, final_sparsity = ",
                o.final_sparsity(), "], found ", o.initial_sparsity());
    EMBER_CHECK(o.begin_step() >= 0 && o.end_step() >= o.begin_step(),
                "MagnitudePruner: expected 0 <= begin_step <= end_step, found ", o.begin_step(),
                " and ", o.end_step());
    EMBER_CHECK(o.frequency() >= 1, "MagnitudePruner: frequency must be >= 1, found ",
                o.frequency());
    NoGradGuard no_grad;
    for (auto& [name, w] : weights_) {
      EMBER_CHECK(w.defined() && w.device().is_cpu(), "MagnitudePruner: ", name,
                  " must be a tensor on the CPU");
      masks_.push_back(ne(w, 0.0).template to<T>());
    }
  }

  /// Zhu & Gupta's s_t for optimizer step t.
  double sparsity_at(int64_t t) const {
    const auto& o = options_;
    if (t >= o.end_step()) return o.final_sparsity();  // (begin = end: a single step to s_f)
    if (t <= o.begin_step()) return t < o.begin_step() ? 0.0 : o.initial_sparsity();
    const double f = double(t - o.begin_step()) / double(o.end_step() - o.begin_step());
    return o.final_sparsity() + (o.initial_sparsity() - o.final_sparsity()) * std::pow(1 - f, 3);
  }

  /// After optimizer step t: recomputes the masks when t is an update step (t_0 ≤ t ≤ t_end and
  /// (t − t_0) a multiple of Δt, or t = t_end, or the first step after t_end when s_f was never
  /// applied — e.g. t_end = 0), then zeroes every masked weight.
  void step(int64_t t) {
    const auto& o = options_;
    const bool on_grid = t >= o.begin_step() && t <= o.end_step() &&
                         ((t - o.begin_step()) % o.frequency() == 0 || t == o.end_step());
    const bool late = t > o.end_step() && !final_applied_;
    if (on_grid || late) {
      const double s = sparsity_at(t);
      for (std::size_t i = 0; i < weights_.size(); ++i) remask(i, s);
      final_applied_ = final_applied_ || t >= o.end_step();
    }
    apply();
  }

  /// Whether the masks have reached final_sparsity (step t_end, or later, has been taken).
  bool reached_final() const { return final_applied_; }

  /// Multiplies every weight by its mask, in place (no allocation for contiguous weights, which
  /// parameters are); bumps the storage version so derived copies (packed, int8) are rebuilt.
  void apply() {
    NoGradGuard no_grad;
    for (std::size_t i = 0; i < weights_.size(); ++i) {
      Tensor<T>& w = weights_[i].second;
      if (!w.is_contiguous()) {
        w.copy_(w * masks_[i]);
        continue;
      }
      T* p = w.data();
      const T* m = masks_[i].data();
      for (int64_t j = 0, n = w.numel(); j < n; ++j) p[j] *= m[j];
      w.storage()->bump_version();
    }
  }

  /// The fraction of zeros over all pruned weights, as stored now.
  double sparsity() const {
    double zeros = 0, total = 0;
    for (const auto& [name, w] : weights_) {
      const std::vector<T> v = w.contiguous().to_vector();
      zeros += double(std::count(v.begin(), v.end(), T(0)));
      total += double(v.size());
    }
    return total > 0 ? zeros / total : 0.0;
  }
  /// The weights' total number of entries.
  int64_t numel() const {
    int64_t n = 0;
    for (const auto& [name, w] : weights_) n += w.numel();
    return n;
  }
  const std::vector<Tensor<T>>& masks() const { return masks_; }
  const MagnitudePruningOptions& options() const { return options_; }

 private:
  // Mask i keeps all but the ⌊s·n⌋ entries of smallest |w| (ties: the lower index goes first).
  void remask(std::size_t i, double s) {
    const Tensor<T>& w = weights_[i].second;
    const std::vector<T> v = w.contiguous().to_vector();
    const std::size_t n = v.size(), k = std::size_t(std::floor(s * double(n)));
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t(0));
    auto smaller = [&](std::size_t a, std::size_t b) {
      const T x = std::abs(v[a]), y = std::abs(v[b]);
      return x < y || (x == y && a < b);
    };
    if (k > 0 && k < n) std::nth_element(order.begin(), order.begin() + std::ptrdiff_t(k), order.end(), smaller);
    std::vector<T> keep(n, T(1));
    for (std::size_t j = 0; j < std::min(k, n); ++j) keep[order[j]] = T(0);
    masks_[i] = from_vector(keep, w.shape());
  }

  std::vector<std::pair<std::string, Tensor<T>>> weights_;
  std::vector<Tensor<T>> masks_;
  MagnitudePruningOptions options_;
  bool final_applied_ = false;
};

}  // namespace ember::nn
