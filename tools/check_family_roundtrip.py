#!/usr/bin/env python3
"""Checks that the model directories ember saves for every family load in Hugging Face
transformers and give ember's logits (issue #20, must-show 1: "ember's save -> HF load").

The C++ test case "families: save_pretrained ..." (ember_test_model) changes each tiny family
model (tests/data/<family>_tiny, sequence and token classification) by one SGD step, saves it
with ember's save_pretrained and, when EMBER_FAMILY_SAVE_DIR is set, keeps the directories there
with ember_logits.safetensors (input_ids, attention_mask and ember's logits); the test case
"families: masked LM ..." does the same for each family's masked-LM model (<family>_masked_lm,
the decoder tied). This script loads each directory with AutoModelForSequenceClassification /
AutoModelForTokenClassification / AutoModelForMaskedLM and compares the logits.

Usage (repo root, after tools/setup_torch_cpu.sh and a build):
    mkdir -p /tmp/saved && EMBER_FAMILY_SAVE_DIR=/tmp/saved \\
        build/release/tests/ember_test_model --test-case='families: save_pretrained*,families: masked LM*'
    .venv-torch/bin/python tools/check_family_roundtrip.py /tmp/saved [--rtol 1e-5]
Exit status 0 when every directory loads with no missing or unexpected keys and
max|HF - ember| <= rtol * max|ember| for each.
"""
import argparse
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import (AutoModelForMaskedLM, AutoModelForSequenceClassification,
                          AutoModelForTokenClassification)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("saved_root")
    ap.add_argument("--rtol", type=float, default=1e-5)
    args = ap.parse_args()
    dirs = sorted(p for p in Path(args.saved_root).iterdir() if (p / "ember_logits.safetensors").exists())
    if not dirs:
        sys.exit(f"no saved directories with ember_logits.safetensors under {args.saved_root}")
    torch.set_num_threads(1)
    failed = 0
    for d in dirs:
        auto = (AutoModelForTokenClassification if d.name.endswith("_token") else
                AutoModelForMaskedLM if d.name.endswith("_masked_lm") else AutoModelForSequenceClassification)
        model, info = auto.from_pretrained(d, output_loading_info=True, attn_implementation="eager")
        model.eval()
        ref = load_file(d / "ember_logits.safetensors")
        with torch.no_grad():
            extra = {"token_type_ids": ref["token_type_ids"]} if "token_type_ids" in ref else {}
            logits = model(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"],
                           **extra).logits
        diff = (logits - ref["logits"]).abs().max().item()
        scale = ref["logits"].abs().max().item()
        problems = {k: v for k, v in info.items() if v and k != "error_msgs" or (k == "error_msgs" and v)}
        ok = diff <= args.rtol * scale and not problems
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {d.name:28s} {type(model).__name__:40s} "
              f"max|diff| {diff:.2e} (max|logit| {scale:.2f}) {problems if problems else ''}")
    print(f"{len(dirs) - failed} of {len(dirs)} directories agree")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
