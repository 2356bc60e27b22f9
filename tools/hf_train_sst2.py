#!/usr/bin/env python3
"""The full SST-2 fine-tuning recipe of `EMBER_QUICKSTART_FULL=1 bash scripts/quickstart.sh`,
run with Hugging Face transformers' own Trainer, so ember's dev accuracy has a reference
(issue 4, docs/tutorial.md section 5).

Same checkpoint, data, epochs, batch size, lr schedule, max length, seed count as ember's run:
  all-MiniLM-L6-v2, train.tsv (60,614) / validation.tsv (6,735) / dev.tsv (872),
  2 epochs, batch 32, AdamW lr 1e-4 (betas 0.9/0.999, eps 1e-8), weight decay 0.01 except
  biases and LayerNorm weights, linear warmup over 10% of the steps then linear decay to 0,
  gradient clipping at global norm 1.0, max_length 64 with dynamic padding, length-grouped
  batches, evaluation on validation.tsv every 500 steps, best checkpoint by validation
  accuracy with early stopping (patience 4), one seed (42), 2 threads.

Usage (from the repo root, after tools/setup_python.sh and scripts/fetch_model.sh):
    .venv-tools/bin/python tools/hf_train_sst2.py --model ~/.cache/ember/models/all-MiniLM-L6-v2
        [--output runs/hf-sst2-full] [--threads 2] [--epochs 2]

Prints the validation curve and, as its last line, `dev accuracy: 0.XXXX`; writes
OUTPUT/results.json (curve, dev accuracy, wall time, examples/s).

    .venv-tools/bin/python tools/hf_train_sst2.py --model M --evaluate OUTPUT/checkpoint-N
evaluates a saved checkpoint (e.g. the best one of an unfinished run) on dev.tsv instead.
"""
import argparse
import csv
import dataclasses
import json
import os
import time

import numpy as np
import torch
from transformers import (AutoModelForSequenceClassification, AutoTokenizer,
                          DataCollatorWithPadding, EarlyStoppingCallback, Trainer,
                          TrainerCallback, TrainingArguments)


def read_tsv(path):
    """SST-2 TSV: header `sentence<TAB>label`, no quoting."""
    with open(path, encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header, body = rows[0], rows[1:]
    s, l = header.index("sentence"), header.index("label")
    return [r[s] for r in body], [int(r[l]) for r in body]


class Encoded(torch.utils.data.Dataset):
    def __init__(self, tokenizer, path, max_length):
        texts, labels = read_tsv(path)
        enc = tokenizer(texts, truncation=True, max_length=max_length)
        self.items = [{"input_ids": enc["input_ids"][i],
                       "token_type_ids": enc["token_type_ids"][i],
                       "attention_mask": enc["attention_mask"][i],
                       "labels": labels[i]} for i in range(len(texts))]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class EvaluateAtEpochEnd(TrainerCallback):
    """Also evaluates (and saves) at the end of each epoch, as ember's example does, so that both
    libraries choose their best checkpoint among the same steps."""

    def on_epoch_end(self, args, state, control, **kwargs):
        control.should_evaluate = True
        control.should_save = True
        return control


def accuracy(eval_pred):
    logits, labels = eval_pred
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


def training_arguments(**kwargs):
    """TrainingArguments(**kwargs) written with 4.x names, translated for transformers 5.x:
    `group_by_length=True` became `train_sampling_strategy="group_by_length"`, `warmup_ratio=r`
    became `warmup_steps=r` (a float below 1 is a ratio; both round up with ceil), and
    `overwrite_output_dir` is gone (a no-op here: every run writes a new directory). Any other
    missing argument would change the recipe, so it is an error."""
    known = {f.name for f in dataclasses.fields(TrainingArguments)}
    if "group_by_length" in kwargs and "group_by_length" not in known:
        if kwargs.pop("group_by_length"):
            kwargs["train_sampling_strategy"] = "group_by_length"
    if "warmup_ratio" in kwargs and "warmup_ratio" not in known:
        kwargs["warmup_steps"] = kwargs.pop("warmup_ratio")
    if "overwrite_output_dir" not in known:
        kwargs.pop("overwrite_output_dir", None)
    missing = sorted(set(kwargs) - known)
    if missing:
        raise SystemExit(f"TrainingArguments has no {missing} in this transformers version")
    return TrainingArguments(**kwargs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", default="examples/data/sst2")
    ap.add_argument("--output", default="runs/hf-sst2-full")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--max-train-examples", type=int, default=0)
    ap.add_argument("--max-validation-examples", type=int, default=0,
                    help="validate on the first N of validation.tsv (0: all), as ember's option")
    ap.add_argument("--evaluate", default="", help="a checkpoint directory to evaluate on dev.tsv")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                    help="where the Trainer runs (cuda: PyTorch's default fp32 matmuls)")
    ap.add_argument("--eval-at-epoch-end", action="store_true",
                    help="also evaluate at each epoch's end, like ember (the 2026-11-30 run in "
                         "docs/tutorial.md did not)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    if args.evaluate:
        tok = AutoTokenizer.from_pretrained(args.model)
        dev = Encoded(tok, os.path.join(args.data, "dev.tsv"), 64)
        model = AutoModelForSequenceClassification.from_pretrained(args.evaluate)
        ev = Trainer(model=model, args=training_arguments(output_dir="/tmp/hf-eval",
                                                          use_cpu=args.device == "cpu",
                                                          per_device_eval_batch_size=64,
                                                          report_to=[], disable_tqdm=True),
                     data_collator=DataCollatorWithPadding(tok), compute_metrics=accuracy)
        print(f"dev accuracy: {ev.evaluate(dev)['eval_accuracy']:.4f}")
        return

    tok = AutoTokenizer.from_pretrained(args.model)
    train = Encoded(tok, os.path.join(args.data, "train.tsv"), 64)
    if args.max_train_examples:
        train.items = train.items[: args.max_train_examples]
    val = Encoded(tok, os.path.join(args.data, "validation.tsv"), 64)
    if args.max_validation_examples:
        val.items = val.items[: args.max_validation_examples]
    dev = Encoded(tok, os.path.join(args.data, "dev.tsv"), 64)
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)

    targs = training_arguments(
        output_dir=args.output, overwrite_output_dir=True, use_cpu=args.device == "cpu",
        seed=args.seed,
        num_train_epochs=args.epochs, per_device_train_batch_size=32,
        per_device_eval_batch_size=64, learning_rate=1e-4, weight_decay=0.01,
        adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, max_grad_norm=1.0,
        lr_scheduler_type="linear", warmup_ratio=0.1, group_by_length=True,
        eval_strategy="steps", eval_steps=500, save_strategy="steps", save_steps=500,
        save_total_limit=1, load_best_model_at_end=True, metric_for_best_model="accuracy",
        greater_is_better=True, logging_steps=50, report_to=[], dataloader_num_workers=0,
        disable_tqdm=True)
    trainer = Trainer(model=model, args=targs, train_dataset=train, eval_dataset=val,
                      data_collator=DataCollatorWithPadding(tok), compute_metrics=accuracy,
                      callbacks=[EarlyStoppingCallback(early_stopping_patience=4)] +
                      ([EvaluateAtEpochEnd()] if args.eval_at_epoch_end else []))
    t0 = time.time()
    out = trainer.train()
    wall = time.time() - t0

    curve, last_loss = [], None  # read before the dev evaluation adds its own record
    for rec in trainer.state.log_history:
        if "loss" in rec:
            last_loss = rec["loss"]
        if "eval_accuracy" in rec and "step" in rec:
            curve.append({"step": rec["step"], "train_loss": last_loss,
                          "validation_accuracy": rec["eval_accuracy"]})
    dev_acc = trainer.evaluate(dev)["eval_accuracy"]
    print("step  train_loss  validation_accuracy")
    for c in curve:
        loss = "-" if c["train_loss"] is None else f"{c['train_loss']:.4f}"
        print(f"{c['step']:5d}  {loss:>10}  {c['validation_accuracy']:.4f}")
    res = {"dev_accuracy": dev_acc, "curve": curve, "wall_seconds": wall,
           "steps": out.global_step, "train_examples_per_second": out.metrics.get(
               "train_samples_per_second"), "best_checkpoint": trainer.state.best_model_checkpoint,
           "torch": torch.__version__, "threads": args.threads, "device": args.device,
           "seed": args.seed}
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(f"training wall time: {wall:.0f} s, steps: {out.global_step}")
    print(f"dev accuracy: {dev_acc:.4f}")


if __name__ == "__main__":
    main()
