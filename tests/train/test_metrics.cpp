// Tests of ember::train::ConfusionMatrix against scikit-learn's definitions.
//
// References: the examples in scikit-learn's own docstrings (sklearn.metrics.f1_score,
// precision_score, recall_score, confusion_matrix, classification_report, 1.x), whose printed
// values are quoted below, and one binary case worked by hand:
//   y_true = [0,1,1,0,1,1,0,0,1,1], y_pred = [0,1,0,0,1,1,1,0,1,0]
//   class 1: tp 4, fp 1, fn 2 → P 4/5, R 4/6, F1 8/11;  class 0: tp 3, fp 2, fn 1 → P 3/5,
//   R 3/4, F1 6/9;  accuracy 7/10;  macro F1 (8/11 + 2/3) / 2 = 46/66;
//   weighted F1 (4·2/3 + 6·8/11) / 10.
#include <ember/train/metrics.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/test_util.hpp"
using ember::test::contains;

namespace {

using ember::from_vector;
using ember::Tensor;
using ember::train::ConfusionMatrix;

ConfusionMatrix make(int64_t classes, const std::vector<int64_t>& y_true,
                     const std::vector<int64_t>& y_pred) {
  ConfusionMatrix cm(classes);
  cm.update(from_vector<int64_t>(y_pred), from_vector<int64_t>(y_true));
  return cm;
}


}  // namespace

TEST_CASE("ConfusionMatrix: binary case by hand") {
  ConfusionMatrix cm = make(2, {0, 1, 1, 0, 1, 1, 0, 0, 1, 1}, {0, 1, 0, 0, 1, 1, 1, 0, 1, 0});
  CHECK(cm.total() == 10);
  CHECK(cm.count(0, 0) == 3);
  CHECK(cm.count(0, 1) == 1);
  CHECK(cm.count(1, 0) == 2);
  CHECK(cm.count(1, 1) == 4);
  CHECK(cm.support(1) == 6);
  CHECK(cm.predicted(1) == 5);
  CHECK(cm.accuracy() == doctest::Approx(0.7));
  CHECK(cm.precision(1) == doctest::Approx(0.8));
  CHECK(cm.recall(1) == doctest::Approx(4.0 / 6));
  CHECK(cm.f1(1) == doctest::Approx(8.0 / 11));  // sklearn f1_score's default average="binary"
  CHECK(cm.precision(0) == doctest::Approx(0.6));
  CHECK(cm.recall(0) == doctest::Approx(0.75));
  CHECK(cm.f1(0) == doctest::Approx(6.0 / 9));
  CHECK(cm.macro_precision() == doctest::Approx(0.7));
  CHECK(cm.macro_recall() == doctest::Approx((0.75 + 4.0 / 6) / 2));
  CHECK(cm.macro_f1() == doctest::Approx(46.0 / 66));
  CHECK(cm.micro_f1() == doctest::Approx(0.7));
  CHECK(cm.weighted_f1() == doctest::Approx((4 * 2.0 / 3 + 6 * 8.0 / 11) / 10));

  // Two halves added (a distributed evaluation's sum) give the same matrix.
  ConfusionMatrix a = make(2, {0, 1, 1, 0, 1}, {0, 1, 0, 0, 1});
  ConfusionMatrix b = make(2, {1, 0, 0, 1, 1}, {1, 1, 0, 1, 0});
  a.add_counts(b.counts());
  CHECK(a.counts() == cm.counts());
  CHECK_THROWS_AS(a.add_counts({1, 2, 3}), ember::Error);
  CHECK_THROWS_AS(a.add_counts({1, -1, 0, 0}), ember::Error);
}

TEST_CASE("ConfusionMatrix: scikit-learn docstring examples") {
  // f1_score / precision_score / recall_score docstrings:
  //   y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1]
  //   f1: macro 0.26..., micro 0.33..., weighted 0.26..., None [0.8, 0., 0.]
  //   precision: macro 0.22..., micro 0.33..., None [0.66..., 0., 0.]
  //   recall: macro 0.33..., micro 0.33..., None [1., 0., 0.]
  ConfusionMatrix cm = make(3, {0, 1, 2, 0, 1, 2}, {0, 2, 1, 0, 0, 1});
  CHECK(cm.macro_f1() == doctest::Approx(0.8 / 3));
  CHECK(cm.micro_f1() == doctest::Approx(1.0 / 3));
  CHECK(cm.weighted_f1() == doctest::Approx(0.8 / 3));
  CHECK(cm.f1(0) == doctest::Approx(0.8));
  CHECK(cm.f1(1) == 0.0);
  CHECK(cm.f1(2) == 0.0);
  CHECK(cm.macro_precision() == doctest::Approx(2.0 / 9));
  CHECK(cm.micro_precision() == doctest::Approx(1.0 / 3));
  CHECK(cm.precision(0) == doctest::Approx(2.0 / 3));
  CHECK(cm.macro_recall() == doctest::Approx(1.0 / 3));
  CHECK(cm.micro_recall() == doctest::Approx(1.0 / 3));
  CHECK(cm.recall(0) == 1.0);

  // confusion_matrix docstring: y_true = [2, 0, 2, 2, 0, 1], y_pred = [0, 0, 2, 2, 0, 2]
  //   → [[2, 0, 0], [0, 0, 1], [1, 0, 2]]
  ConfusionMatrix m = make(3, {2, 0, 2, 2, 0, 1}, {0, 0, 2, 2, 0, 2});
  const std::vector<std::vector<int64_t>> expected = {{2, 0, 0}, {0, 0, 1}, {1, 0, 2}};
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t p = 0; p < 3; ++p) CHECK(m.count(t, p) == expected[t][p]);
}

TEST_CASE("ConfusionMatrix: zero division gives 0, absent classes leave the macro average") {
  // precision_score docstring, zero_division: y_pred all 0 → precision [0.33..., 0., 0.]
  ConfusionMatrix cm = make(3, {0, 1, 2, 0, 1, 2}, {0, 0, 0, 0, 0, 0});
  CHECK(cm.precision(0) == doctest::Approx(1.0 / 3));
  CHECK(cm.precision(1) == 0.0);  // nothing predicted as 1: 0/0 → 0
  CHECK(cm.precision(2) == 0.0);
  CHECK(cm.recall(0) == 1.0);
  CHECK(cm.f1(0) == doctest::Approx(0.5));
  CHECK(cm.macro_f1() == doctest::Approx(0.5 / 3));

  // A 4th class never seen as label nor prediction is left out (sklearn's labels=None).
  ConfusionMatrix four = make(4, {0, 1, 2, 0, 1, 2}, {0, 2, 1, 0, 0, 1});
  CHECK(four.macro_f1() == doctest::Approx(0.8 / 3));
  CHECK(four.macro_precision() == doctest::Approx(2.0 / 9));
  CHECK(four.f1(3) == 0.0);

  ConfusionMatrix empty(2);
  CHECK(empty.accuracy() == 0.0);
  CHECK(empty.macro_f1() == 0.0);
  CHECK(empty.weighted_f1() == 0.0);
}

TEST_CASE("ConfusionMatrix: classification report") {
  // classification_report docstring: y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1]
  //                precision    recall  f1-score   support
  //       class 0       0.50      1.00      0.67         1
  //       class 1       0.00      0.00      0.00         1
  //       class 2       1.00      0.67      0.80         3
  //      accuracy                           0.60         5
  //     macro avg       0.50      0.56      0.49         5
  //  weighted avg       0.70      0.60      0.61         5
  ConfusionMatrix cm = make(3, {0, 1, 2, 2, 2}, {0, 0, 2, 2, 1});
  CHECK(cm.macro_recall() == doctest::Approx(5.0 / 9));
  CHECK(cm.macro_f1() == doctest::Approx((2.0 / 3 + 0.8) / 3));
  CHECK(cm.weighted_f1() == doctest::Approx((2.0 / 3 + 3 * 0.8) / 5));
  const std::string r = cm.report({"class 0", "class 1", "class 2"});
  CHECK(contains(r, "   precision     recall   f1-score    support\n"));
  CHECK(contains(r, "     class 0     0.5000     1.0000     0.6667          1\n"));
  CHECK(contains(r, "     class 1     0.0000     0.0000     0.0000          1\n"));
  CHECK(contains(r, "     class 2     1.0000     0.6667     0.8000          3\n"));
  CHECK(contains(r, "    accuracy                           0.6000          5\n"));
  CHECK(contains(r, "   macro avg     0.5000     0.5556     0.4889          5\n"));
  CHECK(contains(r, "weighted avg     0.7000     0.6000     0.6133          5\n"));
  CHECK(contains(r,
                 "confusion matrix (rows: true label, columns: predicted)\n"
                 "             class 0 class 1 class 2\n"
                 "     class 0       1       0       0\n"
                 "     class 1       1       0       0\n"
                 "     class 2       0       1       2\n"));
  CHECK(contains(cm.report(), "           0     0.5000"));  // no names: the ids
  CHECK_THROWS_WITH_AS(cm.report({"a", "b"}),
                       "ConfusionMatrix::report: id2label has 2 names for 3 classes", ember::Error);
}

TEST_CASE("ConfusionMatrix: logits, accumulation, reset, errors") {
  ConfusionMatrix cm(3);
  // Rows: argmax 2; a tie between 0 and 1 → the first (0); argmax 1.
  Tensor<float> logits =
      from_vector<float>({0.1f, 0.2f, 3.0f, 1.0f, 1.0f, -1.0f, -2.0f, 5.0f, 4.0f}, {3, 3});
  cm.update_logits(logits, from_vector<int64_t>({2, 1, 1}));
  CHECK(cm.count(2, 2) == 1);
  CHECK(cm.count(1, 0) == 1);
  CHECK(cm.count(1, 1) == 1);
  cm.update_logits(logits.to<double>(), from_vector<int64_t>({2, 1, 1}));  // accumulates
  CHECK(cm.total() == 6);
  CHECK(cm.accuracy() == doctest::Approx(4.0 / 6));
  // A transposed (non-contiguous) view works the same.
  ConfusionMatrix tr(3);
  tr.update_logits(logits.t().contiguous().t(), from_vector<int64_t>({2, 1, 1}));
  CHECK(tr.count(2, 2) == 1);
  cm.update(2, 0);
  CHECK(cm.count(0, 2) == 1);  // update(pred, label): row = label
  cm.reset();
  CHECK(cm.total() == 0);

  CHECK_THROWS_WITH_AS(cm.update(3, 0),
                       "ConfusionMatrix: prediction 3 is out of range for 3 classes", ember::Error);
  CHECK_THROWS_WITH_AS(cm.update(0, -1), "ConfusionMatrix: label -1 is out of range for 3 classes",
                       ember::Error);
  CHECK_THROWS_AS(cm.update(from_vector<int64_t>({0, 1}), from_vector<int64_t>({0})), ember::Error);
  CHECK_THROWS_WITH_AS(
      cm.update_logits(from_vector<float>({0.f, 1.f}, {1, 2}), from_vector<int64_t>({0})),
      "ConfusionMatrix::update_logits: expected logits [batch, 3], found shape [1, 2]",
      ember::Error);
  CHECK_THROWS_AS(cm.update_logits(logits, from_vector<int64_t>({0, 1})), ember::Error);
  CHECK_THROWS_AS(ConfusionMatrix(0), ember::Error);
}
