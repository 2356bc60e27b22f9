// Tests of the serving library (include/ember/serve/): the dynamic batcher's policy and failure
// modes, batch-independent results on real (tiny) BERT checkpoints, the request protocol's
// statuses, and the metrics text. The HTTP server itself is tested by tests/serve/test_server.py.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <initializer_list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <ember/ember.hpp>
#include <ember/serve/batcher.hpp>
#include <ember/serve/inference.hpp>
#include <ember/serve/metrics.hpp>
#include <ember/serve/protocol.hpp>

using namespace ember;
using namespace ember::serve;

namespace serve_test {

struct FakeJob {
  int64_t id = 0;
  int64_t length = 1;
  int64_t tokens() const { return length; }
};

std::string data_dir(const char* name) { return std::string(EMBER_TEST_DATA_DIR) + "/" + name; }

/// One job per (text, task), texts outer, encoded with truncation.
std::vector<Job> make_jobs(const InferenceModel& model, const std::vector<std::string>& texts,
                           std::initializer_list<Task> tasks) {
  std::vector<Job> jobs;
  for (const auto& t : texts)
    for (Task task : tasks) {
      Job j;
      j.task = task;
      j.encoding = model.encode(t, nullptr, true);
      jobs.push_back(j);
    }
  return jobs;
}

std::vector<const Job*> pointers(const std::vector<Job>& jobs) {
  std::vector<const Job*> out;
  for (const Job& j : jobs) out.push_back(&j);
  return out;
}

}  // namespace serve_test

using serve_test::FakeJob;

TEST_CASE("DynamicBatcher: concurrent requests get their own results; batches keep the limits") {
  std::mutex mu;
  std::vector<std::vector<int64_t>> seen;  // lengths of each chunk, in run order
  auto options = BatchingOptions().max_batch_size(8).max_batch_tokens(64).max_wait_us(2000);
  DynamicBatcher<FakeJob, int64_t> batcher(options, [&](const std::vector<const FakeJob*>& jobs) {
    std::vector<int64_t> out, lengths;
    for (const FakeJob* j : jobs) {
      out.push_back(j->id * 10);
      lengths.push_back(j->length);
    }
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(lengths);
    return out;
  });
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int r = 0; r < 20; ++r) {
        std::vector<FakeJob> jobs;
        for (int k = 0; k <= r % 3; ++k) {
          const int64_t id = c * 1000 + r * 10 + k;
          jobs.push_back(FakeJob{id, 1 + (id * 7) % 16});
        }
        Reply<int64_t> reply = batcher.submit(jobs);
        if (reply.status != Status::ok || reply.results.size() != jobs.size()) {
          ++wrong;
          continue;
        }
        for (std::size_t k = 0; k < jobs.size(); ++k)
          if (reply.results[k] != jobs[k].id * 10) ++wrong;
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(wrong == 0);
  std::size_t rows = 0, multi = 0;
  for (const auto& chunk : seen) {
    rows += chunk.size();
    multi += chunk.size() > 1;
    CHECK(int64_t(chunk.size()) <= 8);
    CHECK(*std::max_element(chunk.begin(), chunk.end()) * int64_t(chunk.size()) <= 64);
    CHECK(std::is_sorted(chunk.begin(), chunk.end()));  // sorted by length inside a batch
  }
  CHECK(rows == 8 * 39);  // r % 3 + 1 jobs for r = 0..19: 7 x 1 + 7 x 2 + 6 x 3 = 39
  CHECK(multi > 0);  // eight concurrent clients did share batches
  CHECK(batcher.active_requests() == 0);
}

TEST_CASE("DynamicBatcher: a full queue refuses a whole request; a long wait times out") {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> runs{0};
  auto options = BatchingOptions().max_batch_size(1).max_queue_size(2).max_wait_us(0).queue_timeout_ms(50);
  DynamicBatcher<FakeJob, int> batcher(options, [&](const std::vector<const FakeJob*>& jobs) {
    if (runs++ == 0) gate.wait();  // the first batch blocks the worker
    return std::vector<int>(jobs.size(), 1);
  });
  auto first = std::async(std::launch::async, [&] { return batcher.submit({FakeJob{1, 4}}); });
  while (runs == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // The worker is busy: two rows fit the queue, a third request of two rows does not.
  auto second = std::async(std::launch::async, [&] { return batcher.submit({FakeJob{2, 4}, FakeJob{3, 4}}); });
  while (batcher.queue_size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const Reply<int> refused = batcher.submit({FakeJob{4, 4}});
  CHECK(refused.status == Status::overloaded);
  CHECK(refused.results.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(80));  // past queue_timeout_ms
  release.set_value();
  CHECK(first.get().status == Status::ok);
  const Reply<int> late = second.get();
  CHECK(late.status == Status::timeout);
  CHECK(late.queue_seconds == 0);  // its rows never started
  // The worker goes on serving.
  const Reply<int> after = batcher.submit({FakeJob{5, 4}});
  CHECK(after.status == Status::ok);
  REQUIRE(after.results.size() == 1);
}

TEST_CASE("DynamicBatcher: a failing run fails its requests only; shutdown answers what it accepted") {
  auto options = BatchingOptions().max_batch_size(4).max_wait_us(0);
  DynamicBatcher<FakeJob, int> batcher(options, [&](const std::vector<const FakeJob*>& jobs) {
    for (const FakeJob* j : jobs)
      EMBER_CHECK(j->id != 13, "job 13 is unlucky");
    return std::vector<int>(jobs.size(), 7);
  });
  const Reply<int> bad = batcher.submit({FakeJob{13, 2}});
  CHECK(bad.status == Status::failed);
  CHECK(bad.error.find("job 13 is unlucky") != std::string::npos);
  CHECK(batcher.submit({FakeJob{1, 2}}).status == Status::ok);
  CHECK_THROWS_WITH_AS(batcher.submit({FakeJob{2, 1 << 20}}), doctest::Contains("max_batch_tokens"),
                       ember::Error);

  std::vector<std::future<Reply<int>>> replies;
  for (int i = 0; i < 32; ++i)
    replies.push_back(std::async(std::launch::async, [&, i] { return batcher.submit({FakeJob{100 + i, 3}}); }));
  batcher.shutdown();
  int ok = 0, refused = 0;
  for (auto& r : replies) {
    const Reply<int> reply = r.get();  // never hangs: accepted rows ran, the rest were refused
    if (reply.status == Status::ok) {
      ++ok;
      CHECK(reply.results == std::vector<int>{7});
    } else {
      CHECK(reply.status == Status::shutting_down);
      ++refused;
    }
  }
  CHECK(ok + refused == 32);
  CHECK(batcher.submit({FakeJob{1, 2}}).status == Status::shutting_down);
  CHECK_THROWS_AS(BatchingOptions().max_batch_size(0).validate(), ember::Error);
}

TEST_CASE("InferenceModel: a text's scores and embedding do not depend on its batch (bert_tiny)") {
  InferenceModel model(serve_test::data_dir("bert_tiny"));
  CHECK(model.architecture() == "BertForSequenceClassification");
  CHECK(model.supports(Task::predict));
  CHECK(model.supports(Task::embed));
  CHECK_FALSE(model.supports(Task::fill_mask));
  const std::vector<std::string> texts = {
      "a gorgeous , witty , seductive movie .", "bad", "the film is strictly routine .",
      "it 's a charming and often affecting journey that never lets up and never gets old , "
      "even when its plot wanders off",
      "unflinchingly bleak and desperate"};
  for (Task task : {Task::predict, Task::embed}) {
    const std::vector<Job> jobs = serve_test::make_jobs(model, texts, {task});
    const std::vector<JobResult> together = model.run(serve_test::pointers(jobs));
    REQUIRE(together.size() == texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::vector<JobResult> alone = model.run({&jobs[i]});
      REQUIRE(alone[0].values.size() == together[i].values.size());
      for (std::size_t k = 0; k < alone[0].values.size(); ++k)
        CHECK(std::abs(alone[0].values[k] - together[i].values[k]) <= 1e-5);
    }
    if (task == Task::predict) {
      // The same logits as the model's own forward pass on one unpadded row.
      auto classifier = models::bert::bert_classifier_from_pretrained<float>(serve_test::data_dir("bert_tiny"));
      classifier->eval();
      NoGradGuard no_grad;
      const auto& e = jobs[3].encoding;
      const int64_t n = int64_t(e.size());
      const std::vector<float> ref =
          classifier->forward(from_vector(e.input_ids, {1, n}), from_vector(e.attention_mask, {1, n}),
                              from_vector(e.token_type_ids, {1, n}))
              .logits.to_vector();
      for (std::size_t k = 0; k < ref.size(); ++k) CHECK(std::abs(ref[k] - together[3].values[k]) <= 1e-5);
    } else {
      double norm = 0;
      for (float v : together[0].values) norm += double(v) * v;
      CHECK(std::abs(norm - 1.0) < 1e-5);  // normalize defaults to true
    }
  }
  // Truncation: the fixture takes 64 positions.
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "word ";
  CHECK(model.encode(long_text, nullptr, true).size() == 64);
  CHECK_THROWS_AS(model.encode(long_text, nullptr, false), InferenceModel::InputTooLong);
  CHECK_THROWS_WITH_AS(InferenceModel(serve_test::data_dir("bert_tiny"), InferenceOptions().max_input_length(65)),
                       doctest::Contains("max_input_length must be in [3, 64]"), ember::Error);
}

TEST_CASE("InferenceModel: several threads may run it at once (documented), with the same results") {
  InferenceModel model(serve_test::data_dir("bert_tiny"));
  const std::vector<std::string> texts = {"a gorgeous , witty , seductive movie .", "bad",
                                          "the film is strictly routine ."};
  const std::vector<Job> jobs = serve_test::make_jobs(model, texts, {Task::predict, Task::embed});
  const std::vector<const Job*> all = serve_test::pointers(jobs);
  const std::vector<JobResult> expected = model.run(all);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int r = 0; r < 10; ++r) {
        const std::vector<JobResult> got = model.run(all);
        for (std::size_t i = 0; i < got.size(); ++i)
          for (std::size_t k = 0; k < got[i].values.size(); ++k)
            if (std::abs(got[i].values[k] - expected[i].values[k]) > 1e-6) ++mismatches;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(mismatches == 0);
}

TEST_CASE("InferenceModel: fill-mask candidates are the masked-LM head's top tokens (bert_mlm_tiny)") {
  InferenceModel model(serve_test::data_dir("bert_mlm_tiny"));
  CHECK(model.architecture() == "BertForMaskedLM");
  REQUIRE(model.supports(Task::fill_mask));
  Job job;
  job.task = Task::fill_mask;
  job.top_k = 3;
  job.encoding = model.encode("the movie was [MASK] and [MASK] .", nullptr, true);
  const JobResult r = model.run({&job}).at(0);
  REQUIRE(r.masks.size() == 2);
  auto mlm = models::bert::bert_masked_lm_from_pretrained<float>(serve_test::data_dir("bert_mlm_tiny"));
  mlm->eval();
  NoGradGuard no_grad;
  const int64_t n = int64_t(job.encoding.size());
  const Tensor<float> h = mlm->base_model->forward(from_vector(job.encoding.input_ids, {1, n})).last_hidden_state;
  for (const auto& m : r.masks) {
    const std::vector<float> p = softmax(mlm->prediction_scores(h.select(0, 0).select(0, m.position)
                                                                     .reshape({1, model.hidden_size()})), -1).to_vector();
    REQUIRE(m.ids.size() == 3);
    const auto best = std::max_element(p.begin(), p.end()) - p.begin();
    CHECK(m.ids[0] == best);
    CHECK(std::abs(m.scores[0] - p[std::size_t(best)]) < 1e-6);
    CHECK(m.scores[0] >= m.scores[1]);
    CHECK(m.scores[1] >= m.scores[2]);
  }
}

TEST_CASE("protocol: every malformed request gets its status and error_type") {
  InferenceModel model(serve_test::data_dir("bert_tiny"));
  const RequestLimits limits = RequestLimits().max_client_batch_size(4).max_input_bytes(50);
  struct Case {
    Task task;
    std::string body;
    int status;
    std::string type;
  };
  const std::vector<Case> cases = {
      {Task::predict, "{\"inputs\": ", 400, "InvalidJson"},
      {Task::predict, "{\"inputs\": \"\xff\xfe\"}", 400, "InvalidJson"},
      {Task::predict, "[\"a\"]", 422, "Validation"},
      {Task::predict, "{\"text\": \"a\"}", 422, "Validation"},
      {Task::predict, "{\"inputs\": 3}", 422, "Validation"},
      {Task::predict, "{\"inputs\": [\"a\", 3]}", 422, "Validation"},
      {Task::predict, "{\"inputs\": [[\"a\"]]}", 422, "Validation"},
      {Task::embed, "{\"inputs\": [[\"a\", \"b\"]]}", 422, "Validation"},
      {Task::predict, "{\"inputs\": []}", 422, "Empty"},
      {Task::predict, "{\"inputs\": \"\"}", 422, "Empty"},
      {Task::predict, "{\"inputs\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", 413, "PayloadTooLarge"},
      {Task::predict, "{\"inputs\": \"" + std::string(51, 'a') + "\"}", 413, "PayloadTooLarge"},
      {Task::predict, "{\"inputs\": \"a b c d e f g h i j k l m n o p q r s t u v w x\", \"truncate\": false}", 200, ""},
      {Task::predict, "{\"inputs\": \"a\", \"top_k\": 0}", 422, "Validation"},
      {Task::predict, "{\"inputs\": \"a\", \"top_k\": 99}", 200, ""},  // clamped to the labels
      {Task::predict, "{\"inputs\": \"a\", \"top_k\": 1e999999}", 400, "InvalidJson"},
      {Task::predict, "{\"inputs\": [\"a\", \" \\t\\n \"]}", 422, "Empty"},
      {Task::predict, "{\"inputs\": \"a\", \"top_k\": \"1\"}", 422, "Validation"},
      {Task::embed, "{\"inputs\": \"a\", \"normalize\": 1}", 422, "Validation"},
      {Task::fill_mask, "{\"inputs\": \"a [MASK]\"}", 400, "Unsupported"},
      {Task::predict, "{\"inputs\": [\"good\", [\"a\", \"b\"]], \"top_k\": 1}", 200, ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    int status = 200;
    std::string type;
    try {
      parse_request(c.task, c.body, model, limits);
    } catch (const ApiError& e) {
      status = e.status();
      type = e.type();
      CHECK(std::string(e.what()).size() > 10);  // a message a user can act on
    }
    CHECK(status == c.status);
    CHECK(type == c.type);
  }
  // Too many tokens with truncation off (the fixture takes 64).
  std::string words;
  for (int i = 0; i < 40; ++i) words += "ab ";
  const RequestLimits no_truncate = RequestLimits().max_input_bytes(1000).truncate(false);
  CHECK_THROWS_WITH_AS(parse_request(Task::predict, "{\"inputs\": \"" + words + words + "\"}", model, no_truncate),
                       doctest::Contains("at most 64"), ApiError);
  CHECK_NOTHROW(parse_request(Task::predict, "{\"inputs\": \"" + words + words + "\", \"truncate\": true}",
                              model, no_truncate));

  // Response shapes: one string → a list of {label, score}; a list → a list of lists.
  ParsedRequest single = parse_request(Task::predict, "{\"inputs\": \"good\"}", model, limits);
  std::vector<const Job*> jobs = {&single.jobs[0]};
  const nlohmann::json one = format_response(single, model.run(jobs), model);
  REQUIRE(one.is_array());
  REQUIRE(one.size() == model.labels().size());  // every label, best first
  double total = 0;
  for (std::size_t i = 0; i < one.size(); ++i) {
    total += one[i]["score"].get<double>();
    if (i > 0) CHECK(one[i - 1]["score"].get<double>() >= one[i]["score"].get<double>());
  }
  CHECK(std::abs(total - 1.0) < 1e-9);
  ParsedRequest embed = parse_request(Task::embed, "{\"inputs\": \"good\", \"normalize\": false}", model, limits);
  jobs = {&embed.jobs[0]};
  const nlohmann::json vectors = format_response(embed, model.run(jobs), model);
  REQUIRE(vectors.is_array());
  REQUIRE(vectors.size() == 1);  // /embed always answers a list of vectors
  CHECK(int64_t(vectors[0].size()) == model.hidden_size());
}

TEST_CASE("ServerMetrics: Prometheus text with every family, cumulative buckets") {
  ServerMetrics m;
  m.record_request("/predict", 200, 0.003);
  m.record_request("/predict", 200, 0.2);
  m.record_request("/predict", 422, 0.0001);
  BatchStats s;
  s.rows = 3;
  s.tokens = 20;
  s.padded_tokens = 24;
  s.run_seconds = 0.01;
  s.queue_seconds = {0.001, 0.002, 0.003};
  m.record_batch(s);
  const std::string text = m.render(5);
  for (const char* family :
       {"# TYPE ember_requests_total counter", "# TYPE ember_request_duration_seconds histogram",
        "# TYPE ember_queue_duration_seconds histogram", "# TYPE ember_batch_size histogram",
        "# TYPE ember_batch_tokens histogram", "# TYPE ember_queue_depth gauge",
        "# TYPE ember_tokens_total counter", "# TYPE ember_tokens_per_second gauge"})
    CHECK(text.find(family) != std::string::npos);
  CHECK(text.find("ember_requests_total{endpoint=\"/predict\",status=\"200\"} 2\n") != std::string::npos);
  CHECK(text.find("ember_request_duration_seconds_bucket{endpoint=\"/predict\",le=\"0.005\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("ember_request_duration_seconds_bucket{endpoint=\"/predict\",le=\"+Inf\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("ember_queue_duration_seconds_count 3\n") != std::string::npos);
  CHECK(text.find("ember_tokens_total 20\n") != std::string::npos);
  CHECK(text.find("ember_queue_depth 5\n") != std::string::npos);
  CHECK(ServerMetrics::escape("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}
