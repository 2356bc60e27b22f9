// Optimizers, gradient clipping and learning-rate schedules against PyTorch 1.13 / transformers
// 4.44 fixtures (tests/data/optim, tools/gen_optim_fixtures.py; tests/data/bert_tiny/
// train_steps, tools/gen_bert_fixtures.py), against an independent double-precision reference
// of the update equations, plus parameter groups, state_dict round trips and errors.
//
// Tolerances: float vs PyTorch float32: |a − b| <= 1e-7 + 1e-6·|b| (PyTorch's vectorized FMA paths
// round differently from our scalar loop by a few ulp); double vs the naive double reference:
// 1e-12 relative; schedules: 1e-12 (they come out bit-identical).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <ember/io/safetensors.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/ops/loss.hpp>
#include <ember/optim.hpp>
#include <ember/tensor/tensor.hpp>

#include <nlohmann/json.hpp>

using namespace ember;
namespace optim = ember::optim;

namespace {

const std::string kOptimDir = std::string(EMBER_TEST_DATA_DIR) + "/optim";
const std::string kBertDir = std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny";

io::SafetensorsFile& optim_fixture() {
  static io::SafetensorsFile f = io::SafetensorsFile::open(kOptimDir + "/optim.safetensors");
  return f;
}

/// Every element of `a` within abs + rel·|b| of `b`; reports the first mismatch.
template <class T, class U>
void check_close(const Tensor<T>& a, const Tensor<U>& b, double rel, double abs,
                 const std::string& what) {
  INFO(what);
  REQUIRE(a.shape() == b.shape());
  auto va = a.to_vector();
  auto vb = b.to_vector();
  for (std::size_t i = 0; i < va.size(); ++i) {
    double x = double(va[i]), y = double(vb[i]);
    if (!(std::fabs(x - y) <= abs + rel * std::fabs(y))) {
      FAIL_CHECK("element " << i << ": " << x << " vs expected " << y);
      return;
    }
  }
}

template <class T>
bool bit_identical(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape()) return false;
  auto va = a.to_vector(), vb = b.to_vector();
  return std::memcmp(va.data(), vb.data(), va.size() * sizeof(T)) == 0;
}

template <class T>
Tensor<T> leaf(const Tensor<T>& values) {
  Tensor<T> p = values.clone();
  p.requires_grad_();
  return p;
}

template <class T>
std::unique_ptr<optim::Optimizer<T>> make_fixture_optimizer(const std::string& name,
                                                            std::vector<Tensor<T>> params) {
  using namespace optim;
  if (name == "sgd") return std::make_unique<SGD<T>>(params, SGDOptions(0.1));
  if (name == "sgd_momentum")
    return std::make_unique<SGD<T>>(params, SGDOptions(0.1).momentum(0.9).dampening(0.0));
  if (name == "sgd_nesterov_wd")
    return std::make_unique<SGD<T>>(
        params, SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(0.01));
  if (name == "adam") return std::make_unique<Adam<T>>(params, AdamOptions(1e-2));
  if (name == "adam_wd")
    return std::make_unique<Adam<T>>(params, AdamOptions(1e-2).weight_decay(0.1));
  if (name == "adamw")
    return std::make_unique<AdamW<T>>(
        params, AdamWOptions(1e-2).betas(0.9, 0.999).eps(1e-8).weight_decay(0.1));
  if (name == "adamw_eps")
    return std::make_unique<AdamW<T>>(params,
                                      AdamWOptions(1e-2).eps(1e-6).weight_decay(0.01).amsgrad(false));
  FAIL("unknown optimizer " << name);
  return nullptr;
}

const char* const kOptimizers[] = {"sgd",  "sgd_momentum", "sgd_nesterov_wd", "adam",
                                   "adam_wd", "adamw",     "adamw_eps"};

/// The update equations written out naively in double, one element at a time (independent of
/// the library's kernels): returns the parameter after each of the 3 fixture steps.
std::vector<std::vector<double>> reference_steps(const std::string& name,
                                                 std::vector<double> p,
                                                 const std::vector<std::vector<double>>& grads) {
  struct Cfg {
    bool adam, decoupled, nesterov;
    double lr, momentum, wd, eps;
  };
  const std::map<std::string, Cfg> cfg = {
      {"sgd", {false, false, false, 0.1, 0.0, 0.0, 0}},
      {"sgd_momentum", {false, false, false, 0.1, 0.9, 0.0, 0}},
      {"sgd_nesterov_wd", {false, false, true, 0.1, 0.9, 0.01, 0}},
      {"adam", {true, false, false, 1e-2, 0, 0.0, 1e-8}},
      {"adam_wd", {true, false, false, 1e-2, 0, 0.1, 1e-8}},
      {"adamw", {true, true, false, 1e-2, 0, 0.1, 1e-8}},
      {"adamw_eps", {true, true, false, 1e-2, 0, 0.01, 1e-6}},
  };
  const Cfg c = cfg.at(name);
  std::vector<double> m(p.size(), 0.0), v(p.size(), 0.0);
  std::vector<std::vector<double>> out;
  for (int t = 1; t <= 3; ++t) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      double g = grads[t - 1][i];
      if (!c.adam) {
        if (c.wd != 0) g += c.wd * p[i];
        double d = g;
        if (c.momentum != 0) {
          m[i] = t == 1 ? g : c.momentum * m[i] + g;
          d = c.nesterov ? g + c.momentum * m[i] : m[i];
        }
        p[i] -= c.lr * d;
      } else {
        if (c.decoupled) p[i] *= 1 - c.lr * c.wd;
        else g += c.wd * p[i];
        m[i] = 0.9 * m[i] + 0.1 * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        double mhat = m[i] / (1 - std::pow(0.9, t));
        double vhat_sqrt = std::sqrt(v[i]) / std::sqrt(1 - std::pow(0.999, t));
        p[i] -= c.lr * mhat / (vhat_sqrt + c.eps);
      }
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace

// ---- optimizers vs PyTorch ----------------------------------------------------------------------

TEST_CASE("optimizers match PyTorch 1.13 after steps 1, 2, 3 (float)") {
  auto& f = optim_fixture();
  for (const char* name : kOptimizers) {
    CAPTURE(name);
    Tensor<float> p = leaf(f.get<float>("param0"));
    auto opt = make_fixture_optimizer<float>(name, {p});
    for (int i = 1; i <= 3; ++i) {
      p.set_grad(f.get<float>("grad" + std::to_string(i)));
      const uint64_t version = p.storage()->version();
      opt->step();
      CHECK(p.storage()->version() > version);  // the update is visible to autograd's checks
      check_close(p, f.get<float>(std::string(name) + ".step" + std::to_string(i)), 1e-6, 1e-7,
                  std::string(name) + " step " + std::to_string(i));
      CHECK(opt->step_count(0) == i);
    }
  }
}

TEST_CASE("optimizers in double: the PyTorch values, and a naive double reference to 1e-12") {
  auto& f = optim_fixture();
  std::vector<std::vector<double>> grads;
  for (int i = 1; i <= 3; ++i) grads.push_back(f.get<double>("grad" + std::to_string(i)).to_vector());
  for (const char* name : kOptimizers) {
    CAPTURE(name);
    Tensor<double> p = leaf(f.get<double>("param0"));
    auto ref = reference_steps(name, p.to_vector(), grads);
    auto opt = make_fixture_optimizer<double>(name, {p});
    for (int i = 1; i <= 3; ++i) {
      p.set_grad(from_vector(grads[i - 1], {3, 4}));
      opt->step();
      // float32 PyTorch vs double: the float rounding of the fixture dominates.
      check_close(p, f.get<float>(std::string(name) + ".step" + std::to_string(i)), 2e-6, 1e-6,
                  "double vs PyTorch float32");
      check_close(p, from_vector(ref[i - 1], {3, 4}), 1e-12, 1e-14, "double vs naive reference");
    }
  }
}

TEST_CASE("Adam amsgrad keeps the running maximum of v") {
  // amsgrad is not in the fixture; check it against the equations with a gradient that shrinks,
  // so that max(v) differs from v.
  for (bool decoupled : {false, true}) {
    CAPTURE(decoupled);
    Tensor<double> p = leaf(from_vector<double>({0.5, -1.0, 2.0}));
    std::unique_ptr<optim::Optimizer<double>> opt;
    if (decoupled)
      opt = std::make_unique<optim::AdamW<double>>(std::vector<Tensor<double>>{p},
                                                   optim::AdamWOptions(0.1).amsgrad(true));
    else
      opt = std::make_unique<optim::Adam<double>>(std::vector<Tensor<double>>{p},
                                                  optim::AdamOptions(0.1).amsgrad(true));
    std::vector<double> pr = {0.5, -1.0, 2.0}, m(3, 0), v(3, 0), vmax(3, 0);
    const double gscale[] = {1.0, 0.01, 0.001, 0.5};
    for (int t = 1; t <= 4; ++t) {
      std::vector<double> g = {1.0 * gscale[t - 1], -2.0 * gscale[t - 1], 0.5 * gscale[t - 1]};
      p.set_grad(from_vector(g));
      opt->step();
      for (int i = 0; i < 3; ++i) {
        if (decoupled) pr[i] *= 1 - 0.1 * 0.01;
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        vmax[i] = std::max(vmax[i], v[i]);
        pr[i] -= 0.1 / (1 - std::pow(0.9, t)) * m[i] /
                 (std::sqrt(vmax[i]) / std::sqrt(1 - std::pow(0.999, t)) + 1e-8);
      }
      check_close(p, from_vector(pr), 1e-12, 1e-14, "amsgrad step " + std::to_string(t));
    }
  }
}

TEST_CASE("BERT recipe: bert_param_groups + clip_grad_norm_ + AdamW + linear warmup (bert_tiny)") {
  // train_steps.safetensors: two steps of the Hugging Face recipe on batch a. Step 1 runs with
  // lr 0 (warmup 1), so both steps see the same gradient, a.grad.* of golden.safetensors.
  auto model = io::SafetensorsFile::open(kBertDir + "/model.safetensors");
  auto golden = io::SafetensorsFile::open(kBertDir + "/golden.safetensors");
  auto steps = io::SafetensorsFile::open(kBertDir + "/train_steps.safetensors");
  nlohmann::json meta;
  std::ifstream(kBertDir + "/train_steps.json") >> meta;

  std::vector<std::pair<std::string, Tensor<float>>> named;
  for (const auto& key : model.keys()) named.emplace_back(key, leaf(model.get<float>(key)));
  auto groups = optim::bert_param_groups(named, 0.01);

  // The split is Hugging Face's, name for name.
  auto names_of = [&](const optim::ParamGroup<float>& g) {
    std::vector<std::string> out;
    for (const auto& p : g.params)
      for (const auto& [n, q] : named)
        if (q.is_same(p)) out.push_back(n);
    std::sort(out.begin(), out.end());
    return out;
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  CHECK(names_of(groups[0]) == sorted(meta["decay_params"].get<std::vector<std::string>>()));
  CHECK(names_of(groups[1]) == sorted(meta["no_decay_params"].get<std::vector<std::string>>()));

  optim::AdamW<float> opt(groups, optim::AdamWOptions(1e-3).betas(0.9, 0.999).eps(1e-8));
  optim::LinearWarmupDecay<float> sched(opt, 1, 4);
  CHECK(opt.param_groups()[0].weight_decay.value() == 0.01);
  CHECK(opt.param_groups()[1].weight_decay.value() == 0.0);

  std::vector<Tensor<float>> params;
  for (const auto& [n, p] : named) params.push_back(p);
  for (int step = 1; step <= 2; ++step) {
    CAPTURE(step);
    for (auto& [n, p] : named) p.set_grad(golden.get<float>("a.grad." + n));
    CHECK(opt.lr(0) == steps.get<double>("step" + std::to_string(step) + ".lr").item());
    float norm = optim::clip_grad_norm_(params, 1.0);
    CHECK(norm == doctest::Approx(steps.get<float>("step" + std::to_string(step) + ".grad_norm")
                                      .item())
                      .epsilon(1e-6));
    opt.step();
    sched.step();
    opt.zero_grad();
    CHECK(!params[0].grad().defined());
  }
  for (const auto& [n, p] : named)
    check_close(p, steps.get<float>("after2." + n), 1e-6, 1e-7, "after2." + n);
}

// ---- parameter groups ---------------------------------------------------------------------------

TEST_CASE("parameter groups: each group uses its own lr and weight decay") {
  Generator gen(7);
  auto a0 = randn<double>({4, 3}, gen), b0 = randn<double>({5}, gen);
  auto ga = randn<double>({4, 3}, gen), gb = randn<double>({5}, gen);

  SUBCASE("SGD: unset values take the options' defaults") {
    auto a = leaf(a0), b = leaf(b0);
    optim::SGD<double> opt(std::vector<optim::ParamGroup<double>>{{{a}, 0.5, 0.0}, {{b}, {}, {}}},
                           optim::SGDOptions(0.1).weight_decay(0.2));
    CHECK(opt.lr(0) == 0.5);
    CHECK(opt.lr(1) == 0.1);
    CHECK(*opt.param_groups()[1].weight_decay == 0.2);
    a.set_grad(ga);
    b.set_grad(gb);
    opt.step();
    auto va = a.to_vector(), vb = b.to_vector();
    for (int i = 0; i < 12; ++i) CHECK(va[i] == doctest::Approx(a0.to_vector()[i] - 0.5 * ga.to_vector()[i]));
    for (int i = 0; i < 5; ++i)
      CHECK(vb[i] == doctest::Approx(b0.to_vector()[i] -
                                     0.1 * (gb.to_vector()[i] + 0.2 * b0.to_vector()[i])));
  }

  SUBCASE("AdamW: two groups equal two separate optimizers, bit for bit") {
    auto a = leaf(a0), b = leaf(b0), a2 = leaf(a0), b2 = leaf(b0);
    optim::AdamW<double> both(
        std::vector<optim::ParamGroup<double>>{{{a}, 1e-2, 0.1}, {{b}, 3e-3, 0.0}},
        optim::AdamWOptions());
    optim::AdamW<double> only_a(std::vector<Tensor<double>>{a2},
                                optim::AdamWOptions(1e-2).weight_decay(0.1));
    optim::AdamW<double> only_b(std::vector<Tensor<double>>{b2},
                                optim::AdamWOptions(3e-3).weight_decay(0.0));
    for (int s = 0; s < 3; ++s) {
      for (auto* t : {&a, &a2}) t->set_grad(ga * double(s + 1));
      for (auto* t : {&b, &b2}) t->set_grad(gb - double(s));
      both.step();
      only_a.step();
      only_b.step();
    }
    CHECK(bit_identical(a, a2));
    CHECK(bit_identical(b, b2));
  }

  SUBCASE("add_param_group after construction; params without a gradient are skipped") {
    auto a = leaf(a0), b = leaf(b0);
    optim::Adam<double> opt(std::vector<Tensor<double>>{a}, optim::AdamOptions(0.01));
    opt.add_param_group({{b}, 0.02, {}});
    CHECK(opt.num_params() == 2);
    CHECK(opt.param_groups().size() == 2);
    a.set_grad(ga);  // b has no gradient
    opt.step();
    CHECK(opt.step_count(0) == 1);
    CHECK(opt.step_count(1) == 0);
    CHECK(bit_identical(b, b0));
    CHECK(!bit_identical(a, a0));
    opt.set_lr(0.5);
    CHECK(opt.lr(0) == 0.5);
    CHECK(opt.lr(1) == 0.5);
  }
}

TEST_CASE("a steady step allocates nothing; non-contiguous gradients are accepted") {
  Generator gen(3);
  auto p = leaf(randn<float>({64, 300}, gen));  // large enough to be split over threads
  optim::AdamW<float> opt(std::vector<Tensor<float>>{p}, optim::AdamWOptions(1e-3));
  auto g = randn<float>({64, 300}, gen);
  p.set_grad(g);
  opt.step();  // first step: the state buffers are created
  cpu_allocator().empty_cache();
  const auto before = cpu_allocator().stats();
  opt.step();
  opt.step();
  const auto after = cpu_allocator().stats();
  CHECK(after.system_allocations == before.system_allocations);
  CHECK(after.allocated == before.allocated);

  // The same update from a transposed (non-contiguous) gradient.
  auto q = leaf(randn<float>({3, 4}, gen));
  auto q2 = leaf(q.detach());
  auto gt = randn<float>({4, 3}, gen).t();
  REQUIRE(!gt.is_contiguous());
  optim::SGD<float> s1(std::vector<Tensor<float>>{q}, optim::SGDOptions(0.1).momentum(0.9));
  optim::SGD<float> s2(std::vector<Tensor<float>>{q2}, optim::SGDOptions(0.1).momentum(0.9));
  q.set_grad(gt);
  q2.set_grad(gt.contiguous());
  s1.step();
  s2.step();
  CHECK(bit_identical(q, q2));
}

// ---- state_dict ---------------------------------------------------------------------------------

TEST_CASE("state_dict round trip: a restored optimizer continues bit-identically") {
  Generator gen(11);
  auto a0 = randn<float>({3, 4}, gen), b0 = randn<float>({5}, gen);
  std::vector<Tensor<float>> grads_a, grads_b;
  for (int s = 0; s < 3; ++s) {
    grads_a.push_back(randn<float>({3, 4}, gen));
    grads_b.push_back(randn<float>({5}, gen));
  }
  using Factory = std::function<std::unique_ptr<optim::Optimizer<float>>(
      std::vector<optim::ParamGroup<float>>)>;
  const std::vector<std::pair<std::string, Factory>> factories = {
      {"SGD nesterov",
       [](auto g) {
         return std::make_unique<optim::SGD<float>>(
             g, optim::SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(1e-2));
       }},
      {"Adam amsgrad",
       [](auto g) {
         return std::make_unique<optim::Adam<float>>(g,
                                                     optim::AdamOptions(1e-2).amsgrad(true));
       }},
      {"AdamW", [](auto g) {
         return std::make_unique<optim::AdamW<float>>(g, optim::AdamWOptions(1e-2).eps(1e-6));
       }}};
  for (const auto& [label, make] : factories) {
    CAPTURE(label);
    auto a = leaf(a0), b = leaf(b0);
    auto opt = make({{{a}, {}, {}}, {{b}, 5e-3, 0.0}});
    for (int s = 0; s < 2; ++s) {
      a.set_grad(grads_a[s]);
      if (s == 1) b.set_grad(grads_b[s]);  // b gets its first update at step 2
      opt->step();
    }
    auto saved = opt->state_dict();
    auto a_saved = a.detach().clone(), b_saved = b.detach().clone();

    // The third step, in the original optimizer.
    a.set_grad(grads_a[2]);
    b.set_grad(grads_b[2]);
    opt->step();

    // A fresh optimizer (different hyperparameters on purpose) restored from the saved state.
    auto a2 = leaf(a_saved), b2 = leaf(b_saved);
    auto opt2 = make({{{a2}, 0.7, 0.3}, {{b2}, 0.7, 0.3}});
    opt2->load_state_dict(saved);
    CHECK(opt2->lr(0) == opt->lr(0));
    CHECK(opt2->lr(1) == 5e-3);
    CHECK(*opt2->param_groups()[1].weight_decay == 0.0);
    CHECK(opt2->step_count(0) == 2);
    CHECK(opt2->step_count(1) == 1);
    a2.set_grad(grads_a[2]);
    b2.set_grad(grads_b[2]);
    opt2->step();
    CHECK(bit_identical(a, a2));
    CHECK(bit_identical(b, b2));

    // The saved state was a copy: the third step did not change it.
    auto again = opt2->state_dict();
    CHECK(again.scalars.at("state.0.step") == 3.0);
    CHECK(saved.scalars.at("state.0.step") == 2.0);
  }
}

TEST_CASE("state_dict keys") {
  auto a = leaf(zeros<float>({2, 2})), b = leaf(zeros<float>({3}));
  optim::Adam<float> opt({{{a}, {}, {}}, {{b}, 0.5, 0.1}}, optim::AdamOptions(1e-3).betas(0.8, 0.9));
  a.set_grad(ones<float>({2, 2}));
  opt.step();
  auto s = opt.state_dict();
  CHECK(s.scalars.at("num_groups") == 2);
  CHECK(s.scalars.at("num_params") == 2);
  CHECK(s.scalars.at("group.1.lr") == 0.5);
  CHECK(s.scalars.at("group.1.weight_decay") == 0.1);
  CHECK(s.scalars.at("group.0.num_params") == 1);
  CHECK(s.scalars.at("beta1") == 0.8);
  CHECK(s.scalars.at("beta2") == 0.9);
  CHECK(s.scalars.at("amsgrad") == 0.0);
  CHECK(s.scalars.at("state.0.step") == 1);
  CHECK(s.scalars.count("state.1.step") == 0);  // b had no gradient: no state
  REQUIRE(s.tensors.size() == 2);
  CHECK(s.tensors[0].first == "state.0.exp_avg");
  CHECK(s.tensors[1].first == "state.0.exp_avg_sq");
  CHECK(s.find_tensor("state.0.exp_avg")->shape() == Shape{2, 2});
}

// ---- schedules ----------------------------------------------------------------------------------

TEST_CASE("LR schedules match transformers 4.44 (12 steps each)") {
  auto& f = optim_fixture();
  using Make = std::function<std::unique_ptr<optim::LRScheduler<float>>(optim::Optimizer<float>&)>;
  const std::vector<std::pair<std::string, Make>> cases = {
      {"linear_warmup3_total10",
       [](auto& o) { return std::make_unique<optim::LinearWarmupDecay<float>>(o, 3, 10); }},
      {"cosine_warmup3_total10",
       [](auto& o) { return std::make_unique<optim::CosineWarmupDecay<float>>(o, 3, 10); }},
      {"constant", [](auto& o) { return std::make_unique<optim::ConstantLR<float>>(o); }},
      {"constant_warmup3",
       [](auto& o) { return std::make_unique<optim::ConstantWarmup<float>>(o, 3); }},
  };
  for (const auto& [name, make] : cases) {
    CAPTURE(name);
    auto expected = f.get<double>("sched." + name).to_vector();
    REQUIRE(expected.size() == 12);
    auto p = leaf(zeros<float>({1}));
    optim::SGD<float> opt(std::vector<Tensor<float>>{p}, optim::SGDOptions(1e-3));
    auto sched = make(opt);
    for (int k = 0; k < 12; ++k) {
      CAPTURE(k);
      CHECK(std::fabs(opt.lr() - expected[k]) <= 1e-12 * std::fabs(expected[k]));
      CHECK(sched->get_last_lr()[0] == opt.lr());
      p.set_grad(zeros<float>({1}));
      opt.step();
      sched->step();
    }
  }
}

TEST_CASE("schedulers: per-group base lrs, LambdaLR, state_dict") {
  auto a = leaf(zeros<double>({1})), b = leaf(zeros<double>({1}));
  optim::AdamW<double> opt({{{a}, 1e-3, {}}, {{b}, 1e-4, {}}}, optim::AdamWOptions());
  optim::LinearWarmupDecay<double> sched(opt, 2, 6);
  CHECK(sched.base_lrs() == std::vector<double>{1e-3, 1e-4});
  CHECK(opt.lr(0) == 0.0);
  sched.step();
  CHECK(opt.lr(0) == 1e-3 * 0.5);
  CHECK(opt.lr(1) == 1e-4 * 0.5);
  sched.step();
  sched.step();
  CHECK(sched.last_step() == 3);
  CHECK(opt.lr(0) == 1e-3 * (3.0 / 4.0));
  auto state = sched.state_dict();
  CHECK(state.at("last_step") == 3);

  // Resume: a new optimizer + scheduler, loaded in either order, continues at step 3.
  auto a2 = leaf(zeros<double>({1})), b2 = leaf(zeros<double>({1}));
  optim::AdamW<double> opt2({{{a2}, 1e-3, {}}, {{b2}, 1e-4, {}}}, optim::AdamWOptions());
  opt2.load_state_dict(opt.state_dict());  // group lrs are now the scheduled ones
  optim::LinearWarmupDecay<double> sched2(opt2, 2, 6);
  sched2.load_state_dict(state);
  CHECK(sched2.base_lrs() == sched.base_lrs());
  CHECK(opt2.lr(0) == opt.lr(0));
  CHECK(opt2.lr(1) == opt.lr(1));
  sched.step();
  sched2.step();
  CHECK(opt2.lr(0) == opt.lr(0));

  optim::LambdaLR<double> half(opt, [](int64_t s) { return std::pow(0.5, double(s)); });
  CHECK(half.base_lrs()[0] == opt.lr(0));  // recorded before applying λ(0) = 1
  half.step();
  CHECK(opt.lr(0) == half.base_lrs()[0] * 0.5);

  // Cosine with several cycles, against the formula.
  optim::CosineWarmupDecay<double> cos(opt, 0, 8, 2.0);
  for (int s = 0; s < 8; ++s) {
    double lam = std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 2.0 * 2.0 * s / 8.0)));
    CHECK(cos.lr_lambda(s) == doctest::Approx(lam).epsilon(1e-14));
  }
}

// ---- clip_grad_norm_ ----------------------------------------------------------------------------

TEST_CASE("clip_grad_norm_ matches PyTorch, clipping and not") {
  auto& f = optim_fixture();
  for (std::string name : {"clip", "clip_noop"}) {
    CAPTURE(name);
    auto a = leaf(zeros<float>({3, 4})), b = leaf(zeros<float>({5}));
    auto g0 = f.get<float>(name + ".grad0"), g1 = f.get<float>(name + ".grad1");
    a.set_grad(g0.clone());
    b.set_grad(g1.clone());
    auto c = leaf(zeros<float>({2}));  // no gradient: skipped
    float norm = optim::clip_grad_norm_<float>({a, c, b}, 1.0);
    CHECK(norm == doctest::Approx(f.get<float>(name + ".total_norm").item()).epsilon(1e-6));
    check_close(a.grad(), f.get<float>(name + ".clipped0"), 1e-6, 1e-7, name + ".clipped0");
    check_close(b.grad(), f.get<float>(name + ".clipped1"), 1e-6, 1e-7, name + ".clipped1");
    if (name == "clip_noop") {
      CHECK(bit_identical(a.grad(), g0));
      CHECK(bit_identical(b.grad(), g1));
    } else {
      // After clipping the norm is max_norm (up to the 1e-6 in the denominator).
      CHECK(optim::clip_grad_norm_<float>({a, b}, 10.0) == doctest::Approx(1.0).epsilon(1e-5));
    }
  }
}

TEST_CASE("clip_grad_norm_: other norms, large and non-contiguous gradients, no gradients") {
  Generator gen(5);
  auto a = leaf(zeros<double>({4, 3})), b = leaf(zeros<double>({40000}));
  for (double p : {1.0, 2.0, 3.0, std::numeric_limits<double>::infinity()}) {
    CAPTURE(p);
    Tensor<double> ga = randn<double>({3, 4}, gen).t();  // non-contiguous gradient
    REQUIRE(!ga.is_contiguous());
    a.set_grad(ga);
    b.set_grad(randn<double>({40000}, gen));  // several blocks of the norm kernel
    auto ea = a.grad().to_vector(), eb = b.grad().to_vector();
    double s = 0, mx = 0;
    for (const auto* v : {&ea, &eb})
      for (double x : *v) {
        s += std::pow(std::fabs(x), p);
        mx = std::max(mx, std::fabs(x));
      }
    const double expected = std::isinf(p) ? mx : std::pow(s, 1.0 / p);
    const double max_norm = expected / 4.0;
    double norm = optim::clip_grad_norm_<double>({a, b}, max_norm, p);
    CHECK(norm == doctest::Approx(expected).epsilon(1e-12));
    const double coef = max_norm / (expected + 1e-6);
    auto va = a.grad().to_vector(), vb = b.grad().to_vector();
    CHECK(a.grad().is_same(ga));  // scaled in place, through the strided view
    for (std::size_t i = 0; i < va.size(); ++i)
      CHECK(va[i] == doctest::Approx(ea[i] * coef).epsilon(1e-12));
    for (std::size_t i = 0; i < vb.size(); i += 997)
      CHECK(vb[i] == doctest::Approx(eb[i] * coef).epsilon(1e-12));
  }
  CHECK(optim::clip_grad_norm_<double>({leaf(zeros<double>({3}))}, 1.0) == 0.0);
  CHECK(optim::clip_grad_norm_<double>({}, 1.0) == 0.0);
}

// ---- bert_param_groups --------------------------------------------------------------------------
TEST_CASE("bert_param_groups(model): no decay for every LayerNorm and bias, whatever its name") {
  // A LayerNorm registered as "ln_f" or "layer_norm" is a normalization layer all the same (the
  // name-based split decayed its weight); Hugging Face's Trainer decides by module type too.
  struct Net : nn::Module<float> {
    std::shared_ptr<nn::Linear<float>> proj;
    std::shared_ptr<nn::LayerNorm<float>> ln_f, layer_norm;
    Tensor<float> scale;
    Net() {
      proj = register_module("proj", std::make_shared<nn::Linear<float>>(4, 4));
      ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm<float>>(4));
      layer_norm = register_module("layer_norm", std::make_shared<nn::LayerNorm<float>>(4));
      scale = register_parameter("scale", ones<float>({4}));
    }
  } net;
  auto groups = optim::bert_param_groups(net, 0.01);
  REQUIRE(groups.size() == 2);
  // named_parameters order: scale (the module's own first), proj.weight, proj.bias, ln_f.weight,
  // ln_f.bias, layer_norm.weight, layer_norm.bias.
  REQUIRE(groups[0].params.size() == 2);
  CHECK(groups[0].params[0].is_same(net.scale));
  CHECK(groups[0].params[1].is_same(net.proj->weight));
  CHECK(groups[1].params.size() == 5);
  CHECK(*groups[0].weight_decay == 0.01);
  CHECK(*groups[1].weight_decay == 0.0);
  // The name-based form puts ln_f.weight and layer_norm.weight in the decayed group.
  auto by_name = optim::bert_param_groups(net.named_parameters(), 0.01);
  CHECK(by_name[0].params.size() == 4);
  // The name override still applies on top of the roles.
  auto custom = optim::bert_param_groups(net, 0.01, {"scale"});
  CHECK(custom[0].params.size() == 1);
  CHECK_THROWS_AS(optim::bert_param_groups(net, -1.0), Error);

  // On BERT the two agree: every LayerNorm is called LayerNorm there.
  auto bert = models::bert::bert_classifier_from_pretrained<float>(
      std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny");
  auto a = optim::bert_param_groups(*bert, 0.01);
  auto b = optim::bert_param_groups(bert->named_parameters(), 0.01);
  REQUIRE(a[0].params.size() == b[0].params.size());
  REQUIRE(a[1].params.size() == b[1].params.size());
  for (std::size_t i = 0; i < a[0].params.size(); ++i) CHECK(a[0].params[i].is_same(b[0].params[i]));
}


TEST_CASE("bert_param_groups splits decay and no-decay parameters by name") {
  std::vector<std::pair<std::string, Tensor<float>>> named;
  for (const char* n :
       {"embeddings.word_embeddings.weight", "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias", "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.0.attention.self.query.bias", "encoder.layer.0.output.LayerNorm.weight",
        "pooler.dense.weight", "classifier.bias"})
    named.emplace_back(n, leaf(zeros<float>({2})));
  named.emplace_back("frozen.weight", zeros<float>({2}));  // requires_grad false: left out
  auto groups = optim::bert_param_groups(named, 0.01);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].params.size() == 3);
  CHECK(groups[1].params.size() == 5);
  CHECK(groups[0].params[0].is_same(named[0].second));
  CHECK(groups[0].params[1].is_same(named[3].second));
  CHECK(groups[0].params[2].is_same(named[6].second));
  CHECK(*groups[0].weight_decay == 0.01);
  CHECK(*groups[1].weight_decay == 0.0);
  CHECK(!groups[0].lr.has_value());

  optim::AdamW<float> opt(groups, optim::AdamWOptions(2e-5));
  CHECK(opt.lr(0) == 2e-5);
  CHECK(opt.lr(1) == 2e-5);
  CHECK(*opt.param_groups()[1].weight_decay == 0.0);

  auto custom = optim::bert_param_groups(named, 0.1, {"bias"});
  CHECK(custom[1].params.size() == 3);
  CHECK_THROWS_AS(optim::bert_param_groups(named, -1.0), Error);
}

// ---- errors -------------------------------------------------------------------------------------

TEST_CASE("errors") {
  auto p = leaf(zeros<float>({3, 4}));
  std::vector<Tensor<float>> ps{p};
  using optim::AdamOptions;
  using optim::AdamWOptions;
  using optim::SGDOptions;

  CHECK_THROWS_WITH_AS(optim::SGD<float>(ps, SGDOptions(-0.1)),
                       "SGD: expected lr >= 0, found -0.1", Error);
  CHECK_THROWS_WITH_AS(optim::Adam<float>(ps, AdamOptions(-1.0)),
                       "Adam: expected lr >= 0, found -1", Error);
  CHECK_THROWS_WITH_AS(optim::AdamW<float>(ps, AdamWOptions().betas(0.9, 1.0)),
                       "AdamW: expected betas in [0, 1), found (0.9, 1)", Error);
  CHECK_THROWS_WITH_AS(optim::Adam<float>(ps, AdamOptions().betas(-0.1, 0.999)),
                       "Adam: expected betas in [0, 1), found (-0.1, 0.999)", Error);
  CHECK_THROWS_AS(optim::AdamW<float>(ps, AdamWOptions().eps(-1e-8)), Error);
  CHECK_THROWS_AS(optim::AdamW<float>(ps, AdamWOptions().weight_decay(-0.1)), Error);
  CHECK_THROWS_AS(optim::SGD<float>(ps, SGDOptions(0.1).momentum(-0.5)), Error);
  CHECK_THROWS_WITH_AS(optim::SGD<float>(ps, SGDOptions(0.1).nesterov(true)),
                       "SGD: nesterov momentum requires momentum > 0 and dampening 0, found "
                       "momentum 0 and dampening 0",
                       Error);
  CHECK_THROWS_WITH_AS(optim::SGD<float>(std::vector<Tensor<float>>{}, SGDOptions(0.1)),
                       "SGD: got an empty parameter list", Error);

  // Groups: negative group lr, a parameter twice, a non-leaf, a non-contiguous parameter.
  CHECK_THROWS_WITH_AS(optim::AdamW<float>({{{p}, -1e-3, {}}}, AdamWOptions()),
                       "AdamW: expected lr >= 0 for parameter group 0, found -0.001", Error);
  {
    optim::AdamW<float> opt(ps, AdamWOptions());
    CHECK_THROWS_AS(opt.add_param_group({{p}, {}, {}}), Error);
    CHECK_THROWS_AS(opt.add_param_group({{leaf(zeros<float>({4, 3})).t()}, {}, {}}), Error);
    CHECK(opt.param_groups().size() == 1);
    CHECK_THROWS_AS(opt.lr(3), Error);
    CHECK_THROWS_AS(opt.set_lr(-1.0), Error);

    // A gradient of the wrong shape.
    p.set_grad(zeros<float>({4, 3}));
    CHECK_THROWS_WITH_AS(opt.step(),
                         "AdamW::step: parameter 0 has shape [3, 4] but its gradient has shape "
                         "[4, 3]",
                         Error);
    p.zero_grad();
  }

  // Mismatched state.
  auto a = leaf(zeros<float>({3, 4})), b = leaf(zeros<float>({5}));
  optim::AdamW<float> two({a, b}, AdamWOptions());
  a.set_grad(ones<float>({3, 4}));
  b.set_grad(ones<float>({5}));
  two.step();
  auto state = two.state_dict();
  {
    optim::AdamW<float> one(ps, AdamWOptions(0.123));
    std::string msg;
    try {
      one.load_state_dict(state);
    } catch (const Error& e) {
      msg = e.what();
    }
    CHECK(msg.find("AdamW::load_state_dict") != std::string::npos);
    CHECK(msg.find("2 parameters [2]") != std::string::npos);  // theirs
    CHECK(msg.find("1 parameters [1]") != std::string::npos);  // ours
    CHECK(one.lr() == 0.123);                                   // unchanged
  }
  {
    auto x = leaf(zeros<float>({4, 3})), y = leaf(zeros<float>({5}));
    optim::AdamW<float> other({x, y}, AdamWOptions(0.5));
    CHECK_THROWS_WITH_AS(other.load_state_dict(state),
                         "AdamW::load_state_dict: \"state.0.exp_avg\" has shape [3, 4] but "
                         "parameter 0 has shape [4, 3]",
                         Error);
    CHECK(other.lr() == 0.5);
    CHECK(other.step_count(0) == 0);
  }
  {
    auto x = leaf(zeros<float>({3, 4})), y = leaf(zeros<float>({5}));
    optim::SGD<float> sgd({x, y}, SGDOptions(0.1));
    CHECK_THROWS_WITH_AS(sgd.load_state_dict(state),
                         "SGD::load_state_dict: the state has no scalar \"momentum\" (was it saved "
                         "by another kind of optimizer?)",
                         Error);
    optim::AdamW<float> ok({x, y}, AdamWOptions());
    auto extra = state;
    extra.tensors.emplace_back("state.9.exp_avg", zeros<float>({1}));
    CHECK_THROWS_AS(ok.load_state_dict(extra), Error);
    auto missing = state;
    missing.tensors.pop_back();
    CHECK_THROWS_AS(ok.load_state_dict(missing), Error);
    auto bad_beta = state;
    bad_beta.scalars["beta2"] = 1.5;
    CHECK_THROWS_WITH_AS(ok.load_state_dict(bad_beta),
                         "AdamW::load_state_dict: expected betas in [0, 1), found (0.9, 1.5)",
                         Error);
    ok.load_state_dict(state);
    CHECK(ok.step_count(1) == 1);
  }

  // Schedulers and clipping.
  {
    optim::AdamW<float> opt(ps, AdamWOptions());
    CHECK_THROWS_AS(optim::LinearWarmupDecay<float>(opt, -1, 10), Error);
    CHECK_THROWS_AS(optim::CosineWarmupDecay<float>(opt, 1, 10, -0.5), Error);
    optim::ConstantWarmup<float> sched(opt, 2);
    CHECK_THROWS_AS(sched.load_state_dict({{"last_step", 1.5}, {"base_lr.0", 1e-3}}), Error);
    CHECK_THROWS_AS(sched.load_state_dict({{"last_step", 1.0}}), Error);
    opt.add_param_group({{leaf(zeros<float>({2}))}, {}, {}});
    CHECK_THROWS_WITH_AS(sched.step(),
                         "LRScheduler: the optimizer has 2 parameter groups, but the scheduler "
                         "was built for 1",
                         Error);
  }
  p.set_grad(ones<float>({3, 4}));
  CHECK_THROWS_AS(optim::clip_grad_norm_(ps, -1.0), Error);
  CHECK_THROWS_AS(optim::clip_grad_norm_(ps, 1.0, 0.0), Error);
  p.set_grad(full<float>({3, 4}, std::numeric_limits<float>::infinity()));
  CHECK_THROWS_AS(optim::clip_grad_norm_(ps, 1.0, 2.0, /*error_if_nonfinite=*/true), Error);
}

// ---- gradient accumulation (docs/optim.md) ------------------------------------------------------

TEST_CASE("gradient accumulation over uneven micro-batches equals the full batch") {
  // A tiny classifier logits = x ⊙ w + b over 8 examples, 3 classes. One step on the full batch
  // with the mean loss must equal micro-batches of 3 and 5 examples whose summed losses are each
  // divided by 8 (the examples in the accumulated batch), as docs/optim.md recommends.
  Generator gen(21);
  auto x = randn<double>({8, 3}, gen);
  auto y = from_vector<int64_t>({0, 2, 1, 1, 0, 2, 2, 1});
  auto w0 = randn<double>({3}, gen), b0 = randn<double>({3}, gen);

  auto w = leaf(w0), b = leaf(b0);
  optim::AdamW<double> full_opt(std::vector<Tensor<double>>{w, b}, optim::AdamWOptions(1e-2));
  cross_entropy(x * w + b, y).backward();
  full_opt.step();

  auto w2 = leaf(w0), b2 = leaf(b0);
  optim::AdamW<double> acc_opt(std::vector<Tensor<double>>{w2, b2}, optim::AdamWOptions(1e-2));
  CrossEntropyOptions sum;
  sum.reduction = Reduction::Sum;
  const int64_t total = 8;  // examples in the accumulated batch
  for (auto [lo, hi] : {std::pair<int64_t, int64_t>{0, 3}, {3, 8}}) {
    auto loss = cross_entropy(x.slice(0, lo, hi) * w2 + b2, y.slice(0, lo, hi), sum) / double(total);
    loss.backward();  // gradients add up across micro-batches
  }
  acc_opt.step();
  check_close(w2, w, 1e-12, 1e-15, "w");
  check_close(b2, b, 1e-12, 1e-15, "b");
}
