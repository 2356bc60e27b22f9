// ember/nn/prune.hpp — which attention heads to remove: gradient-based head importance (Michel,
// Levy & Neubig, "Are Sixteen Heads Really Better than One?", NeurIPS 2019, §4.1) and the
// least important heads over all layers. The removal itself is
// `MultiHeadAttention::prune_heads` (nn/attention.hpp) or, keeping `config.pruned_heads`,
// `BertModel::prune_heads` (models/bert/bert.hpp).
//
// Importance of head h in a layer: I_h = Σ_batches |∂L/∂ξ_h|, where ξ_h multiplies the head's
// output (a head mask of ones) and L is the task loss of the batch — the first-order estimate of
// how much the loss changes when the head is removed (ξ_h: 1 → 0). As Michel et al. (and HF's
// `run_bertology.py`), the scores of each layer are divided by their L2 norm so that layers
// compare, and heads are ranked over the whole model.
#pragma once

#include <ember/nn/transformer.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <vector>

namespace ember::nn {

/// Michel et al.'s head importance, [layer][head position] (positions index
/// `attention->heads()`, the heads computed now), each layer normalized to unit L2 norm.
/// `loss_of_batch(i)` runs the model on batch i (i = 0..num_batches−1) and returns the 0-d loss;
/// the encoder's head masks are set to ones (requires_grad) meanwhile and removed afterwards.
/// The model's parameters are frozen during the scoring (no parameter gradients are computed)
/// and their requires_grad flags restored afterwards. Call it in eval mode for scores that do not
/// depend on dropout. Throws `ember::Error` for num_batches < 1 or a loss that is not 0-d.
template <class T, class LossFn>
std::vector<std::vector<double>> head_importance(Module<T>& model,
                                                 const TransformerEncoder<T>& encoder,
                                                 int64_t num_batches, LossFn&& loss_of_batch) {
  EMBER_CHECK(num_batches >= 1, "head_importance: num_batches must be >= 1, found ", num_batches);
  std::vector<std::pair<Tensor<T>, bool>> frozen;
  for (Tensor<T>& p : model.parameters()) {
    frozen.emplace_back(p, p.requires_grad());
    p.requires_grad_(false);
  }
  const std::size_t L = encoder.num_layers();
  std::vector<std::vector<double>> score(L);
  for (std::size_t l = 0; l < L; ++l) {
    auto& attn = *encoder.layer_at(l)->attention;
    score[l].assign(std::size_t(attn.num_heads()), 0.0);
    attn.head_mask = ones<T>({attn.num_heads()}, attn.query->weight.device()).requires_grad_();
  }
  auto restore = [&] {
    for (std::size_t l = 0; l < L; ++l) encoder.layer_at(l)->attention->head_mask = Tensor<T>();
    for (auto& [p, flag] : frozen) p.requires_grad_(flag);
  };
  try {
    for (int64_t b = 0; b < num_batches; ++b) {
      Tensor<T> loss = loss_of_batch(b);
      EMBER_CHECK(loss.defined() && loss.dim() == 0,
                  "head_importance: loss_of_batch must return a 0-d loss, found ",
                  loss.defined() ? loss.shape() : Shape{});
      loss.backward();
      for (std::size_t l = 0; l < L; ++l) {
        Tensor<T>& mask = encoder.layer_at(l)->attention->head_mask;
        Tensor<T> g = mask.grad();
        if (!g.defined()) continue;  // the loss did not reach this layer
        Tensor<T> gc = g.to(Device::cpu()).contiguous();
        for (std::size_t h = 0; h < score[l].size(); ++h)
          score[l][h] += std::abs(double(gc.data()[h]));
        mask.zero_grad();
      }
    }
  } catch (...) {
    restore();
    throw;
  }
  restore();
  for (auto& layer : score) {  // unit L2 norm per layer (Michel et al.; HF run_bertology.py)
    double norm = 0;
    for (double v : layer) norm += v * v;
    norm = std::sqrt(norm);
    if (norm > 0)
      for (double& v : layer) v /= norm;
  }
  return score;
}

/// The `count` least important heads over all layers as {layer: [original head ids]} (what
/// `prune_heads` and HF's `config.pruned_heads` take), never the last head of a layer. Ties go
/// to the lower layer, then the lower head. `importance` is `head_importance`'s result for this
/// encoder. Throws `ember::Error` when its shape does not match the encoder's heads or `count`
/// is negative or more than can be removed (every layer keeps one head).
template <class T>
std::map<int64_t, std::vector<int64_t>> least_important_heads(
    const TransformerEncoder<T>& encoder, const std::vector<std::vector<double>>& importance,
    int64_t count) {
  const std::size_t L = encoder.num_layers();
  EMBER_CHECK(importance.size() == L, "least_important_heads: importance has ", importance.size(),
              " layers, the encoder ", L);
  std::vector<std::tuple<double, std::size_t, std::size_t>> order;
  std::vector<int64_t> left(L);
  int64_t removable = 0;
  for (std::size_t l = 0; l < L; ++l) {
    const auto& attn = *encoder.layer_at(l)->attention;
    EMBER_CHECK(int64_t(importance[l].size()) == attn.num_heads(), "least_important_heads: layer ",
                l, " has ", attn.num_heads(), " heads but ", importance[l].size(), " scores");
    left[l] = attn.num_heads();
    removable += attn.num_heads() - 1;
    for (std::size_t h = 0; h < importance[l].size(); ++h) order.emplace_back(importance[l][h], l, h);
  }
  EMBER_CHECK(count >= 0 && count <= removable, "least_important_heads: cannot remove ", count,
              " heads; between 0 and ", removable, " can go (every layer keeps one)");
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
  std::map<int64_t, std::vector<int64_t>> out;
  for (const auto& [s, l, h] : order) {
    if (count == 0) break;
    if (left[l] == 1) continue;
    out[int64_t(l)].push_back(encoder.layer_at(l)->attention->heads()[h]);
    --left[l];
    --count;
  }
  for (auto& [l, heads] : out) std::sort(heads.begin(), heads.end());
  return out;
}

}  // namespace ember::nn
