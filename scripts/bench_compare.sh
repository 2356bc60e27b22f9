#!/usr/bin/env bash
# ember vs LibTorch 1.13 on BERT models (benchmarks/bench_model.cpp, benchmarks/bench_libtorch.cpp):
# builds both benchmarks, runs them alternately (ember, LibTorch, ember, ...) with the same thread
# count and environment, and prints per case the medians over all repetitions of all rounds:
# ember ms, LibTorch ms, ember ÷ LibTorch, and each side's matmul GFLOP/s. The last line is
#   geomean ratio ember/libtorch: X
# over the encoder-layer forward, encoder-layer forward+backward and MiniLM training-step cases.
# Results: docs/performance.md, "BERT models vs LibTorch".
#
#   scripts/bench_compare.sh [--threads N] [--rounds R] [--build-dir DIR] [--out DIR]
#                            [--no-rss] [--no-chrt] [--no-build] [--filter REGEX] [--scaling]
#     --threads N   threads for both libraries (default 2); also OMP_NUM_THREADS
#     --rounds R    processes per library, alternating (default 2); each runs 3 repetitions
#     --build-dir   default build/bench (the "bench" preset's directory and options)
#     --out DIR     where the JSON files go (default <build-dir>/bench-compare, or
#                   <build-dir>/bench-scaling-t<N> with --scaling)
#     --no-rss      skip the peak-RSS runs (the training step alone under /usr/bin/time -v)
#     --filter RE   only the cases matching RE (Google Benchmark's --benchmark_filter); default:
#                   the comparison cases (model forward, layer forward and forward+backward,
#                   training step), not the scaling grid
#     --scaling     the scaling grid instead: the BERT-base layer, forward and forward+backward,
#                   batch 1/8/32 × seq 64/128/256/512 (implies --no-rss; run once per --threads)
#     --no-build    use the binaries already in --build-dir
#     --no-chrt     do not run under `chrt -f 50` (used by default when permitted: the VM is shared)
# Both run with OMP_WAIT_POLICY=PASSIVE (LibTorch's best configuration on 2 cores, see
# /work/shared/PERFORMANCE-NOTES.md). Needs LibTorch's CMake config (Debian: libtorch-dev).
# Takes about 3–5 minutes on 2 cores with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

threads=2 rounds=2 build_dir=build/bench out_dir="" rss=1 use_chrt=1 build=1 scaling=0
filter='^(bert_minilm_forward|layer_forward|layer_fwd_bwd|minilm_train_step)/'
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --out) out_dir="$2"; shift 2 ;;
    --no-rss) rss=0; shift ;;
    --no-chrt) use_chrt=0; shift ;;
    --no-build) build=0; shift ;;
    --filter) filter="$2"; shift 2 ;;
    --scaling) filter='^scaling_'; rss=0; scaling=1; shift ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "bench_compare: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ $scaling == 1 ]]; then
  out_dir=${out_dir:-$build_dir/bench-scaling-t$threads}
else
  out_dir=${out_dir:-$build_dir/bench-compare}
fi

if [[ $build == 1 ]]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_BENCHMARKS=ON \
        -DEMBER_BUILD_TESTS=OFF -DEMBER_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$build_dir" -j2 --target bench_model bench_libtorch
fi
ember_bin=$build_dir/benchmarks/bench_model
torch_bin=$build_dir/benchmarks/bench_libtorch
for b in "$ember_bin" "$torch_bin"; do
  [[ -x $b ]] || { echo "bench_compare: $b not built (is libtorch-dev installed?)" >&2; exit 1; }
done
mkdir -p "$out_dir"
rm -f "$out_dir"/ember-*.json "$out_dir"/libtorch-*.json "$out_dir"/*.log

prefix=()
if [[ $use_chrt == 1 ]] && chrt -f 50 true 2>/dev/null; then prefix=(chrt -f 50); fi
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$threads

echo "bench_compare: $(date -u '+%F %T UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)," \
     "threads $threads, rounds $rounds, ${prefix[*]:-no chrt}, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$rounds"); do
  for lib in ember libtorch; do
    bin=$ember_bin; [[ $lib == libtorch ]] && bin=$torch_bin
    echo "bench_compare: round $r, $lib (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    "${prefix[@]}" "$bin" --threads="$threads" --benchmark_repetitions=3 --benchmark_filter="$filter" \
      --benchmark_out="$out_dir/$lib-$r.json" --benchmark_out_format=json \
      >"$out_dir/$lib-$r.log" 2>&1
  done
done

rss_ember="" rss_torch=""
if [[ $rss == 1 && -x /usr/bin/time ]]; then
  for lib in ember libtorch; do
    bin=$ember_bin; [[ $lib == libtorch ]] && bin=$torch_bin
    kb=$( { "${prefix[@]}" /usr/bin/time -v "$bin" --threads="$threads" \
              --benchmark_filter=minilm_train_step >/dev/null; } 2>&1 |
          sed -n 's/.*Maximum resident set size (kbytes): //p')
    [[ $lib == ember ]] && rss_ember=$kb || rss_torch=$kb
  done
fi

python3 - "$out_dir" "$rounds" "$rss_ember" "$rss_torch" <<'EOF'
import json, math, statistics, sys
out_dir, rounds, rss_e, rss_t = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def load(lib):
    """{case: {round: [real_time ms per repetition]}}, {case: [GFLOP/s per repetition]}"""
    times, gflops = {}, {}
    for r in range(1, rounds + 1):
        with open(f"{out_dir}/{lib}-{r}.json") as f:
            data = json.load(f)
        for b in data["benchmarks"]:
            if b.get("run_type") != "iteration":
                continue
            name = b["run_name"].split("/iterations:")[0]
            assert b["time_unit"] == "ms"
            times.setdefault(name, {}).setdefault(r, []).append(b["real_time"])
            gflops.setdefault(name, []).append(b.get("GFLOP", float("nan")))
    return times, gflops

def allv(d):
    return [x for v in d.values() for x in v]

et, eg = load("ember")
tt, tg = load("libtorch")
names = [n for n in et if n in tt]
rows = [("case", "ember ms", "LibTorch ms", "ember/LibTorch", "per-round ratios",
         "ember GFLOP/s", "LibTorch GFLOP/s")]
ratios = {}
for n in names:
    e, t = statistics.median(allv(et[n])), statistics.median(allv(tt[n]))
    ratios[n] = e / t
    per_round = [statistics.median(et[n][r]) / statistics.median(tt[n][r])
                 for r in sorted(et[n]) if r in tt[n]]
    rows.append((n, f"{e:.1f}", f"{t:.1f}", f"{e / t:.2f}",
                 f"{min(per_round):.2f}-{max(per_round):.2f}",
                 f"{statistics.median(eg[n]):.0f}", f"{statistics.median(tg[n]):.0f}"))
widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for i, r in enumerate(rows):
    print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
    if i == 0:
        print("  ".join("-" * w for w in widths))
print(f"(medians over {rounds} processes x 3 repetitions per library; per-round ratios: round r's "
      f"ember median / round r's LibTorch median; JSON in {out_dir})")
if rss_e and rss_t:
    print(f"peak RSS, minilm_train_step alone: ember {int(rss_e) / 1024:.0f} MB, "
          f"LibTorch {int(rss_t) / 1024:.0f} MB")
sel = [n for n in names if n.startswith(("layer_forward/", "layer_fwd_bwd/", "minilm_train_step/"))]
if not sel:
    sel = names  # e.g. --scaling: the geomean over the cases run
geo = math.exp(sum(math.log(ratios[n]) for n in sel) / len(sel))
print(f"geomean ratio ember/libtorch: {geo:.2f}")
EOF
