// ember/distributed/mpi.hpp — the MPI backend of `ProcessGroup` (CPU tensors), on the MPI library
// the program links (OpenMPI from Debian: `libopenmpi-dev`, launched by `mpirun`).
//
//   auto group = ember::distributed::ProcessGroupMPI::world();   // MPI_COMM_WORLD
//   group->all_reduce(grad, ReduceOp::Average)->wait();
//
// Threads. The collectives run on one worker thread per group, in the order they were called
// (a FIFO queue), so a caller can start an all-reduce and go on computing — what lets
// DistributedDataParallel overlap communication with the backward pass. MPI is initialized with
// MPI_THREAD_SERIALIZED: only the worker calls MPI between `world()` and the end of the
// program, when the group's destructor drains the queue, joins the worker and calls
// MPI_Finalize (if ember initialized MPI).
//
// Failures. MPI's default error handler (MPI_ERRORS_ARE_FATAL) stays: an MPI error, or a rank
// that died mid-collective, ends the whole job through `mpirun` rather than leaving ranks
// waiting. A rank that hits an error of its own calls `abort(message)`, which prints the
// message with its rank and calls MPI_Abort, so `mpirun` stops every rank with a non-zero exit.
// Compiled only with MPI (CMake: `find_package(MPI)`, target `MPI::MPI_CXX`; ember defines
// EMBER_HAVE_MPI when it links it).
#pragma once

#include <ember/distributed/process_group.hpp>

#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace ember::distributed {

class ProcessGroupMPI final : public ProcessGroup {
 public:
  /// The group of every process `mpirun` started (MPI_COMM_WORLD). Initializes MPI on the first
  /// call (MPI_Init_thread, MPI_THREAD_SERIALIZED); later calls return the same group. A program
  /// started without `mpirun` is a group of one. Throws `ember::Error` if the MPI library cannot
  /// give the thread support the worker needs.
  static std::shared_ptr<ProcessGroupMPI> world() {
    static std::shared_ptr<ProcessGroupMPI> group(new ProcessGroupMPI());
    return group;
  }

  ~ProcessGroupMPI() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (initialized_here_ && !finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }

  std::shared_ptr<Work> barrier() override {
    return enqueue(nullptr, [this] { MPI_Barrier(MPI_COMM_WORLD); });
  }

  /// Prints "error (rank R of N): message" on stderr and ends every rank of the job
  /// (MPI_Abort with `code`); does not return. For a rank that cannot go on: the others would
  /// otherwise wait forever in their next collective.
  [[noreturn]] void abort(const std::string& message, int code = 1) const {
    std::fprintf(stderr, "error (rank %d of %d): %s\n", rank_, size_, message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::abort();  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 protected:
  std::shared_ptr<Work> all_reduce_impl(Buffer t, ReduceOp op) override {
    check_cpu(t, "all_reduce");
    return enqueue(t.keep, [this, t, op] {
      MPI_Allreduce(MPI_IN_PLACE, t.data, count(t), mpi_type(t.type), mpi_op(op), MPI_COMM_WORLD);
      if (op == ReduceOp::Average) divide(t, size_);
    });
  }
  std::shared_ptr<Work> broadcast_impl(Buffer t, int src) override {
    check_cpu(t, "broadcast");
    return enqueue(t.keep, [t, src] {
      MPI_Bcast(t.data, count(t), mpi_type(t.type), src, MPI_COMM_WORLD);
    });
  }
  std::shared_ptr<Work> all_gather_impl(Buffer out, Buffer in) override {
    check_cpu(out, "all_gather");
    check_cpu(in, "all_gather");
    auto keep = std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(
        out.keep, in.keep);
    return enqueue(keep, [out, in] {
      MPI_Allgather(in.data, count(in), mpi_type(in.type), out.data, count(in), mpi_type(out.type),
                    MPI_COMM_WORLD);
    });
  }
  std::shared_ptr<Work> reduce_scatter_impl(Buffer out, Buffer in, ReduceOp op) override {
    check_cpu(out, "reduce_scatter");
    check_cpu(in, "reduce_scatter");
    auto keep = std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(
        out.keep, in.keep);
    return enqueue(keep, [this, out, in, op] {
      MPI_Reduce_scatter_block(in.data, out.data, count(out), mpi_type(in.type), mpi_op(op),
                               MPI_COMM_WORLD);
      if (op == ReduceOp::Average) divide(out, size_);
    });
  }

 private:
  ProcessGroupMPI() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    int provided = MPI_THREAD_SINGLE;
    if (!initialized) {
      // The worker waits inside MPI while the rank computes. OpenMPI polls at full speed by
      // default, which takes a core from the computation when ranks and threads share cores
      // (measured on 2 cores, 2 ranks: DDP step 842 -> 798 ms with yielding); ask it to yield
      // unless the user chose otherwise.
      setenv("OMPI_MCA_mpi_yield_when_idle", "1", /*overwrite=*/0);
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
      initialized_here_ = true;
    } else {
      MPI_Query_thread(&provided);
    }
    EMBER_CHECK(provided >= MPI_THREAD_SERIALIZED, "ProcessGroupMPI: the MPI library gives thread "
                "level ", provided, ", but the collectives' worker thread needs "
                "MPI_THREAD_SERIALIZED (", int(MPI_THREAD_SERIALIZED), ")");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    worker_ = std::thread([this] { run(); });
  }

  // The worker: runs the queued collectives one by one, in order.
  void run() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left to do
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        job.run();
        job.work->finish();
      } catch (...) {
        job.work->finish(std::current_exception());
      }
    }
  }

  struct Job {
    std::function<void()> run;
    std::shared_ptr<Work> work;
    std::shared_ptr<void> keep;  // the tensors, alive until the collective is done
  };
  std::shared_ptr<Work> enqueue(std::shared_ptr<void> keep, std::function<void()> run) {
    auto work = std::make_shared<Work>();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      EMBER_CHECK(!stopping_, "ProcessGroupMPI: the group is shutting down");
      queue_.push_back({std::move(run), work, std::move(keep)});
    }
    queue_cv_.notify_one();
    return work;
  }

  static void check_cpu(const Buffer& b, const char* op) {
    EMBER_CHECK(b.device.is_cpu(), op, ": the MPI backend exchanges CPU tensors, found one on ",
                b.device, " (GPU tensors need the NCCL backend)");
    EMBER_CHECK(b.count <= int64_t(INT32_MAX), op, ": ", b.count, " elements exceed MPI's int "
                "count; split the tensor");
  }
  static int count(const Buffer& b) { return static_cast<int>(b.count); }
  static MPI_Datatype mpi_type(Datatype t) {
    switch (t) {
      case Datatype::Float32:
        return MPI_FLOAT;
      case Datatype::Float64:
        return MPI_DOUBLE;
      case Datatype::Int64:
        return MPI_INT64_T;
    }
    return MPI_DATATYPE_NULL;
  }
  static MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::Max ? MPI_MAX : MPI_SUM; }
  static void divide(const Buffer& b, int n) {
    if (b.type == Datatype::Float32) {
      float* p = static_cast<float*>(b.data);
      std::for_each(p, p + b.count, [n](float& v) { v /= float(n); });
    } else if (b.type == Datatype::Float64) {
      double* p = static_cast<double*>(b.data);
      std::for_each(p, p + b.count, [n](double& v) { v /= double(n); });
    }
  }

  int rank_ = 0, size_ = 1;
  bool initialized_here_ = false;
  std::mutex mutex_;
  std::condition_variable queue_cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace ember::distributed
