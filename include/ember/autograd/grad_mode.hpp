// ember/autograd/grad_mode.hpp — whether operations record the graph for backward.
//
// `NoGradGuard` turns recording off for a scope (inference, optimizer updates), as PyTorch's
// `torch::NoGradGuard` does. It restores the previous mode in its destructor, so the mode is
// restored even when an exception leaves the scope. The mode is per thread.
#pragma once

namespace ember {

namespace detail {
inline bool& grad_enabled_flag() {
  thread_local bool enabled = true;
  return enabled;
}
}  // namespace detail

/// True when operations on tensors that require grad record a backward graph (this thread).
inline bool is_grad_enabled() { return detail::grad_enabled_flag(); }
/// Turns graph recording on or off for this thread.
inline void set_grad_enabled(bool enabled) { detail::grad_enabled_flag() = enabled; }

/// RAII scope with graph recording off (exception-safe).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace ember
