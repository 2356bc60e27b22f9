// examples/bert_classification — fine-tune a pretrained BERT on labelled text, evaluate it, and
// predict with it. The training loop below is the one a user would write by hand with ember:
// forward, loss, backward, clip, optimizer step, schedule step, evaluate, keep the best.
//
//   bert_classification train   --model DIR --train FILE --validation FILE [--test FILE] --output DIR
//   bert_classification eval    --model DIR --data FILE
//   bert_classification predict --model DIR [--input FILE] [--json]
//   (each takes --device cpu|cuda|cuda:N and, with cuda, --bf16; CUDA needs the
//    bert_classification_cuda build, which links the CUDA backend: see docs/gpu.md)
//
// DIR is a Hugging Face-layout directory (config.json, vocab.txt, model.safetensors); the
// output's best/ directory is one too, loadable by Hugging Face transformers.
#include <ember/ember.hpp>

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using ember::Tensor;
using Model = ember::models::bert::BertForSequenceClassification<float>;

// ---- command-line checks -------------------------------------------------------------------------

/// A CLI11 check that a number is > 0 (`strict`) or >= 0, with a plain message ("--threads:
/// expected a number >= 0, found -1") rather than CLI11's range up to the largest double.
CLI::Validator number_above_zero(bool strict) {
  return CLI::Validator(
      [strict](std::string& text) -> std::string {
        double v = 0;
        try {
          std::size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) v = std::nan("");
        } catch (const std::exception&) {
          v = std::nan("");
        }
        if (strict ? v > 0 : v >= 0) return "";
        return std::string("expected a number ") + (strict ? "> 0" : ">= 0") + ", found " + text;
      },
      strict ? "> 0" : ">= 0");
}
const CLI::Validator kPositive = number_above_zero(true);
const CLI::Validator kNonNegative = number_above_zero(false);

// ---- data options shared by the subcommands ------------------------------------------------------

struct DataArgs {
  std::string text_column = "sentence";
  std::string text_pair_column;
  std::string label_column = "label";
  bool no_header = false;

  void add_to(CLI::App* app) {
    app->add_option("--text-column", text_column, "column holding the text (header name)");
    app->add_option("--text-pair-column", text_pair_column,
                    "column holding the second text of sentence-pair tasks");
    app->add_option("--label-column", label_column, "column holding the label");
    app->add_flag("--no-header", no_header,
                  "the file has no header: columns are then 0 (text), 1 (label) or 0, 1, 2 (pair)");
  }
  ember::data::TextDatasetOptions options() const {
    auto o = ember::data::TextDatasetOptions()
                 .has_header(!no_header)
                 .text_column(text_column)
                 .label_column(label_column);
    if (!text_pair_column.empty()) o.text_pair_column(text_pair_column);
    if (no_header) {
      o.text_index(0);
      if (!text_pair_column.empty()) {
        o.text_pair_index(1);
        o.label_index(2);
      } else {
        o.label_index(1);
      }
    }
    return o;
  }
};

// ---- devices -----------------------------------------------------------------------------------

/// "cpu", "cuda" or "cuda:N". A CUDA device is checked here, before any file is read: this
/// program must have been built with the CUDA backend (bert_classification_cuda) and see a GPU.
ember::Device parse_device(const std::string& s) {
  if (s == "cpu") return ember::Device::cpu();
  ember::Device dev = ember::Device::cpu();
  if (s == "cuda") {
    dev = ember::Device::cuda(0);
  } else if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() < 9 &&
             s.find_first_not_of("0123456789", 5) == std::string::npos) {
    dev = ember::Device::cuda(std::stoi(s.substr(5)));
  } else {
    EMBER_FAIL("--device: expected cpu, cuda or cuda:N, found \"", s, "\"");
  }
  EMBER_CHECK(ember::cuda::is_built(), "--device ", s, ": this program was built without ember's "
              "CUDA backend; use bert_classification_cuda (built when CMake finds nvcc, docs/gpu.md)");
  EMBER_CHECK(ember::cuda::is_available(), "--device ", s, ": no usable CUDA device (no NVIDIA GPU, "
              "or no driver for it)");
  return dev;
}

/// --bf16: the GPU's fp32 matrix products compute on bf16 tensor cores with fp32 accumulation
/// (ember::cuda::MatmulPrecision::medium); weights, optimizer state and every other op stay fp32.
/// Throws `ember::Error` on the CPU (whose products are always fp32) or without the CUDA backend.
void set_matmul_precision(bool bf16, ember::Device dev) {
  if (!bf16) return;
  EMBER_CHECK(!dev.is_cpu() || ember::cpu_info().bf16_products,
              "--bf16 on the CPU needs bf16 arithmetic (AMX-BF16 or AVX512-BF16) and ember built "
              "with oneDNN; this machine: ", ember::cpu_info().features.flags());
  ember::set_float32_matmul_precision(ember::MatmulPrecision::medium, dev);
}

// ---- evaluation --------------------------------------------------------------------------------

/// Runs the model over `loader` without gradients; returns the confusion matrix.
ember::train::ConfusionMatrix evaluate(Model& model, const ember::data::DataLoader& loader,
                                       ember::Device dev) {
  ember::NoGradGuard no_grad;
  model.eval();
  ember::train::ConfusionMatrix cm(model.num_labels());
  for (auto& cpu_batch : loader) {
    ember::data::Batch batch = cpu_batch.to(dev);
    Tensor<float> logits =
        model.forward(batch.input_ids, batch.attention_mask, batch.token_type_ids).logits;
    cm.update(ember::argmax(logits, -1).to(ember::Device::cpu()), cpu_batch.labels);
  }
  model.train();
  return cm;
}

std::map<int64_t, std::string> to_id2label(const std::vector<std::string>& names) {
  std::map<int64_t, std::string> m;
  for (std::size_t i = 0; i < names.size(); ++i) m[int64_t(i)] = names[i];
  return m;
}

void save_model(const Model& model, const ember::data::WordPieceTokenizer& tok,
                const std::string& dir) {
  ember::models::bert::save_pretrained(model, dir);
  ember::models::bert::save_tokenizer(tok, dir);
}

/// Prints the training file's label set with counts, and warns when integer and non-integer
/// labels are mixed ("0", "1", "positive"): legal (they are all read as names, docs/data.md), but
/// usually a typo that would otherwise silently add a class.
void print_labels(const ember::data::TextClassificationDataset& set) {
  const std::vector<int64_t> counts = set.label_counts();
  std::string line, names;
  std::size_t integers = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const std::string& name = set.id2label()[i];
    line += (i ? ", " : "") + name + " (" + std::to_string(counts[i]) + ")";
    names += (i ? ", '" : "'") + name + "'";
    if (!name.empty() && name.find_first_not_of("-0123456789") == std::string::npos) ++integers;
  }
  std::printf("labels (examples): %s\n", line.c_str());
  if (integers > 0 && integers < counts.size())
    std::fprintf(stderr, "warning: the labels mix integers and other names (%s); check the label "
                         "column for typos\n", names.c_str());
}

// ---- train -------------------------------------------------------------------------------------

struct TrainArgs {
  std::string model_dir, train_file, validation_file, test_file, output_dir = "bert-output";
  DataArgs data;
  int64_t epochs = 3, batch_size = 32, max_length = 128, grad_accum = 1, threads = 0;
  int64_t max_train_examples = 0, max_validation_examples = 0, eval_every = 0, patience = 0;
  int64_t log_every = 50;
  double lr = 5e-5, warmup_ratio = 0.1, weight_decay = 0.01, max_grad_norm = 1.0;
  uint64_t seed = 42;
  bool resume = false, bf16 = false;
  std::string device = "cpu";
};

int run_train(const TrainArgs& a) {
  if (a.threads > 0) ember::set_num_threads(int(a.threads));
  const ember::Device dev = parse_device(a.device);
  set_matmul_precision(a.bf16, dev);
  ember::Generator gen(a.seed);  // dropout and fresh initialization (the classifier head)

  // Data: the label set comes from the training file and is saved with the model. Every file
  // is read (and every error raised) before anything is written: the test file too.
  auto train_set = ember::data::TextClassificationDataset(a.train_file, a.data.options());
  auto val_opts = a.data.options().label2id(train_set.label2id());
  auto val_set = ember::data::TextClassificationDataset(a.validation_file, val_opts);
  const std::string report_file = a.test_file.empty() ? a.validation_file : a.test_file;
  auto test_set = ember::data::TextClassificationDataset(report_file, val_opts);
  print_labels(train_set);
  auto loader_opts = ember::data::DataLoaderOptions()
                         .batch_size(a.batch_size)
                         .max_length(a.max_length)
                         .shuffle(true)
                         .bucket_by_length(true)
                         .seed(a.seed);
  if (a.max_train_examples > 0 && a.max_train_examples < train_set.size())
    train_set = train_set.subset(a.max_train_examples, a.seed);
  if (a.max_validation_examples > 0 && a.max_validation_examples < val_set.size())
    val_set = val_set.subset(a.max_validation_examples, a.seed);

  // Model: pretrained body, fresh classifier with our labels.
  ember::models::bert::LoadReport report;
  auto model = ember::models::bert::bert_classifier_from_pretrained<float>(
      a.model_dir, ember::models::bert::FromPretrainedOptions()
                       .id2label(to_id2label(train_set.id2label()))
                       .loading_info(&report)
                       .generator(&gen));
  model->to(dev);
  model->train();
  std::printf("model: %s, %.1fM parameters on %s; %s\n", a.model_dir.c_str(),
              model->num_parameters() / 1e6, dev.str().c_str(), report.summary().c_str());

  auto tokenizer = ember::data::WordPieceTokenizer::from_pretrained(a.model_dir);
  ember::data::DataLoader train_loader(train_set, tokenizer, loader_opts);
  ember::data::DataLoader val_loader(val_set, tokenizer,
                                     ember::data::DataLoaderOptions()
                                         .batch_size(64)
                                         .max_length(a.max_length)
                                         .bucket_by_length(true));

  // Optimizer: AdamW without decay on biases and LayerNorm weights; linear warmup and decay.
  const int64_t steps_per_epoch = (train_loader.num_batches() + a.grad_accum - 1) / a.grad_accum;
  const int64_t total_steps = steps_per_epoch * a.epochs;
  ember::optim::AdamW<float> optimizer(
      ember::optim::bert_param_groups(*model, a.weight_decay),
      ember::optim::AdamWOptions(a.lr));
  ember::optim::LinearWarmupDecay<float> scheduler(
      optimizer, int64_t(std::llround(a.warmup_ratio * double(total_steps))), total_steps);
  std::vector<Tensor<float>> params = model->parameters();

  fs::create_directories(a.output_dir);
  const std::string best_dir = a.output_dir + "/best", ckpt_dir = a.output_dir + "/checkpoint";
  ember::train::MetricsLogger log(a.output_dir + "/metrics.jsonl", a.resume);
  ember::train::EarlyStopping early(a.patience > 0 ? a.patience : 1 << 30);
  ember::io::TrainerState state;
  if (a.resume && fs::exists(ckpt_dir + "/trainer_state.json")) {
    state = ember::io::load_checkpoint(ckpt_dir, *model, optimizer, &scheduler, gen);
    std::printf("resumed from %s at step %lld\n", ckpt_dir.c_str(), (long long)state.global_step);
  }
  std::printf("train: %lld examples, %lld labels, %lld steps (%lld epochs, batch %lld x %lld)\n",
              (long long)train_set.size(), (long long)train_set.num_labels(),
              (long long)total_steps, (long long)a.epochs, (long long)a.batch_size,
              (long long)a.grad_accum);

  ember::train::ProgressBar progress(total_steps, std::cerr,
                                     ember::train::ProgressOptions().initial_step(state.global_step));
  auto start = std::chrono::steady_clock::now();
  int64_t examples_seen = 0;
  bool stop = false;

  for (int64_t epoch = state.epoch; epoch < a.epochs && !stop; ++epoch) {
    train_loader.set_epoch(epoch);
    progress.set_epoch(epoch, a.epochs);
    const int64_t nb = train_loader.num_batches();
    for (int64_t b = state.batch_in_epoch; b < nb && !stop; b += a.grad_accum) {
      // One optimizer step over `grad_accum` micro-batches. Each micro-batch's summed loss is
      // divided by the number of examples in the whole step, so uneven micro-batches still
      // average per example.
      const int64_t end = std::min(b + a.grad_accum, nb);
      int64_t step_examples = 0;
      for (int64_t i = b; i < end; ++i) step_examples += train_loader.batch(i).size();
      double step_loss = 0;
      for (int64_t i = b; i < end; ++i) {
        ember::data::Batch batch = train_loader.batch(i).to(dev);
        Tensor<float> logits =
            model->forward(batch.input_ids, batch.attention_mask, batch.token_type_ids).logits;
        Tensor<float> loss = ember::cross_entropy(
            logits, batch.labels, ember::CrossEntropyOptions{-100, 0.0, ember::Reduction::Sum});
        loss = loss / double(step_examples);
        loss.backward();
        step_loss += loss.item();
      }
      ember::optim::clip_grad_norm_(params, a.max_grad_norm);
      const double lr = optimizer.lr();
      optimizer.step();
      scheduler.step();
      optimizer.zero_grad();

      ++state.global_step;
      examples_seen += step_examples;
      progress.update(step_loss, lr, step_examples);
      if (state.global_step % a.log_every == 0) log.log_train(state.global_step, step_loss, lr, epoch);

      const bool end_of_epoch = end == nb;
      const bool eval_now = a.eval_every > 0 ? state.global_step % a.eval_every == 0 || end_of_epoch
                                             : end_of_epoch;
      if (eval_now) {
        auto cm = evaluate(*model, val_loader, dev);
        double acc = cm.accuracy(), f1 = cm.macro_f1();
        log.log_eval(state.global_step, {{"accuracy", acc}, {"macro_f1", f1}}, epoch, "validation");
        bool improved = early.update(acc);
        progress.write(ember::detail::str_cat("step ", state.global_step, " epoch ", epoch,
                                              ": validation accuracy ", acc, ", macro F1 ", f1,
                                              improved ? " (best so far, saved)" : ""));
        if (improved) save_model(*model, tokenizer, best_dir);
        state.best_metric = std::max(state.best_metric, acc);
        stop = early.should_stop();
      }
      state.epoch = end_of_epoch ? epoch + 1 : epoch;
      state.batch_in_epoch = end_of_epoch ? 0 : end;
      if (eval_now)
        ember::io::save_checkpoint(ckpt_dir, *model, optimizer, &scheduler, gen, state);
    }
    state.batch_in_epoch = 0;
  }
  progress.close();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("training: %lld steps in %.1f s (%.1f examples/s); best validation accuracy %.4f\n",
              (long long)state.global_step, seconds, examples_seen / std::max(seconds, 1e-9),
              state.best_metric);

  // Final report: the best checkpoint on the test file (if given), else on validation.
  auto best = ember::models::bert::bert_classifier_from_pretrained<float>(best_dir);
  best->to(dev);
  ember::data::DataLoader test_loader(
      test_set, tokenizer, ember::data::DataLoaderOptions().batch_size(64).max_length(a.max_length));
  auto cm = evaluate(*best, test_loader, dev);
  std::printf("\nbest model (%s) on %s:\n%s", best_dir.c_str(), report_file.c_str(),
              cm.report(train_set.id2label()).c_str());
  std::printf("accuracy: %.4f\nmacro_f1: %.4f\n", cm.accuracy(), cm.macro_f1());
  log.log_eval(state.global_step, {{"accuracy", cm.accuracy()}, {"macro_f1", cm.macro_f1()}}, -1,
               "test");
  return 0;
}

// ---- eval --------------------------------------------------------------------------------------

int run_eval(const std::string& model_dir, const std::string& data_file, const DataArgs& data,
             int64_t batch_size, int64_t max_length, const std::string& device, bool bf16) {
  const ember::Device dev = parse_device(device);
  set_matmul_precision(bf16, dev);
  auto model = ember::models::bert::bert_classifier_from_pretrained<float>(model_dir);
  model->to(dev);
  auto tokenizer = ember::data::WordPieceTokenizer::from_pretrained(model_dir);
  // Labels map through the model's own label2id: a label it was not trained on is an error.
  auto set = ember::data::TextClassificationDataset(
      data_file, data.options().label2id(model->config().label2id()));
  ember::data::DataLoader loader(
      set, tokenizer, ember::data::DataLoaderOptions().batch_size(batch_size).max_length(max_length));
  auto cm = evaluate(*model, loader, dev);
  std::vector<std::string> names;
  for (auto& [id, name] : model->config().id2label) names.push_back(name);
  std::printf("%s", cm.report(names).c_str());
  std::printf("accuracy: %.4f\nmacro_f1: %.4f\n", cm.accuracy(), cm.macro_f1());
  return 0;
}

// ---- predict -----------------------------------------------------------------------------------

int run_predict(const std::string& model_dir, const std::string& input_file, bool json,
                int64_t max_length, const std::string& device, bool bf16) {
  const ember::Device dev = parse_device(device);
  set_matmul_precision(bf16, dev);
  auto model = ember::models::bert::bert_classifier_from_pretrained<float>(model_dir);
  model->to(dev);
  auto tokenizer = ember::data::WordPieceTokenizer::from_pretrained(model_dir);
  model->eval();
  std::ifstream file;
  if (!input_file.empty()) {
    file.open(input_file);
    EMBER_CHECK(file.good(), "predict: cannot open ", input_file);
  }
  std::istream& in = input_file.empty() ? std::cin : file;
  ember::NoGradGuard no_grad;
  std::string line;
  int64_t predicted = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank: nothing to classify
    ++predicted;
    auto enc = tokenizer.encode_batch({line}, size_t(max_length));
    auto ids = ember::from_vector(enc.input_ids, {enc.batch, enc.seq}).to(dev);
    auto types = ember::from_vector(enc.token_type_ids, {enc.batch, enc.seq}).to(dev);
    auto mask = ember::from_vector(enc.attention_mask, {enc.batch, enc.seq}).to(dev);
    Tensor<float> logits = model->forward(ids, mask, types).logits;  // [1, num_labels]
    std::vector<float> probs = ember::softmax(logits, -1).to_vector();
    int64_t best = std::max_element(probs.begin(), probs.end()) - probs.begin();
    const auto& names = model->config().id2label;
    if (json) {
      nlohmann::json j = {{"text", line}, {"label", names.at(best)}};
      for (std::size_t c = 0; c < probs.size(); ++c) j["probabilities"][names.at(int64_t(c))] = probs[c];
      j["logits"] = logits.to_vector();
      std::cout << j.dump() << "\n";
    } else {
      std::cout << names.at(best);
      for (std::size_t c = 0; c < probs.size(); ++c)
        std::printf("\t%s=%.4f", names.at(int64_t(c)).c_str(), probs[c]);
      std::cout << "\t" << line << "\n";
    }
  }
  EMBER_CHECK(predicted > 0, "predict: no text to classify in ",
              input_file.empty() ? std::string("standard input") : input_file,
              " (expected one text per line; blank lines are skipped)");
  return 0;
}

// ---- command line ------------------------------------------------------------------------------

int main(int argc, char** argv) {
  CLI::App app{"Fine-tune, evaluate and run a BERT text classifier with ember"};
  app.require_subcommand(1);
  app.fallthrough();  // --verbose after the subcommand too
  bool verbose = false;
  app.add_flag("--verbose", verbose,
               "print the CPU, its features and the kernels ember chose for it (stderr)");

  TrainArgs t;
  auto* train = app.add_subcommand("train", "fine-tune a pretrained BERT on a labelled file");
  train->add_option("--model", t.model_dir, "Hugging Face BERT directory")->required();
  train->add_option("--train", t.train_file, "training file (.tsv, .csv, .jsonl)")->required();
  train->add_option("--validation", t.validation_file, "validation file (best model selection)")
      ->required();
  train->add_option("--test", t.test_file, "file for the final report (default: validation)");
  train->add_option("--output", t.output_dir, "output directory (best/, checkpoint/, metrics.jsonl)");
  t.data.add_to(train);
  train->add_option("--epochs", t.epochs, "passes over the training file")
      ->check(kPositive);
  train->add_option("--batch-size", t.batch_size, "examples per micro-batch")
      ->check(kPositive);
  train->add_option("--lr", t.lr, "peak learning rate")->check(kPositive);
  train->add_option("--warmup-ratio", t.warmup_ratio)->check(CLI::Range(0.0, 1.0));
  train->add_option("--weight-decay", t.weight_decay)->check(kNonNegative);
  train->add_option("--max-grad-norm", t.max_grad_norm)->check(kPositive);
  train->add_option("--max-length", t.max_length, "tokens per example incl. [CLS]/[SEP]")
      ->check(CLI::Range(int64_t(3), int64_t(512)));
  train->add_option("--grad-accum", t.grad_accum, "micro-batches per optimizer step")
      ->check(kPositive);
  train->add_option("--seed", t.seed, "seed of shuffling, dropout and the classifier's initialization");
  train->add_option("--threads", t.threads, "CPU threads (default: all)")
      ->check(kNonNegative);
  train->add_option("--max-train-examples", t.max_train_examples,
                    "train on a seeded random subset of this size (0: all)")
      ->check(kNonNegative);
  train->add_option("--max-validation-examples", t.max_validation_examples,
                    "validate on a seeded random subset of this size (0: all)")
      ->check(kNonNegative);
  train->add_option("--eval-every", t.eval_every, "evaluate every N steps (0: each epoch)")
      ->check(kNonNegative);
  train->add_option("--patience", t.patience,
                    "early stopping: evaluations without improvement (0: never stop early)")
      ->check(kNonNegative);
  train->add_option("--log-every", t.log_every, "steps between metrics-log lines")
      ->check(kPositive);
  train->add_flag("--resume", t.resume, "continue from OUTPUT/checkpoint if present");
  train->add_option("--device", t.device, "cpu, cuda or cuda:N");
  train->add_flag("--bf16", t.bf16,
                  "bf16 matrix products, fp32 weights (GPU tensor cores; CPU: AMX/AVX512-BF16)");

  std::string model_dir, data_file, input_file;
  DataArgs eval_data;
  int64_t batch_size = 64, max_length = 128;
  bool json = false, bf16 = false;
  std::string device = "cpu";
  auto* eval = app.add_subcommand("eval", "accuracy, F1 and confusion matrix on a labelled file");
  eval->add_option("--model", model_dir, "fine-tuned model directory")->required();
  eval->add_option("--data", data_file, "labelled file")->required();
  eval->add_option("--batch-size", batch_size, "examples per batch")->check(kPositive);
  eval->add_option("--max-length", max_length)->check(CLI::Range(int64_t(3), int64_t(512)));
  eval_data.add_to(eval);
  eval->add_option("--device", device, "cpu, cuda or cuda:N");
  eval->add_flag("--bf16", bf16, "bf16 matrix products (GPU, or a CPU with AMX/AVX512-BF16)");

  auto* predict = app.add_subcommand("predict", "label one text per line (stdin or --input)");
  predict->add_option("--model", model_dir, "fine-tuned model directory")->required();
  predict->add_option("--input", input_file, "file with one text per line (default: stdin)");
  predict->add_flag("--json", json, "JSON lines output");
  predict->add_option("--max-length", max_length)->check(CLI::Range(int64_t(3), int64_t(512)));
  predict->add_option("--device", device, "cpu, cuda or cuda:N");
  predict->add_flag("--bf16", bf16, "bf16 matrix products (GPU, or a CPU with AMX/AVX512-BF16)");

  CLI11_PARSE(app, argc, argv);
  if (verbose) std::fprintf(stderr, "%s", ember::cpu_info().summary().c_str());
  try {
    if (*train) return run_train(t);
    if (*eval)
      return run_eval(model_dir, data_file, eval_data, batch_size, max_length, device, bf16);
    if (*predict) return run_predict(model_dir, input_file, json, max_length, device, bf16);
  } catch (const ember::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 1;
}
