#!/usr/bin/env bash
# MLM pretraining throughput, ember vs Hugging Face's Trainer on PyTorch 2.x (issue #16,
# must-show 6): the same model (all-MiniLM-L6-v2 continued, fresh MLM head), the same corpus
# (SST-2's training sentences) packed into the same blocks, batch and sequence length, the same
# threads; the two processes alternate, `--rounds` times each. Each side reports tokens/s of
# its training steps only (evaluation and saving off / excluded).
#
#   scripts/bench_pretrain.sh [--build-dir build/release] [--threads 2] [--rounds 3]
#                             [--steps 20] [--batch-size 32] [--seq-len 128]
# Needs .venv-torch (tools/setup_torch_cpu.sh) and the MiniLM checkpoint (scripts/fetch_model.sh).
# Build the ember side with a user's Release flags (cmake --preset release).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/release threads=2 rounds=3 steps=20 batch=32 seq=128
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --batch-size) batch=$2; shift 2 ;;
    --seq-len) seq=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
minilm=${EMBER_MINILM_DIR:-$(bash scripts/fetch_model.sh | tail -n 1)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tail -n +2 examples/data/sst2/train.tsv | cut -f1 > "$work/corpus.txt"
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$threads
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs) model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | xargs); $threads threads; $steps steps of batch $batch x $seq tokens"
for r in $(seq 1 "$rounds"); do
  e=$("$build/examples/bert_pretraining" pretrain --model "$minilm" --corpus "$work/corpus.txt" \
        --output "$work/ember" --max-steps "$steps" --batch-size "$batch" --seq-len "$seq" \
        --warmup-ratio 0 --validation-ratio 0.01 --threads "$threads" 2>/dev/null |
      sed -n 's/.*(\([0-9]*\) tokens\/s.*/\1/p')
  h=$(.venv-torch/bin/python tools/hf_pretrain_mlm.py --model "$minilm" --corpus "$work/corpus.txt" \
        --max-steps "$steps" --batch-size "$batch" --seq-len "$seq" --threads "$threads" 2>/dev/null |
      sed -n 's/.*(\([0-9]*\) tokens\/s).*/\1/p')
  echo "round $r: ember $e tokens/s, hf $h tokens/s, ember / hf $(python3 -c "print(f'{$e / $h:.2f}')")"
done
