#!/usr/bin/env python3
"""The side-by-side table of scripts/bench_ab.sh and scripts/bench_torch.sh: per case, the medians
over all repetitions of all rounds of two sides' Google Benchmark JSON files (<dir>/<a>-<r>.json
and <dir>/<b>-<r>.json, r = 1..rounds), B ÷ A, the range of the per-round ratios, and their
geomean.

  bench_table.py DIR ROUNDS A_PREFIX B_PREFIX A_LABEL B_LABEL
"""
import json
import math
import statistics
import sys

out, rounds, a_pre, b_pre, a_label, b_label = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]


def load(prefix):
    times, context = {}, {}
    for r in range(1, rounds + 1):
        with open(f"{out}/{prefix}-{r}.json") as f:
            data = json.load(f)
        context = data.get("context", {})
        for b in data["benchmarks"]:
            if b.get("run_type") == "iteration":
                name = b["run_name"].split("/iterations:")[0]
                times.setdefault(name, {}).setdefault(r, []).append(b["real_time"])
    return times, context


A, _ = load(a_pre)
B, b_context = load(b_pre)
if "torch" in b_context:
    print(f"PyTorch {b_context['torch']}, transformers {b_context.get('transformers')}, "
          f"oneDNN {b_context.get('mkldnn')}")
rows = [("case", f"{a_label} ms", f"{b_label} ms", f"{b_label}/{a_label}", "per-round")]
ratios = []
for name in A:
    if name not in B:
        continue
    a = statistics.median([x for v in A[name].values() for x in v])
    b = statistics.median([x for v in B[name].values() for x in v])
    per_round = [statistics.median(B[name][r]) / statistics.median(A[name][r])
                 for r in A[name] if r in B[name]]
    ratios.append(b / a)
    rows.append((name, f"{a:.2f}", f"{b:.2f}", f"{b / a:.3f}",
                 f"{min(per_round):.3f}-{max(per_round):.3f}"))
widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
for i, row in enumerate(rows):
    print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
    if i == 0:
        print("  ".join("-" * w for w in widths))
print(f"geomean {b_label}/{a_label}: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.3f} over "
      f"{len(ratios)} cases ({rounds} processes x 3 repetitions each; JSON in {out})")
