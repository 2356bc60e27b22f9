// ember/data/bpe_tokenizer.hpp — GPT-2 / RoBERTa byte-level BPE: UTF-8 text → token ids + offsets.
//
// What it computes. The output of Hugging Face `tokenizers` (0.23) for a byte-level BPE tokenizer
// — a BPE model with the ByteLevel pre-tokenizer and decoder, as GPT-2 and RoBERTa use — and of
// transformers' `RobertaTokenizerFast` built on it:
//   1. added tokens (<s> </s> <pad> <unk> <mask>, or the `added_tokens` of a tokenizer.json) are
//      cut out of the raw text first, leftmost-longest, exactly as spelled (tokenizers'
//      AddedVocabulary: the non-normalized tokens first, then the normalized ones in what is
//      left); a token with lstrip / rstrip also swallows the whitespace before / after it
//      (RoBERTa's <mask> has lstrip: "a <mask>" → "a", "<mask>");
//   2. each remaining piece gets a space in front when add_prefix_space (and it does not start
//      with one), then is split by GPT-2's pattern (encoder.py, and tokenizers' ByteLevel
//      pre-tokenizer)
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      implemented by hand over code points (detail::for_each_gpt2_word): \p{L} and \p{N} are
//      utf8proc's general categories L* and N*, \s is Unicode White_Space (Oniguruma's \s, which
//      tokenizers uses, is the same set); the contractions are case-sensitive ("'S" is "'", "S");
//   3. the UTF-8 bytes of each word are mapped to printable characters by GPT-2's
//      bytes_to_unicode (' ' → 'Ġ', '\n' → 'Ċ') and merged by BPE: repeatedly the adjacent pair
//      whose merge has the lowest rank (its line in merges.txt), the leftmost on a tie — the
//      priority-queue loop of tokenizers' BPE model (models/bpe/word.rs). Results are cached
//      per word (at most cache_capacity words, as tokenizers' 10,000-entry cache);
//   4. the post-processor: RobertaProcessing (<s> A </s>, <s> A </s></s> B </s>, token type ids
//      all 0) or, for GPT-2, ByteLevel (nothing added); with trim_offsets the whitespace at the
//      start/end of a token is left out of its offsets (tokenizers' process_offsets).
// Truncation is tokenizers' (longest_first for pairs: data::truncate_pair), padding on the right
// with <pad>. decode() is the ByteLevel decoder: characters → bytes → UTF-8, ill-formed
// sequences replaced by U+FFFD as Rust's from_utf8_lossy and Python's errors="replace" do.
//
// Offsets are BYTE offsets [begin, end) into the UTF-8 text of the token's own sequence (for a
// pair, the tokens of B point into B). Hugging Face reports character offsets in Python; the
// fixture script converts them. A token holding part of a multi-byte character (an emoji split
// into byte tokens) covers that whole character, as in tokenizers. Tokens added by the
// post-processor get (0, 0).
//
// The added-token search, EncodingWithOffsets (BPEEncoding), padding and file reading are shared
// with UnigramTokenizer in added_tokens.hpp.
//
// Sources: GPT-2's encoder.py (bytes_to_unicode, the pattern, bpe()), Hugging Face tokenizers
// (pre_tokenizers/byte_level.rs, models/bpe/model.rs and word.rs, processors/roberta.rs,
// tokenizer/added_vocabulary.rs, decoders ByteLevel). The parity fixture
// tests/data/bpe_tiny/golden.jsonl (tools/gen_bpe_tokenizer_fixture.py) holds the reference
// outputs; tests/text/test_bpe_tokenizer.cpp checks every line, loading both from
// vocab.json + merges.txt and from tokenizer.json.
//
// Invalid UTF-8. Input bytes are decoded as Python's `bytes.decode("utf-8", errors="replace")`
// does (data::detail::utf8_decode): each maximal ill-formed subsequence becomes one U+FFFD,
// which is then tokenized as the three bytes EF BF BD — what Hugging Face gives for the replaced
// Python string. Its offsets cover the ill-formed bytes. Never throws, never reads out of bounds.
//
// Errors: ember::Error for a missing, unreadable or malformed vocab.json, merges.txt or
// tokenizer.json (the message names the file and what was expected and found), a merge whose
// parts or result are not in the vocabulary, a tokenizer.json whose model is not BPE or whose
// pipeline has a part this class does not implement (a normalizer, another pre-tokenizer,
// dropout, subword prefixes, byte fallback), a RoBERTa post-processor without its <s>/</s>
// tokens, an id out of range, a max_length too small for the special tokens, and padding
// without a pad token.
#pragma once

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>
#include <ember/data/added_tokens.hpp>  // AddedToken, EncodingWithOffsets, padding, UTF-8 offsets
#include <ember/data/wordpiece_tokenizer.hpp>  // Encoding, BatchEncoding, Padding, truncate_pair, UTF-8

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ember::data {

// ---------------------------------------------------------------------------------------------
// Synopsis
// ---------------------------------------------------------------------------------------------

/// How a ByteLevelBPETokenizer built from vocab.json + merges.txt is configured; the defaults are
/// RoBERTa's (`RobertaTokenizerFast`). A tokenizer.json carries its own settings instead.
struct ByteLevelBPETokenizerOptions {
  /// A space in front of every piece of text that does not start with one ("hello" → "Ġhello").
  EMBER_ARG(bool, add_prefix_space) = false;
  /// Leave the whitespace at the start/end of a token out of its offsets.
  EMBER_ARG(bool, trim_offsets) = true;
  /// true: RobertaProcessing (<s> A </s></s> B </s>); false: GPT-2's ByteLevel (nothing added).
  EMBER_ARG(bool, roberta_processing) = true;
  EMBER_ARG(std::string, bos_token) = "<s>";   // also the classifier token
  EMBER_ARG(std::string, eos_token) = "</s>";  // also the separator
  EMBER_ARG(std::string, unk_token) = "<unk>";
  EMBER_ARG(std::string, pad_token) = "<pad>";
  EMBER_ARG(std::string, mask_token) = "<mask>";  // matched with lstrip, as RoBERTa's
  /// Words whose BPE result is kept (0: no cache).
  EMBER_ARG(std::size_t, cache_capacity) = 10000;
};

/// The shared types (added_tokens.hpp), under the names this header introduced first.
using BPEAddedToken = AddedToken;
using BPEEncoding = EncodingWithOffsets;

class ByteLevelBPETokenizer {
 public:
  /// The legacy files: vocab.json ({"token": id, ...}) and merges.txt ("a b" per line, an optional
  /// first line "#version..."; the line number is the merge's rank). The options' special tokens
  /// that are in the vocabulary become special added tokens (<mask> with lstrip).
  ByteLevelBPETokenizer(const std::string& vocab_json_path, const std::string& merges_txt_path,
                        ByteLevelBPETokenizerOptions options = {});
  /// A Hugging Face tokenizer.json with a BPE model and a ByteLevel pre-tokenizer: model.vocab,
  /// model.merges ("a b" strings or ["a", "b"] pairs), added_tokens, and the RobertaProcessing /
  /// ByteLevel settings. `options` gives only the pad/unk/mask token names and cache_capacity.
  static ByteLevelBPETokenizer from_tokenizer_json(const std::string& path,
                                                   ByteLevelBPETokenizerOptions options = {});
  /// dir/tokenizer.json when present, else dir/vocab.json + dir/merges.txt configured by
  /// dir/tokenizer_config.json (add_prefix_space, trim_offsets) when present.
  static ByteLevelBPETokenizer from_pretrained(const std::string& dir);

  /// The tokens (byte-level strings, "Ġhello") of text, without special tokens added.
  std::vector<std::string> tokenize(std::string_view text) const;

  /// <s> text </s> (RoBERTa) or the tokens alone (GPT-2). max_length > 0 truncates so the whole
  /// fits (0: no truncation). Offsets are byte offsets into text.
  BPEEncoding encode(std::string_view text, std::size_t max_length = 0,
                     bool add_special_tokens = true) const;
  /// <s> a </s></s> b </s>, truncated longest_first to max_length (0: no truncation); offsets of
  /// b's tokens are byte offsets into b. An empty text_b means "no pair", as in transformers.
  BPEEncoding encode(std::string_view text_a, std::string_view text_b, std::size_t max_length = 0,
                     bool add_special_tokens = true) const;
  /// Encodes each text and pads with <pad> (mask 0) on the right: to the longest row, or to
  /// max_length (required > 0 then). max_length > 0 also truncates.
  BatchEncoding encode_batch(const std::vector<std::string>& texts, std::size_t max_length = 0,
                             Padding padding = Padding::longest) const;
  /// Pairs; texts_a and texts_b must have the same size. An empty b still makes a pair here
  /// (<s> a </s></s></s>), as transformers does for lists.
  BatchEncoding encode_batch(const std::vector<std::string>& texts_a,
                             const std::vector<std::string>& texts_b, std::size_t max_length = 0,
                             Padding padding = Padding::longest) const;

  /// The ByteLevel decoder: tokens → bytes → UTF-8 (ill-formed bytes → U+FFFD).
  /// skip_special_tokens drops the special added tokens. Throws ember::Error on an id outside
  /// [0, vocab_size()) or one that names no token.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;

  /// The id of token, or unk_token_id() (-1 when there is no unknown token) when absent.
  int64_t token_to_id(std::string_view token) const;
  bool contains(std::string_view token) const;
  /// Throws ember::Error when id is outside [0, vocab_size()) or names no token.
  const std::string& id_to_token(int64_t id) const;
  /// One more than the largest id (the model's vocabulary and the added tokens).
  std::size_t vocab_size() const { return id_to_token_.size(); }

  /// -1 when the tokenizer has no such token.
  int64_t bos_token_id() const { return bos_id_; }
  int64_t eos_token_id() const { return eos_id_; }
  int64_t unk_token_id() const { return unk_id_; }
  int64_t pad_token_id() const { return pad_id_; }
  int64_t mask_token_id() const { return mask_id_; }
  bool is_special_id(int64_t id) const;
  const std::vector<BPEAddedToken>& added_tokens() const { return added_.tokens(); }
  bool add_prefix_space() const { return add_prefix_space_; }
  bool trim_offsets() const { return trim_offsets_; }
  bool roberta_processing() const { return roberta_; }

 private:
  static constexpr const char* kWho = "ByteLevelBPETokenizer";  // starts error messages
  static ByteLevelBPETokenizer from_tokenizer_json_(const std::string& path,
                                                    ByteLevelBPETokenizerOptions options);
  ByteLevelBPETokenizer() = default;
  struct Tok;  // a token with character offsets, before the post-processor
  struct Seq;  // the tokens of one text and its character → byte table
  struct Cache;
  struct BpeOptions {  // the BPE model's settings that tokenizer.json may set
    bool ignore_merges = false;
    bool fuse_unk = false;
    std::string unk_token;  // "" = none: characters not in the vocabulary are dropped
  };

  void set_vocab_(std::unordered_map<std::string, int64_t> vocab, const std::string& source);
  void set_merges_(const std::vector<std::pair<std::string, std::string>>& merges,
                   const std::string& source);
  void finish_(const ByteLevelBPETokenizerOptions& options);
  Seq encode_seq_(std::string_view text) const;
  void piece_tokens_(const std::u32string& text, std::size_t begin, std::size_t end,
                     std::vector<Tok>& out) const;
  void bpe_word_(const std::string& bytes, std::vector<std::pair<int32_t, uint32_t>>& out) const;
  void trim_(std::vector<Tok>& toks) const;
  BPEEncoding build_(Seq& a, Seq* b, std::size_t max_length, bool add_special_tokens) const;

  std::unordered_map<std::string, int32_t> token_to_id_;  // the model's vocabulary + added
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;  // ids that name a token (a vocabulary may have holes)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (a, b) → (rank, id)
  std::array<int32_t, 256> byte_id_{};  // id of the one-byte token of each byte, -1 if none
  BpeOptions bpe_;
  int32_t bpe_unk_id_ = -1;
  AddedVocabulary added_;
  std::vector<bool> special_id_;
  bool add_prefix_space_ = false, trim_offsets_ = true, pp_add_prefix_space_ = false;
  bool roberta_ = true;
  int64_t bos_id_ = -1, eos_id_ = -1, unk_id_ = -1, pad_id_ = -1, mask_id_ = -1;
  std::shared_ptr<Cache> cache_;  // shared by copies: the tokenizer is immutable
};

// ---------------------------------------------------------------------------------------------
// Character classes and the byte ↔ character map. Public for tests; not part of the stable API.
// ---------------------------------------------------------------------------------------------
namespace detail {

/// GPT-2's bytes_to_unicode: the printable bytes '!'..'~', '¡'..'¬', '®'..'ÿ' stand for
/// themselves, the other 68 bytes for U+0100 + n in byte order (' ' → 'Ġ' U+0120).
inline const std::array<char32_t, 256>& byte_to_char() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : 0x100 + n++;
    }
    return t;
  }();
  return table;
}

/// The inverse of byte_to_char: the byte of c, or -1 when c stands for no byte.
inline int char_to_byte(char32_t c) {
  static const std::array<int16_t, 0x144> table = [] {
    std::array<int16_t, 0x144> t{};
    t.fill(-1);
    const auto& fwd = byte_to_char();
    for (int b = 0; b < 256; ++b) t[fwd[static_cast<std::size_t>(b)]] = static_cast<int16_t>(b);
    return t;
  }();
  return c < table.size() ? table[c] : -1;
}

/// The byte-level string ("Ġhello") of raw bytes.
inline std::string bytes_to_token(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) utf8_append(byte_to_char()[b], out);
  return out;
}

/// The pre-tokenizer's classes: L (\p{L}), N (\p{N}), W (\s), O (anything else).
enum class Gpt2Class : char { letter = 'L', number = 'N', space = 'W', other = 'O' };

/// Where tokenizers' Unicode data (Oniguruma's, Unicode 16) and utf8proc's (2.8: Unicode 15)
/// disagree: the class tokenizers gives, whatever utf8proc says. Generated by
/// `tools/gen_bpe_tokenizer_fixture.py --class-overrides`; the sweep test
/// (tests/data/bpe_tiny/unicode_sweep.json) checks every code point. No whitespace differs.
struct Gpt2ClassRange {
  char32_t first, last;
  Gpt2Class cls;
};
inline constexpr Gpt2ClassRange kGpt2ClassOverrides[] = {
    // 5004 code points in 29 ranges
    {0x1C89, 0x1C8A, Gpt2Class::letter},   {0xA7CB, 0xA7CD, Gpt2Class::letter},
    {0xA7DA, 0xA7DC, Gpt2Class::letter},   {0x105C0, 0x105F3, Gpt2Class::letter},
    {0x10D40, 0x10D49, Gpt2Class::number}, {0x10D4A, 0x10D65, Gpt2Class::letter},
    {0x10D6F, 0x10D85, Gpt2Class::letter}, {0x10EC2, 0x10EC4, Gpt2Class::letter},
    {0x11380, 0x11389, Gpt2Class::letter}, {0x1138B, 0x1138B, Gpt2Class::letter},
    {0x1138E, 0x1138E, Gpt2Class::letter}, {0x11390, 0x113B5, Gpt2Class::letter},
    {0x113B7, 0x113B7, Gpt2Class::letter}, {0x113D1, 0x113D1, Gpt2Class::letter},
    {0x113D3, 0x113D3, Gpt2Class::letter}, {0x116D0, 0x116E3, Gpt2Class::number},
    {0x11BC0, 0x11BE0, Gpt2Class::letter}, {0x11BF0, 0x11BF9, Gpt2Class::number},
    {0x13460, 0x143FA, Gpt2Class::letter}, {0x16100, 0x1611D, Gpt2Class::letter},
    {0x16130, 0x16139, Gpt2Class::number}, {0x16D40, 0x16D6C, Gpt2Class::letter},
    {0x16D70, 0x16D79, Gpt2Class::number}, {0x18CFF, 0x18CFF, Gpt2Class::letter},
    {0x1CCF0, 0x1CCF9, Gpt2Class::number}, {0x1E5D0, 0x1E5ED, Gpt2Class::letter},
    {0x1E5F0, 0x1E5F0, Gpt2Class::letter}, {0x1E5F1, 0x1E5FA, Gpt2Class::number},
    {0x2EBF0, 0x2EE5D, Gpt2Class::letter},
};

inline Gpt2Class gpt2_class(char32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return Gpt2Class::letter;
    if (cp >= '0' && cp <= '9') return Gpt2Class::number;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return Gpt2Class::space;
    return Gpt2Class::other;
  }
  if (is_whitespace(cp)) return Gpt2Class::space;
  if (cp >= kGpt2ClassOverrides[0].first) {
    const auto* end = std::end(kGpt2ClassOverrides);
    const auto* it =
        std::lower_bound(std::begin(kGpt2ClassOverrides), end, cp,
                         [](const Gpt2ClassRange& r, char32_t c) { return r.last < c; });
    if (it != end && it->first <= cp) return it->cls;
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return Gpt2Class::letter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return Gpt2Class::number;
    default:
      return Gpt2Class::other;
  }
}

/// GPT-2's pattern over code points [0, n) of `cps`:
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// calls on_word(begin, end) for each match, in order; the matches cover the whole range.
template <class F>
inline void for_each_gpt2_word(const char32_t* cps, std::size_t n, F&& on_word) {
  std::size_t i = 0;
  auto run = [&](std::size_t from, Gpt2Class c) {
    while (from < n && gpt2_class(cps[from]) == c) ++from;
    return from;
  };
  while (i < n) {
    const char32_t c = cps[i];
    std::size_t j = 0;
    // 's 't 're 've 'm 'll 'd (case-sensitive)
    if (c == '\'' && i + 1 < n) {
      const char32_t c1 = cps[i + 1];
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        j = i + 2;
      } else if (i + 2 < n) {
        const char32_t c2 = cps[i + 2];
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
          j = i + 3;
      }
    }
    if (j == 0) {
      // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional ' ' then a run of one class
      const std::size_t k = (c == ' ' && i + 1 < n) ? i + 1 : i;
      const Gpt2Class cls = gpt2_class(cps[k]);
      if (cls != Gpt2Class::space) {
        j = run(k, cls);
      } else {
        // `\s+(?!\S)`: the whitespace run, less its last character when a non-space follows
        // (and the run is longer than one); else `\s+`.
        const std::size_t e = run(i, Gpt2Class::space);
        j = (e < n && e - i >= 2) ? e - 1 : e;
      }
    }
    on_word(i, j);
    i = j;
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------------------------

struct ByteLevelBPETokenizer::Tok {
  int32_t id;
  std::size_t begin, end;  // character offsets into the sequence
  uint32_t lead, trail;    // leading / trailing spaces of the token's value (for trim_offsets)
};

struct ByteLevelBPETokenizer::Seq {
  std::vector<Tok> toks;
  std::vector<std::size_t> starts;  // byte offset of each character of the text, + the end
};

struct ByteLevelBPETokenizer::Cache {
  std::shared_mutex mutex;
  std::unordered_map<std::string, std::vector<std::pair<int32_t, uint32_t>>> words;
  std::size_t capacity = 0;
};

namespace detail {

/// {"token": id, ...} → map, checking every value is a non-negative integer.
inline std::unordered_map<std::string, int64_t> vocab_from_json(const nlohmann::json& j,
                                                                const std::string& source) {
  EMBER_CHECK(j.is_object(), "ByteLevelBPETokenizer: ", source,
              ": expected the vocabulary as an object {\"token\": id, ...}, found ", j.type_name());
  std::unordered_map<std::string, int64_t> vocab;
  vocab.reserve(j.size());
  for (const auto& [tok, id] : j.items()) {
    EMBER_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 &&
                    id.get<int64_t>() < std::numeric_limits<int32_t>::max(),
                "ByteLevelBPETokenizer: ", source, ": the id of token '", tok,
                "' should be a non-negative integer, found ", id.dump());
    vocab[tok] = id.get<int64_t>();
  }
  return vocab;
}

inline std::pair<std::string, std::string> split_merge_line(std::string_view line,
                                                            const std::string& source,
                                                            std::size_t line_no) {
  const std::size_t sp = line.find(' ');
  EMBER_CHECK(sp != std::string_view::npos && sp > 0 && sp + 1 < line.size() &&
                  line.find(' ', sp + 1) == std::string_view::npos,
              "ByteLevelBPETokenizer: ", source, ", merge ", line_no,
              ": expected two tokens separated by one space, found '", std::string(line), "'");
  return {std::string(line.substr(0, sp)), std::string(line.substr(sp + 1))};
}

}  // namespace detail

inline ByteLevelBPETokenizer::ByteLevelBPETokenizer(const std::string& vocab_json_path,
                                                    const std::string& merges_txt_path,
                                                    ByteLevelBPETokenizerOptions options) {
  set_vocab_(detail::vocab_from_json(
                 detail::parse_tokenizer_json_file(vocab_json_path, kWho, "vocabulary file"),
                 "vocabulary file '" + vocab_json_path + "'"),
             "vocabulary file '" + vocab_json_path + "'");
  const std::string text = detail::read_tokenizer_file(merges_txt_path, kWho, "merges file");
  std::vector<std::pair<std::string, std::string>> merges;
  std::size_t pos = 0, line_no = 0;
  const std::string source = "merges file '" + merges_txt_path + "'";
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;                    // blank lines (a trailing newline) are skipped
    if (line.rfind("#version", 0) == 0) continue;  // as tokenizers' BPE::read_file
    merges.push_back(detail::split_merge_line(line, source, line_no));
  }
  set_merges_(merges, source);
  add_prefix_space_ = pp_add_prefix_space_ = options.add_prefix_space();
  trim_offsets_ = options.trim_offsets();
  roberta_ = options.roberta_processing();
  // The special tokens RobertaTokenizerFast registers, where the vocabulary has them.
  for (const std::string* t : {&options.bos_token(), &options.pad_token(), &options.eos_token(),
                               &options.unk_token(), &options.mask_token()}) {
    auto it = token_to_id_.find(*t);
    if (t->empty() || it == token_to_id_.end()) continue;
    BPEAddedToken a;
    a.content = *t;
    a.id = it->second;
    a.lstrip = t == &options.mask_token();
    added_.add(std::move(a));
  }
  finish_(options);
}

// A field of the wrong JSON type deep inside the file (e.g. "lstrip": "yes") surfaces from
// nlohmann as a type_error: turned into an ember::Error naming the file.
inline ByteLevelBPETokenizer ByteLevelBPETokenizer::from_tokenizer_json(const std::string& path, ByteLevelBPETokenizerOptions options) {
  try {
    return from_tokenizer_json_(path, std::move(options));
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL(kWho, ": tokenizer file '", path, "': a field has the wrong type or value (",
               e.what(), ")");
  }
}

inline ByteLevelBPETokenizer ByteLevelBPETokenizer::from_tokenizer_json_(
    const std::string& path, ByteLevelBPETokenizerOptions options) {
  using nlohmann::json;
  const json j = detail::parse_tokenizer_json_file(path, kWho, "tokenizer file");
  const std::string where = "tokenizer file '" + path + "'";
  EMBER_CHECK(j.is_object() && j.contains("model") && j["model"].is_object(),
              "ByteLevelBPETokenizer: ", where, ": expected an object with a \"model\"");
  const json& model = j["model"];
  const std::string type = model.value("type", std::string(model.contains("merges") ? "BPE" : "?"));
  EMBER_CHECK(type == "BPE", "ByteLevelBPETokenizer: ", where,
              ": expected a BPE model, found model type '", type, "'");
  auto is_null_or = [](const json& o, const char* key, auto ok) {
    return !o.contains(key) || o[key].is_null() || ok(o[key]);
  };
  EMBER_CHECK(is_null_or(model, "dropout", [](const json& v) { return v == 0.0; }),
              "ByteLevelBPETokenizer: ", where, ": BPE dropout is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    EMBER_CHECK(is_null_or(model, key, [](const json& v) { return v == ""; }),
                "ByteLevelBPETokenizer: ", where, ": model.", key, " ",
                model.contains(key) ? model[key].dump() : "", " is not supported");
  }
  EMBER_CHECK(is_null_or(model, "byte_fallback", [](const json& v) { return v == false; }),
              "ByteLevelBPETokenizer: ", where, ": byte_fallback is not supported");
  EMBER_CHECK(!j.contains("normalizer") || j["normalizer"].is_null(),
              "ByteLevelBPETokenizer: ", where, ": expected no normalizer, found ",
              j["normalizer"].dump().substr(0, 80));
  const json pre = j.value("pre_tokenizer", json());
  EMBER_CHECK(
      pre.is_object() && pre.value("type", "") == "ByteLevel" && pre.value("use_regex", true),
      "ByteLevelBPETokenizer: ", where,
      ": expected a ByteLevel pre-tokenizer (use_regex true), found ", pre.dump().substr(0, 120));

  ByteLevelBPETokenizer tok;
  EMBER_CHECK(model.contains("vocab"), "ByteLevelBPETokenizer: ", where, ": model has no vocab");
  tok.set_vocab_(detail::vocab_from_json(model["vocab"], where + ", model.vocab"),
                 where + ", model.vocab");
  std::vector<std::pair<std::string, std::string>> merges;
  const json merges_j = model.value("merges", json::array());
  EMBER_CHECK(merges_j.is_array(), "ByteLevelBPETokenizer: ", where,
              ": expected model.merges to be an array, found ", merges_j.type_name());
  for (std::size_t k = 0; k < merges_j.size(); ++k) {
    const json& m = merges_j[k];
    if (m.is_string()) {
      merges.push_back(detail::split_merge_line(m.get<std::string>(), where, k + 1));
    } else {
      EMBER_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(),
                  "ByteLevelBPETokenizer: ", where, ", merge ", k + 1,
                  ": expected \"a b\" or [\"a\", \"b\"], found ", m.dump());
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    }
  }
  tok.bpe_.ignore_merges = model.value("ignore_merges", false);
  tok.bpe_.fuse_unk = model.value("fuse_unk", false);
  if (model.contains("unk_token") && model["unk_token"].is_string())
    tok.bpe_.unk_token = model["unk_token"].get<std::string>();

  // Added tokens: they may extend the vocabulary with new ids.
  for (BPEAddedToken& t : AddedVocabulary::parse(j.value("added_tokens", json::array()), kWho,
                                                 where, tok.id_to_token_.size())) {
    if (t.id >= static_cast<int64_t>(tok.id_to_token_.size())) {
      tok.id_to_token_.resize(static_cast<std::size_t>(t.id) + 1);
      tok.has_id_.resize(static_cast<std::size_t>(t.id) + 1, false);
    }
    tok.id_to_token_[static_cast<std::size_t>(t.id)] = t.content;
    tok.has_id_[static_cast<std::size_t>(t.id)] = true;
    tok.token_to_id_[t.content] = static_cast<int32_t>(t.id);
    tok.added_.add(std::move(t));
  }
  tok.set_merges_(merges, where);

  tok.add_prefix_space_ = pre.value("add_prefix_space", false);
  tok.pp_add_prefix_space_ = tok.add_prefix_space_;
  const json pp = j.value("post_processor", json());
  if (pp.is_null()) {
    tok.roberta_ = false;
    tok.trim_offsets_ = false;
  } else {
    const std::string pp_type = pp.value("type", "");
    if (pp_type == "RobertaProcessing") {
      tok.roberta_ = true;
      for (const char* key : {"cls", "sep"}) {
        EMBER_CHECK(
            pp.contains(key) && pp[key].is_array() && pp[key].size() == 2 && pp[key][0].is_string(),
            "ByteLevelBPETokenizer: ", where, ": post_processor.", key, " should be [token, id]");
      }
      options.bos_token(pp["cls"][0].get<std::string>());
      options.eos_token(pp["sep"][0].get<std::string>());
    } else if (pp_type == "ByteLevel") {
      tok.roberta_ = false;
    } else {
      EMBER_FAIL("ByteLevelBPETokenizer: ", where,
                 ": expected a RobertaProcessing or ByteLevel post-processor, found '", pp_type,
                 "'");
    }
    tok.trim_offsets_ = pp.value("trim_offsets", pp_type == "RobertaProcessing");
    tok.pp_add_prefix_space_ = pp.value("add_prefix_space", tok.add_prefix_space_);
  }
  tok.finish_(options);
  return tok;
}

inline ByteLevelBPETokenizer ByteLevelBPETokenizer::from_pretrained(const std::string& dir) {
  if (std::ifstream(dir + "/tokenizer.json").good())
    return from_tokenizer_json(dir + "/tokenizer.json");
  ByteLevelBPETokenizerOptions opt;
  const std::string config_path = dir + "/tokenizer_config.json";
  if (std::ifstream(config_path).good()) {
    const nlohmann::json j =
        detail::parse_tokenizer_json_file(config_path, kWho, "tokenizer config");
    if (j.is_object()) {
      if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean())
        opt.add_prefix_space(j["add_prefix_space"].get<bool>());
      if (j.contains("trim_offsets") && j["trim_offsets"].is_boolean())
        opt.trim_offsets(j["trim_offsets"].get<bool>());
    }
  }
  return ByteLevelBPETokenizer(dir + "/vocab.json", dir + "/merges.txt", std::move(opt));
}

inline void ByteLevelBPETokenizer::set_vocab_(std::unordered_map<std::string, int64_t> vocab,
                                              const std::string& source) {
  EMBER_CHECK(!vocab.empty(), "ByteLevelBPETokenizer: ", source, " is empty");
  int64_t max_id = 0;
  for (const auto& [t, id] : vocab) max_id = std::max(max_id, id);
  // Ids number the tokens from 0 (a few holes are tolerated): a stray huge id would otherwise
  // size the id → token table by itself.
  EMBER_CHECK(max_id < int64_t(vocab.size()) + 65536, "ByteLevelBPETokenizer: ", source,
              ": expected ids that number the ", vocab.size(), " tokens from 0, found id ",
              max_id);
  id_to_token_.assign(static_cast<std::size_t>(max_id) + 1, std::string());
  has_id_.assign(id_to_token_.size(), false);
  token_to_id_.reserve(vocab.size());
  for (auto& [t, id] : vocab) {
    EMBER_CHECK(!has_id_[static_cast<std::size_t>(id)], "ByteLevelBPETokenizer: ", source,
                ": tokens \"", id_to_token_[static_cast<std::size_t>(id)], "\" and \"", t,
                "\" have the same id ", id);
    token_to_id_[t] = static_cast<int32_t>(id);
    id_to_token_[static_cast<std::size_t>(id)] = t;
    has_id_[static_cast<std::size_t>(id)] = true;
  }
}

inline void ByteLevelBPETokenizer::set_merges_(
    const std::vector<std::pair<std::string, std::string>>& merges, const std::string& source) {
  merges_.reserve(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& a = merges[rank].first;
    const std::string& b = merges[rank].second;
    auto find = [&](const std::string& t) {
      auto it = token_to_id_.find(t);
      EMBER_CHECK(it != token_to_id_.end(), "ByteLevelBPETokenizer: ", source, ", merge ", rank + 1,
                  " ('", a, "' '", b, "'): '", t, "' is not in the vocabulary");
      return static_cast<uint32_t>(it->second);
    };
    const uint32_t ia = find(a), ib = find(b);
    const int32_t merged = static_cast<int32_t>(find(a + b));
    // A repeated merge keeps its last rank, as tokenizers' HashMap collect does.
    merges_[(uint64_t{ia} << 32) | ib] = {static_cast<int32_t>(rank), merged};
  }
}

inline void ByteLevelBPETokenizer::finish_(const ByteLevelBPETokenizerOptions& options) {
  const auto& b2c = detail::byte_to_char();
  for (int b = 0; b < 256; ++b) {
    std::string s;
    detail::utf8_append(b2c[static_cast<std::size_t>(b)], s);
    auto it = token_to_id_.find(s);
    byte_id_[static_cast<std::size_t>(b)] = it == token_to_id_.end() ? -1 : it->second;
  }
  if (!bpe_.unk_token.empty()) {
    auto it = token_to_id_.find(bpe_.unk_token);
    EMBER_CHECK(it != token_to_id_.end(), "ByteLevelBPETokenizer: the BPE unk_token '",
                bpe_.unk_token, "' is not in the vocabulary");
    bpe_unk_id_ = it->second;
  }
  auto find = [&](const std::string& t) -> int64_t {
    auto it = token_to_id_.find(t);
    return t.empty() || it == token_to_id_.end() ? -1 : it->second;
  };
  bos_id_ = find(options.bos_token());
  eos_id_ = find(options.eos_token());
  unk_id_ = find(options.unk_token());
  pad_id_ = find(options.pad_token());
  mask_id_ = find(options.mask_token());
  if (roberta_) {
    EMBER_CHECK(bos_id_ >= 0 && eos_id_ >= 0, "ByteLevelBPETokenizer: RobertaProcessing needs '",
                options.bos_token(), "' and '", options.eos_token(),
                "' in the vocabulary (use roberta_processing(false) for GPT-2)");
  }
  special_id_.assign(id_to_token_.size(), false);
  for (const auto& a : added_.tokens()) {
    if (a.special) special_id_[static_cast<std::size_t>(a.id)] = true;
  }
  cache_ = std::make_shared<Cache>();
  cache_->capacity = options.cache_capacity();
}

// -- encoding ----------------------------------------------------------------------------------

// Pre-tokenizes the plain text [begin, end) (prefix space, GPT-2 pattern), byte-maps and BPEs
// each word; appends tokens with character offsets.
inline void ByteLevelBPETokenizer::piece_tokens_(const std::u32string& text, std::size_t begin,
                                                 std::size_t end, std::vector<Tok>& out) const {
  if (begin == end) return;
  // The piece, with its prefix space; align[k] = the text character piece[k] stands for (the
  // added space stands for the first character, as NormalizedString::prepend aligns it).
  std::u32string piece;
  std::vector<std::size_t> align;
  if (add_prefix_space_ && text[begin] != ' ') {
    piece.push_back(' ');
    align.push_back(begin);
  }
  for (std::size_t k = begin; k < end; ++k) {
    piece.push_back(text[k]);
    align.push_back(k);
  }
  std::string bytes;
  std::vector<std::size_t> byte_char;  // piece character of each byte
  std::vector<std::pair<int32_t, uint32_t>> word_toks;
  detail::for_each_gpt2_word(piece.data(), piece.size(), [&](std::size_t wb, std::size_t we) {
    bytes.clear();
    byte_char.clear();
    for (std::size_t k = wb; k < we; ++k) {
      detail::utf8_append(piece[k], bytes);
      byte_char.resize(bytes.size(), k);
    }
    word_toks.clear();
    bpe_word_(bytes, word_toks);
    std::size_t pos = 0;
    for (const auto& [id, len] : word_toks) {
      const std::size_t first = align[byte_char[pos]], last = align[byte_char[pos + len - 1]];
      const std::string& value = id_to_token_[static_cast<std::size_t>(id)];
      // Leading / trailing 'Ġ' (U+0120, C4 A0) of the token's value, for trim_offsets.
      uint32_t lead = 0, trail = 0;
      while (value.compare(2 * lead, 2, "\xC4\xA0") == 0) ++lead;
      while (2 * (trail + 1) <= value.size() &&
             value.compare(value.size() - 2 * (trail + 1), 2, "\xC4\xA0") == 0)
        ++trail;
      out.push_back(Tok{id, first, last + 1, lead, trail});
      pos += len;
    }
  });
}

// BPE of one word's bytes: (id, number of bytes) per token. tokenizers' Word::merge_all without
// dropout: a min-heap of (rank, position); a popped merge is applied when both symbols are still
// there and still form that pair.
inline void ByteLevelBPETokenizer::bpe_word_(const std::string& bytes,
                                             std::vector<std::pair<int32_t, uint32_t>>& out) const {
  Cache& cache = *cache_;
  if (cache.capacity > 0) {
    std::shared_lock<std::shared_mutex> lock(cache.mutex);
    auto it = cache.words.find(bytes);
    if (it != cache.words.end()) {
      out = it->second;
      return;
    }
  }
  out.clear();
  if (bpe_.ignore_merges) {  // a word that is itself in the vocabulary is one token
    auto it = token_to_id_.find(detail::bytes_to_token(bytes));
    if (it != token_to_id_.end()) {
      out.emplace_back(it->second, static_cast<uint32_t>(bytes.size()));
    }
  }
  if (out.empty()) {
    struct Symbol {
      int32_t id;
      int32_t prev, next;
      uint32_t len;
    };
    std::vector<Symbol> sym;
    sym.reserve(bytes.size());
    for (unsigned char b : bytes) {
      int32_t id = byte_id_[b];
      if (id < 0) {  // a byte the vocabulary lacks: unk (fused when asked), else dropped
        if (bpe_unk_id_ < 0) continue;
        if (bpe_.fuse_unk && !sym.empty() && sym.back().id == bpe_unk_id_) {
          ++sym.back().len;
          continue;
        }
        id = bpe_unk_id_;
      }
      const int32_t k = static_cast<int32_t>(sym.size());
      sym.push_back(Symbol{id, k - 1, -1, 1});
      if (k > 0) sym[static_cast<std::size_t>(k - 1)].next = k;
    }
    struct Merge {
      int32_t rank, pos, new_id;
      bool operator>(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    auto lookup = [&](int32_t a, int32_t b) -> const std::pair<int32_t, int32_t>* {
      auto it = merges_.find((uint64_t{static_cast<uint32_t>(a)} << 32) | static_cast<uint32_t>(b));
      return it == merges_.end() ? nullptr : &it->second;
    };
    std::priority_queue<Merge, std::vector<Merge>, std::greater<Merge>> queue;
    for (std::size_t k = 0; k + 1 < sym.size(); ++k) {
      if (const auto* m = lookup(sym[k].id, sym[k + 1].id))
        queue.push(Merge{m->first, static_cast<int32_t>(k), m->second});
    }
    while (!queue.empty()) {
      const Merge top = queue.top();
      queue.pop();
      Symbol& left = sym[static_cast<std::size_t>(top.pos)];
      if (left.len == 0 || left.next < 0) continue;
      Symbol& right = sym[static_cast<std::size_t>(left.next)];
      const auto* m = lookup(left.id, right.id);
      if (m == nullptr || m->second != top.new_id) continue;
      left.id = top.new_id;
      left.len += right.len;
      right.len = 0;
      left.next = right.next;
      if (left.next >= 0) sym[static_cast<std::size_t>(left.next)].prev = top.pos;
      if (left.prev >= 0) {
        if (const auto* pm = lookup(sym[static_cast<std::size_t>(left.prev)].id, left.id))
          queue.push(Merge{pm->first, left.prev, pm->second});
      }
      if (left.next >= 0) {
        if (const auto* nm = lookup(left.id, sym[static_cast<std::size_t>(left.next)].id))
          queue.push(Merge{nm->first, top.pos, nm->second});
      }
    }
    for (const Symbol& s : sym) {
      if (s.len > 0) out.emplace_back(s.id, s.len);
    }
  }
  // Dropped bytes (no unk token) leave no token: fold their length into a neighbour so that the
  // byte counts still add up to the word (offsets stay right).
  uint32_t total = 0;
  for (const auto& t : out) total += t.second;
  if (total != bytes.size()) {
    // Recount from the bytes: only possible without an unk token. Rebuild lengths by walking.
    std::vector<std::pair<int32_t, uint32_t>> fixed;
    // Bytes the vocabulary lacks were skipped in order; attribute each to the next kept symbol.
    std::size_t pos = 0;
    for (const auto& t : out) {
      uint32_t len = 0, kept = 0;
      while (pos < bytes.size() && kept < t.second) {
        if (byte_id_[static_cast<unsigned char>(bytes[pos])] >= 0) ++kept;
        ++len;
        ++pos;
      }
      fixed.emplace_back(t.first, len);
    }
    if (!fixed.empty()) fixed.back().second += static_cast<uint32_t>(bytes.size() - pos);
    out.swap(fixed);
  }
  if (cache.capacity > 0) {
    std::unique_lock<std::shared_mutex> lock(cache.mutex);
    if (cache.words.size() < cache.capacity) cache.words.emplace(bytes, out);
  }
}

inline ByteLevelBPETokenizer::Seq ByteLevelBPETokenizer::encode_seq_(std::string_view text) const {
  Seq seq;
  std::u32string cps;
  detail::utf8_decode_with_offsets(text, cps, seq.starts);
  std::vector<std::pair<std::size_t, std::size_t>> pieces{{0, cps.size()}};
  std::vector<int32_t> piece_ids{-1};
  added_.split(cps, pieces, piece_ids, /*normalized=*/false);
  added_.split(cps, pieces, piece_ids, /*normalized=*/true);
  for (std::size_t p = 0; p < pieces.size(); ++p) {
    const auto [b, e] = pieces[p];
    if (piece_ids[p] < 0) {
      piece_tokens_(cps, b, e, seq.toks);
      continue;
    }
    // An added token: its value is the matched text, stripped whitespace included.
    uint32_t lead = 0, trail = 0;
    auto space = [](char32_t c) { return c == 0x120 || detail::is_whitespace(c); };
    while (b + lead < e && space(cps[b + lead])) ++lead;
    while (trail < e - b && space(cps[e - 1 - trail])) ++trail;
    seq.toks.push_back(Tok{piece_ids[p], b, e, lead, trail});
  }
  return seq;
}

// tokenizers' process_offsets (pre_tokenizers/byte_level.rs), on character offsets.
inline void ByteLevelBPETokenizer::trim_(std::vector<Tok>& toks) const {
  for (std::size_t i = 0; i < toks.size(); ++i) {
    Tok& t = toks[i];
    std::size_t lead = t.lead;
    if (lead > 0) {
      const bool is_first = i == 0 || t.begin == 0;
      if (is_first && pp_add_prefix_space_ && lead == 1) lead = 0;
      t.begin = std::min(t.begin + lead, t.end);
    }
    if (t.trail > 0 && t.end >= t.trail) t.end = std::max(t.end - t.trail, t.begin);
  }
}

inline BPEEncoding ByteLevelBPETokenizer::build_(Seq& a, Seq* b, std::size_t max_length,
                                                 bool add_special_tokens) const {
  const std::size_t added = add_special_tokens && roberta_ ? (b != nullptr ? 4 : 2) : 0;
  if (max_length > 0) {
    EMBER_CHECK(max_length >= added, "ByteLevelBPETokenizer::encode: max_length ", max_length,
                " cannot hold the ", added, " special tokens");
    const std::size_t budget = max_length - added;
    if (b == nullptr) {
      if (a.toks.size() > budget) a.toks.resize(budget);
    } else {
      auto [na, nb] = truncate_pair(a.toks.size(), b->toks.size(), budget);
      a.toks.resize(na);
      b->toks.resize(nb);
    }
  }
  if (trim_offsets_) {
    trim_(a.toks);
    if (b != nullptr) trim_(b->toks);
  }
  BPEEncoding e;
  auto special = [&](int64_t id) {
    e.input_ids.push_back(id);
    e.offsets.emplace_back(0, 0);
  };
  auto append = [&](const Seq& s) {
    for (const Tok& t : s.toks) {
      e.input_ids.push_back(t.id);
      e.offsets.emplace_back(s.starts[t.begin], s.starts[t.end]);
    }
  };
  const bool wrap = add_special_tokens && roberta_;
  if (wrap) special(bos_id_);
  append(a);
  if (wrap) special(eos_id_);
  if (b != nullptr) {
    if (wrap) special(eos_id_);
    append(*b);
    if (wrap) special(eos_id_);
  }
  e.token_type_ids.assign(e.input_ids.size(), 0);  // RoBERTa: every type id is 0
  e.attention_mask.assign(e.input_ids.size(), 1);
  return e;
}

inline std::vector<std::string> ByteLevelBPETokenizer::tokenize(std::string_view text) const {
  const Seq s = encode_seq_(text);
  std::vector<std::string> out;
  out.reserve(s.toks.size());
  for (const Tok& t : s.toks) out.push_back(id_to_token_[static_cast<std::size_t>(t.id)]);
  return out;
}

inline BPEEncoding ByteLevelBPETokenizer::encode(std::string_view text, std::size_t max_length,
                                                 bool add_special_tokens) const {
  Seq a = encode_seq_(text);
  return build_(a, nullptr, max_length, add_special_tokens);
}

inline BPEEncoding ByteLevelBPETokenizer::encode(std::string_view text_a, std::string_view text_b,
                                                 std::size_t max_length,
                                                 bool add_special_tokens) const {
  if (text_b.empty()) return encode(text_a, max_length, add_special_tokens);  // as transformers
  Seq a = encode_seq_(text_a);
  Seq b = encode_seq_(text_b);
  return build_(a, &b, max_length, add_special_tokens);
}

inline BatchEncoding ByteLevelBPETokenizer::encode_batch(const std::vector<std::string>& texts,
                                                         std::size_t max_length,
                                                         Padding padding) const {
  std::vector<BPEEncoding> rows;
  rows.reserve(texts.size());
  for (const auto& t : texts) rows.push_back(encode(t, max_length));
  return detail::pad_encodings(rows, max_length, padding, pad_id_, kWho);
}

inline BatchEncoding ByteLevelBPETokenizer::encode_batch(const std::vector<std::string>& texts_a,
                                                         const std::vector<std::string>& texts_b,
                                                         std::size_t max_length,
                                                         Padding padding) const {
  EMBER_CHECK(texts_a.size() == texts_b.size(),
              "ByteLevelBPETokenizer::encode_batch: ", texts_a.size(), " first sequences but ",
              texts_b.size(), " second sequences");
  std::vector<BPEEncoding> rows;
  rows.reserve(texts_a.size());
  for (std::size_t i = 0; i < texts_a.size(); ++i) {
    Seq a = encode_seq_(texts_a[i]);
    Seq b = encode_seq_(texts_b[i]);  // an empty b stays a pair here, as in transformers
    rows.push_back(build_(a, &b, max_length, true));
  }
  return detail::pad_encodings(rows, max_length, padding, pad_id_, kWho);
}

// -- decoding and lookups ----------------------------------------------------------------------

inline bool ByteLevelBPETokenizer::is_special_id(int64_t id) const {
  return id >= 0 && static_cast<std::size_t>(id) < special_id_.size() &&
         special_id_[static_cast<std::size_t>(id)];
}

inline std::string ByteLevelBPETokenizer::decode(const std::vector<int64_t>& ids,
                                                 bool skip_special_tokens) const {
  std::string bytes;
  std::vector<char32_t> cps;
  for (int64_t id : ids) {
    const std::string& tok = id_to_token(id);
    if (skip_special_tokens && is_special_id(id)) continue;
    // Each character back to its byte; a token with a character outside the map (an added
    // token such as "<mask>" maps fine; one with a space would not) contributes its own UTF-8.
    cps.clear();
    detail::utf8_decode(tok, cps);
    const std::size_t mark = bytes.size();
    bool mapped = true;
    for (char32_t c : cps) {
      const int b = detail::char_to_byte(c);
      if (b < 0) {
        mapped = false;
        break;
      }
      bytes.push_back(static_cast<char>(b));
    }
    if (!mapped) {
      bytes.resize(mark);
      bytes += tok;
    }
  }
  // String::from_utf8_lossy: ill-formed subsequences → U+FFFD.
  cps.clear();
  detail::utf8_decode(bytes, cps);
  std::string out;
  out.reserve(bytes.size());
  for (char32_t c : cps) detail::utf8_append(c, out);
  return out;
}

inline int64_t ByteLevelBPETokenizer::token_to_id(std::string_view token) const {
  auto it = token_to_id_.find(std::string(token));
  return it == token_to_id_.end() ? unk_id_ : it->second;
}

inline bool ByteLevelBPETokenizer::contains(std::string_view token) const {
  return token_to_id_.count(std::string(token)) > 0;
}

inline const std::string& ByteLevelBPETokenizer::id_to_token(int64_t id) const {
  EMBER_CHECK(id >= 0 && static_cast<std::size_t>(id) < id_to_token_.size() &&
                  has_id_[static_cast<std::size_t>(id)],
              "ByteLevelBPETokenizer: token id ", id, " is out of range [0, ", id_to_token_.size(),
              ") or names no token");
  return id_to_token_[static_cast<std::size_t>(id)];
}

}  // namespace ember::data
