// ember/data/mlm_collator.hpp — `DataCollatorForLanguageModeling`: examples of token ids
// ([CLS] … [SEP], from LanguageModelingDataset or anywhere) → a padded `Batch` with masked-
// language-model inputs and labels, Hugging Face's semantics, drawn from an ember::Generator.
//
//   data::DataCollatorForLanguageModeling collator(tokenizer,
//       data::MaskingOptions().mlm_probability(0.15).seed(42));
//   data::Batch b = collator(train_set, indices);   // b.labels [batch, seq], -100 = no loss
//   auto loss = model->forward(b.input_ids, b.attention_mask, b.token_type_ids, b.labels);
//
// Source: transformers 5 `data/data_collator.py`, DataCollatorForLanguageModeling
// (torch_mask_tokens, _calc_word_ids_and_prob_mask, _whole_word_mask); BERT (Devlin et al. 2019)
// §3.1 "Task #1: Masked LM" and Appendix A.1; Google BERT's create_pretraining_data.py for whole
// word masking.
//
// What a batch holds (all contiguous int64 on the CPU, [batch, seq]; seq = the longest example,
// rounded up to pad_to_multiple_of when set):
//   input_ids       the examples, right-padded with [PAD], then masked (below)
//   attention_mask  1 on the examples' tokens, 0 on padding
//   token_type_ids  0 everywhere (no sentence pairs in MLM pretraining)
//   labels          the original id at every selected position, -100 everywhere else (padding
//                   included): what cross_entropy(ignore_index = -100) and BertForMaskedLM take
//   indices         the dataset indices of the rows (0..n-1 for a vector of examples)
//
// The masking (per position of the padded batch):
//   1. eligible = attention_mask 1 and the id not special. Special = every id of the tokenizer's
//      special set: [CLS] [SEP] [PAD] [UNK] [MASK] — what HF's
//      `tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)` returns for
//      BertTokenizer (transformers 5.25: 1 for each of all_special_ids = [UNK] [SEP] [PAD] [CLS]
//      [MASK]), which the collator uses when it is given plain id lists.
//   2. selected with probability mlm_probability (Bernoulli per eligible position, so the count
//      per row varies — as HF, unlike create_pretraining_data.py's fixed 15 % per sequence).
//   3. a selected position becomes [MASK] with probability mask_replace_prob (0.8), a random id
//      drawn uniformly from the whole vocabulary [0, vocab_size) with probability
//      random_replace_prob (0.1) — HF's `torch.randint(len(tokenizer))`: special ids and the
//      original id included — and stays unchanged otherwise (0.1).
//   whole_word_mask(true): a word is an eligible token plus the eligible "##" continuation
//   tokens that follow it (a "##" token right after a special token or at a row's start begins
//   a word of its own, e.g. after the [CLS] of a block cut mid-word). Each word is selected with
//   probability mlm_probability, drawn at its first token as HF 5 does, and then all its tokens
//   are selected: a word is never split. Step 3 then runs per token.
//
// Matches Hugging Face: the selection probability, the eligibility rule for id lists, the
// replacement probabilities and their checks (each in [0, 1], sum <= 1), random ids from the
// whole vocabulary, labels -100, dynamic padding and pad_to_multiple_of, word selection by the
// word's first token.
// Differs:
//   * the random stream. ember draws one Philox block per position from `Generator(seed)`
//     (word 0: selection, word 1: the replacement choice — one uniform against 0.8 / 0.9 instead
//     of HF's two Bernoulli draws, the same distribution — words 2–3: the random id). The same
//     seed gives the same masks in ember on every machine, not HF's masks.
//   * run_mlm.py hands the collator the tokenizer's own `special_tokens_mask`, which marks only
//     the [CLS]/[SEP] it added and the padding, so an [UNK] from the text can be selected there;
//     ember's packed blocks keep no such provenance and never select [UNK].
//   * whole words. HF 5 finds words from the fast tokenizer's offset mapping (tokens with no
//     gap between them are one word, so "don't" or "end." is one word there); ember uses the
//     "##" continuation rule of create_pretraining_data.py and of transformers 4's
//     DataCollatorForWholeWordMask ("don", "'", "t" are three words). And HF 5 forces
//     mask_replace_prob = 1 with whole-word masking (all [MASK], with a warning); ember applies
//     the options as given (80/10/10 per token, as create_pretraining_data.py does) — set
//     mask_replace_prob(1).random_replace_prob(0) for HF 5's behaviour.
//   * no `mlm=False` (causal LM labels) mode.
//
// State. The collator owns a Generator (MaskingOptions::seed) and reserves batch·seq blocks per
// call; `generator()` exposes it for checkpoints (save seed and offset, restore with set_state).
//
// Errors (ember::Error): a tokenizer without a [MASK] token; mlm_probability, mask_replace_prob
// or random_replace_prob outside [0, 1] or the last two summing above 1; pad_to_multiple_of < 0;
// no examples; an id outside [0, vocab_size); a dataset index out of range.
#pragma once

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>
#include <ember/core/generator.hpp>
#include <ember/data/data_loader.hpp>
#include <ember/data/text_corpus.hpp>
#include <ember/data/wordpiece_tokenizer.hpp>
#include <ember/tensor/tensor.hpp>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace ember::data {

// ---------------------------------------------------------------------------------------------
// Synopsis
// ---------------------------------------------------------------------------------------------

/// How DataCollatorForLanguageModeling masks (Hugging Face's names and defaults). Chainable:
/// `MaskingOptions().mlm_probability(0.15).whole_word_mask(true).seed(1)`.
struct MaskingOptions {
  /// Probability that an eligible token (whole_word_mask: word) is selected for prediction.
  EMBER_ARG(double, mlm_probability) = 0.15;
  /// Of the selected tokens: the fraction replaced by [MASK] ...
  EMBER_ARG(double, mask_replace_prob) = 0.8;
  /// ... and the fraction replaced by a random id; the rest stay unchanged.
  EMBER_ARG(double, random_replace_prob) = 0.1;
  /// Select whole words (a token and its "##" continuations), never parts of one.
  EMBER_ARG(bool, whole_word_mask) = false;
  /// Pad each batch's length up to a multiple of this (0: the longest row).
  EMBER_ARG(int64_t, pad_to_multiple_of) = 0;
  EMBER_ARG(uint64_t, seed) = 0;
};

class DataCollatorForLanguageModeling {
 public:
  /// Copies what it needs from the tokenizer (vocabulary size, special and "##" ids). Throws
  /// ember::Error for invalid options or a vocabulary without [MASK].
  explicit DataCollatorForLanguageModeling(const WordPieceTokenizer& tokenizer,
                                           MaskingOptions options = {});

  /// Pads and masks `examples` (each a row of ids, special tokens already in place).
  Batch operator()(const std::vector<std::vector<int64_t>>& examples);
  /// Pads and masks dataset examples `indices` (batch.indices = indices).
  Batch operator()(const LanguageModelingDataset& dataset, const std::vector<int64_t>& indices);

  /// Masks a padded batch in place: `input_ids` and `attention_mask` are row-major
  /// [rows, seq]; writes `labels` [rows, seq]. Draws rows·seq Philox blocks from generator().
  /// Throws ember::Error for an id outside [0, vocab_size()).
  void mask_tokens(int64_t* input_ids, const int64_t* attention_mask, int64_t* labels, int64_t rows,
                   int64_t seq);

  /// True for the ids never selected: [CLS] [SEP] [PAD] [UNK] [MASK].
  bool is_special(int64_t id) const { return flags_[static_cast<std::size_t>(id)] & kSpecial; }
  /// True for "##" continuation tokens.
  bool is_continuation(int64_t id) const {
    return flags_[static_cast<std::size_t>(id)] & kContinuation;
  }
  int64_t vocab_size() const { return static_cast<int64_t>(flags_.size()); }
  int64_t mask_token_id() const { return mask_id_; }
  int64_t pad_token_id() const { return pad_id_; }
  /// The masking stream: save `seed()`/`offset()` in a checkpoint, restore with set_state.
  Generator& generator() { return gen_; }
  const MaskingOptions& options() const { return options_; }

 private:
  static constexpr uint8_t kSpecial = 1, kContinuation = 2;
  template <class RowAt>
  Batch collate_(int64_t rows, RowAt&& row_at);

  MaskingOptions options_;
  std::vector<uint8_t> flags_;  // per vocabulary id: kSpecial | kContinuation
  int64_t mask_id_ = -1, pad_id_ = 0;
  Generator gen_;
};

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------

inline DataCollatorForLanguageModeling::DataCollatorForLanguageModeling(
    const WordPieceTokenizer& tokenizer, MaskingOptions options)
    : options_(std::move(options)),
      mask_id_(tokenizer.mask_token_id()),
      pad_id_(tokenizer.pad_token_id()),
      gen_(options_.seed()) {
  const char* who = "DataCollatorForLanguageModeling";
  EMBER_CHECK(mask_id_ >= 0, who, ": the vocabulary has no mask token '",
              tokenizer.options().mask_token(), "', which masked language modeling needs");
  auto in_unit = [](double p) { return p >= 0.0 && p <= 1.0; };
  EMBER_CHECK(in_unit(options_.mlm_probability()), who,
              ": mlm_probability must be in [0, 1], found ", options_.mlm_probability());
  EMBER_CHECK(in_unit(options_.mask_replace_prob()), who,
              ": mask_replace_prob must be in [0, 1], found ", options_.mask_replace_prob());
  EMBER_CHECK(in_unit(options_.random_replace_prob()), who,
              ": random_replace_prob must be in [0, 1], found ", options_.random_replace_prob());
  EMBER_CHECK(options_.mask_replace_prob() + options_.random_replace_prob() <= 1.0, who,
              ": mask_replace_prob + random_replace_prob must not exceed 1, found ",
              options_.mask_replace_prob(), " + ", options_.random_replace_prob());
  EMBER_CHECK(options_.pad_to_multiple_of() >= 0, who, ": pad_to_multiple_of must be >= 0, found ",
              options_.pad_to_multiple_of());
  flags_.assign(tokenizer.vocab_size(), 0);
  for (std::size_t id = 0; id < flags_.size(); ++id) {
    const std::string& token = tokenizer.id_to_token(static_cast<int64_t>(id));
    if (tokenizer.is_special_id(static_cast<int64_t>(id))) flags_[id] |= kSpecial;
    if (token.size() > 2 && token[0] == '#' && token[1] == '#') flags_[id] |= kContinuation;
  }
}

template <class RowAt>
inline Batch DataCollatorForLanguageModeling::collate_(int64_t rows, RowAt&& row_at) {
  const char* who = "DataCollatorForLanguageModeling";
  EMBER_CHECK(rows >= 1, who, ": expected at least one example, found none");
  int64_t seq = 0;
  for (int64_t r = 0; r < rows; ++r) seq = std::max(seq, row_at(r).second);
  const int64_t multiple = options_.pad_to_multiple_of();
  if (multiple > 0) seq = (seq + multiple - 1) / multiple * multiple;
  Batch out;
  out.input_ids = Tensor<int64_t>::empty({rows, seq});
  out.attention_mask = zeros<int64_t>({rows, seq});
  out.token_type_ids = zeros<int64_t>({rows, seq});
  out.labels = Tensor<int64_t>::empty({rows, seq});
  int64_t* ids = out.input_ids.data();
  int64_t* mask = out.attention_mask.data();
  for (int64_t r = 0; r < rows; ++r) {
    const auto [src, len] = row_at(r);
    for (int64_t t = 0; t < len; ++t) {
      ids[r * seq + t] = static_cast<int64_t>(src[t]);
      mask[r * seq + t] = 1;
    }
    std::fill(ids + r * seq + len, ids + (r + 1) * seq, pad_id_);
  }
  mask_tokens(ids, mask, out.labels.data(), rows, seq);
  return out;
}

inline Batch DataCollatorForLanguageModeling::operator()(
    const std::vector<std::vector<int64_t>>& examples) {
  Batch out = collate_(static_cast<int64_t>(examples.size()), [&](int64_t r) {
    const std::vector<int64_t>& e = examples[static_cast<std::size_t>(r)];
    return std::make_pair(e.data(), static_cast<int64_t>(e.size()));
  });
  for (std::size_t r = 0; r < examples.size(); ++r) out.indices.push_back(int64_t(r));
  return out;
}

inline Batch DataCollatorForLanguageModeling::operator()(const LanguageModelingDataset& dataset,
                                                         const std::vector<int64_t>& indices) {
  for (int64_t i : indices)
    EMBER_CHECK(i >= 0 && i < dataset.size(), "DataCollatorForLanguageModeling: index ", i,
                " is out of range for ", dataset.size(), " examples");
  Batch out = collate_(static_cast<int64_t>(indices.size()), [&](int64_t r) {
    const int64_t i = indices[static_cast<std::size_t>(r)];
    return std::make_pair(dataset.data(i), dataset.length(i));
  });
  out.indices = indices;
  return out;
}

inline void DataCollatorForLanguageModeling::mask_tokens(int64_t* ids, const int64_t* attention,
                                                         int64_t* labels, int64_t rows,
                                                         int64_t seq) {
  constexpr double kTwo32 = 4294967296.0;  // a 32-bit word w is the uniform w / 2^32
  const double p_select = options_.mlm_probability() * kTwo32;
  const double p_mask = options_.mask_replace_prob() * kTwo32;
  const double p_random = (options_.mask_replace_prob() + options_.random_replace_prob()) * kTwo32;
  const bool whole_words = options_.whole_word_mask();
  const uint64_t vocab = static_cast<uint64_t>(vocab_size());
  for (int64_t pos = 0; pos < rows * seq; ++pos)
    EMBER_CHECK(ids[pos] >= 0 && ids[pos] < vocab_size(), "DataCollatorForLanguageModeling: row ",
                pos / seq, " holds id ", ids[pos], " at position ", pos % seq,
                "; expected ids in [0, ", vocab_size(), ") (the tokenizer's vocabulary)");
  const uint64_t first = gen_.reserve(static_cast<uint64_t>(rows * seq));
  for (int64_t r = 0; r < rows; ++r) {
    bool prev_eligible = false, word_selected = false;
    for (int64_t t = 0; t < seq; ++t) {
      const int64_t pos = r * seq + t, id = ids[pos];
      labels[pos] = -100;
      const bool eligible = attention[pos] != 0 && !is_special(id);
      const auto w = gen_.block(first + static_cast<uint64_t>(pos));
      bool selected = false;
      if (eligible) {
        const bool word_start = !whole_words || !prev_eligible || !is_continuation(id);
        if (word_start) word_selected = double(w[0]) < p_select;
        selected = word_selected;
      }
      prev_eligible = eligible;
      if (!selected) continue;
      labels[pos] = id;
      if (double(w[1]) < p_mask) {
        ids[pos] = mask_id_;
      } else if (double(w[1]) < p_random) {
        __extension__ using u128 = unsigned __int128;  // multiply-shift, as Generator::randint
        const uint64_t x = (uint64_t(w[2]) << 32) | w[3];
        ids[pos] = static_cast<int64_t>((static_cast<u128>(x) * vocab) >> 64);
      }
    }
  }
}

}  // namespace ember::data
