// fuzz/fuzz_tokenizer_json.cpp — libFuzzer target for Hugging Face tokenizer.json files and the
// two tokenizers that read them, ByteLevelBPETokenizer (GPT-2 / RoBERTa) and UnigramTokenizer
// (XLM-R / SentencePiece). The input is two parts separated by the first NUL byte:
//     tokenizer.json \0 text
// (no NUL: the whole input is tokenizer.json, and only the fixed texts below are encoded). The
// file is written to a scratch folder and given to both loaders; whichever accepts it (a BPE or
// a Unigram model) then encodes the text (split at its first tab into a pair) and a few fixed
// texts: tokenize, encode with and without special tokens, pairs, truncation (to the special
// tokens alone, one more, half the text, all of it), encode_batch with padding, decode.
// Bad files must raise ember::Error. Text may not raise anything, except in a Unigram model
// without unk_id meeting a character it has no piece for (documented; tokenizers fails too).
// Checked as well: the lengths after truncation, that offsets lie inside their own text, and
// that a pair batch row is the pair's encoding.
#include <ember/data/bpe_tokenizer.hpp>
#include <ember/data/unigram_tokenizer.hpp>

#include "fuzz_util.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ember::data::EncodingWithOffsets;

bool offsets_inside(const EncodingWithOffsets& e, std::size_t len_a, std::size_t len_b) {
  if (e.offsets.size() != e.input_ids.size() || e.token_type_ids.size() != e.input_ids.size() ||
      e.attention_mask.size() != e.input_ids.size())
    return false;
  for (const auto& [b, en] : e.offsets) {
    if (b > en || en > std::max(len_a, len_b)) return false;
  }
  return true;
}

// Everything a user does with a loaded tokenizer, on one text (a, and b after the tab).
template <class Tokenizer>
void exercise(const Tokenizer& tok, std::string_view text) {
  const std::size_t tab = text.find('\t');
  const std::string_view a = text.substr(0, tab);
  const std::string_view b = tab == std::string_view::npos ? "" : text.substr(tab + 1);
  const std::vector<std::string> pieces = tok.tokenize(a);
  const EncodingWithOffsets plain = tok.encode(a, b, 0, /*add_special_tokens=*/false);
  const EncodingWithOffsets full = tok.encode(a, b);
  if (!offsets_inside(plain, a.size(), b.size()) || !offsets_inside(full, a.size(), b.size()))
    std::abort();
  if (b.empty() && pieces.size() != plain.size()) std::abort();
  // The templates' special tokens, counted on empty texts (encode drops an empty b; a batch of
  // pairs always uses the pair template). A template may leave out $A or $B, or repeat one, as
  // tokenizers allows: the lengths are checked only where it has each sequence once.
  const std::size_t single_specials = tok.encode("").size();
  const auto pair_specials = static_cast<std::size_t>(tok.encode_batch({""}, {""}).seq);
  const std::size_t specials = b.empty() ? single_specials : pair_specials;
  const bool plain_template = full.size() == plain.size() + specials;
  // Truncation to the special tokens alone, one more, half the text, exactly and one more than
  // needed (max_length 0 means "no truncation", so the smallest tried is 1).
  const std::size_t lengths[] = {std::max<std::size_t>(specials, 1), specials + 1,
                                 specials + plain.size() / 2, full.size(), full.size() + 1};
  for (std::size_t max_length : lengths) {
    if (max_length < std::max<std::size_t>(specials, 1)) continue;
    const EncodingWithOffsets t = tok.encode(a, b, max_length);
    if (!offsets_inside(t, a.size(), b.size())) std::abort();
    if (plain_template && t.size() != std::min(max_length, full.size())) std::abort();
  }
  const std::size_t max_length = pair_specials + 1 + text.size() % 8;
  if (tok.pad_token_id() >= 0) {
    const auto batch =
        tok.encode_batch({std::string(a), std::string(b)}, {std::string(b), std::string(a)},
                         max_length, ember::data::Padding::max_length);
    if (batch.batch != 2 || batch.seq != static_cast<int64_t>(max_length)) std::abort();
    // Row 0 is encode(a, b) truncated and padded, when b is not empty (encode drops it).
    const EncodingWithOffsets t = tok.encode(a, b, max_length);
    if (!b.empty() && t.size() <= max_length &&
        !std::equal(t.input_ids.begin(), t.input_ids.end(), batch.input_ids.begin()))
      std::abort();
  } else {
    (void)tok.encode_batch({std::string(a)}, {std::string(b)}, max_length);  // one row, no pad
  }
  (void)tok.decode(full.input_ids, /*skip_special_tokens=*/true);
  (void)tok.decode(full.input_ids, /*skip_special_tokens=*/false);
  for (int64_t id : plain.input_ids) {
    if (tok.token_to_id(tok.id_to_token(id)) < 0) std::abort();  // every id names a token
  }
}

// The fixed texts: words, spaces of every kind, an added token, invalid UTF-8, a pair.
constexpr std::string_view kTexts[] = {
    "Hello, y'all!  How are you \xF0\x9F\x98\x81 ?\tI'm fine <mask> thanks.",
    " \xEF\xAC\x81 e\xCC\x81t\xC3\xA9\t\t\xE4\xB8\xAD\xE6\x96\x87  \xE3\x80\x80x\xC2\xA0",
    "\xFF\xFE<s>a</s> \n\r\n  <pad>b<unk>",
};

template <class Tokenizer>
void exercise_all(const Tokenizer& tok, std::string_view text, bool text_may_throw) {
  try {
    exercise(tok, text);
    for (std::string_view t : kTexts) exercise(tok, t);
  } catch (const ember::Error&) {
    if (!text_may_throw) std::abort();  // a text raised: a finding
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view in = ember::fuzz::as_text(data, size);
  const std::size_t nul = in.find('\0');
  const std::string_view file = in.substr(0, nul);
  const std::string_view text = nul == std::string_view::npos ? "" : in.substr(nul + 1);
  const std::string path = ember::fuzz::write_scratch("tokenizer.json", file);
  std::optional<ember::data::ByteLevelBPETokenizer> bpe;
  try {
    bpe.emplace(ember::data::ByteLevelBPETokenizer::from_tokenizer_json(path));
  } catch (const ember::Error&) {
  }
  if (bpe) exercise_all(*bpe, text, /*text_may_throw=*/false);
  std::optional<ember::data::UnigramTokenizer> unigram;
  try {
    unigram.emplace(ember::data::UnigramTokenizer::from_tokenizer_json(path));
  } catch (const ember::Error&) {
  }
  if (unigram) exercise_all(*unigram, text, /*text_may_throw=*/unigram->unk_token_id() < 0);
  return 0;
}
