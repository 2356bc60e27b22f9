// ember/nn/prune.hpp — which attention heads and feed-forward neurons to remove: gradient-based
// importance (Michel, Levy & Neubig, "Are Sixteen Heads Really Better than One?", NeurIPS 2019,
// §4.1), the least important heads over all layers and the least important neurons of each
// layer. The removal itself is `MultiHeadAttention::prune_heads` (nn/attention.hpp) and
// `TransformerEncoderLayer::prune_neurons` (nn/transformer.hpp) or, keeping the config in step,
// `BertModel::prune_heads` / `BertModel::prune_neurons` (models/bert/bert.hpp).
//
// Importance of head h in a layer: I_h = Σ_batches |∂L/∂ξ_h|, where ξ_h multiplies the head's
// output (a head mask of ones) and L is the task loss of the batch — the first-order estimate of
// how much the loss changes when the head is removed (ξ_h: 1 → 0). As Michel et al. (and HF's
// `run_bertology.py`), the scores of each layer are divided by their L2 norm so that layers
// compare, and heads are ranked over the whole model. Feed-forward neuron i gets the same
// first-order estimate with a mask m_i on its activation; neurons are ranked within each layer
// and every layer loses the same number, because a Hugging Face config.json has a single
// `intermediate_size` for all layers.
#pragma once

#include <ember/nn/transformer.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <vector>

namespace ember::nn {

namespace detail {

// Σ_batches |∂L/∂m| for one mask m per layer (`mask_of(l)`, set to ones of `sizes[l]` with
// requires_grad meanwhile and removed afterwards). The parameters are frozen during the scoring
// and their requires_grad flags restored afterwards, also when the loss throws.
template <class T, class MaskOf, class LossFn>
std::vector<std::vector<double>> mask_importance(const char* who, Module<T>& model,
                                                 const std::vector<int64_t>& sizes, Device device,
                                                 MaskOf&& mask_of, int64_t num_batches,
                                                 LossFn&& loss_of_batch) {
  EMBER_CHECK(num_batches >= 1, who, ": num_batches must be >= 1, found ", num_batches);
  std::vector<std::pair<Tensor<T>, bool>> frozen;
  for (Tensor<T>& p : model.parameters()) {
    frozen.emplace_back(p, p.requires_grad());
    p.requires_grad_(false);
  }
  const std::size_t L = sizes.size();
  std::vector<std::vector<double>> score(L);
  for (std::size_t l = 0; l < L; ++l) {
    score[l].assign(std::size_t(sizes[l]), 0.0);
    mask_of(l) = ones<T>({sizes[l]}, device).requires_grad_();
  }
  auto restore = [&] {
    for (std::size_t l = 0; l < L; ++l) mask_of(l) = Tensor<T>();
    for (auto& [p, flag] : frozen) p.requires_grad_(flag);
  };
  try {
    for (int64_t b = 0; b < num_batches; ++b) {
      Tensor<T> loss = loss_of_batch(b);
      EMBER_CHECK(loss.defined() && loss.dim() == 0, who,
                  ": loss_of_batch must return a 0-d loss, found ",
                  loss.defined() ? loss.shape() : Shape{});
      loss.backward();
      for (std::size_t l = 0; l < L; ++l) {
        Tensor<T>& mask = mask_of(l);
        Tensor<T> g = mask.grad();
        if (!g.defined()) continue;  // the loss did not reach this layer
        Tensor<T> gc = g.to(Device::cpu()).contiguous();
        for (std::size_t i = 0; i < score[l].size(); ++i)
          score[l][i] += std::abs(double(gc.data()[i]));
        mask.zero_grad();
      }
    }
  } catch (...) {
    restore();
    throw;
  }
  restore();
  return score;
}

}  // namespace detail

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
  std::vector<int64_t> sizes;
  for (std::size_t l = 0; l < encoder.num_layers(); ++l)
    sizes.push_back(encoder.layer_at(l)->attention->num_heads());
  auto score = detail::mask_importance<T>(
      "head_importance", model, sizes, encoder.layer_at(0)->attention->query->weight.device(),
      [&](std::size_t l) -> Tensor<T>& { return encoder.layer_at(l)->attention->head_mask; },
      num_batches, loss_of_batch);
  for (auto& layer : score) {  // unit L2 norm per layer (Michel et al.; HF run_bertology.py)
    double norm = 0;
    for (double v : layer) norm += v * v;
    norm = std::sqrt(norm);
    if (norm > 0)
      for (double& v : layer) v /= norm;
  }
  return score;
}

/// The same estimate for the feed-forward neurons: I_i = Σ_batches |∂L/∂m_i|, m a mask of ones
/// multiplying neuron i's activation (`TransformerEncoderLayer::neuron_mask`), [layer][neuron].
/// Not normalized: `least_important_neurons` ranks within each layer. Same contract and errors
/// as `head_importance`.
template <class T, class LossFn>
std::vector<std::vector<double>> neuron_importance(Module<T>& model,
                                                   const TransformerEncoder<T>& encoder,
                                                   int64_t num_batches, LossFn&& loss_of_batch) {
  std::vector<int64_t> sizes;
  for (std::size_t l = 0; l < encoder.num_layers(); ++l)
    sizes.push_back(encoder.layer_at(l)->options().intermediate_size());
  return detail::mask_importance<T>(
      "neuron_importance", model, sizes,
      encoder.layer_at(0)->intermediate_dense->weight.device(),
      [&](std::size_t l) -> Tensor<T>& { return encoder.layer_at(l)->neuron_mask; }, num_batches,
      loss_of_batch);
}

/// The `count` least important feed-forward neurons of every layer, {layer: [positions]}
/// (ascending; what `TransformerEncoderLayer::prune_neurons` and `BertModel::prune_neurons`
/// take). The same count in every layer keeps one intermediate_size for the whole model, which
/// is all a Hugging Face config.json can say. Ties go to the lower position. Throws
/// `ember::Error` when `importance` does not match the encoder's neurons or `count` is negative
/// or not below a layer's intermediate_size.
template <class T>
std::map<int64_t, std::vector<int64_t>> least_important_neurons(
    const TransformerEncoder<T>& encoder, const std::vector<std::vector<double>>& importance,
    int64_t count) {
  const std::size_t L = encoder.num_layers();
  EMBER_CHECK(importance.size() == L, "least_important_neurons: importance has ",
              importance.size(), " layers, the encoder ", L);
  std::map<int64_t, std::vector<int64_t>> out;
  for (std::size_t l = 0; l < L; ++l) {
    const int64_t inter = encoder.layer_at(l)->options().intermediate_size();
    EMBER_CHECK(int64_t(importance[l].size()) == inter, "least_important_neurons: layer ", l,
                " has ", inter, " neurons but ", importance[l].size(), " scores");
    EMBER_CHECK(count >= 0 && count < inter, "least_important_neurons: cannot remove ", count,
                " of layer ", l, "'s ", inter, " neurons; between 0 and ", inter - 1, " can go");
    if (count == 0) continue;
    std::vector<int64_t> order(static_cast<std::size_t>(inter));
    for (int64_t i = 0; i < inter; ++i) order[std::size_t(i)] = i;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return importance[l][std::size_t(a)] < importance[l][std::size_t(b)];
    });
    order.resize(std::size_t(count));
    std::sort(order.begin(), order.end());
    out[int64_t(l)] = order;
  }
  return out;
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
