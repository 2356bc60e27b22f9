// Tests of the training aids that steer and report a run: ProgressBar (plain and terminal
// output, driven by an injected clock so every line is known exactly), format_progress /
// format_duration, MetricsLogger (JSON Lines) and EarlyStopping.
#include <ember/train/early_stopping.hpp>
#include <ember/train/progress.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using ember::train::EarlyStopping;
using ember::train::EarlyStoppingOptions;
using ember::train::format_duration;
using ember::train::format_progress;
using ember::train::MetricsLogger;
using ember::train::ProgressBar;
using ember::train::ProgressOptions;
using ember::train::ProgressSnapshot;
namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

/// A file in a folder per process, removed when the test binary exits.
std::string temp_path(const std::string& name) {
  struct TempDir {
    fs::path path = fs::temp_directory_path() /
                    ("ember_test_progress_" + std::to_string(static_cast<long long>(::getpid())));
    TempDir() { fs::create_directories(path); }
    ~TempDir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const TempDir tmp;
  return (tmp.path / name).string();
}

}  // namespace

TEST_CASE("format_duration") {
  CHECK(format_duration(0) == "0:00");
  CHECK(format_duration(59.4) == "0:59");
  CHECK(format_duration(61) == "1:01");
  CHECK(format_duration(754) == "12:34");
  CHECK(format_duration(3600) == "1:00:00");
  CHECK(format_duration(3725) == "1:02:05");
  CHECK(format_duration(90061) == "25:01:01");
  CHECK(format_duration(-1) == "?");
  CHECK(format_duration(std::nan("")) == "?");
  CHECK(format_duration(std::numeric_limits<double>::infinity()) == "?");
}

TEST_CASE("format_progress") {
  ProgressSnapshot s;
  s.step = 120;
  s.total_steps = 6315;
  s.epoch = 0;
  s.num_epochs = 3;
  s.loss = 0.69314718;
  s.lr = 2e-5;
  s.rate = 412.34;
  s.elapsed_s = 29;
  s.eta_s = 1504;
  CHECK(format_progress(s) ==
        "epoch 1/3  step 120/6315 (1%)  loss 0.6931  lr 2.00e-05  412.3 ex/s  elapsed 0:29  ETA "
        "25:04");
  s.step = 5;
  s.total_steps = 10;
  s.epoch = -1;  // no epoch
  s.rate = 0;    // unknown rate: left out
  s.eta_s = -1;  // unknown ETA
  CHECK(format_progress(s, 10) ==
        "[=====>    ]  step 5/10 (50%)  loss 0.6931  lr 2.00e-05  elapsed 0:29  ETA ?");
  s.step = 10;
  s.loss = std::nan("");
  s.rate = 2.5;
  s.rate_in_examples = false;
  CHECK(format_progress(s, 10) ==
        "[==========]  step 10/10 (100%)  loss nan  lr 2.00e-05  2.5 it/s  elapsed 0:29  ETA ?");
}

TEST_CASE("ProgressBar: plain output prints the first step, every N steps, and the last") {
  double t = 100;
  std::ostringstream os;
  {
    ProgressBar bar(
        10, os,
        ProgressOptions().print_every(5).smoothing(0).interactive(false).clock([&] { return t; }));
    CHECK_FALSE(bar.interactive());
    bar.set_epoch(0, 2);
    for (int step = 1; step <= 10; ++step) {
      if (step == 6) bar.set_epoch(1, 2);
      t += 1;
      bar.update(1.0 / step, 1e-3, 32);
    }
    bar.write("eval accuracy 0.9000");
    CHECK(bar.step() == 10);
  }
  const auto lines = lines_of(os.str());
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] ==
        "epoch 1/2  step 1/10 (10%)  loss 1.0000  lr 1.00e-03  32.0 ex/s  elapsed 0:01  ETA 0:09");
  CHECK(lines[1] ==
        "epoch 1/2  step 5/10 (50%)  loss 0.2000  lr 1.00e-03  32.0 ex/s  elapsed 0:05  ETA 0:05");
  CHECK(
      lines[2] ==
      "epoch 2/2  step 10/10 (100%)  loss 0.1000  lr 1.00e-03  32.0 ex/s  elapsed 0:10  ETA 0:00");
  CHECK(lines[3] == "eval accuracy 0.9000");
  CHECK(os.str().find('\r') == std::string::npos);
}

TEST_CASE("ProgressBar: plain output also prints after print_interval seconds") {
  double t = 0;
  std::ostringstream os;
  ProgressBar bar(100, os,
                  ProgressOptions().print_every(1000).print_interval(10).interactive(false).clock(
                      [&] { return t; }));
  t = 1;
  bar.update(1, 0.1);  // first step: printed
  t = 5;
  bar.update(1, 0.1);  // 4 s later: not yet
  t = 11.5;
  bar.update(1, 0.1);  // 10.5 s after the last line: printed
  t = 12;
  bar.update(1, 0.1);
  const auto lines = lines_of(os.str());
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].find("step 3/100") != std::string::npos);
  CHECK(lines[1].find("0.3 it/s") != std::string::npos);  // no example counts: steps per second
}

TEST_CASE("ProgressBar: default print_every is 5% of the run") {
  double t = 0;
  std::ostringstream os;
  ProgressBar bar(200, os, ProgressOptions().interactive(false).clock([&] { return t; }));
  for (int i = 0; i < 200; ++i) bar.update(1, 0.1, 8);  // clock frozen: no time-based lines
  CHECK(lines_of(os.str()).size() == 1 + 20);  // step 1, then every 10 steps (10, 20, ..., 200)
}

TEST_CASE("ProgressBar: smoothed loss is a bias-corrected moving average") {
  std::ostringstream os;
  ProgressBar bar(10, os, ProgressOptions().smoothing(0.5).interactive(false));
  CHECK(bar.smoothed_loss() == 0.0);
  bar.update(1.0, 0);
  CHECK(bar.smoothed_loss() == doctest::Approx(1.0));  // 0.5 / (1 - 0.5)
  bar.update(2.0, 0);
  CHECK(bar.smoothed_loss() == doctest::Approx(1.25 / 0.75));
  CHECK_THROWS_AS(ProgressBar(10, os, ProgressOptions().smoothing(1.0)), ember::Error);
  CHECK_THROWS_AS(ProgressBar(0, os), ember::Error);
  CHECK_THROWS_AS(ProgressBar(10, os, ProgressOptions().print_every(-1)), ember::Error);
}

TEST_CASE("ProgressBar: a resumed run starts at initial_step and times only its own steps") {
  double t = 0;
  std::ostringstream os;
  ProgressBar bar(
      200, os,
      ProgressOptions().initial_step(100).smoothing(0).interactive(false).clock([&] { return t; }));
  t = 2;
  bar.update(0.25, 5e-5);
  CHECK(lines_of(os.str()).at(0) ==
        "step 101/200 (50%)  loss 0.2500  lr 5.00e-05  0.5 it/s  elapsed 0:02  ETA 3:18");
}

TEST_CASE("ProgressBar: terminal output redraws one line with \\r") {
  double t = 0;
  std::ostringstream os;
  {
    ProgressBar bar(3, os, ProgressOptions().interactive(true).bar_width(4).smoothing(0).clock([&] {
      return t;
    }));
    CHECK(bar.interactive());
    t = 1;
    bar.update(0.5, 1e-3, 2);
    t = 1.05;
    bar.update(0.5, 1e-3, 2);  // within 0.1 s of the last draw: skipped
    t = 2;
    bar.write("eval accuracy 0.5");
    t = 3;
    bar.update(0.5, 1e-3, 2);  // the last step: drawn and the line ended
  }
  const std::string out = os.str();
  const std::string l1 =
      "[=>  ]  step 1/3 (33%)  loss 0.5000  lr 1.00e-03  2.0 ex/s  elapsed 0:01  ETA 0:02";
  const std::string l2 =
      "[==> ]  step 2/3 (66%)  loss 0.5000  lr 1.00e-03  2.0 ex/s  elapsed 0:02  ETA 0:01";
  const std::string l3 =
      "[====]  step 3/3 (100%)  loss 0.5000  lr 1.00e-03  2.0 ex/s  elapsed 0:03  ETA 0:00";
  std::string msg = "eval accuracy 0.5";
  msg.append(l1.size() - msg.size(), ' ');  // erases the bar under the message
  CHECK(out == "\r" + l1 + "\r" + msg + "\n\r" + l2 + "\r" + l3 + "\n");
}

TEST_CASE("ProgressBar: a string stream is not a terminal") {
  std::ostringstream os;
  ProgressBar bar(5, os);
  CHECK_FALSE(bar.interactive());
}

TEST_CASE("MetricsLogger: one JSON object per line, keys in order, flushed") {
  const std::string path = temp_path("metrics.jsonl");
  {
    MetricsLogger log(path);
    log.log_train(1, 0.5, 0.001, 0);
    // Flushed at once: the line is in the file while the logger is still open.
    CHECK(MetricsLogger::read(path).size() == 1);
    log.log_train(2, 0.25, 2e-5);
    log.log_eval(10, {{"accuracy", 0.75}, {"f1", std::nan("")}}, 1);
    log.log({{"type", "note"}, {"text", "done"}});
  }
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content ==
        "{\"type\":\"train\",\"step\":1,\"epoch\":0,\"loss\":0.5,\"lr\":0.001}\n"
        "{\"type\":\"train\",\"step\":2,\"loss\":0.25,\"lr\":2e-05}\n"
        "{\"type\":\"eval\",\"split\":\"validation\",\"step\":10,\"epoch\":1,\"accuracy\":0.75,"
        "\"f1\":null}\n"
        "{\"text\":\"done\",\"type\":\"note\"}\n");
  const auto rows = MetricsLogger::read(path);
  REQUIRE(rows.size() == 4);
  CHECK(rows[2]["accuracy"].get<double>() == 0.75);
  CHECK(rows[2]["f1"].is_null());

  {
    MetricsLogger more(path, /*append=*/true);  // a resumed run continues the same file
    more.log_eval(20, {{"loss", 0.125}}, -1, "test");
  }
  const auto all = MetricsLogger::read(path);
  REQUIRE(all.size() == 5);
  CHECK(all[4]["split"] == "test");
  {
    MetricsLogger fresh(path);  // without append: truncated
  }
  CHECK(MetricsLogger::read(path).empty());

  CHECK_THROWS_WITH_AS(MetricsLogger("/nonexistent/dir/log.jsonl"),
                       "MetricsLogger: cannot open '/nonexistent/dir/log.jsonl' for writing",
                       ember::Error);
  std::ofstream(temp_path("bad.jsonl")) << "{\"a\": 1}\nnot json\n";
  const std::string bad = temp_path("bad.jsonl");
  try {
    MetricsLogger::read(bad);
    FAIL("expected an error");
  } catch (const ember::Error& e) {
    CHECK(std::string(e.what()).find(bad + ":2: invalid JSON") != std::string::npos);
  }
}

TEST_CASE("EarlyStopping: max mode with patience") {
  EarlyStopping stop(EarlyStoppingOptions(2).mode(EarlyStopping::Mode::max));
  CHECK(std::isnan(stop.best()));
  CHECK(stop.update(0.80));  // the first value always improves
  CHECK_FALSE(stop.should_stop());
  CHECK(stop.update(0.85));
  CHECK_FALSE(stop.update(0.85));  // equal is not better
  CHECK_FALSE(stop.should_stop());
  CHECK(stop.update(0.86));  // improvement resets the count
  CHECK(stop.num_bad() == 0);
  CHECK_FALSE(stop.update(0.70));
  CHECK_FALSE(stop.should_stop());
  CHECK_FALSE(stop.update(0.84));
  CHECK(stop.should_stop());  // 2 in a row without improvement
  CHECK(stop.best() == 0.86);
  CHECK(stop.best_update() == 3);
  CHECK(stop.num_updates() == 6);
}

TEST_CASE("EarlyStopping: min mode, min_delta, NaN, patience 0, state") {
  EarlyStopping stop(EarlyStoppingOptions(1).mode(EarlyStopping::Mode::min).min_delta(0.01));
  CHECK(stop.update(1.0));
  CHECK_FALSE(stop.update(0.995));  // better, but by less than min_delta
  CHECK(stop.should_stop());
  CHECK(stop.best() == 1.0);

  const auto min_opts = EarlyStoppingOptions(3).mode(EarlyStopping::Mode::min).min_delta(0.01);
  EarlyStopping s2(min_opts);
  CHECK(s2.update(1.0));
  CHECK(s2.update(0.98));
  CHECK_FALSE(s2.update(std::nan("")));  // NaN never improves
  CHECK(s2.num_bad() == 1);
  const EarlyStopping::State saved = s2.state();
  CHECK_FALSE(s2.update(0.975));
  CHECK_FALSE(s2.update(0.99));
  CHECK(s2.should_stop());
  // Restoring the state continues as the original would have.
  EarlyStopping resumed(min_opts);
  resumed.set_state(saved);
  CHECK_FALSE(resumed.update(0.975));
  CHECK_FALSE(resumed.should_stop());
  CHECK(resumed.update(0.5));
  CHECK(resumed.best() == 0.5);
  resumed.reset();
  CHECK(resumed.num_updates() == 0);

  EarlyStopping eager(0);  // stop at the first update that does not improve
  CHECK_FALSE(eager.should_stop());
  CHECK(eager.update(1));
  CHECK_FALSE(eager.should_stop());
  CHECK_FALSE(eager.update(1));
  CHECK(eager.should_stop());

  EarlyStopping nan_first(1);
  CHECK_FALSE(nan_first.update(std::nan("")));
  CHECK(nan_first.update(0.1));  // the first real value improves

  CHECK_THROWS_AS(EarlyStopping(-1), ember::Error);
  CHECK_THROWS_AS(EarlyStopping(EarlyStoppingOptions(1).min_delta(-0.1)), ember::Error);
  CHECK_THROWS_AS(EarlyStopping(EarlyStoppingOptions(1).min_delta(std::nan(""))), ember::Error);
}
