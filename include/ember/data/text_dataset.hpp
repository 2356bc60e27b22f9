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
//     not "07" or "+7"), and the largest below 2·(distinct labels) + 16: the integer IS the id,
//     and its decimal string is the name. num_labels is the largest label + 1 (SST-2's "0"/"1" →
//     ids 0/1, id2label ["0", "1"]; star ratings 1..5 → 6 classes, class 0 unused).
//   * integers further apart than that ("0" and "999999": ids would leave most classes empty,
//     and a stray large number would make a head of a million classes): the distinct labels in
//     numeric order get ids 0, 1, 2, ... ("0", "999999" → 0, 1).
//   * otherwise (any label not such an integer): the distinct labels sorted lexicographically by
//     bytes get ids 0, 1, 2, ... ("neg", "pos" → 0, 1; "-1", "0", "1" → 0, 1, 2).
//   * TextDatasetOptions::label2id(mapping) fixes the mapping instead (the one a trained model was
//     trained with, so evaluation data maps the same way); a label not in it is an error.
//
// Columns: with a header, by name (text_column, label_column, ...), or by index with
// columns_by_index(true); without a header, by index (text_index, label_index, ...).
// detect_text_label_columns tells the text column from the label column of a two-column table,
// and check_label_set refuses labels that look like text (a swapped text and label column).
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
#include <cmath>
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

/// The format `path`'s extension names (case-insensitive), or nullopt for any other extension.
inline std::optional<TextFormat> text_format_from_extension(const std::string& path);
/// `requested` unless it is auto_detect, else the extension's format; throws `ember::Error`
/// naming the extension when it names none.
inline TextFormat text_format_of(const std::string& path,
                                 TextFormat requested = TextFormat::auto_detect);

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
  /// Without a header (or with columns_by_index): 0-based column indices (defaults: text 0,
  /// pair none (-1), label 1).
  EMBER_ARG(int64_t, text_index) = 0;
  EMBER_ARG(int64_t, text_pair_index) = -1;
  EMBER_ARG(int64_t, label_index) = 1;
  /// TSV/CSV with a header: pick the columns by text_index/text_pair_index/label_index instead of
  /// by name (the header row is skipped). Without a header columns are always picked by index.
  EMBER_ARG(bool, columns_by_index) = false;
  /// A fixed label → id mapping (ids distinct, >= 0); labels outside it are errors.
  /// Empty (the default): built from the labels found in the file.
  EMBER_ARG(Label2Id, label2id);

 public:
  /// Whether rows carry a second text (pair column named, or pair index >= 0 when columns are
  /// picked by index).
  bool has_text_pair(bool header) const {
    return header && !columns_by_index_ ? !text_pair_column_.empty() : text_pair_index_ >= 0;
  }
};

/// When a label set looks like text rather than labels (see
/// TextClassificationDataset::check_label_set). Chainable.
struct LabelSetLimits {
  /// More distinct labels than this fraction of the examples (and more than 2) looks like a text
  /// column read as labels.
  EMBER_ARG(double, max_label_fraction) = 0.5;
  /// A label longer than this many bytes looks like a text.
  EMBER_ARG(int64_t, max_label_length) = 50;
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

  /// The examples split in two, stratified by label: of each class's n examples,
  /// round(fraction·n) drawn at random with `Generator(seed)` (at least 1 and at most n - 1 when
  /// n >= 2; a class with one example stays in the first part) go to the second part. Returns
  /// (rest, drawn), each in file order, both with this dataset's label mapping. Throws
  /// `ember::Error` unless 0 < fraction < 1 and both parts hold examples.
  std::pair<TextClassificationDataset, TextClassificationDataset> stratified_split(
      double fraction, uint64_t seed) const;

  /// Throws `ember::Error` when the labels look like text (a text column read as the label, e.g.
  /// a `label<TAB>text` file read as `text<TAB>label`): more distinct labels than
  /// limits.max_label_fraction() of the examples (and more than 2), or a label longer than
  /// limits.max_label_length() bytes. The message gives what was found (the number of distinct
  /// labels and examples, the longest label cut to 40 characters) and then `advice` (default: how
  /// to choose other columns with TextDatasetOptions).
  void check_label_set(const LabelSetLimits& limits = {}, const std::string& advice = "") const;

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

/// A TSV or CSV file as fields: what `predict` reads to write each row back with its
/// prediction, and what detect_text_label_columns looks at. Rows all have columns.size() fields
/// (or, without a header, the first row's count).
struct TextTable {
  std::string path;
  TextFormat format = TextFormat::tsv;
  std::vector<std::string> columns;            // the header's names (empty without a header)
  std::vector<std::vector<std::string>> rows;  // the records after the header
  std::vector<int64_t> lines;                  // each record's 1-based first line
  /// Number of fields per row.
  int64_t num_columns() const;
  /// The index of the column named `name`; throws `ember::Error` listing the columns otherwise.
  int64_t column_index(const std::string& name) const;
};

/// Reads a TSV or CSV file (format as in text_format_of; JSONL is an error: its records are
/// objects) with the same rules and errors as TextClassificationDataset. Throws for a file with
/// no records.
inline TextTable read_text_table(const std::string& path,
                                 TextFormat format = TextFormat::auto_detect,
                                 bool has_header = true);

/// For a table of exactly two columns, the pair (text column, label column) when exactly one
/// column looks like labels (within `limits`, as check_label_set judges them) or, when both do,
/// the one with fewer distinct values (then the shorter values); nullopt otherwise.
inline std::optional<std::pair<int64_t, int64_t>> detect_text_label_columns(
    const TextTable& table, const LabelSetLimits& limits = {});

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

/// The records of TSV or CSV text, one at a time: next() fills `fields` and `record_line` (the
/// 1-based line where the record starts) and returns false at the end.
struct DelimitedReader {
  DelimitedReader(std::string_view text, bool is_tsv, const std::string& file)
      : s(text), tsv(is_tsv), path(file) {}
  std::string_view s;
  bool tsv;
  const std::string& path;
  std::size_t pos = 0;
  int64_t line = 1, record_line = 0;
  std::vector<std::string> fields;
  bool next() {
    return tsv ? next_tsv_record(s, pos, line, fields, record_line)
               : next_csv_record(s, pos, line, fields, record_line, path);
  }
  /// Throws `ember::Error` unless the record has `expected` fields (the header's, or the first
  /// row's without a header).
  void check_field_count(std::size_t expected, bool header) const {
    EMBER_CHECK(fields.size() == expected, "TextClassificationDataset: ", path, ":", record_line,
                ": expected ", expected, " fields (as the ", header ? "header" : "first row",
                "), found ", fields.size(),
                tsv ? " (TSV fields are separated by tabs and cannot be quoted)" : "");
  }
};

}  // namespace detail

inline TextClassificationDataset::TextClassificationDataset(const std::string& path,
                                                            TextDatasetOptions options)
    : path_(path) {
  const TextFormat format = text_format_of(path, options.format());
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
  detail::DelimitedReader reader(content, tsv, path_);
  std::vector<std::string>& fields = reader.fields;
  const int64_t& record_line = reader.record_line;
  auto next = [&]() { return reader.next(); };
  if (!next()) return;  // no records: the caller reports "no examples"

  const bool pair = opt.has_text_pair(opt.has_header());
  int64_t text_col, pair_col = -1, label_col;
  const std::size_t num_fields = fields.size();
  if (opt.has_header() && !opt.columns_by_index()) {
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
                  " is out of range: the ", opt.has_header() ? "header" : "first row", " has ",
                  num_fields, " fields");
      return index;
    };
    text_col = check(opt.text_index(), "text_index");
    if (pair) pair_col = check(opt.text_pair_index(), "text_pair_index");
    label_col = check(opt.label_index(), "label_index");
  }

  auto add = [&]() {
    reader.check_field_count(num_fields, opt.has_header());
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
    // Integer labels are the ids only when they are dense enough (see the header comment).
    const bool dense = max_label < 2 * static_cast<int64_t>(names.size()) + 16;
    if (integers && dense) {
      id2label_.resize(static_cast<std::size_t>(max_label + 1));
      for (int64_t i = 0; i <= max_label; ++i) {
        id2label_[static_cast<std::size_t>(i)] = std::to_string(i);
        label2id_[std::to_string(i)] = i;
      }
    } else if (integers) {
      std::vector<int64_t> values;
      for (const std::string& n : names) values.push_back(detail::canonical_index(n, kMaxIntegerLabel));
      std::sort(values.begin(), values.end());
      for (int64_t v : values) {
        label2id_[std::to_string(v)] = static_cast<int64_t>(id2label_.size());
        id2label_.push_back(std::to_string(v));
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

// ---- formats, splits, label checks, tables ---------------------------------------------------

inline std::optional<TextFormat> text_format_from_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".tsv") return TextFormat::tsv;
  if (ext == ".csv") return TextFormat::csv;
  if (ext == ".jsonl" || ext == ".ndjson") return TextFormat::jsonl;
  return std::nullopt;
}

inline TextFormat text_format_of(const std::string& path, TextFormat requested) {
  if (requested != TextFormat::auto_detect) return requested;
  const std::optional<TextFormat> format = text_format_from_extension(path);
  EMBER_CHECK(format.has_value(), "TextClassificationDataset: cannot tell the format of '", path,
              "' from its extension '", std::filesystem::path(path).extension().string(),
              "' (expected .tsv, .csv or .jsonl); set it with "
              "TextDatasetOptions().format(TextFormat::tsv / csv / jsonl)");
  return *format;
}

inline std::pair<TextClassificationDataset, TextClassificationDataset>
TextClassificationDataset::stratified_split(double fraction, uint64_t seed) const {
  EMBER_CHECK(fraction > 0 && fraction < 1,
              "TextClassificationDataset::stratified_split: fraction must be in (0, 1), found ",
              fraction);
  std::vector<std::vector<int64_t>> by_label(id2label_.size());
  for (std::size_t i = 0; i < examples_.size(); ++i)
    by_label[static_cast<std::size_t>(examples_[i].label_id)].push_back(static_cast<int64_t>(i));
  std::vector<char> drawn(examples_.size(), 0);
  Generator gen(seed);
  for (std::vector<int64_t>& idx : by_label) {
    const int64_t n = static_cast<int64_t>(idx.size());
    if (n < 2) continue;  // a class of one example stays in the first part
    const int64_t k = std::clamp<int64_t>(std::llround(fraction * double(n)), 1, n - 1);
    for (int64_t i = n - 1; i > 0; --i)  // Fisher–Yates
      std::swap(idx[std::size_t(i)], idx[gen.randint(uint64_t(i) + 1)]);
    for (int64_t i = 0; i < k; ++i) drawn[std::size_t(idx[std::size_t(i)])] = 1;
  }
  std::pair<TextClassificationDataset, TextClassificationDataset> out{*this, *this};
  out.first.examples_.clear();
  out.second.examples_.clear();
  for (std::size_t i = 0; i < examples_.size(); ++i)
    (drawn[i] ? out.second : out.first).examples_.push_back(examples_[i]);
  EMBER_CHECK(!out.second.examples_.empty() && !out.first.examples_.empty(),
              "TextClassificationDataset::stratified_split: '", path_, "' has ", size(),
              " examples and no class with 2 or more of them, so a split of ", fraction,
              " leaves one part empty; give a separate validation file");
  return out;
}

namespace detail {
/// `s` cut to about `max_chars` characters (never inside a UTF-8 sequence), control characters
/// shown as spaces, "..." appended when cut.
inline std::string preview(std::string_view s, std::size_t max_chars = 40) {
  std::string out;
  std::size_t chars = 0, i = 0;
  for (; i < s.size() && chars < max_chars; ++chars) {
    std::size_t j = i + 1;
    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20)
      out.push_back(' ');
    else
      out.append(s.substr(i, j - i));
    i = j;
  }
  if (i < s.size()) out += "...";
  return out;
}

/// Whether `distinct` values with the longest `longest` bytes, among n, look like labels.
inline bool looks_like_labels(int64_t distinct, std::size_t longest, int64_t n,
                              const LabelSetLimits& limits) {
  const bool too_many = distinct > 2 && double(distinct) > limits.max_label_fraction() * double(n);
  return !too_many && static_cast<int64_t>(longest) <= limits.max_label_length();
}
}  // namespace detail

inline void TextClassificationDataset::check_label_set(const LabelSetLimits& limits,
                                                       const std::string& advice) const {
  const std::vector<int64_t> counts = label_counts();
  int64_t distinct = 0;
  const std::string* longest = nullptr;
  for (std::size_t id = 0; id < counts.size(); ++id) {
    if (counts[id] == 0) continue;
    ++distinct;
    if (!longest || id2label_[id].size() > longest->size()) longest = &id2label_[id];
  }
  const std::size_t longest_size = longest ? longest->size() : 0;
  if (detail::looks_like_labels(distinct, longest_size, size(), limits)) return;
  EMBER_FAIL("TextClassificationDataset: the labels of '", path_,
             "' look like text, not classes: ", distinct, " distinct labels in ", size(),
             " examples (the limit is more than 2 and ", limits.max_label_fraction() * 100,
             "% of the examples), the longest ", longest_size, " bytes (limit ",
             limits.max_label_length(), "): '", detail::preview(longest ? *longest : ""),
             "'. Is the label column the right one (a label-first file read as text-first?)? ",
             advice.empty() ? "Choose the columns with TextDatasetOptions text_column/label_column "
                              "(or text_index/label_index), or relax LabelSetLimits if these "
                              "are the labels"
                            : advice);
}

inline int64_t TextTable::num_columns() const {
  return !columns.empty() ? static_cast<int64_t>(columns.size())
                          : static_cast<int64_t>(rows.empty() ? 0 : rows.front().size());
}

inline int64_t TextTable::column_index(const std::string& name) const {
  auto it = std::find(columns.begin(), columns.end(), name);
  EMBER_CHECK(it != columns.end(), "TextTable: ", path, ": no column '", name, "' (",
              columns.empty() ? std::string("the file has no header")
                              : "columns: " + detail::join_names(columns.begin(), columns.end()),
              ")");
  return it - columns.begin();
}

inline TextTable read_text_table(const std::string& path, TextFormat format, bool has_header) {
  TextTable table;
  table.path = path;
  table.format = text_format_of(path, format);
  EMBER_CHECK(table.format != TextFormat::jsonl, "read_text_table: '", path,
              "' is JSONL, whose records are objects, not rows of fields");
  const bool tsv = table.format == TextFormat::tsv;
  const std::string content = detail::read_text_file(path, "TextClassificationDataset");
  detail::DelimitedReader reader(content, tsv, path);
  std::size_t num_fields = 0;
  while (reader.next()) {
    if (num_fields == 0) {
      num_fields = reader.fields.size();
      if (has_header) {
        table.columns = reader.fields;
        continue;
      }
    }
    reader.check_field_count(num_fields, has_header);
    table.rows.push_back(reader.fields);
    table.lines.push_back(reader.record_line);
  }
  EMBER_CHECK(!table.rows.empty(), "TextClassificationDataset: '", path, "' has no examples",
              content.empty() ? " (the file is empty)" : "");
  return table;
}

inline std::optional<std::pair<int64_t, int64_t>> detect_text_label_columns(
    const TextTable& table, const LabelSetLimits& limits) {
  if (table.num_columns() != 2) return std::nullopt;
  struct Stats {
    int64_t distinct = 0;
    std::size_t longest = 0, total = 0;
    bool labels = false;
  } st[2];
  const int64_t n = static_cast<int64_t>(table.rows.size());
  for (int c = 0; c < 2; ++c) {
    std::set<std::string_view> values;
    for (const auto& row : table.rows) {
      const std::string_view v = detail::trim_blanks(row[std::size_t(c)]);
      values.insert(v);
      st[c].longest = std::max(st[c].longest, v.size());
      st[c].total += v.size();
    }
    st[c].distinct = static_cast<int64_t>(values.size());
    st[c].labels = detail::looks_like_labels(st[c].distinct, st[c].longest, n, limits);
  }
  int label = -1;
  if (st[0].labels != st[1].labels) {
    label = st[0].labels ? 0 : 1;
  } else if (st[0].labels) {  // both short with few values: fewer distinct, then shorter
    if (st[0].distinct != st[1].distinct)
      label = st[0].distinct < st[1].distinct ? 0 : 1;
    else if (st[0].total != st[1].total)
      label = st[0].total < st[1].total ? 0 : 1;
  }
  if (label < 0) return std::nullopt;
  return std::make_pair(int64_t(1 - label), int64_t(label));
}

}  // namespace ember::data
