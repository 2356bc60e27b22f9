// ember/models/bert/bert.hpp — BERT (Devlin et al., "BERT: Pre-training of Deep Bidirectional
// Transformers for Language Understanding", NAACL 2019) as Hugging Face transformers implements
// it (`modeling_bert.py`, transformers 4.44): `BertEmbeddings`, `BertModel` (embeddings →
// encoder → pooler) and `BertForSequenceClassification` (dropout → linear on the pooled output).
//
// Every parameter has Hugging Face's name, so `state_dict()` keys are a checkpoint's keys:
//   embeddings.{word,position,token_type}_embeddings.weight, embeddings.LayerNorm.{weight,bias}
//   encoder.layer.<i>.attention.self.{query,key,value}.*, ….attention.output.dense.*,
//   ….attention.output.LayerNorm.*, ….intermediate.dense.*, ….output.dense.*, ….output.LayerNorm.*
//   pooler.dense.*            and, for the classifier, bert.<all of the above> + classifier.*
// Loading and saving Hugging Face directories lives in models/bert/pretrained.hpp.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <vector>
#include <string>

#include <ember/models/bert/config.hpp>
#include <ember/nn.hpp>
#include <ember/ops/embedding.hpp>
#include <ember/ops/loss.hpp>

namespace ember::models::bert {

/// word + position + token_type embeddings → LayerNorm → dropout (HF `BertEmbeddings`).
template <class T>
class BertEmbeddings : public nn::Module<T> {
 public:
  BertEmbeddings(const BertConfig& c, Generator* gen)
      : nn::Module<T>("BertEmbeddings"), config_(c), gen_(gen) {
    auto emb = [&](int64_t n, std::optional<int64_t> pad) {
      auto o = nn::EmbeddingOptions(n, c.hidden_size)
                   .initializer_range(c.initializer_range)
                   .generator(gen);
      if (pad) o.padding_idx(*pad);
      return std::make_shared<nn::Embedding<T>>(o);
    };
    word_embeddings = this->register_module("word_embeddings", emb(c.vocab_size, c.pad_token_id));
    position_embeddings =
        this->register_module("position_embeddings", emb(c.max_position_embeddings, std::nullopt));
    token_type_embeddings =
        this->register_module("token_type_embeddings", emb(c.type_vocab_size, std::nullopt));
    LayerNorm = this->register_module(
        "LayerNorm",
        std::make_shared<nn::LayerNorm<T>>(nn::LayerNormOptions(c.hidden_size).eps(c.layer_norm_eps)));
  }

  /// `input_ids` [batch, seq]; `token_type_ids` [batch, seq] or undefined (all 0).
  /// Returns [batch, seq, hidden]. Throws `ember::Error` when seq exceeds
  /// max_position_embeddings or the shapes disagree.
  Tensor<T> forward(const Tensor<int64_t>& input_ids, const Tensor<int64_t>& token_type_ids) const {
    EMBER_CHECK(input_ids.defined() && input_ids.dim() == 2,
                "BertEmbeddings: expected input_ids of shape [batch, seq], found ",
                input_ids.defined() ? input_ids.shape() : Shape{});
    const int64_t batch = input_ids.size(0), seq = input_ids.size(1);
    EMBER_CHECK(seq <= config_.max_position_embeddings, "BertEmbeddings: sequence length ", seq,
                " exceeds max_position_embeddings (", config_.max_position_embeddings, ")");
    EMBER_CHECK(!token_type_ids.defined() || token_type_ids.shape() == input_ids.shape(),
                "BertEmbeddings: token_type_ids shape ", token_type_ids.shape(),
                " differs from input_ids shape ", input_ids.shape());
    const Device dev = input_ids.device();  // ids and the tables live on the model's device
    Tensor<int64_t> positions = arange<int64_t>(seq).view({1, seq}).to(dev);
    Tensor<T> h = word_embeddings->forward(input_ids) + position_embeddings->forward(positions);
    Tensor<int64_t> types =
        token_type_ids.defined() ? token_type_ids : zeros<int64_t>({batch, seq}, dev);
    h = h + token_type_embeddings->forward(types);
    h = LayerNorm->forward(h);
    Generator& g = gen_ ? *gen_ : default_generator();
    return ember::dropout(h, config_.hidden_dropout_prob, this->is_training(), g);
  }

  std::shared_ptr<nn::Embedding<T>> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm<T>> LayerNorm;  // NOLINT: HF's parameter name

 private:
  BertConfig config_;
  Generator* gen_;
};

/// What `BertModel::forward` returns.
template <class T>
struct BertOutput {
  Tensor<T> last_hidden_state;  ///< [batch, seq, hidden]
  Tensor<T> pooler_output;      ///< [batch, hidden]: tanh(dense(last_hidden_state[:, 0]))
};

/// The BERT encoder with embeddings and pooler (HF `BertModel`).
template <class T>
class BertModel : public nn::Module<T> {
 public:
  /// Builds a randomly initialized model (BERT's initialization, from `gen` or the default
  /// generator). Throws `ember::Error` for an invalid config. `gen` must outlive the model.
  explicit BertModel(const BertConfig& c, Generator* gen = nullptr, bool add_pooling_layer = true)
      : nn::Module<T>("BertModel"), config_(c) {
    c.validate();
    embeddings = this->register_module("embeddings", std::make_shared<BertEmbeddings<T>>(c, gen));
    auto layer = nn::TransformerEncoderLayerOptions(c.hidden_size, c.num_attention_heads,
                                                    c.intermediate_size)
                     .layer_norm_eps(c.layer_norm_eps)
                     .activation(c.activation())
                     .hidden_dropout(c.hidden_dropout_prob)
                     .attention_dropout(c.attention_probs_dropout_prob)
                     .initializer_range(c.initializer_range)
                     .generator(gen);
    encoder = this->register_module(
        "encoder", std::make_shared<nn::TransformerEncoder<T>>(layer, c.num_hidden_layers));
    if (add_pooling_layer) {
      pooler = this->register_module("pooler", std::make_shared<nn::Module<T>>("BertPooler"));
      pooler_dense = pooler->register_module(
          "dense", std::make_shared<nn::Linear<T>>(nn::LinearOptions(c.hidden_size, c.hidden_size)
                                                       .initializer_range(c.initializer_range)
                                                       .generator(gen)));
    }
    if (!c.pruned_heads.empty()) prune_heads(c.pruned_heads);  // as HF's post_init
  }

  /// Removes attention heads, {layer: [head ids in the original numbering]} (HF's
  /// `prune_heads`), and records them in `config().pruned_heads`, so `save_pretrained` writes a
  /// config.json that Hugging Face transformers 4.x (which still reads `pruned_heads`) and ember
  /// load with the smaller matrices. Heads already removed are skipped. Throws `ember::Error` for
  /// a layer or head out of range or when a layer would lose every head.
  void prune_heads(const std::map<int64_t, std::vector<int64_t>>& heads_to_prune) {
    for (const auto& [layer, heads] : heads_to_prune) {
      EMBER_CHECK(layer >= 0 && layer < int64_t(encoder->num_layers()), "BertModel::prune_heads: "
                  "layer ", layer, " is out of range for ", encoder->num_layers(), " layers");
      auto& attn = *encoder->layer_at(std::size_t(layer))->attention;
      attn.prune_heads(heads);
      config_.pruned_heads[layer].assign(attn.pruned_heads().begin(), attn.pruned_heads().end());
    }
  }

  /// Removes feed-forward neurons, {layer: [positions in 0..intermediate_size−1]}
  /// (`TransformerEncoderLayer::prune_neurons`; `nn::least_important_neurons` chooses them), and
  /// sets `config().intermediate_size` to the new size, so the saved model is an ordinary BERT
  /// checkpoint with a smaller FFN that Hugging Face and ember load. A config.json has one
  /// intermediate_size, so every layer must keep the same number of neurons. Throws
  /// `ember::Error` — before changing anything — for a layer or position out of range or when
  /// the layers would end up with different sizes or a layer with none.
  void prune_neurons(const std::map<int64_t, std::vector<int64_t>>& neurons_to_prune) {
    const int64_t L = int64_t(encoder->num_layers());
    std::vector<int64_t> left(std::size_t(L), config_.intermediate_size);
    for (const auto& [layer, positions] : neurons_to_prune) {
      EMBER_CHECK(layer >= 0 && layer < L, "BertModel::prune_neurons: layer ", layer,
                  " is out of range for ", L, " layers");
      std::set<int64_t> distinct;
      for (int64_t i : positions) {
        EMBER_CHECK(i >= 0 && i < config_.intermediate_size, "BertModel::prune_neurons: neuron ",
                    i, " of layer ", layer, " is out of range for intermediate_size ",
                    config_.intermediate_size);
        distinct.insert(i);
      }
      left[std::size_t(layer)] -= int64_t(distinct.size());
    }
    for (int64_t l = 0; l < L; ++l)
      EMBER_CHECK(left[std::size_t(l)] == left[0] && left[0] > 0, "BertModel::prune_neurons: "
                  "every layer must keep the same number (> 0) of its ", config_.intermediate_size,
                  " neurons (config.json has one intermediate_size), but layer 0 would keep ",
                  left[0], " and layer ", l, " ", left[std::size_t(l)]);
    for (const auto& [layer, positions] : neurons_to_prune)
      encoder->layer_at(std::size_t(layer))->prune_neurons(positions);
    config_.intermediate_size = left[0];
  }

  /// `input_ids` [batch, seq] int64; `attention_mask` [batch, seq] (1 = token, 0 = padding) or
  /// undefined (all tokens); `token_type_ids` [batch, seq] or undefined (all segment 0).
  BertOutput<T> forward(const Tensor<int64_t>& input_ids,
                        const Tensor<int64_t>& attention_mask = Tensor<int64_t>(),
                        const Tensor<int64_t>& token_type_ids = Tensor<int64_t>()) const {
    Tensor<T> h = embeddings->forward(input_ids, token_type_ids);
    BertOutput<T> out;
    out.last_hidden_state = encoder->forward(h, attention_mask);
    if (pooler_dense)
      out.pooler_output = ember::tanh(pooler_dense->forward(out.last_hidden_state.select(1, 0)));
    return out;
  }

  const BertConfig& config() const { return config_; }

  std::shared_ptr<BertEmbeddings<T>> embeddings;
  std::shared_ptr<nn::TransformerEncoder<T>> encoder;
  std::shared_ptr<nn::Module<T>> pooler;       ///< "pooler" (null without pooling layer)
  std::shared_ptr<nn::Linear<T>> pooler_dense;  ///< "pooler.dense"

 private:
  BertConfig config_;
};

/// What `BertForSequenceClassification::forward` returns.
template <class T>
struct SequenceClassifierOutput {
  Tensor<T> logits;  ///< [batch, num_labels]
  Tensor<T> loss;    ///< 0-d mean cross-entropy when labels were given, else undefined
};

/// BERT with a classification head on the pooled output (HF `BertForSequenceClassification`):
/// logits = classifier(dropout(pooler_output)), dropout p = hidden_dropout_prob (HF's
/// `classifier_dropout` when set in config.json).
template <class T>
class BertForSequenceClassification : public nn::Module<T> {
 public:
  explicit BertForSequenceClassification(const BertConfig& c, Generator* gen = nullptr)
      : nn::Module<T>("BertForSequenceClassification"), config_(c), gen_(gen) {
    bert = this->register_module("bert", std::make_shared<BertModel<T>>(c, gen));
    classifier = this->register_module(
        "classifier", std::make_shared<nn::Linear<T>>(nn::LinearOptions(c.hidden_size, c.num_labels())
                                                          .initializer_range(c.initializer_range)
                                                          .generator(gen)));
    dropout_p_ = c.hidden_dropout_prob;
    if (c.extra.contains("classifier_dropout") && c.extra["classifier_dropout"].is_number())
      dropout_p_ = c.extra["classifier_dropout"].get<double>();
  }

  /// Logits [batch, num_labels]; with `labels` [batch] (int64 class ids) also the mean
  /// cross-entropy loss. Throws `ember::Error` for a label outside [0, num_labels).
  SequenceClassifierOutput<T> forward(const Tensor<int64_t>& input_ids,
                                      const Tensor<int64_t>& attention_mask = Tensor<int64_t>(),
                                      const Tensor<int64_t>& token_type_ids = Tensor<int64_t>(),
                                      const Tensor<int64_t>& labels = Tensor<int64_t>()) const {
    BertOutput<T> h = bert->forward(input_ids, attention_mask, token_type_ids);
    Generator& g = gen_ ? *gen_ : default_generator();
    Tensor<T> pooled = ember::dropout(h.pooler_output, dropout_p_, this->is_training(), g);
    SequenceClassifierOutput<T> out;
    out.logits = classifier->forward(pooled);
    if (labels.defined()) out.loss = ember::cross_entropy(out.logits, labels);
    return out;
  }

  const BertConfig& config() const { return config_; }
  int64_t num_labels() const { return config_.num_labels(); }

  /// `BertModel::prune_heads` on `bert`, recorded in this model's config too.
  void prune_heads(const std::map<int64_t, std::vector<int64_t>>& heads_to_prune) {
    bert->prune_heads(heads_to_prune);
    config_.pruned_heads = bert->config().pruned_heads;
  }
  /// `BertModel::prune_neurons` on `bert`, recorded in this model's config too.
  void prune_neurons(const std::map<int64_t, std::vector<int64_t>>& neurons_to_prune) {
    bert->prune_neurons(neurons_to_prune);
    config_.intermediate_size = bert->config().intermediate_size;
  }

  std::shared_ptr<BertModel<T>> bert;
  std::shared_ptr<nn::Linear<T>> classifier;

 private:
  BertConfig config_;
  Generator* gen_;
  double dropout_p_;
};

}  // namespace ember::models::bert
