// examples/token_classification — fine-tune a pretrained BERT to tag words (named-entity
// recognition), evaluate it with entity-level precision / recall / F1, and tag new text. The
// recipe is Hugging Face's run_ner.py with its Trainer defaults; tools/hf_train_ner.py runs the
// same recipe in transformers, and scripts/wnut17_compare.sh compares the two on WNUT 2017.
//
//   token_classification train   --model DIR --train FILE --validation FILE [--test FILE]
//                                --output DIR [--epochs 3 --lr 5e-5 --batch-size 16 ...]
//   token_classification eval    --model DIR --data FILE
//   token_classification predict --model DIR [--input FILE]   (stdin without --input)
//
// Data: CoNLL files (`token<TAB>tag` per line, a blank line between sentences; data/conll.hpp).
// The tags of the training file, sorted, are the model's labels. Each word is tokenized on its
// own; the word's tag is learned and predicted on its first sub-token only (data/
// token_classification.hpp). DIR is a Hugging Face-layout BERT directory (config.json,
// vocab.txt, model.safetensors); OUTPUT/best is one too, loadable by transformers'
// AutoModelForTokenClassification.
//
// Training: AdamW (betas 0.9/0.999, eps 1e-8; no decay on biases and LayerNorm weights), a
// linear schedule (warmup then decay to 0), gradient norm clipped to 1.0, the mean cross-entropy
// over the scored tokens, a new shuffle each epoch from --seed, dropout on. After each epoch the
// model is scored on the validation file (entity F1, seqeval's) and saved to OUTPUT/best when
// its F1 is the best so far (HF: load_best_model_at_end, metric_for_best_model="f1"); the
// final report is best/ on the test file (or the validation file).
#include <ember/data/conll.hpp>
#include <ember/data/token_classification.hpp>
#include <ember/ember.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using ember::Tensor;
using Model = ember::models::bert::BertForTokenClassification<float>;
using Examples = std::vector<ember::data::TokenClassificationExample>;
using Encodings = std::vector<ember::data::TokenClassificationEncoding>;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// ---- the model and its tokenizer ---------------------------------------------------------------

/// The model's WordPiece tokenizer: dir/vocab.txt (BERT, DistilBERT, ELECTRA).
ember::data::WordPieceTokenizer load_tokenizer(const std::string& dir) {
  EMBER_CHECK(fs::is_regular_file(fs::path(dir) / "vocab.txt"), dir,
              " has no vocab.txt: this "
              "example reads WordPiece models (BERT, DistilBERT, ELECTRA); for RoBERTa or XLM-R "
              "use ember::data::encode_words with their tokenizers in your own program");
  return ember::data::WordPieceTokenizer::from_pretrained(dir);
}

/// A fine-tuned tagger for eval/predict. A directory whose config names another head, or whose
/// classifier is missing (a pretrained encoder), would tag with a random head: an error.
std::shared_ptr<Model> load_tagger(const std::string& dir) {
  const auto config = ember::models::AutoConfig::from_pretrained(dir);
  for (const auto& arch : config.extra.value("architectures", nlohmann::json::array()))
    EMBER_CHECK(arch.is_string() &&
                    arch.get<std::string>().find("ForTokenClassification") != std::string::npos,
                dir, " holds a ", arch.dump(),
                " model, not a token classifier: fine-tune it "
                "first with `token_classification train --model ",
                dir,
                " ...` and use "
                "OUTPUT/best");
  ember::models::bert::LoadReport report;
  auto model = ember::models::AutoModelForTokenClassification::from_pretrained<float>(
      dir, ember::models::FromPretrainedOptions().loading_info(&report));
  for (const std::string& key : report.missing_keys)
    EMBER_CHECK(key.rfind("classifier.", 0) != 0, dir, " has no token-classification head (", key,
                " is missing): fine-tune it first with `token_classification train --model ", dir,
                " ...` and use OUTPUT/best");
  model->eval();
  return model;
}

/// The vocabulary must fit the embedding table; a --max-length beyond the model's positions is
/// lowered to max_position_embeddings, with a note. Returns the max_length to use.
int64_t check_model_inputs(const Model& model, const ember::data::WordPieceTokenizer& tok,
                           int64_t max_length, const std::string& dir) {
  const auto& c = model.config();
  EMBER_CHECK(int64_t(tok.vocab_size()) <= c.vocab_size, dir, "/vocab.txt has ", tok.vocab_size(),
              " tokens but config.json's vocab_size is ", c.vocab_size);
  if (max_length <= c.max_position_embeddings) return max_length;
  std::fprintf(stderr,
               "note: --max-length %lld exceeds the model's max_position_embeddings "
               "(%lld); using %lld\n",
               (long long)max_length, (long long)c.max_position_embeddings,
               (long long)c.max_position_embeddings);
  return c.max_position_embeddings;
}

// ---- evaluation --------------------------------------------------------------------------------

/// The predicted tag of every scored word (the first sub-token of each word that has one, as
/// Hugging Face scores: labels ≠ −100), sentence by sentence, in `encodings` order.
std::vector<std::vector<std::string>> predict_tags(const Model& model, const Encodings& encodings,
                                                   int64_t batch_size, int64_t pad_id) {
  ember::NoGradGuard no_grad;
  ember::data::DataCollatorForTokenClassification collate(pad_id);
  const auto& id2label = model.config().id2label;
  std::vector<std::vector<std::string>> out(encodings.size());
  for (int64_t start = 0; start < int64_t(encodings.size()); start += batch_size) {
    std::vector<int64_t> rows(
        std::size_t(std::min<int64_t>(batch_size, int64_t(encodings.size()) - start)));
    std::iota(rows.begin(), rows.end(), start);
    ember::data::Batch b = collate(encodings, rows);
    Tensor<float> logits = model.forward(b.input_ids, b.attention_mask, b.token_type_ids).logits;
    const std::vector<int64_t> best = ember::argmax(logits, -1).to_vector();
    const int64_t seq = b.input_ids.size(1);
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (auto [pos, word] : ember::data::first_token_positions(encodings[std::size_t(rows[r])]))
        out[std::size_t(rows[r])].push_back(
            id2label.at(best[r * std::size_t(seq) + std::size_t(pos)]));
  }
  return out;
}

/// Entity-level scores (seqeval, default mode) of the model on `examples`: the words without a
/// sub-token (truncated, or emptied by the tokenizer) are left out of both sides, as HF does.
ember::train::EntityScores evaluate(Model& model, const Examples& examples,
                                    const Encodings& encodings, int64_t pad_id,
                                    int64_t* unscored = nullptr) {
  model.eval();
  const auto predicted = predict_tags(model, encodings, 64, pad_id);
  model.train();
  std::vector<std::vector<std::string>> truth(examples.size());
  int64_t skipped = 0;
  for (std::size_t s = 0; s < examples.size(); ++s) {
    for (auto [pos, word] : ember::data::first_token_positions(encodings[s]))
      truth[s].push_back(examples[s].tags[std::size_t(word)]);
    skipped += int64_t(examples[s].tags.size() - truth[s].size());
  }
  if (unscored) *unscored = skipped;
  return ember::train::entity_scores(truth, predicted);
}

void print_scores(const char* what, const ember::train::EntityScores& s) {
  std::printf("%s: %lld entities, %lld predicted, %lld correct\n%s", what, (long long)s.support,
              (long long)s.predicted, (long long)s.correct, s.report(4).c_str());
  std::printf("precision: %.4f\nrecall: %.4f\nf1: %.4f\n", s.precision, s.recall, s.f1);
}

// ---- train -------------------------------------------------------------------------------------

struct TrainArgs {
  std::string model_dir, train_file, validation_file, test_file, output_dir;
  int64_t epochs = 3, batch_size = 16, max_length = 128, threads = 0;
  double lr = 5e-5, weight_decay = 0.0, warmup_ratio = 0.0, max_grad_norm = 1.0;
  uint64_t seed = 42;
};

int run_train(TrainArgs a) {
  if (a.threads > 0) ember::set_num_threads(int(a.threads));
  ember::Generator gen(a.seed);  // dropout and the fresh classifier's initialization

  // Data: every file is read and checked before anything is written. The labels are the
  // training file's tags, sorted (run_ner's get_label_list).
  const Examples train = ember::data::read_conll(a.train_file);
  const Examples validation = ember::data::read_conll(a.validation_file);
  const Examples test = a.test_file.empty() ? validation : ember::data::read_conll(a.test_file);
  const std::vector<std::string> labels = ember::data::conll_label_list(train);
  std::map<int64_t, std::string> id2label;
  std::map<std::string, int64_t> label2id;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    id2label[int64_t(i)] = labels[i];
    label2id[labels[i]] = int64_t(i);
  }

  ember::models::bert::LoadReport report;
  auto model = ember::models::AutoModelForTokenClassification::from_pretrained<float>(
      a.model_dir,
      ember::models::FromPretrainedOptions().id2label(id2label).loading_info(&report).generator(
          &gen));
  model->train();
  auto tokenizer = load_tokenizer(a.model_dir);
  a.max_length = check_model_inputs(*model, tokenizer, a.max_length, a.model_dir);
  const Encodings train_enc = ember::data::encode_token_classification(tokenizer, train, label2id,
                                                                       a.max_length, a.train_file);
  const Encodings val_enc = ember::data::encode_token_classification(
      tokenizer, validation, label2id, a.max_length, a.validation_file);
  const Encodings test_enc = a.test_file.empty()
                                 ? val_enc
                                 : ember::data::encode_token_classification(
                                       tokenizer, test, label2id, a.max_length, a.test_file);
  std::string label_line;
  for (const std::string& l : labels) label_line += (label_line.empty() ? "" : " ") + l;
  std::printf("model: %s, %.1fM parameters; %s\nlabels (%zu): %s\n", a.model_dir.c_str(),
              model->num_parameters() / 1e6, report.summary().c_str(), labels.size(),
              label_line.c_str());

  // Optimizer and schedule: one step per batch; HF rounds the warmup steps up.
  const int64_t n = int64_t(train_enc.size());
  const int64_t steps_per_epoch = (n + a.batch_size - 1) / a.batch_size;
  const int64_t total_steps = steps_per_epoch * a.epochs;
  ember::optim::AdamW<float> optimizer(ember::optim::bert_param_groups(*model, a.weight_decay),
                                       ember::optim::AdamWOptions(a.lr));
  ember::optim::LinearWarmupDecay<float> scheduler(
      optimizer, int64_t(std::ceil(a.warmup_ratio * double(total_steps))), total_steps);
  const std::vector<Tensor<float>> params = model->parameters();
  ember::data::DataCollatorForTokenClassification collate(tokenizer.pad_token_id());
  std::printf(
      "train: %lld sentences, %lld steps (%lld epochs of %lld, batch %lld), lr %g, "
      "weight decay %g, warmup %g, %d threads\n",
      (long long)n, (long long)total_steps, (long long)a.epochs, (long long)steps_per_epoch,
      (long long)a.batch_size, a.lr, a.weight_decay, a.warmup_ratio, ember::get_num_threads());

  const std::string best_dir = a.output_dir + "/best";
  fs::create_directories(a.output_dir);
  ember::train::ProgressBar progress(total_steps, std::cerr);
  ember::Generator order_gen(a.seed);  // the epochs' shuffles
  std::vector<int64_t> order(std::size_t(n), 0);
  double best_f1 = -1;
  int64_t best_epoch = -1;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t epoch = 0; epoch < a.epochs; ++epoch) {
    progress.set_epoch(epoch, a.epochs);
    const auto epoch_start = std::chrono::steady_clock::now();
    std::iota(order.begin(), order.end(), int64_t(0));
    for (int64_t i = n - 1; i > 0; --i)  // Fisher–Yates
      std::swap(order[std::size_t(i)], order[order_gen.randint(uint64_t(i + 1))]);
    double loss_sum = 0;
    for (int64_t b = 0; b < steps_per_epoch; ++b) {
      const auto first = order.begin() + b * a.batch_size;
      const std::vector<int64_t> rows(first, first + std::min(a.batch_size, n - b * a.batch_size));
      ember::data::Batch batch = collate(train_enc, rows);
      Tensor<float> loss =
          model->forward(batch.input_ids, batch.attention_mask, batch.token_type_ids, batch.labels)
              .loss;
      loss.backward();
      const double value = loss.item();
      EMBER_CHECK(std::isfinite(value), "training diverged at epoch ", epoch + 1, ", step ", b + 1,
                  ": the loss is ", value, "; lower --lr (now ", a.lr, ")");
      ember::optim::clip_grad_norm_(params, a.max_grad_norm);
      const double lr = optimizer.lr();
      optimizer.step();
      scheduler.step();
      optimizer.zero_grad();
      loss_sum += value;
      progress.update(value, lr, int64_t(rows.size()));
    }
    const double train_seconds = seconds_since(epoch_start);
    const auto s = evaluate(*model, validation, val_enc, tokenizer.pad_token_id());
    const bool improved = s.f1 > best_f1;  // strictly: a tie keeps the earlier epoch, as HF
    if (improved) {
      best_f1 = s.f1;
      best_epoch = epoch + 1;
      ember::models::bert::save_pretrained(*model, best_dir);
      ember::models::bert::save_tokenizer(tokenizer, best_dir);
    }
    char line[256];
    std::snprintf(line, sizeof line,
                  "epoch %lld/%lld: loss %.4f, validation precision %.4f "
                  "recall %.4f f1 %.4f; %.1f s training, %.1f s validation%s",
                  (long long)(epoch + 1), (long long)a.epochs, loss_sum / double(steps_per_epoch),
                  s.precision, s.recall, s.f1, train_seconds,
                  seconds_since(epoch_start) - train_seconds,
                  improved ? " (best so far, saved)" : "");
    progress.write(line);
  }
  progress.close();
  std::printf("training: %.1f s; best validation f1 %.4f at epoch %lld (%s)\n",
              seconds_since(start), best_f1, (long long)best_epoch, best_dir.c_str());

  // The final report: best/ as saved, on the test file (or validation).
  auto best = load_tagger(best_dir);
  int64_t unscored = 0;
  const auto s = evaluate(*best, test, test_enc, tokenizer.pad_token_id(), &unscored);
  std::printf(
      "\nbest model on %s (%lld words without a token within --max-length %lld not "
      "scored):\n",
      a.test_file.empty() ? a.validation_file.c_str() : a.test_file.c_str(), (long long)unscored,
      (long long)a.max_length);
  print_scores("test", s);
  return 0;
}

// ---- eval --------------------------------------------------------------------------------------

struct RunArgs {  // what eval and predict share
  std::string model_dir, data_file, input_file;
  int64_t batch_size = 64, max_length = 128, threads = 0;
};

int run_eval(RunArgs a) {
  if (a.threads > 0) ember::set_num_threads(int(a.threads));
  auto model = load_tagger(a.model_dir);
  auto tokenizer = load_tokenizer(a.model_dir);
  a.max_length = check_model_inputs(*model, tokenizer, a.max_length, a.model_dir);
  const Examples examples = ember::data::read_conll(a.data_file);
  // Tags map through the model's own labels: a tag it was not trained on is an error.
  const Encodings enc = ember::data::encode_token_classification(
      tokenizer, examples, model->config().label2id(), a.max_length, a.data_file);
  const auto start = std::chrono::steady_clock::now();
  int64_t unscored = 0;
  const auto s = evaluate(*model, examples, enc, tokenizer.pad_token_id(), &unscored);
  std::printf(
      "eval: %zu sentences in %.1f s (%lld words without a token within --max-length "
      "%lld not scored)\n",
      examples.size(), seconds_since(start), (long long)unscored, (long long)a.max_length);
  print_scores(a.data_file.c_str(), s);
  return 0;
}

// ---- predict -----------------------------------------------------------------------------------

/// Tags each line of --input (or stdin): its words split on spaces and tabs, one `word<TAB>tag`
/// line per word and a blank line after each sentence (CoNLL, readable by `eval` once checked).
/// A word without a sub-token within --max-length is tagged O.
int run_predict(RunArgs a) {
  if (a.threads > 0) ember::set_num_threads(int(a.threads));
  auto model = load_tagger(a.model_dir);
  auto tokenizer = load_tokenizer(a.model_dir);
  a.max_length = check_model_inputs(*model, tokenizer, a.max_length, a.model_dir);
  std::ifstream file;
  if (!a.input_file.empty()) {
    EMBER_CHECK(fs::is_regular_file(a.input_file), "predict: --input ", a.input_file,
                " is not a readable file");
    file.open(a.input_file);
    EMBER_CHECK(file.good(), "predict: cannot open ", a.input_file);
  }
  std::istream& in = a.input_file.empty() ? std::cin : file;
  std::vector<std::vector<std::string>> sentences;
  std::string line, word;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::replace(line.begin(), line.end(), '\t', ' ');
    std::istringstream words(line);
    sentences.emplace_back();
    while (words >> word) sentences.back().push_back(word);
  }
  const bool any =
      std::any_of(sentences.begin(), sentences.end(), [](const auto& s) { return !s.empty(); });
  EMBER_CHECK(any, "predict: no text to tag in ",
              a.input_file.empty() ? std::string("stdin") : a.input_file,
              " (expected one sentence per line)");
  Encodings enc;
  for (const auto& s : sentences)
    enc.push_back(ember::data::encode_words(tokenizer, s, {}, a.max_length));
  const auto tags = predict_tags(*model, enc, a.batch_size, tokenizer.pad_token_id());
  for (std::size_t s = 0; s < sentences.size(); ++s) {
    std::vector<std::string> word_tags(sentences[s].size(), "O");
    const auto positions = ember::data::first_token_positions(enc[s]);
    for (std::size_t k = 0; k < positions.size(); ++k)
      word_tags[std::size_t(positions[k].second)] = tags[s][k];
    for (std::size_t w = 0; w < sentences[s].size(); ++w)
      std::printf("%s\t%s\n", sentences[s][w].c_str(), word_tags[w].c_str());
    std::printf("\n");
  }
  return 0;
}

// ---- command line ------------------------------------------------------------------------------

int main(int argc, char** argv) {
  CLI::App app{"Fine-tune, evaluate and run a BERT named-entity tagger with ember"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.require_subcommand(1);

  TrainArgs t;
  auto* train = app.add_subcommand("train", "fine-tune a pretrained model on a CoNLL file");
  train->add_option("--model", t.model_dir, "pretrained model directory")->required();
  train->add_option("--train", t.train_file, "training file (CoNLL)")->required();
  train->add_option("--validation", t.validation_file, "validation file (best epoch)")->required();
  train->add_option("--test", t.test_file, "file for the final report (default: validation)");
  train->add_option("--output", t.output_dir, "output directory (best/)")->required();
  train->add_option("--epochs", t.epochs, "passes over the training file")
      ->check(CLI::PositiveNumber);
  train->add_option("--lr", t.lr, "peak learning rate")->check(CLI::PositiveNumber);
  train->add_option("--batch-size", t.batch_size, "sentences per step")->check(CLI::PositiveNumber);
  train->add_option("--max-length", t.max_length, "tokens per sentence incl. [CLS]/[SEP]")
      ->check(CLI::Range(int64_t(3), int64_t(512)));
  train->add_option("--seed", t.seed, "seed of the shuffles, dropout and the classifier's init");
  train->add_option("--threads", t.threads, "CPU threads (0: all)")->check(CLI::NonNegativeNumber);
  train
      ->add_option("--weight-decay", t.weight_decay,
                   "AdamW weight decay (not on biases and "
                   "LayerNorm weights)")
      ->check(CLI::NonNegativeNumber);
  train->add_option("--warmup-ratio", t.warmup_ratio, "fraction of the steps warming up")
      ->check(CLI::Range(0.0, 1.0));

  RunArgs e, p;
  auto* eval = app.add_subcommand("eval", "entity-level precision, recall and F1 on a CoNLL file");
  eval->add_option("--model", e.model_dir, "fine-tuned model directory (OUTPUT/best)")->required();
  eval->add_option("--data", e.data_file, "labelled CoNLL file")->required();
  auto* predict = app.add_subcommand("predict", "tag one whitespace-split sentence per line");
  predict->add_option("--model", p.model_dir, "fine-tuned model directory (OUTPUT/best)")
      ->required();
  predict->add_option("--input", p.input_file, "text file (default: stdin)");
  for (auto [cmd, args] : {std::pair{eval, &e}, std::pair{predict, &p}}) {
    cmd->add_option("--batch-size", args->batch_size, "sentences per batch")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--max-length", args->max_length, "tokens per sentence incl. [CLS]/[SEP]")
        ->check(CLI::Range(int64_t(3), int64_t(512)));
    cmd->add_option("--threads", args->threads, "CPU threads (0: all)")
        ->check(CLI::NonNegativeNumber);
  }

  CLI11_PARSE(app, argc, argv);
  try {
    if (*train) return run_train(t);
    if (*eval) return run_eval(e);
    if (*predict) return run_predict(p);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "error: %s\n", ex.what());
    return 2;
  }
  return 1;
}
