// examples/bert_classification — fine-tune a pretrained BERT on labelled text, evaluate it, and
// predict with it. The training loop below is the one a user would write by hand with ember:
// forward, loss, backward, clip, optimizer step, schedule step, evaluate, keep the best.
//
//   bert_classification train   --model DIR --train FILE (--validation FILE | --validation-split F)
//                               [--test FILE] --output DIR
//   bert_classification eval    --model DIR --data FILE [--batch-size N] [--threads N]
//   bert_classification predict --model DIR [--input FILE] [--json] [--batch-size N] [--threads N]
//   bert_classification prune   --model DIR --data FILE --heads F [--ffn F] --output DIR
//   bert_classification quantize --model DIR --output DIR   (int8 weights on disk)
//   bert_classification distill --teacher DIR --student-layers N --train FILE ... (train's options)
//   mpirun -np N bert_classification train --distributed ...   (data-parallel on N processes,
//                               MPI; with --device cuda one GPU per process and NCCL;
//                               --batch-size is per process: docs/distributed.md)
//   (each takes the column options: --text-column/--label-column by header name,
//    --text-index/--label-index by position, --no-header, --format tsv|csv|jsonl; `--help` shows
//    every option with its default)
//   (each takes --device cpu|cuda|cuda:N and, with cuda, --bf16; CUDA needs the
//    bert_classification_cuda build, which links the CUDA backend: see docs/gpu.md)
//
// DIR is a Hugging Face-layout directory (config.json, model.safetensors and the tokenizer:
// vocab.txt, or tokenizer.json) of any family docs/models.md lists — BERT, RoBERTa, XLM-R,
// DistilBERT, ELECTRA; the output's best/ directory is one too, loadable by Hugging Face
// transformers.
#include <ember/ember.hpp>
#ifdef EMBER_HAVE_MPI  // built with MPI (CMake target ember::distributed): --distributed works
#include <ember/distributed/ddp.hpp>
#include <ember/distributed/mpi.hpp>
// The NCCL group over the ranks of `bootstrap` on this process's GPU, for --distributed
// --device cuda. bert_classification_cuda built with NCCL sets it when the program starts
// (nccl_group.cu, nvcc); null otherwise. A pointer, not a declaration under #ifdef, so that
// this file compiles once for both programs (CMake's bert_classification_main object library).
std::shared_ptr<ember::distributed::ProcessGroup> (*nccl_group)(
    ember::distributed::ProcessGroup& bootstrap) = nullptr;
#endif

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using ember::Tensor;
using Model = ember::models::bert::BertForSequenceClassification<float>;

// ---- distributed training ----------------------------------------------------------------------

/// This process's place in an `mpirun` job (train --distributed), and the few things the training
/// loop exchanges with the other ranks. Without --distributed: a world of one, and every method
/// is a no-op. Rank 0 alone prints, logs and writes the model and checkpoints.
struct World {
  int rank = 0, size = 1;
  bool main() const { return rank == 0; }
#ifdef EMBER_HAVE_MPI
  std::shared_ptr<ember::distributed::ProcessGroupMPI> group;  // the job: checks, averages, metrics
  std::shared_ptr<ember::distributed::ProcessGroup> gradients;  // what DDP reduces: MPI or NCCL
  std::unique_ptr<ember::distributed::DistributedDataParallel<float>> ddp;
#endif

  /// Joins the MPI job; ranks other than 0 then print nothing on stdout (errors still go to
  /// stderr, with their rank). With a CUDA `device` the gradients go over NCCL, one GPU per
  /// process: rank r of a node gets the node's GPU r (of CUDA_VISIBLE_DEVICES' list when set).
  void join([[maybe_unused]] const std::string& device) {
#ifdef EMBER_HAVE_MPI
    const bool gpu = device.rfind("cuda", 0) == 0;
    EMBER_CHECK(!gpu || device == "cuda", "--distributed: give --device cuda, not ", device,
                " (each process takes the GPU of its local rank)");
    EMBER_CHECK(!gpu || ember::cuda::is_built(), "--device cuda: this program was built without "
                "ember's CUDA backend (use bert_classification_cuda)");
    if (gpu) use_local_gpu();
    group = ember::distributed::ProcessGroupMPI::world();
    rank = group->rank();
    size = group->size();
    if (!main()) (void)std::freopen("/dev/null", "w", stdout);
    gradients = group;
    if (gpu) {
      EMBER_CHECK(nccl_group != nullptr,
                  "--distributed --device cuda needs NCCL: this program was built without it "
                  "(bert_classification_cuda links NCCL when CMake finds nccl.h and libnccl.so)");
      gradients = nccl_group(*group);
    }
#else
    EMBER_FAIL("--distributed: this program was built without MPI (CMake links it when it finds "
               "libopenmpi-dev: scripts/setup.sh installs it)");
#endif
  }
  /// DistributedDataParallel on `model`: rank 0's weights everywhere, gradients averaged.
  void attach([[maybe_unused]] Model& model) {
#ifdef EMBER_HAVE_MPI
    if (gradients)
      ddp = std::make_unique<ember::distributed::DistributedDataParallel<float>>(model, gradients);
#endif
  }
  /// ember keeps its tensors on one device per process (`cuda:0`), so this rank's GPU must be
  /// the only one it sees: narrows CUDA_VISIBLE_DEVICES (before the first CUDA call) to the
  /// local rank's entry of its list, or to GPU `local rank` when it is unset.
  static void use_local_gpu() {
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (local == nullptr) return;  // not under OpenMPI's mpirun: leave the choice to the user
    const int r = std::atoi(local);
    std::vector<std::string> gpus;
    if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) {
      std::string list = visible, item;
      for (std::size_t i = 0; i <= list.size(); ++i)
        if (i == list.size() || list[i] == ',') {
          if (!item.empty()) gpus.push_back(item);
          item.clear();
        } else {
          item += list[i];
        }
      EMBER_CHECK(!gpus.empty(), "--distributed --device cuda: CUDA_VISIBLE_DEVICES is empty");
      EMBER_CHECK(r < int(gpus.size()), "--distributed --device cuda: local rank ", r,
                  " needs a GPU of its own, but CUDA_VISIBLE_DEVICES lists ", gpus.size(),
                  " (start at most that many processes per node)");
      setenv("CUDA_VISIBLE_DEVICES", gpus[std::size_t(r)].c_str(), 1);
    } else {
      setenv("CUDA_VISIBLE_DEVICES", local, 1);
    }
  }
  /// Lets go of DDP and the NCCL group before main returns (their CUDA resources must be freed
  /// while the CUDA runtime is still there); MPI stays up until the end of the program.
  void leave() {
#ifdef EMBER_HAVE_MPI
    ddp.reset();
    gradients.reset();
#endif
  }
  /// Runs `backward` without reducing the gradients when `sync` is false (the micro-batches of
  /// gradient accumulation before the last).
  template <class F>
  void backward(bool sync, F&& backward) {
#ifdef EMBER_HAVE_MPI
    if (ddp && !sync) {
      auto guard = ddp->no_sync();
      backward();
      return;
    }
#endif
    (void)sync;
    backward();
  }
  /// Throws `ember::Error` on every rank when the ranks' `values` differ (`what` names them).
  void check_same([[maybe_unused]] const std::vector<int64_t>& values,
                  [[maybe_unused]] const std::string& what) const {
#ifdef EMBER_HAVE_MPI
    if (!group || size == 1) return;
    std::vector<int64_t> both(values);  // max of v and of −v: equal everywhere iff max == min
    for (int64_t v : values) both.push_back(-v);
    Tensor<int64_t> t = ember::from_vector(both);
    group->all_reduce(t, ember::distributed::ReduceOp::Max)->wait();
    const std::vector<int64_t> m = t.to_vector();
    for (std::size_t i = 0; i < values.size(); ++i)
      EMBER_CHECK(m[i] == -m[i + values.size()], "--distributed: the processes disagree on ",
                  what, " (value ", i + 1, ": here ", values[i], ", between ",
                  -m[i + values.size()], " and ", m[i], " over the ranks); give every process "
                  "the same files and options");
#endif
  }
  /// The mean of `v` over the ranks.
  double average(double v) const {
#ifdef EMBER_HAVE_MPI
    if (group) {
      Tensor<double> t = ember::full<double>({1}, v);
      group->all_reduce(t, ember::distributed::ReduceOp::Average)->wait();
      return t.item();
    }
#endif
    return v;
  }
  /// The ranks' confusion matrices summed (each rank evaluated its share of the examples).
  ember::train::ConfusionMatrix sum(const ember::train::ConfusionMatrix& mine) const {
    ember::train::ConfusionMatrix total(mine.num_classes());
#ifdef EMBER_HAVE_MPI
    if (group) {
      Tensor<int64_t> t = ember::from_vector(mine.counts());
      group->all_reduce(t)->wait();
      total.add_counts(t.to_vector());
      return total;
    }
#endif
    total.add_counts(mine.counts());
    return total;
  }
  /// Ends the whole job after an error on this rank (the others would wait forever).
  void abort_job([[maybe_unused]] const std::string& message) const {
#ifdef EMBER_HAVE_MPI
    if (group && size > 1) group->abort(message, 2);
#endif
  }
};
World g_world;  // main() ends the job through it when train --distributed fails

// ---- command-line checks
// -------------------------------------------------------------------------

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
        if (std::isfinite(v) && (strict ? v > 0 : v >= 0)) return "";
        return std::string("expected a finite number ") + (strict ? "> 0" : ">= 0") + ", found " +
               text;
      },
      strict ? "> 0" : ">= 0");
}
/// A CLI11 check that a number is in [lo, hi]; unlike CLI::Range it refuses NaN.
CLI::Validator number_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        double v = std::nan("");
        try {
          std::size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) v = std::nan("");
        } catch (const std::exception&) {
        }
        if (v >= lo && v <= hi) return "";
        return "expected a number in [" + ember::detail::str_cat(lo) + ", " +
               ember::detail::str_cat(hi) + "], found " + text;
      },
      "[" + ember::detail::str_cat(lo) + ", " + ember::detail::str_cat(hi) + "]");
}
const CLI::Validator kPositive = number_above_zero(true);
const CLI::Validator kNonNegative = number_above_zero(false);

// ---- data options shared by the subcommands
// ------------------------------------------------------

/// How every subcommand finds its columns: by header name (--text-column, ...), by index
/// (--text-index, ...; always without a header), or, when a header has exactly two columns and
/// none is named, by looking at the values (the label column is the one with few, short values).
struct DataArgs {
  std::string format = "auto";
  std::string text_column = "sentence";
  std::string text_pair_column;
  std::string label_column = "label";
  int64_t text_index = -1, text_pair_index = -1, label_index = -1;
  bool no_header = false;
  std::vector<CLI::Option*> column_options;  // whether the user chose the columns

  void add_to(CLI::App* app, bool labelled = true) {
    app->add_option("--format", format, "file format when the extension does not tell it")
        ->check(CLI::IsMember({"auto", "tsv", "csv", "jsonl"}));
    column_options.push_back(app->add_option("--text-column", text_column,
                                             "header name of the text column (a two-column header "
                                             "is detected when no column is named)"));
    column_options.push_back(app->add_option(
        "--text-pair-column", text_pair_column,
        "header name of the second text of sentence-pair tasks (empty: single texts)"));
    column_options.push_back(
        app->add_option("--text-index", text_index,
                        "0-based index of the text column, with or without a header (-1: by name "
                        "with a header, else the first free index)")
            ->check(CLI::Range(int64_t(-1), int64_t(1) << 20)));
    column_options.push_back(
        app->add_option("--text-pair-index", text_pair_index,
                        "0-based index of the second text (-1: none, or the next free index "
                        "with --text-pair-column)")
            ->check(CLI::Range(int64_t(-1), int64_t(1) << 20)));
    if (labelled) {
      column_options.push_back(
          app->add_option("--label-column", label_column, "header name of the label column"));
      column_options.push_back(
          app->add_option("--label-index", label_index,
                          "0-based index of the label column (-1: by name with a header, else "
                          "the first free index: 1 after the text)")
              ->check(CLI::Range(int64_t(-1), int64_t(1) << 20)));
    }
    app->add_flag("--no-header", no_header,
                  "the first row is data: columns by index, text 0 and label 1 (pair: 0, 1, 2) "
                  "unless --text-index/--label-index say otherwise");
  }
  bool columns_named() const {
    return std::any_of(column_options.begin(), column_options.end(),
                       [](const CLI::Option* o) { return o->count() > 0; });
  }
  bool by_index() const {
    return no_header || text_index >= 0 || text_pair_index >= 0 || label_index >= 0;
  }
  bool has_pair() const { return !text_pair_column.empty() || text_pair_index >= 0; }
  ember::data::TextFormat text_format() const {
    if (format == "tsv") return ember::data::TextFormat::tsv;
    if (format == "csv") return ember::data::TextFormat::csv;
    if (format == "jsonl") return ember::data::TextFormat::jsonl;
    return ember::data::TextFormat::auto_detect;
  }

  /// The column indices when columns are picked by index: the ones given, then text, pair and
  /// label each take the lowest index not yet taken (no header, nothing given: 0, 1 / 0, 1, 2).
  std::array<int64_t, 3> indices() const {
    std::array<int64_t, 3> idx = {text_index, has_pair() ? text_pair_index : -2, label_index};
    const char* names[3] = {"--text-index", "--text-pair-index", "--label-index"};
    for (int i = 0; i < 3; ++i)
      for (int j = i + 1; j < 3; ++j)
        EMBER_CHECK(idx[i] < 0 || idx[i] != idx[j], names[i], " and ", names[j],
                    " name the same column ", idx[i]);
    for (int64_t& v : idx) {
      if (v != -1) continue;
      int64_t free = 0;
      while (std::find(idx.begin(), idx.end(), free) != idx.end()) ++free;
      v = free;
    }
    return idx;
  }

  ember::data::TextDatasetOptions options() const {
    auto o = ember::data::TextDatasetOptions()
                 .format(text_format())
                 .has_header(!no_header)
                 .text_column(text_column)
                 .text_pair_column(text_pair_column)
                 .label_column(label_column);
    if (by_index()) {
      const std::array<int64_t, 3> idx = indices();
      o.columns_by_index(true).text_index(idx[0]).text_pair_index(has_pair() ? idx[1] : -1);
      o.label_index(idx[2]);
    }
    return o;
  }

  /// With a header, no column chosen and exactly two columns in a TSV/CSV file: picks the text
  /// and label columns from their values and says so. Throws `ember::Error` when neither column
  /// looks like labels and the default names are not in the header.
  void detect_columns(const std::string& path) {
    if (by_index() || columns_named()) return;
    const ember::data::TextFormat fmt = ember::data::text_format_of(path, text_format());
    if (fmt == ember::data::TextFormat::jsonl) return;
    detect_columns(ember::data::read_text_table(path, fmt, true));
  }
  void detect_columns(const ember::data::TextTable& table) {
    if (by_index() || columns_named() || table.columns.size() != 2) return;
    const auto cols = ember::data::detect_text_label_columns(table);
    const bool defaults_present =
        std::count(table.columns.begin(), table.columns.end(), text_column) +
            std::count(table.columns.begin(), table.columns.end(), label_column) ==
        2;
    if (!cols) {
      EMBER_CHECK(defaults_present, table.path, ": cannot tell which of the columns '",
                  table.columns[0], "' and '", table.columns[1],
                  "' holds the text and which the label (neither or both look like labels); "
                  "name them with --text-column and --label-column");
      return;
    }
    text_column = table.columns[std::size_t(cols->first)];
    label_column = table.columns[std::size_t(cols->second)];
    std::printf(
        "columns: text = %s, label = %s (detected; use --text-column/--label-column to "
        "choose)\n",
        text_column.c_str(), label_column.c_str());
  }
};

/// What to do when the training labels look like text (check_label_set).
const char* const kLabelAdvice =
    "If the file holds the label first (label<TAB>text), pass --text-index 1 --label-index 0 "
    "(with --no-header when it has no header); or name the columns with --text-column and "
    "--label-column. If these really are the labels, pass --allow-many-labels";

/// Evaluation batches: the whole file sorted by token count (one bucket), so each batch is
/// padded only to rows of about its own length. The order does not change a confusion matrix,
/// and predict puts each result back at its row (Batch::indices).
ember::data::DataLoaderOptions eval_loader_options(int64_t examples, int64_t batch_size,
                                                   int64_t max_length) {
  return ember::data::DataLoaderOptions()
      .batch_size(batch_size)
      .max_length(max_length)
      .bucket_by_length(true)
      .bucket_size(std::max<int64_t>(1, (examples + batch_size - 1) / batch_size));
}

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
  EMBER_CHECK(
      ember::cuda::is_built(), "--device ", s,
      ": this program was built without ember's "
      "CUDA backend; use bert_classification_cuda (built when CMake finds nvcc, docs/gpu.md)");
  EMBER_CHECK(ember::cuda::is_available(), "--device ", s,
              ": no usable CUDA device (no NVIDIA GPU, "
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
              "with oneDNN; this machine: ",
              ember::cpu_info().features.flags());
  ember::set_float32_matmul_precision(ember::MatmulPrecision::medium, dev);
}

// ---- evaluation --------------------------------------------------------------------------------

/// Tokens and padding seen by evaluate(), for the throughput line of `eval`.
struct EvalStats {
  int64_t examples = 0, batches = 0, tokens = 0, padded = 0;
};

/// Refuses logits that are not finite: a model whose weights hold a NaN (a diverged or damaged
/// checkpoint) would otherwise "predict" the first label for every input.
void check_finite_logits(const std::vector<float>& logits, const std::string& model_name) {
  for (float v : logits)
    EMBER_CHECK(std::isfinite(v), "the model ", model_name, " produced a logit of ", v,
                ": its weights are not finite numbers (a diverged or damaged checkpoint?), so "
                "it cannot classify");
}

/// Runs the model over `loader` without gradients; returns the confusion matrix.
ember::train::ConfusionMatrix evaluate(Model& model, const ember::data::DataLoader& loader,
                                       ember::Device dev, const std::string& model_name,
                                       EvalStats* stats = nullptr) {
  ember::NoGradGuard no_grad;
  model.eval();
  ember::train::ConfusionMatrix cm(model.num_labels());
  for (auto& cpu_batch : loader) {
    ember::data::Batch batch = cpu_batch.to(dev);
    Tensor<float> logits =
        model.forward(batch.input_ids, batch.attention_mask, batch.token_type_ids).logits;
    check_finite_logits(logits.to(ember::Device::cpu()).to_vector(), model_name);
    cm.update(ember::argmax(logits, -1).to(ember::Device::cpu()), cpu_batch.labels);
    if (stats) {
      const std::vector<int64_t> mask = cpu_batch.attention_mask.to_vector();
      const int64_t real = std::accumulate(mask.begin(), mask.end(), int64_t(0));
      stats->examples += cpu_batch.size();
      stats->batches += 1;
      stats->tokens += real;
      stats->padded += int64_t(mask.size()) - real;
    }
  }
  model.train();
  return cm;
}

std::map<int64_t, std::string> to_id2label(const std::vector<std::string>& names) {
  std::map<int64_t, std::string> m;
  for (std::size_t i = 0; i < names.size(); ++i) m[int64_t(i)] = names[i];
  return m;
}

std::map<std::string, int64_t> to_id2label_inverse(const std::vector<std::string>& names) {
  std::map<std::string, int64_t> m;
  for (std::size_t i = 0; i < names.size(); ++i) m[names[i]] = int64_t(i);
  return m;
}

std::string label_names(const Model& model) {
  std::string s;
  for (auto& [id, name] : model.config().id2label) s += (s.empty() ? "" : ", ") + name;
  return s;
}

/// Writes the model and its tokenizer: a WordPiece tokenizer's vocab.txt and
/// tokenizer_config.json, or — for the byte-level BPE and Unigram tokenizers of RoBERTa, XLM-R —
/// the tokenizer files of `source_dir`, copied.
void save_model(const Model& model, const ember::data::AutoTokenizer& tok,
                const std::string& source_dir, const std::string& dir) {
  ember::models::bert::save_pretrained(model, dir);
  if (tok.model_type() == "WordPiece")
    return ember::models::bert::save_tokenizer(tok.get<ember::data::WordPieceTokenizer>(), dir);
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                           "vocab.json", "merges.txt"}) {
    const fs::path from = fs::path(source_dir) / name, to = fs::path(dir) / name;
    if (!fs::exists(from) || fs::equivalent(fs::path(source_dir), fs::path(dir))) continue;
    const fs::path tmp = to.string() + ".tmp";
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
    fs::rename(tmp, to);  // the file appears whole or not at all
  }
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
    std::fprintf(stderr,
                 "warning: the labels mix integers and other names (%s); check the label "
                 "column for typos\n",
                 names.c_str());
}

/// Loads a fine-tuned classifier for eval/predict. A directory whose classifier head is missing
/// (a pretrained BERT, or bert_pretraining's output) would be evaluated with a random head: an
/// error that says what to do instead.
std::shared_ptr<Model> load_fine_tuned(const std::string& dir) {
  ember::models::bert::LoadReport report;
  auto model = ember::models::bert::bert_classifier_from_pretrained<float>(
      dir, ember::models::bert::FromPretrainedOptions().loading_info(&report));
  for (const std::string& key : report.missing_keys)
    EMBER_CHECK(key.rfind("classifier.", 0) != 0, dir, " has no classifier head (", key,
                " is missing): it is not a fine-tuned classifier; fine-tune it first with "
                "`bert_classification train --model ", dir, " ...` and use OUTPUT/best");
  return model;
}

/// The tokenizer's ids must fit the model's embedding table (an error before anything runs,
/// rather than at the first batch), and --max-length its positions: a longer --max-length is
/// lowered to max_position_embeddings, with a note. Returns the --max-length to use.
int64_t check_model_inputs(const Model& model, const ember::data::AutoTokenizer& tok,
                           int64_t max_length, const std::string& dir) {
  const auto& c = model.config();
  EMBER_CHECK(int64_t(tok.vocab_size()) <= c.vocab_size, dir, "'s tokenizer has ",
              tok.vocab_size(), " tokens but config.json's vocab_size is ", c.vocab_size,
              ": the model cannot embed the extra ids");
  if (max_length <= c.max_position_embeddings) return max_length;
  std::fprintf(stderr, "note: --max-length %lld exceeds the model's max_position_embeddings "
               "(%lld); using %lld\n", (long long)max_length,
               (long long)c.max_position_embeddings, (long long)c.max_position_embeddings);
  return c.max_position_embeddings;
}

// ---- train -------------------------------------------------------------------------------------

struct TrainArgs {
  std::string model_dir, train_file, validation_file, test_file, output_dir = "bert-output";
  DataArgs data;
  int64_t epochs = 3, batch_size = 32, max_length = 128, grad_accum = 1, threads = 0;
  int64_t max_train_examples = 0, max_validation_examples = 0, eval_every = 0, patience = 0;
  int64_t log_every = 50;
  double lr = 5e-5, warmup_ratio = 0.1, weight_decay = 0.01, max_grad_norm = 1.0;
  double validation_split = 0;
  uint64_t seed = 42;
  bool resume = false, bf16 = false, allow_many_labels = false, distributed = false;
  std::string device = "cpu";
  // distill: the student starts from every other layer of the teacher and learns from its
  // temperature-softened logits (docs/compression.md)
  std::string teacher_dir;
  int64_t student_layers = 0;  // 0: half the teacher's layers
  double temperature = 2.0, alpha = 0.5;
  // --sparsity: gradual magnitude pruning of the encoder's Linear weights (Zhu & Gupta 2017)
  double sparsity = 0, sparsity_begin = 0, sparsity_end = 0.7;
  int64_t sparsity_every = 50;
};

int run_train(const TrainArgs& a) {
  if (const char* n = std::getenv("OMPI_COMM_WORLD_SIZE"); n && std::atoi(n) > 1)
    EMBER_CHECK(a.distributed, "started by mpirun as one of ", n, " processes but without "
                "--distributed: each would train alone into the same --output; add --distributed");
  if (a.distributed) g_world.join(a.device);
  World& world = g_world;
  if (a.threads > 0) ember::set_num_threads(int(a.threads));
  const ember::Device dev = parse_device(a.device);
  set_matmul_precision(a.bf16, dev);
  ember::Generator gen(a.seed);  // dropout and fresh initialization (the classifier head)
  EMBER_CHECK(a.sparsity_begin <= a.sparsity_end, "--sparsity-begin (", a.sparsity_begin,
              ") must not be after --sparsity-end (", a.sparsity_end, ")");

  // Data: the label set comes from the training file and is saved with the model. Every file
  // is read (and every error raised) before anything is written: the test file too.
  EMBER_CHECK(!a.validation_file.empty() || a.validation_split > 0,
              "train: give --validation FILE, or --validation-split F to hold out a seeded, "
              "stratified fraction F (e.g. 0.1) of the training file");
  DataArgs data = a.data;
  data.detect_columns(a.train_file);
  auto train_set = ember::data::TextClassificationDataset(a.train_file, data.options());
  if (!a.allow_many_labels) train_set.check_label_set({}, kLabelAdvice);
  auto val_opts = data.options().label2id(train_set.label2id());
  std::optional<ember::data::TextClassificationDataset> val_set;
  std::string report_file = a.test_file.empty() ? a.validation_file : a.test_file;
  if (a.validation_split > 0) {
    auto [rest, held_out] = train_set.stratified_split(a.validation_split, a.seed);
    std::printf(
        "validation: %lld of %lld examples of %s held out (--validation-split %g, "
        "stratified, seed %llu)\n",
        (long long)held_out.size(), (long long)train_set.size(), a.train_file.c_str(),
        a.validation_split, (unsigned long long)a.seed);
    train_set = std::move(rest);
    val_set = std::move(held_out);
    if (a.test_file.empty()) report_file = "the validation split";
  } else {
    val_set = ember::data::TextClassificationDataset(a.validation_file, val_opts);
  }
  auto test_set = a.test_file.empty()
                      ? *val_set
                      : ember::data::TextClassificationDataset(a.test_file, val_opts);
  print_labels(train_set);
  auto loader_opts = ember::data::DataLoaderOptions()
                         .batch_size(a.batch_size)
                         .max_length(a.max_length)
                         .shuffle(true)
                         .bucket_by_length(true)
                         .seed(a.seed)
                         .num_replicas(world.size)  // --distributed: this rank's share
                         .rank(world.rank);
  if (a.max_train_examples > 0 && a.max_train_examples < train_set.size())
    train_set = train_set.subset(a.max_train_examples, a.seed);
  if (a.max_validation_examples > 0 && a.max_validation_examples < val_set->size())
    val_set = val_set->subset(a.max_validation_examples, a.seed);

  // Model: pretrained body, fresh classifier with our labels; or, to distill, the student made
  // from the fine-tuned teacher (whose labels must be the training file's).
  std::shared_ptr<Model> model, teacher;
  const std::string model_dir = a.teacher_dir.empty() ? a.model_dir : a.teacher_dir;
  if (a.teacher_dir.empty()) {
    ember::models::bert::LoadReport report;
    model = ember::models::bert::bert_classifier_from_pretrained<float>(
        a.model_dir, ember::models::bert::FromPretrainedOptions()
                         .id2label(to_id2label(train_set.id2label()))
                         .loading_info(&report)
                         .generator(&gen));
    model->to(dev);
    std::printf("model: %s, %.1fM parameters on %s; %s\n", a.model_dir.c_str(),
                model->num_parameters() / 1e6, dev.str().c_str(), report.summary().c_str());
  } else {
    teacher = load_fine_tuned(a.teacher_dir);
    EMBER_CHECK(teacher->config().label2id() == to_id2label_inverse(train_set.id2label()),
                "distill: the teacher's labels (", label_names(*teacher), ") differ from the "
                "training file's; distill on data labelled as the teacher was trained");
    teacher->to(dev);
    teacher->eval();  // no dropout; run under NoGradGuard below
    const int64_t layers = a.student_layers > 0 ? a.student_layers
                                                : std::max<int64_t>(1, teacher->config().num_hidden_layers / 2);
    model = ember::models::bert::student_from_teacher(*teacher, layers);
    std::string from;
    for (int64_t l : ember::models::bert::student_layer_map(teacher->config().num_hidden_layers, layers))
      from += (from.empty() ? "" : ", ") + std::to_string(l);
    std::printf("teacher: %s, %lld layers, %.1fM parameters; student: %lld layers (teacher "
                "layers %s), %.1fM parameters on %s; temperature %g, alpha %g\n",
                a.teacher_dir.c_str(), (long long)teacher->config().num_hidden_layers,
                teacher->num_parameters() / 1e6, (long long)layers, from.c_str(),
                model->num_parameters() / 1e6, dev.str().c_str(), a.temperature, a.alpha);
  }
  EMBER_CHECK(!ember::nn::is_quantized_dynamic(*model), model_dir, " is an int8 model "
              "(bert_classification quantize); int8 layers cannot be trained: train the float "
              "model it was made from, then quantize the result");
  model->train();

  auto tokenizer = ember::data::AutoTokenizer::from_pretrained(model_dir);
  const int64_t max_length = check_model_inputs(*model, tokenizer, a.max_length, model_dir);
  loader_opts.max_length(max_length);
  ember::data::DataLoader train_loader(train_set, tokenizer, loader_opts);
  ember::data::DataLoader val_loader(*val_set, tokenizer,
                                     eval_loader_options(val_set->size(), 64, max_length)
                                         .num_replicas(world.size)
                                         .rank(world.rank)
                                         .even_shards(false));  // counts summed over the ranks

  // Optimizer: AdamW without decay on biases and LayerNorm weights; linear warmup and decay.
  const int64_t steps_per_epoch = (train_loader.num_batches() + a.grad_accum - 1) / a.grad_accum;
  const int64_t total_steps = steps_per_epoch * a.epochs;
  ember::optim::AdamW<float> optimizer(ember::optim::bert_param_groups(*model, a.weight_decay),
                                       ember::optim::AdamWOptions(a.lr));
  ember::optim::LinearWarmupDecay<float> scheduler(
      optimizer, int64_t(std::llround(a.warmup_ratio * double(total_steps))), total_steps);
  std::vector<Tensor<float>> params = model->parameters();

  fs::create_directories(a.output_dir);
  const std::string best_dir = a.output_dir + "/best", ckpt_dir = a.output_dir + "/checkpoint";
  std::optional<ember::train::MetricsLogger> log;
  if (world.main()) log.emplace(a.output_dir + "/metrics.jsonl", a.resume);
  ember::train::EarlyStopping early(a.patience > 0 ? a.patience : 1 << 30);
  ember::io::TrainerState state;
  if (a.resume && fs::exists(ckpt_dir + "/trainer_state.json")) {
    state = ember::io::load_checkpoint(ckpt_dir, *model, optimizer, &scheduler, gen);
    std::printf("resumed from %s at step %lld\n", ckpt_dir.c_str(), (long long)state.global_step);
    // The early-stopping record, so that a worse evaluation after the resume does not replace
    // best/ (checkpoints from before it was kept: the best metric alone).
    ember::train::EarlyStopping::State es;
    const auto& saved = state.user.contains("early_stopping") ? state.user["early_stopping"]
                                                              : nlohmann::json::object();
    es.best = saved.value("best", state.best_metric);
    es.best_update = saved.value("best_update", int64_t(0));
    es.num_bad = saved.value("num_bad", int64_t(0));
    es.num_updates = saved.value("num_updates", int64_t(1));
    if (std::isfinite(es.best)) early.set_state(es);
  }
  // --distributed: every rank must have read the same data and plan the same steps, or one would
  // wait forever in a collective the others never join.
  world.check_same({train_set.size(), val_set->size(), train_set.num_labels(), total_steps,
                    a.batch_size, a.grad_accum, state.global_step},
                   "training examples, validation examples, labels, steps, --batch-size, "
                   "--grad-accum, resumed step");
  if (a.resume && state.user.contains("world_size")) {
    const int64_t size = state.user["world_size"].get<int64_t>(),
                  batch = state.user.value("batch_size", a.batch_size);
    EMBER_CHECK(size == world.size && batch == a.batch_size, "--resume: ", ckpt_dir, " was "
                "written by a run of ", size, " process(es) x --batch-size ", batch, "; resume "
                "it with the same (now ", world.size, " x ", a.batch_size, "): the position in "
                "the epoch and the schedule depend on them");
  }
  state.user["world_size"] = world.size;
  state.user["batch_size"] = a.batch_size;
  g_world.attach(*model);  // --distributed: rank 0's weights everywhere; gradients averaged
  std::optional<ember::nn::MagnitudePruner<float>> pruner;
  if (a.sparsity > 0) {
    EMBER_CHECK(dev.is_cpu(), "--sparsity: magnitude pruning runs on the CPU only, not on ", dev);
    pruner.emplace(ember::nn::encoder_linear_weights(*model),
                   ember::nn::MagnitudePruningOptions(a.sparsity)
                       .begin_step(std::llround(a.sparsity_begin * double(total_steps)))
                       .end_step(std::llround(a.sparsity_end * double(total_steps)))
                       .frequency(a.sparsity_every));
    std::printf("sparsity: %.3f of %lld encoder weights by magnitude, from step %lld to %lld, "
                "every %lld steps (Zhu & Gupta 2017); now %.3f; the best model is chosen from "
                "the evaluations at the final sparsity\n",
                a.sparsity, (long long)pruner->numel(), (long long)pruner->options().begin_step(),
                (long long)pruner->options().end_step(), (long long)a.sparsity_every,
                pruner->sparsity());
  }
  std::printf("train: %lld examples, %lld labels, %lld steps (%lld epochs, batch %lld x %lld%s)\n",
              (long long)train_set.size(), (long long)train_set.num_labels(),
              (long long)total_steps, (long long)a.epochs, (long long)a.batch_size,
              (long long)a.grad_accum,
              world.size > 1 ? ember::detail::str_cat(" x ", world.size, " processes").c_str() : "");

  std::ostream quiet(nullptr);  // ranks other than 0 show no progress
  ember::train::ProgressBar progress(
      total_steps, world.main() ? std::cerr : quiet,
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
        if (teacher) {  // (1 − α) · hard-label loss + α · T² · KL(teacher ‖ student), per example
          Tensor<float> teacher_logits;
          {
            ember::NoGradGuard no_grad;
            teacher_logits =
                teacher->forward(batch.input_ids, batch.attention_mask, batch.token_type_ids).logits;
          }
          loss = (1.0 - a.alpha) * loss +
                 a.alpha * ember::distillation_loss(logits, teacher_logits, a.temperature,
                                                    ember::Reduction::Sum);
        }
        loss = loss / double(step_examples);
        // --distributed: the gradients are averaged over the ranks at the last micro-batch
        world.backward(i + 1 == end, [&] { loss.backward(); });
        step_loss += loss.item();
      }
      step_loss = world.average(step_loss);  // every rank takes the same decisions below
      // A diverged run stops here, before a model of NaNs is saved as the best one.
      EMBER_CHECK(std::isfinite(step_loss), "training diverged at step ", state.global_step + 1,
                  ": the loss is ", step_loss, "; lower --lr (now ", a.lr, ") or check the data");
      ember::optim::clip_grad_norm_(params, a.max_grad_norm);
      const double lr = optimizer.lr();
      optimizer.step();
      scheduler.step();
      optimizer.zero_grad();
      if (pruner) pruner->step(state.global_step + 1);  // masked weights back to exactly 0

      ++state.global_step;
      examples_seen += step_examples * world.size;
      progress.update(step_loss, lr, step_examples * world.size);
      if (log && state.global_step % a.log_every == 0)
        log->log_train(state.global_step, step_loss, lr, epoch);

      const bool end_of_epoch = end == nb;
      const bool eval_now =
          a.eval_every > 0 ? state.global_step % a.eval_every == 0 || end_of_epoch : end_of_epoch;
      if (eval_now) {
        auto cm = world.sum(evaluate(*model, val_loader, dev, "being trained"));
        double acc = cm.accuracy(), f1 = cm.macro_f1();
        if (log)
          log->log_eval(state.global_step, {{"accuracy", acc}, {"macro_f1", f1}}, epoch,
                        "validation");
        // With --sparsity, only a model at the final sparsity may become best/.
        bool improved = (!pruner || pruner->reached_final()) && early.update(acc);
        if (improved && world.main()) save_model(*model, tokenizer, model_dir, best_dir);  // then say so
        progress.write(ember::detail::str_cat("step ", state.global_step, " epoch ", epoch,
                                              ": validation accuracy ", acc, ", macro F1 ", f1,
                                              improved ? " (best so far, saved)" : ""));
        state.best_metric = std::max(state.best_metric, acc);
        stop = early.should_stop();
      }
      state.epoch = end_of_epoch ? epoch + 1 : epoch;
      state.batch_in_epoch = end_of_epoch ? 0 : end;
      if (eval_now && world.main()) {
        const auto& es = early.state();
        state.user["early_stopping"] = {{"best", es.best}, {"best_update", es.best_update},
                                        {"num_bad", es.num_bad}, {"num_updates", es.num_updates}};
        ember::io::save_checkpoint(ckpt_dir, *model, optimizer, &scheduler, gen, state);
      }
    }
    state.batch_in_epoch = 0;
  }
  progress.close();
  if (!world.main()) return 0;  // rank 0 reports
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("training: %lld steps in %.1f s (%.1f examples/s); best validation accuracy %.4f\n",
              (long long)state.global_step, seconds, examples_seen / std::max(seconds, 1e-9),
              state.best_metric);
  if (pruner)
    std::printf("weight sparsity: %.3f of the encoder's Linear weights (stored dense)\n",
                pruner->sparsity());

  // Final report: the best checkpoint on the test file (if given), else on validation.
  auto best = ember::models::bert::bert_classifier_from_pretrained<float>(best_dir);
  best->to(dev);
  ember::data::DataLoader test_loader(test_set, tokenizer,
                                      eval_loader_options(test_set.size(), 64, max_length));
  auto cm = evaluate(*best, test_loader, dev, "in " + best_dir);
  std::printf("\nbest model (%s) on %s:\n%s", best_dir.c_str(), report_file.c_str(),
              cm.report(train_set.id2label()).c_str());
  std::printf("accuracy: %.4f\nmacro_f1: %.4f\n", cm.accuracy(), cm.macro_f1());
  log->log_eval(state.global_step, {{"accuracy", cm.accuracy()}, {"macro_f1", cm.macro_f1()}},
                -1, "test");
  return 0;
}

// ---- eval --------------------------------------------------------------------------------------

struct RunArgs {  // what eval and predict share
  std::string model_dir, data_file, input_file, device = "cpu";
  DataArgs data;
  int64_t batch_size = 64, max_length = 128, threads = 0;
  bool json = false, bf16 = false, int8 = false;
};

/// --int8: the model's Linear layers in dynamic int8 (CPU inference; nn/quantize.hpp).
void apply_int8(bool int8, ember::nn::Module<float>& model, ember::Device dev) {
  if (!int8) return;
  EMBER_CHECK(dev.is_cpu(), "--int8: int8 products run on the CPU only, not on ", dev);
  ember::nn::quantize_dynamic(model);
}

int run_eval(RunArgs& a) {
  if (a.threads > 0) ember::set_num_threads(int(a.threads));
  const ember::Device dev = parse_device(a.device);
  set_matmul_precision(a.bf16, dev);
  auto model = load_fine_tuned(a.model_dir);
  model->to(dev);
  apply_int8(a.int8, *model, dev);
  auto tokenizer = ember::data::AutoTokenizer::from_pretrained(a.model_dir);
  a.max_length = check_model_inputs(*model, tokenizer, a.max_length, a.model_dir);
  // Labels map through the model's own label2id: a label it was not trained on is an error.
  a.data.detect_columns(a.data_file);
  auto set = ember::data::TextClassificationDataset(
      a.data_file, a.data.options().label2id(model->config().label2id()));
  const auto start = std::chrono::steady_clock::now();
  ember::data::DataLoader loader(set, tokenizer,
                                 eval_loader_options(set.size(), a.batch_size, a.max_length));
  EvalStats stats;
  auto cm = evaluate(*model, loader, dev, "in " + a.model_dir, &stats);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<std::string> names;
  for (auto& [id, name] : model->config().id2label) names.push_back(name);
  std::printf("%s", cm.report(names).c_str());
  std::printf(
      "eval: %lld examples in %lld batches (padding: %.1f%% of %lld tokens), %.2f s, "
      "%.1f examples/s, %d threads%s\n",
      (long long)stats.examples, (long long)stats.batches,
      100.0 * double(stats.padded) / double(std::max<int64_t>(1, stats.tokens + stats.padded)),
      (long long)(stats.tokens + stats.padded), seconds,
      double(stats.examples) / std::max(seconds, 1e-9), ember::get_num_threads(),
      ember::nn::is_quantized_dynamic(*model) ? ", int8 products" : "");
  std::printf("accuracy: %.4f\nmacro_f1: %.4f\n", cm.accuracy(), cm.macro_f1());
  return 0;
}

// ---- prune -------------------------------------------------------------------------------------

struct PruneArgs {
  std::string model_dir, data_file, output_dir;
  DataArgs data;
  double heads = 0.5, ffn = 0.0;
  int64_t max_examples = 2000, batch_size = 32, max_length = 128, threads = 0;
  uint64_t seed = 42;
};

/// Scores every attention head and feed-forward neuron on labelled data (Michel et al. 2019:
/// |∂loss/∂mask|), removes the --heads fraction of all heads with the lowest scores over the
/// whole model (heads normalized per layer; every layer keeps one) and the --ffn fraction of
/// each layer's neurons with the lowest scores in that layer, and saves the smaller model
/// (config.json's pruned_heads and intermediate_size). A short `train --model OUTPUT` then
/// recovers the accuracy (docs/compression.md).
int run_prune(PruneArgs& a) {
  if (a.threads > 0) ember::set_num_threads(int(a.threads));
  // The output is checked before the (minutes of) scoring: not a file, not the model itself.
  EMBER_CHECK(!fs::exists(a.output_dir) || fs::is_directory(a.output_dir), "prune: --output ",
              a.output_dir, " exists and is not a directory");
  EMBER_CHECK(!fs::exists(a.output_dir) || !fs::exists(a.model_dir) ||
                  !fs::equivalent(a.output_dir, a.model_dir),
              "prune: --output ", a.output_dir, " is the model directory itself; write the "
              "pruned model to a new directory (the original is needed to compare and retry)");
  EMBER_CHECK(a.heads > 0 || a.ffn > 0, "prune: nothing to remove (--heads ", a.heads,
              ", --ffn ", a.ffn, "); give a fraction above 0 to at least one");
  auto model = load_fine_tuned(a.model_dir);
  EMBER_CHECK(!ember::nn::is_quantized_dynamic(*model), a.model_dir, " is an int8 model "
              "(bert_classification quantize); prune the float model it was made from");
  model->eval();
  auto tokenizer = ember::data::AutoTokenizer::from_pretrained(a.model_dir);
  a.max_length = check_model_inputs(*model, tokenizer, a.max_length, a.model_dir);
  a.data.detect_columns(a.data_file);
  auto set = ember::data::TextClassificationDataset(
      a.data_file, a.data.options().label2id(model->config().label2id()));
  if (a.max_examples > 0 && a.max_examples < set.size()) set = set.subset(a.max_examples, a.seed);
  ember::data::DataLoader loader(set, tokenizer,
                                 eval_loader_options(set.size(), a.batch_size, a.max_length));
  const auto& encoder = *model->base_model->encoder;
  int64_t total = 0;
  for (std::size_t l = 0; l < encoder.num_layers(); ++l)
    total += encoder.layer_at(l)->attention->num_heads();
  const int64_t inter = model->config().intermediate_size;
  const int64_t remove = std::llround(a.heads * double(total));
  const int64_t remove_neurons = std::llround(a.ffn * double(inter));
  EMBER_CHECK(a.heads == 0 || remove > 0, "prune: --heads ", a.heads, " of ", total,
              " heads rounds to 0 heads; give at least ", 0.5 / double(total), " or 0");
  EMBER_CHECK(a.ffn == 0 || remove_neurons > 0, "prune: --ffn ", a.ffn, " of ", inter,
              " neurons per layer rounds to 0 neurons; give at least ", 0.5 / double(inter),
              " or 0");
  EMBER_CHECK(remove_neurons < inter, "prune: --ffn ", a.ffn, " would remove all ", inter,
              " neurons of every layer; keep at least one");
  const double params_before = double(model->num_parameters());
  auto loss_of_batch = [&](int64_t i) {
    const ember::data::Batch& b = loader.batch(i);
    return model->forward(b.input_ids, b.attention_mask, b.token_type_ids, b.labels).loss;
  };
  // Prints the scores (the first 12 of each layer) and the seconds since `start`.
  auto print_scores = [&](const char* what, const std::vector<std::vector<double>>& importance,
                          std::chrono::steady_clock::time_point start) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s on %lld examples of %s, %.1f s:\n", what, (long long)set.size(),
                a.data_file.c_str(), seconds);
    for (std::size_t l = 0; l < importance.size(); ++l) {
      std::printf("  layer %zu:", l);
      const std::size_t shown = std::min<std::size_t>(importance[l].size(), 12);
      for (std::size_t i = 0; i < shown; ++i) std::printf(" %.3g", importance[l][i]);
      if (shown < importance[l].size()) std::printf(" … (%zu)", importance[l].size());
      std::printf("\n");
    }
  };
  // Both scores are taken on the model as it came, before anything is removed.
  std::map<int64_t, std::vector<int64_t>> heads, neurons;
  if (remove > 0) {
    const auto start = std::chrono::steady_clock::now();
    auto importance =
        ember::nn::head_importance(*model, encoder, loader.num_batches(), loss_of_batch);
    print_scores("head importance (Michel et al. 2019; each layer normalized)", importance, start);
    heads = ember::nn::least_important_heads(encoder, importance, remove);
  }
  if (remove_neurons > 0) {
    const auto start = std::chrono::steady_clock::now();
    auto importance =
        ember::nn::neuron_importance(*model, encoder, loader.num_batches(), loss_of_batch);
    print_scores("feed-forward neuron importance (|dloss/dmask|)", importance, start);
    neurons = ember::nn::least_important_neurons(encoder, importance, remove_neurons);
  }
  if (remove > 0) {
    model->prune_heads(heads);
    std::printf("pruned %lld of %lld heads (original numbers):", (long long)remove,
                (long long)total);
    for (const auto& [layer, ids] : heads) {
      std::printf(" layer %lld [", (long long)layer);
      for (std::size_t i = 0; i < ids.size(); ++i)
        std::printf("%s%lld", i ? "," : "", (long long)ids[i]);
      std::printf("]");
    }
    std::printf("\n");
  }
  model->prune_neurons(neurons);
  if (remove_neurons > 0)
    std::printf("pruned %lld of %lld feed-forward neurons in every layer: intermediate_size "
                "%lld -> %lld\n", (long long)remove_neurons, (long long)inter, (long long)inter,
                (long long)model->config().intermediate_size);
  std::printf("parameters: %.2fM -> %.2fM\n", params_before / 1e6, model->num_parameters() / 1e6);
  save_model(*model, tokenizer, a.model_dir, a.output_dir);
  std::printf("saved %s (config.json pruned_heads and intermediate_size; fine-tune it with "
              "`train --model %s` to recover accuracy)\n", a.output_dir.c_str(),
              a.output_dir.c_str());
  return 0;
}

// ---- quantize ----------------------------------------------------------------------------------

/// Saves the model with its Linear weights in int8 (per output channel, float scales): what
/// `--int8` does at load time, done once and kept on disk (docs/compression.md). The result
/// loads as an int8 model wherever a model directory is read.
int run_quantize(const std::string& model_dir, const std::string& output_dir) {
  auto model = load_fine_tuned(model_dir);
  auto tokenizer = ember::data::AutoTokenizer::from_pretrained(model_dir);
  const auto size = [](const std::string& dir) {
    return double(fs::file_size(fs::path(dir) / "model.safetensors")) / 1e6;
  };
  const double before = size(model_dir);
  const int layers = ember::nn::quantize_dynamic(*model);
  save_model(*model, tokenizer, model_dir, output_dir);
  std::printf("quantized %d Linear layers to int8; model.safetensors %.1f MB -> %.1f MB in %s\n",
              layers, before, size(output_dir), output_dir.c_str());
  return 0;
}

// ---- predict -----------------------------------------------------------------------------------

/// What predict reads: the texts to classify, and the rows to write back with the predictions.
struct PredictInput {
  enum class Kind { lines, table, jsonl } kind = Kind::lines;
  std::vector<std::string> texts, text_pairs;
  ember::data::TextTable table;                 // Kind::table
  std::vector<nlohmann::ordered_json> objects;  // Kind::jsonl (key order kept)
  std::string source;
};

/// Reads `--input` (or stdin): a TSV/CSV/JSONL file (by extension or --format) with the column
/// options, else one text per line (blank lines skipped). Throws `ember::Error` naming the file.
PredictInput read_predict_input(const std::string& input_file, DataArgs& data) {
  PredictInput in;
  in.source = input_file.empty() ? std::string("standard input") : input_file;
  const std::string path = input_file.empty() ? std::string("/dev/stdin") : input_file;
  std::optional<ember::data::TextFormat> fmt;
  if (data.text_format() != ember::data::TextFormat::auto_detect)
    fmt = data.text_format();
  else if (!input_file.empty())
    fmt = ember::data::text_format_from_extension(input_file);

  if (!fmt) {  // one text per line
    std::ifstream file;
    if (!input_file.empty()) {
      file.open(input_file);
      EMBER_CHECK(file.good(), "predict: cannot open ", input_file);
    }
    std::istream& is = input_file.empty() ? std::cin : file;
    std::string line;
    while (std::getline(is, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();         // CRLF files
      if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank: nothing to do
      in.texts.push_back(line);
    }
  } else if (*fmt == ember::data::TextFormat::jsonl) {
    in.kind = PredictInput::Kind::jsonl;
    std::ifstream file(path, std::ios::binary);
    EMBER_CHECK(file.good(), "predict: cannot open ", path);
    std::string line;
    for (int64_t n = 1; std::getline(file, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::ordered_json obj =
          nlohmann::ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
      EMBER_CHECK(obj.is_object(), "predict: ", in.source, ":", n,
                  ": expected one JSON object per line");
      auto field = [&](const std::string& name) {
        auto it = obj.find(name);
        EMBER_CHECK(it != obj.end() && it->is_string(), "predict: ", in.source, ":", n,
                    ": no string field '", name, "' in this object (", obj.dump().substr(0, 80),
                    "); name the text field with --text-column");
        return it->get<std::string>();
      };
      in.texts.push_back(field(data.text_column));
      if (!data.text_pair_column.empty()) in.text_pairs.push_back(field(data.text_pair_column));
      in.objects.push_back(std::move(obj));
    }
  } else {
    in.kind = PredictInput::Kind::table;
    in.table = ember::data::read_text_table(path, *fmt, !data.no_header);
    const ember::data::TextTable& t = in.table;
    int64_t text = -1, pair = -1;
    if (data.by_index()) {
      const std::array<int64_t, 3> idx = data.indices();
      text = idx[0];
      pair = data.has_pair() ? idx[1] : -1;
      for (int64_t i : {text, pair})
        EMBER_CHECK(i < t.num_columns(), "predict: ", in.source, ": column index ", i,
                    " is out of range: the rows have ", t.num_columns(), " fields");
    } else if (!data.columns_named() &&
               std::find(t.columns.begin(), t.columns.end(), data.text_column) == t.columns.end()) {
      // No text column named and no 'sentence': the column with the longest values.
      std::vector<std::size_t> total(t.columns.size(), 0);
      for (const auto& row : t.rows)
        for (std::size_t k = 0; k < row.size(); ++k) total[k] += row[k].size();
      text = std::max_element(total.begin(), total.end()) - total.begin();
      std::fprintf(stderr,
                   "columns: text = %s (detected: the longest values; use --text-column "
                   "to choose)\n",
                   t.columns[std::size_t(text)].c_str());
    } else {
      text = t.column_index(data.text_column);
      if (!data.text_pair_column.empty()) pair = t.column_index(data.text_pair_column);
    }
    for (const auto& row : t.rows) {
      in.texts.push_back(row[std::size_t(text)]);
      if (pair >= 0) in.text_pairs.push_back(row[std::size_t(pair)]);
    }
  }
  EMBER_CHECK(!in.texts.empty(), "predict: no text to classify in ", in.source,
              " (expected one text per line, blank lines skipped, or a .tsv/.csv/.jsonl file)");
  return in;
}

/// `field` as one CSV field (RFC 4180: quoted when it holds a comma, quote or line end).
std::string csv_field(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

int run_predict(RunArgs& a) {
  if (a.threads > 0) ember::set_num_threads(int(a.threads));
  const ember::Device dev = parse_device(a.device);
  set_matmul_precision(a.bf16, dev);
  auto model = load_fine_tuned(a.model_dir);
  model->to(dev);
  model->eval();
  apply_int8(a.int8, *model, dev);
  auto tokenizer = ember::data::AutoTokenizer::from_pretrained(a.model_dir);
  a.max_length = check_model_inputs(*model, tokenizer, a.max_length, a.model_dir);
  PredictInput in = read_predict_input(a.input_file, a.data);

  // Batches sorted by length; each row's logits go back to its place, so the output keeps the
  // input's order.
  const int64_t n = int64_t(in.texts.size());
  auto set = ember::data::TextClassificationDataset::from_rows(
      in.texts, std::vector<std::string>(std::size_t(n), "0"), in.text_pairs);
  ember::data::DataLoader loader(set, tokenizer,
                                 eval_loader_options(n, a.batch_size, a.max_length));
  const int64_t c = model->num_labels();
  std::vector<float> logits(std::size_t(n * c)), probs(std::size_t(n * c));
  {
    ember::NoGradGuard no_grad;
    for (auto& cpu_batch : loader) {
      ember::data::Batch batch = cpu_batch.to(dev);
      Tensor<float> out =
          model->forward(batch.input_ids, batch.attention_mask, batch.token_type_ids).logits;
      const std::vector<float> l = out.to(ember::Device::cpu()).to_vector();
      check_finite_logits(l, "in " + a.model_dir);
      const std::vector<float> p = ember::softmax(out, -1).to(ember::Device::cpu()).to_vector();
      for (int64_t r = 0; r < cpu_batch.size(); ++r) {
        const std::size_t row = std::size_t(cpu_batch.indices[std::size_t(r)]);
        std::copy_n(l.begin() + r * c, c, logits.begin() + std::ptrdiff_t(row) * c);
        std::copy_n(p.begin() + r * c, c, probs.begin() + std::ptrdiff_t(row) * c);
      }
    }
  }

  const auto& names = model->config().id2label;
  auto best = [&](int64_t i) {
    auto first = probs.begin() + i * c;
    return names.at(std::max_element(first, first + c) - first);
  };
  auto probabilities = [&](int64_t i) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (int64_t k = 0; k < c; ++k) j[names.at(k)] = probs[std::size_t(i * c + k)];
    return j;
  };
  if (in.kind == PredictInput::Kind::lines) {
    for (int64_t i = 0; i < n; ++i) {
      if (a.json) {
        nlohmann::ordered_json j = {{"text", in.texts[std::size_t(i)]}, {"label", best(i)}};
        j["probabilities"] = probabilities(i);
        j["logits"] = std::vector<float>(logits.begin() + i * c, logits.begin() + (i + 1) * c);
        std::cout << j.dump() << "\n";
      } else {
        std::cout << best(i);
        for (int64_t k = 0; k < c; ++k)
          std::printf("\t%s=%.4f", names.at(k).c_str(), probs[std::size_t(i * c + k)]);
        std::cout << "\t" << in.texts[std::size_t(i)] << "\n";
      }
      std::cout.flush();
    }
    return 0;
  }
  // A file of records: each record as it was, with predicted_label and the probabilities.
  const ember::data::TextTable& t = in.table;
  if (in.kind == PredictInput::Kind::jsonl || a.json) {
    for (int64_t i = 0; i < n; ++i) {
      nlohmann::ordered_json j;
      if (in.kind == PredictInput::Kind::jsonl) {
        j = in.objects[std::size_t(i)];
      } else {
        for (std::size_t k = 0; k < t.rows[std::size_t(i)].size(); ++k)
          j[t.columns.empty() ? "column_" + std::to_string(k) : t.columns[k]] =
              t.rows[std::size_t(i)][k];
      }
      j["predicted_label"] = best(i);
      j["probabilities"] = probabilities(i);
      std::cout << j.dump() << "\n";
    }
    return 0;
  }
  const bool tsv = t.format == ember::data::TextFormat::tsv;
  auto write_row = [&](std::vector<std::string> fields) {
    for (std::size_t k = 0; k < fields.size(); ++k)
      std::cout << (k ? (tsv ? "\t" : ",") : "") << (tsv ? fields[k] : csv_field(fields[k]));
    std::cout << "\n";
  };
  if (!t.columns.empty()) {
    std::vector<std::string> header = t.columns;
    header.push_back("predicted_label");
    for (int64_t k = 0; k < c; ++k) header.push_back("prob_" + names.at(k));
    write_row(header);
  }
  for (int64_t i = 0; i < n; ++i) {
    std::vector<std::string> fields = t.rows[std::size_t(i)];
    fields.push_back(best(i));
    for (int64_t k = 0; k < c; ++k) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4f", probs[std::size_t(i * c + k)]);
      fields.push_back(buf);
    }
    write_row(std::move(fields));
  }
  return 0;
}

// ---- command line ------------------------------------------------------------------------------

int main(int argc, char** argv) {
  CLI::App app{"Fine-tune, evaluate and run a BERT text classifier with ember"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.require_subcommand(1);
  app.fallthrough();  // --verbose after the subcommand too
  bool verbose = false;
  app.add_flag("--verbose", verbose,
               "print the CPU, its features and the kernels ember chose for it (stderr)");

  // train and distill: the same options (distill takes --teacher instead of --model).
  auto add_train_options = [](CLI::App* train, TrainArgs& t) {
    auto* validation = train->add_option("--validation", t.validation_file,
                                         "validation file (best model selection)");
    train
        ->add_option("--validation-split", t.validation_split,
                     "instead of --validation: hold out this fraction of the training file "
                     "(seeded by --seed, stratified by label; 0: none)")
        ->check(number_in(0.0, 0.99))
        ->excludes(validation);
    train->add_option("--test", t.test_file, "file for the final report (default: validation)");
    train->add_option("--output", t.output_dir,
                      "output directory (best/, checkpoint/, metrics.jsonl)");
    t.data.add_to(train);
    train->add_flag("--allow-many-labels", t.allow_many_labels,
                    "train even when the labels look like text (more distinct labels than half "
                    "the examples, or a label over 50 bytes)");
    train->add_option("--epochs", t.epochs, "passes over the training file")->check(kPositive);
    train->add_option("--batch-size", t.batch_size, "examples per micro-batch")->check(kPositive);
    train->add_option("--lr", t.lr, "peak learning rate")->check(kPositive);
    train->add_option("--warmup-ratio", t.warmup_ratio, "fraction of the steps warming up")
        ->check(number_in(0.0, 1.0));
    train->add_option("--weight-decay", t.weight_decay, "AdamW weight decay")->check(kNonNegative);
    train->add_option("--max-grad-norm", t.max_grad_norm, "gradient clipping norm")->check(kPositive);
    train->add_option("--max-length", t.max_length, "tokens per example incl. [CLS]/[SEP]")
        ->check(CLI::Range(int64_t(3), int64_t(512)));
    train->add_option("--grad-accum", t.grad_accum, "micro-batches per optimizer step")
        ->check(kPositive);
    train->add_option("--seed", t.seed,
                      "seed of shuffling, dropout and the classifier's initialization");
    train->add_option("--threads", t.threads, "CPU threads (0: all)")->check(kNonNegative);
    train
        ->add_option("--max-train-examples", t.max_train_examples,
                     "train on a seeded random subset of this size (0: all)")
        ->check(kNonNegative);
    train
        ->add_option("--max-validation-examples", t.max_validation_examples,
                     "validate on a seeded random subset of this size (0: all)")
        ->check(kNonNegative);
    train->add_option("--eval-every", t.eval_every, "evaluate every N steps (0: each epoch)")
        ->check(kNonNegative);
    train
        ->add_option("--patience", t.patience,
                     "early stopping: evaluations without improvement (0: never stop early)")
        ->check(kNonNegative);
    train->add_option("--log-every", t.log_every, "steps between metrics-log lines")
        ->check(kPositive);
    train->add_flag("--resume", t.resume, "continue from OUTPUT/checkpoint if present");
    train->add_flag("--distributed", t.distributed,
                    "data-parallel training over the processes of `mpirun -np N` (MPI; "
                    "--batch-size and --threads are per process; docs/distributed.md)");
    train->add_option("--device", t.device, "cpu, cuda or cuda:N");
    train
        ->add_option("--sparsity", t.sparsity,
                     "unstructured magnitude pruning: this fraction of the encoder's Linear "
                     "weights ends at zero (gradual schedule, Zhu & Gupta 2017; 0: off)")
        ->check(number_in(0.0, 0.999));
    train
        ->add_option("--sparsity-begin", t.sparsity_begin,
                     "fraction of the training steps after which pruning starts")
        ->check(number_in(0.0, 1.0));
    train
        ->add_option("--sparsity-end", t.sparsity_end,
                     "fraction of the training steps at which --sparsity is reached (kept after)")
        ->check(number_in(0.0, 1.0));
    train->add_option("--sparsity-every", t.sparsity_every, "steps between mask updates")
        ->check(kPositive);
    train->add_flag("--bf16", t.bf16,
                    "bf16 matrix products, fp32 weights (GPU tensor cores; CPU: AMX/AVX512-BF16)");
  };
  TrainArgs t, d;
  auto* train = app.add_subcommand("train", "fine-tune a pretrained BERT on a labelled file");
  train->add_option("--model", t.model_dir, "Hugging Face BERT directory")->required();
  train->add_option("--train", t.train_file, "training file (.tsv, .csv, .jsonl)")->required();
  add_train_options(train, t);
  auto* distill = app.add_subcommand(
      "distill",
      "train a smaller student (every other layer of a fine-tuned teacher) on the teacher's "
      "softened logits plus the labels (Hinton et al. 2015; docs/compression.md); train's options");
  distill->add_option("--teacher", d.teacher_dir, "fine-tuned classifier directory")->required();
  distill->add_option("--train", d.train_file, "training file (.tsv, .csv, .jsonl)")->required();
  distill
      ->add_option("--student-layers", d.student_layers,
                   "encoder layers of the student, taken evenly from the teacher's (0: half)")
      ->check(kNonNegative);
  distill->add_option("--temperature", d.temperature, "softmax temperature T of the soft targets")
      ->check(kPositive);
  distill
      ->add_option("--alpha", d.alpha,
                   "weight of the distillation loss; 1 - alpha weighs the label loss")
      ->check(number_in(0.0, 1.0));
  add_train_options(distill, d);

  // eval and predict: the options they share.
  RunArgs e, p;
  auto add_run_options = [](CLI::App* cmd, RunArgs& r) {
    cmd->add_option("--model", r.model_dir, "fine-tuned model directory")->required();
    cmd->add_option("--batch-size", r.batch_size, "examples per batch (batches sorted by length)")
        ->check(kPositive);
    cmd->add_option("--max-length", r.max_length, "tokens per example incl. [CLS]/[SEP]")
        ->check(CLI::Range(int64_t(3), int64_t(512)));
    cmd->add_option("--threads", r.threads, "CPU threads (0: all)")->check(kNonNegative);
    cmd->add_option("--device", r.device, "cpu, cuda or cuda:N");
    cmd->add_flag("--bf16", r.bf16, "bf16 matrix products (GPU, or a CPU with AMX/AVX512-BF16)");
    cmd->add_flag("--int8", r.int8,
                  "dynamic int8 quantization of the Linear layers (CPU; docs/compression.md)");
  };
  auto* eval = app.add_subcommand("eval", "accuracy, F1 and confusion matrix on a labelled file");
  add_run_options(eval, e);
  eval->add_option("--data", e.data_file, "labelled file (.tsv, .csv, .jsonl)")->required();
  e.data.add_to(eval);

  auto* predict =
      app.add_subcommand("predict",
                         "label the texts of a .tsv/.csv/.jsonl file (each row written back with "
                         "predicted_label and the probabilities), or one text per line (stdin or a "
                         "plain file)");
  add_run_options(predict, p);
  predict->add_option("--input", p.input_file,
                      "file to label (empty: stdin); .tsv/.csv/.jsonl or --format: rows with the "
                      "column options, else one text per line");
  predict->add_flag("--json", p.json, "JSON lines output");
  p.data.add_to(predict, /*labelled=*/false);

  std::string quantize_model, quantize_output;
  auto* quantize = app.add_subcommand(
      "quantize", "save the model with int8 Linear weights (per-channel scales); it then loads "
                  "and runs in int8 everywhere (docs/compression.md)");
  quantize->add_option("--model", quantize_model, "fine-tuned model directory")->required();
  quantize->add_option("--output", quantize_output, "directory for the int8 model")->required();

  PruneArgs pr;
  auto* prune = app.add_subcommand(
      "prune", "remove the least important attention heads and feed-forward neurons (Michel et "
               "al. 2019) and save the smaller model (docs/compression.md)");
  prune->add_option("--model", pr.model_dir, "fine-tuned model directory")->required();
  prune->add_option("--data", pr.data_file, "labelled file to score the heads on")->required();
  prune->add_option("--output", pr.output_dir, "directory for the pruned model")->required();
  prune->add_option("--heads", pr.heads, "fraction of all heads to remove (default 0.5)")
      ->check(number_in(0.0, 1.0));
  prune->add_option("--ffn", pr.ffn,
                    "fraction of every layer's feed-forward neurons to remove (default 0)")
      ->check(number_in(0.0, 1.0));
  prune->add_option("--max-examples", pr.max_examples,
                    "score on a seeded random subset of this size (0: all)")->check(kNonNegative);
  prune->add_option("--batch-size", pr.batch_size, "examples per batch")->check(kPositive);
  prune->add_option("--max-length", pr.max_length, "tokens per example incl. [CLS]/[SEP]")
      ->check(CLI::Range(int64_t(3), int64_t(512)));
  prune->add_option("--threads", pr.threads, "CPU threads (0: all)")->check(kNonNegative);
  prune->add_option("--seed", pr.seed, "seed of the subset");
  pr.data.add_to(prune);

  CLI11_PARSE(app, argc, argv);
  if (verbose) std::fprintf(stderr, "%s", ember::cpu_info().summary().c_str());
  try {
    if (*train || *distill) {
      const int rc = run_train(*train ? t : d);
      g_world.leave();
      return rc;
    }
    if (*prune) return run_prune(pr);
    if (*quantize) return run_quantize(quantize_model, quantize_output);
    if (*eval) return run_eval(e);
    if (*predict) return run_predict(p);
  } catch (const std::exception& e) {
    g_world.abort_job(e.what());  // --distributed: ends every rank, naming this one
    g_world.leave();              // (a world of one gets here: free NCCL before main returns)
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 1;
}
