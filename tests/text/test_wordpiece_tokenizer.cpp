// Tests of ember::data::WordPieceTokenizer against Hugging Face BertTokenizerFast.
//
// Fixtures (tools/gen_tokenizer_fixture.py, versions in each file's "meta"):
//   tokenizer/bert_uncased.jsonl      1000+ cases; every field must match exactly.
//   tokenizer/bert_unicode_sweep.json every code point through the normalizer and pre-tokenizer,
//                                      as one hash per 4096 code points; must match exactly.
// The vocabulary is the BERT uncased vocab.txt at bert_tiny/vocab.txt.
#include <ember/data/wordpiece_tokenizer.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "support/jsonl.hpp"
#include "support/test_util.hpp"
using ember::test::kDataDir;

#ifndef EMBER_TEST_DATA_DIR
#define EMBER_TEST_DATA_DIR "/work/main/tests/data"
#endif

namespace {

using ember::data::BatchEncoding;
using ember::data::Encoding;
using ember::data::Padding;
using ember::data::WordPieceTokenizer;
using ember::data::WordPieceTokenizerOptions;
using json = nlohmann::json;
using ember::test::read_jsonl;

const std::string kVocab = kDataDir + "/bert_tiny/vocab.txt";

const WordPieceTokenizer& uncased() {
  static const WordPieceTokenizer tok(kVocab);
  return tok;
}

std::vector<std::string> sst2_sentences() {
  std::vector<std::string> out;
  for (const json& row : read_jsonl(kDataDir + "/tokenizer/bert_uncased.jsonl")) {
    if (row.contains("group") && row["group"] == "sst2") out.push_back(row["text"]);
  }
  return out;
}

std::string show(const std::vector<std::string>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", \"" : "\"") + v[i] + "\"";
  return s + "]";
}

std::vector<std::string> tokens_of(const WordPieceTokenizer& tok, const std::vector<int64_t>& ids) {
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(tok.id_to_token(id));
  return out;
}

}  // namespace

TEST_CASE("WordPieceTokenizer: every fixture case matches Hugging Face BertTokenizerFast") {
  const auto rows = read_jsonl(kDataDir + "/tokenizer/bert_uncased.jsonl");
  REQUIRE(rows.size() > 500);
  REQUIRE(rows[0].contains("meta"));
  const json& meta = rows[0]["meta"];
  CHECK(meta["count"].get<std::size_t>() == rows.size() - 1);
  MESSAGE("fixture: transformers ", meta["transformers"].get<std::string>(), ", tokenizers ",
          meta["tokenizers"].get<std::string>(), ", ", rows.size() - 1, " cases");

  const WordPieceTokenizer& tok = uncased();
  const WordPieceTokenizer tok_clean(
      kVocab, WordPieceTokenizerOptions().clean_up_tokenization_spaces(true));
  int failures = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const json& row = rows[i];
    const std::string text = row["text"];
    const std::size_t max_length =
        row["max_length"].is_null() ? 0 : row["max_length"].get<std::size_t>();
    Encoding e = row["text_pair"].is_null()
                     ? tok.encode(text, max_length)
                     : tok.encode(text, row["text_pair"].get<std::string>(), max_length);
    const auto ids = row["input_ids"].get<std::vector<int64_t>>();
    const auto types = row["token_type_ids"].get<std::vector<int64_t>>();
    const auto mask = row["attention_mask"].get<std::vector<int64_t>>();
    const auto tokens = row["tokens"].get<std::vector<std::string>>();
    const auto pieces = row["tokenize"].get<std::vector<std::string>>();
    const std::string decoded = row["decoded"];
    const std::string decoded_special = row["decoded_with_special"];
    const std::string decoded_clean = row["decoded_clean_up"];

    const auto got_tokens = tokens_of(tok, e.input_ids);
    const auto got_pieces = tok.tokenize(text);
    const std::string got_decoded = tok.decode(ids);
    const std::string got_special = tok.decode(ids, /*skip_special_tokens=*/false);
    const std::string got_clean = tok_clean.decode(ids);
    const bool ok = e.input_ids == ids && e.token_type_ids == types && e.attention_mask == mask &&
                    got_tokens == tokens && got_pieces == pieces && got_decoded == decoded &&
                    got_special == decoded_special && got_clean == decoded_clean &&
                    tok.decode(e.input_ids) == decoded;
    if (!ok && ++failures <= 10) {
      std::string why;
      if (e.input_ids != ids || got_tokens != tokens)
        why += "\n  tokens expected " + show(tokens) + "\n              got " + show(got_tokens);
      if (e.token_type_ids != types) why += "\n  token_type_ids differ";
      if (e.attention_mask != mask) why += "\n  attention_mask differs";
      if (got_pieces != pieces)
        why +=
            "\n  tokenize expected " + show(pieces) + "\n                got " + show(got_pieces);
      if (got_decoded != decoded)
        why += "\n  decode expected \"" + decoded + "\" got \"" + got_decoded + "\"";
      if (got_special != decoded_special)
        why += "\n  decode(skip_special_tokens=false) expected \"" + decoded_special + "\" got \"" +
               got_special + "\"";
      if (got_clean != decoded_clean)
        why += "\n  decode(clean_up) expected \"" + decoded_clean + "\" got \"" + got_clean + "\"";
      FAIL_CHECK("fixture line ", i + 1, ": text \"", text, "\"", why);
    }
  }
  CHECK_MESSAGE(failures == 0, failures, " of ", rows.size() - 1, " fixture cases differ");
}

TEST_CASE("WordPieceTokenizer: every code point normalizes and pre-tokenizes as tokenizers does") {
  std::ifstream in(kDataDir + "/tokenizer/bert_unicode_sweep.json");
  REQUIRE(in.good());
  json sweep;
  in >> sweep;
  const std::size_t block = sweep["block_size"];
  namespace d = ember::data::detail;
  std::vector<char32_t> out, tmp;
  std::string lines;
  for (const auto& item : sweep["configs"].items()) {
    const std::string name = item.key();
    const json& cfg = item.value();
    const bool lower = cfg["do_lower_case"], strip = cfg["strip_accents"];
    const auto& hashes = sweep["hashes"][name];
    REQUIRE(hashes.size() * block == 0x110000);
    int bad = 0;
    for (std::size_t b = 0; b < hashes.size(); ++b) {
      uint64_t h = 0xCBF29CE484222325ull;
      for (char32_t cp = static_cast<char32_t>(b * block); cp < (b + 1) * block; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        out.clear();
        d::bert_normalize(&cp, &cp + 1, lower, strip, true, out, tmp);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%x ", static_cast<unsigned>(cp));
        lines = buf;
        if (out.empty()) lines += "-";
        for (std::size_t k = 0; k < out.size(); ++k) {
          std::snprintf(buf, sizeof buf, k ? " %x" : "%x", static_cast<unsigned>(out[k]));
          lines += buf;
        }
        lines += d::is_whitespace(cp) ? " W\n" : d::is_punctuation(cp) ? " P\n" : " N\n";
        for (unsigned char c : lines) h = (h ^ c) * 0x100000001B3ull;
      }
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
      if (hashes[b].get<std::string>() != hex && ++bad <= 5) {
        std::snprintf(hex, sizeof hex, "%zX", b * block);
        FAIL_CHECK("config ", name, ": code points U+", hex,
                   " + 4096 differ from tokenizers "
                   "(inspect with tools/gen_tokenizer_fixture.py --probe)");
      }
    }
    CHECK_MESSAGE(bad == 0, "config ", name, ": ", bad, " blocks differ");
  }
}

TEST_CASE("WordPieceTokenizer: basic behaviour") {
  const WordPieceTokenizer& tok = uncased();
  CHECK(tok.vocab_size() == 30522);
  CHECK(tok.pad_token_id() == 0);
  CHECK(tok.unk_token_id() == 100);
  CHECK(tok.cls_token_id() == 101);
  CHECK(tok.sep_token_id() == 102);
  CHECK(tok.mask_token_id() == 103);
  CHECK(tok.token_to_id("hello") == 7592);
  CHECK(tok.token_to_id("no-such-token") == tok.unk_token_id());
  CHECK(tok.contains("##ing"));
  CHECK_FALSE(tok.contains("no-such-token"));
  CHECK(tok.id_to_token(7592) == "hello");

  CHECK(tok.tokenize("Unaffable!") == std::vector<std::string>{"una", "##ffa", "##ble", "!"});
  CHECK(tok.tokenize("").empty());
  CHECK(tok.tokenize_to_ids("hello world") == std::vector<int64_t>{7592, 2088});

  Encoding e = tok.encode("Hello world", 0, /*add_special_tokens=*/false);
  CHECK(e.input_ids == std::vector<int64_t>{7592, 2088});
  CHECK(e.token_type_ids == std::vector<int64_t>{0, 0});
  CHECK(e.attention_mask == std::vector<int64_t>{1, 1});
  e = tok.encode("a b", "c", 0, /*add_special_tokens=*/false);
  CHECK(e.input_ids == std::vector<int64_t>{1037, 1038, 1039});
  CHECK(e.token_type_ids == std::vector<int64_t>{0, 0, 1});

  // max_input_chars_per_word counts code points of the normalized word
  const WordPieceTokenizer short_words(kVocab,
                                       WordPieceTokenizerOptions().max_input_chars_per_word(5));
  CHECK(short_words.tokenize("hello helloo") == std::vector<std::string>{"hello", "[UNK]"});
  CHECK(short_words.tokenize("h\xC3\xA9llo") == std::vector<std::string>{"hello"});  // é → e

  // cased behaviour: no lower-casing, accents kept unless asked
  const WordPieceTokenizer cased(kVocab, WordPieceTokenizerOptions().do_lower_case(false));
  CHECK(cased.options().effective_strip_accents() == false);
  CHECK(cased.tokenize("hello Hello") == std::vector<std::string>{"hello", "[UNK]"});
  const WordPieceTokenizer strip_only(
      kVocab, WordPieceTokenizerOptions().do_lower_case(false).strip_accents(true));
  CHECK(strip_only.tokenize("caf\xC3\xA9") == std::vector<std::string>{"cafe"});
  const WordPieceTokenizer lower_only(kVocab, WordPieceTokenizerOptions().strip_accents(false));
  // "café" is not in the uncased vocabulary: without accent stripping it is [UNK]
  CHECK(lower_only.tokenize("CAF\xC3\x89 caf\xC3\xA9") ==
        std::vector<std::string>{"[UNK]", "[UNK]"});
  CHECK(uncased().tokenize("CAF\xC3\x89 caf\xC3\xA9") == std::vector<std::string>{"cafe", "cafe"});
}

TEST_CASE("WordPieceTokenizer: longest_first truncation of pairs follows tokenizers") {
  using ember::data::truncate_pair;
  using P = std::pair<std::size_t, std::size_t>;
  CHECK(truncate_pair(3, 4, 10) == P{3, 4});  // fits
  CHECK(truncate_pair(2, 9, 6) == P{2, 4});   // only the longer is cut
  CHECK(truncate_pair(9, 2, 6) == P{4, 2});
  CHECK(truncate_pair(5, 5, 7) == P{3, 4});  // tie: the second gets the odd token
  CHECK(truncate_pair(2, 2, 3) == P{1, 2});
  CHECK(truncate_pair(1, 1, 1) == P{0, 1});
  CHECK(truncate_pair(9, 4, 5) == P{3, 2});  // both cut: the longer gets budget/2 + budget%2
  CHECK(truncate_pair(4, 9, 5) == P{2, 3});
  CHECK(truncate_pair(7, 8, 0) == P{0, 0});

  const WordPieceTokenizer& tok = uncased();
  const Encoding e = tok.encode("a b c d e", "f g h i j", 9);  // budget 6 → 3 + 3
  CHECK(tokens_of(tok, e.input_ids) ==
        std::vector<std::string>{"[CLS]", "a", "b", "c", "[SEP]", "f", "g", "h", "[SEP]"});
  CHECK(e.token_type_ids == std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 1, 1});
  // An empty second text means "no pair", as in transformers.
  CHECK(tok.encode("hello", "").input_ids == tok.encode("hello").input_ids);
}

TEST_CASE("WordPieceTokenizer: encode_batch pads on the right like Hugging Face") {
  const WordPieceTokenizer& tok = uncased();
  const std::vector<std::string> texts = {"a", "b c d", "hello world !"};
  BatchEncoding b = tok.encode_batch(texts);
  CHECK(b.batch == 3);
  CHECK(b.seq == 5);
  CHECK(b.shape() == std::vector<int64_t>{3, 5});
  CHECK(b.input_ids == std::vector<int64_t>{101, 1037, 102, 0, 0,        //
                                            101, 1038, 1039, 1040, 102,  //
                                            101, 7592, 2088, 999, 102});
  CHECK(b.attention_mask == std::vector<int64_t>{1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  CHECK(b.token_type_ids == std::vector<int64_t>(15, 0));
  CHECK(b.row(b.input_ids, 1)[1] == 1038);

  b = tok.encode_batch(texts, 4, Padding::max_length);  // truncates, then pads to 4
  CHECK(b.seq == 4);
  CHECK(b.input_ids ==
        std::vector<int64_t>{101, 1037, 102, 0, 101, 1038, 1039, 102, 101, 7592, 2088, 102});
  CHECK(b.attention_mask == std::vector<int64_t>{1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1});

  b = tok.encode_batch({"a b", "c"}, {"d", "e f g"}, 0, Padding::longest);
  CHECK(b.seq == 7);
  CHECK(b.input_ids == std::vector<int64_t>{101, 1037, 1038, 102, 1040, 102, 0,  //
                                            101, 1039, 102, 1041, 1042, 1043, 102});
  CHECK(b.token_type_ids == std::vector<int64_t>{0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1});
  CHECK(b.attention_mask == std::vector<int64_t>{1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1});

  // transformers: tok(["a", "b c"], ["", "d"], padding="longest") keeps the empty pair, while
  // tok("a", "") does not (see the fixture's ("hello", "") case).
  b = tok.encode_batch({"a", "b c"}, {"", "d"});
  CHECK(b.input_ids ==
        std::vector<int64_t>{101, 1037, 102, 102, 0, 0, 101, 1038, 1039, 102, 1040, 102});
  CHECK(b.token_type_ids == std::vector<int64_t>{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1});
  CHECK(b.attention_mask == std::vector<int64_t>{1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1});

  // Rows of a batch are the single encodings, for the whole SST-2 dev set.
  const auto sst2 = sst2_sentences();
  REQUIRE(sst2.size() == 872);
  b = tok.encode_batch(sst2, 64);
  REQUIRE(b.batch == 872);
  bool same = true;
  for (std::size_t r = 0; r < sst2.size(); ++r) {
    const Encoding e = tok.encode(sst2[r], 64);
    for (std::size_t c = 0; c < static_cast<std::size_t>(b.seq); ++c) {
      const std::size_t k = r * b.seq + c;
      const bool in = c < e.size();
      same = same && b.input_ids[k] == (in ? e.input_ids[c] : 0) &&
             b.attention_mask[k] == (in ? 1 : 0) && b.token_type_ids[k] == 0;
    }
  }
  CHECK(same);

  b = tok.encode_batch(std::vector<std::string>{});
  CHECK(b.batch == 0);
  CHECK(b.input_ids.empty());
}

TEST_CASE("WordPieceTokenizer: invalid UTF-8 becomes U+FFFD, which clean_text removes") {
  namespace d = ember::data::detail;
  auto decode = [](std::string_view bytes) {
    std::vector<char32_t> cps;
    d::utf8_decode(bytes, cps);
    return cps;
  };
  const char32_t R = 0xFFFD;
  // Expectations are Python's bytes.decode("utf-8", errors="replace").
  CHECK(decode("ab\xFF"
               "cd") == std::vector<char32_t>{'a', 'b', R, 'c', 'd'});
  CHECK(decode("caf\xC3") == std::vector<char32_t>{'c', 'a', 'f', R});
  CHECK(decode("\xE2\x82 e") == std::vector<char32_t>{R, ' ', 'e'});
  CHECK(decode("\xC0\xAF") == std::vector<char32_t>{R, R});                // overlong
  CHECK(decode("\xED\xA0\x80") == std::vector<char32_t>{R, R, R});         // surrogate
  CHECK(decode("\xF4\x90\x80\x80") == std::vector<char32_t>{R, R, R, R});  // > U+10FFFF
  CHECK(decode("\xE0\x80\x80") == std::vector<char32_t>{R, R, R});         // overlong
  CHECK(decode("\xF0\x9F\x98") == std::vector<char32_t>{R});               // truncated
  CHECK(decode("\xF0\x9F\x98"
               "A") == std::vector<char32_t>{R, 'A'});
  CHECK(decode("\xF0\x9F\x98\x80") == std::vector<char32_t>{0x1F600});
  CHECK(decode("\x80\x80") == std::vector<char32_t>{R, R});
  CHECK(decode("\xF5\x80") == std::vector<char32_t>{R, R});
  CHECK(decode("\xEF\xBF\xBD") == std::vector<char32_t>{R});

  const WordPieceTokenizer& tok = uncased();
  using V = std::vector<std::string>;
  // U+FFFD is removed, not replaced by a space: the two halves join into one word.
  CHECK(tok.tokenize("hello\x80world") == V{"hello", "##world"});
  CHECK(tok.tokenize("hello\x80world") == tok.tokenize("helloworld"));
  CHECK(tok.tokenize("caf\xC3") == V{"caf"});
  CHECK(tok.tokenize("\xE2\x82 euro") == V{"euro"});
  CHECK(tok.tokenize("\xC0\xAF\xED\xA0\x80\xF4\x90\x80\x80").empty());
  CHECK(tok.encode("[CLS]\xFF[SEP]").input_ids == std::vector<int64_t>{101, 101, 102, 102});
  CHECK(tok.encode("\xFF\xFE").input_ids == std::vector<int64_t>{101, 102});

  // Random bytes: no crash, deterministic, and the tokens are valid UTF-8 vocabulary entries.
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 64);
  for (int i = 0; i < 2000; ++i) {
    std::string s(static_cast<std::size_t>(len(rng)), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    if (i % 3 == 0) s = "The [MASK] " + s + " caf\xC3\xA9 [SEP]";
    const Encoding a = tok.encode(s, 32), b = tok.encode(s, 32);
    REQUIRE(a.input_ids == b.input_ids);
    REQUIRE(a.size() <= 32);
    for (int64_t id : a.input_ids)
      REQUIRE((id >= 0 && id < static_cast<int64_t>(tok.vocab_size())));
    (void)tok.decode(a.input_ids);
  }
}

TEST_CASE("WordPieceTokenizer: errors") {
  const WordPieceTokenizer& tok = uncased();
  try {
    WordPieceTokenizer missing("/no/such/dir/vocab.txt");
    FAIL("expected ember::Error");
  } catch (const ember::Error& e) {
    CHECK(std::string(e.what()).find("/no/such/dir/vocab.txt") != std::string::npos);
  }
  CHECK_THROWS_AS(WordPieceTokenizer::from_pretrained("/no/such/dir"), ember::Error);
  CHECK_THROWS_AS(WordPieceTokenizer(std::vector<std::string>{"[PAD]", "[CLS]", "[SEP]", "a"}),
                  ember::Error);  // no [UNK]
  CHECK_THROWS_AS(tok.id_to_token(-1), ember::Error);
  CHECK_THROWS_AS(tok.id_to_token(30522), ember::Error);
  CHECK_THROWS_AS(tok.decode({101, 99999}), ember::Error);
  CHECK_THROWS_AS(tok.encode("hello", 1), ember::Error);           // < 2 special tokens
  CHECK_THROWS_AS(tok.encode("hello", "world", 2), ember::Error);  // < 3 special tokens
  CHECK_NOTHROW(tok.encode("hello", "world", 3));
  CHECK_THROWS_AS(tok.encode_batch({"a"}, 0, Padding::max_length), ember::Error);
  CHECK_THROWS_AS(tok.encode_batch({"a", "b"}, {"c"}), ember::Error);
}

TEST_CASE("WordPieceTokenizer: from_pretrained reads tokenizer_config.json") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "ember_test_wordpiece_from_pretrained";
  fs::create_directories(dir);
  fs::copy_file(kVocab, dir / "vocab.txt", fs::copy_options::overwrite_existing);
  fs::remove(dir / "tokenizer_config.json");

  WordPieceTokenizer plain = WordPieceTokenizer::from_pretrained(dir.string());
  CHECK(plain.options().do_lower_case());
  CHECK(plain.tokenize("Hello") == std::vector<std::string>{"hello"});

  {
    std::ofstream cfg(dir / "tokenizer_config.json");
    cfg << R"({"do_lower_case": false, "clean_up_tokenization_spaces": true,
              "mask_token": {"content": "[MASK]", "lstrip": false}, "tokenizer_class": "BertTokenizer"})";
  }
  WordPieceTokenizer cased = WordPieceTokenizer::from_pretrained(dir.string());
  CHECK_FALSE(cased.options().do_lower_case());
  CHECK(cased.options().clean_up_tokenization_spaces());
  CHECK(cased.tokenize("Hello") == std::vector<std::string>{"[UNK]"});
  CHECK(cased.decode(cased.encode("it ' s").input_ids) == "it's");

  {
    std::ofstream cfg(dir / "tokenizer_config.json");
    cfg << "{ not json";
  }
  CHECK_THROWS_AS(WordPieceTokenizer::from_pretrained(dir.string()), ember::Error);
  fs::remove_all(dir);
}

TEST_CASE("WordPieceTokenizer: SST-2 dev set tokenizes fast") {
  // Best of 5, in process CPU time (std::clock) so that a loaded machine does not fail it.
  const WordPieceTokenizer& tok = uncased();
  const auto sst2 = sst2_sentences();
  std::size_t n = 0;
  double best_ms = 1e9, best_wall_ms = 1e9;
  for (int rep = 0; rep < 5; ++rep) {
    const std::clock_t c0 = std::clock();
    const auto t0 = std::chrono::steady_clock::now();
    n = 0;
    for (const auto& s : sst2) n += tok.encode(s).size();
    const auto t1 = std::chrono::steady_clock::now();
    const std::clock_t c1 = std::clock();
    best_ms = std::min(best_ms, 1000.0 * static_cast<double>(c1 - c0) / CLOCKS_PER_SEC);
    best_wall_ms =
        std::min(best_wall_ms, std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  MESSAGE("encode of the 872 SST-2 dev sentences (", n, " tokens): ", best_ms, " ms CPU, ",
          best_wall_ms, " ms wall");
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  CHECK(best_ms < 100.0);
#endif
}
