// ember/backend/backend.hpp — the seam between the ops and the backends: the one way an op
// reaches a kernel.
//
//   backend::kernels<T>(device, op).layer_norm_forward(...)   the kernel table of `device`
//   backend::runtime(device, op).copy_strided(...)           element-size services of `device`
//
// The CPU tables are built at first use (backend/cpu/kernels.hpp); the CUDA tables exist when a
// translation unit compiled by nvcc includes <ember/cuda.hpp> (backend/cuda/kernels.cuh), and
// reaching them otherwise throws `ember::Error` naming `op`. For an element type a backend has no
// kernels for (integer tensors on the GPU), `kernels<T>` returns a table of null entries and the
// op falls back — the ops test `if (k.compare)` rather than the device.
#pragma once

#include <ember/backend/cpu/kernels.hpp>
#include <ember/backend/device_runtime.hpp>
#include <ember/backend/kernel_list.hpp>
#include <ember/backend/types.hpp>
#include <ember/core/device.hpp>
#include <ember/core/error.hpp>

namespace ember::backend {

/// The kernel table of `device` for element type T (see the header comment).
template <class T>
inline const Kernels<T>& kernels(Device device, const char* op) {
  if (device.is_cpu()) return cpu::kernel_table<T>();
  cuda_runtime(op);  // throws without the CUDA backend
  if (const Kernels<T>* k = detail::cuda_kernels_slot<T>()) return *k;
  static const Kernels<T> none;  // no CUDA kernels for this element type: every entry null
  return none;
}

/// The element-type-independent services of `device`.
inline DeviceRuntime& runtime(Device device, const char* op) {
  if (device.is_cpu()) return cpu::runtime();
  return cuda_runtime(op);
}

}  // namespace ember::backend
