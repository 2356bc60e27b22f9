// ember/backend/cpu/reduce.hpp — CPU kernels for reductions: sums over any set of dims of a
// strided array (behind sum, mean and var), max/argmax along one dim, and max of all elements.
//
// Sums. A reduction is described by a `ReducePlan`: the kept dims (in output order) and the
// reduced dims of the input, each as (size, stride) lists after dropping size-1 dims and merging
// neighbours that are contiguous with each other (a contiguous [a, b, c] reduced over {1, 2} is
// one kept dim of size a and one reduced run of b·c elements). Two loop orders cover the layouts
// met in practice:
//   * row order — the innermost reduced dim has stride 1 (e.g. sum over the last dim): each
//     output sums contiguous runs, with four independent accumulators;
//   * column order — the innermost kept dim has stride 1 and the reduced dims are outer (e.g.
//     sum over the batch dim, a bias gradient): the kernel walks the reduced dims and adds whole
//     contiguous slices of outputs at once (out[j] += x[r, j]), which vectorizes.
// Any other layout (a strided slice, say) runs the row order on strided runs.
//
// Accuracy and determinism. Every sum accumulates in double, so a float sum of 10⁶ elements
// keeps ~1e-15 relative rounding error instead of float's ~1e-4 worst case. Long reductions are
// cut into blocks whose number depends on the shape only (never on the thread count); partial
// sums are added in block order, so the result is the same on any number of threads.
//
// The sum kernel applies a per-element map `f(value, output_index) -> double` before adding: the
// identity for sum/mean, (x − mean[o])² for the second pass of var.
//
// Kernels see pointers, sizes and strides only, and trust their callers (ops check user input).
#pragma once

#include <ember/backend/cpu/strided.hpp>
#include <ember/core/storage.hpp>
#include <ember/core/shape.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace ember::backend::cpu {

/// The geometry of a reduction: kept dims (output order; the output is contiguous over them)
/// and reduced dims (innermost last), as sizes and input strides, size-1 dims dropped and
/// mergeable neighbours merged. Each list holds at least one (possibly size-1) dim.
struct ReducePlan {
  Shape kept_sizes, kept_strides;
  Shape red_sizes, red_strides;
  int64_t kept_numel = 1;  ///< number of outputs
  int64_t red_numel = 1;   ///< elements summed into each output
};

namespace detail {
/// Appends (size, stride), merging with the previous entry when it continues it contiguously.
inline void push_merged(Shape& sizes, Shape& strides, int64_t size, int64_t stride) {
  int n = sizes.size();
  if (n > 0 && strides[n - 1] == stride * size) {
    sizes[n - 1] *= size;
    strides[n - 1] = stride;
  } else {
    sizes.push_back(size);
    strides.push_back(stride);
  }
}

/// Row-major multi-index over (sizes, strides) with the element offset of the current index.
struct Odometer {
  const Shape& sizes;
  const Shape& strides;
  int64_t idx[Shape::kMaxDims] = {};
  int64_t offset = 0;

  Odometer(const Shape& s, const Shape& st, int64_t linear) : sizes(s), strides(st) {
    for (int d = s.size() - 1; d >= 0; --d) {
      idx[d] = linear % s[d];
      linear /= s[d];
      offset += idx[d] * st[d];
    }
  }
  void next() {
    for (int d = sizes.size() - 1; d >= 0; --d) {
      if (++idx[d] < sizes[d]) {
        offset += strides[d];
        return;
      }
      offset -= strides[d] * (sizes[d] - 1);
      idx[d] = 0;
    }
  }
};

/// Σ f(p[i·s], o) for i in [0, n), in double; four accumulators when s == 1.
template <class T, class F>
inline double sum_run(const T* p, int64_t n, int64_t s, const F& f, int64_t o) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = 0;
  if (s == 1) {
    for (; i + 4 <= n; i += 4) {
      a0 += f(p[i], o);
      a1 += f(p[i + 1], o);
      a2 += f(p[i + 2], o);
      a3 += f(p[i + 3], o);
    }
    for (; i < n; ++i) a0 += f(p[i], o);
  } else {
    for (; i < n; ++i) a0 += f(p[i * s], o);
  }
  return (a0 + a1) + (a2 + a3);
}
}  // namespace detail

/// Builds the plan for reducing the dims whose bit is set in `reduce_mask` (bit d = dim d) of an
/// array of `shape` and `strides`.
inline ReducePlan make_reduce_plan(const Shape& shape, const Shape& strides, uint32_t reduce_mask) {
  ReducePlan p;
  // Reduced dims: the summation order is free, so sort them outermost (largest stride) first.
  int order[Shape::kMaxDims];
  int nr = 0;
  for (int d = 0; d < shape.size(); ++d) {
    if (reduce_mask & (1u << d)) {
      p.red_numel *= shape[d];
      if (shape[d] != 1) order[nr++] = d;
    } else {
      p.kept_numel *= shape[d];
      if (shape[d] != 1) detail::push_merged(p.kept_sizes, p.kept_strides, shape[d], strides[d]);
    }
  }
  // A stable insertion sort of at most kMaxDims entries (std::stable_sort would allocate a buffer).
  for (int i = 1; i < nr; ++i)
    for (int j = i; j > 0 && strides[order[j]] > strides[order[j - 1]]; --j)
      std::swap(order[j], order[j - 1]);
  for (int i = 0; i < nr; ++i)
    detail::push_merged(p.red_sizes, p.red_strides, shape[order[i]], strides[order[i]]);
  if (p.kept_sizes.empty()) {
    p.kept_sizes.push_back(1);
    p.kept_strides.push_back(0);
  }
  if (p.red_sizes.empty()) {
    p.red_sizes.push_back(1);
    p.red_strides.push_back(0);
  }
  return p;
}

/// out[o] = Σ_r f(x[kept o, reduced r], o) in double, for every output o of the plan (out has
/// plan.kept_numel entries, row-major over the kept dims). `f(T value, int64_t o) -> double`.
template <class T, class F>
inline void reduce_sum(const ReducePlan& p, const T* x, F f, double* out) {
  const int64_t K = p.kept_numel, R = p.red_numel;
  if (K == 0) return;
  if (R == 0) {
    std::fill(out, out + K, 0.0);
    return;
  }
  const int nk = p.kept_sizes.size(), nr = p.red_sizes.size();
  const bool column =
      p.red_strides[nr - 1] != 1 && p.kept_strides[nk - 1] == 1 && p.kept_sizes[nk - 1] > 1;

  if (!column) {
    // Row order. Few outputs with long reductions: cut each reduction into blocks.
    const int64_t L = p.red_sizes[nr - 1], s = p.red_strides[nr - 1];
    Shape outer_sizes, outer_strides;  // reduced dims except the innermost run
    for (int d = 0; d + 1 < nr; ++d) {
      outer_sizes.push_back(p.red_sizes[d]);
      outer_strides.push_back(p.red_strides[d]);
    }
    const int64_t block = std::max<int64_t>(16384, (R + 4095) / 4096);
    const int64_t nblocks = (K < 64 && R >= 2 * block) ? (R + block - 1) / block : 1;
    ScratchBuffer<double> partial(nblocks > 1 ? static_cast<std::size_t>(K * nblocks) : 0);
    double* dst = nblocks > 1 ? partial.data() : out;
    const int64_t per_item = std::max<int64_t>(1, R / nblocks);
    parallel_for(K * nblocks, std::max<int64_t>(1, kParallelGrain / per_item), [&](int64_t item) {
      const int64_t o = item / nblocks, b = item % nblocks;
      const int64_t r0 = b * R / nblocks, r1 = (b + 1) * R / nblocks;
      const T* base = x + detail::Odometer(p.kept_sizes, p.kept_strides, o).offset;
      detail::Odometer od(outer_sizes, outer_strides, r0 / L);
      double acc = 0;
      for (int64_t r = r0, j = r0 % L; r < r1; j = 0, od.next()) {
        int64_t len = std::min(L - j, r1 - r);
        acc += detail::sum_run(base + od.offset + j * s, len, s, f, o);
        r += len;
      }
      dst[b * K + o] = acc;
    });
    if (nblocks > 1) {
      for (int64_t o = 0; o < K; ++o) {
        double acc = 0;
        for (int64_t b = 0; b < nblocks; ++b) acc += partial[b * K + o];
        out[o] = acc;
      }
    }
    return;
  }

  // Column order: outputs [K_outer, kin] with kin contiguous; walk the reduced dims and add
  // slices of up to kChunk outputs at once.
  constexpr int64_t kChunk = 256;
  const int64_t kin = p.kept_sizes[nk - 1];
  const int64_t k_outer = K / kin;
  Shape ko_sizes, ko_strides;
  for (int d = 0; d + 1 < nk; ++d) {
    ko_sizes.push_back(p.kept_sizes[d]);
    ko_strides.push_back(p.kept_strides[d]);
  }
  const int64_t nchunks = (kin + kChunk - 1) / kChunk;
  const int64_t rblock = std::max<int64_t>(256, (R + 63) / 64);
  const int64_t nblocks =
      (k_outer * nchunks < 64 && R >= 2 * rblock) ? (R + rblock - 1) / rblock : 1;
  ScratchBuffer<double> partial(nblocks > 1 ? static_cast<std::size_t>(K * nblocks) : 0);
  double* dst = nblocks > 1 ? partial.data() : out;
  const int64_t items = k_outer * nchunks * nblocks;
  const int64_t per_item = std::max<int64_t>(1, std::min(kin, kChunk) * (R / nblocks));
  parallel_for(items, std::max<int64_t>(1, kParallelGrain / per_item), [&](int64_t item) {
    const int64_t b = item % nblocks, c = (item / nblocks) % nchunks,
                  ko = item / (nblocks * nchunks);
    const int64_t j0 = c * kChunk, len = std::min(kChunk, kin - j0), o0 = ko * kin + j0;
    const int64_t r0 = b * R / nblocks, r1 = (b + 1) * R / nblocks;
    const T* base = x + detail::Odometer(ko_sizes, ko_strides, ko).offset + j0;
    double acc[kChunk];
    for (int64_t j = 0; j < len; ++j) acc[j] = 0;
    detail::Odometer od(p.red_sizes, p.red_strides, r0);
    for (int64_t r = r0; r < r1; ++r, od.next()) {
      const T* row = base + od.offset;
      for (int64_t j = 0; j < len; ++j) acc[j] += f(row[j], o0 + j);
    }
    for (int64_t j = 0; j < len; ++j) dst[b * K + o0 + j] = acc[j];
  });
  if (nblocks > 1) {
    for (int64_t o = 0; o < K; ++o) {
      double acc = 0;
      for (int64_t b = 0; b < nblocks; ++b) acc += partial[b * K + o];
      out[o] = acc;
    }
  }
}

/// True when `a` should replace the running maximum `best`: strictly greater (so ties keep the
/// first), or a NaN (NaN propagates, as in PyTorch; the first NaN wins).
/// The kernel table's sum: out[o] = scale · Σ x over the masked dims, in double (the plan's
/// fixed order), written as T.
template <class T>
inline void reduce_sum(const T* x, const Layout& xl, uint32_t reduce_mask, double scale, T* out) {
  const ReducePlan plan = make_reduce_plan(xl.shape(), xl.stride_shape(), reduce_mask);
  constexpr int64_t kOnStack = 64;  // a loss or a norm: no buffer to fetch
  double small[kOnStack];
  ScratchBuffer<double> large(plan.kept_numel > kOnStack ? std::size_t(plan.kept_numel) : 0);
  double* acc = plan.kept_numel > kOnStack ? large.data() : small;
  reduce_sum(plan, x, [](T v, int64_t) { return double(v); }, acc);
  for (int64_t o = 0; o < plan.kept_numel; ++o) out[o] = T(acc[o] * scale);
}

template <class T>
inline bool max_takes(T a, T best) {
  return a > best || (a != a && best == best);
}

/// Max along the middle dim of a contiguous [outer, n, inner] array (n ≥ 1): values[o, j] and
/// indices[o, j] (the first maximal position; a NaN counts as maximal). Either output may be null.
template <class T>
inline void max_along(const T* x, int64_t outer, int64_t n, int64_t inner, T* values,
                      int64_t* indices) {
  if (inner == 1) {
    parallel_for(outer, std::max<int64_t>(1, kParallelGrain / n), [&](int64_t o) {
      const T* row = x + o * n;
      T best = row[0];
      int64_t bi = 0;
      for (int64_t i = 1; i < n; ++i)
        if (max_takes(row[i], best)) {
          best = row[i];
          bi = i;
        }
      if (values) values[o] = best;
      if (indices) indices[o] = bi;
    });
    return;
  }
  constexpr int64_t kChunk = 256;
  const int64_t nchunks = (inner + kChunk - 1) / kChunk;
  const int64_t per_item = std::min(inner, kChunk) * n;
  parallel_for(outer * nchunks, std::max<int64_t>(1, kParallelGrain / per_item), [&](int64_t item) {
    const int64_t o = item / nchunks, j0 = (item % nchunks) * kChunk;
    const int64_t len = std::min(kChunk, inner - j0);
    const T* base = x + o * n * inner + j0;
    T best[kChunk];
    int64_t bi[kChunk];
    for (int64_t j = 0; j < len; ++j) {
      best[j] = base[j];
      bi[j] = 0;
    }
    for (int64_t i = 1; i < n; ++i) {
      const T* row = base + i * inner;
      for (int64_t j = 0; j < len; ++j)
        if (max_takes(row[j], best[j])) {
          best[j] = row[j];
          bi[j] = i;
        }
    }
    for (int64_t j = 0; j < len; ++j) {
      if (values) values[o * inner + j0 + j] = best[j];
      if (indices) indices[o * inner + j0 + j] = bi[j];
    }
  });
}

/// Max of all `n` ≥ 1 elements of a contiguous array (NaN propagates). Blocks of fixed size,
/// combined in order: the same result on any thread count.
template <class T>
inline T max_all(const T* x, int64_t n) {
  constexpr int64_t kBlock = 65536;
  const int64_t nblocks = (n + kBlock - 1) / kBlock;
  ScratchBuffer<T> partial(static_cast<std::size_t>(nblocks));
  parallel_for(nblocks, 1, [&](int64_t b) {
    const int64_t lo = b * kBlock, hi = std::min(n, lo + kBlock);
    T best = x[lo];
    for (int64_t i = lo + 1; i < hi; ++i)
      if (max_takes(x[i], best)) best = x[i];
    partial[b] = best;
  });
  T best = partial[0];
  for (int64_t b = 1; b < nblocks; ++b)
    if (max_takes(partial[b], best)) best = partial[b];
  return best;
}

}  // namespace ember::backend::cpu
