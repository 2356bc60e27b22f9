// ember/backend/cuda/stream.cuh — the current device and the current stream: where every kernel,
// copy and cuBLAS call of the backend is queued.
//
// Device. Like PyTorch and the CUDA runtime itself, the backend works on the *current* device of
// the calling thread (`cudaGetDevice`). The entry points that name a device (fill, copy_strided,
// synchronize) switch to it for the duration of the call with a `DeviceGuard`; the math kernels
// run on the current device, which the caller sets.
//
// Stream. Each device has one current stream, process-wide. It starts as the legacy default
// stream (0): work on it is ordered with every other library that uses the default stream, which
// is what a single-threaded training loop wants and what makes a stream-less program correct
// without thinking. A program that wants overlap creates its own stream and calls
// `ember::cuda::set_current_stream(s)`.
//
// Why one stream at a time matters: the caching allocator (allocator.cuh) hands a freed block to
// the next request at once, without waiting for the kernels that still read it. That is safe
// only because every later use of the block is queued behind those kernels on the same stream.
// So `set_current_stream` first waits for the old stream: no pending work of the old stream can
// then race with the new one (PyTorch tracks per-block streams instead; ember keeps it simple).
#pragma once

#include <atomic>

#include <cuda_runtime.h>

#include <ember/backend/cuda/check.cuh>

namespace ember::backend::cuda {

/// Most devices the per-device tables (streams, cuBLAS handles, statistics) hold.
inline constexpr int kMaxDevices = 64;

namespace detail {

/// The current stream of each device; zero-initialized = the legacy default stream.
inline std::atomic<cudaStream_t>* stream_table() {
  static std::atomic<cudaStream_t> table[kMaxDevices];
  return table;
}

/// The calling thread's current device (throws without a usable device or driver).
inline int current_device() {
  int d = 0;
  const cudaError_t err = cudaGetDevice(&d);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    EMBER_FAIL("CUDA: no usable device (cudaGetDevice failed with ", cudaGetErrorName(err), ": ",
               cudaGetErrorString(err), "); check ember::cuda::is_available() before using CUDA "
               "tensors");
  }
  EMBER_CHECK(d >= 0 && d < kMaxDevices, "CUDA: device ", d, " is beyond ember's limit of ",
              kMaxDevices, " devices");
  return d;
}

}  // namespace detail

/// The current stream of `device`.
inline cudaStream_t current_stream(int device) {
  return detail::stream_table()[device].load(std::memory_order_acquire);
}

/// The current stream of the current device: where every launch of the backend goes.
inline cudaStream_t current_stream() { return current_stream(detail::current_device()); }

/// Makes `stream` (0 = the legacy default stream) the current stream of the current device,
/// after waiting for the work queued on the previous one (see the header comment).
inline void set_current_stream(cudaStream_t stream) {
  const int d = detail::current_device();
  cudaStream_t old = detail::stream_table()[d].load(std::memory_order_acquire);
  if (old == stream) return;
  EMBER_CUDA_CHECK(cudaStreamSynchronize(old));
  detail::stream_table()[d].store(stream, std::memory_order_release);
}

/// Makes `device` current for its lifetime, then restores the previous device.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) : device_(device), prev_(detail::current_device()) {
    if (prev_ != device_) EMBER_CUDA_CHECK(cudaSetDevice(device_));
  }
  ~DeviceGuard() {
    if (prev_ != device_) (void)cudaSetDevice(prev_);  // destructors never throw
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int device_;
  int prev_;
};

}  // namespace ember::backend::cuda
