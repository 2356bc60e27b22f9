// ember/train/metrics.hpp — classification metrics from a confusion matrix: accuracy,
// per-class precision / recall / F1, their macro and micro averages, and a text report.
//
// Definitions (scikit-learn's, sklearn.metrics.precision_recall_fscore_support): with C[t][p] the
// number of examples of true class t predicted as p, for class c
//   tp = C[c][c],  fp = Σ_t≠c C[t][c] (column),  fn = Σ_p≠c C[c][p] (row),  support = tp + fn
//   precision(c) = tp / (tp + fp)      recall(c) = tp / (tp + fn)
//   f1(c)        = 2·precision·recall / (precision + recall) = 2·tp / (2·tp + fp + fn)
// A zero denominator gives 0 — scikit-learn's default zero_division="warn" also returns 0 (and
// warns; we do not). f1(1) of a binary task is scikit-learn's default average="binary" (the F1
// GLUE reports for MRPC and QQP).
// Averages:
//   macro_*  the unweighted mean over the classes that occur as a label or as a prediction
//            (scikit-learn's labels=None); a class seen in neither is left out, not counted as 0.
//   micro_*  from the summed counts: Σtp / Σ(tp+fp) and Σtp / Σ(tp+fn); for single-label
//            classification all three equal accuracy.
//   weighted_f1  the mean of f1(c) weighted by support (classification_report's "weighted avg").
//
// Errors: ember::Error for num_classes < 1, a class id outside [0, num_classes), tensors whose
// sizes differ, and an id2label of the wrong size.
#pragma once

#include <ember/core/error.hpp>
#include <ember/tensor/tensor.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace ember::train {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t num_classes);

  /// Counts one example of true class `label` predicted as `pred`.
  void update(int64_t pred, int64_t label);
  /// Counts each (preds[i], labels[i]); any shape, same number of elements ([batch] usually).
  void update(const Tensor<int64_t>& preds, const Tensor<int64_t>& labels);
  /// Predictions = argmax over the last dim of logits [batch, num_classes] (first maximum on a
  /// tie, as torch.argmax), labels [batch].
  template <class T>
  void update_logits(const Tensor<T>& logits, const Tensor<int64_t>& labels);
  void reset() { std::fill(counts_.begin(), counts_.end(), 0); }
  /// The counts, row-major [label][pred] (num_classes² values).
  const std::vector<int64_t>& counts() const { return counts_; }
  /// Adds counts laid out as `counts()` — another matrix's, or their sum over the ranks of a
  /// distributed evaluation. Throws `ember::Error` for a wrong size or a negative count.
  void add_counts(const std::vector<int64_t>& counts) {
    EMBER_CHECK(counts.size() == counts_.size(), "ConfusionMatrix::add_counts: expected ",
                counts_.size(), " counts (", num_classes_, " x ", num_classes_, "), found ",
                counts.size());
    for (std::size_t i = 0; i < counts.size(); ++i) {
      EMBER_CHECK(counts[i] >= 0, "ConfusionMatrix::add_counts: count ", i, " is negative (",
                  counts[i], ")");
      counts_[i] += counts[i];
    }
  }

  int64_t num_classes() const { return num_classes_; }
  /// Examples of true class `label` predicted as `pred`.
  int64_t count(int64_t label, int64_t pred) const {
    check_class_(label, "label");
    check_class_(pred, "prediction");
    return counts_[label * num_classes_ + pred];
  }
  /// Examples counted so far.
  int64_t total() const;
  /// Examples whose true class is c (row sum).
  int64_t support(int64_t c) const;
  /// Examples predicted as c (column sum).
  int64_t predicted(int64_t c) const;

  double accuracy() const;
  double precision(int64_t c) const;
  double recall(int64_t c) const;
  double f1(int64_t c) const;
  double macro_precision() const;
  double macro_recall() const;
  double macro_f1() const;
  double micro_precision() const;
  double micro_recall() const;
  double micro_f1() const;
  double weighted_f1() const;

  /// scikit-learn's classification_report layout (4 decimals) followed by the confusion matrix
  /// (rows: true class, columns: predicted). id2label names the classes (empty: their ids).
  std::string report(const std::vector<std::string>& id2label = {}) const;

 private:
  void check_class_(int64_t c, const char* what) const;
  bool present_(int64_t c) const { return support(c) + predicted(c) > 0; }
  template <class F>
  double macro_(F metric) const;

  int64_t num_classes_;
  std::vector<int64_t> counts_;  // [label, pred], row-major
};

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------
namespace detail {
inline double safe_div(double num, double den) { return den > 0 ? num / den : 0.0; }
}  // namespace detail

inline ConfusionMatrix::ConfusionMatrix(int64_t num_classes) : num_classes_(num_classes) {
  EMBER_CHECK(num_classes >= 1, "ConfusionMatrix: num_classes must be >= 1, found ", num_classes);
  counts_.assign(static_cast<std::size_t>(num_classes * num_classes), 0);
}

inline void ConfusionMatrix::check_class_(int64_t c, const char* what) const {
  EMBER_CHECK(c >= 0 && c < num_classes_, "ConfusionMatrix: ", what, " ", c,
              " is out of range for ", num_classes_, " classes");
}

inline void ConfusionMatrix::update(int64_t pred, int64_t label) {
  check_class_(pred, "prediction");
  check_class_(label, "label");
  ++counts_[label * num_classes_ + pred];
}

inline void ConfusionMatrix::update(const Tensor<int64_t>& preds, const Tensor<int64_t>& labels) {
  EMBER_CHECK(preds.numel() == labels.numel(), "ConfusionMatrix::update: preds of shape ",
              preds.shape(), " and labels of shape ", labels.shape(),
              " have different numbers of elements");
  const std::vector<int64_t> p = preds.to_vector(), l = labels.to_vector();
  for (std::size_t i = 0; i < p.size(); ++i) update(p[i], l[i]);
}

template <class T>
inline void ConfusionMatrix::update_logits(const Tensor<T>& logits, const Tensor<int64_t>& labels) {
  EMBER_CHECK(logits.dim() == 2 && logits.size(1) == num_classes_,
              "ConfusionMatrix::update_logits: expected logits [batch, ", num_classes_,
              "], found shape ", logits.shape());
  EMBER_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0),
              "ConfusionMatrix::update_logits: expected labels [", logits.size(0),
              "] for logits of shape ", logits.shape(), ", found shape ", labels.shape());
  const std::vector<T> z = logits.to_vector();
  const std::vector<int64_t> l = labels.to_vector();
  for (std::size_t b = 0; b < l.size(); ++b) {
    const T* row = z.data() + b * static_cast<std::size_t>(num_classes_);
    int64_t best = 0;
    for (int64_t c = 1; c < num_classes_; ++c)
      if (static_cast<float>(row[c]) > static_cast<float>(row[best])) best = c;
    update(best, l[b]);
  }
}

inline int64_t ConfusionMatrix::total() const {
  int64_t s = 0;
  for (int64_t v : counts_) s += v;
  return s;
}
inline int64_t ConfusionMatrix::support(int64_t c) const {
  check_class_(c, "class");
  int64_t s = 0;
  for (int64_t p = 0; p < num_classes_; ++p) s += count(c, p);
  return s;
}
inline int64_t ConfusionMatrix::predicted(int64_t c) const {
  check_class_(c, "class");
  int64_t s = 0;
  for (int64_t t = 0; t < num_classes_; ++t) s += count(t, c);
  return s;
}

inline double ConfusionMatrix::accuracy() const {
  int64_t correct = 0;
  for (int64_t c = 0; c < num_classes_; ++c) correct += count(c, c);
  return detail::safe_div(double(correct), double(total()));
}
inline double ConfusionMatrix::precision(int64_t c) const {
  return detail::safe_div(double(count(c, c)), double(predicted(c)));
}
inline double ConfusionMatrix::recall(int64_t c) const {
  return detail::safe_div(double(count(c, c)), double(support(c)));
}
inline double ConfusionMatrix::f1(int64_t c) const {
  // 2tp / (2tp + fp + fn) = 2tp / (predicted + support); equal to 2PR/(P+R), 0 when tp = 0.
  return detail::safe_div(2.0 * double(count(c, c)), double(predicted(c) + support(c)));
}

template <class F>
inline double ConfusionMatrix::macro_(F metric) const {
  double sum = 0;
  int64_t n = 0;
  for (int64_t c = 0; c < num_classes_; ++c) {
    if (!present_(c)) continue;
    sum += metric(c);
    ++n;
  }
  return detail::safe_div(sum, double(n));
}
inline double ConfusionMatrix::macro_precision() const {
  return macro_([&](int64_t c) { return precision(c); });
}
inline double ConfusionMatrix::macro_recall() const {
  return macro_([&](int64_t c) { return recall(c); });
}
inline double ConfusionMatrix::macro_f1() const {
  return macro_([&](int64_t c) { return f1(c); });
}
inline double ConfusionMatrix::micro_precision() const {
  // Σtp / Σ(tp + fp): every counted example is predicted as exactly one class.
  return accuracy();
}
inline double ConfusionMatrix::micro_recall() const { return accuracy(); }
inline double ConfusionMatrix::micro_f1() const {
  const double p = micro_precision(), r = micro_recall();
  return detail::safe_div(2 * p * r, p + r);
}
inline double ConfusionMatrix::weighted_f1() const {
  double sum = 0;
  for (int64_t c = 0; c < num_classes_; ++c) sum += f1(c) * double(support(c));
  return detail::safe_div(sum, double(total()));
}

inline std::string ConfusionMatrix::report(const std::vector<std::string>& id2label) const {
  EMBER_CHECK(id2label.empty() || static_cast<int64_t>(id2label.size()) == num_classes_,
              "ConfusionMatrix::report: id2label has ", id2label.size(), " names for ",
              num_classes_, " classes");
  std::vector<std::string> names(static_cast<std::size_t>(num_classes_));
  std::size_t width = 12;  // "weighted avg"
  for (int64_t c = 0; c < num_classes_; ++c) {
    names[c] = id2label.empty() ? std::to_string(c) : id2label[c];
    width = std::max(width, names[c].size());
  }
  auto fmt = [](const char* f, auto... v) {
    char buf[128];
    std::snprintf(buf, sizeof buf, f, v...);
    return std::string(buf);
  };
  auto pad_left = [](const std::string& s, std::size_t w) {
    return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
  };
  std::ostringstream os;
  os << std::string(width, ' ')
     << fmt(" %10s %10s %10s %10s\n\n", "precision", "recall", "f1-score", "support");
  for (int64_t c = 0; c < num_classes_; ++c)
    os << pad_left(names[c], width)
       << fmt(" %10.4f %10.4f %10.4f %10lld\n", precision(c), recall(c), f1(c),
              static_cast<long long>(support(c)));
  const long long n = static_cast<long long>(total());
  os << "\n"
     << pad_left("accuracy", width) << fmt(" %10s %10s %10.4f %10lld\n", "", "", accuracy(), n)
     << pad_left("macro avg", width)
     << fmt(" %10.4f %10.4f %10.4f %10lld\n", macro_precision(), macro_recall(), macro_f1(), n);
  double wp = 0, wr = 0;
  for (int64_t c = 0; c < num_classes_; ++c) {
    wp += precision(c) * double(support(c));
    wr += recall(c) * double(support(c));
  }
  os << pad_left("weighted avg", width)
     << fmt(" %10.4f %10.4f %10.4f %10lld\n", detail::safe_div(wp, double(n)),
            detail::safe_div(wr, double(n)), weighted_f1(), n);

  // Confusion matrix: each column as wide as its name or its largest count.
  os << "\nconfusion matrix (rows: true label, columns: predicted)\n";
  std::vector<std::size_t> col(static_cast<std::size_t>(num_classes_));
  for (int64_t p = 0; p < num_classes_; ++p) {
    col[p] = names[p].size();
    for (int64_t t = 0; t < num_classes_; ++t)
      col[p] = std::max(col[p], std::to_string(count(t, p)).size());
  }
  os << std::string(width, ' ');
  for (int64_t p = 0; p < num_classes_; ++p) os << ' ' << pad_left(names[p], col[p]);
  os << '\n';
  for (int64_t t = 0; t < num_classes_; ++t) {
    os << pad_left(names[t], width);
    for (int64_t p = 0; p < num_classes_; ++p)
      os << ' ' << pad_left(std::to_string(count(t, p)), col[p]);
    os << '\n';
  }
  return os.str();
}

}  // namespace ember::train
