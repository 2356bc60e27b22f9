// Built against an installed ember through find_package(ember): proves the packaging works.
#include <ember/ember.hpp>

#include <cmath>
#include <iostream>

int main() {
  auto a = ember::arange<float>(6.f).reshape({2, 3}).requires_grad_();
  auto y = ember::sum(a * a);
  y.backward();
  // d/da sum(a²) = 2a, so the gradient at a[1][2] = 5 is 10.
  float g = a.grad().at({1, 2});
  std::cout << "consumer: sum = " << y.item() << ", grad[1][2] = " << g << "\n";
  return (y.item() == 55.f && std::abs(g - 10.f) < 1e-6f) ? 0 : 1;
}
