#!/usr/bin/env python3
"""Hugging Face's side of the MLM pretraining throughput comparison (issue #16, must-show 6).

Continues masked-LM pretraining of a BERT directory the way a user of transformers would:
AutoModelForMaskedLM + Trainer + DataCollatorForLanguageModeling (mlm_probability 0.15) on a
plain-text corpus packed into blocks of --seq-len tokens (run_mlm.py's group_texts), AdamW,
linear schedule, no evaluation, no saving. Prints the training throughput in tokens/s from the
Trainer's own train_runtime (evaluation and saving are off, as in ember's figure).

  .venv-torch/bin/python tools/hf_pretrain_mlm.py --model DIR --corpus FILE \
      --max-steps 20 --batch-size 32 --seq-len 128 --threads 2

scripts/bench_pretrain.sh alternates it with `bert_pretraining pretrain` on the same settings.
"""
from __future__ import annotations

import argparse
import os
import tempfile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--max-steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    import transformers
    from transformers import (AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling,
                              Trainer, TrainingArguments)

    transformers.logging.set_verbosity_error()
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForMaskedLM.from_pretrained(args.model)

    # run_mlm.py: tokenize every line with special tokens, concatenate, cut into seq_len blocks.
    needed = args.max_steps * args.batch_size
    lines = [l.strip() for l in open(args.corpus, encoding="utf-8") if l.strip()]
    ids: list[int] = []
    blocks: list[list[int]] = []
    for start in range(0, len(lines), 1000):
        for row in tok(lines[start:start + 1000])["input_ids"]:
            ids.extend(row)
        while len(ids) >= args.seq_len:
            blocks.append(ids[:args.seq_len])
            ids = ids[args.seq_len:]
        if len(blocks) >= needed:
            break
    if len(blocks) < needed:
        raise SystemExit(f"the corpus gives {len(blocks)} blocks; {needed} needed")
    train = [{"input_ids": b} for b in blocks[:needed]]

    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(
            output_dir=out, per_device_train_batch_size=args.batch_size, max_steps=args.max_steps,
            learning_rate=args.lr, weight_decay=0.01, warmup_steps=0, lr_scheduler_type="linear",
            max_grad_norm=1.0, logging_strategy="no", save_strategy="no", eval_strategy="no",
            report_to=[], seed=args.seed, dataloader_num_workers=0, use_cpu=True,
            disable_tqdm=True)
        trainer = Trainer(model=model, args=targs, train_dataset=train,
                          data_collator=DataCollatorForLanguageModeling(tok, mlm_probability=0.15))
        result = trainer.train()
    runtime = result.metrics["train_runtime"]
    tokens = args.max_steps * args.batch_size * args.seq_len
    print(f"hf: {args.max_steps} steps, {runtime:.1f} s of training ({tokens / runtime:.0f} tokens/s); "
          f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"{torch.get_num_threads()} threads, final loss {result.training_loss:.4f}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
