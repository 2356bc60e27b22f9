#!/usr/bin/env bash
# ember's main job in one command: install the system packages, build, and run the flagship
# example. Today: a two-layer MLP trained with ember's autograd (examples/01_mlp_spiral).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build/quickstart -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_TESTS=OFF >/dev/null
cmake --build build/quickstart -j "$(nproc)" --target mlp_spiral
OMP_WAIT_POLICY=PASSIVE ./build/quickstart/examples/mlp_spiral
