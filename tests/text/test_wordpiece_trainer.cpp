// Tests of the WordPiece vocabulary trainer (data/wordpiece_trainer.hpp): the layout of the
// vocabulary (special tokens, alphabet, "##" characters, merges), the merge rule on a corpus small
// enough to follow by hand, vocab_size / min_frequency / limit_alphabet, determinism, that the
// trained vocab.txt loads in WordPieceTokenizer and covers its own corpus without [UNK], and the
// errors. Parity with Hugging Face's trainer is measured by tools/compare_wordpiece_trainer.py
// (docs/tokenizer.md, "Training a WordPiece vocabulary").
#include <ember/data/wordpiece_trainer.hpp>

#include "support/temp_dir.hpp"
#include "support/test_util.hpp"
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

// A named namespace, not an anonymous one: the text tests compile as one translation unit.
namespace wordpiece_trainer_test {

namespace fs = std::filesystem;
using ember::data::WordPieceTokenizer;
using ember::data::WordPieceTrainer;
using ember::data::WordPieceTrainerOptions;
using ember::test::contains;
using ember::test::error_of;

/// This suite's temporary folder (removed at exit) and a file written into it.
const ember::test::TempDir& temp_dir() {
  static const ember::test::TempDir dir("wp_trainer");
  return dir;
}
std::string write_file(const std::string& name, const std::string& content) {
  return temp_dir().write(name, content);
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

const std::vector<std::string> kCorpus = {
    "The lowest prices, the newest products!",
    "Lower your costs: buy the newest widest widgets.",
    "Slow and low; the slower, the lower.",
    "Café crème — naïve résumé?",
    "新しい 東京 tokyo TOKYO",
};

/// The index of token in vocab, or -1.
long index_of(const std::vector<std::string>& vocab, const std::string& token) {
  auto it = std::find(vocab.begin(), vocab.end(), token);
  return it == vocab.end() ? -1 : static_cast<long>(it - vocab.begin());
}

TEST_CASE("wordpiece_trainer: special tokens first, then the alphabet, '##' characters, merges") {
  WordPieceTrainer trainer(WordPieceTrainerOptions().vocab_size(200));
  const auto& vocab = trainer.train_from_iterator(kCorpus.begin(), kCorpus.end());
  REQUIRE(vocab.size() >= 5);
  CHECK(std::vector<std::string>(vocab.begin(), vocab.begin() + 5) ==
        std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"});
  const auto& s = trainer.stats();
  CHECK(s.num_texts == 5);
  // The alphabet: single characters sorted by code point, lower-cased and accents stripped.
  std::vector<std::string> alphabet(vocab.begin() + 5, vocab.begin() + 5 + s.alphabet_size);
  CHECK(std::is_sorted(alphabet.begin(), alphabet.end()));  // UTF-8 order = code point order
  for (const char* c : {"!", ",", "a", "e", "t", "w", "y", "東", "京"})
    CHECK_MESSAGE(index_of(alphabet, c) >= 0, c);
  for (const char* c : {"T", "L", "é", "ï"}) CHECK_MESSAGE(index_of(vocab, c) < 0, c);
  // Continuation characters: "##" + a character seen after a word's first position.
  const long first_cont = 5 + s.alphabet_size;
  for (long i = first_cont; i < first_cont + s.num_continuation_tokens; ++i)
    CHECK(vocab[static_cast<std::size_t>(i)].rfind("##", 0) == 0);
  CHECK(index_of(vocab, "##w") >= first_cont);
  CHECK(index_of(vocab, "##東") < 0);  // CJK ideographs are words of their own
  CHECK(index_of(vocab, "##,") < 0);   // so is punctuation
  // Merges follow; every merge token is longer than one character.
  CHECK(s.num_merges > 0);
  CHECK(static_cast<long>(vocab.size()) == first_cont + s.num_continuation_tokens + s.num_merges);
}

TEST_CASE("wordpiece_trainer: the merges follow pair counts, ties to the smaller ids") {
  // Words: "low" x5, "lower" x2, "newest" x6, "widest" x3 (the classic BPE example).
  std::vector<std::string> texts;
  for (int i = 0; i < 5; ++i) texts.push_back("low");
  for (int i = 0; i < 2; ++i) texts.push_back("lower");
  for (int i = 0; i < 6; ++i) texts.push_back("newest");
  for (int i = 0; i < 3; ++i) texts.push_back("widest");
  WordPieceTrainer trainer(WordPieceTrainerOptions().special_tokens({"[UNK]"}).vocab_size(1000));
  const auto& vocab = trainer.train_from_iterator(texts.begin(), texts.end());
  // [UNK]; alphabet d e i l n o r s t w; continuations ##d ##e ##i ##o ##r ##s ##t ##w.
  const std::vector<std::string> head = {"[UNK]", "d",   "e",   "i",   "l",   "n",   "o",
                                         "r",     "s",   "t",   "w",   "##d", "##e", "##i",
                                         "##o",   "##r", "##s", "##t", "##w"};
  REQUIRE(vocab.size() > head.size());
  CHECK(std::vector<std::string>(vocab.begin(), vocab.begin() + head.size()) == head);
  // Pair counts: ##e ##s 9, ##s ##t 9 (a tie: ids (12, 16) < (16, 17), so ##es first), then
  // ##es ##t 9; l ##o 7 and ##o ##w 7 (ids (4, 14) first), lo ##w 7; then three pairs of 6:
  // n ##e (5, 12) first, then ##w ##est (18, 20) before ne ##w (23, 18), then ne ##west.
  const std::vector<std::string> merges(vocab.begin() + head.size(), vocab.end());
  REQUIRE(merges.size() >= 7);
  CHECK(merges[0] == "##es");
  CHECK(merges[1] == "##est");
  CHECK(merges[2] == "lo");
  CHECK(merges[3] == "low");
  CHECK(merges[4] == "ne");
  CHECK(merges[5] == "##west");
  CHECK(merges[6] == "newest");
  // min_frequency 2 (the default) stops before pairs seen once; "lower" (x2) is still merged.
  CHECK(index_of(vocab, "lower") >= 0);
  CHECK(index_of(vocab, "widest") >= 0);
  CHECK(trainer.stats().last_merge_count >= 2);
  // min_frequency 3 leaves "lower" out.
  WordPieceTrainer strict(
      WordPieceTrainerOptions().special_tokens({"[UNK]"}).vocab_size(1000).min_frequency(3));
  CHECK(index_of(strict.train_from_iterator(texts.begin(), texts.end()), "lower") < 0);
  CHECK(strict.stats().last_merge_count >= 3);
}

TEST_CASE("wordpiece_trainer: vocab_size is respected and training is deterministic") {
  const std::string path =
      write_file("corpus.txt",
                 "The lowest prices, the newest products!\n\nLower your costs: buy the "
                 "newest widest widgets.\r\nSlow and low; the slower, the lower.\n");
  WordPieceTrainer a(WordPieceTrainerOptions().vocab_size(60));
  const auto va = a.train({path});
  CHECK(va.size() == 60);
  CHECK(a.stats().num_texts == 3);  // blank lines skipped
  WordPieceTrainer b(WordPieceTrainerOptions().vocab_size(60));
  CHECK(b.train({path}) == va);
  // The same texts through feed() give the same vocabulary as through the file.
  WordPieceTrainer c(WordPieceTrainerOptions().vocab_size(60));
  const std::vector<std::string> texts = {"The lowest prices, the newest products!",
                                          "Lower your costs: buy the newest widest widgets.",
                                          "Slow and low; the slower, the lower."};
  CHECK(c.train_from_iterator(texts.begin(), texts.end()) == va);
  // Training again after more text starts from all counts.
  c.feed("widest widest widest");
  CHECK(c.train().size() == 60);
  CHECK(c.word_counts().at("widest") == 4);
  // A large vocab_size stops when no pair reaches min_frequency.
  WordPieceTrainer big(WordPieceTrainerOptions().vocab_size(100000));
  CHECK(big.train({path}).size() < 200);
}

TEST_CASE("wordpiece_trainer: limit_alphabet keeps the most frequent characters") {
  // a x6, b x3, c x2, d x1 (as words of one character each, and inside "abcd").
  const std::vector<std::string> texts = {"a a a a a", "b b", "c", "abcd"};
  WordPieceTrainer trainer(
      WordPieceTrainerOptions().special_tokens({"[UNK]"}).limit_alphabet(2).vocab_size(100));
  const auto& vocab = trainer.train_from_iterator(texts.begin(), texts.end());
  CHECK(trainer.stats().num_characters == 4);
  CHECK(trainer.stats().alphabet_size == 2);
  CHECK(index_of(vocab, "a") == 1);
  CHECK(index_of(vocab, "b") == 2);
  CHECK(index_of(vocab, "c") < 0);
  // "abcd" becomes a ##b (c and d dropped, as Hugging Face does); seen once, never merged.
  CHECK(index_of(vocab, "##b") == 3);
  CHECK(vocab.size() == 4);
  // initial_alphabet characters are always kept, seen or not.
  WordPieceTrainer with_initial(WordPieceTrainerOptions()
                                    .special_tokens({"[UNK]"})
                                    .limit_alphabet(2)
                                    .initial_alphabet("dz")
                                    .vocab_size(100));
  const auto& v2 = with_initial.train_from_iterator(texts.begin(), texts.end());
  CHECK(index_of(v2, "d") >= 0);
  CHECK(index_of(v2, "z") >= 0);
  CHECK(index_of(v2, "b") < 0);  // the limit counts the initial characters too
}

TEST_CASE("wordpiece_trainer: the saved vocab.txt loads in WordPieceTokenizer without [UNK]") {
  const std::string corpus = write_file("sst2_head.txt", [] {
    std::ifstream in(ember::test::kSst2Dev);
    std::string all, line;
    std::getline(in, line);  // header
    for (int i = 0; i < 400 && std::getline(in, line); ++i)
      all += line.substr(0, line.find('\t')) + "\n";
    return all;
  }());
  WordPieceTrainer trainer(WordPieceTrainerOptions().vocab_size(1500));
  trainer.train({corpus});
  const std::string vocab_path = temp_dir().file("vocab.txt");
  trainer.save(vocab_path);
  CHECK(read_lines(vocab_path) == trainer.vocab());
  CHECK_FALSE(
      fs::exists(vocab_path + ".tmp." + std::to_string(static_cast<long long>(::getpid()))));

  const WordPieceTokenizer tok(vocab_path);
  CHECK(tok.vocab_size() == trainer.vocab().size());
  CHECK(tok.pad_token_id() == 0);
  CHECK(tok.unk_token_id() == 1);
  CHECK(tok.cls_token_id() == 2);
  CHECK(tok.sep_token_id() == 3);
  CHECK(tok.mask_token_id() == 4);
  // Every training sentence is covered: no [UNK].
  for (const std::string& line : read_lines(corpus)) {
    const auto ids = tok.tokenize_to_ids(line);
    CHECK_MESSAGE(std::find(ids.begin(), ids.end(), tok.unk_token_id()) == ids.end(), line);
  }
  // Unseen words of seen characters are covered too; an unseen character is [UNK].
  CHECK(tok.tokenize("zigzagging filmmakers")[0] != "[UNK]");
  CHECK(tok.tokenize("☃")[0] == "[UNK]");
  // tokenizer() is the same tokenizer.
  CHECK(trainer.tokenizer().tokenize_to_ids("a moving , funny film") ==
        tok.tokenize_to_ids("a moving , funny film"));
  // A cased trainer keeps case.
  WordPieceTrainer cased(WordPieceTrainerOptions().lowercase(false).vocab_size(100));
  const std::vector<std::string> texts = {"Tokyo TOKYO tokyo"};
  CHECK(index_of(cased.train_from_iterator(texts.begin(), texts.end()), "T") >= 0);
  CHECK_FALSE(cased.tokenizer().options().do_lower_case());
}

TEST_CASE("wordpiece_trainer: errors") {
  // An empty corpus: no files' text, or texts without a word.
  const std::string empty = write_file("empty.txt", "\n  \n");
  std::string msg = error_of([&] { WordPieceTrainer().train({empty}); });
  CHECK(contains(msg, "empty.txt"));
  CHECK(contains(msg, "no text"));
  msg = error_of([] {
    const std::vector<std::string> texts = {"", "\x01\x02"};
    WordPieceTrainer().train_from_iterator(texts.begin(), texts.end());
  });
  CHECK(contains(msg, "no words"));
  // A missing file.
  CHECK(contains(error_of([] { WordPieceTrainer().train({"/nonexistent/corpus.txt"}); }),
                 "/nonexistent/corpus.txt"));
  // vocab_size below special tokens + alphabet + continuation characters (HF would return them).
  msg = error_of([] {
    const std::vector<std::string> texts = {"abc abd"};
    WordPieceTrainer(WordPieceTrainerOptions().vocab_size(8))
        .train_from_iterator(texts.begin(), texts.end());
  });
  CHECK(contains(msg, "vocab_size 8"));
  CHECK(contains(msg, "12 tokens"));  // 5 specials, a b c d, ##b ##c ##d
  // Non-UTF-8: a file names the file and the line; a text its index.
  const std::string latin1 = write_file("latin1.txt", "fine\nalso fine\ncaf\xE9 au lait\n");
  msg = error_of([&] { WordPieceTrainer().train({latin1}); });
  CHECK(contains(msg, "latin1.txt:3"));
  CHECK(contains(msg, "0xE9"));
  msg = error_of([] {
    WordPieceTrainer t;
    t.feed("ok");
    t.feed("x\xFFy");
  });
  CHECK(contains(msg, "text 2"));
  CHECK(contains(msg, "0xFF"));
  // Options and order of calls.
  CHECK(contains(error_of([] { WordPieceTrainer(WordPieceTrainerOptions().special_tokens({""})); }),
                 "special token"));
  CHECK(contains(error_of([] { WordPieceTrainer().save("x.txt"); }), "train() first"));
  CHECK(contains(error_of([] { (void)WordPieceTrainer().tokenizer(); }), "train() first"));
  msg = error_of([] {
    const std::vector<std::string> texts = {"aa aa"};
    WordPieceTrainer t(WordPieceTrainerOptions().special_tokens({"<pad>", "<unk>"}));
    t.train_from_iterator(texts.begin(), texts.end());
    (void)t.tokenizer();
  });
  CHECK(contains(msg, "[UNK]"));
  // save() into a folder that does not exist names the path.
  msg = error_of([] {
    const std::vector<std::string> texts = {"aa aa"};
    WordPieceTrainer t;
    t.train_from_iterator(texts.begin(), texts.end());
    t.save("/nonexistent/dir/vocab.txt");
  });
  CHECK(contains(msg, "/nonexistent/dir/vocab.txt"));
}

}  // namespace wordpiece_trainer_test
