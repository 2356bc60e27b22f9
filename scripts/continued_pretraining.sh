#!/usr/bin/env bash
# Does continued (domain-adaptive) MLM pretraining help? (Gururangan et al., "Don't Stop
# Pretraining", ACL 2020.) Issue #16, must-show 4; results in docs/pretraining.md.
#
#  1. continue MLM pretraining of all-MiniLM-L6-v2 on SST-2's training sentences, labels thrown
#     away (bert_pretraining pretrain);
#  2. fine-tune with the flagship recipe on 1,000 labelled SST-2 examples (a seeded subset of
#     train.tsv), choose the best of 3 epochs on 1,000 validation.tsv examples, report dev.tsv
#     accuracy; seeds 1, 2, 3; for three starting points:
#       original   all-MiniLM-L6-v2 as published (its pooler included)
#       no-pooler  the same without the pooler — a BertForMaskedLM has none, so a model out of
#                  step 1 starts fine-tuning with a fresh pooler; this isolates the pretraining
#       continued  the output of step 1
#  3. print mean ± sd per starting point (sample sd, n = 3).
#
#   scripts/continued_pretraining.sh [--build-dir DIR] [--threads N] [--epochs E] [--out DIR]
# Needs the MiniLM checkpoint (scripts/fetch_model.sh) and SST-2 in examples/data/sst2/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/release threads=2 epochs=2 out=runs/continued-pretraining
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
minilm=${EMBER_MINILM_DIR:-$(bash scripts/fetch_model.sh | tail -n 1)}
sst2=examples/data/sst2
pre=$build/examples/bert_pretraining
export OMP_WAIT_POLICY=PASSIVE
mkdir -p "$out"
echo "== $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $threads threads"

# 1. the unlabelled in-domain corpus and the continued pretraining
tail -n +2 "$sst2/train.tsv" | cut -f1 > "$out/sst2_train_sentences.txt"
if [ ! -f "$out/continued/model.safetensors" ]; then
  "$pre" pretrain --model "$minilm" --corpus "$out/sst2_train_sentences.txt" --output "$out/continued" \
    --epochs "$epochs" --batch-size 32 --seq-len 128 --lr 5e-5 --warmup-ratio 0.06 \
    --weight-decay 0.01 --eval-every 200 --threads "$threads" --seed 42 2>"$out/pretrain.progress"
fi

# 2. the starting point without a pooler (safetensors rewritten without pooler.* tensors)
mkdir -p "$out/no-pooler"
cp "$minilm"/config.json "$minilm"/vocab.txt "$out/no-pooler/"
[ -f "$minilm/tokenizer_config.json" ] && cp "$minilm/tokenizer_config.json" "$out/no-pooler/"
python3 - "$minilm/model.safetensors" "$out/no-pooler/model.safetensors" <<'PY'
import json, struct, sys
src, dst = sys.argv[1], sys.argv[2]
blob = open(src, "rb").read()
(n,) = struct.unpack("<Q", blob[:8])
header = json.loads(blob[8:8 + n])
data = blob[8 + n:]
meta = header.pop("__metadata__", None)
keep = {k: v for k, v in header.items() if ".pooler." not in "." + k}
out, parts, offset = {}, [], 0
for k, v in sorted(keep.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    a, b = v["data_offsets"]
    parts.append(data[a:b])
    out[k] = dict(v, data_offsets=[offset, offset + b - a])
    offset += b - a
if meta is not None:
    out["__metadata__"] = meta
text = json.dumps(out).encode()
text += b" " * (-len(text) % 8)
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + b"".join(parts))
print(f"{dst}: {len(keep)} of {len(header)} tensors (pooler removed)")
PY

# 3. fine-tune each starting point with seeds 1, 2, 3
for start in original no-pooler continued; do
  case $start in original) model=$minilm ;; *) model=$out/$start ;; esac
  bash scripts/finetune_seeds.sh "$start" "$model" "$out" "$build" "$threads" 1000
done | tee "$out/finetune.txt"

python3 tools/accuracy_summary.py "$out/finetune.txt"
