#!/usr/bin/env python3
"""Checks that a model directory saved by ember loads in Hugging Face transformers and gives the
same logits as ember (issue: checkpoint round trip).

Usage (from the repo root, after `tools/setup_python.sh` and a build of the example):
    .venv-tools/bin/python tools/check_hf_roundtrip.py MODEL_DIR [--data examples/data/sst2/dev.tsv]
        [--binary build/release/examples/bert_classification] [--limit 872] [--atol 1e-4]

It runs `bert_classification predict --json` on the sentences of --data, loads MODEL_DIR with
`AutoModelForSequenceClassification` and `AutoTokenizer`, computes the logits of the same
sentences one at a time (no padding, as ember's predict does) and reports the largest absolute
difference. Exit status 0 when every logit agrees within --atol and the tokenizations match.
"""
import argparse
import json
import subprocess
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--data", default="examples/data/sst2/dev.tsv")
    ap.add_argument("--binary", default="build/release/examples/bert_classification")
    ap.add_argument("--limit", type=int, default=872)
    ap.add_argument("--atol", type=float, default=1e-4)
    args = ap.parse_args()

    with open(args.data, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    sentences = [r[0] for r in rows][: args.limit]

    out = subprocess.run([args.binary, "predict", "--model", args.model_dir, "--json"],
                         input="\n".join(sentences) + "\n", capture_output=True, text=True,
                         check=True)
    ember = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert len(ember) == len(sentences), f"{len(ember)} predictions for {len(sentences)} sentences"

    tok = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(args.model_dir).eval()
    worst = 0.0
    with torch.no_grad():
        for s, e in zip(sentences, ember):
            enc = tok(s, return_tensors="pt", truncation=True, max_length=128)
            logits = model(**enc).logits[0].tolist()
            worst = max(worst, max(abs(a - b) for a, b in zip(logits, e["logits"])))
    labels = model.config.id2label
    print(f"{len(sentences)} sentences; labels {labels}; max |logit(HF) - logit(ember)| = {worst:.3g}")
    ok = worst <= args.atol
    print("OK" if ok else f"FAILED: above {args.atol}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
