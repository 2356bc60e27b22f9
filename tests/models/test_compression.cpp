// Structured compression of BERT: attention-head and FFN-neuron pruning (Michel et al. 2019)
// against Hugging Face transformers 4.x, and the distillation student (DistilBERT's
// every-other-layer initialization).
//
// Fixture: tests/data/bert_tiny_pruned (tools/gen_bert_pruned_fixture.py, transformers 4.57):
// a tiny BERT (2 layers of 4 heads) before and after HF's `prune_heads({0: [0, 2], 1: [3]})`,
// its logits on a padded batch, and HF's |∂loss/∂head_mask| (the head importance); the FFN
// neuron importance from PyTorch (a mask on the activations) and the model with 16 of each
// layer's 64 neurons removed by hand in PyTorch (ffn_pruned/).
// Tolerances: logits 1e-5 of the largest (float32, as test_bert.cpp); importance 1e-4 relative.
#include <cmath>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include "support/test_util.hpp"
#include <ember/ember.hpp>

using namespace ember;
using namespace ember::models::bert;

namespace prune_test {
const std::string kDir = std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny_pruned";
const std::map<int64_t, std::vector<int64_t>> kPruned = {{0, {0, 2}}, {1, {3}}};

struct Golden {
  io::SafetensorsFile file = io::SafetensorsFile::open(kDir + "/golden.safetensors");
  Tensor<int64_t> ids = file.get<int64_t>("input_ids"), mask = file.get<int64_t>("attention_mask"),
                  types = file.get<int64_t>("token_type_ids"), labels = file.get<int64_t>("labels");
  Tensor<float> logits(BertForSequenceClassification<float>& m) {
    NoGradGuard no_grad;
    return m.forward(ids, mask, types).logits;
  }
};
}  // namespace prune_test

TEST_CASE("head pruning: Hugging Face's pruned checkpoint loads and gives its logits") {
  prune_test::Golden g;
  auto model = bert_classifier_from_pretrained<float>(prune_test::kDir);
  model->eval();
  CHECK(model->config().pruned_heads == prune_test::kPruned);
  CHECK(model->base_model->encoder->layer_at(0)->attention->num_heads() == 2);
  CHECK(model->base_model->encoder->layer_at(0)->attention->heads() == std::vector<int64_t>{1, 3});
  CHECK(model->base_model->encoder->layer_at(1)->attention->num_heads() == 3);
  CHECK(model->base_model->encoder->layer_at(0)->attention->query->weight.shape() == Shape{16, 32});
  CHECK(model->base_model->encoder->layer_at(0)->attention->dense->weight.shape() == Shape{32, 16});
  ember::test::check_max_close(g.logits(*model), g.file.get<float>("pruned_logits"), 1e-5, "pruned logits");
}

TEST_CASE("head pruning: prune_heads equals HF's, saves pruned_heads, reloads, trains") {
  namespace fs = std::filesystem;
  prune_test::Golden g;
  auto model = bert_classifier_from_pretrained<float>(prune_test::kDir + "/unpruned");
  model->eval();
  ember::test::check_max_close(g.logits(*model), g.file.get<float>("logits"), 1e-5, "unpruned logits");
  const double before = double(model->num_parameters());
  model->prune_heads({{0, {2, 0}}, {1, {3}}});
  model->prune_heads({{0, {0}}});  // already removed: skipped
  CHECK(model->config().pruned_heads == prune_test::kPruned);
  CHECK(model->base_model->config().pruned_heads == prune_test::kPruned);
  // 3 heads of d = 8: 3·(3·8·32 + 3·8) query/key/value rows and 3·8·32 output.dense columns
  CHECK(before - double(model->num_parameters()) == 3 * (3 * 8 * 32 + 3 * 8) + 3 * 8 * 32);
  ember::test::check_max_close(g.logits(*model), g.file.get<float>("pruned_logits"), 1e-5, "pruned logits");

  // The saved tensors have HF's shapes and config.json HF's pruned_heads.
  fs::path dir = fs::temp_directory_path() / ("ember_pruned_" + std::to_string(::getpid()));
  save_pretrained(*model, dir.string());
  auto cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  CHECK(cfg["pruned_heads"] == nlohmann::json::parse(R"({"0": [0, 2], "1": [3]})"));
  auto ours = io::SafetensorsFile::open((dir / "model.safetensors").string());
  auto hf = io::SafetensorsFile::open(prune_test::kDir + "/model.safetensors");
  for (const std::string& k : hf.keys()) {
    CAPTURE(k);
    if (k.find("position_ids") != std::string::npos) continue;
    REQUIRE(ours.contains(k));
    CHECK(ours.info(k).shape == hf.info(k).shape);
  }
  auto again = bert_classifier_from_pretrained<float>(dir.string());
  again->eval();
  CHECK(g.logits(*again).to_vector() == g.logits(*model).to_vector());
  fs::remove_all(dir);

  // A pruned model trains: gradients reach the smaller matrices, with their shapes.
  again->train();
  auto out = again->forward(g.ids, g.mask, g.types, g.labels);
  out.loss.backward();
  auto& attn = *again->base_model->encoder->layer_at(0)->attention;
  REQUIRE(attn.query->weight.grad().defined());
  CHECK(attn.query->weight.grad().shape() == Shape{16, 32});
  CHECK(attn.dense->weight.grad().shape() == Shape{32, 16});
}

TEST_CASE("head pruning equals masking the heads (double, every position)") {
  // The pruned layer must compute exactly what the full layer computes with those heads'
  // outputs multiplied by 0 (head_mask).
  Generator gen(7);
  nn::MultiHeadAttention<double> full(nn::MultiHeadAttentionOptions(12, 4).generator(&gen));
  full.eval();
  NoGradGuard no_grad;
  for (auto& p : full.parameters()) nn::init::normal_(p, 0.0, 0.3, gen);
  Tensor<double> x = randn<double>({2, 5, 12}, gen);
  Tensor<int64_t> am = from_vector<int64_t>({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
  full.head_mask = from_vector<double>({1, 0, 1, 0});
  Tensor<double> masked = full.forward(x, am);
  full.head_mask = Tensor<double>();
  full.prune_heads({3, 1});
  CHECK(full.num_heads() == 2);
  CHECK(full.pruned_heads() == std::set<int64_t>{1, 3});
  CHECK(full.extra_repr().find("num_heads=2 (pruned from 4)") != std::string::npos);
  Tensor<double> pruned = full.forward(x, am);
  auto a = masked.to_vector(), b = pruned.to_vector();
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  CHECK(d < 1e-12);

  CHECK_THROWS_WITH_AS(full.prune_heads({4}), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(full.prune_heads({0, 2}), doctest::Contains("every head"), Error);
  CHECK(full.num_heads() == 2);  // a refused call changes nothing
  full.head_mask = from_vector<double>({1, 1, 1});
  CHECK_THROWS_WITH_AS(full.forward(x, am), doctest::Contains("head_mask of shape [2]"), Error);
}

TEST_CASE("head importance equals Hugging Face's |d loss / d head_mask|; least important heads") {
  prune_test::Golden g;
  auto model = bert_classifier_from_pretrained<float>(prune_test::kDir + "/unpruned");
  model->eval();
  const auto& enc = *model->base_model->encoder;
  auto imp = nn::head_importance(*model, enc, 1, [&](int64_t) {
    return model->forward(g.ids, g.mask, g.types, g.labels).loss;
  });
  REQUIRE(imp.size() == 2);
  Tensor<float> got = from_vector<float>(
      {float(imp[0][0]), float(imp[0][1]), float(imp[0][2]), float(imp[0][3]), float(imp[1][0]),
       float(imp[1][1]), float(imp[1][2]), float(imp[1][3])}, {2, 4});
  ember::test::check_max_close(got, g.file.get<float>("head_importance"), 1e-4, "head importance");
  // Parameters are left as they were: trainable, no gradient, masks removed.
  for (auto& p : model->parameters()) {
    CHECK(p.requires_grad());
    CHECK(!p.grad().defined());
  }
  CHECK(!enc.layer_at(0)->attention->head_mask.defined());

  // Ranking over the model; a layer keeps its last head even when all its scores are lowest.
  std::vector<std::vector<double>> scores = {{0.1, 0.9, 0.2, 0.3}, {0.05, 0.01, 0.02, 0.03}};
  auto pick = nn::least_important_heads(enc, scores, 4);
  CHECK(pick == std::map<int64_t, std::vector<int64_t>>{{1, {1, 2, 3}}, {0, {0}}});
  CHECK(nn::least_important_heads(enc, scores, 0).empty());
  CHECK_THROWS_WITH_AS(nn::least_important_heads(enc, scores, 7), doctest::Contains("between 0 and 6"),
                       Error);
  CHECK_THROWS_WITH_AS(nn::least_important_heads(enc, {{0.1}}, 1), doctest::Contains("layers"), Error);
  // Ids stay original after a first pruning.
  model->prune_heads({{0, {0}}});
  auto again = nn::least_important_heads(enc, {{0.5, 0.1, 0.9}, {1, 1, 1, 0.2}}, 2);
  CHECK(again == std::map<int64_t, std::vector<int64_t>>{{0, {2}}, {1, {3}}});
}

TEST_CASE("FFN neuron pruning: importance as PyTorch's, prune_neurons as the hand-pruned HF model") {
  namespace fs = std::filesystem;
  prune_test::Golden g;
  auto model = bert_classifier_from_pretrained<float>(prune_test::kDir + "/unpruned");
  model->eval();
  const auto& enc = *model->base_model->encoder;
  auto imp = nn::neuron_importance(*model, enc, 1, [&](int64_t) {
    return model->forward(g.ids, g.mask, g.types, g.labels).loss;
  });
  REQUIRE(imp.size() == 2);
  std::vector<float> flat;
  for (const auto& layer : imp)
    for (double v : layer) flat.push_back(float(v));
  ember::test::check_max_close(from_vector<float>(flat, {2, 64}),
                               g.file.get<float>("neuron_importance"), 1e-4, "neuron importance");
  CHECK(!enc.layer_at(1)->neuron_mask.defined());
  for (auto& p : model->parameters()) CHECK(!p.grad().defined());

  // The 16 lowest of each layer, heads pruned as the fixture, then the neurons: HF's tensors and
  // logits (the fixture pruned by hand in PyTorch and saved with intermediate_size 48).
  auto neurons = nn::least_important_neurons(enc, imp, 16);
  REQUIRE(neurons.size() == 2);
  CHECK(neurons.at(0).size() == 16);
  CHECK(std::is_sorted(neurons.at(1).begin(), neurons.at(1).end()));
  model->prune_heads(prune_test::kPruned);
  const double before = double(model->num_parameters());
  model->prune_neurons(neurons);
  CHECK(model->config().intermediate_size == 48);
  CHECK(model->base_model->config().intermediate_size == 48);
  CHECK(enc.layer_at(0)->options().intermediate_size() == 48);
  CHECK(before - double(model->num_parameters()) == 2 * 16 * (32 + 1 + 32));  // rows, bias, columns
  ember::test::check_max_close(g.logits(*model), g.file.get<float>("ffn_pruned_logits"), 1e-5,
                               "FFN-pruned logits");
  auto hf = io::SafetensorsFile::open(prune_test::kDir + "/ffn_pruned/model.safetensors");
  std::map<std::string, Tensor<float>> state;
  for (const auto& [k, t] : model->state_dict()) state.emplace(k, t);
  for (const std::string& k : hf.keys()) {
    CAPTURE(k);
    if (k.find("position_ids") != std::string::npos) continue;
    REQUIRE(state.count(k) == 1);
    CHECK(state.at(k).contiguous().to_vector() == hf.get<float>(k).to_vector());
  }
  // HF's directory loads in ember; ember's saved model reloads with the smaller FFN.
  auto theirs = bert_classifier_from_pretrained<float>(prune_test::kDir + "/ffn_pruned");
  theirs->eval();
  CHECK(g.logits(*theirs).to_vector() == g.logits(*model).to_vector());
  fs::path dir = fs::temp_directory_path() / ("ember_ffn_pruned_" + std::to_string(::getpid()));
  save_pretrained(*model, dir.string());
  CHECK(nlohmann::json::parse(std::ifstream(dir / "config.json"))["intermediate_size"] == 48);
  auto again = bert_classifier_from_pretrained<float>(dir.string());
  again->eval();
  CHECK(g.logits(*again).to_vector() == g.logits(*model).to_vector());
  fs::remove_all(dir);

  // Refusals change nothing: uneven layers, positions out of range, a layer left empty.
  std::vector<int64_t> all(48);
  for (int64_t i = 0; i < 48; ++i) all[std::size_t(i)] = i;
  CHECK_THROWS_WITH_AS(model->prune_neurons({{0, {1, 2}}}), doctest::Contains("same number"), Error);
  CHECK_THROWS_WITH_AS(model->prune_neurons({{0, {48}}, {1, {0}}}),
                       doctest::Contains("neuron 48 of layer 0 is out of range"), Error);
  CHECK_THROWS_WITH_AS(model->prune_neurons({{2, {0}}}), doctest::Contains("layer 2"), Error);
  CHECK_THROWS_WITH_AS(model->prune_neurons({{0, all}, {1, all}}), doctest::Contains("> 0"), Error);
  CHECK(model->config().intermediate_size == 48);
  CHECK(enc.layer_at(1)->intermediate_dense->weight.shape() == Shape{48, 32});
  CHECK_THROWS_WITH_AS(nn::least_important_neurons(enc, imp, 1), doctest::Contains("64 scores"),
                       Error);
  CHECK_THROWS_WITH_AS(nn::least_important_neurons(enc, {{0.1}}, 1),
                       doctest::Contains("importance has 1 layers"), Error);

  // A pruned model trains: gradients reach the smaller matrices.
  again = bert_classifier_from_pretrained<float>(prune_test::kDir + "/ffn_pruned");
  again->forward(g.ids, g.mask, g.types, g.labels).loss.backward();
  auto& layer = *again->base_model->encoder->layer_at(1);
  REQUIRE(layer.output_dense->weight.grad().defined());
  CHECK(layer.output_dense->weight.grad().shape() == Shape{32, 48});
}

TEST_CASE("FFN neuron pruning equals masking the neurons (double, post-LN and pre-LN)") {
  for (bool norm_first : {false, true}) {
    CAPTURE(norm_first);
    Generator gen(11);
    nn::TransformerEncoderLayer<double> layer(
        nn::TransformerEncoderLayerOptions(12, 3, 20).norm_first(norm_first).generator(&gen));
    layer.eval();
    NoGradGuard no_grad;
    for (auto& p : layer.parameters()) nn::init::normal_(p, 0.0, 0.3, gen);
    Tensor<double> x = randn<double>({2, 5, 12}, gen);
    Tensor<int64_t> am = from_vector<int64_t>({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
    std::vector<double> mask(20, 1.0);
    for (int64_t i : {0, 3, 4, 19}) mask[std::size_t(i)] = 0.0;
    layer.neuron_mask = from_vector<double>(mask);
    auto masked = layer.forward(x, am).to_vector();
    layer.neuron_mask = Tensor<double>();
    layer.prune_neurons({19, 4, 0, 3, 3});  // any order; duplicates count once
    CHECK(layer.options().intermediate_size() == 16);
    CHECK(layer.extra_repr().find("intermediate_size=16") != std::string::npos);
    auto pruned = layer.forward(x, am).to_vector();
    double d = 0;
    for (std::size_t i = 0; i < masked.size(); ++i) d = std::max(d, std::abs(masked[i] - pruned[i]));
    CHECK(d < 1e-12);
    std::vector<int64_t> all(16);
    for (int64_t i = 0; i < 16; ++i) all[std::size_t(i)] = i;
    CHECK_THROWS_WITH_AS(layer.prune_neurons(all), doctest::Contains("keep at least one"), Error);
    CHECK_THROWS_WITH_AS(layer.prune_neurons({16}), doctest::Contains("out of range"), Error);
    CHECK(layer.options().intermediate_size() == 16);
    layer.neuron_mask = ones<double>({20});
    CHECK_THROWS_WITH_AS(layer.forward(x, am), doctest::Contains("neuron_mask of shape [16]"),
                         Error);
  }
}

TEST_CASE("pruned_heads in config.json: read, written, checked") {
  BertConfig c = BertConfig::from_file(prune_test::kDir + "/config.json");
  CHECK(c.pruned_heads == prune_test::kPruned);
  CHECK(BertConfig::from_json(c.to_json()).pruned_heads == prune_test::kPruned);
  nlohmann::json j = c.to_json();
  auto bad = [&](const char* value, const char* message) {
    CAPTURE(value);
    j["pruned_heads"] = nlohmann::json::parse(value);
    CHECK_THROWS_WITH_AS(BertConfig::from_json(j), doctest::Contains(message), Error);
  };
  bad(R"({"x": [0]})", "not a layer index");
  bad(R"({"1x": [0]})", "not a layer index");
  bad(R"({"0": [4]})", "names head 4, outside [0, 4)");
  bad(R"({"2": [0]})", "names layer 2");
  bad(R"({"0": [0, 1, 2, 3]})", "every head of layer 0");
  bad(R"({"0": 1})", "list of head indices");
  bad(R"({"0": ["a"]})", "must hold integers");
  bad(R"([1, 2])", "must be an object");
}

TEST_CASE("distillation student: every other teacher layer, pruned heads follow") {
  CHECK(student_layer_map(6, 3) == std::vector<int64_t>{0, 2, 4});
  CHECK(student_layer_map(12, 6) == std::vector<int64_t>{0, 2, 4, 6, 8, 10});
  CHECK(student_layer_map(6, 2) == std::vector<int64_t>{0, 3});
  CHECK(student_layer_map(2, 2) == std::vector<int64_t>{0, 1});
  CHECK_THROWS_WITH_AS(student_layer_map(6, 0), doctest::Contains("between 1 and 6"), Error);
  CHECK_THROWS_WITH_AS(student_layer_map(6, 7), doctest::Contains("between 1 and 6"), Error);

  auto teacher = bert_classifier_from_pretrained<float>(prune_test::kDir);  // layer 0: 2 heads
  auto student = student_from_teacher(*teacher, 1);
  CHECK(student->config().num_hidden_layers == 1);
  CHECK(student->config().pruned_heads == std::map<int64_t, std::vector<int64_t>>{{0, {0, 2}}});
  CHECK(student->config().id2label == teacher->config().id2label);
  auto theirs = teacher->state_dict();
  std::map<std::string, Tensor<float>> by_name(theirs.begin(), theirs.end());
  int checked = 0;
  for (auto& [name, t] : student->state_dict()) {
    CAPTURE(name);
    REQUIRE(by_name.count(name));  // layer 0 ← layer 0 keeps its name
    CHECK(t.to_vector() == by_name[name].to_vector());
    CHECK(t.data() != by_name[name].data());  // a copy: training the student leaves the teacher
    ++checked;
  }
  CHECK(checked == 5 + 16 + 2 + 2);  // embeddings, one layer, pooler, classifier
  // Layer 1 of a two-layer student comes from teacher layer 1.
  auto two = student_from_teacher(*teacher, 2);
  CHECK(two->base_model->encoder->layer_at(1)->attention->num_heads() == 3);
}

TEST_CASE("magnitude pruning: Zhu & Gupta's schedule, exact per-tensor sparsity, masks hold") {
  Generator gen(3);
  nn::Linear<float> a(nn::LinearOptions(10, 20).generator(&gen)), b(nn::LinearOptions(7, 3).generator(&gen));
  nn::MagnitudePruner<float> pruner({{"a", a.weight}, {"b", b.weight}},
                                    nn::MagnitudePruningOptions(0.8).begin_step(10).end_step(110).frequency(20));
  CHECK(pruner.sparsity_at(5) == 0.0);
  CHECK(pruner.sparsity_at(10) == 0.0);
  CHECK(pruner.sparsity_at(60) == doctest::Approx(0.8 - 0.8 * 0.125));  // (1 − 0.5)³
  CHECK(pruner.sparsity_at(110) == doctest::Approx(0.8));
  CHECK(pruner.sparsity_at(500) == doctest::Approx(0.8));

  // Step 30 is an update (10 + 20): each tensor gets ⌊s·n⌋ zeros, the smallest |w|.
  const std::vector<float> before = a.weight.to_vector();
  pruner.step(30);
  const double s30 = pruner.sparsity_at(30);
  auto zeros = [](const Tensor<float>& w) {
    auto v = w.to_vector();
    return int64_t(std::count(v.begin(), v.end(), 0.0f));
  };
  CHECK(zeros(a.weight) == int64_t(std::floor(s30 * 200)));
  CHECK(zeros(b.weight) == int64_t(std::floor(s30 * 21)));
  {
    auto v = a.weight.to_vector();
    float kept_min = 1e30f, dropped_max = 0;
    for (std::size_t i = 0; i < v.size(); ++i)
      (v[i] == 0 ? dropped_max : kept_min) = v[i] == 0 ? std::max(dropped_max, std::abs(before[i]))
                                                       : std::min(kept_min, std::abs(before[i]));
    CHECK(dropped_max <= kept_min);
  }
  // An optimizer step moves every weight (momentum, decay); step() puts the pruned ones back to 0,
  // and a step that is not an update keeps the same mask.
  optim::AdamW<float> opt(a.parameters(), optim::AdamWOptions(0.1));
  for (int k = 0; k < 3; ++k) {
    ember::sum(a.forward(randn<float>({4, 10}, gen))).backward();
    opt.step();
    opt.zero_grad();
  }
  const std::vector<float> mask = pruner.masks()[0].to_vector();
  pruner.step(31);
  CHECK(pruner.masks()[0].to_vector() == mask);
  auto v = a.weight.to_vector();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (mask[i] == 0) CHECK(v[i] == 0.0f);
  pruner.step(110);
  CHECK(zeros(a.weight) == 160);  // 0.8 of 200
  CHECK(pruner.sparsity() == doctest::Approx((160.0 + 16.0) / 221.0));
  // A pruner made again on the pruned weights starts from their zeros (resume).
  nn::MagnitudePruner<float> resumed({{"a", a.weight}}, nn::MagnitudePruningOptions(0.8).end_step(1));
  CHECK(resumed.sparsity() == doctest::Approx(0.8));

  auto bad = [&](nn::MagnitudePruningOptions o, const char* message) {
    CHECK_THROWS_WITH_AS(nn::MagnitudePruner<float>({{"a", a.weight}}, o), doctest::Contains(message), Error);
  };
  bad(nn::MagnitudePruningOptions(1.0), "final_sparsity must be in [0, 1)");
  bad(nn::MagnitudePruningOptions(0.5).initial_sparsity(0.6), "initial_sparsity");
  bad(nn::MagnitudePruningOptions(0.5).begin_step(5).end_step(2), "begin_step <= end_step");
  bad(nn::MagnitudePruningOptions(0.5).frequency(0), "frequency");
  CHECK_THROWS_WITH_AS(nn::MagnitudePruner<float>({}, nn::MagnitudePruningOptions(0.5)),
                       doctest::Contains("no weights"), Error);
  // begin = end is one step to the final sparsity; end = 0 reaches it at the first step.
  for (int64_t end : {0, 5}) {
    CAPTURE(end);
    nn::Linear<float> c(nn::LinearOptions(10, 10).generator(&gen));
    nn::MagnitudePruner<float> p({{"c", c.weight}},
                                 nn::MagnitudePruningOptions(0.5).begin_step(end).end_step(end).frequency(1000));
    CHECK(!p.reached_final());
    for (int64_t t = 1; t <= 6; ++t) p.step(t);
    CHECK(p.reached_final());
    CHECK(p.sparsity() == doctest::Approx(0.5));
  }
  // The encoder's Linear weights of BERT: 6 per layer.
  auto model = bert_classifier_from_pretrained<float>(prune_test::kDir + "/unpruned");
  CHECK(nn::encoder_linear_weights(*model).size() == 12);
}

#ifdef EMBER_HAVE_DNNL
TEST_CASE("int8 models: saved with int8 weights and float scales, loaded as int8, same logits") {
  namespace fs = std::filesystem;
  prune_test::Golden g;
  auto model = bert_classifier_from_pretrained<float>(prune_test::kDir);  // pruned: odd shapes too
  model->eval();
  const Tensor<float> float_logits = g.logits(*model);
  CHECK(nn::quantize_dynamic(*model) == 14);  // 6 per layer, pooler, classifier
  const Tensor<float> int8_logits = g.logits(*model);
  fs::path dir = fs::temp_directory_path() / ("ember_int8_" + std::to_string(::getpid()));
  save_pretrained(*model, dir.string());
  auto file = io::SafetensorsFile::open((dir / "model.safetensors").string());
  const std::string q = "bert.encoder.layer.0.attention.self.query.weight";
  CHECK(file.info(q).dtype == "I8");
  CHECK(file.info(q).shape == Shape{16, 32});
  CHECK(file.info(q + "_scale").dtype == "F32");
  CHECK(file.info(q + "_scale").shape == Shape{16});
  CHECK(file.info("bert.embeddings.word_embeddings.weight").dtype == "F32");
  auto cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  CHECK(cfg["quantization_config"]["quant_method"] == "ember_dynamic_int8");
  // The stored integers are the weights' int8 form: |q| ≤ 127, and the largest of a row is 127.
  {
    auto v = file.get<float>(q).to_vector();
    float top = 0;
    for (float x : v) top = std::max(top, std::abs(x));
    CHECK(top == 127.0f);
  }
  LoadReport report;
  auto again = bert_classifier_from_pretrained<float>(dir.string(), FromPretrainedOptions().loading_info(&report));
  again->eval();
  CHECK(report.unexpected_keys.empty());
  CHECK(again->classifier->dynamic_int8());
  ember::test::check_max_close(g.logits(*again), int8_logits, 1e-6, "int8 logits after a round trip");
  ember::test::check_max_close(g.logits(*again), float_logits, 0.05, "int8 vs float logits");
  // Switched back to float, the model saves a float file without quantization_config.
  nn::quantize_dynamic(*again, false);
  fs::path dir2 = dir.string() + "_float";
  save_pretrained(*again, dir2.string());
  CHECK(io::SafetensorsFile::open((dir2 / "model.safetensors").string()).info(q).dtype == "F32");
  CHECK(!nlohmann::json::parse(std::ifstream(dir2 / "config.json")).contains("quantization_config"));
  CHECK(!bert_classifier_from_pretrained<float>(dir2.string())->classifier->dynamic_int8());

  // A scale that is missing or of the wrong shape is an error naming it.
  for (bool with_scale : {false, true}) {
    CAPTURE(with_scale);
    std::vector<std::pair<std::string, io::TensorVariant>> t;
    for (const std::string& k : file.keys()) {
      if (file.info(k).dtype == "I8")  // stays I8
        t.emplace_back(k, ember::models::bert::detail::quantize_weight_s8(file.get<float>(k)).first);
      else if (k == q + "_scale") {
        if (with_scale) t.emplace_back(k, Tensor<float>::empty({3}));
      } else {
        t.emplace_back(k, file.get<float>(k));
      }
    }
    io::save_safetensors((dir2 / "model.safetensors").string(), t);
    CHECK_THROWS_WITH_AS(bert_classifier_from_pretrained<float>(dir2.string()),
                         doctest::Contains(with_scale ? "is F32 of shape [3], expected F32 [16]"
                                                      : "(its float scales) is missing"),
                         Error);
  }
  // Scales must be finite and positive; a scale beside a float weight is refused; so is another
  // tool's quantization_config.
  auto rewrite = [&](const std::function<void(std::vector<std::pair<std::string, io::TensorVariant>>&)>& f) {
    std::vector<std::pair<std::string, io::TensorVariant>> t;
    for (const std::string& k : file.keys())
      t.emplace_back(k, file.info(k).dtype == "I8"
                            ? io::TensorVariant(ember::models::bert::detail::quantize_weight_s8(
                                                    file.get<float>(k)).first)
                            : io::TensorVariant(file.get<float>(k)));
    f(t);
    io::save_safetensors((dir2 / "model.safetensors").string(), t);
  };
  rewrite([&](auto& t) {
    for (auto& [k, v] : t)
      if (k == q + "_scale") v = full<float>(Shape{16}, std::nanf(""));
  });
  CHECK_THROWS_WITH_AS(bert_classifier_from_pretrained<float>(dir2.string()),
                       doctest::Contains("scales are finite and > 0"), Error);
  rewrite([&](auto& t) {
    for (auto& [k, v] : t)
      if (k == q) v = file.get<float>(k);
  });
  CHECK_THROWS_WITH_AS(bert_classifier_from_pretrained<float>(dir2.string()),
                       doctest::Contains("an int8 weight must be I8"), Error);
  {
    auto c = nlohmann::json::parse(std::ifstream(dir / "config.json"));
    c["quantization_config"] = {{"quant_method", "bitsandbytes"}, {"bits", 4}};
    std::ofstream(dir2 / "config.json") << c.dump();
    rewrite([](auto&) {});
    CHECK_THROWS_WITH_AS(bert_classifier_from_pretrained<float>(dir2.string()),
                         doctest::Contains("ember reads only its own int8 models"), Error);
  }
  fs::remove_all(dir);
  fs::remove_all(dir2);
}
#endif
