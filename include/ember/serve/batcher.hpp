// ember/serve/batcher.hpp — dynamic batching: many callers submit rows, one worker runs them in
// batches.
//
// Why: a Transformer forward pass over 32 sentences costs far less than 32 passes over one (the
// matrix products get M = rows × tokens instead of M = tokens, and the per-op overhead is paid
// once). A server receives one sentence per request from many connections at once; this queue
// turns them into batches. The policy is that of Hugging Face's text-embeddings-inference:
//
//  - rows wait in one FIFO queue; a batch takes rows from its front while it holds at most
//    `max_batch_size` rows and `max_batch_tokens` *padded* tokens (rows × the longest row: the
//    work a padded forward pass really does);
//  - rows that arrive while a batch runs form the next one, so batches grow with the load and
//    cost no latency (the default, `max_wait_us` = 0, as Triton's dynamic batcher). With
//    `max_wait_us` > 0 the oldest row also waits that long for company when the worker is idle
//    (more rows per batch at moderate load, at the price of that much latency);
//  - inside a batch, rows are sorted by length and cut into chunks whose padding stays under
//    `max_padding` of their real tokens (a 60-token row does not make seven 8-token rows pay
//    for 60 each);
//  - a full queue refuses a request whole (`Status::overloaded`, HTTP 503 + Retry-After), a row
//    that waited more than `queue_timeout_ms` fails its request (`Status::timeout`), and
//    `shutdown()` refuses new requests but finishes every accepted one.
//
// The batcher knows nothing of models: `Job` is any type with `int64_t tokens() const`, and the
// run function turns a chunk of jobs into one result each. serve/inference.hpp supplies the BERT
// jobs; the HTTP server (apps/ember-serve) is one caller among any others.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ember/core/arg.hpp>
#include <ember/core/error.hpp>

namespace ember::serve {

/// How rows are batched (the command-line options of ember-serve carry the same names).
struct BatchingOptions {
  /// Padded tokens per forward pass: rows × the longest row. Must be at least the longest input.
  EMBER_ARG(int64_t, max_batch_tokens) = 16384;
  /// Rows per forward pass.
  EMBER_ARG(int64_t, max_batch_size) = 64;
  /// Microseconds the oldest waiting row waits for more rows when the worker is idle (0: none).
  EMBER_ARG(int64_t, max_wait_us) = 0;
  /// Rows that may wait; a request that would exceed it is refused whole (`Status::overloaded`).
  EMBER_ARG(int64_t, max_queue_size) = 4096;
  /// A row that waited longer than this fails its request with `Status::timeout`.
  EMBER_ARG(int64_t, queue_timeout_ms) = 30000;
  /// A chunk of a batch stops growing when its padding would exceed this fraction of its real
  /// tokens (rows are sorted by length first); 0 runs every length apart, a large value never
  /// splits a batch.
  EMBER_ARG(double, max_padding) = 0.25;

 public:
  /// Throws `ember::Error` naming the first option out of range.
  void validate() const {
    EMBER_CHECK(max_batch_tokens() >= 1, "max_batch_tokens must be >= 1, found ", max_batch_tokens());
    EMBER_CHECK(max_batch_size() >= 1, "max_batch_size must be >= 1, found ", max_batch_size());
    EMBER_CHECK(max_wait_us() >= 0, "max_wait_us must be >= 0, found ", max_wait_us());
    EMBER_CHECK(max_queue_size() >= 1, "max_queue_size must be >= 1, found ", max_queue_size());
    EMBER_CHECK(queue_timeout_ms() >= 1, "queue_timeout_ms must be >= 1, found ",
                queue_timeout_ms());
    EMBER_CHECK(max_padding() >= 0, "max_padding must be >= 0, found ", max_padding());
  }
};

/// How a submitted request ended.
enum class Status {
  ok,             ///< every row ran
  overloaded,     ///< refused: the queue had no room for all its rows
  timeout,        ///< a row waited longer than queue_timeout_ms
  shutting_down,  ///< refused: shutdown() had been called
  failed,         ///< the run function threw; `error` holds its message
};

inline const char* to_string(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::overloaded: return "overloaded";
    case Status::timeout: return "timeout";
    case Status::shutting_down: return "shutting_down";
    case Status::failed: return "failed";
  }
  return "?";
}

/// What one forward pass (a chunk) did, for metrics.
struct BatchStats {
  int64_t rows = 0;
  int64_t tokens = 0;         ///< real tokens
  int64_t padded_tokens = 0;  ///< rows × longest row
  double run_seconds = 0;     ///< the run function's wall time
  std::vector<double> queue_seconds;  ///< per row: from submit to the start of its chunk
};

/// The results of one request, in the order of its jobs.
template <class Result>
struct Reply {
  Status status = Status::ok;
  std::string error;            ///< set for Status::failed
  std::vector<Result> results;  ///< one per job when status is ok
  double queue_seconds = 0;     ///< the longest wait of its rows
};

/// A queue of jobs and the worker thread that runs them in batches (see the file comment).
/// `submit` is thread-safe and blocks until the request's rows have run (or failed).
///
///   DynamicBatcher<Job, Result> b(options, [&](const std::vector<const Job*>& jobs) {
///     return model.run(jobs);   // one Result per job, in order
///   });
///   Reply<Result> r = b.submit({job1, job2});
template <class Job, class Result>
class DynamicBatcher {
 public:
  using RunFn = std::function<std::vector<Result>(const std::vector<const Job*>&)>;
  using StatsFn = std::function<void(const BatchStats&)>;

  /// Starts the worker. `run` is called on the worker thread only (one chunk at a time), so it
  /// may own the compute threads and reuse buffers. The worker is a new thread: OpenMP's thread
  /// count set elsewhere (ember::set_num_threads) does not reach it, so set it inside `run`.
  /// `on_batch` (optional) is told of each chunk.
  DynamicBatcher(BatchingOptions options, RunFn run, StatsFn on_batch = nullptr)
      : options_(std::move(options)), run_(std::move(run)), on_batch_(std::move(on_batch)) {
    options_.validate();
    EMBER_CHECK(run_, "DynamicBatcher: the run function is empty");
    worker_ = std::thread([this] { work_(); });
  }
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;
  ~DynamicBatcher() { shutdown(); }

  /// Queues the request's jobs (all or none) and waits until they have run. An empty request
  /// returns at once with no results. A job longer than max_batch_tokens is refused by
  /// `ember::Error` (validate lengths before submitting).
  Reply<Result> submit(std::vector<Job> jobs) {
    auto request = std::make_shared<Request>();
    request->results.resize(jobs.size());
    request->pending = int64_t(jobs.size());
    if (jobs.empty()) return Reply<Result>{};
    for (const Job& j : jobs)
      EMBER_CHECK(j.tokens() >= 1 && j.tokens() <= options_.max_batch_tokens(),
                  "DynamicBatcher: a job of ", j.tokens(),
                  " tokens does not fit max_batch_tokens = ", options_.max_batch_tokens());
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return refused_(Status::shutting_down);
      if (int64_t(queue_.size() + jobs.size()) > options_.max_queue_size())
        return refused_(Status::overloaded);
      const auto now = Clock::now();
      for (std::size_t i = 0; i < jobs.size(); ++i)
        queue_.push_back(Entry{std::move(jobs[i]), request, i, now});
      ++active_requests_;
    }
    work_cv_.notify_one();
    std::unique_lock<std::mutex> lock(request->mu);
    request->done_cv.wait(lock, [&] { return request->pending == 0; });
    Reply<Result> reply;
    reply.status = request->status;
    reply.error = request->error;
    reply.queue_seconds = request->queue_seconds;
    if (reply.status == Status::ok) reply.results = std::move(request->results);
    return reply;
  }

  /// Refuses new requests, runs every queued row, then stops the worker. Idempotent; returns
  /// when the worker has finished.
  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    work_cv_.notify_all();
    std::lock_guard<std::mutex> lock(join_mu_);
    if (worker_.joinable()) worker_.join();
  }

  /// Rows waiting in the queue now.
  int64_t queue_size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return int64_t(queue_.size());
  }
  /// Requests accepted and not yet answered.
  int64_t active_requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return active_requests_;
  }
  const BatchingOptions& options() const { return options_; }

 private:
  using Clock = std::chrono::steady_clock;

  struct Request {
    std::mutex mu;
    std::condition_variable done_cv;
    int64_t pending = 0;
    Status status = Status::ok;
    std::string error;
    std::vector<Result> results;
    double queue_seconds = 0;
  };
  struct Entry {
    Job job;
    std::shared_ptr<Request> request;
    std::size_t index;  // the job's place in its request
    Clock::time_point enqueued;
  };

  static Reply<Result> refused_(Status s) {
    Reply<Result> r;
    r.status = s;
    return r;
  }

  // Rows at the queue's front that fit one batch (the caller holds mu_).
  std::size_t batch_rows_() const {
    std::size_t rows = 0;
    int64_t longest = 0;
    for (const Entry& e : queue_) {
      const int64_t l = std::max(longest, e.job.tokens());
      if (int64_t(rows) + 1 > options_.max_batch_size() ||
          l * int64_t(rows + 1) > options_.max_batch_tokens())
        break;
      longest = l;
      ++rows;
    }
    return rows;
  }

  void work_() {
    const auto max_wait = std::chrono::microseconds(options_.max_wait_us());
    for (;;) {
      std::vector<Entry> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;  // closed and drained
        // Wait for company until the oldest row has waited max_wait, the batch is full, or
        // shutdown (which runs what is queued at once).
        const auto deadline = queue_.front().enqueued + max_wait;
        work_cv_.wait_until(lock, deadline, [&] {
          return closed_ || batch_rows_() < queue_.size() ||
                 int64_t(queue_.size()) >= options_.max_batch_size();
        });
        const std::size_t rows = std::max<std::size_t>(1, batch_rows_());
        batch.reserve(rows);
        for (std::size_t i = 0; i < rows; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      run_batch_(batch);
    }
  }

  // Rows of requests that already failed are dropped; rows that waited too long fail their
  // request; the rest run sorted by length, in chunks of bounded padding.
  void run_batch_(std::vector<Entry>& batch) {
    const auto now = Clock::now();
    const auto timeout = std::chrono::milliseconds(options_.queue_timeout_ms());
    std::vector<Entry*> live;
    for (Entry& e : batch) {
      if (request_failed_(*e.request)) {
        finish_row_(e, Status::ok, {});
      } else if (now - e.enqueued > timeout) {
        finish_row_(e, Status::timeout, {});
      } else {
        live.push_back(&e);
      }
    }
    std::stable_sort(live.begin(), live.end(), [](const Entry* a, const Entry* b) {
      return a->job.tokens() < b->job.tokens();
    });
    std::size_t lo = 0;
    while (lo < live.size()) {
      // Grow the chunk while its padding stays within max_padding of its real tokens.
      std::size_t hi = lo + 1;
      int64_t real = live[lo]->job.tokens();
      while (hi < live.size()) {
        const int64_t l = live[hi]->job.tokens();
        const int64_t padded = l * int64_t(hi - lo + 1);
        if (double(padded - (real + l)) > options_.max_padding() * double(real + l)) break;
        real += l;
        ++hi;
      }
      run_chunk_(live, lo, hi, real);
      lo = hi;
    }
  }

  void run_chunk_(const std::vector<Entry*>& live, std::size_t lo, std::size_t hi, int64_t real) {
    BatchStats stats;
    stats.rows = int64_t(hi - lo);
    stats.tokens = real;
    stats.padded_tokens = live[hi - 1]->job.tokens() * stats.rows;
    std::vector<const Job*> jobs;
    jobs.reserve(hi - lo);
    const auto start = Clock::now();
    for (std::size_t i = lo; i < hi; ++i) {
      jobs.push_back(&live[i]->job);
      const double waited = std::chrono::duration<double>(start - live[i]->enqueued).count();
      stats.queue_seconds.push_back(waited);
      std::lock_guard<std::mutex> lock(live[i]->request->mu);
      live[i]->request->queue_seconds = std::max(live[i]->request->queue_seconds, waited);
    }
    std::vector<Result> results;
    std::string error;
    try {
      results = run_(jobs);
      if (results.size() != jobs.size())
        error = detail::str_cat("the run function returned ", results.size(),
                                " results for ", jobs.size(), " jobs");
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    stats.run_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (on_batch_) on_batch_(stats);
    for (std::size_t i = lo; i < hi; ++i) {
      if (error.empty())
        finish_row_(*live[i], Status::ok, std::move(results[i - lo]));
      else
        finish_row_(*live[i], Status::failed, {}, error);
    }
  }

  static bool request_failed_(Request& r) {
    std::lock_guard<std::mutex> lock(r.mu);
    return r.status != Status::ok;
  }

  // Records one row's outcome; the request's first failure wins. The last row wakes the caller.
  void finish_row_(Entry& e, Status s, Result result, const std::string& error = {}) {
    Request& r = *e.request;
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(r.mu);
      if (s != Status::ok && r.status == Status::ok) {
        r.status = s;
        r.error = error;
      }
      if (r.status == Status::ok) r.results[e.index] = std::move(result);
      last = --r.pending == 0;
    }
    if (last) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        --active_requests_;
      }
      r.done_cv.notify_all();
    }
  }

  BatchingOptions options_;
  RunFn run_;
  StatsFn on_batch_;
  mutable std::mutex mu_;  // guards queue_, closed_, active_requests_
  std::condition_variable work_cv_;
  std::deque<Entry> queue_;
  bool closed_ = false;
  int64_t active_requests_ = 0;
  std::mutex join_mu_;
  std::thread worker_;
};

}  // namespace ember::serve
