// fuzz/fuzz_safetensors.cpp — libFuzzer target for the safetensors reader: the input is a whole
// `model.safetensors` file; `io::SafetensorsFile::open` validates it, then every tensor is read
// as float, int64_t and bool (the three conversion paths of `get<T>`) and the metadata walked.
// Bad input must raise ember::Error; anything else (another exception, a sanitizer report, an
// allocation beyond libFuzzer's -rss_limit_mb / -malloc_limit_mb) is a finding.
#include <ember/io/safetensors.hpp>

#include "fuzz_util.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

template <class T>
void read_as(const ember::io::SafetensorsFile& f, const std::string& name) {
  try {
    (void)f.get<T>(name);
  } catch (const ember::Error&) {  // e.g. F32 read as int64_t, or a U64 above int64_t's range
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path =
      ember::fuzz::write_scratch("model.safetensors", ember::fuzz::as_text(data, size));
  try {
    const auto f = ember::io::SafetensorsFile::open(path);
    std::size_t bytes = 0;
    for (const auto& [key, value] : f.metadata()) bytes += key.size() + value.size();
    for (const std::string& name : f.keys()) {
      const ember::io::TensorInfo& info = f.info(name);
      bytes += info.end - info.begin;
      read_as<float>(f, name);
      read_as<int64_t>(f, name);
      read_as<bool>(f, name);
    }
    if (bytes > size) std::abort();  // the reader promised: nothing outside the file
  } catch (const ember::Error&) {
  }
  return 0;
}
