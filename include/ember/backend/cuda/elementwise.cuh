// ember/backend/cuda/elementwise.cuh — CUDA kernels of the elementwise ops: unary and binary
// functions (with broadcasting), comparisons with a scalar, masked_fill, where, the bias add of
// `linear`, and in-place scaling.
//
// The math of each function is the functor of backend/functors.hpp, the same code the CPU
// kernels run; the host entry points switch on the function's code and launch a kernel
// instantiated with that functor, passed by value (with its scalar parameter `s`).
//
// Operands are read through their Layout (stride 0 along broadcast dims); the output is always
// contiguous row-major over the layout's sizes, so the output index is the loop index itself.
// Two kernels per function:
//   * the strided kernel: a grid-stride loop over output indices, each input at the offset its
//     indexer gives (launch.cuh: dims merged first, so a dense operand costs no division);
//   * the vector kernel, when every operand is dense and 16-byte aligned: 16-byte loads and
//     stores (float4 / double2 worth of elements) with a scalar loop for the last few elements.
//     Elementwise kernels are bound by memory bandwidth; wide accesses use it best.
#pragma once

#include <cstdint>

#include <ember/backend/cuda/check.cuh>
#include <ember/backend/device_runtime.hpp>
#include <ember/backend/cuda/launch.cuh>
#include <ember/backend/cuda/stream.cuh>
#include <ember/backend/functors.hpp>

namespace ember::backend::cuda {

namespace kernel {

template <class T, class F>
__global__ void unary_strided(const T* a, detail::StridedIndexer<1> ix, T* out, int64_t n, F f) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step()) {
    int64_t off[1];
    ix.get(i, off);
    out[i] = f(a[off[0]]);
  }
}

template <class T, class F>
__global__ void unary_vec(const T* a, T* out, int64_t n, F f) {
  using P = detail::Pack<T>;
  const int64_t nv = n / P::N;
  for (int64_t i = detail::grid_start(); i < nv; i += detail::grid_step()) {
    const P x = reinterpret_cast<const P*>(a)[i];
    P y;
#pragma unroll
    for (int j = 0; j < P::N; ++j) y.v[j] = f(x.v[j]);
    reinterpret_cast<P*>(out)[i] = y;
  }
  for (int64_t i = nv * P::N + detail::grid_start(); i < n; i += detail::grid_step())
    out[i] = f(a[i]);
}

template <class T, class F>
__global__ void binary_strided(const T* a, const T* b, detail::StridedIndexer<2> ix, T* out,
                               int64_t n, F f) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step()) {
    int64_t off[2];
    ix.get(i, off);
    out[i] = f(a[off[0]], b[off[1]]);
  }
}

template <class T, class F>
__global__ void binary_vec(const T* a, const T* b, T* out, int64_t n, F f) {
  using P = detail::Pack<T>;
  const int64_t nv = n / P::N;
  for (int64_t i = detail::grid_start(); i < nv; i += detail::grid_step()) {
    const P x = reinterpret_cast<const P*>(a)[i];
    const P y = reinterpret_cast<const P*>(b)[i];
    P z;
#pragma unroll
    for (int j = 0; j < P::N; ++j) z.v[j] = f(x.v[j], y.v[j]);
    reinterpret_cast<P*>(out)[i] = z;
  }
  for (int64_t i = nv * P::N + detail::grid_start(); i < n; i += detail::grid_step())
    out[i] = f(a[i], b[i]);
}

template <class T>
__global__ void compare_strided(const T* a, detail::StridedIndexer<1> ix, bool* out, int64_t n,
                                fn::Compare<T> f) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step()) {
    int64_t off[1];
    ix.get(i, off);
    out[i] = f(a[off[0]]);
  }
}

template <class T>
__global__ void masked_fill_strided(const T* a, const bool* mask, detail::StridedIndexer<2> ix,
                                    T value, T* out, int64_t n) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step()) {
    int64_t off[2];
    ix.get(i, off);
    out[i] = mask[off[1]] ? value : a[off[0]];
  }
}

template <class T>
__global__ void where_strided(const bool* cond, const T* a, const T* b,
                              detail::StridedIndexer<3> ix, T* out, int64_t n) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step()) {
    int64_t off[3];
    ix.get(i, off);
    out[i] = cond[off[0]] ? a[off[1]] : b[off[2]];
  }
}

template <class T>
__global__ void add_bias(const T* x, const T* bias, T* out, int64_t total, int64_t n) {
  for (int64_t i = detail::grid_start(); i < total; i += detail::grid_step())
    out[i] = T(x[i] + bias[i % n]);
}

template <class T>
__global__ void scale_inplace(T* x, int64_t n, T s) {
  for (int64_t i = detail::grid_start(); i < n; i += detail::grid_step()) x[i] = x[i] * s;
}

}  // namespace kernel

namespace detail {

template <class T, class F>
inline void launch_unary(F f, const T* a, const Layout& al, T* out) {
  const int64_t n = numel(al);
  if (n == 0) return;
  const Layout* ops[1] = {&al};
  const StridedIndexer<1> ix = make_indexer<1>(al, ops);
  cudaStream_t stream = current_stream();
  if (ix.contiguous && aligned16(a) && aligned16(out)) {
    kernel::unary_vec<T, F><<<grid_for(n / Pack<T>::N + 1), kThreads, 0, stream>>>(a, out, n, f);
  } else {
    kernel::unary_strided<T, F><<<grid_for(n), kThreads, 0, stream>>>(a, ix, out, n, f);
  }
  EMBER_CUDA_CHECK_LAUNCH();
}

template <class T, class F>
inline void launch_binary(F f, const T* a, const Layout& al, const T* b, const Layout& bl, T* out) {
  const int64_t n = numel(al);
  if (n == 0) return;
  const Layout* ops[2] = {&al, &bl};
  const StridedIndexer<2> ix = make_indexer<2>(al, ops);
  cudaStream_t stream = current_stream();
  if (ix.contiguous && aligned16(a) && aligned16(b) && aligned16(out)) {
    kernel::binary_vec<T, F><<<grid_for(n / Pack<T>::N + 1), kThreads, 0, stream>>>(a, b, out, n, f);
  } else {
    kernel::binary_strided<T, F><<<grid_for(n), kThreads, 0, stream>>>(a, b, ix, out, n, f);
  }
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace detail

/// out = f(a; s), f named by `code` (functors.hpp); out contiguous over al's sizes.
template <class T>
inline void unary(UnaryCode code, double s, const T* a, const Layout& al, T* out) {
  using detail::launch_unary;
  switch (code) {
    case UnaryCode::add_scalar: return launch_unary(fn::AddScalar{s}, a, al, out);
    case UnaryCode::mul_scalar: return launch_unary(fn::MulScalar{s}, a, al, out);
    case UnaryCode::exp: return launch_unary(fn::Exp{s}, a, al, out);
    case UnaryCode::log: return launch_unary(fn::Log{s}, a, al, out);
    case UnaryCode::sqrt: return launch_unary(fn::Sqrt{s}, a, al, out);
    case UnaryCode::rsqrt: return launch_unary(fn::Rsqrt{s}, a, al, out);
    case UnaryCode::tanh: return launch_unary(fn::Tanh{s}, a, al, out);
    case UnaryCode::relu: return launch_unary(fn::Relu{s}, a, al, out);
    case UnaryCode::pow: return launch_unary(fn::Pow{s}, a, al, out);
  }
  EMBER_FAIL("CUDA unary: unknown function code ", static_cast<int>(code));
}

/// out = f(a, b; s), f named by `code`; al and bl broadcast to the output's sizes.
template <class T>
inline void binary(BinaryCode code, double s, const T* a, const Layout& al, const T* b,
                   const Layout& bl, T* out) {
  using detail::launch_binary;
  switch (code) {
    case BinaryCode::add: return launch_binary(fn::Add{s}, a, al, b, bl, out);
    case BinaryCode::sub: return launch_binary(fn::Sub{s}, a, al, b, bl, out);
    case BinaryCode::mul: return launch_binary(fn::Mul{s}, a, al, b, bl, out);
    case BinaryCode::div: return launch_binary(fn::Div{s}, a, al, b, bl, out);
    case BinaryCode::neg_mul: return launch_binary(fn::NegMul{s}, a, al, b, bl, out);
    case BinaryCode::exp_grad: return launch_binary(fn::ExpGrad{s}, a, al, b, bl, out);
    case BinaryCode::log_grad: return launch_binary(fn::LogGrad{s}, a, al, b, bl, out);
    case BinaryCode::sqrt_grad: return launch_binary(fn::SqrtGrad{s}, a, al, b, bl, out);
    case BinaryCode::rsqrt_grad: return launch_binary(fn::RsqrtGrad{s}, a, al, b, bl, out);
    case BinaryCode::tanh_grad: return launch_binary(fn::TanhGrad{s}, a, al, b, bl, out);
    case BinaryCode::relu_grad: return launch_binary(fn::ReluGrad{s}, a, al, b, bl, out);
    case BinaryCode::pow_grad: return launch_binary(fn::PowGrad{s}, a, al, b, bl, out);
  }
  EMBER_FAIL("CUDA binary: unknown function code ", static_cast<int>(code));
}

/// out[i] = (a[i] <op> T(v)), compared in T (ops/indexing.hpp's compare_t for float/double).
template <class T>
inline void compare(CompareCode code, double v, const T* a, const Layout& al, bool* out) {
  const int64_t n = detail::numel(al);
  if (n == 0) return;
  const Layout* ops[1] = {&al};
  const detail::StridedIndexer<1> ix = detail::make_indexer<1>(al, ops);
  const fn::Compare<T> f{code, T(v)};
  kernel::compare_strided<T><<<detail::grid_for(n), detail::kThreads, 0, current_stream()>>>(
      a, ix, out, n, f);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// out[i] = mask[i] ? T(value) : a[i]; al and ml broadcast to the output's sizes.
template <class T>
inline void masked_fill(const T* a, const Layout& al, const bool* mask, const Layout& ml,
                        double value, T* out) {
  const int64_t n = detail::numel(al);
  if (n == 0) return;
  const Layout* ops[2] = {&al, &ml};
  const detail::StridedIndexer<2> ix = detail::make_indexer<2>(al, ops);
  kernel::masked_fill_strided<T><<<detail::grid_for(n), detail::kThreads, 0, current_stream()>>>(
      a, mask, ix, T(value), out, n);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// out[i] = cond[i] ? a[i] : b[i]; all three layouts broadcast to the output's sizes.
template <class T>
inline void where(const bool* cond, const Layout& cl, const T* a, const Layout& al, const T* b,
                  const Layout& bl, T* out) {
  const int64_t n = detail::numel(cl);
  if (n == 0) return;
  const Layout* ops[3] = {&cl, &al, &bl};
  const detail::StridedIndexer<3> ix = detail::make_indexer<3>(cl, ops);
  kernel::where_strided<T><<<detail::grid_for(n), detail::kThreads, 0, current_stream()>>>(
      cond, a, b, ix, out, n);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// out[r, :] = x[r, :] + bias for contiguous [rows, n] x and out (which may alias).
template <class T>
inline void add_bias(const T* x, const T* bias, T* out, int64_t rows, int64_t n) {
  const int64_t total = rows * n;
  if (total == 0) return;
  kernel::add_bias<T><<<detail::grid_for(total), detail::kThreads, 0, current_stream()>>>(
      x, bias, out, total, n);
  EMBER_CUDA_CHECK_LAUNCH();
}

/// x[i] = x[i] · s for n contiguous elements.
template <class T>
inline void scale_inplace(T* x, int64_t n, T s) {
  if (n == 0) return;
  kernel::scale_inplace<T><<<detail::grid_for(n), detail::kThreads, 0, current_stream()>>>(x, n, s);
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace ember::backend::cuda
