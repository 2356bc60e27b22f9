#!/usr/bin/env python3
"""bench_model's cases in PyTorch 2.x + Hugging Face transformers on the CPU: the rival users
compare ember with (docs/performance.md). Same names, shapes, iterations and timed work as
benchmarks/bench_model.cpp (see benchmarks/bench_model_common.hpp), with transformers' own
modules (sdpa attention), float32:

  bert_minilm_forward/B32xS128     BertModel (all-MiniLM-L6-v2 sizes, random init), eval, no_grad
  layer_forward/<dims>/<shape>     BertLayer (post-LN, exact GELU, dropout 0), eval, no_grad
  layer_fwd_bwd/<dims>/<shape>     the same layer, train mode: forward + backward of y·w
  minilm_train_step/B32xS64        BertForSequenceClassification (2 labels, dropout 0.1), train:
                                   forward + loss + backward + clip_grad_norm_(1.0) + AdamW step +
                                   linear schedule step
  --bf16: every step under torch.autocast("cpu", dtype=torch.bfloat16) (bench_model --bf16's rival)
  scaling_forward|scaling_fwd_bwd/bert_base/B8xS<s>   the BERT-base layer at batch 8, seq 64, 128,
                                   256, 512 (only with --seq-scaling; bench_model's iteration counts)

The layer cases pass no attention mask (ember's pass an all-ones mask): the rival's fastest path.
Writes Google Benchmark-style JSON (run_name, real_time in ms per iteration, one entry per
repetition) so scripts/bench_torch.sh reads both sides alike.

  .venv-torch/bin/python tools/torch_cpu_bench.py --threads 2 --repetitions 3 --out FILE [--filter RE]
"""
import argparse
import json
import re
import time

import torch
import transformers
from transformers import BertConfig, BertForSequenceClassification, BertModel
from transformers.models.bert.modeling_bert import BertLayer

MINILM = dict(hidden_size=384, num_attention_heads=12, intermediate_size=1536)
BERT_BASE = dict(hidden_size=768, num_attention_heads=12, intermediate_size=3072)


def config(dims, layers=1, dropout=0.0):
    return BertConfig(vocab_size=30522, num_hidden_layers=layers, hidden_act="gelu",
                      hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                      max_position_embeddings=512, type_vocab_size=2, num_labels=2,
                      attn_implementation="sdpa", **dims)


def first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def model_forward(batch, seq):
    torch.manual_seed(0)
    model = BertModel(config(MINILM, layers=6)).eval()
    ids = torch.randint(0, 30522, (batch, seq))
    mask, types = torch.ones(batch, seq, dtype=torch.long), torch.zeros(batch, seq, dtype=torch.long)
    def step():
        with torch.no_grad():
            model(input_ids=ids, attention_mask=mask, token_type_ids=types)
    return step


def layer(dims, batch, seq, backward):
    torch.manual_seed(0)
    lay = BertLayer(config(dims))
    x = torch.randn(batch, seq, dims["hidden_size"])
    if not backward:
        lay.eval()
        def step():
            with torch.no_grad():
                first(lay(x))
        return step
    lay.train()
    x.requires_grad_(True)
    w = torch.randn(batch, seq, dims["hidden_size"])
    def step():
        lay.zero_grad(set_to_none=True)
        x.grad = None
        first(lay(x)).backward(w)
    return step


def train_step(batch, seq):
    torch.manual_seed(0)
    model = BertForSequenceClassification(config(MINILM, layers=6, dropout=0.1)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    sched = transformers.get_linear_schedule_with_warmup(opt, 100, 1000000)
    ids = torch.randint(0, 30522, (batch, seq))
    mask, types = torch.ones(batch, seq, dtype=torch.long), torch.zeros(batch, seq, dtype=torch.long)
    labels = torch.randint(0, 2, (batch,))
    def step():
        opt.zero_grad(set_to_none=True)
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    return step


CASES = [
    ("bert_minilm_forward/B32xS128", 3, lambda: model_forward(32, 128)),
    ("layer_forward/bert_base/B8xS128", 10, lambda: layer(BERT_BASE, 8, 128, False)),
    ("layer_fwd_bwd/bert_base/B8xS128", 4, lambda: layer(BERT_BASE, 8, 128, True)),
    ("layer_forward/minilm/B32xS64", 10, lambda: layer(MINILM, 32, 64, False)),
    ("layer_fwd_bwd/minilm/B32xS64", 5, lambda: layer(MINILM, 32, 64, True)),
    ("minilm_train_step/B32xS64", 3, lambda: train_step(32, 64)),
]

# bench_model's scaling grid at batch 8 (iterations: clamp(20 GFLOP / the case's FLOPs, 1, 20)).
def _scaling_iters(seq, backward):
    h, i, b = 768, 3072, 8
    flops = 2.0 * b * seq * (4 * h * h + 2 * h * i) + 4.0 * b * seq * seq * h
    return max(1, min(20, int(20e9 / ((3.0 if backward else 1.0) * flops))))


SCALING_CASES = [
    (f"{'scaling_fwd_bwd' if bwd else 'scaling_forward'}/bert_base/B8xS{seq}",
     _scaling_iters(seq, bwd), (lambda s=seq, w=bwd: layer(BERT_BASE, 8, s, w)))
    for bwd in (False, True) for seq in (64, 128, 256, 512)
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--filter", default=".")
    ap.add_argument("--out", required=True)
    ap.add_argument("--bf16", action="store_true",
                    help="run every step under torch.autocast('cpu', dtype=torch.bfloat16)")
    ap.add_argument("--seq-scaling", action="store_true",
                    help="run the BERT-base layer at batch 8, seq 64..512 instead of the six cases")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for name, iters, make in (SCALING_CASES if args.seq_scaling else CASES):
        if not re.search(args.filter, name):
            continue
        step = make()
        if args.bf16:
            plain = step
            def step(plain=plain):
                with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
                    plain()
        step()  # warm-up, as bench_model
        for _ in range(args.repetitions):
            t0 = time.perf_counter()
            for _ in range(iters):
                step()
            ms = (time.perf_counter() - t0) * 1e3 / iters
            results.append({"run_name": f"{name}/iterations:{iters}/real_time",
                            "run_type": "iteration", "real_time": ms, "time_unit": "ms"})
            print(f"{name}: {ms:.2f} ms", flush=True)
    context = {"library": "pytorch", "torch": torch.__version__,
               "transformers": transformers.__version__, "threads": args.threads,
               "mkldnn": torch.backends.mkldnn.is_available(), "autocast_bf16": args.bf16,
               "parallel_info": torch.__config__.parallel_info()}
    with open(args.out, "w") as f:
        json.dump({"context": context, "benchmarks": results}, f, indent=1)


if __name__ == "__main__":
    main()
