// ember/train/early_stopping.hpp — `EarlyStopping`: stop training when a validation metric has
// not improved for `patience` evaluations.
//
//   EarlyStopping stopper(EarlyStoppingOptions(/*patience=*/3).mode(EarlyStopping::Mode::max));
//   for (...) {                                      // accuracy: higher is better (max)
//     double acc = evaluate(...);
//     if (stopper.update(acc)) save_checkpoint("best");                 // improved: keep the model
//     if (stopper.should_stop()) break;
//   }
//
// Improvement (the rule of Keras' and PyTorch Lightning's EarlyStopping): in max mode a value
// improves on the best so far when value > best + min_delta; in min mode when value < best −
// min_delta. The first value always improves. A NaN never improves. should_stop() is true once
// `patience` consecutive updates did not improve (patience 0: after the first that did not).
// The state (best, best update index, bad count, update count) can be saved and restored so a
// resumed run stops where the original would have.
//
// Errors: ember::Error for patience < 0 or a negative or NaN min_delta.
#pragma once

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

namespace ember::train {

/// Options of `EarlyStopping` (Keras' and Lightning's arguments):
/// `EarlyStoppingOptions(3).mode(EarlyStoppingOptions::Mode::min).min_delta(0.01)`.
struct EarlyStoppingOptions {
  /// max: higher is better (accuracy); min: lower is better (loss).
  enum class Mode { min, max };
  /* implicit */ EarlyStoppingOptions(int64_t patience) : patience_(patience) {}
  /// Updates in a row without improvement before should_stop() (>= 0).
  EMBER_ARG(int64_t, patience);
  EMBER_ARG(Mode, mode) = Mode::max;
  /// Smallest change that counts as an improvement (>= 0).
  EMBER_ARG(double, min_delta) = 0.0;
};

class EarlyStopping {
 public:
  using Mode = EarlyStoppingOptions::Mode;

  /// Everything that decides the future: save it in a checkpoint, restore with set_state().
  struct State {
    double best = std::numeric_limits<double>::quiet_NaN();  // NaN: no value yet
    int64_t best_update = -1;  // index (0-based) of the update that gave best
    int64_t num_bad = 0;       // consecutive updates without improvement
    int64_t num_updates = 0;
  };

  /// `EarlyStopping(3)` (patience 3, max mode) or `EarlyStopping(EarlyStoppingOptions(3)...)`.
  explicit EarlyStopping(const EarlyStoppingOptions& options)
      : patience_(options.patience()), mode_(options.mode()), min_delta_(options.min_delta()) {
    EMBER_CHECK(patience_ >= 0, "EarlyStopping: patience must be >= 0, found ", patience_);
    EMBER_CHECK(min_delta_ >= 0, "EarlyStopping: min_delta must be >= 0, found ", min_delta_);
  }

  /// Records one evaluation; true when it improved on the best (the caller saves the model).
  bool update(double value) {
    const bool first = state_.best_update < 0;
    bool improved = false;
    if (!std::isnan(value)) {
      improved = first || (mode_ == Mode::max ? value > state_.best + min_delta_
                                              : value < state_.best - min_delta_);
    }
    if (improved) {
      state_.best = value;
      state_.best_update = state_.num_updates;
      state_.num_bad = 0;
    } else {
      ++state_.num_bad;
    }
    ++state_.num_updates;
    return improved;
  }

  /// True once `patience` consecutive updates did not improve.
  bool should_stop() const { return state_.num_bad > 0 && state_.num_bad >= patience_; }

  /// The best value so far (NaN before the first finite update).
  double best() const { return state_.best; }
  int64_t best_update() const { return state_.best_update; }
  int64_t num_bad() const { return state_.num_bad; }
  int64_t num_updates() const { return state_.num_updates; }
  int64_t patience() const { return patience_; }
  Mode mode() const { return mode_; }
  double min_delta() const { return min_delta_; }

  const State& state() const { return state_; }
  void set_state(const State& s) { state_ = s; }
  void reset() { state_ = State{}; }

 private:
  int64_t patience_;
  Mode mode_;
  double min_delta_;
  State state_;
};

}  // namespace ember::train
