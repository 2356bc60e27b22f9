#!/usr/bin/env python3
"""SST-2 dev accuracy of the int8 rivals (issue #18): what PyTorch's and ONNX Runtime's stock dynamic
int8 quantization cost in accuracy on the same classifier ember quantizes, beside their float runs.

Four runtimes, each one JSON line on stdout:
  pytorch           the float Hugging Face model (AutoModelForSequenceClassification, no_grad)
  pytorch-int8      torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, qint8), x86 engine
  onnxruntime       ONNX Runtime (CPU) on the float .onnx from tools/serve/export_onnx.py
  onnxruntime-int8  ONNX Runtime on its dynamic-int8 copy <name>.int8.onnx (int8 weights, per channel)
The int8 models are made exactly as tools/serve/bench_onnx.py --torch-int8 / --quantize-dynamic make
the ones it times (the same functions), so the accuracy and the speed are of the same model.

Every runtime sees the same token ids: the dev set in file order, --batch-size sentences per batch
(default 64), padded to the longest in the batch (attention_mask 0 on the padding), truncated to
--max-length tokens (default 128) -- as `bert_classification eval` feeds ember. The prediction is
the argmax of the logits, compared with the integer label column. Each line gives accuracy,
macro_f1, examples, seconds (model time only, tokenization excluded; not a benchmark: see
scripts/bench_int8.sh), and, for the last three, agreement_with_pytorch: the fraction of
sentences on which it predicts what the float PyTorch model predicts.

  .venv-torch/bin/python tools/serve/eval_int8_rivals.py [--model DIR] [--onnx FILE.onnx]
ember's own number, for the same table:
  build/release/examples/bert_classification eval --model DIR --data examples/data/sst2/dev.tsv --threads 2 --int8
"""
import argparse
import csv
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_onnx import ORT_INT8_SETTINGS, ort_session, quantize_onnx_dynamic, torch_int8_model
from common import DEFAULT_CLASSIFIER, DEFAULT_SST2_DEV, REPO_ROOT, check_model_dir, die

TOOL = "eval_int8_rivals"
RUNTIMES = ("pytorch", "pytorch-int8", "onnxruntime", "onnxruntime-int8")


def read_labelled(path):
    """(sentences, labels) from an SST-2 style TSV; the header names the columns (`sentence`,
    `label`), so their order in the file does not matter. Raw TSV: quotes are text, not quoting."""
    if not os.path.isfile(path):
        die(TOOL, f"no such file: {path}")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [h.strip() for h in next(reader, [])]
        if "sentence" not in header or "label" not in header:
            die(TOOL, f"{path}: header {header} lacks a `sentence` and a `label` column")
        s_col, l_col = header.index("sentence"), header.index("label")
        texts, labels = [], []
        for n, row in enumerate(reader, start=2):
            if not any(c.strip() for c in row):
                continue  # a blank line (e.g. at the end)
            try:
                labels.append(int(row[l_col]))
                texts.append(row[s_col].strip())
            except (IndexError, ValueError):
                die(TOOL, f"{path}:{n}: expected a sentence and an integer label, got {row!r}")
    if not texts:
        die(TOOL, f"{path}: no examples")
    return texts, labels


def macro_f1(pred, gold):
    f1s = []
    for c in sorted(set(gold) | set(pred)):
        tp = sum(p == c and g == c for p, g in zip(pred, gold))
        fp = sum(p == c and g != c for p, g in zip(pred, gold))
        fn = sum(p != c and g == c for p, g in zip(pred, gold))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_CLASSIFIER, help="HF classifier directory (default %(default)s)")
    ap.add_argument("--onnx", help="float ONNX export (default build/serve-onnx/<model dir name>.onnx)")
    ap.add_argument("--data", default=DEFAULT_SST2_DEV, help="labelled TSV (default %(default)s)")
    ap.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default %(default)s)")
    ap.add_argument("--max-length", type=int, default=128, help="tokens per sentence incl. [CLS]/[SEP] "
                                                                "(default %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="torch / ONNX Runtime threads (default %(default)s)")
    ap.add_argument("--runtimes", default=",".join(RUNTIMES), help="comma-separated subset of "
                                                                  "%(default)s (default all)")
    args = ap.parse_args()
    if args.batch_size < 1 or args.max_length < 2 or args.threads < 1:
        die(TOOL, "--batch-size and --threads must be >= 1, --max-length >= 2", 2)
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    bad = [r for r in runtimes if r not in RUNTIMES]
    if bad or not runtimes:
        die(TOOL, f"--runtimes: unknown {bad}; choose from {','.join(RUNTIMES)}", 2)
    check_model_dir(TOOL, args.model, ("config.json", "vocab.txt"))
    onnx_path = args.onnx or os.path.join(REPO_ROOT, "build", "serve-onnx",
                                          os.path.basename(os.path.normpath(args.model)) + ".onnx")
    if any(r.startswith("onnxruntime") for r in runtimes) and not os.path.isfile(onnx_path):
        die(TOOL, f"{onnx_path} does not exist: run tools/serve/export_onnx.py --model {args.model} "
                  f"--output {onnx_path} first (or leave the onnxruntime runtimes out with --runtimes)")
    texts, labels = read_labelled(args.data)

    import numpy as np
    import onnxruntime as ort
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(args.model)
    # Tokenize once, so that every runtime gets identical ids and the seconds are model time only.
    batches = []
    for i in range(0, len(texts), args.batch_size):
        enc = tok(texts[i:i + args.batch_size], padding="longest", truncation=True,
                  max_length=args.max_length, return_tensors="np")
        batches.append({k: v.astype(np.int64) for k, v in enc.items()})

    def run_torch(model):
        out = []
        with torch.no_grad():
            for b in batches:
                out.append(model(**{k: torch.from_numpy(v) for k, v in b.items()}).logits.numpy())
        return out

    def run_ort(sess):
        names = {i.name for i in sess.get_inputs()}
        return [sess.run(None, {k: v for k, v in b.items() if k in names})[0] for b in batches]

    reference = None  # the float PyTorch predictions, once made

    def evaluate(name, version, predict, **extra):
        t0 = time.perf_counter()
        logits = predict()
        seconds = time.perf_counter() - t0
        pred = np.concatenate(logits).argmax(axis=1).tolist()
        assert len(pred) == len(labels)
        correct = sum(p == g for p, g in zip(pred, labels))
        line = {"runtime": name, "version": version, **extra,
                "accuracy": round(correct / len(labels), 4), "macro_f1": round(macro_f1(pred, labels), 4),
                "correct": correct, "examples": len(labels)}
        if name != "pytorch" and reference is not None:
            line["agreement_with_pytorch"] = round(sum(a == b for a, b in zip(pred, reference)) / len(pred), 4)
        line.update({"seconds": round(seconds, 2), "batch_size": args.batch_size,
                     "max_length": args.max_length, "threads": args.threads})
        print(json.dumps(line), flush=True)
        return pred

    if "pytorch" in runtimes:
        model = AutoModelForSequenceClassification.from_pretrained(args.model).eval()
        reference = evaluate("pytorch", torch.__version__, lambda: run_torch(model))
    if "pytorch-int8" in runtimes:
        qmodel, engine = torch_int8_model(args.model)
        evaluate("pytorch-int8", torch.__version__, lambda: run_torch(qmodel), engine=engine)
    if "onnxruntime" in runtimes:
        sess = ort_session(onnx_path, args.threads)
        evaluate("onnxruntime", ort.__version__, lambda: run_ort(sess), onnx=os.path.basename(onnx_path))
    if "onnxruntime-int8" in runtimes:
        int8_path, made = quantize_onnx_dynamic(onnx_path)
        if made:
            print(f"{TOOL}: wrote {int8_path}", file=sys.stderr)
        sess = ort_session(int8_path, args.threads)
        evaluate("onnxruntime-int8", ort.__version__, lambda: run_ort(sess),
                 onnx=os.path.basename(int8_path), quantization=ORT_INT8_SETTINGS)


if __name__ == "__main__":
    main()
