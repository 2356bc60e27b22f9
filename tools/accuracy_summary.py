#!/usr/bin/env python3
"""Mean ± sample sd of dev accuracies per starting point, from lines such as
`continued seed 2: dev accuracy: 0.8142` (scripts/continued_pretraining.sh,
scripts/pretrain_from_scratch.sh).   python3 tools/accuracy_summary.py FILE"""
import re
import statistics
import sys

acc = {}
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"(\S+) seed (\d+): dev accuracy: ([0-9.]+)", line)
    if m:
        acc.setdefault(m.group(1), []).append(float(m.group(3)))
for start, v in acc.items():
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    print(f"{start:10s} SST-2 dev accuracy {100 * statistics.mean(v):.2f} ± {100 * sd:.2f} "
          f"(n = {len(v)}: {', '.join(f'{100 * x:.2f}' for x in v)})")
