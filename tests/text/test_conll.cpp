// Tests of ember::data::read_conll (CoNLL token-classification files) and of the entity-level
// NER scores ember::train::entity_scores / get_entities (seqeval 1.2.2, default conlleval mode).
//
// References: tests/data/seqeval/cases.json, written by tools/gen_seqeval_fixture.py with
// seqeval 1.2.2 (versions in the file): the sentence / token / entity counts and label lists of
// the WNUT 2017 files (examples/data/wnut17/) as Python reads them, and seqeval's entities and
// scores for 19 hand-made cases, 250 random seeded cases and WNUT 2017 test gold tags against a
// deterministic corruption of them (conll_corrupt below, the generator's corrupt()). Scores are
// compared to 1e-12 absolute; entities, supports and report texts exactly.
// Small CoNLL files are written by the tests into a temporary folder (their content is visible).
#include <ember/data/conll.hpp>
#include <ember/train/metrics.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "support/test_util.hpp"
using ember::test::contains;
using ember::test::error_of;

#ifndef EMBER_TEST_DATA_DIR
#define EMBER_TEST_DATA_DIR "/work/main/tests/data"
#endif

namespace {

using ember::data::TokenClassificationExample;
using ember::train::Entity;
using ember::train::EntityScores;
using Sentences = std::vector<std::vector<std::string>>;
using Json = nlohmann::json;

const std::string kWnutDir = ember::test::kDataDir + "/../../examples/data/wnut17/";
constexpr double kScoreTol = 1e-12;

const Json& conll_fixture() {
  static const Json j = [] {
    std::ifstream in(ember::test::kDataDir + "/seqeval/cases.json");
    REQUIRE(in.good());
    return Json::parse(in);
  }();
  return j;
}

/// Writes `content` to `name` in a folder of this process (removed at exit); returns the path.
std::string conll_write(const std::string& name, const std::string& content) {
  struct TempDir {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("ember_test_conll_" + std::to_string(long(::getpid())));
    TempDir() { std::filesystem::create_directories(path); }
    ~TempDir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const TempDir tmp;
  const std::filesystem::path p = tmp.path / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  return p.string();
}

/// "B-PER I-PER O" → {"B-PER", "I-PER", "O"} (the fixture's random cases); "" → {}.
std::vector<std::string> conll_split(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  for (std::string t; is >> t;) out.push_back(t);
  return out;
}

Sentences conll_sentences(const Json& j, bool space_separated) {
  Sentences out;
  for (const Json& s : j)
    out.push_back(space_separated ? conll_split(s.get<std::string>())
                                  : s.get<std::vector<std::string>>());
  return out;
}

std::vector<Entity> conll_entities(const Json& j) {
  std::vector<Entity> out;
  for (const Json& e : j)
    out.push_back(Entity{e[0].get<std::string>(), e[1].get<int64_t>(), e[2].get<int64_t>()});
  return out;
}

/// seqeval's NaN (macro average over no type) is null in the fixture; ember gives 0 there.
double conll_num(const Json& j) { return j.is_null() ? 0.0 : j.get<double>(); }

/// Checks every score of `got` against a fixture case (micro, macro, weighted, per type).
void conll_check_scores(const EntityScores& got, const Json& want) {
  auto close = [](double a, const Json& b) { return std::abs(a - conll_num(b)) <= kScoreTol; };
  const Json& mi = want["micro"];
  CHECK(close(got.precision, mi[0]));
  CHECK(close(got.recall, mi[1]));
  CHECK(close(got.f1, mi[2]));
  CHECK(got.support == mi[3].get<int64_t>());
  const Json& ma = want["macro"];
  CHECK(close(got.macro_precision, ma[0]));
  CHECK(close(got.macro_recall, ma[1]));
  CHECK(close(got.macro_f1, ma[2]));
  const Json& w = want["weighted"];
  CHECK(close(got.weighted_precision, w[0]));
  CHECK(close(got.weighted_recall, w[1]));
  CHECK(close(got.weighted_f1, w[2]));
  const Json& rows = want["per_type"];
  REQUIRE(got.per_type.size() == rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CAPTURE(i);
    CHECK(got.per_type[i].type == rows[i][0].get<std::string>());
    CHECK(close(got.per_type[i].precision, rows[i][1]));
    CHECK(close(got.per_type[i].recall, rows[i][2]));
    CHECK(close(got.per_type[i].f1, rows[i][3]));
    CHECK(got.per_type[i].support == rows[i][4].get<int64_t>());
  }
}

/// tools/gen_seqeval_fixture.py's corrupt(): i counts tokens over all sentences; first match wins.
Sentences conll_corrupt(const Sentences& gold) {
  static const std::vector<std::string> types = {"corporation", "creative-work", "group",
                                                 "location",    "person",        "product"};
  Sentences out;
  std::size_t i = 0;
  for (const std::vector<std::string>& sent : gold) {
    std::vector<std::string> row;
    for (std::string tag : sent) {
      const std::size_t dash = tag.find('-');
      const std::string prefix = tag.substr(0, dash);
      const std::string type = dash == std::string::npos ? "" : tag.substr(dash + 1);
      const bool bi = prefix == "B" || prefix == "I";
      if (i % 13 == 0) {
        tag = tag == "O" ? "B-" + types[i % 6] : "O";
      } else if (i % 17 == 0 && bi) {
        tag = (prefix == "B" ? "I-" : "B-") + type;
      } else if (i % 19 == 0 && bi) {
        const std::size_t k = std::size_t(std::find(types.begin(), types.end(), type) - types.begin());
        REQUIRE(k < types.size());
        tag = prefix + "-" + types[(k + 1) % 6];
      } else if (i % 23 == 0 && prefix == "I") {
        tag = "O";
      }
      row.push_back(tag);
      ++i;
    }
    out.push_back(row);
  }
  return out;
}

Sentences conll_tags(const std::vector<TokenClassificationExample>& ex) {
  Sentences out;
  for (const TokenClassificationExample& e : ex) out.push_back(e.tags);
  return out;
}

}  // namespace

// ---- the reader --------------------------------------------------------------------------------

TEST_CASE("read_conll: WNUT 2017 files as Python reads them") {
  for (const char* split : {"train", "dev", "test"}) {
    CAPTURE(split);
    const Json& want = conll_fixture()["wnut17_files"][split];
    const std::vector<TokenClassificationExample> ex =
        ember::data::read_conll(kWnutDir + split + ".conll");
    REQUIRE(int64_t(ex.size()) == want["sentences"].get<int64_t>());
    int64_t tokens = 0;
    for (const TokenClassificationExample& e : ex) {
      REQUIRE(e.tokens.size() == e.tags.size());
      REQUIRE(!e.tokens.empty());
      tokens += int64_t(e.tokens.size());
    }
    CHECK(tokens == want["tokens"].get<int64_t>());
    CHECK(ember::data::conll_label_list(ex) == want["labels"].get<std::vector<std::string>>());
    CHECK(ex.front().tokens == want["first_sentence"].get<std::vector<std::string>>());
    CHECK(ex.front().tags == want["first_tags"].get<std::vector<std::string>>());
    CHECK(ex.back().tokens == want["last_sentence"].get<std::vector<std::string>>());
    CHECK(ex.back().tags == want["last_tags"].get<std::vector<std::string>>());
    CHECK(int64_t(ember::train::get_entities_of_sentences(conll_tags(ex)).size()) ==
          want["entities"].get<int64_t>());
  }
  // The counts the data's README gives (examples/data/wnut17/README.md).
  const Json& f = conll_fixture()["wnut17_files"];
  CHECK(f["train"]["sentences"] == 3394);
  CHECK(f["train"]["tokens"] == 62730);
  CHECK(f["test"]["sentences"] == 1287);
  CHECK(f["test"]["entities"] == 1079);
  CHECK(f["dev"]["labels"].size() == 13);  // O and B-/I- of six types
}

TEST_CASE("read_conll: line ends, blank lines, -DOCSTART-, spaces, BOM") {
  using ember::data::parse_conll;
  const std::vector<TokenClassificationExample> lf =
      parse_conll("-DOCSTART-\tO\n\nThe\tO\nEU\tB-ORG\n\n\n\t\n  \nrejects\tO\n");
  REQUIRE(lf.size() == 2);
  CHECK(lf[0].tokens == std::vector<std::string>{"The", "EU"});
  CHECK(lf[0].tags == std::vector<std::string>{"O", "B-ORG"});
  CHECK(lf[1].tokens == std::vector<std::string>{"rejects"});
  // CRLF, a BOM and no final line end read the same.
  const std::vector<TokenClassificationExample> crlf =
      parse_conll("\xEF\xBB\xBF-DOCSTART-\tO\r\n\r\nThe\tO\r\nEU\tB-ORG\r\n\r\n\t\r\nrejects\tO");
  REQUIRE(crlf.size() == 2);
  CHECK(crlf[0].tokens == lf[0].tokens);
  CHECK(crlf[0].tags == lf[0].tags);
  CHECK(crlf[1].tags == lf[1].tags);
  // CoNLL-2003: space-separated columns, the tag last; -DOCSTART- ends a sentence.
  const std::vector<TokenClassificationExample> c03 = parse_conll(
      "-DOCSTART- -X- -X- O\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n-DOCSTART- -X- -X- O\n"
      "  Peter   NNP B-NP   B-PER  \n");
  REQUIRE(c03.size() == 2);
  CHECK(c03[0].tokens == std::vector<std::string>{"EU", "rejects"});
  CHECK(c03[0].tags == std::vector<std::string>{"B-ORG", "O"});
  CHECK(c03[1].tokens == std::vector<std::string>{"Peter"});
  CHECK(c03[1].tags == std::vector<std::string>{"B-PER"});
  // With tabs, a token may hold a space; spaces around fields and a trailing tab are ignored.
  const std::vector<TokenClassificationExample> tabs =
      parse_conll("New York\tB-location\t\n Paris \t x \t I-location \n");
  REQUIRE(tabs.size() == 1);
  CHECK(tabs[0].tokens == std::vector<std::string>{"New York", "Paris"});
  CHECK(tabs[0].tags == std::vector<std::string>{"B-location", "I-location"});
  // The same from a file, and the label list: sorted by bytes, each tag once.
  const std::string path = conll_write("small.conll", "b\tI-PER\na\tO\n\nc\tB-PER\nd\tO\n");
  const std::vector<TokenClassificationExample> ex = ember::data::read_conll(path);
  CHECK(ex.size() == 2);
  CHECK(ember::data::conll_label_list(ex) == std::vector<std::string>{"B-PER", "I-PER", "O"});
  CHECK(ember::data::conll_label_list({}).empty());
}

TEST_CASE("read_conll: bad input is an ember::Error naming file, line, expected and found") {
  using ember::data::read_conll;
  const std::string missing = conll_write("x.conll", "") + ".missing";
  std::string e = error_of([&] { read_conll(missing); });
  CHECK(contains(e, missing));
  CHECK(contains(e, "does not exist"));
  e = error_of([&] { read_conll(std::filesystem::path(missing).parent_path().string()); });
  CHECK(contains(e, "is a directory"));

  const std::string one = conll_write("one_field.conll", "The\tO\nEU\n");
  e = error_of([&] { read_conll(one); });
  CHECK(contains(e, one + ":2:"));
  CHECK(contains(e, "expected a token and its tag"));
  CHECK(contains(e, "found one field 'EU'"));

  const std::string sp = conll_write("tag_space.conll", "a\tO\r\nb\tB-per son\r\n");
  e = error_of([&] { read_conll(sp); });
  CHECK(contains(e, sp + ":2:"));
  CHECK(contains(e, "tag without spaces"));
  CHECK(contains(e, "'B-per son'"));

  const std::string no_tok = conll_write("no_token.conll", "a\tO\n\tO\n");
  e = error_of([&] { read_conll(no_tok); });
  CHECK(contains(e, no_tok + ":2:"));
  CHECK(contains(e, "expected a token before the first tab"));

  const std::string bin = conll_write("binary.conll", "a\tO\nb\x01\tO\n");
  e = error_of([&] { read_conll(bin); });
  CHECK(contains(e, bin + ":2:"));
  CHECK(contains(e, "control character 0x01 at column 2"));

  const std::string nul = conll_write("nul.conll", std::string("a\tO\0\n", 5));
  CHECK(contains(error_of([&] { read_conll(nul); }), "control character 0x00"));

  const std::string latin1 = conll_write("latin1.conll", "a\tO\nCaf\xE9\tO\n");
  e = error_of([&] { read_conll(latin1); });
  CHECK(contains(e, latin1 + ":2"));
  CHECK(contains(e, "not valid UTF-8"));

  const std::string empty = conll_write("empty.conll", "");
  e = error_of([&] { read_conll(empty); });
  CHECK(contains(e, empty));
  CHECK(contains(e, "found an empty file"));
  const std::string blank = conll_write("blank.conll", "\n\t\n-DOCSTART- -X- O\n\r\n");
  CHECK(contains(error_of([&] { read_conll(blank); }), "found no token line"));
  // A long found value is cut, on a character boundary.
  const std::string long_line(200, 'x');
  e = error_of([&] { ember::data::parse_conll("a\tO\n" + long_line + "\n", "mem"); });
  CHECK(contains(e, "mem:2:"));
  CHECK(contains(e, std::string(40, 'x') + "...'"));
}

TEST_CASE("read_conll: random bytes give sentences or an ember::Error, nothing else") {
  // A seeded stream of bytes drawn mostly from the format's own characters.
  const std::string alphabet = std::string("ab \t\n\r-OBI\xC3\xA9\xEF\xBB\xBF\x80\x01") + '\0';
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int round = 0; round < 400; ++round) {
    std::string text;
    const int n = round % 60;
    for (int k = 0; k < n; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      text += alphabet[(state >> 33) % alphabet.size()];
    }
    try {
      for (const TokenClassificationExample& e : ember::data::parse_conll(text, "fuzz")) {
        REQUIRE(e.tokens.size() == e.tags.size());
        REQUIRE(!e.tokens.empty());
        for (std::size_t i = 0; i < e.tags.size(); ++i) {
          CHECK(!e.tokens[i].empty());
          CHECK(!e.tags[i].empty());
          CHECK(e.tags[i].find_first_of(" \t\n") == std::string::npos);
        }
      }
    } catch (const ember::Error&) {
    }
  }
}

// ---- entity-level scores (seqeval) --------------------------------------------------------------

TEST_CASE("get_entities: seqeval's docstring example and the flat form") {
  using ember::train::get_entities;
  const std::vector<Entity> e = get_entities(std::vector<std::string>{"B-PER", "I-PER", "O", "B-LOC"});
  CHECK(e == std::vector<Entity>{{"PER", 0, 1}, {"LOC", 3, 3}});
  // One sentence: the flat form and the sentence form agree (seqeval appends an "O" either way).
  const std::vector<std::string> tags = {"I-PER", "E-PER", "S-LOC", "B-ORG", "I-LOC"};
  CHECK(get_entities(tags) == ember::train::get_entities_of_sentences({tags}));
  CHECK(get_entities({}).empty());
  CHECK(contains(error_of([] { get_entities({"O", ""}); }), "tag 1 is an empty string"));
  CHECK(contains(error_of([] { ember::train::get_entities_of_sentences({{"O"}, {"B-PER", ""}}); }),
                 "tag 1 of sentence 1 is an empty string"));
}

TEST_CASE("entity_scores: hand-made cases match seqeval (entities, scores, report)") {
  for (const Json& c : conll_fixture()["hand"]) {
    const std::string name = c["name"].get<std::string>();
    CAPTURE(name);
    const Sentences y_true = conll_sentences(c["y_true"], false);
    const Sentences y_pred = conll_sentences(c["y_pred"], false);
    CHECK(ember::train::get_entities_of_sentences(y_true) == conll_entities(c["entities_true"]));
    CHECK(ember::train::get_entities_of_sentences(y_pred) == conll_entities(c["entities_pred"]));
    const EntityScores s = ember::train::entity_scores(y_true, y_pred);
    conll_check_scores(s, c);
    if (c.contains("report")) CHECK(s.report(4) == c["report"].get<std::string>());
  }
}

TEST_CASE("entity_scores: 250 random seeded cases match seqeval") {
  const Json& cases = conll_fixture()["random"];
  CHECK(cases.size() == 250);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(i);
    const EntityScores s = ember::train::entity_scores(conll_sentences(cases[i]["y_true"], true),
                                                       conll_sentences(cases[i]["y_pred"], true));
    conll_check_scores(s, cases[i]);
  }
}

TEST_CASE("entity_scores: WNUT 2017 test gold vs a corruption of it match seqeval") {
  const Sentences gold = conll_tags(ember::data::read_conll(kWnutDir + "test.conll"));
  const Sentences pred = conll_corrupt(gold);
  const Json& corrupted = conll_fixture()["wnut17"][0];
  int64_t changed = 0;
  for (std::size_t s = 0; s < gold.size(); ++s)
    for (std::size_t k = 0; k < gold[s].size(); ++k) changed += gold[s][k] != pred[s][k];
  CHECK(changed == corrupted["changed_tags"].get<int64_t>());  // the same corruption as Python's
  const EntityScores s = ember::train::entity_scores(gold, pred);
  conll_check_scores(s, corrupted);
  CHECK(s.report(4) == corrupted["report"].get<std::string>());
  CHECK(s.support == 1079);
  CHECK(s.precision == doctest::Approx(0.30003517411185365).epsilon(1e-15));
  CHECK(s.f1 == doctest::Approx(0.434982151963284).epsilon(1e-15));

  const EntityScores perfect = ember::train::entity_scores(gold, gold);
  conll_check_scores(perfect, conll_fixture()["wnut17"][1]);
  CHECK(perfect.f1 == 1.0);
  CHECK(perfect.correct == 1079);
}

TEST_CASE("entity_scores: mismatched inputs are an ember::Error; no sentence scores 0") {
  using ember::train::entity_scores;
  std::string e = error_of([] { entity_scores({{"O"}, {"B-PER"}}, {{"O"}}); });
  CHECK(contains(e, "expected as many sentences in y_pred as in y_true, found 1 and 2"));
  e = error_of([] { entity_scores({{"O"}, {"B-PER", "O"}}, {{"O"}, {"B-PER"}}); });
  CHECK(contains(e, "sentence 1 has 2 tags in y_true but 1 in y_pred"));
  CHECK(contains(error_of([] { entity_scores({{"B-PER", ""}}, {{"O", "O"}}); }), "empty string"));
  const EntityScores none = entity_scores(Sentences{}, Sentences{});
  CHECK(none.per_type.empty());
  CHECK(none.f1 == 0.0);
  CHECK(none.macro_f1 == 0.0);  // seqeval: NaN (the mean of no type)
  CHECK(contains(none.report(2), "   micro avg       0.00      0.00      0.00         0\n"));
  CHECK(contains(error_of([&] { (void)none.report(-1); }), "digits must be in [0, 17]"));
}
