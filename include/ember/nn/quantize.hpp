// ember/nn/quantize.hpp — `nn::quantize_dynamic(model)`: dynamic int8 quantization of a model's
// Linear layers for CPU inference (PyTorch's
// `torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)`).
//
// Every `nn::Linear<float>` in the model then runs its product through
// `ember::linear_dynamic_int8` (ops/matmul.hpp): its weight quantized per output channel at the
// first forward (the int8 copy kept with the weight, rebuilt if the weight changes), each input
// row quantized at run time, int32 accumulation — backend/cpu/int8_gemm.hpp has the arithmetic
// and its error. Unlike PyTorch's, it works in place and keeps the float weights as the
// parameters: `state_dict`, `save_pretrained` and the load report see the float model, and
// `quantize_dynamic(model, false)` switches back. Inference only (a forward that needs a
// gradient throws ember::Error); CPU only; needs a build with oneDNN. Embeddings, LayerNorm and
// attention stay float, as in PyTorch.
#pragma once

#include <ember/nn/linear.hpp>
#include <ember/nn/module.hpp>

#include <type_traits>

namespace ember::nn {

/// Switches every Linear<float> of `model` (itself included) to int8 products, or back with
/// `enable = false`; returns how many layers it switched. Throws ember::Error on a build without
/// oneDNN (int8 products need it).
/// Whether any Linear layer of `model` (itself included) runs its products in int8.
template <class T>
bool is_quantized_dynamic(const Module<T>& model) {
  if constexpr (std::is_same_v<T, float>) {
    for (const auto& [name, m] : model.named_modules())
      if (auto* lin = dynamic_cast<const Linear<float>*>(m); lin && lin->dynamic_int8()) return true;
  }
  return false;
}

inline int quantize_dynamic(Module<float>& model, bool enable = true) {
#ifndef EMBER_HAVE_DNNL
  EMBER_CHECK(!enable, "quantize_dynamic: this build has no int8 products (they need oneDNN: "
                       "EMBER_USE_DNNL=ON with Debian's libdnnl-dev)");
#endif
  int count = 0;
  model.apply([&](Module<float>& m) {
    if (auto* linear = dynamic_cast<Linear<float>*>(&m)) {
      linear->set_dynamic_int8(enable);
      ++count;
    }
  });
  return count;
}

}  // namespace ember::nn
