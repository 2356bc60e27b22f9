// ember/data/token_classification.hpp — pre-split words and their tags → model inputs for
// token classification (named-entity tagging), and the collator that pads them into batches.
//
//   auto enc = data::encode_words(tokenizer, {"@paulwalk", "loves", "Zürich"}, {1, 0, 2}, 128);
//   // enc.input_ids  [CLS]  @  paul  ##walk  loves  zurich  [SEP]
//   // enc.word_ids    -1    0   0     0       1      2       -1
//   // enc.labels     -100   1  -100  -100     0      2      -100
//   data::DataCollatorForTokenClassification collate(tokenizer.pad_token_id());
//   data::Batch b = collate(encodings, indices);   // b.labels [batch, seq], -100 = not scored
//
// What it computes: Hugging Face's token-classification preprocessing (transformers'
// examples/pytorch/token-classification/run_ner.py, `tokenize_and_align_labels`, with
// label_all_tokens=False), i.e. `tokenizer(words, is_split_into_words=True, truncation=True,
// max_length=L)` and its `word_ids()`:
//   1. each word is tokenized on its own (the whole pipeline: special tokens cut out, normalizer,
//      pre-tokenizer, model), so a word never merges with its neighbours, and one word may give
//      several sub-tokens ("@paulwalk" → @ paul ##walk; "don't" → don ' t) or none (a word of
//      control or zero-width characters: it gets no token and its tag is not scored, as in HF);
//   2. the sub-tokens of all words in order are truncated to L − 2 (HF's truncation=True of a
//      single sequence: the end is cut) and framed as [CLS] … [SEP] (RoBERTa/XLM-R: <s> … </s>);
//   3. word_ids[i] is the index of the word token i came from, −1 for the special tokens;
//   4. labels[i] is the word's label id on the word's FIRST sub-token, −100 on its later
//      sub-tokens and on the special tokens (cross_entropy's ignore_index). A word cut off by
//      truncation has no first sub-token and is not scored either.
// The collator is HF's DataCollatorForTokenClassification: pads on the right to the longest row,
// input_ids with the pad id, token_type_ids 0, attention_mask 0, labels −100.
//
// Tokenizers. WordPieceTokenizer (BERT, DistilBERT, ELECTRA) is checked against
// BertTokenizerFast on real WNUT 2017 sentences (tests/data/token_classification/, written by
// tools/gen_token_classification_fixture.py). ByteLevelBPETokenizer (RoBERTa) needs each word
// to start with a space, as HF's run_ner loads it with add_prefix_space=True: a tokenizer
// without add_prefix_space gets " " + word, which differs from HF only for a word that holds one
// of the tokenizer's added tokens (<s>, <mask>, ...); a GPT-2 tokenizer (no RoBERTa
// post-processor) is refused. UnigramTokenizer (XLM-R) tokenizes each word with its Metaspace
// pre-tokenizer ("▁" per word). Both are checked against HF on a few sentences of the same
// fixture.
//
// Errors: ember::Error for a label list whose size differs from the words', a max_length of 1
// or 2 (no room for a word; 0 means no truncation), a tag not in label2id (naming the source,
// the sentence and the word), a GPT-2 tokenizer, and an empty batch or a row whose fields
// differ in length in the collator.
#pragma once

#include <ember/core/error.hpp>
#include <ember/data/bpe_tokenizer.hpp>
#include <ember/data/conll.hpp>
#include <ember/data/data_loader.hpp>
#include <ember/data/unigram_tokenizer.hpp>
#include <ember/data/wordpiece_tokenizer.hpp>
#include <ember/tensor/tensor.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::data {

// ---------------------------------------------------------------------------------------------
// Synopsis
// ---------------------------------------------------------------------------------------------

/// The model inputs of one sentence; the three vectors have the same length.
struct TokenClassificationEncoding {
  std::vector<int64_t> input_ids;  ///< [CLS] sub-tokens of each word [SEP]
  std::vector<int64_t> word_ids;   ///< the word each token came from; −1 for special tokens
  std::vector<int64_t> labels;     ///< the word's label on its first sub-token, else −100
  std::size_t size() const { return input_ids.size(); }
};

/// Encodes pre-split `words` (HF is_split_into_words=True) with `tokenizer` (WordPieceTokenizer,
/// ByteLevelBPETokenizer or UnigramTokenizer), truncated to `max_length` tokens, specials
/// included (0: no truncation). `label_ids` holds one id per word, or is empty (prediction:
/// labels are then all −100). Throws `ember::Error` for a `label_ids` of another size than
/// `words`, or a max_length of 1 or 2.
template <class Tokenizer>
TokenClassificationEncoding encode_words(const Tokenizer& tokenizer,
                                         const std::vector<std::string>& words,
                                         const std::vector<int64_t>& label_ids,
                                         int64_t max_length = 0);

/// encode_words for every sentence of `examples` (read_conll), their tags mapped by `label2id`.
/// Throws `ember::Error` naming `source`, the sentence (1-based) and the word for a tag that is
/// not in label2id ("a tag the model was not trained on").
template <class Tokenizer>
std::vector<TokenClassificationEncoding> encode_token_classification(
    const Tokenizer& tokenizer, const std::vector<TokenClassificationExample>& examples,
    const std::map<std::string, int64_t>& label2id, int64_t max_length,
    const std::string& source = "<examples>");

/// The word each sentence token was scored for: positions i of `encoding` where labels would
/// go (the first sub-token of each word that was kept), as pairs (token position, word index).
inline std::vector<std::pair<int64_t, int64_t>> first_token_positions(
    const TokenClassificationEncoding& encoding);

/// HF's DataCollatorForTokenClassification (padding="longest"): rows padded on the right.
class DataCollatorForTokenClassification {
 public:
  explicit DataCollatorForTokenClassification(int64_t pad_token_id,
                                              int64_t label_pad_token_id = -100)
      : pad_id_(pad_token_id), label_pad_id_(label_pad_token_id) {}

  /// A Batch of the rows `indices` of `encodings` (batch.indices = indices): input_ids,
  /// token_type_ids (0), attention_mask and labels, all [batch, longest row] int64 on the CPU.
  /// Throws `ember::Error` for no indices, an index out of range, or a row whose fields differ
  /// in length.
  Batch operator()(const std::vector<TokenClassificationEncoding>& encodings,
                   const std::vector<int64_t>& indices) const;

 private:
  int64_t pad_id_, label_pad_id_;
};

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------
namespace detail {

// The three tokenizers as encode_words sees them: the ids of one word, and [CLS]/[SEP].
inline std::vector<int64_t> word_token_ids(const WordPieceTokenizer& t, const std::string& word) {
  return t.tokenize_to_ids(word);
}
inline std::pair<int64_t, int64_t> frame_ids(const WordPieceTokenizer& t) {
  return {t.cls_token_id(), t.sep_token_id()};
}

inline std::vector<int64_t> word_token_ids(const ByteLevelBPETokenizer& t,
                                           const std::string& word) {
  // HF's ByteLevel add_prefix_space adds the space only to a piece that does not start with one.
  const bool space = t.add_prefix_space() || (!word.empty() && word[0] == ' ');
  return t.encode(space ? word : " " + word, 0, false).input_ids;
}
inline std::pair<int64_t, int64_t> frame_ids(const ByteLevelBPETokenizer& t) {
  EMBER_CHECK(t.roberta_processing(),
              "encode_words: a byte-level BPE tokenizer without the "
              "RoBERTa post-processor (GPT-2) is not supported for token classification: expected "
              "<s> … </s> framing");
  return {t.bos_token_id(), t.eos_token_id()};
}

inline std::vector<int64_t> word_token_ids(const UnigramTokenizer& t, const std::string& word) {
  return t.encode(word, 0, false).input_ids;
}
inline std::pair<int64_t, int64_t> frame_ids(const UnigramTokenizer& t) {
  return {t.bos_token_id(), t.eos_token_id()};
}

}  // namespace detail

template <class Tokenizer>
TokenClassificationEncoding encode_words(const Tokenizer& tokenizer,
                                         const std::vector<std::string>& words,
                                         const std::vector<int64_t>& label_ids,
                                         int64_t max_length) {
  EMBER_CHECK(label_ids.empty() || label_ids.size() == words.size(),
              "encode_words: expected one "
              "label id per word (",
              words.size(), " words), found ", label_ids.size());
  EMBER_CHECK(max_length == 0 || max_length >= 3,
              "encode_words: max_length must be 0 (no "
              "truncation) or at least 3 ([CLS], one token, [SEP]), found ",
              max_length);
  const auto [cls, sep] = detail::frame_ids(tokenizer);
  const std::size_t budget =
      max_length > 0 ? std::size_t(max_length - 2) : std::numeric_limits<std::size_t>::max();
  TokenClassificationEncoding e;
  e.input_ids.push_back(cls);
  e.word_ids.push_back(-1);
  e.labels.push_back(-100);
  for (std::size_t w = 0; w < words.size() && e.size() - 1 < budget; ++w) {
    const std::vector<int64_t> ids = detail::word_token_ids(tokenizer, words[w]);
    for (std::size_t k = 0; k < ids.size() && e.size() - 1 < budget; ++k) {
      e.input_ids.push_back(ids[k]);
      e.word_ids.push_back(int64_t(w));
      e.labels.push_back(k == 0 && !label_ids.empty() ? label_ids[w] : -100);
    }
  }
  e.input_ids.push_back(sep);
  e.word_ids.push_back(-1);
  e.labels.push_back(-100);
  return e;
}

template <class Tokenizer>
std::vector<TokenClassificationEncoding> encode_token_classification(
    const Tokenizer& tokenizer, const std::vector<TokenClassificationExample>& examples,
    const std::map<std::string, int64_t>& label2id, int64_t max_length, const std::string& source) {
  std::vector<TokenClassificationEncoding> out;
  out.reserve(examples.size());
  std::vector<int64_t> ids;
  for (std::size_t s = 0; s < examples.size(); ++s) {
    const TokenClassificationExample& ex = examples[s];
    ids.clear();
    for (std::size_t w = 0; w < ex.tags.size(); ++w) {
      auto it = label2id.find(ex.tags[w]);
      if (it == label2id.end()) {
        std::string known;
        for (const auto& [name, id] : label2id) known += (known.empty() ? "" : ", ") + name;
        EMBER_FAIL(source, ": sentence ", s + 1, ", word ", w + 1, " ('",
                   detail::conll_excerpt(ex.tokens[w]), "'): the tag '", ex.tags[w],
                   "' is not one of the model's labels (", known,
                   "); a model can only be scored on the tags it was trained with");
      }
      ids.push_back(it->second);
    }
    out.push_back(encode_words(tokenizer, ex.tokens, ids, max_length));
  }
  return out;
}

inline std::vector<std::pair<int64_t, int64_t>> first_token_positions(
    const TokenClassificationEncoding& encoding) {
  std::vector<std::pair<int64_t, int64_t>> out;
  int64_t previous = -1;
  for (std::size_t i = 0; i < encoding.word_ids.size(); ++i) {
    const int64_t w = encoding.word_ids[i];
    if (w >= 0 && w != previous) out.emplace_back(int64_t(i), w);
    previous = w;
  }
  return out;
}

inline Batch DataCollatorForTokenClassification::operator()(
    const std::vector<TokenClassificationEncoding>& encodings,
    const std::vector<int64_t>& indices) const {
  const char* who = "DataCollatorForTokenClassification";
  EMBER_CHECK(!indices.empty(), who, ": expected at least one example, found none");
  int64_t seq = 0;
  for (int64_t i : indices) {
    EMBER_CHECK(i >= 0 && i < int64_t(encodings.size()), who, ": index ", i, " is outside [0, ",
                encodings.size(), ")");
    const TokenClassificationEncoding& e = encodings[std::size_t(i)];
    EMBER_CHECK(e.labels.size() == e.size() && e.word_ids.size() == e.size(), who, ": example ", i,
                " has ", e.size(), " input ids but ", e.labels.size(), " labels and ",
                e.word_ids.size(), " word ids");
    seq = std::max(seq, int64_t(e.size()));
  }
  const int64_t rows = int64_t(indices.size());
  Batch b;
  b.input_ids = full<int64_t>({rows, seq}, pad_id_);
  b.token_type_ids = zeros<int64_t>({rows, seq});
  b.attention_mask = zeros<int64_t>({rows, seq});
  b.labels = full<int64_t>({rows, seq}, label_pad_id_);
  b.indices = indices;
  int64_t* ids = b.input_ids.data();
  int64_t* mask = b.attention_mask.data();
  int64_t* labels = b.labels.data();
  for (int64_t r = 0; r < rows; ++r) {
    const TokenClassificationEncoding& e = encodings[std::size_t(indices[std::size_t(r)])];
    std::copy(e.input_ids.begin(), e.input_ids.end(), ids + r * seq);
    std::fill_n(mask + r * seq, e.size(), int64_t(1));
    std::copy(e.labels.begin(), e.labels.end(), labels + r * seq);
  }
  return b;
}

}  // namespace ember::data
