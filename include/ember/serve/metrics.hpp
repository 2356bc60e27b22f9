// ember/serve/metrics.hpp — what a server counts, written in Prometheus' text exposition format
// (version 0.0.4: https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// The families are those of Hugging Face's text-embeddings-inference, under the prefix `ember_`:
//
//   ember_requests_total{endpoint,status}        counter    requests answered, by HTTP status
//   ember_request_duration_seconds{endpoint}     histogram  from the request's arrival to its reply
//   ember_queue_duration_seconds                 histogram  per row: submitted → its batch starts
//   ember_inference_duration_seconds             histogram  per forward pass (one chunk)
//   ember_batch_size                             histogram  rows per forward pass
//   ember_batch_tokens                           histogram  padded tokens per forward pass
//   ember_tokens_total / ember_padded_tokens_total counter  real / padded tokens run
//   ember_queue_depth                            gauge      rows waiting now
//   ember_tokens_per_second                      gauge      real tokens per second, last 10 s
//
// Thread-safe (one mutex; a request records twice, a batch once).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <ember/serve/batcher.hpp>

namespace ember::serve {

/// A Prometheus histogram: cumulative counts at fixed upper bounds, with sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)),
                                                   counts_(bounds_.size(), 0) {}
  void observe(double v) {
    for (std::size_t i = 0; i < bounds_.size(); ++i)
      if (v <= bounds_[i]) ++counts_[i];
    sum_ += v;
    ++count_;
  }
  /// Appends the `_bucket`, `_sum` and `_count` lines; `labels` is "" or `key="value",...`.
  void write(std::string& out, const std::string& name, const std::string& labels) const {
    const std::string sep = labels.empty() ? "" : ",";
    for (std::size_t i = 0; i < bounds_.size(); ++i)
      out += name + "_bucket{" + labels + sep + "le=\"" + number(bounds_[i]) + "\"} " +
             std::to_string(counts_[i]) + "\n";
    out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(count_) + "\n";
    const std::string braces = labels.empty() ? "" : "{" + labels + "}";
    out += name + "_sum" + braces + " " + number(sum_) + "\n";
    out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
  }
  int64_t count() const { return count_; }

  /// A double as Prometheus reads it (shortest round-trip form is not needed: %.9g).
  static std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
  }

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;
  double sum_ = 0;
  int64_t count_ = 0;
};

/// The serving metrics above. `record_request` from the HTTP threads, `record_batch` from the
/// batcher's worker (pass it as DynamicBatcher's StatsFn), `render` for GET /metrics.
class ServerMetrics {
 public:
  ServerMetrics()
      : queue_(seconds_buckets()), inference_(seconds_buckets()),
        batch_size_({1, 2, 4, 8, 16, 32, 64, 128, 256}),
        batch_tokens_({16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536}) {}

  /// Latency buckets from 1 ms to 60 s.
  static std::vector<double> seconds_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  }

  void record_request(const std::string& endpoint, int status, double seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_[{endpoint, status}];
    auto it = durations_.find(endpoint);
    if (it == durations_.end()) it = durations_.emplace(endpoint, Histogram(seconds_buckets())).first;
    it->second.observe(seconds);
  }

  void record_batch(const BatchStats& s) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    for (double q : s.queue_seconds) queue_.observe(q);
    inference_.observe(s.run_seconds);
    batch_size_.observe(double(s.rows));
    batch_tokens_.observe(double(s.padded_tokens));
    tokens_ += s.tokens;
    padded_tokens_ += s.padded_tokens;
    recent_.emplace_back(now, s.tokens);
    drop_old_(now);
  }

  /// The exposition text; `queue_depth` is read from the batcher by the caller.
  std::string render(int64_t queue_depth) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    drop_old_(now);
    std::string out;
    auto head = [&](const char* name, const char* type, const char* help) {
      out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    head("ember_requests_total", "counter", "Requests answered, by endpoint and HTTP status.");
    for (const auto& [key, n] : requests_)
      out += "ember_requests_total{endpoint=\"" + escape(key.first) + "\",status=\"" +
             std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
    head("ember_request_duration_seconds", "histogram",
         "Time from a request's arrival to its reply, by endpoint.");
    for (const auto& [endpoint, h] : durations_)
      h.write(out, "ember_request_duration_seconds", "endpoint=\"" + escape(endpoint) + "\"");
    head("ember_queue_duration_seconds", "histogram",
         "Time a row waited in the batching queue before its forward pass started.");
    queue_.write(out, "ember_queue_duration_seconds", "");
    head("ember_inference_duration_seconds", "histogram", "Wall time of one forward pass.");
    inference_.write(out, "ember_inference_duration_seconds", "");
    head("ember_batch_size", "histogram", "Rows per forward pass.");
    batch_size_.write(out, "ember_batch_size", "");
    head("ember_batch_tokens", "histogram", "Padded tokens (rows x longest row) per forward pass.");
    batch_tokens_.write(out, "ember_batch_tokens", "");
    head("ember_tokens_total", "counter", "Real (unpadded) tokens run through the model.");
    out += "ember_tokens_total " + std::to_string(tokens_) + "\n";
    head("ember_padded_tokens_total", "counter", "Padded tokens run through the model.");
    out += "ember_padded_tokens_total " + std::to_string(padded_tokens_) + "\n";
    head("ember_queue_depth", "gauge", "Rows waiting in the batching queue.");
    out += "ember_queue_depth " + std::to_string(queue_depth) + "\n";
    head("ember_tokens_per_second", "gauge", "Real tokens per second over the last 10 seconds.");
    int64_t recent = 0;
    for (const auto& r : recent_) recent += r.second;
    out += "ember_tokens_per_second " + Histogram::number(double(recent) / kWindowSeconds) + "\n";
    return out;
  }

  /// A label value with `\`, `"` and newlines escaped, as the format requires.
  static std::string escape(const std::string& v) {
    std::string out;
    for (char c : v) {
      if (c == '\\') out += "\\\\";
      else if (c == '"') out += "\\\"";
      else if (c == '\n') out += "\\n";
      else out += c;
    }
    return out;
  }

 private:
  static constexpr double kWindowSeconds = 10;
  void drop_old_(std::chrono::steady_clock::time_point now) {
    while (!recent_.empty() &&
           std::chrono::duration<double>(now - recent_.front().first).count() > kWindowSeconds)
      recent_.pop_front();
  }

  std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  std::map<std::string, Histogram> durations_;
  Histogram queue_, inference_, batch_size_, batch_tokens_;
  int64_t tokens_ = 0, padded_tokens_ = 0;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> recent_;
};

}  // namespace ember::serve
