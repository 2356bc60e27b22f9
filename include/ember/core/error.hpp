// ember/core/error.hpp — the one exception type ember throws, and the check macros that build it.
//
// Every user-facing failure (a wrong shape, a malformed file, a missing key) is an `ember::Error`
// thrown at the API boundary, with a message that says which operation failed, what it expected
// and what it found. Internal invariants use EMBER_ASSERT, which is compiled out in release builds.
#pragma once

#include <cassert>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ember {

/// The exception type of ember: a `std::runtime_error` whose message a user can act on.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
inline std::string str_cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace ember

/// Throws `ember::Error` with the streamed arguments as message when `cond` is false.
/// Usage: `EMBER_CHECK(a.dim() == 2, "matmul: expected a 2-D tensor, found ", a.shape());`
#define EMBER_CHECK(cond, ...)                                     \
  do {                                                             \
    if (!(cond)) throw ::ember::Error(::ember::detail::str_cat(__VA_ARGS__)); \
  } while (0)

/// Throws `ember::Error` unconditionally with the streamed arguments as message.
#define EMBER_FAIL(...) throw ::ember::Error(::ember::detail::str_cat(__VA_ARGS__))

/// Internal invariant; compiled out with NDEBUG. Never used for user input.
#define EMBER_ASSERT(cond) assert(cond)
