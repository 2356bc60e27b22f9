// ember/core/device.hpp — where a tensor's memory lives: the CPU, or CUDA device n.
//
// The device is a run-time property of a tensor (ARCHITECTURE.md, decision 1), as in PyTorch:
// `model.to(Device::cuda(0))` moves a model without changing its C++ type.
#pragma once

#include <ostream>
#include <string>

namespace ember {

enum class DeviceType { CPU, CUDA };

/// A device: `Device::cpu()` or `Device::cuda(index)`.
struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }

  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  friend bool operator==(Device a, Device b) { return a.type == b.type && a.index == b.index; }
  friend bool operator!=(Device a, Device b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& os, Device d) { return os << d.str(); }
};

}  // namespace ember
