#!/usr/bin/env python3
"""PyTorch's figures for bench_cuda's train_step cases, on the same GPU, for docs/performance.md.

The step is the one bench_cuda.cu's `bm_train_step` times, written with Hugging Face
transformers: BertForSequenceClassification (random init, 2 labels, dropout 0.1, train mode) at
the MiniLM (hidden 384, 6 layers, 12 heads, FFN 1536) and BERT-base (768, 12, 12, 3072) shapes,
batch 32 × 128 tokens of random ids, attention mask all ones; zero_grad, forward with labels
(cross-entropy), backward, clip_grad_norm_(1.0), AdamW(lr 2e-5, weight decay 0.01; PyTorch's
default CUDA implementation), linear warmup/decay scheduler step.

Precisions, by PyTorch's own switches:
  highest   torch.set_float32_matmul_precision("highest")  (fp32 GEMMs)
  high      torch.set_float32_matmul_precision("high")     (TF32 GEMMs)
  medium    torch.set_float32_matmul_precision("medium")   (PyTorch may use TF32 here on CUDA)
  autocast  torch.autocast("cuda", dtype=torch.bfloat16)   (bf16 activations; not what ember's
            `medium` does — ember keeps fp32 storage and uses bf16 only inside GEMMs)

Timing: CUDA events around `--iters` steps after `--warmup` steps; the mean per step is reported.
FLOPs: the same count as benchmarks/bench_model_common.hpp (3 × the forward's matrix products).

Usage (on the GPU machine; needs torch and transformers):
    python3 tools/torch_gpu_reference.py --out torch_gpu.json
"""
import argparse
import json
import time

import torch
from transformers import BertConfig, BertForSequenceClassification

SHAPES = {
    "minilm": dict(hidden=384, layers=6, heads=12, intermediate=1536),
    "bert_base": dict(hidden=768, layers=12, heads=12, intermediate=3072),
}
BATCH, SEQ, LABELS, VOCAB = 32, 128, 2, 30522


def forward_flops(hidden, layers, intermediate, batch, seq, labels):
    """bench_model_common.hpp's model_forward_flops: matrix products only, 2 flop per MAC."""
    b, s, h, i = batch, seq, hidden, intermediate
    layer = 2.0 * b * s * (4.0 * h * h + 2.0 * h * i) + 2.0 * 2.0 * b * s * s * h
    return layers * layer + 2.0 * b * h * h + 2.0 * b * h * labels


def time_step(model_name, precision, warmup, iters):
    dims = SHAPES[model_name]
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=VOCAB, hidden_size=dims["hidden"], num_hidden_layers=dims["layers"],
                     num_attention_heads=dims["heads"], intermediate_size=dims["intermediate"],
                     max_position_embeddings=512, type_vocab_size=2, num_labels=LABELS,
                     hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    model = BertForSequenceClassification(cfg).cuda().train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: min((step + 1) / 100, max(0.0, (1e6 - step) / (1e6 - 100))))
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=g).cuda()
    mask = torch.ones(BATCH, SEQ, dtype=torch.long, device="cuda")
    types = torch.zeros(BATCH, SEQ, dtype=torch.long, device="cuda")
    labels = torch.randint(0, LABELS, (BATCH,), generator=g).cuda()

    torch.set_float32_matmul_precision("highest" if precision == "autocast" else precision)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "autocast")

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast:
            loss = model(input_ids=ids, attention_mask=mask, token_type_ids=types,
                         labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        step()
    end.record()
    end.synchronize()
    seconds = start.elapsed_time(end) / 1e3 / iters
    flops = 3.0 * forward_flops(dims["hidden"], dims["layers"], dims["intermediate"], BATCH, SEQ,
                                LABELS)
    result = {
        "name": f"train_step/{model_name}/B{BATCH}xS{SEQ}/{precision}",
        "ms": seconds * 1e3,
        "TFLOP/s": flops / seconds * 1e-12,
        "examples/s": BATCH / seconds,
        "peak_alloc_GB": torch.cuda.max_memory_allocated() * 1e-9,
        "attn_implementation": getattr(model.config, "_attn_implementation", "?"),
    }
    del model, opt
    torch.cuda.empty_cache()
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="torch_gpu.json")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()
    import transformers
    t0 = time.time()
    results = []
    for model_name in SHAPES:
        for precision in ("highest", "high", "medium", "autocast"):
            r = time_step(model_name, precision, args.warmup, args.iters)
            print(f"{r['name']:<40} {r['ms']:8.2f} ms  {r['TFLOP/s']:7.1f} TFLOP/s  "
                  f"{r['examples/s']:8.0f} examples/s  peak {r['peak_alloc_GB']:.2f} GB  "
                  f"({r['attn_implementation']})", flush=True)
            results.append(r)
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "transformers": transformers.__version__, "cuda": torch.version.cuda,
              "seconds": time.time() - t0, "results": results}
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
