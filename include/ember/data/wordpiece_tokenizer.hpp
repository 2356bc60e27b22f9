// ember/data/wordpiece_tokenizer.hpp — BERT's WordPiece tokenizer: UTF-8 text → token ids.
//
// What it computes. The tokenization of Hugging Face's `BertTokenizer` / `BertTokenizerFast`
// (transformers, backed by the Rust `tokenizers` library) for BERT vocabularies, which is the
// algorithm of Google BERT's `tokenization.py` (BasicTokenizer + WordpieceTokenizer):
//   1. special tokens ([CLS] [SEP] [PAD] [MASK] [UNK], exactly as spelled, case-sensitive) are cut
//      out of the raw text first and never split — as the fast tokenizer does with its added
//      special tokens (leftmost match, longest on a tie);
//   2. each remaining piece is normalized (BertNormalizer): U+0000, U+FFFD and control characters
//      (general categories Cc, Cf, Co, except \t \n \r) are removed, whitespace becomes ' ',
//      CJK ideographs get a space on each side, then — when strip_accents (by default
//      = do_lower_case) — canonical decomposition (NFD) and removal of nonspacing marks (Mn),
//      then — when do_lower_case — lower-casing, one code point at a time;
//   3. pre-tokenization (BertPreTokenizer): split on whitespace, and every punctuation character
//      (ASCII 33–47, 58–64, 91–96, 123–126, Unicode P*) becomes a word of its own;
//   4. WordPiece: each word is covered greedily, longest vocabulary entry first, pieces after the
//      first prefixed with "##"; a word that cannot be covered, or that is longer than
//      max_input_chars_per_word code points, becomes the single token [UNK].
// encode() then adds [CLS] a [SEP] (b [SEP]), token type ids 0 for a and 1 for b, truncates pairs
// with the `longest_first` rule of `tokenizers` (see truncate_pair), and pads batches on the right.
// decode() is the fast tokenizer's WordPiece decoder ("##" glued, per-token cleanup).
// The parity fixture tests/data/tokenizer/bert_uncased.jsonl (tools/gen_tokenizer_fixture.py)
// holds the reference outputs; tests/text/test_wordpiece_tokenizer.cpp checks every line.
//
// Invalid UTF-8. Input bytes are decoded as Python's `bytes.decode("utf-8", errors="replace")`
// does: every maximal ill-formed subsequence (stray continuation byte, truncated sequence,
// overlong form, surrogate, > U+10FFFF) becomes one U+FFFD, which step 2 then removes — the same
// as handing Hugging Face the replaced Python string. Never throws, never reads out of bounds.
//
// Unicode data. tokenizers classifies characters with its own, older tables, so the three
// classes that matter (removed controls, nonspacing marks, punctuation) are embedded below as its
// exact sets; NFD, canonical combining classes and lower-case mappings come from utf8proc, with
// the few corrections needed to agree with tokenizers 0.23. Every code point U+0000..U+10FFFF is
// checked against tokenizers by the sweep fixture (docs/tokenizer.md).
//
// Errors: ember::Error for a missing or unreadable vocabulary, a vocabulary without the [UNK],
// [CLS], [SEP] or [PAD] token, an id out of range, or a max_length too small to hold the special
// tokens.
#pragma once

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ember::data {

// ---------------------------------------------------------------------------------------------
// Synopsis
// ---------------------------------------------------------------------------------------------

/// How BertTokenizer is configured; the defaults are those of BERT uncased.
/// Chainable: `WordPieceTokenizerOptions().do_lower_case(false).max_input_chars_per_word(200)`.
struct WordPieceTokenizerOptions {
  EMBER_ARG(bool, do_lower_case) = true;
  /// Unset (the default) follows do_lower_case, as in Hugging Face.
  EMBER_ARG(std::optional<bool>, strip_accents);
  EMBER_ARG(bool, tokenize_chinese_chars) = true;
  /// Words longer than this many code points become [UNK].
  EMBER_ARG(std::size_t, max_input_chars_per_word) = 100;
  /// Also apply transformers' Python clean_up_tokenization in decode() (" 's" → "'s", ...).
  /// transformers 5 defaults to false; a tokenizer_config.json may set it.
  EMBER_ARG(bool, clean_up_tokenization_spaces) = false;
  EMBER_ARG(std::string, unk_token) = "[UNK]";
  EMBER_ARG(std::string, cls_token) = "[CLS]";
  EMBER_ARG(std::string, sep_token) = "[SEP]";
  EMBER_ARG(std::string, pad_token) = "[PAD]";
  EMBER_ARG(std::string, mask_token) = "[MASK]";

 public:
  /// strip_accents as applied: the explicit value, else do_lower_case.
  bool effective_strip_accents() const { return strip_accents_.value_or(do_lower_case_); }
};

/// One encoded sequence (or pair); the three vectors have the same length.
struct Encoding {
  std::vector<int64_t> input_ids;
  std::vector<int64_t> token_type_ids;  // 0 for [CLS] a [SEP], 1 for b [SEP]
  std::vector<int64_t> attention_mask;  // 1 for real tokens, 0 for padding
  std::size_t size() const { return input_ids.size(); }
};

/// How encode_batch pads: to the longest row, or every row to max_length.
enum class Padding { longest, max_length };

/// A padded batch: three row-major [batch, seq] int64 buffers (ready for Tensor<int64_t>).
struct BatchEncoding {
  std::vector<int64_t> input_ids;       // [batch, seq]
  std::vector<int64_t> token_type_ids;  // [batch, seq]
  std::vector<int64_t> attention_mask;  // [batch, seq]
  int64_t batch = 0;
  int64_t seq = 0;
  std::vector<int64_t> shape() const { return {batch, seq}; }
  /// Row b of input_ids / token_type_ids / attention_mask, as a pointer to seq values.
  const int64_t* row(const std::vector<int64_t>& field, int64_t b) const {
    return field.data() + b * seq;
  }
};

class WordPieceTokenizer {
 public:
  /// Reads vocab.txt (one token per line, id = line index). Throws ember::Error naming the path
  /// when it cannot be read, or when the [UNK]/[CLS]/[SEP]/[PAD] token is missing from it.
  explicit WordPieceTokenizer(const std::string& vocab_path,
                              WordPieceTokenizerOptions options = {});
  /// From an in-memory vocabulary (id = index).
  explicit WordPieceTokenizer(std::vector<std::string> vocab,
                              WordPieceTokenizerOptions options = {});
  /// dir/vocab.txt, configured by dir/tokenizer_config.json when present (do_lower_case,
  /// strip_accents, tokenize_chinese_chars, clean_up_tokenization_spaces, special tokens).
  static WordPieceTokenizer from_pretrained(const std::string& dir);

  /// The WordPiece tokens of text, without [CLS]/[SEP].
  std::vector<std::string> tokenize(std::string_view text) const;
  /// The ids of tokenize(text) (no special tokens added).
  std::vector<int64_t> tokenize_to_ids(std::string_view text) const;

  /// [CLS] text [SEP]. max_length > 0 truncates the text so the whole fits (0: no truncation).
  Encoding encode(std::string_view text, std::size_t max_length = 0,
                  bool add_special_tokens = true) const;
  /// [CLS] a [SEP] b [SEP], truncated longest_first to max_length (0: no truncation).
  /// As transformers, an empty text_b means "no second sequence": the result is encode(text_a).
  Encoding encode(std::string_view text_a, std::string_view text_b, std::size_t max_length = 0,
                  bool add_special_tokens = true) const;
  /// Encodes each text and pads with [PAD] (mask 0) on the right: to the longest row, or to
  /// max_length (required > 0 then). max_length > 0 also truncates.
  BatchEncoding encode_batch(const std::vector<std::string>& texts, std::size_t max_length = 0,
                             Padding padding = Padding::longest) const;
  /// Pairs; texts_a and texts_b must have the same size. Unlike encode(a, b), an empty b
  /// still makes a pair ([CLS] a [SEP] [SEP]) — transformers behaves the same way.
  BatchEncoding encode_batch(const std::vector<std::string>& texts_a,
                             const std::vector<std::string>& texts_b, std::size_t max_length = 0,
                             Padding padding = Padding::longest) const;

  /// Hugging Face's decode: tokens joined by spaces, "##" pieces glued to the previous one,
  /// " ." " ?" " !" " ," tightened; skip_special_tokens drops [CLS] [SEP] [PAD] [MASK] [UNK].
  /// Throws ember::Error on an id outside [0, vocab_size()).
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;

  /// The id of token, or unk_token_id() when it is not in the vocabulary (as HF
  /// convert_tokens_to_ids).
  int64_t token_to_id(std::string_view token) const;
  bool contains(std::string_view token) const;
  /// Throws ember::Error when id is outside [0, vocab_size()).
  const std::string& id_to_token(int64_t id) const;
  std::size_t vocab_size() const { return id_to_token_.size(); }

  int64_t unk_token_id() const { return unk_id_; }
  int64_t cls_token_id() const { return cls_id_; }
  int64_t sep_token_id() const { return sep_id_; }
  int64_t pad_token_id() const { return pad_id_; }
  /// -1 when the vocabulary has no mask token.
  int64_t mask_token_id() const { return mask_id_; }
  bool is_special_id(int64_t id) const;
  const WordPieceTokenizerOptions& options() const { return options_; }

 private:
  struct Scratch;  // reusable buffers of one tokenize call
  void init_();
  void tokenize_ids_(std::string_view text, std::vector<int32_t>& out, Scratch& s) const;
  void normalized_words_(std::string_view piece, std::vector<int32_t>& out, Scratch& s) const;
  void wordpiece_(const char32_t* begin, const char32_t* end, std::vector<int32_t>& out,
                  Scratch& s) const;
  std::size_t num_special_tokens_(bool pair, bool add_special_tokens) const;
  Encoding build_(std::vector<int32_t>& a, std::vector<int32_t>* b, std::size_t max_length,
                  bool add_special_tokens) const;
  static BatchEncoding pad_(std::vector<Encoding>& rows, std::size_t max_length, Padding padding,
                            int64_t pad_id);

  WordPieceTokenizerOptions options_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<std::string, int32_t> token_to_id_;
  std::size_t max_token_bytes_ = 0;
  int64_t unk_id_ = -1, cls_id_ = -1, sep_id_ = -1, pad_id_ = -1, mask_id_ = -1;
  // Special tokens matched in raw text: (spelling, id), longest first.
  std::vector<std::pair<std::string, int32_t>> specials_;
  std::array<bool, 256> special_first_byte_{};  // bytes that can start a special token
};

/// The longest_first rule of Hugging Face tokenizers for a pair: given the lengths la, lb of the
/// two sequences and the budget (max_length minus special tokens), the lengths to keep.
/// Let s ≤ l be the shorter/longer (a counts as the shorter on a tie). If s + l ≤ budget keep
/// both; else if budget - s ≥ s keep s and cut the longer to budget - s; else both are cut:
/// the shorter (a on a tie) gets budget / 2, the other budget / 2 + budget % 2.
/// (Not Python BertTokenizer's one-token-at-a-time loop: that gives the extra token to a.)
inline std::pair<std::size_t, std::size_t> truncate_pair(std::size_t la, std::size_t lb,
                                                         std::size_t budget);

// ---------------------------------------------------------------------------------------------
// Character classes and normalization (the per-code-point rules of tokenizers' BertNormalizer
// and BertPreTokenizer). Public for tests; not part of the stable API.
// ---------------------------------------------------------------------------------------------
namespace detail {

/// Appends the code points of UTF-8 bytes; ill-formed subsequences become U+FFFD (Python
/// errors="replace" / Unicode "maximal subpart" practice).
inline void utf8_decode(std::string_view in, std::vector<char32_t>& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char b0 = p[i];
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int need;                            // continuation bytes still to read
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
    char32_t cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      need = 1;
      cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      need = 2;
      cp = b0 & 0x0F;
      if (b0 == 0xE0)
        lo = 0xA0;  // no overlongs
      else if (b0 == 0xED)
        hi = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      need = 3;
      cp = b0 & 0x07;
      if (b0 == 0xF0)
        lo = 0x90;  // no overlongs
      else if (b0 == 0xF4)
        hi = 0x8F;  // nothing above U+10FFFF
    } else {        // 0x80..0xC1, 0xF5..0xFF: never valid
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    bool ok = true;
    for (int k = 0; k < need; ++k, ++j) {
      if (j >= n || p[j] < lo || p[j] > hi) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (p[j] & 0x3F);
      lo = 0x80;
      hi = 0xBF;
    }
    out.push_back(ok ? cp : char32_t{0xFFFD});
    i = j;  // on error: resume at the offending byte (it was not consumed)
  }
}

/// Appends cp as UTF-8 (cp must be a scalar value).
inline void utf8_append(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The fast tokenizer classifies characters with its own Unicode tables (the Rust crate
// unicode_categories, older than utf8proc's Unicode 15), so these three classes are its exact
// sets, generated by `tools/gen_tokenizer_fixture.py --unicode-tables`; the sweep test
// (tests/data/tokenizer/bert_unicode_sweep.json) checks every code point against it.
struct CodeRange {
  char32_t first, last;
};

// Removed by clean_text (Cc, Cf, Co; non-ASCII), incl. U+FFFD: 137651 code points in 22 ranges.
inline constexpr CodeRange kControlRanges[] = {
    {0x80, 0x9F},       {0xAD, 0xAD},         {0x600, 0x605},     {0x61C, 0x61C},
    {0x6DD, 0x6DD},     {0x70F, 0x70F},       {0x180E, 0x180E},   {0x200B, 0x200F},
    {0x202A, 0x202E},   {0x2060, 0x2064},     {0x2066, 0x206F},   {0xE000, 0xF8FF},
    {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},     {0xFFFD, 0xFFFD},   {0x110BD, 0x110BD},
    {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},   {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
    {0xF0000, 0xFFFFD}, {0x100000, 0x10FFFD},
};
// Removed by strip_accents after NFD (Mn): 1567 code points in 266 ranges.
inline constexpr CodeRange kNonspacingMarkRanges[] = {
    {0x300, 0x36F},     {0x483, 0x487},     {0x591, 0x5BD},     {0x5BF, 0x5BF},
    {0x5C1, 0x5C2},     {0x5C4, 0x5C5},     {0x5C7, 0x5C7},     {0x610, 0x61A},
    {0x64B, 0x65F},     {0x670, 0x670},     {0x6D6, 0x6DC},     {0x6DF, 0x6E4},
    {0x6E7, 0x6E8},     {0x6EA, 0x6ED},     {0x711, 0x711},     {0x730, 0x74A},
    {0x7A6, 0x7B0},     {0x7EB, 0x7F3},     {0x816, 0x819},     {0x81B, 0x823},
    {0x825, 0x827},     {0x829, 0x82D},     {0x859, 0x85B},     {0x8E3, 0x902},
    {0x93A, 0x93A},     {0x93C, 0x93C},     {0x941, 0x948},     {0x94D, 0x94D},
    {0x951, 0x957},     {0x962, 0x963},     {0x981, 0x981},     {0x9BC, 0x9BC},
    {0x9C1, 0x9C4},     {0x9CD, 0x9CD},     {0x9E2, 0x9E3},     {0xA01, 0xA02},
    {0xA3C, 0xA3C},     {0xA41, 0xA42},     {0xA47, 0xA48},     {0xA4B, 0xA4D},
    {0xA51, 0xA51},     {0xA70, 0xA71},     {0xA75, 0xA75},     {0xA81, 0xA82},
    {0xABC, 0xABC},     {0xAC1, 0xAC5},     {0xAC7, 0xAC8},     {0xACD, 0xACD},
    {0xAE2, 0xAE3},     {0xB01, 0xB01},     {0xB3C, 0xB3C},     {0xB3F, 0xB3F},
    {0xB41, 0xB44},     {0xB4D, 0xB4D},     {0xB56, 0xB56},     {0xB62, 0xB63},
    {0xB82, 0xB82},     {0xBC0, 0xBC0},     {0xBCD, 0xBCD},     {0xC00, 0xC00},
    {0xC3E, 0xC40},     {0xC46, 0xC48},     {0xC4A, 0xC4D},     {0xC55, 0xC56},
    {0xC62, 0xC63},     {0xC81, 0xC81},     {0xCBC, 0xCBC},     {0xCBF, 0xCBF},
    {0xCC6, 0xCC6},     {0xCCC, 0xCCD},     {0xCE2, 0xCE3},     {0xD01, 0xD01},
    {0xD41, 0xD44},     {0xD4D, 0xD4D},     {0xD62, 0xD63},     {0xDCA, 0xDCA},
    {0xDD2, 0xDD4},     {0xDD6, 0xDD6},     {0xE31, 0xE31},     {0xE34, 0xE3A},
    {0xE47, 0xE4E},     {0xEB1, 0xEB1},     {0xEB4, 0xEB9},     {0xEBB, 0xEBC},
    {0xEC8, 0xECD},     {0xF18, 0xF19},     {0xF35, 0xF35},     {0xF37, 0xF37},
    {0xF39, 0xF39},     {0xF71, 0xF7E},     {0xF80, 0xF84},     {0xF86, 0xF87},
    {0xF8D, 0xF97},     {0xF99, 0xFBC},     {0xFC6, 0xFC6},     {0x102D, 0x1030},
    {0x1032, 0x1037},   {0x1039, 0x103A},   {0x103D, 0x103E},   {0x1058, 0x1059},
    {0x105E, 0x1060},   {0x1071, 0x1074},   {0x1082, 0x1082},   {0x1085, 0x1086},
    {0x108D, 0x108D},   {0x109D, 0x109D},   {0x135D, 0x135F},   {0x1712, 0x1714},
    {0x1732, 0x1734},   {0x1752, 0x1753},   {0x1772, 0x1773},   {0x17B4, 0x17B5},
    {0x17B7, 0x17BD},   {0x17C6, 0x17C6},   {0x17C9, 0x17D3},   {0x17DD, 0x17DD},
    {0x180B, 0x180D},   {0x18A9, 0x18A9},   {0x1920, 0x1922},   {0x1927, 0x1928},
    {0x1932, 0x1932},   {0x1939, 0x193B},   {0x1A17, 0x1A18},   {0x1A1B, 0x1A1B},
    {0x1A56, 0x1A56},   {0x1A58, 0x1A5E},   {0x1A60, 0x1A60},   {0x1A62, 0x1A62},
    {0x1A65, 0x1A6C},   {0x1A73, 0x1A7C},   {0x1A7F, 0x1A7F},   {0x1AB0, 0x1ABD},
    {0x1B00, 0x1B03},   {0x1B34, 0x1B34},   {0x1B36, 0x1B3A},   {0x1B3C, 0x1B3C},
    {0x1B42, 0x1B42},   {0x1B6B, 0x1B73},   {0x1B80, 0x1B81},   {0x1BA2, 0x1BA5},
    {0x1BA8, 0x1BA9},   {0x1BAB, 0x1BAD},   {0x1BE6, 0x1BE6},   {0x1BE8, 0x1BE9},
    {0x1BED, 0x1BED},   {0x1BEF, 0x1BF1},   {0x1C2C, 0x1C33},   {0x1C36, 0x1C37},
    {0x1CD0, 0x1CD2},   {0x1CD4, 0x1CE0},   {0x1CE2, 0x1CE8},   {0x1CED, 0x1CED},
    {0x1CF4, 0x1CF4},   {0x1CF8, 0x1CF9},   {0x1DC0, 0x1DF5},   {0x1DFC, 0x1DFF},
    {0x20D0, 0x20DC},   {0x20E1, 0x20E1},   {0x20E5, 0x20F0},   {0x2CEF, 0x2CF1},
    {0x2D7F, 0x2D7F},   {0x2DE0, 0x2DFF},   {0x302A, 0x302D},   {0x3099, 0x309A},
    {0xA66F, 0xA66F},   {0xA674, 0xA67D},   {0xA69E, 0xA69F},   {0xA6F0, 0xA6F1},
    {0xA802, 0xA802},   {0xA806, 0xA806},   {0xA80B, 0xA80B},   {0xA825, 0xA826},
    {0xA8C4, 0xA8C4},   {0xA8E0, 0xA8F1},   {0xA926, 0xA92D},   {0xA947, 0xA951},
    {0xA980, 0xA982},   {0xA9B3, 0xA9B3},   {0xA9B6, 0xA9B9},   {0xA9BC, 0xA9BC},
    {0xA9E5, 0xA9E5},   {0xAA29, 0xAA2E},   {0xAA31, 0xAA32},   {0xAA35, 0xAA36},
    {0xAA43, 0xAA43},   {0xAA4C, 0xAA4C},   {0xAA7C, 0xAA7C},   {0xAAB0, 0xAAB0},
    {0xAAB2, 0xAAB4},   {0xAAB7, 0xAAB8},   {0xAABE, 0xAABF},   {0xAAC1, 0xAAC1},
    {0xAAEC, 0xAAED},   {0xAAF6, 0xAAF6},   {0xABE5, 0xABE5},   {0xABE8, 0xABE8},
    {0xABED, 0xABED},   {0xFB1E, 0xFB1E},   {0xFE00, 0xFE0F},   {0xFE20, 0xFE2F},
    {0x101FD, 0x101FD}, {0x102E0, 0x102E0}, {0x10376, 0x1037A}, {0x10A01, 0x10A03},
    {0x10A05, 0x10A06}, {0x10A0C, 0x10A0F}, {0x10A38, 0x10A3A}, {0x10A3F, 0x10A3F},
    {0x10AE5, 0x10AE6}, {0x11001, 0x11001}, {0x11038, 0x11046}, {0x1107F, 0x11081},
    {0x110B3, 0x110B6}, {0x110B9, 0x110BA}, {0x11100, 0x11102}, {0x11127, 0x1112B},
    {0x1112D, 0x11134}, {0x11173, 0x11173}, {0x11180, 0x11181}, {0x111B6, 0x111BE},
    {0x111CA, 0x111CC}, {0x1122F, 0x11231}, {0x11234, 0x11234}, {0x11236, 0x11237},
    {0x112DF, 0x112DF}, {0x112E3, 0x112EA}, {0x11300, 0x11301}, {0x1133C, 0x1133C},
    {0x11340, 0x11340}, {0x11366, 0x1136C}, {0x11370, 0x11374}, {0x114B3, 0x114B8},
    {0x114BA, 0x114BA}, {0x114BF, 0x114C0}, {0x114C2, 0x114C3}, {0x115B2, 0x115B5},
    {0x115BC, 0x115BD}, {0x115BF, 0x115C0}, {0x115DC, 0x115DD}, {0x11633, 0x1163A},
    {0x1163D, 0x1163D}, {0x1163F, 0x11640}, {0x116AB, 0x116AB}, {0x116AD, 0x116AD},
    {0x116B0, 0x116B5}, {0x116B7, 0x116B7}, {0x1171D, 0x1171F}, {0x11722, 0x11725},
    {0x11727, 0x1172B}, {0x16AF0, 0x16AF4}, {0x16B30, 0x16B36}, {0x16F8F, 0x16F92},
    {0x1BC9D, 0x1BC9E}, {0x1D167, 0x1D169}, {0x1D17B, 0x1D182}, {0x1D185, 0x1D18B},
    {0x1D1AA, 0x1D1AD}, {0x1D242, 0x1D244}, {0x1DA00, 0x1DA36}, {0x1DA3B, 0x1DA6C},
    {0x1DA75, 0x1DA75}, {0x1DA84, 0x1DA84}, {0x1DA9B, 0x1DA9F}, {0x1DAA1, 0x1DAAF},
    {0x1E8D0, 0x1E8D6}, {0xE0100, 0xE01EF},
};
// BertPreTokenizer punctuation (P*; non-ASCII): 694 code points in 152 ranges.
inline constexpr CodeRange kPunctuationRanges[] = {
    {0xA1, 0xA1},       {0xA7, 0xA7},       {0xAB, 0xAB},       {0xB6, 0xB7},
    {0xBB, 0xBB},       {0xBF, 0xBF},       {0x37E, 0x37E},     {0x387, 0x387},
    {0x55A, 0x55F},     {0x589, 0x58A},     {0x5BE, 0x5BE},     {0x5C0, 0x5C0},
    {0x5C3, 0x5C3},     {0x5C6, 0x5C6},     {0x5F3, 0x5F4},     {0x609, 0x60A},
    {0x60C, 0x60D},     {0x61B, 0x61B},     {0x61E, 0x61F},     {0x66A, 0x66D},
    {0x6D4, 0x6D4},     {0x700, 0x70D},     {0x7F7, 0x7F9},     {0x830, 0x83E},
    {0x85E, 0x85E},     {0x964, 0x965},     {0x970, 0x970},     {0xAF0, 0xAF0},
    {0xDF4, 0xDF4},     {0xE4F, 0xE4F},     {0xE5A, 0xE5B},     {0xF04, 0xF12},
    {0xF14, 0xF14},     {0xF3A, 0xF3D},     {0xF85, 0xF85},     {0xFD0, 0xFD4},
    {0xFD9, 0xFDA},     {0x104A, 0x104F},   {0x10FB, 0x10FB},   {0x1360, 0x1368},
    {0x1400, 0x1400},   {0x166D, 0x166E},   {0x169B, 0x169C},   {0x16EB, 0x16ED},
    {0x1735, 0x1736},   {0x17D4, 0x17D6},   {0x17D8, 0x17DA},   {0x1800, 0x180A},
    {0x1944, 0x1945},   {0x1A1E, 0x1A1F},   {0x1AA0, 0x1AA6},   {0x1AA8, 0x1AAD},
    {0x1B5A, 0x1B60},   {0x1BFC, 0x1BFF},   {0x1C3B, 0x1C3F},   {0x1C7E, 0x1C7F},
    {0x1CC0, 0x1CC7},   {0x1CD3, 0x1CD3},   {0x2010, 0x2027},   {0x2030, 0x2043},
    {0x2045, 0x2051},   {0x2053, 0x205E},   {0x207D, 0x207E},   {0x208D, 0x208E},
    {0x2308, 0x230B},   {0x2329, 0x232A},   {0x2768, 0x2775},   {0x27C5, 0x27C6},
    {0x27E6, 0x27EF},   {0x2983, 0x2998},   {0x29D8, 0x29DB},   {0x29FC, 0x29FD},
    {0x2CF9, 0x2CFC},   {0x2CFE, 0x2CFF},   {0x2D70, 0x2D70},   {0x2E00, 0x2E2E},
    {0x2E30, 0x2E42},   {0x3001, 0x3003},   {0x3008, 0x3011},   {0x3014, 0x301F},
    {0x3030, 0x3030},   {0x303D, 0x303D},   {0x30A0, 0x30A0},   {0x30FB, 0x30FB},
    {0xA4FE, 0xA4FF},   {0xA60D, 0xA60F},   {0xA673, 0xA673},   {0xA67E, 0xA67E},
    {0xA6F2, 0xA6F7},   {0xA874, 0xA877},   {0xA8CE, 0xA8CF},   {0xA8F8, 0xA8FA},
    {0xA8FC, 0xA8FC},   {0xA92E, 0xA92F},   {0xA95F, 0xA95F},   {0xA9C1, 0xA9CD},
    {0xA9DE, 0xA9DF},   {0xAA5C, 0xAA5F},   {0xAADE, 0xAADF},   {0xAAF0, 0xAAF1},
    {0xABEB, 0xABEB},   {0xFD3E, 0xFD3F},   {0xFE10, 0xFE19},   {0xFE30, 0xFE52},
    {0xFE54, 0xFE61},   {0xFE63, 0xFE63},   {0xFE68, 0xFE68},   {0xFE6A, 0xFE6B},
    {0xFF01, 0xFF03},   {0xFF05, 0xFF0A},   {0xFF0C, 0xFF0F},   {0xFF1A, 0xFF1B},
    {0xFF1F, 0xFF20},   {0xFF3B, 0xFF3D},   {0xFF3F, 0xFF3F},   {0xFF5B, 0xFF5B},
    {0xFF5D, 0xFF5D},   {0xFF5F, 0xFF65},   {0x10100, 0x10102}, {0x1039F, 0x1039F},
    {0x103D0, 0x103D0}, {0x1056F, 0x1056F}, {0x10857, 0x10857}, {0x1091F, 0x1091F},
    {0x1093F, 0x1093F}, {0x10A50, 0x10A58}, {0x10A7F, 0x10A7F}, {0x10AF0, 0x10AF6},
    {0x10B39, 0x10B3F}, {0x10B99, 0x10B9C}, {0x11047, 0x1104D}, {0x110BB, 0x110BC},
    {0x110BE, 0x110C1}, {0x11140, 0x11143}, {0x11174, 0x11175}, {0x111C5, 0x111C9},
    {0x111CD, 0x111CD}, {0x111DB, 0x111DB}, {0x111DD, 0x111DF}, {0x11238, 0x1123D},
    {0x112A9, 0x112A9}, {0x114C6, 0x114C6}, {0x115C1, 0x115D7}, {0x11641, 0x11643},
    {0x1173C, 0x1173E}, {0x12470, 0x12474}, {0x16A6E, 0x16A6F}, {0x16AF5, 0x16AF5},
    {0x16B37, 0x16B3B}, {0x16B44, 0x16B44}, {0x1BC9F, 0x1BC9F}, {0x1DA87, 0x1DA8B},
};

/// Lower-case mappings that tokenizers has (Rust's char::to_lowercase, Unicode 16) and utf8proc
/// 2.8 (Unicode 15) lacks: {first, last, delta}. A no-op where utf8proc already knows them.
struct LowerRange {
  char32_t first, last;
  int32_t delta;
};
inline constexpr LowerRange kExtraLowerRanges[] = {
    {0x1C89, 0x1C89, 1},      {0xA7CB, 0xA7CB, 0x264 - 0xA7CB},
    {0xA7CC, 0xA7CC, 1},      {0xA7CE, 0xA7CE, 1},
    {0xA7D2, 0xA7D2, 1},      {0xA7D4, 0xA7D4, 1},
    {0xA7DA, 0xA7DA, 1},      {0xA7DC, 0xA7DC, 0x19B - 0xA7DC},
    {0x10D50, 0x10D65, 0x20}, {0x16EA0, 0x16EB8, 0x1B},
};

/// Code points utf8proc decomposes and the fast tokenizer's NFD tables do not (Unicode 13+).
inline constexpr char32_t kNoDecompose[] = {0x11938};

template <std::size_t N>
inline bool in_ranges(const CodeRange (&table)[N], char32_t cp) {
  std::size_t lo = 0, hi = N;  // first range with last >= cp
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (table[mid].last < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < N && table[lo].first <= cp;
}

/// Rust's char::is_whitespace (the Unicode White_Space property), which tokenizers uses.
/// (Python BertTokenizer uses \t \n \r and category Zs: it differs on U+2028, U+2029.)
inline bool is_whitespace(char32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

/// Removed by clean_text: categories Cc, Cf, Co except \t \n \r (unassigned code points stay).
inline bool is_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  if (cp < 0x80) return cp < 0x20 || cp == 0x7F;
  return in_ranges(kControlRanges, cp);
}

/// BertPreTokenizer's punctuation: ASCII punctuation or a Unicode P* category.
inline bool is_punctuation(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
           (cp >= 123 && cp <= 126);
  }
  return in_ranges(kPunctuationRanges, cp);
}

/// Removed by strip_accents (after NFD): category Mn.
inline bool is_nonspacing_mark(char32_t cp) {
  return cp >= 0x300 && in_ranges(kNonspacingMarkRanges, cp);
}

/// The CJK Unified Ideographs blocks of BERT (as tokenizers spells them).
inline bool is_chinese_char(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/// Appends the canonical decomposition (NFD, without reordering) of cp.
inline void append_nfd(char32_t cp, std::vector<char32_t>& out) {
  for (char32_t keep : kNoDecompose) {
    if (cp == keep) {
      out.push_back(cp);
      return;
    }
  }
  utf8proc_int32_t buf[8];
  int last_boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 8,
                                                     UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n <= 0 || n > 8) {  // cannot happen for a scalar value; keep the character
    out.push_back(cp);
    return;
  }
  for (utf8proc_ssize_t k = 0; k < n; ++k) out.push_back(static_cast<char32_t>(buf[k]));
}

/// Appends the full lower-case mapping of cp (Rust's char::to_lowercase, context-free: Σ → σ
/// always): utf8proc's simple mapping, kExtraLowerRanges, and the one unconditional
/// multi-character mapping, U+0130 İ → "i̇" (i + U+0307).
inline void append_lower(char32_t cp, std::vector<char32_t>& out) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  if (cp == 0x130) {
    out.push_back('i');
    out.push_back(0x307);
    return;
  }
  for (const LowerRange& r : kExtraLowerRanges) {
    if (cp >= r.first && cp <= r.last) {
      out.push_back(static_cast<char32_t>(static_cast<int32_t>(cp) + r.delta));
      return;
    }
  }
  out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
}

/// BertNormalizer over code points [begin, end), appended to out (which is used as scratch too).
inline void bert_normalize(const char32_t* begin, const char32_t* end, bool lower, bool strip,
                           bool chinese, std::vector<char32_t>& out, std::vector<char32_t>& tmp) {
  // Pass 1: clean_text, chinese chars, NFD (when strip). Result in tmp.
  tmp.clear();
  bool has_nonstarter = false;
  for (const char32_t* it = begin; it != end; ++it) {
    const char32_t cp = *it;
    if (cp < 0x80) {  // ASCII fast path: no decomposition, not Chinese
      if (cp == '\t' || cp == '\n' || cp == '\r' || cp == ' ')
        tmp.push_back(' ');
      else if (cp >= 0x20 && cp != 0x7F)
        tmp.push_back(cp);
      continue;
    }
    if (cp == 0xFFFD || is_control(cp)) continue;
    if (is_whitespace(cp)) {
      tmp.push_back(' ');
    } else if (chinese && is_chinese_char(cp)) {
      tmp.push_back(' ');
      if (strip)
        append_nfd(cp, tmp);
      else
        tmp.push_back(cp);
      tmp.push_back(' ');
    } else if (strip) {
      const std::size_t from = tmp.size();
      append_nfd(cp, tmp);
      for (std::size_t k = from; k < tmp.size() && !has_nonstarter; ++k) {
        has_nonstarter =
            utf8proc_get_property(static_cast<utf8proc_int32_t>(tmp[k]))->combining_class != 0;
      }
    } else {
      tmp.push_back(cp);
    }
  }
  // Canonical ordering (part of NFD): stable sort of each run of non-starters by combining
  // class. Only matters for marks that survive the Mn filter; rare, so only done when needed.
  if (strip && has_nonstarter) {
    auto ccc = [](char32_t c) {
      return c < 0x300 ? 0
                       : utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
    };
    std::size_t i = 0;
    while (i < tmp.size()) {
      if (ccc(tmp[i]) == 0) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < tmp.size() && ccc(tmp[j]) != 0) ++j;
      std::stable_sort(tmp.begin() + i, tmp.begin() + j,
                       [&](char32_t x, char32_t y) { return ccc(x) < ccc(y); });
      i = j;
    }
  }
  // Pass 2: drop nonspacing marks (when strip), lower-case (when lower).
  for (const char32_t cp : tmp) {
    if (cp < 0x80) {
      out.push_back(lower && cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
      continue;
    }
    if (strip && is_nonspacing_mark(cp)) continue;
    if (lower)
      append_lower(cp, out);
    else
      out.push_back(cp);
  }
}

/// BertPreTokenizer over normalized code points [begin, end): calls on_word(first, last) for each
/// word. Whitespace separates words; each punctuation character is a word of its own. (Also used
/// by the vocabulary trainer, data/wordpiece_trainer.hpp, so both split text the same way.)
template <class F>
inline void for_each_bert_word(const char32_t* begin, const char32_t* end, F&& on_word) {
  const char32_t* word = begin;
  for (const char32_t* p = begin; p != end; ++p) {
    const char32_t cp = *p;
    const bool ws = cp == ' ' || (cp >= 0x80 && is_whitespace(cp));
    if (ws || is_punctuation(cp)) {
      if (word != p) on_word(word, p);
      if (!ws) on_word(p, p + 1);
      word = p + 1;
    }
  }
  if (word != end) on_word(word, end);
}

/// Transformers' Python clean_up_tokenization (also the per-token cleanup of the tokenizers
/// WordPiece decoder, which adds " do not" → " don't").
inline void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

inline void wordpiece_decoder_cleanup(std::string& s) {
  if (s.find(' ') == std::string::npos) return;  // every pattern starts with a space
  replace_all(s, " .", ".");
  replace_all(s, " ?", "?");
  replace_all(s, " !", "!");
  replace_all(s, " ,", ",");
  replace_all(s, " ' ", "'");
  replace_all(s, " n't", "n't");
  replace_all(s, " 'm", "'m");
  replace_all(s, " do not", " don't");
  replace_all(s, " 's", "'s");
  replace_all(s, " 've", "'ve");
  replace_all(s, " 're", "'re");
}

inline void python_clean_up_tokenization(std::string& s) {
  replace_all(s, " .", ".");
  replace_all(s, " ?", "?");
  replace_all(s, " !", "!");
  replace_all(s, " ,", ",");
  replace_all(s, " ' ", "'");
  replace_all(s, " n't", "n't");
  replace_all(s, " 'm", "'m");
  replace_all(s, " 's", "'s");
  replace_all(s, " 've", "'ve");
  replace_all(s, " 're", "'re");
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------------------------

struct WordPieceTokenizer::Scratch {
  std::vector<char32_t> cps;         // decoded code points of one piece
  std::vector<char32_t> norm;        // normalized code points
  std::vector<char32_t> tmp;         // normalization scratch
  std::vector<std::size_t> offsets;  // byte offset of each code point of a word in `word`
  std::string word;                  // UTF-8 of one word
  std::string key;                   // lookup key ("##" + piece)
};

inline WordPieceTokenizer::WordPieceTokenizer(const std::string& vocab_path,
                                              WordPieceTokenizerOptions options)
    : options_(std::move(options)) {
  std::ifstream in(vocab_path, std::ios::binary);
  EMBER_CHECK(in.good(), "WordPieceTokenizer: cannot open vocabulary file '", vocab_path, "'");
  std::string line;
  while (std::getline(in, line)) {
    // transformers: token.rstrip("\n") on a text-mode (universal newline) file.
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    id_to_token_.push_back(line);
  }
  EMBER_CHECK(!in.bad(), "WordPieceTokenizer: error while reading vocabulary file '", vocab_path,
              "'");
  EMBER_CHECK(!id_to_token_.empty(), "WordPieceTokenizer: vocabulary file '", vocab_path,
              "' is empty");
  init_();
}

inline WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab,
                                              WordPieceTokenizerOptions options)
    : options_(std::move(options)), id_to_token_(std::move(vocab)) {
  EMBER_CHECK(!id_to_token_.empty(), "WordPieceTokenizer: the vocabulary is empty");
  init_();
}

inline void WordPieceTokenizer::init_() {
  token_to_id_.reserve(id_to_token_.size());
  for (std::size_t i = 0; i < id_to_token_.size(); ++i) {
    token_to_id_[id_to_token_[i]] = static_cast<int32_t>(i);  // a later duplicate wins, as in HF
    max_token_bytes_ = std::max(max_token_bytes_, id_to_token_[i].size());
  }
  auto find = [&](const std::string& tok, bool required) -> int64_t {
    auto it = token_to_id_.find(tok);
    if (it == token_to_id_.end()) {
      EMBER_CHECK(!required, "WordPieceTokenizer: special token '", tok,
                  "' is not in the vocabulary (", id_to_token_.size(), " tokens)");
      return -1;
    }
    return it->second;
  };
  unk_id_ = find(options_.unk_token(), true);
  cls_id_ = find(options_.cls_token(), true);
  sep_id_ = find(options_.sep_token(), true);
  pad_id_ = find(options_.pad_token(), true);
  mask_id_ = find(options_.mask_token(), false);
  specials_.clear();
  for (const std::string* t : {&options_.pad_token(), &options_.unk_token(), &options_.cls_token(),
                               &options_.sep_token(), &options_.mask_token()}) {
    auto it = token_to_id_.find(*t);
    if (it != token_to_id_.end() && !t->empty()) {
      specials_.emplace_back(*t, it->second);
      special_first_byte_[static_cast<unsigned char>((*t)[0])] = true;
    }
  }
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
}

inline WordPieceTokenizer WordPieceTokenizer::from_pretrained(const std::string& dir) {
  WordPieceTokenizerOptions opt;
  const std::string config_path = dir + "/tokenizer_config.json";
  std::ifstream cfg(config_path);
  if (cfg.good()) {
    nlohmann::json j;
    try {
      cfg >> j;
    } catch (const nlohmann::json::exception& e) {
      EMBER_FAIL("WordPieceTokenizer::from_pretrained: cannot parse '", config_path,
                 "': ", e.what());
    }
    auto get_bool = [&](const char* key) -> std::optional<bool> {
      auto it = j.find(key);
      if (it == j.end() || !it->is_boolean()) return std::nullopt;
      return it->get<bool>();
    };
    // A special token is a string, or an AddedToken object {"content": ...}.
    auto get_token = [&](const char* key) -> std::optional<std::string> {
      auto it = j.find(key);
      if (it == j.end()) return std::nullopt;
      if (it->is_string()) return it->get<std::string>();
      if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
        return (*it)["content"].get<std::string>();
      return std::nullopt;
    };
    if (auto v = get_bool("do_lower_case")) opt.do_lower_case(*v);
    if (auto v = get_bool("strip_accents")) opt.strip_accents(*v);
    if (auto v = get_bool("tokenize_chinese_chars")) opt.tokenize_chinese_chars(*v);
    if (auto v = get_bool("clean_up_tokenization_spaces")) opt.clean_up_tokenization_spaces(*v);
    if (auto v = get_token("unk_token")) opt.unk_token(*v);
    if (auto v = get_token("cls_token")) opt.cls_token(*v);
    if (auto v = get_token("sep_token")) opt.sep_token(*v);
    if (auto v = get_token("pad_token")) opt.pad_token(*v);
    if (auto v = get_token("mask_token")) opt.mask_token(*v);
  }
  return WordPieceTokenizer(dir + "/vocab.txt", std::move(opt));
}

// Splits out special tokens, then normalizes and word-pieces each remaining piece.
inline void WordPieceTokenizer::tokenize_ids_(std::string_view text, std::vector<int32_t>& out,
                                              Scratch& s) const {
  std::size_t piece_begin = 0, i = 0;
  while (i < text.size()) {
    if (!special_first_byte_[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    int32_t match_id = -1;
    std::size_t match_len = 0;
    for (const auto& [tok, id] : specials_) {  // longest first
      if (text.compare(i, tok.size(), tok) == 0) {
        match_id = id;
        match_len = tok.size();
        break;
      }
    }
    if (match_id < 0) {
      ++i;
      continue;
    }
    normalized_words_(text.substr(piece_begin, i - piece_begin), out, s);
    out.push_back(match_id);
    i += match_len;
    piece_begin = i;
  }
  normalized_words_(text.substr(piece_begin), out, s);
}

inline void WordPieceTokenizer::normalized_words_(std::string_view piece, std::vector<int32_t>& out,
                                                  Scratch& s) const {
  if (piece.empty()) return;
  s.cps.clear();
  detail::utf8_decode(piece, s.cps);
  s.norm.clear();
  detail::bert_normalize(s.cps.data(), s.cps.data() + s.cps.size(), options_.do_lower_case(),
                         options_.effective_strip_accents(), options_.tokenize_chinese_chars(),
                         s.norm, s.tmp);
  detail::for_each_bert_word(s.norm.data(), s.norm.data() + s.norm.size(),
                             [&](const char32_t* b, const char32_t* e) { wordpiece_(b, e, out, s); });
}

// Greedy longest-match-first over the code points [begin, end) of one word.
inline void WordPieceTokenizer::wordpiece_(const char32_t* begin, const char32_t* end,
                                           std::vector<int32_t>& out, Scratch& s) const {
  const std::size_t n = static_cast<std::size_t>(end - begin);
  if (n > options_.max_input_chars_per_word()) {
    out.push_back(static_cast<int32_t>(unk_id_));
    return;
  }
  s.word.clear();
  s.offsets.clear();
  for (const char32_t* it = begin; it != end; ++it) {
    s.offsets.push_back(s.word.size());
    detail::utf8_append(*it, s.word);
  }
  s.offsets.push_back(s.word.size());
  const std::size_t out_size = out.size();
  std::size_t start = 0;
  while (start < n) {
    std::size_t stop = n;
    int32_t found = -1;
    const std::size_t prefix = start > 0 ? 2 : 0;
    // Skip candidates longer than the longest vocabulary entry.
    while (stop > start && prefix + s.offsets[stop] - s.offsets[start] > max_token_bytes_) --stop;
    for (; stop > start; --stop) {
      s.key.assign(start > 0 ? "##" : "");
      s.key.append(s.word, s.offsets[start], s.offsets[stop] - s.offsets[start]);
      auto it = token_to_id_.find(s.key);
      if (it != token_to_id_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {  // not coverable: the whole word is [UNK]
      out.resize(out_size);
      out.push_back(static_cast<int32_t>(unk_id_));
      return;
    }
    out.push_back(found);
    start = stop;
  }
}

inline std::vector<int64_t> WordPieceTokenizer::tokenize_to_ids(std::string_view text) const {
  Scratch s;
  std::vector<int32_t> ids;
  tokenize_ids_(text, ids, s);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

inline std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  Scratch s;
  std::vector<int32_t> ids;
  tokenize_ids_(text, ids, s);
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) tokens.push_back(id_to_token_[static_cast<std::size_t>(id)]);
  return tokens;
}

inline std::pair<std::size_t, std::size_t> truncate_pair(std::size_t la, std::size_t lb,
                                                         std::size_t budget) {
  if (la + lb <= budget) return {la, lb};
  // tokenizers/src/utils/truncation.rs, LongestFirst: n1 is the shorter (a on a tie).
  const bool swap = la > lb;
  std::size_t n1 = swap ? lb : la;
  std::size_t n2;
  if (n1 > budget)
    n2 = n1;
  else
    n2 = std::max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = budget / 2;
    n2 = n1 + budget % 2;
  }
  if (swap) std::swap(n1, n2);
  return {std::min(n1, la), std::min(n2, lb)};
}

inline std::size_t WordPieceTokenizer::num_special_tokens_(bool pair,
                                                           bool add_special_tokens) const {
  return add_special_tokens ? (pair ? 3 : 2) : 0;
}

inline Encoding WordPieceTokenizer::build_(std::vector<int32_t>& a, std::vector<int32_t>* b,
                                           std::size_t max_length, bool add_special_tokens) const {
  const std::size_t added = num_special_tokens_(b != nullptr, add_special_tokens);
  if (max_length > 0) {
    EMBER_CHECK(max_length >= added, "WordPieceTokenizer::encode: max_length ", max_length,
                " cannot hold the ", added, " special tokens");
    const std::size_t budget = max_length - added;
    if (b == nullptr) {
      if (a.size() > budget) a.resize(budget);
    } else {
      auto [na, nb] = truncate_pair(a.size(), b->size(), budget);
      a.resize(na);
      b->resize(nb);
    }
  }
  Encoding e;
  const std::size_t total = a.size() + (b ? b->size() : 0) + added;
  e.input_ids.reserve(total);
  e.token_type_ids.reserve(total);
  if (add_special_tokens) e.input_ids.push_back(cls_id_);
  e.input_ids.insert(e.input_ids.end(), a.begin(), a.end());
  if (add_special_tokens) e.input_ids.push_back(sep_id_);
  e.token_type_ids.assign(e.input_ids.size(), 0);
  if (b != nullptr) {
    e.input_ids.insert(e.input_ids.end(), b->begin(), b->end());
    if (add_special_tokens) e.input_ids.push_back(sep_id_);
    e.token_type_ids.resize(e.input_ids.size(), 1);
  }
  e.attention_mask.assign(e.input_ids.size(), 1);
  return e;
}

inline Encoding WordPieceTokenizer::encode(std::string_view text, std::size_t max_length,
                                           bool add_special_tokens) const {
  Scratch s;
  std::vector<int32_t> a;
  tokenize_ids_(text, a, s);
  return build_(a, nullptr, max_length, add_special_tokens);
}

inline Encoding WordPieceTokenizer::encode(std::string_view text_a, std::string_view text_b,
                                           std::size_t max_length, bool add_special_tokens) const {
  if (text_b.empty()) return encode(text_a, max_length, add_special_tokens);  // as transformers
  Scratch s;
  std::vector<int32_t> a, b;
  tokenize_ids_(text_a, a, s);
  tokenize_ids_(text_b, b, s);
  return build_(a, &b, max_length, add_special_tokens);
}

inline BatchEncoding WordPieceTokenizer::pad_(std::vector<Encoding>& rows, std::size_t max_length,
                                              Padding padding, int64_t pad_id) {
  std::size_t seq = 0;
  if (padding == Padding::max_length) {
    EMBER_CHECK(max_length > 0,
                "WordPieceTokenizer::encode_batch: Padding::max_length needs max_length > 0");
    seq = max_length;
  } else {
    for (const auto& r : rows) seq = std::max(seq, r.size());
  }
  BatchEncoding out;
  out.batch = static_cast<int64_t>(rows.size());
  out.seq = static_cast<int64_t>(seq);
  out.input_ids.assign(rows.size() * seq, pad_id);
  out.token_type_ids.assign(rows.size() * seq, 0);
  out.attention_mask.assign(rows.size() * seq, 0);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const std::size_t n = rows[r].size();  // <= seq: truncation already applied
    std::copy(rows[r].input_ids.begin(), rows[r].input_ids.end(), out.input_ids.begin() + r * seq);
    std::copy(rows[r].token_type_ids.begin(), rows[r].token_type_ids.end(),
              out.token_type_ids.begin() + r * seq);
    std::fill_n(out.attention_mask.begin() + r * seq, n, 1);
  }
  return out;
}

inline BatchEncoding WordPieceTokenizer::encode_batch(const std::vector<std::string>& texts,
                                                      std::size_t max_length,
                                                      Padding padding) const {
  std::vector<Encoding> rows;
  rows.reserve(texts.size());
  Scratch s;
  std::vector<int32_t> a;
  for (const auto& t : texts) {
    a.clear();
    tokenize_ids_(t, a, s);
    rows.push_back(build_(a, nullptr, max_length, true));
  }
  return pad_(rows, max_length, padding, pad_id_);
}

inline BatchEncoding WordPieceTokenizer::encode_batch(const std::vector<std::string>& texts_a,
                                                      const std::vector<std::string>& texts_b,
                                                      std::size_t max_length,
                                                      Padding padding) const {
  EMBER_CHECK(texts_a.size() == texts_b.size(),
              "WordPieceTokenizer::encode_batch: ", texts_a.size(), " first sequences but ",
              texts_b.size(), " second sequences");
  std::vector<Encoding> rows;
  rows.reserve(texts_a.size());
  Scratch s;
  std::vector<int32_t> a, b;
  for (std::size_t i = 0; i < texts_a.size(); ++i) {
    a.clear();
    b.clear();
    tokenize_ids_(texts_a[i], a, s);
    tokenize_ids_(texts_b[i], b, s);  // an empty b stays a pair here, as in transformers
    rows.push_back(build_(a, &b, max_length, true));
  }
  return pad_(rows, max_length, padding, pad_id_);
}

inline bool WordPieceTokenizer::is_special_id(int64_t id) const {
  return id == unk_id_ || id == cls_id_ || id == sep_id_ || id == pad_id_ ||
         (mask_id_ >= 0 && id == mask_id_);
}

inline std::string WordPieceTokenizer::decode(const std::vector<int64_t>& ids,
                                              bool skip_special_tokens) const {
  // tokenizers' WordPiece decoder: each token after the first is either glued ("##" removed)
  // or prefixed with a space; then the cleanup replacements are applied to that token alone.
  std::string out, piece;
  bool first = true;
  for (int64_t id : ids) {
    const std::string& tok = id_to_token(id);
    if (skip_special_tokens && is_special_id(id)) continue;
    piece.clear();
    if (!first) {
      if (tok.compare(0, 2, "##") == 0)
        piece.append(tok, 2, std::string::npos);
      else
        piece.append(" ").append(tok);
    } else {
      piece = tok;
    }
    first = false;
    detail::wordpiece_decoder_cleanup(piece);
    out += piece;
  }
  if (options_.clean_up_tokenization_spaces()) detail::python_clean_up_tokenization(out);
  return out;
}

inline int64_t WordPieceTokenizer::token_to_id(std::string_view token) const {
  auto it = token_to_id_.find(std::string(token));
  return it == token_to_id_.end() ? unk_id_ : it->second;
}

inline bool WordPieceTokenizer::contains(std::string_view token) const {
  return token_to_id_.count(std::string(token)) > 0;
}

inline const std::string& WordPieceTokenizer::id_to_token(int64_t id) const {
  EMBER_CHECK(id >= 0 && static_cast<std::size_t>(id) < id_to_token_.size(),
              "WordPieceTokenizer: token id ", id, " is out of range [0, ", id_to_token_.size(),
              ")");
  return id_to_token_[static_cast<std::size_t>(id)];
}

}  // namespace ember::data
