// ember/train/metrics.hpp — classification metrics from a confusion matrix: accuracy,
// per-class precision / recall / F1, their macro and micro averages, and a text report; and the
// entity-level scores of named-entity tagging (seqeval's, below ConfusionMatrix).
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
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
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


// =============================================================================================
// Entity-level scores of named-entity tagging (seqeval, conlleval)
// =============================================================================================
//
// What Hugging Face's run_ner reports: seqeval 1.2.2's default mode (mode=None, "compatible with
// conlleval.pl", not strict). Tags are read as seqeval's get_entities reads them:
//   * a tag's first character (Unicode code point) is its prefix and what follows the first '-'
//     after it is its type ("B-PER" → B, PER; "I-creative-work" → I, creative-work; "BPER" → B,
//     PER; "O" and a bare "B" → type "_");
//   * a chunk ENDS before a token when the previous prefix is E or S, when B or I is followed by
//     B, S or O, or when the previous prefix is not O or '.' and the type changes;
//   * a chunk STARTS at a token whose prefix is B or S, at E or I after E, S or O, and at any
//     prefix other than O or '.' whose type differs from the previous one. So an I- after O (or
//     after another type) starts a chunk, as in conlleval; IOBES tags work too.
//   * sentences are scored as seqeval scores a list of lists: concatenated with an "O" after each
//     one, spans being offsets into that concatenation.
// An entity is (type, start, end), end inclusive; a predicted entity is correct when the same
// triple is among the true ones. Per type: precision = correct / predicted, recall = correct /
// support (true entities), f1 = 2·p·r / (p + r), 0 for a zero denominator (seqeval's default
// zero_division="warn" also gives 0, and warns). micro: the same from the counts summed over the
// types (seqeval's precision_score / recall_score / f1_score, HF's overall_precision/recall/f1);
// macro: the unweighted mean over the types; weighted: the mean weighted by support.
// Differences from seqeval, all where seqeval raises or returns NaN: a sentence count or sentence
// length that differs between y_true and y_pred is an ember::Error (seqeval: ValueError), as is
// an empty tag (seqeval: IndexError); no sentences at all scores 0 (seqeval: TypeError); with no
// entity in either, the macro averages are 0 (seqeval: NaN, numpy's mean of nothing) and
// report() prints the averages alone (seqeval's classification_report fails).

/// One entity: its type and the inclusive token span [start, end] (seqeval's tuple
/// (chunk_type, chunk_start, chunk_end)).
struct Entity {
  std::string type;
  int64_t start = 0;
  int64_t end = 0;
  bool operator==(const Entity& o) const {
    return type == o.type && start == o.start && end == o.end;
  }
  bool operator!=(const Entity& o) const { return !(*this == o); }
};

/// The entities in one sequence of tags [seq], as seqeval.metrics.sequence_labeling.get_entities
/// (default, prefix tags) finds them, in the order seqeval lists them (by end). Throws
/// `ember::Error` for an empty tag.
inline std::vector<Entity> get_entities(const std::vector<std::string>& tags);

/// The entities of sentences scored together, as seqeval's get_entities of a list of lists: each
/// sentence followed by an "O", spans are offsets into that concatenation (so sentence s starts
/// at Σ_{k<s} (len_k + 1)). Throws `ember::Error` for an empty tag.
inline std::vector<Entity> get_entities_of_sentences(
    const std::vector<std::vector<std::string>>& sentences);

/// The scores of one entity type.
struct EntityTypeScore {
  std::string type;
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;    ///< true entities of this type
  int64_t predicted = 0;  ///< predicted entities of this type
  int64_t correct = 0;    ///< predicted entities that are true ones (same span and type)
};

/// seqeval's entity-level precision, recall and F1 (see above): per type and averaged.
struct EntityScores {
  /// One row per type found in y_true or y_pred, sorted by type name (bytes; Python's sorted()).
  std::vector<EntityTypeScore> per_type;
  /// micro average: seqeval's precision_score, recall_score and f1_score (average="micro").
  double precision = 0, recall = 0, f1 = 0;
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  double weighted_precision = 0, weighted_recall = 0, weighted_f1 = 0;
  int64_t support = 0;    ///< true entities
  int64_t predicted = 0;  ///< predicted entities
  int64_t correct = 0;    ///< correctly predicted entities
  /// seqeval's classification_report text (StringReporter: per-type rows, then micro, macro and
  /// weighted averages), `digits` decimals (0..17; seqeval's default is 2). Throws
  /// `ember::Error` for digits outside that range.
  std::string report(int digits = 4) const;
};

/// Entity-level scores of predicted tags against true tags: y_true and y_pred hold the same
/// number of sentences, sentence i the same number of tags in both ([sentences][tokens], tags as
/// strings such as "B-PER"). The numbers of seqeval 1.2.2's classification_report /
/// precision_recall_fscore_support in default (conlleval) mode. Throws `ember::Error` when the
/// sentence counts or a sentence's lengths differ (naming the sentence), or for an empty tag.
inline EntityScores entity_scores(const std::vector<std::vector<std::string>>& y_true,
                                  const std::vector<std::vector<std::string>>& y_pred);

// ---- implementation --------------------------------------------------------------------------
namespace detail {

/// seqeval's get_entities as a state machine fed one tag at a time (the final "O" included).
class EntityChunker {
 public:
  explicit EntityChunker(std::vector<Entity>& out) : out_(out) {}

  /// Feeds the tag at global offset i (not empty: the callers check, naming its place).
  void step(std::string_view chunk, int64_t i) {
    // tag = chunk[0] (a code point: its UTF-8 bytes are skipped whole). Only ASCII prefixes are
    // ever compared, so any other one becomes '\0', which equals none of them either.
    const unsigned char b = static_cast<unsigned char>(chunk[0]);
    const std::size_t n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    const char tag = b < 0x80 ? static_cast<char>(b) : '\0';
    // type_ = chunk[1:].split('-', maxsplit=1)[-1] or '_'
    std::string_view type = chunk.substr(std::min(n, chunk.size()));
    const std::size_t dash = type.find('-');
    if (dash != std::string_view::npos) type.remove_prefix(dash + 1);
    if (type.empty()) type = "_";

    const char p = prev_tag_;
    const bool typed_prev = p != 'O' && p != '.';
    const bool end = p == 'E' || p == 'S' ||
                     ((p == 'B' || p == 'I') && (tag == 'B' || tag == 'S' || tag == 'O')) ||
                     (typed_prev && prev_type_ != type);
    const bool start = tag == 'B' || tag == 'S' ||
                       ((p == 'E' || p == 'S' || p == 'O') && (tag == 'E' || tag == 'I')) ||
                       (tag != 'O' && tag != '.' && prev_type_ != type);
    if (end) out_.push_back(Entity{prev_type_, begin_, i - 1});
    if (start) begin_ = i;
    prev_tag_ = tag;
    prev_type_.assign(type.data(), type.size());
  }

 private:
  std::vector<Entity>& out_;
  char prev_tag_ = 'O';
  std::string prev_type_;  // "" at the start, unlike the "_" of an "O"
  int64_t begin_ = 0;
};


}  // namespace detail

inline std::vector<Entity> get_entities(const std::vector<std::string>& tags) {
  std::vector<Entity> out;
  detail::EntityChunker chunker(out);
  int64_t i = 0;
  for (const std::string& t : tags) {
    EMBER_CHECK(!t.empty(), "get_entities: tag ", i, " is an empty string (expected a tag such "
                "as \"O\" or \"B-PER\")");
    chunker.step(t, i++);
  }
  chunker.step("O", i);
  return out;
}

inline std::vector<Entity> get_entities_of_sentences(
    const std::vector<std::vector<std::string>>& sentences) {
  std::vector<Entity> out;
  detail::EntityChunker chunker(out);
  int64_t i = 0;
  for (std::size_t s = 0; s < sentences.size(); ++s) {
    for (std::size_t k = 0; k < sentences[s].size(); ++k) {
      const std::string& t = sentences[s][k];
      EMBER_CHECK(!t.empty(), "get_entities: tag ", k, " of sentence ", s, " is an empty string "
                  "(expected a tag such as \"O\" or \"B-PER\")");
      chunker.step(t, i++);
    }
    chunker.step("O", i++);
  }
  chunker.step("O", i);
  return out;
}

inline EntityScores entity_scores(const std::vector<std::vector<std::string>>& y_true,
                                  const std::vector<std::vector<std::string>>& y_pred) {
  EMBER_CHECK(y_true.size() == y_pred.size(), "entity_scores: expected as many sentences in y_pred "
              "as in y_true, found ", y_pred.size(), " and ", y_true.size());
  for (std::size_t s = 0; s < y_true.size(); ++s)
    EMBER_CHECK(y_true[s].size() == y_pred[s].size(), "entity_scores: sentence ", s,
                " has ", y_true[s].size(), " tags in y_true but ", y_pred[s].size(),
                " in y_pred (expected one predicted tag per true tag)");
  const std::vector<Entity> truth = get_entities_of_sentences(y_true);
  const std::vector<Entity> pred = get_entities_of_sentences(y_pred);

  // Each chunk ends at its own offset, so a type never holds the same span twice: counting the
  // entities gives seqeval's set sizes.
  std::set<std::tuple<std::string, int64_t, int64_t>> true_set;
  std::set<std::string> types;
  for (const Entity& e : truth) {
    true_set.emplace(e.type, e.start, e.end);
    types.insert(e.type);
  }
  for (const Entity& e : pred) types.insert(e.type);

  EntityScores r;
  r.per_type.reserve(types.size());
  for (const std::string& t : types) r.per_type.push_back(EntityTypeScore{t});
  auto row = [&](const std::string& type) -> EntityTypeScore& {
    return *std::lower_bound(
        r.per_type.begin(), r.per_type.end(), type,
        [](const EntityTypeScore& a, const std::string& b) { return a.type < b; });
  };
  for (const Entity& e : truth) ++row(e.type).support;
  for (const Entity& e : pred) {
    EntityTypeScore& s = row(e.type);
    ++s.predicted;
    if (true_set.count({e.type, e.start, e.end})) ++s.correct;
  }

  // seqeval (_precision_recall_fscore_support): p = tp / pred, r = tp / true, 0 on a zero
  // denominator; f = (1 + β²)·p·r / (β²·p + r) with β = 1, the denominator 0 replaced by 1.
  auto f1_of = [](double p, double rc) { return 2.0 * p * rc / (p + rc == 0.0 ? 1.0 : p + rc); };
  double sum_w = 0;
  for (EntityTypeScore& s : r.per_type) {
    s.precision = detail::safe_div(double(s.correct), double(s.predicted));
    s.recall = detail::safe_div(double(s.correct), double(s.support));
    s.f1 = f1_of(s.precision, s.recall);
    r.support += s.support;
    r.predicted += s.predicted;
    r.correct += s.correct;
    r.macro_precision += s.precision;
    r.macro_recall += s.recall;
    r.macro_f1 += s.f1;
    r.weighted_precision += s.precision * double(s.support);
    r.weighted_recall += s.recall * double(s.support);
    r.weighted_f1 += s.f1 * double(s.support);
    sum_w += double(s.support);
  }
  r.precision = detail::safe_div(double(r.correct), double(r.predicted));
  r.recall = detail::safe_div(double(r.correct), double(r.support));
  r.f1 = f1_of(r.precision, r.recall);
  const double n = double(r.per_type.size());
  r.macro_precision = detail::safe_div(r.macro_precision, n);
  r.macro_recall = detail::safe_div(r.macro_recall, n);
  r.macro_f1 = detail::safe_div(r.macro_f1, n);
  r.weighted_precision = detail::safe_div(r.weighted_precision, sum_w);
  r.weighted_recall = detail::safe_div(r.weighted_recall, sum_w);
  r.weighted_f1 = detail::safe_div(r.weighted_f1, sum_w);
  return r;
}

inline std::string EntityScores::report(int digits) const {
  EMBER_CHECK(digits >= 0 && digits <= 17, "EntityScores::report: digits must be in [0, 17], found ",
              digits);
  // Python pads by code points: count the bytes that do not continue a UTF-8 character.
  auto width_of = [](const std::string& s) {
    std::size_t w = 0;
    for (unsigned char c : s) w += (c & 0xC0) != 0x80;
    return w;
  };
  std::size_t width = std::max<std::size_t>(12, std::size_t(digits));  // len("weighted avg")
  for (const EntityTypeScore& s : per_type) width = std::max(width, width_of(s.type));
  auto pad = [&](const std::string& s) {
    const std::size_t w = width_of(s);
    return w >= width ? s : std::string(width - w, ' ') + s;
  };
  auto line = [&](const std::string& name, double p, double r, double f, int64_t n) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %9.*f %9.*f %9.*f %9lld", digits, p, digits, r, digits, f,
                  static_cast<long long>(n));
    return pad(name) + buf;
  };
  // seqeval's StringReporter: '{:>{width}s} ' + ' {:>9.{digits}f}' * 3 + ' {:>9}', the rows
  // joined by "\n" with a blank row after the types and after the averages.
  std::ostringstream os;
  os << std::string(width, ' ') << "  precision    recall  f1-score   support\n\n";
  for (const EntityTypeScore& s : per_type)
    os << line(s.type, s.precision, s.recall, s.f1, s.support) << '\n';
  os << '\n'
     << line("micro avg", precision, recall, f1, support) << '\n'
     << line("macro avg", macro_precision, macro_recall, macro_f1, support) << '\n'
     << line("weighted avg", weighted_precision, weighted_recall, weighted_f1, support) << '\n';
  return os.str();
}

}  // namespace ember::train
