// ember-serve — an HTTP inference server for a BERT directory that ember (or Hugging Face)
// wrote: /predict, /embed, /fill-mask, /health, /info, /metrics, with dynamic batching.
//
//   ember-serve --model DIR [--host 127.0.0.1] [--port 8080] [--threads N] [--max-batch-tokens T]
//               [--max-batch-size B] [--max-wait-ms W] [--max-input-length L] ...   (--help)
//
// How it is put together (docs/serving.md has the whole story):
//   HTTP threads (cpp-httplib's pool)   parse JSON, tokenize, validate       serve/protocol.hpp
//          │ submit(jobs), wait
//          ▼
//   one queue, one worker thread        forms batches by token budget       serve/batcher.hpp
//          │ run(batch)
//          ▼
//   InferenceModel::run                 one padded forward pass, no autograd serve/inference.hpp
//
// The worker owns the compute threads (--threads); HTTP threads only parse and serialize, so
// they do not compete with the model for cores beyond that. SIGTERM/SIGINT: stop accepting, answer
// every accepted request, exit 0.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <string>
#include <thread>

#include <ember/ember.hpp>
#include <ember/serve/batcher.hpp>
#include <ember/serve/inference.hpp>
#include <ember/serve/metrics.hpp>
#include <ember/serve/protocol.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
// After ember: httplib.h pulls in OpenSSL's and system headers whose macros must not reach Eigen.
#include <httplib.h>

namespace {

using ember::serve::ApiError;
using ember::serve::Task;

struct Options {
  std::string model_dir, host = "127.0.0.1", device = "cpu";
  int port = 8080;
  int threads = 0;        // compute threads of the model (0: all cores)
  int http_threads = 0;   // connection threads (0: 4 x max(concurrency we expect) = 256)
  int64_t max_batch_tokens = 16384, max_batch_size = 64, max_queue_size = 4096;
  double max_wait_ms = 0.0, max_padding = 0.25;
  int64_t queue_timeout_ms = 30000;
  int64_t max_input_length = 0;
  int64_t max_client_batch_size = 64, max_input_bytes = 100000;
  std::size_t max_body_bytes = 4u << 20;
  bool no_truncate = false, int8 = false;
  int read_timeout_s = 10;
};

ember::Device parse_device(const std::string& s) {
  if (s == "cpu") return ember::Device::cpu();
  EMBER_CHECK(s == "cuda" || s.rfind("cuda:", 0) == 0, "--device: expected cpu, cuda or cuda:N, found \"",
              s, "\"");
  EMBER_CHECK(ember::cuda::is_built(), "--device ", s,
              ": this program was built without ember's CUDA backend; use ember-serve-cuda "
              "(built when CMake finds nvcc, docs/gpu.md)");
  EMBER_CHECK(ember::cuda::is_available(), "--device ", s, ": no usable CUDA device");
  int index = 0;
  if (s.size() > 5) {
    EMBER_CHECK(s.size() < 9 && s.find_first_not_of("0123456789", 5) == std::string::npos,
                "--device: expected cpu, cuda or cuda:N, found \"", s, "\"");
    index = std::stoi(s.substr(5));
  }
  return ember::Device::cuda(index);
}

const char* kJson = "application/json";

/// Debian's cpp-httplib 0.11 is compiled with a listen backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG):
/// 128 clients connecting at once overflow it, and the kernel drops their SYNs, which the clients
/// resend after 1, 3, 7 s — seconds of latency that have nothing to do with the model. httplib
/// does not expose its socket, so find it (the listening socket bound to `port`) and call
/// listen() on it again: Linux then takes the new backlog. Returns false if it was not found.
bool raise_listen_backlog(int port) {
  for (int fd = 3; fd < 4096; ++fd) {
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    const int bound = addr.ss_family == AF_INET
                          ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
                          : addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                                       : -1;
    if (bound == port) return ::listen(fd, SOMAXCONN) == 0;
  }
  return false;
}

int g_stop_pipe[2] = {-1, -1};  // written by the signal handler, read by the stop thread

extern "C" void on_stop_signal(int sig) {
  const unsigned char byte = static_cast<unsigned char>(sig);
  const ssize_t ignored = write(g_stop_pipe[1], &byte, 1);
  (void)ignored;
}

/// The metrics label of a path: the served routes by name, anything else as "other" (a label
/// per unknown path would let clients grow /metrics without bound).
std::string endpoint_label(const std::string& path) {
  for (const char* known : {"/predict", "/embed", "/fill-mask", "/health", "/info", "/metrics"})
    if (path == known) return path;
  return "other";
}

int run(const Options& o) {
  // A client that disconnects while we write would raise SIGPIPE and kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // SIGTERM/SIGINT: the handler only writes the signal number into a pipe (all a handler may
  // safely do); the stop thread below reads it and stops the server. A handler rather than
  // sigwait, because libraries start threads of their own before main (OpenBLAS's pool), and a
  // process-directed signal may land on any thread that does not block it.
  EMBER_CHECK(pipe(g_stop_pipe) == 0, "cannot create the shutdown pipe");
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  const ember::Device device = parse_device(o.device);
  if (o.threads > 0) ember::set_num_threads(o.threads);
  const int compute_threads = ember::get_num_threads();
  ember::serve::InferenceModel model(
      o.model_dir,
      ember::serve::InferenceOptions().max_input_length(o.max_input_length).device(device).dynamic_int8(
          o.int8));
  EMBER_CHECK(o.max_batch_tokens >= model.max_input_length(), "--max-batch-tokens (",
              o.max_batch_tokens, ") must be at least the longest input, --max-input-length (",
              model.max_input_length(), ")");
  const auto limits = ember::serve::RequestLimits()
                          .max_client_batch_size(o.max_client_batch_size)
                          .max_input_bytes(o.max_input_bytes)
                          .truncate(!o.no_truncate);
  const auto batching = ember::serve::BatchingOptions()
                            .max_batch_tokens(o.max_batch_tokens)
                            .max_batch_size(o.max_batch_size)
                            .max_wait_us(int64_t(o.max_wait_ms * 1000))
                            .max_queue_size(o.max_queue_size)
                            .queue_timeout_ms(o.queue_timeout_ms)
                            .max_padding(o.max_padding);

  ember::serve::ServerMetrics metrics;
  ember::serve::DynamicBatcher<ember::serve::Job, ember::serve::JobResult> batcher(
      batching,
      [&](const std::vector<const ember::serve::Job*>& jobs) {
        // The worker thread's OpenMP thread count (see DynamicBatcher's constructor).
        static thread_local bool threads_set = (ember::set_num_threads(compute_threads), true);
        (void)threads_set;
        return model.run(jobs);
      },
      [&](const ember::serve::BatchStats& s) { metrics.record_batch(s); });

  httplib::Server server;
  const int http_threads = o.http_threads > 0 ? o.http_threads : 256;
  server.new_task_queue = [http_threads] { return new httplib::ThreadPool(std::size_t(http_threads)); };
  server.set_payload_max_length(o.max_body_bytes);
  server.set_read_timeout(o.read_timeout_s, 0);
  server.set_write_timeout(o.read_timeout_s, 0);
  server.set_keep_alive_max_count(1000000);
  // An idle keep-alive connection holds a connection thread: give it back after --read-timeout.
  server.set_keep_alive_timeout(o.read_timeout_s);
  server.set_tcp_nodelay(true);
  // httplib's default socket options add SO_REUSEPORT, with which a second server on the same
  // port starts without error and the kernel splits the clients between the two models. Keep
  // SO_REUSEADDR only (a restart may bind while old connections are in TIME_WAIT).
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  auto reply_error = [](httplib::Response& res, const ApiError& e) {
    res.status = e.status();
    if (e.status() == 503) res.set_header("Retry-After", "1");
    res.set_content(ember::serve::error_body(e.what(), e.type()), kJson);
  };

  // The POST routes read their body themselves: httplib's own reading has no size limit for a
  // chunked body (a 1 GB chunked request was read whole) and an 8 KiB limit for the form type
  // `curl -d` sends; here every body, however framed, stops at --max-body-bytes.
  auto task_route = [&](Task task, const std::string& path) {
    return [&, task, path](const httplib::Request&, httplib::Response& res,
                           const httplib::ContentReader& content_reader) {
      const auto start = std::chrono::steady_clock::now();
      try {
        std::string body;
        bool too_big = false;
        const bool read = content_reader([&](const char* data, std::size_t length) {
          if (body.size() + length > o.max_body_bytes) return !(too_big = true);
          body.append(data, length);
          return true;
        });
        if (too_big || res.status == 413) {
          res.set_header("Connection", "close");
          throw ApiError(413, "PayloadTooLarge", "the body is larger than --max-body-bytes (" +
                                                     std::to_string(o.max_body_bytes) + " bytes)");
        }
        if (!read) {
          res.set_header("Connection", "close");
          throw ApiError(400, "BadRequest", "the body could not be read (it stalled past "
                                            "--read-timeout, or its framing is broken)");
        }
        ember::serve::ParsedRequest parsed = ember::serve::parse_request(task, body, model, limits);
        // More rows than the queue can ever hold: retrying would not help, so not a 503.
        if (int64_t(parsed.jobs.size()) > o.max_queue_size)
          throw ApiError(413, "PayloadTooLarge", "the request has " + std::to_string(parsed.jobs.size()) +
                                                     " inputs; --max-queue-size is " +
                                                     std::to_string(o.max_queue_size));
        // fill-mask's answer decodes each input again, so keep its jobs; the others need only
        // the results, so hand the encodings over instead of copying them.
        auto reply = batcher.submit(task == Task::fill_mask ? parsed.jobs : std::move(parsed.jobs));
        if (reply.status != ember::serve::Status::ok)
          throw ember::serve::status_error(reply.status, reply.error);
        res.status = 200;
        res.set_content(ember::serve::format_response(parsed, reply.results, model)
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                        kJson);
      } catch (const ApiError& e) {
        reply_error(res, e);
      } catch (const std::exception& e) {
        reply_error(res, ApiError(500, "Backend", e.what()));
      }
      metrics.record_request(path, res.status,
                             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    };
  };
  auto not_allowed = [&](const char* allow) {
    return [&, allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      reply_error(res, ApiError(405, "MethodNotAllowed",
                                req.method + " " + req.path + " is not allowed; use " + allow));
      metrics.record_request(endpoint_label(req.path), 405, 0);
    };
  };
  // Every other method on a route gets 405 with Allow (httplib would answer 404).
  auto refuse_other_methods = [&](const std::string& path, const char* allow) {
    if (std::string(allow) != "GET") server.Get(path, not_allowed(allow));
    if (std::string(allow) != "POST") server.Post(path, not_allowed(allow));
    server.Options(path, not_allowed(allow));
    server.Put(path, not_allowed(allow));
    server.Delete(path, not_allowed(allow));
    server.Patch(path, not_allowed(allow));
  };
  for (auto [task, path] : {std::pair{Task::predict, "/predict"}, std::pair{Task::embed, "/embed"},
                            std::pair{Task::fill_mask, "/fill-mask"}}) {
    server.Post(path, task_route(task, path));
    refuse_other_methods(path, "POST");
  }

  auto get_route = [&](const std::string& path, std::function<void(httplib::Response&)> fill) {
    server.Get(path, [&, path, fill](const httplib::Request&, httplib::Response& res) {
      const auto start = std::chrono::steady_clock::now();
      res.status = 200;
      fill(res);
      metrics.record_request(path, res.status,
                             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    });
    refuse_other_methods(path, "GET");
  };
  get_route("/health", [](httplib::Response& res) { res.set_content(R"({"status":"ok"})", kJson); });
  nlohmann::ordered_json info = {
      {"model_id", o.model_dir},
      {"model_type", "bert"},
      {"architecture", model.architecture()},
      {"tasks", nlohmann::json::array()},
      {"labels", model.labels()},
      {"max_input_length", model.max_input_length()},
      {"hidden_size", model.hidden_size()},
      {"pooling", model.pooling() == ember::serve::Pooling::mean ? "mean" : "cls"},
      {"device", o.device},
      {"int8", model.int8()},
      {"threads", compute_threads},
      {"max_batch_tokens", o.max_batch_tokens},
      {"max_batch_size", o.max_batch_size},
      {"max_wait_ms", o.max_wait_ms},
      {"max_queue_size", o.max_queue_size},
      {"queue_timeout_ms", o.queue_timeout_ms},
      {"max_client_batch_size", o.max_client_batch_size},
      {"max_input_bytes", o.max_input_bytes},
      {"max_body_bytes", o.max_body_bytes},
      {"truncate", !o.no_truncate},
      {"version", "ember 0.1.0"}};
  std::string tasks;
  for (Task t : {Task::predict, Task::embed, Task::fill_mask})
    if (model.supports(t)) {
      info["tasks"].push_back(ember::serve::to_string(t));
      tasks += (tasks.empty() ? "" : ", ") + std::string(ember::serve::to_string(t));
    }
  const std::string info_body = info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  get_route("/info", [&](httplib::Response& res) { res.set_content(info_body, kJson); });
  get_route("/metrics", [&](httplib::Response& res) {
    res.set_content(metrics.render(batcher.queue_size()), "text/plain; version=0.0.4; charset=utf-8");
  });

  // Whatever httplib answers by itself (404 for an unknown route, 413 for a body over
  // --max-body-bytes, 400 for a request it cannot read) gets a JSON error body too.
  server.set_error_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* type = res.status == 404   ? "NotFound"
                       : res.status == 413 ? "PayloadTooLarge"
                       : res.status == 414 ? "UriTooLong"
                                           : "BadRequest";
    std::string message = res.status == 404 ? "no route " + req.method + " " + req.path +
                                                  " (routes: POST /predict /embed /fill-mask, GET "
                                                  "/health /info /metrics)"
                          : res.status == 413 ? "the body is larger than --max-body-bytes (" +
                                                    std::to_string(o.max_body_bytes) + " bytes)"
                                              : "the request could not be read (HTTP status " +
                                                    std::to_string(res.status) + ")";
    res.set_content(ember::serve::error_body(message, type), kJson);
    // A request httplib could not read leaves the connection in an unknown state: close it.
    if (res.status != 404) res.set_header("Connection", "close");
    if (res.status == 404 || res.status == 413)
      metrics.record_request(endpoint_label(req.path), res.status, 0);
  });

  int port = o.port;
  if (port == 0) {
    port = server.bind_to_any_port(o.host);
    EMBER_CHECK(port > 0, "cannot listen on ", o.host, " (any port)");
  } else {
    EMBER_CHECK(server.bind_to_port(o.host, port), "cannot listen on ", o.host, ":", port,
                " (in use, or not an address of this machine)");
  }

  if (!raise_listen_backlog(port))
    std::fprintf(stderr, "ember-serve: warning: could not raise the listen backlog (httplib's is 5)\n");

  // The stop thread: waits for SIGTERM/SIGINT, then stops accepting. listen_after_bind() returns
  // once every connection thread has finished its request; those wait on the batcher, which is
  // still running, so every accepted request is answered.
  std::thread stopper([&server] {
    unsigned char sig = 0;
    while (read(g_stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    std::fprintf(stderr, "ember-serve: %s received, finishing accepted requests\n",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server.stop();
  });
  stopper.detach();

  std::printf("ember-serve: %s (%s; %s) on http://%s:%d, %d compute threads, batches of up to %lld "
              "rows / %lld tokens\n",
              o.model_dir.c_str(), model.architecture().c_str(), tasks.c_str(),
              o.host.c_str(), port, compute_threads, static_cast<long long>(o.max_batch_size),
              static_cast<long long>(o.max_batch_tokens));
  std::fflush(stdout);
  server.listen_after_bind();
  batcher.shutdown();
  std::fprintf(stderr, "ember-serve: stopped\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // OpenMP's idle threads spin after each parallel region (libgomp's default: 300,000 turns).
  // In a server that takes the cores from the HTTP threads and the clients between two batches
  // (on 2 cores: 3-19x fewer sentences/s under load); OMP_WAIT_POLICY=PASSIVE (no spinning) is
  // no better, since every op then pays a futex wake-up (MiniLM at batch 1 x 16 tokens: 8.4 ms
  // instead of 3.1). A short spin keeps the threads warm from one op to the next inside a forward
  // pass and lets them sleep soon after it. libgomp reads its settings when it is loaded, before
  // main, so when the user has chosen neither, we set GOMP_SPINCOUNT and start this program again
  // (Linux: /proc/self/exe). docs/serving.md, "OpenMP wait policy", has the measurements.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr) {
    setenv("GOMP_SPINCOUNT", "10000", 1);
    // The resolved path, not /proc/self/exe itself: the process keeps its name (ps, pgrep).
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
      self[n] = '\0';
      execv(self, argv);  // returns only on failure: then go on as we are
    }
  }
  Options o;
  // CLI::Range lets NaN through (every comparison with NaN is false).
  const CLI::Validator finite(
      [](std::string& text) -> std::string {
        try {
          if (std::isfinite(std::stod(text))) return "";
        } catch (const std::exception&) {
        }
        return "expected a finite number, found " + text;
      },
      "FINITE");
  CLI::App app{"ember-serve: an HTTP inference server for a BERT directory (docs/serving.md)"};
  app.add_option("--model", o.model_dir, "model directory (config.json, model.safetensors, vocab.txt)")
      ->required();
  app.add_option("--host", o.host, "address to listen on")->capture_default_str();
  app.add_option("--port", o.port, "port (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--device", o.device, "cpu, cuda or cuda:N")->capture_default_str();
  app.add_flag("--int8", o.int8,
               "dynamic int8 quantization of the Linear layers (CPU; about 2x faster, scores "
               "differ from float by ~1e-2; docs/compression.md)");
  app.add_option("--threads", o.threads, "compute threads of the model (0: all cores)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--http-threads", o.http_threads,
                 "connection threads; one per open connection (0: 256)")
      ->check(CLI::Range(0, 4096));
  app.add_option("--max-batch-tokens", o.max_batch_tokens,
                 "padded tokens (rows x longest row) per forward pass")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24))
      ->capture_default_str();
  app.add_option("--max-batch-size", o.max_batch_size, "rows per forward pass")
      ->check(CLI::Range(int64_t(1), int64_t(4096)))
      ->capture_default_str();
  app.add_option("--max-wait-ms", o.max_wait_ms,
                 "how long the oldest queued row waits for more rows when the model is idle (0: "
                 "none; rows that arrive during a batch form the next one)")
      ->check(finite)
      ->check(CLI::Range(0.0, 10000.0))
      ->capture_default_str();
  app.add_option("--max-padding", o.max_padding,
                 "a batch is cut where padding would exceed this fraction of real tokens")
      ->check(finite)
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  app.add_option("--max-queue-size", o.max_queue_size, "rows that may wait; beyond: 503")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24))
      ->capture_default_str();
  app.add_option("--queue-timeout-ms", o.queue_timeout_ms, "a row that waits longer fails with 503")
      ->check(CLI::Range(int64_t(1), int64_t(86400000)))
      ->capture_default_str();
  app.add_option("--max-input-length", o.max_input_length,
                 "tokens per input incl. [CLS]/[SEP] (0: the model's)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 20));
  app.add_flag("--no-truncate", o.no_truncate,
               "refuse (422) inputs longer than --max-input-length instead of truncating them; "
               "a request's \"truncate\" field overrides it");
  app.add_option("--max-client-batch-size", o.max_client_batch_size, "inputs per request; beyond: 413")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20))
      ->capture_default_str();
  app.add_option("--max-input-bytes", o.max_input_bytes, "bytes per input text; beyond: 413")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30))
      ->capture_default_str();
  app.add_option("--max-body-bytes", o.max_body_bytes, "bytes per request body; beyond: 413")
      ->check(CLI::Range(std::size_t(1), std::size_t(1) << 34))
      ->capture_default_str();
  app.add_option("--read-timeout", o.read_timeout_s,
                 "seconds a connection may stall while sending or receiving")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
