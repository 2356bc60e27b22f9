// bench_distributed — what docs/distributed.md's scaling model is built from, measured under
// `mpirun -np N` (a plain run is a world of one):
//
//   bench_distributed allreduce [--iters K]
//       all_reduce (sum) of float buffers from 4 KiB to 64 MiB through ProcessGroupMPI: time per
//       call, algorithm bandwidth (bytes / time) and bus bandwidth (× 2(N−1)/N, NCCL's
//       convention: what each link carries in a ring all-reduce).
//   bench_distributed step --model DIR [--batch B] [--seq S] [--steps K] [--bucket-mb M]
//       a BERT classifier's training step (forward, backward, SGD) on B × S random tokens per rank
//       under DistributedDataParallel: per-step time, the backward's compute time, and the last
//       step's bucket timeline (when each all-reduce started and finished, in ms from the first
//       gradient) — how much of the communication the backward hides. --no-ddp times the same
//       step without DDP (the compute alone).
//
// Prints from rank 0. Built with -DEMBER_BUILD_BENCHMARKS=ON when MPI is found (preset "bench").
#include <ember/distributed/ddp.hpp>
#include <ember/distributed/mpi.hpp>
#include <ember/ember.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 2; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return fallback;
}
bool flag(int argc, char** argv, const std::string& name) {
  for (int i = 2; i < argc; ++i)
    if (argv[i] == name) return true;
  return false;
}

int allreduce(ember::distributed::ProcessGroupMPI& group, int iters) {
  const int n = group.size();
  if (group.rank() == 0)
    std::printf("all_reduce (sum, float32) over %d ranks, %d calls each, median\n%12s %12s %14s "
                "%14s\n", n, iters, "bytes", "time us", "algbw GB/s", "busbw GB/s");
  for (int64_t bytes = 4096; bytes <= (int64_t(64) << 20); bytes *= 4) {
    auto t = ember::full<float>({bytes / 4}, 1.0f);
    group.all_reduce(t)->wait();  // warm-up
    std::vector<double> times;
    for (int i = 0; i < iters; ++i) {
      group.barrier()->wait();
      auto start = Clock::now();
      group.all_reduce(t)->wait();
      times.push_back(since(start));
    }
    std::sort(times.begin(), times.end());
    const double s = times[times.size() / 2], alg = double(bytes) / s / 1e9;
    if (group.rank() == 0)
      std::printf("%12lld %12.1f %14.3f %14.3f\n", (long long)bytes, s * 1e6, alg,
                  alg * 2.0 * (n - 1) / n);
  }
  return 0;
}

int step(ember::distributed::ProcessGroupMPI& group, int argc, char** argv) {
  using namespace ember;
  const std::string dir = arg(argc, argv, "--model", "");
  if (dir.empty()) {
    std::fprintf(stderr, "bench_distributed step: --model DIR is required\n");
    return 2;
  }
  const int64_t batch = std::stoll(arg(argc, argv, "--batch", "16"));
  const int64_t seq = std::stoll(arg(argc, argv, "--seq", "64"));
  const int steps = std::stoi(arg(argc, argv, "--steps", "10"));
  const double bucket_mb = std::stod(arg(argc, argv, "--bucket-mb", "25"));
  const bool ddp_on = !flag(argc, argv, "--no-ddp");
  auto model = models::bert::bert_classifier_from_pretrained<float>(dir);
  model->train();
  std::unique_ptr<distributed::DistributedDataParallel<float>> ddp;
  if (ddp_on)
    ddp = std::make_unique<distributed::DistributedDataParallel<float>>(
        *model, distributed::ProcessGroupMPI::world(),
        distributed::DistributedDataParallelOptions().bucket_cap_mb(bucket_mb));
  optim::SGD<float> opt(model->parameters(), optim::SGDOptions(1e-4).momentum(0.9));
  Generator gen(uint64_t(1 + group.rank()));
  Tensor<int64_t> ids = Tensor<int64_t>::empty({batch, seq}), labels = Tensor<int64_t>::empty({batch});
  for (int64_t i = 0; i < ids.numel(); ++i)
    ids.data()[i] = 1000 + int64_t(gen.randint(uint64_t(model->config().vocab_size - 1000)));
  for (int64_t i = 0; i < batch; ++i) labels.data()[i] = int64_t(gen.randint(2));
  Tensor<int64_t> mask = ones<int64_t>({batch, seq});
  std::vector<double> step_s, backward_s;
  for (int s = 0; s < steps + 2; ++s) {  // 2 warm-up steps
    group.barrier()->wait();
    auto start = Clock::now();
    opt.zero_grad();
    Tensor<float> loss = model->forward(ids, mask, {}, labels).loss;
    auto back = Clock::now();
    loss.backward();
    const double b = since(back);
    opt.step();
    if (s >= 2) {
      step_s.push_back(since(start));
      backward_s.push_back(b);
    }
  }
  std::sort(step_s.begin(), step_s.end());
  std::sort(backward_s.begin(), backward_s.end());
  if (group.rank() != 0) return 0;
  std::printf("%s: %d ranks x batch %lld x seq %lld, %s, %d threads per rank; median of %d steps:"
              " step %.1f ms, backward %.1f ms (incl. waiting for the all-reduces)\n",
              dir.c_str(), group.size(), (long long)batch, (long long)seq,
              ddp_on ? "DDP" : "no DDP", get_num_threads(), steps, step_s[step_s.size() / 2] * 1e3,
              backward_s[backward_s.size() / 2] * 1e3);
  if (ddp) {
    std::printf("last step: backward compute %.1f ms from the first gradient; buckets:\n",
                ddp->backward_compute_seconds() * 1e3);
    double exposed = 0;
    for (const auto& b : ddp->timeline()) {
      std::printf("  bucket %2lld %9.2f MB  started %7.1f ms  finished %7.1f ms\n",
                  (long long)b.bucket, b.bytes / 1e6, b.started * 1e3, b.finished * 1e3);
      exposed = std::max(exposed, b.finished - ddp->backward_compute_seconds());
    }
    std::printf("communication after the backward's compute ended (exposed): %.1f ms\n",
                exposed * 1e3);
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  auto group = ember::distributed::ProcessGroupMPI::world();
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "allreduce") return allreduce(*group, std::stoi(arg(argc, argv, "--iters", "20")));
    if (mode == "step") return step(*group, argc, argv);
  } catch (const std::exception& e) {
    group->abort(e.what());
  }
  std::fprintf(stderr, "usage: bench_distributed allreduce [--iters K] | step --model DIR "
                       "[--batch B] [--seq S] [--steps K] [--bucket-mb M] [--no-ddp]\n");
  return 2;
}
