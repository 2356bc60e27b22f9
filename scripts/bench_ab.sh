#!/usr/bin/env bash
# Before/after: two builds of the same Google Benchmark program (e.g. bench_model of the previous
# commit and of this one), run alternately (A, B, A, B, ...) with the same threads and
# environment; prints per case the medians over all repetitions of all rounds, B ÷ A, the range
# of the per-round ratios, and the geomean of B ÷ A. Used for "no speed loss" checks
# (docs/performance.md).
#
#   scripts/bench_ab.sh A_BIN B_BIN [--threads N] [--rounds R] [--filter REGEX] [--out DIR]
#     --threads N   OMP_NUM_THREADS and the benchmark's --threads (default 2)
#     --rounds R    processes per binary, alternating (default 3); each runs 3 repetitions
#     --filter RE   Google Benchmark's --benchmark_filter (default: bench_model's comparison cases)
#     --out DIR     where the JSON files go (default a new temporary folder)
# Build B as a user's Release build does (`cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release
# -DEMBER_BUILD_BENCHMARKS=ON`), and A the same way from a checkout of the other commit.
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,14p' "$0"; exit 2; }
a_bin=$1 b_bin=$2
shift 2
threads=2 rounds=3 out_dir=""
filter='^(bert_minilm_forward|layer_forward|layer_fwd_bwd|minilm_train_step)/'
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --filter) filter="$2"; shift 2 ;;
    --out) out_dir="$2"; shift 2 ;;
    *) echo "bench_ab: unknown argument $1" >&2; exit 2 ;;
  esac
done
for b in "$a_bin" "$b_bin"; do [[ -x $b ]] || { echo "bench_ab: $b is not an executable" >&2; exit 1; }; done
out_dir=${out_dir:-$(mktemp -d)}
mkdir -p "$out_dir"
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$threads
echo "bench_ab: $(date -u '+%F %T UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)" \
     "(family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model" \
     "$(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')), threads $threads, rounds $rounds"
for r in $(seq 1 "$rounds"); do
  for side in A B; do
    bin=$a_bin; [[ $side == B ]] && bin=$b_bin
    echo "bench_ab: round $r, $side (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    "$bin" --threads="$threads" --benchmark_repetitions=3 --benchmark_filter="$filter" \
      --benchmark_out="$out_dir/$side-$r.json" --benchmark_out_format=json >"$out_dir/$side-$r.log" 2>&1
  done
done
python3 "$(dirname "$0")/bench_table.py" "$out_dir" "$rounds" A B A B
