#!/usr/bin/env python3
"""Optimizer / LR-schedule / grad-clipping golden values (tests/data/optim/).

Writes tests/data/optim/optim.safetensors and tests/data/optim/optim.json.
Run:  .venv-tools/bin/python tools/gen_optim_fixtures.py
Key layout: see tools/README.md ("tests/data/optim").
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_common as fc  # noqa: E402

import torch  # noqa: E402
from transformers import (get_constant_schedule, get_constant_schedule_with_warmup,  # noqa: E402
                          get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup)

OUT = fc.DATA_DIR / "optim"
STEPS = 3

# name -> (torch class, kwargs). Every hyperparameter is spelled out (no library defaults).
OPTIMIZERS = {
    "sgd":             ("SGD",   dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)),
    "sgd_momentum":    ("SGD",   dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)),
    "sgd_nesterov_wd": ("SGD",   dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=True)),
    "adam":            ("Adam",  dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)),
    "adam_wd":         ("Adam",  dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, amsgrad=False)),
    "adamw":           ("AdamW", dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, amsgrad=False)),
    "adamw_eps":       ("AdamW", dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01, amsgrad=False)),
}

SCHEDULES = {
    "linear_warmup3_total10": lambda o: get_linear_schedule_with_warmup(o, 3, 10),
    "cosine_warmup3_total10": lambda o: get_cosine_schedule_with_warmup(o, 3, 10),
    "constant": lambda o: get_constant_schedule(o),
    "constant_warmup3": lambda o: get_constant_schedule_with_warmup(o, 3),
}
SCHED_BASE_LR = 1e-3
SCHED_STEPS = 12


def main() -> None:
    fc.setup_torch()
    g = torch.Generator().manual_seed(1234)
    param0 = torch.randn(3, 4, generator=g, dtype=torch.float32)
    grads = [torch.randn(3, 4, generator=g, dtype=torch.float32) * s for s in (1.0, 0.5, 2.0)]

    t = {"param0": param0}
    for i, gr in enumerate(grads, 1):
        t[f"grad{i}"] = gr

    for name, (cls, kw) in OPTIMIZERS.items():
        p = torch.nn.Parameter(param0.clone())
        opt = getattr(torch.optim, cls)([p], **kw)
        for i, gr in enumerate(grads, 1):
            p.grad = gr.clone()
            opt.step()
            t[f"{name}.step{i}"] = p.detach().clone()

    sched_json = {}
    for name, make in SCHEDULES.items():
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=SCHED_BASE_LR)
        sched = make(opt)
        lrs = []
        for _ in range(SCHED_STEPS):
            lrs.append(opt.param_groups[0]["lr"])  # lr the next optimizer.step() uses
            p.grad = torch.zeros(1)
            opt.step()
            sched.step()
        t[f"sched.{name}"] = torch.tensor(lrs, dtype=torch.float64)
        sched_json[name] = lrs

    # clip_grad_norm_ over two tensors: one case that clips, one that does not.
    clip_json = {}
    for name, scale in (("clip", 1.0), ("clip_noop", 0.05)):
        a = torch.nn.Parameter(torch.zeros(3, 4))
        b = torch.nn.Parameter(torch.zeros(5))
        a.grad = torch.randn(3, 4, generator=g) * scale
        b.grad = torch.randn(5, generator=g) * scale
        t[f"{name}.grad0"], t[f"{name}.grad1"] = a.grad.clone(), b.grad.clone()
        norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm=1.0, norm_type=2.0)
        t[f"{name}.total_norm"] = norm.reshape(1)
        t[f"{name}.clipped0"], t[f"{name}.clipped1"] = a.grad.clone(), b.grad.clone()
        clip_json[name] = dict(max_norm=1.0, norm_type=2.0, total_norm=norm.item())

    opt_json = {n: dict(torch_class=f"torch.optim.{c}", **{k: (list(v) if isinstance(v, tuple) else v)
                                                          for k, v in kw.items()})
                for n, (c, kw) in OPTIMIZERS.items()}
    fc.save_tensors(OUT / "optim.safetensors", t, optimizers=opt_json,
                    description="see optim.json and tools/README.md")
    fc.save_json(OUT / "optim.json", {
        "optimizers": opt_json,
        "optimizer_protocol": "p = param0 (float32 [3,4]); for i in 1..3: p.grad = grad{i}; opt.step(); "
                              "record <name>.step{i} = p. Single parameter group.",
        "schedules": {"base_lr": SCHED_BASE_LR, "steps": SCHED_STEPS,
                      "protocol": "lrs[k] = lr used by the (k+1)-th optimizer.step() after the scheduler is "
                                  "constructed; scheduler.step() after each optimizer.step()",
                      "calls": {"linear_warmup3_total10": "get_linear_schedule_with_warmup(opt, 3, 10)",
                                "cosine_warmup3_total10": "get_cosine_schedule_with_warmup(opt, 3, 10)",
                                "constant": "get_constant_schedule(opt)",
                                "constant_warmup3": "get_constant_schedule_with_warmup(opt, 3)"},
                      "values": sched_json},
        "clip_grad_norm": {"call": "torch.nn.utils.clip_grad_norm_([a, b], max_norm=1.0), a.grad=grad0 [3,4], "
                                   "b.grad=grad1 [5]; clip coef = max_norm / (total_norm + 1e-6), applied only if < 1",
                           "cases": clip_json},
    })


if __name__ == "__main__":
    main()
