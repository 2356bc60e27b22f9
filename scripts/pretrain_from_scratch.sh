#!/usr/bin/env bash
# Pretraining from scratch helps (issue #16, must-show 5): a small BERT (4 layers, hidden 256,
# 4 heads, intermediate 1024) with a vocabulary trained by ember, pretrained from random
# initialization on a real public English corpus — the glosses of Princeton WordNet 3.0 (Debian
# package wordnet-base, WordNet 3.0 licence: use, copy and distribute with the copyright notice;
# ~117,659 definitions with examples, ~1.46 M words) — then fine-tuned on SST-2, against the same
# architecture fine-tuned from random initialization (`bert_pretraining init`, same seed).
#
# The comparison is tuned alike for both starting points: 1,000 labelled SST-2 examples (the
# low-resource setting of the continued-pretraining check), learning rates 1e-4, 3e-4, 1e-3 ×
# 3 or 10 epochs, seeds 1–3 each; for each starting point the setting with the best mean
# validation accuracy (validation.tsv, held out from SST-2 train) is chosen and its SST-2 dev
# accuracy reported (tools/accuracy_summary.py --choose).
#
#   scripts/pretrain_from_scratch.sh [--build-dir DIR] [--threads N] [--steps S]
#                                    [--train-examples N] [--out DIR]
# Pretraining: S optimizer steps (default 5,000) of 64 blocks of 64 tokens, lr 1e-3, warmup 5%;
# an interrupted run continues where its checkpoint left it (`pretrain --resume`). Finished
# fine-tunes are not run again. Installs wordnet-base if missing (apt-get, needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/release threads=2 steps=5000 examples=1000 out=runs/from-scratch
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --train-examples) examples=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
pre=$build/examples/bert_pretraining
export OMP_WAIT_POLICY=PASSIVE
mkdir -p "$out"
if [ ! -f /usr/share/wordnet/data.noun ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wordnet-base
fi
# One gloss per line: the text after " | " of every synset line (licence lines start with spaces).
cat /usr/share/wordnet/data.{noun,verb,adj,adv} | grep -v '^  ' | sed -n 's/^[^|]*| //p' |
  sed 's/ *$//' > "$out/wordnet_glosses.txt"
echo "== $(date -u +%FT%TZ) corpus: $(wc -l < "$out/wordnet_glosses.txt") glosses, $(wc -w < "$out/wordnet_glosses.txt") words"

cat > "$out/config.json" <<'JSON'
{"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024,
 "max_position_embeddings": 512}
JSON
[ -f "$out/vocab/vocab.txt" ] ||
  "$pre" train-vocab --corpus "$out/wordnet_glosses.txt" --vocab-size 8000 --output "$out/vocab"
[ -f "$out/random/model.safetensors" ] ||
  "$pre" init --config "$out/config.json" --vocab "$out/vocab/vocab.txt" --output "$out/random" --seed 42
if [ ! -f "$out/pretrained/model.safetensors" ]; then
  "$pre" pretrain --config "$out/config.json" --vocab "$out/vocab/vocab.txt" \
    --corpus "$out/wordnet_glosses.txt" --output "$out/pretrained" --max-steps "$steps" \
    --batch-size 64 --seq-len 64 --lr 1e-3 --warmup-ratio 0.05 --weight-decay 0.01 \
    --eval-every 500 --threads "$threads" --seed 42 --resume 2>"$out/pretrain.progress"
fi
python3 tools/plot_pretraining.py "$out/pretrained/metrics.jsonl" "$out/pretraining.svg" \
  --title "small BERT (4 x 256) from scratch on WordNet glosses"

for lr in 1e-4 3e-4 1e-3; do
  for epochs in 3 10; do
    for start in random pretrained; do
      bash scripts/finetune_seeds.sh "$start-lr$lr-ep$epochs" "$out/$start" "$out" "$build" \
        "$threads" "$examples" "$lr" "$epochs"
    done
  done
done | tee "$out/finetune.txt"
python3 tools/accuracy_summary.py --choose "$out/finetune.txt"
