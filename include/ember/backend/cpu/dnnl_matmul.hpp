// ember/backend/cpu/dnnl_matmul.hpp — oneDNN's matmul primitive for ember's CPU products: the
// engine, a cache of created primitives, and one execution. Used by the bf16 products
// (gemm_bf16.hpp), the float products on packed weights (packed_gemm.hpp) and the int8 products
// (int8_gemm.hpp); plain float products go through `dnnl_sgemm` (gemm.hpp), which needs no
// primitive.
//
// Why a cache of our own: creating a matmul primitive description costs ~15 µs and a primitive
// 0.05–0.25 ms the first time (its kernels are JIT-compiled; oneDNN's own primitive cache makes a
// second creation ~3 µs). A BERT forward on a 16-token sentence has 36 products of ~50 µs each,
// so even the cached creation would cost ~10% of it. Our cache maps the exact problem (MatmulKey)
// to the created primitive in ~0.1 µs. Every shape gets its own primitive (oneDNN 2.6 picks its
// fast `brg` kernels only for fixed sizes: a run-time M falls back to `gemm:jit`, measured 2–7×
// slower at M = 16); a server sees few distinct shapes (rows × padded length), and the cache is
// emptied when it reaches kMaxMatmuls entries (a primitive still executing stays alive: callers
// hold it by shared_ptr).
//
// Concurrency: one primitive is executed from several threads at once (OpenMP threads splitting a
// product, or a server's request threads). Debian's oneDNN is built without
// DNNL_ENABLE_CONCURRENT_EXEC, so the library-managed scratchpad would be shared between them and
// corrupt results: every primitive is created with a user-managed scratchpad and each execution
// brings its own (`execute_matmul`).
//
// Only compiled with oneDNN (EMBER_HAVE_DNNL). Source: oneDNN's developer guide, "Matrix
// Multiplication" and "Primitive Attributes: Scratchpad" (v2.6).
#pragma once

#ifdef EMBER_HAVE_DNNL

#include <ember/backend/cpu/strided.hpp>
#include <ember/backend/types.hpp>
#include <ember/core/error.hpp>
#include <ember/core/storage.hpp>

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember::backend::cpu::detail {

/// What a matmul primitive depends on: C[m, n] (row-major, ldc, `dst_type`: f32, or s32 for
/// int8) = α·A[m, k]·B[k, n] + β·C (+ bias[n] on every row). A and B are row-major or
/// column-major with leading dimensions lda, ldb, of type `src_type` (f32, bf16 or s8);
/// `packed_b`: B is in the layout oneDNN chooses for this product (`format_tag::any`; the caller
/// reorders B into `weights_desc()` once and reuses it: PackedB).
struct MatmulKey {
  int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  bool a_row_major = true, b_row_major = true, packed_b = false, bias = false;
  dnnl::memory::data_type src_type = dnnl::memory::data_type::f32;
  dnnl::memory::data_type dst_type = dnnl::memory::data_type::f32;  ///< s32 for int8 products
  float alpha = 1.0f, beta = 0.0f;
  /// The threads it will run on: oneDNN fixes a primitive's work split when it is created (from
  /// OpenMP's max threads then), so a primitive made at 1 thread would stay on 1 after
  /// `set_num_threads(2)`. `primitive()` fills it in (gemm_threads(): 1 inside a parallel region).
  int threads = 0;

  bool operator==(const MatmulKey& o) const {
    return m == o.m && n == o.n && k == o.k && lda == o.lda && ldb == o.ldb && ldc == o.ldc &&
           threads == o.threads &&
           a_row_major == o.a_row_major && b_row_major == o.b_row_major &&
           packed_b == o.packed_b && bias == o.bias && src_type == o.src_type &&
           dst_type == o.dst_type &&
           alpha == o.alpha && beta == o.beta;
  }
};
struct MatmulKeyHash {
  std::size_t operator()(const MatmulKey& key) const {
    std::size_t h = std::hash<int64_t>()(key.m);
    for (int64_t v : {key.n, key.k, key.lda, key.ldb, key.ldc, int64_t(key.a_row_major),
                      int64_t(key.b_row_major), int64_t(key.packed_b), int64_t(key.bias),
                      int64_t(key.src_type), int64_t(key.dst_type), int64_t(key.threads)})
      h = h * 1000003u ^ std::hash<int64_t>()(v);
    return h * 1000003u ^ std::hash<float>()(key.alpha) ^ (std::hash<float>()(key.beta) << 1);
  }
};

/// A created matmul: its description (the memory layouts it expects) and the primitive.
struct Matmul {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
};

/// The process's oneDNN CPU engine and its cache of matmul primitives.
class DnnlMatmuls {
 public:
  static constexpr std::size_t kMaxMatmuls = 4096;

  static DnnlMatmuls& get() {
    static DnnlMatmuls instance;
    return instance;
  }
  const dnnl::engine& engine() const { return engine_; }

  std::shared_ptr<Matmul> primitive(MatmulKey key) {
#ifdef _OPENMP
    key.threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    key.threads = 1;
#endif
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    using dt = dnnl::memory::data_type;
    using dims = dnnl::memory::dims;
    const dnnl::memory::desc a({key.m, key.k}, key.src_type,
                               key.a_row_major ? dims{key.lda, 1} : dims{1, key.lda});
    const dnnl::memory::desc b =
        key.packed_b
            ? dnnl::memory::desc({key.k, key.n}, key.src_type, dnnl::memory::format_tag::any)
            : dnnl::memory::desc({key.k, key.n}, key.src_type,
                                 key.b_row_major ? dims{key.ldb, 1} : dims{1, key.ldb});
    const dnnl::memory::desc c({key.m, key.n}, key.dst_type, dims{key.ldc, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // see the header comment
    if (key.alpha != 1.0f) attr.set_output_scales(0, {key.alpha});
    if (key.beta != 0.0f) {
      dnnl::post_ops ops;
      ops.append_sum(key.beta);
      attr.set_post_ops(ops);
    }
    const dnnl::memory::desc bias({1, key.n}, dt::f32, dims{key.n, 1});
    const dnnl::matmul::desc desc =
        key.bias ? dnnl::matmul::desc(a, b, bias, c) : dnnl::matmul::desc(a, b, c);
    auto pd = dnnl::matmul::primitive_desc(desc, attr, engine_);
    auto made = std::make_shared<Matmul>(Matmul{pd, dnnl::matmul(pd)});
    if (cache_.size() >= kMaxMatmuls) cache_.clear();
    cache_.emplace(key, made);
    return made;
  }

 private:
  DnnlMatmuls() : engine_(dnnl::engine::kind::cpu, 0) {}
  dnnl::engine engine_;
  std::mutex mu_;
  std::unordered_map<MatmulKey, std::shared_ptr<Matmul>, MatmulKeyHash> cache_;
};

/// A weight matrix B [k, n] reordered into a matmul primitive's own layout (`format_tag::any`),
/// kept in B's DerivedSlot (core/storage.hpp) and reused while it is current: made from the same
/// address, sizes, layout and storage version, for the layout the primitive asks for now. The
/// packed products (packed_gemm.hpp) keep one as it is; the int8 products (int8_gemm.hpp) add
/// their scales.
struct PackedB : DerivedValue {
  const void* src = nullptr;
  int64_t k = 0, n = 0, ld = 0;
  bool row_major = true;
  uint64_t version = 0;
  dnnl::memory::desc desc;
  dnnl::memory packed;  // owns the packed buffer

  template <class T>
  bool current(const GemmArgs<T>& g, const GemmLayout& lb, const dnnl::memory::desc& want) const {
    return src == g.b && k == g.k && n == g.n && ld == lb.ld && row_major == lb.row_major &&
           version == g.b_version && desc == want;
  }
  /// Records what it is made from and reorders `plain` (B's values in a plain layout) into the
  /// layout `want`.
  template <class T>
  void pack(const GemmArgs<T>& g, const GemmLayout& lb, const dnnl::memory::desc& want,
            const dnnl::memory& plain) {
    src = g.b, k = g.k, n = g.n, ld = lb.ld, row_major = lb.row_major, version = g.b_version;
    desc = want;
    const dnnl::engine& eng = plain.get_engine();
    packed = dnnl::memory(want, eng);
    dnnl::stream s(eng);
    dnnl::reorder(plain, packed).execute(s, const_cast<dnnl::memory&>(plain), packed);
    s.wait();
  }
};

/// The value of type P (a PackedB) kept in g.b_derived if it is current for g's B and the layout
/// `want`, else null.
template <class P, class T>
std::shared_ptr<const P> current_packed(const GemmArgs<T>& g, const GemmLayout& lb,
                                        const dnnl::memory::desc& want) {
  auto held = std::dynamic_pointer_cast<const P>(g.b_derived->load());
  return held && held->current(g, lb, want) ? held : nullptr;
}

/// Runs `made` on the given buffers (b in `made->pd.weights_desc()`'s layout; bias null unless
/// the key had one) with a scratchpad of this call's own. Threads: oneDNN's (OpenMP's thread
/// count outside a parallel region; the calling thread alone inside one).
inline void execute_matmul(const Matmul& made, const void* a, const void* b, const float* bias,
                           float* c) {
  const dnnl::engine& eng = DnnlMatmuls::get().engine();
  dnnl::memory am(made.pd.src_desc(), eng, const_cast<void*>(a));
  dnnl::memory bm(made.pd.weights_desc(), eng, const_cast<void*>(b));
  dnnl::memory cm(made.pd.dst_desc(), eng, c);
  const dnnl::memory::desc pad_desc = made.pd.scratchpad_desc();
  ScratchBuffer<uint8_t> pad(pad_desc.get_size());
  dnnl::memory pm(pad_desc, eng, pad.data());
  dnnl::stream s(eng);
  if (bias != nullptr) {
    dnnl::memory biasm(made.pd.bias_desc(), eng, const_cast<float*>(bias));
    made.prim.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_BIAS, biasm},
                          {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, pm}});
  } else {
    made.prim.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm},
                          {DNNL_ARG_SCRATCHPAD, pm}});
  }
  s.wait();
}

}  // namespace ember::backend::cpu::detail

#endif  // EMBER_HAVE_DNNL
