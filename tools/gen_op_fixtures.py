#!/usr/bin/env python3
"""Float64 PyTorch reference values for single ops (tests/data/ops/ops.safetensors).

Each op <op> has <op>.input (or named inputs), <op>.output, <op>.grad_output = fixed
random weights w with the shape of the output, and <op>.grad_input = d sum(output * w)
/ d input (plus grads of other differentiable inputs). Everything float64 except
integer indices/targets (int64). Scalars are stored with shape [1].
Run:  .venv-tools/bin/python tools/gen_op_fixtures.py
Key layout: tools/README.md ("tests/data/ops").
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_common as fc  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

OUT = fc.DATA_DIR / "ops"
D = torch.float64


def main() -> None:
    fc.setup_torch()
    g = torch.Generator().manual_seed(2024)
    rn = lambda *s, scale=1.0: (torch.randn(*s, generator=g, dtype=D) * scale)  # noqa: E731
    t: dict[str, torch.Tensor] = {}
    notes: dict[str, str] = {}

    def run(op: str, fn, inputs: dict[str, torch.Tensor], note: str, grads_of=None):
        """inputs: name -> tensor; float ones in grads_of get grad_<name>."""
        leaves = {}
        for n, v in inputs.items():
            leaf = v.clone().requires_grad_(v.is_floating_point() and (grads_of is None or n in grads_of))
            leaves[n] = leaf
            t[f"{op}.{n}"] = v
        out = fn(**leaves)
        w = rn(*out.shape) if out.dim() > 0 else rn(1)
        (out * w.reshape(out.shape)).sum().backward()
        t[f"{op}.output"] = out.detach().reshape(out.shape if out.dim() else (1,))
        t[f"{op}.grad_output"] = w
        for n, leaf in leaves.items():
            if leaf.requires_grad:
                t[f"{op}.grad_{n}"] = leaf.grad.detach().clone()
        notes[op] = note

    x = rn(2, 3, 5, scale=2.0)
    x[0, 0, :] += 50.0  # large logits: stability of max-subtraction
    run("softmax", lambda input: F.softmax(input, dim=-1), {"input": x}, "F.softmax(input, dim=-1), input [2,3,5]")
    run("log_softmax", lambda input: F.log_softmax(input, dim=-1), {"input": x},
        "F.log_softmax(input, dim=-1), input [2,3,5] (same input as softmax)")

    run("layer_norm", lambda input, weight, bias: F.layer_norm(input, (8,), weight, bias, eps=1e-5),
        {"input": rn(2, 3, 8, scale=3.0) + 1.0, "weight": 1.0 + rn(8, scale=0.1), "bias": rn(8, scale=0.1)},
        "F.layer_norm(input, normalized_shape=(8,), weight, bias, eps=1e-5); input [2,3,8]; "
        "grads for input, weight, bias (biased variance, as LayerNorm uses)")

    gx = torch.linspace(-6.0, 6.0, 25, dtype=D).reshape(5, 5) + rn(5, 5, scale=0.05)
    run("gelu", lambda input: F.gelu(input), {"input": gx}, "F.gelu(input) exact erf form; input [5,5] in about [-6,6]")
    run("gelu_tanh", lambda input: F.gelu(input, approximate="tanh"), {"input": gx},
        "F.gelu(input, approximate='tanh') == HF gelu_new; same input as gelu")

    logits = rn(6, 5, scale=2.0)
    target = torch.tensor([1, 4, -100, 0, 3, -100], dtype=torch.int64)
    run("cross_entropy", lambda input, target: F.cross_entropy(input, target, ignore_index=-100, label_smoothing=0.1),
        {"input": logits, "target": target},
        "F.cross_entropy(input [6,5], target [6] int64 with two -100, ignore_index=-100, label_smoothing=0.1, "
        "reduction='mean'); output shape [1]; grad_output [1]")
    run("cross_entropy_plain", lambda input, target: F.cross_entropy(input, target, ignore_index=-100),
        {"input": logits, "target": target},
        "same input/target as cross_entropy, no label smoothing (mean over the 4 non-ignored rows)")
    # Check the label-smoothing formula we expect C++ to implement:
    # per row: (1-e) * nll + e * mean_c(-logp_c); mean over non-ignored rows.
    with torch.no_grad():
        lp = F.log_softmax(logits, -1)
        keep = target != -100
        nll = -lp[keep].gather(1, target[keep, None]).squeeze(1)
        smooth = -lp[keep].mean(1)
        manual = ((1 - 0.1) * nll + 0.1 * smooth).mean()
        assert torch.allclose(manual, t["cross_entropy.output"][0], rtol=1e-12, atol=1e-12), \
            (manual.item(), t["cross_entropy.output"].item())

    emb_w = rn(10, 4)
    idx = torch.tensor([[1, 0, 3, 3, 9], [7, 3, 0, 2, 1]], dtype=torch.int64)
    run("embedding", lambda weight, indices: F.embedding(indices, weight, padding_idx=0),
        {"weight": emb_w, "indices": idx},
        "F.embedding(indices [2,5] int64, weight [10,4], padding_idx=0); indices repeat (3 x3, 1 x2) and hit "
        "the padding row 0 twice; grad_weight row 0 is zero (padding_idx gets no gradient), repeats accumulate")

    v = rn(4, 6, scale=2.0)
    run("var_unbiased", lambda input: torch.var(input, dim=1, unbiased=True), {"input": v},
        "torch.var(input [4,6], dim=1, unbiased=True) -> [4] (divides by N-1)")
    run("var_biased", lambda input: torch.var(input, dim=1, unbiased=False), {"input": v},
        "torch.var(input [4,6], dim=1, unbiased=False) -> [4] (divides by N); same input as var_unbiased")
    run("var_all", lambda input: torch.var(input), {"input": v},
        "torch.var(input [4,6]) over all elements, unbiased -> shape [1]; same input")

    run("matmul_broadcast", lambda a, b: torch.matmul(a, b), {"a": rn(2, 1, 3, 4), "b": rn(3, 4, 5)},
        "torch.matmul(a [2,1,3,4], b [3,4,5]) -> [2,3,3,5] (batch dims broadcast); grad_a [2,1,3,4] and "
        "grad_b [3,4,5] are reduced over the broadcast dims")
    run("bmm", lambda a, b: torch.bmm(a, b), {"a": rn(3, 2, 4), "b": rn(3, 4, 5)},
        "torch.bmm(a [3,2,4], b [3,4,5]) -> [3,2,5]")

    for k, val in t.items():
        assert val.dtype in (D, torch.int64), (k, val.dtype)
        assert torch.isfinite(val.double()).all(), k
    fc.save_tensors(OUT / "ops.safetensors", t, ops=notes,
                    convention="<op>.grad_<x> = d sum(<op>.output * <op>.grad_output) / d <op>.<x>; float64")
    fc.save_json(OUT / "ops.json", {"ops": notes,
                                    "convention": "<op>.grad_<x> = d sum(<op>.output * <op>.grad_output) / d <op>.<x>",
                                    "keys": {k: [str(v.dtype).replace("torch.", ""), list(v.shape)] for k, v in t.items()}})


if __name__ == "__main__":
    main()
