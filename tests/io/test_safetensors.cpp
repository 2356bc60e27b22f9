// safetensors reader and writer: round trips of every dtype, the real tiny-BERT checkpoint written
// by Python's safetensors, one test per kind of malformed file (bytes generated here), and the
// atomic-write guarantees.
//
// Expected values for tests/data/bert_tiny/model.safetensors were read with Python's `struct`
// module straight from the file's bytes (independently of this reader):
//   word_embeddings.weight[101][0]     = -0.022432560101151466
//   word_embeddings.weight[30521][31]  = -0.003871695837005973
//   layer.1.output.dense.weight[5][7]  = -0.014544574543833733
// Files written by save_safetensors were also checked to load with the reference implementation
// (safetensors 0.8.0 `_safetensors_rust.deserialize`) while developing.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>
#include <ember/io/safetensors.hpp>

#include "support/test_util.hpp"
using ember::test::contains;

namespace fs = std::filesystem;
using ember::bf16;
using ember::half;
using ember::Tensor;
using ember::io::SafetensorsFile;
using ember::io::save_safetensors;

namespace {

/// A fresh directory for one test, removed at the end of it.
struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& tag) {
    dir = fs::temp_directory_path() /
          ("ember_safetensors_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }
  std::size_t count() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), {}));
  }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string u64le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

/// A safetensors file from a header string and a data buffer: u64 length, header, buffer.
std::string make_file(const std::string& header, const std::string& buffer = "") {
  return u64le(header.size()) + header + buffer;
}

/// Writes `bytes` to a file and returns the message of the Error that opening it throws
/// (fails the test if it opens).
std::string open_error(const TempDir& tmp, const std::string& bytes) {
  std::string path = tmp.file("bad.safetensors");
  write_bytes(path, bytes);
  try {
    SafetensorsFile::open(path);
  } catch (const ember::Error& e) {
    std::string msg = e.what();
    CHECK_MESSAGE(msg.find(path) != std::string::npos, "message lacks the path: ", msg);
    return msg;
  }
  FAIL("expected ember::Error for a malformed file");
  return "";
}


template <class T>
Tensor<T> iota(const ember::Shape& shape, double scale = 1.0, double shift = 0.0) {
  Tensor<T> t = Tensor<T>::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = ember::scalar_cast<T>(i * scale + shift);
  return t;
}

template <class T>
void check_same(const Tensor<T>& a, const Tensor<T>& b) {
  REQUIRE(a.shape() == b.shape());
  auto va = a.to_vector(), vb = b.to_vector();
  for (std::size_t i = 0; i < va.size(); ++i)
    CHECK_MESSAGE(float(va[i]) == float(vb[i]), "element ", i);
}

const std::string kBert = std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny/model.safetensors";

}  // namespace

TEST_CASE("safetensors: round trip of every dtype, 0-d and zero-element tensors, metadata") {
  TempDir tmp("roundtrip");
  std::string path = tmp.file("all.safetensors");
  auto f32 = iota<float>({2, 3}, 0.5, -1.0);
  auto f64 = iota<double>({4}, 1.0 / 3.0);
  auto b16 = iota<bf16>({3, 2}, 0.25, -0.5);
  auto f16 = iota<half>({5}, 0.125);
  auto i64 = ember::from_vector<int64_t>({-3, 0, std::numeric_limits<int64_t>::max()}, {3});
  auto i32 = ember::from_vector<int32_t>({std::numeric_limits<int32_t>::min(), 7}, {1, 2});
  auto u8 = ember::from_vector<uint8_t>({0, 1, 255}, {3});
  auto mask = ember::from_vector<bool>({true, false, true, true}, {2, 2});
  auto scalar = ember::full<float>({}, 42.5f);
  auto empty = Tensor<float>::empty({0, 3});
  auto empty_i64 = Tensor<int64_t>::empty({2, 0});
  // An odd-sized U8 first: every later tensor starts at an unaligned address in the mapping.
  auto odd = ember::from_vector<uint8_t>({9, 8, 7}, {3});
  save_safetensors(path,
                   {{"odd", odd}, {"f32", f32}, {"f64", f64}, {"bf16", b16}, {"f16", f16},
                    {"i64", i64}, {"i32", i32}, {"u8", u8}, {"mask", mask}, {"scalar", scalar},
                    {"empty", empty}, {"empty_i64", empty_i64}},
                   {{"format", "pt"}, {"note", "ünïcödé ✓"}});

  std::string raw = read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(raw[i]);
  CHECK((8 + n) % 8 == 0);
  CHECK(raw[8] == '{');
  CHECK(raw.find("__metadata__") < raw.find("\"odd\""));   // metadata first, as the reference
  CHECK(raw.find("\"odd\"") < raw.find("\"f32\""));         // then the given order
  CHECK(raw.find("\"f32\"") < raw.find("\"empty_i64\""));

  auto file = SafetensorsFile::open(path);
  CHECK(file.size() == 12);
  CHECK(file.keys() == std::vector<std::string>{"bf16", "empty", "empty_i64", "f16", "f32", "f64",
                                                "i32", "i64", "mask", "odd", "scalar", "u8"});
  CHECK(file.metadata().at("format") == "pt");
  CHECK(file.metadata().at("note") == "ünïcödé ✓");
  CHECK(file.info("odd").begin == 0);
  CHECK(file.info("odd").end == 3);
  CHECK(file.info("f32").begin == 3);  // data in the given order
  CHECK(file.info("f32").dtype == "F32");
  CHECK(file.info("bf16").dtype == "BF16");
  CHECK(file.info("f16").dtype == "F16");
  CHECK(file.info("mask").dtype == "BOOL");
  CHECK(file.info("scalar").shape.size() == 0);
  CHECK(file.info("empty").begin == file.info("empty").end);

  check_same(file.get<float>("f32"), f32);
  check_same(file.get<double>("f64"), f64);
  CHECK(file.get<double>("f64").at({1}) == 1.0 / 3.0);  // bit-exact double
  check_same(file.get<bf16>("bf16"), b16);
  check_same(file.get<half>("f16"), f16);
  CHECK(file.get<int64_t>("i64").to_vector() == i64.to_vector());
  CHECK(file.get<int32_t>("i32").to_vector() == i32.to_vector());
  CHECK(file.get<uint8_t>("u8").to_vector() == u8.to_vector());
  CHECK(file.get<uint8_t>("odd").to_vector() == odd.to_vector());
  CHECK(file.get<bool>("mask").to_vector() == mask.to_vector());
  auto s = file.get<float>("scalar");
  CHECK(s.dim() == 0);
  CHECK(s.item() == 42.5f);
  auto e = file.get<float>("empty");
  CHECK(e.shape() == ember::Shape{0, 3});
  CHECK(file.get<int64_t>("empty_i64").shape() == ember::Shape{2, 0});
  // The returned tensor owns its memory: it outlives the file.
  Tensor<float> kept = file.get<float>("f32");
  { SafetensorsFile moved = std::move(file); }
  CHECK(kept.at({1, 2}) == f32.at({1, 2}));
}

TEST_CASE("safetensors: conversions on read (and the ones refused)") {
  TempDir tmp("convert");
  std::string path = tmp.file("c.safetensors");
  auto f32 = ember::from_vector<float>({1.5f, -2.25f, 1e-3f, 65504.f}, {4});
  auto b16 = ember::from_vector<bf16>({bf16(1.f), bf16(-3.5f), bf16(0.1f)}, {3});
  auto i64 = ember::from_vector<int64_t>({1, -2, int64_t(1) << 40}, {3});
  auto small = ember::from_vector<int64_t>({1, -2, 300}, {3});
  save_safetensors(path, {{"f32", f32}, {"b16", b16}, {"i64", i64}, {"small", small}});
  auto file = SafetensorsFile::open(path);

  CHECK(file.get<double>("f32").to_vector() == std::vector<double>{1.5, -2.25, double(1e-3f), 65504.0});
  auto as_bf16 = file.get<bf16>("f32").to_vector();
  CHECK(as_bf16[2].bits == bf16(1e-3f).bits);  // rounded like ember's bf16(float)
  auto as_half = file.get<half>("f32").to_vector();
  CHECK(as_half[3].bits == half(65504.f).bits);
  CHECK(file.get<float>("b16").to_vector() == std::vector<float>{1.f, -3.5f, float(bf16(0.1f))});
  CHECK(file.get<double>("i64").to_vector() == std::vector<double>{1, -2, 1099511627776.0});
  CHECK(file.get<int32_t>("small").to_vector() == std::vector<int32_t>{1, -2, 300});

  // Integer narrowing is range-checked; the message names the element and the value.
  CHECK_THROWS_WITH_AS(file.get<int32_t>("i64"),
                       doctest::Contains("element 2 = 1099511627776 does not fit in int32"),
                       ember::Error);
  CHECK_THROWS_WITH_AS(file.get<uint8_t>("small"), doctest::Contains("does not fit in uint8"),
                       ember::Error);
  // Floating → integer is refused.
  CHECK_THROWS_WITH_AS(file.get<int64_t>("f32"),
                       doctest::Contains("stored as F32, which cannot be read as int64"),
                       ember::Error);
  CHECK_THROWS_AS(file.get<bool>("f32"), ember::Error);
}

TEST_CASE("safetensors: non-contiguous tensors are written contiguously") {
  TempDir tmp("strided");
  std::string path = tmp.file("t.safetensors");
  auto base = iota<float>({3, 4});
  auto t = base.t();                      // [4, 3], strides [1, 4]
  auto sl = base.slice(1, 1, 4, 2);       // [3, 2], every other column
  auto wt = iota<double>({2, 3}).requires_grad_();  // requires_grad is fine to save
  REQUIRE_FALSE(t.is_contiguous());
  REQUIRE_FALSE(sl.is_contiguous());
  save_safetensors(path, {{"t", t}, {"sl", sl}, {"wt", wt}});
  auto file = SafetensorsFile::open(path);
  CHECK(file.info("t").shape == ember::Shape{4, 3});
  check_same(file.get<float>("t"), t.contiguous());
  check_same(file.get<float>("sl"), sl.contiguous());
  CHECK(file.get<float>("sl").to_vector() == std::vector<float>{1, 3, 5, 7, 9, 11});
  CHECK(file.get<double>("wt").to_vector() == wt.detach().to_vector());
}

TEST_CASE("safetensors: reads the tiny BERT checkpoint written by Python's safetensors") {
  auto file = SafetensorsFile::open(kBert);
  CHECK(file.size() == 41);
  CHECK(file.metadata().at("format") == "pt");
  CHECK(file.contains("bert.embeddings.word_embeddings.weight"));
  CHECK_FALSE(file.contains("bert.embeddings.word_embeddings"));
  const auto& we = file.info("bert.embeddings.word_embeddings.weight");
  CHECK(we.dtype == "F32");
  CHECK(we.shape == ember::Shape{30522, 32});
  CHECK(we.begin == 8704);
  CHECK(we.end == 3915520);
  CHECK(file.info("bert.embeddings.position_embeddings.weight").shape == ember::Shape{64, 32});
  CHECK(file.info("bert.encoder.layer.0.intermediate.dense.weight").shape == ember::Shape{64, 32});
  CHECK(file.info("classifier.weight").shape == ember::Shape{3, 32});

  auto w = file.get<float>("bert.embeddings.word_embeddings.weight");
  CHECK(w.shape() == ember::Shape{30522, 32});
  CHECK(w.at({101, 0}) == -0.022432560101151466f);
  CHECK(w.at({30521, 31}) == -0.003871695837005973f);
  CHECK(file.get<float>("bert.encoder.layer.1.output.dense.weight").at({5, 7}) ==
        -0.014544574543833733f);
  CHECK(file.get<float>("bert.embeddings.LayerNorm.weight").at({0}) == 1.0f);
  CHECK(file.get<float>("classifier.bias").to_vector() == std::vector<float>{0, 0, 0});
  // The same bits read as double, and rounded to bf16.
  CHECK(file.get<double>("bert.embeddings.word_embeddings.weight").at({101, 0}) ==
        double(-0.022432560101151466f));
  CHECK(file.get<bf16>("bert.embeddings.word_embeddings.weight").at({101, 0}).bits ==
        bf16(-0.022432560101151466f).bits);
}

TEST_CASE("safetensors: every fixture in tests/data opens (F32, F64, I64, long metadata)") {
  for (const char* rel : {"bert_tiny/golden.safetensors", "bert_tiny/train_steps.safetensors",
                          "ops/ops.safetensors", "optim/optim.safetensors",
                          "minilm/golden.safetensors"}) {
    std::string p = std::string(EMBER_TEST_DATA_DIR) + "/" + rel;
    if (!fs::exists(p)) continue;
    CAPTURE(p);
    auto file = SafetensorsFile::open(p);
    CHECK(file.size() > 0);
    for (const auto& k : file.keys()) {
      const auto& ti = file.info(k);
      if (ti.dtype == "I64") CHECK(file.get<int64_t>(k).shape() == ti.shape);
      else CHECK(file.get<double>(k).shape() == ti.shape);
    }
  }
}

TEST_CASE("safetensors: missing key names the key, the file and the closest keys") {
  auto file = SafetensorsFile::open(kBert);
  try {
    file.get<float>("bert.embeddings.word_embedding.weight");
    FAIL("expected ember::Error");
  } catch (const ember::Error& e) {
    std::string msg = e.what();
    CHECK(contains(msg, "no tensor named 'bert.embeddings.word_embedding.weight'"));
    CHECK(contains(msg, kBert));
    CHECK(contains(msg, "closest: 'bert.embeddings.word_embeddings.weight'"));
  }
  CHECK_THROWS_WITH_AS(file.info("nope"), doctest::Contains("no tensor named 'nope'"),
                       ember::Error);
}

TEST_CASE("safetensors: SafetensorsFile is movable, not copyable") {
  static_assert(!std::is_copy_constructible_v<SafetensorsFile>);
  static_assert(!std::is_copy_assignable_v<SafetensorsFile>);
  static_assert(std::is_nothrow_move_constructible_v<SafetensorsFile>);
  auto a = SafetensorsFile::open(kBert);
  SafetensorsFile b = std::move(a);
  CHECK(b.get<float>("classifier.weight").shape() == ember::Shape{3, 32});
  auto c = SafetensorsFile::open(kBert);
  c = std::move(b);  // releases c's own mapping
  CHECK(c.size() == 41);
}

TEST_CASE("safetensors: a well-formed hand-built file (padding, unaligned data, field order)") {
  TempDir tmp("handmade");
  // Header padded with spaces; keys out of offset order; an extra field is ignored; F32 at
  // buffer offset 1 and F64 at 5 are unaligned (read via memcpy: UBSan-clean).
  float fv[2] = {1.25f, -7.5f};
  double dv = 3.0e100;
  std::string buf(1, '\x05');
  buf.append(reinterpret_cast<const char*>(fv), 8);
  buf.append(reinterpret_cast<const char*>(&dv), 8);
  std::string header =
      R"({"d":{"dtype":"F64","shape":[],"data_offsets":[9,17]},)"
      R"("b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
      R"("f":{"shape":[2],"data_offsets":[1,9],"dtype":"F32","extra":true},)"
      R"("z":{"dtype":"I32","shape":[0,4],"data_offsets":[17,17]}}   )";
  std::string path = tmp.file("h.safetensors");
  write_bytes(path, make_file(header, buf));
  auto file = SafetensorsFile::open(path);
  CHECK(file.get<float>("f").to_vector() == std::vector<float>{1.25f, -7.5f});
  CHECK(file.get<double>("d").item() == 3.0e100);
  CHECK(file.get<float>("d").item() == std::numeric_limits<float>::infinity());
  CHECK(file.get<int32_t>("z").numel() == 0);
  CHECK(file.metadata().empty());
  // An empty file of tensors is valid too ("{}" padded), and so is a null __metadata__.
  write_bytes(path, make_file("{}      "));
  CHECK(SafetensorsFile::open(path).size() == 0);
  write_bytes(path, make_file(R"({"__metadata__":null})"));
  CHECK(SafetensorsFile::open(path).metadata().empty());
  // F8 tensors are valid files; converting them is refused with a clear message.
  write_bytes(path, make_file(R"({"q":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})",
                              std::string(2, '\x38')));
  auto q = SafetensorsFile::open(path);
  CHECK_THROWS_WITH_AS(q.get<float>("q"), doctest::Contains("stored as F8_E4M3"), ember::Error);
}

// ---- malformed files: one case per kind ----------------------------------------------------------

TEST_CASE("safetensors: malformed files throw ember::Error naming what was expected and found") {
  TempDir tmp("malformed");
  const std::string f4 = std::string("\0\0\x80\x3f", 4);  // 1.0f
  auto entry = [](const std::string& name, const std::string& body) {
    return "\"" + name + "\":" + body;
  };
  const std::string ok = entry("a", R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})");

  SUBCASE("not a file") {
    CHECK_THROWS_WITH_AS(SafetensorsFile::open(tmp.file("missing.safetensors")),
                         doctest::Contains("cannot open the file"), ember::Error);
    CHECK_THROWS_WITH_AS(SafetensorsFile::open(tmp.dir.string()),
                         doctest::Contains("expected a regular file, found a directory"),
                         ember::Error);
  }
  SUBCASE("shorter than 8 bytes") {
    CHECK(contains(open_error(tmp, ""), "expected at least 8 bytes"));
    CHECK(contains(open_error(tmp, std::string("\x02\0\0", 3)), "found a file of 3 bytes"));
  }
  SUBCASE("header length past the end of the file") {
    CHECK(contains(open_error(tmp, u64le(100) + "{}"), "header length 100 runs past the end"));
    CHECK(contains(open_error(tmp, u64le(~uint64_t(0)) + "{}"), "exceeds the limit"));
  }
  SUBCASE("header length absurdly large") {
    CHECK(contains(open_error(tmp, u64le(100'000'001) + "{}"),
                   "header length 100000001 exceeds the limit of 100000000"));
  }
  SUBCASE("invalid JSON") {
    CHECK(contains(open_error(tmp, make_file("{\"a\":")), "found invalid JSON"));
    CHECK(contains(open_error(tmp, make_file("")), "found invalid JSON"));
    CHECK(contains(open_error(tmp, make_file("{} {}")), "found invalid JSON"));
    // NUL padding (nlohmann alone would stop at the first NUL and accept the rest as garbage).
    CHECK(contains(open_error(tmp, make_file("{" + ok + std::string("}\0\0\0", 4), f4)),
                   "a NUL byte at header offset 54"));
    CHECK(contains(open_error(tmp, make_file(std::string("{}\0garbage", 10))), "a NUL byte"));
  }
  SUBCASE("invalid UTF-8") {
    CHECK(contains(open_error(tmp, make_file("{\"\xff\":1}")), "invalid UTF-8 byte 0xff"));
    CHECK(contains(open_error(tmp, make_file("{\"\xc0\xaf\":1}")), "invalid UTF-8"));  // overlong
    CHECK(contains(open_error(tmp, make_file("{\"\xed\xa0\x80\":1}")), "invalid UTF-8"));  // surrogate
    CHECK(contains(open_error(tmp, make_file("{\"\xe2\x82\":1}")), "invalid UTF-8"));  // truncated
  }
  SUBCASE("header not an object") {
    CHECK(contains(open_error(tmp, make_file("[1,2]   ")),
                   "expected the header to be a JSON object"));
    CHECK(contains(open_error(tmp, make_file("\"x\"")), "found string"));
  }
  SUBCASE("entry not an object, missing or mistyped fields") {
    CHECK(contains(open_error(tmp, make_file("{\"a\":[0,4]}", f4)),
                   "tensor 'a': expected an object"));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", f4)),
                   "tensor 'a': missing field \"dtype\""));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", f4)),
                   "missing field \"shape\""));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","shape":[1]}})", f4)),
                   "missing field \"data_offsets\""));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})",
                                             f4)),
                   "expected \"dtype\" to be a string, found unsigned integer 32"));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","shape":1,"data_offsets":[0,4]}})",
                                             f4)),
                   "expected \"shape\" to be an array"));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})",
                                             f4)),
                   "non-integer number"));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})",
                                             f4)),
                   "expected \"data_offsets\" to be [begin, end]"));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":"0,4"}})",
                                             f4)),
                   "expected \"data_offsets\" to be [begin, end]"));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}})",
                                             f4)),
                   "found array [0, -4]"));
  }
  SUBCASE("unknown dtype") {
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}})",
                                             f4)),
                   "unknown dtype \"F31\""));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})",
                                             f4)),
                   "unknown dtype \"f32\""));
  }
  SUBCASE("negative and overflowing shapes") {
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
                                             f4)),
                   "expected \"shape\" to hold non-negative integers, found negative integer -1"));
    CHECK(contains(open_error(tmp, make_file(
                                       R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})",
                                       f4)),
                   "overflows 64 bits"));
    // Fits in u64 elements but not in bytes.
    CHECK(contains(open_error(tmp, make_file(
                                       R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}})",
                                       f4)),
                   "overflows 64 bits"));
    CHECK(contains(open_error(tmp, make_file(
                                       R"({"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}})",
                                       f4)),
                   "non-negative integers"));  // beyond u64: nlohmann reads it as a float
    CHECK(contains(open_error(tmp, make_file(
                                       R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})",
                                       f4)),
                   "at most 8"));
  }
  SUBCASE("offsets that disagree with shape x dtype size") {
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})",
                                             f4)),
                   "hold 4 bytes, but dtype F32 × shape [2] needs 8 bytes"));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}})",
                                             "x")),
                   "not a whole number of bytes"));
  }
  SUBCASE("offsets past the end of the data") {
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                             f4)),
                   "run past the end of the data (4 bytes after the header)"));
    CHECK(contains(open_error(tmp, make_file(
                                       R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]}})")),
                   "run past the end"));
  }
  SUBCASE("begin > end") {
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})",
                                             f4)),
                   "data_offsets [4, 0] have begin > end"));
  }
  SUBCASE("overlapping tensors") {
    std::string h = "{" + ok + "," + entry("b", R"({"dtype":"U8","shape":[2],"data_offsets":[2,4]})") +
                    "}";
    CHECK(contains(open_error(tmp, make_file(h, f4)),
                   "tensor 'b' (bytes [2, 4)) overlaps tensor 'a' (which ends at byte 4)"));
    // Two tensors on the very same bytes.
    h = "{" + ok + "," + entry("b", R"({"dtype":"I32","shape":[1],"data_offsets":[0,4]})") + "}";
    CHECK(contains(open_error(tmp, make_file(h, f4)), "overlaps tensor"));
  }
  SUBCASE("holes and trailing bytes") {
    std::string h = "{" + entry("a", R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})") + "}";
    CHECK(contains(open_error(tmp, make_file(h, f4 + f4)),
                   "bytes [0, 4) of the data belong to no tensor (a hole at the start"));
    h = "{" + ok + "," + entry("b", R"({"dtype":"F32","shape":[1],"data_offsets":[8,12]})") + "}";
    CHECK(contains(open_error(tmp, make_file(h, f4 + f4 + f4)),
                   "bytes [4, 8) of the data belong to no tensor (a hole after tensor 'a'"));
    CHECK(contains(open_error(tmp, make_file("{" + ok + "}", f4 + "xyz")),
                   "the tensors cover 4 bytes but 7 bytes of data follow the header"));
  }
  SUBCASE("duplicate names") {
    CHECK(contains(open_error(tmp, make_file("{" + ok + "," + ok + "}", f4)),
                   "duplicate tensor name 'a'"));
    // Even when the duplicates would be otherwise consistent with a different layout.
    std::string h = "{" + ok + "," + entry("a", R"({"dtype":"I32","shape":[1],"data_offsets":[4,8]})") +
                    "}";
    CHECK(contains(open_error(tmp, make_file(h, f4 + f4)), "duplicate tensor name 'a'"));
    CHECK(contains(open_error(tmp, make_file(R"({"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                             f4)),
                   "duplicate key 'dtype' inside a header object"));
    CHECK(contains(open_error(tmp, make_file(R"({"__metadata__":{"k":"1","k":"2"}})")),
                   "duplicate key 'k'"));
  }
  SUBCASE("__metadata__ not an object of strings") {
    CHECK(contains(open_error(tmp, make_file(R"({"__metadata__":{"epoch":3}})")),
                   "expected __metadata__ values to be strings, found unsigned integer 3 for key "
                   "'epoch'"));
    CHECK(contains(open_error(tmp, make_file(R"({"__metadata__":["a"]})")),
                   "expected __metadata__ to be an object of strings, found array"));
  }
}

TEST_CASE("safetensors: deeply nested JSON is an error, not a stack overflow") {
  TempDir tmp("deep");
  std::string deep = "{\"__metadata__\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  CHECK(contains(open_error(tmp, make_file(deep)), "expected __metadata__ to be an object"));
}

// ---- writer: errors and atomicity --------------------------------------------------------------

TEST_CASE("save_safetensors: bad input throws before touching the target") {
  TempDir tmp("badinput");
  std::string path = tmp.file("m.safetensors");
  auto a = iota<float>({2});
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"a", a}, {"b", a}, {"a", a}}),
                       doctest::Contains("duplicate tensor name 'a' (entries 0 and 2)"),
                       ember::Error);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"__metadata__", a}}),
                       doctest::Contains("'__metadata__' is reserved"), ember::Error);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"bad\xff", a}}),
                       doctest::Contains("a tensor name is not valid UTF-8"), ember::Error);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"a", a}}, {{"k", "\xc3"}}),
                       doctest::Contains("a metadata value is not valid UTF-8"), ember::Error);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"a", a}, {"u", Tensor<float>()}}),
                       doctest::Contains("tensor 'u' is undefined"), ember::Error);
  CHECK(tmp.count() == 0);
  // Names with quotes, backslashes and non-ASCII survive the JSON escaping.
  save_safetensors(path, {{"we\"ird\\name\n", a}, {"ünï", a}});
  auto file = SafetensorsFile::open(path);
  CHECK(file.contains("we\"ird\\name\n"));
  CHECK(file.contains("ünï"));
  // No tensors at all is a valid file.
  save_safetensors(path, {});
  CHECK(read_bytes(path) == make_file("{}      "));
}

TEST_CASE("save_safetensors: writing into a missing directory throws and leaves nothing") {
  TempDir tmp("nodir");
  std::string path = tmp.file("no/such/dir/m.safetensors");
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"a", iota<float>({2})}}),
                       doctest::Contains(("cannot write '" + path + "'").c_str()), ember::Error);
  CHECK(tmp.count() == 0);
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("save_safetensors: an existing file is replaced only on success") {
  TempDir tmp("atomic");
  std::string path = tmp.file("m.safetensors");
  save_safetensors(path, {{"old", iota<float>({3})}});
  const std::string before = read_bytes(path);

  SUBCASE("failure detected before writing (undefined tensor)") {
    CHECK_THROWS_AS(save_safetensors(path, {{"new", iota<float>({4})}, {"u", Tensor<bf16>()}}),
                    ember::Error);
  }
  SUBCASE("failure in the middle of writing the data (file size limit → EFBIG)") {
    // RLIMIT_FSIZE makes write() fail with EFBIG once the temp file reaches 4 KiB (SIGXFSZ
    // ignored), a real I/O error after the temp file already holds the header and some data.
    struct rlimit old_limit;
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_limit;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    bool threw = false;
    std::string msg;
    try {
      save_safetensors(path, {{"new", iota<float>({1 << 20})}});  // 4 MiB of data
    } catch (const ember::Error& e) {
      threw = true;
      msg = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::signal(SIGXFSZ, old_handler);
    CHECK(threw);
    CHECK(contains(msg, "the previous file, if any, is unchanged"));
  }
  // Either way: the old file is intact and no temp file is left behind.
  CHECK(read_bytes(path) == before);
  CHECK(tmp.count() == 1);
  CHECK(SafetensorsFile::open(path).contains("old"));

  // And a successful save replaces it, even while the old file is open (mapped) for reading:
  // rename swaps the directory entry, the reader keeps the old contents.
  auto reader = SafetensorsFile::open(path);
  save_safetensors(path, {{"new", iota<float>({4})}});
  auto file = SafetensorsFile::open(path);
  CHECK(file.keys() == std::vector<std::string>{"new"});
  CHECK(tmp.count() == 1);
  CHECK(reader.get<float>("old").to_vector() == std::vector<float>{0, 1, 2});
}
