// ember/models/bert/bert.hpp — the BERT-architecture encoder (Devlin et al., "BERT: Pre-training
// of Deep Bidirectional Transformers for Language Understanding", NAACL 2019) as Hugging Face
// transformers implements it (`modeling_bert.py`, transformers 4.44): `BertEmbeddings`,
// `BertModel` (embeddings → encoder → pooler), `BertForSequenceClassification` and
// `BertForTokenClassification`.
//
// The same classes are RoBERTa / XLM-R / CamemBERT, DistilBERT and ELECTRA: the families differ
// only where `BertConfig::family()` says so, each spelled out here (docs/models.md):
//   positions   BERT, DistilBERT, ELECTRA: 0, 1, ..., seq − 1.  RoBERTa: counted over the
//               non-padding tokens from pad_token_id + 1, padding at pad_token_id
//               (`create_position_ids_from_input_ids` in modeling_roberta.py).
//   token types DistilBERT has no table (token_type_ids are ignored).
//   embeddings  ELECTRA: tables of width embedding_size, then `embeddings_project` to hidden.
//   pooler      BERT and RoBERTa's base models (`pooler.dense`, tanh); none in DistilBERT and
//               ELECTRA, nor in RoBERTa with a head.
//   sequence    BERT: dropout → `classifier` on the pooled output. On the first token (<s>):
//   head        RoBERTa: dropout → `classifier.dense` → tanh → dropout → `classifier.out_proj`;
//               ELECTRA: the same with GELU; DistilBERT: `pre_classifier` → ReLU → dropout →
//               `classifier`.
// Every parameter has Hugging Face's name, so `state_dict()` keys are a checkpoint's keys —
// except DistilBERT's encoder, whose names (`transformer.layer.<i>.attention.q_lin`, ...) the
// loader and saver translate (pretrained.hpp):
//   embeddings.{word,position,token_type}_embeddings.weight, embeddings.LayerNorm.{weight,bias}
//   encoder.layer.<i>.attention.self.{query,key,value}.*, ….attention.output.dense.*,
//   ….attention.output.LayerNorm.*, ….intermediate.dense.*, ….output.dense.*, ….output.LayerNorm.*
//   pooler.dense.*   and, with a head, <base_model_prefix>.<all of the above> + the head's
// Loading and saving Hugging Face directories lives in models/bert/pretrained.hpp.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <vector>
#include <string>
#include <string_view>

#include <ember/models/bert/config.hpp>
#include <ember/nn.hpp>
#include <ember/ops/embedding.hpp>
#include <ember/ops/loss.hpp>

namespace ember::models::bert {

/// word + position + token_type embeddings → LayerNorm → dropout (HF `BertEmbeddings`; the
/// families' differences in the file comment).
template <class T>
class BertEmbeddings : public nn::Module<T> {
 public:
  BertEmbeddings(const BertConfig& c, Generator* gen)
      : nn::Module<T>("BertEmbeddings"), config_(c), gen_(gen) {
    const bool roberta = c.family() == Family::Roberta;
    auto emb = [&](int64_t n, std::optional<int64_t> pad) {
      auto o = nn::EmbeddingOptions(n, c.embedding_dim())
                   .initializer_range(c.initializer_range)
                   .generator(gen);
      if (pad) o.padding_idx(*pad);
      return std::make_shared<nn::Embedding<T>>(o);
    };
    word_embeddings = this->register_module("word_embeddings", emb(c.vocab_size, c.pad_token_id));
    // RoBERTa's padding tokens sit at position pad_token_id, a row that gets no gradient.
    position_embeddings = this->register_module(
        "position_embeddings",
        emb(c.max_position_embeddings, roberta ? std::optional<int64_t>(c.pad_token_id) : std::nullopt));
    if (c.type_vocab_size > 0)
      token_type_embeddings =
          this->register_module("token_type_embeddings", emb(c.type_vocab_size, std::nullopt));
    LayerNorm = this->register_module(
        "LayerNorm", std::make_shared<nn::LayerNorm<T>>(
                         nn::LayerNormOptions(c.embedding_dim()).eps(c.layer_norm_eps)));
  }

  /// The position ids of `input_ids` [batch, seq]: [1, seq] 0..seq−1 (every row), or [batch, seq] for
  /// RoBERTa pad_token_id + (the count of non-padding tokens up to and including this one), and
  /// pad_token_id at padding. Throws `ember::Error` when a position exceeds the table.
  Tensor<int64_t> position_ids(const Tensor<int64_t>& input_ids) const {
    const int64_t batch = input_ids.size(0), seq = input_ids.size(1);
    if (config_.family() != Family::Roberta) {
      EMBER_CHECK(seq <= config_.max_position_embeddings, "BertEmbeddings: sequence length ", seq,
                  " exceeds max_position_embeddings (", config_.max_position_embeddings, ")");
      // One row, broadcast over the batch by the sum in forward.
      return arange<int64_t>(seq).view({1, seq}).to(input_ids.device());
    }
    const int64_t pad = config_.pad_token_id;
    EMBER_CHECK(seq + pad < config_.max_position_embeddings, "BertEmbeddings: sequence length ",
                seq, " exceeds what ", config_.model_type, "'s max_position_embeddings (",
                config_.max_position_embeddings, ") allows: positions run from pad_token_id + 1 = ",
                pad + 1, ", so at most ", config_.max_position_embeddings - pad - 1, " tokens");
    const Tensor<int64_t> ids = input_ids.to(Device::cpu()).contiguous();
    Tensor<int64_t> pos = Tensor<int64_t>::empty({batch, seq});
    for (int64_t b = 0; b < batch; ++b) {
      int64_t count = 0;
      for (int64_t i = 0; i < seq; ++i) {
        const bool token = ids.data()[b * seq + i] != pad;
        count += token;
        pos.data()[b * seq + i] = token ? pad + count : pad;
      }
    }
    return pos.to(input_ids.device());
  }

  /// `input_ids` [batch, seq]; `token_type_ids` [batch, seq] or undefined (all 0).
  /// Returns [batch, seq, hidden]. Throws `ember::Error` when seq exceeds
  /// max_position_embeddings or the shapes disagree.
  Tensor<T> forward(const Tensor<int64_t>& input_ids, const Tensor<int64_t>& token_type_ids) const {
    EMBER_CHECK(input_ids.defined() && input_ids.dim() == 2,
                "BertEmbeddings: expected input_ids of shape [batch, seq], found ",
                input_ids.defined() ? input_ids.shape() : Shape{});
    const int64_t batch = input_ids.size(0), seq = input_ids.size(1);
    EMBER_CHECK(!token_type_ids.defined() || token_type_ids.shape() == input_ids.shape(),
                "BertEmbeddings: token_type_ids shape ", token_type_ids.shape(),
                " differs from input_ids shape ", input_ids.shape());
    const Device dev = input_ids.device();  // ids and the tables live on the model's device
    Tensor<T> h = word_embeddings->forward(input_ids) +
                  position_embeddings->forward(position_ids(input_ids));
    if (token_type_embeddings) {  // DistilBERT has none and ignores token_type_ids
      Tensor<int64_t> types =
          token_type_ids.defined() ? token_type_ids : zeros<int64_t>({batch, seq}, dev);
      h = h + token_type_embeddings->forward(types);
    }
    h = LayerNorm->forward(h);
    Generator& g = gen_ ? *gen_ : default_generator();
    return ember::dropout(h, config_.hidden_dropout_prob, this->is_training(), g);
  }

  /// token_type_embeddings is null when type_vocab_size is 0 (DistilBERT).
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
  Tensor<T> pooler_output;      ///< [batch, hidden]: tanh(dense(last_hidden_state[:, 0])), or
                                ///< undefined for a model without pooler
};

/// The BERT encoder with embeddings and pooler (HF `BertModel`).
template <class T>
class BertModel : public nn::Module<T> {
 public:
  /// Builds a randomly initialized model (BERT's initialization, from `gen` or the default
  /// generator). Throws `ember::Error` for an invalid config. `gen` must outlive the model.
  /// `add_pooling_layer` is ignored for DistilBERT and ELECTRA, which have no pooler.
  explicit BertModel(const BertConfig& c, Generator* gen = nullptr, bool add_pooling_layer = true)
      : nn::Module<T>(c.class_prefix() + "Model"), config_(c) {
    c.validate();
    embeddings = this->register_module("embeddings", std::make_shared<BertEmbeddings<T>>(c, gen));
    if (c.embedding_dim() != c.hidden_size)  // ELECTRA: embedding_size → hidden_size
      embeddings_project = this->register_module(
          "embeddings_project",
          std::make_shared<nn::Linear<T>>(nn::LinearOptions(c.embedding_dim(), c.hidden_size)
                                              .initializer_range(c.initializer_range)
                                              .generator(gen)));
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
    if (add_pooling_layer && (c.family() == Family::Bert || c.family() == Family::Roberta)) {
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
    if (embeddings_project) h = embeddings_project->forward(h);
    BertOutput<T> out;
    out.last_hidden_state = encoder->forward(h, attention_mask);
    if (pooler_dense)
      out.pooler_output = ember::tanh(pooler_dense->forward(out.last_hidden_state.select(1, 0)));
    return out;
  }

  const BertConfig& config() const { return config_; }

  std::shared_ptr<BertEmbeddings<T>> embeddings;
  std::shared_ptr<nn::Linear<T>> embeddings_project;  ///< ELECTRA with embedding_size ≠ hidden
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
  Tensor<T> loss;    ///< 0-d mean loss when labels were given (see forward), else undefined
};

namespace detail {
/// The classification head on top of an encoder, per family (the file comment). Registers its
/// layers under the family's names on `owner`: BERT `classifier`; RoBERTa and ELECTRA
/// `classifier.dense` + `classifier.out_proj`; DistilBERT `pre_classifier` + `classifier`.
template <class T>
struct ClassificationHead {
  std::shared_ptr<nn::Linear<T>> dense;     ///< the hidden → hidden layer (null for BERT)
  std::shared_ptr<nn::Linear<T>> out_proj;  ///< the hidden → num_labels layer
  double dropout_p = 0.0;
  Family family = Family::Bert;

  ClassificationHead(nn::Module<T>& owner, const BertConfig& c, Generator* gen) {
    family = c.family();
    dropout_p = c.classifier_dropout();
    auto linear = [&](int64_t out) {
      return std::make_shared<nn::Linear<T>>(nn::LinearOptions(c.hidden_size, out)
                                                 .initializer_range(c.initializer_range)
                                                 .generator(gen));
    };
    switch (family) {
      case Family::Bert:
        out_proj = owner.register_module("classifier", linear(c.num_labels()));
        break;
      case Family::Roberta:
      case Family::Electra: {
        auto head = owner.register_module(
            "classifier", std::make_shared<nn::Module<T>>(c.class_prefix() + "ClassificationHead"));
        dense = head->register_module("dense", linear(c.hidden_size));
        out_proj = head->register_module("out_proj", linear(c.num_labels()));
        break;
      }
      case Family::DistilBert:
        dense = owner.register_module("pre_classifier", linear(c.hidden_size));
        out_proj = owner.register_module("classifier", linear(c.num_labels()));
        break;
    }
  }

  /// Logits [batch, num_labels] from the encoder's output.
  Tensor<T> forward(const BertOutput<T>& h, bool training, Generator& g) const {
    if (family == Family::Bert)
      return out_proj->forward(ember::dropout(h.pooler_output, dropout_p, training, g));
    Tensor<T> x = h.last_hidden_state.select(1, 0);  // the first token, <s> / [CLS]
    if (family == Family::DistilBert) {
      x = ember::relu(dense->forward(x));
    } else {
      x = dense->forward(ember::dropout(x, dropout_p, training, g));
      x = family == Family::Roberta ? ember::tanh(x) : ember::gelu(x);
    }
    return out_proj->forward(ember::dropout(x, dropout_p, training, g));
  }
};
}  // namespace detail

/// An encoder with a sequence-classification head (HF `BertForSequenceClassification`,
/// `RobertaForSequenceClassification`, `XLMRobertaForSequenceClassification`,
/// `DistilBertForSequenceClassification`, `ElectraForSequenceClassification`; the heads in the
/// file comment). The head's dropout p is config.json's `classifier_dropout` when set
/// (DistilBERT: `seq_classif_dropout`), else hidden_dropout_prob. The loss follows
/// `config().problem_type` (BertConfig::problem_type).
template <class T>
class BertForSequenceClassification : public nn::Module<T> {
 public:
  explicit BertForSequenceClassification(const BertConfig& c, Generator* gen = nullptr)
      : nn::Module<T>(c.class_prefix() + "ForSequenceClassification"), config_(c), gen_(gen) {
    EMBER_CHECK(c.problem_type.empty() || c.problem_type == "single_label_classification" ||
                    c.problem_type == "multi_label_classification" || c.problem_type == "regression",
                "BertForSequenceClassification: unsupported problem_type \"", c.problem_type,
                "\" (supported: single_label_classification, multi_label_classification, "
                "regression)");
    base_model = this->register_module(c.base_model_prefix(),
                                       std::make_shared<BertModel<T>>(c, gen, c.family() == Family::Bert));
    head_ = std::make_unique<detail::ClassificationHead<T>>(*this, c, gen);
    classifier = head_->out_proj;
    pre_classifier = head_->dense;
  }

  /// Logits [batch, num_labels]; with int64 `labels` also the mean loss:
  ///  * single-label (problem_type "single_label_classification" or "" with num_labels > 1):
  ///    cross-entropy, labels [batch] class ids;
  ///  * regression (problem_type "regression", or "" with num_labels 1): MSE against the
  ///    labels as floats, labels [batch] (num_labels 1) or [batch, num_labels].
  /// Throws `ember::Error` for a class outside [0, num_labels), a shape that disagrees, or a
  /// multi-label problem_type (its targets are floats: use the other overload).
  SequenceClassifierOutput<T> forward(const Tensor<int64_t>& input_ids,
                                      const Tensor<int64_t>& attention_mask = Tensor<int64_t>(),
                                      const Tensor<int64_t>& token_type_ids = Tensor<int64_t>(),
                                      const Tensor<int64_t>& labels = Tensor<int64_t>()) const {
    SequenceClassifierOutput<T> out = logits_(input_ids, attention_mask, token_type_ids);
    if (!labels.defined()) return out;
    const std::string_view p = problem_type_(false);
    EMBER_CHECK(p != "multi_label_classification", "BertForSequenceClassification: problem_type "
                "multi_label_classification needs float targets [batch, num_labels] (0/1), found "
                "int64 labels of shape ", labels.shape());
    if (p == "regression")
      out.loss = regression_loss_(out.logits, labels.template to<T>());
    else
      out.loss = ember::cross_entropy(out.logits, labels);
    return out;
  }

  /// Logits and the loss for float `labels`:
  ///  * multi-label (problem_type "multi_label_classification", or "" with num_labels > 1):
  ///    binary cross-entropy with logits, labels [batch, num_labels] in [0, 1];
  ///  * regression ("regression", or "" with num_labels 1): MSE, labels [batch] (num_labels 1)
  ///    or [batch, num_labels].
  /// Throws `ember::Error` for shapes that disagree or problem_type single_label_classification
  /// (its labels are int64 class ids).
  SequenceClassifierOutput<T> forward(const Tensor<int64_t>& input_ids,
                                      const Tensor<int64_t>& attention_mask,
                                      const Tensor<int64_t>& token_type_ids,
                                      const Tensor<T>& labels) const {
    SequenceClassifierOutput<T> out = logits_(input_ids, attention_mask, token_type_ids);
    const std::string_view p = problem_type_(true);
    EMBER_CHECK(p != "single_label_classification", "BertForSequenceClassification: problem_type "
                "single_label_classification needs int64 class ids [batch], found float labels "
                "of shape ", labels.shape());
    if (p == "regression") {
      out.loss = regression_loss_(out.logits, labels);
    } else {
      EMBER_CHECK(labels.shape() == out.logits.shape(), "BertForSequenceClassification: "
                  "multi-label targets must have the logits' shape ", out.logits.shape(),
                  " [batch, num_labels], found ", labels.shape());
      out.loss = ember::binary_cross_entropy_with_logits(out.logits, labels);
    }
    return out;
  }

  const BertConfig& config() const { return config_; }
  int64_t num_labels() const { return config_.num_labels(); }

  /// `BertModel::prune_heads` on the encoder, recorded in this model's config too.
  void prune_heads(const std::map<int64_t, std::vector<int64_t>>& heads_to_prune) {
    base_model->prune_heads(heads_to_prune);
    config_.pruned_heads = base_model->config().pruned_heads;
  }
  /// `BertModel::prune_neurons` on the encoder, recorded in this model's config too.
  void prune_neurons(const std::map<int64_t, std::vector<int64_t>>& neurons_to_prune) {
    base_model->prune_neurons(neurons_to_prune);
    config_.intermediate_size = base_model->config().intermediate_size;
  }

  /// The encoder, registered under config().base_model_prefix() ("bert", "roberta", ...).
  std::shared_ptr<BertModel<T>> base_model;
  /// The layer that gives the logits: `classifier` (BERT, DistilBERT) or `classifier.out_proj`.
  std::shared_ptr<nn::Linear<T>> classifier;
  /// The hidden → hidden layer before it: `classifier.dense` (RoBERTa, ELECTRA),
  /// `pre_classifier` (DistilBERT); null for BERT.
  std::shared_ptr<nn::Linear<T>> pre_classifier;

 private:
  SequenceClassifierOutput<T> logits_(const Tensor<int64_t>& input_ids,
                                      const Tensor<int64_t>& attention_mask,
                                      const Tensor<int64_t>& token_type_ids) const {
    BertOutput<T> h = base_model->forward(input_ids, attention_mask, token_type_ids);
    Generator& g = gen_ ? *gen_ : default_generator();
    SequenceClassifierOutput<T> out;
    out.logits = head_->forward(h, this->is_training(), g);
    return out;
  }
  /// HF's rule when problem_type is unset: num_labels 1 → regression, else the labels' dtype.
  std::string_view problem_type_(bool float_labels) const {  // no allocation in a step
    if (!config_.problem_type.empty()) return config_.problem_type;
    if (num_labels() == 1) return "regression";
    return float_labels ? "multi_label_classification" : "single_label_classification";
  }
  /// HF: MSE(logits.squeeze(), labels.squeeze()) for one label, MSE(logits, labels) otherwise.
  Tensor<T> regression_loss_(const Tensor<T>& logits, const Tensor<T>& labels) const {
    const int64_t batch = logits.size(0);
    if (num_labels() == 1) {
      EMBER_CHECK((labels.shape() == Shape{batch} || labels.shape() == Shape({batch, 1})),
                  "BertForSequenceClassification: regression targets must be [batch] or "
                  "[batch, 1] with batch ", batch, ", found ", labels.shape());
      return ember::mse_loss(logits.reshape({batch}), labels.reshape({batch}));
    }
    EMBER_CHECK(labels.shape() == logits.shape(), "BertForSequenceClassification: regression "
                "targets must have the logits' shape ", logits.shape(), ", found ", labels.shape());
    return ember::mse_loss(logits, labels);
  }

  BertConfig config_;
  Generator* gen_;
  std::unique_ptr<detail::ClassificationHead<T>> head_;
};

/// What `BertForTokenClassification::forward` returns.
template <class T>
struct TokenClassifierOutput {
  Tensor<T> logits;  ///< [batch, seq, num_labels]
  Tensor<T> loss;    ///< 0-d mean cross-entropy over the labels ≠ −100, when labels were given
};

/// An encoder with a per-token classification head (HF `BertForTokenClassification` and the
/// families' `…ForTokenClassification`): logits = classifier(dropout(last_hidden_state)), dropout
/// p = `classifier_dropout` when set, else hidden_dropout_prob (DistilBERT: `dropout`). Used for
/// named-entity recognition (docs/token-classification.md).
template <class T>
class BertForTokenClassification : public nn::Module<T> {
 public:
  explicit BertForTokenClassification(const BertConfig& c, Generator* gen = nullptr)
      : nn::Module<T>(c.class_prefix() + "ForTokenClassification"), config_(c), gen_(gen) {
    base_model = this->register_module(c.base_model_prefix(),
                                       std::make_shared<BertModel<T>>(c, gen, false));
    classifier = this->register_module(
        "classifier", std::make_shared<nn::Linear<T>>(nn::LinearOptions(c.hidden_size, c.num_labels())
                                                          .initializer_range(c.initializer_range)
                                                          .generator(gen)));
    dropout_p_ = c.hidden_dropout_prob;
    if (c.family() != Family::DistilBert && c.extra.contains("classifier_dropout") &&
        c.extra["classifier_dropout"].is_number())
      dropout_p_ = c.extra["classifier_dropout"].get<double>();
  }

  /// Logits [batch, seq, num_labels]; with `labels` [batch, seq] (class ids, −100 = not
  /// scored: special tokens, padding, a word's later sub-tokens) also the mean cross-entropy
  /// over the scored tokens. Throws `ember::Error` for a label outside [0, num_labels) that is
  /// not −100 or a labels shape other than input_ids'.
  TokenClassifierOutput<T> forward(const Tensor<int64_t>& input_ids,
                                   const Tensor<int64_t>& attention_mask = Tensor<int64_t>(),
                                   const Tensor<int64_t>& token_type_ids = Tensor<int64_t>(),
                                   const Tensor<int64_t>& labels = Tensor<int64_t>()) const {
    BertOutput<T> h = base_model->forward(input_ids, attention_mask, token_type_ids);
    Generator& g = gen_ ? *gen_ : default_generator();
    TokenClassifierOutput<T> out;
    out.logits = classifier->forward(
        ember::dropout(h.last_hidden_state, dropout_p_, this->is_training(), g));
    if (labels.defined()) {
      EMBER_CHECK(labels.shape() == input_ids.shape(), "BertForTokenClassification: labels must "
                  "have input_ids' shape ", input_ids.shape(), ", found ", labels.shape());
      const int64_t n = labels.numel();
      out.loss = ember::cross_entropy(out.logits.reshape({n, num_labels()}), labels.reshape({n}));
    }
    return out;
  }

  const BertConfig& config() const { return config_; }
  int64_t num_labels() const { return config_.num_labels(); }

  std::shared_ptr<BertModel<T>> base_model;  ///< registered under config().base_model_prefix()
  std::shared_ptr<nn::Linear<T>> classifier;

 private:
  BertConfig config_;
  Generator* gen_;
  double dropout_p_;
};

}  // namespace ember::models::bert
