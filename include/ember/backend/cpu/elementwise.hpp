// ember/backend/cpu/elementwise.hpp — the CPU's elementwise entries of the kernel table
// (backend/kernel_list.hpp): unary and binary math by code, comparisons, masked_fill and where.
//
// Each entry turns its code into the functor of backend/functors.hpp (the same math the CUDA
// kernels run) and hands it to the strided loops of backend/cpu/strided.hpp, so every functor
// gets its own vectorizable loop. Layouts arrive already broadcast to the output's sizes (stride
// 0 on stretched dims); the output is contiguous.
#pragma once

#include <cstdint>
#include <type_traits>

#include <ember/backend/cpu/strided.hpp>
#include <ember/backend/functors.hpp>
#include <ember/backend/types.hpp>
#include <ember/core/dtype.hpp>

namespace ember::backend::cpu {

namespace detail {
template <class T, class O, class F>
inline void unary_layout(const T* a, const Layout& al, O* out, F f) {
  unary_kernel(al.shape(), a, al.stride_shape(), al.is_contiguous(), out, f);
}
template <class T, class U, class O, class F>
inline void binary_layout(const T* a, const Layout& al, const U* b, const Layout& bl, O* out, F f) {
  binary_kernel(al.shape(), a, al.stride_shape(), al.is_contiguous(), b, bl.stride_shape(),
                bl.is_contiguous(), out, f);
}
}  // namespace detail

/// out = f(a; s) for the function named by `code`.
template <class T>
inline void unary(UnaryCode code, double s, const T* a, const Layout& al, T* out) {
  using detail::unary_layout;
  switch (code) {
    case UnaryCode::add_scalar: return unary_layout(a, al, out, fn::AddScalar{s});
    case UnaryCode::mul_scalar: return unary_layout(a, al, out, fn::MulScalar{s});
    case UnaryCode::exp: return unary_layout(a, al, out, fn::Exp{s});
    case UnaryCode::log: return unary_layout(a, al, out, fn::Log{s});
    case UnaryCode::sqrt: return unary_layout(a, al, out, fn::Sqrt{s});
    case UnaryCode::rsqrt: return unary_layout(a, al, out, fn::Rsqrt{s});
    case UnaryCode::tanh: return unary_layout(a, al, out, fn::Tanh{s});
    case UnaryCode::relu: return unary_layout(a, al, out, fn::Relu{s});
    case UnaryCode::pow: return unary_layout(a, al, out, fn::Pow{s});
  }
}

/// out = f(a, b; s) for the function named by `code`.
template <class T>
inline void binary(BinaryCode code, double s, const T* a, const Layout& al, const T* b,
                   const Layout& bl, T* out) {
  using detail::binary_layout;
  switch (code) {
    case BinaryCode::add: return binary_layout(a, al, b, bl, out, fn::Add{s});
    case BinaryCode::sub: return binary_layout(a, al, b, bl, out, fn::Sub{s});
    case BinaryCode::mul: return binary_layout(a, al, b, bl, out, fn::Mul{s});
    case BinaryCode::div: return binary_layout(a, al, b, bl, out, fn::Div{s});
    case BinaryCode::neg_mul: return binary_layout(a, al, b, bl, out, fn::NegMul{s});
    case BinaryCode::exp_grad: return binary_layout(a, al, b, bl, out, fn::ExpGrad{s});
    case BinaryCode::log_grad: return binary_layout(a, al, b, bl, out, fn::LogGrad{s});
    case BinaryCode::sqrt_grad: return binary_layout(a, al, b, bl, out, fn::SqrtGrad{s});
    case BinaryCode::rsqrt_grad: return binary_layout(a, al, b, bl, out, fn::RsqrtGrad{s});
    case BinaryCode::tanh_grad: return binary_layout(a, al, b, bl, out, fn::TanhGrad{s});
    case BinaryCode::relu_grad: return binary_layout(a, al, b, bl, out, fn::ReluGrad{s});
    case BinaryCode::pow_grad: return binary_layout(a, al, b, bl, out, fn::PowGrad{s});
  }
}

/// out = a `code` v, compared in T for floating types and in double otherwise (integer ids and
/// masks against a scalar).
template <class T>
inline void compare(CompareCode code, double v, const T* a, const Layout& al, bool* out) {
  using C = std::conditional_t<scalar_traits<T>::is_floating, T, double>;
  detail::unary_layout(a, al, out, fn::Compare<C>{code, scalar_cast<C>(v)});
}

/// out = mask ? value : a.
template <class T>
inline void masked_fill(const T* a, const Layout& al, const bool* mask, const Layout& ml,
                        double value, T* out) {
  const T fill = scalar_cast<T>(value);
  detail::binary_layout(a, al, mask, ml, out, [fill](T x, bool m) { return m ? fill : x; });
}

/// out = cond ? a : b; one flat loop when all three are contiguous.
template <class T>
inline void where(const bool* cond, const Layout& cl, const T* a, const Layout& al, const T* b,
                  const Layout& bl, T* out) {
  if (cl.is_contiguous() && al.is_contiguous() && bl.is_contiguous()) {
    parallel_chunks(cl.numel(), kParallelGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) out[i] = cond[i] ? a[i] : b[i];
    });
    return;
  }
  // The walk is row-major, so the contiguous output is written in order.
  const Shape sc = cl.stride_shape(), sa = al.stride_shape(), sb = bl.stride_shape();
  const Shape* st[3] = {&sc, &sa, &sb};
  int64_t k = 0;
  strided_walk<3>(cl.shape(), st, [&](int64_t ic, int64_t ia, int64_t ib) {
    out[k++] = cond[ic] ? a[ia] : b[ib];
  });
}

/// Σ over the masked dims of contiguous `in` into `out` (in's sizes with those dims 1).
template <class T>
inline void sum_to(const T* in, const Layout& il, uint32_t reduce_mask, T* out) {
  Shape out_shape = il.shape();
  for (int d = 0; d < il.ndim; ++d)
    if (reduce_mask & (uint32_t(1) << d)) out_shape[d] = 1;
  sum_to_kernel(il.shape(), in, out_shape, out);
}

}  // namespace ember::backend::cpu
