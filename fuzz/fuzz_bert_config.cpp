// fuzz/fuzz_bert_config.cpp — libFuzzer target for `config.json`: the input is the file's bytes,
// parsed as `BertConfig::from_file` does (nlohmann::json, a parse error becomes ember::Error),
// then `BertConfig::from_json`, and the result written back with `to_json()` and read again
// (the save_pretrained round trip). Bad input must raise ember::Error; anything else is a
// finding.
#include <ember/models/bert/config.hpp>

#include "fuzz_util.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using ember::models::bert::BertConfig;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return 0;  // from_file turns this into ember::Error ("... is not valid JSON")
  }
  try {
    const BertConfig c = BertConfig::from_json(j, "config.json");
    // The round trip writes and re-reads every label name: checked for label maps up to 1,000
    // (a 100,000-label map, the largest accepted, takes seconds under ASan and would only
    // measure nlohmann::json's speed; the parse above covers every size).
    if (c.num_labels() > 1000) return 0;
    const BertConfig back = BertConfig::from_json(c.to_json(), "round trip");
    if (back.to_json() != c.to_json()) std::abort();  // save + load must reproduce the config
  } catch (const ember::Error&) {
  }
  return 0;
}
