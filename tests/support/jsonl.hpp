// Reading the tokenizer fixtures (tests/data/*/golden.jsonl): one JSON object per line, and
// inputs that are not valid UTF-8 stored as hex. Shared by the tokenizer tests (one translation
// unit per test binary, so defined once here).
#pragma once

#include <cstddef>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

namespace ember::test {
/// The JSON objects of a .jsonl file, one per non-empty line.
inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path);
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}
/// The bytes a hex string spells ("e282ac" → "€").
inline std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}
}  // namespace ember::test
