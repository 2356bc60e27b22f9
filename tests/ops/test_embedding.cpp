// Tests of ember/ops/embedding.hpp: lookup values, scatter-add backward (repeats accumulate,
// padding_idx gets nothing), determinism of the parallel backward, errors.
// Gradchecks: the op-case table (tests/support/op_cases.hpp).
#include <ember/ops/embedding.hpp>

#include <ember/autograd/gradcheck.hpp>
#include <ember/core/threads.hpp>
#include <ember/io/safetensors.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/test_util.hpp"
using ember::test::contains;

using namespace ember;

namespace {
template <class F>
std::string embedding_error(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
// weight[r, c] = 10 r + c: every looked-up value names its row and column.
template <class T>
Tensor<T> coded_weight(int64_t rows, int64_t cols) {
  Tensor<T> w = Tensor<T>::empty({rows, cols});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) w.data()[r * cols + c] = T(10 * r + c);
  return w;
}
}  // namespace

TEST_CASE_TEMPLATE("embedding: forward gathers rows for ids of any shape", T, float, double) {
  Tensor<T> w = coded_weight<T>(6, 3);
  Tensor<int64_t> ids = from_vector<int64_t>({5, 0, 2, 2}, {2, 2});
  Tensor<T> out = embedding(ids, w);
  CHECK(out.shape() == Shape{2, 2, 3});
  CHECK(out.to_vector() == std::vector<T>{50, 51, 52, 0, 1, 2, 20, 21, 22, 20, 21, 22});

  // 0-d ids → [dim]; 1-D ids → [n, dim].
  Tensor<int64_t> one = from_vector<int64_t>({4}, {1}).view(Shape{});
  CHECK(embedding(one, w).shape() == Shape{3});
  CHECK(embedding(one, w).to_vector() == std::vector<T>{40, 41, 42});

  // Non-contiguous ids (transposed) and weight (a column slice): logical order is kept.
  Tensor<T> wt = coded_weight<T>(3, 6).t();  // [6, 3], weight[r, c] = 10 c + r
  Tensor<int64_t> idt = from_vector<int64_t>({1, 3, 5, 0}, {2, 2}).t();  // [[1, 5], [3, 0]]
  CHECK(embedding(idt, wt).to_vector() ==
        std::vector<T>{1, 11, 21, 5, 15, 25, 3, 13, 23, 0, 10, 20});
  Tensor<T> ws = coded_weight<T>(6, 5).slice(1, 1, 4);  // columns 1..3
  CHECK(embedding(from_vector<int64_t>({2}, {1}), ws).to_vector() == std::vector<T>{21, 22, 23});

  // The padding row is looked up like any other (only its gradient differs).
  CHECK(embedding(from_vector<int64_t>({0}, {1}), w, 0).to_vector() == std::vector<T>{0, 1, 2});

  // Empty ids.
  CHECK(embedding(Tensor<int64_t>::empty({0}), w).shape() == Shape{0, 3});
}

TEST_CASE("embedding: repeated ids accumulate, the padding row gets no gradient") {
  // The same case as tests/data/ops "embedding" (PyTorch F.embedding, padding_idx=0): ids repeat
  // (3 three times, 1 twice) and hit the padding row 0 twice.
  Tensor<double> w = coded_weight<double>(10, 4);
  w.requires_grad_();
  Tensor<int64_t> ids = from_vector<int64_t>({1, 0, 3, 3, 9, 7, 3, 0, 2, 1}, {2, 5});
  Tensor<double> out = embedding(ids, w, 0);
  // Output gradient: position p of the flattened ids gets the row (p+1)·[1, 2, 3, 4].
  Tensor<double> g = Tensor<double>::empty({2, 5, 4});
  for (int64_t p = 0; p < 10; ++p)
    for (int64_t c = 0; c < 4; ++c) g.data()[p * 4 + c] = double((p + 1) * (c + 1));
  out.backward(g);
  Tensor<double> gw = w.grad();
  REQUIRE(gw.shape() == Shape{10, 4});
  // Expected: row r = Σ_{p: ids[p] = r} (p+1) · [1, 2, 3, 4]; row 0 (padding) = 0.
  std::vector<double> weight_of_row(10, 0.0);
  const std::vector<int64_t> flat = {1, 0, 3, 3, 9, 7, 3, 0, 2, 1};
  for (int64_t p = 0; p < 10; ++p)
    if (flat[p] != 0) weight_of_row[flat[p]] += double(p + 1);
  for (int64_t r = 0; r < 10; ++r)
    for (int64_t c = 0; c < 4; ++c)
      CHECK(gw.at({r, c}) == weight_of_row[r] * double(c + 1));
  CHECK(gw.at({3, 0}) == 3 + 4 + 7);  // id 3 at positions 2, 3, 6
  CHECK(gw.at({1, 1}) == 2 * (1 + 10));  // id 1 at positions 0, 9
  CHECK(gw.at({0, 3}) == 0.0);        // padding

  // Without padding_idx row 0 does receive its gradient (positions 1 and 7).
  Tensor<double> w2 = coded_weight<double>(10, 4);
  w2.requires_grad_();
  embedding(ids, w2).backward(g);
  CHECK(w2.grad().at({0, 0}) == 2 + 8);
  // A negative padding_idx means "none", not "count from the end".
  Tensor<double> w3 = coded_weight<double>(10, 4);
  w3.requires_grad_();
  embedding(ids, w3, -1).backward(g);
  CHECK(w3.grad().at({9, 0}) == 5);
}

TEST_CASE("embedding: the parallel backward equals the serial sum exactly, for any thread count") {
  // 4096 ids over 50 rows (many collisions), dim 96: large enough to run on several threads.
  const int64_t n = 4096, num = 50, dim = 96;
  std::vector<int64_t> idv(n);
  Generator gen(3);
  for (auto& v : idv) v = int64_t(gen.randint(num));
  Tensor<int64_t> ids = from_vector<int64_t>(idv, {n});
  Tensor<float> g = randn<float>({n, dim}, gen);
  // Reference: the serial loop in the order of the ids, padding row 7 skipped.
  std::vector<float> ref(num * dim, 0.0f);
  for (int64_t i = 0; i < n; ++i)
    if (idv[i] != 7)
      for (int64_t c = 0; c < dim; ++c) ref[idv[i] * dim + c] += g.data()[i * dim + c];

  const int saved_threads = get_num_threads();
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    Tensor<float> w = zeros<float>({num, dim});
    w.requires_grad_();
    embedding(ids, w, 7).backward(g);
    CHECK(w.grad().to_vector() == ref);
  }
  set_num_threads(saved_threads);
}

TEST_CASE("embedding: errors name the op, the id, its position and num_embeddings") {
  Tensor<double> w = zeros<double>({10, 4});
  Tensor<int64_t> ids = from_vector<int64_t>({1, 2, 3, 4, 5, 6, 12, 0}, {2, 4});
  std::string e = embedding_error([&] { embedding(ids, w); });
  CHECK(contains(e, "embedding"));
  CHECK(contains(e, "index 12"));
  CHECK(contains(e, "[1, 2]"));  // position of the bad id in ids [2, 4]
  CHECK(contains(e, "num_embeddings 10"));

  e = embedding_error([&] { embedding(from_vector<int64_t>({-1}, {1}), w); });
  CHECK(contains(e, "index -1"));

  e = embedding_error([&] { embedding(from_vector<int64_t>({1}, {1}), w, 10); });
  CHECK(contains(e, "padding_idx 10"));
  CHECK(contains(e, "10"));

  e = embedding_error([&] { embedding(from_vector<int64_t>({1}, {1}), zeros<double>({10})); });
  CHECK(contains(e, "embedding"));
  CHECK(contains(e, "[10]"));
}

TEST_CASE("embedding: the saved ids are protected against in-place modification") {
  Tensor<double> w = zeros<double>({5, 2});
  w.requires_grad_();
  Tensor<int64_t> ids = from_vector<int64_t>({1, 2}, {2});
  Tensor<double> out = embedding(ids, w);
  ids.set({0}, 3);
  CHECK_THROWS_AS(out.backward(ones<double>({2, 2})), Error);
}

TEST_CASE("embedding: fixture tests/data/ops (PyTorch F.embedding, padding_idx 0, float64)") {
  auto file = io::SafetensorsFile::open(EMBER_TEST_DATA_DIR "/ops/ops.safetensors");
  Tensor<double> w = file.get<double>("embedding.weight");
  w.requires_grad_();
  Tensor<int64_t> ids = file.get<int64_t>("embedding.indices");
  Tensor<double> out = embedding(ids, w, 0);
  Tensor<double> want = file.get<double>("embedding.output");
  CHECK(out.shape() == want.shape());
  CHECK(out.to_vector() == want.to_vector());  // a gather is exact
  out.backward(file.get<double>("embedding.grad_output"));
  std::vector<double> got = w.grad().to_vector(), ref = file.get<double>("embedding.grad_weight").to_vector();
  REQUIRE(got.size() == ref.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(ref[i]).epsilon(1e-14));
  for (int64_t c = 0; c < 4; ++c) CHECK(w.grad().at({0, c}) == 0.0);
}
