#!/usr/bin/env bash
# Installs everything ember's build, tests and examples need, from Debian's packages.
# Safe to run again: apt-get skips what is installed. Needs root (or sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
packages=(
  build-essential cmake git python3 python3-pip unzip curl
  libeigen3-dev          # CPU tensors and GEMM
  libopenblas-dev        # double GEMM behind Eigen (EMBER_USE_BLAS)
  libdnnl-dev            # oneDNN: float GEMM with kernels picked by the CPU (EMBER_USE_DNNL)
  ocl-icd-opencl-dev     # OpenCL headers + libOpenCL.so: oneDNN's CMake config requires them
                         # (only "recommended" by libdnnl-dev, and we install without recommends)
  nlohmann-json3-dev     # config.json, safetensors headers
  libutf8proc-dev        # tokenizer: Unicode normalization and categories
  libcli11-dev           # command-line examples
  doctest-dev            # tests
  libbenchmark-dev       # benchmarks
  libcpp-httplib-dev     # ember-serve: the HTTP server (apps/ember-serve)
  libopenmpi-dev openmpi-bin  # distributed training: MPI and mpirun (ember::distributed)
  wrk                    # ember-serve's load benchmark (scripts/bench_serve.sh)
  clang libomp-dev       # fuzz targets (scripts/fuzz.sh): clang, and LLVM's OpenMP runtime for it
  libclang-rt-14-dev     # libFuzzer + clang's ASan/UBSan runtimes (only "recommended" by clang)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all system packages present"
fi
