// ember/backend/dispatch.hpp — the one place an op picks the CPU or the CUDA kernel.
//
// Ops check their inputs once, then call a kernel by name: `EMBER_DISPATCH(x.device(), T, op,
// softmax_forward, args...)` runs `backend::cpu::softmax_forward(args...)` for a CPU tensor and
// the CUDA backend's `softmax_forward(args...)` for a CUDA tensor (backend/cuda/interface.hpp;
// throws `ember::Error` naming `op` if the program was built without the CUDA backend). The two
// kernels have the same signature and the same semantics; the CUDA test suite checks that.
#pragma once

#include <ember/backend/cuda/interface.hpp>

#define EMBER_DISPATCH(device, T, op, fn, ...)                       \
  ((device).is_cuda() ? ::ember::backend::cuda::kernels<T>(op).fn(__VA_ARGS__) \
                      : ::ember::backend::cpu::fn(__VA_ARGS__))
