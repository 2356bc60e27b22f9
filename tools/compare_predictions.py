#!/usr/bin/env python3
"""Paired comparison of two classifiers on the same labelled file (issue 4: ember's fine-tuned
model against the Hugging Face Trainer's, on SST-2 dev.tsv).

Each model's predictions come from `bert_classification predict --json` over the file's
sentences, one JSON object per line with a "label" field, in the file's order:

    cut -f1 examples/data/sst2/dev.tsv | tail -n +2 > dev_sentences.txt
    build/release/examples/bert_classification predict --model A --input dev_sentences.txt \
        --json --max-length 64 > a.jsonl        # and the same for model B
    python3 tools/compare_predictions.py examples/data/sst2/dev.tsv a.jsonl b.jsonl

Prints both accuracies, how many sentences only one of the models gets right, and the exact
two-sided McNemar test (binomial on the discordant pairs): the probability of a split at least
as uneven if both models were equally accurate. With n discordant sentences out of N, the
standard error of the accuracy difference is about sqrt(n)/N: what one pair of runs can resolve.
Standard library only.
"""
import csv
import json
import math
import sys


def read_labels(path):
    """The `label` column of a TSV with a header (SST-2 layout: no quoting)."""
    with open(path, encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    col = rows[0].index("label")
    return [r[col] for r in rows[1:]]


def read_predictions(path):
    with open(path, encoding="utf-8") as f:
        return [str(json.loads(line)["label"]) for line in f if line.strip()]


def mcnemar_exact(b, c):
    """Two-sided exact McNemar p-value for b and c discordant pairs."""
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: compare_predictions.py LABELLED.tsv A.jsonl B.jsonl")
    labels = read_labels(sys.argv[1])
    a, b = read_predictions(sys.argv[2]), read_predictions(sys.argv[3])
    if not (len(a) == len(b) == len(labels)):
        sys.exit(f"error: {len(labels)} labels but {len(a)} and {len(b)} predictions")
    n = len(labels)
    acc_a = sum(p == y for p, y in zip(a, labels)) / n
    acc_b = sum(p == y for p, y in zip(b, labels)) / n
    only_a = sum(pa == y != pb for pa, pb, y in zip(a, b, labels))
    only_b = sum(pb == y != pa for pa, pb, y in zip(a, b, labels))
    print(f"examples: {n}")
    print(f"accuracy A: {acc_a:.4f}   B: {acc_b:.4f}   A - B: {100 * (acc_a - acc_b):+.2f} points")
    print(f"only A right: {only_a}   only B right: {only_b}   "
          f"(standard error of the difference ~ {100 * math.sqrt(only_a + only_b) / n:.2f} points)")
    print(f"exact McNemar p: {mcnemar_exact(only_a, only_b):.3f}")


if __name__ == "__main__":
    main()
