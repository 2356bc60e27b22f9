// ember/data/conll.hpp — CoNLL-style token-classification files (named-entity tagging): one token
// and its tag per line, a blank line between sentences, as the CoNLL-2003 and WNUT 2017 shared
// tasks distribute them and as Hugging Face's run_ner example reads them.
//
// Format (decisions, each a rule of the reader):
//   * Lines end with "\n"; a "\r" before it is dropped ("\r\n" files read the same). A UTF-8
//     byte-order mark is skipped; the text must be UTF-8.
//   * A line that is empty or holds only spaces and tabs ends the current sentence (WNUT 2017's
//     train.conll separates 2,394 of its sentences by a line holding one tab). Several such lines
//     in a row end one sentence; the last sentence needs no blank line after it.
//   * A line starting with "-DOCSTART-" (CoNLL-2003's document marker) is skipped and ends the
//     current sentence, as Hugging Face's conll2003 loader does.
//   * Any other line holds fields. With a tab in the line, the fields are what the tabs separate
//     (one tab, one separator: "New York<TAB>B-location" is one token with a space in it); without
//     one, the fields are separated by runs of spaces (CoNLL-2003: "EU NNP B-NP B-ORG"). Spaces
//     around a field and spaces and tabs at the end of the line are ignored (a tab at its start
//     is not: "<TAB>O" is a tag without a token, an error). The token is the FIRST
//     field and the tag the LAST one (run_ner: `splits[0]`, `splits[-1]`); fields in between
//     (CoNLL-2003's part-of-speech and chunk columns) are ignored.
//   * Tags are kept as written (any scheme: BIO/IOB2, IOBES, plain labels); the metrics in
//     <ember/train/metrics.hpp> read them as seqeval does.
//   * A file (or text) without a single token line is an error, not an empty dataset: an empty
//     or truncated file, or the wrong path, is almost always a mistake in a training script.
//
// Errors: ember::Error naming the file and the 1-based line ("data/train.conll:17: ..."), what
// was expected and what was found, for: a missing file or a directory, bytes that are not UTF-8,
// an ASCII control character other than tab (a binary file), a line with a single field (a token
// without its tag), an empty token (a line starting with a tab), a tag holding a space (in a
// tab-separated line), and a file without any token.
#pragma once

#include <ember/core/error.hpp>
#include <ember/data/text_dataset.hpp>

#include <algorithm>
#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ember::data {

// ---------------------------------------------------------------------------------------------
// Synopsis
// ---------------------------------------------------------------------------------------------

/// One sentence of a token-classification file: tokens[i] carries tags[i] (same size, >= 1).
struct TokenClassificationExample {
  std::vector<std::string> tokens;
  std::vector<std::string> tags;
};

/// Reads the CoNLL file at `path` (format and errors: the header comment): its sentences in file
/// order, each with as many tags as tokens and at least one token. Throws `ember::Error` naming
/// the file and line for a missing file, non-UTF-8 bytes, a malformed line, or no token at all.
inline std::vector<TokenClassificationExample> read_conll(const std::string& path);

/// The same from text in memory; `name` stands for the file in error messages.
inline std::vector<TokenClassificationExample> parse_conll(std::string_view text,
                                                           const std::string& name = "<conll>");

/// The distinct tags of `examples`, sorted by bytes (Unicode code-point order for UTF-8): the
/// label list Hugging Face's run_ner builds (`get_label_list`: the unique labels, sorted), so
/// position i is the id of tag i. Empty for no examples.
inline std::vector<std::string> conll_label_list(
    const std::vector<TokenClassificationExample>& examples);

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------
namespace detail {

/// At most ~40 bytes of `s` for an error message, cut on a UTF-8 character boundary.
inline std::string conll_excerpt(std::string_view s) {
  if (s.size() <= 40) return std::string(s);
  std::size_t n = 40;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

inline std::string_view conll_trim(std::string_view s) {
  const std::size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

/// Parses `text` (valid UTF-8, no BOM) into sentences; `name` names the source in errors.
inline std::vector<TokenClassificationExample> parse_conll_lines(std::string_view text,
                                                                 const std::string& name) {
  std::vector<TokenClassificationExample> out;
  TokenClassificationExample cur;
  auto flush = [&] {
    if (!cur.tokens.empty()) out.push_back(std::move(cur));
    cur = TokenClassificationExample{};
  };
  auto fail_at = [&](std::size_t line_no, const auto&... what) {
    EMBER_FAIL("read_conll: ", name, ":", line_no, ": ", what...);
  };
  std::vector<std::string_view> fields;
  std::size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    for (std::size_t i = 0; i < line.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      if ((c < 0x20 && c != '\t') || c == 0x7F) {
        static const char* hex = "0123456789ABCDEF";
        fail_at(line_no, "expected text, found the control character 0x", hex[c >> 4],
                hex[c & 15], " at column ", i + 1, " (is this a CoNLL text file?)");
      }
    }
    if (conll_trim(line).empty() || line.substr(0, 10) == "-DOCSTART-") {
      flush();
      continue;
    }
    // Trailing spaces and tabs dropped; leading ones kept, so "<TAB>O" is a token-less line.
    const std::string_view body = line.substr(0, line.find_last_not_of(" \t") + 1);
    fields.clear();
    if (body.find('\t') != std::string_view::npos) {
      std::size_t start = 0;
      while (true) {
        const std::size_t t = body.find('\t', start);
        fields.push_back(conll_trim(body.substr(start, t == std::string_view::npos ? t : t - start)));
        if (t == std::string_view::npos) break;
        start = t + 1;
      }
    } else {
      std::size_t i = 0;
      while (i < body.size()) {
        const std::size_t b = body.find_first_not_of(' ', i);
        if (b == std::string_view::npos) break;
        const std::size_t e = std::min(body.find(' ', b), body.size());
        fields.push_back(body.substr(b, e - b));
        i = e;
      }
    }
    if (fields.size() < 2)
      fail_at(line_no, "expected a token and its tag (`token<TAB>tag`, or separated by spaces), "
                       "found one field '", conll_excerpt(fields.front()), "'");
    const std::string_view token = fields.front(), tag = fields.back();
    if (token.empty())
      fail_at(line_no, "expected a token before the first tab, found none (line '",
              conll_excerpt(body), "')");
    if (tag.find(' ') != std::string_view::npos)
      fail_at(line_no, "expected a tag without spaces after the last tab, found '",
              conll_excerpt(tag), "'");
    cur.tokens.emplace_back(token);
    cur.tags.emplace_back(tag);
  }
  flush();
  EMBER_CHECK(!out.empty(), "read_conll: ", name,
              ": expected sentences of `token<TAB>tag` lines, found ",
              text.empty() ? "an empty file" : "no token line (only blank and -DOCSTART- lines)");
  return out;
}

}  // namespace detail

inline std::vector<TokenClassificationExample> read_conll(const std::string& path) {
  // read_text_file: exists, not a directory, readable; BOM skipped; UTF-8 checked (file:line).
  const std::string text = detail::read_text_file(path, "read_conll");
  return detail::parse_conll_lines(text, path);
}

inline std::vector<TokenClassificationExample> parse_conll(std::string_view text,
                                                           const std::string& name) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  detail::check_utf8(text, name, "read_conll");
  return detail::parse_conll_lines(text, name);
}

inline std::vector<std::string> conll_label_list(
    const std::vector<TokenClassificationExample>& examples) {
  std::set<std::string> tags;  // std::string orders by unsigned bytes = code points for UTF-8
  for (const TokenClassificationExample& e : examples) tags.insert(e.tags.begin(), e.tags.end());
  return {tags.begin(), tags.end()};
}

}  // namespace ember::data
