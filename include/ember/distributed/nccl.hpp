// ember/distributed/nccl.hpp — the NCCL backend of `ProcessGroup` (GPU tensors, one GPU per
// process), on the NCCL library of the CUDA toolkit (`nccl.h`, `libnccl.so`; CMake target
// ember::nccl, which defines EMBER_HAVE_NCCL). nvcc-only: the collectives are queued on CUDA
// streams beside ember's kernels, so it includes the CUDA backend's stream header (not the whole
// of <ember/cuda.hpp>, which some translation unit of the program includes anyway to install
// the backend: a .cu file that only makes the group compiles in seconds).
//
//   auto mpi = ember::distributed::ProcessGroupMPI::world();                 // mpirun's ranks
//   auto nccl = ember::distributed::ProcessGroupNCCL::create(*mpi, device);  // id sent over MPI
//   ember::distributed::DistributedDataParallel<float> ddp(*model, nccl);   // model on `device`
//
// NCCL's ranks find each other through a 128-byte "unique id" that rank 0 draws
// (ncclGetUniqueId) and every rank must receive before ncclCommInitRank. `create(bootstrap, …)`
// sends it over any group that exchanges CPU tensors (MPI here; PyTorch uses its TCP store the
// same way); `ProcessGroupNCCL(rank, size, id, device)` takes it from elsewhere, and `single`
// makes a group of one (its collectives still run through NCCL: a world-size-1 run exercises
// every call).
//
// Streams. A collective must not read a tensor before the kernels writing it have run, and it
// should not hold back the computation queued after it (DDP's overlap). So each collective is
// queued on the group's own communication stream after an event recorded on ember's current
// stream of the device (cudaStreamWaitEvent): it waits for the work queued so far, the caller's
// thread returns at once, and later kernels run while NCCL communicates. An event recorded
// after the collective marks its end.
//
// Completion and faults. A watchdog thread polls each collective's end event in order; when it
// has passed, the `Work` completes (and releases the tensors it kept alive), so `Work::wait()`
// returns with the result in place for every later kernel. The same thread asks NCCL for
// asynchronous errors (ncclCommGetAsyncError: a peer that died, a network failure) and enforces
// `timeout_seconds`: on either it aborts the communicator (ncclCommAbort, which unblocks the GPU),
// and every pending and later collective fails with an `ember::Error` naming the cause — the
// program then ends the job (ProcessGroupMPI::abort) instead of hanging, as PyTorch's NCCL
// watchdog does. Its reach: collectives that were queued and do not finish on the GPU. The
// communicator is a blocking one, so a host call that blocks — ncclCommInitRank, or a first
// collective whose connection setup waits for a peer that never comes — is not covered (a
// nonblocking communicator, ncclCommInitRankConfig with blocking = 0, would be); under
// `mpirun` a rank that dies ends the whole job anyway. Source: NCCL's documentation, "Fault tolerance" and "Using NCCL with CUDA
// streams"; PyTorch's ProcessGroupNCCL.
#pragma once

#include <ember/backend/cuda/stream.cuh>
#include <ember/backend/device_runtime.hpp>
#include <ember/core/arg.hpp>
#include <ember/distributed/process_group.hpp>

#include <nccl.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ember::distributed {

/// Options of `ProcessGroupNCCL`.
struct ProcessGroupNCCLOptions {
  /// Seconds a collective may take before the watchdog aborts the communicator and fails it
  /// (PyTorch's default NCCL timeout is 10 minutes).
  EMBER_ARG(double, timeout_seconds) = 600.0;
};

/// Throws `ember::Error` unless an NCCL call returned ncclSuccess.
#define EMBER_NCCL_CHECK(call)                                                              \
  do {                                                                                      \
    const ncclResult_t ember_nccl_r_ = (call);                                              \
    if (ember_nccl_r_ != ncclSuccess)                                                       \
      EMBER_FAIL("NCCL error: ", #call, " failed with ", ncclGetErrorString(ember_nccl_r_), \
                 " (", ncclGetLastError(nullptr), ")");                                     \
  } while (0)

class ProcessGroupNCCL final : public ProcessGroup {
 public:
  using Options = ProcessGroupNCCLOptions;

  /// A fresh unique id (call on one rank, give it to every rank before constructing the group).
  static ncclUniqueId unique_id() {
    ncclUniqueId id;
    EMBER_NCCL_CHECK(ncclGetUniqueId(&id));
    return id;
  }

  /// The NCCL group of the same processes as `bootstrap` (rank r here is rank r there): rank 0
  /// draws the unique id and broadcasts it over `bootstrap`, a group of CPU tensors (MPI). Every
  /// rank of `bootstrap` must call it. `device` is this process's GPU; -1 picks the local rank
  /// modulo the number of GPUs (OMPI_COMM_WORLD_LOCAL_RANK, or LOCAL_RANK as torchrun sets).
  static std::shared_ptr<ProcessGroupNCCL> create(ProcessGroup& bootstrap, int device = -1,
                                                  Options options = {}) {
    static_assert(sizeof(ncclUniqueId) % sizeof(int64_t) == 0, "ncclUniqueId size");
    Tensor<int64_t> bytes = zeros<int64_t>({int64_t(sizeof(ncclUniqueId) / sizeof(int64_t))});
    if (bootstrap.rank() == 0) {
      const ncclUniqueId id = unique_id();
      std::memcpy(bytes.data(), &id, sizeof id);
    }
    bootstrap.broadcast(bytes, 0)->wait();
    ncclUniqueId id;
    std::memcpy(&id, bytes.data(), sizeof id);
    return std::make_shared<ProcessGroupNCCL>(bootstrap.rank(), bootstrap.size(), id,
                                              device < 0 ? local_device() : device, options);
  }

  /// A group of this process alone on `device` (collectives still go through NCCL).
  static std::shared_ptr<ProcessGroupNCCL> single(int device = 0, Options options = {}) {
    return std::make_shared<ProcessGroupNCCL>(0, 1, unique_id(), device, options);
  }

  /// Joins the group: blocks until all `size` ranks have called it with the same `id`. Throws
  /// `ember::Error` for a bad rank/size/device or when NCCL cannot connect the ranks.
  ProcessGroupNCCL(int rank, int size, const ncclUniqueId& id, int device, Options options = {})
      : rank_(rank), size_(size), device_(device), options_(options) {
    EMBER_CHECK(size >= 1 && rank >= 0 && rank < size, "ProcessGroupNCCL: rank ", rank,
                " is not in a group of ", size);
    EMBER_CHECK(options.timeout_seconds() > 0, "ProcessGroupNCCL: timeout_seconds must be > 0, "
                "found ", options.timeout_seconds());
    const int count = ember::cuda::device_count();
    EMBER_CHECK(device >= 0 && device < count, "ProcessGroupNCCL: device ", device, " does not "
                "exist (this machine has ", count, " CUDA device(s))");
    backend::cuda::DeviceGuard guard(device_);
    EMBER_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
    EMBER_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    EMBER_CUDA_CHECK(cudaMalloc(&barrier_buffer_, sizeof(float)));
    EMBER_CUDA_CHECK(cudaMemset(barrier_buffer_, 0, sizeof(float)));
    watchdog_ = std::thread([this] { watch(); });
  }

  /// Waits (at most timeout_seconds) for the collectives in flight, then releases the
  /// communicator. Destroy the group before the program returns from main: the CUDA runtime
  /// may already be gone when static objects are destroyed.
  ~ProcessGroupNCCL() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    int previous = 0;
    const bool restore = cudaGetDevice(&previous) == cudaSuccess;
    (void)cudaSetDevice(device_);  // destructors never throw: errors are ignored from here on
    if (comm_ != nullptr) (void)ncclCommDestroy(comm_);  // null after an abort
    if (!orphans_.empty() && cudaStreamQuery(stream_) != cudaSuccess)
      for (auto& keep : orphans_) new std::shared_ptr<void>(std::move(keep));  // leak, never reuse
    for (cudaEvent_t e : free_events_) (void)cudaEventDestroy(e);
    if (barrier_buffer_ != nullptr) (void)cudaFree(barrier_buffer_);
    if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
    if (restore) (void)cudaSetDevice(previous);
  }
  ProcessGroupNCCL(const ProcessGroupNCCL&) = delete;
  ProcessGroupNCCL& operator=(const ProcessGroupNCCL&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "nccl"; }
  /// This rank's GPU.
  int device() const { return device_; }
  const Options& options() const { return options_; }

  /// NCCL has no barrier: an all-reduce of one float, as PyTorch does.
  std::shared_ptr<Work> barrier() override {
    return enqueue("barrier", nullptr, [this](cudaStream_t s) {
      return ncclAllReduce(barrier_buffer_, barrier_buffer_, 1, ncclFloat32, ncclSum, comm_, s);
    });
  }

 protected:
  std::shared_ptr<Work> all_reduce_impl(Buffer t, ReduceOp op) override {
    check_device(t, "all_reduce");
    return enqueue("all_reduce", t.keep, [this, t, op](cudaStream_t s) {
      return ncclAllReduce(t.data, t.data, size_t(t.count), nccl_type(t.type), nccl_op(op), comm_, s);
    });
  }
  std::shared_ptr<Work> broadcast_impl(Buffer t, int src) override {
    check_device(t, "broadcast");
    return enqueue("broadcast", t.keep, [this, t, src](cudaStream_t s) {
      return ncclBroadcast(t.data, t.data, size_t(t.count), nccl_type(t.type), src, comm_, s);
    });
  }
  std::shared_ptr<Work> all_gather_impl(Buffer out, Buffer in) override {
    check_device(out, "all_gather");
    check_device(in, "all_gather");
    auto keep = std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(
        out.keep, in.keep);
    return enqueue("all_gather", keep, [this, out, in](cudaStream_t s) {
      return ncclAllGather(in.data, out.data, size_t(in.count), nccl_type(in.type), comm_, s);
    });
  }
  std::shared_ptr<Work> reduce_scatter_impl(Buffer out, Buffer in, ReduceOp op) override {
    check_device(out, "reduce_scatter");
    check_device(in, "reduce_scatter");
    auto keep = std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(
        out.keep, in.keep);
    return enqueue("reduce_scatter", keep, [this, out, in, op](cudaStream_t s) {
      return ncclReduceScatter(in.data, out.data, size_t(out.count), nccl_type(in.type),
                               nccl_op(op), comm_, s);
    });
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Job {
    const char* op;
    cudaEvent_t done;
    std::shared_ptr<Work> work;
    std::shared_ptr<void> keep;  // the tensors, alive until the collective has run
    Clock::time_point deadline;
  };

  static int local_device() {
    const int count = ember::cuda::device_count();
    EMBER_CHECK(count > 0, "ProcessGroupNCCL: no CUDA device");
    for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "LOCAL_RANK", "MPI_LOCALRANKID"})
      if (const char* v = std::getenv(name)) return std::atoi(v) % count;
    return 0;
  }

  void check_device(const Buffer& b, const char* op) const {
    EMBER_CHECK(b.device.is_cuda() && b.device.index == device_, op, ": this NCCL group "
                "exchanges tensors on cuda:", device_, ", found one on ", b.device);
  }

  // Queues `launch` (the NCCL call) on the communication stream behind the work queued so far
  // on ember's current stream, and hands its end to the watchdog.
  template <class Launch>
  std::shared_ptr<Work> enqueue(const char* op, std::shared_ptr<void> keep, Launch&& launch) {
    backend::cuda::DeviceGuard guard(device_);
    std::unique_lock<std::mutex> lock(mutex_);
    EMBER_CHECK(failed_.empty(), "ProcessGroupNCCL: ", op, " on a communicator that was aborted "
                "after an earlier failure (", failed_, ")");
    EMBER_CHECK(!stopping_, "ProcessGroupNCCL: the group is shutting down");
    cudaEvent_t ready = take_event(), done = take_event();
    EMBER_CUDA_CHECK(cudaEventRecord(ready, backend::cuda::current_stream(device_)));
    EMBER_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready, 0));
    free_events_.push_back(ready);  // reusable at once: the wait above captured its state
    auto work = std::make_shared<Work>();  // allocations before the launch: nothing may throw
    jobs_.emplace_back();                   // between a launched collective and its tracking
    const ncclResult_t r = launch(stream_);
    if (r != ncclSuccess) {
      jobs_.pop_back();
      free_events_.push_back(done);
      EMBER_FAIL("ProcessGroupNCCL: ", op, " failed with ", ncclGetErrorString(r), " (",
                 ncclGetLastError(comm_), ")");
    }
    const auto timeout = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options_.timeout_seconds()));
    jobs_.back() = {op, done, work, std::move(keep), Clock::now() + timeout};
    const cudaError_t recorded = cudaEventRecord(done, stream_);
    if (recorded != cudaSuccess) {  // the collective runs but its end cannot be seen
      (void)cudaGetLastError();
      fail_all(std::string("rank ") + std::to_string(rank_) + ": cannot record the end of " + op +
               " (" + cudaGetErrorName(recorded) + ")");
    }
    lock.unlock();
    cv_.notify_all();
    return work;
  }

  cudaEvent_t take_event() {  // under mutex_
    if (!free_events_.empty()) {
      cudaEvent_t e = free_events_.back();
      free_events_.pop_back();
      return e;
    }
    cudaEvent_t e = nullptr;
    EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return e;
  }

  // The watchdog: completes the collectives in order as their end events pass; on an NCCL
  // error or a timeout, aborts the communicator and fails every pending collective. It looks
  // every 20 µs at first and backs off to every 1 ms while a collective takes long, so a long
  // all-reduce does not cost a core of polling.
  void watch() {
    (void)cudaSetDevice(device_);
    std::unique_lock<std::mutex> lock(mutex_);
    std::chrono::microseconds pause(20);
    for (;;) {
      if (jobs_.empty()) {
        if (stopping_) return;
        cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        continue;
      }
      Job& job = jobs_.front();
      const cudaError_t q = cudaEventQuery(job.done);
      if (q == cudaSuccess) {
        Job finished = std::move(job);
        jobs_.pop_front();
        free_events_.push_back(finished.done);
        pause = std::chrono::microseconds(20);
        lock.unlock();
        finished.work->finish();
        finished.keep.reset();
        lock.lock();
        continue;
      }
      std::string problem;
      ncclResult_t async = ncclSuccess;
      if (q != cudaErrorNotReady) {
        (void)cudaGetLastError();
        problem = std::string("CUDA error ") + cudaGetErrorName(q) + " while waiting for " + job.op;
      } else if (ncclCommGetAsyncError(comm_, &async) == ncclSuccess && async != ncclSuccess &&
                 async != ncclInProgress) {
        problem = std::string("NCCL reported ") + ncclGetErrorString(async) + " during " + job.op +
                  " (" + ncclGetLastError(comm_) + ")";
      } else if (Clock::now() > job.deadline) {
        problem = std::string(job.op) + " did not complete within " +
                  std::to_string(options_.timeout_seconds()) + " s (a rank died, or the ranks " +
                  "called different collectives)";
      }
      if (!problem.empty()) {
        fail_all("rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " + problem);
        continue;
      }
      // Not done yet: look again shortly (or sooner when a new collective arrives).
      cv_.wait_for(lock, pause);
      pause = std::min(pause * 2, std::chrono::microseconds(1000));
    }
  }

  // Under mutex_: aborts the communicator and fails every pending collective. Their tensors are
  // not released: a collective queued behind its ready event may still run on the
  // communication stream after the abort, and the caching allocator would hand its memory to
  // the compute stream at once. They are kept until the destructor finds the stream idle.
  void fail_all(const std::string& message) {
    failed_ = message;
    (void)ncclCommAbort(comm_);  // ends the kernels still waiting for peers
    comm_ = nullptr;
    auto error = std::make_exception_ptr(Error("ProcessGroupNCCL: " + message));
    for (Job& j : jobs_) {
      orphans_.push_back(std::move(j.keep));
      j.work->finish(error);
    }
    jobs_.clear();
  }

  static ncclDataType_t nccl_type(Datatype t) {
    switch (t) {
      case Datatype::Float32:
        return ncclFloat32;
      case Datatype::Float64:
        return ncclFloat64;
      case Datatype::Int64:
        return ncclInt64;
    }
    return ncclFloat32;
  }
  static ncclRedOp_t nccl_op(ReduceOp op) {
    switch (op) {
      case ReduceOp::Sum:
        return ncclSum;
      case ReduceOp::Average:
        return ncclAvg;
      case ReduceOp::Max:
        return ncclMax;
    }
    return ncclSum;
  }

  int rank_, size_, device_;
  Options options_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  void* barrier_buffer_ = nullptr;
  std::thread watchdog_;
  std::mutex mutex_;  // guards jobs_, free_events_, failed_, stopping_, and every NCCL call
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<cudaEvent_t> free_events_;
  std::vector<std::shared_ptr<void>> orphans_;  // tensors of collectives failed by an abort
  std::string failed_;
  bool stopping_ = false;
};

}  // namespace ember::distributed
