#!/usr/bin/env bash
# Fine-tunes one starting point on SST-2 with the flagship recipe, seeds 1, 2, 3, and prints
# "NAME seed S: dev accuracy: A (validation V)" per seed (read by tools/accuracy_summary.py).
# Used by scripts/continued_pretraining.sh and scripts/pretrain_from_scratch.sh. A finished seed
# (its log holds the accuracy) is not run again.
#   scripts/finetune_seeds.sh NAME MODEL_DIR OUT_DIR BUILD_DIR THREADS TRAIN_EXAMPLES [LR [EPOCHS]]
# LR (default 1e-4) and EPOCHS (default 3) are the flagship recipe's; V is the best accuracy on
# 1,000 sentences of validation.tsv (held out from SST-2 train: choose hyperparameters on it, and
# report dev.tsv).
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 model=$2 out=$3 build=$4 threads=$5 examples=$6 lr=${7:-1e-4} epochs=${8:-3}
sst2=examples/data/sst2
for seed in 1 2 3; do
  log="$out/finetune-$name-$seed.log"
  if ! grep -q '^accuracy:' "$log" 2>/dev/null; then
    OMP_WAIT_POLICY=PASSIVE "$build/examples/bert_classification" train --model "$model" \
      --train "$sst2/train.tsv" --validation "$sst2/validation.tsv" --test "$sst2/dev.tsv" \
      --max-train-examples "$examples" --max-validation-examples 1000 --epochs "$epochs" \
      --batch-size 32 --lr "$lr" --warmup-ratio 0.1 --max-length 64 --seed "$seed" \
      --threads "$threads" --output "$out/finetune-$name-$seed" >"$log" 2>/dev/null
  fi
  val=$(sed -n 's/.*best validation accuracy \([0-9.]*\).*/\1/p' "$log")
  echo "$name seed $seed: dev $(grep '^accuracy:' "$log") (validation $val)"
done
