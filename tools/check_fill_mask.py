#!/usr/bin/env python3
"""Compare ember's `bert_pretraining fill-mask` with Hugging Face's fill-mask pipeline.

Loads DIR with transformers' AutoModelForMaskedLM + AutoTokenizer (so it also checks that HF
loads a directory ember saved), runs `pipeline("fill-mask", top_k=K)` on every line of
SENTENCES (each with one or more [MASK]), and compares with ember's JSON lines (one per
sentence: {"text": ..., "masks": [[{"token_id", "token", "score"}, ...], ...]}): the top-k token
ids must be identical and in the same order; the scores are reported (max |diff|).

  bert_pretraining fill-mask --model DIR --input SENTENCES --top-k 5 --json > ember.jsonl
  .venv-torch/bin/python tools/check_fill_mask.py DIR SENTENCES ember.jsonl [--top-k 5]

Exit status 0 when every sentence agrees, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("sentences")
    ap.add_argument("ember_jsonl")
    ap.add_argument("--top-k", type=int, default=5)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

    torch.set_num_threads(2)
    model = AutoModelForMaskedLM.from_pretrained(args.model_dir)
    tok = AutoTokenizer.from_pretrained(args.model_dir)
    fill = pipeline("fill-mask", model=model, tokenizer=tok, top_k=args.top_k, device="cpu")

    sentences = [s.rstrip("\n") for s in open(args.sentences, encoding="utf-8") if s.strip()]
    ember = [json.loads(line) for line in open(args.ember_jsonl, encoding="utf-8") if line.strip()]
    if len(ember) != len(sentences):
        print(f"ember wrote {len(ember)} lines for {len(sentences)} sentences")
        return 1
    agree, masks, worst = 0, 0, 0.0
    for text, e in zip(sentences, ember):
        hf = fill(text)
        if hf and isinstance(hf[0], dict):  # one [MASK]: a flat list
            hf = [hf]
        same = len(hf) == len(e["masks"])
        for h, m in zip(hf, e["masks"]):
            masks += 1
            hf_ids = [int(x["token"]) for x in h]
            em_ids = [int(x["token_id"]) for x in m]
            if hf_ids != em_ids:
                same = False
                print(f"differs: {text!r}\n  HF    {[x['token_str'] for x in h]}\n  ember {[x['token'] for x in m]}")
            for x, y in zip(h, m):
                worst = max(worst, abs(float(x["score"]) - float(y["score"])))
        agree += same
    print(f"fill-mask top-{args.top_k}: {agree}/{len(sentences)} sentences ({masks} masks) identical "
          f"token ids and order; max |score diff| {worst:.2e}")
    return 0 if agree == len(sentences) else 1


if __name__ == "__main__":
    sys.exit(main())
