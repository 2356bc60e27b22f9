// ember/backend/cpu/packed_gemm.hpp — inference products on packed weights: y = x·Wᵀ + b with W
// reordered once into the blocked layout oneDNN's matmul kernels read, kept with W's storage and
// reused by every later call while W is unchanged.
//
// Why: `dnnl_sgemm` (gemm.hpp) packs both operands into its kernels' blocked layouts inside every
// call. With many rows (training batches: 2048 × 768) that costs a few percent; with few rows
// (serving one sentence: 16 × 384) it is most of the work — each call reads W, writes the packed
// copy and reads it again for 16 rows. oneDNN's `brg` matmul on a W packed once (measured on an
// Intel Xeon model 167, 2 threads, 16 × 384 · 384 × 384: 18 µs against 102 µs for dnnl_sgemm;
// 16 × 768 · 768 × 3072: 369 against 689 µs; at 2048 rows the two are within ±5%). ONNX Runtime
// (MLAS) and PyTorch's frozen inference graphs (oneDNN) prepack constant weights the same way.
//
// When: for the products of `linear` that record no autograd graph (NoGradGuard, eval of a
// frozen model, serving), which `linear` marks by handing over W's DerivedSlot
// (GemmArgs::b_derived). During training the weights change every step, so a packed copy would
// be stale at the next call; those products stay on `dnnl_sgemm`. Measured in the MiniLM
// classifier (serve::InferenceModel, same CPU): 5–10% faster at 512–4096 rows, 1.2× at 16 rows
// with 2 threads and 1.35× with 1 thread; so there is no row limit.
//
// Memory: one packed copy per weight matrix used this way (the size of W, rounded up to
// oneDNN's blocks), freed with the weight, or as soon as W is written (Storage::bump_version
// drops it: a training run's evaluation does not keep a second copy of every weight into the
// next step). Staleness: the copy records W's address, layout and storage version and is
// rebuilt when any differs (see DerivedSlot for writes through raw pointers). Float only; other types and builds without oneDNN return false (the caller runs
// the plain product).
#pragma once

#include <ember/backend/types.hpp>
#include <ember/core/storage.hpp>

#ifdef EMBER_HAVE_DNNL
#include <ember/backend/cpu/dnnl_matmul.hpp>
#include <ember/backend/cpu/strided.hpp>

#include <memory>
#endif

#include <cstdint>

namespace ember::backend::cpu {

#ifdef EMBER_HAVE_DNNL
namespace detail {

/// W's packed copy and what it was made from.
struct PackedWeights : DerivedValue {
  const float* src = nullptr;
  int64_t k = 0, n = 0, ld = 0;
  bool row_major = true;
  uint64_t version = 0;
  dnnl::memory::desc desc;
  dnnl::memory packed;  // owns the packed buffer

  bool current(const GemmArgs<float>& g, const GemmLayout& lb,
               const dnnl::memory::desc& want) const {
    return src == g.b && k == g.k && n == g.n && ld == lb.ld && row_major == lb.row_major &&
           version == g.b_version && desc == want;
  }
};

}  // namespace detail
#endif

/// Runs the product of `g` on packed weights and returns true, or returns false (nothing done)
/// when this path does not apply: no slot, a batch, α ≠ 1, β ≠ 0, an empty product, a type
/// other than float, or no oneDNN.
template <class T>
inline bool gemm_packed_weights(const GemmArgs<T>& g) {
#ifdef EMBER_HAVE_DNNL
  if constexpr (std::is_same_v<T, float>) {
    if (g.b_derived == nullptr || g.batch.ndim != 0 || g.alpha != 1.0f || g.beta != 0.0f ||
        g.m <= 0 || g.n <= 0 || g.k <= 0)
      return false;
    GemmLayout la, lb;
    gemm_layout(g.m, g.k, g.a_rs, g.a_cs, &la);
    gemm_layout(g.k, g.n, g.b_rs, g.b_cs, &lb);
    detail::MatmulKey key;
    key.m = g.m, key.n = g.n, key.k = g.k, key.lda = la.ld, key.ldc = g.ldc;
    key.a_row_major = la.row_major, key.packed_b = true, key.bias = g.bias != nullptr;
    std::shared_ptr<detail::Matmul> made = detail::DnnlMatmuls::get().primitive(key);
    const dnnl::memory::desc want = made->pd.weights_desc();
    auto held = std::dynamic_pointer_cast<const detail::PackedWeights>(g.b_derived->load());
    if (!held || !held->current(g, lb, want)) {
      const dnnl::engine& eng = detail::DnnlMatmuls::get().engine();
      auto fresh = std::make_shared<detail::PackedWeights>();
      fresh->src = g.b, fresh->k = g.k, fresh->n = g.n, fresh->ld = lb.ld;
      fresh->row_major = lb.row_major, fresh->version = g.b_version, fresh->desc = want;
      fresh->packed = dnnl::memory(want, eng);
      using dims = dnnl::memory::dims;
      dnnl::memory plain(dnnl::memory::desc({g.k, g.n}, dnnl::memory::data_type::f32,
                                            lb.row_major ? dims{lb.ld, 1} : dims{1, lb.ld}),
                         eng, const_cast<float*>(g.b));
      dnnl::stream s(eng);
      dnnl::reorder(plain, fresh->packed).execute(s, plain, fresh->packed);
      s.wait();
      g.b_derived->store(fresh);
      held = std::move(fresh);
    }
    detail::execute_matmul(*made, g.a, held->packed.get_data_handle(), g.bias, g.c);
    return true;
  }
#endif
  (void)g;
  return false;
}

}  // namespace ember::backend::cpu
