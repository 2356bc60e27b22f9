// Tests of ember/nn/module.hpp and nn/init.hpp: registration and dotted names, PyTorch's
// ordering, tied weights, ModuleList, train/eval propagation, state_dict round trips, strict and
// non-strict loading with their error messages, to(Device), zero_grad, num_parameters, printing,
// initializers, and the user-defined MLP exactly as docs/nn.md shows it.
#include <ember/nn.hpp>
#include <ember/ops/loss.hpp>
#include <ember/ops/reduction.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_util.hpp"
using ember::test::error_of;
using ember::test::contains;

using namespace ember;

// ---- the user-defined module of docs/nn.md ("Writing your own module"), verbatim ----------------

// Linear → ReLU → Dropout → Linear.
struct MLP : nn::Module<float> {
  MLP(int64_t in, int64_t hidden, int64_t out, double p = 0.1) : nn::Module<float>("MLP") {
    fc1 = register_module("fc1", std::make_shared<nn::Linear<float>>(in, hidden));
    drop = register_module("drop", std::make_shared<nn::Dropout<float>>(p));
    fc2 = register_module("fc2", std::make_shared<nn::Linear<float>>(hidden, out));
  }

  // x [batch, in] → logits [batch, out]
  Tensor<float> forward(const Tensor<float>& x) const {
    return fc2->forward(drop->forward(relu(fc1->forward(x))));
  }

  std::shared_ptr<nn::Linear<float>> fc1, fc2;
  std::shared_ptr<nn::Dropout<float>> drop;
};

// ---- helpers ------------------------------------------------------------------------------------

namespace {

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor<float>>>& v) {
  std::vector<std::string> out;
  for (auto& [n, t] : v) out.push_back(n);
  return out;
}

// A module with its own parameter, a buffer, and two children, one of them nested.
struct Block : nn::Module<float> {
  Block() : nn::Module<float>("Block") {
    scale = register_parameter("scale", ones<float>({3}));
    inner = register_module("inner", std::make_shared<nn::Linear<float>>(3, 2));
    running = register_buffer("running", zeros<float>({2}));
    scratch = register_buffer("scratch", zeros<float>({5}), /*persistent=*/false);
    norm = register_module("norm", std::make_shared<nn::LayerNorm<float>>(2));
  }
  Tensor<float> scale, running, scratch;
  std::shared_ptr<nn::Linear<float>> inner;
  std::shared_ptr<nn::LayerNorm<float>> norm;
};

struct Net : nn::Module<float> {
  Net() : nn::Module<float>("Net") {
    embed = register_module("embed", std::make_shared<nn::Embedding<float>>(10, 3));
    block = register_module("block", std::make_shared<Block>());
    bias = register_parameter("bias", zeros<float>({2}));
  }
  std::shared_ptr<nn::Embedding<float>> embed;
  std::shared_ptr<Block> block;
  Tensor<float> bias;
};


}  // namespace

// ---- registration and names ---------------------------------------------------------------------

TEST_CASE(
    "Module: dotted names in PyTorch order (own parameters first, then children depth-first)") {
  Net net;
  // PyTorch's named_parameters: named_modules in pre-order, each module's own parameters.
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"bias", "embed.weight", "block.scale", "block.inner.weight",
                                 "block.inner.bias", "block.norm.weight", "block.norm.bias"});
  CHECK(names_of(net.named_parameters(/*recurse=*/false)) == std::vector<std::string>{"bias"});
  CHECK(names_of(net.named_buffers()) ==
        std::vector<std::string>{"block.running", "block.scratch"});
  // state_dict: per module its parameters, then its persistent buffers, then its children.
  CHECK(names_of(net.state_dict()) ==
        std::vector<std::string>{"bias", "embed.weight", "block.scale", "block.running",
                                 "block.inner.weight", "block.inner.bias", "block.norm.weight",
                                 "block.norm.bias"});
  std::vector<std::string> modules;
  for (auto& [name, m] : net.named_modules()) modules.push_back(name + ":" + m->type_name());
  CHECK(modules == std::vector<std::string>{":Net", "embed:Embedding", "block:Block",
                                            "block.inner:Linear", "block.norm:LayerNorm"});
  REQUIRE(net.children().size() == 2);
  CHECK(net.named_children()[1].first == "block");
  CHECK(net.child("block") == net.block);
  CHECK(net.child("nope") == nullptr);
}

TEST_CASE("Module: parameters require grad, buffers do not; handles are the registered tensors") {
  Net net;
  for (auto& p : net.parameters()) CHECK(p.requires_grad());
  for (auto& b : net.buffers()) CHECK_FALSE(b.requires_grad());
  CHECK(net.parameters()[0].is_same(net.bias));
  CHECK(net.named_parameters()[3].second.is_same(net.block->inner->weight));
  // A frozen parameter is listed but does not require grad.
  nn::Module<float> m;
  m.register_parameter("frozen", ones<float>({2}), /*requires_grad=*/false);
  REQUIRE(m.parameters().size() == 1);
  CHECK_FALSE(m.parameters()[0].requires_grad());
  CHECK(m.num_parameters() == 2);
  CHECK(m.num_parameters(/*trainable_only=*/true) == 0);
}

TEST_CASE("Module: registration errors name the module and the name") {
  Block b;
  CHECK(contains(error_of([&] { b.register_parameter("scale", ones<float>({1})); }),
                 "Block.register_parameter(\"scale\"): this module already has a parameter, "
                 "buffer or child with that name"));
  CHECK(contains(error_of([&] { b.register_buffer("inner", ones<float>({1})); }),
                 "already has a parameter, buffer or child"));
  CHECK(contains(
      error_of([&] { b.register_module("running", std::make_shared<nn::Module<float>>()); }),
      "already has a parameter, buffer or child"));
  CHECK(contains(error_of([&] { b.register_parameter("a.b", ones<float>({1})); }),
                 "must not contain '.'"));
  CHECK(
      contains(error_of([&] { b.register_parameter("", ones<float>({1})); }), "must not be empty"));
  CHECK(contains(error_of([&] { b.register_parameter("u", Tensor<float>()); }), "undefined"));
  CHECK(contains(error_of([&] { b.register_module("n", std::shared_ptr<nn::Linear<float>>()); }),
                 "null"));
}

TEST_CASE("Module: a non-leaf registered as parameter is detached into a leaf") {
  Tensor<float> a = ones<float>({2}).requires_grad_();
  Tensor<float> b = a * 2.0;
  nn::Module<float> m;
  Tensor<float> p = m.register_parameter("p", b);
  CHECK(p.is_leaf());
  CHECK(p.requires_grad());
  CHECK(p.to_vector() == std::vector<float>{2, 2});
}

TEST_CASE("Module: tied weights appear once in parameters(), under every name in state_dict()") {
  struct Tied : nn::Module<float> {
    Tied() : nn::Module<float>("Tied") {
      embed = register_module("embed", std::make_shared<nn::Embedding<float>>(5, 3));
      decoder = register_module("decoder", std::make_shared<nn::Module<float>>("Decoder"));
      decoder->register_parameter("weight", embed->weight);
    }
    std::shared_ptr<nn::Embedding<float>> embed;
    std::shared_ptr<nn::Module<float>> decoder;
  } t;
  CHECK(names_of(t.named_parameters()) == std::vector<std::string>{"embed.weight"});
  CHECK(t.num_parameters() == 15);
  CHECK(names_of(t.state_dict()) == std::vector<std::string>{"embed.weight", "decoder.weight"});
  CHECK(t.tied_state_keys() == std::map<std::string, std::string>{{"decoder.weight", "embed.weight"}});

  // A dict that stores the shared matrix once (as Hugging Face saves it) loads strictly with
  // nothing missing; given both names, the first one's value is kept (HF ties after loading).
  Tensor<float> w = arange<float>(15).view({5, 3});
  auto result = t.load_state_dict(nn::StateDict<float>{{"embed.weight", w}});
  CHECK(result.ok());
  CHECK(t.decoder->named_parameters()[0].second.to_vector() == w.to_vector());
  result = t.load_state_dict(nn::StateDict<float>{{"embed.weight", w * 2.0f}, {"decoder.weight", w}});
  CHECK(result.ok());
  CHECK(t.embed->weight.to_vector() == (w * 2.0f).to_vector());
  // Only the later name given: it still fills the one tensor.
  result = t.load_state_dict(nn::StateDict<float>{{"decoder.weight", w}}, /*strict=*/false);
  CHECK(t.embed->weight.to_vector() == w.to_vector());
}

TEST_CASE("ModuleList: children named 0, 1, ... and typed access") {
  nn::Module<float> root("Root");
  auto list = root.register_module("layer", std::make_shared<nn::ModuleList<float>>());
  auto l0 = list->push_back(std::make_shared<nn::Linear<float>>(2, 3));
  list->push_back(std::make_shared<nn::LayerNorm<float>>(3));
  CHECK(list->size() == 2);
  CHECK(
      names_of(root.named_parameters()) ==
      std::vector<std::string>{"layer.0.weight", "layer.0.bias", "layer.1.weight", "layer.1.bias"});
  CHECK(list->at<nn::Linear<float>>(0) == l0);
  CHECK((*list)[1]->type_name() == "LayerNorm");
  CHECK(contains(error_of([&] { list->at<nn::Linear<float>>(1); }), "not the requested type"));
  CHECK(contains(error_of([&] { (*list)[2]; }), "index 2 is out of range"));
  int n = 0;
  for (auto& m : *list) n += m != nullptr;
  CHECK(n == 2);
}

TEST_CASE("Module: train()/eval() propagate to every descendant") {
  Net net;
  CHECK(net.is_training());
  net.eval();
  for (auto& [name, m] : net.named_modules()) CHECK_FALSE(m->is_training());
  net.block->train();
  CHECK_FALSE(net.is_training());
  CHECK(net.block->inner->is_training());
  net.train();
  for (auto& [name, m] : net.named_modules()) CHECK(m->is_training());
}

// ---- state_dict / load_state_dict ---------------------------------------------------------------

TEST_CASE("state_dict: detached tensors sharing storage with the module") {
  Net net;
  auto sd = net.state_dict();
  for (auto& [k, t] : sd) CHECK_FALSE(t.requires_grad());
  CHECK(sd[1].first == "embed.weight");
  CHECK(sd[1].second.data() == net.embed->weight.data());
  sd[0].second.fill_(5.f);  // writing the state dict writes the module
  CHECK(net.bias.to_vector() == std::vector<float>{5, 5});
}

TEST_CASE("load_state_dict: round trip reproduces the outputs; handles stay valid") {
  manual_seed(1);
  MLP a(4, 8, 3), b(4, 8, 3);
  a.eval();
  b.eval();
  Tensor<float> x = randn<float>({5, 4});
  CHECK(a.forward(x).to_vector() != b.forward(x).to_vector());
  float* w_before = b.fc1->weight.data();
  nn::LoadResult r = b.load_state_dict(a.state_dict());
  CHECK(r.ok());
  CHECK(a.forward(x).to_vector() == b.forward(x).to_vector());
  CHECK(b.fc1->weight.data() == w_before);  // copied in place
  CHECK(b.fc1->weight.requires_grad());
  CHECK(b.fc1->weight.is_same(b.parameters()[0]));
  // Copies, not aliases: changing a afterwards leaves b alone.
  {
    NoGradGuard g;
    a.fc2->bias.fill_(3.f);
  }
  CHECK(b.fc2->bias.to_vector() != a.fc2->bias.to_vector());
}

TEST_CASE("load_state_dict: std::map, and double values into a float module") {
  MLP m(2, 3, 1);
  std::map<std::string, Tensor<double>> dict;
  dict["fc1.weight"] = full<double>({3, 2}, 0.5);
  dict["fc1.bias"] = full<double>({3}, -1.0);
  dict["fc2.weight"] = full<double>({1, 3}, 2.0);
  dict["fc2.bias"] = full<double>({1}, 0.25);
  CHECK(m.load_state_dict(dict).ok());
  CHECK(m.fc1->weight.to_vector() == std::vector<float>(6, 0.5f));
  CHECK(m.fc2->bias.item() == 0.25f);
  m.eval();
  // relu(0.5 + 0.5 - 1) = 0 for input [1, 1] → output = bias.
  CHECK(m.forward(ones<float>({1, 2})).item() == doctest::Approx(0.25));
}

TEST_CASE("load_state_dict (strict): missing and unexpected keys are listed; nothing is copied") {
  MLP m(2, 3, 1);
  auto before = m.fc1->weight.to_vector();
  nn::StateDict<float> sd = MLP(2, 3, 1).state_dict();
  sd.erase(sd.begin() + 3);  // fc2.bias
  sd.emplace_back("fc3.weight", zeros<float>({1}));
  std::string msg = error_of([&] { m.load_state_dict(sd); });
  CHECK(contains(msg, "load_state_dict (strict) failed for MLP"));
  CHECK(contains(msg, "missing key(s) [fc2.bias]"));
  CHECK(contains(msg, "unexpected key(s) [fc3.weight]"));
  CHECK(m.fc1->weight.to_vector() == before);

  // Non-strict: the matching keys load; the result lists the rest.
  nn::LoadResult r = m.load_state_dict(sd, /*strict=*/false);
  CHECK(r.missing_keys == std::vector<std::string>{"fc2.bias"});
  CHECK(r.unexpected_keys == std::vector<std::string>{"fc3.weight"});
  CHECK_FALSE(r.ok());
  CHECK(m.fc1->weight.to_vector() == sd[0].second.to_vector());
}

TEST_CASE("load_state_dict: a shape mismatch names the key and both shapes, even when not strict") {
  MLP m(2, 3, 1);
  auto before = m.fc2->weight.to_vector();
  nn::StateDict<float> sd = m.state_dict();
  sd[0].second = zeros<float>({3, 5});
  for (bool strict : {true, false}) {
    std::string msg = error_of([&] { m.load_state_dict(sd, strict); });
    CHECK(contains(msg, "size mismatch"));
    CHECK(contains(msg,
                   "\"fc1.weight\": the checkpoint has shape [3, 5], the module has shape [3, 2]"));
  }
  CHECK(m.fc2->weight.to_vector() == before);
  // A key given twice.
  nn::StateDict<float> dup = m.state_dict();
  dup.push_back(dup[0]);
  CHECK(contains(error_of([&] { m.load_state_dict(dup); }), "appears more than once"));
}

TEST_CASE("load_state_dict: buffers load; non-persistent buffers are neither saved nor expected") {
  Net a, b;
  {
    NoGradGuard g;
    a.block->running.fill_(7.f);
    a.block->scratch.fill_(9.f);
  }
  auto sd = a.state_dict();
  CHECK(sd.size() == 8);
  CHECK(b.load_state_dict(sd).ok());
  CHECK(b.block->running.to_vector() == std::vector<float>{7, 7});
  CHECK(b.block->scratch.to_vector() == std::vector<float>(5, 0.f));
}

// ---- to, zero_grad, printing --------------------------------------------------------------------

TEST_CASE("Module::to: CPU is a no-op keeping handles; CUDA without the backend throws") {
  MLP m(2, 3, 1);
  float* p = m.fc1->weight.data();
  m.to(Device::cpu());
  CHECK(m.fc1->weight.data() == p);
  if (ember::detail::device_copy_slot() == nullptr) CHECK_THROWS_AS(m.to(Device::cuda(0)), Error);
}

TEST_CASE("Module::zero_grad drops every gradient; num_parameters counts elements") {
  MLP m(4, 8, 3);
  CHECK(m.num_parameters() == 4 * 8 + 8 + 8 * 3 + 3);
  m.eval();
  Tensor<float> loss = sum(m.forward(randn<float>({2, 4})));
  loss.backward();
  for (auto& p : m.parameters()) CHECK(p.grad().defined());
  m.zero_grad();
  for (auto& p : m.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("Module printing: repr and the tree like PyTorch") {
  MLP m(4, 8, 3);
  CHECK(m.fc1->repr() == "Linear(in_features=4, out_features=8)");
  CHECK(nn::Linear<float>(nn::LinearOptions(2, 1).bias(false)).repr() ==
        "Linear(in_features=2, out_features=1, bias=false)");
  std::ostringstream os;
  os << m;
  CHECK(os.str() ==
        "MLP(\n"
        "  (fc1): Linear(in_features=4, out_features=8)\n"
        "  (drop): Dropout(p=0.1)\n"
        "  (fc2): Linear(in_features=8, out_features=3)\n"
        ")");
}

// ---- the docs' MLP trains ----------------------------------------------------------------------

TEST_CASE(
    "MLP from docs/nn.md: names, a training loop that lowers the loss, eval is deterministic") {
  manual_seed(0);
  auto model = std::make_shared<MLP>(4, 16, 3);
  CHECK(names_of(model->named_parameters()) ==
        std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  Generator gen(5);
  Tensor<float> x = randn<float>({8, 4}, gen);
  Tensor<int64_t> y = from_vector<int64_t>({0, 1, 2, 0, 1, 2, 0, 1}, {8});

  model->train();
  float first = 0, last = 0;
  for (int step = 0; step < 100; ++step) {
    model->zero_grad();
    Tensor<float> loss = cross_entropy(model->forward(x), y);
    loss.backward();
    {
      NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.copy_(p - p.grad() * 0.5);
    }
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  CHECK(last < first * 0.5f);

  model->eval();
  CHECK(model->forward(x).to_vector() == model->forward(x).to_vector());
}

// ---- init ------------------------------------------------------------------------------------

TEST_CASE("init: normal_ is seeded and has the requested moments; constants; xavier bounds") {
  Tensor<double> a = empty<double>({200, 100}), b = empty<double>({200, 100});
  Generator g1(3), g2(3);
  nn::init::normal_(a, 1.0, 0.5, g1);
  nn::init::normal_(b, 1.0, 0.5, g2);
  CHECK(a.to_vector() == b.to_vector());
  auto v = a.to_vector();
  double m = 0, s = 0;
  for (double e : v) m += e;
  m /= v.size();
  for (double e : v) s += (e - m) * (e - m);
  s = std::sqrt(s / v.size());
  CHECK(m == doctest::Approx(1.0).epsilon(0.01));
  CHECK(s == doctest::Approx(0.5).epsilon(0.02));

  Tensor<float> p = ones<float>({3}).requires_grad_();
  nn::init::constant_(p, 2.5);  // allowed on a parameter: runs under NoGradGuard
  CHECK(p.to_vector() == std::vector<float>(3, 2.5f));
  nn::init::zeros_(p);
  CHECK(p.to_vector() == std::vector<float>(3, 0.f));
  nn::init::ones_(p);
  CHECK(p.to_vector() == std::vector<float>(3, 1.f));

  Tensor<double> w = empty<double>({30, 20});
  Generator g3(4);
  nn::init::xavier_uniform_(w, 1.0, g3);
  double bound = std::sqrt(6.0 / 50.0), mx = 0;
  for (double e : w.to_vector()) mx = std::max(mx, std::abs(e));
  CHECK(mx <= bound);
  CHECK(mx > 0.9 * bound);
  CHECK_THROWS_WITH_AS(nn::init::xavier_uniform_(empty<double>({3})),
                       doctest::Contains("at least 2 dims, found shape [3]"), Error);
}

TEST_CASE("init: layers start as BERT does (normal(0, 0.02) weights, zero biases, padding row 0)") {
  Generator gen(11);
  nn::Linear<double> lin(nn::LinearOptions(256, 128).generator(&gen));
  auto w = lin.weight.to_vector();
  double s = 0;
  for (double e : w) s += e * e;
  CHECK(std::sqrt(s / w.size()) == doctest::Approx(0.02).epsilon(0.03));
  CHECK(lin.bias.to_vector() == std::vector<double>(128, 0.0));

  nn::Embedding<float> emb(nn::EmbeddingOptions(6, 4).padding_idx(-1).initializer_range(1.0));
  CHECK(*emb.options().padding_idx() == 5);
  CHECK(emb.weight.select(0, 5).to_vector() == std::vector<float>(4, 0.f));
  CHECK(emb.weight.select(0, 0).to_vector() != std::vector<float>(4, 0.f));

  nn::LayerNorm<float> ln(nn::LayerNormOptions({2, 3}));
  CHECK(ln.weight.to_vector() == std::vector<float>(6, 1.f));
  CHECK(ln.bias.to_vector() == std::vector<float>(6, 0.f));

  // The same generator seed gives the same weights.
  Generator g1(2), g2(2);
  nn::Linear<float> l1(nn::LinearOptions(3, 3).generator(&g1)),
      l2(nn::LinearOptions(3, 3).generator(&g2));
  CHECK(l1.weight.to_vector() == l2.weight.to_vector());
}
