// ember/models/bert/config.hpp — `BertConfig`, the hyperparameters of a BERT model, read from and
// written to a Hugging Face `config.json`.
//
// Field names and defaults are those of `transformers.BertConfig` (transformers 4.44): a file
// written by Hugging Face loads here, and `to_json()` writes a file Hugging Face loads back
// (with `model_type: "bert"` and `architectures`). Values ember cannot honour (an unknown
// `hidden_act`, `position_embedding_type` other than "absolute") are rejected with an
// `ember::Error` naming the field, the value found and the values supported.
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

/// BERT hyperparameters (Devlin et al. 2019, Table/Appendix A; HF `BertConfig`).
struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";  ///< "gelu" (erf), "gelu_new"/"gelu_pytorch_tanh" (tanh), "relu"
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double initializer_range = 0.02;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  std::string position_embedding_type = "absolute";
  std::string problem_type;                 ///< "" or "single_label_classification"
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

  /// The activation of the feed-forward block; throws for an unsupported `hidden_act`.
  nn::Activation activation() const {
    if (hidden_act == "gelu") return nn::Activation::Gelu;
    if (hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh" || hidden_act == "gelu_fast")
      return nn::Activation::GeluTanh;
    if (hidden_act == "relu") return nn::Activation::Relu;
    EMBER_FAIL("BertConfig: unsupported hidden_act \"", hidden_act,
               "\" (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)");
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
    positive("type_vocab_size", type_vocab_size);
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
    get("vocab_size", c.vocab_size);
    get("hidden_size", c.hidden_size);
    get("num_hidden_layers", c.num_hidden_layers);
    get("num_attention_heads", c.num_attention_heads);
    get("intermediate_size", c.intermediate_size);
    get("hidden_act", c.hidden_act);
    get("hidden_dropout_prob", c.hidden_dropout_prob);
    get("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
    get("max_position_embeddings", c.max_position_embeddings);
    get("type_vocab_size", c.type_vocab_size);
    get("initializer_range", c.initializer_range);
    get("layer_norm_eps", c.layer_norm_eps);
    get("pad_token_id", c.pad_token_id);
    get("position_embedding_type", c.position_embedding_type);
    get("problem_type", c.problem_type);
    get("tie_word_embeddings", c.tie_word_embeddings);
    if (j.contains("model_type") && j["model_type"].is_string()) {
      std::string mt = j["model_type"];
      EMBER_CHECK(mt == "bert", source, ": model_type is \"", mt, "\", expected \"bert\"");
    }
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
    static const char* known[] = {"vocab_size", "hidden_size", "num_hidden_layers",
                                  "num_attention_heads", "intermediate_size", "hidden_act",
                                  "hidden_dropout_prob", "attention_probs_dropout_prob",
                                  "max_position_embeddings", "type_vocab_size",
                                  "initializer_range", "layer_norm_eps", "pad_token_id",
                                  "position_embedding_type", "problem_type", "id2label",
                                  "tie_word_embeddings", "pruned_heads",
                                  "label2id", "num_labels"};
    for (auto& [k, v] : j.items()) {
      bool is_known = false;
      for (const char* kn : known) is_known = is_known || k == kn;
      if (!is_known) c.extra[k] = v;
    }
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
  nlohmann::json to_json(const std::string& architecture = "BertModel") const {
    nlohmann::json j = extra;
    j["model_type"] = "bert";
    j["architectures"] = {architecture};
    j["vocab_size"] = vocab_size;
    j["hidden_size"] = hidden_size;
    j["num_hidden_layers"] = num_hidden_layers;
    j["num_attention_heads"] = num_attention_heads;
    j["intermediate_size"] = intermediate_size;
    j["hidden_act"] = hidden_act;
    j["hidden_dropout_prob"] = hidden_dropout_prob;
    j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
    j["max_position_embeddings"] = max_position_embeddings;
    j["type_vocab_size"] = type_vocab_size;
    j["initializer_range"] = initializer_range;
    j["layer_norm_eps"] = layer_norm_eps;
    j["pad_token_id"] = pad_token_id;
    j["position_embedding_type"] = position_embedding_type;
    if (!problem_type.empty()) j["problem_type"] = problem_type;
    if (!tie_word_embeddings) j["tie_word_embeddings"] = false;
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
