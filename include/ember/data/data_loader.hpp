// ember/data/data_loader.hpp — `DataLoader`: a TextClassificationDataset, tokenized once, served
// as padded batches of `Tensor<int64_t>` in a seeded, reproducible order.
//
//   DataLoader train(dataset, tokenizer,
//   DataLoaderOptions().batch_size(32).shuffle(true).seed(42)); for (int64_t epoch = 0; epoch <
//   epochs; ++epoch) {
//     train.set_epoch(epoch);                  // this epoch's order
//     for (auto& batch : train) { ... batch.input_ids [batch, seq] ... batch.labels [batch] ... }
//   }
//
// Tokenization. The constructor encodes every example once with
// `tokenizer.encode(text[, text_pair], max_length)` ([CLS] a [SEP] (b [SEP]), truncated to
// max_length tokens with the tokenizer's rules, pairs longest_first) and keeps the token ids;
// epochs only reorder and pad them. Encoding runs over OpenMP threads (the tokenizer is const and
// thread-safe); afterwards the loader needs neither the dataset nor the tokenizer.
//
// Dynamic padding. Each batch is padded on the right to its own longest row (not to max_length):
// input_ids with the tokenizer's [PAD] id, token_type_ids with 0, attention_mask 1 on tokens and
// 0 on padding — what Hugging Face's DataCollatorWithPadding produces.
//
// Order (the same seed gives the same batches on every machine):
//   1. without shuffle the examples are in file order; with shuffle, epoch e permutes them with
//      Fisher–Yates on `Generator(seed)` set to offset e·2^32: for i = n-1 down to 1, swap i with
//      j = randint(i + 1). Each epoch thus draws from its own disjoint stretch of the Philox
//      stream, so epoch e's order depends only on (seed, e), not on the epochs before it: a run
//      resumed at epoch e sees exactly the batches the original run saw.
//   1b. with num_replicas N > 1 (distributed training), rank r keeps positions r, r+N, r+2N, …
//      of that order (after padding it to a multiple of N by repeating its start, unless
//      even_shards is false). Every rank computes the same order (same seed and epoch), so the
//      ranks' shares are disjoint, and rank r's batch b holds the examples a single process with
//      batch size N·batch_size would put at positions N·i + r of its batch b (without
//      bucket_by_length): N ranks see, step by step, what one process sees.
//   2. bucket_by_length: the order is cut into chunks of bucket_size batches (default 50); each
//      chunk is stably sorted by token count, so a batch holds examples of similar length and
//      needs little padding. The order is then cut into batches, and with shuffle the batches
//      are shuffled (Fisher–Yates on the same generator, continuing after step 1), so training
//      does not see short batches first. Without shuffle (evaluation) chunks stay in file order.
//   3. batches are consecutive runs of batch_size examples; the last one holds the remainder,
//      or is dropped with drop_last.
//
// Pinned batches. With `pin_memory(true)` the batch tensors are allocated in page-locked host
// memory (a cache of cudaHostAlloc blocks, backend/cuda/pinned.cuh), so copying them to the GPU
// is a DMA transfer without the driver's staging copy. This needs the CUDA backend in the program.
//
// Errors: ember::Error for batch_size < 1, max_length < 0 or too small for the special tokens
// (2, pairs 3; 0 means no truncation), bucket_size < 1, rank outside [0, num_replicas), a negative epoch, a batch index out of
// range, pin_memory(true) in a program without the CUDA backend.
#pragma once

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>
#include <ember/core/generator.hpp>
#include <ember/core/parallel.hpp>
#include <ember/data/text_dataset.hpp>
#include <ember/data/wordpiece_tokenizer.hpp>
#include <ember/tensor/tensor.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <iterator>
#include <mutex>
#include <numeric>
#include <utility>
#include <vector>

namespace ember::data {

// ---------------------------------------------------------------------------------------------
// Synopsis
// ---------------------------------------------------------------------------------------------

/// How a DataLoader batches. Chainable: `DataLoaderOptions().batch_size(16).shuffle(true)`.
struct DataLoaderOptions {
  EMBER_ARG(int64_t, batch_size) = 32;
  EMBER_ARG(bool, shuffle) = false;
  /// Drop the last batch when it has fewer than batch_size examples.
  EMBER_ARG(bool, drop_last) = false;
  /// Truncate each example to this many tokens, special tokens included (0: no truncation).
  EMBER_ARG(int64_t, max_length) = 128;
  /// Group examples of similar length into batches (less padding); see the header comment.
  EMBER_ARG(bool, bucket_by_length) = false;
  /// Batches per sorting chunk when bucketing.
  EMBER_ARG(int64_t, bucket_size) = 50;
  EMBER_ARG(uint64_t, seed) = 0;
  /// Distributed data parallelism (PyTorch's `DistributedSampler`): this process is `rank` of
  /// `num_replicas` and sees only its share of each epoch (step 1b in the header comment).
  EMBER_ARG(int64_t, num_replicas) = 1;
  EMBER_ARG(int64_t, rank) = 0;
  /// With num_replicas > 1: repeat examples from the start of the epoch's order until every rank
  /// has the same number (DistributedSampler's padding; training, where every rank must take the
  /// same steps). false: ranks differ by at most one example and none is seen twice (evaluation,
  /// where the counts are summed over the ranks).
  EMBER_ARG(bool, even_shards) = true;
  /// Build the batch tensors in page-locked host memory (PyTorch's `pin_memory=True`), so that
  /// `.to(Device::cuda(0))` copies them by DMA without a staging copy. Needs the CUDA backend.
  EMBER_ARG(bool, pin_memory) = false;
};

/// One batch, padded to its longest row. All tensors are contiguous int64 on the CPU (in
/// page-locked memory with DataLoaderOptions::pin_memory).
struct Batch {
  Tensor<int64_t> input_ids;       // [batch, seq]
  Tensor<int64_t> token_type_ids;  // [batch, seq]
  Tensor<int64_t> attention_mask;  // [batch, seq]: 1 on tokens, 0 on padding
  Tensor<int64_t> labels;          // [batch]: class ids
  std::vector<int64_t> indices;    // [batch]: each row's index in the dataset
  /// Number of examples (rows).
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
  /// The batch with its tensors on `device` (the loader builds them on the CPU; `pin_memory`
  /// makes this copy faster). Throws `ember::Error` for a CUDA device without the CUDA backend.
  Batch to(Device device) const {
    return {input_ids.to(device), token_type_ids.to(device), attention_mask.to(device),
            labels.to(device), indices};
  }
};

class DataLoader {
 public:
  class iterator;

  /// Tokenizes every example of `dataset` once (see the header comment) with any of ember's
  /// tokenizers (WordPieceTokenizer, ByteLevelBPETokenizer, UnigramTokenizer, AutoTokenizer:
  /// `encode(text[, text_pair], max_length)` and `pad_token_id()`). Throws ember::Error for
  /// invalid options or a tokenizer without a padding token.
  template <class Tokenizer>
  DataLoader(const TextClassificationDataset& dataset, const Tokenizer& tokenizer,
             DataLoaderOptions options = {});

  /// Sets the epoch (>= 0) and computes its order; iterators from before are invalidated.
  /// Until called, the order is epoch 0's.
  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }

  /// Batches in this epoch: ceil(n / batch_size), or floor with drop_last.
  int64_t num_batches() const { return static_cast<int64_t>(batch_starts_.size()) - 1; }
  /// Examples in the dataset.
  int64_t num_examples() const { return static_cast<int64_t>(labels_.size()); }
  /// Batch i (0 <= i < num_batches()) of this epoch. Random access: a run resumed mid-epoch
  /// continues with batch(step % num_batches()).
  Batch batch(int64_t i) const;
  /// The dataset indices of this epoch's batches, concatenated (dropped examples left out).
  const std::vector<int64_t>& order() const { return order_; }
  /// Token count of example i after truncation, special tokens included.
  int64_t length(int64_t i) const { return offsets_[i + 1] - offsets_[i]; }
  int64_t pad_token_id() const { return pad_id_; }
  const DataLoaderOptions& options() const { return options_; }

  /// `for (auto& batch : loader)` visits this epoch's batches in order.
  iterator begin() const;
  iterator end() const;

 private:
  DataLoaderOptions options_;
  int64_t pad_id_ = 0;
  int64_t epoch_ = 0;
  // Tokenized examples, flat: example i is ids_[offsets_[i], offsets_[i+1]); its second segment
  // (token type 1) starts at offsets_[i] + type_start_[i] (= its length when there is none).
  std::vector<int32_t> ids_;
  std::vector<int64_t> offsets_;
  std::vector<int32_t> type_start_;
  std::vector<int64_t> labels_;
  // This epoch: batch b is order_[batch_starts_[b], batch_starts_[b+1]).
  std::vector<int64_t> order_;
  std::vector<int64_t> batch_starts_;
};

/// Input iterator over a DataLoader's batches; the batch is built when first dereferenced.
class DataLoader::iterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = Batch;
  using difference_type = std::ptrdiff_t;
  using pointer = Batch*;
  using reference = Batch&;

  iterator(const DataLoader* loader, int64_t index) : loader_(loader), index_(index) {}
  Batch& operator*() const {
    if (!loaded_) {
      current_ = loader_->batch(index_);
      loaded_ = true;
    }
    return current_;
  }
  Batch* operator->() const { return &**this; }
  iterator& operator++() {
    ++index_;
    loaded_ = false;
    return *this;
  }
  /// The position of this iterator: the batch index within the epoch.
  int64_t index() const { return index_; }
  bool operator==(const iterator& o) const { return index_ == o.index_ && loader_ == o.loader_; }
  bool operator!=(const iterator& o) const { return !(*this == o); }

 private:
  const DataLoader* loader_;
  int64_t index_;
  mutable Batch current_;
  mutable bool loaded_ = false;
};

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------

template <class Tokenizer>
DataLoader::DataLoader(const TextClassificationDataset& dataset, const Tokenizer& tokenizer,
                       DataLoaderOptions options)
    : options_(std::move(options)), pad_id_(tokenizer.pad_token_id()) {
  EMBER_CHECK(pad_id_ >= 0, "DataLoader: the tokenizer has no padding token (pad_token_id -1); "
              "batches are padded with it");
  const int64_t min_length = dataset.has_text_pair() ? 3 : 2;
  EMBER_CHECK(options_.batch_size() >= 1, "DataLoader: batch_size must be >= 1, found ",
              options_.batch_size());
  EMBER_CHECK(options_.max_length() == 0 || options_.max_length() >= min_length,
              "DataLoader: max_length must be 0 (no truncation) or >= ", min_length,
              " to hold the special tokens", dataset.has_text_pair() ? " of a pair" : "",
              ", found ", options_.max_length());
  EMBER_CHECK(options_.num_replicas() >= 1 && options_.rank() >= 0 &&
                  options_.rank() < options_.num_replicas(),
              "DataLoader: expected 0 <= rank < num_replicas, found rank ", options_.rank(),
              " of num_replicas ", options_.num_replicas());
  EMBER_CHECK(options_.bucket_size() >= 1, "DataLoader: bucket_size must be >= 1, found ",
              options_.bucket_size());
  EMBER_CHECK(!options_.pin_memory() || backend::cuda_backend_available(),
              "DataLoader: pin_memory(true) needs page-locked memory from the CUDA driver, but ",
              backend::detail::cuda_not_built_message());

  const int64_t n = dataset.size();
  const std::size_t max_length = static_cast<std::size_t>(options_.max_length());
  std::vector<Encoding> enc(static_cast<std::size_t>(n));
  std::exception_ptr error;
  std::mutex error_mutex;
  parallel_for(n, 64, [&](int64_t i) {
    try {
      const TextExample& ex = dataset.example(i);
      enc[i] = dataset.has_text_pair() ? tokenizer.encode(ex.text, ex.text_pair, max_length)
                                       : tokenizer.encode(ex.text, max_length);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);

  offsets_.resize(static_cast<std::size_t>(n) + 1, 0);
  for (int64_t i = 0; i < n; ++i)
    offsets_[i + 1] = offsets_[i] + static_cast<int64_t>(enc[i].size());
  ids_.resize(static_cast<std::size_t>(offsets_[n]));
  type_start_.resize(static_cast<std::size_t>(n));
  labels_.resize(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const Encoding& e = enc[i];
    std::copy(e.input_ids.begin(), e.input_ids.end(), ids_.begin() + offsets_[i]);
    type_start_[i] = static_cast<int32_t>(
        std::find(e.token_type_ids.begin(), e.token_type_ids.end(), 1) - e.token_type_ids.begin());
    labels_[i] = dataset.example(i).label_id;
  }
  set_epoch(0);
}

inline void DataLoader::set_epoch(int64_t epoch) {
  EMBER_CHECK(epoch >= 0, "DataLoader::set_epoch: epoch must be >= 0, found ", epoch);
  epoch_ = epoch;
  int64_t n = num_examples();
  const int64_t bs = options_.batch_size();
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));

  Generator gen(options_.seed());
  gen.set_state(options_.seed(), static_cast<uint64_t>(epoch) << 32);
  if (options_.shuffle()) {
    for (int64_t i = n - 1; i > 0; --i) {
      int64_t j = static_cast<int64_t>(gen.randint(static_cast<uint64_t>(i + 1)));
      std::swap(order[i], order[j]);
    }
  }
  if (const int64_t replicas = options_.num_replicas(); replicas > 1 && n > 0) {  // step 1b
    if (options_.even_shards()) {  // pad to a multiple of replicas with the order's start
      const int64_t total = (n + replicas - 1) / replicas * replicas;
      for (int64_t i = 0; n + i < total; ++i) order.push_back(order[static_cast<std::size_t>(i % n)]);
      n = total;
    }
    std::vector<int64_t> mine;
    for (int64_t i = options_.rank(); i < n; i += replicas)
      mine.push_back(order[static_cast<std::size_t>(i)]);
    order.swap(mine);
    n = static_cast<int64_t>(order.size());
  }
  if (options_.bucket_by_length()) {
    const int64_t chunk = bs * options_.bucket_size();
    for (int64_t lo = 0; lo < n; lo += chunk) {
      const int64_t hi = std::min(n, lo + chunk);
      std::stable_sort(order.begin() + lo, order.begin() + hi,
                       [&](int64_t a, int64_t b) { return length(a) < length(b); });
    }
  }
  // Batches as [start, end) runs of `order`.
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (int64_t lo = 0; lo < n; lo += bs) {
    const int64_t hi = std::min(n, lo + bs);
    if (hi - lo < bs && options_.drop_last()) break;
    runs.emplace_back(lo, hi);
  }
  if (options_.bucket_by_length() && options_.shuffle()) {
    for (int64_t i = static_cast<int64_t>(runs.size()) - 1; i > 0; --i) {
      int64_t j = static_cast<int64_t>(gen.randint(static_cast<uint64_t>(i + 1)));
      std::swap(runs[i], runs[j]);
    }
  }
  order_.clear();
  batch_starts_.assign(1, 0);
  for (const auto& [lo, hi] : runs) {
    order_.insert(order_.end(), order.begin() + lo, order.begin() + hi);
    batch_starts_.push_back(static_cast<int64_t>(order_.size()));
  }
}

inline Batch DataLoader::batch(int64_t b) const {
  EMBER_CHECK(b >= 0 && b < num_batches(), "DataLoader::batch: index ", b, " is out of range for ",
              num_batches(), " batches");
  const int64_t lo = batch_starts_[b], hi = batch_starts_[b + 1], rows = hi - lo;
  int64_t seq = 0;
  for (int64_t r = lo; r < hi; ++r) seq = std::max(seq, length(order_[r]));
  Batch out;
  out.indices.assign(order_.begin() + lo, order_.begin() + hi);
  auto empty = [&](const Shape& shape) {
    return options_.pin_memory() ? Tensor<int64_t>::empty_pinned(shape)
                                 : Tensor<int64_t>::empty(shape);
  };
  out.input_ids = empty({rows, seq});
  out.token_type_ids = empty({rows, seq});
  out.attention_mask = empty({rows, seq});
  out.labels = empty({rows});
  int64_t* ids = out.input_ids.data();
  int64_t* types = out.token_type_ids.data();
  int64_t* mask = out.attention_mask.data();
  int64_t* labels = out.labels.data();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t ex = out.indices[r], len = length(ex), type_start = type_start_[ex];
    const int32_t* src = ids_.data() + offsets_[ex];
    int64_t* row_ids = ids + r * seq;
    int64_t* row_types = types + r * seq;
    int64_t* row_mask = mask + r * seq;
    for (int64_t t = 0; t < len; ++t) {
      row_ids[t] = src[t];
      row_types[t] = t >= type_start ? 1 : 0;
      row_mask[t] = 1;
    }
    for (int64_t t = len; t < seq; ++t) {
      row_ids[t] = pad_id_;
      row_types[t] = 0;
      row_mask[t] = 0;
    }
    labels[r] = labels_[ex];
  }
  return out;
}

inline DataLoader::iterator DataLoader::begin() const { return iterator(this, 0); }
inline DataLoader::iterator DataLoader::end() const { return iterator(this, num_batches()); }

}  // namespace ember::data
