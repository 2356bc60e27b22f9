#!/usr/bin/env bash
# The GPU check, in one run on a machine with an NVIDIA GPU (H100/H200 class), within 8 minutes:
#   1. the GPU's name and driver (nvidia-smi);
#   2. configure build/gpu with the CUDA backend and build only ember_test_cuda, bench_cuda and
#      bert_classification_cuda, on all cores;
#   3. the CUDA test suite (ember_test_cuda: every op on the GPU against the CPU). Its exit code 77
#      ("no CUDA device") fails this script at once: on a GPU machine it means the GPU is not
#      usable. Failed tests do not stop the script (the benchmarks and the fine-tuning still run,
#      to get the most out of one GPU session), but it exits non-zero at the end;
#   4. bench_cuda (docs/gpu.md; JSON in $OUT_DIR/bench_cuda.json);
#   5. a short BERT fine-tuning on SST-2 with `bert_classification_cuda train --device cuda`
#      (2000 training sentences, 1 epoch, batch 32; evaluated on examples/data/sst2/dev.tsv),
#      then the same with --bf16 (bf16 tensor-core GEMMs);
#   6. where python3 has PyTorch with CUDA and transformers: tools/torch_gpu_reference.py, the
#      same training steps as bench_cuda's train_step cases written with PyTorch (not a failure
#      when PyTorch is missing);
#   7. one summary table: the test result, each benchmark's time, TFLOP/s or GB/s and fraction of
#      the peak measured in the same run, ember's training steps against PyTorch's, the
#      fine-tuning's examples/s and accuracy.
#
# Run from anywhere (it works in the repository root):   bash scripts/gpu_check.sh
# Environment:
#   OUT                     where results go (default build/gpu/out). At most 8 files are written
#                           there: build.log, test_cuda.log, bench_cuda.json, bench_cuda.log,
#                           finetune.log, finetune_bf16.log, torch_gpu.json, summary.txt (PyTorch's
#                           own log goes to the build directory). The fine-tuned model goes to
#                           build/gpu/sst2-gpu (EMBER_FINETUNE_DIR), not under OUT: it is tens of
#                           MB and a dozen files.
#   EMBER_CUDA_ARCHS        CMAKE_CUDA_ARCHITECTURES (default 90: H100/H200)
#   EMBER_GPU_BUILD_DIR     the build directory (default build/gpu)
#   EMBER_MINILM_DIR        a Hugging Face BERT directory to fine-tune (e.g. all-MiniLM-L6-v2 from
#                           scripts/fetch_model.sh); default: the 2-layer tests/data/bert_tiny
#   EMBER_CMAKE_ARGS        extra arguments for the configure step (e.g. -DCMAKE_PREFIX_PATH=...
#                           where the dependencies were unpacked on a machine without apt)
#   EMBER_SKIP_SETUP=1      do not look for the Debian packages (and never run scripts/setup.sh)
#   EMBER_GPU_CHECK_BUDGET  seconds the whole script may take (default 470); each step's timeout
#                           is cut to what is left, so the summary is always printed
#   EMBER_GPU_BUNDLE        a folder made by scripts/gpu_bundle.sh on another machine: its
#                           prebuilt programs are run (no configure, no build, no Debian packages
#                           needed here); the GPU machine's own cuBLAS is found and used
# Missing build dependencies (cmake, Eigen, nlohmann-json, utf8proc, CLI11, doctest, Google
# Benchmark) are installed with scripts/setup.sh (apt-get: needs the network). OpenBLAS is not
# needed: the build uses EMBER_USE_BLAS=OFF (the CPU side is only the tests' reference), and
# bench_cuda comes from the tests' build, not the CPU benchmarks' (which need OpenBLAS).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

T0=$SECONDS
BUDGET=${EMBER_GPU_CHECK_BUDGET:-470}
BUILD_DIR="${EMBER_GPU_BUILD_DIR:-build/gpu}"
OUT_DIR="${OUT:-$BUILD_DIR/out}"
ARCHS="${EMBER_CUDA_ARCHS:-90}"
FT_DIR="${EMBER_FINETUNE_DIR:-$BUILD_DIR/sst2-gpu}"
mkdir -p "$OUT_DIR" "$BUILD_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
export PATH="/usr/local/cuda/bin:$PATH"
export OMP_WAIT_POLICY=PASSIVE

STEP_LINES=""   # "name<TAB>seconds<TAB>status" lines for the summary
step_begin() {
  STEP_NAME=$1
  STEP_T0=$SECONDS
  echo
  echo "==== [$((SECONDS - T0)) s] $STEP_NAME"
}
step_end() {  # step_end STATUS
  local dt=$((SECONDS - STEP_T0))
  STEP_LINES+="${STEP_NAME}"$'\t'"${dt}"$'\t'"$1"$'\n'
  echo "==== $STEP_NAME: $1 (${dt} s)"
}
# Seconds a step may take: at most $1, leaving $2 for the steps after it, and at least $3.
step_limit() {
  local left=$((BUDGET - (SECONDS - T0) - $2))
  if [ "$left" -gt "$1" ]; then left=$1; fi
  if [ "$left" -lt "$3" ]; then left=$3; fi
  echo "$left"
}
MIN_STEP=15  # benchmarks and fine-tuning are skipped when less than this is left
# The path of a built executable (CMake puts it where its target was defined).
find_bin() {
  local p
  for p in "$BUILD_DIR/$2/$1" "$BUILD_DIR/$1"; do
    if [ -x "$p" ] && [ -f "$p" ]; then echo "$p"; return 0; fi
  done
  p=$(find "$BUILD_DIR" -maxdepth 3 -type f -name "$1" -perm -u+x 2>/dev/null | head -1)
  [ -n "$p" ] && echo "$p"
}

TEST_RC=-1
BENCH_RC=-1
FT_RC=-1
FT16_RC=-1
TORCH_RC=-1
FAILED=0

# ---- 1. the GPU ---------------------------------------------------------------------------------
step_begin "gpu"
if command -v nvidia-smi >/dev/null 2>&1; then
  GPU_INFO=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true)
else
  GPU_INFO="nvidia-smi not found"
fi
echo "GPU: $GPU_INFO"
NVCC_VERSION=$( (nvcc --version 2>/dev/null || echo "nvcc not found") | tail -1)
echo "nvcc: $NVCC_VERSION"
echo "CPU cores: $(nproc); output: $OUT_DIR"
if command -v nvidia-smi >/dev/null 2>&1; then step_end "ok"; else step_end "no nvidia-smi"; fi

# Ends a step from its exit code: 0 ok; 125 skipped (no time left); anything else failed (124:
# timed out after LIMIT s), with the last lines of LOG when given. Sets FAILED on failure or skip.
finish_step() {
  local rc=$1 limit=$2 log=${3:-}
  if [ "$rc" -eq 125 ]; then
    step_end "SKIPPED (time budget spent)"
    FAILED=1
  elif [ "$rc" -eq 0 ]; then
    step_end "ok"
  else
    step_end "FAILED (exit $rc$([ "$rc" -eq 124 ] && echo ", timed out after ${limit} s"))"
    if [ -n "$log" ]; then tail -5 "$log" || true; fi
    FAILED=1
  fi
}

# ---- 2. dependencies, configure, build (or a prebuilt bundle) ----------------------------------
if [ -n "${EMBER_GPU_BUNDLE:-}" ]; then
  step_begin "bundle"
  BUNDLE="$(cd "$EMBER_GPU_BUNDLE" && pwd)"
  # cuBLAS comes from this machine's CUDA (the toolkit's folder or the pip wheels PyTorch uses).
  CUBLAS=$(find /usr/local/cuda/lib64 /usr/local/cuda/targets /usr/local /opt /usr/lib \
             -name 'libcublas.so.13*' -print -quit 2>/dev/null || true)
  if [ -z "$CUBLAS" ]; then
    echo "FATAL: no libcublas.so.13 on this machine (the bundle does not carry cuBLAS)" >&2
    exit 2
  fi
  export LD_LIBRARY_PATH="$BUNDLE/lib:$(dirname "$CUBLAS")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # NCCL likewise (ember_test_cuda's NCCL case and bert_classification_cuda link it): the
  # toolkit's, or the nvidia-nccl wheel PyTorch depends on.
  deps=$(ldd "$BUNDLE"/bin/* 2>/dev/null || true)  # (not piped into grep -q: pipefail)
  if grep -q 'libnccl.so.2 => not found' <<<"$deps"; then
    NCCL=$(find /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local /opt /usr/lib \
             -name 'libnccl.so.2*' -print -quit 2>/dev/null || true)
    if [ -z "$NCCL" ]; then
      echo "FATAL: no libnccl.so.2 on this machine (the bundle does not carry NCCL; build it" \
           "with EMBER_GPU_BUNDLE_NCCL=OFF to leave NCCL out)" >&2
      exit 2
    fi
    export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$NCCL")"
    echo "NCCL: $NCCL"
  fi
  # The tests read fixtures from the checkout path compiled into them: point it at this one.
  SRC_DIR=$(cat "$BUNDLE/source_dir")
  if [ "$SRC_DIR" != "$(pwd)" ] && [ ! -e "$SRC_DIR" ]; then
    mkdir -p "$(dirname "$SRC_DIR")" && ln -s "$(pwd)" "$SRC_DIR"
  fi
  TEST_BIN="$BUNDLE/bin/ember_test_cuda"
  BENCH_BIN="$BUNDLE/bin/bench_cuda"
  FT_BIN="$BUNDLE/bin/bert_classification_cuda"
  echo "cuBLAS: $CUBLAS; fixtures: $SRC_DIR"
  step_end "prebuilt ($BUNDLE)"
else
missing_deps() {
  local m=()
  command -v cmake >/dev/null 2>&1 || m+=(cmake)
  command -v c++ >/dev/null 2>&1 || m+=(c++)
  command -v python3 >/dev/null 2>&1 || m+=(python3)
  [ -f /usr/include/eigen3/Eigen/Core ] || m+=(libeigen3-dev)
  [ -f /usr/include/nlohmann/json.hpp ] || m+=(nlohmann-json3-dev)
  [ -f /usr/include/utf8proc.h ] || m+=(libutf8proc-dev)
  [ -f /usr/include/CLI/CLI.hpp ] || m+=(libcli11-dev)
  [ -f /usr/include/doctest/doctest.h ] || m+=(doctest-dev)
  [ -f /usr/include/benchmark/benchmark.h ] || m+=(libbenchmark-dev)
  echo "${m[*]:-}"
}

step_begin "dependencies"
: >"$OUT_DIR/build.log"
if [ "${EMBER_SKIP_SETUP:-0}" = "1" ]; then
  step_end "not checked (EMBER_SKIP_SETUP=1)"
else
  missing=$(missing_deps)
  if [ -n "$missing" ]; then
    echo "missing: $missing; running scripts/setup.sh"
    if ! timeout "$(step_limit 240 420 30)" bash scripts/setup.sh >>"$OUT_DIR/build.log" 2>&1; then
      tail -20 "$OUT_DIR/build.log"
      echo "FATAL: scripts/setup.sh failed (apt-get needs the network). Missing: $missing." >&2
      echo "Install them, or unpack them under a prefix and pass EMBER_CMAKE_ARGS=-DCMAKE_PREFIX_PATH=..." \
           "with EMBER_SKIP_SETUP=1." >&2
      exit 2
    fi
    step_end "installed ($missing)"
  else
    step_end "all present"
  fi
fi

step_begin "configure"
limit=$(step_limit 120 300 60)
# shellcheck disable=SC2086  # EMBER_CMAKE_ARGS is a list of words
if ! timeout "$limit" cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    -DEMBER_BUILD_BENCHMARKS=OFF -DEMBER_USE_BLAS=OFF -DEMBER_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" \
    ${EMBER_CMAKE_ARGS:-} >>"$OUT_DIR/build.log" 2>&1; then
  tail -40 "$OUT_DIR/build.log"
  echo "FATAL: cmake configure failed (log: $OUT_DIR/build.log)" >&2
  exit 2
fi
step_end "ok"

step_begin "build"
limit=$(step_limit 330 150 120)
if ! timeout "$limit" cmake --build "$BUILD_DIR" -j "$(nproc)" \
    --target ember_test_cuda bench_cuda bert_classification_cuda >>"$OUT_DIR/build.log" 2>&1; then
  grep -n -E "error|Error" "$OUT_DIR/build.log" | head -30 || true
  tail -30 "$OUT_DIR/build.log"
  echo "FATAL: build failed or took over ${limit} s (log: $OUT_DIR/build.log)" >&2
  exit 2
fi
step_end "ok"

TEST_BIN=$(find_bin ember_test_cuda tests || true)
BENCH_BIN=$(find_bin bench_cuda benchmarks || true)
FT_BIN=$(find_bin bert_classification_cuda examples || true)
fi  # EMBER_GPU_BUNDLE
echo "binaries: ${TEST_BIN:-?} ${BENCH_BIN:-?} ${FT_BIN:-?}"

# ---- 3. the CUDA test suite --------------------------------------------------------------------
step_begin "ember_test_cuda"
limit=$(step_limit 150 120 "$MIN_STEP")  # the tests always run
set +e
timeout "$limit" "$TEST_BIN" 2>&1 | tee "$OUT_DIR/test_cuda.log"
TEST_RC=${PIPESTATUS[0]}
set -e
if [ "$TEST_RC" -eq 77 ]; then
  step_end "NO CUDA DEVICE (exit 77)"
  echo >&2
  echo "FATAL: ember_test_cuda found no usable CUDA device on a machine that should have one." >&2
  echo "nvidia-smi: $GPU_INFO" >&2
  exit 3
elif [ "$TEST_RC" -eq 0 ]; then
  step_end "passed"
elif [ "$TEST_RC" -eq 124 ]; then
  step_end "TIMED OUT after ${limit} s"
  FAILED=1
else
  step_end "FAILED (exit $TEST_RC)"
  FAILED=1
fi

# ---- 4. benchmarks -----------------------------------------------------------------------------
step_begin "bench_cuda"
limit=$(step_limit 220 80 0)
STDBUF=()
if command -v stdbuf >/dev/null 2>&1; then STDBUF=(stdbuf -oL); fi
rm -f "$OUT_DIR/bench_cuda.json" "$BUILD_DIR/bench_cuda.stdout.json"
set +e
if [ "$limit" -lt "$MIN_STEP" ]; then
  BENCH_RC=125
else
  # stdout (the same JSON, line-buffered) is kept too: if the run is cut short, the results of
  # the cases that finished can still be read from it.
  timeout "$limit" ${STDBUF[@]+"${STDBUF[@]}"} "$BENCH_BIN" --benchmark_format=json \
    --benchmark_out="$OUT_DIR/bench_cuda.json" --benchmark_out_format=json \
    --benchmark_min_time=0.2 >"$BUILD_DIR/bench_cuda.stdout.json" 2>"$OUT_DIR/bench_cuda.log"
  BENCH_RC=$?
fi
set -e
finish_step "$BENCH_RC" "$limit" "$OUT_DIR/bench_cuda.log"

# ---- 5. fine-tuning on SST-2 (fp32, then --bf16) -----------------------------------------------
MODEL=tests/data/bert_tiny
if [ -n "${EMBER_MINILM_DIR:-}" ] && [ -f "${EMBER_MINILM_DIR}/config.json" ]; then
  MODEL=$EMBER_MINILM_DIR
fi
echo "model: $MODEL"
# finetune LOG MAX_SECONDS LEAVE_SECONDS [extra train flags]: one short run; sets RUN_RC.
finetune() {
  local log=$1 max=$2 leave=$3
  shift 3
  limit=$(step_limit "$max" "$leave" 0)
  rm -rf "$FT_DIR"
  : >"$OUT_DIR/$log"
  set +e
  if [ "$limit" -lt "$MIN_STEP" ]; then
    RUN_RC=125
  else
    timeout "$limit" "$FT_BIN" train --device cuda --model "$MODEL" \
      --train examples/data/sst2/train.tsv --validation examples/data/sst2/dev.tsv \
      --max-train-examples 2000 --epochs 1 --batch-size 32 --lr 1e-4 --output "$FT_DIR" "$@" 2>&1 |
      tr '\r' '\n' | tee "$OUT_DIR/$log"
    RUN_RC=${PIPESTATUS[0]}
  fi
  set -e
}
step_begin "fine-tuning"
finetune finetune.log 120 40
FT_RC=$RUN_RC
finish_step "$FT_RC" "$limit"
step_begin "fine-tuning bf16"
finetune finetune_bf16.log 60 10 --bf16
FT16_RC=$RUN_RC
finish_step "$FT16_RC" "$limit"

# ---- 6. PyTorch's figures for the same training steps (when PyTorch is there) -----------------
step_begin "pytorch reference"
rm -f "$OUT_DIR/torch_gpu.json"
if python3 -c 'import sys, torch, transformers; sys.exit(0 if torch.cuda.is_available() else 1)' \
    >/dev/null 2>&1; then
  limit=$(step_limit 90 0 0)
  set +e
  if [ "$limit" -lt "$MIN_STEP" ]; then
    TORCH_RC=125
  else
    PYTHONUNBUFFERED=1 timeout "$limit" python3 tools/torch_gpu_reference.py \
      --out "$OUT_DIR/torch_gpu.json" >"$BUILD_DIR/torch_gpu.log" 2>&1
    TORCH_RC=$?
  fi
  set -e
  finish_step "$TORCH_RC" "$limit" "$BUILD_DIR/torch_gpu.log"
else
  TORCH_RC=-2
  step_end "skipped (python3 has no PyTorch with CUDA, or no transformers)"
fi

# ---- 7. summary --------------------------------------------------------------------------------
export GC_GPU="$GPU_INFO" GC_NVCC="$NVCC_VERSION" GC_ARCHS="$ARCHS" GC_MODEL="$MODEL"
export GC_TEST_RC=$TEST_RC GC_BENCH_RC=$BENCH_RC GC_FT_RC=$FT_RC GC_FT16_RC=$FT16_RC GC_TORCH_RC=$TORCH_RC
export GC_STEPS="$STEP_LINES"
export GC_OUT="$OUT_DIR" GC_BENCH_STDOUT="$BUILD_DIR/bench_cuda.stdout.json"
export GC_TOTAL=$((SECONDS - T0))
python3 - <<'PY' | tee "$OUT_DIR/summary.txt"
import json, os, re

env = os.environ
out = env["GC_OUT"]


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def bench_runs(text):
    """The runs of a Google Benchmark JSON report, also from a report cut short."""
    try:
        return json.loads(text).get("benchmarks", [])
    except ValueError:
        pass
    runs, dec = [], json.JSONDecoder()
    start = text.find('"benchmarks"')
    i = text.find("[", start) + 1 if start >= 0 else -1
    while i > 0:
        j = text.find("{", i)
        if j < 0:
            break
        try:
            obj, i = dec.raw_decode(text, j)
        except ValueError:
            break
        runs.append(obj)
    return runs


print("\n==== GPU check summary")
print(f"GPU: {env['GC_GPU']}   nvcc: {env['GC_NVCC']}   CUDA archs: {env['GC_ARCHS']}")

# test suite
log = read(os.path.join(out, "test_cuda.log"))
rc = int(env["GC_TEST_RC"])
cases = re.findall(r"\[doctest\] test cases:.*", log)
asserts = re.findall(r"\[doctest\] assertions:.*", log)
status = {0: "PASSED", 77: "NO DEVICE", 124: "TIMED OUT", -1: "NOT RUN"}.get(rc, f"FAILED (exit {rc})")
print(f"\nember_test_cuda: {status}")
for line in cases[-1:] + asserts[-1:]:
    print("  " + re.sub(r"\s+", " ", line.replace("[doctest] ", "")))

# benchmarks
runs = bench_runs(read(os.path.join(out, "bench_cuda.json")))
if not runs:
    runs = bench_runs(read(env["GC_BENCH_STDOUT"]))
runs = [r for r in runs if r.get("run_type", "iteration") == "iteration"]
print(f"\nbench_cuda: {len(runs)} cases (exit {env['GC_BENCH_RC']})")
if runs:
    w = max(len(r["name"].replace("/manual_time", "")) for r in runs)
    print(f"  {'case':<{w}}  {'time':>12}  {'rate':>16}  {'of peak':>7}  reference (measured in this run)")
    for r in runs:
        name = r["name"].replace("/manual_time", "")
        if r.get("error_occurred"):
            print(f"  {name:<{w}}  ERROR: {r.get('error_message', '')}")
            continue
        t = f"{r.get('real_time', 0):.1f} {r.get('time_unit', '')}"
        if "TFLOP/s" in r:
            rate = f"{r['TFLOP/s']:.2f} TFLOP/s"
        elif "GB/s" in r:
            rate = f"{r['GB/s']:.0f} GB/s"
        else:
            rate = "-"
        frac = f"{100 * r['frac_peak']:.0f}%" if "frac_peak" in r else "-"
        extra = ""
        if "examples/s" in r:
            # peak_alloc_GB is reported only by a step that set a new allocator high-water mark
            alloc = f", peak alloc {r['peak_alloc_GB']:.1f} GB" if "peak_alloc_GB" in r else ""
            extra = f"  [{r['examples/s']:.0f} examples/s{alloc}]"
        print(f"  {name:<{w}}  {t:>12}  {rate:>16}  {frac:>7}  {r.get('label', '')}{extra}")

# ember's training steps against PyTorch's (tools/torch_gpu_reference.py)
torch_rc = int(env["GC_TORCH_RC"])
if torch_rc != -2:
    try:
        with open(os.path.join(out, "torch_gpu.json")) as f:
            ref = json.load(f)
    except (OSError, ValueError):
        ref = None
    if ref is None:
        print(f"\nPyTorch reference: no results (exit {torch_rc})")
    else:
        ember = {r["name"].replace("/manual_time", ""): r for r in runs}
        # ember's precision names → PyTorch's: fp32 = highest, tf32 = high, bf16 GEMMs (ember's
        # `medium`: fp32 storage) against autocast bf16 (PyTorch's usual bf16 path)
        pairs = (("fp32", "highest"), ("tf32", "high"), ("bf16", "autocast"))
        print(f"\nember vs PyTorch {ref.get('torch', '?')} / transformers {ref.get('transformers', '?')}"
              " (training step, batch 32 x 128 tokens; speed-up = PyTorch's time / ember's)")
        for r in ref.get("results", []):
            model, shape, prec = r["name"].split("/")[1:4]
            mine = next((f"train_step/{model}/{shape}/{e}" for e, t in pairs if t == prec), None)
            e = ember.get(mine) if mine else None
            if e and e.get("real_time") and not e.get("error_occurred"):
                ms = e["real_time"] * {"ms": 1.0, "us": 1e-3, "ns": 1e-6, "s": 1e3}[e["time_unit"]]
                print(f"  {model:<10} {prec:<9} ember {ms:8.2f} ms   PyTorch {r['ms']:8.2f} ms   "
                      f"speed-up {r['ms'] / ms:5.2f}x")
            else:
                print(f"  {model:<10} {prec:<9} PyTorch {r['ms']:8.2f} ms")

# fine-tuning
for log, rc_var, flag in (("finetune.log", "GC_FT_RC", ""), ("finetune_bf16.log", "GC_FT16_RC", " --bf16")):
    ft = read(os.path.join(out, log))
    m = re.search(r"training: (\d+) steps in ([\d.]+) s \(([\d.]+) examples/s\); best validation "
                  r"accuracy ([\d.]+)", ft)
    acc = re.findall(r"^accuracy: ([\d.]+)", ft, re.M)
    rc = int(env[rc_var])
    status = {0: "ok", -1: "NOT RUN", 124: "TIMED OUT", 125: "SKIPPED (time budget)"}.get(rc, f"FAILED (exit {rc})")
    print(f"\nfine-tuning ({env['GC_MODEL']}, SST-2, 2000 examples, 1 epoch, batch 32, --device cuda{flag}): {status}")
    if m:
        print(f"  {m.group(1)} steps in {m.group(2)} s: {m.group(3)} examples/s")
    if acc:
        print(f"  dev accuracy (872 sentences): {acc[-1]}")

# steps
print("\nsteps:")
for line in env["GC_STEPS"].strip().splitlines():
    name, secs, st = line.split("\t")
    print(f"  {name:<16} {secs:>5} s  {st}")
print(f"total: {env['GC_TOTAL']} s")
PY

echo "results: $OUT_DIR"
exit "$FAILED"
