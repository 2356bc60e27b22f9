#!/usr/bin/env python3
"""Draws a pretraining run's curves as an SVG image (no dependencies): the training MLM loss per
logged step and the held-out MLM loss and perplexity at each evaluation, from the run's
metrics.jsonl (examples/bert_pretraining writes it; lines {"type": "train", "step", "loss"} and
{"type": "eval", "step", "mlm_loss", "perplexity", ...}).

  python3 tools/plot_pretraining.py runs/small-bert/metrics.jsonl docs/images/pretraining.svg \
      --title "small BERT on WordNet glosses"
"""
from __future__ import annotations

import argparse
import json
import math


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("metrics")
    ap.add_argument("svg")
    ap.add_argument("--title", default="MLM pretraining")
    args = ap.parse_args()

    train, held = [], []
    for line in open(args.metrics, encoding="utf-8"):
        if not line.strip():
            continue
        r = json.loads(line)
        if r.get("type") == "train":
            train.append((r["step"], r["loss"]))
        elif "mlm_loss" in r:
            held.append((r["step"], r["mlm_loss"], r.get("perplexity", math.exp(r["mlm_loss"]))))
    if not train and not held:
        raise SystemExit(f"{args.metrics}: no training or evaluation lines")

    w, h, left, right, top, bottom = 720, 400, 70, 170, 40, 50
    steps = [s for s, _ in train] + [s for s, _, _ in held]
    losses = [l for _, l in train] + [l for _, l, _ in held]
    x0, x1 = 0, max(steps)
    y0, y1 = math.floor(min(losses)), math.ceil(max(losses))
    sx = lambda s: left + (w - left - right) * (s - x0) / max(x1 - x0, 1)  # noqa: E731
    sy = lambda v: top + (h - top - bottom) * (1 - (v - y0) / max(y1 - y0, 1e-9))  # noqa: E731

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="15">{args.title}</text>',
           f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>',
           f'<text x="{(left + w - right) / 2}" y="{h - 12}" text-anchor="middle">optimizer step</text>',
           f'<text x="18" y="{(top + h - bottom) / 2}" text-anchor="middle" '
           f'transform="rotate(-90 18 {(top + h - bottom) / 2})">MLM loss (cross-entropy, nats)</text>']
    for i in range(6):
        v = y0 + (y1 - y0) * i / 5
        out.append(f'<text x="{left - 8}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.1f}</text>')
        out.append(f'<line x1="{left}" y1="{sy(v):.1f}" x2="{w - right}" y2="{sy(v):.1f}" stroke="#ddd"/>')
    for i in range(6):
        s = x0 + (x1 - x0) * i / 5
        out.append(f'<text x="{sx(s):.1f}" y="{h - bottom + 16}" text-anchor="middle">{s:.0f}</text>')
    if train:
        pts = " ".join(f"{sx(s):.1f},{sy(l):.1f}" for s, l in train)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
    if held:
        pts = " ".join(f"{sx(s):.1f},{sy(l):.1f}" for s, l, _ in held)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#d62728" stroke-width="2"/>')
        for s, l, p in held:
            out.append(f'<circle cx="{sx(s):.1f}" cy="{sy(l):.1f}" r="3" fill="#d62728"/>')
        s, l, p = held[-1]
        out.append(f'<text x="{sx(s) + 6:.1f}" y="{sy(l) - 6:.1f}" fill="#d62728">perplexity {p:.0f}</text>')
    lx = w - right + 15
    out += [f'<line x1="{lx}" y1="{top + 10}" x2="{lx + 25}" y2="{top + 10}" stroke="#1f77b4" stroke-width="1.5"/>',
            f'<text x="{lx + 30}" y="{top + 14}">training loss</text>',
            f'<line x1="{lx}" y1="{top + 30}" x2="{lx + 25}" y2="{top + 30}" stroke="#d62728" stroke-width="2"/>',
            f'<text x="{lx + 30}" y="{top + 34}">held-out loss</text>', "</svg>"]
    with open(args.svg, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {args.svg}: {len(train)} training points, {len(held)} evaluations")


if __name__ == "__main__":
    main()
