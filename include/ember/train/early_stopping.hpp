// ember/train/early_stopping.hpp — `EarlyStopping`: stop training when a validation metric has
// not improved for `patience` evaluations.
//
//   EarlyStopping stopper(/*patience=*/3, EarlyStopping::Mode::max);   // accuracy: higher is
//   better for (...) {
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

#include <ember/core/error.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

namespace ember::train {

class EarlyStopping {
 public:
  enum class Mode { min, max };

  /// Everything that decides the future: save it in a checkpoint, restore with set_state().
  struct State {
    double best = std::numeric_limits<double>::quiet_NaN();  // NaN: no value yet
    int64_t best_update = -1;  // index (0-based) of the update that gave best
    int64_t num_bad = 0;       // consecutive updates without improvement
    int64_t num_updates = 0;
  };

  explicit EarlyStopping(int64_t patience, Mode mode = Mode::max, double min_delta = 0.0)
      : patience_(patience), mode_(mode), min_delta_(min_delta) {
    EMBER_CHECK(patience >= 0, "EarlyStopping: patience must be >= 0, found ", patience);
    EMBER_CHECK(min_delta >= 0, "EarlyStopping: min_delta must be >= 0, found ", min_delta);
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
