// ember/train/progress.hpp — training progress on the console (`ProgressBar`) and in a file
// (`MetricsLogger`, JSON Lines).
//
// ProgressBar shows, per optimizer step: epoch, step/total, the smoothed loss, the learning rate,
// throughput (examples/s, or steps/s when example counts are not given), elapsed time and ETA:
//   epoch 1/3  step 120/6315 (1%)  loss 0.6931  lr 2.00e-05  412.3 ex/s  elapsed 0:29  ETA 25:04
//   * On a terminal (the stream is std::cerr/std::clog or std::cout and its file descriptor is a
//     tty) the line is redrawn in place with '\r' and carries a [=====>    ] bar, at most every
//     0.1 s; otherwise (a log file, a pipe, CI) a plain line is printed after the first step,
//     every print_every steps (default: 5% of the run), whenever print_interval seconds (default
//     10) passed since the last line, and at the last step.
//   * The loss is an exponential moving average with bias correction (as TensorBoard's and
//     fastai's smoothing): avg ← β·avg + (1−β)·loss, shown as avg / (1 − β^k) after k steps,
//     β = smoothing (default 0.98, about the last 50 steps). Non-finite losses show as nan/inf.
//   * Throughput and ETA count only the steps of this ProgressBar (a resumed run passes its
//     first step as initial_step): rate = examples / elapsed, ETA = remaining · elapsed / steps.
//   * The clock is injectable (ProgressOptions::clock, seconds as double) and the line is built
//     by the pure function format_progress(), so tests check the output exactly.
//
// MetricsLogger writes one JSON object per line and flushes each line (a crashed run keeps its
// log): {"type":"train","step":10,"epoch":0,"loss":0.69,"lr":2e-05} and
// {"type":"eval","split":"validation","step":500,"epoch":0,"accuracy":0.85,...}, keys in that
// order. NaN and infinite numbers are written as null (JSON has no NaN).
//
// Errors: ember::Error for total_steps < 1, smoothing outside [0, 1), print_every < 0,
// and a log file that cannot be opened or written (naming the path).
#pragma once

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

namespace ember::train {

// ---------------------------------------------------------------------------------------------
// Synopsis
// ---------------------------------------------------------------------------------------------

/// What one progress line shows. epoch < 0: no epoch shown; num_epochs 0: epoch without total.
struct ProgressSnapshot {
  int64_t step = 0;
  int64_t total_steps = 0;
  int64_t epoch = -1;
  int64_t num_epochs = 0;
  double loss = 0;  // smoothed
  double lr = 0;
  double rate = 0;  // examples/s (or steps/s when !rate_in_examples); 0: unknown
  bool rate_in_examples = true;
  double elapsed_s = 0;
  double eta_s = -1;  // < 0: unknown
};

/// "M:SS" below an hour, "H:MM:SS" from an hour on, "?" for a negative or non-finite time.
std::string format_duration(double seconds);
/// One progress line (no '\r' or '\n'); bar_width > 0 adds a [=====>    ] bar of that width.
std::string format_progress(const ProgressSnapshot& s, int bar_width = 0);

/// ProgressBar settings. Chainable: `ProgressOptions().print_every(100).interactive(false)`.
struct ProgressOptions {
  /// Plain (non-terminal) output: print a line every this many steps (0: 5% of total_steps).
  EMBER_ARG(int64_t, print_every) = 0;
  /// Plain output: also print when this many seconds passed since the last line.
  EMBER_ARG(double, print_interval) = 10.0;
  /// β of the loss moving average, in [0, 1) (0: no smoothing).
  EMBER_ARG(double, smoothing) = 0.98;
  /// Force terminal (true) or plain (false) output; unset: detect (isatty).
  EMBER_ARG(std::optional<bool>, interactive);
  /// Steps already done before this bar (a resumed run): the bar starts at this step.
  EMBER_ARG(int64_t, initial_step) = 0;
  /// Width of the terminal bar in characters (0: no bar).
  EMBER_ARG(int, bar_width) = 20;
  /// Time source in seconds (default: std::chrono::steady_clock).
  EMBER_ARG(std::function<double()>, clock);
};

class ProgressBar {
 public:
  /// A bar for `total_steps` (>= 1) optimizer steps, drawn on `os` (kept by reference).
  explicit ProgressBar(int64_t total_steps, std::ostream& os = std::cerr,
                       ProgressOptions options = {});
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// The epoch shown from now on (0-based, shown 1-based); num_epochs 0: no total.
  void set_epoch(int64_t epoch, int64_t num_epochs = 0);
  /// One optimizer step finished with this loss and learning rate; num_examples is the batch
  /// size (0: unknown, throughput in steps/s).
  void update(double loss, double lr, int64_t num_examples = 0);
  /// Prints a line of text (e.g. evaluation results) without garbling the bar.
  void write(const std::string& line);
  /// Ends the terminal line (also done by the destructor and at the last step).
  void close();

  int64_t step() const { return step_; }
  int64_t total_steps() const { return total_; }
  double smoothed_loss() const;
  bool interactive() const { return interactive_; }
  /// What the line would show now.
  ProgressSnapshot snapshot() const;

 private:
  double now_() const;
  void draw_(bool force);

  std::ostream& os_;
  ProgressOptions options_;
  int64_t total_;
  bool interactive_;
  int64_t print_every_;
  int64_t step_, first_step_;
  int64_t epoch_ = -1, num_epochs_ = 0;
  double avg_ = 0;
  int64_t smoothed_count_ = 0;
  double lr_ = 0;
  int64_t examples_ = 0;
  double start_, last_print_;
  bool printed_ = false;        // something printed since start (terminal: throttle)
  bool line_open_ = false;      // terminal: a bar is on screen without its newline
  std::size_t last_width_ = 0;  // terminal: length of the drawn line (to erase leftovers)
};

/// Appends JSON lines to a file, one per call, flushed at once.
class MetricsLogger {
 public:
  /// Opens `path` (truncating it, or appending when `append` — for a resumed run).
  explicit MetricsLogger(const std::string& path, bool append = false);

  /// {"type":"train","step":step[,"epoch":epoch],"loss":loss,"lr":lr} (epoch < 0: omitted).
  void log_train(int64_t step, double loss, double lr, int64_t epoch = -1);
  /// {"type":"eval","split":split,"step":step[,"epoch":epoch],<name>:<value>...}; the metrics in
  /// the order given.
  void log_eval(int64_t step, const std::vector<std::pair<std::string, double>>& metrics,
                int64_t epoch = -1, const std::string& split = "validation");
  /// Any JSON object, as one line (its keys in nlohmann::json's order: sorted).
  void log(const nlohmann::json& record);
  const std::string& path() const { return path_; }

  /// Reads a JSON Lines file back (blank lines skipped); ember::Error naming path and line on
  /// a line that is not JSON.
  static std::vector<nlohmann::json> read(const std::string& path);

 private:
  void write_line_(const std::string& line);
  std::string path_;
  std::ofstream out_;
};

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------
namespace detail {

inline std::string format_double(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

/// Whether `os` is std::cout / std::cerr / std::clog attached to a terminal.
inline bool stream_is_tty(const std::ostream& os) {
  int fd = -1;
  if (&os == &std::cout)
    fd = 1;
  else if (&os == &std::cerr || &os == &std::clog)
    fd = 2;
  if (fd < 0) return false;
#if defined(_WIN32)
  return _isatty(fd) != 0;
#else
  return isatty(fd) != 0;
#endif
}

/// A JSON value as one token; NaN and ±inf become null.
inline std::string json_number(double v) {
  return std::isfinite(v) ? nlohmann::json(v).dump() : std::string("null");
}

}  // namespace detail

inline std::string format_duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
  const long long s = static_cast<long long>(seconds + 0.5);
  char buf[64];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  return buf;
}

inline std::string format_progress(const ProgressSnapshot& s, int bar_width) {
  std::string out;
  if (s.epoch >= 0) {
    out += "epoch " + std::to_string(s.epoch + 1);
    if (s.num_epochs > 0) out += "/" + std::to_string(s.num_epochs);
    out += "  ";
  }
  const double frac = s.total_steps > 0 ? std::min(1.0, double(s.step) / double(s.total_steps)) : 0;
  if (bar_width > 0) {
    const int filled = static_cast<int>(frac * bar_width);
    out += '[';
    for (int i = 0; i < bar_width; ++i) out += i < filled ? '=' : (i == filled ? '>' : ' ');
    out += "]  ";
  }
  out += "step " + std::to_string(s.step) + "/" + std::to_string(s.total_steps) + " (" +
         std::to_string(static_cast<int>(frac * 100)) + "%)";
  out += "  loss " + detail::format_double("%.4f", s.loss);
  out += "  lr " + detail::format_double("%.2e", s.lr);
  if (s.rate > 0)
    out += "  " + detail::format_double("%.1f", s.rate) + (s.rate_in_examples ? " ex/s" : " it/s");
  out += "  elapsed " + format_duration(s.elapsed_s);
  out += "  ETA " + format_duration(s.eta_s);
  return out;
}

inline ProgressBar::ProgressBar(int64_t total_steps, std::ostream& os, ProgressOptions options)
    : os_(os), options_(std::move(options)), total_(total_steps) {
  EMBER_CHECK(total_steps >= 1, "ProgressBar: total_steps must be >= 1, found ", total_steps);
  EMBER_CHECK(options_.smoothing() >= 0 && options_.smoothing() < 1,
              "ProgressBar: smoothing must be in [0, 1), found ", options_.smoothing());
  EMBER_CHECK(options_.print_every() >= 0, "ProgressBar: print_every must be >= 0, found ",
              options_.print_every());
  interactive_ = options_.interactive().value_or(detail::stream_is_tty(os));
  print_every_ =
      options_.print_every() > 0 ? options_.print_every() : std::max<int64_t>(1, total_ / 20);
  step_ = first_step_ = options_.initial_step();
  start_ = last_print_ = now_();
}

inline ProgressBar::~ProgressBar() {
  try {
    close();
  } catch (...) {  // never throw from a destructor
  }
}

inline double ProgressBar::now_() const {
  if (options_.clock()) return options_.clock()();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline void ProgressBar::set_epoch(int64_t epoch, int64_t num_epochs) {
  epoch_ = epoch;
  num_epochs_ = num_epochs;
}

inline double ProgressBar::smoothed_loss() const {
  if (smoothed_count_ == 0) return 0;
  const double beta = options_.smoothing();
  return avg_ / (1 - std::pow(beta, double(smoothed_count_)));
}

inline ProgressSnapshot ProgressBar::snapshot() const {
  ProgressSnapshot s;
  s.step = step_;
  s.total_steps = total_;
  s.epoch = epoch_;
  s.num_epochs = num_epochs_;
  s.loss = smoothed_loss();
  s.lr = lr_;
  s.elapsed_s = now_() - start_;
  const int64_t done = step_ - first_step_;
  if (done > 0 && s.elapsed_s > 0) {
    s.rate_in_examples = examples_ > 0;
    s.rate = (examples_ > 0 ? double(examples_) : double(done)) / s.elapsed_s;
    s.eta_s = double(std::max<int64_t>(0, total_ - step_)) * s.elapsed_s / double(done);
  } else if (step_ >= total_) {
    s.eta_s = 0;
  }
  return s;
}

inline void ProgressBar::update(double loss, double lr, int64_t num_examples) {
  ++step_;
  const double beta = options_.smoothing();
  avg_ = beta * avg_ + (1 - beta) * loss;
  ++smoothed_count_;
  lr_ = lr;
  examples_ += std::max<int64_t>(0, num_examples);
  draw_(step_ >= total_);
}

inline void ProgressBar::draw_(bool force) {
  const double t = now_();
  if (interactive_) {
    if (!force && printed_ && t - last_print_ < 0.1) return;
    std::string line = format_progress(snapshot(), options_.bar_width());
    const std::size_t width = line.size();
    if (width < last_width_) line.append(last_width_ - width, ' ');  // erase the old tail
    os_ << '\r' << line;
    last_width_ = width;
    line_open_ = true;
    if (step_ >= total_)
      close();
    else
      os_.flush();
  } else {
    const int64_t done = step_ - first_step_;
    const bool due = force || done == 1 || done % print_every_ == 0 ||
                     t - last_print_ >= options_.print_interval();
    if (!due) return;
    os_ << format_progress(snapshot(), 0) << '\n';
    os_.flush();
  }
  printed_ = true;
  last_print_ = t;
}

inline void ProgressBar::write(const std::string& line) {
  if (interactive_ && line_open_) {
    std::string text = line;
    if (text.size() < last_width_) text.append(last_width_ - text.size(), ' ');
    os_ << '\r' << text << '\n';
    line_open_ = false;
    last_width_ = 0;
    if (step_ < total_) draw_(true);  // redraw the bar under the message
  } else {
    os_ << line << '\n';
  }
  os_.flush();
}

inline void ProgressBar::close() {
  if (interactive_ && line_open_) {
    os_ << '\n';
    os_.flush();
    line_open_ = false;
    last_width_ = 0;
  }
}

// ---- MetricsLogger ----------------------------------------------------------------------------

inline MetricsLogger::MetricsLogger(const std::string& path, bool append) : path_(path) {
  out_.open(path, append ? std::ios::app : std::ios::trunc);
  EMBER_CHECK(out_.is_open(), "MetricsLogger: cannot open '", path, "' for writing");
}

inline void MetricsLogger::write_line_(const std::string& line) {
  out_ << line << '\n';
  out_.flush();
  EMBER_CHECK(out_.good(), "MetricsLogger: error while writing to '", path_, "'");
}

inline void MetricsLogger::log_train(int64_t step, double loss, double lr, int64_t epoch) {
  std::string line = "{\"type\":\"train\",\"step\":" + std::to_string(step);
  if (epoch >= 0) line += ",\"epoch\":" + std::to_string(epoch);
  line += ",\"loss\":" + detail::json_number(loss) + ",\"lr\":" + detail::json_number(lr) + "}";
  write_line_(line);
}

inline void MetricsLogger::log_eval(int64_t step,
                                    const std::vector<std::pair<std::string, double>>& metrics,
                                    int64_t epoch, const std::string& split) {
  std::string line = "{\"type\":\"eval\",\"split\":" + nlohmann::json(split).dump() +
                     ",\"step\":" + std::to_string(step);
  if (epoch >= 0) line += ",\"epoch\":" + std::to_string(epoch);
  for (const auto& [name, value] : metrics)
    line += "," + nlohmann::json(name).dump() + ":" + detail::json_number(value);
  write_line_(line + "}");
}

inline void MetricsLogger::log(const nlohmann::json& record) {
  write_line_(record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

inline std::vector<nlohmann::json> MetricsLogger::read(const std::string& path) {
  std::ifstream in(path);
  EMBER_CHECK(in.good(), "MetricsLogger::read: cannot open '", path, "'");
  std::vector<nlohmann::json> rows;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      rows.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      EMBER_FAIL("MetricsLogger::read: ", path, ":", line_no, ": invalid JSON (", e.what(), ")");
    }
  }
  return rows;
}

}  // namespace ember::train
