// Tests of ember::data::DataLoader: batch shapes, dynamic padding, truncation, pairs, drop_last,
// seeded order (same seed → same order, each epoch its own order, every example once), length
// bucketing (less padding on the real SST-2 dev set), and option errors.
//
// Most tests use a 10-token in-memory vocabulary so the expected ids can be written out:
//   [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 a=5 b=6 c=7 d=8 e=9
// The SST-2 tests use the BERT uncased vocabulary (tests/data/bert_tiny/vocab.txt).
#include <ember/data/data_loader.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "support/test_util.hpp"
using ember::test::kDataDir;
using ember::test::kSst2Dev;

#ifndef EMBER_TEST_DATA_DIR
#define EMBER_TEST_DATA_DIR "/work/main/tests/data"
#endif

namespace {

using ember::Tensor;
using ember::data::Batch;
using ember::data::DataLoader;
using ember::data::DataLoaderOptions;
using ember::data::TextClassificationDataset;
using ember::data::WordPieceTokenizer;


const WordPieceTokenizer& tiny_tokenizer() {
  static const WordPieceTokenizer tok(std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                               "[MASK]", "a", "b", "c", "d", "e"});
  return tok;
}
const WordPieceTokenizer& bert_tokenizer() {
  static const WordPieceTokenizer tok(kDataDir + "/bert_tiny/vocab.txt");
  return tok;
}
const TextClassificationDataset& sst2_dev() {
  static const TextClassificationDataset ds(kSst2Dev);
  return ds;
}

/// n single-text examples: example i is "a" repeated (i % 7) + 1 times, label i % 3.
TextClassificationDataset numbered(int n) {
  std::vector<std::string> texts, labels;
  for (int i = 0; i < n; ++i) {
    std::string t = "a";
    for (int k = 0; k < i % 7; ++k) t += " a";
    texts.push_back(t);
    labels.push_back(std::to_string(i % 3));
  }
  return TextClassificationDataset::from_rows(texts, labels);
}

std::vector<int64_t> row(const Tensor<int64_t>& t, int64_t r) {
  std::vector<int64_t> all = t.to_vector();
  const int64_t seq = t.size(1);
  return std::vector<int64_t>(all.begin() + r * seq, all.begin() + (r + 1) * seq);
}

/// Dataset indices in iteration order (all batches of the current epoch).
std::vector<int64_t> visit_order(const DataLoader& loader) {
  std::vector<int64_t> out;
  for (auto& batch : loader) out.insert(out.end(), batch.indices.begin(), batch.indices.end());
  return out;
}

/// Padding tokens (mask 0) over all batches of the current epoch.
int64_t padding_tokens(const DataLoader& loader) {
  int64_t pad = 0;
  for (auto& batch : loader)
    for (int64_t m : batch.attention_mask.to_vector()) pad += m == 0;
  return pad;
}

}  // namespace

TEST_CASE("DataLoader: batch shapes, dynamic padding, labels, indices") {
  auto ds = TextClassificationDataset::from_rows({"a", "a b c", "b a", "e"}, {"1", "0", "1", "2"});
  DataLoader loader(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(3));
  CHECK(loader.num_batches() == 2);
  CHECK(loader.num_examples() == 4);
  CHECK(loader.pad_token_id() == 0);

  Batch b0 = loader.batch(0);
  CHECK(b0.size() == 3);
  CHECK(b0.input_ids.shape() == ember::Shape{3, 5});  // longest row: [CLS] a b c [SEP]
  CHECK(b0.token_type_ids.shape() == ember::Shape{3, 5});
  CHECK(b0.attention_mask.shape() == ember::Shape{3, 5});
  CHECK(b0.labels.shape() == ember::Shape{3});
  CHECK(b0.input_ids.is_contiguous());
  CHECK(b0.indices == std::vector<int64_t>{0, 1, 2});
  CHECK(row(b0.input_ids, 0) == std::vector<int64_t>{2, 5, 3, 0, 0});
  CHECK(row(b0.input_ids, 1) == std::vector<int64_t>{2, 5, 6, 7, 3});
  CHECK(row(b0.input_ids, 2) == std::vector<int64_t>{2, 6, 5, 3, 0});
  CHECK(row(b0.attention_mask, 0) == std::vector<int64_t>{1, 1, 1, 0, 0});
  CHECK(row(b0.attention_mask, 1) == std::vector<int64_t>{1, 1, 1, 1, 1});
  CHECK(row(b0.attention_mask, 2) == std::vector<int64_t>{1, 1, 1, 1, 0});
  CHECK(b0.token_type_ids.to_vector() == std::vector<int64_t>(15, 0));
  CHECK(b0.labels.to_vector() == std::vector<int64_t>{1, 0, 1});

  Batch b1 = loader.batch(1);  // the remainder, padded only to its own longest row
  CHECK(b1.input_ids.shape() == ember::Shape{1, 3});
  CHECK(row(b1.input_ids, 0) == std::vector<int64_t>{2, 9, 3});
  CHECK(b1.labels.to_vector() == std::vector<int64_t>{2});

  CHECK_THROWS_AS(loader.batch(2), ember::Error);
  CHECK_THROWS_AS(loader.batch(-1), ember::Error);

  int64_t batches = 0, examples = 0;
  for (auto& batch : loader) {
    ++batches;
    examples += batch.size();
    CHECK(batch.input_ids.size(0) == batch.size());
  }
  CHECK(batches == 2);
  CHECK(examples == 4);
}

TEST_CASE("DataLoader: text pairs get token type 1 on the second segment, 0 on padding") {
  auto ds = TextClassificationDataset::from_rows({"a b", "c"}, {"0", "1"}, {"d", "e e e"});
  DataLoader loader(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(2));
  Batch b = loader.batch(0);
  CHECK(b.input_ids.shape() == ember::Shape{2, 7});
  CHECK(row(b.input_ids, 0) == std::vector<int64_t>{2, 5, 6, 3, 8, 3, 0});
  CHECK(row(b.token_type_ids, 0) == std::vector<int64_t>{0, 0, 0, 0, 1, 1, 0});
  CHECK(row(b.attention_mask, 0) == std::vector<int64_t>{1, 1, 1, 1, 1, 1, 0});
  CHECK(row(b.input_ids, 1) == std::vector<int64_t>{2, 7, 3, 9, 9, 9, 3});
  CHECK(row(b.token_type_ids, 1) == std::vector<int64_t>{0, 0, 0, 1, 1, 1, 1});
}

TEST_CASE("DataLoader: truncation to max_length keeps the special tokens") {
  auto ds = TextClassificationDataset::from_rows({"a b c d e", "a"}, {"0", "1"});
  DataLoader loader(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(2).max_length(4));
  Batch b = loader.batch(0);
  CHECK(b.input_ids.shape() == ember::Shape{2, 4});
  CHECK(row(b.input_ids, 0) == std::vector<int64_t>{2, 5, 6, 3});
  CHECK(row(b.input_ids, 1) == std::vector<int64_t>{2, 5, 3, 0});
  CHECK(loader.length(0) == 4);

  // Pairs: longest_first (the tokenizer's rule): budget 7 - 3 = 4 of lengths 5 and 1 → 3 and 1.
  auto pairs = TextClassificationDataset::from_rows({"a b c d e"}, {"0"}, {"b"});
  DataLoader pl(pairs, tiny_tokenizer(), DataLoaderOptions().max_length(7));
  CHECK(row(pl.batch(0).input_ids, 0) == std::vector<int64_t>{2, 5, 6, 7, 3, 6, 3});

  // 0: no truncation.
  DataLoader full(ds, tiny_tokenizer(), DataLoaderOptions().max_length(0));
  CHECK(full.length(0) == 7);

  // Every SST-2 row fits after truncation, and matches the tokenizer's own encoding.
  DataLoader sst(sst2_dev(), bert_tokenizer(), DataLoaderOptions().batch_size(64).max_length(16));
  for (auto& batch : sst) {
    CHECK(batch.input_ids.size(1) <= 16);
    for (int64_t r = 0; r < batch.size(); ++r) {
      const auto enc = bert_tokenizer().encode(sst2_dev().example(batch.indices[r]).text, 16);
      std::vector<int64_t> ids = row(batch.input_ids, r);
      ids.resize(enc.input_ids.size());
      CHECK(ids == enc.input_ids);
      CHECK(batch.labels.to_vector()[r] == sst2_dev().example(batch.indices[r]).label_id);
    }
  }
}

TEST_CASE("DataLoader: drop_last") {
  auto ds = numbered(10);
  DataLoader keep(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(4));
  CHECK(keep.num_batches() == 3);
  CHECK(keep.batch(2).size() == 2);
  DataLoader drop(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(4).drop_last(true));
  CHECK(drop.num_batches() == 2);
  CHECK(visit_order(drop).size() == 8);
  DataLoader exact(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(5).drop_last(true));
  CHECK(exact.num_batches() == 2);
  DataLoader none(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(11).drop_last(true));
  CHECK(none.num_batches() == 0);
  CHECK(none.begin() == none.end());
  // Shuffled with drop_last: 8 distinct examples per epoch, a different 2 left out.
  DataLoader sd(ds, tiny_tokenizer(),
                DataLoaderOptions().batch_size(4).drop_last(true).shuffle(true).seed(3));
  auto o = visit_order(sd);
  CHECK(std::set<int64_t>(o.begin(), o.end()).size() == 8);
}

TEST_CASE(
    "DataLoader: seeded shuffle is reproducible, differs per epoch, visits each example once") {
  auto ds = numbered(100);
  auto opts = DataLoaderOptions().batch_size(8).shuffle(true).seed(42);
  DataLoader a(ds, tiny_tokenizer(), opts), b(ds, tiny_tokenizer(), opts);
  std::vector<int64_t> identity(100);
  std::iota(identity.begin(), identity.end(), int64_t(0));

  const auto a0 = visit_order(a);
  CHECK(a0 == visit_order(b));  // same seed, same epoch → same order
  CHECK(a0 != identity);
  CHECK(a.order() == a0);
  std::vector<int64_t> sorted = a0;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == identity);  // a permutation: every example exactly once

  a.set_epoch(1);
  CHECK(a.epoch() == 1);
  const auto a1 = visit_order(a);
  CHECK(a1 != a0);  // a new epoch, a new order
  sorted = a1;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == identity);

  // Epoch e's order depends only on (seed, e): jumping straight to epoch 1 (a resumed run) or
  // going back to epoch 0 reproduces them.
  b.set_epoch(1);
  CHECK(visit_order(b) == a1);
  a.set_epoch(0);
  CHECK(visit_order(a) == a0);

  DataLoader c(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(8).shuffle(true).seed(43));
  CHECK(visit_order(c) != a0);  // another seed, another order

  // Batches hold the rows of their indices.
  for (auto& batch : a) {
    const auto labels = batch.labels.to_vector();
    for (int64_t r = 0; r < batch.size(); ++r)
      CHECK(labels[r] == ds.example(batch.indices[r]).label_id);
  }

  DataLoader plain(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(8));
  plain.set_epoch(5);
  CHECK(visit_order(plain) == identity);  // no shuffle: file order in every epoch
  CHECK_THROWS_AS(plain.set_epoch(-1), ember::Error);
}

TEST_CASE("DataLoader: length bucketing reduces padding on SST-2 dev") {
  const auto base = DataLoaderOptions().batch_size(32).shuffle(true).seed(7);
  DataLoader plain(sst2_dev(), bert_tokenizer(), base);
  DataLoader bucketed(sst2_dev(), bert_tokenizer(), DataLoaderOptions(base).bucket_by_length(true));
  CHECK(bucketed.num_batches() == plain.num_batches());  // 28: 27 full, one of 8
  const int64_t pad_plain = padding_tokens(plain), pad_bucketed = padding_tokens(bucketed);
  CHECK(pad_bucketed * 4 < pad_plain);

  for (int64_t epoch : {0, 1}) {
    bucketed.set_epoch(epoch);
    auto o = visit_order(bucketed);
    std::sort(o.begin(), o.end());
    CHECK(o.size() == 872);
    CHECK(std::unique(o.begin(), o.end()) == o.end());  // still each example once
  }
  // Batch order is shuffled: the batches are not in increasing length.
  bucketed.set_epoch(0);
  std::vector<int64_t> seqs;
  for (auto& batch : bucketed) seqs.push_back(batch.input_ids.size(1));
  CHECK_FALSE(std::is_sorted(seqs.begin(), seqs.end()));

  // Without shuffle (evaluation), chunks are sorted by length and batches stay in order.
  DataLoader eval(sst2_dev(), bert_tokenizer(),
                  DataLoaderOptions().batch_size(32).bucket_by_length(true).bucket_size(10));
  const auto& order = eval.order();
  for (std::size_t lo = 0; lo < order.size(); lo += 320) {
    const std::size_t hi = std::min(order.size(), lo + 320);
    CHECK(std::is_sorted(order.begin() + lo, order.begin() + hi,
                         [&](int64_t x, int64_t y) { return eval.length(x) < eval.length(y); }));
  }
  CHECK(padding_tokens(eval) * 4 < pad_plain);
}

TEST_CASE("DataLoader: num_replicas/rank split each epoch as one process with the global batch") {
  auto ds = numbered(24);
  for (int64_t epoch : {0, 3}) {
    DataLoader whole(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(6).shuffle(true).seed(5));
    whole.set_epoch(epoch);
    std::vector<DataLoader> ranks;
    for (int64_t r = 0; r < 3; ++r) {
      ranks.emplace_back(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(2).shuffle(true)
                                                   .seed(5).num_replicas(3).rank(r));
      ranks.back().set_epoch(epoch);
    }
    REQUIRE(whole.num_batches() == 4);
    for (int64_t b = 0; b < 4; ++b) {
      std::vector<int64_t> expected = whole.batch(b).indices;
      for (int64_t r = 0; r < 3; ++r) {
        REQUIRE(ranks[std::size_t(r)].num_batches() == 4);
        const auto got = ranks[std::size_t(r)].batch(b).indices;
        // rank r's rows are positions r, r+3 of the single process's batch
        CHECK(got == std::vector<int64_t>{expected[std::size_t(r)], expected[std::size_t(r + 3)]});
      }
    }
  }
  // 10 examples over 4 ranks: padded to 12 (examples repeated from the start of the order), or
  // split 3/3/2/2 with nothing seen twice.
  auto ten = numbered(10);
  std::vector<int64_t> seen;
  for (int64_t r = 0; r < 4; ++r) {
    DataLoader even(ten, tiny_tokenizer(), DataLoaderOptions().batch_size(8).num_replicas(4).rank(r));
    CHECK(visit_order(even).size() == 3);
    DataLoader exact(ten, tiny_tokenizer(),
                     DataLoaderOptions().batch_size(8).num_replicas(4).rank(r).even_shards(false));
    auto o = visit_order(exact);
    CHECK(o.size() == (r < 2 ? 3u : 2u));
    seen.insert(seen.end(), o.begin(), o.end());
  }
  std::sort(seen.begin(), seen.end());
  std::vector<int64_t> all(10);
  std::iota(all.begin(), all.end(), int64_t(0));
  CHECK(seen == all);
  CHECK_THROWS_WITH_AS(DataLoader(ten, tiny_tokenizer(), DataLoaderOptions().num_replicas(2).rank(2)),
                       doctest::Contains("0 <= rank < num_replicas"), ember::Error);
}

TEST_CASE("DataLoader: invalid options") {
  auto ds = numbered(4);
  auto pairs = TextClassificationDataset::from_rows({"a"}, {"0"}, {"b"});
  CHECK_THROWS_WITH_AS(DataLoader(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(0)),
                       "DataLoader: batch_size must be >= 1, found 0", ember::Error);
  CHECK_THROWS_WITH_AS(DataLoader(ds, tiny_tokenizer(), DataLoaderOptions().max_length(1)),
                       "DataLoader: max_length must be 0 (no truncation) or >= 2 to hold the "
                       "special tokens, found 1",
                       ember::Error);
  CHECK_THROWS_AS(DataLoader(pairs, tiny_tokenizer(), DataLoaderOptions().max_length(2)),
                  ember::Error);
  CHECK_NOTHROW(DataLoader(pairs, tiny_tokenizer(), DataLoaderOptions().max_length(3)));
  CHECK_THROWS_AS(DataLoader(ds, tiny_tokenizer(), DataLoaderOptions().bucket_size(0)),
                  ember::Error);
}

TEST_CASE("DataLoader: pin_memory without the CUDA backend is a clear error") {
  // This test binary is CPU-only: page-locked memory (a CUDA driver service) is not available.
  REQUIRE_FALSE(ember::backend::cuda_backend_available());
  auto ds = numbered(4);
  auto message_of = [](auto&& f) {
    try {
      f();
    } catch (const ember::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string m = message_of(
      [&] { (void)DataLoader(ds, tiny_tokenizer(), DataLoaderOptions().pin_memory(true)); });
  CHECK_MESSAGE(m.find("DataLoader: pin_memory(true) needs page-locked memory") == 0, m);
  CHECK_MESSAGE(m.find("built without ember's CUDA backend") != std::string::npos, m);
  const std::string t = message_of([] { (void)ember::zeros<float>({2, 3}).pin_memory(); });
  CHECK_MESSAGE(t.find("pin_memory: this program was built without ember's CUDA backend") == 0, t);
  // Without the option, batches are ordinary (pageable) CPU tensors.
  DataLoader loader(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(2));
  CHECK_FALSE(loader.batch(0).input_ids.is_pinned());
}

TEST_CASE("Batch::to moves every tensor; a CUDA device without the backend is a clear error") {
  auto ds = numbered(5);
  DataLoader loader(ds, tiny_tokenizer(), DataLoaderOptions().batch_size(3));
  const Batch b = loader.batch(0);
  const Batch c = b.to(ember::Device::cpu());
  CHECK(c.input_ids.shape() == b.input_ids.shape());
  CHECK(c.input_ids.data() == b.input_ids.data());  // already there: no copy, as Tensor::to
  CHECK(c.labels.data() == b.labels.data());
  CHECK(c.indices == b.indices);
  REQUIRE_FALSE(ember::backend::cuda_backend_available());
  CHECK_THROWS_WITH_AS(b.to(ember::Device::cuda(0)), doctest::Contains("CUDA backend"),
                       ember::Error);
}
