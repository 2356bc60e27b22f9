// fuzz/fuzz_bpe_files.cpp — libFuzzer target for the legacy GPT-2 / RoBERTa files, vocab.json and
// merges.txt, read by the ByteLevelBPETokenizer constructor, and for the tokenizer built from
// them. The first byte of the input picks the options, the rest is three parts separated by NUL
// bytes:
//     byte % 2          add_prefix_space
//     byte / 2 % 2      1: trim_offsets off
//     byte / 4 % 2      1: GPT-2's ByteLevel post-processor instead of RobertaProcessing
//     byte / 8 % 2      1: no word cache (cache_capacity 0)
//     vocab.json \0 merges.txt \0 text
// (one NUL: no text, the fixed texts only). The files are written to a scratch folder; the text
// (split at its first tab into a pair) and a few fixed texts are then tokenized, encoded (pairs,
// truncation), batched and decoded. Bad files must raise ember::Error; text never may (the
// tokenizer accepts any bytes).
#include <ember/data/bpe_tokenizer.hpp>

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

using ember::data::ByteLevelBPETokenizer;
using ember::data::EncodingWithOffsets;

void exercise(const ByteLevelBPETokenizer& tok, std::string_view text) {
  const std::size_t tab = text.find('\t');
  const std::string_view a = text.substr(0, tab);
  const std::string_view b = tab == std::string_view::npos ? "" : text.substr(tab + 1);
  const std::vector<std::string> pieces = tok.tokenize(a);
  const EncodingWithOffsets plain = tok.encode(a, 0, /*add_special_tokens=*/false);
  if (pieces.size() != plain.size()) std::abort();
  const EncodingWithOffsets full = tok.encode(a, b);
  for (const auto& [s, e] : full.offsets) {
    if (s > e || e > std::max(a.size(), b.size())) std::abort();
  }
  const std::size_t specials = tok.roberta_processing() ? (b.empty() ? 2 : 4) : 0;
  const std::size_t max_length = specials + 1 + text.size() % 8;
  const EncodingWithOffsets cut = tok.encode(a, b, max_length);
  if (cut.size() != std::min(max_length, full.size())) std::abort();
  if (tok.pad_token_id() >= 0) {
    const std::size_t batch_length = (tok.roberta_processing() ? 4 : 0) + 1 + text.size() % 8;
    const auto batch = tok.encode_batch({std::string(a)}, {std::string(b)}, batch_length,
                                        ember::data::Padding::max_length);
    if (batch.seq != static_cast<int64_t>(batch_length)) std::abort();
  }
  (void)tok.decode(full.input_ids, /*skip_special_tokens=*/true);
  (void)tok.decode(full.input_ids, /*skip_special_tokens=*/false);
}

constexpr std::string_view kTexts[] = {
    "Hello, y'all!  How are you \xF0\x9F\x98\x81 ?\tI'm fine <mask> thanks.",
    " \xEF\xAC\x81 e\xCC\x81t\xC3\xA9\t\t\xE4\xB8\xAD\xE6\x96\x87  \xE3\x80\x80x\xC2\xA0 '' 's 'LL",
    "\xFF\xFE<s>a</s> \n\r\n  <pad>b<unk> 123 4\xD9\xA3",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned mode = data[0];
  std::string_view in = ember::fuzz::as_text(data + 1, size - 1);
  std::string_view parts[3];
  std::size_t n = 0;
  for (std::size_t nul; n < 2 && (nul = in.find('\0')) != std::string_view::npos; ++n) {
    parts[n] = in.substr(0, nul);
    in.remove_prefix(nul + 1);
  }
  parts[n] = in;  // no NUL: vocab.json alone, an empty merges.txt
  const std::string vocab = ember::fuzz::write_scratch("vocab.json", parts[0]);
  const std::string merges = ember::fuzz::write_scratch("merges.txt", parts[1]);
  ember::data::ByteLevelBPETokenizerOptions opt;
  opt.add_prefix_space(mode % 2 == 1)
      .trim_offsets(mode / 2 % 2 == 0)
      .roberta_processing(mode / 4 % 2 == 0)
      .cache_capacity(mode / 8 % 2 == 1 ? 0 : 10000);
  std::optional<ByteLevelBPETokenizer> tok;
  try {
    tok.emplace(vocab, merges, opt);
  } catch (const ember::Error&) {
    return 0;
  }
  exercise(*tok, parts[2]);  // no try: any text is valid input
  for (std::string_view t : kTexts) exercise(*tok, t);
  return 0;
}
