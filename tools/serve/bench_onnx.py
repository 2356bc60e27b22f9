#!/usr/bin/env python3
"""Time onnxruntime (CPU) on an exported BERT classifier (tools/serve/export_onnx.py) at fixed shapes,
to set beside ember's C++ number for the same shapes.

Session: CPUExecutionProvider, intra_op_num_threads=--threads (default 2), inter_op_num_threads=1,
ORT_SEQUENTIAL, ORT_ENABLE_ALL graph optimizations. Shapes (default): batch 32 x seq 64,
batch 1 x seq 16, batch 1 x seq 128.

Inputs (--inputs): `sst2` (default) = real SST-2 dev sentences, tokenized with the model's
tokenizer and padded/truncated to exactly `seq` tokens (attention_mask 0 on the padding; most
SST-2 sentences are shorter than 64 tokens, so those rows are mostly padding — the cost of a dense
encoder does not depend on it); `random` = uniform random ids in [1000, vocab) with an all-ones
mask. token_type_ids are zeros either way.

Per shape: --warmup runs (default 5), then --runs timed runs (default 30, at least 20) of
session.run on the same feeds; reports the median (and p10/p90) ms per batch and
sentences/s = batch / median. One JSON line per shape on stdout:
  {"runtime":"onnxruntime","batch":32,"seq":64,"ms_median":...,"sentences_per_s":...,...}
`--torch` also times PyTorch (same model, torch.set_num_threads(--threads), no_grad) on the same
feeds and prints "runtime":"pytorch" lines.

  .venv-torch/bin/python tools/serve/bench_onnx.py --onnx build/serve-onnx/minilm-sst2-quick.onnx
Numbers only mean something on a quiet machine.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_CLASSIFIER, DEFAULT_SST2_DEV, REPO_ROOT, check_model_dir, die, read_sentences

TOOL = "bench_onnx"


def parse_shapes(s):
    shapes = []
    for part in s.split(","):
        try:
            b, l = part.lower().split("x")
            shapes.append((int(b), int(l)))
        except ValueError:
            die(TOOL, f"--shapes: '{part}' is not BATCHxSEQ (e.g. 32x64)", 2)
        if shapes[-1][0] < 1 or shapes[-1][1] < 2:
            die(TOOL, f"--shapes: '{part}' needs batch >= 1 and seq >= 2", 2)
    return shapes


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    q = lambda p: ts[min(len(ts) - 1, int(round(p * (len(ts) - 1))))]
    return statistics.median(ts), q(0.1), q(0.9)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", help="ONNX file (default build/serve-onnx/<model dir name>.onnx)")
    ap.add_argument("--model", default=DEFAULT_CLASSIFIER,
                    help="HF model directory: tokenizer, vocab size, and the --torch model (default %(default)s)")
    ap.add_argument("--data", default=DEFAULT_SST2_DEV, help="sentences for --inputs sst2 (default %(default)s)")
    ap.add_argument("--inputs", choices=["sst2", "random"], default="sst2")
    ap.add_argument("--shapes", default="32x64,1x16,1x128", help="BATCHxSEQ,... (default %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads (default %(default)s)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30, help="timed runs per shape, >= 20 (default %(default)s)")
    ap.add_argument("--torch", action="store_true", help="also time PyTorch on the same feeds")
    args = ap.parse_args()
    if args.runs < 20:
        die(TOOL, "--runs must be >= 20", 2)
    if args.threads < 1:
        die(TOOL, "--threads must be >= 1", 2)
    shapes = parse_shapes(args.shapes)
    check_model_dir(TOOL, args.model, ("config.json", "vocab.txt"))
    onnx_path = args.onnx or os.path.join(REPO_ROOT, "build", "serve-onnx",
                                          os.path.basename(os.path.normpath(args.model)) + ".onnx")
    if not os.path.isfile(onnx_path):
        die(TOOL, f"{onnx_path} does not exist: run tools/serve/export_onnx.py --model {args.model} first")

    import numpy as np
    import onnxruntime as ort
    from transformers import AutoTokenizer

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    input_names = {i.name for i in sess.get_inputs()}
    tok = AutoTokenizer.from_pretrained(args.model)
    texts = read_sentences(args.data) if args.inputs == "sst2" else None
    rng = np.random.default_rng(0)

    torch_model = None
    if args.torch:
        import torch
        from transformers import AutoModelForSequenceClassification
        torch.set_num_threads(args.threads)
        torch_model = AutoModelForSequenceClassification.from_pretrained(args.model).eval()

    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    for batch, seq in shapes:
        if texts is not None:
            chosen = [texts[i % len(texts)] for i in range(batch)]
            enc = tok(chosen, padding="max_length", truncation=True, max_length=seq, return_tensors="np")
            feeds = {"input_ids": enc["input_ids"].astype(np.int64),
                     "attention_mask": enc["attention_mask"].astype(np.int64),
                     "token_type_ids": np.zeros((batch, seq), np.int64)}
        else:
            feeds = {"input_ids": rng.integers(1000, tok.vocab_size, (batch, seq), dtype=np.int64),
                     "attention_mask": np.ones((batch, seq), np.int64),
                     "token_type_ids": np.zeros((batch, seq), np.int64)}
        assert feeds["input_ids"].shape == (batch, seq)
        feeds = {k: v for k, v in feeds.items() if k in input_names}
        common = {"batch": batch, "seq": seq, "inputs": args.inputs, "threads": args.threads,
                  "warmup": args.warmup, "runs": args.runs, "cpu": cpu}
        med, p10, p90 = timed(lambda: sess.run(None, feeds), args.warmup, args.runs)
        print(json.dumps({"runtime": "onnxruntime", "version": ort.__version__, **common,
                          "ms_median": round(med, 3), "ms_p10": round(p10, 3), "ms_p90": round(p90, 3),
                          "sentences_per_s": round(batch / med * 1e3, 1)}), flush=True)
        if torch_model is not None:
            tf = {k: torch.from_numpy(v) for k, v in feeds.items()}

            def step():
                with torch.no_grad():
                    torch_model(**tf)
            med, p10, p90 = timed(step, args.warmup, args.runs)
            print(json.dumps({"runtime": "pytorch", "version": torch.__version__, **common,
                              "ms_median": round(med, 3), "ms_p10": round(p10, 3), "ms_p90": round(p90, 3),
                              "sentences_per_s": round(batch / med * 1e3, 1)}), flush=True)


if __name__ == "__main__":
    main()
