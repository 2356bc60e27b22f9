#!/usr/bin/env bash
# Dynamic int8 inference, ember vs the stock int8 of PyTorch and ONNX Runtime (issue #18): the same
# classifier, the same shapes (batch 32 x seq 64, batch 1 x seq 32, batch 1 x seq 16), the same
# real SST-2 sentences padded to exactly that length, the same threads. ember: benchmarks/
# bench_inference --int8 0 and --int8 1 (serve::InferenceModel, Linear layers in int8 with
# activations quantized per call); PyTorch: torch.ao.quantization.quantize_dynamic on nn.Linear,
# x86 engine; ONNX Runtime: onnxruntime.quantization.quantize_dynamic (int8 weights per channel)
# of the model exported by tools/serve/export_onnx.py, and the float model for scale. The rivals
# are timed by tools/serve/bench_onnx.py --quantize-dynamic --torch-int8 (and plain, for float
# ORT). The four alternate, --rounds times each, one process at a time; the table gives the best
# median over the rounds. Accuracy of the same models: tools/serve/eval_int8_rivals.py (rivals)
# and bert_classification eval --int8 (ember).
#
#   scripts/bench_int8.sh [--model DIR] [--threads N] [--rounds R] [--build-dir DIR]
#                         [--shapes BxS,...] [--runs N] [--warmup N]
# (--runs/--warmup: timed and warm-up runs per shape, passed to both timers; bench_onnx.py wants
# --runs >= 20. Left out, each timer uses its own default.)
# Needs: a build with -DEMBER_BUILD_BENCHMARKS=ON (default build/bench-release:
#   cmake -S . -B build/bench-release -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_BENCHMARKS=ON \
#     -DEMBER_BENCH_NATIVE=OFF && cmake --build build/bench-release --target bench_inference)
# and .venv-torch with torch, transformers, onnx + onnxruntime (tools/setup_serve_python.sh).
# Numbers only mean something on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${EMBER_CACHE:-$HOME/.cache/ember}/models/minilm-sst2-quick"
threads=2 rounds=2 build=build/bench-release shapes=32x64,1x32,1x16
runs=() # extra timer options (--runs/--warmup), given to both timers
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --runs|--warmup) runs+=("$1" "$2"); shift 2 ;;
    *) echo "bench_int8.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
py=.venv-torch/bin/python
onnx=build/serve-onnx/$(basename "$model").onnx
[ -x "$build/benchmarks/bench_inference" ] || { echo "bench_int8.sh: build $build/benchmarks/bench_inference first (see the header)" >&2; exit 2; }
[ -f "$onnx" ] || "$py" tools/serve/export_onnx.py --model "$model" --output "$onnx"
# ember-serve's OpenMP setting (apps/ember-serve/main.cpp): a short spin between parallel regions.
export GOMP_SPINCOUNT=10000
unset OMP_WAIT_POLICY
out=$(mktemp /tmp/bench_int8.XXXXXX.jsonl)
trap 'rm -f "$out"' EXIT
echo "== $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name: *//p'), $threads threads, load $(cut -d' ' -f1-3 /proc/loadavg)"
# The first --quantize-dynamic run writes build/serve-onnx/<name>.int8.onnx (before its timing);
# later runs reuse it.
bench=("$build/benchmarks/bench_inference" --model "$model" --threads "$threads" --shapes "$shapes" ${runs[@]+"${runs[@]}"})
rivals=("$py" tools/serve/bench_onnx.py --onnx "$onnx" --model "$model" --threads "$threads" --shapes "$shapes" ${runs[@]+"${runs[@]}"})
for r in $(seq "$rounds"); do
  "${bench[@]}" --int8 0
  "${bench[@]}" --int8 1
  "${rivals[@]}" --quantize-dynamic --torch-int8
  "${rivals[@]}"
done | tee "$out"
python3 - "$out" <<'PY'
import json, sys, collections
rows, versions = collections.defaultdict(list), {}
for line in open(sys.argv[1]):
    if line.startswith("{"):
        j = json.loads(line)
        rows[(j["batch"], j["seq"], j["runtime"])].append(j["ms_median"])
        if "version" in j:
            versions[j["runtime"]] = j["version"] + (f", {j['engine']} engine" if "engine" in j else "")
best = lambda b, s, rt: min(rows.get((b, s, rt), [float("nan")]))
print("\n| batch x seq | ember fp32 ms | ember int8 ms | int8 speed-up | PyTorch int8 ms | ORT int8 ms | ORT fp32 ms |")
print("|---|---|---|---|---|---|---|")
for b, s in sorted({(b, s) for b, s, _ in rows}, key=lambda x: (-x[0], -x[1])):
    e, e8 = best(b, s, "ember"), best(b, s, "ember-int8")
    print(f"| {b} x {s} | {e:.2f} | {e8:.2f} | {e / e8:.2f}x | {best(b, s, 'pytorch-int8'):.2f} "
          f"| {best(b, s, 'onnxruntime-int8'):.2f} | {best(b, s, 'onnxruntime'):.2f} |")
print("(best median over the rounds; int8 speed-up = ember fp32 / ember int8; "
      + "; ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ")")
PY
