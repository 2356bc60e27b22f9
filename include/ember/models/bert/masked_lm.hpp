// ember/models/bert/masked_lm.hpp — BERT with its masked-language-model head (Devlin et al.,
// "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding", NAACL 2019,
// §3.1 "Task #1: Masked LM") as Hugging Face transformers implements it (`BertForMaskedLM`,
// `BertOnlyMLMHead`, `BertLMPredictionHead`, `BertPredictionHeadTransform` in modeling_bert.py):
//
//   logits = LayerNorm(act(h · Wtᵀ + bt)) · Eᵀ + b      h [.., hidden] → logits [.., vocab_size]
//
// where E is the word-embedding matrix itself: the decoder is tied to the input embeddings
// (config `tie_word_embeddings`, true by default), so its gradient is the sum of both uses.
// Keys (Hugging Face's): bert.* (a BertModel without pooler), cls.predictions.bias,
// cls.predictions.transform.dense.{weight,bias}, cls.predictions.transform.LayerNorm.{weight,bias},
// cls.predictions.decoder.weight (= bert.embeddings.word_embeddings.weight) and
// cls.predictions.decoder.bias (= cls.predictions.bias). `state_dict()` lists both names of a tied
// tensor; savers write it once, under the first, as Hugging Face does (nn/module.hpp).
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

/// dense → activation (config `hidden_act`) → LayerNorm (HF `BertPredictionHeadTransform`).
template <class T>
class BertPredictionHeadTransform : public nn::Module<T> {
 public:
  BertPredictionHeadTransform(const BertConfig& c, Generator* gen)
      : nn::Module<T>("BertPredictionHeadTransform"), activation_(c.activation()) {
    dense = this->register_module(
        "dense", std::make_shared<nn::Linear<T>>(nn::LinearOptions(c.hidden_size, c.hidden_size)
                                                     .initializer_range(c.initializer_range)
                                                     .generator(gen)));
    LayerNorm = this->register_module(
        "LayerNorm", std::make_shared<nn::LayerNorm<T>>(
                         nn::LayerNormOptions(c.hidden_size).eps(c.layer_norm_eps)));
  }
  /// [..., hidden] → [..., hidden].
  Tensor<T> forward(const Tensor<T>& h) const {
    return LayerNorm->forward(nn::apply_activation(dense->forward(h), activation_));
  }

  std::shared_ptr<nn::Linear<T>> dense;
  std::shared_ptr<nn::LayerNorm<T>> LayerNorm;  // NOLINT: HF's parameter name

 private:
  nn::Activation activation_;
};

/// transform → decoder (tied to the word embeddings) + bias (HF `BertLMPredictionHead`,
/// registered as `cls.predictions`).
template <class T>
class BertLMPredictionHead : public nn::Module<T> {
 public:
  /// `word_embeddings` [vocab_size, hidden]: the decoder's weight when the config ties them;
  /// otherwise the decoder gets its own matrix (normal, std `initializer_range`).
  BertLMPredictionHead(const BertConfig& c, const Tensor<T>& word_embeddings, Generator* gen)
      : nn::Module<T>("BertLMPredictionHead") {
    bias = this->register_parameter("bias", zeros<T>({c.vocab_size}));
    transform =
        this->register_module("transform", std::make_shared<BertPredictionHeadTransform<T>>(c, gen));
    decoder = this->register_module("decoder", std::make_shared<nn::Module<T>>("Linear"));
    Tensor<T> weight = word_embeddings;
    if (!c.tie_word_embeddings) {
      weight = empty<T>({c.vocab_size, c.hidden_size});
      nn::init::normal_(weight, 0.0, c.initializer_range, gen ? *gen : default_generator());
    }
    decoder_weight = decoder->register_parameter("weight", weight);
    decoder->register_parameter("bias", bias);  // HF: `self.decoder.bias = self.bias`
  }
  /// [..., hidden] → logits [..., vocab_size].
  Tensor<T> forward(const Tensor<T>& h) const {
    return ember::linear(transform->forward(h), decoder_weight, bias);
  }

  Tensor<T> bias;            ///< [vocab_size], "cls.predictions.bias" (= decoder.bias)
  Tensor<T> decoder_weight;  ///< [vocab_size, hidden], the word embeddings when tied
  std::shared_ptr<BertPredictionHeadTransform<T>> transform;
  std::shared_ptr<nn::Module<T>> decoder;
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

/// BERT with the masked-language-model head (HF `BertForMaskedLM`): the model that
/// pretraining trains and that `AutoModelForMaskedLM` / the fill-mask pipeline load.
template <class T>
class BertForMaskedLM : public nn::Module<T> {
 public:
  /// A randomly initialized model (HF's initialization: normal with std `initializer_range`,
  /// zero biases, LayerNorm 1/0, the padding row zero). Throws `ember::Error` for an invalid
  /// config. `gen` (null: the default generator) also draws the dropout masks; it must outlive
  /// the model.
  explicit BertForMaskedLM(const BertConfig& c, Generator* gen = nullptr)
      : nn::Module<T>("BertForMaskedLM"), config_(c) {
    base_model = this->register_module("bert",
                                 std::make_shared<BertModel<T>>(c, gen, /*add_pooling_layer=*/false));
    cls = this->register_module("cls", std::make_shared<nn::Module<T>>("BertOnlyMLMHead"));
    predictions = cls->register_module(
        "predictions", std::make_shared<BertLMPredictionHead<T>>(
                           c, base_model->embeddings->word_embeddings->weight, gen));
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
      out.logits = predictions->forward(h);
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
      out.loss = ember::sum(predictions->forward(ember::index_select(
                     flat, 0, zeros<int64_t>({1}, dev)))) * 0.0;
      return out;
    }
    out.masked_positions = from_vector(positions, {rows}).to(dev);
    out.logits = predictions->forward(ember::index_select(flat, 0, out.masked_positions));
    out.loss = ember::cross_entropy(out.logits, from_vector(targets, {rows}).to(dev));
    return out;
  }

  /// The head on hidden states [..., hidden] → logits [..., vocab_size] (HF's `cls(h)`): e.g.
  /// the rows of the `[MASK]` positions only, for fill-mask.
  Tensor<T> prediction_scores(const Tensor<T>& h) const { return predictions->forward(h); }

  const BertConfig& config() const { return config_; }

  std::shared_ptr<BertModel<T>> base_model;  ///< registered as "bert"
  std::shared_ptr<nn::Module<T>> cls;                     ///< "cls" (BertOnlyMLMHead)
  std::shared_ptr<BertLMPredictionHead<T>> predictions;  ///< "cls.predictions"

 private:
  BertConfig config_;
};

}  // namespace ember::models::bert
