// ember/distributed/process_group.hpp — a group of processes that exchange tensors: the
// collectives of data-parallel training (PyTorch's `torch.distributed` ProcessGroup), each
// asynchronous, returning a `Work` to wait on.
//
//   all_reduce(t, op)          every rank's t becomes op over the ranks' t (Sum or Average)
//   broadcast(t, src)          every rank's t becomes rank src's t
//   all_gather(out, in)        out [size·n] = the ranks' in [n], in rank order
//   reduce_scatter(out, in)    out [n] on rank r = op over the ranks' in[r·n, (r+1)·n)
//   barrier()                  completes once every rank has called it
//
// The collectives of one group run one at a time, in the order they were called, and every rank
// must call the same collectives in the same order (MPI's and NCCL's rule). A tensor handed to a
// collective must stay untouched until its Work completes (the Work keeps it alive). Backends:
// MPI (CPU tensors, distributed/mpi.hpp) and NCCL (GPU tensors, distributed/nccl.hpp, nvcc). Errors (a rank that died, a bad buffer) surface from
// `Work::wait()` as `ember::Error`; a program that cannot go on should abort the whole job
// (`ProcessGroupMPI::abort`), never leave the other ranks waiting.
#pragma once

#include <ember/core/error.hpp>
#include <ember/tensor/tensor.hpp>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

namespace ember::distributed {

/// How all_reduce and reduce_scatter combine the ranks' values.
enum class ReduceOp {
  Sum,      ///< Σ over the ranks
  Average,  ///< Σ / size (floating-point tensors only): DDP's gradient average
  Max,      ///< the largest value (e.g. "did any rank stop?")
};

inline const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return "sum";
    case ReduceOp::Average:
      return "average";
    case ReduceOp::Max:
      return "max";
  }
  return "?";
}

/// A collective in flight. `wait()` blocks until it completes and rethrows its error.
class Work {
 public:
  /// Blocks until the collective has completed on this rank; throws its `ember::Error`.
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [&] { return done_; });
    if (error_) std::rethrow_exception(error_);
  }
  /// Whether it has completed (successfully or not), without blocking.
  bool is_completed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
  }
  /// For backends: marks the collective done (with its error, if any) and wakes the waiters.
  void finish(std::exception_ptr error = nullptr) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
      error_ = std::move(error);
    }
    done_cv_.notify_all();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::exception_ptr error_;
};

/// The element types a collective carries.
enum class Datatype { Float32, Float64, Int64 };

template <class T>
constexpr Datatype datatype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> ||
                    std::is_same_v<T, int64_t>,
                "collectives carry float, double or int64_t tensors");
  if constexpr (std::is_same_v<T, float>) return Datatype::Float32;
  if constexpr (std::is_same_v<T, double>) return Datatype::Float64;
  return Datatype::Int64;
}

/// A group of `size()` processes; this one is `rank()`. Subclasses implement the byte-level
/// collectives; the typed front end here checks the tensors.
class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// "mpi" or "nccl".
  virtual const char* backend() const = 0;

  /// In place: `tensor` (contiguous) becomes `op` over the ranks' tensors.
  template <class T>
  std::shared_ptr<Work> all_reduce(Tensor<T>& tensor, ReduceOp op = ReduceOp::Sum) {
    check(tensor, "all_reduce");
    constexpr bool integer = std::is_same_v<T, int64_t>;
    EMBER_CHECK(op != ReduceOp::Average || !integer,
                "all_reduce: average needs a floating-point tensor, found int64");
    return all_reduce_impl(buffer(tensor), op);
  }
  /// In place: `tensor` (contiguous) becomes rank `src`'s. Throws for src outside [0, size()).
  template <class T>
  std::shared_ptr<Work> broadcast(Tensor<T>& tensor, int src = 0) {
    check(tensor, "broadcast");
    EMBER_CHECK(src >= 0 && src < size(), "broadcast: src ", src, " is not a rank of a group of ",
                size());
    return broadcast_impl(buffer(tensor), src);
  }
  /// `output` (contiguous, size()·n elements) becomes the ranks' `input` (n elements), in rank
  /// order (PyTorch's all_gather_into_tensor).
  template <class T>
  std::shared_ptr<Work> all_gather(Tensor<T>& output, const Tensor<T>& input) {
    check(output, "all_gather");
    check(input, "all_gather");
    EMBER_CHECK(output.numel() == input.numel() * size(), "all_gather: output must hold size() x ",
                "input = ", size(), " x ", input.numel(), " elements, found ", output.numel());
    return all_gather_impl(buffer(output), buffer(input));
  }
  /// `output` (n elements) on rank r becomes `op` over the ranks' `input` (size()·n elements)
  /// elements [r·n, (r+1)·n) (PyTorch's reduce_scatter_tensor).
  template <class T>
  std::shared_ptr<Work> reduce_scatter(Tensor<T>& output, const Tensor<T>& input,
                                       ReduceOp op = ReduceOp::Sum) {
    check(output, "reduce_scatter");
    check(input, "reduce_scatter");
    EMBER_CHECK(input.numel() == output.numel() * size(), "reduce_scatter: input must hold "
                "size() x output = ", size(), " x ", output.numel(), " elements, found ",
                input.numel());
    constexpr bool integer = std::is_same_v<T, int64_t>;
    EMBER_CHECK(op != ReduceOp::Average || !integer,
                "reduce_scatter: average needs a floating-point tensor, found int64");
    return reduce_scatter_impl(buffer(output), buffer(input), op);
  }
  /// Completes once every rank has called it.
  virtual std::shared_ptr<Work> barrier() = 0;

 protected:
  /// A tensor's memory as the backends see it; `keep` holds the tensor alive.
  struct Buffer {
    void* data;
    int64_t count;
    Datatype type;
    Device device;
    std::shared_ptr<void> keep;
  };
  virtual std::shared_ptr<Work> all_reduce_impl(Buffer tensor, ReduceOp op) = 0;
  virtual std::shared_ptr<Work> broadcast_impl(Buffer tensor, int src) = 0;
  virtual std::shared_ptr<Work> all_gather_impl(Buffer output, Buffer input) = 0;
  virtual std::shared_ptr<Work> reduce_scatter_impl(Buffer output, Buffer input, ReduceOp op) = 0;

 private:
  template <class T>
  static void check(const Tensor<T>& t, const char* op) {
    EMBER_CHECK(t.defined(), op, ": the tensor is undefined");
    EMBER_CHECK(t.is_contiguous(), op, ": needs a contiguous tensor, found shape ", t.shape(),
                " with strides ", t.strides(), " (call .contiguous() and copy back)");
  }
  template <class T>
  static Buffer buffer(const Tensor<T>& t) {
    return {const_cast<T*>(t.data()), t.numel(), datatype_of<T>(), t.device(),
            std::make_shared<Tensor<T>>(t)};
  }
};

}  // namespace ember::distributed
