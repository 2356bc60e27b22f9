# bench_cuda: the GPU benchmarks (nvcc; CUDA events for timing; docs/gpu.md). Included by
# benchmarks/CMakeLists.txt and, so that CI compiles and links it on every run, by the top-level
# CMakeLists.txt whenever tests are built and a CUDA compiler was found (there it is skipped when
# Google Benchmark is not installed).
if(EMBER_CUDA_FOUND AND NOT TARGET bench_cuda)
  find_package(benchmark QUIET)
  if(benchmark_FOUND)
    add_executable(bench_cuda ${PROJECT_SOURCE_DIR}/benchmarks/bench_cuda.cu)
    target_link_libraries(bench_cuda PRIVATE ember::cuda ember_warnings benchmark::benchmark)
    target_include_directories(bench_cuda PRIVATE ${PROJECT_SOURCE_DIR}/benchmarks)
  else()
    message(STATUS "ember: Google Benchmark not found; bench_cuda not built")
  endif()
endif()
