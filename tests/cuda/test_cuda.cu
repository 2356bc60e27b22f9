// The CUDA test suite: every op the BERT fine-tuning step uses, run on the GPU and on the CPU
// from the same random inputs, forward and backward, compared element by element.
//
// The ops come from the one op-case table, tests/support/op_cases.hpp (also gradchecked on the
// CPU by tests/ops/test_op_cases.cpp): every case and shape set runs here in float and in
// double. The tests below it are the GPU-only ones (copies, reduced-precision GEMMs, fused
// attention, optimizers, pinned memory, tiny BERT, memory).
//
// Tolerances (issue 5): fp32 within 1e-5 relative (per tensor: max|gpu − cpu| ≤ 1e-5·max(1,
// max|cpu|)), fp64 within 1e-12, TF32 GEMMs within 1e-3, bf16 GEMMs within 1e-2. Shapes are chosen to be awkward: odd
// and prime sizes, non-square matrices, transposed (non-contiguous) operands, broadcasting,
// empty tensors, and tensors large enough to need many thread blocks.
//
// Every device allocation is poisoned (filled with 0xFF bytes: NaN for float and double) while
// these tests run (`ember::cuda::set_poison_allocations`), so an element a kernel forgot to write
// comes out as NaN and fails the comparison instead of passing by luck.
//
// Fused attention has no CPU counterpart: it is compared with the unfused path (matmul → scaled
// masked softmax → dropout → matmul) on the same GPU, switched with
// `ember::cuda::set_fused_attention`, from the same inputs and generator seed.
//
// The NCCL case (built when CMake finds NCCL: ember::nccl) runs a group of one through every
// collective and DistributedDataParallel's bucketed step on the GPU; the many-rank runs need
// several GPUs (docs/distributed.md).
//
// Without a usable CUDA device the program prints "skipped: no CUDA device" and exits with 77,
// which CTest reports as skipped (SKIP_RETURN_CODE in tests/CMakeLists.txt): never a silent pass.
#include <ember/cuda.hpp>

#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "support/op_cases.hpp"

#ifdef EMBER_HAVE_NCCL
#include <ember/distributed/ddp.hpp>
#include <ember/distributed/nccl.hpp>
#endif

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace ember;

namespace {

const Device kGpu = Device::cuda(0);

template <class T>
double tolerance() {
  return std::is_same_v<T, double> ? 1e-12 : 1e-5;
}

/// max|a − b| ≤ rtol·max(1, max|b|), NaN where b is NaN and nowhere else. `b` is the CPU result.
template <class T>
void check_close(const Tensor<T>& gpu, const Tensor<T>& cpu, const std::string& what,
                 double rtol = tolerance<T>()) {
  REQUIRE_MESSAGE(gpu.defined() == cpu.defined(), what, ": defined differs");
  if (!cpu.defined()) return;
  REQUIRE_MESSAGE(gpu.device() == kGpu, what, ": result is on ", gpu.device());
  REQUIRE_MESSAGE(gpu.shape() == cpu.shape(), what, ": shape ", gpu.shape(), " vs ", cpu.shape());
  std::vector<T> g = gpu.to(Device::cpu()).to_vector(), c = cpu.to_vector();
  double diff = 0, ref = 1;
  int64_t nan_mismatch = -1;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const double gv = double(g[i]), cv = double(c[i]);
    if (std::isnan(cv) || std::isnan(gv)) {
      if (std::isnan(cv) != std::isnan(gv) && nan_mismatch < 0) nan_mismatch = int64_t(i);
      continue;
    }
    if (std::isinf(cv) || std::isinf(gv)) {
      if (cv != gv && nan_mismatch < 0) nan_mismatch = int64_t(i);
      continue;
    }
    diff = std::max(diff, std::abs(gv - cv));
    ref = std::max(ref, std::abs(cv));
  }
  CHECK_MESSAGE(nan_mismatch < 0, what, ": NaN/inf mismatch at flat index ", nan_mismatch,
                " (an unwritten element reads as NaN)");
  CHECK_MESSAGE(diff <= rtol * ref, what, ": max|gpu - cpu| = ", diff, " > ", rtol, " * ", ref);
}

template <class T>
Tensor<T> random(const Shape& shape, uint64_t seed, double mean = 0.0, double std = 1.0) {
  Generator g(seed);
  return randn<T>(shape, g, mean, std);
}

/// Runs `f` on CPU leaves made from `inputs` and on GPU copies of them; compares the outputs and,
/// after backward with the same random output gradient, every input's gradient.
template <class T>
void compare_op(const std::string& name, const std::vector<Tensor<T>>& inputs,
                const std::function<Tensor<T>(const std::vector<Tensor<T>>&)>& f,
                double rtol = tolerance<T>(), bool backward = true) {
  CAPTURE(name);
  std::vector<Tensor<T>> cpu_in, gpu_in;
  for (const Tensor<T>& t : inputs) {
    cpu_in.push_back(t.detach().clone().requires_grad_(backward));
    gpu_in.push_back(t.detach().to(kGpu).requires_grad_(backward));
  }
  Tensor<T> yc = f(cpu_in), yg = f(gpu_in);
  check_close(yg, yc, name + " forward", rtol);
  if (!backward) return;
  Tensor<T> dy = random<T>(yc.shape(), 99);
  yc.backward(dy);
  yg.backward(dy.to(kGpu));
  for (std::size_t i = 0; i < inputs.size(); ++i)
    check_close(gpu_in[i].grad(), cpu_in[i].grad(), name + " grad of input " + std::to_string(i), rtol);
}

/// Poisons every device allocation for the scope of a test.
struct Poison {
  Poison() { cuda::set_poison_allocations(true); }
  ~Poison() { cuda::set_poison_allocations(false); }
};

using Inputs = std::vector<Tensor<float>>;

}  // namespace

TEST_CASE("copies: to(), clone of non-contiguous views, fill_, copy_, empty tensors") {
  Poison poison;
  Tensor<float> a = random<float>({7, 13, 5}, 1);
  Tensor<float> g = a.to(kGpu);
  CHECK(g.device() == kGpu);
  check_close(g, a, "round trip");
  check_close(g.permute({2, 0, 1}).contiguous(), a.permute({2, 0, 1}).contiguous(), "permute");
  check_close(g.slice(1, 2, 11).clone(), a.slice(1, 2, 11).clone(), "slice");
  check_close(g.transpose(0, 2).to(Device::cpu()).to(kGpu), a.transpose(0, 2).contiguous(), "to of a view");
  Tensor<float> z = zeros<float>({0, 4}, kGpu);
  CHECK(z.numel() == 0);
  check_close(full<float>({3, 1025}, 2.5f, kGpu), full<float>({3, 1025}, 2.5f), "fill");
  Tensor<int64_t> ids = full<int64_t>({5}, int64_t(7), kGpu);
  CHECK(ids.to(Device::cpu()).to_vector() == std::vector<int64_t>(5, 7));
  Tensor<float> dst = zeros<float>({4, 6}, kGpu), src = random<float>({6}, 2);
  {
    NoGradGuard ng;
    dst.copy_(src);  // broadcast copy, host → device
  }
  check_close(dst, src.expand({4, 6}).contiguous(), "copy_");
  CHECK(sum(g).item() == doctest::Approx(sum(a).item()).epsilon(1e-5));
}

namespace {

/// The builder of `c` for T.
template <class T>
const std::function<Tensor<T>(const test::opcase::Args<T>&)>& builder(const test::OpCase& c) {
  if constexpr (std::is_same_v<T, float>)
    return c.f32;
  else
    return c.f64;
}

/// Set j of table case `c` on the GPU against the CPU in T, from the same values: the output,
/// then (after backward with the same output gradient) every floating input's gradient, within
/// rtol. Inputs keep their layout on the GPU (views of a base copied there); every device
/// allocation is poisoned, so an element a kernel forgot to write reads as NaN and fails.
template <class T>
void compare_case(const test::OpCase& c, std::size_t j, double rtol) {
  namespace oc = test::opcase;
  const bool bwd = oc::runs_backward(c, c.sets[j]);
  const oc::Args<T> ac = oc::make_args<T>(c, j, Device::cpu(), bwd);
  const oc::Args<T> ag = oc::make_args<T>(c, j, kGpu, bwd);
  Tensor<T> yc = builder<T>(c)(ac), yg = builder<T>(c)(ag);
  check_close(yg, yc, c.name + " forward", rtol);
  if (!bwd) return;
  const Tensor<T> dy = oc::output_grad<T>(yc.shape());
  yc.backward(dy);
  yg.backward(dy.to(kGpu));
  for (std::size_t i = 0; i < ac.x.size(); ++i)
    if (ac.x[i].requires_grad())
      check_close(ag.x[i].grad(), ac.x[i].grad(), c.name + " grad of input " + std::to_string(i),
                  rtol);
}

/// Every case and shape set of the table in T (a failing set names the case and its index).
template <class T>
void run_op_case_table() {
  Poison poison;
  for (const test::OpCase& c : test::op_cases()) {
    SUBCASE(c.name.c_str()) {
      for (std::size_t j = 0; j < c.sets.size(); ++j) {
        CAPTURE(j);
        try {
          compare_case<T>(c, j, std::is_same_v<T, float> ? c.tol.f32 : c.tol.f64);
        } catch (const Error& e) {
          FAIL_CHECK((std::string("threw: ") + e.what()));
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("op-case table (tests/support/op_cases.hpp): every case GPU vs CPU in float") {
  run_op_case_table<float>();
}

TEST_CASE("op-case table: every case GPU vs CPU in double") { run_op_case_table<double>(); }

TEST_CASE("comparisons on the GPU give the CPU's masks (float and int64 tensors)") {
  Poison poison;
  Tensor<float> a = random<float>({6, 1, 9}, 11);
  Tensor<bool> mc = gt(a, 0.1), mg = gt(a.to(kGpu), 0.1);
  CHECK(mg.to(Device::cpu()).to_vector() == mc.to_vector());
  Tensor<int64_t> am = full<int64_t>({2, 5}, int64_t(1));
  CHECK(eq(am.to(kGpu), 0.0).to(Device::cpu()).to_vector() == eq(am, 0.0).to_vector());
}

namespace {
/// Sets the fp32 matmul precision for a scope, and back to `highest` after, whatever happens.
struct PrecisionScope {
  explicit PrecisionScope(cuda::MatmulPrecision p) { cuda::set_float32_matmul_precision(p); }
  ~PrecisionScope() { cuda::set_float32_matmul_precision(cuda::MatmulPrecision::highest); }
};
}  // namespace

TEST_CASE("reduced-precision GEMMs only on request: TF32 within 1e-3, bf16 within 1e-2") {
  Poison poison;
  REQUIRE(cuda::get_float32_matmul_precision() == cuda::MatmulPrecision::highest);
  Tensor<float> a = random<float>({256, 384}, 33), b = random<float>({384, 128}, 34);
  auto mm = [](const Inputs& v) { return matmul(v[0], v[1]); };
  auto mm_t = [](const Inputs& v) { return matmul(v[0].transpose(-2, -1), v[1]); };
  {
    PrecisionScope high(cuda::MatmulPrecision::high);
    compare_op<float>("tf32 matmul", {a, b}, mm, 1e-3);
  }
  {
    PrecisionScope medium(cuda::MatmulPrecision::medium);
    compare_op<float>("bf16 matmul", {a, b}, mm, 1e-2);
    compare_op<float>("bf16 batched, transposed, odd sizes",
                      {random<float>({3, 67, 33}, 35), random<float>({3, 67, 19}, 36)}, mm_t, 1e-2);
    compare_op<double>("double matmul ignores the fp32 precision",
                       {random<double>({6, 10}, 37), random<double>({10, 4}, 38)},
                       [](const std::vector<Tensor<double>>& v) { return matmul(v[0], v[1]); });
  }
  cuda::set_allow_tf32(true);
  CHECK(cuda::get_float32_matmul_precision() == cuda::MatmulPrecision::high);
  cuda::set_allow_tf32(false);
  compare_op<float>("fp32 matmul again", {a, b}, mm);
}

namespace {

/// True when the backward graph of `t` contains a node named `name` (which path an op took).
template <class T>
bool graph_has(const Tensor<T>& t, const std::string& name) {
  std::vector<std::shared_ptr<autograd::Node>> stack;
  std::set<const autograd::Node*> seen;
  if (t.grad_fn()) stack.push_back(t.grad_fn());
  while (!stack.empty()) {
    std::shared_ptr<autograd::Node> n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n.get()).second) continue;
    if (name == n->name()) return true;
    for (const auto& m : n->next) stack.push_back(m);
  }
  return false;
}

/// Restores the fused-attention switch (on) however the scope ends.
struct FusedAttentionScope {
  explicit FusedAttentionScope(bool on) { cuda::set_fused_attention(on); }
  ~FusedAttentionScope() { cuda::set_fused_attention(true); }
};

/// One fused-vs-unfused attention case: q [b, h, sq, d], k and v [b, h, sk, d], built as
/// permuted views of [b, s, h, d] leaves (as MultiHeadAttention does) when `permuted`; mask 0:
/// none, 1: padding [b, 1, 1, sk] (batch 0 entirely masked, batch i its last 3·i keys), 2: causal
/// [sq, sk] (lowest above the diagonal, broadcast over batch and heads); dropout p when p > 0.
struct AttnCase {
  int64_t b, h, sq, sk, d;
  bool permuted;
  int mask;
  double p;
};

/// The result of one attention run on the GPU.
template <class T>
struct AttnRun {
  Tensor<T> out;
  std::vector<Tensor<T>> grads;  // of the q, k, v leaves
  uint64_t offset = 0;           // the generator's offset afterwards
  bool fused = false;            // whether the graph holds the fused node
};

/// Runs nn::scaled_dot_product_attention on the GPU with the fused kernel on or off (the same
/// inputs, output gradient and generator seed), forward and backward.
template <class T>
AttnRun<T> run_attention(const AttnCase& c, bool fused, uint64_t seed) {
  FusedAttentionScope scope(fused);
  auto leaf_shape = [&](int64_t s) {
    return c.permuted ? Shape{c.b, s, c.h, c.d} : Shape{c.b, c.h, s, c.d};
  };
  std::vector<Tensor<T>> leaves = {random<T>(leaf_shape(c.sq), seed).to(kGpu).requires_grad_(),
                                   random<T>(leaf_shape(c.sk), seed + 1).to(kGpu).requires_grad_(),
                                   random<T>(leaf_shape(c.sk), seed + 2).to(kGpu).requires_grad_()};
  auto heads = [&](const Tensor<T>& t) { return c.permuted ? t.permute({0, 2, 1, 3}) : t; };
  Tensor<T> mask;
  if (c.mask == 1) {
    Tensor<int64_t> am = ones<int64_t>({c.b, c.sk});
    for (int64_t bi = 0; bi < c.b; ++bi)
      for (int64_t j = 0; j < c.sk; ++j)
        if (bi == 0 || j >= c.sk - 3 * bi) am.set({bi, j}, 0);
    mask = nn::additive_attention_mask<T>(am).to(kGpu);
  } else if (c.mask == 2) {
    Tensor<T> m = zeros<T>({c.sq, c.sk});
    for (int64_t i = 0; i < c.sq; ++i)
      for (int64_t j = i + 1; j < c.sk; ++j) m.set({i, j}, std::numeric_limits<T>::lowest());
    mask = m.to(kGpu);
  }
  Generator gen(4321);
  AttnRun<T> r;
  r.out = nn::scaled_dot_product_attention(heads(leaves[0]), heads(leaves[1]), heads(leaves[2]),
                                           mask, c.p, c.p > 0, gen);
  r.fused = graph_has(r.out, "fused_attention");
  r.offset = gen.offset();
  r.out.backward(random<T>({c.b, c.h, c.sq, c.d}, seed + 3).to(kGpu));
  for (const Tensor<T>& l : leaves) r.grads.push_back(l.grad());
  r.out = r.out.detach();
  return r;
}

/// Fused vs unfused on the same GPU: output and q/k/v gradients within the file's tolerance,
/// the same generator offset, the fused path actually taken, and two fused runs bit-identical.
template <class T>
void compare_fused_attention(const AttnCase& c, uint64_t seed) {
  CAPTURE(c.b);
  CAPTURE(c.h);
  CAPTURE(c.sq);
  CAPTURE(c.sk);
  CAPTURE(c.d);
  CAPTURE(c.permuted);
  CAPTURE(c.mask);
  CAPTURE(c.p);
  Poison poison;
  const AttnRun<T> f = run_attention<T>(c, true, seed), u = run_attention<T>(c, false, seed);
  CHECK(f.fused);
  CHECK(!u.fused);
  CHECK(f.offset == u.offset);
  check_close(f.out, u.out.to(Device::cpu()), "fused attention output");
  const char* names[3] = {"q", "k", "v"};
  for (int i = 0; i < 3; ++i)
    check_close(f.grads[i], u.grads[i].to(Device::cpu()), std::string("fused attention grad of ") + names[i]);
  const AttnRun<T> again = run_attention<T>(c, true, seed);  // deterministic: no atomics
  CHECK(again.out.to_vector() == f.out.to_vector());
  for (int i = 0; i < 3; ++i) CHECK(again.grads[i].to_vector() == f.grads[i].to_vector());
}

}  // namespace

TEST_CASE("fused attention: forward and q/k/v gradients equal the unfused path on the GPU") {
  // d ∈ {8, 20, 32, 64, 128} (each padded kernel size, a d that is not a multiple of 16); seq
  // lengths that are not multiples of the tile (1, 7, 33, 65, 130); seq_q ≠ seq_k; permuted
  // (non-contiguous) q/k/v; padding masks with fully masked rows, a broadcast causal mask, no
  // mask; dropout (the same generator seed on both paths: the same mask); empty batches and
  // sequences; and a BERT-base-sized case with hundreds of blocks.
  const std::vector<AttnCase> cases = {
      {2, 3, 1, 1, 8, true, 0, 0.0},       {2, 3, 7, 7, 8, true, 1, 0.0},
      {2, 2, 65, 65, 32, true, 1, 0.1},    {1, 2, 130, 130, 64, false, 2, 0.0},
      {3, 2, 7, 65, 32, false, 1, 0.2},    {2, 2, 33, 33, 20, true, 0, 0.1},
      {1, 2, 65, 65, 128, true, 1, 0.1},   {2, 3, 130, 130, 64, true, 1, 0.1},
      {4, 12, 128, 128, 64, true, 1, 0.1}, {0, 2, 5, 5, 8, false, 0, 0.0},
      {2, 2, 0, 0, 8, false, 0, 0.1},      {2, 2, 5, 0, 8, false, 0, 0.0},
  };
  for (const AttnCase& c : cases) compare_fused_attention<float>(c, 60);
  const std::vector<AttnCase> double_cases = {
      {2, 3, 65, 65, 32, true, 1, 0.1},
      {1, 2, 130, 130, 64, false, 2, 0.0},
      {2, 2, 7, 33, 8, true, 1, 0.2},
  };
  for (const AttnCase& c : double_cases) compare_fused_attention<double>(c, 70);
}

TEST_CASE("optimizers and clipping: AdamW, Adam, SGD steps and clip_grad_norm_ match the CPU") {
  Poison poison;
  auto run = [](Device dev, int which) {
    Generator g(47);
    std::vector<Tensor<float>> params = {randn<float>({33, 17}, g).to(dev).requires_grad_(),
                                         randn<float>({1001}, g).to(dev).requires_grad_()};
    std::unique_ptr<optim::Optimizer<float>> opt;
    if (which == 0) opt = std::make_unique<optim::AdamW<float>>(params, optim::AdamWOptions(1e-2).weight_decay(0.1));
    if (which == 1) opt = std::make_unique<optim::Adam<float>>(params, optim::AdamOptions(1e-2).weight_decay(0.1));
    if (which == 2) opt = std::make_unique<optim::SGD<float>>(params, optim::SGDOptions(1e-2).momentum(0.9).nesterov(true).weight_decay(0.1));
    std::vector<double> norms;
    for (int step = 0; step < 3; ++step) {
      Tensor<float> loss = sum(params[0] * params[0]) * 3.0 + sum(tanh(params[1]));
      loss.backward();
      norms.push_back(optim::clip_grad_norm_(params, 1.0));
      opt->step();
      opt->zero_grad();
    }
    return std::make_pair(params, norms);
  };
  for (int which = 0; which < 3; ++which) {
    CAPTURE(which);
    auto [pc, nc] = run(Device::cpu(), which);
    auto [pg, ng] = run(kGpu, which);
    for (std::size_t i = 0; i < pc.size(); ++i) check_close(pg[i].detach(), pc[i].detach(), "param");
    for (std::size_t i = 0; i < nc.size(); ++i) CHECK(ng[i] == doctest::Approx(nc[i]).epsilon(1e-5));
  }
}

namespace {

/// The parameters of the multi-tensor tests (optim/adam.hpp, clip_grad.hpp on CUDA:
/// backend/cuda/multi_tensor.cuh): odd sizes, an empty tensor, one of several 16384-element
/// chunks plus a ragged tail, and a leaf view that starts one element into its storage (not
/// 16-byte aligned: the kernel's scalar path). Parameter 6 never gets a gradient; parameter 4
/// gets none at step 0, so its step count lags behind its group's (a segment of its own).
template <class T>
std::vector<Tensor<T>> multi_tensor_params(Device dev) {
  Generator g(60);
  std::vector<Tensor<T>> params;
  for (const Shape& s : std::vector<Shape>{{33, 17}, {0}, {1001}, {3, 16411}, {7}, {768}, {5, 5}})
    params.push_back(randn<T>(s, g).to(dev).requires_grad_());
  Tensor<T> base = randn<T>({4100}, g).to(dev);
  params.push_back(base.slice(0, 1, 4100).detach().requires_grad_());
  return params;
}

/// Gives every parameter but 6 (and 4 at step 0) the gradient w, a random tensor of seed
/// 100 + step: the backward of Σ sum(p·w) is exactly w on both devices.
template <class T>
void multi_tensor_backward(const std::vector<Tensor<T>>& params, int step) {
  Generator gw(100 + uint64_t(step));
  Tensor<T> loss;
  for (std::size_t i = 0; i < params.size(); ++i) {
    Tensor<T> w = randn<T>(params[i].shape(), gw).to(params[i].device());
    if (i == 6 || (i == 4 && step == 0)) continue;
    Tensor<T> term = sum(params[i] * w);
    loss = loss.defined() ? loss + term : term;
  }
  loss.backward();
}

/// `steps` steps of Adam (which 1, amsgrad) or AdamW (which 0) over two groups with different
/// lr and weight decay; returns the parameters and the optimizer's state.
template <class T>
std::pair<std::vector<Tensor<T>>, optim::OptimizerState<T>> multi_tensor_adam(Device dev,
                                                                               int which,
                                                                               int steps) {
  std::vector<Tensor<T>> params = multi_tensor_params<T>(dev);
  std::vector<optim::ParamGroup<T>> groups(2);
  groups[0] = {{params[0], params[1], params[2], params[3]}, 1e-2, 0.1};
  groups[1] = {{params[4], params[5], params[6], params[7]}, 3e-3, 0.0};
  std::unique_ptr<optim::Optimizer<T>> opt;
  if (which == 0) opt = std::make_unique<optim::AdamW<T>>(groups, optim::AdamWOptions(1e-3));
  if (which == 1) opt = std::make_unique<optim::Adam<T>>(groups, optim::AdamOptions(1e-3).amsgrad(true));
  for (int step = 0; step < steps; ++step) {
    multi_tensor_backward(params, step);
    opt->step();
    opt->zero_grad();
  }
  return {params, opt->state_dict()};
}

template <class T>
void check_multi_tensor_adam(int which) {
  CAPTURE(which);
  const auto cpu = multi_tensor_adam<T>(Device::cpu(), which, 4);
  const auto gpu = multi_tensor_adam<T>(kGpu, which, 4);
  const std::vector<Tensor<T>>&pc = cpu.first, &pg = gpu.first;
  const optim::OptimizerState<T>&sc = cpu.second, &sg = gpu.second;
  // Bit-identical: the same per-element arithmetic, every operation correctly rounded.
  for (std::size_t i = 0; i < pc.size(); ++i)
    check_close(pg[i].detach(), pc[i].detach(), "param " + std::to_string(i), 0.0);
  REQUIRE(sg.tensors.size() == sc.tensors.size());
  for (const auto& entry : sc.tensors) {
    const Tensor<T>* g = sg.find_tensor(entry.first);
    REQUIRE_MESSAGE(g != nullptr, entry.first);
    check_close(*g, entry.second, entry.first, 0.0);
  }
  CHECK(sg.scalars == sc.scalars);  // step counts (4, and 3 for the lagging parameter 4)
}

}  // namespace

TEST_CASE("multi-tensor Adam/AdamW: two groups, odd, empty, misaligned and grad-less parameters, bit-identical to the CPU") {
  Poison poison;
  check_multi_tensor_adam<float>(0);
  check_multi_tensor_adam<float>(1);
  check_multi_tensor_adam<double>(0);
}

TEST_CASE("multi-tensor clip_grad_norm_: one reduction gives the CPU's norm and scaling (p = 2, 1, 3, inf)") {
  Poison poison;
  for (double p : {2.0, 1.0, 3.0, std::numeric_limits<double>::infinity()}) {
    for (double max_norm : {0.5, 1e9}) {  // clipping, and not
      CAPTURE(p);
      CAPTURE(max_norm);
      auto run = [&](Device dev) {
        std::vector<Tensor<float>> params = multi_tensor_params<float>(dev);
        multi_tensor_backward(params, 1);
        const double norm = optim::clip_grad_norm_(params, max_norm, p);
        return std::make_pair(params, norm);
      };
      const auto cpu = run(Device::cpu()), gpu = run(kGpu);
      const std::vector<Tensor<float>>&pc = cpu.first, &pg = gpu.first;
      const double nc = cpu.second, ng = gpu.second;
      CHECK_MESSAGE(std::abs(ng - nc) <= 1e-6 * std::abs(nc), "norm ", ng, " vs CPU ", nc);
      for (std::size_t i = 0; i < pc.size(); ++i)
        check_close(pg[i].grad(), pc[i].grad(), "grad " + std::to_string(i), 1e-6);
    }
  }
  // Only empty gradients: norm 0, nothing launched.
  Tensor<float> e = zeros<float>({0}, kGpu).requires_grad_();
  sum(e).backward();
  CHECK(optim::clip_grad_norm_<float>({e}, 1.0) == 0.0f);
}

TEST_CASE("multi-tensor AdamW + clip_grad_norm_: a steady step makes no device allocation") {
  std::vector<Tensor<float>> params = multi_tensor_params<float>(kGpu);
  std::vector<optim::ParamGroup<float>> groups(2);
  groups[0] = {{params[0], params[1], params[2], params[3]}, 1e-2, 0.1};
  groups[1] = {{params[4], params[5], params[6], params[7]}, 3e-3, 0.0};
  optim::AdamW<float> opt(groups, optim::AdamWOptions(1e-3));
  std::size_t warm = 0;
  for (int step = 0; step < 6; ++step) {
    if (step == 3) warm = cuda::memory_stats().system_allocations;
    multi_tensor_backward(params, 1);  // the same sizes every step
    optim::clip_grad_norm_(params, 0.5);
    opt.step();
    opt.zero_grad();
  }
  CHECK(cuda::memory_stats().system_allocations == warm);
}

TEST_CASE("pin_memory: pinned copies, the DataLoader's pinned batches, copies to the GPU") {
  Poison poison;
  Tensor<float> a = random<float>({7, 13}, 70);
  Tensor<float> at = a.transpose(0, 1).contiguous();
  Tensor<float> p = a.transpose(0, 1).pin_memory();  // a non-contiguous source: a dense copy
  CHECK(p.is_pinned());
  CHECK(p.device() == Device::cpu());
  CHECK(p.is_contiguous());
  CHECK(p.to_vector() == at.to_vector());
  CHECK(p.pin_memory().is_same(p));  // pinned already: the same tensor
  CHECK_FALSE(a.is_pinned());
  check_close(p.to(kGpu), at, "pinned to the GPU", 0.0);
  CHECK_THROWS_AS(a.to(kGpu).pin_memory(), Error);
  Tensor<double> e = Tensor<double>::empty_pinned({0, 3});
  CHECK(e.is_pinned());
  CHECK(e.to(kGpu).numel() == 0);
  for (int round = 0; round < 3; ++round) {  // freed blocks come back from the cache
    Tensor<int64_t> q = Tensor<int64_t>::empty_pinned({5, 100});
    q.fill_(int64_t(round));
    CHECK(q.to(kGpu).to(Device::cpu()).to_vector() == std::vector<int64_t>(500, round));
  }

  auto ds = data::TextClassificationDataset::from_rows({"a b", "c", "a b c d", "d"},
                                                        {"0", "1", "0", "1"});
  data::WordPieceTokenizer tok(
      std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d"});
  data::DataLoader plain(ds, tok, data::DataLoaderOptions().batch_size(3));
  data::DataLoader pinned(ds, tok, data::DataLoaderOptions().batch_size(3).pin_memory(true));
  REQUIRE(pinned.num_batches() == 2);
  for (int64_t b = 0; b < plain.num_batches(); ++b) {
    CAPTURE(b);
    data::Batch x = plain.batch(b), y = pinned.batch(b);
    for (const auto& t : {y.input_ids, y.token_type_ids, y.attention_mask, y.labels})
      CHECK(t.is_pinned());
    CHECK(y.input_ids.to(kGpu).to(Device::cpu()).to_vector() == x.input_ids.to_vector());
    CHECK(y.token_type_ids.to(kGpu).to(Device::cpu()).to_vector() == x.token_type_ids.to_vector());
    CHECK(y.attention_mask.to(kGpu).to(Device::cpu()).to_vector() == x.attention_mask.to_vector());
    CHECK(y.labels.to(kGpu).to(Device::cpu()).to_vector() == x.labels.to_vector());
  }
}

namespace {

/// One tiny-BERT training step (dropout on) on the CPU and on the GPU at `precision`; compares
/// loss and logits within `rtol` and every gradient within `grad_rtol`.
void tiny_bert_step(cuda::MatmulPrecision precision, double rtol, double grad_rtol) {
  Poison poison;
  PrecisionScope scope(precision);
  const std::string dir = std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny";
  auto golden = io::SafetensorsFile::open(dir + "/golden.safetensors");
  Tensor<int64_t> ids = golden.get<int64_t>("a.input_ids"), mask = golden.get<int64_t>("a.attention_mask"),
                  types = golden.get<int64_t>("a.token_type_ids"), labels = golden.get<int64_t>("a.labels").reshape({-1});
  Generator gc(7), gg(7);
  auto mc = models::bert::bert_classifier_from_pretrained<float>(dir, models::bert::FromPretrainedOptions().generator(&gc));
  auto mg = models::bert::bert_classifier_from_pretrained<float>(dir, models::bert::FromPretrainedOptions().generator(&gg));
  mg->to(kGpu);
  mc->train();
  mg->train();
  auto oc = mc->forward(ids, mask, types, labels);
  auto og = mg->forward(ids.to(kGpu), mask.to(kGpu), types.to(kGpu), labels.to(kGpu));
  check_close(og.logits, oc.logits, "logits", rtol);
  CHECK(og.loss.item() == doctest::Approx(oc.loss.item()).epsilon(rtol));
  oc.loss.backward();
  og.loss.backward();
  auto pc = mc->named_parameters(), pg = mg->named_parameters();
  REQUIRE(pc.size() == pg.size());
  for (std::size_t i = 0; i < pc.size(); ++i)
    check_close(pg[i].second.grad(), pc[i].second.grad(), "grad of " + pc[i].first, grad_rtol);
}

}  // namespace

TEST_CASE("tiny BERT: one training step (dropout on) gives the CPU's loss, logits and gradients") {
  tiny_bert_step(cuda::MatmulPrecision::highest, 1e-5, 1e-4);
}

TEST_CASE("tiny BERT with bf16 GEMMs (--bf16): the same step within 1e-2") {
  tiny_bert_step(cuda::MatmulPrecision::medium, 1e-2, 1e-2);
}

TEST_CASE("tiny BERT on the GPU: the fused attention step equals the unfused one (dropout on)") {
  // The CPU comparison above already runs the fused kernel on the GPU side (4-D head views,
  // head dim 8, the [batch, 1, 1, seq] padding mask); this checks that it did, and compares the
  // step with the GPU's own unfused path.
  Poison poison;
  const std::string dir = std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny";
  auto golden = io::SafetensorsFile::open(dir + "/golden.safetensors");
  Tensor<int64_t> ids = golden.get<int64_t>("a.input_ids").to(kGpu),
                  mask = golden.get<int64_t>("a.attention_mask").to(kGpu),
                  types = golden.get<int64_t>("a.token_type_ids").to(kGpu),
                  labels = golden.get<int64_t>("a.labels").reshape({-1}).to(kGpu);
  Generator gf(7), gu(7);  // the models draw their dropout masks from these: the same seed
  auto step = [&](bool fused, Generator& g) {
    FusedAttentionScope scope(fused);
    auto model = models::bert::bert_classifier_from_pretrained<float>(dir, models::bert::FromPretrainedOptions().generator(&g));
    model->to(kGpu);
    model->train();
    auto out = model->forward(ids, mask, types, labels);
    CHECK(graph_has(out.loss, "fused_attention") == fused);
    out.loss.backward();
    return std::make_pair(out, std::move(model));
  };
  auto [of, mf] = step(true, gf);
  auto [ou, mu] = step(false, gu);
  CHECK(gf.offset() == gu.offset());
  check_close(of.logits, ou.logits.to(Device::cpu()), "logits");
  CHECK(of.loss.item() == doctest::Approx(ou.loss.item()).epsilon(1e-5));
  auto pf = mf->named_parameters(), pu = mu->named_parameters();
  REQUIRE(pf.size() == pu.size());
  for (std::size_t i = 0; i < pf.size(); ++i)
    check_close(pf[i].second.grad(), pu[i].second.grad().to(Device::cpu()), "grad of " + pf[i].first, 1e-4);
}

#ifdef EMBER_HAVE_NCCL
TEST_CASE("NCCL, a group of one: every collective on GPU tensors, and DDP's bucketed step") {
  using namespace ember::distributed;
  auto group = ProcessGroupNCCL::single(0);
  CHECK(std::string(group->backend()) == "nccl");
  REQUIRE(group->size() == 1);
  auto gpu = [](std::vector<float> v) { return from_vector(v).to(kGpu); };

  // Each collective waits for the kernels queued before it on ember's stream. A chain of
  // kernels over 16 M floats is still running when the all-gather is queued; read too early,
  // its input is the poisoned (NaN) fresh allocation, and the zeros of `gathered` prove that
  // NCCL wrote it (with one rank, all_reduce and broadcast change nothing).
  Tensor<float> chain = full<float>({int64_t(1) << 24}, 1.0f, kGpu);
  for (int i = 0; i < 8; ++i) chain = chain * 2.0f;
  Tensor<float> gathered = zeros<float>({int64_t(1) << 24}, kGpu);
  group->all_gather(gathered, chain)->wait();
  CHECK(sum(gathered).item() == 256.0f * float(1 << 24));  // exact: sums of powers of two
  Tensor<float> t = gpu({1.5f, -2, 3}) * 2.0f;
  group->all_reduce(t)->wait();
  CHECK(t.to_vector() == std::vector<float>{3, -4, 6});
  group->all_reduce(t, ReduceOp::Average)->wait();
  CHECK(t.to_vector() == std::vector<float>{3, -4, 6});
  Tensor<int64_t> m = from_vector<int64_t>({4, -9}).to(kGpu);
  group->all_reduce(m, ReduceOp::Max)->wait();
  CHECK(m.to_vector() == std::vector<int64_t>{4, -9});
  Tensor<double> d = from_vector<double>({0.25, 1e300}).to(kGpu);
  group->broadcast(d, 0)->wait();
  CHECK(d.to_vector() == std::vector<double>{0.25, 1e300});
  Tensor<float> out = zeros<float>({3}, kGpu);
  group->all_gather(out, t)->wait();
  CHECK(out.to_vector() == std::vector<float>{3, -4, 6});
  Tensor<float> part = zeros<float>({3}, kGpu);
  group->reduce_scatter(part, out, ReduceOp::Average)->wait();
  CHECK(part.to_vector() == std::vector<float>{3, -4, 6});
  // Many in flight, then a barrier: all complete, in order.
  std::vector<Tensor<float>> many;
  std::vector<std::shared_ptr<Work>> works;
  for (int i = 0; i < 20; ++i) many.push_back(full<float>({1000}, float(i), kGpu));
  for (auto& x : many) works.push_back(group->all_reduce(x));
  group->barrier()->wait();
  for (int i = 0; i < 20; ++i) {
    CHECK(works[std::size_t(i)]->is_completed());
    CHECK(many[std::size_t(i)].to_vector() == std::vector<float>(1000, float(i)));
  }
  // Refusals, before anything is queued.
  Tensor<float> on_cpu = zeros<float>({3});
  CHECK_THROWS_WITH_AS(group->all_reduce(on_cpu), doctest::Contains("exchanges tensors on cuda:0"),
                       Error);
  CHECK_THROWS_WITH_AS(group->all_reduce(m, ReduceOp::Average), doctest::Contains("int64"), Error);

  // DistributedDataParallel on the tiny BERT (dropout off): with one rank the average is the
  // gradient itself, so the bucketed step — hooks, flat buckets, NCCL all-reduce, copy back —
  // must give the plain step's parameters bit for bit.
  const std::string dir = std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny";
  auto golden = io::SafetensorsFile::open(dir + "/golden.safetensors");
  Tensor<int64_t> ids = golden.get<int64_t>("a.input_ids").to(kGpu),
                  mask = golden.get<int64_t>("a.attention_mask").to(kGpu),
                  labels = golden.get<int64_t>("a.labels").reshape({-1}).to(kGpu);
  Generator g1(7), g2(7);
  auto model = models::bert::bert_classifier_from_pretrained<float>(dir, models::bert::FromPretrainedOptions().generator(&g1));
  auto reference = models::bert::bert_classifier_from_pretrained<float>(dir, models::bert::FromPretrainedOptions().generator(&g2));
  model->to(kGpu);
  reference->to(kGpu);
  model->eval();
  reference->eval();
  DistributedDataParallel<float> ddp(*model, group, DistributedDataParallelOptions().bucket_cap_mb(0.02));
  REQUIRE(ddp.buckets().size() > 2);
  optim::SGD<float> opt(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  optim::SGD<float> ref_opt(reference->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  for (int step = 0; step < 5; ++step) {
    opt.zero_grad();
    model->forward(ids, mask, {}, labels).loss.backward();
    opt.step();
    ref_opt.zero_grad();
    reference->forward(ids, mask, {}, labels).loss.backward();
    ref_opt.step();
  }
  CHECK(ddp.timeline().size() == ddp.buckets().size());  // every bucket went through NCCL
  auto pm = model->named_parameters(), pr = reference->named_parameters();
  REQUIRE(pm.size() == pr.size());
  for (std::size_t i = 0; i < pm.size(); ++i) {
    CAPTURE(pm[i].first);
    CHECK(pm[i].second.to(Device::cpu()).contiguous().to_vector() ==
          pr[i].second.to(Device::cpu()).contiguous().to_vector());
  }
}
#endif  // EMBER_HAVE_NCCL

TEST_CASE("memory: statistics, empty_cache, and recovery from out-of-memory") {
  cuda::empty_cache();
  const MemoryStats before = cuda::memory_stats();
  {
    Tensor<float> t = empty<float>({1 << 20}, kGpu);  // 4 MiB
    CHECK(cuda::memory_stats().allocated >= before.allocated + (4u << 20));
  }
  CHECK(cuda::memory_stats().allocated == before.allocated);
  CHECK(cuda::memory_stats().reserved >= before.reserved + (4u << 20));  // cached, not freed
  cuda::empty_cache();
  CHECK(cuda::memory_stats().reserved == before.reserved);
  // 2^48 floats = 1 PiB: no GPU has it. The error names the sizes; the device stays usable.
  bool threw = false;
  try {
    Tensor<float> huge = empty<float>({int64_t(1) << 48}, kGpu);
  } catch (const Error& e) {
    threw = true;
    CHECK(std::string(e.what()).find("out of memory") != std::string::npos);
  }
  CHECK(threw);
  Tensor<float> a = random<float>({64, 64}, 48);
  check_close(matmul(a.to(kGpu), a.to(kGpu)), matmul(a, a), "matmul after OOM");
}

int main(int argc, char** argv) {
  std::printf("op-case table: %zu cases, %zu shape sets (each run GPU vs CPU in float and double)\n",
              ember::test::op_cases().size(), ember::test::op_case_sets());
  const int n = ember::cuda::device_count();
  if (n == 0) {
    std::printf("skipped: no CUDA device (cudaGetDeviceCount found none; the CUDA code was "
                "compiled and linked, but GPU results cannot be checked on this machine)\n");
    return 77;
  }
  if (!ember::cuda::is_built() || !ember::cuda::is_available()) {
    std::printf("FAILED: %d device(s) found, but is_built()/is_available() say otherwise\n", n);
    return 1;
  }
  std::printf("CUDA device 0: %s\n", ember::backend::cuda_runtime("test").device_name(0));
  doctest::Context context(argc, argv);
  return context.run();
}
