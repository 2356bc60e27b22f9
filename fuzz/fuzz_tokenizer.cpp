// fuzz/fuzz_tokenizer.cpp — libFuzzer target for the tokenizer files and the tokenizer itself.
// The input is three parts separated by NUL bytes:
//     tokenizer_config.json \0 vocab.txt \0 text
// (one NUL: no text; none: the whole input is vocab.txt, without tokenizer_config.json). The files
// are written to a scratch folder and read by `WordPieceTokenizer::from_pretrained`, exactly as a
// model folder is; the text (split at its first tab into a pair) is then tokenized, encoded,
// truncated, batched and decoded. Bad files must raise ember::Error; text never may (the tokenizer
// accepts any bytes).
#include <ember/data/wordpiece_tokenizer.hpp>

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

using ember::data::WordPieceTokenizer;

void exercise(const WordPieceTokenizer& tok, std::string_view text) {
  const std::size_t tab = text.find('\t');
  const std::string_view a = text.substr(0, tab);
  const std::string_view b = tab == std::string_view::npos ? "" : text.substr(tab + 1);
  const std::vector<std::string> pieces = tok.tokenize(a);
  const std::size_t max_length = 3 + text.size() % 8;  // 3 to 10: every truncation case
  const ember::data::Encoding e = tok.encode(a, b, max_length);
  if (e.size() > max_length) std::abort();
  const auto batch = tok.encode_batch({std::string(a)}, {std::string(b)}, max_length,
                                      ember::data::Padding::max_length);
  // A pair batch row is encode(a, b) padded to max_length (unless b is empty: encode drops it).
  if (!b.empty() && !std::equal(e.input_ids.begin(), e.input_ids.end(), batch.input_ids.begin()))
    std::abort();
  std::vector<int64_t> ids = tok.tokenize_to_ids(b);
  if (ids.size() > 1) ids.insert(ids.end(), e.input_ids.begin(), e.input_ids.end());
  (void)tok.decode(ids, /*skip_special_tokens=*/pieces.size() % 2 == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  // Up to three parts: [config, vocab, text] after two NULs, [config, vocab] after one, and
  // [vocab] alone without any NUL (a folder without tokenizer_config.json).
  std::string_view in = ember::fuzz::as_text(data, size);
  std::string_view parts[3];
  std::size_t n = 0;
  for (std::size_t nul; n < 2 && (nul = in.find('\0')) != std::string_view::npos; ++n) {
    parts[n] = in.substr(0, nul);
    in.remove_prefix(nul + 1);
  }
  parts[n++] = in;
  if (n == 1) {
    ember::fuzz::remove_scratch("tokenizer_config.json");
    ember::fuzz::write_scratch("vocab.txt", parts[0]);
  } else {
    ember::fuzz::write_scratch("tokenizer_config.json", parts[0]);
    ember::fuzz::write_scratch("vocab.txt", parts[1]);
  }
  std::optional<WordPieceTokenizer> tok;
  try {
    tok.emplace(WordPieceTokenizer::from_pretrained(ember::fuzz::scratch_dir().string()));
  } catch (const ember::Error&) {
    return 0;
  }
  exercise(*tok, parts[2]);  // no try: any text is valid input
  return 0;
}
