// fuzz/fuzz_util.hpp — what ember's libFuzzer targets share: a per-process scratch folder for
// the readers that take a path (the dataset and tokenizer files, safetensors' mmap), one
// thread (no OpenMP pool per input), and the rule every target follows: bad input must raise
// `ember::Error`; any other exception escapes and libFuzzer reports it as a crash.
#pragma once

#include <ember/core/threads.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <unistd.h>

namespace ember::fuzz {

/// A folder of this process's own under /dev/shm (memory-backed; /tmp when absent), removed at
/// exit. Each input overwrites the files in it, so nothing accumulates.
/// The path lives on the heap and is never freed: the std::atexit handler is registered while
/// the static is still being initialised, so it runs *after* the static's destructor would
/// (C++ [basic.start.term]) — a `static path` here was read after destruction at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path* const dir = [] {
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    auto* d = new std::filesystem::path(base / ("ember_fuzz_" + std::to_string(::getpid())));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return *dir;
}

/// Writes `bytes` to scratch_dir()/name and returns the path.
inline std::string write_scratch(const std::string& name, std::string_view bytes) {
  const std::string path = (scratch_dir() / name).string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();  // the harness itself is broken, not the library
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) std::abort();
  std::fclose(f);
  return path;
}

/// Removes scratch_dir()/name if present (an optional file the input does not supply).
inline void remove_scratch(const std::string& name) {
  std::error_code ec;
  std::filesystem::remove(scratch_dir() / name, ec);
}

inline std::string_view as_text(const uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace ember::fuzz

/// One thread: the parsers are serial, and an OpenMP pool per conversion only costs time.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ember::set_num_threads(1);
  return 0;
}
