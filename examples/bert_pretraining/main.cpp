// examples/bert_pretraining — masked-language-model pretraining of BERT: continue pretraining a
// checkpoint on your own text (domain-adaptive pretraining), or pretrain from scratch with a
// vocabulary trained here; then ask the model to fill in [MASK]s. The loop below is the one a
// user would write by hand with ember: pack the corpus, mask a batch, forward, loss, backward,
// clip, optimizer step, schedule step, evaluate on held-out text, save.
//
//   bert_pretraining pretrain  (--model DIR | --config FILE --vocab FILE) --corpus FILE... --output DIR
//   bert_pretraining fill-mask --model DIR [--input FILE] [--top-k 5] [--json]
//   bert_pretraining train-vocab --corpus FILE... --output DIR [--vocab-size 30522]
//   bert_pretraining init      --config FILE --vocab FILE --output DIR   (a model from scratch)
//
// The output directory is a Hugging Face BertForMaskedLM directory (config.json,
// model.safetensors, vocab.txt, tokenizer_config.json): transformers' AutoModelForMaskedLM loads
// it, and `bert_classification train --model DIR` fine-tunes from it unchanged.
// docs/pretraining.md walks from a corpus to a fine-tuned classifier.
#include <ember/ember.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using ember::Tensor;
using Model = ember::models::bert::BertForMaskedLM<float>;

namespace {

// ---- the model and its tokenizer -----------------------------------------------------------------

/// A checkpoint directory (`--model`), or a config.json and a vocab.txt for a model initialized
/// from scratch (Hugging Face's initialization). Throws `ember::Error` before anything is written
/// when they disagree (the config's vocab_size against the vocabulary).
struct Pretrained {
  std::shared_ptr<Model> model;
  ember::data::WordPieceTokenizer tokenizer;
};

/// The tokenizer's ids must fit the model's embedding table: checked before anything runs.
void check_vocab_fits(const Model& model, const ember::data::WordPieceTokenizer& tok,
                      const std::string& dir) {
  EMBER_CHECK(int64_t(tok.vocab_size()) <= model.config().vocab_size, dir, "/vocab.txt has ",
              tok.vocab_size(), " tokens but config.json's vocab_size is ",
              model.config().vocab_size, ": the model cannot embed the extra ids");
}

Pretrained load_model(const std::string& model_dir, const std::string& config_file,
                      const std::string& vocab_file, ember::Generator& gen) {
  EMBER_CHECK(model_dir.empty() || (config_file.empty() && vocab_file.empty()),
              "give either --model DIR (a checkpoint) or --config FILE and --vocab FILE (a model "
              "from scratch), not both");
  if (!model_dir.empty()) {
    ember::models::bert::LoadReport report;
    auto model = ember::models::bert::bert_masked_lm_from_pretrained<float>(
        model_dir,
        ember::models::bert::FromPretrainedOptions().loading_info(&report).generator(&gen));
    std::printf("model: %s, %.1fM parameters; %s\n", model_dir.c_str(),
                model->num_parameters() / 1e6, report.summary().c_str());
    auto tokenizer = ember::data::WordPieceTokenizer::from_pretrained(model_dir);
    check_vocab_fits(*model, tokenizer, model_dir);
    return {model, std::move(tokenizer)};
  }
  EMBER_CHECK(!config_file.empty() && !vocab_file.empty(),
              "pretrain: give --model DIR (a checkpoint), or --config FILE and --vocab FILE "
              "(a model from scratch)");
  ember::data::WordPieceTokenizer tokenizer(vocab_file);
  // A config without vocab_size takes the vocabulary's; one with another size is an error
  // (the embedding matrix would not match the token ids).
  std::ifstream in(config_file);
  EMBER_CHECK(in.good(), "pretrain: cannot open --config ", config_file);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("pretrain: ", config_file, " is not valid JSON: ", e.what());
  }
  const auto vocab_size = int64_t(tokenizer.vocab_size());
  if (j.is_object() && !j.contains("vocab_size")) j["vocab_size"] = vocab_size;
  auto config = ember::models::bert::BertConfig::from_json(j, config_file);
  EMBER_CHECK(config.vocab_size == vocab_size, "pretrain: ", config_file, " has vocab_size ",
              config.vocab_size, " but ", vocab_file, " has ", vocab_size,
              " tokens; make them equal (or leave vocab_size out of the config)");
  auto model = std::make_shared<Model>(config, &gen);
  std::printf("model: from scratch (%s), %.1fM parameters\n", config_file.c_str(),
              model->num_parameters() / 1e6);
  return {model, std::move(tokenizer)};
}

void save_model(const Model& model, const ember::data::WordPieceTokenizer& tok,
                const std::string& dir) {
  ember::models::bert::save_pretrained(model, dir);
  ember::models::bert::save_tokenizer(tok, dir);
}

// ---- evaluation on held-out text -------------------------------------------------------------------

struct MlmMetrics {
  double loss = 0, accuracy = 0, perplexity = 0;
  int64_t masked = 0;
};

/// Mean cross-entropy over every masked token of `set`, the fraction predicted exactly, and the
/// perplexity exp(loss). The masks come from a collator seeded with `seed`, so every evaluation of
/// a run scores the same positions.
MlmMetrics evaluate(Model& model, const ember::data::LanguageModelingDataset& set,
                    const ember::data::WordPieceTokenizer& tok,
                    ember::data::MaskingOptions masking, uint64_t seed, int64_t batch_size,
                    ember::Device dev) {
  ember::NoGradGuard no_grad;
  model.eval();
  ember::data::DataCollatorForLanguageModeling collator(tok, masking.seed(seed));
  double loss_sum = 0;
  int64_t correct = 0, masked = 0;
  for (int64_t start = 0; start < set.size(); start += batch_size) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(set.size(), start + batch_size); ++i) idx.push_back(i);
    ember::data::Batch b = collator(set, idx).to(dev);
    auto out = model.forward(b.input_ids, b.attention_mask, b.token_type_ids, b.labels);
    const int64_t n = out.masked_positions.numel();
    if (n == 0) continue;
    loss_sum += out.loss.item() * double(n);
    const std::vector<int64_t> predicted = ember::argmax(out.logits, -1).to_vector();
    const std::vector<int64_t> labels = b.labels.to(ember::Device::cpu()).to_vector();
    const std::vector<int64_t> where = out.masked_positions.to(ember::Device::cpu()).to_vector();
    for (int64_t i = 0; i < n; ++i) correct += predicted[i] == labels[where[i]];
    masked += n;
  }
  model.train();
  EMBER_CHECK(masked > 0, "evaluation: no token of the ", set.size(), " held-out examples could be "
              "masked (every token is special or [UNK]?); check the vocabulary and --mask-prob");
  MlmMetrics m;
  m.masked = masked;
  m.loss = masked ? loss_sum / double(masked) : 0.0;
  m.accuracy = masked ? double(correct) / double(masked) : 0.0;
  m.perplexity = std::exp(m.loss);
  return m;
}

/// The training order of epoch `epoch`: a Fisher–Yates shuffle drawn from a Generator seeded by
/// (seed, epoch), so a resumed run sees the same order.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[std::size_t(i)] = i;
  ember::Generator g(seed * 1000003u + uint64_t(epoch) + 1);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[std::size_t(i)], order[std::size_t(g.randint(uint64_t(i) + 1))]);
  return order;
}

ember::Device parse_device(const std::string& s) {
  if (s == "cpu") return ember::Device::cpu();
  EMBER_CHECK(s == "cuda" || s.rfind("cuda:", 0) == 0, "--device: expected cpu, cuda or cuda:N, "
              "found \"", s, "\"");
  EMBER_CHECK(ember::cuda::is_built(), "--device ", s, ": this program was built without ember's "
              "CUDA backend (docs/gpu.md)");
  EMBER_CHECK(ember::cuda::is_available(), "--device ", s, ": no usable CUDA device");
  return s == "cuda" ? ember::Device::cuda(0) : ember::Device::cuda(std::stoi(s.substr(5)));
}

// ---- pretrain ------------------------------------------------------------------------------------

struct PretrainArgs {
  std::string model_dir, config_file, vocab_file, output_dir = "bert-pretraining-output";
  std::vector<std::string> corpus;
  std::string packing = "blocks", documents = "line", device = "cpu";
  int64_t max_steps = 0, epochs = 1, batch_size = 32, seq_len = 128, grad_accum = 1, threads = 0;
  int64_t eval_every = 0, log_every = 50, eval_batch_size = 64, stop_at_step = 0;
  double lr = 5e-5, warmup_ratio = 0.1, weight_decay = 0.01, max_grad_norm = 1.0;
  double mask_prob = 0.15, validation_ratio = 0.05;
  bool whole_word_mask = false, resume = false;
  uint64_t seed = 42;
};

ember::data::Packing parse_packing(const std::string& s) {
  if (s == "blocks") return ember::data::Packing::blocks;
  if (s == "group_texts") return ember::data::Packing::group_texts;
  if (s == "line_by_line") return ember::data::Packing::line_by_line;
  EMBER_FAIL("--packing: expected blocks, group_texts or line_by_line, found \"", s, "\"");
}

int run_pretrain(const PretrainArgs& a) {
  if (a.threads > 0) ember::set_num_threads(int(a.threads));
  const ember::Device dev = parse_device(a.device);
  EMBER_CHECK(a.validation_ratio > 0 && a.validation_ratio < 1, "--validation-ratio: expected a "
              "fraction in (0, 1) held out for evaluation, found ", a.validation_ratio);
  EMBER_CHECK(a.mask_prob > 0, "--mask-prob: expected a fraction in (0, 1], found ", a.mask_prob,
              " (nothing would be masked, so there would be nothing to learn)");
  ember::Generator gen(a.seed);  // dropout and the fresh initialization

  // Everything is read and checked before anything is written.
  Pretrained p = load_model(a.model_dir, a.config_file, a.vocab_file, gen);
  Model& model = *p.model;
  EMBER_CHECK(a.seq_len <= model.config().max_position_embeddings, "--seq-len ", a.seq_len,
              " exceeds the model's max_position_embeddings (",
              model.config().max_position_embeddings, ")");
  EMBER_CHECK(p.tokenizer.mask_token_id() >= 0, "pretrain: the vocabulary has no ",
              p.tokenizer.options().mask_token(), " token; masked-LM pretraining needs one");
  auto corpus_options = ember::data::TextCorpusOptions()
                            .seq_len(a.seq_len)
                            .packing(parse_packing(a.packing))
                            .document_split(a.documents == "blank_line"
                                                ? ember::data::DocumentSplit::blank_line
                                                : ember::data::DocumentSplit::line);
  EMBER_CHECK(a.documents == "line" || a.documents == "blank_line",
              "--documents: expected line or blank_line, found \"", a.documents, "\"");
  auto corpus = ember::data::LanguageModelingDataset(a.corpus, p.tokenizer, corpus_options);
  auto [train_set, heldout] = corpus.train_test_split(a.validation_ratio);
  auto masking = ember::data::MaskingOptions()
                     .mlm_probability(a.mask_prob)
                     .whole_word_mask(a.whole_word_mask);
  ember::data::DataCollatorForLanguageModeling collator(p.tokenizer, masking.seed(a.seed + 1));
  std::printf("corpus: %lld documents, %lld tokens -> %lld examples of <= %lld tokens "
              "(%s); %lld for training, %lld held out\n",
              (long long)corpus.num_documents(), (long long)corpus.num_stream_tokens(),
              (long long)corpus.size(), (long long)a.seq_len, a.packing.c_str(),
              (long long)train_set.size(), (long long)heldout.size());
  model.to(dev);
  model.train();

  // Optimizer: AdamW without decay on biases and LayerNorm parameters; linear warmup and decay.
  const int64_t micro_batches = (train_set.size() + a.batch_size - 1) / a.batch_size;
  const int64_t steps_per_epoch = (micro_batches + a.grad_accum - 1) / a.grad_accum;
  const int64_t total_steps = a.max_steps > 0 ? a.max_steps : steps_per_epoch * a.epochs;
  const int64_t epochs = (total_steps + steps_per_epoch - 1) / steps_per_epoch;
  ember::optim::AdamW<float> optimizer(ember::optim::bert_param_groups(model, a.weight_decay),
                                       ember::optim::AdamWOptions(a.lr));
  ember::optim::LinearWarmupDecay<float> scheduler(
      optimizer, int64_t(std::llround(a.warmup_ratio * double(total_steps))), total_steps);
  std::vector<Tensor<float>> params = model.parameters();

  // What a checkpoint must agree with to be resumed (the order, the blocks and the schedule).
  const nlohmann::json run_description = {
      {"corpus", a.corpus},         {"seq_len", a.seq_len},       {"packing", a.packing},
      {"documents", a.documents},   {"batch_size", a.batch_size}, {"grad_accum", a.grad_accum},
      {"total_steps", total_steps}, {"seed", a.seed},             {"vocab_size", model.config().vocab_size}};
  fs::create_directories(a.output_dir);
  const std::string ckpt_dir = a.output_dir + "/checkpoint";
  ember::train::MetricsLogger log(a.output_dir + "/metrics.jsonl", a.resume);
  ember::io::TrainerState state;
  if (a.resume && fs::exists(ckpt_dir + "/trainer_state.json")) {
    state = ember::io::load_checkpoint(ckpt_dir, model, optimizer, &scheduler, gen);
    // The run must be the one the checkpoint was taken from, or "resume" would mean nothing.
    EMBER_CHECK(state.user.contains("run") && state.user.contains("collator_offset"), "--resume: ",
                ckpt_dir, " is not a checkpoint of bert_pretraining pretrain");
    const nlohmann::json& saved = state.user.at("run");
    for (const auto& [key, value] : run_description.items())
      EMBER_CHECK(saved.contains(key) && saved[key] == value, "--resume: ", ckpt_dir,
                  " was written by a run with ", key, " = ",
                  saved.contains(key) ? saved[key].dump() : std::string("(unset)"), ", this run has ",
                  value.dump(), "; resume with the same settings or choose another --output");
    collator.generator().set_state(state.user.at("collator_seed").get<uint64_t>(),
                                   state.user.at("collator_offset").get<uint64_t>());
    std::printf("resumed from %s at step %lld\n", ckpt_dir.c_str(), (long long)state.global_step);
  }
  // Running the same command again after it stopped must not train past the stop it names (the
  // loop below tests `global_step == stop_at_step` after each step, so it would never stop).
  if (a.stop_at_step > 0 && state.global_step >= a.stop_at_step) {
    std::printf("already at step %lld (--stop-at-step %lld): nothing to do\n",
                (long long)state.global_step, (long long)a.stop_at_step);
    return 0;
  }
  std::printf("pretrain: %lld steps (batch %lld x %lld, %lld per epoch), lr %g, mask %.2f%s\n",
              (long long)total_steps, (long long)a.batch_size, (long long)a.grad_accum,
              (long long)steps_per_epoch, a.lr, a.mask_prob,
              a.whole_word_mask ? " (whole words)" : "");

  auto evaluate_now = [&](int64_t epoch) {
    MlmMetrics m = evaluate(model, heldout, p.tokenizer, masking, a.seed + 2, a.eval_batch_size, dev);
    log.log_eval(state.global_step, {{"mlm_loss", m.loss}, {"masked_accuracy", m.accuracy},
                                     {"perplexity", m.perplexity}}, epoch, "heldout");
    return m;
  };
  ember::train::ProgressBar progress(total_steps, std::cerr,
                                     ember::train::ProgressOptions().initial_step(state.global_step));
  // Throughput counts the training steps only (evaluation and saving excluded), as Hugging
  // Face's Trainer reports train_runtime without evaluation and saving.
  double train_seconds = 0;
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  int64_t tokens_seen = 0;
  for (int64_t epoch = state.epoch; epoch < epochs && state.global_step < total_steps; ++epoch) {
    progress.set_epoch(epoch, epochs);
    const std::vector<int64_t> order = epoch_order(train_set.size(), a.seed, epoch);
    for (int64_t mb = state.batch_in_epoch; mb < micro_batches && state.global_step < total_steps;
         mb += a.grad_accum) {
      // One optimizer step over `grad_accum` micro-batches; each micro-batch's mean loss is
      // weighted by its share of the step's masked tokens, so the step averages per token.
      const auto step_start = std::chrono::steady_clock::now();
      const int64_t end = std::min(mb + a.grad_accum, micro_batches);
      std::vector<ember::data::Batch> batches;
      int64_t step_masked = 0;
      for (int64_t i = mb; i < end; ++i) {
        std::vector<int64_t> idx(order.begin() + i * a.batch_size,
                                 order.begin() + std::min(train_set.size(), (i + 1) * a.batch_size));
        batches.push_back(collator(train_set, idx));
        for (int64_t v : batches.back().labels.to_vector()) step_masked += v != -100;
      }
      double step_loss = 0;
      for (const auto& cpu_batch : batches) {
        ember::data::Batch b = cpu_batch.to(dev);
        auto out = model.forward(b.input_ids, b.attention_mask, b.token_type_ids, b.labels);
        const double share = double(out.masked_positions.numel()) / double(std::max<int64_t>(step_masked, 1));
        Tensor<float> loss = out.loss * share;
        loss.backward();
        step_loss += loss.item();
        tokens_seen += cpu_batch.input_ids.numel();
      }
      // A diverged run stops here, before a model of NaNs is saved.
      EMBER_CHECK(std::isfinite(step_loss), "pretraining diverged at step ", state.global_step + 1,
                  ": the loss is ", step_loss, "; lower --lr (now ", a.lr, ")");
      ember::optim::clip_grad_norm_(params, a.max_grad_norm);
      const double lr = optimizer.lr();
      optimizer.step();
      scheduler.step();
      optimizer.zero_grad();
      train_seconds += since(step_start);
      ++state.global_step;
      int64_t step_rows = 0;  // the last micro-batch of an epoch may be smaller
      for (const auto& b : batches) step_rows += b.size();
      progress.update(step_loss, lr, step_rows);
      if (state.global_step % a.log_every == 0) log.log_train(state.global_step, step_loss, lr, epoch);

      const bool end_of_epoch = end == micro_batches;
      const bool last = state.global_step == total_steps || state.global_step == a.stop_at_step;
      const bool eval_now = last || (a.eval_every > 0 ? state.global_step % a.eval_every == 0
                                                       : end_of_epoch);
      state.epoch = end_of_epoch ? epoch + 1 : epoch;
      state.batch_in_epoch = end_of_epoch ? 0 : end;
      if (eval_now) {
        MlmMetrics m = evaluate_now(epoch);
        progress.write(ember::detail::str_cat(
            "step ", state.global_step, ": held-out MLM loss ", m.loss, ", masked-token accuracy ",
            m.accuracy, ", perplexity ", m.perplexity, " (", m.masked, " masked tokens)"));
        save_model(model, p.tokenizer, a.output_dir);
        state.user["run"] = run_description;
        state.user["collator_seed"] = collator.generator().seed();
        state.user["collator_offset"] = collator.generator().offset();
        ember::io::save_checkpoint(ckpt_dir, model, optimizer, &scheduler, gen, state);
      }
      if (state.global_step == a.stop_at_step) break;
    }
    if (state.global_step == a.stop_at_step) {
      std::printf("stopped at step %lld as asked; continue with --resume\n",
                  (long long)state.global_step);
      break;
    }
    state.batch_in_epoch = 0;
  }
  progress.close();
  std::printf("pretraining: %lld steps, %.1f s of training steps (%.0f tokens/s, evaluation and "
              "saving excluded); model saved in %s\n",
              (long long)state.global_step, train_seconds,
              double(tokens_seen) / std::max(train_seconds, 1e-9), a.output_dir.c_str());
  return 0;
}

// ---- fill-mask -----------------------------------------------------------------------------------

/// For every [MASK] of each input line, the top-k tokens by probability (softmax over the
/// vocabulary at that position), as Hugging Face's fill-mask pipeline reports them.
int run_fill_mask(const std::string& model_dir, const std::string& input_file, int64_t top_k,
                  bool json, int64_t max_length, const std::string& device) {
  // max_length: lowered to the model's max_position_embeddings below.
  const ember::Device dev = parse_device(device);
  ember::models::bert::LoadReport report;
  auto model = ember::models::bert::bert_masked_lm_from_pretrained<float>(
      model_dir, ember::models::bert::FromPretrainedOptions().loading_info(&report));
  const std::string body = model->config().base_model_prefix() + ".";
  for (const std::string& key : report.missing_keys)  // a key outside the encoder: the head's
    EMBER_CHECK(key.rfind(body, 0) == 0, model_dir, " has no masked-LM head (", key,
                " is missing), so its predictions would be random; pretrain it first "
                "(`bert_pretraining pretrain --model ", model_dir, " ...`)");
  model->to(dev);
  model->eval();
  auto tokenizer = ember::data::WordPieceTokenizer::from_pretrained(model_dir);
  check_vocab_fits(*model, tokenizer, model_dir);
  max_length = std::min(max_length, model->config().max_position_embeddings);
  EMBER_CHECK(tokenizer.mask_token_id() >= 0, "fill-mask: ", model_dir,
              "/vocab.txt has no [MASK] token");
  EMBER_CHECK(top_k >= 1 && top_k <= model->config().vocab_size, "--top-k: expected 1..",
              model->config().vocab_size, ", found ", top_k);
  std::ifstream file;
  if (!input_file.empty()) {
    file.open(input_file);
    EMBER_CHECK(file.good(), "fill-mask: cannot open ", input_file);
  }
  std::istream& in = input_file.empty() ? std::cin : file;
  ember::NoGradGuard no_grad;
  std::string line;
  int64_t line_no = 0, done = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    auto enc = tokenizer.encode_batch({line}, size_t(max_length));
    std::vector<int64_t> masks;
    for (int64_t i = 0; i < enc.seq; ++i)
      if (enc.input_ids[std::size_t(i)] == tokenizer.mask_token_id()) masks.push_back(i);
    EMBER_CHECK(!masks.empty(), "fill-mask: line ", line_no, " has no ",
                tokenizer.options().mask_token(), " (within ", max_length, " tokens): \"", line,
                "\"");
    auto ids = ember::from_vector(enc.input_ids, {1, enc.seq}).to(dev);
    auto mask = ember::from_vector(enc.attention_mask, {1, enc.seq}).to(dev);
    auto types = ember::from_vector(enc.token_type_ids, {1, enc.seq}).to(dev);
    Tensor<float> h = model->base_model->forward(ids, mask, types).last_hidden_state.select(0, 0);
    Tensor<float> logits = model->prediction_scores(
        ember::index_select(h, 0, ember::from_vector(masks, {int64_t(masks.size())}).to(dev)));
    const std::vector<float> probs = ember::softmax(logits, -1).to(ember::Device::cpu()).to_vector();
    const int64_t vocab = logits.size(1);
    nlohmann::json j = {{"text", line}, {"masks", nlohmann::json::array()}};
    for (std::size_t m = 0; m < masks.size(); ++m) {
      std::vector<int64_t> best(static_cast<std::size_t>(vocab), 0);
      for (int64_t v = 0; v < vocab; ++v) best[std::size_t(v)] = v;
      const float* row = probs.data() + m * std::size_t(vocab);
      std::partial_sort(best.begin(), best.begin() + top_k, best.end(), [&](int64_t x, int64_t y) {
        return row[x] > row[y] || (row[x] == row[y] && x < y);
      });
      nlohmann::json candidates = nlohmann::json::array();
      for (int64_t k = 0; k < top_k; ++k) {
        const int64_t id = best[std::size_t(k)];
        candidates.push_back({{"token_id", id}, {"token", tokenizer.id_to_token(id)},
                              {"score", row[id]}});
      }
      j["masks"].push_back(candidates);
    }
    if (json) {
      std::cout << j.dump() << "\n";
    } else {
      std::cout << line << "\n";
      for (const auto& candidates : j["masks"]) {
        std::cout << " ";
        for (const auto& c : candidates)
          std::printf(" %s (%.4f)", c["token"].get<std::string>().c_str(), c["score"].get<double>());
        std::cout << "\n";
      }
    }
    ++done;
  }
  EMBER_CHECK(done > 0, "fill-mask: no text in ",
              input_file.empty() ? std::string("standard input") : input_file,
              " (expected one text per line with [MASK])");
  return 0;
}

// ---- init ----------------------------------------------------------------------------------------

/// Writes a freshly initialized model (Hugging Face's initialization) with the vocabulary: the
/// from-scratch starting point, e.g. the "no pretraining" baseline of a fine-tuning comparison.
int run_init(const std::string& config_file, const std::string& vocab_file,
             const std::string& output_dir, uint64_t seed) {
  ember::Generator gen(seed);
  Pretrained p = load_model("", config_file, vocab_file, gen);
  save_model(*p.model, p.tokenizer, output_dir);
  std::printf("initialized model written to %s\n", output_dir.c_str());
  return 0;
}

// ---- train-vocab ---------------------------------------------------------------------------------

/// Trains a WordPiece vocabulary on the corpus (Hugging Face's WordPieceTrainer algorithm,
/// data/wordpiece_trainer.hpp) and writes DIR/vocab.txt and DIR/tokenizer_config.json, which
/// ember's and Hugging Face's BERT tokenizers load. Training happens before DIR is created.
int run_train_vocab(const std::vector<std::string>& corpus, const std::string& output_dir,
                    const ember::data::WordPieceTrainerOptions& options) {
  ember::data::WordPieceTrainer trainer(options);
  const auto start = std::chrono::steady_clock::now();
  trainer.train(corpus);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ember::models::bert::save_tokenizer(trainer.tokenizer(), output_dir);
  const auto& s = trainer.stats();
  std::printf("vocabulary: %zu tokens (%lld special, alphabet %lld, %lld continuation, %lld merges)"
              " from %lld words (%lld distinct) in %.1f s; written to %s/vocab.txt\n",
              trainer.vocab().size(), (long long)options.special_tokens().size(),
              (long long)s.alphabet_size, (long long)s.num_continuation_tokens,
              (long long)s.num_merges, (long long)s.num_words, (long long)s.num_unique_words,
              seconds, output_dir.c_str());
  if (trainer.vocab().size() < options.vocab_size())
    std::printf("note: fewer than --vocab-size %zu tokens: no pair left occurs --min-frequency %lld "
                "times\n", options.vocab_size(), (long long)options.min_frequency());
  return 0;
}

}  // namespace

// ---- command line --------------------------------------------------------------------------------

int main(int argc, char** argv) {
  CLI::App app{"Masked-language-model pretraining of BERT with ember"};
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();

  PretrainArgs t;
  auto* pre = app.add_subcommand("pretrain", "continue pretraining a checkpoint, or pretrain from scratch");
  pre->add_option("--model", t.model_dir, "Hugging Face BERT directory to start from");
  pre->add_option("--config", t.config_file, "config.json of a model from scratch (with --vocab)");
  pre->add_option("--vocab", t.vocab_file, "vocab.txt of a model from scratch (see train-vocab)");
  pre->add_option("--corpus", t.corpus, "plain-text files (UTF-8; one document per line)")
      ->required();
  pre->add_option("--output", t.output_dir, "output directory (the model, checkpoint/, metrics.jsonl)");
  pre->add_option("--max-steps", t.max_steps, "optimizer steps (0: --epochs passes)")
      ->check(CLI::NonNegativeNumber);
  pre->add_option("--epochs", t.epochs, "passes over the corpus")->check(CLI::PositiveNumber);
  pre->add_option("--batch-size", t.batch_size, "examples per micro-batch")->check(CLI::PositiveNumber);
  pre->add_option("--seq-len", t.seq_len, "tokens per example incl. [CLS]/[SEP]")
      ->check(CLI::Range(int64_t(3), int64_t(512)));
  pre->add_option("--packing", t.packing, "blocks | group_texts | line_by_line (docs/data.md)");
  pre->add_option("--documents", t.documents, "line | blank_line: what a document is");
  pre->add_option("--lr", t.lr, "peak learning rate")->check(CLI::PositiveNumber);
  pre->add_option("--warmup-ratio", t.warmup_ratio, "fraction of the steps warming up")
      ->check(CLI::Range(0.0, 1.0));
  pre->add_option("--weight-decay", t.weight_decay, "AdamW weight decay (not on biases, LayerNorm)")
      ->check(CLI::NonNegativeNumber);
  pre->add_option("--max-grad-norm", t.max_grad_norm, "gradient clipping norm")
      ->check(CLI::PositiveNumber);
  pre->add_option("--mask-prob", t.mask_prob, "fraction of tokens selected for prediction, in (0, 1]")
      ->check(CLI::Range(0.0, 1.0));
  pre->add_flag("--whole-word-mask", t.whole_word_mask, "select whole words, never word pieces");
  pre->add_option("--grad-accum", t.grad_accum, "micro-batches per optimizer step")
      ->check(CLI::PositiveNumber);
  pre->add_option("--validation-ratio", t.validation_ratio,
                  "held-out share of the examples, in (0, 1)");
  pre->add_option("--eval-every", t.eval_every, "evaluate every N steps (0: each epoch)")
      ->check(CLI::NonNegativeNumber);
  pre->add_option("--log-every", t.log_every, "steps between metrics-log lines")
      ->check(CLI::PositiveNumber);
  pre->add_option("--seed", t.seed, "seed of the order, the masks, dropout and initialization");
  pre->add_option("--threads", t.threads, "CPU threads (0: all)")->check(CLI::NonNegativeNumber);
  pre->add_option("--device", t.device, "cpu, cuda or cuda:N");
  pre->add_flag("--resume", t.resume, "continue from OUTPUT/checkpoint if present");
  pre->add_option("--stop-at-step", t.stop_at_step,
                  "save a checkpoint and stop after this step, to --resume later (0: run to the end)")
      ->check(CLI::NonNegativeNumber);

  std::string model_dir, input_file;
  int64_t top_k = 5, max_length = 512, threads = 0;
  bool json = false;
  std::string device = "cpu";
  auto* fill = app.add_subcommand("fill-mask", "the top-k tokens for each [MASK] (one text per line)");
  fill->add_option("--model", model_dir, "BertForMaskedLM directory")->required();
  fill->add_option("--input", input_file, "file with one text per line (default: stdin)");
  fill->add_option("--top-k", top_k, "candidates per [MASK]")->check(CLI::PositiveNumber);
  fill->add_flag("--json", json, "JSON lines output");
  fill->add_option("--max-length", max_length, "tokens per line incl. [CLS]/[SEP] (at most the model's)")
      ->check(CLI::Range(int64_t(3), int64_t(512)));
  fill->add_option("--threads", threads, "CPU threads (0: all)")->check(CLI::NonNegativeNumber);
  fill->add_option("--device", device, "cpu, cuda or cuda:N");

  std::vector<std::string> vocab_corpus;
  std::string vocab_output;
  std::size_t vocab_size = 30522, limit_alphabet = 1000;
  int64_t min_frequency = 2;
  bool cased = false;
  auto* vocab = app.add_subcommand("train-vocab", "train a WordPiece vocabulary (vocab.txt) on a corpus");
  vocab->add_option("--corpus", vocab_corpus, "plain-text files (UTF-8)")->required();
  vocab->add_option("--output", vocab_output, "directory for vocab.txt and tokenizer_config.json")
      ->required();
  vocab->add_option("--vocab-size", vocab_size, "tokens in the vocabulary, special ones included")
      ->check(CLI::PositiveNumber);
  vocab->add_option("--min-frequency", min_frequency, "a pair must occur this often to be merged")
      ->check(CLI::PositiveNumber);
  vocab->add_option("--limit-alphabet", limit_alphabet, "most frequent characters kept (0: all)");
  vocab->add_flag("--cased", cased, "keep case and accents (default: lower-case, as BERT uncased)");

  std::string init_config, init_vocab, init_output;
  uint64_t init_seed = 42;
  auto* init = app.add_subcommand("init", "write a freshly initialized model (from a config and a vocabulary)");
  init->add_option("--config", init_config, "config.json (vocab_size may be left out)")->required();
  init->add_option("--vocab", init_vocab, "vocab.txt")->required();
  init->add_option("--output", init_output, "output directory")->required();
  init->add_option("--seed", init_seed, "seed of the initialization");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*pre) return run_pretrain(t);
    if (*fill) {
      if (threads > 0) ember::set_num_threads(int(threads));
      return run_fill_mask(model_dir, input_file, top_k, json, max_length, device);
    }
    if (*init) return run_init(init_config, init_vocab, init_output, init_seed);
    if (*vocab)
      return run_train_vocab(vocab_corpus, vocab_output,
                             ember::data::WordPieceTrainerOptions()
                                 .vocab_size(vocab_size)
                                 .min_frequency(min_frequency)
                                 .limit_alphabet(limit_alphabet)
                                 .lowercase(!cased));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 1;
}
