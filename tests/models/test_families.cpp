// The encoder families (RoBERTa, XLM-R, DistilBERT, ELECTRA) and the sequence-classification
// losses (problem_type) against Hugging Face transformers.
//
// Fixtures (tools/gen_family_fixtures.py): per family a tiny randomly initialised
// <Family>ForSequenceClassification saved by transformers with its tokenizer
// (tests/data/{roberta,xlmr,distilbert,electra}_tiny), golden hidden states, logits, loss and
// every parameter's gradient for a padded batch (a) and sentence pairs (b); the same body with a
// token-classification head (…/token_classification) and with the family's masked-LM head
// (…/masked_lm); tests/data/problem_types/{multi_label,
// regression}: BERT with BCE-with-logits and MSE losses. Tolerance: per tensor
// max|ember − HF| ≤ 1e-5 · max|HF| (float32, sums in another order).
//
// Saving: each family is changed by one SGD step, saved by ember and loaded back; the keys must
// be exactly Hugging Face's (the fixture's model.safetensors) and the logits unchanged. With
// EMBER_FAMILY_SAVE_DIR set, the saved directories and ember's logits are kept there for
// tools/check_family_roundtrip.py, which loads them in transformers (docs/models.md).
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include <doctest/doctest.h>
#include <ember/ember.hpp>
#include <ember/io/safetensors.hpp>
#include <ember/data/auto_tokenizer.hpp>
#include <ember/models/auto.hpp>

#include "support/temp_dir.hpp"
#include "support/test_util.hpp"

using namespace ember;
using namespace ember::models;
using ember::test::check_max_close;
using ember::test::contains;
using ember::test::error_of;

namespace {
const std::string kData = EMBER_TEST_DATA_DIR;
const char* const kFamilies[] = {"roberta_tiny", "xlmr_tiny", "distilbert_tiny", "electra_tiny"};

Tensor<int64_t> opt_ids(const io::SafetensorsFile& f, const std::string& key) {
  return f.contains(key) ? f.get<int64_t>(key) : Tensor<int64_t>();
}

/// Every parameter's gradient against `golden`'s "<prefix>grad.<checkpoint name>", to 1e-5 of
/// its largest value. The attention key biases are the exception: their true gradient is 0
/// (softmax ignores a constant added to every score of a query), so both sides hold float
/// rounding noise; ember's must be below 1e-5 of the model's largest gradient.
template <class M>
void check_grads(const M& model, const io::SafetensorsFile& golden, const std::string& prefix) {
  double largest = 0;
  for (const std::string& k : golden.keys())
    if (k.rfind(prefix + "grad.", 0) == 0)
      for (float v : golden.get<float>(k).to_vector()) largest = std::max(largest, double(std::abs(v)));
  int64_t n = 0;
  for (auto& [name, p] : model.named_parameters()) {
    const std::string key = prefix + "grad." + bert::detail::checkpoint_key(name, model.config());
    REQUIRE_MESSAGE(golden.contains(key), "the fixture has no gradient ", key);
    REQUIRE_MESSAGE(p.grad().defined(), name, " got no gradient");
    if (key.find("key.bias") != std::string::npos || key.find("k_lin.bias") != std::string::npos) {
      for (float v : p.grad().to_vector())
        CHECK_MESSAGE(std::abs(v) <= 1e-5 * largest, key, ": ", v, " is not ~0");
    } else {
      check_max_close(p.grad(), golden.get<float>(key), 1e-5, key);
    }
    ++n;
  }
  int64_t want = 0;
  for (const std::string& k : golden.keys()) want += k.rfind(prefix + "grad.", 0) == 0;
  CHECK_MESSAGE(n == want, n, " parameters but ", want, " gradients in the fixture");
}

/// The keys of a safetensors file.
/// `Auto::from_pretrained<float>(dir)` in eval mode, checking that every key was used and none
/// was missing.
template <class Auto>
auto load_complete(const std::string& dir) {
  LoadReport report;
  auto model = Auto::template from_pretrained<float>(dir, FromPretrainedOptions().loading_info(&report));
  CHECK_MESSAGE(report.missing_keys.empty(), report.summary());
  CHECK_MESSAGE(report.unexpected_keys.empty(), report.summary());
  model->eval();
  return model;
}

std::set<std::string> keys_of(const std::string& path) {
  const std::vector<std::string> keys = io::SafetensorsFile::open(path).keys();
  return {keys.begin(), keys.end()};
}
}  // namespace

TEST_CASE("families: hidden states, logits, loss and every gradient match Hugging Face") {
  for (const std::string family : kFamilies) {
    CAPTURE(family);
    const std::string dir = kData + "/" + family;
    auto model = load_complete<AutoModelForSequenceClassification>(dir);
    const auto golden = io::SafetensorsFile::open(dir + "/golden.safetensors");
    for (std::string k : {"a", "b"}) {
      CAPTURE(k);
      const auto ids = golden.get<int64_t>(k + ".input_ids");
      const auto mask = golden.get<int64_t>(k + ".attention_mask");
      const auto types = opt_ids(golden, k + ".token_type_ids");
      const auto labels = golden.get<int64_t>(k + ".labels").reshape({-1});
      for (auto& [name, p] : model->named_parameters()) p.zero_grad();
      check_max_close(model->base_model->forward(ids, mask, types).last_hidden_state,
                      golden.get<float>(k + ".last_hidden_state"), 1e-5, k + ".last_hidden_state");
      auto out = model->forward(ids, mask, types, labels);
      check_max_close(out.logits, golden.get<float>(k + ".logits"), 1e-5, k + ".logits");
      check_max_close(out.loss.reshape({1}), golden.get<float>(k + ".loss"), 1e-5, k + ".loss");
      if (k == "a") {
        out.loss.backward();
        check_grads(*model, golden, "a.");
      }
    }
  }
}

TEST_CASE("families: token classification matches Hugging Face (logits, loss, gradients)") {
  for (const std::string family : kFamilies) {
    CAPTURE(family);
    const std::string dir = kData + "/" + family + "/token_classification";
    auto model = load_complete<AutoModelForTokenClassification>(dir);
    CHECK(model->num_labels() == 5);
    const auto golden = io::SafetensorsFile::open(dir + "/golden.safetensors");
    const auto ids = golden.get<int64_t>("a.input_ids");
    auto out = model->forward(ids, golden.get<int64_t>("a.attention_mask"),
                              opt_ids(golden, "a.token_type_ids"), golden.get<int64_t>("a.labels"));
    check_max_close(out.logits, golden.get<float>("a.logits"), 1e-5, "logits");
    check_max_close(out.loss.reshape({1}), golden.get<float>("a.loss"), 1e-5, "loss");
    out.loss.backward();
    check_grads(*model, golden, "a.");
    CHECK(contains(error_of([&] { model->forward(ids, {}, {}, ids.reshape({-1})); }),
                   "labels must have input_ids' shape"));
  }
}

TEST_CASE("families: masked LM (AutoModelForMaskedLM) matches Hugging Face: masked logits, loss, "
          "every gradient; save_pretrained writes its keys") {
  ember::test::TempDir tmp("families_mlm");
  const char* keep = std::getenv("EMBER_FAMILY_SAVE_DIR");  // for tools/check_family_roundtrip.py
  const std::filesystem::path out_root = keep ? std::filesystem::path(keep) : tmp.path();
  for (const std::string family : kFamilies) {
    CAPTURE(family);
    const std::string dir = kData + "/" + family + "/masked_lm";
    auto model = load_complete<AutoModelForMaskedLM>(dir);
    const auto golden = io::SafetensorsFile::open(dir + "/golden.safetensors");
    const auto ids = golden.get<int64_t>("a.input_ids");
    const auto mask = golden.get<int64_t>("a.attention_mask");
    const auto types = opt_ids(golden, "a.token_type_ids");
    const Tensor<float> want = golden.get<float>("a.masked_logits");
    auto out = model->forward(ids, mask, types, golden.get<int64_t>("a.labels"));
    CHECK(out.masked_positions.to_vector() == golden.get<int64_t>("a.masked_positions").to_vector());
    check_max_close(out.logits, want, 1e-5, "masked logits");
    check_max_close(out.loss.reshape({1}), golden.get<float>("a.loss"), 1e-5, "loss");
    out.loss.backward();
    check_grads(*model, golden, "a.");  // the word embeddings' holds both uses (the tie)
    CHECK(model->lm_head->decoder_weight.data() ==
          model->base_model->embeddings->word_embeddings->weight.data());
    // Without labels: logits at every position [batch, seq, vocab]; the masked rows as above.
    NoGradGuard no_grad;
    const Tensor<float> all = model->forward(ids, mask, types).logits;
    CHECK(all.shape() == Shape{ids.size(0), ids.size(1), model->config().vocab_size});
    check_max_close(index_select(all.reshape({-1, all.size(-1)}), 0, out.masked_positions), want,
                    1e-5, "unlabelled forward at the masked positions");
    // Saved by ember: Hugging Face's keys (the tied matrix once) and architecture; same logits back.
    const std::string saved = (out_root / (family + "_masked_lm")).string();
    bert::save_pretrained(*model, saved);
    CHECK(keys_of(saved + "/model.safetensors") == keys_of(dir + "/model.safetensors"));
    const nlohmann::json ours = nlohmann::json::parse(std::ifstream(saved + "/config.json"));
    const nlohmann::json theirs = nlohmann::json::parse(std::ifstream(dir + "/config.json"));
    CHECK(ours["architectures"] == theirs["architectures"]);
    auto back = AutoModelForMaskedLM::from_pretrained<float>(saved);
    back->eval();
    CHECK(back->forward(ids, mask, types).logits.to_vector() == all.to_vector());
    if (keep) {
      std::vector<std::pair<std::string, io::TensorVariant>> t = {
          {"input_ids", ids}, {"attention_mask", mask}, {"logits", all}};
      if (types.defined()) t.emplace_back("token_type_ids", types);
      io::save_safetensors(saved + "/ember_logits.safetensors", t);
    }
  }
}

TEST_CASE("families: save_pretrained writes Hugging Face's keys and config; loading it back "
          "gives the same logits") {
  ember::test::TempDir tmp("families");
  const char* keep = std::getenv("EMBER_FAMILY_SAVE_DIR");
  const std::filesystem::path out_root = keep ? std::filesystem::path(keep) : tmp.path();
  for (const std::string family : kFamilies) {
    for (const bool token : {false, true}) {
      CAPTURE(family);
      CAPTURE(token);
      const std::string dir = kData + "/" + family + (token ? "/token_classification" : "");
      const std::string saved =
          (out_root / (family + (token ? "_token" : "_sequence"))).string();
      const auto golden = io::SafetensorsFile::open(dir + "/golden.safetensors");
      const auto ids = golden.get<int64_t>("a.input_ids");
      const auto mask = golden.get<int64_t>("a.attention_mask");
      const auto types = opt_ids(golden, "a.token_type_ids");
      Tensor<float> before, after;
      // One SGD step first, so the saved weights are ember's, not the fixture's.
      auto step = [&](auto& model, const auto& labels) {
        model->eval();
        auto out = model->forward(ids, mask, types, labels);
        out.loss.backward();
        NoGradGuard no_grad;
        for (auto& [name, p] : model->named_parameters()) p.copy_(p - p.grad() * 0.5);
      };
      if (token) {
        auto model = AutoModelForTokenClassification::from_pretrained<float>(dir);
        step(model, golden.get<int64_t>("a.labels"));
        before = model->forward(ids, mask, types).logits;
        bert::save_pretrained(*model, saved);
        auto back = AutoModelForTokenClassification::from_pretrained<float>(saved);
        back->eval();
        after = back->forward(ids, mask, types).logits;
      } else {
        auto model = AutoModelForSequenceClassification::from_pretrained<float>(dir);
        step(model, golden.get<int64_t>("a.labels").reshape({-1}));
        before = model->forward(ids, mask, types).logits;
        bert::save_pretrained(*model, saved);
        auto back = AutoModelForSequenceClassification::from_pretrained<float>(saved);
        back->eval();
        after = back->forward(ids, mask, types).logits;
      }
      CHECK(before.to_vector() == after.to_vector());
      CHECK(keys_of(saved + "/model.safetensors") == keys_of(dir + "/model.safetensors"));
      const nlohmann::json ours = nlohmann::json::parse(std::ifstream(saved + "/config.json"));
      const nlohmann::json theirs = nlohmann::json::parse(std::ifstream(dir + "/config.json"));
      CHECK(ours["model_type"] == theirs["model_type"]);
      CHECK(ours["architectures"] == theirs["architectures"]);
      for (const auto& [key, value] : theirs.items())  // every setting of HF's file is kept
        if (key != "transformers_version" && key != "torch_dtype" && key != "dtype" &&
            key != "problem_type")
          CHECK_MESSAGE(ours.contains(key), key);
      if (keep) {
        std::vector<std::pair<std::string, io::TensorVariant>> t = {
            {"input_ids", ids}, {"attention_mask", mask}, {"logits", after}};
        if (types.defined()) t.emplace_back("token_type_ids", types);
        io::save_safetensors(saved + "/ember_logits.safetensors", t);
      }
    }
  }
}

TEST_CASE("families: config.json per model_type, and the errors") {
  const BertConfig d = AutoConfig::from_pretrained(kData + "/distilbert_tiny");
  CHECK(d.family() == bert::Family::DistilBert);
  CHECK(d.hidden_size == 32);
  CHECK(d.type_vocab_size == 0);
  nlohmann::json j = d.to_json();
  CHECK(j.contains("dim"));
  CHECK(j.contains("n_layers"));
  CHECK(!j.contains("hidden_size"));
  CHECK(!j.contains("type_vocab_size"));
  CHECK(BertConfig::from_json(j).to_json() == j);
  j["sinusoidal_pos_embds"] = true;
  CHECK(contains(error_of([&] { BertConfig::from_json(j, "c.json"); }), "sinusoidal_pos_embds"));

  const BertConfig e = AutoConfig::from_pretrained(kData + "/electra_tiny");
  CHECK(e.embedding_dim() == 16);
  CHECK(e.hidden_size == 32);
  const BertConfig r = AutoConfig::from_pretrained(kData + "/roberta_tiny");
  CHECK(r.base_model_prefix() == "roberta");
  CHECK(r.pad_token_id == 1);
  CHECK(AutoConfig::from_pretrained(kData + "/xlmr_tiny").class_prefix() == "XLMRoberta");
  // RoBERTa: positions from pad_token_id + 1 over the non-padding tokens.
  auto rm = AutoModel::from_pretrained<float>(kData + "/roberta_tiny");
  const Tensor<int64_t> ids = from_vector<int64_t>({0, 5, 6, 2, 1, 1, 0, 7, 2, 1, 1, 1}, {2, 6});
  CHECK(rm->embeddings->position_ids(ids).to_vector() ==
        std::vector<int64_t>{2, 3, 4, 5, 1, 1, 2, 3, 4, 1, 1, 1});
  const int64_t too_long = r.max_position_embeddings - r.pad_token_id;  // one more than fits
  CHECK(contains(error_of([&] { rm->forward(full<int64_t>({1, too_long}, 5)); }),
                 "positions run from pad_token_id + 1"));

  CHECK(contains(error_of([] { BertConfig::from_json({{"model_type", "gpt2"}}, "c.json"); }),
                 "model_type is \"gpt2\""));
  BertConfig b;
  b.embedding_size = 16;  // an ELECTRA setting on a BERT config
  CHECK(contains(error_of([&] { b.validate(); }), "embedding_size (16) is an electra setting"));
}

TEST_CASE("problem_type: multi-label (BCE with logits) and regression (MSE) match PyTorch") {
  for (std::string kind : {"multi_label", "regression"}) {
    CAPTURE(kind);
    const std::string dir = kData + "/problem_types/" + kind;
    auto model = AutoModelForSequenceClassification::from_pretrained<float>(dir);
    model->eval();
    CHECK(model->config().problem_type ==
          (kind == "regression" ? "regression" : "multi_label_classification"));
    const auto g = io::SafetensorsFile::open(dir + "/golden.safetensors");
    const auto ids = g.get<int64_t>("a.input_ids");
    const auto mask = g.get<int64_t>("a.attention_mask");
    const auto types = opt_ids(g, "a.token_type_ids");
    auto out = model->forward(ids, mask, types, g.get<float>("a.labels"));
    check_max_close(out.logits, g.get<float>("a.logits"), 1e-5, "logits");
    check_max_close(out.loss.reshape({1}), g.get<float>("a.loss"), 1e-5, "loss");
    out.loss.backward();
    check_grads(*model, g, "a.");
    // The wrong kind of labels is an error, not a silently different loss.
    if (kind == "multi_label")
      CHECK(contains(error_of([&] { model->forward(ids, mask, types, full<int64_t>({ids.size(0)}, 1)); }),
                     "needs float targets"));
    else
      CHECK(contains(error_of([&] { model->forward(ids, mask, types, g.get<float>("a.labels").reshape({1, -1})); }),
                     "regression targets must be [batch] or [batch, 1]"));
  }
}

TEST_CASE("mse_loss and binary_cross_entropy_with_logits: PyTorch's values, stable, shape errors") {
  // F.mse_loss([1, 2, 4], [1, 0, 1]) = (0 + 4 + 9) / 3.
  const auto x = from_vector<double>({1.0, 2.0, 4.0}, {3}), y = from_vector<double>({1.0, 0.0, 1.0}, {3});
  CHECK(mse_loss(x, y).item() == doctest::Approx(13.0 / 3.0).epsilon(1e-15));
  CHECK(mse_loss(x, y, Reduction::Sum).item() == doctest::Approx(13.0).epsilon(1e-15));
  // F.binary_cross_entropy_with_logits(tensor([0., 2., -3.]), tensor([1., 0., 0.5]), reduction="none")
  //   = [log 2, 2 + log(1 + e^-2), 0.5·3 + log(1 + e^-3)]
  const auto l = from_vector<double>({0.0, 2.0, -3.0}, {3}), t = from_vector<double>({1.0, 0.0, 0.5}, {3});
  const auto v = binary_cross_entropy_with_logits(l, t, Reduction::None).to_vector();
  CHECK(v[0] == doctest::Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(v[1] == doctest::Approx(2.0 + std::log1p(std::exp(-2.0))).epsilon(1e-15));
  CHECK(v[2] == doctest::Approx(1.5 + std::log1p(std::exp(-3.0))).epsilon(1e-15));
  // Large logits stay finite in float: 1e4 with target 0 costs 1e4, −1e4 with target 0 costs 0.
  const auto big = binary_cross_entropy_with_logits(from_vector<float>({1e4f, -1e4f}, {2}),
                                                    from_vector<float>({0.0f, 0.0f}, {2}),
                                                    Reduction::None).to_vector();
  CHECK(big[0] == doctest::Approx(1e4));
  CHECK(big[1] == doctest::Approx(0.0));
  CHECK(contains(error_of([&] { mse_loss(x, y.reshape({3, 1})); }), "same shape"));
  CHECK(contains(error_of([&] { binary_cross_entropy_with_logits(x, y.reshape({1, 3})); }),
                 "same shape"));
}

TEST_CASE("AutoTokenizer picks each family's tokenizer; its batches are the fixtures' inputs") {
  const std::pair<const char*, const char*> expected[] = {{"roberta_tiny", "BPE"},
                                                          {"xlmr_tiny", "Unigram"},
                                                          {"distilbert_tiny", "WordPiece"},
                                                          {"electra_tiny", "WordPiece"}};
  for (const auto& [family, kind] : expected) {
    const std::string dir = kData + "/" + family;
    CAPTURE(dir);
    const auto tok = data::AutoTokenizer::from_pretrained(dir);
    CHECK(tok.model_type() == kind);
    const nlohmann::json cases =
        nlohmann::json::parse(std::ifstream(dir + "/golden.json"))["cases"];
    const auto golden = io::SafetensorsFile::open(dir + "/golden.safetensors");
    std::vector<std::string> a, pa, pb;
    for (const auto& ex : cases["a"]["examples"]) a.push_back(ex["text"]);
    for (const auto& ex : cases["b"]["examples"]) {
      pa.push_back(ex["text"]);
      pb.push_back(ex["text_pair"]);
    }
    const data::BatchEncoding ea = tok.encode_batch(a), eb = tok.encode_batch(pa, pb);
    CHECK(ea.input_ids == golden.get<int64_t>("a.input_ids").to_vector());
    CHECK(ea.attention_mask == golden.get<int64_t>("a.attention_mask").to_vector());
    CHECK(eb.input_ids == golden.get<int64_t>("b.input_ids").to_vector());
    CHECK(eb.attention_mask == golden.get<int64_t>("b.attention_mask").to_vector());
    if (golden.contains("b.token_type_ids"))
      CHECK(eb.token_type_ids == golden.get<int64_t>("b.token_type_ids").to_vector());
    CHECK(tok.pad_token_id() == AutoConfig::from_pretrained(dir).pad_token_id);
  }
  ember::test::TempDir tmp("auto_tokenizer");
  CHECK(contains(error_of([&] { data::AutoTokenizer::from_pretrained(tmp.path().string()); }),
                 "has no tokenizer.json, vocab.txt or vocab.json + merges.txt"));
  tmp.write("tokenizer.json", R"({"model": {"type": "WordLevel"}})");
  CHECK(contains(error_of([&] { data::AutoTokenizer::from_pretrained(tmp.path().string()); }),
                 "model.type \"WordLevel\""));
  tmp.write("tokenizer.json", "{not json");
  CHECK(contains(error_of([&] { data::AutoTokenizer::from_pretrained(tmp.path().string()); }),
                 "is not valid JSON"));
}
