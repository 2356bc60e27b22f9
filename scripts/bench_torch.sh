#!/usr/bin/env bash
# ember vs current PyTorch on the CPU: bench_model (built as a user's Release build builds it:
# no -march=native, nothing set in the environment) alternating with tools/torch_cpu_bench.py
# (PyTorch 2.x + transformers from PyPI, their own BERT modules, sdpa attention) — same cases,
# same threads, processes alternating (ember, PyTorch, ember, ...). Prints per case the medians
# over all repetitions of all rounds, ember ÷ PyTorch, the per-round range, and the geomean over
# the six comparison cases. Results: docs/performance.md.
#
#   scripts/bench_torch.sh [--threads N] [--rounds R] [--build-dir DIR] [--no-build] [--native]
#                          [--seq-scaling] [--bf16]
#     --threads N   threads for both (default 2): OMP_NUM_THREADS, --threads, torch.set_num_threads
#     --rounds R    processes per library (default 3), each 3 repetitions
#     --build-dir   default build/bench-release (build/bench-native with --native)
#     --native      build bench_model with -march=native instead (the opt-in variant)
#     --seq-scaling the BERT-base layer at batch 8, seq 64, 128, 256, 512, forward and
#                   forward+backward, instead of the six cases
#     --bf16        bf16 products on both sides: bench_model --bf16 (MatmulPrecision::medium)
#                   against the same PyTorch steps under torch.autocast("cpu", torch.bfloat16)
# Needs tools/setup_torch_cpu.sh's .venv-torch (run it first; about 5 GB from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 rounds=3 build_dir="" build=1 native=OFF scaling=0 bf16=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --native) native=ON; shift ;;
    --seq-scaling) scaling=1; shift ;;
    --bf16) bf16=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bench_torch: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n $build_dir ]] || { [[ $native == ON ]] && build_dir=build/bench-native || build_dir=build/bench-release; }
py=.venv-torch/bin/python
[[ -x $py ]] || { echo "bench_torch: $py missing: run tools/setup_torch_cpu.sh" >&2; exit 1; }
if [[ $build == 1 ]]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_BENCHMARKS=ON \
        -DEMBER_BUILD_TESTS=OFF -DEMBER_BUILD_EXAMPLES=OFF -DEMBER_CUDA=OFF \
        -DEMBER_BENCH_NATIVE=$native >/dev/null
  cmake --build "$build_dir" -j2 --target bench_model
fi
out=$build_dir/bench-torch-t$threads
torch_args=()
if [[ $scaling == 1 ]]; then
  out=$build_dir/bench-torch-seq-t$threads
  torch_args=(--seq-scaling)
fi
ember_args=()
if [[ $bf16 == 1 ]]; then
  out=$out-bf16
  torch_args+=(--bf16)
  ember_args=(--bf16)
fi
mkdir -p "$out"
rm -f "$out"/*.json
filter='^(bert_minilm_forward|layer_forward|layer_fwd_bwd|minilm_train_step)/'
[[ $scaling == 1 ]] && filter='^scaling_(forward|fwd_bwd)/bert_base/B8xS'
export OMP_NUM_THREADS=$threads
echo "bench_torch: $(date -u '+%F %T UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)" \
     "(family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model" \
     "$(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')), threads $threads," \
     "rounds $rounds, bench_model -march=native: $native"
for r in $(seq 1 "$rounds"); do
  echo "bench_torch: round $r, ember (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  OMP_WAIT_POLICY=PASSIVE "$build_dir/benchmarks/bench_model" --threads="$threads" "${ember_args[@]}" \
    --benchmark_repetitions=3 --benchmark_filter="$filter" \
    --benchmark_out="$out/ember-$r.json" --benchmark_out_format=json >"$out/ember-$r.log" 2>&1
  echo "bench_torch: round $r, pytorch (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  "$py" tools/torch_cpu_bench.py --threads "$threads" --repetitions 3 "${torch_args[@]}" \
    --out "$out/pytorch-$r.json" >"$out/pytorch-$r.log" 2>&1
done
python3 scripts/bench_table.py "$out" "$rounds" pytorch ember PyTorch ember
