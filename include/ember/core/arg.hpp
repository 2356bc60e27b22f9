// ember/core/arg.hpp — `EMBER_ARG`, the chainable option of every options struct in ember
// (nn, data, optim, train, models): LibTorch's TORCH_ARG. One style for all of them:
// `DataLoaderOptions().batch_size(32).shuffle(true)`, `opts.batch_size()` to read.
#pragma once

/// Declares a chainable option `name` of type `T` in an options struct (LibTorch's TORCH_ARG):
/// `opts.name(value)` sets it and returns the options, `opts.name()` reads it. Usage:
/// `EMBER_ARG(bool, bias) = true;` inside a struct.
#define EMBER_ARG(T, name)                           \
 public:                                             \
  auto& name(T const& new_##name) {                  \
    this->name##_ = new_##name;                      \
    return *this;                                    \
  }                                                  \
  T const& name() const noexcept { return name##_; } \
                                                     \
 private:                                            \
  T name##_
