// Tests of ember::data::UnigramTokenizer against Hugging Face tokenizers / XLMRobertaTokenizerFast.
//
// Fixtures (tools/gen_unigram_tokenizer_fixture.py, versions in golden.jsonl's meta):
//   unigram_tiny/tokenizer.json   a 1000-piece SentencePiece unigram model (nmt_nfkc) trained on
//                                 SST-2, converted as transformers converts XLM-R
//   unigram_tiny/golden.jsonl     ids, type ids, byte offsets and decodes of ~340 cases; must
//                                 match exactly. Lines with a "variant" use the tokenizer.json
//                                 edited as meta.variants says (the same edit is made here).
#include <ember/data/unigram_tokenizer.hpp>

#include "support/jsonl.hpp"
#include "support/test_util.hpp"
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using ember::data::BatchEncoding;
using ember::data::EncodingWithOffsets;
using ember::data::Padding;
using ember::data::UnigramTokenizer;
using json = nlohmann::json;
using ember::test::kDataDir;
using ember::test::from_hex;
using ember::test::read_jsonl;

const std::string kUnigramDir = kDataDir + "/unigram_tiny";

const UnigramTokenizer& unigram() {
  static const UnigramTokenizer tok =
      UnigramTokenizer::from_tokenizer_json(kUnigramDir + "/tokenizer.json");
  return tok;
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path);
  json j;
  in >> j;
  return j;
}

/// Writes `content` to a fresh file in the temp directory and returns its path.
std::string unigram_temp_file(const std::string& name, const std::string& content) {
  const auto dir = std::filesystem::temp_directory_path() / "ember_unigram_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

/// The fixture's tokenizer.json with one of meta.variants' edits applied.
UnigramTokenizer variant_tokenizer(const json& base, const json& edit, const std::string& name) {
  json j = base;
  if (edit.contains("normalizer_tail")) {
    json list = json::array({j["normalizer"]["normalizers"][0]});
    for (const json& n : edit["normalizer_tail"]) list.push_back(n);
    j["normalizer"]["normalizers"] = list;
  }
  for (const char* part : {"pre_tokenizer", "decoder"}) {
    if (edit.contains(part)) j[part] = edit[part];
  }
  return UnigramTokenizer::from_tokenizer_json(
      unigram_temp_file("variant_" + name + ".json", j.dump()));
}

template <class T>
std::string show(const std::vector<T>& v) {
  std::string s;
  for (const auto& x : v) {
    if constexpr (std::is_same_v<T, std::pair<std::size_t, std::size_t>>)
      s += "(" + std::to_string(x.first) + "," + std::to_string(x.second) + ")";
    else
      s += std::to_string(x) + " ";
  }
  return s;
}

}  // namespace

TEST_CASE("UnigramTokenizer: every fixture case matches Hugging Face") {
  const auto rows = read_jsonl(kUnigramDir + "/golden.jsonl");
  REQUIRE(rows.size() > 150);
  REQUIRE(rows[0].contains("meta"));
  const json& meta = rows[0]["meta"];
  CHECK(meta["count"].get<std::size_t>() == rows.size() - 1);
  MESSAGE("fixture: tokenizers ", meta["versions"]["tokenizers"].get<std::string>(),
          ", transformers ", meta["versions"]["transformers"].get<std::string>(), ", ",
          rows.size() - 1, " cases");
  const json base = read_json_file(kUnigramDir + "/tokenizer.json");
  std::map<std::string, UnigramTokenizer> variants;
  for (const auto& [name, edit] : meta["variants"].items())
    variants.emplace(name, variant_tokenizer(base, edit, name));

  int failures = 0;
  std::map<std::string, int> failed_groups;
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
    const auto types = row["token_type_ids"].get<std::vector<int64_t>>();
    std::vector<std::pair<std::size_t, std::size_t>> offsets;
    for (const json& o : row["offsets"]) offsets.emplace_back(o[0], o[1]);
    const std::string decoded = row["decoded"], decoded_special = row["decoded_with_special"];
    const UnigramTokenizer& tok =
        row["variant"].is_null() ? unigram() : variants.at(row["variant"].get<std::string>());

    const EncodingWithOffsets e =
        is_pair ? tok.encode(text, pair, max_length) : tok.encode(text, max_length);
    const std::string got_decoded = tok.decode(ids);
    const std::string got_special = tok.decode(ids, /*skip_special_tokens=*/false);
    const bool ok = e.input_ids == ids && e.offsets == offsets && e.token_type_ids == types &&
                    got_decoded == decoded && got_special == decoded_special &&
                    e.attention_mask == std::vector<int64_t>(ids.size(), 1);
    if (!ok) {
      ++failed_groups[row["group"].get<std::string>()];
      if (++failures <= 12) {
        std::string why;
        if (e.input_ids != ids)
          why += "\n  ids expected " + show(ids) + "\n           got " + show(e.input_ids);
        if (e.token_type_ids != types) why += "\n  type ids differ";
        if (e.offsets != offsets)
          why +=
              "\n  offsets expected " + show(offsets) + "\n               got " + show(e.offsets);
        if (got_decoded != decoded)
          why += "\n  decode expected \"" + decoded + "\" got \"" + got_decoded + "\"";
        if (got_special != decoded_special)
          why += "\n  decode(skip_special_tokens=false) expected \"" + decoded_special +
                 "\" got \"" + got_special + "\"";
        FAIL_CHECK("fixture line ", i + 1, " (", row["group"].get<std::string>(), ", variant ",
                   row["variant"].dump(), "): text ", json(row["text"]).dump(), why);
      }
    }
  }
  std::string groups;
  for (const auto& [g, n] : failed_groups) groups += " " + g + ":" + std::to_string(n);
  CHECK_MESSAGE(failures == 0, failures, " of ", rows.size() - 1, " fixture cases differ;", groups);
}

TEST_CASE("UnigramTokenizer: basic behaviour") {
  const UnigramTokenizer& tok = unigram();
  CHECK(tok.vocab_size() == 1002);
  CHECK(tok.bos_token_id() == 0);
  CHECK(tok.pad_token_id() == 1);
  CHECK(tok.eos_token_id() == 2);
  CHECK(tok.unk_token_id() == 3);
  CHECK(tok.mask_token_id() == 1001);
  CHECK(tok.added_tokens().size() == 5);
  CHECK(tok.is_special_id(1001));
  CHECK_FALSE(tok.is_special_id(5));
  CHECK(tok.token_to_id("no-such-piece") == tok.unk_token_id());
  CHECK_FALSE(tok.contains("no-such-piece"));
  CHECK(tok.id_to_token(tok.token_to_id("\xE2\x96\x81the")) == "\xE2\x96\x81the");
  CHECK(tok.score(tok.token_to_id("\xE2\x96\x81the")) < 0.0);
  CHECK_THROWS_AS(tok.id_to_token(-1), ember::Error);
  CHECK_THROWS_AS(tok.decode({100000}), ember::Error);

  // The charsmap (nmt_nfkc): full-width → ASCII, ligatures split, runs of spaces → one '▁'.
  CHECK(tok.normalize("\xEF\xBC\xA1\xEF\xBC\x91") == "A1");
  CHECK(tok.normalize("\xEF\xAC\x81ne") == "fine");
  CHECK(tok.normalize("a  b ") ==
        "a\xE2\x96\x81"
        "b");
  // A grapheme whose prefix is in the charsmap is replaced whole (tokenizers' behaviour).
  CHECK(tok.normalize("\xEF\xAC\x81\xCC\x81") == "fi");

  // tokenize; unknown characters fuse into one <unk>; the pair template and type ids.
  const auto pieces = tok.tokenize("a movie");
  REQUIRE(!pieces.empty());
  CHECK(pieces.front().rfind("\xE2\x96\x81", 0) == 0);
  const EncodingWithOffsets unk = tok.encode("\xE5\x8C\x97\xE4\xBA\xAC", 0, false);  // 北京
  CHECK(unk.input_ids.back() == tok.unk_token_id());
  CHECK(unk.offsets.back() == std::pair<std::size_t, std::size_t>{0, 6});
  CHECK(tok.encode("hello", "").input_ids == tok.encode("hello").input_ids);
  const EncodingWithOffsets p = tok.encode("a b", "c");
  CHECK(p.input_ids.front() == 0);
  CHECK(p.input_ids.back() == 2);
  CHECK(tok.decode(tok.encode("a charming movie").input_ids) == "a charming movie");

  // from_pretrained reads tokenizer.json (+ tokenizer_config.json's pad/mask names).
  const auto fp = UnigramTokenizer::from_pretrained(kUnigramDir);
  CHECK(fp.encode("The <mask> sat.").input_ids == tok.encode("The <mask> sat.").input_ids);
  CHECK(fp.mask_token_id() == 1001);
}

TEST_CASE("UnigramTokenizer: truncation and encode_batch") {
  const UnigramTokenizer& tok = unigram();
  const EncodingWithOffsets e = tok.encode("a b c d e", "f g h i j", 10);
  CHECK(e.input_ids.size() == 10);
  CHECK_THROWS_AS(tok.encode("a b", 1), ember::Error);
  CHECK_THROWS_AS(tok.encode("a b", "c", 3), ember::Error);

  const std::vector<std::string> texts = {"a", "b c d", "hello world !"};
  BatchEncoding b = tok.encode_batch(texts);
  REQUIRE(b.batch == 3);
  std::size_t longest = 0;
  for (const auto& t : texts) longest = std::max(longest, tok.encode(t).size());
  CHECK(b.seq == static_cast<int64_t>(longest));
  for (std::size_t r = 0; r < texts.size(); ++r) {
    const EncodingWithOffsets row = tok.encode(texts[r]);
    for (std::size_t c = 0; c < longest; ++c) {
      const bool in = c < row.size();
      CHECK(b.input_ids[r * longest + c] == (in ? row.input_ids[c] : tok.pad_token_id()));
      CHECK(b.attention_mask[r * longest + c] == (in ? 1 : 0));
    }
  }
  b = tok.encode_batch(texts, 4, Padding::max_length);
  CHECK(b.seq == 4);
  CHECK(b.input_ids[2 * 4 + 3] == tok.eos_token_id());  // a truncated row ends with </s>
  b = tok.encode_batch({"a b"}, {""});                  // an empty b stays a pair in a batch
  CHECK(b.input_ids[static_cast<std::size_t>(b.seq) - 1] == tok.eos_token_id());
  CHECK(b.input_ids[static_cast<std::size_t>(b.seq) - 2] == tok.eos_token_id());
  CHECK_THROWS_AS(tok.encode_batch({"a"}, {"b", "c"}), ember::Error);
  CHECK_THROWS_AS(tok.encode_batch(texts, 0, Padding::max_length), ember::Error);
}

TEST_CASE("UnigramTokenizer: bad files throw ember::Error naming the file") {
  using ember::test::contains;
  using ember::test::error_of;
  auto load = [](const std::string& path) {
    return [path] { UnigramTokenizer::from_tokenizer_json(path); };
  };
  std::string msg = error_of(load("/no/such/tokenizer.json"));
  CHECK(contains(msg, "/no/such/tokenizer.json"));
  const std::string broken = unigram_temp_file("broken.json", "{\"model\": ");
  msg = error_of(load(broken));
  CHECK(contains(msg, broken));
  CHECK(contains(msg, "not valid JSON"));

  const json good = read_json_file(kUnigramDir + "/tokenizer.json");
  auto with = [&](const std::string& name, const std::function<void(json&)>& edit) {
    json j = good;
    edit(j);
    const std::string path = unigram_temp_file(name, j.dump());
    return std::make_pair(path, error_of(load(path)));
  };
  auto [bpe_path, bpe_msg] = with("bpe.json", [](json& j) {
    j["model"] = {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", json::array()}};
  });
  CHECK(contains(bpe_msg, bpe_path));
  CHECK(contains(bpe_msg, "expected a Unigram model, found model type 'BPE'"));
  CHECK(contains(with("vocab.json",
                      [](json& j) {
                        j["model"]["vocab"] = {{"a", 0}};
                      })
                     .second,
                 "model.vocab"));
  CHECK(contains(with("entry.json", [](json& j) { j["model"]["vocab"][7] = "x"; }).second,
                 "model.vocab entry 7 as [piece, score]"));
  CHECK(contains(with("unk.json", [](json& j) { j["model"]["unk_id"] = 5000; }).second,
                 "model.unk_id in [0, 1002)"));
  CHECK(contains(with("bytefb.json", [](json& j) { j["model"]["byte_fallback"] = true; }).second,
                 "byte_fallback"));
  auto nfkc = with("nfkc.json", [](json& j) {
    j["normalizer"]["normalizers"][1] = {{"type", "NFKC"}};
  });
  CHECK(contains(nfkc.second, "expected a normalizer Precompiled"));
  CHECK(contains(nfkc.second, "NFKC"));
  CHECK(contains(with("regex.json",
                      [](json& j) {
                        j["normalizer"]["normalizers"][2]["pattern"] = {{"Regex", "\\s+"}};
                      })
                     .second,
                 "Replace pattern"));
  CHECK(contains(
      with("charsmap.json",
           [](json& j) { j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "@@@"; })
          .second,
      "charsmap does not parse"));
  CHECK(contains(with("pre.json",
                      [](json& j) {
                        j["pre_tokenizer"] = {{"type", "ByteLevel"}};
                      })
                     .second,
                 "expected a Metaspace pre-tokenizer"));
  CHECK(contains(
      with("scheme.json", [](json& j) { j["pre_tokenizer"]["prepend_scheme"] = "sometimes"; })
          .second,
      "prepend_scheme"));
  CHECK(contains(with("post.json",
                      [](json& j) {
                        j["post_processor"] = {{"type", "BertProcessing"}};
                      })
                     .second,
                 "expected a TemplateProcessing post-processor"));
  CHECK(contains(with("dec.json",
                      [](json& j) {
                        j["decoder"] = {{"type", "WordPiece"}};
                      })
                     .second,
                 "expected a Metaspace decoder"));
  CHECK(contains(with("added.json",
                      [](json& j) {
                        j["added_tokens"][0] = {{"id", "x"}};
                      })
                     .second,
                 "malformed added token"));
  CHECK(contains(with("typed.json",
                      [](json& j) {
                        j["added_tokens"][0]["lstrip"] = "yes";
                      })
                     .second,
                 "wrong type"));
  // Found by fuzz_tokenizer_json: an added token's huge id resized the piece table to it (64 GB);
  // twelve Replace "a" → "aaaa" made encode("a") a text of 16 million characters (a timeout).
  auto [huge_path, huge_msg] = with("huge_added.json", [](json& j) {
    j["added_tokens"].push_back({{"id", 2000000000}, {"content", "zz"}});
  });
  CHECK(contains(huge_msg, huge_path));
  CHECK(contains(huge_msg, "added token 'zz' has id 2000000000"));
  CHECK(contains(huge_msg, "expected ids that go on from the model's 1002 tokens"));
  const json grow = {{"type", "Replace"}, {"pattern", {{"String", "a"}}}, {"content", "aaaa"}};
  auto [grow_path, grow_msg] = with("grow.json", [&](json& j) {
    for (int k = 0; k < 12; ++k) j["normalizer"]["normalizers"].push_back(grow);
  });
  CHECK(contains(grow_msg, grow_path));
  CHECK(contains(grow_msg, "at most 256 times longer, found one that can make it"));
  CHECK(contains(grow_msg, "step 5"));  // nmt_nfkc's 18, Strip, Replace 1, then 18 x 4 x 4
  CHECK(with("grow_ok.json",
             [&](json& j) {  // 18 x 4 x 3: fine
               j["normalizer"]["normalizers"].push_back(grow);
               j["normalizer"]["normalizers"].push_back(
                   {{"type", "Replace"}, {"pattern", {{"Regex", "b{2,}"}}}, {"content", "cccccc"}});
             })
            .second.empty());
  // No normalizer at all, and no post-processor, are fine.
  CHECK(with("plain.json", [](json& j) {
          j["normalizer"] = nullptr;
          j["post_processor"] = nullptr;
        }).second.empty());
}

TEST_CASE("UnigramTokenizer: random bytes never crash; offsets stay inside the text") {
  const UnigramTokenizer& tok = unigram();
  std::mt19937 rng(4321);
  std::uniform_int_distribution<int> len(0, 40), byte(0, 255), pick(0, 5);
  const char* pieces[] = {"<mask>", " ", "\xF0\x9F\x98\x80", "\xEF\xAC\x81", "\xCC\x81", "  "};
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s;
    const int n = len(rng);
    for (int k = 0; k < n; ++k) {
      if (byte(rng) < 48)
        s += pieces[pick(rng)];
      else
        s.push_back(static_cast<char>(byte(rng)));
    }
    const EncodingWithOffsets enc = tok.encode(s);
    bool ok = enc.offsets.size() == enc.size();
    for (const auto& [b, en] : enc.offsets) ok = ok && b <= en && en <= s.size();
    const std::string back = tok.decode(enc.input_ids, false);
    std::vector<char32_t> cps;
    ember::data::detail::utf8_decode(back, cps);
    std::string again;
    for (char32_t c : cps) ember::data::detail::utf8_append(c, again);
    ok = ok && again == back;  // decode's output is valid UTF-8
    if (!ok) {
      FAIL_CHECK("random input ", iter, " gave bad offsets or invalid UTF-8");
      break;
    }
  }
}

TEST_CASE("UnigramTokenizer: encode is linear in the number of spaces (docs/tokenizer.md)") {
  // Each space once made the Metaspace step, and each Replace match the normalizer, rewrite the
  // whole text and its alignment: 200 KB of "a b " took 10.6 s. Texts of 32 KB and 512 KB (16x),
  // a space every 2-6 bytes and a Replace (" {2,}", XLM-R's hub files) matching every word: the
  // larger must take under 64x the time of the smaller (linear: 16x; n^1.5: 64x; quadratic:
  // 256x, and the 512 KB text alone about a minute). CPU time, best of 5 / 3, so that a loaded
  // machine or a sanitizer build does not fail it; the margin covers cache effects (the 32 KB
  // text's work fits in cache, the 512 KB one's does not: ratios of 17-33 measured in Release).
  const json base = read_json_file(kUnigramDir + "/tokenizer.json");
  const json replace = {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}};
  const UnigramTokenizer hub =
      variant_tokenizer(base, {{"normalizer_tail", json::array({replace})}}, "linear_hub");
  auto text_of = [](std::size_t bytes) {
    const std::string unit = "hello world  a b  the movie ";
    std::string s;
    while (s.size() + unit.size() <= bytes) s += unit;
    return s;
  };
  const std::string small = text_of(32 * 1024), large = text_of(512 * 1024);
  auto best_cpu_s = [](const UnigramTokenizer& tok, const std::string& text, int reps,
                       std::size_t& n) {
    double best = 1e9;
    for (int rep = 0; rep < reps; ++rep) {
      const std::clock_t c0 = std::clock();
      n = tok.encode(text).size();
      best = std::min(best, static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
    }
    return std::max(best, 1e-4);
  };
  for (const UnigramTokenizer* tok : {&unigram(), &hub}) {
    std::size_t small_tokens = 0, large_tokens = 0;
    const double t_small = best_cpu_s(*tok, small, 5, small_tokens);
    const double t_large = best_cpu_s(*tok, large, 3, large_tokens);
    MESSAGE("encode of ", small.size(), " / ", large.size(), " bytes (", small_tokens, " / ",
            large_tokens, " tokens): ", t_small, " / ", t_large, " s CPU, ratio ",
            t_large / t_small);
    CHECK(large_tokens > 15 * small_tokens);
    CHECK(t_large / t_small < 64.0);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
    CHECK(t_large < 5.0);  // 0.15 s after the fix; about a minute before it
#endif
  }
}
