// ember/models/bert/config.hpp — `BertConfig`, the hyperparameters of a BERT-architecture encoder,
// read from and written to a Hugging Face `config.json`.
//
// One config serves every family ember implements on the shared encoder (models/bert/bert.hpp),
// chosen by config.json's `model_type` (docs/models.md):
//   bert                               BERT (Devlin et al. 2019)
//   roberta, xlm-roberta, camembert    RoBERTa (Liu et al. 2019), XLM-R (Conneau et al. 2020),
//                                      CamemBERT (Martin et al. 2020): one architecture
//   distilbert                         DistilBERT (Sanh et al. 2019): its own key names
//   electra                            ELECTRA (Clark et al. 2020): `embedding_size` ≠ hidden_size
// Field names and defaults are those of `transformers.BertConfig` (transformers 4.44); a family's
// own defaults apply when its file leaves a key out (RoBERTa: pad_token_id 1; ELECTRA:
// embedding_size 128, ...), and DistilBERT's file uses its names (`dim`, `n_layers`, `n_heads`,
// `hidden_dim`, `activation`, `dropout`, `attention_dropout`), read and written as such. A file
// written by Hugging Face loads here, and `to_json()` writes a file Hugging Face loads back (with
// the `model_type` and `architectures`). Values ember cannot honour (an unknown `hidden_act`, a
// `position_embedding_type` other than "absolute", DistilBERT's `sinusoidal_pos_embds`) are
// rejected with an `ember::Error` naming the field, the value found and the values supported.
#pragma once

#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <vector>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include <ember/core/error.hpp>
#include <ember/nn/transformer.hpp>

namespace ember::models::bert {

/// The encoder families of the shared implementation (config.json's `model_type`).
enum class Family {
  Bert,        ///< "bert"
  Roberta,     ///< "roberta", "xlm-roberta", "camembert": positions counted from padding_idx + 1
  DistilBert,  ///< "distilbert": no token types, no pooler, pre_classifier + ReLU head
  Electra,     ///< "electra": embeddings of embedding_size projected to hidden_size
};

/// BERT-architecture hyperparameters (Devlin et al. 2019, Table/Appendix A; HF `BertConfig`,
/// and the families above).
struct BertConfig {
  /// "bert", "roberta", "xlm-roberta", "camembert", "distilbert" or "electra".
  std::string model_type = "bert";
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";  ///< "gelu" (erf), "gelu_new"/"gelu_pytorch_tanh" (tanh), "relu"
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;  ///< 0: no token-type table (DistilBERT)
  /// ELECTRA: the width of the embedding tables, projected to hidden_size by
  /// `embeddings_project` when they differ. 0: hidden_size (every other family).
  int64_t embedding_size = 0;
  double initializer_range = 0.02;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  std::string position_embedding_type = "absolute";
  /// The loss of a sequence-classification head (HF's `problem_type`):
  /// "single_label_classification" (cross-entropy on int64 class ids),
  /// "multi_label_classification" (BCE with logits on float 0/1 targets [batch, num_labels]),
  /// "regression" (MSE on float targets), or "" — decided by the labels as HF does:
  /// num_labels 1 → regression, int64 labels → single-label, float labels → multi-label.
  std::string problem_type;
  /// The MLM decoder shares the word-embedding matrix (HF's default, `tie_word_embeddings`).
  bool tie_word_embeddings = true;
  std::map<int64_t, std::string> id2label;  ///< class id -> name; its size is num_labels
  /// Attention heads removed from each layer, in the original numbering (HF `pruned_heads`,
  /// written by `prune_heads`; a model built from this config has those heads removed, so a
  /// pruned checkpoint's smaller matrices load). Every layer keeps at least one head.
  std::map<int64_t, std::vector<int64_t>> pruned_heads;
  /// Everything else in the file, kept so that save writes it back unchanged.
  nlohmann::json extra = nlohmann::json::object();

  /// Number of classes of a classification head (HF: `len(id2label)`, default 2).
  int64_t num_labels() const { return id2label.empty() ? 2 : int64_t(id2label.size()); }
  /// Sets `num_labels` classes named LABEL_0..LABEL_{n-1} (HF's default names).
  void set_num_labels(int64_t n) {
    EMBER_CHECK(n >= 1, "BertConfig: num_labels must be >= 1, found ", n);
    id2label.clear();
    for (int64_t i = 0; i < n; ++i) id2label[i] = "LABEL_" + std::to_string(i);
  }
  std::map<std::string, int64_t> label2id() const {
    std::map<std::string, int64_t> m;
    for (auto& [id, name] : id2label) m[name] = id;
    return m;
  }
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  /// The width of the embedding tables: embedding_size (ELECTRA) or hidden_size.
  int64_t embedding_dim() const { return embedding_size > 0 ? embedding_size : hidden_size; }

  /// The family of `model_type`; throws `ember::Error` listing the supported ones.
  Family family() const { return family_of(model_type); }
  static Family family_of(const std::string& model_type) {
    if (model_type == "bert") return Family::Bert;
    if (model_type == "roberta" || model_type == "xlm-roberta" || model_type == "camembert")
      return Family::Roberta;
    if (model_type == "distilbert") return Family::DistilBert;
    if (model_type == "electra") return Family::Electra;
    EMBER_FAIL("BertConfig: unsupported model_type \"", model_type, "\" (supported: bert, roberta, "
               "xlm-roberta, camembert, distilbert, electra)");
  }
  /// The attribute that holds the encoder in a model with a head, and so the prefix of its
  /// checkpoint keys (HF's `base_model_prefix`): "bert", "roberta" (also XLM-R and CamemBERT),
  /// "distilbert" or "electra".
  std::string base_model_prefix() const {
    switch (family()) {
      case Family::Bert: return "bert";
      case Family::Roberta: return "roberta";
      case Family::DistilBert: return "distilbert";
      case Family::Electra: return "electra";
    }
    return "bert";
  }
  /// The family's class-name stem for `architectures`: "Bert", "Roberta", "XLMRoberta",
  /// "Camembert", "DistilBert", "Electra".
  std::string class_prefix() const {
    if (model_type == "xlm-roberta") return "XLMRoberta";
    if (model_type == "camembert") return "Camembert";
    switch (family()) {
      case Family::Bert: return "Bert";
      case Family::Roberta: return "Roberta";
      case Family::DistilBert: return "DistilBert";
      case Family::Electra: return "Electra";
    }
    return "Bert";
  }
  /// Dropout before a classification head's projection: config.json's `classifier_dropout`
  /// when set (DistilBERT: `seq_classif_dropout`, default 0.2), else hidden_dropout_prob.
  double classifier_dropout() const {
    const char* key = family() == Family::DistilBert ? "seq_classif_dropout" : "classifier_dropout";
    if (extra.contains(key) && extra[key].is_number()) return extra[key].get<double>();
    return family() == Family::DistilBert ? 0.2 : hidden_dropout_prob;
  }

  /// The activation of the feed-forward block; throws for an unsupported `hidden_act`.
  nn::Activation activation() const {
    if (hidden_act == "gelu") return nn::Activation::Gelu;
    if (hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh" || hidden_act == "gelu_fast")
      return nn::Activation::GeluTanh;
    if (hidden_act == "relu") return nn::Activation::Relu;
    EMBER_FAIL("BertConfig: unsupported hidden_act \"", hidden_act,
               "\" (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)");
  }

  /// The config.json keys of the fields whose names differ by family (DistilBERT's own).
  struct KeyNames {
    const char *hidden_size, *num_hidden_layers, *num_attention_heads, *intermediate_size,
        *hidden_act, *hidden_dropout_prob, *attention_probs_dropout_prob;
  };
  static const KeyNames& key_names(Family f) {
    static const KeyNames bert{"hidden_size", "num_hidden_layers", "num_attention_heads",
                               "intermediate_size", "hidden_act", "hidden_dropout_prob",
                               "attention_probs_dropout_prob"};
    static const KeyNames distilbert{"dim", "n_layers", "n_heads", "hidden_dim", "activation",
                                     "dropout", "attention_dropout"};
    return f == Family::DistilBert ? distilbert : bert;
  }

  /// The defaults of the family's HF config class, for keys a file leaves out
  /// (RobertaConfig, DistilBertConfig, ElectraConfig in transformers 4.44).
  void set_family_defaults_() {
    switch (family()) {
      case Family::Bert: break;
      case Family::Roberta:
        if (model_type == "roberta") vocab_size = 50265;  // XLM-R's and CamemBERT's: 30522
        pad_token_id = 1;
        break;
      case Family::DistilBert:
        num_hidden_layers = 6, type_vocab_size = 0, layer_norm_eps = 1e-12;
        break;
      case Family::Electra:
        embedding_size = 128, hidden_size = 256, num_attention_heads = 4, intermediate_size = 1024;
        break;
    }
  }

  /// Checks the values a model needs; throws `ember::Error` naming the field.
  void validate() const {
    auto positive = [](const char* name, int64_t v) {
      EMBER_CHECK(v > 0, "BertConfig: ", name, " must be positive, found ", v);
    };
    positive("vocab_size", vocab_size);
    positive("hidden_size", hidden_size);
    positive("num_hidden_layers", num_hidden_layers);
    positive("num_attention_heads", num_attention_heads);
    positive("intermediate_size", intermediate_size);
    positive("max_position_embeddings", max_position_embeddings);
    const Family fam = family();
    if (fam == Family::DistilBert)
      EMBER_CHECK(type_vocab_size == 0 && layer_norm_eps == 1e-12, "BertConfig: a distilbert "
                  "model has no token types and LayerNorm eps 1e-12, found type_vocab_size ",
                  type_vocab_size, " and layer_norm_eps ", layer_norm_eps);
    else
      positive("type_vocab_size", type_vocab_size);
    EMBER_CHECK(embedding_size >= 0 && (embedding_size == 0 || fam == Family::Electra),
                "BertConfig: embedding_size (", embedding_size, ") is an electra setting; "
                "model_type is \"", model_type, "\"");
    EMBER_CHECK(hidden_size % num_attention_heads == 0, "BertConfig: hidden_size (", hidden_size,
                ") must be a multiple of num_attention_heads (", num_attention_heads, ")");
    EMBER_CHECK(position_embedding_type == "absolute",
                "BertConfig: unsupported position_embedding_type \"", position_embedding_type,
                "\" (ember supports \"absolute\")");
    EMBER_CHECK(hidden_dropout_prob >= 0 && hidden_dropout_prob < 1 &&
                    attention_probs_dropout_prob >= 0 && attention_probs_dropout_prob < 1,
                "BertConfig: dropout probabilities must be in [0, 1), found ", hidden_dropout_prob,
                " and ", attention_probs_dropout_prob);
    EMBER_CHECK(pad_token_id >= 0 && pad_token_id < vocab_size, "BertConfig: pad_token_id ",
                pad_token_id, " is outside the vocabulary (vocab_size ", vocab_size, ")");
    if (fam == Family::Roberta)  // positions run from pad_token_id + 1 (bert.hpp)
      EMBER_CHECK(pad_token_id + 1 < max_position_embeddings, "BertConfig: a ", model_type,
                  " model counts positions from pad_token_id + 1 = ", pad_token_id + 1,
                  ", which max_position_embeddings (", max_position_embeddings, ") must exceed");
    for (const auto& [layer, heads] : pruned_heads) {
      EMBER_CHECK(layer >= 0 && layer < num_hidden_layers, "BertConfig: pruned_heads names layer ",
                  layer, ", outside [0, ", num_hidden_layers, ")");
      std::set<int64_t> distinct;
      for (int64_t h : heads) {
        EMBER_CHECK(h >= 0 && h < num_attention_heads, "BertConfig: pruned_heads of layer ", layer,
                    " names head ", h, ", outside [0, ", num_attention_heads, ")");
        distinct.insert(h);
      }
      EMBER_CHECK(int64_t(distinct.size()) < num_attention_heads, "BertConfig: pruned_heads removes "
                  "every head of layer ", layer, " (ember keeps at least one per layer)");
    }
    (void)activation();
  }

  /// Parses a Hugging Face config.json object. Throws on wrong types or unsupported values.
  static BertConfig from_json(const nlohmann::json& j, const std::string& source = "config") {
    EMBER_CHECK(j.is_object(), source, ": expected a JSON object");
    BertConfig c;
    auto get = [&](const char* key, auto& field) {
      if (!j.contains(key) || j[key].is_null()) return;
      if constexpr (std::is_same_v<std::decay_t<decltype(field)>, int64_t>) {
        // nlohmann would cast 1e20 (undefined behaviour), 2.5 or 2^64-1 to int64_t silently.
        const nlohmann::json& v = j[key];
        EMBER_CHECK(v.is_number_integer() &&
                        !(v.is_number_unsigned() &&
                          v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())),
                    source, ": field \"", key, "\" must be an integer (64-bit), found ",
                    v.is_number() ? v.dump() : std::string(v.type_name()));
      }
      try {
        j.at(key).get_to(field);
      } catch (const nlohmann::json::exception& e) {
        EMBER_FAIL(source, ": field \"", key, "\" has the wrong type (", j[key].type_name(),
                   "): ", e.what());
      }
    };
    // The family first: it decides the defaults and, for DistilBERT, the key names.
    if (j.contains("model_type") && !j["model_type"].is_null()) {
      EMBER_CHECK(j["model_type"].is_string(), source, ": model_type must be a string, found ",
                  j["model_type"].type_name());
      c.model_type = j["model_type"].get<std::string>();
      try {
        (void)family_of(c.model_type);
      } catch (const Error&) {
        EMBER_FAIL(source, ": model_type is \"", c.model_type, "\"; ember reads bert, roberta, "
                   "xlm-roberta, camembert, distilbert and electra");
      }
    }
    const Family fam = c.family();
    c.set_family_defaults_();
    const KeyNames& k = key_names(fam);
    get("vocab_size", c.vocab_size);
    get(k.hidden_size, c.hidden_size);
    get(k.num_hidden_layers, c.num_hidden_layers);
    get(k.num_attention_heads, c.num_attention_heads);
    get(k.intermediate_size, c.intermediate_size);
    get(k.hidden_act, c.hidden_act);
    get(k.hidden_dropout_prob, c.hidden_dropout_prob);
    get(k.attention_probs_dropout_prob, c.attention_probs_dropout_prob);
    get("max_position_embeddings", c.max_position_embeddings);
    get("initializer_range", c.initializer_range);
    get("pad_token_id", c.pad_token_id);
    get("problem_type", c.problem_type);
    get("tie_word_embeddings", c.tie_word_embeddings);
    if (fam != Family::DistilBert) {
      get("type_vocab_size", c.type_vocab_size);
      get("layer_norm_eps", c.layer_norm_eps);
      get("position_embedding_type", c.position_embedding_type);
    } else {
      bool sinusoidal = false;
      get("sinusoidal_pos_embds", sinusoidal);
      EMBER_CHECK(!sinusoidal, source, ": sinusoidal_pos_embds is true; ember's DistilBERT reads "
                  "learned position embeddings only (sinusoidal_pos_embds false)");
    }
    if (fam == Family::Electra) get("embedding_size", c.embedding_size);
    if (j.contains("id2label") && j["id2label"].is_object()) {
      for (auto& [k, v] : j["id2label"].items()) {
        int64_t id;
        try {
          id = std::stoll(k);
        } catch (const std::exception&) {
          EMBER_FAIL(source, ": id2label key \"", k, "\" is not an integer");
        }
        EMBER_CHECK(v.is_string(), source, ": id2label[", k, "] must be a string");
        c.id2label[id] = v.get<std::string>();
      }
      for (int64_t i = 0; i < int64_t(c.id2label.size()); ++i)
        EMBER_CHECK(c.id2label.count(i), source, ": id2label must have ids 0..",
                    c.id2label.size() - 1, "; id ", i, " is missing");
    } else if (j.contains("num_labels")) {
      int64_t n = 2;
      get("num_labels", n);
      // set_num_labels makes n names: bound it, so that a corrupt file cannot ask for 10^18.
      constexpr int64_t kMaxLabels = 100000;
      EMBER_CHECK(n >= 1 && n <= kMaxLabels, source, ": num_labels must be in [1, ", kMaxLabels,
                  "], found ", n);
      c.set_num_labels(n);
    }
    if (j.contains("pruned_heads") && !j["pruned_heads"].is_null()) {
      const nlohmann::json& ph = j["pruned_heads"];
      EMBER_CHECK(ph.is_object(), source, ": pruned_heads must be an object {\"layer\": [heads]}, "
                  "found ", ph.type_name());
      for (auto& [k, v] : ph.items()) {
        int64_t layer;
        std::size_t used = 0;
        try {
          layer = std::stoll(k, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        EMBER_CHECK(used == k.size() && !k.empty(), source, ": pruned_heads key \"", k,
                    "\" is not a layer index");
        EMBER_CHECK(v.is_array(), source, ": pruned_heads[", k, "] must be a list of head indices");
        for (const auto& h : v) {
          EMBER_CHECK(h.is_number_integer(), source, ": pruned_heads[", k,
                      "] must hold integers, found ", h.dump());
          c.pruned_heads[layer].push_back(h.get<int64_t>());
        }
      }
    }
    std::set<std::string> known = {"model_type", "vocab_size", "max_position_embeddings",
                                   "initializer_range", "pad_token_id", "problem_type",
                                   "id2label", "tie_word_embeddings", "pruned_heads", "label2id",
                                   "num_labels", k.hidden_size, k.num_hidden_layers,
                                   k.num_attention_heads, k.intermediate_size, k.hidden_act,
                                   k.hidden_dropout_prob, k.attention_probs_dropout_prob};
    if (fam == Family::DistilBert)
      known.insert("sinusoidal_pos_embds");
    else
      known.insert({"type_vocab_size", "layer_norm_eps", "position_embedding_type"});
    if (fam == Family::Electra) known.insert("embedding_size");
    for (auto& [key, v] : j.items())
      if (!known.count(key)) c.extra[key] = v;
    c.validate();
    return c;
  }

  /// Reads `path` (a config.json). Throws naming the path when missing or invalid.
  static BertConfig from_file(const std::string& path) {
    std::ifstream in(path);
    EMBER_CHECK(in.good(), "BertConfig: cannot open ", path, " (file missing or unreadable)");
    nlohmann::json j;
    try {
      in >> j;
    } catch (const nlohmann::json::exception& e) {
      EMBER_FAIL("BertConfig: ", path, " is not valid JSON: ", e.what());
    }
    return from_json(j, path);
  }

  /// A config.json object that Hugging Face transformers reads back as this config.
  /// `architecture` names the class (e.g. "RobertaForSequenceClassification"); empty: the
  /// family's base model ("BertModel", "RobertaModel", ...).
  nlohmann::json to_json(const std::string& architecture = "") const {
    const Family fam = family();
    const KeyNames& k = key_names(fam);
    nlohmann::json j = extra;
    j["model_type"] = model_type;
    j["architectures"] = {architecture.empty() ? class_prefix() + "Model" : architecture};
    j["vocab_size"] = vocab_size;
    j[k.hidden_size] = hidden_size;
    j[k.num_hidden_layers] = num_hidden_layers;
    j[k.num_attention_heads] = num_attention_heads;
    j[k.intermediate_size] = intermediate_size;
    j[k.hidden_act] = hidden_act;
    j[k.hidden_dropout_prob] = hidden_dropout_prob;
    j[k.attention_probs_dropout_prob] = attention_probs_dropout_prob;
    j["max_position_embeddings"] = max_position_embeddings;
    j["initializer_range"] = initializer_range;
    j["pad_token_id"] = pad_token_id;
    if (fam == Family::DistilBert) {
      j["sinusoidal_pos_embds"] = false;
    } else {
      j["type_vocab_size"] = type_vocab_size;
      j["layer_norm_eps"] = layer_norm_eps;
      j["position_embedding_type"] = position_embedding_type;
    }
    if (fam == Family::Electra) j["embedding_size"] = embedding_dim();
    if (!problem_type.empty()) j["problem_type"] = problem_type;
    j["tie_word_embeddings"] = tie_word_embeddings;
    nlohmann::json id2 = nlohmann::json::object(), l2i = nlohmann::json::object();
    for (auto& [id, name] : id2label) {
      id2[std::to_string(id)] = name;
      l2i[name] = id;
    }
    if (!id2label.empty()) {
      j["id2label"] = id2;
      j["label2id"] = l2i;
    }
    if (!pruned_heads.empty()) {
      nlohmann::json ph = nlohmann::json::object();
      for (const auto& [layer, heads] : pruned_heads) ph[std::to_string(layer)] = heads;
      j["pruned_heads"] = ph;
    }
    return j;
  }
};

}  // namespace ember::models::bert
