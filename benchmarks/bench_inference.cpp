// bench_inference — ember's batched inference, the path ember-serve runs
// (serve::InferenceModel::run: one padded forward pass, no autograd), at fixed shapes, printed as
// the JSON lines of tools/serve/bench_onnx.py so the two sit side by side
// (scripts/bench_inference.sh; docs/serving.md, "Raw inference against ONNX Runtime").
//
//   bench_inference --model DIR [--data examples/data/sst2/dev.tsv] [--shapes 32x64,1x16,1x128]
//                   [--threads 2] [--warmup 5] [--runs 30] [--int8 1]
//
// --int8 1: the Linear layers in int8 (serve::InferenceOptions::dynamic_int8; runtime "ember-int8").
//
// Inputs as bench_onnx.py's default: real SST-2 sentences, tokenized and padded or truncated to
// exactly `seq` tokens (attention mask 0 on the padding), so both runtimes do the same work.
// Built with the user's Release flags (no -march=native): ember picks its CPU kernels at run time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <ember/ember.hpp>
#include <ember/serve/inference.hpp>

namespace {

std::vector<std::string> read_sentences(const std::string& path) {
  std::ifstream in(path);
  EMBER_CHECK(in.good(), "bench_inference: cannot read ", path);
  std::vector<std::string> out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) out.push_back(line.substr(0, line.find('\t')));
  EMBER_CHECK(!out.empty(), "bench_inference: no sentences in ", path);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir, data = "examples/data/sst2/dev.tsv", shapes = "32x64,1x16,1x128";
  int threads = 2, warmup = 5, runs = 30;
  bool int8 = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--model") model_dir = v;
    else if (a == "--data") data = v;
    else if (a == "--shapes") shapes = v;
    else if (a == "--threads") threads = std::stoi(v);
    else if (a == "--warmup") warmup = std::stoi(v);
    else if (a == "--runs") runs = std::stoi(v);
    else if (a == "--int8") int8 = v == "1";
    else {
      std::fprintf(stderr, "bench_inference: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (model_dir.empty()) {
    std::fprintf(stderr, "usage: bench_inference --model DIR [--data TSV] [--shapes 32x64,...] "
                         "[--threads N] [--warmup N] [--runs N] [--int8 1]\n");
    return 2;
  }
  try {
    ember::set_num_threads(threads);
    ember::serve::InferenceModel model(model_dir,
                                       ember::serve::InferenceOptions().dynamic_int8(int8));
    const std::vector<std::string> sentences = read_sentences(data);
    std::size_t next = 0;
    std::size_t start = 0;
    while (start < shapes.size()) {
      std::size_t end = shapes.find(',', start);
      if (end == std::string::npos) end = shapes.size();
      const std::string shape = shapes.substr(start, end - start);
      start = end + 1;
      const std::size_t x = shape.find('x');
      EMBER_CHECK(x != std::string::npos, "--shapes: expected BATCHxSEQ, found ", shape);
      const int64_t batch = std::stoll(shape.substr(0, x)), seq = std::stoll(shape.substr(x + 1));
      EMBER_CHECK(seq >= 3 && seq <= model.max_input_length(), "--shapes: seq must be in [3, ",
                  model.max_input_length(), "]");
      std::vector<ember::serve::Job> jobs(static_cast<std::size_t>(batch));
      for (auto& job : jobs) {
        job.task = ember::serve::Task::predict;
        job.encoding = model.encode(sentences[next++ % sentences.size()], nullptr, true);
        auto& e = job.encoding;
        if (int64_t(e.size()) > seq) {  // truncate, keeping the final [SEP]
          e.input_ids.resize(std::size_t(seq));
          e.token_type_ids.resize(std::size_t(seq));
          e.attention_mask.resize(std::size_t(seq));
          e.input_ids.back() = model.tokenizer().sep_token_id();
        }
        while (int64_t(e.size()) < seq) {  // pad (mask 0), as the tokenizer pads to max_length
          e.input_ids.push_back(model.tokenizer().pad_token_id());
          e.token_type_ids.push_back(0);
          e.attention_mask.push_back(0);
        }
      }
      std::vector<const ember::serve::Job*> ptrs;
      for (const auto& j : jobs) ptrs.push_back(&j);
      for (int i = 0; i < warmup; ++i) model.run(ptrs);
      std::vector<double> ms;
      for (int i = 0; i < runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        model.run(ptrs);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      auto q = [&](double p) { return ms[std::min(ms.size() - 1, std::size_t(p * double(ms.size() - 1) + 0.5))]; };
      std::printf("{\"runtime\":\"%s\",\"batch\":%lld,\"seq\":%lld,\"threads\":%d,\"ms_median\":%.3f,"
                  "\"ms_p10\":%.3f,\"ms_p90\":%.3f,\"sentences_per_s\":%.1f,\"runs\":%d}\n",
                  int8 ? "ember-int8" : "ember", static_cast<long long>(batch),
                  static_cast<long long>(seq), threads, q(0.5), q(0.1),
                  q(0.9), double(batch) * 1000.0 / q(0.5), runs);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
