#!/usr/bin/env python3
"""The named-entity recipe of examples/token_classification (ember), run with Hugging Face
transformers' own Trainer, so ember's entity F1 has a reference (issue #20).

The same recipe as `token_classification train` with the same flags:
  the model directory (AutoModelForTokenClassification: pretrained encoder + a fresh classifier
  over the training file's sorted tag set, run_ner's get_label_list), CoNLL files read by the
  rules of ember::data::read_conll, words tokenized with is_split_into_words=True and truncated
  to --max-length, the label on each word's first sub-token (-100 elsewhere: run_ner with
  label_all_tokens=False), DataCollatorForTokenClassification (pads to the longest row),
  AdamW (betas 0.9/0.999, eps 1e-8, --weight-decay except biases and LayerNorm weights), linear
  schedule with --warmup-ratio (rounded up), gradient clipping at norm 1.0, --epochs, --lr,
  --batch-size, --seed, evaluation on the validation file after every epoch and the best epoch
  by entity F1 kept (load_best_model_at_end, metric_for_best_model="f1"; a tie keeps the
  earlier), then the test file scored with it. Entity scores: seqeval 1.2.2, default
  (conlleval) mode, on the words that have a first sub-token, as run_ner's compute_metrics.

Usage (from the repo root; .venv-torch has torch 2.x, transformers 5.x; seqeval and accelerate
are pip-installed into it: `.venv-torch/bin/pip install seqeval==1.2.2 accelerate`):
    .venv-torch/bin/python tools/hf_train_ner.py --model ~/.cache/ember/models/all-MiniLM-L6-v2 \\
        --train examples/data/wnut17/train.conll --validation examples/data/wnut17/dev.conll \\
        --test examples/data/wnut17/test.conll --output runs/wnut17/hf_seed1 --seed 1 --threads 2

Prints the per-epoch validation scores and the test report, and as its LAST line one JSON
object: {"library": "transformers", "test_precision", "test_recall", "test_f1", "best_epoch",
"validation_f1" [per epoch], "epoch_seconds" [training time per epoch], "wall_seconds", ...}.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from transformers import (AutoModelForTokenClassification, AutoTokenizer,
                          DataCollatorForTokenClassification, Trainer, TrainerCallback)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_train_sst2 import training_arguments  # noqa: E402  (4.x argument names on 5.x)
from conll_reader import read_conll  # noqa: E402


class Encoded(torch.utils.data.Dataset):
    """run_ner's tokenize_and_align_labels (label_all_tokens=False)."""

    def __init__(self, tokenizer, sentences, label2id, max_length):
        self.items = []
        for words, tags in sentences:
            enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
            labels, previous = [], None
            for w in enc.word_ids():
                labels.append(-100 if w is None or w == previous else label2id[tags[w]])
                previous = w
            self.items.append({"input_ids": enc["input_ids"],
                               "token_type_ids": enc["token_type_ids"],
                               "attention_mask": enc["attention_mask"], "labels": labels})

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class EpochTimer(TrainerCallback):
    """Training seconds per epoch (without the evaluation that follows it)."""

    def __init__(self):
        self.seconds, self._t = [], None

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._t = time.time()

    def on_epoch_end(self, args, state, control, **kwargs):
        self.seconds.append(time.time() - self._t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--validation", required=True)
    ap.add_argument("--test", default="")
    ap.add_argument("--output", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--warmup-ratio", type=float, default=0.0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    train, validation = read_conll(args.train), read_conll(args.validation)
    test = read_conll(args.test) if args.test else validation
    label_list = sorted({t for _, tags in train for t in tags})
    label2id = {t: i for i, t in enumerate(label_list)}
    id2label = dict(enumerate(label_list))
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForTokenClassification.from_pretrained(
        args.model, num_labels=len(label_list), id2label=id2label, label2id=label2id,
        ignore_mismatched_sizes=True)  # a checkpoint with another head: a fresh one, as ember
    train_set = Encoded(tok, train, label2id, args.max_length)
    val_set = Encoded(tok, validation, label2id, args.max_length)
    test_set = Encoded(tok, test, label2id, args.max_length)

    def tags_of(predictions, labels):
        pred = np.argmax(predictions, axis=-1)
        true_tags = [[label_list[l] for l in row if l != -100] for row in labels]
        pred_tags = [[label_list[p] for p, l in zip(prow, lrow) if l != -100]
                     for prow, lrow in zip(pred, labels)]
        return true_tags, pred_tags

    def compute_metrics(eval_pred):
        true_tags, pred_tags = tags_of(*eval_pred)
        return {"precision": precision_score(true_tags, pred_tags),
                "recall": recall_score(true_tags, pred_tags), "f1": f1_score(true_tags, pred_tags)}

    targs = training_arguments(
        output_dir=args.output, overwrite_output_dir=True, use_cpu=True, seed=args.seed,
        num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=64, learning_rate=args.lr, weight_decay=args.weight_decay,
        adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, max_grad_norm=1.0,
        lr_scheduler_type="linear", warmup_ratio=args.warmup_ratio,
        eval_strategy="epoch", save_strategy="epoch", save_total_limit=1,
        load_best_model_at_end=True, metric_for_best_model="f1", greater_is_better=True,
        logging_strategy="epoch", report_to=[], dataloader_num_workers=0, disable_tqdm=True)
    timer = EpochTimer()
    trainer = Trainer(model=model, args=targs, train_dataset=train_set, eval_dataset=val_set,
                      data_collator=DataCollatorForTokenClassification(tok),
                      compute_metrics=compute_metrics, callbacks=[timer])
    t0 = time.time()
    trainer.train()
    wall = time.time() - t0

    val_f1 = [r["eval_f1"] for r in trainer.state.log_history if "eval_f1" in r]
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    for e, f in enumerate(val_f1):
        loss = f"{losses[e]:.4f}" if e < len(losses) else "-"
        secs = f"{timer.seconds[e]:.1f}" if e < len(timer.seconds) else "-"
        print(f"epoch {e + 1}/{args.epochs}: loss {loss}, validation f1 {f:.4f}; {secs} s training")
    out = trainer.predict(test_set)
    true_tags, pred_tags = tags_of(out.predictions, out.label_ids)
    print(classification_report(true_tags, pred_tags, digits=4))
    best_epoch = int(np.argmax(val_f1)) + 1 if val_f1 else None  # first maximum = HF's rule
    res = {"library": "transformers", "seed": args.seed, "threads": args.threads,
           "test_precision": precision_score(true_tags, pred_tags),
           "test_recall": recall_score(true_tags, pred_tags),
           "test_f1": f1_score(true_tags, pred_tags), "best_epoch": best_epoch,
           "validation_f1": val_f1, "epoch_seconds": timer.seconds, "wall_seconds": wall,
           "torch": torch.__version__, "model": args.model}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
