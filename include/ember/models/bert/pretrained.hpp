// ember/models/bert/pretrained.hpp — loading and saving Hugging Face-layout directories of the
// BERT-architecture families (`config.json` + `model.safetensors` [+ the tokenizer's files]):
// BERT, RoBERTa / XLM-R / CamemBERT, DistilBERT, ELECTRA (config.json's model_type;
// models/auto.hpp dispatches on it).
//
// Real checkpoints vary in small ways; the loader maps them onto ember's (= Hugging Face's)
// parameter names before loading:
//  * with or without the family's prefix (`bert.`, `roberta.`, `distilbert.`, `electra.`): a base
//    model checkpoint loads into a model with a head and a head's checkpoint into the base model;
//  * DistilBERT's own encoder names (`transformer.layer.<i>.attention.q_lin`, `sa_layer_norm`,
//    `ffn.lin1`, ...) ↔ BERT's, which ember's shared encoder uses (`distilbert_renames`); saving
//    writes DistilBERT's names back;
//  * legacy LayerNorm names `gamma`/`beta` (TensorFlow-converted checkpoints) → `weight`/`bias`;
//  * `embeddings.position_ids` (a non-trainable buffer older transformers saved) is a known
//    buffer: checked to be 0, 1, ..., n − 1 (anything else is an error) and not reported;
//    a head the model lacks (`cls.*` in a classifier, `classifier.*` or the next-sentence
//    `cls.seq_relationship.*` in an MLM) is skipped and reported as unused;
//  * a missing pooler or head keeps its fresh initialization and is reported as missing;
//  * tied weights (the MLM decoder shares the word-embedding matrix) load through their first
//    name, so a checkpoint that stores the shared matrix once — as Hugging Face saves it — is
//    complete; saving writes it once too.
// Any other missing parameter is an error (strict), as is a shape that disagrees with the config:
// the message names the parameter and both shapes. Tensors stored as F16/BF16/F64 are converted.
// `save_pretrained` writes F32 safetensors with Hugging Face's names and a config.json that
// transformers' `AutoModel`/`AutoModelForSequenceClassification` load; every file is written to
// a temporary name and renamed, so an interrupted save never leaves a half-written file.
#pragma once

#include <ember/backend/int8_weights.hpp>
#include <ember/data/wordpiece_tokenizer.hpp>
#include <ember/io/checkpoint.hpp>
#include <ember/io/safetensors.hpp>
#include <ember/models/bert/bert.hpp>
#include <ember/models/bert/masked_lm.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ember::models::bert {

/// What `from_pretrained` did with the checkpoint's keys.
struct LoadReport {
  std::vector<std::string> missing_keys;     ///< parameters left at their fresh initialization
  std::vector<std::string> unexpected_keys;  ///< checkpoint tensors that were not used
  std::vector<std::string> renamed_keys;     ///< "old -> new" for legacy names
  std::string summary() const {
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
      return s.empty() ? std::string("none") : s;
    };
    return "missing (freshly initialized): " + join(missing_keys) +
           "; unused from checkpoint: " + join(unexpected_keys);
  }
};

namespace detail {
inline bool starts_with(const std::string& s, const std::string& p) {
  return s.compare(0, p.size(), p) == 0;
}
inline bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}
inline std::string require_file(const std::string& dir, const std::string& name, const char* who) {
  std::string path = (std::filesystem::path(dir) / name).string();
  EMBER_CHECK(!std::filesystem::is_regular_file(dir), who, ": ", dir,
              " is a file, not a directory; pass the model directory that holds it (config.json, "
              "model.safetensors and vocab.txt)");
  EMBER_CHECK(std::filesystem::is_directory(dir), who, ": model directory ", dir,
              " does not exist (expected a Hugging Face-layout directory with config.json, "
              "model.safetensors and vocab.txt)");
  EMBER_CHECK(std::filesystem::is_regular_file(path), who, ": missing file ", path);
  return path;
}

/// DistilBERT's names for the parts of an encoder layer and ember's (BERT's) for the same
/// tensors, attention's first so that `.attention.output.dense.` is matched before
/// `.output.dense.` when translating back.
inline const std::vector<std::pair<std::string, std::string>>& distilbert_renames() {
  static const std::vector<std::pair<std::string, std::string>> r = {
      {".attention.q_lin.", ".attention.self.query."},
      {".attention.k_lin.", ".attention.self.key."},
      {".attention.v_lin.", ".attention.self.value."},
      {".attention.out_lin.", ".attention.output.dense."},
      {".sa_layer_norm.", ".attention.output.LayerNorm."},
      {".ffn.lin1.", ".intermediate.dense."},
      {".ffn.lin2.", ".output.dense."},
      {".output_layer_norm.", ".output.LayerNorm."}};
  return r;
}
/// Replaces the first listed part found in `key` (from → to, or to → from with `back`).
inline std::string rename_part(std::string key, bool back) {
  for (const auto& [distil, bert] : distilbert_renames()) {
    const std::string& from = back ? bert : distil;
    const std::string& to = back ? distil : bert;
    std::size_t at = key.find(from);
    if (at != std::string::npos) return key.replace(at, from.size(), to);
  }
  return key;
}
/// ember's name of an encoder key without prefix (DistilBERT: `transformer.layer.` → BERT's).
inline std::string encoder_key_from_checkpoint(const std::string& key, const BertConfig& c) {
  if (c.family() != Family::DistilBert || !starts_with(key, "transformer.layer.")) return key;
  return rename_part("encoder.layer." + key.substr(18), false);
}
/// The checkpoint name of ember's parameter `name` (DistilBERT's names; others unchanged).
inline std::string checkpoint_key(const std::string& name, const BertConfig& c) {
  if (c.family() != Family::DistilBert) return name;
  const std::string body = c.base_model_prefix() + ".encoder.layer.";
  std::size_t at = starts_with(name, "encoder.layer.") ? 0
                   : starts_with(name, body)           ? body.size() - 14
                                                       : std::string::npos;
  if (at == std::string::npos) return name;
  return rename_part(name.substr(0, at) + "transformer.layer." + name.substr(at + 14), true);
}

/// Maps a checkpoint key onto ember's name for a model of config `c` whose encoder sits under
/// `prefix` ("" for the base model, "<base_model_prefix>." for heads). Returns "" for keys to
/// ignore.
inline std::string map_key(const std::string& original, const BertConfig& c,
                           const std::string& prefix, LoadReport& report) {
  std::string key = original;
  bool legacy = false;
  if (ends_with(key, ".gamma")) key = key.substr(0, key.size() - 6) + ".weight", legacy = true;
  if (ends_with(key, ".beta")) key = key.substr(0, key.size() - 5) + ".bias", legacy = true;
  const std::string own = c.base_model_prefix() + ".";
  if (starts_with(key, own)) key = key.substr(own.size());
  key = encoder_key_from_checkpoint(key, c);
  bool body = starts_with(key, "embeddings.") || starts_with(key, "encoder.") ||
              starts_with(key, "pooler.") || starts_with(key, "embeddings_project.");
  if (body) key = prefix + key;  // otherwise a head parameter such as classifier.weight
  if (legacy) report.renamed_keys.push_back(original + " -> " + key);
  return key;
}

/// Loads `path` into `model` (whose BERT body is under `prefix`), filling `report`.
/// `embeddings.position_ids`, a buffer that older transformers saved: it must be 0, 1, 2, ...
/// (shape [n] or [1, n]), since ember computes positions itself; anything else would be silently
/// ignored, so it is an error.
inline void check_position_ids(const io::SafetensorsFile& file, const std::string& key,
                               const std::string& path) {
  const Tensor<int64_t> ids = file.get<int64_t>(key);
  const Shape& s = ids.shape();
  EMBER_CHECK(s.size() == 1 || (s.size() == 2 && s[0] == 1), "from_pretrained: ", key, " in ",
              path, " has shape ", s, "; expected [n] or [1, n] (0, 1, ..., n - 1)");
  const Tensor<int64_t> flat = ids.contiguous();
  for (int64_t i = 0; i < flat.numel(); ++i)
    EMBER_CHECK(flat.data()[i] == i, "from_pretrained: ", key, " in ", path, " holds ",
                flat.data()[i], " at position ", i, "; expected 0, 1, ..., n - 1 (ember computes "
                "the positions itself and cannot use another order)");
}

/// Loads the checkpoint at `path` into `model` (of config `config`), whose encoder sits under
/// `prefix` ("" for the base model, "<base_model_prefix>." for a model with a head). Optional, i.e. left at their fresh
/// initialization and reported missing: the pooler, and with a prefix every head parameter (the
/// names outside it: a plain BERT checkpoint gets a fresh head, as in HF). Tied weights
/// (`Module::tied_state_keys()`, e.g. the MLM decoder) load through their first name: a
/// checkpoint storing the shared matrix once is complete, as Hugging Face saves it.
/// `skip_head`: the checkpoint's last head layer is not used (another number of classes).
template <class T>
void load_checkpoint(nn::Module<T>& model, const BertConfig& config, const std::string& path,
                     const std::string& prefix, LoadReport& report, bool skip_head = false) {
  io::SafetensorsFile file = io::SafetensorsFile::open(path);
  nn::StateDict<T> own = model.state_dict();
  const std::map<std::string, std::string> tied = model.tied_state_keys();
  std::map<std::string, Tensor<T>> own_by_name(own.begin(), own.end());
  std::map<std::string, std::string> name_of;  // checkpoint key -> ember name (used keys)
  for (const std::string& key : file.keys()) {
    if (ends_with(key, ".weight_scale") && file.contains(key.substr(0, key.size() - 6)))
      continue;  // the float scales of an int8 weight: read with it below
    if (key == "embeddings.position_ids" ||
        key == config.base_model_prefix() + ".embeddings.position_ids") {
      check_position_ids(file, key, path);  // a known buffer: ember computes positions itself
      continue;
    }
    std::string name = map_key(key, config, prefix, report);
    // A head for another number of classes: its last layer is re-initialized.
    if (skip_head && (name == "classifier.weight" || name == "classifier.bias" ||
                      starts_with(name, "classifier.out_proj.")))
      name.clear();
    if (!own_by_name.count(name))
      report.unexpected_keys.push_back(key);
    else
      name_of[key] = name;
  }
  std::set<std::string> given;
  for (auto& [key, name] : name_of) given.insert(name);
  std::set<std::string> loaded;
  NoGradGuard no_grad;
  for (const auto& [key, name] : name_of) {
    auto tie = tied.find(name);
    if (tie != tied.end() && given.count(tie->second)) continue;  // loaded under its first name
    auto it = own_by_name.find(name);
    const io::TensorInfo& info = file.info(key);
    EMBER_CHECK(info.shape == it->second.shape(), "from_pretrained: parameter ", name,
                " has shape ", info.shape, " in ", path, " but the config gives ",
                it->second.shape());
    EMBER_CHECK(loaded.insert(name).second, "from_pretrained: parameter ", name,
                " appears twice in ", path, " (e.g. with and without the bert. prefix)");
    if (info.dtype == "I8") {  // an int8 weight (save_weights): W = q · scale per row
      const std::string sk = key + "_scale";
      EMBER_CHECK(info.shape.size() == 2 && file.contains(sk), "from_pretrained: ", key, " in ",
                  path, " is int8 (I8) but ", sk, " (its float scales) is missing");
      EMBER_CHECK(file.info(sk).shape == Shape{info.shape[0]} && file.info(sk).dtype == "F32",
                  "from_pretrained: ", sk, " in ", path, " is ", file.info(sk).dtype, " of shape ",
                  file.info(sk).shape, ", expected F32 [", info.shape[0], "]");
      const Tensor<float> q = file.get<float>(key), scale = file.get<float>(sk);
      for (float v : q.to_vector())
        EMBER_CHECK(v >= -127.0f && v <= 127.0f, "from_pretrained: ", key, " in ", path,
                    " holds ", v, "; int8 weights are in [-127, 127]");
      for (float v : scale.to_vector())
        EMBER_CHECK(std::isfinite(v) && v > 0.0f, "from_pretrained: ", sk, " in ", path,
                    " holds the scale ", v, "; scales are finite and > 0");
      it->second.copy_((q * scale.view({info.shape[0], 1})).template to<T>());
    } else {
      EMBER_CHECK(!file.contains(key + "_scale"), "from_pretrained: ", key, " in ", path,
                  " is stored as ", info.dtype, " but has int8 scales (", key,
                  "_scale): an int8 weight must be I8");
      it->second.copy_(file.get<T>(key));
    }
  }
  for (auto& [alias, first] : tied)
    if (loaded.count(alias)) loaded.insert(first);  // the shared tensor was loaded either way
  for (auto& [name, t] : own) {
    auto tie = tied.find(name);
    if (loaded.count(name) || (tie != tied.end() && loaded.count(tie->second))) continue;
    if (tie != tied.end()) continue;  // reported under its first name
    bool optional = starts_with(name, prefix + "pooler.") ||
                    (!prefix.empty() && !starts_with(name, prefix));
    EMBER_CHECK(optional, "from_pretrained: ", path, " has no tensor for parameter ", name,
                " (nor its legacy or prefixed variants)");
    report.missing_keys.push_back(name);
  }
}

/// config.json's `quantization_config` of an int8 model. Its unknown `quant_method` makes
/// Hugging Face refuse the directory with an error instead of reading int8 numbers as weights.
inline nlohmann::json int8_quantization_config() {
  return {{"quant_method", "ember_dynamic_int8"},
          {"bits", 8},
          {"weights", "int8, symmetric, one float32 scale per output channel: <name>.weight_scale"},
          {"activations", "int8, symmetric, one scale per row, computed at run time"}};
}
inline bool is_int8_config(const BertConfig& c) {
  return c.extra.contains("quantization_config") && c.extra["quantization_config"].is_object() &&
         c.extra["quantization_config"].value("quant_method", "") == "ember_dynamic_int8";
}

/// W [n, k] → (q [n, k] int8, s [n] float), each row by backend::quantize_weight_row_s8 — the
/// form the int8 products derive from W, so a saved model loads back to the same integers.
inline std::pair<Tensor<int8_t>, Tensor<float>> quantize_weight_s8(const Tensor<float>& w) {
  const Tensor<float> c = w.to(Device::cpu()).contiguous();
  const int64_t n = c.size(0), k = c.size(1);
  Tensor<int8_t> q = Tensor<int8_t>::empty({n, k});
  Tensor<float> s = Tensor<float>::empty({n});
  for (int64_t i = 0; i < n; ++i)
    s.data()[i] = backend::quantize_weight_row_s8(c.data() + i * k, 1, q.data() + i * k, k);
  return {q, s};
}

/// Writes `model`'s weights as io::save_state_dict does — F32, tied weights once — under their
/// checkpoint names (`checkpoint_key`: DistilBERT's own), except that the weight of every Linear
/// layer in dynamic int8 is stored as I8 `<name>.weight` with its F32 scales
/// `<name>.weight_scale` [out_features] (a weight tied to another name is stored once, in float).
template <class T>
void save_weights(const nn::Module<T>& model, const BertConfig& config, const std::string& path) {
  const bool int8 = nn::is_quantized_dynamic(model);
  std::set<std::string> int8_weights;
  if constexpr (std::is_same_v<T, float>) {
    for (const auto& [name, m] : model.named_modules())
      if (auto* lin = dynamic_cast<const nn::Linear<float>*>(m); lin && lin->dynamic_int8())
        int8_weights.insert(name.empty() ? "weight" : name + ".weight");
  }
  const std::map<std::string, std::string> tied = model.tied_state_keys();
  std::vector<std::pair<std::string, io::TensorVariant>> tensors;
  for (auto& [name, t] : model.state_dict()) {
    if (tied.count(name)) continue;
    const std::string key = checkpoint_key(name, config);
    if (int8_weights.count(name)) {
      auto [q, s] = quantize_weight_s8(t.template to<float>());
      tensors.emplace_back(key, q);
      tensors.emplace_back(key + "_scale", s);
    } else {
      tensors.emplace_back(key, t.template to<float>());
    }
  }
  std::map<std::string, std::string> meta = {{"format", "pt"}};
  if (int8) meta["quantization"] = "ember_dynamic_int8";
  io::save_safetensors(path, tensors, meta);
}

/// After loading an int8 directory: its Linear layers go back to int8 (nn::quantize_dynamic
/// re-derives the saved q exactly from the dequantized weights). Throws for T other than float.
template <class T>
void apply_saved_quantization(nn::Module<T>& model, const BertConfig& c, const std::string& dir) {
  if (!c.extra.contains("quantization_config") || c.extra["quantization_config"].is_null()) return;
  const nlohmann::json& qc = c.extra["quantization_config"];
  EMBER_CHECK(is_int8_config(c) && qc.value("bits", 8) == 8, "from_pretrained: ", dir,
              "/config.json has quantization_config ", qc.dump(), "; ember reads only its own "
              "int8 models (quant_method \"ember_dynamic_int8\", bits 8)");
  if constexpr (std::is_same_v<T, float>) {
    nn::quantize_dynamic(model);
  } else {
    EMBER_FAIL("from_pretrained: ", dir, " holds an int8 model (quantization_config "
               "ember_dynamic_int8), which loads as float only");
  }
}

/// The config to save with `model`: `quantization_config` set when it has int8 layers (the
/// weights are then saved in int8) and removed when it has none.
template <class T>
BertConfig config_for_save(const nn::Module<T>& model, BertConfig c) {
  if (nn::is_quantized_dynamic(model))
    c.extra["quantization_config"] = int8_quantization_config();
  else if (is_int8_config(c))
    c.extra.erase("quantization_config");
  return c;
}

/// Writes `j` to `path` atomically (temporary file, then rename).
inline void write_json_atomic(const std::string& path, const nlohmann::json& j) {
  io::AtomicFileWriter w(path, "save_pretrained");
  std::string s = j.dump(2) + "\n";
  w.write(s.data(), s.size());
  w.commit();
}

}  // namespace detail

/// Options of `bert_model_from_pretrained` / `bert_classifier_from_pretrained`, in the spirit of
/// Hugging Face's `from_pretrained(dir, num_labels=..., id2label=..., output_loading_info=True)`:
/// `FromPretrainedOptions().num_labels(3).loading_info(&report).generator(&gen)`.
/// HF returns the loading info alongside the model (`model, info = ...`); here it is written
/// through the `loading_info` pointer instead, so the call returns the model alone either way.
struct FromPretrainedOptions {
  using Id2Label = std::map<int64_t, std::string>;
  /// Classes of the classification head (unset: config.json's, or id2label's size when given).
  /// Named LABEL_0..LABEL_{n-1} (HF's default names) unless id2label is given too.
  EMBER_ARG(std::optional<int64_t>, num_labels);
  /// Class id -> name, ids 0..n-1 with distinct names (empty: config.json's, or LABEL_i);
  /// label2id is derived from it. Overrides config.json's labels.
  EMBER_ARG(Id2Label, id2label);
  /// Filled with the missing, unused and renamed keys (HF's `output_loading_info=True`);
  /// null: not reported.
  EMBER_ARG(LoadReport*, loading_info) = nullptr;
  /// Source of the fresh initializations (a new head, a missing pooler) and of the model's
  /// dropout masks; null: `default_generator()`. Must outlive the model.
  EMBER_ARG(Generator*, generator) = nullptr;
};

namespace detail {
/// Reads `dir/config.json`.
inline BertConfig read_config(const std::string& dir) {
  return BertConfig::from_file(require_file(dir, "config.json", "from_pretrained"));
}

/// Applies the options' num_labels / id2label to `config`. Throws `ember::Error` for
/// num_labels < 1, an id2label whose ids are not 0..n-1 or whose names repeat, or a num_labels
/// that disagrees with id2label's size.
inline void apply_label_options(BertConfig& config, const FromPretrainedOptions& o) {
  if (o.num_labels())
    EMBER_CHECK(*o.num_labels() >= 1, "from_pretrained: num_labels must be >= 1, found ",
                *o.num_labels());
  if (!o.id2label().empty()) {
    const int64_t n = int64_t(o.id2label().size());
    EMBER_CHECK(!o.num_labels() || *o.num_labels() == n, "from_pretrained: num_labels is ",
                *o.num_labels(), " but id2label has ", n, " labels");
    std::set<std::string> names;
    for (int64_t i = 0; i < n; ++i) {
      auto it = o.id2label().find(i);
      EMBER_CHECK(it != o.id2label().end(), "from_pretrained: id2label must have ids 0..", n - 1,
                  "; id ", i, " is missing");
      EMBER_CHECK(names.insert(it->second).second, "from_pretrained: id2label names label \"",
                  it->second, "\" twice (label2id needs distinct names)");
    }
    config.id2label = o.id2label();
  } else if (o.num_labels() && *o.num_labels() != config.num_labels()) {
    config.set_num_labels(*o.num_labels());
  }
}
}  // namespace detail

/// Loads the encoder (`BertModel`: HF's BertModel, RobertaModel, XLMRobertaModel,
/// DistilBertModel, ElectraModel — config.json's model_type) from a Hugging Face-layout directory
/// (`config.json`, `model.safetensors`). Throws `ember::Error` naming the missing file, the bad
/// config field, or the parameter whose shape disagrees. `options.num_labels`/`id2label` only
/// set the config's labels (there is no head); `loading_info` receives what was missing or unused.
template <class T>
std::shared_ptr<BertModel<T>> bert_model_from_pretrained(
    const std::string& dir, const FromPretrainedOptions& options = {}) {
  BertConfig config = detail::read_config(dir);
  detail::apply_label_options(config, options);
  std::string weights = detail::require_file(dir, "model.safetensors", "from_pretrained");
  auto model = std::make_shared<BertModel<T>>(config, options.generator());
  LoadReport local;
  detail::load_checkpoint(*model, config, weights, "",
                          options.loading_info() ? *options.loading_info() : local);
  detail::apply_saved_quantization(*model, config, dir);
  return model;
}

namespace detail {
/// The shared part of the head models' from_pretrained: the head's last layer is fresh when
/// the options change the number of classes (HF's `ignore_mismatched_sizes`).
template <class Model>
std::shared_ptr<Model> head_model_from_pretrained(const std::string& dir,
                                                  const FromPretrainedOptions& options) {
  using T = typename Model::value_type;
  BertConfig config = read_config(dir);
  const int64_t saved_labels = config.num_labels();
  apply_label_options(config, options);
  std::string weights = require_file(dir, "model.safetensors", "from_pretrained");
  const bool new_head = config.num_labels() != saved_labels;
  auto model = std::make_shared<Model>(config, options.generator());
  LoadReport local;
  load_checkpoint(*model, config, weights, config.base_model_prefix() + ".",
                  options.loading_info() ? *options.loading_info() : local, new_head);
  apply_saved_quantization<T>(*model, config, dir);
  return model;
}
}  // namespace detail

/// Loads a `BertForSequenceClassification` (any family) from a Hugging Face-layout directory. A
/// checkpoint without a head (a plain pretrained encoder) gets a fresh one with the options'
/// `num_labels` / `id2label` classes (unset: the config's); a checkpoint whose head has another
/// number of classes gets a fresh last layer too (HF's `ignore_mismatched_sizes`: its tensors
/// are reported as unused). Same errors as `bert_model_from_pretrained`.
template <class T>
std::shared_ptr<BertForSequenceClassification<T>> bert_classifier_from_pretrained(
    const std::string& dir, const FromPretrainedOptions& options = {}) {
  return detail::head_model_from_pretrained<BertForSequenceClassification<T>>(dir, options);
}

/// Loads a `BertForTokenClassification` (any family); the same rules as
/// `bert_classifier_from_pretrained` (a fresh `classifier` for a plain encoder or another
/// number of labels).
template <class T>
std::shared_ptr<BertForTokenClassification<T>> bert_token_classifier_from_pretrained(
    const std::string& dir, const FromPretrainedOptions& options = {}) {
  return detail::head_model_from_pretrained<BertForTokenClassification<T>>(dir, options);
}

/// Loads a masked-LM model of any family (`BertForMaskedLM`, `RobertaForMaskedLM`,
/// `XLMRobertaForMaskedLM`, `DistilBertForMaskedLM`, `ElectraForMaskedLM`; masked_lm.hpp) from a
/// Hugging Face-layout directory: a masked-LM checkpoint, a `BertForPreTraining` one (its
/// next-sentence head `cls.seq_relationship.*` and pooler are reported as unused), or a plain
/// encoder / classifier one (the MLM head is freshly initialized, as HF does, and reported as
/// missing). The decoder is tied to the word embeddings (unless config.json says
/// `tie_word_embeddings: false`), so a checkpoint that stores the matrix once is complete. Same
/// errors as `bert_model_from_pretrained`.
template <class T>
std::shared_ptr<BertForMaskedLM<T>> bert_masked_lm_from_pretrained(
    const std::string& dir, const FromPretrainedOptions& options = {}) {
  BertConfig config = detail::read_config(dir);
  detail::apply_label_options(config, options);
  std::string weights = detail::require_file(dir, "model.safetensors", "from_pretrained");
  auto model = std::make_shared<BertForMaskedLM<T>>(config, options.generator());
  LoadReport local;
  detail::load_checkpoint(*model, config, weights, config.base_model_prefix() + ".",
                          options.loading_info() ? *options.loading_info() : local);
  detail::apply_saved_quantization(*model, config, dir);
  return model;
}

namespace detail {
/// Writes `model.safetensors` and `config.json` (architecture `<class_prefix><suffix>`).
template <class T>
void save_model_dir(const nn::Module<T>& model, BertConfig c, const std::string& dir,
                    const std::string& suffix) {
  std::filesystem::create_directories(dir);
  save_weights(model, c, (std::filesystem::path(dir) / "model.safetensors").string());
  c = config_for_save(model, c);
  write_json_atomic((std::filesystem::path(dir) / "config.json").string(),
                    c.to_json(c.class_prefix() + suffix));
}
}  // namespace detail

/// Writes `config.json` and `model.safetensors` (F32, Hugging Face names) into `dir` (created if
/// needed). Hugging Face transformers' `AutoModel.from_pretrained(dir)` loads the result.
template <class T>
void save_pretrained(const BertModel<T>& model, const std::string& dir) {
  detail::save_model_dir(model, model.config(), dir, "Model");
}

/// Writes `config.json` (with id2label/label2id, problem_type) and `model.safetensors` for a
/// classifier. `AutoModelForSequenceClassification.from_pretrained(dir)` loads it and gives the
/// same logits.
template <class T>
void save_pretrained(const BertForSequenceClassification<T>& model, const std::string& dir) {
  BertConfig c = model.config();
  if (c.problem_type.empty() && c.num_labels() > 1) c.problem_type = "single_label_classification";
  detail::save_model_dir(model, c, dir, "ForSequenceClassification");
}

/// Writes `config.json` and `model.safetensors` for a token classifier;
/// `AutoModelForTokenClassification.from_pretrained(dir)` loads it.
template <class T>
void save_pretrained(const BertForTokenClassification<T>& model, const std::string& dir) {
  detail::save_model_dir(model, model.config(), dir, "ForTokenClassification");
}

/// Writes `config.json` and `model.safetensors` for a masked-LM model, the tied decoder stored
/// once (as Hugging Face saves it). `AutoModelForMaskedLM.from_pretrained(dir)` loads it and
/// gives the same logits.
template <class T>
void save_pretrained(const BertForMaskedLM<T>& model, const std::string& dir) {
  detail::save_model_dir(model, model.config(), dir, "ForMaskedLM");
}

/// Writes the tokenizer's `vocab.txt` (one token per line, id = line number) and a
/// `tokenizer_config.json` that Hugging Face's `AutoTokenizer.from_pretrained(dir)` reads as an
/// equivalent BertTokenizer (do_lower_case, strip_accents, special tokens). Atomic per file.
inline void save_tokenizer(const data::WordPieceTokenizer& tok, const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::string vocab;
  for (std::size_t i = 0; i < tok.vocab_size(); ++i) vocab += tok.id_to_token(int64_t(i)) + "\n";
  {
    io::AtomicFileWriter w((std::filesystem::path(dir) / "vocab.txt").string(), "save_tokenizer");
    w.write(vocab.data(), vocab.size());
    w.commit();
  }
  const auto& o = tok.options();
  nlohmann::json j = {{"tokenizer_class", "BertTokenizer"},
                      {"do_lower_case", o.do_lower_case()},
                      {"tokenize_chinese_chars", o.tokenize_chinese_chars()},
                      {"unk_token", o.unk_token()},
                      {"sep_token", o.sep_token()},
                      {"pad_token", o.pad_token()},
                      {"cls_token", o.cls_token()},
                      {"mask_token", o.mask_token()},
                      {"clean_up_tokenization_spaces", o.clean_up_tokenization_spaces()}};
  if (o.strip_accents())
    j["strip_accents"] = *o.strip_accents();
  else
    j["strip_accents"] = nullptr;
  detail::write_json_atomic((std::filesystem::path(dir) / "tokenizer_config.json").string(), j);
}

}  // namespace ember::models::bert
