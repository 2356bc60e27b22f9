// Tests of MLM pretraining data: TextCorpusReader (documents per line or per blank-line block,
// several files, chunked reading, errors), TextPacker / LanguageModelingDataset (blocks,
// group_texts and line_by_line packing against hand-computed ids, the too-short error, the
// held-out split) and DataCollatorForLanguageModeling (statistics over more than 1 M tokens:
// selected fraction, the 80/10/10 split, specials and padding never selected, seeds; whole-word
// masking on real WordPiece tokens of SST-2 never splits a word).
//
// The hand-computed tests use an 11-token vocabulary:
//   [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 a=5 b=6 c=7 d=8 e=9 ##s=10
// The statistics and whole-word tests use the BERT uncased vocabulary
// (tests/data/bert_tiny/vocab.txt) and SST-2's training sentences (examples/data/sst2).
#include <ember/data/mlm_collator.hpp>
#include <ember/data/text_corpus.hpp>

#include "support/temp_dir.hpp"
#include "support/test_util.hpp"
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

// A named namespace, not an anonymous one: the text tests compile as one translation unit.
namespace ember_lm_test {

using ember::Generator;
using ember::data::Batch;
using ember::data::DataCollatorForLanguageModeling;
using ember::data::DocumentSplit;
using ember::data::LanguageModelingDataset;
using ember::data::MaskingOptions;
using ember::data::Packing;
using ember::data::TextCorpusOptions;
using ember::data::TextCorpusReader;
using ember::data::WordPieceTokenizer;
using ember::test::contains;
using ember::test::error_of;
namespace fs = std::filesystem;

const WordPieceTokenizer& tiny() {
  static const WordPieceTokenizer tok(std::vector<std::string>{
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e", "##s"});
  return tok;
}

const WordPieceTokenizer& bert() {
  static const WordPieceTokenizer tok(ember::test::kDataDir + "/bert_tiny/vocab.txt");
  return tok;
}

/// Writes `content` to `name` in a per-process temporary folder (removed at exit); its path.
std::string write_file(const std::string& name, const std::string& content) {
  static const ember::test::TempDir tmp("lm");
  return tmp.write(name, content);
}

/// Every document of `paths`, read with `options`.
std::vector<std::string> read_all(const std::vector<std::string>& paths,
                                  TextCorpusOptions options = {}) {
  TextCorpusReader reader(paths, options);
  std::vector<std::string> docs;
  std::string doc;
  while (reader.next(doc)) docs.push_back(doc);
  return docs;
}

std::vector<std::vector<int64_t>> examples_of(const LanguageModelingDataset& ds) {
  std::vector<std::vector<int64_t>> out;
  for (int64_t i = 0; i < ds.size(); ++i) out.push_back(ds.example(i));
  return out;
}

/// The first `n` sentences of SST-2's training split (one per line, the label dropped).
std::vector<std::string> sst2_sentences(std::size_t n) {
  std::ifstream in(ember::test::kDataDir + "/../../examples/data/sst2/train.tsv");
  REQUIRE(in.good());
  std::vector<std::string> out;
  std::string line;
  std::getline(in, line);  // header
  while (out.size() < n && std::getline(in, line)) out.push_back(line.substr(0, line.find('\t')));
  return out;
}

// ---- reader --------------------------------------------------------------------------------

TEST_CASE("text_corpus: one document per line, blank lines skipped, BOM and CRLF") {
  const std::string p = write_file("lines.txt",
                                   "\xEF\xBB\xBF"
                                   "a b\r\n\n  \t\nc d\ne");
  CHECK(read_all({p}) == std::vector<std::string>{"a b", "c d", "e"});
  TextCorpusReader reader({p});
  std::string doc;
  REQUIRE(reader.next(doc));
  CHECK(reader.line() == 1);
  REQUIRE(reader.next(doc));
  CHECK(reader.line() == 4);
  CHECK(reader.path() == p);
}

TEST_CASE("text_corpus: blank-line-separated documents") {
  const std::string p = write_file("para.txt", "a b\nc\n\n\n d\r\n e\n\n");
  const auto opts = TextCorpusOptions().document_split(DocumentSplit::blank_line);
  CHECK(read_all({p}, opts) == std::vector<std::string>{"a b\nc", " d\n e"});
  TextCorpusReader reader({p}, opts);
  std::string doc;
  REQUIRE(reader.next(doc));
  REQUIRE(reader.next(doc));
  CHECK(reader.line() == 5);
  CHECK_FALSE(reader.next(doc));
  CHECK(reader.num_documents() == 2);
}

TEST_CASE("text_corpus: several files, documents never span two files") {
  const std::string p1 = write_file("f1.txt", "a b\nc");
  const std::string p2 = write_file("f2.txt", "\n\nd\ne\n");
  const std::string p3 = write_file("f3.txt", "");
  CHECK(read_all({p1, p3, p2}) == std::vector<std::string>{"a b", "c", "d", "e"});
  const auto opts = TextCorpusOptions().document_split(DocumentSplit::blank_line);
  CHECK(read_all({p1, p3, p2}, opts) == std::vector<std::string>{"a b\nc", "d\ne"});
}

TEST_CASE("text_corpus: chunked reading gives the same documents and blocks as reading whole") {
  // ~190 KB of real text with multi-byte UTF-8, read 7, 4096 bytes and 1 MiB at a time.
  std::string text;
  const auto sentences = sst2_sentences(4000);
  for (std::size_t i = 0; i < sentences.size(); ++i)
    text += sentences[i] + (i % 7 == 3 ? " caf\xC3\xA9 \xE2\x80\x94 na\xC3\xAFve\n\n" : "\n");
  const std::string p = write_file("big.txt", text);
  for (DocumentSplit split : {DocumentSplit::line, DocumentSplit::blank_line}) {
    CAPTURE(int(split));
    const auto whole = TextCorpusOptions().document_split(split).chunk_bytes(int64_t(1) << 20);
    const auto docs = read_all({p}, whole);
    REQUIRE(docs.size() > 500);
    const LanguageModelingDataset ref({p}, bert(), whole);
    for (int64_t chunk : {int64_t(7), int64_t(4096)}) {
      CAPTURE(chunk);
      auto opts = whole;
      opts.chunk_bytes(chunk);
      CHECK(read_all({p}, opts) == docs);
      const LanguageModelingDataset ds({p}, bert(), opts);
      CHECK(ds.size() == ref.size());
      CHECK(examples_of(ds) == examples_of(ref));
    }
    if (split == DocumentSplit::line) {  // the file's documents = the same strings in memory
      const auto mem = LanguageModelingDataset::from_documents(docs, bert(), whole);
      CHECK(examples_of(mem) == examples_of(ref));
    }
  }
}

TEST_CASE("text_corpus: errors name the file and say what was expected") {
  const std::string blank = write_file("blank.txt", "\n  \n\t\r\n");
  const std::string empty = write_file("empty.txt", "");
  std::string msg = error_of([&] { read_all({blank, empty}); });
  CHECK(contains(msg, "holds no text"));
  CHECK(contains(msg, "blank.txt"));
  CHECK(contains(msg, "expected at least one non-blank line"));
  msg = error_of([&] { read_all({empty}); });
  CHECK(contains(msg, "(empty files)"));
  msg = error_of([&] { LanguageModelingDataset({empty}, tiny()); });
  CHECK(contains(msg, "holds no text"));
  msg = error_of([&] { LanguageModelingDataset::from_documents({"", " "}, tiny()); });
  CHECK(contains(msg, "holds no text"));

  const std::string bad = write_file("latin1.txt", "a b\nc \xE9 d\n");
  msg = error_of([&] { read_all({bad}, TextCorpusOptions().chunk_bytes(3)); });
  CHECK(contains(msg, "latin1.txt:2: byte 0xE9 at column 3 is not valid UTF-8"));

  msg = error_of([&] { read_all({write_file("ok.txt", "a"), "/no/such/corpus.txt"}); });
  CHECK(contains(msg, "'/no/such/corpus.txt' does not exist"));
  CHECK(contains(error_of([&] { read_all({}); }), "expected at least one corpus file"));
  CHECK(contains(error_of([&] { read_all({blank}, TextCorpusOptions().chunk_bytes(0)); }),
                 "chunk_bytes must be >= 1"));
}

// ---- packing -------------------------------------------------------------------------------

TEST_CASE("text_corpus: blocks packing equals the hand-computed blocks") {
  // Stream: a b c [SEP] d e [SEP] a = 5 6 7 3 8 9 3 5; seq_len 5 takes 3 stream tokens a block.
  const auto ds = LanguageModelingDataset::from_documents({"a b c", "d e", "", "a"}, tiny(),
                                                          TextCorpusOptions().seq_len(5));
  CHECK(examples_of(ds) ==
        std::vector<std::vector<int64_t>>{{2, 5, 6, 7, 3}, {2, 3, 8, 9, 3}});  // [3, 5] dropped
  CHECK(ds.num_documents() == 3);
  CHECK(ds.num_stream_tokens() == 8);
  CHECK(ds.num_tokens() == 10);
  // Words of several pieces stay in the stream as pieces: "as" = a ##s.
  const auto pieces =
      LanguageModelingDataset::from_documents({"as bs"}, tiny(), TextCorpusOptions().seq_len(6));
  CHECK(examples_of(pieces) == std::vector<std::vector<int64_t>>{{2, 5, 10, 6, 10, 3}});
}

TEST_CASE("text_corpus: group_texts packing is run_mlm.py's") {
  // Stream: [CLS] a b c [SEP] [CLS] d e [SEP] [CLS] a [SEP] (12 tokens), blocks of 5.
  const auto ds = LanguageModelingDataset::from_documents(
      {"a b c", "d e", "a"}, tiny(), TextCorpusOptions().seq_len(5).packing(Packing::group_texts));
  CHECK(examples_of(ds) == std::vector<std::vector<int64_t>>{{2, 5, 6, 7, 3}, {2, 8, 9, 3, 2}});
  CHECK(ds.num_stream_tokens() == 12);
}

TEST_CASE("text_corpus: line_by_line packing truncates each document") {
  const auto ds = LanguageModelingDataset::from_documents(
      {"a b c", "d e", "a"}, tiny(), TextCorpusOptions().seq_len(4).packing(Packing::line_by_line));
  CHECK(examples_of(ds) ==
        std::vector<std::vector<int64_t>>{{2, 5, 6, 3}, {2, 8, 9, 3}, {2, 5, 3}});
}

TEST_CASE("text_corpus: a corpus shorter than one block is an error") {
  std::string msg = error_of([&] {
    LanguageModelingDataset::from_documents({"a b", "c"}, tiny(), TextCorpusOptions().seq_len(8));
  });
  CHECK(contains(msg, "the corpus <documents> has 4 tokens"));  // a b [SEP] c
  CHECK(contains(msg, "one block needs 6"));
  CHECK(contains(msg, "lower seq_len (--seq-len) or add text"));
  msg = error_of([&] {
    LanguageModelingDataset({write_file("short.txt", "a b\n")}, tiny(),
                            TextCorpusOptions().seq_len(8).packing(Packing::group_texts));
  });
  CHECK(contains(msg, "short.txt"));
  CHECK(contains(msg, "has 4 tokens"));
  CHECK(contains(msg, "one block needs 8"));
  CHECK(contains(error_of([&] {
                   LanguageModelingDataset::from_documents({"a"}, tiny(),
                                                           TextCorpusOptions().seq_len(2));
                 }),
                 "seq_len must be >= 3"));
}

TEST_CASE("text_corpus: train_test_split holds out the last or a seeded set of examples") {
  std::vector<std::string> docs;
  for (int i = 0; i < 30; ++i) docs.push_back(i % 2 ? "a b c" : "d e");
  const auto ds =
      LanguageModelingDataset::from_documents(docs, tiny(), TextCorpusOptions().seq_len(5));
  REQUIRE(ds.size() == 34);  // 75 document tokens + 29 separators = 104, blocks of 3
  const auto all = examples_of(ds);
  auto [train, test] = ds.train_test_split(0.1);  // round(3.4) = 3 held out
  REQUIRE(test.size() == 3);
  CHECK(train.size() == 31);
  for (int64_t i = 0; i < 3; ++i) CHECK(test.example(i) == all[std::size_t(31 + i)]);
  for (int64_t i = 0; i < 31; ++i) CHECK(train.example(i) == all[std::size_t(i)]);
  auto [train2, test2] = ds.train_test_split(0.1, true, 7);
  auto [train3, test3] = ds.train_test_split(0.1, true, 7);
  CHECK(test2.size() == 3);
  CHECK(examples_of(train2) == examples_of(train3));
  CHECK(examples_of(test2) == examples_of(test3));
  CHECK(train2.size() + test2.size() == ds.size());
  CHECK(contains(error_of([&] { ds.train_test_split(1.0); }), "test_size must be in (0, 1)"));
  const auto one =
      LanguageModelingDataset::from_documents({"a"}, tiny(), TextCorpusOptions().seq_len(3));
  CHECK(contains(error_of([&] { one.train_test_split(0.5); }), "expected at least 2 examples"));
}

// ---- masking -------------------------------------------------------------------------------

/// Rows of ids as a packed block looks: [CLS] random ids of the whole vocabulary [SEP], lengths
/// 200..300 (so batches carry padding), `tokens` ids in all.
std::vector<std::vector<int64_t>> random_rows(int64_t tokens, int64_t vocab, uint64_t seed) {
  Generator gen(seed);
  std::vector<std::vector<int64_t>> rows;
  for (int64_t total = 0; total < tokens;) {
    const int64_t len = 200 + int64_t(gen.randint(101));
    std::vector<int64_t> row{101};
    for (int64_t t = 2; t < len; ++t) row.push_back(int64_t(gen.randint(uint64_t(vocab))));
    row.push_back(102);
    total += len;
    rows.push_back(std::move(row));
  }
  return rows;
}

TEST_CASE("mlm_collator: 1 M tokens — 15 % selected, 80/10/10, never specials or padding") {
  DataCollatorForLanguageModeling collator(bert(), MaskingOptions().seed(1234));
  const int64_t vocab = collator.vocab_size();
  const auto rows = random_rows(1'050'000, vocab, 99);
  int64_t eligible = 0, selected = 0, masked = 0, randomized = 0, unchanged = 0, bad = 0;
  double random_id_sum = 0;
  for (std::size_t lo = 0; lo < rows.size(); lo += 64) {
    const std::vector<std::vector<int64_t>> part(
        rows.begin() + std::ptrdiff_t(lo),
        rows.begin() + std::ptrdiff_t(std::min(lo + 64, rows.size())));
    const Batch b = collator(part);
    const int64_t n = b.size(), seq = b.input_ids.shape()[1];
    const int64_t* ids = b.input_ids.data();
    const int64_t* att = b.attention_mask.data();
    const int64_t* lab = b.labels.data();
    for (int64_t r = 0; r < n; ++r)
      for (int64_t t = 0; t < seq; ++t) {
        const int64_t pos = r * seq + t;
        const bool pad = t >= int64_t(part[std::size_t(r)].size());
        const int64_t orig = pad ? collator.pad_token_id() : part[std::size_t(r)][std::size_t(t)];
        const bool special = collator.is_special(orig);
        if (att[pos] != (pad ? 0 : 1) || b.token_type_ids.data()[pos] != 0) ++bad;
        if (!pad && !special) ++eligible;
        if (lab[pos] == -100) {
          if (ids[pos] != orig) ++bad;  // an unselected token is never changed
          continue;
        }
        ++selected;
        if (pad || special || lab[pos] != orig) ++bad;
        if (ids[pos] == collator.mask_token_id()) {
          ++masked;
        } else if (ids[pos] == orig) {
          ++unchanged;
        } else {
          ++randomized;
          random_id_sum += double(ids[pos]);
        }
      }
  }
  REQUIRE(eligible >= 1'000'000);
  CHECK(bad == 0);
  const double f = double(selected) / double(eligible);
  MESSAGE("eligible ", eligible, ", selected ", f, ", [MASK] ", double(masked) / double(selected),
          ", random ", double(randomized) / double(selected), ", unchanged ",
          double(unchanged) / double(selected));
  CHECK(std::abs(f - 0.15) <= 0.002);
  CHECK(std::abs(double(masked) / double(selected) - 0.8) <= 0.005);
  CHECK(std::abs(double(randomized) / double(selected) - 0.1) <= 0.005);
  CHECK(std::abs(double(unchanged) / double(selected) - 0.1) <= 0.005);
  // Random ids come from the whole vocabulary: their mean is (vocab - 1) / 2 within 2 %.
  CHECK(std::abs(random_id_sum / double(randomized) / (double(vocab - 1) / 2) - 1) <= 0.02);
}

TEST_CASE("mlm_collator: the same seed gives the same masks, another seed others") {
  const auto rows = random_rows(20'000, int64_t(bert().vocab_size()), 5);
  auto masks = [&](uint64_t seed, bool wwm) {
    DataCollatorForLanguageModeling c(bert(), MaskingOptions().seed(seed).whole_word_mask(wwm));
    std::vector<int64_t> out;
    for (int call = 0; call < 2; ++call) {  // two batches: the stream advances between them
      const Batch b = c(rows);
      const auto ids = b.input_ids.to_vector(), labels = b.labels.to_vector();
      out.insert(out.end(), ids.begin(), ids.end());
      out.insert(out.end(), labels.begin(), labels.end());
    }
    return out;
  };
  for (bool wwm : {false, true}) {
    CAPTURE(wwm);
    CHECK(masks(1, wwm) == masks(1, wwm));
    CHECK(masks(1, wwm) != masks(2, wwm));
  }
  // Restoring the generator's state replays a batch (a resumed run).
  DataCollatorForLanguageModeling c(bert(), MaskingOptions().seed(3));
  c(rows);
  const uint64_t offset = c.generator().offset();
  const auto first = c(rows).labels.to_vector();
  c.generator().set_state(3, offset);
  CHECK(c(rows).labels.to_vector() == first);
}

TEST_CASE("mlm_collator: whole-word masking never splits a word (real WordPiece tokens)") {
  const auto ds = LanguageModelingDataset::from_documents(sst2_sentences(6000), bert(),
                                                          TextCorpusOptions().seq_len(128));
  REQUIRE(ds.size() > 100);
  for (double mask_prob : {0.8, 1.0}) {
    CAPTURE(mask_prob);
    DataCollatorForLanguageModeling collator(bert(), MaskingOptions()
                                                         .whole_word_mask(true)
                                                         .mask_replace_prob(mask_prob)
                                                         .random_replace_prob(1.0 - mask_prob)
                                                         .seed(11));
    int64_t words = 0, multi = 0, selected_words = 0, split = 0, selected_tokens = 0, other = 0;
    for (int64_t lo = 0; lo < ds.size(); lo += 32) {
      std::vector<int64_t> idx;
      for (int64_t i = lo; i < std::min(ds.size(), lo + 32); ++i) idx.push_back(i);
      const Batch b = collator(ds, idx);
      const int64_t seq = b.input_ids.shape()[1];
      const int64_t* lab = b.labels.data();
      const int64_t* ids = b.input_ids.data();
      for (std::size_t r = 0; r < idx.size(); ++r) {
        const std::vector<int64_t> orig = ds.example(idx[r]);
        for (std::size_t t = 0; t < orig.size();) {  // one word: t and its "##" pieces
          std::size_t end = t + 1;
          if (!collator.is_special(orig[t]))
            while (end < orig.size() && collator.is_continuation(orig[end])) ++end;
          int64_t sel = 0;
          for (std::size_t k = t; k < end; ++k) {
            const int64_t pos = int64_t(r) * seq + int64_t(k);
            if (lab[pos] == -100) continue;
            ++sel;
            if (mask_prob == 1.0 && ids[pos] != collator.mask_token_id()) ++other;
          }
          if (!collator.is_special(orig[t])) {
            ++words;
            if (end - t > 1) ++multi;
            if (sel > 0) ++selected_words;
            if (sel != 0 && sel != int64_t(end - t)) ++split;
          } else if (sel != 0) {
            ++split;  // a special token selected
          }
          selected_tokens += sel;
          t = end;
        }
      }
    }
    MESSAGE("words ", words, " (", multi, " of several pieces), selected ",
            double(selected_words) / double(words));
    CHECK(multi > 1000);
    CHECK(split == 0);
    CHECK(other == 0);  // mask_replace_prob 1: every selected token is [MASK] (HF 5's setting)
    CHECK(std::abs(double(selected_words) / double(words) - 0.15) <= 0.01);
    CHECK(selected_tokens > selected_words);
  }
}

TEST_CASE("mlm_collator: padding, pad_to_multiple_of, dataset rows, and errors") {
  DataCollatorForLanguageModeling c(tiny(), MaskingOptions()
                                                .mlm_probability(1.0)
                                                .mask_replace_prob(1.0)
                                                .random_replace_prob(0)
                                                .pad_to_multiple_of(4));
  const Batch b = c({{2, 5, 6, 3}, {2, 7, 8, 9, 1, 3}});
  CHECK(b.input_ids.shape() == ember::Shape{2, 8});
  CHECK(b.input_ids.to_vector() ==
        std::vector<int64_t>{2, 4, 4, 3, 0, 0, 0, 0, 2, 4, 4, 4, 1, 3, 0, 0});
  CHECK(b.labels.to_vector() == std::vector<int64_t>{-100, 5, 6, -100, -100, -100, -100, -100, -100,
                                                     7, 8, 9, -100, -100, -100, -100});
  CHECK(b.attention_mask.to_vector() ==
        std::vector<int64_t>{1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0});
  CHECK(b.indices == std::vector<int64_t>{0, 1});

  const auto ds = LanguageModelingDataset::from_documents(
      {"a b c", "d e", "a"}, tiny(), TextCorpusOptions().seq_len(4).packing(Packing::line_by_line));
  DataCollatorForLanguageModeling plain(tiny());
  const Batch d = plain(ds, {2, 0});
  CHECK(d.input_ids.shape() == ember::Shape{2, 4});
  CHECK(d.indices == std::vector<int64_t>{2, 0});
  CHECK(d.attention_mask.to_vector() == std::vector<int64_t>{1, 1, 1, 0, 1, 1, 1, 1});
  CHECK(contains(error_of([&] { plain(ds, {3}); }), "index 3 is out of range for 3 examples"));
  CHECK(contains(error_of([&] { plain({{2, 11, 3}}); }), "holds id 11 at position 1"));
  CHECK(contains(error_of([&] { plain(std::vector<std::vector<int64_t>>{}); }),
                 "expected at least one example"));

  auto make = [](MaskingOptions o) {
    return error_of([&] { DataCollatorForLanguageModeling(tiny(), o); });
  };
  CHECK(contains(make(MaskingOptions().mlm_probability(1.5)), "mlm_probability must be in [0, 1]"));
  CHECK(contains(make(MaskingOptions().mask_replace_prob(0.9).random_replace_prob(0.2)),
                 "must not exceed 1"));
  CHECK(contains(make(MaskingOptions().pad_to_multiple_of(-1)), "pad_to_multiple_of"));
  const WordPieceTokenizer no_mask(
      std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"});
  CHECK(contains(error_of([&] { DataCollatorForLanguageModeling x(no_mask); }),
                 "no mask token '[MASK]'"));
}

}  // namespace ember_lm_test
