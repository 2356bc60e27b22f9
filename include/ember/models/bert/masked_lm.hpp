// ember/models/bert/masked_lm.hpp — an encoder with its masked-language-model head (Devlin et
// al., "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding", NAACL
// 2019, §3.1 "Task #1: Masked LM") as Hugging Face transformers implements it for each family
// (`BertForMaskedLM`, `RobertaForMaskedLM` / `XLMRobertaForMaskedLM` / `CamembertForMaskedLM`,
// `DistilBertForMaskedLM`, `ElectraForMaskedLM` — ELECTRA's generator):
//
//   logits = LayerNorm(act(h · Wtᵀ + bt)) · Eᵀ + b      h [.., hidden] → logits [.., vocab_size]
//
// where E is the word-embedding matrix itself: the decoder is tied to the input embeddings
// (config `tie_word_embeddings`, true by default), so its gradient is the sum of both uses. The
// families differ only in names, the activation and ELECTRA's width (Wt: hidden → embedding_size,
// since ELECTRA's embeddings are embedding_size wide):
//
//   family      keys (HF's)                                                       act        LayerNorm eps
//   BERT        cls.predictions.transform.{dense, LayerNorm}, cls.predictions.bias,  hidden_act  layer_norm_eps
//               cls.predictions.decoder.{weight, bias} (= E, = cls.predictions.bias)
//   RoBERTa     lm_head.{dense, layer_norm}, lm_head.bias,                           gelu        layer_norm_eps
//               lm_head.decoder.{weight, bias} (= E, = lm_head.bias)
//   DistilBERT  vocab_transform, vocab_layer_norm, vocab_projector.{weight (= E), bias}  activation  1e-12
//   ELECTRA     generator_predictions.{dense, LayerNorm},                            gelu        layer_norm_eps
//               generator_lm_head.{weight (= E), bias}
//
// (modeling_bert.py `BertLMPredictionHead`, modeling_roberta.py `RobertaLMHead`,
// modeling_distilbert.py `DistilBertForMaskedLM`, modeling_electra.py
// `ElectraGeneratorPredictions`.) The encoder is registered under the family's
// base_model_prefix (bert., roberta., distilbert., electra.) without a pooler.
// `state_dict()` lists both names of a tied tensor; savers write it once, under the first, as
// Hugging Face does (nn/module.hpp): the word embeddings, and the bias under the head's own name.
//
// The loss needs the logits of the masked positions only. With labels, `forward` gathers those
// rows of the hidden states before the head, so the [batch · seq, vocab_size] logit tensor that
// Hugging Face computes — most of a pretraining step's memory and time at BERT's 30,522 tokens —
// is never made; the loss is the same (the head acts on each position alone).
#pragma once

#include <memory>
#include <vector>

#include <ember/models/bert/bert.hpp>
#include <ember/ops/embedding.hpp>

namespace ember::models::bert {

/// The masked-LM head of one family (the table in the file comment), registered under the
/// family's names on `owner`: dense → activation → LayerNorm → decoder (tied to the word
/// embeddings) + bias.
template <class T>
struct MaskedLMHead {
  std::shared_ptr<nn::Linear<T>> dense;          ///< [hidden → width], width = embedding_dim()
  std::shared_ptr<nn::LayerNorm<T>> layer_norm;  ///< over width
  Tensor<T> decoder_weight;  ///< [vocab_size, width], the word embeddings when tied
  Tensor<T> bias;            ///< [vocab_size]
  nn::Activation activation = nn::Activation::Gelu;

  /// `word_embeddings` [vocab_size, width]: the decoder's weight when the config ties them;
  /// otherwise the decoder gets its own matrix (normal, std `initializer_range`).
  MaskedLMHead(nn::Module<T>& owner, const BertConfig& c, const Tensor<T>& word_embeddings,
               Generator* gen) {
    const Family family = c.family();
    const int64_t width = c.embedding_dim();
    activation = family == Family::Bert || family == Family::DistilBert ? c.activation()
                                                                         : nn::Activation::Gelu;
    dense = std::make_shared<nn::Linear<T>>(
        nn::LinearOptions(c.hidden_size, width).initializer_range(c.initializer_range).generator(gen));
    layer_norm = std::make_shared<nn::LayerNorm<T>>(
        nn::LayerNormOptions(width).eps(family == Family::DistilBert ? 1e-12 : c.layer_norm_eps));
    bias = zeros<T>({c.vocab_size});
    decoder_weight = word_embeddings;
    if (!c.tie_word_embeddings) {
      decoder_weight = empty<T>({c.vocab_size, width});
      nn::init::normal_(decoder_weight, 0.0, c.initializer_range, gen ? *gen : default_generator());
    }
    // Registration order decides which name of a tied tensor is saved: the bias is registered
    // before the decoder's alias of it, as Hugging Face's files hold it.
    auto decoder_into = [&](nn::Module<T>& m, const std::string& name) {
      auto d = m.register_module(name, std::make_shared<nn::Module<T>>("Linear"));
      d->register_parameter("weight", decoder_weight);
      d->register_parameter("bias", bias);
    };
    switch (family) {
      case Family::Bert: {
        auto cls = owner.register_module("cls", std::make_shared<nn::Module<T>>("BertOnlyMLMHead"));
        auto pred = cls->register_module(
            "predictions", std::make_shared<nn::Module<T>>("BertLMPredictionHead"));
        pred->register_parameter("bias", bias);
        auto transform = pred->register_module(
            "transform", std::make_shared<nn::Module<T>>("BertPredictionHeadTransform"));
        transform->register_module("dense", dense);
        transform->register_module("LayerNorm", layer_norm);
        decoder_into(*pred, "decoder");
        break;
      }
      case Family::Roberta: {
        auto head = owner.register_module("lm_head", std::make_shared<nn::Module<T>>("RobertaLMHead"));
        head->register_module("dense", dense);
        head->register_module("layer_norm", layer_norm);
        head->register_parameter("bias", bias);
        decoder_into(*head, "decoder");
        break;
      }
      case Family::DistilBert:
        owner.register_module("vocab_transform", dense);
        owner.register_module("vocab_layer_norm", layer_norm);
        decoder_into(owner, "vocab_projector");
        break;
      case Family::Electra: {
        auto pred = owner.register_module(
            "generator_predictions", std::make_shared<nn::Module<T>>("ElectraGeneratorPredictions"));
        pred->register_module("LayerNorm", layer_norm);
        pred->register_module("dense", dense);
        decoder_into(owner, "generator_lm_head");
        break;
      }
    }
  }

  /// [..., hidden] → logits [..., vocab_size].
  Tensor<T> forward(const Tensor<T>& h) const {
    return ember::linear(layer_norm->forward(nn::apply_activation(dense->forward(h), activation)),
                         decoder_weight, bias);
  }
};

/// What `BertForMaskedLM::forward` returns.
template <class T>
struct MaskedLMOutput {
  /// Without labels: [batch, seq, vocab_size], every position (as HF). With labels:
  /// [num_masked, vocab_size], the positions of `masked_positions` only.
  Tensor<T> logits;
  /// 0-d mean cross-entropy over the masked positions when labels were given, else undefined.
  /// A batch with no masked position gives 0 (with zero gradients; HF's mean over nothing is NaN).
  Tensor<T> loss;
  /// With labels: [num_masked] int64, the flat positions b · seq + s (row-major) whose label is
  /// not -100, in increasing order — the rows of `logits`.
  Tensor<int64_t> masked_positions;
};

/// An encoder of any family with its masked-language-model head (HF `BertForMaskedLM`,
/// `RobertaForMaskedLM`, `DistilBertForMaskedLM`, `ElectraForMaskedLM`; the file comment): the
/// model that pretraining trains and that `AutoModelForMaskedLM` / the fill-mask pipeline load.
template <class T>
class BertForMaskedLM : public nn::Module<T> {
 public:
  /// A randomly initialized model (HF's initialization: normal with std `initializer_range`,
  /// zero biases, LayerNorm 1/0, the padding row zero). Throws `ember::Error` for an invalid
  /// config. `gen` (null: the default generator) also draws the dropout masks; it must outlive
  /// the model.
  explicit BertForMaskedLM(const BertConfig& c, Generator* gen = nullptr)
      : nn::Module<T>(c.class_prefix() + "ForMaskedLM"), config_(c) {
    base_model = this->register_module(
        c.base_model_prefix(), std::make_shared<BertModel<T>>(c, gen, /*add_pooling_layer=*/false));
    lm_head = std::make_shared<MaskedLMHead<T>>(
        *this, c, base_model->embeddings->word_embeddings->weight, gen);
  }

  /// `input_ids` [batch, seq] int64; `attention_mask` [batch, seq] (1 = token, 0 = padding) or
  /// undefined; `token_type_ids` [batch, seq] or undefined; `labels` [batch, seq] int64: the
  /// original token at each masked position and -100 elsewhere (what `DataCollatorForLanguage-
  /// Modeling` makes). With labels, only the labelled positions go through the head (see the
  /// header comment) and `loss` is their mean cross-entropy. Throws `ember::Error` for labels of
  /// another shape or a label outside [0, vocab_size).
  MaskedLMOutput<T> forward(const Tensor<int64_t>& input_ids,
                            const Tensor<int64_t>& attention_mask = Tensor<int64_t>(),
                            const Tensor<int64_t>& token_type_ids = Tensor<int64_t>(),
                            const Tensor<int64_t>& labels = Tensor<int64_t>()) const {
    Tensor<T> h = base_model->forward(input_ids, attention_mask, token_type_ids).last_hidden_state;
    MaskedLMOutput<T> out;
    if (!labels.defined()) {
      out.logits = lm_head->forward(h);
      return out;
    }
    EMBER_CHECK(labels.shape() == input_ids.shape(), "BertForMaskedLM: labels have shape ",
                labels.shape(), "; expected the shape of input_ids, ", input_ids.shape());
    // The labelled positions, read on the host (one [batch, seq] int64 copy for CUDA labels).
    const Tensor<int64_t> host = labels.contiguous().to(Device::cpu());
    std::vector<int64_t> positions, targets;
    for (int64_t i = 0; i < host.numel(); ++i) {
      const int64_t label = host.data()[i];
      if (label == -100) continue;
      EMBER_CHECK(label >= 0 && label < config_.vocab_size, "BertForMaskedLM: label ", label,
                  " at flat position ", i, " is outside the vocabulary [0, ", config_.vocab_size,
                  "); expected a token id or -100 (not masked)");
      positions.push_back(i);
      targets.push_back(label);
    }
    const Device dev = input_ids.device();
    const int64_t rows = int64_t(positions.size()), hidden = h.size(-1);
    Tensor<T> flat = h.reshape({h.numel() / hidden, hidden});
    if (rows == 0) {  // nothing masked: a zero loss that still reaches every parameter
      out.masked_positions = Tensor<int64_t>::empty({0}, dev);
      out.logits = Tensor<T>::empty({0, config_.vocab_size}, dev);
      out.loss = ember::sum(lm_head->forward(ember::index_select(
                     flat, 0, zeros<int64_t>({1}, dev)))) * 0.0;
      return out;
    }
    out.masked_positions = from_vector(positions, {rows}).to(dev);
    out.logits = lm_head->forward(ember::index_select(flat, 0, out.masked_positions));
    out.loss = ember::cross_entropy(out.logits, from_vector(targets, {rows}).to(dev));
    return out;
  }

  /// The head on hidden states [..., hidden] → logits [..., vocab_size] (HF's `cls(h)`): e.g.
  /// the rows of the `[MASK]` positions only, for fill-mask.
  Tensor<T> prediction_scores(const Tensor<T>& h) const { return lm_head->forward(h); }

  const BertConfig& config() const { return config_; }

  std::shared_ptr<BertModel<T>> base_model;    ///< registered as config().base_model_prefix()
  std::shared_ptr<MaskedLMHead<T>> lm_head;    ///< the head's layers (names: the file comment)

 private:
  BertConfig config_;
};

}  // namespace ember::models::bert
