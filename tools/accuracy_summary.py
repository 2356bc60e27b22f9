#!/usr/bin/env python3
"""Mean ± sample sd of dev accuracies per starting point (and the mean validation accuracy, when
given), from lines such as `continued seed 2: dev accuracy: 0.8142 (validation 0.8010)`
(scripts/finetune_seeds.sh via scripts/continued_pretraining.sh,
scripts/pretrain_from_scratch.sh).

  python3 tools/accuracy_summary.py FILE
  python3 tools/accuracy_summary.py --choose FILE

--choose: names of the form START-SETTINGS (e.g. `random-lr3e-4-ep10`) are grouped by START, and
for each START the settings with the best mean *validation* accuracy are chosen (validation.tsv
is held out from SST-2 train; dev.tsv is never used to choose) and reported with their dev
accuracy — a tuned baseline for every starting point alike."""
import re
import statistics
import sys

args = [a for a in sys.argv[1:] if a != "--choose"]
choose = "--choose" in sys.argv[1:]
acc, val = {}, {}
for line in open(args[0], encoding="utf-8"):
    m = re.match(r"(\S+) seed (\d+): dev accuracy: ([0-9.]+)(?: \(validation ([0-9.]+)\))?", line)
    if m:
        acc.setdefault(m.group(1), []).append(float(m.group(3)))
        if m.group(4):
            val.setdefault(m.group(1), []).append(float(m.group(4)))


def summary(name):
    v = acc[name]
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    line = (f"{name:10s} SST-2 dev accuracy {100 * statistics.mean(v):.2f} ± {100 * sd:.2f} "
            f"(n = {len(v)}: {', '.join(f'{100 * x:.2f}' for x in v)})")
    if name in val:
        line += f"; validation {100 * statistics.mean(val[name]):.2f}"
    return line


for name in acc:
    print(summary(name))
if choose:
    groups = {}
    for name in acc:
        if name in val:
            groups.setdefault(name.split("-", 1)[0], []).append(name)
    print("chosen on validation:")
    for start, names in groups.items():
        best = max(names, key=lambda n: statistics.mean(val[n]))
        print("  " + summary(best))
