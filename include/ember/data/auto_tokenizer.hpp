// ember/data/auto_tokenizer.hpp — `AutoTokenizer`: the tokenizer a model directory declares,
// as Hugging Face's `AutoTokenizer.from_pretrained(dir)` picks it.
//
// Which one (first match):
//   dir/tokenizer.json with model.type "WordPiece"  → WordPieceTokenizer (dir/vocab.txt +
//                                                     tokenizer_config.json: BERT, DistilBERT,
//                                                     ELECTRA, MiniLM)
//   dir/tokenizer.json with model.type "BPE"        → ByteLevelBPETokenizer (RoBERTa, GPT-2)
//   dir/tokenizer.json with model.type "Unigram"    → UnigramTokenizer (XLM-R, CamemBERT)
//   no tokenizer.json: dir/vocab.txt → WordPiece; dir/vocab.json + dir/merges.txt → BPE.
// A SentencePiece `sentencepiece.bpe.model` alone is refused with the conversion to run
// (transformers' XLMRobertaTokenizerFast writes tokenizer.json). The three share one interface
// here — encode / encode_batch / decode / the special ids — so the data loader, the collators and
// the examples take any of them; `get<WordPieceTokenizer>()` etc. reach the concrete one.
// Errors: `ember::Error` naming the directory and the files it looked for.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include <ember/core/error.hpp>
#include <ember/data/bpe_tokenizer.hpp>
#include <ember/data/unigram_tokenizer.hpp>
#include <ember/data/wordpiece_tokenizer.hpp>

namespace ember::data {

class AutoTokenizer {
 public:
  using Variant = std::variant<WordPieceTokenizer, ByteLevelBPETokenizer, UnigramTokenizer>;

  explicit AutoTokenizer(Variant tok) : tok_(std::move(tok)) {}

  /// The tokenizer of a Hugging Face model directory (see the header comment).
  static AutoTokenizer from_pretrained(const std::string& dir) {
    namespace fs = std::filesystem;
    EMBER_CHECK(fs::is_directory(dir), "AutoTokenizer: ", dir, " is not a directory (expected a "
                "model directory with tokenizer.json, vocab.txt or vocab.json + merges.txt)");
    const fs::path d(dir);
    std::string type;
    if (fs::is_regular_file(d / "tokenizer.json")) {
      nlohmann::json j;
      try {
        std::ifstream in(d / "tokenizer.json");
        in >> j;
      } catch (const nlohmann::json::exception& e) {
        EMBER_FAIL("AutoTokenizer: ", (d / "tokenizer.json").string(), " is not valid JSON: ",
                   e.what());
      }
      EMBER_CHECK(j.is_object() && j.contains("model") && j["model"].is_object() &&
                      j["model"].contains("type") && j["model"]["type"].is_string(),
                  "AutoTokenizer: ", (d / "tokenizer.json").string(),
                  " has no model.type (expected \"WordPiece\", \"BPE\" or \"Unigram\")");
      type = j["model"]["type"].get<std::string>();
    } else if (fs::is_regular_file(d / "vocab.txt")) {
      type = "WordPiece";
    } else if (fs::is_regular_file(d / "vocab.json") && fs::is_regular_file(d / "merges.txt")) {
      type = "BPE";
    } else {
      EMBER_CHECK(!fs::is_regular_file(d / "sentencepiece.bpe.model"), "AutoTokenizer: ", dir,
                  " has only sentencepiece.bpe.model; ember reads its tokenizer.json — write one "
                  "with transformers: XLMRobertaTokenizerFast.from_pretrained(dir)"
                  ".save_pretrained(dir)");
      EMBER_FAIL("AutoTokenizer: ", dir, " has no tokenizer.json, vocab.txt or vocab.json + "
                 "merges.txt");
    }
    if (type == "WordPiece") {
      EMBER_CHECK(fs::is_regular_file(d / "vocab.txt"), "AutoTokenizer: ", dir, " declares a "
                  "WordPiece tokenizer; ember reads it from vocab.txt (+ tokenizer_config.json), "
                  "which is missing");
      return AutoTokenizer(WordPieceTokenizer::from_pretrained(dir));
    }
    if (type == "BPE") return AutoTokenizer(ByteLevelBPETokenizer::from_pretrained(dir));
    if (type == "Unigram") return AutoTokenizer(UnigramTokenizer::from_pretrained(dir));
    EMBER_FAIL("AutoTokenizer: ", dir, "/tokenizer.json has model.type \"", type,
               "\"; ember reads WordPiece, BPE (byte-level) and Unigram");
  }

  /// "WordPiece", "BPE" or "Unigram".
  std::string model_type() const {
    static const char* names[] = {"WordPiece", "BPE", "Unigram"};
    return names[tok_.index()];
  }
  /// The concrete tokenizer; throws `ember::Error` when it is another kind.
  template <class Tok>
  const Tok& get() const {
    const Tok* t = std::get_if<Tok>(&tok_);
    EMBER_CHECK(t != nullptr, "AutoTokenizer: holds a ", model_type(), " tokenizer");
    return *t;
  }

  /// The single-sequence template with special tokens; max_length > 0 truncates (0: none).
  Encoding encode(std::string_view text, std::size_t max_length = 0,
                  bool add_special_tokens = true) const {
    return std::visit([&](const auto& t) -> Encoding {
      return t.encode(text, max_length, add_special_tokens);
    }, tok_);
  }
  /// The pair template, truncated longest_first; an empty text_b means no pair.
  Encoding encode(std::string_view text_a, std::string_view text_b, std::size_t max_length = 0,
                  bool add_special_tokens = true) const {
    return std::visit([&](const auto& t) -> Encoding {
      return t.encode(text_a, text_b, max_length, add_special_tokens);
    }, tok_);
  }
  BatchEncoding encode_batch(const std::vector<std::string>& texts, std::size_t max_length = 0,
                             Padding padding = Padding::longest) const {
    return std::visit([&](const auto& t) { return t.encode_batch(texts, max_length, padding); },
                      tok_);
  }
  BatchEncoding encode_batch(const std::vector<std::string>& texts_a,
                             const std::vector<std::string>& texts_b, std::size_t max_length = 0,
                             Padding padding = Padding::longest) const {
    return std::visit(
        [&](const auto& t) { return t.encode_batch(texts_a, texts_b, max_length, padding); }, tok_);
  }
  std::vector<std::string> tokenize(std::string_view text) const {
    return std::visit([&](const auto& t) { return t.tokenize(text); }, tok_);
  }
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const {
    return std::visit([&](const auto& t) { return t.decode(ids, skip_special_tokens); }, tok_);
  }
  int64_t token_to_id(std::string_view token) const {
    return std::visit([&](const auto& t) { return t.token_to_id(token); }, tok_);
  }
  const std::string& id_to_token(int64_t id) const {
    return std::visit([&](const auto& t) -> const std::string& { return t.id_to_token(id); }, tok_);
  }
  std::size_t vocab_size() const {
    return std::visit([](const auto& t) { return t.vocab_size(); }, tok_);
  }
  int64_t pad_token_id() const {
    return std::visit([](const auto& t) { return t.pad_token_id(); }, tok_);
  }
  int64_t unk_token_id() const {
    return std::visit([](const auto& t) { return t.unk_token_id(); }, tok_);
  }
  int64_t mask_token_id() const {
    return std::visit([](const auto& t) { return t.mask_token_id(); }, tok_);
  }
  bool is_special_id(int64_t id) const {
    return std::visit([&](const auto& t) { return t.is_special_id(id); }, tok_);
  }

 private:
  Variant tok_;
};

}  // namespace ember::data
