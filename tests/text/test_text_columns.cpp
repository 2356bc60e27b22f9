// Tests of choosing the columns of a text dataset and of checking what was chosen (issue #15):
// columns by index with a header, the format for other extensions, read_text_table, the
// detection of a two-column header's text and label columns, the label-set check that refuses a
// text column read as labels, and the seeded, stratified validation split.
//
// Small files are written by the tests into a temporary folder (their content is visible here).
#include <ember/data/text_dataset.hpp>

#include "support/temp_dir.hpp"
#include "support/test_util.hpp"
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

namespace fs = std::filesystem;
using ember::data::LabelSetLimits;
using ember::data::TextClassificationDataset;
using ember::data::TextDatasetOptions;
using ember::data::TextFormat;
using ember::test::contains;

/// Writes `content` to `name` in this process's temporary folder (removed at exit); its path.
std::string write_columns_file(const std::string& name, const std::string& content) {
  static const ember::test::TempDir tmp("text_columns");
  return tmp.write(name, content);
}

/// The message of the ember::Error that f throws ("" when it throws none).
template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const ember::Error& e) {
    return e.what();
  }
  return "";
}

/// A label-first file: `label<TAB>text`, texts long and all different (a news-like file).
std::string label_first_rows(bool header) {
  std::string s = header ? "category\tdescription\n" : "";
  const char* labels[] = {"world", "sports", "business"};
  for (int i = 0; i < 12; ++i)
    s += std::string(labels[i % 3]) + "\tstory number " + std::to_string(i) +
         " about the markets, the matches and the world in one long sentence\n";
  return s;
}

}  // namespace

TEST_CASE("TextDatasetOptions: columns_by_index picks columns by index with a header too") {
  const std::string path = write_columns_file("label_first.tsv", label_first_rows(true));
  // By name (the old way) still works.
  TextClassificationDataset named(
      path, TextDatasetOptions().text_column("description").label_column("category"));
  CHECK(named.num_labels() == 3);
  // By index: the header row is skipped, not read as data and not matched by name.
  TextClassificationDataset ds(
      path, TextDatasetOptions().columns_by_index(true).text_index(1).label_index(0));
  REQUIRE(ds.size() == 12);
  CHECK(ds.id2label() == std::vector<std::string>{"business", "sports", "world"});
  CHECK(contains(ds.example(0).text, "story number 0"));
  CHECK(ds.example(0).label_id == 2);  // world
  const std::string msg = message_of([&] {
    TextClassificationDataset(path, TextDatasetOptions().columns_by_index(true).label_index(5));
  });
  CHECK(contains(msg, "label_index 5 is out of range: the header has 2 fields"));
}

TEST_CASE("TextDatasetOptions: format() reads a file whose extension does not tell") {
  const std::string path = write_columns_file("news.data", "text,label\n\"a, b\",x\nc,y\n");
  CHECK(contains(message_of([&] { TextClassificationDataset d(path); }),
                 "cannot tell the format of"));
  TextClassificationDataset ds(path,
                               TextDatasetOptions().format(TextFormat::csv).text_column("text"));
  CHECK(ds.example(0).text == "a, b");
  CHECK(ember::data::text_format_of(path, TextFormat::tsv) == TextFormat::tsv);
  CHECK(ember::data::text_format_from_extension("x.JSONL") == TextFormat::jsonl);
  CHECK(!ember::data::text_format_from_extension("x.txt").has_value());
}

TEST_CASE("check_label_set: a text column read as labels is refused, saying what was found") {
  // The swapped case of issue #15: a headerless label-first file read as text-first.
  const std::string path = write_columns_file("swapped.tsv", label_first_rows(false));
  TextClassificationDataset swapped(path, TextDatasetOptions().has_header(false));
  CHECK(swapped.num_labels() == 12);  // every "label" is a text
  const std::string msg = message_of([&] { swapped.check_label_set(); });
  CHECK(contains(msg, "look like text"));
  CHECK(contains(msg, "12 distinct labels in 12 examples"));
  CHECK(contains(msg, "'story number 10 about the markets, the m...'"));  // cut to 40
  CHECK(contains(msg, "text_index/label_index"));                         // what to do
  CHECK(contains(message_of([&] { swapped.check_label_set({}, "pass --label-index 0"); }),
                 "pass --label-index 0"));
  // Read the right way round, the same file passes.
  TextClassificationDataset right(
      path, TextDatasetOptions().has_header(false).text_index(1).label_index(0));
  CHECK_NOTHROW(right.check_label_set());
  // Long labels alone are refused too; the limits can be relaxed.
  auto long_labels = TextClassificationDataset::from_rows(
      {"a", "b", "c", "d"}, {std::string(60, 'x'), "y", std::string(60, 'x'), "y"});
  CHECK(contains(message_of([&] { long_labels.check_label_set(); }), "the longest 60 bytes"));
  CHECK_NOTHROW(long_labels.check_label_set(LabelSetLimits().max_label_length(100)));
  // Many classes with enough examples each are fine.
  std::vector<std::string> texts, labels;
  for (int i = 0; i < 300; ++i) {
    texts.push_back("t" + std::to_string(i));
    labels.push_back("intent_" + std::to_string(i % 100));
  }
  CHECK_NOTHROW(TextClassificationDataset::from_rows(texts, labels).check_label_set());
}

TEST_CASE("read_text_table and detect_text_label_columns on a two-column header") {
  const std::string csv = write_columns_file(
      "reviews.csv",
      "review,sentiment\n\"great, really\",pos\nawful film,neg\nfine acting,pos\n"
      "\"a dull, long evening\",neg\n");
  const ember::data::TextTable t = ember::data::read_text_table(csv);
  CHECK(t.format == TextFormat::csv);
  CHECK(t.columns == std::vector<std::string>{"review", "sentiment"});
  REQUIRE(t.rows.size() == 4);
  CHECK(t.rows[0][0] == "great, really");
  CHECK(t.lines[1] == 3);
  CHECK(t.column_index("sentiment") == 1);
  CHECK(contains(message_of([&] { (void)t.column_index("text"); }),
                 "no column 'text' (columns: 'review', 'sentiment')"));
  auto cols = ember::data::detect_text_label_columns(t);
  REQUIRE(cols.has_value());
  CHECK(cols->first == 0);
  CHECK(cols->second == 1);
  // Label first: found the other way round.
  const std::string tsv = write_columns_file("label_first_header.tsv", label_first_rows(true));
  cols = ember::data::detect_text_label_columns(ember::data::read_text_table(tsv));
  REQUIRE(cols.has_value());
  CHECK(cols->first == 1);
  CHECK(cols->second == 0);
  // Three columns, or two of texts: no guess.
  const std::string three = write_columns_file("three.csv", "id,text,label\n1,a,x\n2,b,y\n");
  CHECK(!ember::data::detect_text_label_columns(ember::data::read_text_table(three)));
  const std::string texts = write_columns_file(
      "texts.tsv", "a\tb\none text here\tanother one\nmore text\tand more\nthird\tfourth\n");
  CHECK(!ember::data::detect_text_label_columns(ember::data::read_text_table(texts)));
  CHECK(contains(
      message_of([&] { ember::data::read_text_table(write_columns_file("x.jsonl", "{}")); }),
      "JSONL"));
}

TEST_CASE("stratified_split: seeded, stratified by label, file order kept, label map kept") {
  std::vector<std::string> texts, labels;
  for (int i = 0; i < 100; ++i) {
    texts.push_back("text " + std::to_string(i));
    labels.push_back(i % 4 == 0 ? "rare" : "common");  // 25 rare, 75 common
  }
  auto ds = TextClassificationDataset::from_rows(texts, labels);
  auto [train, val] = ds.stratified_split(0.2, 7);
  CHECK(train.size() == 80);
  CHECK(val.size() == 20);
  CHECK(val.label_counts() == std::vector<int64_t>{15, 5});  // common 75·0.2, rare 25·0.2
  CHECK(train.label2id() == ds.label2id());
  std::set<std::string> seen;
  for (const auto& part : {train, val}) {
    for (int64_t i = 1; i < part.size(); ++i)  // file order: "text N" with N increasing
      CHECK(std::stoi(part.example(i - 1).text.substr(5)) <
            std::stoi(part.example(i).text.substr(5)));
    for (const auto& e : part.examples()) CHECK(seen.insert(e.text).second);  // disjoint
  }
  CHECK(seen.size() == 100);
  // Same seed, same split; another seed, another one.
  auto again = ds.stratified_split(0.2, 7).second;
  auto other = ds.stratified_split(0.2, 8).second;
  bool same = true, differs = false;
  for (int64_t i = 0; i < val.size(); ++i) {
    same = same && again.example(i).text == val.example(i).text;
    differs = differs || other.example(i).text != val.example(i).text;
  }
  CHECK(same);
  CHECK(differs);
  CHECK(contains(message_of([&] { (void)ds.stratified_split(1.0, 0); }), "must be in (0, 1)"));
  auto single = TextClassificationDataset::from_rows({"a", "b"}, {"x", "y"});
  CHECK(contains(message_of([&] { (void)single.stratified_split(0.5, 0); }),
                 "leaves one part empty"));
}
