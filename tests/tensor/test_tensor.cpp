// Tensor<T>: metadata, views sharing storage, contiguous/clone, casts, factories, printing, errors.
#include <sstream>
#include <string>

#include <doctest/doctest.h>
#include <ember/ember.hpp>

#include "support/test_util.hpp"
using ember::test::contains;

using namespace ember;

#define CHECK_ERROR_CONTAINS(expr, ...)                                          \
  do {                                                                           \
    bool thrown = false;                                                         \
    try {                                                                        \
      (void)(expr);                                                              \
    } catch (const ember::Error& e) {                                            \
      thrown = true;                                                             \
      for (const char* part : {__VA_ARGS__})                                     \
        CHECK_MESSAGE(contains(e.what(), part), "message: ", e.what(), " lacks ", part); \
    }                                                                            \
    CHECK_MESSAGE(thrown, "expected ember::Error from " #expr);                  \
  } while (0)

TEST_CASE("metadata and element access") {
  auto t = arange<float>(24.f).reshape({2, 3, 4});
  CHECK(t.dim() == 3);
  CHECK(t.numel() == 24);
  CHECK(t.size(-1) == 4);
  CHECK(t.size(0) == 2);
  CHECK(t.strides() == Shape{12, 4, 1});
  CHECK(t.is_contiguous());
  CHECK(t.at({1, 2, 3}) == 23.f);
  CHECK(t.at({-1, -1, -1}) == 23.f);
  CHECK_ERROR_CONTAINS(t.at({2, 0, 0}), "out of range", "[2, 3, 4]");
  CHECK_ERROR_CONTAINS(t.size(3), "dim 3", "out of range");
  CHECK_ERROR_CONTAINS(t.item(), "one element");
}

TEST_CASE("views share storage") {
  auto base = arange<float>(12.f).reshape({3, 4});
  auto tr = base.t();
  CHECK(tr.shape() == Shape{4, 3});
  CHECK(!tr.is_contiguous());
  CHECK(tr.at({3, 1}) == 7.f);
  auto sl = base.slice(1, 1, 4, 2);  // columns 1 and 3
  CHECK(sl.shape() == Shape{3, 2});
  CHECK(sl.at({2, 1}) == 11.f);
  auto sel = base.select(0, 1);
  CHECK(sel.shape() == Shape{4});
  CHECK(sel.at({0}) == 4.f);
  auto nar = base.narrow(0, 1, 2);
  CHECK(nar.at({0, 0}) == 4.f);
  sel.set({2}, 100.f);  // writes through to the base
  CHECK(base.at({1, 2}) == 100.f);
  auto un = base.unsqueeze(0);
  CHECK(un.shape() == Shape{1, 3, 4});
  CHECK(un.squeeze().shape() == Shape{3, 4});
  CHECK(un.squeeze(0).shape() == Shape{3, 4});
  auto ex = arange<float>(3.f).reshape({3, 1}).expand({2, 3, 4});
  CHECK(ex.shape() == Shape{2, 3, 4});
  CHECK(ex.strides() == Shape{0, 1, 0});
  CHECK(ex.at({1, 2, 3}) == 2.f);
  auto p = arange<float>(24.f).reshape({2, 3, 4}).permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.at({3, 1, 2}) == 23.f);
  // A contiguous view of a view is still a view.
  auto v = base.view({2, 6});
  CHECK(v.storage() == base.storage());
  CHECK(base.view({-1}).shape() == Shape{12});
}

TEST_CASE("reshape copies only when a view is impossible; view refuses") {
  auto base = arange<float>(12.f).reshape({3, 4});
  auto tr = base.t();
  CHECK_ERROR_CONTAINS(tr.view({12}), "view", "[4, 3]", "[12]");
  auto r = tr.reshape({12});
  CHECK(r.storage() != base.storage());
  CHECK(r.to_vector() == std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  // Merging dims that are contiguous among themselves works on a non-contiguous tensor.
  auto s = arange<float>(24.f).reshape({2, 3, 4}).slice(0, 0, 2).permute({0, 1, 2});
  CHECK(s.view({6, 4}).storage() == s.storage());
  CHECK_ERROR_CONTAINS(base.reshape({5, 3}), "reshape", "[5, 3]", "12 elements");
  CHECK_ERROR_CONTAINS(base.view({-1, -1}), "only one dimension can be -1");
}

TEST_CASE("contiguous, clone, casts, fill, copy_") {
  auto base = arange<float>(6.f).reshape({2, 3});
  auto c = base.t().contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(base.contiguous().storage() == base.storage());
  auto cl = base.clone();
  CHECK(cl.storage() != base.storage());
  auto d = base.to<double>();
  CHECK(d.at({1, 2}) == 5.0);
  auto h = from_vector<float>({1.0f, 1.0f / 3}).to<bf16>().to<float>();
  CHECK(h.at({1}) == 0.333984375f);
  auto i = from_vector<float>({1.7f, -2.2f}).to<int64_t>();
  CHECK(i.at({0}) == 1);
  CHECK(i.at({1}) == -2);
  auto z = zeros<float>({2, 3});
  z.slice(1, 1, 2).fill_(7.f);
  CHECK(z.to_vector() == std::vector<float>{0, 7, 0, 0, 7, 0});
  z.copy_(from_vector<float>({1, 2, 3}));  // broadcast row
  CHECK(z.to_vector() == std::vector<float>{1, 2, 3, 1, 2, 3});
  CHECK_ERROR_CONTAINS(z.copy_(zeros<float>({3, 3})), "copy_", "[3, 3]", "[2, 3]");
}

TEST_CASE("copy_ between overlapping views of one storage gives the values of the source") {
  // Each of these read elements that the copy had already overwritten before the fix.
  auto a = from_vector<float>({1, 2, 3, 4}).reshape({2, 2});
  a.copy_(a.t());
  CHECK(a.to_vector() == std::vector<float>{1, 3, 2, 4});
  auto s = from_vector<float>({1, 2, 3, 4});
  s.slice(0, 1, 4).copy_(s.slice(0, 0, 3));  // shift right by one
  CHECK(s.to_vector() == std::vector<float>{1, 1, 2, 3});
  auto r = from_vector<float>({1, 2, 3, 4});
  r.slice(0, 0, 3).copy_(r.slice(0, 1, 4));  // shift left by one
  CHECK(r.to_vector() == std::vector<float>{2, 3, 4, 4});
  auto v = from_vector<float>({5, 6, 7});
  v.copy_(v);  // a view onto itself: a no-op
  CHECK(v.to_vector() == std::vector<float>{5, 6, 7});
  auto disjoint = from_vector<float>({1, 2, 3, 4});
  disjoint.slice(0, 2, 4).copy_(disjoint.slice(0, 0, 2));  // no overlap: copied in place
  CHECK(disjoint.to_vector() == std::vector<float>{1, 2, 1, 2});
  // A destination whose elements share memory (expanded) is refused, not written in some order.
  auto row = zeros<float>({3});
  auto expanded = row.unsqueeze(0).expand({2, 3});
  CHECK_ERROR_CONTAINS(expanded.copy_(ones<float>({2, 3})), "copy_", "share one memory location");
}

TEST_CASE("factories") {
  CHECK(arange<int64_t>(5).to_vector() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(arange<double>(1.0, 2.0, 0.25).numel() == 4);
  CHECK(full<float>({2}, 3.5f).to_vector() == std::vector<float>{3.5f, 3.5f});
  CHECK(ones<float>({}).numel() == 1);
  CHECK(zeros<float>({0, 3}).numel() == 0);
  CHECK_ERROR_CONTAINS(from_vector<float>({1, 2, 3}, {2, 2}), "from_vector", "[2, 2]");
  Generator g1(5), g2(5);
  CHECK(randn<float>({10}, g1).to_vector() == randn<float>({10}, g2).to_vector());
  auto u = rand<double>({1000}, g1, -1.0, 1.0).to_vector();
  for (double v : u) REQUIRE((v >= -1.0 && v < 1.0));
}

TEST_CASE("printing") {
  std::ostringstream os;
  os << arange<float>(4.f).reshape({2, 2});
  CHECK(os.str() == "tensor([[0, 1],\n        [2, 3]], dtype=float32, shape=[2, 2])");
  std::ostringstream big;
  big << zeros<float>({100, 100});
  CHECK(contains(big.str(), "..."));
}

TEST_CASE("undefined tensors and CUDA without a backend give clear errors") {
  Tensor<float> u;
  CHECK(!u.defined());
  CHECK_ERROR_CONTAINS(u.numel(), "undefined");
  CHECK_ERROR_CONTAINS(zeros<float>({2}, Device::cuda(0)), "CUDA");
  CHECK_ERROR_CONTAINS(zeros<float>({2}).to(Device::cuda(0)), "CUDA");
  // This binary has no translation unit compiled by nvcc: the queries say so without throwing.
  CHECK_FALSE(ember::cuda::is_built());
  CHECK_FALSE(ember::cuda::is_available());
  CHECK(ember::cuda::device_count() == 0);
}

TEST_CASE("the caching allocator reuses freed blocks") {
  auto& alloc = cpu_allocator();
  { auto warm = empty<float>({1000, 1000}); }
  auto before = alloc.stats().system_allocations;
  for (int i = 0; i < 10; ++i) {
    auto t = empty<float>({1000, 1000});
    (void)t;
  }
  CHECK(alloc.stats().system_allocations == before);
}
