// ember/data/text_dataset.hpp — `TextClassificationDataset`: rows of (text[, text pair], label)
// read from a TSV, CSV or JSONL file, with labels mapped to class ids.
//
// Formats (chosen by extension, or set explicitly with TextDatasetOptions::format):
//   .tsv    GLUE's format: fields separated by one tab, no quoting at all (a field cannot hold a
//           tab or a newline), first line a header such as `sentence<TAB>label`.
//   .csv    RFC 4180: fields separated by commas; a field may be enclosed in double quotes, and
//           then may hold commas, newlines, and quotes written twice (`"say ""hi"", then go"`).
//           A quote inside an unquoted field is kept literally (as Python's csv module does);
//           anything but a comma or a line end after a closing quote is an error.
//   .jsonl  one JSON object per line (JSON Lines, also .ndjson); the text fields must be strings,
//           the label a JSON integer or string. has_header does not apply.
// In every format: a UTF-8 byte-order mark is skipped, "\r\n" line ends are accepted, blank lines
// are skipped, and every row must have the same number of fields as the header (or, without a
// header, as the first row). Texts are kept byte for byte; labels are trimmed of surrounding
// spaces and tabs.
//
// Labels → class ids (deterministic, so the same file always gives the same mapping):
//   * every label a non-negative decimal integer below 1,000,000 written canonically ("0", "7",
//     not "07" or "+7"): the integer IS the id, and its decimal string is the name. num_labels is
//     the largest label + 1 (SST-2's "0"/"1" → ids 0/1, id2label ["0", "1"]).
//   * otherwise (any label not such an integer): the distinct labels sorted lexicographically by
//     bytes get ids 0, 1, 2, ... ("neg", "pos" → 0, 1; "-1", "0", "1" → 0, 1, 2).
//   * TextDatasetOptions::label2id(mapping) fixes the mapping instead (the one a trained model was
//     trained with, so evaluation data maps the same way); a label not in it is an error.
//
// Errors: ember::Error, naming the file and the 1-based line ("data/train.csv:17: ...") for a
// missing file, an unknown extension, a header without the requested column, a row with the
// wrong number of fields, an empty label, an unterminated quote (line where the record starts),
// an invalid JSON line, a JSON object without the text or label field or with a field of the
// wrong type, a label outside a given label2id, and a file with no examples.
#pragma once

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>
#include <ember/core/generator.hpp>

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::data {

// ---------------------------------------------------------------------------------------------
// Synopsis
// ---------------------------------------------------------------------------------------------

/// File format of a text dataset; auto_detect looks at the extension (.tsv, .csv, .jsonl/.ndjson).
enum class TextFormat { auto_detect, tsv, csv, jsonl };

/// How to read a dataset file. Chainable:
/// `TextDatasetOptions().text_column("premise").text_pair_column("hypothesis")`.
/// With a header (TSV/CSV default) columns are found by name; with has_header(false) by index.
/// JSONL always uses the names (as object keys).
struct TextDatasetOptions {
  using Label2Id = std::map<std::string, int64_t>;
  EMBER_ARG(TextFormat, format) = TextFormat::auto_detect;
  /// TSV/CSV: whether the first row names the columns (default true).
  EMBER_ARG(bool, has_header) = true;
  EMBER_ARG(std::string, text_column) = "sentence";
  /// Empty (the default): single texts, no pair.
  EMBER_ARG(std::string, text_pair_column);
  EMBER_ARG(std::string, label_column) = "label";
  /// Without a header: 0-based column indices (defaults: text 0, pair none (-1), label 1).
  EMBER_ARG(int64_t, text_index) = 0;
  EMBER_ARG(int64_t, text_pair_index) = -1;
  EMBER_ARG(int64_t, label_index) = 1;
  /// A fixed label → id mapping (ids distinct, >= 0); labels outside it are errors.
  /// Empty (the default): built from the labels found in the file.
  EMBER_ARG(Label2Id, label2id);

 public:
  /// Whether rows carry a second text (pair column named, or pair index >= 0 without header).
  bool has_text_pair(bool header) const {
    return header ? !text_pair_column_.empty() : text_pair_index_ >= 0;
  }
};

/// One example: the text, the second text of a pair task (empty when none), the class id.
struct TextExample {
  std::string text;
  std::string text_pair;
  int64_t label_id = 0;
};

class TextClassificationDataset {
 public:
  /// Reads `path` (see the header comment for formats, label mapping and errors).
  explicit TextClassificationDataset(const std::string& path, TextDatasetOptions options = {});

  /// From memory: texts[i] with labels[i] (and text_pairs[i] when text_pairs is not empty), the
  /// labels mapped as a file's would be (or by label2id). Errors name row i as "<rows>:i+1".
  static TextClassificationDataset from_rows(
      std::vector<std::string> texts, std::vector<std::string> labels,
      std::vector<std::string> text_pairs = {},
      std::optional<std::map<std::string, int64_t>> label2id = std::nullopt);

  /// A seeded random sample of `count` examples (all of them when count >= size()), in the
  /// sampled order, keeping this dataset's label mapping. Throws `ember::Error` for count < 1.
  TextClassificationDataset subset(int64_t count, uint64_t seed) const {
    EMBER_CHECK(count >= 1, "TextClassificationDataset::subset: count must be >= 1, found ", count);
    std::vector<int64_t> idx(examples_.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = int64_t(i);
    Generator gen(seed);
    for (int64_t i = int64_t(idx.size()) - 1; i > 0; --i)  // Fisher–Yates
      std::swap(idx[std::size_t(i)], idx[gen.randint(uint64_t(i) + 1)]);
    TextClassificationDataset out = *this;
    out.examples_.clear();
    for (int64_t i = 0; i < std::min<int64_t>(count, size()); ++i)
      out.examples_.push_back(examples_[std::size_t(idx[std::size_t(i)])]);
    return out;
  }

  /// Number of examples (always > 0).
  int64_t size() const { return static_cast<int64_t>(examples_.size()); }
  /// Example i, 0 <= i < size() (ember::Error otherwise).
  const TextExample& example(int64_t i) const;
  const std::vector<TextExample>& examples() const { return examples_; }
  /// Number of classes: id2label().size().
  int64_t num_labels() const { return static_cast<int64_t>(id2label_.size()); }
  /// Class id → label name.
  const std::vector<std::string>& id2label() const { return id2label_; }
  /// Label name → class id.
  const std::map<std::string, int64_t>& label2id() const { return label2id_; }
  /// How many examples carry each class id ([num_labels]).
  std::vector<int64_t> label_counts() const;
  /// True when the examples are text pairs.
  bool has_text_pair() const { return has_text_pair_; }
  /// The file read (or "<rows>").
  const std::string& path() const { return path_; }

 private:
  struct RawRow {  // one parsed row before labels become ids
    std::string text, text_pair, label;
    int64_t line = 0;
  };
  TextClassificationDataset() = default;
  void read_delimited_(const std::string& content, char delimiter, const TextDatasetOptions& opt,
                       std::vector<RawRow>& rows) const;
  void read_jsonl_(const std::string& content, const TextDatasetOptions& opt,
                   std::vector<RawRow>& rows) const;
  void build_(std::vector<RawRow>& rows,
              const std::optional<std::map<std::string, int64_t>>& fixed_label2id);

  std::string path_;
  bool has_text_pair_ = false;
  std::vector<TextExample> examples_;
  std::vector<std::string> id2label_;
  std::map<std::string, int64_t> label2id_;
};

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------
namespace detail {

inline std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// The value of a canonical non-negative decimal integer below `limit` ("0", "42"; not "042",
/// "+1", "1.0"), or -1.
inline int64_t canonical_index(std::string_view s, int64_t limit) {
  if (s.empty() || s.size() > 9 || (s.size() > 1 && s[0] == '0')) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v < limit ? v : -1;
}

/// "a, b, c" of at most `max_items` names (then "... (N in all)").
template <class It>
inline std::string join_names(It begin, It end, std::size_t max_items = 20) {
  std::ostringstream os;
  std::size_t n = 0, total = static_cast<std::size_t>(std::distance(begin, end));
  for (It it = begin; it != end && n < max_items; ++it, ++n)
    os << (n ? ", " : "") << '\'' << *it << '\'';
  if (total > max_items) os << ", ... (" << total << " in all)";
  return os.str();
}

/// Throws `ember::Error` naming the file, line and column of the first byte of `s` that is not
/// valid UTF-8 (a cp1252 or Latin-1 export, say): tokenized as it is, such text would silently
/// become [UNK]s or wrong pieces, so it is refused, as Python's open() refuses it by default.
inline void check_utf8(std::string_view s, const std::string& path, const char* who) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {  // ASCII: the common case
      ++i;
      continue;
    }
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(
        reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
        static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n > 0) {
      i += static_cast<std::size_t>(n);
      continue;
    }
    const std::size_t line_start = s.rfind('\n', i == 0 ? 0 : i - 1);
    const std::size_t col = i - (line_start == std::string_view::npos ? 0 : line_start + 1) + 1;
    const auto line = 1 + std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(i), '\n');
    static const char* hex = "0123456789ABCDEF";
    const unsigned char b = static_cast<unsigned char>(s[i]);
    EMBER_FAIL(who, ": ", path, ":", line, ": byte 0x", hex[b >> 4], hex[b & 15], " at column ", col,
               " is not valid UTF-8; the file must be UTF-8 (a cp1252 or Latin-1 export? convert "
               "it, e.g. iconv -f cp1252 -t utf-8 IN > OUT)");
  }
}

inline std::string read_text_file(const std::string& path, const char* who) {
  std::error_code ec;
  EMBER_CHECK(std::filesystem::exists(path, ec), who, ": file '", path, "' does not exist");
  EMBER_CHECK(!std::filesystem::is_directory(path, ec), who, ": '", path,
              "' is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  EMBER_CHECK(in.good(), who, ": cannot open '", path, "' for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  EMBER_CHECK(!in.bad(), who, ": error while reading '", path, "'");
  std::string s = ss.str();
  if (s.size() >= 3 && s.compare(0, 3, "\xEF\xBB\xBF") == 0) s.erase(0, 3);  // UTF-8 BOM
  check_utf8(s, path, who);
  return s;
}

/// Splits one physical line (without its '\n'; a trailing '\r' is dropped) at `sep`.
inline void split_line(std::string_view line, char sep, std::vector<std::string>& fields) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  fields.clear();
  std::size_t start = 0;
  while (true) {
    std::size_t p = line.find(sep, start);
    if (p == std::string_view::npos) {
      fields.emplace_back(line.substr(start));
      return;
    }
    fields.emplace_back(line.substr(start, p - start));
    start = p + 1;
  }
}

inline bool is_blank_line(std::string_view line) {
  for (char c : line)
    if (c != ' ' && c != '\t' && c != '\r') return false;
  return true;
}

/// Reads the next TSV record (one line) from s at pos; skips blank lines. `line` is the current
/// 1-based line number, `record_line` receives the record's. Returns false at the end.
inline bool next_tsv_record(std::string_view s, std::size_t& pos, int64_t& line,
                            std::vector<std::string>& fields, int64_t& record_line) {
  while (pos < s.size()) {
    std::size_t nl = s.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? s.size() : nl;
    std::string_view l = s.substr(pos, end - pos);
    record_line = line;
    pos = nl == std::string_view::npos ? s.size() : nl + 1;
    ++line;
    if (is_blank_line(l)) continue;
    split_line(l, '\t', fields);
    return true;
  }
  return false;
}

/// Reads the next RFC 4180 CSV record from s at pos (it may span lines inside quotes); skips
/// blank lines. Throws ember::Error naming `path` and a line on malformed quoting.
inline bool next_csv_record(std::string_view s, std::size_t& pos, int64_t& line,
                            std::vector<std::string>& fields, int64_t& record_line,
                            const std::string& path) {
  const std::size_t n = s.size();
  // Blank lines between records.
  while (pos < n) {
    std::size_t nl = s.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? n : nl;
    if (!is_blank_line(s.substr(pos, end - pos))) break;
    pos = nl == std::string_view::npos ? n : nl + 1;
    ++line;
  }
  if (pos >= n) return false;
  record_line = line;
  fields.clear();
  std::string field;
  while (true) {
    field.clear();
    if (pos < n && s[pos] == '"') {  // quoted field
      const int64_t quote_line = line;
      ++pos;
      while (true) {
        EMBER_CHECK(pos < n, "TextClassificationDataset: ", path, ":", quote_line,
                    ": unterminated quoted field (a '\"' opened here is never closed)");
        char c = s[pos];
        if (c == '"') {
          if (pos + 1 < n && s[pos + 1] == '"') {
            field.push_back('"');
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        if (c == '\n') ++line;
        field.push_back(c);
        ++pos;
      }
      if (pos < n && s[pos] == '\r' && pos + 1 < n && s[pos + 1] == '\n') ++pos;
      if (pos < n && s[pos] == '\r' && pos + 1 == n) ++pos;
      EMBER_CHECK(pos >= n || s[pos] == ',' || s[pos] == '\n', "TextClassificationDataset: ", path,
                  ":", line, ": unexpected character '", s[pos],
                  "' after a closing quote (in CSV, quote the whole field and write a quote "
                  "inside it twice: \"\")");
    } else {  // unquoted: up to the next comma or line end
      std::size_t end = pos;
      while (end < n && s[end] != ',' && s[end] != '\n') ++end;
      std::size_t stop = end;
      if (stop > pos && s[stop - 1] == '\r' && (stop == n || s[stop] == '\n')) --stop;
      field.assign(s.data() + pos, stop - pos);
      pos = end;
    }
    fields.push_back(field);
    if (pos < n && s[pos] == ',') {
      ++pos;
      continue;
    }
    if (pos < n) {  // '\n'
      ++pos;
      ++line;
    }
    return true;
  }
}

}  // namespace detail

inline TextClassificationDataset::TextClassificationDataset(const std::string& path,
                                                            TextDatasetOptions options)
    : path_(path) {
  TextFormat format = options.format();
  if (format == TextFormat::auto_detect) {
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".tsv")
      format = TextFormat::tsv;
    else if (ext == ".csv")
      format = TextFormat::csv;
    else if (ext == ".jsonl" || ext == ".ndjson")
      format = TextFormat::jsonl;
    else
      EMBER_FAIL("TextClassificationDataset: cannot tell the format of '", path,
                 "' from its extension '", ext,
                 "' (expected .tsv, .csv or .jsonl); set it with "
                 "TextDatasetOptions().format(TextFormat::tsv / csv / jsonl)");
  }
  const std::string content = detail::read_text_file(path, "TextClassificationDataset");
  std::vector<RawRow> rows;
  if (format == TextFormat::jsonl) {
    has_text_pair_ = !options.text_pair_column().empty();
    read_jsonl_(content, options, rows);
  } else {
    has_text_pair_ = options.has_text_pair(options.has_header());
    read_delimited_(content, format == TextFormat::tsv ? '\t' : ',', options, rows);
  }
  EMBER_CHECK(!rows.empty(), "TextClassificationDataset: '", path, "' has no examples",
              content.empty() ? " (the file is empty)" : "");
  build_(rows, options.label2id().empty()
                   ? std::nullopt
                   : std::optional<std::map<std::string, int64_t>>(options.label2id()));
}

inline TextClassificationDataset TextClassificationDataset::from_rows(
    std::vector<std::string> texts, std::vector<std::string> labels,
    std::vector<std::string> text_pairs, std::optional<std::map<std::string, int64_t>> label2id) {
  EMBER_CHECK(texts.size() == labels.size(), "TextClassificationDataset::from_rows: ", texts.size(),
              " texts but ", labels.size(), " labels");
  EMBER_CHECK(text_pairs.empty() || text_pairs.size() == texts.size(),
              "TextClassificationDataset::from_rows: ", texts.size(), " texts but ",
              text_pairs.size(), " text pairs");
  EMBER_CHECK(!texts.empty(), "TextClassificationDataset::from_rows: no examples");
  TextClassificationDataset ds;
  ds.path_ = "<rows>";
  ds.has_text_pair_ = !text_pairs.empty();
  std::vector<RawRow> rows(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    rows[i].text = std::move(texts[i]);
    if (ds.has_text_pair_) rows[i].text_pair = std::move(text_pairs[i]);
    rows[i].label = std::string(detail::trim_blanks(labels[i]));
    rows[i].line = static_cast<int64_t>(i) + 1;
    EMBER_CHECK(!rows[i].label.empty(), "TextClassificationDataset: <rows>:", i + 1,
                ": empty label");
  }
  ds.build_(rows, label2id);
  return ds;
}

inline void TextClassificationDataset::read_delimited_(const std::string& content, char delimiter,
                                                       const TextDatasetOptions& opt,
                                                       std::vector<RawRow>& rows) const {
  const bool tsv = delimiter == '\t';
  const char* kind = tsv ? "TSV" : "CSV";
  std::string_view s(content);
  std::size_t pos = 0;
  int64_t line = 1, record_line = 0;
  std::vector<std::string> fields;
  auto next = [&]() {
    return tsv ? detail::next_tsv_record(s, pos, line, fields, record_line)
               : detail::next_csv_record(s, pos, line, fields, record_line, path_);
  };
  if (!next()) return;  // no records: the caller reports "no examples"

  const bool pair = opt.has_text_pair(opt.has_header());
  int64_t text_col, pair_col = -1, label_col;
  const std::size_t num_fields = fields.size();
  if (opt.has_header()) {
    auto find = [&](const std::string& name, const char* what) -> int64_t {
      auto it = std::find(fields.begin(), fields.end(), name);
      EMBER_CHECK(it != fields.end(), "TextClassificationDataset: ", path_, ":", record_line,
                  ": the header has no ", what, " column '", name,
                  "' (columns: ", detail::join_names(fields.begin(), fields.end()), ")",
                  num_fields == 1 && !tsv && fields[0].find('\t') != std::string::npos
                      ? "; the file looks tab-separated: use TextFormat::tsv"
                  : num_fields == 1 && tsv && fields[0].find(',') != std::string::npos
                      ? "; the file looks comma-separated: use TextFormat::csv"
                      : "");
      return it - fields.begin();
    };
    text_col = find(opt.text_column(), "text");
    if (pair) pair_col = find(opt.text_pair_column(), "text pair");
    label_col = find(opt.label_column(), "label");
  } else {
    auto check = [&](int64_t index, const char* what) {
      EMBER_CHECK(index >= 0 && index < static_cast<int64_t>(num_fields),
                  "TextClassificationDataset: ", path_, ":", record_line, ": ", what, " ", index,
                  " is out of range: the first row has ", num_fields, " fields");
      return index;
    };
    text_col = check(opt.text_index(), "text_index");
    if (pair) pair_col = check(opt.text_pair_index(), "text_pair_index");
    label_col = check(opt.label_index(), "label_index");
  }

  auto add = [&]() {
    EMBER_CHECK(fields.size() == num_fields, "TextClassificationDataset: ", path_, ":", record_line,
                ": expected ", num_fields, " fields (as the ",
                opt.has_header() ? "header" : "first row", "), found ", fields.size(),
                tsv ? " (TSV fields are separated by tabs and cannot be quoted)" : "");
    RawRow row;
    row.line = record_line;
    row.text = std::move(fields[text_col]);
    if (pair_col >= 0) row.text_pair = std::move(fields[pair_col]);
    row.label = std::string(detail::trim_blanks(fields[label_col]));
    EMBER_CHECK(!row.label.empty(), "TextClassificationDataset: ", path_, ":", record_line,
                ": empty label (", kind, " column ", label_col, ")");
    rows.push_back(std::move(row));
  };
  if (!opt.has_header()) add();
  while (next()) add();
}

inline void TextClassificationDataset::read_jsonl_(const std::string& content,
                                                   const TextDatasetOptions& opt,
                                                   std::vector<RawRow>& rows) const {
  using json = nlohmann::json;
  std::string_view s(content);
  std::size_t pos = 0;
  int64_t line = 0;
  auto type_name = [](const json& v) { return std::string(v.type_name()); };
  while (pos < s.size()) {
    std::size_t nl = s.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? s.size() : nl;
    std::string_view l = s.substr(pos, end - pos);
    pos = nl == std::string_view::npos ? s.size() : nl + 1;
    ++line;
    if (detail::is_blank_line(l)) continue;
    json obj;
    try {
      obj = json::parse(l.begin(), l.end());
    } catch (const json::exception& e) {
      EMBER_FAIL("TextClassificationDataset: ", path_, ":", line, ": invalid JSON (", e.what(),
                 "); a JSONL file holds one JSON object per line");
    }
    EMBER_CHECK(obj.is_object(), "TextClassificationDataset: ", path_, ":", line,
                ": expected a JSON object, found ", type_name(obj));
    auto keys = [&]() {
      std::vector<std::string> k;
      for (auto it = obj.begin(); it != obj.end(); ++it) k.push_back(it.key());
      return detail::join_names(k.begin(), k.end());
    };
    auto text_field = [&](const std::string& name) -> std::string {
      auto it = obj.find(name);
      EMBER_CHECK(it != obj.end(), "TextClassificationDataset: ", path_, ":", line, ": no field '",
                  name, "' in this object (fields: ", keys(), ")");
      EMBER_CHECK(it->is_string(), "TextClassificationDataset: ", path_, ":", line, ": field '",
                  name, "' must be a string, found ", type_name(*it));
      return it->get<std::string>();
    };
    RawRow row;
    row.line = line;
    row.text = text_field(opt.text_column());
    if (!opt.text_pair_column().empty()) row.text_pair = text_field(opt.text_pair_column());
    auto it = obj.find(opt.label_column());
    EMBER_CHECK(it != obj.end(), "TextClassificationDataset: ", path_, ":", line, ": no field '",
                opt.label_column(), "' in this object (fields: ", keys(), ")");
    if (it->is_number_integer()) {  // signed or unsigned
      row.label = it->dump();
    } else if (it->is_string()) {
      row.label = std::string(detail::trim_blanks(it->get_ref<const std::string&>()));
    } else {
      EMBER_CHECK(!it->is_null(), "TextClassificationDataset: ", path_, ":", line,
                  ": empty label (null)");
      EMBER_FAIL("TextClassificationDataset: ", path_, ":", line, ": label '", opt.label_column(),
                 "' must be an integer or a string, found ", type_name(*it), " ", it->dump());
    }
    EMBER_CHECK(!row.label.empty(), "TextClassificationDataset: ", path_, ":", line,
                ": empty label");
    rows.push_back(std::move(row));
  }
}

inline void TextClassificationDataset::build_(
    std::vector<RawRow>& rows, const std::optional<std::map<std::string, int64_t>>& fixed) {
  if (fixed) {
    EMBER_CHECK(!fixed->empty(), "TextClassificationDataset: the given label2id is empty");
    int64_t max_id = -1;
    std::set<int64_t> seen;
    for (const auto& [name, id] : *fixed) {
      EMBER_CHECK(id >= 0, "TextClassificationDataset: label2id maps '", name,
                  "' to a negative id ", id);
      EMBER_CHECK(seen.insert(id).second,
                  "TextClassificationDataset: label2id maps two labels to id ", id);
      max_id = std::max(max_id, id);
    }
    label2id_ = *fixed;
    id2label_.assign(static_cast<std::size_t>(max_id + 1), std::string());
    for (std::size_t i = 0; i < id2label_.size(); ++i) id2label_[i] = std::to_string(i);  // gaps
    for (const auto& [name, id] : *fixed) id2label_[static_cast<std::size_t>(id)] = name;
  } else {
    constexpr int64_t kMaxIntegerLabel = 1000000;
    bool integers = true;
    int64_t max_label = -1;
    std::set<std::string> names;
    for (const RawRow& r : rows) {
      names.insert(r.label);
      int64_t v = detail::canonical_index(r.label, kMaxIntegerLabel);
      if (v < 0) integers = false;
      max_label = std::max(max_label, v);
    }
    if (integers) {
      id2label_.resize(static_cast<std::size_t>(max_label + 1));
      for (int64_t i = 0; i <= max_label; ++i) {
        id2label_[static_cast<std::size_t>(i)] = std::to_string(i);
        label2id_[std::to_string(i)] = i;
      }
    } else {
      int64_t id = 0;
      for (const std::string& n : names) {
        id2label_.push_back(n);
        label2id_[n] = id++;
      }
    }
  }
  examples_.reserve(rows.size());
  for (RawRow& r : rows) {
    auto it = label2id_.find(r.label);
    if (it == label2id_.end()) {
      std::vector<std::string> known;
      for (const auto& kv : label2id_) known.push_back(kv.first);
      EMBER_FAIL("TextClassificationDataset: ", path_, ":", r.line, ": label '", r.label,
                 "' is not in the given label2id (labels: ",
                 detail::join_names(known.begin(), known.end()), ")");
    }
    examples_.push_back(TextExample{std::move(r.text), std::move(r.text_pair), it->second});
  }
}

inline const TextExample& TextClassificationDataset::example(int64_t i) const {
  EMBER_CHECK(i >= 0 && i < size(), "TextClassificationDataset::example: index ", i,
              " is out of range for ", size(), " examples");
  return examples_[static_cast<std::size_t>(i)];
}

inline std::vector<int64_t> TextClassificationDataset::label_counts() const {
  std::vector<int64_t> counts(id2label_.size(), 0);
  for (const TextExample& e : examples_) ++counts[static_cast<std::size_t>(e.label_id)];
  return counts;
}

}  // namespace ember::data
