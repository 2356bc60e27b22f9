#!/usr/bin/env python3
"""A frozen-feature probe: does a pretrained encoder already separate SST-2, before fine-tuning?

For each model directory (ember's save_pretrained output, which transformers loads), every
sentence is encoded once with the weights frozen, and a logistic regression (scikit-learn,
L2, C chosen on validation.tsv) is trained on its features and scored on SST-2 dev. Two
features per model: the mean of the last layer's hidden states over the real tokens
(mean-pooled), and the last layer's state at [CLS]. A masked-LM objective never trains [CLS]
nor the pooler (BERT's next-sentence objective did; it is not used here), so the two can tell
whether the pretrained knowledge is in the tokens' states but not at [CLS].
(Probing as in Conneau et al., "SentEval", LREC 2018; Hewitt & Liang, EMNLP 2019.)

  .venv-torch/bin/python tools/probe_features.py MODEL_DIR... [--train-examples N ...]
                                                 [--max-length 64] [--seed 1]

--train-examples: sizes of the seeded random subsets of train.tsv to fit on (0: all of it);
default 1000 and 0. Prints one line per model, feature and size: dev and validation accuracy.
Needs torch, transformers and scikit-learn (tools/setup_torch_cpu.sh installs them).
Reads SST-2 with tools/hf_train_sst2.py's reader."""
import argparse
import json
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from transformers import AutoModel, BertTokenizerFast

from hf_train_sst2 import read_tsv

SST2 = "examples/data/sst2"


@torch.no_grad()
def encode(model, tok, sentences, max_length, batch=256):
    mean, cls = [], []
    for i in range(0, len(sentences), batch):
        enc = tok(sentences[i:i + batch], padding=True, truncation=True, max_length=max_length,
                  return_tensors="pt")
        h = model(**enc).last_hidden_state                     # [b, s, hidden]
        m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)    # [b, s, 1]
        mean.append(((h * m).sum(1) / m.sum(1)).numpy())
        cls.append(h[:, 0].numpy())
    return np.concatenate(mean), np.concatenate(cls)


def fit(xtr, ytr, xval, yval, xdev, ydev):
    # Standardize with the training features' statistics, choose C on validation.
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    z = lambda x: (x - mu) / sd
    best = None
    for c in (0.01, 0.1, 1.0, 10.0):
        clf = LogisticRegression(C=c, max_iter=2000).fit(z(xtr), ytr)
        val = clf.score(z(xval), yval)
        if best is None or val > best[0]:
            best = (val, c, clf.score(z(xdev), ydev))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--train-examples", type=int, nargs="+", default=[1000, 0])
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    (train_x, train_y), (val_x, val_y), (dev_x, dev_y) = (
        (x, np.array(y)) for x, y in (read_tsv(f"{SST2}/{f}.tsv")
                                     for f in ("train", "validation", "dev")))
    # 1,000 validation sentences, as many as the fine-tunes validate on (a different subset:
    # numpy's seeded permutation, not ember's).
    val_idx = np.random.default_rng(a.seed).permutation(len(val_x))[:1000]
    val_x, val_y = [val_x[i] for i in val_idx], val_y[val_idx]
    for path in a.models:
        t0 = time.time()
        with open(f"{path}/tokenizer_config.json", encoding="utf-8") as f:
            lower = json.load(f).get("do_lower_case", True)
        tok = BertTokenizerFast(f"{path}/vocab.txt", do_lower_case=lower)
        model = AutoModel.from_pretrained(path, add_pooling_layer=False).eval()
        feats = {name: encode(model, tok, xs, a.max_length)
                 for name, xs in (("train", train_x), ("val", val_x), ("dev", dev_x))}
        for k, kind in enumerate(("mean-pooled", "[CLS]")):
            for n in a.train_examples:
                idx = (np.arange(len(train_y)) if n == 0 else
                       np.random.default_rng(a.seed).permutation(len(train_y))[:n])
                val, c, dev = fit(feats["train"][k][idx], train_y[idx], feats["val"][k], val_y,
                                  feats["dev"][k], dev_y)
                print(f"{path} {kind} train {n or len(train_y)}: dev {100 * dev:.2f} "
                      f"(validation {100 * val:.2f}, C {c})", flush=True)
        print(f"# {path}: {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
