// ember/models/auto.hpp — Hugging Face's Auto classes: pick the model from a directory's
// config.json (`model_type`), so one line loads any family ember implements:
//
//   auto model = ember::models::AutoModelForSequenceClassification::from_pretrained<float>(dir);
//
// model_type → family (docs/models.md): bert; roberta, xlm-roberta, camembert; distilbert;
// electra. Every family runs on the one BERT-architecture implementation (models/bert/bert.hpp)
// with its differences spelled out there, so each Auto class returns the same C++ type for every
// family; `model->config().model_type` says which was loaded, and `save_pretrained` writes the
// family's config.json and key names back. Errors: `ember::Error` naming the directory, the
// missing file, the unsupported model_type (with the supported ones) or the tensor that does
// not fit.
#pragma once

#include <memory>
#include <string>

#include <ember/models/bert/pretrained.hpp>

namespace ember::models {

using bert::BertConfig;
using bert::FromPretrainedOptions;
using bert::LoadReport;

/// `AutoConfig.from_pretrained(dir)`: dir/config.json of any supported family.
struct AutoConfig {
  static BertConfig from_pretrained(const std::string& dir) { return bert::detail::read_config(dir); }
};

/// `AutoModel`: the encoder without a head — last_hidden_state [batch, seq, hidden] and, for
/// BERT and RoBERTa, pooler_output [batch, hidden].
struct AutoModel {
  template <class T = float>
  static std::shared_ptr<bert::BertModel<T>> from_pretrained(const std::string& dir,
                                                             const FromPretrainedOptions& o = {}) {
    return bert::bert_model_from_pretrained<T>(dir, o);
  }
};

/// `AutoModelForSequenceClassification`: logits [batch, num_labels]; the loss follows
/// problem_type (single-label, multi-label, regression).
struct AutoModelForSequenceClassification {
  template <class T = float>
  static std::shared_ptr<bert::BertForSequenceClassification<T>> from_pretrained(
      const std::string& dir, const FromPretrainedOptions& o = {}) {
    return bert::bert_classifier_from_pretrained<T>(dir, o);
  }
};

/// `AutoModelForTokenClassification`: logits [batch, seq, num_labels] (tagging, NER).
struct AutoModelForTokenClassification {
  template <class T = float>
  static std::shared_ptr<bert::BertForTokenClassification<T>> from_pretrained(
      const std::string& dir, const FromPretrainedOptions& o = {}) {
    return bert::bert_token_classifier_from_pretrained<T>(dir, o);
  }
};

/// `AutoModelForMaskedLM`: the family's masked-LM head (masked_lm.hpp); logits [batch, seq,
/// vocab_size], or with labels the masked positions' rows and their mean cross-entropy.
struct AutoModelForMaskedLM {
  template <class T = float>
  static std::shared_ptr<bert::BertForMaskedLM<T>> from_pretrained(
      const std::string& dir, const FromPretrainedOptions& o = {}) {
    return bert::bert_masked_lm_from_pretrained<T>(dir, o);
  }
};

}  // namespace ember::models
