// ember/models/bert/distill.hpp — a smaller student for knowledge distillation: a
// `BertForSequenceClassification` with fewer layers, initialized from the teacher's embeddings,
// every other encoder layer, pooler and classifier — DistilBERT's initialization (Sanh et al.,
// "DistilBERT, a distilled version of BERT", 2019, §3: "taking one layer out of two"). The loss
// that trains it is `ember::distillation_loss` (ops/loss.hpp); the training loop is
// `bert_classification distill` (examples/bert_classification).
#pragma once

#include <ember/models/bert/bert.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ember::models::bert {

/// Which teacher layer each of `student_layers` student layers starts from: layer
/// ⌊i · L / student_layers⌋ of the teacher's L (6 → 3: 0, 2, 4; 12 → 6: 0, 2, …, 10; 6 → 2: 0, 3).
/// Throws `ember::Error` unless 1 ≤ student_layers ≤ L.
inline std::vector<int64_t> student_layer_map(int64_t teacher_layers, int64_t student_layers) {
  EMBER_CHECK(student_layers >= 1 && student_layers <= teacher_layers,
              "student_layer_map: the student needs between 1 and ", teacher_layers,
              " layers (the teacher's), found ", student_layers);
  std::vector<int64_t> map;
  for (int64_t i = 0; i < student_layers; ++i) map.push_back(i * teacher_layers / student_layers);
  return map;
}

/// A copy of `teacher` with `student_layers` encoder layers, layer i copied from teacher layer
/// `student_layer_map(L, student_layers)[i]` (with that layer's pruned heads), everything else
/// (embeddings, pooler, classifier, labels, config) copied as is. On the teacher's device; the
/// teacher is not changed. Throws `ember::Error` for a layer count outside [1, L].
template <class T>
std::shared_ptr<BertForSequenceClassification<T>> student_from_teacher(
    const BertForSequenceClassification<T>& teacher, int64_t student_layers) {
  const BertConfig& tc = teacher.config();
  const std::vector<int64_t> from = student_layer_map(tc.num_hidden_layers, student_layers);
  BertConfig sc = tc;
  sc.num_hidden_layers = student_layers;
  sc.pruned_heads.clear();
  for (int64_t i = 0; i < student_layers; ++i) {
    auto it = tc.pruned_heads.find(from[std::size_t(i)]);
    if (it != tc.pruned_heads.end()) sc.pruned_heads[i] = it->second;
  }
  // The student's fresh initialization is overwritten below. It draws from the default
  // generator, whose state is put back, so the caller's random stream is unchanged. (A local
  // Generator must not be passed: the model keeps the pointer for its dropout masks, and it
  // would dangle once this function returns — a crash in the student's first forward.)
  Generator& dg = default_generator();
  const uint64_t seed = dg.seed(), offset = dg.offset();
  auto student = std::make_shared<BertForSequenceClassification<T>>(sc);
  dg.set_state(seed, offset);
  student->to(teacher.classifier->weight.device());
  // Student key → teacher key: "<prefix>.encoder.layer.<i>." becomes "…layer.<from[i]>."
  // (prefix "bert", "roberta", ...: any family).
  const std::string layer_prefix = tc.base_model_prefix() + ".encoder.layer.";
  nn::StateDict<T> theirs = teacher.state_dict();
  std::map<std::string, Tensor<T>> by_name(theirs.begin(), theirs.end());
  NoGradGuard no_grad;
  for (auto& [name, tensor] : student->state_dict()) {
    std::string key = name;
    if (key.rfind(layer_prefix, 0) == 0) {
      const std::size_t dot = key.find('.', layer_prefix.size());
      const int64_t i = std::stoll(key.substr(layer_prefix.size(), dot - layer_prefix.size()));
      key = layer_prefix + std::to_string(from[std::size_t(i)]) + key.substr(dot);
    }
    auto it = by_name.find(key);
    EMBER_CHECK(it != by_name.end() && it->second.shape() == tensor.shape(),
                "student_from_teacher: the teacher has no tensor ", key, " of shape ",
                tensor.shape(), " for the student's ", name);
    tensor.copy_(it->second);
  }
  return student;
}

}  // namespace ember::models::bert
