// fuzz/fuzz_conll.cpp — libFuzzer target for the CoNLL token-classification reader
// (`data::read_conll`) and the seqeval entity scores (`train::get_entities_of_sentences`,
// `train::entity_scores`). The whole input is the file, written to a scratch folder as
// train.conll. What it checks:
//   * reading it raises ember::Error or gives sentences of as many tags as tokens (>= 1), no
//     empty token or tag, no tag holding a space or a tab, and `parse_conll` of the same bytes in
//     memory gives the same sentences;
//   * the label list is sorted and unique;
//   * the entities of the tags have start <= end and strictly increasing ends; scoring the tags
//     against themselves gives F1 1 (or 0 without entities), and against the tags rotated by one
//     inside each sentence, scores in [0, 1] with correct <= predicted and correct <= support;
//     the report is made.
// Bad files must raise ember::Error; anything else is a finding.
#include <ember/data/conll.hpp>
#include <ember/train/metrics.hpp>

#include "fuzz_util.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace ember;
  const std::string_view bytes = fuzz::as_text(data, size);
  const std::string path = fuzz::write_scratch("train.conll", bytes);
  std::vector<data::TokenClassificationExample> ex;
  try {
    ex = data::read_conll(path);
  } catch (const Error&) {
    try {  // the same bytes in memory must fail too
      (void)data::parse_conll(bytes, "mem");
    } catch (const Error&) {
      return 0;
    }
    std::abort();
  }
  const std::vector<data::TokenClassificationExample> mem = data::parse_conll(bytes, "mem");
  if (mem.size() != ex.size() || ex.empty()) std::abort();
  std::vector<std::vector<std::string>> tags, rotated;
  for (std::size_t s = 0; s < ex.size(); ++s) {
    const data::TokenClassificationExample& e = ex[s];
    if (e.tokens.empty() || e.tokens.size() != e.tags.size()) std::abort();
    if (mem[s].tokens != e.tokens || mem[s].tags != e.tags) std::abort();
    for (std::size_t k = 0; k < e.tags.size(); ++k) {
      if (e.tokens[k].empty() || e.tags[k].empty()) std::abort();
      if (e.tags[k].find_first_of(" \t\n") != std::string::npos) std::abort();
    }
    tags.push_back(e.tags);
    std::vector<std::string> r(e.tags.begin() + 1, e.tags.end());
    r.push_back(e.tags.front());
    rotated.push_back(std::move(r));
  }
  const std::vector<std::string> labels = data::conll_label_list(ex);
  for (std::size_t i = 1; i < labels.size(); ++i)
    if (!(labels[i - 1] < labels[i])) std::abort();

  const std::vector<train::Entity> ents = train::get_entities_of_sentences(tags);
  for (std::size_t i = 0; i < ents.size(); ++i) {
    if (ents[i].start > ents[i].end || ents[i].start < 0) std::abort();
    if (i > 0 && ents[i].end <= ents[i - 1].end) std::abort();
  }
  const train::EntityScores self = train::entity_scores(tags, tags);
  if (self.f1 != (ents.empty() ? 0.0 : 1.0) || self.support != int64_t(ents.size())) std::abort();
  const train::EntityScores s = train::entity_scores(tags, rotated);
  auto unit = [](double v) { return v >= 0.0 && v <= 1.0; };
  if (!unit(s.precision) || !unit(s.recall) || !unit(s.f1) || !unit(s.macro_f1) ||
      !unit(s.weighted_f1) || s.correct > s.predicted || s.correct > s.support)
    std::abort();
  for (const train::EntityTypeScore& t : s.per_type)
    if (!unit(t.precision) || !unit(t.recall) || !unit(t.f1)) std::abort();
  (void)s.report(4);
  return 0;
}
