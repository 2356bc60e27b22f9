// ember/backend/cpu/packed_gemm.hpp — inference products on packed weights: y = x·Wᵀ + b with W
// reordered once into the blocked layout oneDNN's matmul kernels read, kept with W's storage and
// reused by every later call while W is unchanged.
//
// Why: `dnnl_sgemm` (gemm.hpp) packs both operands into its kernels' blocked layouts inside every
// call. With many rows (training batches: 2048 × 768) that costs a few percent; with few rows
// (serving one sentence: 16 × 384) it is most of the work — each call reads W, writes the packed
// copy and reads it again for 16 rows. oneDNN's `brg` matmul on a W packed once is 1.4–1.8×
// faster there (bench_gemm, Intel Xeon model 167, 2 threads: 16 × 384 · 384 × 1536 in 70 µs
// against 111 µs; 16 × 1536 · 1536 × 384 in 64 against 116), and within ±10% at 4096 rows.
// ONNX Runtime (MLAS) and PyTorch's frozen inference graphs (oneDNN) prepack constant weights
// the same way.
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
// rebuilt when any differs (see DerivedSlot for writes through raw pointers). Float only; other
// types and builds without oneDNN return false (the caller runs the plain product).
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
    // (An int8 copy in the slot is never taken for this one: its layout `desc` differs.)
    std::shared_ptr<const detail::PackedB> held =
        detail::current_packed<detail::PackedB>(g, lb, want);
    if (!held) {
      using dims = dnnl::memory::dims;
      const dnnl::memory plain(dnnl::memory::desc({g.k, g.n}, dnnl::memory::data_type::f32,
                                                  lb.row_major ? dims{lb.ld, 1} : dims{1, lb.ld}),
                               detail::DnnlMatmuls::get().engine(), const_cast<float*>(g.b));
      auto fresh = std::make_shared<detail::PackedB>();
      fresh->pack(g, lb, want, plain);
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
