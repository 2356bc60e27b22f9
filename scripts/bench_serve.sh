#!/usr/bin/env bash
# ember-serve vs the Python service a user would deploy instead (tools/serve/python_service.py:
# FastAPI + uvicorn + a transformers pipeline on PyTorch), side by side under wrk load: same model,
# same compute threads, both on 127.0.0.1. For each K (sentences per request) and each concurrency
# (wrk connections) it runs wrk for --duration seconds against each server, alternating which goes
# first from cell to cell, and prints a markdown table: server, K, concurrency, sentences/s, p50 ms,
# p99 ms, errors (non-2xx + socket errors), with the CPU model and the date.
#
#   scripts/bench_serve.sh [--model DIR] [--threads N] [--duration S] [--quick] [options]
#     --model DIR      HF classifier directory, e.g. the output of `bert_classification train`
#                      (default ${EMBER_CACHE:-~/.cache/ember}/models/minilm-sst2-quick); a bare
#                      DIR argument means the same
#     --threads N      compute threads for both (default 2): ember-serve --threads N,
#                      python_service.py --threads N (torch.set_num_threads)
#     --duration S     seconds of wrk per cell (default 15); --quick: 3 s smoke run
#     --ks "1 8"       sentences per request (default "1 8")
#     --concurrency "1 8 32 128"   wrk connections (default "1 8 32 128")
#     --servers "ember python"     which to run (default both)
#     --binary PATH    ember-serve (default build/release/apps/ember-serve; this script builds nothing:
#                      cmake --build build/release --target ember-serve)
#     --ember-args "..."   extra ember-serve options (batching); --python-args "..." likewise
#     --server-env "K=V ..."   environment for both servers (default none, as a user starts them),
#                      e.g. "OMP_WAIT_POLICY=PASSIVE": spinning OpenMP workers compete with the
#                      HTTP threads and wrk on a small machine
#     --ember-port P / --python-port P   (defaults 8080 / 8081)
#     --data FILE      sentences (default examples/data/sst2/dev.tsv)
#     --out DIR        logs and raw results (default build/bench-serve/<UTC time>)
#
# Both servers are started once and kept running for the whole benchmark, one measured at a time:
# a service is long-running, so its steady state (warm allocator, caches, thread pools) is what
# users get, and restarting the Python side per cell would cost ~10-30 s of model loading per cell.
# The idle server only waits in accept/epoll; the script checks that it used (almost) no CPU while
# the other was measured and warns otherwise. Before each cell both servers must be idle (<= 10%
# of a core over 1 s): when wrk's time is up, a server may still be working off the requests that
# were in flight, and that must not overlap the next cell. Each server gets a short wrk warm-up after start,
# and each cell starts with one warm-up request that must answer 200.
# A cell where fewer than 2 x concurrency requests complete is flagged (wrk drops the requests in
# flight when the time is up, so sentences/s undercount there): raise --duration.
# wrk uses -t min(2, concurrency), --timeout 30s, --latency, tools/serve/predict.lua; it runs on the
# same cores as the servers. Numbers only mean something on an otherwise quiet machine: the
# script prints the load average and warns when the machine is busy.
# Needs: wrk, .venv-torch with fastapi/uvicorn (tools/setup_serve_python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

model="${EMBER_CACHE:-$HOME/.cache/ember}/models/minilm-sst2-quick"
threads=2 duration=15 quick=0 ks="1 8" concurrency="1 8 32 128" servers="ember python"
binary="" ember_args="" python_args="" server_env=""
eport=8080 pport=8081 data=examples/data/sst2/dev.tsv out=""
die() { echo "bench_serve: error: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --ks) ks="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --servers) servers="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --ember-args) ember_args="$2"; shift 2 ;;
    --python-args) python_args="$2"; shift 2 ;;
    --server-env) server_env="$2"; shift 2 ;;
    --ember-port) eport="$2"; shift 2 ;;
    --python-port) pport="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,43p' "$0"; exit 0 ;;
    -*) echo "bench_serve: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) model="$1"; shift ;;
  esac
done
[[ $quick == 1 ]] && duration=3
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer"
[[ $duration =~ ^[1-9][0-9]*$ ]] || die "--duration must be a positive integer (seconds)"
for k in $ks; do [[ $k =~ ^[1-9][0-9]*$ ]] || die "--ks: '$k' is not a positive integer"; done
for c in $concurrency; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "--concurrency: '$c' is not a positive integer"; done
for e in $server_env; do [[ $e == [A-Za-z_]*=* ]] || die "--server-env: '$e' is not NAME=VALUE"; done
for s in $servers; do [[ $s == ember || $s == python ]] || die "--servers: '$s' is neither ember nor python"; done
[[ -f $model/config.json ]] || die "$model is not a model directory (no config.json); pass --model DIR"
model=$(cd "$model" && pwd)
[[ -f $data ]] || die "no sentences file $data"
data=$(cd "$(dirname "$data")" && pwd)/$(basename "$data")
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v curl >/dev/null || die "curl is not installed"
py=$repo/.venv-torch/bin/python
want() { [[ " $servers " == *" $1 "* ]]; }
if want ember; then
  if [[ -z $binary ]]; then
    binary=build/release/apps/ember-serve
  fi
  [[ -f $binary && -x $binary ]] || die "$binary is missing: build it first (cmake --preset release && cmake --build build/release --target ember-serve), or pass --binary / --servers python"
fi
if want python; then
  [[ -x $py ]] || die "$py missing: run tools/setup_serve_python.sh"
  "$py" -c 'import fastapi, uvicorn, transformers, torch' 2>/dev/null ||
    die "$py lacks fastapi/uvicorn/transformers/torch: run tools/setup_serve_python.sh"
fi
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
want ember && port_busy "$eport" && die "port $eport is in use (--ember-port)"
want python && port_busy "$pport" && die "port $pport is in use (--python-port)"
out=${out:-build/bench-serve/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
results=$out/results.jsonl
: > "$results"

declare -A pid url
cleanup() {
  local s
  for s in "${!pid[@]}"; do
    kill "${pid[$s]}" 2>/dev/null || true
  done
  for s in "${!pid[@]}"; do
    for _ in $(seq 50); do kill -0 "${pid[$s]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${pid[$s]}" 2>/dev/null || true
    wait "${pid[$s]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() {  # utime + stime of a process (all its threads), in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}

wait_idle() {  # pid deadline_s: until the process uses <= 10% of a core over 1 s (it may still be
  # computing requests that wrk gave up on when its time was up); 1 if the deadline passes
  local p=$1 deadline=$((SECONDS + $2)) a b hz
  hz=$(getconf CLK_TCK)
  a=$(cpu_ticks "$p")
  while (( SECONDS < deadline )); do
    sleep 1
    b=$(cpu_ticks "$p")
    (( b - a <= hz / 10 )) && return 0
    a=$b
  done
  return 1
}

wait_healthy() {  # server, deadline in seconds
  local s=$1 deadline=$((SECONDS + $2))
  while (( SECONDS < deadline )); do
    if ! kill -0 "${pid[$s]}" 2>/dev/null; then
      echo "bench_serve: $s exited during start-up; last lines of $out/$s.log:" >&2
      tail -n 20 "$out/$s.log" >&2
      exit 1
    fi
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${url[$s]}/health") == 200 ]] && return 0
    sleep 0.5
  done
  echo "bench_serve: $s not healthy after $2 s; last lines of $out/$s.log:" >&2
  tail -n 20 "$out/$s.log" >&2
  exit 1
}

one_request() {  # server K -> HTTP status of one /predict with K sentences
  local body
  body=$(python3 - "$data" "$2" <<'PY'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))
texts = [r[0].strip() for r in rows[1:] if r and r[0].strip()][: int(sys.argv[2])]
print(json.dumps({"inputs": texts[0] if len(texts) == 1 else texts}))
PY
)
  curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H 'Content-Type: application/json' \
       -d "$body" "${url[$1]}/predict"
}

run_wrk() {  # server K C seconds outfile
  local t=$(( $3 < 2 ? $3 : 2 ))
  wrk -t"$t" -c"$3" -d"$4"s --timeout 30s --latency -s tools/serve/predict.lua "${url[$1]}" \
      -- "$data" "$2" > "$5" 2>&1 || true
}

# ---- start the servers ----
if want ember; then
  url[ember]=http://127.0.0.1:$eport
  # shellcheck disable=SC2086
  env $server_env "$binary" --model "$model" --host 127.0.0.1 --port "$eport" --threads "$threads" $ember_args \
      > "$out/ember.log" 2>&1 &
  pid[ember]=$!
  wait_healthy ember 120
fi
if want python; then
  url[python]=http://127.0.0.1:$pport
  # shellcheck disable=SC2086
  env $server_env "$py" tools/serve/python_service.py --model "$model" --host 127.0.0.1 --port "$pport" \
      --threads "$threads" --no-access-log --log-level warning $python_args > "$out/python.log" 2>&1 &
  pid[python]=$!
  wait_healthy python 300
fi
warm=$(( duration < 5 ? 1 : 2 ))
for s in $servers; do
  [[ $(one_request "$s" 1) == 200 ]] || die "$s: warm-up /predict did not answer 200 (see $out/$s.log)"
  run_wrk "$s" 8 4 "$warm" "$out/$s-warmup.txt"
done

cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)
load=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "# bench_serve: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo
  echo "- CPU: ${cpu_model:-unknown} ($(nproc) logical CPUs visible); load average before: $load"
  echo "- server environment: ${server_env:-none set}"
  echo "- model: $model; compute threads: $threads; wrk: $duration s per cell, -t min(2, c), --timeout 30s; sentences: $data"
  want ember && echo "- ember-serve: $binary $ember_args (ember $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  want python && echo "- python: tools/serve/python_service.py $python_args ($("$py" -c 'import torch, transformers, fastapi, uvicorn; print(f"torch {torch.__version__}, transformers {transformers.__version__}, fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}")' 2>/dev/null))"
} > "$out/header.md"
if awk -v l="${load%% *}" 'BEGIN { exit !(l > 0.5) }'; then
  echo "- WARNING: load average ${load%% *} before the run: the machine is not quiet; these numbers are not meaningful" >> "$out/header.md"
fi

# ---- the cells ----
cell=0
for k in $ks; do
  for c in $concurrency; do
    order=$servers
    if (( cell % 2 == 1 )); then order=$(echo "$servers" | tr ' ' '\n' | tac | tr '\n' ' '); fi
    for s in $order; do
      f="$out/$s-k$k-c$c.txt"
      note=""
      if ! kill -0 "${pid[$s]}" 2>/dev/null; then
        note="server exited"
      else
        for o in $servers; do
          wait_idle "${pid[$o]}" 300 || note="${note:+$note; }$o still busy after 300 s"
        done
        st=$(one_request "$s" "$k")
        [[ $st == 200 ]] || note="warm-up request answered $st"
        declare -A before=()
        for o in $servers; do before[$o]=$(cpu_ticks "${pid[$o]}"); done
        echo "bench_serve: $s K=$k c=$c (${duration}s)" >&2
        run_wrk "$s" "$k" "$c" "$duration" "$f"
        for o in $servers; do
          [[ $o == "$s" ]] && continue
          idle=$(( $(cpu_ticks "${pid[$o]}") - ${before[$o]} ))
          if (( idle > $(getconf CLK_TCK) / 2 )); then
            echo "bench_serve: warning: idle $o used $idle CPU ticks while $s was measured" >&2
            note="${note:+$note; }idle $o used $idle ticks"
          fi
        done
      fi
      line=$(grep -m1 '^WRK_RESULT ' "$f" 2>/dev/null | cut -d' ' -f2- || true)
      [[ -n $line ]] || { line='{}'; note="${note:+$note; }no wrk result: $(tail -n1 "$f" 2>/dev/null)"; }
      python3 - "$s" "$k" "$c" "$line" "$note" >> "$results" <<'PY'
import json, sys
s, k, c, line, note = sys.argv[1:]
r = json.loads(line)
if r and r["requests"] < 2 * int(c):
    # wrk drops what is in flight when the time is up: with latency near the duration, the
    # sentences/s undercount (by up to concurrency x K sentences).
    note = (note + "; " if note else "") + f"only {r['requests']} requests completed: raise --duration"
r.update(server=s, K=int(k), concurrency=int(c), note=note)
print(json.dumps(r))
PY
    done
    cell=$((cell + 1))
  done
done

python3 - "$results" "$out/header.md" > "$out/table.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(open(sys.argv[2]).read().rstrip())
print()
print("| server | K | concurrency | sentences/s | p50 ms | p99 ms | errors | note |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
order = {"ember": 0, "python": 1}
for r in sorted(rows, key=lambda r: (r["K"], r["concurrency"], order.get(r["server"], 9))):
    if "sentences_per_s" in r:
        print(f"| {r['server']} | {r['K']} | {r['concurrency']} | {r['sentences_per_s']:.1f} | "
              f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | {r['note']} |")
    else:
        print(f"| {r['server']} | {r['K']} | {r['concurrency']} | - | - | - | - | {r['note']} |")
PY
cat "$out/table.md"
echo
echo "bench_serve: raw wrk output, logs and results.jsonl in $out" >&2
