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
// Unicode tables: character categories, NFD and lower-case mappings come from utf8proc. The
// upstream Rust crates use their own (older) Unicode tables; for every code point assigned in
// Unicode 15 the per-character results were compared with tokenizers 0.23 (see docs/tokenizer.md).
//
// Errors: ember::Error for a missing or unreadable vocabulary, a vocabulary without the [UNK],
// [CLS], [SEP] or [PAD] token, an id out of range, or a max_length too small to hold the special
// tokens.
#pragma once

#include <ember/core/error.hpp>

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <algorithm>
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
class WordPieceTokenizerOptions {
 public:
  WordPieceTokenizerOptions& do_lower_case(bool v) { do_lower_case_ = v; return *this; }
  /// Unset (the default) follows do_lower_case, as in Hugging Face.
  WordPieceTokenizerOptions& strip_accents(std::optional<bool> v) { strip_accents_ = v; return *this; }
  WordPieceTokenizerOptions& tokenize_chinese_chars(bool v) { tokenize_chinese_chars_ = v; return *this; }
  /// Words longer than this many code points become [UNK].
  WordPieceTokenizerOptions& max_input_chars_per_word(std::size_t v) { max_input_chars_per_word_ = v; return *this; }
  /// Also apply transformers' Python clean_up_tokenization in decode() (" 's" → "'s", ...).
  /// transformers 5 defaults to false; a tokenizer_config.json may set it.
  WordPieceTokenizerOptions& clean_up_tokenization_spaces(bool v) { clean_up_tokenization_spaces_ = v; return *this; }
  WordPieceTokenizerOptions& unk_token(std::string v) { unk_token_ = std::move(v); return *this; }
  WordPieceTokenizerOptions& cls_token(std::string v) { cls_token_ = std::move(v); return *this; }
  WordPieceTokenizerOptions& sep_token(std::string v) { sep_token_ = std::move(v); return *this; }
  WordPieceTokenizerOptions& pad_token(std::string v) { pad_token_ = std::move(v); return *this; }
  WordPieceTokenizerOptions& mask_token(std::string v) { mask_token_ = std::move(v); return *this; }

  bool do_lower_case() const { return do_lower_case_; }
  std::optional<bool> strip_accents() const { return strip_accents_; }
  /// strip_accents as applied: the explicit value, else do_lower_case.
  bool effective_strip_accents() const { return strip_accents_.value_or(do_lower_case_); }
  bool tokenize_chinese_chars() const { return tokenize_chinese_chars_; }
  std::size_t max_input_chars_per_word() const { return max_input_chars_per_word_; }
  bool clean_up_tokenization_spaces() const { return clean_up_tokenization_spaces_; }
  const std::string& unk_token() const { return unk_token_; }
  const std::string& cls_token() const { return cls_token_; }
  const std::string& sep_token() const { return sep_token_; }
  const std::string& pad_token() const { return pad_token_; }
  const std::string& mask_token() const { return mask_token_; }

 private:
  bool do_lower_case_ = true;
  std::optional<bool> strip_accents_;
  bool tokenize_chinese_chars_ = true;
  std::size_t max_input_chars_per_word_ = 100;
  bool clean_up_tokenization_spaces_ = false;
  std::string unk_token_ = "[UNK]";
  std::string cls_token_ = "[CLS]";
  std::string sep_token_ = "[SEP]";
  std::string pad_token_ = "[PAD]";
  std::string mask_token_ = "[MASK]";
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
  const int64_t* row(const std::vector<int64_t>& field, int64_t b) const { return field.data() + b * seq; }
};

class WordPieceTokenizer {
 public:
  /// Reads vocab.txt (one token per line, id = line index). Throws ember::Error naming the path
  /// when it cannot be read, or when the [UNK]/[CLS]/[SEP]/[PAD] token is missing from it.
  explicit WordPieceTokenizer(const std::string& vocab_path, WordPieceTokenizerOptions options = {});
  /// From an in-memory vocabulary (id = index).
  explicit WordPieceTokenizer(std::vector<std::string> vocab, WordPieceTokenizerOptions options = {});
  /// dir/vocab.txt, configured by dir/tokenizer_config.json when present (do_lower_case,
  /// strip_accents, tokenize_chinese_chars, clean_up_tokenization_spaces, special tokens).
  static WordPieceTokenizer from_pretrained(const std::string& dir);

  /// The WordPiece tokens of text, without [CLS]/[SEP].
  std::vector<std::string> tokenize(std::string_view text) const;
  /// The ids of tokenize(text) (no special tokens added).
  std::vector<int64_t> tokenize_to_ids(std::string_view text) const;

  /// [CLS] text [SEP]. max_length > 0 truncates the text so the whole fits (0: no truncation).
  Encoding encode(std::string_view text, std::size_t max_length = 0, bool add_special_tokens = true) const;
  /// [CLS] a [SEP] b [SEP], truncated longest_first to max_length (0: no truncation).
  /// As transformers, an empty text_b means "no second sequence": the result is encode(text_a).
  Encoding encode(std::string_view text_a, std::string_view text_b, std::size_t max_length = 0,
                  bool add_special_tokens = true) const;
  /// Encodes each text and pads with [PAD] (mask 0) on the right: to the longest row, or to
  /// max_length (required > 0 then). max_length > 0 also truncates.
  BatchEncoding encode_batch(const std::vector<std::string>& texts, std::size_t max_length = 0,
                             Padding padding = Padding::longest) const;
  /// Pairs; texts_a and texts_b must have the same size.
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
};

/// The longest_first rule of Hugging Face tokenizers for a pair: given the lengths la, lb of the
/// two sequences and the budget (max_length minus special tokens), the lengths to keep.
/// Let s ≤ l be the shorter/longer (a counts as the shorter on a tie). If s + l ≤ budget keep
/// both; else if budget - s ≥ s keep s and cut the longer to budget - s; else both are cut:
/// the shorter (a on a tie) gets budget / 2, the other budget / 2 + budget % 2.
/// (Not Python BertTokenizer's one-token-at-a-time loop: that gives the extra token to a.)
std::pair<std::size_t, std::size_t> truncate_pair(std::size_t la, std::size_t lb, std::size_t budget);

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
    int need;           // continuation bytes still to read
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
    char32_t cp;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      need = 1; cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      need = 2; cp = b0 & 0x0F;
      if (b0 == 0xE0) lo = 0xA0;       // no overlongs
      else if (b0 == 0xED) hi = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      need = 3; cp = b0 & 0x07;
      if (b0 == 0xF0) lo = 0x90;       // no overlongs
      else if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {  // 0x80..0xC1, 0xF5..0xFF: never valid
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    bool ok = true;
    for (int k = 0; k < need; ++k, ++j) {
      if (j >= n || p[j] < lo || p[j] > hi) { ok = false; break; }
      cp = (cp << 6) | (p[j] & 0x3F);
      lo = 0x80; hi = 0xBF;
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

inline int category(char32_t cp) { return utf8proc_category(static_cast<utf8proc_int32_t>(cp)); }

/// Rust's char::is_whitespace (the Unicode White_Space property), which tokenizers uses.
/// (Python BertTokenizer uses \t \n \r and category Zs: it differs on U+2028, U+2029.)
inline bool is_whitespace(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

/// Removed by clean_text: categories Cc, Cf, Co except \t \n \r (unassigned code points stay).
inline bool is_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  if (cp < 0x80) return cp < 0x20 || cp == 0x7F;
  const int c = category(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO;
}

/// BertPreTokenizer's punctuation: ASCII punctuation or a Unicode P* category.
inline bool is_punctuation(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
           (cp >= 123 && cp <= 126);
  }
  const int c = category(cp);
  return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
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

/// Appends the full lower-case mapping of cp (Rust char::to_lowercase): utf8proc's simple
/// mapping, plus the one unconditional multi-character entry, U+0130 → "i̇".
inline void append_lower(char32_t cp, std::vector<char32_t>& out) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
  } else if (cp == 0x130) {
    out.push_back('i');
    out.push_back(0x307);
  } else {
    out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
  }
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
      if (cp == '\t' || cp == '\n' || cp == '\r' || cp == ' ') tmp.push_back(' ');
      else if (cp >= 0x20 && cp != 0x7F) tmp.push_back(cp);
      continue;
    }
    if (cp == 0xFFFD || is_control(cp)) continue;
    if (is_whitespace(cp)) {
      tmp.push_back(' ');
    } else if (chinese && is_chinese_char(cp)) {
      tmp.push_back(' ');
      if (strip) append_nfd(cp, tmp); else tmp.push_back(cp);
      tmp.push_back(' ');
    } else if (strip) {
      const std::size_t from = tmp.size();
      append_nfd(cp, tmp);
      for (std::size_t k = from; k < tmp.size() && !has_nonstarter; ++k) {
        has_nonstarter = utf8proc_get_property(static_cast<utf8proc_int32_t>(tmp[k]))->combining_class != 0;
      }
    } else {
      tmp.push_back(cp);
    }
  }
  // Canonical ordering (part of NFD): stable sort of each run of non-starters by combining
  // class. Only matters for marks that survive the Mn filter; rare, so only done when needed.
  if (strip && has_nonstarter) {
    auto ccc = [](char32_t c) {
      return c < 0x300 ? 0 : utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
    };
    std::size_t i = 0;
    while (i < tmp.size()) {
      if (ccc(tmp[i]) == 0) { ++i; continue; }
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
    if (strip && category(cp) == UTF8PROC_CATEGORY_MN) continue;
    if (lower) append_lower(cp, out); else out.push_back(cp);
  }
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
  std::vector<char32_t> cps;    // decoded code points of one piece
  std::vector<char32_t> norm;   // normalized code points
  std::vector<char32_t> tmp;    // normalization scratch
  std::vector<std::size_t> offsets;  // byte offset of each code point of a word in `word`
  std::string word;             // UTF-8 of one word
  std::string key;              // lookup key ("##" + piece)
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
  EMBER_CHECK(!in.bad(), "WordPieceTokenizer: error while reading vocabulary file '", vocab_path, "'");
  EMBER_CHECK(!id_to_token_.empty(), "WordPieceTokenizer: vocabulary file '", vocab_path, "' is empty");
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
    if (it != token_to_id_.end() && !t->empty()) specials_.emplace_back(*t, it->second);
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
      EMBER_FAIL("WordPieceTokenizer::from_pretrained: cannot parse '", config_path, "': ", e.what());
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
  // BertPreTokenizer: whitespace separates words; each punctuation character is a word.
  const char32_t* p = s.norm.data();
  const char32_t* end = p + s.norm.size();
  const char32_t* word = p;
  for (; p != end; ++p) {
    const char32_t cp = *p;
    const bool ws = cp == ' ' || (cp >= 0x80 && detail::is_whitespace(cp));
    if (ws || detail::is_punctuation(cp)) {
      if (word != p) wordpiece_(word, p, out, s);
      if (!ws) wordpiece_(p, p + 1, out, s);
      word = p + 1;
    }
  }
  if (word != end) wordpiece_(word, end, out, s);
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
  if (n1 > budget) n2 = n1;
  else n2 = std::max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = budget / 2;
    n2 = n1 + budget % 2;
  }
  if (swap) std::swap(n1, n2);
  return {std::min(n1, la), std::min(n2, lb)};
}

inline std::size_t WordPieceTokenizer::num_special_tokens_(bool pair, bool add_special_tokens) const {
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
    EMBER_CHECK(max_length > 0, "WordPieceTokenizer::encode_batch: Padding::max_length needs max_length > 0");
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
                                                      std::size_t max_length, Padding padding) const {
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
                                                      std::size_t max_length, Padding padding) const {
  EMBER_CHECK(texts_a.size() == texts_b.size(), "WordPieceTokenizer::encode_batch: ",
              texts_a.size(), " first sequences but ", texts_b.size(), " second sequences");
  std::vector<Encoding> rows;
  rows.reserve(texts_a.size());
  Scratch s;
  std::vector<int32_t> a, b;
  for (std::size_t i = 0; i < texts_a.size(); ++i) {
    a.clear();
    b.clear();
    tokenize_ids_(texts_a[i], a, s);
    if (texts_b[i].empty()) {
      rows.push_back(build_(a, nullptr, max_length, true));
    } else {
      tokenize_ids_(texts_b[i], b, s);
      rows.push_back(build_(a, &b, max_length, true));
    }
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
      if (tok.compare(0, 2, "##") == 0) piece.append(tok, 2, std::string::npos);
      else piece.append(" ").append(tok);
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
              "WordPieceTokenizer: token id ", id, " is out of range [0, ", id_to_token_.size(), ")");
  return id_to_token_[static_cast<std::size_t>(id)];
}

}  // namespace ember::data
