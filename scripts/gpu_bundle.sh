#!/usr/bin/env bash
# Builds the GPU check's three programs here (a machine with the CUDA toolkit and the Debian
# packages, no GPU needed) and gathers them, with the shared libraries a bare CUDA machine lacks,
# into one folder that can be copied to a GPU machine which has the driver, the CUDA runtime and
# cuBLAS but neither the Debian -dev packages nor the network to fetch them:
#
#   bash scripts/gpu_bundle.sh                 # → build/gpu-bundle/{bin,lib,source_dir}
#   (copy the repository and build/gpu-bundle to the GPU machine, then, in the repository root:)
#   EMBER_GPU_BUNDLE=build/gpu-bundle bash scripts/gpu_check.sh
#
# bin/: ember_test_cuda, bench_cuda, bert_classification_cuda (stripped; Release; the CPU side
#       without BLAS, as scripts/gpu_check.sh builds it; sm_90 unless EMBER_CUDA_ARCHS says else).
# lib/: the non-glibc libraries they load that a CUDA image may lack (utf8proc, Google
#       Benchmark, the CUDA runtime, libgomp, OpenMPI's). cuBLAS/cuBLASLt and NCCL are not
#       copied (hundreds of MB): gpu_check.sh finds the GPU machine's own (PyTorch's wheels
#       carry both) and adds their folders.
# source_dir: the absolute path of this checkout. The tests read their fixtures from the path
#       compiled into them (EMBER_TEST_DATA_DIR); gpu_check.sh links that path to the checkout
#       it runs in when it differs.
# The binaries need a glibc at least as new as this machine's (Debian 12: 2.36) on the GPU machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR="${EMBER_GPU_BUNDLE_BUILD_DIR:-build/gpu-bundle-build}"
BUNDLE=build/gpu-bundle
ARCHS="${EMBER_CUDA_ARCHS:-90}"
JOBS="${EMBER_BUILD_JOBS:-$(nproc)}"

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_BENCHMARKS=OFF \
  -DEMBER_USE_NCCL="${EMBER_GPU_BUNDLE_NCCL:-ON}" \
  -DEMBER_USE_BLAS=OFF -DEMBER_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target ember_test_cuda bench_cuda bert_classification_cuda

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/bin" "$BUNDLE/lib"
for name in ember_test_cuda bench_cuda bert_classification_cuda; do
  src=$(find "$BUILD_DIR" -maxdepth 3 -type f -name "$name" -perm -u+x | head -1)
  [ -n "$src" ] || { echo "gpu_bundle: $name was not built" >&2; exit 1; }
  cp "$src" "$BUNDLE/bin/$name"
  strip --strip-unneeded "$BUNDLE/bin/$name"
done
# Every library the programs load, except glibc's own, the C++ runtime (a newer one on the GPU
# machine serves), the driver, and cuBLAS.
for lib in $(ldd "$BUNDLE"/bin/* | awk '/=> \// {print $3}' | sort -u); do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libstdc++.so*|libgcc_s.so*) ;;
    libcuda.so*|libcublas.so*|libcublasLt.so*|libnccl.so*) ;;
    *) cp -L "$lib" "$BUNDLE/lib/" ;;
  esac
done
pwd >"$BUNDLE/source_dir"
du -sh "$BUNDLE"/bin/* "$BUNDLE"/lib/*
echo "bundle: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1))"
