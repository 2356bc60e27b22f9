#!/usr/bin/env python3
"""Mean ± sample sd of dev accuracies per starting point (and the mean validation accuracy, when
given), from lines such as `continued seed 2: dev accuracy: 0.8142 (validation 0.8010)`
(scripts/finetune_seeds.sh via scripts/continued_pretraining.sh,
scripts/pretrain_from_scratch.sh).   python3 tools/accuracy_summary.py FILE"""
import re
import statistics
import sys

acc, val = {}, {}
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"(\S+) seed (\d+): dev accuracy: ([0-9.]+)(?: \(validation ([0-9.]+)\))?", line)
    if m:
        acc.setdefault(m.group(1), []).append(float(m.group(3)))
        if m.group(4):
            val.setdefault(m.group(1), []).append(float(m.group(4)))
for start, v in acc.items():
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    line = (f"{start:10s} SST-2 dev accuracy {100 * statistics.mean(v):.2f} ± {100 * sd:.2f} "
            f"(n = {len(v)}: {', '.join(f'{100 * x:.2f}' for x in v)})")
    if start in val:
        line += f"; validation {100 * statistics.mean(val[start]):.2f}"
    print(line)
