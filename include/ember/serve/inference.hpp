// ember/serve/inference.hpp — a BERT directory ready for inference: tokenizer, encoder and
// whatever heads its checkpoint holds, run on padded batches of encoded texts.
//
// One forward pass of the encoder serves every task of a batch: a classifier's logits come from
// the pooled output (HF `BertForSequenceClassification`), a sentence embedding from the last
// hidden state pooled over the attention mask (sentence-transformers' `Pooling`: mean by default,
// or [CLS] when the directory's `1_Pooling/config.json` says so; Reimers & Gurevych, EMNLP 2019),
// and fill-mask's candidates from the masked-LM head at the [MASK] positions only.
//
// Which tasks a directory supports follows from its checkpoint's keys: `classifier.*` → predict,
// `cls.predictions.*` → fill-mask; every BERT can embed.
//
// Thread safety: `run` and `encode` are const and may be called from several threads at once
// (grad mode is thread-local, each call sets its own `NoGradGuard`; parameters are only read;
// ember's allocators are locked). The batcher calls `run` from its one worker, so the compute
// threads (ember::set_num_threads) are never shared between two passes.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <ember/autograd/grad_mode.hpp>
#include <ember/core/arg.hpp>
#include <ember/core/device.hpp>
#include <ember/core/error.hpp>
#include <ember/data/wordpiece_tokenizer.hpp>
#include <ember/io/safetensors.hpp>
#include <ember/models/bert/bert.hpp>
#include <ember/models/bert/masked_lm.hpp>
#include <ember/models/bert/pretrained.hpp>
#include <ember/nn/quantize.hpp>
#include <ember/ops/embedding.hpp>
#include <ember/ops/softmax.hpp>

namespace ember::serve {

/// What a row asks of the model.
enum class Task { predict, embed, fill_mask };

inline const char* to_string(Task t) {
  switch (t) {
    case Task::predict: return "predict";
    case Task::embed: return "embed";
    case Task::fill_mask: return "fill-mask";
  }
  return "?";
}

/// One row of a batch: an encoded text (or pair) and its task. The DynamicBatcher's Job.
struct Job {
  Task task = Task::predict;
  data::Encoding encoding;
  bool normalize = true;  ///< embed: L2-normalize the vector
  int64_t top_k = 5;      ///< fill-mask: candidates per [MASK]
  int64_t tokens() const { return int64_t(encoding.size()); }
};

/// One row's answer.
struct JobResult {
  /// predict: the logits [num_labels]; embed: the sentence vector [hidden_size].
  std::vector<float> values;
  /// fill-mask: for each [MASK] (in order), its position and the top-k token ids and
  /// probabilities (softmax over the vocabulary), best first.
  struct Mask {
    int64_t position = 0;
    std::vector<int64_t> ids;
    std::vector<float> scores;
  };
  std::vector<Mask> masks;
};

/// How sentence embeddings are pooled from the last hidden state.
enum class Pooling { mean, cls };

struct InferenceOptions {
  /// Tokens per input, [CLS] and [SEP] included. 0: sentence-transformers' `max_seq_length`
  /// (sentence_bert_config.json) when the directory has one, else max_position_embeddings.
  EMBER_ARG(int64_t, max_input_length) = 0;
  /// Where the model runs (a CUDA device needs a program built with ember's CUDA backend).
  EMBER_ARG(Device, device) = Device::cpu();
  /// Run the Linear layers' products in int8 (nn::quantize_dynamic; CPU only, needs oneDNN).
  EMBER_ARG(bool, dynamic_int8) = false;
};

/// A BERT directory loaded for inference (see the file comment).
class InferenceModel {
 public:
  /// Loads `dir` (config.json, model.safetensors, vocab.txt [, tokenizer_config.json,
  /// sentence_bert_config.json, 1_Pooling/config.json]). Throws `ember::Error` for a missing or
  /// malformed file, a vocabulary larger than the model's embedding table, or a
  /// max_input_length outside [3, max_position_embeddings].
  explicit InferenceModel(const std::string& dir, InferenceOptions options = {})
      : dir_(dir), device_(options.device()) {
    namespace bert = models::bert;
    const std::string weights = (std::filesystem::path(dir) / "model.safetensors").string();
    bool has_classifier = false, has_mlm = false;
    {  // ember-serve reads vocab.txt (WordPiece) and BERT's heads: other families are refused
      const bert::BertConfig c = bert::detail::read_config(dir);
      EMBER_CHECK(c.family() == bert::Family::Bert, "InferenceModel: ", dir, " holds a ",
                  c.model_type, " model; ember-serve serves BERT models (model_type bert) so far");
      const nlohmann::json arch = c.extra.value("architectures", nlohmann::json::array());
      for (const auto& a : arch)
        EMBER_CHECK(!(a.is_string() && a.get<std::string>().find("ForTokenClassification") !=
                                           std::string::npos),
                    "InferenceModel: ", dir, " holds a token-classification model (",
                    a.get<std::string>(), "); ember-serve serves sequence classification, fill-mask "
                    "and embeddings");
    }
    if (std::filesystem::exists(weights)) {
      const io::SafetensorsFile file = io::SafetensorsFile::open(weights);
      has_classifier = file.contains("classifier.weight");
      for (const std::string& k : file.keys())
        if (k.rfind("cls.predictions.", 0) == 0) has_mlm = true;
    }
    if (has_classifier) {
      classifier_model_ = bert::bert_classifier_from_pretrained<float>(dir);
      encoder_ = classifier_model_->base_model;
      architecture_ = "BertForSequenceClassification";
    } else if (has_mlm) {
      mlm_ = bert::bert_masked_lm_from_pretrained<float>(dir);
      encoder_ = mlm_->base_model;
      architecture_ = "BertForMaskedLM";
    } else {
      encoder_ = bert::bert_model_from_pretrained<float>(dir);
      architecture_ = "BertModel";
    }
    for (nn::Module<float>* m : {static_cast<nn::Module<float>*>(classifier_model_.get()),
                                 static_cast<nn::Module<float>*>(mlm_.get()),
                                 static_cast<nn::Module<float>*>(encoder_.get())}) {
      if (!m) continue;
      m->to(device_);
      m->eval();
      if (options.dynamic_int8()) {
        EMBER_CHECK(device_.is_cpu(), "dynamic_int8: int8 products run on the CPU only, not on ",
                    device_);
        nn::quantize_dynamic(*m);
      }
      // A directory saved in int8 (bert_classification quantize) loads as int8.
      EMBER_CHECK(device_.is_cpu() || !nn::is_quantized_dynamic(*m), dir,
                  " holds an int8 model (config.json quantization_config), which runs on the CPU "
                  "only, not on ", device_);
      int8_ = int8_ || nn::is_quantized_dynamic(*m);
    }
    tokenizer_ = std::make_unique<data::WordPieceTokenizer>(data::WordPieceTokenizer::from_pretrained(dir));
    const auto& c = encoder_->config();
    EMBER_CHECK(int64_t(tokenizer_->vocab_size()) <= c.vocab_size, dir, "/vocab.txt has ",
                tokenizer_->vocab_size(), " tokens but config.json's vocab_size is ", c.vocab_size);
    EMBER_CHECK(!mlm_ || tokenizer_->mask_token_id() >= 0, dir,
                " has a masked-LM head but its vocabulary has no [MASK] token");

    max_input_length_ = c.max_position_embeddings;
    const auto st_config = std::filesystem::path(dir) / "sentence_bert_config.json";
    if (std::filesystem::exists(st_config)) {
      const nlohmann::json j = read_json_(st_config.string());
      if (j.contains("max_seq_length") && j["max_seq_length"].is_number_integer())
        max_input_length_ = std::min<int64_t>(c.max_position_embeddings, j["max_seq_length"].get<int64_t>());
    }
    if (options.max_input_length() != 0) {
      EMBER_CHECK(options.max_input_length() >= 3 &&
                      options.max_input_length() <= c.max_position_embeddings,
                  "max_input_length must be in [3, ", c.max_position_embeddings,
                  "] (the model's max_position_embeddings), found ", options.max_input_length());
      max_input_length_ = options.max_input_length();
    }
    const auto pooling = std::filesystem::path(dir) / "1_Pooling" / "config.json";
    if (std::filesystem::exists(pooling)) {
      const nlohmann::json j = read_json_(pooling.string());
      if (j.value("pooling_mode_cls_token", false)) pooling_ = Pooling::cls;
      else EMBER_CHECK(j.value("pooling_mode_mean_tokens", true), pooling.string(),
                       ": only mean and [CLS] pooling are supported");
    }
  }

  bool supports(Task t) const {
    switch (t) {
      case Task::predict: return classifier_model_ != nullptr;
      case Task::fill_mask: return mlm_ != nullptr;
      case Task::embed: return true;
    }
    return false;
  }
  /// "BertForSequenceClassification", "BertForMaskedLM" or "BertModel".
  const std::string& architecture() const { return architecture_; }
  /// Whether the Linear layers run in int8 (InferenceOptions::dynamic_int8, or an int8 directory).
  bool int8() const { return int8_; }
  const std::string& directory() const { return dir_; }
  const models::bert::BertConfig& config() const { return encoder_->config(); }
  const data::WordPieceTokenizer& tokenizer() const { return *tokenizer_; }
  /// Class names by id (empty unless the model can predict).
  std::vector<std::string> labels() const {
    std::vector<std::string> out;
    if (classifier_model_)
      for (int64_t i = 0; i < classifier_model_->num_labels(); ++i)
        out.push_back(classifier_model_->config().id2label.at(i));
    return out;
  }
  int64_t max_input_length() const { return max_input_length_; }
  Pooling pooling() const { return pooling_; }
  int64_t hidden_size() const { return config().hidden_size; }

  /// [CLS] text [SEP] (or [CLS] a [SEP] b [SEP] when `text_pair` is given), truncated to
  /// max_input_length() when `truncate`; otherwise a longer input throws `InputTooLong`.
  struct InputTooLong : Error {
    using Error::Error;
  };
  data::Encoding encode(std::string_view text, const std::string* text_pair, bool truncate) const {
    const std::size_t max = std::size_t(max_input_length_);
    data::Encoding e = text_pair ? tokenizer_->encode(text, *text_pair, truncate ? max : 0)
                                 : tokenizer_->encode(text, truncate ? max : 0);
    if (e.size() > max)
      throw InputTooLong(detail::str_cat("an input has ", e.size(), " tokens; this model takes at most ",
                                         max, " (send \"truncate\": true to cut it)"));
    return e;
  }

  /// Runs one padded batch; one result per job, in order. Throws `ember::Error` for a task the
  /// model does not support or a fill-mask row without [MASK].
  std::vector<JobResult> run(const std::vector<const Job*>& jobs) const {
    NoGradGuard no_grad;
    const int64_t rows = int64_t(jobs.size());
    std::vector<JobResult> out(jobs.size());
    if (rows == 0) return out;
    int64_t seq = 0;
    bool any_predict = false;
    std::vector<int64_t> mask_rows;  // flat positions b * seq + t of every [MASK] of fill-mask rows
    for (const Job* j : jobs) {
      EMBER_CHECK(supports(j->task), "this model (", architecture_, ") cannot ", to_string(j->task));
      seq = std::max(seq, j->tokens());
      any_predict |= j->task == Task::predict;
    }
    const int64_t pad = tokenizer_->pad_token_id();
    std::vector<int64_t> ids(std::size_t(rows * seq), pad), types(std::size_t(rows * seq), 0),
        mask(std::size_t(rows * seq), 0);
    for (int64_t b = 0; b < rows; ++b) {
      const data::Encoding& e = jobs[std::size_t(b)]->encoding;
      for (std::size_t t = 0; t < e.size(); ++t) {
        const std::size_t at = std::size_t(b * seq) + t;
        ids[at] = e.input_ids[t];
        types[at] = e.token_type_ids[t];
        mask[at] = e.attention_mask[t];
        if (jobs[std::size_t(b)]->task == Task::fill_mask && e.input_ids[t] == tokenizer_->mask_token_id())
          mask_rows.push_back(int64_t(at));
      }
    }
    const auto h = encoder_->forward(from_vector(ids, {rows, seq}).to(device_),
                                     from_vector(mask, {rows, seq}).to(device_),
                                     from_vector(types, {rows, seq}).to(device_));
    const int64_t hidden = hidden_size();

    if (any_predict) {
      const Tensor<float> logits = classifier_model_->classifier->forward(h.pooler_output);
      const std::vector<float> l = logits.to(Device::cpu()).to_vector();
      const int64_t c = logits.size(1);
      for (int64_t b = 0; b < rows; ++b)
        if (jobs[std::size_t(b)]->task == Task::predict)
          out[std::size_t(b)].values.assign(l.begin() + b * c, l.begin() + (b + 1) * c);
    }

    const Tensor<float> last_device = h.last_hidden_state;
    const Tensor<float> last = last_device.to(Device::cpu()).contiguous();
    const float* hs = last.data();
    for (int64_t b = 0; b < rows; ++b) {
      const Job& j = *jobs[std::size_t(b)];
      if (j.task != Task::embed) continue;
      std::vector<double> acc(std::size_t(hidden), 0.0);
      if (pooling_ == Pooling::cls) {
        for (int64_t d = 0; d < hidden; ++d) acc[std::size_t(d)] = hs[(b * seq) * hidden + d];
      } else {  // mean over the attention mask (sentence-transformers divides by max(count, 1e-9))
        int64_t count = 0;
        for (int64_t t = 0; t < seq; ++t) {
          if (!mask[std::size_t(b * seq + t)]) continue;
          ++count;
          const float* row = hs + (b * seq + t) * hidden;
          for (int64_t d = 0; d < hidden; ++d) acc[std::size_t(d)] += row[d];
        }
        for (double& v : acc) v /= double(std::max<int64_t>(count, 1));
      }
      double norm = 0;
      for (double v : acc) norm += v * v;
      // torch.nn.functional.normalize: x / max(||x||, 1e-12)
      const double scale = j.normalize ? 1.0 / std::max(std::sqrt(norm), 1e-12) : 1.0;
      std::vector<float>& v = out[std::size_t(b)].values;
      v.resize(acc.size());
      for (std::size_t d = 0; d < acc.size(); ++d) v[d] = float(acc[d] * scale);
    }

    if (!mask_rows.empty()) {
      const Tensor<float> picked =
          index_select(last_device.reshape({rows * seq, hidden}), 0,
                       from_vector(mask_rows, {int64_t(mask_rows.size())}).to(device_));
      const std::vector<float> probs =
          softmax(mlm_->prediction_scores(picked), -1).to(Device::cpu()).to_vector();
      const int64_t vocab = config().vocab_size;
      std::vector<int64_t> order(static_cast<std::size_t>(vocab));
      for (std::size_t m = 0; m < mask_rows.size(); ++m) {
        const int64_t b = mask_rows[m] / seq;
        const float* p = probs.data() + m * std::size_t(vocab);
        const int64_t k = std::min<int64_t>(std::max<int64_t>(jobs[std::size_t(b)]->top_k, 1), vocab);
        for (int64_t v = 0; v < vocab; ++v) order[std::size_t(v)] = v;
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t x, int64_t y) {
          return p[x] > p[y] || (p[x] == p[y] && x < y);
        });
        JobResult::Mask r;
        r.position = mask_rows[m] % seq;
        for (int64_t i = 0; i < k; ++i) {
          r.ids.push_back(order[std::size_t(i)]);
          r.scores.push_back(p[order[std::size_t(i)]]);
        }
        out[std::size_t(b)].masks.push_back(std::move(r));
      }
    }
    for (int64_t b = 0; b < rows; ++b)
      EMBER_CHECK(jobs[std::size_t(b)]->task != Task::fill_mask || !out[std::size_t(b)].masks.empty(),
                  "fill-mask: an input has no ", tokenizer_->options().mask_token(), " token");
    return out;
  }

 private:
  static nlohmann::json read_json_(const std::string& path) {
    std::ifstream in(path);
    EMBER_CHECK(in.good(), "cannot read ", path);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    EMBER_CHECK(!j.is_discarded() && j.is_object(), path, ": expected a JSON object");
    return j;
  }

  std::string dir_;
  Device device_;
  std::string architecture_;
  bool int8_ = false;
  std::shared_ptr<models::bert::BertModel<float>> encoder_;
  std::shared_ptr<models::bert::BertForSequenceClassification<float>> classifier_model_;
  std::shared_ptr<models::bert::BertForMaskedLM<float>> mlm_;
  std::unique_ptr<data::WordPieceTokenizer> tokenizer_;
  int64_t max_input_length_ = 512;
  Pooling pooling_ = Pooling::mean;
};

}  // namespace ember::serve
