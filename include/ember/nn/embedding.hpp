// ember/nn/embedding.hpp — `nn::Embedding<T>`: a lookup table of `num_embeddings` vectors of
// size `embedding_dim` (PyTorch's nn.Embedding).
//
// Parameter: `weight` [num_embeddings, embedding_dim]. Initialized as BERT: N(0, 0.02²)
// (`initializer_range`), then the `padding_idx` row set to 0 (HF `_init_weights`). The gather
// and its backward (a scatter-add into the rows used; nothing flows into the `padding_idx` row,
// as PyTorch) are `ember::embedding` (ops/embedding.hpp).
#pragma once

#include <ember/nn/init.hpp>
#include <ember/nn/module.hpp>
#include <ember/ops/embedding.hpp>

#include <optional>
#include <string>

namespace ember::nn {

/// Options of `Embedding`: `EmbeddingOptions(num, dim).padding_idx(0)`.
struct EmbeddingOptions {
  EmbeddingOptions(int64_t num_embeddings, int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  EMBER_ARG(int64_t, num_embeddings);
  EMBER_ARG(int64_t, embedding_dim);
  /// Row whose vector is initialized to 0 and gets no gradient (HF's `pad_token_id`); a
  /// negative value counts from the end, as PyTorch.
  EMBER_ARG(std::optional<int64_t>, padding_idx) = std::nullopt;
  /// Standard deviation of the normal initialization (BERT's `initializer_range`).
  EMBER_ARG(double, initializer_range) = 0.02;
  /// Generator for the initialization (null: `default_generator()`).
  EMBER_ARG(Generator*, generator) = nullptr;
};

/// `ids` (int64, any shape [...]) → vectors [..., embedding_dim].
template <class T>
class Embedding : public Module<T> {
 public:
  /// Throws `ember::Error` for non-positive sizes or a `padding_idx` outside the table.
  explicit Embedding(const EmbeddingOptions& options) : Module<T>("Embedding"), options_(options) {
    EMBER_CHECK(options.num_embeddings() > 0 && options.embedding_dim() > 0,
                "Embedding: num_embeddings and embedding_dim must be positive, found ",
                options.num_embeddings(), " and ", options.embedding_dim());
    if (options.padding_idx()) {
      int64_t p = *options.padding_idx(), n = options.num_embeddings();
      EMBER_CHECK(p >= -n && p < n, "Embedding: padding_idx ", p,
                  " is out of range for num_embeddings=", n);
      options_.padding_idx(p < 0 ? p + n : p);
    }
    weight = this->register_parameter(
        "weight", empty<T>({options.num_embeddings(), options.embedding_dim()}));
    reset_parameters();
  }
  Embedding(int64_t num_embeddings, int64_t embedding_dim)
      : Embedding(EmbeddingOptions(num_embeddings, embedding_dim)) {}

  /// Re-draws the table ~ N(0, initializer_range²) and zeroes the padding row.
  void reset_parameters() {
    NoGradGuard no_grad;
    Generator& gen = options_.generator() ? *options_.generator() : default_generator();
    init::normal_(weight, 0.0, options_.initializer_range(), gen);
    if (options_.padding_idx()) init::zeros_(weight.select(0, *options_.padding_idx()));
  }

  /// `ids` [...] (values in [0, num_embeddings)) → [..., embedding_dim]. Index errors are
  /// thrown by `ember::embedding`.
  Tensor<T> forward(const Tensor<int64_t>& ids) const {
    EMBER_CHECK(ids.defined(), this->repr(), ": the input ids are undefined");
    return ember::embedding(ids, weight, options_.padding_idx().value_or(-1));
  }
  Tensor<T> operator()(const Tensor<int64_t>& ids) const { return forward(ids); }

  std::string extra_repr() const override {
    std::string s =
        ember::detail::str_cat(options_.num_embeddings(), ", ", options_.embedding_dim());
    if (options_.padding_idx()) s += ", padding_idx=" + std::to_string(*options_.padding_idx());
    return s;
  }
  const EmbeddingOptions& options() const { return options_; }

  Tensor<T> weight;  ///< [num_embeddings, embedding_dim]

 private:
  EmbeddingOptions options_;
};

}  // namespace ember::nn
