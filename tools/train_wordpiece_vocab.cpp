// tools/train_wordpiece_vocab.cpp — trains a WordPiece vocab.txt with ember's WordPieceTrainer
// (include/ember/data/wordpiece_trainer.hpp); the ember side of tools/compare_wordpiece_trainer.py,
// which compiles it. Standalone (no CMake target):
//
//   c++ -O2 -std=c++17 -Iinclude tools/train_wordpiece_vocab.cpp -lutf8proc -fopenmp -o train_vocab
//   ./train_vocab --vocab-size 8000 --out vocab.txt corpus.txt [more.txt ...]
//       [--min-frequency 2] [--limit-alphabet 1000] [--cased]
//       [--tokenize held_out.txt --ids-out ids.txt]
//
// With --tokenize, each line of that file is encoded ([CLS] line [SEP]) by the trained
// vocabulary's WordPieceTokenizer and its ids written space-separated, one line per line.
// Prints one JSON line: the trainer's stats and the seconds spent counting words and merging.
#include <ember/data/wordpiece_trainer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  ember::data::WordPieceTrainerOptions opt;
  std::string out, tokenize, ids_out;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--vocab-size")
      opt.vocab_size(std::stoul(value()));
    else if (a == "--min-frequency")
      opt.min_frequency(std::stoll(value()));
    else if (a == "--limit-alphabet")
      opt.limit_alphabet(std::stoul(value()));
    else if (a == "--cased")
      opt.lowercase(false);
    else if (a == "--out")
      out = value();
    else if (a == "--tokenize")
      tokenize = value();
    else if (a == "--ids-out")
      ids_out = value();
    else
      files.push_back(a);
  }
  if (out.empty() || files.empty()) {
    std::fprintf(stderr,
                 "usage: %s --vocab-size N --out vocab.txt FILE... [--min-frequency N] "
                 "[--limit-alphabet N] [--cased]\n",
                 argv[0]);
    return 2;
  }
  try {
    using clock = std::chrono::steady_clock;
    ember::data::WordPieceTrainer trainer(opt);
    const auto t0 = clock::now();
    trainer.feed_files(files);
    const auto t1 = clock::now();
    trainer.train();
    const auto t2 = clock::now();
    trainer.save(out);
    if (!tokenize.empty()) {
      const ember::data::WordPieceTokenizer tok = trainer.tokenizer();
      std::ifstream in(tokenize, std::ios::binary);
      std::ofstream ids(ids_out.empty() ? out + ".ids" : ids_out, std::ios::binary);
      std::string line;
      while (std::getline(in, line)) {
        const auto e = tok.encode(line);
        for (std::size_t k = 0; k < e.size(); ++k) ids << (k ? " " : "") << e.input_ids[k];
        ids << '\n';
      }
    }
    const auto& s = trainer.stats();
    auto sec = [](auto d) { return std::chrono::duration<double>(d).count(); };
    std::printf(
        "{\"vocab_size\": %zu, \"texts\": %lld, \"words\": %lld, \"unique_words\": %lld, "
        "\"alphabet\": %lld, \"continuation_tokens\": %lld, \"merges\": %lld, "
        "\"last_merge_count\": %lld, \"count_seconds\": %.3f, \"merge_seconds\": %.3f}\n",
        trainer.vocab().size(), static_cast<long long>(s.num_texts),
        static_cast<long long>(s.num_words), static_cast<long long>(s.num_unique_words),
        static_cast<long long>(s.alphabet_size), static_cast<long long>(s.num_continuation_tokens),
        static_cast<long long>(s.num_merges), static_cast<long long>(s.last_merge_count),
        sec(t1 - t0), sec(t2 - t1));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
