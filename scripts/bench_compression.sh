#!/usr/bin/env bash
# The compression table of issue #18 (docs/compression.md): each model directory as it is (float)
# and saved in int8 by `bert_classification quantize` (into a temporary directory): SST-2 dev
# accuracy (bert_classification eval), latency at batch 1 x seq 32 and throughput at batch 32 x
# seq 64 (benchmarks/bench_inference: the same real SST-2 sentences padded to exactly each shape,
# the median of --runs timed runs), the encoder's heads and layers, and the size of
# model.safetensors on disk. Models are timed in turn, float and int8 alternating, --rounds
# times; the table gives the best median over the rounds.
#
#   scripts/bench_compression.sh [--threads N] [--rounds R] [--runs N] [--build-dir DIR]
#                                [--release-dir DIR] [--data TSV] NAME=DIR [NAME=DIR ...]
# Needs build/bench-release (bench_inference; see scripts/bench_int8.sh) and build/release
# (bert_classification). Numbers only mean something on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 rounds=2 runs=20 build=build/bench-release release=build/release
data=examples/data/sst2/dev.tsv
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --release-dir) release=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    *=*) models+=("$1"); shift ;;
    *) echo "bench_compression.sh: unknown argument $1 (expected NAME=DIR or an option)" >&2; exit 2 ;;
  esac
done
[ ${#models[@]} -gt 0 ] || { echo "bench_compression.sh: give at least one NAME=DIR" >&2; exit 2; }
bench=$build/benchmarks/bench_inference
cls=$release/examples/bert_classification
for f in "$bench" "$cls"; do
  [ -x "$f" ] || { echo "bench_compression.sh: $f is missing; build it first" >&2; exit 2; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $threads threads, $(date -u '+%Y-%m-%d %H:%M UTC')"
for m in "${models[@]}"; do
  name=${m%%=*} dir=${m#*=}
  "$cls" quantize --model "$dir" --output "$out/$name.int8" >/dev/null
  for q in 0 1; do
    d=$dir; [ $q = 1 ] && d=$out/$name.int8
    acc=$("$cls" eval --model "$d" --data "$data" --threads "$threads" | sed -n 's/^accuracy: //p')
    echo "$acc" > "$out/$name.$q.acc"
  done
done
for r in $(seq "$rounds"); do
  for m in "${models[@]}"; do
    name=${m%%=*} dir=${m#*=}
    for q in 0 1; do
      d=$dir; [ $q = 1 ] && d=$out/$name.int8
      "$bench" --model "$d" --data "$data" --shapes 1x32,32x64 --threads "$threads" \
        --runs "$runs" >> "$out/$name.$q.json"
    done
  done
done
python3 - "$out" "$threads" "${models[@]}" <<'PY'
import json, os, sys
out, threads, models = sys.argv[1], sys.argv[2], sys.argv[3:]
print("| model | layers | heads | int8 | SST-2 dev accuracy | batch 1 x 32 ms | batch 32 x 64 sentences/s | model.safetensors MB |")
print("|---|---:|---:|---|---:|---:|---:|---:|")
for m in models:
    name, d = m.split("=", 1)
    cfg = json.load(open(os.path.join(d, "config.json")))
    layers, heads = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    pruned = sum(len(v) for v in cfg.get("pruned_heads", {}).values())
    for q in ("0", "1"):
        size = os.path.getsize(os.path.join(d if q == "0" else os.path.join(out, name + ".int8"),
                                            "model.safetensors")) / 1e6
        best = {}
        for line in open(os.path.join(out, f"{name}.{q}.json")):
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            key = (r["batch"], r["seq"])
            best[key] = min(best.get(key, 1e30), r["ms_median"])
        acc = float(open(os.path.join(out, f"{name}.{q}.acc")).read() or "nan")
        print(f"| {name} | {layers} | {layers * heads - pruned} | {'yes' if q == '1' else 'no'} | "
              f"{100 * acc:.2f}% | {best[(1, 32)]:.2f} | {32e3 / best[(32, 64)]:.0f} | {size:.1f} |")
PY
