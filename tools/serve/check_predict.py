#!/usr/bin/env python3
"""Check a running server's POST /predict against ember's own command line on the same model.

Reference: `bert_classification predict --model DIR --json` (build/release/examples/; one text per
line on its input; its JSON lines carry "probabilities": {label: p} and "logits"). Pairs go
through a .jsonl file with --text-column/--text-pair-column (probabilities only).

The server gets the same texts (first --n SST-2 dev sentences; default 100):
  * each text alone, as {"inputs": "text"} (answer: one list of {label, score});
  * all of them shuffled (so lengths mix) and cut into batches of --batch-sizes, cycled
    (default 1,7,32,60), as {"inputs": [...]} (answer: a list of lists, in input order);
  * --pairs N (default 20) sentence pairs [[a, b], ...] in batches of 1, 7, rest;
  * one batch with top_k=1 (one entry, the best label), and with --raw-scores one batch with
    "raw_scores": true compared with the logits.
Every score must be within --tol (default 1e-5) of the reference, every answer must hold each
label once, sorted by score descending. Starts no server. Exit 0 if all pass, 1 otherwise.

  .venv-torch/bin/python tools/serve/check_predict.py --url http://127.0.0.1:8080 --model DIR
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import add_check_arguments, parse_batch_sizes, DEFAULT_CLASSIFIER, DEFAULT_SST2_DEV, REPO_ROOT, check_model_dir, die, read_sentences
from http_client import HttpError, describe_connection_error, post_json, require_server

TOOL = "check_predict"


def run_reference(binary, model, texts, pairs, threads):
    """{text: (probs dict, logits)} for texts, and [probs dict] for pairs, from bert_classification."""
    base = [binary, "predict", "--model", model, "--json", "--threads", str(threads)]
    with tempfile.TemporaryDirectory() as tmp:
        lines = os.path.join(tmp, "texts.txt")
        with open(lines, "w", encoding="utf-8") as f:
            f.write("".join(t + "\n" for t in texts))
        out = subprocess.run(base + ["--input", lines], capture_output=True, text=True)
        if out.returncode != 0:
            die(TOOL, f"{' '.join(base)} failed ({out.returncode}): {out.stderr.strip()[-500:]}")
        rows = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
        if len(rows) != len(texts):
            die(TOOL, f"reference printed {len(rows)} rows for {len(texts)} texts")
        ref = [(r["probabilities"], r.get("logits")) for r in rows]
        pair_ref = []
        if pairs:
            jl = os.path.join(tmp, "pairs.jsonl")
            with open(jl, "w", encoding="utf-8") as f:
                for a, b in pairs:
                    f.write(json.dumps({"text": a, "pair": b}) + "\n")
            out = subprocess.run(base + ["--input", jl, "--text-column", "text", "--text-pair-column", "pair"],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                die(TOOL, f"reference on pairs failed ({out.returncode}): {out.stderr.strip()[-500:]}")
            pair_ref = [json.loads(l)["probabilities"] for l in out.stdout.splitlines() if l.strip()]
    return ref, pair_ref


class Checker:
    def __init__(self, tol):
        self.tol, self.worst, self.failures, self.compared = tol, 0.0, [], 0

    def fail(self, msg):
        self.failures.append(msg)

    def answer(self, where, got, probs, top_k=None):
        """got: the server's list of {label, score} for one input; probs: {label: reference}."""
        if not isinstance(got, list) or not all(isinstance(d, dict) and "label" in d and "score" in d for d in got):
            return self.fail(f"{where}: expected a list of {{label, score}}, got {json.dumps(got)[:200]}")
        scores = [d["score"] for d in got]
        if scores != sorted(scores, reverse=True):
            self.fail(f"{where}: scores not sorted descending: {scores}")
        labels = [d["label"] for d in got]
        if top_k is None:
            if sorted(labels) != sorted(probs):
                return self.fail(f"{where}: labels {labels}, expected each of {sorted(probs)} once")
        else:
            best = sorted(probs, key=lambda l: -probs[l])[:top_k]
            if len(got) != min(top_k, len(probs)) or labels != best:
                return self.fail(f"{where}: top_k={top_k} gave {labels}, expected {best}")
        for d in got:
            diff = abs(float(d["score"]) - float(probs[d["label"]]))
            self.worst = max(self.worst, diff)
            self.compared += 1
            if diff > self.tol:
                self.fail(f"{where}: label {d['label']} score {d['score']!r} vs reference {probs[d['label']]!r} "
                          f"(|diff| {diff:.3g} > {self.tol})")


def batches(items, sizes):
    out, i, j = [], 0, 0
    while i < len(items):
        s = sizes[j % len(sizes)]
        out.append(items[i:i + s])
        i, j = i + s, j + 1
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_CLASSIFIER, help="the model the server runs (default %(default)s)")
    ap.add_argument("--binary", default=os.path.join(REPO_ROOT, "build", "release", "examples", "bert_classification"),
                    help="bert_classification (default %(default)s)")
    ap.add_argument("--pairs", type=int, default=20, help="sentence pairs to check, 0: none (default %(default)s)")
    ap.add_argument("--raw-scores", action="store_true", help="also check raw_scores: true against the logits")
    ap.add_argument("--threads", type=int, default=2, help="threads for the reference binary")
    add_check_arguments(ap, "max |score difference|")
    args = ap.parse_args()
    check_model_dir(TOOL, args.model, ("config.json", "model.safetensors", "vocab.txt"))
    if not os.access(args.binary, os.X_OK):
        die(TOOL, f"{args.binary} is not an executable: build it (cmake --preset release && "
                  "cmake --build build/release --target bert_classification) or pass --binary")
    sizes = parse_batch_sizes(TOOL, args.batch_sizes)

    require_server(TOOL, args.url)
    texts = read_sentences(args.data, args.n)
    pairs = [(texts[i], texts[(i + 1) % len(texts)]) for i in range(min(args.pairs, len(texts)))]
    ref, pair_ref = run_reference(args.binary, args.model, texts, pairs, args.threads)
    probs = [r[0] for r in ref]
    url = args.url.rstrip("/") + "/predict"
    chk = Checker(args.tol)
    requests = 0

    def post(payload):
        nonlocal requests
        requests += 1
        return post_json(url, payload, args.timeout)

    try:
        for i, t in enumerate(texts):  # alone
            chk.answer(f"text {i} alone", post({"inputs": t}), probs[i])
        order = list(range(len(texts)))
        random.Random(args.seed).shuffle(order)
        for b in batches(order, sizes):
            got = post({"inputs": [texts[i] for i in b]})
            if not isinstance(got, list) or len(got) != len(b):
                chk.fail(f"batch of {len(b)}: expected a list of {len(b)} answers, got {json.dumps(got)[:200]}")
                continue
            for i, g in zip(b, got):
                chk.answer(f"text {i} in a batch of {len(b)}", g, probs[i])
        if pairs:
            for b in batches(list(range(len(pairs))), [1, 7, max(1, len(pairs) - 8)]):
                got = post({"inputs": [list(pairs[i]) for i in b]})
                if not isinstance(got, list) or len(got) != len(b):
                    chk.fail(f"pair batch of {len(b)}: got {json.dumps(got)[:200]}")
                    continue
                for i, g in zip(b, got):
                    chk.answer(f"pair {i} in a batch of {len(b)}", g, pair_ref[i])
        b = order[:7]
        got = post({"inputs": [texts[i] for i in b], "top_k": 1})
        for i, g in zip(b, got if isinstance(got, list) else []):
            chk.answer(f"text {i} with top_k=1", g, probs[i], top_k=1)
        if args.raw_scores:
            if ref[0][1] is None:
                die(TOOL, "the reference printed no logits")
            got = post({"inputs": [texts[i] for i in b], "raw_scores": True})
            names = list(probs[0])  # the reference lists labels in id order, as the logits
            for i, g in zip(b, got if isinstance(got, list) else []):
                chk.answer(f"text {i} raw_scores", g, dict(zip(names, ref[i][1])))
    except HttpError as e:
        chk.fail(str(e))
    except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
        die(TOOL, describe_connection_error(url, e))

    result = {"url": url, "texts": len(texts), "pairs": len(pairs), "requests": requests,
              "scores_compared": chk.compared, "max_abs_diff": chk.worst, "tol": args.tol,
              "failures": len(chk.failures), "ok": not chk.failures}
    for f in chk.failures[:20]:
        print("FAIL", f, file=sys.stderr)
    print(json.dumps(result))
    sys.exit(0 if not chk.failures else 1)


if __name__ == "__main__":
    main()
