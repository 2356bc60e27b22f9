// Structured compression of BERT: attention-head pruning (Michel et al. 2019) against Hugging Face
// transformers 4.x, and the distillation student (DistilBERT's every-other-layer initialization).
//
// Fixture: tests/data/bert_tiny_pruned (tools/gen_bert_pruned_fixture.py, transformers 4.57):
// a tiny BERT (2 layers of 4 heads) before and after HF's `prune_heads({0: [0, 2], 1: [3]})`,
// its logits on a padded batch, and HF's |∂loss/∂head_mask| (the head importance).
// Tolerances: logits 1e-5 of the largest (float32, as test_bert.cpp); importance 1e-4 relative.
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <ember/ember.hpp>

using namespace ember;
using namespace ember::models::bert;

namespace prune_test {
const std::string kDir = std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny_pruned";
const std::map<int64_t, std::vector<int64_t>> kPruned = {{0, {0, 2}}, {1, {3}}};

void check_close(const Tensor<float>& a, const Tensor<float>& b, double rtol, const std::string& what) {
  REQUIRE_MESSAGE(a.shape() == b.shape(), what, ": shapes ", a.shape(), " vs ", b.shape());
  auto va = a.to_vector(), vb = b.to_vector();
  double d = 0, m = 0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    d = std::max(d, std::abs(double(va[i]) - double(vb[i])));
    m = std::max(m, std::abs(double(vb[i])));
  }
  CHECK_MESSAGE(d <= rtol * m + 1e-12, what, ": max|diff| ", d, " > ", rtol, " * max|ref| ", m);
}

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
  CHECK(model->bert->encoder->layer_at(0)->attention->num_heads() == 2);
  CHECK(model->bert->encoder->layer_at(0)->attention->heads() == std::vector<int64_t>{1, 3});
  CHECK(model->bert->encoder->layer_at(1)->attention->num_heads() == 3);
  CHECK(model->bert->encoder->layer_at(0)->attention->query->weight.shape() == Shape{16, 32});
  CHECK(model->bert->encoder->layer_at(0)->attention->dense->weight.shape() == Shape{32, 16});
  prune_test::check_close(g.logits(*model), g.file.get<float>("pruned_logits"), 1e-5, "pruned logits");
}

TEST_CASE("head pruning: prune_heads equals HF's, saves pruned_heads, reloads, trains") {
  namespace fs = std::filesystem;
  prune_test::Golden g;
  auto model = bert_classifier_from_pretrained<float>(prune_test::kDir + "/unpruned");
  model->eval();
  prune_test::check_close(g.logits(*model), g.file.get<float>("logits"), 1e-5, "unpruned logits");
  const double before = double(model->num_parameters());
  model->prune_heads({{0, {2, 0}}, {1, {3}}});
  model->prune_heads({{0, {0}}});  // already removed: skipped
  CHECK(model->config().pruned_heads == prune_test::kPruned);
  CHECK(model->bert->config().pruned_heads == prune_test::kPruned);
  // 3 heads of d = 8: 3·(3·8·32 + 3·8) query/key/value rows and 3·8·32 output.dense columns
  CHECK(before - double(model->num_parameters()) == 3 * (3 * 8 * 32 + 3 * 8) + 3 * 8 * 32);
  prune_test::check_close(g.logits(*model), g.file.get<float>("pruned_logits"), 1e-5, "pruned logits");

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
  auto& attn = *again->bert->encoder->layer_at(0)->attention;
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
  const auto& enc = *model->bert->encoder;
  auto imp = nn::head_importance(*model, enc, 1, [&](int64_t) {
    return model->forward(g.ids, g.mask, g.types, g.labels).loss;
  });
  REQUIRE(imp.size() == 2);
  Tensor<float> got = from_vector<float>(
      {float(imp[0][0]), float(imp[0][1]), float(imp[0][2]), float(imp[0][3]), float(imp[1][0]),
       float(imp[1][1]), float(imp[1][2]), float(imp[1][3])}, {2, 4});
  prune_test::check_close(got, g.file.get<float>("head_importance"), 1e-4, "head importance");
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
  CHECK(two->bert->encoder->layer_at(1)->attention->num_heads() == 3);
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
  // The encoder's Linear weights of BERT: 6 per layer.
  auto model = bert_classifier_from_pretrained<float>(prune_test::kDir + "/unpruned");
  CHECK(nn::encoder_linear_weights(*model).size() == 12);
}
