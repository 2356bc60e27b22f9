// Tests of ember::data::TextClassificationDataset: TSV / CSV / JSONL parsing, label mapping,
// and an error for each malformed input naming the file and the line.
//
// Small files are written by the tests into a temporary folder (their content is visible here);
// the real SST-2 dev set comes from examples/data/sst2/dev.tsv (872 rows: 444 positive,
// 428 negative, as GLUE publishes it).
#include <ember/data/text_dataset.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include "support/test_util.hpp"
using ember::test::kSst2Dev;
using ember::test::contains;

#ifndef EMBER_TEST_DATA_DIR
#define EMBER_TEST_DATA_DIR "/work/main/tests/data"
#endif

namespace {

using ember::data::TextClassificationDataset;
using ember::data::TextDatasetOptions;
using ember::data::TextFormat;
namespace fs = std::filesystem;


/// Writes `content` to a fresh file `name` in this test's temporary folder; returns its path.
std::string write_file(const std::string& name, const std::string& content) {
  // A folder per process, removed when the test binary exits.
  struct TempDir {
    fs::path path =
        fs::temp_directory_path() /
        ("ember_test_text_dataset_" + std::to_string(static_cast<long long>(::getpid())));
    TempDir() { fs::create_directories(path); }
    ~TempDir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const TempDir tmp;
  const fs::path& dir = tmp.path;
  const fs::path p = dir / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  return p.string();
}

/// The message of the ember::Error that f throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ember::Error& e) {
    return e.what();
  }
  return "";
}


}  // namespace

TEST_CASE("TextClassificationDataset: GLUE TSV with integer labels") {
  const std::string path = write_file("basic.tsv",
                                      "sentence\tlabel\n"
                                      "a charming journey . \t1\n"
                                      "bleak and desperate \t0\n"
                                      "\"quoted\" stays , as is\t1\n");
  TextClassificationDataset ds(path);
  REQUIRE(ds.size() == 3);
  CHECK(ds.example(0).text == "a charming journey . ");  // byte for byte, trailing space kept
  CHECK(ds.example(0).label_id == 1);
  CHECK(ds.example(1).label_id == 0);
  CHECK(ds.example(2).text == "\"quoted\" stays , as is");  // TSV has no quoting
  CHECK(ds.example(2).text_pair.empty());
  CHECK_FALSE(ds.has_text_pair());
  CHECK(ds.num_labels() == 2);
  CHECK(ds.id2label() == std::vector<std::string>{"0", "1"});
  CHECK(ds.label2id().at("1") == 1);
  CHECK(ds.label_counts() == std::vector<int64_t>{1, 2});
  CHECK(ds.path() == path);
  CHECK_THROWS_AS(ds.example(3), ember::Error);
  CHECK_THROWS_AS(ds.example(-1), ember::Error);
}

TEST_CASE("TextClassificationDataset: BOM, CRLF, blank lines, label whitespace, column order") {
  const std::string path = write_file("crlf.tsv",
                                      "\xEF\xBB\xBFlabel\tid\tsentence\r\n"
                                      "0\t7\tfirst\r\n"
                                      "\r\n"
                                      " 1 \t8\tsecond\r\n"
                                      "\n");
  TextClassificationDataset ds(path);
  REQUIRE(ds.size() == 2);
  CHECK(ds.example(0).text == "first");
  CHECK(ds.example(1).text == "second");
  CHECK(ds.example(1).label_id == 1);  // " 1 " trimmed
}

TEST_CASE("TextClassificationDataset: a file that is not UTF-8 is refused with its line and column") {
  // "café" as cp1252 writes é as the single byte 0xE9, which is not UTF-8 (it was read silently).
  const std::string path = write_file("cp1252.tsv", "sentence\tlabel\nfine\t1\nun caf\xE9\t0\n");
  CHECK_THROWS_WITH_AS(TextClassificationDataset{path}, doctest::Contains("cp1252.tsv:3:"),
                       ember::Error);
  CHECK_THROWS_WITH_AS(TextClassificationDataset{path},
                       doctest::Contains("byte 0xE9 at column 7 is not valid UTF-8"), ember::Error);
  // Truncated and overlong sequences and UTF-16 surrogates are refused too; real UTF-8 is read.
  CHECK_THROWS_AS(TextClassificationDataset{write_file("cut.tsv", "sentence\tlabel\nx\xC3\t0\n")},
                  ember::Error);
  CHECK_THROWS_AS(TextClassificationDataset{write_file("long.tsv", "sentence\tlabel\n\xC0\xAF\t0\n")},
                  ember::Error);
  CHECK_THROWS_AS(
      TextClassificationDataset{write_file("sur.tsv", "sentence\tlabel\n\xED\xA0\x80\t0\n")},
      ember::Error);
  TextClassificationDataset ok(write_file("utf8.tsv", "sentence\tlabel\nun caf\xC3\xA9 \xF0\x9F\x98\x80\t0\n"));
  CHECK(ok.size() == 1);
}

TEST_CASE("TextClassificationDataset: integer labels keep their value as id") {
  const std::string path = write_file("gap.tsv", "sentence\tlabel\nx\t0\ny\t2\nz\t2\n");
  TextClassificationDataset ds(path);
  CHECK(ds.num_labels() == 3);  // the integer is the id: class 1 is simply unused
  CHECK(ds.id2label() == std::vector<std::string>{"0", "1", "2"});
  CHECK(ds.example(1).label_id == 2);
  CHECK(ds.label_counts() == std::vector<int64_t>{1, 0, 2});

  // Not all canonical non-negative integers → string labels, sorted lexicographically.
  TextClassificationDataset neg(write_file("neg.tsv", "sentence\tlabel\nx\t1\ny\t-1\nz\t0\n"));
  CHECK(neg.id2label() == std::vector<std::string>{"-1", "0", "1"});
  CHECK(neg.example(0).label_id == 2);
  CHECK(neg.example(1).label_id == 0);
  TextClassificationDataset lead(write_file("lead.tsv", "sentence\tlabel\nx\t01\ny\t1\n"));
  CHECK(lead.id2label() == std::vector<std::string>{"01", "1"});
}

TEST_CASE("TextClassificationDataset: integer labels far apart get ids in numeric order (fuzzing)") {
  // Found by fuzz_text_dataset: "0" and "999999" made 1,000,000 classes (a 20-byte file took
  // seconds and a classifier would get a million-row head). Ids follow the numeric order instead.
  TextClassificationDataset far(write_file("far.tsv", "sentence\tlabel\nx\t999999\ny\t0\nz\t20\n"));
  CHECK(far.num_labels() == 3);
  CHECK(far.id2label() == std::vector<std::string>{"0", "20", "999999"});
  CHECK(far.example(0).label_id == 2);
  CHECK(far.example(2).label_id == 1);
  // Dense enough (largest < 2 · distinct + 16): still the integers themselves.
  TextClassificationDataset stars(write_file("stars.tsv", "sentence\tlabel\nx\t5\ny\t1\n"));
  CHECK(stars.num_labels() == 6);
  CHECK(stars.example(0).label_id == 5);
}

TEST_CASE("TextClassificationDataset: string labels, sorted; pairs with named columns") {
  const std::string path = write_file("pairs.tsv",
                                      "index\tpremise\thypothesis\tgold\n"
                                      "0\tA man sleeps.\tA person rests.\tentailment\n"
                                      "1\tA man sleeps.\tA man runs.\tcontradiction\n"
                                      "2\tA dog.\tAn animal outside.\tneutral\n"
                                      "3\tA cat.\tA feline.\tentailment\n");
  TextClassificationDataset ds(path, TextDatasetOptions()
                                         .text_column("premise")
                                         .text_pair_column("hypothesis")
                                         .label_column("gold"));
  REQUIRE(ds.size() == 4);
  CHECK(ds.has_text_pair());
  CHECK(ds.example(1).text == "A man sleeps.");
  CHECK(ds.example(1).text_pair == "A man runs.");
  CHECK(ds.id2label() == std::vector<std::string>{"contradiction", "entailment", "neutral"});
  CHECK(ds.example(0).label_id == 1);
  CHECK(ds.example(1).label_id == 0);
  CHECK(ds.example(2).label_id == 2);
  CHECK(ds.label2id().at("neutral") == 2);
}

TEST_CASE("TextClassificationDataset: CSV with RFC 4180 quoting") {
  const std::string path = write_file("quoted.csv",
                                      "text,label\r\n"
                                      "plain text,pos\r\n"
                                      "\"with, a comma\",neg\r\n"
                                      "\"she said \"\"hi\"\"\",pos\r\n"
                                      "\"two\nlines\",neg\n"
                                      "\"\",pos\n"
                                      "5\" screen,neg\n"
                                      "last,\"pos\"");  // no final newline
  TextClassificationDataset ds(path, TextDatasetOptions().text_column("text"));
  REQUIRE(ds.size() == 7);
  CHECK(ds.example(0).text == "plain text");
  CHECK(ds.example(1).text == "with, a comma");
  CHECK(ds.example(2).text == "she said \"hi\"");
  CHECK(ds.example(3).text == "two\nlines");
  CHECK(ds.example(4).text == "");
  CHECK(ds.example(5).text == "5\" screen");  // a quote inside an unquoted field is literal
  CHECK(ds.example(6).text == "last");
  CHECK(ds.id2label() == std::vector<std::string>{"neg", "pos"});
  CHECK(ds.example(6).label_id == 1);
  CHECK(ds.label_counts() == std::vector<int64_t>{3, 4});
}

TEST_CASE("TextClassificationDataset: CSV line numbers count lines inside quoted fields") {
  const std::string path = write_file("lines.csv",
                                      "text,label\n"         // 1
                                      "\"a\nb\nc\",1\n"      // 2-4
                                      "ok,1\n"               // 5
                                      "too,many,fields\n");  // 6
  const std::string msg = error_of(
      [&] { TextClassificationDataset ds(path, TextDatasetOptions().text_column("text")); });
  CHECK(contains(msg, path + ":6:"));
  CHECK(contains(msg, "expected 2 fields"));
  CHECK(contains(msg, "found 3"));
}

TEST_CASE("TextClassificationDataset: JSONL with integer, string labels and pairs") {
  const std::string ints =
      write_file("ints.jsonl",
                 "{\"sentence\": \"good\", \"label\": 1}\n"
                 "\n"
                 "{\"label\": 0, \"sentence\": \"bad \\\"movie\\\"\", \"extra\": [1, 2]}\n"
                 "{\"sentence\": \"caf\\u00e9\", \"label\": \"1\"}\r\n");
  TextClassificationDataset a(ints);
  REQUIRE(a.size() == 3);
  CHECK(a.example(1).text == "bad \"movie\"");
  CHECK(a.example(2).text == "caf\xC3\xA9");
  CHECK(a.id2label() == std::vector<std::string>{"0", "1"});
  CHECK(a.example(2).label_id == 1);  // the string "1" and the integer 1 are the same label

  const std::string pairs = write_file("pairs.jsonl",
                                       "{\"q\": \"how?\", \"p\": \"like so\", \"y\": \"yes\"}\n"
                                       "{\"q\": \"why?\", \"p\": \"no idea\", \"y\": \"no\"}\n");
  TextClassificationDataset b(
      pairs, TextDatasetOptions().text_column("q").text_pair_column("p").label_column("y"));
  CHECK(b.has_text_pair());
  CHECK(b.example(0).text_pair == "like so");
  CHECK(b.id2label() == std::vector<std::string>{"no", "yes"});
  CHECK(b.example(0).label_id == 1);
}

TEST_CASE("TextClassificationDataset: no header, columns by index; explicit format") {
  const std::string path =
      write_file("noheader.txt", "1\tfirst text\tpair one\n0\tsecond\tpair two\n");
  TextClassificationDataset ds(path, TextDatasetOptions()
                                         .format(TextFormat::tsv)
                                         .has_header(false)
                                         .label_index(0)
                                         .text_index(1)
                                         .text_pair_index(2));
  REQUIRE(ds.size() == 2);  // the first line is data
  CHECK(ds.example(0).text == "first text");
  CHECK(ds.example(0).text_pair == "pair one");
  CHECK(ds.example(0).label_id == 1);
  CHECK(ds.has_text_pair());

  const std::string csv = write_file("noheader.csv", "\"hello, world\",pos\nbye,neg\n");
  TextClassificationDataset c(csv, TextDatasetOptions().has_header(false));  // text 0, label 1
  CHECK(c.example(0).text == "hello, world");
  CHECK(c.id2label() == std::vector<std::string>{"neg", "pos"});

  const std::string msg = error_of([&] {
    TextClassificationDataset d(csv, TextDatasetOptions().has_header(false).label_index(2));
  });
  CHECK(contains(msg, csv + ":1:"));
  CHECK(contains(msg, "label_index 2 is out of range"));
}

TEST_CASE("TextDatasetOptions: EMBER_ARG setters chain; an empty label2id means 'from the file'") {
  const auto opts = TextDatasetOptions().text_column("premise").label_index(2);
  CHECK(opts.text_column() == "premise");
  CHECK(opts.label_index() == 2);
  CHECK(opts.label_column() == "label");  // defaults kept
  CHECK(opts.label2id().empty());
  const std::string path = write_file("empty_map.csv", "sentence,label\nfine,pos\nawful,neg\n");
  TextClassificationDataset ds(path, TextDatasetOptions().label2id({}));
  CHECK(ds.id2label() == std::vector<std::string>{"neg", "pos"});
}

TEST_CASE("TextClassificationDataset: a fixed label2id maps evaluation data like training data") {
  const std::string path = write_file("eval.csv", "sentence,label\nfine,pos\nawful,neg\n");
  std::map<std::string, int64_t> mapping{{"pos", 0}, {"neg", 1}, {"neutral", 3}};
  TextClassificationDataset ds(path, TextDatasetOptions().label2id(mapping));
  CHECK(ds.example(0).label_id == 0);
  CHECK(ds.example(1).label_id == 1);
  CHECK(ds.num_labels() == 4);
  CHECK(ds.id2label() == std::vector<std::string>{"pos", "neg", "2", "neutral"});
  CHECK(ds.label2id() == mapping);

  const std::string bad = write_file("eval_bad.csv", "sentence,label\nfine,pos\nmeh,mixed\n");
  const std::string msg =
      error_of([&] { TextClassificationDataset d(bad, TextDatasetOptions().label2id(mapping)); });
  CHECK(contains(msg, bad + ":3:"));
  CHECK(contains(msg, "label 'mixed' is not in the given label2id"));
  CHECK(contains(msg, "'neg'"));

  CHECK(contains(
      error_of([&] {
        TextClassificationDataset d(path, TextDatasetOptions().label2id({{"a", 0}, {"b", 0}}));
      }),
      "two labels to id 0"));
  CHECK(contains(error_of([&] {
                   TextClassificationDataset d(path, TextDatasetOptions().label2id({{"a", -1}}));
                 }),
                 "negative id"));
}

TEST_CASE("TextClassificationDataset: from_rows") {
  auto ds = TextClassificationDataset::from_rows({"x", "y", "z"}, {"b", "a", "b"});
  CHECK(ds.size() == 3);
  CHECK(ds.id2label() == std::vector<std::string>{"a", "b"});
  CHECK(ds.example(0).label_id == 1);
  CHECK(ds.path() == "<rows>");
  auto pairs = TextClassificationDataset::from_rows({"x", "y"}, {"0", "1"}, {"px", "py"});
  CHECK(pairs.has_text_pair());
  CHECK(pairs.example(1).text_pair == "py");
  CHECK_THROWS_AS(TextClassificationDataset::from_rows({"x"}, {"0", "1"}), ember::Error);
  CHECK_THROWS_AS(TextClassificationDataset::from_rows({}, {}), ember::Error);
  CHECK(contains(error_of([] {
                   TextClassificationDataset::from_rows({"x", "y"}, {"0", " "});
                 }),
                 "<rows>:2: empty label"));
}

TEST_CASE("TextClassificationDataset: each malformed input names the file and line") {
  using Opt = TextDatasetOptions;
  struct Case {
    const char* name;
    std::string content;
    Opt options;
    std::vector<std::string> expected;  // substrings of the message (the path is checked too)
  };
  const std::vector<Case> cases = {
      {"missing_column.tsv",
       "text\tlabel\nhello\t1\n",
       Opt(),
       {":1:", "no text column 'sentence'", "'text', 'label'"}},
      {"missing_label.tsv",
       "sentence\tgold\nhello\t1\n",
       Opt(),
       {":1:", "no label column 'label'"}},
      {"missing_pair.tsv",
       "sentence\tlabel\nhello\t1\n",
       Opt().text_pair_column("sentence2"),
       {":1:", "no text pair column 'sentence2'"}},
      {"looks_tsv.csv", "sentence\tlabel\nhello\t1\n", Opt(), {":1:", "looks tab-separated"}},
      {"field_count.tsv",
       "sentence\tlabel\nok\t1\nhas\ta tab\t0\n",
       Opt(),
       {":3:", "expected 2 fields (as the header), found 3", "cannot be quoted"}},
      {"too_few.tsv", "sentence\tlabel\nok\t1\n\nno label here\n", Opt(), {":4:", "found 1"}},
      {"empty_label.tsv", "sentence\tlabel\nok\t1\nnothing\t\n", Opt(), {":3:", "empty label"}},
      {"empty_label.csv", "sentence,label\nok,1\nnothing,\"  \"\n", Opt(), {":3:", "empty label"}},
      {"unterminated.csv",
       "sentence,label\nok,1\n\"never closed,1\nmore,0\n",
       Opt(),
       {":3:", "unterminated quoted field"}},
      {"after_quote.csv",
       "sentence,label\n\"closed\"early,1\n",
       Opt(),
       {":2:", "unexpected character 'e' after a closing quote"}},
      {"invalid.jsonl",
       "{\"sentence\": \"a\", \"label\": 1}\n{\"sentence\": \"b\", \"label\": 1\n",
       Opt(),
       {":2:", "invalid JSON"}},
      {"not_object.jsonl", "[\"a\", 1]\n", Opt(), {":1:", "expected a JSON object, found array"}},
      {"no_text.jsonl",
       "{\"sentence\": \"a\", \"label\": 1}\n\n{\"text\": \"b\", \"label\": 1}\n",
       Opt(),
       {":3:", "no field 'sentence'", "'label', 'text'"}},
      {"no_label.jsonl", "{\"sentence\": \"a\"}\n", Opt(), {":1:", "no field 'label'"}},
      {"text_type.jsonl",
       "{\"sentence\": 5, \"label\": 1}\n",
       Opt(),
       {":1:", "must be a string, found number"}},
      {"float_label.jsonl",
       "{\"sentence\": \"a\", \"label\": 1.5}\n",
       Opt(),
       {":1:", "must be an integer or a string, found number 1.5"}},
      {"null_label.jsonl",
       "{\"sentence\": \"a\", \"label\": null}\n",
       Opt(),
       {":1:", "empty label (null)"}},
      {"empty_string_label.jsonl",
       "{\"sentence\": \"a\", \"label\": \"\"}\n",
       Opt(),
       {":1:", "empty label"}},
      {"empty.tsv", "", Opt(), {"has no examples (the file is empty)"}},
      {"header_only.tsv", "sentence\tlabel\n", Opt(), {"has no examples"}},
      {"blank.jsonl", "\n  \n", Opt(), {"has no examples"}},
      {"data.txt",
       "sentence\tlabel\na\t1\n",
       Opt(),
       {"cannot tell the format", "'.txt'", "TextFormat::tsv"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string path = write_file(c.name, c.content);
    const std::string msg = error_of([&] { TextClassificationDataset ds(path, c.options); });
    REQUIRE_MESSAGE(!msg.empty(), "no error for ", c.name);
    CHECK_MESSAGE(contains(msg, path), msg);
    for (const std::string& part : c.expected) CHECK_MESSAGE(contains(msg, part), msg);
  }
}

TEST_CASE("TextClassificationDataset: a missing file is an error naming the path") {
  const std::string path = "/nonexistent/ember/sst2/train.tsv";
  const std::string msg = error_of([&] { TextClassificationDataset ds(path); });
  CHECK(contains(msg, path));
  CHECK(contains(msg, "does not exist"));
}

TEST_CASE("TextClassificationDataset: real SST-2 dev set") {
  TextClassificationDataset dev(kSst2Dev);
  CHECK(dev.size() == 872);
  CHECK(dev.num_labels() == 2);
  CHECK(dev.id2label() == std::vector<std::string>{"0", "1"});
  CHECK(dev.label_counts() == std::vector<int64_t>{428, 444});
  CHECK(dev.example(0).text == "it 's a charming and often affecting journey . ");
  CHECK(dev.example(0).label_id == 1);
  CHECK(dev.example(1).text == "unflinchingly bleak and desperate ");
  CHECK(dev.example(1).label_id == 0);
}
