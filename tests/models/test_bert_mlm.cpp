// BertForMaskedLM parity with Hugging Face transformers, and tied weights.
//
// Fixture: tests/data/bert_mlm_tiny (tools/gen_bert_mlm_fixture.py, PyTorch 2.x + transformers
// 5.x from PyPI): a randomly initialized 2-layer BertForMaskedLM (hidden 32, 4 heads, the real
// uncased 30,522-token vocabulary) saved by HF — the decoder tied to the word embeddings, so the
// file stores the shared matrix once — with a masked batch of three SST-2 sentences (HF's
// DataCollatorForLanguageModeling), HF's logits at the masked positions, its loss, the gradient
// of every parameter, and two AdamW steps. tests/data/bert_pretraining_tiny: the same weights
// saved as BertForPreTraining (plus the next-sentence head and a pooler).
//
// Tolerance: 1e-5 relative per tensor (max|ember − HF| ≤ 1e-5 · max|HF|), fp32, as test_bert.cpp.
#include <filesystem>
#include <set>
#include <string>

#include <doctest/doctest.h>
#include "support/test_util.hpp"
#include <ember/ember.hpp>
#include <ember/io/safetensors.hpp>
#include <ember/models/bert/pretrained.hpp>

using namespace ember;
using namespace ember::models::bert;

namespace mlm_test {
const std::string kDir = std::string(EMBER_TEST_DATA_DIR) + "/bert_mlm_tiny";
const std::string kWordEmbeddings = "bert.embeddings.word_embeddings.weight";


struct Batch {
  Tensor<int64_t> ids, mask, types, labels;
};
Batch golden_batch(const io::SafetensorsFile& g) {
  return {g.get<int64_t>("input_ids"), g.get<int64_t>("attention_mask"),
          g.get<int64_t>("token_type_ids"), g.get<int64_t>("labels")};
}
std::set<std::string> keys_of(const std::string& file) {
  const std::vector<std::string> keys = io::SafetensorsFile::open(file).keys();
  return {keys.begin(), keys.end()};
}
}  // namespace mlm_test

TEST_CASE("BertForMaskedLM matches Hugging Face: masked logits, loss, every gradient") {
  using namespace mlm_test;
  LoadReport report;
  auto model = bert_masked_lm_from_pretrained<float>(kDir, FromPretrainedOptions().loading_info(&report));
  CHECK_MESSAGE(report.missing_keys.empty(), report.summary());  // the tied decoder is not missing
  CHECK_MESSAGE(report.unexpected_keys.empty(), report.summary());
  model->eval();
  auto golden = io::SafetensorsFile::open(kDir + "/golden.safetensors");
  Batch b = golden_batch(golden);

  auto out = model->forward(b.ids, b.mask, b.types, b.labels);
  CHECK(out.masked_positions.to_vector() == golden.get<int64_t>("masked_positions").to_vector());
  ember::test::check_max_close(out.logits, golden.get<float>("masked_logits"), 1e-5, "masked logits");
  ember::test::check_max_close(out.loss.reshape({1}), golden.get<float>("loss"), 1e-5, "loss");

  // Without labels: every position (HF's [batch, seq, vocab]); its masked rows are the same.
  auto all = model->forward(b.ids, b.mask, b.types).logits;
  CHECK(all.shape() == Shape{b.ids.size(0), b.ids.size(1), 30522});
  ember::test::check_max_close(index_select(all.reshape({-1, 30522}), 0, out.masked_positions),
              golden.get<float>("masked_logits"), 1e-5, "full logits at the masked positions");

  out.loss.backward();
  int checked = 0;
  for (auto& [name, p] : model->named_parameters()) {  // tied tensors once, as HF's
    REQUIRE_MESSAGE(golden.contains("grad." + name), name);
    REQUIRE_MESSAGE(p.grad().defined(), name);
    // + 1e-10 absolute: attention.self.key.bias has an exactly zero true gradient (softmax is
    // invariant to shifting a row of scores), so both sides hold rounding noise (~1e-12).
    ember::test::check_max_close(p.grad(), golden.get<float>("grad." + name), 1e-5, "grad." + name, 1e-10);
    ++checked;
  }
  CHECK(checked == 42);  // HF's named_parameters() (golden.json "parameters"): 5 + 2 × 16 + 5
}

TEST_CASE("BertForMaskedLM: the tied decoder's gradient is the sum of both uses") {
  using namespace mlm_test;
  auto golden = io::SafetensorsFile::open(kDir + "/golden.safetensors");
  Batch b = golden_batch(golden);
  auto tied = bert_masked_lm_from_pretrained<float>(kDir);
  tied->eval();
  // The same weights with the decoder untied: a copy of the embedding matrix of its own.
  BertConfig c = tied->config();
  c.tie_word_embeddings = false;
  BertForMaskedLM<float> untied(c);
  untied.eval();
  CHECK(untied.tied_state_keys().size() == 1);  // only decoder.bias = cls.predictions.bias
  untied.load_state_dict(tied->state_dict());  // strict: both names of the tie are keys of both
  tied->forward(b.ids, b.mask, b.types, b.labels).loss.backward();
  untied.forward(b.ids, b.mask, b.types, b.labels).loss.backward();
  Tensor<float> input_use = untied.base_model->embeddings->word_embeddings->weight.grad();
  Tensor<float> decoder_use = untied.lm_head->decoder_weight.grad();
  ember::test::check_max_close(tied->base_model->embeddings->word_embeddings->weight.grad(), input_use + decoder_use, 1e-6,
              "tied gradient = input use + decoder use");
  // Both uses matter: neither alone is the tied gradient.
  CHECK(max(decoder_use * decoder_use).item() > 1e-6);
  CHECK(max(input_use * input_use).item() > 1e-6);
}

TEST_CASE("BertForMaskedLM: two AdamW steps match PyTorch") {
  using namespace mlm_test;
  auto golden = io::SafetensorsFile::open(kDir + "/golden.safetensors");
  Batch b = golden_batch(golden);
  auto model = bert_masked_lm_from_pretrained<float>(kDir);
  model->eval();
  optim::AdamW<float> opt(optim::bert_param_groups(*model, 0.01),
                          optim::AdamWOptions(1e-3).betas(0.9, 0.999).eps(1e-8));
  for (int step = 1; step <= 2; ++step) {
    auto loss = model->forward(b.ids, b.mask, b.types, b.labels).loss;
    ember::test::check_max_close(loss.reshape({1}), golden.get<float>("step" + std::to_string(step) + ".loss"), 1e-5,
                "loss of step " + std::to_string(step));
    loss.backward();
    opt.step();
    opt.zero_grad();
  }
  const Tensor<int64_t> rows = golden.get<int64_t>("after2_rows");
  for (auto& [name, p] : model->named_parameters()) {
    Tensor<float> value = name == kWordEmbeddings ? index_select(p.detach(), 0, rows) : p.detach();
    // + 1e-5 absolute (1% of lr): Adam divides by sqrt(v), so an element whose gradient is
    // rounding noise (the key biases, sums that cancel) moves by up to lr in a direction the
    // noise picks, on both sides; every other element is held to 1e-5 relative.
    ember::test::check_max_close(value, golden.get<float>("after2." + name), 1e-5, "after2." + name, 1e-5);
  }
}

TEST_CASE("tied weights: both names in state_dict, stored once, loaded from a single copy") {
  using namespace mlm_test;
  namespace fs = std::filesystem;
  auto model = bert_masked_lm_from_pretrained<float>(kDir);
  const auto tied = model->tied_state_keys();
  CHECK(tied == std::map<std::string, std::string>{
                    {"cls.predictions.decoder.weight", kWordEmbeddings},
                    {"cls.predictions.decoder.bias", "cls.predictions.bias"}});
  auto sd = model->state_dict();
  std::set<std::string> names;
  for (auto& [n, t] : sd) names.insert(n);
  CHECK(names.count("cls.predictions.decoder.weight") == 1);
  // One tensor, one optimizer entry: parameters() holds what state_dict() holds minus the ties.
  int64_t unique = 0;
  for (auto& p : model->parameters()) unique += p.numel();
  int64_t listed = 0;
  for (auto& [n, t] : sd) listed += tied.count(n) ? 0 : t.numel();
  CHECK(unique == listed);

  // save_pretrained writes HF's key set (golden.json's saved_keys: no decoder.*), and it loads.
  fs::path dir = fs::temp_directory_path() / ("ember_mlm_save_" + std::to_string(::getpid()));
  save_pretrained(*model, dir.string());
  auto saved = keys_of((dir / "model.safetensors").string());
  CHECK(saved == keys_of(kDir + "/model.safetensors"));
  CHECK(saved.count("cls.predictions.decoder.weight") == 0);
  LoadReport report;
  auto back = bert_masked_lm_from_pretrained<float>(dir.string(), FromPretrainedOptions().loading_info(&report));
  CHECK(report.missing_keys.empty());
  CHECK(report.unexpected_keys.empty());
  CHECK(back->config().tie_word_embeddings);
  back->eval();
  model->eval();
  auto golden = io::SafetensorsFile::open(kDir + "/golden.safetensors");
  Batch b = golden_batch(golden);
  ember::test::check_max_close(back->forward(b.ids, b.mask, b.types, b.labels).logits,
              golden.get<float>("masked_logits"), 1e-5, "reloaded logits");

  // A checkpoint that stores both names (older PyTorch files) loads too: the first name wins,
  // as HF ties after loading.
  std::vector<std::pair<std::string, io::TensorVariant>> both;
  for (auto& [n, t] : sd) both.emplace_back(n, tied.count(n) ? t * 0.0f : t);
  io::save_safetensors((dir / "model.safetensors").string(), both);
  report = {};
  back = bert_masked_lm_from_pretrained<float>(dir.string(), FromPretrainedOptions().loading_info(&report));
  CHECK(report.missing_keys.empty());
  CHECK(report.unexpected_keys.empty());
  ember::test::check_max_close(back->lm_head->decoder_weight, model->base_model->embeddings->word_embeddings->weight,
              0, "decoder = word embeddings");
  CHECK(back->lm_head->decoder_weight.data() == back->base_model->embeddings->word_embeddings->weight.data());

  // load_state_dict (strict) takes a dict without the tied names.
  nn::StateDict<float> once;
  for (auto& [n, t] : sd)
    if (!tied.count(n)) once.emplace_back(n, t);
  auto result = back->load_state_dict(once);
  CHECK(result.ok());
  fs::remove_all(dir);
}

TEST_CASE("BertForMaskedLM loads BertForPreTraining, BertModel and classifier checkpoints") {
  using namespace mlm_test;
  auto golden = io::SafetensorsFile::open(kDir + "/golden.safetensors");
  Batch b = golden_batch(golden);

  // BertForPreTraining: the next-sentence head and the pooler are unused.
  LoadReport report;
  auto pre = bert_masked_lm_from_pretrained<float>(
      std::string(EMBER_TEST_DATA_DIR) + "/bert_pretraining_tiny",
      FromPretrainedOptions().loading_info(&report));
  CHECK(report.missing_keys.empty());
  CHECK(std::set<std::string>(report.unexpected_keys.begin(), report.unexpected_keys.end()) ==
        std::set<std::string>{"cls.seq_relationship.weight", "cls.seq_relationship.bias",
                              "bert.pooler.dense.weight", "bert.pooler.dense.bias"});
  pre->eval();
  ember::test::check_max_close(pre->forward(b.ids, b.mask, b.types, b.labels).logits,
              golden.get<float>("masked_logits"), 1e-5, "BertForPreTraining checkpoint logits");

  // A classifier checkpoint (a BERT body without MLM head): fresh head, as HF initializes it.
  report = {};
  Generator gen(7);
  auto fresh = bert_masked_lm_from_pretrained<float>(
      std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny",
      FromPretrainedOptions().loading_info(&report).generator(&gen));
  CHECK(std::set<std::string>(report.missing_keys.begin(), report.missing_keys.end()) ==
        std::set<std::string>{"cls.predictions.bias", "cls.predictions.transform.dense.weight",
                              "cls.predictions.transform.dense.bias",
                              "cls.predictions.transform.LayerNorm.weight",
                              "cls.predictions.transform.LayerNorm.bias"});
  CHECK(report.unexpected_keys.size() == 4);  // bert.pooler.dense.*, classifier.*
  CHECK(max(fresh->lm_head->bias * fresh->lm_head->bias).item() == 0.0f);
  const double sd = std::sqrt(mean(fresh->lm_head->dense->weight * fresh->lm_head->dense->weight).item());
  CHECK(sd == doctest::Approx(0.02).epsilon(0.1));  // normal(0, initializer_range)
  CHECK(fresh->lm_head->decoder_weight.data() ==
        fresh->base_model->embeddings->word_embeddings->weight.data());

  // A config that contradicts the checkpoint: an error naming the parameter and both shapes.
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("ember_mlm_bad_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(kDir + "/model.safetensors", dir / "model.safetensors");
  BertConfig c = fresh->config();
  c.vocab_size = 30000;
  std::ofstream(dir / "config.json") << c.to_json("BertForMaskedLM").dump();
  CHECK_THROWS_WITH_AS(bert_masked_lm_from_pretrained<float>(dir.string()),
                       doctest::Contains("bert.embeddings.word_embeddings.weight has shape [30522, 32]"),
                       ember::Error);
  fs::remove_all(dir);
}

TEST_CASE("BertForMaskedLM from a config: HF's initialization, labels checked") {
  BertConfig c;
  c.vocab_size = 100;
  c.hidden_size = 16;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.intermediate_size = 32;
  c.max_position_embeddings = 16;
  Generator gen(3);
  BertForMaskedLM<float> model(c, &gen);
  Tensor<float> pad_row = model.base_model->embeddings->word_embeddings->weight.select(0, 0);
  CHECK(max(pad_row * pad_row).item() == 0.0f);
  CHECK(max(model.lm_head->bias * model.lm_head->bias).item() == 0.0f);
  auto ids = from_vector<int64_t>({2, 5, 7, 9}, {1, 4});
  CHECK_THROWS_WITH_AS(model.forward(ids, {}, {}, from_vector<int64_t>({-100, 100, -100, -100}, {1, 4})),
                       doctest::Contains("outside the vocabulary"), ember::Error);
  CHECK_THROWS_WITH_AS(model.forward(ids, {}, {}, from_vector<int64_t>({-100, 1}, {1, 2})),
                       doctest::Contains("expected the shape of input_ids"), ember::Error);
  // Nothing masked: loss 0, and backward still works (zero gradients).
  auto out = model.forward(ids, {}, {}, from_vector<int64_t>({-100, -100, -100, -100}, {1, 4}));
  CHECK(out.loss.item() == 0.0f);
  CHECK(out.logits.size(0) == 0);
  out.loss.backward();
  CHECK(max(model.lm_head->bias.grad() * model.lm_head->bias.grad()).item() == 0.0f);
}
