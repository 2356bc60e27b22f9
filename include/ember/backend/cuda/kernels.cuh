// ember/backend/cuda/kernels.cuh — the CUDA backend's kernel tables: every entry of
// backend/kernel_list.hpp pointed at its kernel in the other backend/cuda/*.cuh headers, and
// `install()`, which puts the tables into the slots that host code reads
// (backend/device_runtime.hpp).
//
// The tables exist so that code compiled by g++ (the ops, templates instantiated in any
// translation unit) can reach kernels compiled by nvcc (backend/device_runtime.hpp explains the
// mechanism). Only float and double get tables: they are the dtypes with CUDA kernels. The few
// entries whose CUDA form takes other arguments (cuBLAS's transposes and leading dims, the
// reductions behind sum_to and sum_rows) are adapted below, on the host.
#pragma once

#include <cstdint>

#include <ember/backend/cuda/allocator.cuh>
#include <ember/backend/cuda/attention.cuh>
#include <ember/backend/cuda/blas.cuh>
#include <ember/backend/cuda/cross_entropy.cuh>
#include <ember/backend/cuda/dropout.cuh>
#include <ember/backend/cuda/elementwise.cuh>
#include <ember/backend/cuda/embedding.cuh>
#include <ember/backend/cuda/gelu.cuh>
#include <ember/backend/cuda/layer_norm.cuh>
#include <ember/backend/cuda/multi_tensor.cuh>
#include <ember/backend/cuda/optimizer.cuh>
#include <ember/backend/cuda/reduce.cuh>
#include <ember/backend/cuda/runtime.cuh>
#include <ember/backend/cuda/softmax.cuh>
#include <ember/backend/device_runtime.hpp>
#include <ember/backend/kernel_list.hpp>
#include <ember/core/storage.hpp>

namespace ember::backend::cuda {

namespace detail {
/// cuBLAS's view of an operand read at strides (rs, cs) (accepted by gemm_layout): a row-major
/// matrix is used as stored (ld = its row stride); a column-major one is the transpose of a
/// row-major matrix (ld = its column stride), so it is passed with trans = true.
struct BlasOperand {
  bool trans;
  int64_t ld;
};
inline BlasOperand blas_operand(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  GemmLayout l;
  const bool ok = gemm_layout(rows, cols, rs, cs, &l);
  EMBER_CHECK(ok, "matmul: internal error: unreadable GEMM operand layout");
  return {!l.row_major, l.ld};
}
inline MatmulPrecision current_precision() {
  DeviceRuntime* r = backend::detail::cuda_runtime_slot();
  return r != nullptr ? r->float32_matmul_precision() : MatmulPrecision::highest;
}
}  // namespace detail

/// The kernel table's GEMM on cuBLAS. A batch becomes strided-batched calls: the batch dims
/// [split, end) that read at one stride in A, B and C form one call, looped over the leading
/// dims [0, split). All of them collapse for contiguous operands; for the attention products on
/// head-split views ([batch, heads] with strides (seq·hidden, head_dim)) only the heads do, so
/// it is one call per batch entry. The bias epilogue is a second pass (add_bias).
template <class T>
inline void gemm(const GemmArgs<T>& g) {
  EMBER_CHECK(!g.int8_dynamic, "int8 products run on the CPU only (linear_dynamic_int8)");
  const GemmBatch& bt = g.batch;
  if (g.m == 0 || g.n == 0 || bt.count() == 0) return;
  const detail::BlasOperand oa = detail::blas_operand(g.m, g.k, g.a_rs, g.a_cs);
  const detail::BlasOperand ob = detail::blas_operand(g.k, g.n, g.b_rs, g.b_cs);
  const MatmulPrecision precision = detail::current_precision();
  const int nb = bt.ndim;
  int split = 0;
  int64_t sa = 0, sb = 0, sc = 0;
  while (split < nb && !(collapse_dims(bt.sizes, bt.a, split, nb, &sa) &&
                         collapse_dims(bt.sizes, bt.b, split, nb, &sb) &&
                         collapse_dims(bt.sizes, bt.c, split, nb, &sc)))
    ++split;
  int64_t outer = 1;
  for (int d = 0; d < split; ++d) outer *= bt.sizes[d];
  const int64_t inner = bt.count() / outer;
  for (int64_t e = 0; e < outer; ++e) {
    T* c = g.c + batch_offset(e, split, bt.sizes, bt.c);
    gemm<T>(oa.trans, ob.trans, g.m, g.n, g.k, g.alpha, g.a + batch_offset(e, split, bt.sizes, bt.a),
            oa.ld, sa, g.b + batch_offset(e, split, bt.sizes, bt.b), ob.ld, sb, g.beta, c, g.ldc,
            sc, inner, precision);
    if (g.bias != nullptr)
      for (int64_t i = 0; i < inner; ++i)
        add_bias<T>(c + i * sc, g.bias, c + i * sc, g.m, g.n);
  }
}

/// sum_to through the general reduction (in double; the CPU's sum_to adds in T).
template <class T>
inline void sum_to(const T* in, const Layout& il, uint32_t reduce_mask, T* out) {
  reduce_sum<T>(in, il, reduce_mask, 1.0, out);
}

/// sum_rows through the general reduction (dim 0 of [rows, cols] at strides (lda, 1)).
template <class T>
inline void sum_rows(int64_t rows, int64_t cols, const T* a, int64_t lda, T* out) {
  if (cols == 0) return;
  Layout l;
  l.ndim = 2;
  l.sizes[0] = rows;
  l.sizes[1] = cols;
  l.strides[0] = lda;
  l.strides[1] = 1;
  reduce_sum<T>(a, l, 1u, 1.0, out);
}

/// The CUDA kernels for T (float or double), as the table of backend/kernel_list.hpp.
template <class T>
inline const Kernels<T>* kernel_table() {
  static const Kernels<T> table = [] {
    Kernels<T> t;
#define EMBER_CUDA_ENTRY(ret, name, params) t.name = &cuda::name<T>;
    EMBER_KERNELS_ANY_DTYPE(EMBER_CUDA_ENTRY)
    EMBER_KERNELS_FLOAT(EMBER_CUDA_ENTRY)
#undef EMBER_CUDA_ENTRY
    return t;
  }();
  return &table;
}

namespace detail {

/// The DeviceCopyFn of tensor/tensor.hpp (`Tensor::to(Device)`): the runtime's synchronous copy.
inline void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev,
                        std::size_t nbytes) {
  backend::detail::cuda_runtime_slot()->copy(dst, dst_dev, src, src_dev, nbytes);
}

/// Puts the CUDA backend into the slots host code reads: the runtime, the float and double
/// kernel tables, the device allocator and the device copy. Makes no CUDA call (a program must
/// start on a machine without a GPU); the objects are never destroyed (tensors may outlive
/// static destructors). Idempotent.
inline bool install() {
  if (backend::detail::cuda_runtime_slot() != nullptr) return true;
  backend::detail::cuda_runtime_slot() = new CudaRuntimeImpl();
  backend::detail::cuda_kernels_slot<float>() = kernel_table<float>();
  backend::detail::cuda_kernels_slot<double>() = kernel_table<double>();
  ember::detail::cuda_allocator_slot() = &cuda_allocator();
  ember::detail::device_copy_slot() = &device_copy;
  return true;
}

}  // namespace detail

}  // namespace ember::backend::cuda
