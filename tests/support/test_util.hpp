// Small helpers shared by ember's tests. Test binaries are unity builds (all files of a binary in
// one translation unit), so shared helpers live here, defined once.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <ember/tensor/tensor.hpp>

namespace ember::test {
/// tests/data (fixtures) and SST-2's dev split bundled with the examples.
inline const std::string kDataDir = EMBER_TEST_DATA_DIR;
inline const std::string kSst2Dev = kDataDir + "/../../examples/data/sst2/dev.tsv";
/// True when `part` occurs in `s` (error-message checks).
inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
/// The message of the ember::Error that `f` throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
/// A double leaf ~ N(mean, std²) that requires grad, drawn from Generator(seed).
inline Tensor<double> leaf(const Shape& shape, uint64_t seed, double mean = 0.0, double std = 1.0) {
  Generator gen(seed);
  Tensor<double> t = randn<double>(shape, gen, mean, std);
  t.requires_grad_();
  return t;
}
/// A non-contiguous [rows, cols] leaf: the transpose of a contiguous [cols, rows] tensor.
inline Tensor<double> transposed_leaf(int64_t rows, int64_t cols, uint64_t seed) {
  Generator gen(seed);
  Tensor<double> t = randn<double>({cols, rows}, gen).t();
  t.requires_grad_();
  return t;
}
/// Elementwise |got − want| ≤ tol·(1 + |want|).
inline void check_close(const Tensor<double>& got, const Tensor<double>& want, double tol) {
  std::vector<double> g = got.to_vector(), w = want.to_vector();
  REQUIRE(g.size() == w.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    CAPTURE(i);
    CHECK(std::abs(g[i] - w[i]) <= tol * (1.0 + std::abs(w[i])));
  }
}
/// max|a − b| ≤ rtol · max|b| + atol over all elements (one tolerance per tensor, relative to its
/// largest value: how fixtures from float32 references are compared).
inline void check_max_close(const Tensor<float>& a, const Tensor<float>& b, double rtol,
                            const std::string& what, double atol = 1e-12) {
  REQUIRE_MESSAGE(a.shape() == b.shape(), what, ": shapes ", a.shape(), " vs ", b.shape());
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  double d = 0, m = 0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    d = std::max(d, std::abs(double(va[i]) - double(vb[i])));
    m = std::max(m, std::abs(double(vb[i])));
  }
  CHECK_MESSAGE(d <= rtol * m + atol, what, ": max|diff| ", d, " > ", rtol, " * max|ref| ", m);
}
}  // namespace ember::test
