// matmul and linear: forward against a naive triple loop (odd sizes, empty dims, broadcasting,
// 1-D promotion), no-copy reading of transposed operands, an expanded output gradient, the
// threaded bias gradient, the backend GEMM's alpha/beta/transpose/layout handling, and the error
// messages. Gradchecks (2-D, 1-D, broadcast-batched, transposed, sliced, permuted operands):
// the op-case table (tests/support/op_cases.hpp, run by test_op_cases.cpp).
// Tolerances: double 1e-10 relative to Σ|a||b| (summation-order differences only); float 1e-5.
#include <ember/autograd/gradcheck.hpp>
#include <ember/backend/cpu/gemm.hpp>
#include <ember/ops/matmul.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <tuple>
#include <string>
#include <thread>
#include <vector>

#include "support/test_util.hpp"
using ember::test::error_of;
using ember::test::leaf;

using namespace ember;

namespace {

// PyTorch's matmul semantics written out directly: promote 1-D operands, broadcast the batch
// dims, triple loop per batch entry. Returns the result (shape per PyTorch) and, in `mag`, the
// sums Σ|a||b| per output element (the scale for the rounding tolerance).
template <class T>
Tensor<T> naive_matmul(const Tensor<T>& a_in, const Tensor<T>& b_in, std::vector<double>* mag) {
  Tensor<T> a = a_in.detach().contiguous(), b = b_in.detach().contiguous();
  Shape as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(0, 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t n = as[as.size() - 2], k = as[as.size() - 1], m = bs[bs.size() - 1];
  Shape ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  Shape ob = broadcast_shapes(ab, bb, "naive");
  Shape out_shape = ob;
  if (a.dim() > 1) out_shape.push_back(n);
  if (b.dim() > 1) out_shape.push_back(m);
  Tensor<T> out = zeros<T>(out_shape);
  mag->assign(static_cast<std::size_t>(out.numel()), 0.0);
  Shape abs_ = broadcast_strides(ab, contiguous_strides(ab), ob);
  Shape bbs = broadcast_strides(bb, contiguous_strides(bb), ob);
  const int64_t batch = ob.numel();
  for (int64_t e = 0; e < batch; ++e) {
    int64_t ia = 0, ib = 0, rem = e;
    for (int d = ob.size() - 1; d >= 0; --d) {
      int64_t i = rem % ob[d];
      rem /= ob[d];
      ia += i * abs_[d];
      ib += i * bbs[d];
    }
    const T* pa = a.data() + ia * n * k;
    const T* pb = b.data() + ib * k * m;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) {
        double s = 0, g = 0;
        for (int64_t l = 0; l < k; ++l) {
          s += double(pa[i * k + l]) * double(pb[l * m + j]);
          g += std::abs(double(pa[i * k + l]) * double(pb[l * m + j]));
        }
        out.data()[e * n * m + i * m + j] = T(s);
        (*mag)[e * n * m + i * m + j] = g;
      }
  }
  return out;
}

template <class T>
void check_against_naive(const Tensor<T>& a, const Tensor<T>& b, double rel) {
  std::vector<double> mag;
  Tensor<T> want = naive_matmul(a, b, &mag);
  Tensor<T> got = matmul(a, b);
  REQUIRE(got.shape() == want.shape());
  std::vector<T> g = got.to_vector(), w = want.to_vector();
  for (std::size_t i = 0; i < g.size(); ++i) {
    INFO("a ", a.shape(), " b ", b.shape(), " element ", i);
    CHECK(std::abs(double(g[i]) - double(w[i])) <= rel * (mag[i] + 1e-30) + 1e-30);
  }
}

template <class T>
Tensor<T> rnd(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn<T>(s, gen);
}



}  // namespace

TEST_CASE("matmul: forward matches a naive triple loop (float and double, odd and empty sizes)") {
  struct Case {
    Shape a, b;
  };
  std::vector<Case> cases = {{{17, 33}, {33, 9}},
                             {{0, 5}, {5, 3}},
                             {{5, 0}, {0, 3}},
                             {{5, 3}, {3, 0}},
                             {{7}, {7}},
                             {{7}, {7, 4}},
                             {{4, 7}, {7}},
                             {{3}, {2, 3, 5}},
                             {{2, 4, 3}, {3}},
                             {{2, 1, 3, 4}, {5, 4, 2}},
                             {{3, 4}, {2, 4, 5}},
                             {{2, 3, 4}, {4, 5}},
                             {{2, 3, 6, 4}, {4, 5}},
                             {{1, 3, 4}, {2, 1, 4, 5}},
                             {{16, 32, 24}, {16, 24, 40}},
                             {{200, 150}, {150, 170}},
                             {{1, 1}, {1, 1}},
                             {{0}, {0}},
                             {{3, 0, 4}, {4, 2}},
                             {{2, 2, 3}, {0, 1, 3, 4}}};
  uint64_t seed = 1;
  for (const Case& c : cases) {
    check_against_naive(rnd<double>(c.a, seed), rnd<double>(c.b, seed + 1), 1e-12);
    check_against_naive(rnd<float>(c.a, seed + 2), rnd<float>(c.b, seed + 3), 2e-6);
    seed += 4;
  }
  // dot of two 1-D tensors is 0-d
  Tensor<double> d = matmul(from_vector<double>({1, 2, 3}), from_vector<double>({4, 5, 6}));
  CHECK(d.dim() == 0);
  CHECK(d.item() == doctest::Approx(32.0));
  // k = 0: the empty sum is zero
  Tensor<float> z = matmul(rnd<float>({5, 0}, 1), rnd<float>({0, 3}, 2));
  for (float v : z.to_vector()) CHECK(v == 0.0f);
}

TEST_CASE("matmul: strided operands (transposed, sliced, expanded, permuted) forward") {
  Tensor<double> x = rnd<double>({2, 5, 4}, 11), y = rnd<double>({2, 6, 4}, 12);
  check_against_naive(x, y.transpose(-1, -2), 1e-12);  // col-major B
  check_against_naive(y.transpose(-1, -2).transpose(-1, -2), x.transpose(-1, -2), 1e-12);
  check_against_naive(x.transpose(-1, -2), y.slice(1, 0, 5), 1e-12);         // col-major A
  check_against_naive(x.slice(2, 0, 4, 2), rnd<double>({2, 6}, 13), 1e-12);  // step in a row
  check_against_naive(x.slice(1, 0, 5, 2), rnd<double>({4, 3}, 14), 1e-12);  // step over rows
  check_against_naive(rnd<double>({4, 3}, 15).expand({3, 4, 3}), rnd<double>({3, 3, 2}, 16),
                      1e-12);  // stride-0 batch
  check_against_naive(rnd<double>({4, 1}, 17).expand({4, 3}), rnd<double>({3, 2}, 18),
                      1e-12);  // stride 0 inside the matrix: copied
  // [batch, seq, heads, d] permuted to [batch, heads, seq, d], q·kᵀ
  Tensor<float> q = rnd<float>({2, 7, 3, 4}, 19).permute({0, 2, 1, 3});
  Tensor<float> k = rnd<float>({2, 7, 3, 4}, 20).permute({0, 2, 1, 3});
  check_against_naive(q, k.transpose(-1, -2), 2e-6);
}

TEST_CASE("matmul: transposed operands are read in place, not copied") {
  Tensor<float> w = rnd<float>({6, 4}, 1);
  auto op = detail::gemm_operand(w.t());
  CHECK(op.t.data() == w.data());  // column-major view of W
  CHECK(op.rs == 1);
  CHECK(op.cs == 4);
  Tensor<float> kk = rnd<float>({2, 3, 5, 8}, 2);
  auto ko = detail::gemm_operand(kk.transpose(-1, -2));
  CHECK(ko.t.data() == kk.data());
  auto sl = detail::gemm_operand(kk.slice(2, 1, 4));  // a row slice keeps ld = 8
  CHECK(sl.t.data() == kk.data() + 8);
  auto st = detail::gemm_operand(kk.slice(3, 0, 8, 2));  // step inside a row: copied
  CHECK(st.t.data() != kk.data());
  CHECK(st.t.is_contiguous());
  // linear folds [batch, seq, in] into rows without copying
  auto f = detail::fold_rows(rnd<float>({2, 3, 4}, 3));
  CHECK(f.rows == 6);
  CHECK(f.rs == 4);
  // the system allocator is not called again for a repeated product (caching allocator)
  Tensor<float> a = rnd<float>({64, 32}, 4), b = rnd<float>({32, 48}, 5);
  { Tensor<float> warm = matmul(a, b.t().t()); }
  std::size_t before = cpu_allocator().stats().system_allocations;
  for (int i = 0; i < 3; ++i) {
    Tensor<float> c = matmul(a, b);
  }
  CHECK(cpu_allocator().stats().system_allocations == before);
}

TEST_CASE("matmul: the gradient of a reduction arrives as a stride-0 (expanded) tensor") {
  Tensor<double> g1 = leaf({3, 4}, 13), g2 = leaf({4, 2}, 14);
  Tensor<double> s = matmul(g1, g2);
  s.backward(ones<double>({1, 2}).expand({3, 2}));
  Tensor<double> want = matmul(ones<double>({3, 2}), g2.detach().t());
  for (int64_t i = 0; i < 12; ++i)
    CHECK(g1.grad().to_vector()[i] == doctest::Approx(want.to_vector()[i]));
}

TEST_CASE("linear: forward equals x·Wᵀ + b, one GEMM over the leading dims") {
  for (Shape xs : {Shape{5, 4}, Shape{2, 3, 4}, Shape{4}, Shape{0, 4}, Shape{2, 1, 3, 4}}) {
    Tensor<double> x = rnd<double>(xs, 1), w = rnd<double>({6, 4}, 2), b = rnd<double>({6}, 3);
    std::vector<double> mag;
    Tensor<double> want = naive_matmul(x, w.t(), &mag);
    Tensor<double> y = linear(x, w), yb = linear(x, w, b);
    Shape ys = xs;
    ys[ys.size() - 1] = 6;
    REQUIRE(y.shape() == ys);
    REQUIRE(yb.shape() == ys);
    std::vector<double> vy = y.to_vector(), vyb = yb.to_vector(), vw = want.to_vector();
    for (std::size_t i = 0; i < vy.size(); ++i) {
      CHECK(vy[i] == doctest::Approx(vw[i]).epsilon(1e-12));
      CHECK(vyb[i] == doctest::Approx(vw[i] + b.to_vector()[i % 6]).epsilon(1e-12));
    }
  }
  // Non-contiguous input and a weight given as a transposed view.
  Tensor<float> xt = rnd<float>({4, 2, 3}, 4).permute({1, 2, 0});  // [2, 3, 4]
  Tensor<float> wt = rnd<float>({4, 6}, 5).t();                    // [6, 4] column-major
  Tensor<float> bb = rnd<float>({6}, 6);
  std::vector<double> mag;
  Tensor<float> want = naive_matmul(xt, wt.t(), &mag);
  std::vector<float> got = linear(xt, wt, bb).to_vector(), w = want.to_vector();
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK(got[i] == doctest::Approx(w[i] + bb.to_vector()[i % 6]).epsilon(1e-5));
}

TEST_CASE("linear: inference on packed weights equals the recorded product and follows updates") {
  // Calls that record no graph may run on a packed copy of the weight kept with its storage
  // (backend/cpu/packed_gemm.hpp). Each result is compared with the naive product; the copy
  // must be rebuilt after every kind of write into the weight, and dropped by ember's writes.
  auto check = [](const Tensor<float>& got, const Tensor<float>& x, const Tensor<float>& w,
                  const Tensor<float>& b) {
    std::vector<double> mag;
    std::vector<float> want = naive_matmul(x, w.t(), &mag).to_vector(), g = got.to_vector();
    std::vector<float> bv = b.to_vector();
    const std::size_t n = bv.size();
    REQUIRE(g.size() == want.size());
    int bad = 0;
    for (std::size_t i = 0; i < g.size(); ++i)
      bad += std::abs(double(g[i]) - (double(want[i]) + bv[i % n])) > 1e-5 * (mag[i] + 1.0);
    CHECK(bad == 0);
  };
  for (int64_t rows : {1, 16, 37, 1500}) {
    CAPTURE(rows);
    Tensor<float> x = rnd<float>({rows, 96}, 21), w = rnd<float>({130, 96}, 22),
                  b = rnd<float>({130}, 23);
    NoGradGuard no_grad;
    check(linear(x, w, b), x, w, b);
    check(linear(x, w, b), x, w, b);  // the kept copy, if one was made
#ifdef EMBER_HAVE_DNNL
    CHECK(w.storage()->derived().load() != nullptr);
#endif
    w.copy_(rnd<float>({130, 96}, 24));  // a write through ember bumps the version
    CHECK(w.storage()->derived().load() == nullptr);  // and frees the stale copy
    check(linear(x, w, b), x, w, b);
    check(linear(x, w, b), x, w, b);
    w.data()[5] += 1.0f;  // a raw write, announced as DerivedSlot asks
    w.storage()->bump_version();
    check(linear(x, w, b), x, w, b);
  }
  // Two views of one storage (a fused weight used in parts) and a transposed view.
  Tensor<float> x = rnd<float>({8, 32}, 25), big = rnd<float>({96, 32}, 26),
                b = rnd<float>({48}, 27);
  NoGradGuard no_grad;
  for (int rep = 0; rep < 2; ++rep) {
    check(linear(x, big.slice(0, 0, 48), b), x, big.slice(0, 0, 48), b);
    check(linear(x, big.slice(0, 48, 96), b), x, big.slice(0, 48, 96), b);
  }
  Tensor<float> wt = rnd<float>({32, 48}, 28).t();
  check(linear(x, wt, b), x, wt, b);
  // Several threads running one layer at once (a server's request threads).
  Tensor<float> w = rnd<float>({64, 32}, 29), bias = rnd<float>({64}, 30);
  std::vector<float> want = linear(x, w, bias).to_vector();
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      NoGradGuard guard;
      for (int i = 0; i < 50; ++i) mismatches[t] += linear(x, w, bias).to_vector() != want;
    });
  for (std::thread& t : threads) t.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}

#ifdef EMBER_HAVE_DNNL
TEST_CASE("linear_dynamic_int8: equals the int8 arithmetic it promises, near the float product") {
  // The reference quantizes as backend/cpu/int8_gemm.hpp documents — weights per output channel,
  // the input per row, symmetric, round to nearest even, ±127 — and sums the int8 products
  // exactly (int64), so the op may differ from it only by the float rounding of the scales
  // (1e-5 relative to the largest term). It must also be within 3% (max-normalized) of the
  // float product, and follow writes into the weight.
  auto quantize = [](const std::vector<float>& v, int64_t off, int64_t n, std::vector<int>& q) {
    float amax = 0.0f;
    for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(v[off + i]));
    const float scale = amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / scale;
    for (int64_t i = 0; i < n; ++i)
      q[off + i] = int(std::max(-127.0f, std::min(127.0f, std::nearbyint(v[off + i] * inv))));
    return scale;
  };
  auto reference = [&](const Tensor<float>& x, const Tensor<float>& w, const Tensor<float>& b) {
    const int64_t m = x.numel() / x.size(-1), k = w.size(1), n = w.size(0);
    std::vector<float> xv = x.contiguous().to_vector(), wv = w.contiguous().to_vector(),
                       bv = b.to_vector(), y(static_cast<std::size_t>(m * n));
    std::vector<int> xq(xv.size()), wq(wv.size());
    std::vector<float> sx(m), sw(n);
    for (int64_t i = 0; i < m; ++i) sx[i] = quantize(xv, i * k, k, xq);
    for (int64_t j = 0; j < n; ++j) sw[j] = quantize(wv, j * k, k, wq);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int64_t acc = 0;
        for (int64_t t = 0; t < k; ++t) acc += int64_t(xq[i * k + t]) * wq[j * k + t];
        y[i * n + j] = float(double(acc) * sx[i] * sw[j] + bv[j]);
      }
    return y;
  };
  auto check = [&](const Tensor<float>& x, const Tensor<float>& w, const Tensor<float>& b) {
    std::vector<float> got = linear_dynamic_int8(x, w, b).to_vector(), want = reference(x, w, b);
    std::vector<float> exact = linear(x, w, b).to_vector();
    REQUIRE(got.size() == want.size());
    double scale = 0.0;
    for (float v : exact) scale = std::max(scale, std::fabs(double(v)));
    int far_from_reference = 0, far_from_float = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      far_from_reference += std::fabs(double(got[i]) - want[i]) > 1e-5 * (std::fabs(want[i]) + 1.0);
      far_from_float += std::fabs(double(got[i]) - exact[i]) > 0.03 * scale;
    }
    CHECK(far_from_reference == 0);
    CHECK(far_from_float == 0);
  };
  NoGradGuard no_grad;
  for (int64_t rows : {1, 16, 37, 300}) {
    CAPTURE(rows);
    Tensor<float> x = rnd<float>({rows, 96}, 31), w = rnd<float>({130, 96}, 32),
                  b = rnd<float>({130}, 33);
    check(x, w, b);
    check(x, w, b);  // the kept int8 weights
    w.copy_(rnd<float>({130, 96}, 34));
    check(x, w, b);  // re-quantized after the write
  }
  // A row of zeros, a 3-D input, a transposed weight view, no bias.
  Tensor<float> x = rnd<float>({2, 5, 64}, 35), w = rnd<float>({48, 64}, 36), b = zeros<float>({48});
  x.select(1, 2).fill_(0.0f);
  check(x, w, b);
  CHECK(linear_dynamic_int8(x, w).shape() == Shape{2, 5, 48});
  Tensor<float> wt = rnd<float>({64, 48}, 37).t();
  check(x, wt, b);
  // A NaN in an input row makes that row's outputs NaN, a NaN in a weight row that output
  // column's, an infinity NaN too — never a finite number hiding the bad value.
  {
    Tensor<float> xn = rnd<float>({3, 64}, 39), wn = rnd<float>({5, 64}, 40);
    xn.set({1, 7}, std::numeric_limits<float>::quiet_NaN());
    xn.set({2, 3}, std::numeric_limits<float>::infinity());
    std::vector<float> y = linear_dynamic_int8(xn, wn).to_vector();
    for (int64_t j = 0; j < 5; ++j) {
      CHECK(std::isfinite(y[j]));
      CHECK(std::isnan(y[5 + j]));
      CHECK(std::isnan(y[10 + j]));
    }
    wn.set({4, 0}, std::numeric_limits<float>::quiet_NaN());
    y = linear_dynamic_int8(xn.slice(0, 0, 1), wn).to_vector();
    CHECK(std::isfinite(y[0]));
    CHECK(std::isnan(y[4]));
  }
  // Errors: a gradient it cannot give, wrong shapes.
  set_grad_enabled(true);
  Tensor<float> wg = w.clone();
  wg.requires_grad_();
  CHECK_THROWS_WITH_AS(linear_dynamic_int8(x, wg, b), doctest::Contains("no backward"), Error);
  set_grad_enabled(false);
  CHECK_THROWS_WITH_AS(linear_dynamic_int8(x, rnd<float>({48, 63}, 38), b),
                       doctest::Contains("linear_dynamic_int8: input shape"), Error);
}
#endif

TEST_CASE("linear: the bias gradient on enough rows to take the threaded column-sum path") {
  Tensor<double> big = rnd<double>({300, 256}, 15), wb = rnd<double>({256, 256}, 16);
  Tensor<double> bias = zeros<double>({256});
  bias.requires_grad_();
  Tensor<double> y = linear(big, wb, bias);
  Tensor<double> gy = rnd<double>({300, 256}, 17);
  y.backward(gy);
  std::vector<double> db = bias.grad().to_vector(), g = gy.to_vector();
  for (int64_t j = 0; j < 256; j += 51) {
    double s = 0;
    for (int64_t i = 0; i < 300; ++i) s += g[i * 256 + j];
    CHECK(db[j] == doctest::Approx(s).epsilon(1e-12));
  }
}

TEST_CASE("backend gemm: transpose flags, alpha/beta, column-major C, beta = 0 ignores C") {
  const int64_t m = 7, n = 5, k = 6;
  Tensor<double> a = rnd<double>({m, k}, 1), b = rnd<double>({k, n}, 2),
                 c0 = rnd<double>({m, n}, 3);
  Tensor<double> at = a.t().contiguous(), bt = b.t().contiguous();
  std::vector<double> mag;
  std::vector<double> ab = naive_matmul(a, b, &mag).to_vector(), cv = c0.to_vector();
  for (auto ta : {backend::cpu::Trans::kNo, backend::cpu::Trans::kYes})
    for (auto tb : {backend::cpu::Trans::kNo, backend::cpu::Trans::kYes}) {
      Tensor<double> c = c0.clone();
      const double* pa = ta == backend::cpu::Trans::kNo ? a.data() : at.data();
      const double* pb = tb == backend::cpu::Trans::kNo ? b.data() : bt.data();
      int64_t lda = ta == backend::cpu::Trans::kNo ? k : m,
              ldb = tb == backend::cpu::Trans::kNo ? n : k;
      backend::cpu::gemm<double>(ta, tb, m, n, k, 2.0, pa, lda, pb, ldb, 0.5, c.data(), n);
      std::vector<double> got = c.to_vector();
      for (std::size_t i = 0; i < got.size(); ++i)
        CHECK(got[i] == doctest::Approx(2.0 * ab[i] + 0.5 * cv[i]).epsilon(1e-12));
    }
  // beta = 0 must not read C (NaN there must not leak), column-major C
  std::vector<double> cm(m * n, std::numeric_limits<double>::quiet_NaN());
  backend::cpu::gemm<double>(m, n, k, 1.0, a.data(), k, 1, b.data(), n, 1, 0.0, cm.data(), 1, m);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) CHECK(cm[i + j * m] == doctest::Approx(ab[i * n + j]));
  // batched, single-stride form, with a broadcast (stride 0) B
  Tensor<float> xa = rnd<float>({8, 3, 4}, 4), xb = rnd<float>({4, 2}, 5);
  Tensor<float> xc = empty<float>({8, 3, 2});
  backend::cpu::batched_gemm<float>(8, 3, 2, 4, 1.0f, xa.data(), 12, 4, 1, xb.data(), 0, 2, 1, 0.0f,
                                    xc.data(), 6, 2, 1);
  std::vector<double> mg;
  std::vector<float> want = naive_matmul(xa, xb, &mg).to_vector(), got = xc.to_vector();
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
}

TEST_CASE("backend gemm: sizes over the BLAS's int range are an error, not a truncated product") {
  if (!backend::cpu::detail::kBlasGemm<double>) {
    MESSAGE("skipped: double products do not go to a BLAS in this build (EMBER_USE_BLAS=OFF)");
    return;
  }
  // k = 2^31 (one more than int holds): refused before either operand is read, so one element
  // of storage each is enough.
  const int64_t k = int64_t(1) << 31;
  const double a = 1, b = 1;
  double c = 0;
  std::string e = error_of(
      [&] { backend::cpu::gemm<double>(1, 1, k, 1.0, &a, k, 1, &b, 1, 1, 0.0, &c, 1, 1); });
  CHECK(e.find("2^31 - 1") != std::string::npos);
  CHECK(e.find("k 2147483648") != std::string::npos);
  CHECK(c == 0);
}

TEST_CASE("matmul and linear: errors name the op and both shapes") {
  auto a = rnd<float>({2, 3}, 1), b = rnd<float>({4, 5}, 2);
  std::string e = error_of([&] { matmul(a, b); });
  CHECK(e.find("matmul") != std::string::npos);
  CHECK(e.find("[2, 3]") != std::string::npos);
  CHECK(e.find("[4, 5]") != std::string::npos);
  e = error_of([&] { matmul(rnd<float>({2, 3, 4}, 1), rnd<float>({3, 4, 5}, 2)); });
  CHECK(e.find("matmul") != std::string::npos);
  CHECK(e.find("[2, 3, 4]") != std::string::npos);
  CHECK(e.find("[3, 4, 5]") != std::string::npos);
  e = error_of([&] { matmul(rnd<float>({3}, 1), rnd<float>({4}, 2)); });
  CHECK(e.find("[3]") != std::string::npos);
  CHECK(e.find("[4]") != std::string::npos);
  e = error_of([&] { matmul(full<float>({}, 1.0f), rnd<float>({4}, 2)); });
  CHECK(e.find("matmul") != std::string::npos);
  CHECK(e.find("at least 1 dimension") != std::string::npos);
  e = error_of([&] { linear(rnd<float>({2, 3}, 1), rnd<float>({5, 4}, 2)); });
  CHECK(e.find("linear") != std::string::npos);
  CHECK(e.find("[2, 3]") != std::string::npos);
  CHECK(e.find("[5, 4]") != std::string::npos);
  e = error_of([&] { linear(rnd<float>({2, 4}, 1), rnd<float>({5, 4}, 2), rnd<float>({4}, 3)); });
  CHECK(e.find("linear") != std::string::npos);
  CHECK(e.find("bias") != std::string::npos);
  CHECK_THROWS_AS(linear(rnd<float>({2, 4}, 1), rnd<float>({5, 4, 1}, 2)), Error);
}

namespace {
/// Restores fp32 products on the CPU however the scope ends.
struct CpuPrecisionScope {
  explicit CpuPrecisionScope(MatmulPrecision p) { set_float32_matmul_precision(p, Device::cpu()); }
  ~CpuPrecisionScope() { set_float32_matmul_precision(MatmulPrecision::highest, Device::cpu()); }
};

/// A·B in double from the operands rounded to bf16 (what bf16 products compute, up to the fp32
/// accumulation order).
std::vector<double> bf16_reference(const Tensor<float>& a, const Tensor<float>& b) {
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  const auto va = a.contiguous().to_vector(), vb = b.contiguous().to_vector();
  std::vector<double> out(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) {
      const double x = float(bf16(va[size_t(i * k + p)]));
      for (int64_t j = 0; j < n; ++j) out[size_t(i * n + j)] += x * float(bf16(vb[size_t(p * n + j)]));
    }
  return out;
}
}  // namespace

TEST_CASE("matmul: MatmulPrecision::medium on the CPU runs bf16 products (fp32 accumulation)") {
  Generator g(11);
  // Large enough to be split across threads (m·n·k ≥ kSplitGemm), and a small one.
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{130, 70, 90}, {3, 5, 4}}) {
    CAPTURE(m);
    Tensor<float> a = randn<float>({m, k}, g), bt = randn<float>({n, k}, g), bias = randn<float>({n}, g);
    const std::vector<float> fp32 = matmul(a, bt.t()).to_vector();
    const std::vector<double> ref = bf16_reference(a, bt.t());
    const std::vector<float> fp32_lin = linear(a, bt, bias).to_vector();
    std::vector<float> got, got_t, got_lin;
    {
      CpuPrecisionScope scope(MatmulPrecision::medium);
      CHECK(get_float32_matmul_precision(Device::cpu()) == MatmulPrecision::medium);
      got = matmul(a, bt.t()).to_vector();                    // B column-major
      got_t = matmul(a.t().contiguous().t(), bt.t().contiguous()).to_vector();  // A column-major
      got_lin = linear(a, bt, bias).to_vector();              // bias rows + β = 1
    }
    CHECK(get_float32_matmul_precision(Device::cpu()) == MatmulPrecision::highest);
    const std::vector<float> b = bias.to_vector();
    double worst_ref = 0, worst_fp32 = 0, scale = 1;
    for (size_t i = 0; i < ref.size(); ++i) scale = std::max(scale, std::fabs(ref[i]));
    for (size_t i = 0; i < ref.size(); ++i) {
      const double lin = double(got_lin[i]) - double(b[i % size_t(n)]);
      worst_ref = std::max(worst_ref, std::fabs(double(got[i]) - ref[i]));
      worst_ref = std::max(worst_ref, std::fabs(double(got_t[i]) - ref[i]));
      worst_ref = std::max(worst_ref, std::fabs(lin - ref[i]));
      worst_fp32 = std::max(worst_fp32, std::fabs(double(got[i]) - double(fp32[i])));
    }
    if (cpu_info().bf16_products) {
      // Equal to the product of the bf16-rounded operands to fp32 accumulation error, and
      // visibly different from the fp32 product (the inputs were rounded).
      CHECK(worst_ref <= 1e-5 * scale);
      if (m > 10) CHECK(worst_fp32 > 1e-4 * scale);
    } else {
      // No bf16 arithmetic here: the setting changes nothing.
      CHECK(got == fp32);
      CHECK(got_lin == fp32_lin);
    }
  }
}
