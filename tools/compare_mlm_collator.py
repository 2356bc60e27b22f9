#!/usr/bin/env python3
"""Hugging Face's DataCollatorForLanguageModeling on the token ids ember's tests mask, with the
statistics tests/text/test_language_modeling.cpp checks, for a side-by-side look.

The ids: the first 6,000 SST-2 training sentences, tokenized without special tokens, joined with
one [SEP] between sentences and cut into blocks [CLS] + 126 tokens + [SEP] — ember's
`Packing::blocks` at seq_len 128 (LanguageModelingDataset::from_documents in the whole-word test;
ember's tokenizer gives HF's ids). The masks differ by design (ember draws from its own Philox
generator); the fractions should agree within sampling noise.

    .venv-torch/bin/python tools/compare_mlm_collator.py [--seed 0] [--ember-binary PATH]

With --ember-binary (build/<preset>/tests/ember_test_text) it also runs ember's collator tests and
prints their measured fractions.
"""
import argparse
import csv
import pathlib
import subprocess

import torch
import transformers
from transformers import BertTokenizerFast, DataCollatorForLanguageModeling

ROOT = pathlib.Path(__file__).resolve().parent.parent


def sst2_sentences(n):
    with open(ROOT / "examples/data/sst2/train.tsv", newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows)
        return [r[0] for _, r in zip(range(n), rows)]


def blocks(tokenizer, sentences, seq_len):
    stream = []
    for i, s in enumerate(sentences):
        if i:
            stream.append(tokenizer.sep_token_id)
        stream += tokenizer(s, add_special_tokens=False)["input_ids"]
    n = seq_len - 2
    return [[tokenizer.cls_token_id] + stream[i:i + n] + [tokenizer.sep_token_id]
            for i in range(0, len(stream) - n + 1, n)]


def stats(tokenizer, rows, collator):
    special = set(tokenizer.all_special_ids)
    eligible = selected = masked = randomized = unchanged = bad = 0
    for lo in range(0, len(rows), 32):
        part = rows[lo:lo + 32]
        batch = collator([{"input_ids": r} for r in part])
        ids, labels = batch["input_ids"], batch["labels"]
        for r, orig in enumerate(part):
            for t, o in enumerate(orig):
                eligible += o not in special
                if labels[r, t] == -100:
                    continue
                selected += 1
                bad += o in special
                v = int(ids[r, t])
                if v == tokenizer.mask_token_id:
                    masked += 1
                elif v == o:
                    unchanged += 1
                else:
                    randomized += 1
    return eligible, selected, masked, randomized, unchanged, bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ember-binary", help="ember_test_text, to print ember's numbers as well")
    args = ap.parse_args()
    tokenizer = BertTokenizerFast(str(ROOT / "tests/data/bert_tiny/vocab.txt"))
    rows = blocks(tokenizer, sst2_sentences(6000), 128)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=args.seed,
                                               return_tensors="pt")
    e, s, m, r, u, bad = stats(tokenizer, rows, collator)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, seed {args.seed}")
    print(f"Hugging Face, {len(rows)} blocks of 128 from SST-2: {e} eligible tokens, "
          f"selected {s / e:.4f}, [MASK] {m / s:.4f}, random {r / s:.4f}, "
          f"unchanged {u / s:.4f}, special tokens selected {bad}")
    if args.ember_binary:
        out = subprocess.run([args.ember_binary, "-tc=mlm_collator*", "-s"], capture_output=True,
                             text=True).stdout
        print("ember (tests/text/test_language_modeling.cpp):")
        for line in out.splitlines():
            if "MESSAGE" in line:
                print("  " + line.split("MESSAGE: ", 1)[1])


if __name__ == "__main__":
    main()
