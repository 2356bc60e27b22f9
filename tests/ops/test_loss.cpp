// Tests of ember/ops/loss.hpp (cross_entropy, kl_div, distillation_loss): stability, PyTorch reference values for
// ignore_index / label smoothing / every reduction (with gradients), errors. Gradchecks: the op-case table (tests/support/op_cases.hpp).
#include <ember/ops/loss.hpp>

#include <ember/autograd/gradcheck.hpp>
#include <ember/io/safetensors.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

using namespace ember;

namespace {
template <class F>
std::string loss_error(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
bool mentions(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol).scale(1.0));
  }
}
CrossEntropyOptions ce_opts(int64_t ignore, double smoothing, Reduction red) {
  CrossEntropyOptions o;
  o.ignore_index = ignore;
  o.label_smoothing = smoothing;
  o.reduction = red;
  return o;
}

// Reference case (PyTorch 1.13, float64, F.cross_entropy): logits [4, 4], target row 1 ignored.
const std::vector<double> kLogits = {1.0, 2.0,  0.5,  -1.0, 0.0,  -2.0, 3.0,  1.5,
                                     2.5, 2.5,  -0.5, 0.0,  -1.0, 0.25, 0.75, 4.0};
const std::vector<int64_t> kTargets = {2, -100, 0, 3};
// Output gradient for reduction='none' (PyTorch: (loss * w).sum().backward()).
const std::vector<double> kRowWeights = {0.3, -0.7, 1.1, 0.9};
}  // namespace

TEST_CASE_TEMPLATE("cross_entropy: logits [1e8, 1e8] with target 0 give ln 2 (stable)", T, float,
                   double) {
  Tensor<T> x = from_vector<T>({T(1e8), T(1e8)}, {1, 2});
  x.requires_grad_();
  Tensor<T> loss = cross_entropy(x, from_vector<int64_t>({0}, {1}));
  CHECK(loss.dim() == 0);
  CHECK(double(loss.item()) == doctest::Approx(std::log(2.0)).epsilon(1e-6));
  loss.backward();
  CHECK(double(x.grad().at({0, 0})) == doctest::Approx(-0.5).epsilon(1e-6));
  CHECK(double(x.grad().at({0, 1})) == doctest::Approx(0.5).epsilon(1e-6));
  // Very negative and mixed-scale logits stay finite.
  Tensor<T> y = from_vector<T>({T(-1e8), T(0), T(1e4)}, {1, 3});
  CHECK(double(cross_entropy(y, from_vector<int64_t>({2}, {1})).item()) == doctest::Approx(0.0));
  CHECK(double(cross_entropy(y, from_vector<int64_t>({1}, {1})).item()) ==
        doctest::Approx(1e4).epsilon(1e-6));
}

TEST_CASE("cross_entropy: PyTorch reference values (ignore_index, label smoothing, reductions)") {
  Tensor<int64_t> t = from_vector<int64_t>(kTargets, {4});
  struct Case {
    const char* name;
    CrossEntropyOptions opt;
    std::vector<double> loss, grad;
  };
  const std::vector<Case> cases = {
      {"mean", ce_opts(-100, 0.0, Reduction::Mean), {0.9396446662824313},
       {0.07473593934940037, 0.20315334586629236, -0.28800369473549814, 0.010114409519805408, 0, 0,
        0, 0, -0.17697623363002302, 0.1563570997033103, 0.007784561612729628,
        0.012834572313983031, 0.0021009537072681672, 0.007333048976116798, 0.01209015382600956,
        -0.021524156509394543}},
      {"mean, label_smoothing 0.2", ce_opts(-100, 0.2, Reduction::Mean), {1.2229779996157646},
       {0.05806927268273371, 0.1864866791996257, -0.23800369473549815, -0.006552257146861259, 0, 0,
        0, 0, -0.12697623363002303, 0.13969043303664364, -0.008882105053937038,
        -0.003832094352683635, -0.0145657129593985, -0.00933361769054987, -0.004576512840657106,
        0.028475843490605446}},
      {"sum, label_smoothing 0.2", ce_opts(-100, 0.2, Reduction::Sum), {3.6689339988472938},
       {0.17420781804820112, 0.5594600375988771, -0.7140110842064946, -0.019656771440583778, 0, 0,
        0, 0, -0.380928700890069, 0.4190712991099311, -0.026646315161811113,
        -0.011496283058050899, -0.0436971388781955, -0.02800085307164961, -0.01372953852197132,
        0.08542753047181628}},
      {"none, label_smoothing 0.2", ce_opts(-100, 0.2, Reduction::None),
       {1.970181898085856, 0.0, 1.0320004984017355, 0.6667516023597022},
       {0.05226234541446035, 0.16783801127966316, -0.21420332526194835, -0.00589703143217513, 0, 0,
        0, 0, -0.41902157097907605, 0.46097842902092406, -0.02931094667799223,
        -0.012645911363855998, -0.039327424990375955, -0.025200767764484648,
        -0.012356584669774186, 0.07688477742463473}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Tensor<double> x = from_vector<double>(kLogits, {4, 4});
    x.requires_grad_();
    Tensor<double> loss = cross_entropy(x, t, c.opt);
    if (c.opt.reduction == Reduction::None) {
      CHECK(loss.shape() == Shape{4});
      loss.backward(from_vector<double>(kRowWeights, {4}));
    } else {
      CHECK(loss.shape() == Shape{});
      loss.backward();
    }
    check_close(loss.to_vector(), c.loss, 1e-12);
    check_close(x.grad().to_vector(), c.grad, 1e-12);
  }

  // ignore_index may be a valid class: targets [2, 1, 0, 3] with ignore_index 0 skip row 2.
  Tensor<double> x = from_vector<double>(kLogits, {4, 4});
  x.requires_grad_();
  Tensor<double> loss =
      cross_entropy(x, from_vector<int64_t>({2, 1, 0, 3}, {4}), ce_opts(0, 0.0, Reduction::Mean));
  CHECK(loss.item() == doctest::Approx(2.436174715985119).epsilon(1e-12));
  loss.backward();
  check_close(x.grad().to_vector(),
              {0.07473593934940037, 0.20315334586629236, -0.28800369473549814,
               0.010114409519805408, 0.012968876126547728, -0.3315781868094864,
               0.26048684029202146, 0.05812247039091721, 0, 0, 0, 0, 0.0021009537072681672,
               0.007333048976116798, 0.01209015382600956, -0.021524156509394543},
              1e-12);
}

TEST_CASE("cross_entropy: float agrees with the double reference") {
  std::vector<float> lf(kLogits.begin(), kLogits.end());
  Tensor<float> x = from_vector<float>(lf, {4, 4});
  x.requires_grad_();
  Tensor<float> loss = cross_entropy(x, from_vector<int64_t>(kTargets, {4}),
                                     ce_opts(-100, 0.2, Reduction::Mean));
  CHECK(double(loss.item()) == doctest::Approx(1.2229779996157646).epsilon(1e-6));
  loss.backward();
  CHECK(double(x.grad().at({0, 2})) == doctest::Approx(-0.23800369473549815).epsilon(1e-5));
}

TEST_CASE("cross_entropy: every target ignored gives NaN (as PyTorch) with a zero gradient") {
  Tensor<double> x = from_vector<double>(kLogits, {4, 4});
  x.requires_grad_();
  Tensor<int64_t> t = full<int64_t>({4}, -100);
  Tensor<double> loss = cross_entropy(x, t, ce_opts(-100, 0.1, Reduction::Mean));
  CHECK(std::isnan(loss.item()));
  loss.backward();
  CHECK(x.grad().to_vector() == std::vector<double>(16, 0.0));
  // Sum and None are 0.
  CHECK(cross_entropy(x, t, ce_opts(-100, 0.0, Reduction::Sum)).item() == 0.0);
  CHECK(cross_entropy(x, t, ce_opts(-100, 0.0, Reduction::None)).to_vector() ==
        std::vector<double>(4, 0.0));
}

TEST_CASE("cross_entropy: label smoothing 1 and per-position logits [N, C, d]") {
  // ε = 1: the loss is mean_c(−log p_c), independent of the target.
  Tensor<double> x = from_vector<double>(kLogits, {4, 4});
  double a = cross_entropy(x, from_vector<int64_t>({0, 1, 2, 3}, {4}), ce_opts(-100, 1.0, Reduction::Sum)).item();
  double b = cross_entropy(x, from_vector<int64_t>({3, 3, 1, 0}, {4}), ce_opts(-100, 1.0, Reduction::Sum)).item();
  CHECK(a == doctest::Approx(b).epsilon(1e-12));

  // [N, C, d] equals the [N*d, C] computation on the moved class dim.
  Generator gen(5);
  Tensor<double> x3 = randn<double>({2, 4, 3}, gen);
  Tensor<int64_t> t3 = from_vector<int64_t>({0, 3, -100, 1, 2, 2}, {2, 3});
  Tensor<double> none3 = cross_entropy(x3, t3, ce_opts(-100, 0.1, Reduction::None));
  CHECK(none3.shape() == Shape{2, 3});
  Tensor<double> rows = x3.permute({0, 2, 1}).reshape({6, 4});
  Tensor<double> none2 = cross_entropy(rows, t3.reshape({6}), ce_opts(-100, 0.1, Reduction::None));
  check_close(none3.to_vector(), none2.to_vector(), 1e-14);

  // One sample: logits [C], target 0-d.
  Tensor<double> one = from_vector<double>({1.0, 2.0, 3.0}, {3});
  Tensor<int64_t> t0 = from_vector<int64_t>({2}, {1}).view(Shape{});
  double expected = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  CHECK(cross_entropy(one, t0).item() == doctest::Approx(expected).epsilon(1e-14));
  CHECK(cross_entropy(one, t0, ce_opts(-100, 0.0, Reduction::None)).shape() == Shape{});
}

TEST_CASE("cross_entropy: bad input throws, naming the target, C and the shapes") {
  Tensor<double> x = zeros<double>({3, 5});
  std::string e = loss_error([&] { cross_entropy(x, from_vector<int64_t>({1, 5, 0}, {3})); });
  CHECK(mentions(e, "cross_entropy"));
  CHECK(mentions(e, "target 5"));
  CHECK(mentions(e, "5 classes"));
  CHECK(mentions(e, "[1]"));  // its position

  e = loss_error([&] { cross_entropy(x, from_vector<int64_t>({1, -1, 0}, {3})); });
  CHECK(mentions(e, "target -1"));

  e = loss_error([&] { cross_entropy(x, from_vector<int64_t>({1, 2}, {2})); });
  CHECK(mentions(e, "cross_entropy"));
  CHECK(mentions(e, "[3, 5]"));
  CHECK(mentions(e, "[2]"));

  e = loss_error([&] {
    cross_entropy(x, from_vector<int64_t>({1, 2, 0}, {3}), ce_opts(-100, 1.5, Reduction::Mean));
  });
  CHECK(mentions(e, "label_smoothing"));

  CHECK_THROWS_AS(cross_entropy(zeros<double>({3, 0}), from_vector<int64_t>({0, 0, 0}, {3})), Error);
}

TEST_CASE("cross_entropy: fixtures tests/data/ops (PyTorch, float64; tools/gen_op_fixtures.py)") {
  // cross_entropy: ignore_index -100 (two rows), label_smoothing 0.1, mean;
  // cross_entropy_plain: the same without smoothing. grad_input = d(output · grad_output)/d input.
  auto file = io::SafetensorsFile::open(EMBER_TEST_DATA_DIR "/ops/ops.safetensors");
  for (const char* op : {"cross_entropy", "cross_entropy_plain"}) {
    const std::string k = op;
    INFO(op);
    Tensor<double> x = file.get<double>(k + ".input");
    x.requires_grad_();
    Tensor<int64_t> t = file.get<int64_t>(k + ".target");
    CrossEntropyOptions o;
    o.label_smoothing = k == "cross_entropy" ? 0.1 : 0.0;
    Tensor<double> loss = cross_entropy(x, t, o);
    const double w = file.get<double>(k + ".grad_output").to_vector().at(0);
    check_close(loss.to_vector(), file.get<double>(k + ".output").to_vector(), 1e-12);
    loss.backward(full<double>(Shape{}, w));
    check_close(x.grad().to_vector(), file.get<double>(k + ".grad_input").to_vector(), 1e-12);
  }
}

// Reference values: PyTorch 2.15, float64, F.kl_div (target with a zero: xlogy gives 0) and
// F.kl_div(F.log_softmax(s / T), F.softmax(t / T), reduction="batchmean") * T**2.
TEST_CASE("kl_div and distillation_loss: PyTorch reference values, errors") {
  const Tensor<double> x = from_vector<double>({-1.2, -0.3, -2.0, -0.7, -1.1, -1.6}, {2, 3});
  const Tensor<double> t = from_vector<double>({0.2, 0.8, 0.0, 0.5, 0.25, 0.25}, {2, 3});
  CHECK(kl_div(x, t, Reduction::Sum).item() == doctest::Approx(-0.03512319437810579).epsilon(1e-12));
  CHECK(kl_div(x, t).item() == doctest::Approx(-0.005853865729684299).epsilon(1e-12));
  CHECK(kl_div(x, t, Reduction::None).shape() == Shape{2, 3});
  CHECK(kl_div(x, t, Reduction::None).to_vector()[2] == 0.0);  // 0 · log 0 = 0
  const Tensor<double> lt = log(from_vector<double>({0.3, 0.6, 0.1, 0.5, 0.25, 0.25}, {2, 3}));
  CHECK(kl_div(x, lt, Reduction::Sum, true).item() ==
        doctest::Approx(-0.17266649569669773).epsilon(1e-12));

  const Tensor<double> s = from_vector<double>({1.0, -0.5, 0.25, 0.3, 2.0, -1.0}, {2, 3});
  const Tensor<double> te = from_vector<double>({2.0, 0.5, -1.0, -0.2, 1.5, 0.7}, {2, 3});
  const std::pair<double, double> ref[] = {
      {1.0, 0.261788222380041}, {2.0, 0.411335662116983}, {4.0, 0.48813421823687775}};
  for (auto [T, want] : ref) {
    CAPTURE(T);
    CHECK(distillation_loss(s, te, T).item() == doctest::Approx(want).epsilon(1e-12));
    CHECK(distillation_loss(s, te, T, Reduction::Sum).item() ==
          doctest::Approx(2 * want).epsilon(1e-12));
  }
  CHECK(distillation_loss(s, s, 3.0).item() == doctest::Approx(0.0));  // same logits: no loss
  // The teacher gets no gradient, the student does.
  Tensor<double> sg = s.detach().requires_grad_(), tg = te.detach().requires_grad_();
  distillation_loss(sg, tg, 2.0).backward();
  CHECK(sg.grad().defined());
  CHECK(!tg.grad().defined());

  CHECK_THROWS_WITH_AS(kl_div(x, t.view({3, 2})), doctest::Contains("same shape"), Error);
  CHECK_THROWS_WITH_AS(distillation_loss(s, te.view({3, 2}), 2.0),
                       doctest::Contains("same shape [N, C]"), Error);
  CHECK_THROWS_WITH_AS(distillation_loss(s, te, 0.0), doctest::Contains("temperature"), Error);
  CHECK_THROWS_WITH_AS(distillation_loss(s, te, std::nan("")), doctest::Contains("temperature"),
                       Error);
}
