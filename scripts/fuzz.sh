#!/usr/bin/env bash
# ember's libFuzzer campaigns (fuzz/, docs/fuzzing.md). Builds the fuzz preset (clang, ASan +
# UBSan + libFuzzer) and runs each target, one at a time, on its seed corpus.
#   scripts/fuzz.sh --smoke            every target, about 60 s in all, on a throw-away copy of
#                                      the committed corpus (CI: scripts/test.sh)
#   scripts/fuzz.sh [--runs N] [--time S] [TARGET...]
#                                      a campaign: N executions (default 10000000) per target,
#                                      at most S seconds each when --time is given, on a corpus kept in build/fuzz/corpus/TARGET
#                                      (seeded from fuzz/corpus/TARGET, grown run after run);
#                                      prints executions, exec/s, corpus size and coverage
# Targets: safetensors bert_config tokenizer text_dataset conll tokenizer_json bpe_files (default:
# all). A crash, a sanitizer report, a timeout (-timeout=10 s per input) or an input using over
# 2 GB (-rss_limit_mb) stops the target, leaves the input in build/fuzz/artifacts/TARGET/ and
# makes the script fail.
# Reproduce one: build/fuzz/fuzz/fuzz_TARGET build/fuzz/artifacts/TARGET/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
all_targets=(safetensors bert_config tokenizer text_dataset conll tokenizer_json bpe_files)
smoke=0 runs=10000000 seconds=0 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --runs) runs="$2"; shift ;;
    --time) seconds="$2"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

bin=build/fuzz/fuzz
common=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
printf '%-13s %12s %9s %8s %10s %6s %7s %8s\n' target executions exec/s seconds corpus cov ft rss_mb \
  > "$work/table"

for t in "${targets[@]}"; do
  [ -x "$bin/fuzz_$t" ] || { echo "fuzz.sh: no target '$t' (have: ${all_targets[*]})" >&2; exit 2; }
  artifacts="build/fuzz/artifacts/$t"
  mkdir -p "$artifacts"
  if [ "$smoke" = 1 ]; then
    corpus="$work/corpus_$t"
    cp -r "fuzz/corpus/$t" "$corpus"
    limit=(-max_total_time=$(( 48 / ${#targets[@]} )))
  else
    corpus="build/fuzz/corpus/$t"
    if [ ! -d "$corpus" ]; then mkdir -p "$corpus" && cp "fuzz/corpus/$t"/* "$corpus"/; fi
    limit=(-runs="$runs")
    if [ "$seconds" != 0 ]; then limit+=(-max_total_time="$seconds"); fi
  fi
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  echo "== fuzz_$t (${limit[*]}, corpus $corpus)"
  log="$work/$t.log"
  start=$(date +%s)
  if "$bin/fuzz_$t" "${common[@]}" "${dict[@]}" "${limit[@]}" -artifact_prefix="$artifacts/" \
      "$corpus" > "$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$t")
    grep -E 'ERROR|SUMMARY|runtime error|terminate|Test unit written' "$log" | head -20 || true
  fi
  elapsed=$(( $(date +%s) - start ))
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  files=$(find "$corpus" -type f | wc -l)
  kib=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s / 1024}')
  printf '%-13s %12s %9s %8s %10s %6s %7s %8s %s\n' "$t" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "$elapsed" "$files/${kib}K" "${cov:--}" "${ft:--}" \
    "$(stat peak_rss_mb)" "$status" >> "$work/table"
done

echo "== fuzzing summary (corpus: files/KiB)"
cat "$work/table"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]} (inputs in build/fuzz/artifacts/)" >&2
  exit 1
fi
