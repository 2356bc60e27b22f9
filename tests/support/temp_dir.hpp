// tests/support/temp_dir.hpp — a per-process temporary folder for tests that write small files:
// `ember::test::TempDir dir("my_suite"); dir.write("a.txt", "content")` → its path. The folder
// (under std::filesystem::temp_directory_path(), named after the suite and the process id) is
// removed with everything in it when the TempDir is destroyed.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <unistd.h>

namespace ember::test {

class TempDir {
 public:
  explicit TempDir(const std::string& suite)
      : path_(std::filesystem::temp_directory_path() /
              ("ember_test_" + suite + "_" + std::to_string(static_cast<long long>(::getpid())))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /// path()/name as a string.
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  /// Writes content (bytes as given) to path()/name; returns that path.
  std::string write(const std::string& name, const std::string& content) const {
    const std::string p = file(name);
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace ember::test
