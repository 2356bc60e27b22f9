// ember/core/threads.hpp — the one thread pool ember uses on the CPU: OpenMP.
//
// Eigen's GEMM and ember's own row-parallel kernels both run on OpenMP's threads, so two pools
// never fight over the cores (see docs/performance.md: on a 2-core machine spinning threads of
// a second pool can make "2 threads" slower than 1).
#pragma once

#include <ember/core/error.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember {

/// Number of threads ember's CPU kernels (and Eigen's GEMM) use.
inline int get_num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Sets the number of CPU threads (>= 1). Throws `ember::Error` for n < 1.
inline void set_num_threads(int n) {
  EMBER_CHECK(n >= 1, "set_num_threads: expected n >= 1, found ", n);
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

}  // namespace ember
