#!/usr/bin/env bash
# Pretraining from scratch helps (issue #16, must-show 5): a small BERT (4 layers, hidden 256,
# 4 heads, intermediate 1024) with a vocabulary trained by ember, pretrained from random
# initialization on a real public English corpus — the glosses of Princeton WordNet 3.0 (Debian
# package wordnet-base, WordNet 3.0 licence: use, copy and distribute with the copyright notice;
# ~117,659 definitions with examples, ~1.46 M words) — then fine-tuned on SST-2, against the same
# architecture fine-tuned from random initialization (`bert_pretraining init`, same seed).
# --corpus FILE pretrains on another text file instead (one document per line), e.g. WordNet as
# dictionary entries with their words: `python3 tools/debian_corpus.py --sources wordnet`.
# --corpus debian builds the larger corpus of tools/debian_corpus.py (WordNet entries + GCIDE +
# fortunes, shuffled, ~6.4 M words; installs wordnet-base, dict-gcide and fortunes).
#
# The comparison is tuned alike for both starting points: 1,000 labelled SST-2 examples (the
# low-resource setting of the continued-pretraining check), learning rates 1e-4, 3e-4, 1e-3 ×
# 3 or 10 epochs, seeds 1–3 each; for each starting point the setting with the best mean
# validation accuracy (validation.tsv, held out from SST-2 train) is chosen and its SST-2 dev
# accuracy reported (tools/accuracy_summary.py --choose).
#
#   scripts/pretrain_from_scratch.sh [--build-dir DIR] [--threads N] [--steps S]
#                                    [--train-examples N] [--out DIR]
#                                    [--lrs "1e-4 3e-4 1e-3"] [--epochs "3 10"]
#                                    [--corpus FILE|debian] [--stop-at-step N]
# Pretraining: S optimizer steps (default 5,000) of 64 blocks of 64 tokens, lr 1e-3, warmup 5%;
# an interrupted run continues where its checkpoint left it (`pretrain --resume`).
# --stop-at-step N checkpoints at step N and exits before fine-tuning, so that a long schedule
# can run in parts (run the same command again, with a later N or none, to go on). Finished
# fine-tunes are not run again. Installs missing Debian packages (apt-get, needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/release threads=2 steps=5000 examples=1000 out=runs/from-scratch
lrs="1e-4 3e-4 1e-3" epochs_list="3 10" corpus="" stop_at=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --train-examples) examples=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --lrs) lrs=$2; shift 2 ;;
    --epochs) epochs_list=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --stop-at-step) stop_at=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
pre=$build/examples/bert_pretraining
export OMP_WAIT_POLICY=PASSIVE
mkdir -p "$out"
need=(wordnet-base)
[ "$corpus" = debian ] && need+=(dict-gcide fortunes)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ "$corpus" = debian ]; then
  corpus=$out/debian_english.txt
  [ -s "$corpus" ] || python3 tools/debian_corpus.py --shuffle 42 > "$corpus"
elif [ -z "$corpus" ]; then
  # One gloss per line: the text after " | " of every synset line (licence lines start with spaces).
  corpus=$out/wordnet_glosses.txt
  cat /usr/share/wordnet/data.{noun,verb,adj,adv} | grep -v '^  ' | sed -n 's/^[^|]*| //p' |
    sed 's/ *$//' > "$corpus"
fi
[ -s "$corpus" ] || { echo "corpus $corpus is missing or empty" >&2; exit 2; }
echo "== $(date -u +%FT%TZ) corpus $corpus: $(wc -l < "$corpus") lines, $(wc -w < "$corpus") words"

cat > "$out/config.json" <<'JSON'
{"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024,
 "max_position_embeddings": 512}
JSON
[ -f "$out/vocab/vocab.txt" ] ||
  "$pre" train-vocab --corpus "$corpus" --vocab-size 8000 --output "$out/vocab"
[ -f "$out/random/model.safetensors" ] ||
  "$pre" init --config "$out/config.json" --vocab "$out/vocab/vocab.txt" --output "$out/random" --seed 42
# Done when the checkpoint is at the last step (model.safetensors is also written at each
# evaluation, so its presence alone does not mean the run finished).
if ! grep -q "\"global_step\": $steps," "$out/pretrained/checkpoint/trainer_state.json" 2>/dev/null; then
  "$pre" pretrain --config "$out/config.json" --vocab "$out/vocab/vocab.txt" \
    --corpus "$corpus" --output "$out/pretrained" --max-steps "$steps" \
    --batch-size 64 --seq-len 64 --lr 1e-3 --warmup-ratio 0.05 --weight-decay 0.01 \
    --eval-every 500 --threads "$threads" --seed 42 --resume --stop-at-step "$stop_at" \
    2>>"$out/pretrain.progress"
fi
if [ "$stop_at" -gt 0 ] && [ "$stop_at" -lt "$steps" ]; then
  echo "== stopped at step $stop_at of $steps: run the same command again (a later --stop-at-step, or none) to go on"
  exit 0
fi
python3 tools/plot_pretraining.py "$out/pretrained/metrics.jsonl" "$out/pretraining.svg" \
  --title "small BERT (4 x 256) from scratch on $(basename "$corpus")"

# Runs on another number of labelled examples than the default 1,000 carry it in their names
# ("-full" for all of SST-2 train, --train-examples 0), so that the grids do not share logs.
tag=""
[ "$examples" = 1000 ] || tag="-n$examples"
[ "$examples" = 0 ] && tag="-full"
for lr in $lrs; do
  for epochs in $epochs_list; do
    for start in random pretrained; do
      bash scripts/finetune_seeds.sh "$start-lr$lr-ep$epochs$tag" "$out/$start" "$out" "$build" \
        "$threads" "$examples" "$lr" "$epochs"
    done
  done
done | tee "$out/finetune$tag.txt"
python3 tools/accuracy_summary.py --choose "$out/finetune$tag.txt"
