// Tests of ember::data::encode_words and DataCollatorForTokenClassification
// (data/token_classification.hpp) against Hugging Face's run_ner alignment.
//
// Fixture (tools/gen_token_classification_fixture.py, versions in its "meta" line):
//   token_classification/wnut17_alignment.jsonl  BertTokenizerFast (bert_tiny/vocab.txt, the
//   all-MiniLM-L6-v2 vocabulary) with is_split_into_words=True on 300 WNUT 2017 sentences,
//   RoBERTa (add_prefix_space=True) and XLM-R tiny tokenizers on 12 of them, and 3 made-up
//   sentences; input_ids, word_ids and labels must match exactly.
#include <ember/data/token_classification.hpp>

#include "support/jsonl.hpp"
#include "support/test_util.hpp"
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace {

namespace tc {
using ember::data::ByteLevelBPETokenizer;
using ember::data::TokenClassificationEncoding;
using ember::data::UnigramTokenizer;
using ember::data::WordPieceTokenizer;
using json = nlohmann::json;

const std::string kWnut = ember::test::kDataDir + "/../../examples/data/wnut17/";

const std::vector<ember::data::TokenClassificationExample>& wnut(const std::string& split) {
  static std::map<std::string, std::vector<ember::data::TokenClassificationExample>> files;
  auto it = files.find(split);
  if (it == files.end())
    it = files.emplace(split, ember::data::read_conll(kWnut + split + ".conll")).first;
  return it->second;
}

std::vector<int64_t> ints(const json& a) { return a.get<std::vector<int64_t>>(); }

}  // namespace tc
}  // namespace

TEST_CASE("encode_words: every WNUT 2017 fixture case matches Hugging Face's run_ner alignment") {
  using namespace tc;
  const auto rows = ember::test::read_jsonl(ember::test::kDataDir +
                                            "/token_classification/wnut17_alignment.jsonl");
  REQUIRE(rows.size() > 300);
  const json& meta = rows[0]["meta"];
  REQUIRE(meta["count"].get<std::size_t>() == rows.size() - 1);
  MESSAGE("fixture: transformers ", meta["versions"]["transformers"].get<std::string>(), ", ",
          rows.size() - 1, " cases, ", meta["word_without_token"].get<int>(),
          " words without a token, ", meta["truncated"].get<int>(), " truncated");

  // Label ids: the sorted tag set of train.conll, as run_ner's get_label_list.
  const std::vector<std::string> labels = ember::data::conll_label_list(wnut("train"));
  CHECK(labels == meta["label_list"].get<std::vector<std::string>>());
  std::map<std::string, int64_t> label2id;
  for (std::size_t i = 0; i < labels.size(); ++i) label2id[labels[i]] = int64_t(i);

  const std::string data = ember::test::kDataDir;
  const WordPieceTokenizer bert(data + "/bert_tiny/vocab.txt");
  const auto roberta = ByteLevelBPETokenizer::from_pretrained(data + "/roberta_tiny");
  const auto xlmr = UnigramTokenizer::from_pretrained(data + "/xlmr_tiny");
  REQUIRE_FALSE(roberta.add_prefix_space());  // so " " + word is what is checked

  std::map<std::string, int> checked;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const json& row = rows[r];
    std::vector<std::string> words, tags;
    if (row["file"].is_null()) {
      words = row["words"].get<std::vector<std::string>>();
      tags = row["tags"].get<std::vector<std::string>>();
    } else {
      const auto& ex = wnut(row["file"].get<std::string>())[row["sentence"].get<std::size_t>()];
      words = ex.tokens;
      tags = ex.tags;
    }
    std::vector<int64_t> ids;
    for (const std::string& t : tags) ids.push_back(label2id.at(t));
    const std::string name = row["tokenizer"];
    const int64_t max_length = row["max_length"];
    TokenClassificationEncoding e;
    if (name == "bert") e = ember::data::encode_words(bert, words, ids, max_length);
    if (name == "roberta") e = ember::data::encode_words(roberta, words, ids, max_length);
    if (name == "xlmr") e = ember::data::encode_words(xlmr, words, ids, max_length);
    INFO("case ", r, ": ", name, " ", row["file"].dump(), " sentence ", row["sentence"].dump());
    CHECK(e.input_ids == ints(row["input_ids"]));
    CHECK(e.word_ids == ints(row["word_ids"]));
    CHECK(e.labels == ints(row["labels"]));
    ++checked[name];
  }
  CHECK(checked["bert"] >= 300);
  CHECK(checked["roberta"] > 0);
  CHECK(checked["xlmr"] > 0);
}

TEST_CASE("encode_words: truncation, empty words, prediction and errors") {
  using namespace tc;
  const WordPieceTokenizer tok(ember::test::kDataDir + "/bert_tiny/vocab.txt");
  // "paulwalk" is two pieces (paul ##walk); the zero-width space gives none and is not scored.
  const std::vector<std::string> words = {"Paul", "\xE2\x80\x8B", "visits", "Paulwalk"};
  auto e = ember::data::encode_words(tok, words, {1, 0, 0, 2});
  CHECK(e.word_ids == std::vector<int64_t>{-1, 0, 2, 3, 3, -1});
  CHECK(e.labels == std::vector<int64_t>{-100, 1, 0, 2, -100, -100});
  CHECK(ember::data::first_token_positions(e) ==
        std::vector<std::pair<int64_t, int64_t>>{{1, 0}, {2, 2}, {3, 3}});
  // max_length 4: [CLS] paul visits [SEP]
  e = ember::data::encode_words(tok, words, {1, 0, 0, 2}, 4);
  CHECK(e.word_ids == std::vector<int64_t>{-1, 0, 2, -1});
  // No labels (prediction): all -100, word ids as before.
  e = ember::data::encode_words(tok, words, {});
  CHECK(e.labels == std::vector<int64_t>(6, -100));
  CHECK(e.word_ids.size() == 6);
  CHECK_THROWS_WITH_AS(ember::data::encode_words(tok, words, {1, 2}),
                       doctest::Contains("one label id per word (4 words), found 2"), ember::Error);
  CHECK_THROWS_WITH_AS(ember::data::encode_words(tok, words, {}, 2),
                       doctest::Contains("at least 3"), ember::Error);
  const std::vector<ember::data::TokenClassificationExample> ex = {{{"a", "b"}, {"O", "B-x"}},
                                                                   {{"c"}, {"B-new"}}};
  CHECK_THROWS_WITH_AS(
      ember::data::encode_token_classification(tok, ex, {{"O", 0}, {"B-x", 1}}, 128, "dev.conll"),
      doctest::Contains("dev.conll: sentence 2, word 1 ('c'): the tag 'B-new' is not one of the "
                        "model's labels (B-x, O)"),
      ember::Error);
}

TEST_CASE("DataCollatorForTokenClassification pads to the longest row as Hugging Face does") {
  std::vector<ember::data::TokenClassificationEncoding> rows = {
      {{101, 7, 8, 102}, {-1, 0, 0, -1}, {-100, 3, -100, -100}},
      {{101, 9, 102}, {-1, 0, -1}, {-100, 1, -100}},
  };
  ember::data::DataCollatorForTokenClassification collate(0);
  ember::data::Batch b = collate(rows, {1, 0});
  CHECK(b.input_ids.shape() == ember::Shape{2, 4});
  CHECK(b.input_ids.to_vector() == std::vector<int64_t>{101, 9, 102, 0, 101, 7, 8, 102});
  CHECK(b.attention_mask.to_vector() == std::vector<int64_t>{1, 1, 1, 0, 1, 1, 1, 1});
  CHECK(b.token_type_ids.to_vector() == std::vector<int64_t>(8, 0));
  CHECK(b.labels.to_vector() == std::vector<int64_t>{-100, 1, -100, -100, -100, 3, -100, -100});
  CHECK(b.indices == std::vector<int64_t>{1, 0});
  CHECK_THROWS_WITH_AS(collate(rows, {}), doctest::Contains("at least one example"), ember::Error);
  CHECK_THROWS_WITH_AS(collate(rows, {2}), doctest::Contains("index 2 is outside [0, 2)"),
                       ember::Error);
}
