// ember/backend/cuda/check.cuh — turning CUDA and cuBLAS status codes into `ember::Error`.
//
// Every CUDA runtime call returns a `cudaError_t`, every cuBLAS call a `cublasStatus_t`; an
// ignored code surfaces much later as a wrong result or as an unrelated failure of the next call.
// So every call in the backend goes through one of these macros, which throw `ember::Error` (as
// every other failure in ember, ARCHITECTURE.md decision 8) with the call's text, the error's
// name and its description, e.g.
//   CUDA error: cudaMalloc(&p, bytes) failed with cudaErrorMemoryAllocation (out of memory) at ...
//
// Kernel launches return nothing: a bad launch configuration is reported by the next
// `cudaGetLastError()`, which EMBER_CUDA_CHECK_LAUNCH() calls right after each `<<<...>>>`. (An
// error *inside* a running kernel, e.g. an illegal address, is reported asynchronously by a later
// synchronizing call, such as the copy to the host; compute-sanitizer finds where it happened.)
//
// Before throwing, the macros call `cudaGetLastError()` once more: that resets the runtime's
// "last error" for non-sticky errors (out of memory, invalid argument), so the device stays
// usable after the exception is caught. Sticky errors (illegal address, launch failure) corrupt
// the context; nothing but a process restart recovers from them.
#pragma once

#if !defined(__CUDACC__)
#error "ember/backend/cuda/*.cuh must be compiled by nvcc (include <ember/cuda.hpp>)"
#endif

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <ember/core/error.hpp>

namespace ember::backend::cuda::detail {

/// Throws the `ember::Error` of a failed CUDA runtime call (see the header comment).
[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* call, const char* file,
                                          int line) {
  (void)cudaGetLastError();  // clear a non-sticky error: the device stays usable
  EMBER_FAIL("CUDA error: ", call, " failed with ", cudaGetErrorName(err), " (",
             cudaGetErrorString(err), ") at ", file, ":", line);
}

/// Throws the `ember::Error` of a failed cuBLAS call.
[[noreturn]] inline void throw_cublas_error(cublasStatus_t st, const char* call, const char* file,
                                            int line) {
  (void)cudaGetLastError();
  EMBER_FAIL("cuBLAS error: ", call, " failed with ", cublasGetStatusName(st), " (",
             cublasGetStatusString(st), ") at ", file, ":", line);
}

}  // namespace ember::backend::cuda::detail

/// Evaluates a CUDA runtime call once; throws `ember::Error` unless it returned cudaSuccess.
#define EMBER_CUDA_CHECK(call)                                                         \
  do {                                                                                 \
    const cudaError_t ember_cuda_err_ = (call);                                        \
    if (ember_cuda_err_ != cudaSuccess)                                                \
      ::ember::backend::cuda::detail::throw_cuda_error(ember_cuda_err_, #call, __FILE__, \
                                                       __LINE__);                      \
  } while (0)

/// Evaluates a cuBLAS call once; throws `ember::Error` unless it returned CUBLAS_STATUS_SUCCESS.
#define EMBER_CUBLAS_CHECK(call)                                                           \
  do {                                                                                     \
    const cublasStatus_t ember_cublas_st_ = (call);                                        \
    if (ember_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                         \
      ::ember::backend::cuda::detail::throw_cublas_error(ember_cublas_st_, #call, __FILE__, \
                                                         __LINE__);                        \
  } while (0)

/// Place right after a `kernel<<<grid, block, shmem, stream>>>(...)`: throws if the launch
/// itself failed (bad configuration, no device, missing kernel image for this GPU).
#define EMBER_CUDA_CHECK_LAUNCH() EMBER_CUDA_CHECK(cudaGetLastError())
