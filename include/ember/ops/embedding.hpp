// ember/ops/embedding.hpp — row lookups by integer ids, with their backward: `embedding`
// (PyTorch's F.embedding) and `index_select` (the same lookup along any dim of any tensor, e.g.
// the masked positions of a batch's hidden states before an MLM head).
//
//   out[..., :] = weight[ids[...], :]          ids [...] int64, weight [num_embeddings, dim]
//
// Backward: the gradient of the weight is dense, [num_embeddings, dim], zero everywhere except
// the rows that were looked up; a row looked up k times receives the sum of its k output
// gradients (scatter-add, backend/cpu/embedding.hpp: deterministic, race-free). The row
// `padding_idx` receives no gradient at all (as PyTorch), so a padding vector stays where it was
// initialized. Saved for backward: the ids only (int64, one per lookup) and the weight's shape —
// never the weight itself, which the gradient does not depend on.
//
// The ids are not differentiable (integers).
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include <ember/autograd/node.hpp>
#include <ember/backend/backend.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/ops/indexing.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember {

/// Looks up rows of `weight` [num_embeddings, dim] at `ids` (any shape [...], int64):
/// returns [..., dim]. `padding_idx` in [0, num_embeddings) names a row that gets no gradient;
/// any negative value means "no padding row" (unlike PyTorch, a negative padding_idx does not
/// count from the end: pass `num_embeddings - 1` for the last row).
/// Throws `ember::Error` if weight is not 2-D, if padding_idx >= num_embeddings, or if an id is
/// outside [0, num_embeddings) (naming the id, its position in `ids` and num_embeddings).
template <class T>
Tensor<T> embedding(const Tensor<int64_t>& ids, const Tensor<T>& weight, int64_t padding_idx = -1) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "embedding: weight must be float or double");
  EMBER_CHECK(weight.dim() == 2, "embedding: expected weight of shape [num_embeddings, dim], found ",
              weight.shape());
  detail::check_same_device(ids.device(), weight.device(), "embedding");
  const int64_t num = weight.size(0), dim = weight.size(1);
  EMBER_CHECK(padding_idx < num, "embedding: padding_idx ", padding_idx,
              " is out of range for num_embeddings ", num, " (weight shape ", weight.shape(),
              "); expected padding_idx < ", num, " (or negative for none)");
  if (padding_idx < 0) padding_idx = -1;

  Tensor<int64_t> idc = ids.contiguous();
  const int64_t n = idc.numel();
  // The range check reads the ids on the host (a copy for CUDA ids: a [batch, seq] tensor).
  const Tensor<int64_t> host_ids = idc.to(Device::cpu());
  const int64_t* id = host_ids.data();
  for (int64_t i = 0; i < n; ++i) {
    if (id[i] < 0 || id[i] >= num) {
      EMBER_FAIL("embedding: index ", id[i], " at position ", detail::multi_index(ids.shape(), i),
                 " of ids with shape ", ids.shape(), " is out of range for num_embeddings ", num,
                 " (weight shape ", weight.shape(), "); expected 0 <= index < ", num);
    }
  }

  Shape out_shape = ids.shape();
  out_shape.push_back(dim);
  Tensor<T> out = Tensor<T>::empty(out_shape, weight.device());
  backend::kernels<T>(weight.device(), "embedding").embedding_forward(idc.data(), n, weight.data(), weight.stride(0), weight.stride(1), dim, out.data());

  if (autograd::any_requires_grad(weight)) {
    autograd::record(out, "embedding", {weight},
                     [saved_ids = autograd::SavedTensor<int64_t>(idc), wshape = weight.shape(),
                      dev = weight.device(), padding_idx](const Tensor<T>& g) {
                       const Tensor<int64_t>& ix = saved_ids.get("embedding");
                       Tensor<T> gc = g.contiguous();
                       Tensor<T> gw = zeros<T>(wshape, dev);
                       backend::kernels<T>(dev, "embedding").embedding_backward(ix.data(), ix.numel(), gc.data(), wshape[1], padding_idx, gw.data());
                       return autograd::Grads<T>{gw};
                     });
  }
  return out;
}

/// The slices of `x` at `index` [n] (int64) along `dim` (PyTorch's `torch.index_select`): the
/// result has x's shape with size n at `dim`; an index may repeat (its gradients add up).
/// The embedding lookup with x, seen as [size(dim), rest], as the table (a transposed copy
/// for dim != 0). Throws `ember::Error` for a dim out of range, an index that is not 1-D, or an
/// index outside [0, x.size(dim)).
template <class T>
Tensor<T> index_select(const Tensor<T>& x, int64_t dim, const Tensor<int64_t>& index) {
  EMBER_CHECK(x.dim() >= 1, "index_select: expected a tensor with at least one dim, found ",
              x.shape());
  const int64_t d = dim < 0 ? dim + x.dim() : dim;
  EMBER_CHECK(d >= 0 && d < x.dim(), "index_select: dim ", dim, " is out of range for shape ",
              x.shape());
  EMBER_CHECK(index.dim() == 1, "index_select: expected a 1-D index, found shape ",
              index.shape());
  Tensor<T> front = d == 0 ? x : x.transpose(0, d);
  int64_t row = 1;
  for (int i = 1; i < front.dim(); ++i) row *= front.size(i);
  Tensor<T> rows = embedding(index, front.reshape({front.size(0), row}));  // [n, row]
  Shape out = front.shape();
  out[0] = index.size(0);
  Tensor<T> picked = rows.view(out);
  return d == 0 ? picked : picked.transpose(0, d);
}

}  // namespace ember
