// fuzz/fuzz_text_dataset.cpp — libFuzzer target for the TSV / CSV / JSONL dataset reader
// (`data::TextClassificationDataset`). The first byte of the input picks the case, the rest is
// the file, written to a scratch folder with the matching extension:
//     byte % 3         format: 0 .tsv, 1 .csv, 2 .jsonl
//     byte / 3 % 2     1: no header (columns by index: text 0, label 1, pair 2)
//     byte / 6 % 2     1: text pairs (column "sentence2", or index 2)
//     byte / 12 % 2    1: a fixed label2id {"0": 0, "1": 1, "pos": 2}
// The dataset is then walked (examples, label counts, a seeded subset). Bad files must raise
// ember::Error; anything else is a finding.
#include <ember/data/text_dataset.hpp>

#include "fuzz_util.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace ember::data;
  if (size == 0) return 0;
  const unsigned mode = data[0];
  static const char* const kNames[] = {"train.tsv", "train.csv", "train.jsonl"};
  const std::string path =
      ember::fuzz::write_scratch(kNames[mode % 3], ember::fuzz::as_text(data + 1, size - 1));
  TextDatasetOptions opt;
  opt.has_header(mode / 3 % 2 == 0);
  if (mode / 6 % 2 == 1) opt.text_pair_column("sentence2").text_pair_index(2);
  if (mode / 12 % 2 == 1) opt.label2id({{"0", 0}, {"1", 1}, {"pos", 2}});
  try {
    const TextClassificationDataset ds(path, opt);
    const std::vector<int64_t> counts = ds.label_counts();
    int64_t total = 0;
    for (int64_t c : counts) total += c;
    if (total != ds.size() || ds.size() < 1) std::abort();
    for (const TextExample& e : ds.examples())
      if (e.label_id < 0 || e.label_id >= ds.num_labels()) std::abort();
    (void)ds.subset(2, /*seed=*/mode);
  } catch (const ember::Error&) {
  }
  return 0;
}
