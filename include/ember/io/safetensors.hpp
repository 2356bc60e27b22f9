// ember/io/safetensors.hpp — reading and writing the safetensors format (Hugging Face's tensor
// file: `model.safetensors`), and `AtomicFileWriter`, the write-to-temp-then-rename helper every
// ember file writer uses.
//
// The format (https://github.com/huggingface/safetensors, README "Format"):
//
//   [8 bytes]  N, a little-endian u64: the length of the header
//   [N bytes]  the header: UTF-8 JSON object
//                {"__metadata__": {"key": "value", ...},            (optional, string → string)
//                 "name": {"dtype": "F32", "shape": [30522, 32], "data_offsets": [begin, end]},
//                 ...}
//              possibly padded with trailing spaces (0x20) so that 8 + N is a multiple of 8
//   [rest]     the byte buffer; tensor `name` is bytes [begin, end) of it, contiguous,
//              row-major, little-endian
//
// Validation (`SafetensorsFile::open`) follows the reference Rust implementation
// (`safetensors/src/tensor.rs`, `SafeTensors::read_metadata` and `Metadata::validate`) and is
// stricter where the reference is silent:
//   * file of at least 8 bytes; N <= 100'000'000 (the reference's MAX_HEADER_SIZE); 8 + N <= size;
//   * the header is valid UTF-8 and valid JSON, and a JSON object; no key appears twice in any
//     object (the reference would silently keep one of them; we refuse: a file whose tensor
//     "w" means two different things is corrupt);
//   * `__metadata__` is an object of string values (or null);
//   * every other entry is an object with `dtype` (a known safetensors dtype name), `shape` (an
//     array of non-negative integers, at most Shape::kMaxDims of them) and `data_offsets` (an
//     array of two non-negative integers); other fields are ignored, as in the reference;
//   * shape product × dtype size does not overflow 64 bits and equals end − begin; begin <= end;
//   * sorted by offsets, the tensors tile the byte buffer exactly: the first starts at 0, each
//     starts where the previous ended (no overlap, no hole) and the last ends at the end of the
//     file (no trailing bytes) — the reference's InvalidOffset / MetadataIncompleteBuffer rules.
// Every failure is an `ember::Error` naming the file, what was expected and what was found;
// nothing in a file can make the reader touch memory outside the mapping.
//
// Reading memory-maps the file (POSIX mmap, read-only): opening parses and validates the header
// only; `get<T>` copies one tensor out (converting its dtype) into a Tensor that owns its memory.
// Loads go through memcpy, so tensors at any byte offset are read without misaligned accesses.
// The host must be little-endian (checked at compile time where the compiler says).
// If another process truncates the file while it is mapped, reading may raise SIGBUS: the
// mapping cannot protect against that (the reference implementation has the same caveat).
//
// Writing (`save_safetensors`) lays the tensors out in the order given, with the header padded
// so that the buffer starts at a multiple of 8 bytes (as the reference writer does), and
// replaces the target file atomically (temp file in the same directory, fsync, rename).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <ember/core/parallel.hpp>
#include <ember/core/dtype.hpp>
#include <ember/core/error.hpp>
#include <ember/core/shape.hpp>
#include <ember/tensor/tensor.hpp>

#include <nlohmann/json.hpp>

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ember/io/safetensors.hpp assumes a little-endian host (safetensors data is little-endian)"
#endif

namespace ember::io {

// ================================================================================================
// Synopsis
// ================================================================================================

/// Where one tensor lives in a safetensors file. `begin`/`end` are byte offsets relative to the
/// start of the byte buffer (just after the header), as in the file's `data_offsets`.
struct TensorInfo {
  std::string dtype;  ///< safetensors dtype name: "F32", "BF16", "I64", ...
  Shape shape;        ///< row-major sizes; empty for a 0-d (scalar) tensor
  uint64_t begin = 0;
  uint64_t end = 0;
};

/// A safetensors file opened for reading: memory-mapped, header validated once.
/// Movable, not copyable; the mapping is released when the object is destroyed.
class SafetensorsFile {
 public:
  /// Maps and validates `path`. Throws `ember::Error` if the file cannot be opened or is malformed
  /// (see the header comment for every rule), naming the file, what was expected and found.
  static SafetensorsFile open(const std::string& path);

  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile() = default;

  const std::string& path() const { return path_; }
  /// Tensor names, sorted by name (byte order, as std::map sorts). `__metadata__` is not a key.
  std::vector<std::string> keys() const;
  /// Number of tensors.
  std::size_t size() const { return tensors_.size(); }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  /// dtype, shape and offsets of `name`; throws `ember::Error` (naming the key, the file and the
  /// closest existing keys) if there is no such tensor.
  const TensorInfo& info(const std::string& name) const;
  /// The `__metadata__` map (empty if the file has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  /// A CPU tensor of `name`'s shape owning a copy of its data converted to T.
  /// T: float, double, bf16, half (from any stored numeric dtype: F64 F32 F16 BF16 I64 I32 I16
  /// I8 U64 U32 U16 U8 BOOL; narrowing float conversions round as `static_cast`/bf16/half do),
  /// int64_t, int32_t, uint8_t (from integer or BOOL dtypes only; every value must fit in T),
  /// bool (from BOOL or U8; non-zero is true).
  /// Throws `ember::Error` for a missing key, a stored dtype that cannot be converted to T
  /// (e.g. F32 → int64_t, or F8_E4M3 at all), or an integer value out of T's range.
  template <class T>
  Tensor<T> get(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  struct Mapping;

  std::string path_;
  std::unique_ptr<Mapping> mapping_;
  const unsigned char* data_ = nullptr;  // start of the byte buffer (inside the mapping)
  uint64_t data_size_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

/// Any tensor `save_safetensors` can write, with the dtype it is stored as:
/// float → F32, double → F64, bf16 → BF16, half → F16, int64_t → I64, int32_t → I32,
/// uint8_t → U8, int8_t → I8 (int8 weights, models/bert/pretrained.hpp), bool → BOOL.
using TensorVariant = std::variant<Tensor<float>, Tensor<double>, Tensor<bf16>, Tensor<half>,
                                   Tensor<int64_t>, Tensor<int32_t>, Tensor<uint8_t>,
                                   Tensor<int8_t>, Tensor<bool>>;

/// Writes `tensors` (in the given order: header entries and data) and `metadata` as a
/// safetensors file at `path`, atomically: the data goes to `path + ".tmp.<pid>"` in the same
/// directory, is fsync'ed, then renamed over `path`. On any failure the temp file is removed,
/// `path` is left as it was, and `ember::Error` is thrown.
/// Tensors may be non-contiguous views (written contiguously), zero-element or 0-d, on any
/// device (copied to the CPU one at a time). Throws `ember::Error` for an undefined tensor, a
/// duplicate name, the reserved name `__metadata__`, names or metadata that are not valid UTF-8,
/// or an I/O failure (message with the path and the system's reason).
/// Usage: `save_safetensors("model.safetensors", {{"w", w}, {"b", b}}, {{"format", "pt"}});`
inline void save_safetensors(const std::string& path,
                             const std::vector<std::pair<std::string, TensorVariant>>& tensors,
                             const std::map<std::string, std::string>& metadata = {});

/// Writes a file atomically: everything goes to `path + ".tmp.<pid>"` (same directory, so the
/// final rename stays on one filesystem), and `commit()` flushes, fsyncs, closes and renames it
/// over `path`. Destroying the writer without `commit()` (an exception, an early return)
/// removes the temp file, so `path` is either the old file or the complete new one, never a
/// half-written one. `who` prefixes error messages (e.g. "save_safetensors").
/// Not for concurrent writers of the same path in one process (they share the temp name).
class AtomicFileWriter {
 public:
  AtomicFileWriter(const std::string& path, std::string who);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  /// Appends `n` bytes (buffered). Throws `ember::Error` on an I/O failure.
  void write(const void* data, std::size_t n);
  /// Flush + fsync + close + rename over the target (+ fsync of the directory, best effort).
  void commit();
  const std::string& temp_path() const { return tmp_; }

 private:
  void flush_buffer();
  void write_fd(const unsigned char* p, std::size_t n);
  [[noreturn]] void fail(const std::string& what, int err);

  std::string path_, tmp_, who_;
  int fd_ = -1;
  bool committed_ = false;
  std::vector<unsigned char> buf_;
};

// ================================================================================================
// Implementation
// ================================================================================================

namespace detail {

/// Throws `ember::Error` with `prefix` followed by the streamed arguments.
template <class... Args>
[[noreturn]] inline void io_fail(const std::string& prefix, Args&&... args) {
  throw Error(prefix + ::ember::detail::str_cat(std::forward<Args>(args)...));
}

/// The reference implementation's MAX_HEADER_SIZE.
inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

struct SafetensorsDtype {
  const char* name;
  int bits;  // element size in bits (F4 and F6 are sub-byte)
};

/// Every dtype the reference implementation (0.8) knows, with its size.
inline const SafetensorsDtype* find_safetensors_dtype(const std::string& name) {
  static const SafetensorsDtype table[] = {
      {"BOOL", 8},     {"F4", 4},           {"F6_E2M3", 6},      {"F6_E3M2", 6}, {"U8", 8},
      {"I8", 8},       {"F8_E5M2", 8},      {"F8_E4M3", 8},      {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
      {"F8_E5M2FNUZ", 8}, {"I16", 16},      {"U16", 16},         {"F16", 16},    {"BF16", 16},
      {"I32", 32},     {"U32", 32},         {"F32", 32},         {"C64", 64},    {"F64", 64},
      {"I64", 64},     {"U64", 64}};
  for (const auto& d : table)
    if (name == d.name) return &d;
  return nullptr;
}

template <class T>
constexpr const char* safetensors_dtype_of() {
  if constexpr (std::is_same_v<T, float>) return "F32";
  else if constexpr (std::is_same_v<T, double>) return "F64";
  else if constexpr (std::is_same_v<T, bf16>) return "BF16";
  else if constexpr (std::is_same_v<T, half>) return "F16";
  else if constexpr (std::is_same_v<T, int64_t>) return "I64";
  else if constexpr (std::is_same_v<T, int32_t>) return "I32";
  else if constexpr (std::is_same_v<T, uint8_t>) return "U8";
  else if constexpr (std::is_same_v<T, int8_t>) return "I8";
  else if constexpr (std::is_same_v<T, bool>) return "BOOL";
  else static_assert(sizeof(T) == 0, "no safetensors dtype for this element type");
}

/// Index of the first byte that breaks UTF-8 well-formedness (Unicode 15, Table 3-7: no
/// overlongs, no surrogates, nothing above U+10FFFF — what Rust's `str::from_utf8` accepts),
/// or `n` if the whole range is valid.
inline std::size_t utf8_invalid_at(const unsigned char* s, std::size_t n) {
  std::size_t i = 0;
  auto cont = [&](std::size_t j) { return j < n && (s[j] & 0xC0u) == 0x80u; };
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + 1 >= n || s[i + 1] < lo || s[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (!cont(i + k)) return i;
    i += len;
  }
  return n;
}

inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return true;
  *out = a * b;
  return false;
}

inline std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

/// Up to `k` keys of `m` closest to `name` by edit distance, as "'a', 'b'".
template <class Map>
std::string closest_keys(const std::string& name, const Map& m, std::size_t k = 3) {
  std::vector<std::pair<std::size_t, const std::string*>> scored;
  for (const auto& kv : m) scored.push_back({edit_distance(name, kv.first), &kv.first});
  std::size_t take = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + take, scored.end(),
                    [](const auto& x, const auto& y) {
                      return x.first != y.first ? x.first < y.first : *x.second < *y.second;
                    });
  std::string out;
  for (std::size_t i = 0; i < take; ++i) out += (i ? ", '" : "'") + *scored[i].second + "'";
  return out;
}

/// A short rendering of `j` for error messages: at most ~60 characters and 3 levels deep
/// (json::dump recurses, and a hostile header can nest arrays 10^7 deep).
inline void short_json_into(const nlohmann::json& j, std::string& out, int depth) {
  if (out.size() > 60) return;
  if (j.is_array() || j.is_object()) {
    if (depth >= 3) {
      out += j.is_array() ? "[...]" : "{...}";
      return;
    }
    out += j.is_array() ? '[' : '{';
    bool first = true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (out.size() > 60) {
        out += ", ...";
        break;
      }
      if (!first) out += ", ";
      first = false;
      if (j.is_object()) out += nlohmann::json(it.key()).dump() + ": ";
      short_json_into(*it, out, depth + 1);
    }
    out += j.is_array() ? ']' : '}';
  } else {
    std::string s = j.dump();
    out += s.size() > 40 ? s.substr(0, 37) + "..." : s;
  }
}
inline std::string short_json(const nlohmann::json& j) {
  std::string out;
  short_json_into(j, out, 0);
  return out;
}

/// "<kind> <value>" for error messages: "negative integer -1", "string \"F32\"", "array [1, 2]".
inline std::string json_type(const nlohmann::json& j) {
  const char* kind = j.is_number_unsigned() ? "unsigned integer"
                     : j.is_number_integer() ? "negative integer"
                     : j.is_number_float()   ? "non-integer number"
                                             : j.type_name();
  return std::string(kind) + " " + short_json(j);
}

/// Reads element i of a stored dtype S from unaligned little-endian bytes.
template <class S>
inline S load_element(const unsigned char* p) {
  if constexpr (std::is_same_v<S, bool>) {
    return *p != 0;  // a byte other than 0/1 must not be read as a bool object
  } else if constexpr (std::is_same_v<S, bf16> || std::is_same_v<S, half>) {
    uint16_t bits;
    std::memcpy(&bits, p, 2);
    return S::from_bits(bits);
  } else {
    S v;
    std::memcpy(&v, p, sizeof(S));
    return v;
  }
}

/// True if the integer (or bool) `v` of type S is representable in the integer type T.
template <class T, class S>
inline bool int_fits(S v) {
  constexpr bool ss = std::is_signed_v<S>, ts = std::is_signed_v<T>;
  if constexpr (std::is_same_v<S, bool> || std::is_same_v<T, bool>) {
    return true;
  } else if constexpr (ss == ts && sizeof(S) <= sizeof(T)) {
    return true;
  } else if constexpr (!ss && ts && sizeof(S) < sizeof(T)) {
    return true;
  } else if constexpr (ss && ts) {  // narrowing signed
    return v >= static_cast<S>(std::numeric_limits<T>::min()) &&
           v <= static_cast<S>(std::numeric_limits<T>::max());
  } else if constexpr (!ss && !ts) {  // narrowing unsigned
    return v <= static_cast<S>(std::numeric_limits<T>::max());
  } else if constexpr (ss) {  // signed → unsigned
    return v >= 0 && static_cast<uint64_t>(v) <= uint64_t(std::numeric_limits<T>::max());
  } else {  // unsigned → signed of the same or smaller size
    return static_cast<uint64_t>(v) <= uint64_t(std::numeric_limits<T>::max());
  }
}

/// Converts `n` elements of stored type S at `src` into `dst` (T). Returns the index of the first
/// integer that does not fit in T, or -1.
template <class S, class T>
inline int64_t convert_elements(const unsigned char* src, int64_t n, T* dst) {
  if (n == 0) return -1;
  if constexpr (std::is_same_v<S, T> && !std::is_same_v<T, bool>) {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T));
    return -1;
  } else if constexpr (!std::is_integral_v<T>) {  // floating target: cannot fail
    parallel_chunks(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        dst[i] = scalar_cast<T>(load_element<S>(src + static_cast<std::size_t>(i) * sizeof(S)));
    });
    return -1;
  } else {  // integer or bool target: range-checked, serial (no exceptions inside OpenMP)
    for (int64_t i = 0; i < n; ++i) {
      S v = load_element<S>(src + static_cast<std::size_t>(i) * sizeof(S));
      if constexpr (std::is_same_v<T, bool>) {
        dst[i] = v != S(0);
      } else {
        if (!int_fits<T>(v)) return i;
        dst[i] = static_cast<T>(v);
      }
    }
    return -1;
  }
}

/// Calls `f(S{})` with S the C++ type of a convertible stored dtype; returns false if `dtype` has
/// no C++ counterpart here (F8_*, F4, F6_*, C64).
template <class F>
inline bool visit_stored_dtype(const std::string& dtype, F&& f) {
  if (dtype == "F32") f(float{});
  else if (dtype == "F64") f(double{});
  else if (dtype == "F16") f(half{});
  else if (dtype == "BF16") f(bf16{});
  else if (dtype == "I64") f(int64_t{});
  else if (dtype == "I32") f(int32_t{});
  else if (dtype == "I16") f(int16_t{});
  else if (dtype == "I8") f(int8_t{});
  else if (dtype == "U64") f(uint64_t{});
  else if (dtype == "U32") f(uint32_t{});
  else if (dtype == "U16") f(uint16_t{});
  else if (dtype == "U8") f(uint8_t{});
  else if (dtype == "BOOL") f(bool{});
  else return false;
  return true;
}

}  // namespace detail

// ---- SafetensorsFile ---------------------------------------------------------------------------

/// A read-only private mapping of a whole file; unmapped on destruction.
struct SafetensorsFile::Mapping {
  void* addr = nullptr;
  std::size_t size = 0;
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (addr) ::munmap(addr, size);
  }
};

inline SafetensorsFile SafetensorsFile::open(const std::string& path) {
  const std::string where = "safetensors: '" + path + "': ";
  auto fail = [&](auto&&... args) { detail::io_fail(where, args...); };

  SafetensorsFile f;
  f.path_ = path;
  f.mapping_ = std::make_unique<Mapping>();
  {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open the file: ", std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      fail("cannot stat the file: ", std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      fail("expected a regular file, found ", S_ISDIR(st.st_mode) ? "a directory" : "a special file");
    }
    f.mapping_->size = static_cast<std::size_t>(st.st_size);
    if (f.mapping_->size > 0) {
      void* p = ::mmap(nullptr, f.mapping_->size, PROT_READ, MAP_PRIVATE, fd, 0);
      int err = errno;
      ::close(fd);  // the mapping stays valid without the descriptor
      if (p == MAP_FAILED) fail("cannot memory-map the file: ", std::strerror(err));
      f.mapping_->addr = p;
    } else {
      ::close(fd);
    }
  }
  const auto* bytes = static_cast<const unsigned char*>(f.mapping_->addr);
  const uint64_t size = f.mapping_->size;

  // ---- the 8-byte header length ----
  if (size < 8)
    fail("expected at least 8 bytes (the little-endian u64 header length), found a file of ", size,
         " bytes");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > detail::kSafetensorsMaxHeader)
    fail("header length ", n, " exceeds the limit of ", detail::kSafetensorsMaxHeader,
         " bytes (not a safetensors file, or a corrupt one)");
  if (n > size - 8)
    fail("header length ", n, " runs past the end of the file: only ", size - 8,
         " bytes follow the 8-byte length (truncated file?)");
  const auto* header = reinterpret_cast<const char*>(bytes + 8);

  // ---- UTF-8 and JSON, refusing duplicate keys ----
  std::size_t bad = detail::utf8_invalid_at(bytes + 8, n);
  if (bad != n)
    fail("expected a UTF-8 JSON header, found an invalid UTF-8 byte 0x", std::hex,
         unsigned(bytes[8 + bad]), std::dec, " at header offset ", bad);
  // JSON never contains a raw NUL; nlohmann would treat one as the end of the input and ignore
  // whatever follows, so refuse it explicitly (the reference's serde_json rejects it too).
  if (const void* nul = std::memchr(header, 0, n))
    fail("expected a JSON header padded with spaces, found a NUL byte at header offset ",
         static_cast<const char*>(nul) - header);
  // nlohmann keeps one of two equal keys silently; the parser callback sees every key.
  std::vector<std::set<std::string>> open_objects;  // keys seen so far, per object being parsed
  std::string duplicate;
  bool duplicate_top_level = false;
  nlohmann::json::parser_callback_t cb = [&](int, nlohmann::json::parse_event_t ev,
                                             nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start) {
      open_objects.emplace_back();
    } else if (ev == E::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (ev == E::key && !open_objects.empty()) {
      if (!open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
        duplicate = parsed.get<std::string>();
        duplicate_top_level = open_objects.size() == 1;
      }
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header, header + n, cb, /*allow_exceptions=*/true);
  } catch (const nlohmann::json::exception& e) {
    fail("expected a JSON header, found invalid JSON (", e.what(), ")");
  }
  if (!duplicate.empty()) {
    if (duplicate_top_level)
      fail("duplicate tensor name '", duplicate, "' in the header (each name must appear once)");
    fail("duplicate key '", duplicate, "' inside a header object (each key must appear once)");
  }
  if (!j.is_object())
    fail("expected the header to be a JSON object {\"name\": {...}, ...}, found ",
         detail::json_type(j));

  // ---- entries ----
  const uint64_t data_size = size - 8 - n;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (v.is_null()) continue;
      if (!v.is_object())
        fail("expected __metadata__ to be an object of strings, found ", detail::json_type(v));
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m->is_string())
          fail("expected __metadata__ values to be strings, found ", detail::json_type(*m),
               " for key '", m.key(), "'");
        f.metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const std::string t = "tensor '" + name + "': ";
    if (!v.is_object())
      fail(t, "expected an object {\"dtype\", \"shape\", \"data_offsets\"}, found ",
           detail::json_type(v));
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!v.contains(field)) fail(t, "missing field \"", field, "\" (found ", detail::short_json(v), ")");
    TensorInfo info;
    const nlohmann::json& jd = v["dtype"];
    if (!jd.is_string()) fail(t, "expected \"dtype\" to be a string, found ", detail::json_type(jd));
    info.dtype = jd.get<std::string>();
    const detail::SafetensorsDtype* dt = detail::find_safetensors_dtype(info.dtype);
    if (!dt)
      fail(t, "unknown dtype \"", info.dtype,
           "\" (expected one of BOOL U8 I8 I16 U16 I32 U32 I64 U64 F16 BF16 F32 F64 C64 F4 F6_E2M3 "
           "F6_E3M2 F8_E5M2 F8_E4M3 F8_E8M0 F8_E4M3FNUZ F8_E5M2FNUZ)");
    const nlohmann::json& js = v["shape"];
    if (!js.is_array()) fail(t, "expected \"shape\" to be an array, found ", detail::json_type(js));
    if (js.size() > static_cast<std::size_t>(Shape::kMaxDims))
      fail(t, "shape has ", js.size(), " dimensions; ember supports at most ", Shape::kMaxDims);
    uint64_t numel = 1;
    for (const auto& d : js) {
      if (!d.is_number_unsigned())
        fail(t, "expected \"shape\" to hold non-negative integers, found ", detail::json_type(d),
             " in ", detail::short_json(js));
      uint64_t dv = d.get<uint64_t>();
      if (dv > uint64_t(std::numeric_limits<int64_t>::max()) || detail::mul_overflows(numel, dv, &numel) ||
          numel > uint64_t(std::numeric_limits<int64_t>::max()))
        fail(t, "the element count of shape ", detail::short_json(js), " overflows 64 bits");
      info.shape.push_back(static_cast<int64_t>(dv));
    }
    uint64_t nbits = 0;
    if (detail::mul_overflows(numel, uint64_t(dt->bits), &nbits))
      fail(t, "the byte size of shape ", detail::short_json(js), " × ", info.dtype, " overflows 64 bits");
    if (nbits % 8 != 0)
      fail(t, "shape ", detail::short_json(js), " of ", info.dtype, " elements is ", nbits,
           " bits, not a whole number of bytes");
    const uint64_t nbytes = nbits / 8;
    const nlohmann::json& jo = v["data_offsets"];
    if (!jo.is_array() || jo.size() != 2 || !jo[0].is_number_unsigned() ||
        !jo[1].is_number_unsigned())
      fail(t, "expected \"data_offsets\" to be [begin, end] with non-negative integers, found ",
           detail::json_type(jo));
    info.begin = jo[0].get<uint64_t>();
    info.end = jo[1].get<uint64_t>();
    if (info.begin > info.end)
      fail(t, "data_offsets [", info.begin, ", ", info.end, "] have begin > end");
    if (info.end - info.begin != nbytes)
      fail(t, "data_offsets [", info.begin, ", ", info.end, "] hold ", info.end - info.begin,
           " bytes, but dtype ", info.dtype, " × shape ", detail::short_json(js), " needs ", nbytes, " bytes");
    if (info.end > data_size)
      fail(t, "data_offsets [", info.begin, ", ", info.end, "] run past the end of the data (",
           data_size, " bytes after the header)");
    f.tensors_.emplace(name, std::move(info));
  }

  // ---- the tensors must tile the buffer: no overlap, no hole, nothing left over ----
  std::vector<std::pair<const std::string*, const TensorInfo*>> order;
  order.reserve(f.tensors_.size());
  for (const auto& kv : f.tensors_) order.push_back({&kv.first, &kv.second});
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second->begin != b.second->begin ? a.second->begin < b.second->begin
                                              : a.second->end < b.second->end;
  });
  uint64_t covered = 0;
  const std::string* prev = nullptr;
  for (const auto& [name, ti] : order) {
    if (ti->begin < covered)
      fail("tensor '", *name, "' (bytes [", ti->begin, ", ", ti->end, ")) overlaps tensor '",
           *prev, "' (which ends at byte ", covered, ")");
    if (ti->begin > covered)
      fail("bytes [", covered, ", ", ti->begin, ") of the data belong to no tensor (a hole ",
           prev ? "after tensor '" + *prev + "'" : std::string("at the start"), ", before tensor '",
           *name, "'); expected tensors to cover the data contiguously");
    covered = ti->end;
    prev = name;
  }
  if (covered != data_size)
    fail("the tensors cover ", covered, " bytes but ", data_size,
         " bytes of data follow the header (expected the last tensor to end at the end of the "
         "file)");

  f.data_ = bytes + 8 + n;
  f.data_size_ = data_size;
  return f;
}

inline std::vector<std::string> SafetensorsFile::keys() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

inline const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    if (tensors_.empty())
      EMBER_FAIL("safetensors: '", path_, "': no tensor named '", name, "' (the file holds no tensors)");
    EMBER_FAIL("safetensors: '", path_, "': no tensor named '", name, "' (", tensors_.size(),
               " tensors; closest: ", detail::closest_keys(name, tensors_), ")");
  }
  return it->second;
}

template <class T>
Tensor<T> SafetensorsFile::get(const std::string& name) const {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16> ||
                    std::is_same_v<T, half> || std::is_same_v<T, int64_t> ||
                    std::is_same_v<T, int32_t> || std::is_same_v<T, uint8_t> ||
                    std::is_same_v<T, bool>,
                "SafetensorsFile::get<T>: T must be float, double, bf16, half, int64_t, int32_t, "
                "uint8_t or bool");
  const TensorInfo& ti = info(name);
  Tensor<T> out = Tensor<T>::empty(ti.shape);
  const unsigned char* src = data_ + ti.begin;
  int64_t bad = -1;
  bool refused = false;
  bool known = detail::visit_stored_dtype(ti.dtype, [&](auto tag) {
    using S = decltype(tag);
    constexpr bool s_int = std::is_integral_v<S>;  // includes bool
    if constexpr (std::is_same_v<T, bool>) {
      if constexpr (std::is_same_v<S, bool> || std::is_same_v<S, uint8_t>)
        bad = detail::convert_elements<S>(src, ti.shape.numel(), out.data());
      else
        refused = true;
    } else if constexpr (std::is_integral_v<T> && !s_int) {
      refused = true;  // floating → integer is almost always a mistake; convert explicitly
    } else {
      bad = detail::convert_elements<S>(src, ti.shape.numel(), out.data());
      if (bad >= 0) {
        S v = detail::load_element<S>(src + static_cast<std::size_t>(bad) * sizeof(S));
        EMBER_FAIL("safetensors: '", path_, "': tensor '", name, "' (", ti.dtype,
                   "): element ", bad, " = ", +v, " does not fit in ", scalar_traits<T>::name);
      }
    }
  });
  if (!known || refused)
    EMBER_FAIL("safetensors: '", path_, "': tensor '", name, "' is stored as ", ti.dtype,
               ", which cannot be read as ", scalar_traits<T>::name,
               std::is_same_v<T, bool> ? " (bool reads BOOL or U8)"
               : std::is_integral_v<T>
                   ? " (integer types read integer or BOOL dtypes only)"
                   : " (floating types read F64 F32 F16 BF16 and the integer/BOOL dtypes)");
  return out;
}

// ---- AtomicFileWriter --------------------------------------------------------------------------

inline AtomicFileWriter::AtomicFileWriter(const std::string& path, std::string who)
    : path_(path), tmp_(path + ".tmp." + std::to_string(::getpid())), who_(std::move(who)) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    int err = errno;
    EMBER_FAIL(who_, ": cannot write '", path_, "': creating the temporary file '", tmp_,
               "' failed: ", std::strerror(err));
  }
  buf_.reserve(1 << 20);
}

inline AtomicFileWriter::~AtomicFileWriter() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(tmp_.c_str());
}

inline void AtomicFileWriter::fail(const std::string& what, int err) {
  EMBER_FAIL(who_, ": cannot write '", path_, "': ", what, " failed: ", std::strerror(err),
             " (the previous file, if any, is unchanged)");
}

inline void AtomicFileWriter::write_fd(const unsigned char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("writing '" + tmp_ + "'", errno);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

inline void AtomicFileWriter::flush_buffer() {
  write_fd(buf_.data(), buf_.size());
  buf_.clear();
}

inline void AtomicFileWriter::write(const void* data, std::size_t n) {
  EMBER_CHECK(fd_ >= 0 && !committed_, who_, ": write after commit");
  const auto* p = static_cast<const unsigned char*>(data);
  if (buf_.size() + n <= buf_.capacity()) {
    buf_.insert(buf_.end(), p, p + n);
    return;
  }
  flush_buffer();
  if (n >= buf_.capacity()) write_fd(p, n);
  else buf_.insert(buf_.end(), p, p + n);
}

inline void AtomicFileWriter::commit() {
  EMBER_CHECK(fd_ >= 0 && !committed_, who_, ": commit called twice");
  flush_buffer();
  if (::fsync(fd_) != 0) fail("fsync of '" + tmp_ + "'", errno);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("closing '" + tmp_ + "'", errno);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    fail("renaming '" + tmp_ + "' over it", errno);
  committed_ = true;
  // Make the rename itself durable (best effort: some filesystems refuse fsync on directories).
  std::size_t slash = path_.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

// ---- save_safetensors --------------------------------------------------------------------------

inline void save_safetensors(const std::string& path,
                             const std::vector<std::pair<std::string, TensorVariant>>& tensors,
                             const std::map<std::string, std::string>& metadata) {
  const std::string who = "save_safetensors";
  const std::string where = who + ": '" + path + "': ";
  auto fail = [&](auto&&... args) { detail::io_fail(where, args...); };
  auto quoted = [&](const std::string& s, const char* what) {
    try {
      return nlohmann::json(s).dump();
    } catch (const nlohmann::json::exception&) {
      fail(what, " is not valid UTF-8: '", s, "'");
    }
    return std::string();
  };

  // Everything that can be checked is checked before the temp file exists.
  std::map<std::string, std::size_t> seen;
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      header += (first ? "" : ",") + quoted(k, "a metadata key") + ":" +
                quoted(v, "a metadata value");
      first = false;
    }
    header += "}";
  }
  uint64_t offset = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string& name = tensors[i].first;
    if (name == "__metadata__") fail("'__metadata__' is reserved and cannot name a tensor");
    auto [pos, fresh] = seen.emplace(name, i);
    if (!fresh) fail("duplicate tensor name '", name, "' (entries ", pos->second, " and ", i, ")");
    std::visit(
        [&](const auto& t) {
          using T = typename std::decay_t<decltype(t)>::value_type;
          if (!t.defined()) fail("tensor '", name, "' is undefined (default-constructed)");
          uint64_t nbytes = static_cast<uint64_t>(t.numel()) * sizeof(T);
          header += (header.size() > 1 ? "," : "") + quoted(name, "a tensor name") +
                    ":{\"dtype\":\"" + detail::safetensors_dtype_of<T>() + "\",\"shape\":[";
          for (int d = 0; d < t.dim(); ++d) header += (d ? "," : "") + std::to_string(t.size(d));
          header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
                    std::to_string(offset + nbytes) + "]}";
          offset += nbytes;
        },
        tensors[i].second);
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // the buffer starts at a multiple of 8
  if (header.size() > detail::kSafetensorsMaxHeader)
    fail("the header would be ", header.size(), " bytes, above the format's limit of ",
         detail::kSafetensorsMaxHeader);

  AtomicFileWriter out(path, who);
  unsigned char len[8];
  uint64_t n = header.size();
  for (int b = 0; b < 8; ++b) len[b] = static_cast<unsigned char>(n >> (8 * b));
  out.write(len, 8);
  out.write(header.data(), header.size());
  for (const auto& [name, var] : tensors) {
    std::visit(
        [&](const auto& t) {
          using T = typename std::decay_t<decltype(t)>::value_type;
          if (t.numel() == 0) return;
          Tensor<T> c = t.detach();
          if (!c.device().is_cpu()) c = c.to(Device::cpu());
          c = c.contiguous();
          out.write(c.data(), static_cast<std::size_t>(c.numel()) * sizeof(T));
        },
        var);
  }
  out.commit();
}

}  // namespace ember::io
