// ember/data/wordpiece_trainer.hpp — trains a WordPiece vocabulary (`vocab.txt`) from plain text,
// for pretraining BERT from scratch in a new domain or language.
//
// Source. The algorithm of Hugging Face tokenizers' `WordPieceTrainer` (tokenizers 0.23,
// `tokenizers/src/models/wordpiece/trainer.rs`), which is its `BpeTrainer`
// (`models/bpe/trainer.rs`) with `continuing_subword_prefix = "##"`, driven as
// `BertWordPieceTokenizer.train` drives it (defaults min_frequency 2, limit_alphabet 1000,
// special tokens [PAD] [UNK] [CLS] [SEP] [MASK] in that order, so [PAD] = 0, [UNK] = 1, ...):
//   1. words: every text is normalized and pre-tokenized exactly as WordPieceTokenizer does it
//      (BertNormalizer + BertPreTokenizer: data/wordpiece_tokenizer.hpp) and each word is
//      counted. Special tokens written in the text are NOT cut out (as in HF's training path):
//      "[CLS]" counts as the words "[", "cls", "]".
//   2. vocabulary, in id order: the special tokens; the alphabet — every character of the
//      words, weighted by word count, the limit_alphabet most frequent kept (plus every
//      character of initial_alphabet), sorted by code point; the continuation characters
//      "##c" of every kept character c seen after the first position of a word; then one token
//      per merge, in merge order.
//   3. each word becomes a sequence of those ids; a character outside the kept alphabet is
//      dropped from the word (as HF does), the others keep "##" when not the word's first.
//   4. merges: the adjacent pair with the highest count (summed over word counts) is merged,
//      ties going to the pair with the smaller (left id, right id); the new token is
//      left + right without its "##" (so "##a" + "##b" = "##ab", "a" + "##b" = "ab"), reused when
//      that string is already in the vocabulary. Pair counts are kept in a hash map and updated
//      incrementally from the words the merge touched; a max-heap holds one entry per pair with
//      the words where it occurs, and an entry whose count is stale is re-pushed with the
//      current count (lazy update), as HF does. Training stops when the vocabulary has
//      vocab_size tokens, when the best pair occurs fewer than min_frequency times, or when no
//      pair is left.
//
// What matches Hugging Face and what does not (measured on SST-2: docs/tokenizer.md, "Training a
// WordPiece vocabulary"; script: tools/compare_wordpiece_trainer.py):
//   - same: the normalization and pre-tokenization, the word counts, the special tokens and the
//     alphabet (ids and order), the set of continuation characters, the merge rule, the stopping
//     rule, the handling of characters outside the alphabet. The vocab.txt loads in HF's
//     BertTokenizerFast and tokenizes as ember's WordPieceTokenizer does.
//   - not the same: (a) the ORDER of the "##c" continuation tokens. HF numbers them as it meets
//     them while walking its word-count hash map, whose order changes from run to run (its hash
//     seeds are random); ember numbers them by code point. Because ties between equal-count
//     pairs are broken by token ids, (b) a merge among equal-count pairs can be picked in a
//     different order, so near the vocab_size cut-off a few tokens differ, and HF itself gives
//     slightly different vocabularies from run to run. (c) limit_alphabet: HF cuts characters
//     of equal count in an unspecified order; ember keeps the smaller code points. (d) a
//     vocab_size smaller than special tokens + alphabet + continuation characters: HF silently
//     returns that larger vocabulary; ember throws (see Errors). (e) HF's max_token_length and
//     end_of_word_suffix (not used by BertWordPieceTokenizer) are not offered.
//   ember's trainer is deterministic: the same texts give the same vocab.txt.
//
// Memory and speed. Files are read as a stream (data/text_corpus.hpp's TextCorpusReader, one
// line at a time): memory holds the distinct words and their counts, not the corpus. SST-2's
// 60,614 training sentences (0.6 M words) train an 8000-token vocabulary in about 0.2 s.
//
// Errors (ember::Error): a file that is missing, a directory, or not UTF-8 (names the file and
// the 1-based line); an empty corpus (no word at all); text passed to feed() that is not UTF-8
// (names the text's 1-based index); a vocab_size smaller than the tokens every vocabulary needs
// (names the three parts); an empty special token or one with a line break; save() or
// tokenizer() before train(); an I/O failure while saving (names the path).
#pragma once

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>
#include <ember/data/text_corpus.hpp>
#include <ember/data/wordpiece_tokenizer.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ember::data {

// ---------------------------------------------------------------------------------------------
// Synopsis
// ---------------------------------------------------------------------------------------------

/// How the vocabulary is trained; the defaults are those of Hugging Face's
/// `BertWordPieceTokenizer.train` except vocab_size (BERT's 30522; HF's default is 30000).
/// Chainable: `WordPieceTrainerOptions().vocab_size(8000).min_frequency(3)`.
struct WordPieceTrainerOptions {
  /// The number of tokens to reach (specials + alphabet + continuation characters + merges).
  EMBER_ARG(std::size_t, vocab_size) = 30522;
  /// A pair is merged only if it occurs at least this many times (HF: min_frequency).
  EMBER_ARG(int64_t, min_frequency) = 2;
  /// Keep at most this many distinct characters, the most frequent (0: no limit; HF: None).
  EMBER_ARG(std::size_t, limit_alphabet) = 1000;
  /// Characters always kept in the alphabet (UTF-8; every code point counts), seen or not.
  EMBER_ARG(std::string, initial_alphabet);
  /// The first tokens of the vocabulary, in this order (ids 0, 1, ...).
  EMBER_ARG(std::vector<std::string>, special_tokens) = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                         "[MASK]"};
  /// Marks a piece that continues a word. ember's WordPieceTokenizer reads "##" only.
  EMBER_ARG(std::string, continuing_subword_prefix) = "##";
  /// Normalization, as WordPieceTokenizerOptions: do_lower_case (HF BertWordPieceTokenizer:
  /// lowercase), strip_accents (unset: follows lowercase), tokenize_chinese_chars.
  EMBER_ARG(bool, lowercase) = true;
  EMBER_ARG(std::optional<bool>, strip_accents);
  EMBER_ARG(bool, tokenize_chinese_chars) = true;

 public:
  /// The WordPieceTokenizerOptions that tokenize as this trainer normalized.
  WordPieceTokenizerOptions tokenizer_options() const {
    return WordPieceTokenizerOptions()
        .do_lower_case(lowercase_)
        .strip_accents(strip_accents_.value_or(lowercase_))
        .tokenize_chinese_chars(tokenize_chinese_chars_);
  }
};

/// What the last train() saw and did.
struct WordPieceTrainerStats {
  int64_t num_texts = 0;                // texts (lines) fed
  int64_t num_words = 0;                // words counted, with repetition
  int64_t num_unique_words = 0;         // distinct words
  int64_t num_characters = 0;           // distinct characters seen
  int64_t alphabet_size = 0;            // characters kept (limit_alphabet, initial_alphabet)
  int64_t num_continuation_tokens = 0;  // "##c" tokens
  int64_t num_merges = 0;               // merge steps (HF's merges list; a few may add no token)
  int64_t last_merge_count = 0;         // the count of the last pair merged (0: none)
};

class WordPieceTrainer {
 public:
  /// Throws ember::Error for an empty special token or one holding '\n' or '\r', or an empty
  /// continuing_subword_prefix.
  explicit WordPieceTrainer(WordPieceTrainerOptions options = {});

  /// Counts the words of one text (a line, a document). Throws ember::Error when text is not
  /// valid UTF-8.
  void feed(std::string_view text);
  /// Counts the words of every non-blank line of the files, read as a stream. Throws
  /// ember::Error for a missing file, a directory, bytes that are not UTF-8 (file:line), or
  /// files holding no text at all.
  void feed_files(const std::vector<std::string>& paths);

  /// Trains on everything fed so far; returns the vocabulary (id = index). May be called again
  /// after more feed()s. Throws ember::Error when no word was fed, or when vocab_size is smaller
  /// than special tokens + alphabet + continuation characters.
  const std::vector<std::string>& train();
  /// feed_files(paths), then train() (HF: `tokenizer.train(files)`).
  const std::vector<std::string>& train(const std::vector<std::string>& paths);
  /// feed() each text of [first, last) (strings or string_views), then train() (HF:
  /// `train_from_iterator`).
  template <class It>
  const std::vector<std::string>& train_from_iterator(It first, It last);

  /// The trained vocabulary (empty before train()).
  const std::vector<std::string>& vocab() const { return vocab_; }
  /// Writes vocab.txt: one token per line, id = line number, '\n' endings. Atomic: written to
  /// `path.tmp.<pid>`, then renamed over path (for vocab.txt + tokenizer_config.json in one
  /// folder, use models::bert::save_tokenizer(trainer.tokenizer(), dir)). Throws ember::Error
  /// before train() or on an I/O failure (the previous file, if any, is left unchanged).
  void save(const std::string& vocab_path) const;
  /// A WordPieceTokenizer on the trained vocabulary, normalizing as training did. Throws
  /// ember::Error before train(), when the prefix is not "##", or when [UNK], [CLS], [SEP] or
  /// [PAD] is not among the special tokens.
  WordPieceTokenizer tokenizer() const;

  const WordPieceTrainerStats& stats() const { return stats_; }
  const WordPieceTrainerOptions& options() const { return options_; }
  /// The counted words (normalized, pre-tokenized) and their counts.
  const std::unordered_map<std::string, int64_t>& word_counts() const { return word_counts_; }

 private:
  WordPieceTrainerOptions options_;
  std::unordered_map<std::string, int64_t> word_counts_;
  int64_t num_texts_ = 0, num_words_ = 0;
  std::vector<std::string> vocab_;
  WordPieceTrainerStats stats_;
  // feed() scratch
  std::vector<char32_t> cps_, norm_, tmp_;
  std::string word_;
};

/// One call for a command line tool: trains on the files and writes vocab_path; returns the
/// trainer (its vocab(), stats(), tokenizer()).
inline WordPieceTrainer train_wordpiece_vocab(const std::vector<std::string>& files,
                                              const std::string& vocab_path,
                                              WordPieceTrainerOptions options = {});

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------
namespace detail {

/// The BPE merge loop of the trainer (step 4 of the header comment) over words already turned
/// into token ids. `symbols[offset[w] .. offset[w] + length[w])` holds word w; merges rewrite it
/// in place. New tokens are appended to id_to_token / token_to_id.
class WordPieceMerger {
 public:
  WordPieceMerger(std::vector<int32_t>& symbols, std::vector<std::size_t> offset,
                  std::vector<std::size_t> length, std::vector<int64_t> counts)
      : sym_(symbols),
        offset_(std::move(offset)),
        len_(std::move(length)),
        count_(std::move(counts)) {}

  void run(std::vector<std::string>& id_to_token,
           std::unordered_map<std::string, int32_t>& token_to_id, std::size_t vocab_size,
           int64_t min_frequency, const std::string& prefix, WordPieceTrainerStats& stats);

 private:
  using Key = uint64_t;  // (left id << 32) | right id: ascending keys = ascending pairs
  struct Entry {
    int64_t count;
    Key pair;
    std::vector<int32_t> words;  // where the pair occurs (a superset is harmless)
  };
  // Heap order: higher count first, then the smaller pair (HF's `Merge` ordering).
  static bool lower_(const Entry& x, const Entry& y) {
    return x.count != y.count ? x.count < y.count : x.pair > y.pair;
  }
  static Key key_(int32_t a, int32_t b) {
    return (static_cast<Key>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void add_(Key pair, int64_t delta, int32_t word);
  void merge_word_(int32_t w, int32_t a, int32_t b, int32_t merged);
  void push_new_();

  std::vector<int32_t>& sym_;
  std::vector<std::size_t> offset_, len_;
  std::vector<int64_t> count_;
  std::unordered_map<Key, int64_t> pair_count_;
  std::unordered_map<Key, std::vector<int32_t>> touched_;  // pairs gained in this step → words
  std::vector<Key> touched_order_;                         // first-touch order (deterministic)
  std::vector<Entry> heap_;
};

inline void WordPieceMerger::add_(Key pair, int64_t delta, int32_t word) {
  pair_count_[pair] += delta * count_[static_cast<std::size_t>(word)];
  if (delta > 0) {
    auto [it, fresh] = touched_.try_emplace(pair);
    if (fresh) touched_order_.push_back(pair);
    if (it->second.empty() || it->second.back() != word) it->second.push_back(word);
  }
}

// HF's Word::merge: left to right, non-overlapping; the pairs lost and gained around each merged
// occurrence go to add_().
inline void WordPieceMerger::merge_word_(int32_t w, int32_t a, int32_t b, int32_t merged) {
  int32_t* s = sym_.data() + offset_[static_cast<std::size_t>(w)];
  const std::size_t n = len_[static_cast<std::size_t>(w)];
  std::size_t i = 0, j = 0;  // read, write
  while (i < n) {
    if (i + 1 < n && s[i] == a && s[i + 1] == b) {
      if (j > 0) {
        add_(key_(s[j - 1], a), -1, w);
        add_(key_(s[j - 1], merged), +1, w);
      }
      if (i + 2 < n) {
        add_(key_(b, s[i + 2]), -1, w);
        add_(key_(merged, s[i + 2]), +1, w);
      }
      s[j++] = merged;
      i += 2;
    } else {
      s[j++] = s[i++];
    }
  }
  len_[static_cast<std::size_t>(w)] = j;
}

inline void WordPieceMerger::push_new_() {
  for (Key pair : touched_order_) {
    auto it = touched_.find(pair);
    const int64_t c = pair_count_[pair];
    if (c > 0) {
      heap_.push_back(Entry{c, pair, std::move(it->second)});
      std::push_heap(heap_.begin(), heap_.end(), lower_);
    }
  }
  touched_.clear();
  touched_order_.clear();
}

inline void WordPieceMerger::run(std::vector<std::string>& id_to_token,
                                 std::unordered_map<std::string, int32_t>& token_to_id,
                                 std::size_t vocab_size, int64_t min_frequency,
                                 const std::string& prefix, WordPieceTrainerStats& stats) {
  // Count every adjacent pair once, with the words where it occurs.
  for (std::size_t w = 0; w < len_.size(); ++w) {
    const int32_t* s = sym_.data() + offset_[w];
    for (std::size_t i = 0; i + 1 < len_[w]; ++i)
      add_(key_(s[i], s[i + 1]), +1, static_cast<int32_t>(w));
  }
  push_new_();

  while (id_to_token.size() < vocab_size && !heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), lower_);
    Entry top = std::move(heap_.back());
    heap_.pop_back();
    const int64_t current = pair_count_[top.pair];
    if (top.count != current) {  // stale: re-queue with today's count (or drop a dead pair)
      if (current > 0) {
        top.count = current;
        heap_.push_back(std::move(top));
        std::push_heap(heap_.begin(), heap_.end(), lower_);
      }
      continue;
    }
    if (top.count < 1 || top.count < min_frequency) break;

    const int32_t a = static_cast<int32_t>(top.pair >> 32);
    const int32_t b = static_cast<int32_t>(top.pair & 0xFFFFFFFFu);
    std::string token = id_to_token[static_cast<std::size_t>(a)];
    const std::string& right = id_to_token[static_cast<std::size_t>(b)];
    const std::size_t skip = right.compare(0, prefix.size(), prefix) == 0 ? prefix.size() : 0;
    token.append(right, skip, std::string::npos);
    auto [it, fresh] = token_to_id.try_emplace(token, static_cast<int32_t>(id_to_token.size()));
    if (fresh) id_to_token.push_back(token);
    const int32_t merged = it->second;
    ++stats.num_merges;
    stats.last_merge_count = top.count;

    for (int32_t w : top.words) merge_word_(w, a, b, merged);
    push_new_();
  }
}

}  // namespace detail

inline WordPieceTrainer::WordPieceTrainer(WordPieceTrainerOptions options)
    : options_(std::move(options)) {
  for (const std::string& t : options_.special_tokens()) {
    EMBER_CHECK(!t.empty() && t.find_first_of("\r\n") == std::string::npos,
                "WordPieceTrainer: special token '", t,
                "' must be non-empty and hold no line break (vocab.txt has one token per line)");
  }
  EMBER_CHECK(!options_.continuing_subword_prefix().empty(),
              "WordPieceTrainer: continuing_subword_prefix must not be empty (BERT uses \"##\")");
}

inline void WordPieceTrainer::feed(std::string_view text) {
  ++num_texts_;
  const std::size_t bad = detail::invalid_utf8_offset(text);
  if (bad != std::string_view::npos) {
    static const char* hex = "0123456789ABCDEF";
    const unsigned char byte = static_cast<unsigned char>(text[bad]);
    EMBER_FAIL("WordPieceTrainer::feed: text ", num_texts_, " (counting from 1): byte 0x",
               hex[byte >> 4], hex[byte & 15], " at offset ", bad,
               " is not valid UTF-8; the texts must be UTF-8");
  }
  cps_.clear();
  detail::utf8_decode(text, cps_);
  norm_.clear();
  detail::bert_normalize(cps_.data(), cps_.data() + cps_.size(), options_.lowercase(),
                         options_.strip_accents().value_or(options_.lowercase()),
                         options_.tokenize_chinese_chars(), norm_, tmp_);
  detail::for_each_bert_word(norm_.data(), norm_.data() + norm_.size(),
                             [&](const char32_t* b, const char32_t* e) {
                               word_.clear();
                               for (const char32_t* p = b; p != e; ++p)
                                 detail::utf8_append(*p, word_);
                               ++word_counts_[word_];
                               ++num_words_;
                             });
}

inline void WordPieceTrainer::feed_files(const std::vector<std::string>& paths) {
  TextCorpusReader reader(paths);  // line by line; blank lines hold no words anyway
  std::string line;
  while (reader.next(line)) feed(line);
}

inline const std::vector<std::string>& WordPieceTrainer::train(
    const std::vector<std::string>& paths) {
  feed_files(paths);
  return train();
}

template <class It>
const std::vector<std::string>& WordPieceTrainer::train_from_iterator(It first, It last) {
  for (; first != last; ++first) feed(std::string_view(*first));
  return train();
}

inline const std::vector<std::string>& WordPieceTrainer::train() {
  EMBER_CHECK(!word_counts_.empty(), "WordPieceTrainer::train: the corpus holds no words (",
              num_texts_, " texts fed, all empty after normalization): nothing to train on");
  const std::string& prefix = options_.continuing_subword_prefix();
  stats_ = WordPieceTrainerStats();
  stats_.num_texts = num_texts_;
  stats_.num_words = num_words_;
  stats_.num_unique_words = static_cast<int64_t>(word_counts_.size());

  // The words in byte order (so that training does not depend on hash order), as code points.
  std::vector<std::pair<const std::string*, int64_t>> words;
  words.reserve(word_counts_.size());
  for (const auto& [w, c] : word_counts_) words.emplace_back(&w, c);
  std::sort(words.begin(), words.end(),
            [](const auto& x, const auto& y) { return *x.first < *y.first; });
  std::vector<char32_t> chars;  // all words' code points, word w at [char_offset[w], [w + 1])
  std::vector<std::size_t> char_offset{0};
  for (const auto& word : words) {
    detail::utf8_decode(*word.first, chars);
    char_offset.push_back(chars.size());
  }

  // The alphabet: characters weighted by word count, the limit_alphabet most frequent kept
  // (ties: the smaller code point), initial_alphabet always; then sorted by code point.
  std::unordered_map<char32_t, int64_t> char_count;
  for (std::size_t w = 0; w < words.size(); ++w) {
    for (std::size_t k = char_offset[w]; k < char_offset[w + 1]; ++k)
      char_count[chars[k]] += words[w].second;
  }
  stats_.num_characters = static_cast<int64_t>(char_count.size());
  std::vector<char32_t> initial;
  detail::utf8_decode(options_.initial_alphabet(), initial);
  for (char32_t c : initial) char_count[c] = std::numeric_limits<int64_t>::max();
  std::vector<std::pair<char32_t, int64_t>> alphabet(char_count.begin(), char_count.end());
  std::sort(alphabet.begin(), alphabet.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  if (options_.limit_alphabet() > 0 && alphabet.size() > options_.limit_alphabet())
    alphabet.resize(options_.limit_alphabet());
  std::sort(alphabet.begin(), alphabet.end());
  stats_.alphabet_size = static_cast<int64_t>(alphabet.size());

  // The vocabulary so far: special tokens, alphabet, "##c" continuation characters.
  std::vector<std::string> id_to_token;
  std::unordered_map<std::string, int32_t> token_to_id;
  auto add_token = [&](const std::string& t) {
    auto [it, fresh] = token_to_id.try_emplace(t, static_cast<int32_t>(id_to_token.size()));
    if (fresh) id_to_token.push_back(t);
    return it->second;
  };
  for (const std::string& t : options_.special_tokens()) add_token(t);
  std::unordered_map<char32_t, int32_t> first_id, next_id;  // c → id of "c" / of "##c"
  std::string piece;
  for (const auto& entry : alphabet) {
    piece.clear();
    detail::utf8_append(entry.first, piece);
    first_id[entry.first] = add_token(piece);
  }
  std::vector<char32_t> continuation;
  for (std::size_t w = 0; w < words.size(); ++w) {
    for (std::size_t k = char_offset[w] + 1; k < char_offset[w + 1]; ++k) {
      if (first_id.count(chars[k])) continuation.push_back(chars[k]);
    }
  }
  std::sort(continuation.begin(), continuation.end());
  continuation.erase(std::unique(continuation.begin(), continuation.end()), continuation.end());
  for (char32_t c : continuation) {
    piece = prefix;
    detail::utf8_append(c, piece);
    next_id[c] = add_token(piece);
  }
  stats_.num_continuation_tokens = static_cast<int64_t>(continuation.size());
  EMBER_CHECK(id_to_token.size() <= options_.vocab_size(), "WordPieceTrainer::train: vocab_size ",
              options_.vocab_size(), " is smaller than the ", id_to_token.size(),
              " tokens every vocabulary of this corpus needs (", options_.special_tokens().size(),
              " special tokens, ", alphabet.size(), " alphabet characters, ", continuation.size(),
              " '", prefix,
              "' continuation characters); raise vocab_size or lower limit_alphabet (Hugging "
              "Face's trainer would silently return those ",
              id_to_token.size(), " tokens)");

  // Each word as ids; characters outside the alphabet are dropped, as HF does.
  std::vector<int32_t> symbols;
  symbols.reserve(chars.size());
  std::vector<std::size_t> offset, length;
  std::vector<int64_t> counts;
  offset.reserve(words.size());
  length.reserve(words.size());
  counts.reserve(words.size());
  for (std::size_t w = 0; w < words.size(); ++w) {
    offset.push_back(symbols.size());
    for (std::size_t k = char_offset[w]; k < char_offset[w + 1]; ++k) {
      const auto& ids = k == char_offset[w] ? first_id : next_id;
      auto it = ids.find(chars[k]);
      if (it != ids.end()) symbols.push_back(it->second);
    }
    length.push_back(symbols.size() - offset.back());
    counts.push_back(words[w].second);
  }
  chars = std::vector<char32_t>();

  detail::WordPieceMerger merger(symbols, std::move(offset), std::move(length), std::move(counts));
  merger.run(id_to_token, token_to_id, options_.vocab_size(), options_.min_frequency(), prefix,
             stats_);
  vocab_ = std::move(id_to_token);
  return vocab_;
}

inline void WordPieceTrainer::save(const std::string& vocab_path) const {
  EMBER_CHECK(!vocab_.empty(), "WordPieceTrainer::save: call train() first");
  // io::AtomicFileWriter lives in a higher layer (io); this is its temp-then-rename, unfsynced.
  const std::string tmp = vocab_path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    EMBER_CHECK(out.good(), "WordPieceTrainer::save: cannot write '", vocab_path,
                "': cannot create the temporary file '", tmp, "'");
    for (const std::string& t : vocab_) out << t << '\n';
    out.flush();
    if (!out.good()) {
      out.close();
      std::remove(tmp.c_str());
      EMBER_FAIL("WordPieceTrainer::save: cannot write '", vocab_path, "': writing '", tmp,
                 "' failed (disk full?); the previous file, if any, is unchanged");
    }
  }
  if (std::rename(tmp.c_str(), vocab_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    EMBER_FAIL("WordPieceTrainer::save: cannot write '", vocab_path, "': renaming '", tmp,
               "' over it failed");
  }
}

inline WordPieceTokenizer WordPieceTrainer::tokenizer() const {
  EMBER_CHECK(!vocab_.empty(), "WordPieceTrainer::tokenizer: call train() first");
  EMBER_CHECK(options_.continuing_subword_prefix() == "##",
              "WordPieceTrainer::tokenizer: WordPieceTokenizer reads the prefix \"##\" only; this "
              "vocabulary was trained with \"",
              options_.continuing_subword_prefix(), "\"");
  return WordPieceTokenizer(vocab_, options_.tokenizer_options());
}

inline WordPieceTrainer train_wordpiece_vocab(const std::vector<std::string>& files,
                                              const std::string& vocab_path,
                                              WordPieceTrainerOptions options) {
  WordPieceTrainer trainer(std::move(options));
  trainer.train(files);
  trainer.save(vocab_path);
  return trainer;
}

}  // namespace ember::data
