#!/usr/bin/env bash
# Raw inference, ember vs ONNX Runtime (issue #17): the same classifier, the same shapes (batch 32
# x seq 64, batch 1 x seq 16, batch 1 x seq 128), the same real SST-2 sentences padded to exactly
# that length, the same threads. ember: benchmarks/bench_inference (serve::InferenceModel::run,
# the path ember-serve runs, built with the user's Release flags); ONNX Runtime:
# tools/serve/bench_onnx.py on the model exported by tools/serve/export_onnx.py (checked against
# PyTorch to 1e-4). The two alternate, --rounds times each, one process at a time.
#
#   scripts/bench_inference.sh [--model DIR] [--threads N] [--rounds R] [--build-dir DIR]
# Needs: a build with -DEMBER_BUILD_BENCHMARKS=ON (default build/bench-release:
#   cmake -S . -B build/bench-release -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_BENCHMARKS=ON \
#     -DEMBER_BENCH_NATIVE=OFF && cmake --build build/bench-release --target bench_inference)
# and .venv-torch with onnx + onnxruntime (tools/setup_serve_python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
model="${EMBER_CACHE:-$HOME/.cache/ember}/models/minilm-sst2-quick"
threads=2 rounds=2 build=build/bench-release
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "bench_inference.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
py=.venv-torch/bin/python
onnx=build/serve-onnx/$(basename "$model").onnx
[ -x "$build/benchmarks/bench_inference" ] || { echo "bench_inference.sh: build $build/benchmarks/bench_inference first (see the header)" >&2; exit 2; }
[ -f "$onnx" ] || "$py" tools/serve/export_onnx.py --model "$model" --output "$onnx"
# ember-serve's OpenMP setting (apps/ember-serve/main.cpp): a short spin between parallel regions.
export GOMP_SPINCOUNT=10000
unset OMP_WAIT_POLICY
echo "== $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name: *//p'), $threads threads, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  "$build/benchmarks/bench_inference" --model "$model" --threads "$threads"
  "$py" tools/serve/bench_onnx.py --onnx "$onnx" --model "$model" --threads "$threads"
done | tee /tmp/bench_inference.$$.jsonl
python3 - /tmp/bench_inference.$$.jsonl <<'PY'
import json, sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    if line.startswith("{"):
        j = json.loads(line)
        rows[(j["batch"], j["seq"], j["runtime"])].append(j["ms_median"])
print("\n| batch x seq | ember ms | ONNX Runtime ms | ember / ORT time |")
print("|---|---|---|---|")
for b, s in sorted({(b, s) for b, s, _ in rows}, key=lambda x: (-x[0], x[1])):
    e, o = min(rows.get((b, s, "ember"), [float("nan")])), min(rows.get((b, s, "onnxruntime"), [float("nan")]))
    print(f"| {b} x {s} | {e:.2f} | {o:.2f} | {e / o:.2f} |")
print("(best median over the rounds)")
PY
rm -f /tmp/bench_inference.$$.jsonl
