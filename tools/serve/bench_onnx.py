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

int8 rivals (issue #18), the two stock ways to get dynamic int8 inference out of these runtimes:
`--quantize-dynamic` times ONNX Runtime on a dynamically quantized copy of the .onnx instead of
the float one ("runtime":"onnxruntime-int8"): onnxruntime.quantization.quantize_dynamic with int8
weights, one scale per output channel (per_channel=True), activations quantized per batch at run
time; written next to the input as <name>.int8.onnx and reused while it is newer than the input.
`--torch-int8` also times torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, qint8) on the
x86 quantized engine (fbgemm where x86 is missing; the line records which) ("runtime":"pytorch-int8").
tools/serve/eval_int8_rivals.py reports their SST-2 accuracy; scripts/bench_int8.sh sets them beside ember.

  .venv-torch/bin/python tools/serve/bench_onnx.py --onnx build/serve-onnx/minilm-sst2-quick.onnx
  .venv-torch/bin/python tools/serve/bench_onnx.py --quantize-dynamic --torch-int8 --shapes 32x64,1x32
Numbers only mean something on a quiet machine.
"""
import argparse
import json
import os
import statistics
import sys
import time
import warnings

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


def ort_session(path, threads):
    """The session every ONNX Runtime number here comes from (float or int8 alike)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


# What quantize_onnx_dynamic asks for, recorded in the JSON so that a number says what it measured.
ORT_INT8_SETTINGS = {"weight_type": "QInt8", "per_channel": True, "reduce_range": False}


def quantize_onnx_dynamic(onnx_path):
    """ONNX Runtime's dynamic int8 quantization of `onnx_path`, as its docs give it: MatMul/Gemm
    weights stored as int8 with a scale per output channel, activations quantized per run
    (DynamicQuantizeLinear -> MatMulInteger). reduce_range stays off: it only matters on x86
    without VNNI, where the u8 x s8 multiply can saturate. Returns (path of <name>.int8.onnx,
    whether it was written now). A copy newer than the input is reused, so re-exporting the float
    model makes the next run quantize again."""
    root, _ = os.path.splitext(onnx_path)
    out = root + ".int8.onnx"
    if os.path.isfile(out) and os.path.getmtime(out) > os.path.getmtime(onnx_path):
        return out, False
    from onnxruntime.quantization import QuantType, quantize_dynamic
    # Write under a temporary name, then rename: an interrupted run must not leave a truncated
    # file that the freshness check above would trust next time.
    tmp = root + ".int8.tmp.onnx"
    quantize_dynamic(onnx_path, tmp, weight_type=QuantType.QInt8, per_channel=True, reduce_range=False)
    os.replace(tmp, out)
    return out, True


def torch_int8_model(model_dir):
    """PyTorch's dynamic int8 (torch.ao.quantization.quantize_dynamic): every nn.Linear gets int8
    weights (one scale per tensor) and quantizes its input on each call; embeddings, LayerNorm and
    softmax stay float. The x86 engine (fbgemm, or onednn where that is faster) is PyTorch's
    default on x86 since 2.0; older builds have only fbgemm. Returns (model, engine)."""
    import torch
    from transformers import AutoModelForSequenceClassification
    engines = torch.backends.quantized.supported_engines
    engine = "x86" if "x86" in engines else "fbgemm"
    if engine not in engines:
        die(TOOL, f"this PyTorch has neither the x86 nor the fbgemm quantized engine ({engines})")
    torch.backends.quantized.engine = engine  # set before quantizing: weights are packed per engine
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    # PyTorch 2.10+ marks torch.ao.quantization (and quantized tensors) deprecated in favour of
    # torchao, with a page of warnings; it still works, and it is the stock dynamic-int8 path that
    # users of torch 2.x have, so it is the rival to beat. Keep stderr readable.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.ao\.quantization")
        warnings.filterwarnings("ignore", category=UserWarning, message=r".*quantized tensor creation")
        qmodel = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return qmodel, engine


def torch_step(model, feeds):
    """One forward pass of `model` on numpy feeds, as a no-argument function for timed()."""
    import torch
    tf = {k: torch.from_numpy(v) for k, v in feeds.items()}

    def step():
        with torch.no_grad():
            model(**tf)
    return step


def report(runtime, version, common, batch, med, p10, p90, **extra):
    print(json.dumps({"runtime": runtime, "version": version, **extra, **common,
                      "ms_median": round(med, 3), "ms_p10": round(p10, 3), "ms_p90": round(p90, 3),
                      "sentences_per_s": round(batch / med * 1e3, 1)}), flush=True)


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
    ap.add_argument("--quantize-dynamic", action="store_true",
                    help="time ONNX Runtime on the dynamic-int8 copy <name>.int8.onnx (made if missing "
                         "or older than the .onnx) instead of the float model")
    ap.add_argument("--torch-int8", action="store_true",
                    help="also time PyTorch quantize_dynamic (nn.Linear -> qint8) on the same feeds")
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

    ort_runtime, ort_extra = "onnxruntime", {}
    if args.quantize_dynamic:
        t0 = time.perf_counter()
        onnx_path, made = quantize_onnx_dynamic(onnx_path)
        if made:
            print(f"{TOOL}: wrote {onnx_path} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        ort_runtime = "onnxruntime-int8"
        ort_extra = {"onnx": os.path.basename(onnx_path), "quantization": ORT_INT8_SETTINGS}
    sess = ort_session(onnx_path, args.threads)
    input_names = {i.name for i in sess.get_inputs()}
    tok = AutoTokenizer.from_pretrained(args.model)
    texts = read_sentences(args.data) if args.inputs == "sst2" else None
    rng = np.random.default_rng(0)

    torch_model = torch_int8 = None
    if args.torch or args.torch_int8:
        import torch
        from transformers import AutoModelForSequenceClassification
        torch.set_num_threads(args.threads)
    if args.torch:
        torch_model = AutoModelForSequenceClassification.from_pretrained(args.model).eval()
    if args.torch_int8:
        torch_int8, engine = torch_int8_model(args.model)

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
        report(ort_runtime, ort.__version__, common, batch, med, p10, p90, **ort_extra)
        if torch_model is not None:
            med, p10, p90 = timed(torch_step(torch_model, feeds), args.warmup, args.runs)
            report("pytorch", torch.__version__, common, batch, med, p10, p90)
        if torch_int8 is not None:
            med, p10, p90 = timed(torch_step(torch_int8, feeds), args.warmup, args.runs)
            report("pytorch-int8", torch.__version__, common, batch, med, p10, p90, engine=engine)


if __name__ == "__main__":
    main()
