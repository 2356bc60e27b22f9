// ember/data/unigram_tokenizer.hpp — SentencePiece Unigram (XLM-RoBERTa) from a Hugging Face
// tokenizer.json: UTF-8 text → token ids + byte offsets.
//
// What it computes. The output of Hugging Face `tokenizers` (0.23) for a tokenizer.json whose
// model is Unigram — as transformers writes it when it converts a SentencePiece model
// (XLMRobertaConverter, `XLMRobertaTokenizerFast`) — with the parts XLM-R's files declare:
//   1. added tokens (<s> <pad> </s> <unk> <mask>) cut out of the raw text first (added_tokens.hpp;
//      XLM-R's <mask> has lstrip: "a <mask>" → "▁a", "<mask>", the space swallowed);
//   2. the normalizer, on each remaining piece separately, in the file's order:
//      - Precompiled: SentencePiece's precompiled charsmap (base64 in the JSON: a little-endian
//        u32 trie size, a darts-clone double-array trie over UTF-8 bytes, then NUL-terminated
//        replacement strings). As tokenizers' normalizers/precompiled.rs with the spm_precompiled
//        crate: the text is cut into extended grapheme clusters (utf8proc); a cluster shorter than
//        6 bytes that has SOME prefix in the trie is replaced as a whole by the replacement of its
//        SHORTEST such prefix ("ﬁ" + U+0301 → "fi", the accent dropped — this is what tokenizers
//        does, and what SentencePiece does not); otherwise each character is looked up alone;
//      - Strip (left/right: Unicode White_Space), Replace (a literal String pattern, or a Regex
//        of the form `c{n,}` / `c+` for one character c: XLM-R's `" {2,}"`);
//   3. the pre-tokenizer: Metaspace (' ' → '▁', a '▁' prepended per prepend_scheme always /
//      first / never, split before each '▁'), optionally after WhitespaceSplit (Sequence);
//   4. the Unigram model (Kudo 2018): the segmentation of each word into pieces with the highest
//      total log-probability, by Viterbi over the lattice of vocabulary pieces (tokenizers'
//      Unigram::encode_optimized; on equal scores the shorter piece ending at a position wins).
//      A character that starts no piece is unknown: score min_score − 10 (K_UNK_PENALTY), id
//      unk_id, and consecutive unknowns are fused into one <unk> token (fuse_unk);
//   5. the post-processor TemplateProcessing (XLM-R: <s> $A </s>, <s> $A </s> </s> $B </s>),
//      with its type ids.
// Truncation is tokenizers' (longest_first for pairs: data::truncate_pair), padding on the right
// with <pad>. decode() is the Metaspace decoder: '▁' → ' ', and the '▁' of the first token
// dropped (prepend_scheme always/first).
//
// Offsets are BYTE offsets [begin, end) into the UTF-8 text of the token's own sequence, found
// through the normalizer's alignment exactly as tokenizers' NormalizedString tracks it
// (tokenizer/normalizer.rs transform_range): every normalized character points at a range of
// original characters; a replacement string's characters map one-to-one onto the characters they
// replace and extra ones share the last; a removed character at the very start of a piece is
// absorbed by the next character (tokenizers does that too); a prepended '▁' points at the first
// character, a Replace result at the last character it replaced. A token spans from its first
// character's range start to its last character's range end. Tokens the post-processor adds get
// (0, 0).
//
// Sources: T. Kudo, "Subword Regularization", ACL 2018 (the unigram language model); Google's
// SentencePiece (normalizer.cc, the precompiled charsmap, darts-clone); Hugging Face tokenizers
// (models/unigram/model.rs and trie.rs, normalizers/precompiled.rs, replace.rs, strip.rs,
// tokenizer/normalizer.rs, pre_tokenizers/metaspace.rs, whitespace.rs, processors/template.rs,
// decoders' Metaspace) and the spm_precompiled crate; transformers' convert_slow_tokenizer.py.
// The parity fixture tests/data/unigram_tiny/golden.jsonl (tools/gen_unigram_tokenizer_fixture.py)
// holds the reference outputs; tests/text/test_unigram_tokenizer.cpp checks every line.
//
// Invalid UTF-8 input is read as Python's errors="replace" does (each maximal ill-formed
// subsequence → U+FFFD, offsets covering those bytes). Never throws for any text, never reads out
// of bounds — except when a character is unknown and the model has no unk_id (tokenizers fails
// there too: ember::Error).
//
// Errors: ember::Error naming the file for a tokenizer.json that is missing, unreadable or not
// JSON; whose model is not Unigram or is malformed (vocab not [piece, score] pairs, unk_id out of
// range, byte_fallback); whose normalizer, pre-tokenizer, post-processor or decoder is of a kind
// not listed above (the message says what was expected and what was found); a charsmap that does
// not parse; a normalizer whose steps can make a text over 256 times longer (twelve Replace "a"
// → "aaaa" turn one "a" into 16 million characters; tokenizers accepts that file). Also: an id
// out of range, a max_length too small for the special tokens, padding without a pad token.
#pragma once

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>
#include <ember/data/added_tokens.hpp>  // AddedVocabulary, EncodingWithOffsets, pad_encodings
#include <ember/data/wordpiece_tokenizer.hpp>  // Encoding, BatchEncoding, Padding, truncate_pair

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ember::data {

// ---------------------------------------------------------------------------------------------
// Synopsis
// ---------------------------------------------------------------------------------------------

/// The names of the tokens a tokenizer.json does not mark by role; XLM-R's defaults.
struct UnigramTokenizerOptions {
  EMBER_ARG(std::string, pad_token) = "<pad>";
  EMBER_ARG(std::string, mask_token) = "<mask>";
};

class UnigramTokenizer {
 public:
  /// A Hugging Face tokenizer.json with a Unigram model (see the header comment for the parts
  /// it may declare). Throws ember::Error naming the file for anything else.
  static UnigramTokenizer from_tokenizer_json(const std::string& path,
                                              UnigramTokenizerOptions options = {});
  /// dir/tokenizer.json; pad_token and mask_token from dir/tokenizer_config.json when present.
  static UnigramTokenizer from_pretrained(const std::string& dir);

  /// The pieces ("▁hello") of text, without special tokens added.
  std::vector<std::string> tokenize(std::string_view text) const;
  /// The normalizer alone over the whole text (no added-token split, no pre-tokenizer).
  std::string normalize(std::string_view text) const;

  /// The single template (<s> text </s>). max_length > 0 truncates so the whole fits (0: no
  /// truncation). Offsets are byte offsets into text.
  EncodingWithOffsets encode(std::string_view text, std::size_t max_length = 0,
                             bool add_special_tokens = true) const;
  /// The pair template (<s> a </s> </s> b </s>), truncated longest_first to max_length; offsets of
  /// b's tokens are byte offsets into b. An empty text_b means "no pair", as in transformers.
  EncodingWithOffsets encode(std::string_view text_a, std::string_view text_b,
                             std::size_t max_length = 0, bool add_special_tokens = true) const;
  /// Encodes each text and pads with <pad> (mask 0) on the right: to the longest row, or to
  /// max_length (required > 0 then). max_length > 0 also truncates.
  BatchEncoding encode_batch(const std::vector<std::string>& texts, std::size_t max_length = 0,
                             Padding padding = Padding::longest) const;
  /// Pairs; texts_a and texts_b must have the same size. An empty b still makes a pair here, as
  /// transformers does for lists.
  BatchEncoding encode_batch(const std::vector<std::string>& texts_a,
                             const std::vector<std::string>& texts_b, std::size_t max_length = 0,
                             Padding padding = Padding::longest) const;

  /// The Metaspace decoder; skip_special_tokens drops the special added tokens (<unk> too).
  /// Throws ember::Error on an id outside [0, vocab_size()).
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;

  /// The id of token, or unk_token_id() (-1 when there is none) when absent.
  int64_t token_to_id(std::string_view token) const;
  bool contains(std::string_view token) const;
  /// Throws ember::Error when id is outside [0, vocab_size()).
  const std::string& id_to_token(int64_t id) const;
  /// The piece's log-probability (0 for added tokens beyond the model's vocabulary).
  double score(int64_t id) const;
  std::size_t vocab_size() const { return pieces_.size(); }

  /// -1 when the tokenizer has no such token. bos/eos: the first/last special token of the
  /// single template.
  int64_t bos_token_id() const { return bos_id_; }
  int64_t eos_token_id() const { return eos_id_; }
  int64_t unk_token_id() const { return unk_id_; }
  int64_t pad_token_id() const { return pad_id_; }
  int64_t mask_token_id() const { return mask_id_; }
  bool is_special_id(int64_t id) const;
  const std::vector<AddedToken>& added_tokens() const { return added_.tokens(); }

 private:
  static constexpr const char* kWho = "UnigramTokenizer";  // starts error messages
  // The most times longer the normalizer may make a text (Replace "a" → "aaaa" twelve times
  // made one "a" 16 million characters: found by fuzzing). Real files stay far below: XLM-R's
  // nmt_nfkc charsmap at most 18 (U+FDFA), its Replace 1.
  static constexpr double kMaxNormalizerGrowth = 256;
  static UnigramTokenizer from_tokenizer_json_(const std::string& path,
                                               UnigramTokenizerOptions options);
  UnigramTokenizer() = default;
  struct NormStep;    // one normalizer of the Sequence
  struct Normalized;  // text + alignment to the original characters
  struct Tok {        // a token before the post-processor
    int32_t id;
    std::size_t begin, end;  // original character offsets
  };
  struct Seq {
    std::vector<Tok> toks;
    std::vector<std::size_t> starts;  // byte offset of each original character, + the end
  };
  struct TemplatePart {
    bool sequence;             // $A / $B, else special tokens
    int which;                 // 0 = A, 1 = B
    std::vector<int64_t> ids;  // the special token's ids
    int64_t type_id;
  };

  void normalize_(Normalized& n) const;
  void precompiled_(Normalized& n) const;
  Seq encode_seq_(std::string_view text) const;
  void word_tokens_(const Normalized& word, std::vector<Tok>& out) const;
  void viterbi_(const std::string& bytes, std::vector<std::pair<int32_t, std::size_t>>& out) const;
  EncodingWithOffsets build_(Seq& a, Seq* b, std::size_t max_length, bool add_special_tokens) const;

  // the model
  std::vector<std::string> pieces_;
  std::vector<double> scores_;
  std::unordered_map<std::string, int32_t> token_to_id_;
  std::unordered_map<uint64_t, int32_t> trie_next_;  // (node << 8 | byte) → node
  std::vector<int32_t> trie_id_;                     // node → piece id, -1 if none
  double min_score_ = 0;
  int64_t unk_id_ = -1;
  // the pipeline
  AddedVocabulary added_;
  std::vector<NormStep> norm_;
  std::string charsmap_trie_bytes_;  // darts-clone units, little-endian u32
  std::string charsmap_normalized_;
  bool whitespace_split_ = false;
  char32_t replacement_ = 0x2581;
  enum class Prepend { always, first, never } prepend_ = Prepend::always;
  bool split_ = true;
  char32_t decoder_replacement_ = 0x2581;
  bool decoder_strip_first_ = true;
  std::vector<TemplatePart> single_, pair_;
  std::vector<bool> special_id_;
  int64_t bos_id_ = -1, eos_id_ = -1, pad_id_ = -1, mask_id_ = -1;
};

// ---------------------------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------------------------

struct UnigramTokenizer::NormStep {
  enum class Kind { precompiled, strip, replace_string, replace_run } kind;
  bool left = false, right = false;  // strip
  std::u32string pattern;            // replace_string
  char32_t run_char = 0;             // replace_run: run_char repeated at least run_min times
  std::size_t run_min = 1;
  std::u32string content;  // replacement
};

/// tokenizers' NormalizedString, per character: text[k] stands for the original characters
/// [align[k].first, align[k].second) of the sequence (absolute indices).
struct UnigramTokenizer::Normalized {
  std::u32string text;
  std::vector<std::pair<std::size_t, std::size_t>> align;
  std::size_t shift = 0;  // the original start of this piece (offsets_original().0)

  /// NormalizedString::transform_range on characters [b, e): each (c, change) of `dest` is a new
  /// character; change 0 replaces the next old one, -n replaces it and removes n more, +1 is
  /// inserted (aligned with the old character before it); the first `initial` old characters
  /// are removed.
  void transform(std::size_t b, std::size_t e, const std::vector<std::pair<char32_t, int>>& dest,
                 std::size_t initial) {
    std::u32string t;
    std::vector<std::pair<std::size_t, std::size_t>> a;
    std::size_t k = std::min(b + initial, e);
    auto at = [&](std::size_t i) -> std::pair<std::size_t, std::size_t> {
      if (i < align.size()) return align[i];
      return align.empty() ? std::pair<std::size_t, std::size_t>{0, 0} : align.back();
    };
    for (const auto& [c, change] : dest) {
      if (change > 0) {
        a.push_back(k < 1 ? std::pair<std::size_t, std::size_t>{0, 0} : at(k - 1));
      } else {
        a.push_back(at(k));
        k = std::min(k + 1 + static_cast<std::size_t>(-change), std::max(e, k));
      }
      t.push_back(c);
    }
    text.replace(b, e - b, t);
    align.erase(align.begin() + static_cast<std::ptrdiff_t>(b),
                align.begin() + static_cast<std::ptrdiff_t>(e));
    align.insert(align.begin() + static_cast<std::ptrdiff_t>(b), a.begin(), a.end());
  }

  /// NormalizedString::replace of every range [b, e) of `matches` (sorted, disjoint) by
  /// `content`, in one pass over the text: every new character is "inserted" after the removed
  /// range, so it aligns with the range's last character. (One transform per match rewrote the
  /// whole text each time: quadratic in the number of matches, 1 MB of words took minutes.)
  void replace_all(const std::vector<std::pair<std::size_t, std::size_t>>& matches,
                   const std::u32string& content) {
    if (matches.empty()) return;
    std::u32string t;
    std::vector<std::pair<std::size_t, std::size_t>> a;
    t.reserve(text.size());
    a.reserve(text.size());
    std::size_t done = 0;
    for (const auto& [b, e] : matches) {
      t.append(text, done, b - done);
      a.insert(a.end(), align.begin() + static_cast<std::ptrdiff_t>(done),
               align.begin() + static_cast<std::ptrdiff_t>(b));
      t.append(content);
      a.insert(a.end(), content.size(), align[e - 1]);
      done = e;
    }
    t.append(text, done, std::u32string::npos);
    a.insert(a.end(), align.begin() + static_cast<std::ptrdiff_t>(done), align.end());
    text.swap(t);
    align.swap(a);
  }

  Normalized slice(std::size_t b, std::size_t e) const {
    Normalized s;
    s.text = text.substr(b, e - b);
    s.align.assign(align.begin() + static_cast<std::ptrdiff_t>(b),
                   align.begin() + static_cast<std::ptrdiff_t>(e));
    s.shift = b < e ? align[b].first : shift;
    return s;
  }
};

namespace detail {

inline std::string base64_decode(std::string_view in, bool& ok) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  ok = true;
  std::size_t n = in.size();
  while (n > 0 && in[n - 1] == '=') --n;
  for (std::size_t i = 0; i < n; ++i) {
    const int v = val(in[i]);
    if (v < 0) {
      ok = false;
      return out;
    }
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xFF));
    }
  }
  return out;
}

/// spm_precompiled's DoubleArray::common_prefix_search, first result only: the value of the
/// shortest prefix of key[0, n) that is a key of the darts-clone trie, or -1. Bounds-checked.
inline int64_t charsmap_first_prefix(const std::string& units, const unsigned char* key,
                                     std::size_t n) {
  const std::size_t size = units.size() / 4;
  auto unit = [&](std::size_t i) -> uint32_t {
    uint32_t u;
    std::memcpy(&u, units.data() + 4 * i, 4);  // little-endian hosts (x86, ARM)
    return u;
  };
  auto offset = [](uint32_t u) -> std::size_t { return (u >> 10) << ((u & (1u << 9)) >> 6); };
  if (size == 0) return -1;
  std::size_t pos = offset(unit(0));
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = key[i];
    if (c == 0) break;
    pos ^= c;
    if (pos >= size) return -1;
    const uint32_t u = unit(pos);
    if ((u & ((1u << 31) | 0xFFu)) != c) return -1;
    pos ^= offset(u);
    if (pos >= size) return -1;
    if ((u >> 8) & 1u) return static_cast<int64_t>(unit(pos) & ((1u << 31) - 1));
  }
  return -1;
}

}  // namespace detail

// A field of the wrong JSON type deep inside the file (e.g. "lstrip": "yes") surfaces from
// nlohmann as a type_error: turned into an ember::Error naming the file.
inline UnigramTokenizer UnigramTokenizer::from_tokenizer_json(const std::string& path, UnigramTokenizerOptions options) {
  try {
    return from_tokenizer_json_(path, std::move(options));
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL(kWho, ": tokenizer file '", path, "': a field has the wrong type or value (",
               e.what(), ")");
  }
}

inline UnigramTokenizer UnigramTokenizer::from_tokenizer_json_(const std::string& path,
                                                              UnigramTokenizerOptions options) {
  using nlohmann::json;
  const json j = detail::parse_tokenizer_json_file(path, kWho, "tokenizer file");
  const std::string where = "tokenizer file '" + path + "'";
  auto fail_if = [&](bool bad, const std::string& what, const json& found) {
    EMBER_CHECK(!bad, kWho, ": ", where, ": expected ", what, ", found ",
                found.dump().substr(0, 160));
  };
  fail_if(!j.is_object() || !j.contains("model") || !j["model"].is_object(),
          "an object with a \"model\"", j.is_object() ? j.value("model", json()) : j);
  const json& model = j["model"];
  const std::string type = model.value("type", std::string("?"));
  EMBER_CHECK(type == "Unigram", kWho, ": ", where,
              ": expected a Unigram model, found model type '", type, "'");
  UnigramTokenizer tok;

  // -- the model: vocab [[piece, score], ...], unk_id, byte_fallback
  const json vocab = model.value("vocab", json());
  fail_if(!vocab.is_array() || vocab.empty(), "model.vocab as a non-empty array of [piece, score]",
          vocab);
  EMBER_CHECK(!model.value("byte_fallback", false), kWho, ": ", where,
              ": model.byte_fallback true is not supported");
  tok.min_score_ = std::numeric_limits<double>::infinity();
  tok.trie_id_.push_back(-1);
  for (std::size_t id = 0; id < vocab.size(); ++id) {
    const json& v = vocab[id];
    fail_if(!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_number(),
            "model.vocab entry " + std::to_string(id) + " as [piece, score]", v);
    const std::string piece = v[0].get<std::string>();
    const double score = v[1].get<double>();
    tok.pieces_.push_back(piece);
    tok.scores_.push_back(score);
    tok.token_to_id_[piece] = static_cast<int32_t>(id);  // a repeated piece: the last id wins
    tok.min_score_ = std::min(tok.min_score_, score);
    int32_t node = 0;
    for (unsigned char c : piece) {
      const uint64_t key = (uint64_t{static_cast<uint32_t>(node)} << 8) | c;
      auto it = tok.trie_next_.find(key);
      if (it == tok.trie_next_.end()) {
        it = tok.trie_next_.emplace(key, static_cast<int32_t>(tok.trie_id_.size())).first;
        tok.trie_id_.push_back(-1);
      }
      node = it->second;
    }
  }
  // Leaves hold the id token_to_id_ gives (the last of repeated pieces), as tokenizers looks up.
  for (const auto& [piece, id] : tok.token_to_id_) {
    int32_t node = 0;
    for (unsigned char c : piece)
      node = tok.trie_next_.at((uint64_t{static_cast<uint32_t>(node)} << 8) | c);
    if (!piece.empty()) tok.trie_id_[static_cast<std::size_t>(node)] = id;
  }
  if (model.contains("unk_id") && !model["unk_id"].is_null()) {
    const json& u = model["unk_id"];
    fail_if(!u.is_number_integer() || u.get<int64_t>() < 0 ||
                u.get<int64_t>() >= static_cast<int64_t>(vocab.size()),
            "model.unk_id in [0, " + std::to_string(vocab.size()) + ")", u);
    tok.unk_id_ = u.get<int64_t>();
  }

  // -- added tokens (ids beyond the model's vocabulary extend it)
  for (AddedToken& t : AddedVocabulary::parse(j.value("added_tokens", json::array()), kWho, where,
                                              tok.pieces_.size())) {
    const auto id = static_cast<std::size_t>(t.id);
    if (id >= tok.pieces_.size()) {
      tok.pieces_.resize(id + 1);
      tok.scores_.resize(id + 1, 0.0);
    }
    tok.pieces_[id] = t.content;
    tok.token_to_id_[t.content] = static_cast<int32_t>(t.id);
    tok.added_.add(std::move(t));
  }

  // -- the normalizer
  std::vector<json> norms;
  const json normalizer = j.value("normalizer", json());
  if (normalizer.is_object() && normalizer.value("type", "") == "Sequence") {
    fail_if(!normalizer.contains("normalizers") || !normalizer["normalizers"].is_array(),
            "normalizer.normalizers as an array", normalizer);
    for (const json& n : normalizer["normalizers"]) norms.push_back(n);
  } else if (!normalizer.is_null()) {
    norms.push_back(normalizer);
  }
  const std::string supported_norms =
      "a normalizer Precompiled, Strip, Replace (String, or Regex \"c{n,}\" / \"c+\") or a "
      "Sequence of them";
  // How many times longer the normalizer can make a text: each step's worst case, multiplied.
  double growth = 1.0;
  for (const json& n : norms) {
    fail_if(!n.is_object(), supported_norms, n);
    const std::string kind = n.value("type", "");
    NormStep step{};
    if (kind == "Precompiled") {
      const json cm = n.value("precompiled_charsmap", json());
      fail_if(!cm.is_string(), "Precompiled.precompiled_charsmap as a base64 string", n);
      bool ok = false;
      const std::string blob = detail::base64_decode(cm.get<std::string>(), ok);
      uint32_t trie_size = 0;
      if (ok && blob.size() >= 4) std::memcpy(&trie_size, blob.data(), 4);
      EMBER_CHECK(
          ok && blob.size() >= 4 && trie_size % 4 == 0 && 4 + std::size_t{trie_size} <= blob.size(),
          kWho, ": ", where, ": the Precompiled charsmap does not parse (",
          ok ? "bad trie size" : "not base64", ")");
      tok.charsmap_trie_bytes_ = blob.substr(4, trie_size);
      tok.charsmap_normalized_ = blob.substr(4 + std::size_t{trie_size});
      step.kind = NormStep::Kind::precompiled;
    } else if (kind == "Strip") {
      step.kind = NormStep::Kind::strip;
      step.left = n.value("strip_left", true);
      step.right = n.value("strip_right", true);
    } else if (kind == "Replace") {
      const json pat = n.value("pattern", json());
      fail_if(!n.contains("content") || !n["content"].is_string() || !pat.is_object(),
              "Replace with a pattern and a content", n);
      std::vector<char32_t> cps;
      detail::utf8_decode(n["content"].get<std::string>(), cps);
      step.content.assign(cps.begin(), cps.end());
      if (pat.contains("String") && pat["String"].is_string()) {
        cps.clear();
        detail::utf8_decode(pat["String"].get<std::string>(), cps);
        fail_if(cps.empty(), "a non-empty Replace String pattern", n);
        step.kind = NormStep::Kind::replace_string;
        step.pattern.assign(cps.begin(), cps.end());
      } else {
        // A Regex: only one literal character repeated, "c{n,}" or "c+" (XLM-R's " {2,}").
        const std::string re = pat.value("Regex", std::string());
        cps.clear();
        detail::utf8_decode(re, cps);
        bool ok = false;
        if (cps.size() == 2 && cps[1] == '+') {
          step.run_min = 1;
          ok = true;
        } else if (cps.size() >= 5 && cps[1] == '{' && cps[cps.size() - 2] == ',' &&
                   cps.back() == '}') {
          std::string num;
          for (std::size_t k = 2; k + 2 < cps.size(); ++k) {
            if (cps[k] < '0' || cps[k] > '9')
              num.clear(), k = cps.size();
            else
              num.push_back(static_cast<char>(cps[k]));
          }
          ok = !num.empty() && num.size() < 6;
          if (ok) step.run_min = std::max<std::size_t>(1, std::stoul(num));
        }
        const bool literal =
            !cps.empty() && std::u32string(U"\\^$.|?*+()[]{}").find(cps[0]) == std::u32string::npos;
        fail_if(!ok || !literal,
                "a Replace pattern that is a String, or a Regex \"c{n,}\" / \"c+\" of one literal "
                "character",
                pat);
        step.kind = NormStep::Kind::replace_run;
        step.run_char = cps[0];
      }
    } else {
      fail_if(true, supported_norms, n);
    }
    std::size_t longest = 1;  // characters one character (or a matched run) can become
    if (step.kind == NormStep::Kind::precompiled) {
      std::vector<char32_t> r;
      for (std::size_t from = 0; from < tok.charsmap_normalized_.size();) {
        const std::size_t to =
            std::min(tok.charsmap_normalized_.find('\0', from), tok.charsmap_normalized_.size());
        r.clear();
        detail::utf8_decode(std::string_view(tok.charsmap_normalized_).substr(from, to - from), r);
        longest = std::max(longest, r.size());
        from = to + 1;
      }
    } else if (step.kind == NormStep::Kind::replace_string) {
      longest = (step.content.size() + step.pattern.size() - 1) / step.pattern.size();
    } else if (step.kind == NormStep::Kind::replace_run) {
      longest = (step.content.size() + step.run_min - 1) / step.run_min;
    }
    growth *= static_cast<double>(std::max<std::size_t>(longest, 1));
    EMBER_CHECK(growth <= kMaxNormalizerGrowth, kWho, ": ", where,
                ": expected a normalizer that makes a text at most ", kMaxNormalizerGrowth,
                " times longer, found one that can make it ", growth,
                " times longer (its steps multiply; step ", tok.norm_.size() + 1, ": ",
                n.dump().substr(0, 120), ")");
    tok.norm_.push_back(std::move(step));
  }

  // -- the pre-tokenizer: Metaspace, or Sequence[WhitespaceSplit, Metaspace]
  json meta = j.value("pre_tokenizer", json());
  const std::string supported_pre =
      "a Metaspace pre-tokenizer, or a Sequence of WhitespaceSplit and Metaspace";
  if (meta.is_object() && meta.value("type", "") == "Sequence") {
    const json list = meta.value("pretokenizers", json());
    const bool ok = list.is_array() && list.size() == 2 && list[0].is_object() &&
                    list[0].value("type", "") == "WhitespaceSplit";
    fail_if(!ok, supported_pre, meta);
    tok.whitespace_split_ = true;
    meta = list[1];
  }
  fail_if(!meta.is_object() || meta.value("type", "") != "Metaspace", supported_pre, meta);
  auto read_metaspace = [&](const json& m, char32_t& replacement, Prepend& prepend) {
    std::vector<char32_t> r;
    detail::utf8_decode(m.value("replacement", std::string("\xE2\x96\x81")), r);
    fail_if(r.size() != 1, "a Metaspace replacement of one character", m);
    replacement = r[0];
    std::string scheme = m.value("prepend_scheme", std::string());
    if (scheme.empty()) scheme = m.value("add_prefix_space", true) ? "always" : "never";
    fail_if(scheme != "always" && scheme != "first" && scheme != "never",
            "a Metaspace prepend_scheme always, first or never", m);
    prepend = scheme == "always"  ? Prepend::always
              : scheme == "first" ? Prepend::first
                                  : Prepend::never;
  };
  read_metaspace(meta, tok.replacement_, tok.prepend_);
  tok.split_ = meta.value("split", true);

  // -- the decoder: Metaspace
  const json dec = j.value("decoder", json());
  fail_if(!dec.is_object() || dec.value("type", "") != "Metaspace", "a Metaspace decoder", dec);
  Prepend dec_prepend = Prepend::always;
  read_metaspace(dec, tok.decoder_replacement_, dec_prepend);
  tok.decoder_strip_first_ = dec_prepend != Prepend::never;

  // -- the post-processor: TemplateProcessing (or none)
  const json pp = j.value("post_processor", json());
  if (!pp.is_null()) {
    fail_if(!pp.is_object() || pp.value("type", "") != "TemplateProcessing",
            "a TemplateProcessing post-processor (or none)", pp);
    const json specials = pp.value("special_tokens", json::object());
    auto parse_template = [&](const char* key, std::vector<TemplatePart>& out) {
      const json list = pp.value(key, json());
      fail_if(!list.is_array(), std::string("post_processor.") + key + " as an array", pp);
      for (const json& part : list) {
        TemplatePart t{};
        if (part.contains("Sequence") && part["Sequence"].is_object()) {
          const std::string which = part["Sequence"].value("id", "");
          fail_if(which != "A" && which != "B", "a template Sequence A or B", part);
          t.sequence = true;
          t.which = which == "A" ? 0 : 1;
          t.type_id = part["Sequence"].value("type_id", 0);
        } else {
          fail_if(!part.contains("SpecialToken") || !part["SpecialToken"].is_object(),
                  "a template part Sequence or SpecialToken", part);
          const std::string name = part["SpecialToken"].value("id", "");
          const json sp = specials.is_object() ? specials.value(name, json()) : json();
          fail_if(!sp.is_object() || !sp.contains("ids") || !sp["ids"].is_array(),
                  "special_tokens[\"" + name + "\"] with its ids",
                  pp.value("special_tokens", json()));
          for (const json& id : sp["ids"]) {
            fail_if(!id.is_number_integer() || id.get<int64_t>() < 0 ||
                        id.get<int64_t>() >= static_cast<int64_t>(tok.pieces_.size()),
                    "a special token id in the vocabulary", id);
            t.ids.push_back(id.get<int64_t>());
          }
          t.type_id = part["SpecialToken"].value("type_id", 0);
        }
        out.push_back(std::move(t));
      }
    };
    parse_template("single", tok.single_);
    parse_template("pair", tok.pair_);
  } else {
    tok.single_ = {TemplatePart{true, 0, {}, 0}};
    tok.pair_ = {TemplatePart{true, 0, {}, 0}, TemplatePart{true, 1, {}, 1}};
  }
  for (const TemplatePart& t : tok.single_) {
    if (t.sequence || t.ids.empty()) continue;
    if (tok.bos_id_ < 0) tok.bos_id_ = t.ids.front();
    tok.eos_id_ = t.ids.back();
  }
  auto find = [&](const std::string& t) -> int64_t {
    auto it = tok.token_to_id_.find(t);
    return t.empty() || it == tok.token_to_id_.end() ? -1 : it->second;
  };
  tok.pad_id_ = find(options.pad_token());
  tok.mask_id_ = find(options.mask_token());
  tok.special_id_.assign(tok.pieces_.size(), false);
  for (const auto& a : tok.added_.tokens()) {
    if (a.special) tok.special_id_[static_cast<std::size_t>(a.id)] = true;
  }
  return tok;
}

inline UnigramTokenizer UnigramTokenizer::from_pretrained(const std::string& dir) {
  UnigramTokenizerOptions opt;
  const std::string config_path = dir + "/tokenizer_config.json";
  if (std::ifstream(config_path).good()) {
    const nlohmann::json j =
        detail::parse_tokenizer_json_file(config_path, kWho, "tokenizer config");
    auto name = [&](const char* key, std::string& out) {
      if (!j.is_object() || !j.contains(key)) return;
      const nlohmann::json& v = j[key];
      if (v.is_string()) out = v.get<std::string>();
      if (v.is_object() && v.contains("content") && v["content"].is_string())
        out = v["content"].get<std::string>();
    };
    std::string pad = opt.pad_token(), mask = opt.mask_token();
    name("pad_token", pad);
    name("mask_token", mask);
    opt.pad_token(pad).mask_token(mask);
  }
  return from_tokenizer_json(dir + "/tokenizer.json", std::move(opt));
}

// -- normalization -----------------------------------------------------------------------------

// tokenizers' Precompiled::normalize (normalizers/precompiled.rs): graphemes, then characters.
inline void UnigramTokenizer::precompiled_(Normalized& n) const {
  std::vector<std::pair<char32_t, int>> dest;
  dest.reserve(n.text.size());
  bool modified = false;
  std::string bytes;
  std::vector<char32_t> repl;
  // Looks `bytes` up; on a hit appends the replacement for `old_count` characters and returns
  // true. Replacement characters map one-to-one onto the old ones; fewer: the first removes the
  // rest; more: the extra ones are inserted; none: the previous character removes them.
  auto lookup = [&](std::size_t old_count) {
    const int64_t v = detail::charsmap_first_prefix(
        charsmap_trie_bytes_, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    if (v < 0 || static_cast<std::size_t>(v) > charsmap_normalized_.size()) return false;
    const std::size_t from = static_cast<std::size_t>(v);
    const std::size_t to =
        std::min(charsmap_normalized_.find('\0', from), charsmap_normalized_.size());
    repl.clear();
    detail::utf8_decode(std::string_view(charsmap_normalized_).substr(from, to - from), repl);
    modified = true;
    const auto old_n = static_cast<int>(old_count), new_n = static_cast<int>(repl.size());
    if (new_n == 0) {
      if (!dest.empty()) dest.back().second -= old_n;
      return true;
    }
    for (int i = 0; i < new_n; ++i) {
      const int change = i == 0 ? std::min(0, new_n - old_n) : (i < old_n ? 0 : 1);
      dest.emplace_back(repl[static_cast<std::size_t>(i)], change);
    }
    return true;
  };
  const std::u32string& t = n.text;
  std::size_t g = 0;
  while (g < t.size()) {
    std::size_t ge = g + 1;
    utf8proc_int32_t state = 0;
    while (ge < t.size() &&
           !utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(t[ge - 1]),
                                             static_cast<utf8proc_int32_t>(t[ge]), &state))
      ++ge;
    bytes.clear();
    for (std::size_t k = g; k < ge; ++k) detail::utf8_append(t[k], bytes);
    if (!(bytes.size() < 6 && lookup(ge - g))) {
      for (std::size_t k = g; k < ge; ++k) {
        bytes.clear();
        detail::utf8_append(t[k], bytes);
        if (!lookup(1)) dest.emplace_back(t[k], 0);
      }
    }
    g = ge;
  }
  if (modified) n.transform(0, n.text.size(), dest, 0);
}

inline void UnigramTokenizer::normalize_(Normalized& n) const {
  for (const NormStep& step : norm_) {
    switch (step.kind) {
      case NormStep::Kind::precompiled:
        precompiled_(n);
        break;
      case NormStep::Kind::strip: {  // NormalizedString::lrstrip
        std::size_t lead = 0, trail = 0;
        if (step.left)
          while (lead < n.text.size() && detail::is_whitespace(n.text[lead])) ++lead;
        if (step.right)
          while (trail < n.text.size() - lead &&
                 detail::is_whitespace(n.text[n.text.size() - 1 - trail]))
            ++trail;
        n.text.erase(n.text.size() - trail);
        n.align.erase(n.align.end() - static_cast<std::ptrdiff_t>(trail), n.align.end());
        n.text.erase(0, lead);
        n.align.erase(n.align.begin(), n.align.begin() + static_cast<std::ptrdiff_t>(lead));
        break;
      }
      case NormStep::Kind::replace_string:
      case NormStep::Kind::replace_run: {
        // Non-overlapping leftmost matches, all replaced in one pass.
        std::vector<std::pair<std::size_t, std::size_t>> matches;
        const std::u32string& t = n.text;
        for (std::size_t i = 0; i < t.size();) {
          std::size_t e = i;
          if (step.kind == NormStep::Kind::replace_string) {
            if (t.compare(i, step.pattern.size(), step.pattern) == 0) e = i + step.pattern.size();
          } else {
            while (e < t.size() && t[e] == step.run_char) ++e;
            if (e - i < step.run_min) e = i;
          }
          if (e > i) {
            matches.emplace_back(i, e);
            i = e;
          } else {
            ++i;
          }
        }
        n.replace_all(matches, step.content);
        break;
      }
    }
  }
}

inline std::string UnigramTokenizer::normalize(std::string_view text) const {
  Normalized n;
  std::vector<std::size_t> starts;
  detail::utf8_decode_with_offsets(text, n.text, starts);
  for (std::size_t k = 0; k < n.text.size(); ++k) n.align.emplace_back(k, k + 1);
  normalize_(n);
  std::string out;
  for (char32_t c : n.text) detail::utf8_append(c, out);
  return out;
}

// -- the model -----------------------------------------------------------------------------------

// tokenizers' Unigram::encode_optimized + tokenize: (id, byte length) per token of `bytes`.
inline void UnigramTokenizer::viterbi_(const std::string& bytes,
                                       std::vector<std::pair<int32_t, std::size_t>>& out) const {
  out.clear();
  const std::size_t size = bytes.size();
  if (size == 0) return;
  struct Node {
    int32_t id = -1;
    double score = 0;
    std::size_t start = 0;
    bool set = false;
  };
  std::vector<Node> best(size + 1);
  best[0].set = true;
  const double unk_score = min_score_ - 10.0;  // K_UNK_PENALTY
  std::size_t pos = 0;
  while (pos < size) {
    const auto b0 = static_cast<unsigned char>(bytes[pos]);
    std::size_t mblen = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
    mblen = std::min(mblen, size - pos);
    const double here = best[pos].score;
    bool single = false;
    int32_t node = 0;
    for (std::size_t k = pos; k < size; ++k) {  // common_prefix_search, shortest first
      auto it = trie_next_.find((uint64_t{static_cast<uint32_t>(node)} << 8) |
                                static_cast<unsigned char>(bytes[k]));
      if (it == trie_next_.end()) break;
      node = it->second;
      const int32_t id = trie_id_[static_cast<std::size_t>(node)];
      if (id < 0) continue;
      Node& target = best[k + 1];
      const double cand = here + scores_[static_cast<std::size_t>(id)];
      if (!target.set || cand > target.score) {
        target = Node{id, cand, pos, true};
      }
      if (k + 1 - pos == mblen) single = true;
    }
    if (!single) {
      EMBER_CHECK(unk_id_ >= 0, kWho,
                  ": the text has a character with no piece, and the model "
                  "has no unk_id");
      Node& target = best[pos + mblen];
      const double cand = here + unk_score;
      if (!target.set || cand > target.score) {
        target = Node{static_cast<int32_t>(unk_id_), cand, pos, true};
      }
    }
    pos += mblen;
  }
  // Back from the end; consecutive unknowns are fused (fuse_unk), the fused text looked up again.
  std::vector<std::pair<int32_t, std::size_t>> rev;
  std::size_t end = size, unk_end = 0;
  bool in_unk = false;
  auto flush_unk = [&](std::size_t begin) {
    auto it = token_to_id_.find(bytes.substr(begin, unk_end - begin));
    rev.emplace_back(it != token_to_id_.end() ? it->second : static_cast<int32_t>(unk_id_),
                     unk_end - begin);
    in_unk = false;
  };
  std::size_t unk_begin = 0;
  while (end > 0) {
    const Node& nd = best[end];
    const std::size_t start = nd.start;
    if (unk_id_ >= 0 && nd.id == unk_id_) {
      if (!in_unk) unk_end = end;
      in_unk = true;
      unk_begin = start;
    } else {
      if (in_unk) flush_unk(unk_begin);
      auto it = token_to_id_.find(bytes.substr(start, end - start));
      rev.emplace_back(it != token_to_id_.end() ? it->second : static_cast<int32_t>(unk_id_),
                       end - start);
    }
    end = start;
  }
  if (in_unk) flush_unk(unk_begin);
  out.assign(rev.rbegin(), rev.rend());
}

// Pre-tokenizes one normalized piece (WhitespaceSplit, Metaspace) and runs the model on each word.
inline void UnigramTokenizer::word_tokens_(const Normalized& piece, std::vector<Tok>& out) const {
  std::vector<Normalized> words;
  if (whitespace_split_) {
    for (std::size_t i = 0; i < piece.text.size();) {
      if (detail::is_whitespace(piece.text[i])) {
        ++i;
        continue;
      }
      std::size_t e = i;
      while (e < piece.text.size() && !detail::is_whitespace(piece.text[e])) ++e;
      words.push_back(piece.slice(i, e));
      i = e;
    }
  } else {
    words.push_back(piece);
  }
  std::string bytes;
  std::vector<std::size_t> byte_char;
  std::vector<std::pair<int32_t, std::size_t>> toks;
  for (Normalized& w : words) {
    // Metaspace: ' ' → '▁' (one character for one: the alignment stays), the prefix, then a
    // split before every '▁' (MergedWithNext).
    std::replace(w.text.begin(), w.text.end(), char32_t{' '}, replacement_);
    const bool prepend =
        prepend_ == Prepend::always || (prepend_ == Prepend::first && w.shift == 0);
    if (prepend && !w.text.empty() && w.text[0] != replacement_)
      w.transform(0, 1, {{replacement_, 0}, {w.text[0], 1}}, 0);
    std::size_t b = 0;
    while (b < w.text.size()) {
      std::size_t e = b + 1;
      if (split_)
        while (e < w.text.size() && w.text[e] != replacement_) ++e;
      else
        e = w.text.size();
      bytes.clear();
      byte_char.clear();
      for (std::size_t k = b; k < e; ++k) {
        detail::utf8_append(w.text[k], bytes);
        byte_char.resize(bytes.size(), k);
      }
      viterbi_(bytes, toks);
      std::size_t pos = 0;
      for (const auto& [id, len] : toks) {
        const std::size_t first = byte_char[pos], last = byte_char[pos + len - 1];
        out.push_back(Tok{id, w.align[first].first, w.align[last].second});
        pos += len;
      }
      b = e;
    }
  }
}

inline UnigramTokenizer::Seq UnigramTokenizer::encode_seq_(std::string_view text) const {
  Seq seq;
  std::u32string cps;
  detail::utf8_decode_with_offsets(text, cps, seq.starts);
  std::vector<std::pair<std::size_t, std::size_t>> pieces{{0, cps.size()}};
  std::vector<int32_t> piece_ids{-1};
  added_.split(cps, pieces, piece_ids, /*normalized=*/false);
  for (std::size_t p = 0; p < pieces.size(); ++p) {
    const auto [b, e] = pieces[p];
    if (piece_ids[p] >= 0) {
      seq.toks.push_back(Tok{piece_ids[p], b, e});
      continue;
    }
    if (b == e) continue;
    Normalized n;
    n.text = cps.substr(b, e - b);
    for (std::size_t k = b; k < e; ++k) n.align.emplace_back(k, k + 1);
    n.shift = b;
    normalize_(n);
    // Tokens with normalized=true are matched in the normalized text.
    std::vector<std::pair<std::size_t, std::size_t>> sub{{0, n.text.size()}};
    std::vector<int32_t> sub_ids{-1};
    added_.split(n.text, sub, sub_ids, /*normalized=*/true);
    for (std::size_t s = 0; s < sub.size(); ++s) {
      const auto [sb, se] = sub[s];
      if (sb == se) continue;
      if (sub_ids[s] >= 0) {
        seq.toks.push_back(Tok{sub_ids[s], n.align[sb].first, n.align[se - 1].second});
      } else {
        word_tokens_(sub.size() == 1 ? n : n.slice(sb, se), seq.toks);
      }
    }
  }
  return seq;
}

// -- post-processing and the public encoders -----------------------------------------------------

inline EncodingWithOffsets UnigramTokenizer::build_(Seq& a, Seq* b, std::size_t max_length,
                                                    bool add_special_tokens) const {
  const std::vector<TemplatePart>& tmpl = b != nullptr ? pair_ : single_;
  std::size_t added = 0;
  if (add_special_tokens) {
    for (const TemplatePart& t : tmpl) added += t.ids.size();
  }
  if (max_length > 0) {
    EMBER_CHECK(max_length >= added, kWho, "::encode: max_length ", max_length, " cannot hold the ",
                added, " special tokens");
    const std::size_t budget = max_length - added;
    if (b == nullptr) {
      if (a.toks.size() > budget) a.toks.resize(budget);
    } else {
      auto [na, nb] = truncate_pair(a.toks.size(), b->toks.size(), budget);
      a.toks.resize(na);
      b->toks.resize(nb);
    }
  }
  EncodingWithOffsets e;
  auto append = [&](const Seq& s, int64_t type_id) {
    for (const Tok& t : s.toks) {
      e.input_ids.push_back(t.id);
      e.token_type_ids.push_back(type_id);
      e.offsets.emplace_back(s.starts[t.begin], s.starts[std::max(t.begin, t.end)]);
    }
  };
  if (!add_special_tokens) {
    append(a, 0);
    if (b != nullptr) append(*b, 1);
  } else {
    for (const TemplatePart& t : tmpl) {
      if (t.sequence) {
        append(t.which == 0 ? a : *b, t.type_id);
        continue;
      }
      for (int64_t id : t.ids) {
        e.input_ids.push_back(id);
        e.token_type_ids.push_back(t.type_id);
        e.offsets.emplace_back(0, 0);
      }
    }
  }
  e.attention_mask.assign(e.input_ids.size(), 1);
  return e;
}

inline std::vector<std::string> UnigramTokenizer::tokenize(std::string_view text) const {
  const Seq s = encode_seq_(text);
  std::vector<std::string> out;
  out.reserve(s.toks.size());
  for (const Tok& t : s.toks) out.push_back(pieces_[static_cast<std::size_t>(t.id)]);
  return out;
}

inline EncodingWithOffsets UnigramTokenizer::encode(std::string_view text, std::size_t max_length,
                                                    bool add_special_tokens) const {
  Seq a = encode_seq_(text);
  return build_(a, nullptr, max_length, add_special_tokens);
}

inline EncodingWithOffsets UnigramTokenizer::encode(std::string_view text_a,
                                                    std::string_view text_b, std::size_t max_length,
                                                    bool add_special_tokens) const {
  if (text_b.empty()) return encode(text_a, max_length, add_special_tokens);  // as transformers
  Seq a = encode_seq_(text_a);
  Seq b = encode_seq_(text_b);
  return build_(a, &b, max_length, add_special_tokens);
}

inline BatchEncoding UnigramTokenizer::encode_batch(const std::vector<std::string>& texts,
                                                    std::size_t max_length, Padding padding) const {
  std::vector<EncodingWithOffsets> rows;
  rows.reserve(texts.size());
  for (const auto& t : texts) rows.push_back(encode(t, max_length));
  return detail::pad_encodings(rows, max_length, padding, pad_id_, kWho);
}

inline BatchEncoding UnigramTokenizer::encode_batch(const std::vector<std::string>& texts_a,
                                                    const std::vector<std::string>& texts_b,
                                                    std::size_t max_length, Padding padding) const {
  EMBER_CHECK(texts_a.size() == texts_b.size(), kWho, "::encode_batch: ", texts_a.size(),
              " first sequences but ", texts_b.size(), " second sequences");
  std::vector<EncodingWithOffsets> rows;
  rows.reserve(texts_a.size());
  for (std::size_t i = 0; i < texts_a.size(); ++i) {
    Seq a = encode_seq_(texts_a[i]);
    Seq b = encode_seq_(texts_b[i]);  // an empty b stays a pair here, as in transformers
    rows.push_back(build_(a, &b, max_length, true));
  }
  return detail::pad_encodings(rows, max_length, padding, pad_id_, kWho);
}

// -- decoding and lookups ----------------------------------------------------------------------

inline bool UnigramTokenizer::is_special_id(int64_t id) const {
  return id >= 0 && static_cast<std::size_t>(id) < special_id_.size() &&
         special_id_[static_cast<std::size_t>(id)];
}

inline std::string UnigramTokenizer::decode(const std::vector<int64_t>& ids,
                                            bool skip_special_tokens) const {
  std::string out;
  std::vector<char32_t> cps;
  bool first = true;
  for (int64_t id : ids) {
    const std::string& tok = id_to_token(id);
    if (skip_special_tokens && is_special_id(id)) continue;
    cps.clear();
    detail::utf8_decode(tok, cps);
    for (char32_t c : cps) {
      if (c != decoder_replacement_)
        detail::utf8_append(c, out);
      else if (!(first && decoder_strip_first_))
        out.push_back(' ');
    }
    first = false;
  }
  return out;
}

inline int64_t UnigramTokenizer::token_to_id(std::string_view token) const {
  auto it = token_to_id_.find(std::string(token));
  return it == token_to_id_.end() ? unk_id_ : it->second;
}

inline bool UnigramTokenizer::contains(std::string_view token) const {
  return token_to_id_.count(std::string(token)) > 0;
}

inline const std::string& UnigramTokenizer::id_to_token(int64_t id) const {
  EMBER_CHECK(id >= 0 && static_cast<std::size_t>(id) < pieces_.size(), kWho, ": token id ", id,
              " is out of range [0, ", pieces_.size(), ")");
  return pieces_[static_cast<std::size_t>(id)];
}

inline double UnigramTokenizer::score(int64_t id) const {
  id_to_token(id);  // range check
  return scores_[static_cast<std::size_t>(id)];
}

}  // namespace ember::data
