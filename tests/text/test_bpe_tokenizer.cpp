// Tests of ember::data::ByteLevelBPETokenizer against Hugging Face tokenizers /
// RobertaTokenizerFast.
//
// Fixtures (tools/gen_bpe_tokenizer_fixture.py, versions in each file):
//   bpe_tiny/{vocab.json, merges.txt, tokenizer.json}  a 1000-token byte-level BPE trained on SST-2
//   bpe_tiny/golden.jsonl      ids, byte offsets and decodes of ~220 cases; must match exactly,
//                              loading from vocab.json + merges.txt and from tokenizer.json
//   bpe_tiny/unicode_sweep.json  the pre-tokenizer's class of every code point, as one hash per
//                              4096 code points; must match exactly.
#include <ember/data/bpe_tokenizer.hpp>

#include "support/jsonl.hpp"
#include "support/test_util.hpp"
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using ember::data::BatchEncoding;
using ember::data::BPEEncoding;
using ember::data::ByteLevelBPETokenizer;
using ember::data::ByteLevelBPETokenizerOptions;
using ember::data::Padding;
using json = nlohmann::json;
using ember::test::kDataDir;
using ember::test::from_hex;
using ember::test::read_jsonl;

const std::string kBpeDir = kDataDir + "/bpe_tiny";

const ByteLevelBPETokenizer& bpe_from_files() {
  static const ByteLevelBPETokenizer tok(kBpeDir + "/vocab.json", kBpeDir + "/merges.txt");
  return tok;
}

const ByteLevelBPETokenizer& bpe_from_json() {
  static const ByteLevelBPETokenizer tok =
      ByteLevelBPETokenizer::from_tokenizer_json(kBpeDir + "/tokenizer.json");
  return tok;
}

using Offsets = std::vector<std::pair<std::size_t, std::size_t>>;

std::string show_offsets(const Offsets& o) {
  std::string s;
  for (const auto& [b, e] : o) s += "(" + std::to_string(b) + "," + std::to_string(e) + ")";
  return s;
}

std::string show_ids(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += std::to_string(x) + " ";
  return s;
}

/// Writes `content` to a fresh file in the temp directory and returns its path.
std::string temp_file(const std::string& name, const std::string& content) {
  const auto dir = std::filesystem::temp_directory_path() / "ember_bpe_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

}  // namespace

TEST_CASE("ByteLevelBPETokenizer: every fixture case matches Hugging Face (both loaders)") {
  const auto rows = read_jsonl(kBpeDir + "/golden.jsonl");
  REQUIRE(rows.size() > 150);
  REQUIRE(rows[0].contains("meta"));
  const json& meta = rows[0]["meta"];
  CHECK(meta["count"].get<std::size_t>() == rows.size() - 1);
  MESSAGE("fixture: tokenizers ", meta["versions"]["tokenizers"].get<std::string>(),
          ", transformers ", meta["versions"]["transformers"].get<std::string>(), ", ",
          rows.size() - 1, " cases");
  const ByteLevelBPETokenizer prefix(kBpeDir + "/vocab.json", kBpeDir + "/merges.txt",
                                     ByteLevelBPETokenizerOptions().add_prefix_space(true));
  int failures = 0, checked = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const json& row = rows[i];
    const std::string text =
        row.contains("text_hex") ? from_hex(row["text_hex"]) : row["text"].get<std::string>();
    const bool is_pair = !row["text_pair"].is_null();
    const std::string pair = !is_pair                   ? std::string()
                             : row.contains("pair_hex") ? from_hex(row["pair_hex"])
                                                        : row["text_pair"].get<std::string>();
    const std::size_t max_length =
        row["max_length"].is_null() ? 0 : row["max_length"].get<std::size_t>();
    const auto ids = row["input_ids"].get<std::vector<int64_t>>();
    Offsets offsets;
    for (const json& o : row["offsets"]) offsets.emplace_back(o[0], o[1]);
    const std::string decoded = row["decoded"], decoded_special = row["decoded_with_special"];

    std::vector<const ByteLevelBPETokenizer*> toks;
    if (row["add_prefix_space"].get<bool>())
      toks = {&prefix};
    else
      toks = {&bpe_from_files(), &bpe_from_json()};
    for (const ByteLevelBPETokenizer* tok : toks) {
      ++checked;
      const BPEEncoding e =
          is_pair ? tok->encode(text, pair, max_length) : tok->encode(text, max_length);
      const std::string got_decoded = tok->decode(ids);
      const std::string got_special = tok->decode(ids, /*skip_special_tokens=*/false);
      const bool ok = e.input_ids == ids && e.offsets == offsets && got_decoded == decoded &&
                      got_special == decoded_special &&
                      e.attention_mask == std::vector<int64_t>(ids.size(), 1) &&
                      e.token_type_ids == std::vector<int64_t>(ids.size(), 0);
      if (!ok && ++failures <= 10) {
        std::string why;
        if (e.input_ids != ids)
          why += "\n  ids expected " + show_ids(ids) + "\n           got " + show_ids(e.input_ids);
        if (e.offsets != offsets)
          why += "\n  offsets expected " + show_offsets(offsets) + "\n               got " +
                 show_offsets(e.offsets);
        if (got_decoded != decoded)
          why += "\n  decode expected \"" + decoded + "\" got \"" + got_decoded + "\"";
        if (got_special != decoded_special)
          why += "\n  decode(skip_special_tokens=false) expected \"" + decoded_special +
                 "\" got \"" + got_special + "\"";
        FAIL_CHECK("fixture line ", i + 1, " (", row["group"].get<std::string>(), ", ",
                   tok == &bpe_from_json() ? "tokenizer.json" : "vocab.json+merges.txt", "): text ",
                   json(row["text"]).dump(), why);
      }
    }
  }
  CHECK_MESSAGE(failures == 0, failures, " of ", checked, " fixture checks differ");
}

TEST_CASE("ByteLevelBPETokenizer: every code point gets tokenizers' pre-tokenizer class") {
  std::ifstream in(kBpeDir + "/unicode_sweep.json");
  REQUIRE(in.good());
  json sweep;
  in >> sweep;
  const std::size_t block = sweep["block_size"];
  const auto& hashes = sweep["hashes"];
  REQUIRE(hashes.size() * block == 0x110000);
  int bad = 0;
  for (std::size_t b = 0; b < hashes.size(); ++b) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (char32_t cp = static_cast<char32_t>(b * block); cp < (b + 1) * block; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      h = (h ^ static_cast<unsigned char>(ember::data::detail::gpt2_class(cp))) * 0x100000001B3ull;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    if (hashes[b].get<std::string>() != hex && ++bad <= 5) {
      std::snprintf(hex, sizeof hex, "%zX", b * block);
      FAIL_CHECK("code points U+", hex,
                 " + 4096 differ from tokenizers (tools/gen_bpe_tokenizer_fixture.py --probe, "
                 "--class-overrides)");
    }
  }
  CHECK_MESSAGE(bad == 0, bad, " blocks differ");
}

TEST_CASE("ByteLevelBPETokenizer: basic behaviour") {
  const ByteLevelBPETokenizer& tok = bpe_from_files();
  const ByteLevelBPETokenizer& tj = bpe_from_json();
  CHECK(tok.vocab_size() == 1000);
  CHECK(tj.vocab_size() == 1000);
  CHECK(tok.bos_token_id() == 0);
  CHECK(tok.pad_token_id() == 1);
  CHECK(tok.eos_token_id() == 2);
  CHECK(tok.unk_token_id() == 3);
  CHECK(tok.mask_token_id() == 4);
  CHECK(tj.mask_token_id() == 4);
  CHECK(tok.added_tokens().size() == 5);
  CHECK(tj.added_tokens().size() == 5);
  CHECK(tok.is_special_id(4));
  CHECK_FALSE(tok.is_special_id(5));
  CHECK(tok.token_to_id("<s>") == 0);
  CHECK(tok.token_to_id("no-such-token") == tok.unk_token_id());
  CHECK(
      tok.contains("\xC4\xA0"
                   "a"));  // "Ġa": the first merge
  CHECK(tok.id_to_token(tok.token_to_id("\xC4\xA0"
                                        "a")) ==
        "\xC4\xA0"
        "a");
  CHECK(tok.roberta_processing());
  CHECK(tok.trim_offsets());
  CHECK_FALSE(tok.add_prefix_space());

  // The byte map of GPT-2: printable bytes stand for themselves, ' ' is 'Ġ', '\n' is 'Ċ'.
  namespace d = ember::data::detail;
  CHECK(d::byte_to_char()['a'] == U'a');
  CHECK(d::byte_to_char()[' '] == 0x120);
  CHECK(d::byte_to_char()['\n'] == 0x10A);
  CHECK(d::byte_to_char()[0xAD] == 0x143);
  for (int b = 0; b < 256; ++b) CHECK(d::char_to_byte(d::byte_to_char()[b]) == b);
  CHECK(d::char_to_byte(0x200) == -1);

  // The pattern: contractions (case-sensitive), optional space + one class, whitespace runs.
  auto words = [](const std::u32string& s) {
    std::vector<std::u32string> out;
    d::for_each_gpt2_word(s.data(), s.size(),
                          [&](std::size_t b, std::size_t e) { out.push_back(s.substr(b, e - b)); });
    return out;
  };
  CHECK(words(U"it's I'M  x1 ") ==
        std::vector<std::u32string>{U"it", U"'s", U" I", U"'", U"M", U" ", U" x", U"1", U" "});
  CHECK(words(U"a \t\nb") == std::vector<std::u32string>{U"a", U" \t", U"\n", U"b"});
  CHECK(words(U"").empty());

  // tokenize / add_special_tokens=false / an empty second text
  const auto pieces = tok.tokenize("Hello world");
  CHECK(pieces == std::vector<std::string>{"H", "ell", "o", "\xC4\xA0world"});
  const BPEEncoding bare = tok.encode("Hello world", 0, /*add_special_tokens=*/false);
  CHECK(bare.size() == 4);
  CHECK(bare.offsets.back() == std::pair<std::size_t, std::size_t>{6, 11});
  CHECK(tok.encode("hello", "").input_ids == tok.encode("hello").input_ids);
  const BPEEncoding p = tok.encode("a b", "c", 0, false);
  CHECK(p.input_ids.size() == 3);

  // from_pretrained picks tokenizer.json
  const auto fp = ByteLevelBPETokenizer::from_pretrained(kBpeDir);
  CHECK(fp.encode("The <mask> sat.").input_ids == tj.encode("The <mask> sat.").input_ids);

  // GPT-2 style: nothing added, no offsets trimmed.
  const ByteLevelBPETokenizer gpt2(
      kBpeDir + "/vocab.json", kBpeDir + "/merges.txt",
      ByteLevelBPETokenizerOptions().roberta_processing(false).trim_offsets(false));
  const BPEEncoding g = gpt2.encode("Hello world");
  CHECK(g.input_ids == bare.input_ids);
  CHECK(g.offsets.back() == std::pair<std::size_t, std::size_t>{5, 11});
  CHECK(gpt2.decode(g.input_ids) == "Hello world");

  // decode: out-of-range ids throw; bytes that are not UTF-8 become U+FFFD
  CHECK_THROWS_AS(tok.decode({100000}), ember::Error);
  CHECK_THROWS_AS(tok.id_to_token(-1), ember::Error);
  const int64_t lead = tok.token_to_id("\xC3\xB0");  // 'ð' stands for byte 0xF0
  REQUIRE(lead >= 0);
  CHECK(tok.decode({lead, tok.token_to_id("a")}) ==
        "\xEF\xBF\xBD"
        "a");
}

TEST_CASE("ByteLevelBPETokenizer: truncation and encode_batch") {
  const ByteLevelBPETokenizer& tok = bpe_from_files();
  const BPEEncoding e = tok.encode("a b c d e", "f g h i j", 9);  // budget 5 → 2 + 3
  CHECK(e.input_ids.size() == 9);
  CHECK(e.input_ids[0] == 0);
  CHECK(e.input_ids[3] == 2);
  CHECK(e.input_ids[4] == 2);
  CHECK(e.input_ids[8] == 2);
  CHECK_THROWS_AS(tok.encode("a b", 1), ember::Error);
  CHECK_THROWS_AS(tok.encode("a b", "c", 3), ember::Error);

  const std::vector<std::string> texts = {"a", "b c d", "hello world !"};
  BatchEncoding b = tok.encode_batch(texts);
  REQUIRE(b.batch == 3);
  std::size_t longest = 0;
  for (const auto& t : texts) longest = std::max(longest, tok.encode(t).size());
  CHECK(b.seq == static_cast<int64_t>(longest));
  for (std::size_t r = 0; r < texts.size(); ++r) {
    const BPEEncoding row = tok.encode(texts[r]);
    for (std::size_t c = 0; c < longest; ++c) {
      const bool in = c < row.size();
      CHECK(b.input_ids[r * longest + c] == (in ? row.input_ids[c] : tok.pad_token_id()));
      CHECK(b.attention_mask[r * longest + c] == (in ? 1 : 0));
    }
  }
  b = tok.encode_batch(texts, 4, Padding::max_length);
  CHECK(b.seq == 4);
  CHECK(b.input_ids[0 * 4 + 3] == tok.pad_token_id());
  CHECK(b.input_ids[2 * 4 + 3] == tok.eos_token_id());  // truncated row ends with </s>

  // Pairs: an empty b stays a pair in a batch (<s> a </s></s></s>), as transformers does.
  b = tok.encode_batch({"a b"}, {""});
  CHECK(b.seq == 6);
  CHECK(b.input_ids == std::vector<int64_t>{0, 69, 281, 2, 2, 2});
  CHECK_THROWS_AS(tok.encode_batch({"a"}, {"b", "c"}), ember::Error);
  CHECK_THROWS_AS(tok.encode_batch(texts, 0, Padding::max_length), ember::Error);

  // No pad token: padding throws, equal lengths are fine.
  const ByteLevelBPETokenizer no_pad(kBpeDir + "/vocab.json", kBpeDir + "/merges.txt",
                                     ByteLevelBPETokenizerOptions().pad_token(""));
  CHECK(no_pad.pad_token_id() == -1);
  CHECK_THROWS_AS(no_pad.encode_batch(texts), ember::Error);
  CHECK(no_pad.encode_batch({"a", "b"}).seq == 3);
}

TEST_CASE("ByteLevelBPETokenizer: bad files throw ember::Error naming the file") {
  using ember::test::contains;
  using ember::test::error_of;
  const std::string vocab = kBpeDir + "/vocab.json", merges = kBpeDir + "/merges.txt";
  auto files = [](const std::string& v, const std::string& m) {
    return [v, m] { ByteLevelBPETokenizer t(v, m); };
  };
  std::string msg = error_of(files("/no/such/vocab.json", merges));
  CHECK(contains(msg, "/no/such/vocab.json"));
  msg = error_of(files(vocab, "/no/such/merges.txt"));
  CHECK(contains(msg, "/no/such/merges.txt"));

  const std::string bad_json = temp_file("bad.json", "{\"a\": 0,");
  msg = error_of(files(bad_json, merges));
  CHECK(contains(msg, bad_json));
  CHECK(contains(msg, "not valid JSON"));
  const std::string list_json = temp_file("list.json", "[\"a\", \"b\"]");
  msg = error_of(files(list_json, merges));
  CHECK(contains(msg, "expected the vocabulary as an object"));
  const std::string neg_json = temp_file("neg.json", "{\"a\": -1}");
  msg = error_of(files(neg_json, merges));
  CHECK(contains(msg, "non-negative integer"));

  const std::string small_vocab =
      temp_file("small.json", "{\"a\": 0, \"b\": 1, \"ab\": 2, \"<s>\": 3, \"</s>\": 4}");
  CHECK(error_of(files(small_vocab, temp_file("ok.txt", "#version: 0.2\na b\n"))).empty());
  msg = error_of(files(small_vocab, temp_file("three.txt", "#version: 0.2\na b c\n")));
  CHECK(contains(msg, "three.txt"));
  CHECK(contains(msg, "expected two tokens separated by one space"));
  msg = error_of(files(small_vocab, temp_file("part.txt", "a b\na x\n")));
  CHECK(contains(msg, "part.txt"));
  CHECK(contains(msg, "'x' is not in the vocabulary"));
  msg = error_of(files(small_vocab, temp_file("result.txt", "b a\n")));
  CHECK(contains(msg, "'ba' is not in the vocabulary"));
  // RoBERTa's post-processor needs <s> and </s>; GPT-2's does not.
  const std::string no_bos = temp_file("nobos.json", "{\"a\": 0, \"b\": 1, \"ab\": 2}");
  msg = error_of(files(no_bos, temp_file("ok2.txt", "a b\n")));
  CHECK(contains(msg, "RobertaProcessing needs"));
  CHECK(error_of([&] {
          ByteLevelBPETokenizer t(no_bos, temp_file("ok3.txt", "a b\n"),
                                  ByteLevelBPETokenizerOptions().roberta_processing(false));
        }).empty());

  // tokenizer.json
  auto from_json = [](const std::string& path) {
    return [path] { ByteLevelBPETokenizer::from_tokenizer_json(path); };
  };
  msg = error_of(from_json("/no/such/tokenizer.json"));
  CHECK(contains(msg, "/no/such/tokenizer.json"));
  msg = error_of(from_json(temp_file("broken.json", "{\"model\": ")));
  CHECK(contains(msg, "not valid JSON"));
  std::ifstream in(kBpeDir + "/tokenizer.json");
  json good;
  in >> good;
  json wp = good;
  wp["model"] = {{"type", "WordPiece"}, {"vocab", {{"a", 0}}}, {"unk_token", "[UNK]"}};
  const std::string wp_path = temp_file("wordpiece.json", wp.dump());
  msg = error_of(from_json(wp_path));
  CHECK(contains(msg, wp_path));
  CHECK(contains(msg, "expected a BPE model, found model type 'WordPiece'"));
  json norm = good;
  norm["normalizer"] = {{"type", "NFC"}};
  msg = error_of(from_json(temp_file("normalizer.json", norm.dump())));
  CHECK(contains(msg, "expected no normalizer"));
  json pre = good;
  pre["pre_tokenizer"] = {{"type", "Whitespace"}};
  msg = error_of(from_json(temp_file("pre.json", pre.dump())));
  CHECK(contains(msg, "expected a ByteLevel pre-tokenizer"));
  json bad_merge = good;
  bad_merge["model"]["merges"].push_back({"zzz", "a"});
  msg = error_of(from_json(temp_file("badmerge.json", bad_merge.dump())));
  CHECK(contains(msg, "'zzz' is not in the vocabulary"));
  // A fresh-user trial's files: a stray huge id (would size the id table by itself), two
  // tokens with one id, a wrongly typed added-token field (was nlohmann's type_error).
  json huge_id = good;
  huge_id["model"]["vocab"]["zzzz"] = 2000000000;
  msg = error_of(from_json(temp_file("huge_id.json", huge_id.dump())));
  CHECK(contains(msg, "expected ids that number the"));
  CHECK(contains(msg, "found id 2000000000"));
  // The same for an added token's id (fuzz_tokenizer_json: the id table was resized to it).
  json huge_added = good;
  huge_added["added_tokens"].push_back({{"id", 2000000000}, {"content", "zz"}});
  msg = error_of(from_json(temp_file("huge_added.json", huge_added.dump())));
  CHECK(contains(msg, "added token 'zz' has id 2000000000"));
  CHECK(contains(msg, "expected ids that go on from the model's 1000 tokens"));
  json far_added = good;  // a few unused ids are fine
  far_added["added_tokens"].push_back({{"id", 1500}, {"content", "zz"}});
  CHECK(ByteLevelBPETokenizer::from_tokenizer_json(temp_file("far_added.json", far_added.dump()))
            .vocab_size() == 1501);
  json same_id = good;
  same_id["model"]["vocab"]["zzzz"] = same_id["model"]["vocab"]["a"];
  msg = error_of(from_json(temp_file("same_id.json", same_id.dump())));
  CHECK(contains(msg, "have the same id"));
  json typed = good;
  typed["added_tokens"][0]["lstrip"] = "yes";
  const std::string typed_path = temp_file("typed.json", typed.dump());
  msg = error_of(from_json(typed_path));
  CHECK(contains(msg, typed_path));
  CHECK(contains(msg, "wrong type"));
  json pairs_as_strings = good;  // the older "a b" spelling of merges loads the same
  for (auto& m : pairs_as_strings["model"]["merges"])
    m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  const auto old = ByteLevelBPETokenizer::from_tokenizer_json(
      temp_file("old_merges.json", pairs_as_strings.dump()));
  CHECK(old.encode("a charming <mask> movie").input_ids ==
        bpe_from_json().encode("a charming <mask> movie").input_ids);
}

TEST_CASE("ByteLevelBPETokenizer: invalid UTF-8 never crashes; offsets cover the raw bytes") {
  namespace d = ember::data::detail;
  std::u32string cps;
  std::vector<std::size_t> starts;
  d::utf8_decode_with_offsets(
      "a\xF0\x9F\x98"
      "A\xC0\xAF\xEF\xBF\xBD",
      cps, starts);
  CHECK(cps == std::u32string{U'a', 0xFFFD, U'A', 0xFFFD, 0xFFFD, 0xFFFD});
  CHECK(starts == std::vector<std::size_t>{0, 1, 4, 5, 6, 7, 10});

  const ByteLevelBPETokenizer& tok = bpe_from_files();
  // The replaced text's tokens, with offsets into the raw bytes.
  const BPEEncoding e = tok.encode("caf\xC3 ok");
  const BPEEncoding r = tok.encode("caf\xEF\xBF\xBD ok");
  CHECK(e.input_ids == r.input_ids);
  CHECK(e.offsets.back() == std::pair<std::size_t, std::size_t>{0, 0});
  CHECK(e.offsets[e.size() - 2].second == 7);

  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> len(0, 40), byte(0, 255), pick(0, 3);
  const char* pieces[] = {"<mask>", " ", "\xF0\x9F\x98\x80", "'s"};
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s;
    const int n = len(rng);
    for (int k = 0; k < n; ++k) {
      if (byte(rng) < 32)
        s += pieces[pick(rng)];
      else
        s.push_back(static_cast<char>(byte(rng)));
    }
    const BPEEncoding enc = tok.encode(s);
    bool ok = enc.offsets.size() == enc.size();
    for (const auto& [b, en] : enc.offsets) ok = ok && b <= en && en <= s.size();
    const std::string back = tok.decode(enc.input_ids);
    std::vector<char32_t> cps2;
    d::utf8_decode(back, cps2);
    std::string again;
    for (char32_t c : cps2) d::utf8_append(c, again);
    ok = ok && again == back;  // decode's output is valid UTF-8
    if (!ok) {
      FAIL_CHECK("random input ", iter, " gave bad offsets or invalid UTF-8");
      break;
    }
  }
}

TEST_CASE("ByteLevelBPETokenizer: the word cache is safe to share between threads") {
  const ByteLevelBPETokenizer tok(kBpeDir + "/vocab.json", kBpeDir + "/merges.txt",
                                  ByteLevelBPETokenizerOptions().cache_capacity(50));
  const ByteLevelBPETokenizer no_cache(kBpeDir + "/vocab.json", kBpeDir + "/merges.txt",
                                       ByteLevelBPETokenizerOptions().cache_capacity(0));
  std::vector<std::string> texts;
  for (const json& row : read_jsonl(kBpeDir + "/golden.jsonl")) {
    if (row.contains("group") && (row["group"] == "sst2" || row["group"] == "wnut17"))
      texts.push_back(row["text"]);
  }
  REQUIRE(texts.size() > 20);
  std::vector<std::vector<int64_t>> expected;
  for (const auto& t : texts) expected.push_back(no_cache.encode(t).input_ids);
  std::vector<int> bad(2, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (int rep = 0; rep < 3; ++rep) {
        for (std::size_t i = 0; i < texts.size(); ++i) {
          if (tok.encode(texts[(i + static_cast<std::size_t>(w) * 7) % texts.size()]).input_ids !=
              expected[(i + static_cast<std::size_t>(w) * 7) % texts.size()])
            ++bad[static_cast<std::size_t>(w)];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(bad[0] + bad[1] == 0);
}
