// Small helpers shared by ember's tests (test binaries are unity builds: one definition each).
#pragma once

#include <string>

namespace ember::test {
/// True when `part` occurs in `s` (error-message checks).
inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace ember::test
