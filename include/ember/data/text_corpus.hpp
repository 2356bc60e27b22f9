// ember/data/text_corpus.hpp — pretraining text: a plain-text corpus read as a stream of
// documents (`TextCorpusReader`), tokenized and packed into fixed-length examples
// (`TextPacker`), and held in memory as a `LanguageModelingDataset` with a held-out split.
// The masking that turns these examples into an MLM batch is `data/mlm_collator.hpp`.
//
// Source: Hugging Face transformers, examples/pytorch/language-modeling/run_mlm.py
// (`tokenize_function`, `group_texts`, `--line_by_line`, `--max_seq_length`); BERT (Devlin et
// al. 2019) §3.1 and Appendix A.2; RoBERTa (Liu et al. 2019) §4.2 "FULL-SENTENCES".
//
// Corpus. One or more UTF-8 files read in order. TextCorpusOptions::document_split says what a
// document is: `line` (the default, run_mlm.py's `text` files) — every non-blank line; or
// `blank_line` — a run of non-blank lines ended by a blank line or by the end of a file (the
// lines joined with '\n'; documents never span two files). Blank lines (only spaces, tabs, '\r')
// are skipped; a UTF-8 byte-order mark at a file's start is dropped; "\r\n" is accepted.
//
// Streaming and memory. The reader reads each file `chunk_bytes` (default 1 MiB) at a time and
// hands out one document at a time: it holds at most one chunk plus the longest line (line mode)
// or the longest document (blank_line mode). TextPacker holds less than one example plus one
// document's token ids. Together they pack a corpus larger than memory into blocks one by one
// (`for (reader.next(doc)) packer.add(tokenizer.tokenize_to_ids(doc)); while (packer.pop(b))`).
// LanguageModelingDataset keeps every example in memory (4 bytes per token) for shuffling and
// splitting.
//
// Packing (TextCorpusOptions::packing; seq_len = the example length, run_mlm's max_seq_length):
//   blocks (default)  every document is tokenized WITHOUT special tokens; the documents are
//                     concatenated with one [SEP] between consecutive documents (RoBERTa's
//                     FULL-SENTENCES separator); the stream is cut into runs of seq_len - 2
//                     tokens and each run becomes [CLS] run [SEP]. So every block starts with
//                     [CLS] and ends with [SEP], as BERT's inputs do. The remainder (< seq_len - 2
//                     tokens) is dropped.
//   group_texts       run_mlm.py exactly: every document is tokenized WITH special tokens
//                     ([CLS] doc [SEP]), the results concatenated, and cut into blocks of seq_len
//                     tokens, the remainder dropped. Blocks start wherever the cut falls (mostly
//                     not on [CLS]). Two differences: run_mlm maps `group_texts` over batches of
//                     1,000 lines and drops a remainder per batch, ember only once at the end of
//                     the corpus; and run_mlm's `text` loader keeps empty lines (each one a
//                     [CLS] [SEP] pair in the stream), ember skips blank lines.
//   line_by_line      run_mlm --line_by_line: each document one example, [CLS] doc [SEP]
//                     truncated to seq_len; examples keep their own length and are padded per
//                     batch by the collator (dynamic padding).
// token_type_ids are 0 everywhere (no next-sentence pairs) and attention_mask 1 on every token
// of an example, as in run_mlm.py.
//
// Held-out split. `train_test_split(test_size)` takes the last round(test_size·n) examples
// (at least 1, at most n - 1) — contiguous text, so evaluation blocks do not share documents with
// training blocks except at the one cut; with `shuffle` a seeded random set instead (Fisher–Yates
// on `Generator(seed)`). Both parts keep corpus order. (run_mlm.py without a validation file holds
// out the first validation_split_percentage % of the lines; Hugging Face datasets'
// `train_test_split` shuffles by default.)
//
// Errors (ember::Error; file errors name the file, and the 1-based line where there is one):
// no files given; a missing file or a directory; a read error; bytes that are not UTF-8
// ("corpus.txt:17: byte 0xE9 at column 5 is not valid UTF-8 ..."); a corpus with no text at
// all; seq_len < 3; a corpus shorter than one block ("the corpus has N tokens; one block needs
// M; ..."); a chunk_bytes < 1; a split that leaves a part empty.
#pragma once

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>
#include <ember/core/generator.hpp>
#include <ember/core/parallel.hpp>
#include <ember/data/text_dataset.hpp>
#include <ember/data/wordpiece_tokenizer.hpp>

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::data {

// ---------------------------------------------------------------------------------------------
// Synopsis
// ---------------------------------------------------------------------------------------------

/// What one document of a plain-text corpus is: every non-blank line, or a run of non-blank
/// lines ended by a blank line (or the end of the file).
enum class DocumentSplit { line, blank_line };

/// How documents become examples (see the header comment): fixed blocks [CLS] … [SEP] over the
/// concatenated documents, run_mlm.py's group_texts, or one example per document.
enum class Packing { blocks, group_texts, line_by_line };

/// How a pretraining corpus is read and packed. Chainable:
/// `TextCorpusOptions().seq_len(128).document_split(DocumentSplit::blank_line)`.
struct TextCorpusOptions {
  EMBER_ARG(DocumentSplit, document_split) = DocumentSplit::line;
  EMBER_ARG(Packing, packing) = Packing::blocks;
  /// Tokens per example, [CLS] and [SEP] included (run_mlm's max_seq_length); >= 3.
  EMBER_ARG(int64_t, seq_len) = 128;
  /// Bytes read from a file at a time (the reader's memory bound, with the longest document).
  EMBER_ARG(int64_t, chunk_bytes) = int64_t(1) << 20;
};

/// Reads the documents of one or more plain-text files, one at a time, `chunk_bytes` at a time.
class TextCorpusReader {
 public:
  /// Checks that every path is a readable file; reads nothing yet. Throws ember::Error for no
  /// paths, a missing file or a directory, or chunk_bytes < 1.
  explicit TextCorpusReader(std::vector<std::string> paths, TextCorpusOptions options = {});

  /// The next document into `document`; false after the last one. Throws ember::Error for
  /// invalid UTF-8 (file:line) and, at the end, when the whole corpus held no text.
  bool next(std::string& document);
  /// The file and the 1-based line where the last document returned starts.
  const std::string& path() const { return paths_[std::min(file_, paths_.size() - 1)]; }
  int64_t line() const { return doc_line_; }
  /// Documents returned so far.
  int64_t num_documents() const { return num_documents_; }
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  bool next_line_(std::string_view& line);  // next physical line of the open file
  bool open_next_file_();

  std::vector<std::string> paths_;
  TextCorpusOptions options_;
  std::size_t file_ = 0;  // index of the open file (paths_.size(): none opened yet / done)
  bool opened_any_ = false;
  std::ifstream in_;
  std::string buf_;  // unread bytes of the open file: buf_[pos_, end)
  std::size_t pos_ = 0;
  bool eof_ = true;
  int64_t line_no_ = 0;  // lines of the open file consumed so far
  int64_t doc_line_ = 0;
  int64_t num_documents_ = 0;
  int64_t bytes_read_ = 0;
};

/// Packs documents' token ids into examples, streaming (see the header comment): `add` each
/// document's ids (without special tokens: `tokenizer.tokenize_to_ids(text)`), `pop` the
/// examples that are complete. Holds less than one example plus one document.
class TextPacker {
 public:
  /// Throws ember::Error when seq_len < 3 or the tokenizer has no [CLS]/[SEP].
  TextPacker(const WordPieceTokenizer& tokenizer, int64_t seq_len, Packing packing);

  void add(const std::vector<int64_t>& document_ids);
  /// The next complete example into `example`; false when none is complete yet.
  bool pop(std::vector<int32_t>& example);
  /// Call after the last document: throws the "corpus shorter than one block" ember::Error when
  /// no example was ever produced, naming `corpus` (e.g. the files).
  void finish(const std::string& corpus) const;

  /// Tokens that entered the stream so far (document tokens plus the separators / special
  /// tokens the packing adds to the stream; line_by_line: before truncation).
  int64_t num_stream_tokens() const { return stream_tokens_; }
  /// Stream tokens one block consumes (blocks: seq_len - 2, group_texts: seq_len).
  int64_t tokens_per_block() const;
  int64_t num_examples() const { return examples_out_; }

 private:
  Packing packing_;
  int64_t seq_len_;
  int32_t cls_, sep_;
  std::vector<int32_t> buf_;  // stream tokens not yet in a block: buf_[head_, end)
  std::size_t head_ = 0;
  bool first_document_ = true;
  int64_t stream_tokens_ = 0, examples_out_ = 0, documents_ = 0;
};

/// A packed corpus in memory: examples of token ids ([CLS] … [SEP] added as the packing says).
class LanguageModelingDataset {
 public:
  /// Reads, tokenizes (in parallel, 1,024 documents at a time) and packs the files. Throws
  /// every error of TextCorpusReader and TextPacker.
  LanguageModelingDataset(const std::vector<std::string>& paths,
                          const WordPieceTokenizer& tokenizer, TextCorpusOptions options = {});
  /// From documents in memory (each string one document); errors name "<documents>".
  static LanguageModelingDataset from_documents(const std::vector<std::string>& documents,
                                                const WordPieceTokenizer& tokenizer,
                                                TextCorpusOptions options = {});

  /// Number of examples (> 0).
  int64_t size() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  /// Token count of example i (seq_len for blocks and group_texts).
  int64_t length(int64_t i) const {
    return offsets_[std::size_t(i) + 1] - offsets_[std::size_t(i)];
  }
  /// Pointer to example i's length(i) ids; 0 <= i < size() unchecked (see example()).
  const int32_t* data(int64_t i) const { return ids_.data() + offsets_[std::size_t(i)]; }
  /// Example i's ids; throws ember::Error when i is out of range.
  std::vector<int64_t> example(int64_t i) const;
  /// Tokens held (sum of lengths).
  int64_t num_tokens() const { return static_cast<int64_t>(ids_.size()); }
  /// Tokens the packing saw in the stream, the dropped remainder included.
  int64_t num_stream_tokens() const { return stream_tokens_; }
  /// Documents read.
  int64_t num_documents() const { return documents_; }
  const TextCorpusOptions& options() const { return options_; }

  /// (train, test): test holds round(test_size·n) examples (clamped to [1, n-1]): the last ones,
  /// or with `shuffle` a random set drawn with Generator(seed); both in corpus order. Throws
  /// ember::Error unless 0 < test_size < 1 and size() >= 2.
  std::pair<LanguageModelingDataset, LanguageModelingDataset> train_test_split(
      double test_size, bool shuffle = false, uint64_t seed = 0) const;

 private:
  LanguageModelingDataset() = default;
  template <class NextDocument>
  void build_(NextDocument&& next, const WordPieceTokenizer& tokenizer, const std::string& corpus);
  LanguageModelingDataset subset_(const std::vector<int64_t>& indices) const;

  TextCorpusOptions options_;
  std::vector<int32_t> ids_;
  std::vector<int64_t> offsets_{0};
  int64_t stream_tokens_ = 0, documents_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------
namespace detail {

/// The byte offset of the first byte of `s` that does not start a valid UTF-8 sequence, or npos.
inline std::size_t invalid_utf8_offset(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n =
        utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                         static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n <= 0) return i;
    i += static_cast<std::size_t>(n);
  }
  return std::string_view::npos;
}

/// "'a.txt', 'b.txt'" for the error messages.
inline std::string corpus_name(const std::vector<std::string>& paths) {
  return join_names(paths.begin(), paths.end(), 5);
}

}  // namespace detail

// ---- TextCorpusReader ------------------------------------------------------------------------

inline TextCorpusReader::TextCorpusReader(std::vector<std::string> paths, TextCorpusOptions options)
    : paths_(std::move(paths)), options_(std::move(options)), file_(paths_.size()) {
  EMBER_CHECK(!paths_.empty(), "TextCorpusReader: expected at least one corpus file, found none");
  EMBER_CHECK(options_.chunk_bytes() >= 1, "TextCorpusReader: chunk_bytes must be >= 1, found ",
              options_.chunk_bytes());
  for (const std::string& p : paths_) {
    std::error_code ec;
    EMBER_CHECK(std::filesystem::exists(p, ec), "TextCorpusReader: file '", p, "' does not exist");
    EMBER_CHECK(!std::filesystem::is_directory(p, ec), "TextCorpusReader: '", p,
                "' is a directory, not a file");
  }
}

inline bool TextCorpusReader::open_next_file_() {
  file_ = opened_any_ ? file_ + 1 : 0;
  opened_any_ = true;
  if (file_ >= paths_.size()) return false;
  in_.close();
  in_.clear();
  in_.open(paths_[file_], std::ios::binary);
  EMBER_CHECK(in_.good(), "TextCorpusReader: cannot open '", paths_[file_], "' for reading");
  buf_.clear();
  pos_ = 0;
  eof_ = false;
  line_no_ = 0;
  return true;
}

inline bool TextCorpusReader::next_line_(std::string_view& line) {
  while (true) {
    const std::size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos || (eof_ && pos_ < buf_.size())) {
      const std::size_t end = nl == std::string::npos ? buf_.size() : nl;
      line = std::string_view(buf_).substr(pos_, end - pos_);
      pos_ = nl == std::string::npos ? buf_.size() : nl + 1;
      ++line_no_;
      if (line_no_ == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // BOM
      const std::size_t bad = detail::invalid_utf8_offset(line);
      if (bad != std::string_view::npos) {
        static const char* hex = "0123456789ABCDEF";
        const unsigned char b = static_cast<unsigned char>(line[bad]);
        EMBER_FAIL("TextCorpusReader: ", paths_[file_], ":", line_no_, ": byte 0x", hex[b >> 4],
                   hex[b & 15], " at column ", bad + 1,
                   " is not valid UTF-8; the corpus must be UTF-8 (a cp1252 or Latin-1 export? "
                   "convert it, e.g. iconv -f cp1252 -t utf-8 IN > OUT)");
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return true;
    }
    if (eof_) return false;
    buf_.erase(0, pos_);  // keep the partial line, read the next chunk after it
    pos_ = 0;
    const std::size_t old = buf_.size(), want = static_cast<std::size_t>(options_.chunk_bytes());
    buf_.resize(old + want);
    in_.read(buf_.data() + old, static_cast<std::streamsize>(want));
    const std::size_t got = static_cast<std::size_t>(in_.gcount());
    EMBER_CHECK(!in_.bad(), "TextCorpusReader: error while reading '", paths_[file_], "'");
    buf_.resize(old + got);
    bytes_read_ += static_cast<int64_t>(got);
    if (got < want) eof_ = true;
  }
}

inline bool TextCorpusReader::next(std::string& document) {
  const bool by_line = options_.document_split() == DocumentSplit::line;
  document.clear();
  bool have = false;
  while (true) {
    if (!eof_ || pos_ < buf_.size()) {
      std::string_view l;
      while (next_line_(l)) {
        if (detail::is_blank_line(l)) {
          if (have) break;  // blank_line mode: the document ends here
          continue;
        }
        if (have) {
          document += '\n';
        } else {
          doc_line_ = line_no_;
          have = true;
        }
        document.append(l.data(), l.size());
        if (by_line) break;
      }
      if (have) {
        ++num_documents_;
        return true;
      }
    }
    if (!open_next_file_()) break;
  }
  EMBER_CHECK(num_documents_ > 0, "TextCorpusReader: the corpus ", detail::corpus_name(paths_),
              " holds no text: expected at least one non-blank line, found ", bytes_read_, " bytes",
              bytes_read_ == 0 ? " (empty files)" : " of blank lines only");
  return false;
}

// ---- TextPacker ------------------------------------------------------------------------------

inline TextPacker::TextPacker(const WordPieceTokenizer& tokenizer, int64_t seq_len, Packing packing)
    : packing_(packing),
      seq_len_(seq_len),
      cls_(static_cast<int32_t>(tokenizer.cls_token_id())),
      sep_(static_cast<int32_t>(tokenizer.sep_token_id())) {
  EMBER_CHECK(seq_len >= 3, "TextPacker: seq_len must be >= 3 ([CLS], one token, [SEP]), found ",
              seq_len);
}

inline int64_t TextPacker::tokens_per_block() const {
  return packing_ == Packing::group_texts ? seq_len_ : seq_len_ - 2;
}

inline void TextPacker::add(const std::vector<int64_t>& ids) {
  ++documents_;
  if (head_ > 0 && head_ * 2 >= buf_.size()) {  // drop what blocks took, keep the rest
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  const std::size_t before = buf_.size();
  switch (packing_) {
    case Packing::blocks:
      if (!first_document_) buf_.push_back(sep_);  // between documents
      buf_.insert(buf_.end(), ids.begin(), ids.end());
      break;
    case Packing::group_texts:
      buf_.push_back(cls_);
      buf_.insert(buf_.end(), ids.begin(), ids.end());
      buf_.push_back(sep_);
      break;
    case Packing::line_by_line: {  // one example per document, built whole
      const std::size_t keep = std::min(ids.size(), static_cast<std::size_t>(seq_len_ - 2));
      buf_.push_back(cls_);
      buf_.insert(buf_.end(), ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep));
      buf_.push_back(sep_);
      stream_tokens_ += static_cast<int64_t>(ids.size()) + 2;
      first_document_ = false;
      return;
    }
  }
  first_document_ = false;
  stream_tokens_ += static_cast<int64_t>(buf_.size() - before);
}

inline bool TextPacker::pop(std::vector<int32_t>& example) {
  const std::size_t avail = buf_.size() - head_;
  example.clear();
  if (packing_ == Packing::line_by_line) {
    if (avail == 0) return false;
    example.assign(buf_.begin() + static_cast<std::ptrdiff_t>(head_), buf_.end());
    head_ = buf_.size();
  } else {
    const std::size_t n = static_cast<std::size_t>(tokens_per_block());
    if (avail < n) return false;
    const auto first = buf_.begin() + static_cast<std::ptrdiff_t>(head_);
    if (packing_ == Packing::blocks) example.push_back(cls_);
    example.insert(example.end(), first, first + static_cast<std::ptrdiff_t>(n));
    if (packing_ == Packing::blocks) example.push_back(sep_);
    head_ += n;
  }
  ++examples_out_;
  return true;
}

inline void TextPacker::finish(const std::string& corpus) const {
  if (examples_out_ > 0 || packing_ == Packing::line_by_line) return;
  EMBER_FAIL("TextPacker: the corpus ", corpus, " has ", stream_tokens_, " tokens (", documents_,
             documents_ == 1 ? " document, " : " documents, ",
             packing_ == Packing::blocks ? "with a [SEP] between documents"
                                         : "each with its [CLS] and [SEP]",
             "); one block needs ", tokens_per_block(), " (seq_len ", seq_len_,
             packing_ == Packing::blocks ? " minus [CLS] and [SEP]" : "",
             "); lower seq_len (--seq-len) or add text");
}

// ---- LanguageModelingDataset -----------------------------------------------------------------

template <class NextDocument>
inline void LanguageModelingDataset::build_(NextDocument&& next,
                                            const WordPieceTokenizer& tokenizer,
                                            const std::string& corpus) {
  TextPacker packer(tokenizer, options_.seq_len(), options_.packing());
  constexpr std::size_t kBatch = 1024;  // documents tokenized together (in parallel)
  std::vector<std::string> docs(kBatch);
  std::vector<std::vector<int64_t>> ids(kBatch);
  std::vector<int32_t> example;
  bool more = true;
  while (more) {
    std::size_t n = 0;
    while (n < kBatch && (more = next(docs[n]))) ++n;
    std::exception_ptr error;
    std::mutex error_mutex;
    parallel_for(static_cast<int64_t>(n), 16, [&](int64_t i) {
      try {
        ids[std::size_t(i)] = tokenizer.tokenize_to_ids(docs[std::size_t(i)]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    });
    if (error) std::rethrow_exception(error);
    for (std::size_t i = 0; i < n; ++i) {
      packer.add(ids[i]);
      while (packer.pop(example)) {
        ids_.insert(ids_.end(), example.begin(), example.end());
        offsets_.push_back(static_cast<int64_t>(ids_.size()));
      }
    }
    documents_ += static_cast<int64_t>(n);
  }
  packer.finish(corpus);
  stream_tokens_ = packer.num_stream_tokens();
}

inline LanguageModelingDataset::LanguageModelingDataset(const std::vector<std::string>& paths,
                                                        const WordPieceTokenizer& tokenizer,
                                                        TextCorpusOptions options)
    : options_(std::move(options)) {
  TextCorpusReader reader(paths, options_);
  build_([&](std::string& doc) { return reader.next(doc); }, tokenizer, detail::corpus_name(paths));
}

inline LanguageModelingDataset LanguageModelingDataset::from_documents(
    const std::vector<std::string>& documents, const WordPieceTokenizer& tokenizer,
    TextCorpusOptions options) {
  LanguageModelingDataset out;
  out.options_ = std::move(options);
  std::size_t next = 0;
  int64_t nonblank = 0;
  out.build_(
      [&](std::string& doc) {
        while (next < documents.size() && detail::is_blank_line(documents[next])) ++next;
        if (next < documents.size()) {
          doc = documents[next++];
          ++nonblank;
          return true;
        }
        EMBER_CHECK(nonblank > 0,
                    "LanguageModelingDataset: the corpus <documents> holds no "
                    "text: expected at least one non-blank document, found ",
                    documents.size(), " blank or empty ones");
        return false;
      },
      tokenizer, "<documents>");
  return out;
}

inline std::vector<int64_t> LanguageModelingDataset::example(int64_t i) const {
  EMBER_CHECK(i >= 0 && i < size(), "LanguageModelingDataset::example: index ", i,
              " is out of range for ", size(), " examples");
  return std::vector<int64_t>(data(i), data(i) + length(i));
}

inline LanguageModelingDataset LanguageModelingDataset::subset_(
    const std::vector<int64_t>& indices) const {
  LanguageModelingDataset out;
  out.options_ = options_;
  out.stream_tokens_ = stream_tokens_;
  out.documents_ = documents_;
  for (int64_t i : indices) {
    out.ids_.insert(out.ids_.end(), data(i), data(i) + length(i));
    out.offsets_.push_back(static_cast<int64_t>(out.ids_.size()));
  }
  return out;
}

inline std::pair<LanguageModelingDataset, LanguageModelingDataset>
LanguageModelingDataset::train_test_split(double test_size, bool shuffle, uint64_t seed) const {
  EMBER_CHECK(test_size > 0 && test_size < 1,
              "LanguageModelingDataset::train_test_split: test_size must be in (0, 1), found ",
              test_size);
  const int64_t n = size();
  EMBER_CHECK(n >= 2,
              "LanguageModelingDataset::train_test_split: expected at least 2 examples "
              "to split, found ",
              n, "; add text or lower seq_len");
  const int64_t k = std::clamp<int64_t>(std::llround(test_size * double(n)), 1, n - 1);
  std::vector<char> test(static_cast<std::size_t>(n), 0);
  if (shuffle) {
    std::vector<int64_t> idx(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) idx[std::size_t(i)] = i;
    Generator gen(seed);
    for (int64_t i = n - 1; i > 0; --i)  // Fisher–Yates
      std::swap(idx[std::size_t(i)], idx[gen.randint(uint64_t(i) + 1)]);
    for (int64_t i = 0; i < k; ++i) test[std::size_t(idx[std::size_t(i)])] = 1;
  } else {
    std::fill(test.end() - k, test.end(), 1);
  }
  std::vector<int64_t> a, b;
  for (int64_t i = 0; i < n; ++i) (test[std::size_t(i)] ? b : a).push_back(i);
  return {subset_(a), subset_(b)};
}

}  // namespace ember::data
