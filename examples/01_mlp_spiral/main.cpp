// examples/01_mlp_spiral — a two-layer MLP learns the classic 3-arm spiral (CS231n's toy problem:
// 3 classes of 2-D points on interleaved spiral arms, which no linear model can separate).
//
// Everything a training loop needs, written the way a user writes it with ember:
// parameters are tensors with requires_grad, the forward pass is ordinary ops, the loss is
// cross_entropy, backward() fills .grad(), and SGD is three lines under NoGradGuard.
// The program checks its own result: it exits non-zero unless training accuracy reaches 95%.
#include <ember/ember.hpp>

#include <cmath>
#include <cstdio>

using ember::Tensor;

int main() {
  ember::Generator gen(42);
  const int64_t classes = 3, per_class = 100, n = classes * per_class, hidden = 64;

  // ---- the data: points (r cos t, r sin t) with noise in t, one arm per class ----------------
  Tensor<float> x = ember::empty<float>({n, 2});
  Tensor<int64_t> y = ember::empty<int64_t>({n});
  for (int64_t c = 0; c < classes; ++c) {
    for (int64_t i = 0; i < per_class; ++i) {
      double r = double(i) / (per_class - 1);
      double t = c * 4.0 + 4.0 * r + 0.2 * gen.normal();
      int64_t row = c * per_class + i;
      x.data()[row * 2 + 0] = float(r * std::sin(t));
      x.data()[row * 2 + 1] = float(r * std::cos(t));
      y.data()[row] = c;
    }
  }

  // ---- the model: x·W1ᵀ + b1 → ReLU → ·W2ᵀ + b2, weights [out, in] as in PyTorch -------------
  auto w1 = ember::randn<float>({hidden, 2}, gen, 0.0, 1.0).requires_grad_();
  auto b1 = ember::zeros<float>({hidden}).requires_grad_();
  auto w2 = ember::randn<float>({classes, hidden}, gen, 0.0, 0.1).requires_grad_();
  auto b2 = ember::zeros<float>({classes}).requires_grad_();
  std::vector<Tensor<float>> params = {w1, b1, w2, b2};

  const double lr = 1.0;
  float loss_value = 0;
  for (int step = 0; step <= 2000; ++step) {
    Tensor<float> logits = ember::linear(ember::relu(ember::linear(x, w1, b1)), w2, b2);
    Tensor<float> loss = ember::cross_entropy(logits, y);
    for (auto& p : params) p.zero_grad();
    loss.backward();
    {
      ember::NoGradGuard no_grad;  // the update itself is not part of the graph
      for (auto& p : params) p.copy_(p - p.grad() * lr);
    }
    loss_value = loss.item();
    if (step % 500 == 0) std::printf("step %4d  loss %.4f\n", step, loss_value);
  }

  // ---- evaluate --------------------------------------------------------------------------------
  ember::NoGradGuard no_grad;
  Tensor<int64_t> pred = ember::argmax(ember::linear(ember::relu(ember::linear(x, w1, b1)), w2, b2), 1);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += pred.data()[i] == y.data()[i];
  double accuracy = double(correct) / n;
  std::printf("training accuracy: %.3f (final loss %.4f)\n", accuracy, loss_value);
  if (accuracy < 0.95) {
    std::printf("FAILED: expected at least 0.95\n");
    return 1;
  }
  return 0;
}
