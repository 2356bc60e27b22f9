// ember/distributed/ddp.hpp — `DistributedDataParallel`: every rank trains the same model on its
// own share of each batch, and the gradients are averaged over the ranks during backward, so
// that after `loss.backward()` every rank holds the gradient of the whole (global) batch and
// the optimizer steps stay identical everywhere.
//
// The design is PyTorch DDP's (Li et al., "PyTorch Distributed: Experiences on Accelerating Data
// Parallel Training", VLDB 2020, §3.2):
//   * at construction the parameters and buffers are broadcast from rank 0, so every rank starts
//     from the same model;
//   * the trainable parameters are grouped into buckets of about `bucket_cap_mb` (25 MB), in
//     reverse registration order — roughly the order backward produces their gradients;
//   * a post-accumulate-grad hook on every parameter (Tensor::register_post_accumulate_grad_hook)
//     marks its gradient ready; when a bucket's gradients are all ready they are copied into the
//     bucket's flat buffer and its all-reduce (average) starts on the group's worker thread
//     while backward goes on computing the earlier layers' gradients — the overlap. Buckets
//     start in bucket order on every rank (collectives must match across ranks);
//   * at the end of backward (autograd::queue_callback) the last buckets start, all are waited
//     for and the averaged values copied back into `.grad()`;
//   * `no_sync()` skips the reduction (gradient accumulation: the gradients add up locally and
//     the first backward after it reduces the sum);
//   * a trainable parameter that got no gradient in a backward is an error (its bucket would
//     never be reduced and the ranks would disagree), unless `find_unused_parameters(true)`,
//     which reduces it as zero.
// Given equal per-rank batches and a mean loss, N ranks of batch b compute the average of N
// mean gradients = the mean gradient of the N·b examples: the same step as one process with
// batch N·b, up to float rounding (the sum's order differs).
//
// Use (MPI, CPU tensors; for GPU tensors a ProcessGroupNCCL, distributed/nccl.hpp):
//   auto group = ember::distributed::ProcessGroupMPI::world();
//   ember::distributed::DistributedDataParallel<float> ddp(*model, group);
//   loss = model->forward(…).loss; loss.backward();   // gradients averaged over the ranks
//   optimizer.step();
// The module must outlive the DDP object; create the optimizer before or after, but do not
// replace parameters (pruning, quantize_dynamic) while it is attached.
#pragma once

#include <ember/autograd/engine.hpp>
#include <ember/core/arg.hpp>
#include <ember/distributed/process_group.hpp>
#include <ember/nn/module.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ember::distributed {

/// Options of `DistributedDataParallel`.
struct DistributedDataParallelOptions {
  /// Largest bucket in MiB (PyTorch's `bucket_cap_mb`); a parameter larger than it gets a bucket
  /// of its own.
  EMBER_ARG(double, bucket_cap_mb) = 25.0;
  /// Reduce parameters that got no gradient as zeros instead of throwing (PyTorch's
  /// `find_unused_parameters`; their buckets then start only at the end of backward).
  EMBER_ARG(bool, find_unused_parameters) = false;
};

/// One bucket's reduction in the last synchronized backward, for timelines: times in seconds
/// from the first gradient of that backward.
struct BucketTiming {
  int64_t bucket = 0;     ///< bucket index (0: the last layers' parameters)
  int64_t bytes = 0;      ///< bytes all-reduced
  double started = 0;     ///< its all-reduce was handed to the group
  double finished = 0;    ///< its all-reduce was seen complete (at the end of backward at latest)
};

template <class T>
class DistributedDataParallel {
 public:
  /// Attaches to `module` (which must outlive this object): broadcasts its parameters and
  /// buffers from rank 0 and installs the gradient hooks. Every rank must construct it with the
  /// same model. Throws `ember::Error` for a module without trainable parameters or a
  /// bucket_cap_mb that is not positive.
  DistributedDataParallel(nn::Module<T>& module, std::shared_ptr<ProcessGroup> group,
                          DistributedDataParallelOptions options = {})
      : module_(module), group_(std::move(group)), options_(options) {
    EMBER_CHECK(group_ != nullptr, "DistributedDataParallel: the process group is null");
    EMBER_CHECK(options_.bucket_cap_mb() > 0, "DistributedDataParallel: bucket_cap_mb must be > "
                "0, found ", options_.bucket_cap_mb());
    {
      NoGradGuard no_grad;
      for (auto& [name, p] : module_.named_parameters()) sync_from_rank0(p, name);
      for (auto& [name, b] : module_.named_buffers()) sync_from_rank0(b, name);
    }
    for (auto& [name, p] : module_.named_parameters())
      if (p.requires_grad()) params_.push_back({name, p, 0, Tensor<T>(), 0, false});
    EMBER_CHECK(!params_.empty(), "DistributedDataParallel: the module has no trainable parameters");
    build_buckets();
    for (std::size_t i = 0; i < params_.size(); ++i)
      params_[i].hook = params_[i].tensor.register_post_accumulate_grad_hook(
          [this, i](const Tensor<T>&) { on_ready(i); });
  }
  ~DistributedDataParallel() {
    for (auto& p : params_) p.tensor.remove_post_accumulate_grad_hook(p.hook);
    for (auto& b : buckets_)  // never leave a collective reading freed memory
      if (b.work) try { b.work->wait(); } catch (...) {}
  }
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  nn::Module<T>& module() { return module_; }
  ProcessGroup& process_group() { return *group_; }
  const DistributedDataParallelOptions& options() const { return options_; }

  /// While the returned guard lives, backward does not reduce: gradients accumulate locally
  /// (PyTorch's `no_sync()`); the first backward after it reduces the accumulated sums.
  class NoSync {
   public:
    explicit NoSync(DistributedDataParallel& ddp) : ddp_(ddp), before_(ddp.sync_) { ddp.sync_ = false; }
    ~NoSync() { ddp_.sync_ = before_; }
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool before_;
  };
  NoSync no_sync() { return NoSync(*this); }

  /// The buckets: parameter names in each, in bucket order.
  std::vector<std::vector<std::string>> buckets() const {
    std::vector<std::vector<std::string>> out;
    for (const auto& b : buckets_) {
      out.emplace_back();
      for (std::size_t i : b.params) out.back().push_back(params_[i].name);
    }
    return out;
  }
  /// When each bucket's all-reduce started and finished in the last synchronized backward, and
  /// the seconds from its first gradient to the end of its compute (`backward_compute_seconds`).
  const std::vector<BucketTiming>& timeline() const { return timeline_; }
  double backward_compute_seconds() const { return compute_seconds_; }

 private:
  struct Param {
    std::string name;
    Tensor<T> tensor;
    std::size_t bucket;     // its bucket
    Tensor<T> in_bucket;    // its slice of the bucket's buffer, shaped as the parameter (a view)
    uint64_t hook;
    bool ready;
  };
  struct Bucket {
    std::vector<std::size_t> params;
    Tensor<T> flat;  // the bucket's gradients, contiguous, reduced in place
    std::size_t pending = 0;
    std::shared_ptr<Work> work;
    double started = 0;
  };
  using Clock = std::chrono::steady_clock;

  void sync_from_rank0(Tensor<T>& t, const std::string& name) {
    EMBER_CHECK(t.is_contiguous(), "DistributedDataParallel: ", name, " is not contiguous");
    group_->broadcast(t, 0)->wait();
    t.storage()->bump_version();  // written behind autograd's back
  }

  void build_buckets() {
    const double cap = options_.bucket_cap_mb() * 1024 * 1024;
    Bucket current;
    int64_t elements = 0;
    // The buffer is made when the bucket closes; then each parameter gets its slice as a view
    // of the parameter's shape, once, so a step copies gradients without making tensors.
    auto close = [&] {
      if (current.params.empty()) return;
      current.flat = zeros<T>({elements}, params_[current.params[0]].tensor.device());
      int64_t offset = 0;
      for (std::size_t k : current.params) {
        Param& p = params_[k];
        p.in_bucket = current.flat.narrow(0, offset, p.tensor.numel()).view(p.tensor.shape());
        offset += p.tensor.numel();
      }
      current.pending = current.params.size();
      buckets_.push_back(std::move(current));
      current = Bucket();
      elements = 0;
    };
    for (std::size_t k = params_.size(); k-- > 0;) {  // reverse registration order
      Param& p = params_[k];
      if (!current.params.empty() && double(elements + p.tensor.numel()) * sizeof(T) > cap)
        close();
      p.bucket = buckets_.size();
      current.params.push_back(k);
      elements += p.tensor.numel();
    }
    close();
  }

  double now() const { return std::chrono::duration<double>(Clock::now() - pass_start_).count(); }

  // A parameter's gradient is complete (the hook, inside backward).
  void on_ready(std::size_t i) {
    // A group of one reduces too (an average over one rank changes nothing): the same code
    // path at every world size, so a one-GPU run exercises the buckets and the backend.
    if (!sync_) return;
    if (!in_pass_) {
      in_pass_ = true;
      pass_start_ = Clock::now();
      timeline_.clear();
      autograd::queue_callback([this] { finish_pass(); });
    }
    Param& p = params_[i];
    EMBER_CHECK(!p.ready, "DistributedDataParallel: ", p.name, " got its gradient twice in one "
                "backward (a parameter used in two graphs backpropagated separately?)");
    p.ready = true;
    if (--buckets_[p.bucket].pending == 0) launch_ready();
  }

  // Starts every ready bucket from next_launch_ on, in order (the same order on every rank).
  void launch_ready() {
    while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
      Bucket& b = buckets_[next_launch_];
      for (std::size_t k : b.params) params_[k].in_bucket.copy_(params_[k].tensor.grad());
      b.started = now();
      b.work = group_->all_reduce(b.flat, ReduceOp::Average);
      ++next_launch_;
    }
  }

  // End of backward: the buckets not started yet (unused parameters), then wait for all and
  // copy the averages back into the gradients.
  void finish_pass() {
    const double compute_end = now();
    std::vector<std::string> unused;
    for (auto& p : params_)
      if (!p.ready) unused.push_back(p.name);
    if (!unused.empty()) {
      if (!options_.find_unused_parameters()) {
        reset_pass();
        std::string names;
        for (std::size_t k = 0; k < unused.size() && k < 8; ++k) names += (k ? ", " : "") + unused[k];
        if (unused.size() > 8) names += ", …";
        EMBER_FAIL("DistributedDataParallel: ", unused.size(), " trainable parameter(s) got no "
                   "gradient in this backward (", names, "); every rank must reduce every "
                   "bucket. Freeze them (requires_grad_(false)) or pass "
                   "DistributedDataParallelOptions().find_unused_parameters(true)");
      }
      NoGradGuard no_grad;
      for (auto& p : params_) {
        if (p.ready) continue;
        if (!p.tensor.grad().defined()) p.tensor.set_grad(zeros<T>(p.tensor.shape(), p.tensor.device()));
        p.ready = true;
        --buckets_[p.bucket].pending;
      }
      launch_ready();
    }
    for (std::size_t k = 0; k < buckets_.size(); ++k) {
      Bucket& b = buckets_[k];
      b.work->wait();
      timeline_.push_back({int64_t(k), b.flat.numel() * int64_t(sizeof(T)), b.started, now()});
      for (std::size_t i : b.params) params_[i].tensor.grad().copy_(params_[i].in_bucket);
    }
    compute_seconds_ = compute_end;
    reset_pass();
  }

  void reset_pass() {
    for (auto& p : params_) p.ready = false;
    for (auto& b : buckets_) {
      if (b.work) try { b.work->wait(); } catch (...) {}
      b.work.reset();
      b.pending = b.params.size();
    }
    next_launch_ = 0;
    in_pass_ = false;
  }

  nn::Module<T>& module_;
  std::shared_ptr<ProcessGroup> group_;
  DistributedDataParallelOptions options_;
  std::vector<Param> params_;
  std::vector<Bucket> buckets_;
  std::size_t next_launch_ = 0;
  bool sync_ = true, in_pass_ = false;
  Clock::time_point pass_start_;
  std::vector<BucketTiming> timeline_;
  double compute_seconds_ = 0;
};

}  // namespace ember::distributed
