// ember/data/added_tokens.hpp — what the tokenizer.json-based tokenizers share: added tokens cut
// out of raw text, encodings with byte offsets, batch padding, file reading and UTF-8 offsets.
//
// Used by ByteLevelBPETokenizer (bpe_tokenizer.hpp) and UnigramTokenizer (unigram_tokenizer.hpp).
//
// Added tokens. Hugging Face tokenizers' AddedVocabulary (tokenizer/added_vocabulary.rs): the
// tokens of a tokenizer.json's `added_tokens` (<s> </s> <pad> <unk> <mask> for RoBERTa and
// XLM-R) are matched in the text before anything else, leftmost-longest, exactly as spelled: the
// tokens with normalized=false in the raw text first, then those with normalized=true in what is
// left (after normalization, for tokenizers that have a normalizer). A token with lstrip / rstrip
// also swallows the whitespace (Unicode White_Space) before / after it; one with single_word only
// matches where no word character (the regex crate's \w) touches it.
//
// Offsets. EncodingWithOffsets holds, per token, [begin, end) BYTE offsets into the UTF-8 text of
// the token's own sequence; tokens a post-processor adds get (0, 0). Text that is not valid UTF-8
// is read as Python's errors="replace" does (utf8_decode_with_offsets); a U+FFFD's offsets cover
// the ill-formed bytes it stands for.
//
// Errors: ember::Error for an unreadable or unparsable file and a malformed added token or one
// whose id is far beyond the vocabulary (the message names the tokenizer class, the file and what
// was expected and found), and for padding without a pad token or Padding::max_length without a
// max_length.
#pragma once

#include <ember/core/error.hpp>
#include <ember/data/wordpiece_tokenizer.hpp>  // Encoding, BatchEncoding, Padding, UTF-8

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::data {

/// A token matched in raw text before pre-tokenization (tokenizers' AddedToken).
struct AddedToken {
  std::string content;
  int64_t id = -1;
  bool single_word = false;  // only where not preceded/followed by a word character
  bool lstrip = false;       // swallows the whitespace on its left
  bool rstrip = false;       // swallows the whitespace on its right
  bool normalized = false;   // matched after the non-normalized tokens, in what they left
  bool special = true;       // dropped by decode(skip_special_tokens=true)
};

/// An Encoding with the byte offsets of each token (see the header comment).
struct EncodingWithOffsets : Encoding {
  std::vector<std::pair<std::size_t, std::size_t>> offsets;  // [begin, end) bytes per token
};

/// The added tokens of a tokenizer, and the search for them in text.
class AddedVocabulary {
 public:
  /// Registers t (an empty content is ignored; the first registration of a content wins).
  void add(AddedToken t);
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  /// Whether some token has this `normalized` flag.
  bool any(bool normalized) const;
  /// tokenizers' AddedVocabulary::find_matches over the pieces that are not added tokens yet:
  /// leftmost-longest matches of the tokens with the given `normalized` flag, with single_word,
  /// lstrip and rstrip as there. pieces are [begin, end) code-point ranges of text; piece_ids
  /// -1 for plain text, else the added token's id. Empty plain pieces are not kept, except a
  /// piece that was empty already.
  void split(const std::u32string& text, std::vector<std::pair<std::size_t, std::size_t>>& pieces,
             std::vector<int32_t>& piece_ids, bool normalized) const;
  /// The entries of a tokenizer.json's "added_tokens" array; `who` and `where` (the class and
  /// the file) start the error messages. Ids must stay below vocab_size (the model's) + the
  /// number of added tokens + 65536: a stray huge id would otherwise size the tokenizer's
  /// id → token table by itself (found by fuzzing: 2000000000 asked for 64 GB).
  static std::vector<AddedToken> parse(const nlohmann::json& added, const std::string& who,
                                       const std::string& where, std::size_t vocab_size);

 private:
  std::vector<AddedToken> tokens_;
  std::vector<std::u32string> cps_;  // content of tokens_[k] as code points
};

namespace detail {

/// The regex crate's \w (for single_word added tokens): letters, marks, decimal digits,
/// connector punctuation, letter numbers and the joiners U+200C/U+200D.
inline bool is_word_char(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '_';
  }
  if (cp == 0x200C || cp == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

/// Appends the code points of `bytes` (ill-formed subsequences → U+FFFD, as utf8_decode) and the
/// byte offset where each starts (plus, at the end, bytes.size()).
inline void utf8_decode_with_offsets(std::string_view bytes, std::u32string& cps,
                                     std::vector<std::size_t>& starts) {
  std::vector<char32_t> tmp;
  utf8_decode(bytes, tmp);
  cps.assign(tmp.begin(), tmp.end());
  starts.clear();
  starts.reserve(cps.size() + 1);
  std::size_t pos = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (char32_t cp : cps) {
    starts.push_back(pos);
    if (cp != 0xFFFD ||
        (pos + 3 <= bytes.size() && p[pos] == 0xEF && p[pos + 1] == 0xBF && p[pos + 2] == 0xBD)) {
      pos += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      continue;
    }
    // An ill-formed subsequence: its length m (1..3) is the longest prefix that utf8_decode
    // still reads as a single U+FFFD (a truncated sequence), so no decoding rule is repeated here.
    std::size_t m = 1;
    for (std::size_t len = 2; len <= 3 && pos + len <= bytes.size(); ++len) {
      tmp.clear();
      utf8_decode(bytes.substr(pos, len), tmp);
      if (tmp.size() != 1) break;
      m = len;
    }
    pos += m;
  }
  starts.push_back(bytes.size());
}

/// The whole file as bytes; `who` (the class) and `what` ("tokenizer file") name it in errors.
inline std::string read_tokenizer_file(const std::string& path, const char* who, const char* what) {
  std::ifstream in(path, std::ios::binary);
  EMBER_CHECK(in.good(), who, ": cannot open ", what, " '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  EMBER_CHECK(!in.bad(), who, ": error while reading ", what, " '", path, "'");
  return ss.str();
}

inline nlohmann::json parse_tokenizer_json_file(const std::string& path, const char* who,
                                                const char* what) {
  const std::string text = read_tokenizer_file(path, who, what);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL(who, ": ", what, " '", path, "' is not valid JSON: ", e.what());
  }
}

/// Pads rows on the right with pad_id (token type 0, mask 0): to the longest row, or to
/// max_length (which must be > 0 then). Rows are not truncated here.
inline BatchEncoding pad_encodings(const std::vector<EncodingWithOffsets>& rows,
                                   std::size_t max_length, Padding padding, int64_t pad_id,
                                   const char* who) {
  std::size_t seq = 0;
  if (padding == Padding::max_length) {
    EMBER_CHECK(max_length > 0, who, "::encode_batch: Padding::max_length needs max_length > 0");
    seq = max_length;
  } else {
    for (const auto& r : rows) seq = std::max(seq, r.size());
  }
  for (const auto& r : rows) {
    EMBER_CHECK(r.size() == seq || pad_id >= 0, who,
                "::encode_batch: padding needs a pad token, and this tokenizer has none");
  }
  BatchEncoding out;
  out.batch = static_cast<int64_t>(rows.size());
  out.seq = static_cast<int64_t>(seq);
  out.input_ids.assign(rows.size() * seq, pad_id);
  out.token_type_ids.assign(rows.size() * seq, 0);
  out.attention_mask.assign(rows.size() * seq, 0);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto n = static_cast<std::ptrdiff_t>(std::min(rows[r].size(), seq));
    const auto at = static_cast<std::ptrdiff_t>(r * seq);
    std::copy_n(rows[r].input_ids.begin(), n, out.input_ids.begin() + at);
    std::copy_n(rows[r].token_type_ids.begin(), n, out.token_type_ids.begin() + at);
    std::fill_n(out.attention_mask.begin() + at, n, 1);
  }
  return out;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------------------------

inline void AddedVocabulary::add(AddedToken t) {
  if (t.content.empty()) return;
  for (const auto& a : tokens_) {
    if (a.content == t.content) return;  // the first registration wins
  }
  std::vector<char32_t> cps;
  detail::utf8_decode(t.content, cps);
  cps_.emplace_back(cps.begin(), cps.end());
  tokens_.push_back(std::move(t));
}

inline bool AddedVocabulary::any(bool normalized) const {
  for (const auto& a : tokens_) {
    if (a.normalized == normalized) return true;
  }
  return false;
}

inline void AddedVocabulary::split(const std::u32string& text,
                                   std::vector<std::pair<std::size_t, std::size_t>>& pieces,
                                   std::vector<int32_t>& piece_ids, bool normalized) const {
  if (!any(normalized)) return;
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::vector<int32_t> out_ids;
  for (std::size_t p = 0; p < pieces.size(); ++p) {
    if (piece_ids[p] >= 0) {
      out.push_back(pieces[p]);
      out_ids.push_back(piece_ids[p]);
      continue;
    }
    const std::size_t b = pieces[p].first, e = pieces[p].second;
    std::size_t start_offset = b, i = b;
    while (i < e) {
      // the longest token matching at i (leftmost-longest: the first i with a match wins)
      std::size_t best = tokens_.size(), best_len = 0;
      for (std::size_t k = 0; k < tokens_.size(); ++k) {
        const std::u32string& c = cps_[k];
        if (tokens_[k].normalized != normalized || c.size() <= best_len || c.size() > e - i)
          continue;
        if (text.compare(i, c.size(), c) == 0) {
          best = k;
          best_len = c.size();
        }
      }
      if (best == tokens_.size()) {
        ++i;
        continue;
      }
      const AddedToken& a = tokens_[best];
      std::size_t start = i, stop = i + best_len;
      i = stop;  // the search goes on after this match, kept or not
      if (a.single_word) {
        const bool start_ok = start == b || !detail::is_word_char(text[start - 1]);
        const bool stop_ok = stop == e || !detail::is_word_char(text[stop]);
        if (!start_ok || !stop_ok) continue;
      }
      if (a.lstrip) {
        std::size_t s = start;
        while (s > b && detail::is_whitespace(text[s - 1])) --s;
        start = std::max(s, start_offset);
      }
      if (a.rstrip) {
        while (stop < e && detail::is_whitespace(text[stop])) ++stop;
        i = std::max(i, stop);
      }
      start = std::max(start, start_offset);
      if (start_offset < start) {
        out.emplace_back(start_offset, start);
        out_ids.push_back(-1);
      }
      out.emplace_back(start, stop);
      out_ids.push_back(static_cast<int32_t>(a.id));
      start_offset = stop;
    }
    if (start_offset < e || (b == e && start_offset == b)) {
      out.emplace_back(start_offset, e);
      out_ids.push_back(-1);
    }
  }
  pieces.swap(out);
  piece_ids.swap(out_ids);
}

inline std::vector<AddedToken> AddedVocabulary::parse(const nlohmann::json& added,
                                                      const std::string& who,
                                                      const std::string& where,
                                                      std::size_t vocab_size) {
  EMBER_CHECK(added.is_array(), who, ": ", where, ": expected added_tokens to be an array");
  const auto id_limit = static_cast<int64_t>(vocab_size + added.size() + 65536);
  std::vector<AddedToken> out;
  for (const nlohmann::json& a : added) {
    EMBER_CHECK(a.is_object() && a.contains("id") && a["id"].is_number_integer() &&
                    a.contains("content") && a["content"].is_string(),
                who, ": ", where, ": malformed added token ", a.dump());
    AddedToken t;
    t.content = a["content"].get<std::string>();
    t.id = a["id"].get<int64_t>();
    EMBER_CHECK(t.id >= 0 && t.id < std::numeric_limits<int32_t>::max(), who, ": ", where,
                ": added token '", t.content, "' has id ", t.id);
    EMBER_CHECK(t.id < id_limit, who, ": ", where, ": added token '", t.content, "' has id ", t.id,
                "; expected ids that go on from the model's ", vocab_size, " tokens (below ",
                id_limit, ")");
    t.single_word = a.value("single_word", false);
    t.lstrip = a.value("lstrip", false);
    t.rstrip = a.value("rstrip", false);
    t.normalized = a.value("normalized", false);
    t.special = a.value("special", false);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace ember::data
