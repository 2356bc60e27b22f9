#!/usr/bin/env bash
# WNUT 2017 named-entity recognition: ember's token_classification example against Hugging Face
# transformers' Trainer (tools/hf_train_ner.py), the same recipe on the same files, seeds 1 2 3,
# alternating (ember seed 1, HF seed 1, ember seed 2, ...) so that a change in the machine's load
# hits both alike, on the same number of threads.
#
# Usage (from the repo root, after building the example and scripts/fetch_model.sh):
#   scripts/wnut17_compare.sh [MODEL_DIR]
#   env: THREADS (2), SEEDS ("1 2 3"), EPOCHS (3), OUT (runs/wnut17), NICE (10), DATA,
#        BUILD (build/release), PYTHON (.venv-torch/bin/python)
# Recipe (both): all-MiniLM-L6-v2, train.conll / dev.conll (best epoch by entity F1) /
# test.conll (the report), 3 epochs, lr 5e-5, batch 16, max length 128, weight decay 0,
# no warmup, AdamW, linear decay, clipping at 1.0.
# Writes OUT/ember_seed<S>.json and OUT/hf_seed<S>.json (and the logs OUT/*.log); prints
# test precision / recall / F1 and seconds per epoch as mean ± sd over the seeds.
set -euo pipefail

model="${1:-$(scripts/fetch_model.sh)}"
threads="${THREADS:-2}"
seeds="${SEEDS:-1 2 3}"
epochs="${EPOCHS:-3}"
out="${OUT:-runs/wnut17}"
nice_level="${NICE:-10}"
exe="${BUILD:-build/release}/examples/token_classification"
py="${PYTHON:-.venv-torch/bin/python}"
data="${DATA:-examples/data/wnut17}"  # train.conll, dev.conll, test.conll
[ -x "$exe" ] || { echo "wnut17_compare.sh: build the example first ($exe)" >&2; exit 1; }
mkdir -p "$out"
common=(--model "$model" --train "$data/train.conll" --validation "$data/dev.conll"
        --test "$data/test.conll" --epochs "$epochs" --lr 5e-5 --batch-size 16
        --max-length 128 --weight-decay 0 --warmup-ratio 0 --threads "$threads")

for seed in $seeds; do
  echo "== ember, seed $seed" >&2
  start=$(date +%s.%N)
  OMP_NUM_THREADS="$threads" nice -n "$nice_level" "$exe" train "${common[@]}" --seed "$seed" \
      --output "$out/ember_seed$seed" > "$out/ember_seed$seed.log" 2> "$out/ember_seed$seed.err"
  end=$(date +%s.%N)
  # The example's report: the last precision/recall/f1 lines and each epoch's line.
  python3 - "$out/ember_seed$seed.log" "$out/ember_seed$seed.err" "$seed" "$threads" \
      "$(echo "$end - $start" | bc)" > "$out/ember_seed$seed.json" <<'EOF'
import json, re, sys
log, err, seed, threads, wall = sys.argv[1:]
text = open(log).read() + open(err).read()
last = lambda key: float(re.findall(rf"^{key}: ([0-9.]+)$", text, re.M)[-1])
epochs = re.findall(r"^epoch \d+/\d+: loss [0-9.]+, validation precision [0-9.]+ recall [0-9.]+ "
                    r"f1 ([0-9.]+); ([0-9.]+) s training", text, re.M)
print(json.dumps({"library": "ember", "seed": int(seed), "threads": int(threads),
                  "test_precision": last("precision"), "test_recall": last("recall"),
                  "test_f1": last("f1"), "validation_f1": [float(f) for f, _ in epochs],
                  "epoch_seconds": [float(s) for _, s in epochs], "wall_seconds": float(wall)}))
EOF
  tail -1 "$out/ember_seed$seed.json" >&2

  echo "== transformers, seed $seed" >&2
  OMP_NUM_THREADS="$threads" nice -n "$nice_level" "$py" tools/hf_train_ner.py "${common[@]}" \
      --seed "$seed" --output "$out/hf_seed$seed" > "$out/hf_seed$seed.log" 2>&1
  tail -1 "$out/hf_seed$seed.log" > "$out/hf_seed$seed.json"
  rm -rf "$out/hf_seed$seed"/checkpoint-*  # the Trainer's checkpoints (~90 MB each)
  tail -1 "$out/hf_seed$seed.json" >&2
done

python3 - "$out" $seeds <<'EOF'
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2:]
def ms(v):
    return f"{statistics.mean(v):.4f} ± {statistics.stdev(v) if len(v) > 1 else 0:.4f}"
print(f"WNUT 2017 test, entity level (seqeval), seeds {' '.join(seeds)}: mean ± sd")
for lib in ("ember", "hf"):
    runs = [json.load(open(f"{out}/{lib}_seed{s}.json")) for s in seeds]
    epoch_s = [sum(r["epoch_seconds"]) / len(r["epoch_seconds"]) for r in runs]
    col = lambda key: [r[key] for r in runs]
    per_seed = ", ".join("%.4f" % f for f in col("test_f1"))
    print(f"{lib:6s} precision {ms(col('test_precision'))}  recall {ms(col('test_recall'))}  "
          f"f1 {ms(col('test_f1'))}  s/epoch {statistics.mean(epoch_s):.0f}  "
          f"(f1 per seed: {per_seed})")
EOF
