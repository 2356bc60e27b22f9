#!/usr/bin/env python3
"""Export a Hugging Face BERT sequence classifier (e.g. the SST-2 model ember fine-tunes) to ONNX and
check the ONNX logits against PyTorch.

The graph takes input_ids, attention_mask, token_type_ids (int64, [batch, seq]) and returns
logits [batch, num_labels]; batch and seq are dynamic axes. It is written with torch.onnx.export
(the TorchScript exporter, dynamo=False: it needs no onnxscript; its trace of transformers'
mask code warns once, harmlessly, because the mask length always equals the sequence length). The check
runs real SST-2 sentences through both, in one padded batch and one by one, and fails (exit 1)
if any logit differs by more than --tol (default 1e-4). Prints one JSON line with the result.

  .venv-torch/bin/python tools/serve/export_onnx.py --model DIR [--output FILE.onnx]
"""
import argparse
import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_CLASSIFIER, DEFAULT_SST2_DEV, REPO_ROOT, check_model_dir, die, read_sentences

TOOL = "export_onnx"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_CLASSIFIER, help="HF classifier directory (default %(default)s)")
    ap.add_argument("--output", help="ONNX file to write (default build/serve-onnx/<model dir name>.onnx)")
    ap.add_argument("--opset", type=int, default=17, help="ONNX opset, >= 14 (default %(default)s)")
    ap.add_argument("--attn", choices=["eager", "sdpa"], default="eager",
                    help="transformers attention implementation to trace (default %(default)s; "
                         "both give the same math)")
    ap.add_argument("--data", default=DEFAULT_SST2_DEV, help="sentences for the check (default %(default)s)")
    ap.add_argument("--check-sentences", type=int, default=64, help="sentences in the check (default %(default)s)")
    ap.add_argument("--tol", type=float, default=1e-4, help="max |logit difference| (default %(default)s)")
    ap.add_argument("--max-length", type=int, default=128, help="truncation length for the check")
    args = ap.parse_args()
    if args.opset < 14:
        die(TOOL, "--opset must be >= 14", 2)
    check_model_dir(TOOL, args.model, ("config.json", "model.safetensors", "vocab.txt"))
    out = args.output or os.path.join(REPO_ROOT, "build", "serve-onnx",
                                      os.path.basename(os.path.normpath(args.model)) + ".onnx")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)

    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForSequenceClassification.from_pretrained(args.model, attn_implementation=args.attn).eval()

    class Logits(torch.nn.Module):  # plain tensor in, plain tensor out
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids, return_dict=False)[0]

    wrapped = Logits(model).eval()
    example = tok(["a sample sentence for tracing", "another one"], padding=True, return_tensors="pt")
    ex = (example["input_ids"], example["attention_mask"], example["token_type_ids"])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    t0 = time.perf_counter()
    with torch.no_grad():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "legacy TorchScript-based export"
            torch.onnx.export(wrapped, ex, out, dynamo=False, opset_version=args.opset,
                              input_names=names, output_names=["logits"],
                              dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in names},
                                            "logits": {0: "batch"}},
                              do_constant_folding=True)
    export_s = time.perf_counter() - t0
    onnx.checker.check_model(out)

    # The check: one padded batch of real sentences (mixed lengths), each of the first 16 alone, and
    # 32 sentences padded to 64 and 128 tokens (the benchmark's shapes).
    texts = read_sentences(args.data, args.check_sentences)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
    sess = ort.InferenceSession(out, so, providers=["CPUExecutionProvider"])
    worst = 0.0
    cases = [(texts, True)] + [([t], True) for t in texts[:16]] + [(texts[:32], L) for L in (64, 128)]
    for batch_texts, pad in cases:
        if pad is True:
            enc = tok(batch_texts, padding=True, truncation=True, max_length=args.max_length, return_tensors="np")
        else:
            enc = tok(batch_texts, padding="max_length", truncation=True, max_length=pad, return_tensors="np")
        feeds = {n: enc[n].astype(np.int64) for n in names}
        got = sess.run(["logits"], feeds)[0]
        with torch.no_grad():
            ref = wrapped(*(torch.from_numpy(feeds[n]) for n in names)).numpy()
        worst = max(worst, float(np.abs(got - ref).max()))
    ok = worst <= args.tol
    print(json.dumps({"onnx": os.path.abspath(out), "model": os.path.abspath(args.model),
                      "exporter": "torchscript", "opset": args.opset, "attn": args.attn,
                      "export_s": round(export_s, 2), "check_sentences": len(texts),
                      "check_batches": len(cases), "max_abs_logit_diff": worst, "tol": args.tol,
                      "ok": ok, "torch": torch.__version__, "transformers": transformers.__version__,
                      "onnx_version": onnx.__version__, "onnxruntime": ort.__version__}))
    if not ok:
        die(TOOL, f"ONNX logits differ from PyTorch by {worst:.3g} > {args.tol}")


if __name__ == "__main__":
    main()
