// The autograd engine: accumulation, broadcasting, retain_graph, detach, NoGradGuard,
// version-counter detection of in-place modification. Gradchecks through every view and copy:
// the op-case table (tests/support/op_cases.hpp, run by ember_test_ops).
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <ember/ember.hpp>

using namespace ember;
using TD = Tensor<double>;

static bool msg_contains(const std::function<void()>& f, const std::string& part) {
  try {
    f();
  } catch (const ember::Error& e) {
    if (std::string(e.what()).find(part) != std::string::npos) return true;
    MESSAGE("message was: ", e.what());
    return false;
  }
  MESSAGE("no ember::Error thrown");
  return false;
}

TEST_CASE("a tensor used twice accumulates both gradients") {
  auto x = from_vector<double>({1, 2, 3}).requires_grad_();
  auto y = x * x + x;  // dy/dx = 2x + 1
  y.backward(ones<double>({3}));
  CHECK(x.grad().to_vector() == std::vector<double>{3, 5, 7});
  // Backward again into the same leaf accumulates (PyTorch semantics).
  auto z = x * 2.0;
  z.backward(ones<double>({3}));
  CHECK(x.grad().to_vector() == std::vector<double>{5, 7, 9});
  x.zero_grad();
  CHECK(!x.grad().defined());
}

TEST_CASE("broadcast operands get gradients summed back to their shape") {
  auto a = ones<double>({2, 3}).requires_grad_();
  auto b = from_vector<double>({1, 2, 3}).requires_grad_();
  auto c = full<double>({2, 1}, 2.0).requires_grad_();
  auto y = (a + b) * c;  // [2,3]
  y.backward(ones<double>({2, 3}));
  CHECK(b.grad().shape() == Shape{3});
  CHECK(b.grad().to_vector() == std::vector<double>{4, 4, 4});
  CHECK(c.grad().shape() == Shape{2, 1});
  CHECK(c.grad().to_vector() == std::vector<double>{9, 9});
}

TEST_CASE("retain_graph, and a second backward through a freed graph throws") {
  auto x = from_vector<double>({2}).requires_grad_();
  auto y = exp(x);
  y.backward(ones<double>({1}), /*retain_graph=*/true);
  y.backward(ones<double>({1}));
  CHECK(x.grad().at({0}) == doctest::Approx(2 * std::exp(2.0)));
  CHECK(msg_contains([&] { y.backward(ones<double>({1})); }, "second time"));
}

TEST_CASE("backward on a non-scalar needs an explicit gradient; shapes are checked") {
  auto x = ones<double>({2}).requires_grad_();
  auto y = x * 3.0;
  CHECK(msg_contains([&] { y.backward(); }, "one-element"));
  CHECK(msg_contains([&] { y.backward(ones<double>({3})); }, "[3]"));
  CHECK(msg_contains([&] { ones<double>({1}).backward(); }, "does not require grad"));
}

TEST_CASE("detach and NoGradGuard cut the graph; the guard is exception-safe") {
  auto x = ones<double>({2}).requires_grad_();
  CHECK(!x.detach().requires_grad());
  {
    NoGradGuard g;
    CHECK(!(x * 2.0).requires_grad());
  }
  CHECK(is_grad_enabled());
  try {
    NoGradGuard g;
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  CHECK(is_grad_enabled());
  CHECK((x * 2.0).requires_grad());
}

TEST_CASE("in-place modification of a saved tensor is detected, also through a view") {
  auto x = from_vector<double>({1, 2}).requires_grad_();
  auto w = from_vector<double>({3, 4});
  auto y = x * w;  // saves w
  w.fill_(0.0);
  CHECK(msg_contains([&] { y.backward(ones<double>({2})); }, "mul: a tensor saved for backward"));

  auto base = from_vector<double>({1, 2, 3, 4});
  auto v = base.slice(0, 0, 2);
  auto y2 = x * v;
  base.slice(0, 2, 4).fill_(9.0);  // another view of the same storage
  CHECK(msg_contains([&] { y2.backward(ones<double>({2})); }, "modified by an in-place"));

  // In-place ops on tensors that require grad are refused while recording.
  CHECK(msg_contains([&] { x.fill_(1.0); }, "requires grad"));
}


TEST_CASE("post-accumulate-grad hooks run once per pass, after the gradient is complete") {
  auto w = from_vector<double>({1, 2}).requires_grad_();
  auto v = from_vector<double>({3}).requires_grad_();
  std::vector<std::string> order;
  std::vector<double> seen;
  auto id = w.register_post_accumulate_grad_hook([&](const TD& p) {
    order.push_back("w");
    seen = p.grad().to_vector();  // both uses of w already summed
  });
  v.register_post_accumulate_grad_hook([&](const TD&) { order.push_back("v"); });
  // w is used twice and v once, v nearer the loss: v's gradient is complete first.
  auto loss = sum(w * w) + sum(w * v) * 2.0;
  loss.backward();
  CHECK(seen == std::vector<double>{2 * 1 + 6, 2 * 2 + 6});  // 2w + 2v
  CHECK(order.size() == 2);
  // The hook may modify .grad() in place (what DDP's all-reduce does).
  w.remove_post_accumulate_grad_hook(id);
  w.zero_grad();
  w.register_post_accumulate_grad_hook([](const TD& p) {
    TD g = p.grad();
    for (int64_t i = 0; i < g.numel(); ++i) g.data()[i] *= 0.5;
  });
  sum(w * 4.0).backward();
  CHECK(w.grad().to_vector() == std::vector<double>{2, 2});
  CHECK(order.size() == 2);  // the removed hook stayed quiet; v got no gradient
  CHECK(msg_contains([&] { (w * 2.0).register_post_accumulate_grad_hook([](const TD&) {}); },
                     "only a leaf"));
}

TEST_CASE("autograd::queue_callback runs once the whole backward pass is done") {
  auto a = from_vector<double>({1}).requires_grad_();
  auto b = from_vector<double>({2}).requires_grad_();
  std::vector<double> at_end;
  int queued = 0;
  auto hook = [&](const TD&) {
    if (queued++ == 0)  // the first hook of the pass queues the callback (as DDP does)
      autograd::queue_callback([&] { at_end = {a.grad().item(), b.grad().item()}; });
  };
  a.register_post_accumulate_grad_hook(hook);
  b.register_post_accumulate_grad_hook(hook);
  sum((a * b) * 3.0).backward();
  CHECK(queued == 2);
  CHECK(at_end == std::vector<double>{6, 3});  // both gradients were complete
  CHECK(msg_contains([] { autograd::queue_callback([] {}); }, "no backward pass is running"));
}
