// ember/serve/protocol.hpp — the JSON requests and responses of ember-serve, with the shapes of
// Hugging Face's text-embeddings-inference (TEI) and transformers' pipelines, and the HTTP status
// of every way a request can be wrong.
//
//   POST /predict    {"inputs": "text" | ["t1", ...] | [["a", "b"], ...], "top_k": n,
//                     "raw_scores": false, "truncate": true}
//                    one input  → [{"label": "positive", "score": 0.98}, ...]  (best first)
//                    a list     → one such list per input
//   POST /embed      {"inputs": "text" | ["t1", ...], "normalize": true, "truncate": true}
//                    → [[f, ...], ...]  one vector per input, always a list
//   POST /fill-mask  {"inputs": "a [MASK] b" | [...], "top_k": 5, "truncate": true}
//                    one input with one [MASK] → [{"score", "token", "token_str", "sequence"}, ...]
//                    (several [MASK]s: one such list per mask; a list of inputs: one per input)
//
// Errors are `{"error": message, "error_type": type}`:
//   400 InvalidJson (malformed JSON, invalid UTF-8), Unsupported (a task this model lacks);
//   413 PayloadTooLarge (more inputs than max_client_batch_size, an input over max_input_bytes;
//       the server adds the body-size limit);
//   422 Validation (missing field, wrong type, an input over max_input_length tokens when
//       truncate is false, no [MASK]), Empty (an empty list or text);
//   503 Overloaded / Timeout / ShuttingDown (from the batcher's Status).
// Scores are softmax probabilities (sigmoid for problem_type "multi_label_classification", as
// the transformers pipeline), or the logits with "raw_scores": true.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>
#include <ember/serve/batcher.hpp>
#include <ember/serve/inference.hpp>

namespace ember::serve {

/// A request the server refuses: its HTTP status and TEI-style error_type.
class ApiError : public Error {
 public:
  ApiError(int status, std::string type, const std::string& message)
      : Error(message), status_(status), type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }

 private:
  int status_;
  std::string type_;
};

/// The JSON body of an error response.
inline std::string error_body(const std::string& message, const std::string& type) {
  return nlohmann::json{{"error", message}, {"error_type", type}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// The ApiError for a batcher Status other than ok.
inline ApiError status_error(Status s, const std::string& message) {
  switch (s) {
    case Status::overloaded:
      return ApiError(503, "Overloaded", "the server is overloaded: its queue is full; retry later");
    case Status::timeout:
      return ApiError(503, "Timeout", "the request waited too long in the queue; retry later");
    case Status::shutting_down:
      return ApiError(503, "ShuttingDown", "the server is shutting down");
    default:
      return ApiError(500, "Backend", "inference failed: " + message);
  }
}

/// Per-request limits (ember-serve's options of the same names).
struct RequestLimits {
  /// Inputs per request; more → 413.
  EMBER_ARG(int64_t, max_client_batch_size) = 64;
  /// Bytes of one input text; more → 413 (bounds the tokenizer's work before any token exists).
  EMBER_ARG(int64_t, max_input_bytes) = 100000;
  /// Whether a request without "truncate" cuts inputs to the model's max_input_length (true) or
  /// is refused with 422 (false).
  EMBER_ARG(bool, truncate) = true;
};

/// A request parsed and tokenized: the jobs to submit and how to answer.
struct ParsedRequest {
  Task task = Task::predict;
  std::vector<Job> jobs;
  bool single = false;      ///< "inputs" was one string: answer without the outer list
  int64_t top_k = 0;        ///< predict: labels to return (0: all); fill-mask: candidates
  bool raw_scores = false;  ///< predict: logits instead of probabilities
};

namespace detail {
inline nlohmann::json parse_object(const std::string& body) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    // parse_error names the column and the reason ("invalid string: ill-formed UTF-8 byte", ...);
    // out_of_range is a number no double holds (1e999). Both may quote the input: cut it short.
    std::string what = e.what();
    if (what.size() > 300) what = what.substr(0, 300) + "...";
    throw ApiError(400, "InvalidJson", "the body is not valid JSON: " + what);
  }
  if (!j.is_object())
    throw ApiError(422, "Validation",
                   std::string("expected a JSON object with \"inputs\", found a JSON ") + j.type_name());
  return j;
}

inline bool get_bool(const nlohmann::json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean())
    throw ApiError(422, "Validation", std::string("\"") + key + "\" must be true or false, found " +
                                          it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return it->get<bool>();
}

inline int64_t get_top_k(const nlohmann::json& j, int64_t fallback, int64_t max) {
  auto it = j.find("top_k");
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > max)
    throw ApiError(422, "Validation",
                   "\"top_k\" must be an integer in [1, " + std::to_string(max) + "], found " +
                       it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return it->get<int64_t>();
}

inline const std::string& text_of(const nlohmann::json& v, const RequestLimits& limits,
                                  const std::string& where) {
  if (!v.is_string())
    throw ApiError(422, "Validation", where + " must be a string, found a JSON " + v.type_name());
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty()) throw ApiError(422, "Empty", where + " is an empty string");
  if (int64_t(s.size()) > limits.max_input_bytes())
    throw ApiError(413, "PayloadTooLarge",
                   where + " has " + std::to_string(s.size()) + " bytes; the limit is " +
                       std::to_string(limits.max_input_bytes()) + " (max_input_bytes)");
  return s;
}
}  // namespace detail

/// Parses and tokenizes the body of POST /predict, /embed or /fill-mask. Throws `ApiError`.
inline ParsedRequest parse_request(Task task, const std::string& body, const InferenceModel& model,
                                   const RequestLimits& limits) {
  if (!model.supports(task)) {
    const char* why = task == Task::predict
                          ? "has no classification head: /predict needs a fine-tuned classifier "
                            "(bert_classification train writes one)"
                          : "has no masked-LM head: /fill-mask needs a BertForMaskedLM "
                            "(bert_pretraining pretrain writes one)";
    throw ApiError(400, "Unsupported",
                   "this model (" + model.architecture() + ", " + model.directory() + ") " + why);
  }
  const nlohmann::json j = detail::parse_object(body);
  auto it = j.find("inputs");
  if (it == j.end()) throw ApiError(422, "Validation", "missing field \"inputs\"");
  const nlohmann::json& inputs = *it;

  ParsedRequest req;
  req.task = task;
  const bool truncate = detail::get_bool(j, "truncate", limits.truncate());
  const bool normalize = detail::get_bool(j, "normalize", true);
  req.raw_scores = detail::get_bool(j, "raw_scores", false);
  // predict: a top_k beyond the number of labels returns them all (transformers' pipeline clamps).
  if (task == Task::predict)
    req.top_k = std::min<int64_t>(detail::get_top_k(j, 0, std::numeric_limits<int64_t>::max()),
                                  int64_t(model.labels().size()));
  if (task == Task::fill_mask)
    req.top_k = detail::get_top_k(j, 5, std::min<int64_t>(model.config().vocab_size, 1000));

  // Collect (text, optional pair) without copying the strings.
  std::vector<std::pair<const std::string*, const std::string*>> texts;
  if (inputs.is_string()) {
    req.single = true;
    texts.emplace_back(&detail::text_of(inputs, limits, "\"inputs\""), nullptr);
  } else if (inputs.is_array()) {
    if (inputs.empty()) throw ApiError(422, "Empty", "\"inputs\" is an empty list");
    if (int64_t(inputs.size()) > limits.max_client_batch_size())
      throw ApiError(413, "PayloadTooLarge",
                     "\"inputs\" has " + std::to_string(inputs.size()) + " items; the limit is " +
                         std::to_string(limits.max_client_batch_size()) + " (max_client_batch_size)");
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const std::string where = "\"inputs\"[" + std::to_string(i) + "]";
      const nlohmann::json& v = inputs[i];
      if (v.is_array() && task == Task::predict) {
        if (v.size() != 2)
          throw ApiError(422, "Validation", where + " must be a text or a pair [text, text_pair], found a list of " +
                                                std::to_string(v.size()));
        texts.emplace_back(&detail::text_of(v[0], limits, where + "[0]"),
                           &detail::text_of(v[1], limits, where + "[1]"));
      } else {
        texts.emplace_back(&detail::text_of(v, limits, where), nullptr);
      }
    }
  } else {
    throw ApiError(422, "Validation",
                   std::string("\"inputs\" must be a string or a list of strings") +
                       (task == Task::predict ? " (or of [text, text_pair] pairs)" : "") +
                       ", found a JSON " + inputs.type_name());
  }

  req.jobs.reserve(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    Job job;
    job.task = task;
    job.normalize = normalize;
    job.top_k = req.top_k;
    const std::string where =
        req.single ? std::string("\"inputs\"") : "\"inputs\"[" + std::to_string(i) + "]";
    try {
      job.encoding = model.encode(*texts[i].first, texts[i].second, truncate);
    } catch (const InferenceModel::InputTooLong& e) {
      throw ApiError(422, "Validation", where + ": " + e.what());
    }
    // Only whitespace, control or zero-width characters: nothing for the model to read.
    if (job.encoding.size() <= (texts[i].second ? 3u : 2u))
      throw ApiError(422, "Empty", where + " has no tokens (only whitespace or characters the "
                                           "tokenizer drops)");
    if (task == Task::fill_mask) {
      const auto& ids = job.encoding.input_ids;
      if (std::find(ids.begin(), ids.end(), model.tokenizer().mask_token_id()) == ids.end())
        throw ApiError(422, "Validation",
                       where + " has no " + model.tokenizer().options().mask_token() +
                           " token (within the first " + std::to_string(model.max_input_length()) +
                           " tokens)");
    }
    req.jobs.push_back(std::move(job));
  }
  return req;
}

/// The response body (see the file comment) for a request's results.
inline nlohmann::json format_response(const ParsedRequest& req, const std::vector<JobResult>& results,
                                      const InferenceModel& model) {
  nlohmann::json out = nlohmann::json::array();
  if (req.task == Task::embed) {
    for (const JobResult& r : results) out.push_back(r.values);
    return out;
  }
  if (req.task == Task::predict) {
    const std::vector<std::string> labels = model.labels();
    const bool multi_label = model.config().problem_type == "multi_label_classification";
    for (const JobResult& r : results) {
      std::vector<double> scores(r.values.begin(), r.values.end());
      if (!req.raw_scores) {
        if (multi_label) {
          for (double& s : scores) s = 1.0 / (1.0 + std::exp(-s));
        } else {
          const double top = *std::max_element(scores.begin(), scores.end());
          double sum = 0;
          for (double& s : scores) sum += (s = std::exp(s - top));
          for (double& s : scores) s /= sum;
        }
      }
      std::vector<std::size_t> order(scores.size());
      std::iota(order.begin(), order.end(), std::size_t(0));
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
      const std::size_t k = req.top_k > 0 ? std::size_t(req.top_k) : order.size();
      nlohmann::json row = nlohmann::json::array();
      for (std::size_t i = 0; i < k; ++i)
        row.push_back({{"label", labels.at(order[i])}, {"score", scores[order[i]]}});
      out.push_back(std::move(row));
    }
    return req.single ? out.at(0) : out;
  }
  // fill-mask: as transformers' FillMaskPipeline — "sequence" is the input decoded with this
  // candidate in place of its [MASK]; special tokens are skipped when the input has one [MASK]
  // and kept (the other [MASK]s, [CLS], [SEP]) when it has several, as the pipeline does.
  const auto& tok = model.tokenizer();
  for (std::size_t i = 0; i < results.size(); ++i) {
    nlohmann::json per_mask = nlohmann::json::array();
    for (const JobResult::Mask& m : results[i].masks) {
      std::vector<int64_t> ids = req.jobs[i].encoding.input_ids;
      nlohmann::json candidates = nlohmann::json::array();
      for (std::size_t c = 0; c < m.ids.size(); ++c) {
        ids[std::size_t(m.position)] = m.ids[c];
        candidates.push_back({{"score", m.scores[c]},
                              {"token", m.ids[c]},
                              {"token_str", tok.decode({m.ids[c]}, false)},
                              {"sequence", tok.decode(ids, results[i].masks.size() == 1)}});
      }
      per_mask.push_back(std::move(candidates));
    }
    out.push_back(per_mask.size() == 1 ? per_mask.at(0) : per_mask);
  }
  return req.single ? out.at(0) : out;
}

}  // namespace ember::serve
